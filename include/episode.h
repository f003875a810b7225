/* episode.h: one batch of trials through the unrolled model, forward and back.
 *
 * An episode owns the step graph with its costs, a plan that stores every step,
 * and the gradient buffers. Training, evaluation and the gradient checks all
 * run batches through it:
 *
 *   fill inputs, target, mask  ->  episode_forward  ->  loss per cost term
 *                              ->  episode_backward ->  gradients in the model
 *
 * Built once per run (the shapes are fixed by the batch and the task's length);
 * nothing is allocated per batch.
 */
#ifndef CAJAL_EPISODE_H
#define CAJAL_EPISODE_H

#include "autodiff.h"
#include "cost.h"
#include "lower.h"

typedef struct Episode {
    Model *model;
    const Env *env;
    Graph g;
    CostSet costs;
    Plan plan;
    Backward bw;
    bool backward;
    int64_t batch, steps;
    double dt;
    double *weights;       /* [costs.n * steps]: each term's weight per step */
    real *seed;            /* scratch for autodiff_step's seeds */
    int *seed_node;
    double *terms;         /* the last forward's loss per term */
    double loss;
    int *wanted;
    int nwanted;
    Tensor *outputs;       /* keep_outputs: [T, B, n_out] of the model's one output */
    struct Plasticity *plastic;  /* the plastic synapses' rules, run in the forward pass */
    int64_t recompute;     /* segment length, 0 when every step's values are stored */
    Rng *noise_at;         /* noise generators at each segment's start, to replay them */
    int nnoise;
    int output_node;
} Episode;

typedef struct EpisodeSpec {
    int64_t batch, steps;
    double dt;
    Method method;
    bool backward;         /* allocate gradients (training) */
    int64_t window;        /* truncated BPTT window, 0 for full */
    const char *const *extra; /* named values to keep for reading (outputs, records) */
    int nextra;
    bool keep_outputs;     /* copy the output at every step into e->outputs (metrics) */
    int64_t recompute;     /* store values for segments of this many steps and recompute
                              them backwards (recompute every K); 0 stores all */
} EpisodeSpec;

bool episode_init(Episode *e, Model *m, const Env *env, const EpisodeSpec *spec, Diags *d, Span at);
void episode_fini(Episode *e);

/* Where to write the batch before a forward pass: [T, B, n] rows of model input k,
 * or of the target (k = -1) and mask (k = -2); NULL when the model or its costs
 * do not read it. */
real *episode_input(Episode *e, int k);
/* Initial state of graph state s for this batch ([B, n]) : write before the pass. */
real *episode_state(Episode *e, int s);

/* Draws fresh noise streams for the next pass from `base` (so a batch's noise
 * depends on its step number only, and a resumed run repeats it). */
void episode_reseed(Episode *e, Rng base);

/* Runs the forward pass; returns the total loss (NaN propagates), with each
 * term in e->terms. */
double episode_forward(Episode *e);
/* Accumulates dL/dparameter into the model's gradients (model_zero_grads first
 * when a fresh batch should not add to the last). */
void episode_backward(Episode *e);

/* The value of a named node at step t (rows of ld reals), or NULL. */
real *episode_value(Episode *e, const char *name, int64_t t, int64_t *ld);

#endif
