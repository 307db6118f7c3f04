/* nn_internal.h: helpers the nn/ files share and users do not see. */
#ifndef NN_INTERNAL_H
#define NN_INTERNAL_H

#include "nn.h"

/* Writes the message into err (if any); returns -1. */
int nn__fail(nn_error *err, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* The same for functions returning a pointer: returns NULL. */
void *nn__fail_null(nn_error *err, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* A dataset with room for n x dim values (and labels when asked). */
nn_dataset *nn__dataset_new(size_t n, size_t dim, int with_labels);

#endif
