/* compare_runs.h: what one run of `compare` stores (runs/NAME-sSEED.json)
 * and when a stored run is taken as done: its columns, its numbers, and
 * the identity (options and data) it was made with. */
#ifndef COMPARE_RUNS_H
#define COMPARE_RUNS_H

#include <cjson/cJSON.h>
#include <stdint.h>

#define N_METRICS 17

#define N_VARIANTS 11 /* the names in model_variants (model.h): vae ... conv-vae */

/* the columns: name, whether higher is better, whether only generative
 * models have it */
typedef struct {
    const char *key, *head;
    int higher, generative;
} compare_metric;
extern const compare_metric metrics[N_METRICS];


typedef struct {
    int variant;
    uint64_t seed;
    double v[N_METRICS];
} run_result;

/* Where two identities first differ, as "lr=0.002 here, lr=0.001 stored". */
void first_difference(const char *want, const char *have, char *out, size_t len);
/* A stored run's numbers when its file names this run (model v, seed and
 * identity) and holds every number a run of its kind has (generative: the
 * ELBO's; iw > 0: L_k); 1 when the file is absent; -1 with why otherwise. */
int read_result(const char *path, const char *identity, int v, uint64_t seed, int generative, long iw,
                run_result *r, char *why, size_t why_len);
/* The run as JSON, with its identity when given. */
cJSON *result_json(const run_result *r, const char *identity);

#endif
