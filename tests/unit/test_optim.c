/* test_optim.c: the optimizers against steps worked out by hand, schedules at
 * chosen steps, clipping, the Dale's-law, mask and no_self constraints,
 * bit-identical resume from a checkpoint, every error optim.c gives, and no
 * allocation inside optim_step.
 *
 * The expected values come from the textbook formulas (Kingma and Ba 2015 for
 * Adam: m_hat = m / (1 - b1^t), w -= lr m_hat / (sqrt(v_hat) + eps)), written
 * here independently of optim.c's PyTorch-ordered arithmetic, or as literal
 * numbers; they agree with it to rounding. (Against PyTorch 1.13 itself, on
 * 1007 elements over 6 steps with a cosine schedule, optim.c was bit-identical
 * in double and float when this test was written; that comparison needs torch
 * and is not part of this test.)
 */
#include "check.h"
#include "io_npy.h"
#include "optim.h"
#include "tensor.h"
#include "xalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#ifdef CAJAL_FLOAT
#define TOL 2e-6
#else
#define TOL 1e-12
#endif

static char tmpdir[64];

static char *tmp(const char *name)
{
    static char buf[4][512];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, sizeof buf[0], "%s/%s", tmpdir, name);
    return b;
}

/* True if some error contains text; prints the errors otherwise. */
static int has_error(const Diags *d, const char *text)
{
    for (int k = 0; k < d->n; k++)
        if (d->v[k].level == DIAG_ERROR && strstr(d->v[k].msg, text))
            return 1;
    fprintf(stderr, "  no error containing \"%s\"; errors were:\n", text);
    for (int k = 0; k < d->n; k++)
        fprintf(stderr, "    %s\n", d->v[k].msg);
    return 0;
}

static int has_hint(const Diags *d, const char *text)
{
    for (int k = 0; k < d->n; k++)
        if (d->v[k].hint && strstr(d->v[k].hint, text))
            return 1;
    fprintf(stderr, "  no hint containing \"%s\"\n", text);
    return 0;
}

/* A 3-element parameter, three fixed gradients. */
static const double W0[3] = { 1.0, -2.0, 0.5 };
static const double G[3][3] = {
    { 0.1, -0.2, 0.3 },
    { 0.2, 0.1, -0.1 },
    { -0.3, 0.05, 0.2 },
};

/* Runs `steps` updates of kind(names = values) on W0 with G; w gets the result. */
static void run3(const char *kind, const char *const *names, const double *values, int nv,
                 int steps, real *w)
{
    Diags d;
    diags_init(&d);
    Optimizer *o = optim_new(kind, names, values, nv, NULL, NULL, 0, 0, &d, span_none());
    CHECK(o != NULL);
    real g[3];
    for (int k = 0; k < 3; k++)
        w[k] = (real)W0[k];
    OptimParam p = { .name = "J.w", .w = w, .g = g, .n = 3 };
    CHECK(optim_bind(o, &p, 1, &d, span_none()));
    for (int s = 0; s < steps; s++) {
        for (int k = 0; k < 3; k++)
            g[k] = (real)G[s][k];
        optim_step(o, &p, 1);
    }
    CHECK_INT(optim_steps(o), steps);
    optim_free(o);
    diags_fini(&d);
}

static void check3(const real *w, const double *e)
{
    for (int k = 0; k < 3; k++)
        CHECK_NEAR(w[k], e[k], TOL);
}

static void test_sgd(void)
{
    real w[3];

    /* Plain: w1 = w0 - 0.1 g0 = {0.99, -1.98, 0.47}; w2 = w1 - 0.1 g1. */
    run3("sgd", (const char *[]){ "lr" }, (double[]){ 0.1 }, 1, 2, w);
    check3(w, (double[]){ 0.97, -1.99, 0.48 });

    /* Momentum 0.9: b1 = g0, w1 = {0.99, -1.98, 0.47};
     * b2 = 0.9 g0 + g1 = {0.29, -0.08, 0.17}, w2 = {0.961, -1.972, 0.453};
     * b3 = 0.9 b2 + g2 = {-0.039, -0.022, 0.353}, w3 = w2 - 0.1 b3. */
    run3("sgd", (const char *[]){ "lr", "momentum" }, (double[]){ 0.1, 0.9 }, 2, 2, w);
    check3(w, (double[]){ 0.961, -1.972, 0.453 });
    run3("sgd", (const char *[]){ "lr", "momentum" }, (double[]){ 0.1, 0.9 }, 2, 3, w);
    check3(w, (double[]){ 0.9649, -1.9698, 0.4177 });

    /* Nesterov with weight decay, from the formulas. */
    double lr = 0.05, mu = 0.8, wd = 0.1, e[3], b[3];
    for (int k = 0; k < 3; k++)
        e[k] = W0[k];
    for (int s = 0; s < 3; s++)
        for (int k = 0; k < 3; k++) {
            double gk = G[s][k] + wd * e[k];
            b[k] = s == 0 ? gk : mu * b[k] + gk;
            e[k] -= lr * (gk + mu * b[k]);
        }
    run3("sgd", (const char *[]){ "lr", "momentum", "nesterov", "weight_decay" },
         (double[]){ lr, mu, 1, wd }, 4, 3, w);
    check3(w, e);
}

/* Adam and AdamW from Kingma and Ba's Algorithm 1 (AdamW: Loshchilov and Hutter
 * 2019, with the decay scaled by lr as PyTorch does). */
static void adam_expect(bool decoupled, double lr, double b1, double b2, double eps, double wd,
                        int steps, double *e)
{
    double m[3] = { 0 }, v[3] = { 0 };
    for (int k = 0; k < 3; k++)
        e[k] = W0[k];
    for (int t = 1; t <= steps; t++)
        for (int k = 0; k < 3; k++) {
            double g = G[t - 1][k];
            if (decoupled)
                e[k] -= lr * wd * e[k];
            else
                g += wd * e[k];
            m[k] = b1 * m[k] + (1 - b1) * g;
            v[k] = b2 * v[k] + (1 - b2) * g * g;
            double mh = m[k] / (1 - pow(b1, t)), vh = v[k] / (1 - pow(b2, t));
            e[k] -= lr * mh / (sqrt(vh) + eps);
        }
}

static void test_adam(void)
{
    real w[3];
    double e[3];
    const char *names[] = { "lr", "beta1", "beta2", "eps", "weight_decay" };

    /* One step: m_hat = g, v_hat = g^2, so w1 = w0 - lr g / (|g| + eps). */
    run3("adam", names, (double[]){ 0.01, 0.9, 0.999, 1e-8, 0 }, 5, 1, w);
    check3(w, (double[]){ 1 - 0.01 * 0.1 / (0.1 + 1e-8), -2 + 0.01 * 0.2 / (0.2 + 1e-8),
                          0.5 - 0.01 * 0.3 / (0.3 + 1e-8) });

    adam_expect(false, 0.01, 0.9, 0.999, 1e-8, 0, 3, e);
    run3("adam", names, (double[]){ 0.01, 0.9, 0.999, 1e-8, 0 }, 5, 3, w);
    check3(w, e);

    adam_expect(false, 0.02, 0.8, 0.95, 1e-3, 0.1, 3, e);
    run3("adam", names, (double[]){ 0.02, 0.8, 0.95, 1e-3, 0.1 }, 5, 3, w);
    check3(w, e);

    adam_expect(true, 0.02, 0.8, 0.95, 1e-3, 0.1, 3, e);
    run3("adamw", names, (double[]){ 0.02, 0.8, 0.95, 1e-3, 0.1 }, 5, 3, w);
    check3(w, e);

    /* AdamW's default weight_decay is 0.01 (builtins.def): a zero gradient only
     * shrinks w by 1 - lr * 0.01. */
    Diags d;
    diags_init(&d);
    Optimizer *o = optim_new("adamw", NULL, NULL, 0, NULL, NULL, 0, 0, &d, span_none());
    CHECK_NEAR(optim_lr(o), 1e-3, 1e-15);
    real wz[3] = { 1, -2, 0.5 }, gz[3] = { 0, 0, 0 };
    OptimParam p = { .name = "w", .w = wz, .g = gz, .n = 3 };
    CHECK(optim_bind(o, &p, 1, &d, span_none()));
    optim_step(o, &p, 1);
    check3(wz, (double[]){ 1 - 1e-5, -2 * (1 - 1e-5), 0.5 * (1 - 1e-5) });
    optim_free(o);
    diags_fini(&d);
}

static void test_rmsprop(void)
{
    real w[3];
    const char *names[] = { "lr", "alpha", "eps", "momentum", "weight_decay" };

    /* One step: v = (1 - alpha) g^2, w1 = w0 - lr g / (sqrt(0.1) |g| + eps). */
    run3("rmsprop", names, (double[]){ 0.01, 0.9, 1e-8, 0, 0 }, 5, 1, w);
    double r = sqrt(0.1);
    check3(w, (double[]){ 1 - 0.01 * 0.1 / (r * 0.1 + 1e-8), -2 + 0.01 * 0.2 / (r * 0.2 + 1e-8),
                          0.5 - 0.01 * 0.3 / (r * 0.3 + 1e-8) });

    for (int with_momentum = 0; with_momentum < 2; with_momentum++) {
        double lr = 0.01, al = 0.9, eps = 1e-6, mu = with_momentum ? 0.7 : 0, wd = 0.05;
        double e[3], v[3] = { 0 }, b[3] = { 0 };
        for (int k = 0; k < 3; k++)
            e[k] = W0[k];
        for (int s = 0; s < 3; s++)
            for (int k = 0; k < 3; k++) {
                double g = G[s][k] + wd * e[k];
                v[k] = al * v[k] + (1 - al) * g * g;
                double step = g / (sqrt(v[k]) + eps);
                if (mu > 0) {
                    b[k] = mu * b[k] + step;
                    step = b[k];
                }
                e[k] -= lr * step;
            }
        run3("rmsprop", names, (double[]){ lr, al, eps, mu, wd }, 5, 3, w);
        check3(w, e);
    }
}

/* An optimizer with nothing bound, stepped k times, to read its schedule. */
static Optimizer *sched_new(double lr, const char *kind, const double *v, int nv, int64_t total)
{
    Diags d;
    diags_init(&d);
    Optimizer *o = optim_new("sgd", (const char *[]){ "lr" }, (double[]){ lr }, 1, kind, v, nv,
                             total, &d, span_none());
    CHECK(o != NULL);
    CHECK(optim_bind(o, NULL, 0, &d, span_none()));
    diags_fini(&d);
    return o;
}

static double lr_at(Optimizer *o, int64_t k)
{
    while (optim_steps(o) < k)
        optim_step(o, NULL, 0);
    return optim_lr(o);
}

static void test_schedules(void)
{
    Optimizer *o = sched_new(0.1, NULL, NULL, 0, 0);
    CHECK_NEAR(lr_at(o, 0), 0.1, 1e-15);
    CHECK_NEAR(lr_at(o, 1000), 0.1, 1e-15);
    optim_free(o);

    /* step_decay(every = 3, gamma = 0.5): lr * 0.5^floor(k / 3). */
    o = sched_new(0.1, "step_decay", (double[]){ 3, 0.5 }, 2, 0);
    CHECK_NEAR(lr_at(o, 0), 0.1, 1e-15);
    CHECK_NEAR(lr_at(o, 2), 0.1, 1e-15);
    CHECK_NEAR(lr_at(o, 3), 0.05, 1e-15);
    CHECK_NEAR(lr_at(o, 5), 0.05, 1e-15);
    CHECK_NEAR(lr_at(o, 6), 0.025, 1e-15);
    CHECK_NEAR(lr_at(o, 9), 0.0125, 1e-15);
    optim_free(o);
    o = sched_new(1, "step_decay", (double[]){ 10 }, 1, 0);   /* gamma = 0.1 by default */
    CHECK_NEAR(lr_at(o, 25), 0.01, 1e-15);
    optim_free(o);

    /* warmup(steps = 4): k / 4, then 1; the first update has lr 0. */
    o = sched_new(1, "warmup", (double[]){ 4 }, 1, 0);
    CHECK_NEAR(lr_at(o, 0), 0, 1e-15);
    CHECK_NEAR(lr_at(o, 1), 0.25, 1e-15);
    CHECK_NEAR(lr_at(o, 3), 0.75, 1e-15);
    CHECK_NEAR(lr_at(o, 4), 1, 1e-15);
    CHECK_NEAR(lr_at(o, 50), 1, 1e-15);
    optim_free(o);

    /* cosine(warmup = 2, floor = 0.1) over a run of 12: warm-up over 0..2, then
     * 0.1 + 0.9 (1 + cos(pi p)) / 2 with p = (k - 2) / 10, floor from 12 on. */
    const double pi = 3.14159265358979323846;
    o = sched_new(1, "cosine", (double[]){ 2, 0.1 }, 2, 12);
    CHECK_NEAR(lr_at(o, 0), 0, 1e-15);
    CHECK_NEAR(lr_at(o, 1), 0.5, 1e-15);
    CHECK_NEAR(lr_at(o, 2), 1, 1e-15);
    CHECK_NEAR(lr_at(o, 7), 0.55, 1e-15);
    CHECK_NEAR(lr_at(o, 11), 0.1 + 0.45 * (1 + cos(0.9 * pi)), 1e-15);
    CHECK_NEAR(lr_at(o, 12), 0.1, 1e-15);
    CHECK_NEAR(lr_at(o, 30), 0.1, 1e-15);
    optim_free(o);
    o = sched_new(2, "cosine", NULL, 0, 4);   /* warmup 0, floor 0 */
    CHECK_NEAR(lr_at(o, 0), 2, 1e-15);
    CHECK_NEAR(lr_at(o, 2), 1, 1e-15);
    CHECK_NEAR(lr_at(o, 4), 0, 1e-15);
    optim_free(o);

    /* The schedule reaches the update: with warm-up the first step moves nothing,
     * the second moves by lr / 2. */
    Diags d;
    diags_init(&d);
    o = optim_new("sgd", (const char *[]){ "lr" }, (double[]){ 0.1 }, 1, "warmup", (double[]){ 2 }, 1,
                  0, &d, span_none());
    real w[1] = { 1 }, g[1] = { 1 };
    OptimParam p = { .name = "w", .w = w, .g = g, .n = 1 };
    CHECK(optim_bind(o, &p, 1, &d, span_none()));
    optim_step(o, &p, 1);
    CHECK(w[0] == 1);
    optim_step(o, &p, 1);
    CHECK_NEAR(w[0], 0.95, TOL);
    optim_free(o);
    diags_fini(&d);
}

static void test_clip(void)
{
    /* |(3, 4, 12)| = 13. */
    real a[2] = { 3, 4 }, b[1] = { 12 };
    OptimParam p[2] = { { .name = "a", .g = a, .n = 2 }, { .name = "b", .g = b, .n = 1 } };
    CHECK_NEAR(optim_clip(p, 2, 20), 13, 1e-15);
    CHECK(a[0] == 3 && a[1] == 4 && b[0] == 12);   /* below the limit: untouched */

    double c = 6.5 / (13 + 1e-6);
    CHECK_NEAR(optim_clip(p, 2, 6.5), 13, 1e-15);
    CHECK_NEAR(a[0], 3 * c, TOL);
    CHECK_NEAR(a[1], 4 * c, TOL);
    CHECK_NEAR(b[0], 12 * c, TOL);
    CHECK_NEAR(optim_clip(p, 2, 100), 13 * c, TOL);   /* the new norm, about 6.5 */

    /* At exactly the limit PyTorch still scales by max / (total + 1e-6). */
    real e[1] = { 2 };
    OptimParam pe = { .name = "e", .g = e, .n = 1 };
    CHECK_NEAR(optim_clip(&pe, 1, 2), 2, 1e-15);
    CHECK(e[0] < 2);
    CHECK_NEAR(e[0], 2 * 2 / (2 + 1e-6), TOL);

    /* NaN: reported, gradients left as they were for the caller to see. */
    real q[2] = { NAN, 1 };
    OptimParam pq = { .name = "q", .g = q, .n = 2 };
    CHECK(isnan(optim_clip(&pq, 1, 1)));
    CHECK(q[1] == 1);
    q[0] = INFINITY;
    CHECK(isinf(optim_clip(&pq, 1, 1)));
    CHECK(q[1] == 1);

    CHECK_NEAR(optim_clip(NULL, 0, 1), 0, 0);

    Diags d;
    diags_init(&d);
    CHECK(optim_check_clip(1.0, &d, span_none()));
    CHECK(!optim_check_clip(0, &d, span_none()));
    CHECK(has_error(&d, "clip must be a positive gradient norm, got 0"));
    CHECK(!optim_check_clip(-1, &d, span_none()));
    CHECK(!optim_check_clip(INFINITY, &d, span_none()));
    CHECK_INT(d.errors, 3);
    diags_fini(&d);
}

static void test_constraints(void)
{
    Diags d;
    diags_init(&d);
    Optimizer *o = optim_new("sgd", (const char *[]){ "lr" }, (double[]){ 1 }, 1, NULL, NULL, 0, 0,
                             &d, span_none());

    /* sign: w = max(w - g, 0). mask: zeroed where 0. no_self: diagonal 0. */
    real ws[3] = { 0.5, 0.1, 2 }, gs[3] = { 1, -1, 0.2 };
    real wm[3] = { 1, 1, 1 }, gm[3] = { -1, -1, -1 };
    const real mask[3] = { 1, 0, 1 };
    real wn[9] = { 0, 1, 2, 3, 0, 5, 6, 7, 0 }, gn[9] = { -1, 0, 0, 0, -1, 0, 0, 0, -1 };
    real wx[4] = { 0.5, 0.5, 0.5, 0.5 }, gx[4] = { 1, 1, -1, 1 };   /* all three at once */
    const real maskx[4] = { 1, 1, 1, 0 };
    OptimParam p[4] = {
        { .name = "E_to_I.w", .w = ws, .g = gs, .n = 3, .sign = 1 },
        { .name = "S.w", .w = wm, .g = gm, .n = 3, .mask = mask },
        { .name = "J.w", .w = wn, .g = gn, .n = 9, .rows = 3, .cols = 3, .no_self = true },
        { .name = "K.w", .w = wx, .g = gx, .n = 4, .rows = 2, .cols = 2, .sign = -1, .mask = maskx,
          .no_self = true },
    };
    CHECK(optim_bind(o, p, 4, &d, span_none()));
    optim_step(o, p, 4);
    check3(ws, (double[]){ 0, 1.1, 1.8 });
    check3(wm, (double[]){ 2, 0, 2 });
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            CHECK(wn[i * 3 + j] == (i == j ? 0 : (real)(i * 3 + j)));
    CHECK(wx[0] == 0 && wx[1] == 0 && wx[2] == (real)1.5 && wx[3] == 0);

    /* A NaN survives the clamp, so training still sees it. */
    ws[0] = NAN;
    gs[0] = 0;
    optim_step(o, p, 4);
    CHECK(isnan(ws[0]));
    optim_free(o);
    diags_fini(&d);
}

/* Resume: two parameters, deterministic gradients from an LCG. */
enum { RR = 3, RC = 4, RV = 5, RSTEPS = 10, RSPLIT = 4 };

static double lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) / 9007199254740992.0 * 2 - 1;
}

typedef struct Net {
    real J[RR * RC], gJ[RR * RC], b[RV], gb[RV];
    OptimParam p[2];
} Net;

static void net_init(Net *n)
{
    uint64_t s = 7;
    for (int k = 0; k < RR * RC; k++)
        n->J[k] = (real)lcg(&s);
    for (int k = 0; k < RV; k++)
        n->b[k] = (real)lcg(&s);
    n->p[0] = (OptimParam){ .name = "J.w", .w = n->J, .g = n->gJ, .n = RR * RC, .rows = RR, .cols = RC };
    n->p[1] = (OptimParam){ .name = "E.bias", .w = n->b, .g = n->gb, .n = RV, .sign = 1 };
}

/* Gradients of step k depend on k and on w, as a real loss's would. */
static void net_grad(Net *n, int64_t k)
{
    uint64_t s = 1000 + (uint64_t)k;
    for (int j = 0; j < RR * RC; j++)
        n->gJ[j] = (real)(lcg(&s) + 0.3 * n->J[j]);
    for (int j = 0; j < RV; j++)
        n->gb[j] = (real)(lcg(&s) + 0.3 * n->b[j]);
}

static Optimizer *make_opt(int which, Diags *d)
{
    switch (which) {
    case 0:
        return optim_new("sgd", (const char *[]){ "lr", "momentum", "nesterov" },
                         (double[]){ 0.1, 0.9, 1 }, 3, "step_decay", (double[]){ 3, 0.5 }, 2, RSTEPS,
                         d, span_none());
    case 1:
        return optim_new("adam", (const char *[]){ "lr", "weight_decay" }, (double[]){ 0.05, 0.01 }, 2,
                         "cosine", (double[]){ 2, 0.1 }, 2, RSTEPS, d, span_none());
    case 2:
        return optim_new("adamw", (const char *[]){ "lr" }, (double[]){ 0.05 }, 1, "warmup",
                         (double[]){ 3 }, 1, RSTEPS, d, span_none());
    default:
        return optim_new("rmsprop", (const char *[]){ "lr", "momentum" }, (double[]){ 0.01, 0.5 }, 2,
                         NULL, NULL, 0, RSTEPS, d, span_none());
    }
}

static void train(Optimizer *o, Net *n, int64_t steps)
{
    for (int64_t k = 0; k < steps; k++) {
        net_grad(n, optim_steps(o));
        optim_clip(n->p, 2, 1.5);
        optim_step(o, n->p, 2);
    }
}

static bool save_ckpt(const Optimizer *o, const char *path, Diags *d)
{
    NpzWriter *w = npz_writer_new(path, d, span_none());
    if (!w)
        return false;
    if (!optim_save(o, w, d, span_none())) {
        npz_writer_abort(w);
        return false;
    }
    return npz_writer_commit(w, d, span_none());
}

static bool load_ckpt(Optimizer *o, const char *path, Diags *d)
{
    NpzReader *r = npz_reader_new(path, d, span_none());
    if (!r)
        return false;
    bool ok = optim_load(o, r, d, span_none());
    npz_reader_free(r);
    return ok;
}

static void test_resume(void)
{
    static const char *const kinds[] = { "sgd", "adam", "adamw", "rmsprop" };
    for (int which = 0; which < 4; which++) {
        Diags d;
        diags_init(&d);
        Net a, b;
        net_init(&a);
        net_init(&b);

        Optimizer *oa = make_opt(which, &d);
        CHECK(optim_bind(oa, a.p, 2, &d, span_none()));
        train(oa, &a, RSTEPS);

        Optimizer *ob = make_opt(which, &d);
        CHECK(optim_bind(ob, b.p, 2, &d, span_none()));
        train(ob, &b, RSPLIT);
        CHECK(save_ckpt(ob, tmp("ck.npz"), &d));
        optim_free(ob);

        /* A fresh optimizer; the parameters themselves are the model's to save. */
        ob = make_opt(which, &d);
        CHECK(optim_bind(ob, b.p, 2, &d, span_none()));
        CHECK(load_ckpt(ob, tmp("ck.npz"), &d));
        CHECK_INT(optim_steps(ob), RSPLIT);
        train(ob, &b, RSTEPS - RSPLIT);

        if (!CHECK(memcmp(a.J, b.J, sizeof a.J) == 0 && memcmp(a.b, b.b, sizeof a.b) == 0))
            fprintf(stderr, "  %s: resumed run differs\n", kinds[which]);
        CHECK(optim_lr(oa) == optim_lr(ob));
        CHECK_INT(d.errors, 0);
        diags_print(&d, stderr, false);

        /* Interrupted at a different step, the result differs: the test can fail. */
        if (which == 1) {
            Net c;
            net_init(&c);
            Optimizer *oc = make_opt(which, &d);
            CHECK(optim_bind(oc, c.p, 2, &d, span_none()));
            train(oc, &c, RSPLIT);
            CHECK(load_ckpt(oc, tmp("ck.npz"), &d));   /* same step: fine */
            train(oc, &c, 1);
            Optimizer *fresh = make_opt(which, &d);
            CHECK(optim_bind(fresh, c.p, 2, &d, span_none()));
            train(fresh, &c, RSTEPS - RSPLIT - 1);
            CHECK(memcmp(a.J, c.J, sizeof a.J) != 0);
            optim_free(oc);
            optim_free(fresh);
        }
        optim_free(oa);
        optim_free(ob);
        diags_fini(&d);
    }
}

/* Writes an archive of the given arrays (NULL-terminated keys). */
static void write_npz(const char *path, const char *const *keys, Tensor *const *ts)
{
    Diags d;
    diags_init(&d);
    NpzWriter *w = npz_writer_new(path, &d, span_none());
    for (int k = 0; keys[k]; k++)
        npz_writer_add(w, keys[k], ts[k], &d, span_none());
    CHECK(npz_writer_commit(w, &d, span_none()));
    diags_fini(&d);
}

static void test_load_errors(void)
{
    Diags d;
    diags_init(&d);
    Net a, twin;
    net_init(&a);
    net_init(&twin);
    Optimizer *o = make_opt(1, &d);      /* adam */
    Optimizer *ot = make_opt(1, &d);
    CHECK(optim_bind(o, a.p, 2, &d, span_none()));
    CHECK(optim_bind(ot, twin.p, 2, &d, span_none()));
    train(o, &a, 3);
    train(ot, &twin, 3);

    /* An sgd checkpoint has no moments. */
    Optimizer *os = make_opt(0, &d);
    Net s;
    net_init(&s);
    CHECK(optim_bind(os, s.p, 2, &d, span_none()));
    train(os, &s, 2);
    CHECK(save_ckpt(os, tmp("sgd.npz"), &d));
    optim_free(os);
    CHECK(!load_ckpt(o, tmp("sgd.npz"), &d));
    CHECK(has_error(&d, "checkpoint has no 'optim.m.J.w' (the first moment of J.w kept by adam)"));
    CHECK(has_hint(&d, "it holds 'optim.b.J.w' instead"));
    diags_clear(&d);

    /* Mis-shaped: [4, 3] where J.w is [3, 4]. */
    int64_t d43[2] = { 4, 3 }, d5[1] = { 5 }, d1[1] = { 1 };
    Tensor *t43 = tensor_new("x", 2, d43, &d, span_none());
    Tensor *t5 = tensor_new("x", 1, d5, &d, span_none());
    Tensor *step = tensor_new("x", 1, d1, &d, span_none());
    step->data[0] = 7;
    write_npz(tmp("shape.npz"),
              (const char *[]){ "optim.step", "optim.m.J.w", "optim.v.J.w", "optim.m.E.bias",
                                "optim.v.E.bias", NULL },
              (Tensor *[]){ step, t43, t43, t5, t5 });
    CHECK(!load_ckpt(o, tmp("shape.npz"), &d));
    CHECK(has_error(&d, "checkpoint's 'optim.m.J.w' is [4, 3], but J.w is [3, 4]"));
    CHECK(has_error(&d, "checkpoint's 'optim.v.J.w' is [4, 3], but J.w is [3, 4]"));
    CHECK_INT(d.errors, 2);
    diags_clear(&d);

    /* Missing step, a step that is no count, state of a parameter not learned. */
    Tensor *t34 = tensor_new("x", 2, (int64_t[]){ 3, 4 }, &d, span_none());
    write_npz(tmp("nostep.npz"),
              (const char *[]){ "optim.m.J.w", "optim.v.J.w", "optim.m.E.bias", "optim.v.E.bias",
                                "optim.m.K.w", NULL },
              (Tensor *[]){ t34, t34, t5, t5, t5 });
    CHECK(!load_ckpt(o, tmp("nostep.npz"), &d));
    CHECK(has_error(&d, "checkpoint has no 'optim.step'"));
    CHECK(has_error(&d, "checkpoint holds 'optim.m.K.w', optimizer state for 'K.w', which is not a "
                        "learned parameter of this model"));
    diags_clear(&d);
    step->data[0] = (real)2.5;
    write_npz(tmp("badstep.npz"),
              (const char *[]){ "optim.step", "optim.m.J.w", "optim.v.J.w", "optim.m.E.bias",
                                "optim.v.E.bias", NULL },
              (Tensor *[]){ step, t34, t34, t5, t5 });
    CHECK(!load_ckpt(o, tmp("badstep.npz"), &d));
    CHECK(has_error(&d, "checkpoint's 'optim.step' is 2.5, not a count of steps"));
    diags_clear(&d);
    write_npz(tmp("wide.npz"),
              (const char *[]){ "optim.step", "optim.m.J.w", "optim.v.J.w", "optim.m.E.bias",
                                "optim.v.E.bias", NULL },
              (Tensor *[]){ t5, t34, t34, t5, t5 });
    CHECK(!load_ckpt(o, tmp("wide.npz"), &d));
    CHECK(has_error(&d, "checkpoint's 'optim.step' is [5], expected a single number"));
    diags_clear(&d);

    /* Every failure left the optimizer as it was: one more step agrees with the twin. */
    CHECK_INT(optim_steps(o), 3);
    train(o, &a, 1);
    train(ot, &twin, 1);
    CHECK(memcmp(a.J, twin.J, sizeof a.J) == 0 && memcmp(a.b, twin.b, sizeof a.b) == 0);

    /* A checkpoint with the right keys but other values does change it. */
    step->data[0] = 1;
    write_npz(tmp("good.npz"),
              (const char *[]){ "optim.step", "optim.m.J.w", "optim.v.J.w", "optim.m.E.bias",
                                "optim.v.E.bias", "J.w", NULL },
              (Tensor *[]){ step, t34, t34, t5, t5, t34 });
    CHECK(load_ckpt(o, tmp("good.npz"), &d));
    CHECK_INT(optim_steps(o), 1);
    CHECK_INT(d.errors, 0);

    tensor_free(t43);
    tensor_free(t5);
    tensor_free(t34);
    tensor_free(step);
    optim_free(o);
    optim_free(ot);
    diags_fini(&d);
}

/* optim_new's call, expected to fail with an error containing `text`. */
static void bad(const char *kind, const char *name, double value, const char *sched,
                const double *sv, int ns, int64_t total, const char *text)
{
    Diags d;
    diags_init(&d);
    const char *names[1] = { name };
    double values[1] = { value };
    Optimizer *o = optim_new(kind, names, values, name ? 1 : 0, sched, sv, ns, total, &d,
                             span_none());
    if (!CHECK(o == NULL))
        fprintf(stderr, "  %s(%s = %g) was accepted\n", kind, name ? name : "", value);
    CHECK(has_error(&d, text));
    optim_free(o);
    diags_fini(&d);
}

static void test_bad_hyperparameters(void)
{
    bad("sgd", "lr", 0, NULL, NULL, 0, 0, "sgd: lr must be positive, got 0");
    bad("adam", "lr", -0.1, NULL, NULL, 0, 0, "adam: lr must be positive, got -0.1");
    bad("adam", "lr", NAN, NULL, NULL, 0, 0, "adam: lr must be a finite number, got nan");
    bad("adam", "beta1", 1, NULL, NULL, 0, 0, "adam: beta1 must be in [0, 1), got 1");
    bad("adamw", "beta2", -0.1, NULL, NULL, 0, 0, "adamw: beta2 must be in [0, 1), got -0.1");
    bad("adam", "eps", 0, NULL, NULL, 0, 0, "adam: eps must be positive, got 0");
    bad("adam", "weight_decay", -1, NULL, NULL, 0, 0, "adam: weight_decay must be at least 0, got -1");
    bad("sgd", "momentum", -0.5, NULL, NULL, 0, 0, "sgd: momentum must be at least 0, got -0.5");
    bad("sgd", "nesterov", 1, NULL, NULL, 0, 0, "sgd: nesterov needs a momentum above 0");
    bad("sgd", "nesterov", 2, NULL, NULL, 0, 0, "sgd: nesterov must be 0 or 1, got 2");
    bad("rmsprop", "alpha", 1, NULL, NULL, 0, 0, "rmsprop: alpha must be in [0, 1), got 1");
    bad("rmsprop", "momentum", -1, NULL, NULL, 0, 0, "rmsprop: momentum must be at least 0");
    bad("rmsprop", "eps", INFINITY, NULL, NULL, 0, 0, "rmsprop: eps must be a finite number, got inf");
    bad("adma", NULL, 0, NULL, NULL, 0, 0, "unknown optimizer 'adma'; did you mean 'adam'?");
    bad("lbfgs", NULL, 0, NULL, NULL, 0, 0, "unknown optimizer 'lbfgs'");
    bad("adam", "bta1", 0.9, NULL, NULL, 0, 0, "adam has no parameter 'bta1'; did you mean 'beta1'?");
    bad("sgd", "beta1", 0.9, NULL, NULL, 0, 0, "sgd has no parameter 'beta1'");
    bad("adam", "schedule", 1, NULL, NULL, 0, 0, "adam: schedule must be a schedule such as cosine");

    bad("sgd", NULL, 0, "cosin", NULL, 0, 10, "unknown learning-rate schedule 'cosin'; did you mean 'cosine'?");
    bad("sgd", NULL, 0, "step_decay", NULL, 0, 10, "step_decay needs a value for every");
    bad("sgd", NULL, 0, "step_decay", (double[]){ 0 }, 1, 10,
        "step_decay: every must be a whole number of steps, at least 1, got 0");
    bad("sgd", NULL, 0, "step_decay", (double[]){ 2.5 }, 1, 10, "every must be a whole number");
    bad("sgd", NULL, 0, "step_decay", (double[]){ 2, 0 }, 2, 10, "step_decay: gamma must be positive, got 0");
    bad("sgd", NULL, 0, "cosine", (double[]){ 0, 1.5 }, 2, 10, "cosine: floor must be in [0, 1], got 1.5");
    bad("sgd", NULL, 0, "cosine", (double[]){ -1 }, 1, 10, "cosine: warmup must be a whole number of steps, at least 0, got -1");
    bad("sgd", NULL, 0, "cosine", NULL, 0, 0, "cosine needs the run's length in steps, got 0");
    bad("sgd", NULL, 0, "cosine", (double[]){ 1, 0, 3 }, 3, 10, "cosine takes 2 values, got 3");
    bad("sgd", NULL, 0, "warmup", NULL, 0, 10, "warmup needs a value for steps");

    /* Every error is reported, not just the first; a duplicate is one. */
    Diags d;
    diags_init(&d);
    CHECK(optim_new("lbfgs", NULL, NULL, 0, NULL, NULL, 0, 0, &d, span_none()) == NULL);
    CHECK(has_hint(&d, "the optimizers are sgd, adam, adamw, rmsprop"));
    CHECK(optim_new("sgd", NULL, NULL, 0, "linear", NULL, 0, 0, &d, span_none()) == NULL);
    CHECK(has_hint(&d, "the schedules are step_decay, cosine, warmup"));
    diags_clear(&d);
    CHECK(optim_new("adam", (const char *[]){ "lr", "beta1", "eps", "lr" },
                    (double[]){ -1, 2, -3, 0.1 }, 4, NULL, NULL, 0, 0, &d, span_none()) == NULL);
    CHECK(has_error(&d, "adam: lr is given twice"));
    diags_clear(&d);
    CHECK(optim_new("adam", (const char *[]){ "lr", "beta1", "eps" }, (double[]){ -1, 2, -3 }, 3,
                    "warmup", (double[]){ -2 }, 1, 0, &d, span_none()) == NULL);
    CHECK_INT(d.errors, 4);
    diags_fini(&d);
}

static void test_bind_errors(void)
{
    Diags d;
    diags_init(&d);
    Optimizer *o = optim_new("adam", NULL, NULL, 0, NULL, NULL, 0, 0, &d, span_none());
    real w[6] = { 0 }, g[6] = { 0 };
    OptimParam p = { .name = "J.w", .w = w, .g = g, .n = 6, .rows = 2, .cols = 3, .no_self = true };
    CHECK(!optim_bind(o, &p, 1, &d, span_none()));
    CHECK(has_error(&d, "no_self needs a square matrix, but 'J.w' is [2, 3]"));
    p.no_self = false;
    p.n = 5;
    CHECK(!optim_bind(o, &p, 1, &d, span_none()));
    CHECK(has_error(&d, "learned parameter 'J.w' has 5 elements, which do not make [2, 3]"));
    p.n = 6;
    OptimParam two[2] = { p, p };
    CHECK(!optim_bind(o, two, 2, &d, span_none()));
    CHECK(has_error(&d, "learned parameter 'J.w' is listed twice"));
    p.name = "";
    CHECK(!optim_bind(o, &p, 1, &d, span_none()));
    CHECK(has_error(&d, "learned parameter 1 has no name"));
    OptimParam empty = { .name = "E.bias", .w = w, .g = g, .n = 0 };
    CHECK(!optim_bind(o, &empty, 1, &d, span_none()));
    CHECK(has_error(&d, "learned parameter 'E.bias' has no elements"));
    /* Still unbound after all that: a good bind works. */
    p.name = "J.w";
    CHECK(optim_bind(o, &p, 1, &d, span_none()));
    optim_free(o);
    diags_fini(&d);
}

/* Every OPT and SCHED row of builtins.def is one optim.c makes. */
static void test_builtins_rows(void)
{
    static const struct {
        const char *kind, *name;
    } rows[] = {
#define BUILTIN(kind, name, params, rule, help) { #kind, #name },
#include "builtins.def"
#undef BUILTIN
    };
    int nopt = 0, nsched = 0;
    Diags d;
    diags_init(&d);
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        Optimizer *o = NULL;
        if (strcmp(rows[i].kind, "OPT") == 0) {
            o = optim_new(rows[i].name, NULL, NULL, 0, NULL, NULL, 0, 0, &d, span_none());
            nopt++;
        } else if (strcmp(rows[i].kind, "SCHED") == 0) {
            o = optim_new("sgd", NULL, NULL, 0, rows[i].name, (double[]){ 2 }, 1, 10, &d, span_none());
            nsched++;
        } else {
            continue;
        }
        if (!CHECK(o != NULL))
            fprintf(stderr, "  builtins.def's %s is not made by optim_new\n", rows[i].name);
        else
            CHECK_STR(optim_kind(o), strcmp(rows[i].kind, "OPT") == 0 ? rows[i].name : "sgd");
        optim_free(o);
    }
    CHECK_INT(nopt, 4);
    CHECK_INT(nsched, 3);
    CHECK_INT(d.errors, 0);
    diags_fini(&d);
}

static void test_no_allocation(void)
{
    for (int which = 0; which < 4; which++) {
        Diags d;
        diags_init(&d);
        Net n;
        net_init(&n);
        Optimizer *o = make_opt(which, &d);
        CHECK(optim_bind(o, n.p, 2, &d, span_none()));
        unsigned long before = xalloc_count;
        for (int k = 0; k < 20; k++) {
            net_grad(&n, k);
            optim_clip(n.p, 2, 0.5);
            optim_step(o, n.p, 2);
            (void)optim_lr(o);
        }
        CHECK_INT(xalloc_count - before, 0);
        optim_free(o);
        diags_fini(&d);
    }
}

static void cleanup(void)
{
    static const char *const files[] = { "ck.npz", "sgd.npz", "shape.npz", "nostep.npz",
                                         "badstep.npz", "wide.npz", "good.npz" };
    for (size_t k = 0; k < sizeof files / sizeof *files; k++)
        unlink(tmp(files[k]));
    rmdir(tmpdir);
}

int main(void)
{
    strcpy(tmpdir, "/tmp/cajal_test_optim_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    test_sgd();
    test_adam();
    test_rmsprop();
    test_schedules();
    test_clip();
    test_constraints();
    test_resume();
    test_load_errors();
    test_bad_hyperparameters();
    test_bind_errors();
    test_builtins_rows();
    test_no_allocation();
    cleanup();
    return check_done("test_optim");
}
