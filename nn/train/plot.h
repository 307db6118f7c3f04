/* plot.h: learning curves from metrics files (the JSON Lines nn_train
 * writes), drawn as SVG: text, axes and legends in a vector file any
 * browser opens (docs/design.md says why SVG). Lifetimes and errors as
 * trainer.h; the file is written atomically (nn_atomic). */
#ifndef NN_PLOT_H
#define NN_PLOT_H

#include "trainer.h"

/* Learning curves of n runs, overlaid: a panel per quantity — "loss" first,
 * then every reported part ("recon", "kl", ...) in the order the files
 * name them — each with the runs' training values (solid) and test values
 * (dashed) against the epoch, its axes ticked and labelled; a legend names
 * each run (labels[i], or the file's name when labels is NULL). Points
 * that are missing or not finite are left out, and the panel says how many.
 * A file that cannot be read or holds no epoch line is an error naming it.
 * title may be NULL. 0, or -1 with err. */
TN_API int nn_plot_curves(const char *svg_path, int n, const char *const *metrics, const char *const *labels,
                   const char *title, nn_error *err);

#endif
