/* tn_dnnl.h: conv2d through oneDNN (conv_dnnl.c), for autograd/op_conv.c.
 * Internal; not installed, not exported. Both return 0 when done and -1
 * when oneDNN cannot (the double build, a shape it refuses, no memory):
 * the caller then takes the im2col path, which gives the same results to
 * float rounding. Buffers come from alloc(ctx, bytes), 64-byte aligned,
 * alive until the caller's next reset (the tape's arena). */
#ifndef TN_DNNL_H
#define TN_DNNL_H

#include "tn.h"

typedef void *(*tn_alloc_fn)(void *ctx, size_t bytes);

/* y (N,F,Ho,Wo) = conv(x (N,C,H,W), W (F,C,kh,kw)) + b (F) */
int tn__dnnl_conv2d_forward(tn_tensor *y, const tn_tensor *x, const tn_tensor *W, const tn_tensor *b,
                            size_t stride, size_t pad, tn_alloc_fn alloc, void *ctx);
/* dx, dW, db (each may be NULL) += the gradients of that conv given g,
 * the gradient of y */
int tn__dnnl_conv2d_backward(tn_tensor *dx, tn_tensor *dW, tn_tensor *db, const tn_tensor *g, const tn_tensor *x,
                             const tn_tensor *W, size_t stride, size_t pad, tn_alloc_fn alloc, void *ctx);

#endif
