/* plot.c: learning curves as SVG (plot.h): the metrics files read into
 * series, a panel per quantity with 1-2-5 ticks, the runs overlaid. */
#define _POSIX_C_SOURCE 200809L

#include "plot.h"
#include "train_internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QMAX 24 /* quantities: "loss" and the reported parts */

typedef struct {
    size_t n;       /* epoch lines */
    double *epoch;  /* n */
    double *v;      /* n x QMAX x 2 (train, test), NaN where missing */
} series;

typedef struct {
    int nq;
    char name[QMAX][40];
} quantities;

static int quantity(quantities *q, const char *name)
{
    for (int i = 0; i < q->nq; i++)
        if (!strcmp(q->name[i], name))
            return i;
    if (q->nq == QMAX || strlen(name) >= sizeof q->name[0])
        return -1;
    snprintf(q->name[q->nq], sizeof q->name[0], "%s", name);
    return q->nq++;
}

/* Reads one metrics file: a line an epoch, "train_X" and "test_X" as
 * quantity X. Lines that are not JSON objects with an epoch are skipped. */
static int read_series(const char *path, quantities *q, series *s, nn_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return nn_fail(err, "%s: cannot be read", path);
    size_t cap = 0;
    char line[65536];
    *s = (series){0};
    int rc = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        cJSON *j = cJSON_Parse(line);
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "epoch");
        if (cJSON_IsObject(j) && cJSON_IsNumber(e)) {
            if (s->n == cap) {
                size_t c = cap ? 2 * cap : 64;
                double *ep = realloc(s->epoch, c * sizeof *ep), *v = ep ? realloc(s->v, c * QMAX * 2 * sizeof *v) : NULL;
                if (ep)
                    s->epoch = ep;
                if (!v)
                    rc = nn_fail(err, "%s: out of memory", path);
                else
                    s->v = v, cap = c;
            }
            if (!rc) {
                double *row = s->v + s->n * QMAX * 2;
                for (int i = 0; i < QMAX * 2; i++)
                    row[i] = NAN;
                s->epoch[s->n] = e->valuedouble;
                for (const cJSON *x = j->child; x; x = x->next) {
                    int test = !strncmp(x->string, "test_", 5), train = !strncmp(x->string, "train_", 6);
                    int k = test || train ? quantity(q, x->string + (test ? 5 : 6)) : -1;
                    if (k >= 0 && cJSON_IsNumber(x))
                        row[2 * k + test] = x->valuedouble;
                }
                s->n++;
            }
        }
        cJSON_Delete(j);
    }
    fclose(f);
    if (!rc && s->n == 0)
        rc = nn_fail(err, "%s: no epoch lines (expected JSON Lines with \"epoch\", as nn_train writes)", path);
    return rc;
}

static const char *const colour[8] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                      "#9467bd", "#8c564b", "#e377c2", "#17becf"};

enum { PW = 300, PH = 210, ML = 58, MR = 12, MT = 26, MB = 38 }; /* a panel and its margins */

static void panel(FILE *f, int px, int py, const char *name, const series *s, int n, int k)
{
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    size_t left_out = 0;
    for (int r = 0; r < n; r++)
        for (int t = 0; t < 2; t++) { /* a series the run has: its other lines are points left out */
            size_t have = 0;
            for (size_t i = 0; i < s[r].n; i++) {
                double y = s[r].v[(i * QMAX + (size_t)k) * 2 + (size_t)t], x = s[r].epoch[i];
                if (isfinite(x) && isfinite(y))
                    x0 = fmin(x0, x), x1 = fmax(x1, x), y0 = fmin(y0, y), y1 = fmax(y1, y), have++;
            }
            left_out += have ? s[r].n - have : 0;
        }
    fprintf(f, "<g transform=\"translate(%d,%d)\">\n<text x=\"%d\" y=\"16\" font-weight=\"bold\">", px, py,
            ML);
    nn__svg_text(f, name);
    fprintf(f, "</text>\n");
    if (!(x0 <= x1)) { /* nothing finite to draw */
        fprintf(f, "<text x=\"%d\" y=\"%d\">no finite values</text>\n</g>\n", ML, MT + PH / 2);
        return;
    }
    if (x1 == x0)
        x0 -= 1, x1 += 1;
    double pad = (y1 - y0) * 0.05;
    if (pad == 0)
        pad = fabs(y0) * 0.05 + 1e-9;
    y0 -= pad, y1 += pad;
    double W = PW - ML - MR, H = PH - MT - MB;
#define SX(x) (ML + ((x) - x0) / (x1 - x0) * W)
#define SY(y) (MT + H - ((y) - y0) / (y1 - y0) * H)
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%g\" height=\"%g\" fill=\"none\" stroke=\"#444\"/>\n", ML, MT,
            W, H);
    double dy = nn__svg_tick_step(y0, y1), dx = fmax(1, round(nn__svg_tick_step(x0, x1)));
    for (double y = ceil(y0 / dy) * dy; y <= y1 + 1e-9 * dy; y += dy)
        fprintf(f, "<line x1=\"%d\" x2=\"%g\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/><text x=\"%d\" y=\"%.1f\" "
                   "text-anchor=\"end\" font-size=\"10\">%g</text>\n",
                ML, ML + W, SY(y), SY(y), ML - 4, SY(y) + 3, fabs(y) < dy * 1e-6 ? 0 : y);
    for (double x = ceil(x0 / dx) * dx; x <= x1 + 1e-9; x += dx)
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%g\" y2=\"%g\" stroke=\"#444\"/><text x=\"%.1f\" y=\"%g\" "
                   "text-anchor=\"middle\" font-size=\"10\">%g</text>\n",
                SX(x), SX(x), MT + H, MT + H + 4, SX(x), MT + H + 15, x);
    fprintf(f, "<text x=\"%g\" y=\"%d\" text-anchor=\"middle\" font-size=\"11\">epoch</text>\n", ML + W / 2,
            PH - 6);
    for (int r = 0; r < n; r++)
        for (int t = 0; t < 2; t++) {
            int started = 0;
            for (size_t i = 0; i < s[r].n; i++) {
                double y = s[r].v[(i * QMAX + (size_t)k) * 2 + (size_t)t], x = s[r].epoch[i];
                if (!isfinite(x) || !isfinite(y))
                    continue; /* left out: the line joins the finite points */
                if (!started)
                    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\"%s points=\"",
                            colour[r % 8], t ? " stroke-dasharray=\"5,3\"" : "");
                fprintf(f, "%s%.1f,%.1f", started++ ? " " : "", SX(x), SY(y));
            }
            if (started)
                fprintf(f, "\"/>\n");
            if (started == 1) { /* one point: a dot */
                for (size_t i = 0; i < s[r].n; i++) {
                    double y = s[r].v[(i * QMAX + (size_t)k) * 2 + (size_t)t];
                    if (isfinite(y) && isfinite(s[r].epoch[i]))
                        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n", SX(s[r].epoch[i]),
                                SY(y), colour[r % 8]);
                }
            }
        }
    if (left_out)
        fprintf(f, "<text x=\"%g\" y=\"%d\" text-anchor=\"end\" font-size=\"10\" fill=\"#a00\">%zu point%s left "
                   "out (missing or not finite)</text>\n", ML + W, 16, left_out, left_out > 1 ? "s" : "");
#undef SX
#undef SY
    fprintf(f, "</g>\n");
}

int nn_plot_curves(const char *svg_path, int n, const char *const *metrics, const char *const *labels,
                   const char *title, nn_error *err)
{
    if (n < 1 || !metrics)
        return nn_fail(err, "plot: no metrics files");
    if (nn_dist_rank() != 0) /* under MPI, rank 0 alone draws */
        return 0;
    quantities q = {0};
    quantity(&q, "loss");
    series *s = calloc((size_t)n, sizeof *s);
    int rc = s ? 0 : nn_fail(err, "plot: out of memory");
    for (int i = 0; !rc && i < n; i++)
        rc = read_series(metrics[i], &q, &s[i], err);
    nn_atomic a;
    if (!rc && !(rc = nn_atomic_open(&a, svg_path, err))) {
        FILE *f = a.f;
        int cols = q.nq < 3 ? q.nq : 3, rows = (q.nq + cols - 1) / cols, top = 30 + 18 * ((n + 2) / 3);
        int w = cols * PW + 20, h = top + rows * PH + 10;
        fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
                   "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
                   "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n<text x=\"10\" y=\"18\" "
                   "font-size=\"14\" font-weight=\"bold\">", w, h, w, h);
        nn__svg_text(f, title ? title : "learning curves");
        fprintf(f, "</text>\n<g class=\"legend\">\n");
        for (int i = 0; i < n; i++) { /* the runs, three to a line; then the line styles */
            const char *name = labels && labels[i] ? labels[i] : strrchr(metrics[i], '/') ? strrchr(metrics[i], '/') + 1
                                                                                           : metrics[i];
            int lx = 10 + (i % 3) * 230, ly = 36 + 18 * (i / 3);
            fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"3\"/><text x=\"%d\" "
                       "y=\"%d\">", lx, lx + 22, ly - 4, ly - 4, colour[i % 8], lx + 28, ly);
            nn__svg_text(f, name);
            fprintf(f, "</text>\n");
        }
        fprintf(f, "<text x=\"%d\" y=\"18\" text-anchor=\"end\" font-size=\"11\">solid: train, dashed: test</text>\n"
                   "</g>\n", w - 10);
        for (int k = 0; k < q.nq; k++)
            panel(f, 10 + (k % cols) * PW, top + (k / cols) * PH, q.name[k], s, n, k);
        fprintf(f, "</svg>\n");
        rc = nn_atomic_commit(&a, !ferror(f), err);
    }
    for (int i = 0; s && i < n; i++)
        free(s[i].epoch), free(s[i].v);
    free(s);
    return rc;
}
