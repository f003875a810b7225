/* model.h: the network the declarations describe, with its parameters.
 *
 * Built from the checked environment (check.h) at the first run statement after
 * a declaration changed: populations with their neuron or cell models and
 * per-neuron parameters, inputs and outputs, synapses with their weights, and
 * the state each population carries between runs. The model owns every
 * parameter tensor. A rebuild keeps every parameter whose name and shape still
 * match and lists those it re-initialised.
 *
 * Weight storage is arranged for the graph: dense synapses that read the same
 * presynaptic side (with the same sign) are stacked into one block, so one GEMM
 * computes them all; each synapse's `w` is a view of its rows of the block:
 *
 *   block [n_E + n_I, n_E]     E_to_E.w   rows 0 .. n_E
 *   (pre = E, sign none)       E_to_I.w   rows n_E .. n_E + n_I
 *
 * Cells stack their affine maps the same way: every W_in of a cell population in
 * one block, every W_h in another (the gates' GEMM, as cuDNN does).
 */
#ifndef CAJAL_MODEL_H
#define CAJAL_MODEL_H

#include "check.h"
#include "ops.h"
#include "rng.h"
#include "tensor.h"

typedef struct ModelParam {
    char *name;            /* "J.w", "E.tau", "L.f.W_in" */
    Tensor *value;         /* owned, or a view of rows of a block */
    bool view;             /* value is a view into a ModelBlock */
    bool learn;            /* trained by gradients */
    int sign;              /* Dale's law: +1 or -1, value is a magnitude; 0 for none */
    bool no_self;          /* the diagonal stays 0 */
    Tensor *mask;          /* dense synapse with p: 1 where connected, else NULL */
    Csr *csr;              /* sparse synapse: the pattern (owned); value holds nnz reals */
    Span at;               /* the declaration, for messages */
    Tensor *grad;          /* dL/dvalue when training (model_alloc_grads), like value */
} ModelParam;

/* Rows of several parameters in one contiguous matrix (see above). */
typedef struct ModelBlock {
    Tensor *value;         /* [sum of rows, cols], owned */
    int *members;          /* parameter indices, in row order */
    int64_t *row0;         /* first row of each member */
    int nmembers;
    int sign;              /* applied as the GEMM's alpha */
    Tensor *grad;          /* its members' gradients are views of its rows */
} ModelBlock;

/* Where a value a synapse or cell reads comes from. */
typedef enum PortKind { PORT_POP, PORT_INPUT, PORT_OUTPUT } PortKind;
typedef struct PortRef {
    PortKind kind;
    int index;             /* into pops, inputs or outputs */
} PortRef;

/* A neuron parameter as a population sees it: a constant (scalar or function)
 * or a per-neuron tensor drawn or loaded. */
typedef struct PopParam {
    bool per_neuron;
    double value;          /* !per_neuron, numbers */
    const char *func;      /* !per_neuron, function-valued (phi = relu) */
    int param;             /* per_neuron: index into params */
} PopParam;

/* One affine(...) call site of a cell: `f = sigmoid(affine(in, h))`. */
typedef struct AffineSite {
    const Node *call;      /* the affine(...) node in the cell's body */
    int nargs;
    Name arg_name[OP_MAX_IN];   /* "in", "h" */
    int weight[OP_MAX_IN]; /* parameter index of W_<arg> */
    int block[OP_MAX_IN];  /* the stacked block holding it */
    int bias;              /* parameter index of b */
} AffineSite;

typedef struct ModelPop {
    const Decl *decl;
    Name name;
    int64_t n;
    const Decl *model;     /* the neuron or cell */
    const ModelInfo *info;
    const Node **args;     /* the population's arguments, bound to the model's parameters */
    PopParam *params;      /* one per model parameter */
    int *state;            /* per info var: index into states, or -1 (aliases) */
    PortRef *sources;      /* cells: the `from` sources, concatenated into in */
    int nsources;
    int64_t n_in;          /* cells: size of in */
    AffineSite *sites;
    int nsites;
} ModelPop;

typedef struct ModelPort {
    const Decl *decl;
    Name name;
    int64_t n;
} ModelPort;

typedef struct ModelSyn {
    const Decl *decl;
    Name name;
    PortRef pre, post;
    Name target;           /* post variable fed, NULL for `in` */
    int64_t rank;          /* low rank k, 0 otherwise */
    bool sparse, one_to_one, learn;
    int sign;
    int w, m, n;           /* parameter indices (-1 when absent) */
    int block;             /* dense: the stacked block holding w, or -1 */
} ModelSyn;

/* A state variable of a population, such as E.x; value carries on between runs. */
typedef struct ModelState {
    char *name;            /* "E.x" */
    int pop;
    int var;               /* index into the population's info->vars */
    int64_t n;
    const Node *init;      /* init x ~ DIST / init x = VALUE, or NULL for 0 */
    Tensor *value;         /* [B, n] at the end of the last run, or NULL */
} ModelState;

/* A plasticity trace's values at the end of the last simulate, so that
 * `continue` resumes the rule where it stopped (plasticity.h). */
typedef struct ModelTrace {
    char *name;            /* "J.theta": synapse and trace */
    Tensor *value;         /* [B, n] */
} ModelTrace;

typedef struct Model {
    ModelPop *pops;
    int npops;
    ModelPort *inputs, *outputs;
    int ninputs, noutputs;
    ModelSyn *syns;
    int nsyns;
    ModelParam *params;
    int nparams;
    ModelBlock *blocks;
    int nblocks;
    ModelState *states;
    int nstates;
    ModelTrace *traces;
    int ntraces;
    const Decl **decls;    /* what it was built from, to see when to rebuild */
    int ndecls;
    uint64_t seed;
    uint64_t runs;         /* counts runs, so each draws fresh initial states and noise */
} Model;

/* Builds the model of the live declarations in env, drawing initial parameters
 * from seed. Parameters of `old` (may be NULL) whose name and shape match are
 * kept; the names of those re-initialised are written to *reinit (a
 * comma-separated list the caller frees, or NULL). Returns NULL after reporting. */
Model *model_build(const Env *env, const Model *old, uint64_t seed, Diags *d, Span at, char **reinit);
void model_free(Model *m);

/* True when a declaration the model depends on changed since it was built. */
bool model_stale(const Model *m, const Env *env);

int model_find_param(const Model *m, const char *name);
int model_find_pop(const Model *m, Name name);
int model_find_state(const Model *m, const char *name);

/* The stream of random numbers for a named purpose ("J.w", "E.x#3"): the same
 * seed and name give the same numbers, whatever else the script declares. */
Rng model_stream(const Model *m, const char *name);

/* Draws state `state`'s initial value for `batch` trials into out ([batch, n]):
 * its `init` (a draw or a value) or 0. `tag` names the draw ("3" for the fourth
 * run), so each run draws afresh and the same seed draws the same. */
bool model_draw_init(const Model *m, const Env *env, int state, const char *tag, real *out, int64_t batch, Diags *d);

/* Allocates a gradient tensor for every parameter (views into block gradients
 * for stacked weights). Idempotent; false after reporting. */
bool model_alloc_grads(Model *m, Diags *d, Span at);
void model_zero_grads(Model *m);
/* The gradient a graph's G_PARAM leaf on tensor t accumulates into: the
 * parameter's or the block's, or NULL when nothing about it learns. */
Tensor *model_grad_of(const Model *m, const Tensor *t);

/* Keeps Dale's signs, absent connections and no_self after any update. */
void model_constrain_param(ModelParam *p);

#endif
