/* setup.c: nn_setup_args, the command line every small model program
 * shares (data, budget, output folder, seed), so that a program is its
 * model and a few calls. */
#define _POSIX_C_SOURCE 200809L

#include "setup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What the command line gave besides the setup's own fields. */
typedef struct {
    const char *data, *binarized, *out;
    int kernels;
    long train_limit, test_limit, threads;
    uint64_t seed;
    char out_default[4096];
} cli;

#define MAX_OWN 64 /* a program's own options */

/* The command line into s and c through one table, the program's options
 * first (so that one of its own may take a common name): 0, NN_SETUP_HELP
 * (the usage in s->usage) or NN_SETUP_USAGE. */
static int parse_args(nn_setup *s, cli *c, int argc, char **argv, const char *name, const nn_option *opts,
                      nn_error *err)
{
    long epochs = s->cfg.epochs, batch = (long)s->cfg.batch;
    const nn_option common[] = {
        NN_OPT_TEXT("data", &c->data, "DIR", "IDX files (default: nn_default_data_dir())"),
        NN_OPT_TEXT("binarized", &c->binarized, "DIR", "binarized MNIST .amat files"),
        NN_OPT_INT("epochs", &epochs, 0, 1e9, NULL),
        NN_OPT_INT("batch", &batch, 1, 1e9, NULL),
        NN_OPT_REAL("lr", &s->lr, 0, 1e3, "Adam's learning rate, above 0"),
        NN_OPT_INT("train-limit", &c->train_limit, 1, 1e9, "the first N training rows"),
        NN_OPT_INT("test-limit", &c->test_limit, 1, 1e9, "the first N test rows"),
        NN_OPT_SEED("seed", &c->seed, NULL, NULL),
        NN_OPT_INT("threads", &c->threads, 1, 1024, "default: the cores"),
        NN_OPT_CHOICE("kernels", &c->kernels, "auto|measure|avx512|blis", "BLIS's (tn_blas_kernels)"),
        NN_OPT_TEXT("out", &c->out, "DIR", "checkpoint, metrics, curves, pictures"),
        NN_OPT_FLAG("check", &s->check, "the loss gradient-checked on 16 test rows; no training"),
        NN_OPT_FLAG("detect-anomaly", &s->cfg.detect_anomaly, "the op that makes the first NaN named"),
        NN_OPT_END};
    nn_option all[MAX_OWN + sizeof common / sizeof common[0]];
    size_t n = 0;
    for (; opts && opts[n].name; n++)
        if (n == MAX_OWN)
            return nn_fail(err, "the program gave over %d options of its own", MAX_OWN), NN_SETUP_USAGE;
    memcpy(all, opts ? opts : common, n * sizeof *all);
    memcpy(all + n, common, sizeof common);
    char head[128];
    snprintf(head, sizeof head, "%s [options]", name);
    nn_options_usage(head, all, s->usage, sizeof s->usage); /* the defaults, before parsing */
    int rc = nn_options_parse(all, argc, argv, err);
    if (rc)
        return rc == NN_OPTIONS_HELP ? NN_SETUP_HELP : NN_SETUP_USAGE;
    s->cfg.epochs = (int)epochs, s->cfg.batch = (size_t)batch;
    if (!(s->lr > 0))
        return nn_fail(err, "--lr: expected a number above 0 and at most 1000, got %g", s->lr), NN_SETUP_USAGE;
    if (c->data && c->binarized)
        return nn_fail(err, "--data and --binarized: give one of them"), NN_SETUP_USAGE;
    if (strlen(c->out) >= sizeof c->out_default - 32)
        return nn_fail(err, "--out: %zu bytes: expected a folder name of 1 to %zu bytes", strlen(c->out),
                       sizeof c->out_default - 33), NN_SETUP_USAGE;
    return 0;
}

/* The data loaded, the folder made and its files checked, s filled:
 * 0, NN_SETUP_USAGE or NN_SETUP_FAILED. */
static int prepare(nn_setup *s, const cli *c, nn_error *err)
{
    /* BLIS's kernels before its first call (tensor/tn.h) */
    static const char *const kernels[] = {"auto", "measure", "avx512", "blis"};
    tn_blas_kernels(kernels[c->kernels], s->cfg.batch);
    if (c->threads > 0)
        tn_set_threads((int)c->threads);
    tn_rng split;
    s->cfg.seed = c->seed;
    tn_rng_seed(&s->init, s->cfg.seed, 3);
    tn_rng_seed(&s->rng, s->cfg.seed, 5);
    tn_rng_seed(&split, s->cfg.seed, 4);
    if (nn_load_source(c->binarized ? NN_SOURCE_BINARIZED : NN_SOURCE_IDX, c->binarized ? c->binarized : c->data,
                       &split, &s->train, &s->test, s->data, sizeof s->data, err))
        return NN_SETUP_FAILED;
    if (nn_data_limit(&s->train, (size_t)c->train_limit, err) || nn_data_limit(&s->test, (size_t)c->test_limit, err) ||
        nn_make_dirs(c->out, err))
        return nn_setup_free(s), NN_SETUP_FAILED;
    /* what the program will write there: each a regular file or new, before
     * any training (the pictures' names are nn_pic_all's) */
    static const char *const files[] = {"model.safetensors", "metrics.jsonl", "curves.svg", "reconstructions.png",
                                        "samples.png", "interpolation.png", "manifold.png",
                                        "latent_scatter.png", "reconstructions.svg", "samples.svg",
                                        "interpolation.svg", "manifold.svg", "latent_scatter.svg"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[sizeof s->dir + 64];
        snprintf(path, sizeof path, "%s/%s", c->out, files[i]);
        if (nn_output_check(path, err))
            return nn_setup_free(s), NN_SETUP_FAILED;
    }
    s->out = strcpy(s->dir, c->out);
    snprintf(s->checkpoint, sizeof s->checkpoint, "%s/model.safetensors", c->out);
    snprintf(s->metrics, sizeof s->metrics, "%s/metrics.jsonl", c->out);
    snprintf(s->plot, sizeof s->plot, "%s/curves.svg", c->out);
    s->cfg.checkpoint = s->checkpoint, s->cfg.plot = s->plot, s->cfg.metrics = s->metrics;
    s->cfg.resume = nn_train_resumable(s->checkpoint);
    const char *how = tn_blas_how();
    nn_logf(s->cfg.log, s->cfg.log_ctx, NN_LOG_INFO, "data: %s; %zu train / %zu test used; output in %s; BLIS's %s "
            "kernels%s%s%s", s->data, s->train->n, s->test->n, c->out, tn_blas_config(),
            strncmp(how, "measured", 8) ? "" : " (", strncmp(how, "measured", 8) ? "" : how,
            strncmp(how, "measured", 8) ? "" : ")");
    return 0;
}

/* The options and the data; 0, NN_SETUP_HELP, NN_SETUP_USAGE (a bad option)
 * or NN_SETUP_FAILED (a file), with the message in err (unprefixed). */
static int setup(nn_setup *s, int argc, char **argv, const char *name, int default_epochs,
                 const nn_option *opts, nn_error *err)
{
    memset(s, 0, sizeof *s);
    s->cfg = nn_train_defaults();
    s->cfg.epochs = default_epochs;
    s->lr = 1e-3;
    cli c = {.seed = 1};
    snprintf(c.out_default, sizeof c.out_default, "out/%s", name);
    c.out = c.out_default;
    int rc = parse_args(s, &c, argc, argv, name, opts, err);
    return rc ? rc : prepare(s, &c, err);
}

int nn_setup_args(nn_setup *s, int argc, char **argv, const char *name, int default_epochs,
                  const char *extra_name, long *extra, nn_error *err)
{
    nn_option own[2] = {NN_OPT_INT(extra_name, extra, 1, 1e9, NULL), NN_OPT_END};
    return nn_setup_args_with(s, argc, argv, name, default_epochs, extra_name ? own : NULL, err);
}

int nn_setup_args_with(nn_setup *s, int argc, char **argv, const char *name, int default_epochs,
                       const nn_option *opts, nn_error *err)
{
    nn_error scratch;
    if (!err)
        err = &scratch;
    err->msg[0] = '\0';
    int rc = setup(s, argc, argv, name, default_epochs, opts, err);
    snprintf(s->name, sizeof s->name, "%s", name);
    if (rc == NN_SETUP_HELP && s->cfg.log)
        s->cfg.log(s->cfg.log_ctx, NN_LOG_INFO, s->usage);
    if (rc == NN_SETUP_USAGE || rc == NN_SETUP_FAILED) { /* "name: what went wrong" */
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        nn_fail(err, "%s: %s", name, msg);
    }
    return rc;
}

int nn_setup_exit(int rc, const nn_error *err)
{
    if (rc != NN_SETUP_HELP)
        nn_log_stdio(NULL, NN_LOG_ERROR, err->msg);
    return rc == NN_SETUP_HELP ? 0 : rc == NN_SETUP_USAGE ? 2 : 1;
}

void nn_setup_free(nn_setup *s)
{
    nn_dataset_free(s->train);
    nn_dataset_free(s->test);
    s->train = s->test = NULL;
}

const char *nn_setup_path(nn_setup *s, const char *file)
{
    snprintf(s->scratch, sizeof s->scratch, "%s/%s", s->dir, file);
    return s->scratch;
}

void nn_setup_run(nn_setup *s, const char *name)
{
    snprintf(s->checkpoint, sizeof s->checkpoint, "%s/%s.safetensors", s->dir, name);
    snprintf(s->metrics, sizeof s->metrics, "%s/%s.jsonl", s->dir, name);
    snprintf(s->plot, sizeof s->plot, "%s/%s.svg", s->dir, name);
    s->cfg.checkpoint = s->checkpoint, s->cfg.metrics = s->metrics, s->cfg.plot = s->plot;
    s->cfg.resume = nn_train_resumable(s->checkpoint);
}

int nn_setup_check(nn_setup *s, nn_loss_fn loss, void *model, nn_params *p, nn_error *err)
{
    int rc = nn_check_data(loss, model, p, s->test, s->cfg.seed, s->cfg.log, s->cfg.log_ctx, err);
    if (rc > 0) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        nn_fail(err, "%s: %s", s->name, msg);
    }
    return rc ? 1 : 0;
}

nn_optim *nn_setup_optim(nn_setup *s, nn_params *p, nn_error *err)
{
    nn_optim_config c = nn_optim_defaults(NN_ADAM, s->lr);
    return p ? nn_optim_new(&c, p, err) : NULL;
}

int nn_setup_train(nn_setup *s, nn_loss_fn loss, void *model, nn_params *p,
                   nn_train_result *res, nn_error *err)
{
    if (s->check)
        return nn_check_data(loss, model, p, s->test, s->cfg.seed, s->cfg.log, s->cfg.log_ctx, err) ? -1 : 0;
    nn_optim *opt = nn_setup_optim(s, p, err);
    int rc = !opt || nn_train(p, opt, loss, model, s->train, s->test, &s->cfg, res, err) ? -1 : 0;
    nn_optim_free(opt);
    return rc;
}

int nn_setup_end(nn_setup *s, int failed, const nn_error *err)
{
    if (failed)
        nn_logf(s->cfg.log, s->cfg.log_ctx, NN_LOG_ERROR, "%s: %s", s->name, err ? err->msg : "failed");
    nn_setup_free(s);
    return failed ? 1 : 0;
}
