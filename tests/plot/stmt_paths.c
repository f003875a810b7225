/* stmt_paths.c: the data paths of plot_stmt.h that no statement can reach yet,
 * built by tests/cli/plot_paths.sh against build/<precision>/libcajal.a.
 *
 *   plot loss      training will hand its curve over as a PlotLoss
 *   raster E       a spiking run will leave the recording E.spikes
 *   :set plot      the REPL's words, parsed by plot_stmt_set_term
 *
 * Each is driven as the interpreter will drive it: a real environment from
 * source text, the statement parsed and checked, then plot_stmt or
 * plot_stmt_raster into a file in the current folder. A failure prints file,
 * line, expected and actual; the exit status counts failures.
 */
#include "interp.h"
#include "lex.h"
#include "plot_stmt.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int failures;

#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        if (!(cond)) {                                                    \
            fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, #cond);     \
            fprintf(stderr, __VA_ARGS__);                                 \
            fputc('\n', stderr);                                          \
            failures++;                                                   \
        }                                                                 \
    } while (0)

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* The one statement of text, parsed and checked in the interpreter's scope. */
static Node *statement(Interp *in, const char *text)
{
    SourceFile *f = source_new("<test>", text, strlen(text));
    Node *prog = parse_source(f, &in->arena, &in->diags, NULL);
    if (in->diags.errors || prog->body.n != 1)
        return NULL;
    return check_stmt(&in->checker, prog->body.v[0]) ? prog->body.v[0] : NULL;
}

/* The first message, or "" (diagnostics are cleared). */
static const char *first_message(Interp *in)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%s", in->diags.n ? in->diags.v[0].msg : "");
    diags_clear(&in->diags);
    return buf;
}

static void test_loss(Interp *in)
{
    Node *st = statement(in, "plot loss to \"loss.svg\"");
    CHECK(st != NULL, "plot loss did not parse and check: %s", first_message(in));
    if (!st)
        return;
    CHECK(!plot_stmt(&in->rt, &in->env, st, NULL, &in->diags), "plot loss with nothing trained succeeded");
    const char *msg = first_message(in);
    CHECK(strstr(msg, "nothing has been trained yet") != NULL, "message: %s", msg);
    CHECK(file_size("loss.svg") < 0, "a failed plot loss wrote loss.svg");

    /* Two cost terms over 50 steps, as train will keep them. */
    enum { N = 50 };
    double step[N], value[2 * N];
    for (int t = 0; t < N; t++) {
        step[t] = 10 * t;
        value[t] = 2.0 / (1 + t);          /* fit */
        value[N + t] = 1e-3 * (1 + t % 5);  /* calm */
    }
    const char *names[2] = { "fit", "calm" };
    PlotLoss loss = { names, 2, step, value, N };
    CHECK(plot_stmt(&in->rt, &in->env, st, &loss, &in->diags), "plot loss failed: %s", first_message(in));
    CHECK(file_size("loss.svg") > 1000, "loss.svg: %ld bytes", file_size("loss.svg"));

    PlotFigure *f = plot_figure_new(NULL);
    PlotPanel *p = plot_stmt_add_loss(f, &loss);
    CHECK(p && p->kind == PLOT_LOSS && p->nseries == 2, "the loss panel has %d series", p ? p->nseries : -1);
    CHECK(p && !strcmp(p->series[1].name, "calm") && p->series[1].n == N && p->series[1].y[3] == 4e-3,
          "the second series is not calm's curve");
    PlotLoss empty = { names, 2, step, value, 0 };
    CHECK(plot_stmt_add_loss(f, &empty) == NULL && f->npanels == 1, "an empty curve added a panel");
    plot_figure_free(f);
}

static void test_raster(Interp *in)
{
    Node *st = statement(in, "raster E to \"raster.png\"");
    CHECK(st != NULL, "raster E did not parse and check: %s", first_message(in));
    if (!st)
        return;
    /* Without spikes recorded: the pending message while pending.def lists it. */
    CHECK(!plot_stmt_raster(&in->rt, &in->env, st, &in->diags), "raster with no spikes succeeded");
    const char *msg = first_message(in);
    CHECK(strstr(msg, "raster") != NULL && strstr(msg, "spik") != NULL, "message: %s", msg);

    /* A recording E.spikes [samples 6, trials 2, neurons 3]: trial 0 spikes are
     * neuron 0 at 1 ms and 4 ms, neuron 2 at 2 ms; trial 1 is all spikes. */
    Diags *d = &in->diags;
    int64_t dim[3] = { 6, 2, 3 }, nt = 6;
    Runtime *rt = &in->rt;
    rt->recs = xcalloc(1, sizeof *rt->recs);
    rt->recs[0].name = xstrdup("E.spikes");
    rt->recs[0].dt = 1e-3;
    rt->recs[0].data = tensor_new("E.spikes", 3, dim, d, span_none());
    rt->nrecs = 1;
    rt->times = tensor_new("time", 1, &nt, d, span_none());
    for (int64_t t = 0; t < nt; t++) {
        rt->times->data[t] = (real)(t * 1e-3);
        for (int64_t i = 0; i < 3; i++) {
            real *x = &rt->recs[0].data->data[(t * 2 + 0) * 3 + i];
            x[0] = (real)((i == 0 && (t == 1 || t == 4)) || (i == 2 && t == 2));
            x[3] = 1;   /* trial 1 */
        }
    }
    rt->t_end = 6e-3;
    CHECK(plot_stmt_raster(rt, &in->env, st, d), "raster from E.spikes failed: %s", first_message(in));
    CHECK(file_size("raster.png") > 1000, "raster.png: %ld bytes", file_size("raster.png"));
    runtime_clear_recordings(rt);
}

static void test_set_term(void)
{
    CHECK(plot_stmt_term() == PLOT_TERM_AUTO, "the session starts at auto, not %s", plot_term_name(plot_stmt_term()));
    CHECK(plot_stmt_set_term(" text \n") && plot_stmt_term() == PLOT_TERM_TEXT, "' text \\n' did not set text");
    CHECK(plot_stmt_set_term("sixel") && plot_stmt_term() == PLOT_TERM_SIXEL, "'sixel' did not set sixel");
    CHECK(!plot_stmt_set_term("bogus") && plot_stmt_term() == PLOT_TERM_SIXEL, "'bogus' was taken");
    CHECK(!plot_stmt_set_term("text extra") && plot_stmt_term() == PLOT_TERM_SIXEL, "'text extra' was taken");
    CHECK(!plot_stmt_set_term("") && plot_stmt_term() == PLOT_TERM_SIXEL, "'' was taken");
    CHECK(plot_stmt_set_term("auto") && plot_stmt_term() == PLOT_TERM_AUTO, "'auto' did not set auto");
}

int main(void)
{
    builtins_init();
    Interp in;
    interp_init(&in);
    if (!interp_load_prelude(&in)) {
        interp_flush(&in);
        return 1;
    }
    const char *model = "population E = LIF(3)\n";
    SourceFile *f = source_new("<model>", model, strlen(model));
    if (interp_exec(&in, f) != INTERP_OK) {
        interp_flush(&in);
        return 1;
    }
    test_set_term();
    test_loss(&in);
    test_raster(&in);
    interp_fini(&in);
    if (failures)
        fprintf(stderr, "stmt_paths: %d failed\n", failures);
    return failures != 0;
}
