/* runtime.h: what the run statements act on, owned by the interpreter.
 *
 * The model (rebuilt when its declarations change), the recordings of the last
 * simulation, and the seed. simulate.c fills it; inspect.c prints from it;
 * persist.c saves and loads it.
 */
#ifndef CAJAL_RUNTIME_H
#define CAJAL_RUNTIME_H

#include "check.h"
#include "lower.h"
#include "model.h"

#include <signal.h>
#include <stdio.h>

typedef struct Recording {
    char *name;            /* "E.r" */
    Tensor *data;          /* [samples, B, n] */
    double dt;             /* seconds between samples */
} Recording;

struct DataSet;

/* A data set opened by its `data` statement (kept while its declaration lives). */
typedef struct OpenData {
    const Decl *decl;
    struct DataSet *ds;
} OpenData;

/* The loss curve of the last training run: term k at entry i is value[k * cap + i]. */
typedef struct LossCurve {
    char **names;
    int nterms;
    double *step, *value;
    int64_t n, cap;
} LossCurve;

typedef struct Runtime {
    Model *model;
    Recording *recs;
    int nrecs;
    Tensor *times;         /* [samples]: when each recorded sample was taken (s) */
    uint64_t seed;
    double t_end;          /* simulated time at the end of the last run (continue) */
    double dt;             /* the last run's step and integrator, which `continue` */
    Method method;         /* keeps unless it gives its own (dt 0: none yet) */
    int64_t batch;         /* batch of the model's current state */
    volatile sig_atomic_t *interrupted;
    bool progress;         /* show a progress line (stderr is a terminal) */
    bool stats;            /* --stats: print each run's timing and memory */
    OpenData *data;
    int ndata;
    LossCurve loss;
    bool has_grads;        /* the model's gradients hold the last batch's */
    uint64_t train_runs;   /* train statements so far: each draws its own batches */
} Runtime;

void runtime_init(Runtime *rt);
void runtime_fini(Runtime *rt);
void runtime_clear_recordings(Runtime *rt);

/* Makes rt->model current for env (building or rebuilding it); notes which
 * parameters a rebuild re-initialised. Returns false after reporting. */
bool runtime_model(Runtime *rt, const Env *env, Diags *d, Span at);

/* The statements (simulate.c, inspect.c, persist.c). */
bool simulate_stmt(Runtime *rt, const Env *env, const Node *st, Diags *d);
bool inspect_print(Runtime *rt, const Env *env, const Node *e, FILE *out, Diags *d);
/* The value of a model expression (E.r[0:10], J.w, mean(E.r)) as a new tensor. */
bool inspect_value_tensor(Runtime *rt, const Env *env, const Node *e, Tensor **out, Diags *d);
bool persist_save(Runtime *rt, const Env *env, const Node *st, Diags *d);
bool persist_load(Runtime *rt, const Env *env, const Node *st, Diags *d);
bool data_stmt(Runtime *rt, const Env *env, const Node *st, Diags *d);
bool train_stmt(Runtime *rt, const Env *env, const Node *st, Diags *d);
bool evaluate_stmt(Runtime *rt, const Env *env, const Node *st, FILE *out, Diags *d);
void runtime_free_loss(Runtime *rt);

#endif
