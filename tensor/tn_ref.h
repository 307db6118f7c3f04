/* tn_ref.h: naive references (direct loops) of the GEMM paths, kept to test
 * them; internal (tn__: not exported from the shared library). */
#ifndef TN_REF_H
#define TN_REF_H

#include "tn.h"

/* The same contract as a naive triple loop, kept to test tn_matmul. */
tn_status tn__matmul_ref(tn_tensor *C, const tn_tensor *A, int trans_a,
                        const tn_tensor *B, int trans_b, tn_real alpha,
                        tn_real beta);
/* Naive references (direct loops), kept to test the GEMM paths:
 * y (N, F, Ho, Wo) = conv2d(x (N, C, H, W), W (F, C, kh, kw)) + b (F);
 * y (N, F, Ho, Wo) = conv_transpose2d(x (N, C, H, W), W (C, F, kh, kw)) + b,
 * Ho = (H - 1)·stride - 2·pad + kh + out_pad (y's shape says which). */
tn_status tn__conv2d_ref(tn_tensor *y, const tn_tensor *x, const tn_tensor *W,
                        const tn_tensor *b, size_t stride, size_t pad);
tn_status tn__conv_transpose2d_ref(tn_tensor *y, const tn_tensor *x,
                                  const tn_tensor *W, const tn_tensor *b,
                                  size_t stride, size_t pad);

#endif
