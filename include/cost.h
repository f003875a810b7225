/* cost.h: cost declarations as scalar loss nodes of the step graph.
 *
 *   cost fit  = mse(z, target) during [500ms, 1s]    a term evaluated every step,
 *   cost calm = 1e-4 * mean(E.r ^ 2)                  weighted over the steps it covers
 *   cost tidy = 1e-3 * l2(J.w)                        a term of parameters only: counted once
 *
 * The total is the sum of the terms. A per-step term's value is averaged over
 * its steps: every step by default, the steps of `during [t0, t1]`, the last
 * one `at end`, or weighted by the task's mask (`where mask`, or `where EXPR`
 * with weights of mask, target and numbers). A term that reads
 * the task's `target` without a window uses the task's mask: the targets are
 * only defined where the mask is 1 (the adding problem's answer comes at the
 * end), and the loss ops (and mean, sum, l1, l2 of a value with one entry per
 * target) weigh each entry by it, normalised by the mask's sum, so
 *
 *   total = sum_t sum(mask_t * l_t) / sum_t sum(mask_t)
 *
 * is the mean over every masked entry of the run, as PyTorch's masked mean is.
 */
#ifndef CAJAL_COST_H
#define CAJAL_COST_H

#include "graph.h"
#include "model.h"

typedef enum CostWindow { WINDOW_ALL, WINDOW_DURING, WINDOW_END, WINDOW_MASK } CostWindow;

typedef struct CostTerm {
    Name name;
    const Node *decl;
    int node;              /* the scalar loss node */
    bool constant;         /* depends on parameters only */
    CostWindow window;
    double t0, t1;         /* WINDOW_DURING, seconds */
    int where;             /* WINDOW_MASK: the node of its weights, shaped like the
                              task's mask (the mask itself, or `where EXPR`), or -1 */
} CostTerm;

typedef struct CostSet {
    CostTerm *terms;
    int n;
    int target, mask;      /* the task's target and mask leaves, or -1 */
} CostSet;

/* Lowers every live cost of env into g (after lower_model). The target and
 * mask leaves are G_INPUT nodes with index ninputs and ninputs + 1, shaped like
 * the model's output (one output when a cost reads `target`). */
bool cost_lower(const Model *m, const Env *env, Graph *g, CostSet *out, Diags *d, Span at);
void cost_fini(CostSet *c);

/* w[t] for t < T: each step's weight of term k (see above); mask is the term's
 * [T, B, n] weights (the values of its `where` node) or NULL. */
void cost_step_weights(const CostSet *c, int k, int64_t T, double dt, const Tensor *mask, double *w);

#endif
