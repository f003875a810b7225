/* ops_nonlin.c: transfer functions (phi) and softmax.
 *
 * These are what a rate network's neurons spend their time in: every neuron goes
 * through phi once per time step. exp, tanh and sigmoid use vecmath's vectorised
 * loops; the rest call libm per element. VJPs reuse the forward output y where the
 * derivative is a function of it (tanh' = 1 - y^2, sigmoid' = y (1 - y)), so the
 * backward pass reads one stored array instead of recomputing phi.
 *
 * softmax and log_softmax act on the last axis, one row at a time, shifted by the
 * row's maximum so no exponential overflows.
 */
#include "ops.h"
#include "vecmath.h"

#include <assert.h>
#include <tgmath.h>

/* y = e^a                                  ga += gy y */
OPS_EW_FWD(exp_fwd) { vecmath_exp(n, y, a); }
OPS_EW_VJP(exp_vjp)
{
    for (int64_t i = 0; i < n; i++)
        ga[i] += gy[i] * y[i];
}

/* y = ln a                                 ga += gy / a */
OPS_EW_FWD(log_fwd)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = log(a[i]);
}
OPS_EW_VJP(log_vjp)
{
    for (int64_t i = 0; i < n; i++)
        ga[i] += gy[i] / a[i];
}

/* y = tanh(a)                              ga += gy (1 - y^2) */
OPS_EW_FWD(tanh_fwd) { vecmath_tanh(n, y, a); }
OPS_EW_VJP(tanh_vjp)
{
    for (int64_t i = 0; i < n; i++)
        ga[i] += gy[i] * (1 - y[i] * y[i]);
}

/* y = 1 / (1 + e^-a)                       ga += gy y (1 - y) */
OPS_EW_FWD(sigmoid_fwd) { vecmath_sigmoid(n, y, a); }
OPS_EW_VJP(sigmoid_vjp)
{
    for (int64_t i = 0; i < n; i++)
        ga[i] += gy[i] * y[i] * (1 - y[i]);
}

/* y = max(a, 0)                            ga += gy [a > 0]  (NaN stays NaN) */
OPS_EW_FWD(relu_fwd)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = a[i] < 0 ? 0 : a[i];
}
OPS_EW_VJP(relu_vjp)
{
    for (int64_t i = 0; i < n; i++)
        ga[i] += a[i] > 0 ? gy[i] : 0;
}

/* y = ln(1 + e^a) = max(a, 0) + ln(1 + e^-|a|)    ga += gy sigmoid(a) */
OPS_EW_FWD(softplus_fwd)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = (a[i] > 0 ? a[i] : 0) + log1p(exp(-fabs(a[i])));
}
OPS_EW_VJP(softplus_vjp)
{
    real s[OPS_BLOCK];
    for (int64_t i0 = 0; i0 < n; i0 += OPS_BLOCK) {
        int64_t m = n - i0 < OPS_BLOCK ? n - i0 : OPS_BLOCK;
        vecmath_sigmoid(m, s, a + i0);
        for (int64_t i = 0; i < m; i++)
            ga[i0 + i] += gy[i0 + i] * s[i];
    }
}

/* y = sqrt(a)                              ga += gy / (2 y) */
OPS_EW_FWD(sqrt_fwd)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = sqrt(a[i]);
}
OPS_EW_VJP(sqrt_vjp)
{
    for (int64_t i = 0; i < n; i++)
        ga[i] += gy[i] / (2 * y[i]);
}

/* y = sin a                                ga += gy cos a */
OPS_EW_FWD(sin_fwd)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = sin(a[i]);
}
OPS_EW_VJP(sin_vjp)
{
    for (int64_t i = 0; i < n; i++)
        ga[i] += gy[i] * cos(a[i]);
}

/* y = cos a                                ga += -gy sin a */
OPS_EW_FWD(cos_fwd)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = cos(a[i]);
}
OPS_EW_VJP(cos_vjp)
{
    for (int64_t i = 0; i < n; i++)
        ga[i] -= gy[i] * sin(a[i]);
}

/* ---- over the last axis: rows of k ---- */

static int64_t last_dim(const Tensor *t) { return t->rank ? t->dim[t->rank - 1] : 1; }

static real row_max(const real *a, int64_t k)
{
    real m = -INFINITY;
    for (int64_t j = 0; j < k; j++)
        m = a[j] > m ? a[j] : m;
    return m;
}

/* sum_j e^(a[j]) for a row, through vecmath in blocks */
static double sum_exp(const real *a, int64_t k)
{
    real e[OPS_BLOCK];
    double s = 0;
    for (int64_t j0 = 0; j0 < k; j0 += OPS_BLOCK) {
        int64_t m = k - j0 < OPS_BLOCK ? k - j0 : OPS_BLOCK;
        vecmath_exp(m, e, a + j0);
        for (int64_t j = 0; j < m; j++)
            s += e[j];
    }
    return s;
}

/* y[r, :] = e^(a[r, :] - max) / sum e^(a[r, :] - max)        a, y: [..., k] */
static void softmax_fwd(const OpCall *c)
{
    int64_t k = last_dim(c->in[0]), rows = k ? c->in[0]->size / k : 0;
    for (int64_t r = 0; r < rows; r++) {
        const real *a = c->in[0]->data + r * k;
        real *y = c->out->data + r * k;
        real m = row_max(a, k);
        for (int64_t j = 0; j < k; j++)
            y[j] = a[j] - m;
        vecmath_exp(k, y, y);
        double s = 0;
        for (int64_t j = 0; j < k; j++)
            s += y[j];
        real inv = (real)(1 / s);
        for (int64_t j = 0; j < k; j++)
            y[j] *= inv;
    }
}

/* ga[r, :] += y (gy - sum_j gy_j y_j)   (reuses y) */
static void softmax_vjp(const OpCall *c)
{
    if (!c->gin[0])
        return;
    int64_t k = last_dim(c->in[0]), rows = k ? c->in[0]->size / k : 0;
    for (int64_t r = 0; r < rows; r++) {
        const real *y = c->out->data + r * k, *gy = c->gy->data + r * k;
        real *ga = c->gin[0]->data + r * k;
        double dot = 0;
        for (int64_t j = 0; j < k; j++)
            dot += gy[j] * y[j];
        for (int64_t j = 0; j < k; j++)
            ga[j] += y[j] * (gy[j] - (real)dot);
    }
}

/* y[r, :] = a[r, :] - max - ln sum e^(a[r, :] - max)        a, y: [..., k] */
static void log_softmax_fwd(const OpCall *c)
{
    int64_t k = last_dim(c->in[0]), rows = k ? c->in[0]->size / k : 0;
    for (int64_t r = 0; r < rows; r++) {
        const real *a = c->in[0]->data + r * k;
        real *y = c->out->data + r * k;
        real m = row_max(a, k);
        for (int64_t j = 0; j < k; j++)
            y[j] = a[j] - m;
        real lse = (real)log(sum_exp(y, k));
        for (int64_t j = 0; j < k; j++)
            y[j] -= lse;
    }
}

/* ga[r, :] += gy - e^y sum_j gy_j   (reuses y: e^y is the softmax) */
static void log_softmax_vjp(const OpCall *c)
{
    if (!c->gin[0])
        return;
    int64_t k = last_dim(c->in[0]), rows = k ? c->in[0]->size / k : 0;
    real e[OPS_BLOCK];
    for (int64_t r = 0; r < rows; r++) {
        const real *y = c->out->data + r * k, *gy = c->gy->data + r * k;
        real *ga = c->gin[0]->data + r * k;
        double s = 0;
        for (int64_t j = 0; j < k; j++)
            s += gy[j];
        for (int64_t j0 = 0; j0 < k; j0 += OPS_BLOCK) {
            int64_t m = k - j0 < OPS_BLOCK ? k - j0 : OPS_BLOCK;
            vecmath_exp(m, e, y + j0);
            for (int64_t j = 0; j < m; j++)
                ga[j0 + j] += gy[j0 + j] - e[j] * (real)s;
        }
    }
}

const Op ops_nonlin_table[OP_COUNT] = {
    [OP_EXP] = { OPS_EW(exp_fwd, exp_vjp), .vjp_reads = OPS_READ_Y, .domain = { -2, 2 } },
    [OP_LOG] = { OPS_EW(log_fwd, log_vjp), .vjp_reads = OPS_READ_A, .domain = { 0.2, 3 } },
    [OP_TANH] = { OPS_EW(tanh_fwd, tanh_vjp), .vjp_reads = OPS_READ_Y, .domain = { -3, 3 } },
    [OP_SIGMOID] = { OPS_EW(sigmoid_fwd, sigmoid_vjp),
                     .vjp_reads = OPS_READ_Y, .domain = { -4, 4 } },
    [OP_RELU] = { OPS_EW(relu_fwd, relu_vjp), .vjp_reads = OPS_READ_A, .domain = { -2, 2 } },
    [OP_SOFTPLUS] = { OPS_EW(softplus_fwd, softplus_vjp),
                      .vjp_reads = OPS_READ_A, .domain = { -4, 4 } },
    [OP_SQRT] = { OPS_EW(sqrt_fwd, sqrt_vjp), .vjp_reads = OPS_READ_Y, .domain = { 0.2, 3 } },
    [OP_SIN] = { OPS_EW(sin_fwd, sin_vjp), .vjp_reads = OPS_READ_A, .domain = { -3, 3 } },
    [OP_COS] = { OPS_EW(cos_fwd, cos_vjp), .vjp_reads = OPS_READ_A, .domain = { -3, 3 } },
    [OP_SOFTMAX] = { .shape = ops_same_shape, .fwd = softmax_fwd, .vjp = softmax_vjp,
                     .vjp_reads = OPS_READ_Y, .domain = { -3, 3 } },
    [OP_LOG_SOFTMAX] = { .shape = ops_same_shape, .fwd = log_softmax_fwd, .vjp = log_softmax_vjp,
                         .vjp_reads = OPS_READ_Y, .domain = { -3, 3 } },
};
