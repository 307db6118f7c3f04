/* compare.c: trains autoencoder variants on the same data, architecture,
 * budget, optimizer and seeds, and writes a report folder: report.md (one
 * table, mean ± sd over seeds, the best of each column marked), results.json
 * (every number of every run) and pictures side by side. A run whose
 * results are already in the folder is not trained again, so a comparison
 * that was cut short resumes. docs/compare.md shows a report. */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compare.h"

#define N_VARIANTS 11 /* the names in model_variants (model.h): vae ... conv-vae */


typedef struct {
    const char *models, *out, *data, *binarized, *frey, *csv, *hidden;
    long seeds, epochs, latent, k, iw, batch, threads, train_limit, test_limit, probe_limit, time_steps;
    double beta, noise, gauss, lr;
    int no_clip, conv, kernels;
} options;

static _Noreturn void die(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("compare: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(status);
}

/* ---- options: one table (nn_option) ------------------------------------------ */

static options parse(int argc, char **argv)
{
    options o = {.out = "out/compare", .seeds = 3, .epochs = 10, .latent = 20, .k = 5, .iw = 50,
                 .batch = 128, .threads = 2, .probe_limit = 10000, .beta = 4, .noise = 0.25,
                 .gauss = 0.25, .lr = 1e-3, .hidden = "400", .time_steps = 30};
    const nn_option rows[] = {
        NN_OPT_TEXT("models", &o.models, "LIST", "of vae,beta-vae,iwae,cvae,ae,sparse,sparse-hidden,\n"
                    "dae-mask,dae-gauss,dae-sp,conv-vae (default: all but conv-vae)"),
        NN_OPT_FLAG("conv", &o.conv, "adds conv-vae: the VAE with a convolutional body (1 -> 32 -> 64\n"
                    "channels, 4x4 kernels, stride 2) around the encoder's and decoder's layers"),
        NN_OPT_INT("seeds", &o.seeds, 1, 20, NULL),
        NN_OPT_INT("epochs", &o.epochs, 0, 1e6, NULL),
        NN_OPT_INT("batch", &o.batch, 1, 1e6, NULL),
        NN_OPT_REAL("lr", &o.lr, 0, 1e3, NULL),
        NN_OPT_INT("threads", &o.threads, 1, 1024, NULL),
        NN_OPT_TEXT("hidden", &o.hidden, "LIST", NULL),
        NN_OPT_INT("latent", &o.latent, 1, 100000, NULL),
        NN_OPT_REAL("beta", &o.beta, 0, 1e6, "beta-vae's"),
        NN_OPT_INT("k", &o.k, 2, 10000, "iwae's"),
        NN_OPT_REAL("noise", &o.noise, 0, 1, "masking and salt-and-pepper fraction"),
        NN_OPT_REAL("gauss", &o.gauss, 0, 100, "Gaussian noise's sd"),
        NN_OPT_FLAG("no-clip", &o.no_clip, "the corrupted input not clipped to [0, 1]"),
        NN_OPT_INT("iw-samples", &o.iw, 0, 1e6, "L_k of the generative models"),
        NN_OPT_INT("probe-limit", &o.probe_limit, 10, 1e9, "training codes the linear probe learns from"),
        NN_OPT_INT("time-steps", &o.time_steps, 0, 1e6, "each model's step timed in one sitting, models\n"
                   "interleaved, 3 rounds; 0: off"),
        NN_OPT_TEXT("data", &o.data, "DIR", "IDX files"),
        NN_OPT_TEXT("binarized", &o.binarized, "DIR", "binarized MNIST .amat"),
        NN_OPT_TEXT("frey", &o.frey, "FILE", "Frey Face .mat"),
        NN_OPT_TEXT("csv", &o.csv, "FILE", "numbers, a row each"),
        NN_OPT_INT("train-limit", &o.train_limit, 1, 1e9, NULL),
        NN_OPT_INT("test-limit", &o.test_limit, 1, 1e9, NULL),
        NN_OPT_TEXT("out", &o.out, "DIR", "report.md, report.html, results.json, pictures"),
        NN_OPT_CHOICE("kernels", &o.kernels, "auto|measure|avx512|blis", "BLIS's products (as vae's)"),
        NN_OPT_END};
    nn_error err;
    int rc = nn_options_parse(rows, argc, argv, &err);
    if (rc == NN_OPTIONS_HELP) {
        static char usage[8192];
        nn_options_usage("compare [options]   trains the variants into one report", rows, usage, sizeof usage);
        fputs(usage, stdout), exit(0);
    }
    if (rc)
        die(2, "%s", err.msg);
    if ((o.data != NULL) + (o.binarized != NULL) + (o.frey != NULL) + (o.csv != NULL) > 1)
        die(2, "give one of --data, --binarized, --frey, --csv");
    return o;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    options o = parse(argc, argv);
    static const char *const kernels[] = {"auto", "measure", "avx512", "blis"};
    tn_blas_kernels(kernels[o.kernels], (size_t)o.batch); /* before BLIS's first call, and before MPI (it may fork) */
    nn_dist_size(); /* under mpirun (make MPI=1): MPI starts; rank 0 alone prints */
    tn_set_threads((int)o.threads);
    model_compare_variant chosen[N_VARIANTS];
    nn_error err;
    int n = model_compare_list(o.models ? o.models : "vae,beta-vae,iwae,cvae,ae,sparse,sparse-hidden,dae-mask,"
                                                     "dae-gauss,dae-sp", chosen, N_VARIANTS, &err), has_conv = 0;
    if (n < 0)
        die(2, "--models: %s", err.msg + strlen("variants: "));
    for (int i = 0; i < n; i++)
        has_conv |= !strcmp(chosen[i].name, "conv-vae");
    if (o.conv && !has_conv && n < N_VARIANTS) /* --conv adds the conv VAE to the list */
        chosen[n++] = (model_compare_variant){.name = "conv-vae"};
    tn_rng split;
    tn_rng_seed(&split, 1, 4);
    nn_dataset *train, *test;
    char desc[8400];
    nn_source kind = o.csv ? NN_SOURCE_CSV : o.frey ? NN_SOURCE_FREY : o.binarized ? NN_SOURCE_BINARIZED
                                                                                 : NN_SOURCE_IDX;
    const char *src = o.csv ? o.csv : o.frey ? o.frey : o.binarized ? o.binarized : o.data;
    if (nn_load_source(kind, src, &split, &train, &test, desc, sizeof desc, &err))
        die(1, "%s", err.msg);
    model_compare_options c = model_compare_defaults();
    c.out = o.out, c.seeds = o.seeds, c.epochs = o.epochs, c.batch = o.batch, c.lr = o.lr, c.hidden = o.hidden;
    c.latent = o.latent, c.beta = o.beta, c.k = o.k, c.noise = o.noise, c.gauss = o.gauss, c.clip = !o.no_clip;
    c.iw = o.iw, c.probe_limit = o.probe_limit, c.time_steps = o.time_steps, c.data = desc;
    int rc = nn_data_limit(&train, (size_t)o.train_limit, &err) || nn_data_limit(&test, (size_t)o.test_limit, &err);
    if (!rc)
        printf("data: %s\n%ld thread%s, BLIS's %s kernels\n", desc, o.threads, o.threads > 1 ? "s" : "",
               tn_blas_config());
    rc = rc || model_compare(&c, chosen, n, train, test, &err);
    if (rc)
        fprintf(stderr, "compare: %s\n", err.msg);
    nn_dataset_free(train), nn_dataset_free(test);
    return rc;
}
