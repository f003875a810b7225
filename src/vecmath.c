/* vecmath.c: vectorisable exp, tanh and sigmoid (see vecmath.h).
 *
 * All three rest on one kernel: e^t = 2^k e^r with k = round(t / ln 2) and
 * |r| <= ln(2)/2, so
 *
 *     e^r - 1 = r + r^2 q(r),   q a near-minimax polynomial (Chebyshev fit of
 *                               (e^r - 1 - r) / r^2 on [-ln2/2, ln2/2])
 *
 * q has degree 4 in float (relative error 2e-8 on e^r - 1) and 10 in double
 * (5e-19). k is found without a float-to-int conversion: adding 1.5 * 2^23
 * (2^52 in double) rounds t / ln 2 to an integer held in the low mantissa bits, and
 * 2^k is assembled from those bits. NaN flows through every step as NaN (the
 * clamps are comparisons, which keep NaN, and integer garbage only ever
 * multiplies a NaN).
 *
 *   exp(t)     = 2^k (1 + expm1(r)); 2^k applied as two factors so results in the
 *                subnormal range and overflow to Inf come out right.
 *   tanh(x)    = sign(x) e / (e + 2),  e = expm1(2|x|) = 2^k expm1(r) + (2^k - 1):
 *                relative-accurate near 0 (no 1 - small cancellation), 2|x|
 *                clamped where tanh rounds to 1.
 *   sigmoid(x) = 1 / (1 + e^-x), e^-x with one factor 2^k after clamping -x to
 *                the range where that factor is normal or Inf.
 *
 * C11 mode does not contract a*b + c, so the fused multiply-adds are written as
 * fma(): one rounding each, and one instruction with -march=native.
 *
 * Arrays are processed in blocks of fixed length through local copies: GCC 12 at
 * -O2 vectorises only loops whose trip count is a known multiple of the vector
 * length, and with local copies y may be x (in place) and nothing can alias.
 */
#include "vecmath.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

enum { BLOCK_BYTES = 256 };

/* y[0..n) = f(x[0..n)) for element type T, one fixed-length block at a time; the
 * last, partial block is padded with zeros. */
#define APPLY_BLOCKS(T, f, n, y, x)                                              \
    do {                                                                         \
        enum { B_ = BLOCK_BYTES / sizeof(T) };                                   \
        T xb_[B_], yb_[B_];                                                      \
        int64_t i_ = 0;                                                          \
        for (; i_ + B_ <= (n); i_ += B_) {                                       \
            memcpy(xb_, (x) + i_, sizeof xb_);                                   \
            for (int j_ = 0; j_ < B_; j_++)                                      \
                yb_[j_] = f(xb_[j_]);                                            \
            memcpy((y) + i_, yb_, sizeof yb_);                                   \
        }                                                                        \
        if (i_ < (n)) {                                                          \
            size_t m_ = (size_t)((n) - i_) * sizeof(T);                          \
            memset(xb_, 0, sizeof xb_);                                          \
            memcpy(xb_, (x) + i_, m_);                                           \
            for (int j_ = 0; j_ < B_; j_++)                                      \
                yb_[j_] = f(xb_[j_]);                                            \
            memcpy((y) + i_, yb_, m_);                                           \
        }                                                                        \
    } while (0)

static inline uint32_t bits_f(float x) { uint32_t u; memcpy(&u, &x, sizeof u); return u; }
static inline float from_bits_f(uint32_t u) { float x; memcpy(&x, &u, sizeof x); return x; }
static inline uint64_t bits_d(double x) { uint64_t u; memcpy(&u, &x, sizeof u); return u; }
static inline double from_bits_d(uint64_t u) { double x; memcpy(&x, &u, sizeof x); return x; }

/* ---- float ---- */

static const float LOG2E_F = 1.44269504088896341f;
static const float LN2_HI_F = 0.693147182464599609375f;   /* float(ln 2) */
static const float LN2_LO_F = -1.90465429995776e-09f;     /* ln 2 - LN2_HI_F */
static const float SHIFT_F = 12582912.0f;                 /* 1.5 * 2^23 */

/* t = k ln2 + r; returns r and sets *k (an exact integer as a float) and *kb, the
 * bits of k + SHIFT_F, whose low bits hold k. */
static inline float reduce_f(float t, float *k, uint32_t *kb)
{
    float ks = fmaf(t, LOG2E_F, SHIFT_F);
    *kb = bits_f(ks);
    *k = ks - SHIFT_F;
    float r = fmaf(-*k, LN2_HI_F, t);
    return fmaf(-*k, LN2_LO_F, r);
}

/* e^r - 1 for |r| <= ln(2)/2 */
static inline float expm1_small_f(float r)
{
    float q = fmaf(r, 1.3926183587713494542e-3f, 8.3631790527225773704e-3f);
    q = fmaf(q, r, 4.1666554617204574203e-2f);
    q = fmaf(q, r, 1.6666576989698775683e-1f);
    q = fmaf(q, r, 0.5f);
    return fmaf(r * r, q, r);
}

/* 2^k for k + 127 in [0, 255] (255 gives Inf) */
static inline float pow2_f(uint32_t k_biased) { return from_bits_f(k_biased << 23); }

static inline float exp1_f(float t)
{
    t = t > 89.0f ? 89.0f : t;
    t = t < -104.0f ? -104.0f : t;
    float k;
    uint32_t kb;
    float r = reduce_f(t, &k, &kb);
    int32_t ki = (int32_t)(kb - bits_f(SHIFT_F));
    int32_t k1 = ki / 2, k2 = ki - k1;
    float p = 1.0f + expm1_small_f(r);
    return p * pow2_f((uint32_t)(k1 + 127)) * pow2_f((uint32_t)(k2 + 127));
}

static inline float tanh1_f(float x)
{
    float a = fabsf(x);
    float t = a > 9.0f ? 18.0f : a + a;      /* tanh(9) rounds to 1 */
    float k;
    uint32_t kb;
    float r = reduce_f(t, &k, &kb);
    float s = pow2_f(kb - bits_f(SHIFT_F) + 127);
    float e = fmaf(s, expm1_small_f(r), s - 1.0f);
    return copysignf(e / (e + 2.0f), x);
}

static inline float sigmoid1_f(float x)
{
    float t = -x;
    t = t > 89.0f ? 89.0f : t;
    t = t < -87.0f ? -87.0f : t;
    float k;
    uint32_t kb;
    float r = reduce_f(t, &k, &kb);
    float e = (1.0f + expm1_small_f(r)) * pow2_f(kb - bits_f(SHIFT_F) + 127);
    return 1.0f / (1.0f + e);
}

void vecmath_exp_f(int64_t n, float *y, const float *x) { APPLY_BLOCKS(float, exp1_f, n, y, x); }
void vecmath_tanh_f(int64_t n, float *y, const float *x) { APPLY_BLOCKS(float, tanh1_f, n, y, x); }
void vecmath_sigmoid_f(int64_t n, float *y, const float *x) { APPLY_BLOCKS(float, sigmoid1_f, n, y, x); }

/* ---- double ---- */

static const double LOG2E_D = 1.4426950408889634074;
static const double LN2_HI_D = 0.693147180559945286227;   /* double(ln 2) */
static const double LN2_LO_D = 2.319046813846299558e-17;  /* ln 2 - LN2_HI_D */
static const double SHIFT_D = 6755399441055744.0;         /* 1.5 * 2^52 */

static inline double reduce_d(double t, double *k, uint64_t *kb)
{
    double ks = fma(t, LOG2E_D, SHIFT_D);
    *kb = bits_d(ks);
    *k = ks - SHIFT_D;
    double r = fma(-*k, LN2_HI_D, t);
    return fma(-*k, LN2_LO_D, r);
}

static inline double expm1_small_d(double r)
{
    double q = fma(r, 2.0914686968086877233e-9, 2.5105217004720745164e-8);
    q = fma(q, r, 2.7557273643110295328e-7);
    q = fma(q, r, 2.755725540020642443e-6);
    q = fma(q, r, 2.4801587325547741216e-5);
    q = fma(q, r, 1.9841269874820625271e-4);
    q = fma(q, r, 1.3888888888883748305e-3);
    q = fma(q, r, 8.3333333333261351258e-3);
    q = fma(q, r, 4.1666666666666669755e-2);
    q = fma(q, r, 1.6666666666666670991e-1);
    q = fma(q, r, 0.5);
    return fma(r * r, q, r);
}

static inline double pow2_d(uint64_t k_biased) { return from_bits_d(k_biased << 52); }

static inline double exp1_d(double t)
{
    t = t > 710.0 ? 710.0 : t;
    t = t < -746.0 ? -746.0 : t;
    double k;
    uint64_t kb;
    double r = reduce_d(t, &k, &kb);
    int64_t ki = (int64_t)(kb - bits_d(SHIFT_D));
    int64_t k1 = ki / 2, k2 = ki - k1;
    double p = 1.0 + expm1_small_d(r);
    return p * pow2_d((uint64_t)(k1 + 1023)) * pow2_d((uint64_t)(k2 + 1023));
}

static inline double tanh1_d(double x)
{
    double a = fabs(x);
    double t = a > 19.1 ? 38.2 : a + a;       /* tanh(19.1) rounds to 1 */
    double k;
    uint64_t kb;
    double r = reduce_d(t, &k, &kb);
    double s = pow2_d(kb - bits_d(SHIFT_D) + 1023);
    double e = fma(s, expm1_small_d(r), s - 1.0);
    return copysign(e / (e + 2.0), x);
}

static inline double sigmoid1_d(double x)
{
    double t = -x;
    t = t > 710.0 ? 710.0 : t;
    t = t < -708.0 ? -708.0 : t;
    double k;
    uint64_t kb;
    double r = reduce_d(t, &k, &kb);
    double e = (1.0 + expm1_small_d(r)) * pow2_d(kb - bits_d(SHIFT_D) + 1023);
    return 1.0 / (1.0 + e);
}

void vecmath_exp_d(int64_t n, double *y, const double *x) { APPLY_BLOCKS(double, exp1_d, n, y, x); }
void vecmath_tanh_d(int64_t n, double *y, const double *x) { APPLY_BLOCKS(double, tanh1_d, n, y, x); }
void vecmath_sigmoid_d(int64_t n, double *y, const double *x) { APPLY_BLOCKS(double, sigmoid1_d, n, y, x); }
