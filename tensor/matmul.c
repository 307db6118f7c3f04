/* matmul.c: C = alpha·op(A)·op(B) + beta·C through BLIS's typed gemm, with the
 * transposes passed as flags (no copies), and the naive reference it is
 * tested against. Also the thread count shared by BLIS and our OpenMP loops;
 * a product called inside a parallel region runs on its calling thread. */
/* blis.h uses pthread barriers, which strict C11 hides. */
#define _POSIX_C_SOURCE 200809L

#include "tn.h"
#include "tn_blas.h"
#include "tn_ref.h"

#include <blis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

/* Checks shapes; writes op(A) m×k and op(B) k×n. */
static tn_status gemm_dims(const tn_tensor *C, const tn_tensor *A, int ta,
                           const tn_tensor *B, int tb, size_t *m, size_t *n,
                           size_t *k)
{
    if (A->ndim != 2 || B->ndim != 2 || C->ndim != 2)
        return TN_ESHAPE;
    *m = ta ? A->shape[1] : A->shape[0];
    *k = ta ? A->shape[0] : A->shape[1];
    size_t kb = tb ? B->shape[1] : B->shape[0];
    *n = tb ? B->shape[0] : B->shape[1];
    if (kb != *k || C->shape[0] != *m || C->shape[1] != *n)
        return TN_ESHAPE;
    return TN_OK;
}

/* One product for BLIS, run either way (tn__gemm_run) */
typedef struct {
    trans_t ta, tb;
    dim_t m, n, k;
    tn_real alpha, beta;
    const tn_real *A, *B;
    inc_t rsa, rsb;
    rntm_t *rntm; /* NULL: BLIS's global settings */
} product;

static void product_run(void *ctx, int packed, int threads, tn_real *C)
{
    const product *p = ctx;
    rntm_t r = BLIS_RNTM_INITIALIZER, *rntm = p->rntm;
    if (packed || threads) { /* the same settings, BLIS's small-matrix path off, or on `threads` threads */
        if (threads)
            bli_rntm_set_num_threads((dim_t)threads, &r);
        else if (p->rntm)
            r = *p->rntm;
        else /* BLIS 0.9's copy has the small-matrix path off already: only the packed way comes here */
            bli_rntm_init_from_global(&r);
        if (packed)
            bli_rntm_disable_l3_sup(&r);
        rntm = &r;
    }
    tn_real *a = (tn_real *)p->A, *b = (tn_real *)p->B, alpha = p->alpha, beta = p->beta; /* BLIS reads them */
#ifdef TN_REAL_DOUBLE
    bli_dgemm_ex(p->ta, p->tb, p->m, p->n, p->k, &alpha, a, p->rsa, 1, b, p->rsb, 1, &beta, C, p->n, 1, NULL, rntm);
#else
    bli_sgemm_ex(p->ta, p->tb, p->m, p->n, p->k, &alpha, a, p->rsa, 1, b, p->rsb, 1, &beta, C, p->n, 1, NULL, rntm);
#endif
}

tn_status tn_matmul(tn_tensor *C, const tn_tensor *A, int trans_a,
                    const tn_tensor *B, int trans_b, tn_real alpha,
                    tn_real beta)
{
    size_t m, n, k;
    tn_status s = gemm_dims(C, A, trans_a, B, trans_b, &m, &n, &k);
    if (s != TN_OK)
        return s;
    if (m == 0 || n == 0)
        return TN_OK;
    /* Strides describe A and B as stored; BLIS applies the transposes. */
    product p = {trans_a ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, trans_b ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE,
                 (dim_t)m, (dim_t)n, (dim_t)k, alpha, beta, A->data, B->data, (inc_t)A->shape[1],
                 (inc_t)B->shape[1], NULL};
    /* Called from inside a parallel region (each thread with work of its
     * own), the product runs on the calling thread alone. */
    rntm_t one = BLIS_RNTM_INITIALIZER;
#ifdef _OPENMP
    if (omp_in_parallel()) {
        bli_rntm_set_num_threads(1, &one);
        p.rntm = &one;
    }
#endif
    /* the way measured fastest for this shape (tn_blas.h) */
    tn__gemm_shape sh = {m, n, k, trans_a != 0, trans_b != 0, beta != 0};
    product_run(&p, tn__gemm_packed(&sh, product_run, &p, C->data), 0, C->data);
    return TN_OK;
}

tn_status tn__matmul_ref(tn_tensor *C, const tn_tensor *A, int trans_a,
                        const tn_tensor *B, int trans_b, tn_real alpha,
                        tn_real beta)
{
    size_t m, n, k;
    tn_status s = gemm_dims(C, A, trans_a, B, trans_b, &m, &n, &k);
    if (s != TN_OK)
        return s;
    size_t lda = A->shape[1], ldb = B->shape[1];
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < n; j++) {
            double acc = 0;
            for (size_t p = 0; p < k; p++) {
                tn_real a = trans_a ? A->data[p * lda + i] : A->data[i * lda + p];
                tn_real b = trans_b ? B->data[j * ldb + p] : B->data[p * ldb + j];
                acc += (double)a * b;
            }
            tn_real *c = &C->data[i * n + j];
            *c = (tn_real)(alpha * acc + (beta == 0 ? 0 : beta * *c));
        }
    }
    return TN_OK;
}

void tn_set_threads(int n)
{
    if (n < 1)
        n = 1;
    bli_thread_set_num_threads((dim_t)n);
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
}

void tn_flush_denormals(int on)
{
#if defined(__SSE__) || defined(__x86_64__)
    /* MXCSR bits 15 (flush to zero) and 6 (denormals are zero), in this
     * thread and in every thread of the OpenMP pool, which BLIS's
     * OpenMP build computes in too: the setting is per thread */
    const unsigned bits = 0x8040;
#ifdef _OPENMP
#pragma omp parallel
#endif
    {
        unsigned csr = _mm_getcsr();
        _mm_setcsr(on ? csr | bits : csr & ~bits);
    }
    unsigned csr = _mm_getcsr();
    _mm_setcsr(on ? csr | bits : csr & ~bits);
#else
    (void)on;
#endif
}

int tn_get_threads(void)
{
    dim_t n = bli_thread_get_num_threads();
    return n < 1 ? 1 : (int)n;
}
