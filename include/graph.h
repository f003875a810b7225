/* graph.h: one time step of the model as a DAG of tensor ops.
 *
 * Leaves are parameters, constants, the state at time t, the inputs at time t,
 * the time itself and white noise; every other node applies an op from the op
 * table to earlier nodes (so node ids are a topological order). Each state
 * variable has an edge from t to t+1: `cur` reads its value at t and `next`
 * computes its value at t+1.
 *
 * Shapes leave the batch out: a node is `batched` when its value differs from
 * trial to trial, and then has shape [B, ...shape] once the plan fixes B. A
 * parameter [n] or a constant [] broadcasts against batched [B, n] values.
 *
 *   E.x (state, [B,800]) --tanh--> E.r --linear(J.w)--> in --\
 *        \______________________________________________________ add/scale --> E.x'
 */
#ifndef CAJAL_GRAPH_H
#define CAJAL_GRAPH_H

#include "ops.h"
#include "tensor.h"

typedef enum GKind {
    G_OP,        /* op(in[0], ..., in[nin-1]) */
    G_PARAM,     /* a model tensor: weights, per-neuron parameters */
    G_CONST,     /* a number */
    G_STATE,     /* a state variable at time t */
    G_INPUT,     /* an input channel at time t */
    G_TIME,      /* t + value (RK4 stages evaluate at t + dt/2) */
    G_NOISE,     /* standard normal draws, fresh every step */
} GKind;

typedef struct GNode {
    GKind kind;
    OpKind op;
    OpAttr attr;
    int nin;
    int in[OP_MAX_IN];
    bool batched;
    Shape shape;           /* without the batch dimension */
    double value;          /* G_CONST, G_TIME offset, G_NOISE scale */
    Tensor *tensor;        /* G_PARAM: borrowed from the model */
    int param;             /* G_PARAM: model parameter index, or -1 for a block */
    int index;             /* G_STATE: graph state; G_INPUT: model input */
    const char *label;     /* "E.r", "J.w": for dumps, records and messages */
} GNode;

typedef struct GState {
    const char *name;      /* "E.x" */
    int model_state;       /* index into Model.states */
    int cur, next;         /* nodes: value at t, value at t+1 */
} GState;

/* A named value the run may record or a cost may read: "E.r", "z". */
typedef struct GValue {
    const char *name;
    int node;
} GValue;

typedef struct Graph {
    GNode *nodes;
    int n, cap;
    GState *states;
    int nstates;
    GValue *values;
    int nvalues;
    char **strings;        /* labels the graph owns */
    int nstrings;
} Graph;

void graph_init(Graph *g);
void graph_fini(Graph *g);

/* Adds a leaf; returns its id. */
int graph_leaf(Graph *g, GKind kind, bool batched, Shape shape, const char *label);
int graph_const(Graph *g, double value);
int graph_param(Graph *g, Tensor *t, int param, const char *label);
/* Adds op(in...) after checking shapes; -1 after reporting a mismatch at `at`.
 * Folds an op of constants into a constant. */
int graph_op(Graph *g, OpKind op, const OpAttr *attr, int nin, const int *in, Diags *d, Span at);
int graph_op1(Graph *g, OpKind op, int a, Diags *d, Span at);
int graph_op2(Graph *g, OpKind op, int a, int b, Diags *d, Span at);

/* Adds a named value (the graph copies the name). */
void graph_name(Graph *g, const char *name, int node);
int graph_find(const Graph *g, const char *name);
const char *graph_own(Graph *g, const char *s);

/* Prints one node per line, for debugging and golden tests. */
void graph_dump(const Graph *g, FILE *out);

#endif
