/* nn_internal.h: helpers the nn/ files share and users do not see. */
#ifndef NN_INTERNAL_H
#define NN_INTERNAL_H

#include "nn.h"

/* A dataset with room for n x dim values (and labels when asked). */
nn_dataset *nn__dataset_new(size_t n, size_t dim, int with_labels);

#endif
