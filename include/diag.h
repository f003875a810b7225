/* diag.h: source files, spans and diagnostics.
 *
 * Every token and AST node carries a Span (file, byte offset, length). Line and
 * column are computed only when a diagnostic is printed, from the file's line map
 * (as jq's locfile.c does). Code below main.c and repl.c never prints: it appends
 * a Diag and returns a status; the caller decides when and where to print.
 *
 * Printed form (the one compilers use, so editors jump to it):
 *
 *   model.cajal:14:32: error: cannot add a time (ms) to a voltage (mV)
 *      14 |   tau * dv/dt = (v_rest - v) + 10ms
 *         |                                ^^^^
 *   hint: ...
 */
#ifndef CAJAL_DIAG_H
#define CAJAL_DIAG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* A source text. Files are registered once and live until exit, so spans stay
 * valid after the REPL rolls its arena back. */
typedef struct SourceFile {
    char *name;           /* path as given, or "<repl>", "<command line>" */
    char *text;           /* contents, always NUL-terminated */
    size_t len;           /* bytes, not counting the terminator (text may hold NULs) */
    uint32_t *lines;      /* byte offset of each line start, built on first use */
    uint32_t nlines;
    int first_line;       /* line number of text[0] (REPL entries count on) */
    struct SourceFile *next;
} SourceFile;

typedef struct Span {
    const SourceFile *file;   /* NULL: no location (command line, runtime) */
    uint32_t off, len;
} Span;

/* Registers a copy of text; the registry owns it. */
SourceFile *source_new(const char *name, const char *text, size_t len);
/* Reads a whole file. On failure returns NULL and sets *why to a static message
 * such as "no such file" or "is a directory". */
SourceFile *source_read(const char *path, const char **why);
void source_free_all(void);

void span_linecol(Span s, int *line, int *col);
Span span_join(Span a, Span b);
static inline Span span_none(void) { return (Span){ 0, 0, 0 }; }

typedef enum { DIAG_ERROR, DIAG_WARNING, DIAG_NOTE } DiagLevel;

typedef struct Diag {
    DiagLevel level;
    Span span;
    char *msg;
    char *hint;         /* printed after the caret line; NULL if none */
} Diag;

typedef struct Diags {
    Diag *v;
    int n, cap;
    int errors, warnings;
    int max_errors;     /* further errors are counted but not stored */
    int dropped;
} Diags;

void diags_init(Diags *d);
void diags_fini(Diags *d);
void diags_clear(Diags *d);

void diag_error(Diags *d, Span at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void diag_warning(Diags *d, Span at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void diag_note(Diags *d, Span at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Attaches a hint line to the newest diagnostic. */
void diag_hint(Diags *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints every diagnostic in order; color adds ANSI colours for terminals. */
void diags_print(const Diags *d, FILE *out, bool color);
void diag_print_one(const Diag *g, FILE *out, bool color);

/* The candidate closest to name within edit distance 2 (or 1 for names of up to
 * 3 characters), or NULL. Used for "did you mean". */
const char *diag_closest(const char *name, const char *const *candidates, int n);

#endif
