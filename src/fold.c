/* fold.c: sums folded into the GEMM of one of their terms (fold.h).
 *
 * A recurrent layer's input is a sum of products: W_in u (hoisted over all T
 * steps) plus W h (one GEMM per step), added elementwise in the loop; a cell
 * does the same per gate, on slices of two stacked products. cuDNN and the
 * fast CPU kernels instead let the recurrent GEMM accumulate onto the input
 * projection (beta = 1), so the sum costs no pass of its own and the fused
 * gate arithmetic reads one operand where it read two. Here that is a graph
 * rewrite: the product takes the other term as its third input, c, and
 * computes y = c + x W^T (ops_matmul.c).
 *
 *   plain    a = add(P, Q), P = linear(x, W)         a := linear(x, W, Q)
 *   stacked  a_k = add(slice_k(P), slice_k(Q))       P := linear(x, W, Q)
 *            for the slices of P in one stretch      a_k := slice_k(P)
 *            of columns (or one slice + a whole Q)
 *
 * A rewritten node keeps its value (the stacked P changes, so it must have no
 * reader but those slices). The product that goes on accumulating is the one
 * that depends on the state: a product of inputs alone stays hoisted before
 * the time loop, and becomes the term c.
 */
#include "fold.h"
#include "xalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct Fold {
    Graph *g;
    int *uses;          /* readers of each node (ops, names, states, kept) */
    bool *loop;         /* does the node change from step to step through the state */
} Fold;

static void count_uses(Fold *f, const int *keep, int nkeep)
{
    const Graph *g = f->g;
    memset(f->uses, 0, (size_t)(g->n + 1) * sizeof *f->uses);
    for (int i = 0; i < g->n; i++)
        if (g->nodes[i].kind == G_OP)
            for (int k = 0; k < g->nodes[i].nin; k++)
                f->uses[g->nodes[i].in[k]]++;
    /* A name, a state's next value or a value the caller keeps is a reader
     * too: such a node must keep its value and cannot be folded away. */
    for (int k = 0; k < g->nvalues; k++)
        f->uses[g->values[k].node] += 2;
    for (int s = 0; s < g->nstates; s++)
        if (g->states[s].next >= 0)
            f->uses[g->states[s].next] += 2;
    for (int k = 0; k < nkeep; k++)
        if (keep[k] >= 0)
            f->uses[keep[k]] += 2;
}

static bool is_product(const GNode *n) { return n->kind == G_OP && n->op == OP_LINEAR && n->nin == 2; }

static bool same_shape(const GNode *a, const GNode *b)
{
    if (a->batched != b->batched || a->shape.rank != b->shape.rank)
        return false;
    for (int k = 0; k < a->shape.rank; k++)
        if (a->shape.dim[k] != b->shape.dim[k])
            return false;
    return true;
}

/* May product p accumulate onto q? Not when that would pull a hoistable
 * product into the loop. */
static bool may_accumulate(const Fold *f, int p, int q)
{
    return same_shape(&f->g->nodes[p], &f->g->nodes[q]) && (f->loop[p] || !f->loop[q]);
}

/* plain: a = add(P, Q) with P read by a alone becomes linear(x, W, Q). */
static bool fold_plain(Fold *f, int a)
{
    GNode *n = &f->g->nodes[a];
    if (n->kind != G_OP || n->op != OP_ADD || n->nin != 2)
        return false;
    for (int side = 0; side < 2; side++) {
        int p = n->in[side], q = n->in[1 - side];
        const GNode *pn = &f->g->nodes[p];
        if (!is_product(pn) || f->uses[p] != 1 || !same_shape(pn, n) || !may_accumulate(f, p, q))
            continue;
        /* with two products, the one that depends on the state accumulates */
        if (is_product(&f->g->nodes[q]) && f->uses[q] == 1 && f->loop[q] && !f->loop[p])
            continue;
        n->op = OP_LINEAR;
        n->attr = pn->attr;
        n->nin = 3;
        n->in[0] = pn->in[0];
        n->in[1] = pn->in[1];
        n->in[2] = q;
        return true;
    }
    return false;
}

static bool is_slice_of(const GNode *n, int parent) { return n->kind == G_OP && n->op == OP_SLICE && n->in[0] == parent; }

/* How a slice s of product P is read: summed with the same slice of another
 * node (SUM_SLICE, *other its parent), summed with a whole node of the
 * slice's shape (SUM_WHOLE, *other that node), or otherwise (SUM_NONE). *add
 * is the sum. */
typedef enum SumKind { SUM_NONE, SUM_SLICE, SUM_WHOLE } SumKind;

static SumKind slice_sum(const Fold *f, int s, int *other, int *add)
{
    const Graph *g = f->g;
    if (f->uses[s] != 1)
        return SUM_NONE;
    for (int a = s + 1; a < g->n; a++) {
        const GNode *n = &g->nodes[a];
        if (n->kind != G_OP)
            continue;
        bool reads = false;
        for (int k = 0; k < n->nin; k++)
            reads |= n->in[k] == s;
        if (!reads)
            continue;
        if (n->op != OP_ADD || n->nin != 2 || n->in[0] == n->in[1])
            return SUM_NONE;
        int o = n->in[0] == s ? n->in[1] : n->in[0];
        const GNode *on = &g->nodes[o], *sn = &g->nodes[s];
        if (!same_shape(on, sn) || !same_shape(n, sn))
            return SUM_NONE;
        *other = o;
        *add = a;
        if (on->kind == G_OP && on->op == OP_SLICE && on->attr.start == sn->attr.start && on->attr.stop == sn->attr.stop) {
            *other = on->in[0];
            return SUM_SLICE;
        }
        return SUM_WHOLE;
    }
    return SUM_NONE;
}

/* stacked: P's readers are slices, summed with the slices in the same columns
 * of one node Q of P's shape (a cell's gates), or one of them summed with a
 * whole node Q (a rate network's recurrent input, its readout stacked beside
 * it). The summed columns are one stretch [lo, hi) that no unsummed slice
 * reads (the GRU's W_hn h, which r multiplies). P then accumulates onto Q in
 * those columns, and each sum becomes P's slice. */
static bool fold_stacked(Fold *f, int p)
{
    Graph *g = f->g;
    if (!is_product(&g->nodes[p]) || f->uses[p] == 0)
        return false;
    int q = -1, nslices = 0, nslice_sums = 0, nwhole = 0;
    int64_t lo = INT64_MAX, hi = 0, summed = 0;
    for (int s = p + 1; s < g->n; s++) {
        const GNode *n = &g->nodes[s];
        bool reads = false;
        for (int k = 0; n->kind == G_OP && k < n->nin; k++)
            reads |= n->in[k] == p;
        if (!reads)
            continue;
        if (!is_slice_of(n, p))
            return false;
        nslices++;
        int other = -1, add = -1;
        SumKind kind = slice_sum(f, s, &other, &add);
        if (kind == SUM_NONE)
            continue;
        if ((q >= 0 && other != q) || other == p)
            return false;
        q = other;
        nslice_sums += kind == SUM_SLICE;
        nwhole += kind == SUM_WHOLE;
        lo = n->attr.start < lo ? n->attr.start : lo;
        hi = n->attr.stop > hi ? n->attr.stop : hi;
        summed += n->attr.stop - n->attr.start;
    }
    if (nslices != f->uses[p] || q < 0 || q > p || summed != hi - lo)
        return false;
    bool by_slices = nwhole == 0 && same_shape(&g->nodes[q], &g->nodes[p]);
    bool by_whole = nwhole == 1 && nslice_sums == 0;
    if (!(by_slices || by_whole) || !(f->loop[p] || !f->loop[q]))
        return false;
    /* An unsummed slice must not read the columns that now hold the sums. */
    for (int s = p + 1; s < g->n; s++) {
        const GNode *n = &g->nodes[s];
        int other, add;
        if (is_slice_of(n, p) && n->attr.stop > lo && n->attr.start < hi && slice_sum(f, s, &other, &add) == SUM_NONE)
            return false;
    }
    /* The sums to rewrite, found before any is (a rewritten sum is itself a
     * slice of P). */
    int nsums = 0, *sums = xmalloc((size_t)(nslices + 1) * sizeof *sums), *slices = xmalloc((size_t)(nslices + 1) * sizeof *slices);
    for (int s = p + 1; s < g->n; s++) {
        int other = -1, add = -1;
        if (is_slice_of(&g->nodes[s], p) && slice_sum(f, s, &other, &add) != SUM_NONE)
            slices[nsums] = s, sums[nsums++] = add;
    }
    for (int k = 0; k < nsums; k++) {
        GNode *an = &g->nodes[sums[k]];
        an->op = OP_SLICE;
        an->attr = g->nodes[slices[k]].attr;
        an->nin = 1;
        an->in[0] = p;
        an->in[1] = 0;
    }
    free(sums);
    free(slices);
    GNode *pn = &g->nodes[p];
    pn->nin = 3;
    pn->in[2] = q;
    if (hi - lo < pn->shape.dim[pn->shape.rank - 1])
        pn->attr.start = lo, pn->attr.stop = hi;
    return true;
}

void graph_fold_sums(Graph *g, const int *keep, int nkeep)
{
    Fold f = { g, xcalloc((size_t)g->n + 1, sizeof *f.uses), xcalloc((size_t)g->n + 1, sizeof *f.loop) };
    for (int i = 0; i < g->n; i++) {
        const GNode *n = &g->nodes[i];
        f.loop[i] = n->kind == G_STATE || n->kind == G_NOISE || n->kind == G_TIME;
        for (int k = 0; n->kind == G_OP && k < n->nin; k++)
            f.loop[i] |= f.loop[n->in[k]];
    }
    count_uses(&f, keep, nkeep);
    for (int i = 0; i < g->n; i++)
        if (fold_stacked(&f, i) || fold_plain(&f, i))
            count_uses(&f, keep, nkeep);
    free(f.uses);
    free(f.loop);
}
