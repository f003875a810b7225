/* train_gemm.c: OpenBLAS GEMM at a training step's own shapes (bench cases
 * train_rnn, train_ctrnn, train_lstm, train_gru): the floor gemm_frac is taken against.
 *
 * A recurrent layer of H units with G gate blocks (rnn and ctrnn 1, gru 3,
 * lstm 4), batch B, T steps, n_in inputs. One training step of BPTT needs, per
 * time step (row-major, W [GH, H] the stacked recurrent weights):
 *
 *   forward    a = h W^T            [B, H] x [H, GH]      (cblas ?gemm NoTrans, Trans)
 *   backward   dh = da W            [B, GH] x [GH, H]     (NoTrans, NoTrans)
 *              dW += da^T h         [GH, B] x [B, H]      (Trans, NoTrans, beta 1)
 *
 * and once per step, for all T time steps at once (cajal hoists it):
 *
 *   input      a_in = u Win^T       [T B, n_in] x [n_in, GH]
 *              dWin += da^T u       [GH, T B] x [T B, n_in]
 *
 * FLOPs = T (6 B H GH) + 4 T B n_in GH. Two variants, both timed:
 *   hot     the same activation buffers every time step: GEMM's rate at these
 *           shapes with the operands in cache as far as they fit (s=, the
 *           figure gemm_frac uses);
 *   stored  activations of every time step in their own slots ([T, B, H] and
 *           [T, B, GH]), as a training step must keep them and read them back:
 *           stored_s=.
 * Weights are shared across steps in both. Each variant runs once untimed, then
 * REPS times; the figure is the mean per training step.
 *
 *   train_gemm G H B T N_IN REPS   prints: s=... stored_s=... flops=... gflops=...
 *
 * Built twice by bench/run.sh (with src/vecmath.c, unused here): -DBENCH_FLOAT
 * for sgemm, else dgemm.
 */
#ifdef BENCH_FLOAT
#define CAJAL_FLOAT
#endif
#include "real.h"

#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef BENCH_FLOAT
#define gemm cblas_sgemm
#else
#define gemm cblas_dgemm
#endif

static real *alloc_real(int64_t n)
{
    size_t bytes = ((size_t)n * sizeof(real) + 63) / 64 * 64;
    real *p = aligned_alloc(64, bytes ? bytes : 64);
    if (!p) {
        fprintf(stderr, "train_gemm: out of memory (%lld reals)\n", (long long)n);
        exit(1);
    }
    for (int64_t i = 0; i < n; i++)
        p[i] = (real)(0.01 * (double)((i * 7919) % 201 - 100) / 100.0);
    return p;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct Bufs {
    int64_t G, H, B, T, n_in, GH;
    real *W, *dW, *Win, *dWin, *u, *a_in, *da_all;
    real *h, *a, *da, *dh;      /* hot: one slot each; stored: T slots of h, a, da */
} Bufs;

/* One training step's products; stride 0 (hot) or the slot size (stored). */
static void step(const Bufs *b, int stored)
{
    const int64_t B = b->B, H = b->H, GH = b->GH, T = b->T, TB = T * B;
    gemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)TB, (int)GH, (int)b->n_in, 1, b->u, (int)b->n_in, b->Win, (int)b->n_in,
         0, b->a_in, (int)GH);
    for (int64_t t = 0; t < T; t++) {
        const real *h = b->h + (stored ? t * B * H : 0);
        real *a = b->a + (stored ? t * B * GH : 0);
        gemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)GH, (int)H, 1, h, (int)H, b->W, (int)H, 0, a, (int)GH);
    }
    for (int64_t t = T - 1; t >= 0; t--) {
        const real *h = b->h + (stored ? t * B * H : 0);
        const real *da = b->da + (stored ? t * B * GH : 0);
        gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)H, (int)GH, 1, da, (int)GH, b->W, (int)H, 0, b->dh, (int)H);
        gemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)GH, (int)H, (int)B, 1, da, (int)GH, h, (int)H, 1, b->dW, (int)H);
    }
    gemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)GH, (int)b->n_in, (int)TB, 1, b->da_all, (int)GH, b->u, (int)b->n_in, 1,
         b->dWin, (int)b->n_in);
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: train_gemm G H B T N_IN REPS\n");
        return 2;
    }
    Bufs b = { .G = atoll(argv[1]), .H = atoll(argv[2]), .B = atoll(argv[3]), .T = atoll(argv[4]), .n_in = atoll(argv[5]) };
    int reps = atoi(argv[6]);
    b.GH = b.G * b.H;
    const int64_t TB = b.T * b.B;
    b.W = alloc_real(b.GH * b.H);
    b.dW = alloc_real(b.GH * b.H);
    b.Win = alloc_real(b.GH * b.n_in);
    b.dWin = alloc_real(b.GH * b.n_in);
    b.u = alloc_real(TB * b.n_in);
    b.a_in = alloc_real(TB * b.GH);
    b.da_all = alloc_real(TB * b.GH);
    b.dh = alloc_real(b.B * b.H);
    double s[2];
    for (int stored = 0; stored < 2; stored++) {
        int64_t slots = stored ? b.T : 1;
        b.h = alloc_real(slots * b.B * b.H);
        b.a = alloc_real(slots * b.B * b.GH);
        b.da = alloc_real(slots * b.B * b.GH);
        step(&b, stored);
        double t0 = now();
        for (int r = 0; r < reps; r++)
            step(&b, stored);
        s[stored] = (now() - t0) / reps;
        free(b.h);
        free(b.a);
        free(b.da);
    }
    double flops = (double)b.T * 6.0 * (double)(b.B * b.H * b.GH) + 4.0 * (double)(TB * b.n_in * b.GH);
    printf("s=%.6g stored_s=%.6g flops=%.6g gflops=%.4g\n", s[0], s[1], flops, flops / s[0] / 1e9);
    return 0;
}
