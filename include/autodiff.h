/* autodiff.h: backpropagation through time, derived from the plan.
 *
 * The forward pass runs a plan built with store = true, so every step's values
 * stay in their rings. The backward pass then walks the same steps in reverse,
 * step t = T-1 down to 0, calling each op's vector-Jacobian product (ops.h) and
 * each fused group's fused_vjp; gradients live in buffers shaped like the
 * values:
 *
 *   loop values    one slot, zeroed before each step's backward
 *   states         two slots: dL/ds(t+1) from step t+1, dL/ds(t) built by step t
 *   hoisted values T slots, consumed after the time loop by one GEMM per product
 *   pre values     one slot, accumulated over every step, consumed last
 *   parameters     the model's gradient tensors (autodiff_bind), accumulated
 *
 * Truncated BPTT (window K) stops a state's gradient at every step t with
 * t % K == 0, so each chunk's loss sees its starting state as a constant.
 * Feedback alignment replaces the weights in the input-gradient half of a
 * product's VJP with a fixed random matrix (Lillicrap et al. 2016).
 */
#ifndef CAJAL_AUTODIFF_H
#define CAJAL_AUTODIFF_H

#include "plan.h"

typedef struct Backward {
    Plan *plan;
    bool *needs;           /* per node: does a gradient flow to it */
    int64_t window;        /* truncation window, 0 for full BPTT */
    Tensor **feedback;     /* per node: for a G_PARAM weight, the matrix used in place of
                              it for input gradients (feedback alignment), or NULL */
    int64_t bytes;         /* gradient buffers allocated */
    int *zero;             /* buffers whose gradient is zeroed before each step */
    int nzero;
    bool check;            /* look for the first step whose VJP makes a gradient not finite */
    int bad_step;          /* found: the plan step (an op or a fused group), or -1 */
    int64_t bad_t;
} Backward;

/* Allocates gradient buffers for a plan built with store = true. param_grad[i]
 * is the gradient tensor of graph node i when it is a learnable G_PARAM (NULL
 * for nodes that take no gradient); it is borrowed. Returns false on failure,
 * after reporting (sizes), with nothing allocated. */
bool autodiff_init(Backward *bw, Plan *p, Tensor *const *param_grad, Diags *d, Span at);
void autodiff_fini(Backward *bw);

/* Zeroes every gradient buffer the plan owns (not the parameters'). */
void autodiff_zero(Backward *bw);
/* dL/d(node at step t) += value, for a scalar node such as a loss. For nodes of
 * the loop segment, seed through autodiff_step (their gradients are zeroed at
 * the start of each step); this is for constant (pre-segment) terms. */
void autodiff_seed(Backward *bw, int node, int64_t t, real value);
/* The backward pass of the loop segment at step t (call for t = T-1 .. 0),
 * after adding seed[k] to dL/d(seed_node[k]) at step t. */
void autodiff_step(Backward *bw, int64_t t, const int *seed_node, const real *seed, int nseed);
/* The backward pass of the hoist and pre segments, after the last step. */
void autodiff_finish(Backward *bw);

/* dL/d(state at step t), for tests: data of row 0 (ld = the state's size). */
real *autodiff_state_grad(const Backward *bw, int state_node, int64_t t);

#endif
