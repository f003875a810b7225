/* test_tasks.c: the built-in tasks: their table against builtins.def, argument
 * checks, batch shapes and masks, determinism, the statistics of each generator
 * with fixed seeds, and the metrics on hand-made outputs.
 *
 * Statistical bounds are about five standard errors, so a right generator passes
 * and a biased one fails; expected values are worked out here from the task's
 * definition, not read back from tasks.c.
 */
#include "check.h"
#include "tasks.h"
#include "xalloc.h"

#include <stdint.h>
#include <stdlib.h>

#ifdef CAJAL_FLOAT
static const double tol = 1e-5;
#else
static const double tol = 1e-12;
#endif

/* ---- helpers ---------------------------------------------------------------- */

static Value num(double x) { return (Value){ .kind = V_NUM, .num = x, .dim = units_none() }; }
static Value ms(double x) { return (Value){ .kind = V_NUM, .num = x * 1e-3, .dim = units_time(), .unit = "ms" }; }
static Value str(const char *s) { return (Value){ .kind = V_STR, .str = s }; }
static Value list(Value *items, int n) { return (Value){ .kind = V_LIST, .items = items, .n = n }; }

static int has_error(const Diags *d, const char *text)
{
    for (int k = 0; k < d->n; k++)
        if (d->v[k].level == DIAG_ERROR && strstr(d->v[k].msg, text))
            return 1;
    return 0;
}

/* No message ends with a period or starts with a capital (but the name T). */
static int well_formed(const Diags *d)
{
    for (int k = 0; k < d->n; k++) {
        size_t n = strlen(d->v[k].msg);
        if (n == 0 || d->v[k].msg[n - 1] == '.' || (d->v[k].msg[0] >= 'A' && d->v[k].msg[0] <= 'Z' && strncmp(d->v[k].msg, "T ", 2) != 0))
            return 0;
    }
    return 1;
}

static TaskSpec spec(const char *name, const char *const *names, const Value *values, int n)
{
    Diags d;
    diags_init(&d);
    TaskSpec s;
    memset(&s, 0, sizeof s);
    bool ok = task_spec(name, names, values, NULL, n, &s, &d, span_none());
    CHECK(ok);
    CHECK_INT(d.errors, 0);
    if (d.errors)
        diags_print(&d, stderr, false);
    diags_fini(&d);
    return s;
}

static TaskSpec spec0(const char *name) { return spec(name, NULL, NULL, 0); }

static TaskBatch batch(const TaskSpec *s, uint64_t seed, int64_t B)
{
    Diags d;
    diags_init(&d);
    Rng r;
    rng_seed(&r, seed);
    TaskBatch b;
    bool ok = task_generate(s, &r, B, &b, &d, span_none());
    CHECK(ok);
    diags_fini(&d);
    return b;
}

static Tensor *like(const TaskBatch *b)
{
    Diags d;
    diags_init(&d);
    Tensor *y = tensor_new("y", 3, b->targets->dim, &d, span_none());
    diags_fini(&d);
    return y;
}

static int same_tensor(const Tensor *a, const Tensor *b)
{
    return a->size == b->size && memcmp(a->data, b->data, (size_t)a->size * sizeof(real)) == 0;
}

#define AT(x, n, t, b, k) ((x)->data[((t) * B + (b)) * (n) + (k)])

/* Standard normal CDF. */
static double phi(double z) { return 0.5 * erfc(-z / sqrt(2)); }

/* ---- the table ---------------------------------------------------------------- */

static const struct { const char *kind, *name, *params; } builtins[] = {
#define BUILTIN(kind, name, params, rule, help) { #kind, #name, params },
#include "builtins.def"
#undef BUILTIN
};

static void test_table_matches_builtins(void)
{
    int tasks = 0;
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++) {
        if (strcmp(builtins[i].kind, "TASK") != 0)
            continue;
        tasks++;
        TaskKind k;
        if (!CHECK(task_lookup(builtins[i].name, &k)))
            continue;
        CHECK_STR(task_name(k), builtins[i].name);
        CHECK_STR(task_params_text(k), builtins[i].params);
    }
    CHECK_INT(tasks, TASK_COUNT);
    TaskKind k;
    CHECK(!task_lookup("flip_flop", &k));
}

static void test_defaults(void)
{
    TaskSpec s = spec0("adding");
    CHECK_INT(s.kind, TASK_ADDING);
    CHECK_INT(s.T, 100);
    s = spec0("delayed_addition");
    CHECK_INT(s.T, 50);
    CHECK_INT(s.n, 2);
    s = spec0("flipflop");
    CHECK_INT(s.bits, 3);
    CHECK_INT(s.T, 500);
    CHECK_NEAR(s.p, 0.02, 0);
    s = spec0("mante");
    CHECK_INT(s.ncoherences, 3);
    CHECK_NEAR(s.coherences[0], 0.05, 0);
    CHECK_NEAR(s.coherences[1], 0.15, 0);
    CHECK_NEAR(s.coherences[2], 0.5, 0);
    CHECK_NEAR(s.noise, 1.0, 0);
    CHECK_INT(s.T, 75);
    s = spec0("ready_set_go");
    CHECK_INT(s.nintervals, 2);
    CHECK_NEAR(s.intervals[0], 0.48, 1e-15);
    CHECK_NEAR(s.intervals[1], 0.8, 1e-15);
    CHECK_NEAR(s.dt, 0.01, 1e-15);
    CHECK_INT(s.interval_steps[0], 48);
    CHECK_INT(s.interval_steps[1], 80);
    CHECK_INT(s.lead, 20);
    CHECK_INT(s.T, 2 * 20 + 80 + 120 + 1);
    s = spec0("sine");
    CHECK_NEAR(s.period, 100, 0);
    CHECK_INT(s.T, 300);

    /* given arguments replace the defaults, the others stay */
    const char *names[] = { "p", "bits" };
    Value values[] = { num(0.5), num(7) };
    s = spec("flipflop", names, values, 2);
    CHECK_INT(s.bits, 7);
    CHECK_NEAR(s.p, 0.5, 0);
    CHECK_INT(s.T, 500);
}

/* ---- argument errors ------------------------------------------------------------ */

/* task_spec must fail with a message containing `text`, located at the argument. */
static void spec_fails(const char *task, const char *name, Value v, const char *text)
{
    Diags d;
    diags_init(&d);
    SourceFile *f = source_new("t.cajal", "task x(...)", 11);
    Span at = { f, 0, 11 }, arg = { f, 7, 3 };
    TaskSpec s;
    const char *names[] = { name };
    bool ok = task_spec(task, names, &v, &arg, 1, &s, &d, at);
    if (!CHECK(!ok) || !CHECK(has_error(&d, text))) {
        fprintf(stderr, "  wanted \"%s\" for %s(%s = ...), got:\n", text, task, name);
        diags_print(&d, stderr, false);
    }
    CHECK(well_formed(&d));
    CHECK(d.n > 0 && d.v[0].span.off == 7);
    diags_fini(&d);
}

static void test_spec_errors(void)
{
    spec_fails("adding", "T", num(1), "T must be at least 2; got 1");
    spec_fails("adding", "T", num(0), "T must be at least 2; got 0");
    spec_fails("adding", "T", num(2.5), "T must be a whole number without unit; got 2.5");
    spec_fails("adding", "T", ms(100), "T must be a whole number without unit; got 100 ms");
    spec_fails("adding", "T", str("ten"), "got the string \"ten\"");
    spec_fails("adding", "T", num(1e12), "T must be at most 100000000");
    spec_fails("adding", "T", num(NAN), "T must be a whole number");
    spec_fails("delayed_addition", "n", num(0), "n must be at least 1; got 0");
    spec_fails("flipflop", "bits", num(0), "bits must be at least 1; got 0");
    spec_fails("flipflop", "p", num(1.5), "p must be at most 1; got 1.5");
    spec_fails("flipflop", "p", num(-0.1), "p must be at least 0; got -0.1");
    spec_fails("flipflop", "p", ms(1), "p must be a number without unit; got 1 ms");
    spec_fails("mante", "noise", num(-1), "noise must be at least 0; got -1");

    Value none[1];
    spec_fails("mante", "coherences", list(none, 0), "coherences must not be empty");
    spec_fails("mante", "coherences", num(0.5), "coherences must be a list, such as [0.05, 0.15, 0.5]; got 0.5");
    Value zero[] = { num(0.1), num(0) };
    spec_fails("mante", "coherences", list(zero, 2), "each coherence must be above 0; got 0");
    Value big[] = { num(1.5) };
    spec_fails("mante", "coherences", list(big, 1), "each coherence must be at most 1; got 1.5");
    Value timed[] = { ms(50) };
    spec_fails("mante", "coherences", list(timed, 1), "each coherence must be a number without unit; got 50 ms");
    Value nested[] = { list(big, 1) };
    spec_fails("mante", "coherences", list(nested, 1), "got a list");

    Value bare[] = { num(480), num(800) };
    spec_fails("ready_set_go", "intervals", list(bare, 2), "each interval must be a time, such as 480ms; got 480");
    Value negative[] = { ms(-480) };
    spec_fails("ready_set_go", "intervals", list(negative, 1), "each interval must be positive; got -480 ms");
    spec_fails("ready_set_go", "intervals", list(none, 0), "intervals must not be empty");
    spec_fails("ready_set_go", "intervals", ms(480), "intervals must be a list, such as [480ms, 800ms]; got 480 ms");
    spec_fails("ready_set_go", "dt", num(10), "dt must be a time, such as 10ms; got 10");
    spec_fails("ready_set_go", "dt", ms(0), "dt must be positive; got 0 s");
    spec_fails("sine", "period", num(0), "period must be above 0; got 0");
    spec_fails("sine", "period", ms(100), "period must be a number without unit; got 100 ms");

    /* unknown names */
    spec_fails("flipflop", "bit", num(3), "flipflop has no parameter 'bit'; did you mean 'bits'?");
    spec_fails("sine", "frequency", num(3), "sine has no parameter 'frequency'; it takes period = 100, T = 300");

    Diags d;
    diags_init(&d);
    TaskSpec s;
    CHECK(!task_spec("flipflops", NULL, NULL, NULL, 0, &s, &d, span_none()));
    CHECK(has_error(&d, "unknown task 'flipflops'; did you mean 'flipflop'?"));
    diags_clear(&d);
    CHECK(!task_spec("xor", NULL, NULL, NULL, 0, &s, &d, span_none()));
    CHECK(has_error(&d, "unknown task 'xor'"));
    diags_clear(&d);

    /* twice the same parameter; every error of a call is reported */
    const char *twice[] = { "T", "T" };
    Value tv[] = { num(10), num(20) };
    CHECK(!task_spec("adding", twice, tv, NULL, 2, &s, &d, span_none()));
    CHECK(has_error(&d, "T is given twice"));
    diags_clear(&d);
    const char *both[] = { "p", "T" };
    Value bv[] = { num(2), num(1) };
    CHECK(!task_spec("flipflop", both, bv, NULL, 2, &s, &d, span_none()));
    CHECK_INT(d.errors, 2);
    diags_clear(&d);

    /* conditions between parameters */
    const char *tn[] = { "T", "n" };
    Value many[] = { num(5), num(5) };
    CHECK(!task_spec("delayed_addition", tn, many, NULL, 2, &s, &d, span_none()));
    CHECK(has_error(&d, "n = 5 gated values do not fit in the T - 1 = 4 steps before go"));
    diags_clear(&d);
    Value fits[] = { num(5), num(4) };
    CHECK(task_spec("delayed_addition", tn, fits, NULL, 2, &s, &d, span_none()));
    const char *idt[] = { "intervals", "dt" };
    Value shortv[] = { ms(5) };
    Value sv[] = { list(shortv, 1), ms(10) };
    CHECK(!task_spec("ready_set_go", idt, sv, NULL, 2, &s, &d, span_none()));
    CHECK(has_error(&d, "interval 5 ms is shorter than dt = 10 ms"));
    diags_clear(&d);
    Value hugev[] = { (Value){ .kind = V_NUM, .num = 1e6, .dim = units_time(), .unit = "s" } };
    Value hv[] = { list(hugev, 1), ms(1) };
    CHECK(!task_spec("ready_set_go", idt, hv, NULL, 2, &s, &d, span_none()));
    CHECK(has_error(&d, "at most 25000000 fit in a trial"));
    CHECK(well_formed(&d));
    diags_fini(&d);
}

static void test_batch_errors(void)
{
    Diags d;
    diags_init(&d);
    TaskSpec s = spec0("adding");
    Rng r;
    rng_seed(&r, 1);
    TaskBatch b;
    CHECK(!task_generate(&s, &r, 0, &b, &d, span_none()));
    CHECK(has_error(&d, "a batch needs at least 1 trial; got 0"));
    CHECK(b.inputs == NULL && b.trial == NULL);
    diags_clear(&d);

    int64_t saved = tensor_max_bytes;
    tensor_max_bytes = 1 << 20;
    CHECK(!task_generate(&s, &r, 100000, &b, &d, span_none()));
    CHECK(has_error(&d, "task inputs"));
    CHECK(b.inputs == NULL && b.targets == NULL && b.mask == NULL && b.trial == NULL);
    task_batch_free(&b);
    tensor_max_bytes = saved;
    diags_fini(&d);
}

/* ---- shapes, masks, determinism --------------------------------------------------- */

static void test_shapes(void)
{
    static const char *names[] = { "adding", "delayed_addition", "flipflop", "mante", "ready_set_go", "sine" };
    static const int64_t n_in[] = { 2, 3, 3, 4, 2, 1 }, n_out[] = { 1, 1, 3, 1, 1, 1 };
    static const int64_t steps[] = { 100, 50, 500, 75, 241, 300 };
    for (int k = 0; k < TASK_COUNT; k++) {
        TaskSpec s = spec0(names[k]);
        int64_t ni, no, T;
        task_sizes(&s, &ni, &no, &T);
        CHECK_INT(ni, n_in[k]);
        CHECK_INT(no, n_out[k]);
        CHECK_INT(T, steps[k]);
        TaskBatch b = batch(&s, 7, 5);
        CHECK_INT(b.inputs->rank, 3);
        CHECK_INT(b.inputs->dim[0], T);
        CHECK_INT(b.inputs->dim[1], 5);
        CHECK_INT(b.inputs->dim[2], ni);
        CHECK_INT(b.targets->dim[0], T);
        CHECK_INT(b.targets->dim[1], 5);
        CHECK_INT(b.targets->dim[2], no);
        CHECK(tensor_same_shape(b.targets, b.mask));
        int binary = 1;
        for (int64_t i = 0; i < b.mask->size; i++)
            binary &= b.mask->data[i] == 0 || b.mask->data[i] == 1;
        CHECK(binary);
        task_batch_free(&b);
        CHECK(b.inputs == NULL);
    }

    /* the masks of the tasks that answer once: the last step alone */
    static const char *last[] = { "adding", "delayed_addition", "mante" };
    for (int k = 0; k < 3; k++) {
        TaskSpec s = spec0(last[k]);
        TaskBatch b = batch(&s, 3, 4);
        int64_t T = b.T, B = b.batch, bad = 0;
        for (int64_t t = 0; t < T; t++)
            for (int64_t j = 0; j < B; j++)
                bad += AT(b.mask, 1, t, j, 0) != (t == T - 1);
        CHECK_INT(bad, 0);
        task_batch_free(&b);
    }
    TaskSpec s = spec0("sine");
    TaskBatch b = batch(&s, 3, 2);
    int64_t masked = 0;
    for (int64_t i = 0; i < b.mask->size; i++)
        masked += b.mask->data[i] == 1;
    CHECK_INT(masked, b.mask->size);
    task_batch_free(&b);
}

static void test_determinism(void)
{
    static const char *names[] = { "adding", "delayed_addition", "flipflop", "mante", "ready_set_go" };
    for (int k = 0; k < 5; k++) {
        TaskSpec s = spec0(names[k]);
        TaskBatch a = batch(&s, 11, 8), b = batch(&s, 11, 8), c = batch(&s, 12, 8);
        CHECK(same_tensor(a.inputs, b.inputs));
        CHECK(same_tensor(a.targets, b.targets));
        CHECK(same_tensor(a.mask, b.mask));
        CHECK(memcmp(a.trial, b.trial, 8 * sizeof *a.trial) == 0);
        if (!CHECK(!same_tensor(a.inputs, c.inputs)))
            fprintf(stderr, "  %s: seeds 11 and 12 gave the same inputs\n", names[k]);

        /* trial b of a batch of 3 is trial b of the batch of 8 */
        TaskBatch p = batch(&s, 11, 3);
        int64_t T = a.T, same = 1;
        for (int64_t t = 0; t < T; t++)
            same &= memcmp(&a.inputs->data[t * 8 * a.n_in], &p.inputs->data[t * 3 * a.n_in],
                           (size_t)(3 * a.n_in) * sizeof(real)) == 0;
        CHECK(same);

        /* the Rng advances: the next batch differs; task_fill allocates nothing */
        Rng r;
        rng_seed(&r, 11);
        task_fill(&s, &r, &p);
        Diags d;
        diags_init(&d);
        Tensor *first = tensor_clone(p.inputs, &d, span_none());
        diags_fini(&d);
        unsigned long before = xalloc_count;
        task_fill(&s, &r, &p);
        CHECK(xalloc_count == before);
        CHECK(!same_tensor(first, p.inputs));
        tensor_free(first);
        task_batch_free(&a);
        task_batch_free(&b);
        task_batch_free(&c);
        task_batch_free(&p);
    }
    /* sine draws nothing and is the same in every trial */
    TaskSpec s = spec0("sine");
    Rng r, r0;
    rng_seed(&r, 5);
    r0 = r;
    TaskBatch a;
    Diags d;
    diags_init(&d);
    CHECK(task_generate(&s, &r, 2, &a, &d, span_none()));
    CHECK(memcmp(&r, &r0, sizeof r) == 0);
    diags_fini(&d);
    task_batch_free(&a);
}

/* ---- each task's statistics -------------------------------------------------------- */

static void test_adding(void)
{
    TaskSpec s = spec0("adding");
    int64_t B = 4000;
    TaskBatch b = batch(&s, 42, B);
    int64_t T = b.T, bad_markers = 0, bad_sum = 0;
    double sum = 0, sum2 = 0, vsum = 0;
    for (int64_t j = 0; j < B; j++) {
        int64_t first = 0, second = 0;
        double marked = 0;
        for (int64_t t = 0; t < T; t++) {
            double v = AT(b.inputs, 2, t, j, 0);
            vsum += v;
            if (v < 0 || v >= 1)
                bad_markers++;
            if (AT(b.inputs, 2, t, j, 1) == 1) {
                marked += v;
                t < T / 2 ? first++ : second++;
            }
        }
        bad_markers += first != 1 || second != 1;
        double y = AT(b.targets, 1, T - 1, j, 0);
        bad_sum += fabs(y - marked) > tol;
        sum += y;
        sum2 += y * y;
    }
    CHECK_INT(bad_markers, 0);
    CHECK_INT(bad_sum, 0);
    double n = (double)B, mean = sum / n, var = sum2 / n - mean * mean;
    CHECK_NEAR(vsum / (n * (double)T), 0.5, 0.005);     /* U[0,1): sd 0.29 / sqrt(4e5) */
    CHECK_NEAR(mean, 1.0, 0.03);                        /* sd sqrt(1/6 / 4000) = 0.0065 */
    CHECK_NEAR(var, 1.0 / 6, 0.025);                    /* Var S = 2 / 12 */

    /* the trivial predictor: 1.0 always, mse about 1/6 */
    Tensor *y = like(&b);
    task_reference(&s, &b, TASK_REF_TRIVIAL, y);
    TaskMetric m = task_metric(&s, &b, y);
    CHECK_STR(m.key, "mse");
    CHECK_INT(m.counted, B);
    CHECK_NEAR(m.value, 1.0 / 6, 0.025);
    CHECK_NEAR(m.value, sum2 / n - 2 * mean + 1, 1e-9);
    /* zero output: mse = E[S^2] */
    tensor_zero(y);
    m = task_metric(&s, &b, y);
    CHECK_NEAR(m.mse, sum2 / n, 1e-9);
    task_reference(&s, &b, TASK_REF_TARGET, y);
    m = task_metric(&s, &b, y);
    CHECK_NEAR(m.value, 0, 0);
    tensor_free(y);
    task_batch_free(&b);

    /* T = 2: one marker in each half of two steps */
    const char *names[] = { "T" };
    Value v[] = { num(2) };
    s = spec("adding", names, v, 1);
    b = batch(&s, 1, 3);
    B = 3;
    for (int64_t j = 0; j < B; j++) {
        CHECK_NEAR(AT(b.inputs, 2, 0, j, 1), 1, 0);
        CHECK_NEAR(AT(b.inputs, 2, 1, j, 1), 1, 0);
    }
    task_batch_free(&b);
}

static void test_delayed_addition(void)
{
    const char *names[] = { "T", "n" };
    Value v[] = { num(30), num(3) };
    TaskSpec s = spec("delayed_addition", names, v, 2);
    int64_t B = 3000;
    TaskBatch b = batch(&s, 9, B);
    int64_t T = b.T, bad = 0;
    double sum = 0, sum2 = 0;
    int64_t gate_at[30] = { 0 };
    for (int64_t j = 0; j < B; j++) {
        int64_t gates = 0;
        double gated = 0;
        for (int64_t t = 0; t < T - 1; t++) {
            if (AT(b.inputs, 3, t, j, 1) == 1) {
                gates++;
                gated += AT(b.inputs, 3, t, j, 0);
                gate_at[t]++;
            }
            bad += AT(b.inputs, 3, t, j, 2) != 0;
        }
        bad += gates != 3;
        bad += AT(b.inputs, 3, T - 1, j, 0) != 0 || AT(b.inputs, 3, T - 1, j, 1) != 0;
        bad += AT(b.inputs, 3, T - 1, j, 2) != 1;
        double y = AT(b.targets, 1, T - 1, j, 0);
        bad += fabs(y - gated) > tol;
        sum += y;
        sum2 += y * y;
    }
    CHECK_INT(bad, 0);
    double n = (double)B, mean = sum / n;
    CHECK_NEAR(mean, 1.5, 0.03);                        /* n / 2; sd sqrt(0.25 / 3000) */
    CHECK_NEAR(sum2 / n - mean * mean, 0.25, 0.03);     /* n / 12 */
    /* gates spread evenly over the T - 1 steps: 3000 * 3 / 29 = 310 each, sd 17 */
    int64_t lo = gate_at[0], hi = gate_at[0];
    for (int t = 0; t < 29; t++) {
        lo = gate_at[t] < lo ? gate_at[t] : lo;
        hi = gate_at[t] > hi ? gate_at[t] : hi;
    }
    CHECK(lo > 310 - 85 && hi < 310 + 85);

    Tensor *y = like(&b);
    task_reference(&s, &b, TASK_REF_TRIVIAL, y);
    TaskMetric m = task_metric(&s, &b, y);
    CHECK_NEAR(m.value, 0.25, 0.03);
    tensor_free(y);
    task_batch_free(&b);

    /* n = T - 1: every step before go is gated */
    Value all[] = { num(6), num(5) };
    s = spec("delayed_addition", names, all, 2);
    b = batch(&s, 2, 4);
    B = 4;
    int64_t gates = 0;
    for (int64_t j = 0; j < B; j++)
        for (int64_t t = 0; t < 5; t++)
            gates += AT(b.inputs, 3, t, j, 1) == 1;
    CHECK_INT(gates, 20);
    task_batch_free(&b);
}

static void test_flipflop(void)
{
    TaskSpec s = spec0("flipflop");
    int64_t B = 64;
    TaskBatch b = batch(&s, 3, B);
    int64_t T = b.T, n = 3, pulses = 0, plus = 0, bad_target = 0, bad_mask = 0;
    for (int64_t j = 0; j < B; j++)
        for (int64_t k = 0; k < n; k++) {
            double last = 0;
            for (int64_t t = 0; t < T; t++) {
                double u = AT(b.inputs, n, t, j, k);
                if (u != 0) {
                    pulses++;
                    plus += u == 1;
                    bad_target += u != 1 && u != -1;
                    last = u;
                }
                bad_target += AT(b.targets, n, t, j, k) != last;
                bad_mask += AT(b.mask, n, t, j, k) != (last != 0);
            }
        }
    CHECK_INT(bad_target, 0);
    CHECK_INT(bad_mask, 0);
    double cells = (double)(B * T * n);
    /* rate p = 0.02 over 96000 cells: sd sqrt(p (1 - p) / 96000) = 0.00045 */
    CHECK_NEAR(pulses / cells, 0.02, 0.0023);
    CHECK_NEAR((double)plus / (double)pulses, 0.5, 0.06);

    Tensor *y = like(&b);
    task_reference(&s, &b, TASK_REF_TARGET, y);
    TaskMetric m = task_metric(&s, &b, y);
    CHECK_STR(m.name, "fraction of bits correct");
    CHECK_NEAR(m.value, 1, 0);
    CHECK_NEAR(m.mse, 0, 0);
    CHECK(m.higher_is_better);
    tensor_zero(y);
    m = task_metric(&s, &b, y);
    CHECK_NEAR(m.value, 0, 0);
    CHECK_NEAR(m.mse, 1, 0);
    task_reference(&s, &b, TASK_REF_TRIVIAL, y);
    m = task_metric(&s, &b, y);
    CHECK_NEAR(m.value, 0.5, 0.1);
    /* a half-right output: the sign of the target, small, on the first bit only */
    for (int64_t t = 0; t < T; t++)
        for (int64_t j = 0; j < B; j++)
            for (int64_t k = 0; k < n; k++)
                AT(y, n, t, j, k) = k == 0 ? 0.1f * AT(b.targets, n, t, j, k) : -AT(b.targets, n, t, j, k);
    int64_t first = 0;
    for (int64_t t = 0; t < T; t++)
        for (int64_t j = 0; j < B; j++)
            first += AT(b.mask, n, t, j, 0) == 1;
    m = task_metric(&s, &b, y);
    CHECK_NEAR(m.value, (double)first / (double)m.counted, 1e-12);
    tensor_free(y);
    task_batch_free(&b);

    /* p = 0: no pulse, nothing counts, the metric is NaN; p = 1: a pulse every step */
    const char *names[] = { "p" };
    Value zero[] = { num(0) }, one[] = { num(1) };
    s = spec("flipflop", names, zero, 1);
    b = batch(&s, 3, 2);
    y = like(&b);
    m = task_metric(&s, &b, y);
    CHECK_INT(m.counted, 0);
    CHECK(isnan(m.value));
    tensor_free(y);
    task_batch_free(&b);
    s = spec("flipflop", names, one, 1);
    b = batch(&s, 3, 2);
    int64_t none = 0;
    for (int64_t i = 0; i < b.inputs->size; i++)
        none += b.inputs->data[i] == 0;
    CHECK_INT(none, 0);
    task_batch_free(&b);
}

static void test_mante(void)
{
    TaskSpec s = spec0("mante");
    int64_t B = 6000;
    TaskBatch b = batch(&s, 2013, B);
    int64_t T = b.T, bad = 0, ctx[2] = { 0, 0 }, right[3] = { 0, 0, 0 }, count[3] = { 0, 0, 0 };
    for (int64_t j = 0; j < B; j++) {
        const TaskTrial *tr = &b.trial[j];
        ctx[tr->context]++;
        double sums[2] = { 0, 0 };
        for (int64_t t = 0; t < T; t++) {
            bad += AT(b.inputs, 4, t, j, 2) != (tr->context == TASK_MOTION);
            bad += AT(b.inputs, 4, t, j, 3) != (tr->context == TASK_COLOUR);
            sums[0] += AT(b.inputs, 4, t, j, 0);
            sums[1] += AT(b.inputs, 4, t, j, 1);
        }
        int ideal = sums[tr->context] > 0 ? 1 : -1;
        bad += ideal != tr->ideal;
        double c = tr->coherence[tr->context];
        bad += tr->target != (c > 0 ? 1 : -1);
        bad += AT(b.targets, 1, T - 1, j, 0) != tr->target;
        int level = -1;
        for (int i = 0; i < 3; i++)
            if (fabs(c) == s.coherences[i])
                level = i;
        if (level < 0 || (fabs(tr->coherence[1 - tr->context]) != 0.05 &&
                          fabs(tr->coherence[1 - tr->context]) != 0.15 &&
                          fabs(tr->coherence[1 - tr->context]) != 0.5)) {
            bad++;
            continue;
        }
        count[level]++;
        right[level] += tr->ideal == tr->target;
    }
    CHECK_INT(bad, 0);
    CHECK_NEAR((double)ctx[0] / (double)B, 0.5, 0.035);
    /* the ideal integrator: P(right) = Phi(c sqrt(T) / noise), 2000 trials a level */
    double acc[3];
    for (int i = 0; i < 3; i++) {
        acc[i] = (double)right[i] / (double)count[i];
        CHECK_NEAR(acc[i], phi(s.coherences[i] * sqrt((double)T) / s.noise), 0.04);
    }
    CHECK(acc[0] > 0.55 && acc[0] < acc[1] && acc[1] < acc[2]);

    /* the metric: ideal outputs score the ideal integrator's accuracy */
    Tensor *y = like(&b);
    task_reference(&s, &b, TASK_REF_IDEAL, y);
    TaskMetric m = task_metric(&s, &b, y);
    CHECK_STR(m.key, "accuracy");
    CHECK_NEAR(m.value, m.ideal, 0);
    CHECK_NEAR(m.ideal, (double)(right[0] + right[1] + right[2]) / (double)B, 1e-12);
    CHECK_INT(m.trials_context[0] + m.trials_context[1], B);
    CHECK_INT(m.trials_context[0], ctx[0]);
    for (int c = 0; c < 2; c++) {
        CHECK_NEAR(m.accuracy_context[c], m.ideal_context[c], 0);
        CHECK(m.slope_relevant[c] > 1);
        if (!CHECK(fabs(m.slope_irrelevant[c]) < 0.1 * m.slope_relevant[c]))
            fprintf(stderr, "  slopes %g %g\n", m.slope_relevant[c], m.slope_irrelevant[c]);
    }
    /* perfect, zero and trivial outputs */
    task_reference(&s, &b, TASK_REF_TARGET, y);
    m = task_metric(&s, &b, y);
    CHECK_NEAR(m.value, 1, 0);
    CHECK_NEAR(m.accuracy_context[0], 1, 0);
    CHECK_NEAR(m.accuracy_context[1], 1, 0);
    tensor_zero(y);
    m = task_metric(&s, &b, y);
    CHECK_NEAR(m.value, 0, 0);
    CHECK_NEAR(m.mse, 1, 0);
    task_reference(&s, &b, TASK_REF_TRIVIAL, y);
    m = task_metric(&s, &b, y);
    CHECK_NEAR(m.value, 0.5, 0.035);
    /* a model that follows the wrong context: its irrelevant slope is the large one */
    for (int64_t j = 0; j < B; j++)
        AT(y, 1, T - 1, j, 0) = b.trial[j].coherence[1 - b.trial[j].context] > 0 ? 1 : -1;
    CHECK(task_psychometric_slope(&b, y, TASK_MOTION, TASK_COLOUR) >
          10 * fabs(task_psychometric_slope(&b, y, TASK_MOTION, TASK_MOTION)));
    /* the slope by hand on three trials: choices +1, -1, +1 against coherences */
    TaskBatch small = b;
    small.batch = 3;
    TaskTrial tr[3] = { { .coherence = { 0.5, 0.1 } }, { .coherence = { -0.5, 0.1 } }, { .coherence = { 0.1, -0.1 } } };
    small.trial = tr;
    int64_t dim[3] = { 1, 3, 1 };
    real out[3] = { 2, -3, 0.5 };
    Tensor yv = tensor_view(out, 3, dim);
    small.T = 1;
    /* x = 0.5, -0.5, 0.1 (mean 1/30), c = 1, -1, 1 (mean 1/3) */
    double mx = 0.1 / 3, mc = 1.0 / 3;
    double sxc = (0.5 - mx) * (1 - mc) + (-0.5 - mx) * (-1 - mc) + (0.1 - mx) * (1 - mc);
    double sxx = (0.5 - mx) * (0.5 - mx) + (-0.5 - mx) * (-0.5 - mx) + (0.1 - mx) * (0.1 - mx);
    CHECK_NEAR(task_psychometric_slope(&small, &yv, TASK_MOTION, TASK_MOTION), sxc / sxx, 1e-12);
    CHECK(isnan(task_psychometric_slope(&small, &yv, TASK_COLOUR, TASK_MOTION)));
    tensor_free(y);
    task_batch_free(&b);

    /* without noise the ideal integrator is always right */
    const char *names[] = { "noise" };
    Value zero[] = { num(0) };
    s = spec("mante", names, zero, 1);
    b = batch(&s, 1, 200);
    y = like(&b);
    task_reference(&s, &b, TASK_REF_IDEAL, y);
    m = task_metric(&s, &b, y);
    CHECK_NEAR(m.ideal, 1, 0);
    CHECK_NEAR(m.value, 1, 0);
    tensor_free(y);
    task_batch_free(&b);
}

static void test_ready_set_go(void)
{
    TaskSpec s = spec0("ready_set_go");
    int64_t B = 400;
    TaskBatch b = batch(&s, 2010, B);
    int64_t T = b.T, bad = 0, n48 = 0;
    for (int64_t j = 0; j < B; j++) {
        const TaskTrial *tr = &b.trial[j];
        bad += tr->interval != 48 && tr->interval != 80;
        n48 += tr->interval == 48;
        bad += tr->ready < 20 || tr->ready > 40 || tr->set != tr->ready + tr->interval;
        int64_t end = tr->set + tr->interval * 3 / 2;
        bad += end > T - 1;
        for (int64_t t = 0; t < T; t++) {
            bad += AT(b.inputs, 2, t, j, 0) != (t == tr->ready);
            bad += AT(b.inputs, 2, t, j, 1) != (t == tr->set);
            bad += AT(b.mask, 1, t, j, 0) != (t <= end);
            double want = t < tr->set || t > end ? 0 : (double)(t - tr->set) / (double)tr->interval;
            bad += fabs(AT(b.targets, 1, t, j, 0) - want) > tol;
        }
        /* the ramp crosses 1 exactly t_s after set */
        double at = AT(b.targets, 1, tr->set + tr->interval, j, 0);
        double before = AT(b.targets, 1, tr->set + tr->interval - 1, j, 0);
        bad += at != 1 || before >= 1;
        bad += task_produced_interval(&AT(b.targets, 1, 0, j, 0), B, T, tr->set) != (double)tr->interval;
    }
    CHECK_INT(bad, 0);
    CHECK_NEAR((double)n48 / (double)B, 0.5, 0.125);

    Tensor *y = like(&b);
    task_reference(&s, &b, TASK_REF_TARGET, y);
    TaskMetric m = task_metric(&s, &b, y);
    CHECK_STR(m.key, "interval_error");
    CHECK_NEAR(m.value, 0, 0);
    CHECK_INT(m.missed, 0);
    tensor_zero(y);
    m = task_metric(&s, &b, y);
    CHECK_NEAR(m.value, 1, 0);
    CHECK_INT(m.missed, B);
    /* a ramp 10% too slow produces 1.1 t_s; one too fast by half, 0.5 t_s */
    for (int64_t j = 0; j < B; j++)
        for (int64_t t = 0; t < T; t++) {
            double ns = (double)b.trial[j].interval * (j % 2 ? 1.1 : 0.5);
            AT(y, 1, t, j, 0) = t < b.trial[j].set ? 0 : (real)((double)(t - b.trial[j].set) / ns);
        }
    m = task_metric(&s, &b, y);
    CHECK_NEAR(m.value, 0.5 * (0.1 + 0.5), 1e-5);
    CHECK_INT(m.missed, 0);
    tensor_free(y);
    task_batch_free(&b);

    /* the crossing by hand: interpolated, at set already, late beyond 2 t_s, never */
    real trace[] = { 5, 0, 0.25, 0.5, 0.75, 1.25, 2 };
    CHECK_NEAR(task_produced_interval(trace, 1, 7, 1), 3.5, 1e-6);
    CHECK_NEAR(task_produced_interval(trace, 1, 7, 0), 0, 0);
    CHECK_NEAR(task_produced_interval(trace, 1, 5, 1), -1, 0);
    real nan_trace[] = { 0, NAN, NAN };
    CHECK_NEAR(task_produced_interval(nan_trace, 1, 3, 0), -1, 0);

    /* intervals rounded to whole steps: 15ms at dt 10ms is 2 steps; T follows */
    const char *names[] = { "intervals", "dt" };
    Value iv[] = { ms(15), ms(30) };
    Value v[] = { list(iv, 2), ms(10) };
    s = spec("ready_set_go", names, v, 2);
    CHECK_INT(s.interval_steps[0], 2);
    CHECK_INT(s.interval_steps[1], 3);
    CHECK_INT(s.lead, 1);
    CHECK_INT(s.T, 2 + 3 + 4 + 1);
    b = batch(&s, 4, 50);
    int64_t over = 0;
    for (int64_t j = 0; j < 50; j++)
        over += b.trial[j].set + 3 * b.trial[j].interval / 2 > b.T - 1;
    CHECK_INT(over, 0);
    task_batch_free(&b);
}

static void test_sine(void)
{
    TaskSpec s = spec0("sine");
    int64_t B = 3;
    TaskBatch b = batch(&s, 0, B);
    int64_t T = b.T, bad = 0;
    for (int64_t t = 0; t < T; t++)
        for (int64_t j = 0; j < B; j++) {
            bad += AT(b.inputs, 1, t, j, 0) != 1;
            bad += fabs(AT(b.targets, 1, t, j, 0) - sin(2 * M_PI * (double)t / 100)) > tol;
        }
    CHECK_INT(bad, 0);
    Tensor *y = like(&b);
    TaskMetric m = task_metric(&s, &b, y);
    CHECK_NEAR(m.value, 0.5, 1e-6);         /* mean of sin^2 over three whole periods */
    task_reference(&s, &b, TASK_REF_IDEAL, y);
    m = task_metric(&s, &b, y);
    CHECK_NEAR(m.value, 0, 0);
    tensor_free(y);
    task_batch_free(&b);
}

static void test_metric_line(void)
{
    TaskSpec s = spec0("adding");
    TaskBatch b = batch(&s, 1, 4);
    Tensor *y = like(&b);
    task_reference(&s, &b, TASK_REF_TARGET, y);
    TaskMetric m = task_metric(&s, &b, y);
    char line[256];
    task_metric_line(&s, &m, 0.0123, line, sizeof line);
    CHECK_STR(line, "evaluate: loss=0.0123 mse=0");
    tensor_free(y);
    task_batch_free(&b);

    s = spec0("flipflop");
    TaskMetric f = { .key = "accuracy", .value = 0.98123 };
    snprintf(f.summary, sizeof f.summary, "accuracy=%.4g", f.value);
    task_metric_line(&s, &f, 0.5, line, sizeof line);
    CHECK_STR(line, "evaluate: loss=0.5 accuracy=0.9812");

    s = spec0("mante");
    b = batch(&s, 8, 200);
    y = like(&b);
    task_reference(&s, &b, TASK_REF_TARGET, y);
    m = task_metric(&s, &b, y);
    task_metric_line(&s, &m, 0.25, line, sizeof line);
    char want[256];
    snprintf(want, sizeof want,
             "evaluate: loss=0.25 accuracy=1 accuracy_motion=1 ideal_motion=%.4g accuracy_colour=1 ideal_colour=%.4g",
             m.ideal_context[0], m.ideal_context[1]);
    CHECK_STR(line, want);
    CHECK(strchr(line, '\n') == NULL);
    /* a short buffer is cut, not overrun */
    char tiny[12];
    task_metric_line(&s, &m, 0.25, tiny, sizeof tiny);
    CHECK_STR(tiny, "evaluate: l");
    tensor_free(y);
    task_batch_free(&b);

    s = spec0("ready_set_go");
    b = batch(&s, 8, 10);
    y = like(&b);
    m = task_metric(&s, &b, y);
    task_metric_line(&s, &m, 1, line, sizeof line);
    CHECK_STR(line, "evaluate: loss=1 interval_error=1");
    tensor_free(y);
    task_batch_free(&b);
}

int main(void)
{
    test_table_matches_builtins();
    test_defaults();
    test_spec_errors();
    test_batch_errors();
    test_shapes();
    test_determinism();
    test_adding();
    test_delayed_addition();
    test_flipflop();
    test_mante();
    test_ready_set_go();
    test_sine();
    test_metric_line();
    source_free_all();
    return check_done("test_tasks");
}
