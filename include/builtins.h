/* builtins.h: the table of built-in names (builtins.def) and argument binding.
 *
 * A call's arguments are bound to parameters the way Python binds them:
 * positional first, then by name; unknown names get "did you mean", missing
 * required ones and duplicates are errors. The same binder serves built-ins and
 * the user's own neuron, cell and plasticity parameters.
 */
#ifndef CAJAL_BUILTINS_H
#define CAJAL_BUILTINS_H

#include "ast.h"

typedef enum BuiltinKind {
    B_FUNC, B_COST, B_DIST, B_TASK, B_OPT, B_SCHED, B_READER, B_METHOD, B_CREDIT, B_CONST,
    B_SPECIAL, B_KIND_COUNT
} BuiltinKind;

/* How units pass through a built-in function. */
typedef enum BuiltinUnitRule {
    U_NONE,     /* arguments and result without unit (tanh, exp) */
    U_SAME,     /* result has the unit of the first argument; all arguments agree */
    U_SQRT,     /* half the powers */
    U_SQUARE,   /* twice the powers */
    U_BOOL,     /* any unit in, a number without unit out */
    U_ANY,      /* not checked */
} BuiltinUnitRule;

typedef struct Param {
    Name name;
    const Node *def;        /* default value, or NULL when required or optional */
    bool optional;          /* a built-in's `b = none`: may be left out, and is then absent */
} Param;

typedef struct ParamList {
    const Param *v;
    int n;
    bool variadic;          /* "..." */
} ParamList;

typedef struct Builtin {
    BuiltinKind kind;
    const char *name;
    const char *params_text;
    BuiltinUnitRule rule;
    const char *help;
    ParamList params;       /* parsed from params_text by builtins_init */
} Builtin;

/* Parses every parameter list; call once at start-up. */
void builtins_init(void);
void builtins_fini(void);

const Builtin *builtin_lookup(Name name);
const Builtin *builtin_at(int i);       /* NULL past the end: for listing */
const char *builtin_kind_word(BuiltinKind k);   /* "function", "task", ... */

/* Binds call->list to params: out[i] is the argument node for params.v[i], or its
 * default, or NULL (an optional parameter left out: max(x) has no b). Reports
 * unknown, duplicate, missing and surplus arguments at their spans, naming
 * `callee`. Returns false on any error. out has params.n slots. */
bool builtin_bind(const char *callee, ParamList params, const Node *call, const Node **out, Diags *d);

#endif
