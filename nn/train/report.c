/* report.c: what a run reports: named numbers (nn_scalars) that a loss
 * fills and the trainer averages, and the log hook every line goes
 * through. */
#define _POSIX_C_SOURCE 200809L

#include "train_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int refuse(nn_scalars *s, const char *name)
{
    if (!s->refused[0]) { /* the name cut to fit: the message says names are under 32 characters */
        size_t n = strlen(name) < sizeof s->refused ? strlen(name) : sizeof s->refused - 1;
        memcpy(s->refused, name, n);
        s->refused[n] = '\0';
    }
    return -1;
}

int nn__scalars_refused(const nn_scalars *s, const char *where, nn_error *err)
{
    if (!s->refused[0])
        return 0;
    return nn_fail(err, "%s: the loss reported \"%s%s\": names are under 32 characters, at most %d of them",
                   where, s->refused, strlen(s->refused) == sizeof s->refused - 1 ? "..." : "", NN_SCALARS_MAX);
}

int nn_scalars_set(nn_scalars *s, const char *name, double v)
{
    if (strlen(name) >= sizeof s->name[0])
        return refuse(s, name);
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->name[i], name) == 0) {
            s->value[i] = v;
            return 0;
        }
    if (s->n == NN_SCALARS_MAX)
        return refuse(s, name);
    strcpy(s->name[s->n], name);
    s->value[s->n++] = v;
    return 0;
}

ad_var *nn_report(nn_step *s, const char *name, ad_var *v)
{
    if (v)
        nn_scalars_set(s->report, name, ad_item(v));
    return v;
}

double nn_scalars_get(const nn_scalars *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->name[i], name) == 0)
            return s->value[i];
    return NAN;
}

void nn_log_stdio(void *ctx, nn_log_level level, const char *line)
{
    (void)ctx;
    int tty = isatty(STDERR_FILENO);
    if (level == NN_LOG_ERROR) { /* every rank's */
        fprintf(stderr, "%s%s\n", tty ? "\r\033[K" : "", line);
        return;
    }
    if (nn_dist_rank() != 0) /* under MPI, rank 0 alone speaks */
        return;
    if (level == NN_LOG_PROGRESS) {
        if (tty)
            fprintf(stderr, "\r%s\033[K", line);
        return;
    }
    if (tty)
        fputs("\r\033[K", stderr); /* clear a progress line first */
    printf("%s\n", line);
    fflush(stdout);
}

void nn_logf(nn_log_fn log, void *ctx, nn_log_level level, const char *fmt, ...)
{
    if (!log)
        return;
    char line[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    log(ctx, level, line);
}
