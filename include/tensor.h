/* tensor.h: dense row-major arrays of `real`, batch as the leading dimension.
 *
 * A Tensor owns its buffer unless it is a view (`owner == false`); buffers are
 * 64-byte aligned so the vector kernels and OpenBLAS see aligned rows. Shapes are
 * checked before allocation: a size that would not fit is an error naming the
 * tensor and the bytes it asked for, never a crash (tensor_new returns NULL and
 * appends a diagnostic).
 *
 * Layout of a batched population variable:  [B, n]     (trial b, neuron i)
 *           a weight matrix:                [post, pre] (row i = post, column j = pre)
 *           a recording:                    [T, B, n]
 */
#ifndef CAJAL_TENSOR_H
#define CAJAL_TENSOR_H

#include "diag.h"
#include "real.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { TENSOR_MAX_RANK = 4 };

typedef struct Tensor {
    real *data;
    int rank;                        /* 0 for a scalar */
    int64_t dim[TENSOR_MAX_RANK];    /* unused trailing entries are 1 */
    int64_t size;                    /* product of dim[0..rank) */
    bool owner;                      /* false for views: data is borrowed */
    const char *name;                /* for error messages; borrowed, may be NULL */
} Tensor;

/* A shape without data: what the graph and the ops' shape rules pass around. */
typedef struct Shape {
    int rank;
    int64_t dim[TENSOR_MAX_RANK];    /* unused trailing entries are 1 */
} Shape;

/* Largest single tensor cajal will allocate (bytes); a larger request is a user
 * error, reported before any allocation. Overridable for tests. */
extern int64_t tensor_max_bytes;

/* New zero-filled tensor. On a shape that overflows or exceeds tensor_max_bytes,
 * or when the system refuses the memory, returns NULL and appends an error at
 * `at` naming `name` and the bytes. Caller owns the result (tensor_free). */
Tensor *tensor_new(const char *name, int rank, const int64_t *dim, Diags *d, Span at);
Tensor *tensor_new2(const char *name, int64_t d0, int64_t d1, Diags *d, Span at);
void tensor_free(Tensor *t);

/* Embedded tensors (inside a plan's buffer table): allocate / release data only.
 * On failure tensor_init leaves t->data NULL (tensor_fini is then harmless). */
bool tensor_init(Tensor *t, const char *name, int rank, const int64_t *dim, Diags *d, Span at);
void tensor_fini(Tensor *t);

/* A view of `data` with the given shape; borrows, never frees. */
Tensor tensor_view(real *data, int rank, const int64_t *dim);

/* Aligned, zeroed raw buffers for workspaces; counted like every allocation.
 * NULL if the system refuses. */
real *tensor_alloc_real(int64_t count);
void tensor_free_real(real *p);

bool tensor_same_shape(const Tensor *a, const Tensor *b);
void tensor_zero(Tensor *t);
void tensor_copy(Tensor *dst, const Tensor *src);   /* shapes must match in size */
Tensor *tensor_clone(const Tensor *src, Diags *d, Span at);
/* "[3, 4]" into buf ("[]" for a scalar); returns buf. */
const char *tensor_shape_str(const Tensor *t, char *buf, size_t n);

/* Shapes: build one from dims, read a tensor's, compare, count, print. */
Shape tensor_shape_make(int rank, const int64_t *dim);
Shape tensor_shape(const Tensor *t);
bool tensor_shape_eq(const Shape *a, const Shape *b);
int64_t tensor_shape_size(const Shape *s);
const char *tensor_shape_fmt(const Shape *s, char *buf, size_t n);
/* New zero-filled tensor of a shape; as tensor_new. */
Tensor *tensor_new_shape(const char *name, const Shape *s, Diags *d, Span at);

#endif
