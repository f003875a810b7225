/* train.c: the train, evaluate and data statements.
 *
 *   data fm = idx("images.gz", "labels.gz") as rows scale 1/255 split 0.9 shuffle
 *   train on flipflop(bits = 3) with adam(lr = 1e-3) batch 64 steps 2000 clip 1.0
 *         [bptt 50] [by feedback_alignment] [checkpoint "ck.npz" every 500] [resume "ck.npz"]
 *   evaluate on flipflop(bits = 3) batch 256     ->  evaluate: loss=... accuracy=...
 *
 * A training step draws a batch (the task's generator or the data set's sampler,
 * seeded by the step number, so a resumed run repeats its batches), runs the
 * episode forward and backward, clips, and takes the optimizer's step. Before
 * each step the parameters are copied aside: a loss or gradient that is not
 * finite stops training, names the first op and time step that produced it, and
 * puts back the parameters of the last good step. Ctrl-C stops after the
 * current step and keeps the parameters. Progress goes to stderr; only
 * `evaluate` writes its one line to stdout, for scripts and tests to read.
 */
#include "data.h"
#include "episode.h"
#include "io_npy.h"
#include "optim.h"
#include "plasticity.h"
#include "runtime.h"
#include "tasks.h"
#include "xalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const double TRAIN_DT = 1e-3;   /* one step of a task is 1 ms of model time */
enum { DEFAULT_BATCH = 32, DEFAULT_STEPS = 1000, DEFAULT_EVAL_BATCH = 256, MAX_ARGS = 16 };
static const double PERTURBATION = 1e-3;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- where batches come from --------------------------------------------- */

typedef struct Source {
    bool is_task;
    TaskSpec task;
    TaskBatch tb;           /* task: the batch buffers */
    DataSet *ds;            /* data: borrowed from the runtime */
    Tensor *in, *tg, *mask; /* data: the batch buffers */
    int64_t n_in, n_out, T;
    double dt;
    Span at;
} Source;

static bool eval_value(const Env *env, Arena *a, const Node *e, Value *out)
{
    Diags quiet;
    diags_init(&quiet);
    Checker c = { .env = (Env *)env, .arena = a, .diags = &quiet };
    bool ok = check_eval(&c, e, out);
    diags_fini(&quiet);
    return ok;
}

static DataSet *open_data_of(Runtime *rt, const Decl *decl)
{
    for (int i = 0; i < rt->ndata; i++)
        if (rt->data[i].decl == decl)
            return rt->data[i].ds;
    return NULL;
}

static bool source_open(Runtime *rt, const Env *env, const Node *on, Source *src, Diags *d)
{
    memset(src, 0, sizeof *src);
    src->at = on->span;
    src->dt = TRAIN_DT;
    const Node *call = on;
    if (on->kind == AST_NAME) {
        Decl *decl = env_lookup(env, on->name);
        if (decl && decl->kind == D_DATA) {
            src->ds = open_data_of(rt, decl);
            if (!src->ds) {
                diag_error(d, on->span, "data set '%s' is not open: its data statement did not run", on->name);
                return false;
            }
            const DataInfo *info = data_info(src->ds);
            if (info->n_out == 0) {
                diag_error(d, on->span, "data set '%s' is an input series without targets; train needs inputs and targets", on->name);
                return false;
            }
            src->n_in = info->n_in;
            src->n_out = info->n_out;
            src->T = info->T;
            return true;
        }
        if (decl && decl->kind == D_TASK)
            call = decl->node->a;
    }
    const Node *callee = call->kind == AST_CALL ? call->a : call;
    const Builtin *b = builtin_lookup(callee->name);
    if (!b || b->kind != B_TASK) {
        diag_error(d, on->span, "'%s' is not a task or a data set", callee->name);
        return false;
    }
    const Node *args[MAX_ARGS];
    Node empty = { .kind = AST_CALL, .span = call->span };
    if (b->params.n > MAX_ARGS || !builtin_bind(b->name, b->params, call->kind == AST_CALL ? call : &empty, args, d))
        return false;
    const char *names[MAX_ARGS];
    Value values[MAX_ARGS];
    Span spans[MAX_ARGS];
    Arena a;
    arena_init(&a);
    bool ok = true;
    for (int i = 0; i < b->params.n && ok; i++) {
        names[i] = b->params.v[i].name;
        spans[i] = args[i]->span;
        ok = eval_value(env, &a, args[i], &values[i]);
    }
    ok = ok && task_spec(b->name, names, values, spans, b->params.n, &src->task, d, call->span);
    arena_fini(&a);
    if (!ok)
        return false;
    src->is_task = true;
    task_sizes(&src->task, &src->n_in, &src->n_out, &src->T);
    if (src->task.kind == TASK_READY_SET_GO)
        src->dt = src->task.dt;
    return true;
}

static bool source_alloc(Source *src, int64_t batch, Diags *d)
{
    if (src->is_task)
        return task_batch_init(&src->task, batch, &src->tb, d, src->at);
    return true;
}

static void source_free(Source *src)
{
    if (src->is_task)
        task_batch_free(&src->tb);
    tensor_free(src->in);
    tensor_free(src->tg);
    tensor_free(src->mask);
}

static const Tensor *src_inputs(const Source *s) { return s->is_task ? s->tb.inputs : s->in; }
static const Tensor *src_targets(const Source *s) { return s->is_task ? s->tb.targets : s->tg; }
static const Tensor *src_mask(const Source *s) { return s->is_task ? s->tb.mask : s->mask; }

/* The model's input and output must match the source's channels. */
static bool check_sizes(const Model *m, const Source *src, Diags *d)
{
    if (src->n_in > 0) {
        if (m->ninputs != 1) {
            diag_error(d, src->at, "this %s feeds %lld input channels, so the model needs exactly one input (it has %d)",
                       src->is_task ? "task" : "data set", (long long)src->n_in, m->ninputs);
            return false;
        }
        if (m->inputs[0].n != src->n_in) {
            diag_error(d, src->at, "this %s has %lld input channels but input %s has %lld", src->is_task ? "task" : "data set", (long long)src->n_in,
                       m->inputs[0].name, (long long)m->inputs[0].n);
            return false;
        }
    }
    if (m->noutputs != 1) {
        diag_error(d, src->at, "this %s compares one output with its targets, and the model has %d outputs",
                   src->is_task ? "task" : "data set", m->noutputs);
        return false;
    }
    if (m->outputs[0].n != src->n_out) {
        diag_error(d, src->at, "this %s has %lld target channels but output %s has %lld", src->is_task ? "task" : "data set", (long long)src->n_out,
                   m->outputs[0].name, (long long)m->outputs[0].n);
        return false;
    }
    return true;
}

/* Draws a training batch (or the next test batch for evaluation). */
static bool source_batch(Source *src, Rng *rng, int64_t batch, Diags *d)
{
    if (src->is_task) {
        task_fill(&src->task, rng, &src->tb);
        return true;
    }
    return data_batch(src->ds, DATA_TRAIN, rng, batch, &src->in, &src->tg, &src->mask, d, src->at);
}

static void copy_rows(real *dst, const Tensor *t)
{
    if (dst && t)
        memcpy(dst, t->data, (size_t)t->size * sizeof(real));
}

/* Fills the episode's inputs and initial states for batch `tag`. */
static bool load_batch(Episode *e, const Source *src, const Env *env, const char *tag, Diags *d)
{
    if (e->model->ninputs == 1)
        copy_rows(episode_input(e, 0), src_inputs(src));
    copy_rows(episode_input(e, -1), src_targets(src));
    real *mask = episode_input(e, -2);
    if (mask) {
        if (src_mask(src))
            copy_rows(mask, src_mask(src));
        else
            for (int64_t i = 0; i < e->steps * e->batch * src->n_out; i++)
                mask[i] = 1;
    }
    for (int s = 0; s < e->g.nstates; s++)
        if (!model_draw_init(e->model, env, e->g.states[s].model_state, tag, episode_state(e, s), e->batch, d))
            return false;
    return true;
}

/* ---- the data statement --------------------------------------------------- */

bool data_stmt(Runtime *rt, const Env *env, const Node *st, Diags *d)
{
    const Decl *decl = env_lookup(env, st->name);
    const Node *call = st->a;
    const Builtin *b = builtin_lookup(call->a->name);
    const Node *args[MAX_ARGS];
    if (!b || b->params.n > MAX_ARGS || !builtin_bind(b->name, b->params, call, args, d))
        return false;
    Arena a;
    arena_init(&a);
    DataArg dargs[MAX_ARGS];
    bool ok = true;
    for (int i = 0; i < b->params.n && ok; i++) {
        dargs[i].name = b->params.v[i].name;
        /* a default is reported at the call: its own text is in no file of the user's */
        dargs[i].span = args[i] == b->params.v[i].def ? call->span : args[i]->span;
        ok = eval_value(env, &a, args[i], &dargs[i].value);
    }
    /* Relative file names are found from the script's folder first. */
    char *paths[MAX_ARGS] = { 0 };
    const char *script = st->span.file ? st->span.file->name : NULL;
    for (int i = 0; ok && i < b->params.n; i++) {
        Value *v = &dargs[i].value;
        if (v->kind != V_STR || v->str[0] == '/' || !script || script[0] == '<')
            continue;
        const char *slash = strrchr(script, '/');
        if (!slash)
            continue;
        size_t n = (size_t)(slash - script) + strlen(v->str) + 2;
        paths[i] = xmalloc(n);
        snprintf(paths[i], n, "%.*s/%s", (int)(slash - script), script, v->str);
        FILE *probe = fopen(paths[i], "rb");
        if (probe) {
            fclose(probe);
            v->str = paths[i];
        }
    }
    DataClauses cl = { .as = DATA_AS_DEFAULT };
    for (int i = 0; ok && i < st->opts.n; i++) {
        const Node *o = st->opts.v[i];
        if (o->name == intern_cstr("as")) {
            cl.as = o->a->name == intern_cstr("pixels") ? DATA_AS_PIXELS : o->a->name == intern_cstr("sequence") ? DATA_AS_SEQUENCE : DATA_AS_ROWS;
            cl.as_span = o->span;
        } else if (o->name == intern_cstr("scale")) {
            cl.has_scale = true;
            cl.scale = check_number(env, o->a);
            cl.scale_span = o->span;
        } else if (o->name == intern_cstr("split")) {
            cl.has_split = true;
            cl.split = check_number(env, o->a);
            cl.split_span = o->span;
        } else if (o->name == intern_cstr("shuffle")) {
            cl.shuffle = true;
            cl.shuffle_span = o->span;
        } else if (o->name == intern_cstr("limit")) {
            cl.has_limit = true;
            cl.limit = (int64_t)check_number(env, o->a);   /* a whole number >= 1: the checker saw to it */
            cl.limit_span = o->span;
        }
    }
    DataSet *ds = ok ? data_open(st->name, b->name, dargs, b->params.n, &cl, rt->seed, d, st->span) : NULL;
    for (int i = 0; i < MAX_ARGS; i++)
        free(paths[i]);
    arena_fini(&a);
    if (!ds)
        return false;
    rt->data = xrealloc(rt->data, (size_t)(rt->ndata + 1) * sizeof *rt->data);
    rt->data[rt->ndata++] = (OpenData){ decl, ds };
    char buf[256];
    fprintf(stderr, "data %s: %s\n", st->name, data_describe(ds, buf, sizeof buf));
    return true;
}

/* ---- clauses -------------------------------------------------------------- */

typedef enum Credit { CREDIT_BACKPROP, CREDIT_FEEDBACK, CREDIT_NODE, CREDIT_WEIGHT } Credit;

typedef struct TrainClauses {
    const Node *on, *with;
    int64_t batch, steps, window, every, recompute;
    double clip;
    Credit credit;
    const char *checkpoint, *resume;
    Span resume_at, checkpoint_at, by_at;
} TrainClauses;

static void read_clauses(const Env *env, const Node *st, TrainClauses *c)
{
    memset(c, 0, sizeof *c);
    c->batch = DEFAULT_BATCH;
    c->steps = DEFAULT_STEPS;
    for (int i = 0; i < st->opts.n; i++) {
        const Node *o = st->opts.v[i];
        const char *w = o->name;
        if (!strcmp(w, "on")) c->on = o->a;
        else if (!strcmp(w, "with")) c->with = o->a;
        else if (!strcmp(w, "batch")) c->batch = (int64_t)check_number(env, o->a);
        else if (!strcmp(w, "steps")) c->steps = (int64_t)check_number(env, o->a);
        else if (!strcmp(w, "bptt")) c->window = (int64_t)check_number(env, o->a);
        else if (!strcmp(w, "recompute")) c->recompute = (int64_t)check_number(env, o->a);
        else if (!strcmp(w, "every")) c->every = (int64_t)check_number(env, o->a);
        else if (!strcmp(w, "clip")) c->clip = check_number(env, o->a);
        else if (!strcmp(w, "checkpoint")) c->checkpoint = o->text, c->checkpoint_at = o->span;
        else if (!strcmp(w, "resume")) c->resume = o->text, c->resume_at = o->span;
        else if (!strcmp(w, "by")) {
            const char *by = o->a->name;
            c->by_at = o->span;
            c->credit = !strcmp(by, "feedback_alignment") ? CREDIT_FEEDBACK : !strcmp(by, "node_perturbation") ? CREDIT_NODE
                      : !strcmp(by, "weight_perturbation") ? CREDIT_WEIGHT : CREDIT_BACKPROP;
        }
    }
}

static Optimizer *make_optimizer(const Env *env, const Node *with, int64_t steps, Diags *d, Span at)
{
    if (!with)
        return optim_new("adam", NULL, NULL, 0, NULL, NULL, 0, steps, d, at);
    const Node *callee = with->kind == AST_CALL ? with->a : with;
    const Builtin *b = builtin_lookup(callee->name);
    const Node *args[MAX_ARGS];
    Node empty = { .kind = AST_CALL, .span = with->span };
    if (!b || b->params.n > MAX_ARGS || !builtin_bind(b->name, b->params, with->kind == AST_CALL ? with : &empty, args, d))
        return NULL;
    const char *names[MAX_ARGS];
    double values[MAX_ARGS];
    int n = 0;
    const char *sched = NULL;
    double svalues[MAX_ARGS];
    int ns = 0;
    for (int i = 0; i < b->params.n; i++) {
        if (b->params.v[i].name == intern_cstr("schedule")) {
            const Node *s = args[i];
            if (s->kind == AST_CALL || (s->kind == AST_NAME && builtin_lookup(s->name))) {
                const Node *scallee = s->kind == AST_CALL ? s->a : s;
                const Builtin *sb = builtin_lookup(scallee->name);
                const Node *sargs[MAX_ARGS];
                Node sempty = { .kind = AST_CALL, .span = s->span };
                if (!sb || sb->params.n > MAX_ARGS || !builtin_bind(sb->name, sb->params, s->kind == AST_CALL ? s : &sempty, sargs, d))
                    return NULL;
                sched = sb->name;
                for (int k = 0; k < sb->params.n; k++)
                    svalues[ns++] = check_number(env, sargs[k]);
            }
            continue;
        }
        names[n] = b->params.v[i].name;
        values[n++] = check_number(env, args[i]);
    }
    return optim_new(b->name, names, values, n, sched, svalues, ns, steps, d, with->span);
}

/* The parameters the optimizer updates: those marked learn. */
static int learnable(Model *m, OptimParam *out)
{
    int n = 0;
    for (int i = 0; i < m->nparams; i++) {
        ModelParam *p = &m->params[i];
        if (!p->learn)
            continue;
        bool matrix = p->value->rank == 2 && !p->csr;
        out[n++] = (OptimParam){ p->name, p->value->data, p->grad->data, p->value->size, matrix ? p->value->dim[0] : 0,
                                 matrix ? p->value->dim[1] : 0, p->sign, p->mask ? p->mask->data : NULL, p->no_self && matrix };
    }
    return n;
}

/* ---- checkpoints ---------------------------------------------------------- */

/* Checkpoint keys besides the parameters and the optimizer's state:
 *   train.step        steps taken
 *   train.optimizer   which optimizer wrote it (its place in builtins.def)
 *   train.data        a data set's sampler: epoch, position, and two generator
 *                     states as 16-bit pieces (exact in float builds too) */
enum { RNG_PIECES = 16 };

static void rng_pack(const Rng *r, real *out)
{
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 4; k++)
            out[i * 4 + k] = (real)((r->s[i] >> (16 * k)) & 0xffff);
}

static Rng rng_unpack(const real *in)
{
    Rng r = { { 0 } };
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 4; k++)
            r.s[i] |= (uint64_t)in[i * 4 + k] << (16 * k);
    return r;
}

static int optimizer_id(const Optimizer *opt)
{
    for (int i = 0; builtin_at(i); i++)
        if (strcmp(builtin_at(i)->name, optim_kind(opt)) == 0)
            return i;
    return -1;
}

static bool add_numbers(NpzWriter *w, const char *key, const real *v, int64_t n, Diags *d, Span at)
{
    Tensor *t = tensor_new(key, 1, &n, d, at);
    if (!t)
        return false;
    memcpy(t->data, v, (size_t)n * sizeof(real));
    bool ok = npz_writer_add(w, key, t, d, at);
    tensor_free(t);
    return ok;
}

static bool write_checkpoint(const char *path, Model *m, const Optimizer *opt, int64_t step, uint64_t run, DataSet *ds,
                             const Rng *data_rng, const LossCurve *curve, Diags *d, Span at)
{
    NpzWriter *w = npz_writer_new(path, d, at);
    if (!w)
        return false;
    bool ok = true;
    for (int i = 0; i < m->nparams && ok; i++)
        ok = npz_writer_add(w, m->params[i].name, m->params[i].value, d, at);
    real v[2 + 2 * RNG_PIECES] = { (real)step, (real)optimizer_id(opt), (real)run };
    ok = ok && add_numbers(w, "train.step", &v[0], 1, d, at) && add_numbers(w, "train.optimizer", &v[1], 1, d, at) &&
         add_numbers(w, "train.run", &v[2], 1, d, at);
    if (ok && ds) {
        DataCursor c = data_cursor(ds, DATA_TRAIN);
        v[0] = (real)c.epoch;
        v[1] = (real)c.pos;
        rng_pack(&c.order_rng, v + 2);
        rng_pack(data_rng, v + 2 + RNG_PIECES);
        ok = add_numbers(w, "train.data", v, 2 + 2 * RNG_PIECES, d, at);
    }
    /* the loss curve so far, so a resumed run keeps the whole of it */
    for (int k = -1; ok && curve->n && k < curve->nterms; k++) {
        char key[256];
        snprintf(key, sizeof key, "loss.%s", k < 0 ? "step" : curve->names[k]);
        real *vals = xmalloc((size_t)curve->n * sizeof *vals);
        for (int64_t i = 0; i < curve->n; i++)
            vals[i] = (real)(k < 0 ? curve->step[i] : curve->value[k * curve->cap + i]);
        ok = add_numbers(w, key, vals, curve->n, d, at);
        free(vals);
    }
    ok = ok && optim_save(opt, w, d, at);
    if (!ok) {
        npz_writer_abort(w);
        return false;
    }
    return npz_writer_commit(w, d, at);
}

/* A number of the checkpoint that must be whole and in [lo, hi]. */
static bool whole_in(double v, double lo, double hi)
{
    return isfinite(v) && v == floor(v) && v >= lo && v <= hi;
}

/* One number stored under key, checked whole and in [lo, hi]; false with an
 * error naming the key, the value and `what` it should be. */
static bool read_whole(NpzReader *r, const char *path, const char *key, double lo, double hi, const char *what, double *out,
                       Diags *d, Span at)
{
    Tensor *t = npz_reader_read(r, key, d, at);
    if (!t)
        return false;
    bool ok = t->size == 1 && whole_in((double)t->data[0], lo, hi);
    if (t->size != 1)
        diag_error(d, at, "%s in '%s' has %lld values, expected one", key, path, (long long)t->size);
    else if (!ok)
        diag_error(d, at, "%s in '%s' is %g, not %s: the checkpoint is damaged", key, path, (double)t->data[0], what);
    else
        *out = (double)t->data[0];
    tensor_free(t);
    return ok;
}

/* The curve up to the checkpoint, when it was kept: read whole into `into` (cap
 * entries a term), so a damaged array stops the resume before anything changes. */
static bool read_curve(NpzReader *r, LossCurve *into, Diags *d, Span at)
{
    into->n = 0;
    if (!npz_reader_find(r, "loss.step"))
        return true;
    Tensor *steps_t = npz_reader_read(r, "loss.step", d, at);
    if (!steps_t)
        return false;
    bool ok = true;
    if (steps_t->size <= into->cap) {
        for (int64_t i = 0; i < steps_t->size; i++)
            into->step[i] = steps_t->data[i];
        into->n = steps_t->size;
    }
    for (int k = 0; ok && k < into->nterms; k++) {
        char key[256];
        snprintf(key, sizeof key, "loss.%s", into->names[k]);
        Tensor *v = NULL;
        if (npz_reader_find(r, key) && !(v = npz_reader_read(r, key, d, at)))
            ok = false;
        for (int64_t i = 0; i < into->n; i++)
            into->value[k * into->cap + i] = v && i < v->size ? v->data[i] : NAN;
        tensor_free(v);
    }
    tensor_free(steps_t);
    if (!ok)
        into->n = 0;
    return ok;
}

/* Reads and checks everything first (train.step a whole number in [0, steps),
 * every array's CRC, the parameters' shapes, the optimizer's state); changes
 * the parameters, the optimizer, the data set's place and `curve` only when all
 * of it fits. On failure returns false with an error at `at`. */
static bool read_checkpoint(const char *path, Model *m, Optimizer *opt, int64_t steps, int64_t *step, uint64_t *run, DataSet *ds,
                            Rng *data_rng, LossCurve *curve, Diags *d, Span at)
{
    NpzReader *r = npz_reader_new(path, d, at);
    if (!r)
        return false;
    if (!npz_reader_find(r, "train.step")) {
        diag_error(d, at, "'%s' is not a training checkpoint (it has no train.step)", path);
        npz_reader_free(r);
        return false;
    }
    double start = 0, kind = optimizer_id(opt), run_id = 0;
    bool ok = read_whole(r, path, "train.step", 0, 9007199254740992.0, "a whole number of steps", &start, d, at);
    if (ok && start >= (double)steps) {
        diag_error(d, at, "'%s' is already at step %.0f of the %lld this statement asks for", path, start, (long long)steps);
        ok = false;
    }
    ok = ok && (!npz_reader_find(r, "train.optimizer") || read_whole(r, path, "train.optimizer", 0, 1e9, "an optimizer's number", &kind, d, at));
    if (ok && (int)kind != optimizer_id(opt)) {
        const Builtin *b = builtin_at((int)kind);
        diag_error(d, at, "'%s' was written by %s, but this run trains with %s; its optimizer state does not carry over", path,
                   b ? b->name : "another optimizer", optim_kind(opt));
        ok = false;
    }
    ok = ok && (!npz_reader_find(r, "train.run") || read_whole(r, path, "train.run", 0, 9007199254740992.0, "a whole number", &run_id,
                                                                           d, at));
    DataCursor cursor = { 0 };
    Rng next_rng = { { 0 } };
    if (ok && ds) {
        Tensor *dc = npz_reader_find(r, "train.data") ? npz_reader_read(r, "train.data", d, at) : NULL;
        if (!dc || dc->size != 2 + 2 * RNG_PIECES) {
            if (!npz_reader_find(r, "train.data"))
                diag_error(d, at, "'%s' does not hold a data set's place (train.data): it was not written by training on data", path);
            else if (dc)
                diag_error(d, at, "train.data in '%s' has %lld values, expected %d", path, (long long)dc->size, 2 + 2 * RNG_PIECES);
            ok = false;
        } else {
            for (int i = 0; ok && i < 2 + 2 * RNG_PIECES; i++)
                if (!whole_in((double)dc->data[i], 0, i < 2 ? 9007199254740992.0 : 65535)) {
                    diag_error(d, at, "train.data in '%s' holds %g, not a whole number: the checkpoint is damaged", path, (double)dc->data[i]);
                    ok = false;
                }
            if (ok) {
                cursor.epoch = (int64_t)dc->data[0];
                cursor.pos = (int64_t)dc->data[1];
                cursor.order_rng = rng_unpack(dc->data + 2);
                next_rng = rng_unpack(dc->data + 2 + RNG_PIECES);
            }
        }
        tensor_free(dc);
    }
    Tensor **vals = xcalloc((size_t)m->nparams + 1, sizeof *vals);
    for (int i = 0; i < m->nparams && ok; i++) {
        vals[i] = npz_reader_read(r, m->params[i].name, d, at);
        if (!vals[i]) {
            ok = false;
        } else if (vals[i]->size != m->params[i].value->size) {
            char a[64], b[64];
            diag_error(d, at, "%s in '%s' is %s, but the model's is %s", m->params[i].name, path, tensor_shape_str(vals[i], a, sizeof a),
                       tensor_shape_str(m->params[i].value, b, sizeof b));
            ok = false;
        }
    }
    /* the loss curve into a scratch copy, so a damaged one leaves curve as it was */
    LossCurve got = *curve;
    got.step = xcalloc((size_t)curve->cap + 1, sizeof *got.step);
    got.value = xcalloc((size_t)(curve->cap * (curve->nterms ? curve->nterms : 1)) + 1, sizeof *got.value);
    ok = ok && read_curve(r, &got, d, at);
    /* the optimizer's state: its load reads and checks all before changing */
    ok = ok && optim_load(opt, r, d, at);
    ok = ok && (!ds || data_cursor_restore(ds, DATA_TRAIN, &cursor, d, at));
    if (ok) {
        if (ds)
            *data_rng = next_rng;
        *run = (uint64_t)run_id;
        *step = (int64_t)start;
        curve->n = got.n;
        memcpy(curve->step, got.step, (size_t)curve->cap * sizeof *got.step);
        memcpy(curve->value, got.value, (size_t)(curve->cap * (curve->nterms ? curve->nterms : 1)) * sizeof *got.value);
        for (int i = 0; i < m->nparams; i++)
            memcpy(m->params[i].value->data, vals[i]->data, (size_t)vals[i]->size * sizeof(real));
    }
    free(got.step);
    free(got.value);
    for (int i = 0; i < m->nparams; i++)
        tensor_free(vals[i]);
    free(vals);
    npz_reader_free(r);
    return ok;
}

/* ---- loss curve ----------------------------------------------------------- */

void runtime_free_loss(Runtime *rt)
{
    LossCurve *c = &rt->loss;
    for (int k = 0; k < c->nterms; k++)
        free(c->names[k]);
    free(c->names);
    free(c->step);
    free(c->value);
    memset(c, 0, sizeof *c);
}

static void curve_start(Runtime *rt, const CostSet *costs, int64_t steps)
{
    runtime_free_loss(rt);
    LossCurve *c = &rt->loss;
    c->nterms = costs->n;
    c->names = xcalloc((size_t)c->nterms + 1, sizeof *c->names);
    for (int k = 0; k < c->nterms; k++)
        c->names[k] = xstrdup(costs->terms[k].name);
    c->cap = steps > 0 ? steps : 1;
    c->step = xcalloc((size_t)c->cap, sizeof *c->step);
    c->value = xcalloc((size_t)(c->cap * (c->nterms ? c->nterms : 1)), sizeof *c->value);
}

static void curve_add(Runtime *rt, int64_t step, const double *terms)
{
    LossCurve *c = &rt->loss;
    if (c->n >= c->cap)
        return;
    c->step[c->n] = (double)step;
    for (int k = 0; k < c->nterms; k++)
        c->value[k * c->cap + c->n] = terms[k];
    c->n++;
}

/* ---- training ------------------------------------------------------------- */

static void format_terms(const Episode *e, char *buf, size_t n)
{
    size_t len = (size_t)snprintf(buf, n, "loss=%.4g", e->loss);
    if (e->costs.n > 1)
        for (int k = 0; k < e->costs.n && len < n; k++)
            len += (size_t)snprintf(buf + len, n - len, " %s=%.4g", e->costs.terms[k].name, e->terms[k]);
}

static bool all_finite(const OptimParam *p, int n, bool grads)
{
    for (int i = 0; i < n; i++) {
        const real *v = grads ? p[i].g : p[i].w;
        for (int64_t k = 0; k < p[i].n; k++)
            if (!isfinite(v[k]))
                return false;
    }
    return true;
}

static void nonfinite_message(Episode *e, int64_t step, Diags *d, Span at)
{
    int node;
    int64_t t;
    if (plan_find_nonfinite(&e->plan, e->steps, &node, &t)) {
        const GNode *n = &e->g.nodes[node];
        diag_error(d, at, "training stopped at step %lld: the loss is not finite; the first value that is not comes from %s%s%s%s at time step %lld",
                   (long long)step, n->kind == G_OP ? ops_get(n->op)->name : "an input", n->label ? " (" : "",
                   n->label ? n->label : "", n->label ? ")" : "", (long long)t);
    } else {
        diag_error(d, at, "training stopped at step %lld: the loss is not finite", (long long)step);
    }
}

/* The backward pass again, watching for the first step whose VJP makes a
 * gradient not finite (sqrt at 0, log at 0, a division by 0). */
static void bad_gradient_message(Episode *e, int64_t step, double loss, Diags *d, Span at)
{
    e->bw.check = true;
    e->bw.bad_step = -1;
    model_zero_grads(e->model);
    episode_backward(e);
    e->bw.check = false;
    int bad = e->bw.bad_step;
    if (bad < 0) {
        diag_error(d, at, "training stopped at step %lld: a gradient is not finite (the loss was %.4g)", (long long)step, loss);
        return;
    }
    const PlanStep *s = &e->plan.steps[bad];
    char what[256];
    if (s->kind == STEP_OP) {
        const GNode *n = &e->g.nodes[s->node];
        snprintf(what, sizeof what, "%s%s%s%s", ops_get(n->op)->name, n->label ? " (" : "", n->label ? n->label : "", n->label ? ")" : "");
    } else {
        size_t len = (size_t)snprintf(what, sizeof what, "the elementwise chain");
        for (int k = 0; k < s->prog.ncode && len < sizeof what - 40; k++)
            len += (size_t)snprintf(what + len, sizeof what - len, "%s %s", k ? "," : "", s->prog.code[k].op->name);
    }
    diag_error(d, at, "training stopped at step %lld: the gradient is not finite; the first op whose gradient is not comes from %s at time step %lld (the loss was %.4g)",
               (long long)step, what, (long long)e->bw.bad_t, loss);
}

/* Fixed random feedback matrices for every weight read by a product. */
static void set_feedback(Episode *e, Tensor ***owned, int *nowned)
{
    Graph *g = &e->g;
    *owned = xcalloc((size_t)g->n + 1, sizeof **owned);
    *nowned = 0;
    for (int i = 0; i < g->n; i++) {
        const GNode *n = &g->nodes[i];
        if (n->kind != G_OP || n->op != OP_LINEAR)
            continue;
        int w = n->in[1];
        if (e->bw.feedback[w] || !e->bw.needs[w])
            continue;
        const Tensor *W = g->nodes[w].tensor;
        Tensor *B = tensor_new("feedback", W->rank, W->dim, NULL, span_none());
        if (!B)
            continue;
        char name[64];
        snprintf(name, sizeof name, "feedback#%d", i);
        Rng r = model_stream(e->model, name);
        rng_fill_normal(&r, B->data, B->size, 0, 1.0 / sqrt((double)W->dim[W->rank - 1]));
        e->bw.feedback[w] = B;
        (*owned)[(*nowned)++] = B;
    }
}

/* Weight perturbation: g = (L(w + s xi) - L(w)) / s * xi (Werfel, Xie and Seung 2005). */
static void weight_perturbation(Episode *e, OptimParam *ps, int np, real *xi, Rng *r, const Source *src, const Env *env,
                                const char *tag, Diags *d)
{
    double base = e->loss;
    int64_t off = 0;
    for (int i = 0; i < np; i++) {
        rng_fill_normal(r, xi + off, ps[i].n, 0, 1);
        for (int64_t k = 0; k < ps[i].n; k++)
            ps[i].w[k] += (real)(PERTURBATION * xi[off + k]);
        off += ps[i].n;
    }
    load_batch(e, src, env, tag, d);
    double up = episode_forward(e);
    off = 0;
    for (int i = 0; i < np; i++) {
        for (int64_t k = 0; k < ps[i].n; k++) {
            ps[i].w[k] -= (real)(PERTURBATION * xi[off + k]);
            ps[i].g[k] = (real)((up - base) / PERTURBATION * xi[off + k]);
        }
        off += ps[i].n;
    }
    e->loss = base;
}

/* Node perturbation (Fiete and Seung 2006): noise on each learnable product's
 * output; g_W = (L(noisy) - L) / s^2 * sum_t xi_t^T x_t, through the product's
 * own weight-gradient half. */
static void node_perturbation(Episode *e, Rng *r, const Source *src, const Env *env, const char *tag, Diags *d)
{
    Plan *p = &e->plan;
    double base = e->loss;
    /* The noisy pass: add s xi to every learnable LINEAR output, step by step. */
    int nlin = 0;
    for (int i = 0; i < p->nsteps; i++) {
        PlanStep *s = &p->steps[i];
        const GNode *n = &e->g.nodes[s->node];
        if (s->kind == STEP_OP && n->op == OP_LINEAR && e->bw.needs[n->in[1]])
            nlin++;
    }
    if (!nlin)
        return;
    load_batch(e, src, env, tag, d);
    /* Forward by hand so the noise lands between the steps. */
    int64_t T = e->steps;
    Rng keep = *r;
    /* The steps before the loop one by one, so what reads a hoisted product
     * sees its noise. */
    for (int i = 0; i < p->nsteps; i++) {
        PlanStep *s = &p->steps[i];
        if (s->seg == SEG_LOOP)
            continue;
        plan_step_one(p, i, 0);
        const GNode *n = &e->g.nodes[s->node];
        if (s->seg == SEG_HOIST && s->kind == STEP_OP && n->op == OP_LINEAR && e->bw.needs[n->in[1]]) {
            real *y = plan_value(p, s->node, 0, NULL, NULL);
            for (int64_t k = 0; k < s->out.size; k++)
                y[k] += (real)(PERTURBATION * rng_normal(r));
        }
    }
    double loss = 0;
    for (int64_t t = 0; t < T; t++) {
        for (int i = 0; i < p->nsteps; i++) {
            PlanStep *s = &p->steps[i];
            if (s->seg != SEG_LOOP)
                continue;
            plan_step_one(p, i, t);
            const GNode *n = &e->g.nodes[s->node];
            if (s->kind == STEP_OP && n->op == OP_LINEAR && e->bw.needs[n->in[1]]) {
                real *y = plan_value(p, s->node, t, NULL, NULL);
                for (int64_t k = 0; k < s->out.size; k++)
                    y[k] += (real)(PERTURBATION * rng_normal(r));
            }
        }
        for (int k = 0; k < e->costs.n; k++)
            if (!e->costs.terms[k].constant)
                loss += e->weights[k * T + t] * *plan_value(p, e->costs.terms[k].node, t, NULL, NULL);
    }
    for (int k = 0; k < e->costs.n; k++)
        if (e->costs.terms[k].constant)
            loss += *plan_value(p, e->costs.terms[k].node, 0, NULL, NULL);
    double scale = (loss - base) / (PERTURBATION * PERTURBATION);
    /* Replay the same noise as gy through each product's weight-gradient half. */
    *r = keep;
    int64_t largest = 1;
    for (int i = 0; i < p->nsteps; i++)
        if (p->steps[i].kind == STEP_OP && p->steps[i].out.size > largest)
            largest = p->steps[i].out.size;
    real *noise = xmalloc((size_t)largest * sizeof(real));
    for (int pass = 0; pass < 2; pass++)
        for (int64_t t = 0; t < (pass == 0 ? 1 : T); t++)
            for (int i = 0; i < p->nsteps; i++) {
                PlanStep *s = &p->steps[i];
                const GNode *n = &e->g.nodes[s->node];
                bool hoist = s->seg == SEG_HOIST;
                if ((pass == 0) != hoist || s->kind != STEP_OP || n->op != OP_LINEAR || !e->bw.needs[n->in[1]])
                    continue;
                int64_t tt = hoist ? 0 : t;
                Tensor gyt = s->out;
                for (int64_t k = 0; k < s->out.size; k++)
                    noise[k] = (real)(scale * PERTURBATION * rng_normal(r));
                gyt.data = noise;
                s->in[0].data = plan_value(p, n->in[0], tt, NULL, NULL);
                s->out.data = plan_value(p, s->node, tt, NULL, NULL);
                Tensor *gw = model_grad_of(e->model, e->g.nodes[n->in[1]].tensor);
                Tensor gwt = *e->g.nodes[n->in[1]].tensor;
                gwt.data = gw->data;
                OpCall c = { .op = ops_get(OP_LINEAR), .attr = &n->attr, .n_in = 2, .out = &s->out, .gy = &gyt };
                c.in[0] = &s->in[0];
                c.in[1] = e->g.nodes[n->in[1]].tensor;
                c.gin[1] = &gwt;
                ops_vjp(&c);
            }
    free(noise);
    e->loss = base;
}

bool train_stmt(Runtime *rt, const Env *env, const Node *st, Diags *d)
{
    TrainClauses c;
    read_clauses(env, st, &c);
    if (!runtime_model(rt, env, d, st->span))
        return false;
    Model *m = rt->model;
    int nlearn = 0;
    for (int i = 0; i < m->nparams; i++)
        nlearn += m->params[i].learn;
    if (!nlearn) {
        diag_error(d, st->span, "nothing to train: no synapse is marked learn");
        diag_hint(d, "add learn to a synapse's { }, as in synapse W: E -> z { w = 0; learn }");
        return false;
    }
    int ncosts = 0;
    for (int i = 0; i < env->n; i++)
        ncosts += !env->v[i]->dead && env->v[i]->kind == D_COST;
    if (!ncosts) {
        diag_error(d, st->span, "train needs a cost to reduce, as in cost fit = mse(z, target)");
        return false;
    }
    Source src;
    if (!source_open(rt, env, c.on, &src, d) || !check_sizes(m, &src, d))
        return false;
    if (c.window > 0 && c.credit != CREDIT_BACKPROP) {
        diag_error(d, c.by_at, "bptt truncates backpropagation; it does not combine with 'by %s'",
                   c.credit == CREDIT_FEEDBACK ? "feedback_alignment" : c.credit == CREDIT_NODE ? "node_perturbation" : "weight_perturbation");
        return false;
    }
    if (c.recompute > 0)
        for (int i = 0; i < m->nsyns; i++)
            for (int k = 0; k < m->syns[i].decl->node->body.n; k++)
                if (m->syns[i].decl->node->body.v[k]->kind == AST_PLASTIC) {
                    diag_error(d, st->span, "recompute replays steps, and the plasticity rules of %s would change its weights again; train it without recompute",
                               m->syns[i].name);
                    return false;
                }
    if (c.credit == CREDIT_NODE || c.credit == CREDIT_WEIGHT)
        for (int i = 0; i < m->nsyns; i++)
            for (int k = 0; k < m->syns[i].decl->node->body.n; k++)
                if (m->syns[i].decl->node->body.v[k]->kind == AST_PLASTIC) {
                    diag_error(d, st->span, "plastic synapses train by backprop or feedback_alignment: with %s the rules would change the weights again in every extra forward pass",
                               c.credit == CREDIT_NODE ? "node_perturbation" : "weight_perturbation");
                    return false;
                }
    Optimizer *opt = make_optimizer(env, c.with, c.steps, d, c.with ? c.with->span : st->span);
    if (!opt)
        return false;
    Episode e;
    EpisodeSpec spec = { c.batch, src.T, src.dt, METHOD_EULER, true, c.window, NULL, 0, false, c.recompute };
    if (!source_alloc(&src, c.batch, d)) {
        optim_free(opt);
        return false;
    }
    if (!episode_init(&e, m, env, &spec, d, st->span)) {
        source_free(&src);
        optim_free(opt);
        return false;
    }
    OptimParam *ps = xcalloc((size_t)m->nparams + 1, sizeof *ps);
    int np = learnable(m, ps);
    bool ok = optim_bind(opt, ps, np, d, st->span);
    /* A cost that no learnt weight can change is a mistake, not a term to carry. */
    for (int k = 0; ok && k < e.costs.n; k++)
        if (!e.bw.needs[e.costs.terms[k].node]) {
            const Node *decl = e.costs.terms[k].decl;
            diag_error(d, decl->a->span, "cost %s does not depend on any weight marked learn, so training cannot change it",
                       e.costs.terms[k].name);
            diag_hint(d, "mark a synapse that reaches it with learn, or remove the cost");
            ok = false;
        }
    Rng base;
    rng_seed(&base, rt->seed);
    /* Each train statement draws its own batches; a resumed one, its checkpoint's. */
    uint64_t run = rt->train_runs++;
    Rng data_rng = rng_stream(&base, rng_id("train data") + rt->train_runs);
    /* The last run's curve stays until this one has really begun. */
    LossCurve previous = rt->loss;
    memset(&rt->loss, 0, sizeof rt->loss);
    if (ok)
        curve_start(rt, &e.costs, c.steps);
    int64_t start = 0;
    if (ok && c.resume) {
        ok = read_checkpoint(c.resume, m, opt, c.steps, &start, &run, src.ds, &data_rng, &rt->loss, d, c.resume_at);
    }
    int64_t total = 0;
    for (int i = 0; i < np; i++)
        total += ps[i].n;
    real *backup = xmalloc((size_t)(total + 1) * sizeof *backup);
    real *xi = xmalloc((size_t)(total + 1) * sizeof *xi);
    Tensor **feedback = NULL;
    int nfeedback = 0;
    if (ok && c.credit == CREDIT_FEEDBACK)
        set_feedback(&e, &feedback, &nfeedback);
    if (ok) {
        LossCurve fresh = rt->loss;
        rt->loss = previous;
        runtime_free_loss(rt);
        rt->loss = fresh;
    } else {
        runtime_free_loss(rt);
        rt->loss = previous;
    }
    double t0 = now_seconds(), last_print = t0;
    int64_t every_line = c.steps / 10 > 0 ? c.steps / 10 : 1;
    bool showed = false;
    bool not_finite = false;   /* stopped by a value that is not finite: say what is kept */
    bool restore = false;      /* the step's update made a parameter not finite: put back the backup */
    int64_t step = start;
    for (; ok && step < c.steps; step++) {
        char tag[48];
        snprintf(tag, sizeof tag, "train#%llu#%lld", (unsigned long long)run, (long long)step);
        Rng batches = rng_stream(&base, rng_id("train batches") + run);
        Rng rng = rng_stream(&batches, (uint64_t)step);
        ok = source_batch(&src, src.is_task ? &rng : &data_rng, c.batch, d) && load_batch(&e, &src, env, tag, d);
        if (!ok)
            break;
        episode_reseed(&e, rng_stream(&base, rng_id(tag)));
        double loss = episode_forward(&e);
        if (e.plastic && plasticity_failed(e.plastic)) {
            ok = false;   /* the rule reported the synapse, the rule and the step */
            break;
        }
        if (!isfinite(loss)) {
            nonfinite_message(&e, step, d, st->span);
            ok = false;
            not_finite = true;
            break;
        }
        model_zero_grads(m);
        if (c.credit == CREDIT_WEIGHT)
            weight_perturbation(&e, ps, np, xi, &rng, &src, env, tag, d);
        else if (c.credit == CREDIT_NODE)
            node_perturbation(&e, &rng, &src, env, tag, d);
        else
            episode_backward(&e);
        if (c.clip > 0)
            optim_clip(ps, np, c.clip);
        if (!all_finite(ps, np, true)) {
            bad_gradient_message(&e, step, loss, d, st->span);
            ok = false;
            not_finite = true;
            break;
        }
        int64_t off = 0;
        for (int i = 0; i < np; i++) {
            memcpy(backup + off, ps[i].w, (size_t)ps[i].n * sizeof(real));
            off += ps[i].n;
        }
        optim_step(opt, ps, np);
        rt->has_grads = true;
        if (!all_finite(ps, np, false)) {
            diag_error(d, st->span, "training stopped at step %lld: a parameter became infinite or NaN after the update", (long long)step);
            ok = false;
            not_finite = restore = true;
            break;
        }
        curve_add(rt, step, e.terms);
        /* a checkpoint that cannot be written stops training; the step is done and kept */
        if (c.checkpoint && c.every > 0 && (step + 1) % c.every == 0 &&
            !write_checkpoint(c.checkpoint, m, opt, step + 1, run, src.ds, &data_rng, &rt->loss, d, c.checkpoint_at)) {
            ok = false;
            step++;
            break;
        }
        char terms[256];
        format_terms(&e, terms, sizeof terms);
        double now = now_seconds();
        if (rt->progress) {
            if (now - last_print > 0.25 || step + 1 == c.steps) {
                double rate = (double)(step + 1 - start) / (now - t0 + 1e-9);
                fprintf(stderr, "\r  train: step %lld/%lld  %s  %.1f steps/s  %.0f s left   ", (long long)step + 1, (long long)c.steps,
                        terms, rate, (double)(c.steps - step - 1) / rate);
                last_print = now;
                showed = true;
            }
        } else if ((step + 1) % every_line == 0 || step + 1 == c.steps) {
            fprintf(stderr, "train: step %lld/%lld %s\n", (long long)step + 1, (long long)c.steps, terms);
        }
        if (rt->interrupted && *rt->interrupted) {
            step++;
            diag_error(d, st->span, "training interrupted after step %lld of %lld; the parameters are kept", (long long)step, (long long)c.steps);
            ok = false;
            break;
        }
    }
    if (showed)
        fprintf(stderr, "\n");
    /* Step `step` (from 0) failed: the parameters are those it started with,
     * what a run of `step` steps ends with. Only a failed update changed them. */
    if (restore) {
        int64_t off = 0;
        for (int i = 0; i < np; i++) {
            memcpy(ps[i].w, backup + off, (size_t)ps[i].n * sizeof(real));
            off += ps[i].n;
        }
    }
    if (not_finite && (restore || step > start))
        diag_hint(d, "the parameters from before step %lld are restored; a smaller learning rate or clip usually helps", (long long)step);
    if (rt->interrupted)
        *rt->interrupted = 0;
    if (rt->stats)
        fprintf(stderr, "stats: train steps=%lld batch=%lld T=%lld s_per_step=%.6g\n", (long long)(step - start), (long long)c.batch,
                (long long)src.T, (now_seconds() - t0) / (double)(step - start > 0 ? step - start : 1));
    for (int i = 0; i < nfeedback; i++)
        tensor_free(feedback[i]);
    free(feedback);
    free(backup);
    free(xi);
    free(ps);
    episode_fini(&e);
    source_free(&src);
    optim_free(opt);
    return ok;
}

/* ---- evaluation ----------------------------------------------------------- */

bool evaluate_stmt(Runtime *rt, const Env *env, const Node *st, FILE *out, Diags *d)
{
    const Node *on = ast_clause(st, intern_cstr("on"))->a;
    const Node *bc = ast_clause(st, intern_cstr("batch"));
    int64_t batch = bc ? (int64_t)check_number(env, bc->a) : DEFAULT_EVAL_BATCH;
    if (!runtime_model(rt, env, d, st->span))
        return false;
    Model *m = rt->model;
    Source src;
    if (!source_open(rt, env, on, &src, d) || !check_sizes(m, &src, d))
        return false;
    Episode e;
    EpisodeSpec spec = { batch, src.T, src.dt, METHOD_EULER, false, 0, NULL, 0, true, 0 };
    if (!source_alloc(&src, batch, d))
        return false;
    if (!episode_init(&e, m, env, &spec, d, st->span)) {
        source_free(&src);
        return false;
    }
    bool ok = true;
    char line[512];
    if (src.is_task) {
        Rng base;
        rng_seed(&base, rt->seed);
        Rng rng = rng_stream(&base, rng_id("evaluate batches"));
        source_batch(&src, &rng, batch, d);
        ok = load_batch(&e, &src, env, "evaluate", d);
        double loss = ok ? episode_forward(&e) : NAN;
        TaskMetric metric = task_metric(&src.task, &src.tb, e.outputs);
        task_metric_line(&src.task, &metric, loss, line, sizeof line);
    } else {
        DataIter it = data_iter(src.ds, DATA_TEST, batch);
        DataScore score = { 0 };
        double loss_sum = 0;
        int64_t batches = 0, got;
        int64_t trials = 0;
        while (ok && (got = data_eval_next(&it, &src.in, &src.tg, &src.mask, d, src.at)) > 0) {
            /* The last, shorter batch is padded with trials whose mask is 0. */
            if (got < batch) {
                Tensor **parts[3] = { &src.in, &src.tg, &src.mask };
                for (int k = 0; k < 3 && ok; k++) {
                    Tensor *t = *parts[k];
                    if (!t)
                        continue;
                    int64_t dim[3] = { t->dim[0], batch, t->dim[2] };
                    Tensor *full = tensor_new(t->name, 3, dim, d, st->span);
                    ok = full != NULL;
                    for (int64_t s = 0; ok && s < dim[0]; s++)
                        memcpy(full->data + s * batch * dim[2], t->data + s * got * dim[2], (size_t)(got * dim[2]) * sizeof(real));
                    tensor_free(t);
                    *parts[k] = full;
                }
                if (ok && !src.mask) {
                    int64_t dim[3] = { src.tg->dim[0], batch, src.tg->dim[2] };
                    ok = (src.mask = tensor_new("mask", 3, dim, d, st->span)) != NULL;
                    for (int64_t s = 0; ok && s < dim[0]; s++)
                        for (int64_t i = 0; i < got * dim[2]; i++)
                            src.mask->data[s * batch * dim[2] + i] = 1;
                }
            }
            ok = ok && load_batch(&e, &src, env, "evaluate", d);
            if (!ok)
                break;
            loss_sum += episode_forward(&e) * (double)got;
            trials += got;
            batches++;
            data_score_add(&score, e.outputs, src.tg, src.mask);
        }
        if (trials)
            loss_sum = loss_sum / (double)trials * (double)batches;
        ok = ok && got >= 0;
        if (ok && !batches) {
            diag_error(d, st->span, "the test part of '%s' has fewer than %lld sequences; evaluate with a smaller batch", on->name,
                       (long long)batch);
            ok = false;
        }
        const DataInfo *info = data_info(src.ds);
        if (info->kind == DATA_TEXT)
            snprintf(line, sizeof line, "evaluate: loss=%.4g perplexity=%.4g baseline_perplexity=%.4g", loss_sum / (double)(batches ? batches : 1),
                     exp(score.nll / (double)(score.count ? score.count : 1)), data_unigram_perplexity(src.ds));
        else
            snprintf(line, sizeof line, "evaluate: loss=%.4g accuracy=%.4g", loss_sum / (double)(batches ? batches : 1),
                     (double)score.correct / (double)(score.count ? score.count : 1));
    }
    if (ok)
        fprintf(out, "%s\n", line);
    episode_fini(&e);
    source_free(&src);
    return ok;
}
