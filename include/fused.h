/* fused.h: a chain of elementwise ops run as one pass (numexpr's approach).
 *
 * A fused group is a small register program: every instruction applies one
 * elementwise kernel of the op table (ops.h, .ew_fwd) to registers of up to
 * OPS_BLOCK reals. The executor walks the output in tiles: stretches of a long
 * row, or several short rows packed into one block. Input registers point
 * straight into their tensors where the rows are contiguous (a scalar is a
 * pre-filled block, a per-neuron parameter the same row for every trial; a
 * strided slice is gathered, a strided output scattered), so
 * intermediate values never leave the cache and the interpreter's dispatch is
 * paid once per block, not once per element.
 *
 * Operand modes, for a program over rows x n (row r, column j):
 *
 *   SCALAR   data[0]              one value everywhere
 *   ROW      data[j]              one row shared by every row r
 *   COLUMN   data[r * ld]         one value per row (a plasticity rule's post
 *                                 side over a weight matrix [post, pre])
 *   FULL     data[r * ld + j]     its own row per row r
 *
 *   registers:  [0 .. nin)        inputs (views)
 *               [nin .. nvalues)  one per instruction, in program order
 *
 * Backward (fused_vjp) recomputes the forward values of a block into scratch,
 * then runs the kernels' .ew_vjp in reverse, so a group stores nothing between
 * the forward and the backward pass but its inputs and outputs.
 */
#ifndef CAJAL_FUSED_H
#define CAJAL_FUSED_H

#include "ops.h"

typedef enum OperandMode {
    OPERAND_SCALAR,    /* one value for all elements */
    OPERAND_ROW,       /* one row of n values shared by every trial (a parameter [n]) */
    OPERAND_FULL,      /* a row per trial: data + b * ld */
    OPERAND_COLUMN,    /* one value per row: data[row * ld] (input registers only) */
} OperandMode;

/* Where an input or output register lives for one execution. */
typedef struct FusedOperand {
    OperandMode mode;
    real *data;        /* first element of row 0 */
    int64_t ld;        /* distance between rows (FULL, COLUMN) */
    real *grad;        /* backward: where its gradient accumulates, or NULL */
} FusedOperand;

typedef struct FusedInstr {
    const Op *op;
    OpAttr attr;
    int nin;
    int in[3];         /* registers */
} FusedInstr;

typedef struct FusedProgram {
    int nin;           /* input registers */
    int ncode;         /* instructions; register nin + k is instruction k's result */
    FusedInstr *code;
    int nout;
    int *out;          /* registers written to outputs */
    int64_t rows, n;   /* rows (trials) and row length */
} FusedProgram;

/* Scratch the executor needs, in reals (the plan allocates it once). */
int64_t fused_scratch_size(const FusedProgram *p, bool backward);

/* Runs the program: in[k] for input register k, out[k] for output k. */
void fused_fwd(const FusedProgram *p, const FusedOperand *in, const FusedOperand *out, real *scratch);

/* Accumulates gradients: out[k].grad holds dL/d(output k); in[k].grad (when not
 * NULL) receives dL/d(input k), summed over trials for ROW and SCALAR inputs and
 * over the row for COLUMN inputs (at grad[row * ld]). */
void fused_vjp(const FusedProgram *p, const FusedOperand *in, const FusedOperand *out, real *scratch);

#endif
