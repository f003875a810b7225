/* lower.h: a model's equations and synapses as one time step of a graph.
 *
 * For every population the right-hand sides of its equations become ops; the
 * synaptic input `in` becomes the sum of each synapse's product (one GEMM per
 * stacked block, CSR for sparse synapses, two GEMMs for low rank); the
 * integrator turns derivatives into next values:
 *
 *   euler        x' = x + dt f(x)
 *   rk4          x' = x + dt/6 (k1 + 2 k2 + 2 k3 + k4), the whole network's f per stage
 *   exponential  x' = x e^(a dt) + b/a (e^(a dt) - 1), for dx/dt = a x + b with a, b
 *                free of x (exact for linear leaky equations)
 *
 * Discrete-time variables (x' = ...) take their right-hand side as it stands.
 */
#ifndef CAJAL_LOWER_H
#define CAJAL_LOWER_H

#include "graph.h"
#include "model.h"

typedef enum Method { METHOD_EULER, METHOD_RK4, METHOD_EXPONENTIAL } Method;

/* `simulate ... with u = sin(2 * pi * 5Hz * t)`: an input computed from time. */
typedef struct InputBinding {
    int input;             /* model input index */
    const Node *expr;
} InputBinding;

typedef struct LowerSpec {
    Method method;
    double dt;
    const Env *env;        /* lets, for expressions */
    const InputBinding *bindings;
    int nbindings;
} LowerSpec;

/* Builds the step graph of m into g (initialised by the caller). Values are
 * named for records and costs: "E.x", "E.r", "E.in", "z", "u". Returns false
 * after reporting, e.g. an equation that exponential Euler cannot integrate. */
bool lower_model(const Model *m, const LowerSpec *spec, Graph *g, Diags *d, Span at);

#endif
