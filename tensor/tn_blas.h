/* tn_blas.h: how a product's way through BLIS is chosen and remembered;
 * internal (tn__: not exported from the shared library).
 *
 * BLIS runs a product one of two ways: its small-matrix path ("sup": no
 * packing; BLIS takes it whenever a dimension is under its thresholds) or
 * its packed path. Which is faster depends on the shape and the CPU: on an
 * AMD EPYC (zen3 kernels, 1 thread), a step's 128 x 784 x 400 products are
 * 12-20% faster packed, its 16-row ones 1.3-1.6 times slower packed. So
 * tn_matmul measures the two on the first product of each large enough
 * shape and keeps the faster for the process and, as the kernels' choice
 * is, in a file per CPU: a rerun takes the same way, so the same sums
 * (tn.h, tn_blas_plans, says it for users). */
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
 * or BLIS's own way (0), on the caller's threads or (one 1) on one; ctx is
 * the caller's. */
typedef void (*tn__gemm_run)(void *ctx, int packed, int one, tn_real *C);

/* 1 when the product of shape s runs packed, 0 when BLIS's own way. The
 * first time a shape of at least TN__GEMM_PLAN_MIN multiply-adds is met,
 * both ways are timed on one thread (the same measure from inside a
 * parallel region and out), each on a scratch copy of C (C0: C's values,
 * read when s->acc), and the packed way is kept only when it is clearly
 * faster (under 0.92 of the other). Smaller shapes, and TAPE_GEMM_PLAN=0
 * in the environment, run BLIS's own way. Thread-safe. */
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
