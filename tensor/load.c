/* load.c: how much of the machine other processes use, so that a run can
 * size its thread team to the cores they leave free. Idle OpenMP workers
 * spin before they sleep, and BLIS's barriers spin without yielding: with
 * more threads than free cores, every wait lasts until the scheduler takes
 * the core from a spinning thread, and a 2-thread epoch next to one busy
 * process took 15x its quiet time (docs/results.md). Linux only: elsewhere
 * the load is unknown and nothing adapts. */
#define _DEFAULT_SOURCE

#include "tn.h"

#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

double tn_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* busy seconds of all CPUs since boot (/proc/stat's first line), -1 when unknown */
static double busy_all(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    unsigned long long v[8] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    long hz = sysconf(_SC_CLK_TCK);
    if (n < 8 || hz <= 0)
        return -1;
    /* user nice system idle iowait irq softirq steal: all but idle and iowait */
    return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)hz;
}

static double self_cpu(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru))
        return -1;
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

double tn_load_others(tn_load *l)
{
    double w = tn_seconds(), b = busy_all(), s = self_cpu();
    double others = -1;
    if (b < 0 || s < 0) {
        l->primed = 0;
        return -1;
    }
    if (l->primed && w - l->wall > 0.05) {
        others = ((b - l->busy) - (s - l->self)) / (w - l->wall);
        if (others < 0)
            others = 0;
    }
    l->wall = w, l->busy = b, l->self = s, l->primed = 1;
    return others;
}

int tn_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}
