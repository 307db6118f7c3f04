/* test_author.c: what a model author needs from the library beyond the ops
 * (issue 22): evaluation of any loss over a dataset, row selection that
 * works for bytes and floats alike. */
#define _POSIX_C_SOURCE 200809L

#include "test.h"
#include "train.h"

#define SHAPE(...) ((const size_t[]){__VA_ARGS__})

/* the mean squared value of x's rows, and the label as a report */
static ad_var *sq_loss(void *m, ad_tape *t, const nn_batch *b, tn_rng *rng, long step, nn_scalars *r)
{
    (void)m, (void)rng, (void)step;
    double lab = 0;
    for (size_t i = 0; b->labels && i < b->n; i++)
        lab += b->labels[i];
    nn_scalars_set(r, "label", lab / (double)b->n);
    return ad_mean(ad_sum_axis(ad_square(ad_const(t, &b->x)), -1));
}

static nn_dataset *bytes(size_t n, size_t dim)
{
    nn_dataset *d = calloc(1, sizeof *d);
    d->n = n, d->dim = dim, d->x8 = malloc(n * dim), d->x8_scale = 1 / 255.0;
    d->labels = malloc(n * sizeof(int));
    for (size_t i = 0; i < n * dim; i++)
        d->x8[i] = (uint8_t)(i * 37 % 256);
    for (size_t i = 0; i < n; i++)
        d->labels[i] = (int)(i % 3);
    return d;
}

void test_evaluate_and_select(void)
{
    nn_error err;
    nn_dataset *b = bytes(1003, 7);
    nn_dataset *f = nn_data_head(b, b->n, &err);
    CHECK(f && nn_data_floats(f, &err) == 0 && f->x && !b->x);
    tn_rng r1, r2;
    tn_rng_seed(&r1, 1, 1), tn_rng_seed(&r2, 1, 1);
    nn_scalars sb, sf;
    CHECK(nn_evaluate(sq_loss, NULL, b, 100, &r1, &sb, &err) == 0);
    CHECK(nn_evaluate(sq_loss, NULL, f, 0, &r2, &sf, &err) == 0);
    double want = 0;
    for (size_t i = 0; i < f->n * f->dim; i++)
        want += (double)f->x[i] * f->x[i];
    CHECK_NEAR(nn_scalars_get(&sb, "loss"), want / (double)f->n, 1e-4);
    CHECK_NEAR(nn_scalars_get(&sb, "loss"), nn_scalars_get(&sf, "loss"), 1e-5);
    CHECK_NEAR(nn_scalars_get(&sb, "label"), (334 * 1 + 334 * 2) / 1003.0, 1e-9);
    nn_dataset empty = {0};
    CHECK(nn_evaluate(sq_loss, NULL, &empty, 0, &r1, &sb, &err) == -1);
    CHECK_STR_HAS(err.msg, "evaluate: no examples");
    /* rows by index, bytes staying bytes */
    const size_t rows[3] = {5, 0, 5};
    nn_dataset *s = nn_data_select(b, rows, 3, &err);
    CHECK(s && s->n == 3 && s->x8 && !s->x && s->labels[0] == 2 && s->labels[1] == 0);
    CHECK(s && memcmp(s->x8, b->x8 + 5 * 7, 7) == 0 && memcmp(s->x8 + 14, b->x8 + 35, 7) == 0);
    const size_t bad[1] = {1003};
    CHECK(nn_data_select(b, bad, 1, &err) == NULL);
    CHECK_STR_HAS(err.msg, "row 1003 (entry 0 of the list) is outside the 1003 examples");
    /* k of each class */
    tn_rng r;
    tn_rng_seed(&r, 4, 4);
    nn_dataset *pc = nn_data_per_class(f, 10, 3, &r, &err);
    int count[3] = {0};
    for (size_t i = 0; pc && i < pc->n; i++)
        count[pc->labels[i]]++;
    CHECK(pc && pc->n == 30 && count[0] == 10 && count[1] == 10 && count[2] == 10);
    CHECK(nn_data_per_class(f, 400, 3, &r, &err) == NULL);
    CHECK_STR_HAS(err.msg, "class 0 has 335 examples, 400 wanted");
    nn_dataset_free(b), nn_dataset_free(f), nn_dataset_free(s), nn_dataset_free(pc);
}
