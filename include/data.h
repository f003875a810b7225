/* data.h: data sets, from a `data` declaration to batches of sequences.
 *
 *   data fm = idx("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz") as rows scale 1/255 split 0.9 shuffle
 *   data t  = text("/usr/share/common-licenses/GPL-3", seq = 100, split = 0.9)
 *   data s  = npz("trials.npz")          data u = npy("input.npy")       data c = csv("u.csv")
 *
 * The interpreter checks the declaration, evaluates the reader's arguments and
 * hands them here (data_open); the readers themselves are io_idx, io_npy,
 * io_csv. A DataSet holds every example in memory, split once into a training
 * and a test part, and gives them out time-major, as the run wants them:
 *
 *   inputs  [T, B, n_in]     targets [T, B, n_out]     mask [T, B, n_out]
 *
 * one column b per example (sequence). What an example is, per reader:
 *
 *   idx    an image [rows, cols]; `as rows` (the default; `as sequence` is the
 *          same): T = rows steps of cols inputs; `as pixels`: T = rows * cols
 *          steps of 1 input. Target: the label one-hot over the classes (max
 *          label in the labels file + 1; 10 for (Fashion-)MNIST) at the last
 *          step, mask 1 on the last step only. `scale` multiplies the pixels.
 *   text   a window of seq characters: inputs one-hot [seq, V] of characters
 *          i .. i+seq-1, targets one-hot of i+1 .. i+seq, mask 1 everywhere.
 *          Training examples: every offset i of the training part (stride 1).
 *          Test examples: windows at stride seq over the held-out part, the
 *          last one cut short and masked beyond its end, so the test windows
 *          predict each held-out character after the first exactly once.
 *   npz    inputs [N, T, n_in] and targets [N, T, n_out] from the keys
 *          "inputs" and "targets", mask from "mask" ([N, T, n_out] or [N, T])
 *          or all ones; npz(path, key = "u") reads one array as a series.
 *   npy    an input series: [T] (one channel), [T, n] (one trial) or
 *          [N, T, n] (N trials); no targets (n_out = 0).
 *   csv    an input series: the table [T, columns], rows are time steps.
 *
 * Split: examples are numbered in file order, permuted once by `shuffle`
 * (Fisher-Yates from stream rng_id(NAME) of the run's seed, so the same seed
 * and name give the same split), then the first round(F * N) train and the rest
 * are the test part. Without `split` everything trains and the test part is
 * empty. Text is never shuffled: its training part is the first round(F * len)
 * characters and the held-out part the rest, contiguous, so no window of one
 * overlaps the other.
 *
 * Batches: data_batch draws training batches in epochs. At the start of an
 * epoch it shuffles the split's examples with the caller's rng (Fisher-Yates,
 * one rng_below per example), then hands them out in that order, B at a time;
 * a batch that reaches the end of an epoch is completed from the next one. So
 * every epoch visits every example exactly once, batches are always full, and
 * the rng advances only at epoch starts. data_eval_next walks a split in order
 * for evaluation, the last batch smaller.
 */
#ifndef CAJAL_DATA_H
#define CAJAL_DATA_H

#include "diag.h"
#include "rng.h"
#include "tensor.h"
#include "value.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct DataSet DataSet;

typedef enum DataKind {
    DATA_IMAGES,       /* idx: labelled images                              */
    DATA_TEXT,         /* text: characters, next-character targets          */
    DATA_ARRAYS,       /* npz: inputs, targets and mask                     */
    DATA_SERIES,       /* npy, csv, npz(key = ...): inputs only, n_out = 0  */
} DataKind;

typedef enum DataLayout { DATA_AS_DEFAULT, DATA_AS_ROWS, DATA_AS_PIXELS, DATA_AS_SEQUENCE } DataLayout;

typedef enum DataSplit { DATA_TRAIN, DATA_TEST } DataSplit;

/* One evaluated argument of the reader call, defaults filled in. */
typedef struct DataArg {
    const char *name;        /* the parameter: "images", "labels", "path", "seq", "split", "key", "limit" */
    Value value;
    Span span;               /* the argument as written; the call for a default */
} DataArg;

/* The clauses after the call; {0} with scale 1 means none. */
typedef struct DataClauses {
    DataLayout as;           /* DATA_AS_DEFAULT when absent */
    bool has_scale;
    double scale;
    bool has_split;
    double split;            /* training fraction, in (0, 1) */
    bool shuffle;
    bool has_limit;
    int64_t limit;           /* > 0: keep only the first `limit` examples (text: characters) */
    Span as_span, scale_span, split_span, shuffle_span, limit_span;
} DataClauses;

typedef struct DataInfo {
    const char *name;        /* the declared name, owned by the set */
    const char *reader;      /* "idx", "text", "npz", "npy", "csv" */
    DataKind kind;
    int64_t T;               /* steps per example */
    int64_t n_in, n_out;     /* n_out is 0 for a series */
    int64_t count[2];        /* examples in DATA_TRAIN and DATA_TEST */
    int64_t classes;         /* idx: label classes (= n_out); text: V (= n_in = n_out); else 0 */
} DataInfo;

/* Reads the files of `data NAME = READER(args) clauses` and builds the set.
 * seed is the run's seed (for `shuffle`). An argument named "limit" (a whole
 * number >= 0), if the reader lists one, acts as the clause's limit; the clause,
 * when written, wins over it (as split's clause does over text's argument). Returns a
 * set the caller frees with data_free, or NULL with errors located at the
 * arguments and clauses (or at `at`, the declaration): a missing or unreadable
 * file, a wrong IDX magic, images and labels counts that disagree, an .npz
 * without the needed keys, arrays whose shapes disagree, CSV rows that disagree,
 * a text file that is empty or shorter than seq + 1 characters, a split outside
 * (0, 1) or one that leaves a part empty, a clause that does not apply to the
 * reader. Nothing is left allocated on failure. */
DataSet *data_open(const char *name, const char *reader, const DataArg *args, int nargs,
                   const DataClauses *cl, uint64_t seed, Diags *d, Span at);
void data_free(DataSet *ds);

/* Sizes and kind; valid while the set lives. */
const DataInfo *data_info(const DataSet *ds);

/* "idx: 1800 training and 200 test sequences of 28 steps x 28 inputs, 10 classes"
 * into buf; returns buf. */
const char *data_describe(const DataSet *ds, char *buf, size_t n);

/* The next training batch of `batch` examples from split `which` (usually
 * DATA_TRAIN), drawn by epochs as described above; rng is advanced only when an
 * epoch starts. Results are time-major [T, batch, n]. Each of *inputs, *targets,
 * *mask may hold a tensor the caller got from an earlier call: when its shape
 * is right it is refilled in place (no allocation), otherwise it is freed and
 * replaced by a new one. The caller owns the tensors. A series has no targets:
 * *targets and *mask are then set to NULL. Returns false with an error at `at`
 * when the split is empty, batch < 1, or memory is refused; the tensors are
 * then freed and set to NULL. */
bool data_batch(DataSet *ds, DataSplit which, Rng *rng, int64_t batch,
                Tensor **inputs, Tensor **targets, Tensor **mask, Diags *d, Span at);

/* Where the epoch sampler of one split stands, for checkpoints: the rng state
 * that shuffled the current epoch, the epoch number (0 before the first batch)
 * and the examples of it already handed out. Restoring re-draws that epoch's
 * order from `order_rng`, so training resumes with exactly the batches it would
 * have drawn. data_cursor_restore returns false with an error when pos does not
 * fit the split. */
typedef struct DataCursor {
    Rng order_rng;
    int64_t epoch, pos;
} DataCursor;

DataCursor data_cursor(const DataSet *ds, DataSplit which);
bool data_cursor_restore(DataSet *ds, DataSplit which, const DataCursor *c, Diags *d, Span at);

/* Evaluation: every example of a split once, in split order.
 *
 *   DataIter it = data_iter(ds, DATA_TEST, 256);
 *   while ((b = data_eval_next(&it, &in, &tg, &mask, d, at)) > 0) ...
 *
 * Returns the batch size B (the last batch may be smaller; tensors are resized
 * as in data_batch), 0 when the split is done, -1 with an error. */
typedef struct DataIter {
    DataSet *ds;
    DataSplit which;
    int64_t batch, next;
} DataIter;

DataIter data_iter(DataSet *ds, DataSplit which, int64_t batch);
int64_t data_eval_next(DataIter *it, Tensor **inputs, Tensor **targets, Tensor **mask, Diags *d, Span at);

/* The whole set as one input series [T, N, n_in], examples in file order
 * (neither split nor shuffled), for `simulate ... with u = NAME`. Caller owns
 * it. NULL with an error for text (characters are not a series) or when memory
 * is refused. */
Tensor *data_series(const DataSet *ds, Diags *d, Span at);

/* Text sets: the vocabulary, the distinct bytes of the file in ascending order.
 * data_char_index gives a byte's index (-1 if the file never has it),
 * data_index_char the byte at index i in [0, V). Both -1 for other kinds. */
int data_char_index(const DataSet *ds, int byte);
int data_index_char(const DataSet *ds, int64_t i);

/* Text sets: the perplexity of the held-out characters the test windows predict
 * (all but the first) under the training part's single-character frequencies
 * with add-one smoothing,
 *
 *     p(c) = (count_train(c) + 1) / (len_train + V),   ppl = exp(-mean log p(c)),
 *
 * the baseline a character model must beat. 0 for other kinds. */
double data_unigram_perplexity(const DataSet *ds);

/* Scores of one-hot targets (idx, text, npz of one-hot targets), summed over
 * batches: at each (t, b) where some mask entry is non-zero, the negative
 * log-likelihood of the target class (the argmax of targets) under
 * softmax(logits), and whether argmax(logits) is that class.
 *
 *   accuracy = correct / count,   cross-entropy = nll / count,   perplexity = exp(nll / count)
 *
 * logits, targets and mask are [T, B, n_out]; mask may be NULL (all ones). */
typedef struct DataScore {
    double nll;
    int64_t count, correct;
} DataScore;

void data_score_add(DataScore *s, const Tensor *logits, const Tensor *targets, const Tensor *mask);

#endif
