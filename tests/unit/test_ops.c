/* test_ops.c: walks the whole op table (STYLE.md section 6).
 *
 * For every op:
 *   - the entry is complete: a shape rule and a forward pass, and a VJP or a
 *     reason in .nondiff (an op with neither fails here);
 *   - forward values match a direct computation in double (libm, plain loops) on
 *     every test case, including broadcast operands, and fwd overwrites its output;
 *   - (double build) the VJP matches central differences of L = sum(r * y) for a
 *     fixed random r, relative error below 1e-6, at batch 1 and 3, for scalar,
 *     [n] and [B, n] operands; gradients accumulate (+=) into prefilled buffers,
 *     inputs that take no gradient are left alone, and nothing allocates.
 * Planted faults (a tanh VJP without the square, a mul VJP that assigns instead of
 * adding) must be reported by the same checker, or the test fails: a checker that
 * cannot fail proves nothing. Losses are also checked against values worked out
 * by hand, and the broadcasting wrappers against the bare kernels.
 */
#include "check.h"
#include "ops.h"
#include "tensor.h"
#include "xalloc.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>

/* ---- a small deterministic generator (splitmix64) ---- */

static uint64_t rng_state = 0x243F6A8885A308D3ull;

static uint64_t next_u64(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double uniform(double lo, double hi) { return lo + (hi - lo) * (double)(next_u64() >> 11) * 0x1p-53; }

/* ---- cases: input shapes and attributes for each op ---- */

typedef struct Case {
    int n_in;
    Shape in[OP_MAX_IN];
    OpAttr attr;
} Case;

static Shape S0(void) { return tensor_shape_make(0, NULL); }
static Shape S1(int64_t a) { return tensor_shape_make(1, (int64_t[]){ a }); }
static Shape S2(int64_t a, int64_t b) { return tensor_shape_make(2, (int64_t[]){ a, b }); }
static Shape S3(int64_t a, int64_t b, int64_t c) { return tensor_shape_make(3, (int64_t[]){ a, b, c }); }

static Case case1(Shape a) { return (Case){ .n_in = 1, .in = { a } }; }
static Case case2(Shape a, Shape b) { return (Case){ .n_in = 2, .in = { a, b } }; }
static Case case3(Shape a, Shape b, Shape c) { return (Case){ .n_in = 3, .in = { a, b, c } }; }

/* A 4 x 5 pattern with an empty row:  row 0: 0 3   row 1: -   row 2: 1 2 4   row 3: 0 */
static const int64_t csr_rows[] = { 0, 2, 2, 5, 6 };
static const int32_t csr_cols[] = { 0, 3, 1, 2, 4, 0 };
static const Csr csr = { .rows = 4, .cols = 5, .nnz = 6, .row_ptr = csr_rows, .col_idx = csr_cols };

static bool is_loss(OpKind k)
{
    return k == OP_MSE || k == OP_CROSS_ENTROPY || k == OP_NLL || k == OP_BCE;
}

enum { MAX_CASES = 16 };

/* Fills cs[] (MAX_CASES) with the cases of op at batch size B; returns how many
 * (0: none known). */
static int cases_for(const Op *op, int64_t B, Case *cs)
{
    int n = 0;
    if (op->ew_fwd) {
        Shape full = S2(B, 5), vec = S1(5), sc = S0();
        if (op->arity == 1) {
            cs[n++] = case1(full);
            cs[n++] = case1(sc);
            cs[n++] = case1(S3(2, B, 3));
        } else if (op->arity == 2) {
            cs[n++] = case2(full, full);
            cs[n++] = case2(sc, full);
            cs[n++] = case2(full, vec);
            cs[n++] = case2(vec, full);
            cs[n++] = case2(full, sc);
            cs[n++] = case2(S3(2, B, 3), S2(B, 3));
        } else {
            cs[n++] = case3(full, full, full);
            cs[n++] = case3(full, vec, sc);
            cs[n++] = case3(sc, full, vec);
            cs[n++] = case3(vec, full, full);
        }
        for (int k = 0; k < n; k++)
            cs[k].attr = (OpAttr){ .alpha = 1.7, .p = 2.5, .lo = -0.5, .hi = 0.5 };
        return n;
    }
    switch (op->kind) {
    case OP_LINEAR:
        /* B = 1 (and [4]) is one row: ?gemv forward, ?gemv and ?ger backward. */
        cs[n++] = case2(S2(B, 4), S2(3, 4));
        cs[n++] = case2(S3(2, B, 4), S2(3, 4));
        /* c + x W^T: a sum folded into the GEMM (fold.h) */
        cs[n++] = case3(S2(B, 4), S2(3, 4), S2(B, 3));
        cs[n++] = case2(S2(B, 4), S2(1, 4));   /* one output: ?gemv and ?ger */
        cs[n++] = case3(S2(B, 4), S2(1, 4), S2(B, 1));
        cs[n] = case3(S2(B, 4), S2(3, 4), S2(B, 2));   /* c onto columns [1, 3) only */
        cs[n++].attr = (OpAttr){ .start = 1, .stop = 3 };
        cs[n] = case3(S2(B, 4), S2(3, 4), S2(B, 3));   /* columns [0, 2) of a c as wide as y */
        cs[n++].attr = (OpAttr){ .start = 0, .stop = 2 };
        /* The cases above have 4 inputs, which the written-out narrow product
         * takes (ops_matmul.c); with 6, the product is a GEMM again. */
        cs[n++] = case2(S3(2, B, 6), S2(3, 6));
        cs[n] = case3(S2(B, 6), S2(3, 6), S2(B, 2));
        cs[n++].attr = (OpAttr){ .start = 1, .stop = 3 };
        cs[n++] = case2(S2(B, 1), S2(5, 1));   /* a single input */
        if (B == 1) {
            cs[n++] = case2(S1(4), S2(3, 4));
            cs[n++] = case3(S1(4), S2(3, 4), S1(3));
        }
        break;
    case OP_MATMUL:
        cs[n++] = case2(S2(B, 4), S2(4, 3));
        cs[n++] = case2(S1(4), S2(4, 3));
        cs[n++] = case2(S2(3, 4), S1(4));
        cs[n++] = case2(S1(4), S1(4));
        break;
    case OP_OUTER:
        cs[n++] = case2(S2(B, 3), S2(B, 4));
        cs[n++] = case2(S3(2, B, 3), S3(2, B, 4));
        if (B == 1)
            cs[n++] = case2(S1(3), S1(4));
        break;
    case OP_TRANSPOSE:
        cs[n++] = case1(S2(B, 4));
        break;
    case OP_CSR_LINEAR:
        cs[n++] = case2(S2(B, 5), S1(csr.nnz));
        cs[n++] = case2(S3(2, B, 5), S1(csr.nnz));
        for (int k = 0; k < n; k++)
            cs[k].attr.csr = &csr;
        break;
    case OP_SUM:
    case OP_MEAN:
    case OP_L1:
    case OP_L2:
    case OP_MAX_ALL:
    case OP_MIN_ALL:
    case OP_SUM_LAST:
    case OP_MEAN_LAST:
    case OP_SOFTMAX:
    case OP_LOG_SOFTMAX:
        cs[n++] = case1(S2(B, 5));
        cs[n++] = case1(S3(2, B, 3));
        break;
    case OP_SUM_BATCH:
        cs[n++] = case1(S2(B, 5));
        cs[n++] = case1(S1(B));
        cs[n++] = case1(S3(B, 2, 3));
        break;
    case OP_CONCAT:
        cs[n] = case3(S2(B, 2), S2(B, 3), S2(B, 1));
        cs[n].in[3] = S2(B, 2);
        cs[n++].n_in = 4;
        cs[n++] = case1(S2(B, 4));
        cs[n++] = case2(S3(2, B, 1), S3(2, B, 2));
        break;
    case OP_SLICE:
        cs[n] = case1(S2(B, 6));
        cs[n++].attr = (OpAttr){ .start = 1, .stop = 4 };
        cs[n] = case1(S2(B, 6));
        cs[n++].attr = (OpAttr){ .start = 0, .stop = 6 };
        cs[n] = case1(S3(2, B, 5));
        cs[n++].attr = (OpAttr){ .start = 4, .stop = 5 };
        break;
    case OP_SELECT:
        cs[n] = case1(S3(3, B, 4));
        cs[n++].attr = (OpAttr){ .start = 1 };
        cs[n] = case1(S2(3, 4));
        cs[n++].attr = (OpAttr){ .start = 2 };
        break;
    case OP_BROADCAST:
        cs[n] = case1(S1(4));
        cs[n++].attr = (OpAttr){ .shape = S2(B, 4) };
        cs[n] = case1(S0());
        cs[n++].attr = (OpAttr){ .shape = S2(B, 4) };
        cs[n] = case1(S2(B, 4));
        cs[n++].attr = (OpAttr){ .shape = S3(2, B, 4) };
        break;
    case OP_RESHAPE:
        cs[n] = case1(S2(B, 6));
        cs[n++].attr = (OpAttr){ .shape = S3(B, 2, 3) };
        cs[n] = case1(S2(B, 6));
        cs[n++].attr = (OpAttr){ .shape = S1(6 * B) };
        break;
    case OP_MSE:
    case OP_BCE:
        cs[n++] = case2(S2(B, 4), S2(B, 4));
        cs[n++] = case3(S2(B, 4), S2(B, 4), S1(B));
        cs[n++] = case3(S2(B, 4), S2(B, 4), S2(B, 4));
        cs[n++] = case3(S3(2, B, 3), S3(2, B, 3), S2(2, B));
        break;
    case OP_CROSS_ENTROPY:
    case OP_NLL:
        cs[n++] = case2(S2(B, 5), S2(B, 5));
        cs[n++] = case3(S2(B, 5), S2(B, 5), S1(B));
        cs[n++] = case2(S3(2, B, 3), S3(2, B, 3));
        break;
    default:
        break;
    }
    assert(n <= MAX_CASES);
    return n;
}

static const char *case_str(const Case *cs, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = 0;
    for (int k = 0; k < cs->n_in && used < n; k++) {
        char s[64];
        tensor_shape_fmt(&cs->in[k], s, sizeof s);
        used += (size_t)snprintf(buf + used, n - used, k ? ", %s" : "%s", s);
    }
    return buf;
}

/* ---- inputs ---- */

static void fill_input(const Op *op, const Case *cs, int k, Tensor *t)
{
    double lo = op->domain.lo, hi = op->domain.hi;
    int64_t cols = t->rank ? t->dim[t->rank - 1] : 1;
    for (int64_t e = 0; e < t->size; e++)
        t->data[e] = (real)uniform(lo, hi);
    if (op->nondiff)   /* quantised, so ties, zeros and equalities occur */
        for (int64_t e = 0; e < t->size; e++)
            t->data[e] = (real)(floor(uniform(-2, 3)) / 2);
    if (op->kind == OP_WHERE && k == 0)
        for (int64_t e = 0; e < t->size; e++)
            t->data[e] = next_u64() & 1;
    if ((op->kind == OP_CROSS_ENTROPY || op->kind == OP_NLL) && k == 1) {
        for (int64_t r = 0; r < t->size / cols; r++) {   /* rows of probabilities */
            double s = 0;
            for (int64_t j = 0; j < cols; j++)
                s += t->data[r * cols + j] = (real)uniform(0.05, 1);
            for (int64_t j = 0; j < cols; j++)
                t->data[r * cols + j] = (real)(t->data[r * cols + j] / s);
        }
    }
    if (op->kind == OP_BCE && k == 1)
        for (int64_t e = 0; e < t->size; e++)
            t->data[e] = (real)uniform(0, 1);
    if (is_loss(op->kind) && k == 2) {
        for (int64_t e = 0; e < t->size; e++)
            t->data[e] = next_u64() & 1;
        t->data[0] = 1;
    }
}

/* ---- forward references, in double ---- */

/* The elementwise ops, one element at a time. *known = false for an op this
 * function does not know (which fails the test). */
static double ref_ew(OpKind kind, double a, double b, double c, const OpAttr *at, bool *known)
{
    *known = true;
    switch (kind) {
    case OP_NEG: return -a;
    case OP_ABS: return fabs(a);
    case OP_SQUARE: return a * a;
    case OP_RECIP: return 1 / a;
    case OP_SCALE: return at->alpha * a;
    case OP_POW_CONST: return pow(a, at->p);
    case OP_CLIP: return a < at->lo ? at->lo : a > at->hi ? at->hi : a;
    case OP_STEP: return a > 0;
    case OP_SIGN: return (a > 0) - (a < 0);
    case OP_NOT: return a == 0;
    case OP_COPY: return a;
    case OP_STOP: return a;
    case OP_EXP: return exp(a);
    case OP_LOG: return log(a);
    case OP_TANH: return tanh(a);
    case OP_SIGMOID: return 1 / (1 + exp(-a));
    case OP_RELU: return a > 0 ? a : 0;
    case OP_SOFTPLUS: return log(1 + exp(a));
    case OP_SQRT: return sqrt(a);
    case OP_SIN: return sin(a);
    case OP_COS: return cos(a);
    case OP_ADD: return a + b;
    case OP_SUB: return a - b;
    case OP_MUL: return a * b;
    case OP_DIV: return a / b;
    case OP_POW: return pow(a, b);
    case OP_MIN: return a < b ? a : b;
    case OP_MAX: return a > b ? a : b;
    case OP_GT: return a > b;
    case OP_GE: return a >= b;
    case OP_LT: return a < b;
    case OP_LE: return a <= b;
    case OP_EQ: return a == b;
    case OP_NE: return a != b;
    case OP_AND: return a != 0 && b != 0;
    case OP_OR: return a != 0 || b != 0;
    case OP_WHERE: return a != 0 ? b : c;
    case OP_FMA: return a * b + c;
    default: *known = false; return 0;
    }
}

static int64_t lastd(const Tensor *t) { return t->rank ? t->dim[t->rank - 1] : 1; }
static double at(const Tensor *t, int64_t e) { return t->data[e]; }

/* Loss of rows of k with weights: the definitions in ops.h written out plainly. */
static double ref_loss(OpKind kind, Tensor *const *in, int n_in)
{
    const Tensor *y = in[0], *t = in[1], *m = n_in == 3 ? in[2] : NULL;
    int64_t k = lastd(y), rows = y->size / k;
    double num = 0, den = 0;
    for (int64_t r = 0; r < rows; r++) {
        if (kind == OP_CROSS_ENTROPY || kind == OP_NLL) {
            double w = m ? at(m, r) : 1, l = 0, lse = 0;
            for (int64_t j = 0; j < k; j++)
                lse += exp(at(y, r * k + j));
            for (int64_t j = 0; j < k; j++)
                l -= at(t, r * k + j) * (kind == OP_NLL ? at(y, r * k + j) : at(y, r * k + j) - log(lse));
            num += w * l;
            den += w;
            continue;
        }
        for (int64_t j = 0; j < k; j++) {
            int64_t e = r * k + j;
            double w = !m ? 1 : m->size == y->size ? at(m, e) : at(m, r), x = at(y, e), tt = at(t, e);
            double l = kind == OP_MSE ? (x - tt) * (x - tt) : log(1 + exp(x)) - x * tt;
            num += w * l;
            den += w;
        }
    }
    return den ? num / den : 0;
}

/* Fills want with op's output on in; false if the op has no reference here. */
static bool ref_forward(const Op *op, const Case *cs, Tensor *const *in, Tensor *want)
{
    const Tensor *a = in[0], *b = cs->n_in > 1 ? in[1] : NULL;
    real *w = want->data;
    if (op->ew_fwd) {
        for (int64_t e = 0; e < want->size; e++) {
            double v[3] = { 0, 0, 0 };
            for (int k = 0; k < cs->n_in; k++)
                v[k] = at(in[k], e % in[k]->size);
            bool known;
            w[e] = (real)ref_ew(op->kind, v[0], v[1], v[2], &cs->attr, &known);
            if (!known)
                return false;
        }
        return true;
    }
    int64_t n = lastd(a);
    switch (op->kind) {
    case OP_LINEAR: {
        int64_t m = b->dim[0], rows = a->size / n;
        for (int64_t r = 0; r < rows; r++)
            for (int64_t i = 0; i < m; i++) {
                double s = 0;
                for (int64_t j = 0; j < n; j++)
                    s += at(a, r * n + j) * at(b, i * n + j);
                int64_t lo = cs->attr.stop > 0 ? cs->attr.start : 0, hi = cs->attr.stop > 0 ? cs->attr.stop : m;
                int64_t cw = cs->n_in == 3 ? lastd(in[2]) : m, c0 = cw == m ? lo : 0;
                if (cs->n_in == 3 && i >= lo && i < hi)
                    s += at(in[2], r * cw + c0 + i - lo);
                w[r * m + i] = (real)s;
            }
        return true;
    }
    case OP_MATMUL: {
        int64_t p = a->rank == 2 ? a->dim[0] : 1, q = n, r = b->rank == 2 ? b->dim[1] : 1;
        for (int64_t i = 0; i < p; i++)
            for (int64_t k = 0; k < r; k++) {
                double s = 0;
                for (int64_t j = 0; j < q; j++)
                    s += at(a, i * q + j) * at(b, j * r + k);
                w[i * r + k] = (real)s;
            }
        return true;
    }
    case OP_OUTER: {
        int64_t m = n, nb = lastd(b), rows = a->size / m;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < nb; j++) {
                double s = 0;
                for (int64_t r = 0; r < rows; r++)
                    s += at(a, r * m + i) * at(b, r * nb + j);
                w[i * nb + j] = (real)s;
            }
        return true;
    }
    case OP_TRANSPOSE:
        for (int64_t i = 0; i < a->dim[0]; i++)
            for (int64_t j = 0; j < a->dim[1]; j++)
                w[j * a->dim[0] + i] = a->data[i * a->dim[1] + j];
        return true;
    case OP_CSR_LINEAR: {
        const Csr *p = cs->attr.csr;
        int64_t rows = a->size / p->cols;
        for (int64_t r = 0; r < rows; r++)
            for (int64_t i = 0; i < p->rows; i++) {
                double s = 0;
                for (int64_t k = p->row_ptr[i]; k < p->row_ptr[i + 1]; k++)
                    s += at(b, k) * at(a, r * p->cols + p->col_idx[k]);
                w[r * p->rows + i] = (real)s;
            }
        return true;
    }
    case OP_SUM:
    case OP_MEAN:
    case OP_L1:
    case OP_L2: {
        double s = 0;
        for (int64_t e = 0; e < a->size; e++)
            s += op->kind == OP_L1 ? fabs(at(a, e)) : op->kind == OP_L2 ? at(a, e) * at(a, e) : at(a, e);
        w[0] = (real)(op->kind == OP_MEAN ? s / (double)a->size : s);
        return true;
    }
    case OP_MAX_ALL:
    case OP_MIN_ALL: {
        double best = at(a, 0);
        for (int64_t e = 1; e < a->size; e++)
            best = op->kind == OP_MAX_ALL ? fmax(best, at(a, e)) : fmin(best, at(a, e));
        w[0] = (real)best;
        return true;
    }
    case OP_SUM_BATCH:
        for (int64_t i = 0; i < want->size; i++) {
            double s = 0;
            for (int64_t r = 0; r < a->dim[0]; r++)
                s += at(a, r * want->size + i);
            w[i] = (real)s;
        }
        return true;
    case OP_SUM_LAST:
    case OP_MEAN_LAST:
        for (int64_t r = 0; r < want->size; r++) {
            double s = 0;
            for (int64_t j = 0; j < n; j++)
                s += at(a, r * n + j);
            w[r] = (real)(op->kind == OP_MEAN_LAST ? s / (double)n : s);
        }
        return true;
    case OP_CONCAT: {
        int64_t width = lastd(want), rows = want->size / width;
        for (int64_t r = 0; r < rows; r++) {
            int64_t off = 0;
            for (int k = 0; k < cs->n_in; k++) {
                int64_t nk = lastd(in[k]);
                for (int64_t j = 0; j < nk; j++)
                    w[r * width + off + j] = in[k]->data[r * nk + j];
                off += nk;
            }
        }
        return true;
    }
    case OP_SLICE: {
        int64_t width = cs->attr.stop - cs->attr.start, rows = a->size / n;
        for (int64_t r = 0; r < rows; r++)
            for (int64_t j = 0; j < width; j++)
                w[r * width + j] = a->data[r * n + cs->attr.start + j];
        return true;
    }
    case OP_SELECT:
        for (int64_t e = 0; e < want->size; e++)
            w[e] = a->data[cs->attr.start * want->size + e];
        return true;
    case OP_BROADCAST:
        for (int64_t e = 0; e < want->size; e++)
            w[e] = a->data[e % a->size];
        return true;
    case OP_RESHAPE:
        for (int64_t e = 0; e < want->size; e++)
            w[e] = a->data[e];
        return true;
    case OP_SOFTMAX:
    case OP_LOG_SOFTMAX:
        for (int64_t r = 0; r < a->size / n; r++) {
            double s = 0;
            for (int64_t j = 0; j < n; j++)
                s += exp(at(a, r * n + j));
            for (int64_t j = 0; j < n; j++) {
                double x = at(a, r * n + j);
                w[r * n + j] = (real)(op->kind == OP_SOFTMAX ? exp(x) / s : x - log(s));
            }
        }
        return true;
    case OP_MSE:
    case OP_CROSS_ENTROPY:
    case OP_NLL:
    case OP_BCE:
        w[0] = (real)ref_loss(op->kind, in, cs->n_in);
        return true;
    default:
        return false;
    }
}

/* ---- running one case ---- */

typedef struct Run {
    Tensor *in[OP_MAX_IN];
    Tensor *y;
    OpCall call;
} Run;

/* Builds inputs and output for a case and runs the forward pass. */
static bool run_new(Run *run, const Op *op, const Case *cs)
{
    Diags d;
    diags_init(&d);
    Shape ys;
    memset(run, 0, sizeof *run);
    bool ok = ops_shape(op, cs->n_in, cs->in, &cs->attr, &ys, &d, span_none());
    if (!ok) {
        char buf[160];
        fprintf(stderr, "%s: shape rule rejected its own test case (%s): %s\n", op->name,
                case_str(cs, buf, sizeof buf), d.n ? d.v[0].msg : "?");
        diags_fini(&d);
        return false;
    }
    run->call = (OpCall){ .op = op, .attr = &cs->attr, .n_in = cs->n_in };
    for (int k = 0; k < cs->n_in; k++) {
        run->in[k] = tensor_new_shape("in", &cs->in[k], &d, span_none());
        fill_input(op, cs, k, run->in[k]);
        run->call.in[k] = run->in[k];
    }
    run->y = tensor_new_shape("y", &ys, &d, span_none());
    for (int64_t e = 0; e < run->y->size; e++)
        run->y->data[e] = NAN;   /* fwd must overwrite */
    run->call.out = run->y;
    unsigned long before = xalloc_count;
    ops_fwd(&run->call);
    CHECK(xalloc_count == before);
    diags_fini(&d);
    return true;
}

static void run_free(Run *run)
{
    for (int k = 0; k < OP_MAX_IN; k++)
        tensor_free(run->in[k]);
    tensor_free(run->y);
}

static double tol_fwd(void) { return sizeof(real) == sizeof(double) ? 1e-12 : 2e-6; }

static void check_forward(const Op *op, const Case *cs)
{
    Run run;
    if (!CHECK(run_new(&run, op, cs)))
        return;
    Tensor *want = tensor_clone(run.y, NULL, span_none());
    bool known = ref_forward(op, cs, run.in, want);
    if (!known)
        fprintf(stderr, "%s: no forward reference in test_ops.c\n", op->name);
    CHECK(known);
    int bad = 0;
    for (int64_t e = 0; known && e < want->size; e++) {
        double a = run.y->data[e], w = want->data[e];
        if (!(fabs(a - w) <= tol_fwd() * fmax(1, fabs(w))) && bad++ < 3) {
            char buf[160];
            fprintf(stderr, "%s (%s): element %lld is %.10g, expected %.10g\n", op->name,
                    case_str(cs, buf, sizeof buf), (long long)e, a, w);
        }
    }
    CHECK_INT(bad, 0);
    tensor_free(want);
    run_free(&run);
}

#ifndef CAJAL_FLOAT
static double loss_of(const Run *run, const Tensor *r)
{
    double s = 0;
    for (int64_t e = 0; e < r->size; e++)
        s += (double)r->data[e] * run->y->data[e];
    return s;
}

/* The largest relative error between op's VJP and central differences of
 * L = sum(r * y) over every input that takes a gradient, for one case. Also
 * checks accumulation, untouched no-gradient inputs and no allocation. */
static double grad_error(const Op *op, const Case *cs)
{
    Run run;
    if (!run_new(&run, op, cs))
        return INFINITY;
    Tensor *r = tensor_clone(run.y, NULL, span_none());
    for (int64_t e = 0; e < r->size; e++)
        r->data[e] = (real)uniform(-1, 1);
    Tensor *g[OP_MAX_IN] = { 0 }, *g0[OP_MAX_IN] = { 0 };
    for (int k = 0; k < cs->n_in; k++) {
        g[k] = tensor_clone(run.in[k], NULL, span_none());
        for (int64_t e = 0; e < g[k]->size; e++)
            g[k]->data[e] = (real)uniform(-1, 1);
        g0[k] = tensor_clone(g[k], NULL, span_none());
        run.call.gin[k] = g[k];
    }
    run.call.gy = r;
    unsigned long before = xalloc_count;
    ops_vjp(&run.call);
    double worst = xalloc_count == before ? 0 : INFINITY;

    for (int k = 0; k < cs->n_in; k++) {
        Tensor *x = run.in[k];
        if (op->no_grad & 1u << k) {
            if (memcmp(g[k]->data, g0[k]->data, (size_t)g[k]->size * sizeof(real)) != 0)
                worst = INFINITY;
            continue;
        }
        for (int64_t e = 0; e < x->size; e++) {
            double an = g[k]->data[e] - g0[k]->data[e];
            double x0 = x->data[e], h = 1e-5 * fmax(1, fabs(x0));
            double xp = x0 + h, xm = x0 - h;
            x->data[e] = xp;
            ops_fwd(&run.call);
            double lp = loss_of(&run, r);
            x->data[e] = xm;
            ops_fwd(&run.call);
            double lm = loss_of(&run, r);
            x->data[e] = x0;
            double fd = (lp - lm) / (xp - xm);
            double err = fabs(an - fd) / fmax(1e-3, fmax(fabs(an), fabs(fd)));
            if (!(err <= worst))
                worst = err;
        }
    }
    for (int k = 0; k < cs->n_in; k++) {
        tensor_free(g[k]);
        tensor_free(g0[k]);
    }
    tensor_free(r);
    run_free(&run);
    return worst;
}

/* The VJP gives the same gradients when every value outside .vjp_reads is NaN:
 * what the plan may drop after the forward pass really is not needed. */
static bool vjp_reads_enough(const Op *op, const Case *cs)
{
    Run run;
    if (!run_new(&run, op, cs))
        return false;
    Tensor *r = tensor_clone(run.y, NULL, span_none()), *g[2][OP_MAX_IN] = { { 0 } };
    for (int64_t e = 0; e < r->size; e++)
        r->data[e] = (real)uniform(-1, 1);
    run.call.gy = r;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            for (int k = 0; k < cs->n_in; k++)
                if (!(op->vjp_reads & 1u << k))
                    for (int64_t e = 0; e < run.in[k]->size; e++)
                        run.in[k]->data[e] = NAN;
            if (!(op->vjp_reads & OPS_READ_Y))
                for (int64_t e = 0; e < run.y->size; e++)
                    run.y->data[e] = NAN;
        }
        for (int k = 0; k < cs->n_in; k++) {
            g[pass][k] = tensor_clone(run.in[k], NULL, span_none());
            tensor_zero(g[pass][k]);
            run.call.gin[k] = g[pass][k];
        }
        ops_vjp(&run.call);
    }
    bool same = true;
    for (int k = 0; k < cs->n_in; k++) {
        same &= memcmp(g[0][k]->data, g[1][k]->data, (size_t)g[0][k]->size * sizeof(real)) == 0;
        tensor_free(g[0][k]);
        tensor_free(g[1][k]);
    }
    tensor_free(r);
    run_free(&run);
    return same;
}

/* Planted faults: the checker must see them. */
OPS_EW_VJP(tanh_vjp_forgets_square)
{
    for (int64_t i = 0; i < n; i++)
        ga[i] += gy[i] * (1 - y[i]);
}

OPS_EW_VJP(mul_vjp_assigns)
{
    if (ga)
        for (int64_t i = 0; i < n; i++)
            ga[i] = gy[i] * b[i];
    if (gb)
        for (int64_t i = 0; i < n; i++)
            gb[i] = gy[i] * a[i];
}

static void test_planted_faults(void)
{
    Op bad = *ops_get(OP_TANH);
    bad.ew_vjp = tanh_vjp_forgets_square;
    Case cs = case1(S2(3, 5));
    double err = grad_error(&bad, &cs);
    printf("planted fault, tanh VJP without the square: relative error %.4g (detected: %s)\n", err,
           err > 1e-6 ? "yes" : "no");
    CHECK(err > 1e-6);

    Op bad2 = *ops_get(OP_MUL);
    bad2.ew_vjp = mul_vjp_assigns;
    cs = case2(S2(3, 5), S2(3, 5));
    err = grad_error(&bad2, &cs);
    printf("planted fault, mul VJP assigning instead of adding: relative error %.4g (detected: %s)\n",
           err, err > 1e-6 ? "yes" : "no");
    CHECK(err > 1e-6);

    /* An understated .vjp_reads is caught too. */
    Op bad3 = *ops_get(OP_MUL);
    bad3.vjp_reads = OPS_READ_A;
    CHECK(!vjp_reads_enough(&bad3, &cs));
    Op bad4 = *ops_get(OP_TANH);
    bad4.vjp_reads = 0;
    CHECK(!vjp_reads_enough(&bad4, &(Case){ .n_in = 1, .in = { S2(3, 5) } }));

    /* The real entries pass on the same cases. */
    CHECK(grad_error(ops_get(OP_TANH), &(Case){ .n_in = 1, .in = { S2(3, 5) } }) < 1e-6);
    CHECK(grad_error(ops_get(OP_MUL), &cs) < 1e-6);
}

/* The finite-difference walk over the whole table. */
static void test_gradients(void)
{
    int checked = 0;
    double worst = 0;
    const char *worst_op = "";
    for (int k = 0; k < OP_COUNT; k++) {
        const Op *op = ops_get((OpKind)k);
        if (op->nondiff)
            continue;
        for (int64_t B = 1; B <= 3; B += 2) {
            Case cs[MAX_CASES];
            int n = cases_for(op, B, cs);
            for (int i = 0; i < n; i++) {
                double err = grad_error(op, &cs[i]);
                if (!(err < 1e-6)) {
                    char buf[160];
                    fprintf(stderr, "%s (%s): VJP and finite differences differ, relative error %.4g\n",
                            op->name, case_str(&cs[i], buf, sizeof buf), err);
                }
                CHECK(err < 1e-6);
                if (!vjp_reads_enough(op, &cs[i])) {
                    char buf[160];
                    fprintf(stderr, "%s (%s): the VJP reads more than .vjp_reads says\n", op->name,
                            case_str(&cs[i], buf, sizeof buf));
                    CHECK(0);
                }
                if (err > worst)
                    worst = err, worst_op = op->name;
                checked++;
            }
        }
    }
    printf("finite-difference walk: %d cases, batch 1 and 3, largest relative error %.4g (%s)\n",
           checked, worst, worst_op);
}

/* y = x * x and y = x + x: both gradients land in one buffer. */
static void test_aliased_operands(void)
{
    Tensor *x = tensor_new2("x", 3, 5, NULL, span_none()), *y = tensor_new2("y", 3, 5, NULL, span_none());
    Tensor *gy = tensor_new2("gy", 3, 5, NULL, span_none()), *gx = tensor_new2("gx", 3, 5, NULL, span_none());
    for (int64_t e = 0; e < 15; e++) {
        x->data[e] = (real)uniform(-2, 2);
        gy->data[e] = (real)uniform(-1, 1);
    }
    OpCall c = { .op = ops_get(OP_MUL), .n_in = 2, .in = { x, x }, .out = y, .gy = gy, .gin = { gx, gx } };
    ops_fwd(&c);
    ops_vjp(&c);
    int bad = 0;
    for (int64_t e = 0; e < 15; e++)
        bad += fabs(gx->data[e] - 2 * x->data[e] * gy->data[e]) > 1e-14;
    CHECK_INT(bad, 0);
    tensor_free(x);
    tensor_free(y);
    tensor_free(gy);
    tensor_free(gx);
}
#endif

/* ---- the table itself ---- */

static void test_table(void)
{
    int missing = 0;
    for (int k = 0; k < OP_COUNT; k++) {
        const Op *op = ops_get((OpKind)k);
        CHECK_INT(op->kind, k);
        CHECK(op->name && op->formula && op->shape && op->fwd);
        CHECK(op->min_in >= 1 && op->min_in <= op->arity && op->arity <= OP_MAX_IN);
        if (!op->vjp && !op->nondiff) {
            fprintf(stderr, "%s: no VJP and no .nondiff reason\n", op->name);
            missing++;
        }
        CHECK(!(op->vjp && op->nondiff));
        if (op->ew_fwd) {
            CHECK(op->arity <= 3);
            CHECK(op->fwd == ops_elementwise_fwd);
            CHECK(op->nondiff ? op->ew_vjp == NULL : op->vjp == ops_elementwise_vjp && op->ew_vjp != NULL);
        }
        CHECK(op->domain.lo < op->domain.hi);
        CHECK(ops_find(op->name) == op);
        for (int j = 0; j < k; j++)
            CHECK(strcmp(ops_get((OpKind)j)->name, op->name) != 0);
        Case cs[MAX_CASES];
        if (cases_for(op, 1, cs) == 0) {
            fprintf(stderr, "%s: no test case in test_ops.c\n", op->name);
            missing++;
        }
    }
    CHECK_INT(missing, 0);
    CHECK(ops_find("tanh") == ops_get(OP_TANH));
    CHECK(ops_find("no_such_op") == NULL);
    CHECK_STR(ops_get(OP_STOP)->nondiff, "stop() blocks the gradient by design");
}

static void test_forward_values(void)
{
    int n_cases = 0;
    for (int k = 0; k < OP_COUNT; k++) {
        const Op *op = ops_get((OpKind)k);
        for (int64_t B = 1; B <= 3; B += 2) {
            Case cs[MAX_CASES];
            int n = cases_for(op, B, cs);
            for (int i = 0; i < n; i++, n_cases++)
                check_forward(op, &cs[i]);
        }
    }
    printf("forward values: %d cases against direct computation\n", n_cases);
}

/* stop() passes values and blocks gradients: its VJP adds nothing. */
static void test_stop(void)
{
    Tensor *x = tensor_new2("x", 2, 3, NULL, span_none()), *y = tensor_new2("y", 2, 3, NULL, span_none());
    Tensor *gy = tensor_new2("gy", 2, 3, NULL, span_none()), *gx = tensor_new2("gx", 2, 3, NULL, span_none());
    for (int64_t e = 0; e < 6; e++) {
        x->data[e] = (real)e;
        gy->data[e] = 1;
    }
    OpCall c = { .op = ops_get(OP_STOP), .n_in = 1, .in = { x }, .out = y, .gy = gy, .gin = { gx } };
    ops_fwd(&c);
    CHECK(y->data[5] == 5);
    ops_vjp(&c);
    int nonzero = 0;
    for (int64_t e = 0; e < 6; e++)
        nonzero += gx->data[e] != 0;
    CHECK_INT(nonzero, 0);
    tensor_free(x);
    tensor_free(y);
    tensor_free(gy);
    tensor_free(gx);
}

/* The broadcasting wrappers against the bare kernels on materialised operands,
 * over more than one block. */
static void test_wrappers_match_kernels(void)
{
    const int64_t B = 70, n = 5, N = B * n;   /* 350 elements: two blocks */
    int bad_fwd = 0, bad_vjp = 0, ops = 0;
    for (int k = 0; k < OP_COUNT; k++) {
        const Op *op = ops_get((OpKind)k);
        if (!op->ew_fwd)
            continue;
        ops++;
        Case cs = op->arity == 1 ? case1(S2(B, n)) : op->arity == 2 ? case2(S2(B, n), S1(n))
                                                                     : case3(S1(n), S2(B, n), S0());
        cs.attr = (OpAttr){ .alpha = 1.7, .p = 2.5, .lo = -0.5, .hi = 0.5 };
        Run run;
        if (!run_new(&run, op, &cs))
            continue;
        /* the operands, repeated to full size */
        real *full[3] = { 0 }, *y = malloc((size_t)N * sizeof(real)), *gy = malloc((size_t)N * sizeof(real));
        for (int j = 0; j < cs.n_in; j++) {
            full[j] = malloc((size_t)N * sizeof(real));
            for (int64_t e = 0; e < N; e++)
                full[j][e] = run.in[j]->data[e % run.in[j]->size];
        }
        op->ew_fwd(N, y, full[0], full[1], full[2], &cs.attr);
        bad_fwd += memcmp(y, run.y->data, (size_t)N * sizeof(real)) != 0;

        if (op->ew_vjp) {
            real *gfull[3] = { 0 };
            Tensor *g[3] = { 0 };
            for (int64_t e = 0; e < N; e++)
                gy[e] = (real)uniform(-1, 1);
            for (int j = 0; j < cs.n_in; j++) {
                if (op->no_grad & 1u << j)
                    continue;
                gfull[j] = calloc((size_t)N, sizeof(real));
                g[j] = tensor_clone(run.in[j], NULL, span_none());
                tensor_zero(g[j]);
                run.call.gin[j] = g[j];
            }
            Tensor gyt = tensor_view(gy, 2, (int64_t[]){ B, n });
            run.call.gy = &gyt;
            ops_vjp(&run.call);
            op->ew_vjp(N, gfull[0], gfull[1], gfull[2], gy, full[0], full[1], full[2], y, &cs.attr);
            for (int j = 0; j < cs.n_in; j++) {
                if (!g[j])
                    continue;
                for (int64_t i = 0; i < g[j]->size; i++) {
                    double s = 0;
                    for (int64_t e = i; e < N; e += g[j]->size)
                        s += gfull[j][e];
                    if (fabs(s - g[j]->data[i]) > 1e-10 * fmax(1, fabs(s)) * (sizeof(real) == 4 ? 1e5 : 1))
                        bad_vjp++;
                }
                free(gfull[j]);
                tensor_free(g[j]);
            }
        }
        for (int j = 0; j < 3; j++)
            free(full[j]);
        free(y);
        free(gy);
        run_free(&run);
    }
    CHECK(ops > 30);
    CHECK_INT(bad_fwd, 0);
    CHECK_INT(bad_vjp, 0);
}

/* ---- losses against values worked out by hand ---- */

static Tensor *tensor_of(int rank, const int64_t *dim, const double *v)
{
    Tensor *t = tensor_new("t", rank, dim, NULL, span_none());
    for (int64_t e = 0; e < t->size; e++)
        t->data[e] = (real)v[e];
    return t;
}

/* Runs a loss and returns L; *g (if given) receives dL/d(input 0) for gL = 1. */
static double loss(OpKind kind, Tensor *y, Tensor *t, Tensor *mask, double *g)
{
    Tensor *out = tensor_new("L", 0, NULL, NULL, span_none());
    Tensor *one = tensor_new("gL", 0, NULL, NULL, span_none());
    Tensor *gy = tensor_clone(y, NULL, span_none());
    tensor_zero(gy);
    one->data[0] = 1;
    OpCall c = { .op = ops_get(kind), .n_in = mask ? 3 : 2, .in = { y, t, mask }, .out = out, .gy = one,
                 .gin = { gy } };
    ops_fwd(&c);
    ops_vjp(&c);
    double l = out->data[0];
    if (g)
        for (int64_t e = 0; e < y->size; e++)
            g[e] = gy->data[e];
    tensor_free(out);
    tensor_free(one);
    tensor_free(gy);
    return l;
}

static void test_losses_by_hand(void)
{
    double tol = sizeof(real) == 8 ? 1e-14 : 1e-6;
    int64_t d22[2] = { 2, 2 }, d2[1] = { 2 }, d14[2] = { 1, 4 };
    /* mse: diffs^2 = [1, 4; 0, 1] */
    Tensor *y = tensor_of(2, d22, (double[]){ 1, 2, 3, 4 }), *t = tensor_of(2, d22, (double[]){ 0, 4, 3, 3 });
    Tensor *rowmask = tensor_of(1, d2, (double[]){ 1, 0 }), *elmask = tensor_of(2, d22, (double[]){ 0, 1, 1, 1 });
    Tensor *zero = tensor_of(1, d2, (double[]){ 0, 0 });
    double g[4];
    CHECK_NEAR(loss(OP_MSE, y, t, NULL, g), 1.5, tol);
    CHECK_NEAR(g[0], 2 * 1.0 / 4, tol);      /* 2 (y - t) / count */
    CHECK_NEAR(g[1], 2 * -2.0 / 4, tol);
    CHECK_NEAR(loss(OP_MSE, y, t, rowmask, g), 2.5, tol);
    CHECK_NEAR(g[2], 0, tol);
    CHECK_NEAR(loss(OP_MSE, y, t, elmask, NULL), 5.0 / 3, tol);
    CHECK_NEAR(loss(OP_MSE, y, t, zero, g), 0, tol);
    CHECK(g[0] == 0 && g[1] == 0 && g[2] == 0 && g[3] == 0);

    /* cross entropy: rows [0, 0] -> class 0, [0, ln 3] -> class 1 */
    Tensor *z = tensor_of(2, d22, (double[]){ 0, 0, 0, log(3.0) });
    Tensor *onehot = tensor_of(2, d22, (double[]){ 1, 0, 0, 1 });
    CHECK_NEAR(loss(OP_CROSS_ENTROPY, z, onehot, NULL, g), (log(2.0) + log(4.0 / 3)) / 2, tol);
    CHECK_NEAR(g[0], (0.5 - 1) / 2, tol);    /* (softmax - t) / rows */
    CHECK_NEAR(g[3], (0.75 - 1) / 2, tol);
    Tensor *second = tensor_of(1, d2, (double[]){ 0, 1 });
    CHECK_NEAR(loss(OP_CROSS_ENTROPY, z, onehot, second, g), log(4.0 / 3), tol);
    CHECK_NEAR(g[0], 0, tol);
    /* far logits stay finite: -log softmax = 1000 */
    Tensor *far = tensor_of(2, d22, (double[]){ 1000, 0, 0, 0 }), *t01 = tensor_of(2, d22, (double[]){ 0, 1, 1, 0 });
    double lfar = loss(OP_CROSS_ENTROPY, far, t01, rowmask, g);
    CHECK_NEAR(lfar, 1000, tol);
    CHECK(isfinite(g[0]) && isfinite(g[1]));

    /* nll on log-probabilities */
    Tensor *lp = tensor_of(2, d22, (double[]){ log(0.25), log(0.75), log(0.5), log(0.5) });
    CHECK_NEAR(loss(OP_NLL, lp, t01, rowmask, g), -log(0.75), tol);
    CHECK_NEAR(g[1], -1, tol);
    CHECK_NEAR(g[3], 0, tol);
    CHECK_NEAR(loss(OP_NLL, lp, onehot, NULL, NULL), -(log(0.25) + log(0.5)) / 2, tol);

    /* bce: x = 0, t = 1 -> ln 2; x = 2, t = 1 and x = -2, t = 0 -> ln(1 + e^-2);
     * x = 100, t = 0 -> 100 */
    Tensor *x = tensor_of(2, d14, (double[]){ 0, 2, -2, 100 }), *tb = tensor_of(2, d14, (double[]){ 1, 1, 0, 0 });
    double l2 = log1p(exp(-2.0));
    CHECK_NEAR(loss(OP_BCE, x, tb, NULL, g), (log(2.0) + 2 * l2 + 100) / 4, tol);
    CHECK_NEAR(g[0], (0.5 - 1) / 4, tol);
    CHECK_NEAR(g[3], 1.0 / 4, tol);
    Tensor *xfar = tensor_of(2, d14, (double[]){ -1000, 1000, 0, 0 }), *tfar = tensor_of(2, d14, (double[]){ 1, 0, 1, 0 });
    CHECK_NEAR(loss(OP_BCE, xfar, tfar, NULL, NULL), (2000 + 2 * log(2.0)) / 4, tol);

    Tensor *all[] = { y, t, rowmask, elmask, zero, z, onehot, second, far, t01, lp, x, tb, xfar, tfar };
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        tensor_free(all[k]);
}

/* ---- shape rules say what is wrong, in the user's terms ---- */

static bool rejects(OpKind kind, int n_in, const Shape *in, const OpAttr *attr, const char *msg)
{
    Diags d;
    diags_init(&d);
    Shape out;
    bool ok = ops_shape(ops_get(kind), n_in, in, attr, &out, &d, span_none());
    bool found = !ok && d.errors == 1 && strstr(d.v[0].msg, msg) != NULL;
    if (!found)
        fprintf(stderr, "%s: expected the error \"%s\", got \"%s\"\n", ops_get(kind)->name, msg,
                d.n ? d.v[0].msg : "(none)");
    diags_fini(&d);
    return found;
}

static void test_shape_errors(void)
{
    CHECK(rejects(OP_MATMUL, 2, (Shape[]){ S2(3, 4), S2(5, 6) }, NULL, "cannot multiply [3, 4] by [5, 6]"));
    CHECK(rejects(OP_LINEAR, 2, (Shape[]){ S2(2, 4), S2(3, 5) }, NULL,
                  "cannot multiply input [2, 4] by weights [3, 5]: the weights take 5 inputs"));
    CHECK(rejects(OP_LINEAR, 2, (Shape[]){ S2(2, 4), S1(4) }, NULL, "weights must be a matrix [post, pre], got [4]"));
    CHECK(rejects(OP_ADD, 2, (Shape[]){ S2(3, 4), S1(5) }, NULL, "'add' cannot combine [3, 4] and [5]"));
    CHECK(rejects(OP_WHERE, 3, (Shape[]){ S1(4), S2(3, 4), S2(3, 5) }, NULL, "'where' cannot combine"));
    CHECK(rejects(OP_TANH, 2, (Shape[]){ S1(4), S1(4) }, NULL, "'tanh' takes 1 input, got 2"));
    CHECK(rejects(OP_MSE, 1, (Shape[]){ S1(4) }, NULL, "'mse' takes 2 to 3 inputs, got 1"));
    CHECK(rejects(OP_MSE, 2, (Shape[]){ S2(2, 4), S2(2, 3) }, NULL,
                  "'mse' compares [2, 4] with a target of [2, 3]: the shapes must be equal"));
    CHECK(rejects(OP_CROSS_ENTROPY, 3, (Shape[]){ S2(2, 4), S2(2, 4), S2(2, 4) }, NULL,
                  "the mask of 'cross_entropy' must be [2], one weight per row of [2, 4], got [2, 4]"));
    CHECK(rejects(OP_BCE, 3, (Shape[]){ S2(2, 4), S2(2, 4), S1(4) }, NULL,
                  "the mask of 'bce' must be [2, 4] or [2], got [4]"));
    CHECK(rejects(OP_CONCAT, 2, (Shape[]){ S2(2, 3), S2(4, 3) }, NULL,
                  "cannot concatenate [2, 3] and [4, 3]: all but the last dimension must agree"));
    CHECK(rejects(OP_SLICE, 1, (Shape[]){ S2(2, 8) }, &(OpAttr){ .start = 5, .stop = 9 },
                  "slice [5, 9) is out of range for [2, 8]"));
    CHECK(rejects(OP_SELECT, 1, (Shape[]){ S3(3, 2, 8) }, &(OpAttr){ .start = 3 },
                  "index 3 is out of range for [3, 2, 8]"));
    CHECK(rejects(OP_BROADCAST, 1, (Shape[]){ S1(3) }, &(OpAttr){ .shape = S2(2, 4) },
                  "cannot broadcast [3] to [2, 4]"));
    CHECK(rejects(OP_RESHAPE, 1, (Shape[]){ S2(2, 3) }, &(OpAttr){ .shape = S1(5) },
                  "cannot reshape [2, 3] (6 elements) to [5] (5 elements)"));
    CHECK(rejects(OP_OUTER, 2, (Shape[]){ S2(2, 3), S2(3, 3) }, NULL, "'outer' needs two vectors"));
    CHECK(rejects(OP_TRANSPOSE, 1, (Shape[]){ S1(3) }, NULL, "'transpose' takes a matrix, got [3]"));
    CHECK(rejects(OP_SUM_BATCH, 1, (Shape[]){ S0() }, NULL, "'sum_batch' sums over the batch axis"));
    CHECK(rejects(OP_CSR_LINEAR, 2, (Shape[]){ S2(2, 4), S1(csr.nnz) }, &(OpAttr){ .csr = &csr },
                  "cannot multiply input [2, 4] by sparse weights [4, 5]: they take 5 inputs"));
    CHECK(rejects(OP_CSR_LINEAR, 2, (Shape[]){ S2(2, 5), S1(7) }, &(OpAttr){ .csr = &csr },
                  "a sparse synapse with 6 connections needs 6 weights, got [7]"));

    /* and accept what they should */
    Diags d;
    diags_init(&d);
    Shape out;
    CHECK(ops_shape(ops_get(OP_ADD), 2, (Shape[]){ S0(), S3(4, 2, 3) }, NULL, &out, &d, span_none()));
    Shape want = S3(4, 2, 3);
    CHECK(tensor_shape_eq(&out, &want));
    CHECK(ops_shape(ops_get(OP_LINEAR), 2, (Shape[]){ S3(7, 2, 3), S2(5, 3) }, NULL, &out, &d, span_none()));
    want = S3(7, 2, 5);
    CHECK(tensor_shape_eq(&out, &want));
    CHECK(ops_shape(ops_get(OP_CONCAT), 3, (Shape[]){ S2(2, 3), S2(2, 1), S2(2, 4) }, NULL, &out, &d,
                    span_none()));
    want = S2(2, 8);
    CHECK(tensor_shape_eq(&out, &want));
    CHECK_INT(d.errors, 0);
    diags_fini(&d);
}

int main(void)
{
    test_table();
    test_forward_values();
    test_wrappers_match_kernels();
    test_losses_by_hand();
    test_shape_errors();
    test_stop();
#ifndef CAJAL_FLOAT
    test_gradients();
    test_planted_faults();
    test_aliased_operands();
#else
    printf("test_ops: the finite-difference walk runs in the double build only\n");
#endif
    return check_done("test_ops");
}
