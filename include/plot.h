/* plot.h: figures drawn by gnuplot, in the terminal or into files.
 *
 * The last stage after run and analysis: a `plot` or `raster` statement fills a
 * PlotFigure (copies of the recorded data, in SI units) and calls plot_render. We
 * write a gnuplot script and feed it to a gnuplot child process through a pipe;
 * gnuplot draws. Nothing here parses cajal or reads tensors: the caller picks the
 * data and the names, this module lays out panels, axes, units and output.
 *
 *   figure                      one `plot a, b` statement
 *   +-- panel 1  (traces)       stacked top to bottom (gnuplot multiplot)
 *   +-- panel 2  (heat map)
 *
 * Where the figure goes (plot_render):
 *   PlotOptions.path set     a file, chosen by extension: .png .svg .pdf, or .gp
 *                            (a gnuplot script plus its data files beside it)
 *   a terminal               text (gnuplot's dumb terminal, colour if the terminal
 *                            has it) or sixel pictures; see plot_terminal_detect
 *   neither                  PLOT_SKIPPED and PLOT_SKIPPED_MESSAGE for the caller
 *
 * Errors (gnuplot missing, a gnuplot error, the time limit, a file that cannot be
 * written) are appended to Diags at the statement's Span; nothing is printed here
 * except the plot itself, and nothing is left behind: no child process, no
 * temporary file, no half-written output file.
 */
#ifndef CAJAL_PLOT_H
#define CAJAL_PLOT_H

#include "diag.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    PLOT_TRACES,     /* series y[k][t] over a shared time axis */
    PLOT_HEATMAP,    /* matrix [rows, cols] with a colour bar */
    PLOT_HIST,       /* histogram of values */
    PLOT_PHASE,      /* y2(t) against y1(t), start marked */
    PLOT_LOSS,       /* named series over training steps */
    PLOT_RASTER,     /* spike times per neuron index */
} PlotKind;

typedef struct PlotSeries {
    char *name;          /* legend entry, e.g. "E.r[0]" */
    double *x, *y;       /* n values each, owned; x is NULL for traces and hist */
    int64_t n;
} PlotSeries;

typedef struct PlotPanel {
    PlotKind kind;
    char *title, *xlabel, *ylabel, *zlabel;   /* owned, any may be NULL */
    double *t;           /* traces: shared time in seconds [nt]; raster: unused */
    int64_t nt;
    PlotSeries *series;  /* [nseries]; raster: x = spike time (s), y = neuron index */
    int nseries, cap;
    double *m;           /* heat map [rows, cols], row-major: row i = post, column j = pre */
    int64_t rows, cols;  /* raster: rows = number of neurons */
    double t_end;        /* raster: time axis ends here (s); 0: at the last spike */
} PlotPanel;

typedef struct PlotFigure {
    char *title;         /* above all panels; may be NULL */
    PlotPanel **panels;
    int npanels, cap;
} PlotFigure;

/* Figures. Every function copies what it is given; the figure owns the copies
 * and plot_figure_free releases them all. Labels carry their unit as the user
 * reads it ("rate (Hz)"); time axes are labelled and scaled here. */
PlotFigure *plot_figure_new(const char *title);
void plot_figure_free(PlotFigure *f);

/* A traces panel over times t[nt] (seconds). Add series with plot_traces_add. */
PlotPanel *plot_add_traces(PlotFigure *f, const char *title, const double *t, int64_t nt,
                           const char *ylabel);
void plot_traces_add(PlotPanel *p, const char *name, const double *y);   /* y[nt] */

/* A heat map of m[rows, cols] (row-major). x is the column (pre) index, y the row
 * (post) index with row 0 at the top, as the matrix is written. zlabel names the
 * colour bar. Values of both signs get a diverging palette centred on 0. */
PlotPanel *plot_add_heatmap(PlotFigure *f, const char *title, const double *m,
                            int64_t rows, int64_t cols, const char *xlabel,
                            const char *ylabel, const char *zlabel);

/* A histogram of v[n]; bins by the Freedman-Diaconis rule, see plot_hist_bins. */
PlotPanel *plot_add_hist(PlotFigure *f, const char *title, const double *v, int64_t n,
                         const char *xlabel);

/* A trajectory (x[k], y[k]), k = 0..n-1 in time order; the start is marked. */
PlotPanel *plot_add_phase(PlotFigure *f, const char *title, const char *name,
                          const double *x, const double *y, int64_t n,
                          const char *xlabel, const char *ylabel);

/* A loss panel; add one series per cost term with plot_loss_add. The y axis is
 * logarithmic when every value is positive and they span more than a factor 20. */
PlotPanel *plot_add_loss(PlotFigure *f, const char *title);
void plot_loss_add(PlotPanel *p, const char *name, const double *step, const double *value,
                   int64_t n);

/* A raster: spike k of n is neuron[k] firing at t[k] seconds; neurons 0..nneurons-1
 * are on the y axis, time runs from 0 to t_end (0: to the last spike). */
PlotPanel *plot_add_raster(PlotFigure *f, const char *title, const double *t,
                           const int32_t *neuron, int64_t n, int64_t nneurons, double t_end);

/* The number of histogram bins for v[n]: Freedman-Diaconis, width 2 IQR / n^(1/3)
 * over the range of the finite values, clamped to [10, 100]; sqrt(n) clamped the
 * same way when the IQR is 0. */
int plot_hist_bins(const double *v, int64_t n);

/* Where terminal plots go. AUTO: $CAJAL_PLOT if set, else detection. */
typedef enum { PLOT_TERM_AUTO, PLOT_TERM_TEXT, PLOT_TERM_SIXEL } PlotTerm;

/* "auto", "text", "sixel" <-> PlotTerm, for `:set plot` and $CAJAL_PLOT. */
bool plot_term_parse(const char *s, PlotTerm *out);
const char *plot_term_name(PlotTerm t);

typedef struct PlotOptions {
    const char *path;      /* write this file; NULL: the terminal */
    PlotTerm term;         /* the REPL's `:set plot`; TEXT, SIXEL draw even on no tty */
    int out_fd;            /* terminal plots are written here (default STDOUT_FILENO) */
    int color;             /* text colour: -1 detect, 0 mono, 1 ansi256 */
    int text_cols, text_rows;   /* text size in characters; 0: the window's */
    int width, height;     /* picture size in pixels; 0: 900 wide, 360 a panel
                              (a lone heat map 640 x 540; sixel: the window's) */
    double timeout;        /* seconds gnuplot may take (default 10) */
    const char *gnuplot;   /* executable; NULL: $CAJAL_GNUPLOT, else gnuplot on PATH */
    const char *debug_commands;   /* test hook: gnuplot commands run before the plots */
} PlotOptions;

void plot_options_init(PlotOptions *o);

typedef enum { PLOT_DONE, PLOT_SKIPPED, PLOT_FAILED } PlotStatus;

#define PLOT_SKIPPED_MESSAGE \
    "plot skipped: output is not a terminal (write it to a file with: plot ... to \"fig.png\")"

/* Draws f; f is only read. PLOT_DONE: the plot is on out_fd, or the file is
 * complete under its name. PLOT_SKIPPED: no file was asked for, no kind forced
 * and out_fd is not a terminal; the caller prints PLOT_SKIPPED_MESSAGE.
 * PLOT_FAILED: diagnostics at `at` say why; a file that existed under the
 * requested name is untouched, and no new one appears. Stdout is flushed first
 * so that earlier output comes before the plot. */
PlotStatus plot_render(const PlotFigure *f, const PlotOptions *o, Span at, Diags *d);

/* What a terminal plot on fd would use. */
typedef struct PlotScreen {
    PlotTerm term;       /* TEXT or SIXEL; AUTO means "not a terminal: skip" */
    bool color;          /* text: ansi256 */
    int cols, rows;      /* characters */
    int xpixels, ypixels;   /* window pixels if the terminal says, else 0 */
} PlotScreen;

/* Decides as plot_render does: a forced term (argument or $CAJAL_PLOT) is used
 * as given; otherwise fd must be a terminal, and it is SIXEL when stdin and fd are
 * terminals that answer the DA1 query (ESC [ c) with attribute 4 within 200 ms
 * (asked once a process), TEXT otherwise. Size: TIOCGWINSZ on fd, then $COLUMNS
 * and $LINES, then 80x24. An unknown $CAJAL_PLOT value adds a warning at `at`. */
PlotScreen plot_terminal_detect(int fd, PlotTerm want, Span at, Diags *d);

#endif
