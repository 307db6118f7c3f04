/* compare_runs.c: a run of model_compare as stored in runs/NAME-sSEED.json,
 * the test of whether a stored run is the run asked for, and the opening
 * of OUT's files (the reports), which compare.c and compare_html.c share. */
#define _POSIX_C_SOURCE 200809L

#include "compare_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>


const model__cmp_metric model__cmp_metrics[MODEL__CMP_METRICS] = {
    {"bce_clean", "BCE clean", 0, 0},       {"se_clean", "SE clean", 0, 0},
    {"bce_mask", "BCE mask", 0, 0},         {"se_mask", "SE mask", 0, 0},
    {"bce_sp", "BCE s&p", 0, 0},            {"se_sp", "SE s&p", 0, 0},
    {"bce_gauss", "BCE gauss", 0, 0},       {"se_gauss", "SE gauss", 0, 0},
    {"neg_elbo", "-ELBO", 0, 1},            {"kl", "KL", 0, 1},
    {"iwae", "L_k", 1, 1},                  {"active", "active", 1, 0},
    {"mean_code", "mean code", 0, 0},       {"probe_acc", "probe acc", 1, 0},
    {"params", "params", 0, 0},             {"sec_epoch", "s/epoch", 0, 0},
    {"epochs", "epochs", 0, 0},
};

/* Where two identities first differ, as "lr=0.002 here, lr=0.001 stored". */
void model__cmp_first_difference(const char *want, const char *have, char *out, size_t len)
{
    while (*want && *have) {
        size_t a = strcspn(want, " "), b = strcspn(have, " ");
        if (!strncmp(want, "data=", 5)) /* the data's description: the rest of the line */
            a = strlen(want), b = strlen(have);
        if (a != b || strncmp(want, have, a) != 0) {
            snprintf(out, len, "%.*s here, %.*s stored", (int)a, want, (int)b, have);
            return;
        }
        want += a + (want[a] == ' '), have += b + (have[b] == ' ');
    }
    snprintf(out, len, "%s", "options differ");
}

/* A stored run's numbers when its file names this run (model, seed and
 * identity) and holds every number a run of its kind has; 1 when the file
 * is absent; -1 with why (a run of other options or data, or a broken
 * file), which the caller reports before training it again. */
int model__cmp_read(const char *path, const char *identity, int generative, long iw,
                    model__cmp_run *r, char *why, size_t why_len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 1;
    char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    cJSON *j = cJSON_Parse(buf);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "identity");
    const cJSON *mo = cJSON_GetObjectItemCaseSensitive(j, "model");
    const cJSON *se = cJSON_GetObjectItemCaseSensitive(j, "seed");
    int rc = 0;
    if (!cJSON_IsObject(j))
        rc = -1, snprintf(why, why_len, "not a JSON object");
    else if (!cJSON_IsString(mo) || strcmp(mo->valuestring, r->name) != 0 || !cJSON_IsNumber(se) ||
             se->valuedouble != (double)r->seed)
        rc = -1, snprintf(why, why_len, "the run of another model or seed");
    else if (!cJSON_IsString(id) || strcmp(id->valuestring, identity) != 0) {
        char d[8000] = "no options stored";
        if (cJSON_IsString(id))
            model__cmp_first_difference(identity, id->valuestring, d, sizeof d);
        rc = -1, snprintf(why, why_len, "made with other options or data (%s)", d);
    }
    for (int k = 0; rc == 0 && k < MODEL__CMP_METRICS; k++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, model__cmp_metrics[k].key);
        r->v[k] = cJSON_IsNumber(x) && isfinite(x->valuedouble) ? x->valuedouble : NAN;
        /* every number a run of this kind writes must be there (the probe's
         * and the epochs' seconds may be absent: no labels, no metrics) */
        int needed = k != 13 && k != 15 && (!model__cmp_metrics[k].generative || generative) && (k != 10 || iw > 0);
        if (needed && isnan(r->v[k]))
            rc = -1, snprintf(why, why_len, "its %s is missing", model__cmp_metrics[k].key);
    }
    cJSON_Delete(j);
    return rc;
}

void model__cmp_mean(const model__cmp_run *r, int n, int variant, int k, double *mean, double *sd, int *count)
{
    double s = 0, s2 = 0;
    *count = 0;
    for (int i = 0; i < n; i++)
        if (r[i].variant == variant && !isnan(r[i].v[k]))
            s += r[i].v[k], s2 += r[i].v[k] * r[i].v[k], ++*count;
    *mean = *count ? s / *count : NAN;
    *sd = *count > 1 ? sqrt(fmax(0, (s2 - s * s / *count) / (*count - 1))) : 0;
}

cJSON *model__cmp_json(const model__cmp_run *r, const char *identity)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "model", r->name);
    cJSON_AddNumberToObject(j, "seed", (double)r->seed);
    if (identity)
        cJSON_AddStringToObject(j, "identity", identity);
    for (int k = 0; k < MODEL__CMP_METRICS; k++)
        if (!isnan(r->v[k]))
            cJSON_AddNumberToObject(j, model__cmp_metrics[k].key, r->v[k]);
    return j;
}

int model__cmp_open(nn_atomic *a, const model_compare_options *o, const char *file, nn_error *err)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/%s", o->out, file);
    return nn_atomic_open(a, path, err);
}
