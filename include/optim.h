/* optim.h: gradient-descent optimizers, learning-rate schedules and clipping,
 * the last stage of a training step (run, backward, optimizer).
 *
 * The update rules are PyTorch 1.13's (torch.optim.SGD, Adam, AdamW, RMSprop,
 * non-centred, dampening 0, no amsgrad, no maximize), written operation for
 * operation with PyTorch's roundings and fused multiply-adds, so a run agrees
 * with PyTorch's bit for bit: measured against Debian's PyTorch 1.13 on x86-64,
 * in double and in float, for every optimizer, schedule and clip_grad_norm_.
 * Names, parameters and defaults are the OPT and SCHED rows of builtins.def,
 * which optim.c reads: a parameter is added there, in one place.
 *
 * Step counting. The optimizer counts the updates it has made, `step`, from 0.
 * Update number k (k = 0 for the first) uses the learning rate lr * f(k), where
 * f is the schedule's factor, exactly as torch.optim.lr_scheduler.LambdaLR with
 * scheduler.step() after each optimizer.step(); Adam's bias corrections use
 * t = k + 1, as PyTorch's state["step"] after its increment. Schedules, with
 * total = the run's length in steps (total_steps):
 *
 *   none                 f(k) = 1
 *   step_decay(every, gamma)  f(k) = gamma ^ floor(k / every)
 *                        (StepLR's closed form; StepLR itself multiplies by gamma
 *                        at each boundary, which may differ in the last bit)
 *   warmup(steps)        f(k) = k / steps for k < steps, then 1
 *   cosine(warmup, floor)
 *                        f(k) = k / warmup for k < warmup, then
 *                        floor + (1 - floor) (1 + cos(pi p)) / 2,
 *                        p = min(1, (k - warmup) / max(1, total - warmup))
 *
 * Each f is a LambdaLR lambda; PyTorch given the same lambda gives the same
 * learning rates, bit for bit. Warm-ups start at lr 0 and reach lr at k = steps,
 * as Hugging Face transformers' get_constant_schedule_with_warmup and
 * get_cosine_schedule_with_warmup do: the first update moves no weight (Adam's
 * moments and step still advance). A cosine run past `total` stays at floor * lr.
 *
 * Constraints. After every update, in this order: a signed parameter (Dale's
 * law: w is a magnitude) is clamped at 0, w = max(w, 0); a masked parameter is
 * multiplied by its 0/1 mask; a no_self matrix gets a zero diagonal.
 *
 * Memory. optim_bind allocates every state buffer, once, sized to the
 * parameters; optim_step allocates nothing (xalloc_count does not move).
 *
 *   Optimizer *o = optim_new("adam", names, values, n, "cosine", sv, ns, 2000, d, at);
 *   optim_bind(o, params, np, d, at);
 *   for each batch: forward, backward, optim_clip(params, np, 1.0), optim_step(o, params, np);
 *   optim_free(o);
 */
#ifndef CAJAL_OPTIM_H
#define CAJAL_OPTIM_H

#include "diag.h"
#include "io_npy.h"
#include "real.h"

#include <stdbool.h>
#include <stdint.h>

/* One learned parameter. The optimizer borrows w, g and mask for the length of
 * each call; it keeps none of them.
 *
 *   w    [rows, cols] row-major (a synapse: row i = post, column j = pre),
 *        or a vector of n when rows = cols = 0
 *   g    the gradient dCost/dw, same layout; optim_clip may scale it in place
 *   mask NULL, or n values of 0 and 1: w *= mask after each step
 */
typedef struct OptimParam {
    const char *name;       /* "J.w": names the checkpoint keys and errors */
    real *w;
    real *g;
    int64_t n;              /* elements; rows * cols for a matrix */
    int64_t rows, cols;
    int sign;               /* 0, or +1 / -1: w is a magnitude, clamped at 0 */
    const real *mask;
    bool no_self;           /* square matrix whose diagonal stays 0 */
} OptimParam;

typedef struct Optimizer Optimizer;

/* A new optimizer of `kind` ("sgd", "adam", "adamw", "rmsprop"). names[i] =
 * values[i] set hyper-parameters by the names in builtins.def; the rest take
 * its defaults ("nesterov" is 0 or 1; "schedule", if given, must be 0: the
 * schedule comes as schedule_kind). schedule_kind is NULL for none, else
 * "step_decay", "cosine" or "warmup", whose parameters come positionally in
 * schedule_values, in builtins.def's order (so `cosine(warmup = 100)` arrives as
 * {100} and `cosine(floor = 0.1)` as {0, 0.1}: the caller binds the names).
 * total_steps is the run's length, needed by cosine (at least 1).
 *
 * Checks: lr > 0; momentum >= 0, and > 0 for nesterov; beta1, beta2, alpha in
 * [0, 1); eps > 0; weight_decay >= 0; every >= 1 and steps, warmup >= 0 whole
 * numbers; gamma > 0; floor in [0, 1]; every value finite. Returns NULL with an
 * error at `at` for each value that fails (an unknown kind or name gets "did you
 * mean"). Caller owns the result (optim_free). */
Optimizer *optim_new(const char *kind, const char *const *names, const double *values, int nvalues,
                     const char *schedule_kind, const double *schedule_values, int nschedule,
                     int64_t total_steps, Diags *d, Span at);

/* Allocates the state (zeros) for these parameters: their names, shapes and
 * order are fixed from now on, and optim_step, optim_save and optim_load take
 * the same list. Returns false with an error at `at` on a shape that does not
 * add up, a no_self parameter that is not square, a repeated or empty name, or
 * memory the system refuses; the optimizer is then still unbound. Binding
 * twice is a bug (assert). */
bool optim_bind(Optimizer *o, const OptimParam *params, int n, Diags *d, Span at);

/* One update of every parameter from its gradient, then the constraints above;
 * step counts on. Allocates nothing. params must be the bound list (w and g
 * may have moved, their sizes may not). */
void optim_step(Optimizer *o, OptimParam *params, int n);

/* The learning rate the next optim_step will use: lr * f(step). */
double optim_lr(const Optimizer *o);
/* Updates made so far. */
int64_t optim_steps(const Optimizer *o);
/* The kind, as given to optim_new ("adam"). */
const char *optim_kind(const Optimizer *o);

/* Clipping by global norm, torch.nn.utils.clip_grad_norm_ (1.13): total =
 * sqrt(sum of g^2 over every parameter) (as PyTorch: the norm of the
 * parameters' norms, each summed in double); if c = max_norm / (total + 1e-6)
 * is below 1, every g is multiplied by c, so a total just under max_norm is
 * still scaled, by a hair. Returns total, the norm before clipping; a NaN or Inf
 * total leaves g as it was (the caller stops training; PyTorch would zero or
 * poison them). max_norm > 0: check the user's value with optim_check_clip. */
double optim_clip(OptimParam *params, int n, double max_norm);
/* False with an error at `at` unless max_norm is positive and finite. */
bool optim_check_clip(double max_norm, Diags *d, Span at);

/* Checkpoints. optim_save adds to an open archive:
 *
 *   optim.step        [1]  updates made so far
 *   optim.m.NAME      first moment      (adam, adamw)
 *   optim.v.NAME      second moment     (adam, adamw, rmsprop)
 *   optim.b.NAME      momentum buffer   (sgd and rmsprop with momentum > 0)
 *
 * each buffer shaped as its parameter ([rows, cols], or [n]). Returns false with
 * the writer's error; the caller then aborts the writer.
 *
 * optim_load reads the same keys back into a bound optimizer: afterwards its
 * steps continue bit for bit where the saved optimizer's would have. A missing
 * or mis-shaped key, a step that is not a whole number, or optimizer state for a
 * parameter that is not bound is an error naming the key; the optimizer is
 * then exactly as it was. The hyper-parameters are this optimizer's own, not the
 * checkpoint's. */
bool optim_save(const Optimizer *o, NpzWriter *w, Diags *d, Span at);
bool optim_load(Optimizer *o, NpzReader *r, Diags *d, Span at);

void optim_free(Optimizer *o);

#endif
