/* test_io_idx.c: IDX files crafted here, plain and gzip'd (through zlib): every
 * type code, ranks 1 to 4, scale and row limit, every error, and truncation at
 * every byte. Needs no MNIST download. */
#include "check.h"
#include "io_idx.h"
#include "tensor.h"

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

static char tmpdir[64];

static const char *tmp(const char *name)
{
    static char buf[4][256];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, sizeof buf[0], "%s/%s", tmpdir, name);
    return b;
}

static int has_error(const Diags *d, const char *text)
{
    for (int k = 0; k < d->n; k++)
        if (d->v[k].level == DIAG_ERROR && strstr(d->v[k].msg, text))
            return 1;
    fprintf(stderr, "  no error containing \"%s\"; errors were:\n", text);
    for (int k = 0; k < d->n; k++)
        fprintf(stderr, "    %s\n", d->v[k].msg);
    return 0;
}

static void spit(const char *path, const void *p, size_t n)
{
    FILE *fp = fopen(path, "wb");
    fwrite(p, 1, n, fp);
    fclose(fp);
}

static void spit_gz(const char *path, const void *p, size_t n)
{
    gzFile g = gzopen(path, "wb");
    if (n)
        gzwrite(g, p, (unsigned)n);
    gzclose(g);
}

static size_t file_bytes(const char *path, unsigned char *buf, size_t cap)
{
    FILE *fp = fopen(path, "rb");
    size_t n = fread(buf, 1, cap, fp);
    fclose(fp);
    return n;
}

static const int sizes[16] = { [0x08] = 1, [0x09] = 1, [0x0B] = 2, [0x0C] = 4, [0x0D] = 4, [0x0E] = 8 };

/* The value element i of a test file holds, for each type. */
static double value(int type, int64_t i)
{
    switch (type) {
    case 0x08: return (double)((i * 37) % 256);
    case 0x09: return (double)((i * 37) % 256 - 128);
    case 0x0B: return (double)((i * 7919) % 65536 - 32768);
    case 0x0C: return (double)(i * 100003 - 2000000000);
    case 0x0D: return (double)(float)(sin((double)i) * 1e3);
    default: return sin((double)i) * 1e-7;
    }
}

/* An IDX file in buf: header, then the values above (big-endian). */
static size_t build(unsigned char *buf, int type, int rank, const uint32_t *dim)
{
    size_t n = 0;
    buf[n++] = 0;
    buf[n++] = 0;
    buf[n++] = (unsigned char)type;
    buf[n++] = (unsigned char)rank;
    int64_t count = 1;
    for (int k = 0; k < rank; k++) {
        for (int b = 3; b >= 0; b--)
            buf[n++] = (unsigned char)(dim[k] >> 8 * b);
        count *= dim[k];
    }
    for (int64_t i = 0; i < count; i++) {
        double v = value(type, i);
        uint64_t u = 0;
        switch (type) {
        case 0x08: case 0x09: u = (uint8_t)(int)v; break;
        case 0x0B: u = (uint16_t)(int16_t)v; break;
        case 0x0C: u = (uint32_t)(int32_t)v; break;
        case 0x0D: { float f = (float)v; uint32_t w; memcpy(&w, &f, 4); u = w; break; }
        default: memcpy(&u, &v, 8); break;
        }
        for (int b = sizes[type] - 1; b >= 0; b--)
            buf[n++] = (unsigned char)(u >> 8 * b);
    }
    return n;
}

static void check_values(const Tensor *t, int type, real scale)
{
    int64_t bad = 0;
    for (int64_t i = 0; i < t->size; i++)
        if (t->data[i] != (real)value(type, i) * scale && bad++ < 3)
            fprintf(stderr, "  type 0x%02x [%lld]: expected %.17g, got %.17g\n", type, (long long)i,
                    (double)((real)value(type, i) * scale), (double)t->data[i]);
    CHECK_INT(bad, 0);
}

static void test_types(void)
{
    static unsigned char buf[1 << 16];
    const int codes[] = { 0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E };
    const uint32_t dims[4][4] = { { 7 }, { 3, 4 }, { 5, 3, 2 }, { 2, 1, 2, 3 } };
    for (int gz = 0; gz < 2; gz++)
        for (size_t c = 0; c < 6; c++)
            for (int rank = 1; rank <= 4; rank++) {
                size_t n = build(buf, codes[c], rank, dims[rank - 1]);
                const char *p = tmp(gz ? "t.idx.gz" : "t.idx");
                (gz ? spit_gz : spit)(p, buf, n);
                Diags d;
                diags_init(&d);
                Tensor *t = idx_load(p, 1, 0, &d, span_none());
                if (!CHECK(t != NULL)) {
                    diags_print(&d, stderr, false);
                    diags_fini(&d);
                    continue;
                }
                CHECK_INT(t->rank, rank);
                for (int k = 0; k < rank; k++)
                    CHECK_INT(t->dim[k], dims[rank - 1][k]);
                CHECK(t->name == NULL);
                check_values(t, codes[c], 1);
                tensor_free(t);
                diags_fini(&d);
            }
}

/* MNIST-shaped files: images scaled to [0, 1], a row limit, labels. */
static void test_mnist_like(void)
{
    static unsigned char buf[1 << 16];
    const uint32_t img[3] = { 20, 28, 28 }, lab[1] = { 20 };
    Diags d;
    diags_init(&d);
    for (int gz = 0; gz < 2; gz++) {
        size_t n = build(buf, 0x08, 3, img);
        CHECK_INT(n, 16 + 20 * 28 * 28);
        const char *p = tmp(gz ? "images.gz" : "images");
        (gz ? spit_gz : spit)(p, buf, n);
        Tensor *t = idx_load(p, (real)(1.0 / 255), 10, &d, span_none());
        if (CHECK(t != NULL)) {
            CHECK_INT(t->rank, 3);
            CHECK_INT(t->dim[0], 10);
            CHECK_INT(t->dim[1], 28);
            CHECK_INT(t->size, 10 * 28 * 28);
            check_values(t, 0x08, (real)(1.0 / 255));
            real hi = 0;
            for (int64_t i = 0; i < t->size; i++)
                hi = t->data[i] > hi ? t->data[i] : hi;
            CHECK_NEAR(hi, 1.0, 1e-6);
        }
        tensor_free(t);
        t = idx_load(p, 1, 1000, &d, span_none());       /* a limit past the end: all */
        CHECK(t && t->dim[0] == 20);
        tensor_free(t);

        n = build(buf, 0x08, 1, lab);
        p = tmp(gz ? "labels.gz" : "labels");
        (gz ? spit_gz : spit)(p, buf, n);
        t = idx_load(p, 1, 0, &d, span_none());
        CHECK(t && t->rank == 1 && t->dim[0] == 20);
        if (t)
            check_values(t, 0x08, 1);
        tensor_free(t);
    }
    CHECK_INT(d.errors, 0);
    diags_fini(&d);
}

static void expect_error(const char *path, int64_t limit, const char *text, int line)
{
    Diags d;
    diags_init(&d);
    Tensor *t = idx_load(path, 1, limit, &d, span_none());
    if (!CHECK(t == NULL) || !has_error(&d, text) || !CHECK_INT(d.errors, 1))
        fprintf(stderr, "  (test_io_idx.c:%d)\n", line);
    tensor_free(t);
    diags_fini(&d);
}
#define EXPECT_ERROR(path, limit, text) expect_error(path, limit, text, __LINE__)

static void test_errors(void)
{
    static unsigned char buf[1 << 16], gzbuf[1 << 16];
    const uint32_t dims[3] = { 5, 3, 2 };
    size_t n = build(buf, 0x08, 3, dims);
    const char *p = tmp("bad.idx"), *g = tmp("bad.idx.gz");

    spit(p, "", 0);
    EXPECT_ERROR(p, 0, "is empty: expected an IDX file");
    spit(p, "PK\x03\x04rest", 8);
    EXPECT_ERROR(p, 0, "is not an IDX file: its magic number is 0x504b0304");
    spit(p, "\x00\x00\x07\x03", 4);
    EXPECT_ERROR(p, 0, "unknown IDX type code 0x07");
    spit(p, "\x00\x00\x08\x00", 4);
    EXPECT_ERROR(p, 0, "has 0 dimensions");
    spit(p, "\x00\x00\x08\x05", 4);
    EXPECT_ERROR(p, 0, "has 5 dimensions");
    spit(p, buf, 8);
    EXPECT_ERROR(p, 0, "is truncated: expected 12 bytes of dimensions, found 4");
    spit(p, buf, n - 6);
    EXPECT_ERROR(p, 0, "does not match its dimensions: [5, 3, 2] of u8 need 46 bytes, the file has 40");
    EXPECT_ERROR(p, 1, "does not match its dimensions");
    memcpy(buf + n, "xyz", 3);
    spit(p, buf, n + 3);
    EXPECT_ERROR(p, 0, "need 46 bytes, the file has 49");

    spit_gz(g, buf, n - 6);
    EXPECT_ERROR(g, 0, "is truncated: expected 30 bytes of data, found 24");
    spit_gz(g, buf, n + 3);
    EXPECT_ERROR(g, 0, "it has more data than [5, 3, 2] of u8");
    Diags d;
    diags_init(&d);
    Tensor *t = idx_load(g, 1, 2, &d, span_none());    /* a limit does not read that far */
    CHECK(t && t->dim[0] == 2);
    tensor_free(t);
    diags_fini(&d);

    const unsigned char huge[] = { 0, 0, 0x0E, 4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    spit_gz(g, huge, sizeof huge);
    EXPECT_ERROR(g, 0, "too large to be real");
    const unsigned char big[] = { 0, 0, 0x08, 3, 0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0, 0, 0, 0, 100 };
    spit_gz(g, big, sizeof big);
    EXPECT_ERROR(g, 0, "more than the limit");
    spit(p, big, sizeof big);
    EXPECT_ERROR(p, 0, "need 1000000000016 bytes, the file has 16");

    /* a damaged gzip stream */
    spit_gz(g, buf, n);
    size_t gn = file_bytes(g, gzbuf, sizeof gzbuf);
    spit(g, gzbuf, gn - 5);
    EXPECT_ERROR(g, 0, "bad.idx.gz' is truncated");
    for (size_t k = 12; k < gn - 8; k++)
        gzbuf[k] ^= 0x55;
    spit(g, gzbuf, gn);
    EXPECT_ERROR(g, 0, "is corrupt");

    EXPECT_ERROR(tmp("missing.idx"), 0, "missing.idx': no such file");
    EXPECT_ERROR(tmpdir, 0, "it is a directory, not a file");

    /* every cut of both forms is an error */
    spit_gz(g, buf, n);
    gn = file_bytes(g, gzbuf, sizeof gzbuf);
    int errors = 0, runs = 0;
    for (size_t cut = 0; cut < n; cut++, runs++) {
        spit(p, buf, cut);
        diags_init(&d);
        t = idx_load(p, 1, 0, &d, span_none());
        errors += t == NULL && d.errors == 1;
        tensor_free(t);
        diags_fini(&d);
    }
    for (size_t cut = 0; cut < gn; cut++, runs++) {
        spit(g, gzbuf, cut);
        diags_init(&d);
        t = idx_load(g, 1, 0, &d, span_none());
        errors += t == NULL && d.errors == 1;
        tensor_free(t);
        diags_fini(&d);
    }
    CHECK_INT(errors, runs);
}

int main(void)
{
    strcpy(tmpdir, "/tmp/cajal_test_idx_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    test_types();
    test_mnist_like();
    test_errors();
    const char *files[] = { "t.idx", "t.idx.gz", "images", "images.gz", "labels", "labels.gz", "bad.idx", "bad.idx.gz" };
    for (size_t k = 0; k < sizeof files / sizeof *files; k++)
        unlink(tmp(files[k]));
    rmdir(tmpdir);
    return check_done("test_io_idx");
}
