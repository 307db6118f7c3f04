/* pictures.c: the pictures of pictures.h, drawn with the model's encode and
 * decode in no-grad mode. */
#include "pictures.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canvas.h"

#define GAP 2

double normal_quantile(double p)
{
    /* P. J. Acklam's rational approximation, relative error < 1.2e-9 */
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                               1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                               6.680131188771972e+01, -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                               -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    if (p <= 0)
        return -INFINITY;
    if (p >= 1)
        return INFINITY;
    if (p < 0.02425) {
        double q = sqrt(-2 * log(p));
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
               ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    if (p > 1 - 0.02425)
        return -normal_quantile(1 - p);
    double q = p - 0.5, r = q * q;
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
           (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

typedef struct {
    model *m;
    ad_tape *t;
    size_t rows, cols, zoom;
    const char *dir;
    char *err;
    size_t len;
} pics;

/* Decodes the latent rows of z (n x latent) into images. */
static const tn_real *decode(pics *p, const tn_real *z, size_t n)
{
    ad_var *Z = ad_const_new(p->t, 2, (const size_t[]){n, p->m->c.latent});
    if (!Z)
        return NULL;
    memcpy(ad_data(Z), z, n * p->m->c.latent * sizeof(tn_real));
    return ad_data(model_decode(p->m, p->t, Z));
}

static const tn_real *encode(pics *p, const tn_real *x, size_t n)
{
    tn_tensor X = tn_wrap((tn_real *)x, 2, (const size_t[]){n, p->m->c.input_dim});
    return ad_data(model_encode(p->m, p->t, ad_const(p->t, &X)));
}

/* A grid of n images (grid_rows x grid_cols) saved as dir/name. */
static int save_grid(pics *p, const char *name, const tn_real *imgs, size_t grid_rows, size_t grid_cols)
{
    canvas c;
    size_t cw = p->cols * p->zoom + GAP, ch = p->rows * p->zoom + GAP;
    if (!imgs) {
        snprintf(p->err, p->len, "%s: %s", name, ad_tape_error(p->t));
        return -1;
    }
    if (canvas_new(&c, grid_cols * cw + GAP, grid_rows * ch + GAP, 255)) {
        snprintf(p->err, p->len, "%s: out of memory", name);
        return -1;
    }
    for (size_t i = 0; i < grid_rows * grid_cols; i++)
        canvas_image(&c, GAP + (i % grid_cols) * cw, GAP + (i / grid_cols) * ch,
                     imgs + i * p->rows * p->cols, p->rows, p->cols, p->zoom);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", p->dir, name);
    int rc = canvas_save(&c, path, p->err, p->len);
    canvas_free(&c);
    if (rc == 0)
        printf("  wrote %s\n", path);
    return rc;
}

/* Rows of 10 test images, each row of inputs above its reconstructions. */
static int reconstructions(pics *p, const nn_dataset *test)
{
    const size_t per = 10, pairs = 4, n = per * pairs, D = p->m->c.input_dim;
    if (test->n < n)
        return 0;
    tn_real *grid = malloc(2 * n * D * sizeof *grid);
    const tn_real *rec = grid ? decode(p, encode(p, test->x, n), n) : NULL;
    if (!grid || !rec) {
        free(grid);
        snprintf(p->err, p->len, "reconstructions: %s", grid ? ad_tape_error(p->t) : "out of memory");
        return -1;
    }
    for (size_t k = 0; k < pairs; k++) {
        memcpy(grid + (2 * k) * per * D, test->x + k * per * D, per * D * sizeof *grid);
        memcpy(grid + (2 * k + 1) * per * D, rec + k * per * D, per * D * sizeof *grid);
    }
    int rc = save_grid(p, "reconstructions.png", grid, 2 * pairs, per);
    free(grid);
    return rc;
}

static int samples(pics *p, tn_rng *rng)
{
    const size_t n = 100, J = p->m->c.latent;
    tn_real *z = malloc(n * J * sizeof *z);
    if (!z)
        return -1;
    for (size_t i = 0; i < n * J; i++) /* z ~ N(0, I), the prior */
        z[i] = (tn_real)tn_rng_normal(rng);
    int rc = save_grid(p, "samples.png", decode(p, z, n), 10, 10);
    free(z);
    return rc;
}

/* Between the codes of test images 2k and 2k+1, 10 evenly spaced steps. */
static int interpolation(pics *p, const nn_dataset *test)
{
    const size_t rows = 6, steps = 10, J = p->m->c.latent;
    if (test->n < 2 * rows)
        return 0;
    const tn_real *mu = encode(p, test->x, 2 * rows);
    tn_real *z = malloc(rows * steps * J * sizeof *z);
    if (!mu || !z) {
        free(z);
        snprintf(p->err, p->len, "interpolation: %s", mu ? "out of memory" : ad_tape_error(p->t));
        return -1;
    }
    for (size_t r = 0; r < rows; r++)
        for (size_t s = 0; s < steps; s++) {
            double a = (double)s / (double)(steps - 1);
            for (size_t j = 0; j < J; j++)
                z[(r * steps + s) * J + j] =
                    (tn_real)((1 - a) * mu[2 * r * J + j] + a * mu[(2 * r + 1) * J + j]);
        }
    int rc = save_grid(p, "interpolation.png", decode(p, z, rows * steps), rows, steps);
    free(z);
    return rc;
}

/* AEVB's figure: decode z on a grid whose coordinates are Φ⁻¹ of evenly
 * spaced probabilities, so that the grid covers the prior's mass evenly. */
static int manifold(pics *p)
{
    const size_t n = 20;
    tn_real *z = malloc(n * n * 2 * sizeof *z);
    if (!z)
        return -1;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            z[(i * n + j) * 2 + 0] = (tn_real)normal_quantile((j + 0.5) / (double)n);
            z[(i * n + j) * 2 + 1] = (tn_real)normal_quantile(1 - (i + 0.5) / (double)n);
        }
    int rc = save_grid(p, "manifold.png", decode(p, z, n * n), n, n);
    free(z);
    return rc;
}

/* The posterior means of the test set, one dot each, coloured by label. */
static int scatter(pics *p, const nn_dataset *test)
{
    static const unsigned char palette[10][3] = {
        {31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40}, {148, 103, 189},
        {140, 86, 75}, {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
    const size_t n = test->n < 5000 ? test->n : 5000, size = 600;
    double lim = 0;
    canvas c;
    if (canvas_new(&c, size, size, 255))
        return -1;
    int rc = -1;
    for (size_t b0 = 0; b0 < n; b0 += 500) {
        size_t nb = n - b0 < 500 ? n - b0 : 500;
        ad_tape_reset(p->t);
        const tn_real *mu = encode(p, test->x + b0 * test->dim, nb);
        if (!mu) {
            snprintf(p->err, p->len, "latent scatter: %s", ad_tape_error(p->t));
            goto out;
        }
        if (b0 == 0) /* the axes: ±(largest |μ| of the first batch), at least 3 */
            for (size_t i = 0; i < 2 * nb; i++)
                lim = fmax(lim, fabs(mu[i]) * 1.1);
        lim = fmax(lim, 3);
        for (size_t i = 0; i < nb; i++) {
            int label = test->labels[b0 + i];
            double x = (mu[2 * i] / lim + 1) / 2 * (double)size, y = (1 - mu[2 * i + 1] / lim) / 2 * (double)size;
            canvas_dot(&c, x, y, 2, palette[(unsigned)label % 10]);
        }
    }
    for (size_t k = 0; k < size; k++) { /* the axes through 0 */
        static const unsigned char gray[3] = {200, 200, 200};
        canvas_dot(&c, (double)size / 2, (double)k, 0, gray);
        canvas_dot(&c, (double)k, (double)size / 2, 0, gray);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/latent_scatter.png", p->dir);
    rc = canvas_save(&c, path, p->err, p->len);
    if (rc == 0)
        printf("  wrote %s (axes ±%.1f, colours by label 0-9)\n", path, lim);
out:
    canvas_free(&c);
    return rc;
}

int pictures_write(model *m, const nn_dataset *test, const char *dir, tn_rng *rng, char *err, size_t len)
{
    if (!test->rows || !test->cols) {
        snprintf(err, len, "pictures: the data are not images (no rows x cols)");
        return -1;
    }
    pics p = {m, ad_tape_new(0), test->rows, test->cols, 3, dir, err, len};
    if (!p.t) {
        snprintf(err, len, "pictures: out of memory");
        return -1;
    }
    ad_set_grad_enabled(p.t, 0);
    int vae = m->c.kind == MODEL_VAE, rc = 0;
#define STEP(call)                          \
    do {                                    \
        ad_tape_reset(p.t);                 \
        if (rc == 0)                        \
            rc = (call);                    \
    } while (0)
    STEP(reconstructions(&p, test));
    if (vae)
        STEP(samples(&p, rng));
    STEP(interpolation(&p, test));
    if (vae && m->c.latent == 2) {
        STEP(manifold(&p));
        if (test->labels)
            STEP(scatter(&p, test));
    }
#undef STEP
    ad_tape_free(p.t);
    return rc;
}
