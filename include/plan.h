/* plan.h: the ordered program that runs a step graph, with every buffer.
 *
 * plan_build sizes and allocates every buffer before the time loop (nothing is
 * allocated inside it: tests count allocations) and orders the work in three
 * segments:
 *
 *   pre    once per run: what depends only on parameters (e^(-dt/tau))
 *   hoist  once per run, for all T steps at once: what depends only on the
 *          inputs (an input projection W u_t is one GEMM of [T*B, n_in])
 *   loop   every step: fused elementwise groups and the ops between them
 *
 * A node's value lives in a ring of `period` slots, slot (t + shift) mod period:
 *
 *   simulating   loop values period 1, states period 2 (t and t+1)
 *   storing      loop values period T, states period T+1 (for the backward pass)
 *   hoisted      period T (one slot per step, computed before the loop)
 *
 * A slice of a GEMM's output read only by fused groups is a view (column offset
 * into its parent's rows), so stacked synapses cost one GEMM and no copies.
 */
#ifndef CAJAL_PLAN_H
#define CAJAL_PLAN_H

#include "fused.h"
#include "graph.h"
#include "rng.h"

typedef enum Segment { SEG_PRE, SEG_HOIST, SEG_LOOP } Segment;

typedef struct PlanBuf {
    real *data;            /* period slots of rows x ld reals */
    bool owned;
    int64_t rows, ld, slot;
    int period;
    real *grad;            /* backward: dL/dvalue, same layout (period of 1 or 2 for loop values) */
    int grad_period;
} PlanBuf;

/* Where a node's value is: buffer, column offset, and time shift. */
typedef struct PlanRef {
    int buf;               /* -1: not materialized (inside a fused group) */
    int64_t col0;
    int shift;             /* 1 for a state's next value: slot t + 1 */
} PlanRef;

typedef enum StepKind { STEP_OP, STEP_FUSED, STEP_NOISE, STEP_TIME } StepKind;

typedef struct PlanStep {
    StepKind kind;
    Segment seg;
    int node;              /* STEP_OP, STEP_NOISE, STEP_TIME */
    OpCall call;           /* STEP_OP: tensors below, data set per step */
    Tensor in[OP_MAX_IN], out;
    FusedProgram prog;     /* STEP_FUSED */
    int *prog_in;          /* nodes feeding the input registers */
    int *prog_out;         /* nodes the output registers write */
    Rng rng;               /* STEP_NOISE */
} PlanStep;

typedef struct PlanSpec {
    int64_t batch, steps;
    bool store;            /* keep every step's values for the backward pass */
    int64_t recompute;     /* with store: keep states at every step but other values
                              for one segment of this many steps, recomputed in the
                              backward pass (0: keep everything) */
    const int *wanted;     /* nodes that must be materialized (records, costs) */
    int nwanted;
    const int *changing;   /* parameters a plastic rule changes during the run:
                              what reads them alone is not computed once before
                              the loop, but every step */
    int nchanging;
    Tensor *const *inputs; /* per model input: [T, B, n] values, or NULL for zeros */
    int ninputs;
    bool own_inputs;       /* instead: allocate T slots for every input (and the
                              cost's target and mask); the caller fills them */
    Rng noise;             /* noise streams derive from it */
    double t0, dt;
} PlanSpec;

typedef struct Plan {
    const Graph *g;
    PlanSpec spec;
    PlanBuf *bufs;
    int nbufs;
    PlanRef *ref;          /* per node */
    bool *live;            /* per node */
    Segment *seg;          /* per node */
    int *group;            /* per node: fused group, or -1 */
    PlanStep *steps;
    int nsteps;
    real *scratch;
    int64_t scratch_size;
    int64_t bytes;         /* everything plan_build allocated */
} Plan;

/* Builds and allocates. On failure (a buffer too large, a shape the plan
 * cannot run) returns false with a diagnostic and leaves nothing allocated. */
bool plan_build(Plan *p, const Graph *g, const PlanSpec *spec, Diags *d, Span at);
void plan_fini(Plan *p);

/* The value of node at step t: data of row 0, its row length (ld) and rows. */
real *plan_value(const Plan *p, int node, int64_t t, int64_t *ld, int64_t *rows);

/* Runs the pre and hoist segments (once per run, before the loop). */
void plan_prepare(Plan *p);
/* Runs the loop segment for step t. */
void plan_step(Plan *p, int64_t t);
/* Runs step `index` of the plan alone, at step t (for perturbation methods). */
void plan_step_one(Plan *p, int index, int64_t t);

/* Runs the whole forward pass again (state slot 0 as it is) and finds the
 * first op whose output is not finite: its node and step. False if none is. */
bool plan_find_nonfinite(Plan *p, int64_t steps, int *node, int64_t *t);

/* Prints the steps, for debugging and golden tests. */
void plan_dump(const Plan *p, FILE *out);

#endif
