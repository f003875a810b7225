/* fused.c: the block executor of fused elementwise programs (see fused.h).
 *
 * Scratch layout (reals): a filled block per scalar or column input (a column's
 * is refilled at each row), then one block per instruction result, then
 * (backward) one gradient block per register.
 */
#include "fused.h"

#include <string.h>

enum { B = OPS_BLOCK };

int64_t fused_scratch_size(const FusedProgram *p, bool backward)
{
    int64_t regs = p->nin + p->ncode;
    return (int64_t)B * (regs + (backward ? regs + 1 : 0));
}

/* Points each register at its data for trial `row`, columns [j0, j0 + len). */
static void bind(const FusedProgram *p, const FusedOperand *in, const FusedOperand *out, real *scratch,
                 int64_t row, int64_t j0, const real **reg)
{
    real *fill = scratch;
    for (int k = 0; k < p->nin; k++) {
        const FusedOperand *o = &in[k];
        if (o->mode == OPERAND_SCALAR || o->mode == OPERAND_COLUMN)
            reg[k] = fill + (int64_t)k * B;
        else if (o->mode == OPERAND_ROW)
            reg[k] = o->data + j0;
        else
            reg[k] = o->data + row * o->ld + j0;
    }
    real *temps = scratch + (int64_t)p->nin * B;
    for (int k = 0; k < p->ncode; k++)
        reg[p->nin + k] = temps + (int64_t)k * B;
    /* Outputs write straight into their tensors. */
    for (int k = 0; k < p->nout; k++) {
        const FusedOperand *o = &out[k];
        reg[p->out[k]] = o->data + row * o->ld + j0;
    }
}

static void fill_scalars(const FusedProgram *p, const FusedOperand *in, real *scratch)
{
    for (int k = 0; k < p->nin; k++)
        if (in[k].mode == OPERAND_SCALAR) {
            real v = in[k].data[0], *dst = scratch + (int64_t)k * B;
            for (int i = 0; i < B; i++)
                dst[i] = v;
        }
}

/* A column input's block holds its value for this row (as far as the row reaches). */
static void fill_columns(const FusedProgram *p, const FusedOperand *in, real *scratch, int64_t row)
{
    int64_t len = p->n < B ? p->n : B;
    for (int k = 0; k < p->nin; k++)
        if (in[k].mode == OPERAND_COLUMN) {
            real v = in[k].data[row * in[k].ld], *dst = scratch + (int64_t)k * B;
            for (int64_t i = 0; i < len; i++)
                dst[i] = v;
        }
}

static void run_block(const FusedProgram *p, const real **reg, int64_t len)
{
    for (int k = 0; k < p->ncode; k++) {
        const FusedInstr *ins = &p->code[k];
        ins->op->ew_fwd(len, (real *)reg[p->nin + k], reg[ins->in[0]], ins->nin > 1 ? reg[ins->in[1]] : NULL,
                        ins->nin > 2 ? reg[ins->in[2]] : NULL, &ins->attr);
    }
}

void fused_fwd(const FusedProgram *p, const FusedOperand *in, const FusedOperand *out, real *scratch)
{
    const real *reg[p->nin + p->ncode + 1];
    fill_scalars(p, in, scratch);
    for (int64_t row = 0; row < p->rows; row++) {
        fill_columns(p, in, scratch, row);
        for (int64_t j0 = 0; j0 < p->n; j0 += B) {
            int64_t len = p->n - j0 < B ? p->n - j0 : B;
            bind(p, in, out, scratch, row, j0, reg);
            run_block(p, reg, len);
        }
    }
}

void fused_vjp(const FusedProgram *p, const FusedOperand *in, const FusedOperand *out, real *scratch)
{
    int nregs = p->nin + p->ncode;
    const real *reg[nregs + 1];
    real *g[nregs + 1];
    real *gscratch = scratch + (int64_t)nregs * B;
    real *sum = gscratch + (int64_t)nregs * B;   /* one block: a scalar input's gradient */
    fill_scalars(p, in, scratch);
    for (int64_t row = 0; row < p->rows; row++) {
        fill_columns(p, in, scratch, row);
        for (int64_t j0 = 0; j0 < p->n; j0 += B) {
            int64_t len = p->n - j0 < B ? p->n - j0 : B;
            bind(p, in, out, scratch, row, j0, reg);
            /* Recompute what the forward pass did not keep; an output's value is
             * read where the forward pass wrote it. */
            real *temps = scratch + (int64_t)p->nin * B;
            for (int k = 0; k < p->ncode; k++) {
                bool kept = false;
                for (int o = 0; o < p->nout && !kept; o++)
                    kept = p->out[o] == p->nin + k;
                if (kept)
                    continue;
                reg[p->nin + k] = temps + (int64_t)k * B;
                const FusedInstr *ins = &p->code[k];
                ins->op->ew_fwd(len, (real *)reg[p->nin + k], reg[ins->in[0]], ins->nin > 1 ? reg[ins->in[1]] : NULL,
                                ins->nin > 2 ? reg[ins->in[2]] : NULL, &ins->attr);
            }
            /* Gradient registers: outputs start from dL/d(output), others from 0. */
            for (int k = 0; k < nregs; k++) {
                g[k] = gscratch + (int64_t)k * B;
                memset(g[k], 0, (size_t)len * sizeof(real));
            }
            for (int k = 0; k < p->nout; k++) {
                const FusedOperand *o = &out[k];
                if (!o->grad)
                    continue;
                const real *gy = o->grad + row * o->ld + j0;
                real *dst = g[p->out[k]];
                for (int64_t i = 0; i < len; i++)
                    dst[i] += gy[i];
            }
            for (int k = p->ncode - 1; k >= 0; k--) {
                const FusedInstr *ins = &p->code[k];
                if (!ins->op->ew_vjp)
                    continue;
                real *ga = g[ins->in[0]];
                real *gb = ins->nin > 1 ? g[ins->in[1]] : NULL;
                real *gc = ins->nin > 2 ? g[ins->in[2]] : NULL;
                if (ins->op->no_grad & 1u)
                    ga = NULL;
                if (ins->op->no_grad & 2u)
                    gb = NULL;
                if (ins->op->no_grad & 4u)
                    gc = NULL;
                if (!ga && !gb && !gc)
                    continue;
                ins->op->ew_vjp(len, ga, gb, gc, g[p->nin + k], reg[ins->in[0]], ins->nin > 1 ? reg[ins->in[1]] : NULL,
                                ins->nin > 2 ? reg[ins->in[2]] : NULL, reg[p->nin + k], &ins->attr);
            }
            /* Hand the inputs' gradients out. */
            for (int k = 0; k < p->nin; k++) {
                const FusedOperand *o = &in[k];
                if (!o->grad)
                    continue;
                const real *src = g[k];
                if (o->mode == OPERAND_SCALAR || o->mode == OPERAND_COLUMN) {
                    double s = 0;
                    for (int64_t i = 0; i < len; i++)
                        s += src[i];
                    sum[0] = (real)s;
                    o->grad[o->mode == OPERAND_COLUMN ? row * o->ld : 0] += sum[0];
                } else {
                    real *dst = o->mode == OPERAND_ROW ? o->grad + j0 : o->grad + row * o->ld + j0;
                    for (int64_t i = 0; i < len; i++)
                        dst[i] += src[i];
                }
            }
        }
    }
}
