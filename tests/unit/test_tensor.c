/* test_tensor.c: allocation, alignment, zeroing, size checks and views of tensors. */
#include "check.h"
#include "tensor.h"
#include "xalloc.h"

#include <stdint.h>
#include <stdlib.h>

static int has_error(const Diags *d, const char *text)
{
    for (int k = 0; k < d->n; k++)
        if (d->v[k].level == DIAG_ERROR && strstr(d->v[k].msg, text))
            return 1;
    return 0;
}

static void test_new(void)
{
    Diags d;
    diags_init(&d);
    int64_t dim[3] = { 2, 3, 5 };
    Tensor *t = tensor_new("E.x", 3, dim, &d, span_none());
    CHECK(t != NULL);
    CHECK_INT(d.errors, 0);
    CHECK_INT(t->rank, 3);
    CHECK_INT(t->size, 30);
    CHECK_INT(t->dim[3], 1);
    CHECK(t->owner);
    CHECK_STR(t->name, "E.x");
    CHECK_INT((uintptr_t)t->data % 64, 0);
    int nonzero = 0;
    for (int64_t k = 0; k < t->size; k++)
        nonzero += t->data[k] != 0;
    CHECK_INT(nonzero, 0);
    char buf[64];
    CHECK_STR(tensor_shape_str(t, buf, sizeof buf), "[2, 3, 5]");

    for (int64_t k = 0; k < t->size; k++)
        t->data[k] = (real)k;
    Tensor *c = tensor_clone(t, &d, span_none());
    CHECK(c != NULL && c->data != t->data);
    CHECK(tensor_same_shape(c, t));
    CHECK(c->data[29] == 29);
    tensor_zero(c);
    CHECK(c->data[29] == 0);
    tensor_copy(c, t);
    CHECK(c->data[7] == 7);
    tensor_free(c);
    tensor_free(t);
    tensor_free(NULL);

    Tensor *s = tensor_new("g", 0, NULL, &d, span_none());
    CHECK(s != NULL);
    CHECK_INT(s->size, 1);
    CHECK_STR(tensor_shape_str(s, buf, sizeof buf), "[]");
    tensor_free(s);

    Tensor *e = tensor_new2("empty", 0, 4, &d, span_none());
    CHECK(e != NULL && e->data != NULL);
    CHECK_INT(e->size, 0);
    tensor_free(e);

    /* Unaligned sizes still give aligned, zeroed buffers. */
    for (int64_t n = 1; n < 40; n += 3) {
        real *p = tensor_alloc_real(n);
        CHECK_INT((uintptr_t)p % 64, 0);
        CHECK(p[n - 1] == 0);
        tensor_free_real(p);
    }
    CHECK_INT(d.errors, 0);
    diags_fini(&d);
}

static void test_limits(void)
{
    Diags d;
    diags_init(&d);
    Tensor *t = tensor_new2("J.w", 100000, 100000, &d, span_none());
    CHECK(t == NULL);
    CHECK_INT(d.errors, 1);
    if (sizeof(real) == 8)
        CHECK(has_error(&d, "tensor 'J.w' of [100000, 100000] needs 80.0 GB, more than the limit of 16.0 GB"));
    else
        CHECK(has_error(&d, "tensor 'J.w' of [100000, 100000] needs 40.0 GB, more than the limit of 16.0 GB"));

    /* A product that overflows int64 is a diagnostic too. */
    int64_t huge[4] = { INT64_C(1) << 40, INT64_C(1) << 40, 1 << 20, 3 };
    CHECK(tensor_new("big", 4, huge, &d, span_none()) == NULL);
    CHECK_INT(d.errors, 2);
    CHECK(has_error(&d, "tensor 'big' of [1099511627776, 1099511627776, 1048576, 3] needs"));

    int64_t neg[2] = { 3, -1 };
    CHECK(tensor_new("w", 2, neg, &d, span_none()) == NULL);
    CHECK(has_error(&d, "tensor 'w' of [3, -1] has a negative dimension"));

    int64_t five[5] = { 1, 1, 1, 1, 1 };
    CHECK(tensor_new("r", 5, five, &d, span_none()) == NULL);
    CHECK(has_error(&d, "tensor 'r' has 5 dimensions, more than the 4 cajal supports"));

    /* The limit is a variable tests can lower. */
    int64_t old = tensor_max_bytes;
    tensor_max_bytes = 1000;
    diags_clear(&d);
    Tensor *ok = tensor_new2("x", 5, 25, &d, span_none());   /* 1000 bytes in double */
    CHECK(ok != NULL);
    tensor_free(ok);
    CHECK(tensor_new2("x", 10, 26, &d, span_none()) == NULL);
    CHECK(has_error(&d, "more than the limit of 1.0 kB"));
    tensor_max_bytes = old;

    Tensor emb;
    CHECK(!tensor_init(&emb, "J.w", 2, (int64_t[]){ 100000, 100000 }, &d, span_none()));
    CHECK(emb.data == NULL);
    tensor_fini(&emb);
    diags_fini(&d);
}

static void test_views_and_counts(void)
{
    Diags d;
    diags_init(&d);
    unsigned long before = xalloc_count;
    Tensor t;
    CHECK(tensor_init(&t, "buf", 2, (int64_t[]){ 3, 4 }, &d, span_none()));
    CHECK(xalloc_count == before + 1);

    /* A view borrows: no allocation, and finishing it leaves the data alone. */
    unsigned long mid = xalloc_count;
    Tensor v = tensor_view(t.data + 4, 1, (int64_t[]){ 4 });
    CHECK(!v.owner);
    CHECK_INT(v.size, 4);
    v.data[0] = 42;
    tensor_fini(&v);
    CHECK(xalloc_count == mid);
    CHECK(t.data[4] == 42);

    Shape s = tensor_shape(&t), u = tensor_shape_make(2, (int64_t[]){ 3, 4 });
    CHECK(tensor_shape_eq(&s, &u));
    CHECK_INT(tensor_shape_size(&s), 12);
    u.dim[1] = 5;
    CHECK(!tensor_shape_eq(&s, &u));
    char buf[8];
    tensor_shape_fmt(&(Shape){ 2, { 123456, 7 } }, buf, sizeof buf);   /* truncated, terminated */
    CHECK(strlen(buf) < sizeof buf);

    Tensor *n = tensor_new_shape("s", &s, &d, span_none());
    CHECK(n && n->size == 12);
    tensor_free(n);
    tensor_fini(&t);
    CHECK(t.data == NULL);
    CHECK_INT(d.errors, 0);
    diags_fini(&d);
}

int main(void)
{
    test_new();
    test_limits();
    test_views_and_counts();
    return check_done("test_tensor");
}
