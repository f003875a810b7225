/* io_csv.c: numeric CSV tables in and out (the layout is fixed in io_csv.h).
 *
 * Reading holds the whole file in memory and makes two passes over it: the first
 * splits every line and checks field counts, so the tensor is sized once; the
 * second converts the cells. Both passes share one splitter, so they cannot
 * disagree about where a field ends. Files come from spreadsheets and other
 * programs: a stray quote, a NUL byte or a 10 MB line must give an error naming
 * the line, never a crash, and a file of a million bad rows stops after 10
 * messages.
 */
#include "io_csv.h"
#include "fileio.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

int64_t csv_max_bytes = 1LL << 32;

enum { MAX_ERRORS = 10, NUMBER_MAX = 512 };

#ifdef CAJAL_FLOAT
#define CSV_FMT "%.9g"
#define parse_real strtof
#else
#define CSV_FMT "%.17g"
#define parse_real strtod
#endif

typedef struct Field {
    const char *s;
    size_t n;
    bool quoted;
} Field;

typedef struct Reader {
    const char *path;
    Diags *d;
    Span at;
    int errors;
    Field *f;
    int64_t nf, cap;
} Reader;

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

/* The line's fields into r->f. Returns false, with *bad set to the 1-based
 * column, on an unterminated quote or text after a closing quote.
 *   line -> field { ',' field }      field -> spaces ( '"' { char | '""' } '"' | text ) spaces
 */
static bool split(Reader *r, const char *p, const char *end, int64_t *bad)
{
    r->nf = 0;
    for (;;) {
        while (p < end && is_blank(*p))
            p++;
        Field fl = { p, 0, false };
        if (p < end && *p == '"') {
            fl.quoted = true;
            fl.s = ++p;
            while (p < end && !(*p == '"' && !(p + 1 < end && p[1] == '"')))
                p += *p == '"' ? 2 : 1;
            if (p >= end) {
                *bad = r->nf + 1;
                return false;
            }
            fl.n = (size_t)(p - fl.s);
            p++;
            while (p < end && is_blank(*p))
                p++;
            if (p < end && *p != ',') {
                *bad = r->nf + 1;
                return false;
            }
        } else {
            const char *q = p;
            while (q < end && *q != ',')
                q++;
            const char *e = q;
            while (e > p && is_blank(e[-1]))
                e--;
            fl.n = (size_t)(e - p);
            p = q;
        }
        if (r->nf == r->cap)
            r->f = xrealloc(r->f, (size_t)(r->cap = r->cap ? 2 * r->cap : 16) * sizeof *r->f);
        r->f[r->nf++] = fl;
        if (p >= end)
            return true;
        p++;            /* the comma */
    }
}

/* A field as a number; false if it is empty or not entirely a number. */
static bool number(const Field *f, real *v)
{
    char buf[NUMBER_MAX];
    if (f->n == 0 || f->n >= sizeof buf)
        return false;
    memcpy(buf, f->s, f->n);
    buf[f->n] = 0;
    if (strlen(buf) != f->n)
        return false;           /* a NUL inside */
    char *end;
    *v = parse_real(buf, &end);
    return end == buf + f->n;
}

/* The field's text, shortened and with unprintable bytes as '?', for messages. */
static const char *shown(const Field *f, char *buf, size_t cap)
{
    size_t n = f->n < cap - 4 ? f->n : cap - 4;
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)f->s[i] < 0x20 || (unsigned char)f->s[i] == 0x7f ? '?' : f->s[i];
    strcpy(buf + n, f->n > n ? "..." : "");
    return buf;
}

static bool too_many(Reader *r)
{
    if (++r->errors < MAX_ERRORS)
        return false;
    diag_note(r->d, r->at, "stopped reading '%s' after %d errors", r->path, MAX_ERRORS);
    return true;
}

/* Walks the lines of text, skipping blank and comment lines; calls fn with each
 * remaining line's fields. Stops early when fn returns false. */
typedef bool (*RowFn)(Reader *r, int64_t line, void *ctx);

static bool each_row(Reader *r, const char *text, size_t len, RowFn fn, void *ctx)
{
    const char *p = text, *end = text + len;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    for (int64_t line = 1; p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *next = nl ? nl + 1 : end;
        if (le > p && le[-1] == '\r')
            le--;
        const char *q = p;
        while (q < le && (is_blank(*q) || *q == '\r'))
            q++;
        if (q < le && *q != '#') {
            int64_t bad;
            if (!split(r, p, le, &bad)) {
                diag_error(r->d, r->at, "file '%s': line %lld, column %lld: unterminated quote, or text "
                           "after a closing quote", r->path, (long long)line, (long long)bad);
                if (too_many(r))
                    return false;
            } else if (!fn(r, line, ctx)) {
                return false;
            }
        }
        p = next;
    }
    return true;
}

typedef struct Shape1 {
    int64_t rows, cols;
    int64_t first_line;     /* of the first row, header or data */
    int64_t cols_line;      /* the line that fixed the column count */
    bool header;
    char **names;
} Shape1;

static bool count_row(Reader *r, int64_t line, void *ctx)
{
    Shape1 *s = ctx;
    if (!s->first_line) {
        s->first_line = line;
        s->cols = r->nf;
        s->cols_line = line;
        for (int64_t k = 0; k < r->nf && !s->header; k++) {
            real v;     /* an empty cell alone does not make a header */
            s->header = r->f[k].n > 0 && !number(&r->f[k], &v);
        }
        if (s->header) {
            s->names = xcalloc((size_t)r->nf, sizeof *s->names);
            for (int64_t k = 0; k < r->nf; k++) {
                const Field *f = &r->f[k];
                char *name = xmalloc(f->n + 1);
                size_t n = 0;
                for (size_t i = 0; i < f->n; i++) {
                    name[n++] = f->s[i];
                    if (f->quoted && f->s[i] == '"')
                        i++;            /* "" -> " */
                }
                name[n] = 0;
                s->names[k] = name;
            }
            return true;
        }
    }
    if (r->nf != s->cols) {
        diag_error(r->d, r->at, "file '%s': line %lld has %lld field%s, expected %lld (as on line %lld)",
                   r->path, (long long)line, (long long)r->nf, r->nf == 1 ? "" : "s",
                   (long long)s->cols, (long long)s->cols_line);
        return !too_many(r);
    }
    s->rows++;
    return true;
}

typedef struct Fill {
    const Shape1 *shape;
    Tensor *t;
    int64_t row;
} Fill;

static bool fill_row(Reader *r, int64_t line, void *ctx)
{
    Fill *f = ctx;
    if (f->shape->header && line == f->shape->first_line)
        return true;
    for (int64_t k = 0; k < r->nf; k++) {
        real v;
        if (number(&r->f[k], &v)) {
            f->t->data[f->row * f->shape->cols + k] = v;
            continue;
        }
        char col[300] = "", text[48];
        if (f->shape->names)
            snprintf(col, sizeof col, " ('%.256s')", f->shape->names[k]);
        if (r->f[k].n == 0)
            diag_error(r->d, r->at, "file '%s': line %lld, column %lld%s is empty, expected a number",
                       r->path, (long long)line, (long long)k + 1, col);
        else
            diag_error(r->d, r->at, "file '%s': line %lld, column %lld%s: '%s' is not a number",
                       r->path, (long long)line, (long long)k + 1, col, shown(&r->f[k], text, sizeof text));
        if (too_many(r))
            return false;
    }
    f->row++;
    return true;
}

static void free_names(char **names, int64_t n)
{
    if (!names)
        return;
    for (int64_t k = 0; k < n; k++)
        free(names[k]);
    free(names);
}

bool csv_read(const char *path, CsvTable *out, Diags *d, Span at)
{
    memset(out, 0, sizeof *out);
    size_t len;
    char *text = fileio_read_all(path, csv_max_bytes, &len, d, at);
    if (!text)
        return false;
    Reader r = { .path = path, .d = d, .at = at };
    Shape1 s = { 0 };
    bool ok = each_row(&r, text, len, count_row, &s) && r.errors == 0;
    if (ok && !s.first_line) {
        diag_error(d, at, "file '%s' has no rows: expected a table of numbers", path);
        ok = false;
    }
    Tensor *t = NULL;
    if (ok) {
        t = tensor_new2(path, s.rows, s.cols, d, at);
        ok = t != NULL;
    }
    if (ok) {
        t->name = NULL;
        Fill f = { &s, t, 0 };
        ok = each_row(&r, text, len, fill_row, &f) && r.errors == 0;
    }
    free(r.f);
    free(text);
    if (!ok) {
        tensor_free(t);
        free_names(s.names, s.cols);
        return false;
    }
    out->t = t;
    out->cols = s.cols;
    out->names = s.names;
    return true;
}

void csv_table_fini(CsvTable *table)
{
    tensor_free(table->t);
    free_names(table->names, table->cols);
    memset(table, 0, sizeof *table);
}

/* A header cell, quoted when it holds a comma, a quote, a '#' or spaces at its
 * ends (which the reader would otherwise drop). */
static void put_name(AtomicFile *f, const char *name)
{
    size_t n = strlen(name);
    bool quote = strpbrk(name, ",\"#\r\n") || (n && (is_blank(name[0]) || is_blank(name[n - 1])));
    if (!quote) {
        fileio_write(f, name, n);
        return;
    }
    fileio_write(f, "\"", 1);
    for (const char *p = name; *p; p++) {
        char c = *p == '\n' || *p == '\r' ? ' ' : *p;
        fileio_write(f, &c, 1);
        if (c == '"')
            fileio_write(f, "\"", 1);
    }
    fileio_write(f, "\"", 1);
}

bool csv_write(const char *path, const Tensor *t, const char *const *names, Diags *d, Span at)
{
    if (t->rank > 3) {
        diag_error(d, at, "cannot write '%s': a CSV file holds tensors of up to 3 dimensions "
                   "([T, B, n]), not %d; save it as .npy", path, t->rank);
        return false;
    }
    int64_t rows = t->rank == 0 ? 1 : t->rank == 3 ? t->dim[0] * t->dim[1] : t->dim[0];
    int64_t cols = t->rank == 2 ? t->dim[1] : t->rank == 3 ? t->dim[2] : 1;
    int64_t trials = t->rank == 3 ? t->dim[1] : 1;
    AtomicFile f;
    if (!fileio_open(&f, path, d, at))
        return false;

    const char *base = t->name ? t->name : "x";
    char buf[64];
    if (t->rank == 3)
        fileio_write(&f, "t,b,", 4);
    for (int64_t c = 0; c < cols; c++) {
        if (c)
            fileio_write(&f, ",", 1);
        if (names) {
            put_name(&f, names[c]);
        } else if (t->rank < 2) {
            put_name(&f, base);
        } else {
            size_t n = strlen(base) + 32;
            char *name = xmalloc(n);
            snprintf(name, n, "%s[%lld]", base, (long long)c);
            put_name(&f, name);
            free(name);
        }
    }
    fileio_write(&f, "\n", 1);
    for (int64_t r = 0; r < rows && !f.err; r++) {
        if (t->rank == 3) {
            int n = snprintf(buf, sizeof buf, "%lld,%lld,", (long long)(r / trials), (long long)(r % trials));
            fileio_write(&f, buf, (size_t)n);
        }
        for (int64_t c = 0; c < cols; c++) {
            int n = snprintf(buf, sizeof buf, c ? "," CSV_FMT : CSV_FMT, (double)t->data[r * cols + c]);
            fileio_write(&f, buf, (size_t)n);
        }
        fileio_write(&f, "\n", 1);
    }
    return fileio_commit(&f, d, at);
}
