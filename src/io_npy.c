/* io_npy.c: .npy arrays and .npz archives (NumPy format 1.0-3.0, ZIP with ZIP64).
 *
 * The file formats cajal's `save`, `load` and `npy(...)` speak. Both directions
 * follow numpy/lib/format.py of NumPy 1.24 (the header text, the 64-byte
 * alignment, the 21 spare spaces it leaves after the dict so the first axis can
 * grow in place) and the ZIP layout Python's zipfile writes for numpy.savez.
 *
 *   .npy:  \x93NUMPY | major minor | header length (u16 LE; u32 for 2.0, 3.0)
 *          | "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }"
 *          | spaces | '\n' | data (C order)          data offset % 64 == 0
 *
 *   .npz:  [local header | name | extra | member bytes] ...
 *          central directory: one entry per member (sizes, CRC, offset)
 *          [ZIP64 end record | ZIP64 locator]       only when something >= 4 GiB
 *          end of central directory record           the last 22 bytes
 *
 * Reading goes through a Src: a bounded byte source over a plain file, a stored
 * member or an inflating member, which counts what it delivers and keeps a CRC.
 * No size read from a file is used before it is checked against the bytes that
 * are really there.
 */
#include "io_npy.h"
#include "fileio.h"
#include "xalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

uint64_t npz_zip64_threshold = 0xFFFFFFFFu;

enum {
    NPY_MAX_HEADER = 1 << 20,   /* numpy itself refuses more than 10000 bytes */
    CHUNK = 1 << 16,
    SHAPE_MAX = 64,             /* elements of a shape tuple we look at */
};

static bool host_le(void)
{
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

static void put16(unsigned char *p, unsigned v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }
static void put32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> 8 * i); }
static void put64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> 8 * i); }
static unsigned get16(const unsigned char *p) { return p[0] | (unsigned)p[1] << 8; }
static uint32_t get32(const unsigned char *p) { return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t get64(const unsigned char *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }

/* ---- Writing ------------------------------------------------------------- */

#ifdef CAJAL_FLOAT
#define NPY_DESCR "<f4"
#else
#define NPY_DESCR "<f8"
#endif

size_t npy_header(char *buf, size_t cap, int rank, const int64_t *dim)
{
    char dict[256];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", NPY_DESCR);
    for (int k = 0; k < rank; k++)
        n += snprintf(dict + n, sizeof dict - (size_t)n, k ? ", %lld" : "%lld", (long long)dim[k]);
    n += snprintf(dict + n, sizeof dict - (size_t)n, "%s), }", rank == 1 ? "," : "");
    if (rank > 0) {   /* GROWTH_AXIS_MAX_DIGITS = 21 spare columns for shape[0] */
        char first[24];
        int digits = snprintf(first, sizeof first, "%lld", (long long)dim[0]);
        for (int k = digits; k < 21; k++)
            dict[n++] = ' ';
    }
    size_t hlen = (size_t)n + 1;                    /* with the final '\n' */
    size_t pad = 64 - (10 + hlen) % 64;             /* 1..64, as numpy pads */
    size_t total = 10 + hlen + pad;
    if (total > cap)
        return 0;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    put16((unsigned char *)buf + 8, (unsigned)(hlen + pad));
    memcpy(buf + 10, dict, (size_t)n);
    memset(buf + 10 + n, ' ', pad);
    buf[total - 1] = '\n';
    return total;
}

/* Feeds the tensor's elements, little-endian, to fn in chunks. */
typedef bool (*ChunkFn)(void *ctx, const void *p, size_t n);

static bool each_le_chunk(const Tensor *t, ChunkFn fn, void *ctx)
{
    size_t total = (size_t)t->size * sizeof(real);
    if (total == 0)
        return true;
    if (host_le()) {
        const unsigned char *p = (const unsigned char *)t->data;
        for (size_t off = 0; off < total; off += 1u << 30) {
            size_t n = total - off < (1u << 30) ? total - off : 1u << 30;
            if (!fn(ctx, p + off, n))
                return false;
        }
        return true;
    }
    unsigned char buf[CHUNK];
    size_t per = sizeof buf / sizeof(real);
    for (int64_t i = 0; i < t->size; i += (int64_t)per) {
        size_t n = (size_t)(t->size - i) < per ? (size_t)(t->size - i) : per;
        for (size_t k = 0; k < n; k++) {
            const unsigned char *src = (const unsigned char *)&t->data[i + (int64_t)k];
            for (size_t b = 0; b < sizeof(real); b++)
                buf[k * sizeof(real) + b] = src[sizeof(real) - 1 - b];
        }
        if (!fn(ctx, buf, n * sizeof(real)))
            return false;
    }
    return true;
}

static bool write_chunk(void *ctx, const void *p, size_t n)
{
    return fileio_write(ctx, p, n);
}

static bool crc_chunk(void *ctx, const void *p, size_t n)
{
    uint32_t *crc = ctx;
    *crc = (uint32_t)crc32(*crc, p, (uInt)n);
    return true;
}

bool npy_save(const char *path, const Tensor *t, Diags *d, Span at)
{
    char head[256];
    size_t hn = npy_header(head, sizeof head, t->rank, t->dim);
    AtomicFile f;
    if (!fileio_open(&f, path, d, at))
        return false;
    fileio_write(&f, head, hn);
    each_le_chunk(t, write_chunk, &f);
    return fileio_commit(&f, d, at);
}

/* ---- NpzWriter --------------------------------------------------------------
 *
 *   local header (30 bytes):  sig 0x04034b50 | need | flags | method | time | date
 *                             | crc | csize | usize | name len | extra len
 *   ZIP64 extra (local):      0x0001 | 16 | usize (8) | csize (8)
 *   central entry (46 bytes): sig 0x02014b50 | made by | need | flags | method
 *                             | time | date | crc | csize | usize | name len
 *                             | extra len | comment len | disk | int attr
 *                             | ext attr | local header offset
 *   ZIP64 extra (central):    0x0001 | len | [usize] [csize] [offset], each only
 *                             when its 32-bit field holds 0xFFFFFFFF
 */

typedef struct Member {
    char *name;            /* "key.npy" */
    uint32_t crc;
    uint64_t size;         /* stored: compressed == uncompressed */
    uint64_t off;          /* of the local header */
} Member;

struct NpzWriter {
    AtomicFile f;
    uint64_t off;          /* bytes written so far */
    Member *m;
    int n, cap;
    bool spoilt;
};

enum { DOS_DATE_1980_01_01 = (0 << 9) | (1 << 5) | 1 };

NpzWriter *npz_writer_new(const char *path, Diags *d, Span at)
{
    NpzWriter *w = xcalloc(1, sizeof *w);
    if (!fileio_open(&w->f, path, d, at)) {
        free(w);
        return NULL;
    }
    return w;
}

static void writer_free(NpzWriter *w)
{
    for (int i = 0; i < w->n; i++)
        free(w->m[i].name);
    free(w->m);
    free(w);
}

void npz_writer_abort(NpzWriter *w)
{
    if (!w)
        return;
    fileio_abort(&w->f);
    writer_free(w);
}

static bool name_is_utf8(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return true;
    return false;
}

static void emit(NpzWriter *w, const void *p, size_t n)
{
    fileio_write(&w->f, p, n);
    w->off += n;
}

bool npz_writer_add(NpzWriter *w, const char *key, const Tensor *t, Diags *d, Span at)
{
    if (w->spoilt) {
        diag_error(d, at, "cannot add '%s' to '%s': an earlier array failed", key, w->f.path);
        return false;
    }
    size_t klen = strlen(key);
    if (klen == 0 || klen > 0xFFFF - 4) {
        diag_error(d, at, "cannot save to '%s': array names must have 1 to 65531 bytes, not %zu",
                   w->f.path, klen);
        w->spoilt = true;
        return false;
    }
    char *name = xmalloc(klen + 5);
    memcpy(name, key, klen);
    memcpy(name + klen, ".npy", 5);
    for (int i = 0; i < w->n; i++)
        if (strcmp(w->m[i].name, name) == 0) {
            diag_error(d, at, "cannot save to '%s': array '%s' is given twice", w->f.path, key);
            free(name);
            w->spoilt = true;
            return false;
        }

    char head[256];
    size_t hn = npy_header(head, sizeof head, t->rank, t->dim);
    uint32_t crc = (uint32_t)crc32(0, (const Bytef *)head, (uInt)hn);
    each_le_chunk(t, crc_chunk, &crc);
    uint64_t size = hn + (uint64_t)t->size * sizeof(real);
    bool z64 = size >= npz_zip64_threshold;

    unsigned char lh[30 + 20];
    put32(lh, 0x04034b50);
    put16(lh + 4, z64 ? 45 : 20);
    put16(lh + 6, name_is_utf8(name) ? 0x800 : 0);
    put16(lh + 8, 0);                               /* stored */
    put16(lh + 10, 0);
    put16(lh + 12, DOS_DATE_1980_01_01);
    put32(lh + 14, crc);
    put32(lh + 18, z64 ? 0xFFFFFFFFu : (uint32_t)size);
    put32(lh + 22, z64 ? 0xFFFFFFFFu : (uint32_t)size);
    put16(lh + 26, (unsigned)(klen + 4));
    put16(lh + 28, z64 ? 20 : 0);
    put16(lh + 30, 1);
    put16(lh + 32, 16);
    put64(lh + 34, size);
    put64(lh + 42, size);

    if (w->n == w->cap)
        w->m = xrealloc(w->m, (size_t)(w->cap = w->cap ? 2 * w->cap : 8) * sizeof *w->m);
    w->m[w->n++] = (Member){ name, crc, size, w->off };

    emit(w, lh, 30);
    emit(w, name, klen + 4);
    if (z64)
        emit(w, lh + 30, 20);
    emit(w, head, hn);
    each_le_chunk(t, write_chunk, &w->f);
    w->off += (uint64_t)t->size * sizeof(real);
    if (w->f.err) {
        diag_error(d, at, "cannot write '%s': %s", w->f.path, fileio_reason(w->f.err));
        w->spoilt = true;
        return false;
    }
    return true;
}

bool npz_writer_commit(NpzWriter *w, Diags *d, Span at)
{
    if (w->spoilt) {
        diag_error(d, at, "'%s' was not written: an array could not be added", w->f.path);
        npz_writer_abort(w);
        return false;
    }
    uint64_t thr = npz_zip64_threshold;
    uint64_t cd_off = w->off;
    for (int i = 0; i < w->n; i++) {
        const Member *m = &w->m[i];
        bool big = m->size >= thr, far = m->off >= thr;
        unsigned char ce[46 + 28];
        size_t nlen = strlen(m->name);
        unsigned xlen = (big ? 16 : 0) + (far ? 8 : 0);
        put32(ce, 0x02014b50);
        put16(ce + 4, (3 << 8) | ((big || far) ? 45 : 20));   /* made by Unix */
        put16(ce + 6, (big || far) ? 45 : 20);
        put16(ce + 8, name_is_utf8(m->name) ? 0x800 : 0);
        put16(ce + 10, 0);
        put16(ce + 12, 0);
        put16(ce + 14, DOS_DATE_1980_01_01);
        put32(ce + 16, m->crc);
        put32(ce + 20, big ? 0xFFFFFFFFu : (uint32_t)m->size);
        put32(ce + 24, big ? 0xFFFFFFFFu : (uint32_t)m->size);
        put16(ce + 28, (unsigned)nlen);
        put16(ce + 30, xlen ? xlen + 4 : 0);
        put16(ce + 32, 0);
        put16(ce + 34, 0);
        put16(ce + 36, 0);
        put32(ce + 38, 0644u << 16);                    /* -rw-r--r-- */
        put32(ce + 42, far ? 0xFFFFFFFFu : (uint32_t)m->off);
        size_t x = 46;
        if (xlen) {
            put16(ce + x, 1);
            put16(ce + x + 2, xlen);
            x += 4;
            if (big) {
                put64(ce + x, m->size);
                put64(ce + x + 8, m->size);
                x += 16;
            }
            if (far) {
                put64(ce + x, m->off);
                x += 8;
            }
        }
        emit(w, ce, 46);
        emit(w, m->name, nlen);
        emit(w, ce + 46, x - 46);
    }
    uint64_t cd_size = w->off - cd_off;
    bool z64 = w->n >= 0xFFFF || cd_off >= thr || cd_size >= thr;
    if (z64) {
        unsigned char e[56 + 20];
        uint64_t e64_off = w->off;
        put32(e, 0x06064b50);
        put64(e + 4, 44);
        put16(e + 12, (3 << 8) | 45);
        put16(e + 14, 45);
        put32(e + 16, 0);
        put32(e + 20, 0);
        put64(e + 24, (uint64_t)w->n);
        put64(e + 32, (uint64_t)w->n);
        put64(e + 40, cd_size);
        put64(e + 48, cd_off);
        put32(e + 56, 0x07064b50);
        put32(e + 60, 0);
        put64(e + 64, e64_off);
        put32(e + 72, 1);
        emit(w, e, sizeof e);
    }
    unsigned char end[22];
    unsigned count = w->n >= 0xFFFF ? 0xFFFF : (unsigned)w->n;
    put32(end, 0x06054b50);
    put16(end + 4, 0);
    put16(end + 6, 0);
    put16(end + 8, count);
    put16(end + 10, count);
    put32(end + 12, cd_size >= thr ? 0xFFFFFFFFu : (uint32_t)cd_size);
    put32(end + 16, cd_off >= thr ? 0xFFFFFFFFu : (uint32_t)cd_off);
    put16(end + 20, 0);
    emit(w, end, sizeof end);
    bool ok = fileio_commit(&w->f, d, at);
    writer_free(w);
    return ok;
}

/* ---- Byte sources ------------------------------------------------------- */

typedef struct Src {
    FILE *fp;
    uint64_t left;          /* raw (possibly compressed) bytes still to read */
    uint64_t limit;         /* most bytes to deliver */
    uint64_t out;           /* bytes delivered */
    uint32_t crc;
    bool deflated, zinit, zend;
    int zerr;               /* inflate's error, 0 if none */
    bool ioerr;
    z_stream z;
    unsigned char in[CHUNK];
} Src;

static Src *src_new(FILE *fp, uint64_t raw, uint64_t limit, bool deflated)
{
    Src *s = xcalloc(1, sizeof *s);
    s->fp = fp;
    s->left = raw;
    s->limit = limit;
    s->deflated = deflated;
    if (deflated) {
        if (inflateInit2(&s->z, -MAX_WBITS) != Z_OK)
            s->zerr = Z_MEM_ERROR;
        else
            s->zinit = true;
    }
    return s;
}

static void src_free(Src *s)
{
    if (s->zinit)
        inflateEnd(&s->z);
    free(s);
}

/* Up to n bytes into buf; fewer only at the end of the data, on corrupt deflate
 * data (s->zerr) or on a read error (s->ioerr). */
static size_t src_read(Src *s, void *buf, size_t n)
{
    if (n > s->limit - s->out)
        n = (size_t)(s->limit - s->out);
    unsigned char *out = buf;
    size_t got = 0;
    if (!s->deflated) {
        if (n > s->left)
            n = (size_t)s->left;
        got = n ? fread(out, 1, n, s->fp) : 0;
        s->left -= got;
        if (got < n) {
            s->ioerr = ferror(s->fp);
            s->left = 0;
        }
    } else {
        while (got < n && !s->zend && !s->zerr) {
            if (s->z.avail_in == 0) {
                size_t want = s->left < sizeof s->in ? (size_t)s->left : sizeof s->in;
                size_t r = want ? fread(s->in, 1, want, s->fp) : 0;
                if (r < want) {
                    s->ioerr = ferror(s->fp);
                    s->left = 0;
                } else {
                    s->left -= r;
                }
                if (r == 0)
                    break;
                s->z.next_in = s->in;
                s->z.avail_in = (uInt)r;
            }
            size_t room = n - got < (1u << 30) ? n - got : 1u << 30;
            uInt in_before = s->z.avail_in;
            s->z.next_out = out + got;
            s->z.avail_out = (uInt)room;
            int rc = inflate(&s->z, Z_NO_FLUSH);
            size_t made = room - s->z.avail_out;
            got += made;
            if (rc == Z_STREAM_END)
                s->zend = true;
            else if (rc == Z_BUF_ERROR && made == 0 && s->z.avail_in == in_before && s->z.avail_in)
                s->zerr = Z_DATA_ERROR;
            else if (rc != Z_OK && rc != Z_BUF_ERROR)
                s->zerr = rc == Z_NEED_DICT ? Z_DATA_ERROR : rc;
        }
    }
    s->crc = (uint32_t)crc32(s->crc, buf, (uInt)got);
    s->out += got;
    return got;
}

/* ---- .npy header ---------------------------------------------------------- */

typedef enum { KIND_FLOAT, KIND_INT, KIND_UINT, KIND_BOOL } Kind;

typedef struct NpyHeader {
    char descr[24];         /* as written (cut short for messages) */
    Kind kind;
    int size;               /* bytes per element */
    bool swap;              /* file byte order differs from the host's */
    int rank;
    int64_t dim[TENSOR_MAX_RANK];
    int64_t count;
    uint64_t nbytes;        /* of data */
    uint64_t data_off;      /* bytes before the data */
} NpyHeader;

/* A cursor over the header text. The dict grammar numpy writes:
 *   dict -> '{' [ key ':' value { ',' key ':' value } [','] ] '}'
 *   value -> string | True | False | None | int | '(' values ')' | '[' values ']'
 */
typedef struct Lex {
    const char *p, *end;
    const char *what;       /* "file 'x.npy'" */
    Diags *d;
    Span at;
} Lex;

static void skip_ws(Lex *x)
{
    while (x->p < x->end && (*x->p == ' ' || *x->p == '\t' || *x->p == '\n' || *x->p == '\r'))
        x->p++;
}

static bool malformed(Lex *x, const char *expected)
{
    diag_error(x->d, x->at, "%s has a malformed header: expected %s", x->what, expected);
    return false;
}

static bool lex_char(Lex *x, char c)
{
    skip_ws(x);
    if (x->p < x->end && *x->p == c) {
        x->p++;
        return true;
    }
    return false;
}

static bool lex_string(Lex *x, const char **s, size_t *n)
{
    skip_ws(x);
    if (x->p >= x->end || (*x->p != '\'' && *x->p != '"'))
        return false;
    char q = *x->p++;
    const char *start = x->p;
    while (x->p < x->end && *x->p != q) {
        if (*x->p == '\\' && x->p + 1 < x->end)
            x->p++;
        x->p++;
    }
    if (x->p >= x->end)
        return false;
    *s = start;
    *n = (size_t)(x->p - start);
    x->p++;
    return true;
}

static bool lex_word(Lex *x, const char *w)
{
    skip_ws(x);
    size_t n = strlen(w);
    if ((size_t)(x->end - x->p) >= n && memcmp(x->p, w, n) == 0) {
        x->p += n;
        return true;
    }
    return false;
}

/* A non-negative integer, with Python 2's optional 'L'. *big is set on overflow. */
static bool lex_int(Lex *x, int64_t *v, bool *big)
{
    skip_ws(x);
    if (x->p >= x->end || *x->p < '0' || *x->p > '9')
        return false;
    int64_t r = 0;
    while (x->p < x->end && *x->p >= '0' && *x->p <= '9') {
        int digit = *x->p++ - '0';
        if (r > (INT64_MAX - digit) / 10)
            *big = true;
        else
            r = r * 10 + digit;
    }
    if (x->p < x->end && (*x->p == 'L' || *x->p == 'l'))
        x->p++;
    *v = r;
    return true;
}

static bool isalnum_ascii(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Skips any value (for structured descrs); depth bounds the recursion. */
static bool skip_value(Lex *x, int depth)
{
    const char *s;
    size_t n;
    skip_ws(x);
    if (depth > 32 || x->p >= x->end)
        return false;
    if (*x->p == '(' || *x->p == '[') {
        char close = *x->p == '(' ? ')' : ']';
        x->p++;
        for (;;) {
            if (lex_char(x, close))
                return true;
            if (!skip_value(x, depth + 1))
                return false;
            if (!lex_char(x, ','))
                return lex_char(x, close);
        }
    }
    if (lex_string(x, &s, &n))
        return true;
    const char *start = x->p;
    while (x->p < x->end && (isalnum_ascii(*x->p) || *x->p == '_' || *x->p == '-' || *x->p == '.'))
        x->p++;
    return x->p > start;
}

/* descr -> [<>|=] type size, e.g. '<f8', '|u1', '>i4', '<M8[D]' */
static bool parse_dtype(const char *descr, size_t n, NpyHeader *h, const char *what, Diags *d, Span at)
{
    size_t keep = n < sizeof h->descr - 1 ? n : sizeof h->descr - 1;
    memcpy(h->descr, descr, keep);
    h->descr[keep] = 0;
    for (size_t i = 0; i < keep; i++)
        if ((unsigned char)h->descr[i] < 0x20 || (unsigned char)h->descr[i] >= 0x7f)
            h->descr[i] = '?';
    size_t i = 0;
    char order = '=';
    if (n && strchr("<>|=", descr[0]))
        order = descr[i++];
    char type = i < n ? descr[i++] : 0;
    int size = 0;
    while (i < n && descr[i] >= '0' && descr[i] <= '9' && size < 1000)
        size = size * 10 + (descr[i++] - '0');
    bool rest = i < n;      /* '[D]' after a datetime, or junk */
    const char *dt = h->descr;
    switch (type) {
    case 'f':
        if (!rest && (size == 2 || size == 4 || size == 8)) {
            h->kind = KIND_FLOAT;
            break;
        }
        if (!rest && (size == 12 || size == 16)) {
            diag_error(d, at, "%s holds long doubles (dtype '%s', float%d); cajal reads float16, float32 and float64",
                       what, dt, size * 8);
            return false;
        }
        goto unknown;
    case 'i':
    case 'u':
        if (rest || (size != 1 && size != 2 && size != 4 && size != 8))
            goto unknown;
        h->kind = type == 'i' ? KIND_INT : KIND_UINT;
        break;
    case 'b':
    case '?':
        if (rest || (size != 1 && !(type == '?' && size == 0)))
            goto unknown;
        h->kind = KIND_BOOL;
        size = 1;
        break;
    case 'c':
        diag_error(d, at, "%s holds complex numbers (dtype '%s', complex%d); cajal reads only real numbers",
                   what, dt, size * 8);
        return false;
    case 'O':
        diag_error(d, at, "%s holds Python objects (dtype '%s', object); cajal reads only arrays of numbers",
                   what, dt);
        return false;
    case 'U':
    case 'S':
    case 'a':
        diag_error(d, at, "%s holds strings (dtype '%s'); cajal reads only arrays of numbers", what, dt);
        return false;
    case 'M':
    case 'm':
        diag_error(d, at, "%s holds %s (dtype '%s', %s); cajal reads only arrays of numbers", what,
                   type == 'M' ? "dates" : "time differences", dt, type == 'M' ? "datetime64" : "timedelta64");
        return false;
    case 'V':
        diag_error(d, at, "%s holds raw bytes (dtype '%s', void); cajal reads only arrays of numbers", what, dt);
        return false;
    default:
    unknown:
        diag_error(d, at, "%s has unsupported dtype '%s'; cajal reads floats, integers and booleans", what, dt);
        return false;
    }
    h->size = size;
    h->swap = size > 1 && ((order == '<' && !host_le()) || (order == '>' && host_le()));
    return true;
}

/* Parses the dict of a header. On success fills descr, kind, size, swap, rank,
 * dim, count and nbytes. */
static bool parse_header(const char *text, size_t len, NpyHeader *h, const char *what, Diags *d, Span at)
{
    Lex x = { text, text + len, what, d, at };
    const char *descr = NULL;
    size_t descr_len = 0;
    bool structured = false, fortran = false, big = false;
    bool have_descr = false, have_order = false, have_shape = false;
    int rank = 0;
    int64_t dim[SHAPE_MAX];

    if (!lex_char(&x, '{'))
        return malformed(&x, "a Python dict starting with '{'");
    while (!lex_char(&x, '}')) {
        const char *key;
        size_t klen;
        if (!lex_string(&x, &key, &klen))
            return malformed(&x, "a quoted key or '}'");
        if (!lex_char(&x, ':'))
            return malformed(&x, "':' after a key");
        if (klen == 5 && memcmp(key, "descr", 5) == 0) {
            if (lex_string(&x, &descr, &descr_len)) {
                have_descr = true;
                structured = false;
            } else {
                skip_ws(&x);
                if (x.p < x.end && *x.p == '[' && skip_value(&x, 0))
                    have_descr = structured = true;
                else
                    return malformed(&x, "a dtype string after 'descr'");
            }
        } else if (klen == 13 && memcmp(key, "fortran_order", 13) == 0) {
            if (lex_word(&x, "True"))
                fortran = true;
            else if (!lex_word(&x, "False"))
                return malformed(&x, "True or False after 'fortran_order'");
            have_order = true;
        } else if (klen == 5 && memcmp(key, "shape", 5) == 0) {
            if (!lex_char(&x, '('))
                return malformed(&x, "a tuple of integers after 'shape'");
            rank = 0;           /* a repeated key: the last wins, as in Python */
            big = false;
            while (!lex_char(&x, ')')) {
                int64_t v;
                if (!lex_int(&x, &v, &big))
                    return malformed(&x, "a non-negative integer in 'shape'");
                if (rank < SHAPE_MAX)
                    dim[rank] = v;
                rank++;
                if (!lex_char(&x, ',')) {
                    if (!lex_char(&x, ')'))
                        return malformed(&x, "',' or ')' in 'shape'");
                    break;
                }
            }
            have_shape = true;
        } else {
            diag_error(d, at, "%s has a malformed header: unexpected key '%.*s' (expected 'descr', "
                       "'fortran_order' and 'shape')", what, (int)(klen < 40 ? klen : 40), key);
            return false;
        }
        if (!lex_char(&x, ',')) {
            if (!lex_char(&x, '}'))
                return malformed(&x, "',' or '}' after a value");
            break;
        }
    }
    skip_ws(&x);
    if (x.p != x.end)
        return malformed(&x, "nothing but spaces after the dict");
    if (!have_descr || !have_order || !have_shape) {
        diag_error(d, at, "%s has a malformed header: it has no '%s'", what,
                   !have_descr ? "descr" : !have_order ? "fortran_order" : "shape");
        return false;
    }
    if (structured) {
        diag_error(d, at, "%s holds a structured array (a dtype with named fields); cajal reads plain "
                   "arrays of numbers: save each field as its own array", what);
        return false;
    }
    if (!parse_dtype(descr, descr_len, h, what, d, at))
        return false;
    if (rank > TENSOR_MAX_RANK) {
        diag_error(d, at, "%s holds an array of rank %d; cajal tensors have at most %d dimensions",
                   what, rank, TENSOR_MAX_RANK);
        return false;
    }
    if (big) {
        diag_error(d, at, "%s has a shape too large to be real: a dimension does not fit in 64 bits", what);
        return false;
    }
    int64_t count = 1, ones = 0;
    for (int k = 0; k < rank; k++) {
        if (__builtin_mul_overflow(count, dim[k], &count)) {
            diag_error(d, at, "%s has a shape too large to be real: its element count overflows", what);
            return false;
        }
        ones += dim[k] > 1;
    }
    /* Fortran and C order lay out the same bytes when at most one axis is longer
     * than 1. */
    if (fortran && ones > 1) {
        diag_error(d, at, "%s: Fortran-ordered arrays are not supported; save with np.ascontiguousarray", what);
        return false;
    }
    uint64_t nbytes;
    if (__builtin_mul_overflow((uint64_t)count, (uint64_t)h->size, &nbytes)) {
        diag_error(d, at, "%s has a shape too large to be real: its size in bytes overflows", what);
        return false;
    }
    h->rank = rank;
    for (int k = 0; k < TENSOR_MAX_RANK; k++)
        h->dim[k] = k < rank ? dim[k] : 1;
    h->count = count;
    h->nbytes = nbytes;
    return true;
}

/* "expected N bytes of data, found M" and its relatives, from the Src's state. */
static void src_fail(const Src *s, const char *what, const char *expected, uint64_t found, Diags *d, Span at)
{
    if (s->zerr)
        diag_error(d, at, "%s is corrupt: the compressed data is invalid (%s)", what,
                   s->z.msg ? s->z.msg : "inflate failed");
    else if (s->ioerr)
        diag_error(d, at, "%s could not be read: input/output error", what);
    else
        diag_error(d, at, "%s is truncated: expected %s, found %llu", what, expected, (unsigned long long)found);
}

/* Reads magic, version and header; h then describes the data that follows. */
static bool read_header(Src *s, NpyHeader *h, const char *what, Diags *d, Span at)
{
    unsigned char pre[12];
    memset(h, 0, sizeof *h);
    size_t got = src_read(s, pre, 10);
    if (got == 0 && !s->zerr && !s->ioerr) {
        diag_error(d, at, "%s is empty: expected a .npy array", what);
        return false;
    }
    if (got < 6 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        if (got < 6 && memcmp(pre, "\x93NUMPY", got) == 0) {
            src_fail(s, what, "a .npy header", got, d, at);
            return false;
        }
        if (s->zerr || s->ioerr) {
            src_fail(s, what, "", got, d, at);
            return false;
        }
        diag_error(d, at, "%s is not a .npy file: it does not start with \\x93NUMPY", what);
        if (got >= 4 && memcmp(pre, "PK\x03\x04", 4) == 0)
            diag_hint(d, "it is a ZIP archive, probably an .npz: load it as one");
        return false;
    }
    if (got < 10) {
        src_fail(s, what, "a .npy header of at least 10 bytes", got, d, at);
        return false;
    }
    unsigned major = pre[6], minor = pre[7];
    uint64_t hlen;
    if (major == 1) {
        hlen = get16(pre + 8);
        h->data_off = 10;
    } else if (major == 2 || major == 3) {
        got += src_read(s, pre + 10, 2);
        if (got < 12) {
            src_fail(s, what, "a .npy header of at least 12 bytes", got, d, at);
            return false;
        }
        hlen = get32(pre + 8);
        h->data_off = 12;
    } else {
        diag_error(d, at, "%s uses .npy format version %u.%u; cajal reads versions 1.0, 2.0 and 3.0",
                   what, major, minor);
        return false;
    }
    if (hlen > NPY_MAX_HEADER) {
        diag_error(d, at, "%s has a header of %llu bytes, more than the %d cajal accepts",
                   what, (unsigned long long)hlen, NPY_MAX_HEADER);
        return false;
    }
    char *text = xmalloc((size_t)hlen + 1);
    got = src_read(s, text, (size_t)hlen);
    if (got < hlen) {
        char expected[64];
        snprintf(expected, sizeof expected, "a header of %llu bytes", (unsigned long long)hlen);
        src_fail(s, what, expected, got, d, at);
        free(text);
        return false;
    }
    h->data_off += hlen;
    bool ok = parse_header(text, (size_t)hlen, h, what, d, at);
    free(text);
    return ok;
}

static double half_to_double(uint16_t v)
{
    int e = (v >> 10) & 31, m = v & 1023;
    double r = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m + 1024, e - 25);
    return (v & 0x8000) ? -r : r;
}

/* n elements of h's dtype at p into dst. Integers go through double first, so a
 * float build rounds them exactly as a double build would before narrowing. */
static void convert(const unsigned char *p, size_t n, const NpyHeader *h, real *dst)
{
    for (size_t k = 0; k < n; k++, p += h->size) {
        unsigned char b[8];
        if (h->swap)
            for (int i = 0; i < h->size; i++)
                b[i] = p[h->size - 1 - i];
        else
            memcpy(b, p, (size_t)h->size);
        double v = 0;
        switch (h->kind * 16 + h->size) {
        case KIND_FLOAT * 16 + 2: { uint16_t u; memcpy(&u, b, 2); v = half_to_double(u); break; }
        case KIND_FLOAT * 16 + 4: { float f; memcpy(&f, b, 4); dst[k] = (real)f; continue; }
        case KIND_FLOAT * 16 + 8: { double f; memcpy(&f, b, 8); dst[k] = (real)f; continue; }
        case KIND_INT * 16 + 1: v = (int8_t)b[0]; break;
        case KIND_INT * 16 + 2: { int16_t i; memcpy(&i, b, 2); v = i; break; }
        case KIND_INT * 16 + 4: { int32_t i; memcpy(&i, b, 4); v = i; break; }
        case KIND_INT * 16 + 8: { int64_t i; memcpy(&i, b, 8); v = (double)i; break; }
        case KIND_UINT * 16 + 1: v = b[0]; break;
        case KIND_UINT * 16 + 2: { uint16_t i; memcpy(&i, b, 2); v = i; break; }
        case KIND_UINT * 16 + 4: { uint32_t i; memcpy(&i, b, 4); v = i; break; }
        case KIND_UINT * 16 + 8: { uint64_t i; memcpy(&i, b, 8); v = (double)i; break; }
        case KIND_BOOL * 16 + 1: v = b[0] != 0; break;
        default: break;
        }
        dst[k] = (real)v;
    }
}

/* Reads h's data from s into a new tensor. avail bounds what the source can
 * still deliver; a header that asks for more is a truncated file, reported
 * before anything is allocated. */
static Tensor *read_data(Src *s, const NpyHeader *h, uint64_t avail, const char *name, const char *what,
                         Diags *d, Span at)
{
    char expected[64];
    snprintf(expected, sizeof expected, "%llu bytes of data", (unsigned long long)h->nbytes);
    if (h->nbytes > avail) {
        diag_error(d, at, "%s is truncated: expected %s, found %llu", what, expected, (unsigned long long)avail);
        return NULL;
    }
    Tensor *t = tensor_new(name, h->rank, h->dim, d, at);
    if (!t)
        return NULL;
    t->name = NULL;
    uint64_t got = 0;
    if (h->kind == KIND_FLOAT && h->size == (int)sizeof(real) && !h->swap) {
        unsigned char *dst = (unsigned char *)t->data;
        while (got < h->nbytes) {
            size_t want = h->nbytes - got < (1u << 30) ? (size_t)(h->nbytes - got) : 1u << 30;
            size_t r = src_read(s, dst + got, want);
            got += r;
            if (r < want)
                break;
        }
    } else {
        unsigned char *buf = xmalloc(CHUNK);
        size_t per = CHUNK / (size_t)h->size;
        int64_t i = 0;
        while (got < h->nbytes) {
            size_t n = (size_t)(h->count - i) < per ? (size_t)(h->count - i) : per;
            size_t want = n * (size_t)h->size;
            size_t r = src_read(s, buf, want);
            got += r;
            if (r < want)
                break;
            convert(buf, n, h, t->data + i);
            i += (int64_t)n;
        }
        free(buf);
    }
    if (got < h->nbytes) {
        src_fail(s, what, expected, got, d, at);
        tensor_free(t);
        return NULL;
    }
    return t;
}

static char *describe(const char *fmt, const char *a, const char *b)
{
    size_t n = strlen(fmt) + strlen(a) + (b ? strlen(b) : 0) + 1;
    char *s = xmalloc(n);
    snprintf(s, n, fmt, a, b);
    return s;
}

Tensor *npy_load(const char *path, Diags *d, Span at)
{
    FILE *fp = fileio_open_read(path, d, at);
    if (!fp)
        return NULL;
    struct stat st;
    uint64_t size = UINT64_MAX;         /* pipes and devices: unknown, reads still bounded */
    if (fstat(fileno(fp), &st) == 0 && S_ISREG(st.st_mode))
        size = (uint64_t)st.st_size;
    char *what = describe("file '%s'", path, NULL);
    Src *s = src_new(fp, size, size, false);
    NpyHeader h;
    Tensor *t = NULL;
    if (read_header(s, &h, what, d, at))
        t = read_data(s, &h, size == UINT64_MAX ? UINT64_MAX : size - h.data_off, path, what, d, at);
    src_free(s);
    fclose(fp);
    free(what);
    return t;
}

/* ---- NpzReader ------------------------------------------------------------- */

typedef struct Zip {
    char *name;             /* member name as stored */
    unsigned method, flags;
    uint32_t crc;
    uint64_t csize, usize;
    uint64_t data;          /* offset of the member's first byte */
} Zip;

struct NpzReader {
    FILE *fp;
    char *path;
    NpzEntry *e;            /* the *.npy members */
    Zip *z;                 /* their locations, parallel to e */
    int n;
};

static bool read_at(FILE *fp, uint64_t off, void *buf, size_t n)
{
    if (off > (uint64_t)INT64_MAX || fseeko(fp, (off_t)off, SEEK_SET) != 0)
        return false;
    return fread(buf, 1, n, fp) == n;
}

void npz_reader_free(NpzReader *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->n; i++) {
        free((char *)r->e[i].key);
        free(r->z[i].name);
    }
    free(r->e);
    free(r->z);
    free(r->path);
    if (r->fp)
        fclose(r->fp);
    free(r);
}

int npz_reader_count(const NpzReader *r) { return r->n; }
const NpzEntry *npz_reader_entry(const NpzReader *r, int i) { return &r->e[i]; }

static int find_key(const NpzReader *r, const char *key)
{
    for (int i = r->n - 1; i >= 0; i--)    /* a repeated name: the last wins, as in zipfile */
        if (strcmp(r->e[i].key, key) == 0)
            return i;
    return -1;
}

const NpzEntry *npz_reader_find(const NpzReader *r, const char *key)
{
    int i = find_key(r, key);
    return i < 0 ? NULL : &r->e[i];
}

/* Takes the 64-bit values of a ZIP64 extra field for the 32-bit fields that
 * hold 0xFFFFFFFF, in the order the format fixes: usize, csize, offset. */
static bool zip64_extra(const unsigned char *x, size_t n, uint64_t *usize, uint64_t *csize, uint64_t *off)
{
    while (n >= 4) {
        unsigned id = get16(x), len = get16(x + 2);
        if (len > n - 4)
            return false;
        if (id == 1) {
            const unsigned char *p = x + 4, *end = x + 4 + len;
            uint64_t *want[3] = { usize, csize, off };
            for (int k = 0; k < 3; k++) {
                if (*want[k] != 0xFFFFFFFFu)
                    continue;
                if (end - p < 8)
                    return false;
                *want[k] = get64(p);
                p += 8;
            }
            return true;
        }
        x += 4 + len;
        n -= 4 + len;
    }
    return *usize != 0xFFFFFFFFu && *csize != 0xFFFFFFFFu && *off != 0xFFFFFFFFu;
}

static Src *member_src(NpzReader *r, const Zip *z)
{
    if (fseeko(r->fp, (off_t)z->data, SEEK_SET) != 0)
        return NULL;
    return src_new(r->fp, z->csize, z->usize, z->method == 8);
}

/* Finds the end record (and the ZIP64 one), then reads each *.npy member's
 * central-directory entry and local header; the layout is drawn above
 * NpzWriter. Every offset is checked against the bytes before the directory. */
static bool read_directory(NpzReader *r, uint64_t fsize, Diags *d, Span at)
{
    const char *path = r->path;
    if (fsize < 22) {
        diag_error(d, at, "'%s' is not a .npz archive: %s", path,
                   fsize == 0 ? "the file is empty" : "it is too short to be a ZIP file");
        return false;
    }
    size_t tail = fsize < 22 + 0xFFFF ? (size_t)fsize : 22 + 0xFFFF;
    unsigned char *buf = xmalloc(tail);
    if (!read_at(r->fp, fsize - tail, buf, tail)) {
        diag_error(d, at, "'%s' could not be read: input/output error", path);
        free(buf);
        return false;
    }
    long eocd = -1;
    for (long i = (long)tail - 22; i >= 0; i--)
        if (get32(buf + i) == 0x06054b50 && (size_t)i + 22 + get16(buf + i + 20) <= tail) {
            eocd = i;
            break;
        }
    if (eocd < 0) {
        unsigned char head[6] = { 0 };
        bool npy = read_at(r->fp, 0, head, 6) && memcmp(head, "\x93NUMPY", 6) == 0;
        bool zip = read_at(r->fp, 0, head, 4) && memcmp(head, "PK\x03\x04", 4) == 0;
        free(buf);
        if (zip)
            diag_error(d, at, "'%s' is truncated: the ZIP archive has no end-of-central-directory record", path);
        else
            diag_error(d, at, "'%s' is not a .npz archive: no ZIP end-of-central-directory record", path);
        if (npy)
            diag_hint(d, "it is a .npy file: load it as one");
        return false;
    }
    uint64_t epos = fsize - tail + (uint64_t)eocd;
    uint64_t count = get16(buf + eocd + 10);
    uint64_t cd_size = get32(buf + eocd + 12);
    uint64_t cd_off = get32(buf + eocd + 16);
    uint64_t cd_end = epos;
    free(buf);

    unsigned char loc[20];
    if (epos >= 20 && read_at(r->fp, epos - 20, loc, 20) && get32(loc) == 0x07064b50) {
        unsigned char e64[56];
        uint64_t e64_off = get64(loc + 8);
        if (e64_off > epos - 20 || epos - 20 - e64_off < 56 || !read_at(r->fp, e64_off, e64, 56) ||
            get32(e64) != 0x06064b50) {
            diag_error(d, at, "'%s' is corrupt: its ZIP64 end-of-central-directory record is missing", path);
            return false;
        }
        count = get64(e64 + 32);
        cd_size = get64(e64 + 40);
        cd_off = get64(e64 + 48);
        cd_end = e64_off;
    }
    if (cd_off > cd_end || cd_size > cd_end - cd_off) {
        diag_error(d, at, "'%s' is truncated or corrupt: its central directory (%llu bytes at offset %llu) "
                   "lies outside the file", path, (unsigned long long)cd_size, (unsigned long long)cd_off);
        return false;
    }
    if (count > cd_size / 46) {
        diag_error(d, at, "'%s' is corrupt: %llu members do not fit in a central directory of %llu bytes",
                   path, (unsigned long long)count, (unsigned long long)cd_size);
        return false;
    }
    unsigned char *cd = malloc(cd_size ? (size_t)cd_size : 1);
    if (!cd || !read_at(r->fp, cd_off, cd, (size_t)cd_size)) {
        diag_error(d, at, "'%s' could not be read: %s", path, cd ? "input/output error" : "out of memory");
        free(cd);
        return false;
    }
    r->e = xcalloc((size_t)count + 1, sizeof *r->e);
    r->z = xcalloc((size_t)count + 1, sizeof *r->z);
    bool ok = true;
    size_t p = 0;
    for (uint64_t i = 0; i < count && ok; i++) {
        if (cd_size - p < 46 || get32(cd + p) != 0x02014b50) {
            diag_error(d, at, "'%s' is corrupt: central directory entry %llu is malformed",
                       path, (unsigned long long)i + 1);
            ok = false;
            break;
        }
        const unsigned char *c = cd + p;
        size_t nlen = get16(c + 28), xlen = get16(c + 30), clen = get16(c + 32);
        if (cd_size - p - 46 < nlen + xlen + clen) {
            diag_error(d, at, "'%s' is corrupt: central directory entry %llu runs past the directory",
                       path, (unsigned long long)i + 1);
            ok = false;
            break;
        }
        Zip z = { .flags = get16(c + 8), .method = get16(c + 10), .crc = get32(c + 16),
                  .csize = get32(c + 20), .usize = get32(c + 24) };
        uint64_t off = get32(c + 42);
        const char *name = (const char *)c + 46;
        p += 46 + nlen + xlen + clen;
        if (nlen < 5 || memcmp(name + nlen - 4, ".npy", 4) != 0 || memchr(name, 0, nlen))
            continue;      /* not an array: skipped, see io_npy.h */
        char *label = xmalloc(nlen + 1);
        memcpy(label, name, nlen);
        label[nlen] = 0;
        if (!zip64_extra(c + 46 + nlen, xlen, &z.usize, &z.csize, &off)) {
            diag_error(d, at, "'%s' is corrupt: member '%s' has a malformed ZIP64 record", path, label);
            ok = false;
        } else if (z.flags & 1) {
            diag_error(d, at, "'%s': member '%s' is encrypted; cajal reads only unencrypted archives", path, label);
            ok = false;
        } else if (z.method != 0 && z.method != 8) {
            diag_error(d, at, "'%s': member '%s' uses ZIP compression method %u; cajal reads stored and "
                       "deflated members (numpy.savez, numpy.savez_compressed)", path, label, z.method);
            ok = false;
        } else if (z.method == 0 && z.csize != z.usize) {
            diag_error(d, at, "'%s' is corrupt: stored member '%s' has different compressed and "
                       "uncompressed sizes", path, label);
            ok = false;
        }
        unsigned char lh[30];
        if (ok && (off > cd_off || cd_off - off < 30 || !read_at(r->fp, off, lh, 30) || get32(lh) != 0x04034b50)) {
            diag_error(d, at, "'%s' is corrupt: the local header of member '%s' is missing", path, label);
            ok = false;
        }
        if (ok) {
            z.data = off + 30 + get16(lh + 26) + get16(lh + 28);
            if (z.data > cd_off || z.csize > cd_off - z.data) {
                diag_error(d, at, "'%s' is truncated or corrupt: member '%s' needs %llu bytes at offset %llu, "
                           "past the end of the member data", path, label, (unsigned long long)z.csize,
                           (unsigned long long)z.data);
                ok = false;
            }
        }
        if (!ok) {
            free(label);
            break;
        }
        z.name = label;
        NpzEntry *e = &r->e[r->n];
        e->key = xmalloc(nlen - 3);
        memcpy((char *)e->key, name, nlen - 4);
        ((char *)e->key)[nlen - 4] = 0;
        r->z[r->n++] = z;
    }
    free(cd);
    return ok;
}

/* Fills dtype, rank and shape of each entry from its member's header; a member
 * whose header cannot be read stays listed, marked unreadable. */
static void read_entry_headers(NpzReader *r)
{
    for (int i = 0; i < r->n; i++) {
        NpzEntry *e = &r->e[i];
        strcpy(e->dtype, "?");
        e->rank = -1;
        Src *s = member_src(r, &r->z[i]);
        if (!s)
            continue;
        Diags scratch;
        diags_init(&scratch);
        NpyHeader h;
        if (read_header(s, &h, "member", &scratch, span_none())) {
            snprintf(e->dtype, sizeof e->dtype, "%s", h.descr);
            e->rank = h.rank;
            memcpy(e->dim, h.dim, sizeof e->dim);
            e->readable = true;
        } else if (h.descr[0]) {
            snprintf(e->dtype, sizeof e->dtype, "%s", h.descr);
        }
        diags_fini(&scratch);
        src_free(s);
    }
}

NpzReader *npz_reader_new(const char *path, Diags *d, Span at)
{
    FILE *fp = fileio_open_read(path, d, at);
    if (!fp)
        return NULL;
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        diag_error(d, at, "cannot read '%s': an .npz archive must be a regular file", path);
        fclose(fp);
        return NULL;
    }
    NpzReader *r = xcalloc(1, sizeof *r);
    r->fp = fp;
    r->path = xstrdup(path);
    if (!read_directory(r, (uint64_t)st.st_size, d, at)) {
        npz_reader_free(r);
        return NULL;
    }
    read_entry_headers(r);
    return r;
}

static void no_such_key(const NpzReader *r, const char *key, Diags *d, Span at)
{
    const char **keys = xmalloc(((size_t)r->n + 1) * sizeof *keys);
    for (int i = 0; i < r->n; i++)
        keys[i] = r->e[i].key;
    const char *near = diag_closest(key, keys, r->n);
    if (near)
        diag_error(d, at, "'%s' has no array '%s'; did you mean '%s'?", r->path, key, near);
    else
        diag_error(d, at, "'%s' has no array '%s'", r->path, key);
    if (!near && r->n) {
        char list[256];
        size_t n = 0;
        for (int i = 0; i < r->n && n < sizeof list - 8; i++)
            n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", keys[i]);
        if (n >= sizeof list - 8)
            snprintf(list + sizeof list - 8, 8, ", ...");
        diag_hint(d, "it holds: %s", list);
    }
    free(keys);
}

Tensor *npz_reader_read(NpzReader *r, const char *key, Diags *d, Span at)
{
    int i = find_key(r, key);
    if (i < 0) {
        no_such_key(r, key, d, at);
        return NULL;
    }
    const Zip *z = &r->z[i];
    char *what = describe("array '%s' in '%s'", key, r->path);
    Src *s = member_src(r, z);
    Tensor *t = NULL;
    NpyHeader h;
    if (!s)
        diag_error(d, at, "%s could not be read: input/output error", what);
    else if (read_header(s, &h, what, d, at))
        t = read_data(s, &h, z->usize - (h.data_off < z->usize ? h.data_off : z->usize), key, what, d, at);
    if (t) {
        /* the rest of the member, for the size and CRC checks */
        unsigned char scratch[4096];
        s->limit = z->usize + 1;
        while (src_read(s, scratch, sizeof scratch) > 0)
            ;
        bool bad = true;
        if (s->zerr || s->ioerr)
            src_fail(s, what, "", 0, d, at);
        else if (s->out != z->usize || (z->method == 8 && !s->zend))
            diag_error(d, at, "%s is corrupt: it holds %s%llu bytes, the archive directory says %llu", what,
                       s->out > z->usize ? "more than " : "", (unsigned long long)(s->out > z->usize ? z->usize : s->out),
                       (unsigned long long)z->usize);
        else if (s->crc != z->crc)
            diag_error(d, at, "%s is corrupt: its CRC-32 is %08x, the archive directory says %08x",
                       what, (unsigned)s->crc, (unsigned)z->crc);
        else
            bad = false;
        if (bad) {
            tensor_free(t);
            t = NULL;
        }
    }
    if (s)
        src_free(s);
    free(what);
    return t;
}
