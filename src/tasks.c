/* tasks.c: the built-in tasks: checking a task call, drawing batches, scoring.
 *
 * Between check and run: `task` and `train on` hand their evaluated arguments to
 * task_spec once; the training loop then calls task_fill every step into a batch it
 * allocated once (task_batch_init), and `evaluate` scores with task_metric.
 *
 * Workload: a training step draws one batch, T x B x n_in values (flipflop's
 * defaults at batch 64: 96 000 uniforms), far less than the forward and backward
 * pass over the same steps, so the generators favour plain loops in trial order
 * over speed: each trial takes a fixed number of draws, in the order written
 * below, so a batch depends only on the spec and the Rng state.
 *
 * The papers: adding, Hochreiter and Schmidhuber 1997 (in the form of Le, Jaitly
 * and Hinton 2015: values in [0, 1), two markers); flipflop, Sussillo and Barak
 * 2013; mante, Mante, Sussillo, Shenoy and Newsome 2013; ready_set_go, Jazayeri
 * and Shadlen 2010, with the ramp output of Wang, Narain, Hosseini and Jazayeri 2018.
 */
#include "tasks.h"
#include "xalloc.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each task's name and parameters, as builtins.def has them (test_tasks.c compares). */
typedef struct TaskInfo {
    const char *name;
    const char *params_text;
    const char *params[3];
    int nparams;
} TaskInfo;

static const TaskInfo infos[] = {
    [TASK_ADDING] = { "adding", "T = 100", { "T" }, 1 },
    [TASK_DELAYED_ADDITION] = { "delayed_addition", "T = 50, n = 2", { "T", "n" }, 2 },
    [TASK_FLIPFLOP] = { "flipflop", "bits = 3, T = 500, p = 0.02", { "bits", "T", "p" }, 3 },
    [TASK_MANTE] = { "mante", "coherences = [0.05, 0.15, 0.5], noise = 1.0, T = 75",
                     { "coherences", "noise", "T" }, 3 },
    [TASK_READY_SET_GO] = { "ready_set_go", "intervals = [480ms, 800ms], dt = 10ms",
                            { "intervals", "dt" }, 2 },
    [TASK_SINE] = { "sine", "period = 100, T = 300", { "period", "T" }, 2 },
};
_Static_assert(sizeof infos / sizeof infos[0] == TASK_COUNT, "one entry per TaskKind");

static const TaskSpec defaults[] = {
    [TASK_ADDING] = { .kind = TASK_ADDING, .T = 100 },
    [TASK_DELAYED_ADDITION] = { .kind = TASK_DELAYED_ADDITION, .T = 50, .n = 2 },
    [TASK_FLIPFLOP] = { .kind = TASK_FLIPFLOP, .bits = 3, .T = 500, .p = 0.02 },
    [TASK_MANTE] = { .kind = TASK_MANTE, .coherences = { 0.05, 0.15, 0.5 }, .ncoherences = 3,
                     .noise = 1.0, .T = 75 },
    [TASK_READY_SET_GO] = { .kind = TASK_READY_SET_GO, .intervals = { 0.480, 0.800 },
                            .nintervals = 2, .dt = 0.010 },
    [TASK_SINE] = { .kind = TASK_SINE, .period = 100, .T = 300 },
};
_Static_assert(sizeof defaults / sizeof defaults[0] == TASK_COUNT, "one entry per TaskKind");

bool task_lookup(const char *name, TaskKind *out)
{
    for (int k = 0; k < TASK_COUNT; k++)
        if (strcmp(infos[k].name, name) == 0) {
            *out = (TaskKind)k;
            return true;
        }
    return false;
}

const char *task_name(TaskKind k) { return infos[k].name; }
const char *task_params_text(TaskKind k) { return infos[k].params_text; }

/* ---- checking the arguments ---------------------------------------------------- */

/* "1.5", "480 ms", "the string \"ten\"", "a list", for "...; got %s". */
static void describe(const Value *v, char *buf, size_t n)
{
    switch (v->kind) {
    case V_NUM:
        units_format(v->num, v->dim, buf, n);
        break;
    case V_STR:
        snprintf(buf, n, "the string \"%s\"", v->str ? v->str : "");
        break;
    case V_LIST:
        snprintf(buf, n, "a list");
        break;
    case V_FUNC:
        snprintf(buf, n, "the function '%s'", v->str ? v->str : "");
        break;
    }
}

static bool is_plain_number(const Value *v)
{
    return v->kind == V_NUM && units_is_none(v->dim) && isfinite(v->num);
}

/* A step count without unit in [lo, TASK_MAX_STEPS]. */
static bool get_count(const char *name, const Value *v, int64_t lo, int64_t *out, Diags *d, Span at)
{
    char got[96];
    describe(v, got, sizeof got);
    if (!is_plain_number(v) || v->num != floor(v->num)) {
        diag_error(d, at, "%s must be a whole number without unit; got %s", name, got);
        return false;
    }
    if (v->num < (double)lo) {
        diag_error(d, at, "%s must be at least %lld; got %s", name, (long long)lo, got);
        return false;
    }
    if (v->num > TASK_MAX_STEPS) {
        diag_error(d, at, "%s must be at most %d; got %s", name, TASK_MAX_STEPS, got);
        return false;
    }
    *out = (int64_t)v->num;
    return true;
}

/* A number without unit; `lo_open` excludes lo itself. */
static bool get_number(const char *name, const Value *v, double lo, bool lo_open, double hi,
                       double *out, Diags *d, Span at)
{
    char got[96];
    describe(v, got, sizeof got);
    if (!is_plain_number(v)) {
        diag_error(d, at, "%s must be a number without unit; got %s", name, got);
        return false;
    }
    if (lo_open ? !(v->num > lo) : !(v->num >= lo)) {
        diag_error(d, at, "%s must be %s %g; got %s", name, lo_open ? "above" : "at least", lo, got);
        return false;
    }
    if (!(v->num <= hi)) {
        diag_error(d, at, "%s must be at most %g; got %s", name, hi, got);
        return false;
    }
    *out = v->num;
    return true;
}

/* A time > 0 (dt, one interval). `what` names it in messages. */
static bool get_time(const char *what, const char *example, const Value *v, double *out, Diags *d, Span at)
{
    char got[96];
    describe(v, got, sizeof got);
    if (v->kind != V_NUM || !units_eq(v->dim, units_time()) || !isfinite(v->num)) {
        diag_error(d, at, "%s must be a time, such as %s; got %s", what, example, got);
        return false;
    }
    if (!(v->num > 0)) {
        diag_error(d, at, "%s must be positive; got %s", what, got);
        return false;
    }
    *out = v->num;
    return true;
}

static bool get_list(const char *name, const char *example, const Value *v, Diags *d, Span at)
{
    char got[96];
    describe(v, got, sizeof got);
    if (v->kind != V_LIST) {
        diag_error(d, at, "%s must be a list, such as %s; got %s", name, example, got);
        return false;
    }
    if (v->n == 0) {
        diag_error(d, at, "%s must not be empty; give at least one, such as %s", name, example);
        return false;
    }
    if (v->n > TASK_MAX_LIST) {
        diag_error(d, at, "%s may hold at most %d values; got %d", name, TASK_MAX_LIST, v->n);
        return false;
    }
    return true;
}

static bool set_param(TaskSpec *s, const char *name, const Value *v, Diags *d, Span at)
{
    if (strcmp(name, "T") == 0)
        return get_count("T", v, 2, &s->T, d, at);
    if (strcmp(name, "n") == 0)
        return get_count("n", v, 1, &s->n, d, at);
    if (strcmp(name, "bits") == 0)
        return get_count("bits", v, 1, &s->bits, d, at);
    if (strcmp(name, "p") == 0)
        return get_number("p", v, 0, false, 1, &s->p, d, at);
    if (strcmp(name, "noise") == 0)
        return get_number("noise", v, 0, false, INFINITY, &s->noise, d, at);
    if (strcmp(name, "period") == 0)
        return get_number("period", v, 0, true, TASK_MAX_STEPS, &s->period, d, at);
    if (strcmp(name, "dt") == 0)
        return get_time("dt", "10ms", v, &s->dt, d, at);
    if (strcmp(name, "coherences") == 0) {
        if (!get_list("coherences", "[0.05, 0.15, 0.5]", v, d, at))
            return false;
        bool ok = true;
        for (int i = 0; i < v->n; i++)
            ok = get_number("each coherence", &v->items[i], 0, true, 1, &s->coherences[i], d, at) && ok;
        s->ncoherences = v->n;
        return ok;
    }
    if (strcmp(name, "intervals") == 0) {
        if (!get_list("intervals", "[480ms, 800ms]", v, d, at))
            return false;
        bool ok = true;
        for (int i = 0; i < v->n; i++)
            ok = get_time("each interval", "480ms", &v->items[i], &s->intervals[i], d, at) && ok;
        s->nintervals = v->n;
        return ok;
    }
    assert(!"a parameter in infos[] without a case in set_param");
    return false;
}

/* ready_set_go's step counts, from intervals and dt (see the generator). */
static bool derive_ready_set_go(TaskSpec *s, Diags *d, Span at)
{
    char t[48], dt[48];
    units_format(s->dt, units_time(), dt, sizeof dt);
    int64_t longest = 0;
    for (int i = 0; i < s->nintervals; i++) {
        double steps = s->intervals[i] / s->dt;
        units_format(s->intervals[i], units_time(), t, sizeof t);
        if (steps < 1) {
            diag_error(d, at, "interval %s is shorter than dt = %s", t, dt);
            return false;
        }
        if (steps > TASK_MAX_STEPS / 4) {
            diag_error(d, at, "interval %s is %.4g steps of dt = %s; at most %d fit in a trial",
                       t, steps, dt, TASK_MAX_STEPS / 4);
            return false;
        }
        s->interval_steps[i] = llround(steps);
        if (s->interval_steps[i] > longest)
            longest = s->interval_steps[i];
    }
    s->lead = (longest + 3) / 4;
    s->T = 2 * s->lead + longest + 3 * longest / 2 + 1;
    return true;
}

bool task_spec(const char *name, const char *const *param_names, const Value *param_values,
               const Span *param_at, int nparams, TaskSpec *out, Diags *d, Span at)
{
    TaskKind k;
    if (!task_lookup(name, &k)) {
        const char *names[TASK_COUNT];
        for (int i = 0; i < TASK_COUNT; i++)
            names[i] = infos[i].name;
        const char *near = diag_closest(name, names, TASK_COUNT);
        if (near)
            diag_error(d, at, "unknown task '%s'; did you mean '%s'?", name, near);
        else
            diag_error(d, at, "unknown task '%s'", name);
        return false;
    }
    const TaskInfo *info = &infos[k];
    *out = defaults[k];
    bool ok = true, seen[3] = { false, false, false };
    for (int i = 0; i < nparams; i++) {
        Span here = param_at ? param_at[i] : at;
        int j = 0;
        while (j < info->nparams && strcmp(info->params[j], param_names[i]) != 0)
            j++;
        if (j == info->nparams) {
            const char *near = diag_closest(param_names[i], info->params, info->nparams);
            if (near)
                diag_error(d, here, "%s has no parameter '%s'; did you mean '%s'?", info->name,
                           param_names[i], near);
            else
                diag_error(d, here, "%s has no parameter '%s'; it takes %s", info->name,
                           param_names[i], info->params_text);
            ok = false;
            continue;
        }
        if (seen[j]) {
            diag_error(d, here, "%s is given twice", param_names[i]);
            ok = false;
            continue;
        }
        seen[j] = true;
        ok = set_param(out, info->params[j], &param_values[i], d, here) && ok;
    }
    if (!ok)
        return false;
    if (k == TASK_DELAYED_ADDITION && out->n > out->T - 1) {
        diag_error(d, at, "n = %lld gated values do not fit in the T - 1 = %lld steps before go",
                   (long long)out->n, (long long)(out->T - 1));
        return false;
    }
    if (k == TASK_READY_SET_GO)
        return derive_ready_set_go(out, d, at);
    return true;
}

void task_sizes(const TaskSpec *s, int64_t *n_in, int64_t *n_out, int64_t *T)
{
    static const int64_t in[TASK_COUNT] = {
        [TASK_ADDING] = 2, [TASK_DELAYED_ADDITION] = 3, [TASK_FLIPFLOP] = 0,
        [TASK_MANTE] = 4, [TASK_READY_SET_GO] = 2, [TASK_SINE] = 1,
    };
    *n_in = s->kind == TASK_FLIPFLOP ? s->bits : in[s->kind];
    *n_out = s->kind == TASK_FLIPFLOP ? s->bits : 1;
    *T = s->T;
}

/* ---- batches -------------------------------------------------------------------- */

bool task_batch_init(const TaskSpec *s, int64_t batch, TaskBatch *out, Diags *d, Span at)
{
    memset(out, 0, sizeof *out);
    if (batch < 1) {
        diag_error(d, at, "a batch needs at least 1 trial; got %lld", (long long)batch);
        return false;
    }
    int64_t n_in, n_out, T;
    task_sizes(s, &n_in, &n_out, &T);
    int64_t din[3] = { T, batch, n_in }, dout[3] = { T, batch, n_out };
    out->inputs = tensor_new("task inputs", 3, din, d, at);
    out->targets = out->inputs ? tensor_new("task targets", 3, dout, d, at) : NULL;
    out->mask = out->targets ? tensor_new("task mask", 3, dout, d, at) : NULL;
    if (!out->mask) {
        task_batch_free(out);
        return false;
    }
    out->trial = xcalloc((size_t)batch, sizeof *out->trial);
    out->T = T;
    out->batch = batch;
    out->n_in = n_in;
    out->n_out = n_out;
    return true;
}

void task_batch_free(TaskBatch *b)
{
    tensor_free(b->inputs);
    tensor_free(b->targets);
    tensor_free(b->mask);
    free(b->trial);
    memset(b, 0, sizeof *b);
}

/* Element (t, b, k) of a [T, B, n] tensor, B (the batch) in scope. */
#define AT(x, n, t, b, k) ((x)->data[((t) * B + (b)) * (n) + (k)])

/* adding: inputs [value, marker]. value ~ U[0,1) at every step; marker 1 at one
 * step drawn uniformly from [0, T/2) and one from [T/2, T) (T/2 rounded down);
 * target (value at the first marker + value at the second) at step T-1, the only
 * step masked in. Draws a trial: T uniforms, then the two marker steps. */
static void fill_adding(const TaskSpec *s, Rng *r, TaskBatch *x)
{
    int64_t T = x->T, B = x->batch, half = T / 2;
    for (int64_t b = 0; b < B; b++) {
        for (int64_t t = 0; t < T; t++)
            AT(x->inputs, 2, t, b, 0) = (real)rng_uniform(r);
        int64_t m1 = (int64_t)rng_below(r, (uint64_t)half);
        int64_t m2 = half + (int64_t)rng_below(r, (uint64_t)(T - half));
        AT(x->inputs, 2, m1, b, 1) = 1;
        AT(x->inputs, 2, m2, b, 1) = 1;
        AT(x->targets, 1, T - 1, b, 0) = AT(x->inputs, 2, m1, b, 0) + AT(x->inputs, 2, m2, b, 0);
        AT(x->mask, 1, T - 1, b, 0) = 1;
    }
}

/* delayed_addition: inputs [value, gate, go]. value ~ U[0,1) at steps 0 .. T-2 and 0
 * at the go step T-1; gate 1 at n distinct steps drawn uniformly among 0 .. T-2
 * (Floyd's sampling, Bentley 1987, with the gate channel as the set), so the other
 * values are distractors; go 1 at T-1. Target: the sum of the gated values at T-1,
 * the only step masked in. Draws a trial: T-1 uniforms, then n integers. */
static void fill_delayed_addition(const TaskSpec *s, Rng *r, TaskBatch *x)
{
    int64_t T = x->T, B = x->batch, m = T - 1;
    for (int64_t b = 0; b < B; b++) {
        for (int64_t t = 0; t < m; t++)
            AT(x->inputs, 3, t, b, 0) = (real)rng_uniform(r);
        for (int64_t j = m - s->n; j < m; j++) {
            int64_t t = (int64_t)rng_below(r, (uint64_t)(j + 1));
            if (AT(x->inputs, 3, t, b, 1) != 0)
                t = j;
            AT(x->inputs, 3, t, b, 1) = 1;
        }
        double sum = 0;
        for (int64_t t = 0; t < m; t++)
            if (AT(x->inputs, 3, t, b, 1) != 0)
                sum += AT(x->inputs, 3, t, b, 0);
        AT(x->inputs, 3, m, b, 2) = 1;
        AT(x->targets, 1, m, b, 0) = (real)sum;
        AT(x->mask, 1, m, b, 0) = 1;
    }
}

/* flipflop: one channel per bit. At each step and channel one uniform u: a pulse
 * when u < p, of sign +1 when u < p/2 and -1 otherwise (given a pulse, u/p is
 * uniform, so both signs are equally likely). Target: the sign of the channel's
 * latest pulse, the pulse's own step included; masked in from the channel's first
 * pulse on. Draws a trial: T x bits uniforms, step by step. */
static void fill_flipflop(const TaskSpec *s, Rng *r, TaskBatch *x)
{
    int64_t T = x->T, B = x->batch, n = s->bits;
    double p = s->p;
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++)
            for (int64_t k = 0; k < n; k++) {
                double u = rng_uniform(r);
                real pulse = u < p ? (u < 0.5 * p ? 1 : -1) : 0;
                real held = t > 0 ? AT(x->targets, n, t - 1, b, k) : 0;
                AT(x->inputs, n, t, b, k) = pulse;
                AT(x->targets, n, t, b, k) = pulse != 0 ? pulse : held;
                AT(x->mask, n, t, b, k) = AT(x->targets, n, t, b, k) != 0;
            }
}

/* mante: inputs [motion, colour, context motion, context colour]. A trial draws its
 * context (one uniform integer in {0, 1}), then for motion and then colour a
 * magnitude from `coherences` (uniform index) and a sign (one bit); then at each
 * step, motion's then colour's standard normal z, the channel being
 * coherence + noise * z. The context channels are one-hot and constant. No fixation
 * period: evidence from step 0, the answer (target +1 or -1, the sign of the cued
 * coherence) at step T-1 alone, the only step masked in. */
static void fill_mante(const TaskSpec *s, Rng *r, TaskBatch *x)
{
    int64_t T = x->T, B = x->batch;
    for (int64_t b = 0; b < B; b++) {
        TaskTrial *tr = &x->trial[b];
        tr->context = (int)rng_below(r, 2);
        for (int e = 0; e < 2; e++) {
            double c = s->coherences[rng_below(r, (uint64_t)s->ncoherences)];
            tr->coherence[e] = (rng_next_u64(r) >> 63) ? c : -c;
        }
        double sum = 0;
        for (int64_t t = 0; t < T; t++) {
            for (int e = 0; e < 2; e++)
                AT(x->inputs, 4, t, b, e) = (real)(tr->coherence[e] + s->noise * rng_normal(r));
            AT(x->inputs, 4, t, b, 2) = tr->context == TASK_MOTION;
            AT(x->inputs, 4, t, b, 3) = tr->context == TASK_COLOUR;
            sum += AT(x->inputs, 4, t, b, tr->context);
        }
        tr->target = tr->coherence[tr->context] > 0 ? 1 : -1;
        tr->ideal = sum > 0 ? 1 : -1;
        AT(x->targets, 1, T - 1, b, 0) = (real)tr->target;
        AT(x->mask, 1, T - 1, b, 0) = 1;
    }
}

/* ready_set_go: inputs [ready, set], a one-step pulse each. With n_s the drawn
 * interval in steps (round(t_s / dt)), N the longest and L = max(1, ceil(N / 4))
 * (s->lead), ready falls at a step uniform in [L, 2L] and set at ready + n_s, and
 *
 *     T = 2L + N + floor(1.5 N) + 1          (defaults: 20, 80 -> 241 steps, 2.41 s)
 *
 *     step   0 .. ready .. set ............ set + n_s ...... set + 1.5 n_s .. T-1
 *     target 0    0       0   ramp (t - set) / n_s -> 1  ...  1.5                0
 *     mask   1    1       1   1                 1             1                  0
 *
 * The target is 0 until set and the ramp (t - set) / n_s from set to
 * set + floor(1.5 n_s), which crosses 1 at exactly t_s after set; the mask covers
 * the trial up to that end, and what follows counts for nothing. Draws a trial:
 * the interval's index, then ready's offset. */
static void fill_ready_set_go(const TaskSpec *s, Rng *r, TaskBatch *x)
{
    int64_t T = x->T, B = x->batch;
    for (int64_t b = 0; b < B; b++) {
        TaskTrial *tr = &x->trial[b];
        int64_t ns = s->interval_steps[rng_below(r, (uint64_t)s->nintervals)];
        tr->interval = ns;
        tr->ready = s->lead + (int64_t)rng_below(r, (uint64_t)s->lead + 1);
        tr->set = tr->ready + ns;
        int64_t end = tr->set + 3 * ns / 2;
        assert(end <= T - 1);
        AT(x->inputs, 2, tr->ready, b, 0) = 1;
        AT(x->inputs, 2, tr->set, b, 1) = 1;
        for (int64_t t = 0; t <= end; t++) {
            AT(x->targets, 1, t, b, 0) = t < tr->set ? 0 : (real)((double)(t - tr->set) / (double)ns);
            AT(x->mask, 1, t, b, 0) = 1;
        }
    }
}

/* sine: one input channel, 1 at every step (a constant drive, so a network at rest
 * has something to leave rest with); target sin(2 pi t / period) for t = 0 .. T-1,
 * the same in every trial, every step masked in. Draws nothing. */
static void fill_sine(const TaskSpec *s, Rng *r, TaskBatch *x)
{
    int64_t T = x->T, B = x->batch;
    for (int64_t t = 0; t < T; t++) {
        real y = (real)sin(2 * M_PI * (double)t / s->period);
        for (int64_t b = 0; b < B; b++) {
            AT(x->inputs, 1, t, b, 0) = 1;
            AT(x->targets, 1, t, b, 0) = y;
            AT(x->mask, 1, t, b, 0) = 1;
        }
    }
}

void task_fill(const TaskSpec *s, Rng *rng, TaskBatch *b)
{
    int64_t n_in, n_out, T;
    task_sizes(s, &n_in, &n_out, &T);
    assert(b->T == T && b->n_in == n_in && b->n_out == n_out);
    tensor_zero(b->inputs);
    tensor_zero(b->targets);
    tensor_zero(b->mask);
    memset(b->trial, 0, (size_t)b->batch * sizeof *b->trial);
    switch (s->kind) {
    case TASK_ADDING: fill_adding(s, rng, b); break;
    case TASK_DELAYED_ADDITION: fill_delayed_addition(s, rng, b); break;
    case TASK_FLIPFLOP: fill_flipflop(s, rng, b); break;
    case TASK_MANTE: fill_mante(s, rng, b); break;
    case TASK_READY_SET_GO: fill_ready_set_go(s, rng, b); break;
    case TASK_SINE: fill_sine(s, rng, b); break;
    case TASK_COUNT: assert(!"no such task"); break;
    }
}

bool task_generate(const TaskSpec *s, Rng *rng, int64_t batch, TaskBatch *out, Diags *d, Span at)
{
    if (!task_batch_init(s, batch, out, d, at))
        return false;
    task_fill(s, rng, out);
    return true;
}

/* ---- scoring -------------------------------------------------------------------- */

static int sign_of(double v) { return (v > 0) - (v < 0); }

double task_produced_interval(const real *y_t, int64_t stride, int64_t T, int64_t set)
{
    if (set < 0 || set >= T)
        return -1;
    if (y_t[set * stride] >= 1)
        return 0;
    for (int64_t t = set + 1; t < T; t++) {
        double hi = y_t[t * stride];
        if (hi >= 1) {
            double lo = y_t[(t - 1) * stride];
            return (double)(t - 1 - set) + (1 - lo) / (hi - lo);
        }
    }
    return -1;
}

double task_psychometric_slope(const TaskBatch *x, const Tensor *y, int context, int evidence)
{
    int64_t T = x->T, B = x->batch, n = 0;
    double sx = 0, sc = 0;
    for (int64_t b = 0; b < B; b++)
        if (x->trial[b].context == context) {
            sx += x->trial[b].coherence[evidence];
            sc += sign_of(AT(y, 1, T - 1, b, 0));
            n++;
        }
    if (n < 2)
        return NAN;
    double mx = sx / (double)n, mc = sc / (double)n, sxx = 0, sxc = 0;
    for (int64_t b = 0; b < B; b++)
        if (x->trial[b].context == context) {
            double dx = x->trial[b].coherence[evidence] - mx;
            sxx += dx * dx;
            sxc += dx * (sign_of(AT(y, 1, T - 1, b, 0)) - mc);
        }
    return sxx > 0 ? sxc / sxx : NAN;
}

static void score_mante(const TaskBatch *x, const Tensor *y, TaskMetric *m)
{
    int64_t T = x->T, B = x->batch, right[2] = { 0, 0 }, ideal[2] = { 0, 0 };
    for (int64_t b = 0; b < B; b++) {
        const TaskTrial *tr = &x->trial[b];
        m->trials_context[tr->context]++;
        right[tr->context] += sign_of(AT(y, 1, T - 1, b, 0)) == tr->target;
        ideal[tr->context] += tr->ideal == tr->target;
    }
    for (int c = 0; c < 2; c++) {
        double n = (double)m->trials_context[c];
        m->accuracy_context[c] = n > 0 ? (double)right[c] / n : NAN;
        m->ideal_context[c] = n > 0 ? (double)ideal[c] / n : NAN;
        m->slope_relevant[c] = task_psychometric_slope(x, y, c, c);
        m->slope_irrelevant[c] = task_psychometric_slope(x, y, c, 1 - c);
    }
    m->value = (double)(right[0] + right[1]) / (double)B;
    m->ideal = (double)(ideal[0] + ideal[1]) / (double)B;
    snprintf(m->summary, sizeof m->summary,
             "accuracy=%.4g accuracy_motion=%.4g ideal_motion=%.4g accuracy_colour=%.4g ideal_colour=%.4g",
             m->value, m->accuracy_context[0], m->ideal_context[0], m->accuracy_context[1],
             m->ideal_context[1]);
}

static void score_ready_set_go(const TaskBatch *x, const Tensor *y, TaskMetric *m)
{
    int64_t T = x->T, B = x->batch;
    double sum = 0;
    for (int64_t b = 0; b < B; b++) {
        const TaskTrial *tr = &x->trial[b];
        double produced = task_produced_interval(&AT(y, 1, 0, b, 0), B, T, tr->set);
        double err = 1;
        if (produced < 0)
            m->missed++;
        else
            err = fmin(1, fabs(produced - (double)tr->interval) / (double)tr->interval);
        sum += err;
    }
    m->value = sum / (double)B;
}

TaskMetric task_metric(const TaskSpec *s, const TaskBatch *x, const Tensor *y)
{
    assert(y->size == x->targets->size);
    TaskMetric m = {
        .value = NAN, .ideal = NAN,
        .accuracy_context = { NAN, NAN }, .ideal_context = { NAN, NAN },
        .slope_relevant = { NAN, NAN }, .slope_irrelevant = { NAN, NAN },
    };
    double se = 0;
    int64_t right = 0;
    for (int64_t i = 0; i < y->size; i++)
        if (x->mask->data[i] != 0) {
            double e = (double)y->data[i] - (double)x->targets->data[i];
            se += e * e;
            right += sign_of(y->data[i]) == sign_of(x->targets->data[i]);
            m.counted++;
        }
    m.mse = m.counted > 0 ? se / (double)m.counted : NAN;
    switch (s->kind) {
    case TASK_ADDING:
    case TASK_DELAYED_ADDITION:
    case TASK_SINE:
        m.value = m.mse;
        m.name = m.key = "mse";
        break;
    case TASK_FLIPFLOP:
        m.value = m.counted > 0 ? (double)right / (double)m.counted : NAN;
        m.name = "fraction of bits correct";
        m.key = "accuracy";
        m.higher_is_better = true;
        break;
    case TASK_MANTE:
        m.name = m.key = "accuracy";
        m.higher_is_better = true;
        score_mante(x, y, &m);
        return m;
    case TASK_READY_SET_GO:
        m.name = "relative interval error";
        m.key = "interval_error";
        score_ready_set_go(x, y, &m);
        break;
    case TASK_COUNT:
        assert(!"no such task");
        break;
    }
    snprintf(m.summary, sizeof m.summary, "%s=%.4g", m.key, m.value);
    return m;
}

void task_metric_line(const TaskSpec *s, const TaskMetric *m, double loss, char *buf, size_t n)
{
    if (n > 0)
        snprintf(buf, n, "evaluate: loss=%.4g %s", loss, m->summary);
}

void task_reference(const TaskSpec *s, const TaskBatch *x, TaskReference which, Tensor *y)
{
    assert(y->size == x->targets->size);
    int64_t T = x->T, B = x->batch;
    if (which == TASK_REF_TARGET || (which == TASK_REF_IDEAL && s->kind != TASK_MANTE)) {
        tensor_copy(y, x->targets);
        return;
    }
    if (which == TASK_REF_IDEAL) {
        for (int64_t t = 0; t < T; t++)
            for (int64_t b = 0; b < B; b++)
                AT(y, 1, t, b, 0) = (real)x->trial[b].ideal;
        return;
    }
    double c = 0;
    switch (s->kind) {
    case TASK_ADDING: c = 1; break;
    case TASK_DELAYED_ADDITION: c = 0.5 * (double)s->n; break;
    case TASK_FLIPFLOP: c = 1; break;
    case TASK_MANTE: c = 1; break;
    case TASK_READY_SET_GO: c = 0; break;
    case TASK_SINE: c = 0; break;
    case TASK_COUNT: assert(!"no such task"); break;
    }
    for (int64_t i = 0; i < y->size; i++)
        y->data[i] = (real)c;
}
