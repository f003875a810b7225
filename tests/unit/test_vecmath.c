/* test_vecmath.c: accuracy of vecmath's exp, tanh and sigmoid against libm.
 *
 * A dense sweep: every 211th float bit pattern of [-200, 200] for float (10 million
 * points), a log-spaced and a uniform sweep for double, and the special values
 * (+-0, subnormals, +-Inf, NaN, the clamp edges). The reference is the long double
 * libm function. Relative error is measured where the true result is a normal
 * number; a subnormal result may flush to zero (vecmath.h).
 */
#include "check.h"
#include "vecmath.h"

#include <float.h>
#include <stdint.h>
#include <stdlib.h>

enum { FN_EXP, FN_TANH, FN_SIGMOID, FN_COUNT };
static const char *const fn_name[FN_COUNT] = { "exp", "tanh", "sigmoid" };

static long double reference(int fn, long double x)
{
    switch (fn) {
    case FN_EXP: return expl(x);
    case FN_TANH: return tanhl(x);
    default: return 1.0L / (1.0L + expl(-x));
    }
}

static void run_f(int fn, int64_t n, float *y, const float *x)
{
    if (fn == FN_EXP)
        vecmath_exp_f(n, y, x);
    else if (fn == FN_TANH)
        vecmath_tanh_f(n, y, x);
    else
        vecmath_sigmoid_f(n, y, x);
}

static void run_d(int fn, int64_t n, double *y, const double *x)
{
    if (fn == FN_EXP)
        vecmath_exp_d(n, y, x);
    else if (fn == FN_TANH)
        vecmath_tanh_d(n, y, x);
    else
        vecmath_sigmoid_d(n, y, x);
}

typedef struct Worst {
    double rel;       /* largest relative error over normal results */
    double at;        /* where */
    int bad_special;  /* wrong NaN / Inf / sign / subnormal results */
} Worst;

/* Folds one result into w; eps_min is the smallest normal of the type. */
static void judge(Worst *w, double x, double y, long double ref, double normal_min, double max)
{
    if (isnan(ref) || isnan(y)) {
        w->bad_special += isnan(ref) != isnan(y);
        return;
    }
    if (fabsl(ref) > max) {      /* overflows the type: must be Inf of the right sign */
        w->bad_special += !(isinf(y) && !signbit(y) == !signbit(ref));
        return;
    }
    if (fabsl(ref) < normal_min) {
        w->bad_special += !(fabs(y) <= normal_min) || (y != 0 && !signbit(y) != !signbit(ref));
        return;
    }
    double rel = (double)(fabsl((long double)y - ref) / fabsl(ref));
    if (!(rel <= w->rel))
        w->rel = rel, w->at = x;
}

/* Float: a sweep over bit patterns, then the special values. */
static void test_float(void)
{
    enum { N = 1 << 16 };
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    for (int fn = 0; fn < FN_COUNT; fn++) {
        Worst w = { 0, 0, 0 };
        int64_t count = 0;
        const uint32_t step = 211, top = 0x43480000u;   /* 200.0f */
        for (int sign = 0; sign < 2; sign++) {
            uint32_t u = 0;
            while (u <= top) {
                int m = 0;
                for (; m < N && u <= top; m++, u += step) {
                    uint32_t b = u | (uint32_t)sign << 31;
                    memcpy(&x[m], &b, sizeof b);
                }
                run_f(fn, m, y, x);
                for (int k = 0; k < m; k++)
                    judge(&w, x[k], y[k], reference(fn, x[k]), FLT_MIN, FLT_MAX);
                count += m;
            }
        }
        printf("float %-8s %lld points, max relative error %.4g at x = %.4g\n", fn_name[fn],
               (long long)count, w.rel, w.at);
        CHECK(w.rel <= 1e-6);
        CHECK_INT(w.bad_special, 0);
    }

    const float special[] = { 0.0f, -0.0f, 1e-45f, -1e-45f, 1e-38f, -1e-30f, 1e-7f, INFINITY, -INFINITY,
                              NAN, -NAN, 9.0f, -9.0f, 9.0001f, 88.7f, 88.72f, 88.73f, 89.0f, 90.0f,
                              -87.0f, -87.5f, -88.0f, -89.0f, -103.0f, -104.0f, -105.0f, 1e30f, -1e30f,
                              FLT_MAX, -FLT_MAX };
    enum { NS = sizeof special / sizeof special[0] };
    float ys[NS];
    for (int fn = 0; fn < FN_COUNT; fn++) {
        Worst w = { 0, 0, 0 };
        run_f(fn, NS, ys, special);
        for (int k = 0; k < NS; k++)
            judge(&w, special[k], ys[k], reference(fn, special[k]), FLT_MIN, FLT_MAX);
        CHECK(w.rel <= 1e-6);
        CHECK_INT(w.bad_special, 0);
    }
    /* Signs and exact values where they are defined. */
    float z[2] = { 0.0f, -0.0f }, out[2];
    vecmath_tanh_f(2, out, z);
    CHECK(out[0] == 0 && !signbit(out[0]) && out[1] == 0 && signbit(out[1]));
    vecmath_exp_f(2, out, z);
    CHECK(out[0] == 1 && out[1] == 1);
    vecmath_sigmoid_f(2, out, z);
    CHECK(out[0] == 0.5f && out[1] == 0.5f);
    float inf[2] = { INFINITY, -INFINITY };
    vecmath_tanh_f(2, out, inf);
    CHECK(out[0] == 1 && out[1] == -1);
    vecmath_sigmoid_f(2, out, inf);
    CHECK(out[0] == 1 && out[1] == 0);
    vecmath_exp_f(2, out, inf);
    CHECK(isinf(out[0]) && out[0] > 0 && out[1] == 0);
    /* In place, and lengths that are not a multiple of the block. */
    for (int n = 1; n < 70; n += 5) {
        for (int k = 0; k < n; k++)
            x[k] = (float)(k - 30) * 0.1f;
        vecmath_tanh_f(n, y, x);
        vecmath_tanh_f(n, x, x);
        int same = 1;
        for (int k = 0; k < n; k++)
            same &= x[k] == y[k];
        CHECK(same);
    }
    free(x);
    free(y);
}

/* Double: log-spaced magnitudes from 1e-310 to 1e3 and a uniform sweep of
 * [-40, 40], both signs. */
static void test_double(void)
{
    enum { N = 1 << 16 };
    double *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    for (int fn = 0; fn < FN_COUNT; fn++) {
        Worst w = { 0, 0, 0 };
        int64_t count = 0;
        for (int sweep = 0; sweep < 2; sweep++) {
            const int64_t total = 2000000;
            for (int64_t start = 0; start < total; start += N) {
                int m = (int)(total - start < N ? total - start : N);
                for (int k = 0; k < m; k++) {
                    double u = (double)(start + k) / (double)total;   /* [0, 1) */
                    if (sweep == 0) {
                        double mag = pow(10.0, -310.0 + 313.0 * u);
                        x[k] = (k & 1) ? -mag : mag;
                    } else {
                        x[k] = -40.0 + 80.0 * u;
                    }
                }
                run_d(fn, m, y, x);
                for (int k = 0; k < m; k++)
                    judge(&w, x[k], y[k], reference(fn, x[k]), DBL_MIN, DBL_MAX);
                count += m;
            }
        }
        printf("double %-8s %lld points, max relative error %.4g (%.4g ulp of 1) at x = %.4g\n",
               fn_name[fn], (long long)count, w.rel, w.rel / DBL_EPSILON, w.at);
        CHECK(w.rel <= 4e-16);
        CHECK_INT(w.bad_special, 0);
    }

    const double special[] = { 0.0, -0.0, 5e-324, -5e-324, 1e-308, -1e-300, 1e-17, INFINITY, -INFINITY,
                               NAN, -NAN, 19.0, 19.1, 19.2, -19.2, 709.7, 709.78, 709.79, 710.0, 711.0,
                               -707.0, -708.0, -708.5, -709.0, -740.0, -745.0, -746.0, -750.0, 1e300,
                               -1e300, DBL_MAX, -DBL_MAX };
    enum { NS = sizeof special / sizeof special[0] };
    double ys[NS];
    for (int fn = 0; fn < FN_COUNT; fn++) {
        Worst w = { 0, 0, 0 };
        run_d(fn, NS, ys, special);
        for (int k = 0; k < NS; k++)
            judge(&w, special[k], ys[k], reference(fn, special[k]), DBL_MIN, DBL_MAX);
        CHECK(w.rel <= 4e-16);
        CHECK_INT(w.bad_special, 0);
    }
    double z[2] = { 0.0, -0.0 }, out[2];
    vecmath_tanh_d(2, out, z);
    CHECK(out[0] == 0 && !signbit(out[0]) && out[1] == 0 && signbit(out[1]));
    vecmath_exp_d(2, out, z);
    CHECK(out[0] == 1 && out[1] == 1);
    vecmath_sigmoid_d(2, out, z);
    CHECK(out[0] == 0.5 && out[1] == 0.5);
    double inf[2] = { INFINITY, -INFINITY };
    vecmath_tanh_d(2, out, inf);
    CHECK(out[0] == 1 && out[1] == -1);
    vecmath_sigmoid_d(2, out, inf);
    CHECK(out[0] == 1 && out[1] == 0);
    vecmath_exp_d(2, out, inf);
    CHECK(isinf(out[0]) && out[0] > 0 && out[1] == 0);
    free(x);
    free(y);
}

int main(void)
{
    test_float();
    test_double();
    return check_done("test_vecmath");
}
