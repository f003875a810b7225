/* ops.h: the op table, every tensor operation a compiled time step is made of.
 *
 * lower.c turns equations into ops, graph.c holds them, plan.c runs their forward
 * passes in order every time step and, for training, their vector-Jacobian
 * products (VJPs) in reverse. One table entry per op, indexed by OpKind:
 *
 *   .shape   the output shape from the input shapes and attributes, or false and a
 *            diagnostic ("cannot multiply [3, 4] by [5, 6]");
 *   .fwd     y = f(inputs), written into c->out (overwritten);
 *   .vjp     gin[k] += (dy/din[k])^T gy for every gin[k] that is not NULL. It reads
 *            the inputs and the forward output c->out, which must still hold y;
 *   .ew_fwd, .ew_vjp   for elementwise ops only: the same over n contiguous reals,
 *            with no broadcasting. The fused executor runs chains of these over
 *            blocks of OPS_BLOCK elements; .fwd and .vjp of an elementwise op are
 *            ops_elementwise_fwd / _vjp, which broadcast and call these kernels, so
 *            tests/unit/test_ops.c checks the very kernels the fused executor runs.
 *
 * The entries live beside their kernels in src/ops_<file>.c, in ops_<file>_table
 * (ops.def names the file); ops_table.c adds kind, name, arity and formula.
 *
 * Calling an op:
 *
 *   const Op *op = ops_get(OP_TANH);
 *   Shape ys;
 *   if (!ops_shape(op, 1, &xs, NULL, &ys, diags, span)) return false;
 *   ... allocate y of shape ys ...
 *   OpCall c = { .op = op, .n_in = 1, .in = { x }, .out = y };
 *   ops_fwd(&c);
 *   c.gy = gy; c.gin[0] = gx;          // gx accumulates
 *   ops_vjp(&c);
 *
 * Broadcasting (elementwise ops and broadcast_to): every operand's shape must be a
 * suffix of the output shape, the longest operand's: a scalar [], a per-neuron
 * vector [n] and a batch [B, n] combine to [B, n]; [B, n] and [T, B, n] to
 * [T, B, n]. So the operand element of output element e is e mod size(operand).
 * A VJP sums over the repeats.
 *
 * Losses take (prediction, target) and an optional third input, a mask of 0/1
 * (or fractional) weights shaped like the prediction or like its leading axes
 * ([B] for [B, n]): L = sum(m * l) / sum(m) over elements, where a per-row mask
 * weights each element of its row; with no mask m = 1; a mask of all zeros gives
 * L = 0 and no gradient. cross_entropy and nll take targets as probabilities over
 * the last axis (one-hot for class labels), shaped like the logits.
 *
 * Ops never allocate: the plan sizes and owns every buffer. Elementwise wrappers
 * use stack blocks of OPS_BLOCK reals.
 */
#ifndef CAJAL_OPS_H
#define CAJAL_OPS_H

#include "diag.h"
#include "tensor.h"

#include <stdbool.h>
#include <stdint.h>

enum {
    OP_MAX_IN = 8,      /* most inputs an op takes (concat) */
    OPS_BLOCK = 256,    /* elements per block of the elementwise executors */
};

typedef enum OpKind {
#define OP(kind, name, file, min_in, max_in, formula) OP_##kind,
#include "ops.def"
#undef OP
    OP_COUNT
} OpKind;

/* A sparse weight matrix's pattern, [rows = post, cols = pre]. Row i's entries
 * are k in [row_ptr[i], row_ptr[i+1]), at column col_idx[k]; the values are a
 * tensor of nnz reals, an input of csr_linear, so gradients land on them alone.
 *
 *   row_ptr  0     2  2        5          (row 1 is empty)
 *   col_idx  0  3     1  2  4
 *   values   w0 w1    w2 w3 w4
 */
typedef struct Csr {
    int64_t rows, cols, nnz;
    const int64_t *row_ptr;     /* [rows + 1], row_ptr[0] = 0, row_ptr[rows] = nnz */
    const int32_t *col_idx;     /* [nnz], each in [0, cols) */
} Csr;

/* Attributes: constants fixed when the op is built. Each op reads only its own. */
typedef struct OpAttr {
    double alpha;               /* scale */
    double p;                   /* pow_const */
    double lo, hi;              /* clip */
    int64_t start, stop;        /* slice: [start, stop) of the last axis; select: index start */
    Shape shape;                /* reshape, broadcast_to: the output shape */
    const Csr *csr;             /* csr_linear: the pattern (borrowed) */
} OpAttr;

typedef struct Op Op;

/* Op.vjp_reads: the VJP reads input k's values (bit k) or the output's. */
enum {
    OPS_READ_A = 1u << 0,
    OPS_READ_B = 1u << 1,
    OPS_READ_C = 1u << 2,
    OPS_READ_Y = 1u << OP_MAX_IN,
};

/* One application of an op. in[k] and out are borrowed; gin[k] NULL means "no
 * gradient wanted for input k". attr may be NULL for ops without attributes. */
typedef struct OpCall {
    const Op *op;
    const OpAttr *attr;
    int n_in;
    const Tensor *in[OP_MAX_IN];
    Tensor *out;                 /* fwd writes y; vjp reads it */
    const Tensor *gy;            /* vjp: dL/dy, shaped like out */
    Tensor *gin[OP_MAX_IN];      /* vjp: dL/din[k], accumulated (+=) */
} OpCall;

typedef bool (*OpShapeFn)(const Op *op, int n_in, const Shape *in, const OpAttr *attr, Shape *out,
                          Diags *d, Span at);
typedef void (*OpFn)(const OpCall *c);
/* y[i] = f(a[i], b[i], c[i]) for i < n; b, c NULL beyond the op's arity. y may be
 * one of a, b, c (in place); no other overlap. */
typedef void (*OpEwFwd)(int64_t n, real *y, const real *a, const real *b, const real *c,
                        const OpAttr *attr);
/* ga[i] += gy[i] dy/da (a, b, c, y at i), likewise gb, gc; each NULL when not
 * wanted (a kernel is called only when one is: a unary op's ga is never NULL).
 * The g's may be the same array (y = x * x). */
typedef void (*OpEwVjp)(int64_t n, real *ga, real *gb, real *gc, const real *gy, const real *a,
                        const real *b, const real *c, const real *y, const OpAttr *attr);

struct Op {
    OpKind kind;                /* ops.def: filled by ops_table.c */
    const char *name;
    int min_in, arity;          /* arity: most inputs; min_in < arity: optional trailing inputs */
    const char *formula;

    OpShapeFn shape;
    OpFn fwd, vjp;              /* vjp NULL exactly when nondiff is set */
    OpEwFwd ew_fwd;             /* elementwise ops only */
    OpEwVjp ew_vjp;
    const char *nondiff;        /* why the op has no gradient, or NULL */
    unsigned no_grad;           /* bit k: input k never gets a gradient (condition, target,
                                   mask); the VJP ignores gin[k] */
    unsigned vjp_reads;         /* what the VJP reads besides gy: OPS_READ_A.. (inputs), OPS_READ_Y.
                                   The plan keeps only these for the backward pass, and may
                                   run the forward in place (y = a) when a is not read */
    struct { double lo, hi; } domain;   /* where tests draw inputs */
};

/* The entry for kind (never NULL). The table is built on first use, thread-safely. */
const Op *ops_get(OpKind kind);
/* The op whose name is `name`, or NULL. */
const Op *ops_find(const char *name);

/* Checks arity, then applies op->shape. On success fills *out; otherwise appends
 * an error at `at` and returns false. */
bool ops_shape(const Op *op, int n_in, const Shape *in, const OpAttr *attr, Shape *out, Diags *d,
               Span at);

static inline void ops_fwd(const OpCall *c) { c->op->fwd(c); }
/* Accumulates input gradients; an op with .nondiff contributes nothing. */
static inline void ops_vjp(const OpCall *c)
{
    if (c->op->vjp)
        c->op->vjp(c);
}

/* For op files: shared shape rules and the broadcasting elementwise wrappers. */
bool ops_elementwise_shape(const Op *op, int n_in, const Shape *in, const OpAttr *attr, Shape *out,
                           Diags *d, Span at);
bool ops_same_shape(const Op *op, int n_in, const Shape *in, const OpAttr *attr, Shape *out,
                    Diags *d, Span at);
void ops_elementwise_fwd(const OpCall *c);
void ops_elementwise_vjp(const OpCall *c);
/* The attributes of c, or a zeroed set when it has none. */
const OpAttr *ops_attr(const OpCall *c);

/* Kernel signatures and table entries for elementwise ops, as op files write them:
 *
 *   OPS_EW_FWD(tanh_fwd) { vecmath_tanh(n, y, a); }
 *   [OP_TANH] = { OPS_EW(tanh_fwd, tanh_vjp), .domain = { -3, 3 } },
 */
#define OPS_EW_FWD(fn) \
    static void fn(int64_t n, real *y, const real *a, const real *b, const real *c, const OpAttr *attr)
#define OPS_EW_VJP(fn)                                                                          \
    static void fn(int64_t n, real *ga, real *gb, real *gc, const real *gy, const real *a,      \
                   const real *b, const real *c, const real *y, const OpAttr *attr)
#define OPS_EW(fwd_, vjp_)                                                                      \
    .shape = ops_elementwise_shape, .fwd = ops_elementwise_fwd, .vjp = ops_elementwise_vjp,    \
    .ew_fwd = fwd_, .ew_vjp = vjp_
#define OPS_EW_NONDIFF(fwd_, why)                                                               \
    .shape = ops_elementwise_shape, .fwd = ops_elementwise_fwd, .ew_fwd = fwd_, .nondiff = why

/* The per-file tables ops_<file>_table, sparse arrays indexed by OpKind. */
extern const Op ops_elementwise_table[OP_COUNT], ops_nonlin_table[OP_COUNT],
    ops_matmul_table[OP_COUNT], ops_sparse_table[OP_COUNT], ops_reduce_table[OP_COUNT],
    ops_shape_table[OP_COUNT], ops_loss_table[OP_COUNT];

#endif
