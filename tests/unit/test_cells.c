/* test_cells.c: the standard library's LSTM, subLSTM, GRU and RNN (stdlib/lstm.cajal, ...).
 *
 *   - gradients: every weight of a 2-layer stack of each cell with a readout,
 *     against central differences of the loss (double: relative error < 1e-6),
 *     and a planted wrong gradient that the comparison must catch;
 *   - PyTorch: weights of a 2-layer nn.RNN, nn.LSTM and nn.GRU, loaded by
 *     torch_map (`load ... as torch_lstm`), give PyTorch's outputs, loss and gradients
 *     (fixtures/torch, made by gen_torch.py): relative error < 1e-9 in double,
 *     1e-5 in float;
 *   - torch_map refuses what does not fit and names the parameter and both shapes;
 *   - training: Elman's RNN keeps the 3-bit flip-flop's bits (over 97.5%);
 *     hidden 32 learns the adding problem (Hochreiter and Schmidhuber
 *     1997) to mse < 0.01, where always answering 1 scores 1/6: LSTM and GRU at
 *     T = 50 in 1,000 steps, subLSTM at T = 20 in 3,000 (of the 5,000 the
 *     lecture allows); a 2-layer LSTM with a readout, at T = 20 in 600. Fixed
 *     seeds; double build only (the float build runs the same code, and these
 *     runs are the suite's longest).
 */
#include "check.h"
#include "episode.h"
#include "interp.h"
#include "io_npy.h"
#include "rng.h"
#include "torch_map.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- an interpreter with a script loaded ----------------------------------- */

typedef struct Session {
    Interp in;
    char *text;             /* what evaluate printed */
    size_t len;
} Session;

/* Runs source in a fresh interpreter; false after printing its diagnostics. */
static bool session_open(Session *s, const char *name, const char *source)
{
    memset(s, 0, sizeof *s);
    interp_init(&s->in);
    builtins_init();
    s->in.out = open_memstream(&s->text, &s->len);
    if (!interp_load_prelude(&s->in)) {
        interp_flush(&s->in);
        return false;
    }
    SourceFile *f = source_new(name, source, strlen(source));
    bool ok = interp_exec(&s->in, f) == INTERP_OK && runtime_model(&s->in.rt, &s->in.env, &s->in.diags, span_none());
    interp_flush(&s->in);
    return ok;
}

static void session_close(Session *s)
{
    fclose(s->in.out);
    s->in.out = NULL;
    free(s->text);
    interp_fini(&s->in);
}

/* ---- gradients against finite differences ------------------------------------ */

#ifndef CAJAL_FLOAT

static double forward_from(Episode *e, real **init)
{
    for (int s = 0; s < e->g.nstates; s++)
        memcpy(episode_state(e, s), init[s], (size_t)(e->batch * e->model->states[e->g.states[s].model_state].n) * sizeof(real));
    return episode_forward(e);
}

/* plant: spoil one analytic gradient, to show the comparison can fail */
static double gradient_check(const char *name, const char *source, bool plant)
{
    Session s;
    if (!session_open(&s, name, source)) {
        session_close(&s);
        return INFINITY;
    }
    Model *m = s.in.rt.model;
    Episode e;
    EpisodeSpec spec = { 2, 5, 1e-3, METHOD_EULER, true, 0, NULL, 0, false, 0 };
    if (!episode_init(&e, m, &s.in.env, &spec, &s.in.diags, span_none())) {
        interp_flush(&s.in);
        session_close(&s);
        return INFINITY;
    }
    Rng r;
    rng_seed(&r, 7);
    for (int k = -2; k < m->ninputs; k++) {
        real *x = episode_input(&e, k);
        int64_t n = k >= 0 ? m->inputs[k].n : m->outputs[0].n;
        for (int64_t i = 0; x && i < e.steps * e.batch * n; i++)
            x[i] = k == -2 ? (real)(rng_uniform(&r) < 0.7) : (real)(rng_uniform(&r) * 2 - 1);
    }
    real *init[16];
    for (int k = 0; k < e.g.nstates && k < 16; k++) {
        int64_t n = e.batch * m->states[e.g.states[k].model_state].n;
        init[k] = malloc((size_t)n * sizeof(real));
        for (int64_t i = 0; i < n; i++)
            init[k][i] = (real)(rng_uniform(&r) - 0.5);
    }
    model_zero_grads(m);
    forward_from(&e, init);
    episode_backward(&e);
    for (int p = 0; plant && p < m->nparams; p++)
        if (m->params[p].learn) {
            m->params[p].grad->data[0] += (real)1e-3;
            break;
        }
    double worst = 0;
    const double h = 1e-5;   /* 1e-6 leaves rounding near the 1e-6 bar; 1e-5 is 10x below it */
    for (int p = 0; p < m->nparams; p++) {
        ModelParam *mp = &m->params[p];
        for (int64_t i = 0; mp->learn && i < mp->value->size; i++) {
            real keep = mp->value->data[i];
            mp->value->data[i] = keep + (real)h;
            double up = forward_from(&e, init);
            mp->value->data[i] = keep - (real)h;
            double down = forward_from(&e, init);
            mp->value->data[i] = keep;
            double numeric = (up - down) / (2 * h), analytic = mp->grad->data[i];
            /* below 1e-4 the quotient's rounding dominates: compare absolutely */
            double err = fabs(numeric - analytic) / fmax(fmax(fabs(numeric), fabs(analytic)), 1e-4);
            if (err > worst)
                worst = err;
            if (err > 1e-6 && !plant && check_failed < 20)
                fprintf(stderr, "%s: %s[%lld]: analytic %.10g numeric %.10g\n", name, mp->name, (long long)i, analytic, numeric);
        }
    }
    for (int k = 0; k < e.g.nstates && k < 16; k++)
        free(init[k]);
    episode_fini(&e);
    session_close(&s);
    return worst;
}

#endif

/* A 2-layer stack of CELL with a readout, from the standard library. */
static char *stack_of(const char *module, const char *cell, int n_in, int h1, int h2, int n_out, double w_std, const char *extra)
{
    char *buf = malloc(1024);
    snprintf(buf, 1024,
             "import \"%s\"\n"
             "input u[%d]\noutput y[%d]\n"
             "population L = %s(%d) from u\npopulation L2 = %s(%d) from L\n"
             "synapse L2 -> y { w ~ normal(0, %g); learn }\n"
             "cost fit = mse(y, target)\n%s",
             module, n_in, n_out, cell, h1, cell, h2, w_std, extra);
    return buf;
}

/* ---- PyTorch's outputs and gradients ----------------------------------------- */

static const char *const fixtures = CAJAL_SRCDIR "/fixtures/torch";

#ifdef CAJAL_FLOAT
static const double FIXTURE_TOL = 1e-5;
#else
static const double FIXTURE_TOL = 1e-9;
#endif

/* max |a - b| / max |b| over n values */
static double relerr(const real *a, const real *b, int64_t n)
{
    double diff = 0, scale = 0;
    for (int64_t i = 0; i < n; i++) {
        diff = fmax(diff, fabs((double)a[i] - (double)b[i]));
        scale = fmax(scale, fabs((double)b[i]));
    }
    return diff / (scale > 0 ? scale : 1);
}

static Tensor *fixture(NpzReader *r, const char *key)
{
    Diags d;
    diags_init(&d);
    Tensor *t = npz_reader_read(r, key, &d, span_none());
    if (!t)
        diags_print(&d, stderr, false);
    diags_fini(&d);
    CHECK(t != NULL);
    return t;
}

/* Compares the gradient of parameter `param` with rows [g H, (g + 1) H) of
 * PyTorch's gradient `key`. */
static double grad_rows(const Model *m, NpzReader *r, const char *param, const char *key, int g)
{
    int p = model_find_param(m, param);
    CHECK(p >= 0);
    Tensor *t = fixture(r, key);
    if (p < 0 || !t) {
        tensor_free(t);
        return INFINITY;
    }
    const Tensor *grad = m->params[p].grad;
    double err = relerr(grad->data, t->data + (int64_t)g * grad->size, grad->size);
    if (err > FIXTURE_TOL)
        fprintf(stderr, "torch: %s against %s rows %d: relative error %.3g\n", param, key, g, err);
    tensor_free(t);
    return err;
}

/* Loads the fixture `kind` (lstm, gru) into a 2-layer model of the stdlib cell,
 * runs PyTorch's batch, and returns the worst relative error of outputs, loss
 * and every weight's gradient. */
static double torch_check(const char *kind, const char *module, const char *cell, const char *const *gates, int ngates)
{
    char *src = stack_of(module, cell, 3, 4, 4, 2, 0.5, "");
    Session s;
    bool ok = session_open(&s, kind, src);
    free(src);
    CHECK(ok);
    if (!ok) {
        session_close(&s);
        return INFINITY;
    }
    Model *m = s.in.rt.model;
    char path[512], mapping[32];
    snprintf(path, sizeof path, "%s/%s.npz", fixtures, kind);
    snprintf(mapping, sizeof mapping, "torch_%s", kind);
    ok = torch_map_load(m, mapping, path, &s.in.diags, span_none());
    CHECK(ok);
    CHECK_INT(s.in.diags.errors, 0);
    snprintf(path, sizeof path, "%s/%s_io.npz", fixtures, kind);
    Diags d;
    diags_init(&d);
    NpzReader *r = npz_reader_new(path, &d, span_none());
    CHECK(r != NULL);
    Episode e;
    EpisodeSpec spec = { 3, 5, 1e-3, METHOD_EULER, true, 0, NULL, 0, true, 0 };
    ok = ok && r && episode_init(&e, m, &s.in.env, &spec, &s.in.diags, span_none());
    CHECK(ok);
    if (!ok) {
        interp_flush(&s.in);
        diags_print(&d, stderr, false);
        diags_fini(&d);
        if (r)
            npz_reader_free(r);
        session_close(&s);
        return INFINITY;
    }
    Tensor *readout = fixture(r, "readout.weight");
    int w = model_find_param(m, "L2_to_y.w");
    CHECK(w >= 0 && readout && readout->size == m->params[w].value->size);
    if (w >= 0 && readout)
        memcpy(m->params[w].value->data, readout->data, (size_t)readout->size * sizeof(real));
    const char *io[3] = { "x", "target", "mask" };
    const int slot[3] = { 0, -1, -2 };
    for (int k = 0; k < 3; k++) {
        Tensor *t = fixture(r, io[k]);
        real *dst = episode_input(&e, slot[k]);
        CHECK(dst != NULL);
        if (t && dst)
            memcpy(dst, t->data, (size_t)t->size * sizeof(real));
        tensor_free(t);
    }
    for (int k = 0; k < e.g.nstates; k++)
        memset(episode_state(&e, k), 0, (size_t)(e.batch * m->states[e.g.states[k].model_state].n) * sizeof(real));
    model_zero_grads(m);
    double loss = episode_forward(&e);
    episode_backward(&e);

    Tensor *y = fixture(r, "y"), *want = fixture(r, "loss");
    double worst = 0, err;
    if (y && e.outputs && y->size == e.outputs->size) {
        err = relerr(e.outputs->data, y->data, y->size);
        if (err > FIXTURE_TOL)
            fprintf(stderr, "torch: %s outputs: relative error %.3g\n", kind, err);
        worst = fmax(worst, err);
    } else {
        worst = INFINITY;
    }
    if (want) {
        err = fabs(loss - want->data[0]) / fabs(want->data[0]);
        if (err > FIXTURE_TOL)
            fprintf(stderr, "torch: %s loss %.12g, PyTorch %.12g\n", kind, loss, (double)want->data[0]);
        worst = fmax(worst, err);
    }
    tensor_free(y);
    tensor_free(want);
    const char *layer[2] = { "L", "L2" };
    char param[64], key[64];
    for (int l = 0; l < 2; l++)
        for (int g = 0; g < ngates; g++) {
            bool split = strcmp(gates[g], "n") == 0;   /* the GRU candidate keeps two biases */
            snprintf(param, sizeof param, "%s.%s.W_in", layer[l], gates[g]);
            snprintf(key, sizeof key, "grad.weight_ih_l%d", l);
            worst = fmax(worst, grad_rows(m, r, param, key, g));
            snprintf(param, sizeof param, "%s.%s.W_h", layer[l], gates[g]);
            snprintf(key, sizeof key, "grad.weight_hh_l%d", l);
            worst = fmax(worst, grad_rows(m, r, param, key, g));
            snprintf(param, sizeof param, "%s.%s.%s", layer[l], gates[g], split ? "b_in" : "b");
            snprintf(key, sizeof key, "grad.bias_ih_l%d", l);
            worst = fmax(worst, grad_rows(m, r, param, key, g));
            snprintf(param, sizeof param, "%s.%s.%s", layer[l], gates[g], split ? "b_h" : "b");
            snprintf(key, sizeof key, "grad.bias_hh_l%d", l);
            worst = fmax(worst, grad_rows(m, r, param, key, g));
        }
    worst = fmax(worst, grad_rows(m, r, "L2_to_y.w", "grad.readout.weight", 0));
    tensor_free(readout);
    npz_reader_free(r);
    diags_fini(&d);
    episode_fini(&e);
    session_close(&s);
    return worst;
}

/* ---- what torch_map refuses ---------------------------------------------------- */

/* Loads fixture `file` with `mapping` into the model of `source`; returns the
 * first error message (static buffer), or "" when the load succeeded. */
static const char *map_error(const char *source, const char *mapping, const char *file, double *first_weight)
{
    static char msg[1024];
    msg[0] = '\0';
    Session s;
    if (!session_open(&s, "refuse", source)) {
        session_close(&s);
        return "(script failed)";
    }
    Model *m = s.in.rt.model;
    int p = m->nparams ? 0 : -1;
    real before = p >= 0 ? m->params[p].value->data[0] : 0;
    char path[512];
    snprintf(path, sizeof path, "%s/%s", fixtures, file);
    Diags d;
    diags_init(&d);
    if (!torch_map_load(m, mapping, path, &d, span_none())) {
        for (int i = 0; i < d.n; i++)
            if (d.v[i].level == DIAG_ERROR) {
                snprintf(msg, sizeof msg, "%s", d.v[i].msg);
                break;
            }
        /* a failed load leaves the model as it was */
        CHECK(p < 0 || m->params[p].value->data[0] == before);
    }
    if (first_weight)
        *first_weight = p >= 0 ? (double)m->params[p].value->data[0] : NAN;
    diags_fini(&d);
    session_close(&s);
    return msg;
}

static void check_contains(const char *msg, const char *part)
{
    CHECK(strstr(msg, part) != NULL);
    if (!strstr(msg, part))
        fprintf(stderr, "  message: %s\n  lacks:   %s\n", msg, part);
}

static void refusals(void)
{
    const char *lstm1 = "import \"lstm\"\ninput u[3]\npopulation L = LSTM(4) from u\n";
    const char *lstm_wide = "import \"lstm\"\ninput u[3]\npopulation L = LSTM(5) from u\npopulation L2 = LSTM(4) from L\n";
    const char *lstm_in2 = "import \"lstm\"\ninput u[2]\npopulation L = LSTM(4) from u\npopulation L2 = LSTM(4) from L\n";
    const char *rate = "input u[3]\npopulation E = Rate(4)\nsynapse u -> E { w = 1 }\n";
    const char *gru2 = "import \"gru\"\ninput u[3]\npopulation G = GRU(4) from u\npopulation G2 = GRU(4) from G\n";
    const char *msg;

    msg = map_error(lstm_wide, "torch_lstm", "lstm.npz", NULL);
    check_contains(msg, "weight_ih_l0 in '");
    check_contains(msg, "is [16, 3], but L.i.W_in, L.f.W_in, L.z.W_in, L.o.W_in stacked for L are [20, 3]");
    msg = map_error(lstm_in2, "torch_lstm", "lstm.npz", NULL);
    check_contains(msg, "is [16, 3], but L.i.W_in, L.f.W_in, L.z.W_in, L.o.W_in stacked for L are [16, 2]");
    msg = map_error(lstm1, "torch_lstm", "lstm.npz", NULL);
    check_contains(msg, "holds 2 nn.LSTM layers, but 1 population of the model has an LSTM cell (L)");
    msg = map_error(rate, "torch_lstm", "lstm.npz", NULL);
    check_contains(msg, "no population of the model has a cell that torch_lstm fits");
    msg = map_error(gru2, "torch_lstm", "lstm.npz", NULL);
    check_contains(msg, "no population of the model has a cell that torch_lstm fits");
    msg = map_error(gru2, "torch_gru", "lstm.npz", NULL);
    check_contains(msg, "weight_ih_l0 in '");
    check_contains(msg, "is [16, 3], but G.r.W_in, G.z.W_in, G.n.W_in stacked for G are [12, 3]");
    msg = map_error(gru2, "torch_gru", "../npy/savez.npz", NULL);
    check_contains(msg, "has no weight_ih_l0: torch_gru expects the state_dict of an nn.GRU");
    msg = map_error(gru2, "torch_lsmt", "gru.npz", NULL);
    check_contains(msg, "unknown weight mapping 'torch_lsmt'");
    msg = map_error(gru2, "torch_grus", "gru.npz", NULL);
    check_contains(msg, "did you mean 'torch_gru'?");
    double w = NAN;
    msg = map_error(gru2, "torch_gru", "gru.npz", &w);
    CHECK_STR(msg, "");
    CHECK(isfinite(w));
    const char *near = NULL;
    CHECK(torch_map_known("torch_lstm", NULL));
    CHECK(!torch_map_known("torch_lstn", &near));
    CHECK_STR(near, "torch_lstm");
}

/* ---- training ----------------------------------------------------------------- */

#ifndef CAJAL_FLOAT
/* The number after `key=` in what the script printed, or NaN. */
static double printed(Session *s, const char *key)
{
    fflush(s->in.out);
    const char *at = s->text ? strstr(s->text, key) : NULL;
    return at ? strtod(at + strlen(key), NULL) : NAN;
}


static double train_mse(const char *name, const char *source)
{
    Session s;
    bool ok = session_open(&s, name, source);
    CHECK(ok);
    double mse = ok ? printed(&s, "mse=") : NAN;
    session_close(&s);
    return mse;
}

#endif

/* The compiler's work on a cell, found by its structure and not by its name: the
 * input projections of all steps as one GEMM before the loop (hoist), all the
 * affine maps reading h as one GEMM per step, and the gate arithmetic as one
 * fused pass, the recurrent GEMM accumulating onto the input projection
 * (fold.h; the GRU's in the columns of r and z, its W_hn h kept apart, since r
 * multiplies it), in the projection's own buffer where nothing else reads it. A user's own cell written the same way gets the same plan. */
/* Runs source and builds a training episode (batch 4, T = 10) of its model;
 * false, after closing the session, if either fails. */
static bool open_episode(Session *s, Episode *e, const char *name, const char *source)
{
    bool ok = session_open(s, name, source);
    CHECK(ok);
    EpisodeSpec spec = { 4, 10, 1e-3, METHOD_EULER, true, 0, NULL, 0, false, 0 };
    if (!ok || !episode_init(e, s->in.rt.model, &s->in.env, &spec, &s->in.diags, span_none())) {
        interp_flush(&s->in);
        session_close(s);
        CHECK(false);
        return false;
    }
    return true;
}

static void plan_shape(const char *name, const char *source)
{
    Session s;
    Episode e;
    if (!open_episode(&s, &e, name, source))
        return;
    int hoisted = 0, hoisted_other = 0, loop_linear = 0, loop_fused = 0, onto = 0, in_place = 0;
    for (int i = 0; i < e.plan.nsteps; i++) {
        const PlanStep *st = &e.plan.steps[i];
        const GNode *n = &e.g.nodes[st->node];
        bool linear = st->kind == STEP_OP && n->op == OP_LINEAR;
        hoisted += st->seg == SEG_HOIST && linear;
        hoisted_other += st->seg == SEG_HOIST && st->kind == STEP_OP && !linear;
        loop_linear += st->seg == SEG_LOOP && linear;
        loop_fused += st->seg == SEG_LOOP && st->kind == STEP_FUSED;
        onto += st->seg == SEG_LOOP && linear && n->nin == 3 && e.plan.seg[n->in[2]] == SEG_HOIST;
        in_place += st->seg == SEG_LOOP && linear && n->nin == 3 && e.plan.ref[st->node].buf == e.plan.ref[n->in[2]].buf;
    }
    printf("  %-14s plan: %d hoisted GEMM, %d GEMMs (%d onto the hoisted one) and %d fused passes a step\n", name, hoisted,
           loop_linear, onto, loop_fused);
    CHECK_INT(hoisted, 1);
    CHECK_INT(hoisted_other, 0);   /* the GRU's W_in x + b_in joins the fused pass */
    CHECK_INT(loop_linear, 2);   /* the cell's recurrent maps, and the readout */
    CHECK_INT(onto, 1);
    /* in the projection's own buffer, except for the GRU, whose W_in x of
     * the candidate is read apart from the sum */
    CHECK_INT(in_place, strcmp(name, "GRU") != 0);
    CHECK_INT(loop_fused, 1);
    episode_fini(&e);
    session_close(&s);
}

/* A rate network's input, W_in u + J r, is one GEMM per step accumulating onto
 * the hoisted input projection, whichever synapse the script declares first. */
static void plain_fold(void)
{
    const char *orders[] = { "synapse Bin: u -> E { w ~ normal(0, 0.5); learn }\nsynapse J: E -> E { w ~ normal(0, 0.3); learn }\n",
                             "synapse J: E -> E { w ~ normal(0, 0.3); learn }\nsynapse Bin: u -> E { w ~ normal(0, 0.5); learn }\n" };
    for (int k = 0; k < 2; k++) {
        char src[512];
        snprintf(src, sizeof src,
                 "input u[2]\noutput z[1]\npopulation E = Rate(6, tau = 10ms)\n%s"
                 "synapse E -> z { w ~ normal(0, 0.3); learn }\ncost fit = mse(z, target)\n",
                 orders[k]);
        Session s;
        Episode e;
        if (!open_episode(&s, &e, "rate", src))
            return;
        int onto = 0;
        for (int i = 0; i < e.plan.nsteps; i++) {
            const PlanStep *st = &e.plan.steps[i];
            const GNode *n = &e.g.nodes[st->node];
            onto += st->kind == STEP_OP && n->op == OP_LINEAR && n->nin == 3 && e.plan.seg[n->in[2]] == SEG_HOIST &&
                    st->seg == SEG_LOOP;
        }
        printf("  rate network (%s first): %d GEMM onto the input projection\n", k ? "J" : "Bin", onto);
        CHECK_INT(onto, 1);
        episode_fini(&e);
        session_close(&s);
    }
}

static const char *const my_cell =
    "cell Mine(n) {\n"
    "  state hid[n], mem[n]\n"
    "  out hid\n"
    "  gate keep = sigmoid(affine(in, hid))\n"
    "  gate write = sigmoid(affine(in, hid))\n"
    "  cand = tanh(affine(in, hid))\n"
    "  gate show = sigmoid(affine(in, hid))\n"
    "  mem' = mem * keep + cand * write\n"
    "  hid' = tanh(mem') * show\n"
    "}\n"
    "input u[3]\noutput y[2]\npopulation L = Mine(8) from u\n"
    "synapse L -> y { w ~ normal(0, 0.1); learn }\ncost fit = mse(y, target)\n";

static char *cell_script(const char *module, const char *cell)
{
    char *buf = malloc(512);
    snprintf(buf, 512,
             "import \"%s\"\ninput u[3]\noutput y[2]\npopulation L = %s(8) from u\n"
             "synapse L -> y { w ~ normal(0, 0.1); learn }\ncost fit = mse(y, target)\n",
             module, cell);
    return buf;
}

#ifndef CAJAL_FLOAT
static char *adding_script(const char *module, const char *cell, int T, double lr, int steps, int seed)
{
    char *buf = malloc(1024);
    snprintf(buf, 1024,
             "import \"%s\"\nseed %d\ninput u[2]\noutput y[1]\n"
             "population L = %s(32) from u\n"
             "synapse L -> y { w ~ normal(0, 0.1); learn }\n"
             "cost fit = mse(y, target)\n"
             "train on adding(T = %d) with adam(lr = %g) batch 64 steps %d\n"
             "evaluate on adding(T = %d) batch 256\n",
             module, seed, cell, T, lr, steps, T);
    return buf;
}
#endif

int main(void)
{
    setenv("CAJAL_STDLIB", CAJAL_SRCDIR "/stdlib", 1);
    const char *lstm_gates[] = { "i", "f", "z", "o" }, *gru_gates[] = { "r", "z", "n" };
    const char *const rnn_gates[] = { "h" };
    double err = torch_check("rnn", "rnn", "RNN", rnn_gates, 1);
    printf("  torch rnn      worst relative error %.3g\n", err);
    CHECK(err < FIXTURE_TOL);
    err = torch_check("lstm", "lstm", "LSTM", lstm_gates, 4);
    printf("  torch lstm     worst relative error %.3g\n", err);
    CHECK(err < FIXTURE_TOL);
    err = torch_check("gru", "gru", "GRU", gru_gates, 3);
    printf("  torch gru      worst relative error %.3g\n", err);
    CHECK(err < FIXTURE_TOL);
    refusals();
    const char *mods[][2] = { { "lstm", "LSTM" }, { "sublstm", "SubLSTM" }, { "gru", "GRU" } };
    for (int k = 0; k < 3; k++) {
        char *src = cell_script(mods[k][0], mods[k][1]);
        plan_shape(mods[k][1], src);
        free(src);
    }
    plan_shape("user cell", my_cell);
    plain_fold();
#ifdef CAJAL_FLOAT
    printf("test_cells: finite differences and training run in the double build only\n");
#else
    const char *cells[][2] = { { "lstm", "LSTM" }, { "sublstm", "SubLSTM" }, { "gru", "GRU" }, { "rnn", "RNN" } };
    for (int k = 0; k < 4; k++) {
        char *src = stack_of(cells[k][0], cells[k][1], 3, 4, 3, 2, 0.5, "");
        double worst = gradient_check(cells[k][1], src, false);
        printf("  %-14s worst relative error %.3g\n", cells[k][1], worst);
        CHECK(worst < 1e-6);
        if (k == 0) {
            worst = gradient_check("planted fault", src, true);
            printf("  %-14s worst relative error %.3g (must fail)\n", "planted fault", worst);
            CHECK(worst > 1e-4);
        }
        free(src);
    }
    char *src = adding_script("lstm", "LSTM", 50, 1e-2, 1000, 3);
    double mse = train_mse("lstm_adding", src);
    free(src);
    printf("  LSTM adding T = 50, 1000 steps: mse %.4g\n", mse);
    CHECK(mse < 0.01);
    src = adding_script("gru", "GRU", 50, 1e-2, 1000, 1);
    mse = train_mse("gru_adding", src);
    free(src);
    printf("  GRU adding T = 50, 1000 steps: mse %.4g\n", mse);
    CHECK(mse < 0.01);
    /* PyTorch's subLSTM stays at the trivial error for about 2,000 steps; this
     * one learns by 1,500, so 3,000 of the 5,000 allowed keep the suite short */
    src = adding_script("sublstm", "SubLSTM", 20, 1e-2, 3000, 1);
    mse = train_mse("sublstm_adding", src);
    free(src);
    printf("  SubLSTM adding T = 20, 3000 steps: mse %.4g\n", mse);
    CHECK(mse < 0.01);
    /* Elman's RNN keeps the 3-bit flip-flop's bits (Sussillo and Barak 2013);
     * its readout sees h after this step's pulse, so it may beat the 97.5%
     * a readout one step late is held to (examples/train_flipflop.cajal). */
    Session ff;
    bool ok = session_open(&ff, "rnn_flipflop",
                      "import \"rnn\"\nseed 3\ninput u[3]\noutput z[3]\npopulation R = RNN(32) from u\n"
                      "synapse Wout: R -> z { w ~ normal(0, 0.1); learn }\ncost fit = mse(z, target)\n"
                      "task ff = flipflop(bits = 3, T = 100, p = 0.05)\n"
                      "train on ff with adam(lr = 3e-3) batch 32 steps 300 clip 1.0\nevaluate on ff batch 128\n");
    CHECK(ok);
    double accuracy = ok ? printed(&ff, "accuracy=") : NAN;
    session_close(&ff);
    printf("  RNN flip-flop, 300 steps: %.4g of the bits right\n", accuracy);
    CHECK(accuracy > 0.975);
    src = stack_of("lstm", "LSTM", 2, 16, 16, 1, 0.1,
                   "seed 1\ntrain on adding(T = 20) with adam(lr = 1e-2) batch 64 steps 600\nevaluate on adding(T = 20) batch 256\n");
    mse = train_mse("stack_adding", src);
    free(src);
    printf("  2-layer LSTM adding T = 20, 600 steps: mse %.4g\n", mse);
    CHECK(mse < 0.01);
#endif
    return check_done("test_cells");
}
