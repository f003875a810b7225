/* model.c: from checked declarations to populations, parameters and weights.
 *
 * Every random draw comes from a stream named after what it draws ("J.w"), so
 * the same seed gives the same weights however the script orders its
 * declarations, and re-declaring one synapse does not reshuffle another's.
 * Sparse synapses (p below SPARSE_BELOW) store only their connections (CSR);
 * denser ones are dense with a mask, since a GEMM beats CSR there.
 */
#include "model.h"
#include "xalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_ARGS = 8 };
static const double SPARSE_BELOW = 0.25;

/* ---- small helpers -------------------------------------------------------- */

static char *fmt_name(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = xmalloc(n);
    snprintf(s, n, "%s.%s", a, b);
    return s;
}

Rng model_stream(const Model *m, const char *name)
{
    Rng base;
    rng_seed(&base, m->seed);
    return rng_stream(&base, rng_id(name));
}

int model_find_param(const Model *m, const char *name)
{
    for (int i = 0; i < m->nparams; i++)
        if (strcmp(m->params[i].name, name) == 0)
            return i;
    return -1;
}

int model_find_pop(const Model *m, Name name)
{
    for (int i = 0; i < m->npops; i++)
        if (m->pops[i].name == name)
            return i;
    return -1;
}

int model_find_state(const Model *m, const char *name)
{
    for (int i = 0; i < m->nstates; i++)
        if (strcmp(m->states[i].name, name) == 0)
            return i;
    return -1;
}

static int add_param(Model *m, char *name, Span at)
{
    m->params = xrealloc(m->params, (size_t)(m->nparams + 1) * sizeof *m->params);
    m->params[m->nparams] = (ModelParam){ .name = name, .at = at };
    return m->nparams++;
}

static bool eval(const Env *env, const Node *e, Value *out, Diags *d)
{
    Arena scratch;
    arena_init(&scratch);
    Diags quiet;
    diags_init(&quiet);
    Checker c = { .env = (Env *)env, .arena = &scratch, .diags = &quiet };
    bool ok = check_eval(&c, e, out) && (out->kind == V_NUM || out->kind == V_FUNC);
    arena_fini(&scratch);
    diags_fini(&quiet);
    (void)d;
    return ok;
}

static double eval_number(const Env *env, const Node *e, Diags *d)
{
    (void)d;
    return check_number(env, e);
}

/* Fills out[rows x cols] from `w ~ DIST(args)` or `w = VALUE`. */
static bool draw(const Env *env, const Node *item, Rng *r, real *out, int64_t rows, int64_t cols, Diags *d)
{
    if (item->kind == AST_INIT)
        item = item->a;   /* init x ~ DIST, init x = VALUE */
    if (item->kind == AST_EQUATION) {
        double v = eval_number(env, item->b, d);
        for (int64_t i = 0; i < rows * cols; i++)
            out[i] = (real)v;
        return true;
    }
    const Node *call = item->b;
    const Node *callee = call->kind == AST_CALL ? call->a : call;
    const DistInfo *info = dist_lookup(callee->name);
    const Builtin *b = builtin_lookup(callee->name);
    if (!info || !b)
        return false;
    const Node *args[MAX_ARGS];
    Node empty = { .kind = AST_CALL, .span = call->span };
    if (!builtin_bind(b->name, b->params, call->kind == AST_CALL ? call : &empty, args, d))
        return false;
    double params[MAX_ARGS] = { 0 };
    for (int i = 0; i < b->params.n && i < MAX_ARGS; i++)
        params[i] = eval_number(env, args[i], d);
    return dist_fill(info->kind, params, r, out, rows, cols, d, call->span);
}

/* ---- building ------------------------------------------------------------- */

static bool same_shape(const Tensor *a, const Tensor *b)
{
    if (a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dim[i] != b->dim[i])
            return false;
    return true;
}

static void note_decl(Model *m, const Decl *d)
{
    for (int i = 0; i < m->ndecls; i++)
        if (m->decls[i] == d)
            return;
    m->decls = xrealloc(m->decls, (size_t)(m->ndecls + 1) * sizeof *m->decls);
    m->decls[m->ndecls++] = d;
}

static PortRef port_of(const Model *m, const Decl *d)
{
    if (d->kind == D_INPUT)
        for (int i = 0; i < m->ninputs; i++)
            if (m->inputs[i].decl == d)
                return (PortRef){ PORT_INPUT, i };
    if (d->kind == D_OUTPUT)
        for (int i = 0; i < m->noutputs; i++)
            if (m->outputs[i].decl == d)
                return (PortRef){ PORT_OUTPUT, i };
    for (int i = 0; i < m->npops; i++)
        if (m->pops[i].decl == d)
            return (PortRef){ PORT_POP, i };
    return (PortRef){ PORT_POP, -1 };
}

static int64_t port_size(const Model *m, PortRef p)
{
    switch (p.kind) {
    case PORT_POP: return m->pops[p.index].n;
    case PORT_INPUT: return m->inputs[p.index].n;
    case PORT_OUTPUT: return m->outputs[p.index].n;
    }
    return 0;
}

static const char *port_name(const Model *m, PortRef p)
{
    switch (p.kind) {
    case PORT_POP: return m->pops[p.index].name;
    case PORT_INPUT: return m->inputs[p.index].name;
    case PORT_OUTPUT: return m->outputs[p.index].name;
    }
    return "?";
}

static bool build_pop_params(Model *m, ModelPop *p, const Env *env, Diags *d)
{
    const ModelInfo *info = p->info;
    p->params = xcalloc((size_t)info->nparams + 1, sizeof *p->params);
    const Node *pop_node = p->decl->node;
    for (int k = 0; k < info->nparams; k++) {
        PopParam *pp = &p->params[k];
        const Node *value = p->args[k];
        const Node *drawn = NULL;
        for (int i = 0; i < pop_node->body.n; i++) {
            const Node *item = pop_node->body.v[i];
            if (item->kind == AST_DRAW && item->a->name == info->params[k].name)
                drawn = item;
            if (item->kind == AST_EQUATION && item->a->name == info->params[k].name)
                value = item->b;
        }
        if (drawn) {
            char *name = fmt_name(p->name, info->params[k].name);
            int id = add_param(m, name, drawn->span);
            Tensor *t = tensor_new(m->params[id].name, 1, &p->n, d, drawn->span);
            if (!t)
                return false;
            m->params[id].value = t;
            Rng r = model_stream(m, name);
            if (!draw(env, drawn, &r, t->data, p->n, 1, d))
                return false;
            pp->per_neuron = true;
            pp->param = id;
            continue;
        }
        Value v = { 0 };
        if (!value || !eval(env, value, &v, d)) {
            diag_error(d, pop_node->span, "%s needs a value for '%s'", p->model->name, info->params[k].name);
            return false;
        }
        if (v.kind == V_FUNC)
            pp->func = v.str;
        else
            pp->value = v.num;
    }
    return true;
}

/* The parameter's tensor, handed over to become a block. */
static Tensor *tensor_clone_view_owner(ModelParam *p)
{
    Tensor *t = p->value;
    t->name = "weights";
    return t;
}

/* Stacks the rows of params (each [rows_i, cols]) into one block; each param
 * becomes a view of its rows. */
static int stack_block(Model *m, const int *members, int n, int sign, Diags *d, Span at)
{
    int64_t rows = 0, cols = m->params[members[0]].value->dim[1];
    for (int i = 0; i < n; i++)
        rows += m->params[members[i]].value->dim[0];
    /* One member: the block adopts its tensor, so the weights are never held twice. */
    Tensor *block = n == 1 ? tensor_clone_view_owner(&m->params[members[0]]) : tensor_new2("weights", rows, cols, d, at);
    if (!block)
        return -1;
    m->blocks = xrealloc(m->blocks, (size_t)(m->nblocks + 1) * sizeof *m->blocks);
    ModelBlock *b = &m->blocks[m->nblocks];
    *b = (ModelBlock){ .value = block, .nmembers = n, .sign = sign };
    b->members = xmalloc((size_t)n * sizeof *b->members);
    b->row0 = xmalloc((size_t)n * sizeof *b->row0);
    int64_t row = 0;
    for (int i = 0; i < n; i++) {
        ModelParam *p = &m->params[members[i]];
        b->members[i] = members[i];
        b->row0[i] = row;
        int64_t r = p->value->dim[0];
        if (p->value != block) {
            memcpy(block->data + row * cols, p->value->data, (size_t)(r * cols) * sizeof(real));
            tensor_free(p->value);
        }
        int64_t dim[2] = { r, cols };
        p->value = xmalloc(sizeof *p->value);
        *p->value = tensor_view(block->data + row * cols, 2, dim);
        p->value->name = p->name;
        p->view = true;
        row += r;
    }
    return m->nblocks++;
}

static const Node *syn_item(const Node *syn, const char *name)
{
    for (int i = 0; i < syn->body.n; i++) {
        const Node *it = syn->body.v[i];
        if ((it->kind == AST_DRAW || it->kind == AST_EQUATION) && it->a->kind == AST_NAME &&
            strcmp(it->a->name, name) == 0)
            return it;
    }
    return NULL;
}

static bool syn_flag(const Node *syn, const char *flag)
{
    for (int i = 0; i < syn->body.n; i++)
        if (syn->body.v[i]->kind == AST_FLAG && strcmp(syn->body.v[i]->name, flag) == 0)
            return true;
    return false;
}

static bool build_synapse(Model *m, ModelSyn *s, const Env *env, Diags *d)
{
    const Node *node = s->decl->node;
    int64_t post = port_size(m, s->post), pre = port_size(m, s->pre);
    s->w = s->m = s->n = s->block = -1;
    s->learn = syn_flag(node, "learn");
    s->one_to_one = syn_flag(node, "one_to_one");
    for (int i = 0; i < node->body.n; i++)
        if (node->body.v[i]->kind == AST_SIGN)
            s->sign = node->body.v[i]->op == '+' ? 1 : -1;
    const Node *p_item = syn_item(node, "p");
    double p = p_item ? eval_number(env, p_item->b, d) : 1.0;
    s->sparse = p_item && p < SPARSE_BELOW;
    if (s->rank) {
        const char *names[2] = { "m", "n" };
        int64_t rows[2] = { post, pre };
        for (int k = 0; k < 2; k++) {
            int id = add_param(m, fmt_name(s->name, names[k]), node->span);
            ModelParam *mp = &m->params[id];
            mp->learn = s->learn;
            mp->value = tensor_new2(mp->name, rows[k], s->rank, d, node->span);
            if (!mp->value)
                return false;
            Rng r = model_stream(m, mp->name);
            const Node *item = syn_item(node, names[k]);
            if (item ? !draw(env, item, &r, mp->value->data, rows[k], s->rank, d)
                     : (rng_fill_normal(&r, mp->value->data, rows[k] * s->rank, 0, 1), false))
                return false;
            if (k == 0)
                s->m = id;
            else
                s->n = id;
        }
        return true;
    }
    int id = add_param(m, fmt_name(s->name, "w"), node->span);
    s->w = id;
    ModelParam *mp = &m->params[id];
    mp->learn = s->learn;
    mp->sign = s->sign;
    mp->no_self = syn_flag(node, "no_self");
    const Node *item = syn_item(node, "w");
    Rng r = model_stream(m, mp->name);
    Rng conn = model_stream(m, "connections");
    conn = rng_stream(&conn, rng_id(mp->name));
    if (s->one_to_one) {
        mp->value = tensor_new(mp->name, 1, &post, d, node->span);
        if (!mp->value)
            return false;
        if (item ? !draw(env, item, &r, mp->value->data, post, 1, d) : (rng_fill_normal(&r, mp->value->data, post, 0, 1), false))
            return false;
    } else if (s->sparse) {
        int64_t *row_ptr = NULL;
        int32_t *col_idx = NULL;
        int64_t nnz = dist_sparse(&conn, post, pre, p, mp->no_self, &row_ptr, &col_idx, d, node->span);
        if (nnz < 0)
            return false;
        mp->csr = xmalloc(sizeof *mp->csr);
        *mp->csr = (Csr){ post, pre, nnz, row_ptr, col_idx };
        int64_t count = nnz ? nnz : 1;
        mp->value = tensor_new(mp->name, 1, &count, d, node->span);
        if (!mp->value)
            return false;
        mp->value->dim[0] = nnz;
        mp->value->size = nnz;
        if (nnz && (item ? !draw(env, item, &r, mp->value->data, nnz, 1, d)
                         : (rng_fill_normal(&r, mp->value->data, nnz, 0, 1.0 / sqrt((double)pre)), false)))
            return false;
    } else {
        mp->value = tensor_new2(mp->name, post, pre, d, node->span);
        if (!mp->value)
            return false;
        if (item ? !draw(env, item, &r, mp->value->data, post, pre, d)
                 : (rng_fill_normal(&r, mp->value->data, post * pre, 0, 1.0 / sqrt((double)pre)), false))
            return false;
        if (p_item) {
            mp->mask = tensor_new2("mask", post, pre, d, node->span);
            if (!mp->mask)
                return false;
            for (int64_t k = 0; k < post * pre; k++)
                mp->mask->data[k] = rng_uniform(&conn) < p;
        }
    }
    model_constrain_param(mp);
    return true;
}

void model_constrain_param(ModelParam *p)
{
    Tensor *t = p->value;
    if (p->sign)
        for (int64_t i = 0; i < t->size; i++)
            if (!(t->data[i] > 0))
                t->data[i] = 0;   /* also turns a NaN into 0: a magnitude is never NaN */
    if (p->mask)
        for (int64_t i = 0; i < t->size; i++)
            t->data[i] *= p->mask->data[i];
    if (p->no_self && !p->csr && t->rank == 2)
        for (int64_t i = 0; i < t->dim[0] && i < t->dim[1]; i++)
            t->data[i * t->dim[1] + i] = 0;
}

/* Stacks dense synapses that read the same presynaptic side with the same sign
 * and that all learn or all do not (a learnt block's gradient would otherwise
 * flow into populations only fixed weights drive). A readout (a synapse onto
 * an output) stacks only with readouts: beside a recurrent matrix it would
 * keep that product from accumulating onto the input projection (fold.h),
 * and alone a readout of one unit is a matrix-vector product. */
static bool stack_synapses(Model *m, Diags *d)
{
    bool *done = xcalloc((size_t)m->nsyns + 1, 1);
    int *members = xmalloc((size_t)(m->nsyns + 1) * sizeof *members);
    bool ok = true;
    for (int i = 0; i < m->nsyns && ok; i++) {
        ModelSyn *s = &m->syns[i];
        if (done[i] || s->rank || s->sparse || s->one_to_one)
            continue;
        int n = 0;
        for (int j = i; j < m->nsyns; j++) {
            ModelSyn *o = &m->syns[j];
            if (done[j] || o->rank || o->sparse || o->one_to_one || o->sign != s->sign || o->learn != s->learn ||
                o->pre.kind != s->pre.kind || o->pre.index != s->pre.index ||
                (o->post.kind == PORT_OUTPUT) != (s->post.kind == PORT_OUTPUT))
                continue;
            members[n++] = o->w;
            done[j] = true;
        }
        int block = stack_block(m, members, n, s->sign, d, s->decl->node->span);
        ok = block >= 0;
        for (int j = 0; ok && j < m->nsyns; j++)
            for (int k = 0; k < n; k++)
                if (m->syns[j].w == members[k])
                    m->syns[j].block = block;
    }
    free(done);
    free(members);
    return ok;
}

/* The size of variable `var` of population p: a cell's state declared with a
 * size (`state c[m]`) has that size, found by name in the cell the population
 * was checked with; everything else has the population's size. */
static int64_t var_size(const ModelPop *p, Name var)
{
    const ModelInfo *checked = p->decl->model->info;
    if (p->decl->state_size && checked)
        for (int k = 0; k < checked->nvars; k++)
            if (checked->vars[k].name == var && p->decl->state_size[k] > 0)
                return p->decl->state_size[k];
    return p->n;
}

/* The name of a cell parameter "L.v.W_in": base "L.v" and label "W_in", or,
 * where an earlier call site or argument of the same variable took that name
 * (gate d = sigmoid(affine(in, h)) * sigmoid(affine(in, h))), the label with
 * the first free suffix _2, _3, ... (docs/cells.md), so that every weight and
 * bias has its own name in print, save and load. Caller owns the result. */
static char *site_param_name(const Model *m, const char *base, const char *label)
{
    char *name = fmt_name(base, label);
    for (int k = 2; model_find_param(m, name) >= 0; k++) {
        char numbered[80];
        snprintf(numbered, sizeof numbered, "%s_%d", label, k);
        free(name);
        name = fmt_name(base, numbered);
    }
    return name;
}

/* The affine call sites of a cell body, with PyTorch's default initialisation
 * U(-1/sqrt(n), 1/sqrt(n)) for n the cell's size (nn.LSTM's hidden size). */
static bool build_cell_sites(Model *m, ModelPop *p, const Env *env, Diags *d)
{
    const Node *body_owner = p->model->node;
    int cap = 8;
    p->sites = xcalloc((size_t)cap, sizeof *p->sites);
    double bound = 1.0 / sqrt((double)p->n);
    for (int i = 0; i < body_owner->body.n; i++) {
        const Node *st = body_owner->body.v[i];
        Name var = NULL;
        const Node *expr = NULL;
        if (st->kind == AST_GATE) {
            var = st->name;
            expr = st->a;
        } else if (st->kind == AST_EQUATION) {
            var = st->a->kind == AST_NAME || st->a->kind == AST_NEXT ? st->a->name : NULL;
            expr = st->b;
        }
        if (!var)
            continue;
        /* affine's output has the size of the variable it defines (c' = ... of
         * `state c[m]` has m rows); a gate or alias has the cell's size. */
        int64_t rows = var_size(p, var);
        /* Walk the expression for affine(...) calls, in order. */
        const Node *stack[256];
        int top = 0, calls_here = 0;
        const Node *found[16];
        stack[top++] = expr;
        while (top) {
            const Node *e = stack[--top];
            if (!e)
                continue;
            if (e->kind == AST_CALL && e->a->kind == AST_NAME && e->a->name == intern_cstr("affine") && calls_here < 16)
                found[calls_here++] = e;
            if (top < 250) {
                for (int k = e->list.n - 1; k >= 0; k--)
                    stack[top++] = e->list.v[k];
                stack[top++] = e->b;
                stack[top++] = e->a;
            }
        }
        for (int c = 0; c < calls_here; c++) {
            const Node *call = found[c];
            if (p->nsites == cap)
                p->sites = xrealloc(p->sites, (size_t)(cap *= 2) * sizeof *p->sites);
            AffineSite *site = &p->sites[p->nsites++];
            memset(site, 0, sizeof *site);
            site->call = call;
            site->nargs = call->list.n < OP_MAX_IN ? call->list.n : OP_MAX_IN;
            for (int a = 0; a < site->nargs; a++) {
                const Node *arg = call->list.v[a];
                char label[64];
                if (arg->kind == AST_NAME)
                    snprintf(label, sizeof label, "W_%s", arg->name);
                else
                    snprintf(label, sizeof label, "W_%d", a + 1);
                site->arg_name[a] = arg->kind == AST_NAME ? arg->name : NULL;
                char base[128];
                snprintf(base, sizeof base, "%s.%s", p->name, var);
                int id = add_param(m, site_param_name(m, base, label), call->span);
                ModelParam *mp = &m->params[id];
                mp->learn = true;
                int64_t cols = arg->kind == AST_NAME && arg->name == intern_cstr("in") ? p->n_in
                             : arg->kind == AST_NAME ? var_size(p, arg->name) : p->n;
                mp->value = tensor_new2(mp->name, rows, cols, d, call->span);
                if (!mp->value)
                    return false;
                Rng r = model_stream(m, mp->name);
                rng_fill_uniform(&r, mp->value->data, rows * cols, -bound, bound);
                site->weight[a] = id;
            }
            char base[128], bname[64];
            snprintf(base, sizeof base, "%s.%s", p->name, var);
            if (calls_here == 1)
                snprintf(bname, sizeof bname, "b");
            else
                snprintf(bname, sizeof bname, "b_%s", site->arg_name[0] ? site->arg_name[0] : "1");
            int id = add_param(m, site_param_name(m, base, bname), call->span);
            ModelParam *mp = &m->params[id];
            mp->learn = true;
            mp->value = tensor_new(mp->name, 1, &rows, d, call->span);
            if (!mp->value)
                return false;
            Rng r = model_stream(m, mp->name);
            rng_fill_uniform(&r, mp->value->data, rows, -bound, bound);
            site->bias = id;
        }
    }
    /* Stack each argument's weights across the call sites reading it. */
    for (int a = 0; a < OP_MAX_IN; a++) {
        Name arg = NULL;
        for (int s = 0; s < p->nsites && !arg; s++)
            if (a < p->sites[s].nargs)
                arg = p->sites[s].arg_name[a];
        (void)arg;
    }
    int members[64];
    bool *done = xcalloc((size_t)p->nsites * OP_MAX_IN + 1, 1);
    for (int s = 0; s < p->nsites; s++)
        for (int a = 0; a < p->sites[s].nargs; a++) {
            if (done[s * OP_MAX_IN + a])
                continue;
            Name arg = p->sites[s].arg_name[a];
            int n = 0;
            for (int t = s; t < p->nsites && n < 64; t++)
                for (int b = 0; b < p->sites[t].nargs; b++)
                    if (!done[t * OP_MAX_IN + b] && arg && p->sites[t].arg_name[b] == arg) {
                        members[n++] = p->sites[t].weight[b];
                        done[t * OP_MAX_IN + b] = true;
                    }
            if (!n) {
                members[n++] = p->sites[s].weight[a];
                done[s * OP_MAX_IN + a] = true;
            }
            int block = stack_block(m, members, n, 0, d, p->decl->node->span);
            if (block < 0) {
                free(done);
                return false;
            }
            for (int t = 0; t < p->nsites; t++)
                for (int b = 0; b < p->sites[t].nargs; b++)
                    for (int k = 0; k < n; k++)
                        if (p->sites[t].weight[b] == members[k])
                            p->sites[t].block[b] = block;
        }
    free(done);
    (void)env;
    return true;
}

/* The population's model as it is now: a neuron or cell declared again since the
 * population was (the REPL's one-line change) is used by its new declaration,
 * with the population's arguments bound to the new parameters. */
static bool bind_model(const Env *env, ModelPop *p, Diags *d)
{
    const Decl *model = p->decl->model;
    if (model->dead) {
        const Decl *live = env_lookup(env, model->name);
        if (live && live->kind == model->kind && live->info)
            model = live;
    }
    p->model = model;
    p->info = model->info;
    int n = p->info->nparams;
    p->args = xcalloc((size_t)n + 1, sizeof *p->args);
    if (model == p->decl->model) {
        memcpy(p->args, p->decl->args, (size_t)n * sizeof *p->args);
        return true;
    }
    const Node *call = p->decl->node->a;
    Node rest = *call;
    if (model->kind == D_NEURON) {
        rest.list.v = call->list.v + 1;
        rest.list.n = call->list.n - 1;
    }
    ParamList pl = { p->info->params, n, false };
    if (!builtin_bind(model->name, pl, &rest, p->args, d)) {
        diag_note(d, model->node->name_span, "population %s uses the %s declared here", p->name, model->name);
        return false;
    }
    return true;
}

static void collect_decls(Model *m, const Env *env)
{
    for (int i = 0; i < env->n; i++) {
        const Decl *d = env->v[i];
        if (d->dead)
            continue;
        if (d->kind == D_POPULATION || d->kind == D_INPUT || d->kind == D_OUTPUT || d->kind == D_SYNAPSE) {
            note_decl(m, d);
            if (d->kind == D_POPULATION) {
                const Decl *model = d->model->dead ? env_lookup(env, d->model->name) : d->model;
                note_decl(m, model ? model : d->model);
            }
        }
    }
}

bool model_stale(const Model *m, const Env *env)
{
    if (!m)
        return true;
    int live = 0;
    for (int i = 0; i < env->n; i++) {
        const Decl *d = env->v[i];
        if (d->dead)
            continue;
        if (d->kind == D_POPULATION || d->kind == D_INPUT || d->kind == D_OUTPUT || d->kind == D_SYNAPSE) {
            live++;
            bool found = false;
            for (int k = 0; k < m->ndecls && !found; k++)
                found = m->decls[k] == d;
            if (!found)
                return true;
        }
    }
    for (int k = 0; k < m->ndecls; k++)
        if (m->decls[k]->dead)
            return true;
    int counted = 0;
    for (int k = 0; k < m->ndecls; k++)
        counted += m->decls[k]->kind != D_NEURON && m->decls[k]->kind != D_CELL;
    return counted != live;
}

/* Is "J.theta" a trace of synapse J? */
static bool trace_of(const char *trace, const char *syn)
{
    size_t n = strlen(syn);
    return strncmp(trace, syn, n) == 0 && trace[n] == '.';
}

Model *model_build(const Env *env, const Model *old, uint64_t seed, Diags *d, Span at, char **reinit)
{
    Model *m = xcalloc(1, sizeof *m);
    m->seed = seed;
    if (reinit)
        *reinit = NULL;
    collect_decls(m, env);
    for (int i = 0; i < env->n; i++) {
        const Decl *decl = env->v[i];
        if (decl->dead)
            continue;
        if (decl->kind == D_INPUT || decl->kind == D_OUTPUT) {
            ModelPort **v = decl->kind == D_INPUT ? &m->inputs : &m->outputs;
            int *n = decl->kind == D_INPUT ? &m->ninputs : &m->noutputs;
            *v = xrealloc(*v, (size_t)(*n + 1) * sizeof **v);
            (*v)[(*n)++] = (ModelPort){ decl, decl->name, decl->size };
        } else if (decl->kind == D_POPULATION) {
            m->pops = xrealloc(m->pops, (size_t)(m->npops + 1) * sizeof *m->pops);
            ModelPop *p = &m->pops[m->npops++];
            *p = (ModelPop){ .decl = decl, .name = decl->name, .n = decl->size, .model = decl->model, .info = decl->model->info };
            if (!bind_model(env, p, d)) {
                model_free(m);
                return NULL;
            }
        }
    }
    bool ok = true;
    for (int i = 0; i < m->npops && ok; i++) {
        ModelPop *p = &m->pops[i];
        ok = build_pop_params(m, p, env, d);
        p->state = xmalloc((size_t)(p->info->nvars + 1) * sizeof *p->state);
        for (int k = 0; k < p->info->nvars; k++) {
            const VarInfo *v = &p->info->vars[k];
            p->state[k] = -1;
            if (v->kind == VAR_ALIAS || v->kind == VAR_GATE)
                continue;
            m->states = xrealloc(m->states, (size_t)(m->nstates + 1) * sizeof *m->states);
            ModelState *s = &m->states[m->nstates];
            *s = (ModelState){ fmt_name(p->name, v->name), i, k, var_size(p, v->name), NULL, NULL };
            for (int j = 0; j < p->decl->node->body.n; j++) {
                const Node *item = p->decl->node->body.v[j];
                if (item->kind == AST_INIT && item->a->a->name == v->name)
                    s->init = item;
            }
            p->state[k] = m->nstates++;
        }
        if (p->model->kind == D_CELL) {
            const Node *from = p->decl->node;
            p->nsources = from->list.n;
            p->sources = xcalloc((size_t)p->nsources + 1, sizeof *p->sources);
            for (int k = 0; k < from->list.n; k++) {
                const Decl *src = env_lookup(env, from->list.v[k]->name);
                p->sources[k] = port_of(m, src);
                p->n_in += port_size(m, p->sources[k]);
            }
        }
    }
    for (int i = 0; i < m->npops && ok; i++)
        if (m->pops[i].model->kind == D_CELL)
            ok = build_cell_sites(m, &m->pops[i], env, d);
    for (int i = 0; i < env->n && ok; i++) {
        const Decl *decl = env->v[i];
        if (decl->dead || decl->kind != D_SYNAPSE)
            continue;
        m->syns = xrealloc(m->syns, (size_t)(m->nsyns + 1) * sizeof *m->syns);
        ModelSyn *s = &m->syns[m->nsyns++];
        *s = (ModelSyn){ .decl = decl, .name = decl->name, .target = decl->target, .rank = decl->rank };
        s->pre = port_of(m, decl->pre);
        s->post = port_of(m, decl->post);
        ok = build_synapse(m, s, env, d);
    }
    if (ok)
        ok = stack_synapses(m, d);
    if (!ok) {
        model_free(m);
        return NULL;
    }
    /* Keep what still fits from the previous model. */
    if (old) {
        size_t len = 0, cap = 0;
        char *list = NULL;
        for (int i = 0; i < m->nparams; i++) {
            ModelParam *p = &m->params[i];
            int k = model_find_param(old, p->name);
            bool kept = k >= 0 && same_shape(old->params[k].value, p->value) &&
                        (old->params[k].csr == NULL) == (p->csr == NULL) &&
                        (!p->csr || (p->csr->nnz == old->params[k].csr->nnz &&
                                     !memcmp(p->csr->row_ptr, old->params[k].csr->row_ptr, (size_t)(p->csr->rows + 1) * sizeof(int64_t)) &&
                                     !memcmp(p->csr->col_idx, old->params[k].csr->col_idx, (size_t)p->csr->nnz * sizeof(int32_t))));
            if (kept) {
                memcpy(p->value->data, old->params[k].value->data, (size_t)p->value->size * sizeof(real));
                continue;
            }
            if (k < 0)
                continue;   /* new, not re-initialised */
            size_t need = strlen(p->name) + 3;
            if (len + need + 1 > cap) {
                cap = (len + need + 1) * 2;
                list = xrealloc(list, cap);
            }
            len += (size_t)snprintf(list + len, cap - len, "%s%s", len ? ", " : "", p->name);
        }
        /* State carries over only where the population is unchanged. */
        for (int i = 0; i < m->nstates; i++) {
            int k = model_find_state(old, m->states[i].name);
            if (k >= 0 && old->states[k].value && old->states[k].n == m->states[i].n &&
                old->pops[old->states[k].pop].decl == m->pops[m->states[i].pop].decl)
                m->states[i].value = tensor_clone(old->states[k].value, d, at);
        }
        /* So do a rule's traces, where the synapse (and so its rule) is unchanged. */
        for (int i = 0; i < old->ntraces; i++) {
            const ModelSyn *was = NULL, *is = NULL;
            for (int k = 0; k < old->nsyns; k++)
                if (trace_of(old->traces[i].name, old->syns[k].name))
                    was = &old->syns[k];
            for (int k = 0; k < m->nsyns; k++)
                if (trace_of(old->traces[i].name, m->syns[k].name))
                    is = &m->syns[k];
            if (!was || !is || was->decl != is->decl)
                continue;
            Tensor *value = tensor_clone(old->traces[i].value, d, at);
            if (!value)
                continue;
            m->traces = xrealloc(m->traces, (size_t)(m->ntraces + 1) * sizeof *m->traces);
            m->traces[m->ntraces++] = (ModelTrace){ xstrdup(old->traces[i].name), value };
        }
        if (reinit)
            *reinit = list;
        else
            free(list);
        m->runs = old->runs;
    }
    return m;
}

void model_free(Model *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->nparams; i++) {
        ModelParam *p = &m->params[i];
        if (p->view) {
            free(p->value);
            free(p->grad);
        } else {
            tensor_free(p->value);
            tensor_free(p->grad);
        }
        tensor_free(p->mask);
        if (p->csr) {
            free((void *)p->csr->row_ptr);
            free((void *)p->csr->col_idx);
            free(p->csr);
        }
        free(p->name);
    }
    for (int i = 0; i < m->nblocks; i++) {
        tensor_free(m->blocks[i].value);
        tensor_free(m->blocks[i].grad);
        free(m->blocks[i].members);
        free(m->blocks[i].row0);
    }
    for (int i = 0; i < m->npops; i++) {
        free(m->pops[i].params);
        free(m->pops[i].args);
        free(m->pops[i].state);
        free(m->pops[i].sources);
        free(m->pops[i].sites);
    }
    for (int i = 0; i < m->nstates; i++) {
        free(m->states[i].name);
        tensor_free(m->states[i].value);
    }
    for (int i = 0; i < m->ntraces; i++) {
        free(m->traces[i].name);
        tensor_free(m->traces[i].value);
    }
    free(m->traces);
    free(m->params);
    free(m->blocks);
    free(m->pops);
    free(m->inputs);
    free(m->outputs);
    free(m->syns);
    free(m->states);
    free(m->decls);
    free(m);
}

bool model_draw_init(const Model *m, const Env *env, int state, const char *tag, real *out, int64_t batch, Diags *d)
{
    const ModelState *ms = &m->states[state];
    int64_t count = batch * ms->n;
    if (!ms->init) {
        memset(out, 0, (size_t)count * sizeof(real));
        return true;
    }
    char name[256];
    snprintf(name, sizeof name, "%s#%s", ms->name, tag);
    Rng r = model_stream(m, name);
    return draw(env, ms->init, &r, out, count, 1, d);
}

bool model_alloc_grads(Model *m, Diags *d, Span at)
{
    for (int b = 0; b < m->nblocks; b++) {
        ModelBlock *bl = &m->blocks[b];
        if (!bl->grad && !(bl->grad = tensor_new_shape("gradient", &(Shape){ 2, { bl->value->dim[0], bl->value->dim[1] } }, d, at)))
            return false;
        for (int k = 0; k < bl->nmembers; k++) {
            ModelParam *p = &m->params[bl->members[k]];
            if (p->grad)
                continue;
            p->grad = xmalloc(sizeof *p->grad);
            *p->grad = tensor_view(bl->grad->data + bl->row0[k] * bl->value->dim[1], p->value->rank, p->value->dim);
        }
    }
    for (int i = 0; i < m->nparams; i++) {
        ModelParam *p = &m->params[i];
        if (!p->grad && !p->view) {
            Shape s = tensor_shape(p->value);
            if (!(p->grad = tensor_new_shape(p->name, &s, d, at)))
                return false;
        }
    }
    return true;
}

void model_zero_grads(Model *m)
{
    for (int b = 0; b < m->nblocks; b++)
        if (m->blocks[b].grad)
            tensor_zero(m->blocks[b].grad);
    for (int i = 0; i < m->nparams; i++)
        if (m->params[i].grad && !m->params[i].view)
            tensor_zero(m->params[i].grad);
}

Tensor *model_grad_of(const Model *m, const Tensor *t)
{
    for (int b = 0; b < m->nblocks; b++)
        if (m->blocks[b].value == t) {
            bool learns = false;
            for (int k = 0; k < m->blocks[b].nmembers; k++)
                learns |= m->params[m->blocks[b].members[k]].learn;
            return learns ? m->blocks[b].grad : NULL;
        }
    for (int i = 0; i < m->nparams; i++)
        if (m->params[i].value == t || (m->params[i].value->data == t->data && m->params[i].value->size == t->size))
            return m->params[i].learn ? m->params[i].grad : NULL;
    return NULL;
}

/* For messages elsewhere: a port's name. */
const char *model_port_name(const Model *m, PortRef p) { return port_name(m, p); }
