/* diag.c: source registry, line maps, and the printing of located diagnostics.
 *
 * Lines can be 10 MB long and hold invalid UTF-8 or NULs, so the echoed source
 * line is cut to a window around the span and unprintable bytes are shown as '?'.
 * Columns count UTF-8 characters, as editors do.
 */
#include "diag.h"
#include "xalloc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static SourceFile *all_sources;

SourceFile *source_new(const char *name, const char *text, size_t len)
{
    SourceFile *f = xcalloc(1, sizeof *f);
    f->name = xstrdup(name);
    /* A UTF-8 byte order mark some editors write at the start is not text. */
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) {
        text += 3;
        len -= 3;
    }
    f->text = xmalloc(len + 1);
    memcpy(f->text, text, len);
    f->text[len] = 0;
    f->len = len;
    f->first_line = 1;
    f->next = all_sources;
    all_sources = f;
    return f;
}

SourceFile *source_read(const char *path, const char **why)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        *why = errno == ENOENT ? "no such file" : strerror(errno);
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        *why = "is a directory, not a file";
        return NULL;
    }
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        *why = strerror(errno);
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = xmalloc(cap);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len, fp)) > 0) {
        len += got;
        if (len == cap)
            buf = xrealloc(buf, cap *= 2);
    }
    bool bad = ferror(fp);
    fclose(fp);
    if (bad) {
        free(buf);
        *why = "could not be read";
        return NULL;
    }
    SourceFile *f = source_new(path, buf, len);
    free(buf);
    return f;
}

void source_free_all(void)
{
    while (all_sources) {
        SourceFile *next = all_sources->next;
        free(all_sources->name);
        free(all_sources->text);
        free(all_sources->lines);
        free(all_sources);
        all_sources = next;
    }
}

static void build_lines(SourceFile *f)
{
    if (f->lines)
        return;
    uint32_t cap = 64, n = 0;
    uint32_t *v = xmalloc(cap * sizeof *v);
    v[n++] = 0;
    for (size_t i = 0; i < f->len; i++)
        if (f->text[i] == '\n') {
            if (n == cap)
                v = xrealloc(v, (cap *= 2) * sizeof *v);
            v[n++] = (uint32_t)(i + 1);
        }
    f->lines = v;
    f->nlines = n;
}

/* Index of the line holding byte off (binary search in the line map). */
static uint32_t line_of(SourceFile *f, uint32_t off)
{
    build_lines(f);
    uint32_t lo = 0, hi = f->nlines;
    while (hi - lo > 1) {
        uint32_t mid = (lo + hi) / 2;
        if (f->lines[mid] <= off)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Bytes of the character at s[i] (before b) as put_source shows it: a whole
 * UTF-8 sequence, or one byte (a stray or invalid byte shows as one '?'). */
static size_t char_len(const char *s, size_t i, size_t b)
{
    unsigned char c = (unsigned char)s[i];
    if (c < 0xC2 || c > 0xF4)
        return 1;
    size_t need = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1, k = 0;
    while (k < need && i + 1 + k < b && ((unsigned char)s[i + 1 + k] & 0xC0) == 0x80)
        k++;
    return k == need ? need + 1 : 1;
}

/* Characters in s[0, n), counted as put_source shows them. */
static int utf8_chars(const char *s, size_t n)
{
    int c = 0;
    for (size_t i = 0; i < n; i += char_len(s, i, n))
        c++;
    return c;
}

void span_linecol(Span s, int *line, int *col)
{
    if (!s.file) {
        *line = *col = 0;
        return;
    }
    SourceFile *f = (SourceFile *)s.file;
    uint32_t off = s.off > f->len ? (uint32_t)f->len : s.off;
    uint32_t l = line_of(f, off);
    *line = (int)l + f->first_line;
    *col = utf8_chars(f->text + f->lines[l], off - f->lines[l]) + 1;
}

Span span_join(Span a, Span b)
{
    if (!a.file)
        return b;
    if (!b.file || a.file != b.file)
        return a;
    uint32_t lo = a.off < b.off ? a.off : b.off;
    uint32_t ea = a.off + a.len, eb = b.off + b.len;
    uint32_t hi = ea > eb ? ea : eb;
    return (Span){ a.file, lo, hi - lo };
}

void diags_init(Diags *d)
{
    memset(d, 0, sizeof *d);
    d->max_errors = 20;
}

void diags_clear(Diags *d)
{
    for (int i = 0; i < d->n; i++) {
        free(d->v[i].msg);
        free(d->v[i].hint);
    }
    d->n = d->errors = d->warnings = d->dropped = 0;
}

void diags_fini(Diags *d)
{
    diags_clear(d);
    free(d->v);
    d->v = NULL;
    d->cap = 0;
}

static char *vformat(const char *fmt, va_list ap)
{
    va_list aq;
    va_copy(aq, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n < 0)
        n = 0;
    char *p = xmalloc((size_t)n + 1);
    if ((size_t)n < sizeof small)
        memcpy(p, small, (size_t)n + 1);
    else
        vsnprintf(p, (size_t)n + 1, fmt, aq);
    va_end(aq);
    return p;
}

enum { MSG_HEAD = 160, MSG_TAIL = 100 };   /* a message quoting a 10 MB name is cut */

/* Cuts the middle out of a very long message, at character boundaries. */
static char *shorten(char *msg)
{
    size_t n = strlen(msg);
    if (n <= MSG_HEAD + MSG_TAIL + 3)
        return msg;
    size_t head = MSG_HEAD, tail = n - MSG_TAIL;
    while (head > 0 && ((unsigned char)msg[head] & 0xC0) == 0x80)
        head--;
    while (tail < n && ((unsigned char)msg[tail] & 0xC0) == 0x80)
        tail++;
    memcpy(msg + head, "...", 3);
    memmove(msg + head + 3, msg + tail, n - tail + 1);
    return msg;
}

static void add(Diags *d, DiagLevel level, Span at, const char *fmt, va_list ap)
{
    if (level == DIAG_ERROR) {
        d->errors++;
        if (d->errors > d->max_errors) {
            d->dropped++;
            return;
        }
    } else if (level == DIAG_WARNING) {
        d->warnings++;
    } else if (d->dropped) {
        return;   /* a note on a dropped error */
    }
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 8;
        d->v = xrealloc(d->v, (size_t)d->cap * sizeof *d->v);
    }
    d->v[d->n++] = (Diag){ level, at, shorten(vformat(fmt, ap)), NULL };
}

void diag_error(Diags *d, Span at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add(d, DIAG_ERROR, at, fmt, ap);
    va_end(ap);
}

void diag_warning(Diags *d, Span at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add(d, DIAG_WARNING, at, fmt, ap);
    va_end(ap);
}

void diag_note(Diags *d, Span at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add(d, DIAG_NOTE, at, fmt, ap);
    va_end(ap);
}

void diag_hint(Diags *d, const char *fmt, ...)
{
    if (!d->n || d->dropped)
        return;
    Diag *g = &d->v[d->n - 1];
    va_list ap;
    va_start(ap, fmt);
    char *h = vformat(fmt, ap);
    va_end(ap);
    if (g->hint) {
        char *both = xmalloc(strlen(g->hint) + strlen(h) + 2);
        sprintf(both, "%s\n%s", g->hint, h);
        free(g->hint);
        free(h);
        h = both;
    }
    g->hint = h;
}

enum { WINDOW = 100 };   /* characters of source shown around a span */

/* Prints bytes [a, b) of a source line, showing control bytes and invalid UTF-8
 * as '?' so a binary file cannot scramble the terminal. */
static void put_source(FILE *out, const char *s, size_t a, size_t b)
{
    for (size_t i = a; i < b;) {
        unsigned char c = (unsigned char)s[i];
        size_t n = char_len(s, i, b);
        if (n > 1 || c == '\t' || (c >= 0x20 && c < 0x7f))
            fwrite(s + i, 1, n, out);
        else
            fputc('?', out);
        i += n;
    }
}

/* Visible width of bytes [a, b): one column per character, as put_source shows them. */
static void put_pad(FILE *out, const char *s, size_t a, size_t b)
{
    for (size_t i = a; i < b; i += char_len(s, i, b))
        fputc(s[i] == '\t' ? '\t' : ' ', out);
}

/* Writes one diagnostic into out (a memory stream: stderr is unbuffered, and a
 * caret line written a character at a time would be one system call each). */
static void format_one(const Diag *g, FILE *out, bool color)
{
    static const char *const label[] = { "error", "warning", "note" };
    static const char *const tint[] = { "\033[1;31m", "\033[1;35m", "\033[1;36m" };
    const char *bold = color ? "\033[1m" : "", *off = color ? "\033[0m" : "";
    if (!g->span.file) {
        fprintf(out, "%scajal:%s %s%s:%s %s\n", bold, off, color ? tint[g->level] : "",
                label[g->level], off, g->msg);
    } else {
        int line, col;
        span_linecol(g->span, &line, &col);
        fprintf(out, "%s%s:%d:%d:%s %s%s:%s %s\n", bold, g->span.file->name, line, col, off,
                color ? tint[g->level] : "", label[g->level], off, g->msg);
        SourceFile *f = (SourceFile *)g->span.file;
        uint32_t off0 = g->span.off > f->len ? (uint32_t)f->len : g->span.off;
        uint32_t l = line_of(f, off0);
        size_t start = f->lines[l], end = start;
        while (end < f->len && f->text[end] != '\n')
            end++;
        if (end > start && f->text[end - 1] == '\r')
            end--;
        size_t span_end = off0 + g->span.len;
        if (span_end > end)
            span_end = end;
        /* Keep the window around the span on very long lines. */
        size_t from = start, to = end;
        if (off0 - start > WINDOW)
            from = off0 - WINDOW / 2;
        if (to - from > 2 * WINDOW)
            to = from + 2 * WINDOW;
        if (to > end)
            to = end;
        while (to < end && ((unsigned char)f->text[to] & 0xC0) == 0x80)
            to++;
        while (from > start && ((unsigned char)f->text[from] & 0xC0) == 0x80)
            from--;
        char num[16];
        int w = snprintf(num, sizeof num, "%d", line);
        if (w < 4)
            w = 4;
        fprintf(out, "%*d | %s", w, line, from > start ? "..." : "");
        put_source(out, f->text, from, to);
        fprintf(out, "%s\n", to < end ? "..." : "");
        fprintf(out, "%*s | %s", w, "", from > start ? "   " : "");
        put_pad(out, f->text, from, off0);
        fputs(color ? tint[g->level] : "", out);
        /* carets under the shown part of the span only */
        size_t shown_end = span_end < to ? span_end : to;
        size_t carets = shown_end > off0 ? (size_t)utf8_chars(f->text + off0, shown_end - off0) : 1;
        for (size_t i = 0; i < carets; i++)
            fputc('^', out);
        fprintf(out, "%s%s\n", span_end > to && to < end ? "..." : "", off);
    }
    if (g->hint)
        fprintf(out, "%shint:%s %s\n", color ? "\033[1;32m" : "", off, g->hint);
}

void diag_print_one(const Diag *g, FILE *out, bool color)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem) {
        format_one(g, out, color);
        return;
    }
    format_one(g, mem, color);
    fclose(mem);
    fwrite(text, 1, len, out);
    free(text);
}

/* Rank of a diagnostic's file: files in the order they first appear, so the
 * sort keeps a module's errors together, before or after the script's. */
static int file_rank(const Diags *d, const SourceFile *f)
{
    for (int i = 0; i < d->n; i++)
        if (d->v[i].span.file == f)
            return i;
    return d->n;
}

typedef struct Group {
    int first, n;        /* an error or warning and the notes after it */
    int rank;
    uint32_t off;
} Group;

static int group_cmp(const void *pa, const void *pb)
{
    const Group *a = pa, *b = pb;
    if (a->rank != b->rank)
        return a->rank < b->rank ? -1 : 1;
    if (a->off != b->off)
        return a->off < b->off ? -1 : 1;
    return a->first < b->first ? -1 : a->first > b->first;   /* stable */
}

/* Prints in source order: the parser reports its errors before the checker
 * reports any, but a reader wants a file's errors line by line. A note stays
 * with the error before it; diagnostics without a location keep their order
 * among themselves, ranked as a file of their own. */
void diags_print(const Diags *d, FILE *out, bool color)
{
    Group *groups = xmalloc((size_t)(d->n ? d->n : 1) * sizeof *groups);
    int ng = 0;
    for (int i = 0; i < d->n; i++) {
        if (d->v[i].level == DIAG_NOTE && ng > 0) {
            groups[ng - 1].n++;
            continue;
        }
        groups[ng++] = (Group){ i, 1, file_rank(d, d->v[i].span.file), d->v[i].span.off };
    }
    qsort(groups, (size_t)ng, sizeof *groups, group_cmp);
    for (int g = 0; g < ng; g++)
        for (int i = groups[g].first; i < groups[g].first + groups[g].n; i++)
            diag_print_one(&d->v[i], out, color);
    free(groups);
    if (d->dropped)
        fprintf(out, "cajal: %d more error%s not shown\n", d->dropped, d->dropped == 1 ? "" : "s");
}

/* Optimal string alignment distance: insertions, deletions, substitutions and
 * swaps of two neighbours each cost one ("lenght" is one edit from "length"). */
static int edit_distance(const char *a, const char *b, int limit)
{
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (abs(la - lb) > limit || la > 64 || lb > 64)
        return limit + 1;
    int d[65][65];
    for (int i = 0; i <= la; i++)
        d[i][0] = i;
    for (int j = 0; j <= lb; j++)
        d[0][j] = j;
    for (int i = 1; i <= la; i++)
        for (int j = 1; j <= lb; j++) {
            int best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[la][lb];
}

const char *diag_closest(const char *name, const char *const *candidates, int n)
{
    int limit = strlen(name) <= 3 ? 1 : 2;
    const char *best = NULL;
    int best_d = limit + 1;
    for (int i = 0; i < n; i++) {
        if (!candidates[i] || strcmp(candidates[i], name) == 0)
            continue;
        int dist = edit_distance(name, candidates[i], limit);
        if (dist < best_d) {
            best_d = dist;
            best = candidates[i];
        }
    }
    return best;
}
