/* test_engine.c: the simulation engine end to end, through the interpreter.
 *
 * Each test runs a cajal script with interp_exec, as the command line does, and
 * reads the runtime (in.rt.model, in.rt.recs) rather than printed text:
 *
 *   - Euler and RK4 against the analytic solutions of exponential decay and of a
 *     harmonic oscillator, with their orders of convergence (halving dt halves
 *     the Euler error and divides the RK4 error by about 16), each final value
 *     also against the closed form of the discrete map; exponential Euler exact
 *     on linear equations for any dt;
 *   - the NumPy references of fixtures/sim (fixtures/sim/gen_sim.py): five small
 *     networks loaded from .npz and simulated, every recorded sample compared;
 *   - save writes the bytes numpy.save writes (fixtures/sim/w34.npy), inside an
 *     .npz too, and load reads them back;
 *   - the same seed gives bit-identical states, another seed other states;
 *   - the time loop allocates nothing: simulate_loop_allocations stays 0 with
 *     recording, noise, dense, sparse, low-rank and one-to-one synapses, and,
 *     counted independently by wrapping malloc here, a run of 1000 steps makes
 *     as many heap calls as a run of 100.
 *
 * Tolerances are set per precision: a float build checks the same claims at
 * float's resolution. No timing anywhere.
 */
#include "check.h"
#include "builtins.h"
#include "interp.h"
#include "io_npy.h"
#include "xalloc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#ifndef CAJAL_SRCDIR
#define CAJAL_SRCDIR "."
#endif

extern long simulate_loop_allocations;

#ifdef CAJAL_FLOAT
static const double exact_tol = 1e-5;     /* a closed form against the run */
static const double fixture_tol = 2e-5;   /* relative to the trajectory's largest value */
#else
static const double exact_tol = 1e-13;
static const double fixture_tol = 1e-12;
#endif

/* ---- counting heap calls ----------------------------------------------------
 * Every malloc of the process (cajal's, libc's, OpenBLAS's) passes through here,
 * so the loop test does not rely on cajal counting its own allocations. Not under
 * the sanitizers, which own malloc themselves. */
#if !defined(CAJAL_SANITIZE) && defined(__GLIBC__)
#define COUNTS_HEAP 1
#include <dlfcn.h>
#include <stdbool.h>
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);
static long heap_calls;
static __thread int in_count;
/* Calls made by OpenBLAS are its own business: some of its kernels (the small
 * dgemm kernels OpenBLAS picks on AVX-512 cores) allocate on every call, and
 * cajal cannot change that. Everything else counts. */
static void counted_from(void *caller)
{
    if (in_count)
        return;
    in_count = 1;
    Dl_info info;
    bool blas = caller && dladdr(caller, &info) && info.dli_fname && strstr(info.dli_fname, "openblas");
    in_count = 0;
    if (!blas)
        __atomic_fetch_add(&heap_calls, 1, __ATOMIC_RELAXED);
}
#define counted() counted_from(__builtin_return_address(0))
void *malloc(size_t n) { counted(); return __libc_malloc(n); }
void *calloc(size_t n, size_t size) { counted(); return __libc_calloc(n, size); }
void *realloc(void *p, size_t n) { counted(); return __libc_realloc(p, n); }
void *aligned_alloc(size_t align, size_t n) { counted(); return __libc_memalign(align, n); }
int posix_memalign(void **p, size_t align, size_t n)
{
    counted();
    void *q = __libc_memalign(align, n);
    if (!q)
        return ENOMEM;
    *p = q;
    return 0;
}
#endif

/* ---- driving the interpreter ------------------------------------------------ */

static char tmpdir[64];
static FILE *devnull;

static const char *tmp(const char *name)
{
    static char buf[4][512];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, sizeof buf[0], "%s/%s", tmpdir, name);
    return b;
}

static void start(Interp *in)
{
    interp_init(in);
    in->out = devnull;
    if (!interp_load_prelude(in)) {
        interp_flush(in);
        fprintf(stderr, "test_engine: the prelude did not load\n");
        exit(1);
    }
}

/* Runs a script; diagnostics go to stderr. True when it ran without error. */
static bool run(Interp *in, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool run(Interp *in, const char *fmt, ...)
{
    char text[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    SourceFile *f = source_new("<test>", text, strlen(text));
    bool ok = interp_exec(in, f) == INTERP_OK;
    interp_flush(in);
    if (!ok)
        fprintf(stderr, "  (the script was:)\n%s\n", text);
    return ok;
}

#define RUN(in, ...) CHECK(run((in), __VA_ARGS__))

/* The value a state variable holds after the last run ([B, n]), or NULL. */
static const Tensor *state(const Interp *in, const char *name)
{
    const Model *m = in->rt.model;
    int s = m ? model_find_state(m, name) : -1;
    const Tensor *t = s >= 0 ? m->states[s].value : NULL;
    if (!t)
        fprintf(stderr, "  no state '%s' after the run\n", name);
    return t;
}

static double state_at(const Interp *in, const char *name, int64_t i)
{
    const Tensor *t = state(in, name);
    return t && i < t->size ? (double)t->data[i] : NAN;
}

static const Tensor *recording(const Interp *in, const char *name)
{
    for (int i = 0; i < in->rt.nrecs; i++)
        if (strcmp(in->rt.recs[i].name, name) == 0)
            return in->rt.recs[i].data;
    fprintf(stderr, "  no recording '%s'\n", name);
    return NULL;
}

static const Tensor *param(const Interp *in, const char *name)
{
    const Model *m = in->rt.model;
    int p = m ? model_find_param(m, name) : -1;
    if (p < 0)
        fprintf(stderr, "  no parameter '%s'\n", name);
    return p >= 0 ? m->params[p].value : NULL;
}

/* ---- integrators ------------------------------------------------------------ */

static const char *const decay_model =
    "neuron Decay(tau = 10ms) {\n"
    "  tau * dx/dt = -x\n"
    "}\n"
    "population P = Decay(1) { init x = 1 }\n";

/* tau dx/dt = -x from x = 1, steps of h = dt / tau up to t = T tau. */
static double decay_end(const char *method, double h, int steps)
{
    Interp in;
    start(&in);
    RUN(&in, "%ssimulate for %d steps dt %.17gms method %s\n", decay_model, steps, h * 10, method);
    double x = state_at(&in, "P.x", 0);
    interp_fini(&in);
    return x;
}

static double rk4_factor(double h) { return 1 - h + h * h / 2 - h * h * h / 6 + h * h * h * h / 24; }

static void test_decay(void)
{
    /* Euler: x_n = (1 - h)^n, error O(h). */
    static const double he[3] = { 0.1, 0.05, 0.025 };
    double ee[3];
    for (int k = 0; k < 3; k++) {
        int n = (int)lround(1 / he[k]);
        double x = decay_end("euler", he[k], n);
        CHECK_NEAR(x, pow(1 - he[k], n), exact_tol);
        ee[k] = fabs(x - exp(-1.0));
    }
    printf("  decay, euler:  errors %.4g %.4g %.4g, ratios %.4g %.4g (order 1: 2)\n", ee[0], ee[1], ee[2],
           ee[0] / ee[1], ee[1] / ee[2]);
    CHECK(ee[0] / ee[1] > 1.9 && ee[0] / ee[1] < 2.1);
    CHECK(ee[1] / ee[2] > 1.9 && ee[1] / ee[2] < 2.1);

    /* RK4: x_n = (1 - h + h^2/2 - h^3/6 + h^4/24)^n, error O(h^4). The ratio tends
     * to 16 from above (17.4, 16.7 at these steps); float resolves only the
     * coarser pair, over t = 2 tau (18.9). */
#ifdef CAJAL_FLOAT
    static const double hr[2] = { 0.4, 0.2 };
    const int nr = 2;
    const double T = 2;
#else
    static const double hr[3] = { 0.2, 0.1, 0.05 };
    const int nr = 3;
    const double T = 1;
#endif
    double er[3];
    for (int k = 0; k < nr; k++) {
        int n = (int)lround(T / hr[k]);
        double x = decay_end("rk4", hr[k], n);
        CHECK_NEAR(x, pow(rk4_factor(hr[k]), n), exact_tol);
        er[k] = fabs(x - exp(-T));
    }
    printf("  decay, rk4:    errors %.4g %.4g, ratio %.4g (order 4: 16)\n", er[0], er[1], er[0] / er[1]);
    CHECK(er[0] / er[1] > 15 && er[0] / er[1] < 20);
    if (nr == 3) {
        printf("                 then %.4g, ratio %.4g\n", er[2], er[1] / er[2]);
        CHECK(er[1] / er[2] > 15 && er[1] / er[2] < 18);
        CHECK(fabs(er[1] / er[2] - 16) < fabs(er[0] / er[1] - 16));
    }

    /* Exponential Euler is exact on a linear equation, whatever the step:
     * dt = tau, five steps, gives e^-5; with a constant drive I0 = 2 it gives
     * I0 + (x0 - I0) e^-5. */
    double x = decay_end("exponential", 1.0, 5);
    CHECK_NEAR(x, exp(-5.0), exact_tol);
    printf("  decay, exponential with dt = tau: error %.3g\n", x - exp(-5.0));
    Interp in;
    start(&in);
    RUN(&in,
        "neuron Driven(tau = 10ms, I0 = 2) {\n"
        "  tau * dx/dt = -x + I0\n"
        "}\n"
        "population P = Driven(3) { init x = -1 }\n"
        "simulate for 5 steps dt 10ms method exponential\n");
    for (int i = 0; i < 3; i++)
        CHECK_NEAR(state_at(&in, "P.x", i), 2 + (-1 - 2) * exp(-5.0), exact_tol);
    interp_fini(&in);
}

static const char *const oscillator_model =
    "neuron Osc(tau = 10ms) {\n"
    "  tau * dx/dt = v\n"
    "  tau * dv/dt = -x\n"
    "}\n"
    "population P = Osc(1) { init x = 1 }\n";

/* Distance from (cos T, -sin T) after steps of h up to t = T tau. */
static double oscillator_error(const char *method, double h, double T)
{
    Interp in;
    start(&in);
    int n = (int)lround(T / h);
    RUN(&in, "%ssimulate for %d steps dt %.17gms method %s\n", oscillator_model, n, h * 10, method);
    double x = state_at(&in, "P.x", 0), v = state_at(&in, "P.v", 0);
    interp_fini(&in);
    return hypot(x - cos(T), v + sin(T));
}

static void test_oscillator(void)
{
    /* Euler: the map (x, v) -> (x + h v, v - h x) grows the radius by
     * sqrt(1 + h^2) a step; error O(h). */
    double ee[3], h[3] = { 0.1, 0.05, 0.025 };
    for (int k = 0; k < 3; k++)
        ee[k] = oscillator_error("euler", h[k], 1);
    printf("  oscillator, euler: errors %.4g %.4g %.4g, ratios %.4g %.4g\n", ee[0], ee[1], ee[2], ee[0] / ee[1],
           ee[1] / ee[2]);
    CHECK(ee[0] / ee[1] > 1.9 && ee[0] / ee[1] < 2.1);
    CHECK(ee[1] / ee[2] > 1.9 && ee[1] / ee[2] < 2.1);
    {
        /* the radius after n Euler steps is (1 + h^2)^(n/2) exactly */
        Interp in;
        start(&in);
        RUN(&in, "%ssimulate for 10 steps dt 1ms\n", oscillator_model);
        double x = state_at(&in, "P.x", 0), v = state_at(&in, "P.v", 0);
        CHECK_NEAR(hypot(x, v), pow(1.01, 5), exact_tol);
        interp_fini(&in);
    }

    /* RK4 on the oscillator: ratios 15.97 and 15.99 over t = 2 tau. */
    double er[3], hr[3] = { 0.5, 0.25, 0.125 };
    for (int k = 0; k < 3; k++)
        er[k] = oscillator_error("rk4", hr[k], 2);
    printf("  oscillator, rk4:   errors %.4g %.4g %.4g, ratios %.4g %.4g\n", er[0], er[1], er[2], er[0] / er[1],
           er[1] / er[2]);
    CHECK(er[0] / er[1] > 15 && er[0] / er[1] < 17);
#ifndef CAJAL_FLOAT
    CHECK(er[1] / er[2] > 15.5 && er[1] / er[2] < 16.5);
#endif
}

/* ---- NumPy references ------------------------------------------------------- */

/* Compares every recording named in the reference file with cajal's. */
static void compare_reference(const Interp *in, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/fixtures/sim/%s_ref.npz", CAJAL_SRCDIR, name);
    Diags d;
    diags_init(&d);
    NpzReader *r = npz_reader_new(path, &d, span_none());
    CHECK(r != NULL);
    if (!r) {
        diags_print(&d, stderr, false);
        diags_fini(&d);
        return;
    }
    for (int i = 0; i < npz_reader_count(r); i++) {
        const char *key = npz_reader_entry(r, i)->key;
        Tensor *want = npz_reader_read(r, key, &d, span_none());
        const Tensor *got = recording(in, key);
        CHECK(want && got);
        if (!want || !got) {
            tensor_free(want);
            continue;
        }
        CHECK(tensor_same_shape(want, got));
        double diff = 0, scale = 1;
        for (int64_t k = 0; k < want->size && k < got->size; k++) {
            diff = fmax(diff, fabs((double)got->data[k] - (double)want->data[k]));
            scale = fmax(scale, fabs((double)want->data[k]));
        }
        printf("  %-9s %s [%lld, %lld, %lld]: max abs difference from NumPy %.3g (largest value %.3g)\n", name, key,
               (long long)want->dim[0], (long long)want->dim[1], (long long)want->dim[2], diff, scale);
        CHECK(diff <= fixture_tol * scale);
        tensor_free(want);
    }
    npz_reader_free(r);
    diags_fini(&d);
}

static void test_numpy_networks(void)
{
    const char *fx = CAJAL_SRCDIR "/fixtures/sim";
    Interp in;

    start(&in);
    RUN(&in,
        "input u[12]\n"
        "population E = Rate(12, tau = 10ms)\n"
        "synapse J: E -> E { w = 0 }\n"
        "synapse X0: u -> E { one_to_one; w = 0 }\n"
        "load \"%s/rate.npz\"\n"
        "simulate for 1 steps dt 1ms with u = 10\n"
        "simulate for 50 steps dt 1ms continue record E.x\n",
        fx);
    compare_reference(&in, "rate");
    RUN(&in,
        "simulate for 1 steps dt 1ms with u = 10\n"
        "simulate for 50 steps dt 1ms method rk4 continue record E.x\n");
    compare_reference(&in, "rate_rk4");
    interp_fini(&in);

    start(&in);
    RUN(&in,
        "input uE[8]\n"
        "input uI[4]\n"
        "population E = Rate(8, tau = 10ms)\n"
        "population I = Rate(4, tau = 5ms, phi = relu)\n"
        "synapse EE: E -> E { w = 0; sign + }\n"
        "synapse IE: E -> I { w = 0; sign + }\n"
        "synapse EI: I -> E { w = 0; sign - }\n"
        "synapse II: I -> I { w = 0; sign - }\n"
        "synapse XE: uE -> E { one_to_one; w = 0 }\n"
        "synapse XI: uI -> I { one_to_one; w = 0 }\n"
        "load \"%s/ei.npz\"\n"
        "simulate for 1 steps dt 0.5ms with uE = 20, uI = 10\n"
        "simulate for 80 steps dt 0.5ms continue record E.x, I.x\n",
        fx);
    compare_reference(&in, "ei");
    interp_fini(&in);

    start(&in);
    RUN(&in,
        "input u[10]\n"
        "population E = Rate(10, tau = 10ms)\n"
        "synapse L: E -> E lowrank(1) { m = 0; n = 0 }\n"
        "synapse X0: u -> E { one_to_one; w = 0 }\n"
        "load \"%s/lowrank.npz\"\n"
        "simulate for 1 steps dt 1ms with u = 10\n"
        "simulate for 60 steps dt 1ms continue record E.x\n",
        fx);
    compare_reference(&in, "lowrank");
    interp_fini(&in);

    start(&in);
    RUN(&in,
        "input u[6]\n"
        "population P = Leaky(6, decay = 0.9, phi = relu)\n"
        "synapse W: u -> P { one_to_one; w = 0 }\n"
        "synapse M: P -> P { w = 0 }\n"
        "load \"%s/leaky.npz\"\n"
        "simulate for 40 steps dt 1ms with u = sin(2 * pi * 50Hz * t) record P.v\n",
        fx);
    compare_reference(&in, "leaky");
    interp_fini(&in);
}

/* ---- files as NumPy writes them --------------------------------------------- */

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "  cannot open %s\n", path);
        *n = 0;
        return NULL;
    }
    unsigned char *buf = NULL;
    size_t cap = 0, len = 0, got;
    do {
        if (len == cap)
            buf = realloc(buf, cap = cap ? 2 * cap : 4096);
        got = fread(buf + len, 1, cap - len, f);
        len += got;
    } while (got > 0);
    fclose(f);
    *n = len;
    return buf;
}

static void test_files(void)
{
#ifdef CAJAL_FLOAT
    const char *want_file = CAJAL_SRCDIR "/fixtures/sim/w34_f4.npy";
#else
    const char *want_file = CAJAL_SRCDIR "/fixtures/sim/w34.npy";
#endif
    Interp in;
    start(&in);
    RUN(&in,
        "population A = Rate(4)\n"
        "population B = Rate(3)\n"
        "synapse J: A -> B { w = 0 }\n"
        "load \"%s/fixtures/sim/w34.npy\" into J.w\n"
        "save J.w to \"%s\"\n"
        "save \"%s\"\n",
        CAJAL_SRCDIR, tmp("J.npy"), tmp("net.npz"));
    interp_fini(&in);

    size_t nwant, ngot, nzip;
    unsigned char *want = slurp(want_file, &nwant), *got = slurp(tmp("J.npy"), &ngot), *zip = slurp(tmp("net.npz"), &nzip);
    CHECK(want && got && zip);
    if (want && got) {
        CHECK_INT(ngot, nwant);
        CHECK(ngot == nwant && memcmp(got, want, nwant) == 0);
    }
    /* the .npz stores J.w.npy uncompressed: the same bytes, after its name */
    if (want && zip) {
        const unsigned char *member = memmem(zip, nzip, "J.w.npy", 7);
        CHECK(member != NULL);
        CHECK(memmem(zip, nzip, want, nwant) != NULL);
    }
    free(want);
    free(got);
    free(zip);

    /* and back: the .npz into a fresh model gives the values NumPy wrote */
    start(&in);
    RUN(&in,
        "population A = Rate(4)\n"
        "population B = Rate(3)\n"
        "synapse J: A -> B { w = 1 }\n"
        "load \"%s\"\n",
        tmp("net.npz"));
    const Tensor *w = param(&in, "J.w");
    Diags d;
    diags_init(&d);
    Tensor *numpy = npy_load(CAJAL_SRCDIR "/fixtures/sim/w34.npy", &d, span_none());
    CHECK(w && numpy && w->size == 12 && numpy->size == 12);
    if (w && numpy && w->size == numpy->size)
        CHECK(memcmp(w->data, numpy->data, (size_t)w->size * sizeof(real)) == 0);
    tensor_free(numpy);
    diags_fini(&d);
    interp_fini(&in);
}

/* ---- seeds ------------------------------------------------------------------ */

static const char *const noisy_net =
    "let N = 50\n"
    "neuron Noisy(tau = 10ms, sigma = 0.3) {\n"
    "  tau * dx/dt = -x + in + sigma * sqrt(tau) * xi\n"
    "  r = tanh(x)\n"
    "}\n"
    "population E = Noisy(N) { init x ~ normal(0, 1); tau ~ uniform(5ms, 20ms) }\n"
    "synapse J: E -> E { w ~ normal(0, 1.2 / sqrt(N)) }\n"
    "synapse S: E -> E { w ~ normal(0, 1); p = 0.05 }\n"
    "simulate for 200 steps dt 0.5ms batch 3\n";

static Tensor *final_state(const char *seed_line, uint64_t cli_seed)
{
    Interp in;
    start(&in);
    in.seed = cli_seed;
    RUN(&in, "%s%s", seed_line, noisy_net);
    const Tensor *x = state(&in, "E.x");
    Tensor *copy = x ? tensor_clone(x, NULL, span_none()) : NULL;
    interp_fini(&in);
    return copy;
}

static bool same_bits(const Tensor *a, const Tensor *b)
{
    return a && b && a->size == b->size && memcmp(a->data, b->data, (size_t)a->size * sizeof(real)) == 0;
}

static void test_seeds(void)
{
    Tensor *a = final_state("", 7), *b = final_state("", 7), *c = final_state("", 8), *d = final_state("seed 7\n", 1);
    CHECK(a && b && c && d);
    CHECK(same_bits(a, b));       /* --seed 7 twice */
    CHECK(!same_bits(a, c));      /* --seed 8 */
    CHECK(same_bits(a, d));       /* seed 7 in the script */
    tensor_free(a);
    tensor_free(b);
    tensor_free(c);
    tensor_free(d);

    /* Within one session, a second run draws a fresh start and fresh noise. */
    Interp in;
    start(&in);
    RUN(&in, "seed 7\n%s", noisy_net);
    Tensor *first = tensor_clone(state(&in, "E.x"), NULL, span_none());
    RUN(&in, "simulate for 200 steps dt 0.5ms batch 3\n");
    CHECK(!same_bits(first, state(&in, "E.x")));
    tensor_free(first);
    interp_fini(&in);
}

/* ---- the time loop allocates nothing ---------------------------------------- */

static const char *const busy_net =
    "let N = 40\n"
    "input u[N]\n"
    "neuron Noisy(tau = 10ms, sigma = 0.5) {\n"
    "  tau * dx/dt = -x + in + sigma * sqrt(tau) * xi\n"
    "  r = tanh(x)\n"
    "}\n"
    "population E = Noisy(N) { init x ~ normal(0, 1) }\n"
    "population I = Rate(N / 4, tau = 5ms, phi = relu)\n"
    "population D = Leaky(10, decay = 0.8)\n"
    "synapse J: E -> E { w ~ normal(0, 1.5 / sqrt(N)) }\n"
    "synapse S: E -> E { w ~ normal(0, 1); p = 0.1 }\n"
    "synapse L: E -> E lowrank(2) { m ~ normal(0, 1); n ~ normal(0, 1) }\n"
    "synapse EI: E -> I { w ~ uniform(0, 0.1); sign + }\n"
    "synapse IE: I -> E { w ~ uniform(0, 0.1); sign - }\n"
    "synapse U: u -> E { one_to_one; w = 1 }\n"
    "synapse ED: E -> D { w ~ normal(0, 0.1) }\n";

#ifdef COUNTS_HEAP
static long loop_heap_calls(Interp *in, int steps, const char *method)
{
    long before = heap_calls;
    RUN(in, "simulate for %d steps dt 0.1ms method %s batch 4 with u = sin(2 * pi * 5Hz * t) record E.x, E.r, I.x, D.v every 2 steps\n",
        steps, method);
    return heap_calls - before;
}
#endif

static void test_no_allocation(void)
{
    Interp in;
    start(&in);
    RUN(&in, "%s", busy_net);
    RUN(&in, "simulate for 300 steps dt 0.1ms batch 4 with u = sin(2 * pi * 5Hz * t) record E.x, E.r, I.x, D.v every 2 steps\n");
    CHECK_INT(simulate_loop_allocations, 0);
    const Tensor *r = recording(&in, "E.r");
    CHECK(r && r->dim[0] == 150 && r->dim[1] == 4 && r->dim[2] == 40);
    RUN(&in, "simulate for 300 steps dt 0.1ms method rk4 batch 4 record E.x\n");
    CHECK_INT(simulate_loop_allocations, 0);
    RUN(&in, "simulate for 300 steps dt 0.1ms continue record I.x every 1ms\n");
    CHECK_INT(simulate_loop_allocations, 0);
#ifdef COUNTS_HEAP
    /* Counted from outside cajal: ten times the steps, the same heap calls. */
    for (int k = 0; k < 2; k++) {
        const char *method = k ? "rk4" : "euler";
        loop_heap_calls(&in, 100, method);   /* warm up BLAS and the caches */
        long short_run = loop_heap_calls(&in, 100, method), long_run = loop_heap_calls(&in, 1000, method);
        printf("  heap calls of a whole simulate statement (%s): %ld for 100 steps, %ld for 1000\n", method, short_run,
               long_run);
        CHECK_INT(long_run, short_run);
    }
#endif
    interp_fini(&in);
}

int main(void)
{
    builtins_init();
    devnull = fopen("/dev/null", "w");
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cajal-engine-XXXXXX");
    if (!devnull || !mkdtemp(tmpdir)) {
        perror("test_engine");
        return 1;
    }
    printf("test_engine (%s):\n", REAL_NAME);
    test_decay();
    test_oscillator();
    test_numpy_networks();
    test_files();
    test_seeds();
    test_no_allocation();
    unlink(tmp("J.npy"));
    unlink(tmp("net.npz"));
    rmdir(tmpdir);
    fclose(devnull);
    source_free_all();
    return check_done("test_engine");
}
