/* lower.c: equations and synapses to the ops of one time step (see lower.h).
 *
 * Values are lowered on demand and remembered per stage: an alias is lowered
 * when first read, so `r = phi(x)` may stand below the line that uses it, and a
 * population's `in` is lowered when its equation first reads it, pulling in the
 * outputs of the populations that feed it. An RK4 step lowers the network four
 * times, once per stage, each with its own intermediate states.
 */
#include "lower.h"
#include "pending.h"
#include "xalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { UNSET = -1, BUSY = -2 };

typedef struct PopStage {
    int *var;          /* node of each info var at this stage */
    int *next;         /* discrete variables: node of x' */
    int in;
} PopStage;

typedef struct Memo {
    int key1, key2, node;
} Memo;

typedef struct Stage {
    int time;          /* G_TIME node of this stage */
    PopStage *pops;
    int *outputs;      /* value of each model output */
    Memo *memo;        /* (block, input node) -> linear node */
    int nmemo;
} Stage;

typedef struct Lower {
    const Model *m;
    const LowerSpec *spec;
    Graph *g;
    Diags *d;
    Span at;
    int *input_leaf;   /* G_INPUT node of each model input, or -1 when bound to an expression */
    Memo *noise;       /* (pop, AST node) -> G_NOISE node: one draw per step, whatever the stage */
    int nnoise;
    bool failed;
} Lower;

static int lower_expr(Lower *L, Stage *s, int pop, const Node *e);
static int port_value(Lower *L, Stage *s, PortRef p, Span at);
static int contribution(Lower *L, Stage *s, const ModelSyn *syn, Span at);

/* ---- stages --------------------------------------------------------------- */

static void stage_init(Lower *L, Stage *s, int time)
{
    memset(s, 0, sizeof *s);
    s->time = time;
    s->pops = xcalloc((size_t)L->m->npops + 1, sizeof *s->pops);
    for (int p = 0; p < L->m->npops; p++) {
        int nv = L->m->pops[p].info->nvars;
        s->pops[p].var = xmalloc((size_t)(nv + 1) * sizeof(int));
        s->pops[p].next = xmalloc((size_t)(nv + 1) * sizeof(int));
        for (int k = 0; k < nv; k++)
            s->pops[p].var[k] = s->pops[p].next[k] = UNSET;
        s->pops[p].in = UNSET;
    }
    s->outputs = xmalloc((size_t)(L->m->noutputs + 1) * sizeof(int));
    for (int k = 0; k < L->m->noutputs; k++)
        s->outputs[k] = UNSET;
}

static void stage_fini(Lower *L, Stage *s)
{
    for (int p = 0; p < L->m->npops; p++) {
        free(s->pops[p].var);
        free(s->pops[p].next);
    }
    free(s->pops);
    free(s->outputs);
    free(s->memo);
}

static int memo_get(const Memo *v, int n, int k1, int k2)
{
    for (int i = 0; i < n; i++)
        if (v[i].key1 == k1 && v[i].key2 == k2)
            return v[i].node;
    return UNSET;
}

static void memo_put(Memo **v, int *n, int k1, int k2, int node)
{
    *v = xrealloc(*v, (size_t)(*n + 1) * sizeof **v);
    (*v)[(*n)++] = (Memo){ k1, k2, node };
}

/* ---- small builders ------------------------------------------------------ */

static int op1(Lower *L, OpKind op, int a, Span at)
{
    if (a < 0)
        return -1;
    int r = graph_op1(L->g, op, a, L->d, at);
    L->failed |= r < 0;
    return r;
}

static int op2(Lower *L, OpKind op, int a, int b, Span at)
{
    if (a < 0 || b < 0)
        return -1;
    int r = graph_op2(L->g, op, a, b, L->d, at);
    L->failed |= r < 0;
    return r;
}

static int opn(Lower *L, OpKind op, const OpAttr *attr, int n, const int *in, Span at)
{
    for (int i = 0; i < n; i++)
        if (in[i] < 0)
            return -1;
    int r = graph_op(L->g, op, attr, n, in, L->d, at);
    L->failed |= r < 0;
    return r;
}

static int scale(Lower *L, int a, double alpha, Span at)
{
    if (alpha == 1 || a < 0)
        return a;
    /* scale(scale(x, b), a) = scale(x, a b): dt and 1/tau become one factor */
    const GNode *n = &L->g->nodes[a];
    if (n->kind == G_OP && n->op == OP_SCALE) {
        alpha *= n->attr.alpha;
        a = n->in[0];
        if (alpha == 1)
            return a;
    }
    OpAttr attr = { .alpha = alpha };
    return opn(L, OP_SCALE, &attr, 1, &a, at);
}

static bool is_const(const Lower *L, int node, double value)
{
    return node >= 0 && L->g->nodes[node].kind == G_CONST && L->g->nodes[node].value == value;
}

static int add(Lower *L, int a, int b, Span at)
{
    if (a == UNSET)
        return b;
    if (b == UNSET || is_const(L, b, 0))
        return a;
    if (is_const(L, a, 0))
        return b;
    /* -x + y is y - x: one kernel instead of two */
    if (a >= 0 && b >= 0 && L->g->nodes[a].kind == G_OP && L->g->nodes[a].op == OP_NEG)
        return op2(L, OP_SUB, b, L->g->nodes[a].in[0], at);
    if (a >= 0 && b >= 0 && L->g->nodes[b].kind == G_OP && L->g->nodes[b].op == OP_NEG)
        return op2(L, OP_SUB, a, L->g->nodes[b].in[0], at);
    return op2(L, OP_ADD, a, b, at);
}

static int mul(Lower *L, int a, int b, Span at)
{
    if (is_const(L, a, 1))
        return b;
    if (is_const(L, b, 1))
        return a;
    if (a >= 0 && L->g->nodes[a].kind == G_CONST)
        return scale(L, b, L->g->nodes[a].value, at);
    if (b >= 0 && L->g->nodes[b].kind == G_CONST)
        return scale(L, a, L->g->nodes[b].value, at);
    return op2(L, OP_MUL, a, b, at);
}

static int fail(Lower *L, Span at, const char *msg)
{
    diag_error(L->d, at, "%s", msg);
    L->failed = true;
    return -1;
}

/* ---- names in equations --------------------------------------------------- */

static int var_index(const ModelInfo *info, Name name)
{
    for (int i = 0; i < info->nvars; i++)
        if (info->vars[i].name == name)
            return i;
    return -1;
}

static int param_index(const ModelInfo *info, Name name)
{
    for (int i = 0; i < info->nparams; i++)
        if (info->params[i].name == name)
            return i;
    return -1;
}

static char *label2(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = xmalloc(n);
    snprintf(s, n, "%s.%s", a, b);
    return s;
}

static int own_label(Lower *L, const char *a, const char *b, int node)
{
    if (node < 0)
        return node;
    char *s = label2(a, b);
    if (!L->g->nodes[node].label)
        L->g->nodes[node].label = graph_own(L->g, s);
    free(s);
    return node;
}

static int value_of(Lower *L, Stage *s, int pop, int var, Span at);
static int next_of(Lower *L, Stage *s, int pop, int var, Span at);

static int in_of(Lower *L, Stage *s, int pop, Span at)
{
    PopStage *ps = &s->pops[pop];
    if (ps->in == BUSY)
        return fail(L, at, "a population's input depends on itself within one step");
    if (ps->in != UNSET)
        return ps->in;
    ps->in = BUSY;
    const ModelPop *p = &L->m->pops[pop];
    int sum = UNSET;
    if (p->model->kind == D_CELL) {
        int parts[OP_MAX_IN], n = 0;
        for (int k = 0; k < p->nsources && n < OP_MAX_IN; k++)
            parts[n++] = port_value(L, s, p->sources[k], at);
        if (n == 1)
            sum = parts[0];
        else if (n > 1)
            sum = opn(L, OP_CONCAT, NULL, n, parts, at);
        else
            sum = graph_const(L->g, 0);
    } else {
        /* Synapses from inputs first: their products, hoisted before the time
         * loop, come first in the graph, so the recurrent product can
         * accumulate onto them (fold.h). */
        for (int from_input = 1; from_input >= 0; from_input--)
            for (int k = 0; k < L->m->nsyns; k++) {
                const ModelSyn *syn = &L->m->syns[k];
                if (syn->post.kind == PORT_POP && syn->post.index == pop && !syn->target &&
                    (syn->pre.kind == PORT_INPUT) == from_input)
                    sum = add(L, sum, contribution(L, s, syn, at), at);
            }
        if (sum == UNSET)
            sum = graph_const(L->g, 0);
    }
    ps->in = sum;
    return sum;
}

/* The value of a population's output (what synapses read) at this stage. */
static int pop_output(Lower *L, Stage *s, int pop, Span at)
{
    const ModelPop *p = &L->m->pops[pop];
    if (p->info->spiking && !p->info->out)
    {
        L->failed = true;
        return pending_stop(L->d, at, "a synapse from a spiking population", PENDING_SPIKING) ? -1 : -1;
    }
    int v = var_index(p->info, p->info->out);
    if (v < 0)
        return fail(L, at, "this population has no output for synapses to read");
    /* A cell's output is its state after this step's input, as nn.LSTM's is;
     * cells take no synapses, so reading h' here closes no loop. */
    int out = p->model->kind == D_CELL && p->info->vars[v].kind == VAR_STATE ? next_of(L, s, pop, v, at)
                                                                                : value_of(L, s, pop, v, at);
    /* An output computed from time and constants alone (r = sin(2 * pi * f * t))
     * is one number: give it the population's size for the synapses. */
    if (out >= 0 && (L->g->nodes[out].shape.rank != 1 || L->g->nodes[out].shape.dim[0] != p->n)) {
        OpAttr attr = { .shape = { 1, { p->n } } };
        out = opn(L, OP_BROADCAST, &attr, 1, &out, at);
    }
    return out;
}

static int port_value(Lower *L, Stage *s, PortRef p, Span at)
{
    switch (p.kind) {
    case PORT_POP:
        return pop_output(L, s, p.index, at);
    case PORT_INPUT: {
        if (L->input_leaf[p.index] >= 0)
            return L->input_leaf[p.index];
        for (int k = 0; k < L->spec->nbindings; k++)
            if (L->spec->bindings[k].input == p.index) {
                int node = lower_expr(L, s, -1, L->spec->bindings[k].expr);
                if (node < 0)
                    return -1;
                /* an expression of time feeds every channel and trial alike */
                int64_t n = L->m->inputs[p.index].n;
                const GNode *x = &L->g->nodes[node];
                if (x->shape.rank != 1 || x->shape.dim[0] != n) {
                    OpAttr attr = { .shape = { 1, { n } } };
                    node = opn(L, OP_BROADCAST, &attr, 1, &node, L->spec->bindings[k].expr->span);
                }
                return node;
            }
        return graph_const(L->g, 0);
    }
    case PORT_OUTPUT: {
        if (s->outputs[p.index] != UNSET)
            return s->outputs[p.index];
        int sum = UNSET;
        for (int k = 0; k < L->m->nsyns; k++) {
            const ModelSyn *syn = &L->m->syns[k];
            if (syn->post.kind == PORT_OUTPUT && syn->post.index == p.index) {
                sum = add(L, sum, contribution(L, s, syn, at), at);
            }
        }
        if (sum == UNSET)
            sum = graph_const(L->g, 0);
        s->outputs[p.index] = sum;
        return sum;
    }
    }
    return -1;
}

/* One GEMM per stacked block and input: the rows of `member` are a view. */
static int block_product(Lower *L, Stage *s, int block, int member_param, int x, Span at)
{
    const ModelBlock *b = &L->m->blocks[block];
    int lin = memo_get(s->memo, s->nmemo, block, x);
    if (lin == UNSET) {
        int w = graph_param(L->g, b->value, -1, "weights");
        lin = op2(L, OP_LINEAR, x, w, at);
        if (lin < 0)
            return -1;
        memo_put(&s->memo, &s->nmemo, block, x, lin);
    }
    if (b->nmembers == 1)
        return lin;
    for (int k = 0; k < b->nmembers; k++)
        if (b->members[k] == member_param) {
            const Tensor *t = L->m->params[member_param].value;
            OpAttr attr = { .start = b->row0[k], .stop = b->row0[k] + t->dim[0] };
            return opn(L, OP_SLICE, &attr, 1, &lin, at);
        }
    return -1;
}

/* What one synapse adds to its target: W @ pre's output, signed. */
static int contribution(Lower *L, Stage *s, const ModelSyn *syn, Span at)
{
    const Model *m = L->m;
    int x = port_value(L, s, syn->pre, at);
    if (x < 0)
        return -1;
    int y;
    if (syn->rank) {
        const ModelParam *pm = &m->params[syn->m], *pn = &m->params[syn->n];
        int mn = graph_param(L->g, pn->value, syn->n, pn->name);
        int mm = graph_param(L->g, pm->value, syn->m, pm->name);
        int z = op2(L, OP_MATMUL, x, mn, at);       /* [B, k] = x [B, pre] n [pre, k] */
        y = op2(L, OP_LINEAR, z, mm, at);            /* [B, post] = z m^T */
        int64_t pre = pn->value->dim[0];
        y = scale(L, y, 1.0 / (double)pre, at);      /* J = m n^T / N */
    } else if (syn->one_to_one) {
        const ModelParam *pw = &m->params[syn->w];
        y = mul(L, x, graph_param(L->g, pw->value, syn->w, pw->name), at);
    } else if (syn->sparse) {
        const ModelParam *pw = &m->params[syn->w];
        OpAttr attr = { .csr = pw->csr };
        int in[2] = { x, graph_param(L->g, pw->value, syn->w, pw->name) };
        y = opn(L, OP_CSR_LINEAR, &attr, 2, in, at);
    } else {
        y = block_product(L, s, syn->block, syn->w, x, at);
    }
    if (syn->sign < 0)
        y = scale(L, y, -1, at);
    return y;
}

/* The stage value of info var `var` of population `pop`. */
static int value_of(Lower *L, Stage *s, int pop, int var, Span at)
{
    PopStage *ps = &s->pops[pop];
    if (ps->var[var] == BUSY) {
        char msg[256];
        snprintf(msg, sizeof msg, "'%s' depends on itself within one step (an alias cycle)", L->m->pops[pop].info->vars[var].name);
        return fail(L, at, msg);
    }
    if (ps->var[var] != UNSET)
        return ps->var[var];
    const VarInfo *v = &L->m->pops[pop].info->vars[var];
    if (v->kind != VAR_ALIAS && v->kind != VAR_GATE)
        return fail(L, at, "internal: a state variable has no value at this stage");
    ps->var[var] = BUSY;
    const Node *rhs = v->kind == VAR_GATE ? v->eq->a : v->eq->b;
    int node = lower_expr(L, s, pop, rhs);
    ps->var[var] = node;
    return own_label(L, L->m->pops[pop].name, v->name, node);
}

/* x' on a right-hand side: the next value of a discrete variable. */
static int next_of(Lower *L, Stage *s, int pop, int var, Span at)
{
    PopStage *ps = &s->pops[pop];
    if (ps->next[var] == BUSY)
        return fail(L, at, "a next-step value depends on itself");
    if (ps->next[var] != UNSET)
        return ps->next[var];
    const VarInfo *v = &L->m->pops[pop].info->vars[var];
    if (v->kind != VAR_NEXT && v->kind != VAR_STATE)
        return fail(L, at, "only a discrete state variable has a next-step value");
    ps->next[var] = BUSY;
    int node = lower_expr(L, s, pop, v->eq->b);
    ps->next[var] = node;
    return node;
}

/* ---- expressions ----------------------------------------------------------- */

static OpKind function_op(const char *name)
{
    static const struct {
        const char *name;
        OpKind op;
    } map[] = {
        { "tanh", OP_TANH }, { "sigmoid", OP_SIGMOID }, { "relu", OP_RELU }, { "linear", OP_COPY },
        { "softplus", OP_SOFTPLUS }, { "exp", OP_EXP }, { "log", OP_LOG }, { "sqrt", OP_SQRT },
        { "abs", OP_ABS }, { "sin", OP_SIN }, { "cos", OP_COS }, { "square", OP_SQUARE },
        { "min", OP_MIN }, { "max", OP_MAX }, { "step", OP_STEP }, { "sign", OP_SIGN },
        { "stop", OP_STOP }, { "softmax", OP_SOFTMAX }, { "log_softmax", OP_LOG_SOFTMAX },
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (strcmp(map[i].name, name) == 0)
            return map[i].op;
    return OP_COUNT;
}

static int lower_call(Lower *L, Stage *s, int pop, const Node *e, const char *fname)
{
    if (strcmp(fname, "affine") == 0) {
        const ModelPop *p = &L->m->pops[pop];
        for (int k = 0; k < p->nsites; k++) {
            const AffineSite *site = &p->sites[k];
            if (site->call != e)
                continue;
            int sum = UNSET;
            for (int a = 0; a < site->nargs; a++) {
                int x = lower_expr(L, s, pop, e->list.v[a]);
                sum = add(L, sum, block_product(L, s, site->block[a], site->weight[a], x, e->span), e->span);
            }
            const ModelParam *b = &L->m->params[site->bias];
            return add(L, sum, graph_param(L->g, b->value, site->bias, b->name), e->span);
        }
        return fail(L, e->span, "internal: an affine call site has no weights");
    }
    if (strcmp(fname, "clip") == 0 && e->list.n == 3) {
        int x = lower_expr(L, s, pop, e->list.v[0]);
        int lo = lower_expr(L, s, pop, e->list.v[1]), hi = lower_expr(L, s, pop, e->list.v[2]);
        if (lo >= 0 && hi >= 0 && L->g->nodes[lo].kind == G_CONST && L->g->nodes[hi].kind == G_CONST) {
            OpAttr attr = { .lo = L->g->nodes[lo].value, .hi = L->g->nodes[hi].value };
            return opn(L, OP_CLIP, &attr, 1, &x, e->span);
        }
        return op2(L, OP_MIN, op2(L, OP_MAX, x, lo, e->span), hi, e->span);
    }
    OpKind op = function_op(fname);
    if (op == OP_COUNT) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s(...) cannot be used in an equation of a running model", fname);
        return fail(L, e->span, msg);
    }
    int args[3], n = e->list.n < 3 ? e->list.n : 3;
    for (int i = 0; i < n; i++)
        args[i] = lower_expr(L, s, pop, e->list.v[i]->kind == AST_ARG ? e->list.v[i]->a : e->list.v[i]);
    return opn(L, op, NULL, n, args, e->span);
}

static int lower_name(Lower *L, Stage *s, int pop, const Node *e, bool next)
{
    Name name = e->name;
    if (name == intern_cstr("t"))
        return s->time;
    if (name == intern_cstr("dt"))
        return graph_const(L->g, L->spec->dt);
    if (name == intern_cstr("pi"))
        return graph_const(L->g, M_PI);
    if (pop >= 0) {
        const ModelPop *p = &L->m->pops[pop];
        if (name == intern_cstr("in"))
            return in_of(L, s, pop, e->span);
        if (name == intern_cstr("xi")) {
            int node = memo_get(L->noise, L->nnoise, pop, (int)(intptr_t)e->span.off);
            if (node == UNSET) {
                Shape shape = { 1, { p->n } };
                node = graph_leaf(L->g, G_NOISE, true, shape, graph_own(L->g, "xi"));
                /* Euler-Maruyama: white noise of unit intensity has variance 1/dt per step */
                L->g->nodes[node].value = 1.0 / sqrt(L->spec->dt);
                memo_put(&L->noise, &L->nnoise, pop, (int)(intptr_t)e->span.off, node);
            }
            return node;
        }
        int v = var_index(p->info, name);
        if (v >= 0)
            return next ? next_of(L, s, pop, v, e->span) : value_of(L, s, pop, v, e->span);
        int k = param_index(p->info, name);
        if (k >= 0) {
            const PopParam *pp = &p->params[k];
            if (pp->per_neuron) {
                const ModelParam *mp = &L->m->params[pp->param];
                return graph_param(L->g, mp->value, pp->param, mp->name);
            }
            return graph_const(L->g, pp->value);
        }
    }
    Decl *d = env_lookup(L->spec->env, name);
    if (d && d->kind == D_LET && d->value.kind == V_NUM)
        return graph_const(L->g, d->value.num);
    char msg[160];
    snprintf(msg, sizeof msg, "'%s' has no value here", name);
    return fail(L, e->span, msg);
}

static int lower_expr(Lower *L, Stage *s, int pop, const Node *e)
{
    if (L->failed)
        return -1;
    switch (e->kind) {
    case AST_NUMBER:
        return graph_const(L->g, e->num);
    case AST_NAME:
        return lower_name(L, s, pop, e, false);
    case AST_NEXT:
        return lower_name(L, s, pop, e, true);
    case AST_UNARY: {
        int a = lower_expr(L, s, pop, e->a);
        return e->op == '-' ? op1(L, OP_NEG, a, e->span) : op1(L, OP_NOT, a, e->span);
    }
    case AST_BINARY: {
        int a = lower_expr(L, s, pop, e->a);
        if (e->op == '^' && e->b->kind == AST_NUMBER) {
            if (e->b->num == 2)
                return op1(L, OP_SQUARE, a, e->span);
            if (e->b->num == 1)
                return a;
            OpAttr attr = { .p = e->b->num };
            return opn(L, OP_POW_CONST, &attr, 1, &a, e->span);
        }
        int b = lower_expr(L, s, pop, e->b);
        switch (e->op) {
        case '+': return add(L, a, b, e->span);
        case '-': return is_const(L, b, 0) ? a : op2(L, OP_SUB, a, b, e->span);
        case '*': return mul(L, a, b, e->span);
        case '/':
            if (b >= 0 && L->g->nodes[b].kind == G_CONST && L->g->nodes[b].value != 0)
                return scale(L, a, 1.0 / L->g->nodes[b].value, e->span);
            return op2(L, OP_DIV, a, b, e->span);
        case '^': return op2(L, OP_POW, a, b, e->span);
        case '<': return op2(L, OP_LT, a, b, e->span);
        case '>': return op2(L, OP_GT, a, b, e->span);
        case AOP_LE: return op2(L, OP_LE, a, b, e->span);
        case AOP_GE: return op2(L, OP_GE, a, b, e->span);
        case AOP_EQ: return op2(L, OP_EQ, a, b, e->span);
        case AOP_NE: return op2(L, OP_NE, a, b, e->span);
        case AOP_AND: return op2(L, OP_AND, a, b, e->span);
        case AOP_OR: return op2(L, OP_OR, a, b, e->span);
        default: return fail(L, e->span, "this operator cannot be used in a running model's equations");
        }
    }
    case AST_CALL: {
        const Node *callee = e->a;
        if (pop >= 0) {
            const ModelPop *p = &L->m->pops[pop];
            int k = param_index(p->info, callee->name);
            if (k >= 0 && p->params[k].func)
                return lower_call(L, s, pop, e, p->params[k].func);
        }
        Decl *d = env_lookup(L->spec->env, callee->name);
        if (d && d->kind == D_EXTERN)
        {
            L->failed = true;
            pending_stop(L->d, e->span, callee->name, PENDING_EXTERN);
            return -1;
        }
        return lower_call(L, s, pop, e, callee->name);
    }
    default:
        return fail(L, e->span, "this expression cannot be used in a running model's equations");
    }
}

/* ---- integration ----------------------------------------------------------- */

/* The derivative dx/dt of a continuous variable: RHS / coefficient. */
static int derivative(Lower *L, Stage *s, int pop, const VarInfo *v)
{
    const Node *lhs = v->eq->a;
    const Node *coef = lhs->kind == AST_BINARY ? (lhs->a->kind == AST_DERIV ? lhs->b : lhs->a) : NULL;
    int rhs = lower_expr(L, s, pop, v->eq->b);
    if (!coef)
        return rhs;
    int c = lower_expr(L, s, pop, coef);
    if (c >= 0 && L->g->nodes[c].kind == G_CONST) {
        if (L->g->nodes[c].value == 0) {
            fail(L, coef->span, "this coefficient of the derivative is 0");
            diag_note(L->d, L->m->pops[pop].decl->node->span, "in population %s", L->m->pops[pop].name);
            return -1;
        }
        return scale(L, rhs, 1.0 / L->g->nodes[c].value, v->eq->span);
    }
    return op2(L, OP_DIV, rhs, c, v->eq->span);
}

/* Does node depend on node `x`? The population's synaptic input counts as
 * external (marked in seen[] beforehand), as exponential Euler treats it. */
static bool depends(const Graph *g, int node, int x, signed char *seen)
{
    if (node == x)
        return true;
    if (seen[node])
        return seen[node] > 0;
    const GNode *n = &g->nodes[node];
    bool dep = false;
    if (n->kind == G_OP)
        for (int k = 0; k < n->nin && !dep; k++)
            dep = depends(g, n->in[k], x, seen);
    seen[node] = dep ? 1 : -1;
    return dep;
}

/* Splits f = a x + b where a and b do not depend on x. Returns false when f is
 * not linear in x. a or b of UNSET mean 0. */
static bool linear_split(Lower *L, int f, int x, int *a, int *b, signed char *seen, Span at)
{
    Graph *g = L->g;
    if (f == x) {
        *a = graph_const(g, 1);
        *b = UNSET;
        return true;
    }
    if (!depends(g, f, x, seen)) {
        *a = UNSET;
        *b = f;
        return true;
    }
    const GNode n = g->nodes[f];
    if (n.kind != G_OP)
        return false;
    int a1, b1, a2, b2;
    switch (n.op) {
    case OP_ADD:
    case OP_SUB:
        if (!linear_split(L, n.in[0], x, &a1, &b1, seen, at) || !linear_split(L, n.in[1], x, &a2, &b2, seen, at))
            return false;
        if (n.op == OP_SUB) {
            a2 = a2 == UNSET ? UNSET : op1(L, OP_NEG, a2, at);
            b2 = b2 == UNSET ? UNSET : op1(L, OP_NEG, b2, at);
        }
        *a = add(L, a1, a2, at);
        *b = add(L, b1, b2, at);
        return true;
    case OP_NEG:
    case OP_SCALE:
        if (!linear_split(L, n.in[0], x, &a1, &b1, seen, at))
            return false;
        *a = a1 == UNSET ? UNSET : n.op == OP_NEG ? op1(L, OP_NEG, a1, at) : scale(L, a1, n.attr.alpha, at);
        *b = b1 == UNSET ? UNSET : n.op == OP_NEG ? op1(L, OP_NEG, b1, at) : scale(L, b1, n.attr.alpha, at);
        return true;
    case OP_MUL:
    case OP_DIV: {
        int dep0 = depends(g, n.in[0], x, seen), dep1 = depends(g, n.in[1], x, seen);
        if (dep0 && dep1)
            return false;
        if (n.op == OP_DIV && dep1)
            return false;
        int lin = dep0 ? n.in[0] : n.in[1], other = dep0 ? n.in[1] : n.in[0];
        if (!linear_split(L, lin, x, &a1, &b1, seen, at))
            return false;
        OpKind op = n.op;
        *a = a1 == UNSET ? UNSET : op2(L, op, a1, other, at);
        *b = b1 == UNSET ? UNSET : op2(L, op, b1, other, at);
        return true;
    }
    default:
        return false;
    }
}

typedef struct Target {
    int pop, var, state;   /* a state variable and its graph state */
} Target;

static bool integrate(Lower *L, Target *targets, int ntargets)
{
    Graph *g = L->g;
    const Method method = L->spec->method;
    const double dt = L->spec->dt;
    Stage s0;
    int t0 = graph_leaf(g, G_TIME, false, (Shape){ 0, { 1 } }, "t");
    stage_init(L, &s0, t0);
    for (int i = 0; i < ntargets; i++)
        s0.pops[targets[i].pop].var[targets[i].var] = g->states[targets[i].state].cur;
    int *next = xmalloc((size_t)(ntargets + 1) * sizeof *next);
    int *k1 = xmalloc((size_t)(ntargets + 1) * sizeof *k1);
    for (int i = 0; i < ntargets; i++) {
        const VarInfo *v = &L->m->pops[targets[i].pop].info->vars[targets[i].var];
        k1[i] = v->kind == VAR_ODE ? derivative(L, &s0, targets[i].pop, v) : UNSET;
        next[i] = v->kind == VAR_ODE ? UNSET : next_of(L, &s0, targets[i].pop, targets[i].var, v->at);
    }
    bool ok = !L->failed;
    if (ok && method == METHOD_RK4) {
        /* k2..k4 from the whole network at the intermediate states */
        int *ks[4] = { k1, NULL, NULL, NULL };
        double frac[4] = { 0, 0.5, 0.5, 1.0 };
        for (int st = 1; st < 4 && ok; st++) {
            ks[st] = xmalloc((size_t)(ntargets + 1) * sizeof(int));
            Stage sk;
            int tk = graph_leaf(g, G_TIME, false, (Shape){ 0, { 1 } }, "t");
            g->nodes[tk].value = frac[st] * dt;
            stage_init(L, &sk, tk);
            for (int i = 0; i < ntargets; i++) {
                int cur = g->states[targets[i].state].cur;
                int x = cur;
                if (ks[st - 1][i] != UNSET)
                    x = add(L, cur, scale(L, ks[st - 1][i], frac[st] * dt, L->at), L->at);
                sk.pops[targets[i].pop].var[targets[i].var] = x;
            }
            for (int i = 0; i < ntargets; i++) {
                const VarInfo *v = &L->m->pops[targets[i].pop].info->vars[targets[i].var];
                ks[st][i] = v->kind == VAR_ODE ? derivative(L, &sk, targets[i].pop, v) : UNSET;
            }
            stage_fini(L, &sk);
            ok = !L->failed;
        }
        for (int i = 0; ok && i < ntargets; i++) {
            if (k1[i] == UNSET)
                continue;
            int sum = add(L, add(L, k1[i], scale(L, ks[1][i], 2, L->at), L->at),
                          add(L, scale(L, ks[2][i], 2, L->at), ks[3][i], L->at), L->at);
            next[i] = add(L, g->states[targets[i].state].cur, scale(L, sum, dt / 6, L->at), L->at);
        }
        for (int st = 1; st < 4; st++)
            free(ks[st]);
    } else if (ok) {
        for (int i = 0; i < ntargets && ok; i++) {
            if (k1[i] == UNSET)
                continue;
            int x = g->states[targets[i].state].cur;
            if (method == METHOD_EXPONENTIAL) {
                signed char *seen = xcalloc((size_t)g->n + 1, 1);
                int in = s0.pops[targets[i].pop].in;
                if (in >= 0)
                    seen[in] = -1;   /* in is held fixed over the step */
                int a, b;
                bool linear = linear_split(L, k1[i], x, &a, &b, seen, L->at);
                free(seen);
                if (!linear) {
                    const VarInfo *v = &L->m->pops[targets[i].pop].info->vars[targets[i].var];
                    diag_error(L->d, v->eq->span, "exponential Euler needs an equation linear in its own variable '%s'; use method euler or rk4",
                               v->name);
                    ok = false;
                    break;
                }
                if (a == UNSET) {
                    next[i] = add(L, x, scale(L, b, dt, L->at), L->at);
                } else {
                    /* x' = x e^(a dt) + b/a (e^(a dt) - 1) */
                    int e = op1(L, OP_EXP, scale(L, a, dt, L->at), L->at);
                    int decay = mul(L, x, e, L->at);
                    if (b == UNSET) {
                        next[i] = decay;
                    } else {
                        int em1 = op2(L, OP_SUB, e, graph_const(g, 1), L->at);
                        next[i] = add(L, decay, mul(L, op2(L, OP_DIV, b, a, L->at), em1, L->at), L->at);
                    }
                }
            } else {
                next[i] = add(L, x, scale(L, k1[i], dt, L->at), L->at);
            }
            ok = !L->failed;
        }
    }
    /* Synapses into a state variable (P -> Q.ge) add to its next value. */
    for (int i = 0; ok && i < ntargets; i++) {
        const ModelPop *p = &L->m->pops[targets[i].pop];
        for (int k = 0; k < L->m->nsyns; k++) {
            const ModelSyn *syn = &L->m->syns[k];
            if (syn->post.kind == PORT_POP && syn->post.index == targets[i].pop && syn->target == p->info->vars[targets[i].var].name)
                next[i] = add(L, next[i], contribution(L, &s0, syn, L->at), L->at);
        }
        ok = !L->failed;
    }
    for (int i = 0; ok && i < ntargets; i++) {
        int x = g->states[targets[i].state].cur;
        /* The next value is written into the state's own buffer, so it must be an
         * elementwise op of its own: not the state, a leaf, a view or a GEMM. */
        if (next[i] == x || g->nodes[next[i]].kind != G_OP || !ops_get(g->nodes[next[i]].op)->ew_fwd)
            next[i] = op1(L, OP_COPY, next[i], L->at);
        for (int j = 0; j < i; j++)
            if (next[j] == next[i])
                next[i] = op1(L, OP_COPY, next[i], L->at);
        /* x' = 0.5 is the same for every trial and neuron: give it the state's shape. */
        if (next[i] >= 0 && (!g->nodes[next[i]].batched || g->nodes[next[i]].shape.rank != 1))
            next[i] = op2(L, OP_ADD, next[i], scale(L, x, 0, L->at), L->at);
        /* A cell's states may differ in size (state h[n], c[m]): h' = tanh(c') must
         * not write m values into h's n. */
        const GNode *nx = next[i] >= 0 ? &g->nodes[next[i]] : NULL;
        if (nx && (nx->shape.rank != 1 || nx->shape.dim[0] != g->nodes[x].shape.dim[0])) {
            const ModelPop *p = &L->m->pops[targets[i].pop];
            const VarInfo *v = &p->info->vars[targets[i].var];
            char got[96];
            if (nx->shape.rank == 1)
                snprintf(got, sizeof got, "size %lld", (long long)nx->shape.dim[0]);
            else
                tensor_shape_fmt(&nx->shape, got, sizeof got);
            diag_error(L->d, v->eq ? v->eq->b->span : L->at, "state '%s' of %s has size %lld, but this gives it %s", v->name, p->name,
                       (long long)g->nodes[x].shape.dim[0], got);
            L->failed = true;
            next[i] = -1;
        }
        g->states[targets[i].state].next = next[i];
        ok = !L->failed && next[i] >= 0;
    }
    /* Name what records, costs and prints may read: values at step t. */
    for (int p = 0; ok && p < L->m->npops; p++) {
        const ModelPop *pop = &L->m->pops[p];
        for (int k = 0; k < pop->info->nvars; k++) {
            char *name = label2(pop->name, pop->info->vars[k].name);
            int node = s0.pops[p].var[k];
            if (node == UNSET && (pop->info->vars[k].kind == VAR_ALIAS || pop->info->vars[k].kind == VAR_GATE))
                node = value_of(L, &s0, p, k, L->at);
            if (node >= 0)
                graph_name(g, name, node);
            free(name);
        }
        char *name = label2(pop->name, "in");
        int node = in_of(L, &s0, p, L->at);
        if (node >= 0)
            graph_name(g, name, node);
        free(name);
        ok = !L->failed;
    }
    for (int k = 0; ok && k < L->m->noutputs; k++) {
        int node = port_value(L, &s0, (PortRef){ PORT_OUTPUT, k }, L->at);
        if (node >= 0)
            graph_name(g, L->m->outputs[k].name, node);
        ok = !L->failed;
    }
    for (int k = 0; ok && k < L->m->ninputs; k++) {
        int node = port_value(L, &s0, (PortRef){ PORT_INPUT, k }, L->at);
        if (node >= 0)
            graph_name(g, L->m->inputs[k].name, node);
    }
    stage_fini(L, &s0);
    free(next);
    free(k1);
    return ok && !L->failed;
}

bool lower_model(const Model *m, const LowerSpec *spec, Graph *g, Diags *d, Span at)
{
    Lower L = { .m = m, .spec = spec, .g = g, .d = d, .at = at };
    for (int p = 0; p < m->npops; p++)
        if (m->pops[p].info->spiking) {
            pending_stop(d, m->pops[p].decl->node->span, m->pops[p].model->name, PENDING_SPIKING);
            return false;
        }
    L.input_leaf = xmalloc((size_t)(m->ninputs + 1) * sizeof *L.input_leaf);
    for (int k = 0; k < m->ninputs; k++) {
        L.input_leaf[k] = -1;
        bool bound = false;
        for (int b = 0; b < spec->nbindings; b++)
            bound |= spec->bindings[b].input == k;
        if (!bound) {
            Shape s = { 1, { m->inputs[k].n } };
            L.input_leaf[k] = graph_leaf(g, G_INPUT, true, s, m->inputs[k].name);
            g->nodes[L.input_leaf[k]].index = k;
        }
    }
    /* One graph state per model state; its value at t is a leaf. */
    Target *targets = xmalloc((size_t)(m->nstates + 1) * sizeof *targets);
    g->states = xcalloc((size_t)m->nstates + 1, sizeof *g->states);
    for (int i = 0; i < m->nstates; i++) {
        const ModelState *ms = &m->states[i];
        Shape s = { 1, { ms->n } };
        int cur = graph_leaf(g, G_STATE, true, s, graph_own(g, ms->name));
        g->nodes[cur].index = i;
        g->states[i] = (GState){ g->nodes[cur].label, i, cur, -1 };
        targets[i] = (Target){ ms->pop, ms->var, i };
    }
    g->nstates = m->nstates;
    bool ok = integrate(&L, targets, m->nstates);
    free(targets);
    free(L.input_leaf);
    free(L.noise);
    return ok;
}
