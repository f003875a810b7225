/* ops_table.c: assembles the op table from ops.def and the per-file entries.
 *
 * Each src/ops_<file>.c defines ops_<file>_table[OP_COUNT] with designated
 * initializers for its own ops; ops.def says which file holds each op. The first
 * ops_get() copies every entry and adds what ops.def states (kind, name, arity,
 * formula), so the list in ops.def is the only place those are written. Also the
 * shape helpers every op file shares.
 */
#include "ops.h"

#include <assert.h>
#include <string.h>
#include <threads.h>

static const struct {
    const char *name;
    int min_in, max_in;
    const char *formula;
    const Op *entry;
} defs[OP_COUNT] = {
#define OP(kind, name_, file, min_in_, max_in_, formula_) \
    [OP_##kind] = { name_, min_in_, max_in_, formula_, &ops_##file##_table[OP_##kind] },
#include "ops.def"
#undef OP
};

_Static_assert(sizeof defs / sizeof defs[0] == OP_COUNT, "ops.def and OpKind disagree");

static Op table[OP_COUNT];
static once_flag table_once = ONCE_FLAG_INIT;

static void build_table(void)
{
    for (int k = 0; k < OP_COUNT; k++) {
        table[k] = *defs[k].entry;
        table[k].kind = (OpKind)k;
        table[k].name = defs[k].name;
        table[k].min_in = defs[k].min_in;
        table[k].arity = defs[k].max_in;
        table[k].formula = defs[k].formula;
        /* An entry missing from the file ops.def names has no shape rule. */
        assert(table[k].shape && table[k].fwd);
        assert((table[k].vjp == NULL) == (table[k].nondiff != NULL));
    }
}

const Op *ops_get(OpKind kind)
{
    assert(kind >= 0 && kind < OP_COUNT);
    call_once(&table_once, build_table);
    return &table[kind];
}

const Op *ops_find(const char *name)
{
    for (int k = 0; k < OP_COUNT; k++)
        if (strcmp(defs[k].name, name) == 0)
            return ops_get((OpKind)k);
    return NULL;
}

bool ops_shape(const Op *op, int n_in, const Shape *in, const OpAttr *attr, Shape *out, Diags *d,
               Span at)
{
    if (n_in < op->min_in || n_in > op->arity) {
        if (op->min_in == op->arity)
            diag_error(d, at, "'%s' takes %d input%s, got %d", op->name, op->arity,
                       op->arity == 1 ? "" : "s", n_in);
        else
            diag_error(d, at, "'%s' takes %d to %d inputs, got %d", op->name, op->min_in, op->arity,
                       n_in);
        return false;
    }
    static const OpAttr none;
    return op->shape(op, n_in, in, attr ? attr : &none, out, d, at);
}

const OpAttr *ops_attr(const OpCall *c)
{
    static const OpAttr none;
    return c->attr ? c->attr : &none;
}

bool ops_same_shape(const Op *op, int n_in, const Shape *in, const OpAttr *attr, Shape *out,
                    Diags *d, Span at)
{
    *out = in[0];
    return true;
}
