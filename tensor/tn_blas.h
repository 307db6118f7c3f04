/* tn_blas.h: how a product's way through BLIS is chosen and remembered
 * (what and why: tn.h, at tn_blas_plans); internal (tn__: not exported
 * from the shared library). */
#ifndef TN_BLAS_H
#define TN_BLAS_H

#include <stddef.h>

#include "tn.h"

/* A product's shape as BLIS sees it: C (m x n) = op(A) (m x k) op(B)
 * (k x n), transposes ta and tb, acc: C added to (beta != 0). Not the
 * thread count: a shape takes one way on any number of threads, so that a
 * run gives the same numbers on 1 and 2 (BLIS's sums do not depend on its
 * threads either way). */
typedef struct {
    size_t m, n, k;
    int ta, tb, acc;
} tn__gemm_shape;

/* Runs the product into C (m x n, stored by rows) the packed way (packed 1)
 * or BLIS's own way (0), on the caller's threads (threads 0) or on
 * `threads`; ctx is the caller's. */
typedef void (*tn__gemm_run)(void *ctx, int packed, int threads, tn_real *C);

/* 1 when the product of shape s runs packed, 0 when BLIS's own way. The
 * first time a shape of at least TN__GEMM_PLAN_MIN multiply-adds is met,
 * both ways are timed on one thread and on all the CPUs the process may
 * run on (omp_get_num_procs; from inside a parallel region, where the
 * product runs on its thread alone, on one only), each on a scratch copy
 * of C (C0: C's values, read when s->acc), and the packed way is kept only
 * when it is clearly faster: its time over the other's, averaged over the
 * two thread counts, under 0.95. Smaller shapes, and TAPE_GEMM_PLAN=0 in
 * the environment, run BLIS's own way. Thread-safe. */
#define TN__GEMM_PLAN_MIN ((size_t)1 << 22)
int tn__gemm_packed(const tn__gemm_shape *s, tn__gemm_run run, void *ctx, const tn_real *C0);

/* kernels.c: the path of `file` in tape's cache folder ($XDG_CACHE_HOME/tape,
 * else ~/.cache/tape), its folders made; -1 when there is none
 * (TAPE_KERNELS_CACHE=0, no home). And a lock on the folder, held until
 * the returned descriptor is closed (-1: none could be taken), so that one
 * process measures at a time (MPI ranks). */
int tn__cache_path(char *path, size_t len, const char *file);
int tn__cache_lock(void);
/* `text` (whole lines) appended to the cache file `file` through a
 * temporary file and a rename, which is not done over a path there that is
 * not a regular file (a link, a device: left as it is) */
void tn__cache_append(const char *file, const char *text);

#endif
