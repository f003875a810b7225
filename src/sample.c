/* sample.c: the sample statement (sample.h), a character model run one step at a time.
 *
 *   sample t(prompt = "The ", length = 200, temperature = 0.8)
 *
 * A run statement after `train`: it lowers the model once, as simulate does,
 * and builds a plan for one trial and one step whose input buffer it owns. Each
 * character then costs one pass over the plan:
 *
 *   fill u one-hot -> hoisted ops (the input projection) -> loop ops -> read z
 *                  -> state slot 1 (x') copied to slot 0 (x) for the next pass
 *
 * so nothing is allocated per character and the model sees exactly the steps
 * it saw in training (a step's output is scored against the next character).
 * Characters are drawn by inverting the cumulative softmax(z / temperature) at
 * one uniform number each, from the stream rng_id("sample") of the run's seed.
 */
#include "sample.h"
#include "data.h"
#include "lower.h"
#include "plan.h"
#include "xalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const double SAMPLE_DT = 1e-3;        /* the step train.c gives a data set */
static const double DEFAULT_LENGTH = 200, DEFAULT_TEMPERATURE = 1;
static const double MAX_LENGTH = 1e7;

typedef struct SampleArgs {
    const Node *set;             /* the data set's name */
    const char *prompt;
    int64_t length;
    double temperature;
    Span prompt_at;
} SampleArgs;

enum { P_PROMPT, P_LENGTH, P_TEMPERATURE, NPARAMS };
static const char *const PARAMS[NPARAMS] = { "prompt", "length", "temperature" };

static void usage(Diags *d, Span at)
{
    diag_error(d, at, "sample takes a text data set and its settings, as in sample t(prompt = \"The \", length = 200, temperature = 0.8)");
}

/* 'x', '\n' or '\xe2' for a message. */
static void show_char(int c, char *buf, size_t n)
{
    if (c == '\n')
        snprintf(buf, n, "\\n");
    else if (c == '\t')
        snprintf(buf, n, "\\t");
    else if (c < 0x20 || c >= 0x7f)
        snprintf(buf, n, "\\x%02x", c);
    else
        snprintf(buf, n, "%c", c);
}

static bool plain_number(Checker *c, const Node *e, const char *what, double *out)
{
    Value v;
    if (!check_eval(c, e, &v))
        return false;
    if (v.kind != V_NUM || !units_is_none(v.dim)) {
        char desc[96];
        value_describe(&v, desc, sizeof desc);
        diag_error(c->diags, e->span, "%s is a number without unit, not %s", what, desc);
        return false;
    }
    *out = v.num;
    return true;
}

/* sample NAME(prompt, length = 200, temperature = 1): binds and evaluates the
 * arguments, Python style (positional, then by name). */
static bool bind_args(Checker *c, const Node *st, SampleArgs *a)
{
    Diags *d = c->diags;
    memset(a, 0, sizeof *a);
    a->length = (int64_t)DEFAULT_LENGTH;
    a->temperature = DEFAULT_TEMPERATURE;
    if (st->list.n != 1) {
        usage(d, st->list.n ? st->list.v[1]->span : st->span);
        return false;
    }
    const Node *call = st->list.v[0];
    if (call->kind == AST_ARG || (call->kind == AST_CALL && call->a->kind != AST_NAME) ||
        (call->kind != AST_CALL && call->kind != AST_NAME)) {
        usage(d, call->span);
        return false;
    }
    a->set = call->kind == AST_CALL ? call->a : call;
    a->prompt_at = call->span;
    const Node *arg[NPARAMS] = { 0 };
    if (call->kind == AST_CALL) {
        int positional = 0;
        bool named = false;
        for (int k = 0; k < call->list.n; k++) {
            const Node *e = call->list.v[k];
            int at = -1;
            if (e->kind != AST_ARG) {
                if (named) {
                    diag_error(d, e->span, "a positional argument cannot follow a named one in %s(...)", a->set->name);
                    return false;
                }
                if (positional >= NPARAMS) {
                    diag_error(d, e->span, "too many arguments: sample takes prompt, length and temperature");
                    return false;
                }
                at = positional++;
            } else {
                named = true;
                for (int i = 0; i < NPARAMS; i++)
                    if (!strcmp(PARAMS[i], e->name))
                        at = i;
                if (at < 0) {
                    const char *near = diag_closest(e->name, PARAMS, NPARAMS);
                    if (near)
                        diag_error(d, e->name_span, "sample has no parameter '%s'; did you mean '%s'?", e->name, near);
                    else
                        diag_error(d, e->name_span, "sample has no parameter '%s'; its parameters are prompt, length, temperature", e->name);
                    return false;
                }
                e = e->a;
            }
            if (arg[at]) {
                diag_error(d, e->span, "%s is given twice in %s(...)", PARAMS[at], a->set->name);
                return false;
            }
            arg[at] = e;
        }
    }
    if (!arg[P_PROMPT]) {
        diag_error(d, call->span, "sample needs a prompt to start from, as in %s(prompt = \"The \")", a->set->name);
        return false;
    }
    Value v;
    if (!check_eval(c, arg[P_PROMPT], &v))
        return false;
    a->prompt_at = arg[P_PROMPT]->span;
    if (v.kind != V_STR) {
        diag_error(d, a->prompt_at, "the prompt is text in quotes, as in prompt = \"The \"");
        return false;
    }
    if (!v.str[0]) {
        diag_error(d, a->prompt_at, "the prompt is empty; the model needs at least one character to start from");
        return false;
    }
    a->prompt = v.str;
    if (arg[P_LENGTH]) {
        double n;
        if (!plain_number(c, arg[P_LENGTH], "length", &n))
            return false;
        if (!(n >= 1) || n != floor(n) || n > MAX_LENGTH) {
            /* %g would print 10000001 as 1e+07, the bound itself */
            char got[64];
            snprintf(got, sizeof got, n == floor(n) && fabs(n) < 1e15 ? "%.0f" : "%.15g", n);
            diag_error(d, arg[P_LENGTH]->span, "length is how many characters to generate, a whole number from 1 to %.0f, not %s",
                       MAX_LENGTH, got);
            return false;
        }
        a->length = (int64_t)n;
    }
    if (arg[P_TEMPERATURE]) {
        double x;
        if (!plain_number(c, arg[P_TEMPERATURE], "temperature", &x))
            return false;
        if (!(x > 0) || !isfinite(x)) {
            diag_error(d, arg[P_TEMPERATURE]->span, "temperature must be greater than 0 (1 samples the model's own distribution), not %g", x);
            return false;
        }
        a->temperature = x;
    }
    return true;
}

/* The name must be a data set declared with text(...). */
static bool check_set(Checker *c, const Node *name)
{
    Decl *decl = env_lookup(c->env, name->name);
    if (!decl) {
        const char *near = check_closest(c, name->name, 1u << D_DATA);
        if (near)
            diag_error(c->diags, name->span, "unknown data set '%s'; did you mean '%s'?", name->name, near);
        else
            diag_error(c->diags, name->span, "unknown data set '%s'; declare it with data %s = text(\"FILE\")", name->name, name->name);
        return false;
    }
    if (decl->kind != D_DATA) {
        const char *kind = decl_kind_word(decl->kind);
        diag_error(c->diags, name->span, "'%s' is %s %s, not a data set; sample needs a text data set", name->name,
                   strchr("aeiou", kind[0]) ? "an" : "a", kind);
        return false;
    }
    const Node *reader = decl->node->a;
    if (reader->kind == AST_CALL)
        reader = reader->a;
    if (reader->kind == AST_NAME && strcmp(reader->name, "text") != 0) {
        diag_error(c->diags, name->span, "'%s' is read by %s, not text; sample generates characters from a text data set",
                   name->name, reader->name);
        return false;
    }
    return true;
}

bool sample_check(Checker *c, const Node *st)
{
    SampleArgs a;
    return bind_args(c, st, &a) && check_set(c, a.set);
}

/* ---- running -------------------------------------------------------------- */

static DataSet *open_set(Runtime *rt, const Env *env, const Node *name, Diags *d)
{
    const Decl *decl = env_lookup(env, name->name);
    for (int i = 0; decl && i < rt->ndata; i++)
        if (rt->data[i].decl == decl)
            return rt->data[i].ds;
    diag_error(d, name->span, "data set '%s' is not open: its data statement did not run", name->name);
    return NULL;
}

/* The model must read one input of V channels and give one output of V logits. */
static bool check_model(const Model *m, const DataInfo *info, const Node *name, Diags *d)
{
    long long V = (long long)info->classes;
    if (m->ninputs != 1 || m->noutputs != 1) {
        diag_error(d, name->span, "sample feeds characters to one input and reads logits from one output; the model has %d input%s and %d output%s",
                   m->ninputs, m->ninputs == 1 ? "" : "s", m->noutputs, m->noutputs == 1 ? "" : "s");
        return false;
    }
    if (m->inputs[0].n != V) {
        diag_error(d, name->span, "the vocabulary of '%s' has %lld characters but input %s has %lld", name->name, V, m->inputs[0].name,
                   (long long)m->inputs[0].n);
        return false;
    }
    if (m->outputs[0].n != V) {
        diag_error(d, name->span, "the vocabulary of '%s' has %lld characters but output %s has %lld", name->name, V, m->outputs[0].name,
                   (long long)m->outputs[0].n);
        return false;
    }
    return true;
}

/* The index of the character drawn from softmax(z / temperature); p is scratch [V]. */
static int64_t draw(const real *z, int64_t stride, int64_t V, double temperature, double *p, Rng *rng)
{
    double top = -INFINITY;
    for (int64_t i = 0; i < V; i++)
        if ((double)z[i * stride] > top)
            top = (double)z[i * stride];
    double sum = 0;
    for (int64_t i = 0; i < V; i++)
        sum += p[i] = isfinite(top) ? exp(((double)z[i * stride] - top) / temperature) : 1;
    double u = rng_uniform(rng) * sum, acc = 0;
    for (int64_t i = 0; i < V; i++) {
        acc += p[i];
        if (u < acc && p[i] > 0)
            return i;
    }
    for (int64_t i = V - 1; i > 0; i--)   /* u rounded up to sum: the last possible character */
        if (p[i] > 0)
            return i;
    return 0;
}

bool sample_stmt(Runtime *rt, const Env *env, const Node *st, FILE *out, Diags *d)
{
    Arena arena;
    arena_init(&arena);
    Checker c = { .env = (Env *)env, .arena = &arena, .diags = d };
    SampleArgs a;
    DataSet *ds = NULL;
    bool ok = bind_args(&c, st, &a) && (ds = open_set(rt, env, a.set, d)) != NULL;
    const DataInfo *info = ds ? data_info(ds) : NULL;
    if (ok && info->kind != DATA_TEXT) {
        diag_error(d, a.set->span, "'%s' is read by %s, not text; sample generates characters from a text data set", a.set->name,
                   info->reader);
        ok = false;
    }
    /* Every prompt character must be in the vocabulary. */
    const int64_t P = ok ? (int64_t)strlen(a.prompt) : 0;
    for (int64_t k = 0; ok && k < P; k++)
        if (data_char_index(ds, (unsigned char)a.prompt[k]) < 0) {
            char ch[8];
            show_char((unsigned char)a.prompt[k], ch, sizeof ch);
            diag_error(d, a.prompt_at, "the prompt's character '%s' never occurs in the text of '%s', so the model has no input for it",
                       ch, a.set->name);
            ok = false;
        }
    ok = ok && runtime_model(rt, env, d, st->span) && check_model(rt->model, info, a.set, d);
    if (!ok) {
        arena_fini(&arena);
        return false;
    }
    Model *m = rt->model;
    const int64_t V = info->classes;

    /* One trial, one step: the plan keeps x (slot 0) and x' (slot 1) of each state. */
    Graph g;
    graph_init(&g);
    LowerSpec ls = { METHOD_EULER, SAMPLE_DT, env, NULL, 0 };
    Plan plan = { 0 };
    int zn = -1, un = -1;
    ok = lower_model(m, &ls, &g, d, st->span);
    if (ok) {
        zn = graph_find(&g, m->outputs[0].name);
        PlanSpec ps = { .batch = 1, .steps = 1, .wanted = &zn, .nwanted = 1, .own_inputs = true, .dt = SAMPLE_DT };
        ps.noise = model_stream(m, "noise#sample");
        ok = zn >= 0 && plan_build(&plan, &g, &ps, d, st->span);
    }
    for (int i = 0; ok && i < g.n; i++)
        if (g.nodes[i].kind == G_INPUT && g.nodes[i].index == 0 && plan.live[i])
            un = i;
    for (int s = 0; ok && s < g.nstates; s++)
        ok = model_draw_init(m, env, g.states[s].model_state, "sample", plan_value(&plan, g.states[s].cur, 0, NULL, NULL), 1, d);
    char *text = ok ? xmalloc((size_t)(P + a.length + 1)) : NULL;
    double *p = ok ? xmalloc((size_t)V * sizeof *p) : NULL;
    int64_t made = 0;
    if (ok) {
        memcpy(text, a.prompt, (size_t)P);
        Rng base;
        rng_seed(&base, rt->seed);
        Rng rng = rng_stream(&base, rng_id("sample"));
        /* z is [1, V], or a number when nothing feeds it */
        const GNode *zg = &g.nodes[zn];
        int64_t stride = zg->shape.rank == 1 && zg->shape.dim[0] == V ? 1 : 0;
        plan_prepare(&plan);
        for (int64_t t = 0; t < P + a.length - 1; t++) {
            if (un >= 0) {
                real *u = plan_value(&plan, un, 0, NULL, NULL);
                memset(u, 0, (size_t)V * sizeof *u);
                u[data_char_index(ds, (unsigned char)text[t])] = 1;
                for (int i = 0; i < plan.nsteps; i++)
                    if (plan.steps[i].seg == SEG_HOIST)
                        plan_step_one(&plan, i, 0);
            }
            plan_step(&plan, 0);
            if (t + 1 >= P) {
                const real *z = plan_value(&plan, zn, 0, NULL, NULL);
                text[t + 1] = (char)data_index_char(ds, draw(z, stride, V, a.temperature, p, &rng));
                made++;
            }
            for (int s = 0; s < g.nstates; s++) {
                int64_t ld, rows;
                real *x = plan_value(&plan, g.states[s].cur, 0, &ld, &rows);
                memcpy(x, plan_value(&plan, g.states[s].cur, 1, NULL, NULL), (size_t)(ld * rows) * sizeof *x);
            }
            if (rt->interrupted && *rt->interrupted)
                break;
        }
        fwrite(text, 1, (size_t)(P + made), out);
        fputc('\n', out);
        if (made < a.length) {
            diag_error(d, st->span, "interrupted after %lld of %lld characters; the text so far is printed", (long long)made,
                       (long long)a.length);
            if (rt->interrupted)
                *rt->interrupted = 0;
            ok = false;
        }
    }
    free(text);
    free(p);
    if (plan.g)
        plan_fini(&plan);
    graph_fini(&g);
    arena_fini(&arena);
    return ok;
}
