/* test_plasticity.c: local learning rules in the time loop, end to end.
 *
 * Each test runs cajal scripts through the interpreter, as the command line
 * does, and reads the model's weights and recordings:
 *
 *   - the fused executor's COLUMN operands (one value per row), forward and VJP;
 *   - the fused update-and-product kernel against the BLAS path (a row scale and
 *     ?ger or ?gemm, then the plan's own product): the same weights and states
 *     at batch 1 and 3, with a stacked block, a sign, a constraint, a mask;
 *   - the time loop allocates nothing with plastic synapses of every kind;
 *   - Oja's rule finds the first principal component of correlated inputs
 *     (cosine above 0.99 at eta 1e-3, about 0.98 at 5e-3) with norm 1 +- 0.01;
 *     Hebb's grows without bound and constrain l2(w) = 1 stops it;
 *   - BCM with K patterns becomes selective: one response near K (the threshold
 *     scale is 1), the others near 0;
 *   - Vogels' rule: at three excitatory drives spanning a factor of 4 the
 *     input-weighted rate E[x y] / E[x] ends within 1% of r0, and the learned
 *     inhibition co-tunes with excitation (correlation above 0.95);
 *   - the selectron's L1 bound keeps the spike probability under p (omega/theta)^2
 *     (plus three standard errors), and reaches it in the tight case;
 *   - a synapse both learn and plastic: the gradient is the sum over steps of
 *     dL/dW_t with the weights each step used (finite differences agree when the
 *     rule's changes do not depend on the parameters);
 *   - a rule that blows the weights up stops the run naming the synapse, the rule
 *     and the step, and keeps the weights from before that step;
 *   - bad input: a signal nothing supplies, a low-rank synapse, spike events.
 *
 * Fixed seeds and step caps; no timing.
 */
#include "check.h"
#include "builtins.h"
#include "episode.h"
#include "fused.h"
#include "interp.h"
#include "plasticity.h"
#include "xalloc.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>

extern long simulate_loop_allocations;

#ifdef CAJAL_FLOAT
static const double same_tol = 2e-4;      /* fused kernel against BLAS */
#else
static const double same_tol = 1e-10;
#endif

static FILE *devnull;

/* ---- driving the interpreter ------------------------------------------------ */

static void start(Interp *in)
{
    interp_init(in);
    in->out = devnull;
    if (!interp_load_prelude(in)) {
        interp_flush(in);
        fprintf(stderr, "test_plasticity: the prelude did not load\n");
        exit(1);
    }
}

/* Runs a script; the first error message (if any) goes to err. */
static bool run_err(Interp *in, char *err, size_t nerr, const char *fmt, va_list ap)
{
    char text[8192];
    vsnprintf(text, sizeof text, fmt, ap);
    SourceFile *f = source_new("<test>", text, strlen(text));
    bool ok = interp_exec(in, f) == INTERP_OK;
    if (err) {
        err[0] = 0;
        for (int k = 0; k < in->diags.n; k++)
            if (in->diags.v[k].level == DIAG_ERROR) {
                snprintf(err, nerr, "%s", in->diags.v[k].msg);
                break;
            }
        diags_clear(&in->diags);
    } else {
        interp_flush(in);
        if (!ok)
            fprintf(stderr, "  (the script was:)\n%s\n", text);
    }
    return ok;
}

static bool run(Interp *in, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool run(Interp *in, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bool ok = run_err(in, NULL, 0, fmt, ap);
    va_end(ap);
    return ok;
}

/* Runs a script that should fail; returns its first error message. */
static const char *fails(Interp *in, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *fails(Interp *in, const char *fmt, ...)
{
    static char err[1024];
    va_list ap;
    va_start(ap, fmt);
    bool ok = run_err(in, err, sizeof err, fmt, ap);
    va_end(ap);
    if (ok)
        snprintf(err, sizeof err, "(no error)");
    return err;
}

#define RUN(in, ...) CHECK(run((in), __VA_ARGS__))

static Tensor *param(const Interp *in, const char *name)
{
    const Model *m = in->rt.model;
    int p = m ? model_find_param(m, name) : -1;
    if (p < 0) {
        fprintf(stderr, "  no parameter '%s'\n", name);
        exit(1);
    }
    return m->params[p].value;
}

static const Tensor *recording(const Interp *in, const char *name)
{
    for (int i = 0; i < in->rt.nrecs; i++)
        if (strcmp(in->rt.recs[i].name, name) == 0)
            return in->rt.recs[i].data;
    fprintf(stderr, "  no recording '%s'\n", name);
    exit(1);
}

static double max_rel_diff(const Tensor *a, const real *b)
{
    double m = 0, scale = 0;
    for (int64_t i = 0; i < a->size; i++)
        scale = fmax(scale, fabs((double)b[i]));
    for (int64_t i = 0; i < a->size; i++)
        m = fmax(m, fabs((double)a->data[i] - (double)b[i]));
    return m / (scale > 0 ? scale : 1);
}

static real *copy_of(const Tensor *t)
{
    real *c = xmalloc((size_t)t->size * sizeof(real));
    memcpy(c, t->data, (size_t)t->size * sizeof(real));
    return c;
}

static double norm(const real *v, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += (double)v[i] * (double)v[i];
    return sqrt(s);
}

/* ---- the fused executor's COLUMN operands ----------------------------------- */

static void test_column_operands(void)
{
    /* y = a * c + b over rows x n: a FULL, b ROW, c COLUMN. */
    enum { R = 3, N = 300 };
    static real a[R * N], b[N], c[R], y[R * N], gy[R * N], ga[R * N], gb[N], gc[R];
    for (int i = 0; i < R * N; i++)
        a[i] = (real)(0.01 * (i % 17) - 0.05), gy[i] = (real)(0.02 * (i % 7) - 0.03);
    for (int j = 0; j < N; j++)
        b[j] = (real)(0.1 * (j % 5));
    for (int r = 0; r < R; r++)
        c[r] = (real)(r + 1);
    FusedInstr code[2] = {
        { .op = ops_get(OP_MUL), .nin = 2, .in = { 0, 2 } },
        { .op = ops_get(OP_ADD), .nin = 2, .in = { 3, 1 } },
    };
    int out_reg = 4;
    FusedProgram p = { .nin = 3, .ncode = 2, .code = code, .nout = 1, .out = &out_reg, .rows = R, .n = N };
    FusedOperand in[3] = {
        { OPERAND_FULL, a, N, ga }, { OPERAND_ROW, b, 0, gb }, { OPERAND_COLUMN, c, 1, gc },
    };
    FusedOperand out = { OPERAND_FULL, y, N, gy };
    real *scratch = tensor_alloc_real(fused_scratch_size(&p, true));
    fused_fwd(&p, in, &out, scratch);
    double err = 0;
    for (int r = 0; r < R; r++)
        for (int j = 0; j < N; j++)
            err = fmax(err, fabs((double)y[r * N + j] - ((double)a[r * N + j] * c[r] + b[j])));
    CHECK_NEAR(err, 0, 1e-6);
    fused_vjp(&p, in, &out, scratch);
    double err_a = 0, err_b = 0, err_c = 0;
    for (int r = 0; r < R; r++) {
        double sc = 0;
        for (int j = 0; j < N; j++) {
            err_a = fmax(err_a, fabs((double)ga[r * N + j] - (double)gy[r * N + j] * c[r]));
            sc += (double)gy[r * N + j] * a[r * N + j];
        }
        err_c = fmax(err_c, fabs(gc[r] - sc));
    }
    for (int j = 0; j < N; j++) {
        double sb = 0;
        for (int r = 0; r < R; r++)
            sb += gy[r * N + j];
        err_b = fmax(err_b, fabs(gb[j] - sb));
    }
    CHECK_NEAR(err_a, 0, 1e-6);
    CHECK_NEAR(err_b, 0, 1e-5);
    CHECK_NEAR(err_c, 0, 1e-5);
    tensor_free_real(scratch);
}

/* ---- the fused kernel against the BLAS path ------------------------------------ */

static const char *const stacked_net =
    "seed 3\n"
    "let N = 150\n"
    "plasticity oja_l2(eta) {\n"
    "  dw = eta * post * (pre - post * w)\n"
    "  constrain l2(w) = 1\n"
    "}\n"
    "population E = Rate(N, tau = 10ms) { init x ~ normal(0, 1) }\n"
    "population I = Rate(N / 3, tau = 5ms, phi = relu) { init x ~ uniform(0, 1) }\n"
    "synapse J: E -> E { w ~ normal(0, 1.5 / sqrt(N)); no_self; plastic oja(eta = 1e-3) }\n"
    "synapse EI: E -> I { w ~ uniform(0, 0.2); sign +; plastic oja_l2(eta = 2e-3) }\n"
    "synapse EI2: E -> I { w ~ uniform(0, 0.2); p = 0.3; sign +; plastic hebb(eta = 1e-4) }\n"
    "synapse IE: I -> E { w ~ uniform(0, 0.1); sign -; plastic vogels(eta = 1e-3, r0 = 0.2) every 3 }\n";

/* Runs net for steps at batch B, fused or with BLAS alone; returns copies of J.w, EI.w, IE.w and E.x. */
static void run_stacked(int B, bool blas, real **out)
{
    Interp in;
    start(&in);
    plasticity_blas_only = blas;
    RUN(&in, "%s", stacked_net);
    RUN(&in, "simulate for 200 steps dt 1ms batch %d\n", B);
    CHECK_INT(simulate_loop_allocations, 0);
    const char *names[] = { "J.w", "EI.w", "EI2.w", "IE.w" };
    for (int k = 0; k < 4; k++)
        out[k] = copy_of(param(&in, names[k]));
    const Model *m = in.rt.model;
    const Tensor *x = m->states[model_find_state(m, "E.x")].value;
    out[4] = copy_of(x);
    plasticity_blas_only = false;
    interp_fini(&in);
}

static void test_fused_against_blas(void)
{
    for (int B = 1; B <= 3; B += 2) {
        real *fused[5], *blas[5];
        run_stacked(B, false, fused);
        run_stacked(B, true, blas);
        Interp in;
        start(&in);
        RUN(&in, "%s", stacked_net);
        RUN(&in, "simulate for 1 steps dt 1ms\n");
        const char *names[] = { "J.w", "EI.w", "EI2.w", "IE.w" };
        for (int k = 0; k < 4; k++) {
            Tensor *t = param(&in, names[k]);
            memcpy(t->data, fused[k], (size_t)t->size * sizeof(real));
            double d = max_rel_diff(t, blas[k]);
            if (d > same_tol)
                fprintf(stderr, "  batch %d: %s differs by %g\n", B, names[k], d);
            CHECK_NEAR(d, 0, same_tol);
        }
        /* The weights changed, the sign held, the row norms of EI are 1. */
        Tensor *ei = param(&in, "EI.w");
        memcpy(ei->data, fused[1], (size_t)ei->size * sizeof(real));
        double worst = 0, lowest = 0;
        for (int64_t i = 0; i < ei->dim[0]; i++) {
            worst = fmax(worst, fabs(norm(ei->data + i * ei->dim[1], ei->dim[1]) - 1));
            for (int64_t j = 0; j < ei->dim[1]; j++)
                lowest = fmin(lowest, ei->data[i * ei->dim[1] + j]);
        }
        CHECK_NEAR(worst, 0, 1e-5);
        CHECK(lowest >= 0);
        /* The dense synapse with p keeps its absent connections at 0. */
        const Model *m = in.rt.model;
        const ModelParam *p2 = &m->params[model_find_param(m, "EI2.w")];
        int64_t stray = 0;
        for (int64_t k = 0; p2->mask && k < p2->value->size; k++)
            stray += p2->mask->data[k] == 0 && fused[2][k] != 0;
        CHECK(p2->mask != NULL);
        CHECK_INT(stray, 0);
        /* no_self: J's diagonal stays 0. */
        Tensor *J = param(&in, "J.w");
        double diag = 0;
        for (int64_t i = 0; i < J->dim[0]; i++)
            diag = fmax(diag, fabs(fused[0][i * J->dim[1] + i]));
        CHECK_NEAR(diag, 0, 0);
        /* The states: the products used the changed weights alike. */
        int64_t n = m->states[model_find_state(m, "E.x")].n * B;
        double dx = 0, sx = 0;
        for (int64_t i = 0; i < n; i++)
            dx = fmax(dx, fabs((double)fused[4][i] - blas[4][i])), sx = fmax(sx, fabs((double)blas[4][i]));
        CHECK_NEAR(dx / sx, 0, same_tol * 10);
        interp_fini(&in);
        for (int k = 0; k < 5; k++)
            free(fused[k]), free(blas[k]);
    }
}

/* ---- every storage path against a hand computation ------------------------------ */

/* One step at batch 2: each synapse's new weights against w + mean_b dw_b from
 * the recorded pre and post of step 0 (the values the rule read). */
static void test_paths(void)
{
    Interp in;
    start(&in);
    RUN(&in,
        "seed 9\n"
        "plasticity decay(eta) {\n"
        "  dw = -eta * pre * post * w\n"
        "}\n"
        "plasticity elig(eta, tau_e = 2ms) {\n"
        "  trace e: tau_e * de/dt = -e + pre * post\n"
        "  dw = eta * e + eta * pre * post\n"
        "}\n"
        "population E = Rate(12) { init x ~ normal(0, 1) }\n"
        "population F = Rate(7) { init x ~ normal(0, 1) }\n"
        "synapse D: E -> F { w ~ normal(0, 1); plastic oja(eta = 0.1) }\n"
        "synapse G: E -> F { w ~ normal(0, 1); plastic decay(eta = 0.1) }\n"
        "synapse S: E -> F { w ~ normal(0, 1); p = 0.2; plastic hebb(eta = 0.1) }\n"
        "synapse SG: E -> F { w ~ normal(0, 1); p = 0.2; plastic decay(eta = 0.1) }\n"
        "synapse ST: E -> F { w ~ normal(0, 1); p = 0.2; plastic elig(eta = 0.1) }\n"
        "synapse T: E -> F { w ~ normal(0, 1); plastic elig(eta = 0.1) }\n"
        "synapse O: E -> E { one_to_one; w ~ normal(0, 1); plastic decay(eta = 0.1) }\n"
        "simulate for 1 steps batch 2\n");
    const Model *m = in.rt.model;
    const char *names[] = { "D.w", "G.w", "S.w", "SG.w", "ST.w", "T.w", "O.w" };
    real *before[7];
    for (int k = 0; k < 7; k++)
        before[k] = copy_of(param(&in, names[k]));
    RUN(&in, "simulate for 1 steps batch 2 record E.r, F.r\n");
    const Tensor *pre = recording(&in, "E.r"), *post = recording(&in, "F.r");
    const double eta = 0.1;
    for (int k = 0; k < 7; k++) {
        const ModelParam *p = &m->params[model_find_param(m, names[k])];
        const Csr *csr = p->csr;
        bool o2o = k == 6;
        int64_t rows = o2o ? 12 : 7;
        double worst = 0;
        for (int64_t i = 0; i < rows; i++) {
            int64_t k0 = csr ? csr->row_ptr[i] : o2o ? i : i * 12, k1 = csr ? csr->row_ptr[i + 1] : o2o ? i + 1 : (i + 1) * 12;
            for (int64_t q = k0; q < k1; q++) {
                int64_t j = csr ? csr->col_idx[q] : o2o ? i : q - i * 12;
                double w = before[k][q], dw = 0;
                for (int b = 0; b < 2; b++) {
                    double x = pre->data[b * 12 + j], y = o2o ? pre->data[b * 12 + i] : post->data[b * 7 + i];
                    if (k == 0)
                        dw += eta * y * (x - y * w);
                    else if (k == 2)
                        dw += eta * x * y;
                    else if (k == 4 || k == 5)
                        dw += eta * x * y;   /* the trace is 0 at the first step */
                    else
                        dw += -eta * x * y * w;
                }
                worst = fmax(worst, fabs(p->value->data[q] - (w + dw / 2)));
            }
        }
        if (worst > 1e-5)
            fprintf(stderr, "  %s: one step differs from the hand computation by %g\n", names[k], worst);
        CHECK_NEAR(worst, 0, 1e-5);
    }
    /* Two steps of the per-synapse trace: e(1) = dt / tau_e * pre(0) post(0). */
    for (int k = 4; k < 6; k++)
        memcpy(before[k], param(&in, names[k])->data, (size_t)param(&in, names[k])->size * sizeof(real));
    RUN(&in, "simulate for 2 steps batch 2 record E.r, F.r\n");
    pre = recording(&in, "E.r"), post = recording(&in, "F.r");
    for (int k = 4; k < 6; k++) {
        const ModelParam *p = &m->params[model_find_param(m, names[k])];
        const Csr *csr = p->csr;
        double worst = 0;
        for (int64_t i = 0; i < 7; i++)
            for (int64_t q = csr ? csr->row_ptr[i] : i * 12; q < (csr ? csr->row_ptr[i + 1] : (i + 1) * 12); q++) {
                int64_t j = csr ? csr->col_idx[q] : q - i * 12;
                double dw = 0;
                for (int b = 0; b < 2; b++) {
                    double x0 = pre->data[b * 12 + j], y0 = post->data[b * 7 + i];
                    double x1 = pre->data[24 + b * 12 + j], y1 = post->data[14 + b * 7 + i];
                    double e1 = 1e-4 / 2e-3 * x0 * y0;
                    dw += eta * x0 * y0 + eta * e1 + eta * x1 * y1;
                }
                worst = fmax(worst, fabs(p->value->data[q] - (before[k][q] + dw / 2)));
            }
        CHECK_NEAR(worst, 0, 1e-5);
    }
    /* the sparse patterns did not change */
    CHECK(m->params[model_find_param(m, "S.w")].csr != NULL);
    for (int k = 0; k < 7; k++)
        free(before[k]);
    interp_fini(&in);
}

/* ---- no allocation in the loop ---------------------------------------------------- */

static void test_no_allocation(void)
{
    Interp in;
    start(&in);
    RUN(&in,
        "seed 5\n"
        "let N = 40\n"
        "plasticity elig(eta, tau_e = 20ms) {\n"
        "  trace e: tau_e * de/dt = -e + pre * post\n"
        "  dw = eta * reward * e\n"
        "  clip(w, -1, 1)\n"
        "}\n"
        "plasticity decay(eta) {\n"
        "  dw = -eta * pre * post * w\n"
        "}\n"
        "input reward[1]\n"
        "input u[N]\n"
        "population E = Rate(N) { init x ~ normal(0, 1) }\n"
        "population I = Rate(N / 4, tau = 5ms, phi = relu)\n"
        "synapse J: E -> E { w ~ normal(0, 1.5 / sqrt(N)); plastic oja(eta = 1e-3) }\n"
        "synapse S: E -> E { w ~ normal(0, 1); p = 0.1; plastic bcm(eta = 1e-4) }\n"
        "synapse EI: E -> I { w ~ uniform(0, 0.1); sign +; plastic elig(eta = 1e-3) }\n"
        "synapse IE: I -> E { w ~ uniform(0, 0.1); sign -; plastic vogels(eta = 1e-3, r0 = 0.1) every 4 }\n"
        "synapse D: E -> E { one_to_one; w = 0.1; plastic decay(eta = 1e-2) }\n"
        "synapse U: u -> E { w ~ normal(0, 0.1); plastic selectron(alpha = 1e-3, omega = 2) }\n");
    const int batches[] = { 1, 4, 16 };
    for (int k = 0; k < 3; k++) {
        RUN(&in, "simulate for 100 steps dt 0.1ms batch %d with reward = sin(2 * pi * 5Hz * t) record E.r every 2 steps\n",
            batches[k]);
        CHECK_INT(simulate_loop_allocations, 0);
    }
    RUN(&in, "simulate for 100 steps dt 0.1ms method rk4 batch 2 with reward = 1\n");
    CHECK_INT(simulate_loop_allocations, 0);
    interp_fini(&in);
}

/* ---- Oja and Hebb ----------------------------------------------------------------- */

/* Correlated inputs x = z + s b (z white per channel, s one shared white source,
 * one N(0,1) draw per step each): covariance I + b b^T, whose first principal
 * component is b / |b| (eigenvalue 1 + |b|^2; the others 1). A linear unit
 * y = w . x, and a rule on w. */
static const char *const pca_net =
    "seed %d\n"
    "let n = 8\n"
    "neuron White() {\n"
    "  r = xi * sqrt(dt)\n"
    "}\n"
    "neuron Lin() {\n"
    "  r = in\n"
    "}\n"
    "plasticity hebb_l2(eta) {\n"
    "  dw = eta * pre * post\n"
    "  constrain l2(w) = 1\n"
    "}\n"
    "population Z = White(n)\n"
    "population S = White(1)\n"
    "population X = Lin(n)\n"
    "population Y = Lin(1)\n"
    "synapse A: Z -> X { one_to_one; w = 1 }\n"
    "synapse Bs: S -> X { w ~ normal(0, %g) }\n"
    "synapse W: X -> Y { w ~ normal(0, 0.3); plastic %s }\n";

/* The first principal component of I + b b^T, and lambda1 / lambda2. */
static void leading(const Tensor *b, double *pc, double *ratio)
{
    double nb = norm(b->data, b->size);
    for (int64_t i = 0; i < b->size; i++)
        pc[i] = b->data[i] / nb;
    *ratio = 1 + nb * nb;
}

static double PCA_B = 0.42;

static double cosine(const real *w, const double *pc, int64_t n)
{
    double d = 0;
    for (int64_t i = 0; i < n; i++)
        d += w[i] * pc[i];
    return fabs(d) / norm(w, n);
}

/* Runs the rule for `chunks` runs of `steps`; returns the mean cosine over the
 * last half of the chunks, and the last norm. */
static double pca_run(const char *rule, int seed, int chunks, int steps, double *last_norm, double *ratio, double *first_norm)
{
    Interp in;
    start(&in);
    RUN(&in, pca_net, seed, PCA_B, rule);
    double pc[64], sum = 0;
    int counted = 0;
    for (int c = 0; c < chunks; c++) {
        RUN(&in, "simulate for %d steps dt 1ms%s\n", steps, c ? " continue" : "");
        if (c == 0)
            leading(param(&in, "Bs.w"), pc, ratio);
        const Tensor *w = param(&in, "W.w");
        if (c == 0 && first_norm)
            *first_norm = norm(w->data, w->size);
        if (c >= chunks / 2) {
            sum += cosine(w->data, pc, w->size);
            counted++;
        }
        *last_norm = norm(w->data, w->size);
    }
    interp_fini(&in);
    return sum / counted;
}

static void test_oja_hebb(void)
{
    double n1, ratio, first;
    double cos_slow = pca_run("oja(eta = 1e-3)", 1, 20, 2000, &n1, &ratio, NULL);
    printf("  oja: lambda1/lambda2 = %.3g; eta 1e-3: cos %.4f, |w| %.4f\n", ratio, cos_slow, n1);
    CHECK(cos_slow > 0.99);
    CHECK_NEAR(n1, 1, 0.01);
    double n5;
    double cos_fast = pca_run("oja(eta = 5e-3)", 1, 20, 2000, &n5, &ratio, NULL);
    printf("  oja: eta 5e-3: cos %.4f, |w| %.4f\n", cos_fast, n5);
    CHECK(cos_fast < cos_slow);
    CHECK_NEAR(cos_fast, 0.98, 0.01);
    CHECK_NEAR(n5, 1, 0.02);
    /* Hebb: grows without bound (by orders of magnitude); normalised, stays 1 and finds the PC. */
    double nh;
    pca_run("hebb(eta = 1e-3)", 1, 4, 2000, &nh, &ratio, &first);
    printf("  hebb: |w| %.4g after 2000 steps, %.4g after 8000\n", first, nh);
    CHECK(nh > 1e3 * first);
    double nl;
    double cos_l2 = pca_run("hebb_l2(eta = 1e-3)", 1, 20, 2000, &nl, &ratio, NULL);
    printf("  hebb with constrain l2(w) = 1: cos %.4f, |w| %.6f\n", cos_l2, nl);
    CHECK_NEAR(nl, 1, 1e-6);
    CHECK(cos_l2 > 0.99);
}

/* ---- BCM ------------------------------------------------------------------------- */

static void test_bcm(void)
{
    enum { K = 4, n = 6 };
    Interp in;
    start(&in);
    /* K clocks, one active at a time (period 40 ms, 10 steps each), each
     * presenting its pattern p_k (a column of P) to the inputs X. */
    RUN(&in,
        "seed 11\n"
        "neuron Clock(phase = 0, K = 4, period = 40ms) {\n"
        "  10ms * dx/dt = -x\n"
        "  r = step(cos(2 * pi * (t + 0.5ms) / period - phase) - cos(pi / K)) + 0 * x\n"
        "}\n"
        "neuron Lin() {\n"
        "  r = in\n"
        "}\n"
        "population C0 = Clock(1, phase = 0)\n"
        "population C1 = Clock(1, phase = pi / 2)\n"
        "population C2 = Clock(1, phase = pi)\n"
        "population C3 = Clock(1, phase = 3 * pi / 2)\n"
        "population X = Lin(%d)\n"
        "population Y = Lin(1)\n"
        "synapse P0: C0 -> X { w ~ uniform(0, 1) }\n"
        "synapse P1: C1 -> X { w ~ uniform(0, 1) }\n"
        "synapse P2: C2 -> X { w ~ uniform(0, 1) }\n"
        "synapse P3: C3 -> X { w ~ uniform(0, 1) }\n"
        "synapse W: X -> Y { w ~ uniform(0, 0.5); plastic bcm(eta = 1e-4, tau_theta = 200ms) }\n",
        n);
    RUN(&in, "simulate for 1000000 steps dt 1ms\n");
    RUN(&in, "simulate for 40 steps dt 1ms continue record Y.r, C0.r, C1.r, C2.r, C3.r\n");
    const Tensor *y = recording(&in, "Y.r");
    double resp[K] = { 0 };
    int count[K] = { 0 };
    const char *clocks[K] = { "C0.r", "C1.r", "C2.r", "C3.r" };
    for (int k = 0; k < K; k++) {
        const Tensor *c = recording(&in, clocks[k]);
        for (int64_t t = 0; t < c->dim[0]; t++)
            if (c->data[t] > 0.5)
                resp[k] += y->data[t], count[k]++;
        resp[k] /= count[k] ? count[k] : 1;
    }
    int best = 0;
    for (int k = 1; k < K; k++)
        if (resp[k] > resp[best])
            best = k;
    printf("  bcm: responses to the %d patterns %.3f %.3f %.3f %.3f\n", K, resp[0], resp[1], resp[2], resp[3]);
    CHECK_NEAR(resp[best], K, 0.1);   /* within 10% of K */
    for (int k = 0; k < K; k++)
        if (k != best)
            CHECK(fabs(resp[k]) < 0.05 * K);
    interp_fini(&in);
}

/* ---- Vogels -------------------------------------------------------------------------- */

static void test_vogels(void)
{
    enum { n = 8 };
    const double r0 = 1.0, drives[3] = { 1, 2, 4 };
    for (int k = 0; k < 3; k++) {
        Interp in;
        start(&in);
        RUN(&in,
            "seed 21\n"
            "neuron Src(tau = 20ms, mu = 1, sigma = 0.3) {\n"
            "  tau * dx/dt = -x + sigma * sqrt(2 * tau) * xi\n"
            "  r = relu(mu + x)\n"
            "}\n"
            "population X = Src(%d)\n"
            "population Y = Rate(1, tau = 10ms, phi = relu)\n"
            "synapse E: X -> Y { w = 0 }\n"
            "synapse I: X -> Y { w = 0.1; sign -; plastic vogels(eta = 2e-4, r0 = %g) }\n",
            n, r0);
        /* tuned excitation: a Gaussian tuning curve over the channels, times the drive */
        RUN(&in, "simulate for 1 steps dt 1ms\n");
        Tensor *we = param(&in, "E.w");
        double mean_we = 0;
        for (int j = 0; j < n; j++) {
            we->data[j] = (real)(drives[k] * (0.15 + 0.6 * exp(-0.5 * (j - 3.5) * (j - 3.5) / 2.0)));
            mean_we += we->data[j] / n;
        }
        RUN(&in, "simulate for 100000 steps dt 1ms\n");
        RUN(&in, "simulate for 100000 steps dt 1ms continue record X.r, Y.r\n");
        const Tensor *x = recording(&in, "X.r"), *y = recording(&in, "Y.r");
        double sxy = 0, sx = 0, sy = 0;
        for (int64_t t = 0; t < y->dim[0]; t++) {
            for (int j = 0; j < n; j++) {
                sxy += (double)x->data[t * n + j] * y->data[t];
                sx += x->data[t * n + j];
            }
            sy += y->data[t];
        }
        double weighted = sxy / sx, mean_rate = sy / (double)y->dim[0];
        const Tensor *wi = param(&in, "I.w");
        double mi = 0, cov = 0, ve = 0, vi = 0;
        for (int j = 0; j < n; j++)
            mi += wi->data[j] / n;
        for (int j = 0; j < n; j++) {
            cov += (we->data[j] - mean_we) * (wi->data[j] - mi);
            ve += (we->data[j] - mean_we) * (we->data[j] - mean_we);
            vi += (wi->data[j] - mi) * (wi->data[j] - mi);
        }
        double corr = cov / sqrt(ve * vi);
        printf("  vogels: drive %g: E[x y]/E[x] = %.4f (r0 %g), mean rate %.4f, corr(w_E, w_I) = %.4f\n", drives[k], weighted, r0,
               mean_rate, corr);
        CHECK_NEAR(weighted, r0, 0.01);
        CHECK(corr > 0.95);
        interp_fini(&in);
    }
}

/* ---- the selectron -------------------------------------------------------------------- */

/* Binary inputs with P(x = 1) = p (a threshold on a normal draw: z_p = Phi^-1(1 - p)),
 * threshold units y = [w . x >= theta], the selectron with L1 bound omega. */
static double selectron_rate(int n_in, int n_out, double theta, double omega, const char *w_init, int steps, double *se)
{
    Interp in;
    start(&in);
    RUN(&in,
        "seed 31\n"
        "neuron Bern(zp = 0.8416) {\n"
        "  r = step(xi * sqrt(dt) - zp)\n"
        "}\n"
        "neuron Thr(theta = 1) {\n"
        "  r = in >= theta\n"
        "}\n"
        "input reward[1]\n"
        "population X = Bern(%d)\n"
        "population Y = Thr(%d, theta = %g)\n"
        "synapse W: X -> Y { %s; plastic selectron(alpha = 1e-2, omega = %g) }\n",
        n_in, n_out, theta, w_init, omega);
    RUN(&in, "simulate for 20000 steps dt 1ms with reward = 1\n");
    RUN(&in, "simulate for %d steps dt 1ms continue with reward = 1 record Y.r\n", steps);
    const Tensor *y = recording(&in, "Y.r");
    double s = 0;
    for (int64_t k = 0; k < y->size; k++)
        s += y->data[k];
    double p = s / (double)y->size;
    *se = sqrt(p * (1 - p) / (double)y->size);
    /* the bound holds for every post neuron */
    const Tensor *w = param(&in, "W.w");
    double worst = 0;
    for (int64_t i = 0; i < w->dim[0]; i++) {
        double l1 = 0;
        for (int64_t j = 0; j < w->dim[1]; j++)
            l1 += fabs(w->data[i * w->dim[1] + j]);
        worst = fmax(worst, l1);
    }
    CHECK(worst <= omega * (1 + 1e-6));
    interp_fini(&in);
    return p;
}

static void test_selectron(void)
{
    const double p = 0.2, theta = 1;
    const double omegas[2] = { 1.5, 2.5 };
    for (int k = 0; k < 2; k++) {
        double se;
        double rate = selectron_rate(20, 4, theta, omegas[k], "w ~ uniform(0, 0.3)", 20000, &se);
        double bound = p * (omegas[k] / theta) * (omegas[k] / theta);
        printf("  selectron: omega/theta %.2g: spike probability %.4f +- %.4f, bound p (omega/theta)^2 = %.4f\n", omegas[k] / theta,
               rate, se, bound);
        CHECK(rate <= bound + 3 * se);
    }
    /* The tight case: one synapse, w = omega = theta, spikes exactly when x = 1. */
    double se;
    double rate = selectron_rate(1, 1, theta, theta, "w = 1", 40000, &se);
    printf("  selectron: one synapse, w = omega = theta: %.4f +- %.4f, bound %.4f\n", rate, se, p);
    CHECK(rate <= p + 3 * se);
    CHECK(rate >= p - 3 * se);
}

/* ---- learn and plastic: what the gradient is -------------------------------------- */

/* The rule's changes depend on time alone, so W_t = W_0 + D_t with D_t fixed, and
 * dL/dW_0 = sum_t dL/dW_t: the gradient the backward pass returns must match
 * finite differences of the loss, for the plastic synapse and for the weights
 * upstream of it (whose gradient flows through W_t, not the final weights). */
static void test_mixed_gradient(void)
{
    Interp in;
    start(&in);
    RUN(&in,
        "seed 41\n"
        "plasticity drift(eta) {\n"
        "  dw = eta * sin(2 * pi * t / 20ms)\n"
        "}\n"
        "input u[3]\n"
        "output z[2]\n"
        "population H = Rate(5, tau = 10ms)\n"
        "population G = Rate(4, tau = 10ms)\n"
        "synapse Win: u -> H { w ~ normal(0, 1); learn }\n"
        "synapse J: H -> G { w ~ normal(0, 0.5); learn; plastic drift(eta = 0.05) }\n"
        "synapse Out: G -> z { w ~ normal(0, 0.5); learn }\n"
        "cost fit = mse(z, target)\n"
        "simulate for 1 steps\n");
    Model *m = in.rt.model;
    enum { T = 30, B = 2 };
    Episode e;
    EpisodeSpec spec = { B, T, 1e-3, METHOD_EULER, true, 0, NULL, 0, false, 0 };
    Diags d;
    diags_init(&d);
    CHECK(episode_init(&e, m, &in.env, &spec, &d, span_none()));
    diags_print(&d, stderr, false);
    real *u = episode_input(&e, 0), *target = episode_input(&e, -1);
    CHECK(u && target);
    for (int k = 0; k < T * B * 3; k++)
        u[k] = (real)sin(0.37 * k + 0.1);
    for (int k = 0; k < T * B * 2; k++)
        target[k] = (real)cos(0.21 * k);
    real *mask = episode_input(&e, -2);
    for (int k = 0; mask && k < T * B * 2; k++)
        mask[k] = 1;
    const char *names[3] = { "Win.w", "J.w", "Out.w" };
    real *w0[3];
    for (int k = 0; k < 3; k++)
        w0[k] = copy_of(param(&in, names[k]));
    Tensor *J = param(&in, "J.w");
    model_zero_grads(m);
    episode_forward(&e);
    episode_backward(&e);
    /* J after the forward pass: the rule moved it, and the backward pass put it back */
    double moved = 0;
    for (int64_t k = 0; k < J->size; k++)
        moved = fmax(moved, fabs(J->data[k] - w0[1][k]));
    CHECK(moved > 1e-3);
    real *after = copy_of(J);
    double worst = 0;
    for (int k = 0; k < 3; k++) {
        int pi = model_find_param(m, names[k]);
        Tensor *w = m->params[pi].value;
        const Tensor *g = m->params[pi].grad;
        for (int64_t i = 0; i < w->size; i += 3) {
            double h = 1e-5, lp = 0, lm = 0;
            for (int s = 0; s < 2; s++) {
                for (int q = 0; q < 3; q++)
                    memcpy(param(&in, names[q])->data, w0[q], (size_t)param(&in, names[q])->size * sizeof(real));
                w->data[i] += (real)(s ? -h : h);
                double l = episode_forward(&e);
                if (s)
                    lm = l;
                else
                    lp = l;
            }
            double fd = (lp - lm) / (2 * h);
            if (i == 0)
                printf("    %s[0]: gradient %.6g, finite differences %.6g\n", names[k], (double)g->data[i], fd);
            double err = fabs(fd - g->data[i]) / fmax(1e-3, fabs(fd));
            worst = fmax(worst, err);
        }
    }
    printf("  learn + plastic: largest relative error of the gradient against finite differences %.2g\n", worst);
#ifndef CAJAL_FLOAT
    CHECK(worst < 1e-5);
#endif
    (void)after;
    free(after);
    for (int k = 0; k < 3; k++)
        free(w0[k]);
    episode_fini(&e);
    diags_fini(&d);
    interp_fini(&in);
}

/* A plastic product of the task's input is computed for all steps before the
 * loop; after each change it must be recomputed for the next step, with what
 * reads it (the sign's scale, the sum of two synapses): z_t = W_t u_t - V_t u_t. */
static void test_hoisted_products(void)
{
    Interp in;
    start(&in);
    RUN(&in,
        "seed 43\n"
        "input u[3]\n"
        "output z[2]\n"
        "synapse W: u -> z { w ~ normal(0, 0.5); learn; plastic hebb(eta = 0.05) }\n"
        "synapse V: u -> z { w ~ uniform(0, 0.5); sign -; plastic hebb(eta = 0.03) }\n"
        "cost fit = mse(z, target)\n"
        "simulate for 1 steps\n");
    Model *m = in.rt.model;
    enum { T = 10, B = 2 };
    Episode e;
    EpisodeSpec spec = { B, T, 1e-3, METHOD_EULER, true, 0, NULL, 0, true, 0 };
    Diags d;
    diags_init(&d);
    CHECK(episode_init(&e, m, &in.env, &spec, &d, span_none()));
    diags_print(&d, stderr, false);
    real *u = episode_input(&e, 0);
    for (int k = 0; k < T * B * 3; k++)
        u[k] = (real)(0.5 + 0.5 * sin(0.7 * k));
    double W[6], V[6];
    for (int k = 0; k < 6; k++)
        W[k] = param(&in, "W.w")->data[k], V[k] = param(&in, "V.w")->data[k];
    episode_forward(&e);
    double worst = 0;
    for (int t = 0; t < T; t++) {
        double z[B][2], dW[6] = { 0 }, dV[6] = { 0 };
        for (int b = 0; b < B; b++)
            for (int i = 0; i < 2; i++) {
                z[b][i] = 0;
                for (int j = 0; j < 3; j++)
                    z[b][i] += (W[i * 3 + j] - V[i * 3 + j]) * u[(t * B + b) * 3 + j];
                worst = fmax(worst, fabs(z[b][i] - e.outputs->data[(t * B + b) * 2 + i]));
            }
        for (int b = 0; b < B; b++)
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 3; j++) {
                    dW[i * 3 + j] += 0.05 * z[b][i] * u[(t * B + b) * 3 + j] / B;
                    dV[i * 3 + j] += 0.03 * z[b][i] * u[(t * B + b) * 3 + j] / B;
                }
        for (int k = 0; k < 6; k++) {
            W[k] += dW[k];
            V[k] = fmax(0, V[k] + dV[k]);
        }
    }
    CHECK_NEAR(worst, 0, 1e-5);
    for (int k = 0; k < 6; k++) {
        CHECK_NEAR(param(&in, "W.w")->data[k], W[k], 1e-5);
        CHECK_NEAR(param(&in, "V.w")->data[k], V[k], 1e-5);
    }
    episode_fini(&e);
    diags_fini(&d);
    interp_fini(&in);
}

/* In training, reward is minus the cost at each step: a rule dw = eta reward
 * moves every weight by -eta sum_t cost_t = -eta T loss (the cost's weights are 1/T). */
static void test_training_reward(void)
{
    Interp in;
    start(&in);
    RUN(&in,
        "seed 44\n"
        "plasticity rew(eta) {\n"
        "  dw = eta * reward\n"
        "}\n"
        "input u[3]\n"
        "output z[2]\n"
        "population H = Rate(4)\n"
        "synapse Win: u -> H { w ~ normal(0, 1); learn }\n"
        "synapse S: H -> H { w = 0; plastic rew(eta = 0.01) }\n"
        "synapse Out: H -> z { w ~ normal(0, 1); learn }\n"
        "cost fit = mse(z, target)\n");
    Diags d;
    diags_init(&d);
    CHECK(runtime_model(&in.rt, &in.env, &d, span_none()));   /* simulate would need a reward */
    Model *m = in.rt.model;
    enum { T = 12, B = 3 };
    Episode e;
    EpisodeSpec spec = { B, T, 1e-3, METHOD_EULER, true, 0, NULL, 0, false, 0 };
    CHECK(episode_init(&e, m, &in.env, &spec, &d, span_none()));
    diags_print(&d, stderr, false);
    real *u = episode_input(&e, 0), *target = episode_input(&e, -1), *mask = episode_input(&e, -2);
    for (int k = 0; k < T * B * 3; k++)
        u[k] = (real)sin(0.3 * k);
    for (int k = 0; k < T * B * 2; k++) {
        target[k] = (real)cos(0.2 * k);
        if (mask)
            mask[k] = 1;
    }
    double loss = episode_forward(&e);
    const Tensor *S = param(&in, "S.w");
    CHECK(loss > 0);
    CHECK_NEAR(S->data[0], -0.01 * T * loss, 1e-5);
    CHECK_NEAR(S->data[S->size - 1], -0.01 * T * loss, 1e-5);
    episode_fini(&e);
    diags_fini(&d);
    interp_fini(&in);
}

/* Vogels' rule on an inhibitory synapse while gradient training fits a readout. */
static void test_mixing_train(void)
{
    Interp in;
    start(&in);
    RUN(&in,
        "seed 7\n"
        "neuron Src(tau = 10ms, mu = 1, sigma = 0.05) {\n"
        "  tau * dx/dt = -x + sigma * sqrt(2 * tau) * xi\n"
        "  r = relu(mu + x)\n"
        "}\n"
        "input u[1]\n"
        "output z[1]\n"
        "population X = Src(8)\n"
        "population Y = Rate(4, tau = 10ms, phi = relu)\n"
        "population R = Rate(60, tau = 10ms)\n"
        "synapse E: X -> Y { w ~ uniform(0.2, 0.6) }\n"
        "synapse I: X -> Y { w = 0.05; sign -; plastic vogels(eta = 1e-3, r0 = 0.5) }\n"
        "synapse U: u -> R { w ~ normal(0, 1) }\n"
        "synapse YR: Y -> R { w ~ normal(0, 0.5) }\n"
        "synapse J: R -> R { w ~ normal(0, 1.2 / sqrt(60)) }\n"
        "synapse Out: R -> z { w = 0; learn }\n"
        "cost fit = mse(z, target)\n");
    char err[256];
    (void)err;
    RUN(&in, "train on sine(period = 50, T = 150) with adam(lr = 1e-2) batch 4 steps 150\n");
    const LossCurve *lc = &in.rt.loss;
    CHECK(lc->n == 150);
    double first = 0, last = 0;
    for (int k = 0; k < 10; k++)
        first += lc->value[k] / 10, last += lc->value[lc->n - 1 - k] / 10;
    RUN(&in, "simulate for 5000 steps dt 1ms record Y.r\n");
    const Tensor *y = recording(&in, "Y.r");
    double worst = 0;
    for (int i = 0; i < 4; i++) {
        double s = 0;
        for (int64_t t = 0; t < y->dim[0]; t++)
            s += y->data[t * 4 + i];
        worst = fmax(worst, fabs(s / (double)y->dim[0] - 0.5) / 0.5);
    }
    printf("  mixing: loss %.4f -> %.4f; post rates within %.2g%% of r0\n", first, last, 100 * worst);
    CHECK(last < 0.8 * first);
    CHECK(worst < 0.05);
    interp_fini(&in);
}

/* ---- blow-ups and bad input ------------------------------------------------------------ */

static void test_blowup(void)
{
    Interp in;
    start(&in);
    const char *net =
        "population E = Rate(30, tau = 10ms, phi = linear) { init x = 0.5 }\n"
        "synapse J: E -> E { w = 0.05; plastic hebb(eta = 0.5) }\n";
    RUN(&in, "%s", net);
    RUN(&in, "save J.w to \"/tmp/cajal-test-plasticity-J0.npy\"\n");
    const char *msg = fails(&in, "simulate for 100000 steps dt 1ms\n");
    long long step = -1;
    const char *at = strstr(msg, "at step ");
    if (at)
        step = atoll(at + 8);
    printf("  blow-up: %s\n", msg);
    CHECK(strstr(msg, "rule hebb") && strstr(msg, "synapse J") && step > 0);
    const Tensor *J = param(&in, "J.w");
    CHECK(J->data[0] == J->data[0] && isfinite(J->data[0]));
    real *kept = copy_of(J);
    /* The same run up to that step (not past its change) leaves the same weights. */
    RUN(&in, "load \"/tmp/cajal-test-plasticity-J0.npy\" into J.w\n");
    RUN(&in, "simulate for %lld steps dt 1ms\n", step);
    CHECK_NEAR(max_rel_diff(param(&in, "J.w"), kept), 0, 1e-12);
    free(kept);
    remove("/tmp/cajal-test-plasticity-J0.npy");
    interp_fini(&in);
}

static void test_errors(void)
{
    Interp in;
    start(&in);
    RUN(&in, "population E = Rate(10)\n"
             "population F = Rate(10)\n"
             "synapse S: E -> F { w = 0.1; plastic selectron(alpha = 1e-3, omega = 1) }\n");
    const char *msg = fails(&in, "simulate for 10 steps\n");
    CHECK_STR(msg, "rule selectron on synapse S reads 'reward', which nothing supplies");
    RUN(&in, "input reward[3]\n");
    msg = fails(&in, "simulate for 10 steps\n");
    CHECK_STR(msg, "rule selectron on synapse S reads 'reward', which has 3 values; it needs 1 (per trial) or 10 (one per post neuron)");
    interp_fini(&in);

    start(&in);
    RUN(&in, "population E = Rate(10)\n"
             "synapse L: E -> E lowrank(1) { m ~ normal(0, 1); n ~ normal(0, 1); plastic oja(eta = 1e-3) }\n");
    msg = fails(&in, "simulate for 10 steps\n");
    CHECK_STR(msg, "rule oja cannot keep synapse L at rank 1: each change adds a full-rank term to m n^T / N");
    interp_fini(&in);

    start(&in);
    RUN(&in, "plasticity stdp_like(A) {\n"
             "  trace x: 20ms * dx/dt = -x, on pre spike x += 1\n"
             "  dw = A * x * post\n"
             "}\n"
             "population E = Rate(10)\n"
             "synapse S: E -> E { w = 0.1; plastic stdp_like(A = 1e-3) }\n");
    msg = fails(&in, "simulate for 10 steps\n");
    CHECK_STR(msg, "rule stdp_like responds to spikes ('on pre spike'), and spiking networks are not built into this version of cajal");
    interp_fini(&in);
}

int main(void)
{
    builtins_init();
    devnull = fopen("/dev/null", "w");
    if (!devnull) {
        perror("test_plasticity");
        return 1;
    }
    printf("test_plasticity (%s):\n", REAL_NAME);
    test_column_operands();
    test_fused_against_blas();
    test_paths();
    test_no_allocation();
    test_errors();
    test_blowup();
    test_mixed_gradient();
    test_hoisted_products();
    test_training_reward();
    test_oja_hebb();
    test_bcm();
    test_vogels();
    test_selectron();
    test_mixing_train();
    fclose(devnull);
    source_free_all();
    return check_done("test_plasticity");
}
