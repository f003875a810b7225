/* fileio.h: atomic file writes and bounded, checked file reads.
 *
 * Every file cajal writes (.npy, .npz, .csv, plots) goes through an AtomicFile:
 * the bytes go to a temporary file beside the target (same directory, so the
 * final rename cannot cross file systems), which is flushed, fsync'd and renamed
 * over the target only when everything succeeded. On any failure the temporary
 * is removed and the old file, if there was one, is left exactly as it was: a
 * crash or a full disk never leaves a half-written parameter file.
 *
 * Reads check the path first, so a missing file or a directory is an error that
 * names the path and the reason ("cannot open 'x.npy': no such file").
 */
#ifndef CAJAL_FILEIO_H
#define CAJAL_FILEIO_H

#include "diag.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct AtomicFile {
    FILE *fp;           /* write through this (or fileio_write) */
    char *path;         /* the target, owned */
    char *tmp;          /* the temporary beside it, owned; NULL once renamed/removed */
    int err;            /* first errno seen by fileio_write or the caller; 0 if none */
} AtomicFile;

/* Creates the temporary for `path` ("<path>.tmp-<pid>-<n>", mode 0666 less the
 * umask). On failure returns false, appends an error naming the path and the
 * reason, and leaves nothing behind. */
bool fileio_open(AtomicFile *f, const char *path, Diags *d, Span at);

/* Appends n bytes. A failure is remembered in f->err and reported by commit, so
 * a writer may call this many times and check once. Returns false on failure. */
bool fileio_write(AtomicFile *f, const void *buf, size_t n);

/* Flushes, fsyncs, closes and renames the temporary over the target, then fsyncs
 * the directory. Returns true on success. On failure (including an earlier failed
 * write) removes the temporary, appends an error naming the target and the
 * reason, and leaves the old target untouched. Either way `f` is finished. */
bool fileio_commit(AtomicFile *f, Diags *d, Span at);

/* Removes the temporary without touching the target; `f` is finished. Safe to
 * call on a finished AtomicFile. */
void fileio_abort(AtomicFile *f);

/* Checks that `path` names an existing regular (or at least non-directory) file
 * that can be opened for reading; otherwise appends "cannot open 'path': reason"
 * and returns false. */
bool fileio_check_readable(const char *path, Diags *d, Span at);

/* Opens `path` for binary reading after fileio_check_readable. Caller fcloses. */
FILE *fileio_open_read(const char *path, Diags *d, Span at);

/* Reads a whole file of at most max_bytes into a NUL-terminated heap buffer the
 * caller frees; *len gets its length (the text may hold NULs). Returns NULL with
 * an error naming the path on a missing file, a directory, a read error, a file
 * larger than max_bytes, or memory the system refuses. */
char *fileio_read_all(const char *path, int64_t max_bytes, size_t *len, Diags *d, Span at);

/* A lowercase phrase for errno value err ("no such file or directory"), for
 * messages of the form "cannot write 'x': <reason>". Static storage. */
const char *fileio_reason(int err);

#endif
