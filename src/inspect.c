/* inspect.c: print for model values: weights, parameters, states, recordings.
 *
 *   print J.w          J.w [100, 100] dense: mean 0.0012 std 0.099 min -0.38 max 0.41
 *   print E.r[0:3]     the recording of E.r if there is one, else the value now
 *   print mean(E.r)    elementwise arithmetic and reductions through the op table
 *
 * Small arrays also print their values, a row per line.
 */
#include "lower.h"
#include "plan.h"
#include "runtime.h"
#include "xalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { SHOW_VALUES_UP_TO = 64 };

static Tensor *scalar(double v, Diags *d, Span at)
{
    Tensor *t = tensor_new("value", 0, NULL, d, at);
    if (t)
        t->data[0] = (real)v;
    return t;
}

/* The value of a named variable now: computed from the current state by one
 * step of the graph (states and aliases alike). */
static Tensor *value_now(Runtime *rt, const Env *env, const char *name, Diags *d, Span at)
{
    Model *m = rt->model;
    Graph g;
    graph_init(&g);
    LowerSpec ls = { METHOD_EULER, 1e-4, env, NULL, 0 };
    Tensor *out = NULL;
    if (!lower_model(m, &ls, &g, d, at)) {
        graph_fini(&g);
        return NULL;
    }
    int node = graph_find(&g, name);
    if (node < 0) {
        diag_error(d, at, "there is no '%s' in the model", name);
        graph_fini(&g);
        return NULL;
    }
    int64_t B = rt->batch ? rt->batch : 1;
    Plan plan;
    PlanSpec ps = { .batch = B, .steps = 1, .wanted = &node, .nwanted = 1, .dt = 1e-4 };
    if (!plan_build(&plan, &g, &ps, d, at)) {
        graph_fini(&g);
        return NULL;
    }
    for (int s = 0; s < g.nstates; s++) {
        const ModelState *ms = &m->states[g.states[s].model_state];
        real *slot0 = plan_value(&plan, g.states[s].cur, 0, NULL, NULL);
        if (ms->value && ms->value->dim[0] == B)
            memcpy(slot0, ms->value->data, (size_t)(B * ms->n) * sizeof(real));
    }
    plan_prepare(&plan);
    plan_step(&plan, 0);
    const GNode *n = &g.nodes[node];
    int64_t width = n->shape.rank ? n->shape.dim[0] : 1, ld, rows;
    const real *v = plan_value(&plan, node, 0, &ld, &rows);
    int64_t dim[2] = { n->batched ? B : 1, width };
    out = tensor_new(name, 2, dim, d, at);
    if (out)
        for (int64_t b = 0; b < dim[0]; b++)
            memcpy(out->data + b * width, v + (n->batched ? b * ld : 0), (size_t)width * sizeof(real));
    plan_fini(&plan);
    graph_fini(&g);
    return out;
}

static Tensor *dense_weights(const ModelParam *p, Diags *d, Span at)
{
    if (!p->csr)
        return tensor_clone(p->value, d, at);
    Tensor *t = tensor_new2(p->name, p->csr->rows, p->csr->cols, d, at);
    if (!t)
        return NULL;
    for (int64_t i = 0; i < p->csr->rows; i++)
        for (int64_t k = p->csr->row_ptr[i]; k < p->csr->row_ptr[i + 1]; k++)
            t->data[i * p->csr->cols + p->csr->col_idx[k]] = p->value->data[k];
    return t;
}

static Tensor *eval_tensor(Runtime *rt, const Env *env, const Node *e, Diags *d);

static Tensor *named_value(Runtime *rt, const Env *env, const char *name, Diags *d, Span at)
{
    for (int i = 0; i < rt->nrecs; i++)
        if (strcmp(rt->recs[i].name, name) == 0)
            return tensor_clone(rt->recs[i].data, d, at);
    Model *m = rt->model;
    int p = model_find_param(m, name);
    if (p >= 0)
        return dense_weights(&m->params[p], d, at);
    return value_now(rt, env, name, d, at);
}

static Tensor *index_tensor(const Tensor *t, const Node *e, Runtime *rt, const Env *env, Diags *d)
{
    /* Indices apply to the trailing axes: E.r[0:10] picks neurons; J.w[i, j] an entry. */
    int nidx = e->list.n;
    if (nidx > t->rank) {
        diag_error(d, e->span, "too many indices for a value of %d dimension%s", t->rank, t->rank == 1 ? "" : "s");
        return NULL;
    }
    int64_t lo[TENSOR_MAX_RANK], hi[TENSOR_MAX_RANK];
    bool drop[TENSOR_MAX_RANK] = { false };
    for (int k = 0; k < t->rank; k++) {
        lo[k] = 0;
        hi[k] = t->dim[k];
    }
    int first = t->rank - nidx;
    for (int k = 0; k < nidx; k++) {
        const Node *ix = e->list.v[k];
        int axis = first + k;
        Tensor *v;
        if (ix->kind == AST_SLICE) {
            if (ix->a) {
                v = eval_tensor(rt, env, ix->a, d);
                if (!v)
                    return NULL;
                lo[axis] = (int64_t)v->data[0];
                tensor_free(v);
            }
            if (ix->b) {
                v = eval_tensor(rt, env, ix->b, d);
                if (!v)
                    return NULL;
                hi[axis] = (int64_t)v->data[0];
                tensor_free(v);
            }
        } else {
            v = eval_tensor(rt, env, ix, d);
            if (!v)
                return NULL;
            lo[axis] = (int64_t)v->data[0];
            hi[axis] = lo[axis] + 1;
            drop[axis] = true;
            tensor_free(v);
        }
        if (lo[axis] < 0 || hi[axis] > t->dim[axis] || lo[axis] >= hi[axis]) {
            diag_error(d, ix->span, "index %lld:%lld is outside 0:%lld", (long long)lo[axis], (long long)hi[axis], (long long)t->dim[axis]);
            return NULL;
        }
    }
    int64_t dim[TENSOR_MAX_RANK];
    int rank = 0;
    for (int k = 0; k < t->rank; k++)
        if (!drop[k])
            dim[rank++] = hi[k] - lo[k];
    Tensor *out = tensor_new(t->name, rank, dim, d, e->span);
    if (!out)
        return NULL;
    /* Copy by walking every output element (small tensors: this is print). */
    int64_t count = out->size, src_idx[TENSOR_MAX_RANK];
    for (int64_t i = 0; i < count; i++) {
        int64_t rem = i;
        for (int k = t->rank - 1; k >= 0; k--) {
            int64_t span = hi[k] - lo[k];
            src_idx[k] = lo[k] + rem % span;
            rem /= span;
        }
        int64_t off = 0;
        for (int k = 0; k < t->rank; k++)
            off = off * t->dim[k] + src_idx[k];
        out->data[i] = t->data[off];
    }
    return out;
}

static Tensor *apply(OpKind op, const OpAttr *attr, int n, Tensor **in, Diags *d, Span at)
{
    const Op *o = ops_get(op);
    Shape shapes[OP_MAX_IN], out;
    for (int i = 0; i < n; i++)
        shapes[i] = tensor_shape(in[i]);
    if (!ops_shape(o, n, shapes, attr, &out, d, at))
        return NULL;
    Tensor *y = tensor_new_shape("value", &out, d, at);
    if (!y)
        return NULL;
    OpCall c = { .op = o, .attr = attr, .n_in = n, .out = y };
    for (int i = 0; i < n; i++)
        c.in[i] = in[i];
    ops_fwd(&c);
    return y;
}

/* A constant list as a tensor: [1, 2] is [2], [[1, 2], [3, 4]] is [2, 2]. */
static Tensor *list_tensor(const Env *env, const Node *e, Diags *d)
{
    Diags quiet;
    diags_init(&quiet);
    Arena a;
    arena_init(&a);
    Checker c = { .env = (Env *)env, .arena = &a, .diags = &quiet };
    Value v;
    bool ok = check_eval(&c, e, &v);
    int rank = 0, errors = d->errors;
    int64_t dim[TENSOR_MAX_RANK];
    for (const Value *x = &v; ok && x->kind == V_LIST && rank < TENSOR_MAX_RANK; x = x->n ? &x->items[0] : NULL) {
        dim[rank++] = x->n;
        if (!x->n)
            break;
    }
    Tensor *t = ok && rank ? tensor_new("list", rank, dim, d, e->span) : NULL;
    /* walk the elements in order; a ragged list or a non-number fails */
    for (int64_t i = 0; t && i < t->size; i++) {
        const Value *x = &v;
        int64_t rem = i, stride = t->size;
        for (int k = 0; k < rank && x; k++) {
            stride /= dim[k];
            int64_t j = rem / stride;
            rem %= stride;
            x = x->kind == V_LIST && x->n == dim[k] ? &x->items[j] : NULL;
        }
        if (!x || x->kind != V_NUM) {
            tensor_free(t);
            t = NULL;
            break;
        }
        t->data[i] = (real)x->num;
    }
    if (!t && d->errors == errors)
        diag_error(d, e->span, "print can use a list of numbers, or of lists of numbers of one length, with model values");
    arena_fini(&a);
    diags_fini(&quiet);
    return t;
}

static Tensor *eval_tensor(Runtime *rt, const Env *env, const Node *e, Diags *d)
{
    switch (e->kind) {
    case AST_NUMBER:
        return scalar(e->num, d, e->span);
    case AST_NAME: {
        Decl *decl = env_lookup(env, e->name);
        if (decl && decl->kind == D_LET && decl->value.kind == V_NUM)
            return scalar(decl->value.num, d, e->span);
        if (decl && decl->kind == D_POPULATION) {
            const ModelInfo *info = decl->model->info;
            char name[256];
            snprintf(name, sizeof name, "%s.%s", e->name, info->out ? info->out : info->vars[0].name);
            return named_value(rt, env, name, d, e->span);
        }
        if (decl && decl->kind == D_SYNAPSE) {
            char name[256];
            snprintf(name, sizeof name, "%s.%s", e->name, decl->rank ? "m" : "w");
            return named_value(rt, env, name, d, e->span);
        }
        if (e->name == intern_cstr("pi"))
            return scalar(M_PI, d, e->span);
        return named_value(rt, env, e->name, d, e->span);
    }
    case AST_MEMBER: {
        char name[256];
        if (e->a->kind == AST_MEMBER)   /* L.f.W_in */
            snprintf(name, sizeof name, "%s.%s.%s", e->a->a->name, e->a->name, e->name);
        else
            snprintf(name, sizeof name, "%s.%s", e->a->name, e->name);
        Decl *decl = env_lookup(env, e->a->name);
        if (decl && decl->kind == D_POPULATION) {
            /* a neuron parameter: per neuron if drawn, else its one value */
            int pop = model_find_pop(rt->model, decl->name);
            const ModelPop *p = &rt->model->pops[pop];
            for (int k = 0; k < p->info->nparams; k++)
                if (p->info->params[k].name == e->name && !p->params[k].per_neuron) {
                    Tensor *t = scalar(p->params[k].value, d, e->span);
                    if (t)
                        t->name = p->info->params[k].name;
                    return t;
                }
        }
        if (decl && decl->kind == D_SYNAPSE && decl->rank && e->name == intern_cstr("w")) {
            /* the effective low-rank matrix m n^T / N */
            int im = model_find_param(rt->model, (snprintf(name, sizeof name, "%s.m", decl->name), name));
            int in = model_find_param(rt->model, (snprintf(name, sizeof name, "%s.n", decl->name), name));
            Tensor *mt = rt->model->params[im].value, *nt = rt->model->params[in].value;
            Tensor *w = tensor_new2("w", mt->dim[0], nt->dim[0], d, e->span);
            if (!w)
                return NULL;
            for (int64_t i = 0; i < mt->dim[0]; i++)
                for (int64_t j = 0; j < nt->dim[0]; j++) {
                    double s = 0;
                    for (int64_t k = 0; k < mt->dim[1]; k++)
                        s += mt->data[i * mt->dim[1] + k] * nt->data[j * nt->dim[1] + k];
                    w->data[i * nt->dim[0] + j] = (real)(s / (double)nt->dim[0]);
                }
            return w;
        }
        return named_value(rt, env, name, d, e->span);
    }
    case AST_INDEX: {
        Tensor *base = eval_tensor(rt, env, e->a, d);
        if (!base)
            return NULL;
        Tensor *out = index_tensor(base, e, rt, env, d);
        tensor_free(base);
        return out;
    }
    case AST_LIST:
        return list_tensor(env, e, d);
    case AST_UNARY: {
        Tensor *a = eval_tensor(rt, env, e->a, d);
        if (!a)
            return NULL;
        Tensor *y = apply(e->op == '-' ? OP_NEG : OP_NOT, NULL, 1, &a, d, e->span);
        tensor_free(a);
        return y;
    }
    case AST_BINARY: {
        Tensor *in[2] = { eval_tensor(rt, env, e->a, d), NULL };
        if (!in[0])
            return NULL;
        in[1] = eval_tensor(rt, env, e->b, d);
        if (!in[1]) {
            tensor_free(in[0]);
            return NULL;
        }
        OpKind op;
        switch (e->op) {
        case '+': op = OP_ADD; break;
        case '-': op = OP_SUB; break;
        case '*': op = OP_MUL; break;
        case '/': op = OP_DIV; break;
        case '^': op = OP_POW; break;
        case '@': op = OP_MATMUL; break;
        case '<': op = OP_LT; break;
        case '>': op = OP_GT; break;
        case AOP_LE: op = OP_LE; break;
        case AOP_GE: op = OP_GE; break;
        case AOP_EQ: op = OP_EQ; break;
        case AOP_NE: op = OP_NE; break;
        case AOP_AND: op = OP_AND; break;
        default: op = OP_OR; break;
        }
        Tensor *y = apply(op, NULL, 2, in, d, e->span);
        tensor_free(in[0]);
        tensor_free(in[1]);
        return y;
    }
    case AST_CALL: {
        static const struct {
            const char *name;
            OpKind op;
        } fns[] = {
            { "tanh", OP_TANH }, { "sigmoid", OP_SIGMOID }, { "relu", OP_RELU }, { "exp", OP_EXP },
            { "log", OP_LOG }, { "sqrt", OP_SQRT }, { "abs", OP_ABS }, { "square", OP_SQUARE },
            { "sum", OP_SUM }, { "mean", OP_MEAN }, { "l1", OP_L1 }, { "l2", OP_L2 }, { "sin", OP_SIN },
            { "cos", OP_COS }, { "softplus", OP_SOFTPLUS }, { "linear", OP_COPY }, { "stop", OP_COPY },
            { "max", OP_MAX_ALL }, { "min", OP_MIN_ALL },
        };
        for (size_t k = 0; k < sizeof fns / sizeof *fns; k++)
            if (e->a->kind == AST_NAME && strcmp(e->a->name, fns[k].name) == 0 && e->list.n == 1) {
                Tensor *a = eval_tensor(rt, env, e->list.v[0], d);
                if (!a)
                    return NULL;
                Tensor *y = apply(fns[k].op, NULL, 1, &a, d, e->span);
                tensor_free(a);
                return y;
            }
        if (e->a->kind == AST_NAME && (!strcmp(e->a->name, "max") || !strcmp(e->a->name, "min")) && e->list.n == 2) {
            /* max(a, b), min(a, b): element by element */
            Tensor *in[2] = { eval_tensor(rt, env, e->list.v[0], d), NULL };
            if (!in[0])
                return NULL;
            in[1] = eval_tensor(rt, env, e->list.v[1], d);
            Tensor *y = in[1] ? apply(e->a->name[1] == 'a' ? OP_MAX : OP_MIN, NULL, 2, in, d, e->span) : NULL;
            tensor_free(in[0]);
            tensor_free(in[1]);
            return y;
        }
        diag_error(d, e->span, "print cannot compute this call on model values");
        return NULL;
    }
    default:
        diag_error(d, e->span, "print cannot show this");
        return NULL;
    }
}

/* The unit of a printed expression, from what the checker learned: a
 * population's variables (VarInfo.dim), `in` and parameters, a synapse's w
 * (w_dim), lets and numbers, combined as the checker combines them. Returns
 * false where it is not known (an input, a cell's weights, a sum of unlike
 * units); such a value prints in SI without a unit. */
static bool unit_of(const Env *env, const Node *e, Dim *dim)
{
    switch (e->kind) {
    case AST_NUMBER:
        *dim = e->dim;
        return true;
    case AST_NAME: {
        Decl *d = env_lookup(env, e->name);
        if (d && d->kind == D_LET && d->value.kind == V_NUM) {
            *dim = d->value.dim;
            return true;
        }
        if (d && d->kind == D_POPULATION && d->model && d->model->info) {
            const ModelInfo *info = d->model->info;
            Name out = info->out ? info->out : info->vars[0].name;
            for (int i = 0; i < info->nvars; i++)
                if (info->vars[i].name == out) {
                    *dim = info->vars[i].dim;
                    return true;
                }
            return false;
        }
        if (d && d->kind == D_SYNAPSE && !d->rank) {
            *dim = d->w_dim;
            return true;
        }
        if (!d && e->name == intern_cstr("pi")) {
            *dim = units_none();
            return true;
        }
        return false;
    }
    case AST_MEMBER: {
        Decl *d = e->a->kind == AST_NAME ? env_lookup(env, e->a->name) : NULL;
        if (d && d->kind == D_SYNAPSE && e->name == intern_cstr("w")) {
            *dim = d->w_dim;
            return true;
        }
        if (!d || d->kind != D_POPULATION || !d->model || !d->model->info)
            return false;
        const ModelInfo *info = d->model->info;
        for (int i = 0; i < info->nvars; i++)
            if (info->vars[i].name == e->name) {
                *dim = info->vars[i].dim;
                return true;
            }
        for (int i = 0; i < info->nparams; i++)
            if (info->params[i].name == e->name) {
                *dim = info->param_dims[i];
                return true;
            }
        if (e->name == intern_cstr("in")) {
            *dim = info->in_dim;
            return true;
        }
        *dim = units_none();   /* spikes */
        return e->name == intern_cstr("spikes");
    }
    case AST_INDEX:
        return unit_of(env, e->a, dim);
    case AST_UNARY:
        if (e->op != '-') {
            *dim = units_none();
            return true;
        }
        return unit_of(env, e->a, dim);
    case AST_BINARY: {
        Dim a, b;
        if (e->op != '+' && e->op != '-' && e->op != '*' && e->op != '/' && e->op != '@' && e->op != '^') {
            *dim = units_none();   /* comparisons and logic */
            return true;
        }
        if (!unit_of(env, e->a, &a))
            return false;
        if (e->op == '^')
            return e->b->kind == AST_NUMBER && units_is_none(e->b->dim) && units_pow(a, e->b->num, dim);
        if (!unit_of(env, e->b, &b))
            return false;
        if (e->op == '+' || e->op == '-') {
            *dim = a;
            return units_eq(a, b);
        }
        return e->op == '/' ? units_div(a, b, dim) : units_mul(a, b, dim);
    }
    case AST_CALL: {
        const Builtin *b = e->a->kind == AST_NAME ? builtin_lookup(e->a->name) : NULL;
        if (!b || b->kind != B_FUNC || e->list.n < 1)
            return false;
        if (b->rule == U_NONE || b->rule == U_BOOL) {
            *dim = units_none();
            return true;
        }
        Dim a;
        if (!unit_of(env, e->list.v[0], &a))
            return false;
        switch (b->rule) {
        case U_SAME: *dim = a; return true;
        case U_SQRT: return units_pow(a, 0.5, dim);
        case U_SQUARE: return units_pow(a, 2, dim);
        default: return false;
        }
    }
    default:
        return false;
    }
}

static void summary(const Tensor *t, double scale, FILE *out)
{
    double sum = 0, sq = 0, lo = INFINITY, hi = -INFINITY;
    int64_t nonfinite = 0, nan = 0;
    for (int64_t i = 0; i < t->size; i++) {
        double v = t->data[i];
        if (!isfinite(v)) {
            nonfinite++;
            nan += isnan(v);
            continue;
        }
        sum += v;
        sq += v * v;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    int64_t n = t->size - nonfinite;
    if (t->size == 0) {
        fprintf(out, "empty");
        return;
    }
    if (n == 0) {   /* no statistics of nothing */
        if (nan == t->size)
            fprintf(out, "all NaN");
        else
            fprintf(out, "no finite values (%lld NaN, %lld infinite)", (long long)nan, (long long)(nonfinite - nan));
        return;
    }
    double mean = n ? sum / (double)n : NAN, var = 0;
    /* a second pass: sq/n - mean^2 cancels badly for nearly constant values */
    for (int64_t i = 0; i < t->size; i++)
        if (isfinite(t->data[i]))
            var += (t->data[i] - mean) * (t->data[i] - mean);
    var = n ? var / (double)n : NAN;
    (void)sq;
    fprintf(out, "mean %.4g  std %.4g  min %.4g  max %.4g", mean * scale, sqrt(var > 0 ? var : 0) * scale, lo * scale, hi * scale);
    if (nonfinite)
        fprintf(out, "  (%lld not finite)", (long long)nonfinite);
}

/* A value as printed: a NaN without the sign %g would give it ("-nan"). */
static double shown(double v)
{
    return isnan(v) ? fabs(v) : v;
}

static void values(const Tensor *t, double scale, FILE *out)
{
    int64_t width = t->rank ? t->dim[t->rank - 1] : 1;
    for (int64_t i = 0; i < t->size; i++) {
        fprintf(out, "%s%.4g", i % width == 0 ? "  " : " ", shown(t->data[i] * scale));
        if ((i + 1) % width == 0)
            fputc('\n', out);
    }
}

bool inspect_value_tensor(Runtime *rt, const Env *env, const Node *e, Tensor **out, Diags *d)
{
    if (!runtime_model(rt, env, d, e->span))
        return false;
    *out = eval_tensor(rt, env, e, d);
    return *out != NULL;
}

bool inspect_print(Runtime *rt, const Env *env, const Node *e, FILE *out, Diags *d)
{
    if (!runtime_model(rt, env, d, e->span))
        return false;
    Tensor *t = eval_tensor(rt, env, e, d);
    if (!t)
        return false;
    Dim dim;
    bool has_unit = unit_of(env, e, &dim) && !units_is_none(dim);
    if (t->size == 1) {
        char buf[64];
        if (has_unit && isfinite(t->data[0]))
            units_format(t->data[0], dim, buf, sizeof buf);
        else
            snprintf(buf, sizeof buf, "%.4g", shown(t->data[0]));
        fprintf(out, "%s\n", buf);
    } else {
        /* one unit for the whole array, as a plot's axis has (units_shown) */
        char shape[64], unit[64] = "", shown_as[72] = "";
        double big = 0;
        for (int64_t i = 0; i < t->size; i++)
            if (isfinite(t->data[i]) && fabs(t->data[i]) > big)
                big = fabs(t->data[i]);
        double scale = has_unit ? units_shown(dim, big, unit, sizeof unit) : 1;
        if (unit[0])
            snprintf(shown_as, sizeof shown_as, " (%s)", unit);
        tensor_shape_str(t, shape, sizeof shape);
        fprintf(out, "%.*s %s%s: ", (int)(e->span.len > 60 ? 60 : e->span.len), e->span.file->text + e->span.off, shape, shown_as);
        summary(t, scale, out);
        fputc('\n', out);
        if (t->size <= SHOW_VALUES_UP_TO)
            values(t, scale, out);
    }
    tensor_free(t);
    return true;
}
