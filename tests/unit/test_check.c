/* test_check.c: the checker's environment (check.h, check.c, check_model.c).
 *
 * Sources go through the interpreter in --check mode (interp_init, the
 * prelude, interp_exec with check_only), the way a script is checked; then the
 * tests read what the checker left in the environment: declaration kinds,
 * sizes, synapse names, the units it inferred for state variables, `in` and
 * weights (DESIGN.md section 1), what ModelInfo says about each model, how a
 * declaration replaces another, and how env_mark/env_rollback and a failed
 * REPL entry leave the environment as it was.
 */
#include "check.h"        /* tests/unit/check.h: the assertions (found first, beside this file) */
/* include/check.h uses the same include guard as tests/unit/check.h. */
#undef CAJAL_CHECK_H
#include "interp.h"       /* and through it include/check.h, the checker */
#include "lex.h"

#include <string.h>

static Interp in;
static char notices[4096];

static void on_notice(void *self, const char *msg)
{
    (void)self;
    size_t n = strlen(notices);
    snprintf(notices + n, sizeof notices - n, "%s\n", msg);
}

/* Checks src as a file named name; returns the status, keeps diagnostics. */
static InterpStatus check_src(const char *name, const char *src)
{
    diags_clear(&in.diags);
    SourceFile *f = source_new(name, src, strlen(src));
    return interp_exec(&in, f);
}

static Decl *get(const char *name) { return env_lookup(&in.env, intern_cstr(name)); }

static const VarInfo *var_of(const Decl *model, const char *name)
{
    if (!model || !model->info)
        return NULL;
    for (int i = 0; i < model->info->nvars; i++)
        if (model->info->vars[i].name == intern_cstr(name))
            return &model->info->vars[i];
    return NULL;
}

static const char *first_error(void)
{
    for (int i = 0; i < in.diags.n; i++)
        if (in.diags.v[i].level == DIAG_ERROR)
            return in.diags.v[i].msg;
    return "(no error)";
}

#define CHECK_OK(name, src)                                                    \
    do {                                                                       \
        if (!CHECK_INT(check_src((name), (src)), INTERP_OK))                   \
            fprintf(stderr, "    first error: %s\n", first_error());          \
    } while (0)

#define CHECK_DIM(d, expected) CHECK(units_eq((d), (expected)))

static void test_prelude(void)
{
    /* The prelude's models are there before any script. */
    Decl *rate = get("Rate"), *leaky = get("Leaky"), *lif = get("LIF"), *hebb = get("hebb");
    CHECK(rate && rate->kind == D_NEURON);
    CHECK(leaky && leaky->kind == D_NEURON);
    CHECK(lif && lif->kind == D_NEURON);
    CHECK(hebb && hebb->kind == D_PLASTICITY);
    CHECK(get("oja") && get("bcm") && get("vogels") && get("selectron"));
    if (!rate || !leaky || !lif || !hebb)
        return;

    /* Rate: continuous, reads r, x and in without unit. */
    const ModelInfo *ri = rate->info;
    CHECK(ri->continuous);
    CHECK(!ri->discrete);
    CHECK(!ri->spiking);
    CHECK_STR(ri->out, "r");
    CHECK_INT(ri->nparams, 2);
    CHECK_STR(ri->params[0].name, "tau");
    CHECK_STR(ri->params[1].name, "phi");
    CHECK_DIM(ri->param_dims[0], units_time());
    const VarInfo *x = var_of(rate, "x"), *r = var_of(rate, "r");
    CHECK(x && x->kind == VAR_ODE);
    CHECK(r && r->kind == VAR_ALIAS);
    if (x)
        CHECK_DIM(x->dim, units_none());
    CHECK_DIM(ri->in_dim, units_none());

    /* Leaky: discrete, reads v through `out v`. */
    const ModelInfo *li = leaky->info;
    CHECK(li->discrete);
    CHECK(!li->continuous);
    CHECK_STR(li->out, "v");
    const VarInfo *lv = var_of(leaky, "v");
    CHECK(lv && lv->kind == VAR_NEXT);

    /* LIF: spiking, v and in are voltages, no r or out. */
    const ModelInfo *fi = lif->info;
    CHECK(fi->spiking);
    CHECK(fi->continuous);
    CHECK(fi->out == NULL);
    CHECK_INT(fi->nparams, 5);
    const VarInfo *v = var_of(lif, "v");
    CHECK(v && v->kind == VAR_ODE);
    if (v)
        CHECK_DIM(v->dim, units_voltage());
    CHECK_DIM(fi->in_dim, units_voltage());
    CHECK_DIM(fi->param_dims[1], units_voltage());
    CHECK_DIM(fi->param_dims[4], units_time());

    /* bcm: a rule with a trace. */
    const VarInfo *theta = var_of(get("bcm"), "theta");
    CHECK(theta && theta->kind == VAR_TRACE);
}

static void test_declarations(void)
{
    CHECK_OK("decls.cajal",
             "let N = 16\n"
             "let tau = 200pF / 10nS\n"
             "neuron RateHz(tau = 10ms, rmax = 50Hz) {\n"
             "  tau * dx/dt = -x + in\n"
             "  r = rmax * relu(x)\n"
             "}\n"
             "neuron Cond(tau = 10ms, v_rest = -70mV, g_L = 10nS) {\n"
             "  tau * dv/dt = (v_rest - v) + ge / g_L * (0mV - v)\n"
             "  tau * dge/dt = -ge\n"
             "  spike when v > -50mV reset v = v_rest\n"
             "}\n"
             "cell LSTM(n) {\n"
             "  state h[n], c[n]\n"
             "  out h\n"
             "  gate f = sigmoid(affine(in, h))\n"
             "  z = tanh(affine(in, h))\n"
             "  c' = c * f + z\n"
             "  h' = tanh(c')\n"
             "}\n"
             "plasticity decay(eta) { dw = -eta * w }\n"
             "input u[3]\n"
             "output z\n"
             "population E = Rate(N)\n"
             "population I = Rate(N / 4, tau = 5ms)\n"
             "population V = LIF(10)\n"
             "population W = LIF(20)\n"
             "population H = RateHz(5)\n"
             "population Q = Cond(7)\n"
             "population L = LSTM(8) from u, E\n"
             "synapse J: E -> E\n"
             "synapse E -> I\n"
             "synapse V -> W { w = 1mV }\n"
             "synapse E -> V { w = 1mV }\n"
             "synapse H -> E { w = 1ms }\n"
             "synapse S: V -> Q.ge { w = 1nS }\n"
             "synapse Jlr: E -> E lowrank(2)\n"
             "synapse L -> z\n"
             "cost c = mse(z, target)\n"
             "task ff = flipflop(bits = 2)\n"
             "data d = npy(\"x.npy\")\n"
             "extern \"libm.so.6\" erf(x)\n");

    struct {
        const char *name;
        DeclKind kind;
    } kinds[] = {
        { "N", D_LET }, { "RateHz", D_NEURON }, { "LSTM", D_CELL }, { "decay", D_PLASTICITY },
        { "E", D_POPULATION }, { "u", D_INPUT }, { "z", D_OUTPUT }, { "J", D_SYNAPSE },
        { "c", D_COST }, { "ff", D_TASK }, { "d", D_DATA }, { "erf", D_EXTERN },
    };
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        Decl *d = get(kinds[i].name);
        if (CHECK(d != NULL))
            CHECK_INT(d->kind, kinds[i].kind);
    }
    CHECK_STR(decl_kind_word(D_PLASTICITY), "plasticity rule");
    CHECK_STR(decl_kind_word(D_DATA), "data set");
    CHECK_STR(decl_kind_word(D_EXTERN), "extern function");
    CHECK_STR(decl_kind_phrase(D_INPUT), "an input");
    CHECK_STR(decl_kind_phrase(D_EXTERN), "an extern function");
    CHECK_STR(decl_kind_phrase(D_NEURON), "a neuron");

    /* Values and sizes. */
    Decl *tau = get("tau");
    if (CHECK(tau && tau->value.kind == V_NUM)) {
        CHECK_NEAR(tau->value.num, 0.02, 1e-12);
        CHECK_DIM(tau->value.dim, units_time());
    }
    CHECK_INT(get("E")->size, 16);
    CHECK_INT(get("I")->size, 4);
    CHECK_INT(get("u")->size, 3);
    CHECK_INT(get("z")->size, 1);
    CHECK_INT(get("L")->size, 8);
    CHECK(get("E")->model == get("Rate"));
    CHECK(get("L")->model == get("LSTM"));
    CHECK_STR(get("L")->node->list.v[1]->name, "E");

    /* Unnamed synapses are PRE_to_POST. */
    Decl *ei = get("E_to_I");
    if (CHECK(ei != NULL)) {
        CHECK(ei->pre == get("E"));
        CHECK(ei->post == get("I"));
        CHECK(ei->target == NULL);
        CHECK_INT(ei->rank, 0);
    }
    CHECK(get("V_to_W") && get("E_to_V") && get("H_to_E") && get("L_to_z"));
    CHECK_INT(get("Jlr")->rank, 2);

    /* w has unit(post in) / unit(pre output): none for Rate -> Rate, volts
     * into LIF (from spikes or from Rate), seconds from Hz into Rate. */
    CHECK_DIM(get("J")->w_dim, units_none());
    CHECK_DIM(get("E_to_I")->w_dim, units_none());
    CHECK_DIM(get("V_to_W")->w_dim, units_voltage());
    CHECK_DIM(get("E_to_V")->w_dim, units_voltage());
    CHECK_DIM(get("H_to_E")->w_dim, units_time());
    /* A synapse into a named variable takes that variable's unit. */
    Decl *s = get("S");
    if (CHECK(s != NULL)) {
        CHECK_STR(s->target, "ge");
        CHECK_DIM(s->w_dim, units_conductance());
    }

    /* Inferred units: r in Hz from rmax; ge a conductance from g_L. */
    const VarInfo *r = var_of(get("RateHz"), "r");
    if (CHECK(r != NULL))
        CHECK_DIM(r->dim, units_frequency());
    const VarInfo *ge = var_of(get("Cond"), "ge");
    if (CHECK(ge != NULL))
        CHECK_DIM(ge->dim, units_conductance());
    CHECK_DIM(get("Cond")->info->in_dim, units_none());     /* in is not used: no unit */

    /* A cell: discrete, its states and gates, out h. */
    const ModelInfo *ci = get("LSTM")->info;
    CHECK(ci->discrete);
    CHECK(!ci->continuous);
    CHECK_STR(ci->out, "h");
    const VarInfo *h = var_of(get("LSTM"), "h"), *f = var_of(get("LSTM"), "f"), *zz = var_of(get("LSTM"), "z");
    CHECK(h && h->kind == VAR_STATE && h->eq != NULL && h->size != NULL);
    CHECK(f && f->kind == VAR_GATE);
    CHECK(zz && zz->kind == VAR_ALIAS);
}

static void test_default_synapse_names(void)
{
    CHECK_OK("names.cajal",
             "population A = Rate(3)\n"
             "synapse A -> A { w = 0.1 }\n"
             "synapse A -> A { w = 0.2 }\n"
             "synapse A_to_A_3: A -> A\n"
             "synapse A -> A { w = 0.4 }\n");
    Decl *a1 = get("A_to_A"), *a2 = get("A_to_A_2"), *a3 = get("A_to_A_3"), *a4 = get("A_to_A_4");
    CHECK(a1 && a2 && a3 && a4);
    if (a1 && a2 && a3 && a4) {
        CHECK(a1 != a2 && a2 != a3 && a3 != a4);
        CHECK(a3->node->name != NULL);     /* the named one */
        CHECK(a4->node->name == NULL);
        CHECK(!a1->dead && !a2->dead && !a3->dead);
    }
}

static void test_replace_and_rollback(void)
{
    notices[0] = 0;
    CHECK_OK("replace.cajal", "let K = 1\nlet K = 2ms\npopulation P = Rate(2)\nlet P = 3\n");
    Decl *k = get("K");
    if (CHECK(k != NULL)) {
        CHECK_NEAR(k->value.num, 0.002, 1e-15);
        if (CHECK(k->replaced != NULL)) {
            CHECK(k->replaced->dead);
            CHECK_NEAR(k->replaced->value.num, 1, 0);
        }
    }
    CHECK_STR(notices, "let 'K' replaces the one declared at replace.cajal:1\n"
                       "let 'P' replaces the population 'P' declared at replace.cajal:3\n");
    Decl *p = get("P");
    CHECK(p && p->kind == D_LET && p->replaced && p->replaced->kind == D_POPULATION);

    /* env_rollback drops what came after the mark and revives what it replaced. */
    EnvMark m = env_mark(&in.env);
    Decl *old_k = get("K");
    int n = in.env.n;
    CHECK_OK("more.cajal", "let K = 5\nlet fresh = 1\npopulation P = Rate(4)\n");
    CHECK_NEAR(get("K")->value.num, 5, 0);
    CHECK(old_k->dead);
    CHECK_INT(get("P")->kind, D_POPULATION);
    env_rollback(&in.env, m);
    CHECK_INT(in.env.n, n);
    CHECK(get("K") == old_k);
    CHECK(!old_k->dead);
    CHECK(get("fresh") == NULL);
    CHECK_INT(get("P")->kind, D_LET);

    /* A declaration with an error never enters the environment. */
    CHECK_INT(check_src("bad.cajal", "population Bad = Rate(0)\nlet good = 1\n"), INTERP_ERROR);
    CHECK(get("Bad") == NULL);
    CHECK(get("good") != NULL);     /* a script's other statements are checked */
    CHECK_STR(first_error(), "a population size must be a positive whole number, not 0");

    /* A failed REPL entry leaves nothing behind, and revives what it replaced. */
    in.interactive = true;
    Decl *good = get("good");
    n = in.env.n;
    CHECK_INT(check_src("<repl>", "let good = 2\nlet also = 3\nprint zzz\n"), INTERP_ERROR);
    CHECK_INT(in.env.n, n);
    CHECK(get("good") == good);
    CHECK(!good->dead);
    CHECK(get("also") == NULL);
    in.interactive = false;
}

static void test_checker_directly(void)
{
    /* A Checker of one's own: no importer means import is unavailable. */
    Env env;
    env_init(&env);
    Arena ar;
    arena_init(&ar);
    Diags d;
    diags_init(&d);
    Checker c = { .env = &env, .arena = &ar, .diags = &d };
    const char *src = "import \"lstm\"\nlet a = 2\nlet b = a * 3ms\n";
    SourceFile *f = source_new("direct.cajal", src, strlen(src));
    Node *prog = parse_source(f, &ar, &d, NULL);
    CHECK_INT(prog->body.n, 3);
    CHECK(!check_stmt(&c, prog->body.v[0]));
    CHECK_INT(d.n, 1);
    if (d.n)
        CHECK_STR(d.v[0].msg, "import is not available here");
    CHECK(check_stmt(&c, prog->body.v[1]));
    CHECK(check_stmt(&c, prog->body.v[2]));
    Decl *b = env_lookup(&env, intern_cstr("b"));
    if (CHECK(b != NULL)) {
        CHECK_NEAR(b->value.num, 0.006, 1e-15);
        CHECK_DIM(b->value.dim, units_time());
    }
    /* "did you mean": names in scope and built-ins, by kind. */
    CHECK_STR(check_closest(&c, intern_cstr("bb"), 0), "b");
    CHECK_STR(check_closest(&c, intern_cstr("tanhh"), 0), "tanh");
    CHECK(check_closest(&c, intern_cstr("bb"), 1u << D_POPULATION) == NULL);
    diags_fini(&d);
    arena_fini(&ar);
    env_fini(&env);
}

/* -D: the last given wins; a value of another kind is rejected, and the let is
 * declared all the same, with the script's value. */
static void test_defines(void)
{
    Define defs[3];
    const char *texts[3] = { "1", "2", "\"a\"" };
    for (int i = 0; i < 3; i++) {
        SourceFile *f = source_new("<command line>", texts[i], strlen(texts[i]));
        Node *prog = parse_source(f, &in.arena, &in.diags, NULL);
        defs[i] = (Define){ intern_cstr(i < 2 ? "dn" : "ds"), prog->body.v[0]->a, false };
    }
    in.checker.defines = defs;
    in.checker.ndefines = 3;
    CHECK_OK("defines.cajal", "let dn = 7\n");
    if (CHECK(get("dn") != NULL))
        CHECK_NEAR(get("dn")->value.num, 2, 0);
    CHECK(defs[0].used && defs[1].used);
    CHECK_INT(check_src("defines2.cajal", "let ds = 3ms\nlet after = ds * 2\n"), INTERP_ERROR);
    CHECK_INT(in.diags.errors, 1);
    CHECK_STR(first_error(), "-D ds gives a string, but the script's ds is a time (ms)");
    if (CHECK(get("ds") != NULL))
        CHECK_NEAR(get("ds")->value.num, 0.003, 1e-15);
    in.checker.defines = NULL;
    in.checker.ndefines = 0;
}

/* A run statement's checks that once failed for the wrong reason. */
static void test_run_statements(void)
{
    /* A literal 0 is a time where one is needed; a schedule is a call. */
    CHECK_OK("zero.cajal",
             "population Z0 = Rate(4)\n"
             "cost cz = mean(Z0.r) during [0, 1s]\n"
             "task tz = flipflop(bits = 1)\n"
             "train on tz with adam(lr = 1e-3, schedule = cosine(warmup = 10)) steps 1\n"
             "synapse Jz: Z0 -> Z0\n"
             "eig Jz\n");
    CHECK_INT(check_src("dt0.cajal", "simulate for 1s dt 0\n"), INTERP_ERROR);
    CHECK_STR(first_error(), "dt must be positive, not 0 s");
}

int main(void)
{
    builtins_init();
    interp_init(&in);
    in.out = fopen("/dev/null", "w");
    if (!interp_load_prelude(&in)) {
        interp_flush(&in);
        fprintf(stderr, "test_check: the prelude did not load\n");
        return 1;
    }
    in.check_only = true;
    in.checker.notice = on_notice;
    test_prelude();
    test_declarations();
    test_default_synapse_names();
    test_replace_and_rollback();
    test_defines();
    test_run_statements();
    test_checker_directly();
    fclose(in.out);
    in.out = stdout;
    interp_fini(&in);
    builtins_fini();
    source_free_all();
    intern_free_all();
    return check_done("test_check");
}
