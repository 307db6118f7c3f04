/* train_internal.h: what the trainer's files share and users do not see:
 * the MPI collectives (dist.c) and the shards of a step (shards.c). */
#ifndef NN_TRAIN_INTERNAL_H
#define NN_TRAIN_INTERNAL_H

#include "nn_internal.h"
#include "trainer.h"

/* 0, or -1 with err "WHERE: the loss reported "NAME": names are under 32
 * characters, at most 16 of them" when a loss's report refused a name. */
int nn__scalars_refused(const nn_scalars *s, const char *where, nn_error *err);

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

/* ---- shards (shards.c): a step's rows cut S ways, see train.h ---------------- */
typedef struct {
    int S, P, rank;       /* shards, ranks, this rank */
    tn_rng *noise;        /* S generators; only this rank's advance */
    tn_real *acc;         /* the gradients summed so far, with > 1 shard a rank */
    nn_scalars names;     /* what the loss reports, in its order */
    double *slot;         /* P statuses, then S x NN_SCALARS_MAX sums */
    double comm;          /* seconds in collectives */
} nn__shards;
/* S = shards (0: one a rank), which must be a multiple of the ranks. */
int nn__shards_open(nn__shards *sh, int shards, size_t n_params, nn_error *err);
void nn__shards_close(nn__shards *sh);
int nn__shards_mine(const nn__shards *sh, int s);  /* shard s runs here */
size_t nn__shard_lo(size_t n, int s, int S);       /* shard s's first row of n */
size_t nn__shards_slots(const nn__shards *sh);
void nn__shards_clear(nn__shards *sh);
/* rep (means over n rows) into shard s's slots, by the names' order */
void nn__shards_put(nn__shards *sh, int s, const nn_scalars *rep, size_t n);
/* Sums the slots over ranks, then: a failed rank makes every rank fail (the
 * failing one keeps its own message); else out += the shards' sums in order. */
int nn__shards_gather(nn__shards *sh, int local_rc, nn_scalars *out, nn_error *err);
/* Every rank agrees on one outcome (see nn__dist_sum_status). */
int nn__shards_agree(nn__shards *sh, int rc, nn_error *err);
/* Every shard's generator state on every rank (rank 0 saves them all). */
int nn__shards_share_rngs(nn__shards *sh, nn_error *err);
/* The test set cut into the shards, each evaluated with its generator by
 * its rank (c->eval, or the loss averaged), the sums reduced; means in out. */
int nn__shards_eval(nn__shards *sh, nn_loss_fn loss, void *model, ad_tape *t, const nn_dataset *test,
                    const nn_train_config *c, long step, nn_scalars *out, nn_error *err);

/* ---- SVG (svg.c): what plot.c and figures.c share ---------------------------- */
#include <stdio.h>
void nn__svg_text(FILE *f, const char *s);      /* s with & < > " escaped */
double nn__svg_tick_step(double lo, double hi); /* 1, 2 or 5 x 10^k: about 5 ticks */
/* A whole file (malloc'd, NUL-terminated; *len bytes), or NULL. */
char *nn__read_file(const char *path, size_t *len);
/* A PNG file as "data:image/png;base64,..." (malloc'd) and its size in
 * pixels; NULL when it cannot be read or is not a PNG. */
char *nn__svg_png_uri(const char *path, unsigned *w, unsigned *h);
/* figures.c: png inlined in an SVG with a title, a label on each of its
 * n_rows rows (labels may be NULL) and, when ticks is given, those n_ticks
 * values along both axes (the manifold's Φ⁻¹ grid); and the 2-D codes z
 * (n x 2) as a vector scatter with axes, ticks and a legend of labels. */
int nn__fig_grid(const char *svg, const char *png, const char *title, const char *const *labels, size_t n_rows,
                 const double *ticks, size_t n_ticks, nn_error *err);
int nn__fig_scatter(const char *svg, const tn_real *z, const int *labels, size_t n, nn_error *err);

#endif
