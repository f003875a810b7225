/* test_fused.c: the fused elementwise executor (src/fused.c) against the same
 * arithmetic written out, forward and backward, for every operand mode and the
 * ways a program is walked:
 *   - long rows, cut into blocks (a row longer than a block, the last block short);
 *   - short rows packed several to a block (a population of 32 over 64 trials),
 *     the last tile holding fewer rows;
 *   - strided operands and outputs (slices of a stacked GEMM's output, ld > n),
 *     gathered and scattered, next to contiguous ones read in place.
 * The program: u = a * c + b + d, y1 = tanh(u) * s, y2 = a + y1, with a FULL and
 * strided, b ROW, c COLUMN, s SCALAR, d FULL and contiguous; y1 strided, y2 not.
 */
#include "check.h"
#include "fused.h"
#include "tensor.h"
#include "xalloc.h"

#include <stdlib.h>

#ifdef CAJAL_FLOAT
static const double tol = 1e-5;
#else
static const double tol = 1e-12;
#endif

static real val(int64_t i, int salt) { return (real)(0.37 * sin(0.7 * (double)i + salt) + 0.05 * salt); }

static void check_shape(int64_t rows, int64_t n)
{
    int64_t lda = n + 3, ldy1 = n + 2;
    real *a = xcalloc((size_t)(rows * lda), sizeof(real)), *ga = xcalloc((size_t)(rows * lda), sizeof(real));
    real *b = xcalloc((size_t)n, sizeof(real)), *gb = xcalloc((size_t)n, sizeof(real));
    real *c = xcalloc((size_t)rows, sizeof(real)), *gc = xcalloc((size_t)rows, sizeof(real));
    real s = (real)1.3, gs = 0;
    real *dd = xcalloc((size_t)(rows * n), sizeof(real)), *gd = xcalloc((size_t)(rows * n), sizeof(real));
    real *y1 = xcalloc((size_t)(rows * ldy1), sizeof(real)), *gy1 = xcalloc((size_t)(rows * ldy1), sizeof(real));
    real *y2 = xcalloc((size_t)(rows * n), sizeof(real)), *gy2 = xcalloc((size_t)(rows * n), sizeof(real));
    for (int64_t r = 0; r < rows; r++) {
        c[r] = val(r, 1);
        for (int64_t j = 0; j < n; j++) {
            a[r * lda + j] = val(r * n + j, 2);
            dd[r * n + j] = val(r * n + j, 3);
            gy1[r * ldy1 + j] = val(r * n + j, 4);
            gy2[r * n + j] = val(r * n + j, 5);
        }
        /* the stride's gaps must stay untouched */
        for (int64_t j = n; j < ldy1; j++)
            y1[r * ldy1 + j] = 99;
    }
    for (int64_t j = 0; j < n; j++)
        b[j] = val(j, 6);

    FusedInstr code[6] = {
        { .op = ops_get(OP_MUL), .nin = 2, .in = { 0, 2 } },   /* 5: a * c */
        { .op = ops_get(OP_ADD), .nin = 2, .in = { 5, 1 } },   /* 6: + b */
        { .op = ops_get(OP_ADD), .nin = 2, .in = { 6, 4 } },   /* 7: + d */
        { .op = ops_get(OP_TANH), .nin = 1, .in = { 7 } },     /* 8 */
        { .op = ops_get(OP_MUL), .nin = 2, .in = { 8, 3 } },   /* 9: y1 */
        { .op = ops_get(OP_ADD), .nin = 2, .in = { 0, 9 } },   /* 10: y2 */
    };
    int outs[2] = { 9, 10 };
    FusedProgram p = { .nin = 5, .ncode = 6, .code = code, .nout = 2, .out = outs, .rows = rows, .n = n };
    FusedOperand in[5] = {
        { OPERAND_FULL, a, lda, ga }, { OPERAND_ROW, b, 0, gb }, { OPERAND_COLUMN, c, 1, gc },
        { OPERAND_SCALAR, &s, 0, &gs }, { OPERAND_FULL, dd, n, gd },
    };
    FusedOperand out[2] = { { OPERAND_FULL, y1, ldy1, gy1 }, { OPERAND_FULL, y2, n, gy2 } };
    real *scratch = tensor_alloc_real(fused_scratch_size(&p, true));
    fused_fwd(&p, in, out, scratch);
    fused_vjp(&p, in, out, scratch);

    double e_y = 0, e_a = 0, e_b = 0, e_c = 0, e_d = 0, e_s, gap = 0, want_s = 0;
    double *want_b = calloc((size_t)n, sizeof(double));
    for (int64_t r = 0; r < rows; r++) {
        double want_c = 0;
        for (int64_t j = 0; j < n; j++) {
            double av = a[r * lda + j], u = av * c[r] + b[j] + dd[r * n + j], t = tanh(u);
            double w1 = t * s, w2 = av + w1;
            e_y = fmax(e_y, fmax(fabs(y1[r * ldy1 + j] - w1), fabs(y2[r * n + j] - w2)));
            double g1 = gy1[r * ldy1 + j] + gy2[r * n + j];   /* dL/dy1, y2 included */
            double gu = g1 * s * (1 - t * t);
            e_a = fmax(e_a, fabs(ga[r * lda + j] - (gy2[r * n + j] + gu * c[r])));
            e_d = fmax(e_d, fabs(gd[r * n + j] - gu));
            want_b[j] += gu;
            want_c += gu * av;
            want_s += g1 * t;
        }
        e_c = fmax(e_c, fabs(gc[r] - want_c));
        for (int64_t j = n; j < ldy1; j++)
            gap = fmax(gap, fabs(y1[r * ldy1 + j] - 99));
        for (int64_t j = n; j < lda; j++)
            gap = fmax(gap, fabs(ga[r * lda + j]));
    }
    for (int64_t j = 0; j < n; j++)
        e_b = fmax(e_b, fabs(gb[j] - want_b[j]));
    e_s = fabs(gs - want_s);
    printf("  rows %lld, n %lld:\n", (long long)rows, (long long)n);
    CHECK_NEAR(e_y, 0, tol);
    CHECK_NEAR(e_a, 0, tol);
    CHECK_NEAR(e_b, 0, tol * (double)rows);
    CHECK_NEAR(e_c, 0, tol * (double)n);
    CHECK_NEAR(e_d, 0, tol);
    CHECK_NEAR(e_s, 0, tol * (double)(rows * n));
    CHECK_NEAR(gap, 0, 0);
    tensor_free_real(scratch);
    free(want_b);
    free(a), free(ga), free(b), free(gb), free(c), free(gc), free(dd), free(gd), free(y1), free(gy1), free(y2), free(gy2);
}

int main(void)
{
    printf("test_fused (%s):\n", REAL_NAME);
    check_shape(3, 600);   /* long rows: blocks of 256, 256, 88 */
    check_shape(64, 32);   /* 8 rows a tile */
    check_shape(70, 5);    /* 51 rows a tile, then 19 */
    check_shape(9, 128);   /* 2 rows a tile, then 1 */
    check_shape(5, 129);   /* longer than half a block: one row at a time */
    check_shape(1, 7);     /* one short row */
    return check_done("test_fused");
}
