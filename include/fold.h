/* fold.h: sums folded into the GEMM of one of their terms.
 *
 * y = Q + x W^T as one GEMM accumulating onto Q (beta = 1), as cuDNN runs a
 * recurrent layer: the recurrent product accumulates onto the input
 * projection of all steps, for plain sums of synapses and for the gates of a
 * cell (slices of stacked products) alike. The rewritten nodes keep their
 * values; run before plan_build, and not where a plastic synapse's rule takes
 * over a product (plasticity.c finds products by their two inputs).
 */
#ifndef CAJAL_FOLD_H
#define CAJAL_FOLD_H

#include "graph.h"

/* Rewrites g in place. keep[0..nkeep) are nodes the caller reads (costs,
 * records); they keep their values, as named values and next states do. */
void graph_fold_sums(Graph *g, const int *keep, int nkeep);

#endif
