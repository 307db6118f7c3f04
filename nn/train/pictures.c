/* pictures.c: PNG pictures of any latent-variable model (nn_latent): image
 * grids, reconstructions, prior samples, interpolations, the 2-D manifold
 * and the scatter of codes. A small RGB canvas is written through libpng
 * into an nn_atomic file, so a picture is never seen half-written. */
#include "latent.h"
#include "train_internal.h"

#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GAP 2
#define ZOOM 3

typedef struct {
    size_t w, h;
    unsigned char *rgb; /* h x w x 3 */
} canvas;

static int canvas_new(canvas *c, size_t w, size_t h, unsigned char gray)
{
    c->w = w, c->h = h;
    c->rgb = w && h && w < 100000 && h < 100000 ? malloc(w * h * 3) : NULL;
    if (c->rgb)
        memset(c->rgb, gray, w * h * 3);
    return c->rgb ? 0 : -1;
}

/* A rows x cols image of values in [0, 1] (clipped; NaN drawn black),
 * scaled up by zoom, with its top-left corner at (x, y). */
static void canvas_image(canvas *c, size_t x, size_t y, const tn_real *img, size_t rows,
                         size_t cols, size_t zoom)
{
    for (size_t r = 0; r < rows * zoom; r++)
        for (size_t q = 0; q < cols * zoom; q++) {
            size_t px = x + q, py = y + r;
            if (px >= c->w || py >= c->h)
                continue;
            double v = img[(r / zoom) * cols + q / zoom];
            v = v > 0 ? (v < 1 ? v : 1) : 0;
            memset(c->rgb + (py * c->w + px) * 3, (unsigned char)(v * 255 + 0.5), 3);
        }
}

static void canvas_dot(canvas *c, double x, double y, int radius, const unsigned char rgb[3])
{
    for (int dy = -radius; dy <= radius; dy++)
        for (int dx = -radius; dx <= radius; dx++) {
            if (dx * dx + dy * dy > radius * radius)
                continue;
            long px = (long)(x + dx), py = (long)(y + dy);
            if (px < 0 || py < 0 || (size_t)px >= c->w || (size_t)py >= c->h)
                continue;
            memcpy(c->rgb + ((size_t)py * c->w + (size_t)px) * 3, rgb, 3);
        }
}

static int canvas_save(canvas *c, const char *path, nn_error *err)
{
    nn_atomic a;
    volatile int rc = -1; /* read after a longjmp from libpng */
    if (nn_dist_rank() != 0) { /* under MPI, rank 0 alone draws */
        free(c->rgb);
        return 0;
    }
    if (nn_atomic_open(&a, path, err)) {
        free(c->rgb);
        return -1;
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        nn_fail(err, "%s: out of memory", path);
        goto done;
    }
    if (setjmp(png_jmpbuf(png))) {
        nn_fail(err, "%s: libpng could not write the image", path);
        goto done;
    }
    png_init_io(png, a.f);
    png_set_IHDR(png, info, (png_uint_32)c->w, (png_uint_32)c->h, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (size_t y = 0; y < c->h; y++)
        png_write_row(png, c->rgb + y * c->w * 3);
    png_write_end(png, NULL);
    rc = 0;
done:
    if (png)
        png_destroy_write_struct(&png, info ? &info : NULL);
    free(c->rgb);
    c->rgb = NULL;
    if (rc == 0)
        return nn_atomic_commit(&a, 1, err);
    nn_atomic_abort(&a);
    return -1;
}

int nn_png_grid(const char *path, const tn_real *imgs, size_t n, size_t rows,
                size_t cols, size_t grid_cols, size_t zoom, nn_error *err)
{
    if (!n || !rows || !cols || !grid_cols || !zoom)
        return nn_fail(err, "%s: a grid of %zu images of %zux%zu, %zu a row, zoom %zu: each must "
                            "be at least 1", path, n, rows, cols, grid_cols, zoom);
    size_t grid_rows = (n + grid_cols - 1) / grid_cols;
    size_t cw = cols * zoom + GAP, ch = rows * zoom + GAP;
    canvas c;
    if (canvas_new(&c, grid_cols * cw + GAP, grid_rows * ch + GAP, 255))
        return nn_fail(err, "%s: a picture of %zux%zu pixels is too large", path,
                       grid_cols * cw + GAP, grid_rows * ch + GAP);
    for (size_t i = 0; i < n; i++)
        canvas_image(&c, GAP + (i % grid_cols) * cw, GAP + (i / grid_cols) * ch,
                     imgs + i * rows * cols, rows, cols, zoom);
    return canvas_save(&c, path, err);
}

double nn_normal_quantile(double p)
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
        return -nn_normal_quantile(1 - p);
    double q = p - 0.5, r = q * q;
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
           (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/* ---- the model's pictures ------------------------------------------------------ */

/* The decoder's images of the n latent rows of z, or NULL with err. */
static const tn_real *decode(const nn_latent *m, ad_tape *t, const tn_real *z, size_t n,
                             const int *labels, const char *what, nn_error *err)
{
    ad_var *x = m->decode(m->model, t, ad_const_copy(t, 2, (const size_t[]){n, m->latent}, z),
                          labels);
    if (x && ad_value(x)->size != n * m->rows * m->cols)
        ad_tape_fail(t, "the decoder gave %zu values for %zu images of %zux%zu",
                     ad_value(x)->size, n, m->rows, m->cols);
    if (!ad_tape_ok(t) || !x) {
        nn_fail(err, "%s: %s", what, ad_tape_error(t));
        return NULL;
    }
    return ad_data(x);
}

/* The posterior means of examples [b0, b0 + n) of d, or NULL with err. */
static const tn_real *encode(const nn_latent *m, ad_tape *t, const nn_dataset *d, size_t b0,
                             size_t n, const char *what, nn_error *err)
{
    if (!d->x) {
        nn_fail(err, "%s: the data are bytes (x8): nn_data_floats() first", what);
        return NULL;
    }
    nn_batch b = {tn_wrap(d->x + b0 * d->dim, 2, (const size_t[]){n, d->dim}),
                  d->labels ? d->labels + b0 : NULL, n};
    ad_var *lv, *mu = m->posterior(m->model, t, &b, &lv);
    if (!mu) {
        nn_fail(err, "%s: %s", what, ad_tape_error(t));
        return NULL;
    }
    return ad_data(mu);
}

static ad_tape *pic_tape(const nn_latent *m, const char *path, nn_error *err)
{
    if (!m->rows || !m->cols || !m->decode)
        return nn_fail_null(err, "%s: the model's images have no shape (rows x cols) or no decoder",
                            path);
    ad_tape *t = ad_tape_new(0);
    if (!t)
        return nn_fail_null(err, "%s: out of memory", path);
    ad_set_grad_enabled(t, 0);
    return t;
}

int nn_pic_reconstructions(const char *path, const nn_latent *m,
                           const nn_dataset *d, nn_error *err)
{
    /* up to 4 rows of 10; fewer with fewer images */
    const size_t D = m->rows * m->cols, per = d->n < 10 ? d->n : 10;
    const size_t pairs = per ? (d->n / per < 4 ? d->n / per : 4) : 0, n = per * pairs;
    if (!d->x)
        return nn_fail(err, "%s: %s", path, "the data are bytes (x8): nn_data_floats() first");
    if (n == 0 || d->dim != D)
        return nn_fail(err, "%s: needs 1 or more images of %zu values, the data have %zu of %zu", path,
                       D, d->n, d->dim);
    ad_tape *t = pic_tape(m, path, err);
    tn_real *grid = t ? malloc(2 * n * D * sizeof *grid) : NULL;
    const tn_real *mu = grid ? encode(m, t, d, 0, n, path, err) : NULL;
    const tn_real *rec = mu ? decode(m, t, mu, n, d->labels, path, err) : NULL;
    int rc = -1;
    if (rec) {
        for (size_t k = 0; k < pairs; k++) {
            memcpy(grid + (2 * k) * per * D, d->x + k * per * D, per * D * sizeof *grid);
            memcpy(grid + (2 * k + 1) * per * D, rec + k * per * D, per * D * sizeof *grid);
        }
        rc = nn_png_grid(path, grid, 2 * n, m->rows, m->cols, per, ZOOM, err);
    } else if (t && !grid) {
        nn_fail(err, "%s: out of memory", path);
    }
    free(grid);
    ad_tape_free(t);
    return rc;
}

int nn_pic_samples(const char *path, const nn_latent *m, size_t grid_rows,
                   size_t grid_cols, const int *labels, int share_z_by_column,
                   tn_rng *rng, nn_error *err)
{
    size_t n = grid_rows * grid_cols, J = m->latent;
    ad_tape *t = pic_tape(m, path, err);
    tn_real *z = t && n ? malloc(n * J * sizeof *z) : NULL;
    int rc = -1;
    if (z) {
        if (m->prior)
            m->prior(m->model, rng, z, n);
        else
            for (size_t i = 0; i < n * J; i++) /* z ~ N(0, I) */
                z[i] = (tn_real)tn_rng_normal(rng);
        if (share_z_by_column) /* row r uses row 0's codes */
            for (size_t i = grid_cols; i < n; i++)
                memcpy(z + i * J, z + (i % grid_cols) * J, J * sizeof *z);
        const tn_real *x = decode(m, t, z, n, labels, path, err);
        rc = x ? nn_png_grid(path, x, n, m->rows, m->cols, grid_cols, ZOOM, err) : -1;
    } else if (t) {
        nn_fail(err, "%s: %s", path, n ? "out of memory" : "an empty grid");
    }
    free(z);
    ad_tape_free(t);
    return rc;
}

int nn_pic_interpolation(const char *path, const nn_latent *m,
                         const nn_dataset *d, nn_error *err)
{
    /* 6 rows, fewer with fewer than 12 examples */
    const size_t rows = d->n / 2 < 6 ? d->n / 2 : 6, steps = 10, J = m->latent;
    if (rows == 0)
        return nn_fail(err, "%s: needs 2 or more examples, the data have %zu", path, d->n);
    ad_tape *t = pic_tape(m, path, err);
    const tn_real *mu = t ? encode(m, t, d, 0, 2 * rows, path, err) : NULL;
    tn_real *z = mu ? malloc(rows * steps * J * sizeof *z) : NULL;
    int *lab = mu && d->labels ? malloc(rows * steps * sizeof *lab) : NULL;
    int rc = -1;
    if (z && (lab || !d->labels)) {
        for (size_t r = 0; r < rows; r++)
            for (size_t s = 0; s < steps; s++) {
                double a = (double)s / (double)(steps - 1);
                for (size_t j = 0; j < J; j++)
                    z[(r * steps + s) * J + j] =
                        (tn_real)((1 - a) * mu[2 * r * J + j] + a * mu[(2 * r + 1) * J + j]);
                if (lab)
                    lab[r * steps + s] = d->labels[2 * r];
            }
        const tn_real *x = decode(m, t, z, rows * steps, lab, path, err);
        rc = x ? nn_png_grid(path, x, rows * steps, m->rows, m->cols, steps, ZOOM, err) : -1;
    } else if (mu) {
        nn_fail(err, "%s: out of memory", path);
    }
    free(z), free(lab);
    ad_tape_free(t);
    return rc;
}

int nn_pic_manifold(const char *path, const nn_latent *m, size_t n, nn_error *err)
{
    if (m->latent != 2 || n < 2)
        return nn_fail(err, "%s: the manifold needs a 2-D latent space (it has %zu) and a grid of "
                            "at least 2 (got %zu)", path, m->latent, n);
    ad_tape *t = pic_tape(m, path, err);
    tn_real *z = t ? malloc(n * n * 2 * sizeof *z) : NULL;
    int rc = -1;
    if (z) {
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++) {
                z[(i * n + j) * 2 + 0] = (tn_real)nn_normal_quantile((j + 0.5) / (double)n);
                z[(i * n + j) * 2 + 1] = (tn_real)nn_normal_quantile(1 - (i + 0.5) / (double)n);
            }
        const tn_real *x = decode(m, t, z, n * n, NULL, path, err);
        rc = x ? nn_png_grid(path, x, n * n, m->rows, m->cols, n, ZOOM, err) : -1;
    } else if (t) {
        nn_fail(err, "%s: out of memory", path);
    }
    free(z);
    ad_tape_free(t);
    return rc;
}

int nn_pic_scatter(const char *path, const nn_latent *m, const nn_dataset *d, nn_error *err)
{
    static const unsigned char palette[10][3] = {
        {31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40}, {148, 103, 189},
        {140, 86, 75}, {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
    if (m->latent != 2 || !d->labels || d->n == 0)
        return nn_fail(err, "%s: the scatter needs a 2-D latent space (it has %zu) and labelled "
                            "data", path, m->latent);
    const size_t n = d->n < 5000 ? d->n : 5000, size = 600, len = strlen(path);
    const int svg = len > 4 && !strcmp(path + len - 4, ".svg"); /* vectors, axes and a legend */
    ad_tape *t = ad_tape_new(0);
    canvas c = {0};
    tn_real *all = svg ? malloc(2 * n * sizeof *all) : NULL;
    if (!t || (svg ? !all : canvas_new(&c, size, size, 255))) {
        ad_tape_free(t);
        free(c.rgb), free(all);
        return nn_fail(err, "%s: out of memory", path);
    }
    ad_set_grad_enabled(t, 0);
    double lim = 0;
    for (size_t b0 = 0; b0 < n; b0 += 500) {
        size_t nb = n - b0 < 500 ? n - b0 : 500;
        ad_tape_reset(t);
        const tn_real *mu = encode(m, t, d, b0, nb, path, err);
        if (!mu) {
            free(c.rgb), free(all);
            ad_tape_free(t);
            return -1;
        }
        if (svg) {
            memcpy(all + 2 * b0, mu, 2 * nb * sizeof *all);
            continue;
        }
        if (b0 == 0) /* the axes: ±(largest |μ| of the first batch), at least 3 */
            for (size_t i = 0; i < 2 * nb; i++)
                lim = fmax(lim, fabs(mu[i]) * 1.1);
        lim = fmax(lim, 3);
        for (size_t i = 0; i < nb; i++) {
            double x = (mu[2 * i] / lim + 1) / 2 * (double)size;
            double y = (1 - mu[2 * i + 1] / lim) / 2 * (double)size;
            canvas_dot(&c, x, y, 2, palette[(unsigned)d->labels[b0 + i] % 10]);
        }
    }
    if (svg) {
        ad_tape_free(t);
        int rc = nn__fig_scatter(path, all, d->labels, n, err);
        free(all);
        return rc;
    }
    for (size_t k = 0; k < size; k++) { /* the axes through 0 */
        static const unsigned char gray[3] = {200, 200, 200};
        canvas_dot(&c, (double)size / 2, (double)k, 0, gray);
        canvas_dot(&c, (double)k, (double)size / 2, 0, gray);
    }
    ad_tape_free(t);
    return canvas_save(&c, path, err);
}

static const char *const pic_names[10] = {"reconstructions.png", "samples.png", "interpolation.png",
                                          "manifold.png", "latent_scatter.png", "reconstructions.svg",
                                          "samples.svg", "interpolation.svg", "manifold.svg",
                                          "latent_scatter.svg"};

/* Whether nn_pic_all draws picture k for m and d. */
static int pic_wanted(int k, const nn_latent *m, const nn_dataset *d)
{
    return !((k == 1 && !m->log_lik) || (k >= 3 && m->latent != 2) || (k == 4 && !d->labels) ||
             (k == 3 && m->classes) || (k == 2 && d->n < 2) || (k == 0 && d->n < 1));
}

int nn_pic_all_files(const char *dir, const nn_latent *m, const nn_dataset *d, char paths[][4096],
                     nn_error *err)
{
    int n = 0;
    for (int k = 0; k < NN_PIC_FILES; k++)
        if (pic_wanted(k % 5, m, d) &&
            (size_t)snprintf(paths[n++], 4096, "%s/%s", dir, pic_names[k]) >= 4096)
            return nn_fail(err, "%s: the folder's name is too long (%zu bytes)", dir, strlen(dir));
    return n;
}

/* Picture k's SVG beside its PNG: the title, its rows named, the manifold's
 * axes; the scatter drawn again as vectors. */
static int companion(int k, const char *svg, const char *png, const nn_latent *m, const nn_dataset *d,
                     size_t sample_rows, nn_error *err)
{
    const char *rows[100];
    char names[100][24];
    double ticks[20];
    if (k == 4)
        return nn_pic_scatter(svg, m, d, err);
    size_t per = d->n < 10 ? d->n : 10, n = 0;
    if (k == 0) /* pairs of rows: the test images, their reconstructions */
        for (n = 0; per && n < 2 * (d->n / per < 4 ? d->n / per : 4); n++)
            rows[n] = n % 2 ? "reconstruction" : "input";
    for (size_t r = 0; k == 1 && m->classes && r < sample_rows; r++, n++)
        snprintf(names[r], sizeof names[r], "class %zu", r), rows[r] = names[r];
    for (size_t r = 0; k == 2 && r < (d->n / 2 < 6 ? d->n / 2 : 6); r++, n++)
        snprintf(names[r], sizeof names[r], "test %zu to %zu", 2 * r + 1, 2 * r + 2), rows[r] = names[r];
    for (size_t j = 0; k == 3 && j < 20; j++)
        ticks[j] = nn_normal_quantile((j + 0.5) / 20);
    static const char *const title[4] = {
        "test images (input) above their reconstructions from the posterior mean",
        "samples: x decoded from z drawn from the prior", "interpolation: 10 steps between the codes of two test images",
        "the 2-D latent manifold: x decoded from z on a grid of normal quantiles"};
    const char *t = k == 1 && m->classes ? "samples: a row per class, one z per column shared down it" : title[k];
    return nn__fig_grid(svg, png, t, n ? rows : NULL, n, k == 3 ? ticks : NULL, 20, err);
}

int nn_pic_all(const char *dir, const nn_latent *m, const nn_dataset *d,
               tn_rng *rng, nn_log_fn log, void *log_ctx, nn_error *err)
{
    char path[4096];
    const char *const *names = pic_names;
    int *classes = NULL;
    size_t rows = 10;
    if (m->classes) { /* one row per class */
        rows = m->classes < 100 ? m->classes : 100;
        if (!(classes = malloc(rows * 10 * sizeof *classes)))
            return nn_fail(err, "%s: out of memory", dir);
        for (size_t i = 0; i < rows * 10; i++)
            classes[i] = (int)(i / 10);
    }
    for (int k = 0; k < 5; k++) { /* each PNG, then its SVG */
        if (!pic_wanted(k, m, d))
            continue;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, names[k]) >= sizeof path) {
            free(classes);
            return nn_fail(err, "%s: the folder's name is too long (%zu bytes)", dir, strlen(dir));
        }
        int rc = k == 0   ? nn_pic_reconstructions(path, m, d, err)
                 : k == 1 ? nn_pic_samples(path, m, rows, 10, classes, classes != NULL, rng, err)
                 : k == 2 ? nn_pic_interpolation(path, m, d, err)
                 : k == 3 ? nn_pic_manifold(path, m, 20, err)
                          : nn_pic_scatter(path, m, d, err);
        char svg[4096];
        snprintf(svg, sizeof svg, "%s/%s", dir, names[k + 5]);
        if (rc || companion(k, svg, path, m, d, rows, err)) {
            free(classes);
            return -1;
        }
        if (log) {
            char line[8400];
            snprintf(line, sizeof line, "  wrote %s and %s (labelled)", path, svg);
            log(log_ctx, NN_LOG_INFO, line);
        }
    }
    free(classes);
    return 0;
}
