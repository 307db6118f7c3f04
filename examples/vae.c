/* vae.c: trains, evaluates and draws the autoencoders of models/ on real
 * data. `vae --help` lists the options; README.md shows a session. Errors
 * become one message on stderr and exit status 1 (2 for bad usage). */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "model.h"

typedef struct {
    const char *data, *csv, *frey, *binarized;
    int epochs, threads, iw_samples, binarize; /* 0 none, 1 static, 2 dynamic */
    size_t batch, train_limit, test_limit;
    double lr, momentum, clip;
    nn_optim_kind optim;
    int have_seed;
    uint64_t seed;
    const char *out, *resume, *metrics, *eval;
    model_config mc;
} options;

static void usage(FILE *f)
{
    fprintf(f,
        "usage: vae [options]            train a model, then evaluate it and draw it\n"
        "       vae --eval FILE [--data DIR]  evaluate a checkpoint\n"
        "\n"
        "data (default: ../shared/data/mnist, then data/mnist, then Debian's Fashion-MNIST):\n"
        "  --data DIR          IDX files: train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],\n"
        "                      t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]; pixels / 255\n"
        "  --binarized DIR     binarized MNIST .amat[.gz] (train + valid for training, test)\n"
        "  --frey FILE         Frey Face frey_rawface.mat; pixels / 255, 10%% held out as test\n"
        "  --csv FILE          a CSV of numbers (header optional); 10%% held out as test\n"
        "  --binarize MODE     none (default), static (x > 0.5) or dynamic (resampled per batch)\n"
        "  --train-limit N     use the first N training examples   --test-limit N  likewise\n"
        "model:\n"
        "  --model KIND        vae (default), ae, sparse, denoising\n"
        "  --hidden LIST       hidden widths, e.g. 400 (default) or 500,500\n"
        "  --latent N          latent size (20 for the VAE, 64 for the AEs)\n"
        "  --activation NAME   relu (default), tanh, sigmoid, softplus\n"
        "  --init NAME         torch (default: U(+-1/sqrt(fan_in)) as PyTorch), glorot, he, normal\n"
        "  --likelihood NAME   bernoulli (default) or gaussian (VAE decoder)\n"
        "  --samples L         Monte-Carlo samples of z per example (1)\n"
        "  --beta B            weight of the KL term (1)    --warmup STEPS  linear KL warm-up (0)\n"
        "  --recon bce|mse     AE reconstruction loss (bce)\n"
        "  --sparsity kl|l1    sparse AE penalty (kl)   --rho R (0.05)  --sparse-beta B (3)  --l1 L (1e-3)\n"
        "  --noise KIND        denoising AE: gaussian, saltpepper, mask (default)   --noise-level X (0.25)\n"
        "training:\n"
        "  --epochs N (10)  --batch N (128)  --lr X (1e-3)  --optim adam|adamw|sgd|adagrad (adam)\n"
        "  --momentum X (SGD, 0)  --clip X (global gradient norm, 0 = off)\n"
        "  --seed N            without it a seed is drawn from libsodium and printed\n"
        "  --threads N         BLIS and OpenMP threads (default: all cores)\n"
        "  --out DIR           write DIR/model.safetensors every epoch and the pictures at the end\n"
        "  --resume FILE       continue from a checkpoint (its model; --epochs counts from 0)\n"
        "  --metrics FILE      JSON Lines, one object per epoch\n"
        "evaluation:\n"
        "  --eval FILE         print test ELBO parts, the L_k bound and the active units\n"
        "  --iw-samples K      k of the importance-weighted bound L_k (5000 in --eval; 0 = skip)\n");
}

static _Noreturn void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("vae: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* mkdir -p */
static int make_dirs(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(buf, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

/* ---- options ---------------------------------------------------------------- */

static long parse_long(const char *opt, const char *v, long lo)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (!*v || *end || errno || x < lo) {
        fprintf(stderr, "vae: --%s: expected a whole number >= %ld, got \"%s\"\n", opt, lo, v);
        exit(2);
    }
    return x;
}

static double parse_double(const char *opt, const char *v)
{
    char *end;
    double x = strtod(v, &end);
    if (!*v || *end || !(x >= 0) || isinf(x)) {
        fprintf(stderr, "vae: --%s: expected a number >= 0, got \"%s\"\n", opt, v);
        exit(2);
    }
    return x;
}

static void bad_choice(const char *opt, const char *v, const char *choices)
{
    fprintf(stderr, "vae: --%s: expected %s, got \"%s\"\n", opt, choices, v);
    exit(2);
}

static void parse_hidden(const char *v, model_config *c)
{
    c->n_hidden = 0;
    for (const char *p = v; *p;) {
        char *end;
        long h = strtol(p, &end, 10);
        if (end == p || h < 1 || c->n_hidden == MODEL_MAX_HIDDEN || (*end && *end != ','))
            bad_choice("hidden", v, "1 to 8 widths like 400 or 500,500");
        c->hidden[c->n_hidden++] = (size_t)h;
        p = *end ? end + 1 : end;
    }
}

static options parse(int argc, char **argv)
{
    enum { O_DATA = 256, O_CSV, O_FREY, O_BIN, O_BINARIZE, O_TRAIN_LIMIT, O_TEST_LIMIT, O_MODEL,
           O_HIDDEN, O_LATENT, O_ACT, O_INIT, O_LIK, O_SAMPLES, O_BETA, O_WARMUP, O_RECON,
           O_SPARSITY, O_RHO, O_SPARSE_BETA, O_L1, O_NOISE, O_NOISE_LEVEL, O_EPOCHS, O_BATCH, O_LR,
           O_OPTIM, O_MOMENTUM, O_CLIP, O_SEED, O_THREADS, O_OUT, O_RESUME, O_METRICS, O_EVAL,
           O_IW, O_HELP };
    static const struct option longs[] = {
        {"data", 1, 0, O_DATA}, {"csv", 1, 0, O_CSV}, {"frey", 1, 0, O_FREY},
        {"binarized", 1, 0, O_BIN}, {"binarize", 1, 0, O_BINARIZE},
        {"train-limit", 1, 0, O_TRAIN_LIMIT}, {"test-limit", 1, 0, O_TEST_LIMIT},
        {"model", 1, 0, O_MODEL}, {"hidden", 1, 0, O_HIDDEN}, {"latent", 1, 0, O_LATENT},
        {"activation", 1, 0, O_ACT}, {"init", 1, 0, O_INIT}, {"likelihood", 1, 0, O_LIK},
        {"samples", 1, 0, O_SAMPLES}, {"beta", 1, 0, O_BETA}, {"warmup", 1, 0, O_WARMUP},
        {"recon", 1, 0, O_RECON}, {"sparsity", 1, 0, O_SPARSITY}, {"rho", 1, 0, O_RHO},
        {"sparse-beta", 1, 0, O_SPARSE_BETA}, {"l1", 1, 0, O_L1}, {"noise", 1, 0, O_NOISE},
        {"noise-level", 1, 0, O_NOISE_LEVEL}, {"epochs", 1, 0, O_EPOCHS}, {"batch", 1, 0, O_BATCH},
        {"lr", 1, 0, O_LR}, {"optim", 1, 0, O_OPTIM}, {"momentum", 1, 0, O_MOMENTUM},
        {"clip", 1, 0, O_CLIP}, {"seed", 1, 0, O_SEED}, {"threads", 1, 0, O_THREADS},
        {"out", 1, 0, O_OUT}, {"resume", 1, 0, O_RESUME}, {"metrics", 1, 0, O_METRICS},
        {"eval", 1, 0, O_EVAL}, {"iw-samples", 1, 0, O_IW}, {"help", 0, 0, O_HELP}, {0, 0, 0, 0}};
    options o = {0};
    o.epochs = 10, o.batch = 128, o.lr = 1e-3, o.optim = NN_ADAM, o.iw_samples = -1;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    o.threads = cores > 0 ? (int)cores : 1;
    /* the kind decides some defaults, so find it first */
    model_kind kind = MODEL_VAE;
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--model") == 0 && model_kind_parse(argv[i + 1], &kind))
            bad_choice("model", argv[i + 1], "vae, ae, sparse or denoising");
    o.mc = model_defaults(kind);
    int latent_given = 0, c;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        const char *opt = c >= O_DATA && c <= O_HELP ? longs[c - O_DATA].name : "?";
        switch (c) {
        case O_DATA: o.data = optarg; break;
        case O_CSV: o.csv = optarg; break;
        case O_FREY: o.frey = optarg; break;
        case O_BIN: o.binarized = optarg; break;
        case O_BINARIZE:
            if (!strcmp(optarg, "none")) o.binarize = 0;
            else if (!strcmp(optarg, "static")) o.binarize = 1;
            else if (!strcmp(optarg, "dynamic")) o.binarize = 2;
            else bad_choice(opt, optarg, "none, static or dynamic");
            break;
        case O_TRAIN_LIMIT: o.train_limit = (size_t)parse_long(opt, optarg, 1); break;
        case O_TEST_LIMIT: o.test_limit = (size_t)parse_long(opt, optarg, 1); break;
        case O_MODEL: break;
        case O_HIDDEN: parse_hidden(optarg, &o.mc); break;
        case O_LATENT: o.mc.latent = (size_t)parse_long(opt, optarg, 1), latent_given = 1; break;
        case O_ACT:
            if (nn_act_parse(optarg, &o.mc.act) || o.mc.act == NN_ACT_NONE)
                bad_choice(opt, optarg, "relu, tanh, sigmoid or softplus");
            break;
        case O_INIT:
            if (nn_init_parse(optarg, &o.mc.init))
                bad_choice(opt, optarg, "torch, glorot, he or normal");
            break;
        case O_LIK:
            if (!strcmp(optarg, "bernoulli")) o.mc.likelihood = LIK_BERNOULLI;
            else if (!strcmp(optarg, "gaussian")) o.mc.likelihood = LIK_GAUSSIAN;
            else bad_choice(opt, optarg, "bernoulli or gaussian");
            break;
        case O_SAMPLES: o.mc.samples = (int)parse_long(opt, optarg, 1); break;
        case O_BETA: o.mc.beta = parse_double(opt, optarg); break;
        case O_WARMUP: o.mc.warmup = parse_long(opt, optarg, 0); break;
        case O_RECON:
            if (!strcmp(optarg, "bce")) o.mc.recon = RECON_BCE;
            else if (!strcmp(optarg, "mse")) o.mc.recon = RECON_MSE;
            else bad_choice(opt, optarg, "bce or mse");
            break;
        case O_SPARSITY:
            if (!strcmp(optarg, "kl")) o.mc.sparsity = SPARSE_KL;
            else if (!strcmp(optarg, "l1")) o.mc.sparsity = SPARSE_L1;
            else bad_choice(opt, optarg, "kl or l1");
            break;
        case O_RHO: o.mc.rho = parse_double(opt, optarg); break;
        case O_SPARSE_BETA: o.mc.sparse_beta = parse_double(opt, optarg); break;
        case O_L1: o.mc.l1 = parse_double(opt, optarg); break;
        case O_NOISE:
            if (model_noise_parse(optarg, &o.mc.noise))
                bad_choice(opt, optarg, "gaussian, saltpepper or mask");
            break;
        case O_NOISE_LEVEL: o.mc.noise_level = parse_double(opt, optarg); break;
        case O_EPOCHS: o.epochs = (int)parse_long(opt, optarg, 0); break;
        case O_BATCH: o.batch = (size_t)parse_long(opt, optarg, 1); break;
        case O_LR: o.lr = parse_double(opt, optarg); break;
        case O_OPTIM:
            if (nn_optim_parse(optarg, &o.optim))
                bad_choice(opt, optarg, "adam, adamw, sgd or adagrad");
            break;
        case O_MOMENTUM: o.momentum = parse_double(opt, optarg); break;
        case O_CLIP: o.clip = parse_double(opt, optarg); break;
        case O_SEED: o.seed = (uint64_t)parse_long(opt, optarg, 0), o.have_seed = 1; break;
        case O_THREADS: o.threads = (int)parse_long(opt, optarg, 1); break;
        case O_OUT: o.out = optarg; break;
        case O_RESUME: o.resume = optarg; break;
        case O_METRICS: o.metrics = optarg; break;
        case O_EVAL: o.eval = optarg; break;
        case O_IW: o.iw_samples = (int)parse_long(opt, optarg, 0); break;
        case O_HELP: case 'h': usage(stdout); exit(0);
        default: usage(stderr); exit(2);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vae: unexpected argument \"%s\" (see --help)\n", argv[optind]);
        exit(2);
    }
    if (!latent_given)
        o.mc.latent = kind == MODEL_VAE ? 20 : 64;
    if ((o.data != NULL) + (o.csv != NULL) + (o.frey != NULL) + (o.binarized != NULL) > 1) {
        fprintf(stderr, "vae: give one of --data, --binarized, --frey, --csv\n");
        exit(2);
    }
    return o;
}

/* ---- data ------------------------------------------------------------------------ */

/* DIR/NAME or DIR/NAME.gz, whichever exists, in buf; NULL if neither. */
static const char *find_file(const char *dir, const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", dir, name);
    if (access(buf, R_OK) == 0)
        return buf;
    snprintf(buf, len, "%s/%s.gz", dir, name);
    return access(buf, R_OK) == 0 ? buf : NULL;
}

static const char *default_data_dir(void)
{
    static const char *dirs[] = {"../shared/data/mnist", "data/mnist", "/usr/share/datasets/fashion-mnist"};
    char buf[512];
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        if (find_file(dirs[i], "train-images-idx3-ubyte", buf, sizeof buf))
            return dirs[i];
    return NULL;
}

static void check(nn_dataset *d, nn_error *err)
{
    if (!d)
        die("%s", err->msg);
}

/* Loads the training and test sets the options name; scales to [0, 1]. */
static void load_data(const options *o, nn_dataset **train, nn_dataset **test, tn_rng *rng)
{
    nn_error err;
    char a[1024], b[1024], c[1024], d[1024];
    if (o->csv || o->frey) {
        nn_dataset *all = o->csv ? nn_load_csv(o->csv, -1, &err) : nn_load_frey(o->frey, &err);
        check(all, &err);
        if (o->frey)
            nn_data_scale(all, 1 / 255.0);
        if (nn_data_split(all, all->n / 10 ? all->n / 10 : 1, rng, train, test, &err))
            die("%s", err.msg);
        nn_dataset_free(all);
        printf("data: %s, %zu train / %zu test examples of %zu values\n", o->csv ? o->csv : o->frey,
               (*train)->n, (*test)->n, (*train)->dim);
        return;
    }
    if (o->binarized) {
        const char *tr = find_file(o->binarized, "binarized_mnist_train.amat", a, sizeof a);
        const char *va = find_file(o->binarized, "binarized_mnist_valid.amat", b, sizeof b);
        const char *te = find_file(o->binarized, "binarized_mnist_test.amat", c, sizeof c);
        if (!tr || !va || !te)
            die("%s: expected binarized_mnist_{train,valid,test}.amat[.gz]", o->binarized);
        nn_dataset *t1 = nn_load_amat(tr, &err);
        check(t1, &err);
        nn_dataset *t2 = nn_load_amat(va, &err);
        check(t2, &err);
        *test = nn_load_amat(te, &err);
        check(*test, &err);
        /* train + valid, as the literature trains on both */
        nn_dataset *all = nn_data_concat(t1, t2, &err);
        check(all, &err);
        nn_dataset_free(t1), nn_dataset_free(t2);
        *train = all;
        printf("data: %s, %zu train / %zu test binarized images\n", o->binarized, (*train)->n, (*test)->n);
        return;
    }
    const char *dir = o->data ? o->data : default_data_dir();
    if (!dir)
        die("no data: give --data DIR, or run `make data` (see README.md)");
    const char *ti = find_file(dir, "train-images-idx3-ubyte", a, sizeof a);
    const char *tl = find_file(dir, "train-labels-idx1-ubyte", b, sizeof b);
    const char *si = find_file(dir, "t10k-images-idx3-ubyte", c, sizeof c);
    const char *sl = find_file(dir, "t10k-labels-idx1-ubyte", d, sizeof d);
    if (!ti || !si)
        die("%s: expected train-images-idx3-ubyte[.gz] and t10k-images-idx3-ubyte[.gz]", dir);
    *train = nn_load_idx(ti, tl, &err);
    check(*train, &err);
    *test = nn_load_idx(si, sl, &err);
    check(*test, &err);
    nn_data_scale(*train, 1 / 255.0);
    nn_data_scale(*test, 1 / 255.0);
    printf("data: %s, %zu train / %zu test images of %zux%zu\n", dir, (*train)->n, (*test)->n,
           (*train)->rows, (*train)->cols);
}

static nn_dataset *limit(nn_dataset *d, size_t n)
{
    if (!n || n >= d->n)
        return d;
    nn_error err;
    nn_dataset *h = nn_data_head(d, n, &err);
    check(h, &err);
    nn_dataset_free(d);
    return h;
}

/* ---- evaluation -------------------------------------------------------------------- */

static void print_eval(model *m, const nn_dataset *test, tn_rng *rng, int iw)
{
    nn_error err;
    model_eval ev;
    if (model_evaluate(m, test, 500, rng, &ev, &err))
        die("%s", err.msg);
    if (m->c.kind == MODEL_VAE) {
        printf("test negative ELBO %.2f nats (reconstruction %.2f + KL %.2f), %zu examples\n", ev.neg_elbo,
               ev.recon, ev.kl, test->n);
        if (iw > 0) {
            double t0 = now();
            double lk = vae_iwae(m, test, iw, rng, &err);
            if (isnan(lk))
                die("%s", err.msg);
            printf("test log p(x) >= L_%d = %.2f nats (importance-weighted bound, %.0f s)\n", iw, lk,
                   now() - t0);
        }
    } else {
        printf("test reconstruction %.3f (%s per example, clean input)\n", ev.recon,
               m->c.recon == RECON_BCE ? "BCE nats" : "squared error");
        if (m->c.kind == MODEL_DENOISING_AE)
            printf("test reconstruction %.3f from corrupted input (%s noise %.2f)\n", ev.recon_noisy,
                   model_noise_name(m->c.noise), m->c.noise_level);
        if (m->c.kind == MODEL_SPARSE_AE)
            printf("mean code activation %.4f (target %.3f)\n", ev.mean_act, m->c.rho);
    }
    double *var = malloc(m->c.latent * sizeof *var);
    int active = var ? model_active_units(m, test, 0.01, var, &err) : -1;
    if (active < 0)
        die("%s", var ? err.msg : "out of memory");
    printf("active latent units: %d of %zu (variance of the code over the data > 0.01)\n", active,
           m->c.latent);
    free(var);
}

static int evaluate_checkpoint(const options *o)
{
    nn_error err;
    nn_meta meta;
    model *m = model_load(o->eval, &meta, &err);
    if (!m)
        die("%s", err.msg);
    tn_rng split, rng;
    tn_rng_seed(&split, o->have_seed ? o->seed : 1, 1);
    tn_rng_seed(&rng, o->have_seed ? o->seed : 1, 2);
    nn_dataset *train, *test;
    load_data(o, &train, &test, &split);
    test = limit(test, o->test_limit);
    if (test->dim != m->c.input_dim)
        die("%s: the model takes %zu values per example, the data have %zu", o->eval, m->c.input_dim,
            test->dim);
    if (o->binarize == 1)
        nn_data_binarize(test, 0.5);
    printf("model: %s from %s (epoch %s)\n", model_kind_name(m->c.kind), o->eval,
           nn_meta_get(&meta, "train.epoch") ? nn_meta_get(&meta, "train.epoch") : "?");
    print_eval(m, test, &rng, o->iw_samples < 0 ? 5000 : o->iw_samples);
    nn_dataset_free(train), nn_dataset_free(test);
    model_free(m);
    return 0;
}

/* ---- training: the model's loss and evaluation, for nn_train ---------------------- */

static ad_var *batch_loss(void *mp, ad_tape *t, const nn_batch *b, tn_rng *rng, long step,
                          nn_scalars *report)
{
    model *m = mp;
    model_loss l;
    if (model_batch_loss(m, t, &b->x, rng, step, 1, &l))
        return NULL;
    if (m->c.kind == MODEL_VAE) {
        nn_scalars_set(report, "recon", l.recon);
        nn_scalars_set(report, "kl", l.kl);
    } else if (m->c.kind == MODEL_SPARSE_AE) {
        nn_scalars_set(report, "recon", l.recon);
        nn_scalars_set(report, "penalty", l.penalty);
    }
    return l.loss;
}

static int evaluate(void *mp, const nn_dataset *test, tn_rng *rng, nn_scalars *out, nn_error *err)
{
    model *m = mp;
    model_eval ev;
    if (model_evaluate(m, test, 500, rng, &ev, err))
        return -1;
    nn_scalars_set(out, "loss", m->c.kind == MODEL_VAE ? ev.neg_elbo : ev.recon);
    if (m->c.kind == MODEL_VAE) {
        nn_scalars_set(out, "recon", ev.recon);
        nn_scalars_set(out, "kl", ev.kl);
    }
    if (m->c.kind == MODEL_DENOISING_AE)
        nn_scalars_set(out, "recon_noisy", ev.recon_noisy);
    if (m->c.kind == MODEL_SPARSE_AE)
        nn_scalars_set(out, "mean_act", ev.mean_act);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* lines in order with stderr's */
    options o = parse(argc, argv);
    tn_set_threads(o.threads);
    if (o.eval)
        return evaluate_checkpoint(&o);

    nn_error err;
    nn_meta meta = {0};
    model *m = NULL;
    if (o.resume && !o.have_seed) { /* the same split and streams as the run it continues */
        const char *s;
        if (nn_load_meta(o.resume, &meta, &err))
            die("%s", err.msg);
        if ((s = nn_meta_get(&meta, "train.seed"))) {
            o.seed = strtoull(s, NULL, 10);
            o.have_seed = 1;
        }
    }
    if (!o.have_seed) {
        int ok;
        tn_rng tmp;
        o.seed = tn_rng_seed_entropy(&tmp, 0, &ok);
        if (!ok)
            die("libsodium could not supply a seed; give --seed");
    }
    /* streams: 1 data order and 2 noise (the trainer's), 3 initial weights, 4 split */
    tn_rng init_rng, split_rng, pic_rng;
    tn_rng_seed(&init_rng, o.seed, 3);
    tn_rng_seed(&split_rng, o.seed, 4);
    tn_rng_seed(&pic_rng, o.seed, 5);
    nn_dataset *train, *test;
    load_data(&o, &train, &test, &split_rng);
    train = limit(train, o.train_limit);
    test = limit(test, o.test_limit);
    if (o.binarize == 1) { /* static: once, for good */
        nn_data_binarize(train, 0.5);
        nn_data_binarize(test, 0.5);
    }
    o.mc.input_dim = train->dim;
    if (o.resume) {
        if (!(m = model_load(o.resume, &meta, &err)))
            die("%s", err.msg);
        if (m->c.input_dim != train->dim)
            die("%s: the model takes %zu values per example, the data have %zu", o.resume, m->c.input_dim,
                train->dim);
    } else if (!(m = model_new(&o.mc, &init_rng, &err))) {
        die("%s", err.msg);
    }
    nn_optim_config oc = nn_optim_defaults(o.optim, o.lr);
    oc.momentum = o.momentum;
    oc.clip_norm = o.clip;
    nn_optim *opt = nn_optim_new(&oc, m->params, &err);
    if (!opt)
        die("%s", err.msg);

    char hidden[128] = "";
    for (int i = 0, u = 0; i < m->c.n_hidden; i++)
        u += snprintf(hidden + u, sizeof hidden - (size_t)u, i ? ",%zu" : "%zu", m->c.hidden[i]);
    printf("model: %s %zu-%s-%zu, %s, %s decoder, %zu parameters; %s lr %g, batch %zu, "
           "seed %" PRIu64 ", %d thread%s\n", model_kind_name(m->c.kind), m->c.input_dim, hidden,
           m->c.latent, nn_act_name(m->c.act),
           m->c.kind == MODEL_VAE ? (m->c.likelihood == LIK_GAUSSIAN ? "Gaussian" : "Bernoulli")
                                  : (m->c.recon == RECON_BCE ? "BCE" : "MSE"),
           nn_params_size(m->params), nn_optim_name(o.optim), o.lr, o.batch, o.seed, o.threads,
           o.threads > 1 ? "s" : "");
    char ckpt[4096];
    if (o.out && (make_dirs(o.out) != 0 ||
                  (size_t)snprintf(ckpt, sizeof ckpt, "%s/model.safetensors", o.out) >= sizeof ckpt))
        die("%s: cannot create: %s", o.out, errno ? strerror(errno) : "the name is too long");

    nn_meta save_meta = {0};
    model_config_to_meta(&m->c, &save_meta);
    nn_train_config tc = nn_train_defaults();
    tc.epochs = o.epochs, tc.batch = o.batch, tc.seed = o.seed, tc.dynamic_binarize = o.binarize == 2;
    tc.checkpoint = o.out ? ckpt : NULL, tc.resume = o.resume, tc.metrics = o.metrics;
    tc.meta = &save_meta, tc.eval = evaluate;
    if (nn_train(m->params, opt, batch_loss, m, train, test, &tc, NULL, &err))
        die("%s", err.msg);
    if (o.out) {
        printf("checkpoint: %s\npictures:\n", ckpt);
        nn_latent l = model_latent(m, test->rows, test->cols);
        if (!test->rows || !test->cols)
            printf("  none: the data are not images\n");
        else if (nn_pic_all(o.out, &l, test, &pic_rng, nn_log_stdio, NULL, &err))
            die("%s", err.msg);
    }
    tn_rng eval_rng;
    tn_rng_seed(&eval_rng, o.seed, 6);
    print_eval(m, test, &eval_rng, o.iw_samples < 0 ? 0 : o.iw_samples);
    nn_optim_free(opt);
    model_free(m);
    nn_dataset_free(train), nn_dataset_free(test);
    return 0;
}
