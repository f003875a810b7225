/* check.h: names, shapes and units; the environment of declarations.
 *
 * The checker reads one statement at a time against the environment built by
 * the statements before it, the way the REPL sees them, so a script and a REPL
 * session check alike. A declaration enters the environment only when its
 * statement checked clean; declaring a name again replaces the old declaration
 * (the new one records which it replaced, and says so through `notice`).
 *
 * What the later stages read from a Decl:
 *   D_LET         value
 *   D_NEURON, D_CELL, D_PLASTICITY   info (parameters, variables, units)
 *   D_POPULATION  size, model, args (bound parameter values), node (items)
 *   D_INPUT, D_OUTPUT  size
 *   D_SYNAPSE     pre, post, target, rank, w_dim, node (items)
 */
#ifndef CAJAL_CHECK_H
#define CAJAL_CHECK_H

#include "ast.h"
#include "builtins.h"
#include "value.h"

typedef enum DeclKind {
    D_LET, D_NEURON, D_CELL, D_PLASTICITY, D_POPULATION, D_INPUT, D_OUTPUT, D_SYNAPSE,
    D_COST, D_TASK, D_DATA, D_EXTERN, D_KIND_COUNT
} DeclKind;

typedef enum VarKind {
    VAR_ODE,       /* tau * dx/dt = ... */
    VAR_NEXT,      /* x' = ...  (discrete time) */
    VAR_STATE,     /* declared by `state` in a cell, updated by x' */
    VAR_ALIAS,     /* r = phi(x): computed from the others each step */
    VAR_GATE,      /* gate f = ...: an alias in [0, 1], recorded as gate activity */
    VAR_TRACE,     /* plasticity trace */
} VarKind;

typedef struct VarInfo {
    Name name;
    VarKind kind;
    Dim dim;
    const Node *eq;          /* the defining equation, or NULL for a bare `state` */
    const Node *size;        /* `state h[n]`: the size expression, or NULL */
    Span at;
} VarInfo;

/* What the checker learned about a neuron, cell or plasticity rule. */
typedef struct ModelInfo {
    Param *params;
    Dim *param_dims;         /* dimension of each parameter's default */
    int nparams;
    VarInfo *vars;
    int nvars;
    Name out;                /* the variable synapses read (r, or `out v`), NULL if none */
    bool spiking;            /* has `spike when` */
    Dim in_dim;              /* unit of `in` */
    bool continuous, discrete;
} ModelInfo;

typedef struct Decl Decl;
struct Decl {
    DeclKind kind;
    Name name;
    Node *node;                /* the declaring statement */
    Value value;               /* D_LET */
    int64_t size;              /* D_POPULATION, D_INPUT, D_OUTPUT */
    Decl *model;               /* D_POPULATION: its neuron or cell */
    const Node **args;         /* D_POPULATION: model parameters bound to values */
    int64_t *state_size;       /* D_POPULATION of a cell: each var's declared size, by the
                                  cell's var index; 0 where it declares none */
    Decl *pre, *post;          /* D_SYNAPSE */
    Name target;               /* D_SYNAPSE: the post variable it feeds (in by default) */
    int64_t rank;              /* D_SYNAPSE: low-rank k, 0 when dense */
    Dim w_dim;                 /* D_SYNAPSE: unit of w */
    bool one_to_one;           /* D_SYNAPSE: w holds one weight per pair, [n] */
    ModelInfo *info;           /* D_NEURON, D_CELL, D_PLASTICITY */
    Decl *replaced;            /* the declaration this one replaced, or NULL */
    bool dead;                 /* replaced by a later declaration */
};

typedef struct Env {
    Decl **v;
    int n, cap;
} Env;

typedef struct EnvMark {
    int n;
} EnvMark;

/* A `-D name=value` from the command line. */
typedef struct Define {
    Name name;
    const Node *value;
    bool used;
} Define;

typedef struct Checker Checker;

/* Loads `import "name"` on the checker's behalf: finds the file, parses it and
 * checks its statements. Returns false after reporting. */
typedef bool (*ImportFn)(void *self, Checker *c, const Node *stmt);

enum { CHECK_FAILED_KEPT = 32 };

struct Checker {
    Env *env;
    Arena *arena;
    Diags *diags;
    Define *defines;
    int ndefines;
    ImportFn import;
    void *import_self;
    void (*notice)(void *self, const char *msg);   /* "population 'E' replaces ..." */
    void *notice_self;
    /* The last named declarations (neurons, cells, rules, populations,
     * synapses, lets) that had errors, so a use of one is told so rather than
     * "unknown name", and the use of a failed let is not reported again. Held
     * by value: a failed statement's arena memory is rolled back (REPL, modules). */
    struct FailedDecl {
        Name name;
        DeclKind kind;
        bool dropped;      /* its REPL entry was rolled back: the name is unknown */
        int line;
        char file[128];
    } failed[CHECK_FAILED_KEPT];
    int nfailed;           /* ever recorded; the last CHECK_FAILED_KEPT are kept */
    bool met_failed;       /* an evaluation met a failed let, whose error is already out */
};

void env_init(Env *e);
void env_fini(Env *e);
EnvMark env_mark(const Env *e);
/* Drops the declarations made after the mark, reviving those they replaced. */
void env_rollback(Env *e, EnvMark m);
/* The live declaration of name, or NULL. */
Decl *env_lookup(const Env *e, Name name);
const char *decl_kind_word(DeclKind k);
/* The same with its article, for messages: "an input", "a neuron". */
const char *decl_kind_phrase(DeclKind k);

/* Checks one top-level statement and, if it is a declaration that checked
 * clean, adds it to the environment. Returns false after reporting errors. */
bool check_stmt(Checker *c, Node *stmt);

/* Marks the failed declarations recorded since c->nfailed was `since` as
 * rolled back with their REPL entry: a later use is told the name is unknown,
 * and where its declaration failed. */
void check_drop_failed(Checker *c, int since);

/* Evaluates a constant expression in the environment's scope. */
bool check_eval(Checker *c, const Node *e, Value *out);
/* The number a checked constant expression evaluates to (NAN if it does not):
 * for the later stages, which read clauses and arguments the checker passed. */
double check_number(const Env *env, const Node *e);

/* Checks the body of a neuron, cell or plasticity declaration (check_model.c). */
ModelInfo *check_model_body(Checker *c, Node *decl);
/* Checks a plasticity rule as attached to a synapse with these dimensions of
 * pre, post and w and these bound arguments. */
bool check_rule_units(Checker *c, const Decl *rule, const Node **args, Dim pre, Dim post, Dim w, Span at);
/* Checks `with u = EXPR` (simulate): EXPR is an expression of t and dt, lets and
 * built-in functions, under the unit rules of equations, and has the unit of
 * `input` (inputs have none). Returns false after reporting errors. */
bool check_binding_units(Checker *c, const Node *e, Name input);

/* Names a misspelt name might have meant: live declarations of the given kinds
 * (a bit set of 1 << DeclKind; 0 for all) and built-ins. */
const char *check_closest(const Checker *c, Name name, unsigned kinds);

#endif
