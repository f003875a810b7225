/* optim.c: SGD, Adam, AdamW and RMSprop, learning-rate schedules, clipping by
 * global norm, and the optimizer's part of a checkpoint (see optim.h).
 *
 * Each update is PyTorch 1.13's single-tensor loop (torch/optim/sgd.py, adam.py,
 * adamw.py, rmsprop.py) transcribed one tensor op at a time, with its scalars
 * rounded to `real` where PyTorch's kernels round them, so that a run can be
 * set beside PyTorch's and agree bit for bit in double. The kernels' own
 * arithmetic, measured on Debian's PyTorch 1.13 (ATen/native/ufunc/add.h,
 * PointwiseOpsKernel.cpp):
 *
 *   x.add(y, alpha = a)        fma(a, y, x)            one rounding
 *   x.addcmul(y, z, value = c) fma(c * y, z, x)
 *   x.addcdiv(y, z, value = c) x + (c * y) / z
 *
 * so those three are written with fma() here; everything else is one IEEE
 * operation each: gcc with -std=c11 contracts nothing on its own, and clang is
 * told not to below. Bias corrections and step sizes are Python floats in PyTorch:
 * double here, whatever `real` is.
 *
 * Hyper-parameter names and defaults come from the OPT and SCHED rows of
 * builtins.def, parsed when an optimizer is made; the names optim.c reads are
 * checked against them (assert: a mismatch is a bug in cajal, and
 * test_optim.c makes every row once).
 */
#include "optim.h"
#include "tensor.h"
#include "xalloc.h"

#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#ifdef CAJAL_FLOAT
#define FMA fmaf
#define SQRT sqrtf
#else
#define FMA fma
#define SQRT sqrt
#endif

typedef enum { OPT_SGD, OPT_ADAM, OPT_ADAMW, OPT_RMSPROP, OPT_COUNT } OptKind;
typedef enum { SCHED_NONE, SCHED_STEP_DECAY, SCHED_COSINE, SCHED_WARMUP, SCHED_COUNT } SchedKind;

static const char *const opt_names[OPT_COUNT] = {
    [OPT_SGD] = "sgd", [OPT_ADAM] = "adam", [OPT_ADAMW] = "adamw", [OPT_RMSPROP] = "rmsprop",
};
static const char *const sched_names[SCHED_COUNT] = {
    [SCHED_NONE] = "none", [SCHED_STEP_DECAY] = "step_decay", [SCHED_COSINE] = "cosine",
    [SCHED_WARMUP] = "warmup",
};

/* The built-in table's rows, as text. */
static const struct Row {
    const char *kind, *name, *params;
} rows[] = {
#define BUILTIN(kind, name, params, rule, help) { #kind, #name, params },
#include "builtins.def"
#undef BUILTIN
};
enum { NROWS = sizeof rows / sizeof *rows };

/* One parameter of a row: "lr = 0.01" or "every". */
enum { MAX_SPEC = 8, SPEC_NAME = 32 };
typedef struct Spec {
    char name[SPEC_NAME];
    bool required;
    double def;
} Spec;

/* Parses "name = number, name, ..." into spec; returns the count. The text is
 * cajal's own, so anything else is a bug. */
static int spec_parse(const char *text, Spec *spec)
{
    int n = 0;
    const char *s = text;
    while (*s) {
        while (isspace((unsigned char)*s) || *s == ',')
            s++;
        if (!*s)
            break;
        assert(n < MAX_SPEC);
        Spec *p = &spec[n++];
        int len = 0;
        while (isalnum((unsigned char)*s) || *s == '_') {
            assert(len + 1 < SPEC_NAME);
            p->name[len++] = *s++;
        }
        p->name[len] = 0;
        assert(len > 0);
        while (isspace((unsigned char)*s))
            s++;
        p->required = *s != '=';
        p->def = 0;
        if (*s == '=') {
            char *end;
            p->def = strtod(s + 1, &end);
            assert(end != s + 1);
            s = end;
        }
        while (isspace((unsigned char)*s))
            s++;
        assert(*s == ',' || *s == 0);
    }
    return n;
}

static const struct Row *row_find(const char *kind, const char *name)
{
    for (int i = 0; i < NROWS; i++)
        if (strcmp(rows[i].kind, kind) == 0 && strcmp(rows[i].name, name) == 0)
            return &rows[i];
    return NULL;
}

/* "did you mean" among the rows of one kind. */
static const char *row_closest(const char *kind, const char *name)
{
    const char *cand[NROWS];
    int n = 0;
    for (int i = 0; i < NROWS; i++)
        if (strcmp(rows[i].kind, kind) == 0)
            cand[n++] = rows[i].name;
    return diag_closest(name, cand, n);
}

/* "sgd, adam, adamw, rmsprop": the rows of one kind, for a hint. */
static const char *row_list(const char *kind, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < NROWS; i++)
        if (strcmp(rows[i].kind, kind) == 0 && len < n)
            len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? ", " : "", rows[i].name);
    return buf;
}

/* A row's parameters with their values. */
typedef struct Bound {
    const char *callee;
    Spec spec[MAX_SPEC];
    double value[MAX_SPEC];
    bool given[MAX_SPEC];
    int n;
} Bound;

static int spec_index(const Bound *b, const char *name)
{
    for (int i = 0; i < b->n; i++)
        if (strcmp(b->spec[i].name, name) == 0)
            return i;
    return -1;
}

/* The value of a parameter optim.c relies on; builtins.def must have it. */
static double value_of(const Bound *b, const char *name)
{
    int i = spec_index(b, name);
    assert(i >= 0);
    return b->value[i];
}

static void bound_defaults(Bound *b, const char *callee, const char *params)
{
    b->callee = callee;
    b->n = spec_parse(params, b->spec);
    for (int i = 0; i < b->n; i++) {
        b->value[i] = b->spec[i].def;
        b->given[i] = false;
    }
}

static bool bound_missing(const Bound *b, Diags *d, Span at)
{
    bool ok = true;
    for (int i = 0; i < b->n; i++)
        if (b->spec[i].required && !b->given[i]) {
            diag_error(d, at, "%s needs a value for %s", b->callee, b->spec[i].name);
            ok = false;
        }
    return ok;
}

/* Value checks: each appends one error naming callee, parameter and value. */
static bool finite_or_error(const Bound *b, const char *name, Diags *d, Span at)
{
    double x = value_of(b, name);
    if (isfinite(x))
        return true;
    diag_error(d, at, "%s: %s must be a finite number, got %g", b->callee, name, x);
    return false;
}

static bool check_positive(const Bound *b, const char *name, Diags *d, Span at)
{
    if (!finite_or_error(b, name, d, at))
        return false;
    double x = value_of(b, name);
    if (x > 0)
        return true;
    diag_error(d, at, "%s: %s must be positive, got %g", b->callee, name, x);
    return false;
}

static bool check_nonnegative(const Bound *b, const char *name, Diags *d, Span at)
{
    if (!finite_or_error(b, name, d, at))
        return false;
    double x = value_of(b, name);
    if (x >= 0)
        return true;
    diag_error(d, at, "%s: %s must be at least 0, got %g", b->callee, name, x);
    return false;
}

static bool check_unit_open(const Bound *b, const char *name, Diags *d, Span at)
{
    if (!finite_or_error(b, name, d, at))
        return false;
    double x = value_of(b, name);
    if (x >= 0 && x < 1)
        return true;
    diag_error(d, at, "%s: %s must be in [0, 1), got %g", b->callee, name, x);
    return false;
}

static bool check_unit_closed(const Bound *b, const char *name, Diags *d, Span at)
{
    if (!finite_or_error(b, name, d, at))
        return false;
    double x = value_of(b, name);
    if (x >= 0 && x <= 1)
        return true;
    diag_error(d, at, "%s: %s must be in [0, 1], got %g", b->callee, name, x);
    return false;
}

/* A whole number of steps, at least `least`. */
static bool check_steps(const Bound *b, const char *name, double least, Diags *d, Span at)
{
    if (!finite_or_error(b, name, d, at))
        return false;
    double x = value_of(b, name);
    if (x >= least && x == floor(x) && x < 9e15)
        return true;
    diag_error(d, at, "%s: %s must be a whole number of steps, at least %g, got %g", b->callee, name,
               least, x);
    return false;
}

struct Optimizer {
    OptKind kind;
    double lr, momentum, beta1, beta2, alpha, eps, weight_decay;
    bool nesterov;

    SchedKind sched;
    double every, gamma, warmup, floor;   /* step_decay; cosine and warmup */
    int64_t total;

    int64_t step;                         /* updates made */

    /* Bound parameters, in order. */
    bool bound;
    int nparams;
    char **names;
    int64_t *n, *rows, *cols;
    real **m, **v, **b;                   /* per parameter; NULL when the kind keeps none */
    char **m_key, **v_key, **b_key;
};

static bool keeps_m(const Optimizer *o) { return o->kind == OPT_ADAM || o->kind == OPT_ADAMW; }
static bool keeps_v(const Optimizer *o) { return o->kind != OPT_SGD; }
static bool keeps_b(const Optimizer *o)
{
    return (o->kind == OPT_SGD || o->kind == OPT_RMSPROP) && o->momentum > 0;
}

/* Hyper-parameters: optimizer rows. */
static bool set_opt(Optimizer *o, const char *kind, const char *const *names, const double *values,
                    int nvalues, Diags *d, Span at)
{
    int k = 0;
    while (k < OPT_COUNT && strcmp(opt_names[k], kind) != 0)
        k++;
    const struct Row *row = k < OPT_COUNT ? row_find("OPT", kind) : NULL;
    if (!row) {
        const char *near = row_closest("OPT", kind);
        if (near)
            diag_error(d, at, "unknown optimizer '%s'; did you mean '%s'?", kind, near);
        else
            diag_error(d, at, "unknown optimizer '%s'", kind);
        char list[256];
        diag_hint(d, "the optimizers are %s", row_list("OPT", list, sizeof list));
        return false;
    }
    o->kind = (OptKind)k;

    Bound b;
    bound_defaults(&b, opt_names[k], row->params);
    bool ok = true;
    for (int i = 0; i < nvalues; i++) {
        int j = spec_index(&b, names[i]);
        if (j < 0) {
            const char *cand[MAX_SPEC];
            for (int q = 0; q < b.n; q++)
                cand[q] = b.spec[q].name;
            const char *near = diag_closest(names[i], cand, b.n);
            if (near)
                diag_error(d, at, "%s has no parameter '%s'; did you mean '%s'?", b.callee, names[i], near);
            else
                diag_error(d, at, "%s has no parameter '%s'", b.callee, names[i]);
            ok = false;
        } else if (b.given[j]) {
            diag_error(d, at, "%s: %s is given twice", b.callee, names[i]);
            ok = false;
        } else {
            b.given[j] = true;
            b.value[j] = values[i];
        }
    }
    if (!ok || !bound_missing(&b, d, at))
        return false;

    int js = spec_index(&b, "schedule");
    if (js >= 0 && b.value[js] != 0) {
        diag_error(d, at, "%s: schedule must be a schedule such as cosine(warmup = 100), got %g",
                   b.callee, b.value[js]);
        ok = false;
    }
    ok &= check_positive(&b, "lr", d, at);
    ok &= check_nonnegative(&b, "weight_decay", d, at);
    o->lr = value_of(&b, "lr");
    o->weight_decay = value_of(&b, "weight_decay");
    switch (o->kind) {
    case OPT_SGD: {
        ok &= check_nonnegative(&b, "momentum", d, at);
        double nest = value_of(&b, "nesterov");
        if (nest != 0 && nest != 1) {
            diag_error(d, at, "%s: nesterov must be 0 or 1, got %g", b.callee, nest);
            ok = false;
        } else if (nest == 1 && !(value_of(&b, "momentum") > 0)) {
            diag_error(d, at, "%s: nesterov needs a momentum above 0", b.callee);
            ok = false;
        }
        o->momentum = value_of(&b, "momentum");
        o->nesterov = nest == 1;
        break;
    }
    case OPT_ADAM:
    case OPT_ADAMW:
        ok &= check_unit_open(&b, "beta1", d, at);
        ok &= check_unit_open(&b, "beta2", d, at);
        ok &= check_positive(&b, "eps", d, at);
        o->beta1 = value_of(&b, "beta1");
        o->beta2 = value_of(&b, "beta2");
        o->eps = value_of(&b, "eps");
        break;
    case OPT_RMSPROP:
        ok &= check_unit_open(&b, "alpha", d, at);
        ok &= check_positive(&b, "eps", d, at);
        ok &= check_nonnegative(&b, "momentum", d, at);
        o->alpha = value_of(&b, "alpha");
        o->eps = value_of(&b, "eps");
        o->momentum = value_of(&b, "momentum");
        break;
    case OPT_COUNT:
        assert(0);
    }
    return ok;
}

/* Schedule rows; values are positional. */
static bool set_sched(Optimizer *o, const char *kind, const double *values, int nvalues,
                      int64_t total_steps, Diags *d, Span at)
{
    o->sched = SCHED_NONE;
    o->total = total_steps;
    if (!kind)
        return true;
    int k = 1;
    while (k < SCHED_COUNT && strcmp(sched_names[k], kind) != 0)
        k++;
    const struct Row *row = k < SCHED_COUNT ? row_find("SCHED", kind) : NULL;
    if (!row) {
        const char *near = row_closest("SCHED", kind);
        if (near)
            diag_error(d, at, "unknown learning-rate schedule '%s'; did you mean '%s'?", kind, near);
        else
            diag_error(d, at, "unknown learning-rate schedule '%s'", kind);
        char list[256];
        diag_hint(d, "the schedules are %s", row_list("SCHED", list, sizeof list));
        return false;
    }
    o->sched = (SchedKind)k;

    Bound b;
    bound_defaults(&b, sched_names[k], row->params);
    if (nvalues > b.n) {
        diag_error(d, at, "%s takes %d value%s, got %d", b.callee, b.n, b.n == 1 ? "" : "s", nvalues);
        return false;
    }
    for (int i = 0; i < nvalues; i++) {
        b.value[i] = values[i];
        b.given[i] = true;
    }
    if (!bound_missing(&b, d, at))
        return false;
    bool ok = true;
    switch (o->sched) {
    case SCHED_STEP_DECAY:
        ok &= check_steps(&b, "every", 1, d, at);
        ok &= check_positive(&b, "gamma", d, at);
        o->every = value_of(&b, "every");
        o->gamma = value_of(&b, "gamma");
        break;
    case SCHED_COSINE:
        ok &= check_steps(&b, "warmup", 0, d, at);
        ok &= check_unit_closed(&b, "floor", d, at);
        o->warmup = value_of(&b, "warmup");
        o->floor = value_of(&b, "floor");
        if (total_steps < 1) {
            diag_error(d, at, "cosine needs the run's length in steps, got %lld",
                       (long long)total_steps);
            ok = false;
        }
        break;
    case SCHED_WARMUP:
        ok &= check_steps(&b, "steps", 0, d, at);
        o->warmup = value_of(&b, "steps");
        break;
    case SCHED_NONE:
    case SCHED_COUNT:
        assert(0);
    }
    return ok;
}

Optimizer *optim_new(const char *kind, const char *const *names, const double *values, int nvalues,
                     const char *schedule_kind, const double *schedule_values, int nschedule,
                     int64_t total_steps, Diags *d, Span at)
{
    Optimizer *o = xcalloc(1, sizeof *o);
    bool ok = set_opt(o, kind, names, values, nvalues, d, at);
    ok &= set_sched(o, schedule_kind, schedule_values, nschedule, total_steps, d, at);
    if (!ok) {
        free(o);
        return NULL;
    }
    return o;
}

static double sched_factor(const Optimizer *o, int64_t k)
{
    const double pi = 3.14159265358979323846;   /* math.pi */
    double s = (double)k;
    switch (o->sched) {
    case SCHED_NONE:
        return 1;
    case SCHED_STEP_DECAY:
        return pow(o->gamma, floor(s / o->every));
    case SCHED_WARMUP:
        return s < o->warmup ? s / o->warmup : 1;
    case SCHED_COSINE: {
        if (s < o->warmup)
            return s / o->warmup;
        double span = (double)o->total - o->warmup;
        double p = (s - o->warmup) / (span > 1 ? span : 1);
        if (p > 1)
            p = 1;
        return o->floor + (1 - o->floor) * 0.5 * (1 + cos(pi * p));
    }
    case SCHED_COUNT:
        break;
    }
    assert(0);
    return 1;
}

double optim_lr(const Optimizer *o) { return o->lr * sched_factor(o, o->step); }
int64_t optim_steps(const Optimizer *o) { return o->step; }
const char *optim_kind(const Optimizer *o) { return opt_names[o->kind]; }

static char *key_new(const char *which, const char *name)
{
    size_t len = strlen("optim.") + strlen(which) + 1 + strlen(name) + 1;
    char *k = xmalloc(len);
    snprintf(k, len, "optim.%s.%s", which, name);
    return k;
}

/* Frees what bind allocated and marks the optimizer unbound. */
static void unbind(Optimizer *o)
{
    for (int i = 0; i < o->nparams; i++) {
        free(o->names[i]);
        tensor_free_real(o->m[i]);
        tensor_free_real(o->v[i]);
        tensor_free_real(o->b[i]);
        free(o->m_key[i]);
        free(o->v_key[i]);
        free(o->b_key[i]);
    }
    free(o->names);
    free(o->n);
    free(o->rows);
    free(o->cols);
    free(o->m);
    free(o->v);
    free(o->b);
    free(o->m_key);
    free(o->v_key);
    free(o->b_key);
    o->names = NULL;
    o->n = o->rows = o->cols = NULL;
    o->m = o->v = o->b = NULL;
    o->m_key = o->v_key = o->b_key = NULL;
    o->nparams = 0;
    o->bound = false;
}

static bool param_ok(const OptimParam *p, const OptimParam *all, int idx, Diags *d, Span at)
{
    if (!p->name || !*p->name) {
        diag_error(d, at, "learned parameter %d has no name", idx + 1);
        return false;
    }
    for (int j = 0; j < idx; j++)
        if (strcmp(all[j].name, p->name) == 0) {
            diag_error(d, at, "learned parameter '%s' is listed twice", p->name);
            return false;
        }
    bool vector = p->rows == 0 && p->cols == 0;
    if (p->n < 1 && vector) {
        diag_error(d, at, "learned parameter '%s' has no elements", p->name);
        return false;
    }
    if (p->n < 1 || (!vector && (p->rows < 1 || p->cols < 1 || p->rows > INT64_MAX / p->cols ||
                                 p->rows * p->cols != p->n))) {
        diag_error(d, at, "learned parameter '%s' has %lld elements, which do not make [%lld, %lld]",
                   p->name, (long long)p->n, (long long)p->rows, (long long)p->cols);
        return false;
    }
    if (p->no_self && (vector || p->rows != p->cols)) {
        diag_error(d, at, "no_self needs a square matrix, but '%s' is [%lld, %lld]", p->name,
                   (long long)(vector ? p->n : p->rows), (long long)(vector ? 1 : p->cols));
        return false;
    }
    return true;
}

static real *state_new(const OptimParam *p, Diags *d, Span at)
{
    if (p->n > tensor_max_bytes / (int64_t)sizeof(real)) {
        diag_error(d, at, "optimizer state for '%s' needs %lld bytes, more than cajal allocates",
                   p->name, (long long)p->n * (long long)sizeof(real));
        return NULL;
    }
    real *s = tensor_alloc_real(p->n);
    if (!s)
        diag_error(d, at, "out of memory for the optimizer state of '%s' (%lld bytes)", p->name,
                   (long long)p->n * (long long)sizeof(real));
    return s;
}

bool optim_bind(Optimizer *o, const OptimParam *params, int n, Diags *d, Span at)
{
    assert(!o->bound && n >= 0);
    bool ok = true;
    for (int i = 0; i < n; i++)
        ok &= param_ok(&params[i], params, i, d, at);
    if (!ok)
        return false;

    size_t np = (size_t)n;
    o->nparams = n;
    o->names = xcalloc(np, sizeof *o->names);
    o->n = xcalloc(np, sizeof *o->n);
    o->rows = xcalloc(np, sizeof *o->rows);
    o->cols = xcalloc(np, sizeof *o->cols);
    o->m = xcalloc(np, sizeof *o->m);
    o->v = xcalloc(np, sizeof *o->v);
    o->b = xcalloc(np, sizeof *o->b);
    o->m_key = xcalloc(np, sizeof *o->m_key);
    o->v_key = xcalloc(np, sizeof *o->v_key);
    o->b_key = xcalloc(np, sizeof *o->b_key);
    for (int i = 0; i < n && ok; i++) {
        const OptimParam *p = &params[i];
        o->names[i] = xstrdup(p->name);
        o->n[i] = p->n;
        o->rows[i] = p->rows;
        o->cols[i] = p->cols;
        if (keeps_m(o)) {
            o->m_key[i] = key_new("m", p->name);
            ok &= (o->m[i] = state_new(p, d, at)) != NULL;
        }
        if (keeps_v(o)) {
            o->v_key[i] = key_new("v", p->name);
            ok &= (o->v[i] = state_new(p, d, at)) != NULL;
        }
        if (keeps_b(o)) {
            o->b_key[i] = key_new("b", p->name);
            ok &= (o->b[i] = state_new(p, d, at)) != NULL;
        }
    }
    if (!ok) {
        unbind(o);
        return false;
    }
    o->bound = true;
    return true;
}

/* torch.optim.SGD, dampening 0:
 *   g' = g + wd w;  b = g' (first step) or mu b + g';  g' = nesterov ? g' + mu b : b;
 *   w = w - lr g'                                                         [n] each */
static void sgd_update(const Optimizer *o, double lr, real *w, const real *g, real *b, int64_t n)
{
    const real wd = (real)o->weight_decay, mu = (real)o->momentum, nlr = (real)-lr;
    const bool decay = o->weight_decay != 0, first = o->step == 0;
    for (int64_t k = 0; k < n; k++) {
        real dp = g[k];
        if (decay)
            dp = FMA(wd, w[k], dp);
        if (b) {
            b[k] = first ? dp : b[k] * mu + dp;
            dp = o->nesterov ? FMA(mu, b[k], dp) : b[k];
        }
        w[k] = FMA(nlr, dp, w[k]);
    }
}

/* torch.optim.Adam and AdamW, t = step + 1:
 *   adamw: w = w (1 - lr wd);   adam: g' = g + wd w
 *   m = b1 m + (1 - b1) g';  v = b2 v + (1 - b2) g'^2
 *   w = w - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)       [n] each */
static void adam_update(const Optimizer *o, double lr, real *w, const real *g, real *m, real *v,
                        int64_t n)
{
    const double t = (double)(o->step + 1);
    const double step_size = lr / (1 - pow(o->beta1, t));
    const real b1 = (real)o->beta1, c1 = (real)(1 - o->beta1);
    const real b2 = (real)o->beta2, c2 = (real)(1 - o->beta2);
    const real bc2 = (real)sqrt(1 - pow(o->beta2, t)), eps = (real)o->eps;
    const real nstep = (real)-step_size, wd = (real)o->weight_decay;
    const real shrink = (real)(1 - lr * o->weight_decay);
    const bool adamw = o->kind == OPT_ADAMW, decay = o->weight_decay != 0;
    for (int64_t k = 0; k < n; k++) {
        real gk = g[k];
        if (adamw)
            w[k] = w[k] * shrink;
        else if (decay)
            gk = FMA(wd, w[k], gk);
        m[k] = FMA(c1, gk, m[k] * b1);
        v[k] = FMA(c2 * gk, gk, v[k] * b2);
        real denom = SQRT(v[k]) / bc2 + eps;
        w[k] = w[k] + nstep * m[k] / denom;
    }
}

/* torch.optim.RMSprop, not centred:
 *   g' = g + wd w;  v = alpha v + (1 - alpha) g'^2;  a = sqrt(v) + eps
 *   momentum: b = mu b + g' / a;  w = w - lr b       else: w = w - lr g' / a   [n] each */
static void rmsprop_update(const Optimizer *o, double lr, real *w, const real *g, real *v, real *b,
                           int64_t n)
{
    const real al = (real)o->alpha, c = (real)(1 - o->alpha), eps = (real)o->eps;
    const real wd = (real)o->weight_decay, mu = (real)o->momentum, nlr = (real)-lr;
    const bool decay = o->weight_decay != 0;
    for (int64_t k = 0; k < n; k++) {
        real gk = g[k];
        if (decay)
            gk = FMA(wd, w[k], gk);
        v[k] = FMA(c * gk, gk, v[k] * al);
        real avg = SQRT(v[k]) + eps;
        if (b) {
            b[k] = b[k] * mu + gk / avg;
            w[k] = FMA(nlr, b[k], w[k]);
        } else {
            w[k] = w[k] + nlr * gk / avg;
        }
    }
}

/* Dale's law, sparsity mask, no self-connections, in that order. NaN stays NaN
 * through the clamp, so a diverging run is still seen. */
static void constrain(OptimParam *p)
{
    real *w = p->w;
    if (p->sign)
        for (int64_t k = 0; k < p->n; k++)
            if (w[k] < 0)
                w[k] = 0;
    if (p->mask)
        for (int64_t k = 0; k < p->n; k++)
            w[k] *= p->mask[k];
    if (p->no_self)
        for (int64_t i = 0; i < p->rows; i++)
            w[i * p->cols + i] = 0;
}

void optim_step(Optimizer *o, OptimParam *params, int n)
{
    assert(o->bound && n == o->nparams);
    double lr = optim_lr(o);
    for (int i = 0; i < n; i++) {
        OptimParam *p = &params[i];
        assert(p->n == o->n[i] && p->rows == o->rows[i] && p->cols == o->cols[i]);
        switch (o->kind) {
        case OPT_SGD:
            sgd_update(o, lr, p->w, p->g, o->b[i], p->n);
            break;
        case OPT_ADAM:
        case OPT_ADAMW:
            adam_update(o, lr, p->w, p->g, o->m[i], o->v[i], p->n);
            break;
        case OPT_RMSPROP:
            rmsprop_update(o, lr, p->w, p->g, o->v[i], o->b[i], p->n);
            break;
        case OPT_COUNT:
            assert(0);
        }
        constrain(p);
    }
    o->step++;
}

double optim_clip(OptimParam *params, int n, double max_norm)
{
    /* PyTorch: the norm of each gradient, then the norm of those norms, each
     * summed in double and rounded to `real`; then max / (total + 1e-6) in `real`,
     * which Tensor.__rdiv__ computes as a reciprocal times max. */
    double sum = 0;
    for (int i = 0; i < n; i++) {
        double sq = 0;
        for (int64_t k = 0; k < params[i].n; k++)
            sq += (double)params[i].g[k] * (double)params[i].g[k];
        real norm = (real)sqrt(sq);
        sum += (double)norm * (double)norm;
    }
    real total = (real)sqrt(sum);
    real c = (1 / (total + (real)1e-6)) * (real)max_norm;
    if (isfinite(total) && c < 1)
        for (int i = 0; i < n; i++)
            for (int64_t k = 0; k < params[i].n; k++)
                params[i].g[k] *= c;
    return total;
}

bool optim_check_clip(double max_norm, Diags *d, Span at)
{
    if (isfinite(max_norm) && max_norm > 0)
        return true;
    diag_error(d, at, "clip must be a positive gradient norm, got %g", max_norm);
    return false;
}

/* Checkpoints. */

static Tensor param_view(const Optimizer *o, int i, real *data)
{
    if (o->rows[i] == 0)
        return tensor_view(data, 1, (int64_t[]){ o->n[i] });
    return tensor_view(data, 2, (int64_t[]){ o->rows[i], o->cols[i] });
}

/* Largest step count `real` holds exactly. */
#ifdef CAJAL_FLOAT
static const int64_t max_saved_step = 1 << 24;
#else
static const int64_t max_saved_step = (int64_t)1 << 53;
#endif

bool optim_save(const Optimizer *o, NpzWriter *w, Diags *d, Span at)
{
    assert(o->bound);
    if (o->step > max_saved_step) {
        diag_error(d, at, "cannot checkpoint the optimizer after %lld steps: a " REAL_NAME
                   " holds step counts up to %lld exactly", (long long)o->step,
                   (long long)max_saved_step);
        return false;
    }
    real step = (real)o->step;
    Tensor ts = tensor_view(&step, 1, (int64_t[]){ 1 });
    if (!npz_writer_add(w, "optim.step", &ts, d, at))
        return false;
    for (int i = 0; i < o->nparams; i++) {
        real *buf[3] = { o->m[i], o->v[i], o->b[i] };
        char *key[3] = { o->m_key[i], o->v_key[i], o->b_key[i] };
        for (int s = 0; s < 3; s++) {
            if (!buf[s])
                continue;
            Tensor t = param_view(o, i, buf[s]);
            if (!npz_writer_add(w, key[s], &t, d, at))
                return false;
        }
    }
    return true;
}

static const char *entry_shape(const NpzEntry *e, char *buf, size_t n)
{
    Shape s = tensor_shape_make(e->rank, e->dim);
    return tensor_shape_fmt(&s, buf, n);
}

/* True if key names state this optimizer keeps. */
static bool key_expected(const Optimizer *o, const char *key)
{
    if (strcmp(key, "optim.step") == 0)
        return true;
    for (int i = 0; i < o->nparams; i++)
        if ((o->m_key[i] && strcmp(key, o->m_key[i]) == 0) ||
            (o->v_key[i] && strcmp(key, o->v_key[i]) == 0) ||
            (o->b_key[i] && strcmp(key, o->b_key[i]) == 0))
            return true;
    return false;
}

/* The parameter an "optim.X.NAME" key is about, or NULL if it is none of ours. */
static const char *key_param(const Optimizer *o, const char *key)
{
    static const char *const prefix[] = { "optim.m.", "optim.v.", "optim.b." };
    for (int s = 0; s < 3; s++) {
        size_t len = strlen(prefix[s]);
        if (strncmp(key, prefix[s], len) != 0)
            continue;
        for (int i = 0; i < o->nparams; i++)
            if (strcmp(key + len, o->names[i]) == 0)
                return o->names[i];
    }
    return NULL;
}

/* Reads one state array after checking its shape; NULL after an error. */
static Tensor *read_state(const Optimizer *o, int i, NpzReader *r, const char *key, const char *what,
                          Diags *d, Span at)
{
    const NpzEntry *e = npz_reader_find(r, key);
    if (!e) {
        diag_error(d, at, "checkpoint has no '%s' (the %s of %s kept by %s)", key, what,
                   o->names[i], opt_names[o->kind]);
        static const char *const other[] = { "m", "v", "b" };
        for (int s = 0; s < 3; s++) {
            char *k = key_new(other[s], o->names[i]);
            bool foreign = npz_reader_find(r, k) && !key_expected(o, k);
            if (foreign)
                diag_hint(d, "it holds '%s' instead: was it written by another optimizer?", k);
            free(k);
            if (foreign)
                break;
        }
        return NULL;
    }
    Tensor want = param_view(o, i, NULL);
    Shape ws = tensor_shape(&want);
    Shape es = e->rank >= 0 ? tensor_shape_make(e->rank, e->dim) : ws;
    if (e->rank < 0 || !tensor_shape_eq(&ws, &es)) {
        char eb[128], wb[128];
        diag_error(d, at, "checkpoint's '%s' is %s, but %s is %s", key,
                   e->rank < 0 ? "unreadable" : entry_shape(e, eb, sizeof eb), o->names[i],
                   tensor_shape_fmt(&ws, wb, sizeof wb));
        return NULL;
    }
    return npz_reader_read(r, key, d, at);
}

bool optim_load(Optimizer *o, NpzReader *r, Diags *d, Span at)
{
    assert(o->bound);
    bool ok = true;

    /* Optimizer state for parameters that are not ours: a different model. */
    for (int k = 0; k < npz_reader_count(r); k++) {
        const char *key = npz_reader_entry(r, k)->key;
        if (strncmp(key, "optim.", 6) == 0 && !key_expected(o, key) && !key_param(o, key) &&
            (strncmp(key, "optim.m.", 8) == 0 || strncmp(key, "optim.v.", 8) == 0 ||
             strncmp(key, "optim.b.", 8) == 0)) {
            diag_error(d, at, "checkpoint holds '%s', optimizer state for '%s', which is not a "
                       "learned parameter of this model", key, key + 8);
            ok = false;
        }
    }

    int64_t step = 0;
    const NpzEntry *se = npz_reader_find(r, "optim.step");
    if (!se) {
        diag_error(d, at, "checkpoint has no 'optim.step' (the optimizer's step count)");
        ok = false;
    } else {
        Tensor *t = NULL;
        bool one = se->rank >= 0 && se->rank <= 1 && (se->rank == 0 || se->dim[0] == 1);
        if (!one) {
            char eb[128];
            diag_error(d, at, "checkpoint's 'optim.step' is %s, expected a single number",
                       se->rank < 0 ? "unreadable" : entry_shape(se, eb, sizeof eb));
            ok = false;
        } else if (!(t = npz_reader_read(r, "optim.step", d, at))) {
            ok = false;
        } else {
            double s = (double)t->data[0];
            if (!(s >= 0 && s == floor(s) && s <= (double)max_saved_step)) {
                diag_error(d, at, "checkpoint's 'optim.step' is %g, not a count of steps", s);
                ok = false;
            } else {
                step = (int64_t)s;
            }
        }
        tensor_free(t);
    }

    int np = o->nparams;
    Tensor **got = xcalloc((size_t)np * 3 + 1, sizeof *got);
    for (int i = 0; i < np; i++) {
        const char *key[3] = { o->m_key[i], o->v_key[i], o->b_key[i] };
        static const char *const what[3] = { "first moment", "second moment", "momentum buffer" };
        for (int s = 0; s < 3; s++)
            if (key[s] && !(got[3 * i + s] = read_state(o, i, r, key[s], what[s], d, at)))
                ok = false;
    }

    if (ok) {
        for (int i = 0; i < np; i++) {
            real *buf[3] = { o->m[i], o->v[i], o->b[i] };
            for (int s = 0; s < 3; s++)
                if (buf[s])
                    memcpy(buf[s], got[3 * i + s]->data, (size_t)o->n[i] * sizeof(real));
        }
        o->step = step;
    }
    for (int k = 0; k < np * 3; k++)
        tensor_free(got[k]);
    free(got);
    return ok;
}

void optim_free(Optimizer *o)
{
    if (!o)
        return;
    unbind(o);
    free(o);
}
