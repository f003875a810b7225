/* autodiff.c: the backward pass over a stored plan (see autodiff.h).
 *
 * Each node's gradient is addressed like its value: buffer, column offset and
 * time shift, so a slice view's gradient is a view of its parent's gradient and
 * a state's next value (shift 1) reads the gradient its successor step left.
 */
#include "autodiff.h"
#include "xalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static real *grad_at(const Plan *p, int node, int64_t t)
{
    const PlanRef *r = &p->ref[node];
    if (r->buf < 0)
        return NULL;
    const PlanBuf *b = &p->bufs[r->buf];
    if (!b->grad)
        return NULL;
    int64_t slot = (t + r->shift) % b->grad_period;
    return b->grad + slot * b->slot + r->col0;
}

real *autodiff_state_grad(const Backward *bw, int state_node, int64_t t) { return grad_at(bw->plan, state_node, t); }

/* A node needs a gradient when a learnt parameter reaches it. A state reaches
 * back through its next value, so repeat until the states settle: a
 * population that no learnt weight drives needs none (and a cost over it is
 * caught by the trainer). */
static void mark_needs(Backward *bw, Tensor *const *param_grad)
{
    const Plan *p = bw->plan;
    const Graph *g = p->g;
    for (bool changed = true; changed;) {
        changed = false;
        for (int i = 0; i < g->n; i++) {
            const GNode *n = &g->nodes[i];
            if (n->kind == G_PARAM)
                bw->needs[i] = param_grad[i] != NULL;
            if (n->kind != G_OP || ops_get(n->op)->nondiff)
                continue;
            for (int k = 0; k < n->nin && !bw->needs[i]; k++)
                bw->needs[i] = bw->needs[n->in[k]] && !(ops_get(n->op)->no_grad & (1u << k));
        }
        for (int s = 0; s < g->nstates; s++) {
            int cur = g->states[s].cur, next = g->states[s].next;
            if (next >= 0 && bw->needs[next] && !bw->needs[cur]) {
                bw->needs[cur] = true;
                changed = true;
            }
        }
    }
}

bool autodiff_init(Backward *bw, Plan *p, Tensor *const *param_grad, Diags *d, Span at)
{
    memset(bw, 0, sizeof *bw);
    bw->plan = p;
    const Graph *g = p->g;
    bw->needs = xcalloc((size_t)g->n + 1, sizeof *bw->needs);
    bw->feedback = xcalloc((size_t)g->n + 1, sizeof *bw->feedback);
    mark_needs(bw, param_grad);
    /* Which buffers carry gradients, and how many slots. */
    int *period = xcalloc((size_t)p->nbufs + 1, sizeof *period);
    for (int i = 0; i < g->n; i++) {
        if (!p->live[i] || p->ref[i].buf < 0)
            continue;
        const GNode *n = &g->nodes[i];
        int b = p->ref[i].buf;
        bool wanted = bw->needs[i];
        /* a loss node's gradient is seeded even when nothing learns */
        if (n->kind == G_OP && n->shape.rank == 0 && !n->batched)
            wanted = true;
        if (!wanted)
            continue;
        if (n->kind == G_PARAM) {
            p->bufs[b].grad = param_grad[i] ? param_grad[i]->data : NULL;
            p->bufs[b].grad_period = 1;
            period[b] = -1;   /* borrowed */
            continue;
        }
        int want = 1;
        if (n->kind == G_STATE)
            want = 2;
        else if (p->seg[i] == SEG_HOIST)
            want = p->bufs[b].period;
        if (want > period[b] && period[b] >= 0)
            period[b] = want;
    }
    /* state next nodes share the state's buffer (period 2 then) */
    for (int b = 0; b < p->nbufs; b++) {
        if (period[b] <= 0)
            continue;
        int64_t count = p->bufs[b].slot * period[b];
        p->bufs[b].grad = tensor_alloc_real(count);
        if (!p->bufs[b].grad) {
            diag_error(d, at, "out of memory for the gradients (%.1f MB)", (double)count * sizeof(real) / 1e6);
            free(period);
            autodiff_fini(bw);
            return false;
        }
        p->bufs[b].grad_period = period[b];
        bw->bytes += count * (int64_t)sizeof(real);
    }
    free(period);
    /* The loop values' gradient buffers, zeroed before every step. */
    bw->zero = xmalloc((size_t)(p->nbufs + 1) * sizeof *bw->zero);
    for (int b = 0; b < p->nbufs; b++) {
        if (!p->bufs[b].grad || p->bufs[b].grad_period != 1 || !p->bufs[b].owned)
            continue;
        bool loop = false;
        for (int i = 0; i < g->n && !loop; i++)
            loop = p->ref[i].buf == b && p->seg[i] == SEG_LOOP && g->nodes[i].kind != G_STATE;
        if (loop)
            bw->zero[bw->nzero++] = b;
    }
    /* Fused backward needs the larger scratch. */
    int64_t need = 0;
    for (int i = 0; i < p->nsteps; i++)
        if (p->steps[i].kind == STEP_FUSED) {
            int64_t s = fused_scratch_size(&p->steps[i].prog, true);
            need = s > need ? s : need;
        }
    if (need > p->scratch_size) {
        tensor_free_real(p->scratch);
        p->scratch = tensor_alloc_real(need);
        p->scratch_size = need;
    }
    return true;
}

void autodiff_fini(Backward *bw)
{
    Plan *p = bw->plan;
    if (p)
        for (int b = 0; b < p->nbufs; b++) {
            bool borrowed = false;
            for (int i = 0; i < p->g->n && !borrowed; i++)
                borrowed = p->ref[i].buf == b && p->g->nodes[i].kind == G_PARAM;
            if (!borrowed)
                tensor_free_real(p->bufs[b].grad);
            p->bufs[b].grad = NULL;
            p->bufs[b].grad_period = 0;
        }
    free(bw->needs);
    free(bw->feedback);
    free(bw->zero);
    memset(bw, 0, sizeof *bw);
}

void autodiff_zero(Backward *bw)
{
    Plan *p = bw->plan;
    for (int b = 0; b < p->nbufs; b++) {
        PlanBuf *pb = &p->bufs[b];
        if (!pb->grad || !pb->owned)
            continue;
        memset(pb->grad, 0, (size_t)(pb->slot * pb->grad_period) * sizeof(real));
    }
    /* Buffers the plan borrows (inputs) carry no gradient; parameters are the
     * trainer's to zero. */
}

void autodiff_seed(Backward *bw, int node, int64_t t, real value)
{
    real *g = grad_at(bw->plan, node, t);
    if (g)
        g[0] += value;
}

/* Zeroes the gradients of loop values before a step's backward: each holds
 * one step, and every step accumulates afresh. */
static void zero_loop_grads(Backward *bw)
{
    Plan *p = bw->plan;
    for (int k = 0; k < bw->nzero; k++) {
        PlanBuf *pb = &p->bufs[bw->zero[k]];
        memset(pb->grad, 0, (size_t)pb->slot * sizeof(real));
    }
}

static void op_vjp(Backward *bw, PlanStep *s, int64_t t)
{
    Plan *p = bw->plan;
    const GNode *n = &p->g->nodes[s->node];
    if (!bw->needs[s->node])
        return;
    int64_t tt = s->seg == SEG_LOOP ? t : 0;
    real *gy = grad_at(p, s->node, tt);
    if (!gy)
        return;
    Tensor gout = s->out, gin[OP_MAX_IN];
    gout.data = gy;
    OpCall c = { .op = ops_get(n->op), .attr = &n->attr, .n_in = n->nin, .out = &s->out, .gy = &gout };
    for (int k = 0; k < n->nin; k++) {
        int in = n->in[k];
        if (p->g->nodes[in].kind != G_PARAM)
            s->in[k].data = plan_value(p, in, tt, NULL, NULL);
        c.in[k] = &s->in[k];
        real *g = bw->needs[in] ? grad_at(p, in, tt) : NULL;
        if (g) {
            gin[k] = s->in[k];
            gin[k].data = g;
            c.gin[k] = &gin[k];
        }
    }
    s->out.data = plan_value(p, s->node, tt, NULL, NULL);
    /* Feedback alignment: the weight's own gradient uses W; the input's a fixed B. */
    int w = n->op == OP_LINEAR ? n->in[1] : -1;
    if (w >= 0 && bw->feedback[w] && c.gin[0]) {
        Tensor *gx = c.gin[0];
        c.gin[0] = NULL;
        ops_vjp(&c);
        OpCall fb = c;
        fb.in[1] = bw->feedback[w];
        fb.gin[0] = gx;
        fb.gin[1] = NULL;
        fb.gin[2] = NULL;   /* an accumulated term's gradient came with the first call */
        ops_vjp(&fb);
        return;
    }
    ops_vjp(&c);
}

static void fused_step_vjp(Backward *bw, PlanStep *s, int64_t t)
{
    Plan *p = bw->plan;
    FusedOperand in[s->prog.nin + 1], out[s->prog.nout + 1];
    bool any = false;
    for (int k = 0; k < s->prog.nout; k++) {
        int node = s->prog_out[k];
        int64_t ld = 0;
        out[k].data = plan_value(p, node, t, &ld, NULL);
        out[k].ld = ld;
        out[k].mode = OPERAND_FULL;
        out[k].grad = bw->needs[node] ? grad_at(p, node, t) : NULL;
        any |= out[k].grad != NULL;
    }
    if (!any)
        return;
    for (int k = 0; k < s->prog.nin; k++) {
        int node = s->prog_in[k];
        const GNode *n = &p->g->nodes[node];
        int64_t ld = 0;
        in[k].data = plan_value(p, node, t, &ld, NULL);
        in[k].ld = ld;
        in[k].mode = n->batched ? OPERAND_FULL : tensor_shape_size(&n->shape) == 1 ? OPERAND_SCALAR : OPERAND_ROW;
        in[k].grad = bw->needs[node] ? grad_at(p, node, t) : NULL;
    }
    fused_vjp(&s->prog, in, out, p->scratch);
}

/* Are the gradients a step just wrote into its inputs all finite? */
static bool grad_finite(const Backward *bw, int node, int64_t t)
{
    const Plan *p = bw->plan;
    const GNode *n = &p->g->nodes[node];
    if (!bw->needs[node])
        return true;
    const real *g = grad_at(p, node, t);
    if (!g)
        return true;
    const PlanBuf *b = &p->bufs[p->ref[node].buf];
    int64_t width = n->shape.rank ? n->shape.dim[n->shape.rank - 1] : 1, rows = n->kind == G_PARAM ? n->tensor->size / width : b->rows;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < width; j++)
            if (!isfinite(g[r * b->ld + j]))
                return false;
    return true;
}

static bool inputs_finite(const Backward *bw, const PlanStep *s, int64_t t)
{
    const GNode *n = &bw->plan->g->nodes[s->node];
    if (s->kind == STEP_OP) {
        for (int k = 0; k < n->nin; k++)
            if (!grad_finite(bw, n->in[k], t))
                return false;
        return true;
    }
    for (int k = 0; k < s->prog.nin; k++)
        if (!grad_finite(bw, s->prog_in[k], t))
            return false;
    return true;
}

void autodiff_step(Backward *bw, int64_t t, const int *seed_node, const real *seed, int nseed)
{
    Plan *p = bw->plan;
    const Graph *g = p->g;
    zero_loop_grads(bw);
    for (int k = 0; k < nseed; k++)
        autodiff_seed(bw, seed_node[k], t, seed[k]);
    /* dL/ds(t) starts at 0 and is built by this step's consumers of s(t). */
    for (int s = 0; s < g->nstates; s++) {
        real *gs = grad_at(p, g->states[s].cur, t);
        if (gs) {
            const PlanBuf *b = &p->bufs[p->ref[g->states[s].cur].buf];
            memset(gs, 0, (size_t)b->slot * sizeof(real));
        }
    }
    for (int i = p->nsteps - 1; i >= 0; i--) {
        PlanStep *s = &p->steps[i];
        if (s->seg != SEG_LOOP)
            continue;
        if (s->kind == STEP_OP)
            op_vjp(bw, s, t);
        else if (s->kind == STEP_FUSED)
            fused_step_vjp(bw, s, t);
        if (bw->check && bw->bad_step < 0 && (s->kind == STEP_OP || s->kind == STEP_FUSED) && !inputs_finite(bw, s, t)) {
            bw->bad_step = i;
            bw->bad_t = t;
        }
    }
    /* Truncated BPTT: the chunk starting here sees its first state as fixed. */
    if (bw->window > 0 && t % bw->window == 0)
        for (int s = 0; s < g->nstates; s++) {
            real *gs = grad_at(p, g->states[s].cur, t);
            if (gs)
                memset(gs, 0, (size_t)p->bufs[p->ref[g->states[s].cur].buf].slot * sizeof(real));
        }
}

void autodiff_finish(Backward *bw)
{
    Plan *p = bw->plan;
    for (Segment seg = SEG_HOIST; ; seg = SEG_PRE) {
        for (int i = p->nsteps - 1; i >= 0; i--)
            if (p->steps[i].seg == seg && p->steps[i].kind == STEP_OP)
                op_vjp(bw, &p->steps[i], 0);
        if (seg == SEG_PRE)
            break;
    }
}
