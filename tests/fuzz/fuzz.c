/* fuzz.c: libFuzzer harnesses for every loader entry point, one per build
 * (-DFUZZ_<NAME>): the bytes become a file that the loader reads, as a
 * user's file would be. `make fuzz` builds them with clang
 * (-fsanitize=fuzzer,address,undefined) and runs each over its seed corpus
 * in tests/fuzz/corpus/<name>/. A finding is a crash, a sanitizer report or
 * a leak; a loader must answer every input with a dataset or an error. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"
#if defined(FUZZ_RUNCACHE)
#include "compare_internal.h"
#endif

static char path[64];

/* The input as a file, rewritten in place for every run. */
static const char *as_file(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/tape-fuzz-%ld", (long)getpid());
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
    return path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nn_error err;
    const char *p = as_file(data, size);
#if defined(FUZZ_IDX)
    nn_dataset_free(nn_load_idx(p, NULL, &err));
    nn_dataset_free(nn_load_idx(p, p, &err)); /* the same file as labels too */
#elif defined(FUZZ_CSV)
    nn_dataset_free(nn_load_csv(p, -1, &err));
#elif defined(FUZZ_AMAT)
    nn_dataset_free(nn_load_amat(p, &err));
#elif defined(FUZZ_MAT)
    nn_dataset_free(nn_load_frey(p, &err));
#elif defined(FUZZ_SAFETENSORS)
    /* the header alone, then a whole model with its optimizer's state */
    nn_meta meta = NN_META_INIT;
    nn_load_meta(p, &meta, &err);
    model *m = model_load(p, &meta, &err);
    nn_meta_free(&meta);
    if (m) {
        nn_optim_config oc = nn_optim_defaults(NN_ADAM, 1e-3);
        nn_optim *o = nn_optim_new(&oc, m->params, &err);
        if (o)
            model_load_optim(m, p, o, &err);
        nn_optim_free(o);
        model_free(m);
    }
#elif defined(FUZZ_METRICS)
    /* a metrics file brought back to epoch 2 on resume, with the epoch's
     * saved line (the file is rewritten in place: the next run rewrites it) */
    int dropped;
    nn_metrics_resume(p, 2, "{\"epoch\":2,\"train_loss\":1}", &dropped, &err);
    nn_metrics_resume(p, 0, NULL, &dropped, &err);
#elif defined(FUZZ_RUNCACHE)
    /* a stored run of compare, read as vae seed 1 and as ae seed 2 */
    model__cmp_run r = {.name = "vae", .seed = 1};
    char why[256];
    model__cmp_read(p, "model=vae seed=1 epochs=2 data=x", 1, 5, &r, why, sizeof why);
    r.name = "ae", r.seed = 2;
    model__cmp_read(p, "model=ae seed=2", 0, 0, &r, why, sizeof why);
#else
#error "define one of FUZZ_IDX, FUZZ_CSV, FUZZ_AMAT, FUZZ_MAT, FUZZ_SAFETENSORS, FUZZ_METRICS, FUZZ_RUNCACHE"
#endif
    return 0;
}
