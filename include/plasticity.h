/* plasticity.h: local learning rules, applied while the network runs.
 *
 * A synapse declared with `plastic RULE(args) [every K]` has its weights changed
 * by the rule inside the time loop of `simulate` and of training's forward
 * passes. At step t the network computes its values; then each rule reads
 * pre(t) [B, n_pre], post(t) [B, n_post], w, its traces and the global signals
 * at step t, and changes w for step t + 1; then the traces advance by dt.
 *
 *   build (after lower, before plan_build): compile every attached rule; list
 *         the graph values the rules read, which the plan must keep
 *   bind  (after plan_build): size and allocate every buffer, find the steps
 *         that compute the plastic products
 *   start (before each run or batch): traces to 0
 *   step  (instead of plan_step): the plan's step t, then the rules at step t
 *   finish (after the loop): the last step's pending update lands in w
 *
 * Nothing is allocated between start and finish (tests count allocations).
 * How a rule compiles, and what a gradient means for a synapse that is both
 * `learn` and `plastic`, is written at the top of plasticity.c and in
 * docs/plasticity.md.
 */
#ifndef CAJAL_PLASTICITY_H
#define CAJAL_PLASTICITY_H

#include "cost.h"
#include "plan.h"

typedef struct Plasticity Plasticity;

typedef struct PlasticitySpec {
    int64_t batch, steps;
    double dt;
    bool store;              /* training: keep the weights each step used, for the
                                backward pass (plasticity_rewind) */
    bool no_fuse;            /* apply every update with BLAS calls (tests compare
                                the fused update-and-product kernel against this) */
    const CostSet *costs;    /* training: the task's error and reward come from it */
    const double *cost_weights;   /* [costs->n * steps]: each term's weight per step */
} PlasticitySpec;

/* Compiles the rules of m's plastic synapses against graph g. Returns NULL
 * when no synapse is plastic (and *ok stays true), or after reporting an error
 * located at the synapse's `plastic` item (*ok false): a rule reading a signal
 * nothing supplies, a low-rank synapse, a spike event on a rate network. The
 * result is owned by the caller (plasticity_free). */
Plasticity *plasticity_new(const Model *m, const Env *env, const Graph *g, const PlasticitySpec *spec, Diags *d,
                           Span at, bool *ok);
void plasticity_free(Plasticity *pl);

/* The graph nodes the rules read at every step: add them to the plan's wanted
 * list. Returns how many; *nodes is borrowed. */
int plasticity_wanted(const Plasticity *pl, const int **nodes);

/* The parameter nodes whose weights the rules change during a run, for the
 * plan's `changing` list. Returns how many; *nodes is borrowed. */
int plasticity_changing(const Plasticity *pl, const int **nodes);

/* Sizes and allocates every buffer against the built plan (which must keep the
 * wanted nodes). False after reporting a size over the limit. */
bool plasticity_bind(Plasticity *pl, Plan *plan, Diags *d, Span at);

/* Before each run or batch: traces start at 0, the weights' bound is measured. */
void plasticity_start(Plasticity *pl);

/* `simulate ... continue`: after plasticity_start, each trace takes the value
 * the last run left in the model (kept by plasticity_keep_traces) when its
 * synapse, name and size still match; the others start at 0. */
void plasticity_resume_traces(Plasticity *pl, const Model *m);
/* After a run: keeps every trace's values in m for a later `continue` (and
 * forgets those of the run before). False after reporting an allocation failure. */
bool plasticity_keep_traces(const Plasticity *pl, Model *m, Diags *d, Span at);

/* Runs the plan's step t, then the rules at step t. False when a rule made a
 * weight infinite or NaN: the error (naming the synapse, the rule and the step)
 * is reported, and the synapse keeps the weights it had before this step. */
bool plasticity_step(Plasticity *pl, Plan *plan, int64_t t);

/* True when the last plasticity_step stopped on a blow-up (already reported):
 * for callers that would otherwise report a non-finite loss again. */
bool plasticity_failed(const Plasticity *pl);

/* After the loop: applies the update the last step left pending. */
void plasticity_finish(Plasticity *pl);

/* Training's backward pass: before the VJPs of step t, put back in every
 * plastic weight the value step t's product used; t = -1 restores the values
 * the forward pass ended with. */
void plasticity_rewind(Plasticity *pl, int64_t t);

/* How many rules run, for messages and tests. */
int plasticity_count(const Plasticity *pl);

/* Tests: when set, every run applies its changes with BLAS calls alone (as
 * no_fuse), so the fused kernel's results can be compared with them. */
extern bool plasticity_blas_only;

#endif
