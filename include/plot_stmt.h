/* plot_stmt.h: the plot and raster statements, from model values to a figure.
 *
 *   plot E.r[0:10]             traces of a recording over time (trial 0)
 *   plot J.w, hist(J.w)        a heat map and a histogram, stacked
 *   plot E.r[0] vs E.r[1]      a trajectory in a plane
 *   plot loss                  the cost terms over training steps
 *   raster E to "spikes.png"   spike trains (needs the recording E.spikes)
 *
 * This is the step between run and plot.c: it evaluates each item against the
 * recordings of the last simulation (inspect_value_tensor), picks the panel kind,
 * names, titles and axis units, and hands a PlotFigure to plot_render, which
 * draws it with gnuplot in the terminal or into the `to` file. Values are shown
 * in a readable unit ("E.v (mV)"): the checker's unit of the variable, with the
 * SI prefix that suits the largest value.
 *
 * When output is not a terminal and no file is asked for, the statement prints
 * PLOT_SKIPPED_MESSAGE (plot.h) as one line on stderr and succeeds.
 */
#ifndef CAJAL_PLOT_STMT_H
#define CAJAL_PLOT_STMT_H

#include "plot.h"
#include "runtime.h"

/* A loss curve, as training keeps it: nterms named cost terms ("fit", "calm",
 * or "loss" alone), each with a value at every recorded step. Borrowed. */
typedef struct PlotLoss {
    const char *const *names;   /* [nterms] */
    int nterms;
    const double *step;         /* [n] training step of each entry */
    const double *value;        /* [nterms, n] row-major: term k at step[t] is value[k * n + t] */
    int64_t n;
} PlotLoss;

/* `plot ITEM, ... [to "FILE"]` (st is AST_PLOT). loss is the curve of the last
 * training run, or NULL when nothing has been trained. Returns true when the
 * plot was drawn, written, or skipped (not a terminal); false after appending
 * diagnostics at the item or statement that failed. Nothing is left behind on
 * failure: no file, no child process. */
bool plot_stmt(Runtime *rt, const Env *env, const Node *st, const PlotLoss *loss, Diags *d);

/* `raster POP, ... [to "FILE"]` (st is AST_RASTER): a panel a population, from
 * its recording POP.spikes ([samples, B, n], nonzero where neuron i spiked in
 * that sample's step; trial 0 is drawn). While spiking networks are pending
 * (include/pending.def) and there is no such recording, it stops with the
 * pending message. Returns as plot_stmt. */
bool plot_stmt_raster(Runtime *rt, const Env *env, const Node *st, Diags *d);

/* Adds the panel of `plot loss` to f: one series a cost term, over steps.
 * Returns the panel, or NULL (nothing added) when loss is NULL or empty. */
PlotPanel *plot_stmt_add_loss(PlotFigure *f, const PlotLoss *loss);

/* The REPL's `:set plot text|sixel|auto` for the rest of the session. word may
 * carry surrounding blanks. Returns false, changing nothing, for another word. */
bool plot_stmt_set_term(const char *word);

/* The current setting, for `:set plot` alone: AUTO, TEXT or SIXEL. */
PlotTerm plot_stmt_term(void);

#endif
