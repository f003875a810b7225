/* torch_map.c: `load "lstm.npz" as torch_lstm`, PyTorch's weights into cells.
 *
 * Called by persist.c for a load with `as NAME`, after the model is built. A
 * PyTorch recurrent module stacks its gates' rows in one matrix per input and
 * keeps two biases per gate; a cell keeps one weight per gate and input and,
 * where one call site computes a gate, one bias:
 *
 *   weight_ih_l0 [4H, n_in]    rows 0..H    L.i.W_in        nn.LSTM: i, f, g, o
 *                              rows H..2H   L.f.W_in
 *                              rows 2H..3H  L.z.W_in        (g is cajal's z)
 *                              rows 3H..4H  L.o.W_in
 *   weight_hh_l0 [4H, H]       the same rows into L.i.W_h .. L.o.W_h
 *   bias_ih_l0 + bias_hh_l0    L.i.b .. L.o.b (the sum: the cell adds them anyway)
 *
 *   nn.RNN: one block of rows, h' = tanh(W_ih x + b_ih + W_hh h + b_hh), into
 *   L.h.W_in, L.h.W_h and L.h.b (the two biases summed).
 *
 *   nn.GRU: r, z, n; bias rows of r and z are summed into L.r.b, L.z.b; the
 *   candidate n = tanh(W_in x + b_in + r * (W_hn h + b_hn)) has two call sites,
 *   so bias_ih's n rows go to L.n.b_in and bias_hh's to L.n.b_h.
 *
 * Which populations: layer k fills the k-th population, in declaration order,
 * whose cell has the module's gates (found from its affine call sites and the
 * variables they define, never from the cell's name), so a user's own cell
 * written the same way loads too. Shapes are all checked before anything is
 * written: a failed load leaves the model as it was.
 */
#include "torch_map.h"

#include "io_npy.h"
#include "model.h"
#include "xalloc.h"

#include <stdio.h>
#include <string.h>

enum { MAX_GATES = 4, MAX_LAYERS = 32, NPARTS = 4 };

/* A module's gates in PyTorch's row order, as the cell variables holding them.
 * NULL marks the candidate, whatever the cell calls it (LSTM's g, cajal's z).
 * `split` is the gate whose input and recurrent parts are two call sites, or -1. */
typedef struct Mapping {
    const char *name;        /* the word after `as` */
    const char *module;      /* for messages */
    int ngates;
    const char *gates[MAX_GATES];
    int split;
    const char *cell;        /* for messages: "an LSTM cell" */
    const char *shape;       /* the cell it needs, for messages */
} Mapping;

static const Mapping mappings[] = {
    { "torch_rnn", "nn.RNN", 1, { NULL }, -1, "an RNN cell",
      "one state updated by h' = tanh(affine(in, h)) (as in stdlib/rnn.cajal)" },
    { "torch_lstm", "nn.LSTM", 4, { "i", "f", NULL, "o" }, -1, "an LSTM cell",
      "gates i, f, o and one candidate, each written affine(in, h) (as in stdlib/lstm.cajal)" },
    { "torch_gru", "nn.GRU", 3, { "r", "z", NULL }, 2, "a GRU cell",
      "gates r and z written affine(in, h) and a candidate written affine(in) + r * affine(h) (as in stdlib/gru.cajal)" },
};

void torch_map_names(char *buf, size_t n)
{
    size_t count = sizeof mappings / sizeof *mappings, len = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < count && len < n; k++)
        len += (size_t)snprintf(buf + len, n - len, "%s%s", k == 0 ? "" : k + 1 == count ? " or " : ", ", mappings[k].name);
}

/* The parameters gate g of one layer fills from each PyTorch tensor. */
typedef struct Gate {
    int w_ih, w_hh;          /* W_in [H, n_in] and W_h [H, H] */
    int b_ih, b_hh;          /* equal when one bias takes bias_ih + bias_hh */
} Gate;

typedef struct Layer {
    int pop;
    int64_t hidden, n_in;
    Gate gate[MAX_GATES];
} Layer;

/* The four tensors of a layer, in this order. */
static const char *const part_name[NPARTS] = { "weight_ih", "weight_hh", "bias_ih", "bias_hh" };

static const Mapping *find_mapping(const char *name)
{
    for (size_t k = 0; k < sizeof mappings / sizeof *mappings; k++)
        if (strcmp(mappings[k].name, name) == 0)
            return &mappings[k];
    return NULL;
}

bool torch_map_known(const char *mapping, const char **near)
{
    if (find_mapping(mapping))
        return true;
    if (near) {
        const char *names[sizeof mappings / sizeof *mappings];
        for (size_t k = 0; k < sizeof mappings / sizeof *mappings; k++)
            names[k] = mappings[k].name;
        *near = diag_closest(mapping, names, (int)(sizeof mappings / sizeof *mappings));
    }
    return false;
}

/* The variable a call site defines, read from its weight's name "L.f.W_in". */
static void site_var(const Model *m, const ModelPop *p, const AffineSite *s, char *buf, size_t n)
{
    const char *name = m->params[s->weight[0]].name + strlen(p->name) + 1;
    const char *dot = strchr(name, '.');
    size_t len = dot ? (size_t)(dot - name) : strlen(name);
    snprintf(buf, n, "%.*s", (int)(len < n ? len : n - 1), name);
}

static bool reads(const AffineSite *s, Name a, Name b)
{
    return b ? s->nargs == 2 && s->arg_name[0] == a && s->arg_name[1] == b : s->nargs == 1 && s->arg_name[0] == a;
}

/* The gate of map that variable `var` is: its index, or -1. `taken` marks the
 * slots already filled, so the candidate slot takes one variable only. */
static int gate_of(const Mapping *map, const char *var, const bool *taken)
{
    for (int g = 0; g < map->ngates; g++)
        if (map->gates[g] && strcmp(map->gates[g], var) == 0)
            return taken[g] ? -1 : g;
    for (int g = 0; g < map->ngates; g++)
        if (!map->gates[g] && !taken[g])
            return g;
    return -1;
}

/* Whether population p's cell has the module's gates; fills *out if so. */
static bool match(const Model *m, int pop, const Mapping *map, Layer *out)
{
    const ModelPop *p = &m->pops[pop];
    if (p->model->kind != D_CELL || !p->info->out || p->nsites != map->ngates + (map->split >= 0))
        return false;
    Name in = intern_cstr("in"), h = p->info->out;
    bool taken[MAX_GATES] = { false };
    memset(out, 0, sizeof *out);
    out->pop = pop;
    out->hidden = p->n;
    out->n_in = p->n_in;
    char var[64], next[64];
    for (int s = 0; s < p->nsites; s++) {
        const AffineSite *site = &p->sites[s];
        site_var(m, p, site, var, sizeof var);
        int g = gate_of(map, var, taken);
        if (g < 0)
            return false;
        taken[g] = true;
        Gate *gate = &out->gate[g];
        if (g != map->split) {
            if (!reads(site, in, h))
                return false;
            *gate = (Gate){ site->weight[0], site->weight[1], site->bias, site->bias };
            continue;
        }
        /* affine(in) + r * affine(h): two sites of one variable, in that order */
        if (s + 1 >= p->nsites || !reads(site, in, NULL) || !reads(&p->sites[s + 1], h, NULL))
            return false;
        site_var(m, p, &p->sites[s + 1], next, sizeof next);
        if (strcmp(var, next) != 0)
            return false;
        *gate = (Gate){ site->weight[0], p->sites[s + 1].weight[0], site->bias, p->sites[s + 1].bias };
        s++;
    }
    for (int g = 0; g < map->ngates; g++)
        if (!taken[g])
            return false;
    return true;
}

/* The archive's prefix before weight_ih_l0 ("" or "rnn."), or false after
 * reporting that there is none or more than one. */
static bool find_prefix(const NpzReader *r, const Mapping *map, const char *path, char *prefix, size_t n, Diags *d, Span at)
{
    const char *want = "weight_ih_l0";
    const char *found = NULL;
    int count = 0;
    for (int i = 0; i < npz_reader_count(r); i++) {
        const char *key = npz_reader_entry(r, i)->key;
        size_t k = strlen(key), w = strlen(want);
        if (strcmp(key, want) == 0 || (k > w && key[k - w - 1] == '.' && strcmp(key + k - w, want) == 0)) {
            if (count++ == 0)
                found = key;
        }
    }
    if (count == 0) {
        diag_error(d, at, "'%s' has no weight_ih_l0: %s expects the state_dict of an %s, saved with numpy.savez", path, map->name,
                   map->module);
        return false;
    }
    if (count > 1) {
        diag_error(d, at, "'%s' holds the weights of %d recurrent modules (%s and others); save the one to load on its own", path,
                   count, found);
        return false;
    }
    snprintf(prefix, n, "%.*s", (int)(strlen(found) - strlen(want)), found);
    return true;
}

static void names_of(const Model *m, const Layer *l, int ngates, int part, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int g = 0; g < ngates && len < n; g++) {
        const Gate *gt = &l->gate[g];
        int id = part == 0 ? gt->w_ih : part == 1 ? gt->w_hh : part == 2 ? gt->b_ih : gt->b_hh;
        len += (size_t)snprintf(buf + len, n - len, "%s%s", g ? ", " : "", m->params[id].name);
    }
}

/* Checks t against the rows the layer's gates stack for one part. */
static bool check_part(const Model *m, const Mapping *map, const Layer *l, int part, const char *key, const Tensor *t,
                       const char *path, Diags *d, Span at)
{
    int64_t rows = map->ngates * l->hidden;
    int64_t cols = part == 0 ? l->n_in : l->hidden;
    bool matrix = part < 2;
    bool ok = matrix ? t->rank == 2 && t->dim[0] == rows && t->dim[1] == cols : t->rank == 1 && t->dim[0] == rows;
    if (ok)
        return true;
    char got[64], want[64], names[512];
    if (matrix)
        snprintf(want, sizeof want, "[%lld, %lld]", (long long)rows, (long long)cols);
    else
        snprintf(want, sizeof want, "[%lld]", (long long)rows);
    names_of(m, l, map->ngates, part, names, sizeof names);
    diag_error(d, at, "%s in '%s' is %s, but %s stacked for %s are %s", key, path, tensor_shape_str(t, got, sizeof got), names,
               m->pops[l->pop].name, want);
    return false;
}

/* Copies rows [g H, (g + 1) H) of t into parameter id, or adds them. */
static void put_rows(Model *m, int id, const Tensor *t, int g, int64_t hidden, bool add)
{
    Tensor *v = m->params[id].value;
    const real *src = t->data + (int64_t)g * hidden * (t->rank == 2 ? t->dim[1] : 1);
    if (add) {
        for (int64_t k = 0; k < v->size; k++)
            v->data[k] += src[k];
    } else {
        memcpy(v->data, src, (size_t)v->size * sizeof(real));
    }
}

bool torch_map_load(Model *m, const char *mapping, const char *path, Diags *d, Span at)
{
    const Mapping *map = find_mapping(mapping);
    if (!map) {
        const char *near = NULL;
        torch_map_known(mapping, &near);
        if (near)
            diag_error(d, at, "unknown weight mapping '%s'; did you mean '%s'?", mapping, near);
        else
            diag_error(d, at, "unknown weight mapping '%s': cajal maps torch_rnn, torch_lstm and torch_gru", mapping);
        return false;
    }
    Layer layers[MAX_LAYERS];
    int nlayers = 0;
    char pops[256] = "";
    size_t plen = 0;
    for (int p = 0; p < m->npops && nlayers < MAX_LAYERS; p++)
        if (match(m, p, map, &layers[nlayers])) {
            if (plen < sizeof pops)
                plen += (size_t)snprintf(pops + plen, sizeof pops - plen, "%s%s", nlayers ? ", " : "", m->pops[p].name);
            nlayers++;
        }
    if (!nlayers) {
        diag_error(d, at, "no population of the model has a cell that %s fits: it needs %s", map->name, map->shape);
        return false;
    }
    NpzReader *r = npz_reader_new(path, d, at);
    if (!r)
        return false;
    char prefix[256], key[320];
    bool ok = find_prefix(r, map, path, prefix, sizeof prefix, d, at);
    int in_file = 0;
    while (ok && in_file < MAX_LAYERS) {
        snprintf(key, sizeof key, "%sweight_ih_l%d", prefix, in_file);
        if (!npz_reader_find(r, key))
            break;
        in_file++;
    }
    if (ok) {
        snprintf(key, sizeof key, "%sweight_ih_l0_reverse", prefix);
        if (npz_reader_find(r, key)) {
            diag_error(d, at, "'%s' holds a bidirectional %s; cajal's cells run forward in time only", path, map->module);
            ok = false;
        }
        snprintf(key, sizeof key, "%sweight_hr_l0", prefix);
        if (ok && npz_reader_find(r, key)) {
            diag_error(d, at, "'%s' holds an %s with proj_size (weight_hr_l0), which cajal's LSTM cell does not have", path, map->module);
            ok = false;
        }
    }
    if (ok && in_file != nlayers) {
        diag_error(d, at, "'%s' holds %d %s layer%s, but %d population%s of the model %s %s (%s)", path, in_file, map->module,
                   in_file == 1 ? "" : "s", nlayers, nlayers == 1 ? "" : "s", nlayers == 1 ? "has" : "have",
                   map->cell, pops);
        diag_hint(d, "layer k fills the k-th such population in the order they are declared");
        ok = false;
    }
    /* Read and check everything first, so a failed load changes nothing. */
    Tensor *t[MAX_LAYERS][NPARTS] = { { NULL } };
    for (int k = 0; ok && k < nlayers; k++) {
        bool have_bias[2] = { false, false };
        for (int part = 0; part < NPARTS && ok; part++) {
            snprintf(key, sizeof key, "%s%s_l%d", prefix, part_name[part], k);
            if (part >= 2 && !(have_bias[part - 2] = npz_reader_find(r, key) != NULL))
                continue;   /* bias=False: checked below */
            t[k][part] = npz_reader_read(r, key, d, at);
            ok = t[k][part] && check_part(m, map, &layers[k], part, key + strlen(prefix), t[k][part], path, d, at);
        }
        if (ok && have_bias[0] != have_bias[1]) {
            diag_error(d, at, "'%s' has %s_l%d but not %s_l%d", path, part_name[have_bias[0] ? 2 : 3], k, part_name[have_bias[0] ? 3 : 2], k);
            ok = false;
        }
    }
    for (int k = 0; ok && k < nlayers; k++) {
        const Layer *l = &layers[k];
        for (int g = 0; g < map->ngates; g++) {
            const Gate *gt = &l->gate[g];
            put_rows(m, gt->w_ih, t[k][0], g, l->hidden, false);
            put_rows(m, gt->w_hh, t[k][1], g, l->hidden, false);
            tensor_zero(m->params[gt->b_ih].value);
            tensor_zero(m->params[gt->b_hh].value);
            if (t[k][2]) {
                put_rows(m, gt->b_ih, t[k][2], g, l->hidden, true);
                put_rows(m, gt->b_hh, t[k][3], g, l->hidden, true);
            }
        }
    }
    if (ok) {
        /* Name what the mapping left unread, as a plain load does. */
        char unused[512] = "";
        size_t len = 0;
        int count = 0;
        for (int i = 0; i < npz_reader_count(r); i++) {
            const char *k = npz_reader_entry(r, i)->key;
            bool used = false;
            for (int layer = 0; layer < nlayers && !used; layer++)
                for (int part = 0; part < NPARTS && !used; part++) {
                    snprintf(key, sizeof key, "%s%s_l%d", prefix, part_name[part], layer);
                    used = strcmp(k, key) == 0;
                }
            if (!used && len < sizeof unused - 64)
                len += (size_t)snprintf(unused + len, sizeof unused - len, "%s%s", count++ ? ", " : "", k);
        }
        if (count)
            diag_note(d, at, "'%s' has keys %s does not use: %s", path, map->name, unused);
    }
    for (int k = 0; k < nlayers; k++)
        for (int part = 0; part < NPARTS; part++)
            tensor_free(t[k][part]);
    npz_reader_free(r);
    return ok;
}
