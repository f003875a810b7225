/* ops_matmul.c: matrix products, all through OpenBLAS GEMM (GEMV for one row).
 *
 * `linear` is a synapse: y[B, m] = x[B, n] W[m, n]^T with W stored [post, pre] and
 * shared over the batch. With a third input c it is c + x W^T, the GEMM
 * accumulating onto c (beta = 1; fold.h makes these from sums). With a column
 * range [start, stop) only those columns of y get c (c as wide as y: its same
 * columns; c as wide as the range: all of it); the rest are the bare product. Leading
 * axes of x are folded into rows, so the input projections of all T time steps
 * ([T, B, n]) are one GEMM. Every product and
 * both halves of every VJP are one cblas_?gemm (beta = 1 to accumulate), except
 * a forward product of at most NARROW_IN inputs, written out below. Row-major throughout:
 *
 *   x [rows, n]   W [m, n]          y = x W^T  [rows, m]
 *                                   gx += gy W      [rows, m] [m, n]
 *                                   gW += gy^T x    [m, rows] [rows, n]
 *
 * A single trial (rows = 1) is a matrix-vector product, and OpenBLAS's GEMM
 * pays for packing W into panels that only one row then reads: at m = n = 1000
 * in double, dgemm [1, n] x [n, m] took 3.5x as long as dgemv on the same data
 * (bench/results.txt, blas_gemm_s vs blas_gemv_s). So rows = 1 goes to ?gemv,
 * and its VJP to ?gemv (gx) and ?ger (gW, a rank-one update). A single output
 * (m = 1, a readout of one unit) is the same the other way round: ?gemv
 * forward and for gW, ?ger for gx (at rows 64, n 32 in double, half the time
 * of the three GEMMs).
 */
#include "ops.h"

#include <assert.h>
#include <cblas.h>
#include <limits.h>
#include <string.h>

#ifdef CAJAL_FLOAT
#define cblas_gemm cblas_sgemm
#define cblas_gemv cblas_sgemv
#define cblas_ger cblas_sger
#else
#define cblas_gemm cblas_dgemm
#define cblas_gemv cblas_dgemv
#define cblas_ger cblas_dger
#endif

/* C[M, N] = op(A) op(B) + beta C, op(X) = X^T when tX; beta is 0 or 1. Empty
 * products leave C (beta 1) or zero it (beta 0). lda, ldb, ldc: stored row lengths. */
static void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const real *A, int64_t lda,
                 const real *B, int64_t ldb, real beta, real *C, int64_t ldc)
{
    assert(M <= INT_MAX && N <= INT_MAX && K <= INT_MAX);
    if (M == 0 || N == 0)
        return;
    if (K == 0) {
        if (beta == 0)
            for (int64_t i = 0; i < M; i++)
                memset(C + i * ldc, 0, (size_t)N * sizeof(real));
        return;
    }
    cblas_gemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)M,
               (int)N, (int)K, 1, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

/* y[M] = op(A) x + beta y, A [M, N] stored (or [N, M] when tA, then op(A) = A^T);
 * beta is 0 or 1. An empty sum leaves y (beta 1) or zeroes it (beta 0). */
static void gemv(bool ta, int64_t M, int64_t N, const real *A, int64_t lda, const real *x, real beta,
                 real *y)
{
    assert(M <= INT_MAX && N <= INT_MAX);
    if (M == 0)
        return;
    if (N == 0) {
        if (beta == 0)
            memset(y, 0, (size_t)M * sizeof(real));
        return;
    }
    /* Row-major A [rows, cols]: op(A) x needs NoTrans when A is stored [M, N]. */
    cblas_gemv(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, ta ? (int)N : (int)M, ta ? (int)M : (int)N, 1, A,
               (int)lda, x, 1, beta, y, 1);
}

static int64_t last(const Shape *s) { return s->rank ? s->dim[s->rank - 1] : 1; }

/* ---- linear ---- */

static bool linear_shape(const Op *op, int n_in, const Shape *in, const OpAttr *attr, Shape *out,
                         Diags *d, Span at)
{
    char sx[96], sw[96];
    tensor_shape_fmt(&in[0], sx, sizeof sx);
    tensor_shape_fmt(&in[1], sw, sizeof sw);
    if (in[1].rank != 2) {
        diag_error(d, at, "weights must be a matrix [post, pre], got %s", sw);
        return false;
    }
    if (in[0].rank < 1 || in[0].dim[in[0].rank - 1] != in[1].dim[1]) {
        diag_error(d, at, "cannot multiply input %s by weights %s: the weights take %lld inputs", sx,
                   sw, (long long)in[1].dim[1]);
        return false;
    }
    *out = in[0];
    out->dim[out->rank - 1] = in[1].dim[0];
    /* c is added to the output's columns [start, stop), or to all of them
     * (stop 0); it is as wide as the output or as those columns. */
    Shape covered = *out;
    if (n_in == 3 && attr && attr->stop > 0) {
        if (attr->start < 0 || attr->stop > covered.dim[covered.rank - 1] || attr->start >= attr->stop) {
            diag_error(d, at, "columns [%lld, %lld) are not within the product's %lld", (long long)attr->start,
                       (long long)attr->stop, (long long)covered.dim[covered.rank - 1]);
            return false;
        }
        if (!tensor_shape_eq(&in[2], out))
            covered.dim[covered.rank - 1] = attr->stop - attr->start;
    }
    if (n_in == 3 && !tensor_shape_eq(&in[2], &covered)) {
        char sc[96], so[96];
        tensor_shape_fmt(&in[2], sc, sizeof sc);
        tensor_shape_fmt(&covered, so, sizeof so);
        diag_error(d, at, "cannot add %s to a product of shape %s", sc, so);
        return false;
    }
    return true;
}

/* Where c goes: its columns [c0, c0 + width) (a row of c holds cw) are added
 * to the columns [lo, lo + width) of y. */
typedef struct Added {
    int64_t lo, width, c0, cw;
} Added;

static Added added_columns(const OpCall *c, int64_t m)
{
    bool part = c->attr && c->attr->stop > 0;
    Added a = { part ? c->attr->start : 0, part ? c->attr->stop - c->attr->start : m, 0, c->in[2]->rank ? c->in[2]->dim[c->in[2]->rank - 1] : 1 };
    if (part && a.cw == m)
        a.c0 = a.lo;   /* c as wide as y: the same columns of c */
    return a;
}

/* A product of few inputs (n <= NARROW_IN: the input projection of a task with
 * two channels, over all T steps) is memory-bound: GEMM zeroes y (beta 0), then
 * streams it again with k = 2. Written out, each row of y is one pass:
 * y[r, :] = beta y[r, :] + sum_k x[r, k] W^T[k, :]. False when it does not apply. */
enum { NARROW_IN = 4, NARROW_MAX_W = 4096 };

static bool narrow_product(int64_t rows, int64_t m, int64_t n, const real *x, const real *w, real beta, real *y)
{
    if (n == 0 || n > NARROW_IN || m * n > NARROW_MAX_W)
        return false;
    real wt[NARROW_MAX_W];   /* W^T [n, m]: each input's weights contiguous */
    for (int64_t j = 0; j < m; j++)
        for (int64_t k = 0; k < n; k++)
            wt[k * m + j] = w[j * n + k];
    for (int64_t r = 0; r < rows; r++) {
        real *restrict yr = y + r * m;
        const real *xr = x + r * n;
        const real *restrict w0 = wt;
        real x0 = xr[0];
        if (beta == 0)
            for (int64_t j = 0; j < m; j++)
                yr[j] = x0 * w0[j];
        else
            for (int64_t j = 0; j < m; j++)
                yr[j] += x0 * w0[j];
        for (int64_t k = 1; k < n; k++) {
            const real *restrict wk = wt + k * m;
            real xk = xr[k];
            for (int64_t j = 0; j < m; j++)
                yr[j] += xk * wk[j];
        }
    }
    return true;
}

/* y[rows, m] = x[rows, n] W[m, n]^T, or c + x W^T */
static void linear_fwd(const OpCall *c)
{
    const Tensor *x = c->in[0], *w = c->in[1];
    int64_t m = w->dim[0], n = w->dim[1], rows = n ? x->size / n : c->out->size / (m ? m : 1);
    real beta = 0;
    if (c->n_in == 3) {
        Added a = added_columns(c, m);
        real *y = c->out->data;
        const real *add = c->in[2]->data;
        if (y == add)
            ;   /* accumulating in c's own buffer (plan.c) */
        else if (a.width == m)
            memcpy(y, add, (size_t)c->out->size * sizeof(real));
        else   /* rows of a few dozen reals: plain loops beat the calls */
            for (int64_t r = 0; r < rows; r++) {
                real *restrict yr = y + r * m;
                const real *restrict ar = add + r * a.cw + a.c0;
                for (int64_t j = 0; j < a.lo; j++)
                    yr[j] = 0;
                for (int64_t j = 0; j < a.width; j++)
                    yr[a.lo + j] = ar[j];
                for (int64_t j = a.lo + a.width; j < m; j++)
                    yr[j] = 0;
            }
        beta = 1;
    }
    if (rows == 1)
        gemv(false, m, n, w->data, n, x->data, beta, c->out->data);   /* y[m] = W x */
    else if (m == 1)
        gemv(false, rows, n, x->data, n, w->data, beta, c->out->data);   /* y[rows] = x w */
    else if (!narrow_product(rows, m, n, x->data, w->data, beta, c->out->data))
        gemm(false, true, rows, m, n, x->data, n, w->data, n, beta, c->out->data, m);
}

/* gx[rows, n] += gy[rows, m] W[m, n];  gW[m, n] += gy[rows, m]^T x[rows, n];  gc += gy
 * rows = 1: gx[n] += W^T gy (gemv);    gW[m, n] += gy x^T (ger)
 * m = 1:    gx[rows, n] += gy w^T (ger);  gw[n] += x^T gy (gemv) */
static void linear_vjp(const OpCall *c)
{
    const Tensor *x = c->in[0], *w = c->in[1];
    int64_t m = w->dim[0], n = w->dim[1], rows = n ? x->size / n : c->out->size / (m ? m : 1);
    /* in place, c's gradient is y's own */
    if (c->n_in == 3 && c->gin[2] && c->gin[2]->data != c->gy->data) {
        Added a = added_columns(c, m);
        real *restrict gc = c->gin[2]->data;
        const real *restrict gy = c->gy->data;
        for (int64_t r = 0; r < rows; r++)
            for (int64_t j = 0; j < a.width; j++)
                gc[r * a.cw + a.c0 + j] += gy[r * m + a.lo + j];
    }
    if (rows == 1) {
        if (c->gin[0])
            gemv(true, n, m, w->data, n, c->gy->data, 1, c->gin[0]->data);
        if (c->gin[1] && m && n) {
            assert(m <= INT_MAX && n <= INT_MAX);
            cblas_ger(CblasRowMajor, (int)m, (int)n, 1, c->gy->data, 1, x->data, 1, c->gin[1]->data, (int)n);
        }
        return;
    }
    if (m == 1) {
        if (c->gin[0] && n) {
            assert(rows <= INT_MAX && n <= INT_MAX);
            cblas_ger(CblasRowMajor, (int)rows, (int)n, 1, c->gy->data, 1, w->data, 1, c->gin[0]->data, (int)n);
        }
        if (c->gin[1])
            gemv(true, n, rows, x->data, n, c->gy->data, 1, c->gin[1]->data);
        return;
    }
    if (c->gin[0])
        gemm(false, false, rows, n, m, c->gy->data, m, w->data, n, 1, c->gin[0]->data, n);
    if (c->gin[1])
        gemm(true, false, m, n, rows, c->gy->data, m, x->data, n, 1, c->gin[1]->data, n);
}

/* ---- matmul: the language's @ ---- */

/* a [p, q] or [q] (a row), b [q, r] or [q] (a column) */
static void mm_dims(const Shape *a, const Shape *b, int64_t *p, int64_t *q, int64_t *r)
{
    *p = a->rank == 2 ? a->dim[0] : 1;
    *q = last(a);
    *r = b->rank == 2 ? b->dim[1] : 1;
}

static bool matmul_shape(const Op *op, int n_in, const Shape *in, const OpAttr *attr, Shape *out,
                         Diags *d, Span at)
{
    char sa[96], sb[96];
    tensor_shape_fmt(&in[0], sa, sizeof sa);
    tensor_shape_fmt(&in[1], sb, sizeof sb);
    if (in[0].rank < 1 || in[0].rank > 2 || in[1].rank < 1 || in[1].rank > 2) {
        diag_error(d, at, "'@' takes vectors and matrices, got %s @ %s", sa, sb);
        return false;
    }
    if (last(&in[0]) != in[1].dim[0]) {
        diag_error(d, at, "cannot multiply %s by %s", sa, sb);
        return false;
    }
    int64_t dim[2], k = 0;
    if (in[0].rank == 2)
        dim[k++] = in[0].dim[0];
    if (in[1].rank == 2)
        dim[k++] = in[1].dim[1];
    *out = tensor_shape_make((int)k, dim);
    return true;
}

/* y[p, r] = a[p, q] b[q, r] */
static void matmul_fwd(const OpCall *c)
{
    Shape sa = tensor_shape(c->in[0]), sb = tensor_shape(c->in[1]);
    int64_t p, q, r;
    mm_dims(&sa, &sb, &p, &q, &r);
    gemm(false, false, p, r, q, c->in[0]->data, q, c->in[1]->data, r, 0, c->out->data, r);
}

/* ga[p, q] += gy[p, r] b[q, r]^T;  gb[q, r] += a[p, q]^T gy[p, r] */
static void matmul_vjp(const OpCall *c)
{
    Shape sa = tensor_shape(c->in[0]), sb = tensor_shape(c->in[1]);
    int64_t p, q, r;
    mm_dims(&sa, &sb, &p, &q, &r);
    if (c->gin[0])
        gemm(false, true, p, q, r, c->gy->data, r, c->in[1]->data, r, 1, c->gin[0]->data, q);
    if (c->gin[1])
        gemm(true, false, q, r, p, c->in[0]->data, q, c->gy->data, r, 1, c->gin[1]->data, r);
}

/* ---- outer: Hebbian products summed over the batch ---- */

static bool outer_shape(const Op *op, int n_in, const Shape *in, const OpAttr *attr, Shape *out,
                        Diags *d, Span at)
{
    bool ok = in[0].rank >= 1 && in[0].rank == in[1].rank;
    for (int k = 0; ok && k < in[0].rank - 1; k++)
        ok = in[0].dim[k] == in[1].dim[k];
    if (!ok) {
        char sa[96], sb[96];
        diag_error(d, at, "'outer' needs two vectors or two batches of the same size, got %s and %s",
                   tensor_shape_fmt(&in[0], sa, sizeof sa), tensor_shape_fmt(&in[1], sb, sizeof sb));
        return false;
    }
    *out = tensor_shape_make(2, (int64_t[]){ last(&in[0]), last(&in[1]) });
    return true;
}

/* y[m, n] = a[rows, m]^T b[rows, n] */
static void outer_fwd(const OpCall *c)
{
    int64_t m = c->out->dim[0], n = c->out->dim[1];
    int64_t rows = m ? c->in[0]->size / m : (n ? c->in[1]->size / n : 0);
    gemm(true, false, m, n, rows, c->in[0]->data, m, c->in[1]->data, n, 0, c->out->data, n);
}

/* ga[rows, m] += b[rows, n] gy[m, n]^T;  gb[rows, n] += a[rows, m] gy[m, n] */
static void outer_vjp(const OpCall *c)
{
    int64_t m = c->out->dim[0], n = c->out->dim[1];
    int64_t rows = m ? c->in[0]->size / m : (n ? c->in[1]->size / n : 0);
    if (c->gin[0])
        gemm(false, true, rows, m, n, c->in[1]->data, n, c->gy->data, n, 1, c->gin[0]->data, m);
    if (c->gin[1])
        gemm(false, false, rows, n, m, c->in[0]->data, m, c->gy->data, n, 1, c->gin[1]->data, n);
}

/* ---- transpose ---- */

static bool transpose_shape(const Op *op, int n_in, const Shape *in, const OpAttr *attr, Shape *out,
                            Diags *d, Span at)
{
    if (in[0].rank != 2) {
        char s[96];
        diag_error(d, at, "'transpose' takes a matrix, got %s", tensor_shape_fmt(&in[0], s, sizeof s));
        return false;
    }
    *out = tensor_shape_make(2, (int64_t[]){ in[0].dim[1], in[0].dim[0] });
    return true;
}

/* y[j, i] = a[i, j] */
static void transpose_fwd(const OpCall *c)
{
    int64_t p = c->in[0]->dim[0], q = c->in[0]->dim[1];
    const real *a = c->in[0]->data;
    real *y = c->out->data;
    for (int64_t i = 0; i < p; i++)
        for (int64_t j = 0; j < q; j++)
            y[j * p + i] = a[i * q + j];
}

/* ga[i, j] += gy[j, i] */
static void transpose_vjp(const OpCall *c)
{
    if (!c->gin[0])
        return;
    int64_t p = c->in[0]->dim[0], q = c->in[0]->dim[1];
    const real *gy = c->gy->data;
    real *ga = c->gin[0]->data;
    for (int64_t i = 0; i < p; i++)
        for (int64_t j = 0; j < q; j++)
            ga[i * q + j] += gy[j * p + i];
}

const Op ops_matmul_table[OP_COUNT] = {
    [OP_LINEAR] = { .shape = linear_shape, .fwd = linear_fwd, .vjp = linear_vjp,
                    .vjp_reads = OPS_READ_A | OPS_READ_B, .domain = { -1, 1 } },
    [OP_MATMUL] = { .shape = matmul_shape, .fwd = matmul_fwd, .vjp = matmul_vjp,
                    .vjp_reads = OPS_READ_A | OPS_READ_B, .domain = { -1, 1 } },
    [OP_OUTER] = { .shape = outer_shape, .fwd = outer_fwd, .vjp = outer_vjp,
                   .vjp_reads = OPS_READ_A | OPS_READ_B, .domain = { -1, 1 } },
    [OP_TRANSPOSE] = { .shape = transpose_shape, .fwd = transpose_fwd, .vjp = transpose_vjp,
                       .domain = { -1, 1 } },
};
