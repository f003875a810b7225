/* vec_tanh.c: cajal's vectorised tanh and sigmoid (src/vecmath.c) against libm
 * (bench case vec_tanh).
 *
 * Speed: y = f(x) over an array of N elements (y and x distinct, x spread over
 * [-6, 6)), timed over enough passes to run about 0.1 s, after one untimed pass:
 *   ns_per_elem          vecmath tanh, N = 2^20 (x and y together 8 MB in float:
 *                        out of L2, in L3)
 *   sigmoid_ns_per_elem  vecmath sigmoid, the same
 *   l1_ns_per_elem       vecmath tanh over N = 4096, in L1: the arithmetic alone
 *   libm_ns_per_elem     libm's tanhf / tanh in a plain loop, N = 2^20
 * Accuracy, against the long double libm (tanhl, 1 / (1 + expl(-x))), where the
 * true result is a normal number:
 *   max_rel_err          vecmath tanh, largest relative error over a sweep: 2^22
 *                        points evenly over [-20, 20], 2^20 log-spaced |x| in
 *                        [1e-30, 20] of both signs, and +-0
 *   sigmoid_max_rel_err  vecmath sigmoid over [-80, 80] (float) / [-700, 700]
 *                        (double), evenly, 2^22 points
 *   max_ulp              vecmath tanh's largest error in units of the last place
 *
 *   vec_tanh speed [N]   prints s=NS ns_per_elem=... sigmoid_ns_per_elem=... l1_ns_per_elem=... libm_ns_per_elem=... n=...
 *   vec_tanh acc         prints max_rel_err=... max_ulp=... sigmoid_max_rel_err=... (deterministic: run.sh runs it once)
 *
 * Built twice by bench/run.sh with src/vecmath.c: -DBENCH_FLOAT for float.
 */
#ifdef BENCH_FLOAT
#define CAJAL_FLOAT
#endif
#include "vecmath.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef BENCH_FLOAT
#define libm_tanh tanhf
#define EPS FLT_EPSILON
#define NORMAL_MIN FLT_MIN
#define SIG_RANGE 80.0
#else
#define libm_tanh tanh
#define EPS DBL_EPSILON
#define NORMAL_MIN DBL_MIN
#define SIG_RANGE 700.0
#endif

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static real *alloc_real(int64_t n)
{
    real *p = aligned_alloc(64, ((size_t)n * sizeof(real) + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "vec_tanh: out of memory\n");
        exit(1);
    }
    return p;
}

enum { F_TANH, F_SIGMOID, F_LIBM };

static void apply(int f, int64_t n, real *y, const real *x)
{
    if (f == F_TANH)
        vecmath_tanh(n, y, x);
    else if (f == F_SIGMOID)
        vecmath_sigmoid(n, y, x);
    else
        for (int64_t i = 0; i < n; i++)
            y[i] = libm_tanh(x[i]);
}

/* Seconds per element of f over n elements. */
static double speed(int f, int64_t n)
{
    real *x = alloc_real(n), *y = alloc_real(n);
    for (int64_t i = 0; i < n; i++)
        x[i] = (real)(-6.0 + 12.0 * (double)((i * 2654435761u) % 1000003) / 1000003.0);
    apply(f, n, y, x);
    int64_t passes = 1;
    double s;
    for (;;) {
        double t0 = now();
        for (int64_t p = 0; p < passes; p++)
            apply(f, n, y, x);
        s = now() - t0;
        if (s > 0.1)
            break;
        passes *= s > 0.02 ? 2 : 10;
    }
    volatile real sink = y[n / 2];
    (void)sink;
    free(x);
    free(y);
    return s / (double)passes / (double)n;
}

typedef struct Err {
    double rel;
    double ulp;
} Err;

static void judge(Err *e, real y, long double ref)
{
    if (!isfinite((double)ref) || fabsl(ref) < NORMAL_MIN)
        return;
    double rel = (double)(fabsl((long double)y - ref) / fabsl(ref));
    int ex;
    frexpl(ref, &ex);
    double ulp = (double)(fabsl((long double)y - ref) / ldexpl(EPS / 2, ex));   /* ulp of |ref| in [2^(ex-1), 2^ex) */
    if (rel > e->rel)
        e->rel = rel;
    if (ulp > e->ulp)
        e->ulp = ulp;
}

static Err accuracy(int f)
{
    const int64_t n = (int64_t)1 << 22, m = (int64_t)1 << 20;
    real *x = alloc_real(n + 2 * m + 2), *y = alloc_real(n + 2 * m + 2);
    int64_t k = 0;
    double lo = f == F_TANH ? -20.0 : -SIG_RANGE, hi = -lo;
    for (int64_t i = 0; i < n; i++)
        x[k++] = (real)(lo + (hi - lo) * (double)i / (double)(n - 1));
    if (f == F_TANH) {
        for (int64_t i = 0; i < m; i++) {
            real v = (real)exp(log(1e-30) + (log(20.0) - log(1e-30)) * (double)i / (double)(m - 1));
            x[k++] = v;
            x[k++] = -v;
        }
        x[k++] = 0;
        x[k++] = -0.0;
    }
    apply(f, k, y, x);
    Err e = { 0, 0 };
    for (int64_t i = 0; i < k; i++) {
        long double xi = x[i];
        long double ref = f == F_TANH ? tanhl(xi) : 1.0L / (1.0L + expl(-xi));
        if (xi == 0 && f == F_TANH) {
            if (y[i] != 0 || signbit(y[i]) != signbit(x[i]))
                e.rel = INFINITY;
            continue;
        }
        judge(&e, y[i], ref);
    }
    free(x);
    free(y);
    return e;
}

int main(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "speed") && strcmp(argv[1], "acc"))) {
        fprintf(stderr, "usage: vec_tanh speed [N] | vec_tanh acc\n");
        return 2;
    }
    if (!strcmp(argv[1], "acc")) {
        Err et = accuracy(F_TANH), es = accuracy(F_SIGMOID);
        printf("max_rel_err=%.3g max_ulp=%.3g sigmoid_max_rel_err=%.3g\n", et.rel, et.ulp, es.rel);
        return 0;
    }
    int64_t n = argc > 2 ? atoll(argv[2]) : (int64_t)1 << 20;
    double t_tanh = speed(F_TANH, n), t_sig = speed(F_SIGMOID, n), t_l1 = speed(F_TANH, 4096), t_libm = speed(F_LIBM, n);
    printf("s=%.4g ns_per_elem=%.4g sigmoid_ns_per_elem=%.4g l1_ns_per_elem=%.4g libm_ns_per_elem=%.4g n=%lld\n", 1e9 * t_tanh,
           1e9 * t_tanh, 1e9 * t_sig, 1e9 * t_l1, 1e9 * t_libm, (long long)n);
    return 0;
}
