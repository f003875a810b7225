/* ops_sparse.c: synapses with connection probability p < 1, stored as CSR.
 *
 * A sparse synapse keeps only its nnz existing weights. The pattern (row_ptr,
 * col_idx; see Csr in ops.h) is fixed when the model is built and travels as an
 * attribute; the nnz values are the op's second input, a tensor like any other
 * parameter, so optimizers and plasticity rules update it in place and its
 * gradient has nnz entries, never rows x cols. Each row of x is one trial:
 *
 *   y[b, i]  = sum_{k in row i} w[k] x[b, col[k]]
 *   gx[b, j] += sum_{k: col[k] = j} w[k] gy[b, row(k)]     (scatter along rows)
 *   gw[k]    += sum_b gy[b, i] x[b, col[k]]
 */
#include "ops.h"

#include <assert.h>

static bool csr_linear_shape(const Op *op, int n_in, const Shape *in, const OpAttr *attr, Shape *out,
                             Diags *d, Span at)
{
    const Csr *w = attr->csr;
    assert(w && w->row_ptr && w->row_ptr[w->rows] == w->nnz);
    char sx[96], sv[96];
    tensor_shape_fmt(&in[0], sx, sizeof sx);
    tensor_shape_fmt(&in[1], sv, sizeof sv);
    if (in[1].rank != 1 || in[1].dim[0] != w->nnz) {
        diag_error(d, at, "a sparse synapse with %lld connections needs %lld weights, got %s",
                   (long long)w->nnz, (long long)w->nnz, sv);
        return false;
    }
    if (in[0].rank < 1 || in[0].dim[in[0].rank - 1] != w->cols) {
        diag_error(d, at, "cannot multiply input %s by sparse weights [%lld, %lld]: they take %lld inputs",
                   sx, (long long)w->rows, (long long)w->cols, (long long)w->cols);
        return false;
    }
    *out = in[0];
    out->dim[out->rank - 1] = w->rows;
    return true;
}

/* y[rows, m] = x[rows, n] W^T */
static void csr_linear_fwd(const OpCall *c)
{
    const Csr *w = ops_attr(c)->csr;
    const real *v = c->in[1]->data;
    int64_t m = w->rows, n = w->cols, rows = m ? c->out->size / m : 0;
    for (int64_t b = 0; b < rows; b++) {
        const real *x = c->in[0]->data + b * n;
        real *y = c->out->data + b * m;
        for (int64_t i = 0; i < m; i++) {
            real s = 0;
            for (int64_t k = w->row_ptr[i]; k < w->row_ptr[i + 1]; k++)
                s += v[k] * x[w->col_idx[k]];
            y[i] = s;
        }
    }
}

/* gx[rows, n] += gy[rows, m] W;  gw[k] += sum_b gy[b, i] x[b, col[k]] */
static void csr_linear_vjp(const OpCall *c)
{
    const Csr *w = ops_attr(c)->csr;
    const real *v = c->in[1]->data;
    int64_t m = w->rows, n = w->cols, rows = m ? c->out->size / m : 0;
    for (int64_t b = 0; b < rows; b++) {
        const real *x = c->in[0]->data + b * n, *gy = c->gy->data + b * m;
        real *gx = c->gin[0] ? c->gin[0]->data + b * n : NULL;
        real *gw = c->gin[1] ? c->gin[1]->data : NULL;
        for (int64_t i = 0; i < m; i++) {
            real g = gy[i];
            if (gx)
                for (int64_t k = w->row_ptr[i]; k < w->row_ptr[i + 1]; k++)
                    gx[w->col_idx[k]] += v[k] * g;
            if (gw)
                for (int64_t k = w->row_ptr[i]; k < w->row_ptr[i + 1]; k++)
                    gw[k] += g * x[w->col_idx[k]];
        }
    }
}

const Op ops_sparse_table[OP_COUNT] = {
    [OP_CSR_LINEAR] = { .shape = csr_linear_shape, .fwd = csr_linear_fwd, .vjp = csr_linear_vjp,
                        .vjp_reads = OPS_READ_A | OPS_READ_B, .domain = { -1, 1 } },
};
