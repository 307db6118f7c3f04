/* test.h: the smallest test harness that does the job. A test is a function;
 * CHECK records a failure with file and line and the test goes on. main.c
 * runs the list and prints "N passed, N failed". */
#ifndef TEST_H
#define TEST_H

#include <math.h>
#include <stdio.h>

#include "ad.h"
#include "tn.h"

extern int test_failures; /* failures in the running test */

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

/* A heap tensor filled from a list. */
tn_tensor *test_tensor(int ndim, const size_t *shape, const double *vals);
/* A heap tensor of uniform values in [lo, hi) from a fixed seed. */
tn_tensor *test_random(int ndim, const size_t *shape, double lo, double hi,
                       uint64_t seed);

#endif
