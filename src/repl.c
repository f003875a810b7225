/* repl.c: the interactive loop on GNU readline.
 *
 * An entry is read line by line until it is complete (an open brace, bracket,
 * string or trailing operator asks for more, as lua.c's `incomplete` does), then
 * handed to the interpreter; a failed entry is rolled back there. Ctrl-C at the
 * prompt drops the line; during a statement it sets interp_interrupted, which
 * long statements poll. Input from a pipe is read the same way without prompts
 * or readline.
 */
#include "repl.h"
#include "help.h"
#include "lex.h"
#include "plot_stmt.h"
#include "xalloc.h"

#include <dirent.h>
#include <readline/history.h>
#include <readline/readline.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static Interp *the_interp;            /* for readline's completion callbacks */
static sigjmp_buf prompt_jump;
static volatile sig_atomic_t at_prompt;

static void on_sigint(int sig)
{
    (void)sig;
    if (at_prompt)
        siglongjmp(prompt_jump, 1);
    interp_interrupted = 1;
}

/* ---- completion ---------------------------------------------------------- */

typedef struct Candidates {
    char **v;
    int n, cap, next;
} Candidates;

static Candidates cands;

static void cand_add(const char *prefix, const char *word)
{
    if (!word || strncmp(word, prefix, strlen(prefix)) != 0)
        return;
    for (int i = 0; i < cands.n; i++)
        if (strcmp(cands.v[i], word) == 0)
            return;
    if (cands.n == cands.cap) {
        cands.cap = cands.cap ? 2 * cands.cap : 64;
        cands.v = xrealloc(cands.v, (size_t)cands.cap * sizeof *cands.v);
    }
    cands.v[cands.n++] = xstrdup(word);
}

static void cand_clear(void)
{
    for (int i = 0; i < cands.n; i++)
        free(cands.v[i]);
    cands.n = cands.next = 0;
}

static char *cand_next(const char *text, int state)
{
    (void)text;
    (void)state;
    if (cands.next < cands.n)
        return xstrdup(cands.v[cands.next++]);
    return NULL;
}

static const char *const keywords[] = {
    "let", "seed", "import", "extern", "neuron", "cell", "plasticity", "population", "input", "output",
    "synapse", "cost", "task", "data", "simulate", "train", "evaluate", "save", "load", "plot", "raster",
    "print", "sample", "fixedpoints", "eig", "pca", "lyapunov", "energy", "out", "state", "gate", "spike",
    "trace", "on", "constrain", "init", "sign", "plastic", "learn", "no_self", "one_to_one", "for", "steps",
    "dt", "method", "record", "every", "continue", "with", "batch", "by", "clip", "bptt", "checkpoint",
    "resume", "recompute", "during", "at", "end", "where", "as", "scale", "split", "shuffle", "limit", "vs", "to",
    "grads", "into", "from", "lowrank", "when", "reset", "refractory", "and", "or", "not", NULL,
};

static const char *const commands[] = { ":help", ":names", ":load", ":set", ":reset", ":quit", NULL };

static void members_of(const Decl *d, const char *prefix, const char *base)
{
    char buf[600];
    if (d->kind == D_POPULATION && d->model && d->model->info) {
        const ModelInfo *info = d->model->info;
        for (int i = 0; i < info->nvars; i++) {
            snprintf(buf, sizeof buf, "%s.%s", base, info->vars[i].name);
            cand_add(prefix, buf);
        }
        for (int i = 0; i < info->nparams; i++) {
            snprintf(buf, sizeof buf, "%s.%s", base, info->params[i].name);
            cand_add(prefix, buf);
        }
        snprintf(buf, sizeof buf, "%s.in", base);
        cand_add(prefix, buf);
    } else if (d->kind == D_SYNAPSE) {
        const char *names[3] = { "w", "m", "n" };
        for (int i = 0; i < (d->rank ? 3 : 1); i++) {
            snprintf(buf, sizeof buf, "%s.%s", base, names[i]);
            cand_add(prefix, buf);
        }
    }
}

static void modules_in(const char *dir, const char *prefix)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return;
    struct dirent *e;
    while ((e = readdir(dp))) {
        size_t n = strlen(e->d_name);
        if (n > 6 && strcmp(e->d_name + n - 6, ".cajal") == 0 && strcmp(e->d_name, "prelude.cajal") != 0) {
            char name[256];
            snprintf(name, sizeof name, "%.*s", (int)(n - 6), e->d_name);
            cand_add(prefix, name);
        }
    }
    closedir(dp);
}

static char **complete(const char *text, int start, int end)
{
    (void)end;
    cand_clear();
    rl_attempted_completion_over = 1;
    const char *line = rl_line_buffer;
    /* import "ls<TAB> */
    const char *imp = strstr(line, "import");
    if (imp && start > 0 && line[start - 1] == '"' && imp < line + start) {
        modules_in(".", text);
        for (int i = 0; i < the_interp->paths.n; i++)
            modules_in(the_interp->paths.dirs[i], text);
        if (modules_stdlib_dir())
            modules_in(modules_stdlib_dir(), text);
        rl_completion_append_character = '"';
        return rl_completion_matches(text, cand_next);
    }
    rl_completion_append_character = ' ';
    int first = 0;
    while (line[first] == ' ')
        first++;
    if (line[first] == ':' && start <= first + 1) {
        for (int i = 0; commands[i]; i++)
            cand_add(text, commands[i]);
        return rl_completion_matches(text, cand_next);
    }
    if (strncmp(line + first, ":help", 5) == 0) {
        for (int i = 0; help_topic_at(i); i++)
            cand_add(text, help_topic_at(i));
        for (int i = 0; builtin_at(i); i++)
            cand_add(text, builtin_at(i)->name);
        return rl_completion_matches(text, cand_next);
    }
    const char *dot = strrchr(text, '.');
    if (dot) {
        char base[256];
        snprintf(base, sizeof base, "%.*s", (int)(dot - text), text);
        Decl *d = env_lookup(&the_interp->env, intern_cstr(base));
        if (d)
            members_of(d, text, base);
        rl_completion_append_character = 0;
        rl_completion_suppress_append = 1;
        return rl_completion_matches(text, cand_next);
    }
    for (int i = 0; keywords[i]; i++)
        cand_add(text, keywords[i]);
    for (int i = 0; i < the_interp->env.n; i++)
        if (!the_interp->env.v[i]->dead)
            cand_add(text, the_interp->env.v[i]->name);
    for (int i = 0; builtin_at(i); i++)
        cand_add(text, builtin_at(i)->name);
    return rl_completion_matches(text, cand_next);
}

/* ---- commands ------------------------------------------------------------ */

static void show_names(Interp *in)
{
    int shown = 0;
    for (int i = 0; i < in->env.n; i++) {
        const Decl *d = in->env.v[i];
        if (d->dead)
            continue;
        const char *file = d->node->span.file ? d->node->span.file->name : "";
        bool prelude = strstr(file, "prelude.cajal") != NULL;
        if (prelude)
            continue;
        char buf[512];
        switch (d->kind) {
        case D_LET:
            value_format(&d->value, buf, sizeof buf);
            printf("  let %-14s = %s\n", d->name, buf);
            break;
        case D_POPULATION:
            printf("  population %-7s %s, %lld neurons\n", d->name, d->model->name, (long long)d->size);
            break;
        case D_INPUT:
        case D_OUTPUT:
            printf("  %-10s %-7s [%lld]\n", decl_kind_word(d->kind), d->name, (long long)d->size);
            break;
        case D_SYNAPSE: {
            const Node *p = NULL;
            bool one_to_one = false;
            for (int k = 0; k < d->node->body.n; k++) {
                if (d->node->body.v[k]->kind == AST_EQUATION && d->node->body.v[k]->a->kind == AST_NAME &&
                    d->node->body.v[k]->a->name == intern_cstr("p"))
                    p = d->node->body.v[k]->b;
                if (d->node->body.v[k]->kind == AST_FLAG && d->node->body.v[k]->name == intern_cstr("one_to_one"))
                    one_to_one = true;
            }
            if (one_to_one)   /* stored as its diagonal, as print and save show it */
                snprintf(buf, sizeof buf, "[%lld] one_to_one", (long long)d->post->size);
            else if (d->rank)
                snprintf(buf, sizeof buf, "low rank %lld: m [%lld, %lld], n [%lld, %lld]", (long long)d->rank,
                         (long long)d->post->size, (long long)d->rank, (long long)d->pre->size, (long long)d->rank);
            else if (p) {
                /* the model knows the drawn connections once it is built */
                char wname[300];
                snprintf(wname, sizeof wname, "%s.w", d->name);
                int k = in->rt.model ? model_find_param(in->rt.model, wname) : -1;
                const ModelParam *mp = k >= 0 ? &in->rt.model->params[k] : NULL;
                if (mp && mp->csr)
                    snprintf(buf, sizeof buf, "[%lld, %lld] CSR, %lld connections (p = %.*s)", (long long)d->post->size,
                             (long long)d->pre->size, (long long)mp->csr->nnz, (int)p->span.len, p->span.file->text + p->span.off);
                else
                    snprintf(buf, sizeof buf, "[%lld, %lld] %s, p = %.*s", (long long)d->post->size, (long long)d->pre->size,
                             mp ? "dense with a mask" : "sparse", (int)p->span.len, p->span.file->text + p->span.off);
            }
            else
                snprintf(buf, sizeof buf, "[%lld, %lld] dense", (long long)d->post->size, (long long)d->pre->size);
            printf("  synapse %-10s %s -> %s%s%s, w %s\n", d->name, d->pre->name, d->post->name, d->target ? "." : "",
                   d->target ? d->target : "", buf);
            break;
        }
        default:
            printf("  %-10s %s\n", decl_kind_word(d->kind), d->name);
            break;
        }
        shown++;
    }
    if (!shown)
        printf("  nothing declared yet (the prelude's models: Rate, Leaky, LIF; rules: hebb, oja, bcm, vogels, selectron)\n");
}

static void reset(Interp *in)
{
    Interp fresh;
    interp_init(&fresh);
    fresh.color = in->color;
    fresh.interactive = true;
    fresh.seed = in->seed;
    fresh.seed_fixed = in->seed_fixed;
    for (int i = 0; i < in->paths.n; i++)
        modules_add(&fresh.paths, in->paths.dirs[i]);
    interp_fini(in);
    *in = fresh;
    in->checker.env = &in->env;
    in->checker.arena = &in->arena;
    in->checker.diags = &in->diags;
    in->checker.import_self = in;
    in->checker.notice_self = in;
    interp_load_prelude(in);
    interp_flush(in);
}

/* The live neuron, cell or plasticity rule called name, or NULL. */
static const Decl *find_model(const Interp *in, const char *name, bool any_case)
{
    for (int i = in->env.n - 1; i >= 0; i--) {
        const Decl *d = in->env.v[i];
        bool model = d->kind == D_NEURON || d->kind == D_CELL || d->kind == D_PLASTICITY;
        if (model && !d->dead && (any_case ? strcasecmp(d->name, name) : strcmp(d->name, name)) == 0)
            return d;
    }
    return NULL;
}

/* :help NAME for a declared neuron, cell or plasticity rule (the prelude's Rate,
 * LIF, hebb, ..., or the user's own): its header line and the comment above it,
 * read from its source, so the page cannot drift from the declaration. */
static bool help_declared(const Interp *in, const char *topic)
{
    char name[64];
    snprintf(name, sizeof name, "%s", topic);
    size_t n = strlen(name);
    while (n && (name[n - 1] == ' ' || name[n - 1] == '\n'))
        name[--n] = 0;
    /* the exact name first; then, where no topic has the name, any case */
    const Decl *d = find_model(in, name, false);
    if (!d && !help_has(name))
        d = find_model(in, name, true);
    if (d) {
        Span at = d->node->span;
        const char *text = at.file->text;
        size_t end = at.off;
        while (end < at.file->len && text[end] != '\n' && text[end] != '{')
            end++;
        while (end > at.off && text[end - 1] == ' ')
            end--;
        int line, col;
        span_linecol(at, &line, &col);
        printf("%.*s\n\n", (int)(end - at.off), text + at.off);
        /* the comment lines right above the declaration */
        size_t start = at.off;
        while (start > 0 && text[start - 1] != '\n')
            start--;
        size_t top = start;
        while (top > 0) {
            size_t prev = top - 1;
            while (prev > 0 && text[prev - 1] != '\n')
                prev--;
            size_t k = prev;
            while (text[k] == ' ' || text[k] == '\t')
                k++;
            if (text[k] != '#')
                break;
            top = prev;
        }
        for (size_t p = top; p < start;) {
            size_t e = p;
            while (e < start && text[e] != '\n')
                e++;
            size_t k = p;
            while (text[k] == ' ' || text[k] == '\t' || text[k] == '#')
                k++;
            printf("  %.*s\n", (int)(e - k), text + k);
            p = e + 1;
        }
        printf("%s(%s:%d)\n", top < start ? "\n  " : "  ", at.file->name, line);
        return true;
    }
    return false;
}

/* Returns false for :quit. */
static bool command(Interp *in, const char *line, bool *had_error)
{
    while (*line == ' ')
        line++;
    const char *arg = line;
    while (*arg && *arg != ' ')
        arg++;
    size_t n = (size_t)(arg - line);
    while (*arg == ' ')
        arg++;
    if (n == 5 && !strncmp(line, ":quit", 5)) {
        return false;
    } else if (n == 5 && !strncmp(line, ":help", 5)) {
        if (!help_declared(in, arg))
            help_show(stdout, arg);
    } else if (n == 6 && !strncmp(line, ":names", 6)) {
        show_names(in);
    } else if (n == 5 && !strncmp(line, ":load", 5)) {
        char path[4096];
        snprintf(path, sizeof path, "%s", arg);
        size_t len = strlen(path);
        while (len && (path[len - 1] == ' ' || path[len - 1] == '\n'))
            path[--len] = 0;
        if (len >= 2 && path[0] == '"' && path[len - 1] == '"') {
            memmove(path, path + 1, len - 2);
            path[len - 2] = 0;
        }
        if (!path[0]) {
            printf(":load needs a file name\n");
        } else if (interp_exec_file(in, path) != INTERP_OK) {
            *had_error = true;
        }
        interp_flush(in);
    } else if (n == 4 && !strncmp(line, ":set", 4)) {
        if (strncmp(arg, "plot", 4) != 0 || (arg[4] && arg[4] != ' ')) {
            printf(":set takes plot text, plot sixel or plot auto\n");
            *had_error = true;
        } else if (!arg[4 + strspn(arg + 4, " ")]) {
            printf("plot %s\n", plot_term_name(plot_stmt_term()));
        } else if (!plot_stmt_set_term(arg + 4)) {
            printf(":set plot takes text, sixel or auto\n");
            *had_error = true;
        }
    } else if (n == 6 && !strncmp(line, ":reset", 6)) {
        reset(in);
        printf("everything declared is gone; the prelude is loaded again\n");
    } else {
        const char *cmds[] = { ":help", ":names", ":load", ":set", ":reset", ":quit" };
        char word[64];
        snprintf(word, sizeof word, "%.*s", (int)(n < 60 ? n : 60), line);
        const char *near = diag_closest(word, cmds, 6);
        printf("unknown command '%s'%s%s%s; the commands are :help :names :load :set :reset :quit\n", word,
               near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
        *had_error = true;
    }
    return true;
}

/* ---- the loop ------------------------------------------------------------ */

static char *history_path(void)
{
    const char *env = getenv("CAJAL_HISTORY");
    if (env)
        return xstrdup(env);
    const char *home = getenv("HOME");
    if (!home)
        return NULL;
    size_t n = strlen(home) + 32;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/.cajal_history", home);
    return p;
}

static char *read_plain_line(void)
{
    size_t cap = 256, n = 0;
    char *buf = xmalloc(cap);
    int c;
    while ((c = getchar()) != EOF && c != '\n') {
        if (n + 1 == cap)
            buf = xrealloc(buf, cap *= 2);
        buf[n++] = (char)c;
    }
    if (c == EOF && n == 0) {
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    return buf;
}

/* The entry being read. Static: it must survive the siglongjmp of Ctrl-C. */
static struct {
    char *text;
    size_t cap, len;
    bool tty, had_error;
    int lines_read, first_line; /* lines of input so far; the entry's first */
    char *hist;
} R;

int repl_run(Interp *in)
{
    R.tty = isatty(0) && isatty(1);
    the_interp = in;
    in->interactive = true;
    R.hist = NULL;
    if (R.tty) {
        rl_readline_name = "cajal";
        rl_attempted_completion_function = complete;
        rl_basic_word_break_characters = " \t\n\"\\'`@$><=;|&{(,[+-*/^%~";
        rl_catch_signals = 0;
        R.hist = history_path();
        using_history();
        if (R.hist)
            read_history(R.hist);
        printf("cajal %s. :help for help, Ctrl-D to leave.\n", "0.1.0");
    }
    struct sigaction sa = { 0 };
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);

    R.cap = 1024;
    R.len = 0;
    R.text = xmalloc(R.cap);
    R.text[0] = 0;
    R.had_error = false;
    R.lines_read = 0;
    R.first_line = 1;

    for (;;) {
        if (sigsetjmp(prompt_jump, 1)) {
            /* Ctrl-C at the prompt: drop the line and any open R.text. */
            at_prompt = 0;
            rl_free_line_state();
            rl_cleanup_after_signal();
            RL_UNSETSTATE(RL_STATE_ISEARCH | RL_STATE_NSEARCH | RL_STATE_VIMOTION | RL_STATE_NUMERICARG | RL_STATE_MULTIKEY);
            rl_done = 1;
            printf("\n");
            R.len = 0;
            R.text[0] = 0;
            interp_interrupted = 0;
        }
        const char *prompt = R.len ? "...> " : "cajal> ";
        char *line;
        if (R.tty) {
            at_prompt = 1;
            line = readline(prompt);
            at_prompt = 0;
        } else {
            line = read_plain_line();
        }
        if (!line) {
            if (R.tty)
                printf("\n");
            break;
        }
        /* Every line counts, commands and blank ones too, so errors name the
           line of the input they are on. */
        R.lines_read++;
        if (R.len == 0)
            R.first_line = R.lines_read;
        if (R.len == 0 && line[strspn(line, " \t")] == ':') {
            if (R.tty && *line)
                add_history(line);
            bool go_on = command(in, line, &R.had_error);
            free(line);
            if (!go_on)
                break;
            continue;
        }
        size_t n = strlen(line);
        if (R.len + n + 2 > R.cap) {
            while (R.len + n + 2 > R.cap)
                R.cap *= 2;
            R.text = xrealloc(R.text, R.cap);
        }
        memcpy(R.text + R.len, line, n);
        R.len += n;
        R.text[R.len++] = '\n';
        R.text[R.len] = 0;
        free(line);
        if (strspn(R.text, " \t\n") == R.len) {
            R.len = 0;
            continue;
        }
        SourceFile *f = source_new(R.tty ? "<repl>" : "<stdin>", R.text, R.len);
        f->first_line = R.first_line;
        InterpStatus s = interp_exec(in, f);
        if (s == INTERP_INCOMPLETE)
            continue;
        if (R.tty) {
            R.text[R.len - 1] = 0;
            add_history(R.text);
        }
        if (s != INTERP_OK)
            R.had_error = true;
        interp_flush(in);
        interp_interrupted = 0;
        R.len = 0;
        R.text[0] = 0;
    }
    if (R.len) {
        /* Input ended inside an open construct: say what was left open. */
        SourceFile *f = source_new(R.tty ? "<repl>" : "<stdin>", R.text, R.len);
        f->first_line = R.first_line;
        bool interactive = in->interactive;
        in->interactive = false;
        interp_exec(in, f);
        in->interactive = interactive;
        interp_flush(in);
        R.had_error = true;
    }
    free(R.text);
    cand_clear();
    free(cands.v);
    if (R.tty && R.hist) {
        write_history(R.hist);
        history_truncate_file(R.hist, 1000);
    }
    free(R.hist);
    if (R.tty)
        clear_history();
    return R.tty ? 0 : (R.had_error ? 1 : 0);
}
