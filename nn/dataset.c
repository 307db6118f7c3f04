/* dataset.c: transforms of a loaded dataset (scaling, standardisation,
 * binarisation), splits, and the seeded minibatch iterator. */
#include "nn_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tn_parallel.h"

void nn_data_scale(nn_dataset *d, double a)
{
    if (!d->x) { /* bytes: the scale is the dataset's */
        d->x8_scale *= a;
        return;
    }
    for (size_t i = 0; i < d->n * d->dim; i++)
        d->x[i] = (tn_real)(a * d->x[i]);
}

/* the value of element i, floats or bytes */
static inline double value(const nn_dataset *d, size_t i)
{
    return d->x ? (double)d->x[i] : (double)(tn_real)(d->x8_scale * d->x8[i]);
}

void nn_data_stats(const nn_dataset *d, double *mean, double *sd)
{
    for (size_t j = 0; j < d->dim; j++)
        mean[j] = sd[j] = 0;
    for (size_t i = 0; i < d->n; i++)
        for (size_t j = 0; j < d->dim; j++)
            mean[j] += value(d, i * d->dim + j);
    for (size_t j = 0; j < d->dim; j++)
        mean[j] /= d->n ? (double)d->n : 1;
    for (size_t i = 0; i < d->n; i++)
        for (size_t j = 0; j < d->dim; j++) {
            double c = value(d, i * d->dim + j) - mean[j];
            sd[j] += c * c;
        }
    for (size_t j = 0; j < d->dim; j++)
        sd[j] = sqrt(sd[j] / (d->n ? (double)d->n : 1));
}

void nn_data_standardize(nn_dataset *d, const double *mean, const double *sd)
{
    nn_error err;
    if (nn_data_floats(d, &err))
        return;
    for (size_t i = 0; i < d->n; i++)
        for (size_t j = 0; j < d->dim; j++) {
            double s = sd[j] > 0 ? sd[j] : 1;
            d->x[i * d->dim + j] = (tn_real)((d->x[i * d->dim + j] - mean[j]) / s);
        }
}

void nn_data_binarize(nn_dataset *d, double threshold)
{
    if (!d->x) { /* bytes stay bytes: 0 or 1 */
        for (size_t i = 0; i < d->n * d->dim; i++)
            d->x8[i] = value(d, i) > threshold ? 1 : 0;
        d->x8_scale = 1;
        return;
    }
    for (size_t i = 0; i < d->n * d->dim; i++)
        d->x[i] = d->x[i] > threshold ? 1 : 0;
}

void nn_data_binarize_sample(nn_dataset *d, tn_rng *r)
{
    nn_error err;
    if (nn_data_floats(d, &err))
        return;
    for (size_t i = 0; i < d->n * d->dim; i++)
        d->x[i] = tn_rng_uniform(r) < d->x[i] ? 1 : 0;
}

/* Copies the rows listed in idx into a new dataset. */
static nn_dataset *gather(const nn_dataset *d, const size_t *idx, size_t n)
{
    nn_dataset *o = nn__dataset_new(n, d->dim, d->labels != NULL);
    if (!o)
        return NULL;
    o->rows = d->rows, o->cols = d->cols;
    if (!d->x) { /* bytes in, bytes out */
        free(o->x), o->x = NULL;
        if (!(o->x8 = malloc(n * d->dim + 1))) {
            nn_dataset_free(o);
            return NULL;
        }
        o->x8_scale = d->x8_scale;
    }
    for (size_t i = 0; i < n; i++) {
        if (o->x8)
            memcpy(o->x8 + i * d->dim, d->x8 + idx[i] * d->dim, d->dim);
        else
            memcpy(o->x + i * d->dim, d->x + idx[i] * d->dim, d->dim * sizeof(tn_real));
        if (d->labels)
            o->labels[i] = d->labels[idx[i]];
    }
    return o;
}

static void shuffle(size_t *idx, size_t n, tn_rng *r)
{
    for (size_t i = n; i > 1; i--) { /* Fisher-Yates */
        size_t j = tn_rng_below(r, (uint32_t)i);
        size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

static size_t *identity(size_t n)
{
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    for (size_t i = 0; idx && i < n; i++)
        idx[i] = i;
    return idx;
}

int nn_data_split(const nn_dataset *d, size_t n_valid, tn_rng *r,
                  nn_dataset **train, nn_dataset **valid, nn_error *err)
{
    *train = *valid = NULL;
    if (n_valid > d->n)
        return nn_fail(err, "split: %zu validation examples asked of %zu", n_valid, d->n);
    if (d->n > UINT32_MAX)
        return nn_fail(err, "split: more than 2^32 examples");
    size_t *idx = identity(d->n);
    if (!idx)
        return nn_fail(err, "split: out of memory");
    shuffle(idx, d->n, r);
    *train = gather(d, idx, d->n - n_valid);
    *valid = gather(d, idx + d->n - n_valid, n_valid);
    free(idx);
    if (!*train || !*valid) {
        nn_dataset_free(*train), nn_dataset_free(*valid);
        *train = *valid = NULL;
        return nn_fail(err, "split: out of memory");
    }
    return 0;
}

nn_dataset *nn_data_concat(const nn_dataset *a, const nn_dataset *b, nn_error *err)
{
    if (a->dim != b->dim)
        return nn_fail_null(err, "concat: %zu and %zu values per example", a->dim, b->dim);
    if (!a->x || !b->x)
        return nn_fail_null(err, "concat: expected floats (nn_data_floats), not bytes");
    int labels = a->labels && b->labels;
    nn_dataset *o = nn__dataset_new(a->n + b->n, a->dim, labels);
    if (!o)
        return nn_fail_null(err, "concat: out of memory");
    if (a->rows == b->rows && a->cols == b->cols)
        o->rows = a->rows, o->cols = a->cols;
    memcpy(o->x, a->x, a->n * a->dim * sizeof(tn_real));
    memcpy(o->x + a->n * a->dim, b->x, b->n * b->dim * sizeof(tn_real));
    if (labels) {
        memcpy(o->labels, a->labels, a->n * sizeof(int));
        memcpy(o->labels + a->n, b->labels, b->n * sizeof(int));
    }
    return o;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

nn_dataset *nn_data_select(const nn_dataset *d, const size_t *rows, size_t n, nn_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (rows[i] >= d->n)
            return nn_fail_null(err, "select: row %zu (entry %zu of the list) is outside the %zu examples",
                                rows[i], i, d->n);
    nn_dataset *o = gather(d, rows, n);
    return o ? o : nn_fail_null(err, "select: out of memory");
}

nn_dataset *nn_data_per_class(const nn_dataset *d, size_t k, size_t classes, tn_rng *r, nn_error *err)
{
    if (!d->labels)
        return nn_fail_null(err, "per_class: the data have no labels");
    size_t want = k * classes;
    size_t *idx = malloc((d->n ? d->n : 1) * sizeof *idx), *pick = malloc((want ? want : 1) * sizeof *pick);
    size_t *got = calloc(classes ? classes : 1, sizeof *got), n = 0;
    if (!idx || !pick || !got) {
        free(idx), free(pick), free(got);
        return nn_fail_null(err, "per_class: out of memory");
    }
    for (size_t i = 0; i < d->n; i++)
        idx[i] = i;
    shuffle(idx, d->n, r);
    for (size_t i = 0; i < d->n && n < want; i++) {
        int c = d->labels[idx[i]];
        if (c >= 0 && (size_t)c < classes && got[c] < k)
            got[c]++, pick[n++] = idx[i];
    }
    nn_dataset *o = NULL;
    for (size_t c = 0; c < classes; c++)
        if (got[c] < k) {
            nn_fail(err, "per_class: class %zu has %zu examples, %zu wanted", c, got[c], k);
            goto out;
        }
    qsort(pick, n, sizeof *pick, cmp_size); /* in the data's order */
    if (!(o = gather(d, pick, n)))
        nn_fail(err, "per_class: out of memory");
out:
    free(idx), free(pick), free(got);
    return o;
}

nn_dataset *nn_data_head(const nn_dataset *d, size_t n, nn_error *err)
{
    if (n > d->n)
        n = d->n;
    size_t *idx = identity(n);
    nn_dataset *o = idx ? gather(d, idx, n) : NULL;
    free(idx);
    return o ? o : nn_fail_null(err, "head: out of memory");
}

/* ---- minibatches ------------------------------------------------------------- */

struct nn_batches {
    const nn_dataset *d;
    size_t batch, pos;
    tn_rng *rng;
    int dynamic;
    size_t *order;
    tn_real *x;   /* batch x dim, allocated once */
    int *labels;
};

nn_batches *nn_batches_new(const nn_dataset *d, size_t batch, tn_rng *rng,
                           int dynamic, nn_error *err)
{
    if (batch == 0 || d->n == 0)
        return nn_fail_null(err, "batches: batch size and dataset must be non-empty");
    if (d->n > UINT32_MAX)
        return nn_fail_null(err, "batches: more than 2^32 examples");
    if (dynamic && !rng)
        return nn_fail_null(err, "batches: dynamic binarisation needs a generator");
    nn_batches *b = calloc(1, sizeof *b);
    if (!b)
        return nn_fail_null(err, "batches: out of memory");
    b->d = d, b->batch = batch < d->n ? batch : d->n, b->rng = rng, b->dynamic = dynamic;
    b->order = identity(d->n);
    b->x = malloc(b->batch * d->dim * sizeof(tn_real));
    b->labels = d->labels ? malloc(b->batch * sizeof(int)) : NULL;
    if (!b->order || !b->x || (d->labels && !b->labels)) {
        nn_batches_free(b);
        return nn_fail_null(err, "batches: out of memory");
    }
    return b;
}

void nn_batches_free(nn_batches *b)
{
    if (!b)
        return;
    free(b->order), free(b->x), free(b->labels), free(b);
}

size_t nn_batches_per_epoch(const nn_batches *b) { return (b->d->n + b->batch - 1) / b->batch; }

int nn_batches_next(nn_batches *b, tn_tensor *x, const int **labels)
{
    const nn_dataset *d = b->d;
    if (b->pos >= d->n) {
        b->pos = 0;
        return 0;
    }
    if (b->pos == 0 && b->rng) {
        /* from the identity, so that an epoch's order depends only on the
         * generator's state: a run resumed from a checkpoint sees the same */
        for (size_t i = 0; i < d->n; i++)
            b->order[i] = i;
        shuffle(b->order, d->n, b->rng);
    }
    size_t count = d->n - b->pos < b->batch ? d->n - b->pos : b->batch;
    const size_t *order = b->order + b->pos, dim = d->dim;
    tn_real *bx = b->x;
    if (!b->dynamic) /* rows apart from each other: split over threads when large */
        TN_FOR_WORK(i, count, count * dim, {
            tn_real *dst = bx + i * dim;
            const tn_real *src = nn_data_rows(d, order[i], 1, dst); /* bytes: their values in dst */
            if (src != dst)
                memcpy(dst, src, dim * sizeof(tn_real));
        });
    for (size_t i = 0; b->dynamic && i < count; i++) { /* one generator: in order */
        tn_real *dst = bx + i * dim;
        const tn_real *src = nn_data_rows(d, order[i], 1, dst);
        for (size_t j = 0; j < dim; j++)
            dst[j] = tn_rng_uniform(b->rng) < src[j] ? 1 : 0;
    }
    for (size_t i = 0; b->labels && i < count; i++)
        b->labels[i] = d->labels[order[i]];
    b->pos += count;
    *x = tn_wrap(b->x, 2, (const size_t[]){count, d->dim});
    if (labels)
        *labels = b->labels;
    return 1;
}

void nn_data_shuffle_labels(nn_dataset *d, tn_rng *r)
{
    for (size_t i = d && d->labels ? d->n : 0; i > 1; i--) { /* Fisher-Yates */
        size_t j = tn_rng_below(r, (uint32_t)i);
        int k = d->labels[i - 1];
        d->labels[i - 1] = d->labels[j], d->labels[j] = k;
    }
}

nn_dataset nn_data_view(const nn_dataset *d, size_t start, size_t n)
{
    nn_dataset v = *d;
    start = start < d->n ? start : d->n;
    v.n = n < d->n - start ? n : d->n - start;
    v.x = d->x ? d->x + start * d->dim : NULL;
    v.x8 = d->x8 ? d->x8 + start * d->dim : NULL;
    v.labels = d->labels ? d->labels + start : NULL;
    return v;
}

int nn_data_limit(nn_dataset **d, size_t n, nn_error *err)
{
    if (!n || n >= (*d)->n)
        return 0;
    nn_dataset *h = nn_data_head(*d, n, err);
    if (!h)
        return -1;
    nn_dataset_free(*d);
    *d = h;
    return 0;
}
