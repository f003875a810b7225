/* plasticity.c: local learning rules inside the time loop (plasticity.h).
 *
 * After lower and plan, before run: `plastic RULE(args) [every K]` on a synapse
 * becomes small register programs of the fused executor (fused.h) over the
 * rule's sides, and an update of the weight storage.
 *
 * Sides. Every name a rule reads lives on one side, and an expression on the
 * join of its names' sides:
 *
 *   const   parameters, lets, dt                 one number
 *   trial   t, a signal of one value per trial   [B, 1]
 *   post    post, a per-post signal, post traces [B, n_post]
 *   pre     pre, pre traces                      [B, n_pre]
 *   syn     w, per-synapse traces                [B, n_post, n_pre]; post and pre join to syn
 *
 * A trace lives on the side its equation reads (itself aside, at least trial):
 * `tau * dx/dt = -x + post` is one value per post neuron, `... + pre * post` one
 * per synapse. On a one_to_one synapse pre and post are one side.
 *
 * Factored rules. The weight change is expanded into a sum of products and each
 * product split into its post part and its pre part. When every product is
 * either u_i v_j or a_i w_ij (hebb, oja, bcm, vogels and the selectron are),
 *
 *   w_ij <- w_ij + abar_i w_ij + sum_g sum_b u_gbi v_gbj       (abar_i = sum_b a_bi)
 *
 * one program computes a and the u_g over [B, n_post], another the v_g over
 * [B, n_pre], and the update is a row scale plus one GEMM per group (cblas ?ger at
 * B = 1), or, at small B, the fused update-and-product kernel: the update is held
 * until the next step's W x and done in the same pass over W, row by row
 * (`update_product`), so W is read and written once per step. Any other rule
 * (dw = eta * pre * post * w, a per-synapse trace) runs one program over the
 * [n_post, n_pre] grid per trial: post values are COLUMN operands, pre values
 * ROW operands, w FULL.
 *
 * Order within step t: the network computes its values at t (plan_step); the
 * rule reads pre(t), post(t), w, the traces and signals at t and changes w for
 * step t + 1 (dw = RHS, or dw = K dt RHS / tau_w for tau_w * dw/dt = RHS, every K
 * steps); then each trace advances by dt (Euler), in the order written. Batch:
 * the change is the mean over the B trials. Constraints, after each change:
 * the synapse's sign (w is a magnitude, clamped at 0), its absent connections
 * and no_self; then the rule's clip(w, lo, hi), constrain l1(w) <= omega (scale a
 * post neuron's row down when its L1 norm exceeds omega), l2(row) = c, in the
 * order written.
 *
 * Blow-ups. A bound M >= max |w| is carried from step to step without reading
 * W (|1 + abar_i| M + sum |u| max|v|, capped by the constraints); while it stays
 * far below the largest real, no update can overflow. Otherwise the step is done
 * carefully: rows copied aside, updated, checked, and put back when a value is
 * not finite; the run then stops naming the synapse, the rule and the step.
 *
 * Training. A synapse both `learn` and `plastic` gets its rule's change during
 * the forward pass. The backward pass uses, at each step, the weights that
 * step's product used (kept per update, put back by plasticity_rewind), and
 * treats the rule's changes as constants (not differentiated): so gW is the sum
 * over steps of each step's dL/dW_t, the gradient with respect to a change added
 * to the weights at every step of the trial. The optimizer's step then adds to
 * the weights as the rules left them.
 */
#include "plasticity.h"
#include "xalloc.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef CAJAL_FLOAT
#define REAL_MAX FLT_MAX
#define cblas_gemm cblas_sgemm
#define cblas_gemv cblas_sgemv
#define cblas_ger cblas_sger
#else
#define REAL_MAX DBL_MAX
#define cblas_gemm cblas_dgemm
#define cblas_gemv cblas_dgemv
#define cblas_ger cblas_dger
#endif

enum {
    MAX_MONOS = 32,          /* products in an expanded weight change */
    MAX_FACTORS = 12,        /* factors in one product */
    FUSE_MAX_BATCH = 8,      /* the fused update-and-product kernel up to this batch */
};

bool plasticity_blas_only;

/* A bound on |w| this far below the largest real leaves room for one more update. */
static const double SAFE_BOUND = REAL_MAX / 16;

/* ---- sides and vectors --------------------------------------------------- */

typedef enum Side { SIDE_CONST, SIDE_TRIAL, SIDE_POST, SIDE_PRE, SIDE_SYN } Side;

static Side join(Side a, Side b)
{
    if ((a == SIDE_POST && b == SIDE_PRE) || (a == SIDE_PRE && b == SIDE_POST))
        return SIDE_SYN;
    return a > b ? a : b;
}

typedef enum VecKind {
    VEC_NODE,      /* a graph value, copied after each step */
    VEC_TRACE,     /* a trace: the rule's own state */
    VEC_ERROR,     /* training: (output - target) * mask */
    VEC_REWARD,    /* training: minus the cost at this step */
    VEC_ONES,      /* 1 everywhere: the pre part of a product with none */
} VecKind;

/* Values of one side per trial: data is [B, n]. */
typedef struct Vec {
    VecKind kind;
    Side side;
    Name name;
    int64_t n;
    real *data;            /* owned */
    int node;              /* VEC_NODE, VEC_ERROR: the value read; else -1 */
    int target, mask;      /* VEC_ERROR: the task's target and mask leaves (mask may be -1) */
} Vec;

/* What an input register of a rule's program reads. */
typedef enum OpdKind { OPD_CONST, OPD_TIME, OPD_VEC, OPD_W, OPD_STAGE } OpdKind;

typedef struct Operand {
    OpdKind kind;
    int vec;
    real value;            /* OPD_CONST */
} Operand;

typedef enum Domain { DOM_TRIAL, DOM_POST, DOM_PRE, DOM_GRID, DOM_CSR } Domain;

/* A compiled program and what its input registers read. */
typedef struct Prog {
    FusedProgram p;
    Operand *opd;          /* [p.nin] */
    Domain dom;
} Prog;

typedef struct Trace {
    Name name;
    int vec;
    const Node *rhs;
    const Node *coef;      /* tau in tau * dx/dt, or NULL */
    bool next;             /* x' = RHS (discrete) */
    Prog prog;             /* the new value, written over the old */
} Trace;

typedef enum ConKind { CON_CLIP, CON_L1_LE, CON_L1_EQ, CON_L2_LE, CON_L2_EQ } ConKind;

typedef struct Constraint {
    ConKind kind;
    real lo, hi;           /* clip bounds; the norm's value in hi */
} Constraint;

typedef enum Path { PATH_FACTORED, PATH_GRID, PATH_DIAG } Path;

/* A graph node that computes this synapse's product in the hoist segment: it is
 * recomputed for step t + 1 after each change (the plan computed it for every
 * step before the loop, with the weights of step 0), and so are the hoisted
 * steps that read it (a sign's scale, a sum with another input's product). */
typedef struct Hoisted {
    int out;               /* the node consumers read: the product or its slice */
    int x;                 /* the product's input */
} Hoisted;

typedef struct PSyn {
    const ModelSyn *syn;
    ModelParam *param;
    const ModelBlock *block;   /* dense: the stacked block, else NULL */
    int64_t row0;              /* first row in the block */
    const Decl *rule;
    const Node *item;          /* the `plastic` item */
    Span at;
    const char *name;
    int64_t n_pre, n_post, nw; /* nw: stored weights (n_post * n_pre, nnz, or n) */
    real *w;                   /* the weights (rows of the block) */
    int64_t ldw;
    const Csr *csr;
    const real *mask;
    Path path;
    int64_t every;
    double scale;              /* per change: 1 or every * dt / tau_w, over B */
    double *argval;            /* the rule's parameters, bound */
    Vec *vecs;
    int nvecs;
    int pre, post;             /* vec indices */
    Trace *traces;
    int ntraces;
    const Node **dw;           /* right-hand sides of dw = ... (summed) */
    int ndw;
    Constraint *cons;
    int ncons;
    /* factored */
    Prog post_prog, pre_prog;
    bool has_a;
    int ngroups;
    int *group_vec;            /* per group: a vec read directly, or -1 (pre_prog output) */
    real *a, *abar, *u, *v;    /* [B, n_post], [n_post], [G, B, n_post], [G, B, n_pre] */
    const real **vmat;         /* per group: its [B, n_pre] pre part */
    double *vmax;              /* per row of V: max |v| */
    /* grid and diag */
    Prog dw_prog;
    real *stage;               /* GRID [n_post, n_pre] / CSR [nnz] / DIAG [B, n] */
    real *gather;              /* CSR: gathered pre values, one row per register */
    int64_t max_row;
    /* safety */
    double bound;
    real *backup;
    bool pending;              /* a change waits for the next step's product */
    int fused_step;            /* the plan step the fused kernel replaces, or -1 */
    Hoisted *hoisted;
    int nhoisted;
    int *rerun;                /* hoisted plan steps downstream of them, in order */
    int nrerun;
    bool loop_site;            /* a product in the loop reads the weights */
    /* training */
    real *hist, *final;        /* [nhist, nw]: the weights before each change */
    int64_t nhist, nchanges, shown;
} PSyn;

struct Plasticity {
    const Model *m;
    const Env *env;
    const Graph *g;
    Plan *plan;
    PlasticitySpec spec;
    Diags *d;
    Span at;
    PSyn *syns;
    int nsyns;
    int *wanted;
    int nwanted;
    int *changing;             /* the plastic weights' parameter nodes */
    int nchanging;
    int *step_block;           /* per plan step: the block the fused kernel runs, or -1 */
    real *scratch;
    bool any_pending;
    real now;                  /* t at the current step, for rules that read t */
    bool failed;               /* the last step stopped on a blow-up */
};

/* ---- compiling ------------------------------------------------------------ */

typedef struct Comp {
    Plasticity *pl;
    PSyn *ps;
    const ModelInfo *info;
    Diags *d;
    bool failed;
    bool diag;                 /* one_to_one: pre and post are one side */
    int depth;
    Operand *opd;
    int nopd, capopd;
    FusedInstr *code;
    int ncode, capcode;
    int *outs;
    int nouts, capouts;
} Comp;

static bool is(const Node *e, const char *name) { return e && e->kind == AST_NAME && e->name == intern_cstr(name); }

static int fail_at(Comp *c, Span at, const char *msg)
{
    if (!c->failed)
        diag_error(c->d, at, "%s", msg);
    c->failed = true;
    return 0;
}

static int param_index(const ModelInfo *info, Name name)
{
    for (int i = 0; i < info->nparams; i++)
        if (info->params[i].name == name)
            return i;
    return -1;
}

static const VarInfo *var_of(const ModelInfo *info, Name name)
{
    for (int i = 0; i < info->nvars; i++)
        if (info->vars[i].name == name)
            return &info->vars[i];
    return NULL;
}

static int trace_index(const PSyn *ps, Name name)
{
    for (int i = 0; i < ps->ntraces; i++)
        if (ps->traces[i].name == name)
            return i;
    return -1;
}

static int add_vec(PSyn *ps, Vec v)
{
    ps->vecs = xrealloc(ps->vecs, (size_t)(ps->nvecs + 1) * sizeof *ps->vecs);
    ps->vecs[ps->nvecs] = v;
    return ps->nvecs++;
}

static int64_t side_len(const PSyn *ps, Side s)
{
    switch (s) {
    case SIDE_POST: return ps->n_post;
    case SIDE_PRE: return ps->n_pre;
    case SIDE_SYN: return ps->nw;
    default: return 1;
    }
}

static int64_t row_len(const GNode *n) { return n->shape.rank == 0 ? 1 : n->shape.dim[n->shape.rank - 1]; }

/* The vec of global signal `name` (reward, modulator, error), made on first use. */
static int signal_vec(Comp *c, Name name, Span at)
{
    PSyn *ps = c->ps;
    for (int i = 0; i < ps->nvecs; i++)
        if (ps->vecs[i].name == name && (ps->vecs[i].kind != VEC_TRACE))
            return i;
    const Model *m = c->pl->m;
    const Graph *g = c->pl->g;
    const PlasticitySpec *spec = &c->pl->spec;
    int node = -1;
    /* Training reads an output of that name, else the task (error, reward); inputs
     * other than the task's are not fed there. */
    for (int k = 0; k < m->noutputs; k++)
        if (m->outputs[k].name == name)
            node = graph_find(g, name);
    if (node < 0 && spec->costs) {
        const CostSet *cs = spec->costs;
        if (name == intern_cstr("error") && cs->target >= 0 && m->noutputs == 1) {
            int y = graph_find(g, m->outputs[0].name);
            int64_t n = m->outputs[0].n;
            if (y >= 0 && (n == 1 || n == ps->n_post)) {
                Vec v = { VEC_ERROR, n == 1 ? SIDE_TRIAL : SIDE_POST, name, n, NULL, y, cs->target, cs->mask };
                return add_vec(ps, v);
            }
            char msg[256];
            snprintf(msg, sizeof msg, "the rule on %s reads 'error', the task's error of output %s, which has %lld values; "
                     "%s has %lld post neurons", ps->name, m->outputs[0].name, (long long)n, ps->name, (long long)ps->n_post);
            fail_at(c, at, msg);
            return -1;
        }
        if (name == intern_cstr("reward") && cs->n > 0) {
            Vec v = { VEC_REWARD, SIDE_TRIAL, name, 1, NULL, -1, -1, -1 };
            return add_vec(ps, v);
        }
    }
    if (node < 0)
        node = graph_find(g, name);
    if (node < 0) {
        if (!c->failed) {
            diag_error(c->d, ps->at, "rule %s on synapse %s reads '%s', which nothing supplies", ps->rule->name, ps->name, name);
            diag_hint(c->d, "declare input %s[1] (one value per trial) and bind it, as in simulate ... with %s = 1; "
                      "in training, error and reward come from the task and its cost", name, name);
        }
        c->failed = true;
        return -1;
    }
    int64_t n = row_len(&g->nodes[node]);
    if (n != 1 && n != ps->n_post) {
        if (!c->failed)
            diag_error(c->d, ps->at, "rule %s on synapse %s reads '%s', which has %lld values; it needs 1 (per trial) or %lld (one per post neuron)",
                       ps->rule->name, ps->name, name, (long long)n, (long long)ps->n_post);
        c->failed = true;
        return -1;
    }
    Vec v = { VEC_NODE, n == 1 ? SIDE_TRIAL : SIDE_POST, name, n, NULL, node, -1, -1 };
    return add_vec(ps, v);
}

/* What a name in a rule stands for. */
typedef enum SymKind { SYM_NONE, SYM_CONST, SYM_TIME, SYM_VEC, SYM_W, SYM_ALIAS } SymKind;

typedef struct Sym {
    SymKind kind;
    double value;
    int vec;
    const Node *alias;
} Sym;

static Sym lookup(Comp *c, const Node *e)
{
    Name name = e->name;
    PSyn *ps = c->ps;
    int k = param_index(c->info, name);
    if (k >= 0)
        return (Sym){ SYM_CONST, ps->argval[k], -1, NULL };
    if (name == intern_cstr("pre"))
        return (Sym){ SYM_VEC, 0, ps->pre, NULL };
    if (name == intern_cstr("post"))
        return (Sym){ SYM_VEC, 0, ps->post, NULL };
    if (name == intern_cstr("w") || name == intern_cstr("row"))
        return (Sym){ SYM_W, 0, -1, NULL };
    if (name == intern_cstr("t"))
        return (Sym){ SYM_TIME, 0, -1, NULL };
    if (name == intern_cstr("dt"))
        return (Sym){ SYM_CONST, c->pl->spec.dt, -1, NULL };
    int tr = trace_index(ps, name);
    if (tr >= 0)
        return (Sym){ SYM_VEC, 0, ps->traces[tr].vec, NULL };
    const VarInfo *v = var_of(c->info, name);
    if (v && v->kind == VAR_ALIAS)
        return (Sym){ SYM_ALIAS, 0, -1, v->eq->b };
    if (name == intern_cstr("reward") || name == intern_cstr("modulator") || name == intern_cstr("error")) {
        int vec = signal_vec(c, name, e->span);
        return vec >= 0 ? (Sym){ SYM_VEC, 0, vec, NULL } : (Sym){ SYM_NONE, 0, -1, NULL };
    }
    if (name == intern_cstr("xi")) {
        fail_at(c, e->span, "noise xi cannot be used in a plasticity rule");
        return (Sym){ SYM_NONE, 0, -1, NULL };
    }
    double x = check_number(c->pl->env, e);
    if (!isnan(x))
        return (Sym){ SYM_CONST, x, -1, NULL };
    char msg[160];
    snprintf(msg, sizeof msg, "'%s' has no value in a running plasticity rule", name);
    fail_at(c, e->span, msg);
    return (Sym){ SYM_NONE, 0, -1, NULL };
}

static Side side_of(Comp *c, const Node *e);

static Side sym_side(Comp *c, Sym s)
{
    switch (s.kind) {
    case SYM_TIME: return SIDE_TRIAL;
    case SYM_VEC: {
        Side v = c->ps->vecs[s.vec].side;
        return c->diag && v > SIDE_TRIAL ? SIDE_POST : v;
    }
    case SYM_W: return c->diag ? SIDE_POST : SIDE_SYN;
    case SYM_ALIAS:
        if (c->depth > 32)
            return SIDE_SYN;
        c->depth++;
        Side r = side_of(c, s.alias);
        c->depth--;
        return r;
    default: return SIDE_CONST;
    }
}

static Side side_of(Comp *c, const Node *e)
{
    switch (e->kind) {
    case AST_NUMBER: return SIDE_CONST;
    case AST_NAME: return sym_side(c, lookup(c, e));
    case AST_UNARY: return side_of(c, e->a);
    case AST_BINARY: return join(side_of(c, e->a), side_of(c, e->b));
    case AST_CALL: {
        Side s = SIDE_CONST;
        for (int i = 0; i < e->list.n; i++)
            s = join(s, side_of(c, e->list.v[i]->kind == AST_ARG ? e->list.v[i]->a : e->list.v[i]));
        return s;
    }
    default: return SIDE_SYN;
    }
}

static bool reads_w(Comp *c, const Node *e)
{
    switch (e->kind) {
    case AST_NAME: {
        if (is(e, "w") || is(e, "row"))
            return param_index(c->info, e->name) < 0;
        const VarInfo *v = var_of(c->info, e->name);
        if (v && v->kind == VAR_ALIAS && c->depth < 32) {
            c->depth++;
            bool r = reads_w(c, v->eq->b);
            c->depth--;
            return r;
        }
        return false;
    }
    case AST_UNARY: return reads_w(c, e->a);
    case AST_BINARY: return reads_w(c, e->a) || reads_w(c, e->b);
    case AST_CALL:
        for (int i = 0; i < e->list.n; i++)
            if (reads_w(c, e->list.v[i]->kind == AST_ARG ? e->list.v[i]->a : e->list.v[i]))
                return true;
        return false;
    default: return false;
    }
}

/* The number a constant expression of the rule is, or false. */
static bool const_eval(Comp *c, const Node *e, double *out)
{
    switch (e->kind) {
    case AST_NUMBER:
        *out = e->num;
        return true;
    case AST_NAME: {
        Sym s = lookup(c, e);
        if (s.kind == SYM_ALIAS && c->depth < 32) {
            c->depth++;
            bool ok = const_eval(c, s.alias, out);
            c->depth--;
            return ok;
        }
        *out = s.value;
        return s.kind == SYM_CONST;
    }
    case AST_UNARY: {
        double a;
        if (e->op != '-' || !const_eval(c, e->a, &a))
            return false;
        *out = -a;
        return true;
    }
    case AST_BINARY: {
        double a, b;
        if (!const_eval(c, e->a, &a) || !const_eval(c, e->b, &b))
            return false;
        switch (e->op) {
        case '+': *out = a + b; return true;
        case '-': *out = a - b; return true;
        case '*': *out = a * b; return true;
        case '/': *out = a / b; return b != 0;
        case '^': *out = pow(a, b); return true;
        default: return false;
        }
    }
    default:
        return false;
    }
}

/* Registers while compiling: r >= 0 is instruction r, r < 0 is input -1 - r. */
static int add_input(Comp *c, Operand o)
{
    for (int i = 0; i < c->nopd; i++) {
        const Operand *q = &c->opd[i];
        if (q->kind == o.kind && q->vec == o.vec && (o.kind != OPD_CONST || q->value == o.value))
            return -1 - i;
    }
    if (c->nopd == c->capopd) {
        c->capopd = c->capopd ? 2 * c->capopd : 8;
        c->opd = xrealloc(c->opd, (size_t)c->capopd * sizeof *c->opd);
    }
    c->opd[c->nopd] = o;
    return -1 - c->nopd++;
}

static int constant(Comp *c, double v) { return add_input(c, (Operand){ OPD_CONST, -1, (real)v }); }

static int emit(Comp *c, OpKind op, const OpAttr *attr, int n, int a, int b, int d3)
{
    if (c->ncode == c->capcode) {
        c->capcode = c->capcode ? 2 * c->capcode : 16;
        c->code = xrealloc(c->code, (size_t)c->capcode * sizeof *c->code);
    }
    FusedInstr *f = &c->code[c->ncode];
    *f = (FusedInstr){ .op = ops_get(op), .nin = n, .in = { a, b, d3 } };
    if (attr)
        f->attr = *attr;
    return c->ncode++;
}

static OpKind function_op(const char *name)
{
    static const struct {
        const char *name;
        OpKind op;
    } map[] = {
        { "tanh", OP_TANH }, { "sigmoid", OP_SIGMOID }, { "relu", OP_RELU }, { "linear", OP_COPY },
        { "softplus", OP_SOFTPLUS }, { "exp", OP_EXP }, { "log", OP_LOG }, { "sqrt", OP_SQRT },
        { "abs", OP_ABS }, { "sin", OP_SIN }, { "cos", OP_COS }, { "square", OP_SQUARE },
        { "min", OP_MIN }, { "max", OP_MAX }, { "step", OP_STEP }, { "sign", OP_SIGN },
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (strcmp(map[i].name, name) == 0)
            return map[i].op;
    return OP_COUNT;
}

static int compile(Comp *c, const Node *e)
{
    if (c->failed)
        return constant(c, 0);
    switch (e->kind) {
    case AST_NUMBER:
        return constant(c, e->num);
    case AST_NAME: {
        Sym s = lookup(c, e);
        switch (s.kind) {
        case SYM_CONST: return constant(c, s.value);
        case SYM_TIME: return add_input(c, (Operand){ OPD_TIME, -1, 0 });
        case SYM_VEC: return add_input(c, (Operand){ OPD_VEC, s.vec, 0 });
        case SYM_W: return add_input(c, (Operand){ OPD_W, -1, 0 });
        case SYM_ALIAS:
            if (c->depth > 32)
                return fail_at(c, e->span, "an alias of this rule depends on itself");
            c->depth++;
            int r = compile(c, s.alias);
            c->depth--;
            return r;
        default: return constant(c, 0);
        }
    }
    case AST_UNARY: {
        int a = compile(c, e->a);
        return emit(c, e->op == '-' ? OP_NEG : OP_NOT, NULL, 1, a, 0, 0);
    }
    case AST_BINARY: {
        int a = compile(c, e->a);
        if (e->op == '^' && e->b->kind == AST_NUMBER) {
            if (e->b->num == 2)
                return emit(c, OP_SQUARE, NULL, 1, a, 0, 0);
            OpAttr attr = { .p = e->b->num };
            return emit(c, OP_POW_CONST, &attr, 1, a, 0, 0);
        }
        int b = compile(c, e->b);
        OpKind op;
        switch (e->op) {
        case '+': op = OP_ADD; break;
        case '-': op = OP_SUB; break;
        case '*': op = OP_MUL; break;
        case '/': op = OP_DIV; break;
        case '^': op = OP_POW; break;
        case '<': op = OP_LT; break;
        case '>': op = OP_GT; break;
        case AOP_LE: op = OP_LE; break;
        case AOP_GE: op = OP_GE; break;
        case AOP_EQ: op = OP_EQ; break;
        case AOP_NE: op = OP_NE; break;
        case AOP_AND: op = OP_AND; break;
        case AOP_OR: op = OP_OR; break;
        default: return fail_at(c, e->span, "this operator cannot be used in a plasticity rule");
        }
        return emit(c, op, NULL, 2, a, b, 0);
    }
    case AST_CALL: {
        const char *f = e->a->kind == AST_NAME ? e->a->name : "";
        int k = param_index(c->info, e->a->name);
        if (k >= 0 && c->info->params[k].def && c->info->params[k].def->kind == AST_NAME)
            f = c->info->params[k].def->name;   /* phi = tanh */
        int n = e->list.n;
        int r[3] = { 0, 0, 0 };
        for (int i = 0; i < n && i < 3; i++)
            r[i] = compile(c, e->list.v[i]->kind == AST_ARG ? e->list.v[i]->a : e->list.v[i]);
        if (strcmp(f, "clip") == 0 && n == 3) {
            double lo, hi;
            if (const_eval(c, e->list.v[1], &lo) && const_eval(c, e->list.v[2], &hi)) {
                OpAttr attr = { .lo = lo, .hi = hi };
                return emit(c, OP_CLIP, &attr, 1, r[0], 0, 0);
            }
            return emit(c, OP_MIN, NULL, 2, emit(c, OP_MAX, NULL, 2, r[0], r[1], 0), r[2], 0);
        }
        OpKind op = function_op(f);
        int arity = op == OP_MIN || op == OP_MAX ? 2 : 1;
        if (op == OP_COUNT || n != arity) {
            char msg[160];
            snprintf(msg, sizeof msg, "%s(...) cannot be used in a running plasticity rule", f);
            return fail_at(c, e->span, msg);
        }
        return emit(c, op, NULL, arity, r[0], r[1], 0);
    }
    default:
        return fail_at(c, e->span, "this expression cannot be used in a running plasticity rule");
    }
}

/* Marks register r as an output (a copy when r is an input or already one). */
static void output(Comp *c, int r)
{
    bool taken = r < 0;
    for (int i = 0; i < c->nouts && !taken; i++)
        taken = c->outs[i] == r;
    if (taken)
        r = emit(c, OP_COPY, NULL, 1, r, 0, 0);
    if (c->nouts == c->capouts) {
        c->capouts = c->capouts ? 2 * c->capouts : 4;
        c->outs = xrealloc(c->outs, (size_t)c->capouts * sizeof *c->outs);
    }
    c->outs[c->nouts++] = r;
}

/* Turns what was compiled into a program (and starts the next). */
static Prog finish_prog(Comp *c, Domain dom)
{
    Prog pr = { .dom = dom };
    FusedProgram *p = &pr.p;
    p->nin = c->nopd;
    p->ncode = c->ncode;
    p->code = xmalloc((size_t)(c->ncode + 1) * sizeof *p->code);
    for (int k = 0; k < c->ncode; k++) {
        p->code[k] = c->code[k];
        for (int i = 0; i < p->code[k].nin; i++) {
            int r = c->code[k].in[i];
            p->code[k].in[i] = r >= 0 ? c->nopd + r : -1 - r;
        }
    }
    p->nout = c->nouts;
    p->out = xmalloc((size_t)(c->nouts + 1) * sizeof *p->out);
    for (int k = 0; k < c->nouts; k++)
        p->out[k] = c->nopd + c->outs[k];
    pr.opd = xmalloc((size_t)(c->nopd + 1) * sizeof *pr.opd);
    memcpy(pr.opd, c->opd, (size_t)c->nopd * sizeof *pr.opd);
    c->nopd = c->ncode = c->nouts = 0;
    return pr;
}

static void prog_fini(Prog *p)
{
    free(p->p.code);
    free(p->p.out);
    free(p->opd);
}

/* ---- expanding a weight change into products --------------------------------- */

typedef struct Mono {
    double coef;
    const Node *f[MAX_FACTORS];
    bool inv[MAX_FACTORS];
    Side side[MAX_FACTORS];
    int nf, wpow;
} Mono;

typedef struct Monos {
    Mono v[MAX_MONOS];
    int n;
} Monos;

static bool push_mono(Monos *l, const Mono *m)
{
    if (l->n == MAX_MONOS)
        return false;
    l->v[l->n++] = *m;
    return true;
}

/* Expands e into a sum of products of factors that each live on one side. False
 * when e is not such a sum (a function of w, a product of w with a pre value). */
static bool expand(Comp *c, const Node *e, Monos *out)
{
    Side s = side_of(c, e);
    if (s != SIDE_SYN && !reads_w(c, e)) {
        Mono m = { .coef = 1 };
        double v;
        if (s == SIDE_CONST && const_eval(c, e, &v))
            m.coef = v;
        else
            m.f[0] = e, m.side[0] = s, m.nf = 1;
        return push_mono(out, &m);
    }
    switch (e->kind) {
    case AST_NAME: {
        if (is(e, "w")) {
            Mono m = { .coef = 1, .wpow = 1 };
            return push_mono(out, &m);
        }
        Sym sym = lookup(c, e);
        if (sym.kind != SYM_ALIAS || c->depth > 32)
            return false;
        c->depth++;
        bool ok = expand(c, sym.alias, out);
        c->depth--;
        return ok;
    }
    case AST_UNARY: {
        if (e->op != '-')
            return false;
        int from = out->n;
        if (!expand(c, e->a, out))
            return false;
        for (int i = from; i < out->n; i++)
            out->v[i].coef = -out->v[i].coef;
        return true;
    }
    case AST_BINARY: {
        if (e->op == '+' || e->op == '-') {
            if (!expand(c, e->a, out))
                return false;
            int from = out->n;
            if (!expand(c, e->b, out))
                return false;
            if (e->op == '-')
                for (int i = from; i < out->n; i++)
                    out->v[i].coef = -out->v[i].coef;
            return true;
        }
        if (e->op == '*') {
            Monos *l = xmalloc(sizeof *l), *r = xmalloc(sizeof *r);
            l->n = r->n = 0;
            bool ok = expand(c, e->a, l) && expand(c, e->b, r);
            for (int i = 0; ok && i < l->n; i++)
                for (int j = 0; ok && j < r->n; j++) {
                    Mono m = l->v[i];
                    const Mono *q = &r->v[j];
                    if (m.nf + q->nf > MAX_FACTORS) {
                        ok = false;
                        break;
                    }
                    m.coef *= q->coef;
                    m.wpow += q->wpow;
                    for (int k = 0; k < q->nf; k++)
                        m.f[m.nf] = q->f[k], m.inv[m.nf] = q->inv[k], m.side[m.nf++] = q->side[k];
                    ok = push_mono(out, &m);
                }
            free(l);
            free(r);
            return ok;
        }
        if (e->op == '/') {
            Side sb = side_of(c, e->b);
            if (sb == SIDE_SYN || reads_w(c, e->b))
                return false;
            int from = out->n;
            if (!expand(c, e->a, out))
                return false;
            double v;
            bool num = sb == SIDE_CONST && const_eval(c, e->b, &v) && v != 0;
            for (int i = from; i < out->n; i++) {
                Mono *m = &out->v[i];
                if (num) {
                    m->coef /= v;
                } else {
                    if (m->nf == MAX_FACTORS)
                        return false;
                    m->f[m->nf] = e->b, m->inv[m->nf] = true, m->side[m->nf++] = sb;
                }
            }
            return true;
        }
        return false;
    }
    default:
        return false;
    }
}

static bool pre_factor(const Mono *m, int k) { return m->side[k] == SIDE_PRE; }

/* Do two products have the same pre part? */
static bool same_pre(const Mono *a, const Mono *b)
{
    int na = 0, nb = 0;
    for (int k = 0; k < a->nf; k++)
        na += pre_factor(a, k);
    for (int k = 0; k < b->nf; k++)
        nb += pre_factor(b, k);
    if (na != nb)
        return false;
    bool used[MAX_FACTORS] = { false };
    for (int k = 0; k < a->nf; k++) {
        if (!pre_factor(a, k))
            continue;
        bool found = false;
        for (int j = 0; j < b->nf && !found; j++)
            if (pre_factor(b, j) && !used[j] && b->f[j] == a->f[k] && b->inv[j] == a->inv[k])
                used[j] = found = true;
        if (!found)
            return false;
    }
    return true;
}

/* The product of one side's factors of m (with coef on the post side). */
static int compile_part(Comp *c, const Mono *m, bool pre, double coef)
{
    int acc = 0;
    bool have = false;
    for (int k = 0; k < m->nf; k++) {
        if (pre_factor(m, k) != pre)
            continue;
        int r = compile(c, m->f[k]);
        if (m->inv[k])
            acc = emit(c, OP_DIV, NULL, 2, have ? acc : constant(c, 1), r, 0);
        else
            acc = have ? emit(c, OP_MUL, NULL, 2, acc, r, 0) : r;
        have = true;
    }
    if (!have)
        return constant(c, coef);
    if (coef == -1)
        return emit(c, OP_NEG, NULL, 1, acc, 0, 0);
    if (coef != 1)
        return emit(c, OP_MUL, NULL, 2, acc, constant(c, coef), 0);
    return acc;
}

/* Compiles the factored form: false when the rule is not of that form. */
static bool factor_rule(Comp *c)
{
    PSyn *ps = c->ps;
    Monos *all = xmalloc(sizeof *all);
    all->n = 0;
    bool ok = true;
    for (int k = 0; k < ps->ndw && ok; k++)
        ok = expand(c, ps->dw[k], all);
    for (int i = 0; ok && i < all->n; i++) {
        const Mono *m = &all->v[i];
        bool has_pre = false;
        for (int k = 0; k < m->nf; k++)
            has_pre |= pre_factor(m, k);
        if (m->wpow > 1 || (m->wpow == 1 && has_pre))
            ok = false;
    }
    if (!ok || c->failed) {
        free(all);
        return false;
    }
    /* Groups: products with the same pre part share one rank-1 term per trial. */
    int group[MAX_MONOS], ngroups = 0, first[MAX_MONOS];
    for (int i = 0; i < all->n; i++) {
        group[i] = -1;
        if (all->v[i].wpow)
            continue;
        for (int g = 0; g < ngroups && group[i] < 0; g++)
            if (same_pre(&all->v[first[g]], &all->v[i]))
                group[i] = g;
        if (group[i] < 0) {
            first[ngroups] = i;
            group[i] = ngroups++;
        }
    }
    /* Post program: a (the coefficient of w), then u of each group. */
    ps->has_a = false;
    int a = 0;
    for (int i = 0; i < all->n; i++)
        if (all->v[i].wpow) {
            int r = compile_part(c, &all->v[i], false, all->v[i].coef * ps->scale);
            a = ps->has_a ? emit(c, OP_ADD, NULL, 2, a, r, 0) : r;
            ps->has_a = true;
        }
    if (ps->has_a)
        output(c, a);
    for (int g = 0; g < ngroups; g++) {
        int u = 0;
        bool have = false;
        for (int i = 0; i < all->n; i++)
            if (group[i] == g) {
                int r = compile_part(c, &all->v[i], false, all->v[i].coef * ps->scale);
                u = have ? emit(c, OP_ADD, NULL, 2, u, r, 0) : r;
                have = true;
            }
        output(c, u);
    }
    ps->post_prog = finish_prog(c, DOM_POST);
    /* Pre program: v of each group, unless it is a vec as it stands (pre) or 1. */
    ps->ngroups = ngroups;
    ps->group_vec = xmalloc((size_t)(ngroups + 1) * sizeof *ps->group_vec);
    for (int g = 0; g < ngroups; g++) {
        const Mono *m = &all->v[first[g]];
        int npre = 0, only = -1;
        for (int k = 0; k < m->nf; k++)
            if (pre_factor(m, k))
                npre++, only = k;
        ps->group_vec[g] = -1;
        if (npre == 0) {
            Vec ones = { VEC_ONES, SIDE_PRE, intern_cstr("1"), ps->n_pre, NULL, -1, -1, -1 };
            ps->group_vec[g] = add_vec(ps, ones);
            continue;
        }
        if (npre == 1 && !m->inv[only] && m->f[only]->kind == AST_NAME) {
            Sym s = lookup(c, m->f[only]);
            if (s.kind == SYM_VEC) {
                ps->group_vec[g] = s.vec;
                continue;
            }
        }
        output(c, compile_part(c, m, true, 1));
    }
    ps->pre_prog = finish_prog(c, DOM_PRE);
    free(all);
    return !c->failed;
}

/* ---- building -------------------------------------------------------------- */

static const Node *plastic_item(const ModelSyn *syn)
{
    const Node *st = syn->decl->node;
    for (int i = 0; i < st->body.n; i++)
        if (st->body.v[i]->kind == AST_PLASTIC)
            return st->body.v[i];
    return NULL;
}

/* Reads the rule's statements: traces, the weight change, constraints. */
static bool read_rule(Comp *c)
{
    PSyn *ps = c->ps;
    const Node *decl = ps->rule->node;
    bool ok = true;
    double coef_w = 0;
    for (int i = 0; i < decl->body.n && ok; i++) {
        const Node *st = decl->body.v[i];
        switch (st->kind) {
        case AST_EQUATION: {
            const Node *lhs = st->a;
            const Node *dv = lhs->kind == AST_DERIV ? lhs : NULL, *coef = NULL;
            if (!dv && lhs->kind == AST_BINARY && lhs->op == '*') {
                if (lhs->a->kind == AST_DERIV)
                    dv = lhs->a, coef = lhs->b;
                else if (lhs->b->kind == AST_DERIV)
                    dv = lhs->b, coef = lhs->a;
            }
            if (is(lhs, "dw") || (dv && dv->name == intern_cstr("w"))) {
                double k = 1;
                if (coef && (!const_eval(c, coef, &k) || k == 0)) {
                    fail_at(c, coef->span, "the factor of dw/dt must be a nonzero constant, such as tau_w");
                    ok = false;
                    break;
                }
                double this_coef = dv ? 1 / k : 0;
                if (ps->ndw && this_coef != coef_w) {
                    fail_at(c, st->span, "a rule changes w in one form: dw = ... or tau_w * dw/dt = ..., not both");
                    ok = false;
                    break;
                }
                coef_w = this_coef;
                ps->dw = xrealloc(ps->dw, (size_t)(ps->ndw + 1) * sizeof *ps->dw);
                ps->dw[ps->ndw++] = st->b;
            } else if (dv || lhs->kind == AST_NEXT) {
                Trace tr = { .name = dv ? dv->name : lhs->name, .rhs = st->b, .coef = coef, .next = !dv };
                ps->traces = xrealloc(ps->traces, (size_t)(ps->ntraces + 1) * sizeof *ps->traces);
                ps->traces[ps->ntraces++] = tr;
            }
            break;
        }
        case AST_TRACE: {
            if (st->list.n && st->list.v[0]) {
                if (!c->failed) {
                    diag_error(c->d, ps->at, "rule %s responds to spikes ('on %s spike'), and spiking networks are not built into this version of cajal",
                               ps->rule->name, st->list.v[0]->name);
                    diag_note(c->d, st->list.v[0]->span, "the spike event is here");
                }
                c->failed = true;
                ok = false;
                break;
            }
            const Node *lhs = st->a->a;
            const Node *coef = lhs->kind == AST_BINARY ? (lhs->a->kind == AST_DERIV ? lhs->b : lhs->a) : NULL;
            Trace tr = { .name = st->name, .rhs = st->a->b, .coef = coef, .next = false };
            ps->traces = xrealloc(ps->traces, (size_t)(ps->ntraces + 1) * sizeof *ps->traces);
            ps->traces[ps->ntraces++] = tr;
            break;
        }
        case AST_ON:
            if (!c->failed) {
                diag_error(c->d, ps->at, "rule %s responds to spikes ('on %s spike'), and spiking networks are not built into this version of cajal",
                           ps->rule->name, st->name);
                diag_note(c->d, st->span, "the spike event is here");
            }
            c->failed = true;
            ok = false;
            break;
        case AST_EXPR_STMT:
        case AST_CONSTRAIN: {
            Constraint k = { 0 };
            const Node *e = st->a;
            if (st->kind == AST_EXPR_STMT) {
                double lo, hi;
                if (e->list.n != 3 || !(is(e->list.v[0], "w")) || !const_eval(c, e->list.v[1], &lo) || !const_eval(c, e->list.v[2], &hi)) {
                    fail_at(c, e->span, "clip in a rule reads clip(w, lo, hi) with constant bounds");
                    ok = false;
                    break;
                }
                if (lo > hi) {
                    /* the clamp would put every weight at lo, outside [lo, hi] */
                    char msg[160];
                    snprintf(msg, sizeof msg, "clip needs lo <= hi, here %.15g > %.15g", lo, hi);
                    bool first = !c->failed;
                    fail_at(c, e->span, msg);
                    if (first && (e->list.v[1]->kind != AST_NUMBER || e->list.v[2]->kind != AST_NUMBER))
                        diag_note(c->d, ps->at, "synapse %s gives %s its bounds here", ps->syn->name, ps->rule->name);
                    ok = false;
                    break;
                }
                k = (Constraint){ CON_CLIP, (real)lo, (real)hi };
            } else {
                const Node *norm = st->b ? e : e->kind == AST_BINARY && e->op == AOP_LE ? e->a : NULL;
                const Node *val = st->b ? st->b : norm ? e->b : NULL;
                double x;
                bool l1 = norm && norm->kind == AST_CALL && is(norm->a, "l1"), l2 = norm && norm->kind == AST_CALL && is(norm->a, "l2");
                if (!(l1 || l2) || norm->list.n != 1 || !(is(norm->list.v[0], "w") || is(norm->list.v[0], "row")) ||
                    !const_eval(c, val, &x) || x < 0) {
                    fail_at(c, st->span, "a constraint reads constrain l1(w) <= omega, constrain l2(row) = 1 (or <=), with a constant that is not negative");
                    ok = false;
                    break;
                }
                k.kind = l1 ? (st->b ? CON_L1_EQ : CON_L1_LE) : (st->b ? CON_L2_EQ : CON_L2_LE);
                k.hi = (real)x;
            }
            ps->cons = xrealloc(ps->cons, (size_t)(ps->ncons + 1) * sizeof *ps->cons);
            ps->cons[ps->ncons++] = k;
            break;
        }
        default:
            break;
        }
    }
    if (ok && !ps->ndw && !ps->ncons)
        return fail_at(c, ps->at, "this rule does not change w: write dw = ... or tau_w * dw/dt = ...");
    ps->scale = (coef_w ? (double)ps->every * c->pl->spec.dt * coef_w : 1.0) / (double)c->pl->spec.batch;
    return ok && !c->failed;
}

/* Each trace's side: the join of what its equation reads, at least one per trial. */
static void trace_sides(Comp *c)
{
    PSyn *ps = c->ps;
    for (int i = 0; i < ps->ntraces; i++) {
        Vec v = { VEC_TRACE, SIDE_TRIAL, ps->traces[i].name, 1, NULL, -1, -1, -1 };
        ps->traces[i].vec = add_vec(ps, v);
    }
    for (int round = 0; round <= ps->ntraces; round++) {
        bool changed = false;
        for (int i = 0; i < ps->ntraces; i++) {
            Vec *v = &ps->vecs[ps->traces[i].vec];
            Side s = join(v->side, join(SIDE_TRIAL, side_of(c, ps->traces[i].rhs)));
            if (c->diag && s > SIDE_TRIAL)
                s = SIDE_POST;
            if (s != v->side) {
                v->side = s;
                changed = true;
            }
        }
        if (!changed)
            break;
    }
    for (int i = 0; i < ps->ntraces; i++) {
        Vec *v = &ps->vecs[ps->traces[i].vec];
        v->n = side_len(ps, v->side);
    }
}

static Domain side_domain(const PSyn *ps, Side s)
{
    switch (s) {
    case SIDE_POST: return DOM_POST;
    case SIDE_PRE: return DOM_PRE;
    case SIDE_SYN: return ps->csr ? DOM_CSR : DOM_GRID;
    default: return DOM_TRIAL;
    }
}

static void compile_traces(Comp *c)
{
    PSyn *ps = c->ps;
    for (int i = 0; i < ps->ntraces && !c->failed; i++) {
        Trace *tr = &ps->traces[i];
        int x = add_input(c, (Operand){ OPD_VEC, tr->vec, 0 });
        int rhs = compile(c, tr->rhs);
        int next = rhs;
        if (!tr->next) {
            double k = 1;
            if (tr->coef && (!const_eval(c, tr->coef, &k) || k == 0)) {
                fail_at(c, tr->coef->span, "the factor of a trace's derivative must be a nonzero constant, such as tau");
                return;
            }
            next = emit(c, OP_ADD, NULL, 2, x, emit(c, OP_MUL, NULL, 2, rhs, constant(c, c->pl->spec.dt / k), 0), 0);
        }
        output(c, next);
        tr->prog = finish_prog(c, side_domain(ps, ps->vecs[tr->vec].side));
    }
}

/* The general form: stage += scale * dw over the grid (or per trial on a diagonal). */
static void compile_general(Comp *c)
{
    PSyn *ps = c->ps;
    int dw = 0;
    for (int k = 0; k < ps->ndw; k++) {
        int r = compile(c, ps->dw[k]);
        dw = k ? emit(c, OP_ADD, NULL, 2, dw, r, 0) : r;
    }
    if (!ps->ndw)
        dw = constant(c, 0);
    int scaled = emit(c, OP_MUL, NULL, 2, dw, constant(c, ps->scale), 0);
    if (ps->path == PATH_DIAG) {
        output(c, scaled);
        ps->dw_prog = finish_prog(c, DOM_POST);
    } else {
        int stage = add_input(c, (Operand){ OPD_STAGE, -1, 0 });
        output(c, emit(c, OP_ADD, NULL, 2, stage, scaled, 0));
        ps->dw_prog = finish_prog(c, ps->csr ? DOM_CSR : DOM_GRID);
    }
}

static void comp_fini(Comp *c)
{
    free(c->opd);
    free(c->code);
    free(c->outs);
}

static bool build_syn(Plasticity *pl, const ModelSyn *syn, const Node *item, PSyn *ps)
{
    const Model *m = pl->m;
    const Env *env = pl->env;
    const Node *call = item->a;
    const Node *callee = call->kind == AST_CALL ? call->a : call;
    memset(ps, 0, sizeof *ps);
    ps->syn = syn;
    ps->item = item;
    ps->at = call->span;
    ps->name = syn->name;
    ps->fused_step = -1;
    ps->rule = env_lookup(env, callee->name);
    if (!ps->rule || ps->rule->kind != D_PLASTICITY) {
        diag_error(pl->d, callee->span, "unknown plasticity rule '%s'", callee->name);
        return false;
    }
    if (syn->rank) {
        diag_error(pl->d, ps->at, "rule %s cannot keep synapse %s at rank %lld: each change adds a full-rank term to m n^T / N",
                   ps->rule->name, syn->name, (long long)syn->rank);
        diag_hint(pl->d, "give %s dense weights (w ~ ...) to make it plastic", syn->name);
        return false;
    }
    ps->param = &m->params[syn->w];
    ps->w = ps->param->value->data;
    ps->csr = ps->param->csr;
    ps->mask = ps->param->mask ? ps->param->mask->data : NULL;
    int64_t n_pre = syn->pre.kind == PORT_POP ? m->pops[syn->pre.index].n : syn->pre.kind == PORT_INPUT ? m->inputs[syn->pre.index].n
                                                                                                      : m->outputs[syn->pre.index].n;
    int64_t n_post = syn->post.kind == PORT_POP ? m->pops[syn->post.index].n : syn->post.kind == PORT_OUTPUT
                                                                                   ? m->outputs[syn->post.index].n
                                                                                   : m->inputs[syn->post.index].n;
    ps->n_pre = n_pre;
    ps->n_post = n_post;
    ps->ldw = n_pre;
    ps->nw = ps->csr ? ps->csr->nnz : syn->one_to_one ? n_post : n_post * n_pre;
    if (syn->block >= 0) {
        ps->block = &m->blocks[syn->block];
        for (int k = 0; k < ps->block->nmembers; k++)
            if (ps->block->members[k] == syn->w)
                ps->row0 = ps->block->row0[k];
    }
    /* Arguments, bound as the checker bound them. */
    const ModelInfo *info = ps->rule->info;
    const Node **args = xcalloc((size_t)info->nparams + 1, sizeof *args);
    Node empty = { .kind = AST_CALL, .span = call->span };
    ParamList params = { info->params, info->nparams, false };
    bool ok = builtin_bind(ps->rule->name, params, call->kind == AST_CALL ? call : &empty, args, pl->d);
    ps->argval = xcalloc((size_t)info->nparams + 1, sizeof *ps->argval);
    for (int i = 0; ok && i < info->nparams; i++) {
        ps->argval[i] = args[i] ? check_number(env, args[i]) : NAN;
        if (isnan(ps->argval[i]) && !(args[i] && args[i]->kind == AST_NAME)) {
            diag_error(pl->d, args[i] ? args[i]->span : ps->at, "the parameter %s of rule %s must be a number", info->params[i].name,
                       ps->rule->name);
            ok = false;
        }
    }
    free(args);
    ps->every = 1;
    if (ok && item->b) {
        double k = check_number(env, item->b);
        ps->every = k >= 1 ? (int64_t)k : 1;
    }
    if (!ok)
        return false;

    /* The sides' values. */
    const char *pre_name = syn->pre.kind == PORT_POP ? NULL : syn->pre.kind == PORT_INPUT ? m->inputs[syn->pre.index].name
                                                                                          : m->outputs[syn->pre.index].name;
    char buf[256];
    if (syn->pre.kind == PORT_POP) {
        const ModelPop *p = &m->pops[syn->pre.index];
        snprintf(buf, sizeof buf, "%s.%s", p->name, p->info->out ? p->info->out : p->info->vars[0].name);
        pre_name = buf;
    }
    Vec pre = { VEC_NODE, syn->one_to_one ? SIDE_POST : SIDE_PRE, intern_cstr("pre"), n_pre, NULL, graph_find(pl->g, pre_name), -1, -1 };
    char buf2[256];
    const char *post_name = buf2;
    if (syn->post.kind == PORT_POP) {
        const ModelPop *p = &m->pops[syn->post.index];
        snprintf(buf2, sizeof buf2, "%s.%s", p->name, p->info->out ? p->info->out : p->info->vars[0].name);
    } else {
        post_name = syn->post.kind == PORT_OUTPUT ? m->outputs[syn->post.index].name : m->inputs[syn->post.index].name;
    }
    Vec post = { VEC_NODE, SIDE_POST, intern_cstr("post"), n_post, NULL, graph_find(pl->g, post_name), -1, -1 };
    if (pre.node < 0 || post.node < 0) {
        diag_error(pl->d, ps->at, "synapse %s: there is no value of %s to run its rule on", syn->name, pre.node < 0 ? pre_name : post_name);
        return false;
    }
    ps->pre = add_vec(ps, pre);
    ps->post = add_vec(ps, post);

    Comp c = { .pl = pl, .ps = ps, .info = info, .d = pl->d, .diag = syn->one_to_one };
    ok = read_rule(&c);
    if (ok)
        trace_sides(&c);
    if (ok && !c.failed) {
        bool syn_trace = false;
        for (int i = 0; i < ps->ntraces; i++)
            syn_trace |= ps->vecs[ps->traces[i].vec].side == SIDE_SYN;
        if (syn->one_to_one)
            ps->path = PATH_DIAG;
        else if (!syn_trace && factor_rule(&c))
            ps->path = PATH_FACTORED;
        else if (!c.failed)
            ps->path = PATH_GRID;
        if (!c.failed && ps->path != PATH_FACTORED) {
            c.nopd = c.ncode = c.nouts = 0;
            compile_general(&c);
        }
        if (!c.failed)
            compile_traces(&c);
    }
    comp_fini(&c);
    return ok && !c.failed;
}

static bool uses_tensor(const Graph *g, int node, const Tensor *t)
{
    return node >= 0 && g->nodes[node].kind == G_PARAM && g->nodes[node].tensor == t;
}

Plasticity *plasticity_new(const Model *m, const Env *env, const Graph *g, const PlasticitySpec *spec, Diags *d, Span at, bool *ok)
{
    *ok = true;
    int n = 0;
    for (int k = 0; k < m->nsyns; k++)
        n += plastic_item(&m->syns[k]) != NULL;
    if (!n)
        return NULL;
    Plasticity *pl = xcalloc(1, sizeof *pl);
    pl->m = m;
    pl->env = env;
    pl->g = g;
    pl->spec = *spec;
    pl->spec.no_fuse |= plasticity_blas_only;
    if (pl->spec.batch < 1)
        pl->spec.batch = 1;
    pl->d = d;
    pl->at = at;
    pl->syns = xcalloc((size_t)n, sizeof *pl->syns);
    for (int k = 0; k < m->nsyns && *ok; k++) {
        const Node *item = plastic_item(&m->syns[k]);
        if (!item)
            continue;
        *ok = build_syn(pl, &m->syns[k], item, &pl->syns[pl->nsyns]);
        pl->nsyns++;
    }
    if (!*ok) {
        plasticity_free(pl);
        return NULL;
    }
    /* What the plan must keep at every step. */
    for (int s = 0; s < pl->nsyns; s++) {
        const PSyn *ps = &pl->syns[s];
        for (int i = 0; i < ps->nvecs; i++) {
            const Vec *v = &ps->vecs[i];
            int nodes[3] = { v->node, v->kind == VEC_ERROR ? v->target : -1, v->kind == VEC_ERROR ? v->mask : -1 };
            for (int k = 0; k < 3; k++)
                if (nodes[k] >= 0) {
                    pl->wanted = xrealloc(pl->wanted, (size_t)(pl->nwanted + 1) * sizeof *pl->wanted);
                    pl->wanted[pl->nwanted++] = nodes[k];
                }
        }
    }
    /* The parameter nodes the rules change. */
    for (int i = 0; i < g->n; i++)
        for (int s = 0; s < pl->nsyns; s++) {
            const PSyn *ps = &pl->syns[s];
            if (uses_tensor(g, i, ps->block ? ps->block->value : ps->param->value)) {
                pl->changing = xrealloc(pl->changing, (size_t)(pl->nchanging + 1) * sizeof *pl->changing);
                pl->changing[pl->nchanging++] = i;
                break;
            }
        }
    return pl;
}

int plasticity_changing(const Plasticity *pl, const int **nodes)
{
    *nodes = pl ? pl->changing : NULL;
    return pl ? pl->nchanging : 0;
}

int plasticity_wanted(const Plasticity *pl, const int **nodes)
{
    *nodes = pl ? pl->wanted : NULL;
    return pl ? pl->nwanted : 0;
}

int plasticity_count(const Plasticity *pl) { return pl ? pl->nsyns : 0; }

void plasticity_free(Plasticity *pl)
{
    if (!pl)
        return;
    for (int s = 0; s < pl->nsyns; s++) {
        PSyn *ps = &pl->syns[s];
        for (int i = 0; i < ps->nvecs; i++)
            tensor_free_real(ps->vecs[i].data);
        for (int i = 0; i < ps->ntraces; i++)
            prog_fini(&ps->traces[i].prog);
        prog_fini(&ps->post_prog);
        prog_fini(&ps->pre_prog);
        prog_fini(&ps->dw_prog);
        free(ps->vecs);
        free(ps->traces);
        free(ps->dw);
        free(ps->cons);
        free(ps->argval);
        free(ps->group_vec);
        free(ps->vmat);
        free(ps->vmax);
        free(ps->hoisted);
        free(ps->rerun);
        tensor_free_real(ps->a);
        tensor_free_real(ps->abar);
        tensor_free_real(ps->u);
        tensor_free_real(ps->v);
        tensor_free_real(ps->stage);
        tensor_free_real(ps->gather);
        tensor_free_real(ps->backup);
        tensor_free_real(ps->hist);
        tensor_free_real(ps->final);
    }
    free(pl->syns);
    free(pl->wanted);
    free(pl->changing);
    free(pl->step_block);
    tensor_free_real(pl->scratch);
    free(pl);
}

/* ---- binding to the plan ------------------------------------------------------ */

static real *alloc_reals(const PSyn *ps, int64_t count, const char *what, Diags *d, Span at, bool *ok)
{
    if (!*ok)
        return NULL;
    if (count < 1)
        count = 1;
    double bytes = (double)count * (double)sizeof(real);
    if (bytes > (double)tensor_max_bytes) {
        diag_error(d, at, "the rule on synapse %s needs %.1f GB for %s, more than the limit of %.1f GB", ps->name, bytes / 1e9, what,
                   (double)tensor_max_bytes / 1e9);
        *ok = false;
        return NULL;
    }
    real *p = tensor_alloc_real(count);
    if (!p) {
        diag_error(d, at, "out of memory allocating %.1f MB for %s of the rule on synapse %s", bytes / 1e6, what, ps->name);
        *ok = false;
    }
    return p;
}

/* Finds the products of ps in the plan: hoisted ones to recompute, and the
 * loop step the fused kernel may take over. */
static void find_sites(Plasticity *pl, PSyn *ps)
{
    const Graph *g = pl->g;
    const Plan *plan = pl->plan;
    for (int i = 0; i < g->n; i++) {
        const GNode *n = &g->nodes[i];
        if (!plan->live[i] || n->kind != G_OP)
            continue;
        int out = -1, x = -1;
        if (ps->block && n->op == OP_LINEAR && uses_tensor(g, n->in[1], ps->block->value)) {
            x = n->in[0];
            if (ps->block->nmembers == 1) {
                out = i;
            } else {
                for (int j = i + 1; j < g->n && out < 0; j++)
                    if (plan->live[j] && g->nodes[j].kind == G_OP && g->nodes[j].op == OP_SLICE && g->nodes[j].in[0] == i &&
                        g->nodes[j].attr.start == ps->row0)
                        out = j;
            }
        } else if (ps->csr && n->op == OP_CSR_LINEAR && uses_tensor(g, n->in[1], ps->param->value)) {
            x = n->in[0], out = i;
        } else if (ps->syn->one_to_one && n->op == OP_MUL && (uses_tensor(g, n->in[0], ps->param->value) || uses_tensor(g, n->in[1], ps->param->value))) {
            x = uses_tensor(g, n->in[0], ps->param->value) ? n->in[1] : n->in[0], out = i;
        }
        if (x < 0)
            continue;
        if (plan->seg[i] == SEG_HOIST) {
            if (out >= 0 && plan->ref[out].buf >= 0) {
                ps->hoisted = xrealloc(ps->hoisted, (size_t)(ps->nhoisted + 1) * sizeof *ps->hoisted);
                ps->hoisted[ps->nhoisted++] = (Hoisted){ out, x };
            }
        } else if (plan->seg[i] == SEG_LOOP) {
            ps->loop_site = true;
            if (ps->block && ps->path == PATH_FACTORED)
                for (int s = 0; s < plan->nsteps; s++)
                    if (plan->steps[s].kind == STEP_OP && plan->steps[s].node == i && (ps->fused_step < 0 || s < ps->fused_step))
                        ps->fused_step = s;
        }
    }
    if (pl->spec.store || pl->spec.no_fuse || pl->spec.batch > FUSE_MAX_BATCH)
        ps->fused_step = -1;
    /* The hoisted steps that read a recomputed product, directly or not. */
    if (!ps->nhoisted)
        return;
    bool *dep = xcalloc((size_t)g->n + 1, 1);
    for (int h = 0; h < ps->nhoisted; h++)
        dep[ps->hoisted[h].out] = true;
    for (int i = 0; i < g->n; i++) {
        const GNode *n = &g->nodes[i];
        if (dep[i] || !plan->live[i] || n->kind != G_OP || plan->seg[i] != SEG_HOIST)
            continue;
        for (int k = 0; k < n->nin && !dep[i]; k++)
            dep[i] = dep[n->in[k]];
    }
    for (int s = 0; s < plan->nsteps; s++) {
        const PlanStep *st = &plan->steps[s];
        if (st->kind != STEP_OP || st->seg != SEG_HOIST || !dep[st->node])
            continue;
        bool site = false;
        for (int h = 0; h < ps->nhoisted; h++)
            site |= ps->hoisted[h].out == st->node;
        if (site)
            continue;
        ps->rerun = xrealloc(ps->rerun, (size_t)(ps->nrerun + 1) * sizeof *ps->rerun);
        ps->rerun[ps->nrerun++] = s;
    }
    free(dep);
}

static int64_t prog_scratch(const Prog *p) { return p->p.code ? fused_scratch_size(&p->p, false) : 0; }

bool plasticity_bind(Plasticity *pl, Plan *plan, Diags *d, Span at)
{
    pl->plan = plan;
    const int64_t B = pl->spec.batch;
    bool ok = true;
    int64_t scratch = OPS_BLOCK;
    pl->step_block = xmalloc((size_t)(plan->nsteps + 1) * sizeof *pl->step_block);
    for (int s = 0; s < plan->nsteps; s++)
        pl->step_block[s] = -1;
    for (int s = 0; s < pl->nsyns && ok; s++) {
        PSyn *ps = &pl->syns[s];
        for (int i = 0; i < ps->nvecs && ok; i++) {
            Vec *v = &ps->vecs[i];
            if (v->node >= 0 && !plan_value(plan, v->node, 0, NULL, NULL)) {
                diag_error(d, at, "internal: the plan does not keep %s, which the rule on %s reads", pl->g->nodes[v->node].label ? pl->g->nodes[v->node].label : "a value", ps->name);
                ok = false;
            }
            v->data = alloc_reals(ps, B * v->n, "its values", d, at, &ok);
            if (ok && v->kind == VEC_ONES)
                for (int64_t k = 0; k < B * v->n; k++)
                    v->data[k] = 1;
        }
        Prog *progs[] = { &ps->post_prog, &ps->pre_prog, &ps->dw_prog };
        for (int k = 0; k < 3; k++)
            if (prog_scratch(progs[k]) > scratch)
                scratch = prog_scratch(progs[k]);
        for (int k = 0; k < ps->ntraces; k++)
            if (prog_scratch(&ps->traces[k].prog) > scratch)
                scratch = prog_scratch(&ps->traces[k].prog);
        if (ps->path == PATH_FACTORED) {
            int G = ps->ngroups;
            ps->a = alloc_reals(ps, B * ps->n_post, "its factors", d, at, &ok);
            ps->abar = alloc_reals(ps, ps->n_post, "its factors", d, at, &ok);
            ps->u = alloc_reals(ps, G * B * ps->n_post, "its factors", d, at, &ok);
            ps->v = alloc_reals(ps, G * B * ps->n_pre, "its factors", d, at, &ok);
            ps->vmat = xcalloc((size_t)G + 1, sizeof *ps->vmat);
            ps->vmax = xcalloc((size_t)(G * B) + 1, sizeof *ps->vmax);
            int k = 0;
            for (int gi = 0; ok && gi < G; gi++)
                ps->vmat[gi] = ps->group_vec[gi] >= 0 ? ps->vecs[ps->group_vec[gi]].data : ps->v + (int64_t)(k++) * B * ps->n_pre;
        } else {
            int64_t n = ps->path == PATH_DIAG ? B * ps->n_post : ps->nw;
            ps->stage = alloc_reals(ps, n, "its staged weights", d, at, &ok);
            if (ps->csr) {
                for (int64_t i = 0; i < ps->csr->rows; i++)
                    if (ps->csr->row_ptr[i + 1] - ps->csr->row_ptr[i] > ps->max_row)
                        ps->max_row = ps->csr->row_ptr[i + 1] - ps->csr->row_ptr[i];
                int nregs = ps->dw_prog.p.nin;
                for (int k = 0; k < ps->ntraces; k++)
                    if (ps->traces[k].prog.p.nin > nregs)
                        nregs = ps->traces[k].prog.p.nin;
                ps->gather = alloc_reals(ps, (int64_t)nregs * ps->max_row, "gathered values", d, at, &ok);
            }
        }
        ps->backup = alloc_reals(ps, ps->nw, "a copy of its weights", d, at, &ok);
        if (!ok)
            break;
        find_sites(pl, ps);
        if (ps->fused_step >= 0)
            pl->step_block[ps->fused_step] = ps->syn->block;
        if (pl->spec.store && ps->loop_site) {
            ps->nhist = pl->spec.steps / ps->every + 1;
            ps->hist = alloc_reals(ps, ps->nhist * ps->nw, "its weights at every change (for the backward pass)", d, at, &ok);
            ps->final = alloc_reals(ps, ps->nw, "its final weights", d, at, &ok);
        }
    }
    if (ok)
        pl->scratch = tensor_alloc_real(scratch);
    return ok && pl->scratch;
}

/* ---- running: operands, snapshots ----------------------------------------------- */

/* Input operands of prog for one execution: trial b, and row i on a CSR row. */
static void operands(Plasticity *pl, PSyn *ps, const Prog *pr, int64_t b, int64_t i, FusedOperand *fo)
{
    const Domain dom = pr->dom;
    for (int k = 0; k < pr->p.nin; k++) {
        const Operand *o = &pr->opd[k];
        FusedOperand *f = &fo[k];
        *f = (FusedOperand){ OPERAND_SCALAR, NULL, 0, NULL };
        switch (o->kind) {
        case OPD_CONST:
            f->data = (real *)&o->value;
            break;
        case OPD_TIME:
            f->data = &pl->now;
            break;
        case OPD_W:
            if (dom == DOM_GRID)
                f->mode = OPERAND_FULL, f->data = ps->w, f->ld = ps->ldw;
            else if (dom == DOM_CSR)
                f->mode = OPERAND_ROW, f->data = ps->w + ps->csr->row_ptr[i];
            else
                f->mode = OPERAND_ROW, f->data = ps->w;   /* one_to_one over [B, n] */
            break;
        case OPD_STAGE:
            if (dom == DOM_GRID)
                f->mode = OPERAND_FULL, f->data = ps->stage, f->ld = ps->n_pre;
            else
                f->mode = OPERAND_ROW, f->data = ps->stage + ps->csr->row_ptr[i];
            break;
        case OPD_VEC: {
            const Vec *v = &ps->vecs[o->vec];
            Side s = v->side;
            if (ps->syn->one_to_one && s > SIDE_TRIAL)
                s = SIDE_POST;
            if (dom == DOM_TRIAL || dom == DOM_POST || dom == DOM_PRE) {
                if (s == SIDE_TRIAL && dom != DOM_TRIAL)
                    f->mode = OPERAND_COLUMN, f->data = v->data, f->ld = 1;
                else
                    f->mode = OPERAND_FULL, f->data = v->data, f->ld = v->n;
            } else if (dom == DOM_GRID) {
                if (s == SIDE_TRIAL)
                    f->data = v->data + b;
                else if (s == SIDE_POST)
                    f->mode = OPERAND_COLUMN, f->data = v->data + b * v->n, f->ld = 1;
                else if (s == SIDE_PRE)
                    f->mode = OPERAND_ROW, f->data = v->data + b * v->n;
                else
                    f->mode = OPERAND_FULL, f->data = v->data + b * v->n, f->ld = ps->n_pre;
            } else {   /* a CSR row: pre values gathered at the row's columns */
                int64_t p0 = ps->csr->row_ptr[i], len = ps->csr->row_ptr[i + 1] - p0;
                if (s == SIDE_TRIAL) {
                    f->data = v->data + b;
                } else if (s == SIDE_POST) {
                    f->data = v->data + b * v->n + i;
                } else if (s == SIDE_PRE) {
                    real *dst = ps->gather + (int64_t)k * ps->max_row;
                    const real *src = v->data + b * v->n;
                    for (int64_t q = 0; q < len; q++)
                        dst[q] = src[ps->csr->col_idx[p0 + q]];
                    f->mode = OPERAND_ROW, f->data = dst;
                } else {
                    f->mode = OPERAND_ROW, f->data = v->data + b * v->n + p0;
                }
            }
            break;
        }
        }
    }
}

/* Runs pr over its domain, trial by trial where the domain is per trial. */
static void run_prog(Plasticity *pl, PSyn *ps, Prog *pr, int64_t b, int64_t i, int64_t rows, int64_t n, FusedOperand *out)
{
    FusedOperand in[pr->p.nin + 1];
    operands(pl, ps, pr, b, i, in);
    pr->p.rows = rows;
    pr->p.n = n;
    fused_fwd(&pr->p, in, out, pl->scratch);
}

/* Copies graph value `node` at step t into [B, n], repeating what is shared. */
static void snapshot(Plasticity *pl, Vec *v, int64_t t)
{
    const int64_t B = pl->spec.batch;
    const GNode *gn = &pl->g->nodes[v->node];
    int64_t ld, rows;
    const real *src = plan_value(pl->plan, v->node, t, &ld, &rows);
    int64_t width = row_len(gn);
    for (int64_t b = 0; b < B; b++) {
        const real *row = src + (gn->batched && rows > 1 ? b * ld : 0);
        real *dst = v->data + b * v->n;
        if (width == v->n)
            memcpy(dst, row, (size_t)v->n * sizeof(real));
        else
            for (int64_t k = 0; k < v->n; k++)
                dst[k] = row[0];
    }
}

static void read_signals(Plasticity *pl, PSyn *ps, int64_t t)
{
    const int64_t B = pl->spec.batch;
    for (int i = 0; i < ps->nvecs; i++) {
        Vec *v = &ps->vecs[i];
        if (v->kind == VEC_NODE) {
            snapshot(pl, v, t);
        } else if (v->kind == VEC_ERROR) {
            snapshot(pl, v, t);
            int64_t ld;
            const real *tgt = plan_value(pl->plan, v->target, t, &ld, NULL);
            const real *mask = v->mask >= 0 && pl->plan->ref[v->mask].buf >= 0 ? plan_value(pl->plan, v->mask, t, NULL, NULL) : NULL;
            for (int64_t b = 0; b < B; b++)
                for (int64_t k = 0; k < v->n; k++) {
                    real e = v->data[b * v->n + k] - tgt[b * ld + k];
                    v->data[b * v->n + k] = mask ? e * mask[b * ld + k] : e;
                }
        } else if (v->kind == VEC_REWARD) {
            const CostSet *cs = pl->spec.costs;
            double r = 0;
            for (int k = 0; k < cs->n; k++)
                if (!cs->terms[k].constant && pl->spec.cost_weights[k * pl->spec.steps + t] != 0)
                    r -= *plan_value(pl->plan, cs->terms[k].node, t, NULL, NULL);
            for (int64_t b = 0; b < B; b++)
                v->data[b] = (real)r;
        }
    }
}

/* ---- running: constraints and checks -------------------------------------------- */

static bool all_finite(const real *x, int64_t n)
{
    for (int64_t k = 0; k < n; k++)
        if (!isfinite(x[k]))
            return false;
    return true;
}

static double max_abs(const real *x, int64_t n)
{
    double m = 0;
    for (int64_t k = 0; k < n; k++)
        if (fabs((double)x[k]) > m)
            m = fabs((double)x[k]);
    return m;
}

/* The synapse's own constraints and the rule's, on one row of len weights
 * (the weights of post neuron i). */
static void constrain_row(const PSyn *ps, int64_t i, real *row, int64_t len, const real *mask)
{
    if (ps->syn->sign)
        for (int64_t j = 0; j < len; j++)
            if (!(row[j] > 0))
                row[j] = 0;
    if (mask)
        for (int64_t j = 0; j < len; j++)
            row[j] *= mask[j];
    if (ps->param->no_self && !ps->csr && !ps->syn->one_to_one && i < len)
        row[i] = 0;
    for (int k = 0; k < ps->ncons; k++) {
        const Constraint *c = &ps->cons[k];
        if (c->kind == CON_CLIP) {
            for (int64_t j = 0; j < len; j++)
                row[j] = row[j] < c->lo ? c->lo : row[j] > c->hi ? c->hi : row[j];
            continue;
        }
        bool l1 = c->kind == CON_L1_LE || c->kind == CON_L1_EQ;
        double big = max_abs(row, len), norm = 0;
        if (big > 0) {
            for (int64_t j = 0; j < len; j++) {
                double x = (double)row[j] / big;
                norm += l1 ? fabs(x) : x * x;
            }
            norm = big * (l1 ? norm : sqrt(norm));
        }
        bool eq = c->kind == CON_L1_EQ || c->kind == CON_L2_EQ;
        if (norm > 0 && (eq ? norm != c->hi : norm > c->hi)) {
            real s = (real)(c->hi / norm);
            for (int64_t j = 0; j < len; j++)
                row[j] *= s;
        }
    }
}

/* Applies constraints to every row of the weights w (laid out as ps's). */
static void constrain_all(const PSyn *ps, real *w, int64_t ldw)
{
    if (ps->syn->one_to_one) {
        for (int64_t i = 0; i < ps->n_post; i++)
            constrain_row(ps, i, w + i, 1, NULL);
    } else if (ps->csr) {
        for (int64_t i = 0; i < ps->n_post; i++) {
            int64_t p0 = ps->csr->row_ptr[i];
            constrain_row(ps, i, w + p0, ps->csr->row_ptr[i + 1] - p0, NULL);
        }
    } else {
        for (int64_t i = 0; i < ps->n_post; i++)
            constrain_row(ps, i, w + i * ldw, ps->n_pre, ps->mask ? ps->mask + i * ps->n_pre : NULL);
    }
}

static bool has_constraints(const PSyn *ps) { return ps->syn->sign || ps->mask || ps->param->no_self || ps->ncons; }

/* The bound on max |w| after the constraints, in the order they run. */
static double constraint_cap(const PSyn *ps, double bound)
{
    for (int k = 0; k < ps->ncons; k++) {
        const Constraint *c = &ps->cons[k];
        double lo = fabs((double)c->lo), hi = (double)c->hi;
        if (c->kind == CON_CLIP)
            bound = fmin(fmax(bound, lo), fmax(lo, fabs(hi)));
        else if (c->kind == CON_L1_EQ || c->kind == CON_L2_EQ)
            bound = hi;
        else
            bound = fmin(bound, hi);
    }
    return bound;
}

/* Copies the synapse's weights (its rows of the block, CSR values or diagonal:
 * always nw contiguous reals, a member's rows being whole rows of its block). */
static void copy_weights(const PSyn *ps, real *dst, const real *src)
{
    memcpy(dst, src, (size_t)ps->nw * sizeof(real));
}

/* ---- running: the updates ---------------------------------------------------------- */

/* Factors at this step: a and the u's over post, the v's over pre. False (and a
 * careful step) when they are not finite or the bound on |w| could overflow. */
static bool compute_factors(Plasticity *pl, PSyn *ps, double *new_bound)
{
    const int64_t B = pl->spec.batch;
    const int G = ps->ngroups;
    FusedOperand out[G + 2];
    int k = 0;
    if (ps->has_a)
        out[k++] = (FusedOperand){ OPERAND_FULL, ps->a, ps->n_post, NULL };
    for (int g = 0; g < G; g++)
        out[k++] = (FusedOperand){ OPERAND_FULL, ps->u + (int64_t)g * B * ps->n_post, ps->n_post, NULL };
    run_prog(pl, ps, &ps->post_prog, 0, 0, B, ps->n_post, out);
    k = 0;
    for (int g = 0; g < G; g++)
        if (ps->group_vec[g] < 0) {
            out[k] = (FusedOperand){ OPERAND_FULL, ps->v + (int64_t)k * B * ps->n_pre, ps->n_pre, NULL };
            k++;
        }
    if (k)
        run_prog(pl, ps, &ps->pre_prog, 0, 0, B, ps->n_pre, out);
    if (ps->has_a) {
        for (int64_t i = 0; i < ps->n_post; i++) {
            double s = 0;
            for (int64_t b = 0; b < B; b++)
                s += ps->a[b * ps->n_post + i];
            ps->abar[i] = (real)s;
        }
    }
    bool ok = !ps->has_a || all_finite(ps->abar, ps->n_post);
    for (int g = 0; g < G && ok; g++)
        for (int64_t b = 0; b < B && ok; b++) {
            const real *v = ps->vmat[g] + b * ps->n_pre;
            ok = all_finite(v, ps->n_pre) && all_finite(ps->u + (g * B + b) * ps->n_post, ps->n_post);
            ps->vmax[g * B + b] = max_abs(v, ps->n_pre);
        }
    if (!ok)
        return false;
    double worst = 0;
    for (int64_t i = 0; i < ps->n_post; i++) {
        double x = (ps->has_a ? fabs(1 + (double)ps->abar[i]) : 1) * ps->bound;
        for (int g = 0; g < G; g++)
            for (int64_t b = 0; b < B; b++)
                x += fabs((double)ps->u[(g * B + b) * ps->n_post + i]) * ps->vmax[g * B + b];
        if (x > worst)
            worst = x;
    }
    *new_bound = constraint_cap(ps, worst);
    return worst < SAFE_BOUND;
}

/* The factored change with BLAS calls: a row scale, then W += U_g^T V_g per group. */
static void apply_blas(Plasticity *pl, PSyn *ps)
{
    const int64_t B = pl->spec.batch;
    if (ps->csr) {
        const Csr *csr = ps->csr;
        for (int64_t i = 0; i < ps->n_post; i++) {
            real s = ps->has_a ? 1 + ps->abar[i] : 1;
            for (int64_t p = csr->row_ptr[i]; p < csr->row_ptr[i + 1]; p++) {
                int64_t j = csr->col_idx[p];
                real w = s * ps->w[p];
                for (int g = 0; g < ps->ngroups; g++)
                    for (int64_t b = 0; b < B; b++)
                        w += ps->u[(g * B + b) * ps->n_post + i] * ps->vmat[g][b * ps->n_pre + j];
                ps->w[p] = w;
            }
        }
        return;
    }
    if (ps->has_a)
        for (int64_t i = 0; i < ps->n_post; i++) {
            real s = 1 + ps->abar[i], *row = ps->w + i * ps->ldw;
            for (int64_t j = 0; j < ps->n_pre; j++)
                row[j] *= s;
        }
    for (int g = 0; g < ps->ngroups; g++) {
        const real *u = ps->u + (int64_t)g * B * ps->n_post;
        if (B == 1)
            cblas_ger(CblasRowMajor, (int)ps->n_post, (int)ps->n_pre, 1, u, 1, ps->vmat[g], 1, ps->w, (int)ps->ldw);
        else
            cblas_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)ps->n_post, (int)ps->n_pre, (int)B, 1, u, (int)ps->n_post,
                       ps->vmat[g], (int)ps->n_pre, 1, ps->w, (int)ps->ldw);
    }
}

/* The general form: stage = w + scale sum_b dw_b, over the grid or CSR rows. */
static void compute_general(Plasticity *pl, PSyn *ps)
{
    const int64_t B = pl->spec.batch;
    if (ps->path == PATH_DIAG) {
        FusedOperand out = { OPERAND_FULL, ps->stage, ps->n_post, NULL };
        run_prog(pl, ps, &ps->dw_prog, 0, 0, B, ps->n_post, &out);
        for (int64_t b = 1; b < B; b++)
            for (int64_t i = 0; i < ps->n_post; i++)
                ps->stage[i] += ps->stage[b * ps->n_post + i];
        for (int64_t i = 0; i < ps->n_post; i++)
            ps->stage[i] += ps->w[i];
        return;
    }
    copy_weights(ps, ps->stage, ps->w);
    for (int64_t b = 0; b < B; b++) {
        if (ps->csr) {
            for (int64_t i = 0; i < ps->n_post; i++) {
                int64_t p0 = ps->csr->row_ptr[i], len = ps->csr->row_ptr[i + 1] - p0;
                if (!len)
                    continue;
                FusedOperand out = { OPERAND_FULL, ps->stage + p0, len, NULL };
                run_prog(pl, ps, &ps->dw_prog, b, i, 1, len, &out);
            }
        } else {
            FusedOperand out = { OPERAND_FULL, ps->stage, ps->n_pre, NULL };
            run_prog(pl, ps, &ps->dw_prog, b, 0, ps->n_post, ps->n_pre, &out);
        }
    }
}

/* A weight vector of the fused kernel: as wide as the machine's widest registers
 * (2 x 256 bits without AVX-512), unaligned loads. */
#define VLEN (64 / (int)sizeof(real))
typedef real vreal __attribute__((vector_size(64)));
typedef real vreal_u __attribute__((vector_size(64), aligned(sizeof(real)), may_alias));

/* w <- s w + u v (one row), returning the row's dot product with x. */
static real row_update_dot(int64_t n, real *w, real s, real u, const real *v, const real *x)
{
    vreal acc0 = { 0 }, acc1 = { 0 };
    int64_t j = 0;
    for (; j + 2 * VLEN <= n; j += 2 * VLEN) {
        vreal w0 = *(const vreal_u *)(w + j), w1 = *(const vreal_u *)(w + j + VLEN);
        w0 = s * w0 + u * *(const vreal_u *)(v + j);
        w1 = s * w1 + u * *(const vreal_u *)(v + j + VLEN);
        *(vreal_u *)(w + j) = w0;
        *(vreal_u *)(w + j + VLEN) = w1;
        acc0 += w0 * *(const vreal_u *)(x + j);
        acc1 += w1 * *(const vreal_u *)(x + j + VLEN);
    }
    acc0 += acc1;
    real sum = 0;
    for (int k = 0; k < VLEN; k++)
        sum += acc0[k];
    for (; j < n; j++) {
        real wn = s * w[j] + u * v[j];
        w[j] = wn;
        sum += wn * x[j];
    }
    return sum;
}

static real dot(int64_t n, const real *a, const real *b)
{
    vreal acc0 = { 0 }, acc1 = { 0 };
    int64_t j = 0;
    for (; j + 2 * VLEN <= n; j += 2 * VLEN) {
        acc0 += *(const vreal_u *)(a + j) * *(const vreal_u *)(b + j);
        acc1 += *(const vreal_u *)(a + j + VLEN) * *(const vreal_u *)(b + j + VLEN);
    }
    acc0 += acc1;
    real sum = 0;
    for (int k = 0; k < VLEN; k++)
        sum += acc0[k];
    for (; j < n; j++)
        sum += a[j] * b[j];
    return sum;
}

/* The fused update-and-product kernel: ps's pending change lands in each row of
 * its weights, and while the row is in cache, y[b, i] = row . x_b for the Bx
 * trials of x (x NULL: the change alone). One pass over W instead of a write
 * pass and a read pass. */
static void update_product(Plasticity *pl, PSyn *ps, const real *x, int64_t ldx, int64_t Bx, real *y, int64_t ldy)
{
    const int64_t B = pl->spec.batch, n = ps->n_pre;
    const int R = ps->ngroups * (int)B;
    const bool tight = R == 1 && Bx == 1 && x && !has_constraints(ps);
    for (int64_t i = 0; i < ps->n_post; i++) {
        real *row = ps->w + i * ps->ldw;
        real s = ps->has_a ? 1 + ps->abar[i] : 1;
        if (tight) {
            y[i] = row_update_dot(n, row, s, ps->u[i], ps->vmat[0], x);
            continue;
        }
        if (R == 1) {
            real u = ps->u[i];
            const real *v = ps->vmat[0];
            for (int64_t j = 0; j < n; j++)
                row[j] = s * row[j] + u * v[j];
        } else {
            if (s != 1)
                for (int64_t j = 0; j < n; j++)
                    row[j] *= s;
            for (int g = 0; g < ps->ngroups; g++)
                for (int64_t b = 0; b < B; b++) {
                    real u = ps->u[(g * B + b) * ps->n_post + i];
                    const real *v = ps->vmat[g] + b * n;
                    for (int64_t j = 0; j < n; j++)
                        row[j] += u * v[j];
                }
        }
        if (has_constraints(ps))
            constrain_row(ps, i, row, n, ps->mask ? ps->mask + i * n : NULL);
        if (x)
            for (int64_t b = 0; b < Bx; b++)
                y[b * ldy + i] = dot(n, row, x + b * ldx);
    }
}

/* The fused step: the block's product at step t, with every pending change of
 * its plastic members done in the same pass; the other members by BLAS. */
static void fused_product(Plasticity *pl, int step, int64_t t)
{
    const Plan *plan = pl->plan;
    const PlanStep *st = &plan->steps[step];
    const GNode *n = &pl->g->nodes[st->node];
    const ModelBlock *blk = &pl->m->blocks[pl->step_block[step]];
    int64_t ldx, ldy, rows;
    const real *x = plan_value(plan, n->in[0], t, &ldx, &rows);
    real *y = plan_value(plan, st->node, t, &ldy, NULL);
    int64_t Bx = pl->g->nodes[n->in[0]].batched ? rows : 1;
    const int64_t ncols = blk->value->dim[1];
    for (int k = 0; k < blk->nmembers; k++) {
        const Tensor *wt = pl->m->params[blk->members[k]].value;
        int64_t r0 = blk->row0[k], nr = wt->dim[0];
        PSyn *ps = NULL;
        for (int s = 0; s < pl->nsyns && !ps; s++)
            if (pl->syns[s].pending && pl->syns[s].param == &pl->m->params[blk->members[k]])
                ps = &pl->syns[s];
        if (ps) {
            update_product(pl, ps, x, ldx, Bx, y + r0, ldy);
            ps->pending = false;
        } else if (Bx == 1) {
            cblas_gemv(CblasRowMajor, CblasNoTrans, (int)nr, (int)ncols, 1, blk->value->data + r0 * ncols, (int)ncols, x, 1, 0, y + r0, 1);
        } else {
            cblas_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)Bx, (int)nr, (int)ncols, 1, x, (int)ldx,
                       blk->value->data + r0 * ncols, (int)ncols, 0, y + r0, (int)ldy);
        }
    }
}

/* A hoisted tensor header cut to one step's slot. */
static void one_slot(const Plan *plan, int node, Tensor *t, real *data)
{
    const PlanRef *r = &plan->ref[node];
    int period = r->buf >= 0 ? plan->bufs[r->buf].period : 1;
    t->data = data;
    if (period > 1 && t->rank > 0) {
        t->dim[0] /= period;
        t->size /= period;
    }
}

/* Step `step` of the hoist segment again, for slot t1 alone. */
static void rerun_slot(Plasticity *pl, int step, int64_t t1)
{
    const Plan *plan = pl->plan;
    const PlanStep *s = &plan->steps[step];
    const GNode *n = &pl->g->nodes[s->node];
    Tensor in[OP_MAX_IN], out = s->out;
    OpCall c = { .op = ops_get(n->op), .attr = &n->attr, .n_in = n->nin, .out = &out };
    for (int k = 0; k < n->nin; k++) {
        in[k] = s->in[k];
        if (pl->g->nodes[n->in[k]].kind != G_PARAM)
            one_slot(plan, n->in[k], &in[k], plan_value(plan, n->in[k], t1, NULL, NULL));
        c.in[k] = &in[k];
    }
    one_slot(plan, s->node, &out, plan_value(plan, s->node, t1, NULL, NULL));
    ops_fwd(&c);
}

/* A hoisted product of ps, for step t + 1, with the weights as they are now. */
static void recompute_hoisted(Plasticity *pl, PSyn *ps, int64_t t)
{
    for (int h = 0; h < ps->nhoisted; h++) {
        const Hoisted *hs = &ps->hoisted[h];
        int64_t ldx, rows, ldy;
        const real *x = plan_value(pl->plan, hs->x, t + 1, &ldx, &rows);
        real *y = plan_value(pl->plan, hs->out, t + 1, &ldy, NULL);
        int64_t Bx = pl->g->nodes[hs->x].batched ? pl->spec.batch : 1;
        if (ps->syn->one_to_one) {
            for (int64_t b = 0; b < Bx; b++)
                for (int64_t i = 0; i < ps->n_post; i++)
                    y[b * ldy + i] = x[b * ldx + i] * ps->w[i];
        } else if (ps->csr) {
            for (int64_t b = 0; b < Bx; b++)
                for (int64_t i = 0; i < ps->n_post; i++) {
                    real s = 0;
                    for (int64_t p = ps->csr->row_ptr[i]; p < ps->csr->row_ptr[i + 1]; p++)
                        s += ps->w[p] * x[b * ldx + ps->csr->col_idx[p]];
                    y[b * ldy + i] = s;
                }
        } else if (Bx == 1) {
            cblas_gemv(CblasRowMajor, CblasNoTrans, (int)ps->n_post, (int)ps->n_pre, 1, ps->w, (int)ps->ldw, x, 1, 0, y, 1);
        } else {
            cblas_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)Bx, (int)ps->n_post, (int)ps->n_pre, 1, x, (int)ldx, ps->w,
                       (int)ps->ldw, 0, y, (int)ldy);
        }
    }
    for (int k = 0; k < ps->nrerun; k++)
        rerun_slot(pl, ps->rerun[k], t + 1);
}

static void report_blowup(Plasticity *pl, PSyn *ps, int64_t t)
{
    diag_error(pl->d, pl->at, "rule %s made a weight of synapse %s infinite or NaN at step %lld (t = %.4g s); %s keeps the weights from before that step",
               ps->rule->name, ps->name, (long long)t, (double)pl->now, ps->param->name);
    diag_hint(pl->d, "a smaller learning rate, or a bound such as constrain l2(w) = 1 or clip(w, 0, 1), keeps the weights finite");
    diag_note(pl->d, ps->at, "the rule is attached here");
}

/* One change of ps's weights at step t. False after a blow-up (weights kept). */
static bool change(Plasticity *pl, PSyn *ps, int64_t t)
{
    if (ps->hist && ps->nchanges < ps->nhist)
        copy_weights(ps, ps->hist + ps->nchanges * ps->nw, ps->w);
    ps->nchanges++;
    if (ps->path == PATH_FACTORED) {
        double bound = 0;
        bool safe = compute_factors(pl, ps, &bound);
        if (safe) {
            ps->bound = bound;
            if (ps->fused_step >= 0) {
                ps->pending = pl->any_pending = true;
                return true;
            }
            if (ps->block && !pl->spec.no_fuse && !pl->spec.store && pl->spec.batch <= FUSE_MAX_BATCH && ps->nhoisted &&
                t + 1 < pl->spec.steps) {
                /* Recompute the hoisted product for t + 1 in the same pass as the change. */
                const Hoisted *hs = &ps->hoisted[0];
                int64_t ldx, rows, ldy;
                const real *x = plan_value(pl->plan, hs->x, t + 1, &ldx, &rows);
                real *y = plan_value(pl->plan, hs->out, t + 1, &ldy, NULL);
                update_product(pl, ps, x, ldx, pl->g->nodes[hs->x].batched ? pl->spec.batch : 1, y, ldy);
                for (int h = 1; h < ps->nhoisted; h++) {
                    int64_t ld2;
                    real *y2 = plan_value(pl->plan, ps->hoisted[h].out, t + 1, &ld2, NULL);
                    if (ps->hoisted[h].x == hs->x && y2 != y)
                        for (int64_t b = 0; b < (pl->g->nodes[hs->x].batched ? pl->spec.batch : 1); b++)
                            memcpy(y2 + b * ld2, y + b * ldy, (size_t)ps->n_post * sizeof(real));
                }
                for (int k = 0; k < ps->nrerun; k++)
                    rerun_slot(pl, ps->rerun[k], t + 1);
                return true;
            }
            apply_blas(pl, ps);
            if (has_constraints(ps))
                constrain_all(ps, ps->w, ps->ldw);
        } else {
            copy_weights(ps, ps->backup, ps->w);
            apply_blas(pl, ps);
            bool finite = all_finite(ps->w, ps->nw);
            if (!finite) {
                copy_weights(ps, ps->w, ps->backup);
                report_blowup(pl, ps, t);
                return false;
            }
            if (has_constraints(ps))
                constrain_all(ps, ps->w, ps->ldw);
            ps->bound = max_abs(ps->w, ps->nw);
        }
    } else {
        compute_general(pl, ps);
        int64_t n = ps->path == PATH_DIAG ? ps->n_post : ps->nw;
        if (!all_finite(ps->stage, n)) {
            report_blowup(pl, ps, t);
            return false;
        }
        if (ps->path == PATH_DIAG) {
            constrain_all(ps, ps->stage, 1);
            memcpy(ps->w, ps->stage, (size_t)n * sizeof(real));
        } else {
            constrain_all(ps, ps->stage, ps->n_pre);
            copy_weights(ps, ps->w, ps->stage);
        }
    }
    if (t + 1 < pl->spec.steps)
        recompute_hoisted(pl, ps, t);
    return true;
}

static void advance_traces(Plasticity *pl, PSyn *ps)
{
    const int64_t B = pl->spec.batch;
    for (int k = 0; k < ps->ntraces; k++) {
        Trace *tr = &ps->traces[k];
        Vec *v = &ps->vecs[tr->vec];
        Domain dom = tr->prog.dom;
        if (dom == DOM_GRID || dom == DOM_CSR) {
            for (int64_t b = 0; b < B; b++) {
                if (dom == DOM_GRID) {
                    FusedOperand out = { OPERAND_FULL, v->data + b * v->n, ps->n_pre, NULL };
                    run_prog(pl, ps, &tr->prog, b, 0, ps->n_post, ps->n_pre, &out);
                } else {
                    for (int64_t i = 0; i < ps->n_post; i++) {
                        int64_t p0 = ps->csr->row_ptr[i], len = ps->csr->row_ptr[i + 1] - p0;
                        if (!len)
                            continue;
                        FusedOperand out = { OPERAND_FULL, v->data + b * v->n + p0, len, NULL };
                        run_prog(pl, ps, &tr->prog, b, i, 1, len, &out);
                    }
                }
            }
        } else {
            FusedOperand out = { OPERAND_FULL, v->data, v->n, NULL };
            run_prog(pl, ps, &tr->prog, 0, 0, B, v->n, &out);
        }
    }
}

void plasticity_start(Plasticity *pl)
{
    if (!pl)
        return;
    for (int s = 0; s < pl->nsyns; s++) {
        PSyn *ps = &pl->syns[s];
        for (int i = 0; i < ps->nvecs; i++)
            if (ps->vecs[i].kind == VEC_TRACE)
                memset(ps->vecs[i].data, 0, (size_t)(pl->spec.batch * ps->vecs[i].n) * sizeof(real));
        ps->bound = max_abs(ps->w, ps->nw);
        if (!isfinite(ps->bound))
            ps->bound = INFINITY;
        ps->pending = false;
        ps->nchanges = 0;
        ps->shown = -1;
    }
    pl->any_pending = false;
    pl->failed = false;
}

static void trace_key(const PSyn *ps, const Vec *v, char *buf, size_t n) { snprintf(buf, n, "%s.%s", ps->name, v->name); }

void plasticity_resume_traces(Plasticity *pl, const Model *m)
{
    if (!pl)
        return;
    char key[256];
    for (int s = 0; s < pl->nsyns; s++) {
        PSyn *ps = &pl->syns[s];
        for (int i = 0; i < ps->nvecs; i++) {
            const Vec *v = &ps->vecs[i];
            if (v->kind != VEC_TRACE)
                continue;
            trace_key(ps, v, key, sizeof key);
            for (int k = 0; k < m->ntraces; k++)
                if (!strcmp(m->traces[k].name, key) && m->traces[k].value->size == pl->spec.batch * v->n)
                    memcpy(v->data, m->traces[k].value->data, (size_t)(pl->spec.batch * v->n) * sizeof(real));
        }
    }
}

bool plasticity_keep_traces(const Plasticity *pl, Model *m, Diags *d, Span at)
{
    for (int k = 0; k < m->ntraces; k++) {
        free(m->traces[k].name);
        tensor_free(m->traces[k].value);
    }
    m->ntraces = 0;
    if (!pl)
        return true;
    char key[256];
    for (int s = 0; s < pl->nsyns; s++) {
        const PSyn *ps = &pl->syns[s];
        for (int i = 0; i < ps->nvecs; i++) {
            const Vec *v = &ps->vecs[i];
            if (v->kind != VEC_TRACE)
                continue;
            trace_key(ps, v, key, sizeof key);
            Tensor *value = tensor_new2(key, pl->spec.batch, v->n, d, at);
            if (!value)
                return false;
            memcpy(value->data, v->data, (size_t)value->size * sizeof(real));
            m->traces = xrealloc(m->traces, (size_t)(m->ntraces + 1) * sizeof *m->traces);
            m->traces[m->ntraces++] = (ModelTrace){ xstrdup(key), value };
        }
    }
    return true;
}

bool plasticity_failed(const Plasticity *pl) { return pl && pl->failed; }

bool plasticity_step(Plasticity *pl, Plan *plan, int64_t t)
{
    if (pl->any_pending) {
        for (int i = 0; i < plan->nsteps; i++) {
            if (plan->steps[i].seg != SEG_LOOP)
                continue;
            if (pl->step_block[i] >= 0)
                fused_product(pl, i, t);
            else
                plan_step_one(plan, i, t);
        }
        pl->any_pending = false;
    } else {
        plan_step(plan, t);
    }
    pl->now = (real)(plan->spec.t0 + (double)t * plan->spec.dt);
    bool ok = true;
    for (int s = 0; s < pl->nsyns && ok; s++) {
        PSyn *ps = &pl->syns[s];
        read_signals(pl, ps, t);
        if ((t + 1) % ps->every == 0)
            ok = change(pl, ps, t);
        if (ok)
            advance_traces(pl, ps);
    }
    pl->failed = !ok;
    return ok;
}

void plasticity_finish(Plasticity *pl)
{
    if (!pl)
        return;
    for (int s = 0; s < pl->nsyns; s++) {
        PSyn *ps = &pl->syns[s];
        if (ps->pending) {
            update_product(pl, ps, NULL, 0, 0, NULL, 0);
            ps->pending = false;
        }
        if (ps->final)
            copy_weights(ps, ps->final, ps->w);
        ps->shown = -1;
    }
    pl->any_pending = false;
}

void plasticity_rewind(Plasticity *pl, int64_t t)
{
    if (!pl)
        return;
    for (int s = 0; s < pl->nsyns; s++) {
        PSyn *ps = &pl->syns[s];
        if (!ps->hist)
            continue;
        int64_t k = t < 0 ? ps->nchanges : t / ps->every;
        if (k > ps->nchanges || k >= ps->nhist)
            k = ps->nchanges;
        if (k == ps->shown)
            continue;
        copy_weights(ps, ps->w, k >= ps->nchanges ? ps->final : ps->hist + k * ps->nw);
        ps->shown = t < 0 ? -1 : k;
    }
}
