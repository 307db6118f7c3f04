/* pictures.h: what a trained model looks like, as PNG files in a folder:
 * reconstructions, samples from the prior, latent interpolations, and for a
 * 2-D latent the learned manifold and the test codes coloured by label. */
#ifndef EXAMPLES_PICTURES_H
#define EXAMPLES_PICTURES_H

#include "model.h"

/* Writes every picture that applies to the model into dir; prints each
 * file's name on stdout. 0, or -1 with a message in err (len bytes). */
int pictures_write(model *m, const nn_dataset *test, const char *dir, tn_rng *rng,
                   char *err, size_t len);
/* Φ⁻¹(p), the standard normal quantile (Acklam's approximation). */
double normal_quantile(double p);

#endif
