/* tensor.c: allocation, views and shapes of dense `real` arrays (see tensor.h).
 *
 * Sizes come from user scripts (`population E = Rate(100000)`), so every request is
 * checked before memory is touched: a negative dimension, a product that overflows
 * int64, or more bytes than tensor_max_bytes is a diagnostic naming the tensor, its
 * shape and the bytes, never a crash. Buffers are 64-byte aligned (one cache line,
 * one AVX-512 register) and zero-filled; each one counts in xalloc_count so a test
 * can prove the time loop allocates nothing.
 */
#include "tensor.h"
#include "xalloc.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TENSOR_ALIGN = 64 };

int64_t tensor_max_bytes = 16000000000LL;   /* 16 GB */

/* "80.0 GB": decimal units, as disks and `free -h --si` print them. */
static const char *bytes_str(double bytes, char *buf, size_t n)
{
    static const char *const unit[] = { "bytes", "kB", "MB", "GB", "TB", "PB", "EB" };
    int u = 0;
    while (bytes >= 1000 && u < 6) {
        bytes /= 1000;
        u++;
    }
    if (u == 0)
        snprintf(buf, n, "%.0f bytes", bytes);
    else if (bytes < 1000)
        snprintf(buf, n, "%.1f %s", bytes, unit[u]);
    else
        snprintf(buf, n, "%.3g %s", bytes, unit[u]);
    return buf;
}

static const char *quoted(const char *name) { return name ? name : "(unnamed)"; }

/* Checks a shape and returns its byte count, or -1 after appending an error. */
static int64_t checked_bytes(const char *name, int rank, const int64_t *dim, Diags *d, Span at)
{
    char sbuf[128], bbuf[32], lbuf[32];
    if (rank < 0 || rank > TENSOR_MAX_RANK) {
        diag_error(d, at, "tensor '%s' has %d dimensions, more than the %d cajal supports",
                   quoted(name), rank, TENSOR_MAX_RANK);
        return -1;
    }
    Shape s = tensor_shape_make(rank, dim);
    tensor_shape_fmt(&s, sbuf, sizeof sbuf);
    int64_t count = 1;
    double approx = 1;
    bool overflow = false;
    for (int k = 0; k < rank; k++) {
        if (dim[k] < 0) {
            diag_error(d, at, "tensor '%s' of %s has a negative dimension", quoted(name), sbuf);
            return -1;
        }
        approx *= (double)dim[k];
        if (!overflow && __builtin_mul_overflow(count, dim[k], &count))
            overflow = true;
    }
    int64_t bytes = 0;
    if (overflow || __builtin_mul_overflow(count, (int64_t)sizeof(real), &bytes)
        || bytes > tensor_max_bytes) {
        diag_error(d, at, "tensor '%s' of %s needs %s, more than the limit of %s", quoted(name),
                   sbuf, bytes_str(approx * (double)sizeof(real), bbuf, sizeof bbuf),
                   bytes_str((double)tensor_max_bytes, lbuf, sizeof lbuf));
        return -1;
    }
    return bytes;
}

/* A zero-filled aligned block of `bytes` (at least one cache line), or NULL. */
static real *aligned_zeroed(int64_t bytes)
{
    size_t n = ((size_t)bytes + TENSOR_ALIGN - 1) / TENSOR_ALIGN * TENSOR_ALIGN;
    if (n == 0)
        n = TENSOR_ALIGN;
    void *p = NULL;
    if (posix_memalign(&p, TENSOR_ALIGN, n) != 0)
        return NULL;
    memset(p, 0, n);
    xalloc_count++;
    return p;
}

bool tensor_init(Tensor *t, const char *name, int rank, const int64_t *dim, Diags *d, Span at)
{
    memset(t, 0, sizeof *t);
    t->name = name;
    int64_t bytes = checked_bytes(name, rank, dim, d, at);
    if (bytes < 0)
        return false;
    Shape s = tensor_shape_make(rank, dim);
    real *data = aligned_zeroed(bytes);
    if (!data) {
        char sbuf[128], bbuf[32];
        diag_error(d, at, "tensor '%s' of %s needs %s, which the system could not allocate",
                   quoted(name), tensor_shape_fmt(&s, sbuf, sizeof sbuf),
                   bytes_str((double)bytes, bbuf, sizeof bbuf));
        return false;
    }
    t->data = data;
    t->rank = rank;
    memcpy(t->dim, s.dim, sizeof t->dim);
    t->size = tensor_shape_size(&s);
    t->owner = true;
    return true;
}

void tensor_fini(Tensor *t)
{
    if (t->owner)
        free(t->data);
    t->data = NULL;
    t->owner = false;
}

Tensor *tensor_new(const char *name, int rank, const int64_t *dim, Diags *d, Span at)
{
    Tensor *t = xmalloc(sizeof *t);
    if (!tensor_init(t, name, rank, dim, d, at)) {
        free(t);
        return NULL;
    }
    return t;
}

Tensor *tensor_new2(const char *name, int64_t d0, int64_t d1, Diags *d, Span at)
{
    int64_t dim[2] = { d0, d1 };
    return tensor_new(name, 2, dim, d, at);
}

Tensor *tensor_new_shape(const char *name, const Shape *s, Diags *d, Span at)
{
    return tensor_new(name, s->rank, s->dim, d, at);
}

void tensor_free(Tensor *t)
{
    if (!t)
        return;
    tensor_fini(t);
    free(t);
}

Tensor tensor_view(real *data, int rank, const int64_t *dim)
{
    assert(rank >= 0 && rank <= TENSOR_MAX_RANK);
    Shape s = tensor_shape_make(rank, dim);
    Tensor t = { .data = data, .rank = rank, .size = tensor_shape_size(&s), .owner = false };
    memcpy(t.dim, s.dim, sizeof t.dim);
    return t;
}

real *tensor_alloc_real(int64_t count)
{
    assert(count >= 0 && count <= INT64_MAX / (int64_t)sizeof(real));
    return aligned_zeroed(count * (int64_t)sizeof(real));
}

void tensor_free_real(real *p) { free(p); }

bool tensor_same_shape(const Tensor *a, const Tensor *b)
{
    Shape sa = tensor_shape(a), sb = tensor_shape(b);
    return tensor_shape_eq(&sa, &sb);
}

void tensor_zero(Tensor *t) { memset(t->data, 0, (size_t)t->size * sizeof(real)); }

void tensor_copy(Tensor *dst, const Tensor *src)
{
    assert(dst->size == src->size);
    if (dst->data != src->data)
        memmove(dst->data, src->data, (size_t)src->size * sizeof(real));
}

Tensor *tensor_clone(const Tensor *src, Diags *d, Span at)
{
    Tensor *t = tensor_new(src->name, src->rank, src->dim, d, at);
    if (t)
        tensor_copy(t, src);
    return t;
}

const char *tensor_shape_str(const Tensor *t, char *buf, size_t n)
{
    Shape s = tensor_shape(t);
    return tensor_shape_fmt(&s, buf, n);
}

Shape tensor_shape_make(int rank, const int64_t *dim)
{
    Shape s = { .rank = rank };
    for (int k = 0; k < TENSOR_MAX_RANK; k++)
        s.dim[k] = k < rank ? dim[k] : 1;
    return s;
}

Shape tensor_shape(const Tensor *t) { return tensor_shape_make(t->rank, t->dim); }

bool tensor_shape_eq(const Shape *a, const Shape *b)
{
    if (a->rank != b->rank)
        return false;
    for (int k = 0; k < a->rank; k++)
        if (a->dim[k] != b->dim[k])
            return false;
    return true;
}

int64_t tensor_shape_size(const Shape *s)
{
    int64_t n = 1;
    for (int k = 0; k < s->rank; k++)
        n *= s->dim[k];
    return n;
}

const char *tensor_shape_fmt(const Shape *s, char *buf, size_t n)
{
    size_t used = 0;
    int w = snprintf(buf, n, "[");
    for (int k = 0; k < s->rank && w >= 0; k++) {
        used += (size_t)w;
        if (used >= n)
            return buf;
        w = snprintf(buf + used, n - used, k ? ", %lld" : "%lld", (long long)s->dim[k]);
    }
    if (w >= 0 && (used += (size_t)w) < n)
        snprintf(buf + used, n - used, "]");
    return buf;
}
