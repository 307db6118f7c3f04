/* compare_html.c: model_compare's report as one self-contained page,
 * OUT/report.html: the table, every variant's learning curves (the SVG
 * inline), the robustness columns as a heat map (variant x corruption),
 * the linear probe's accuracies as bars, and the pictures (PNG as data
 * URIs) with a label on each row. No script, no file beside it: it opens
 * from the file system in any browser. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compare.h"
#include "compare_internal.h"
#include "train_internal.h"

/* A PNG of the report's folder as an <img>, with its rows labelled on the
 * left (the grid's rows are of equal height). Nothing when it is absent. */
static void picture(FILE *f, const char *dir, const char *file, const char *const *rows, int n_rows)
{
    char path[4300];
    unsigned w, h;
    snprintf(path, sizeof path, "%s/%s", dir, file);
    char *uri = nn__svg_png_uri(path, &w, &h);
    if (!uri)
        return;
    fprintf(f, "<div class=\"grid\"><div class=\"rows\" style=\"height:%upx\">", h);
    for (int i = 0; i < n_rows; i++) {
        fputs("<div>", f);
        nn__svg_text(f, rows[i]);
        fputs("</div>", f);
    }
    fprintf(f, "</div><img alt=\"%s\" width=\"%u\" height=\"%u\" src=\"%s\"></div>\n", file, w, h, uri);
    free(uri);
}

/* A colour from green (best) to red (worst) for v in [lo, hi]. */
static void heat(FILE *f, double v, double lo, double hi)
{
    double t = hi > lo ? (v - lo) / (hi - lo) : 0;
    fprintf(f, "background:hsl(%.0f,70%%,%.0f%%)", 120 * (1 - t), 80 - 10 * t);
}

/* The mean of column k over variant i's runs (NaN for none) and its sd. */
static double mean_of(const model__cmp_run *r, int n_runs, int i, int k, double *sd)
{
    double m, d;
    int c;
    model__cmp_mean(r, n_runs, i, k, &m, &d, &c);
    if (sd)
        *sd = d;
    return m;
}

static void html_table(FILE *f, const model_compare_variant *v, int n, const model__cmp_run *r, int n_runs,
                       const double *timed)
{
    fputs("<h2>The table</h2>\n<table><tr><th>model</th>", f);
    for (int k = 0; k < MODEL__CMP_METRICS - 1; k++)
        fprintf(f, "<th>%s</th>", model__cmp_metrics[k].head);
    fprintf(f, "%s</tr>\n", timed ? "<th>s/epoch timed</th>" : "");
    for (int i = 0; i < n; i++) {
        fputs("<tr><td>", f);
        nn__svg_text(f, v[i].name);
        fputs("</td>", f);
        for (int k = 0; k < MODEL__CMP_METRICS - 1; k++) {
            double sd, m = mean_of(r, n_runs, i, k, &sd);
            if (isnan(m))
                fputs("<td>—</td>", f);
            else if (k == 11 || k == 14)
                fprintf(f, "<td>%.0f</td>", m);
            else
                fprintf(f, "<td>%.*f ± %.*f</td>", k == 13 ? 4 : 2, m, k == 13 ? 4 : 2, sd);
        }
        if (timed)
            fprintf(f, "<td>%.2f</td>", timed[i]);
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
}

/* robustness: reconstruction BCE by corruption (columns 0, 2, 4, 6), a heat map */
static void html_heat_map(FILE *f, const model_compare_variant *v, int n, const model__cmp_run *r, int n_runs)
{
    static const char *const corr[4] = {"clean", "mask", "salt &amp; pepper", "Gaussian"};
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n; i++)
        for (int c = 0; c < 4; c++) {
            double m = mean_of(r, n_runs, i, 2 * c, NULL);
            if (!isnan(m))
                lo = fmin(lo, m), hi = fmax(hi, m);
        }
    fputs("<h2>Robustness: reconstruction BCE (nats) from corrupted input</h2>\n<table><tr><th>model</th>", f);
    for (int c = 0; c < 4; c++)
        fprintf(f, "<th>%s</th>", corr[c]);
    fputs("</tr>\n", f);
    for (int i = 0; i < n; i++) {
        fputs("<tr><td>", f);
        nn__svg_text(f, v[i].name);
        fputs("</td>", f);
        for (int c = 0; c < 4; c++) {
            double x = mean_of(r, n_runs, i, 2 * c, NULL);
            if (isnan(x)) {
                fputs("<td>—</td>", f);
                continue;
            }
            fputs("<td style=\"", f);
            heat(f, x, lo, hi);
            fprintf(f, "\">%.2f</td>", x);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table><p>Green: the lowest error of the table, red: the highest.</p>\n", f);
}

/* the linear probe's accuracies (column 13), as bars */
static void html_probe(FILE *f, const model_compare_variant *v, int n, const model__cmp_run *r, int n_runs)
{
    fputs("<h2>Linear probe: test accuracy of softmax regression on the codes</h2>\n", f);
    int bars = 0;
    for (int i = 0; i < n; i++) {
        double a = mean_of(r, n_runs, i, 13, NULL);
        if (isnan(a))
            continue;
        if (!bars++)
            fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"560\" height=\"%d\" font-size=\"12\" "
                       "font-family=\"sans-serif\">\n", 22 * n + 24);
        int y = 4 + 22 * (bars - 1);
        fprintf(f, "<text x=\"110\" y=\"%d\" text-anchor=\"end\">", y + 13);
        nn__svg_text(f, v[i].name);
        fprintf(f, "</text><rect x=\"116\" y=\"%d\" width=\"%.1f\" height=\"16\" fill=\"#1f77b4\"/>"
                   "<text x=\"%.1f\" y=\"%d\">%.2f%%</text>\n", y, 380 * a, 122 + 380 * a, y + 13, 100 * a);
    }
    if (bars)
        fprintf(f, "<line x1=\"116\" x2=\"496\" y1=\"%d\" y2=\"%d\" stroke=\"#444\"/><text x=\"116\" y=\"%d\">0"
                   "</text><text x=\"496\" y=\"%d\" text-anchor=\"end\">100%%</text></svg>\n",
                4 + 22 * bars, 4 + 22 * bars, 18 + 22 * bars, 18 + 22 * bars);
    else
        fputs("<p>No labels: no probe.</p>\n", f);
}

int model__cmp_html(const model_compare_options *o, const model_compare_variant *v, int n,
                    const model__cmp_run *r, int n_runs, const double *timed, const char *const *rec_rows,
                    int n_rec, const char *const *smp_rows, int n_smp, nn_error *err)
{
    nn_atomic a;
    if (model__cmp_open(&a, o, "report.html", err))
        return -1;
    FILE *f = a.f;
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<title>Autoencoder variants compared</title><style>\n"
          "body{font-family:sans-serif;margin:24px;color:#222;max-width:1400px}"
          "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;"
          "text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}"
          ".grid{display:flex;align-items:flex-start;margin:8px 0}.rows{display:flex;flex-direction:column;"
          "justify-content:space-around;margin-right:8px;font-size:13px;text-align:right;min-width:90px}"
          "img{image-rendering:pixelated}\n</style></head><body>\n<h1>Autoencoder variants compared</h1>\n<p>",
          f);
    nn__svg_text(f, o->data);
    fprintf(f, "; %ld epochs, batch %ld, Adam %g, %ld seed%s (mean ± sd); built-in variants %s-%ld.</p>\n",
            o->epochs, o->batch, o->lr, o->seeds, o->seeds > 1 ? "s" : "", o->hidden, o->latent);
    html_table(f, v, n, r, n_runs, timed);
    /* the learning curves, inline */
    char path[4300];
    snprintf(path, sizeof path, "%s/curves.svg", o->out);
    size_t len;
    char *svg = nn__read_file(path, &len), *start = svg ? strstr(svg, "<svg") : NULL;
    if (start)
        fprintf(f, "<h2>Learning curves (seed 1)</h2>\n%s\n", start);
    free(svg);
    html_heat_map(f, v, n, r, n_runs);
    html_probe(f, v, n, r, n_runs);
    /* the pictures */
    fputs("<h2>Reconstructions: the test images, then each model's (seed 1)</h2>\n", f);
    picture(f, o->out, "reconstructions.png", rec_rows, n_rec);
    if (n_smp) {
        fputs("<h2>Samples of the prior, a row per generative model</h2>\n", f);
        picture(f, o->out, "samples.png", smp_rows, n_smp);
    }
    fputs("</body></html>\n", f);
    return nn_atomic_commit(&a, !ferror(f), err);
}
