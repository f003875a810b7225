/* tasks.h: the built-in tasks, seeded generators of training batches.
 *
 * `train on flipflop(bits = 3)` and `evaluate on mante()` draw batches here. A task
 * is first turned from the script's evaluated arguments into a TaskSpec (checked
 * once, errors located at the argument), then generates as many batches as the run
 * asks for, every one from the Rng it is handed, so a training run is reproducible
 * from its seed. The model reads `inputs` through its `input` and compares its
 * `output` with `targets` where `mask` is 1; task_metric scores the outputs.
 *
 * A batch, with t the time step, b the trial and k the channel:
 *
 *     inputs   [T, B, n_in]     inputs->data[(t * B + b) * n_in + k]
 *     targets  [T, B, n_out]
 *     mask     [T, B, n_out]    1 where the target entry counts, else 0
 *     trial    [B]              per-trial facts the metric needs (TaskTrial)
 *
 * Every number is a step count except ready_set_go's `intervals` and `dt`, which
 * are times (seconds inside). The conventions of each task (where pulses fall,
 * the ramp of ready_set_go and its derived T) are on docs/tasks.md and in tasks.c
 * beside the generator.
 *
 * Randomness: the trials of a batch are drawn one after the other, each taking the
 * same number of draws, so trial b of a batch of B is trial b of any larger batch
 * from the same Rng state. sine draws nothing (its trials are all the same wave).
 */
#ifndef CAJAL_TASKS_H
#define CAJAL_TASKS_H

#include "diag.h"
#include "rng.h"
#include "tensor.h"
#include "value.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum TaskKind {
    TASK_ADDING,            /* adding(T = 100)                                        */
    TASK_DELAYED_ADDITION,  /* delayed_addition(T = 50, n = 2)                        */
    TASK_FLIPFLOP,          /* flipflop(bits = 3, T = 500, p = 0.02)                  */
    TASK_MANTE,             /* mante(coherences = [0.05, 0.15, 0.5], noise = 1.0, T = 75) */
    TASK_READY_SET_GO,      /* ready_set_go(intervals = [480ms, 800ms], dt = 10ms)    */
    TASK_SINE,              /* sine(period = 100, T = 300)                            */
    TASK_COUNT
} TaskKind;

enum {
    TASK_MAX_LIST = 64,             /* entries of `coherences` or `intervals` */
    TASK_MAX_STEPS = 100000000,     /* T, and a task's other step counts */
};

/* mante's two contexts, also the index of their evidence channel. */
enum { TASK_MOTION = 0, TASK_COLOUR = 1 };

/* A task with its parameters evaluated and checked. Plain value: copy freely. */
typedef struct TaskSpec {
    TaskKind kind;
    int64_t T;              /* steps a trial; ready_set_go: derived (see below) */
    int64_t n;              /* delayed_addition: gated values a trial */
    int64_t bits;           /* flipflop: channels */
    double p;               /* flipflop: pulse probability per step and channel */
    double coherences[TASK_MAX_LIST];   /* mante: magnitudes, each in (0, 1] */
    int ncoherences;
    double noise;           /* mante: std of the evidence noise, per step */
    double intervals[TASK_MAX_LIST];    /* ready_set_go: t_s choices, seconds */
    int64_t interval_steps[TASK_MAX_LIST];  /* ... rounded to steps of dt, each >= 1 */
    int nintervals;
    double dt;              /* ready_set_go: seconds a step */
    int64_t lead;           /* ready_set_go: ready falls at a step in [lead, 2 lead] */
    double period;          /* sine: steps a cycle */
} TaskSpec;

/* What the metric needs to know about one trial besides its targets. */
typedef struct TaskTrial {
    int context;            /* mante: TASK_MOTION or TASK_COLOUR, the cued one */
    double coherence[2];    /* mante: signed coherence of motion [0] and colour [1] */
    int target;             /* mante: the right choice, sign(coherence[context]) */
    int ideal;              /* mante: the ideal integrator's choice, the sign (+1 or
                             * -1, a zero sum giving -1) of the summed cued input */
    int64_t ready, set;     /* ready_set_go: steps of the two pulses */
    int64_t interval;       /* ready_set_go: t_s in steps (set - ready) */
} TaskTrial;

typedef struct TaskBatch {
    int64_t T, batch, n_in, n_out;
    Tensor *inputs;         /* [T, B, n_in], owned */
    Tensor *targets;        /* [T, B, n_out], owned */
    Tensor *mask;           /* [T, B, n_out], owned; entries 0 or 1 */
    TaskTrial *trial;       /* [B], owned */
} TaskBatch;

/* The task called `name`; false if there is none. */
bool task_lookup(const char *name, TaskKind *out);
const char *task_name(TaskKind k);
/* The parameter list as builtins.def writes it ("T = 50, n = 2"); a unit test holds
 * the two tables together. Static. */
const char *task_params_text(TaskKind k);

/* Checks the arguments of a task call and fills *out. param_names[i] and
 * param_values[i] are the i-th argument, already evaluated; parameters not given
 * take their defaults (those of builtins.def). param_at[i] locates the i-th
 * argument for messages; param_at may be NULL, and then `at` (the call) serves.
 * Checked: a task and parameter names that exist (with "did you mean"), no
 * parameter twice; step counts whole numbers without unit (T >= 2, bits >= 1,
 * 1 <= n <= T - 1); 0 <= p <= 1; coherences a non-empty list of numbers without
 * unit in (0, 1]; noise >= 0; intervals a non-empty list of times, each at least
 * dt; dt a time > 0; period > 0 steps; no task longer than TASK_MAX_STEPS. Every
 * error found is appended (lowercase, no final period) and false returned; *out
 * is then unspecified. */
bool task_spec(const char *name, const char *const *param_names, const Value *param_values,
               const Span *param_at, int nparams, TaskSpec *out, Diags *d, Span at);

/* A batch's sizes: channels in and out, and steps. */
void task_sizes(const TaskSpec *s, int64_t *n_in, int64_t *n_out, int64_t *T);

/* Allocates a zeroed batch of `batch` trials for s (tensors through tensor_new, so
 * sizes are checked first). On a batch below 1 or a size that does not fit returns
 * false with an error at `at`, leaving *out empty (task_batch_free is harmless). */
bool task_batch_init(const TaskSpec *s, int64_t batch, TaskBatch *out, Diags *d, Span at);
/* Draws a fresh batch into b (made by task_batch_init for the same spec), every
 * entry rewritten. Allocates nothing; the result depends only on s and the state
 * of rng, which it advances. */
void task_fill(const TaskSpec *s, Rng *rng, TaskBatch *b);
/* task_batch_init, then task_fill. */
bool task_generate(const TaskSpec *s, Rng *rng, int64_t batch, TaskBatch *out, Diags *d, Span at);
/* Frees what b owns and empties it. */
void task_batch_free(TaskBatch *b);

/* The score of model outputs y [T, B, n_out] (the batch's shape; the caller
 * checks) on batch b. Every field not used by the task is NaN (or 0 for counts). */
typedef struct TaskMetric {
    double mse;             /* mean of (y - target)^2 over entries with mask 1;
                             * NaN when none counts */
    int64_t counted;        /* entries with mask 1 */
    double value;           /* the task's metric:
                             *   adding, delayed_addition, sine: mse (as above)
                             *   flipflop: fraction of counted entries whose sign
                             *     matches the target's (an output of 0 is wrong)
                             *   mante: fraction of trials whose choice, the sign of
                             *     y at the last step, is the target (0 is wrong)
                             *   ready_set_go: mean relative interval error */
    const char *name;       /* "mse", "fraction of bits correct", "accuracy",
                             * "relative interval error" */
    const char *key;        /* its word in the evaluate line: "mse", "accuracy",
                             * "interval_error" */
    bool higher_is_better;
    /* mante, indexed by context (TASK_MOTION, TASK_COLOUR) */
    double accuracy_context[2];
    double ideal_context[2];        /* the ideal integrator on the same trials */
    double ideal;                   /* ... on all trials */
    int64_t trials_context[2];
    double slope_relevant[2];       /* task_psychometric_slope(b, y, c, c) */
    double slope_irrelevant[2];     /* task_psychometric_slope(b, y, c, 1 - c) */
    /* ready_set_go */
    int64_t missed;                 /* trials whose output never reached 1 after set */
    char summary[192];              /* "accuracy=0.981", the evaluate line's tail */
} TaskMetric;

TaskMetric task_metric(const TaskSpec *s, const TaskBatch *b, const Tensor *y);

/* mante: over the trials in `context`, the least-squares slope of the choice
 * (sign of y at the last step: +1, -1, or 0 for an output of exactly 0) against
 * the signed coherence of `evidence` (TASK_MOTION or TASK_COLOUR): cov(x, c) /
 * var(x). Relevant evidence when evidence == context. NaN with fewer than two such
 * trials or coherences that do not vary. */
double task_psychometric_slope(const TaskBatch *b, const Tensor *y, int context, int evidence);

/* ready_set_go: the interval a single output trace produces, in steps after set:
 * the first time at or after `set` that y reaches 1, linearly interpolated between
 * steps (0 if y[set] >= 1 already); -1 if it never does. y[t] is y_t[t * stride]. */
double task_produced_interval(const real *y_t, int64_t stride, int64_t T, int64_t set);

/* The line `evaluate on TASK` prints, loss being the run's cost:
 *   "evaluate: loss=0.0123 accuracy=0.981"
 *   "evaluate: loss=0.21 accuracy=0.86 accuracy_motion=0.87 ideal_motion=0.9
 *    accuracy_colour=0.85 ideal_colour=0.89"        (mante; one line)
 * Numbers as %.4g. Always NUL-terminated when n > 0 (truncated if buf is short). */
void task_metric_line(const TaskSpec *s, const TaskMetric *m, double loss, char *buf, size_t n);

/* Reference outputs, the yardsticks of the tests:
 *   TASK_REF_TARGET   y = targets: every metric at its best.
 *   TASK_REF_IDEAL    the best any model can do from the inputs: the targets, but
 *                     for mante the ideal integrator's choice (+1 or -1) at every
 *                     step, so its accuracy is TaskMetric.ideal.
 *   TASK_REF_TRIVIAL  the best constant that ignores the inputs: adding 1.0
 *                     (mse 1/6 in expectation), delayed_addition n / 2 (mse n / 12),
 *                     flipflop +1 (about half the bits), mante +1 (accuracy 1/2),
 *                     ready_set_go 0 (never crosses: error 1), sine 0 (mse about 1/2). */
typedef enum TaskReference { TASK_REF_TARGET, TASK_REF_IDEAL, TASK_REF_TRIVIAL } TaskReference;

/* Writes the reference output into y, which has the targets' shape. */
void task_reference(const TaskSpec *s, const TaskBatch *b, TaskReference which, Tensor *y);

#endif
