/* io_idx.h: IDX files, the format of MNIST and Fashion-MNIST, for
 * `data digits = idx("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")`.
 *
 * An IDX file is a big-endian header and then the elements in C order:
 *
 *   00 00 | type | ndims | dim[0] (u32 BE) ... dim[ndims-1] | data (BE)
 *   type: 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64
 *
 * so images are 0x00000803 [N, rows, cols] u8 and labels 0x00000801 [N] u8.
 * Files may be gzip'd or not (zlib reads both). A plain file must be exactly as
 * long as its dims say; a gzip'd one is checked as far as it is read.
 */
#ifndef CAJAL_IO_IDX_H
#define CAJAL_IO_IDX_H

#include "diag.h"
#include "tensor.h"

#include <stdint.h>

/* Reads an IDX file into a new tensor of its dims (rank 1 to 4), each value
 * multiplied by scale (1 for the raw values, 1.0/255 for pixels in [0, 1]).
 * limit > 0 keeps only the first `limit` items along the first axis, reading no
 * further (tests take 10 images without loading 60,000); limit <= 0 reads all.
 * The caller owns the tensor (name NULL). Returns NULL with an error naming the
 * path on a missing file, a directory, a wrong magic number, an unknown type,
 * more than 4 dimensions, truncated or corrupt data, or dims that do not match
 * the file's size. */
Tensor *idx_load(const char *path, real scale, int64_t limit, Diags *d, Span at);

#endif
