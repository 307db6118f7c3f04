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

/* The seed as a whole number of 64 bits, read exactly (not through a double). */
static int seed_of(const char *v, uint64_t *out, nn_error *err)
{
    char *end;
    errno = 0;
    unsigned long long x = v ? strtoull(v, &end, 10) : 0;
    if (!v || !*v || *end || errno || *v == '-' || *v == '+')
        return nn_fail(err, "--seed: expected a whole number from 0 to 18446744073709551615, got \"%s\"",
                       v ? v : "(nothing)");
    *out = (uint64_t)x;
    return 0;
}

static int number(const char *opt, const char *v, double lo, double hi, int whole, double *out,
                  nn_error *err)
{
    char *end;
    errno = 0;
    double x = strtod(v ? v : "", &end);
    if (!v || !*v || *end || errno || !(x >= lo && x <= hi) || (whole && x != (double)(long long)x))
        return nn_fail(err, "--%s: expected %s from %g to %g, got \"%s\"", opt,
                       whole ? "a whole number" : "a number", lo, hi, v ? v : "(nothing)");
    *out = x;
    return 0;
}

/* The program's own options in the usage line: " [--alpha X (0.1)] ..." */
static void usage_of(const nn_option *opts, char *buf, size_t len)
{
    size_t u = 0;
    buf[0] = '\0';
    for (const nn_option *o = opts; o && o->name && u < len; o++) {
        int w = o->type == 's' ? snprintf(buf + u, len - u, " [--%s TEXT (%s)]", o->name,
                                          *(const char **)o->value ? *(const char **)o->value : "none")
              : o->type == 'i' ? snprintf(buf + u, len - u, " [--%s N (%ld)]", o->name, *(long *)o->value)
                               : snprintf(buf + u, len - u, " [--%s X (%g)]", o->name, *(double *)o->value);
        u += w > 0 ? (size_t)w : 0;
    }
}

/* --name val into the program's option o: checked against its type and range */
static int set_own(const nn_option *o, const char *val, nn_error *err)
{
    double x;
    if (o->type == 's') {
        if (!*val)
            return nn_fail(err, "--%s: expected a text, got \"\"", o->name);
        *(const char **)o->value = val;
        return 0;
    }
    if (o->type != 'i' && o->type != 'r')
        return nn_fail(err, "--%s: the program gave the option type '%c', expected 'r', 'i' or 's'", o->name,
                       o->type);
    if (number(o->name, val, o->lo, o->hi, o->type == 'i', &x, err))
        return -1;
    if (o->type == 'i')
        *(long *)o->value = (long)x;
    else
        *(double *)o->value = x;
    return 0;
}

/* What the command line gave besides the setup's own fields. */
typedef struct {
    const char *data, *binarized, *kernels;
    double train_limit, test_limit, threads;
    uint64_t seed;
    char out[4096];
} cli;

/* One common option (o without its "--") and its value into s or c;
 * NN_SETUP_USAGE with err for a bad value or an unknown name. */
static int common_option(nn_setup *s, cli *c, const char *o, const char *val, nn_error *err)
{
    double v = 0;
    if (!strcmp(o, "data"))
        c->data = val;
    else if (!strcmp(o, "binarized"))
        c->binarized = val;
    else if (!strcmp(o, "kernels"))
        c->kernels = val;
    else if (!strcmp(o, "out")) {
        if (!*val || (size_t)snprintf(c->out, sizeof c->out, "%s", val) >= sizeof c->out - 32)
            return nn_fail(err, "--out: %zu bytes: expected a folder name of 1 to %zu bytes", strlen(val),
                           sizeof c->out - 33), NN_SETUP_USAGE;
    } else if (!strcmp(o, "lr")) {
        if (number(o, val, 0, 1e3, 0, &s->lr, err) || !(s->lr > 0))
            return nn_fail(err, "--lr: expected a number above 0 and at most 1000, got \"%s\"", val),
                   NN_SETUP_USAGE;
    } else if (!strcmp(o, "train-limit") || !strcmp(o, "test-limit")) {
        if (number(o, val, 1, 1e9, 1, o[1] == 'r' ? &c->train_limit : &c->test_limit, err))
            return NN_SETUP_USAGE;
    } else if (!strcmp(o, "seed")) {
        if (seed_of(val, &c->seed, err))
            return NN_SETUP_USAGE;
    } else if (!strcmp(o, "epochs") || !strcmp(o, "batch") || !strcmp(o, "threads")) {
        if (number(o, val, !strcmp(o, "epochs") ? 0 : 1, !strcmp(o, "threads") ? 1024 : 1e9, 1, &v, err))
            return NN_SETUP_USAGE;
        if (!strcmp(o, "epochs"))
            s->cfg.epochs = (int)v;
        else if (!strcmp(o, "batch"))
            s->cfg.batch = (size_t)v;
        else
            c->threads = v;
    } else {
        return nn_fail(err, "--%s: unknown option (see --help)", o), NN_SETUP_USAGE;
    }
    return 0;
}

/* The command line into s and c: 0, NN_SETUP_HELP or NN_SETUP_USAGE. */
static int parse_args(nn_setup *s, cli *c, int argc, char **argv, const char *name, int default_epochs,
                      const nn_option *opts, nn_error *err)
{
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
            char own[sizeof err->msg];
            usage_of(opts, own, sizeof own);
            snprintf(err->msg, sizeof err->msg,
                     "usage: %s [--data DIR | --binarized DIR] [--epochs N (%d)] [--batch N (128)] "
                     "[--lr X (1e-3)] [--train-limit N] [--test-limit N] [--seed N (1)] "
                     "[--threads N] [--kernels auto|measure|avx512|blis] [--out DIR (out/%s)] [--check] "
                     "[--detect-anomaly]%s", name, default_epochs, name, own);
            return NN_SETUP_HELP;
        }
        if (strcmp(o, "--check") == 0) { /* a flag: the loss's gradient check, no training */
            s->check = 1;
            continue;
        }
        if (strcmp(o, "--detect-anomaly") == 0) { /* a flag: name the op that makes a NaN */
            s->cfg.detect_anomaly = 1;
            continue;
        }
        if (strncmp(o, "--", 2) != 0 || !val)
            return nn_fail(err, "%s: expected an option and its value (see --help)", o), NN_SETUP_USAGE;
        o += 2, i++;
        const nn_option *own = opts;
        while (own && own->name && strcmp(own->name, o) != 0)
            own++;
        int rc = own && own->name ? (set_own(own, val, err) ? NN_SETUP_USAGE : 0) : common_option(s, c, o, val, err);
        if (rc)
            return rc;
    }
    if (c->data && c->binarized)
        return nn_fail(err, "--data and --binarized: give one of them"), NN_SETUP_USAGE;
    return 0;
}

/* The data loaded, the folder made and its files checked, s filled:
 * 0, NN_SETUP_USAGE or NN_SETUP_FAILED. */
static int prepare(nn_setup *s, const cli *c, nn_error *err)
{
    /* BLIS's kernels before its first call (tensor/tn.h) */
    if (tn_blas_kernels(c->kernels, s->cfg.batch))
        return nn_fail(err, "--kernels: expected one of auto|measure|avx512|blis, got \"%s\"", c->kernels), NN_SETUP_USAGE;
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
    cli c = {.kernels = "auto", .seed = 1};
    snprintf(c.out, sizeof c.out, "out/%s", name);
    int rc = parse_args(s, &c, argc, argv, name, default_epochs, opts, err);
    return rc ? rc : prepare(s, &c, err);
}

int nn_setup_args(nn_setup *s, int argc, char **argv, const char *name, int default_epochs,
                  const char *extra_name, long *extra, nn_error *err)
{
    nn_option own[2] = {{extra_name, 'i', extra, 1, 1e9}, {0}};
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
    if (rc == NN_SETUP_USAGE || rc == NN_SETUP_FAILED) { /* "name: what went wrong" */
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        nn_fail(err, "%s: %s", name, msg);
    }
    return rc;
}

int nn_setup_exit(int rc, const nn_error *err)
{
    fprintf(rc == NN_SETUP_HELP ? stdout : stderr, "%s\n", err->msg);
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
