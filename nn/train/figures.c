/* figures.c: the pictures with what they show written on them, as SVG
 * beside each PNG (nn_pic_all): a picture grid inlined with a title and a
 * label on each row — and, for the manifold, its Φ⁻¹ grid values on both
 * axes — and the latent scatter drawn as vectors, with axes, ticks and a
 * legend of the labels' colours. */
#define _POSIX_C_SOURCE 200809L

#include "latent.h"
#include "train_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { LEFT = 120, TOP = 34, BOTTOM = 36 }; /* room for the row labels, title, x values */

int nn__fig_grid(const char *svg, const char *png, const char *title, const char *const *labels, size_t n_rows,
                 const double *ticks, size_t n_ticks, nn_error *err)
{
    if (nn_dist_rank() != 0) /* under MPI, rank 0 alone draws (and has the PNG) */
        return 0;
    unsigned w, h;
    char *uri = nn__svg_png_uri(png, &w, &h);
    if (!uri)
        return nn_fail(err, "%s: cannot read the picture %s", svg, png);
    nn_atomic a;
    if (nn_atomic_open(&a, svg, err)) {
        free(uri);
        return -1;
    }
    FILE *f = a.f;
    unsigned W = LEFT + w + 20, H = TOP + h + (ticks ? BOTTOM : 10);
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%u\" "
               "height=\"%u\" viewBox=\"0 0 %u %u\" font-family=\"sans-serif\" font-size=\"12\">\n<rect "
               "width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n<text x=\"10\" y=\"20\" font-size=\"14\" "
               "font-weight=\"bold\">", W, H, W, H);
    nn__svg_text(f, title);
    fprintf(f, "</text>\n<image x=\"%d\" y=\"%d\" width=\"%u\" height=\"%u\" href=\"%s\" "
               "style=\"image-rendering:pixelated\"/>\n", LEFT, TOP, w, h, uri);
    for (size_t r = 0; labels && r < n_rows; r++) { /* each label in the middle of its row */
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">", LEFT - 8,
                TOP + ((double)r + 0.5) * h / (double)n_rows + 4);
        nn__svg_text(f, labels[r]);
        fprintf(f, "</text>\n");
    }
    for (size_t j = 0; ticks && j < 7 && n_ticks > 1; j++) { /* 7 values, both ends: z1 across, z2 down */
        size_t i = (size_t)lround((double)j * (double)(n_ticks - 1) / 6);
        double c = ((double)i + 0.5) / (double)n_ticks;
        fprintf(f, "<text x=\"%.1f\" y=\"%u\" text-anchor=\"middle\" font-size=\"10\">%.2f</text>\n", LEFT + c * w,
                TOP + h + 14, ticks[i]);
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" font-size=\"10\">%.2f</text>\n", LEFT - 8,
                TOP + c * h + 4, ticks[n_ticks - 1 - i]);
    }
    if (ticks)
        fprintf(f, "<text x=\"%.1f\" y=\"%u\" text-anchor=\"middle\">z1 = Φ⁻¹(p)</text>\n<text x=\"14\" "
                   "y=\"%.1f\" transform=\"rotate(-90 14 %.1f)\" text-anchor=\"middle\">z2 = Φ⁻¹(p)</text>\n",
                LEFT + w / 2.0, TOP + h + 30, TOP + h / 2.0, TOP + h / 2.0);
    fprintf(f, "</svg>\n");
    free(uri);
    return nn_atomic_commit(&a, !ferror(f), err);
}

static const char *const palette[10] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

int nn__fig_scatter(const char *svg, const tn_real *z, const int *labels, size_t n, nn_error *err)
{
    if (nn_dist_rank() != 0) /* under MPI, rank 0 alone draws */
        return 0;
    double lo = INFINITY, hi = -INFINITY;
    size_t left_out = 0;
    for (size_t i = 0; i < 2 * n; i++)
        if (isfinite(z[i]))
            lo = fmin(lo, z[i]), hi = fmax(hi, z[i]);
    if (!(lo <= hi))
        lo = -3, hi = 3;
    double pad = fmax((hi - lo) * 0.05, 1e-3);
    lo -= pad, hi += pad;
    nn_atomic a;
    if (nn_atomic_open(&a, svg, err))
        return -1;
    FILE *f = a.f;
    const double S = 560, L = 60, T = 40; /* the square's side and offsets */
#define PX(v) (L + ((v) - lo) / (hi - lo) * S)
#define PY(v) (T + S - ((v) - lo) / (hi - lo) * S)
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"740\" "
               "height=\"650\" viewBox=\"0 0 740 650\" font-family=\"sans-serif\" font-size=\"12\">\n<rect "
               "width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n<text x=\"10\" y=\"22\" font-size=\"14\" "
               "font-weight=\"bold\">the codes of %zu test images (posterior means), coloured by label</text>\n"
               "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" stroke=\"#444\"/>\n",
            n, L, T, S, S);
    double d = nn__svg_tick_step(lo, hi);
    for (double v = ceil(lo / d) * d; v <= hi; v += d) {
        double t = fabs(v) < d * 1e-6 ? 0 : v;
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%g\" y2=\"%g\" stroke=\"#eee\"/><line x1=\"%g\" x2=\"%g\" "
                   "y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>\n<text x=\"%.1f\" y=\"%g\" text-anchor=\"middle\" "
                   "font-size=\"10\">%g</text><text x=\"%g\" y=\"%.1f\" text-anchor=\"end\" font-size=\"10\">%g"
                   "</text>\n", PX(v), PX(v), T, T + S, L, L + S, PY(v), PY(v), PX(v), T + S + 14, t, L - 5,
                PY(v) + 3, t);
    }
    fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">z1</text><text x=\"18\" y=\"%g\" "
               "text-anchor=\"middle\">z2</text>\n", L + S / 2, T + S + 32, T + S / 2);
    int seen[10] = {0};
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(z[2 * i]) || !isfinite(z[2 * i + 1])) {
            left_out++;
            continue;
        }
        unsigned c = (unsigned)labels[i] % 10;
        seen[c] = 1;
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"1.8\" fill=\"%s\" fill-opacity=\"0.7\"/>\n", PX(z[2 * i]),
                PY(z[2 * i + 1]), palette[c]);
    }
    fprintf(f, "<g class=\"legend\"><text x=\"640\" y=\"%g\" font-weight=\"bold\">label</text>\n", T + 10);
    for (int c = 0, k = 0; c < 10; c++)
        if (seen[c]) {
            fprintf(f, "<circle cx=\"646\" cy=\"%g\" r=\"5\" fill=\"%s\"/><text x=\"658\" y=\"%g\">%d</text>\n",
                    T + 30 + 20 * k, palette[c], T + 34 + 20 * k, c);
            k++;
        }
    if (left_out)
        fprintf(f, "<text x=\"640\" y=\"%g\" fill=\"#a00\" font-size=\"10\">%zu left out</text><text x=\"640\" "
                   "y=\"%g\" fill=\"#a00\" font-size=\"10\">(not finite)</text>\n", T + 250, left_out, T + 263);
    fprintf(f, "</g>\n</svg>\n");
#undef PX
#undef PY
    return nn_atomic_commit(&a, !ferror(f), err);
}
