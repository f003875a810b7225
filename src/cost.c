/* cost.c: lowering cost expressions and weighting their steps (see cost.h). */
#include "cost.h"
#include "xalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct CostCtx {
    const Model *m;
    const Env *env;
    Graph *g;
    Diags *d;
    CostSet *set;
    bool use_mask;          /* the term weighs its loss ops and reductions by `where` */
    int where;              /* its weights, shaped like the task's mask */
    bool reads_target;
} CostCtx;

static int fail(CostCtx *c, Span at, const char *msg)
{
    diag_error(c->d, at, "%s", msg);
    return -1;
}

static int leaf(CostCtx *c, int *slot, const char *name, int index)
{
    if (*slot >= 0)
        return *slot;
    if (c->m->noutputs != 1)
        return -2;
    Shape s = { 1, { c->m->outputs[0].n } };
    *slot = graph_leaf(c->g, G_INPUT, true, s, graph_own(c->g, name));
    c->g->nodes[*slot].index = index;
    return *slot;
}

static int lower(CostCtx *c, const Node *e);

/* A value with one entry per target entry: [n_out] for each trial. */
static bool shaped_like_mask(const CostCtx *c, int node)
{
    const GNode *n = &c->g->nodes[node], *m = &c->g->nodes[c->where];
    return n->batched && tensor_shape_eq(&n->shape, &m->shape);
}

/* A reduction of a value shaped like the mask, weighted by it, as the loss
 * ops weigh theirs (ops.h): with M the weights and sum(M) over the batch's
 * entries,
 *   sum(x)  -> sum(M * x)           l1(x) -> sum(M * |x|)     l2(x) -> sum(M * x^2)
 *   mean(x) -> sum(M * x) / sum(M)  (0 where sum(M) = 0: that step counts for nothing)
 *   max(x)  -> max over the entries where M != 0 (-inf when there are none); min alike */
static int masked_reduction(CostCtx *c, OpKind op, int x, Span at)
{
    Graph *g = c->g;
    if (op == OP_MAX_ALL || op == OP_MIN_ALL) {
        int in[3] = { c->where, x, graph_const(g, op == OP_MAX_ALL ? -INFINITY : INFINITY) };
        int kept = graph_op(g, OP_WHERE, NULL, 3, in, c->d, at);
        return kept < 0 ? -1 : graph_op1(g, op, kept, c->d, at);
    }
    if (op == OP_L1)
        x = graph_op1(g, OP_ABS, x, c->d, at);
    else if (op == OP_L2)
        x = graph_op1(g, OP_SQUARE, x, c->d, at);
    int r = x < 0 ? -1 : graph_op2(g, OP_MUL, c->where, x, c->d, at);
    r = r < 0 ? -1 : graph_op1(g, OP_SUM, r, c->d, at);
    if (r < 0 || op != OP_MEAN)
        return r;
    int total = graph_op1(g, OP_SUM, c->where, c->d, at);
    int none = total < 0 ? -1 : graph_op1(g, OP_NOT, total, c->d, at);
    int safe = none < 0 ? -1 : graph_op2(g, OP_ADD, total, none, c->d, at);
    return safe < 0 ? -1 : graph_op2(g, OP_DIV, r, safe, c->d, at);
}

static int call(CostCtx *c, const Node *e)
{
    const char *f = e->a->name;
    static const struct {
        const char *name;
        OpKind op;
        bool loss;
    } map[] = {
        { "mse", OP_MSE, true }, { "cross_entropy", OP_CROSS_ENTROPY, true }, { "nll", OP_NLL, true },
        { "bce", OP_BCE, true }, { "mean", OP_MEAN, false }, { "sum", OP_SUM, false }, { "l1", OP_L1, false },
        { "l2", OP_L2, false }, { "tanh", OP_TANH, false }, { "sigmoid", OP_SIGMOID, false },
        { "relu", OP_RELU, false }, { "exp", OP_EXP, false }, { "log", OP_LOG, false }, { "abs", OP_ABS, false },
        { "square", OP_SQUARE, false }, { "sqrt", OP_SQRT, false }, { "stop", OP_STOP, false },
        { "softplus", OP_SOFTPLUS, false }, { "max", OP_MAX_ALL, false }, { "min", OP_MIN_ALL, false },
    };
    for (size_t k = 0; k < sizeof map / sizeof *map; k++) {
        if (strcmp(map[k].name, f) != 0)
            continue;
        int in[3], n = 0;
        for (int i = 0; i < e->list.n && n < 2; i++) {
            in[n] = lower(c, e->list.v[i]->kind == AST_ARG ? e->list.v[i]->a : e->list.v[i]);
            if (in[n] < 0)
                return -1;
            n++;
        }
        /* the shapes as the user counts them, one trial's (the graph's ops see a batch) */
        if (map[k].loss && n == 2 && !tensor_shape_eq(&c->g->nodes[in[0]].shape, &c->g->nodes[in[1]].shape)) {
            char a[96], b[96];
            diag_error(c->d, e->span, "'%s' compares %s with a target of %s: the shapes must be equal", f,
                       tensor_shape_fmt(&c->g->nodes[in[0]].shape, a, sizeof a), tensor_shape_fmt(&c->g->nodes[in[1]].shape, b, sizeof b));
            return -1;
        }
        if (map[k].loss && c->use_mask) {
            int mk = c->where;
            /* cross-entropy and nll weigh whole rows: one weight per trial */
            if (map[k].op == OP_CROSS_ENTROPY || map[k].op == OP_NLL)
                mk = graph_op1(c->g, OP_MEAN_LAST, mk, c->d, e->span);
            in[n++] = mk;
        }
        if (c->use_mask && n == 1 && shaped_like_mask(c, in[0]) &&
            (map[k].op == OP_MEAN || map[k].op == OP_SUM || map[k].op == OP_L1 || map[k].op == OP_L2 ||
             map[k].op == OP_MAX_ALL || map[k].op == OP_MIN_ALL))
            return masked_reduction(c, map[k].op, in[0], e->span);
        OpKind op = map[k].op;
        if (n == 2 && (op == OP_MAX_ALL || op == OP_MIN_ALL))   /* max(a, b): element by element */
            op = op == OP_MAX_ALL ? OP_MAX : OP_MIN;
        int r = graph_op(c->g, op, NULL, n, in, c->d, e->span);
        return r;
    }
    char msg[160];
    snprintf(msg, sizeof msg, "%s(...) cannot be used in a cost", f);
    return fail(c, e->span, msg);
}

static int lower(CostCtx *c, const Node *e)
{
    Graph *g = c->g;
    switch (e->kind) {
    case AST_NUMBER:
        return graph_const(g, e->num);
    case AST_NAME: {
        if (e->name == intern_cstr("target")) {
            c->reads_target = true;
            int t = leaf(c, &c->set->target, "target", c->m->ninputs);
            return t >= 0 ? t : fail(c, e->span, "'target' needs a model with exactly one output");
        }
        if (e->name == intern_cstr("mask")) {
            int t = leaf(c, &c->set->mask, "mask", c->m->ninputs + 1);
            return t >= 0 ? t : fail(c, e->span, "'mask' needs a model with exactly one output");
        }
        Decl *d = env_lookup(c->env, e->name);
        if (d && d->kind == D_LET && d->value.kind == V_NUM)
            return graph_const(g, d->value.num);
        if (d && d->kind == D_POPULATION) {
            const ModelInfo *info = d->model->info;
            char name[256];
            snprintf(name, sizeof name, "%s.%s", d->name, info->out ? info->out : info->vars[0].name);
            int node = graph_find(g, name);
            return node >= 0 ? node : fail(c, e->span, "this population's output is not part of the model");
        }
        int node = graph_find(g, e->name);
        if (node >= 0)
            return node;
        char msg[160];
        snprintf(msg, sizeof msg, "'%s' has no value a cost can read", e->name);
        return fail(c, e->span, msg);
    }
    case AST_MEMBER: {
        char name[256];
        snprintf(name, sizeof name, "%s.%s", e->a->name, e->name);
        int p = model_find_param(c->m, name);
        if (p >= 0)
            return graph_param(g, c->m->params[p].value, p, c->m->params[p].name);
        int node = graph_find(g, name);
        if (node >= 0)
            return node;
        char msg[300];
        snprintf(msg, sizeof msg, "'%s' has no value a cost can read", name);
        return fail(c, e->span, msg);
    }
    case AST_CALL:
        return call(c, e);
    case AST_UNARY: {
        int a = lower(c, e->a);
        return a < 0 ? -1 : graph_op1(g, e->op == '-' ? OP_NEG : OP_NOT, a, c->d, e->span);
    }
    case AST_BINARY: {
        int a = lower(c, e->a);
        if (a < 0)
            return -1;
        if (e->op == '^' && e->b->kind == AST_NUMBER) {
            if (e->b->num == 2)
                return graph_op1(g, OP_SQUARE, a, c->d, e->span);
            OpAttr attr = { .p = e->b->num };
            return graph_op(g, OP_POW_CONST, &attr, 1, &a, c->d, e->span);
        }
        int b = lower(c, e->b);
        if (b < 0)
            return -1;
        OpKind op;
        switch (e->op) {
        case '+': op = OP_ADD; break;
        case '-': op = OP_SUB; break;
        case '*': op = OP_MUL; break;
        case '/': op = OP_DIV; break;
        case '^': op = OP_POW; break;
        default: return fail(c, e->span, "this operator cannot be used in a cost");
        }
        return graph_op2(g, op, a, b, c->d, e->span);
    }
    default:
        return fail(c, e->span, "this expression cannot be used in a cost");
    }
}

static bool depends_on_step(const Graph *g, int node)
{
    const GNode *n = &g->nodes[node];
    if (n->kind == G_STATE || n->kind == G_INPUT || n->kind == G_NOISE || n->kind == G_TIME)
        return true;
    if (n->kind != G_OP)
        return false;
    for (int k = 0; k < n->nin; k++)
        if (depends_on_step(g, n->in[k]))
            return true;
    return false;
}

static bool mentions(const Node *e, Name name)
{
    if (!e)
        return false;
    if (e->kind == AST_NAME && e->name == name)
        return true;
    if (mentions(e->a, name) || mentions(e->b, name))
        return true;
    for (int i = 0; i < e->list.n; i++)
        if (mentions(e->list.v[i], name))
            return true;
    return false;
}

static bool depends_on_run(const Graph *g, int node)
{
    const GNode *n = &g->nodes[node];
    if (n->kind == G_STATE || n->kind == G_NOISE || n->kind == G_TIME || n->kind == G_PARAM)
        return true;
    for (int k = 0; n->kind == G_OP && k < n->nin; k++)
        if (depends_on_run(g, n->in[k]))
            return true;
    return false;
}

/* `where EXPR`: a weight for each entry of the task's targets, known before the
 * run (from mask, target, the inputs and numbers), 0/1 or fractional; a
 * number weighs every entry alike. NULL: the task's mask. Returns the node, or
 * -1 with an error at EXPR. */
static int lower_where(CostCtx *c, const Node *e, Span at)
{
    int mask = leaf(c, &c->set->mask, "mask", c->m->ninputs + 1);
    if (mask < 0)
        return fail(c, e ? e->span : at, "a task's mask needs a model with exactly one output");
    if (!e)
        return mask;
    int node = lower(c, e);
    if (node < 0)
        return -1;
    Graph *g = c->g;
    if (depends_on_run(g, node)) {
        diag_error(c->d, e->span, "'where' takes weights known before the run, from mask, target and numbers (as in where 1 - mask); "
                   "this changes as the model runs");
        return -1;
    }
    const GNode *n = &g->nodes[node];
    if (!n->batched && tensor_shape_size(&n->shape) == 1) {
        /* one number for every entry: w + 0 * mask has the mask's shape */
        int zero = graph_op2(g, OP_MUL, graph_const(g, 0), mask, c->d, e->span);
        return zero < 0 ? -1 : graph_op2(g, OP_ADD, zero, node, c->d, e->span);
    }
    if (!n->batched || !tensor_shape_eq(&n->shape, &g->nodes[mask].shape)) {
        char have[64], want[64];
        Tensor a = { .rank = n->shape.rank }, b = { .rank = g->nodes[mask].shape.rank };
        memcpy(a.dim, n->shape.dim, sizeof n->shape.dim[0] * (size_t)n->shape.rank);
        memcpy(b.dim, g->nodes[mask].shape.dim, sizeof b.dim[0] * (size_t)b.rank);
        diag_error(c->d, e->span, "'where' takes a weight for each of the task's targets, %s for each trial, not %s%s",
                   tensor_shape_str(&b, want, sizeof want), tensor_shape_str(&a, have, sizeof have), n->batched ? "" : " for all trials");
        return -1;
    }
    return node;
}

bool cost_lower(const Model *m, const Env *env, Graph *g, CostSet *out, Diags *d, Span at)
{
    memset(out, 0, sizeof *out);
    out->target = out->mask = -1;
    for (int i = 0; i < env->n; i++) {
        const Decl *decl = env->v[i];
        if (decl->dead || decl->kind != D_COST)
            continue;
        const Node *st = decl->node;
        CostTerm t = { .name = decl->name, .decl = st };
        const Node *w = st->opts.n ? st->opts.v[0] : NULL;
        if (w && w->name == intern_cstr("during")) {
            t.window = WINDOW_DURING;
            t.t0 = check_number(env, w->a->list.v[0]);
            t.t1 = check_number(env, w->a->list.v[1]);
        } else if (w && w->name == intern_cstr("at end")) {
            t.window = WINDOW_END;
        } else if (w && w->name == intern_cstr("where")) {
            t.window = WINDOW_MASK;
        } else if (mentions(st->a, intern_cstr("target"))) {
            t.window = WINDOW_MASK;   /* the task's mask says where targets are defined */
        }
        CostCtx c = { m, env, g, d, out, t.window == WINDOW_MASK, -1, false };
        t.where = -1;
        if (t.window == WINDOW_MASK) {
            c.where = t.where = lower_where(&c, w && w->name == intern_cstr("where") ? w->a : NULL, st->a->span);
            if (t.where < 0) {
                cost_fini(out);
                return false;
            }
        }
        t.node = lower(&c, st->a);
        if (t.node < 0) {
            cost_fini(out);
            return false;
        }
        if (g->nodes[t.node].batched || tensor_shape_size(&g->nodes[t.node].shape) != 1) {
            diag_error(d, st->a->span, "cost %s must be a single number per step; reduce it with mean(...) or sum(...)", decl->name);
            cost_fini(out);
            return false;
        }
        t.constant = !depends_on_step(g, t.node);
        if (t.constant && t.window == WINDOW_MASK)
            t.window = WINDOW_ALL;
        out->terms = xrealloc(out->terms, (size_t)(out->n + 1) * sizeof *out->terms);
        out->terms[out->n++] = t;
        graph_name(g, decl->name, t.node);
    }
    (void)at;
    return true;
}

void cost_fini(CostSet *c)
{
    free(c->terms);
    c->terms = NULL;
    c->n = 0;
}

void cost_step_weights(const CostSet *c, int k, int64_t T, double dt, const Tensor *mask, double *w)
{
    const CostTerm *t = &c->terms[k];
    for (int64_t s = 0; s < T; s++)
        w[s] = 0;
    if (t->constant) {
        w[0] = 1;   /* counted once */
        return;
    }
    switch (t->window) {
    case WINDOW_ALL:
        for (int64_t s = 0; s < T; s++)
            w[s] = 1.0 / (double)T;
        return;
    case WINDOW_END:
        w[T - 1] = 1;
        return;
    case WINDOW_DURING: {
        int64_t count = 0;
        for (int64_t s = 0; s < T; s++)
            if ((double)s * dt >= t->t0 - 1e-12 && (double)s * dt < t->t1 - 1e-12)
                count++;
        for (int64_t s = 0; s < T; s++)
            if ((double)s * dt >= t->t0 - 1e-12 && (double)s * dt < t->t1 - 1e-12)
                w[s] = 1.0 / (double)(count ? count : 1);
        return;
    }
    case WINDOW_MASK: {
        if (!mask) {
            for (int64_t s = 0; s < T; s++)
                w[s] = 1.0 / (double)T;
            return;
        }
        int64_t per = mask->size / T;
        double total = 0;
        for (int64_t s = 0; s < T; s++) {
            double m = 0;
            for (int64_t i = 0; i < per; i++)
                m += mask->data[s * per + i];
            w[s] = m;
            total += m;
        }
        for (int64_t s = 0; s < T; s++)
            w[s] = total > 0 ? w[s] / total : 0;
        return;
    }
    }
}
