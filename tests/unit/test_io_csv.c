/* test_io_csv.c: CSV tables: round trips of every rank to the bit, the header and
 * comment rules, every error message, and garbage that must not crash. */
#include "check.h"
#include "fileio.h"
#include "io_csv.h"
#include "tensor.h"

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

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

static void spit(const char *path, const char *text, size_t n)
{
    FILE *fp = fopen(path, "wb");
    fwrite(text, 1, n, fp);
    fclose(fp);
}

static char *slurp(const char *path)
{
    Diags d;
    diags_init(&d);
    size_t n;
    char *s = fileio_read_all(path, 1 << 24, &n, &d, span_none());
    diags_fini(&d);
    return s;
}

static Tensor *make(int rank, int64_t d0, int64_t d1, int64_t d2, const char *name)
{
    int64_t dim[4] = { d0, d1, d2, 1 };
    Diags d;
    diags_init(&d);
    Tensor *t = tensor_new(name, rank, dim, &d, span_none());
    diags_fini(&d);
    for (int64_t i = 0; i < t->size; i++)
        t->data[i] = (real)(cos(1.0 + (double)i) * pow(10.0, (double)(i % 13) - 6));
    return t;
}

/* Reads text from a file; on failure prints the errors and returns false. */
static bool read_text(const char *text, CsvTable *out, Diags *d)
{
    spit(tmp("in.csv"), text, strlen(text));
    return csv_read(tmp("in.csv"), out, d, span_none());
}

static void test_round_trip(void)
{
    Diags d;
    diags_init(&d);
    struct { int rank; int64_t d0, d1, d2; int64_t rows, cols; const char *header; } cases[] = {
        { 0, 1, 1, 1, 1, 1, "W\n" },
        { 1, 7, 1, 1, 7, 1, "W\n" },
        { 2, 5, 3, 1, 5, 3, "W[0],W[1],W[2]\n" },
        { 3, 4, 2, 3, 8, 5, "t,b,W[0],W[1],W[2]\n" },
        { 2, 0, 3, 1, 0, 3, "W[0],W[1],W[2]\n" },
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        Tensor *t = make(cases[c].rank, cases[c].d0, cases[c].d1, cases[c].d2, "W");
        CHECK(csv_write(tmp("rt.csv"), t, NULL, &d, span_none()));
        char *text = slurp(tmp("rt.csv"));
        CHECK(text && strncmp(text, cases[c].header, strlen(cases[c].header)) == 0);
        free(text);
        CsvTable tab;
        if (!CHECK(csv_read(tmp("rt.csv"), &tab, &d, span_none()))) {
            diags_print(&d, stderr, false);
            tensor_free(t);
            continue;
        }
        CHECK_INT(tab.t->rank, 2);
        CHECK_INT(tab.t->dim[0], cases[c].rows);
        CHECK_INT(tab.t->dim[1], cases[c].cols);
        CHECK_INT(tab.cols, cases[c].cols);
        CHECK(tab.names != NULL);
        int64_t lead = cases[c].rank == 3 ? 2 : 0, vc = cases[c].cols - lead, bad = 0;
        for (int64_t r = 0; r < cases[c].rows; r++) {
            if (lead) {
                bad += tab.t->data[r * cases[c].cols] != (real)(r / cases[c].d1);
                bad += tab.t->data[r * cases[c].cols + 1] != (real)(r % cases[c].d1);
            }
            for (int64_t k = 0; k < vc; k++)
                bad += tab.t->data[r * cases[c].cols + lead + k] != t->data[r * vc + k];
        }
        CHECK_INT(bad, 0);
        if (cases[c].rank == 3) {
            CHECK_STR(tab.names[0], "t");
            CHECK_STR(tab.names[4], "W[2]");
        }
        csv_table_fini(&tab);
        tensor_free(t);
    }
    CHECK_INT(d.errors, 0);

    /* names given, with characters that need quoting; special values */
    Tensor *t = make(2, 2, 4, 1, NULL);
    t->data[0] = (real)-0.0;
    t->data[1] = (real)INFINITY;
    t->data[2] = (real)-INFINITY;
    t->data[3] = (real)NAN;
    t->data[4] = (real)1e-300;
    const char *names[] = { "a, b", "say \"hi\"", " padded ", "#hash" };
    CHECK(csv_write(tmp("names.csv"), t, names, &d, span_none()));
    CsvTable tab;
    if (CHECK(csv_read(tmp("names.csv"), &tab, &d, span_none()))) {
        for (int k = 0; k < 4; k++)
            CHECK_STR(tab.names[k], names[k]);
        CHECK(signbit(tab.t->data[0]) && tab.t->data[0] == 0);
        CHECK(isinf(tab.t->data[1]) && tab.t->data[1] > 0);
        CHECK(isinf(tab.t->data[2]) && tab.t->data[2] < 0);
        CHECK(isnan(tab.t->data[3]));
        CHECK(tab.t->data[4] == t->data[4]);
        csv_table_fini(&tab);
    }
    /* unnamed 1-D tensors get "x" */
    Tensor *v = make(1, 3, 1, 1, NULL);
    CHECK(csv_write(tmp("x.csv"), v, NULL, &d, span_none()));
    char *text = slurp(tmp("x.csv"));
    CHECK(text && strncmp(text, "x\n", 2) == 0);
    free(text);
    tensor_free(v);

    Tensor *four = make(4, 1, 1, 1, "R");
    CHECK(!csv_write(tmp("four.csv"), four, NULL, &d, span_none()));
    CHECK(has_error(&d, "up to 3 dimensions"));
    CHECK(!csv_write(tmpdir, t, NULL, &d, span_none()));
    CHECK(has_error(&d, "it is a directory"));
    CHECK(!csv_write(tmp("none/x.csv"), t, NULL, &d, span_none()));
    CHECK(has_error(&d, "no such file or directory"));
    tensor_free(four);
    tensor_free(t);
    diags_fini(&d);
}

static void test_reading_rules(void)
{
    Diags d;
    diags_init(&d);
    CsvTable tab;
    /* no header; comments, blank lines, CRLF, BOM, spaces, quoted numbers */
    const char *text = "\xEF\xBB\xBF# a comment\r\n\r\n 1, 2.5 ,-3e2\r\n   \n  # indented comment\n"
                       "4,\"5\",6\n7,8,nan";
    if (CHECK(read_text(text, &tab, &d))) {
        CHECK(tab.names == NULL);
        CHECK_INT(tab.t->dim[0], 3);
        CHECK_INT(tab.t->dim[1], 3);
        CHECK_NEAR(tab.t->data[1], 2.5, 0);
        CHECK_NEAR(tab.t->data[2], -300, 0);
        CHECK_NEAR(tab.t->data[4], 5, 0);
        CHECK(isnan(tab.t->data[8]));
        csv_table_fini(&tab);
    }
    /* a header: any non-number in the first row */
    if (CHECK(read_text("time,v\n0,1\n", &tab, &d))) {
        CHECK_STR(tab.names[0], "time");
        CHECK_STR(tab.names[1], "v");
        CHECK_INT(tab.t->dim[0], 1);
        csv_table_fini(&tab);
    }
    if (CHECK(read_text("1,b,3\n", &tab, &d))) {
        CHECK(tab.names != NULL);
        CHECK_INT(tab.t->dim[0], 0);
        CHECK_INT(tab.t->dim[1], 3);
        csv_table_fini(&tab);
    }
    CHECK_INT(d.errors, 0);

    /* errors name file, line and column */
    CHECK(!read_text("a,b,c,d\n1,2,3,4\n\n# c\n1,2,3,4\n\n1,2,3\n", &tab, &d));
    CHECK(has_error(&d, "line 7 has 3 fields, expected 4 (as on line 1)"));
    CHECK(has_error(&d, "in.csv"));
    CHECK(tab.t == NULL);
    diags_clear(&d);
    CHECK(!read_text("1,2\n3,abc\n", &tab, &d));
    CHECK(has_error(&d, "line 2, column 2: 'abc' is not a number"));
    diags_clear(&d);
    CHECK(!read_text("x,y\n1,2\n3,\n", &tab, &d));
    CHECK(has_error(&d, "line 3, column 2 ('y') is empty, expected a number"));
    diags_clear(&d);
    CHECK(!read_text("1,,3\n", &tab, &d));
    CHECK(has_error(&d, "line 1, column 2 is empty"));
    diags_clear(&d);
    CHECK(!read_text("\"a,b\n1\n", &tab, &d));
    CHECK(has_error(&d, "line 1, column 1: unterminated quote"));
    diags_clear(&d);
    CHECK(!read_text("\"a\"x,b\n1,2\n", &tab, &d));
    CHECK(has_error(&d, "text after a closing quote"));
    diags_clear(&d);
    CHECK(!read_text("1,2\n3,4\x01\n", &tab, &d));
    CHECK(has_error(&d, "'4?' is not a number"));
    diags_clear(&d);
    spit(tmp("nul.csv"), "1,2\n3,4\0\n", 9);
    CHECK(!csv_read(tmp("nul.csv"), &tab, &d, span_none()));
    CHECK(has_error(&d, "line 2, column 2"));
    diags_clear(&d);
    CHECK(!read_text("", &tab, &d));
    CHECK(has_error(&d, "has no rows: expected a table of numbers"));
    diags_clear(&d);
    CHECK(!read_text("# only\n\n   \n", &tab, &d));
    CHECK(has_error(&d, "has no rows"));
    diags_clear(&d);

    /* at most 10 errors, then a note */
    char many[4096] = "a,b\n";
    for (int k = 0; k < 50; k++)
        strcat(many, "1,x\n");
    CHECK(!read_text(many, &tab, &d));
    CHECK_INT(d.errors, 10);
    diags_clear(&d);

    /* a long cell is shown shortened */
    char longcell[2000] = "1,2\n1,";
    memset(longcell + 6, 'z', 1500);
    CHECK(!read_text(longcell, &tab, &d));
    CHECK(has_error(&d, "zzz...' is not a number"));
    diags_clear(&d);

    int64_t old = csv_max_bytes;
    csv_max_bytes = 8;
    CHECK(!read_text("1,2,3\n4,5,6\n", &tab, &d));
    CHECK(has_error(&d, "larger than the limit of 8 bytes"));
    csv_max_bytes = old;
    diags_clear(&d);

    CHECK(!csv_read(tmp("missing.csv"), &tab, &d, span_none()));
    CHECK(has_error(&d, "cannot open"));
    CHECK(has_error(&d, "missing.csv': no such file"));
    CHECK(!csv_read(tmpdir, &tab, &d, span_none()));
    CHECK(has_error(&d, "it is a directory, not a file"));
    diags_fini(&d);
}

/* Cut a file at every byte, then feed it pseudo-random bytes: never a crash,
 * and success exactly when no error was reported. */
static void test_garbage(void)
{
    const char *text = "# rec\nt,\"b \"\"x\"\"\",v\n0,1,2.5\n1,0,-1e-3\r\n\n2,1,inf\n";
    size_t n = strlen(text);
    int consistent = 0, runs = 0;
    for (size_t cut = 0; cut <= n; cut++) {
        spit(tmp("g.csv"), text, cut);
        Diags d;
        diags_init(&d);
        CsvTable tab;
        bool ok = csv_read(tmp("g.csv"), &tab, &d, span_none());
        consistent += ok == (d.errors == 0);
        runs++;
        if (ok)
            csv_table_fini(&tab);
        diags_fini(&d);
    }
    uint32_t x = 12345;
    const char alphabet[] = "0123456789.,-+eE\"\n\r #abnif\t\x00\xff";
    for (int trial = 0; trial < 300; trial++) {
        char buf[200];
        size_t len = (size_t)(trial % 199) + 1;
        for (size_t i = 0; i < len; i++) {
            x = x * 1664525u + 1013904223u;
            buf[i] = alphabet[(x >> 16) % (sizeof alphabet - 1)];
        }
        spit(tmp("g.csv"), buf, len);
        Diags d;
        diags_init(&d);
        CsvTable tab;
        bool ok = csv_read(tmp("g.csv"), &tab, &d, span_none());
        consistent += ok == (d.errors == 0);
        runs++;
        if (ok)
            csv_table_fini(&tab);
        diags_fini(&d);
    }
    CHECK_INT(consistent, runs);
}

int main(void)
{
    strcpy(tmpdir, "/tmp/cajal_test_csv_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    test_round_trip();
    test_reading_rules();
    test_garbage();
    const char *files[] = { "rt.csv", "names.csv", "x.csv", "in.csv", "nul.csv", "g.csv" };
    for (size_t k = 0; k < sizeof files / sizeof *files; k++)
        unlink(tmp(files[k]));
    rmdir(tmpdir);
    return check_done("test_io_csv");
}
