/* ops_loss.c: cost functions; each returns a scalar.
 *
 * `cost fit = mse(z, target) during [500ms, 1s]` becomes one of these per time
 * step (the plan adds them up). Inputs are (prediction, target) shaped alike and
 * an optional mask of weights, usually 0/1: shaped like the prediction (one
 * weight per element) or like its leading axes (one per row, [B] for [B, n]).
 * The loss is the weighted mean
 *
 *   L = sum_e w_e l_e / sum_e w_e      (per-row weights count once per element;
 *                                       cross_entropy and nll: one l per row)
 *
 * and 0, with no gradient, when every weight is zero. Targets of cross_entropy
 * and nll are probabilities over the last axis (one-hot for a class label), so
 * soft labels and data sets share one form. Both use the log-sum-exp shifted by
 * the row maximum; bce uses max(x, 0) - x t + ln(1 + e^-|x|), finite for any x.
 */
#include "ops.h"
#include "vecmath.h"

#include <tgmath.h>

static int64_t last(const Shape *s) { return s->rank ? s->dim[s->rank - 1] : 1; }

/* per_row: the mask may only be shaped like the rows (cross_entropy, nll) */
static bool loss_shape_rule(const Op *op, int n_in, const Shape *in, Shape *out, bool per_row, Diags *d,
                            Span at)
{
    char sp[96], st[96], sm[96], srow[96];
    tensor_shape_fmt(&in[0], sp, sizeof sp);
    if (!tensor_shape_eq(&in[0], &in[1])) {
        diag_error(d, at, "'%s' compares %s with a target of %s: the shapes must be equal", op->name,
                   sp, tensor_shape_fmt(&in[1], st, sizeof st));
        return false;
    }
    if (n_in == 3) {
        Shape rows = tensor_shape_make(in[0].rank ? in[0].rank - 1 : 0, in[0].dim);
        bool ok = tensor_shape_eq(&in[2], &rows) || (!per_row && tensor_shape_eq(&in[2], &in[0]));
        if (!ok) {
            tensor_shape_fmt(&rows, srow, sizeof srow);
            tensor_shape_fmt(&in[2], sm, sizeof sm);
            if (per_row)
                diag_error(d, at, "the mask of '%s' must be %s, one weight per row of %s, got %s",
                           op->name, srow, sp, sm);
            else
                diag_error(d, at, "the mask of '%s' must be %s or %s, got %s", op->name, sp, srow, sm);
            return false;
        }
    }
    *out = tensor_shape_make(0, NULL);
    return true;
}

static bool elementwise_loss_shape(const Op *op, int n_in, const Shape *in, const OpAttr *attr,
                                   Shape *out, Diags *d, Span at)
{
    return loss_shape_rule(op, n_in, in, out, false, d, at);
}

static bool row_loss_shape(const Op *op, int n_in, const Shape *in, const OpAttr *attr, Shape *out,
                           Diags *d, Span at)
{
    return loss_shape_rule(op, n_in, in, out, true, d, at);
}

/* The shape of a loss call: rows of k, and the weights. */
typedef struct Loss {
    int64_t size, k, rows;
    const real *mask;       /* NULL: all weights 1 */
    bool mask_per_row;
} Loss;

static Loss loss_of(const OpCall *c)
{
    Loss l = { .size = c->in[0]->size };
    Shape s = tensor_shape(c->in[0]);
    l.k = last(&s);
    l.rows = l.k ? l.size / l.k : 0;
    if (c->n_in == 3) {
        l.mask = c->in[2]->data;
        l.mask_per_row = c->in[2]->size != l.size;
    }
    return l;
}

/* weight of element e */
static real weight(const Loss *l, int64_t e)
{
    if (!l->mask)
        return 1;
    return l->mask_per_row ? l->mask[e / l->k] : l->mask[e];
}

/* sum of the weights over elements (per_element) or over rows */
static double weight_total(const Loss *l, bool per_element)
{
    if (!l->mask)
        return (double)(per_element ? l->size : l->rows);
    double s = 0;
    if (per_element && !l->mask_per_row)
        for (int64_t e = 0; e < l->size; e++)
            s += l->mask[e];
    else
        for (int64_t r = 0; r < l->rows; r++)
            s += l->mask[r];
    return per_element && l->mask_per_row ? s * (double)l->k : s;
}

/* ---- mse ---- */

/* L = sum w (y - t)^2 / sum w */
static void mse_fwd(const OpCall *c)
{
    Loss l = loss_of(c);
    const real *y = c->in[0]->data, *t = c->in[1]->data;
    double total = weight_total(&l, true), s = 0;
    for (int64_t e = 0; e < l.size; e++) {
        double diff = (double)y[e] - t[e];
        s += weight(&l, e) * diff * diff;
    }
    c->out->data[0] = total != 0 ? (real)(s / total) : 0;
}

/* gy_e += 2 w (y - t) gL / sum w;  gt_e -= the same */
static void mse_vjp(const OpCall *c)
{
    Loss l = loss_of(c);
    double total = weight_total(&l, true);
    if (total == 0)
        return;
    const real *y = c->in[0]->data, *t = c->in[1]->data;
    real g = (real)(2 * c->gy->data[0] / total);
    for (int64_t e = 0; e < l.size; e++) {
        real d = g * weight(&l, e) * (y[e] - t[e]);
        if (c->gin[0])
            c->gin[0]->data[e] += d;
        if (c->gin[1])
            c->gin[1]->data[e] -= d;
    }
}

/* ---- cross_entropy over the last axis ---- */

/* log sum_j e^z_j, shifted by the maximum */
static double log_sum_exp(const real *z, int64_t k)
{
    real m = -INFINITY;
    for (int64_t j = 0; j < k; j++)
        m = z[j] > m ? z[j] : m;
    double s = 0;
    for (int64_t j = 0; j < k; j++)
        s += exp((double)z[j] - m);
    return m + log(s);
}

/* l_r = lse(z_r) sum_j t_rj - sum_j t_rj z_rj;  L = sum w_r l_r / sum w_r */
static void cross_entropy_fwd(const OpCall *c)
{
    Loss l = loss_of(c);
    double total = weight_total(&l, false), s = 0;
    for (int64_t r = 0; r < l.rows; r++) {
        const real *z = c->in[0]->data + r * l.k, *t = c->in[1]->data + r * l.k;
        real w = l.mask ? l.mask[r] : 1;
        if (w == 0)
            continue;
        double lse = log_sum_exp(z, l.k), st = 0, tz = 0;
        for (int64_t j = 0; j < l.k; j++) {
            st += t[j];
            tz += (double)t[j] * z[j];
        }
        s += w * (lse * st - tz);
    }
    c->out->data[0] = total != 0 ? (real)(s / total) : 0;
}

/* gz_rj += w_r (softmax(z_r)_j sum_j t_rj - t_rj) gL / sum w */
static void cross_entropy_vjp(const OpCall *c)
{
    Loss l = loss_of(c);
    double total = weight_total(&l, false);
    if (total == 0 || !c->gin[0])
        return;
    double g = c->gy->data[0] / total;
    for (int64_t r = 0; r < l.rows; r++) {
        const real *z = c->in[0]->data + r * l.k, *t = c->in[1]->data + r * l.k;
        real *gz = c->gin[0]->data + r * l.k;
        double w = l.mask ? l.mask[r] : 1;
        if (w == 0)
            continue;
        double lse = log_sum_exp(z, l.k), st = 0;
        for (int64_t j = 0; j < l.k; j++)
            st += t[j];
        for (int64_t j = 0; j < l.k; j++)
            gz[j] += (real)(w * g * (exp(z[j] - lse) * st - t[j]));
    }
}

/* ---- nll: cross entropy on log-probabilities already computed ---- */

/* l_r = -sum_j t_rj logp_rj */
static void nll_fwd(const OpCall *c)
{
    Loss l = loss_of(c);
    double total = weight_total(&l, false), s = 0;
    for (int64_t r = 0; r < l.rows; r++) {
        const real *lp = c->in[0]->data + r * l.k, *t = c->in[1]->data + r * l.k;
        real w = l.mask ? l.mask[r] : 1;
        if (w == 0)
            continue;
        double tl = 0;
        for (int64_t j = 0; j < l.k; j++)
            tl += (double)t[j] * lp[j];
        s -= w * tl;
    }
    c->out->data[0] = total != 0 ? (real)(s / total) : 0;
}

/* glogp_rj += -w_r t_rj gL / sum w */
static void nll_vjp(const OpCall *c)
{
    Loss l = loss_of(c);
    double total = weight_total(&l, false);
    if (total == 0 || !c->gin[0])
        return;
    real g = (real)(c->gy->data[0] / total);
    for (int64_t e = 0; e < l.size; e++)
        c->gin[0]->data[e] -= g * weight(&l, e) * c->in[1]->data[e];
}

/* ---- bce on logits ---- */

/* l = max(x, 0) - x t + ln(1 + e^-|x|);  L = sum w l / sum w */
static void bce_fwd(const OpCall *c)
{
    Loss l = loss_of(c);
    const real *x = c->in[0]->data, *t = c->in[1]->data;
    double total = weight_total(&l, true), s = 0;
    for (int64_t e = 0; e < l.size; e++) {
        double xe = x[e];
        s += weight(&l, e) * ((xe > 0 ? xe : 0) - xe * t[e] + log1p(exp(-fabs(xe))));
    }
    c->out->data[0] = total != 0 ? (real)(s / total) : 0;
}

/* gx += w (sigmoid(x) - t) gL / sum w */
static void bce_vjp(const OpCall *c)
{
    Loss l = loss_of(c);
    double total = weight_total(&l, true);
    if (total == 0 || !c->gin[0])
        return;
    const real *x = c->in[0]->data, *t = c->in[1]->data;
    real g = (real)(c->gy->data[0] / total), s[OPS_BLOCK];
    for (int64_t e0 = 0; e0 < l.size; e0 += OPS_BLOCK) {
        int64_t m = l.size - e0 < OPS_BLOCK ? l.size - e0 : OPS_BLOCK;
        vecmath_sigmoid(m, s, x + e0);
        for (int64_t i = 0; i < m; i++)
            c->gin[0]->data[e0 + i] += g * weight(&l, e0 + i) * (s[i] - t[e0 + i]);
    }
}

/* inputs (y or logits, target, mask) by bit */
enum { MASK = 1u << 2, TARGET_AND_MASK = 1u << 1 | MASK, ALL = OPS_READ_A | OPS_READ_B | OPS_READ_C };

const Op ops_loss_table[OP_COUNT] = {
    [OP_MSE] = { .shape = elementwise_loss_shape, .fwd = mse_fwd, .vjp = mse_vjp,
                 .no_grad = MASK, .vjp_reads = ALL, .domain = { -2, 2 } },
    [OP_CROSS_ENTROPY] = { .shape = row_loss_shape, .fwd = cross_entropy_fwd,
                           .vjp = cross_entropy_vjp, .no_grad = TARGET_AND_MASK, .vjp_reads = ALL,
                           .domain = { -3, 3 } },
    [OP_NLL] = { .shape = row_loss_shape, .fwd = nll_fwd, .vjp = nll_vjp, .no_grad = TARGET_AND_MASK,
                 .vjp_reads = OPS_READ_B | OPS_READ_C, .domain = { -3, -0.1 } },
    [OP_BCE] = { .shape = elementwise_loss_shape, .fwd = bce_fwd, .vjp = bce_vjp,
                 .no_grad = TARGET_AND_MASK, .vjp_reads = ALL, .domain = { -3, 3 } },
};
