/* interp.c: parse, check, run (see interp.h).
 *
 * The order matters for the user: a script reports every error it has before
 * anything runs, so a typo on line 90 does not cost a ten-minute simulation on
 * line 10. Declarations take effect when checked; run statements execute
 * afterwards, in order. Imports are checked where they stand, once per module.
 */
#include "interp.h"
#include "lex.h"
#include "pending.h"
#include "plot_stmt.h"
#include "sample.h"
#include "xalloc.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

volatile sig_atomic_t interp_interrupted;

static void notice(void *self, const char *msg)
{
    Interp *in = self;
    if (in->interactive)
        fprintf(stderr, "%s\n", msg);
    else
        fprintf(stderr, "note: %s\n", msg);
}

static bool import_module(void *self, Checker *c, const Node *st);

/* Ctrl-C in a script: the first asks the running statement to stop cleanly
 * (training keeps its parameters, a simulation its state); a second ends cajal. */
static void on_script_interrupt(int sig)
{
    if (interp_interrupted) {
        signal(sig, SIG_DFL);
        raise(sig);
    }
    interp_interrupted = 1;
}

void interp_catch_interrupts(void)
{
    struct sigaction sa = { 0 };
    sa.sa_handler = on_script_interrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
}

void interp_init(Interp *in)
{
    memset(in, 0, sizeof *in);
    arena_init(&in->arena);
    env_init(&in->env);
    diags_init(&in->diags);
    modules_init(&in->paths);
    in->out = stdout;
    in->seed = 1;
    runtime_init(&in->rt);
    in->rt.interrupted = &interp_interrupted;
    in->checker = (Checker){
        .env = &in->env, .arena = &in->arena, .diags = &in->diags,
        .import = import_module, .import_self = in, .notice = notice, .notice_self = in,
    };
}

void interp_fini(Interp *in)
{
    runtime_fini(&in->rt);
    for (int i = 0; i < in->nimported; i++)
        free(in->imported[i]);
    free(in->imported);
    free(in->importing);
    free(in->defines);
    modules_fini(&in->paths);
    diags_fini(&in->diags);
    env_fini(&in->env);
    arena_fini(&in->arena);
}

void interp_flush(Interp *in)
{
    fflush(in->out);
    diags_print(&in->diags, stderr, in->color);
    diags_clear(&in->diags);
}

bool interp_define(Interp *in, const char *text)
{
    const char *eq = strchr(text, '=');
    size_t n = eq ? (size_t)(eq - text) : 0;
    bool name_ok = n > 0;
    for (size_t i = 0; i < n; i++) {
        char ch = text[i];
        bool alpha = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
        name_ok = name_ok && (alpha || (i > 0 && ch >= '0' && ch <= '9'));
    }
    if (!name_ok || !eq[1]) {
        diag_error(&in->diags, span_none(), "-D takes name=value, as in -D N=256 or -D tau=20ms (got '%s')", text);
        return false;
    }
    SourceFile *f = source_new("<command line>", eq + 1, strlen(eq + 1));
    Node *prog = parse_source(f, &in->arena, &in->diags, NULL);
    if (in->diags.errors)
        return false;
    if (prog->body.n != 1 || prog->body.v[0]->kind != AST_EXPR_STMT) {
        diag_error(&in->diags, (Span){ f, 0, (uint32_t)f->len }, "-D %.*s needs a value, as in -D N=256", (int)n, text);
        return false;
    }
    in->defines = xrealloc(in->defines, (size_t)(in->ndefines + 1) * sizeof *in->defines);
    in->defines[in->ndefines++] = (Define){ intern(text, n), prog->body.v[0]->a, false };
    in->checker.defines = in->defines;
    in->checker.ndefines = in->ndefines;
    return true;
}

bool interp_defines_used(Interp *in)
{
    bool ok = true;
    for (int i = 0; i < in->ndefines; i++) {
        if (in->defines[i].used)
            continue;
        char lets[512] = "";
        size_t len = 0;
        const char *names[256];
        int n = 0;
        for (int k = 0; k < in->env.n; k++) {
            const Decl *d = in->env.v[k];
            if (d->kind != D_LET || d->dead || n >= 256)
                continue;
            names[n++] = d->name;
            if (len < sizeof lets - 40)
                len += (size_t)snprintf(lets + len, sizeof lets - len, "%s%s", len ? ", " : "", d->name);
        }
        const char *near = diag_closest(in->defines[i].name, names, n);
        if (near)
            diag_error(&in->diags, span_none(), "-D %s: the script has no 'let %s'; did you mean '%s'? its lets are %s",
                       in->defines[i].name, in->defines[i].name, near, lets);
        else if (n)
            diag_error(&in->diags, span_none(), "-D %s: the script has no 'let %s'; its lets are %s", in->defines[i].name,
                       in->defines[i].name, lets);
        else
            diag_error(&in->diags, span_none(), "-D %s: the script has no lets to override", in->defines[i].name);
        ok = false;
    }
    return ok;
}

/* ---- imports ------------------------------------------------------------- */

static InterpStatus check_source(Interp *in, SourceFile *f, Node **program);

static bool import_module(void *self, Checker *c, const Node *st)
{
    Interp *in = self;
    const char *from = st->span.file ? st->span.file->name : ".";
    char *from_dir = (from[0] == '<') ? xstrdup(".") : modules_dir_of(from);
    char looked[2048];
    char *path = modules_find(&in->paths, from_dir, st->text, looked, sizeof looked);
    free(from_dir);
    if (!path) {
        diag_error(c->diags, st->name_span, "module '%s' not found", st->text);
        diag_hint(c->diags, "looked in %s", looked[0] ? looked : "no folders");
        return false;
    }
    char real[PATH_MAX];
    if (!realpath(path, real))
        snprintf(real, sizeof real, "%s", path);
    for (int i = 0; i < in->nimporting; i++)
        if (strcmp(in->importing[i], real) == 0) {
            char chain[2048] = "";
            size_t len = 0;
            for (int k = i; k < in->nimporting; k++)
                len += (size_t)snprintf(chain + len, sizeof chain - len > len ? sizeof chain - len : 0, "%s -> ",
                                        strrchr(in->importing[k], '/') ? strrchr(in->importing[k], '/') + 1 : in->importing[k]);
            snprintf(chain + len, sizeof chain - len > len ? sizeof chain - len : 0, "%s",
                     strrchr(real, '/') ? strrchr(real, '/') + 1 : real);
            diag_error(c->diags, st->span, "import cycle: %s", chain);
            free(path);
            return false;
        }
    for (int i = 0; i < in->nimported; i++)
        if (strcmp(in->imported[i], real) == 0) {
            free(path);
            return true;   /* imported before: once is enough */
        }
    const char *why = NULL;
    SourceFile *f = source_read(path, &why);
    if (!f) {
        diag_error(c->diags, st->name_span, "cannot read module '%s' (%s): %s", st->text, path, why);
        free(path);
        return false;
    }
    free(path);
    in->importing = xrealloc(in->importing, (size_t)(in->nimporting + 1) * sizeof *in->importing);
    in->importing[in->nimporting++] = real;
    Node *prog;
    InterpStatus s = check_source(in, f, &prog);
    in->nimporting--;
    if (s != INTERP_OK) {
        diag_note(c->diags, st->span, "in the module imported here");
        return false;
    }
    for (int i = 0; i < prog->body.n; i++) {
        NodeKind k = prog->body.v[i]->kind;
        if (k != AST_LET && k != AST_NEURON && k != AST_CELL && k != AST_PLASTICITY && k != AST_IMPORT &&
            k != AST_EXTERN && k != AST_TASK && k != AST_SEED) {
            diag_error(c->diags, prog->body.v[i]->span, "a module declares models, rules and lets; %s belongs in the script that imports it",
                       ast_kind_phrase(k));
            diag_note(c->diags, st->span, "in the module imported here");
            return false;
        }
    }
    in->imported = xrealloc(in->imported, (size_t)(in->nimported + 1) * sizeof *in->imported);
    in->imported[in->nimported++] = xstrdup(real);
    return true;
}

/* ---- running ------------------------------------------------------------- */

/* Writes v whole, however long: value_format's buffer would cut a long list
 * or string. */
static void put_value(FILE *out, const Value *v)
{
    if (v->kind == V_STR) {
        fputs(v->str, out);
    } else if (v->kind == V_LIST) {
        fputc('[', out);
        for (int i = 0; i < v->n; i++) {
            if (i)
                fputs(", ", out);
            put_value(out, &v->items[i]);
        }
        fputc(']', out);
    } else {
        char buf[256];
        value_format(v, buf, sizeof buf);
        fputs(buf, out);
    }
}

static void print_value(Interp *in, const Value *v)
{
    put_value(in->out, v);
    fputc('\n', in->out);
}

/* print E.r, 40 + 2: constants with their units, model values as arrays. */
static bool run_print(Interp *in, const Node *st, const NodeList *items)
{
    for (int i = 0; i < items->n; i++) {
        Value v;
        Diags quiet;
        diags_init(&quiet);
        in->checker.diags = &quiet;
        bool constant = check_eval(&in->checker, items->v[i], &v);
        in->checker.diags = &in->diags;
        diags_fini(&quiet);
        if (constant)
            print_value(in, &v);
        else if (!inspect_print(&in->rt, &in->env, items->v[i], in->out, &in->diags))
            return false;
    }
    (void)st;
    return true;
}

static bool run_stmt(Interp *in, Node *st)
{
    in->rt.seed = in->seed;
    in->rt.progress = in->color;
    switch (st->kind) {
    case AST_PRINT:
        return run_print(in, st, &st->list);
    case AST_EXPR_STMT: {
        NodeList one = { &st->a, 1, 1 };
        return run_print(in, st, &one);
    }
    case AST_SEED: {
        /* --seed wins, as -D wins over a let: the statement still resets the
         * generator, to the command line's seed. */
        Value v;
        check_eval(&in->checker, st->a, &v);
        if (in->seed_fixed && (uint64_t)v.num != in->seed) {
            char msg[96];
            snprintf(msg, sizeof msg, "--seed %llu replaces seed %llu", (unsigned long long)in->seed, (unsigned long long)v.num);
            notice(in, msg);
        }
        if (!in->seed_fixed)
            in->seed = (uint64_t)v.num;
        in->rt.seed = in->seed;
        return true;
    }
    case AST_SIMULATE:
        return simulate_stmt(&in->rt, &in->env, st, &in->diags);
    case AST_TRAIN:
        return train_stmt(&in->rt, &in->env, st, &in->diags);
    case AST_EVALUATE:
        return evaluate_stmt(&in->rt, &in->env, st, in->out, &in->diags);
    case AST_SAVE:
        return persist_save(&in->rt, &in->env, st, &in->diags);
    case AST_LOAD:
        return persist_load(&in->rt, &in->env, st, &in->diags);
    case AST_PLOT:
    {
        const LossCurve *c = &in->rt.loss;
        PlotLoss loss = { (const char *const *)c->names, c->nterms, c->step, c->value, c->n };
        /* the curve keeps term k's values at value[k * cap]: hand them over packed */
        if (c->n && c->n != c->cap)
            for (int k = 1; k < c->nterms; k++)
                memmove(c->value + k * c->n, c->value + k * c->cap, (size_t)c->n * sizeof *c->value);
        if (c->n)
            in->rt.loss.cap = c->n;
        return plot_stmt(&in->rt, &in->env, st, c->n ? &loss : NULL, &in->diags);
    }
    case AST_RASTER:
        return plot_stmt_raster(&in->rt, &in->env, st, &in->diags);
    case AST_ANALYSIS:
        return pending_stop(&in->diags, st->span, st->name, PENDING_ANALYSIS);
    case AST_SAMPLE:
        return sample_stmt(&in->rt, &in->env, st, in->out, &in->diags);
    case AST_DATA:
        return data_stmt(&in->rt, &in->env, st, &in->diags);
    case AST_EXTERN:
        return pending_stop(&in->diags, st->span, "extern", PENDING_EXTERN);
    default:
        return true;   /* declarations took effect when checked */
    }
}

/* Parses and checks a whole source; declarations enter the environment.
 * marks (may be NULL) receives, per statement, how many declarations existed
 * after it was checked: what that statement sees when it runs. */
static InterpStatus check_source_marked(Interp *in, SourceFile *f, Node **program, int **marks)
{
    int errors = in->diags.errors;
    bool incomplete = false;
    *program = parse_source(f, &in->arena, &in->diags, &incomplete);
    if (marks)
        *marks = NULL;
    if (in->diags.errors > errors && (in->interactive || incomplete))
        return incomplete && in->interactive ? INTERP_INCOMPLETE : INTERP_ERROR;
    /* A script's statements that did parse are checked too, so one run shows
     * every error the file has. */
    if (marks)
        *marks = xcalloc((size_t)(*program)->body.n + 1, sizeof **marks);
    for (int i = 0; i < (*program)->body.n; i++) {
        Node *st = (*program)->body.v[i];
        if (st->kind == AST_EXPR_STMT && !in->interactive) {
            diag_error(&in->diags, st->span, "this expression does nothing in a script; to show it, write print %.*s",
                       (int)(st->span.len > 60 ? 60 : st->span.len), st->span.file->text + st->span.off);
        } else {
            check_stmt(&in->checker, st);
        }
        if (marks)
            (*marks)[i] = in->env.n;
    }
    return in->diags.errors > errors ? INTERP_ERROR : INTERP_OK;
}

static InterpStatus check_source(Interp *in, SourceFile *f, Node **program)
{
    return check_source_marked(in, f, program, NULL);
}

/* Makes the environment look as it did when its first n declarations existed,
 * so a run statement in a script sees the declarations above it, as it would
 * in the REPL, even when a later line re-declares them. */
static void env_view(Env *e, int n, int total)
{
    e->n = total;
    for (int i = 0; i < total; i++)
        e->v[i]->dead = false;
    for (int j = 0; j < n; j++)
        if (e->v[j]->replaced)
            e->v[j]->replaced->dead = true;
    e->n = n;
}

/* Runs a source that checked clean, statement by statement; total is how many
 * declarations exist once every source given with it was checked. */
static InterpStatus run_source(Interp *in, Node *prog, const int *marks, int total)
{
    for (int i = 0; i < prog->body.n; i++) {
        if (interp_interrupted) {
            diag_error(&in->diags, prog->body.v[i]->span, "interrupted before this statement; what ran before it is kept");
            interp_interrupted = 0;
            return INTERP_ERROR;
        }
        env_view(&in->env, marks[i], total);
        bool ok = run_stmt(in, prog->body.v[i]);
        env_view(&in->env, total, total);
        if (!ok)
            return INTERP_ERROR;
    }
    return INTERP_OK;
}

InterpStatus interp_exec_all(Interp *in, SourceFile *const *f, int n)
{
    ArenaMark mark = arena_mark(&in->arena);
    EnvMark env = env_mark(&in->env);
    int nimported = in->nimported;
    int nfailed = in->checker.nfailed;
    Node **progs = xcalloc((size_t)n + 1, sizeof *progs);
    int **marks = xcalloc((size_t)n + 1, sizeof *marks);
    InterpStatus result = INTERP_OK;
    for (int k = 0; k < n && result == INTERP_OK; k++)
        result = check_source_marked(in, f[k], &progs[k], &marks[k]);
    if (result != INTERP_OK) {
        if (in->interactive) {
            /* A bad entry leaves nothing behind. */
            env_rollback(&in->env, env);
            check_drop_failed(&in->checker, nfailed);
            while (in->nimported > nimported)
                free(in->imported[--in->nimported]);
            arena_release(&in->arena, mark);
        }
        if (result == INTERP_INCOMPLETE)
            diags_clear(&in->diags);
    } else {
        /* A -D that meets no let is a usage error, found before anything runs. */
        if (in->check_defines && !in->interactive) {
            in->check_defines = false;
            if (!interp_defines_used(in)) {
                in->usage_error = true;
                result = INTERP_ERROR;
            }
        }
        int total = in->env.n;
        for (int k = 0; k < n && result == INTERP_OK && !in->check_only; k++)
            result = run_source(in, progs[k], marks[k], total);
    }
    for (int k = 0; k < n; k++)
        free(marks[k]);
    free(marks);
    free(progs);
    return result;
}

InterpStatus interp_exec(Interp *in, SourceFile *f)
{
    return interp_exec_all(in, &f, 1);
}

InterpStatus interp_exec_file(Interp *in, const char *path)
{
    const char *why = NULL;
    SourceFile *f = source_read(path, &why);
    if (!f) {
        diag_error(&in->diags, span_none(), "cannot read '%s': %s", path, why);
        return INTERP_ERROR;
    }
    /* The script itself is on the import chain: importing it is a cycle. */
    char real[PATH_MAX];
    if (!realpath(path, real))
        snprintf(real, sizeof real, "%s", path);
    in->importing = xrealloc(in->importing, (size_t)(in->nimporting + 1) * sizeof *in->importing);
    in->importing[in->nimporting++] = real;
    InterpStatus s = interp_exec(in, f);
    in->nimporting--;
    return s;
}

bool interp_load_prelude(Interp *in)
{
    const char *dir = modules_stdlib_dir();
    if (!dir) {
        diag_error(&in->diags, span_none(), "the standard library is missing (looked in %s and %s/stdlib); set CAJAL_STDLIB",
                   CAJAL_STDLIB, CAJAL_SRCDIR);
        return false;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/prelude.cajal", dir);
    void (*say)(void *, const char *) = in->checker.notice;
    bool check_only = in->check_only, interactive = in->interactive;
    in->checker.notice = NULL;
    in->check_only = in->interactive = false;
    InterpStatus s = interp_exec_file(in, path);
    in->checker.notice = say;
    in->check_only = check_only;
    in->interactive = interactive;
    return s == INTERP_OK;
}
