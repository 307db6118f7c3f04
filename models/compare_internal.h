/* compare_internal.h: what one run of model_compare stores
 * (runs/NAME-sSEED.json) and when a stored run is taken as done: its
 * columns, its numbers, and the identity (options and data) it was made
 * with. Internal to models/compare*.c and the fuzz harness. */
#ifndef MODEL_COMPARE_INTERNAL_H
#define MODEL_COMPARE_INTERNAL_H

#include <cjson/cJSON.h>
#include <stdint.h>

#define MODEL__CMP_METRICS 17

/* the columns: name, whether higher is better, whether only generative
 * models have it */
typedef struct {
    const char *key, *head;
    int higher, generative;
} model__cmp_metric;
extern const model__cmp_metric model__cmp_metrics[MODEL__CMP_METRICS];

typedef struct {
    int variant;        /* its index in the comparison's list */
    const char *name;
    uint64_t seed;
    double v[MODEL__CMP_METRICS];
} model__cmp_run;

/* Where two identities first differ, as "lr=0.002 here, lr=0.001 stored". */
void model__cmp_first_difference(const char *want, const char *have, char *out, size_t len);
/* A stored run's numbers when its file names this run (model name, seed
 * and identity) and holds every number a run of its kind has (generative:
 * the ELBO's; iw > 0: L_k); 1 when the file is absent; -1 with why
 * otherwise. r->name and r->seed say which run is asked for. */
int model__cmp_read(const char *path, const char *identity, int generative, long iw,
                    model__cmp_run *r, char *why, size_t why_len);
/* The mean of column k over the runs of variant (NaN for none), their sd
 * (0 for one) and how many there are. */
void model__cmp_mean(const model__cmp_run *r, int n, int variant, int k, double *mean, double *sd, int *count);
/* The run as JSON, with its identity when given. */
cJSON *model__cmp_json(const model__cmp_run *r, const char *identity);

#include "compare.h"
/* OUT/file opened through the atomic writer (nn_atomic_open; compare_runs.c): 0, or -1
 * with err. */
int model__cmp_open(nn_atomic *a, const model_compare_options *o, const char *file, nn_error *err);
/* OUT/report.html (compare_html.c): the page of the comparison, from the
 * runs and the files already in OUT (curves.svg, reconstructions.png,
 * samples.png, whose rows rec_rows and smp_rows name). */
int model__cmp_html(const model_compare_options *o, const model_compare_variant *v, int n,
                    const model__cmp_run *r, int n_runs, const double *timed, const char *const *rec_rows,
                    int n_rec, const char *const *smp_rows, int n_smp, nn_error *err);

#endif
