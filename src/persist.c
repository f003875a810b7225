/* persist.c: save and load, in the formats people already use.
 *
 *   save "run.npz"             every parameter and recording, keys as print names
 *                              them: J.w [post, pre], Jlr.m, E.r [time, batch, n],
 *                              and `time` [samples] in seconds
 *   save E.r to "r.npy"        one array (.npy or .csv)
 *   load "net.npz"             parameters whose keys match, shapes checked
 *   load "w.npy" into J.w      one array into one parameter
 *
 * Signed weights are saved and loaded as magnitudes (what print shows). A sparse
 * synapse is saved dense when that is small, else as scipy's CSR triple
 * (NAME.data, NAME.indices, NAME.indptr). Files are written atomically.
 */
#include "io_csv.h"
#include "io_npy.h"
#include "runtime.h"
#include "torch_map.h"
#include "xalloc.h"

#include <string.h>

enum { DENSE_SPARSE_UP_TO = 4 * 1000 * 1000 };

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static Tensor *dense_of(const ModelParam *p, Diags *d, Span at)
{
    Tensor *t = tensor_new2(p->name, p->csr->rows, p->csr->cols, d, at);
    if (!t)
        return NULL;
    for (int64_t i = 0; i < p->csr->rows; i++)
        for (int64_t k = p->csr->row_ptr[i]; k < p->csr->row_ptr[i + 1]; k++)
            t->data[i * p->csr->cols + p->csr->col_idx[k]] = p->value->data[k];
    return t;
}

static bool add_param(NpzWriter *w, const ModelParam *p, Diags *d, Span at)
{
    if (!p->csr)
        return npz_writer_add(w, p->name, p->value, d, at);
    if (p->csr->rows * p->csr->cols <= DENSE_SPARSE_UP_TO) {
        Tensor *t = dense_of(p, d, at);
        bool ok = t && npz_writer_add(w, p->name, t, d, at);
        tensor_free(t);
        return ok;
    }
    char key[512];
    int64_t nnz = p->csr->nnz, rows1 = p->csr->rows + 1;
    Tensor *idx = tensor_new("indices", 1, &nnz, d, at), *ptr = tensor_new("indptr", 1, &rows1, d, at);
    bool ok = idx && ptr;
    for (int64_t k = 0; ok && k < nnz; k++)
        idx->data[k] = (real)p->csr->col_idx[k];
    for (int64_t k = 0; ok && k < rows1; k++)
        ptr->data[k] = (real)p->csr->row_ptr[k];
    snprintf(key, sizeof key, "%s.data", p->name);
    ok = ok && npz_writer_add(w, key, p->value, d, at);
    snprintf(key, sizeof key, "%s.indices", p->name);
    ok = ok && npz_writer_add(w, key, idx, d, at);
    snprintf(key, sizeof key, "%s.indptr", p->name);
    ok = ok && npz_writer_add(w, key, ptr, d, at);
    tensor_free(idx);
    tensor_free(ptr);
    return ok;
}

bool persist_save(Runtime *rt, const Env *env, const Node *st, Diags *d)
{
    if (!runtime_model(rt, env, d, st->span))
        return false;
    if (st->op == 1) {
        /* save grads "g.npz": the gradients of the last training batch */
        if (!rt->has_grads) {
            diag_error(d, st->span, "there are no gradients to save: nothing has been trained");
            return false;
        }
        NpzWriter *w = npz_writer_new(st->text, d, st->span);
        bool ok = w != NULL;
        for (int i = 0; ok && i < rt->model->nparams; i++)
            if (rt->model->params[i].learn && rt->model->params[i].grad)
                ok = npz_writer_add(w, rt->model->params[i].name, rt->model->params[i].grad, d, st->span);
        if (!ok) {
            if (w)
                npz_writer_abort(w);
            return false;
        }
        return npz_writer_commit(w, d, st->span);
    }
    const char *path = st->text;
    Model *m = rt->model;
    bool npz = ends_with(path, ".npz");
    if (st->list.n == 0 && !npz) {
        diag_error(d, st->span, "save with no list writes every parameter and recording into a .npz file; for one array write save E.r to \"%s\"", path);
        return false;
    }
    if (!npz && !ends_with(path, ".npy") && !ends_with(path, ".csv")) {
        diag_error(d, st->span, "cannot tell the format of '%s': use .npz, .npy or .csv", path);
        return false;
    }
    if (!npz) {
        if (st->list.n != 1) {
            diag_error(d, st->span, "a %s file holds one array; save several into a .npz file", ends_with(path, ".npy") ? ".npy" : ".csv");
            return false;
        }
        Tensor *t = NULL;
        if (!inspect_value_tensor(rt, env, st->list.v[0], &t, d))
            return false;
        bool ok = ends_with(path, ".npy") ? npy_save(path, t, d, st->span) : csv_write(path, t, NULL, d, st->span);
        tensor_free(t);
        return ok;
    }
    NpzWriter *w = npz_writer_new(path, d, st->span);
    if (!w)
        return false;
    bool ok = true;
    if (st->list.n == 0) {
        for (int i = 0; i < m->nparams && ok; i++)
            ok = add_param(w, &m->params[i], d, st->span);
        for (int i = 0; i < rt->nrecs && ok; i++)
            ok = npz_writer_add(w, rt->recs[i].name, rt->recs[i].data, d, st->span);
        if (ok && rt->nrecs)
            ok = npz_writer_add(w, "time", rt->times, d, st->span);
        /* the loss curve of the last training: loss.step and loss.TERM */
        const LossCurve *c = &rt->loss;
        for (int k = -1; ok && c->n && k < c->nterms; k++) {
            int64_t n = c->n;
            Tensor *t = tensor_new("loss", 1, &n, d, st->span);
            ok = t != NULL;
            for (int64_t i = 0; ok && i < n; i++)
                t->data[i] = (real)(k < 0 ? c->step[i] : c->value[k * c->cap + i]);
            char key[256];
            snprintf(key, sizeof key, "loss.%s", k < 0 ? "step" : c->names[k]);
            ok = ok && npz_writer_add(w, key, t, d, st->span);
            tensor_free(t);
        }
    } else {
        for (int i = 0; i < st->list.n && ok; i++) {
            Tensor *t = NULL;
            const Node *e = st->list.v[i];
            ok = inspect_value_tensor(rt, env, e, &t, d);
            if (ok) {
                char key[256];
                snprintf(key, sizeof key, "%.*s", (int)e->span.len, e->span.file->text + e->span.off);
                ok = npz_writer_add(w, key, t, d, e->span);
            }
            tensor_free(t);
        }
    }
    if (!ok) {
        npz_writer_abort(w);
        return false;
    }
    return npz_writer_commit(w, d, st->span);
}

static bool shape_matches(const Tensor *a, const Tensor *b)
{
    if (a->size != b->size)
        return false;
    if (a->rank == b->rank) {
        for (int k = 0; k < a->rank; k++)
            if (a->dim[k] != b->dim[k])
                return false;
        return true;
    }
    return false;
}

/* Checks that t fits parameter p: its shape (a sparse synapse's is [post, pre])
 * and, under Dale's law, that it holds magnitudes (>= 0) as print and save show
 * them. Returns false with a diagnostic, leaving p as it was. */
static bool load_fits(const ModelParam *p, const Tensor *t, const char *from, Diags *d, Span at)
{
    char want[64], got[64];
    if (p->csr ? !(t->rank == 2 && t->dim[0] == p->csr->rows && t->dim[1] == p->csr->cols) : !shape_matches(t, p->value)) {
        if (p->csr)
            snprintf(want, sizeof want, "[%lld, %lld]", (long long)p->csr->rows, (long long)p->csr->cols);
        else
            tensor_shape_str(p->value, want, sizeof want);
        diag_error(d, at, "%s in '%s' is %s, but %s is %s", p->name, from, tensor_shape_str(t, got, sizeof got), p->name, want);
        return false;
    }
    if (p->sign) {
        int64_t bad = 0;
        for (int64_t i = 0; i < t->size; i++)
            bad += !(t->data[i] >= 0);
        if (bad) {
            const char *dot = strrchr(p->name, '.');
            diag_error(d, at, "%s in '%s' has %lld negative or NaN value%s; synapse %.*s has sign %c, so %s holds magnitudes (>= 0)",
                       p->name, from, (long long)bad, bad == 1 ? "" : "s", dot ? (int)(dot - p->name) : (int)strlen(p->name),
                       p->name, p->sign > 0 ? '+' : '-', p->name);
            diag_hint(d, "the effective weight is %s%s; save writes and load reads w itself", p->sign > 0 ? "" : "-", p->name);
            return false;
        }
    }
    return true;
}

/* Copies t into parameter p (load_fits first); keeps Dale's sign, masks and
 * sparse patterns, with a note counting the nonzero values they drop. */
static bool load_into(ModelParam *p, const Tensor *t, const char *from, Diags *d, Span at)
{
    if (!load_fits(p, t, from, d, at))
        return false;
    int64_t nonzero = 0, kept = 0;
    for (int64_t i = 0; i < t->size; i++)
        nonzero += t->data[i] != 0;
    if (p->csr) {
        for (int64_t i = 0; i < p->csr->rows; i++)
            for (int64_t k = p->csr->row_ptr[i]; k < p->csr->row_ptr[i + 1]; k++) {
                p->value->data[k] = t->data[i * p->csr->cols + p->csr->col_idx[k]];
                kept += p->value->data[k] != 0;
            }
    } else {
        memcpy(p->value->data, t->data, (size_t)t->size * sizeof(real));
        model_constrain_param(p);
        for (int64_t i = 0; i < t->size; i++)
            kept += p->value->data[i] != 0;
    }
    if (kept < nonzero)
        fprintf(stderr, "note: %lld of the %lld nonzero values in '%s' fall outside %s's connections (%s) and are dropped\n",
                (long long)(nonzero - kept), (long long)nonzero, from, p->name,
                p->csr || p->mask ? (p->no_self ? "p and no_self" : "p") : "no_self");
    return true;
}

bool persist_load(Runtime *rt, const Env *env, const Node *st, Diags *d)
{
    if (st->name) {
        if (!runtime_model(rt, env, d, st->span))
            return false;
        return torch_map_load(rt->model, st->name, st->text, d, st->span);
    }
    if (!runtime_model(rt, env, d, st->span))
        return false;
    Model *m = rt->model;
    const char *path = st->text;
    if (st->a) {
        const Node *e = st->a;
        char name[256];
        if (e->kind == AST_MEMBER && e->a->kind == AST_NAME)
            snprintf(name, sizeof name, "%s.%s", e->a->name, e->name);
        else
            snprintf(name, sizeof name, "%.*s", (int)e->span.len, e->span.file->text + e->span.off);
        int p = model_find_param(m, name);
        int s = p < 0 ? model_find_state(m, name) : -1;
        if (p < 0 && s < 0) {
            diag_error(d, e->span, "'%s' is not a parameter or a state variable of the model (load into weights such as J.w, drawn neuron parameters, or states such as E.x)", name);
            return false;
        }
        Tensor *t = NULL;
        if (ends_with(path, ".csv")) {
            CsvTable table;
            if (!csv_read(path, &table, d, st->span))
                return false;
            t = table.t;
            table.t = NULL;
            csv_table_fini(&table);
            if (t && t->rank == 2 && (t->dim[1] == 1 || t->dim[0] == 1) && (p < 0 || m->params[p].value->rank == 1)) {
                t->rank = 1;
                t->dim[0] = t->size;
                t->dim[1] = 1;
            }
        } else if (ends_with(path, ".npy")) {
            t = npy_load(path, d, st->span);
        } else {
            diag_error(d, st->span, "load ... into takes a .npy or .csv file");
            return false;
        }
        if (!t)
            return false;
        bool ok;
        if (p >= 0) {
            ok = load_into(&m->params[p], t, path, d, st->span);
        } else {
            /* a state: [n] for one trial, or [B, n]; the next `simulate ... continue` starts there */
            ModelState *ms = &m->states[s];
            int64_t B = t->rank == 1 ? 1 : t->dim[0];
            ok = (t->rank == 1 || t->rank == 2) && t->dim[t->rank - 1] == ms->n;
            if (!ok) {
                char got[64];
                diag_error(d, st->span, "%s in '%s' is %s, but %s has %lld neurons (give [n] or [batch, n])", name, path,
                           tensor_shape_str(t, got, sizeof got), name, (long long)ms->n);
            } else if (rt->batch && rt->batch != B) {
                diag_error(d, st->span, "%s in '%s' has %lld trials, but the model's state has %lld", name, path, (long long)B,
                           (long long)rt->batch);
                ok = false;
            } else {
                /* every state needs a value for continue: draw the others' starts */
                for (int k = 0; k < m->nstates && ok; k++) {
                    if (m->states[k].value)
                        continue;
                    int64_t dim[2] = { B, m->states[k].n };
                    m->states[k].value = tensor_new(m->states[k].name, 2, dim, d, st->span);
                    ok = m->states[k].value && model_draw_init(m, env, k, "load", m->states[k].value->data, B, d);
                }
                if (ok) {
                    memcpy(ms->value->data, t->data, (size_t)t->size * sizeof(real));
                    rt->batch = B;
                }
            }
        }
        tensor_free(t);
        return ok;
    }
    if (!ends_with(path, ".npz")) {
        diag_error(d, st->span, "load \"%s\" needs a .npz file of parameters; for one array write load \"%s\" into J.w", path, path);
        return false;
    }
    NpzReader *r = npz_reader_new(path, d, st->span);
    if (!r)
        return false;
    bool ok = true;
    int loaded = 0;
    char ignored[512] = "";
    size_t len = 0;
    /* Check every shape first, so a failed load changes nothing. */
    for (int pass = 0; pass < 2 && ok; pass++)
        for (int i = 0; i < npz_reader_count(r) && ok; i++) {
            const NpzEntry *en = npz_reader_entry(r, i);
            int p = model_find_param(m, en->key);
            if (p < 0) {
                bool recorded = false;
                for (int k = 0; k < rt->nrecs; k++)
                    recorded |= strcmp(rt->recs[k].name, en->key) == 0;
                if (pass == 0 && strcmp(en->key, "time") != 0 && !recorded && len < sizeof ignored - 64)
                    len += (size_t)snprintf(ignored + len, sizeof ignored - len, "%s%s", len ? ", " : "", en->key);
                continue;
            }
            Tensor *t = npz_reader_read(r, en->key, d, st->span);
            if (!t) {
                ok = false;
                break;
            }
            if (pass == 0) {
                ok = load_fits(&m->params[p], t, path, d, st->span);
            } else {
                ok = load_into(&m->params[p], t, path, d, st->span);
                loaded += ok;
            }
            tensor_free(t);
        }
    npz_reader_free(r);
    if (ok && len)
        fprintf(stderr, "note: '%s' has keys the model does not use: %s\n", path, ignored);
    if (ok && !loaded && !len)
        fprintf(stderr, "note: '%s' holds no parameters\n", path);
    return ok;
}
