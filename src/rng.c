/* rng.c: xoshiro256** and what is drawn from it: normals, initial distributions of
 * parameters, random sparse wiring. See rng.h for the stream scheme.
 *
 * Workload: model building draws up to ~10^8 values once (a 10^4 x 10^4 weight
 * matrix); the time loop draws B * n normals every step for the noise `xi` (64 x 1000
 * at 10^4 steps is 6.4 * 10^8 values a run). So the fill loops keep the state in
 * registers and inline the ziggurat's fast path; only 3% of normals leave it.
 *
 * Bit reproducibility rests on IEEE double arithmetic with each operation rounded
 * on its own: no x87, no -ffast-math, and no fused multiply-add contraction. gcc in
 * -std=c11 mode does not contract; the pragma below tells clang the same.
 */
#include "rng.h"
#include "xalloc.h"

#include <assert.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#define LIKELY(x) __builtin_expect(!!(x), 1)

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* The reference next() of xoshiro256starstar.c. */
static inline uint64_t next(Rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static inline double uniform(Rng *r) { return (double)(next(r) >> 11) * 0x1p-53; }

/* The splitmix64 finaliser (Steele, Lea and Flood 2014, variant 13): a bijection. */
static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

#define GOLDEN 0x9e3779b97f4a7c15u

void rng_seed(Rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) {
        seed += GOLDEN;
        r->s[i] = mix64(seed);
    }
    /* splitmix64's outputs are a bijection of its counter, so four consecutive ones
     * are never all zero. */
}

uint64_t rng_next_u64(Rng *r) { return next(r); }
double rng_uniform(Rng *r) { return uniform(r); }
bool rng_bernoulli(Rng *r, double p) { return uniform(r) < p; }

__extension__ typedef unsigned __int128 u128;

uint64_t rng_below(Rng *r, uint64_t n)
{
    assert(n > 0);
    u128 m = (u128)next(r) * n;
    uint64_t low = (uint64_t)m;
    if (low < n) {
        uint64_t threshold = -n % n;    /* 2^64 mod n: the draws to reject */
        while (low < threshold) {
            m = (u128)next(r) * n;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

void rng_jump(Rng *r)
{
    static const uint64_t jump[4] = { 0x180ec6d33cfd0abau, 0xd5a61266f0c9392cu,
                                      0xa9582618e03fc9aau, 0x39abdc4529b1661cu };
    uint64_t a[4] = { 0, 0, 0, 0 };
    for (int w = 0; w < 4; w++)
        for (int b = 0; b < 64; b++) {
            if (jump[w] & (uint64_t)1 << b)
                for (int i = 0; i < 4; i++)
                    a[i] ^= r->s[i];
            next(r);
        }
    memcpy(r->s, a, sizeof a);
}

Rng rng_stream(const Rng *base, uint64_t k)
{
    uint64_t x = k;
    for (int i = 0; i < 4; i++)
        x = mix64(x ^ base->s[i]) + GOLDEN;
    Rng out;
    rng_seed(&out, x);
    return out;
}

uint64_t rng_id(const char *name)
{
    uint64_t h = 0xcbf29ce484222325u;     /* FNV-1a, 64 bits */
    for (const unsigned char *c = (const unsigned char *)name; *c; c++)
        h = (h ^ *c) * 0x100000001b3u;
    return mix64(h);
}

/* The ziggurat: 128 layers of equal area v under f(x) = exp(-x^2/2), x >= 0, with
 * x[1] = r, x[i+1] = sqrt(-2 log(f(x[i]) + v / x[i])), x[128] = 0, and x[0] = v / f(r)
 * the width that gives the base strip (rectangle plus tail) area v. r and v solve
 * x[127] (1 - f(x[127])) = v (r = 3.44262, v = 0.00991256; Marsaglia and Tsang's values)
 * and were computed once in 60-digit arithmetic (mpmath), then rounded, so no run
 * depends on the C library for the tables:
 *
 *     zig_k[i] = floor(2^53 x[i+1] / x[i])   a draw |j| < zig_k[i] lies inside layer
 *                                             i's rectangle below the curve
 *     zig_w[i] = x[i] 2^-53                   z = j zig_w[i] for j in [-2^53, 2^53)
 *     zig_f[i] = f(x[i]), zig_f[128] = 1       layer i spans heights zig_f[i .. i+1]
 *
 *      f(x)
 *       1 +------+                  layer 127, the top: all wedge
 *         |       \
 *         +---------+               layer i: [0, x[i]) x [f(x[i]), f(x[i+1])); left of
 *         |         :\__             x[i+1] under the curve, a wedge beyond
 *         +---------:-----+
 *         |               :\___
 *         +---------------+-----+   layer 0: [0, r) below f(r); [r, x[0]) maps to the tail
 *         0               r     x[0]
 */
enum { ZIG_LAYERS = 128 };
static const double zig_r = 3.4426198558966523;
static const uint64_t zig_k[ZIG_LAYERS] = {
    8351102274451724, 8432812766515028, 8616358801204169, 8701822634880103,
    8752128774403599, 8785566778453090, 8809528315256173, 8827601958366312,
    8841750799172489, 8853143551576002, 8862521528037069, 8870378731388768,
    8877057648535094, 8882803555753106, 8887796938996984, 8892173697662860,
    8896038199565802, 8899471982132299, 8902539709494612, 8905293347731417,
    8907775152444838, 8910019846210346, 8912056231924312, 8913908406035804,
    8915596683208055, 8917138309688383, 8918548019824503, 8919838474662447,
    8921020610863737, 8922103920684910, 8923096678437989, 8924006125018746,
    8924838619298740, 8925599763121838, 8926294505116460, 8926927227385599,
    8927501818265364, 8928021733676402, 8928490049078949, 8928909503643234,
    8929282537934853, 8929611326168838, 8929897803891218, 8930143691791384,
    8930350516223753, 8930519626916484, 8930652212263246, 8930749312527273,
    8930811831232153, 8930840544968599, 8930836111808861, 8930799078489153,
    8930729886494062, 8930628877154620, 8930496295852709, 8930332295408082,
    8930136938710037, 8929910200643313, 8929651969346576, 8929362046831821,
    8929040148983708, 8928685904949163, 8928298855919251, 8927878453297176,
    8927424056238129, 8926934928538414, 8926410234842621, 8925849036128431,
    8925250284418715, 8924612816659733, 8923935347692155, 8923216462228059,
    8922454605731716, 8921648074084370, 8920795001893004, 8919893349279659,
    8918940886960517, 8917935179392058, 8916873565723921, 8915753138253713,
    8914570718026246, 8913322827156878, 8912005657383448, 8910615034260999,
    8909146376304549, 8907594648253148, 8905954307467849, 8904219242279852,
    8902382700863898, 8900437208914278, 8898374474031524, 8896185274267181,
    8893859327696255, 8891385139157915, 8888749819379468, 8885938870515859,
    8882935930615021, 8879722467546702, 8876277410355572, 8872576702605740,
    8868592757775046, 8864293790711438, 8859642990975090, 8854597492680960,
    8849107079936941, 8843112545219547, 8836543587131619, 8829316089466866,
    8821328558351652, 8812457397248210, 8802550552526372, 8791418834669785,
    8778823859807000, 8764460971273001, 8747934524347633, 8728721234863511,
    8706114288245031, 8679135317285219, 8646390457324245, 8605824213981454,
    8554275373593332, 8486621022166149, 8393983065267527, 8259536838230440,
    8047126567181012, 7662573469053652, 6759551951132178, 0,
};

static const double zig_w[ZIG_LAYERS] = {
    0x1.db4668fe7d167p-52, 0x1.b8a7c476d1741p-52, 0x1.9c8e0c7c7f35ep-52,
    0x1.8aa73e440e862p-52, 0x1.7d45eb36e9ff4p-52, 0x1.7279dd4ac2679p-52,
    0x1.695c2be68d3e4p-52, 0x1.616dff7c8dab3p-52, 0x1.5a61edf7e73f4p-52,
    0x1.540520129e8c8p-52, 0x1.4e3456b0e1da8p-52, 0x1.48d61806d430cp-52,
    0x1.43d75b60bac8dp-52, 0x1.3f29848d395fep-52, 0x1.3ac11b8e1e839p-52,
    0x1.3694f3a3721bap-52, 0x1.329d9725e1358p-52, 0x1.2ed4df8097554p-52,
    0x1.2b35aa5ebcda5p-52, 0x1.27bba2b5d9b7dp-52, 0x1.246317a6b3231p-52,
    0x1.2128dd36bbd01p-52, 0x1.1e0a342cee675p-52, 0x1.1b04b731f48d4p-52,
    0x1.18164be0bf8c9p-52, 0x1.153d16d455057p-52, 0x1.1277720181096p-52,
    0x1.0fc3e4d95cda5p-52, 0x1.0d211dd288ac4p-52, 0x1.0a8ded0ec1159p-52,
    0x1.08093fe3e1aa9p-52, 0x1.05921d1c4b0b9p-52, 0x1.0327a1cc4a836p-52,
    0x1.00c8fea16f933p-52, 0x1.fceaeb2ca0ee2p-53, 0x1.f858aff317ac8p-53,
    0x1.f3da09745b605p-53, 0x1.ef6dcddc7807dp-53, 0x1.eb12e914817afp-53,
    0x1.e6c85a8495b0dp-53, 0x1.e28d331c61c36p-53, 0x1.de609397db2b3p-53,
    0x1.da41aaf794b3cp-53, 0x1.d62fb5257b279p-53, 0x1.d229f9bfe95c7p-53,
    0x1.ce2fcb05f3115p-53, 0x1.ca4084e08c207p-53, 0x1.c65b8c04d5d84p-53,
    0x1.c2804d2c6531dp-53, 0x1.beae3c60c7179p-53, 0x1.bae4d457e8092p-53,
    0x1.b72395df55593p-53, 0x1.b36a075492a98p-53, 0x1.afb7b428f83acp-53,
    0x1.ac0c2c6fbfe60p-53, 0x1.a8670475107fbp-53, 0x1.a4c7d45cfb2a5p-53,
    0x1.a12e37c97caa0p-53, 0x1.9d99cd86aeea8p-53, 0x1.9a0a373c6d3ccp-53,
    0x1.967f1924c0e62p-53, 0x1.92f819c67bdfdp-53, 0x1.8f74e1b375764p-53,
    0x1.8bf51b49e8281p-53, 0x1.8878727879e86p-53, 0x1.84fe948480027p-53,
    0x1.81872fd216669p-53, 0x1.7e11f3ada7506p-53, 0x1.7a9e9016840d7p-53,
    0x1.772cb58a3242ap-53, 0x1.73bc14d01277fp-53, 0x1.704c5ec504e8fp-53,
    0x1.6cdd4426b0a02p-53, 0x1.696e755e0eb23p-53, 0x1.65ffa248d7f43p-53,
    0x1.62907a016eac0p-53, 0x1.5f20aaa4d7638p-53, 0x1.5bafe1164c044p-53,
    0x1.583dc8bfea848p-53, 0x1.54ca0b4ff476ap-53, 0x1.5154507206658p-53,
    0x1.4ddc3d839cb58p-53, 0x1.4a6175432745fp-53, 0x1.46e39778d4ba1p-53,
    0x1.4362409821672p-53, 0x1.3fdd0959138fbp-53, 0x1.3c538647e5b53p-53,
    0x1.38c54749af146p-53, 0x1.3531d71460289p-53, 0x1.3198ba9823477p-53,
    0x1.2df97057dd75fp-53, 0x1.2a536fae26375p-53, 0x1.26a627fb9231dp-53,
    0x1.22f0ffba96ce9p-53, 0x1.1f33537495bfap-53, 0x1.1b6c7492bde7ap-53,
    0x1.179ba80458345p-53, 0x1.13c024b2bbdffp-53, 0x1.0fd911b972d18p-53,
    0x1.0be58456f2afcp-53, 0x1.07e47d879726ep-53, 0x1.03d4e7390f210p-53,
    0x1.ff6b21ffe30ecp-54, 0x1.f70a5866ad189p-54, 0x1.ee848e954b85cp-54,
    0x1.e5d6909f34423p-54, 0x1.dcfccc51a7480p-54, 0x1.d3f340dd86c6bp-54,
    0x1.cab56ac6833a5p-54, 0x1.c13e2b012d149p-54, 0x1.b787a7c4f44a4p-54,
    0x1.ad8b25067d385p-54, 0x1.a340d1bad0391p-54, 0x1.989f85c72c985p-54,
    0x1.8d9c6a9d0cf67p-54, 0x1.822a858ac5ecap-54, 0x1.763a1600c1764p-54,
    0x1.69b7b213c3f64p-54, 0x1.5c8afdbecef6ep-54, 0x1.4e94c08bd4d78p-54,
    0x1.3fabee18d682fp-54, 0x1.2f98d6bb0e73ap-54, 0x1.1e0ce6b54ec53p-54,
    0x1.0a936da5942d2p-54, 0x1.e8e576e3830fap-55, 0x1.b4c8fecd63b02p-55,
    0x1.73949183add9dp-55, 0x1.16db47dfb32bdp-55,
};

static const double zig_f[ZIG_LAYERS + 1] = {
    0x0.0p+0, 0x1.5de9e33733182p-9, 0x1.6ba8b0ffc2db8p-8,
    0x1.1a9b6b3fcb829p-7, 0x1.83f4bed1a0f0bp-7, 0x1.f100847656bf0p-7,
    0x1.309cee4e1477cp-6, 0x1.6a23fa9d6c22fp-6, 0x1.a4f57a25e8f32p-6,
    0x1.e0f951d58f849p-6, 0x1.0f0e539c938c0p-5, 0x1.2e282b7255da2p-5,
    0x1.4dc3fcbda5a08p-5, 0x1.6ddc9dd20b8c5p-5, 0x1.8e6db483cac0fp-5,
    0x1.af738c17b4ea1p-5, 0x1.d0eaf633a6b8ap-5, 0x1.f2d13368cf93fp-5,
    0x1.0a91f0918dae5p-4, 0x1.1bf075c21538ap-4, 0x1.2d834113457cbp-4,
    0x1.3f49878976d30p-4, 0x1.514297b246583p-4, 0x1.636dd69e998c6p-4,
    0x1.75cabd60f402ap-4, 0x1.8858d6f55ed84p-4, 0x1.9b17be7e73957p-4,
    0x1.ae071dc7bf93dp-4, 0x1.c126ac0128a82p-4, 0x1.d4762ca995a18p-4,
    0x1.e7f56ea118c48p-4, 0x1.fba44b5c61816p-4, 0x1.07c1531a357f8p-3,
    0x1.11c835e726135p-3, 0x1.1be6c8cbe5a43p-3, 0x1.261d0aaaf7624p-3,
    0x1.306afe619efedp-3, 0x1.3ad0aa9de455dp-3, 0x1.454e19baadb54p-3,
    0x1.4fe359a145658p-3, 0x1.5a907bafba9e3p-3, 0x1.655594a3a5050p-3,
    0x1.7032bc88e51fap-3, 0x1.7b280eac0c6f7p-3, 0x1.8635a99025d7bp-3,
    0x1.915baee7a2dddp-3, 0x1.9c9a43903cae2p-3, 0x1.a7f18f91a0d6ap-3,
    0x1.b361be1ec9a67p-3, 0x1.beeafd99e93b6p-3, 0x1.ca8d7f9ad4b43p-3,
    0x1.d64978f7e2d92p-3, 0x1.e21f21d136fa3p-3, 0x1.ee0eb59e75db3p-3,
    0x1.fa18733ee75d5p-3, 0x1.031e4e8606256p-2, 0x1.093dbc775a1f7p-2,
    0x1.0f6aa83b52201p-2, 0x1.15a5387a71a06p-2, 0x1.1bed95cc633cbp-2,
    0x1.2243eac7ee400p-2, 0x1.28a864146d917p-2, 0x1.2f1b307cdcc47p-2,
    0x1.359c810492f8ep-2, 0x1.3c2c88fdc65e7p-2, 0x1.42cb7e21f69bfp-2,
    0x1.497998ac6017ap-2, 0x1.503713769e39cp-2, 0x1.57042c17a74d2p-2,
    0x1.5de1230551a9bp-2, 0x1.64ce3bb89770ep-2, 0x1.6bcbbcd4d4694p-2,
    0x1.72d9f052408ddp-2, 0x1.79f923abf1d11p-2, 0x1.8129a811b882ep-2,
    0x1.886bd29e33e65p-2, 0x1.8fbffc918800bp-2, 0x1.972683912ac18p-2,
    0x1.9e9fc9ed4d931p-2, 0x1.a62c36ec797eap-2, 0x1.adcc371e07b84p-2,
    0x1.b5803cb437071p-2, 0x1.bd48bfe6b8a90p-2, 0x1.c5263f5ead9fcp-2,
    0x1.cd1940ad30932p-2, 0x1.d52250cdb191ep-2, 0x1.dd4204b59916bp-2,
    0x1.e578f9f2e03a3p-2, 0x1.edc7d75b8e9bep-2, 0x1.f62f4dd05d60fp-2,
    0x1.feb019151c56ep-2, 0x1.03a58060f304ap-1, 0x1.08006ca85ac6ap-1,
    0x1.0c6942a5c900fp-1, 0x1.10e07b50236c1p-1, 0x1.1566980fc6949p-1,
    0x1.19fc2397562a2p-1, 0x1.1ea1b2d9fe534p-1, 0x1.2357e62437dc2p-1,
    0x1.281f6a5d33891p-1, 0x1.2cf8fa7868c02p-1, 0x1.31e5612075dadp-1,
    0x1.36e57aa6a89b9p-1, 0x1.3bfa3745495cdp-1, 0x1.41249dc6579c8p-1,
    0x1.4665cea512cc7p-1, 0x1.4bbf07c6d4684p-1, 0x1.5131a8eff8ed9p-1,
    0x1.56bf3924ad864p-1, 0x1.5c696d34a27fdp-1, 0x1.62322fc5a83b3p-1,
    0x1.681bab4ed2ff3p-1, 0x1.6e2856a01cb2ap-1, 0x1.745b04d03ea40p-1,
    0x1.7ab6f9c66e43bp-1, 0x1.81400521b52b5p-1, 0x1.87faa61a8cfa0p-1,
    0x1.8eec3c5bda1f6p-1, 0x1.961b4c1b19f30p-1, 0x1.9d8fdfaee4af6p-1,
    0x1.a55418112ba08p-1, 0x1.ad750b7275dd0p-1, 0x1.b6042cf926211p-1,
    0x1.bf19b6813348bp-1, 0x1.c8d923fa0897bp-1, 0x1.d37a74ffe486ap-1,
    0x1.df6071937f4c9p-1, 0x1.ed5cf061144dep-1, 0x1.0000000000000p+0,
};

/* The draw b fell outside layer i's rectangle: try the wedge (i > 0) or the tail
 * (i == 0), and start over with fresh draws on rejection. Out of line: 3% of calls. */
static __attribute__((noinline)) double normal_slow(Rng *r, uint64_t b)
{
    for (;;) {
        int i = (int)(b & (ZIG_LAYERS - 1));
        int64_t j = (int64_t)(b >> 10) - ((int64_t)1 << 53);
        uint64_t aj = (uint64_t)(j < 0 ? -j : j);
        double x = (double)j * zig_w[i];
        if (aj < zig_k[i])
            return x;
        if (i == 0) {
            /* Marsaglia 1964: r + e1 / r with e1, e2 exponential, kept if 2 e2 > e1^2 / r^2 */
            double t, e;
            do {
                t = -log(1 - uniform(r)) / zig_r;
                e = -log(1 - uniform(r));
            } while (e + e < t * t);
            return j < 0 ? -(zig_r + t) : zig_r + t;
        }
        double y = (zig_f[i + 1] - zig_f[i]) * uniform(r);
        y = zig_f[i] + y;
        if (y < exp(-0.5 * x * x))
            return x;
        b = next(r);
    }
}

/* One standard normal: bits 0-6 pick the layer, bits 10-63 the signed position. */
static inline double normal(Rng *r)
{
    uint64_t b = next(r);
    int i = (int)(b & (ZIG_LAYERS - 1));
    int64_t j = (int64_t)(b >> 10) - ((int64_t)1 << 53);
    uint64_t aj = (uint64_t)(j < 0 ? -j : j);
    if (LIKELY(aj < zig_k[i]))
        return (double)j * zig_w[i];
    return normal_slow(r, b);
}

double rng_normal(Rng *r) { return normal(r); }

void rng_fill_normal(Rng *r, real *out, int64_t n, double mean, double std)
{
    Rng g = *r;     /* a local copy the compiler keeps in registers */
    for (int64_t k = 0; k < n; k++) {
        uint64_t b = next(&g);
        int i = (int)(b & (ZIG_LAYERS - 1));
        int64_t j = (int64_t)(b >> 10) - ((int64_t)1 << 53);
        uint64_t aj = (uint64_t)(j < 0 ? -j : j);
        double z;
        if (LIKELY(aj < zig_k[i])) {
            z = (double)j * zig_w[i];
        } else {
            Rng t = g;
            z = normal_slow(&t, b);
            g = t;
        }
        double v = std * z;                 /* two statements: no fused multiply-add */
        out[k] = (real)(mean + v);
    }
    *r = g;
}

void rng_fill_uniform(Rng *r, real *out, int64_t n, double lo, double hi)
{
    Rng g = *r;
    double span = hi - lo;
    for (int64_t k = 0; k < n; k++) {
        double v = span * uniform(&g);      /* two statements: no fused multiply-add */
        out[k] = (real)(lo + v);
    }
    *r = g;
}

/* Initial distributions. */

static const DistInfo dists[DIST_COUNT] = {
    [DIST_NORMAL] = { DIST_NORMAL, "normal", 2, { { "mean", true, 0 }, { "std", true, 0 } }, false,
                      "normal(mean, std): Gaussian with mean and standard deviation std" },
    [DIST_UNIFORM] = { DIST_UNIFORM, "uniform", 2, { { "lo", true, 0 }, { "hi", true, 0 } }, false,
                       "uniform(lo, hi): uniform on [lo, hi)" },
    [DIST_ZEROS] = { DIST_ZEROS, "zeros", 0, { { 0 } }, false, "zeros(): all 0" },
    [DIST_CONSTANT] = { DIST_CONSTANT, "constant", 1, { { "value", true, 0 } }, false,
                        "constant(value): every entry equal to value" },
    [DIST_ORTHOGONAL] = { DIST_ORTHOGONAL, "orthogonal", 1, { { "gain", false, 1 } }, true,
                          "orthogonal(gain = 1): gain times a random orthogonal matrix "
                          "(orthonormal rows or columns, whichever are fewer)" },
    [DIST_IDENTITY] = { DIST_IDENTITY, "identity", 1, { { "gain", false, 1 } }, true,
                        "identity(gain = 1): gain on the leading diagonal, 0 elsewhere" },
    [DIST_BERNOULLI] = { DIST_BERNOULLI, "bernoulli", 1, { { "p", true, 0 } }, false,
                         "bernoulli(p): 1 with probability p, else 0" },
    [DIST_LOGNORMAL] = { DIST_LOGNORMAL, "lognormal", 2, { { "mu", true, 0 }, { "sigma", true, 0 } }, false,
                         "lognormal(mu, sigma): exp(mu + sigma z), z standard normal" },
};
_Static_assert(sizeof dists / sizeof dists[0] == DIST_COUNT, "one entry per DistKind");

const DistInfo *dist_info(DistKind k)
{
    assert(k >= 0 && k < DIST_COUNT);
    return &dists[k];
}

const DistInfo *dist_lookup(const char *name)
{
    for (int k = 0; k < DIST_COUNT; k++)
        if (strcmp(dists[k].name, name) == 0)
            return &dists[k];
    return NULL;
}

#ifdef CAJAL_FLOAT
#define GEQRF sgeqrf_
#define ORGQR sorgqr_
#else
#define GEQRF dgeqrf_
#define ORGQR dorgqr_
#endif

/* LAPACK, from OpenBLAS (32-bit integers). */
void GEQRF(const int *m, const int *n, real *a, const int *lda, real *tau,
           real *work, const int *lwork, int *info);
void ORGQR(const int *m, const int *n, const int *k, real *a, const int *lda,
           const real *tau, real *work, const int *lwork, int *info);

/* out[rows, cols] = gain * Q, Q Haar-random with orthonormal columns (rows >= cols)
 * or rows (rows < cols). Q comes from A = QR of a Gaussian A [big, small] in column
 * order, so Q's columns are out's columns or rows:
 *
 *     rows >= cols:  out[i][j] = Q[i + j big]     rows < cols:  out[i][j] = Q[j + i big]
 */
static void orthogonal(Rng *r, real *out, int64_t rows, int64_t cols, double gain)
{
    int big = (int)(rows >= cols ? rows : cols), small = (int)(rows >= cols ? cols : rows);
    size_t count = (size_t)big * (size_t)small;
    real *a = xmalloc(count * sizeof *a);
    real *tau = xmalloc((size_t)small * sizeof *tau);
    real *sign = xmalloc((size_t)small * sizeof *sign);
    rng_fill_normal(r, a, (int64_t)count, 0, 1);

    int info = 0, lwork = -1;
    real query;
    GEQRF(&big, &small, a, &big, tau, &query, &lwork, &info);
    lwork = (int)query;
    ORGQR(&big, &small, &small, a, &big, tau, &query, &(int){ -1 }, &info);
    if ((int)query > lwork)
        lwork = (int)query;
    if (lwork < 1)
        lwork = 1;
    real *work = xmalloc((size_t)lwork * sizeof *work);
    GEQRF(&big, &small, a, &big, tau, work, &lwork, &info);
    assert(info == 0);
    for (int j = 0; j < small; j++)
        sign[j] = a[j + (size_t)j * big] < 0 ? -1 : 1;
    ORGQR(&big, &small, &small, a, &big, tau, work, &lwork, &info);
    assert(info == 0);

    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) {
            int64_t q = rows >= cols ? i + j * big : j + i * big;
            int64_t col = rows >= cols ? j : i;
            out[i * cols + j] = (real)(gain * (double)(a[q] * sign[col]));
        }
    free(work);
    free(sign);
    free(tau);
    free(a);
}

static bool check_finite(const DistInfo *info, const double *params, Diags *d, Span at)
{
    for (int k = 0; k < info->nparams; k++)
        if (!isfinite(params[k])) {
            diag_error(d, at, "%s of %s() must be a finite number, got %g",
                       info->param[k].name, info->name, params[k]);
            return false;
        }
    return true;
}

bool dist_fill(DistKind k, const double *params, Rng *r, real *out,
               int64_t rows, int64_t cols, Diags *d, Span at)
{
    const DistInfo *info = dist_info(k);
    assert(rows >= 0 && cols >= 0);
    if (!check_finite(info, params, d, at))
        return false;
    if (info->matrix && cols == 1) {
        diag_error(d, at, "%s() needs a matrix, not a vector of %lld", info->name, (long long)rows);
        return false;
    }
    int64_t n = rows * cols;
    switch (k) {
    case DIST_NORMAL:
        if (params[1] < 0) {
            diag_error(d, at, "std of normal() must not be negative, got %g", params[1]);
            return false;
        }
        rng_fill_normal(r, out, n, params[0], params[1]);
        return true;
    case DIST_UNIFORM:
        if (params[0] > params[1]) {
            diag_error(d, at, "uniform(lo, hi) needs lo <= hi, got lo = %g and hi = %g",
                       params[0], params[1]);
            return false;
        }
        rng_fill_uniform(r, out, n, params[0], params[1]);
        return true;
    case DIST_ZEROS:
        for (int64_t i = 0; i < n; i++)
            out[i] = 0;
        return true;
    case DIST_CONSTANT:
        for (int64_t i = 0; i < n; i++)
            out[i] = (real)params[0];
        return true;
    case DIST_ORTHOGONAL:
        if ((rows > cols ? rows : cols) > INT_MAX || rows * cols > INT_MAX) {
            diag_error(d, at, "orthogonal() of a %lld x %lld matrix is too large (at most %d entries)",
                       (long long)rows, (long long)cols, INT_MAX);
            return false;
        }
        if (n > 0)
            orthogonal(r, out, rows, cols, params[0]);
        return true;
    case DIST_IDENTITY:
        for (int64_t i = 0; i < n; i++)
            out[i] = 0;
        for (int64_t i = 0; i < rows && i < cols; i++)
            out[i * cols + i] = (real)params[0];
        return true;
    case DIST_BERNOULLI:
        if (!(params[0] >= 0 && params[0] <= 1)) {
            diag_error(d, at, "p of bernoulli() must be between 0 and 1, got %g", params[0]);
            return false;
        }
        for (int64_t i = 0; i < n; i++)
            out[i] = uniform(r) < params[0];
        return true;
    case DIST_LOGNORMAL:
        if (params[1] < 0) {
            diag_error(d, at, "sigma of lognormal() must not be negative, got %g", params[1]);
            return false;
        }
        for (int64_t i = 0; i < n; i++) {
            double v = params[1] * normal(r);
            out[i] = (real)exp(params[0] + v);
        }
        return true;
    case DIST_COUNT:
        break;
    }
    assert(!"unknown DistKind");
    return false;
}

/* Random wiring. */

int64_t dist_sparse(Rng *r, int64_t rows, int64_t cols, double p, bool no_self,
                    int64_t **row_ptr, int32_t **col_idx, Diags *d, Span at)
{
    *row_ptr = NULL;
    *col_idx = NULL;
    if (!(p >= 0 && p <= 1)) {
        diag_error(d, at, "connection probability p must be between 0 and 1, got %g", p);
        return -1;
    }
    if (rows < 0 || cols < 0 || cols > INT32_MAX || rows > INT64_MAX / (cols ? cols : 1) - 1) {
        diag_error(d, at, "cannot wire a %lld x %lld synapse (columns are limited to %d)",
                   (long long)rows, (long long)cols, INT32_MAX);
        return -1;
    }
    double mean = p * (double)rows * (double)cols;
    double want = mean + 6 * sqrt(mean) + 16;
    int64_t cap = want < (double)(rows * cols) ? (int64_t)want : rows * cols;
    if (cap < 1)
        cap = 1;
    int64_t *rp = xmalloc((size_t)(rows + 1) * sizeof *rp);
    int32_t *ci = xmalloc((size_t)cap * sizeof *ci);
    int64_t nnz = 0;
    double log_q = log1p(-p);       /* log(1 - p); -inf at p = 1, unused there */
    Rng g = *r;

    for (int64_t i = 0; i < rows; i++) {
        rp[i] = nnz;
        bool skip_diag = no_self && i < cols;
        int64_t m = cols - skip_diag;       /* candidate positions c in [0, m) */
        if (p == 0 || m == 0)
            continue;
        if (nnz + m > cap) {
            /* room for a full row, so the loops below append without checking */
            while (nnz + m > cap)
                cap *= 2;
            ci = xrealloc(ci, (size_t)cap * sizeof *ci);
        }
        if (p >= 0.25) {
            /* one Bernoulli draw per position, appended without a branch */
            for (int64_t c = 0; c < m; c++) {
                ci[nnz] = (int32_t)(skip_diag && c >= i ? c + 1 : c);
                nnz += uniform(&g) < p;
            }
            continue;
        }
        /* failures before the next success: floor(log(U) / log(1 - p)), U in (0, 1] */
        for (int64_t c = -1;;) {
            double gap = log(1 - uniform(&g)) / log_q;
            if (!(gap < (double)(m - 1 - c)))
                break;
            c += 1 + (int64_t)gap;
            ci[nnz++] = (int32_t)(skip_diag && c >= i ? c + 1 : c);
        }
    }
    *r = g;
    rp[rows] = nnz;
    if (nnz > 0 && nnz < cap)
        ci = xrealloc(ci, (size_t)nnz * sizeof *ci);
    *row_ptr = rp;
    *col_idx = ci;
    return nnz;
}
