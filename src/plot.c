/* plot.c: figures as gnuplot scripts, and the gnuplot child process that draws them.
 *
 * The last stage: `plot` and `raster` hand over copies of recorded data and we
 * never draw a pixel ourselves. A figure becomes one gnuplot script (settings,
 * data, `plot` commands), fed to gnuplot through a pipe:
 *
 *   cajal --script, inline data ($d1 << EOD)--> stdin  gnuplot
 *         <--------- error messages ----------- stderr
 *         <--------- terminal plots ----------- stdout      (relayed to out_fd)
 *
 * Facts that shaped it:
 * - gnuplot is a separate program that may be missing, slow or failing. It is
 *   started with posix_spawnp (no shell), in its own process group so that a
 *   time limit can end it and anything it started; we always waitpid. SIGPIPE is
 *   ignored while we write, so a gnuplot that dies early cannot take cajal along.
 * - We write stdin, read stderr and relay stdout in one poll loop: a gnuplot that
 *   reports many errors while we are still sending data would otherwise block
 *   both sides, and a reader of out_fd that stops reading cannot hold us past
 *   the time limit. The relay also drops the form feed that gnuplot's dumb
 *   terminal puts before every page.
 * - Files appear whole or not at all: gnuplot writes images to a temporary name
 *   in the target folder that we rename when it exits successfully; the .gp
 *   script and its data we write to temporary names and rename.
 * - gnuplot's dumb terminal draws a heat map as one solid block, so in text mode
 *   we draw matrices ourselves (text_heat) and gnuplot prints them in turn with
 *   the other panels; text panels follow one another instead of sharing a
 *   multiplot page.
 * - Time arrives in seconds and is shown in s, ms or µs, whichever reads best.
 */
#include "plot.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

enum {
    IMAGE_WIDTH = 900,       /* pixels, default picture width */
    PANEL_HEIGHT = 360,      /* pixels a panel, default */
    STDERR_KEEP = 64 * 1024, /* bytes of gnuplot's stderr kept for messages */
    MAX_KEY = 12,            /* more series than this: no legend */
};

static const double KILL_GRACE = 0.5;   /* seconds between SIGTERM and SIGKILL */
static const double DA1_WAIT = 0.2;     /* seconds to wait for the terminal's answer */

/* ---------------------------------------------------------------- figures */

static char *dup_or_null(const char *s) { return s ? xstrdup(s) : NULL; }

static double *dup_doubles(const double *v, int64_t n)
{
    double *c = xmalloc((size_t)(n > 0 ? n : 1) * sizeof *c);
    if (n > 0)
        memcpy(c, v, (size_t)n * sizeof *c);
    return c;
}

PlotFigure *plot_figure_new(const char *title)
{
    PlotFigure *f = xcalloc(1, sizeof *f);
    f->title = dup_or_null(title);
    return f;
}

void plot_figure_free(PlotFigure *f)
{
    if (!f)
        return;
    for (int i = 0; i < f->npanels; i++) {
        PlotPanel *p = f->panels[i];
        for (int k = 0; k < p->nseries; k++) {
            free(p->series[k].name);
            free(p->series[k].x);
            free(p->series[k].y);
        }
        free(p->series);
        free(p->title);
        free(p->xlabel);
        free(p->ylabel);
        free(p->zlabel);
        free(p->t);
        free(p->m);
        free(p);
    }
    free(f->panels);
    free(f->title);
    free(f);
}

static PlotPanel *add_panel(PlotFigure *f, PlotKind kind, const char *title,
                            const char *xlabel, const char *ylabel)
{
    if (f->npanels == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 4;
        f->panels = xrealloc(f->panels, (size_t)f->cap * sizeof *f->panels);
    }
    PlotPanel *p = xcalloc(1, sizeof *p);
    p->kind = kind;
    p->title = dup_or_null(title);
    p->xlabel = dup_or_null(xlabel);
    p->ylabel = dup_or_null(ylabel);
    f->panels[f->npanels++] = p;
    return p;
}

/* Takes x and y (already copies). */
static void add_series(PlotPanel *p, const char *name, double *x, double *y, int64_t n)
{
    if (p->nseries == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 4;
        p->series = xrealloc(p->series, (size_t)p->cap * sizeof *p->series);
    }
    p->series[p->nseries++] = (PlotSeries){ dup_or_null(name), x, y, n };
}

PlotPanel *plot_add_traces(PlotFigure *f, const char *title, const double *t, int64_t nt,
                           const char *ylabel)
{
    PlotPanel *p = add_panel(f, PLOT_TRACES, title, NULL, ylabel);
    p->t = dup_doubles(t, nt);
    p->nt = nt;
    return p;
}

void plot_traces_add(PlotPanel *p, const char *name, const double *y)
{
    add_series(p, name, NULL, dup_doubles(y, p->nt), p->nt);
}

PlotPanel *plot_add_heatmap(PlotFigure *f, const char *title, const double *m,
                            int64_t rows, int64_t cols, const char *xlabel,
                            const char *ylabel, const char *zlabel)
{
    PlotPanel *p = add_panel(f, PLOT_HEATMAP, title, xlabel, ylabel);
    p->zlabel = dup_or_null(zlabel);
    p->m = dup_doubles(m, rows * cols);
    p->rows = rows;
    p->cols = cols;
    return p;
}

PlotPanel *plot_add_hist(PlotFigure *f, const char *title, const double *v, int64_t n,
                         const char *xlabel)
{
    PlotPanel *p = add_panel(f, PLOT_HIST, title, xlabel, "count");
    add_series(p, title, NULL, dup_doubles(v, n), n);
    return p;
}

PlotPanel *plot_add_phase(PlotFigure *f, const char *title, const char *name,
                          const double *x, const double *y, int64_t n,
                          const char *xlabel, const char *ylabel)
{
    PlotPanel *p = add_panel(f, PLOT_PHASE, title, xlabel, ylabel);
    add_series(p, name, dup_doubles(x, n), dup_doubles(y, n), n);
    return p;
}

PlotPanel *plot_add_loss(PlotFigure *f, const char *title)
{
    return add_panel(f, PLOT_LOSS, title, "step", "loss");
}

void plot_loss_add(PlotPanel *p, const char *name, const double *step, const double *value,
                   int64_t n)
{
    add_series(p, name, dup_doubles(step, n), dup_doubles(value, n), n);
}

PlotPanel *plot_add_raster(PlotFigure *f, const char *title, const double *t,
                           const int32_t *neuron, int64_t n, int64_t nneurons, double t_end)
{
    PlotPanel *p = add_panel(f, PLOT_RASTER, title, NULL, "neuron");
    double *y = xmalloc((size_t)(n > 0 ? n : 1) * sizeof *y);
    for (int64_t k = 0; k < n; k++)
        y[k] = neuron[k];
    add_series(p, title, dup_doubles(t, n), y, n);
    p->rows = nneurons;
    p->t_end = t_end;
    return p;
}

/* ---------------------------------------------------------------- text buffer */

typedef struct Buf {
    char *s;
    size_t n, cap;
} Buf;

static void buf_reserve(Buf *b, size_t more)
{
    if (b->n + more + 1 > b->cap) {
        while (b->n + more + 1 > b->cap)
            b->cap = b->cap ? 2 * b->cap : 4096;
        b->s = xrealloc(b->s, b->cap);
    }
}

static void buf_write(Buf *b, const char *s, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

static void buf_puts(Buf *b, const char *s) { buf_write(b, s, strlen(s)); }

__attribute__((format(printf, 2, 3)))
static void buf_printf(Buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->s + b->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
}

/* A gnuplot single-quoted string: quotes are doubled, control bytes become spaces. */
static void buf_quoted(Buf *b, const char *s)
{
    buf_puts(b, "'");
    for (const char *c = s ? s : ""; *c; c++) {
        if (*c == '\'')
            buf_puts(b, "''");
        else if ((unsigned char)*c < 32 || *c == 127)
            buf_puts(b, " ");
        else
            buf_write(b, c, 1);
    }
    buf_puts(b, "'");
}

/* A comment line in data: control bytes (a newline would end it) become spaces. */
static void buf_comment(Buf *b, const char *s)
{
    for (const char *c = s ? s : ""; *c; c++)
        buf_write(b, (unsigned char)*c < 32 || *c == 127 ? " " : c, 1);
}

/* A data value; gnuplot reads NaN as "no point here" and breaks lines there. */
static void buf_num(Buf *b, double v)
{
    if (isfinite(v))
        buf_printf(b, "%.10g", v);
    else
        buf_puts(b, "NaN");
}

/* ---------------------------------------------------------------- panel layout */

/* What a panel needs beyond its data, worked out once for script and data. */
typedef struct Layout {
    double tscale;           /* traces, raster: seconds -> displayed unit */
    const char *tunit;
    double lo, hi;           /* finite range of the values (y, or matrix entries) */
    bool any;                /* at least one finite value */
    bool diverging;          /* heat map: both signs */
    bool logy;               /* loss */
    int bins;                /* hist */
    double bin0, binw;
} Layout;

static void range_of(const double *v, int64_t n, Layout *l)
{
    for (int64_t k = 0; k < n; k++) {
        if (!isfinite(v[k]))
            continue;
        if (!l->any || v[k] < l->lo)
            l->lo = v[k];
        if (!l->any || v[k] > l->hi)
            l->hi = v[k];
        l->any = true;
    }
}

static void time_unit(double span, Layout *l)
{
    if (span >= 10) {
        l->tscale = 1;
        l->tunit = "s";
    } else if (span >= 1e-3) {
        l->tscale = 1e3;
        l->tunit = "ms";
    } else {
        l->tscale = 1e6;
        l->tunit = "µs";
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Quantile q of sorted s[n] by linear interpolation. */
static double quantile(const double *s, int64_t n, double q)
{
    double pos = q * (double)(n - 1);
    int64_t i = (int64_t)pos;
    if (i >= n - 1)
        return s[n - 1];
    return s[i] + (pos - (double)i) * (s[i + 1] - s[i]);
}

int plot_hist_bins(const double *v, int64_t n)
{
    double *s = xmalloc((size_t)(n > 0 ? n : 1) * sizeof *s);
    int64_t m = 0;
    for (int64_t k = 0; k < n; k++)
        if (isfinite(v[k]))
            s[m++] = v[k];
    double bins = 10;
    if (m > 1) {
        qsort(s, (size_t)m, sizeof *s, cmp_double);
        double iqr = quantile(s, m, 0.75) - quantile(s, m, 0.25);
        double width = 2 * iqr / cbrt((double)m);
        double range = s[m - 1] - s[0];
        bins = width > 0 ? ceil(range / width) : ceil(sqrt((double)m));
    }
    free(s);
    return bins < 10 ? 10 : bins > 100 ? 100 : (int)bins;
}

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

typedef enum { OUT_TEXT, OUT_SIXEL, OUT_PNG, OUT_SVG, OUT_PDF, OUT_GP } OutKind;

typedef struct Target {
    OutKind kind;
    bool color;              /* text: ansi256 */
    int w, h;                /* characters (text) or pixels */
    const char *output;      /* path for `set output`; NULL: stdout */
    char **datafiles;        /* .gp: one data file name a panel; NULL: inline */
    const char *debug;       /* extra commands before the plots */
} Target;

static void layout_panel(const PlotPanel *p, Layout *l)
{
    memset(l, 0, sizeof *l);
    l->tscale = 1;
    switch (p->kind) {
    case PLOT_TRACES: {
        Layout tr = { 0 };
        range_of(p->t, p->nt, &tr);
        time_unit(tr.any ? fmax(fabs(tr.lo), fabs(tr.hi)) : 0, l);
        for (int k = 0; k < p->nseries; k++)
            range_of(p->series[k].y, p->series[k].n, l);
        break;
    }
    case PLOT_RASTER: {
        Layout tr = { 0 };
        range_of(p->series[0].x, p->series[0].n, &tr);
        double span = fmax(p->t_end, tr.any ? tr.hi : 0);
        time_unit(span, l);
        l->any = true;   /* an empty raster is a plot too: no spikes */
        break;
    }
    case PLOT_HEATMAP:
        range_of(p->m, p->rows * p->cols, l);
        l->diverging = l->any && l->lo < 0 && l->hi > 0;
        break;
    case PLOT_HIST: {
        const PlotSeries *s = &p->series[0];
        range_of(s->y, s->n, l);
        l->bins = plot_hist_bins(s->y, s->n);
        double lo = l->lo, hi = l->hi;
        if (hi <= lo) {
            lo -= 0.5;
            hi += 0.5;
        }
        l->bin0 = lo;
        l->binw = (hi - lo) / l->bins;
        break;
    }
    case PLOT_PHASE:
        range_of(p->series[0].x, p->series[0].n, l);
        break;
    case PLOT_LOSS:
        for (int k = 0; k < p->nseries; k++)
            range_of(p->series[k].y, p->series[k].n, l);
        l->logy = l->any && l->lo > 0 && l->hi > 20 * l->lo;
        break;
    }
}

/* ---------------------------------------------------------------- data */

/* Text heat maps are drawn here, not by gnuplot: its dumb terminal shows `with
 * image` as one block. A cell is a shade character, two wide so that cells are
 * about square (on colour terminals a background colour instead), and the key
 * beside the grid gives each shade's value range in place of a colour bar. A
 * matrix larger than the room is shown as means of blocks, and the title says so.
 *
 *                 J.w
 *          pre
 *    post  0 1 2 3
 *       0  ++++####   w
 *       1  ....++##   # 3 to 5
 *       2  ####--++   + 1 to 3
 *       3  ..++++##   . -1 to 1
 *                     - -3 to -1
 *                     = -5 to -3
 *
 * Shades split the value range in five equal parts: diverging maps (both signs,
 * centred on 0) from '=' (most negative) through '.' (near 0) to '#'; one-signed
 * maps from '.' (lowest) to '@' (highest). */
static const char DIV_SHADE[5] = { '=', '-', '.', '+', '#' };
static const char SEQ_SHADE[5] = { '.', ':', '+', '#', '@' };
static const int DIV_ANSI[5] = { 25, 117, 253, 216, 124 };   /* xterm 256-colour codes */
static const int SEQ_ANSI[5] = { 54, 25, 30, 71, 184 };

static void shade_edges(const Layout *l, double edge[6])
{
    double lo = l->lo, hi = l->hi;
    if (l->diverging) {
        hi = fmax(-lo, hi);
        lo = -hi;
    }
    if (hi <= lo)
        hi = lo + 1;
    for (int k = 0; k <= 5; k++)
        edge[k] = lo + (hi - lo) * k / 5;
}

static int shade_of(double v, const double edge[6])
{
    int k = (int)floor((v - edge[0]) / (edge[5] - edge[0]) * 5);
    return k < 0 ? 0 : k > 4 ? 4 : k;
}

/* Mean of the block of rows [I by, (I+1) by) and columns [J bx, (J+1) bx); NaN if
 * it holds no finite value. */
static double block_mean(const PlotPanel *p, int64_t by, int64_t bx, int64_t I, int64_t J)
{
    double sum = 0;
    int64_t n = 0;
    for (int64_t i = I * by; i < (I + 1) * by && i < p->rows; i++)
        for (int64_t j = J * bx; j < (J + 1) * bx && j < p->cols; j++)
            if (isfinite(p->m[i * p->cols + j])) {
                sum += p->m[i * p->cols + j];
                n++;
            }
    return n ? sum / (double)n : NAN;
}

/* The smallest of 1, 2, 5, 10, 20, 50, ... that is at least n. */
static int64_t nice_step(int64_t n)
{
    for (int64_t decade = 1;; decade *= 10)
        for (int k = 0; k < 3; k++) {
            int64_t step = decade * (int64_t[]){ 1, 2, 5 }[k];
            if (step >= n)
                return step;
        }
}

static int digits(int64_t n)
{
    int d = 1;
    while (n >= 10) {
        n /= 10;
        d++;
    }
    return d;
}

static void pad(Buf *b, int64_t n)
{
    while (n-- > 0)
        buf_puts(b, " ");
}

/* Appends the heat map as lines of at most about w columns and h rows. */
static void text_heat(Buf *b, const PlotPanel *p, const Layout *l, bool color, int w, int h,
                      const char *title)
{
    double edge[6];
    shade_edges(l, edge);
    const char *shade = l->diverging ? DIV_SHADE : SEQ_SHADE;
    const int *ansi = l->diverging ? DIV_ANSI : SEQ_ANSI;

    Buf key[6] = { { 0 } };   /* colour bar label, then the shades from high to low */
    int keyw = 0;
    buf_puts(&key[0], p->zlabel ? p->zlabel : "");
    keyw = (int)key[0].n;
    for (int k = 4; k >= 0; k--) {
        Buf *e = &key[5 - k];
        if (color)
            buf_printf(e, "\033[48;5;%dm  \033[0m", ansi[k]);
        else
            buf_printf(e, "%c%c", shade[k], shade[k]);
        size_t at = e->n;
        buf_printf(e, " %.2g to %.2g", edge[k], edge[k + 1]);
        int vis = 2 + (int)(e->n - at);
        keyw = vis > keyw ? vis : keyw;
    }

    const char *xlabel = p->xlabel ? p->xlabel : "", *ylabel = p->ylabel ? p->ylabel : "";
    int ylen = (int)strlen(ylabel), rdig = digits(p->rows > 0 ? p->rows - 1 : 0);
    int gutter = (ylen > rdig ? ylen : rdig) + 2;
    int64_t room_w = w - gutter - 3 - keyw, room_h = h - 4;
    room_w = room_w < 4 ? 4 : room_w;
    room_h = room_h < 2 ? 2 : room_h;
    int64_t cw = 2, bx = 1, by = ceil_div(p->rows, room_h);
    if (2 * p->cols > room_w) {
        cw = 1;
        bx = ceil_div(p->cols, room_w);
    }
    int64_t R = ceil_div(p->rows, by), C = ceil_div(p->cols, bx), gridw = C * cw;

    Buf t = { 0 };
    buf_puts(&t, title ? title : "");
    if (bx > 1 || by > 1)
        buf_printf(&t, "%s(means of %lldx%lld blocks)", t.n ? " " : "", (long long)by,
                   (long long)bx);
    int64_t indent = (gutter + gridw - (int64_t)t.n) / 2;
    pad(b, indent > 1 ? indent : 1);   /* never flush left: never the datablock's end */
    buf_comment(b, t.s);
    buf_puts(b, "\n");
    free(t.s);
    pad(b, gutter);
    buf_comment(b, xlabel);
    buf_puts(b, "\n");

    /* column numbers: at least one space between them, at multiples of a nice step */
    int cdig = digits(p->cols > 0 ? p->cols - 1 : 0);
    int64_t cstep = nice_step(ceil_div(cdig + 1, cw) * bx);
    size_t linew = (size_t)(gridw + cdig + 1);
    char *line = xmalloc(linew + 1);
    memset(line, ' ', linew);
    line[linew] = 0;
    for (int64_t J = 0; J < C; J++)
        if (J * bx % cstep == 0) {
            char num[24];
            int n = snprintf(num, sizeof num, "%lld", (long long)(J * bx));
            memcpy(line + J * cw, num, (size_t)n);
        }
    size_t end = linew;
    while (end > 0 && line[end - 1] == ' ')
        end--;
    line[end] = 0;
    buf_printf(b, "%*s  %s\n", gutter - 2, ylabel, line);
    free(line);

    int64_t rstep = nice_step((R > 12 ? ceil_div(R, 8) : 1) * by);
    for (int64_t I = 0; I < R || I < 6; I++) {
        if (I < R && I * by % rstep == 0)
            buf_printf(b, "%*lld  ", gutter - 2, (long long)(I * by));
        else
            pad(b, gutter);
        for (int64_t J = 0; J < C; J++) {
            double v = I < R ? block_mean(p, by, bx, I, J) : NAN;
            if (!isfinite(v))
                pad(b, cw);
            else if (color)
                buf_printf(b, "\033[48;5;%dm%*s\033[0m", ansi[shade_of(v, edge)], (int)cw, "");
            else
                for (int64_t k = 0; k < cw; k++)
                    buf_write(b, &shade[shade_of(v, edge)], 1);
        }
        if (I < 6 && key[I].n)
            buf_printf(b, "   %s", key[I].s);
        buf_puts(b, "\n");
    }
    for (int k = 0; k < 6; k++)
        free(key[k].s);
}

/* One panel's data in gnuplot's format: blocks separated by two blank lines,
 * addressed in the plot command as `index k`.
 *   traces   time (unit) | y of each series, one row a time step
 *   heat     the matrix (`matrix` format)
 *   hist     bin centre | count | bin width
 *   phase    x | y
 *   loss     per series: step | value
 *   raster   time (unit) | neuron */
static void panel_data(Buf *b, const PlotPanel *p, const Layout *l)
{
    switch (p->kind) {
    case PLOT_TRACES:
        buf_printf(b, "# time (%s)", l->tunit);
        for (int k = 0; k < p->nseries; k++) {
            buf_puts(b, " | ");
            buf_comment(b, p->series[k].name);
        }
        buf_puts(b, "\n");
        for (int64_t t = 0; t < p->nt; t++) {
            buf_num(b, p->t[t] * l->tscale);
            for (int k = 0; k < p->nseries; k++) {
                buf_puts(b, " ");
                buf_num(b, p->series[k].y[t]);
            }
            buf_puts(b, "\n");
        }
        break;
    case PLOT_HEATMAP:
        buf_printf(b, "# %lld rows (post) x %lld columns (pre)\n", (long long)p->rows,
                   (long long)p->cols);
        for (int64_t i = 0; i < p->rows; i++) {
            for (int64_t j = 0; j < p->cols; j++) {
                if (j)
                    buf_puts(b, " ");
                buf_num(b, p->m[i * p->cols + j]);
            }
            buf_puts(b, "\n");
        }
        break;
    case PLOT_HIST: {
        int64_t *count = xcalloc((size_t)l->bins, sizeof *count);
        const PlotSeries *s = &p->series[0];
        for (int64_t k = 0; k < s->n; k++) {
            if (!isfinite(s->y[k]))
                continue;
            int64_t bin = (int64_t)floor((s->y[k] - l->bin0) / l->binw);
            count[bin < 0 ? 0 : bin >= l->bins ? l->bins - 1 : bin]++;
        }
        buf_printf(b, "# bin centre | count | bin width (%d bins)\n", l->bins);
        for (int k = 0; k < l->bins; k++) {
            buf_num(b, l->bin0 + (k + 0.5) * l->binw);
            buf_printf(b, " %lld ", (long long)count[k]);
            buf_num(b, l->binw);
            buf_puts(b, "\n");
        }
        free(count);
        break;
    }
    case PLOT_PHASE:
    case PLOT_LOSS:
    case PLOT_RASTER:
        for (int k = 0; k < p->nseries; k++) {
            const PlotSeries *s = &p->series[k];
            double xs = p->kind == PLOT_RASTER ? l->tscale : 1;
            buf_puts(b, k ? "\n\n# " : "# ");
            buf_comment(b, s->name);
            buf_puts(b, "\n");
            for (int64_t i = 0; i < s->n; i++) {
                buf_num(b, s->x[i] * xs);
                buf_puts(b, " ");
                buf_num(b, s->y[i]);
                buf_puts(b, "\n");
            }
        }
        break;
    }
}

/* ---------------------------------------------------------------- script */

/* Series colours (colour-blind safe, Okabe and Ito 2008), used by line types 1-8. */
static const char *const LINE_COLOR[8] = {
    "#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#f0e442",
};

static void script_terminal(Buf *b, const Target *tg, int h)
{
    const char *common = "noenhanced font 'sans,11' background rgb 'white'";
    switch (tg->kind) {
    case OUT_TEXT:
        buf_printf(b, "set terminal dumb size %d,%d %s feed noenhanced\n", tg->w, h,
                   tg->color ? "ansi256" : "mono");
        break;
    case OUT_SIXEL:
        buf_printf(b, "set terminal sixelgd size %d,%d truecolor %s\n", tg->w, tg->h, common);
        break;
    case OUT_PNG:
    case OUT_GP:
        buf_printf(b,
                   "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
                   "    set terminal pngcairo size %d,%d %s\n"
                   "} else {\n"
                   "    set terminal png size %d,%d truecolor %s\n"
                   "}\n",
                   tg->w, tg->h, common, tg->w, tg->h, common);
        break;
    case OUT_SVG:
        buf_printf(b, "set terminal svg size %d,%d %s\n", tg->w, tg->h, common);
        break;
    case OUT_PDF:
        buf_printf(b, "set terminal pdfcairo size %.2fin,%.2fin noenhanced font 'sans,9'\n",
                   tg->w / 100.0, tg->h / 100.0);
        break;
    }
    if (tg->output) {
        buf_puts(b, "set output ");
        buf_quoted(b, tg->output);
        buf_puts(b, "\n");
    }
    for (int k = 0; k < 8; k++)
        buf_printf(b, "set linetype %d lc rgb '%s'%s\n", k + 1, LINE_COLOR[k],
                   tg->kind == OUT_TEXT ? "" : " lw 2 pt 7");
    buf_puts(b, "set linetype cycle 8\n");
}

/* The settings every panel starts from. */
static void panel_style(Buf *b, const Target *tg)
{
    buf_puts(b, "reset\n");
    if (tg->kind == OUT_TEXT) {
        buf_puts(b, "set border 3\nset tics nomirror scale 0.5\n"
                    "set key below center horizontal width 2\n");
        return;
    }
    buf_puts(b,
             "set border 3 lc rgb '#404040'\n"
             "set tics nomirror out scale 0.6 textcolor rgb '#202020'\n"
             "set grid back lc rgb '#dcdcdc' lw 1 dt solid\n"
             "set key outside right top vertical Left reverse nobox samplen 2 spacing 1.2 "
             "width 1\n"
             "set lmargin 12\n");
}

static void set_label(Buf *b, const char *what, const char *text)
{
    if (!text)
        return;
    buf_printf(b, "set %s ", what);
    buf_quoted(b, text);
    buf_puts(b, "\n");
}

/* Integer tics for an index axis of n entries. */
static void index_tics(Buf *b, const char *axis, int64_t n)
{
    if (n <= 20)
        buf_printf(b, "set %stics %lld\n", axis, (long long)(n <= 10 ? 1 : 2));
    buf_printf(b, "set format %s '%%.0f'\n", axis);
}

static void series_title(Buf *b, const PlotSeries *s, bool key)
{
    if (key && s->name) {
        buf_puts(b, " title ");
        buf_quoted(b, s->name);
    } else {
        buf_puts(b, " notitle");
    }
}

/* Panels of a stacked picture share a right margin wide enough for the widest
 * key, so that their time axes line up; 0 when no panel has a key. */
static int key_margin(const PlotFigure *f)
{
    size_t widest = 0;
    for (int i = 0; i < f->npanels; i++) {
        const PlotPanel *p = f->panels[i];
        if (p->kind != PLOT_TRACES && p->kind != PLOT_LOSS && p->kind != PLOT_PHASE)
            continue;
        if (p->nseries > MAX_KEY)
            continue;
        for (int k = 0; k < p->nseries; k++)
            if (p->series[k].name && strlen(p->series[k].name) > widest)
                widest = strlen(p->series[k].name);
        if (p->kind == PLOT_PHASE && widest < 5)
            widest = 5;   /* "start" */
    }
    return widest ? (int)widest + 8 : 0;
}

/* One panel's settings and plot command; its data is src (a datablock or file). */
static void panel_plot(Buf *b, const PlotPanel *p, const Layout *l, const Target *tg,
                       const char *src, const char *title, int rmargin)
{
    bool text = tg->kind == OUT_TEXT;
    bool key = p->nseries <= MAX_KEY;
    panel_style(b, tg);
    if (rmargin > 0)
        buf_printf(b, "set rmargin %d\n", rmargin);
    set_label(b, "title", title);
    set_label(b, "xlabel", p->xlabel);
    if (text && p->ylabel) {
        /* dumb cannot turn the y label, and a level one collides with tick labels:
         * it goes above the axis instead */
        buf_puts(b, "set label 1 ");
        buf_quoted(b, p->ylabel);
        buf_puts(b, " at screen 0, graph 1 left offset 1,1\n");
    } else {
        set_label(b, "ylabel", p->ylabel);
    }

    switch (p->kind) {
    case PLOT_TRACES:
        buf_printf(b, "set xlabel 'time (%s)'\nset autoscale xfix\n", l->tunit);
        if (!key)
            buf_puts(b, "unset key\n");
        buf_puts(b, "plot ");
        for (int k = 0; k < p->nseries; k++) {
            buf_printf(b, "%s%s using 1:%d with %s lt %d", k ? ", \\\n     " : "",
                       k ? "''" : src, k + 2, p->nt > 1 ? "lines" : "points", k + 1);
            series_title(b, &p->series[k], key);
        }
        buf_puts(b, "\n");
        break;

    case PLOT_HEATMAP: {
        buf_printf(b, "set xrange [-0.5:%lld.5]\nset yrange [%lld.5:-0.5]\n",
                   (long long)p->cols - 1, (long long)p->rows - 1);
        index_tics(b, "x", p->cols);
        index_tics(b, "y", p->rows);
        buf_puts(b, "set border 15\nset tics out\nunset grid\n");
        if (l->diverging) {
            double m = fmax(-l->lo, l->hi);
            buf_printf(b, "set palette defined (-1 '#2166ac', -0.5 '#92c5de', 0 '#f7f7f7', "
                          "0.5 '#f4a582', 1 '#b2182b')\nset cbrange [%.10g:%.10g]\n", -m, m);
        } else {
            buf_puts(b, "set palette defined (0 '#440154', 0.25 '#3b528b', 0.5 '#21918c', "
                        "0.75 '#5ec962', 1 '#fde725')\n");
            if (l->any && l->hi <= l->lo)
                buf_printf(b, "set cbrange [%.10g:%.10g]\n", l->lo - 0.5, l->lo + 0.5);
        }
        buf_puts(b, "set colorbox user origin graph 1.03, graph 0 size graph 0.03, graph 1\n"
                    "set size ratio -1\nset rmargin 14\nunset key\nset tics front\n");
        if (p->zlabel) {
            buf_puts(b, "set cblabel offset 1,0 ");
            buf_quoted(b, p->zlabel);
            buf_puts(b, "\n");
        }
        buf_printf(b, "plot %s matrix with image pixels notitle\n", src);
        break;
    }

    case PLOT_HIST:
        buf_printf(b, "set yrange [0:*]\nset xrange [%.10g:%.10g]\n", l->bin0,
                   l->bin0 + l->bins * l->binw);
        buf_puts(b, text ? "set style fill empty\n"
                         : "set style fill solid 0.85 border lc rgb 'white'\n");
        buf_printf(b, "unset key\nplot %s using 1:2:3 with boxes lt 1 notitle\n", src);
        break;

    case PLOT_PHASE:
        buf_printf(b, "plot %s index 0 using 1:2 with lines lt 1", src);
        series_title(b, &p->series[0], true);
        buf_printf(b, ", \\\n     '' index 0 every ::0::0 using 1:2 with points %s title 'start'\n",
                   text ? "pt 'o'" : "lt 2 pt 7 ps 1.6");
        break;

    case PLOT_LOSS:
        if (l->logy)
            buf_puts(b, "set logscale y\nset format y '%g'\n");
        if (!key)
            buf_puts(b, "unset key\n");
        buf_puts(b, "set autoscale xfix\nplot ");
        for (int k = 0; k < p->nseries; k++) {
            buf_printf(b, "%s%s index %d using 1:2 with %s lt %d", k ? ", \\\n     " : "",
                       k ? "''" : src, k, p->series[k].n > 1 ? "lines" : "points", k + 1);
            series_title(b, &p->series[k], key);
        }
        buf_puts(b, "\n");
        break;

    case PLOT_RASTER: {
        double end = p->t_end;
        const PlotSeries *s = &p->series[0];
        for (int64_t k = 0; k < s->n; k++)
            if (isfinite(s->x[k]) && s->x[k] > end)
                end = s->x[k];
        if (end <= 0)
            end = 1e-3;
        buf_printf(b, "set xlabel 'time (%s)'\nset xrange [0:%.10g]\nset yrange [-0.5:%lld.5]\n",
                   l->tunit, end * l->tscale, (long long)(p->rows > 0 ? p->rows - 1 : 0));
        index_tics(b, "y", p->rows);
        if (s->n == 0)
            buf_puts(b, "set label 2 'no spikes' at graph 0.5, graph 0.5 center\n");
        buf_printf(b, "unset key\nplot %s using 1:2 with points %s notitle\n", src,
                   text ? "pt '|'" : "pt 7 ps 0.35 lc rgb '#202020'");
        break;
    }
    }
}

/* The whole script. Data goes inline as $dK datablocks unless tg->datafiles names
 * a file a panel. Pictures stack panels with multiplot; text draws them one after
 * another, each tg->h / npanels rows high, and prints heat maps drawn by text_heat. */
static void figure_script(Buf *b, const PlotFigure *f, const Target *tg)
{
    bool text = tg->kind == OUT_TEXT, multi = f->npanels > 1;
    int h = text ? tg->h / f->npanels : tg->h;
    int rmargin = multi && !text ? key_margin(f) : 0;
    buf_puts(b, "set encoding utf8\n");
    script_terminal(b, tg, h);
    Layout *lay = xmalloc((size_t)f->npanels * sizeof *lay);
    for (int i = 0; i < f->npanels; i++) {
        layout_panel(f->panels[i], &lay[i]);
        if (!tg->datafiles && !(text && f->panels[i]->kind == PLOT_HEATMAP)) {
            buf_printf(b, "$d%d << EOD\n", i + 1);
            panel_data(b, f->panels[i], &lay[i]);
            buf_puts(b, "EOD\n");
        }
    }
    if (tg->debug)
        buf_printf(b, "%s\n", tg->debug);
    if (text) {
        buf_puts(b, "set print '-'\n");
        if (multi && f->title) {
            Buf t = { 0 };
            pad(&t, (tg->w - (int64_t)strlen(f->title)) / 2);
            buf_puts(&t, f->title);
            buf_puts(b, "print ");
            buf_quoted(b, t.s);
            buf_puts(b, "\n");
            free(t.s);
        }
    } else if (multi) {
        buf_printf(b, "set multiplot layout %d,1", f->npanels);
        if (f->title) {
            buf_puts(b, " title ");
            buf_quoted(b, f->title);
        }
        buf_puts(b, "\n");
    }
    for (int i = 0; i < f->npanels; i++) {
        const PlotPanel *p = f->panels[i];
        const char *title = p->title ? p->title : multi ? NULL : f->title;
        if (text && p->kind == PLOT_HEATMAP) {
            Buf grid = { 0 };
            text_heat(&grid, p, &lay[i], tg->color, tg->w, h, title);
            buf_printf(b, "$h%d << EOH\n%sEOH\nprint $h%d\n", i + 1, grid.s, i + 1);
            free(grid.s);
            continue;
        }
        Buf src = { 0 };
        if (tg->datafiles)
            buf_quoted(&src, tg->datafiles[i]);
        else
            buf_printf(&src, "$d%d", i + 1);
        panel_plot(b, p, &lay[i], tg, src.s, title, rmargin);
        free(src.s);
    }
    if (multi && !text)
        buf_puts(b, "unset multiplot\n");
    if (tg->output)
        buf_puts(b, "unset output\n");
    free(lay);
}

/* ---------------------------------------------------------------- checks */

static bool any_finite(const double *v, int64_t n)
{
    for (int64_t k = 0; k < n; k++)
        if (isfinite(v[k]))
            return true;
    return false;
}

static const char *panel_name(const PlotPanel *p)
{
    if (p->title)
        return p->title;
    if (p->nseries > 0 && p->series[0].name)
        return p->series[0].name;
    return "the plot";
}

/* Every panel has something to draw; gnuplot's own complaint would not name it. */
static bool figure_check(const PlotFigure *f, Span at, Diags *d)
{
    if (f->npanels == 0) {
        diag_error(d, at, "nothing to plot");
        return false;
    }
    for (int i = 0; i < f->npanels; i++) {
        const PlotPanel *p = f->panels[i];
        bool ok = false;
        switch (p->kind) {
        case PLOT_TRACES:
        case PLOT_LOSS:
        case PLOT_HIST:
        case PLOT_PHASE:
            for (int k = 0; k < p->nseries; k++)
                ok = ok || any_finite(p->series[k].y, p->series[k].n);
            break;
        case PLOT_HEATMAP:
            ok = any_finite(p->m, p->rows * p->cols);
            break;
        case PLOT_RASTER:
            ok = true;
            break;
        }
        if (!ok) {
            if (p->nseries == 0 && p->kind != PLOT_HEATMAP)
                diag_error(d, at, "nothing to plot in '%s': it has no series", panel_name(p));
            else
                diag_error(d, at, "nothing to plot in '%s': no finite values (all NaN or infinite)",
                           panel_name(p));
            return false;
        }
    }
    return true;
}

/* ---------------------------------------------------------------- gnuplot process */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void sleep_s(double s)
{
    struct timespec ts = { (time_t)s, (long)((s - floor(s)) * 1e9) };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Waits for pid until `deadline`; true when it was reaped (*status set). */
static bool reap_until(pid_t pid, double deadline, int *status)
{
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return true;
        if (r < 0 && errno != EINTR)
            return true;   /* not our child any more: nothing to wait for */
        if (now_s() >= deadline)
            return false;
        sleep_s(0.005);
    }
}

/* Ends gnuplot's process group: SIGTERM, a grace period, then SIGKILL; reaps. */
static void stop_group(pid_t pid, int *status)
{
    kill(-pid, SIGTERM);
    bool reaped = reap_until(pid, now_s() + KILL_GRACE, status);
    if (!reaped || kill(-pid, 0) == 0) {
        kill(-pid, SIGKILL);
        if (!reaped)
            while (waitpid(pid, status, 0) < 0 && errno == EINTR) {
            }
    }
}

/* The line of gnuplot's stderr that says what went wrong, without its "line N:"
 * prefix, caret lines and echoed commands; "system error:" detail appended. */
static char *gnuplot_message(const char *err)
{
    Buf m = { 0 };
    const char *line = err, *fallback = NULL;
    while (*line) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        const char *s = line;
        while (s < line + len && (*s == ' ' || *s == '\t'))
            s++;
        /* "line 0: message", or "\"fig.gp\" line 3: message" */
        const char *body = NULL, *where = strstr(s, "line ");
        if (where && where < line + len && (where == s || *s == '"')) {
            const char *colon = memchr(where, ':', (size_t)(line + len - where));
            if (colon)
                body = colon + 1;
        }
        if (body) {
            while (*body == ' ')
                body++;
            if (strncasecmp(body, "warning:", 8) != 0 && m.n == 0)
                buf_write(&m, body, (size_t)(line + len - body));
        } else if (m.n > 0 && strncmp(s, "system error: ", 14) == 0) {
            buf_puts(&m, " (");
            buf_write(&m, s + 14, (size_t)(line + len - s - 14));
            buf_puts(&m, ")");
        } else if (!fallback && s < line + len && *s != '^' && strncmp(s, "gnuplot>", 8) != 0 &&
                   strncasecmp(s, "warning:", 8) != 0) {
            fallback = s;
        }
        line = end ? end + 1 : line + len;
    }
    if (m.n == 0 && fallback) {
        const char *end = strchr(fallback, '\n');
        buf_write(&m, fallback, end ? (size_t)(end - fallback) : strlen(fallback));
    }
    if (m.n == 0)
        return NULL;
    /* runs of blanks (gnuplot pads its messages) become one space */
    size_t o = 0;
    for (size_t i = 0; i < m.n; i++)
        if (!(m.s[i] == ' ' && (o == 0 || m.s[o - 1] == ' ')))
            m.s[o++] = m.s[i];
    while (o > 0 && (m.s[o - 1] == ' ' || m.s[o - 1] == '\r'))
        o--;
    m.s[o] = 0;
    return m.s;
}

static const char *gnuplot_exe(const PlotOptions *o, bool *from_env)
{
    const char *env = getenv("CAJAL_GNUPLOT");
    *from_env = false;
    if (o->gnuplot)
        return o->gnuplot;
    if (env && *env) {
        *from_env = true;
        return env;
    }
    return "gnuplot";
}

/* The pipes of one gnuplot run; -1 when closed. */
typedef struct Pipes {
    int to_in;       /* gnuplot's stdin: the script */
    int from_err;    /* its stderr: kept for messages */
    int from_out;    /* its stdout (terminal plots): relayed to dest */
    int dest;        /* where terminal plots go; not ours to close */
} Pipes;

enum { RELAY_MAX = 64 * 1024, RELAY_CHUNK = 512 };

/* Moves data until gnuplot has read the script and closed its output, or until
 * deadline (returns false). Relayed output loses its form feeds when strip_ff
 * (the dumb terminal starts every page with one) and is written to dest in
 * chunks small enough that a slow reader cannot block us past the deadline. */
static bool pump(Pipes *p, const char *script, size_t len, bool strip_ff, double deadline,
                 Buf *err)
{
    Buf relay = { 0 };
    size_t sent = 0, relayed = 0;
    bool done = false;
    for (;;) {
        if (relayed == relay.n)
            relay.n = relayed = 0;
        if (p->to_in < 0 && p->from_err < 0 && p->from_out < 0 && relay.n == 0) {
            done = true;
            break;
        }
        double left = deadline - now_s();
        if (left <= 0)
            break;
        struct pollfd pf[4];
        int n = 0;
        if (p->to_in >= 0)
            pf[n++] = (struct pollfd){ .fd = p->to_in, .events = POLLOUT };
        if (p->from_err >= 0)
            pf[n++] = (struct pollfd){ .fd = p->from_err, .events = POLLIN };
        if (p->from_out >= 0 && relay.n < RELAY_MAX)
            pf[n++] = (struct pollfd){ .fd = p->from_out, .events = POLLIN };
        if (relay.n > 0)
            pf[n++] = (struct pollfd){ .fd = p->dest, .events = POLLOUT };
        if (poll(pf, (nfds_t)n, (int)(left * 1000) + 1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int k = 0; k < n; k++) {
            int fd = pf[k].fd;
            if (!pf[k].revents)
                continue;
            if (fd == p->to_in) {
                ssize_t w = write(fd, script + sent, len - sent);
                if (w > 0)
                    sent += (size_t)w;
                if ((w < 0 && errno != EAGAIN && errno != EINTR) || sent == len) {
                    close(fd);   /* done, or gnuplot stopped reading: EOF either way */
                    p->to_in = -1;
                }
            } else if (fd == p->dest) {
                size_t chunk = relay.n - relayed < RELAY_CHUNK ? relay.n - relayed : RELAY_CHUNK;
                ssize_t w = write(fd, relay.s + relayed, chunk);
                if (w > 0)
                    relayed += (size_t)w;
                else if (w < 0 && errno != EAGAIN && errno != EINTR)
                    relayed = relay.n;   /* the reader has gone: drop the plot */
            } else {
                char chunk[4096];
                ssize_t r = read(fd, chunk, sizeof chunk);
                if (r < 0 && (errno == EINTR || errno == EAGAIN))
                    continue;
                if (r <= 0) {
                    close(fd);
                    if (fd == p->from_err)
                        p->from_err = -1;
                    else
                        p->from_out = -1;
                } else if (fd == p->from_err) {
                    if (err->n < STDERR_KEEP)
                        buf_write(err, chunk, (size_t)r);
                } else {
                    for (ssize_t i = 0; i < r; i++)
                        if (!(strip_ff && chunk[i] == '\f'))
                            buf_write(&relay, chunk + i, 1);
                }
            }
        }
    }
    free(relay.s);
    return done;
}

/* Runs gnuplot on script within the time limit. Its stdout is relayed to out_fd
 * (form feeds removed when strip_ff), or discarded when out_fd < 0. On failure
 * appends the diagnostic and returns false; gnuplot has been reaped either way. */
static bool run_gnuplot(const PlotOptions *o, const char *script, size_t len, int out_fd,
                        bool strip_ff, Span at, Diags *d)
{
    bool from_env;
    const char *exe = gnuplot_exe(o, &from_env);
    double timeout = o->timeout > 0 ? o->timeout : 10;
    int fds[6] = { -1, -1, -1, -1, -1, -1 };   /* stdin, stderr, stdout: read end, write end */
    for (int k = 0; k < (out_fd >= 0 ? 3 : 2); k++)
        if (pipe2(fds + 2 * k, O_CLOEXEC) != 0) {
            diag_error(d, at, "cannot start gnuplot: %s", strerror(errno));
            for (int i = 0; i < 6; i++)
                if (fds[i] >= 0)
                    close(fds[i]);
            return false;
        }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[0], STDIN_FILENO);
    if (out_fd < 0)
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    else
        posix_spawn_file_actions_adddup2(&fa, fds[5], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, fds[3], STDERR_FILENO);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, deflt;
    sigemptyset(&none);
    sigemptyset(&deflt);
    int reset[] = { SIGPIPE, SIGINT, SIGQUIT, SIGTERM, SIGHUP };
    for (size_t k = 0; k < sizeof reset / sizeof *reset; k++)
        sigaddset(&deflt, reset[k]);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &deflt);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);

    fflush(stdout);   /* what the caller printed before the plot comes before it */
    fflush(stderr);
    pid_t pid;
    char *argv[] = { (char *)exe, NULL };
    int rc = posix_spawnp(&pid, exe, &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(fds[0]);
    close(fds[3]);
    if (fds[5] >= 0)
        close(fds[5]);
    Pipes p = { fds[1], fds[2], fds[4], out_fd };
    if (rc != 0) {
        close(p.to_in);
        close(p.from_err);
        if (p.from_out >= 0)
            close(p.from_out);
        if (rc == ENOENT || rc == EACCES || rc == ENOEXEC) {
            diag_error(d, at, "gnuplot is not installed; install it with: "
                              "sudo apt-get install gnuplot-nox");
            if (from_env)
                diag_hint(d, "CAJAL_GNUPLOT is set to '%s'; unset it to use gnuplot from PATH", exe);
        } else {
            diag_error(d, at, "cannot start gnuplot: %s", strerror(rc));
        }
        return false;
    }

    struct sigaction ign = { .sa_handler = SIG_IGN }, old_pipe;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, &old_pipe);
    fcntl(p.to_in, F_SETFL, fcntl(p.to_in, F_GETFL) | O_NONBLOCK);
    Buf err = { 0 };
    int status = 0;
    double deadline = now_s() + timeout;
    bool timed_out = !pump(&p, script, len, strip_ff, deadline, &err);
    int left[] = { p.to_in, p.from_err, p.from_out };
    for (int k = 0; k < 3; k++)
        if (left[k] >= 0)
            close(left[k]);
    if (!timed_out && !reap_until(pid, deadline, &status))
        timed_out = true;
    if (timed_out)
        stop_group(pid, &status);
    sigaction(SIGPIPE, &old_pipe, NULL);

    bool ok = false;
    if (timed_out) {
        diag_error(d, at, "gnuplot did not finish within %g s; the plot was stopped", timeout);
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        ok = true;
    } else {
        char *msg = err.s ? gnuplot_message(err.s) : NULL;
        if (msg)
            diag_error(d, at, "gnuplot: %s", msg);
        else if (WIFEXITED(status))
            diag_error(d, at, "gnuplot: exited with status %d", WEXITSTATUS(status));
        else
            diag_error(d, at, "gnuplot: stopped by signal %d (%s)", WTERMSIG(status),
                       strsignal(WTERMSIG(status)));
        free(msg);
    }
    free(err.s);
    return ok;
}

/* ---------------------------------------------------------------- terminal */

bool plot_term_parse(const char *s, PlotTerm *out)
{
    static const char *const names[] = { [PLOT_TERM_AUTO] = "auto", [PLOT_TERM_TEXT] = "text",
                                         [PLOT_TERM_SIXEL] = "sixel" };
    for (int k = 0; k < 3; k++)
        if (strcmp(s, names[k]) == 0) {
            *out = (PlotTerm)k;
            return true;
        }
    return false;
}

const char *plot_term_name(PlotTerm t)
{
    return t == PLOT_TERM_TEXT ? "text" : t == PLOT_TERM_SIXEL ? "sixel" : "auto";
}

/* Asks the terminal on stdin/out_fd for its primary device attributes
 * (DA1: ESC [ c, answered ESC [ ? 62 ; 4 ; ... c); attribute 4 is sixel graphics. */
static bool ask_sixel(int out_fd)
{
    struct termios saved, raw;
    if (tcgetattr(STDIN_FILENO, &saved) != 0)
        return false;
    raw = saved;
    raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) != 0)
        return false;
    char reply[128];
    size_t n = 0;
    if (write(out_fd, "\033[c", 3) == 3) {
        double deadline = now_s() + DA1_WAIT;
        while (n < sizeof reply - 1) {
            double left = deadline - now_s();
            struct pollfd pf = { .fd = STDIN_FILENO, .events = POLLIN };
            if (left <= 0 || poll(&pf, 1, (int)(left * 1000) + 1) <= 0)
                break;
            ssize_t r = read(STDIN_FILENO, reply + n, 1);
            if (r <= 0)
                break;
            if (reply[n++] == 'c')
                break;
        }
    }
    tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    reply[n] = 0;
    const char *p = strstr(reply, "\033[?");
    if (!p || !strchr(p, 'c'))
        return false;
    for (p += 3; *p && *p != 'c'; p++) {
        if (p[0] == '4' && (p[-1] == '?' || p[-1] == ';') && (p[1] == ';' || p[1] == 'c'))
            return true;
    }
    return false;
}

static int env_int(const char *name)
{
    const char *s = getenv(name);
    return s ? atoi(s) : 0;
}

PlotScreen plot_terminal_detect(int fd, PlotTerm want, Span at, Diags *d)
{
    PlotScreen s = { PLOT_TERM_AUTO, false, 80, 24, 0, 0 };
    const char *env = getenv("CAJAL_PLOT");
    if (want == PLOT_TERM_AUTO && env && *env && !plot_term_parse(env, &want))
        diag_warning(d, at, "CAJAL_PLOT is '%s'; expected text, sixel or auto", env);
    bool tty = isatty(fd);
    struct winsize ws = { 0 };
    if (tty && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
        s.cols = ws.ws_col;
        s.rows = ws.ws_row;
        s.xpixels = ws.ws_xpixel;
        s.ypixels = ws.ws_ypixel;
    } else if (env_int("COLUMNS") > 0 && env_int("LINES") > 0) {
        s.cols = env_int("COLUMNS");
        s.rows = env_int("LINES");
    }
    const char *term = getenv("TERM"), *colorterm = getenv("COLORTERM");
    s.color = tty && !getenv("NO_COLOR") &&
              ((term && strstr(term, "256color")) || (colorterm && *colorterm));
    if (want != PLOT_TERM_AUTO) {
        s.term = want;
        return s;
    }
    if (!tty)
        return s;   /* AUTO: skip */
    static int sixel = -1;   /* the terminal's answer, asked once a process */
    if (sixel < 0)
        sixel = isatty(STDIN_FILENO) && ask_sixel(fd);
    s.term = sixel ? PLOT_TERM_SIXEL : PLOT_TERM_TEXT;
    return s;
}

/* ---------------------------------------------------------------- files */

void plot_options_init(PlotOptions *o)
{
    *o = (PlotOptions){ .term = PLOT_TERM_AUTO, .out_fd = STDOUT_FILENO, .color = -1,
                        .timeout = 10 };
}

static const char *errno_text(int e)
{
    switch (e) {
    case ENOENT: return "no such folder";
    case EACCES:
    case EPERM: return "permission denied";
    case ENOSPC: return "no space left on the device";
    case EROFS: return "the file system is read-only";
    case EISDIR: return "it is a folder";
    default: return strerror(e);
    }
}

/* A temporary file beside path ("dir/.name.XXXXXX"), with the mode a new file
 * would get. Returns the fd (the name in *tmp, caller frees) or -1 with errno set. */
static int temp_beside(const char *path, char **tmp)
{
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path + 1) : 0;
    Buf b = { 0 };
    buf_write(&b, path, dirlen);
    buf_printf(&b, ".%s.XXXXXX", path + dirlen);
    int fd = mkstemp(b.s);
    if (fd < 0) {
        int e = errno;
        free(b.s);
        errno = e;
        return -1;
    }
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    *tmp = b.s;
    return fd;
}

static bool write_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        s += w;
        n -= (size_t)w;
    }
    return true;
}

static const char *extension(const char *path)
{
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    return dot && (!slash || dot > slash) && dot[1] ? dot : NULL;
}

/* Picture size: as asked, else 900 wide and 360 a panel; a figure that is one
 * heat map is nearly square (640 x 540), as its cells are. */
static void image_size(const PlotFigure *f, const PlotOptions *o, int *w, int *h)
{
    bool square = f->npanels == 1 && f->panels[0]->kind == PLOT_HEATMAP;
    *w = o->width > 0 ? o->width : square ? 640 : IMAGE_WIDTH;
    *h = o->height > 0 ? o->height : square ? 540 : PANEL_HEIGHT * f->npanels;
}

/* path with its extension ext replaced by suffix. */
static char *sibling(const char *path, const char *ext_of_path, const char *suffix)
{
    Buf b = { 0 };
    buf_write(&b, path, (size_t)(ext_of_path - path));
    buf_puts(&b, suffix);
    return b.s;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* fig.gp: the script plus fig.dat (or fig_1.dat, fig_2.dat, ... a panel), written
 * to temporary names and renamed together. */
static bool write_gp(const PlotFigure *f, const PlotOptions *o, const char *path,
                     const char *ext, Span at, Diags *d)
{
    int n = f->npanels, nfiles = n + 1;
    char **final = xcalloc((size_t)nfiles, sizeof *final);
    char **tmp = xcalloc((size_t)nfiles, sizeof *tmp);
    char **rel = xcalloc((size_t)n, sizeof *rel);
    for (int i = 0; i < n; i++) {
        char suffix[32];
        if (n == 1)
            snprintf(suffix, sizeof suffix, ".dat");
        else
            snprintf(suffix, sizeof suffix, "_%d.dat", i + 1);
        final[i] = sibling(path, ext, suffix);
        rel[i] = xstrdup(base_name(final[i]));
    }
    final[n] = xstrdup(path);
    char *png = sibling(path, ext, ".png");
    char *stem = sibling(base_name(path), ext, "");

    Target tg = { .kind = OUT_GP, .output = base_name(png), .datafiles = rel,
                  .debug = o->debug_commands };
    image_size(f, o, &tg.w, &tg.h);
    Buf script = { 0 };
    buf_printf(&script,
               "# %s: a cajal figure for gnuplot.\n"
               "# Run `gnuplot %s` in this folder to draw %s; the data is in",
               base_name(path), base_name(path), base_name(png));
    for (int i = 0; i < n; i++)
        buf_printf(&script, " %s", rel[i]);
    buf_printf(&script,
               ".\n"
               "# For another format, change `set terminal` and `set output` below, e.g.\n"
               "#   set terminal svg size %d,%d font 'sans,11'; set output '%s.svg'\n"
               "#   set terminal pdfcairo size %.1fin,%.1fin font 'sans,9'; set output '%s.pdf'\n"
               "#   or delete both lines to draw in a window (gnuplot-qt or gnuplot-x11).\n",
               tg.w, tg.h, stem, tg.w / 100.0, tg.h / 100.0, stem);
    figure_script(&script, f, &tg);

    bool ok = true;
    for (int k = 0; k < nfiles && ok; k++) {
        Buf data = { 0 };
        const Buf *body = &script;
        if (k < n) {
            Layout l;
            layout_panel(f->panels[k], &l);
            panel_data(&data, f->panels[k], &l);
            body = &data;
        }
        int fd = temp_beside(final[k], &tmp[k]);
        if (fd < 0) {
            diag_error(d, at, "cannot write '%s': %s", final[k], errno_text(errno));
            ok = false;
        } else {
            bool wrote = write_all(fd, body->s, body->n) && fsync(fd) == 0;
            int e = errno;
            if (close(fd) != 0 && wrote) {
                wrote = false;
                e = errno;
            }
            if (!wrote) {
                diag_error(d, at, "cannot write '%s': %s", final[k], errno_text(e));
                ok = false;
            }
        }
        free(data.s);
    }
    for (int k = 0; k < nfiles && ok; k++)
        if (rename(tmp[k], final[k]) != 0) {
            diag_error(d, at, "cannot write '%s': %s", final[k], errno_text(errno));
            ok = false;
        } else {
            free(tmp[k]);
            tmp[k] = NULL;
        }
    for (int k = 0; k < nfiles; k++) {
        if (tmp[k])
            unlink(tmp[k]);
        free(tmp[k]);
        free(final[k]);
    }
    for (int i = 0; i < n; i++)
        free(rel[i]);
    free(script.s);
    free(png);
    free(stem);
    free(final);
    free(tmp);
    free(rel);
    return ok;
}

/* An image: gnuplot writes a temporary file beside path, renamed when it succeeds. */
static bool write_image(const PlotFigure *f, const PlotOptions *o, const char *path,
                        OutKind kind, Span at, Diags *d)
{
    char *tmp;
    int fd = temp_beside(path, &tmp);
    if (fd < 0) {
        diag_error(d, at, "cannot write '%s': %s", path, errno_text(errno));
        return false;
    }
    close(fd);
    Target tg = { .kind = kind, .output = tmp, .debug = o->debug_commands };
    image_size(f, o, &tg.w, &tg.h);
    Buf script = { 0 };
    figure_script(&script, f, &tg);
    bool ok = run_gnuplot(o, script.s, script.n, -1, false, at, d);
    struct stat st;
    if (ok && (stat(tmp, &st) != 0 || st.st_size == 0)) {
        diag_error(d, at, "gnuplot wrote nothing to '%s'", path);
        ok = false;
    }
    if (ok && rename(tmp, path) != 0) {
        diag_error(d, at, "cannot write '%s': %s", path, errno_text(errno));
        ok = false;
    }
    if (!ok)
        unlink(tmp);
    free(tmp);
    free(script.s);
    return ok;
}

/* ---------------------------------------------------------------- render */

static const struct { const char *ext; OutKind kind; } FILE_TYPES[] = {
    { ".png", OUT_PNG }, { ".svg", OUT_SVG }, { ".pdf", OUT_PDF }, { ".gp", OUT_GP },
};

PlotStatus plot_render(const PlotFigure *f, const PlotOptions *o, Span at, Diags *d)
{
    if (!figure_check(f, at, d))
        return PLOT_FAILED;
    if (o->path) {
        const char *ext = extension(o->path);
        for (size_t k = 0; ext && k < sizeof FILE_TYPES / sizeof *FILE_TYPES; k++) {
            if (strcasecmp(ext, FILE_TYPES[k].ext) != 0)
                continue;
            bool ok = FILE_TYPES[k].kind == OUT_GP
                          ? write_gp(f, o, o->path, ext, at, d)
                          : write_image(f, o, o->path, FILE_TYPES[k].kind, at, d);
            return ok ? PLOT_DONE : PLOT_FAILED;
        }
        if (ext)
            diag_error(d, at, "cannot plot to '%s': unknown file type '%s'; use .png, .svg, .pdf "
                              "or .gp", o->path, ext);
        else
            diag_error(d, at, "cannot plot to '%s': no file type; use .png, .svg, .pdf or .gp",
                       o->path);
        return PLOT_FAILED;
    }

    PlotScreen s = plot_terminal_detect(o->out_fd, o->term, at, d);
    if (s.term == PLOT_TERM_AUTO)
        return PLOT_SKIPPED;
    Target tg = { .kind = s.term == PLOT_TERM_SIXEL ? OUT_SIXEL : OUT_TEXT,
                  .debug = o->debug_commands };
    if (tg.kind == OUT_TEXT) {
        tg.color = o->color < 0 ? s.color : o->color > 0;
        tg.w = o->text_cols > 0 ? o->text_cols : s.cols;
        if (o->text_rows > 0) {
            tg.h = o->text_rows;
        } else {
            int per = (s.rows - 1) / f->npanels;
            tg.h = (per < 12 ? 12 : per) * f->npanels;
        }
        if (tg.w < 30)
            tg.w = 30;
        if (tg.h < 8)
            tg.h = 8;
    } else {
        int w = s.xpixels > 0 ? s.xpixels * 9 / 10 : 800;
        int per = s.ypixels > 0 ? s.ypixels * 9 / 20 : 360;
        w = w < 400 ? 400 : w > 1600 ? 1600 : w;
        per = per < 200 ? 200 : per > 600 ? 600 : per;
        tg.w = o->width > 0 ? o->width : w;
        tg.h = o->height > 0 ? o->height : per * f->npanels;
    }
    Buf script = { 0 };
    figure_script(&script, f, &tg);
    bool ok = run_gnuplot(o, script.s, script.n, o->out_fd, tg.kind == OUT_TEXT, at, d);
    free(script.s);
    return ok ? PLOT_DONE : PLOT_FAILED;
}
