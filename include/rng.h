/* rng.h: cajal's random numbers: the generator, initial distributions, random wiring.
 *
 * Used by model (parameter initialisation `w ~ normal(0, g / sqrt(N))`, per-neuron
 * parameters), run (the noise `xi`, a fresh [B, n] block of normals every step) and
 * the sparse synapses (`p = 0.1`). Everything is reproducible: the same seed gives
 * the same bits, run after run, at any optimisation level, with gcc or clang.
 *
 * The generator is xoshiro256** (Blackman and Vigna, "Scrambled linear pseudorandom
 * number generators", 2018; reference code prng.di.unimi.it/xoshiro256starstar.c),
 * period 2^256 - 1, seeded from a 64-bit seed through splitmix64 as the authors
 * recommend. Its state is a plain value: copy it to fork, save it to checkpoint.
 *
 * Normal deviates come from a 128-layer ziggurat (Marsaglia and Tsang 2000, with the
 * tail method of Marsaglia 1964). Its tables are constants in rng.c, so 97% of
 * values take only integer operations and one multiplication; the other 3%
 * call exp or log from the C library (glibc and musl share the same log and exp).
 * One 64-bit draw per normal on the fast path; no cached second value.
 *
 * Streams. A model takes one global seed; each consumer (a parameter `J.w`, a
 * population's noise, a synapse's wiring) needs its own generator that does not
 * change when other consumers are added or reordered. rng_stream(base, k) derives
 * the k-th stream from `base` without advancing it:
 *
 *     x = k;  for i in 0..3:  x = mix64(x ^ base.s[i]) + 0x9e3779b97f4a7c15
 *     stream k = rng_seed(x)              (mix64: the splitmix64 finaliser)
 *
 * Each step is a bijection of x, so for one base distinct k give distinct seeds and
 * distinct states; sequences from different streams are disjoint with probability
 * 1 - O(n^2 L / 2^256) for n streams of length L. Stable ids come from names with
 * rng_id("J.w"), so stream ids do not depend on declaration order. For provably
 * disjoint blocks (one per MPI rank), rng_jump advances 2^128 steps.
 */
#ifndef CAJAL_RNG_H
#define CAJAL_RNG_H

#include "diag.h"
#include "real.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct Rng {
    uint64_t s[4];     /* xoshiro256** state; never all zero */
} Rng;

/* The state that splitmix64 gives for `seed` (every seed is valid, 0 included). */
void rng_seed(Rng *r, uint64_t seed);
/* The next 64 random bits. */
uint64_t rng_next_u64(Rng *r);
/* Uniform in [0, 1): the top 53 bits times 2^-53. */
double rng_uniform(Rng *r);
/* Standard normal (ziggurat, see above). */
double rng_normal(Rng *r);
/* true with probability p (p <= 0 never, p >= 1 always). One draw. */
bool rng_bernoulli(Rng *r, double p);
/* Uniform integer in [0, n), unbiased (Lemire 2019, "Fast random integer generation
 * in an interval"); usually one draw, no division. n must be > 0. */
uint64_t rng_below(Rng *r, uint64_t n);
/* Advances the state by 2^128 steps (the reference jump polynomial). */
void rng_jump(Rng *r);
/* The k-th independent stream of `base` (scheme above); base is not changed. */
Rng rng_stream(const Rng *base, uint64_t k);
/* A stable 64-bit stream id for a name such as "J.w" (FNV-1a, then mix64). */
uint64_t rng_id(const char *name);

/* Bulk draws for the hot loop (noise every time step): out[0..n) gets mean + std * z,
 * or lo + (hi - lo) * u, computed in double and rounded to real (so a float build can
 * round a value just below hi up to hi). rng_fill_normal with
 * (0, 1) yields exactly the values of n calls to rng_normal; rng_fill_uniform with
 * (0, 1) those of n calls to rng_uniform. No allocation. */
void rng_fill_normal(Rng *r, real *out, int64_t n, double mean, double std);
void rng_fill_uniform(Rng *r, real *out, int64_t n, double lo, double hi);

/* Initial distributions, as written after `~` in a script. The table behind
 * dist_lookup / dist_info lists each one's parameters, so the checker can match
 * arguments by position or name, fill defaults, and list them in :help. */
typedef enum {
    DIST_NORMAL,        /* normal(mean, std)                                    */
    DIST_UNIFORM,       /* uniform(lo, hi)                                      */
    DIST_ZEROS,         /* zeros()                                              */
    DIST_CONSTANT,      /* constant(value)                                      */
    DIST_ORTHOGONAL,    /* orthogonal(gain = 1): Haar-random orthonormal matrix */
    DIST_IDENTITY,      /* identity(gain = 1): gain on the leading diagonal     */
    DIST_BERNOULLI,     /* bernoulli(p): 1 with probability p, else 0           */
    DIST_LOGNORMAL,     /* lognormal(mu, sigma): exp(mu + sigma * z)            */
    DIST_COUNT
} DistKind;

enum { DIST_MAX_PARAMS = 2 };

typedef struct DistParam {
    const char *name;
    bool required;      /* no default: the script must give it */
    double def;         /* the default when not required */
} DistParam;

typedef struct DistInfo {
    DistKind kind;
    const char *name;
    int nparams;
    DistParam param[DIST_MAX_PARAMS];
    bool matrix;        /* needs a matrix (rows x cols, cols > 1), not a vector */
    const char *help;   /* one line for :help */
} DistInfo;

/* The entry for a distribution name, or NULL if there is none (the caller offers
 * "did you mean" over dist_info(0 .. DIST_COUNT-1)->name). Static; never freed. */
const DistInfo *dist_lookup(const char *name);
const DistInfo *dist_info(DistKind k);

/* Fills out[rows * cols] (row-major; a vector is rows x 1) with draws from
 * distribution k. params[0 .. nparams) holds every parameter in table order, defaults
 * already filled in. Returns false and appends an error at `at` when the parameters
 * or shape do not fit (std < 0, lo > hi, p outside [0, 1], a parameter that is not
 * finite, orthogonal or identity of a vector); out is then unchanged.
 *
 * orthogonal draws a Gaussian matrix, takes its QR factorisation (LAPACK geqrf,
 * orgqr) and multiplies each column of Q by sign(R[j][j]), which makes Q Haar
 * distributed (Mezzadri 2007, "How to generate random matrices from the classical
 * compact groups"). rows >= cols gives orthonormal columns, rows < cols orthonormal
 * rows. Its workspace is allocated here and freed before returning. */
bool dist_fill(DistKind k, const double *params, Rng *r, real *out,
               int64_t rows, int64_t cols, Diags *d, Span at);

/* Random connectivity: each of the rows x cols entries (the diagonal i == j left out
 * when no_self) is present independently with probability p. Result in CSR form:
 *
 *     row_ptr [rows + 1]   row i's columns are col_idx[row_ptr[i] .. row_ptr[i+1])
 *     col_idx [nnz]        ascending within each row
 *
 * Gaps between connections are drawn from the geometric distribution when p < 1/4
 * (one draw per connection, so 10^4 x 10^4 at p = 0.01 is 10^6 draws), one Bernoulli
 * draw per entry otherwise. Returns nnz, with *row_ptr and *col_idx allocated with
 * xmalloc (caller frees both). On p outside [0, 1] or a shape that does not fit
 * (negative, or cols beyond int32) returns -1, appends an error at `at`, and sets
 * both pointers to NULL. */
int64_t dist_sparse(Rng *r, int64_t rows, int64_t cols, double p, bool no_self,
                    int64_t **row_ptr, int32_t **col_idx, Diags *d, Span at);

#endif
