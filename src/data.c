/* data.c: data sets from `data NAME = READER(args) clauses`, split once, handed
 * out as time-major batches (conventions in data.h, for users in docs/data.md).
 *
 * Between the interpreter, which evaluates the declaration, and the run, which
 * wants [T, B, n] tensors. The readers (io_idx, io_npy, io_csv) turn files into
 * tensors; this file decides what an example is and keeps every example in
 * memory in the form one batch column copies from:
 *
 *   idx     images [N, rows, cols] (scaled), labels[N]: example k is the T * n_in
 *           reals at k * T * n_in, whether read as rows or as pixels (the same
 *           bytes, cut into steps differently), its label one-hot at step T-1
 *   npz     inputs [N, T, n_in], targets [N, T, n_out], mask [N, T, 1 or n_out]
 *   npy/csv inputs [N, T, n_in] (a [T, n] array is N = 1)
 *   text    one byte code per character (its index in the sorted vocabulary);
 *           example = window start; one-hot vectors are made per batch only,
 *           so a 1 MB text costs 1 MB, not seq * V reals per window
 *
 * order[] is the example numbering after `shuffle`; the training part is
 * order[0 .. n_train), the test part the rest. Each part has its own epoch
 * sampler: a permutation of the part (uint32, so a 1 GiB text costs 4 bytes a
 * window), redrawn from the caller's rng at each epoch start.
 */
#include "data.h"
#include "fileio.h"
#include "io_csv.h"
#include "io_idx.h"
#include "io_npy.h"
#include "xalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Largest text file read, in bytes; windows are numbered in uint32. */
#define TEXT_MAX_BYTES ((int64_t)1 << 30)
/* Labels are class indices; a one-hot target has max label + 1 entries. */
enum { LABEL_MAX = 65535 };

typedef struct Sampler {
    uint32_t *perm;          /* this epoch's order of the part; NULL before the first */
    int64_t epoch, pos;
    Rng order_rng;           /* the rng as it was when perm was drawn */
} Sampler;

struct DataSet {
    DataInfo info;
    char *name;

    /* idx, npz, npy, csv */
    int64_t n;               /* examples kept (after limit) */
    Tensor *inputs;          /* example k at data + k * T * n_in; owned */
    Tensor *targets;         /* npz: [N, T, n_out]; owned */
    Tensor *mask;            /* npz: [N, T, mask_width] or NULL (all ones); owned */
    int64_t mask_width;      /* 1 (broadcast over outputs) or n_out */
    int32_t *labels;         /* idx: [n] */
    int64_t *order;          /* [n]: file index of each example after shuffle */
    int64_t n_train;         /* order[0 .. n_train) train */

    /* text */
    uint8_t *code;           /* [len]: vocabulary index of each character */
    int64_t len, len_train;
    int V;
    unsigned char vocab[256];
    int16_t index[256];      /* byte -> vocabulary index, -1 if absent */
    double unigram_ppl;

    Sampler smp[2];
};

static const char *const split_word[2] = { "training", "test" };

static Span where(Span s, Span at) { return s.file ? s : at; }

static const DataArg *find_arg(const DataArg *args, int nargs, const char *name)
{
    for (int i = 0; i < nargs; i++)
        if (args[i].name && strcmp(args[i].name, name) == 0)
            return &args[i];
    return NULL;
}

static bool is_plain(const Value *v)
{
    for (int k = 0; k < UNITS_NBASE; k++)
        if (v->dim.e[k])
            return false;
    return true;
}

/* A file name argument: a string. */
static const char *arg_path(const char *reader, const DataArg *a, Diags *d, Span at)
{
    if (!a) {
        diag_error(d, at, "%s(...) needs its '%s' argument", reader, "path");
        return NULL;
    }
    if (a->value.kind != V_STR || !a->value.str) {
        diag_error(d, where(a->span, at), "%s's '%s' is a file name in quotes", reader, a->name);
        return NULL;
    }
    return a->value.str;
}

/* A whole number without unit, in [lo, hi]. */
static bool arg_whole(const char *reader, const DataArg *a, double lo, double hi, int64_t *out, Diags *d, Span at)
{
    const Value *v = &a->value;
    if (v->kind != V_NUM || !is_plain(v) || !(v->num >= lo && v->num <= hi) || v->num != floor(v->num)) {
        diag_error(d, where(a->span, at), "%s's '%s' is a whole number from %.0f to %.0f", reader, a->name, lo, hi);
        return false;
    }
    *out = (int64_t)v->num;
    return true;
}

static bool split_ok(double f, Span s, Diags *d)
{
    if (!(f > 0 && f < 1)) {
        diag_error(d, s, "split is the training fraction, between 0 and 1 (such as 0.9); found %g", f);
        return false;
    }
    return true;
}

/* The first dimension an IDX file's header declares (idx_load has checked the
 * header already); -1 if it cannot be read. Lets a limited read still compare
 * the images' full count with the labels'. */
static int64_t idx_count(const char *path)
{
    gzFile g = gzopen(path, "rb");
    if (!g)
        return -1;
    unsigned char h[8];
    int got = gzread(g, h, 8);
    gzclose(g);
    if (got != 8)
        return -1;
    return (int64_t)((uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | h[7]);
}

static const char *shape_of(const Tensor *t, char *buf, size_t n) { return tensor_shape_str(t, buf, n); }

/* ---- readers ------------------------------------------------------------- */

/* idx(images, labels): images [N, rows, cols] (or [N, n], [N, rows, cols, ch]),
 * labels [N]. */
static bool open_idx(DataSet *ds, const DataArg *args, int nargs, const DataClauses *cl, int64_t limit,
                     Diags *d, Span at)
{
    const DataArg *ai = find_arg(args, nargs, "images"), *al = find_arg(args, nargs, "labels");
    if (!ai || !al) {
        diag_error(d, at, "idx(...) needs 'images' and 'labels', two IDX file names");
        return false;
    }
    const char *ipath = arg_path("idx", ai, d, at), *lpath = arg_path("idx", al, d, at);
    if (!ipath || !lpath)
        return false;
    Span si = where(ai->span, at), sl = where(al->span, at);
    real scale = cl->has_scale ? (real)cl->scale : 1;
    /* both files, so one run names both when both are wrong */
    Tensor *img = idx_load(ipath, scale, limit, d, si);
    Tensor *lab = idx_load(lpath, 1, 0, d, sl);
    bool ok = img && lab;
    char buf[96];
    if (img && img->rank < 2) {
        diag_error(d, si, "'images' file '%s' holds %s values, not images: expected [N, rows, cols]", ipath,
                   shape_of(img, buf, sizeof buf));
        ok = false;
    }
    if (lab && !(lab->rank == 1 || (lab->rank == 2 && lab->dim[1] == 1))) {
        diag_error(d, sl, "'labels' file '%s' holds %s values, not labels: expected [N], one class a label", lpath,
                   shape_of(lab, buf, sizeof buf));
        ok = false;
    }
    if (ok) {
        int64_t nimg = img->dim[0];
        if (limit > 0 && nimg == limit) {
            int64_t full = idx_count(ipath);
            if (full > 0)
                nimg = full;
        }
        if (nimg != lab->dim[0]) {
            diag_error(d, at, "'labels' has %lld labels but 'images' has %lld images: '%s' and '%s' are not a pair",
                       (long long)lab->dim[0], (long long)nimg, lpath, ipath);
            ok = false;
        }
    }
    if (ok && img->dim[0] == 0) {
        diag_error(d, si, "'images' file '%s' holds no images", ipath);
        ok = false;
    }
    int64_t classes = 0;
    for (int64_t k = 0; ok && k < lab->size; k++) {
        double y = lab->data[k];
        if (!(y >= 0 && y <= LABEL_MAX && y == floor(y))) {
            diag_error(d, sl, "'labels' file '%s' has label %g at index %lld: labels are classes, whole numbers "
                       "from 0 to %d", lpath, y, (long long)k, LABEL_MAX);
            ok = false;
        } else if ((int64_t)y + 1 > classes) {
            classes = (int64_t)y + 1;
        }
    }
    if (ok) {
        int64_t item = img->size / img->dim[0];
        int64_t T;
        if (cl->as == DATA_AS_PIXELS)
            T = img->rank == 2 ? img->dim[1] : img->dim[1] * img->dim[2];
        else
            T = img->rank == 2 ? 1 : img->dim[1];
        if (item == 0 || T == 0) {
            diag_error(d, si, "'images' file '%s' holds empty images %s", ipath, shape_of(img, buf, sizeof buf));
            ok = false;
        } else {
            ds->n = img->dim[0];
            ds->labels = xmalloc((size_t)ds->n * sizeof *ds->labels);
            for (int64_t k = 0; k < ds->n; k++)
                ds->labels[k] = (int32_t)lab->data[k];
            ds->info.T = T;
            ds->info.n_in = item / T;
            ds->info.n_out = classes;
            ds->info.classes = classes;
            ds->inputs = img;
            img = NULL;
        }
    }
    tensor_free(img);
    tensor_free(lab);
    return ok;
}

/* An array as a series [N, T, n]: [T] -> [1, T, 1], [T, n] -> [1, T, n]. */
static bool as_series(DataSet *ds, Tensor *t, const char *what, const DataClauses *cl, int64_t limit,
                      Diags *d, Span at)
{
    char buf[96];
    if (t->rank < 1 || t->rank > 3) {
        diag_error(d, at, "%s holds a %s array; an input series is [T], [T, n] or [N, T, n]", what,
                   shape_of(t, buf, sizeof buf));
        tensor_free(t);
        return false;
    }
    int64_t N = t->rank == 3 ? t->dim[0] : 1, T = t->rank == 3 ? t->dim[1] : t->dim[0];
    int64_t n = t->rank == 1 ? 1 : t->dim[t->rank - 1];
    if (N == 0 || T == 0 || n == 0) {
        diag_error(d, at, "%s holds an empty %s array; an input series needs at least one step of one value", what,
                   shape_of(t, buf, sizeof buf));
        tensor_free(t);
        return false;
    }
    t->rank = 3;
    t->dim[0] = N;
    t->dim[1] = T;
    t->dim[2] = n;
    if (cl->has_scale)
        for (int64_t k = 0; k < t->size; k++)
            t->data[k] *= (real)cl->scale;
    ds->inputs = t;
    ds->n = limit > 0 && limit < N ? limit : N;
    ds->info.kind = DATA_SERIES;
    ds->info.T = T;
    ds->info.n_in = n;
    return true;
}

static bool open_npy(DataSet *ds, const DataArg *args, int nargs, const DataClauses *cl, int64_t limit,
                     Diags *d, Span at)
{
    const DataArg *ap = find_arg(args, nargs, "path");
    const char *path = arg_path("npy", ap, d, at);
    if (!path)
        return false;
    Span sp = where(ap->span, at);
    Tensor *t = npy_load(path, d, sp);
    if (!t)
        return false;
    char what[300];
    snprintf(what, sizeof what, "file '%s'", path);
    return as_series(ds, t, what, cl, limit, d, sp);
}

static bool open_csv(DataSet *ds, const DataArg *args, int nargs, const DataClauses *cl, int64_t limit,
                     Diags *d, Span at)
{
    const DataArg *ap = find_arg(args, nargs, "path");
    const char *path = arg_path("csv", ap, d, at);
    if (!path)
        return false;
    Span sp = where(ap->span, at);
    CsvTable table;
    if (!csv_read(path, &table, d, sp))
        return false;
    if (table.t->dim[0] == 0) {
        diag_error(d, sp, "file '%s' has a header but no rows: an input series needs at least one row (time step)",
                   path);
        csv_table_fini(&table);
        return false;
    }
    Tensor *t = table.t;
    table.t = NULL;
    csv_table_fini(&table);
    char what[300];
    snprintf(what, sizeof what, "file '%s'", path);
    return as_series(ds, t, what, cl, limit, d, sp);
}

/* "'inputs', 'targets'" into buf: what an archive holds, for messages. */
static const char *npz_keys(const NpzReader *r, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = 0;
    int count = npz_reader_count(r);
    for (int i = 0; i < count && n + 1 < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, i ? ", '%s'" : "'%s'", npz_reader_entry(r, i)->key);
    if (count == 0)
        snprintf(buf, cap, "no arrays");
    return buf;
}

/* [N, T] -> [N, T, 1]; other ranks untouched. */
static void add_axis(Tensor *t)
{
    if (t->rank == 2) {
        t->rank = 3;
        t->dim[2] = 1;
    }
}

static bool open_npz(DataSet *ds, const DataArg *args, int nargs, const DataClauses *cl, int64_t limit,
                     Diags *d, Span at)
{
    const DataArg *ap = find_arg(args, nargs, "path"), *ak = find_arg(args, nargs, "key");
    const char *path = arg_path("npz", ap, d, at);
    if (!path)
        return false;
    Span sp = where(ap->span, at);
    const char *key = "";
    if (ak) {
        if (ak->value.kind != V_STR || !ak->value.str) {
            diag_error(d, where(ak->span, at), "npz's 'key' is the name of an array in quotes, such as key = \"u\"");
            return false;
        }
        key = ak->value.str;
    }
    NpzReader *r = npz_reader_new(path, d, sp);
    if (!r)
        return false;
    char keys[512], buf[96], buf2[96];
    if (*key) {
        Tensor *t = npz_reader_read(r, key, d, where(ak->span, at));
        npz_reader_free(r);
        if (!t)
            return false;
        char what[400];
        snprintf(what, sizeof what, "array '%s' of '%s'", key, path);
        return as_series(ds, t, what, cl, limit, d, where(ak->span, at));
    }
    static const char *const need[2] = { "inputs", "targets" };
    bool ok = true;
    for (int k = 0; k < 2; k++) {
        if (!npz_reader_find(r, need[k])) {
            diag_error(d, sp, "'%s' has no array '%s': a data set from an .npz needs 'inputs' [N, T, n_in] and "
                       "'targets' [N, T, n_out] (and may have 'mask'); it holds %s",
                       path, need[k], npz_keys(r, keys, sizeof keys));
            if (npz_reader_count(r) > 0)
                diag_hint(d, "to read one array as an input series, name it: npz(\"%s\", key = \"%s\")", path,
                          npz_reader_entry(r, 0)->key);
            ok = false;
            break;
        }
    }
    Tensor *in = NULL, *tg = NULL, *mk = NULL;
    if (ok) {
        in = npz_reader_read(r, "inputs", d, sp);
        tg = npz_reader_read(r, "targets", d, sp);
        if (npz_reader_find(r, "mask"))
            mk = npz_reader_read(r, "mask", d, sp);
        ok = in && tg && (mk || !npz_reader_find(r, "mask"));
    }
    npz_reader_free(r);
    if (ok) {
        add_axis(in);
        add_axis(tg);
        if (in->rank != 3 || tg->rank != 3) {
            diag_error(d, sp, "'%s': 'inputs' is %s and 'targets' %s; expected [N, T, n_in] and [N, T, n_out]", path,
                       shape_of(in, buf, sizeof buf), shape_of(tg, buf2, sizeof buf2));
            ok = false;
        } else if (in->dim[0] != tg->dim[0] || in->dim[1] != tg->dim[1]) {
            diag_error(d, sp, "'%s': 'inputs' %s and 'targets' %s disagree: they need the same trials N and steps T",
                       path, shape_of(in, buf, sizeof buf), shape_of(tg, buf2, sizeof buf2));
            ok = false;
        } else if (in->size == 0 || tg->size == 0) {
            diag_error(d, sp, "'%s': 'inputs' %s and 'targets' %s hold no values", path,
                       shape_of(in, buf, sizeof buf), shape_of(tg, buf2, sizeof buf2));
            ok = false;
        }
    }
    if (ok && mk) {
        add_axis(mk);
        if (mk->rank != 3 || mk->dim[0] != tg->dim[0] || mk->dim[1] != tg->dim[1] ||
            (mk->dim[2] != 1 && mk->dim[2] != tg->dim[2])) {
            diag_error(d, sp, "'%s': 'mask' is %s but 'targets' is %s; the mask is [N, T, n_out] or [N, T]", path,
                       shape_of(mk, buf, sizeof buf), shape_of(tg, buf2, sizeof buf2));
            ok = false;
        }
    }
    if (!ok) {
        tensor_free(in);
        tensor_free(tg);
        tensor_free(mk);
        return false;
    }
    if (cl->has_scale)
        for (int64_t k = 0; k < in->size; k++)
            in->data[k] *= (real)cl->scale;
    ds->inputs = in;
    ds->targets = tg;
    ds->mask = mk;
    ds->mask_width = mk ? mk->dim[2] : 0;
    ds->n = limit > 0 && limit < in->dim[0] ? limit : in->dim[0];
    ds->info.T = in->dim[1];
    ds->info.n_in = in->dim[2];
    ds->info.n_out = tg->dim[2];
    return true;
}

/* text(path, seq = 100, split = 0.9) */
static bool open_text(DataSet *ds, const DataArg *args, int nargs, const DataClauses *cl, int64_t limit,
                      Diags *d, Span at)
{
    const DataArg *ap = find_arg(args, nargs, "path"), *aq = find_arg(args, nargs, "seq");
    const DataArg *as = find_arg(args, nargs, "split");
    const char *path = arg_path("text", ap, d, at);
    if (!path)
        return false;
    Span sp = where(ap->span, at);
    int64_t seq = 100;
    if (aq && !arg_whole("text", aq, 1, 1e7, &seq, d, at))
        return false;
    double split = 0.9;
    Span ss = at;
    if (cl->has_split) {            /* the clause, when written, wins over the default */
        split = cl->split;
        ss = where(cl->split_span, at);
    } else if (as) {
        if (as->value.kind != V_NUM || !is_plain(&as->value)) {
            diag_error(d, where(as->span, at), "text's 'split' is the training fraction, a number such as 0.9");
            return false;
        }
        split = as->value.num;
        ss = where(as->span, at);
    }
    if (!split_ok(split, ss, d))
        return false;
    size_t len;
    char *text = fileio_read_all(path, TEXT_MAX_BYTES, &len, d, sp);
    if (!text)
        return false;
    if (limit > 0 && (uint64_t)limit < len)
        len = (size_t)limit;
    bool ok = false;
    if (len == 0) {
        diag_error(d, sp, "file '%s' is empty: a text data set needs at least seq + 1 = %lld characters", path,
                   (long long)seq + 1);
    } else if ((int64_t)len < seq + 1) {
        diag_error(d, sp, "file '%s' has %lld characters, fewer than seq + 1 = %lld", path, (long long)len,
                   (long long)seq + 1);
    } else {
        int64_t len_train = llround(split * (double)len), len_test = (int64_t)len - len_train;
        if (len_train < seq + 1)
            diag_error(d, ss, "split %g of the %lld characters of '%s' leaves %lld for training, fewer than "
                       "seq + 1 = %lld", split, (long long)len, path, (long long)len_train, (long long)seq + 1);
        else if (len_test < 2)
            diag_error(d, ss, "split %g of the %lld characters of '%s' leaves %lld held out; the held-out part "
                       "needs at least 2", split, (long long)len, path, (long long)len_test);
        else {
            ok = true;
            ds->len = (int64_t)len;
            ds->len_train = len_train;
            ds->info.T = seq;
        }
    }
    if (!ok) {
        free(text);
        return false;
    }
    const unsigned char *u = (const unsigned char *)text;
    bool present[256] = { false };
    for (size_t k = 0; k < len; k++)
        present[u[k]] = true;
    ds->V = 0;
    for (int c = 0; c < 256; c++) {
        ds->index[c] = -1;
        if (present[c]) {
            ds->index[c] = (int16_t)ds->V;
            ds->vocab[ds->V++] = (unsigned char)c;
        }
    }
    ds->code = xmalloc(len);
    for (size_t k = 0; k < len; k++)
        ds->code[k] = (uint8_t)ds->index[u[k]];
    free(text);

    /* the unigram baseline over the characters the test windows predict */
    int64_t count[256] = { 0 };
    for (int64_t k = 0; k < ds->len_train; k++)
        count[ds->code[k]]++;
    double nll = 0;
    for (int64_t k = ds->len_train + 1; k < ds->len; k++)
        nll -= log((double)(count[ds->code[k]] + 1) / (double)(ds->len_train + ds->V));
    ds->unigram_ppl = exp(nll / (double)(ds->len - ds->len_train - 1));

    ds->info.kind = DATA_TEXT;
    ds->info.n_in = ds->info.n_out = ds->info.classes = ds->V;
    ds->info.count[DATA_TRAIN] = ds->len_train - seq;
    ds->info.count[DATA_TEST] = (ds->len - ds->len_train - 1 + seq - 1) / seq;
    return true;
}

/* ---- opening ------------------------------------------------------------- */

typedef bool (*OpenFn)(DataSet *, const DataArg *, int, const DataClauses *, int64_t, Diags *, Span);

static const struct Reader {
    const char *name;
    OpenFn open;
    DataKind kind;
} readers[] = {
    { "idx", open_idx, DATA_IMAGES },
    { "text", open_text, DATA_TEXT },
    { "npz", open_npz, DATA_ARRAYS },
    { "npy", open_npy, DATA_SERIES },
    { "csv", open_csv, DATA_SERIES },
};

/* The clauses that apply to every reader, and those that do not apply to this one. */
static bool check_clauses(const struct Reader *rd, const DataClauses *cl, Diags *d, Span at)
{
    bool ok = true;
    if (cl->as == DATA_AS_ROWS || cl->as == DATA_AS_PIXELS) {
        if (rd->kind != DATA_IMAGES) {
            diag_error(d, where(cl->as_span, at), "'as %s' applies to images (idx); %s data are already sequences",
                       cl->as == DATA_AS_ROWS ? "rows" : "pixels", rd->name);
            ok = false;
        }
    }
    if (cl->has_scale) {
        if (rd->kind == DATA_TEXT) {
            diag_error(d, where(cl->scale_span, at), "scale does not apply to text: its inputs are one-hot characters");
            ok = false;
        } else if (!isfinite(cl->scale)) {
            diag_error(d, where(cl->scale_span, at), "scale must be a finite number, such as 1/255");
            ok = false;
        }
    }
    if (cl->shuffle && rd->kind == DATA_TEXT) {
        diag_error(d, where(cl->shuffle_span, at), "shuffle does not apply to text: its held-out part is the end of "
                   "the file, so no window overlaps both parts; training batches are drawn in shuffled order anyway");
        ok = false;
    }
    if (cl->has_split)
        ok &= split_ok(cl->split, where(cl->split_span, at), d);
    if (cl->limit < 0) {
        diag_error(d, where(cl->limit_span, at), "limit is a count of examples, 0 or more (0 keeps all)");
        ok = false;
    }
    return ok;
}

/* Numbers the examples (shuffled by the seed's stream for the set's name) and
 * splits them. */
static bool split_examples(DataSet *ds, const DataClauses *cl, uint64_t seed, Diags *d, Span at)
{
    int64_t N = ds->n;
    ds->order = xmalloc((size_t)N * sizeof *ds->order);
    for (int64_t k = 0; k < N; k++)
        ds->order[k] = k;
    if (cl->shuffle) {
        Rng base;
        rng_seed(&base, seed);
        Rng r = rng_stream(&base, rng_id(ds->name));
        for (int64_t k = N - 1; k > 0; k--) {
            int64_t j = (int64_t)rng_below(&r, (uint64_t)k + 1), t = ds->order[k];
            ds->order[k] = ds->order[j];
            ds->order[j] = t;
        }
    }
    ds->n_train = N;
    if (cl->has_split) {
        ds->n_train = llround(cl->split * (double)N);
        if (ds->n_train < 1 || ds->n_train >= N) {
            diag_error(d, where(cl->split_span, at), "split %g of %lld example%s leaves no %s examples", cl->split,
                       (long long)N, N == 1 ? "" : "s", ds->n_train < 1 ? "training" : "test");
            return false;
        }
    }
    ds->info.count[DATA_TRAIN] = ds->n_train;
    ds->info.count[DATA_TEST] = N - ds->n_train;
    return true;
}

DataSet *data_open(const char *name, const char *reader, const DataArg *args, int nargs,
                   const DataClauses *cl, uint64_t seed, Diags *d, Span at)
{
    const struct Reader *rd = NULL;
    for (size_t k = 0; k < sizeof readers / sizeof *readers; k++)
        if (strcmp(readers[k].name, reader) == 0)
            rd = &readers[k];
    if (!rd) {
        diag_error(d, at, "unknown data reader '%s'; the readers are idx, text, npz, npy and csv", reader);
        return NULL;
    }
    DataClauses none = { .scale = 1 };
    if (!cl)
        cl = &none;
    if (!check_clauses(rd, cl, d, at))
        return NULL;
    int64_t limit = cl->limit;
    const DataArg *al = find_arg(args, nargs, "limit");
    if (al && !cl->has_limit) {   /* the clause, when written, wins over the argument */
        int64_t l;
        if (!arg_whole(reader, al, 0, 9e15, &l, d, at))
            return NULL;
        if (l > 0)
            limit = l;
    }

    DataSet *ds = xcalloc(1, sizeof *ds);
    ds->name = xstrdup(name ? name : "data");
    ds->info.name = ds->name;
    ds->info.reader = rd->name;
    ds->info.kind = rd->kind;
    if (!rd->open(ds, args, nargs, cl, limit, d, at) ||
        (rd->kind != DATA_TEXT && !split_examples(ds, cl, seed, d, at))) {
        data_free(ds);
        return NULL;
    }
    return ds;
}

void data_free(DataSet *ds)
{
    if (!ds)
        return;
    tensor_free(ds->inputs);
    tensor_free(ds->targets);
    tensor_free(ds->mask);
    free(ds->labels);
    free(ds->order);
    free(ds->code);
    free(ds->smp[0].perm);
    free(ds->smp[1].perm);
    free(ds->name);
    free(ds);
}

const DataInfo *data_info(const DataSet *ds) { return &ds->info; }

const char *data_describe(const DataSet *ds, char *buf, size_t n)
{
    const DataInfo *f = &ds->info;
    int k = snprintf(buf, n, "%s: %lld training and %lld test %s of %lld step%s x %lld input%s", f->reader,
                     (long long)f->count[0], (long long)f->count[1], f->kind == DATA_TEXT ? "windows" : "sequences",
                     (long long)f->T, f->T == 1 ? "" : "s", (long long)f->n_in, f->n_in == 1 ? "" : "s");
    if (k < 0 || (size_t)k >= n)
        return buf;
    if (f->kind == DATA_IMAGES)
        snprintf(buf + k, n - (size_t)k, ", %lld classes", (long long)f->classes);
    else if (f->kind == DATA_TEXT)
        snprintf(buf + k, n - (size_t)k, ", %lld characters, vocabulary of %lld", (long long)ds->len,
                 (long long)f->classes);
    else if (f->kind == DATA_ARRAYS)
        snprintf(buf + k, n - (size_t)k, ", %lld output%s", (long long)f->n_out, f->n_out == 1 ? "" : "s");
    else
        snprintf(buf + k, n - (size_t)k, ", no targets");
    return buf;
}

/* ---- batches ------------------------------------------------------------- */

/* *p refilled if it is [T, B, n], else replaced by a new one. */
static bool prepare(Tensor **p, const char *name, int64_t T, int64_t B, int64_t n, Diags *d, Span at)
{
    Tensor *t = *p;
    if (t && t->rank == 3 && t->dim[0] == T && t->dim[1] == B && t->dim[2] == n) {
        tensor_zero(t);
        return true;
    }
    tensor_free(t);
    int64_t dim[3] = { T, B, n };
    *p = tensor_new(name, 3, dim, d, at);
    return *p != NULL;
}

static void drop(Tensor **p)
{
    tensor_free(*p);
    *p = NULL;
}

static bool prepare_all(DataSet *ds, int64_t B, Tensor **in, Tensor **tg, Tensor **mk, Diags *d, Span at)
{
    const DataInfo *f = &ds->info;
    bool ok = prepare(in, "inputs", f->T, B, f->n_in, d, at);
    if (f->kind == DATA_SERIES) {
        drop(tg);
        drop(mk);
    } else {
        ok = ok && prepare(tg, "targets", f->T, B, f->n_out, d, at) && prepare(mk, "mask", f->T, B, f->n_out, d, at);
    }
    if (!ok) {
        drop(in);
        drop(tg);
        drop(mk);
    }
    return ok;
}

/* Copies example k of part `which` into batch column b (tensors zeroed). */
static void fill(const DataSet *ds, DataSplit which, int64_t k, int64_t b, Tensor *in, Tensor *tg, Tensor *mk)
{
    const DataInfo *f = &ds->info;
    int64_t T = f->T, B = in->dim[1], ni = f->n_in, no = f->n_out;
    if (f->kind == DATA_TEXT) {
        int64_t start = which == DATA_TRAIN ? k : ds->len_train + k * T;
        int64_t L = which == DATA_TRAIN ? T : ds->len - 1 - start;
        if (L > T)
            L = T;
        for (int64_t t = 0; t < L; t++) {
            int64_t row = t * B + b;
            in->data[row * ni + ds->code[start + t]] = 1;
            tg->data[row * no + ds->code[start + t + 1]] = 1;
            for (int64_t j = 0; j < no; j++)
                mk->data[row * no + j] = 1;
        }
        return;
    }
    int64_t ex = ds->order[(which == DATA_TEST ? ds->n_train : 0) + k];
    const real *src = ds->inputs->data + ex * T * ni;
    for (int64_t t = 0; t < T; t++)
        memcpy(in->data + (t * B + b) * ni, src + t * ni, (size_t)ni * sizeof(real));
    if (f->kind == DATA_IMAGES) {
        int64_t row = (T - 1) * B + b;
        tg->data[row * no + ds->labels[ex]] = 1;
        for (int64_t j = 0; j < no; j++)
            mk->data[row * no + j] = 1;
    } else if (f->kind == DATA_ARRAYS) {
        const real *ts = ds->targets->data + ex * T * no;
        for (int64_t t = 0; t < T; t++) {
            int64_t row = t * B + b;
            memcpy(tg->data + row * no, ts + t * no, (size_t)no * sizeof(real));
            for (int64_t j = 0; j < no; j++)
                mk->data[row * no + j] =
                    ds->mask ? ds->mask->data[(ex * T + t) * ds->mask_width + (ds->mask_width == 1 ? 0 : j)] : 1;
        }
    }
}

/* Starts an epoch: a fresh Fisher-Yates permutation of the part from rng. */
static void begin_epoch(Sampler *s, int64_t count, Rng *rng)
{
    if (!s->perm)
        s->perm = xmalloc((size_t)count * sizeof *s->perm);
    s->order_rng = *rng;
    for (int64_t k = 0; k < count; k++)
        s->perm[k] = (uint32_t)k;
    for (int64_t k = count - 1; k > 0; k--) {
        uint64_t j = rng_below(rng, (uint64_t)k + 1);
        uint32_t t = s->perm[k];
        s->perm[k] = s->perm[j];
        s->perm[j] = t;
    }
    s->epoch++;
    s->pos = 0;
}

static bool nonempty(const DataSet *ds, DataSplit which, Diags *d, Span at)
{
    if (ds->info.count[which] > 0)
        return true;
    diag_error(d, at, "data set '%s' has no %s examples", ds->name, split_word[which]);
    if (which == DATA_TEST)
        diag_hint(d, "add split 0.9 to its declaration to hold out a tenth for testing");
    return false;
}

bool data_batch(DataSet *ds, DataSplit which, Rng *rng, int64_t batch,
                Tensor **inputs, Tensor **targets, Tensor **mask, Diags *d, Span at)
{
    if (batch < 1 || !nonempty(ds, which, d, at)) {
        if (batch < 1)
            diag_error(d, at, "batch must be at least 1; found %lld", (long long)batch);
        drop(inputs);
        drop(targets);
        drop(mask);
        return false;
    }
    if (!prepare_all(ds, batch, inputs, targets, mask, d, at))
        return false;
    Sampler *s = &ds->smp[which];
    int64_t count = ds->info.count[which];
    for (int64_t b = 0; b < batch; b++) {
        if (s->epoch == 0 || s->pos == count)
            begin_epoch(s, count, rng);
        fill(ds, which, s->perm[s->pos++], b, *inputs, *targets, *mask);
    }
    return true;
}

DataCursor data_cursor(const DataSet *ds, DataSplit which)
{
    const Sampler *s = &ds->smp[which];
    return (DataCursor){ .order_rng = s->order_rng, .epoch = s->epoch, .pos = s->pos };
}

bool data_cursor_restore(DataSet *ds, DataSplit which, const DataCursor *c, Diags *d, Span at)
{
    int64_t count = ds->info.count[which];
    if (c->epoch < 0 || c->pos < 0 || c->pos > count || (c->epoch == 0 && c->pos != 0)) {
        diag_error(d, at, "the saved position in data set '%s' (epoch %lld, example %lld) does not fit its %lld %s "
                   "examples", ds->name, (long long)c->epoch, (long long)c->pos, (long long)count,
                   split_word[which]);
        return false;
    }
    Sampler *s = &ds->smp[which];
    if (c->epoch == 0) {
        s->epoch = s->pos = 0;
        return true;
    }
    Rng r = c->order_rng;
    begin_epoch(s, count, &r);
    s->epoch = c->epoch;
    s->pos = c->pos;
    return true;
}

DataIter data_iter(DataSet *ds, DataSplit which, int64_t batch)
{
    return (DataIter){ .ds = ds, .which = which, .batch = batch, .next = 0 };
}

int64_t data_eval_next(DataIter *it, Tensor **inputs, Tensor **targets, Tensor **mask, Diags *d, Span at)
{
    DataSet *ds = it->ds;
    int64_t count = ds->info.count[it->which];
    if (it->batch < 1) {
        diag_error(d, at, "batch must be at least 1; found %lld", (long long)it->batch);
        return -1;
    }
    if (it->next == 0 && !nonempty(ds, it->which, d, at))
        return -1;
    if (it->next >= count)
        return 0;
    int64_t B = count - it->next < it->batch ? count - it->next : it->batch;
    if (!prepare_all(ds, B, inputs, targets, mask, d, at))
        return -1;
    for (int64_t b = 0; b < B; b++)
        fill(ds, it->which, it->next + b, b, *inputs, *targets, *mask);
    it->next += B;
    return B;
}

Tensor *data_series(const DataSet *ds, Diags *d, Span at)
{
    const DataInfo *f = &ds->info;
    if (f->kind == DATA_TEXT) {
        diag_error(d, at, "data set '%s' holds text; an input series comes from npy, npz, csv or idx", ds->name);
        return NULL;
    }
    int64_t N = ds->n, T = f->T, n = f->n_in, dim[3] = { T, N, n };
    Tensor *u = tensor_new(ds->name, 3, dim, d, at);
    if (!u)
        return NULL;
    for (int64_t k = 0; k < N; k++)
        for (int64_t t = 0; t < T; t++)
            memcpy(u->data + (t * N + k) * n, ds->inputs->data + (k * T + t) * n, (size_t)n * sizeof(real));
    return u;
}

/* ---- text and scores ----------------------------------------------------- */

int data_char_index(const DataSet *ds, int byte)
{
    if (ds->info.kind != DATA_TEXT || byte < 0 || byte > 255)
        return -1;
    return ds->index[byte];
}

int data_index_char(const DataSet *ds, int64_t i)
{
    if (ds->info.kind != DATA_TEXT || i < 0 || i >= ds->V)
        return -1;
    return ds->vocab[i];
}

double data_unigram_perplexity(const DataSet *ds) { return ds->info.kind == DATA_TEXT ? ds->unigram_ppl : 0; }

void data_score_add(DataScore *s, const Tensor *logits, const Tensor *targets, const Tensor *mask)
{
    int64_t T = logits->dim[0], B = logits->dim[1], n = logits->dim[2];
    for (int64_t r = 0; r < T * B; r++) {
        const real *z = logits->data + r * n, *y = targets->data + r * n;
        bool on = !mask;
        for (int64_t j = 0; mask && j < n && !on; j++)
            on = mask->data[r * n + j] != 0;
        if (!on)
            continue;
        int64_t c = 0, best = 0;
        for (int64_t j = 1; j < n; j++) {
            if (y[j] > y[c])
                c = j;
            if (z[j] > z[best])
                best = j;
        }
        double sum = 0;
        for (int64_t j = 0; j < n; j++)
            sum += exp((double)z[j] - (double)z[best]);
        s->nll += (double)z[best] + log(sum) - (double)z[c];
        s->correct += best == c;
        s->count++;
    }
}
