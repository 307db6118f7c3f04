/* tn_parallel.h: one element-wise loop, split over OpenMP threads when it is
 * long enough to pay for waking them (internal; not installed). A branch, not
 * an if() clause: with if(false) the OpenMP runtime is still entered, which
 * costs more than a short loop. Only for loops whose iterations are
 * independent, so that results do not depend on the thread count. */
#ifndef TN_PARALLEL_H
#define TN_PARALLEL_H

#include <omp.h>
#include <stddef.h>

#define TN_PAR_MIN 32768

#define TN_FOR(i, n, ...) TN_FOR_WORK(i, n, n, __VA_ARGS__)

/* TN_FOR_WORK: the same for loops over rows whose cost is `work` elements
 * in all: split when the work, not the row count, is large (softmax over
 * (5000, 128)). TN_FOR is the case work = n. */
#define TN_FOR_WORK(i, n, work, ...)                                        \
    do {                                                                    \
        size_t n_ = (n);                                                    \
        if ((work) >= TN_PAR_MIN) {                                         \
            _Pragma("omp parallel for")                                     \
            for (size_t i = 0; i < n_; i++) { __VA_ARGS__ }                 \
        } else {                                                            \
            for (size_t i = 0; i < n_; i++) { __VA_ARGS__ }                 \
        }                                                                   \
    } while (0)

/* Inside `#pragma omp parallel`: this thread's part [lo, hi) of n elements,
 * the parts in thread order, cut at multiples of 16 (a cache line of
 * floats). For a loop that runs as one call a thread, to a TN_CLONES
 * function (tn_math.h), which the body of an OpenMP loop cannot be. */
static inline void tn_thread_part(size_t n, size_t *lo, size_t *hi)
{
    size_t T = (size_t)omp_get_num_threads(), id = (size_t)omp_get_thread_num();
    *lo = n * id / T / 16 * 16;
    *hi = id + 1 == T ? n : n * (id + 1) / T / 16 * 16;
}

/* TN_PARTS: `call` over elements [lo, hi) of n, once when n is short,
 * else once a thread on its part (tn_thread_part): for a TN_CLONES kernel
 * (tn_math.h), which the body of an OpenMP loop cannot be, so each part
 * runs in the CPU's widest lanes. lo and hi are names `call` uses. */
#define TN_PARTS(n, lo, hi, call)                                           \
    do {                                                                    \
        size_t n__ = (n);                                                   \
        if (n__ < TN_PAR_MIN) {                                             \
            size_t lo = 0, hi = n__;                                        \
            call;                                                           \
        } else {                                                            \
            _Pragma("omp parallel")                                         \
            {                                                               \
                size_t lo, hi;                                              \
                tn_thread_part(n__, &lo, &hi);                              \
                call;                                                       \
            }                                                               \
        }                                                                   \
    } while (0)

#endif
