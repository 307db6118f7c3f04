/* compare.c: trains autoencoder variants on the same data, architecture,
 * budget, optimizer and seeds, and writes a report folder: report.md (one
 * table, mean ± sd over seeds, the best of each column marked), results.json
 * (every number of every run) and pictures side by side. A run whose
 * results are already in the folder is not trained again, so a comparison
 * that was cut short resumes. docs/compare.md shows a report. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compare.h"

#define N_VARIANTS 11 /* the names in model_variants (model.h): vae ... conv-vae */


typedef struct {
    const char *models, *out, *data, *binarized, *frey, *csv;
    long seeds, epochs, latent, k, iw, batch, threads, train_limit, test_limit, probe_limit, time_steps;
    double beta, noise, gauss, lr;
    int no_clip, conv;
    const char *kernels;
    const char *hidden;
} options;

static _Noreturn void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("compare: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* ---- options -------------------------------------------------------------- */

static double number(const char *opt, const char *v, double lo, double hi, int whole)
{
    char *end;
    errno = 0;
    double x = strtod(v ? v : "", &end);
    if (!v || !*v || *end || errno || !(x >= lo && x <= hi) || (whole && x != floor(x))) {
        fprintf(stderr, "compare: --%s: expected %s from %g to %g, got \"%s\"\n", opt,
                whole ? "a whole number" : "a number", lo, hi, v ? v : "");
        exit(2);
    }
    return x;
}

static const char usage[] =
    "usage: compare [options]   trains the variants, writes OUT/report.md, results.json, PNGs\n"
    "  --models LIST   of vae,beta-vae,iwae,cvae,ae,sparse,sparse-hidden,dae-mask,dae-gauss,dae-sp,\n"
    "                  conv-vae (default: all but conv-vae)\n"
    "  --conv          adds conv-vae: the VAE with a convolutional body (1 -> 32 -> 64 channels,\n"
    "                  4x4 kernels, stride 2) before the encoder's layers and after the decoder's\n"
    "  --seeds N (3)  --epochs N (10)  --batch N (128)  --lr X (1e-3)  --threads N\n"
    "  --hidden LIST (400)  --latent N (20)  --beta B (4, beta-vae)  --k K (5, iwae)\n"
    "  --noise X (0.25: masking and salt-and-pepper fraction)  --gauss SD (0.25)  --no-clip\n"
    "  --iw-samples K (50: L_k of the generative models)  --probe-limit N (10000 train codes)\n"
    "  --time-steps N (30: each model's step timed in one sitting, models interleaved, 3 rounds;\n"
    "                 0: off)\n"
    "  --data DIR | --binarized DIR | --frey FILE | --csv FILE   --train-limit N  --test-limit N\n"
    "  --out DIR (out/compare)   --kernels auto|measure|avx512|blis (BLIS's products; auto: its AVX-512\n"
    "                 kernels for batches of 64 and more when the CPU has them)\n";

static options parse(int argc, char **argv)
{
    options o = {.out = "out/compare", .seeds = 3, .epochs = 10, .latent = 20, .k = 5, .iw = 50,
                 .batch = 128, .threads = 2, .probe_limit = 10000, .beta = 4, .noise = 0.25,
                 .gauss = 0.25, .lr = 1e-3, .hidden = "400", .time_steps = 30, .kernels = "auto"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            fputs(usage, stdout), exit(0);
        if (!strcmp(a, "--no-clip")) {
            o.no_clip = 1;
            continue;
        }
        if (!strcmp(a, "--conv")) {
            o.conv = 1;
            continue;
        }
        if (strncmp(a, "--", 2) || !v)
            fprintf(stderr, "compare: %s: expected an option and its value\n%s", a, usage), exit(2);
        a += 2, i++;
        if (!strcmp(a, "models")) o.models = v;
        else if (!strcmp(a, "out")) o.out = v;
        else if (!strcmp(a, "data")) o.data = v;
        else if (!strcmp(a, "binarized")) o.binarized = v;
        else if (!strcmp(a, "frey")) o.frey = v;
        else if (!strcmp(a, "csv")) o.csv = v;
        else if (!strcmp(a, "hidden")) o.hidden = v;
        else if (!strcmp(a, "seeds")) o.seeds = (long)number(a, v, 1, 20, 1);
        else if (!strcmp(a, "epochs")) o.epochs = (long)number(a, v, 0, 1e6, 1);
        else if (!strcmp(a, "latent")) o.latent = (long)number(a, v, 1, 100000, 1);
        else if (!strcmp(a, "k")) o.k = (long)number(a, v, 2, 10000, 1);
        else if (!strcmp(a, "iw-samples")) o.iw = (long)number(a, v, 0, 1e6, 1);
        else if (!strcmp(a, "batch")) o.batch = (long)number(a, v, 1, 1e6, 1);
        else if (!strcmp(a, "threads")) o.threads = (long)number(a, v, 1, 1024, 1);
        else if (!strcmp(a, "train-limit")) o.train_limit = (long)number(a, v, 1, 1e9, 1);
        else if (!strcmp(a, "test-limit")) o.test_limit = (long)number(a, v, 1, 1e9, 1);
        else if (!strcmp(a, "probe-limit")) o.probe_limit = (long)number(a, v, 10, 1e9, 1);
        else if (!strcmp(a, "time-steps")) o.time_steps = (long)number(a, v, 0, 1e6, 1);
        else if (!strcmp(a, "beta")) o.beta = number(a, v, 0, 1e6, 0);
        else if (!strcmp(a, "noise")) o.noise = number(a, v, 0, 1, 0);
        else if (!strcmp(a, "gauss")) o.gauss = number(a, v, 0, 100, 0);
        else if (!strcmp(a, "lr")) o.lr = number(a, v, 0, 1e3, 0);
        else if (!strcmp(a, "kernels")) o.kernels = v;
        else fprintf(stderr, "compare: --%s: unknown option\n%s", a, usage), exit(2);
    }
    if ((o.data != NULL) + (o.binarized != NULL) + (o.frey != NULL) + (o.csv != NULL) > 1)
        fprintf(stderr, "compare: give one of --data, --binarized, --frey, --csv\n"), exit(2);
    return o;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    options o = parse(argc, argv);
    if (tn_blas_kernels(o.kernels, (size_t)o.batch)) /* before BLIS's first call, and before MPI (it may fork) */
        fprintf(stderr, "compare: --kernels: expected one of auto|measure|avx512|blis, got \"%s\"\n", o.kernels),
            exit(2);
    nn_dist_size(); /* under mpirun (make MPI=1): MPI starts; rank 0 alone prints */
    tn_set_threads((int)o.threads);
    model_compare_variant chosen[N_VARIANTS];
    nn_error err;
    int n = model_compare_list(o.models ? o.models : "vae,beta-vae,iwae,cvae,ae,sparse,sparse-hidden,dae-mask,"
                                                     "dae-gauss,dae-sp", chosen, N_VARIANTS, &err), has_conv = 0;
    if (n < 0)
        fprintf(stderr, "compare: --models: %s\n", err.msg + strlen("variants: ")), exit(2);
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
        die("%s", err.msg);
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
