/* plot_stmt.c: the plot and raster statements (see plot_stmt.h).
 *
 * Each item of `plot a, b, ...` becomes one panel, chosen by what the item is:
 *
 *   loss                 the training curve            -> loss
 *   hist(X)              every value of X              -> histogram
 *   A vs B               two recorded traces           -> phase plane
 *   X using a recording  X over time, trial 0          -> traces
 *   X otherwise          a matrix (or vector) now      -> heat map
 *
 * "Using a recording" is decided on the syntax: X names a population variable
 * (E.r, E, E.in), an input or an output, which change over time and so must have
 * been recorded by the last simulate; parameters and weights (E.tau, J.w) are
 * values now. The values themselves come from inspect_value_tensor, which slices
 * recordings [samples, B, n] on their last axis, so E.r[0:10] arrives as
 * [samples, B, 10] and E.r[3] as [samples, B]. The reductions mean, sum, l1, l2,
 * max and min (with one argument) as the outermost call reduce over neurons
 * only, so `plot mean(E.r)` is the population mean over time (inside an
 * expression they reduce everything, as in print).
 *
 * Units: a panel whose item is one variable (possibly indexed or reduced) shows
 * its values in that variable's unit from the checker (VarInfo.dim, a synapse's
 * w_dim), with the SI prefix that puts the largest magnitude in [1, 1000):
 * "E.v (mV)". Anything else is labelled with its text alone.
 */
#include "plot_stmt.h"
#include "pending.h"
#include "units.h"
#include "xalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_TRACES = 32 };   /* series drawn from one item; the title says when cut */

/* ---------------------------------------------------------------- session setting */

static PlotTerm session_term = PLOT_TERM_AUTO;

bool plot_stmt_set_term(const char *word)
{
    while (*word == ' ' || *word == '\t')
        word++;
    char w[16];
    size_t n = 0;
    while (word[n] && word[n] != ' ' && word[n] != '\t' && word[n] != '\n' && word[n] != '\r')
        n++;
    size_t rest = n;
    while (word[rest] == ' ' || word[rest] == '\t' || word[rest] == '\n' || word[rest] == '\r')
        rest++;
    if (n == 0 || n >= sizeof w || word[rest])
        return false;
    memcpy(w, word, n);
    w[n] = 0;
    PlotTerm t;
    if (!plot_term_parse(w, &t))
        return false;
    session_term = t;
    return true;
}

PlotTerm plot_stmt_term(void) { return session_term; }

/* ---------------------------------------------------------------- small helpers */

static char *text_of(const Node *e)
{
    const char *s = e->span.file->text + e->span.off;
    size_t n = e->span.len;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    char *out = xmalloc(n + 1);
    memcpy(out, s, n);
    out[n] = 0;
    return out;
}

/* A constant (a slice bound), evaluated quietly: the checker has seen it. */
static double constant(const Env *env, const Node *e)
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

static bool is_call_to(const Node *e, const char *name)
{
    return e->kind == AST_CALL && e->a->kind == AST_NAME && strcmp(e->a->name, name) == 0;
}

static bool is_reduction(const Node *e)
{
    return e->kind == AST_CALL && e->list.n == 1 &&
           (is_call_to(e, "mean") || is_call_to(e, "sum") || is_call_to(e, "l1") || is_call_to(e, "l2") ||
            is_call_to(e, "max") || is_call_to(e, "min"));
}

static double max_abs(const double *v, int64_t n)
{
    double m = 0;
    for (int64_t k = 0; k < n; k++)
        if (isfinite(v[k]) && fabs(v[k]) > m)
            m = fabs(v[k]);
    return m;
}

/* "E.v (mV)", or "E.r" without a unit. */
static void label(char *buf, size_t n, const char *what, const char *unit)
{
    if (unit && unit[0])
        snprintf(buf, n, "%s (%s)", what, unit);
    else
        snprintf(buf, n, "%s", what);
}

/* ---------------------------------------------------------------- what an item uses */

/* A population variable, input or output named in an item: it changes over time. */
typedef struct Ref {
    char name[160];      /* "E.r": the recording it needs */
    const Node *at;
    Dim dim;
    bool known_dim;
    bool gate;
} Ref;

typedef struct Uses {
    Ref refs[8];
    int n;               /* time-varying references (at most 8 kept) */
    int total;
    const Node *hist, *loss, *vs;   /* misplaced special forms, for errors */
} Uses;

static void add_ref(Uses *u, const char *name, const Node *at, const Dim *dim, bool gate)
{
    u->total++;
    if (u->n >= 8)
        return;
    Ref *r = &u->refs[u->n++];
    snprintf(r->name, sizeof r->name, "%s", name);
    r->at = at;
    r->known_dim = dim != NULL;
    r->dim = dim ? *dim : units_none();
    r->gate = gate;
}

/* Notes the variable pop.member if it is one that changes over time. */
static void population_member(Uses *u, const Decl *pop, Name member, const Node *at)
{
    const ModelInfo *info = pop->model ? pop->model->info : NULL;
    if (!info)
        return;
    char name[160];
    snprintf(name, sizeof name, "%s.%s", pop->name, member);
    for (int i = 0; i < info->nvars; i++)
        if (info->vars[i].name == member) {
            add_ref(u, name, at, &info->vars[i].dim, info->vars[i].kind == VAR_GATE);
            return;
        }
    if (member == intern_cstr("in")) {
        add_ref(u, name, at, &info->in_dim, false);
        return;
    }
    if (member == intern_cstr("spikes")) {
        Dim none = units_none();
        add_ref(u, name, at, &none, false);
    }
    /* anything else is a parameter: a value now */
}

static void uses_of(const Env *env, const Node *e, Uses *u)
{
    if (!e)
        return;
    switch (e->kind) {
    case AST_NAME: {
        Decl *d = env_lookup(env, e->name);
        if (!d && e->name == intern_cstr("loss")) {
            u->loss = e;
        } else if (d && d->kind == D_POPULATION && d->model && d->model->info) {
            const ModelInfo *info = d->model->info;
            population_member(u, d, info->out ? info->out : info->vars[0].name, e);
        } else if (d && (d->kind == D_INPUT || d->kind == D_OUTPUT)) {
            add_ref(u, d->name, e, NULL, false);
        }
        return;
    }
    case AST_MEMBER: {
        Decl *d = e->a->kind == AST_NAME ? env_lookup(env, e->a->name) : NULL;
        if (d && d->kind == D_POPULATION)
            population_member(u, d, e->name, e);
        return;
    }
    case AST_INDEX:
        uses_of(env, e->a, u);
        return;
    case AST_CALL:
        if (is_call_to(e, "hist"))
            u->hist = e;
        for (int i = 0; i < e->list.n; i++)
            uses_of(env, e->list.v[i], u);
        return;
    case AST_VS:
        u->vs = e;
        uses_of(env, e->a, u);
        uses_of(env, e->b, u);
        return;
    default:
        uses_of(env, e->a, u);
        uses_of(env, e->b, u);
        return;
    }
}

static const Recording *recording(const Runtime *rt, const char *name)
{
    for (int i = 0; i < rt->nrecs; i++)
        if (strcmp(rt->recs[i].name, name) == 0)
            return &rt->recs[i];
    return NULL;
}

/* Every time-varying value the item names was recorded by the last simulate. */
static bool recorded(const Runtime *rt, const Uses *u, Diags *d)
{
    for (int i = 0; i < u->n; i++) {
        const Ref *r = &u->refs[i];
        if (recording(rt, r->name))
            continue;
        if (!rt->times) {
            diag_error(d, r->at->span, "nothing has been simulated yet, so there is no recording of %s to plot", r->name);
            diag_hint(d, "simulate first and record it, as in: simulate for 1s record %s", r->name);
        } else {
            diag_error(d, r->at->span, "%s was not recorded by the last simulate", r->name);
            diag_hint(d, "add record %s to the simulate statement, as in: simulate for 1s record %s", r->name, r->name);
        }
        return false;
    }
    return true;
}

/* The one variable an item shows, if it is one: `E.v`, `E.v[0:3]`, `mean(E.v)`.
 * Fills *r with it, r->dim being the unit of the shown value (squared by l2). */
static bool single_ref(const Env *env, const Node *e, Ref *r)
{
    bool squared = false;
    if (is_reduction(e)) {
        squared = is_call_to(e, "l2");
        e = e->list.v[0];
    }
    if (e->kind == AST_INDEX)
        e = e->a;
    if (e->kind != AST_NAME && e->kind != AST_MEMBER)
        return false;
    Uses u = { 0 };
    uses_of(env, e, &u);
    if (u.n != 1 || !u.refs[0].known_dim)
        return false;
    *r = u.refs[0];
    return !squared || units_pow(r->dim, 2, &r->dim);
}

/* ---------------------------------------------------------------- time series */

/* Trial 0 of a time-varying item: nseries series of nt samples, series k at
 * y[k * nt + t]. first: the neuron index of series 0 when the item is X[lo:hi]. */
typedef struct Series {
    double *y;
    int64_t nt, nseries, all;   /* all: series before cutting to MAX_TRACES */
    int64_t trials;
    int64_t first;
    bool indexed;               /* names take [first + k] */
    char *base;                 /* "E.r" for E.r[0:10]; the item's text otherwise */
} Series;

static void series_fini(Series *s)
{
    free(s->y);
    free(s->base);
}

/* Fills s from a tensor [nt, B] or [nt, B, k] (trial 0), or fails at e. */
static bool series_from(Series *s, const Tensor *t, int64_t nt, const Node *e, Diags *d)
{
    if (t->rank < 2 || t->rank > 3 || t->dim[0] != nt) {
        char *text = text_of(e);
        diag_error(d, e->span, "cannot draw %s over time: its value has no time axis", text);
        diag_hint(d, "sum, mean, l1 and l2 reduce over time too unless they are the outermost call, as in plot mean(E.r)");
        free(text);
        return false;
    }
    int64_t B = t->dim[1], k = t->rank == 3 ? t->dim[2] : 1;
    s->nt = nt;
    s->trials = B;
    s->all = k;
    s->nseries = k < MAX_TRACES ? k : MAX_TRACES;
    s->y = xmalloc((size_t)(s->nseries * nt > 0 ? s->nseries * nt : 1) * sizeof *s->y);
    for (int64_t i = 0; i < s->nseries; i++)
        for (int64_t tt = 0; tt < nt; tt++)
            s->y[i * nt + tt] = (double)t->data[(tt * B + 0) * k + i];
    return true;
}

/* Evaluates a time-varying item into s (trial 0). */
static bool series_eval(Runtime *rt, const Env *env, const Node *e, Series *s, Diags *d)
{
    memset(s, 0, sizeof *s);
    int64_t nt = rt->times ? rt->times->dim[0] : 0;
    if (nt == 0) {
        diag_error(d, e->span, "the last simulation recorded no samples");
        return false;
    }
    const Node *inner = is_reduction(e) ? e->list.v[0] : e;
    Tensor *t = NULL;
    if (!inspect_value_tensor(rt, env, inner, &t, d))
        return false;
    bool ok;
    if (inner != e) {
        /* mean, sum, l1, l2, max, min over neurons at each sample and trial */
        const char *f = e->a->name;
        ok = t->rank >= 2 && t->dim[0] == nt;
        if (ok) {
            int64_t B = t->dim[1], k = t->rank == 3 ? t->dim[2] : 1;
            s->nt = nt;
            s->trials = B;
            s->nseries = s->all = 1;
            s->y = xmalloc((size_t)nt * sizeof *s->y);
            for (int64_t tt = 0; tt < nt; tt++) {
                double acc = 0;
                for (int64_t i = 0; i < k; i++) {
                    double v = t->data[(tt * B + 0) * k + i];
                    if (!strcmp(f, "max") || !strcmp(f, "min"))
                        acc = i == 0 || isnan(v) || (f[1] == 'a' ? v > acc : v < acc) ? v : acc;
                    else
                        acc += !strcmp(f, "l1") ? fabs(v) : !strcmp(f, "l2") ? v * v : v;
                }
                s->y[tt] = !strcmp(f, "mean") ? acc / (double)k : acc;
            }
        } else {
            ok = series_from(s, t, nt, inner, d);
        }
        s->base = text_of(e);
    } else {
        ok = series_from(s, t, nt, e, d);
        if (ok && e->kind == AST_INDEX && e->list.n == 1 && (e->a->kind == AST_MEMBER || e->a->kind == AST_NAME)) {
            const Node *ix = e->list.v[0];
            if (ix->kind == AST_SLICE) {
                s->base = text_of(e->a);
                s->first = ix->a ? (int64_t)constant(env, ix->a) : 0;
                s->indexed = true;
            }
        } else if (ok && (e->kind == AST_MEMBER || e->kind == AST_NAME)) {
            s->base = text_of(e);
            s->indexed = true;
        }
        if (ok && !s->base)
            s->base = text_of(e);
    }
    tensor_free(t);
    if (!ok)
        series_fini(s);
    return ok;
}

static void series_name(const Series *s, int64_t k, char *buf, size_t n)
{
    if (s->indexed)
        snprintf(buf, n, "%s[%lld]", s->base, (long long)(s->first + k));
    else if (s->all > 1)
        snprintf(buf, n, "%s [%lld]", s->base, (long long)k);
    else
        snprintf(buf, n, "%s", s->base);
}

/* "E.r[0:40] (trial 0 of 8; the first 32 of 40)" */
static void series_title(const Series *s, const char *text, char *buf, size_t n)
{
    size_t len = (size_t)snprintf(buf, n, "%s", text);
    const char *sep = " (";
    if (s->trials > 1 && len < n) {
        len += (size_t)snprintf(buf + len, n - len, "%strial 0 of %lld", sep, (long long)s->trials);
        sep = "; ";
    }
    if (s->all > s->nseries && len < n) {
        len += (size_t)snprintf(buf + len, n - len, "%sthe first %lld of %lld", sep, (long long)s->nseries,
                                (long long)s->all);
        sep = "; ";
    }
    if (sep[0] == ';' && len < n)
        snprintf(buf + len, n - len, ")");
}

static bool add_traces(PlotFigure *f, Runtime *rt, const Env *env, const Node *e, Diags *d)
{
    Series s;
    if (!series_eval(rt, env, e, &s, d))
        return false;
    Ref one;
    bool has_unit = single_ref(env, e, &one);
    char unit[64] = "", ylabel[256], title[512];
    double scale = has_unit ? units_shown(one.dim, max_abs(s.y, s.nseries * s.nt), unit, sizeof unit) : 1;
    char *text = text_of(e);
    const Node *bare = e->kind == AST_INDEX ? e->a : e;
    if (has_unit && bare->kind == AST_NAME && s.base && !is_reduction(e)) {
        free(s.base);   /* E stands for its output, E.r */
        s.base = xstrdup(one.name);
    }
    if (has_unit && one.gate)
        snprintf(ylabel, sizeof ylabel, "%s (gate activity)", one.name);
    else
        label(ylabel, sizeof ylabel, has_unit && !is_reduction(e) ? one.name : text, unit);
    series_title(&s, text, title, sizeof title);
    double *t = xmalloc((size_t)s.nt * sizeof *t);
    for (int64_t k = 0; k < s.nt; k++)
        t[k] = rt->times->data[k];
    PlotPanel *p = plot_add_traces(f, title, t, s.nt, ylabel);
    for (int64_t k = 0; k < s.nseries; k++) {
        char name[192];
        series_name(&s, k, name, sizeof name);
        for (int64_t i = 0; i < s.nt; i++)
            s.y[k * s.nt + i] *= scale;
        plot_traces_add(p, name, s.y + k * s.nt);
    }
    free(t);
    free(text);
    series_fini(&s);
    return true;
}

/* ---------------------------------------------------------------- phase plane */

static bool add_phase(PlotFigure *f, Runtime *rt, const Env *env, const Node *e, Diags *d)
{
    const Node *side[2] = { e->a, e->b };
    Series s[2];
    char unit[2][64], lab[2][256], *text[2];
    double scale[2];
    for (int k = 0; k < 2; k++) {
        Uses u = { 0 };
        uses_of(env, side[k], &u);
        if (u.n == 0) {
            char *t = text_of(side[k]);
            diag_error(d, side[k]->span,
                       "%s does not change over time; vs draws one recorded trace against another, as in plot E.r[0] vs E.r[1]",
                       t);
            free(t);
            if (k == 1)
                series_fini(&s[0]), free(text[0]);
            return false;
        }
        if (!recorded(rt, &u, d) || !series_eval(rt, env, side[k], &s[k], d)) {
            if (k == 1)
                series_fini(&s[0]), free(text[0]);
            return false;
        }
        text[k] = text_of(side[k]);
        if (s[k].all != 1) {
            diag_error(d, side[k]->span, "%s is %lld traces; vs takes one on each side, as in E.r[0] vs E.r[1]",
                       text[k], (long long)s[k].all);
            series_fini(&s[k]);
            free(text[k]);
            if (k == 1)
                series_fini(&s[0]), free(text[0]);
            return false;
        }
        Ref one;
        unit[k][0] = 0;
        scale[k] = single_ref(env, side[k], &one) ? units_shown(one.dim, max_abs(s[k].y, s[k].nt), unit[k], sizeof unit[k]) : 1;
        label(lab[k], sizeof lab[k], text[k], unit[k]);
        for (int64_t i = 0; i < s[k].nt; i++)
            s[k].y[i] *= scale[k];
    }
    char *all = text_of(e), title[512];
    series_title(&s[0], all, title, sizeof title);
    plot_add_phase(f, title, all, s[0].y, s[1].y, s[0].nt, lab[0], lab[1]);
    for (int k = 0; k < 2; k++) {
        series_fini(&s[k]);
        free(text[k]);
    }
    free(all);
    return true;
}

/* ---------------------------------------------------------------- values now */

/* The unit of a weight matrix item: J.w, J, J.w[...]. */
static bool weight_unit(const Env *env, const Node *e, Dim *dim, const Decl **syn)
{
    if (e->kind == AST_INDEX)
        e = e->a;
    const Decl *d = NULL;
    if (e->kind == AST_MEMBER && e->a->kind == AST_NAME && e->name == intern_cstr("w"))
        d = env_lookup(env, e->a->name);
    else if (e->kind == AST_NAME)
        d = env_lookup(env, e->name);
    if (!d || d->kind != D_SYNAPSE || (e->kind == AST_NAME && d->rank))
        return false;
    *dim = d->w_dim;
    *syn = d;
    return true;
}

/* The unit of a per-neuron parameter item: E.tau, E.tau[0:5]. */
static bool param_unit(const Env *env, const Node *e, Dim *dim)
{
    if (e->kind == AST_INDEX)
        e = e->a;
    if (e->kind != AST_MEMBER || e->a->kind != AST_NAME)
        return false;
    const Decl *d = env_lookup(env, e->a->name);
    if (!d || d->kind != D_POPULATION || !d->model || !d->model->info)
        return false;
    const ModelInfo *info = d->model->info;
    for (int i = 0; i < info->nparams; i++)
        if (info->params[i].name == e->name && info->param_dims) {
            *dim = info->param_dims[i];
            return true;
        }
    return false;
}

static bool add_matrix(PlotFigure *f, Runtime *rt, const Env *env, const Node *e, Diags *d)
{
    Tensor *t = NULL;
    if (!inspect_value_tensor(rt, env, e, &t, d))
        return false;
    char *text = text_of(e);
    bool ok = t->rank >= 1 && t->rank <= 2;
    Dim dim;
    const Decl *syn = NULL;
    bool has_unit = weight_unit(env, e, &dim, &syn) || param_unit(env, e, &dim);
    if (t->rank == 0) {
        char value[96];
        units_format(t->data[0], has_unit ? dim : units_none(), value, sizeof value);
        diag_error(d, e->span, "%s is one number (%s); print shows it", text, value);
    } else if (!ok) {
        diag_error(d, e->span, "%s has %d dimensions; plot draws matrices and vectors", text, t->rank);
    } else {
        int64_t rows = t->rank == 2 ? t->dim[0] : 1, cols = t->rank == 2 ? t->dim[1] : t->dim[0];
        double *m = xmalloc((size_t)(rows * cols) * sizeof *m);
        for (int64_t k = 0; k < rows * cols; k++)
            m[k] = t->data[k];
        char unit[64] = "", zlabel[256], xlabel[192], ylabel[192];
        double scale = has_unit ? units_shown(dim, max_abs(m, rows * cols), unit, sizeof unit) : 1;
        for (int64_t k = 0; k < rows * cols; k++)
            m[k] *= scale;
        const char *what = text;
        if (syn)
            what = "w";   /* beside J.w's colour bar */
        else if (e->kind == AST_MEMBER)
            what = e->name;
        label(zlabel, sizeof zlabel, what, unit);
        if (syn && t->rank == 2 && (e->kind != AST_INDEX || e->list.n == 2)) {
            /* J.w, or J.w[a:b, c:d]: the axes are neurons, counted from a and c */
            int64_t lo[2] = { 0, 0 };
            for (int k = 0; e->kind == AST_INDEX && k < 2; k++) {
                const Node *ix = e->list.v[k];
                lo[k] = ix->kind == AST_SLICE && ix->a ? (int64_t)constant(env, ix->a) : 0;
            }
            const char *side[2] = { syn->post->name, syn->pre->name };
            char *buf[2] = { ylabel, xlabel };
            for (int k = 0; k < 2; k++)
                if (lo[k])
                    snprintf(buf[k], 192, "%s (%s), from %lld", side[k], k ? "pre" : "post", (long long)lo[k]);
                else
                    snprintf(buf[k], 192, "%s (%s)", side[k], k ? "pre" : "post");
        } else if (t->rank == 2) {
            snprintf(xlabel, sizeof xlabel, "column");
            snprintf(ylabel, sizeof ylabel, "row");
        } else {
            snprintf(xlabel, sizeof xlabel, "index");
            ylabel[0] = 0;
        }
        plot_add_heatmap(f, text, m, rows, cols, xlabel, ylabel[0] ? ylabel : NULL, zlabel);
        free(m);
    }
    free(text);
    tensor_free(t);
    return ok;
}

/* ---------------------------------------------------------------- histogram */

static bool add_hist(PlotFigure *f, Runtime *rt, const Env *env, const Node *e, Diags *d)
{
    const Builtin *b = builtin_lookup(e->a->name);
    const Node *args[8];
    if (!b || b->params.n != 1 || !builtin_bind(b->name, b->params, e, args, d))
        return false;
    const Node *x = args[0];
    Uses u = { 0 };
    uses_of(env, x, &u);
    if (u.hist || u.loss || u.vs) {
        diag_error(d, x->span, "hist takes values, as in hist(J.w) or hist(E.r)");
        return false;
    }
    /* A time-varying value: every recorded sample of every trial if it was
     * recorded, else its value now (as print shows it). */
    Tensor *t = NULL;
    if (!inspect_value_tensor(rt, env, x, &t, d))
        return false;
    double *v = xmalloc((size_t)(t->size > 0 ? t->size : 1) * sizeof *v);
    for (int64_t k = 0; k < t->size; k++)
        v[k] = t->data[k];
    Dim dim;
    const Decl *syn = NULL;
    Ref one;
    bool has_unit = weight_unit(env, x, &dim, &syn) || param_unit(env, x, &dim);
    if (!has_unit && single_ref(env, x, &one)) {
        has_unit = true;
        dim = one.dim;
    }
    char unit[64] = "", xlabel[256];
    double scale = has_unit ? units_shown(dim, max_abs(v, t->size), unit, sizeof unit) : 1;
    for (int64_t k = 0; k < t->size; k++)
        v[k] *= scale;
    char *text = text_of(e), *xtext = text_of(x);
    label(xlabel, sizeof xlabel, xtext, unit);
    plot_add_hist(f, text, v, t->size, xlabel);
    free(text);
    free(xtext);
    free(v);
    tensor_free(t);
    return true;
}

/* ---------------------------------------------------------------- loss */

PlotPanel *plot_stmt_add_loss(PlotFigure *f, const PlotLoss *loss)
{
    if (!loss || loss->n <= 0 || loss->nterms <= 0)
        return NULL;
    PlotPanel *p = plot_add_loss(f, "loss");
    for (int k = 0; k < loss->nterms; k++)
        plot_loss_add(p, loss->names[k], loss->step, loss->value + (int64_t)k * loss->n, loss->n);
    return p;
}

/* ---------------------------------------------------------------- statements */

static bool add_item(PlotFigure *f, Runtime *rt, const Env *env, const Node *e, const PlotLoss *loss, Diags *d)
{
    if (e->kind == AST_NAME && e->name == intern_cstr("loss") && !env_lookup(env, e->name)) {
        if (plot_stmt_add_loss(f, loss))
            return true;
        diag_error(d, e->span, "nothing has been trained yet: plot loss draws the cost terms over the steps of a train statement");
        return false;
    }
    if (e->kind == AST_VS)
        return add_phase(f, rt, env, e, d);
    if (is_call_to(e, "hist"))
        return add_hist(f, rt, env, e, d);
    Uses u = { 0 };
    uses_of(env, e, &u);
    const Node *odd = u.hist ? u.hist : u.loss ? u.loss : u.vs;
    if (odd) {
        const char *what = odd == u.hist ? "hist(...)" : odd == u.loss ? "loss" : "a vs b";
        diag_error(d, odd->span, "%s is a panel of its own: write it as a separate plot item, as in plot E.r, %s", what,
                   odd == u.hist ? "hist(J.w)" : odd == u.loss ? "loss" : "E.r[0] vs E.r[1]");
        return false;
    }
    if (u.n > 0)
        return recorded(rt, &u, d) && add_traces(f, rt, env, e, d);
    return add_matrix(f, rt, env, e, d);
}

/* Draws f to the statement's file or the terminal; prints the skip line. */
static bool render(const PlotFigure *f, const Node *st, Diags *d)
{
    PlotOptions o;
    plot_options_init(&o);
    o.path = st->text;
    o.term = session_term;
    switch (plot_render(f, &o, st->span, d)) {
    case PLOT_DONE:
        return true;
    case PLOT_SKIPPED:
        fprintf(stderr, "%s\n", PLOT_SKIPPED_MESSAGE);
        return true;
    case PLOT_FAILED:
        break;
    }
    return false;
}

bool plot_stmt(Runtime *rt, const Env *env, const Node *st, const PlotLoss *loss, Diags *d)
{
    PlotFigure *f = plot_figure_new(NULL);
    bool ok = true;
    for (int i = 0; i < st->list.n && ok; i++)
        ok = add_item(f, rt, env, st->list.v[i], loss, d);
    if (ok)
        ok = render(f, st, d);
    plot_figure_free(f);
    return ok;
}

/* The entry of pending.def named key, or -1 once the work that builds it has
 * removed it: raster follows the table without being edited. */
static int pending_key(const char *key)
{
#define PENDING(k, what, instead) if (strcmp(#k, key) == 0) return PENDING_##k;
#include "pending.def"
#undef PENDING
    return -1;
}

static bool add_raster(PlotFigure *f, Runtime *rt, const Env *env, const Node *st, const Node *e, Diags *d)
{
    const Decl *pop = env_lookup(env, e->name);
    char name[160];
    snprintf(name, sizeof name, "%s.spikes", e->name);
    const Recording *r = recording(rt, name);
    if (!r) {
        int key = pending_key("RASTER");
        if (key >= 0)
            return pending_stop(d, st->span, "raster", (PendingKey)key);
        if (!pop->model->info->spiking) {
            diag_error(d, e->span, "raster draws spike trains, and %s (a %s population) does not spike", pop->name,
                       pop->model->name);
            diag_hint(d, "plot %s draws its activity over time", pop->name);
        } else if (!rt->times) {
            diag_error(d, e->span, "nothing has been simulated yet, so there are no spikes of %s to draw", pop->name);
            diag_hint(d, "simulate first and record them, as in: simulate for 1s record %s", name);
        } else {
            diag_error(d, e->span, "the spikes of %s were not recorded by the last simulate", pop->name);
            diag_hint(d, "add record %s to the simulate statement", name);
        }
        return false;
    }
    const Tensor *s = r->data;
    int64_t nt = s->dim[0], B = s->dim[1], n = s->dim[2], count = 0;
    for (int64_t t = 0; t < nt; t++)
        for (int64_t i = 0; i < n; i++)
            count += s->data[(t * B + 0) * n + i] != 0;
    double *times = xmalloc((size_t)(count ? count : 1) * sizeof *times);
    int32_t *neuron = xmalloc((size_t)(count ? count : 1) * sizeof *neuron);
    int64_t k = 0;
    for (int64_t t = 0; t < nt; t++)
        for (int64_t i = 0; i < n; i++)
            if (s->data[(t * B + 0) * n + i] != 0) {
                times[k] = rt->times->data[t];
                neuron[k++] = (int32_t)i;
            }
    char title[256];
    if (B > 1)
        snprintf(title, sizeof title, "%s spikes (trial 0 of %lld)", pop->name, (long long)B);
    else
        snprintf(title, sizeof title, "%s spikes", pop->name);
    plot_add_raster(f, title, times, neuron, count, n, rt->t_end);
    free(times);
    free(neuron);
    return true;
}

bool plot_stmt_raster(Runtime *rt, const Env *env, const Node *st, Diags *d)
{
    PlotFigure *f = plot_figure_new(NULL);
    bool ok = true;
    for (int i = 0; i < st->list.n && ok; i++)
        ok = add_raster(f, rt, env, st, st->list.v[i], d);
    if (ok)
        ok = render(f, st, d);
    plot_figure_free(f);
    return ok;
}
