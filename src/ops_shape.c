/* ops_shape.c: ops that move elements without arithmetic.
 *
 * concat joins a cell's sources into its `in` (`population L2 = LSTM(64) from L, u`)
 * and the gates' affine inputs; slice takes them apart; select picks one time step
 * of a recording [T, B, n]; broadcast_to and reshape give a value the shape another
 * op expects. All work on the last axis or the first; the leading axes of a
 * [..., n] tensor are treated as rows:
 *
 *   concat([r, 2], [r, 3]) -> [r, 5]      row:  a0 a1 | b0 b1 b2
 *   slice([r, 5], 1, 4)    -> [r, 3]      row:  x0 [x1 x2 x3] x4
 */
#include "ops.h"

#include <string.h>

static int64_t last(const Shape *s) { return s->rank ? s->dim[s->rank - 1] : 1; }

/* ---- concat ---- */

static bool concat_shape(const Op *op, int n_in, const Shape *in, const OpAttr *attr, Shape *out,
                         Diags *d, Span at)
{
    *out = in[0];
    for (int k = 0; k < n_in; k++) {
        bool ok = in[k].rank >= 1 && in[k].rank == in[0].rank;
        for (int j = 0; ok && j < in[0].rank - 1; j++)
            ok = in[k].dim[j] == in[0].dim[j];
        if (!ok) {
            char sa[96], sb[96];
            diag_error(d, at, "cannot concatenate %s and %s: all but the last dimension must agree",
                       tensor_shape_fmt(&in[0], sa, sizeof sa), tensor_shape_fmt(&in[k], sb, sizeof sb));
            return false;
        }
        if (k)
            out->dim[out->rank - 1] += in[k].dim[in[k].rank - 1];
    }
    return true;
}

/* y[r, off_k + j] = a_k[r, j] */
static void concat_fwd(const OpCall *c)
{
    int64_t width = c->out->dim[c->out->rank - 1], rows = width ? c->out->size / width : 0;
    for (int64_t r = 0; r < rows; r++) {
        real *y = c->out->data + r * width;
        for (int k = 0; k < c->n_in; k++) {
            int64_t n = c->in[k]->dim[c->in[k]->rank - 1];
            memcpy(y, c->in[k]->data + r * n, (size_t)n * sizeof(real));
            y += n;
        }
    }
}

/* ga_k[r, j] += gy[r, off_k + j] */
static void concat_vjp(const OpCall *c)
{
    int64_t width = c->out->dim[c->out->rank - 1], rows = width ? c->out->size / width : 0;
    for (int64_t r = 0; r < rows; r++) {
        const real *gy = c->gy->data + r * width;
        for (int k = 0; k < c->n_in; k++) {
            int64_t n = c->in[k]->dim[c->in[k]->rank - 1];
            if (c->gin[k]) {
                real *ga = c->gin[k]->data + r * n;
                for (int64_t j = 0; j < n; j++)
                    ga[j] += gy[j];
            }
            gy += n;
        }
    }
}

/* ---- slice ---- */

static bool slice_shape(const Op *op, int n_in, const Shape *in, const OpAttr *attr, Shape *out,
                        Diags *d, Span at)
{
    if (in[0].rank < 1 || attr->start < 0 || attr->start > attr->stop || attr->stop > last(&in[0])) {
        char s[96];
        diag_error(d, at, "slice [%lld, %lld) is out of range for %s", (long long)attr->start,
                   (long long)attr->stop, tensor_shape_fmt(&in[0], s, sizeof s));
        return false;
    }
    *out = in[0];
    out->dim[out->rank - 1] = attr->stop - attr->start;
    return true;
}

/* y[r, j] = a[r, start + j] */
static void slice_fwd(const OpCall *c)
{
    const OpAttr *attr = ops_attr(c);
    int64_t n = c->in[0]->dim[c->in[0]->rank - 1], w = attr->stop - attr->start;
    int64_t rows = n ? c->in[0]->size / n : 0;
    for (int64_t r = 0; r < rows; r++)
        memcpy(c->out->data + r * w, c->in[0]->data + r * n + attr->start, (size_t)w * sizeof(real));
}

/* ga[r, start + j] += gy[r, j] */
static void slice_vjp(const OpCall *c)
{
    if (!c->gin[0])
        return;
    const OpAttr *attr = ops_attr(c);
    int64_t n = c->in[0]->dim[c->in[0]->rank - 1], w = attr->stop - attr->start;
    int64_t rows = n ? c->in[0]->size / n : 0;
    for (int64_t r = 0; r < rows; r++) {
        real *ga = c->gin[0]->data + r * n + attr->start;
        const real *gy = c->gy->data + r * w;
        for (int64_t j = 0; j < w; j++)
            ga[j] += gy[j];
    }
}

/* ---- select: one index of the first axis ---- */

static bool select_shape(const Op *op, int n_in, const Shape *in, const OpAttr *attr, Shape *out,
                         Diags *d, Span at)
{
    if (in[0].rank < 1 || attr->start < 0 || attr->start >= in[0].dim[0]) {
        char s[96];
        diag_error(d, at, "index %lld is out of range for %s", (long long)attr->start,
                   tensor_shape_fmt(&in[0], s, sizeof s));
        return false;
    }
    *out = tensor_shape_make(in[0].rank - 1, in[0].dim + 1);
    return true;
}

/* y = a[start] */
static void select_fwd(const OpCall *c)
{
    int64_t n = c->out->size;
    memcpy(c->out->data, c->in[0]->data + ops_attr(c)->start * n, (size_t)n * sizeof(real));
}

/* ga[start] += gy */
static void select_vjp(const OpCall *c)
{
    if (!c->gin[0])
        return;
    int64_t n = c->out->size;
    real *ga = c->gin[0]->data + ops_attr(c)->start * n;
    for (int64_t i = 0; i < n; i++)
        ga[i] += c->gy->data[i];
}

/* ---- broadcast_to: repeat along new leading axes ---- */

static bool broadcast_shape(const Op *op, int n_in, const Shape *in, const OpAttr *attr, Shape *out,
                            Diags *d, Span at)
{
    const Shape *to = &attr->shape;
    bool ok = in[0].rank <= to->rank;
    for (int j = 1; ok && j <= in[0].rank; j++)
        ok = in[0].dim[in[0].rank - j] == to->dim[to->rank - j];
    if (!ok) {
        char sa[96], sb[96];
        diag_error(d, at, "cannot broadcast %s to %s", tensor_shape_fmt(&in[0], sa, sizeof sa),
                   tensor_shape_fmt(to, sb, sizeof sb));
        diag_hint(d, "a value repeats along new leading axes: its shape must end the target's");
        return false;
    }
    *out = *to;
    return true;
}

/* y[e] = a[e mod size(a)] */
static void broadcast_fwd(const OpCall *c)
{
    int64_t n = c->out->size, size = c->in[0]->size;
    for (int64_t e0 = 0; e0 < n; e0 += size)
        memcpy(c->out->data + e0, c->in[0]->data, (size_t)size * sizeof(real));
}

/* ga[e mod size(a)] += gy[e] */
static void broadcast_vjp(const OpCall *c)
{
    if (!c->gin[0])
        return;
    int64_t n = c->out->size, size = c->in[0]->size;
    for (int64_t e0 = 0; e0 < n; e0 += size)
        for (int64_t i = 0; i < size; i++)
            c->gin[0]->data[i] += c->gy->data[e0 + i];
}

/* ---- reshape ---- */

static bool reshape_shape(const Op *op, int n_in, const Shape *in, const OpAttr *attr, Shape *out,
                          Diags *d, Span at)
{
    int64_t na = tensor_shape_size(&in[0]), nb = tensor_shape_size(&attr->shape);
    if (na != nb) {
        char sa[96], sb[96];
        diag_error(d, at, "cannot reshape %s (%lld elements) to %s (%lld elements)",
                   tensor_shape_fmt(&in[0], sa, sizeof sa), (long long)na,
                   tensor_shape_fmt(&attr->shape, sb, sizeof sb), (long long)nb);
        return false;
    }
    *out = attr->shape;
    return true;
}

/* y = a, same elements in the same order */
static void reshape_fwd(const OpCall *c) { tensor_copy(c->out, c->in[0]); }

/* ga += gy */
static void reshape_vjp(const OpCall *c)
{
    if (!c->gin[0])
        return;
    for (int64_t i = 0; i < c->out->size; i++)
        c->gin[0]->data[i] += c->gy->data[i];
}

const Op ops_shape_table[OP_COUNT] = {
    [OP_CONCAT] = { .shape = concat_shape, .fwd = concat_fwd, .vjp = concat_vjp,
                    .domain = { -2, 2 } },
    [OP_SLICE] = { .shape = slice_shape, .fwd = slice_fwd, .vjp = slice_vjp, .domain = { -2, 2 } },
    [OP_SELECT] = { .shape = select_shape, .fwd = select_fwd, .vjp = select_vjp,
                    .domain = { -2, 2 } },
    [OP_BROADCAST] = { .shape = broadcast_shape, .fwd = broadcast_fwd, .vjp = broadcast_vjp,
                       .domain = { -2, 2 } },
    [OP_RESHAPE] = { .shape = reshape_shape, .fwd = reshape_fwd, .vjp = reshape_vjp,
                     .domain = { -2, 2 } },
};
