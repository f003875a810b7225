/* test_plot.c: plots drawn by gnuplot, checked as text and as images.
 *
 * Terminal output is compared with golden files (tests/plot/NAME.txt; rewrite them
 * with CAJAL_UPDATE_GOLDEN=1 after a deliberate change, and read the diff). Image
 * files are opened as what they claim to be: a PNG is inflated with zlib and its
 * filters undone to count distinct colours (a blank or one-colour picture fails),
 * an SVG goes through xmllint, a PDF has its header and trailer. The failure paths
 * use stand-in gnuplots (shell scripts) that are missing, fail, or never finish,
 * and the test ends by checking that no child process and no temporary file is
 * left behind.
 */
#include "check.h"
#include "plot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#ifndef CAJAL_SRCDIR
#define CAJAL_SRCDIR "."
#endif

static char dir[64];   /* this run's scratch folder */

/* ---------------------------------------------------------------- helpers */

static char *path_in(const char *name)
{
    static char buf[8][512];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    return p;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    size_t cap = 1 << 16, n = 0, got;
    char *s = malloc(cap + 1);
    while ((got = fread(s + n, 1, cap - n, fp)) > 0) {
        n += got;
        if (n == cap)
            s = realloc(s, (cap *= 2) + 1);
    }
    fclose(fp);
    s[n] = 0;
    if (len)
        *len = n;
    return s;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *fp = fopen(path, "w");
    fputs(text, fp);
    fclose(fp);
    chmod(path, mode);
}

/* Files in the scratch folder whose name starts with '.' (our temporaries). */
static int hidden_files(void)
{
    DIR *dp = opendir(dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(dp));)
        if (e->d_name[0] == '.' && strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(dp);
    return n;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Runs argv in folder cwd (NULL: here); returns the exit status, 127 if absent. */
static int run(const char *cwd, char *const argv[])
{
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, STDOUT_FILENO);
        if (cwd && chdir(cwd) != 0)
            _exit(126);
        execvp(argv[0], argv);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static bool no_children(void)
{
    return waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD;
}

/* A process that is gone, or a zombie waiting for its (new) parent to reap it. */
static bool dead(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    char *stat = read_file(path, NULL);
    if (!stat)
        return true;
    char *close_paren = strrchr(stat, ')');
    bool zombie = close_paren && close_paren[2] == 'Z';
    free(stat);
    return zombie;
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---------------------------------------------------------------- PNG */

typedef struct Png {
    uint32_t width, height;
    int depth, ctype;
    int colors;       /* distinct pixel values, -1 if it could not be decoded */
} Png;

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int paeth(int a, int b, int c)
{
    int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Reads an 8-bit PNG (grey, RGB, palette, grey+alpha, RGBA), not interlaced. */
static bool png_read(const char *path, Png *png)
{
    size_t n;
    unsigned char *s = (unsigned char *)read_file(path, &n);
    memset(png, 0, sizeof *png);
    png->colors = -1;
    if (!s || n < 33 || memcmp(s, "\x89PNG\r\n\x1a\n", 8) != 0 || memcmp(s + 12, "IHDR", 4) != 0) {
        free(s);
        return false;
    }
    png->width = be32(s + 16);
    png->height = be32(s + 20);
    png->depth = s[24];
    png->ctype = s[25];
    int channels = png->ctype == 0 ? 1 : png->ctype == 2 ? 3 : png->ctype == 3 ? 1
                 : png->ctype == 4 ? 2 : 4;
    if (png->depth != 8 || s[28] != 0) {
        free(s);
        return true;   /* valid, but not a kind this reader decodes */
    }
    unsigned char *idat = NULL;
    size_t nidat = 0;
    for (size_t at = 8; at + 12 <= n;) {
        uint32_t len = be32(s + at);
        if (at + 12 + len > n)
            break;
        if (memcmp(s + at + 4, "IDAT", 4) == 0) {
            idat = realloc(idat, nidat + len);
            memcpy(idat + nidat, s + at + 8, len);
            nidat += len;
        }
        at += 12 + len;
    }
    size_t stride = (size_t)png->width * channels;
    uLongf raw_len = (uLongf)((stride + 1) * png->height);
    unsigned char *raw = malloc(raw_len);
    if (uncompress(raw, &raw_len, idat, nidat) == Z_OK && raw_len == (stride + 1) * png->height) {
        unsigned char *img = malloc(stride * png->height);
        for (uint32_t y = 0; y < png->height; y++) {
            unsigned char ft = raw[y * (stride + 1)], *in = raw + y * (stride + 1) + 1;
            unsigned char *out = img + y * stride, *up = y ? out - stride : NULL;
            for (size_t x = 0; x < stride; x++) {
                int a = x >= (size_t)channels ? out[x - channels] : 0, b = up ? up[x] : 0;
                int c = up && x >= (size_t)channels ? up[x - channels] : 0;
                int pred = ft == 1 ? a : ft == 2 ? b : ft == 3 ? (a + b) / 2
                         : ft == 4 ? paeth(a, b, c) : 0;
                out[x] = (unsigned char)(in[x] + pred);
            }
        }
        size_t npix = (size_t)png->width * png->height;
        uint32_t *px = malloc(npix * sizeof *px);
        for (size_t i = 0; i < npix; i++) {
            uint32_t v = 0;
            for (int k = 0; k < channels && k < 4; k++)
                v = v << 8 | img[i * channels + k];
            px[i] = v;
        }
        qsort(px, npix, sizeof *px, cmp_u32);
        png->colors = npix ? 1 : 0;
        for (size_t i = 1; i < npix; i++)
            png->colors += px[i] != px[i - 1];
        free(px);
        free(img);
    }
    free(raw);
    free(idat);
    free(s);
    return true;
}

/* ---------------------------------------------------------------- figures */

static PlotFigure *sine_figure(void)
{
    double t[101], y[101];
    for (int k = 0; k <= 100; k++) {
        t[k] = k * 1e-3;
        y[k] = sin(2 * M_PI * t[k] / 0.05);
    }
    PlotFigure *f = plot_figure_new(NULL);
    PlotPanel *p = plot_add_traces(f, "sine", t, 101, "r");
    plot_traces_add(p, "E.r[0]", y);
    return f;
}

static const double HEAT4[16] = { 1, 2, 3, 4, -1, 0, 2, 5, 3, 3, -2, 1, 0, 1, 2, 3 };

static PlotFigure *heat4_figure(void)
{
    PlotFigure *f = plot_figure_new(NULL);
    plot_add_heatmap(f, "J.w", HEAT4, 4, 4, "pre", "post", "w");
    return f;
}

/* Every panel kind, for the image formats. */
static PlotFigure *all_kinds_figure(void)
{
    PlotFigure *f = sine_figure();
    free(f->title);
    f->title = strdup("all kinds");
    double m[64], v[500], s[50], loss[50], x[200], y[200], st[100];
    int32_t id[100];
    for (int k = 0; k < 64; k++)
        m[k] = sin(k * 0.7) * (k % 8 + 1) * 0.1;
    plot_add_heatmap(f, "J.w", m, 8, 8, "pre", "post", "w");
    for (int k = 0; k < 500; k++)
        v[k] = sin(k * 12.9898) * 0.5 + cos(k * 78.233) * 0.2;
    plot_add_hist(f, "hist(J.w)", v, 500, "w");
    for (int k = 0; k < 200; k++) {
        x[k] = exp(-k * 0.01) * cos(k * 0.1);
        y[k] = exp(-k * 0.01) * sin(k * 0.1);
    }
    plot_add_phase(f, "E.r[0] vs E.r[1]", "E", x, y, 200, "E.r[0]", "E.r[1]");
    PlotPanel *lp = plot_add_loss(f, "loss");
    for (int k = 0; k < 50; k++) {
        s[k] = k;
        loss[k] = exp(-k * 0.1) + 1e-3;
    }
    plot_loss_add(lp, "fit", s, loss, 50);
    for (int k = 0; k < 100; k++) {
        st[k] = (k * 37 % 100) * 1e-3;
        id[k] = k % 10;
    }
    plot_add_raster(f, "raster E", st, id, 100, 10, 0.1);
    return f;
}

static PlotStatus render(const PlotFigure *f, const PlotOptions *o, Diags *d)
{
    diags_clear(d);
    return plot_render(f, o, span_none(), d);
}

static const char *first_message(const Diags *d)
{
    return d->n > 0 ? d->v[0].msg : "(no diagnostic)";
}

/* ---------------------------------------------------------------- tests */

static void test_hist_bins(void)
{
    double v[1000];
    for (int k = 0; k < 1000; k++)
        v[k] = k < 999 ? k / 999.0 : 3.05;   /* IQR 0.5, width 2 * 0.5 / 10 over 3.05 */
    CHECK_INT(plot_hist_bins(v, 1000), 31);
    for (int k = 0; k < 1000; k++)
        v[k] = k < 800 ? 0 : k;   /* IQR 0: sqrt(1000) -> 32 */
    CHECK_INT(plot_hist_bins(v, 1000), 32);
    for (int k = 0; k < 1000; k++)
        v[k] = k / 999.0;         /* uniform: cbrt(1000) = 10, the floor */
    CHECK(plot_hist_bins(v, 1000) <= 11);
    CHECK_INT(plot_hist_bins(v, 1), 10);
    static double big[100000];
    for (int k = 0; k < 100000; k++)
        big[k] = k ? k : 1e12;    /* a far outlier: capped at 100 */
    CHECK_INT(plot_hist_bins(big, 100000), 100);
    double nan3[3] = { NAN, INFINITY, 1 };
    CHECK_INT(plot_hist_bins(nan3, 3), 10);
}

static void test_term_names(void)
{
    PlotTerm t = PLOT_TERM_AUTO;
    CHECK(plot_term_parse("sixel", &t) && t == PLOT_TERM_SIXEL);
    CHECK(plot_term_parse("text", &t) && t == PLOT_TERM_TEXT);
    CHECK(plot_term_parse("auto", &t) && t == PLOT_TERM_AUTO);
    CHECK(!plot_term_parse("png", &t));
    CHECK_STR(plot_term_name(PLOT_TERM_SIXEL), "sixel");
    CHECK_STR(plot_term_name(PLOT_TERM_TEXT), "text");
}

static void test_detect(Diags *d)
{
    int fd = open(path_in("screen.txt"), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    unsetenv("CAJAL_PLOT");
    unsetenv("COLUMNS");
    unsetenv("LINES");
    diags_clear(d);
    PlotScreen s = plot_terminal_detect(fd, PLOT_TERM_AUTO, span_none(), d);
    CHECK(s.term == PLOT_TERM_AUTO);   /* not a terminal: skip */
    CHECK_INT(s.cols, 80);
    CHECK_INT(s.rows, 24);
    CHECK(!s.color);
    setenv("COLUMNS", "100", 1);
    setenv("LINES", "30", 1);
    setenv("CAJAL_PLOT", "text", 1);
    s = plot_terminal_detect(fd, PLOT_TERM_AUTO, span_none(), d);
    CHECK(s.term == PLOT_TERM_TEXT);
    CHECK_INT(s.cols, 100);
    CHECK_INT(s.rows, 30);
    setenv("CAJAL_PLOT", "sixel", 1);
    CHECK(plot_terminal_detect(fd, PLOT_TERM_AUTO, span_none(), d).term == PLOT_TERM_SIXEL);
    CHECK(plot_terminal_detect(fd, PLOT_TERM_TEXT, span_none(), d).term == PLOT_TERM_TEXT);
    CHECK_INT(d->n, 0);
    setenv("CAJAL_PLOT", "pretty", 1);
    s = plot_terminal_detect(fd, PLOT_TERM_AUTO, span_none(), d);
    CHECK(s.term == PLOT_TERM_AUTO);
    CHECK_INT(d->warnings, 1);
    CHECK_STR(first_message(d), "CAJAL_PLOT is 'pretty'; expected text, sixel or auto");
    unsetenv("CAJAL_PLOT");
    unsetenv("COLUMNS");
    unsetenv("LINES");
    close(fd);
    unlink(path_in("screen.txt"));
}

/* Detection on a pseudo-terminal 77x33 whose "terminal" answers the DA1 query
 * with reply (NULL: stays silent), as seen from a child whose stdin and stdout
 * are that terminal. */
static PlotScreen detect_on_pty(const char *reply)
{
    PlotScreen s = { PLOT_TERM_AUTO, false, 0, 0, 0, 0 };
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) {
        fprintf(stderr, "test_plot: no pseudo-terminal: %s\n", strerror(errno));
        return s;
    }
    struct winsize ws = { .ws_row = 33, .ws_col = 77 };
    ioctl(master, TIOCSWINSZ, &ws);
    int back[2];
    CHECK(pipe(back) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        setsid();
        int slave = open(ptsname(master), O_RDWR);
        dup2(slave, STDIN_FILENO);
        dup2(slave, STDOUT_FILENO);
        Diags d;
        diags_init(&d);
        unsetenv("CAJAL_PLOT");
        PlotScreen got = plot_terminal_detect(STDOUT_FILENO, PLOT_TERM_AUTO, span_none(), &d);
        ssize_t w = write(back[1], &got, sizeof got);
        _exit(w == sizeof got ? 0 : 1);
    }
    close(back[1]);
    char query[16] = { 0 };
    size_t n = 0;
    struct pollfd pf = { .fd = master, .events = POLLIN };
    while (n < 3 && poll(&pf, 1, 2000) > 0 && read(master, query + n, 1) == 1)
        n++;
    CHECK(n == 3 && memcmp(query, "\033[c", 3) == 0);
    if (reply)
        CHECK(write(master, reply, strlen(reply)) == (ssize_t)strlen(reply));
    CHECK(read(back[0], &s, sizeof s) == sizeof s);
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(back[0]);
    close(master);
    return s;
}

static void test_detect_pty(void)
{
    PlotScreen s = detect_on_pty("\033[?62;4;6;22c");   /* xterm -ti vt340, mlterm, foot */
    CHECK(s.term == PLOT_TERM_SIXEL);
    CHECK_INT(s.cols, 77);
    CHECK_INT(s.rows, 33);
    s = detect_on_pty("\033[?62;22;42c");   /* no 4; 42 is not 4 */
    CHECK(s.term == PLOT_TERM_TEXT);
    s = detect_on_pty("\033[?4c");
    CHECK(s.term == PLOT_TERM_SIXEL);
    s = detect_on_pty(NULL);   /* no answer: text after the short wait */
    CHECK(s.term == PLOT_TERM_TEXT);
}

static void test_skipped(Diags *d)
{
    PlotFigure *f = sine_figure();
    PlotOptions o;
    plot_options_init(&o);
    o.out_fd = open(path_in("skip.txt"), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    CHECK(render(f, &o, d) == PLOT_SKIPPED);
    CHECK_INT(d->n, 0);
    CHECK(strstr(PLOT_SKIPPED_MESSAGE, "to \"fig.png\"") != NULL);
    struct stat st;
    fstat(o.out_fd, &st);
    CHECK_INT(st.st_size, 0);
    close(o.out_fd);
    unlink(path_in("skip.txt"));
    plot_figure_free(f);
}

/* Draws f as mono text at 60x20 into a file and compares it with tests/plot/name. */
static void golden(const char *name, PlotFigure *f, Diags *d)
{
    PlotOptions o;
    plot_options_init(&o);
    o.term = PLOT_TERM_TEXT;
    o.color = 0;
    o.text_cols = 60;
    o.text_rows = 20;
    const char *out = path_in("golden.txt");
    o.out_fd = open(out, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    CHECK(render(f, &o, d) == PLOT_DONE);
    close(o.out_fd);
    char *got = read_file(out, NULL);
    char want_path[512];
    snprintf(want_path, sizeof want_path, "%s/tests/plot/%s", CAJAL_SRCDIR, name);
    if (getenv("CAJAL_UPDATE_GOLDEN"))
        write_file(want_path, got ? got : "", 0644);
    char *want = read_file(want_path, NULL);
    if (!CHECK(want != NULL))
        fprintf(stderr, "missing golden file %s\n", want_path);
    else if (!CHECK(got && strcmp(got, want) == 0))
        fprintf(stderr, "%s differs from the golden file; got:\n%s\n", want_path, got ? got : "");
    CHECK(got && got[0] && got[strlen(got) - 1] == '\n');
    free(got);
    free(want);
    unlink(out);
}

static void test_text(Diags *d)
{
    PlotFigure *f = sine_figure();
    golden("sine.txt", f, d);
    plot_figure_free(f);
    f = heat4_figure();
    golden("heat4.txt", f, d);
    plot_figure_free(f);

    /* colour text and sixel pictures, forced onto a file */
    f = sine_figure();
    PlotOptions o;
    plot_options_init(&o);
    o.term = PLOT_TERM_TEXT;
    o.color = 1;
    o.text_cols = 70;
    o.text_rows = 22;
    o.out_fd = open(path_in("color.txt"), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    CHECK(render(f, &o, d) == PLOT_DONE);
    close(o.out_fd);
    char *s = read_file(path_in("color.txt"), NULL);
    CHECK(s && strstr(s, "\033[38;5;") && strstr(s, "time (ms)"));
    free(s);
    o.term = PLOT_TERM_SIXEL;
    o.out_fd = open(path_in("sixel.txt"), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    CHECK(render(f, &o, d) == PLOT_DONE);
    close(o.out_fd);
    s = read_file(path_in("sixel.txt"), NULL);
    CHECK(s && strncmp(s, "\033P", 2) == 0 && strstr(s, "\033\\"));
    free(s);
    unlink(path_in("color.txt"));
    unlink(path_in("sixel.txt"));

    /* two panels one after the other, without the dumb terminal's form feeds;
     * the heat map in colour is drawn with background colours */
    plot_add_heatmap(f, "J.w", HEAT4, 4, 4, "pre", "post", "w");
    o.term = PLOT_TERM_TEXT;
    o.text_rows = 40;
    o.out_fd = open(path_in("two.txt"), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    CHECK(render(f, &o, d) == PLOT_DONE);
    close(o.out_fd);
    s = read_file(path_in("two.txt"), NULL);
    CHECK(s && !strchr(s, '\f'));
    CHECK(s && strstr(s, "time (ms)") && strstr(s, "post  0 1 2 3") && strstr(s, "\033[48;5;124m"));
    CHECK(s && strstr(s, "time (ms)") < strstr(s, "post  0 1 2 3"));
    free(s);
    unlink(path_in("two.txt"));
    plot_figure_free(f);
}

static void test_png(Diags *d)
{
    PlotFigure *f = all_kinds_figure();
    PlotOptions o;
    plot_options_init(&o);
    o.path = path_in("all.png");
    o.width = 640;
    o.height = 1500;
    CHECK(render(f, &o, d) == PLOT_DONE);
    Png png;
    CHECK(png_read(o.path, &png));
    CHECK_INT(png.width, 640);
    CHECK_INT(png.height, 1500);
    CHECK(png.colors > 5);
    plot_figure_free(f);

    f = heat4_figure();   /* default size for one heat map: 640 x 540 */
    o.path = path_in("heat.png");
    o.width = o.height = 0;
    CHECK(render(f, &o, d) == PLOT_DONE);
    CHECK(png_read(o.path, &png));
    CHECK_INT(png.width, 640);
    CHECK_INT(png.height, 540);
    CHECK(png.colors > 5);
    plot_figure_free(f);
    CHECK_INT(hidden_files(), 0);
}

static void test_svg_pdf(Diags *d)
{
    PlotFigure *f = all_kinds_figure();
    PlotOptions o;
    plot_options_init(&o);
    o.path = path_in("all.svg");
    CHECK(render(f, &o, d) == PLOT_DONE);
    char *s = read_file(o.path, NULL);
    CHECK(s && (strstr(s, "<path") || strstr(s, "<polyline")));
    CHECK(s && strstr(s, "</svg>"));
    char *argv[] = { "xmllint", "--noout", (char *)o.path, NULL };
    int rc = run(NULL, argv);
    if (rc == 127)
        fprintf(stderr, "test_plot: xmllint not found; SVG checked for its closing tag only\n");
    else
        CHECK_INT(rc, 0);
    free(s);

    o.path = path_in("all.pdf");
    CHECK(render(f, &o, d) == PLOT_DONE);
    size_t n;
    s = read_file(o.path, &n);
    CHECK(s && n > 100 && strncmp(s, "%PDF-", 5) == 0);
    while (s && n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    CHECK(s && n >= 5 && memcmp(s + n - 5, "%%EOF", 5) == 0);
    free(s);

    o.path = path_in("all.PDF");   /* extensions in any case */
    CHECK(render(f, &o, d) == PLOT_DONE);
    unlink(o.path);

    o.path = path_in("all.jpg");
    CHECK(render(f, &o, d) == PLOT_FAILED);
    char want[512];
    snprintf(want, sizeof want,
             "cannot plot to '%s': unknown file type '.jpg'; use .png, .svg, .pdf or .gp", o.path);
    CHECK_STR(first_message(d), want);
    CHECK(!exists(o.path));

    o.path = path_in("no/such/folder/fig.png");
    CHECK(render(f, &o, d) == PLOT_FAILED);
    snprintf(want, sizeof want, "cannot write '%s': no such folder", o.path);
    CHECK_STR(first_message(d), want);
    plot_figure_free(f);
    CHECK_INT(hidden_files(), 0);
}

static void test_gp(Diags *d)
{
    mkdir(path_in("gp"), 0755);
    PlotFigure *f = all_kinds_figure();
    PlotOptions o;
    plot_options_init(&o);
    o.path = path_in("gp/fig.gp");
    CHECK(render(f, &o, d) == PLOT_DONE);
    for (int i = 1; i <= f->npanels; i++) {
        char name[64];
        snprintf(name, sizeof name, "gp/fig_%d.dat", i);
        CHECK(exists(path_in(name)));
    }
    char *script = read_file(o.path, NULL);
    CHECK(script && strstr(script, "set output 'fig.png'") && strstr(script, "'fig_1.dat'"));
    CHECK(script && !strstr(script, dir));   /* relative paths only */
    free(script);
    char *argv[] = { "gnuplot", "fig.gp", NULL };
    CHECK_INT(run(path_in("gp"), argv), 0);
    Png png;
    CHECK(png_read(path_in("gp/fig.png"), &png));
    CHECK(png.colors > 5);
    plot_figure_free(f);

    f = sine_figure();   /* one panel: fig.dat */
    o.path = path_in("gp/one.gp");
    CHECK(render(f, &o, d) == PLOT_DONE);
    CHECK(exists(path_in("gp/one.dat")));
    CHECK(!exists(path_in("gp/one_1.dat")));
    char *data = read_file(path_in("gp/one.dat"), NULL);
    CHECK(data && strncmp(data, "# time (ms) | E.r[0]\n0 0\n1 0.1253332336\n", 39) == 0);
    free(data);
    char *argv1[] = { "gnuplot", "one.gp", NULL };
    CHECK_INT(run(path_in("gp"), argv1), 0);
    CHECK(png_read(path_in("gp/one.png"), &png) && png.colors > 5);
    plot_figure_free(f);

    DIR *dp = opendir(path_in("gp"));
    int hidden = 0;
    for (struct dirent *e; (e = readdir(dp));) {
        if (e->d_name[0] == '.' && strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            hidden++;
        if (e->d_name[0] != '.') {
            char name[300];
            snprintf(name, sizeof name, "gp/%s", e->d_name);
            unlink(path_in(name));
        }
    }
    closedir(dp);
    CHECK_INT(hidden, 0);
    rmdir(path_in("gp"));
}

static const char NOT_INSTALLED[] =
    "gnuplot is not installed; install it with: sudo apt-get install gnuplot-nox";

static void test_missing_gnuplot(Diags *d)
{
    PlotFigure *f = sine_figure();
    PlotOptions o;
    plot_options_init(&o);
    o.path = path_in("missing.png");
    setenv("CAJAL_GNUPLOT", "/nonexistent", 1);
    CHECK(render(f, &o, d) == PLOT_FAILED);
    CHECK_STR(first_message(d), NOT_INSTALLED);
    CHECK(d->n > 0 && d->v[0].hint && strstr(d->v[0].hint, "CAJAL_GNUPLOT"));
    CHECK(!exists(o.path));
    o.path = NULL;   /* the terminal path too */
    o.term = PLOT_TERM_TEXT;
    o.out_fd = open(path_in("missing.txt"), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    CHECK(render(f, &o, d) == PLOT_FAILED);
    CHECK_STR(first_message(d), NOT_INSTALLED);
    close(o.out_fd);
    unlink(path_in("missing.txt"));
    unsetenv("CAJAL_GNUPLOT");
    plot_figure_free(f);
    CHECK_INT(hidden_files(), 0);
    CHECK(no_children());
}

static void test_gnuplot_errors(Diags *d)
{
    PlotFigure *f = sine_figure();
    PlotOptions o;
    plot_options_init(&o);
    o.path = path_in("bad.png");
    o.debug_commands = "this is not a command";
    Span at = { source_new("model.cajal", "plot E.r[0]\n", 12), 0, 11 };
    diags_clear(d);
    CHECK(plot_render(f, &o, at, d) == PLOT_FAILED);
    CHECK_STR(first_message(d), "gnuplot: invalid command");
    CHECK(d->n > 0 && d->v[0].span.file == at.file && d->v[0].span.len == 11);
    CHECK(!exists(o.path));
    CHECK_INT(hidden_files(), 0);

    o.debug_commands = "set output '/nonexistent/x.png'";
    CHECK(render(f, &o, d) == PLOT_FAILED);
    CHECK_STR(first_message(d),
              "gnuplot: cannot open file; output not changed (No such file or directory)");
    o.debug_commands = NULL;

    /* a gnuplot that exits at once without reading: a large script meets a
     * closed pipe (SIGPIPE must not end the test) and its message is reported */
    write_file(path_in("quits"), "#!/bin/sh\necho 'boom: no fonts here' >&2\nexit 3\n", 0755);
    o.gnuplot = path_in("quits");
    PlotFigure *big = plot_figure_new(NULL);
    static double m[300 * 300];
    for (int k = 0; k < 300 * 300; k++)
        m[k] = k % 7 - 3;
    plot_add_heatmap(big, "J.w", m, 300, 300, "pre", "post", NULL);
    CHECK(render(big, &o, d) == PLOT_FAILED);
    CHECK_STR(first_message(d), "gnuplot: boom: no fonts here");
    CHECK(!exists(o.path));
    unlink(path_in("quits"));

    /* nothing finite to draw: said in cajal's words before gnuplot runs */
    double t[3] = { 0, 1e-3, 2e-3 }, y[3] = { NAN, NAN, INFINITY };
    PlotFigure *nan = plot_figure_new(NULL);
    plot_traces_add(plot_add_traces(nan, NULL, t, 3, "r"), "E.r[0]", y);
    CHECK(render(nan, &o, d) == PLOT_FAILED);
    CHECK_STR(first_message(d),
              "nothing to plot in 'E.r[0]': no finite values (all NaN or infinite)");
    plot_figure_free(nan);
    plot_figure_free(big);
    plot_figure_free(f);
    CHECK_INT(hidden_files(), 0);
    CHECK(no_children());
}

static void test_timeout(Diags *d)
{
    /* ignores SIGTERM, starts a grandchild, never reads its input */
    char script[512];
    snprintf(script, sizeof script,
             "#!/bin/sh\ntrap '' TERM\necho $$ > %s\nsleep 30 &\necho $! >> %s\nwait\n",
             path_in("pids"), path_in("pids"));
    write_file(path_in("sleeper"), script, 0755);
    PlotFigure *f = plot_figure_new(NULL);
    static double m[300 * 300];   /* ~1 MB of script: the pipe fills */
    for (int k = 0; k < 300 * 300; k++)
        m[k] = sin(k);
    plot_add_heatmap(f, "J.w", m, 300, 300, "pre", "post", NULL);
    PlotOptions o;
    plot_options_init(&o);
    o.gnuplot = path_in("sleeper");
    o.timeout = 1;
    o.path = path_in("slow.png");
    double t0 = seconds();
    CHECK(render(f, &o, d) == PLOT_FAILED);
    double took = seconds() - t0;
    CHECK_STR(first_message(d), "gnuplot did not finish within 1 s; the plot was stopped");
    CHECK(took >= 0.9 && took < 4);
    CHECK(no_children());
    CHECK(!exists(o.path));
    CHECK_INT(hidden_files(), 0);
    char *pids = read_file(path_in("pids"), NULL);
    int a = 0, b = 0;
    CHECK(pids && sscanf(pids, "%d %d", &a, &b) == 2);
    for (int i = 0; i < 100 && !(dead(a) && dead(b)); i++)
        usleep(10000);   /* the orphaned grandchild is reaped by init */
    CHECK(a > 0 && dead(a));
    CHECK(b > 0 && dead(b));
    free(pids);

    /* the terminal path stops the same way */
    o.path = NULL;
    o.term = PLOT_TERM_TEXT;
    o.out_fd = open(path_in("slow.txt"), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    CHECK(render(f, &o, d) == PLOT_FAILED);
    CHECK_STR(first_message(d), "gnuplot did not finish within 1 s; the plot was stopped");
    CHECK(no_children());
    close(o.out_fd);
    unlink(path_in("slow.txt"));
    unlink(path_in("pids"));
    unlink(path_in("sleeper"));
    plot_figure_free(f);
}

int main(void)
{
    strcpy(dir, "/tmp/cajal_plot_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    Diags d;
    diags_init(&d);
    test_hist_bins();
    test_term_names();
    test_detect(&d);
    test_detect_pty();
    test_skipped(&d);
    test_text(&d);
    test_png(&d);
    test_svg_pdf(&d);
    test_gp(&d);
    test_missing_gnuplot(&d);
    test_gnuplot_errors(&d);
    test_timeout(&d);
    CHECK(no_children());

    unlink(path_in("all.png"));
    unlink(path_in("heat.png"));
    unlink(path_in("all.svg"));
    unlink(path_in("all.pdf"));
    DIR *dp = opendir(dir);
    int left = 0;
    for (struct dirent *e; (e = readdir(dp));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            fprintf(stderr, "test_plot: left behind: %s/%s\n", dir, e->d_name);
            left++;
        }
    closedir(dp);
    CHECK_INT(left, 0);
    rmdir(dir);
    diags_fini(&d);
    source_free_all();
    return check_done("test_plot");
}
