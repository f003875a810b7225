/* fused.c: the block executor of fused elementwise programs (see fused.h).
 *
 * Scratch layout (reals): a block per input (filled for a scalar, a column, a
 * ROW repeated over packed rows, or a strided operand gathered), then one block
 * per instruction result, then (backward) one gradient block per register.
 */
#include "fused.h"

#include <string.h>

enum { B = OPS_BLOCK };

int64_t fused_scratch_size(const FusedProgram *p, bool backward)
{
    int64_t regs = p->nin + p->ncode;
    return (int64_t)B * (regs + (backward ? regs : 0));
}

/* A tile is the part of the output one pass of the kernels covers: a stretch of
 * one row, or (short rows) several whole rows packed end to end, so that a
 * population of 32 over 64 trials runs as 8 full blocks rather than 64 short
 * ones. An operand whose rows are contiguous (ld == n) is read in place either
 * way; a strided one (a slice of a stacked GEMM's output) is gathered into its
 * block, and a strided output is written to its register and scattered. */
typedef struct Tile {
    int64_t row, nr;   /* rows [row, row + nr) */
    int64_t j0, cols;  /* columns [j0, j0 + cols); all n when nr > 1 */
    int64_t len;       /* nr * cols elements */
} Tile;

/* Whole rows per tile: 1 unless rows are shorter than half a block. */
static int64_t rows_per_tile(const FusedProgram *p)
{
    return p->rows > 1 && p->n > 0 && p->n <= B / 2 ? B / p->n : 1;
}

static bool in_place(const FusedOperand *o, const FusedProgram *p, const Tile *t)
{
    return t->nr == 1 || o->ld == p->n;
}

static const real *at(const FusedOperand *o, const Tile *t) { return o->data + t->row * o->ld + t->j0; }

/* Plain loops rather than memcpy: rows are a few dozen reals, where the call
 * costs more than the copy. */
static void gather(real *restrict dst, const real *restrict base, int64_t ld, const Tile *t)
{
    for (int64_t r = 0; r < t->nr; r++) {
        const real *src = base + (t->row + r) * ld + t->j0;
        real *d = dst + r * t->cols;
        for (int64_t i = 0; i < t->cols; i++)
            d[i] = src[i];
    }
}

static void scatter(real *restrict base, int64_t ld, const Tile *t, const real *restrict src)
{
    for (int64_t r = 0; r < t->nr; r++) {
        real *d = base + (t->row + r) * ld + t->j0;
        const real *s = src + r * t->cols;
        for (int64_t i = 0; i < t->cols; i++)
            d[i] = s[i];
    }
}

/* base[tile] += src */
static void scatter_add(real *base, int64_t ld, const Tile *t, const real *src)
{
    for (int64_t r = 0; r < t->nr; r++) {
        real *dst = base + (t->row + r) * ld + t->j0;
        const real *s = src + r * t->cols;
        for (int64_t i = 0; i < t->cols; i++)
            dst[i] += s[i];
    }
}

/* Blocks filled once per call: a scalar everywhere; a ROW operand repeated for
 * every row of a packed tile. */
static void fill_constants(const FusedProgram *p, const FusedOperand *in, real *scratch, int64_t per_tile)
{
    for (int k = 0; k < p->nin; k++) {
        real *dst = scratch + (int64_t)k * B;
        if (in[k].mode == OPERAND_SCALAR) {
            real v = in[k].data[0];
            for (int i = 0; i < B; i++)
                dst[i] = v;
        } else if (in[k].mode == OPERAND_ROW && per_tile > 1)
            for (int64_t r = 0; r < per_tile; r++)
                memcpy(dst + r * p->n, in[k].data, (size_t)p->n * sizeof(real));
    }
}

/* Points each register at its data for one tile, gathering what is strided.
 * With `needed` (the backward pass), an input nothing reads is left NULL. */
static void bind(const FusedProgram *p, const FusedOperand *in, const FusedOperand *out, real *scratch, const Tile *t,
                 const bool *needed, const real **reg)
{
    for (int k = 0; k < p->nin; k++) {
        const FusedOperand *o = &in[k];
        real *blk = scratch + (int64_t)k * B;
        reg[k] = blk;
        if (needed && !needed[k]) {
            reg[k] = NULL;
            continue;
        }
        switch (o->mode) {
        case OPERAND_SCALAR:
            break;
        case OPERAND_ROW:
            if (t->nr == 1)
                reg[k] = o->data + t->j0;
            break;
        case OPERAND_COLUMN:
            /* one value per row; a row's value serves all its column stretches */
            if (t->nr > 1 || t->j0 == 0)
                for (int64_t r = 0; r < t->nr; r++) {
                    real v = o->data[(t->row + r) * o->ld];
                    int64_t m = t->nr > 1 ? t->cols : (p->n < B ? p->n : B);
                    for (int64_t i = 0; i < m; i++)
                        blk[r * t->cols + i] = v;
                }
            break;
        case OPERAND_FULL:
            if (in_place(o, p, t))
                reg[k] = at(o, t);
            else
                gather(blk, o->data, o->ld, t);
            break;
        }
    }
    real *temps = scratch + (int64_t)p->nin * B;
    for (int k = 0; k < p->ncode; k++)
        reg[p->nin + k] = temps + (int64_t)k * B;
    /* Outputs write straight into their tensors where they can. */
    for (int k = 0; k < p->nout; k++)
        if (in_place(&out[k], p, t))
            reg[p->out[k]] = at(&out[k], t);
}

static void run_block(const FusedProgram *p, const real **reg, int64_t len)
{
    for (int k = 0; k < p->ncode; k++) {
        const FusedInstr *ins = &p->code[k];
        ins->op->ew_fwd(len, (real *)reg[p->nin + k], reg[ins->in[0]], ins->nin > 1 ? reg[ins->in[1]] : NULL,
                        ins->nin > 2 ? reg[ins->in[2]] : NULL, &ins->attr);
    }
}

/* Steps t to the first tile (t->nr == 0) or the next one; false past the end. */
static bool next_tile(const FusedProgram *p, int64_t per_tile, Tile *t)
{
    if (t->nr == 0)
        t->row = 0, t->j0 = 0;
    else if (per_tile == 1 && t->j0 + t->cols < p->n)
        t->j0 += t->cols;
    else
        t->row += t->nr, t->j0 = 0;
    if (t->row >= p->rows || p->n == 0)
        return false;
    t->nr = per_tile > 1 && p->rows - t->row < per_tile ? p->rows - t->row : per_tile;
    t->cols = per_tile > 1 ? p->n : (p->n - t->j0 < B ? p->n - t->j0 : B);
    t->len = t->nr * t->cols;
    return true;
}

void fused_fwd(const FusedProgram *p, const FusedOperand *in, const FusedOperand *out, real *scratch)
{
    const real *reg[p->nin + p->ncode + 1];
    int64_t per_tile = rows_per_tile(p);
    fill_constants(p, in, scratch, per_tile);
    for (Tile t = { 0 }; next_tile(p, per_tile, &t);) {
        bind(p, in, out, scratch, &t, NULL, reg);
        run_block(p, reg, t.len);
        for (int k = 0; k < p->nout; k++)
            if (!in_place(&out[k], p, &t))
                scatter(out[k].data, out[k].ld, &t, reg[p->out[k]]);
    }
}

/* Hands a tile's input gradients out: summed over trials for ROW and SCALAR
 * inputs, over the row for COLUMN ones. */
static void give_input_grads(const FusedProgram *p, const FusedOperand *in, real *const *g, const Tile *t)
{
    for (int k = 0; k < p->nin; k++) {
        const FusedOperand *o = &in[k];
        if (!o->grad)
            continue;
        const real *src = g[k];
        switch (o->mode) {
        case OPERAND_SCALAR: {
            double s = 0;
            for (int64_t i = 0; i < t->len; i++)
                s += src[i];
            o->grad[0] += (real)s;
            break;
        }
        case OPERAND_COLUMN:
            for (int64_t r = 0; r < t->nr; r++) {
                double s = 0;
                for (int64_t i = 0; i < t->cols; i++)
                    s += src[r * t->cols + i];
                o->grad[(t->row + r) * o->ld] += (real)s;
            }
            break;
        case OPERAND_ROW:
            for (int64_t r = 0; r < t->nr; r++)
                for (int64_t i = 0; i < t->cols; i++)
                    o->grad[t->j0 + i] += src[r * t->cols + i];
            break;
        case OPERAND_FULL:
            if (!in_place(o, p, t))
                scatter_add(o->grad, o->ld, t, src);
            break;   /* in place, the VJPs accumulated into o->grad itself */
        }
    }
}

/* The registers the backward pass reads: those a VJP reads (Op.vjp_reads),
 * and the inputs of every instruction whose result must be recomputed for
 * that. An output keeps its value, so its inputs are not needed on its account. */
static void backward_reads(const FusedProgram *p, bool *needed)
{
    int nregs = p->nin + p->ncode;
    for (int r = 0; r < nregs; r++)
        needed[r] = false;
    for (int k = 0; k < p->ncode; k++) {
        const FusedInstr *ins = &p->code[k];
        if (!ins->op->ew_vjp)
            continue;
        for (int a = 0; a < ins->nin; a++)
            if (ins->op->vjp_reads & (1u << a))
                needed[ins->in[a]] = true;
        if (ins->op->vjp_reads & OPS_READ_Y)
            needed[p->nin + k] = true;
    }
    for (int k = p->ncode - 1; k >= 0; k--) {
        bool kept = false;
        for (int o = 0; o < p->nout; o++)
            kept |= p->out[o] == p->nin + k;
        if (needed[p->nin + k] && !kept)
            for (int a = 0; a < p->code[k].nin; a++)
                needed[p->code[k].in[a]] = true;
    }
}

void fused_vjp(const FusedProgram *p, const FusedOperand *in, const FusedOperand *out, real *scratch)
{
    int nregs = p->nin + p->ncode;
    const real *reg[nregs + 1];
    real *g[nregs + 1];
    bool needed[nregs + 1];
    real *gscratch = scratch + (int64_t)nregs * B;
    int64_t per_tile = rows_per_tile(p);
    backward_reads(p, needed);
    fill_constants(p, in, scratch, per_tile);
    for (Tile t = { 0 }; next_tile(p, per_tile, &t);) {
        int64_t len = t.len;
        bind(p, in, out, scratch, &t, needed, reg);
        /* Recompute what the VJPs read and the forward pass did not keep; an
         * output's value is read where the forward pass wrote it (gathered
         * when strided). A value nothing reads is neither (a sum's operands:
         * its VJP needs only the incoming gradient). */
        for (int k = 0; k < p->ncode; k++) {
            if (!needed[p->nin + k])
                continue;
            const FusedOperand *kept = NULL;
            for (int o = 0; o < p->nout && !kept; o++)
                if (p->out[o] == p->nin + k)
                    kept = &out[o];
            if (kept) {
                if (!in_place(kept, p, &t))
                    gather((real *)reg[p->nin + k], kept->data, kept->ld, &t);
                continue;
            }
            const FusedInstr *ins = &p->code[k];
            ins->op->ew_fwd(len, (real *)reg[p->nin + k], reg[ins->in[0]], ins->nin > 1 ? reg[ins->in[1]] : NULL,
                            ins->nin > 2 ? reg[ins->in[2]] : NULL, &ins->attr);
        }
        /* Gradient registers: outputs start from dL/d(output), others from 0.
         * An input's register is only ever added to, so where its gradient's
         * rows are contiguous the VJPs add straight into it, and an input
         * that wants no gradient has none. */
        for (int k = 0; k < nregs; k++) {
            g[k] = gscratch + (int64_t)k * B;
            if (k < p->nin && !in[k].grad)
                g[k] = NULL;
            else if (k < p->nin && in[k].mode == OPERAND_FULL && in_place(&in[k], p, &t))
                g[k] = in[k].grad + t.row * in[k].ld + t.j0;
            else
                memset(g[k], 0, (size_t)len * sizeof(real));
        }
        for (int k = 0; k < p->nout; k++) {
            const FusedOperand *o = &out[k];
            if (!o->grad)
                continue;
            real *dst = g[p->out[k]];
            for (int64_t r = 0; r < t.nr; r++) {
                const real *gy = o->grad + (t.row + r) * o->ld + t.j0;
                for (int64_t i = 0; i < t.cols; i++)
                    dst[r * t.cols + i] += gy[i];
            }
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
        give_input_grads(p, in, g, &t);
    }
}
