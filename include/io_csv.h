/* io_csv.h: numeric tables as comma-separated text, for `csv(...)` data and for
 * recordings a spreadsheet or pandas should open.
 *
 * Reading: one row per line, fields separated by commas, surrounding spaces
 * ignored; blank lines and lines starting with '#' are skipped; "\r\n" endings
 * and a UTF-8 byte-order mark are accepted. The first row is a header of column
 * names when any of its fields is not a number. Every other field must be a
 * number as strtod reads it (including nan and inf); an empty field is an error,
 * not a missing value. Double-quoted fields ("a, b", with "" for a quote) are
 * understood in the header; a quoted number is still a number.
 *
 * Writing: numbers with %.17g (double builds) or %.9g (float builds), which read
 * back to the same bits, and always a header row:
 *
 *   rank 0, 1 [n]     one column, n rows; named after the tensor ("x" if unnamed)
 *   rank 2 [r, c]     r rows, c columns: "W[0]", "W[1]", ...
 *   rank 3 [T, B, n]  T*B rows in the order (t=0,b=0), (t=0,b=1), ..., (t=1,b=0);
 *                     columns "t", "b" (step and trial indices, integers), then
 *                     the n values "E.r[0]", "E.r[1]", ...  ("long" format, as
 *                     pandas.DataFrame.to_csv of a stacked recording)
 *   rank 4            refused: save it as .npy
 *
 * Files are written atomically (fileio.h).
 */
#ifndef CAJAL_IO_CSV_H
#define CAJAL_IO_CSV_H

#include "diag.h"
#include "tensor.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct CsvTable {
    Tensor *t;          /* [rows, cols], owned; name NULL */
    int64_t cols;
    char **names;       /* cols names from the header row, owned; NULL if the file has none */
} CsvTable;

/* Reads a table. Returns false with errors naming the file and the line (and
 * column) of each problem, up to 10 of them; *out is then empty. On success the
 * caller owns *out and releases it with csv_table_fini. A file with a header and
 * no data gives a [0, cols] tensor. */
bool csv_read(const char *path, CsvTable *out, Diags *d, Span at);
void csv_table_fini(CsvTable *table);

/* Writes t (rank 0 to 3) by the scheme above. names, if not NULL, gives the value
 * columns' names (1 for rank 0 and 1, dim[1] for rank 2, dim[2] for rank 3) in
 * place of the generated ones. Returns false with an error; the old file is
 * then untouched. */
bool csv_write(const char *path, const Tensor *t, const char *const *names, Diags *d, Span at);

/* Largest file csv_read accepts, in bytes (4 GiB by default). */
extern int64_t csv_max_bytes;

#endif
