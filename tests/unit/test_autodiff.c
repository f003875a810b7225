/* test_autodiff.c: gradients of whole unrolled models against finite differences.
 *
 * Each case declares a small model with costs in cajal, runs a batch forward and
 * backward through an Episode, and compares every learnable parameter's gradient
 * with central differences of the total loss (double precision: relative error
 * below 1e-6). Cases cover both continuous integrators and exponential Euler,
 * discrete time, stacked, sparse, low-rank, one-to-one and signed synapses,
 * masked and windowed costs, regularisers, and truncated BPTT.
 */
#include "check.h"
#include "episode.h"
#include "interp.h"
#include "rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct Case {
    const char *name;
    const char *source;
    Method method;
    int64_t batch, steps, window;
    double dt;
    int64_t recompute;
} Case;

static double forward(Episode *e, const real *init_states[], int nstates)
{
    /* the same noise every pass, as a training step's is */
    Rng noise;
    rng_seed(&noise, 9);
    episode_reseed(e, noise);
    for (int s = 0; s < nstates; s++)
        memcpy(episode_state(e, s), init_states[s], (size_t)(e->batch * e->model->states[e->g.states[s].model_state].n) * sizeof(real));
    return episode_forward(e);
}

/* Fills every input, target and mask slot with deterministic values. */
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

static double check_case(const Case *c)
{
    Interp in;
    interp_init(&in);
    builtins_init();
    if (!interp_load_prelude(&in)) {
        interp_flush(&in);
        return INFINITY;
    }
    SourceFile *f = source_new(c->name, c->source, strlen(c->source));
    if (interp_exec(&in, f) != INTERP_OK || !runtime_model(&in.rt, &in.env, &in.diags, span_none())) {
        interp_flush(&in);
        interp_fini(&in);
        return INFINITY;
    }
    Model *m = in.rt.model;
    Episode e;
    EpisodeSpec spec = { c->batch, c->steps, c->dt, c->method, true, c->window, NULL, 0, false, c->recompute };
    if (!episode_init(&e, m, &in.env, &spec, &in.diags, span_none())) {
        interp_flush(&in);
        interp_fini(&in);
        return INFINITY;
    }
    Rng r;
    rng_seed(&r, 42);
    fill_batch(&e, &r);
    const real *init[64];
    real *owned[64];
    for (int s = 0; s < e.g.nstates && s < 64; s++) {
        int64_t n = c->batch * m->states[e.g.states[s].model_state].n;
        owned[s] = malloc((size_t)n * sizeof(real));
        for (int64_t i = 0; i < n; i++)
            owned[s][i] = (real)(rng_uniform(&r) - 0.5);
        init[s] = owned[s];
    }
    model_zero_grads(m);
    forward(&e, init, e.g.nstates);
    episode_backward(&e);
    double worst = 0;
    const double h = 1e-6;
    for (int p = 0; p < m->nparams; p++) {
        ModelParam *mp = &m->params[p];
        if (!mp->learn)
            continue;
        for (int64_t i = 0; i < mp->value->size; i++) {
            real keep = mp->value->data[i];
            mp->value->data[i] = keep + (real)h;
            double up = forward(&e, init, e.g.nstates);
            mp->value->data[i] = keep - (real)h;
            double down = forward(&e, init, e.g.nstates);
            mp->value->data[i] = keep;
            double numeric = (up - down) / (2 * h), analytic = mp->grad->data[i];
            /* Below 1e-4 the difference quotient's rounding (about 1e-16 / h) dominates:
             * there the comparison is absolute, at 1e-10. */
            double scale = fmax(fmax(fabs(numeric), fabs(analytic)), 1e-4);
            double err = fabs(numeric - analytic) / scale;
            if (err > worst)
                worst = err;
            if (err > 1e-6 && check_failed < 20)
                fprintf(stderr, "%s: %s[%lld]: analytic %.10g numeric %.10g\n", c->name, mp->name, (long long)i, analytic, numeric);
        }
    }
    for (int s = 0; s < e.g.nstates && s < 64; s++)
        free(owned[s]);
    episode_fini(&e);
    interp_flush(&in);
    interp_fini(&in);
    return worst;
}

static const char *const rate_rnn =
    "population E = Rate(5, tau = 20ms)\n"
    "input u[3]\n"
    "output z[2]\n"
    "synapse Win: u -> E { w ~ normal(0, 0.5); learn }\n"
    "synapse J: E -> E { w ~ normal(0, 0.4); learn }\n"
    "synapse Wout: E -> z { w ~ normal(0, 0.5); learn }\n"
    "cost fit = mse(z, target)\n"
    "cost calm = 1e-2 * mean(E.r ^ 2)\n"
    "cost tidy = 1e-3 * l2(J.w)\n";

int main(void)
{
#ifdef CAJAL_FLOAT
    printf("test_autodiff: finite differences need double precision; skipped in the float build\n");
    return check_done("test_autodiff");
#else
    const Case cases[] = {
        { "euler", rate_rnn, METHOD_EULER, 3, 7, 0, 5e-3, 0 },
        { "rk4", rate_rnn, METHOD_RK4, 3, 6, 0, 5e-3, 0 },
        { "exponential",
          "population E = Rate(4) { tau ~ uniform(10ms, 30ms) }\n"
          "input u[2]\noutput z[2]\n"
          "synapse u -> E { w ~ normal(0, 0.5); learn }\n"
          "synapse E -> E { w ~ normal(0, 0.4); learn }\n"
          "synapse E -> z { w ~ normal(0, 0.5); learn }\n"
          "cost fit = mse(z, target) during [10ms, 40ms]\n",
          METHOD_EXPONENTIAL, 2, 8, 0, 5e-3, 0 },
        { "discrete",
          "population E = Leaky(5, decay = 0.8, phi = tanh)\n"
          "input u[3]\noutput z[1]\n"
          "synapse u -> E { w ~ normal(0, 0.5); learn }\n"
          "synapse E -> E { w ~ normal(0, 0.4); learn }\n"
          "synapse E -> z { w ~ normal(0, 0.5); learn }\n"
          "cost fit = mse(z, target) at end\n",
          METHOD_EULER, 3, 6, 0, 1e-3, 0 },
        { "storage",
          "population E = Rate(6, tau = 10ms)\npopulation I = Rate(6, tau = 5ms)\n"
          "input u[2]\noutput z[2]\n"
          "synapse u -> E { w ~ normal(0, 0.5); learn }\n"
          "synapse S: E -> E { w ~ normal(0, 0.5); p = 0.2; learn }\n"
          "synapse M: E -> I { w ~ normal(0, 0.5); p = 0.5; learn }\n"
          "synapse K: I -> E { w ~ uniform(0.1, 0.5); sign -; learn }\n"
          "synapse L: E -> E lowrank(2) { m ~ normal(0, 1); n ~ normal(0, 1); learn }\n"
          "synapse D: I -> I { w ~ normal(0, 0.5); one_to_one; learn }\n"
          "synapse E -> z { w ~ normal(0, 0.5); learn }\n"
          "synapse I -> z { w ~ normal(0, 0.5); learn }\n"
          "cost fit = mse(z, target)\n",
          METHOD_EULER, 2, 5, 0, 2e-3, 0 },
        { "cross_entropy",
          "population E = Rate(5, tau = 10ms)\ninput u[3]\noutput z[4]\n"
          "synapse u -> E { w ~ normal(0, 0.5); learn }\n"
          "synapse E -> E { w ~ normal(0, 0.4); learn }\n"
          "synapse E -> z { w ~ normal(0, 0.5); learn }\n"
          "cost fit = cross_entropy(z, target)\n",
          METHOD_EULER, 3, 5, 0, 2e-3, 0 },
        { "truncated", rate_rnn, METHOD_EULER, 2, 8, 8, 5e-3, 0 },
        { "recompute", rate_rnn, METHOD_EULER, 2, 8, 0, 5e-3, 3 },
        { "recompute_noise",
          "population E = Rate(4, tau = 10ms)\ninput u[2]\noutput z[2]\nneuron Noisy(tau = 10ms) {\n"
          "  tau * dx/dt = -x + in + 0.1 * sqrt(tau) * xi\n  r = tanh(x)\n}\npopulation N = Noisy(3)\n"
          "synapse u -> N { w ~ normal(0, 0.5); learn }\nsynapse N -> N { w ~ normal(0, 0.4); learn }\n"
          "synapse N -> z { w ~ normal(0, 0.5); learn }\ncost fit = mse(z, target)\n",
          METHOD_EULER, 2, 7, 0, 5e-3, 2 },
        { "lstm",
          "cell LSTM(n) {\n state h[n], c[n]\n out h\n"
          " gate f = sigmoid(affine(in, h))\n gate i = sigmoid(affine(in, h))\n gate o = sigmoid(affine(in, h))\n"
          " z = tanh(affine(in, h))\n c' = c * f + z * i\n h' = tanh(c') * o\n}\n"
          "input u[3]\noutput z[2]\npopulation L = LSTM(4) from u\npopulation L2 = LSTM(3) from L\n"
          "synapse L2 -> z { w ~ normal(0, 0.5); learn }\ncost fit = mse(z, target)\n",
          METHOD_EULER, 2, 5, 0, 1e-3, 0 },
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        double worst = check_case(&cases[k]);
        printf("  %-14s worst relative error %.3g\n", cases[k].name, worst);
        CHECK(worst < 1e-6);
    }
    return check_done("test_autodiff");
#endif
}
