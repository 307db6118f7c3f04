/* nn_internal.h: helpers the nn/ files share and users do not see. */
#ifndef NN_INTERNAL_H
#define NN_INTERNAL_H

#include "nn.h"

/* A dataset with room for n x dim values (and labels when asked). */
nn_dataset *nn__dataset_new(size_t n, size_t dim, int with_labels);
/* nn_load_idx; bytes: the images kept as bytes (x8, scale 1). */
nn_dataset *nn__load_idx(const char *images, const char *labels, int bytes, nn_error *err);

/* Collectives over every rank of an MPI job (dist.c), in place; without
 * MPI, or with one rank, they do nothing. 0, or -1 with err. */
int nn__dist_sum_real(tn_real *x, size_t n, nn_error *err);   /* Σ over ranks */
int nn__dist_sum_double(double *x, size_t n, nn_error *err);
int nn__dist_sum_u64(uint64_t *x, size_t n, nn_error *err);
int nn__dist_bcast_real(tn_real *x, size_t n, nn_error *err); /* rank 0's to all */
int nn__dist_bcast_bytes(void *x, size_t n, int root, nn_error *err); /* root's to all */
/* Every rank's outcome rc and n numbers summed in one all-reduce: v holds
 * nn_dist_size() status slots (overwritten), then the n numbers (summed in
 * place). A failed rank fails every rank: it keeps its message, the others
 * get "rank R: <its message>". One rank: returns rc, v untouched. */
int nn__dist_sum_status(double *v, size_t n, int rc, nn_error *err);
/* 1 while nn_train evaluates its shard: evaluations then stay on this rank's
 * rows (nn_latent_* split across ranks otherwise). Returns the old value. */
int nn__dist_local(int on);
int nn__dist_local_now(void);

#endif
