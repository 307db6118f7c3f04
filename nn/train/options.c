/* options.c: nn_options_parse and nn_options_usage, a command line read
 * against one table of options (options.h). */
#define _POSIX_C_SOURCE 200809L

#include "options.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The row named name (len bytes), or NULL. */
static const nn_option *row_of(const nn_option *opts, const char *name, size_t len)
{
    for (const nn_option *o = opts; o->name; o++)
        if (o->type != '-' && o->type != 'w' && strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    return NULL;
}

/* A word that is not an option into the table's 'w' row: 0, or -1 with err
 * when there is no such row or it is full. */
static int add_word(const nn_option *opts, const char *a, nn_error *err)
{
    const nn_option *o = opts;
    while (o->name && o->type != 'w')
        o++;
    if (!o->name)
        return nn_fail(err, "\"%s\": expected an option like --name VALUE (see --help)", a);
    int *n = o->given;
    if (!n || *n < 0 || *n >= (int)o->hi)
        return nn_fail(err, "\"%s\": expected at most %.0f %s", a, o->hi, o->name);
    ((const char **)o->value)[(*n)++] = a;
    return 0;
}

/* The k-th of "a|b|c" (its length in *len), or NULL. */
static const char *choice_at(const char *choices, int k, size_t *len)
{
    const char *c = choices;
    for (int j = 0; c && *c; j++) {
        *len = strcspn(c, "|");
        if (j == k)
            return c;
        c += *len + (c[*len] == '|');
    }
    return NULL;
}

/* The index of v among "a|b|c", or -1. */
static int choice_of(const char *choices, const char *v)
{
    size_t len;
    const char *c;
    for (int k = 0; (c = choice_at(choices, k, &len)); k++)
        if (strlen(v) == len && strncmp(c, v, len) == 0)
            return k;
    return -1;
}

/* v into o's value, checked against its type and range. */
static int set_value(const nn_option *o, const char *v, nn_error *err)
{
    char *end;
    errno = 0;
    if (o->type == 's') {
        if (!*v)
            return nn_fail(err, "--%s: expected a non-empty %s, got \"\"", o->name, o->arg ? o->arg : "text");
        *(const char **)o->value = v;
    } else if (o->type == 'i') {
        long long x = strtoll(v, &end, 10);
        if (!*v || *end || errno || !(x >= o->lo && x <= o->hi))
            return nn_fail(err, "--%s: expected a whole number from %.0f to %.0f, got \"%s\"", o->name, o->lo,
                           o->hi, v);
        *(long *)o->value = (long)x;
    } else if (o->type == 'r') {
        double x = strtod(v, &end);
        if (!*v || *end || !(x >= o->lo && x <= o->hi))
            return nn_fail(err, "--%s: expected a number from %g to %g, got \"%s\"", o->name, o->lo, o->hi, v);
        *(double *)o->value = x;
    } else if (o->type == 'u') {
        unsigned long long x = strtoull(v, &end, 10);
        if (!*v || *end || errno || *v == '-' || *v == '+')
            return nn_fail(err, "--%s: expected a whole number from 0 to %" PRIu64 ", got \"%s\"", o->name,
                           UINT64_MAX, v);
        *(uint64_t *)o->value = (uint64_t)x;
    } else if (o->type == 'c') {
        int k = choice_of(o->arg, v);
        if (k < 0)
            return nn_fail(err, "--%s: expected one of %s, got \"%s\"", o->name, o->arg ? o->arg : "(none)", v);
        *(int *)o->value = k;
    } else {
        return nn_fail(err, "--%s: the program's table gives the type '%c', expected one of r i u s c f -",
                       o->name, o->type);
    }
    return 0;
}

int nn_options_parse(const nn_option *opts, int argc, char **argv, nn_error *err)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return NN_OPTIONS_HELP;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || !a[2]) {
            if (add_word(opts, a, err))
                return NN_OPTIONS_USAGE;
            continue;
        }
        a += 2;
        const char *eq = strchr(a, '='); /* --name=VALUE */
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        const nn_option *o = row_of(opts, a, len);
        if (!o)
            return nn_fail(err, "--%.*s: unknown option (see --help)", (int)len, a), NN_OPTIONS_USAGE;
        if (o->type == 'f') {
            if (eq)
                return nn_fail(err, "--%s: a flag, expected no value, got \"%s\"", o->name, eq + 1), NN_OPTIONS_USAGE;
            *(int *)o->value = 1;
        } else {
            const char *v = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
            if (!v)
                return nn_fail(err, "--%s: expected a value after it, got the end of the line", o->name),
                       NN_OPTIONS_USAGE;
            if (set_value(o, v, err))
                return NN_OPTIONS_USAGE;
        }
        if (o->given)
            *o->given = 1;
    }
    return 0;
}

/* " ARG (default)" of one row into buf. */
static void shown(const nn_option *o, char *buf, size_t len)
{
    const char *arg = o->arg ? o->arg : o->type == 'i' || o->type == 'u' ? "N" : o->type == 'r' ? "X" : "TEXT";
    long i = o->type == 'i' ? *(long *)o->value : 0;
    double r = o->type == 'r' ? *(double *)o->value : 0;
    int k = o->type == 'c' ? *(int *)o->value : -1;
    const char *s = o->type == 's' ? *(const char **)o->value : NULL, *c;
    size_t clen;
    char def[256] = "";
    if (o->type == 'w')
        arg = "...";
    if (o->type == 'i' && i >= o->lo && i <= o->hi)
        snprintf(def, sizeof def, " (%ld)", i);
    else if (o->type == 'r' && r >= o->lo && r <= o->hi)
        snprintf(def, sizeof def, " (%g)", r);
    else if (o->type == 'u' && !o->given)
        snprintf(def, sizeof def, " (%" PRIu64 ")", *(uint64_t *)o->value);
    else if (s)
        snprintf(def, sizeof def, " (%.200s)", s);
    else if (k >= 0 && (c = choice_at(o->arg, k, &clen)))
        snprintf(def, sizeof def, " (%.*s)", (int)clen, c);
    snprintf(buf, len, "%s%s%s", o->type == 'f' ? "" : " ", o->type == 'f' ? "" : arg, def);
}

/* c at buf[*u] while it fits with the terminator; *u counts what was needed */
static void put_char(char *buf, size_t len, size_t *u, char c)
{
    if (*u + 1 < len)
        buf[*u] = c, buf[*u + 1] = '\0';
    ++*u;
}

/* s into buf at *u, each of its line breaks followed by `indent` spaces */
static void put(char *buf, size_t len, size_t *u, const char *s, int indent)
{
    for (; *s; s++) {
        put_char(buf, len, u, *s);
        for (int i = 0; *s == '\n' && i < indent; i++)
            put_char(buf, len, u, ' ');
    }
}

#define HELP_COLUMN 32

size_t nn_options_usage(const char *head, const nn_option *opts, char *buf, size_t len)
{
    size_t u = 0;
    if (len)
        buf[0] = '\0';
    put(buf, len, &u, "usage: ", 0), put(buf, len, &u, head ? head : "", 0), put(buf, len, &u, "\n", 0);
    for (const nn_option *o = opts; o && o->name; o++) {
        char arg[512], left[640];
        if (o->type == '-') {
            snprintf(left, sizeof left, "%s:\n", o->name);
            put(buf, len, &u, left, 0);
            continue;
        }
        shown(o, arg, sizeof arg);
        int w = snprintf(left, sizeof left, o->type == 'w' ? "  %s%s" : "  --%s%s", o->name, arg);
        put(buf, len, &u, left, 0);
        if (o->help) {
            snprintf(left, sizeof left, w + 2 > HELP_COLUMN ? "\n%*s" : "%*s",
                     w + 2 > HELP_COLUMN ? HELP_COLUMN : HELP_COLUMN - w, "");
            put(buf, len, &u, left, 0);
            put(buf, len, &u, o->help, HELP_COLUMN);
        }
        put(buf, len, &u, "\n", 0);
    }
    return u;
}
