/* atomic.c: writing a file so that it is never seen half-written: a
 * temporary file beside the target, flushed, fsync'ed and renamed over it. */
#define _POSIX_C_SOURCE 200809L

#include "nn_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int nn_atomic_open(nn_atomic *a, const char *path, nn_error *err)
{
    a->f = NULL;
    a->path = path;
    if (snprintf(a->tmp, sizeof a->tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof a->tmp)
        return nn_fail(err, "%s: path too long", path);
    int fd = mkstemp(a->tmp);
    if (fd < 0)
        return nn_fail(err, "%s: cannot create a temporary file beside it: %s", path, strerror(errno));
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
