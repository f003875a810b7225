/* io_npy.h: NumPy .npy arrays and .npz archives, the format of `save`, `load`
 * and `data x = npy("...")`.
 *
 * Writing: the header numpy.save would write for the same array, byte for byte
 * (format 1.0, '<f8' in double builds and '<f4' in float builds, padded so the
 * data starts at a multiple of 64 bytes), then the elements in C order,
 * little-endian. An .npz is a ZIP archive of KEY.npy members, STORED (not
 * compressed) as numpy.savez writes them, with ZIP64 records only where a size
 * or offset reaches 4 GiB; numpy.load gives back exactly the keys written,
 * dots included ("J.w", "E.r"). Timestamps are fixed (1980-01-01), so the same
 * arrays always give the same bytes.
 *
 * Reading: format versions 1.0, 2.0 and 3.0; dtypes float (f2, f4, f8), signed
 * and unsigned integers of 1 to 8 bytes and bool, either byte order, converted
 * to `real`. Rejected with an error naming the file: complex, object, string,
 * datetime and structured dtypes, Fortran-ordered arrays (unless the order makes
 * no difference), rank above TENSOR_MAX_RANK, malformed headers, truncated data.
 * .npz members may be stored or deflated (numpy.savez_compressed), with or
 * without data descriptors; CRC-32 is checked on every member read. Members not
 * named *.npy are skipped (numpy.load would return them as raw bytes).
 *
 * Readers never trust a size from the file: every read is bounded by the file's
 * (or member's) real length, and a tensor is allocated only after the data it
 * needs is known to be there.
 */
#ifndef CAJAL_IO_NPY_H
#define CAJAL_IO_NPY_H

#include "diag.h"
#include "tensor.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Writes t to path as a .npy file, atomically (fileio.h). Returns false with an
 * error naming the path; the old file, if any, is then untouched. */
bool npy_save(const char *path, const Tensor *t, Diags *d, Span at);

/* Reads a .npy file into a new tensor the caller owns (its name is NULL).
 * Returns NULL with an error naming the path and what was wrong. */
Tensor *npy_load(const char *path, Diags *d, Span at);

/* The header numpy.save writes for an array of `real` with this shape: magic,
 * version, header length, dict, padding, '\n'. Writes it to buf and returns its
 * length (a multiple of 64), or 0 if cap is too small (256 bytes always do). */
size_t npy_header(char *buf, size_t cap, int rank, const int64_t *dim);

/* Writing an .npz:
 *
 *   NpzWriter *w = npz_writer_new("net.npz", d, at);
 *   npz_writer_add(w, "J.w", J, d, at);  ...
 *   npz_writer_commit(w, d, at);          (or npz_writer_abort(w))
 *
 * The archive is built in a temporary file and renamed over `path` only by a
 * successful commit; abort, or any failure, leaves the old file as it was. */
typedef struct NpzWriter NpzWriter;

/* Returns NULL with an error if the temporary cannot be created. */
NpzWriter *npz_writer_new(const char *path, Diags *d, Span at);
/* Adds t as member "key.npy". Returns false with an error on an empty or
 * repeated key or a write failure; the writer is then spoilt and commit will
 * refuse (the caller should abort). */
bool npz_writer_add(NpzWriter *w, const char *key, const Tensor *t, Diags *d, Span at);
/* Writes the central directory and renames the archive into place. Frees w
 * whatever happens. Returns false with an error; the old file is then untouched. */
bool npz_writer_commit(NpzWriter *w, Diags *d, Span at);
/* Removes the temporary and frees w. */
void npz_writer_abort(NpzWriter *w);

/* One array of an .npz, as its member header describes it. */
typedef struct NpzEntry {
    const char *key;               /* member name without ".npy"; owned by the reader */
    char dtype[24];                /* numpy's descr, e.g. "<f8"; "?" if unreadable */
    int rank;                      /* -1 if the member's header could not be read */
    int64_t dim[TENSOR_MAX_RANK];
    bool readable;                 /* false: npz_reader_read will say why */
} NpzEntry;

typedef struct NpzReader NpzReader;

/* Opens an archive and reads its central directory and each array's header.
 * Returns NULL with an error on a missing file, a file that is not a ZIP archive,
 * a truncated or inconsistent directory, or members that are encrypted or use a
 * compression other than stored or deflate. Caller frees with npz_reader_free. */
NpzReader *npz_reader_new(const char *path, Diags *d, Span at);
int npz_reader_count(const NpzReader *r);
/* Entries in archive order; i in [0, count). */
const NpzEntry *npz_reader_entry(const NpzReader *r, int i);
/* The entry for key, or NULL. */
const NpzEntry *npz_reader_find(const NpzReader *r, const char *key);
/* Reads one array into a new tensor the caller owns (name NULL). Returns NULL
 * with an error on an unknown key (with "did you mean"), bad data or a CRC
 * mismatch; the reader stays usable. */
Tensor *npz_reader_read(NpzReader *r, const char *key, Diags *d, Span at);
void npz_reader_free(NpzReader *r);

/* Sizes and offsets at or above this are written with ZIP64 records. 0xFFFFFFFF
 * by default; tests lower it to exercise the ZIP64 path on small files. */
extern uint64_t npz_zip64_threshold;

#endif
