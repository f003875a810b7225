/* value.c: evaluating constant expressions with units (see value.h).
 *
 * Units follow the rules of DESIGN.md section 1: a bare number has no unit,
 * adding or comparing needs equal dimensions (a literal 0 fits any), products
 * multiply dimensions, and a power needs a dimensionless exponent that gives
 * whole or half powers.
 */
#include "value.h"
#include "builtins.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static Value number(double x, Dim d)
{
    return (Value){ .kind = V_NUM, .num = x, .dim = d };
}

void value_describe(const Value *v, char *buf, size_t n)
{
    if (v->kind == V_STR) {
        snprintf(buf, n, "a string");
        return;
    }
    if (v->kind == V_LIST) {
        snprintf(buf, n, "a list");
        return;
    }
    if (v->kind == V_FUNC) {
        snprintf(buf, n, "the function %s", v->str);
        return;
    }
    units_describe(v->dim, v->unit, buf, n);
}

void value_format(const Value *v, char *buf, size_t n)
{
    switch (v->kind) {
    case V_NUM:
        units_format(v->num, v->dim, buf, n);
        return;
    case V_STR:
        snprintf(buf, n, "%s", v->str);
        return;
    case V_FUNC:
        snprintf(buf, n, "%s", v->str);
        return;
    case V_LIST: {
        size_t len = (size_t)snprintf(buf, n, "[");
        for (int i = 0; i < v->n && len < n; i++) {
            char item[128];
            value_format(&v->items[i], item, sizeof item);
            len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? ", " : "", item);
        }
        if (len < n)
            snprintf(buf + len, n - len, "]");
        return;
    }
    }
}

static bool is_literal_zero(const Node *e)
{
    return e->kind == AST_NUMBER && e->num == 0;
}

static bool need_number(const Value *v, const Node *at, const char *what, Diags *d)
{
    if (v->kind == V_NUM)
        return true;
    char desc[96];
    value_describe(v, desc, sizeof desc);
    diag_error(d, at->span, "%s needs a number, not %s", what, desc);
    return false;
}

/* Dimensions must agree for + - and comparisons; a literal 0 fits any. The
 * error points at `at`: the term added, or the whole comparison. */
static bool same_units(const Value *a, const Value *b, const Node *na, const Node *nb, const Node *at,
                       const char *verb, Diags *d)
{
    if (units_eq(a->dim, b->dim) || is_literal_zero(na) || is_literal_zero(nb))
        return true;
    char da[96], db[96];
    value_describe(a, da, sizeof da);
    value_describe(b, db, sizeof db);
    if (strcmp(verb, "add") == 0)
        diag_error(d, at->span, "cannot add %s to %s", db, da);
    else if (strcmp(verb, "subtract") == 0)
        diag_error(d, at->span, "cannot subtract %s from %s", db, da);
    else
        diag_error(d, at->span, "cannot %s %s with %s", verb, da, db);
    return false;
}

void value_builtin_misuse(const Builtin *b, char *buf, size_t n)
{
    const char *f = b->name;
    switch (b->kind) {
    case B_FUNC:
        snprintf(buf, n, "%s is a function of numbers", f);
        return;
    case B_COST:
        snprintf(buf, n, "%s is a cost: use it in a cost declaration, as in cost fit = %s(z, target)", f, f);
        return;
    case B_DIST:
        if (!strcmp(f, "normal"))
            snprintf(buf, n, "normal is a distribution: use it after ~, as in w ~ normal(0, 1)");
        else
            snprintf(buf, n, "%s is a distribution: use it after ~, as in w ~ %s(%s)", f, f, b->params_text);
        return;
    case B_TASK:
        snprintf(buf, n, "%s is a task: use it in train on %s(...), or declare it with task %s(...)", f, f, f);
        return;
    case B_OPT:
        snprintf(buf, n, "%s is an optimizer: use it in train, as in train on TASK with %s(lr = 1e-3)", f, f);
        return;
    case B_SCHED:
        snprintf(buf, n, "%s is a learning-rate schedule: use it in an optimizer, as in adam(schedule = %s(...))", f, f);
        return;
    case B_READER:
        snprintf(buf, n, "%s is a data reader: use it in a data declaration, as in data d = %s(\"file\")", f, f);
        return;
    case B_METHOD:
        snprintf(buf, n, "%s is an integration method: use it in simulate, as in simulate for 1s method %s", f, f);
        return;
    case B_CREDIT:
        snprintf(buf, n, "%s is a credit assignment rule: use it in train, as in train on TASK by %s", f, f);
        return;
    case B_CONST:
        snprintf(buf, n, "%s is a constant, not a function", f);
        return;
    case B_SPECIAL:
    case B_KIND_COUNT:
        break;
    }
    if (!strcmp(f, "hist"))
        snprintf(buf, n, "hist draws a histogram: use it in plot, as in plot hist(J.w)");
    else if (!strcmp(f, "affine"))
        snprintf(buf, n, "affine creates learnable weights: use it in a cell, as in gate f = sigmoid(affine(in, h))");
    else
        snprintf(buf, n, "%s cannot be used here", f);
}

/* "unknown function 'foo'", with the built-in function of numbers it may mean. */
static void unknown_function(const Node *callee, Diags *d)
{
    const char *names[128];
    int n = 0;
    for (int i = 0; builtin_at(i) && n < 128; i++)
        if (builtin_at(i)->kind == B_FUNC)
            names[n++] = builtin_at(i)->name;
    const char *near = diag_closest(callee->name, names, n);
    if (near)
        diag_error(d, callee->span, "unknown function '%s'; did you mean '%s'?", callee->name, near);
    else
        diag_error(d, callee->span, "unknown function '%s'", callee->name);
}

enum { MAX_FUNC_ARGS = 3 };   /* clip(x, lo, hi); a small frame keeps deep recursion cheap */

static bool eval_call(const EvalScope *s, const Node *e, Value *out, Diags *d)
{
    if (e->a->kind != AST_NAME) {
        diag_error(d, e->span, "this call is not a constant");
        return false;
    }
    const Builtin *b = builtin_lookup(e->a->name);
    if (!b) {
        Value unused;
        Diags quiet;
        diags_init(&quiet);
        int found = s->lookup ? s->lookup(s->self, e->a->name, e->a, &unused, &quiet) : LOOKUP_ABSENT;
        diags_fini(&quiet);
        if (found == LOOKUP_FOUND)
            diag_error(d, e->a->span, "'%s' is a constant, not a function", e->a->name);
        else if (found == LOOKUP_FAILED)
            s->lookup(s->self, e->a->name, e->a, &unused, d);   /* says what it is */
        else
            unknown_function(e->a, d);
        return false;
    }
    if (b->kind != B_FUNC) {
        char msg[256];
        value_builtin_misuse(b, msg, sizeof msg);
        diag_error(d, e->a->span, "%s", msg);
        return false;
    }
    const Node *args[MAX_FUNC_ARGS];
    if (b->params.n > MAX_FUNC_ARGS || !builtin_bind(b->name, b->params, e, args, d))
        return false;
    Value v[MAX_FUNC_ARGS];
    int given = 0;   /* max(x) leaves b out */
    for (int i = 0; i < b->params.n && args[i]; i++, given++)
        if (!value_eval(s, args[i], &v[i], d) || !need_number(&v[i], args[i], b->name, d))
            return false;
    const char *f = b->name;
    double x = v[0].num;
    Dim none = units_none();
    if (b->rule == U_NONE && !units_is_none(v[0].dim)) {
        char desc[96];
        value_describe(&v[0], desc, sizeof desc);
        diag_error(d, args[0]->span, "%s needs a number without unit, not %s", f, desc);
        return false;
    }
    if (b->rule == U_SAME)
        for (int i = 1; i < given; i++)
            if (!same_units(&v[0], &v[i], args[0], args[i], args[i], "combine", d))
                return false;
    double y;
    Dim dim = b->rule == U_SAME ? v[0].dim : none;
    if (!strcmp(f, "tanh")) y = tanh(x);
    else if (!strcmp(f, "sigmoid")) y = 1 / (1 + exp(-x));
    else if (!strcmp(f, "relu")) y = x > 0 ? x : 0;
    else if (!strcmp(f, "linear") || !strcmp(f, "stop") || !strcmp(f, "sum") || !strcmp(f, "mean")) y = x;
    else if (!strcmp(f, "softplus")) y = x > 30 ? x : log1p(exp(x));
    else if (!strcmp(f, "exp")) y = exp(x);
    else if (!strcmp(f, "log")) y = log(x);
    else if (!strcmp(f, "abs") || !strcmp(f, "l1")) y = fabs(x);
    else if (!strcmp(f, "sin")) y = sin(x);
    else if (!strcmp(f, "cos")) y = cos(x);
    else if (!strcmp(f, "square") || !strcmp(f, "l2")) {
        y = x * x;
        units_mul(v[0].dim, v[0].dim, &dim);
    } else if (!strcmp(f, "sqrt")) {
        if (x < 0) {
            diag_error(d, args[0]->span, "sqrt of a negative number");
            return false;
        }
        y = sqrt(x);
        units_pow(v[0].dim, 0.5, &dim);
    } else if (!strcmp(f, "min")) y = given == 1 ? x : fmin(x, v[1].num);
    else if (!strcmp(f, "max")) y = given == 1 ? x : fmax(x, v[1].num);
    else if (!strcmp(f, "clip")) y = fmin(fmax(x, v[1].num), v[2].num);
    else if (!strcmp(f, "step")) y = x > 0;
    else if (!strcmp(f, "sign")) y = (x > 0) - (x < 0);
    else {
        diag_error(d, e->span, "%s is not defined for a single number", f);
        return false;
    }
    *out = number(y, dim);
    return true;
}

static bool eval_binary(const EvalScope *s, const Node *e, Value *out, Diags *d)
{
    Value a, b;
    if (!value_eval(s, e->a, &a, d) || !value_eval(s, e->b, &b, d))
        return false;
    if (e->op == '+' && a.kind == V_STR && b.kind == V_STR) {
        size_t n = strlen(a.str) + strlen(b.str) + 1;
        char *p = arena_alloc(s->arena, n);
        snprintf(p, n, "%s%s", a.str, b.str);
        *out = (Value){ .kind = V_STR, .str = p };
        return true;
    }
    if (e->op == '@') {
        diag_error(d, e->span, "'@' multiplies matrices; for numbers use '*'");
        return false;
    }
    if (!need_number(&a, e->a, "this operator", d) || !need_number(&b, e->b, "this operator", d))
        return false;
    Dim dim = units_none();
    double x = a.num, y = b.num;
    switch (e->op) {
    case '+':
    case '-':
        if (!same_units(&a, &b, e->a, e->b, e->b, e->op == '+' ? "add" : "subtract", d))
            return false;
        *out = number(e->op == '+' ? x + y : x - y, is_literal_zero(e->a) ? b.dim : a.dim);
        out->unit = is_literal_zero(e->a) ? b.unit : a.unit;
        return true;
    case '%':
        if (!same_units(&a, &b, e->a, e->b, e, "take the remainder of", d))
            return false;
        *out = number(fmod(x, y), a.dim);
        return true;
    case '*':
        if (!units_mul(a.dim, b.dim, &dim)) {
            diag_error(d, e->span, "the units of this product are too large to represent");
            return false;
        }
        *out = number(x * y, dim);
        return true;
    case '/':
        if (!units_div(a.dim, b.dim, &dim)) {
            diag_error(d, e->span, "the units of this quotient are too large to represent");
            return false;
        }
        *out = number(x / y, dim);
        return true;
    case '^':
        if (!units_is_none(b.dim)) {
            char desc[96];
            value_describe(&b, desc, sizeof desc);
            diag_error(d, e->b->span, "an exponent needs a number without unit, not %s", desc);
            return false;
        }
        if (!units_pow(a.dim, y, &dim)) {
            char desc[96];
            value_describe(&a, desc, sizeof desc);
            diag_error(d, e->span, "cannot raise %s to the power %g: units take whole or half powers", desc, y);
            return false;
        }
        *out = number(pow(x, y), dim);
        return true;
    case AOP_AND:
        *out = number(x != 0 && y != 0, dim);
        return true;
    case AOP_OR:
        *out = number(x != 0 || y != 0, dim);
        return true;
    default:
        if (!same_units(&a, &b, e->a, e->b, e, "compare", d))
            return false;
        switch (e->op) {
        case '<': *out = number(x < y, dim); return true;
        case '>': *out = number(x > y, dim); return true;
        case AOP_LE: *out = number(x <= y, dim); return true;
        case AOP_GE: *out = number(x >= y, dim); return true;
        case AOP_EQ: *out = number(x == y, dim); return true;
        case AOP_NE: *out = number(x != y, dim); return true;
        }
    }
    diag_error(d, e->span, "unknown operator");
    return false;
}

/* A whole number without unit for an index or a slice bound, or an error. */
static bool whole(const EvalScope *s, const Node *e, const char *what, double *out, Diags *d)
{
    Value v;
    if (!value_eval(s, e, &v, d) || !need_number(&v, e, what, d))
        return false;
    if (!units_is_none(v.dim) || v.num != floor(v.num)) {
        char desc[96];
        if (units_is_none(v.dim))
            snprintf(desc, sizeof desc, "%g", v.num);
        else
            value_describe(&v, desc, sizeof desc);
        diag_error(d, e->span, "%s must be a whole number, not %s", what, desc);
        return false;
    }
    *out = v.num;
    return true;
}

/* [1, 2, 3][1] is 2; [1, 2, 3][0:2] is [1, 2] (half-open, as E.r[0:10]). */
static bool eval_index(const EvalScope *s, const Node *e, Value *out, Diags *d)
{
    Value base;
    if (!value_eval(s, e->a, &base, d))
        return false;
    if (base.kind != V_LIST || e->list.n != 1) {
        diag_error(d, e->span, base.kind == V_LIST ? "a list takes one index or slice" : "only a list can be indexed here");
        return false;
    }
    const Node *ix = e->list.v[0];
    if (ix->kind != AST_SLICE) {
        double i;
        if (!whole(s, ix, "an index", &i, d))
            return false;
        if (i < 0 || i >= base.n) {
            diag_error(d, ix->span, "index %g is outside the list of %d item%s (indices start at 0)", i, base.n,
                       base.n == 1 ? "" : "s");
            return false;
        }
        *out = base.items[(int)i];
        return true;
    }
    double lo = 0, hi = base.n;
    if ((ix->a && !whole(s, ix->a, "a slice bound", &lo, d)) || (ix->b && !whole(s, ix->b, "a slice bound", &hi, d)))
        return false;
    if (lo >= hi) {
        diag_error(d, ix->span, "slice %g:%g is empty; a slice lo:hi needs lo < hi", lo, hi);
        return false;
    }
    if (lo < 0 || hi > base.n) {
        diag_error(d, ix->span, "slice %g:%g is outside the list of %d item%s (0:%d)", lo, hi, base.n,
                   base.n == 1 ? "" : "s", base.n);
        return false;
    }
    *out = (Value){ .kind = V_LIST, .items = base.items + (int)lo, .n = (int)(hi - lo) };
    return true;
}

bool value_eval(const EvalScope *s, const Node *e, Value *out, Diags *d)
{
    switch (e->kind) {
    case AST_NUMBER:
        *out = number(e->num, e->dim);
        out->unit = e->text && *e->text ? e->text : NULL;
        return true;
    case AST_STRING:
        *out = (Value){ .kind = V_STR, .str = e->text };
        return true;
    case AST_NAME: {
        int found = s->lookup ? s->lookup(s->self, e->name, e, out, d) : LOOKUP_ABSENT;
        if (found != LOOKUP_ABSENT)
            return found == LOOKUP_FOUND;
        const Builtin *b = builtin_lookup(e->name);
        if (b && b->kind == B_CONST) {
            *out = number(M_PI, units_none());
            return true;
        }
        if (b && b->kind == B_FUNC) {
            *out = (Value){ .kind = V_FUNC, .str = b->name };
            return true;
        }
        const char *near = s->closest ? s->closest(s->self, e->name) : NULL;
        if (near)
            diag_error(d, e->span, "unknown name '%s'; did you mean '%s'?", e->name, near);
        else
            diag_error(d, e->span, "unknown name '%s'", e->name);
        return false;
    }
    case AST_UNARY: {
        Value a;
        if (!value_eval(s, e->a, &a, d) || !need_number(&a, e->a, e->op == '-' ? "'-'" : "'not'", d))
            return false;
        *out = e->op == '-' ? number(-a.num, a.dim) : number(a.num == 0, units_none());
        if (e->op == '-')
            out->unit = a.unit;
        return true;
    }
    case AST_BINARY:
        return eval_binary(s, e, out, d);
    case AST_CALL:
        return eval_call(s, e, out, d);
    case AST_LIST: {
        Value *items = arena_alloc(s->arena, (size_t)(e->list.n ? e->list.n : 1) * sizeof *items);
        for (int i = 0; i < e->list.n; i++)
            if (!value_eval(s, e->list.v[i], &items[i], d))
                return false;
        *out = (Value){ .kind = V_LIST, .items = items, .n = e->list.n };
        return true;
    }
    case AST_INDEX:
        return eval_index(s, e, out, d);
    default:
        diag_error(d, e->span, "%s cannot be evaluated here", ast_kind_phrase(e->kind));
        return false;
    }
}

bool value_as_count(const Value *v, const Node *at, const char *what, int64_t *out, Diags *d)
{
    if (v->kind != V_NUM || !units_is_none(v->dim) || v->num != floor(v->num) || v->num < 1 || v->num > 1e12) {
        char desc[96];
        if (v->kind == V_NUM && units_is_none(v->dim))
            snprintf(desc, sizeof desc, "%g", v->num);
        else
            value_describe(v, desc, sizeof desc);
        diag_error(d, at->span, "%s must be a positive whole number, not %s", what, desc);
        return false;
    }
    *out = (int64_t)v->num;
    return true;
}
