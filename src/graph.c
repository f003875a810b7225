/* graph.c: building the DAG of one time step (see graph.h). */
#include "graph.h"
#include "xalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void graph_init(Graph *g) { memset(g, 0, sizeof *g); }

void graph_fini(Graph *g)
{
    for (int i = 0; i < g->nstrings; i++)
        free(g->strings[i]);
    free(g->strings);
    free(g->nodes);
    free(g->states);
    free(g->values);
    memset(g, 0, sizeof *g);
}

const char *graph_own(Graph *g, const char *s)
{
    g->strings = xrealloc(g->strings, (size_t)(g->nstrings + 1) * sizeof *g->strings);
    return g->strings[g->nstrings++] = xstrdup(s);
}

static int push(Graph *g, GNode n)
{
    if (g->n == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 64;
        g->nodes = xrealloc(g->nodes, (size_t)g->cap * sizeof *g->nodes);
    }
    g->nodes[g->n] = n;
    return g->n++;
}

int graph_leaf(Graph *g, GKind kind, bool batched, Shape shape, const char *label)
{
    return push(g, (GNode){ .kind = kind, .batched = batched, .shape = shape, .label = label, .param = -1, .index = -1 });
}

int graph_const(Graph *g, double value)
{
    /* Constants are shared: the same number is one node. */
    for (int i = g->n - 1; i >= 0 && i >= g->n - 64; i--)
        if (g->nodes[i].kind == G_CONST && g->nodes[i].value == value)
            return i;
    return push(g, (GNode){ .kind = G_CONST, .value = value, .label = NULL, .param = -1, .index = -1 });
}

int graph_param(Graph *g, Tensor *t, int param, const char *label)
{
    for (int i = 0; i < g->n; i++)
        if (g->nodes[i].kind == G_PARAM && g->nodes[i].tensor == t)
            return i;
    Shape s = tensor_shape(t);
    return push(g, (GNode){ .kind = G_PARAM, .tensor = t, .param = param, .shape = s, .label = label, .index = -1 });
}

/* Evaluates an elementwise op of constants now. */
static bool fold(Graph *g, OpKind op, const OpAttr *attr, int nin, const int *in, double *out)
{
    const Op *o = ops_get(op);
    if (!o->ew_fwd)
        return false;
    real a[3] = { 0 }, y = 0;
    for (int i = 0; i < nin; i++) {
        if (g->nodes[in[i]].kind != G_CONST)
            return false;
        a[i] = (real)g->nodes[in[i]].value;
    }
    o->ew_fwd(1, &y, &a[0], nin > 1 ? &a[1] : NULL, nin > 2 ? &a[2] : NULL, attr);
    *out = y;
    return true;
}

int graph_op(Graph *g, OpKind op, const OpAttr *attr, int nin, const int *in, Diags *d, Span at)
{
    double folded;
    if (fold(g, op, attr, nin, in, &folded))
        return graph_const(g, folded);
    GNode n = { .kind = G_OP, .op = op, .nin = nin, .param = -1, .index = -1 };
    if (attr)
        n.attr = *attr;
    Shape shapes[OP_MAX_IN];
    bool batched = false;
    for (int i = 0; i < nin; i++) {
        const GNode *x = &g->nodes[in[i]];
        n.in[i] = in[i];
        batched = batched || x->batched;
        shapes[i] = x->shape;
    }
    /* Shapes are checked with the batch as a dimension of 1 on batched values
     * against unbatched ones of the same rank; give batched values a leading
     * batch axis so the broadcasting rule sees it. */
    const Op *o = ops_get(op);
    if (batched && o->ew_fwd) {
        /* Sizes that disagree without the batch are reported as the user wrote
         * them ([4] and [3]), not with the stand-in batch below ([2, 4]). */
        Shape out;
        if (o->shape == ops_elementwise_shape && !ops_shape(o, nin, shapes, attr, &out, d, at))
            return -1;
        for (int i = 0; i < nin; i++) {
            const GNode *x = &g->nodes[in[i]];
            if (x->batched) {
                Shape s = { x->shape.rank + 1, { 1 } };
                s.dim[0] = 2;   /* a stand-in batch, distinct from 1 */
                for (int k = 0; k < x->shape.rank && k + 1 < TENSOR_MAX_RANK; k++)
                    s.dim[k + 1] = x->shape.dim[k];
                shapes[i] = s;
            }
        }
    } else if (batched) {
        for (int i = 0; i < nin; i++) {
            const GNode *x = &g->nodes[in[i]];
            if (x->batched && x->shape.rank + 1 <= TENSOR_MAX_RANK) {
                Shape s = { x->shape.rank + 1, { 2 } };
                for (int k = 0; k < x->shape.rank; k++)
                    s.dim[k + 1] = x->shape.dim[k];
                shapes[i] = s;
            }
        }
    }
    Shape out;
    if (!ops_shape(o, nin, shapes, attr, &out, d, at))
        return -1;
    if (batched) {
        /* drop the stand-in batch axis again */
        if (out.rank == 0) {
            batched = false;   /* a reduction over everything: a scalar */
        } else {
            for (int k = 1; k < out.rank; k++)
                out.dim[k - 1] = out.dim[k];
            out.dim[--out.rank] = 1;
        }
    }
    n.batched = batched;
    n.shape = out;
    return push(g, n);
}

int graph_op1(Graph *g, OpKind op, int a, Diags *d, Span at) { return graph_op(g, op, NULL, 1, &a, d, at); }

int graph_op2(Graph *g, OpKind op, int a, int b, Diags *d, Span at)
{
    int in[2] = { a, b };
    return graph_op(g, op, NULL, 2, in, d, at);
}

void graph_name(Graph *g, const char *name, int node)
{
    for (int i = 0; i < g->nvalues; i++)
        if (strcmp(g->values[i].name, name) == 0) {
            g->values[i].node = node;
            return;
        }
    g->values = xrealloc(g->values, (size_t)(g->nvalues + 1) * sizeof *g->values);
    g->values[g->nvalues++] = (GValue){ graph_own(g, name), node };
}

int graph_find(const Graph *g, const char *name)
{
    for (int i = 0; i < g->nvalues; i++)
        if (strcmp(g->values[i].name, name) == 0)
            return g->values[i].node;
    return -1;
}

void graph_dump(const Graph *g, FILE *out)
{
    static const char *const kinds[] = { "op", "param", "const", "state", "input", "time", "noise" };
    for (int i = 0; i < g->n; i++) {
        const GNode *n = &g->nodes[i];
        char shape[64];
        tensor_shape_fmt(&n->shape, shape, sizeof shape);
        fprintf(out, "%%%d = %s", i, n->kind == G_OP ? ops_get(n->op)->name : kinds[n->kind]);
        if (n->kind == G_OP)
            for (int k = 0; k < n->nin; k++)
                fprintf(out, "%s%%%d", k ? ", " : " ", n->in[k]);
        if (n->kind == G_CONST || n->kind == G_TIME)
            fprintf(out, " %g", n->value);
        fprintf(out, "  %s%s", n->batched ? "[B]+" : "", shape);
        if (n->label)
            fprintf(out, "  \"%s\"", n->label);
        fputc('\n', out);
    }
    for (int i = 0; i < g->nstates; i++)
        fprintf(out, "state %s: %%%d -> %%%d\n", g->states[i].name, g->states[i].cur, g->states[i].next);
}
