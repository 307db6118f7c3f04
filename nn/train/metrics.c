/* metrics.c: the metrics file, JSON Lines with one object an epoch. A line
 * is appended whole or not at all; a resumed run brings the file back to
 * its checkpoint's epoch (later lines and a cut-off last line go, the
 * checkpoint's own line comes back when it is missing). */
#define _POSIX_C_SOURCE 200809L

#include "trainer.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define METRICS_MAX ((size_t)256 << 20) /* a sane bound for a file of one line an epoch */

/* The epoch of a metrics line (n bytes, no newline), or -1 when the line is
 * not an object with a whole "epoch" number from 0 to 10^9. */
static long line_epoch(const char *line, size_t n)
{
    cJSON *j = cJSON_ParseWithLength(line, n);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "epoch");
    long epoch = -1;
    if (cJSON_IsObject(j) && cJSON_IsNumber(e) && e->valuedouble >= 0 && e->valuedouble <= 1e9 &&
        e->valuedouble == floor(e->valuedouble))
        epoch = (long)e->valuedouble;
    cJSON_Delete(j);
    return epoch;
}

int nn_metrics_append(const char *path, const char *line, nn_error *err)
{
    if (!line || strchr(line, '\n') || line_epoch(line, strlen(line)) < 0)
        return nn_fail(err, "%s: a metrics line must be one JSON object with an \"epoch\" number", path);
    if (nn_output_check(path, err))
        return -1;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        return nn_fail(err, "%s: cannot append the metrics: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return nn_fail(err, "%s: not a regular file; the metrics were not written", path);
    }
    size_t n = strlen(line);
    char *buf = malloc(n + 1);
    if (!buf) {
        close(fd);
        return nn_fail(err, "%s: out of memory", path);
    }
    memcpy(buf, line, n);
    buf[n++] = '\n';
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, buf + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    int e = errno;
    free(buf);
    if (done < n || fsync(fd) != 0) {
        e = done < n ? e : errno;
        /* half a line never stays: the file goes back to its size before */
        int cut = ftruncate(fd, st.st_size);
        close(fd);
        return nn_fail(err, "%s: writing the metrics failed (%s); %s", path, e ? strerror(e) : "no space",
                       cut == 0 ? "the file is as it was" : "and it could not be cut back");
    }
    return close(fd) == 0 ? 0 : nn_fail(err, "%s: writing the metrics failed: %s", path, strerror(errno));
}

/* The lines of text (len bytes) a resume at epoch `keep` keeps, copied into
 * out (len + 1 bytes, the caller's); *kept_len their bytes, *has whether
 * epoch keep's line is among them, *dropped how many lines went. A line
 * that is not a metrics object fails, naming it, unless it is the last one
 * and has no newline (a write cut off). */
static int filter(const char *path, const char *text, size_t len, int keep, char *out, size_t *kept_len,
                  int *has, int *dropped, nn_error *err)
{
    size_t at = 0, used = 0;
    int lineno = 0;
    *has = 0, *dropped = 0;
    while (at < len) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t n = nl ? (size_t)(nl - (text + at)) : len - at;
        lineno++;
        long e = n ? line_epoch(text + at, n) : -1;
        if (e < 0 && nl)
            return nn_fail(err, "%s:%d: expected a JSON object with an \"epoch\" number (is it a "
                                "metrics file?)", path, lineno);
        if (e >= 0 && e <= keep && nl) {
            memcpy(out + used, text + at, n + 1);
            used += n + 1;
            *has |= e == keep;
        } else {
            ++*dropped;
        }
        at += n + (nl != NULL);
    }
    *kept_len = used;
    return 0;
}

int nn_metrics_resume(const char *path, int keep, const char *saved_line, int *dropped, nn_error *err)
{
    int drop = 0, has = 0;
    if (dropped)
        *dropped = 0;
    if (nn_output_check(path, err))
        return -1;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno != ENOENT)
            return nn_fail(err, "%s: cannot read the metrics: %s", path, strerror(errno));
        /* a fresh run starts the file; a resume into a new file starts empty */
        if (keep > 0)
            return 0;
        nn_atomic a;
        return nn_atomic_open(&a, path, err) ? -1 : nn_atomic_commit(&a, 1, err);
    }
    char *text = NULL, *kept = NULL;
    size_t len = 0, kept_len = 0;
    int rc = -1;
    if (fseek(f, 0, SEEK_END) != 0 || (long)(len = (size_t)ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        nn_fail(err, "%s: cannot find its size", path);
        goto out;
    }
    if (len > METRICS_MAX) {
        nn_fail(err, "%s: %zu bytes, more than a metrics file of %zu MiB holds: is it one?", path, len,
                METRICS_MAX >> 20);
        goto out;
    }
    if (!(text = malloc(len + 1)) || !(kept = malloc(len + 1))) {
        nn_fail(err, "%s: out of memory", path);
        goto out;
    }
    if (fread(text, 1, len, f) != len) {
        nn_fail(err, "%s: cannot read the metrics", path);
        goto out;
    }
    if (filter(path, text, len, keep, kept, &kept_len, &has, &drop, err))
        goto out;
    int add = keep > 0 && !has && saved_line && *saved_line;
    if (add && line_epoch(saved_line, strlen(saved_line)) != keep) {
        nn_fail(err, "%s: the checkpoint's metrics line is not of epoch %d", path, keep);
        goto out;
    }
    if (!drop && !add) { /* nothing to change: the file stays as it is */
        rc = 0;
        goto out;
    }
    nn_atomic a;
    if (nn_atomic_open(&a, path, err))
        goto out;
    int ok = fwrite(kept, 1, kept_len, a.f) == kept_len;
    if (add)
        ok = ok && fputs(saved_line, a.f) >= 0 && fputc('\n', a.f) != EOF;
    rc = nn_atomic_commit(&a, ok, err);
    if (dropped)
        *dropped = drop;
out:
    fclose(f);
    free(text), free(kept);
    return rc;
}
