/* check.c: top-level statements against the environment of declarations.
 *
 * Each statement is checked in the order it appears, against what the
 * statements before it declared (see check.h). Declarations are checked in
 * full: models, parameter overrides, distributions and their units, synapse
 * ends and sizes. Run statements are checked for their clauses (each at most
 * once, with values of the right kind and unit) and for the model objects they
 * name, with shapes: `E.r[0:10]` must lie within E.
 */
#include "check.h"
#include "lex.h"
#include "tensor.h"
#include "torch_map.h"
#include "sample.h"
#include "xalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- environment --------------------------------------------------------- */

void env_init(Env *e) { memset(e, 0, sizeof *e); }

void env_fini(Env *e)
{
    for (int i = 0; i < e->n; i++)
        free(e->v[i]);
    free(e->v);
    memset(e, 0, sizeof *e);
}

EnvMark env_mark(const Env *e) { return (EnvMark){ e->n }; }

void env_rollback(Env *e, EnvMark m)
{
    while (e->n > m.n) {
        Decl *d = e->v[--e->n];
        if (d->replaced)
            d->replaced->dead = false;
        free(d);
    }
}

Decl *env_lookup(const Env *e, Name name)
{
    for (int i = e->n - 1; i >= 0; i--)
        if (e->v[i]->name == name && !e->v[i]->dead)
            return e->v[i];
    return NULL;
}

const char *decl_kind_word(DeclKind k)
{
    static const char *const words[D_KIND_COUNT] = {
        [D_LET] = "let", [D_NEURON] = "neuron", [D_CELL] = "cell", [D_PLASTICITY] = "plasticity rule",
        [D_POPULATION] = "population", [D_INPUT] = "input", [D_OUTPUT] = "output",
        [D_SYNAPSE] = "synapse", [D_COST] = "cost", [D_TASK] = "task", [D_DATA] = "data set",
        [D_EXTERN] = "extern function",
    };
    return k < D_KIND_COUNT ? words[k] : "declaration";
}

const char *decl_kind_phrase(DeclKind k)
{
    static const char *const phrases[D_KIND_COUNT] = {
        [D_LET] = "a let", [D_NEURON] = "a neuron", [D_CELL] = "a cell", [D_PLASTICITY] = "a plasticity rule",
        [D_POPULATION] = "a population", [D_INPUT] = "an input", [D_OUTPUT] = "an output",
        [D_SYNAPSE] = "a synapse", [D_COST] = "a cost", [D_TASK] = "a task", [D_DATA] = "a data set",
        [D_EXTERN] = "an extern function",
    };
    return k < D_KIND_COUNT ? phrases[k] : "a declaration";
}

static Decl *env_add(Checker *c, DeclKind kind, Name name, Node *node)
{
    Env *e = c->env;
    Decl *d = xcalloc(1, sizeof *d);
    d->kind = kind;
    d->name = name;
    d->node = node;
    Decl *old = env_lookup(e, name);
    if (old) {
        old->dead = true;
        d->replaced = old;
        if (c->notice) {
            int line, col;
            span_linecol(old->node->span, &line, &col);
            char msg[256];
            if (old->kind == kind)
                snprintf(msg, sizeof msg, "%s '%s' replaces the one declared at %s:%d", decl_kind_word(kind), name,
                         old->node->span.file ? old->node->span.file->name : "?", line);
            else
                snprintf(msg, sizeof msg, "%s '%s' replaces the %s '%s' declared at %s:%d", decl_kind_word(kind), name,
                         decl_kind_word(old->kind), name, old->node->span.file ? old->node->span.file->name : "?", line);
            c->notice(c->notice_self, msg);
        }
    }
    if (e->n == e->cap) {
        e->cap = e->cap ? 2 * e->cap : 32;
        e->v = xrealloc(e->v, (size_t)e->cap * sizeof *e->v);
    }
    e->v[e->n++] = d;
    return d;
}

const char *check_closest(const Checker *c, Name name, unsigned kinds)
{
    const Env *e = c->env;
    const char **names = xmalloc((size_t)(e->n + 128) * sizeof *names);
    int n = 0;
    for (int i = 0; i < e->n; i++)
        if (!e->v[i]->dead && (!kinds || (kinds & (1u << e->v[i]->kind))))
            names[n++] = e->v[i]->name;
    if (!kinds || (kinds & (1u << D_EXTERN)))
        for (int i = 0; builtin_at(i) && n < e->n + 128; i++)
            names[n++] = builtin_at(i)->name;
    const char *near = diag_closest(name, names, n);
    free(names);
    return near;
}

static void remember_failed(Checker *c, const Node *st)
{
    static const int kinds[AST_KIND_COUNT] = {   /* DeclKind + 1; 0: not kept */
        [AST_LET] = D_LET + 1, [AST_NEURON] = D_NEURON + 1, [AST_CELL] = D_CELL + 1,
        [AST_PLASTICITY] = D_PLASTICITY + 1, [AST_POPULATION] = D_POPULATION + 1, [AST_SYNAPSE] = D_SYNAPSE + 1,
    };
    if (!st->name || !kinds[st->kind])
        return;
    struct FailedDecl *f = &c->failed[c->nfailed++ % CHECK_FAILED_KEPT];
    int col;
    f->name = st->name;
    f->kind = (DeclKind)(kinds[st->kind] - 1);
    f->dropped = false;
    span_linecol(st->span, &f->line, &col);
    snprintf(f->file, sizeof f->file, "%s", st->span.file ? st->span.file->name : "");
}

/* The kept record of a failed declaration of name, or NULL. */
static const struct FailedDecl *failed_decl(const Checker *c, Name name)
{
    int kept = c->nfailed < CHECK_FAILED_KEPT ? c->nfailed : CHECK_FAILED_KEPT;
    for (int k = 1; k <= kept; k++) {
        const struct FailedDecl *f = &c->failed[(c->nfailed - k) % CHECK_FAILED_KEPT];
        if (f->name == name)
            return f;
    }
    return NULL;
}

/* A use of `name` at `at`, where nothing of that name is declared: if its
 * declaration (of one of `kinds`, a bit set of 1 << DeclKind) had errors, says
 * so, so that one mistake is not reported again as an unknown name; in the
 * REPL, where the failed entry was rolled back, the name is unknown and the
 * message says why. Returns whether it reported. */
static bool report_failed_use(Checker *c, Span at, Name name, unsigned kinds)
{
    const struct FailedDecl *failed = failed_decl(c, name);
    if (!failed || !(kinds & (1u << failed->kind)))
        return false;
    const char *kind = failed->kind == D_NEURON ? "neuron model" : decl_kind_word(failed->kind);
    const SourceFile *here = at.file;
    char where[160];
    if (failed->file[0] && (!here || strcmp(here->name, failed->file) != 0))
        snprintf(where, sizeof where, "%s:%d", failed->file, failed->line);
    else
        snprintf(where, sizeof where, "line %d", failed->line);
    if (failed->dropped)
        diag_error(c->diags, at, "unknown %s '%s': its declaration (%s) had errors and was not kept", kind, name, where);
    else
        diag_error(c->diags, at, "%s '%s' cannot be used: its declaration (%s) has errors", kind, name, where);
    return true;
}

/* ---- constants ----------------------------------------------------------- */

static int lookup_let(void *self, Name name, const Node *at, Value *out, Diags *d)
{
    Checker *c = self;
    Decl *decl = env_lookup(c->env, name);
    const struct FailedDecl *failed = decl ? NULL : failed_decl(c, name);
    if (failed && failed->kind == D_LET && !failed->dropped) {
        c->met_failed = true;   /* its own errors were reported */
        return LOOKUP_FAILED;
    }
    if (!decl)
        return LOOKUP_ABSENT;
    if (decl->kind == D_LET) {
        *out = decl->value;
        return LOOKUP_FOUND;
    }
    diag_error(d, at->span, "'%s' is %s, not a constant", name, decl_kind_phrase(decl->kind));
    return LOOKUP_FAILED;
}

static const char *closest_name(void *self, Name name) { return check_closest(self, name, 0); }

bool check_eval(Checker *c, const Node *e, Value *out)
{
    EvalScope s = { lookup_let, c, c->arena, closest_name };
    int before = c->diags->errors;
    c->met_failed = false;
    bool ok = value_eval(&s, e, out, c->diags);
    if (!ok && c->diags->errors == before && !c->met_failed)
        diag_error(c->diags, e->span, "this is not a constant");
    return ok;
}

double check_number(const Env *env, const Node *e)
{
    Diags quiet;
    diags_init(&quiet);
    Arena a;
    arena_init(&a);
    Checker c = { .env = (Env *)env, .arena = &a, .diags = &quiet };
    Value v = { 0 };
    bool ok = check_eval(&c, e, &v);
    arena_fini(&a);
    diags_fini(&quiet);
    return ok && v.kind == V_NUM ? v.num : NAN;
}

/* Evaluates without reporting: for deciding whether an expression is constant. */
static bool try_eval(Checker *c, const Node *e, Value *out)
{
    Diags quiet;
    diags_init(&quiet);
    Diags *real = c->diags;
    c->diags = &quiet;
    bool ok = check_eval(c, e, out);
    c->diags = real;
    diags_fini(&quiet);
    return ok;
}

static bool eval_count(Checker *c, const Node *e, const char *what, int64_t *out)
{
    Value v;
    return check_eval(c, e, &v) && value_as_count(&v, e, what, out, c->diags);
}

/* A value of the given dimension (a duration, a rate); `positive` excludes 0. */
static bool eval_quantity(Checker *c, const Node *e, Dim want, const char *what, bool positive, double *out)
{
    Value v;
    if (!check_eval(c, e, &v))
        return false;
    if (v.kind == V_NUM && e->kind == AST_NUMBER && v.num == 0)
        v.dim = want;   /* a literal 0 fits any unit; the sign check below still applies */
    if (v.kind != V_NUM || !units_eq(v.dim, want)) {
        char got[96], need[96];
        value_describe(&v, got, sizeof got);
        units_describe(want, NULL, need, sizeof need);
        diag_error(c->diags, e->span, "%s must be %s, not %s", what, need, got);
        bool steps_ok = strcmp(what, "the duration") == 0 || strcmp(what, "the recording interval") == 0;
        if (v.kind == V_NUM && units_is_none(v.dim) && units_eq(want, units_time()))
            diag_hint(c->diags, steps_ok ? "give the unit, as in %gms, or count steps, as in %g steps" : "give the unit, as in %gms",
                      v.num, v.num);
        return false;
    }
    if (!isfinite(v.num) && !isnan(v.num)) {
        char buf[64];
        value_format(&v, buf, sizeof buf);
        diag_error(c->diags, e->span, "%s is not finite: %s", what, buf);
        return false;
    }
    if (positive ? !(v.num > 0) : !(v.num >= 0)) {
        char buf[64];
        value_format(&v, buf, sizeof buf);
        diag_error(c->diags, e->span, "%s must be %s, not %s", what, positive ? "positive" : "zero or more", buf);
        return false;
    }
    if (out)
        *out = v.num;
    return true;
}

/* ---- model expressions --------------------------------------------------- */

typedef enum ExprPlace { IN_PRINT, IN_RECORD, IN_PLOT, IN_COST, IN_SAVE, IN_ANALYSIS, IN_INPUT } ExprPlace;

/* What a top-level expression denotes: a constant, or a tensor of the model. */
typedef struct ExprType {
    bool constant;
    Value value;
    int rank;            /* 0: scalar; for a population variable 1: [n] (in print [trial, n]: as_printed); a weight 2: [post, pre] */
    int64_t dim[4];      /* -1 where unknown */
    bool time_series;    /* recorded over time */
    int lead;            /* in print: leading axes of trials (and time) before the neurons */
} ExprType;

static const char *place_word(ExprPlace p)
{
    switch (p) {
    case IN_PRINT: return "print";
    case IN_RECORD: return "record";
    case IN_PLOT: return "plot";
    case IN_COST: return "a cost";
    case IN_SAVE: return "save";
    case IN_ANALYSIS: return "this analysis";
    case IN_INPUT: return "an input";
    }
    return "here";
}

static bool check_expr(Checker *c, const Node *e, ExprPlace place, ExprType *t);

static bool is_model_var(const Decl *pop, Name member, int64_t *size)
{
    const ModelInfo *info = pop->model ? pop->model->info : NULL;
    *size = pop->size;
    if (!info)
        return false;
    for (int i = 0; i < info->nvars; i++)
        if (info->vars[i].name == member)
            return true;
    for (int i = 0; i < info->nparams; i++)
        if (info->params[i].name == member)
            return true;
    return member == intern_cstr("in") || (info->spiking && member == intern_cstr("spikes"));
}

/* L.f.W_in: a cell's affine weights, named after the variable they define. */
static bool check_cell_param(Checker *c, const Node *e, ExprType *t)
{
    const Node *var = e->a;
    Decl *d = env_lookup(c->env, var->a->name);
    if (!d || d->kind != D_POPULATION || d->model->kind != D_CELL) {
        diag_error(c->diags, e->span, "only a cell population's parameters have three-part names, as in L.f.W_in");
        return false;
    }
    const ModelInfo *info = d->model->info;
    bool known = false;
    for (int i = 0; i < info->nvars; i++)
        known |= info->vars[i].name == var->name;
    bool affine = e->name[0] == 'b' || (e->name[0] == 'W' && e->name[1] == '_');
    if (!known || !affine) {
        diag_error(c->diags, e->name_span, "%s has no parameter '%s.%s'; a cell's weights are VAR.W_ARG and its biases VAR.b",
                   d->name, var->name, e->name);
        return false;
    }
    *t = (ExprType){ .rank = 2, .dim = { -1, -1, -1, -1 } };
    return true;
}

static bool check_member(Checker *c, const Node *e, ExprPlace place, ExprType *t)
{
    if (e->a->kind == AST_MEMBER && e->a->a->kind == AST_NAME)
        return check_cell_param(c, e, t);
    if (e->a->kind != AST_NAME) {
        diag_error(c->diags, e->span, "expected a population or synapse before '.%s'", e->name);
        return false;
    }
    Decl *d = env_lookup(c->env, e->a->name);
    if (!d && report_failed_use(c, e->a->span, e->a->name, 1u << D_POPULATION | 1u << D_SYNAPSE))
        return false;
    if (!d) {
        const char *near = check_closest(c, e->a->name, 1u << D_POPULATION | 1u << D_SYNAPSE);
        if (near)
            diag_error(c->diags, e->a->span, "unknown name '%s'; did you mean '%s'?", e->a->name, near);
        else
            diag_error(c->diags, e->a->span, "unknown name '%s'", e->a->name);
        return false;
    }
    *t = (ExprType){ .rank = 1, .dim = { -1, -1, -1, -1 } };
    if (d->kind == D_POPULATION) {
        int64_t size;
        if (!is_model_var(d, e->name, &size)) {
            const ModelInfo *info = d->model->info;
            const char *names[128];
            int n = 0;
            for (int i = 0; i < info->nvars && n < 120; i++)
                names[n++] = info->vars[i].name;
            for (int i = 0; i < info->nparams && n < 127; i++)
                names[n++] = info->params[i].name;
            const char *near = diag_closest(e->name, names, n);
            if (near)
                diag_error(c->diags, e->name_span, "population %s has no '%s'; did you mean '%s'?", d->name, e->name, near);
            else
                diag_error(c->diags, e->name_span, "population %s (a %s) has no '%s'", d->name, d->model->name, e->name);
            return false;
        }
        t->dim[0] = size;
        return true;
    }
    if (d->kind == D_SYNAPSE) {
        Name w = intern_cstr("w"), m = intern_cstr("m"), n = intern_cstr("n");
        bool ok = d->rank ? (e->name == m || e->name == n || e->name == w) : e->name == w;
        if (!ok) {
            diag_error(c->diags, e->name_span, "synapse %s has %s, not '%s'", d->name,
                       d->rank ? "factors m and n (and their product w)" : "weights w", e->name);
            return false;
        }
        t->rank = 2;
        t->dim[0] = d->post->size;
        t->dim[1] = e->name == w ? d->pre->size : d->rank;
        if (e->name == n) {
            t->dim[0] = d->pre->size;
        }
        if (d->one_to_one)
            t->rank = 1;   /* w[i] joins pre i to post i */
        return true;
    }
    if (d->kind == D_INPUT || d->kind == D_OUTPUT) {
        diag_error(c->diags, e->name_span, "%s '%s' has no members; use %s itself", decl_kind_word(d->kind), d->name, d->name);
        return false;
    }
    diag_error(c->diags, e->a->span, "'%s' is %s and has no members", d->name, decl_kind_phrase(d->kind));
    (void)place;
    return false;
}

static bool check_index(Checker *c, const Node *e, ExprPlace place, ExprType *t)
{
    if (!check_expr(c, e->a, place, t))
        return false;
    if (t->constant) {
        Value v;
        if (!check_eval(c, e, &v))
            return false;
        *t = (ExprType){ .constant = true, .value = v };
        return true;
    }
    if (place == IN_PRINT && t->lead && e->list.n > t->rank && t->rank < 4) {
        /* a recording has a time axis before the trials: E.r[t, b, i] */
        memmove(t->dim + 1, t->dim, (size_t)t->rank * sizeof *t->dim);
        t->dim[0] = -1;
        t->rank++;
        t->lead++;
    }
    if (e->list.n > t->rank) {
        diag_error(c->diags, e->span, "too many indices: this has %d dimension%s", t->rank, t->rank == 1 ? "" : "s");
        return false;
    }
    /* print indexes the trailing axes, as it runs (E.r[0:10] picks neurons of [trial, n]) */
    int first = place == IN_PRINT ? t->rank - e->list.n : 0;
    ExprType out = *t;
    int kept = 0;
    out.lead = 0;
    for (int i = 0; i < t->rank; i++) {
        int64_t n = t->dim[i];
        if (i < first || i >= first + e->list.n) {
            out.lead += i < t->lead;
            out.dim[kept++] = n;
            continue;
        }
        const Node *ix = e->list.v[i - first];
        if (ix->kind == AST_SLICE) {
            int64_t lo = 0, hi = n;
            Value v;
            if (ix->a) {
                if (!check_eval(c, ix->a, &v) || v.kind != V_NUM || v.num != floor(v.num)) {
                    diag_error(c->diags, ix->a->span, "a slice bound must be a whole number");
                    return false;
                }
                lo = (int64_t)v.num;
            }
            if (ix->b) {
                if (!check_eval(c, ix->b, &v) || v.kind != V_NUM || v.num != floor(v.num)) {
                    diag_error(c->diags, ix->b->span, "a slice bound must be a whole number");
                    return false;
                }
                hi = (int64_t)v.num;
            }
            if (lo >= hi) {
                diag_error(c->diags, ix->span, "slice %lld:%lld is empty; a slice lo:hi needs lo < hi", (long long)lo, (long long)hi);
                return false;
            }
            if (n >= 0 && (lo < 0 || hi > n)) {
                diag_error(c->diags, ix->span, "slice %lld:%lld is outside 0:%lld", (long long)lo, (long long)hi, (long long)n);
                return false;
            }
            out.lead += i < t->lead;
            out.dim[kept++] = hi - lo;
        } else {
            Value v;
            if (!check_eval(c, ix, &v) || v.kind != V_NUM || v.num != floor(v.num) || !units_is_none(v.dim)) {
                diag_error(c->diags, ix->span, "an index must be a whole number");
                return false;
            }
            if (n >= 0 && (v.num < 0 || v.num >= (double)n)) {
                diag_error(c->diags, ix->span, "index %g is outside 0..%lld (the size is %lld; indices start at 0)", v.num,
                           (long long)n - 1, (long long)n);
                return false;
            }
        }
    }
    out.rank = kept;
    *t = out;
    return true;
}

/* A model value as print reads it from the run: a population's variable, an
 * input or an output is [trial, n] now, or [time, trial, n] when recorded (one
 * leading axis of unknown size stands for either); a parameter is one value, or
 * one per neuron when drawn. Synapse weights are as the checker gave them. */
static void as_printed(const Checker *c, const Node *e, ExprType *t)
{
    const Node *owner = e->kind == AST_MEMBER ? e->a : e;
    Decl *d = owner->kind == AST_NAME ? env_lookup(c->env, owner->name) : NULL;
    if (!d || (d->kind != D_POPULATION && d->kind != D_INPUT && d->kind != D_OUTPUT))
        return;
    if (e->kind == AST_MEMBER && d->model && d->model->info) {
        const ModelInfo *info = d->model->info;
        for (int i = 0; i < info->nparams; i++)
            if (info->params[i].name == e->name) {
                *t = (ExprType){ .rank = 1, .dim = { -1, -1, -1, -1 } };
                return;
            }
    }
    int64_t n = t->dim[0];
    *t = (ExprType){ .rank = 2, .dim = { -1, n, -1, -1 }, .lead = 1 };
}

/* [?, 4] for messages: ? where the size is not known before the run. */
static const char *shape_text(const ExprType *t, char *buf, size_t n)
{
    size_t len = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < t->rank && len < n; i++) {
        if (t->dim[i] >= 0)
            len += (size_t)snprintf(buf + len, n - len, "%s%lld", i ? ", " : "", (long long)t->dim[i]);
        else
            len += (size_t)snprintf(buf + len, n - len, "%s?", i ? ", " : "");
    }
    if (len < n)
        snprintf(buf + len, n - len, "]");
    return buf;
}

/* The shape of a constant list: [1, 2] is [2], [[1, 2], [3, 4]] is [2, 2];
 * anything else (a number, a ragged list) keeps rank 0. */
static void list_shape(ExprType *t)
{
    const Value *v = &t->value;
    t->rank = 0;
    while (v->kind == V_LIST && t->rank < 4) {
        t->dim[t->rank++] = v->n;
        if (v->n == 0)
            break;
        v = &v->items[0];
    }
}

static bool check_expr(Checker *c, const Node *e, ExprPlace place, ExprType *t)
{
    *t = (ExprType){ .dim = { -1, -1, -1, -1 } };
    switch (e->kind) {
    case AST_NAME: {
        Decl *d = env_lookup(c->env, e->name);
        if (place == IN_COST && (e->name == intern_cstr("target") || e->name == intern_cstr("mask"))) {
            t->rank = 1;
            return true;
        }
        if (place == IN_PLOT && e->name == intern_cstr("loss")) {
            t->rank = 1;
            return true;
        }
        if (!d && !builtin_lookup(e->name) && report_failed_use(c, e->span, e->name, 1u << D_POPULATION | 1u << D_SYNAPSE))
            return false;
        if (!d && !builtin_lookup(e->name)) {
            /* a let whose own errors were reported is not reported again */
            const struct FailedDecl *failed = failed_decl(c, e->name);
            if (failed && failed->kind == D_LET && !failed->dropped)
                return false;
            /* the names this place adds come first among the guesses */
            const char *special[] = { "target", "mask" };
            const char *near = place == IN_COST ? diag_closest(e->name, special, 2)
                               : place == IN_PLOT ? diag_closest(e->name, (const char *[]){ "loss" }, 1)
                               : NULL;
            if (!near)
                near = check_closest(c, e->name, 0);
            if (near)
                diag_error(c->diags, e->span, "unknown name '%s'; did you mean '%s'?", e->name, near);
            else
                diag_error(c->diags, e->span, "unknown name '%s'", e->name);
            return false;
        }
        if (d && d->kind == D_SYNAPSE && place == IN_ANALYSIS) {
            /* eig J: a synapse stands for its weights, J.w */
            t->rank = 2;
            t->dim[0] = d->post->size;
            t->dim[1] = d->pre->size;
            return true;
        }
        if (!d || d->kind == D_LET) {
            Value v;
            if (!check_eval(c, e, &v))
                return false;
            *t = (ExprType){ .constant = true, .value = v };
            return true;
        }
        switch (d->kind) {
        case D_POPULATION:
        case D_INPUT:
        case D_OUTPUT:
            t->rank = 1;
            t->dim[0] = d->size;
            if (place == IN_PRINT)
                as_printed(c, e, t);
            return true;
        case D_COST:
            t->rank = 0;
            return true;
        default:
            diag_error(c->diags, e->span, "'%s' is %s; %s needs a population, a synapse's weights or a value",
                       e->name, decl_kind_phrase(d->kind), place_word(place));
            if (d->kind == D_SYNAPSE)
                diag_hint(c->diags, "a synapse's weights are %s.w", d->name);
            return false;
        }
    }
    case AST_MEMBER:
        if (!check_member(c, e, place, t))
            return false;
        if (place == IN_PRINT)
            as_printed(c, e, t);
        return true;
    case AST_INDEX:
        return check_index(c, e, place, t);
    case AST_CALL: {
        if (e->a->kind == AST_NAME) {
            const Builtin *b = builtin_lookup(e->a->name);
            if (b && (b->kind == B_FUNC || b->kind == B_COST || (b->kind == B_SPECIAL && place == IN_PLOT))) {
                const Node *args[8];
                if (b->params.n > 8 || !builtin_bind(b->name, b->params, e, args, c->diags))
                    return false;
                bool constant = true;
                ExprType first = { 0 };
                for (int i = 0; i < b->params.n; i++) {
                    ExprType at;
                    if (!args[i])
                        continue;
                    if (!check_expr(c, args[i], place, &at))
                        return false;
                    constant = constant && at.constant;
                    if (i == 0)
                        first = at;
                }
                if (constant) {
                    Value v;
                    if (!check_eval(c, e, &v))
                        return false;
                    *t = (ExprType){ .constant = true, .value = v };
                    return true;
                }
                bool reduces = b->kind == B_COST || !strcmp(b->name, "sum") || !strcmp(b->name, "mean") ||
                               !strcmp(b->name, "l1") || !strcmp(b->name, "l2") ||
                               ((!strcmp(b->name, "max") || !strcmp(b->name, "min")) && !args[1]);
                *t = first;
                t->constant = false;
                if (reduces)
                    t->rank = t->lead = 0;
                return true;
            }
            if (b && b->kind != B_FUNC) {
                char msg[256];
                value_builtin_misuse(b, msg, sizeof msg);
                diag_error(c->diags, e->a->span, "%s", msg);
                return false;
            }
            if (!b && !env_lookup(c->env, e->a->name)) {
                /* msee(z, target) in a cost is a misspelt cost */
                const char *names[128];
                int n = 0;
                for (int i = 0; builtin_at(i) && n < 128; i++)
                    if (builtin_at(i)->kind == B_FUNC || (place == IN_COST && builtin_at(i)->kind == B_COST))
                        names[n++] = builtin_at(i)->name;
                const char *near = diag_closest(e->a->name, names, n);
                const Builtin *nb = near ? builtin_lookup(intern_cstr(near)) : NULL;
                const char *what = nb && nb->kind == B_COST ? "cost" : "function";
                if (near)
                    diag_error(c->diags, e->a->span, "unknown %s '%s'; did you mean '%s'?", what, e->a->name, near);
                else
                    diag_error(c->diags, e->a->span, "unknown function '%s'", e->a->name);
                return false;
            }
        }
        Value v;
        if (!check_eval(c, e, &v))
            return false;
        *t = (ExprType){ .constant = true, .value = v };
        return true;
    }
    case AST_UNARY:
    case AST_BINARY: {
        ExprType a, b = { .constant = true };
        if (!check_expr(c, e->a, place, &a) || (e->b && !check_expr(c, e->b, place, &b)))
            return false;
        if (a.constant && b.constant) {
            Value v;
            if (!check_eval(c, e, &v))
                return false;
            *t = (ExprType){ .constant = true, .value = v };
            return true;
        }
        if (place == IN_PRINT && a.constant != b.constant)   /* E.r + [1, 2] */
            list_shape(a.constant ? &a : &b);
        if (e->op == '@') {
            if (a.rank < 1 || b.rank < 1) {
                diag_error(c->diags, e->span, "'@' needs a matrix or a vector on each side");
                return false;
            }
            if (b.lead) {   /* E.r @ E.r: [trial, n] has trials, not neurons, first */
                char sa[64], sb[64];
                diag_error(c->diags, e->span, "cannot multiply %s by %s: %.*s, on the right of '@', starts with its trials, not its neurons (a model value is [trial, n], or [time, trial, n] when recorded)",
                           shape_text(&a, sa, sizeof sa), shape_text(&b, sb, sizeof sb), (int)e->b->span.len,
                           e->b->span.file->text + e->b->span.off);
                if (a.lead)   /* two model values: their product summed over neurons */
                    diag_hint(c->diags, "for the sum over neurons of a product, write sum(%.*s * %.*s)", (int)e->a->span.len,
                              e->a->span.file->text + e->a->span.off, (int)e->b->span.len, e->b->span.file->text + e->b->span.off);
                return false;
            }
            int64_t inner_a = a.dim[a.rank - 1], inner_b = b.dim[0];
            if (inner_a >= 0 && inner_b >= 0 && inner_a != inner_b) {
                char sa[64], sb[64];
                diag_error(c->diags, e->span, "cannot multiply %s by %s: %lld != %lld", shape_text(&a, sa, sizeof sa),
                           shape_text(&b, sb, sizeof sb), (long long)inner_a, (long long)inner_b);
                return false;
            }
            *t = a;
            t->rank = a.rank + b.rank - 2;
            if (b.rank == 2)
                t->dim[a.rank - 1] = b.dim[1];
            return true;
        }
        const ExprType *big = a.rank >= b.rank ? &a : &b, *small = a.rank >= b.rank ? &b : &a;
        for (int i = 0; i < small->rank; i++) {
            int64_t x = big->dim[big->rank - small->rank + i], y = small->dim[i];
            if (x >= 0 && y >= 0 && x != y && x != 1 && y != 1) {
                diag_error(c->diags, e->span, "sizes do not match: %lld and %lld", (long long)x, (long long)y);
                return false;
            }
        }
        *t = *big;
        t->constant = false;
        t->lead = a.lead > b.lead ? a.lead : b.lead;
        return true;
    }
    case AST_VS:
        if (place != IN_PLOT) {
            diag_error(c->diags, e->span, "'vs' belongs in plot");
            return false;
        }
        return check_expr(c, e->a, place, t) && check_expr(c, e->b, place, t);
    default: {
        Value v;
        if (!check_eval(c, e, &v))
            return false;
        *t = (ExprType){ .constant = true, .value = v };
        return true;
    }
    }
}

/* ---- clauses ------------------------------------------------------------- */

/* Reports a clause given twice. */
static bool clauses_once(Checker *c, const Node *st)
{
    bool ok = true;
    for (int i = 0; i < st->opts.n; i++)
        for (int j = 0; j < i; j++)
            if (st->opts.v[i]->name == st->opts.v[j]->name) {
                int line, col;
                span_linecol(st->opts.v[j]->span, &line, &col);
                diag_error(c->diags, st->opts.v[i]->span, "'%s' is given twice (first at %d:%d)", st->opts.v[i]->name, line, col);
                ok = false;
            }
    return ok;
}

/* A call to a built-in of the given kind, or a name of one: `adam(lr = 1e-3)`. */
static const Builtin *check_builtin_call(Checker *c, const Node *e, BuiltinKind kind, const Node **args)
{
    const Node *callee = e->kind == AST_CALL ? e->a : e;
    if (callee->kind != AST_NAME) {
        diag_error(c->diags, e->span, "expected %s %s, such as %s", ast_article(builtin_kind_word(kind)), builtin_kind_word(kind),
                   kind == B_OPT ? "adam(lr = 1e-3)" : kind == B_TASK ? "flipflop(bits = 3)" : "normal(0, 1)");
        return NULL;
    }
    const Builtin *b = builtin_lookup(callee->name);
    if (!b || b->kind != kind) {
        const char *names[128];
        int n = 0;
        for (int i = 0; builtin_at(i) && n < 128; i++)
            if (builtin_at(i)->kind == kind)
                names[n++] = builtin_at(i)->name;
        const char *near = diag_closest(callee->name, names, n);
        char list[512] = "";
        size_t len = 0;
        for (int i = 0; i < n && len < sizeof list - 32; i++)
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", names[i]);
        if (near)
            diag_error(c->diags, callee->span, "unknown %s '%s'; did you mean '%s'?", builtin_kind_word(kind), callee->name, near);
        else
            diag_error(c->diags, callee->span, "unknown %s '%s'; the %ss are %s", builtin_kind_word(kind), callee->name,
                       builtin_kind_word(kind), list);
        return NULL;
    }
    Node empty = { .kind = AST_CALL, .span = e->span };
    if (!builtin_bind(b->name, b->params, e->kind == AST_CALL ? e : &empty, args, c->diags))
        return NULL;
    for (int i = 0; i < b->params.n; i++) {
        Value v;
        if (b->params.v[i].name == intern_cstr("schedule") && args[i] &&
            (args[i]->kind == AST_CALL || args[i]->kind == AST_NAME))
            continue;   /* a call to a schedule, checked as one by check_optimizer */
        if (args[i] && !check_eval(c, args[i], &v))
            return NULL;
    }
    return b;
}

/* Value of a bound argument as a plain number (args come from builtin_bind). */
static bool arg_number(Checker *c, const Node *arg, double *out)
{
    Value v;
    if (!check_eval(c, arg, &v))
        return false;
    if (v.kind != V_NUM) {
        diag_error(c->diags, arg->span, "expected a number");
        return false;
    }
    *out = v.num;
    return true;
}

static bool check_optimizer(Checker *c, const Node *e)
{
    const Node *args[16];
    const Builtin *b = check_builtin_call(c, e, B_OPT, args);
    if (!b)
        return false;
    for (int i = 0; i < b->params.n; i++) {
        Name p = b->params.v[i].name;
        if (p == intern_cstr("schedule")) {
            if (args[i]->kind == AST_CALL || args[i]->kind == AST_NAME) {
                const Node *sargs[8];
                const Builtin *sb = check_builtin_call(c, args[i], B_SCHED, sargs);
                if (!sb)
                    return false;
                for (int k = 0; k < sb->params.n; k++) {
                    double x;
                    if (!arg_number(c, sargs[k], &x))
                        return false;
                    if (x < 0) {
                        diag_error(c->diags, sargs[k]->span, "%s's '%s' must not be negative", sb->name, sb->params.v[k].name);
                        return false;
                    }
                }
            } else if (!(args[i]->kind == AST_NUMBER && args[i]->num == 0)) {   /* 0: none */
                diag_error(c->diags, args[i]->span, "schedule takes a learning-rate schedule, such as cosine(warmup = 100)");
                return false;
            }
            continue;
        }
        double x;
        if (!arg_number(c, args[i], &x))
            return false;
        if (p == intern_cstr("lr") && !(x > 0)) {
            diag_error(c->diags, args[i]->span, "the learning rate must be positive, not %g", x);
            return false;
        }
        if (x < 0) {
            diag_error(c->diags, args[i]->span, "%s must not be negative", p);
            return false;
        }
    }
    return true;
}

/* `train on X`, `evaluate on X`: a declared task or data set, or a task call. */
static bool check_task_ref(Checker *c, const Node *e)
{
    if (e->kind == AST_NAME) {
        Decl *d = env_lookup(c->env, e->name);
        if (d && (d->kind == D_TASK || d->kind == D_DATA))
            return true;
        if (d) {
            diag_error(c->diags, e->span, "'%s' is %s; train and evaluate need a task or a data set", e->name,
                       decl_kind_phrase(d->kind));
            return false;
        }
    }
    const Node *args[16];
    return check_builtin_call(c, e, B_TASK, args) != NULL;
}

/* ---- declarations -------------------------------------------------------- */

/* The -D for name: the last one given wins (-D N=1 -D N=2 sets N to 2), and
 * every -D of that name counts as used. */
static const Node *find_define(Checker *c, Name name)
{
    const Node *value = NULL;
    for (int i = 0; i < c->ndefines; i++)
        if (c->defines[i].name == name) {
            c->defines[i].used = true;
            value = c->defines[i].value;
        }
    return value;
}

/* let N = 128, or the -D that overrides it. A -D must give the same kind of
 * value, with the same unit, as the script's own. A rejected -D is reported and
 * the let is declared with the script's value, so its uses do not cascade. */
static bool check_let(Checker *c, Node *st)
{
    const Node *over = find_define(c, st->name);
    Value v;
    if (!st->a) {
        /* the parser reported its value and dropped it */
        remember_failed(c, st);
        return false;
    }
    if (!over) {
        if (!check_eval(c, st->a, &v)) {
            remember_failed(c, st);
            return false;
        }
        env_add(c, D_LET, st->name, st)->value = v;
        return true;
    }
    Value in_file;
    bool file_ok = check_eval(c, st->a, &in_file);
    int before = c->diags->errors;
    bool ok = check_eval(c, over, &v);
    if (ok && file_ok && (v.kind != in_file.kind || (v.kind == V_NUM && !units_eq(in_file.dim, v.dim)))) {
        char want[96], got[96];
        value_describe(&in_file, want, sizeof want);
        value_describe(&v, got, sizeof got);
        diag_error(c->diags, over->span, "-D %s gives %s, but the script's %s is %s", st->name, got, st->name, want);
        ok = false;
    }
    if (!ok && c->diags->errors == before)
        diag_error(c->diags, over->span, "-D %s is not a value", st->name);
    if (!file_ok)
        return false;
    env_add(c, D_LET, st->name, st)->value = ok ? v : in_file;
    return ok;
}

void check_drop_failed(Checker *c, int since)
{
    if (c->nfailed - since > CHECK_FAILED_KEPT)
        since = c->nfailed - CHECK_FAILED_KEPT;
    for (int k = since; k < c->nfailed; k++)
        c->failed[k % CHECK_FAILED_KEPT].dropped = true;
}

static bool check_model_decl(Checker *c, Node *st)
{
    ModelInfo *info = check_model_body(c, st);
    if (!info) {
        remember_failed(c, st);
        return false;
    }
    DeclKind k = st->kind == AST_NEURON ? D_NEURON : st->kind == AST_CELL ? D_CELL : D_PLASTICITY;
    if (builtin_lookup(st->name) && builtin_lookup(st->name)->kind == B_FUNC) {
        diag_error(c->diags, st->name_span, "'%s' is a built-in function; choose another name", st->name);
        return false;
    }
    Decl *d = env_add(c, k, st->name, st);
    d->info = info;
    return true;
}

static const ModelInfo *model_info(const Decl *d) { return d ? d->info : NULL; }

static int find_param(const ModelInfo *info, Name name)
{
    for (int i = 0; i < info->nparams; i++)
        if (info->params[i].name == name)
            return i;
    return -1;
}

static int find_var(const ModelInfo *info, Name name)
{
    for (int i = 0; i < info->nvars; i++)
        if (info->vars[i].name == name)
            return i;
    return -1;
}

/* A parameter value given for a model parameter must match its default's unit. */
static bool check_param_value(Checker *c, const ModelInfo *info, int p, const Node *value, const char *model)
{
    Value v;
    if (!check_eval(c, value, &v))
        return false;
    const Node *def = info->params[p].def;
    Value dv;
    if (!def || !try_eval(c, def, &dv))
        return true;
    if (dv.kind == V_FUNC) {
        if (v.kind != V_FUNC) {
            diag_error(c->diags, value->span, "'%s' of %s is a function (such as %s), not a number", info->params[p].name, model, dv.str);
            return false;
        }
        const Builtin *b = builtin_lookup(intern_cstr(v.str));
        if (!b || b->params.n != 1) {
            diag_error(c->diags, value->span, "'%s' needs a function of one argument, such as tanh or relu", info->params[p].name);
            return false;
        }
        return true;
    }
    if (v.kind != V_NUM) {
        char got[96];
        value_describe(&v, got, sizeof got);
        diag_error(c->diags, value->span, "'%s' of %s needs a number, not %s", info->params[p].name, model, got);
        return false;
    }
    if (!units_eq(v.dim, dv.dim) && !(value->kind == AST_NUMBER && value->num == 0)) {
        char want[96], got[96];
        value_describe(&dv, want, sizeof want);
        value_describe(&v, got, sizeof got);
        diag_error(c->diags, value->span, "'%s' of %s is %s; got %s", info->params[p].name, model, want, got);
        return false;
    }
    return true;
}

/* `normal(0, g / sqrt(N))` for a quantity of unit `want`: a known distribution,
 * its arguments bound, each in the quantity's unit where the rule says so. */
static bool check_distribution(Checker *c, const Node *call, Dim want, const char *what)
{
    const Node *args[8];
    const Builtin *b = check_builtin_call(c, call, B_DIST, args);
    if (!b)
        return false;
    for (int i = 0; i < b->params.n; i++) {
        Value v;
        if (!check_eval(c, args[i], &v))
            return false;
        if (v.kind != V_NUM) {
            diag_error(c->diags, args[i]->span, "%s needs numbers", b->name);
            return false;
        }
        if (b->rule == U_SAME && !units_eq(v.dim, want) && v.num != 0) {
            char need[96], got[96];
            units_describe(want, NULL, need, sizeof need);
            value_describe(&v, got, sizeof got);
            diag_error(c->diags, args[i]->span, "%s is %s, so %s's '%s' must be too; got %s", what, need, b->name,
                       b->params.v[i].name, got);
            return false;
        }
        if (b->rule == U_ANY && !units_is_none(v.dim)) {
            char got[96];
            value_describe(&v, got, sizeof got);
            diag_error(c->diags, args[i]->span, "%s's '%s' needs a number without unit, not %s", b->name, b->params.v[i].name, got);
            return false;
        }
    }
    const char *p1 = b->params.n ? b->params.v[0].name : "";
    double x;
    if (!strcmp(b->name, "normal") && arg_number(c, args[1], &x) && x < 0) {
        diag_error(c->diags, args[1]->span, "the standard deviation must not be negative");
        return false;
    }
    if (!strcmp(b->name, "uniform")) {
        double lo, hi;
        if (arg_number(c, args[0], &lo) && arg_number(c, args[1], &hi) && lo > hi) {
            diag_error(c->diags, call->span, "uniform(lo, hi) needs lo <= hi");
            return false;
        }
    }
    if (!strcmp(b->name, "bernoulli") && arg_number(c, args[0], &x) && (x < 0 || x > 1)) {
        diag_error(c->diags, args[0]->span, "%s must lie in [0, 1], not %g", p1, x);
        return false;
    }
    return true;
}

/* The size of a cell's state `state h[n]` for this population, with the cell's
 * parameters bound as lets. A size that is a parameter given here is reported
 * at the argument; any other at the cell, with a note at the population. */
static bool cell_size(Checker *c, const Decl *model, const Node **bound, const VarInfo *var, const Node *pop, int64_t *out)
{
    const ModelInfo *info = model->info;
    const Node *e = var->size;
    char what[160];
    snprintf(what, sizeof what, "the size of %s's state %s (%.*s)", model->name, var->name, (int)(e->span.len > 40 ? 40 : e->span.len),
             e->span.file ? e->span.file->text + e->span.off : "?");
    int p = e->kind == AST_NAME ? find_param(info, e->name) : -1;
    if (p >= 0 && bound[p] && bound[p] != info->params[p].def)
        return eval_count(c, bound[p], what, out);
    int before = c->diags->errors;
    if (eval_count(c, e, what, out))
        return true;
    if (c->diags->errors > before)
        diag_note(c->diags, pop->a->span, "in population %s, declared here", pop->name);
    return false;
}

/* A parameter that multiplies a derivative (tau in tau * dx/dt) divides the
 * equation's right side, so a value of 0 written for it is an error where it is
 * written: the argument `tau = 0ms` or the `{ tau = 0ms }` item. */
static bool check_coefficients(Checker *c, const Decl *model, const Node *st, const Node **bound)
{
    const ModelInfo *info = model->info;
    bool ok = true;
    for (int i = 0; i < info->nvars; i++) {
        const VarInfo *v = &info->vars[i];
        if (v->kind != VAR_ODE || !v->eq || v->eq->a->kind != AST_BINARY || v->eq->a->op != '*')
            continue;
        const Node *lhs = v->eq->a;
        const Node *coef = lhs->a->kind == AST_DERIV ? lhs->b : lhs->a;
        int p = coef->kind == AST_NAME ? find_param(info, coef->name) : -1;
        if (p < 0)
            continue;
        const Node *value = bound[p];
        for (int k = 0; k < st->body.n; k++) {
            const Node *item = st->body.v[k];
            if (item->kind == AST_DRAW && item->a->name == coef->name)
                value = NULL;   /* per neuron: the run checks what it draws */
            if (item->kind == AST_EQUATION && item->a->kind == AST_NAME && item->a->name == coef->name)
                value = item->b;
        }
        Value x;
        if (!value || value == info->params[p].def || !try_eval(c, value, &x) || x.kind != V_NUM || x.num != 0)
            continue;
        diag_error(c->diags, value->span, "%s cannot be 0: it multiplies d%s/dt in %s, and the equation divides by it",
                   coef->name, v->name, model->name);
        diag_note(c->diags, v->eq->span, "%s's equation for %s", model->name, v->name);
        ok = false;
    }
    return ok;
}

static bool check_population(Checker *c, Node *st)
{
    const Node *call = st->a;
    if (call->kind != AST_CALL || call->a->kind != AST_NAME) {
        diag_error(c->diags, call->span, "expected a neuron or cell model with its size, as in Rate(100)");
        return false;
    }
    Decl *model = env_lookup(c->env, call->a->name);
    if (!model && report_failed_use(c, call->a->span, call->a->name, 1u << D_NEURON | 1u << D_CELL))
        return false;
    if (!model || (model->kind != D_NEURON && model->kind != D_CELL)) {
        const char *near = check_closest(c, call->a->name, 1u << D_NEURON | 1u << D_CELL);
        if (model)
            diag_error(c->diags, call->a->span, "'%s' is %s, not a neuron or cell model", call->a->name, decl_kind_phrase(model->kind));
        else if (near)
            diag_error(c->diags, call->a->span, "unknown neuron model '%s'; did you mean '%s'?", call->a->name, near);
        else
            diag_error(c->diags, call->a->span, "unknown neuron model '%s'", call->a->name);
        return false;
    }
    const ModelInfo *info = model_info(model);
    const Node **bound = arena_alloc(c->arena, (size_t)(info->nparams + 1) * sizeof *bound);
    int64_t size = 0, *state_size = NULL;
    bool ok = true;
    if (model->kind == D_NEURON) {
        /* Rate(800, tau = 5ms): the size first, then the neuron's parameters. */
        if (call->list.n == 0 || call->list.v[0]->kind == AST_ARG) {
            diag_error(c->diags, call->span, "a population needs its size first, as in %s(100)", model->name);
            return false;
        }
        if (!eval_count(c, call->list.v[0], "a population size", &size))
            return false;
        Node rest = *call;
        rest.list.v = call->list.v + 1;
        rest.list.n = call->list.n - 1;
        int positional = 0;
        for (int i = 0; i < rest.list.n && rest.list.v[i]->kind != AST_ARG; i++)
            positional++;
        if (positional > info->nparams) {
            char names[256] = "";
            size_t len = 0;
            for (int i = 0; i < info->nparams && len < sizeof names - 40; i++)
                len += (size_t)snprintf(names + len, sizeof names - len, "%s%s", i ? ", " : "", info->params[i].name);
            if (info->nparams)
                diag_error(c->diags, rest.list.v[info->nparams]->span, "too many arguments: %s takes the size and %d parameter%s (%s)",
                           model->name, info->nparams, info->nparams == 1 ? "" : "s", names);
            else
                diag_error(c->diags, rest.list.v[0]->span, "too many arguments: %s takes only the size", model->name);
            return false;
        }
        ParamList pl = { info->params, info->nparams, false };
        if (!builtin_bind(model->name, pl, &rest, bound, c->diags))
            return false;
        if (st->list.n) {
            diag_error(c->diags, st->list.v[0]->span, "'from' wires the inputs of a cell; connect neurons with a synapse");
            return false;
        }
    } else {
        ParamList pl = { info->params, info->nparams, false };
        if (!builtin_bind(model->name, pl, call, bound, c->diags))
            return false;
    }
    for (int i = 0; i < info->nparams; i++)
        if (bound[i] && bound[i] != info->params[i].def)
            ok = check_param_value(c, info, i, bound[i], model->name) && ok;
    if (!ok)
        return false;

    if (model->kind == D_CELL) {
        /* The size is that of the `out` state, evaluated with the cell's arguments. */
        int v = find_var(info, info->out);
        const Node *size_expr = v >= 0 ? info->vars[v].size : NULL;
        if (!size_expr) {
            diag_error(c->diags, call->span, "cell %s's output '%s' needs a size, as in state %s[n]", model->name,
                       info->out ? info->out : "?", info->out ? info->out : "h");
            return false;
        }
        /* Bind the cell's parameters as lets while evaluating its sizes. */
        EnvMark m = env_mark(c->env);
        void (*notice)(void *, const char *) = c->notice;
        c->notice = NULL;
        for (int i = 0; i < info->nparams; i++) {
            Value pv;
            if (bound[i] && try_eval(c, bound[i], &pv)) {
                Decl *d = env_add(c, D_LET, info->params[i].name, st);
                d->value = pv;
            }
        }
        state_size = arena_alloc(c->arena, (size_t)(info->nvars + 1) * sizeof *state_size);
        for (int i = 0; ok && i < info->nvars; i++) {
            int64_t n = 0;
            state_size[i] = 0;
            if (!info->vars[i].size)
                continue;
            if (!cell_size(c, model, bound, &info->vars[i], st, &n))
                ok = false;
            state_size[i] = n;
            if (info->vars[i].name == info->out)
                size = n;
        }
        env_rollback(c->env, m);
        c->notice = notice;
        if (!ok)
            return false;
        for (int i = 0; i < st->list.n; i++) {
            Decl *src = env_lookup(c->env, st->list.v[i]->name);
            if (!src || (src->kind != D_INPUT && src->kind != D_POPULATION)) {
                const char *near = check_closest(c, st->list.v[i]->name, 1u << D_INPUT | 1u << D_POPULATION);
                if (src)
                    diag_error(c->diags, st->list.v[i]->span, "a cell reads inputs or populations; '%s' is %s",
                               src->name, decl_kind_phrase(src->kind));
                else if (near)
                    diag_error(c->diags, st->list.v[i]->span, "unknown source '%s'; did you mean '%s'?", st->list.v[i]->name, near);
                else
                    diag_error(c->diags, st->list.v[i]->span, "unknown source '%s'", st->list.v[i]->name);
                return false;
            }
            if (src->name == st->name) {
                diag_error(c->diags, st->list.v[i]->span, "a cell cannot read itself through 'from'; its state is already an input to its gates");
                return false;
            }
        }
    }

    /* { init x ~ normal(0, 1); tau ~ uniform(5ms, 20ms); tau = 5ms } */
    for (int i = 0; i < st->body.n; i++) {
        const Node *item = st->body.v[i];
        const Node *target = NULL, *value = NULL;
        bool init = item->kind == AST_INIT, draw = false;
        const Node *inner = init ? item->a : item;
        if (inner->kind == AST_DRAW || inner->kind == AST_EQUATION) {
            target = inner->a;
            value = inner->b;
            draw = inner->kind == AST_DRAW;
        } else {
            diag_error(c->diags, item->span, "a population's { } holds 'init x ~ ...', 'init x = ...' or parameter values such as tau = 5ms");
            ok = false;
            continue;
        }
        if (target->kind != AST_NAME) {
            diag_error(c->diags, target->span, "expected a name");
            ok = false;
            continue;
        }
        int v = find_var(info, target->name), p = find_param(info, target->name);
        Dim want = units_none();
        if (init) {
            if (v < 0 || info->vars[v].kind == VAR_ALIAS || info->vars[v].kind == VAR_GATE) {
                diag_error(c->diags, target->span, "%s has no state variable '%s' to initialise", model->name, target->name);
                ok = false;
                continue;
            }
            want = info->vars[v].dim;
        } else {
            if (p < 0) {
                const char *names[64];
                for (int k = 0; k < info->nparams && k < 64; k++)
                    names[k] = info->params[k].name;
                const char *near = diag_closest(target->name, names, info->nparams < 64 ? info->nparams : 64);
                if (v >= 0)
                    diag_error(c->diags, target->span, "'%s' is a state variable of %s: set its start with init %s %s ...",
                               target->name, model->name, target->name, draw ? "~" : "=");
                else if (near)
                    diag_error(c->diags, target->span, "%s has no parameter '%s'; did you mean '%s'?", model->name, target->name, near);
                else
                    diag_error(c->diags, target->span, "%s has no parameter '%s'", model->name, target->name);
                ok = false;
                continue;
            }
            want = info->param_dims[p];
        }
        if (draw) {
            char what[96];
            snprintf(what, sizeof what, "%s", target->name);
            ok = check_distribution(c, value, want, what) && ok;
        } else if (!init) {
            ok = check_param_value(c, info, p, value, model->name) && ok;
        } else {
            Value iv;
            if (!check_eval(c, value, &iv)) {
                ok = false;
            } else if (iv.kind != V_NUM || (!units_eq(iv.dim, want) && iv.num != 0)) {
                char need[96], got[96];
                units_describe(want, NULL, need, sizeof need);
                value_describe(&iv, got, sizeof got);
                diag_error(c->diags, value->span, "'%s' is %s; got %s", target->name, need, got);
                ok = false;
            }
        }
    }
    if (ok && model->kind == D_NEURON)
        ok = check_coefficients(c, model, st, bound);
    if (!ok)
        return false;
    Decl *d = env_add(c, D_POPULATION, st->name, st);
    d->size = size;
    d->model = model;
    d->args = bound;
    d->state_size = state_size;
    return true;
}

static bool check_port(Checker *c, Node *st)
{
    int64_t size = 1;
    if (st->a && !eval_count(c, st->a, st->kind == AST_INPUT ? "an input size" : "an output size", &size))
        return false;
    Decl *d = env_add(c, st->kind == AST_INPUT ? D_INPUT : D_OUTPUT, st->name, st);
    d->size = size;
    return true;
}

/* The unit a population's output carries, and the unit its `in` (or target) takes. */
static Dim output_dim(const Decl *d)
{
    if (d->kind != D_POPULATION || !d->model->info || !d->model->info->out)
        return units_none();
    int v = find_var(d->model->info, d->model->info->out);
    return v >= 0 ? d->model->info->vars[v].dim : units_none();
}

static Dim input_dim(const Decl *d, Name target)
{
    if (d->kind != D_POPULATION || !d->model->info)
        return units_none();
    if (!target)
        return d->model->info->in_dim;
    int v = find_var(d->model->info, target);
    return v >= 0 ? d->model->info->vars[v].dim : units_none();
}

static Decl *synapse_end(Checker *c, const Node *e, bool post, Name *target)
{
    const Node *name = e->kind == AST_MEMBER ? e->a : e;
    *target = NULL;
    Decl *d = env_lookup(c->env, name->name);
    unsigned ok_kinds = post ? (1u << D_POPULATION | 1u << D_OUTPUT) : (1u << D_POPULATION | 1u << D_INPUT);
    if (!d && report_failed_use(c, name->span, name->name, 1u << D_POPULATION))
        return NULL;
    if (!d || !(ok_kinds & (1u << d->kind))) {
        const char *near = check_closest(c, name->name, ok_kinds);
        if (d && d->kind == D_INPUT && post)
            diag_error(c->diags, name->span, "a synapse cannot feed input '%s': inputs are driven by tasks and data", d->name);
        else if (d && d->kind == D_OUTPUT && !post)
            diag_error(c->diags, name->span, "output '%s' is read by costs, not by synapses; connect from a population", d->name);
        else if (d)
            diag_error(c->diags, name->span, "'%s' is %s, not a population", d->name, decl_kind_phrase(d->kind));
        else if (near)
            diag_error(c->diags, name->span, "unknown population '%s'; did you mean '%s'?", name->name, near);
        else
            diag_error(c->diags, name->span, "unknown population '%s'", name->name);
        return NULL;
    }
    if (e->kind == AST_MEMBER) {
        if (!post) {
            diag_error(c->diags, e->span, "the presynaptic side is a population; synapses read its output");
            return NULL;
        }
        if (d->kind != D_POPULATION || d->model->kind != D_NEURON) {
            diag_error(c->diags, e->span, "only a neuron population has named inputs");
            return NULL;
        }
        const ModelInfo *info = d->model->info;
        int v = find_var(info, e->name);
        if (e->name != intern_cstr("in") && (v < 0 || info->vars[v].kind == VAR_ALIAS || info->vars[v].kind == VAR_GATE)) {
            diag_error(c->diags, e->name_span, "%s has no state variable '%s' for a synapse to feed", d->name, e->name);
            return NULL;
        }
        *target = e->name == intern_cstr("in") ? NULL : e->name;
    }
    if (post && d->kind == D_POPULATION && d->model->kind == D_CELL) {
        diag_error(c->diags, name->span, "cell population '%s' takes its inputs with 'from' in its declaration", d->name);
        return NULL;
    }
    if (!post && d->kind == D_POPULATION && d->model->info && !d->model->info->out && !d->model->info->spiking) {
        diag_error(c->diags, name->span, "%s (a %s) has no output for a synapse to read: give it r = ... or out v",
                   d->name, d->model->name);
        return NULL;
    }
    return d;
}

static Name synapse_default_name(Checker *c, const Decl *pre, const Decl *post)
{
    char base[256];
    snprintf(base, sizeof base, "%s_to_%s", pre->name, post->name);
    Name name = intern_cstr(base);
    if (!env_lookup(c->env, name))
        return name;
    for (int k = 2;; k++) {
        char buf[300];
        snprintf(buf, sizeof buf, "%s_%d", base, k);
        name = intern_cstr(buf);
        if (!env_lookup(c->env, name))
            return name;
    }
}

static bool check_plastic(Checker *c, const Node *item, const Decl *pre, const Decl *post, Dim w_dim, Name target)
{
    const Node *call = item->a;
    const Node *callee = call->kind == AST_CALL ? call->a : call;
    if (callee->kind != AST_NAME) {
        diag_error(c->diags, call->span, "expected a plasticity rule, as in plastic oja(eta = 1e-3)");
        return false;
    }
    Decl *rule = env_lookup(c->env, callee->name);
    if (!rule && report_failed_use(c, callee->span, callee->name, 1u << D_PLASTICITY))
        return false;
    if (!rule || rule->kind != D_PLASTICITY) {
        const char *near = check_closest(c, callee->name, 1u << D_PLASTICITY);
        if (rule)
            diag_error(c->diags, callee->span, "'%s' is %s, not a plasticity rule", callee->name, decl_kind_phrase(rule->kind));
        else if (near)
            diag_error(c->diags, callee->span, "unknown plasticity rule '%s'; did you mean '%s'?", callee->name, near);
        else
            diag_error(c->diags, callee->span, "unknown plasticity rule '%s'", callee->name);
        return false;
    }
    const ModelInfo *info = rule->info;
    const Node **args = arena_alloc(c->arena, (size_t)(info->nparams + 1) * sizeof *args);
    Node empty = { .kind = AST_CALL, .span = call->span };
    ParamList pl = { info->params, info->nparams, false };
    if (!builtin_bind(rule->name, pl, call->kind == AST_CALL ? call : &empty, args, c->diags))
        return false;
    for (int i = 0; i < info->nparams; i++) {
        Value v;
        if (!check_eval(c, args[i], &v))
            return false;
    }
    if (item->b) {
        int64_t k;
        if (!eval_count(c, item->b, "'every'", &k))
            return false;
    }
    Dim pre_dim = output_dim(pre), post_dim = post->kind == D_POPULATION ? output_dim(post) : units_none();
    (void)target;
    return check_rule_units(c, rule, args, pre_dim, post_dim, w_dim, call->span);
}

static void format_bytes(double bytes, char *buf, size_t n)
{
    if (bytes >= 1e12)
        snprintf(buf, n, "%.1f TB", bytes / 1e12);
    else
        snprintf(buf, n, "%.1f GB", bytes / 1e9);
}

static bool check_synapse(Checker *c, Node *st)
{
    Name target = NULL, ignored = NULL;
    Decl *pre = synapse_end(c, st->a, false, &ignored);
    Decl *post = pre ? synapse_end(c, st->b, true, &target) : NULL;
    if (!pre || !post)
        return false;
    int64_t rank = 0;
    if (st->c) {
        if (!eval_count(c, st->c, "the rank", &rank))
            return false;
        int64_t limit = pre->size < post->size ? pre->size : post->size;
        if (rank > limit) {
            diag_error(c->diags, st->c->span, "rank %lld is above the smaller side of %s -> %s (%lld)", (long long)rank,
                       pre->name, post->name, (long long)limit);
            return false;
        }
    }
    /* w has unit(post in) / unit(pre output) (DESIGN.md section 1). */
    Dim w_dim;
    Dim post_in = input_dim(post, target);
    Name syn_name = st->name ? st->name : synapse_default_name(c, pre, post);
    char post_text[300];
    snprintf(post_text, sizeof post_text, "%s%s%s", post->name, target ? "." : "", target ? target : "");
    units_div(post_in, output_dim(pre), &w_dim);
    bool ok = true, has_sign = false, has_p = false, one_to_one = false, has_w = false;
    for (int i = 0; i < st->body.n; i++) {
        const Node *item = st->body.v[i];
        switch (item->kind) {
        case AST_DRAW:
        case AST_EQUATION: {
            const Node *t = item->a;
            if (t->kind != AST_NAME) {
                diag_error(c->diags, t->span, "expected w, m, n or p");
                ok = false;
                break;
            }
            Name w = intern_cstr("w"), m = intern_cstr("m"), n = intern_cstr("n"), p = intern_cstr("p");
            if (t->name == p) {
                if (item->kind == AST_DRAW) {
                    diag_error(c->diags, item->span, "p is a probability: write p = 0.1");
                    ok = false;
                    break;
                }
                Value v;
                if (!check_eval(c, item->b, &v)) {
                    ok = false;
                    break;
                }
                if (v.kind != V_NUM || !units_is_none(v.dim)) {
                    char got[96];
                    value_describe(&v, got, sizeof got);
                    diag_error(c->diags, item->b->span, "the connection probability p is a number in [0, 1], not %s", got);
                    ok = false;
                    break;
                }
                if (!(v.num >= 0 && v.num <= 1)) {
                    diag_error(c->diags, item->b->span, "the connection probability p must lie in [0, 1]");
                    ok = false;
                    break;
                }
                has_p = true;
                if (rank) {
                    diag_error(c->diags, item->span, "a low-rank synapse is dense by construction; p does not apply");
                    ok = false;
                }
                break;
            }
            bool lr = t->name == m || t->name == n;
            if ((lr && !rank) || (t->name == w && rank) || (!lr && t->name != w)) {
                diag_error(c->diags, t->span, rank ? "a low-rank synapse has factors m and n: write m ~ ... and n ~ ..."
                                                   : "a synapse's weights are w; write w ~ normal(0, 1) or w = 0.5");
                ok = false;
                break;
            }
            has_w = true;
            char what[300];
            snprintf(what, sizeof what, "%s.%s", syn_name, t->name);
            if (item->kind == AST_DRAW) {
                ok = check_distribution(c, item->b, lr ? units_none() : w_dim, what) && ok;
            } else {
                Value v;
                if (!check_eval(c, item->b, &v)) {
                    ok = false;
                } else if (v.kind != V_NUM || (!lr && !units_eq(v.dim, w_dim) && v.num != 0)) {
                    char need[96], got[96];
                    units_describe(w_dim, NULL, need, sizeof need);
                    value_describe(&v, got, sizeof got);
                    diag_error(c->diags, item->b->span, "the weight w of %s -> %s is %s; got %s", pre->name, post_text, need, got);
                    if (target)
                        diag_hint(c->diags, "w has the unit of the variable it feeds (%s) divided by the pre population's output", post_text);
                    else
                        diag_hint(c->diags, "w has the unit of the post population's input divided by the pre population's output");
                    ok = false;
                }
            }
            break;
        }
        case AST_SIGN:
            if (has_sign) {
                diag_error(c->diags, item->span, "the sign is given twice");
                ok = false;
            }
            has_sign = true;
            break;
        case AST_FLAG:
            if (item->name == intern_cstr("no_self") && pre != post) {
                diag_error(c->diags, item->span, "no_self removes self-connections, which only a synapse from a population to itself has");
                ok = false;
            }
            if (item->name == intern_cstr("one_to_one")) {
                one_to_one = true;
                if (pre->size != post->size) {
                    diag_error(c->diags, item->span, "one_to_one needs equal sizes; %s has %lld and %s has %lld", pre->name,
                               (long long)pre->size, post->name, (long long)post->size);
                    ok = false;
                }
            }
            break;
        case AST_PLASTIC:
            ok = check_plastic(c, item, pre, post, w_dim, target) && ok;
            break;
        default:
            diag_error(c->diags, item->span, "a synapse's { } holds w ~ ..., w = ..., p = ..., sign +/-, no_self, one_to_one, learn or plastic RULE");
            ok = false;
        }
    }
    if (one_to_one && (has_p || rank)) {
        diag_error(c->diags, st->span, "one_to_one cannot combine with p or lowrank");
        ok = false;
    }
    (void)has_w;
    if (!ok)
        return false;
    /* Weights that cannot fit are refused here, so a REPL entry that declares
     * them is rolled back instead of failing every later run. */
    double count = rank ? (double)(pre->size + post->size) * (double)rank
                 : one_to_one ? (double)post->size : (double)pre->size * (double)post->size;
    double bytes = count * (double)sizeof(real);
    if (bytes > (double)tensor_max_bytes) {
        char need[32], limit[32];
        format_bytes(bytes, need, sizeof need);
        format_bytes((double)tensor_max_bytes, limit, sizeof limit);
        if (rank)
            diag_error(c->diags, st->span, "the factors %s.m and %s.n need %s, more than the limit of %s", syn_name, syn_name, need, limit);
        else
            diag_error(c->diags, st->span, "%s.w of [%lld, %lld] needs %s, more than the limit of %s", syn_name,
                       (long long)post->size, (long long)(one_to_one ? 1 : pre->size), need, limit);
        diag_hint(c->diags, "a sparse synapse (p = 0.01) stores only its connections; lowrank(k) stores k columns");
        return false;
    }
    Decl *d = env_add(c, D_SYNAPSE, syn_name, st);
    d->pre = pre;
    d->post = post;
    d->target = target;
    d->rank = rank;
    d->w_dim = w_dim;
    d->one_to_one = one_to_one;
    return true;
}

static bool check_cost(Checker *c, Node *st)
{
    ExprType t;
    if (!check_expr(c, st->a, IN_COST, &t))
        return false;
    if (t.constant) {
        diag_error(c->diags, st->a->span, "a cost must depend on the model (an output, a population or a weight)");
        return false;
    }
    if (t.rank != 0) {
        diag_error(c->diags, st->a->span, "a cost must be a single number: use mse(...), mean(...), l2(...) or sum(...)");
        return false;
    }
    for (int i = 0; i < st->opts.n; i++) {
        const Node *w = st->opts.v[i];
        if (w->name == intern_cstr("during")) {
            if (w->a->kind != AST_LIST || w->a->list.n != 2) {
                diag_error(c->diags, w->a->span, "'during' takes a time window, as in during [500ms, 1s]");
                return false;
            }
            double t0, t1;
            if (!eval_quantity(c, w->a->list.v[0], units_time(), "the window's start", false, &t0) ||
                !eval_quantity(c, w->a->list.v[1], units_time(), "the window's end", true, &t1))
                return false;
            if (t1 <= t0) {
                diag_error(c->diags, w->a->span, "the window must end after it starts");
                return false;
            }
        } else if (w->name == intern_cstr("where")) {
            ExprType m;
            if (!check_expr(c, w->a, IN_COST, &m))
                return false;
        }
    }
    env_add(c, D_COST, st->name, st);
    return true;
}

static bool check_task(Checker *c, Node *st)
{
    const Node *args[16];
    if (!check_builtin_call(c, st->a, B_TASK, args))
        return false;
    env_add(c, D_TASK, st->name, st);
    return true;
}

static bool check_data(Checker *c, Node *st)
{
    const Node *args[16];
    const Builtin *b = check_builtin_call(c, st->a, B_READER, args);
    if (!b || !clauses_once(c, st))
        return false;
    for (int i = 0; i < b->params.n; i++) {
        Value v;
        check_eval(c, args[i], &v);
        bool path = b->params.v[i].name == intern_cstr("path") || b->params.v[i].name == intern_cstr("images") ||
                    b->params.v[i].name == intern_cstr("labels");
        if (path && v.kind != V_STR) {
            diag_error(c->diags, args[i]->span, "%s's '%s' is a file name in quotes", b->name, b->params.v[i].name);
            return false;
        }
    }
    for (int i = 0; i < st->opts.n; i++) {
        const Node *o = st->opts.v[i];
        double x;
        if (o->name == intern_cstr("split")) {
            Value v;
            if (!check_eval(c, o->a, &v) || v.kind != V_NUM || !(v.num > 0 && v.num < 1)) {
                diag_error(c->diags, o->a->span, "split is the training fraction, between 0 and 1 (such as 0.9)");
                return false;
            }
        } else if (o->name == intern_cstr("scale")) {
            if (!arg_number(c, o->a, &x))
                return false;
        } else if (o->name == intern_cstr("limit")) {
            Value v;
            if (!check_eval(c, o->a, &v) || v.kind != V_NUM || !(v.num >= 1 && v.num <= 9e15) || v.num != floor(v.num)) {
                diag_error(c->diags, o->a->span, "limit is how many examples to read, a whole number of 1 or more (such as 1000)");
                return false;
            }
        } else if (o->name == intern_cstr("as")) {
            if (o->a->name != intern_cstr("rows") && o->a->name != intern_cstr("pixels") && o->a->name != intern_cstr("sequence")) {
                diag_error(c->diags, o->a->span, "'as' takes rows (one image row a step), pixels (one pixel a step) or sequence");
                return false;
            }
        }
    }
    env_add(c, D_DATA, st->name, st);
    return true;
}

/* ---- run statements ------------------------------------------------------ */

static bool check_record_target(Checker *c, const Node *e)
{
    ExprType t;
    if (!check_expr(c, e, IN_RECORD, &t))
        return false;
    if (t.constant) {
        diag_error(c->diags, e->span, "record takes model variables, such as E.r or J.w");
        return false;
    }
    return true;
}

static bool check_simulate(Checker *c, Node *st)
{
    if (!clauses_once(c, st))
        return false;
    bool ok = true;
    Node *dur = ast_clause(st, intern_cstr("for"));
    if (!dur) {
        diag_error(c->diags, st->span, "simulate needs a duration: simulate for 1s (or for 500 steps)");
        return false;
    }
    for (int i = 0; i < st->opts.n; i++) {
        const Node *o = st->opts.v[i];
        const char *w = o->name;
        if (!strcmp(w, "for")) {
            if (o->op) {
                int64_t n;
                ok = eval_count(c, o->a, "a number of steps", &n) && ok;
            } else {
                ok = eval_quantity(c, o->a, units_time(), "the duration", true, NULL) && ok;
            }
        } else if (!strcmp(w, "dt")) {
            ok = eval_quantity(c, o->a, units_time(), "dt", true, NULL) && ok;
        } else if (!strcmp(w, "method")) {
            const Builtin *b = builtin_lookup(o->a->name);
            if (!b || b->kind != B_METHOD) {
                diag_error(c->diags, o->a->span, "unknown method '%s'; the methods are euler, rk4 and exponential", o->a->name);
                ok = false;
            }
        } else if (!strcmp(w, "record")) {
            for (int k = 0; k < o->list.n; k++)
                ok = check_record_target(c, o->list.v[k]) && ok;
        } else if (!strcmp(w, "every")) {
            if (!ast_clause(st, intern_cstr("record"))) {
                diag_error(c->diags, o->span, "'every' sets how often to record; add record ...");
                ok = false;
            } else if (o->op) {
                int64_t n;
                ok = eval_count(c, o->a, "a number of steps", &n) && ok;
            } else {
                ok = eval_quantity(c, o->a, units_time(), "the recording interval", true, NULL) && ok;
            }
        } else if (!strcmp(w, "batch")) {
            int64_t n;
            ok = eval_count(c, o->a, "the batch", &n) && ok;
        } else if (!strcmp(w, "with")) {
            for (int k = 0; k < o->list.n; k++) {
                const Node *b = o->list.v[k];
                if (b->kind != AST_ARG) {
                    diag_error(c->diags, b->span, "'with' binds inputs: with u = sin(2 * pi * 5Hz * t)");
                    ok = false;
                    continue;
                }
                Decl *in = env_lookup(c->env, b->name);
                if (!in || in->kind != D_INPUT) {
                    const char *near = check_closest(c, b->name, 1u << D_INPUT);
                    if (near)
                        diag_error(c->diags, b->name_span, "unknown input '%s'; did you mean '%s'?", b->name, near);
                    else
                        diag_error(c->diags, b->name_span, "'%s' is not an input; declare it with input %s[n]", b->name, b->name);
                    ok = false;
                    continue;
                }
                const Node *first = NULL;
                for (int j = 0; j < k && !first; j++)
                    if (o->list.v[j]->kind == AST_ARG && o->list.v[j]->name == b->name)
                        first = o->list.v[j];
                if (first) {
                    int line, col;
                    span_linecol(first->name_span, &line, &col);
                    diag_error(c->diags, b->name_span, "input '%s' is bound twice (first at %d:%d); bind it once", b->name, line, col);
                    ok = false;
                    continue;
                }
                /* `with u = series` reads a data set; anything else is an expression of time */
                Decl *src = b->a->kind == AST_NAME ? env_lookup(c->env, b->a->name) : NULL;
                if (!src || src->kind != D_DATA)
                    ok = check_binding_units(c, b->a, b->name) && ok;
            }
        }
    }
    return ok;
}

static bool check_train(Checker *c, Node *st)
{
    if (!clauses_once(c, st))
        return false;
    bool ok = true;
    if (!ast_clause(st, intern_cstr("on"))) {
        diag_error(c->diags, st->span, "train needs a task: train on flipflop(bits = 3) with adam(lr = 1e-3) steps 1000");
        return false;
    }
    for (int i = 0; i < st->opts.n; i++) {
        const Node *o = st->opts.v[i];
        const char *w = o->name;
        int64_t n;
        if (!strcmp(w, "on"))
            ok = check_task_ref(c, o->a) && ok;
        else if (!strcmp(w, "with"))
            ok = check_optimizer(c, o->a) && ok;
        else if (!strcmp(w, "batch") || !strcmp(w, "steps") || !strcmp(w, "bptt") || !strcmp(w, "every") || !strcmp(w, "recompute"))
            ok = eval_count(c, o->a, w, &n) && ok;
        else if (!strcmp(w, "clip")) {
            double x;
            Value v;
            ok = check_eval(c, o->a, &v) && arg_number(c, o->a, &x) && ok;
            if (v.kind == V_NUM && !(v.num > 0)) {
                diag_error(c->diags, o->a->span, "clip must be positive");
                ok = false;
            }
        } else if (!strcmp(w, "by")) {
            const Builtin *b = builtin_lookup(o->a->name);
            if (!b || b->kind != B_CREDIT) {
                diag_error(c->diags, o->a->span, "unknown credit assignment '%s'; use backprop, feedback_alignment, node_perturbation or weight_perturbation", o->a->name);
                ok = false;
            }
        }
    }
    if (ast_clause(st, intern_cstr("every")) && !ast_clause(st, intern_cstr("checkpoint"))) {
        diag_error(c->diags, ast_clause(st, intern_cstr("every"))->span, "'every' sets how often to checkpoint; add checkpoint \"file.npz\"");
        ok = false;
    }
    return ok;
}

static bool check_evaluate(Checker *c, Node *st)
{
    if (!clauses_once(c, st))
        return false;
    Node *on = ast_clause(st, intern_cstr("on"));
    if (!on) {
        diag_error(c->diags, st->span, "evaluate needs a task: evaluate on flipflop(bits = 3)");
        return false;
    }
    int64_t n;
    Node *b = ast_clause(st, intern_cstr("batch"));
    return check_task_ref(c, on->a) && (!b || eval_count(c, b->a, "the batch", &n));
}

static bool check_analysis(Checker *c, Node *st)
{
    for (int i = 0; i < st->list.n; i++) {
        const Node *a = st->list.v[i];
        ExprType t;
        if (!check_expr(c, a->kind == AST_ARG ? a->a : a, IN_ANALYSIS, &t))
            return false;
    }
    return true;
}

static bool check_exprs(Checker *c, const NodeList *l, ExprPlace place)
{
    bool ok = true;
    for (int i = 0; i < l->n; i++) {
        ExprType t;
        ok = check_expr(c, l->v[i], place, &t) && ok;
    }
    return ok;
}

static bool check_extern(Checker *c, Node *st)
{
    if (!st->text[0]) {
        diag_error(c->diags, st->span, "extern needs the library's file name, as in extern \"libm.so.6\" erf(x)");
        return false;
    }
    for (int i = 0; i < st->list.n; i++)
        if (st->list.v[i]->a) {
            diag_error(c->diags, st->list.v[i]->span, "an extern function's parameters have no defaults");
            return false;
        }
    env_add(c, D_EXTERN, st->name, st);
    return true;
}

static bool check_one(Checker *c, Node *st)
{
    int errors = c->diags->errors;
    switch (st->kind) {
    case AST_LET:
        return check_let(c, st);
    case AST_SEED: {
        Value v;
        if (!check_eval(c, st->a, &v))
            return false;
        if (v.kind != V_NUM || !units_is_none(v.dim) || v.num < 0 || v.num != floor(v.num) || v.num > 18446744073709551615.0) {
            diag_error(c->diags, st->a->span, "a seed is a whole number of zero or more");
            return false;
        }
        return true;
    }
    case AST_IMPORT:
        if (!c->import) {
            diag_error(c->diags, st->span, "import is not available here");
            return false;
        }
        return c->import(c->import_self, c, st);
    case AST_EXTERN:
        return check_extern(c, st);
    case AST_NEURON:
    case AST_CELL:
    case AST_PLASTICITY:
        return check_model_decl(c, st);
    case AST_POPULATION:
        if (check_population(c, st))
            return true;
        remember_failed(c, st);
        return false;
    case AST_INPUT:
    case AST_OUTPUT:
        return check_port(c, st);
    case AST_SYNAPSE:
        if (check_synapse(c, st))
            return true;
        remember_failed(c, st);
        return false;
    case AST_COST:
        return check_cost(c, st);
    case AST_TASK:
        return check_task(c, st);
    case AST_DATA:
        return check_data(c, st);
    case AST_SIMULATE:
        return check_simulate(c, st);
    case AST_TRAIN:
        return check_train(c, st);
    case AST_EVALUATE:
        return check_evaluate(c, st);
    case AST_PRINT:
        return check_exprs(c, &st->list, IN_PRINT);
    case AST_PLOT:
        return check_exprs(c, &st->list, IN_PLOT);
    case AST_RASTER:
        for (int i = 0; i < st->list.n; i++) {
            const Node *e = st->list.v[i];
            Decl *d = e->kind == AST_NAME ? env_lookup(c->env, e->name) : NULL;
            if (!d || d->kind != D_POPULATION) {
                diag_error(c->diags, e->span, "raster takes populations, as in raster E");
                return false;
            }
        }
        return true;
    case AST_SAVE:
        return check_exprs(c, &st->list, IN_SAVE);
    case AST_LOAD:
        if (st->name) {
            const char *near = NULL;
            if (torch_map_known(st->name, &near))
                return true;
            if (near)
                diag_error(c->diags, st->name_span, "unknown weight mapping '%s'; did you mean '%s'?", st->name, near);
            else {
                char names[128];
                torch_map_names(names, sizeof names);
                diag_error(c->diags, st->name_span, "unknown weight mapping '%s': load ... as takes %s", st->name, names);
            }
            return false;
        }
        if (st->a) {
            ExprType t;
            return check_expr(c, st->a, IN_SAVE, &t);
        }
        return true;
    case AST_ANALYSIS:
        return check_analysis(c, st);
    case AST_SAMPLE:
        return sample_check(c, st);
    case AST_EXPR_STMT: {
        ExprType t;
        return check_expr(c, st->a, IN_PRINT, &t);
    }
    default:
        diag_error(c->diags, st->span, "%s cannot stand at the top level", ast_kind_phrase(st->kind));
        return false;
    }
    return c->diags->errors == errors;
}

static bool is_port(const Decl *d)
{
    return d->kind == D_POPULATION || d->kind == D_INPUT || d->kind == D_OUTPUT;
}

/* Does live declaration d read `old`: a synapse from or onto it, or a cell
 * population fed from it? */
static bool reads_decl(const Decl *d, const Decl *old)
{
    if (d->kind == D_SYNAPSE)
        return d->pre == old || d->post == old;
    if (d->kind == D_POPULATION && d->model && d->model->kind == D_CELL)
        for (int i = 0; i < d->node->list.n; i++)
            if (d->node->list.v[i]->name == old->name)
                return true;
    return false;
}

/* A population, input or output declared again (or replaced by another kind
 * of declaration): what reads it is checked again against the new one, so a
 * synapse takes the new sizes, and one that no longer fits (its side is now a
 * let, a one_to_one of unequal sizes) is an error here rather than a broken
 * model later. Re-checked declarations replace themselves in turn, and what
 * reads them is checked again too. */
static bool recheck_readers(Checker *c, const Decl *old, const Node *at, int depth)
{
    bool ok = true;
    void (*notice)(void *, const char *) = c->notice;
    c->notice = NULL;
    int before = c->env->n;   /* what the re-checks add reads the new one */
    for (int i = 0; i < before && ok; i++) {
        Decl *d = c->env->v[i];
        if (d->dead || !reads_decl(d, old))
            continue;
        int n0 = c->env->n, errors = c->diags->errors;
        ok = check_one(c, d->node) && c->diags->errors == errors;
        if (!ok) {
            int line, col;
            span_linecol(at->span, &line, &col);
            diag_note(c->diags, d->node->span, "%s %s reads %s, declared again at line %d", decl_kind_word(d->kind), d->name,
                      old->name, line);
        }
        for (int k = n0; k < c->env->n && ok && depth < 64; k++)
            if (c->env->v[k]->replaced && is_port(c->env->v[k]->replaced))
                ok = recheck_readers(c, c->env->v[k]->replaced, at, depth + 1);
    }
    c->notice = notice;
    return ok;
}

bool check_stmt(Checker *c, Node *st)
{
    int n0 = c->env->n;
    bool ok = check_one(c, st);
    for (int k = n0; k < c->env->n && ok; k++) {
        const Decl *d = c->env->v[k];
        if (d->replaced && is_port(d->replaced))
            ok = recheck_readers(c, d->replaced, st, 0);
    }
    return ok;
}
