/* atomic.c: writing a file so that it is never seen half-written: a
 * temporary file beside the target, flushed, fsync'ed and renamed over it. */
#define _POSIX_C_SOURCE 200809L

#include "nn_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Removes "<name>.tmp.XXXXXX" files beside path: what a save killed before
 * its rename (kill -9, a file-size signal) left behind. */
static void remove_stale(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    size_t dl = slash ? (size_t)(slash - path) : 0, bl = strlen(base);
    if (dl >= sizeof dir || !bl)
        return;
    if (!slash)
        strcpy(dir, ".");
    else if (dl == 0)
        strcpy(dir, "/");
    else
        memcpy(dir, path, dl), dir[dl] = '\0';
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (strncmp(n, base, bl) == 0 && strncmp(n + bl, ".tmp.", 5) == 0 && strlen(n + bl) == 11) {
            char full[8192];
            if ((size_t)snprintf(full, sizeof full, "%s/%s", dir, n) < sizeof full)
                unlink(full);
        }
    }
    closedir(d);
}

int nn_atomic_open(nn_atomic *a, const char *path, nn_error *err)
{
    a->f = NULL;
    a->path = path;
    if (!path || !*path)
        return nn_fail(err, "an empty file name");
    if (snprintf(a->tmp, sizeof a->tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof a->tmp)
        return nn_fail(err, "%s: the path is too long (%zu bytes, at most %zu)", path, strlen(path),
                       sizeof a->tmp - 12);
    remove_stale(path);
    int fd = mkstemp(a->tmp);
    if (fd < 0)
        return nn_fail(err, "%s: cannot create a temporary file beside it: %s", path, strerror(errno));
    /* mkstemp makes 0600; a file should get what the user's umask gives */
    mode_t mask = umask(022);
    umask(mask);
    if (fchmod(fd, 0666 & ~mask) != 0) {
        int e = errno;
        close(fd);
        unlink(a->tmp);
        return nn_fail(err, "%s: cannot set its permissions: %s", a->tmp, strerror(e));
    }
    if (!(a->f = fdopen(fd, "wb"))) {
        int e = errno;
        close(fd);
        unlink(a->tmp);
        return nn_fail(err, "%s: %s", a->tmp, strerror(e));
    }
    return 0;
}

int nn_atomic_commit(nn_atomic *a, int written, nn_error *err)
{
    int ok = written && fflush(a->f) == 0 && fsync(fileno(a->f)) == 0;
    int e = errno;
    if (fclose(a->f) != 0 && ok)
        ok = 0, e = errno;
    a->f = NULL;
    if (!ok) {
        unlink(a->tmp);
        return nn_fail(err, "%s: writing failed: %s", a->tmp, strerror(e));
    }
    if (rename(a->tmp, a->path) != 0) {
        e = errno;
        unlink(a->tmp);
        return nn_fail(err, "%s: cannot rename %s into place: %s", a->path, a->tmp, strerror(e));
    }
    return 0;
}

void nn_atomic_abort(nn_atomic *a)
{
    if (a->f)
        fclose(a->f);
    a->f = NULL;
    unlink(a->tmp);
}
