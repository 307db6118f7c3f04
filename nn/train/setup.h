/* setup.h: what a small model program needs besides its model: the
 * command line every program shares (data, budget, output folder, seeds),
 * the data loaded and the trainer configured (nn_setup_args). */
#ifndef NN_SETUP_H
#define NN_SETUP_H

#include "latent.h"
#include "options.h"
#include "trainer.h"

/* ---- a small model program's command line --------------------------------- */

/* What a model program needs besides its model: data, a budget, an output
 * folder, seeds. nn_setup_args reads the common options
 *   --data DIR (IDX; default nn_default_data_dir())  --binarized DIR
 *   --epochs N  --batch N  --lr X  --train-limit N  --test-limit N
 *   --seed N  --threads N  --out DIR (default out/NAME)
 *   --kernels auto|measure|avx512|blis (BLIS's, chosen here before its first
 *             call, as tn_blas_kernels says)  --check  --detect-anomaly
 * and, when extra_name is given, --EXTRA_NAME N into *extra; loads the data
 * (scaled to [0, 1]), creates the folder, and fills cfg: the checkpoint
 * OUT/model.safetensors (resumed when it is there), the metrics
 * OUT/metrics.jsonl, their learning curves OUT/curves.svg, the seed.
 * Returns 0 to go on, or NN_SETUP_HELP (the usage in s->usage, said through
 * cfg.log), NN_SETUP_USAGE (a bad option) or NN_SETUP_FAILED (a
 * file that cannot be read or written), with err->msg starting with the
 * program's name; then `return nn_setup_exit(rc, &err);` says that through
 * nn_log_stdio and gives the exit status (0, 2 and 1). err may be NULL. On any
 * return but 0 nothing is left to free. */
enum { NN_SETUP_HELP = 1, NN_SETUP_USAGE = 2, NN_SETUP_FAILED = 3 };
typedef struct {
    nn_dataset *train, *test;
    nn_train_config cfg;
    double lr;              /* 1e-3 */
    const char *out;        /* the output folder */
    tn_rng init;            /* the seed's stream 3: initial weights */
    tn_rng rng;             /* stream 5: pictures and final evaluation */
    char name[64];          /* the program's, for messages */
    int check;              /* --check: gradient-check the loss, do not train */
    char data[8400];        /* the data's description ("DIR, 60000 train / ...") */
    char dir[4096], checkpoint[4200], metrics[4200], plot[4200], scratch[4200];
    char usage[8192];       /* --help's text: every option, its default and help */
} nn_setup;
TN_API int nn_setup_args(nn_setup *s, int argc, char **argv, const char *name,
                  int default_epochs, const char *extra_name, long *extra,
                  nn_error *err);
/* A program's own options (options.h), read with the common ones from one
 * table and shown in the same usage; a row of its own may take a common
 * name. E.g.
 *   double alpha = 0.1, tau = 1;
 *   nn_option own[] = {{"alpha", 'r', &alpha, 0, 1e6}, {"tau", 'r', &tau, 1e-3, 10}, {0}};
 *   nn_setup_args_with(&s, argc, argv, "m2", 10, own, &err);
 * nn_setup_args(..., extra_name, extra, ...) is this with one 'i' option.
 * --help writes the usage to s->usage and through the log hook. */
TN_API int nn_setup_args_with(nn_setup *s, int argc, char **argv, const char *name, int default_epochs,
                       const nn_option *opts, nn_error *err);
TN_API int nn_setup_exit(int rc, const nn_error *err);
TN_API void nn_setup_free(nn_setup *s);
/* A path in the output folder, "OUT/file", in a buffer of the setup's
 * (valid until the next call). */
TN_API const char *nn_setup_path(nn_setup *s, const char *file);
/* For a program that trains several models: points cfg's checkpoint,
 * metrics and plot at OUT/name.safetensors, OUT/name.jsonl and
 * OUT/name.svg (resumed when there). */
TN_API void nn_setup_run(nn_setup *s, const char *name);
/* --check: the loss's gradient check (nn_check_loss, the build's eps and
 * tolerance) on the first 16 test rows, its line to the log; returns the
 * program's exit status: 0 passed, 1 failed or could not run (err then
 * holds why). A program writes `if (s.check) return nn_setup_check(...)`
 * after building its model. */
TN_API int nn_setup_check(nn_setup *s, nn_loss_fn loss, void *model, nn_params *p, nn_error *err);
/* Adam at the command line's --lr (PyTorch's defaults otherwise), over p. */
TN_API nn_optim *nn_setup_optim(nn_setup *s, nn_params *p, nn_error *err);
/* A model program's run: with --check, the loss's gradient check (as
 * nn_setup_check) and no training; otherwise Adam at --lr and nn_train on
 * the setup's data and configuration, its result in *res (may be NULL).
 * 0, or -1 with err (a failed check too). Then the program reports when
 * !s->check, and ends with nn_setup_end. */
TN_API int nn_setup_train(nn_setup *s, nn_loss_fn loss, void *model, nn_params *p,
                   nn_train_result *res, nn_error *err);
/* A model program's last line: frees the setup's data, says "NAME:
 * err->msg" through the log hook (NN_LOG_ERROR) when failed, and returns
 * the exit status, 1 when failed, else 0:
 *   return nn_setup_end(&s, rc, &err);                                    */
TN_API int nn_setup_end(nn_setup *s, int failed, const nn_error *err);

#endif
