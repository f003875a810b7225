/* test_rng.c: the generator against known answers, its determinism and streams, the
 * statistics of every draw, the initial distributions and the random wiring.
 *
 * Known answers come from outside rng.c: xoshiro256** outputs and the jump were
 * computed by an independent Python transcription of the reference code, the jump
 * also as the 2^128-th power of the generator's 256 x 256 transition matrix over
 * GF(2); the first ten outputs from state {1, 2, 3, 4} are also those published with
 * the rand_xoshiro crate. Statistical checks use fixed seeds and bounds of about five
 * standard errors, so a correct generator passes always and a biased one fails.
 */
#include "check.h"
#include "rng.h"

#include <stdint.h>
#include <stdlib.h>

#ifdef CAJAL_FLOAT
static const double ortho_tol = 1e-5;
#else
static const double ortho_tol = 1e-12;
#endif

/* A second, independent xoshiro256** (the reference code, transcribed). */
static uint64_t ref_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
static uint64_t ref_next(uint64_t s[4])
{
    uint64_t result = ref_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = ref_rotl(s[3], 45);
    return result;
}

static void test_known_answers(void)
{
    static const uint64_t expect[10] = {
        11520u, 0u, 1509978240u, 1215971899390074240u, 1216172134540287360u,
        607988272756665600u, 16172922978634559625u, 8476171486693032832u,
        10595114339597558777u, 2904607092377533576u,
    };
    Rng r = { { 1, 2, 3, 4 } };
    for (int i = 0; i < 10; i++)
        CHECK(rng_next_u64(&r) == expect[i]);

    /* a long run against the transcription, from an arbitrary state */
    Rng a = { { 0x0123456789abcdefu, 0xfedcba9876543210u, 0xdeadbeefcafef00du, 42 } };
    uint64_t s[4] = { a.s[0], a.s[1], a.s[2], a.s[3] };
    int same = 1;
    for (int i = 0; i < 100000; i++)
        same &= rng_next_u64(&a) == ref_next(s);
    CHECK(same);

    /* rng_seed is splitmix64: its published outputs for seed 1234567 */
    Rng b;
    rng_seed(&b, 1234567);
    CHECK(b.s[0] == 6457827717110365317u);
    CHECK(b.s[1] == 3203168211198807973u);
    CHECK(b.s[2] == 9817491932198370423u);
    CHECK(b.s[3] == 4593380528125082431u);
    rng_seed(&b, 0);
    CHECK(b.s[0] == 0xe220a8397b1dcdafu);
    CHECK(b.s[3] == 0xf88bb8a8724c81ecu);
    CHECK(rng_next_u64(&b) == 0x99ec5f36cb75f2b4u);

    /* jump from {1, 2, 3, 4}: T^(2^128) applied by matrix powers */
    Rng j = { { 1, 2, 3, 4 } };
    rng_jump(&j);
    CHECK(j.s[0] == 0x8c7a153956b5f3d1u);
    CHECK(j.s[1] == 0x701f1a713401d85eu);
    CHECK(j.s[2] == 0x6527f66a65469085u);
    CHECK(j.s[3] == 0x8386b786c4408050u);
    CHECK(rng_next_u64(&j) == 0xbbd2f312298443d8u);

    /* uniform is the top 53 bits */
    Rng u = { { 1, 2, 3, 4 } };
    CHECK(rng_uniform(&u) == (double)(11520u >> 11) * 0x1p-53);
    CHECK(rng_uniform(&u) == 0.0);
}

static void test_determinism(void)
{
    Rng a, b, c;
    rng_seed(&a, 42);
    rng_seed(&b, 42);
    rng_seed(&c, 43);
    int equal = 1, differ = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = rng_next_u64(&a), y = rng_next_u64(&b), z = rng_next_u64(&c);
        equal &= x == y;
        differ += x != z;
    }
    CHECK(equal);
    CHECK(differ > 990);

    /* the same normals, bit for bit, on every build (regression values) */
    Rng n;
    rng_seed(&n, 42);
    static const double golden[6] = {
        -0x1.dc208a21bb959p+0, -0x1.67bf9c84f495p-4, 0x1.71dc1a1b737ccp-1,
        0x1.b43826c8ba892p+0, 0x1.039117c0598bep+0, 0x1.c60127a0c3dbbp-1,
    };
    /* and 10^6 of them, through the wedges and the tails: FNV-1a of their bits */
    uint64_t h = 0xcbf29ce484222325u;
    for (int i = 0; i < 1000000; i++) {
        double z = rng_normal(&n);
        if (i < 6 && !CHECK(z == golden[i]))
            fprintf(stderr, "  normal %d: expected %a, got %a\n", i, golden[i], z);
        uint64_t bits;
        memcpy(&bits, &z, sizeof bits);
        h = (h ^ bits) * 0x100000001b3u;
    }
    CHECK(h == 0x9a12621ecf5e9b61u);

    /* bulk fills are the single draws */
    enum { N = 100000 };
    static real bulk[N];
    Rng f, g;
    rng_seed(&f, 7);
    rng_seed(&g, 7);
    rng_fill_normal(&f, bulk, N, 0, 1);
    int same = 1;
    for (int i = 0; i < N; i++)
        same &= bulk[i] == (real)rng_normal(&g);
    CHECK(same);
    CHECK(f.s[0] == g.s[0] && f.s[3] == g.s[3]);
    rng_fill_uniform(&f, bulk, N, 0, 1);
    same = 1;
    for (int i = 0; i < N; i++)
        same &= bulk[i] == (real)rng_uniform(&g);
    CHECK(same);
    rng_fill_normal(&f, bulk, N, 2, 3);
    same = 1;
    for (int i = 0; i < N; i++)
        same &= bulk[i] == (real)(2 + 3 * rng_normal(&g));
    CHECK(same);

    /* streams: stable, distinct, and base untouched */
    Rng base;
    rng_seed(&base, 42);
    Rng keep = base;
    Rng s1 = rng_stream(&base, 1), s1b = rng_stream(&base, 1), s2 = rng_stream(&base, 2);
    CHECK(memcmp(&base, &keep, sizeof base) == 0);
    CHECK(memcmp(&s1, &s1b, sizeof s1) == 0);
    int d12 = 0, d1base = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = rng_next_u64(&s1), y = rng_next_u64(&s2), z = rng_next_u64(&keep);
        d12 += x != y;
        d1base += x != z;
    }
    CHECK(d12 > 990);
    CHECK(d1base > 990);
    /* neighbouring ids and neighbouring seeds give unrelated first draws */
    int collide = 0;
    uint64_t first[256];
    for (int k = 0; k < 256; k++) {
        Rng s = rng_stream(&base, (uint64_t)k);
        first[k] = rng_next_u64(&s);
        for (int m = 0; m < k; m++)
            collide += first[m] == first[k];
    }
    CHECK_INT(collide, 0);
    Rng other;
    rng_seed(&other, 43);
    Rng o1 = rng_stream(&other, 1), b1 = rng_stream(&base, 1);
    CHECK(rng_next_u64(&o1) != rng_next_u64(&b1));
    /* the documented scheme, transcribed in Python */
    Rng k1 = rng_stream(&base, 1), k12345 = rng_stream(&base, 12345);
    CHECK(k1.s[0] == 0x56f461d1d1dbe318u && rng_next_u64(&k1) == 0x30578b8947abf1d5u);
    CHECK(k12345.s[0] == 0x45c09db1c856697fu && rng_next_u64(&k12345) == 0x33a30e902e63d085u);
    CHECK(rng_id("J.w") == 0x7729baa49afe6fdfu);
    CHECK(rng_id("J.w") != rng_id("J.b"));
    CHECK(rng_id("J.w") == rng_id("J.w"));
    CHECK(rng_id("") != rng_id("a"));
}

static double normal_cdf(double z) { return 0.5 * erfc(-z / sqrt(2)); }
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void test_statistics(void)
{
    enum { N = 1000000 };
    double *z = malloc(N * sizeof *z);
    Rng r;

    rng_seed(&r, 1);
    double s1 = 0, s2 = 0;
    for (int i = 0; i < N; i++) {
        double u = rng_uniform(&r);
        s1 += u;
        s2 += (u - 0.5) * (u - 0.5);
    }
    CHECK_NEAR(s1 / N, 0.5, 5 * 2.9e-4);
    CHECK_NEAR(s2 / N, 1.0 / 12, 5 * 7.5e-5);

    /* normal: moments, then the whole shape (Kolmogorov-Smirnov on Phi(z)) and tails */
    rng_seed(&r, 2);
    double m1 = 0, m2 = 0, m4 = 0;
    long beyond_r = 0, beyond_2 = 0;
    for (int i = 0; i < N; i++) {
        z[i] = rng_normal(&r);
        m1 += z[i];
        m2 += z[i] * z[i];
        m4 += z[i] * z[i] * z[i] * z[i];
        beyond_r += fabs(z[i]) > 3.4426198558966523;
        beyond_2 += fabs(z[i]) > 2;
    }
    m1 /= N, m2 /= N, m4 /= N;
    printf("normal: mean %.4g, variance %.4g, fourth moment %.4g\n", m1, m2, m4);
    CHECK_NEAR(m1, 0, 5e-3);
    CHECK_NEAR(m2, 1, 5 * 1.42e-3);
    CHECK_NEAR(m4, 3, 5 * 9.8e-3);
    double p_tail = erfc(3.4426198558966523 / sqrt(2)), p_2 = erfc(2 / sqrt(2));
    CHECK(fabs(beyond_r - N * p_tail) < 5 * sqrt(N * p_tail));
    CHECK(fabs(beyond_2 - N * p_2) < 5 * sqrt(N * p_2));
    for (int i = 0; i < N; i++)
        z[i] = normal_cdf(z[i]);
    qsort(z, N, sizeof *z, cmp_double);
    double ks = 0;
    for (int i = 0; i < N; i++) {
        double lo = z[i] - (double)i / N, hi = (double)(i + 1) / N - z[i];
        ks = fmax(ks, fmax(lo, hi));
    }
    printf("normal: Kolmogorov-Smirnov sqrt(n) D = %.4g\n", ks * sqrt(N));
    CHECK(ks * sqrt(N) < 1.95);     /* p = 0.001 */

    /* the tail beyond r alone (Kolmogorov-Smirnov against Q(x) / Q(r)), from 10^7 draws */
    int ntail = 0;
    for (int i = 0; i < 10 * N; i++) {
        double x = fabs(rng_normal(&r));
        if (x > 3.4426198558966523 && ntail < N)
            z[ntail++] = x;
    }
    qsort(z, (size_t)ntail, sizeof *z, cmp_double);
    double qr = erfc(3.4426198558966523 / sqrt(2)), ks_tail = 0;
    for (int i = 0; i < ntail; i++) {
        double cdf = 1 - erfc(z[i] / sqrt(2)) / qr;
        ks_tail = fmax(ks_tail, fmax(cdf - (double)i / ntail, (double)(i + 1) / ntail - cdf));
    }
    printf("normal tail: %d values, Kolmogorov-Smirnov sqrt(n) D = %.4g\n", ntail, ks_tail * sqrt(ntail));
    CHECK(ntail > 5000 && ks_tail * sqrt(ntail) < 1.95);

    /* the bulk fill with a mean and std */
    real *v = malloc(N * sizeof *v);
    rng_seed(&r, 3);
    rng_fill_normal(&r, v, N, -70e-3, 2e-3);
    m1 = m2 = 0;
    for (int i = 0; i < N; i++)
        m1 += v[i];
    m1 /= N;
    for (int i = 0; i < N; i++)
        m2 += (v[i] - m1) * (v[i] - m1);
    CHECK_NEAR(m1, -70e-3, 5 * 2e-6);
    CHECK_NEAR(sqrt(m2 / N), 2e-3, 5 * 2e-3 * 7.1e-4);
    rng_fill_uniform(&r, v, N, -2, 6);
    double lo = 1e9, hi = -1e9;
    m1 = 0;
    for (int i = 0; i < N; i++) {
        m1 += v[i];
        lo = fmin(lo, v[i]);
        hi = fmax(hi, v[i]);
    }
    CHECK_NEAR(m1 / N, 2, 5 * 8 * 2.9e-4);
    CHECK(lo >= -2 && lo < -1.99 && hi < 6 && hi > 5.99);

    rng_seed(&r, 4);
    long hits = 0;
    for (int i = 0; i < N; i++)
        hits += rng_bernoulli(&r, 0.3);
    CHECK_NEAR((double)hits / N, 0.3, 5 * 4.6e-4);
    CHECK(!rng_bernoulli(&r, 0) && rng_bernoulli(&r, 1));

    /* rng_below: chi-square over n = 7 and n = 10 (p = 0.001 bounds) */
    static const struct { uint64_t n; double bound; } below[] = { { 7, 22.46 }, { 10, 27.88 } };
    for (int t = 0; t < 2; t++) {
        long count[10] = { 0 };
        int draws = 70000, out_of_range = 0;
        for (int i = 0; i < draws; i++) {
            uint64_t k = rng_below(&r, below[t].n);
            if (k >= below[t].n)
                out_of_range++;
            else
                count[k]++;
        }
        double e = (double)draws / below[t].n, chi2 = 0;
        for (uint64_t k = 0; k < below[t].n; k++)
            chi2 += (count[k] - e) * (count[k] - e) / e;
        printf("below(%d): chi-square %.4g\n", (int)below[t].n, chi2);
        CHECK_INT(out_of_range, 0);
        CHECK(chi2 < below[t].bound);
    }
    /* a bound near 2^64 where rejection matters: k < n and the top half as often as the bottom */
    uint64_t big = 3 * ((uint64_t)1 << 62), half = big / 2;
    long upper = 0, bad = 0;
    for (int i = 0; i < 100000; i++) {
        uint64_t k = rng_below(&r, big);
        bad += k >= big;
        upper += k >= half;
    }
    CHECK_INT(bad, 0);
    CHECK_NEAR(upper / 1e5, 0.5, 5 * 1.6e-3);
    /* without rejection, n = 3 * 2^62 would give k = 0 mod 3 half the time */
    long zero_mod_3 = 0;
    for (int i = 0; i < 100000; i++)
        zero_mod_3 += rng_below(&r, big) % 3 == 0;
    CHECK_NEAR(zero_mod_3 / 1e5, 1.0 / 3, 5 * 1.5e-3);
    CHECK(rng_below(&r, 1) == 0);

    free(v);
    free(z);
}

static double max_gram_error(const real *q, int64_t rows, int64_t cols, double gain)
{
    /* rows <= cols: Q Q^T = gain^2 I; otherwise Q^T Q = gain^2 I */
    bool by_rows = rows <= cols;
    int64_t n = by_rows ? rows : cols, len = by_rows ? cols : rows;
    double worst = 0;
    for (int64_t a = 0; a < n; a++)
        for (int64_t b = 0; b < n; b++) {
            double s = 0;
            for (int64_t k = 0; k < len; k++)
                s += by_rows ? (double)q[a * cols + k] * q[b * cols + k]
                             : (double)q[k * cols + a] * q[k * cols + b];
            worst = fmax(worst, fabs(s - (a == b ? gain * gain : 0)));
        }
    return worst;
}

static void test_distributions(void)
{
    Diags d;
    diags_init(&d);
    Rng r;
    rng_seed(&r, 5);
    static real m[80 * 80];

    static const struct { int64_t rows, cols; double gain; } shapes[] = {
        { 50, 50, 1 }, { 30, 80, 1 }, { 80, 30, 1 }, { 1, 6, 1 }, { 40, 40, 2 },
    };
    for (int t = 0; t < 5; t++) {
        double gain = shapes[t].gain;
        CHECK(dist_fill(DIST_ORTHOGONAL, &gain, &r, m, shapes[t].rows, shapes[t].cols, &d, span_none()));
        double err = max_gram_error(m, shapes[t].rows, shapes[t].cols, gain);
        if (!CHECK(err < ortho_tol * gain * gain))
            fprintf(stderr, "  orthogonal %lld x %lld: error %.4g\n",
                    (long long)shapes[t].rows, (long long)shapes[t].cols, err);
    }
    /* Haar, not just orthogonal: without the sign correction Q[0][0] is always negative */
    int positive = 0;
    double one = 1;
    for (int t = 0; t < 400; t++) {
        dist_fill(DIST_ORTHOGONAL, &one, &r, m, 4, 4, &d, span_none());
        positive += m[0] > 0;
    }
    CHECK(positive > 400 * 0.5 - 5 * 10 && positive < 400 * 0.5 + 5 * 10);
    /* and reproducible */
    Rng a, b;
    rng_seed(&a, 9);
    rng_seed(&b, 9);
    static real m2[80 * 80];
    dist_fill(DIST_ORTHOGONAL, &one, &a, m, 20, 7, &d, span_none());
    dist_fill(DIST_ORTHOGONAL, &one, &b, m2, 20, 7, &d, span_none());
    CHECK(memcmp(m, m2, 20 * 7 * sizeof *m) == 0);

    double gain = 0.5;
    CHECK(dist_fill(DIST_IDENTITY, &gain, &r, m, 3, 5, &d, span_none()));
    int ok = 1;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 5; j++)
            ok &= m[i * 5 + j] == (i == j ? (real)0.5 : 0);
    CHECK(ok);
    CHECK(dist_fill(DIST_IDENTITY, &gain, &r, m, 5, 3, &d, span_none()));
    ok = 1;
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 3; j++)
            ok &= m[i * 3 + j] == (i == j ? (real)0.5 : 0);
    CHECK(ok);

    double c = 2.5;
    CHECK(dist_fill(DIST_CONSTANT, &c, &r, m, 7, 1, &d, span_none()));
    CHECK(m[0] == (real)2.5 && m[6] == (real)2.5);
    CHECK(dist_fill(DIST_ZEROS, NULL, &r, m, 7, 1, &d, span_none()));
    CHECK(m[0] == 0 && m[6] == 0);

    enum { N = 100000 };
    static real v[N];
    double pb = 0.2;
    CHECK(dist_fill(DIST_BERNOULLI, &pb, &r, v, N, 1, &d, span_none()));
    double s = 0;
    int binary = 1;
    for (int i = 0; i < N; i++) {
        s += v[i];
        binary &= v[i] == 0 || v[i] == 1;
    }
    CHECK(binary);
    CHECK_NEAR(s / N, 0.2, 5 * 1.3e-3);
    double ln[2] = { 1, 0.5 };
    CHECK(dist_fill(DIST_LOGNORMAL, ln, &r, v, N, 1, &d, span_none()));
    double sl = 0;
    int positive_all = 1;
    for (int i = 0; i < N; i++) {
        positive_all = positive_all && v[i] > 0;
        sl += log(v[i]);
    }
    CHECK(positive_all);
    CHECK_NEAR(sl / N, 1, 5 * 0.5 / sqrt(N));
    double nm[2] = { 1, 0 };
    CHECK(dist_fill(DIST_NORMAL, nm, &r, v, 3, 1, &d, span_none()));
    CHECK(v[0] == 1 && v[2] == 1);
    double un[2] = { 3, 3 };
    CHECK(dist_fill(DIST_UNIFORM, un, &r, v, 3, 1, &d, span_none()));
    CHECK(v[1] == 3);
    CHECK_INT(d.errors, 0);

    /* the table */
    const DistInfo *info = dist_lookup("normal");
    CHECK(info && info->kind == DIST_NORMAL && info->nparams == 2);
    CHECK_STR(info ? info->param[1].name : NULL, "std");
    info = dist_lookup("orthogonal");
    CHECK(info && info->matrix && !info->param[0].required && info->param[0].def == 1);
    CHECK(dist_lookup("gauss") == NULL);
    for (int k = 0; k < DIST_COUNT; k++) {
        CHECK(dist_info(k)->kind == (DistKind)k);
        CHECK(dist_lookup(dist_info(k)->name) == dist_info(k));
        CHECK(dist_info(k)->help && dist_info(k)->help[0]);
    }
    diags_fini(&d);
}

/* Each bad call adds exactly one error and leaves out as it was. */
static void test_errors(void)
{
    Diags d;
    diags_init(&d);
    Rng r;
    rng_seed(&r, 6);
    real out[8] = { 7, 7, 7, 7, 7, 7, 7, 7 };
    static const struct { DistKind k; double p[2]; int64_t rows, cols; const char *says; } bad[] = {
        { DIST_NORMAL, { 0, -1 }, 4, 1, "std of normal() must not be negative, got -1" },
        { DIST_UNIFORM, { 2, 1 }, 4, 1, "uniform(lo, hi) needs lo <= hi, got lo = 2 and hi = 1" },
        { DIST_ORTHOGONAL, { 1, 0 }, 8, 1, "orthogonal() needs a matrix, not a vector of 8" },
        { DIST_IDENTITY, { 1, 0 }, 8, 1, "identity() needs a matrix, not a vector of 8" },
        { DIST_BERNOULLI, { 1.5, 0 }, 4, 1, "p of bernoulli() must be between 0 and 1, got 1.5" },
        { DIST_BERNOULLI, { -0.1, 0 }, 4, 1, "p of bernoulli() must be between 0 and 1, got -0.1" },
        { DIST_LOGNORMAL, { 0, -2 }, 4, 1, "sigma of lognormal() must not be negative, got -2" },
        { DIST_NORMAL, { NAN, 1 }, 4, 1, "mean of normal() must be a finite number, got nan" },
        { DIST_CONSTANT, { INFINITY, 0 }, 4, 1, "value of constant() must be a finite number, got inf" },
    };
    int n = (int)(sizeof bad / sizeof bad[0]);
    for (int t = 0; t < n; t++) {
        CHECK(!dist_fill(bad[t].k, bad[t].p, &r, out, bad[t].rows, bad[t].cols, &d, span_none()));
        CHECK_INT(d.errors, t + 1);
        CHECK_STR(d.n > t ? d.v[t].msg : NULL, bad[t].says);
    }
    int untouched = 1;
    for (int i = 0; i < 8; i++)
        untouched &= out[i] == 7;
    CHECK(untouched);

    int64_t *rp = (int64_t *)1;
    int32_t *ci = (int32_t *)1;
    CHECK_INT(dist_sparse(&r, 10, 10, 1.5, false, &rp, &ci, &d, span_none()), -1);
    CHECK(rp == NULL && ci == NULL);
    CHECK_INT(dist_sparse(&r, 10, 10, NAN, false, &rp, &ci, &d, span_none()), -1);
    CHECK_INT(dist_sparse(&r, 10, (int64_t)1 << 32, 0.1, false, &rp, &ci, &d, span_none()), -1);
    CHECK_INT(d.errors, n + 3);
    CHECK_STR(d.n > n ? d.v[n].msg : NULL, "connection probability p must be between 0 and 1, got 1.5");
    diags_fini(&d);
}

/* Rows well formed, columns ascending and in range; returns the diagonal entries. */
static int64_t check_csr(const int64_t *rp, const int32_t *ci, int64_t rows, int64_t cols, int64_t nnz)
{
    int well = rp[0] == 0 && rp[rows] == nnz, sorted = 1;
    int64_t diagonal = 0;
    for (int64_t i = 0; i < rows; i++) {
        well &= rp[i] <= rp[i + 1];
        for (int64_t k = rp[i]; k < rp[i + 1]; k++) {
            sorted &= ci[k] >= 0 && ci[k] < cols && (k == rp[i] || ci[k] > ci[k - 1]);
            diagonal += ci[k] == i;
        }
    }
    CHECK(well);
    CHECK(sorted);
    return diagonal;
}

static void test_sparse(void)
{
    Diags d;
    diags_init(&d);
    Rng r;
    rng_seed(&r, 8);
    int64_t *rp;
    int32_t *ci;

    /* 10^4 x 10^4 at p = 0.01, geometric skipping */
    int64_t n = 10000;
    double p = 0.01, mean = p * n * (n - 1), sd = sqrt(mean * (1 - p));
    int64_t nnz = dist_sparse(&r, n, n, p, true, &rp, &ci, &d, span_none());
    printf("sparse 10^4 x 10^4, p = 0.01, no_self: nnz %lld (expected %.4g +- %.4g)\n",
           (long long)nnz, mean, sd);
    CHECK(fabs(nnz - mean) < 4 * sd);
    CHECK_INT(check_csr(rp, ci, n, n, nnz), 0);
    /* every column equally likely: chi-square of column counts against binomial variance */
    long *count = calloc((size_t)n, sizeof *count);
    for (int64_t k = 0; k < nnz; k++)
        count[ci[k]]++;
    double e = p * (n - 1), chi2 = 0;
    for (int64_t j = 0; j < n; j++)
        chi2 += (count[j] - e) * (count[j] - e) / (e * (1 - p));
    printf("sparse: column chi-square %.4g on %lld degrees of freedom\n", chi2, (long long)n - 1);
    CHECK(fabs(chi2 - (n - 1)) < 5 * sqrt(2.0 * (n - 1)));
    free(count);
    free(rp);
    free(ci);

    /* dense p, Bernoulli path, rectangular */
    nnz = dist_sparse(&r, 300, 500, 0.5, false, &rp, &ci, &d, span_none());
    mean = 0.5 * 300 * 500, sd = sqrt(mean * 0.5);
    CHECK(fabs(nnz - mean) < 4 * sd);
    CHECK(check_csr(rp, ci, 300, 500, nnz) > 0);
    free(rp);
    free(ci);

    /* edges: p = 0, p = 1, p = 1 with no_self on both shapes, empty */
    nnz = dist_sparse(&r, 50, 40, 0, false, &rp, &ci, &d, span_none());
    CHECK_INT(nnz, 0);
    CHECK_INT(rp[50], 0);
    check_csr(rp, ci, 50, 40, nnz);
    free(rp);
    free(ci);
    nnz = dist_sparse(&r, 50, 40, 1, false, &rp, &ci, &d, span_none());
    CHECK_INT(nnz, 2000);
    CHECK_INT(check_csr(rp, ci, 50, 40, nnz), 40);
    CHECK_INT(rp[1], 40);
    free(rp);
    free(ci);
    nnz = dist_sparse(&r, 50, 40, 1, true, &rp, &ci, &d, span_none());
    CHECK_INT(nnz, 2000 - 40);
    CHECK_INT(check_csr(rp, ci, 50, 40, nnz), 0);
    CHECK_INT(rp[45] - rp[44], 40);
    free(rp);
    free(ci);
    nnz = dist_sparse(&r, 40, 50, 1, true, &rp, &ci, &d, span_none());
    CHECK_INT(nnz, 2000 - 40);
    CHECK_INT(check_csr(rp, ci, 40, 50, nnz), 0);
    free(rp);
    free(ci);
    nnz = dist_sparse(&r, 0, 10, 0.5, false, &rp, &ci, &d, span_none());
    CHECK_INT(nnz, 0);
    CHECK_INT(rp[0], 0);
    free(rp);
    free(ci);
    /* a small p on one row: the first column is reachable too */
    int first = 0;
    for (int t = 0; t < 2000; t++) {
        nnz = dist_sparse(&r, 1, 10, 0.1, false, &rp, &ci, &d, span_none());
        first += nnz > 0 && ci[0] == 0;
        free(rp);
        free(ci);
    }
    CHECK(abs(first - 200) < 5 * sqrt(200 * 0.9));
    /* reproducible */
    Rng a, b;
    rng_seed(&a, 11);
    rng_seed(&b, 11);
    int64_t *rp2;
    int32_t *ci2;
    int64_t n1 = dist_sparse(&a, 200, 300, 0.05, true, &rp, &ci, &d, span_none());
    int64_t n2 = dist_sparse(&b, 200, 300, 0.05, true, &rp2, &ci2, &d, span_none());
    CHECK(n1 == n2 && memcmp(rp, rp2, 201 * sizeof *rp) == 0 && memcmp(ci, ci2, (size_t)n1 * sizeof *ci) == 0);
    free(rp);
    free(ci);
    free(rp2);
    free(ci2);
    CHECK_INT(d.errors, 0);
    diags_fini(&d);
}

int main(void)
{
    test_known_answers();
    test_determinism();
    test_statistics();
    test_distributions();
    test_errors();
    test_sparse();
    return check_done("test_rng");
}
