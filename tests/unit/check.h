/* check.h: the C unit tests' assertions.
 *
 * Each failed check prints file:line, the expression, expected and actual, and
 * counts; check_done() prints "N checks, N failed" and returns the exit status.
 * Checks continue after a failure so one run shows every broken case.
 */
#ifndef CAJAL_TEST_CHECK_H
#define CAJAL_TEST_CHECK_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int check_total, check_failed;

#define CHECK(cond) check_true_((cond), #cond, __FILE__, __LINE__)
#define CHECK_INT(actual, expected) check_int_((long long)(actual), (long long)(expected), #actual, __FILE__, __LINE__)
#define CHECK_STR(actual, expected) check_str_((actual), (expected), #actual, __FILE__, __LINE__)
/* |actual - expected| <= tol * max(1, |expected|) */
#define CHECK_NEAR(actual, expected, tol) check_near_((double)(actual), (double)(expected), (double)(tol), #actual, __FILE__, __LINE__)

static inline int check_true_(int ok, const char *what, const char *file, int line)
{
    check_total++;
    if (!ok) {
        check_failed++;
        fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
    }
    return ok;
}

static inline int check_int_(long long a, long long e, const char *what, const char *file, int line)
{
    check_total++;
    if (a != e) {
        check_failed++;
        fprintf(stderr, "%s:%d: %s: expected %lld, got %lld\n", file, line, what, e, a);
        return 0;
    }
    return 1;
}

static inline int check_str_(const char *a, const char *e, const char *what, const char *file, int line)
{
    check_total++;
    if (!a || strcmp(a, e) != 0) {
        check_failed++;
        fprintf(stderr, "%s:%d: %s: expected \"%s\", got \"%s\"\n", file, line, what, e, a ? a : "(null)");
        return 0;
    }
    return 1;
}

static inline int check_near_(double a, double e, double tol, const char *what, const char *file, int line)
{
    check_total++;
    double scale = fabs(e) > 1 ? fabs(e) : 1;
    if (!(fabs(a - e) <= tol * scale)) {
        check_failed++;
        fprintf(stderr, "%s:%d: %s: expected %.10g (tol %g), got %.10g\n", file, line, what, e, tol, a);
        return 0;
    }
    return 1;
}

static inline int check_done(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, check_total, check_failed);
    return check_failed ? 1 : 0;
}

#endif
