/* io_idx.c: IDX (MNIST) files, plain or gzip'd, into tensors (layout in io_idx.h).
 *
 * zlib's gzread passes a plain file through unchanged, so one reader serves both;
 * gzdirect tells afterwards which it was. The dims in the header are checked
 * (overflow, tensor limits, the file's size when it is not compressed) before
 * anything is allocated, and the data is converted in chunks, so a 60,000-image
 * file with a limit of 10 reads 10 images and stops.
 */
#include "io_idx.h"
#include "fileio.h"
#include "xalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

enum { CHUNK = 1 << 20 };

typedef struct IdxType {
    int code, size;
    const char *name;
} IdxType;

static const IdxType types[] = {
    { 0x08, 1, "u8" }, { 0x09, 1, "i8" }, { 0x0B, 2, "i16" },
    { 0x0C, 4, "i32" }, { 0x0D, 4, "f32" }, { 0x0E, 8, "f64" },
};

static uint32_t get32be(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* n elements of type ty at p (big-endian), times scale, into dst. */
static void convert(const unsigned char *p, size_t n, const IdxType *ty, real scale, real *dst)
{
    for (size_t k = 0; k < n; k++, p += ty->size) {
        double v;
        switch (ty->code) {
        case 0x08: v = p[0]; break;
        case 0x09: v = (int8_t)p[0]; break;
        case 0x0B: v = (int16_t)(uint16_t)(p[0] << 8 | p[1]); break;
        case 0x0C: v = (int32_t)get32be(p); break;
        case 0x0D: {
            uint32_t u = get32be(p);
            float f;
            memcpy(&f, &u, 4);
            v = f;
            break;
        }
        default: {
            uint64_t u = (uint64_t)get32be(p) << 32 | get32be(p + 4);
            memcpy(&v, &u, 8);
            break;
        }
        }
        dst[k] = (real)v * scale;
    }
}

/* Reads up to n bytes; returns the count, or -1 on a zlib error. */
static int64_t read_some(gzFile g, unsigned char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        unsigned want = n - got < CHUNK ? (unsigned)(n - got) : CHUNK;
        int r = gzread(g, buf + got, want);
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (int64_t)got;
}

static const char *dims_str(const int64_t *dim, int rank, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int k = 0; k < rank && n < cap; k++)
        n += (size_t)snprintf(buf + n, cap - n, k ? ", %lld" : "%lld", (long long)dim[k]);
    if (n < cap)
        snprintf(buf + n, cap - n, "]");
    return buf;
}

/* The reason for a short read: zlib's message, or truncation. */
static void short_read(gzFile g, const char *path, const char *expected, int64_t found, Diags *d, Span at)
{
    int err = Z_OK;
    const char *msg = gzerror(g, &err);
    if (err != Z_OK && err != Z_BUF_ERROR)
        diag_error(d, at, "file '%s' is corrupt: %s", path, err == Z_ERRNO ? "input/output error" : msg);
    else
        diag_error(d, at, "file '%s' is truncated: expected %s, found %lld", path, expected, (long long)found);
}

static Tensor *load(gzFile g, const char *path, real scale, int64_t limit, Diags *d, Span at)
{
    unsigned char head[4 + 4 * 255];
    int64_t got = read_some(g, head, 4);
    if (got < 4) {
        int err = Z_OK;
        gzerror(g, &err);
        if (got == 0 && err == Z_OK)
            diag_error(d, at, "file '%s' is empty: expected an IDX file", path);
        else
            short_read(g, path, "a 4-byte IDX magic number", got < 0 ? 0 : got, d, at);
        return NULL;
    }
    uint32_t magic = get32be(head);
    if (head[0] != 0 || head[1] != 0) {
        diag_error(d, at, "file '%s' is not an IDX file: its magic number is 0x%08x, expected 0x0000TTNN "
                   "(type TT, NN dimensions) such as 0x00000803 for images or 0x00000801 for labels",
                   path, (unsigned)magic);
        return NULL;
    }
    const IdxType *ty = NULL;
    for (size_t k = 0; k < sizeof types / sizeof *types; k++)
        if (types[k].code == head[2])
            ty = &types[k];
    if (!ty) {
        diag_error(d, at, "file '%s' has unknown IDX type code 0x%02x (magic number 0x%08x); expected 0x08 (u8), "
                   "0x09 (i8), 0x0B (i16), 0x0C (i32), 0x0D (f32) or 0x0E (f64)", path, head[2], (unsigned)magic);
        return NULL;
    }
    int rank = head[3];
    if (rank < 1 || rank > TENSOR_MAX_RANK) {
        diag_error(d, at, "file '%s' has %d dimensions (magic number 0x%08x); cajal reads IDX files of "
                   "1 to %d dimensions", path, rank, (unsigned)magic, TENSOR_MAX_RANK);
        return NULL;
    }
    got = read_some(g, head + 4, 4 * (size_t)rank);
    if (got < 4 * rank) {
        char expected[48];
        snprintf(expected, sizeof expected, "%d bytes of dimensions", 4 * rank);
        short_read(g, path, expected, got < 0 ? 0 : got, d, at);
        return NULL;
    }
    int64_t dim[TENSOR_MAX_RANK], count = 1;
    bool overflow = false;
    for (int k = 0; k < rank; k++) {
        dim[k] = get32be(head + 4 + 4 * k);
        overflow |= __builtin_mul_overflow(count, dim[k], &count);
    }
    char dbuf[96];
    dims_str(dim, rank, dbuf, sizeof dbuf);
    uint64_t nbytes;
    if (overflow || __builtin_mul_overflow((uint64_t)count, (uint64_t)ty->size, &nbytes)) {
        diag_error(d, at, "file '%s' has dimensions %s too large to be real", path, dbuf);
        return NULL;
    }
    if (gzdirect(g)) {
        struct stat st;
        uint64_t want = 4 + 4 * (uint64_t)rank + nbytes;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size != want) {
            diag_error(d, at, "file '%s' does not match its dimensions: %s of %s need %llu bytes, the file has %lld",
                       path, dbuf, ty->name, (unsigned long long)want, (long long)st.st_size);
            return NULL;
        }
    }
    bool all = limit <= 0 || limit >= dim[0];
    if (!all)
        dim[0] = limit;
    Tensor *t = tensor_new(path, rank, dim, d, at);
    if (!t)
        return NULL;
    t->name = NULL;
    unsigned char *buf = xmalloc(CHUNK);
    size_t per = CHUNK / (size_t)ty->size;
    uint64_t need = (uint64_t)t->size * (uint64_t)ty->size, have = 0;
    for (int64_t i = 0; i < t->size;) {
        size_t n = (size_t)(t->size - i) < per ? (size_t)(t->size - i) : per;
        got = read_some(g, buf, n * (size_t)ty->size);
        if (got < (int64_t)(n * (size_t)ty->size)) {
            char expected[64];
            snprintf(expected, sizeof expected, "%llu bytes of data", (unsigned long long)need);
            short_read(g, path, expected, (int64_t)have + (got > 0 ? got : 0), d, at);
            tensor_free(t);
            t = NULL;
            break;
        }
        convert(buf, n, ty, scale, t->data + i);
        have += (uint64_t)got;
        i += (int64_t)n;
    }
    if (t && all && !gzdirect(g)) {
        /* gzread reports a stream cut short (even in its CRC trailer) only as
         * Z_BUF_ERROR after end of file */
        got = read_some(g, buf, 1);
        int err = Z_OK;
        gzerror(g, &err);
        if (got != 0 || err != Z_OK) {
            if (err == Z_BUF_ERROR)
                diag_error(d, at, "file '%s' is truncated: its gzip stream ends early", path);
            else if (err != Z_OK)
                diag_error(d, at, "file '%s' is corrupt: %s", path,
                           err == Z_ERRNO ? "input/output error" : gzerror(g, &err));
            else
                diag_error(d, at, "file '%s' does not match its dimensions: it has more data than %s of %s",
                           path, dbuf, ty->name);
            tensor_free(t);
            t = NULL;
        }
    }
    free(buf);
    return t;
}

Tensor *idx_load(const char *path, real scale, int64_t limit, Diags *d, Span at)
{
    if (!fileio_check_readable(path, d, at))
        return NULL;
    gzFile g = gzopen(path, "rb");
    if (!g) {
        diag_error(d, at, "cannot open '%s': %s", path, fileio_reason(errno));
        return NULL;
    }
    gzbuffer(g, 1 << 17);
    Tensor *t = load(g, path, scale, limit, d, at);
    gzclose(g);
    return t;
}
