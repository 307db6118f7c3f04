/* shards.c: a step's batch (and the test set) cut into S shards of
 * contiguous rows; this process runs the shards s with s % ranks == rank.
 * Per-shard numbers go into slots of one vector that a collective sums
 * (every slot has one writer, so the sum is exact) and are then added in
 * shard order: one process with S shards and S ranks compute the same sums.
 * The train.h comment "Data-parallel" says what this computes. */
#define _POSIX_C_SOURCE 200809L

#include "train_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int nn__shards_open(nn__shards *sh, int shards, size_t n_params, nn_error *err)
{
    *sh = (nn__shards){.P = nn_dist_size(), .rank = nn_dist_rank()};
    sh->S = shards > 0 ? shards : sh->P;
    if (shards < 0 || sh->S % sh->P) /* the same on every rank */
        return nn_fail(err, "train: %d shards over %d ranks: expected a multiple of the ranks "
                            "(0: one a rank)", shards, sh->P);
    sh->noise = calloc((size_t)sh->S, sizeof *sh->noise);
    sh->slot = calloc(nn__shards_slots(sh), sizeof *sh->slot);
    if (sh->S > sh->P)
        sh->acc = malloc(n_params * sizeof *sh->acc + 1);
    if (!sh->noise || !sh->slot || (sh->S > sh->P && !sh->acc)) {
        nn__shards_close(sh);
        return nn_fail(err, "train: out of memory");
    }
    return 0;
}

void nn__shards_close(nn__shards *sh)
{
    free(sh->noise), free(sh->slot), free(sh->acc);
    sh->noise = NULL, sh->slot = NULL, sh->acc = NULL;
}

int nn__shards_mine(const nn__shards *sh, int s) { return s % sh->P == sh->rank; }
size_t nn__shard_lo(size_t n, int s, int S) { return n * (size_t)s / (size_t)S; }
size_t nn__shards_slots(const nn__shards *sh) { return (size_t)sh->P + (size_t)sh->S * NN_SCALARS_MAX; }
static double *sums(nn__shards *sh, int s) { return sh->slot + sh->P + (size_t)s * NN_SCALARS_MAX; }
void nn__shards_clear(nn__shards *sh) { memset(sh->slot, 0, nn__shards_slots(sh) * sizeof *sh->slot); }

void nn__shards_put(nn__shards *sh, int s, const nn_scalars *rep, size_t n)
{
    for (int i = 0; i < rep->n; i++) {
        if (isnan(nn_scalars_get(&sh->names, rep->name[i])))
            nn_scalars_set(&sh->names, rep->name[i], 0);
        for (int k = 0; k < sh->names.n; k++)
            if (strcmp(sh->names.name[k], rep->name[i]) == 0)
                sums(sh, s)[k] += rep->value[i] * (double)n;
    }
}

int nn__shards_gather(nn__shards *sh, int local_rc, nn_scalars *out, nn_error *err)
{
    if (sh->P > 1) {
        double t0 = tn_seconds();
        local_rc = nn__dist_sum_status(sh->slot, nn__shards_slots(sh) - (size_t)sh->P, local_rc, err);
        sh->comm += tn_seconds() - t0;
    }
    if (local_rc)
        return -1;
    for (int s = 0; s < sh->S; s++)
        for (int k = 0; k < sh->names.n; k++) {
            double prev = nn_scalars_get(out, sh->names.name[k]);
            nn_scalars_set(out, sh->names.name[k], (isnan(prev) ? 0 : prev) + sums(sh, s)[k]);
        }
    return 0;
}

int nn__shards_agree(nn__shards *sh, int rc, nn_error *err)
{
    return nn__dist_sum_status(sh->slot, 0, rc, err);
}

int nn__shards_share_rngs(nn__shards *sh, nn_error *err)
{
    size_t per = sizeof(tn_rng) / sizeof(uint64_t) + 1;
    uint64_t *u = calloc((size_t)sh->S * per, sizeof *u);
    if (!u)
        return nn_fail(err, "train: out of memory");
    for (int s = 0; s < sh->S; s++)
        if (nn__shards_mine(sh, s))
            memcpy(u + (size_t)s * per, &sh->noise[s], sizeof(tn_rng));
    double t0 = tn_seconds();
    int rc = nn__dist_sum_u64(u, (size_t)sh->S * per, err);
    sh->comm += tn_seconds() - t0;
    for (int s = 0; s < sh->S && rc == 0; s++)
        memcpy(&sh->noise[s], u + (size_t)s * per, sizeof(tn_rng));
    free(u);
    return rc;
}

/* The loss averaged over rows [0, d->n) of d, gradients off; means in out. */
static int eval_loss(nn_loss_fn loss, void *model, ad_tape *t, const nn_dataset *d,
                     size_t batch, tn_rng *rng, long step, nn_scalars *out, nn_error *err)
{
    nn_scalars sum = {0};
    int rc = 0;
    tn_real *buf = d->x ? NULL : malloc(batch * d->dim * sizeof *buf); /* bytes: their values */
    if (!d->x && !buf)
        return nn_fail(err, "evaluation: out of memory");
    for (size_t b0 = 0; b0 < d->n && rc == 0; b0 += batch) {
        size_t nb = d->n - b0 < batch ? d->n - b0 : batch;
        nn_batch b = {tn_wrap((tn_real *)nn_data_rows(d, b0, nb, buf), 2, (const size_t[]){nb, d->dim}),
                      d->labels ? d->labels + b0 : NULL, nb};
        nn_scalars rep = {0};
        ad_tape_reset(t);
        nn_step st = {rng, step, &rep};
        ad_var *l = loss(model, t, &b, &st);
        if (!l) {
            rc = nn_fail(err, "evaluation: %s", ad_tape_error(t));
            break;
        }
        if ((rc = nn__scalars_refused(&rep, "evaluation", err)))
            break;
        nn_scalars_set(&rep, "loss", ad_item(l));
        for (int i = 0; i < rep.n; i++) {
            double prev = nn_scalars_get(&sum, rep.name[i]);
            nn_scalars_set(&sum, rep.name[i], (isnan(prev) ? 0 : prev) + rep.value[i] * (double)nb);
        }
    }
    free(buf);
    for (int i = 0; i < sum.n; i++)
        sum.value[i] /= (double)d->n;
    *out = sum;
    return rc;
}

int nn__shards_eval(nn__shards *sh, nn_loss_fn loss, void *model, ad_tape *t, const nn_dataset *test,
                    const nn_train_config *c, long step, nn_scalars *out, nn_error *err)
{
    int was = ad_set_grad_enabled(t, 0), rc = 0;
    int local = nn__dist_local(1); /* the eval sees this shard only */
    nn__shards_clear(sh);
    nn_scalars names = sh->names;
    sh->names = (nn_scalars){0};
    for (int s = 0; s < sh->S && rc == 0; s++) {
        size_t lo = nn__shard_lo(test->n, s, sh->S), hi = nn__shard_lo(test->n, s + 1, sh->S);
        if (!nn__shards_mine(sh, s) || hi == lo)
            continue;
        nn_dataset v = nn_data_view(test, lo, hi - lo);
        nn_scalars rep = {0};
        rc = c->eval ? c->eval(model, &v, &sh->noise[s], &rep, err)
                     : eval_loss(loss, model, t, &v, c->eval_batch, &sh->noise[s], step, &rep, err);
        if (rc == 0)
            nn__shards_put(sh, s, &rep, hi - lo);
    }
    ad_set_grad_enabled(t, was);
    nn__dist_local(local);
    /* every rank runs the same evaluation, so the names come in the same
     * order on each (a rank without test rows contributes nothing) */
    *out = (nn_scalars){0};
    rc = nn__shards_gather(sh, rc, out, err);
    for (int i = 0; i < out->n; i++)
        out->value[i] /= (double)test->n;
    sh->names = names;
    return rc;
}

int nn_evaluate(nn_loss_fn loss, void *model, const nn_dataset *d, size_t batch, tn_rng *rng,
                nn_scalars *out, nn_error *err)
{
    *out = (nn_scalars){0};
    if (!d || d->n == 0 || (!d->x && !d->x8))
        return nn_fail(err, "evaluate: %s", !d || d->n == 0 ? "no examples" : "the data have no values");
    if (!rng)
        return nn_fail(err, "evaluate: no random generator given");
    nn__shards sh;
    if (nn__shards_open(&sh, 0, 0, err)) /* one shard a rank, as the trainer's evaluation */
        return -1;
    for (int s = 0; s < sh.S; s++) /* shard s: the generator moved on by s·2^40 draws */
        sh.noise[s] = *rng, tn_rng_advance(&sh.noise[s], (int64_t)s << 40);
    ad_tape *t = ad_tape_new(0);
    nn_train_config c = {.eval_batch = batch ? batch : 500}; /* no eval of its own: the loss averaged */
    int rc = t ? nn__shards_eval(&sh, loss, model, t, d, &c, 0, out, err)
               : nn_fail(err, "evaluate: out of memory");
    if (rc == 0 && sh.P == 1)
        *rng = sh.noise[0]; /* the draws used, as a loop of the caller's would */
    ad_tape_free(t);
    nn__shards_close(&sh);
    return rc;
}
