/* plan.c: ordering, fusion and buffers for one run of a step graph (plan.h).
 *
 * Fusion rule. Loop nodes are visited in id order (a topological order). An
 * elementwise node joins the fused group of one of its inputs when the group
 * has the same row shape and is still open; a group closes ("seals") as soon as
 * any node outside it reads one of its values. A sealed group can take no more
 * members, so no member can depend on a value computed after the group runs,
 * and the group runs at the place of its last member.
 */
#include "plan.h"
#include "xalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int64_t row_len(const GNode *n) { return n->shape.rank == 0 ? 1 : n->shape.dim[n->shape.rank - 1]; }

static int64_t inner_rows(const GNode *n)
{
    int64_t r = 1;
    for (int k = 0; k + 1 < n->shape.rank; k++)
        r *= n->shape.dim[k];
    return r;
}

static bool fusable(const Plan *p, int i)
{
    const GNode *n = &p->g->nodes[i];
    return n->kind == G_OP && p->seg[i] == SEG_LOOP && ops_get(n->op)->ew_fwd && n->shape.rank <= 1;
}

static int add_buf(Plan *p, PlanBuf b)
{
    p->bufs = xrealloc(p->bufs, (size_t)(p->nbufs + 1) * sizeof *p->bufs);
    p->bufs[p->nbufs] = b;
    return p->nbufs++;
}

static bool alloc_buf(Plan *p, int node, int64_t rows, int64_t ld, int period, Diags *d, Span at)
{
    const GNode *n = &p->g->nodes[node];
    double bytes = (double)rows * (double)ld * (double)period * (double)sizeof(real);
    if (bytes > (double)tensor_max_bytes || rows <= 0 || ld <= 0) {
        diag_error(d, at, "the values of %s over %d step%s need %.1f GB, more than the limit of %.1f GB",
                   n->label ? n->label : "a computation", period, period == 1 ? "" : "s", bytes / 1e9,
                   (double)tensor_max_bytes / 1e9);
        return false;
    }
    real *data = tensor_alloc_real(rows * ld * period);
    if (!data) {
        diag_error(d, at, "out of memory allocating %.1f MB for %s", bytes / 1e6, n->label ? n->label : "a computation");
        return false;
    }
    p->bytes += (int64_t)bytes;
    p->ref[node] = (PlanRef){ add_buf(p, (PlanBuf){ data, true, rows, ld, rows * ld, period, NULL, 0 }), 0, 0 };
    return true;
}

static int buf_period(const Plan *p, int node)
{
    const PlanRef *r = &p->ref[node];
    return r->buf >= 0 ? p->bufs[r->buf].period : 1;
}

real *plan_value(const Plan *p, int node, int64_t t, int64_t *ld, int64_t *rows)
{
    const PlanRef *r = &p->ref[node];
    if (r->buf < 0)
        return NULL;
    const PlanBuf *b = &p->bufs[r->buf];
    int64_t slot = (t + r->shift) % b->period;
    if (ld)
        *ld = b->ld;
    if (rows)
        *rows = b->rows;
    return b->data + slot * b->slot + r->col0;
}

/* ---- building ------------------------------------------------------------- */

static void mark_live(Plan *p)
{
    const Graph *g = p->g;
    for (int s = 0; s < g->nstates; s++)
        if (g->states[s].next >= 0)
            p->live[g->states[s].next] = p->live[g->states[s].cur] = true;
    for (int k = 0; k < p->spec.nwanted; k++)
        if (p->spec.wanted[k] >= 0)
            p->live[p->spec.wanted[k]] = true;
    for (int i = g->n - 1; i >= 0; i--)
        if (p->live[i] && g->nodes[i].kind == G_OP)
            for (int k = 0; k < g->nodes[i].nin; k++)
                p->live[g->nodes[i].in[k]] = true;
}

static bool across_rows(OpKind op)
{
    switch (op) {
    case OP_MSE: case OP_CROSS_ENTROPY: case OP_NLL: case OP_BCE: case OP_SUM: case OP_MEAN:
    case OP_L1: case OP_L2: case OP_MAX_ALL: case OP_MIN_ALL: case OP_SUM_BATCH: case OP_OUTER:
        return true;
    default:
        return false;
    }
}

static void assign_segments(Plan *p)
{
    const Graph *g = p->g;
    bool *changing = xcalloc((size_t)g->n + 1, 1);
    for (int k = 0; k < p->spec.nchanging; k++)
        changing[p->spec.changing[k]] = true;
    for (int i = 0; i < g->n; i++) {
        const GNode *n = &g->nodes[i];
        switch (n->kind) {
        case G_PARAM:
        case G_CONST:
            p->seg[i] = SEG_PRE;
            break;
        case G_INPUT:
            p->seg[i] = SEG_HOIST;
            break;
        case G_STATE:
        case G_NOISE:
        case G_TIME:
            p->seg[i] = SEG_LOOP;
            break;
        case G_OP: {
            Segment s = SEG_PRE;
            for (int k = 0; k < n->nin; k++)
                if (p->seg[n->in[k]] > s)
                    s = p->seg[n->in[k]];
            /* A product of a constant and plastic weights changes with the
             * weights; one of an input is hoisted, and the rule recomputes it. */
            for (int k = 0; k < n->nin && s == SEG_PRE; k++)
                if (changing[n->in[k]])
                    s = SEG_LOOP;
            /* A hoisted op runs once over every step's rows; one that sums across
             * rows (a loss, a mean) would mix the steps, so it stays in the loop. */
            if (s == SEG_HOIST && across_rows(n->op))
                s = SEG_LOOP;
            p->seg[i] = s;
            break;
        }
        }
    }
    /* A state's next value is written every step. */
    for (int s = 0; s < g->nstates; s++)
        if (g->states[s].next >= 0)
            p->seg[g->states[s].next] = SEG_LOOP;
    /* Hoisting pays for a product, which becomes one GEMM over all steps; an
     * elementwise op or a slice read only inside the loop costs a pass of
     * its own over every step when hoisted, and nothing when it joins the
     * loop's fused pass (the GRU's W_in x + b_in of the candidate). Consumers
     * first, so a chain moves whole. */
    for (int i = g->n - 1; i >= 0; i--) {
        const GNode *n = &g->nodes[i];
        if (p->seg[i] != SEG_HOIST || n->kind != G_OP || !p->live[i] || (!ops_get(n->op)->ew_fwd && n->op != OP_SLICE))
            continue;
        bool loop_only = true, read = false;
        for (int k = 0; k < p->spec.nwanted && loop_only; k++)
            loop_only = p->spec.wanted[k] != i;
        for (int j = i + 1; j < g->n && loop_only; j++)
            for (int k = 0; p->live[j] && g->nodes[j].kind == G_OP && k < g->nodes[j].nin; k++)
                if (g->nodes[j].in[k] == i) {
                    read = true;
                    loop_only &= p->seg[j] == SEG_LOOP;
                }
        if (loop_only && read)
            p->seg[i] = SEG_LOOP;
    }
    free(changing);
}

static void form_groups(Plan *p, int *ngroups)
{
    const Graph *g = p->g;
    bool *sealed = xcalloc((size_t)g->n + 1, 1);
    int next_group = 0;
    for (int i = 0; i < g->n; i++) {
        p->group[i] = -1;
        if (!p->live[i] || g->nodes[i].kind != G_OP)
            continue;
        const GNode *n = &g->nodes[i];
        if (fusable(p, i)) {
            int best = -1;
            for (int k = 0; k < n->nin; k++) {
                int in = n->in[k], gr = p->group[in];
                if (gr < 0 || sealed[gr])
                    continue;
                const GNode *x = &g->nodes[in];
                if (x->batched == n->batched && row_len(x) == row_len(n) && gr > best)
                    best = gr;
            }
            /* Independent chains that meet here (an LSTM's gates meeting in
             * c * f + z * i) become one group: no node outside an open group
             * reads its values, so all of them can run where this node does. */
            for (int k = 0; k < n->nin && best >= 0; k++) {
                int in = n->in[k], gr = p->group[in];
                const GNode *x = &g->nodes[in];
                if (gr < 0 || gr == best || sealed[gr] || x->batched != n->batched || row_len(x) != row_len(n))
                    continue;
                for (int j = 0; j < i; j++)
                    if (p->group[j] == gr)
                        p->group[j] = best;
            }
            p->group[i] = best >= 0 ? best : next_group++;
        }
        for (int k = 0; k < n->nin; k++) {
            int gr = p->group[n->in[k]];
            if (gr >= 0 && gr != p->group[i])
                sealed[gr] = true;
        }
    }
    free(sealed);
    *ngroups = next_group;
}

/* Is a slice read only by fused groups, so it can be a view of its parent? */
static bool slice_is_view(const Plan *p, int i)
{
    const Graph *g = p->g;
    const GNode *n = &g->nodes[i];
    if (n->kind != G_OP || n->op != OP_SLICE || n->shape.rank != 1 || !p->live[i])
        return false;
    for (int s = 0; s < g->nstates; s++)
        if (g->states[s].next == i)
            return false;
    for (int j = i + 1; j < g->n; j++) {
        if (!p->live[j] || g->nodes[j].kind != G_OP)
            continue;
        for (int k = 0; k < g->nodes[j].nin; k++)
            if (g->nodes[j].in[k] == i && p->group[j] < 0)
                return false;
    }
    return true;
}

static bool needs_buffer(const Plan *p, int i)
{
    const Graph *g = p->g;
    if (p->group[i] < 0)
        return true;
    for (int k = 0; k < p->spec.nwanted; k++)
        if (p->spec.wanted[k] == i)
            return true;
    for (int j = i + 1; j < g->n; j++) {
        if (!p->live[j] || g->nodes[j].kind != G_OP)
            continue;
        for (int k = 0; k < g->nodes[j].nin; k++)
            if (g->nodes[j].in[k] == i && p->group[j] != p->group[i])
                return true;
    }
    return false;
}

/* May product i, c + x W^T (fold.h), accumulate in c's own buffer, as cuDNN's
 * recurrent GEMM does onto the input projection? Where nothing else reads the
 * hoisted c, whose slot t then holds the product of step t. Not with
 * recomputation, which runs the loop twice over the same c. */
static bool accumulates_in_place(const Plan *p, int i)
{
    const Graph *g = p->g;
    const GNode *n = &g->nodes[i];
    if (n->op != OP_LINEAR || n->nin != 3 || n->attr.stop > 0 || p->seg[i] != SEG_LOOP ||
        (p->spec.recompute > 0 && p->spec.recompute < p->spec.steps))
        return false;
    int c = n->in[2];
    const PlanRef *r = &p->ref[c];
    if (p->seg[c] != SEG_HOIST || r->buf < 0 || r->col0 != 0 || r->shift != 0 || !p->bufs[r->buf].owned ||
        p->bufs[r->buf].ld != row_len(n) || p->bufs[r->buf].period != p->spec.steps)
        return false;
    for (int k = 0; k < p->spec.nwanted; k++)
        if (p->spec.wanted[k] == c)
            return false;
    for (int j = 0; j < g->n; j++)
        for (int k = 0; j != i && p->live[j] && g->nodes[j].kind == G_OP && k < g->nodes[j].nin; k++)
            if (g->nodes[j].in[k] == c)
                return false;
    return true;
}

static bool assign_buffers(Plan *p, Diags *d, Span at)
{
    const Graph *g = p->g;
    const int64_t B = p->spec.batch, T = p->spec.steps;
    /* storing: every step; with recomputation, the steps of one segment */
    const int loop_period = !p->spec.store ? 1 : p->spec.recompute > 0 && p->spec.recompute < T ? (int)p->spec.recompute : (int)T;
    for (int i = 0; i < g->n; i++)
        p->ref[i] = (PlanRef){ -1, 0, 0 };
    /* Leaves. */
    for (int i = 0; i < g->n; i++) {
        const GNode *n = &g->nodes[i];
        if (!p->live[i])
            continue;
        switch (n->kind) {
        case G_PARAM:
            p->ref[i].buf = add_buf(p, (PlanBuf){ n->tensor->data, false, inner_rows(n), row_len(n), n->tensor->size, 1, NULL, 0 });
            break;
        case G_CONST:
        case G_TIME:
            if (!alloc_buf(p, i, 1, 1, 1, d, at))
                return false;
            p->bufs[p->ref[i].buf].data[0] = (real)n->value;
            break;
        case G_STATE:
            if (!alloc_buf(p, i, B, row_len(n), p->spec.store ? (int)T + 1 : 2, d, at))
                return false;
            break;
        case G_NOISE:
            if (!alloc_buf(p, i, B, row_len(n), loop_period, d, at))
                return false;
            break;
        case G_INPUT: {
            Tensor *data = n->index < p->spec.ninputs && p->spec.inputs ? p->spec.inputs[n->index] : NULL;
            if (p->spec.own_inputs) {
                if (!alloc_buf(p, i, B, row_len(n), (int)T, d, at))
                    return false;
            } else if (data) {
                p->ref[i].buf = add_buf(p, (PlanBuf){ data->data, false, B, row_len(n), B * row_len(n), (int)T, NULL, 0 });
            } else if (!alloc_buf(p, i, B, row_len(n), 1, d, at)) {
                return false;
            }
            break;
        }
        case G_OP:
            break;
        }
    }
    /* A state's next value lands in the state's ring, one slot ahead. */
    for (int s = 0; s < g->nstates; s++) {
        int next = g->states[s].next;
        if (next >= 0 && p->live[next])
            p->ref[next] = (PlanRef){ p->ref[g->states[s].cur].buf, 0, 1 };
    }
    for (int i = 0; i < g->n; i++) {
        const GNode *n = &g->nodes[i];
        if (!p->live[i] || n->kind != G_OP || p->ref[i].buf >= 0)
            continue;
        if (slice_is_view(p, i) && p->ref[n->in[0]].buf >= 0) {
            p->ref[i] = p->ref[n->in[0]];
            p->ref[i].col0 += n->attr.start;
            continue;
        }
        if (!needs_buffer(p, i))
            continue;
        if (accumulates_in_place(p, i)) {
            p->ref[i] = p->ref[n->in[2]];
            continue;
        }
        int64_t rows = inner_rows(n) * (n->batched ? B : 1);
        int period = 1;
        if (p->seg[i] == SEG_LOOP)
            period = loop_period;
        else if (p->seg[i] == SEG_HOIST)
            for (int k = 0; k < n->nin; k++)
                if (buf_period(p, n->in[k]) > period)
                    period = buf_period(p, n->in[k]);
        if (!alloc_buf(p, i, rows, row_len(n), period, d, at))
            return false;
    }
    return true;
}

static void add_step(Plan *p, PlanStep s)
{
    p->steps = xrealloc(p->steps, (size_t)(p->nsteps + 1) * sizeof *p->steps);
    p->steps[p->nsteps++] = s;
}

/* A tensor header for node i as an op reads it (data set per step). */
static Tensor header(const Plan *p, int i, int64_t rows_scale)
{
    const GNode *n = &p->g->nodes[i];
    if (n->kind == G_PARAM)
        return *n->tensor;
    Tensor t = { 0 };
    int r = 0;
    if (n->batched)
        t.dim[r++] = p->spec.batch * rows_scale;
    for (int k = 0; k < n->shape.rank && r < TENSOR_MAX_RANK; k++)
        t.dim[r++] = n->shape.dim[k];
    t.rank = r;
    t.size = 1;
    for (int k = 0; k < r; k++)
        t.size *= t.dim[k];
    for (int k = r; k < TENSOR_MAX_RANK; k++)
        t.dim[k] = 1;
    t.name = n->label;
    return t;
}

static bool add_op_step(Plan *p, int i, Diags *d, Span at)
{
    const GNode *n = &p->g->nodes[i];
    PlanStep s = { .kind = STEP_OP, .seg = p->seg[i], .node = i };
    /* Hoisted ops run once over every step's rows: [period * B, ...]. */
    int64_t scale = p->seg[i] == SEG_HOIST ? buf_period(p, i) : 1;
    for (int k = 0; k < n->nin; k++) {
        int in = n->in[k];
        const PlanRef *r = &p->ref[in];
        bool contiguous = r->buf >= 0 && (p->g->nodes[in].kind == G_PARAM || r->col0 == 0) &&
                          (p->g->nodes[in].kind == G_PARAM || p->bufs[r->buf].ld == row_len(&p->g->nodes[in]));
        if (!contiguous) {
            diag_error(d, at, "internal: %s reads a value that is not contiguous", ops_get(n->op)->name);
            return false;
        }
        int64_t in_scale = p->seg[i] == SEG_HOIST && buf_period(p, in) > 1 ? scale : 1;
        s.in[k] = header(p, in, in_scale);
    }
    s.out = header(p, i, scale);
    add_step(p, s);
    return true;
}

static void build_fused(Plan *p, int group, int last)
{
    const Graph *g = p->g;
    PlanStep s = { .kind = STEP_FUSED, .seg = SEG_LOOP, .node = last };
    int members = 0;
    for (int i = 0; i <= last; i++)
        members += p->group[i] == group;
    int *reg = xmalloc((size_t)(last + 1) * sizeof *reg);   /* node -> register */
    for (int i = 0; i <= last; i++)
        reg[i] = -1;
    int *ins = xmalloc((size_t)(members * 3 + 1) * sizeof *ins);
    int nin = 0;
    for (int i = 0; i <= last; i++) {
        if (p->group[i] != group)
            continue;
        for (int k = 0; k < g->nodes[i].nin; k++) {
            int x = g->nodes[i].in[k];
            if (p->group[x] == group || reg[x] >= 0)
                continue;
            reg[x] = nin;
            ins[nin++] = x;
        }
    }
    FusedProgram *prog = &s.prog;
    prog->nin = nin;
    prog->code = xmalloc((size_t)members * sizeof *prog->code);
    prog->out = xmalloc((size_t)members * sizeof *prog->out);
    s.prog_out = xmalloc((size_t)members * sizeof *s.prog_out);
    for (int i = 0; i <= last; i++) {
        if (p->group[i] != group)
            continue;
        const GNode *n = &g->nodes[i];
        FusedInstr *f = &prog->code[prog->ncode];
        *f = (FusedInstr){ .op = ops_get(n->op), .attr = n->attr, .nin = n->nin };
        for (int k = 0; k < n->nin; k++)
            f->in[k] = reg[n->in[k]];
        reg[i] = prog->nin + prog->ncode++;
        if (p->ref[i].buf >= 0) {
            prog->out[prog->nout] = reg[i];
            s.prog_out[prog->nout++] = i;
        }
    }
    prog->rows = g->nodes[last].batched ? p->spec.batch : 1;
    prog->n = row_len(&g->nodes[last]);
    /* Short rows (a small population, many trials): when every operand is a
     * scalar or a whole contiguous [B, n] buffer, the group runs as one long
     * row, so blocks stay full and the kernels vectorise. */
    bool flat = prog->rows > 1 && prog->n < OPS_BLOCK;
    for (int k = 0; flat && k < nin; k++) {
        const GNode *x = &g->nodes[ins[k]];
        const PlanRef *r = &p->ref[ins[k]];
        bool scalar = !x->batched && tensor_shape_size(&x->shape) == 1;
        flat = scalar || (x->batched && r->buf >= 0 && r->col0 == 0 && p->bufs[r->buf].ld == prog->n);
    }
    for (int k = 0; flat && k < prog->nout; k++) {
        const PlanRef *r = &p->ref[s.prog_out[k]];
        flat = r->col0 == 0 && p->bufs[r->buf].ld == prog->n;
    }
    if (flat) {
        prog->n *= prog->rows;
        prog->rows = 1;
    }
    s.prog_in = ins;
    free(reg);
    int64_t need = fused_scratch_size(prog, p->spec.store);
    if (need > p->scratch_size)
        p->scratch_size = need;
    add_step(p, s);
}

bool plan_build(Plan *p, const Graph *g, const PlanSpec *spec, Diags *d, Span at)
{
    memset(p, 0, sizeof *p);
    p->g = g;
    p->spec = *spec;
    p->ref = xcalloc((size_t)g->n + 1, sizeof *p->ref);
    p->live = xcalloc((size_t)g->n + 1, sizeof *p->live);
    p->seg = xcalloc((size_t)g->n + 1, sizeof *p->seg);
    p->group = xcalloc((size_t)g->n + 1, sizeof *p->group);
    mark_live(p);
    assign_segments(p);
    int ngroups;
    form_groups(p, &ngroups);
    if (!assign_buffers(p, d, at)) {
        plan_fini(p);
        return false;
    }
    /* pre, then hoist, then the loop: time, noise, ops and groups in order. */
    for (Segment seg = SEG_PRE; seg <= SEG_HOIST; seg++)
        for (int i = 0; i < g->n; i++)
            if (p->live[i] && p->seg[i] == seg && g->nodes[i].kind == G_OP && !(slice_is_view(p, i) && p->ref[i].buf >= 0 && p->ref[i].buf == p->ref[g->nodes[i].in[0]].buf))
                if (!add_op_step(p, i, d, at)) {
                    plan_fini(p);
                    return false;
                }
    for (int i = 0; i < g->n; i++) {
        if (!p->live[i])
            continue;
        if (g->nodes[i].kind == G_TIME)
            add_step(p, (PlanStep){ .kind = STEP_TIME, .seg = SEG_LOOP, .node = i });
        if (g->nodes[i].kind == G_NOISE) {
            PlanStep s = { .kind = STEP_NOISE, .seg = SEG_LOOP, .node = i };
            s.rng = rng_stream(&p->spec.noise, (uint64_t)i);
            add_step(p, s);
        }
    }
    int *last = xmalloc((size_t)(ngroups + 1) * sizeof *last);
    for (int k = 0; k < ngroups; k++)
        last[k] = -1;
    for (int i = 0; i < g->n; i++)
        if (p->group[i] >= 0)
            last[p->group[i]] = i;
    for (int i = 0; i < g->n; i++) {
        if (!p->live[i] || p->seg[i] != SEG_LOOP || g->nodes[i].kind != G_OP)
            continue;
        if (p->group[i] >= 0) {
            if (last[p->group[i]] == i)
                build_fused(p, p->group[i], i);
            continue;
        }
        if (slice_is_view(p, i) && p->ref[i].buf == p->ref[g->nodes[i].in[0]].buf)
            continue;
        if (!add_op_step(p, i, d, at)) {
            free(last);
            plan_fini(p);
            return false;
        }
    }
    free(last);
    if (p->scratch_size) {
        p->scratch = tensor_alloc_real(p->scratch_size);
        p->bytes += p->scratch_size * (int64_t)sizeof(real);
    }
    return true;
}

void plan_fini(Plan *p)
{
    for (int i = 0; i < p->nbufs; i++) {
        if (p->bufs[i].owned)
            tensor_free_real(p->bufs[i].data);
        tensor_free_real(p->bufs[i].grad);
    }
    for (int i = 0; i < p->nsteps; i++) {
        free(p->steps[i].prog.code);
        free(p->steps[i].prog.out);
        free(p->steps[i].prog_in);
        free(p->steps[i].prog_out);
    }
    tensor_free_real(p->scratch);
    free(p->bufs);
    free(p->steps);
    free(p->ref);
    free(p->live);
    free(p->seg);
    free(p->group);
    memset(p, 0, sizeof *p);
}

/* ---- running -------------------------------------------------------------- */

static void operand(const Plan *p, int node, int64_t t, FusedOperand *o)
{
    const GNode *n = &p->g->nodes[node];
    int64_t ld = 0;
    o->data = plan_value(p, node, t, &ld, NULL);
    o->ld = ld;
    o->grad = NULL;
    if (n->batched)
        o->mode = OPERAND_FULL;
    else if (tensor_shape_size(&n->shape) == 1)
        o->mode = OPERAND_SCALAR;
    else
        o->mode = OPERAND_ROW;
}

static void run_step(Plan *p, PlanStep *s, int64_t t)
{
    const Graph *g = p->g;
    switch (s->kind) {
    case STEP_TIME: {
        real *v = plan_value(p, s->node, t, NULL, NULL);
        *v = (real)(p->spec.t0 + (double)t * p->spec.dt + g->nodes[s->node].value);
        return;
    }
    case STEP_NOISE: {
        int64_t ld, rows;
        real *v = plan_value(p, s->node, t, &ld, &rows);
        rng_fill_normal(&s->rng, v, rows * ld, 0, g->nodes[s->node].value);
        return;
    }
    case STEP_OP: {
        const GNode *n = &g->nodes[s->node];
        int64_t tt = s->seg == SEG_LOOP ? t : 0;
        for (int k = 0; k < n->nin; k++)
            if (g->nodes[n->in[k]].kind != G_PARAM)
                s->in[k].data = plan_value(p, n->in[k], tt, NULL, NULL);
        s->out.data = plan_value(p, s->node, tt, NULL, NULL);
        OpCall c = { .op = ops_get(n->op), .attr = &n->attr, .n_in = n->nin, .out = &s->out };
        for (int k = 0; k < n->nin; k++)
            c.in[k] = &s->in[k];
        ops_fwd(&c);
        return;
    }
    case STEP_FUSED: {
        FusedOperand in[s->prog.nin + 1], out[s->prog.nout + 1];
        for (int k = 0; k < s->prog.nin; k++)
            operand(p, s->prog_in[k], t, &in[k]);
        for (int k = 0; k < s->prog.nout; k++)
            operand(p, s->prog_out[k], t, &out[k]);
        fused_fwd(&s->prog, in, out, p->scratch);
        return;
    }
    }
}

void plan_prepare(Plan *p)
{
    for (int i = 0; i < p->nsteps; i++)
        if (p->steps[i].seg != SEG_LOOP)
            run_step(p, &p->steps[i], 0);
}

void plan_step_one(Plan *p, int index, int64_t t) { run_step(p, &p->steps[index], t); }

void plan_step(Plan *p, int64_t t)
{
    for (int i = 0; i < p->nsteps; i++)
        if (p->steps[i].seg == SEG_LOOP)
            run_step(p, &p->steps[i], t);
}

static bool finite_node(const Plan *p, int node, int64_t t)
{
    const GNode *n = &p->g->nodes[node];
    int64_t ld, rows;
    const real *v = plan_value(p, node, t, &ld, &rows);
    if (!v)
        return true;
    int64_t width = n->shape.rank ? n->shape.dim[n->shape.rank - 1] : 1;
    if (p->seg[node] == SEG_HOIST)
        rows *= p->bufs[p->ref[node].buf].period;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < width; j++)
            if (!isfinite(v[r * ld + j]))
                return false;
    return true;
}

bool plan_find_nonfinite(Plan *p, int64_t steps, int *node, int64_t *t)
{
    for (int i = 0; i < p->nsteps; i++)
        if (p->steps[i].seg != SEG_LOOP) {
            run_step(p, &p->steps[i], 0);
            if (p->steps[i].kind == STEP_OP && !finite_node(p, p->steps[i].node, 0)) {
                *node = p->steps[i].node;
                *t = 0;
                return true;
            }
        }
    for (int64_t s = 0; s < steps; s++)
        for (int i = 0; i < p->nsteps; i++) {
            PlanStep *st = &p->steps[i];
            if (st->seg != SEG_LOOP)
                continue;
            run_step(p, st, s);
            if (st->kind == STEP_OP && !finite_node(p, st->node, s)) {
                *node = st->node;
                *t = s;
                return true;
            }
            if (st->kind == STEP_FUSED)
                for (int k = 0; k < st->prog.nout; k++)
                    if (!finite_node(p, st->prog_out[k], s)) {
                        /* name the first instruction whose value is not finite: its
                         * node is the output, or the group's last member */
                        *node = st->prog_out[k];
                        *t = s;
                        return true;
                    }
        }
    return false;
}

void plan_dump(const Plan *p, FILE *out)
{
    static const char *const segs[] = { "pre", "hoist", "loop" };
    for (int i = 0; i < p->nsteps; i++) {
        const PlanStep *s = &p->steps[i];
        const GNode *n = &p->g->nodes[s->node];
        fprintf(out, "%-5s ", segs[s->seg]);
        switch (s->kind) {
        case STEP_TIME: fprintf(out, "time %%%d\n", s->node); break;
        case STEP_NOISE: fprintf(out, "noise %%%d\n", s->node); break;
        case STEP_OP: fprintf(out, "%s %%%d%s%s\n", ops_get(n->op)->name, s->node, n->label ? " " : "", n->label ? n->label : ""); break;
        case STEP_FUSED:
            fprintf(out, "fused[%lldx%lld]", (long long)s->prog.rows, (long long)s->prog.n);
            for (int k = 0; k < s->prog.ncode; k++)
                fprintf(out, " %s", s->prog.code[k].op->name);
            fprintf(out, " -> %d output%s\n", s->prog.nout, s->prog.nout == 1 ? "" : "s");
            break;
        }
    }
}
