/* simulate.c: the simulate statement, from its clauses to the time loop.
 *
 *   simulate for 2s dt 0.1ms method rk4 batch 8 with u = sin(2 * pi * 5Hz * t)
 *            record E.r, I.r every 1ms continue
 *
 * Each run draws the initial state from `init` (or carries the last state on
 * with `continue`), builds the step graph and its plan, allocates everything,
 * and only then enters the time loop, which allocates nothing. States are
 * checked for NaN and Inf every so often and at the end, so a run that diverges
 * says where, and keeps its recordings up to there. Plastic synapses change in
 * the loop (plasticity.h); a rule that blows a weight up stops the run there.
 */
#include "data.h"
#include "fold.h"
#include "lower.h"
#include "plan.h"
#include "plasticity.h"
#include "runtime.h"
#include "xalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Allocations made inside the last time loop (0, or the plan is wrong): tests read it. */
long simulate_loop_allocations;

static const double DEFAULT_DT = 1e-4;   /* 0.1 ms, as Brian2 */
enum { CHECK_EVERY = 256 };              /* steps between NaN checks */
static const double MAX_STEPS = 1e12;    /* as `for N steps` (value_as_count) */

void runtime_init(Runtime *rt) { memset(rt, 0, sizeof *rt); rt->seed = 1; }

void runtime_clear_recordings(Runtime *rt)
{
    for (int i = 0; i < rt->nrecs; i++) {
        free(rt->recs[i].name);
        tensor_free(rt->recs[i].data);
    }
    free(rt->recs);
    rt->recs = NULL;
    rt->nrecs = 0;
    tensor_free(rt->times);
    rt->times = NULL;
}

void runtime_fini(Runtime *rt)
{
    runtime_clear_recordings(rt);
    runtime_free_loss(rt);
    for (int i = 0; i < rt->ndata; i++)
        data_free(rt->data[i].ds);
    free(rt->data);
    rt->data = NULL;
    rt->ndata = 0;
    model_free(rt->model);
    rt->model = NULL;
}

bool runtime_model(Runtime *rt, const Env *env, Diags *d, Span at)
{
    if (rt->model && !model_stale(rt->model, env) && rt->model->seed == rt->seed)
        return true;
    char *reinit = NULL;
    /* A new seed draws everything afresh; otherwise keep what still fits. */
    const Model *old = rt->model && rt->model->seed == rt->seed ? rt->model : NULL;
    Model *m = model_build(env, old, rt->seed, d, at, &reinit);
    if (!m) {
        free(reinit);
        return false;
    }
    if (reinit && old)
        fprintf(stderr, "note: the model changed; re-initialised %s\n", reinit);
    free(reinit);
    model_free(rt->model);
    rt->model = m;
    return true;
}

/* ---- clauses -------------------------------------------------------------- */

typedef struct SimClauses {
    double duration, dt, every;
    int64_t steps, every_steps, batch;
    bool in_steps, every_in_steps, carry_on, has_dt, has_method;
    Method method;
    const Node *record;
    const Node *with;
} SimClauses;

static double number(const Env *env, const Node *e) { return check_number(env, e); }

static void read_clauses(const Env *env, const Node *st, SimClauses *c)
{
    memset(c, 0, sizeof *c);
    c->dt = DEFAULT_DT;
    c->batch = 0;
    for (int i = 0; i < st->opts.n; i++) {
        const Node *o = st->opts.v[i];
        const char *w = o->name;
        if (!strcmp(w, "for")) {
            c->in_steps = o->op;
            if (o->op)
                c->steps = (int64_t)number(env, o->a);
            else
                c->duration = number(env, o->a);
        } else if (!strcmp(w, "dt")) {
            c->dt = number(env, o->a);
            c->has_dt = true;
        } else if (!strcmp(w, "method")) {
            c->has_method = true;
            c->method = !strcmp(o->a->name, "rk4") ? METHOD_RK4 : !strcmp(o->a->name, "exponential") ? METHOD_EXPONENTIAL : METHOD_EULER;
        } else if (!strcmp(w, "record")) {
            c->record = o;
        } else if (!strcmp(w, "every")) {
            c->every_in_steps = o->op;
            if (o->op)
                c->every_steps = (int64_t)number(env, o->a);
            else
                c->every = number(env, o->a);
        } else if (!strcmp(w, "continue")) {
            c->carry_on = true;
        } else if (!strcmp(w, "batch")) {
            c->batch = (int64_t)number(env, o->a);
        } else if (!strcmp(w, "with")) {
            c->with = o;
        }
    }
}

/* The name a record clause item stands for: "E.r" for E.r, E.r[0:10] or E (its output). */
static bool record_name(const Model *m, const Node *e, char *buf, size_t n, Diags *d)
{
    if (e->kind == AST_INDEX)
        e = e->a;
    if (e->kind == AST_MEMBER && e->a->kind == AST_NAME) {
        if (model_find_pop(m, e->a->name) < 0) {
            diag_error(d, e->span, "only population variables, inputs and outputs can be recorded; %s is not a population",
                       e->a->name);
            return false;
        }
        snprintf(buf, n, "%s.%s", e->a->name, e->name);
        return true;
    }
    if (e->kind == AST_NAME) {
        int p = model_find_pop(m, e->name);
        if (p >= 0) {
            const ModelInfo *info = m->pops[p].info;
            snprintf(buf, n, "%s.%s", e->name, info->out ? info->out : info->vars[0].name);
            return true;
        }
        snprintf(buf, n, "%s", e->name);
        return true;
    }
    diag_error(d, e->span, "record takes population variables such as E.r, inputs and outputs");
    return false;
}

/* Initial state: `continue` keeps the last; otherwise init draws, or 0. */
static bool init_states(Runtime *rt, const Env *env, Plan *plan, const Graph *g, int64_t B, bool carry_on, Diags *d)
{
    Model *m = rt->model;
    char tag[32];
    snprintf(tag, sizeof tag, "%llu", (unsigned long long)m->runs);
    for (int s = 0; s < g->nstates; s++) {
        int k = g->states[s].model_state;
        ModelState *ms = &m->states[k];
        real *slot0 = plan_value(plan, g->states[s].cur, 0, NULL, NULL);
        if (carry_on && ms->value && ms->value->dim[0] == B)
            memcpy(slot0, ms->value->data, (size_t)(B * ms->n) * sizeof(real));
        else if (!model_draw_init(m, env, k, tag, slot0, B, d))
            return false;
    }
    return true;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The first state value that is not finite, or -1. */
static int first_bad_state(const Plan *plan, const Graph *g, int64_t t, int64_t *at_index)
{
    for (int s = 0; s < g->nstates; s++) {
        int64_t ld, rows;
        const real *v = plan_value(plan, g->states[s].cur, t, &ld, &rows);
        for (int64_t i = 0; i < ld * rows; i++)
            if (!isfinite(v[i])) {
                *at_index = i;
                return s;
            }
    }
    return -1;
}

/* The [T, B, n] values of a data set's series for one input: its first T steps,
 * one trial for all (or one per trial when it has as many). */
static bool series_input(Runtime *rt, const Decl *decl, const ModelPort *in, int64_t T, int64_t B, Span at, Tensor **out,
                         Diags *d)
{
    DataSet *ds = NULL;
    for (int i = 0; i < rt->ndata; i++)
        if (rt->data[i].decl == decl)
            ds = rt->data[i].ds;
    if (!ds) {
        diag_error(d, at, "data set '%s' is not open: its data statement did not run", decl->name);
        return false;
    }
    Tensor *s = data_series(ds, d, at);   /* [T_s, N, n] */
    if (!s)
        return false;
    int64_t Ts = s->dim[0], N = s->rank == 3 ? s->dim[1] : 1, n = s->dim[s->rank - 1];
    bool ok = true;
    if (n != in->n) {
        diag_error(d, at, "'%s' has %lld channels but input %s has %lld", decl->name, (long long)n, in->name, (long long)in->n);
        ok = false;
    } else if (Ts < T) {
        diag_error(d, at, "'%s' has %lld steps, fewer than the %lld this run takes", decl->name, (long long)Ts, (long long)T);
        ok = false;
    } else if (N != 1 && N != B) {
        diag_error(d, at, "'%s' has %lld trials, and the run has a batch of %lld", decl->name, (long long)N, (long long)B);
        ok = false;
    }
    if (ok) {
        int64_t dim[3] = { T, B, n };
        *out = tensor_new(in->name, 3, dim, d, at);
        ok = *out != NULL;
        for (int64_t t = 0; ok && t < T; t++)
            for (int64_t b = 0; b < B; b++)
                memcpy((*out)->data + (t * B + b) * n, s->data + (t * N + (N == 1 ? 0 : b)) * n, (size_t)n * sizeof(real));
    }
    tensor_free(s);
    return ok;
}

bool simulate_stmt(Runtime *rt, const Env *env, const Node *st, Diags *d)
{
    SimClauses c;
    read_clauses(env, st, &c);
    if (!runtime_model(rt, env, d, st->span))
        return false;
    Model *m = rt->model;
    /* `continue` goes on with the last run's dt and method unless it names its own. */
    if (c.carry_on && rt->dt > 0) {
        if (!c.has_dt)
            c.dt = rt->dt;
        if (!c.has_method)
            c.method = rt->method;
    }
    double steps = c.in_steps ? (double)c.steps : c.duration / c.dt;
    if (!(steps <= MAX_STEPS)) {
        if (isfinite(steps))
            diag_error(d, st->span, "the duration is %.4g steps of dt = %g ms; a run takes at most 1e12 steps", steps, c.dt * 1e3);
        else
            diag_error(d, st->span, "the duration is more steps of dt = %g ms than can be counted; a run takes at most 1e12 steps",
                       c.dt * 1e3);
        return false;
    }
    int64_t T = c.in_steps ? c.steps : (int64_t)llround(steps);
    if (T < 1) {
        diag_error(d, st->span, "the duration is shorter than one step of dt = %g ms", c.dt * 1e3);
        return false;
    }
    if (!c.in_steps && fabs(c.duration / c.dt - (double)T) > 1e-6 * (double)T)
        fprintf(stderr, "note: %g ms is not a whole number of steps of dt = %g ms; simulating %lld steps (%g ms)\n",
                c.duration * 1e3, c.dt * 1e3, (long long)T, (double)T * c.dt * 1e3);
    if (c.carry_on && !rt->batch) {
        diag_error(d, st->span, "nothing to continue: no simulation has run yet");
        return false;
    }
    int64_t B = c.batch ? c.batch : c.carry_on ? rt->batch : 1;
    if (c.carry_on && c.batch && c.batch != rt->batch) {
        diag_error(d, st->span, "continue needs the batch of the last run (%lld), not %lld", (long long)rt->batch, (long long)c.batch);
        return false;
    }
    int64_t every = 1;
    if (c.every_in_steps)
        every = c.every_steps;
    else if (c.every > 0)
        every = (int64_t)llround(fmin(c.every / c.dt, MAX_STEPS));
    if (every < 1)
        every = 1;
    /* Samples fall on steps: an interval between two is rounded, and says so. */
    if (!c.every_in_steps && c.every > 0 && c.every / c.dt < (double)T &&
        fabs(c.every / c.dt - (double)every) > 1e-6 * (double)every) {
        char used[32] = "every step";
        if (every > 1)
            snprintf(used, sizeof used, "every %lld steps", (long long)every);
        fprintf(stderr, "note: recording every %g ms is %s of dt = %g ms; recording %s (%g ms)\n", c.every * 1e3,
                c.every < c.dt ? "less than one step" : "not a whole number of steps", c.dt * 1e3, used, (double)every * c.dt * 1e3);
    }

    /* Inputs bound to expressions of time. */
    InputBinding bindings[16];
    int nbind = 0;
    /* `with u = series`: a data set's array feeds the input step by step. */
    Tensor **series = xcalloc((size_t)m->ninputs + 1, sizeof *series);
    bool ok = true;
    if (c.with)
        for (int k = 0; k < c.with->list.n && nbind < 16 && ok; k++) {
            const Node *b = c.with->list.v[k];
            for (int i = 0; i < m->ninputs && ok; i++) {
                if (m->inputs[i].name != b->name)
                    continue;
                Decl *dd = b->a->kind == AST_NAME ? env_lookup(env, b->a->name) : NULL;
                if (dd && dd->kind == D_DATA)
                    ok = series_input(rt, dd, &m->inputs[i], T, B, b->a->span, &series[i], d);
                else
                    bindings[nbind++] = (InputBinding){ i, b->a };
            }
        }
    Graph g;
    graph_init(&g);
    LowerSpec ls = { c.method, c.dt, env, bindings, nbind };
    if (!ok || !lower_model(m, &ls, &g, d, st->span)) {
        graph_fini(&g);
        for (int i = 0; i < m->ninputs; i++)
            tensor_free(series[i]);
        free(series);
        return false;
    }
    /* Which values to record. */
    int nrec = c.record ? c.record->list.n : 0;
    int *wanted = xmalloc((size_t)(nrec + 1) * sizeof *wanted);
    char (*names)[128] = xmalloc((size_t)(nrec + 1) * sizeof *names);
    for (int k = 0; k < nrec && ok; k++) {
        const Node *e = c.record->list.v[k];
        ok = record_name(m, e, names[k], sizeof names[k], d);
        wanted[k] = ok ? graph_find(&g, names[k]) : -1;
        if (ok && wanted[k] < 0) {
            diag_error(d, e->span, "there is no '%s' to record", names[k]);
            ok = false;
        }
    }
    /* Plastic synapses: their rules read values the plan must keep. */
    Plasticity *pl = NULL;
    int nwanted = nrec;
    if (ok) {
        PlasticitySpec pspec = { .batch = B, .steps = T, .dt = c.dt };
        pl = plasticity_new(m, env, &g, &pspec, d, st->span, &ok);
        const int *extra;
        int nextra = plasticity_wanted(pl, &extra);
        wanted = xrealloc(wanted, (size_t)(nrec + nextra + 1) * sizeof *wanted);
        for (int k = 0; k < nextra; k++)
            wanted[nwanted++] = extra[k];
    }
    /* Sums fold into GEMMs, except where a plastic synapse's rule runs its products. */
    if (ok && !pl)
        graph_fold_sums(&g, wanted, nwanted);
    Plan plan;
    PlanSpec ps = { .batch = B, .steps = T, .wanted = wanted, .nwanted = nwanted, .dt = c.dt,
                    .t0 = c.carry_on ? rt->t_end : 0, .inputs = series, .ninputs = m->ninputs };
    ps.nchanging = plasticity_changing(pl, &ps.changing);
    char noise_name[64];
    snprintf(noise_name, sizeof noise_name, "noise#%llu", (unsigned long long)m->runs);
    ps.noise = model_stream(m, noise_name);
    if (ok)
        ok = plan_build(&plan, &g, &ps, d, st->span);
    if (ok && pl && !plasticity_bind(pl, &plan, d, st->span)) {
        plan_fini(&plan);
        ok = false;
    }
    if (!ok) {
        plasticity_free(pl);
        free(wanted);
        free(names);
        graph_fini(&g);
        for (int i = 0; i < m->ninputs; i++)
            tensor_free(series[i]);
        free(series);
        return false;
    }
    /* Recordings: [samples, B, n], also for a value the same in every trial (an
     * input bound to an expression of time), so every recording indexes alike. */
    int64_t samples = (T + every - 1) / every;
    Recording *recs = xcalloc((size_t)nrec + 1, sizeof *recs);
    int64_t stamps = nrec > 0 ? samples : 0;   /* a run that records nothing keeps no clock */
    Tensor *times = tensor_new("time", 1, &stamps, d, st->span);
    ok = times != NULL;
    for (int k = 0; k < nrec && ok; k++) {
        const GNode *n = &g.nodes[wanted[k]];
        int64_t width = n->shape.rank ? n->shape.dim[0] : 1;
        int64_t dim[3] = { samples, B, width };
        recs[k].name = xstrdup(names[k]);
        recs[k].dt = (double)every * c.dt;
        recs[k].data = tensor_new(recs[k].name, 3, dim, d, st->span);
        ok = recs[k].data != NULL;
    }
    if (ok)
        ok = init_states(rt, env, &plan, &g, B, c.carry_on, d);
    if (ok) {
        plan_prepare(&plan);
        plasticity_start(pl);
        if (c.carry_on)
            plasticity_resume_traces(pl, m);
        bool rule_failed = false;
        long allocs = xalloc_count;
        double start = now_seconds(), last_print = start;
        bool showed = false;
        int64_t t = 0, sample = 0;
        int bad = -1;
        int64_t bad_index = 0;
        for (; t < T; t++) {
            if (pl)
                rule_failed = !plasticity_step(pl, &plan, t);
            else
                plan_step(&plan, t);
            if (nrec > 0 && t % every == 0) {
                times->data[sample] = (real)(ps.t0 + (double)t * c.dt);
                for (int k = 0; k < nrec; k++) {
                    int64_t ld, rows;
                    const real *v = plan_value(&plan, wanted[k], t, &ld, &rows);
                    Tensor *r = recs[k].data;
                    int64_t width = r->dim[2];
                    for (int64_t b = 0; b < r->dim[1]; b++)
                        memcpy(r->data + (sample * r->dim[1] + b) * width, v + (rows > 1 ? b * ld : 0), (size_t)width * sizeof(real));
                }
                sample++;
            }
            if (rule_failed)
                break;
            if ((t + 1) % CHECK_EVERY == 0 || t + 1 == T) {
                bad = first_bad_state(&plan, &g, t + 1, &bad_index);
                if (bad >= 0)
                    break;
                if (rt->interrupted && *rt->interrupted)
                    break;
                if (rt->progress) {
                    double now = now_seconds();
                    if (now - start > 1.0 && now - last_print > 0.25) {
                        double rate = (double)(t + 1) / (now - start);
                        fprintf(stderr, "\r  simulate: t = %.4g s of %.4g s, %.0f steps/s, %.0f s left   ",
                                (double)(t + 1) * c.dt, (double)T * c.dt, rate, (double)(T - t - 1) / rate);
                        last_print = now;
                        showed = true;
                    }
                }
            }
        }
        simulate_loop_allocations = xalloc_count - allocs;
        plasticity_finish(pl);
        if (rt->stats) {
            double loop_s = now_seconds() - start;
            double rec_bytes = (double)times->size * sizeof(real);
            for (int k = 0; k < nrec; k++)
                rec_bytes += (double)recs[k].data->size * sizeof(real);
            fprintf(stderr, "stats: simulate steps=%lld batch=%lld loop_s=%.6g s_per_step=%.6g plan_mb=%.3f rec_mb=%.3f loop_allocs=%ld\n",
                    (long long)(t < T ? t + 1 : T), (long long)B, loop_s, loop_s / (double)(t < T ? t + 1 : T),
                    (double)plan.bytes / 1e6, rec_bytes / 1e6, simulate_loop_allocations);
        }
        if (showed)
            fprintf(stderr, "\r%80s\r", "");
        int64_t done = t < T ? t + 1 : T;
        if (rule_failed) {
            ok = false;   /* plasticity reported it: the synapse, the rule and the step */
        } else if (bad >= 0) {
            const GState *gs = &g.states[bad];
            diag_error(d, st->span, "the simulation diverged: %s[%lld] is not finite by t = %.4g s (step %lld); recordings up to then are kept",
                       gs->name, (long long)(bad_index % m->states[gs->model_state].n), (double)done * c.dt, (long long)done);
            diag_hint(d, "a smaller dt, method rk4, or smaller weights usually help");
            ok = false;
        } else if (t < T) {
            diag_error(d, st->span, "interrupted at t = %.4g s (step %lld of %lld); the state and recordings up to then are kept",
                       (double)done * c.dt, (long long)done, (long long)T);
            ok = false;
        }
        /* Keep the state for `continue` and print. */
        for (int s = 0; s < g.nstates; s++) {
            ModelState *ms = &m->states[g.states[s].model_state];
            int64_t dim[2] = { B, ms->n };
            if (!ms->value || ms->value->dim[0] != B) {
                tensor_free(ms->value);
                ms->value = tensor_new(ms->name, 2, dim, d, st->span);
            }
            if (ms->value)
                memcpy(ms->value->data, plan_value(&plan, g.states[s].cur, done, NULL, NULL), (size_t)(B * ms->n) * sizeof(real));
        }
        if (!plasticity_keep_traces(pl, m, d, st->span))
            ok = false;
        rt->t_end = ps.t0 + (double)done * c.dt;
        rt->dt = c.dt;
        rt->method = c.method;
        rt->batch = B;
        m->runs++;
        /* Replace the recordings (cut to what was simulated). */
        runtime_clear_recordings(rt);
        for (int k = 0; k < nrec; k++)
            recs[k].data->dim[0] = sample, recs[k].data->size = sample * recs[k].data->dim[1] * recs[k].data->dim[2];
        times->dim[0] = times->size = sample;
        rt->recs = recs;
        rt->nrecs = nrec;
        rt->times = times;
        recs = NULL;
        times = NULL;
    }
    if (recs) {
        for (int k = 0; k < nrec; k++) {
            free(recs[k].name);
            tensor_free(recs[k].data);
        }
        free(recs);
    }
    tensor_free(times);
    plasticity_free(pl);
    plan_fini(&plan);
    graph_fini(&g);
    free(wanted);
    free(names);
    for (int i = 0; i < m->ninputs; i++)
        tensor_free(series[i]);
    free(series);
    return ok;
}
