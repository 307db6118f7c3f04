/* nn_internal.h: helpers the nn/ files share and users do not see. */
#ifndef NN_INTERNAL_H
#define NN_INTERNAL_H

#include "nn.h"

/* A dataset with room for n x dim values (and labels when asked). */
nn_dataset *nn__dataset_new(size_t n, size_t dim, int with_labels);
/* nn_load_idx; bytes: the images kept as bytes (x8, scale 1). */
nn_dataset *nn__load_idx(const char *images, const char *labels, int bytes, nn_error *err);

/* n zeros on a 64-byte boundary, for free(); NULL when out of memory
 * (params.c). A parameter block and the optimizer's state that straddle
 * cache lines made Adam's vector loads and stores a half slower. */
tn_real *nn__zeros(size_t n);

/* Index of the first non-finite element of x[0..n), or n (params.c). */
size_t nn__first_nonfinite(const tn_real *x, size_t n);

#endif
