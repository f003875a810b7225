/* check_model.c: the bodies of neuron, cell and plasticity declarations.
 *
 * Two jobs. First, what each statement in the body means: `tau * dx/dt = ...`
 * makes x a continuous state variable, `x' = ...` a discrete one, `r = ...` an
 * alias, `gate f = ...` a gate, and so on (ModelInfo in check.h). Second, units:
 * DESIGN.md section 1 lets a state variable and `in` take whatever unit the
 * equations need, so their dimensions are inferred, not declared.
 *
 * Inference works on dimension terms of the form  known * var^p  (p in halves).
 * Adding, comparing or equating two terms unifies them: a known term fixes an
 * unknown variable. Passes repeat until nothing new is learned; then the first
 * unsolved state variable (then `in`) defaults to no unit, as DESIGN.md says
 * (`in` has no unit for Rate), and passes repeat again. A last pass reports
 * what still disagrees, in the user's units: "cannot add a time (ms) to a
 * voltage (mV)". Plasticity rules keep pre, post and w open (a rule fits any
 * synapse); they are checked again when attached (check_rule_units).
 */
#include "check.h"
#include "xalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef enum { DV_KNOWN, DV_VAR, DV_FREE } DvKind;

/* A dimension term: known * var^(pow2/2); DV_FREE fits anything (a literal 0,
 * or a product of two unknowns that inference does not attempt). */
typedef struct DimVal {
    DvKind k;
    Dim known;
    int var;
    int pow2;
    const char *written;     /* unit as written, for messages */
} DimVal;

typedef struct InferVar {
    Name name;
    bool solved;
    bool defaultable;       /* false: stays open (a rule's pre, post, w) */
    Dim dim;
} InferVar;

typedef enum SymKind {
    S_PARAM, S_VAR, S_IN, S_TIME, S_DT, S_NOISE, S_SIGNAL, S_LET, S_EXTERN
} SymKind;

typedef struct Sym {
    Name name;
    SymKind kind;
    int var;                 /* inference variable, or -1 when the dimension is known */
    Dim dim;
    const char *written;
    Value value;             /* S_PARAM with a function default: phi = tanh */
    int info_var;            /* S_VAR: index into the ModelInfo's vars */
} Sym;

typedef struct Body {
    Checker *c;
    Node *decl;
    DeclKind kind;
    ModelInfo *info;
    Sym *syms;
    int nsyms, capsyms;
    InferVar *vars;
    int nvars, capvars;
    int in_var;
    bool report;             /* the last pass: report disagreements */
    bool progress;
    int errors_at_start;
} Body;

static Dim none(void) { return units_none(); }

static DimVal known(Dim d, const char *written) { return (DimVal){ DV_KNOWN, d, -1, 0, written }; }
static DimVal free_dim(void) { return (DimVal){ DV_FREE, units_none(), -1, 0, NULL }; }

static int add_var(Body *b, Name name, bool defaultable)
{
    if (b->nvars == b->capvars) {
        b->capvars = b->capvars ? 2 * b->capvars : 16;
        b->vars = xrealloc(b->vars, (size_t)b->capvars * sizeof *b->vars);
    }
    b->vars[b->nvars] = (InferVar){ name, false, defaultable, units_none() };
    return b->nvars++;
}

static Sym *add_sym(Body *b, Name name, SymKind kind)
{
    if (b->nsyms == b->capsyms) {
        b->capsyms = b->capsyms ? 2 * b->capsyms : 32;
        b->syms = xrealloc(b->syms, (size_t)b->capsyms * sizeof *b->syms);
    }
    Sym *s = &b->syms[b->nsyms++];
    *s = (Sym){ .name = name, .kind = kind, .var = -1, .dim = units_none(), .info_var = -1 };
    return s;
}

static Sym *find_sym(Body *b, Name name)
{
    for (int i = b->nsyms - 1; i >= 0; i--)
        if (b->syms[i].name == name)
            return &b->syms[i];
    return NULL;
}

static DimVal sym_dim(Body *b, const Sym *s)
{
    if (s->var < 0)
        return known(s->dim, s->written);
    const InferVar *v = &b->vars[s->var];
    if (v->solved)
        return known(v->dim, NULL);
    return (DimVal){ DV_VAR, units_none(), s->var, 2, NULL };
}

static void describe(Body *b, DimVal v, char *buf, size_t n)
{
    if (v.k == DV_KNOWN) {
        units_describe(v.known, v.written, buf, n);
    } else if (v.k == DV_VAR) {
        snprintf(buf, n, "the unit of '%s'", b->vars[v.var].name);
    } else {
        snprintf(buf, n, "any unit");
    }
}

/* Solves var^(pow2/2) * coef = target for var. */
static void solve(Body *b, int var, int pow2, Dim coef, Dim target)
{
    Dim ratio, dim;
    if (!units_div(target, coef, &ratio) || !units_pow(ratio, 2.0 / pow2, &dim))
        return;
    b->vars[var].solved = true;
    b->vars[var].dim = dim;
    b->progress = true;
}

static DimVal resolve(Body *b, DimVal v)
{
    if (v.k != DV_VAR || !b->vars[v.var].solved)
        return v;
    Dim p, out;
    if (!units_pow(b->vars[v.var].dim, v.pow2 / 2.0, &p) || !units_mul(v.known, p, &out))
        return free_dim();
    return known(out, NULL);
}

/* Makes a and b the same dimension. `verb` words the message ("add", "compare"). */
static DimVal unify(Body *b, DimVal x, DimVal y, Span at, const char *verb)
{
    x = resolve(b, x);
    y = resolve(b, y);
    if (x.k == DV_FREE)
        return y;
    if (y.k == DV_FREE)
        return x;
    if (x.k == DV_KNOWN && y.k == DV_KNOWN) {
        if (!units_eq(x.known, y.known) && b->report) {
            char dx[96], dy[96];
            describe(b, x, dx, sizeof dx);
            describe(b, y, dy, sizeof dy);
            if (strcmp(verb, "add") == 0)
                diag_error(b->c->diags, at, "cannot add %s to %s", dy, dx);
            else if (strcmp(verb, "equate") == 0)
                diag_error(b->c->diags, at, "the two sides differ: %s on the left, %s on the right", dx, dy);
            else
                diag_error(b->c->diags, at, "cannot %s %s with %s", verb, dx, dy);
        }
        return x;
    }
    if (x.k == DV_KNOWN || y.k == DV_KNOWN) {
        DimVal v = x.k == DV_VAR ? x : y, k = x.k == DV_KNOWN ? x : y;
        solve(b, v.var, v.pow2, v.known, k.known);
        return k;
    }
    if (x.var == y.var && x.pow2 == y.pow2 && !units_eq(x.known, y.known) && b->report) {
        char ux[96], uy[96];
        units_describe(x.known, NULL, ux, sizeof ux);
        units_describe(y.known, NULL, uy, sizeof uy);
        diag_error(b->c->diags, at, "units do not balance: '%s' is multiplied by %s on one side and by %s on the other",
                   b->vars[x.var].name, ux, uy);
    }
    return x;
}

static DimVal mul(DimVal x, DimVal y, bool divide)
{
    if (x.k == DV_FREE || y.k == DV_FREE)
        return free_dim();
    Dim k;
    bool ok = divide ? units_div(x.known, y.known, &k) : units_mul(x.known, y.known, &k);
    if (!ok)
        return free_dim();
    if (x.k == DV_KNOWN && y.k == DV_KNOWN)
        return known(k, NULL);
    if (x.k == DV_VAR && y.k == DV_VAR) {
        if (x.var != y.var)
            return free_dim();
        int p = divide ? x.pow2 - y.pow2 : x.pow2 + y.pow2;
        return p == 0 ? known(k, NULL) : (DimVal){ DV_VAR, k, x.var, p, NULL };
    }
    if (x.k == DV_VAR)
        return (DimVal){ DV_VAR, k, x.var, x.pow2, NULL };
    return (DimVal){ DV_VAR, k, y.var, divide ? -y.pow2 : y.pow2, NULL };
}

static DimVal need_none(Body *b, DimVal v, const Node *at, const char *what)
{
    v = resolve(b, v);
    if (v.k == DV_VAR) {
        solve(b, v.var, v.pow2, v.known, none());
    } else if (v.k == DV_KNOWN && !units_is_none(v.known) && b->report) {
        char d[96];
        describe(b, v, d, sizeof d);
        diag_error(b->c->diags, at->span, "%s needs a number without unit, not %s", what, d);
    }
    return known(none(), NULL);
}

static DimVal infer(Body *b, const Node *e);

static DimVal infer_builtin_call(Body *b, const Node *e, const Builtin *fn)
{
    if (fn->kind == B_SPECIAL && strcmp(fn->name, "affine") == 0) {
        if (b->kind != D_CELL && b->report)
            diag_error(b->c->diags, e->span, "affine(...) creates learnable weights and belongs in a cell");
        if (e->list.n == 0 && b->report)
            diag_error(b->c->diags, e->span, "affine needs at least one input, as in affine(in, h)");
        for (int i = 0; i < e->list.n; i++)
            infer(b, e->list.v[i]->kind == AST_ARG ? e->list.v[i]->a : e->list.v[i]);
        return free_dim();
    }
    if (fn->kind != B_FUNC) {
        if (b->report) {
            char msg[256];
            value_builtin_misuse(fn, msg, sizeof msg);
            diag_error(b->c->diags, e->a->span, "%s", msg);
        }
        return free_dim();
    }
    const Node *args[8];
    if (fn->params.n > 8 || !builtin_bind(fn->name, fn->params, e, args, b->report ? b->c->diags : &(Diags){ 0 }))
        return free_dim();
    for (int i = 1; i < fn->params.n; i++)
        if (!args[i]) {   /* max(x): the largest element, of no one neuron */
            if (b->report) {
                diag_error(b->c->diags, e->span, "%s(%s) with one argument is the %s element of a value, which an equation cannot use",
                           fn->name, fn->params.v[0].name, fn->name[1] == 'a' ? "largest" : "smallest");
                diag_hint(b->c->diags, "for the %s of two values, element by element, write %s(a, b)",
                          fn->name[1] == 'a' ? "larger" : "smaller", fn->name);
            }
            return free_dim();
        }
    DimVal first = fn->params.n ? infer(b, args[0]) : free_dim();
    switch (fn->rule) {
    case U_NONE:
        for (int i = 0; i < fn->params.n; i++)
            need_none(b, i ? infer(b, args[i]) : first, args[i], fn->name);
        return known(none(), NULL);
    case U_SAME:
        for (int i = 1; i < fn->params.n; i++)
            first = unify(b, first, infer(b, args[i]), args[i]->span, "combine");
        return first;
    case U_SQRT: {
        first = resolve(b, first);
        if (first.k == DV_KNOWN) {
            Dim h;
            if (units_pow(first.known, 0.5, &h))
                return known(h, NULL);
        }
        return free_dim();
    }
    case U_SQUARE:
        return mul(first, first, false);
    case U_BOOL:
        for (int i = 1; i < fn->params.n; i++)
            infer(b, args[i]);
        return known(none(), NULL);
    case U_ANY:
        for (int i = 1; i < fn->params.n; i++)
            infer(b, args[i]);
        return free_dim();
    }
    return free_dim();
}

static const char *sym_names_for_hint(Body *b, Name name)
{
    const char *names[256];
    int n = 0;
    for (int i = 0; i < b->nsyms && n < 256; i++)
        names[n++] = b->syms[i].name;
    const char *near = diag_closest(name, names, n);
    return near ? near : check_closest(b->c, name, 1u << D_LET | 1u << D_EXTERN);
}

static DimVal infer_name(Body *b, const Node *e, Name name, bool next)
{
    Sym *s = find_sym(b, name);
    if (!s) {
        Decl *d = env_lookup(b->c->env, name);
        if (d && d->kind == D_LET) {
            if (d->value.kind == V_NUM)
                return known(d->value.dim, d->value.unit);
            return free_dim();
        }
        const Builtin *fn = builtin_lookup(name);
        if (fn && fn->kind == B_CONST)
            return known(none(), NULL);
        if (b->report) {
            const char *near = sym_names_for_hint(b, name);
            if (b->kind == D_INPUT && (name == intern_cstr("xi") || name == intern_cstr("in")))
                diag_error(b->c->diags, e->span, "'%s' belongs in a neuron's equations; an input is bound to an expression of t, lets and built-in functions", name);
            else if (b->kind == D_INPUT && d)
                diag_error(b->c->diags, e->span, "'%s' is %s; an input is bound to an expression of t, lets and built-in functions",
                           name, decl_kind_phrase(d->kind));
            else if (d)
                diag_error(b->c->diags, e->span, "'%s' is %s; an equation can use the %s's parameters, its variables, in, t, dt, xi and lets",
                           name, decl_kind_phrase(d->kind), decl_kind_word(b->kind));
            else if (fn && fn->kind == B_FUNC)
                diag_error(b->c->diags, e->span, "'%s' is a built-in function; call it, as in %s(x)", name, name);
            else if (fn) {
                char msg[256];
                value_builtin_misuse(fn, msg, sizeof msg);
                diag_error(b->c->diags, e->span, "%s", msg);
            }
            else if (near)
                diag_error(b->c->diags, e->span, "unknown name '%s'; did you mean '%s'?", name, near);
            else
                diag_error(b->c->diags, e->span, "unknown name '%s'", name);
        }
        return free_dim();
    }
    if (next && s->kind != S_VAR && b->report)
        diag_error(b->c->diags, e->span, "%s' names the next value of a state variable, and '%s' is not one", name, name);
    if (s->kind == S_PARAM && s->value.kind == V_FUNC && b->report)
        diag_error(b->c->diags, e->span, "'%s' is a function; call it, as in %s(x)", name, name);
    return sym_dim(b, s);
}

static DimVal infer(Body *b, const Node *e)
{
    switch (e->kind) {
    case AST_NUMBER:
        if (e->num == 0)
            return free_dim();
        return known(e->dim, e->text && *e->text ? e->text : NULL);
    case AST_STRING:
        if (b->report)
            diag_error(b->c->diags, e->span, "a string cannot be used in an equation");
        return free_dim();
    case AST_NAME:
        return infer_name(b, e, e->name, false);
    case AST_NEXT:
        return infer_name(b, e, e->name, true);
    case AST_DERIV: {
        Sym *s = find_sym(b, e->name);
        bool weight = b->kind == D_PLASTICITY && e->name == intern_cstr("w");   /* tau_w * dw/dt = ... */
        if (!s || (s->kind != S_VAR && !weight)) {
            if (b->report)
                diag_error(b->c->diags, e->span, "d%s/dt can only appear on the left of %s's own equation", e->name, e->name);
            return free_dim();
        }
        DimVal v = sym_dim(b, s);
        Dim t = units_time();
        return mul(v, known(t, NULL), true);
    }
    case AST_UNARY: {
        DimVal v = infer(b, e->a);
        return e->op == AOP_NOT ? known(none(), NULL) : v;
    }
    case AST_BINARY: {
        DimVal x = infer(b, e->a), y;
        switch (e->op) {
        case '+':
        case '-':
            y = infer(b, e->b);
            /* the message names the term added, and points at it */
            return unify(b, x, y, e->b->span, e->op == '+' ? "add" : "subtract");
        case '*':
            return mul(x, infer(b, e->b), false);
        case '/':
            return mul(x, infer(b, e->b), true);
        case '%':
            return unify(b, x, infer(b, e->b), e->span, "take the remainder of");
        case '@':
            if (b->report)
                diag_error(b->c->diags, e->span, "'@' multiplies matrices; a %s's equations act on each neuron, so use '*' (synapses do the matrix products)", decl_kind_word(b->kind));
            return free_dim();
        case '^': {
            need_none(b, infer(b, e->b), e->b, "an exponent");
            if (e->b->kind == AST_NUMBER || (e->b->kind == AST_UNARY && e->b->a->kind == AST_NUMBER)) {
                double p = e->b->kind == AST_NUMBER ? e->b->num : -e->b->a->num;
                x = resolve(b, x);
                if (x.k == DV_KNOWN) {
                    Dim out;
                    if (units_pow(x.known, p, &out))
                        return known(out, NULL);
                    if (b->report)
                        diag_error(b->c->diags, e->span, "units take whole or half powers, not %g", p);
                    return free_dim();
                }
                if (x.k == DV_VAR && p * 2 == (int)(p * 2))
                    return (DimVal){ DV_VAR, x.known, x.var, (int)(x.pow2 * p), NULL };
                return free_dim();
            }
            return need_none(b, x, e->a, "a power with a computed exponent");
        }
        case AOP_AND:
        case AOP_OR:
            infer(b, e->b);
            return known(none(), NULL);
        default:
            unify(b, x, infer(b, e->b), e->span, "compare");
            return known(none(), NULL);
        }
    }
    case AST_CALL: {
        if (e->a->kind != AST_NAME) {
            if (b->report)
                diag_error(b->c->diags, e->a->span, "only named functions can be called here");
            return free_dim();
        }
        Sym *s = find_sym(b, e->a->name);
        if (s && s->kind == S_PARAM && s->value.kind == V_FUNC) {
            const Builtin *fn = builtin_lookup(intern_cstr(s->value.str));
            if (fn)
                return infer_builtin_call(b, e, fn);
        }
        if (s) {
            if (b->report)
                diag_error(b->c->diags, e->a->span, "'%s' is not a function", e->a->name);
            return free_dim();
        }
        Decl *d = env_lookup(b->c->env, e->a->name);
        if (d && d->kind == D_EXTERN) {
            if (e->list.n != d->node->list.n && b->report)
                diag_error(b->c->diags, e->span, "%s takes %d argument%s, not %d", d->name, d->node->list.n,
                           d->node->list.n == 1 ? "" : "s", e->list.n);
            for (int i = 0; i < e->list.n; i++)
                infer(b, e->list.v[i]);
            return free_dim();
        }
        const Builtin *fn = builtin_lookup(e->a->name);
        if (!fn) {
            if (b->report) {
                const char *near = check_closest(b->c, e->a->name, 1u << D_EXTERN);
                if (near)
                    diag_error(b->c->diags, e->a->span, "unknown function '%s'; did you mean '%s'?", e->a->name, near);
                else
                    diag_error(b->c->diags, e->a->span, "unknown function '%s'", e->a->name);
            }
            for (int i = 0; i < e->list.n; i++)
                infer(b, e->list.v[i]->kind == AST_ARG ? e->list.v[i]->a : e->list.v[i]);
            return free_dim();
        }
        return infer_builtin_call(b, e, fn);
    }
    case AST_MEMBER:
        if (b->report && b->kind == D_INPUT)
            diag_error(b->c->diags, e->span, "an input is bound to an expression of t, lets and built-in functions, not to %.*s; synapses carry values between populations",
                       (int)(e->span.len > 60 ? 60 : e->span.len), e->span.file->text + e->span.off);
        else if (b->report && e->a->kind == AST_NAME && b->kind != D_PLASTICITY)
            diag_error(b->c->diags, e->span,
                       "another population's variable (%.*s) cannot be used in %s's equations; synapses carry values between populations",
                       (int)e->span.len, e->span.file->text + e->span.off, decl_kind_phrase(b->kind));
        else if (b->report)
            diag_error(b->c->diags, e->span, "%.*s cannot be used in a plasticity rule; it sees pre, post, w, its traces and parameters",
                       (int)(e->span.len > 60 ? 60 : e->span.len), e->span.file->text + e->span.off);
        return free_dim();
    case AST_INDEX:
    case AST_LIST:
    case AST_SLICE:
    case AST_VS:
    case AST_ARG:
    default:
        if (b->report)
            diag_error(b->c->diags, e->span, "%s cannot be used in an equation", ast_kind_phrase(e->kind));
        return free_dim();
    }
}

/* ---- the meaning of each statement --------------------------------------- */

/* The DERIV factor of `tau * dx/dt`, `dx/dt`, `dx/dt * tau`, or NULL. */
static const Node *derivative_of(const Node *lhs, const Node **coef)
{
    *coef = NULL;
    if (lhs->kind == AST_DERIV)
        return lhs;
    if (lhs->kind == AST_BINARY && lhs->op == '*') {
        if (lhs->b->kind == AST_DERIV) {
            *coef = lhs->a;
            return lhs->b;
        }
        if (lhs->a->kind == AST_DERIV) {
            *coef = lhs->b;
            return lhs->a;
        }
    }
    return NULL;
}

static bool mentions_derivative(const Node *e)
{
    if (!e)
        return false;
    if (e->kind == AST_DERIV)
        return true;
    if (mentions_derivative(e->a) || mentions_derivative(e->b))
        return true;
    for (int i = 0; i < e->list.n; i++)
        if (mentions_derivative(e->list.v[i]))
            return true;
    return false;
}

/* Returns the index of a declared `state` variable this equation completes, -1
 * after reporting a clash, or -2 for a new variable. */
static int declare_var(Body *b, Name name, VarKind kind, const Node *eq, Span at)
{
    Sym *s = find_sym(b, name);
    ModelInfo *info = b->info;
    if (s && s->kind == S_VAR) {
        VarInfo *v = &info->vars[s->info_var];
        bool declared_state = v->kind == VAR_STATE && !v->eq;
        if (declared_state && (kind == VAR_NEXT || kind == VAR_ODE)) {
            v->eq = eq;
            if (kind == VAR_ODE)
                v->kind = VAR_ODE;
            return s->info_var;
        }
        int line, col;
        span_linecol(v->at, &line, &col);
        diag_error(b->c->diags, at, "'%s' is defined twice (first at %d:%d)", name, line, col);
        return -1;
    }
    if (s && s->kind == S_PARAM) {
        diag_error(b->c->diags, at, "'%s' is a parameter of %s; parameters are constant: set them per population", name, b->decl->name);
        return -1;
    }
    if (s) {
        diag_error(b->c->diags, at, "'%s' is built in and cannot be defined here", name);
        return -1;
    }
    return -2;   /* new: the caller appends it */
}

static const char *misplaced(const Body *b, const Node *st, char *buf, size_t n);

/* Collects the variables the body defines, so an alias may be used above its
 * line, and records each equation's kind. */
static bool collect(Body *b)
{
    ModelInfo *info = b->info;
    int cap = 8;
    VarInfo *vars = arena_alloc(b->c->arena, (size_t)cap * sizeof *vars);
    info->vars = vars;
    bool ok = true;
    for (int i = 0; i < b->decl->body.n; i++) {
        const Node *st = b->decl->body.v[i];
        char buf[256];
        if (st->kind != AST_EQUATION && misplaced(b, st, buf, sizeof buf))
            continue;   /* reported by check_placement; a misplaced dh/dt still defines h */
        Name names[64];
        VarKind kinds[64];
        const Node *eqs[64], *sizes[64];
        Span ats[64];
        int k = 0;
        switch (st->kind) {
        case AST_EQUATION: {
            const Node *coef, *dv = derivative_of(st->a, &coef);
            if (dv) {
                if (coef && mentions_derivative(coef)) {
                    diag_error(b->c->diags, st->a->span, "only one derivative may stand on the left of an equation");
                    ok = false;
                    break;
                }
                if (b->kind == D_PLASTICITY && dv->name == intern_cstr("w"))
                    break;   /* tau_w * dw/dt = ...: the rule's continuous form */
                names[k] = dv->name, kinds[k] = VAR_ODE, eqs[k] = st, sizes[k] = NULL, ats[k++] = dv->span;
            } else if (st->a->kind == AST_NEXT) {
                names[k] = st->a->name, kinds[k] = VAR_NEXT, eqs[k] = st, sizes[k] = NULL, ats[k++] = st->a->span;
            } else if (st->a->kind == AST_NAME) {
                if (b->kind == D_PLASTICITY && st->a->name == intern_cstr("dw"))
                    break;   /* dw = ...: the rule's discrete form */
                names[k] = st->a->name, kinds[k] = VAR_ALIAS, eqs[k] = st, sizes[k] = NULL, ats[k++] = st->a->span;
            } else {
                diag_error(b->c->diags, st->a->span, "the left side of an equation must be dx/dt (times a constant), x' or a name");
                if (mentions_derivative(st->a))
                    diag_hint(b->c->diags, "write the time constant as a factor: tau * dx/dt = -x + in");
                ok = false;
            }
            break;
        }
        case AST_GATE:
            names[k] = st->name, kinds[k] = VAR_GATE, eqs[k] = st, sizes[k] = NULL, ats[k++] = st->name_span;
            break;
        case AST_STATE:
            for (int j = 0; j < st->list.n && k < 64; j++) {
                const Node *v = st->list.v[j];
                names[k] = v->name, kinds[k] = VAR_STATE, eqs[k] = NULL, sizes[k] = v->a, ats[k++] = v->name_span;
            }
            break;
        case AST_TRACE: {
            const Node *coef, *dv = derivative_of(st->a->a, &coef);
            if (!dv || dv->name != st->name) {
                diag_error(b->c->diags, st->a->a->span, "a trace is defined by its own equation: trace %s: tau * d%s/dt = -%s",
                           st->name, st->name, st->name);
                ok = false;
                break;
            }
            names[k] = st->name, kinds[k] = VAR_TRACE, eqs[k] = st, sizes[k] = NULL, ats[k++] = st->name_span;
            break;
        }
        default:
            break;
        }
        for (int j = 0; j < k; j++) {
            int at = declare_var(b, names[j], kinds[j], eqs[j], ats[j]);
            if (at == -1) {
                ok = false;
                continue;
            }
            if (at >= 0)
                continue;
            if (info->nvars == cap) {
                VarInfo *grown = arena_alloc(b->c->arena, (size_t)(cap * 2) * sizeof *grown);
                memcpy(grown, vars, (size_t)cap * sizeof *vars);
                vars = grown;
                cap *= 2;
            }
            info->vars = vars;
            vars[info->nvars] = (VarInfo){ names[j], kinds[j], units_none(), eqs[j], sizes[j], ats[j] };
            Sym *s = add_sym(b, names[j], S_VAR);
            s->info_var = info->nvars++;
            s->var = add_var(b, names[j], true);
        }
    }
    info->vars = vars;
    return ok;
}

static void infer_update(Body *b, const Node *st, bool in_event)
{
    /* x += a, w -= A * x_post, v = v_reset */
    const Node *target = st->a;
    if (target->kind != AST_NAME) {
        if (b->report)
            diag_error(b->c->diags, target->span, "only a variable can be updated here");
        return;
    }
    Sym *s = find_sym(b, target->name);
    bool weight = b->kind == D_PLASTICITY && target->name == intern_cstr("w");
    if (!s || (s->kind != S_VAR && !weight)) {
        if (b->report)
            diag_error(b->c->diags, target->span, "'%s' is not a state variable%s", target->name,
                       b->kind == D_PLASTICITY ? " or the weight w" : "");
        return;
    }
    DimVal t = infer(b, target), v = infer(b, st->b);
    if (st->op == AOP_MUL_ASSIGN || st->op == AOP_DIV_ASSIGN)
        need_none(b, v, st->b, "scaling a variable");
    else
        unify(b, t, v, st->span, st->op == '=' ? "equate" : "add");
    (void)in_event;
}

static void infer_statement(Body *b, const Node *st)
{
    Diags *d = b->c->diags;
    switch (st->kind) {
    case AST_EQUATION: {
        const Node *coef, *dv = derivative_of(st->a, &coef);
        bool weight_update = b->kind == D_PLASTICITY && st->a->kind == AST_NAME && st->a->name == intern_cstr("dw");
        DimVal lhs = weight_update ? sym_dim(b, find_sym(b, intern_cstr("w"))) : infer(b, st->a);
        DimVal rhs = infer(b, st->b);
        int before = d->errors;
        DimVal l = resolve(b, lhs), r = resolve(b, rhs);
        if (b->report && dv && !coef && l.k == DV_KNOWN && r.k == DV_KNOWN && !units_eq(l.known, r.known)) {
            /* dx/dt = -x: a rate on the left, so the time constant is missing */
            char left[112], right[96], var[96];
            describe(b, r, right, sizeof right);
            Dim t = units_time(), xd;
            units_mul(l.known, t, &xd);
            if (units_is_none(xd))
                snprintf(left, sizeof left, "1/s");
            else {
                units_name(xd, var, sizeof var);
                snprintf(left, sizeof left, "%s/s", var);
            }
            diag_error(d, st->span, "the two sides differ: d%s/dt is in %s on the left, %s on the right", dv->name, left, right);
            if (st->b->span.len <= 60)
                diag_hint(d, "the time constant is missing: write tau * d%s/dt = %.*s", dv->name, (int)st->b->span.len,
                          st->b->span.file->text + st->b->span.off);
            else
                diag_hint(d, "the time constant is missing: write tau * d%s/dt = ...", dv->name);
            break;
        }
        unify(b, lhs, rhs, st->span, "equate");
        if (b->report && d->errors > before && coef && dv) {
            DimVal c = resolve(b, infer(b, coef));
            if (c.k == DV_KNOWN && !units_eq(c.known, units_time())) {
                char desc[96];
                units_describe(c.known, c.written, desc, sizeof desc);
                diag_hint(d, "'%.*s' multiplies d%s/dt, so it should be a time (such as 10ms); it is %s",
                          (int)coef->span.len, coef->span.file->text + coef->span.off, dv->name, desc);
            }
        }
        break;
    }
    case AST_GATE:
        infer(b, st->a);
        break;
    case AST_STATE:
    case AST_OUT:
        break;
    case AST_SPIKE:
        infer(b, st->a);
        for (int i = 0; i < st->list.n; i++) {
            const Node *r = st->list.v[i];
            if (r->kind == AST_EQUATION) {
                Node fake = *r;
                fake.op = '=';
                infer_update(b, &fake, true);
            } else {
                infer_update(b, r, true);
            }
        }
        if (st->b) {
            DimVal t = resolve(b, infer(b, st->b));
            if (t.k == DV_KNOWN && !units_eq(t.known, units_time())) {
                if (b->report) {
                    char got[96];
                    describe(b, t, got, sizeof got);
                    diag_error(d, st->b->span, "the refractory period must be a time, not %s", got);
                }
            } else {
                unify(b, t, known(units_time(), NULL), st->b->span, "compare");
            }
        }
        break;
    case AST_TRACE:
        infer_statement(b, st->a);
        for (int i = 0; i < st->list.n; i++)
            for (int j = 0; j < st->list.v[i]->body.n; j++)
                infer_update(b, st->list.v[i]->body.v[j], true);
        break;
    case AST_ON:
        for (int j = 0; j < st->body.n; j++) {
            const Node *u = st->body.v[j];
            if (u->kind == AST_UPDATE)
                infer_update(b, u, true);
            else if (u->kind == AST_EQUATION) {
                Node fake = *u;
                fake.op = '=';
                infer_update(b, &fake, true);
            } else if (b->report)
                diag_error(d, u->span, "inside 'on ... spike' write updates such as w += A * x_pre");
        }
        break;
    case AST_CONSTRAIN:
        infer(b, st->a);
        if (st->b)
            infer(b, st->b);
        break;
    case AST_EXPR_STMT:
        infer(b, st->a);
        break;
    default:
        break;
    }
}

/* What is wrong with a statement that does not belong in this kind of body, or
 * a form only some bodies allow (in buf), or NULL when it is in its place. */
static const char *misplaced(const Body *b, const Node *st, char *buf, size_t n)
{
    switch (st->kind) {
    case AST_INIT:
    case AST_DRAW:
        return "initial values and draws belong in a population's or synapse's { }";
    case AST_FLAG:
    case AST_SIGN:
    case AST_PLASTIC:
        return "synapse options belong in a synapse's { }";
    case AST_TRACE:
    case AST_ON:
    case AST_CONSTRAIN:
        return b->kind != D_PLASTICITY ? "traces, spike events and constraints belong in a plasticity rule" : NULL;
    case AST_SPIKE:
        return b->kind != D_NEURON ? "'spike when' belongs in a neuron" : NULL;
    case AST_STATE:
    case AST_OUT:
    case AST_GATE:
        return b->kind == D_PLASTICITY ? "state, out and gate belong in a neuron or a cell" : NULL;
    case AST_UPDATE:
        return "updates such as x += 1 belong after 'reset' or inside 'on pre spike { }'";
    case AST_EXPR_STMT:
        if (b->kind != D_PLASTICITY || st->a->kind != AST_CALL || st->a->a->kind != AST_NAME ||
            st->a->a->name != intern_cstr("clip"))
            return "an expression alone does nothing here; an equation needs '='";
        return NULL;
    case AST_EQUATION:
        if (b->kind == D_CELL) {
            const Node *coef, *dv = derivative_of(st->a, &coef);
            if (dv) {
                snprintf(buf, n, "a cell steps in discrete time: write %s' = ..., not d%s/dt", dv->name, dv->name);
                return buf;
            }
        }
        return NULL;
    default:
        return NULL;
    }
}

/* Statements that do not belong in this kind of body, and forms that only some
 * bodies allow. Reported once, before inference; collect skips them. */
static bool check_placement(Body *b)
{
    Diags *d = b->c->diags;
    bool ok = true;
    const char *where = decl_kind_phrase(b->kind);
    for (int i = 0; i < b->decl->body.n; i++) {
        const Node *st = b->decl->body.v[i];
        char buf[256];
        const char *bad = misplaced(b, st, buf, sizeof buf);
        if (bad) {
            diag_error(d, st->span, "%s (this is %s)", bad, where);
            ok = false;
        }
    }
    return ok;
}

static void add_param_syms(Body *b, const Node **bound)
{
    ModelInfo *info = b->info;
    for (int i = 0; i < info->nparams; i++) {
        Sym *s = add_sym(b, info->params[i].name, S_PARAM);
        const Node *value = bound ? bound[i] : info->params[i].def;
        Value v;
        if (value && check_eval(b->c, value, &v)) {
            s->value = v;
            if (v.kind == V_NUM) {
                s->dim = v.dim;
                s->written = v.unit;
                if (value->kind == AST_NUMBER && value->num == 0)
                    s->var = add_var(b, s->name, false);
            } else if (v.kind != V_FUNC) {
                s->var = add_var(b, s->name, false);
            }
        } else {
            s->var = add_var(b, s->name, false);   /* no default: any unit */
        }
    }
}

static void add_builtin_syms(Body *b)
{
    Sym *s;
    if (b->kind != D_PLASTICITY) {
        s = add_sym(b, intern_cstr("in"), S_IN);
        s->var = b->in_var = add_var(b, s->name, true);
    }
    s = add_sym(b, intern_cstr("t"), S_TIME);
    s->dim = units_time();
    s = add_sym(b, intern_cstr("dt"), S_DT);
    s->dim = units_time();
    s = add_sym(b, intern_cstr("xi"), S_NOISE);
    units_pow(units_time(), -0.5, &s->dim);   /* white noise: 1/sqrt(s) */
    if (b->kind == D_PLASTICITY) {
        static const char *const signals[] = { "pre", "post", "w", "reward", "modulator", "error" };
        for (int i = 0; i < 6; i++) {
            s = add_sym(b, intern_cstr(signals[i]), S_SIGNAL);
            s->var = add_var(b, s->name, false);
        }
        /* constrain l2(row) = 1: a post neuron's row of weights, in w's unit */
        int w = find_sym(b, intern_cstr("w"))->var;
        s = add_sym(b, intern_cstr("row"), S_SIGNAL);
        s->var = w;
    }
}

/* Runs inference to a fixed point, defaulting open variables to no unit. */
static void run_inference(Body *b)
{
    Diags quiet;
    diags_init(&quiet);
    Diags *real = b->c->diags;
    for (int round = 0; round <= b->nvars + 1; round++) {
        b->report = false;
        do {
            b->progress = false;
            b->c->diags = &quiet;
            for (int i = 0; i < b->decl->body.n; i++)
                infer_statement(b, b->decl->body.v[i]);
            b->c->diags = real;
        } while (b->progress);
        int pick = -1;
        for (int i = 0; i < b->nvars && pick < 0; i++)
            if (!b->vars[i].solved && b->vars[i].defaultable && i != b->in_var)
                pick = i;
        if (pick < 0 && b->in_var >= 0 && !b->vars[b->in_var].solved)
            pick = b->in_var;
        if (pick < 0)
            break;
        b->vars[pick].solved = true;
        b->vars[pick].dim = units_none();
    }
    diags_fini(&quiet);
    b->report = true;
    for (int i = 0; i < b->decl->body.n; i++)
        infer_statement(b, b->decl->body.v[i]);
}

/* ---- gates stay in [0, 1] ----------------------------------------------------- */

/* The interval an expression's values lie in, where the checker can tell (known
 * false where it cannot: a state, a parameter, a function it does not know).
 * Bounds may be infinite. */
typedef struct Range {
    bool known;
    double lo, hi;
} Range;

static Range interval(double lo, double hi) { return (Range){ true, lo, hi }; }
static const Range UNKNOWN_RANGE = { false, 0, 0 };

static double times(double a, double b) { return a == 0 || b == 0 ? 0 : a * b; }   /* 0 * inf = 0 */

static Range range_of(Body *b, const Node *e)
{
    switch (e->kind) {
    case AST_NUMBER:
        return interval(e->num, e->num);
    case AST_NAME: {
        Sym *s = find_sym(b, e->name);
        if (s && s->kind == S_VAR && b->info->vars[s->info_var].kind == VAR_GATE)
            return interval(0, 1);
        Decl *d = s ? NULL : env_lookup(b->c->env, e->name);
        if (d && d->kind == D_LET && d->value.kind == V_NUM)
            return interval(d->value.num, d->value.num);
        return UNKNOWN_RANGE;
    }
    case AST_UNARY: {
        if (e->op == AOP_NOT)
            return interval(0, 1);
        Range x = range_of(b, e->a);
        return e->op == '-' && x.known ? interval(-x.hi, -x.lo) : x;
    }
    case AST_BINARY: {
        if (e->op == '<' || e->op == '>' || e->op == AOP_LE || e->op == AOP_GE || e->op == AOP_EQ || e->op == AOP_NE ||
            e->op == AOP_AND || e->op == AOP_OR)
            return interval(0, 1);
        Range x = range_of(b, e->a), y = range_of(b, e->b);
        if (!x.known || !y.known)
            return UNKNOWN_RANGE;
        if (e->op == '+')
            return interval(x.lo + y.lo, x.hi + y.hi);
        if (e->op == '-')
            return interval(x.lo - y.hi, x.hi - y.lo);
        if (e->op == '*') {
            double p[4] = { times(x.lo, y.lo), times(x.lo, y.hi), times(x.hi, y.lo), times(x.hi, y.hi) };
            Range r = interval(p[0], p[0]);
            for (int k = 1; k < 4; k++) {
                r.lo = p[k] < r.lo ? p[k] : r.lo;
                r.hi = p[k] > r.hi ? p[k] : r.hi;
            }
            return r;
        }
        return UNKNOWN_RANGE;
    }
    case AST_CALL: {
        if (e->a->kind != AST_NAME)
            return UNKNOWN_RANGE;
        const char *f = e->a->name;
        Sym *s = find_sym(b, e->a->name);
        if (s && s->kind == S_PARAM && s->value.kind == V_FUNC)
            f = s->value.str;   /* phi = tanh */
        else if (s)
            return UNKNOWN_RANGE;
        const Node *x = e->list.n ? (e->list.v[0]->kind == AST_ARG ? e->list.v[0]->a : e->list.v[0]) : NULL;
        if (strcmp(f, "sigmoid") == 0 || strcmp(f, "step") == 0)
            return interval(0, 1);
        if (strcmp(f, "tanh") == 0 || strcmp(f, "sin") == 0 || strcmp(f, "cos") == 0)
            return interval(-1, 1);
        if (strcmp(f, "relu") == 0 || strcmp(f, "softplus") == 0 || strcmp(f, "exp") == 0 || strcmp(f, "abs") == 0 ||
            strcmp(f, "square") == 0 || strcmp(f, "sqrt") == 0)
            return interval(0, INFINITY);
        if (strcmp(f, "affine") == 0)
            return interval(-INFINITY, INFINITY);
        if (strcmp(f, "linear") == 0 && x)
            return range_of(b, x);
        if (strcmp(f, "clip") == 0 && e->list.n == 3) {
            Range lo = range_of(b, e->list.v[1]), hi = range_of(b, e->list.v[2]);
            return lo.known && hi.known ? interval(lo.lo, hi.hi) : UNKNOWN_RANGE;
        }
        return UNKNOWN_RANGE;
    }
    default:
        return UNKNOWN_RANGE;
    }
}

/* A gate is a value in [0, 1] (DESIGN.md section 1): warns where its equation
 * can be seen to leave that interval. */
static void check_gate_ranges(Body *b)
{
    for (int i = 0; i < b->decl->body.n; i++) {
        const Node *st = b->decl->body.v[i];
        if (st->kind != AST_GATE)
            continue;
        Range r = range_of(b, st->a);
        if (!r.known || (r.lo >= 0 && r.hi <= 1))
            continue;
        diag_warning(b->c->diags, st->a->span, "gate '%s' is not confined to [0, 1]: its expression ranges over [%g, %g]", st->name,
                     r.lo, r.hi);
        diag_hint(b->c->diags, "a gate is a sigmoid, as in gate %s = sigmoid(affine(in, h)); without 'gate', %s is a plain variable",
                  st->name, st->name);
    }
}

static void body_fini(Body *b)
{
    free(b->syms);
    free(b->vars);
}

ModelInfo *check_model_body(Checker *c, Node *decl)
{
    Body b = { .c = c, .decl = decl, .in_var = -1 };
    b.kind = decl->kind == AST_NEURON ? D_NEURON : decl->kind == AST_CELL ? D_CELL : D_PLASTICITY;
    ModelInfo *info = arena_alloc(c->arena, sizeof *info);
    b.info = info;
    int errors = c->diags->errors;

    info->nparams = decl->list.n;
    info->params = arena_alloc(c->arena, (size_t)(info->nparams + 1) * sizeof *info->params);
    info->param_dims = arena_alloc(c->arena, (size_t)(info->nparams + 1) * sizeof *info->param_dims);
    for (int i = 0; i < decl->list.n; i++) {
        const Node *p = decl->list.v[i];
        for (int j = 0; j < i; j++)
            if (info->params[j].name == p->name)
                diag_error(c->diags, p->name_span, "parameter '%s' is listed twice", p->name);
        info->params[i] = (Param){ .name = p->name, .def = p->a };
        Value v;
        if (p->a && check_eval(c, p->a, &v) && v.kind == V_NUM)
            info->param_dims[i] = v.dim;
    }
    add_builtin_syms(&b);
    add_param_syms(&b, NULL);
    bool placed = check_placement(&b);
    collect(&b);

    bool wrote_out = false;   /* an `out` naming no variable is reported at itself only */
    for (int i = 0; i < decl->body.n; i++) {
        const Node *st = decl->body.v[i];
        if (st->kind == AST_OUT) {
            wrote_out = true;
            Sym *s = find_sym(&b, st->name);
            if (!s || s->kind != S_VAR)
                diag_error(c->diags, st->name_span, "'out %s': %s has no variable '%s'", st->name, decl->name, st->name);
            else if (info->out)
                diag_error(c->diags, st->span, "%s has two 'out' statements", decl->name);
            else
                info->out = st->name;
        }
        if (st->kind == AST_SPIKE)
            info->spiking = true;
    }
    if (!info->out && b.kind != D_PLASTICITY) {
        Sym *r = find_sym(&b, intern_cstr("r"));
        if (r && r->kind == S_VAR)
            info->out = r->name;
    }
    for (int i = 0; i < info->nvars; i++) {
        const VarInfo *v = &info->vars[i];
        if (v->kind == VAR_ODE)
            info->continuous = true;
        if (v->kind == VAR_NEXT || v->kind == VAR_STATE)
            info->discrete = true;
        if (v->kind == VAR_STATE && !v->eq)
            diag_error(c->diags, v->at, "state '%s' is never updated: add %s' = ...", v->name, v->name);
        if (b.kind == D_CELL && v->kind == VAR_NEXT)
            diag_error(c->diags, v->at, "'%s' is updated but not declared: add it to the cell's state, as in state %s[n]",
                       v->name, v->name);
    }
    if (info->continuous && info->discrete && placed)   /* a cell's dc/dt is reported as misplaced */
        diag_error(c->diags, decl->name_span, "%s mixes continuous time (dx/dt) and discrete time (x'); use one", decl->name);
    if (b.kind == D_CELL && !info->out && !wrote_out)
        diag_error(c->diags, decl->name_span, "cell %s needs 'out h' to say which state the next layer reads", decl->name);

    if (c->diags->errors == errors) {
        run_inference(&b);
        for (int i = 0; i < info->nvars; i++) {
            Sym *s = find_sym(&b, info->vars[i].name);
            if (s && s->var >= 0 && b.vars[s->var].solved)
                info->vars[i].dim = b.vars[s->var].dim;
        }
        if (b.in_var >= 0)
            info->in_dim = b.vars[b.in_var].dim;
        if (b.kind != D_PLASTICITY)
            check_gate_ranges(&b);
    }
    body_fini(&b);
    return c->diags->errors == errors ? info : NULL;
}

bool check_rule_units(Checker *c, const Decl *rule, const Node **args, Dim pre, Dim post, Dim w, Span at)
{
    Body b = { .c = c, .decl = rule->node, .kind = D_PLASTICITY, .in_var = -1 };
    ModelInfo info = *rule->info;
    b.info = &info;
    int errors = c->diags->errors;
    add_builtin_syms(&b);
    add_param_syms(&b, args);
    const char *names[3] = { "pre", "post", "w" };
    Dim dims[3] = { pre, post, w };
    for (int i = 0; i < 3; i++) {
        Sym *s = find_sym(&b, intern_cstr(names[i]));
        b.vars[s->var].solved = true;
        b.vars[s->var].dim = dims[i];
    }
    for (int i = 0; i < info.nvars; i++) {
        Sym *s = add_sym(&b, info.vars[i].name, S_VAR);
        s->var = add_var(&b, s->name, true);
    }
    /* Each error in the rule gets the note that says which synapse it is about
     * (diags_print keeps a note with the error before it). */
    Diags local;
    diags_init(&local);
    Diags *real = c->diags;
    c->diags = &local;
    run_inference(&b);
    c->diags = real;
    for (int i = 0; i < local.n; i++) {
        const Diag *g = &local.v[i];
        if (g->level == DIAG_NOTE)
            diag_note(real, g->span, "%s", g->msg);
        else if (g->level == DIAG_WARNING)
            diag_warning(real, g->span, "%s", g->msg);
        else
            diag_error(real, g->span, "%s", g->msg);
        if (g->hint)
            diag_hint(real, "%s", g->hint);
        if (g->level == DIAG_ERROR)
            diag_note(real, at, "in plasticity rule %s as attached here", rule->name);
    }
    diags_fini(&local);
    body_fini(&b);
    return c->diags->errors == errors;
}

bool check_binding_units(Checker *c, const Node *e, Name input)
{
    Body b = { .c = c, .kind = D_INPUT, .in_var = -1, .report = true };
    Sym *s = add_sym(&b, intern_cstr("t"), S_TIME);
    s->dim = units_time();
    s = add_sym(&b, intern_cstr("dt"), S_DT);
    s->dim = units_time();
    int errors = c->diags->errors;
    DimVal v = resolve(&b, infer(&b, e));
    if (c->diags->errors == errors && v.k == DV_KNOWN && !units_is_none(v.known)) {
        char got[96];
        describe(&b, v, got, sizeof got);
        diag_error(c->diags, e->span, "input '%s' takes a number without unit, not %s", input, got);
    }
    body_fini(&b);
    return c->diags->errors == errors;
}
