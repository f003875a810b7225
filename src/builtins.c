/* builtins.c: the built-in table, its parameter lists, and argument binding. */
#include "builtins.h"
#include "lex.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

static Builtin table[] = {
#define BUILTIN(kind, name, params, rule, help) { B_##kind, #name, params, rule, help, { 0 } },
#include "builtins.def"
#undef BUILTIN
};

enum { NBUILTINS = sizeof table / sizeof *table };

static Arena defaults_arena;
static Param *param_store;

void builtins_init(void)
{
    if (param_store)
        return;
    arena_init(&defaults_arena);
    int total = 0;
    for (int i = 0; i < NBUILTINS; i++)
        for (const char *s = table[i].params_text; *s; s++)
            total += *s == ',';
    param_store = xcalloc((size_t)(total + NBUILTINS), sizeof *param_store);
    Param *next = param_store;
    for (int i = 0; i < NBUILTINS; i++) {
        Builtin *b = &table[i];
        b->params.v = next;
        if (strcmp(b->params_text, "...") == 0) {
            b->params.variadic = true;
            continue;
        }
        if (!*b->params_text)
            continue;
        /* The parameter list is cajal: parse it as an extern's parameter list. */
        char src[512];
        snprintf(src, sizeof src, "extern \"\" %s(%s)\n", b->name, b->params_text);
        SourceFile *f = source_new("<builtins>", src, strlen(src));
        Diags d;
        diags_init(&d);
        Node *prog = parse_source(f, &defaults_arena, &d, NULL);
        if (d.errors || prog->body.n != 1) {
            diags_print(&d, stderr, false);
            abort();   /* builtins.def itself is wrong: a bug in cajal */
        }
        diags_fini(&d);
        const NodeList *ps = &prog->body.v[0]->list;
        /* `b = none` marks an optional parameter: max(x) is a reduction, max(a, b) elementwise */
        for (int k = 0; k < ps->n; k++) {
            const Node *def = ps->v[k]->a;
            bool optional = def && def->kind == AST_NAME && strcmp(def->name, "none") == 0;
            *next++ = (Param){ ps->v[k]->name, optional ? NULL : def, optional };
        }
        b->params.n = ps->n;
    }
}

void builtins_fini(void)
{
    free(param_store);
    param_store = NULL;
    arena_fini(&defaults_arena);
}

const Builtin *builtin_lookup(Name name)
{
    for (int i = 0; i < NBUILTINS; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

const Builtin *builtin_at(int i) { return i >= 0 && i < NBUILTINS ? &table[i] : NULL; }

const char *builtin_kind_word(BuiltinKind k)
{
    static const char *const words[B_KIND_COUNT] = {
        [B_FUNC] = "function", [B_COST] = "cost", [B_DIST] = "distribution", [B_TASK] = "task",
        [B_OPT] = "optimizer", [B_SCHED] = "schedule", [B_READER] = "data reader",
        [B_METHOD] = "integration method", [B_CREDIT] = "credit assignment rule",
        [B_CONST] = "constant", [B_SPECIAL] = "special form",
    };
    return k < B_KIND_COUNT ? words[k] : "built-in";
}

bool builtin_bind(const char *callee, ParamList params, const Node *call, const Node **out, Diags *d)
{
    bool ok = true;
    for (int i = 0; i < params.n; i++)
        out[i] = NULL;
    int positional = 0;
    bool named_seen = false, rejected = false;
    for (int k = 0; k < call->list.n; k++) {
        const Node *arg = call->list.v[k];
        if (arg->kind != AST_ARG) {
            if (named_seen) {
                diag_error(d, arg->span, "a positional argument cannot follow a named one in %s(...)", callee);
                ok = false;
                rejected = true;
                continue;
            }
            if (params.variadic)
                continue;
            if (positional >= params.n) {
                if (params.n == 0) {
                    diag_error(d, arg->span, "%s takes no arguments", callee);
                } else {
                    char list[256] = "";
                    size_t len = 0;
                    for (int i = 0; i < params.n && len < sizeof list - 40; i++)
                        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", params.v[i].name);
                    diag_error(d, arg->span, "too many arguments: %s takes %d (%s)", callee, params.n, list);
                }
                ok = false;
                rejected = true;
                continue;
            }
            out[positional++] = arg;
            continue;
        }
        named_seen = true;
        int at = -1;
        for (int i = 0; i < params.n; i++)
            if (params.v[i].name == arg->name)
                at = i;
        if (at < 0) {
            const char *names[64];
            int n = params.n < 64 ? params.n : 64;
            for (int i = 0; i < n; i++)
                names[i] = params.v[i].name;
            const char *near = diag_closest(arg->name, names, n);
            if (near)
                diag_error(d, arg->name_span, "%s has no parameter '%s'; did you mean '%s'?", callee, arg->name, near);
            else if (params.n == 0)
                diag_error(d, arg->name_span, "%s has no parameters", callee);
            else {
                char list[256] = "";
                size_t len = 0;
                for (int i = 0; i < params.n && len < sizeof list - 40; i++)
                    len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", params.v[i].name);
                diag_error(d, arg->name_span, "%s has no parameter '%s'; its parameters are %s", callee, arg->name, list);
            }
            ok = false;
            rejected = true;
            continue;
        }
        if (out[at]) {
            diag_error(d, arg->name_span, "parameter '%s' of %s is given twice", arg->name, callee);
            ok = false;
            continue;
        }
        out[at] = arg->a;
    }
    for (int i = 0; i < params.n; i++) {
        if (out[i])
            continue;
        if (params.v[i].def) {
            out[i] = params.v[i].def;
        } else if (!rejected && !params.v[i].optional) {   /* a rejected argument was likely meant for it */
            diag_error(d, call->span, "%s needs a value for '%s'", callee, params.v[i].name);
            ok = false;
        }
    }
    return ok;
}
