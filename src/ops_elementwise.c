/* ops_elementwise.c: broadcasting for elementwise ops, and the arithmetic ones.
 *
 * An elementwise op is a pair of kernels over contiguous arrays (ew_fwd, ew_vjp;
 * see ops.h). The fused executor in plan.c runs chains of them over blocks of
 * OPS_BLOCK elements; here ops_elementwise_fwd / _vjp run one op over tensors.
 * When every operand is full-sized the kernel sees the whole tensor at once;
 * otherwise the output is walked in blocks and each broadcast operand (a scalar,
 * an [n] against [B, n]) is copied into a block first, as the fused executor does.
 * Operand element of output element e: e mod size(operand), because an operand's
 * shape is a suffix of the output's.
 *
 *   output [B, n]:  e = 0 1 2 .. n-1 | n n+1 .. 2n-1 | ...
 *   operand [n]:        0 1 2 .. n-1 | 0 1   .. n-1  | ...
 *
 * In the VJP a broadcast operand's gradient is gathered in a zeroed block and
 * added back with the same wrap: the sum over the repeated axes.
 *
 * Transcendental ops (exp, tanh, ...) are in ops_nonlin.c.
 */
#include "ops.h"

#include <assert.h>
#include <string.h>
#include <tgmath.h>

bool ops_elementwise_shape(const Op *op, int n_in, const Shape *in, const OpAttr *attr, Shape *out,
                           Diags *d, Span at)
{
    int big = 0;
    for (int k = 1; k < n_in; k++)
        if (in[k].rank > in[big].rank)
            big = k;
    for (int k = 0; k < n_in; k++) {
        for (int j = 1; j <= in[k].rank; j++) {
            if (in[k].dim[in[k].rank - j] != in[big].dim[in[big].rank - j]) {
                char sa[96], sb[96];
                const Shape *first = k < big ? &in[k] : &in[big], *second = k < big ? &in[big] : &in[k];
                diag_error(d, at, "'%s' cannot combine %s and %s", op->name,
                           tensor_shape_fmt(first, sa, sizeof sa), tensor_shape_fmt(second, sb, sizeof sb));
                diag_hint(d, "a scalar or a vector [n] combines with [B, n]: the last dimensions must agree");
                return false;
            }
        }
    }
    *out = in[big];
    return true;
}

/* dst[j] = src[(e0 + j) mod size] for j < m */
static void gather_wrap(real *dst, const real *src, int64_t size, int64_t e0, int64_t m)
{
    if (size == 1) {
        for (int64_t j = 0; j < m; j++)
            dst[j] = src[0];
        return;
    }
    int64_t off = e0 % size;
    for (int64_t j = 0; j < m;) {
        int64_t run = m - j < size - off ? m - j : size - off;
        memcpy(dst + j, src + off, (size_t)run * sizeof(real));
        j += run;
        off = 0;
    }
}

/* dst[(e0 + j) mod size] += blk[j] for j < m */
static void scatter_add_wrap(real *dst, int64_t size, int64_t e0, const real *blk, int64_t m)
{
    if (size == 1) {
        real s = 0;
        for (int64_t j = 0; j < m; j++)
            s += blk[j];
        dst[0] += s;
        return;
    }
    int64_t off = e0 % size;
    for (int64_t j = 0; j < m;) {
        int64_t run = m - j < size - off ? m - j : size - off;
        for (int64_t i = 0; i < run; i++)
            dst[off + i] += blk[j + i];
        j += run;
        off = 0;
    }
}

typedef struct Operands {
    int n;
    const real *data[3];
    int64_t size[3];
    bool full;          /* every operand has the output's size */
} Operands;

static Operands operands(const OpCall *c)
{
    assert(c->n_in <= 3 && c->op->ew_fwd);
    Operands o = { .n = c->n_in, .full = true };
    for (int k = 0; k < c->n_in; k++) {
        o.data[k] = c->in[k]->data;
        o.size[k] = c->in[k]->size;
        assert(o.size[k] > 0 ? c->out->size % o.size[k] == 0 : c->out->size == 0);
        o.full &= o.size[k] == c->out->size;
    }
    return o;
}

/* Points blk[k] at operand k's elements [e0, e0 + m), copying broadcast ones to buf[k]. */
static void load_block(const Operands *o, int64_t n, int64_t e0, int64_t m,
                       real buf[][OPS_BLOCK], const real *blk[3])
{
    for (int k = 0; k < o->n; k++) {
        if (o->size[k] == n) {
            blk[k] = o->data[k] + e0;
        } else {
            gather_wrap(buf[k], o->data[k], o->size[k], e0, m);
            blk[k] = buf[k];
        }
    }
}

void ops_elementwise_fwd(const OpCall *c)
{
    const OpAttr *attr = ops_attr(c);
    Operands o = operands(c);
    int64_t n = c->out->size;
    real *y = c->out->data;
    if (o.full) {
        c->op->ew_fwd(n, y, o.data[0], o.data[1], o.data[2], attr);
        return;
    }
    real buf[3][OPS_BLOCK];
    for (int64_t e0 = 0; e0 < n; e0 += OPS_BLOCK) {
        int64_t m = n - e0 < OPS_BLOCK ? n - e0 : OPS_BLOCK;
        const real *blk[3] = { 0 };
        load_block(&o, n, e0, m, buf, blk);
        c->op->ew_fwd(m, y + e0, blk[0], blk[1], blk[2], attr);
    }
}

void ops_elementwise_vjp(const OpCall *c)
{
    const OpAttr *attr = ops_attr(c);
    Operands o = operands(c);
    int64_t n = c->out->size;
    real *g[3] = { 0 };
    bool any = false;
    for (int k = 0; k < o.n; k++) {
        if (c->gin[k] && !(c->op->no_grad & 1u << k)) {
            assert(c->gin[k]->size == o.size[k]);
            g[k] = c->gin[k]->data;
            any = true;
        }
    }
    if (!any)
        return;
    const real *gy = c->gy->data, *y = c->out->data;
    if (o.full) {
        c->op->ew_vjp(n, g[0], g[1], g[2], gy, o.data[0], o.data[1], o.data[2], y, attr);
        return;
    }
    real buf[3][OPS_BLOCK], gbuf[3][OPS_BLOCK];
    for (int64_t e0 = 0; e0 < n; e0 += OPS_BLOCK) {
        int64_t m = n - e0 < OPS_BLOCK ? n - e0 : OPS_BLOCK;
        const real *blk[3] = { 0 };
        real *gblk[3] = { 0 };
        load_block(&o, n, e0, m, buf, blk);
        for (int k = 0; k < o.n; k++) {
            if (!g[k])
                continue;
            if (o.size[k] == n) {
                gblk[k] = g[k] + e0;
            } else {
                memset(gbuf[k], 0, (size_t)m * sizeof(real));
                gblk[k] = gbuf[k];
            }
        }
        c->op->ew_vjp(m, gblk[0], gblk[1], gblk[2], gy + e0, blk[0], blk[1], blk[2], y + e0, attr);
        for (int k = 0; k < o.n; k++)
            if (g[k] && o.size[k] != n)
                scatter_add_wrap(g[k], o.size[k], e0, gbuf[k], m);
    }
}

/* ---- unary ---- */

/* y = -a                                   ga += -gy */
OPS_EW_FWD(neg_fwd)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = -a[i];
}
OPS_EW_VJP(neg_vjp)
{
    for (int64_t i = 0; i < n; i++)
        ga[i] -= gy[i];
}

/* y = |a|                                  ga += gy sign(a) */
OPS_EW_FWD(abs_fwd)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = fabs(a[i]);
}
OPS_EW_VJP(abs_vjp)
{
    for (int64_t i = 0; i < n; i++)
        ga[i] += a[i] > 0 ? gy[i] : a[i] < 0 ? -gy[i] : 0;
}

/* y = a^2                                  ga += 2 a gy */
OPS_EW_FWD(square_fwd)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = a[i] * a[i];
}
OPS_EW_VJP(square_vjp)
{
    for (int64_t i = 0; i < n; i++)
        ga[i] += 2 * a[i] * gy[i];
}

/* y = 1 / a                                ga += -gy y^2  (reuses y) */
OPS_EW_FWD(recip_fwd)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = 1 / a[i];
}
OPS_EW_VJP(recip_vjp)
{
    for (int64_t i = 0; i < n; i++)
        ga[i] -= gy[i] * y[i] * y[i];
}

/* y = alpha a                              ga += alpha gy */
OPS_EW_FWD(scale_fwd)
{
    real alpha = (real)attr->alpha;
    for (int64_t i = 0; i < n; i++)
        y[i] = alpha * a[i];
}
OPS_EW_VJP(scale_vjp)
{
    real alpha = (real)attr->alpha;
    for (int64_t i = 0; i < n; i++)
        ga[i] += alpha * gy[i];
}

/* y = a^p                                  ga += gy p a^(p-1) */
OPS_EW_FWD(pow_const_fwd)
{
    real p = (real)attr->p;
    for (int64_t i = 0; i < n; i++)
        y[i] = pow(a[i], p);
}
OPS_EW_VJP(pow_const_vjp)
{
    real p = (real)attr->p;
    for (int64_t i = 0; i < n; i++)
        ga[i] += gy[i] * p * pow(a[i], p - 1);
}

/* y = min(max(a, lo), hi)                  ga += gy where lo <= a <= hi */
OPS_EW_FWD(clip_fwd)
{
    real lo = (real)attr->lo, hi = (real)attr->hi;
    for (int64_t i = 0; i < n; i++)
        y[i] = a[i] < lo ? lo : a[i] > hi ? hi : a[i];
}
OPS_EW_VJP(clip_vjp)
{
    real lo = (real)attr->lo, hi = (real)attr->hi;
    for (int64_t i = 0; i < n; i++)
        ga[i] += a[i] >= lo && a[i] <= hi ? gy[i] : 0;
}

/* y = [a > 0]: Heaviside step, H(0) = 0 */
OPS_EW_FWD(step_fwd)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = a[i] > 0;
}

/* y = sign(a) in {-1, 0, 1}; NaN stays NaN */
OPS_EW_FWD(sign_fwd)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = a[i] > 0 ? 1 : a[i] < 0 ? -1 : a[i] == 0 ? 0 : a[i];
}

/* y = [a == 0] */
OPS_EW_FWD(not_fwd)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = a[i] == 0;
}

/* y = a                                    ga += gy  (copy; stop has no VJP) */
OPS_EW_FWD(copy_fwd)
{
    if (y != a)
        memcpy(y, a, (size_t)n * sizeof(real));
}
OPS_EW_VJP(copy_vjp)
{
    for (int64_t i = 0; i < n; i++)
        ga[i] += gy[i];
}

/* ---- binary ---- */

/* y = a + b                                ga += gy; gb += gy */
OPS_EW_FWD(add_fwd)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = a[i] + b[i];
}
OPS_EW_VJP(add_vjp)
{
    if (ga)
        for (int64_t i = 0; i < n; i++)
            ga[i] += gy[i];
    if (gb)
        for (int64_t i = 0; i < n; i++)
            gb[i] += gy[i];
}

/* y = a - b                                ga += gy; gb += -gy */
OPS_EW_FWD(sub_fwd)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = a[i] - b[i];
}
OPS_EW_VJP(sub_vjp)
{
    if (ga)
        for (int64_t i = 0; i < n; i++)
            ga[i] += gy[i];
    if (gb)
        for (int64_t i = 0; i < n; i++)
            gb[i] -= gy[i];
}

/* y = a b                                  ga += gy b; gb += gy a */
OPS_EW_FWD(mul_fwd)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = a[i] * b[i];
}
OPS_EW_VJP(mul_vjp)
{
    if (ga)
        for (int64_t i = 0; i < n; i++)
            ga[i] += gy[i] * b[i];
    if (gb)
        for (int64_t i = 0; i < n; i++)
            gb[i] += gy[i] * a[i];
}

/* y = a / b                                ga += gy / b; gb += -gy y / b  (reuses y) */
OPS_EW_FWD(div_fwd)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = a[i] / b[i];
}
OPS_EW_VJP(div_vjp)
{
    if (ga)
        for (int64_t i = 0; i < n; i++)
            ga[i] += gy[i] / b[i];
    if (gb)
        for (int64_t i = 0; i < n; i++)
            gb[i] -= gy[i] * y[i] / b[i];
}

/* y = a^b, a > 0                           ga += gy b a^(b-1); gb += gy y ln a */
OPS_EW_FWD(pow_fwd)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = pow(a[i], b[i]);
}
OPS_EW_VJP(pow_vjp)
{
    if (ga)
        for (int64_t i = 0; i < n; i++)
            ga[i] += gy[i] * b[i] * pow(a[i], b[i] - 1);
    if (gb)
        for (int64_t i = 0; i < n; i++)
            gb[i] += a[i] > 0 ? gy[i] * y[i] * log(a[i]) : 0;
}

/* y = min(a, b)                            the smaller gets gy; a on ties */
OPS_EW_FWD(min_fwd)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = b[i] < a[i] ? b[i] : a[i];
}
OPS_EW_VJP(min_vjp)
{
    if (ga)
        for (int64_t i = 0; i < n; i++)
            ga[i] += b[i] < a[i] ? 0 : gy[i];
    if (gb)
        for (int64_t i = 0; i < n; i++)
            gb[i] += b[i] < a[i] ? gy[i] : 0;
}

/* y = max(a, b)                            the larger gets gy; a on ties */
OPS_EW_FWD(max_fwd)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = b[i] > a[i] ? b[i] : a[i];
}
OPS_EW_VJP(max_vjp)
{
    if (ga)
        for (int64_t i = 0; i < n; i++)
            ga[i] += b[i] > a[i] ? 0 : gy[i];
    if (gb)
        for (int64_t i = 0; i < n; i++)
            gb[i] += b[i] > a[i] ? gy[i] : 0;
}

/* comparisons and logic: y = 1 or 0 */
OPS_EW_FWD(gt_fwd) { for (int64_t i = 0; i < n; i++) y[i] = a[i] > b[i]; }
OPS_EW_FWD(ge_fwd) { for (int64_t i = 0; i < n; i++) y[i] = a[i] >= b[i]; }
OPS_EW_FWD(lt_fwd) { for (int64_t i = 0; i < n; i++) y[i] = a[i] < b[i]; }
OPS_EW_FWD(le_fwd) { for (int64_t i = 0; i < n; i++) y[i] = a[i] <= b[i]; }
OPS_EW_FWD(eq_fwd) { for (int64_t i = 0; i < n; i++) y[i] = a[i] == b[i]; }
OPS_EW_FWD(ne_fwd) { for (int64_t i = 0; i < n; i++) y[i] = a[i] != b[i]; }
OPS_EW_FWD(and_fwd) { for (int64_t i = 0; i < n; i++) y[i] = a[i] != 0 && b[i] != 0; }
OPS_EW_FWD(or_fwd) { for (int64_t i = 0; i < n; i++) y[i] = a[i] != 0 || b[i] != 0; }

/* ---- ternary ---- */

/* where(cond, x, z): y = cond != 0 ? x : z   gx += gy [cond]; gz += gy [not cond]
 * (the kernel's a, b, c are cond, x, z; cond gets no gradient) */
OPS_EW_FWD(where_fwd)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = a[i] != 0 ? b[i] : c[i];
}
OPS_EW_VJP(where_vjp)
{
    if (gb)
        for (int64_t i = 0; i < n; i++)
            gb[i] += a[i] != 0 ? gy[i] : 0;
    if (gc)
        for (int64_t i = 0; i < n; i++)
            gc[i] += a[i] != 0 ? 0 : gy[i];
}

/* y = a b + c                              ga += gy b; gb += gy a; gc += gy */
OPS_EW_FWD(fma_fwd)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = a[i] * b[i] + c[i];
}
OPS_EW_VJP(fma_vjp)
{
    if (ga)
        for (int64_t i = 0; i < n; i++)
            ga[i] += gy[i] * b[i];
    if (gb)
        for (int64_t i = 0; i < n; i++)
            gb[i] += gy[i] * a[i];
    if (gc)
        for (int64_t i = 0; i < n; i++)
            gc[i] += gy[i];
}

static const char COMPARISON[] = "a comparison is piecewise constant: its gradient is zero";
static const char LOGIC[] = "a logical operation is piecewise constant: its gradient is zero";

const Op ops_elementwise_table[OP_COUNT] = {
    [OP_NEG] = { OPS_EW(neg_fwd, neg_vjp), .domain = { -2, 2 } },
    [OP_ABS] = { OPS_EW(abs_fwd, abs_vjp), .vjp_reads = OPS_READ_A, .domain = { -2, 2 } },
    [OP_SQUARE] = { OPS_EW(square_fwd, square_vjp), .vjp_reads = OPS_READ_A, .domain = { -2, 2 } },
    [OP_RECIP] = { OPS_EW(recip_fwd, recip_vjp), .vjp_reads = OPS_READ_Y, .domain = { 0.5, 2 } },
    [OP_SCALE] = { OPS_EW(scale_fwd, scale_vjp), .domain = { -2, 2 } },
    [OP_POW_CONST] = { OPS_EW(pow_const_fwd, pow_const_vjp),
                       .vjp_reads = OPS_READ_A, .domain = { 0.3, 2 } },
    [OP_CLIP] = { OPS_EW(clip_fwd, clip_vjp), .vjp_reads = OPS_READ_A, .domain = { -1, 1 } },
    [OP_STEP] = { OPS_EW_NONDIFF(step_fwd, "a step is piecewise constant: its gradient is zero"),
                  .domain = { -1, 1 } },
    [OP_SIGN] = { OPS_EW_NONDIFF(sign_fwd, "sign is piecewise constant: its gradient is zero"),
                  .domain = { -1, 1 } },
    [OP_NOT] = { OPS_EW_NONDIFF(not_fwd, LOGIC), .domain = { -1, 1 } },
    [OP_COPY] = { OPS_EW(copy_fwd, copy_vjp), .domain = { -2, 2 } },
    [OP_STOP] = { OPS_EW_NONDIFF(copy_fwd, "stop() blocks the gradient by design"),
                  .domain = { -2, 2 } },

    [OP_ADD] = { OPS_EW(add_fwd, add_vjp), .domain = { -2, 2 } },
    [OP_SUB] = { OPS_EW(sub_fwd, sub_vjp), .domain = { -2, 2 } },
    [OP_MUL] = { OPS_EW(mul_fwd, mul_vjp),
                 .vjp_reads = OPS_READ_A | OPS_READ_B, .domain = { -2, 2 } },
    [OP_DIV] = { OPS_EW(div_fwd, div_vjp),
                 .vjp_reads = OPS_READ_B | OPS_READ_Y, .domain = { 0.5, 2 } },
    [OP_POW] = { OPS_EW(pow_fwd, pow_vjp),
                 .vjp_reads = OPS_READ_A | OPS_READ_B | OPS_READ_Y, .domain = { 0.5, 2 } },
    [OP_MIN] = { OPS_EW(min_fwd, min_vjp),
                 .vjp_reads = OPS_READ_A | OPS_READ_B, .domain = { -2, 2 } },
    [OP_MAX] = { OPS_EW(max_fwd, max_vjp),
                 .vjp_reads = OPS_READ_A | OPS_READ_B, .domain = { -2, 2 } },
    [OP_GT] = { OPS_EW_NONDIFF(gt_fwd, COMPARISON), .domain = { -1, 1 } },
    [OP_GE] = { OPS_EW_NONDIFF(ge_fwd, COMPARISON), .domain = { -1, 1 } },
    [OP_LT] = { OPS_EW_NONDIFF(lt_fwd, COMPARISON), .domain = { -1, 1 } },
    [OP_LE] = { OPS_EW_NONDIFF(le_fwd, COMPARISON), .domain = { -1, 1 } },
    [OP_EQ] = { OPS_EW_NONDIFF(eq_fwd, COMPARISON), .domain = { -1, 1 } },
    [OP_NE] = { OPS_EW_NONDIFF(ne_fwd, COMPARISON), .domain = { -1, 1 } },
    [OP_AND] = { OPS_EW_NONDIFF(and_fwd, LOGIC), .domain = { -1, 1 } },
    [OP_OR] = { OPS_EW_NONDIFF(or_fwd, LOGIC), .domain = { -1, 1 } },

    [OP_WHERE] = { OPS_EW(where_fwd, where_vjp),
                   .no_grad = 1u << 0, .vjp_reads = OPS_READ_A, .domain = { -2, 2 } },
    [OP_FMA] = { OPS_EW(fma_fwd, fma_vjp),
                 .vjp_reads = OPS_READ_A | OPS_READ_B, .domain = { -2, 2 } },
};
