/* ops_reduce.c: sums and means, over everything or one axis, the L1 / L2
 * penalties of costs (`cost calm = 1e-4 * mean(E.r ^ 2)`, `constrain l1(w)`), and
 * the largest and smallest element (`print max(E.r)`, one-argument max and min).
 *
 * Sums accumulate in double whatever `real` is: a float sum over a million
 * neurons would otherwise lose the small terms. The batch axis is the first
 * ([B, n] -> [n]), the neuron axis the last ([B, n] -> [B]); their VJPs broadcast
 * gy back over the axis that was summed.
 */
#include "ops.h"

#include <tgmath.h>

static bool to_scalar_shape(const Op *op, int n_in, const Shape *in, const OpAttr *attr, Shape *out,
                            Diags *d, Span at)
{
    *out = tensor_shape_make(0, NULL);
    return true;
}

static bool drop_first_shape(const Op *op, int n_in, const Shape *in, const OpAttr *attr, Shape *out,
                             Diags *d, Span at)
{
    if (in[0].rank < 1) {
        diag_error(d, at, "'%s' sums over the batch axis, but its input is a scalar", op->name);
        return false;
    }
    *out = tensor_shape_make(in[0].rank - 1, in[0].dim + 1);
    return true;
}

static bool drop_last_shape(const Op *op, int n_in, const Shape *in, const OpAttr *attr, Shape *out,
                            Diags *d, Span at)
{
    if (in[0].rank < 1) {
        diag_error(d, at, "'%s' reduces the last axis, but its input is a scalar", op->name);
        return false;
    }
    *out = tensor_shape_make(in[0].rank - 1, in[0].dim);
    return true;
}

static double sum_all(const real *a, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += a[i];
    return s;
}

/* ga[i] += g for every i */
static void add_const(Tensor *ga, real g)
{
    for (int64_t i = 0; i < ga->size; i++)
        ga->data[i] += g;
}

/* y = sum a                                ga += gy */
static void sum_fwd(const OpCall *c) { c->out->data[0] = (real)sum_all(c->in[0]->data, c->in[0]->size); }
static void sum_vjp(const OpCall *c)
{
    if (c->gin[0])
        add_const(c->gin[0], c->gy->data[0]);
}

/* y = sum a / size(a)                      ga += gy / size(a) */
static void mean_fwd(const OpCall *c)
{
    int64_t n = c->in[0]->size;
    c->out->data[0] = n ? (real)(sum_all(c->in[0]->data, n) / (double)n) : 0;
}
static void mean_vjp(const OpCall *c)
{
    if (c->gin[0] && c->in[0]->size)
        add_const(c->gin[0], c->gy->data[0] / (real)c->in[0]->size);
}

/* y[n] = sum_b a[b, n]  (a: [B, ...], y: [...])      ga[b, n] += gy[n] */
static void sum_batch_fwd(const OpCall *c)
{
    int64_t n = c->out->size, batch = c->in[0]->dim[0];
    real *y = c->out->data;
    for (int64_t i = 0; i < n; i++) {
        double s = 0;
        for (int64_t b = 0; b < batch; b++)
            s += c->in[0]->data[b * n + i];
        y[i] = (real)s;
    }
}
static void sum_batch_vjp(const OpCall *c)
{
    if (!c->gin[0])
        return;
    int64_t n = c->out->size, batch = c->in[0]->dim[0];
    for (int64_t b = 0; b < batch; b++)
        for (int64_t i = 0; i < n; i++)
            c->gin[0]->data[b * n + i] += c->gy->data[i];
}

/* y[r] = sum_i a[r, i]  (a: [..., n], y: [...])      ga[r, i] += gy[r] */
static void sum_last_fwd(const OpCall *c)
{
    int64_t rows = c->out->size, n = rows ? c->in[0]->size / rows : 0;
    for (int64_t r = 0; r < rows; r++)
        c->out->data[r] = (real)sum_all(c->in[0]->data + r * n, n);
}
static void sum_last_vjp(const OpCall *c)
{
    if (!c->gin[0])
        return;
    int64_t rows = c->out->size, n = rows ? c->in[0]->size / rows : 0;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < n; i++)
            c->gin[0]->data[r * n + i] += c->gy->data[r];
}

/* y[r] = sum_i a[r, i] / n                           ga[r, i] += gy[r] / n */
static void mean_last_fwd(const OpCall *c)
{
    int64_t rows = c->out->size, n = rows ? c->in[0]->size / rows : 0;
    for (int64_t r = 0; r < rows; r++)
        c->out->data[r] = n ? (real)(sum_all(c->in[0]->data + r * n, n) / (double)n) : 0;
}
static void mean_last_vjp(const OpCall *c)
{
    if (!c->gin[0])
        return;
    int64_t rows = c->out->size, n = rows ? c->in[0]->size / rows : 0;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < n; i++)
            c->gin[0]->data[r * n + i] += c->gy->data[r] / (real)n;
}

/* y = sum |a|                              ga += gy sign(a) */
static void l1_fwd(const OpCall *c)
{
    double s = 0;
    for (int64_t i = 0; i < c->in[0]->size; i++)
        s += fabs(c->in[0]->data[i]);
    c->out->data[0] = (real)s;
}
static void l1_vjp(const OpCall *c)
{
    if (!c->gin[0])
        return;
    real g = c->gy->data[0];
    const real *a = c->in[0]->data;
    for (int64_t i = 0; i < c->in[0]->size; i++)
        c->gin[0]->data[i] += a[i] > 0 ? g : a[i] < 0 ? -g : 0;
}

/* y = sum a^2                              ga += 2 gy a */
static void l2_fwd(const OpCall *c)
{
    double s = 0;
    for (int64_t i = 0; i < c->in[0]->size; i++)
        s += (double)c->in[0]->data[i] * c->in[0]->data[i];
    c->out->data[0] = (real)s;
}
static void l2_vjp(const OpCall *c)
{
    if (!c->gin[0])
        return;
    real g2 = 2 * c->gy->data[0];
    for (int64_t i = 0; i < c->in[0]->size; i++)
        c->gin[0]->data[i] += g2 * c->in[0]->data[i];
}

/* The index of the first largest (or smallest) element of a[0..n), the first
 * NaN if there is one (NumPy's max propagates NaN too); -1 when n is 0. */
static int64_t extreme_at(const real *a, int64_t n, bool largest)
{
    int64_t k = n ? 0 : -1;
    for (int64_t i = 0; i < n; i++) {
        if (isnan(a[i]))
            return i;
        if (largest ? a[i] > a[k] : a[i] < a[k])
            k = i;
    }
    return k;
}

static void extreme_fwd(const OpCall *c, bool largest)
{
    int64_t k = extreme_at(c->in[0]->data, c->in[0]->size, largest);
    c->out->data[0] = k < 0 ? (real)NAN : c->in[0]->data[k];
}
static void extreme_vjp(const OpCall *c, bool largest)
{
    int64_t k = c->gin[0] ? extreme_at(c->in[0]->data, c->in[0]->size, largest) : -1;
    if (k >= 0)
        c->gin[0]->data[k] += c->gy->data[0];
}

/* y = max a                                ga[k] += gy, k the first largest */
static void max_all_fwd(const OpCall *c) { extreme_fwd(c, true); }
static void max_all_vjp(const OpCall *c) { extreme_vjp(c, true); }

/* y = min a                                ga[k] += gy, k the first smallest */
static void min_all_fwd(const OpCall *c) { extreme_fwd(c, false); }
static void min_all_vjp(const OpCall *c) { extreme_vjp(c, false); }

const Op ops_reduce_table[OP_COUNT] = {
    [OP_SUM] = { .shape = to_scalar_shape, .fwd = sum_fwd, .vjp = sum_vjp, .domain = { -2, 2 } },
    [OP_MEAN] = { .shape = to_scalar_shape, .fwd = mean_fwd, .vjp = mean_vjp, .domain = { -2, 2 } },
    [OP_SUM_BATCH] = { .shape = drop_first_shape, .fwd = sum_batch_fwd, .vjp = sum_batch_vjp,
                       .domain = { -2, 2 } },
    [OP_SUM_LAST] = { .shape = drop_last_shape, .fwd = sum_last_fwd, .vjp = sum_last_vjp,
                      .domain = { -2, 2 } },
    [OP_MEAN_LAST] = { .shape = drop_last_shape, .fwd = mean_last_fwd, .vjp = mean_last_vjp,
                       .domain = { -2, 2 } },
    [OP_L1] = { .shape = to_scalar_shape, .fwd = l1_fwd, .vjp = l1_vjp,
                .vjp_reads = OPS_READ_A, .domain = { -2, 2 } },
    [OP_L2] = { .shape = to_scalar_shape, .fwd = l2_fwd, .vjp = l2_vjp,
                .vjp_reads = OPS_READ_A, .domain = { -2, 2 } },
    [OP_MAX_ALL] = { .shape = to_scalar_shape, .fwd = max_all_fwd, .vjp = max_all_vjp,
                     .vjp_reads = OPS_READ_A, .domain = { -2, 2 } },
    [OP_MIN_ALL] = { .shape = to_scalar_shape, .fwd = min_all_fwd, .vjp = min_all_vjp,
                     .vjp_reads = OPS_READ_A, .domain = { -2, 2 } },
};
