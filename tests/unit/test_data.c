/* test_data.c: data sets from crafted files. IDX images and labels written here
 * (plain and gzip'd through zlib), text, .npz (through the npz writer), .npy and
 * CSV (tests/data/): shapes, one-hot targets, masks, split sizes, shuffle and
 * batch determinism, epoch coverage, the unigram baseline worked by hand, every
 * error path. With Debian's dataset-fashion-mnist installed, the first 100
 * training images are read as rows too; without it that check says "skipped". */
#include "check.h"
#include "data.h"
#include "io_npy.h"
#include "tensor.h"

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

static char tmpdir[64];

static const char *tmp(const char *name)
{
    static char buf[8][256];
    static int k;
    char *b = buf[k++ % 8];
    snprintf(b, sizeof buf[0], "%s/%s", tmpdir, name);
    return b;
}

/* tests/data/NAME, found beside this file (the suite runs from the top). */
static const char *fixture(const char *name)
{
    static char buf[4][512];
    static int k;
    char *b = buf[k++ % 4];
    const char *f = __FILE__, *slash = strrchr(f, '/');
    int dir = slash ? (int)(slash - f) : 0;
    /* __FILE__ is .../tests/unit/test_data.c: go up from unit/ to data/ */
    snprintf(b, sizeof buf[0], "%.*s/../data/%s", dir, f, name);
    if (!slash)
        snprintf(b, sizeof buf[0], "../data/%s", name);
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

static void spit(const char *path, const void *p, size_t n, int gz)
{
    if (gz) {
        gzFile g = gzopen(path, "wb");
        if (n)
            gzwrite(g, p, (unsigned)n);
        gzclose(g);
    } else {
        FILE *fp = fopen(path, "wb");
        fwrite(p, 1, n, fp);
        fclose(fp);
    }
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Pixel i of image k: k in the first pixel, so a batch column says which
 * example it holds. */
static unsigned char pixel(int k, int i) { return (unsigned char)(i == 0 ? k : (k * 7 + i * 13) % 256); }
static int label(int k) { return (k * 3) % 5; }

/* N images [rows, cols] of u8 and their N labels (n_labels of them). */
static void write_idx(const char *images, const char *labels, int N, int n_labels, int rows, int cols, int gz)
{
    size_t n = 16 + (size_t)N * rows * cols;
    unsigned char *b = malloc(n);
    put32(b, 0x00000803);
    put32(b + 4, (uint32_t)N);
    put32(b + 8, (uint32_t)rows);
    put32(b + 12, (uint32_t)cols);
    for (int k = 0; k < N; k++)
        for (int i = 0; i < rows * cols; i++)
            b[16 + (size_t)k * rows * cols + i] = pixel(k, i);
    spit(images, b, n, gz);
    free(b);
    unsigned char *l = malloc(8 + (size_t)n_labels);
    put32(l, 0x00000801);
    put32(l + 4, (uint32_t)n_labels);
    for (int k = 0; k < n_labels; k++)
        l[8 + k] = (unsigned char)label(k);
    spit(labels, l, 8 + (size_t)n_labels, gz);
    free(l);
}

static SourceFile *decl;

/* Spans into a fake declaration, so errors can be checked for their place. */
static Span span_at(uint32_t off, uint32_t len) { return (Span){ decl, off, len }; }

static DataArg str_arg(const char *name, const char *s, Span at)
{
    return (DataArg){ .name = name, .value = { .kind = V_STR, .str = s }, .span = at };
}

static DataArg num_arg(const char *name, double x, Span at)
{
    return (DataArg){ .name = name, .value = { .kind = V_NUM, .num = x }, .span = at };
}

static DataClauses clauses(void) { return (DataClauses){ .scale = 1 }; }

static DataClauses with_split(double f)
{
    DataClauses c = clauses();
    c.has_split = true;
    c.split = f;
    c.split_span = span_at(40, 9);
    return c;
}

static DataSet *open_idx(const char *images, const char *labels, const DataClauses *cl, uint64_t seed, Diags *d)
{
    DataArg a[2] = { str_arg("images", images, span_at(10, 8)), str_arg("labels", labels, span_at(20, 8)) };
    return data_open("fm", "idx", a, 2, cl, seed, d, span_at(0, 60));
}

static real at3(const Tensor *t, int64_t i, int64_t j, int64_t k)
{
    return t->data[(i * t->dim[1] + j) * t->dim[2] + k];
}

/* Which example a batch column holds, by its first pixel (scale 1). */
static int example_of(const Tensor *in, int64_t b) { return (int)at3(in, 0, b, 0); }

/* ---- idx ------------------------------------------------------------------ */

static void test_idx_rows(int gz)
{
    const char *im = tmp(gz ? "im.gz" : "im"), *lb = tmp(gz ? "lb.gz" : "lb");
    write_idx(im, lb, 10, 10, 3, 4, gz);
    Diags d;
    diags_init(&d);
    DataClauses cl = clauses();
    cl.as = DATA_AS_ROWS;
    cl.has_scale = true;
    cl.scale = 1.0 / 255;
    DataSet *ds = open_idx(im, lb, &cl, 1, &d);
    CHECK(ds != NULL);
    CHECK_INT(d.errors, 0);
    if (!ds) {
        diags_fini(&d);
        return;
    }
    const DataInfo *f = data_info(ds);
    CHECK_INT(f->kind, DATA_IMAGES);
    CHECK_INT(f->T, 3);
    CHECK_INT(f->n_in, 4);
    CHECK_INT(f->n_out, 5);           /* labels 0..4 */
    CHECK_INT(f->classes, 5);
    CHECK_INT(f->count[DATA_TRAIN], 10);
    CHECK_INT(f->count[DATA_TEST], 0);
    char buf[200];
    CHECK_STR(data_describe(ds, buf, sizeof buf), "idx: 10 training and 0 test sequences of 3 steps x 4 inputs, 5 classes");

    /* in order over the training part: column b is image b, row t at step t */
    Tensor *in = NULL, *tg = NULL, *mk = NULL;
    DataIter it = data_iter(ds, DATA_TRAIN, 4);
    int64_t seen = 0, B;
    while ((B = data_eval_next(&it, &in, &tg, &mk, &d, span_none())) > 0) {
        CHECK_INT(in->dim[0], 3);
        CHECK_INT(in->dim[1], B);
        CHECK_INT(in->dim[2], 4);
        CHECK_INT(tg->dim[2], 5);
        CHECK_INT(mk->dim[2], 5);
        for (int64_t b = 0; b < B; b++) {
            int k = (int)(seen + b);
            int bad = 0;
            for (int t = 0; t < 3; t++)
                for (int j = 0; j < 4; j++)
                    bad += fabs(at3(in, t, b, j) - pixel(k, t * 4 + j) / 255.0) > 1e-6;
            CHECK_INT(bad, 0);
            for (int t = 0; t < 3; t++)
                for (int j = 0; j < 5; j++) {
                    double want = t == 2 && j == label(k) ? 1 : 0;
                    bad += at3(tg, t, b, j) != want;
                    bad += at3(mk, t, b, j) != (t == 2 ? 1 : 0);
                }
            CHECK_INT(bad, 0);
        }
        seen += B;
    }
    CHECK_INT(B, 0);
    CHECK_INT(seen, 10);
    CHECK_INT(in->dim[1], 2);          /* the last batch: 10 = 4 + 4 + 2 */

    /* the series view: [T, N, n_in], file order */
    Tensor *u = data_series(ds, &d, span_none());
    CHECK(u && u->dim[0] == 3 && u->dim[1] == 10 && u->dim[2] == 4);
    if (u)
        CHECK_NEAR(at3(u, 1, 7, 2), pixel(7, 6) / 255.0, 1e-6);
    tensor_free(u);
    tensor_free(in);
    tensor_free(tg);
    tensor_free(mk);
    data_free(ds);
    CHECK_INT(d.errors, 0);
    diags_fini(&d);
}

static void test_idx_pixels(void)
{
    const char *im = tmp("pim"), *lb = tmp("plb");
    write_idx(im, lb, 6, 6, 3, 4, 0);
    Diags d;
    diags_init(&d);
    DataClauses cl = clauses();
    cl.as = DATA_AS_PIXELS;
    DataSet *ds = open_idx(im, lb, &cl, 1, &d);
    CHECK(ds != NULL);
    if (!ds)
        return;
    CHECK_INT(data_info(ds)->T, 12);
    CHECK_INT(data_info(ds)->n_in, 1);
    Tensor *in = NULL, *tg = NULL, *mk = NULL;
    DataIter it = data_iter(ds, DATA_TRAIN, 6);
    CHECK_INT(data_eval_next(&it, &in, &tg, &mk, &d, span_none()), 6);
    int bad = 0;
    for (int t = 0; t < 12; t++)
        bad += at3(in, t, 5, 0) != pixel(5, t);
    CHECK_INT(bad, 0);
    CHECK(at3(tg, 11, 5, label(5)) == 1 && at3(tg, 10, 5, label(5)) == 0);
    CHECK(at3(mk, 11, 5, 0) == 1 && at3(mk, 0, 5, 0) == 0);
    CHECK_INT(data_eval_next(&it, &in, &tg, &mk, &d, span_none()), 0);
    tensor_free(in);
    tensor_free(tg);
    tensor_free(mk);
    data_free(ds);
    diags_fini(&d);
}

/* The examples of the test part, in order, as their indices. */
static int part(DataSet *ds, DataSplit which, int *out)
{
    Diags d;
    diags_init(&d);
    Tensor *in = NULL, *tg = NULL, *mk = NULL;
    DataIter it = data_iter(ds, which, 3);
    int n = 0;
    int64_t B;
    while ((B = data_eval_next(&it, &in, &tg, &mk, &d, span_none())) > 0)
        for (int64_t b = 0; b < B; b++)
            out[n++] = example_of(in, b);
    tensor_free(in);
    tensor_free(tg);
    tensor_free(mk);
    diags_fini(&d);
    return n;
}

static void test_idx_split_shuffle(void)
{
    const char *im = tmp("sim.gz"), *lb = tmp("slb.gz");
    write_idx(im, lb, 20, 20, 2, 2, 1);
    Diags d;
    diags_init(&d);
    DataClauses cl = with_split(0.75);
    DataSet *plain = open_idx(im, lb, &cl, 7, &d);
    cl.shuffle = true;
    DataSet *a = open_idx(im, lb, &cl, 7, &d), *b = open_idx(im, lb, &cl, 7, &d), *c = open_idx(im, lb, &cl, 8, &d);
    CHECK(plain && a && b && c);
    if (!plain || !a || !b || !c)
        return;
    CHECK_INT(data_info(a)->count[DATA_TRAIN], 15);
    CHECK_INT(data_info(a)->count[DATA_TEST], 5);
    int p[20], x[20], y[20], z[20];
    CHECK_INT(part(plain, DATA_TRAIN, p), 15);
    CHECK_INT(part(plain, DATA_TEST, p + 15), 5);
    int bad = 0;
    for (int k = 0; k < 20; k++)
        bad += p[k] != k;              /* no shuffle: file order, the first 75% train */
    CHECK_INT(bad, 0);
    part(a, DATA_TRAIN, x);
    part(a, DATA_TEST, x + 15);
    part(b, DATA_TRAIN, y);
    part(b, DATA_TEST, y + 15);
    part(c, DATA_TRAIN, z);
    part(c, DATA_TEST, z + 15);
    CHECK(memcmp(x, y, sizeof x) == 0);   /* same seed, same split */
    CHECK(memcmp(x, z, sizeof x) != 0);   /* another seed, another */
    CHECK(memcmp(x, p, sizeof x) != 0);
    int count[20] = { 0 };
    for (int k = 0; k < 20; k++)
        count[x[k]]++;
    bad = 0;
    for (int k = 0; k < 20; k++)
        bad += count[k] != 1;          /* a permutation: the parts do not overlap */
    CHECK_INT(bad, 0);
    data_free(plain);
    data_free(a);
    data_free(b);
    data_free(c);
    CHECK_INT(d.errors, 0);
    diags_fini(&d);
}

static void test_idx_limit(void)
{
    const char *im = tmp("lim.gz"), *lb = tmp("llb.gz");
    write_idx(im, lb, 30, 30, 2, 3, 1);
    Diags d;
    diags_init(&d);
    DataClauses cl = clauses();
    cl.limit = 8;
    DataSet *ds = open_idx(im, lb, &cl, 1, &d);
    CHECK(ds && data_info(ds)->count[DATA_TRAIN] == 8);
    data_free(ds);
    /* a "limit" argument (if builtins.def gives idx one) does the same */
    DataArg a[3] = { str_arg("images", im, span_at(10, 8)), str_arg("labels", lb, span_at(20, 8)),
                     num_arg("limit", 5, span_at(30, 4)) };
    cl = with_split(0.6);
    ds = data_open("fm", "idx", a, 3, &cl, 1, &d, span_at(0, 60));
    CHECK(ds && data_info(ds)->count[DATA_TRAIN] == 3 && data_info(ds)->count[DATA_TEST] == 2);
    data_free(ds);
    CHECK_INT(d.errors, 0);
    a[2] = num_arg("limit", 2.5, span_at(30, 4));
    CHECK(data_open("fm", "idx", a, 3, &cl, 1, &d, span_at(0, 60)) == NULL);
    CHECK(has_error(&d, "idx's 'limit' is a whole number"));
    diags_fini(&d);

    /* counts that disagree are found even when the limit reads less than both */
    write_idx(im, lb, 30, 29, 2, 3, 1);
    diags_init(&d);
    cl = clauses();
    cl.limit = 8;
    CHECK(open_idx(im, lb, &cl, 1, &d) == NULL);
    CHECK(has_error(&d, "'labels' has 29 labels but 'images' has 30 images"));
    diags_fini(&d);
}

/* ---- batches ---------------------------------------------------------------- */

static void test_batches(void)
{
    const char *im = tmp("bim"), *lb = tmp("blb");
    write_idx(im, lb, 10, 10, 2, 2, 0);
    Diags d;
    diags_init(&d);
    DataClauses cl = with_split(0.7);
    cl.shuffle = true;
    DataSet *ds = open_idx(im, lb, &cl, 3, &d), *ds2 = open_idx(im, lb, &cl, 3, &d);
    CHECK(ds && ds2);
    if (!ds || !ds2)
        return;
    int train[7];
    CHECK_INT(part(ds, DATA_TRAIN, train), 7);
    int in_train[10] = { 0 };
    for (int k = 0; k < 7; k++)
        in_train[train[k]] = 1;

    /* 7 batches of 3 = 21 draws = 3 epochs of 7: each epoch visits every
     * training example once, and nothing else */
    Rng r, r2;
    rng_seed(&r, 99);
    rng_seed(&r2, 99);
    Tensor *in = NULL, *tg = NULL, *mk = NULL, *in2 = NULL, *tg2 = NULL, *mk2 = NULL;
    int seq[21], seq2[21], n = 0;
    Tensor *first = NULL;
    int reused = 1;
    for (int s = 0; s < 7; s++) {
        CHECK(data_batch(ds, DATA_TRAIN, &r, 3, &in, &tg, &mk, &d, span_none()));
        CHECK(data_batch(ds2, DATA_TRAIN, &r2, 3, &in2, &tg2, &mk2, &d, span_none()));
        if (!first)
            first = in;
        reused &= in == first;
        for (int b = 0; b < 3; b++, n++) {
            seq[n] = example_of(in, b);
            seq2[n] = example_of(in2, b);
            /* the target follows its image */
            CHECK(at3(tg, 1, b, label(seq[n])) == 1);
        }
    }
    CHECK(reused);                                    /* refilled in place */
    CHECK(memcmp(seq, seq2, sizeof seq) == 0);         /* same rng, same batches */
    int bad = 0;
    for (int e = 0; e < 3; e++) {
        int hits[10] = { 0 };
        for (int k = 0; k < 7; k++)
            hits[seq[e * 7 + k]]++;
        for (int k = 0; k < 10; k++)
            bad += hits[k] != in_train[k];
    }
    CHECK_INT(bad, 0);
    int same_epochs = memcmp(seq, seq + 7, 7 * sizeof *seq) == 0 && memcmp(seq, seq + 14, 7 * sizeof *seq) == 0;
    CHECK(!same_epochs);                              /* each epoch reshuffled */

    /* the rng moves only at epoch starts: 3 epochs = 3 shuffles of 7 */
    Rng expect;
    rng_seed(&expect, 99);
    for (int e = 0; e < 3; e++)
        for (int k = 6; k > 0; k--)
            rng_below(&expect, (uint64_t)k + 1);
    CHECK(memcmp(&expect, &r, sizeof r) == 0);

    /* a cursor saved mid-epoch resumes the same batches in a fresh set */
    DataCursor cur = data_cursor(ds, DATA_TRAIN);
    Rng saved = r;
    CHECK_INT(cur.epoch, 3);
    CHECK_INT(cur.pos, 7);                            /* the next draw starts epoch 4 */
    CHECK(data_batch(ds, DATA_TRAIN, &r, 5, &in, &tg, &mk, &d, span_none()));
    cur = data_cursor(ds, DATA_TRAIN);
    saved = r;
    int after[9];
    for (int s = 0; s < 3; s++) {
        CHECK(data_batch(ds, DATA_TRAIN, &r, 3, &in, &tg, &mk, &d, span_none()));
        for (int b = 0; b < 3; b++)
            after[s * 3 + b] = example_of(in, b);
    }
    DataSet *ds3 = open_idx(im, lb, &cl, 3, &d);
    CHECK(data_cursor_restore(ds3, DATA_TRAIN, &cur, &d, span_none()));
    int again[9];
    for (int s = 0; s < 3; s++) {
        CHECK(data_batch(ds3, DATA_TRAIN, &saved, 3, &in, &tg, &mk, &d, span_none()));
        for (int b = 0; b < 3; b++)
            again[s * 3 + b] = example_of(in, b);
    }
    CHECK(memcmp(after, again, sizeof after) == 0);
    DataCursor wrong = cur;
    wrong.pos = 8;
    CHECK(!data_cursor_restore(ds3, DATA_TRAIN, &wrong, &d, span_none()));
    CHECK(has_error(&d, "does not fit its 7 training examples"));
    d.errors = 0;
    diags_clear(&d);

    /* random test batches too; batch 0 and an empty part are errors */
    CHECK(data_batch(ds, DATA_TEST, &r, 4, &in, &tg, &mk, &d, span_none()));
    CHECK_INT(in->dim[1], 4);
    CHECK(!data_batch(ds, DATA_TRAIN, &r, 0, &in, &tg, &mk, &d, span_none()));
    CHECK(in == NULL && tg == NULL && mk == NULL);
    CHECK(has_error(&d, "batch must be at least 1"));
    DataSet *all = open_idx(im, lb, NULL, 3, &d);
    CHECK(!data_batch(all, DATA_TEST, &r, 4, &in, &tg, &mk, &d, span_none()));
    CHECK(has_error(&d, "data set 'fm' has no test examples"));
    DataIter it = data_iter(all, DATA_TEST, 4);
    CHECK_INT(data_eval_next(&it, &in, &tg, &mk, &d, span_none()), -1);

    tensor_free(in);
    tensor_free(tg);
    tensor_free(mk);
    tensor_free(in2);
    tensor_free(tg2);
    tensor_free(mk2);
    data_free(ds);
    data_free(ds2);
    data_free(ds3);
    data_free(all);
    diags_fini(&d);
}

/* ---- text ----------------------------------------------------------------- */

static DataSet *open_text(const char *path, double seq, double split, const DataClauses *cl, Diags *d)
{
    DataArg a[3] = { str_arg("path", path, span_at(10, 8)), num_arg("seq", seq, span_at(20, 7)),
                     num_arg("split", split, span_at(30, 9)) };
    return data_open("t", "text", a, 3, cl, 1, d, span_at(0, 60));
}

static int onehot_at(const Tensor *t, int64_t s, int64_t b)
{
    int hot = -1, ones = 0;
    for (int64_t j = 0; j < t->dim[2]; j++)
        if (at3(t, s, b, j) != 0) {
            hot = (int)j;
            ones += at3(t, s, b, j) == 1;
        }
    return ones == 1 ? hot : hot < 0 ? -1 : -2;
}

static void test_text(void)
{
    /* "aababbaacb", split 0.6: training "aababb", held out "aacb" */
    const char *path = fixture("tiny.txt");
    Diags d;
    diags_init(&d);
    DataClauses cl = clauses();
    DataSet *ds = open_text(path, 2, 0.6, &cl, &d);
    CHECK(ds != NULL);
    if (!ds) {
        fprintf(stderr, "  (reading %s)\n", path);
        diags_print(&d, stderr, false);
        return;
    }
    const DataInfo *f = data_info(ds);
    CHECK_INT(f->kind, DATA_TEXT);
    CHECK_INT(f->T, 2);
    CHECK_INT(f->n_in, 3);
    CHECK_INT(f->n_out, 3);
    CHECK_INT(f->count[DATA_TRAIN], 4);        /* offsets 0..3 of "aababb" */
    CHECK_INT(f->count[DATA_TEST], 2);         /* "aa" -> "ac", "c" -> "b" */
    CHECK_INT(data_char_index(ds, 'a'), 0);
    CHECK_INT(data_char_index(ds, 'b'), 1);
    CHECK_INT(data_char_index(ds, 'c'), 2);
    CHECK_INT(data_char_index(ds, 'z'), -1);
    CHECK_INT(data_index_char(ds, 2), 'c');
    CHECK_INT(data_index_char(ds, 3), -1);
    /* training counts a:3 b:3 c:0, V = 3: p(a) = p(b) = 4/9, p(c) = 1/9;
     * predicted held-out characters a, c, b: ppl = (9 * 9 * 9 / (4 * 1 * 4))^(1/3) */
    CHECK_NEAR(data_unigram_perplexity(ds), pow(729.0 / 16, 1.0 / 3), 1e-12);

    const char *text = "aababbaacb";
    Tensor *in = NULL, *tg = NULL, *mk = NULL;
    DataIter it = data_iter(ds, DATA_TRAIN, 8);
    CHECK_INT(data_eval_next(&it, &in, &tg, &mk, &d, span_none()), 4);
    int bad = 0;
    for (int b = 0; b < 4; b++)
        for (int s = 0; s < 2; s++) {
            bad += onehot_at(in, s, b) != data_char_index(ds, text[b + s]);
            bad += onehot_at(tg, s, b) != data_char_index(ds, text[b + s + 1]);
            for (int j = 0; j < 3; j++)
                bad += at3(mk, s, b, j) != 1;
        }
    CHECK_INT(bad, 0);
    it = data_iter(ds, DATA_TEST, 8);
    CHECK_INT(data_eval_next(&it, &in, &tg, &mk, &d, span_none()), 2);
    CHECK_INT(onehot_at(in, 0, 0), 0);
    CHECK_INT(onehot_at(in, 1, 0), 0);
    CHECK_INT(onehot_at(tg, 0, 0), 0);
    CHECK_INT(onehot_at(tg, 1, 0), 2);
    CHECK_INT(onehot_at(in, 0, 1), 2);
    CHECK_INT(onehot_at(tg, 0, 1), 1);
    CHECK_INT(onehot_at(in, 1, 1), -1);        /* past the end: empty and masked */
    CHECK_INT(onehot_at(tg, 1, 1), -1);
    CHECK(at3(mk, 0, 1, 0) == 1 && at3(mk, 1, 1, 0) == 0 && at3(mk, 1, 1, 2) == 0);

    /* the score of a model that outputs log p(c) everywhere is the baseline */
    DataScore sc = { 0 };
    it = data_iter(ds, DATA_TEST, 1);
    while (data_eval_next(&it, &in, &tg, &mk, &d, span_none()) > 0) {
        int64_t dim[3] = { tg->dim[0], tg->dim[1], tg->dim[2] };
        Tensor *lg = tensor_new("logits", 3, dim, &d, span_none());
        for (int64_t r = 0; r < lg->size / 3; r++) {
            lg->data[r * 3 + 0] = (real)log(4.0 / 9);
            lg->data[r * 3 + 1] = (real)log(4.0 / 9);
            lg->data[r * 3 + 2] = (real)log(1.0 / 9);
        }
        data_score_add(&sc, lg, tg, mk);
        tensor_free(lg);
    }
    CHECK_INT(sc.count, 3);
    CHECK_NEAR(exp(sc.nll / (double)sc.count), data_unigram_perplexity(ds), 1e-6);
    CHECK_INT(sc.correct, 1);                  /* argmax is 'a' (first of the tie): right once */

    /* sampling stays inside the training windows */
    Rng r;
    rng_seed(&r, 5);
    CHECK(data_batch(ds, DATA_TRAIN, &r, 9, &in, &tg, &mk, &d, span_none()));
    CHECK_INT(in->dim[1], 9);
    tensor_free(in);
    tensor_free(tg);
    tensor_free(mk);
    in = tg = mk = NULL;
    CHECK(data_series(ds, &d, span_none()) == NULL);
    CHECK(has_error(&d, "holds text"));
    data_free(ds);
    diags_clear(&d);

    /* the split clause wins over the argument's default */
    DataClauses c2 = with_split(0.7);
    ds = open_text(path, 2, 0.9, &c2, &d);
    CHECK(ds && data_info(ds)->count[DATA_TRAIN] == 5 && data_info(ds)->count[DATA_TEST] == 1);
    data_free(ds);
    /* limit keeps the first characters */
    c2 = clauses();
    c2.limit = 8;
    ds = open_text(path, 2, 0.5, &c2, &d);
    CHECK(ds && data_info(ds)->count[DATA_TRAIN] == 2 && data_info(ds)->count[DATA_TEST] == 2);
    data_free(ds);
    CHECK_INT(d.errors, 0);
    diags_fini(&d);
}

static void expect_text_error(const char *path, double seq, double split, const DataClauses *cl, const char *msg,
                              uint32_t off)
{
    Diags d;
    diags_init(&d);
    CHECK(open_text(path, seq, split, cl, &d) == NULL);
    CHECK(has_error(&d, msg));
    if (d.n > 0 && off != UINT32_MAX)
        CHECK_INT(d.v[0].span.off, off);
    diags_fini(&d);
}

static void test_text_errors(void)
{
    const char *empty = tmp("empty.txt"), *tiny = fixture("tiny.txt");
    spit(empty, "", 0, 0);
    DataClauses cl = clauses();
    expect_text_error(empty, 100, 0.9, &cl, "is empty: a text data set needs at least seq + 1 = 101 characters", 10);
    expect_text_error(tiny, 100, 0.9, &cl, "has 10 characters, fewer than seq + 1 = 101", 10);
    expect_text_error(tiny, 9, 0.9, &cl, "leaves 9 for training, fewer than seq + 1 = 10", 30);
    expect_text_error(tiny, 2, 0.9, &cl, "leaves 1 held out", 30);
    expect_text_error(tiny, 2, 1.0, &cl, "split is the training fraction", 30);
    expect_text_error(tiny, 2, 0, &cl, "split is the training fraction", 30);
    expect_text_error(tiny, 0, 0.5, &cl, "text's 'seq' is a whole number", 20);
    expect_text_error(tiny, 2.5, 0.5, &cl, "text's 'seq' is a whole number", 20);
    expect_text_error(tmp("nope.txt"), 2, 0.5, &cl, "cannot open", 10);
    DataClauses c = with_split(-0.1);
    expect_text_error(tiny, 2, 0.5, &c, "split is the training fraction", 40);
    c = clauses();
    c.shuffle = true;
    c.shuffle_span = span_at(50, 7);
    expect_text_error(tiny, 2, 0.5, &c, "shuffle does not apply to text", 50);
    c = clauses();
    c.has_scale = true;
    c.scale = 2;
    expect_text_error(tiny, 2, 0.5, &c, "scale does not apply to text", UINT32_MAX);
    c = clauses();
    c.as = DATA_AS_ROWS;
    expect_text_error(tiny, 2, 0.5, &c, "'as rows' applies to images (idx)", UINT32_MAX);
}

/* ---- npz, npy, csv ------------------------------------------------------------ */

static Tensor *ramp(int rank, int64_t d0, int64_t d1, int64_t d2, double base)
{
    int64_t dim[3] = { d0, d1, d2 };
    Diags d;
    diags_init(&d);
    Tensor *t = tensor_new("x", rank, dim, &d, span_none());
    diags_fini(&d);
    for (int64_t i = 0; i < t->size; i++)
        t->data[i] = (real)(base + (double)i);
    return t;
}

static void write_npz(const char *path, const char *const *keys, Tensor **ts, int n)
{
    Diags d;
    diags_init(&d);
    NpzWriter *w = npz_writer_new(path, &d, span_none());
    for (int k = 0; k < n; k++)
        npz_writer_add(w, keys[k], ts[k], &d, span_none());
    CHECK(npz_writer_commit(w, &d, span_none()));
    diags_fini(&d);
}

static DataSet *open_path(const char *reader, const char *path, const char *key, const DataClauses *cl, Diags *d)
{
    DataArg a[2] = { str_arg("path", path, span_at(10, 8)), str_arg("key", key ? key : "", span_at(20, 5)) };
    return data_open("s", reader, a, key ? 2 : 1, cl, 1, d, span_at(0, 60));
}

static void test_npz(void)
{
    const char *p = tmp("trials.npz");
    Tensor *in = ramp(3, 4, 3, 2, 0), *tg = ramp(3, 4, 3, 1, 100), *mk = ramp(2, 4, 3, 1, 0);
    for (int64_t i = 0; i < mk->size; i++)
        mk->data[i] = (real)(i % 3 == 2);          /* the last step of each trial */
    const char *keys[3] = { "inputs", "targets", "mask" };
    Tensor *ts[3] = { in, tg, mk };
    write_npz(p, keys, ts, 3);
    Diags d;
    diags_init(&d);
    DataClauses cl = with_split(0.5);
    cl.has_scale = true;
    cl.scale = 0.5;
    DataSet *ds = open_path("npz", p, "", &cl, &d);
    CHECK(ds != NULL);
    if (ds) {
        const DataInfo *f = data_info(ds);
        CHECK_INT(f->kind, DATA_ARRAYS);
        CHECK_INT(f->T, 3);
        CHECK_INT(f->n_in, 2);
        CHECK_INT(f->n_out, 1);
        CHECK_INT(f->count[DATA_TRAIN], 2);
        CHECK_INT(f->count[DATA_TEST], 2);
        Tensor *bi = NULL, *bt = NULL, *bm = NULL;
        DataIter it = data_iter(ds, DATA_TEST, 5);
        CHECK_INT(data_eval_next(&it, &bi, &bt, &bm, &d, span_none()), 2);
        /* test column 1 is trial 3: inputs (3*6 + t*2 + j) / 2, targets 100 + 3*3 + t */
        CHECK_NEAR(at3(bi, 2, 1, 1), (18 + 4 + 1) * 0.5, 1e-6);
        CHECK_NEAR(at3(bt, 1, 1, 0), 100 + 9 + 1, 1e-6);
        CHECK(at3(bm, 2, 1, 0) == 1 && at3(bm, 1, 1, 0) == 0);
        tensor_free(bi);
        tensor_free(bt);
        tensor_free(bm);
        data_free(ds);
    }
    /* one array by key: a series */
    ds = open_path("npz", p, "inputs", NULL, &d);
    CHECK(ds && data_info(ds)->kind == DATA_SERIES && data_info(ds)->count[DATA_TRAIN] == 4);
    data_free(ds);
    CHECK_INT(d.errors, 0);

    /* without targets */
    const char *q = tmp("notargets.npz");
    const char *k2[2] = { "inputs", "u" };
    write_npz(q, k2, ts, 2);
    CHECK(open_path("npz", q, "", NULL, &d) == NULL);
    CHECK(has_error(&d, "has no array 'targets': a data set from an .npz needs 'inputs' [N, T, n_in] and 'targets'"));
    CHECK(has_error(&d, "it holds 'inputs', 'u'"));
    diags_clear(&d);
    /* shapes that disagree */
    Tensor *tg2 = ramp(3, 3, 3, 1, 0);
    Tensor *ts2[2] = { in, tg2 };
    write_npz(q, keys, ts2, 2);
    CHECK(open_path("npz", q, "", NULL, &d) == NULL);
    CHECK(has_error(&d, "'inputs' [4, 3, 2] and 'targets' [3, 3, 1] disagree"));
    diags_clear(&d);
    Tensor *mk2 = ramp(3, 4, 3, 2, 0);
    Tensor *ts3[3] = { in, tg, mk2 };
    write_npz(q, keys, ts3, 3);
    CHECK(open_path("npz", q, "", NULL, &d) == NULL);
    CHECK(has_error(&d, "'mask' is [4, 3, 2] but 'targets' is [4, 3, 1]"));
    diags_clear(&d);
    CHECK(open_path("npz", p, "nothere", NULL, &d) == NULL);
    CHECK(d.errors > 0);
    diags_clear(&d);
    CHECK(open_path("npz", tmp("absent.npz"), "", NULL, &d) == NULL);
    CHECK(has_error(&d, "cannot open"));
    diags_fini(&d);
    tensor_free(in);
    tensor_free(tg);
    tensor_free(mk);
    tensor_free(tg2);
    tensor_free(mk2);
}

static void test_npy_csv(void)
{
    Diags d;
    diags_init(&d);
    const char *p = tmp("u.npy");
    Tensor *u = ramp(2, 5, 3, 1, 0);
    CHECK(npy_save(p, u, &d, span_none()));
    DataSet *ds = open_path("npy", p, NULL, NULL, &d);
    CHECK(ds != NULL);
    if (ds) {
        const DataInfo *f = data_info(ds);
        CHECK_INT(f->kind, DATA_SERIES);
        CHECK_INT(f->T, 5);
        CHECK_INT(f->n_in, 3);
        CHECK_INT(f->n_out, 0);
        CHECK_INT(f->count[DATA_TRAIN], 1);
        Tensor *s = data_series(ds, &d, span_none());
        CHECK(s && s->dim[0] == 5 && s->dim[1] == 1 && s->dim[2] == 3 && s->data[7] == 7);
        tensor_free(s);
        Tensor *bi = NULL, *bt = ramp(1, 2, 1, 1, 0), *bm = NULL;
        Rng r;
        rng_seed(&r, 1);
        CHECK(data_batch(ds, DATA_TRAIN, &r, 2, &bi, &bt, &bm, &d, span_none()));
        CHECK(bi && bi->dim[1] == 2 && bt == NULL && bm == NULL);   /* no targets */
        tensor_free(bi);
        data_free(ds);
    }
    tensor_free(u);
    /* [N, T, n] trials, and [T] */
    u = ramp(3, 4, 6, 2, 0);
    CHECK(npy_save(p, u, &d, span_none()));
    DataClauses cl = with_split(0.5);
    ds = open_path("npy", p, NULL, &cl, &d);
    CHECK(ds && data_info(ds)->T == 6 && data_info(ds)->count[DATA_TRAIN] == 2);
    data_free(ds);
    tensor_free(u);
    u = ramp(1, 7, 1, 1, 0);
    CHECK(npy_save(p, u, &d, span_none()));
    ds = open_path("npy", p, NULL, NULL, &d);
    CHECK(ds && data_info(ds)->T == 7 && data_info(ds)->n_in == 1);
    data_free(ds);
    tensor_free(u);
    CHECK_INT(d.errors, 0);
    /* a series of one trial cannot be split */
    u = ramp(2, 5, 3, 1, 0);
    npy_save(p, u, &d, span_none());
    tensor_free(u);
    cl = with_split(0.5);
    CHECK(open_path("npy", p, NULL, &cl, &d) == NULL);
    CHECK(has_error(&d, "split 0.5 of 1 example leaves no test examples"));
    CHECK_INT(d.v[d.n - 1].span.off, 40);
    diags_clear(&d);
    cl = clauses();
    cl.as = DATA_AS_PIXELS;
    CHECK(open_path("npy", p, NULL, &cl, &d) == NULL);
    CHECK(has_error(&d, "'as pixels' applies to images (idx); npy data are already sequences"));
    diags_clear(&d);
    int64_t dim4[4] = { 2, 2, 2, 2 };
    Tensor *t4 = tensor_new("x", 4, dim4, &d, span_none());
    npy_save(p, t4, &d, span_none());
    tensor_free(t4);
    CHECK(open_path("npy", p, NULL, NULL, &d) == NULL);
    CHECK(has_error(&d, "holds a [2, 2, 2, 2] array; an input series is [T], [T, n] or [N, T, n]"));
    diags_clear(&d);

    /* csv: rows are steps */
    cl = clauses();
    cl.has_scale = true;
    cl.scale = 2;
    ds = open_path("csv", fixture("series.csv"), NULL, &cl, &d);
    CHECK(ds != NULL);
    if (ds) {
        CHECK_INT(data_info(ds)->T, 4);
        CHECK_INT(data_info(ds)->n_in, 2);
        Tensor *s = data_series(ds, &d, span_none());
        CHECK(s && s->dim[0] == 4 && s->dim[1] == 1 && s->dim[2] == 2);
        if (s)
            CHECK_NEAR(at3(s, 3, 0, 1), 5.0, 1e-12);
        tensor_free(s);
        data_free(ds);
    }
    CHECK_INT(d.errors, 0);
    CHECK(open_path("csv", fixture("ragged.csv"), NULL, NULL, &d) == NULL);
    CHECK(has_error(&d, "ragged.csv"));
    diags_clear(&d);
    const char *h = tmp("header.csv");
    spit(h, "a, b\n", 5, 0);
    CHECK(open_path("csv", h, NULL, NULL, &d) == NULL);
    CHECK(has_error(&d, "has a header but no rows"));
    diags_fini(&d);
}

/* ---- idx errors --------------------------------------------------------------- */

static void test_idx_errors(void)
{
    const char *im = tmp("eim"), *lb = tmp("elb");
    Diags d;
    diags_init(&d);

    write_idx(im, lb, 10000, 9999, 1, 1, 0);
    CHECK(open_idx(im, lb, NULL, 1, &d) == NULL);
    CHECK(has_error(&d, "'labels' has 9999 labels but 'images' has 10000 images"));
    CHECK_INT(d.v[0].span.off, 0);                     /* at the declaration */
    diags_clear(&d);

    /* both files missing: both named, each at its argument */
    CHECK(open_idx(tmp("no-im"), tmp("no-lb"), NULL, 1, &d) == NULL);
    CHECK_INT(d.errors, 2);
    CHECK(has_error(&d, "no-im") && has_error(&d, "no-lb"));
    CHECK(d.n == 2 && d.v[0].span.off == 10 && d.v[1].span.off == 20);
    diags_clear(&d);

    write_idx(im, lb, 4, 4, 2, 2, 0);
    spit(tmp("bad"), "\x12\x34\x08\x01\0\0\0\1x", 9, 0);
    CHECK(open_idx(tmp("bad"), lb, NULL, 1, &d) == NULL);
    CHECK(has_error(&d, "is not an IDX file: its magic number is 0x12340801"));
    diags_clear(&d);

    /* the arguments swapped */
    CHECK(open_idx(lb, im, NULL, 1, &d) == NULL);
    CHECK(has_error(&d, "holds [4] values, not images"));
    CHECK(has_error(&d, "holds [4, 2, 2] values, not labels"));
    diags_clear(&d);

    /* a label that is not a class */
    unsigned char fl[8 + 8];
    put32(fl, 0x00000D01);
    put32(fl + 4, 2);
    float v[2] = { 1.0f, 0.5f };
    for (int k = 0; k < 2; k++) {
        uint32_t bits;
        memcpy(&bits, &v[k], 4);
        put32(fl + 8 + 4 * k, bits);
    }
    spit(tmp("flb"), fl, sizeof fl, 0);
    write_idx(im, lb, 2, 2, 2, 2, 0);
    CHECK(open_idx(im, tmp("flb"), NULL, 1, &d) == NULL);
    CHECK(has_error(&d, "has label 0.5 at index 1"));
    diags_clear(&d);

    DataClauses cl = with_split(0.99);
    CHECK(open_idx(im, lb, &cl, 1, &d) == NULL);
    CHECK(has_error(&d, "split 0.99 of 2 examples leaves no test examples"));
    diags_clear(&d);
    cl = with_split(1.5);
    CHECK(open_idx(im, lb, &cl, 1, &d) == NULL);
    CHECK(has_error(&d, "split is the training fraction, between 0 and 1"));
    CHECK_INT(d.v[0].span.off, 40);
    diags_clear(&d);
    cl = clauses();
    cl.has_scale = true;
    cl.scale = INFINITY;
    CHECK(open_idx(im, lb, &cl, 1, &d) == NULL);
    CHECK(has_error(&d, "scale must be a finite number"));
    diags_clear(&d);

    DataArg a[2] = { str_arg("images", im, span_at(10, 8)), num_arg("labels", 3, span_at(20, 1)) };
    CHECK(data_open("fm", "idx", a, 2, NULL, 1, &d, span_at(0, 60)) == NULL);
    CHECK(has_error(&d, "idx's 'labels' is a file name in quotes"));
    diags_clear(&d);
    CHECK(data_open("fm", "idy", a, 2, NULL, 1, &d, span_at(0, 60)) == NULL);
    CHECK(has_error(&d, "unknown data reader 'idy'"));
    diags_fini(&d);
}

/* ---- score -------------------------------------------------------------------- */

static void test_score(void)
{
    Diags d;
    diags_init(&d);
    int64_t dim[3] = { 2, 1, 3 };
    Tensor *z = tensor_new("z", 3, dim, &d, span_none()), *y = tensor_new("y", 3, dim, &d, span_none());
    Tensor *m = tensor_new("m", 3, dim, &d, span_none());
    real zv[6] = { 1, 2, 3, 0, 0, 5 };
    memcpy(z->data, zv, sizeof zv);
    y->data[0 + 1] = 1;            /* step 0: class 1; logits argmax 2: wrong */
    y->data[3 + 2] = 1;            /* step 1: class 2; right */
    DataScore s = { 0 };
    data_score_add(&s, z, y, NULL);
    double want = (log(exp(1) + exp(2) + exp(3)) - 2) + (log(2 + exp(5)) - 5);
    CHECK_INT(s.count, 2);
    CHECK_INT(s.correct, 1);
    CHECK_NEAR(s.nll, want, 1e-6);
    m->data[3] = m->data[4] = m->data[5] = 1;   /* only step 1 counts */
    DataScore s2 = { 0 };
    data_score_add(&s2, z, y, m);
    CHECK_INT(s2.count, 1);
    CHECK_INT(s2.correct, 1);
    CHECK_NEAR(s2.nll, log(2 + exp(5)) - 5, 1e-6);
    tensor_free(z);
    tensor_free(y);
    tensor_free(m);
    diags_fini(&d);
}

/* ---- Fashion-MNIST, when installed ------------------------------------------ */

static void test_fashion_mnist(void)
{
    const char *im = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz";
    const char *lb = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz";
    if (access(im, R_OK) != 0 || access(lb, R_OK) != 0) {
        printf("skipped: Fashion-MNIST is not installed (dataset-fashion-mnist)\n");
        return;
    }
    Diags d;
    diags_init(&d);
    DataClauses cl = with_split(0.9);
    cl.as = DATA_AS_ROWS;
    cl.has_scale = true;
    cl.scale = 1.0 / 255;
    cl.limit = 100;
    cl.shuffle = true;
    DataSet *ds = open_idx(im, lb, &cl, 1, &d);
    CHECK(ds != NULL);
    if (!ds) {
        diags_print(&d, stderr, false);
        diags_fini(&d);
        return;
    }
    const DataInfo *f = data_info(ds);
    CHECK_INT(f->T, 28);
    CHECK_INT(f->n_in, 28);
    CHECK_INT(f->n_out, 10);
    CHECK_INT(f->count[DATA_TRAIN], 90);
    CHECK_INT(f->count[DATA_TEST], 10);
    Tensor *in = NULL, *tg = NULL, *mk = NULL;
    DataIter it = data_iter(ds, DATA_TRAIN, 64);
    int64_t B, bad = 0, n = 0;
    while ((B = data_eval_next(&it, &in, &tg, &mk, &d, span_none())) > 0) {
        for (int64_t b = 0; b < B; b++, n++) {
            bad += onehot_at(tg, 27, b) < 0 || onehot_at(tg, 27, b) > 9;
            bad += onehot_at(tg, 0, b) != -1;
        }
        for (int64_t k = 0; k < in->size; k++)
            bad += !(in->data[k] >= 0 && in->data[k] <= 1);
    }
    CHECK_INT(n, 90);
    CHECK_INT(bad, 0);
    tensor_free(in);
    tensor_free(tg);
    tensor_free(mk);
    data_free(ds);
    CHECK_INT(d.errors, 0);
    diags_fini(&d);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cajal-data-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    static const char text[] = "data fm = idx(\"im\", \"lb\") as rows scale 1/255 split 0.9 shuffle ...........\n";
    decl = source_new("decl.cajal", text, sizeof text - 1);

    test_idx_rows(0);
    test_idx_rows(1);
    test_idx_pixels();
    test_idx_split_shuffle();
    test_idx_limit();
    test_batches();
    test_text();
    test_text_errors();
    test_npz();
    test_npy_csv();
    test_idx_errors();
    test_score();
    test_fashion_mnist();

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    source_free_all();
    return check_done("test_data");
}
