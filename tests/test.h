/* test.h: the smallest test harness that does the job. A test is a function;
 * CHECK records a failure with file and line and the test goes on. main.c
 * runs the list and prints "N passed, N failed". */
#ifndef TEST_H
#define TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#include "ad.h"
#include "tn.h"

extern int test_failures; /* failures in the running test */
extern long test_allocs;  /* heap allocations so far (tests/alloc_count.c) */
extern long test_fail_at; /* the allocation count that fails, 0: none */
extern long test_failed;  /* allocations made to fail */
extern int test_skipped;  /* set by SKIP: counted apart, never as passed */

#define SKIP(why)                                                          \
    do {                                                                   \
        test_skipped = 1;                                                  \
        printf("    skipped: %s\n", (why));                                \
        return;                                                            \
    } while (0)

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            test_failures++;                                               \
            printf("    %s:%d: CHECK(%s)\n", __FILE__, __LINE__, #cond);   \
        }                                                                  \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                              \
    do {                                                                   \
        double a_ = (a), b_ = (b);                                         \
        if (!(fabs(a_ - b_) <= (tol))) {                                   \
            test_failures++;                                               \
            printf("    %s:%d: %s = %.10g, expected %.10g (tol %g)\n",     \
                   __FILE__, __LINE__, #a, a_, b_, (double)(tol));         \
        }                                                                  \
    } while (0)

#define CHECK_STR_HAS(s, sub)                                              \
    do {                                                                   \
        const char *s_ = (s);                                              \
        if (!s_ || !strstr(s_, (sub))) {                                   \
            test_failures++;                                               \
            printf("    %s:%d: \"%s\" lacks \"%s\"\n", __FILE__, __LINE__, \
                   s_ ? s_ : "(null)", (sub));                             \
        }                                                                  \
    } while (0)

/* Tolerances: the double build must meet the 1e-6 on gradients; the
 * float build checks the same code with looser bounds. */
#ifdef TN_REAL_DOUBLE
#define GRAD_TOL 1e-6
#define GRAD_EPS 1e-6
#define VAL_TOL 1e-12
#else
#define GRAD_TOL 2e-2
#define GRAD_EPS 1e-2
#define VAL_TOL 1e-5
#endif

/* A file under the data folder (TAPE_DATA, else ../shared/data) in buf;
 * NULL when it is not there. */
const char *test_data(const char *rel, char *buf, size_t len);
/* The data file's path, or SKIP (a failure when TAPE_REQUIRE_DATA=1, as in
 * CI, where ../shared/data is always there). */
#define DATA_OR_SKIP(var, rel, buf)                                        \
    const char *var = test_data((rel), (buf), sizeof(buf));                \
    do {                                                                   \
        if (!var) {                                                        \
            const char *req_ = getenv("TAPE_REQUIRE_DATA");                \
            if (req_ && *req_ == '1') {                                    \
                test_failures++;                                           \
                printf("    missing data file %s\n", (buf));               \
                return;                                                    \
            }                                                              \
            printf("    no %s: %s\n", (buf), "no package registry has it "   \
                   "(MNIST is fetched; put the rest in $TAPE_DATA)");     \
            SKIP("missing data");                                          \
        }                                                                  \
    } while (0)

/* A fresh temporary directory for files a test writes (removed at exit),
 * and the path of `name` in it, written into buf. */
const char *test_tmpdir(void);
char *test_tmp_path(const char *name, char *buf, size_t len);

/* A heap tensor filled from a list. */
tn_tensor *test_tensor(int ndim, const size_t *shape, const double *vals);
/* A heap tensor of uniform values in [lo, hi) from a fixed seed. */
tn_tensor *test_random(int ndim, const size_t *shape, double lo, double hi,
                       uint64_t seed);

#endif
