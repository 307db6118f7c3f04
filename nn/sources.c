/* sources.c: the datasets the example programs name on their command line
 * (an IDX folder, binarized MNIST, Frey Face, a CSV), loaded as a training
 * and a test set scaled to [0, 1]. */
#define _POSIX_C_SOURCE 200809L

#include "nn_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* DIR/NAME or DIR/NAME.gz, whichever exists, in buf; NULL if neither. */
static const char *find_file(const char *dir, const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", dir, name);
    if (access(buf, R_OK) == 0)
        return buf;
    snprintf(buf, len, "%s/%s.gz", dir, name);
    return access(buf, R_OK) == 0 ? buf : NULL;
}

const char *nn_default_data_dir(void)
{
    static _Thread_local char env[4096];
    const char *dirs[] = {env, "data/mnist", "/usr/share/datasets/fashion-mnist"};
    const char *t = getenv("TAPE_DATA");
    char buf[4200];
    snprintf(env, sizeof env, "%s/mnist", t && *t ? t : "/nonexistent");
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        if (find_file(dirs[i], "train-images-idx3-ubyte", buf, sizeof buf))
            return dirs[i];
    return NULL;
}

static int held_out(nn_dataset *all, tn_rng *split, nn_dataset **train, nn_dataset **test,
                    const char *path, nn_error *err)
{
    if (all->n < 2) {
        size_t n = all->n;
        nn_dataset_free(all);
        return nn_fail(err, "%s: %zu example%s: expected at least 2 (one is held out for testing)",
                       path, n, n == 1 ? "" : "s");
    }
    int rc = nn_data_split(all, all->n / 10 ? all->n / 10 : 1, split, train, test, err);
    nn_dataset_free(all);
    return rc;
}

/* Both sets have examples with values, of one width; else both are freed
 * and the message names the file. */
static int usable(nn_dataset **train, nn_dataset **test, const char *tr, const char *te, nn_error *err)
{
    const nn_dataset *a = *train, *b = *test;
    int rc = 0;
    if (a->n == 0 || a->dim == 0)
        rc = nn_fail(err, "%s: %zu examples of %zu values: expected 1 or more of each", tr, a->n, a->dim);
    else if (b->n == 0 || b->dim == 0)
        rc = nn_fail(err, "%s: %zu examples of %zu values: expected 1 or more of each", te, b->n, b->dim);
    else if (a->dim != b->dim)
        rc = nn_fail(err, "%s: %zu values per example (%zux%zu), but %s has %zu (%zux%zu): expected the same",
                     te, b->dim, b->rows, b->cols, tr, a->dim, a->rows, a->cols);
    if (rc) {
        nn_dataset_free(*train), nn_dataset_free(*test);
        *train = *test = NULL;
    }
    return rc;
}

int nn_load_source(nn_source kind, const char *path, tn_rng *split, nn_dataset **train,
                   nn_dataset **test, char *desc, size_t desc_len, nn_error *err)
{
    char a[4096], b[4096], c[4096], d[4096];
    *train = *test = NULL;
    if (kind == NN_SOURCE_CSV || kind == NN_SOURCE_FREY) {
        nn_dataset *all = kind == NN_SOURCE_CSV ? nn_load_csv(path, -1, err) : nn_load_frey(path, err);
        if (!all)
            return -1;
        if (kind == NN_SOURCE_FREY)
            nn_data_scale(all, 1 / 255.0);
        if (held_out(all, split, train, test, path, err) || usable(train, test, path, path, err))
            return -1;
        snprintf(desc, desc_len, "%s, %zu train / %zu test examples of %zu values%s", path,
                 (*train)->n, (*test)->n, (*train)->dim, kind == NN_SOURCE_FREY ? " (28x20)" : "");
        return 0;
    }
    if (kind == NN_SOURCE_BINARIZED) {
        const char *tr = find_file(path, "binarized_mnist_train.amat", a, sizeof a);
        const char *va = find_file(path, "binarized_mnist_valid.amat", b, sizeof b);
        const char *te = find_file(path, "binarized_mnist_test.amat", c, sizeof c);
        if (!tr || !va || !te)
            return nn_fail(err, "%s: expected binarized_mnist_{train,valid,test}.amat[.gz]", path);
        nn_dataset *t1 = nn_load_amat(tr, err), *t2 = t1 ? nn_load_amat(va, err) : NULL;
        *test = t2 ? nn_load_amat(te, err) : NULL;
        /* train + valid, as the literature trains on both */
        *train = *test ? nn_data_concat(t1, t2, err) : NULL;
        if (*test && !*train && t1 && t2 && t1->dim != t2->dim)
            nn_fail(err, "%s has %zu values per example, %s has %zu: expected the same", tr, t1->dim,
                    va, t2->dim);
        nn_dataset_free(t1), nn_dataset_free(t2);
        if (!*train) {
            nn_dataset_free(*test);
            *test = NULL;
            return -1;
        }
        if (usable(train, test, tr, te, err))
            return -1;
        snprintf(desc, desc_len, "%s, %zu train / %zu test binarized images", path, (*train)->n,
                 (*test)->n);
        return 0;
    }
    const char *dir = path ? path : nn_default_data_dir();
    if (!dir)
        return nn_fail(err, "no data: none of $TAPE_DATA/mnist, data/mnist or Debian's "
                            "fashion-mnist is there; give a folder (or run `make data`)");
    const char *ti = find_file(dir, "train-images-idx3-ubyte", a, sizeof a);
    const char *tl = find_file(dir, "train-labels-idx1-ubyte", b, sizeof b);
    const char *si = find_file(dir, "t10k-images-idx3-ubyte", c, sizeof c);
    const char *sl = find_file(dir, "t10k-labels-idx1-ubyte", d, sizeof d);
    if (!ti || !si)
        return nn_fail(err, "%s: expected train-images-idx3-ubyte[.gz] and "
                            "t10k-images-idx3-ubyte[.gz]", dir);
    *train = nn__load_idx(ti, tl, 1, err); /* bytes: a quarter of the memory */
    *test = *train ? nn_load_idx(si, sl, err) : NULL;
    if (!*test) {
        nn_dataset_free(*train);
        *train = NULL;
        return -1;
    }
    if (usable(train, test, ti, si, err))
        return -1;
    nn_data_scale(*train, 1 / 255.0);
    nn_data_scale(*test, 1 / 255.0);
    snprintf(desc, desc_len, "%s, %zu train / %zu test images of %zux%zu", dir, (*train)->n,
             (*test)->n, (*train)->rows, (*train)->cols);
    return 0;
}
