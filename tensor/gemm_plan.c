/* gemm_plan.c: which way through BLIS each product shape takes, BLIS's own
 * (its small-matrix path below its thresholds) or the packed one, measured
 * once a shape and remembered (tn_blas.h). The choices live in a table for
 * the process and in the cache file "products", a line a shape:
 *   CPU (family F, model M)|config|float|m|n|k|ta|tb|acc packed own1 packed1 T ownT packedT
 * (double for the double build's products; the ms a product each way on
 * one thread and on T threads) read for each shape the process meets
 * first, appended to under the cache's lock (temporary file, rename). */
#define _POSIX_C_SOURCE 200809L

#include "tn_blas.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

enum { MAX_PLANS = 512, ROUNDS = 5 };

typedef struct {
    tn__gemm_shape s;
    int packed;
} plan;

static plan plans[MAX_PLANS]; /* the shapes this process's products took */
static int nplans, env_read, off; /* off: TAPE_GEMM_PLAN=0 */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int same(const tn__gemm_shape *a, const tn__gemm_shape *b)
{
    return a->m == b->m && a->n == b->n && a->k == b->k && a->ta == b->ta && a->tb == b->tb &&
           a->acc == b->acc;
}

static const plan *find(const tn__gemm_shape *s)
{
    for (int i = 0; i < nplans; i++)
        if (same(&plans[i].s, s))
            return &plans[i];
    return NULL;
}

/* "CPU|config|float|": the lines of this CPU, BLIS configuration and build */
static void key_prefix(char *buf, size_t len)
{
    snprintf(buf, len, "%s|%s|%s|", tn_cpu_name(), tn_blas_config(), TN_REAL_NAME);
}

/* The file's way for shape s (its first line for it): 0 or 1, or -1 when
 * it has none */
static int file_way(const tn__gemm_shape *s)
{
    char path[4096], line[1024], prefix[600];
    FILE *f = tn__cache_path(path, sizeof path, "products") ? NULL : fopen(path, "r");
    key_prefix(prefix, sizeof prefix);
    size_t pl = strlen(prefix);
    int way = -1;
    while (way < 0 && f && fgets(line, sizeof line, f)) {
        tn__gemm_shape t;
        int packed, threads;
        double ms[4];
        if (!strncmp(line, prefix, pl) &&
            sscanf(line + pl, "%zu|%zu|%zu|%d|%d|%d %d %lf %lf %d %lf %lf", &t.m, &t.n, &t.k, &t.ta, &t.tb, &t.acc,
                   &packed, &ms[0], &ms[1], &threads, &ms[2], &ms[3]) == 12 &&
            (packed == 0 || packed == 1) && same(&t, s))
            way = packed; /* another CPU's lines, lines not ours, and lines of the older form (times on
                             one thread only) are passed over */
    }
    if (f)
        fclose(f);
    return way;
}

/* The file with this shape's line more (tn__cache_append) */
static void append_file(const tn__gemm_shape *s, int packed, double ms[2][2], int t)
{
    char line[1024], prefix[600];
    key_prefix(prefix, sizeof prefix);
    snprintf(line, sizeof line, "%s%zu|%zu|%zu|%d|%d|%d %d %.4f %.4f %d %.4f %.4f\n", prefix, s->m, s->n, s->k, s->ta,
             s->tb, s->acc, packed, ms[0][0], ms[0][1], t, ms[1][0], ms[1][1]);
    tn__cache_append("products", line);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The threads a shape's ways are also timed on: all the CPUs this process
 * may run on (a product inside a parallel region runs on its thread alone:
 * there, one) */
static int many_threads(void)
{
#ifdef _OPENMP
    return omp_in_parallel() ? 1 : omp_get_num_procs();
#else
    return 1;
#endif
}

/* Each way in turn (own, packed, own, ...) on one thread and then on t
 * threads (t > 1), ROUNDS rounds after one to warm up, a round running the
 * product until 1 ms has passed (once at least): the best round's time a
 * product, ms[threads][way], on a scratch C holding C0's values (the
 * product may add to them). 1 when packed is clearly faster: its times
 * over the other's, averaged over the thread counts, under 0.95; -1 when
 * there is no memory for the scratch. */
static int measure(const tn__gemm_shape *s, tn__gemm_run run, void *ctx, const tn_real *C0, int t,
                   double ms[2][2])
{
    size_t n = s->m * s->n;
    tn_real *C = malloc(n * sizeof *C);
    if (!C)
        return -1;
    double ratio = 0;
    for (int i = 0; i < (t > 1 ? 2 : 1); i++) {
        double best[2] = {1e30, 1e30};
        for (int r = 0; r <= ROUNDS; r++)
            for (int way = 0; way < 2; way++) {
                long reps = 0;
                double t0 = now(), dt;
                do {
                    if (s->acc)
                        memcpy(C, C0, n * sizeof *C);
                    run(ctx, way, i ? t : 1, C);
                    reps++;
                } while ((dt = now() - t0) < 1e-3);
                if (r > 0 && dt / (double)reps < best[way])
                    best[way] = dt / (double)reps;
            }
        ms[i][0] = best[0] * 1e3, ms[i][1] = best[1] * 1e3;
        ratio += best[1] / best[0];
    }
    if (t <= 1)
        ms[1][0] = ms[0][0], ms[1][1] = ms[0][1];
    free(C);
    return ratio / (t > 1 ? 2 : 1) < 0.95;
}

int tn__gemm_packed(const tn__gemm_shape *s, tn__gemm_run run, void *ctx, const tn_real *C0)
{
    if ((double)s->m * (double)s->n * (double)s->k < (double)TN__GEMM_PLAN_MIN)
        return 0;
    pthread_mutex_lock(&lock);
    if (!env_read) {
        const char *e = getenv("TAPE_GEMM_PLAN");
        off = e && !strcmp(e, "0"), env_read = 1;
    }
    const plan *p = off ? NULL : find(s);
    int packed = p ? p->packed : 0;
    if (!off && !p) {
        /* under the cache's lock: a shape another process measured, even
         * meanwhile, is read, not measured again (every rank takes the
         * same way); else timed now and written */
        int fd = tn__cache_lock();
        if ((packed = file_way(s)) < 0) {
            double ms[2][2];
            int t = many_threads();
            if ((packed = measure(s, run, ctx, C0, t, ms)) >= 0)
                append_file(s, packed, ms, t);
            else
                packed = 0; /* no memory to time it: BLIS's way, not remembered */
        }
        if (fd >= 0)
            close(fd);
        if (nplans < MAX_PLANS) /* beyond, the file is read each time: the same way still */
            plans[nplans++] = (plan){*s, packed};
    }
    pthread_mutex_unlock(&lock);
    return packed;
}

void tn_blas_plans(int *shapes, int *packed)
{
    pthread_mutex_lock(&lock);
    *shapes = nplans, *packed = 0;
    for (int i = 0; i < nplans; i++)
        *packed += plans[i].packed;
    pthread_mutex_unlock(&lock);
}
