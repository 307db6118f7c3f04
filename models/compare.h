/* compare.h: autoencoder variants trained on the same data, budget,
 * optimizer and seeds, and judged by the same numbers: one call,
 * model_compare, writes a report folder — report.md (one table, mean ± sd
 * over seeds, the best of each column in bold), results.json (every number
 * of every run) and pictures side by side. The variants are the built-in
 * ones by name (model_variants) and models of your own, given by their
 * loss and latent hooks, in the same table.
 *
 * Lifetimes: nothing is kept past the call. Errors: 0, or -1 with a message
 * in err naming the variant, the seed or the file. A run whose numbers are
 * in OUT/runs/NAME-sSEED.json with the same options and data is not trained
 * again, and one cut short resumes from its checkpoint; a stored run of
 * other options or data is refused, naming the first difference.
 */
#ifndef MODEL_COMPARE_H
#define MODEL_COMPARE_H

#include "model.h"

/* A row of the table. A built-in variant: .name alone ("vae", "dae-mask",
 * ...). A model of your own: its name and
 *   .size   the size of its struct, whose first member is its nn_params *
 *           (the comparison allocates it zeroed, once per seed);
 *   .init   builds it with that seed's rng (parameters added and
 *           allocated), 0 or -1 with err;
 *   .done   frees what init made besides the parameters (may be NULL; the
 *           parameters and the struct are freed by the comparison);
 *   .loss   its training loss;
 *   .latent its hooks (.model is set to each run's model): .posterior and
 *           .decode give the reconstruction columns, the active units, the
 *           linear probe and the pictures; .log_lik or .sample (with
 *           .log_prior) make it generative: -ELBO, KL, L_k and samples.
 * E.g. examples/hvae2.c --compare vae,iwae puts itself in the table. */
typedef struct {
    const char *name;
    size_t size;
    int (*init)(void *model, tn_rng rng, nn_error *err);
    void (*done)(void *model);
    nn_loss_fn loss;
    nn_latent latent;
} model_compare_variant;

typedef struct {
    const char *out;       /* the report's folder (out/compare) */
    long seeds;            /* seeds 1..seeds of every variant (3) */
    long epochs, batch;    /* 10, 128 */
    double lr;             /* Adam's (1e-3) */
    /* the built-in variants' shape and settings */
    const char *hidden;    /* "400" */
    long latent;           /* 20 */
    double beta;           /* the beta-vae's β (4) */
    long k;                /* the iwae's k (5) */
    double noise, gauss;   /* masking and salt-and-pepper fraction, Gaussian sd (0.25, 0.25) */
    int clip;              /* corrupted input clipped to [0, 1] (1) */
    /* the evaluation */
    long iw;               /* L_k of the generative models, k (50; 0: none) */
    long probe_limit;      /* training codes the linear probe learns from (10000) */
    long time_steps;       /* every model's step timed in one sitting over this many
                              steps, 3 interleaved rounds (30; 0: off) */
    const char *data;      /* the data's description, in the report and the runs' identity */
    nn_log_fn log;         /* nn_log_stdio; NULL: silent */
    void *log_ctx;
} model_compare_options;

TN_API model_compare_options model_compare_defaults(void);
/* The defaults with a model program's command line: its folder, epochs,
 * batch, --lr, data, log hook, one seed. s must outlive the options. */
TN_API model_compare_options model_compare_setup(const nn_setup *s);
/* Built-in variants by name from a list like "vae,iwae" into v (room for
 * max): the count, or -1 with err for an empty list, an unknown name, one
 * named twice, or more than max. */
TN_API int model_compare_list(const char *list, model_compare_variant *v, int max, nn_error *err);
/* Trains every variant with every seed (unless stored), evaluates each
 * run on test, and writes OUT/report.md, OUT/results.json,
 * OUT/reconstructions.png (the test images, then a row per variant),
 * OUT/samples.png (a row per generative variant) and, with 2-D codes,
 * OUT/latent_NAME.png. Every file is checked before the first step. */
TN_API int model_compare(const model_compare_options *o, const model_compare_variant *v, int n,
                  const nn_dataset *train, const nn_dataset *test, nn_error *err);

#endif
