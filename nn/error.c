/* error.c: how nn/ reports: the message of a failed call, written into the
 * caller's nn_error (nn_fail), and the lookup of a name in a table. At the
 * bottom of nn/: every other file calls these. */
#include "nn.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* A message longer than err->msg keeps its head and its tail, with "..."
 * between: a long path must not push the reason (at the end) out. */
static void set_msg(nn_error *err, const char *fmt, va_list ap)
{
    char full[16384];
    int n = vsnprintf(full, sizeof full, fmt, ap);
    size_t cap = sizeof err->msg;
    if (n < 0) {
        snprintf(err->msg, cap, "%s", fmt);
        return;
    }
    size_t len = (size_t)n < sizeof full ? (size_t)n : sizeof full - 1;
    if (len < cap) {
        memcpy(err->msg, full, len + 1);
        return;
    }
    size_t head = 120, tail = cap - head - 4;
    memcpy(err->msg, full, head);
    memcpy(err->msg + head, "...", 3);
    memcpy(err->msg + head + 3, full + len - tail, tail);
    err->msg[cap - 1] = '\0';
}

int nn_fail(nn_error *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        set_msg(err, fmt, ap);
        va_end(ap);
    }
    return -1;
}

void *nn_fail_null(nn_error *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        set_msg(err, fmt, ap);
        va_end(ap);
    }
    return NULL;
}

int nn_name_index(const char *s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}
