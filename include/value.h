/* value.h: compile-time values and their evaluation.
 *
 * `let` expressions, sizes, parameter defaults and clause arguments are
 * evaluated once, when checked, to a Value: a number with its dimension (SI
 * inside; the unit as written kept for messages), a string, a list, or a
 * built-in function used as a value (`phi = tanh`). print shows a Value in a
 * readable unit: `200pF / 10nS` prints as `20 ms`.
 */
#ifndef CAJAL_VALUE_H
#define CAJAL_VALUE_H

#include "ast.h"
#include "units.h"

typedef enum ValueKind { V_NUM, V_STR, V_LIST, V_FUNC } ValueKind;

typedef struct Value {
    ValueKind kind;
    double num;
    Dim dim;
    const char *unit;        /* as written for a literal ("ms"), else NULL */
    const char *str;         /* V_STR: contents; V_FUNC: the function's name */
    struct Value *items;     /* V_LIST, in the arena */
    int n;
} Value;

/* Looks a name up in scope: LOOKUP_FOUND fills *out; LOOKUP_ABSENT leaves the
 * reporting to the evaluator; LOOKUP_FAILED means it reported an error itself. */
enum { LOOKUP_ABSENT, LOOKUP_FOUND, LOOKUP_FAILED };
typedef struct EvalScope {
    int (*lookup)(void *self, Name name, const Node *at, Value *out, Diags *d);
    void *self;
    Arena *arena;
    /* The declared name a misspelt one may mean (for "did you mean"), or NULL;
     * the callback may itself be NULL. */
    const char *(*closest)(void *self, Name name);
} EvalScope;

/* Evaluates a constant expression. On failure appends an error at the offending
 * sub-expression and returns false. */
bool value_eval(const EvalScope *s, const Node *e, Value *out, Diags *d);

/* Value as print shows it: "20 ms", "42", "[1, 2]", the string itself. */
void value_format(const Value *v, char *buf, size_t n);

/* "a time (ms)" for messages. */
void value_describe(const Value *v, char *buf, size_t n);

struct Builtin;
/* Where a built-in that is not a function of numbers belongs, for the message
 * when one is called elsewhere: "normal is a distribution: use it after ~, as
 * in w ~ normal(0, 1)". */
void value_builtin_misuse(const struct Builtin *b, char *buf, size_t n);

/* A count such as a population size: a positive whole number without unit. */
bool value_as_count(const Value *v, const Node *at, const char *what, int64_t *out, Diags *d);

#endif
