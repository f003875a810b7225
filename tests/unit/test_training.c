/* test_training.c: training as a whole, through episodes and the interpreter.
 *
 *   truncated BPTT   a window of at least T gives exactly the full gradient (bit
 *                    for bit); a shorter window K gives the finite-difference
 *                    gradient of each chunk's loss with the chunk's starting
 *                    state held fixed: the full run's states at 0, K, 2K, ...
 *                    start episodes of K steps, and their losses, weighted as
 *                    the full run weighs those steps, add up to the objective
 *                    truncated BPTT descends (Williams and Peng 1990).
 *   credit           on a linear map of 8 inputs to 4 outputs (Werfel, Xie and
 *                    Seung 2005), each credit-assignment method brings the cost
 *                    below 10% of its start, and the steps needed rank
 *                    backprop <= feedback alignment < node perturbation < weight
 *                    perturbation.
 *                    The perturbation methods also on the map as a direct
 *                    synapse u -> z, which the plan hoists out of the time loop.
 *   hoisted cost     a cost of inputs only, run before the loop, still weighs
 *                    every step.
 *   bad data         an npz data set whose arrays disagree: located errors.
 *   feedback         feedback alignment's matrices enter the backward pass
 *                    where the transposed weights were, and only there.
 *   mante            a continuous-time rate RNN trained on mante comes within
 *                    90% of the ideal integrator in each context and ignores the
 *                    irrelevant evidence: its psychometric slope is under 10% of
 *                    the relevant one's (Mante et al. 2013).
 *
 * The other training claims run as scripts: tests/cli/train_examples.sh (the
 * tasks learnt), train_bptt.sh, train_checkpoint.sh and train_errors.sh.
 * Fixed seeds and step caps throughout; nothing measures time. Finite
 * differences need double precision, and mante takes the longest (about 2 s):
 * the float build runs the rest.
 */
#include "check.h"
#include "episode.h"
#include "interp.h"
#include "io_npy.h"
#include "rng.h"
#include "tasks.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[64];

/* ---- an interpreter with a script run in it -------------------------------- */

/* Runs the prelude and then `source`; false (with the errors printed) if
 * anything fails. stdout of print/evaluate goes to /dev/null. */
static bool session(Interp *in, const char *name, const char *source)
{
    interp_init(in);
    builtins_init();
    in->out = fopen("/dev/null", "w");
    if (!interp_load_prelude(in)) {
        interp_flush(in);
        return false;
    }
    SourceFile *f = source_new(name, source, strlen(source));
    bool ok = interp_exec(in, f) == INTERP_OK && runtime_model(&in->rt, &in->env, &in->diags, span_none());
    interp_flush(in);
    return ok;
}

static void session_end(Interp *in)
{
    if (in->out && in->out != stdout)
        fclose(in->out);
    in->out = stdout;
    interp_fini(in);
}

/* Fills every input, target and mask slot of e with deterministic values:
 * inputs and targets uniform in [-1, 1), the mask 1 with probability 0.7. */
static void fill_batch(Episode *e, Rng *r)
{
    for (int k = -2; k < e->model->ninputs; k++) {
        real *x = episode_input(e, k);
        if (!x)
            continue;
        int64_t n = k >= 0 ? e->model->inputs[k].n : e->model->outputs[0].n;
        for (int64_t i = 0; i < e->steps * e->batch * n; i++)
            x[i] = k == -2 ? (real)(rng_uniform(r) < 0.7) : (real)(rng_uniform(r) * 2 - 1);
    }
}

static int64_t state_size(const Episode *e, int s)
{
    return e->batch * e->model->states[e->g.states[s].model_state].n;
}

static void fill_states(Episode *e, Rng *r)
{
    for (int s = 0; s < e->g.nstates; s++) {
        real *x = episode_state(e, s);
        for (int64_t i = 0; i < state_size(e, s); i++)
            x[i] = (real)(rng_uniform(r) - 0.5);
    }
}

/* Every learnable parameter's gradient, concatenated (caller frees). */
static real *grads_copy(const Model *m, int64_t *n)
{
    int64_t total = 0;
    for (int p = 0; p < m->nparams; p++)
        if (m->params[p].learn)
            total += m->params[p].value->size;
    real *g = malloc((size_t)(total + 1) * sizeof *g);
    int64_t off = 0;
    for (int p = 0; p < m->nparams; p++)
        if (m->params[p].learn) {
            memcpy(g + off, m->params[p].grad->data, (size_t)m->params[p].value->size * sizeof(real));
            off += m->params[p].value->size;
        }
    *n = total;
    return g;
}

/* ---- truncated BPTT --------------------------------------------------------- */

/* A continuous-time rate RNN (Euler) and a discrete tanh RNN, each with a masked
 * fit (and a rate regulariser over every step). No term of parameters only:
 * such a term is counted once per run, not per chunk. */
static const char *const ct_rnn =
    "population E = Rate(5, tau = 20ms)\n"
    "input u[3]\n"
    "output z[2]\n"
    "synapse Win: u -> E { w ~ normal(0, 0.5); learn }\n"
    "synapse J: E -> E { w ~ normal(0, 0.6); learn }\n"
    "synapse Wout: E -> z { w ~ normal(0, 0.5); learn }\n"
    "cost fit = mse(z, target)\n"
    "cost calm = 1e-2 * mean(E.r ^ 2)\n";

static const char *const discrete_rnn =
    "neuron Tanh(decay = 0) {\n  h' = tanh(in)\n  out h\n}\n"
    "population H = Tanh(4)\n"
    "input u[2]\n"
    "output z[2]\n"
    "synapse Win: u -> H { w ~ normal(0, 0.7); learn }\n"
    "synapse J: H -> H { w ~ normal(0, 0.7); learn }\n"
    "synapse Wout: H -> z { w ~ normal(0, 0.7); learn }\n"
    "cost fit = mse(z, target)\n";

/* The gradient of one batch with truncation window `window` (0: full). */
static real *gradient(Model *m, const Env *env, Diags *d, int64_t T, int64_t window, int64_t *n)
{
    Episode e;
    EpisodeSpec spec = { 3, T, 5e-3, METHOD_EULER, true, window, NULL, 0, false, 0 };
    if (!CHECK(episode_init(&e, m, env, &spec, d, span_none())))
        return NULL;
    Rng r;
    rng_seed(&r, 7);
    fill_batch(&e, &r);
    fill_states(&e, &r);
    model_zero_grads(m);
    episode_forward(&e);
    episode_backward(&e);
    episode_fini(&e);
    return grads_copy(m, n);
}

static void test_window_at_least_T(const char *name, const char *source)
{
    Interp in;
    if (!CHECK(session(&in, name, source))) {
        session_end(&in);
        return;
    }
    Model *m = in.rt.model;
    const int64_t T = 12;
    int64_t n0, n1, n2, n3;
    real *full = gradient(m, &in.env, &in.diags, T, 0, &n0);
    real *at_T = gradient(m, &in.env, &in.diags, T, T, &n1);
    real *beyond = gradient(m, &in.env, &in.diags, T, T + 5, &n2);
    real *short_ = gradient(m, &in.env, &in.diags, T, 4, &n3);
    if (full && at_T && beyond && short_) {
        CHECK_INT(n1, n0);
        CHECK_INT(n2, n0);
        /* bit-identical, not merely close */
        CHECK(memcmp(full, at_T, (size_t)n0 * sizeof(real)) == 0);
        CHECK(memcmp(full, beyond, (size_t)n0 * sizeof(real)) == 0);
        /* and a shorter window does change it (the check above is not vacuous) */
        double diff = 0;
        for (int64_t i = 0; i < n0; i++)
            diff = fmax(diff, fabs((double)full[i] - short_[i]));
        if (!CHECK(diff > 1e-6))
            fprintf(stderr, "%s: window 4 gives the full gradient (max difference %.3g)\n", name, diff);
    }
    free(full);
    free(at_T);
    free(beyond);
    free(short_);
    session_end(&in);
}

#ifndef CAJAL_FLOAT
/* The loss of one chunk: an episode of `len` steps started from the full run's
 * state at step t0, its steps weighted as the full run weighs steps t0 ..
 * t0 + len - 1. */
typedef struct Chunk {
    Episode e;
    int64_t t0, len;
    const double *weights;  /* the full run's, [costs.n * T] */
    int64_t T;
} Chunk;

static double chunk_loss(Chunk *c, real *const *states)
{
    Episode *e = &c->e;
    for (int s = 0; s < e->g.nstates; s++)
        memcpy(episode_state(e, s), states[s], (size_t)state_size(e, s) * sizeof(real));
    episode_forward(e);
    double loss = 0;
    for (int k = 0; k < e->costs.n; k++) {
        for (int64_t t = 0; t < c->len; t++) {
            double w = c->weights[k * c->T + c->t0 + t];
            if (w != 0)
                loss += w * *plan_value(&e->plan, e->costs.terms[k].node, t, NULL, NULL);
        }
    }
    return loss;
}

static void test_window_chunks(const char *name, const char *source, int64_t T, int64_t K)
{
    Interp in;
    if (!CHECK(session(&in, name, source))) {
        session_end(&in);
        return;
    }
    Model *m = in.rt.model;
    Episode full;
    EpisodeSpec spec = { 3, T, 5e-3, METHOD_EULER, true, K, NULL, 0, false, 0 };
    if (!CHECK(episode_init(&full, m, &in.env, &spec, &in.diags, span_none()))) {
        session_end(&in);
        return;
    }
    Rng r;
    rng_seed(&r, 11);
    fill_batch(&full, &r);
    fill_states(&full, &r);
    model_zero_grads(m);
    episode_forward(&full);
    episode_backward(&full);
    int64_t n;
    real *analytic = grads_copy(m, &n);
    double *numeric = calloc((size_t)n + 1, sizeof *numeric);
    const int64_t nin = m->inputs[0].n, nout = m->outputs[0].n, B = full.batch;
    const double h = 1e-6;
    int nchunks = 0;
    for (int64_t t0 = 0; t0 < T; t0 += K, nchunks++) {
        Chunk c = { .t0 = t0, .len = T - t0 < K ? T - t0 : K, .weights = full.weights, .T = T };
        /* stored (backward = true) so that every step's cost can be read; its
         * clock starts at 0, which these models do not read */
        EpisodeSpec cs = { B, c.len, 5e-3, METHOD_EULER, true, 0, NULL, 0, false, 0 };
        if (!CHECK(episode_init(&c.e, m, &in.env, &cs, &in.diags, span_none())))
            break;
        /* this chunk's inputs, targets and mask: rows t0 .. t0 + len - 1 */
        for (int k = -2; k < m->ninputs; k++) {
            real *dst = episode_input(&c.e, k), *src = episode_input(&full, k);
            if (!dst || !src)
                continue;
            int64_t row = B * (k >= 0 ? nin : nout);
            memcpy(dst, src + t0 * row, (size_t)(c.len * row) * sizeof(real));
        }
        /* its starting state: the full run's at step t0 */
        real *states[16];
        for (int s = 0; s < full.g.nstates && s < 16; s++) {
            states[s] = malloc((size_t)state_size(&full, s) * sizeof(real));
            memcpy(states[s], plan_value(&full.plan, full.g.states[s].cur, t0, NULL, NULL),
                   (size_t)state_size(&full, s) * sizeof(real));
        }
        int64_t off = 0;
        for (int p = 0; p < m->nparams; p++) {
            ModelParam *mp = &m->params[p];
            if (!mp->learn)
                continue;
            for (int64_t i = 0; i < mp->value->size; i++) {
                real keep = mp->value->data[i];
                mp->value->data[i] = keep + (real)h;
                double up = chunk_loss(&c, states);
                mp->value->data[i] = keep - (real)h;
                double down = chunk_loss(&c, states);
                mp->value->data[i] = keep;
                numeric[off + i] += (up - down) / (2 * h);
            }
            off += mp->value->size;
        }
        for (int s = 0; s < full.g.nstates && s < 16; s++)
            free(states[s]);
        episode_fini(&c.e);
    }
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double scale = fmax(fmax(fabs(numeric[i]), fabs(analytic[i])), 1e-4);
        double err = fabs(numeric[i] - analytic[i]) / scale;
        if (err > 1e-6 && check_failed < 20)
            fprintf(stderr, "%s: gradient[%lld]: truncated BPTT %.10g, chunks' finite differences %.10g\n", name,
                    (long long)i, (double)analytic[i], numeric[i]);
        worst = fmax(worst, err);
    }
    printf("  %-10s T=%lld window %lld (%d chunks): worst relative error %.3g\n", name, (long long)T, (long long)K,
           nchunks, worst);
    CHECK(worst < 1e-6);
    free(analytic);
    free(numeric);
    episode_fini(&full);
    session_end(&in);
}


#endif

/* ---- credit assignment on a linear map ------------------------------------ */

enum { LIN_N = 64, LIN_IN = 8, LIN_OUT = 4 };

/* x ~ N(0, 1)^8 and the target A x (A ~ N(0, 1/8), fixed). With T = 1 that is
 * one step; with T = 2, x and A x at both steps, counted at the second only
 * (mask [N, 2] = 0, 1). Returns the cost of w = 0 over the whole set: the mean
 * of (A x)^2. */
static double write_linear_set(const char *path, int T)
{
    Diags d;
    diags_init(&d);
    Rng r;
    rng_seed(&r, 2005);
    double A[LIN_OUT][LIN_IN];
    for (int i = 0; i < LIN_OUT; i++)
        for (int j = 0; j < LIN_IN; j++)
            A[i][j] = rng_normal(&r) / sqrt((double)LIN_IN);
    Tensor *x = tensor_new("inputs", 3, (int64_t[]){ LIN_N, T, LIN_IN }, &d, span_none());
    Tensor *y = tensor_new("targets", 3, (int64_t[]){ LIN_N, T, LIN_OUT }, &d, span_none());
    Tensor *mask = tensor_new("mask", 2, (int64_t[]){ LIN_N, T }, &d, span_none());
    double start = 0;
    for (int n = 0; n < LIN_N; n++) {
        real *xn = x->data + n * T * LIN_IN, *yn = y->data + n * T * LIN_OUT;
        for (int j = 0; j < LIN_IN; j++)
            xn[j] = (real)rng_normal(&r);
        for (int i = 0; i < LIN_OUT; i++) {
            double s = 0;
            for (int j = 0; j < LIN_IN; j++)
                s += A[i][j] * xn[j];
            yn[i] = (real)s;
            start += s * s;
        }
        for (int t = 1; t < T; t++) {
            memcpy(xn + t * LIN_IN, xn, LIN_IN * sizeof(real));
            memcpy(yn + t * LIN_OUT, yn, LIN_OUT * sizeof(real));
        }
        for (int t = 0; t < T; t++)
            mask->data[n * T + t] = t == T - 1;
    }
    NpzWriter *w = npz_writer_new(path, &d, span_none());
    CHECK(w && npz_writer_add(w, "inputs", x, &d, span_none()) && npz_writer_add(w, "targets", y, &d, span_none()) &&
          (T == 1 || npz_writer_add(w, "mask", mask, &d, span_none())) && npz_writer_commit(w, &d, span_none()));
    tensor_free(x);
    tensor_free(y);
    tensor_free(mask);
    diags_fini(&d);
    return start / (LIN_N * LIN_OUT);
}

/* The map W as a readout of a relay population whose state holds the last
 * input (so W's product runs in the time loop), and as a direct synapse from
 * the input (whose product and cost depend on inputs only: the plan hoists both
 * out of the time loop). */
static const char *const relay_map =
    "neuron Relay(decay = 0) {\n  v' = in\n  out v\n}\n"
    "population P = Relay(8)\n"
    "synapse u -> P { one_to_one; w = 1 }\n"
    "synapse W: P -> z { w = 0; learn }\n";
static const char *const direct_map = "synapse W: u -> z { w = 0; learn }\n";

typedef struct Credit {
    const char *by;
    double lr;
    int64_t cap;
    int64_t steps;          /* measured: to 10% of the start, or -1 */
} Credit;

enum { CRITERION_WINDOW = 16 };

/* Trains W from w = 0 by one method, sgd with batch 1, and returns the first
 * step at which the mean batch cost over the last CRITERION_WINDOW steps (a
 * quarter of an epoch) is below 10% of `start`, or -1 within the cap. */
static int64_t steps_to_criterion(const char *path, const char *map, const Credit *c, double start)
{
    char src[1024];
    snprintf(src, sizeof src,
             "seed 5\n"
             "data lin = npz(\"%s\")\n"
             "input u[%d]\noutput z[%d]\n"
             "%s"
             "cost fit = mse(z, target)\n"
             "train on lin with sgd(lr = %g) batch 1 steps %lld by %s\n",
             path, LIN_IN, LIN_OUT, map, c->lr, (long long)c->cap, c->by);
    Interp in;
    int64_t found = -1;
    if (CHECK(session(&in, c->by, src))) {
        const LossCurve *L = &in.rt.loss;
        CHECK_INT(L->n, c->cap);
        double sum = 0;
        for (int64_t i = 0; i < L->n && found < 0; i++) {
            sum += L->value[i];
            if (i >= CRITERION_WINDOW)
                sum -= L->value[i - CRITERION_WINDOW];
            if (i + 1 >= CRITERION_WINDOW && sum / CRITERION_WINDOW < 0.1 * start)
                found = i + 1;
        }
    }
    session_end(&in);
    return found;
}

/* Werfel, Xie and Seung 2005: with N inputs and M outputs, learning by the
 * gradient takes time of order N, node perturbation of order N M, weight
 * perturbation N^2 M. Each method runs at about its best learning rate (the
 * fastest of a grid lr = 0.4 / 1.5^k; set CAJAL_PROBE_CREDIT=1 to print the
 * grid), from the same seed and the same batches: a perturbation method's
 * noisy estimate needs a smaller rate. Measured when this test was written,
 * steps to 10% of the start: backprop 34, feedback alignment 34 (the same: with
 * one layer no transposed weight carries an error), node perturbation 173,
 * weight perturbation 257. The ratios to backprop, 5.1 and 7.6, are near M = 4
 * for node perturbation and well below N M = 32 for weight perturbation, which
 * they approach as the goal tightens: to 1% of the start the best were 48, 307
 * and 849 steps (6.4 and 17.7). */
static void test_credit_assignment(void)
{
    char path[128], path1[128];
    snprintf(path, sizeof path, "%s/linear.npz", tmpdir);
    snprintf(path1, sizeof path1, "%s/linear1.npz", tmpdir);
    double start = write_linear_set(path, 2);
    CHECK_NEAR(write_linear_set(path1, 1), start, 1e-12);
    Credit methods[] = {
        { "backprop", 0.2, 400, 0 },
        { "feedback_alignment", 0.2, 400, 0 },
        { "node_perturbation", 0.025, 1500, 0 },
        { "weight_perturbation", 0.01, 3000, 0 },
    };
    if (getenv("CAJAL_PROBE_CREDIT"))
        for (size_t k = 0; k < sizeof methods / sizeof *methods; k++)
            for (double lr = 0.4; lr > 1e-3; lr /= 1.5) {
                Credit t = methods[k];
                t.lr = lr;
                t.cap = 20000;
                printf("  probe %-20s lr %-8.3g steps %lld\n", t.by, lr, (long long)steps_to_criterion(path, relay_map, &t, start));
            }
    for (size_t k = 0; k < sizeof methods / sizeof *methods; k++) {
        Credit *c = &methods[k];
        c->steps = steps_to_criterion(path, relay_map, c, start);
        printf("  %-20s sgd(lr = %g) batch 1: cost below 10%% of its start (%.3g) after %lld steps (cap %lld)\n", c->by,
               c->lr, start, (long long)c->steps, (long long)c->cap);
        CHECK(c->steps > 0);
    }
    CHECK(methods[0].steps <= methods[1].steps);
    CHECK(methods[1].steps < methods[2].steps);
    CHECK(methods[2].steps < methods[3].steps);
    /* The same map as a direct synapse u -> z, on the same examples as single
     * steps: the perturbation methods must still find the products the plan
     * hoisted out of the time loop. */
    for (size_t k = 2; k < 4; k++) {
        Credit *c = &methods[k];
        int64_t steps = steps_to_criterion(path1, direct_map, c, start);
        printf("  %-20s direct u -> z: after %lld steps (cap %lld)\n", c->by, (long long)steps, (long long)c->cap);
        if (!CHECK(steps > 0))
            fprintf(stderr, "  %s never brought the direct map's cost below 10%% of its start\n", c->by);
    }
    unlink(path);
    unlink(path1);
}

/* The first error in d contains `text` and sits at line:col (line 0: any line). */
static void check_first_error(const Diags *d, const char *text, int line, int col)
{
    const Diag *first = NULL;
    for (int k = 0; k < d->n && !first; k++)
        if (d->v[k].level == DIAG_ERROR)
            first = &d->v[k];
    if (CHECK(first != NULL)) {
        int l = 0, c = 0;
        span_linecol(first->span, &l, &c);
        if (!CHECK(strstr(first->msg, text) != NULL))
            fprintf(stderr, "  expected an error containing \"%s\", got \"%s\"\n", text, first->msg);
        if (line > 0)
            CHECK_INT(l, line);
        CHECK_INT(c, col);
    }
}

/* ---- data sets whose arrays disagree --------------------------------------- */

/* Runs source expecting it to fail with an error containing `text` at line:col
 * (the first error). */
static void expect_error(const char *source, const char *text, int line, int col)
{
    Interp in;
    interp_init(&in);
    builtins_init();
    in.out = fopen("/dev/null", "w");
    CHECK(interp_load_prelude(&in));
    SourceFile *f = source_new("bad.cajal", source, strlen(source));
    CHECK(interp_exec(&in, f) == INTERP_ERROR);
    check_first_error(&in.diags, text, line, col);
    diags_clear(&in.diags);
    session_end(&in);
}

static void write_arrays(const char *path, const int64_t *din, const int64_t *dtg, const int64_t *dmask, int mask_rank)
{
    Diags d;
    diags_init(&d);
    Tensor *x = tensor_new("inputs", 3, din, &d, span_none());
    Tensor *y = tensor_new("targets", 3, dtg, &d, span_none());
    Tensor *m = dmask ? tensor_new("mask", mask_rank, dmask, &d, span_none()) : NULL;
    NpzWriter *w = npz_writer_new(path, &d, span_none());
    CHECK(w && npz_writer_add(w, "inputs", x, &d, span_none()) && npz_writer_add(w, "targets", y, &d, span_none()) &&
          (!m || npz_writer_add(w, "mask", m, &d, span_none())) && npz_writer_commit(w, &d, span_none()));
    tensor_free(x);
    tensor_free(y);
    tensor_free(m);
    diags_fini(&d);
}

/* The arrays of an npz data set must agree on trials and steps: an error at the
 * file's argument naming both arrays' shapes. */
static void test_bad_data(void)
{
    char path[128], src[512];
    snprintf(path, sizeof path, "%s/bad.npz", tmpdir);
    const char *fmt = "data d = npz(\"%s\")\ninput u[1]\noutput z[1]\nsynapse W: u -> z { w = 0; learn }\n"
                      "cost fit = mse(z, target)\ntrain on d steps 1\n";
    snprintf(src, sizeof src, fmt, path);
    write_arrays(path, (int64_t[]){ 4, 2, 1 }, (int64_t[]){ 3, 2, 1 }, NULL, 0);
    expect_error(src, "'inputs' [4, 2, 1] and 'targets' [3, 2, 1] disagree", 1, 14);
    write_arrays(path, (int64_t[]){ 4, 2, 1 }, (int64_t[]){ 4, 3, 1 }, NULL, 0);
    expect_error(src, "'inputs' [4, 2, 1] and 'targets' [4, 3, 1] disagree", 1, 14);
    write_arrays(path, (int64_t[]){ 4, 2, 1 }, (int64_t[]){ 4, 2, 1 }, (int64_t[]){ 4, 3 }, 2);
    expect_error(src, "mask", 1, 14);
    /* and the model's sizes against the data's: both named, at `on d` */
    write_arrays(path, (int64_t[]){ 4, 2, 2 }, (int64_t[]){ 4, 2, 1 }, NULL, 0);
    expect_error(src, "has 2 input channels but input u has 1", 6, 10);
    unlink(path);
}

/* ---- damaged checkpoints ------------------------------------------------------ */

static const char *const ck_model =
    "seed 3\n"
    "input u[3]\noutput z[3]\n"
    "population H = Rate(8, tau = 10ms)\n"
    "synapse Win: u -> H { w ~ normal(0, 1); learn }\n"
    "synapse Wout: H -> z { w ~ normal(0, 0.3); learn }\n"
    "cost fit = mse(z, target)\n"
    "task ff = flipflop(bits = 3, T = 20, p = 0.1)\n";

/* Copies the checkpoint `from` to `to` with train.step replaced by `step` and
 * every value of loss.fit by 1234.5678 (to find its bytes in the file). */
static void rewrite_checkpoint(const char *from, const char *to, double step)
{
    Diags d;
    diags_init(&d);
    NpzReader *r = npz_reader_new(from, &d, span_none());
    NpzWriter *w = npz_writer_new(to, &d, span_none());
    CHECK(r && w);
    for (int i = 0; r && w && i < npz_reader_count(r); i++) {
        const char *key = npz_reader_entry(r, i)->key;
        Tensor *t = npz_reader_read(r, key, &d, span_none());
        CHECK(t != NULL);
        if (!t)
            continue;
        if (!strcmp(key, "train.step"))
            t->data[0] = (real)step;
        if (!strcmp(key, "loss.fit"))
            for (int64_t k = 0; k < t->size; k++)
                t->data[k] = (real)1234.5678;
        CHECK(npz_writer_add(w, key, t, &d, span_none()));
        tensor_free(t);
    }
    CHECK(w && npz_writer_commit(w, &d, span_none()));
    npz_reader_free(r);
    diags_fini(&d);
}

/* Flips one byte of the first value of loss.fit in the file (stored, not
 * compressed), so only that array's CRC-32 is wrong. */
static void corrupt_loss(const char *path)
{
    FILE *f = fopen(path, "r+b");
    if (!CHECK(f != NULL))
        return;
    static unsigned char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    real v = (real)1234.5678;
    size_t at = 0;
    for (size_t i = 0; i + sizeof v <= n && !at; i++)
        if (!memcmp(buf + i, &v, sizeof v))
            at = i;
    if (CHECK(at != 0)) {
        fseek(f, (long)at, SEEK_SET);
        fputc(buf[at] ^ 0x40, f);
    }
    fclose(f);
}

/* Resumes `ck` in a session that trained 3 steps: the statement must fail at
 * the resume clause with `text` and leave every parameter as it was. */
static void expect_resume_error(const char *ck, const char *text)
{
    char src[1024];
    snprintf(src, sizeof src, "%strain on ff with adam(lr = 1e-2) batch 4 steps 3\n", ck_model);
    Interp in;
    if (!CHECK(session(&in, "resume.cajal", src))) {
        session_end(&in);
        return;
    }
    Model *m = in.rt.model;
    int64_t total = 0;
    for (int i = 0; i < m->nparams; i++)
        total += m->params[i].value->size;
    real *before = malloc((size_t)total * sizeof *before);
    for (int i = 0, off = 0; i < m->nparams; off += (int)m->params[i].value->size, i++)
        memcpy(before + off, m->params[i].value->data, (size_t)m->params[i].value->size * sizeof(real));
    int64_t curve = in.rt.loss.n;
    char line[256];
    snprintf(line, sizeof line, "train on ff with adam(lr = 1e-2) batch 4 steps 10 resume \"%s\"\n", ck);
    SourceFile *f = source_new("resume2.cajal", line, strlen(line));
    CHECK(interp_exec(&in, f) == INTERP_ERROR);
    check_first_error(&in.diags, text, 0, 51);   /* the resume clause */
    CHECK_INT(in.rt.loss.n, curve);
    for (int i = 0, off = 0; i < m->nparams; off += (int)m->params[i].value->size, i++)
        CHECK(!memcmp(before + off, m->params[i].value->data, (size_t)m->params[i].value->size * sizeof(real)));
    free(before);
    diags_clear(&in.diags);
    session_end(&in);
}

/* A checkpoint whose train.step is not a whole number in [0, steps), or one of
 * whose arrays is damaged, is an error at the resume clause found before
 * anything changes: no step runs, no parameter and no loss curve changes. */
static void test_damaged_checkpoints(void)
{
    char good[128], bad[128], src[1024];
    snprintf(good, sizeof good, "%s/good.npz", tmpdir);
    snprintf(bad, sizeof bad, "%s/bad.npz", tmpdir);
    snprintf(src, sizeof src, "%strain on ff with adam(lr = 1e-2) batch 4 steps 5 checkpoint \"%s\" every 5\n", ck_model, good);
    Interp in;
    CHECK(session(&in, "ck.cajal", src));
    session_end(&in);
    /* the good one resumes */
    rewrite_checkpoint(good, bad, 5);
    snprintf(src, sizeof src, "%strain on ff with adam(lr = 1e-2) batch 4 steps 10 resume \"%s\"\n", ck_model, bad);
    CHECK(session(&in, "ok.cajal", src));
    CHECK_INT(in.rt.loss.n, 10);
    session_end(&in);
    static const struct {
        double step;
        const char *text;
    } cases[] = {
        { 3.5, "train.step in '" },
        { -4, "is -4, not a whole number of steps" },
        { 10, "is already at step 10 of the 10" },
        { 1e300, ", not a whole number of steps" },   /* inf in a float build */
        { NAN, "is nan, not a whole number of steps" },
        { INFINITY, "is inf, not a whole number of steps" },
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        rewrite_checkpoint(good, bad, cases[k].step);
        expect_resume_error(bad, cases[k].text);
    }
    rewrite_checkpoint(good, bad, 5);
    corrupt_loss(bad);
    expect_resume_error(bad, "array 'loss.fit' in '");
    unlink(good);
    unlink(bad);
}

/* ---- a hoisted cost --------------------------------------------------------- */

/* A map straight from input to output, with its cost, depends on the inputs
 * only, so the plan runs it for all T steps at once before the time loop. Its
 * cost must still be the mean over every step: inputs 1, 1 and targets 1, 3
 * at w = 0 cost (1 + 9) / 2 = 5, as the same map through a relay population
 * (whose cost runs in the loop) does. */
static void test_hoisted_cost(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/two_steps.npz", tmpdir);
    Diags d;
    diags_init(&d);
    Tensor *x = tensor_new("inputs", 3, (int64_t[]){ 1, 2, 1 }, &d, span_none());
    Tensor *y = tensor_new("targets", 3, (int64_t[]){ 1, 2, 1 }, &d, span_none());
    x->data[0] = x->data[1] = 1;
    y->data[0] = 1;
    y->data[1] = 3;
    NpzWriter *w = npz_writer_new(path, &d, span_none());
    CHECK(w && npz_writer_add(w, "inputs", x, &d, span_none()) && npz_writer_add(w, "targets", y, &d, span_none()) &&
          npz_writer_commit(w, &d, span_none()));
    tensor_free(x);
    tensor_free(y);
    diags_fini(&d);
    const char *maps[] = {
        "synapse W: u -> z { w = 0; learn }\n",
        "neuron Relay(decay = 0) {\n  v' = in\n  out v\n}\npopulation P = Relay(1)\n"
        "synapse u -> P { one_to_one; w = 1 }\nsynapse W: P -> z { w = 0; learn }\n",
    };
    for (int k = 0; k < 2; k++) {
        char src[1024];
        snprintf(src, sizeof src,
                 "data d = npz(\"%s\")\ninput u[1]\noutput z[1]\n%scost fit = mse(z, target)\n"
                 "train on d with sgd(lr = 1e-9) batch 1 steps 1\n",
                 path, maps[k]);
        Interp in;
        if (CHECK(session(&in, k ? "relay" : "direct", src)) && CHECK_INT(in.rt.loss.n, 1))
            if (!CHECK_NEAR(in.rt.loss.value[0], 5, 1e-12))
                fprintf(stderr, "  the %s map's cost over two steps is %g, not 5\n", k ? "relay" : "direct",
                        in.rt.loss.value[0]);
        session_end(&in);
    }
    unlink(path);
}

/* ---- feedback alignment ------------------------------------------------------ */

/* The backward pass with each weight's feedback matrix equal to the weight
 * itself is backprop; with other matrices the output weights' gradient is
 * still backprop's (they read no transposed weight) and the others' differ. */
static void test_feedback_matrices(void)
{
    Interp in;
    if (!CHECK(session(&in, "fa", ct_rnn))) {
        session_end(&in);
        return;
    }
    Model *m = in.rt.model;
    Episode e;
    EpisodeSpec spec = { 3, 8, 5e-3, METHOD_EULER, true, 0, NULL, 0, false, 0 };
    if (!CHECK(episode_init(&e, m, &in.env, &spec, &in.diags, span_none()))) {
        session_end(&in);
        return;
    }
    Rng r;
    rng_seed(&r, 3);
    fill_batch(&e, &r);
    fill_states(&e, &r);
    real *states[16];
    for (int s = 0; s < e.g.nstates && s < 16; s++) {
        states[s] = malloc((size_t)state_size(&e, s) * sizeof(real));
        memcpy(states[s], episode_state(&e, s), (size_t)state_size(&e, s) * sizeof(real));
    }
    int64_t n = 0;
    real *bp = NULL, *same = NULL, *other = NULL;
    Tensor *owned[64];
    int nowned = 0;
    for (int pass = 0; pass < 3; pass++) {
        for (int i = 0; i < e.g.n; i++) {
            const GNode *g = &e.g.nodes[i];
            if (g->kind != G_OP || g->op != OP_LINEAR || !e.bw.needs[g->in[1]] || e.bw.feedback[g->in[1]])
                continue;
            const Tensor *W = e.g.nodes[g->in[1]].tensor;
            if (pass == 0)
                continue;
            Tensor *B = tensor_new("B", W->rank, W->dim, &in.diags, span_none());
            for (int64_t k = 0; k < B->size; k++)
                B->data[k] = pass == 1 ? W->data[k] : (real)(rng_normal(&r) * 0.5);
            e.bw.feedback[g->in[1]] = B;
            owned[nowned++] = B;
        }
        for (int s = 0; s < e.g.nstates && s < 16; s++)
            memcpy(episode_state(&e, s), states[s], (size_t)state_size(&e, s) * sizeof(real));
        model_zero_grads(m);
        episode_forward(&e);
        episode_backward(&e);
        real *g = grads_copy(m, &n);
        *(pass == 0 ? &bp : pass == 1 ? &same : &other) = g;
        for (int k = 0; k < nowned; k++)
            tensor_free(owned[k]);
        nowned = 0;
        memset(e.bw.feedback, 0, (size_t)e.g.n * sizeof *e.bw.feedback);
    }
    CHECK(nowned == 0);
    double worst_same = 0, out_diff = 0, hidden_diff = 0;
    int64_t off = 0;
    for (int p = 0; p < m->nparams; p++) {
        ModelParam *mp = &m->params[p];
        if (!mp->learn)
            continue;
        for (int64_t i = 0; i < mp->value->size; i++) {
            double a = bp[off + i];
            worst_same = fmax(worst_same, fabs(same[off + i] - a) / fmax(fabs(a), 1e-12));
            double d = fabs(other[off + i] - a);
            if (!strcmp(mp->name, "Wout.w"))
                out_diff = fmax(out_diff, d);
            else
                hidden_diff = fmax(hidden_diff, d);
        }
        off += mp->value->size;
    }
    printf("  feedback matrices: B = W gives backprop's gradient (worst relative difference %.3g); a random B changes\n"
           "    the readout's gradient by %.3g and the others' by up to %.3g\n", worst_same, out_diff, hidden_diff);
    CHECK(worst_same < 1e-12);
    CHECK(out_diff == 0);
    CHECK(hidden_diff > 1e-6);
    free(bp);
    free(same);
    free(other);
    for (int s = 0; s < e.g.nstates && s < 16; s++)
        free(states[s]);
    episode_fini(&e);
    session_end(&in);
}

#ifndef CAJAL_FLOAT
/* ---- mante: context-dependent integration ---------------------------------- */

/* The continuous-time rate RNN tau dx/dt = -x + J tanh(x) + B u, dt/tau = 0.1
 * (training's dt is 1 ms, so tau = 10 ms), trained on mante at its defaults,
 * then scored on 8000 fresh trials: in each context, accuracy at least 90% of
 * the ideal integrator's on the same trials, and the psychometric slope of the
 * irrelevant evidence under 10% of the relevant one's.
 *
 * The relevant slope of a network near the ideal is about 2.3; the irrelevant
 * slope's sampling error is about 1 / (0.3 sqrt(4000)) = 0.05 per context (the
 * ideal integrator's own, printed, is of that size). The irrelevant slope is
 * demanding: a leak of a few percent of the irrelevant evidence into the
 * decision shows. Constant-rate Adam leaves the weights jittering enough for
 * slopes of 0.1 to 0.4 from one seed to the next; with the learning rate
 * decaying to 0 (cosine) seeds 1 to 5 gave at most 0.15 when this was written
 * (seed 1: 0.06 and 0.13), against a relevant slope of 2.3. */
static void test_mante(void)
{
    static const char *const source =
        "seed 1\n"
        "input u[4]\n"
        "output z[1]\n"
        "population H = Rate(64, tau = 10ms)\n"
        "synapse Win: u -> H { w ~ normal(0, 1); learn }\n"
        "synapse J: H -> H { w ~ normal(0, 1.0 / sqrt(64)); learn }\n"
        "synapse Wout: H -> z { w ~ normal(0, 0.1); learn }\n"
        "cost fit = mse(z, target)\n"
        "train on mante() with adam(lr = 3e-3, schedule = cosine()) batch 32 steps 600 clip 1.0\n";
    Interp in;
    if (!CHECK(session(&in, "mante", source))) {
        session_end(&in);
        return;
    }
    Model *m = in.rt.model;
    TaskSpec ts;
    TaskBatch tb;
    Rng r;
    rng_seed(&r, 1013);
    const int64_t B = 8000;
    if (!CHECK(task_spec("mante", NULL, NULL, NULL, 0, &ts, &in.diags, span_none())) ||
        !CHECK(task_generate(&ts, &r, B, &tb, &in.diags, span_none()))) {
        session_end(&in);
        return;
    }
    Episode e;
    EpisodeSpec spec = { B, tb.T, 1e-3, METHOD_EULER, false, 0, NULL, 0, true, 0 };
    if (CHECK(episode_init(&e, m, &in.env, &spec, &in.diags, span_none()))) {
        memcpy(episode_input(&e, 0), tb.inputs->data, (size_t)tb.inputs->size * sizeof(real));
        real *target = episode_input(&e, -1), *mask = episode_input(&e, -2);
        if (target)
            memcpy(target, tb.targets->data, (size_t)tb.targets->size * sizeof(real));
        if (mask)
            memcpy(mask, tb.mask->data, (size_t)tb.mask->size * sizeof(real));
        for (int s = 0; s < e.g.nstates; s++)
            CHECK(model_draw_init(m, &in.env, e.g.states[s].model_state, "evaluate", episode_state(&e, s), B, &in.diags));
        episode_forward(&e);
        TaskMetric mt = task_metric(&ts, &tb, e.outputs);
        Tensor *ideal = tensor_new("ideal", 3, tb.targets->dim, &in.diags, span_none());
        task_reference(&ts, &tb, TASK_REF_IDEAL, ideal);
        TaskMetric mi = task_metric(&ts, &tb, ideal);
        printf("  mante ideal integrator: slopes relevant / irrelevant: motion %.4g / %.4g, colour %.4g / %.4g\n",
               mi.slope_relevant[0], mi.slope_irrelevant[0], mi.slope_relevant[1], mi.slope_irrelevant[1]);
        tensor_free(ideal);
        const char *ctx[2] = { "motion", "colour" };
        for (int c = 0; c < 2; c++) {
            printf("  mante %-6s accuracy %.4g (ideal %.4g, %lld trials), slope relevant %.4g irrelevant %.4g\n", ctx[c],
                   mt.accuracy_context[c], mt.ideal_context[c], (long long)mt.trials_context[c], mt.slope_relevant[c],
                   mt.slope_irrelevant[c]);
            CHECK(mt.accuracy_context[c] >= 0.9 * mt.ideal_context[c]);
            CHECK(fabs(mt.slope_irrelevant[c]) < 0.1 * fabs(mt.slope_relevant[c]));
            CHECK(mt.slope_relevant[c] > 1);
        }
        episode_fini(&e);
    }
    task_batch_free(&tb);
    session_end(&in);
}

#endif

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cajal_training_XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    test_window_at_least_T("ct_rnn", ct_rnn);
    test_window_at_least_T("discrete", discrete_rnn);
#ifndef CAJAL_FLOAT
    test_window_chunks("ct_rnn", ct_rnn, 12, 4);
    test_window_chunks("ct_rnn", ct_rnn, 10, 4);
    test_window_chunks("discrete", discrete_rnn, 11, 3);
#endif
    test_credit_assignment();
    test_hoisted_cost();
    test_bad_data();
    test_feedback_matrices();
    test_damaged_checkpoints();
#ifndef CAJAL_FLOAT
    test_mante();
#endif
    rmdir(tmpdir);
    return check_done("test_training");
}
