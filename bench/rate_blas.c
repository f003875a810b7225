/* rate_blas.c: the bare OpenBLAS floor of the sim_rate bench case.
 *
 *   tau dx/dt = -x + J tanh(x),  Euler with dt/tau = 0.1:
 *     r = tanh(x)               [B, N]
 *     y = r J^T                 [B, N] = [B, N] [N, N]^T   (gemm, or gemv at B = 1)
 *     x += 0.1 (y - x)          one pass
 *
 * tanh is cajal's own vectorised one (src/vecmath.c, linked in), not libm's
 * scalar tanh (at N = 100, B = 64 that alone took longer than the product), so
 * the floor is the product plus the least elementwise work, and cajal/blas
 * measures what cajal's engine adds: plan steps, fused-program dispatch, passes.
 *
 * Every buffer is allocated (64-byte aligned) and touched before the timed
 * loop; only the loop is timed, as cajal's --stats times only its time loop.
 * A snapshot of x every K steps goes to a preallocated recording, as the
 * cajal case's `record E.x every K steps` does. A second loop times the
 * matrix product alone on the same buffers (mm_s, T steps or 0.2 s, whichever
 * ends first), so the elementwise share can be told apart.
 *
 * cpu_s is the loop's thread CPU time per step: on a busy machine it leaves out
 * the time the loop waited for a core.
 *
 *   rate_blas N B T K gemm|gemv     prints: s_per_step=... mm_s=... cpu_s=... checksum=...
 *
 * Built twice by bench/run.sh (with src/vecmath.c): -DBENCH_FLOAT for
 * sgemm/sgemv, else double.
 */
#ifdef BENCH_FLOAT
#define CAJAL_FLOAT
#endif
#include "vecmath.h"   /* real: float or double, and vecmath_tanh */

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef BENCH_FLOAT
#define gemm cblas_sgemm
#define gemv cblas_sgemv
#else
#define gemm cblas_dgemm
#define gemv cblas_dgemv
#endif

static real *alloc_real(int64_t n)
{
    size_t bytes = ((size_t)n * sizeof(real) + 63) / 64 * 64;
    real *p = aligned_alloc(64, bytes ? bytes : 64);
    if (!p) {
        fprintf(stderr, "rate_blas: out of memory (%lld reals)\n", (long long)n);
        exit(1);
    }
    memset(p, 0, bytes);
    return p;
}

/* splitmix64 and Box-Muller (both values of a pair): the weights only need to
 * be N(0, s^2), and 16M of them should not take longer than the loop. */
static uint64_t state = 12345;
static double uniform(void)
{
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) * 0x1.0p-53;
}

static void fill_normal(real *v, int64_t n, double s)
{
    for (int64_t k = 0; k < n; k += 2) {
        double rad = s * sqrt(-2 * log(uniform())), ang = 2 * M_PI * uniform();
        v[k] = (real)(rad * cos(ang));
        if (k + 1 < n)
            v[k + 1] = (real)(rad * sin(ang));
    }
}

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static double now(void) { return clock_s(CLOCK_MONOTONIC); }

int main(int argc, char **argv)
{
    if (argc != 6 || (strcmp(argv[5], "gemm") && strcmp(argv[5], "gemv"))) {
        fprintf(stderr, "usage: rate_blas N B T K gemm|gemv\n");
        return 2;
    }
    int n = atoi(argv[1]), batch = atoi(argv[2]), steps = atoi(argv[3]), every = atoi(argv[4]);
    int use_gemv = !strcmp(argv[5], "gemv");
    if (use_gemv && batch != 1) {
        fprintf(stderr, "rate_blas: gemv needs B = 1\n");
        return 2;
    }
    int64_t nb = (int64_t)batch * n, samples = (steps + every - 1) / every;
    real *w = alloc_real((int64_t)n * n), *x = alloc_real(nb), *r = alloc_real(nb), *y = alloc_real(nb);
    real *rec = alloc_real(samples * nb);
    fill_normal(w, (int64_t)n * n, 1.5 / sqrt((double)n));
    fill_normal(x, nb, 1);
    const real a = (real)0.1;

    double start = now(), cpu0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
    for (int t = 0; t < steps; t++) {
        vecmath_tanh(nb, r, x);
        if (use_gemv)
            gemv(CblasRowMajor, CblasNoTrans, n, n, 1, w, n, r, 1, 0, y, 1);
        else
            gemm(CblasRowMajor, CblasNoTrans, CblasTrans, batch, n, n, 1, r, n, w, n, 0, y, n);
        for (int64_t k = 0; k < nb; k++)
            x[k] += a * (y[k] - x[k]);
        if (t % every == 0)
            memcpy(rec + (int64_t)(t / every) * nb, x, (size_t)nb * sizeof(real));
    }
    double loop_s = now() - start, cpu_s = clock_s(CLOCK_THREAD_CPUTIME_ID) - cpu0;

    /* The product alone: T steps, or as many as fit in 0.2 s. */
    int mm_steps = 0;
    start = now();
    double mm_s = 0;
    while (mm_steps < steps && mm_s < 0.2) {
        if (use_gemv)
            gemv(CblasRowMajor, CblasNoTrans, n, n, 1, w, n, r, 1, 0, y, 1);
        else
            gemm(CblasRowMajor, CblasNoTrans, CblasTrans, batch, n, n, 1, r, n, w, n, 0, y, n);
        mm_steps++;
        mm_s = now() - start;
    }

    double sum = 0;
    for (int64_t k = 0; k < nb; k++)
        sum += fabs((double)x[k]);
    printf("s_per_step=%.6g mm_s=%.6g cpu_s=%.6g checksum=%.6g\n", loop_s / steps, mm_s / mm_steps, cpu_s / steps,
           sum / (double)nb);
    free(w), free(x), free(r), free(y), free(rec);
    return 0;
}
