/* vae.c: trains, evaluates and draws the autoencoders of models/ on real
 * data through nn_train. `vae --help` lists the options; README.md shows a
 * session. Errors become one message on stderr and exit status 1 (2 for bad
 * usage). */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"

typedef struct {
    const char *data, *csv, *frey, *binarized, *out, *resume, *metrics, *eval, *hidden, *start;
    long epochs, threads, iw_samples, batch, train_limit, test_limit, latent, samples, warmup;
    long iw_k, classes, noise_clip, lr_step, shards, adapt_threads, conv;
    double lr, min_lr, lr_gamma, momentum, clip, beta, rho, sparse_beta, l1, noise_level;
    int binarize, kind, act, init, likelihood, recon, sparsity, noise, optim, have_seed, sparse_on;
    int schedule, kernels, check;
    uint64_t seed;
} options;

static _Noreturn void die(int status, const char *fmt, ...)
{
    char line[2048]; /* one write, so ranks' messages do not interleave */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "vae: %s\n", line);
    exit(status);
}

/* ---- options: one table (nn_option), every number checked against its range */

#define N_ROWS 64

/* The command line's rows for o: each option's name, type, value (its
 * default), range or choices and help, for the parser and the usage alike. */
static void rows_of(options *o, nn_option rows[N_ROWS])
{
    const nn_option r[] = {
        NN_OPT_HEADING("data (default: $TAPE_DATA/mnist, then data/mnist, then Debian's Fashion-MNIST)"),
        NN_OPT_TEXT("data", &o->data, "DIR", "IDX files (train-images-idx3-ubyte[.gz], ...)"),
        NN_OPT_TEXT("binarized", &o->binarized, "DIR", "binarized MNIST .amat"),
        NN_OPT_TEXT("frey", &o->frey, "FILE", "Frey Face .mat (10% held out as test)"),
        NN_OPT_TEXT("csv", &o->csv, "FILE", "numbers, a row each (10% held out as test)"),
        NN_OPT_CHOICE("binarize", &o->binarize, "none|static|dynamic", NULL),
        NN_OPT_INT("train-limit", &o->train_limit, 1, 1e9, "the first N training rows"),
        NN_OPT_INT("test-limit", &o->test_limit, 1, 1e9, "the first N test rows"),
        NN_OPT_HEADING("model"),
        NN_OPT_CHOICE("model", &o->kind, "vae|ae|sparse|denoising", NULL),
        NN_OPT_TEXT("hidden", &o->hidden, "LIST", "hidden widths, e.g. 500,500 (400)"),
        NN_OPT_INT("latent", &o->latent, 1, 100000, "(20 for the VAE, 64 for the AEs)"),
        NN_OPT_CHOICE("activation", &o->act, "none|relu|tanh|sigmoid|softplus", "not none"),
        NN_OPT_CHOICE("init", &o->init, "glorot|he|normal|torch", "torch: U(+-1/sqrt(fan_in)) as PyTorch"),
        NN_OPT_CHOICE("likelihood", &o->likelihood, "bernoulli|gaussian", "the VAE's decoder"),
        NN_OPT_INT("samples", &o->samples, 1, 10000, "ELBO samples a row"),
        NN_OPT_REAL("beta", &o->beta, 0, 1e6, "the KL's weight"),
        NN_OPT_INT("warmup", &o->warmup, 0, 1e12, "steps of the KL's weight rising from 0"),
        NN_OPT_CHOICE("recon", &o->recon, "bce|mse", "the AEs' reconstruction loss"),
        NN_OPT_CHOICE("sparsity", &o->sparsity, "kl|l1", NULL),
        NN_OPT_REAL("rho", &o->rho, 1e-6, 1 - 1e-6, "the sparse AE's target activation"),
        NN_OPT_REAL("sparse-beta", &o->sparse_beta, 0, 1e6, NULL),
        NN_OPT_REAL("l1", &o->l1, 0, 1e6, NULL),
        NN_OPT_CHOICE("sparse-on", &o->sparse_on, "code|hidden", NULL),
        NN_OPT_CHOICE("noise", &o->noise, "gaussian|saltpepper|mask", "the denoising AE's (mask)"),
        NN_OPT_REAL("noise-level", &o->noise_level, 0, 1e3, NULL),
        NN_OPT_INT("noise-clip", &o->noise_clip, 0, 1, NULL),
        NN_OPT_INT("iw-k", &o->iw_k, 1, 10000, "1: the ELBO; above 1: the IWAE bound"),
        NN_OPT_INT("classes", &o->classes, 0, 100000, "above 0: conditional on the label, of N classes"),
        NN_OPT_INT("conv", &o->conv, 0, 1, "1: a convolutional body, 1 -> 32 -> 64 channels, around the\n"
                   "layers; images whose sides are multiples of 4"),
        NN_OPT_HEADING("training"),
        NN_OPT_INT("epochs", &o->epochs, 0, 1e6, NULL),
        NN_OPT_INT("batch", &o->batch, 1, 1e7, NULL),
        NN_OPT_REAL("lr", &o->lr, 0, 1e6, NULL),
        NN_OPT_CHOICE("optim", &o->optim, "sgd|adagrad|adam|adamw", NULL),
        NN_OPT_REAL("momentum", &o->momentum, 0, 1, "SGD's"),
        NN_OPT_REAL("clip", &o->clip, 0, 1e12, "the gradients' global norm; 0: off"),
        NN_OPT_INT("threads", &o->threads, 1, 1024, "default: the cores"),
        NN_OPT_CHOICE("schedule", &o->schedule, "constant|step|cosine", NULL),
        NN_OPT_REAL("min-lr", &o->min_lr, 0, 1e6, "the cosine's end"),
        NN_OPT_INT("lr-step", &o->lr_step, 1, 1e6, "step: lr times --lr-gamma every N epochs"),
        NN_OPT_REAL("lr-gamma", &o->lr_gamma, 0, 1, NULL),
        NN_OPT_INT("shards", &o->shards, 0, 1e6, "each batch in S row shards, gradients summed;\n"
                   "under mpirun one a rank"),
        NN_OPT_INT("adapt-threads", &o->adapt_threads, 0, 1, "1: fewer threads while other processes\n"
                   "keep cores busy"),
        NN_OPT_CHOICE("kernels", &o->kernels, "auto|measure|avx512|blis", "BLIS's products; measure: the fastest\n"
                      "configuration, timed on this CPU; auto: measure when BLIS cannot\n"
                      "name the CPU, else its AVX-512 kernels for batches of 64 and more\n"
                      "and for --eval when the CPU has them"),
        NN_OPT_SEED("seed", &o->seed, &o->have_seed, "else drawn from libsodium and printed"),
        NN_OPT_TEXT("out", &o->out, "DIR", "checkpoint, pictures"),
        NN_OPT_TEXT("resume", &o->resume, "FILE", "a checkpoint; --epochs counts from 0"),
        NN_OPT_TEXT("metrics", &o->metrics, "FILE", "JSON Lines, appended on --resume; its learning\n"
                    "curves in FILE.svg (.jsonl taken off), redrawn every epoch"),
        NN_OPT_TEXT("start-from", &o->start, "FILE", "a checkpoint's weights; the model options, objective\n"
                    "and optimizer from this command line"),
        NN_OPT_HEADING("evaluation"),
        NN_OPT_TEXT("eval", &o->eval, "FILE", "a checkpoint's ELBO parts, L_k and active units"),
        NN_OPT_INT("iw-samples", &o->iw_samples, 0, 1e6, "L_k's k (5000 with --eval, else 0)"),
        NN_OPT_FLAG("check", &o->check, "the model's loss gradient-checked on 16 test images; no training"),
        NN_OPT_END};
    _Static_assert(sizeof r <= N_ROWS * sizeof r[0], "N_ROWS");
    memcpy(rows, r, sizeof r);
}

static const char head[] = "vae [options]              train a model, then evaluate it and draw it\n"
                           "       vae --eval FILE [--data DIR]  evaluate a checkpoint";

static model_config parse(int argc, char **argv, options *o)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    *o = (options){.epochs = 10, .batch = 128, .lr = 1e-3, .optim = NN_ADAM, .iw_samples = -1,
                   .threads = cores > 0 ? cores : 1, .latent = -1, .act = NN_ACT_RELU,
                   .init = NN_INIT_TORCH, .noise = -1, .samples = 1, .beta = 1, .rho = 0.05,
                   .sparse_beta = 3, .l1 = 1e-3, .noise_level = 0.25, .iw_k = 1, .noise_clip = 1,
                   .lr_step = 10, .lr_gamma = 0.1, .adapt_threads = 1};
    nn_option rows[N_ROWS];
    rows_of(o, rows);
    nn_error err;
    int rc = nn_options_parse(rows, argc, argv, &err);
    if (rc == NN_OPTIONS_HELP) {
        static char usage[16384];
        nn_options_usage(head, rows, usage, sizeof usage);
        fputs(usage, stdout), exit(0);
    }
    if (rc)
        die(2, "%s", err.msg);
    if ((o->data != NULL) + (o->csv != NULL) + (o->frey != NULL) + (o->binarized != NULL) > 1)
        die(2, "give one of --data, --binarized, --frey, --csv");
    if (o->start && (o->resume || o->eval))
        die(2, "--start-from: give it alone, not with --%s", o->resume ? "resume" : "eval");
    if (o->act == NN_ACT_NONE)
        die(2, "--activation: expected one of relu|tanh|sigmoid|softplus, got \"none\"");
    if (o->shards > o->batch)
        die(2, "--shards %ld: expected at most --batch (%ld): each shard needs a row", o->shards, o->batch);
    if (o->schedule == 2 && o->min_lr > o->lr)
        die(2, "--min-lr %g: expected at most --lr (%g): the cosine schedule decays from --lr to --min-lr",
            o->min_lr, o->lr);
    model_config mc = model_defaults((model_kind)o->kind);
    if (o->hidden && model_hidden_parse(o->hidden, &mc))
        die(2, "--hidden: expected 1 to 8 widths from 1 to 100000 like 400 or 500,500, got \"%s\"",
            o->hidden);
    if (o->latent > 0)
        mc.latent = (size_t)o->latent;
    mc.act = (nn_act)o->act, mc.init = (nn_init)o->init, mc.likelihood = (model_likelihood)o->likelihood;
    mc.samples = (int)o->samples, mc.beta = o->beta, mc.warmup = o->warmup;
    mc.recon = (model_recon)o->recon, mc.sparsity = (model_sparsity)o->sparsity, mc.rho = o->rho;
    mc.sparse_beta = o->sparse_beta, mc.l1 = o->l1, mc.noise_level = o->noise_level;
    if (o->noise >= 0)
        mc.noise = (model_noise)o->noise;
    mc.iw_k = (int)o->iw_k, mc.classes = (size_t)o->classes, mc.noise_clip = (int)o->noise_clip;
    mc.sparse_on = (model_sparse_on)o->sparse_on;
    return mc;
}

/* ---- data and evaluation ----------------------------------------------------- */

static void load_data(const options *o, nn_dataset **train, nn_dataset **test, tn_rng *split)
{
    nn_error err;
    char desc[8400];
    nn_source kind = o->csv ? NN_SOURCE_CSV : o->frey ? NN_SOURCE_FREY
                   : o->binarized ? NN_SOURCE_BINARIZED : NN_SOURCE_IDX;
    const char *path = o->csv ? o->csv : o->frey ? o->frey : o->binarized ? o->binarized : o->data;
    if (nn_load_source(kind, path, split, train, test, desc, sizeof desc, &err))
        die(1, "%s", err.msg);
    if (nn_data_limit(train, (size_t)o->train_limit, &err) ||
        nn_data_limit(test, (size_t)o->test_limit, &err))
        die(1, "%s", err.msg);
    if (o->binarize == 2) { /* dynamic: each value is a probability */
        const nn_dataset *sets[2] = {*train, *test};
        for (int s = 0; s < 2; s++)
            for (size_t i = 0; sets[s]->x && i < sets[s]->n * sets[s]->dim; i++)
                if (!(sets[s]->x[i] >= 0 && sets[s]->x[i] <= 1))
                    die(1, "%s: %s value %zu is %g: --binarize dynamic draws each pixel from its value, "
                        "expected values from 0 to 1", path ? path : "the data", s ? "test" : "training",
                        i, (double)sets[s]->x[i]);
    }
    if (o->binarize == 1) /* static: once, for good */
        nn_data_binarize(*train, 0.5), nn_data_binarize(*test, 0.5);
    printf("data: %s\n", desc);
}

/* ---- main ----------------------------------------------------------------------- */

/* The seed: --seed, else the one of the run --eval or --resume reads (the
 * same split and streams), else one from libsodium. */
static void pick_seed(options *o, nn_meta *meta, const char *from)
{
    nn_error err;
    const char *s;
    if (from && !o->have_seed) {
        if (nn_load_meta(from, meta, &err))
            die(1, "%s", err.msg);
        if ((s = nn_meta_get(meta, "train.seed"))) { /* as if given as --seed: strictly */
            const nn_option seed[] = {NN_OPT_SEED("seed", &o->seed, &o->have_seed, NULL), NN_OPT_END};
            char *args[] = {"vae", "--seed", (char *)s};
            if (nn_options_parse(seed, 3, args, &err))
                die(1, "%s: train.seed: %s", from, err.msg);
        }
    }
    if (!o->have_seed) {
        int ok;
        tn_rng tmp;
        o->seed = tn_rng_seed_entropy(&tmp, 0, &ok);
        if (!ok)
            die(1, "libsodium could not supply a seed; give --seed");
    }
}

/* The model: new, or loaded from --eval / --resume, --start-from's weights
 * in it; checked against the data. */
static model *build_model(const options *o, model_config mc, const char *from, nn_meta *meta,
                          nn_dataset *train, nn_dataset *test, tn_rng *init_rng)
{
    nn_error err;
    mc.input_dim = train->dim;
    if (o->conv && !train->rows)
        die(2, "--conv: the data are not images (a CSV); a convolutional body needs rows and columns");
    mc.conv_rows = o->conv ? train->rows : 0, mc.conv_cols = o->conv ? train->cols : 0;
    model *m = from ? model_load(from, meta, &err) : model_new(&mc, init_rng, &err);
    if (!m)
        die(1, "%s", err.msg);
    if (m->c.classes && (!train->labels || !test->labels))
        die(1, "--classes %zu: the %s set has no labels to condition on", m->c.classes,
            train->labels ? "test" : "training");
    if (o->start && nn_load(o->start, m->params, NULL, NULL, &err)) /* names and shapes checked */
        model_free(m), nn_dataset_free(train), nn_dataset_free(test), die(1, "%s", err.msg);
    if (m->c.input_dim != train->dim) {
        size_t want = m->c.input_dim, have = train->dim;
        model_free(m), nn_dataset_free(train), nn_dataset_free(test);
        die(1, "%s: the model takes %zu values per example, the data have %zu", from, want, have);
    }
    return m;
}

/* The optimizer of the command line; its schedule counts steps, an epoch
 * ceil(rows / batch) of them. */
static nn_optim *make_optim(const options *o, model *m, size_t rows, nn_optim_config *oc)
{
    nn_error err;
    *oc = nn_optim_defaults((nn_optim_kind)o->optim, o->lr);
    oc->momentum = o->momentum, oc->clip_norm = o->clip;
    long per_epoch = (long)((rows + (size_t)o->batch - 1) / (size_t)o->batch);
    oc->sched = o->schedule == 1 ? NN_SCHED_STEP : o->schedule == 2 ? NN_SCHED_COSINE : NN_SCHED_CONSTANT;
    oc->step_size = o->lr_step * per_epoch, oc->gamma = o->lr_gamma, oc->min_lr = o->min_lr;
    oc->total_steps = o->epochs * per_epoch > 0 ? o->epochs * per_epoch : 1;
    nn_optim *opt = nn_optim_new(oc, m->params, &err);
    if (!opt)
        die(1, "%s", err.msg);
    return opt;
}

/* Every output before the first step: the checkpoint, the metrics and
 * their plot (FILE.jsonl -> FILE.svg), the pictures; files or new names,
 * none twice. */
static void check_outputs(const options *o, model *m, const nn_dataset *test, char *ckpt, char *plot)
{
    nn_error err;
    char pics[NN_PIC_FILES][4096];
    if (o->out && (size_t)snprintf(ckpt, 4096, "%s/model.safetensors", o->out) >= 4096)
        die(2, "--out: %zu bytes: expected a folder name of at most %zu bytes", strlen(o->out),
            4096 - sizeof "/model.safetensors");
    if (o->out && nn_make_dirs(o->out, &err))
        die(1, "%s", err.msg);
    nn_latent pl = model_latent(m, test->rows, test->cols);
    int np = o->out && test->rows ? nn_pic_all_files(o->out, &pl, test, pics, &err) : 0;
    if (np < 0)
        die(1, "%s", err.msg);
    size_t ml = o->metrics ? strlen(o->metrics) : 0;
    if (ml > 6 && !strcmp(o->metrics + ml - 6, ".jsonl"))
        ml -= 6;
    if (o->metrics && (size_t)snprintf(plot, 4200, "%.*s.svg", (int)ml, o->metrics) >= 4200)
        die(2, "--metrics: %zu bytes: too long a name", strlen(o->metrics));
    const char *outs[3 + NN_PIC_FILES] = {o->out ? ckpt : NULL, o->metrics, o->metrics ? plot : NULL};
    for (int i = 0; i < np; i++)
        outs[3 + i] = pics[i];
    for (int i = 0; i < 3 + np; i++)
        if (outs[i] && nn_output_check(outs[i], &err))
            die(1, "%s", err.msg);
    if (nn_outputs_distinct(outs, 3 + np, &err))
        die(1, "%s", err.msg);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* lines in order with stderr's */
    options o;
    model_config mc = parse(argc, argv, &o);
    /* before BLIS's first call: it picks its kernels then (tensor/tn.h);
     * --eval's products have 1024 rows; before MPI starts (it may fork) */
    static const char *const kernels[] = {"auto", "measure", "avx512", "blis"};
    tn_blas_kernels(kernels[o.kernels], o.eval ? 1024 : (size_t)o.batch);
    nn_dist_size(); /* under mpirun (make MPI=1): MPI starts; rank 0 alone prints */
    tn_set_threads((int)o.threads);
    nn_error err;
    nn_meta meta = NN_META_INIT;
    const char *from = o.eval ? o.eval : o.resume, *s;
    pick_seed(&o, &meta, from);
    /* streams: 1 data order and 2 noise (the trainer's), 3 initial weights,
     * 4 the held-out split, 5 pictures, 6 the final evaluation */
    tn_rng init_rng, split_rng, pic_rng, eval_rng;
    tn_rng_seed(&init_rng, o.seed, 3), tn_rng_seed(&split_rng, o.seed, 4);
    tn_rng_seed(&pic_rng, o.seed, 5), tn_rng_seed(&eval_rng, o.seed, 6);
    nn_dataset *train, *test;
    load_data(&o, &train, &test, &split_rng);
    model *m = build_model(&o, mc, from, &meta, train, test, &init_rng);
    if (o.check) { /* --check: the model's loss, gradient-checked on 16 test rows */
        int rc = nn_check_data(model_train_loss, m, m->params, test, o.seed, nn_log_stdio, NULL, &err);
        if (rc)
            fprintf(stderr, "vae: %s\n", err.msg);
        model_free(m), nn_dataset_free(train), nn_dataset_free(test), nn_meta_free(&meta);
        return rc ? 1 : 0;
    }
    if (o.eval) {
        printf("model: %s from %s (epoch %s)\n", model_kind_name(m->c.kind), o.eval,
               (s = nn_meta_get(&meta, "train.epoch")) ? s : "?");
        if (model_report(m, test, &eval_rng, o.iw_samples < 0 ? 5000 : (int)o.iw_samples,
                         nn_log_stdio, NULL, &err))
            die(1, "%s", err.msg);
        model_free(m), nn_dataset_free(train), nn_dataset_free(test), nn_meta_free(&meta);
        return 0;
    }
    nn_meta_free(&meta);
    nn_optim_config oc;
    nn_optim *opt = make_optim(&o, m, train->n, &oc);
    char desc[256], ckpt[4096], plot[4200] = "";
    printf("model: %s; %s lr %g, batch %ld, seed %" PRIu64 ", %ld thread%s, BLIS's %s kernels (%s)\n",
           model_describe(m, desc, sizeof desc), nn_optim_name(oc.kind), o.lr, o.batch, o.seed,
           o.threads, o.threads > 1 ? "s" : "", tn_blas_config(), tn_blas_how());
    check_outputs(&o, m, test, ckpt, plot);
    nn_meta save_meta = NN_META_INIT;
    if (model_config_to_meta(&m->c, &save_meta))
        die(1, "out of memory");
    nn_train_config tc = nn_train_defaults();
    tc.epochs = (int)o.epochs, tc.batch = (size_t)o.batch, tc.seed = o.seed;
    tc.dynamic_binarize = o.binarize == 2, tc.checkpoint = o.out ? ckpt : NULL;
    tc.resume = o.resume, tc.metrics = o.metrics, tc.meta = &save_meta, tc.eval = model_train_eval;
    tc.plot = o.metrics ? plot : NULL;
    tc.shards = (int)o.shards, tc.fixed_threads = !o.adapt_threads;
    if (nn_train(m->params, opt, model_train_loss, m, train, test, &tc, NULL, &err))
        die(1, "%s", err.msg);
    nn_meta_free(&save_meta);
    if (o.out) {
        nn_latent l = model_latent(m, test->rows, test->cols);
        printf("checkpoint: %s\npictures:\n", ckpt);
        if (!test->rows)
            printf("  none: the data are not images\n");
        else if (nn_pic_all(o.out, &l, test, &pic_rng, nn_log_stdio, NULL, &err))
            die(1, "%s", err.msg);
    }
    if (model_report(m, test, &eval_rng, o.iw_samples < 0 ? 0 : (int)o.iw_samples, nn_log_stdio,
                     NULL, &err))
        die(1, "%s", err.msg);
    nn_optim_free(opt), model_free(m), nn_dataset_free(train), nn_dataset_free(test);
    return 0;
}
