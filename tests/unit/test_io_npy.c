/* test_io_npy.c: .npy and .npz against NumPy's own files, round trips, every
 * error the readers give, truncation and corruption at every byte, and atomic
 * writes that fail.
 *
 * The NumPy-written fixtures live in fixtures/npy/ (made by fixtures/make.sh);
 * expected.txt there lists every array's values, so this test needs no NumPy.
 * The Makefile's CAJAL_SRCDIR locates them; without it, run from the repository
 * root, or set CAJAL_FIXTURES to the fixtures/npy path.
 */
#include "check.h"
#include "fileio.h"
#include "io_npy.h"
#include "tensor.h"

#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#ifdef CAJAL_FLOAT
#define TAG "f4"
#else
#define TAG "f8"
#endif

static const char *fixtures;
static char tmpdir[64];

static char *fx(const char *name)
{
    static char buf[4][512];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, sizeof buf[0], "%s/%s", fixtures, name);
    return b;
}

static char *tmp(const char *name)
{
    static char buf[4][512];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, sizeof buf[0], "%s/%s", tmpdir, name);
    return b;
}

/* True if some error contains text; prints the errors otherwise. */
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

static char *slurp(const char *path, size_t *len)
{
    Diags d;
    diags_init(&d);
    char *s = fileio_read_all(path, 1 << 26, len, &d, span_none());
    diags_fini(&d);
    return s;
}

static void spit(const char *path, const void *p, size_t n)
{
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        perror(path);
        exit(2);
    }
    fwrite(p, 1, n, fp);
    fclose(fp);
}

static int same_file(const char *a, const char *b)
{
    size_t na, nb;
    char *x = slurp(a, &na), *y = slurp(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

/* Counts files in the temporary directory whose names contain ".tmp-". */
static int temporaries(void)
{
    DIR *dir = opendir(tmpdir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir)))
        n += strstr(e->d_name, ".tmp-") != NULL;
    closedir(dir);
    return n;
}

/* A tensor of the given shape with distinct, non-round values. */
static Tensor *sample(int rank, int64_t d0, int64_t d1, int64_t d2, int64_t d3, double seed)
{
    int64_t dim[4] = { d0, d1, d2, d3 };
    Diags d;
    diags_init(&d);
    Tensor *t = tensor_new("sample", rank, dim, &d, span_none());
    diags_fini(&d);
    for (int64_t i = 0; i < t->size; i++)
        t->data[i] = (real)(sin(seed + (double)i) * 100.0 / (1.0 + (double)i));
    return t;
}

static int same_tensor(const Tensor *a, const Tensor *b)
{
    if (!a || !b || a->rank != b->rank || a->size != b->size)
        return 0;
    for (int k = 0; k < a->rank; k++)
        if (a->dim[k] != b->dim[k])
            return 0;
    return a->size == 0 || memcmp(a->data, b->data, (size_t)a->size * sizeof(real)) == 0;
}

/* ---- NumPy's fixtures --------------------------------------------------------- */

/* Checks one line of expected.txt: file key dtype shape values... */
static void check_expected_line(char *line)
{
    char *save = NULL;
    char *file = strtok_r(line, " \n", &save);
    char *key = strtok_r(NULL, " \n", &save);
    char *dtype = strtok_r(NULL, " \n", &save);
    char *shape = strtok_r(NULL, " \n", &save);
    if (!file || !key || !dtype || !shape) {
        CHECK(!"malformed line in expected.txt");
        return;
    }
    int rank = 0;
    int64_t dim[8];
    if (strcmp(shape, "()") != 0)
        for (char *p = shape; rank < 8; rank++) {
            dim[rank] = strtoll(p, &p, 10);
            if (*p != ',') {
                rank++;
                break;
            }
            p++;
        }

    Diags d;
    diags_init(&d);
    Tensor *t;
    if (strcmp(key, "-") == 0) {
        t = npy_load(fx(file), &d, span_none());
    } else {
        NpzReader *r = npz_reader_new(fx(file), &d, span_none());
        CHECK(r != NULL);
        t = NULL;
        if (r) {
            const NpzEntry *e = npz_reader_find(r, key);
            CHECK(e != NULL);
            if (e) {
                CHECK_STR(e->dtype, dtype);
                CHECK_INT(e->rank, rank);
                CHECK(e->readable);
                for (int k = 0; k < rank && k < e->rank; k++)
                    CHECK_INT(e->dim[k], dim[k]);
            }
            t = npz_reader_read(r, key, &d, span_none());
            npz_reader_free(r);
        }
    }
    if (!t) {
        fprintf(stderr, "  reading %s %s failed:\n", file, key);
        diags_print(&d, stderr, false);
        CHECK(t != NULL);
        diags_fini(&d);
        return;
    }
    CHECK_INT(d.errors, 0);
    CHECK(t->name == NULL);
    if (!CHECK_INT(t->rank, rank))
        fprintf(stderr, "  in %s %s\n", file, key);
    for (int k = 0; k < rank && k < t->rank; k++)
        CHECK_INT(t->dim[k], dim[k]);
    int64_t i = 0, bad = 0;
    for (char *v; (v = strtok_r(NULL, " \n", &save)); i++) {
        real want = (real)strtod(v, NULL);
        if (i < t->size && t->data[i] != want && bad++ < 3)
            fprintf(stderr, "  %s %s [%lld]: expected %.17g, got %.17g\n", file, key, (long long)i,
                    (double)want, (double)t->data[i]);
    }
    CHECK_INT(i, t->size);
    CHECK_INT(bad, 0);
    tensor_free(t);
    diags_fini(&d);
}

static void test_read_fixtures(void)
{
    FILE *fp = fopen(fx("expected.txt"), "r");
    if (!CHECK(fp != NULL)) {
        fprintf(stderr, "  fixtures not found in %s (set CAJAL_FIXTURES)\n", fixtures);
        return;
    }
    char *line = NULL;
    size_t cap = 0;
    int lines = 0;
    while (getline(&line, &cap, fp) > 0)
        if (line[0] != '#') {
            check_expected_line(line);
            lines++;
        }
    free(line);
    fclose(fp);
    CHECK(lines >= 40);
}

static void test_fixture_errors(void)
{
    FILE *fp = fopen(fx("errors.txt"), "r");
    if (!CHECK(fp != NULL))
        return;
    char line[256];
    int n = 0;
    while (fgets(line, sizeof line, fp)) {
        if (line[0] == '#')
            continue;
        line[strcspn(line, "\n")] = 0;
        char *space = strchr(line, ' ');
        if (!space)
            continue;
        *space = 0;
        Diags d;
        diags_init(&d);
        Tensor *t = npy_load(fx(line), &d, span_none());
        CHECK(t == NULL);
        CHECK_INT(d.errors, 1);
        if (!has_error(&d, space + 1))
            CHECK(!"fixture error message");
        if (!has_error(&d, line))
            CHECK(!"error names the file");
        tensor_free(t);
        diags_fini(&d);
        n++;
    }
    fclose(fp);
    CHECK_INT(n, 8);

    Diags d;
    diags_init(&d);
    CHECK(npy_load(fx("bad_fortran.npy"), &d, span_none()) == NULL);
    CHECK(has_error(&d, "Fortran-ordered arrays are not supported; save with np.ascontiguousarray"));
    diags_fini(&d);
}

/* npy_save writes what numpy.save wrote, byte for byte. */
static void test_same_bytes_as_numpy(void)
{
    const char *names[] = { TAG "_r0.npy", TAG "_r1.npy", TAG "_r2.npy", TAG "_r3.npy", TAG "_r4.npy",
                            TAG "_empty1.npy", TAG "_empty3.npy" };
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        Diags d;
        diags_init(&d);
        Tensor *t = npy_load(fx(names[k]), &d, span_none());
        if (!CHECK(t != NULL))
            continue;
        CHECK(npy_save(tmp("same.npy"), t, &d, span_none()));
        if (!CHECK(same_file(tmp("same.npy"), fx(names[k]))))
            fprintf(stderr, "  %s differs from numpy's\n", names[k]);
        tensor_free(t);
        diags_fini(&d);
    }
    /* the header alone, for a shape whose first axis is long */
    char buf[256];
    int64_t dim[2] = { 123456789012LL, 3 };
    size_t n = npy_header(buf, sizeof buf, 2, dim);
    CHECK_INT(n % 64, 0);
    CHECK_INT(buf[n - 1], '\n');
    CHECK(memcmp(buf + 10, "{'descr': '<f", 13) == 0);
    CHECK(strstr(buf + 10, "'shape': (123456789012, 3), }") != NULL);
    CHECK_INT(npy_header(buf, 10, 2, dim), 0);
}

/* ---- .npz round trips ------------------------------------------------------------ */

static void test_npz_round_trip(void)
{
    const char *keys[] = { "J.w", "E.r", "b", "s", "W_in.x", "v4" };
    Tensor *t[6] = {
        sample(2, 3, 3, 1, 1, 0.1), sample(3, 4, 2, 3, 1, 0.2), sample(1, 3, 1, 1, 1, 0.3),
        sample(0, 1, 1, 1, 1, 0.4), sample(2, 0, 5, 1, 1, 0.5), sample(4, 2, 1, 3, 2, 0.6),
    };
    for (int pass = 0; pass < 2; pass++) {
        npz_zip64_threshold = pass ? 0 : 0xFFFFFFFFu;     /* pass 1: every record ZIP64 */
        const char *path = tmp(pass ? "rt64.npz" : "rt.npz");
        Diags d;
        diags_init(&d);
        NpzWriter *w = npz_writer_new(path, &d, span_none());
        CHECK(w != NULL);
        for (int k = 0; k < 6; k++)
            CHECK(npz_writer_add(w, keys[k], t[k], &d, span_none()));
        CHECK(npz_writer_commit(w, &d, span_none()));
        CHECK_INT(d.errors, 0);
        npz_zip64_threshold = 0xFFFFFFFFu;

        NpzReader *r = npz_reader_new(path, &d, span_none());
        if (!CHECK(r != NULL)) {
            diags_print(&d, stderr, false);
            continue;
        }
        CHECK_INT(npz_reader_count(r), 6);
        for (int k = 0; k < 6 && k < npz_reader_count(r); k++) {
            const NpzEntry *e = npz_reader_entry(r, k);
            CHECK_STR(e->key, keys[k]);
            CHECK_STR(e->dtype, "<" TAG);
            CHECK_INT(e->rank, t[k]->rank);
            Tensor *u = npz_reader_read(r, keys[k], &d, span_none());
            CHECK(same_tensor(u, t[k]));
            tensor_free(u);
        }
        CHECK(npz_reader_find(r, "J.w") != NULL);
        CHECK(npz_reader_find(r, "J") == NULL);
        CHECK(npz_reader_read(r, "J.W", &d, span_none()) == NULL);
        CHECK(has_error(&d, "has no array 'J.W'; did you mean 'J.w'?"));
        CHECK(npz_reader_read(r, "nothing_like_it", &d, span_none()) == NULL);
        CHECK(has_error(&d, "has no array 'nothing_like_it'"));
        npz_reader_free(r);
        diags_fini(&d);
    }
    /* the same arrays give the same bytes */
    Diags d;
    diags_init(&d);
    NpzWriter *w = npz_writer_new(tmp("rt2.npz"), &d, span_none());
    for (int k = 0; k < 6; k++)
        npz_writer_add(w, keys[k], t[k], &d, span_none());
    CHECK(npz_writer_commit(w, &d, span_none()));
    CHECK(same_file(tmp("rt.npz"), tmp("rt2.npz")));
    CHECK(!same_file(tmp("rt.npz"), tmp("rt64.npz")));

    /* a repeated or empty key spoils the writer; commit refuses */
    w = npz_writer_new(tmp("dup.npz"), &d, span_none());
    CHECK(npz_writer_add(w, "a", t[0], &d, span_none()));
    CHECK(!npz_writer_add(w, "a", t[1], &d, span_none()));
    CHECK(has_error(&d, "array 'a' is given twice"));
    CHECK(!npz_writer_commit(w, &d, span_none()));
    w = npz_writer_new(tmp("dup.npz"), &d, span_none());
    CHECK(!npz_writer_add(w, "", t[0], &d, span_none()));
    npz_writer_abort(w);
    CHECK(access(tmp("dup.npz"), F_OK) != 0);
    CHECK_INT(temporaries(), 0);

    /* npy_save / npy_load of every rank */
    diags_clear(&d);
    for (int k = 0; k < 6; k++) {
        CHECK(npy_save(tmp("one.npy"), t[k], &d, span_none()));
        Tensor *u = npy_load(tmp("one.npy"), &d, span_none());
        CHECK(same_tensor(u, t[k]));
        tensor_free(u);
    }
    CHECK_INT(d.errors, 0);
    for (int k = 0; k < 6; k++)
        tensor_free(t[k]);
    diags_fini(&d);
}

static void test_npz_numpy_archives(void)
{
    Diags d;
    diags_init(&d);
    NpzReader *r = npz_reader_new(fx("extra_member.npz"), &d, span_none());
    if (CHECK(r != NULL)) {
        CHECK_INT(npz_reader_count(r), 1);      /* README.txt skipped */
        CHECK_STR(npz_reader_entry(r, 0)->key, "J.w");
        npz_reader_free(r);
    }
    r = npz_reader_new(fx("savez_compressed.npz"), &d, span_none());
    if (CHECK(r != NULL)) {
        CHECK_INT(npz_reader_count(r), 5);
        CHECK_STR(npz_reader_entry(r, 0)->key, "J.w");
        CHECK_STR(npz_reader_entry(r, 1)->key, "E.r");
        CHECK_STR(npz_reader_entry(r, 2)->dtype, "<f4");
        CHECK_INT(npz_reader_entry(r, 3)->rank, 0);
        npz_reader_free(r);
    }
    CHECK_INT(d.errors, 0);
    diags_fini(&d);
}

/* ---- Crafted bad files ---------------------------------------------------------- */

/* A .npy with the given header dict (padded like numpy's) and nbytes of data. */
static void craft(const char *path, int major, const char *dict, size_t nbytes)
{
    size_t pre = major == 1 ? 10 : 12, dl = strlen(dict);
    size_t hlen = dl + 1 + (64 - (pre + dl + 1) % 64) % 64;
    size_t total = pre + hlen + nbytes;
    unsigned char *b = calloc(1, total);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (unsigned char)major;
    b[7] = 0;
    b[8] = (unsigned char)hlen;
    b[9] = (unsigned char)(hlen >> 8);
    memcpy(b + pre, dict, dl);
    memset(b + pre + dl, ' ', hlen - dl);
    b[pre + hlen - 1] = '\n';
    spit(path, b, total);
    free(b);
}

static void expect_npy_error(const char *path, const char *text, int line)
{
    Diags d;
    diags_init(&d);
    Tensor *t = npy_load(path, &d, span_none());
    if (!CHECK(t == NULL) || !has_error(&d, text)) {
        fprintf(stderr, "  (test_io_npy.c:%d)\n", line);
        CHECK(!"expected error");
    }
    tensor_free(t);
    diags_fini(&d);
}
#define EXPECT_NPY_ERROR(path, text) expect_npy_error(path, text, __LINE__)

static void test_npy_errors(void)
{
    char *p = tmp("bad.npy");
    Diags d;
    diags_init(&d);

    /* truncated data: the message of the brief */
    Tensor *t = sample(1, 100, 1, 1, 1, 1.0);
    char want[600];
    npy_save(p, t, &d, span_none());
    size_t n;
    char *bytes = slurp(p, &n);
    size_t full = n;
    spit(p, bytes, n - (size_t)t->size * sizeof(real) / 2);
    snprintf(want, sizeof want, "file '%s' is truncated: expected %zu bytes of data, found %zu", p,
             (size_t)t->size * sizeof(real), (size_t)t->size * sizeof(real) / 2);
    EXPECT_NPY_ERROR(p, want);

    /* cut at every offset, flip every header byte: errors, never a crash */
    int failures = 0, runs = 0;
    for (size_t cut = 0; cut < full; cut++) {
        spit(p, bytes, cut);
        Diags e;
        diags_init(&e);
        Tensor *u = npy_load(p, &e, span_none());
        failures += u == NULL && e.errors == 1;
        runs++;
        tensor_free(u);
        diags_fini(&e);
    }
    CHECK_INT(failures, runs);
    for (size_t k = 0; k < 128; k++)
        for (int bit = 0; bit < 8; bit++) {
            bytes[k] ^= (char)(1 << bit);
            spit(p, bytes, full);
            Diags e;
            diags_init(&e);
            Tensor *u = npy_load(p, &e, span_none());
            CHECK((u != NULL) == (e.errors == 0));
            tensor_free(u);
            diags_fini(&e);
            bytes[k] ^= (char)(1 << bit);
        }
    free(bytes);
    tensor_free(t);

    spit(p, "", 0);
    EXPECT_NPY_ERROR(p, "is empty");
    spit(p, "hello, world\n", 13);
    EXPECT_NPY_ERROR(p, "is not a .npy file: it does not start with \\x93NUMPY");
    spit(p, "PK\x03\x04 and more bytes", 20);
    EXPECT_NPY_ERROR(p, "is not a .npy file");
    spit(p, "\x93NUMPY\x04\x00\x10\x00", 10);
    EXPECT_NPY_ERROR(p, "uses .npy format version 4.0; cajal reads versions 1.0, 2.0 and 3.0");
    spit(p, "\x93NUMPY\x02\x00\xff\xff\xff\x7f{", 13);
    EXPECT_NPY_ERROR(p, "has a header of 2147483647 bytes, more than");
    spit(p, "\x93NUMPY\x01\x00\x40\x00{'descr'", 17);
    EXPECT_NPY_ERROR(p, "is truncated: expected a header of 64 bytes, found 7");

    craft(p, 1, "[1, 2, 3]", 0);
    EXPECT_NPY_ERROR(p, "has a malformed header: expected a Python dict");
    craft(p, 1, "{'descr': '<f8', 'fortran_order': False}", 0);
    EXPECT_NPY_ERROR(p, "has a malformed header: it has no 'shape'");
    craft(p, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'extra': 1}", 16);
    EXPECT_NPY_ERROR(p, "unexpected key 'extra'");
    craft(p, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (-2,), }", 16);
    EXPECT_NPY_ERROR(p, "expected a non-negative integer in 'shape'");
    craft(p, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3", 16);
    EXPECT_NPY_ERROR(p, "has a malformed header");
    craft(p, 1, "{'descr': '<f8', 'fortran_order': maybe, 'shape': (2,), }", 16);
    EXPECT_NPY_ERROR(p, "expected True or False after 'fortran_order'");
    craft(p, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), } junk", 16);
    EXPECT_NPY_ERROR(p, "expected nothing but spaces after the dict");
    craft(p, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999,), }", 0);
    EXPECT_NPY_ERROR(p, "does not fit in 64 bits");
    craft(p, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", 0);
    EXPECT_NPY_ERROR(p, "element count overflows");
    craft(p, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952,), }", 0);
    EXPECT_NPY_ERROR(p, "size in bytes overflows");
    craft(p, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }", 0);
    EXPECT_NPY_ERROR(p, "is truncated: expected 8000000000000 bytes of data, found 0");
    craft(p, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1), }", 8);
    EXPECT_NPY_ERROR(p, "rank 5; cajal tensors have at most 4 dimensions");
    craft(p, 1, "{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", 16);
    EXPECT_NPY_ERROR(p, "holds complex numbers (dtype '<c8', complex64)");
    craft(p, 1, "{'descr': '<f16', 'fortran_order': False, 'shape': (2,), }", 32);
    EXPECT_NPY_ERROR(p, "holds long doubles");
    craft(p, 1, "{'descr': '<i3', 'fortran_order': False, 'shape': (2,), }", 32);
    EXPECT_NPY_ERROR(p, "unsupported dtype '<i3'");
    craft(p, 1, "{'descr': '|V8', 'fortran_order': False, 'shape': (2,), }", 16);
    EXPECT_NPY_ERROR(p, "holds raw bytes");
    craft(p, 1, "{'descr': [('a', '<f8', (2, [3])), ('b', '|O')], 'fortran_order': False, 'shape': (2,), }", 16);
    EXPECT_NPY_ERROR(p, "holds a structured array");
    craft(p, 1, "{'descr': [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]], "
                "'fortran_order': False, 'shape': (2,), }", 16);
    EXPECT_NPY_ERROR(p, "malformed header");

    /* version 2.0 header, Fortran order of a vector (same bytes as C order), L suffixes */
    craft(p, 2, "{'descr': '>u2', 'fortran_order': True, 'shape': (1L, 3L, 1), }", 6);
    t = npy_load(p, &d, span_none());
    if (CHECK(t != NULL)) {
        CHECK_INT(t->rank, 3);
        CHECK_INT(t->dim[1], 3);
        CHECK_INT(t->data[2], 0);
    }
    tensor_free(t);
    CHECK_INT(d.errors, 0);

    /* larger than tensor_max_bytes: refused before allocation */
    int64_t old = tensor_max_bytes;
    tensor_max_bytes = 1000;
    craft(p, 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (300,), }", 300);
    EXPECT_NPY_ERROR(p, "more than the limit");
    tensor_max_bytes = old;

    /* paths */
    EXPECT_NPY_ERROR(tmp("missing.npy"), "cannot open");
    EXPECT_NPY_ERROR(tmp("missing.npy"), "no such file");
    EXPECT_NPY_ERROR(tmpdir, "it is a directory, not a file");
    EXPECT_NPY_ERROR(fx("savez.npz"), "is not a .npy file");
    diags_fini(&d);
}

static void expect_npz_error(const char *path, const char *key, const char *text, int line)
{
    Diags d;
    diags_init(&d);
    NpzReader *r = npz_reader_new(path, &d, span_none());
    Tensor *t = NULL;
    if (r && key)
        t = npz_reader_read(r, key, &d, span_none());
    if (!CHECK(t == NULL) || !has_error(&d, text)) {
        fprintf(stderr, "  (test_io_npy.c:%d)\n", line);
        CHECK(!"expected error");
    }
    tensor_free(t);
    npz_reader_free(r);
    diags_fini(&d);
}
#define EXPECT_NPZ_ERROR(path, key, text) expect_npz_error(path, key, text, __LINE__)

/* Reads every array; returns the number of errors (0: all read). */
static int read_all_arrays(const char *path)
{
    Diags d;
    diags_init(&d);
    NpzReader *r = npz_reader_new(path, &d, span_none());
    for (int k = 0; r && k < npz_reader_count(r); k++)
        tensor_free(npz_reader_read(r, npz_reader_entry(r, k)->key, &d, span_none()));
    int errors = d.errors + (r == NULL && d.errors == 0);
    npz_reader_free(r);
    diags_fini(&d);
    return errors;
}

static void test_npz_errors(void)
{
    const char *p = tmp("bad.npz");
    const char *srcs[] = { fx("savez.npz"), fx("savez_compressed.npz"), fx("streamed.npz"), tmp("rt64.npz") };
    for (size_t s = 0; s < sizeof srcs / sizeof *srcs; s++) {
        size_t n;
        char *bytes = slurp(srcs[s], &n);
        if (!CHECK(bytes != NULL))
            continue;
        CHECK_INT(read_all_arrays(srcs[s]), 0);
        /* every cut is an error; every flipped byte is an error or harmless */
        int failures = 0;
        for (size_t cut = 0; cut < n; cut++) {
            spit(p, bytes, cut);
            failures += read_all_arrays(p) > 0;
        }
        CHECK_INT(failures, (int)n);
        for (size_t k = 0; k < n; k++) {
            bytes[k] ^= 0x5a;
            spit(p, bytes, n);
            read_all_arrays(p);
            bytes[k] ^= 0x5a;
        }
        free(bytes);
    }

    /* a flipped data byte in a stored member: CRC mismatch */
    size_t n;
    char *bytes = slurp(fx("savez.npz"), &n);
    char *hit = memmem(bytes, n, "J.w.npy", 7);
    hit = memmem(hit, (size_t)(bytes + n - hit), "\x93NUMPY", 6);
    hit += 10 + ((unsigned char)hit[8] | (unsigned char)hit[9] << 8) + 3;     /* into the data */
    *hit ^= 1;
    spit(p, bytes, n);
    EXPECT_NPZ_ERROR(p, "J.w", "is corrupt: its CRC-32 is");
    EXPECT_NPZ_ERROR(p, "J.w", "array 'J.w' in '");
    *hit ^= 1;
    /* no central directory */
    char *cd = memmem(bytes, n, "PK\x01\x02", 4);
    spit(p, bytes, (size_t)(cd - bytes));
    EXPECT_NPZ_ERROR(p, NULL, "is truncated: the ZIP archive has no end-of-central-directory record");
    /* a directory offset past the end */
    char *end = bytes + n - 22;
    end[16] = (char)0xff;
    spit(p, bytes, n);
    EXPECT_NPZ_ERROR(p, NULL, "its central directory");
    free(bytes);

    /* a corrupt deflate stream */
    bytes = slurp(fx("savez_compressed.npz"), &n);
    hit = memmem(bytes, n, "E.r.npy", 7);
    for (int k = 27; k < 60; k++)
        hit[k] ^= 0x33;
    spit(p, bytes, n);
    EXPECT_NPZ_ERROR(p, "E.r", "is corrupt");
    free(bytes);

    EXPECT_NPZ_ERROR(fx("f8_r2.npy"), NULL, "is not a .npz archive");
    spit(p, "", 0);
    EXPECT_NPZ_ERROR(p, NULL, "is not a .npz archive: the file is empty");
    EXPECT_NPZ_ERROR(tmp("missing.npz"), NULL, "cannot open");
    EXPECT_NPZ_ERROR(tmpdir, NULL, "it is a directory");
}

/* ---- Atomic writes ---------------------------------------------------------------- */

static void test_atomic(void)
{
    const char *p = tmp("keep.npy");
    Diags d;
    diags_init(&d);
    Tensor *small = sample(1, 4, 1, 1, 1, 2.0);
    Tensor *big = sample(2, 1000, 100, 1, 1, 3.0);
    CHECK(npy_save(p, small, &d, span_none()));
    size_t n0;
    char *before = slurp(p, &n0);

    /* a write that runs out of room (RLIMIT_FSIZE, which root obeys too) */
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 64 * 1024;
    signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    CHECK(!npy_save(p, big, &d, span_none()));
    CHECK(has_error(&d, "cannot write"));
    CHECK(has_error(&d, "file too large"));
    NpzWriter *w = npz_writer_new(p, &d, span_none());
    CHECK(w != NULL);
    npz_writer_add(w, "a", small, &d, span_none());
    npz_writer_add(w, "b", big, &d, span_none());
    CHECK(!npz_writer_commit(w, &d, span_none()));
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, SIG_DFL);
    size_t n1;
    char *after = slurp(p, &n1);
    CHECK(after && n0 == n1 && memcmp(before, after, n0) == 0);
    CHECK_INT(temporaries(), 0);
    free(after);

    /* an aborted archive leaves the old file */
    w = npz_writer_new(p, &d, span_none());
    npz_writer_add(w, "a", big, &d, span_none());
    npz_writer_abort(w);
    after = slurp(p, &n1);
    CHECK(after && n0 == n1 && memcmp(before, after, n0) == 0);
    CHECK_INT(temporaries(), 0);
    free(after);
    free(before);

    diags_clear(&d);
    CHECK(!npy_save(tmpdir, small, &d, span_none()));
    CHECK(has_error(&d, "it is a directory"));
    CHECK(!npy_save(tmp("no/such/dir.npy"), small, &d, span_none()));
    CHECK(has_error(&d, "no/such/dir.npy': no such file or directory"));
    tensor_free(small);
    tensor_free(big);
    diags_fini(&d);
}

static void cleanup(void)
{
    DIR *dir = opendir(tmpdir);
    struct dirent *e;
    while (dir && (e = readdir(dir)))
        if (e->d_name[0] != '.')
            unlink(tmp(e->d_name));
    if (dir)
        closedir(dir);
    rmdir(tmpdir);
}

int main(void)
{
#ifdef CAJAL_SRCDIR
    fixtures = CAJAL_SRCDIR "/fixtures/npy";
#else
    fixtures = "fixtures/npy";
#endif
    if (getenv("CAJAL_FIXTURES"))
        fixtures = getenv("CAJAL_FIXTURES");
    strcpy(tmpdir, "/tmp/cajal_test_npy_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    test_read_fixtures();
    test_fixture_errors();
    test_same_bytes_as_numpy();
    test_npz_round_trip();
    test_npz_numpy_archives();
    test_npy_errors();
    test_npz_errors();
    test_atomic();
    cleanup();
    return check_done("test_io_npy");
}
