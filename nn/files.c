/* files.c: the files a run writes. A path is resolved first (symbolic links
 * followed, never replaced) and must name a regular file or nothing yet;
 * writes go to a temporary file beside the target, flushed, fsync'ed and
 * renamed over it; an output has one owner at a time (a lock file beside
 * it); mkdir -p for output folders. */
#define _GNU_SOURCE /* F_OFD_SETLK: a lock of the open file, not of the process */

#include "nn_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PATH_LEN 4096

int nn_make_dirs(const char *path, nn_error *err)
{
    char buf[PATH_LEN];
    if (!path || !*path)
        return nn_fail(err, "an empty folder name");
    if ((size_t)snprintf(buf, sizeof buf, "%s", path) >= sizeof buf)
        return nn_fail(err, "%.64s...: the folder's name is too long (%zu bytes, at most %zu)", path,
                       strlen(path), sizeof buf - 1);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p)
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return nn_fail(err, "%s: cannot create the folder: %s", buf, strerror(errno));
        struct stat st;
        if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
            return nn_fail(err, "%s: exists and is not a folder", buf);
        if (!(*p = c))
            return 0;
    }
}

/* ---- what a path names ------------------------------------------------------ */

static const char *kind_of(mode_t m)
{
    return S_ISDIR(m) ? "a folder" : S_ISCHR(m) ? "a character device" : S_ISBLK(m) ? "a block device"
         : S_ISFIFO(m) ? "a FIFO" : S_ISSOCK(m) ? "a socket" : "not a regular file";
}

/* path with every symbolic link of its last component followed (the target
 * may not exist yet), into out (PATH_LEN). */
static int resolve(const char *path, char *out, nn_error *err)
{
    if (!path || !*path)
        return nn_fail(err, "an empty file name");
    if ((size_t)snprintf(out, PATH_LEN, "%s", path) >= PATH_LEN - 32)
        return nn_fail(err, "%.64s...: the path is too long (%zu bytes, at most %d)", path, strlen(path),
                       PATH_LEN - 33);
    for (int hops = 0;; hops++) {
        struct stat st;
        if (lstat(out, &st) != 0 || !S_ISLNK(st.st_mode))
            return 0;
        if (hops == 40)
            return nn_fail(err, "%s: too many levels of symbolic links", path);
        char link[PATH_LEN], next[2 * PATH_LEN];
        ssize_t k = readlink(out, link, sizeof link - 1);
        if (k < 0)
            return nn_fail(err, "%s: cannot read the link: %s", out, strerror(errno));
        link[k] = '\0';
        const char *slash = strrchr(out, '/');
        if (link[0] == '/' || !slash)
            snprintf(next, sizeof next, "%s", link);
        else
            snprintf(next, sizeof next, "%.*s/%s", (int)(slash - out), out, link);
        if (strlen(next) >= PATH_LEN - 32)
            return nn_fail(err, "%s: the link's target is too long", path);
        strcpy(out, next);
    }
}

/* The folder a resolved path sits in ("." for a bare name), into dir (PATH_LEN). */
static void dir_of(const char *target, char *dir)
{
    const char *slash = strrchr(target, '/');
    snprintf(dir, PATH_LEN, "%.*s", slash ? (int)(slash - target) + (slash == target) : 1,
             slash ? target : ".");
}

/* path resolved into target (PATH_LEN), which must be a regular file or
 * nothing yet, in a folder that can be written. */
static int check_target(const char *path, char *target, nn_error *err)
{
    if (resolve(path, target, err))
        return -1;
    struct stat st;
    if (stat(target, &st) == 0 && !S_ISREG(st.st_mode))
        return nn_fail(err, "%s%s%s: is %s, expected a regular file or a new file name", path,
                       strcmp(path, target) ? " -> " : "", strcmp(path, target) ? target : "",
                       kind_of(st.st_mode));
    char dir[PATH_LEN];
    dir_of(target, dir);
    if (access(dir, W_OK | X_OK) != 0)
        return nn_fail(err, "%s: cannot write into its folder %s: %s", path, dir, strerror(errno));
    return 0;
}

int nn_output_check(const char *path, nn_error *err)
{
    char target[PATH_LEN];
    return check_target(path, target, err);
}

/* The identity of an output: its folder's real path and its name, or, when
 * the folder does not exist yet, the resolved path as written. */
static int identity(const char *path, char *out, nn_error *err)
{
    char target[PATH_LEN], dir[PATH_LEN], real[PATH_LEN];
    if (resolve(path, target, err))
        return -1;
    const char *slash = strrchr(target, '/');
    dir_of(target, dir);
    if (!realpath(dir, real)) {
        strcpy(out, target);
        return 0;
    }
    if ((size_t)snprintf(out, PATH_LEN, "%s/%s", real, slash ? slash + 1 : target) >= PATH_LEN)
        return nn_fail(err, "%s: the path is too long once its links are followed", path);
    return 0;
}

int nn_outputs_distinct(const char *const *paths, int n, nn_error *err)
{
    char (*id)[PATH_LEN] = malloc((size_t)(n > 0 ? n : 1) * sizeof *id);
    if (!id)
        return nn_fail(err, "out of memory");
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        if (!paths[i])
            continue;
        if (identity(paths[i], id[i], err))
            rc = -1;
        for (int j = 0; j < i && rc == 0; j++)
            if (paths[j] && strcmp(id[i], id[j]) == 0)
                rc = nn_fail(err, "%s and %s: the same file, expected two outputs of their own",
                             paths[j], paths[i]);
    }
    free(id);
    return rc;
}

/* ---- writing atomically ----------------------------------------------------- */

/* Removes "<name>.tmp.<pid>.XXXXXX" files beside target whose process is
 * gone: what a save killed before its rename (kill -9, a file-size signal)
 * left behind. A live process's temporary file is never touched; one of
 * the older form "<name>.tmp.XXXXXX" goes once it is 10 minutes old. */
static void remove_stale(const char *target)
{
    char dir[PATH_LEN];
    const char *slash = strrchr(target, '/'), *base = slash ? slash + 1 : target;
    size_t bl = strlen(base);
    dir_of(target, dir);
    DIR *d = bl ? opendir(dir) : NULL;
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name, *rest = n + bl + 5;
        if (strncmp(n, base, bl) != 0 || strncmp(n + bl, ".tmp.", 5) != 0)
            continue;
        char full[2 * PATH_LEN], *end;
        snprintf(full, sizeof full, "%s/%s", dir, n);
        long pid = strtol(rest, &end, 10);
        struct stat st;
        if (end != rest && *end == '.' && strlen(end) == 7 && pid > 0) {
            if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
                unlink(full);
        } else if (strlen(rest) == 6 && lstat(full, &st) == 0 && time(NULL) - st.st_mtime > 600) {
            unlink(full);
        }
    }
    closedir(d);
}

int nn_atomic_open(nn_atomic *a, const char *path, nn_error *err)
{
    a->f = NULL;
    a->path = path;
    a->tmp[0] = '\0';
    if (check_target(path, a->target, err))
        return -1;
    if (snprintf(a->tmp, sizeof a->tmp, "%s.tmp.%ld.XXXXXX", a->target, (long)getpid()) >=
        (int)sizeof a->tmp)
        return nn_fail(err, "%s: the path is too long (%zu bytes, at most %zu)", path, strlen(a->target),
                       sizeof a->tmp - 32);
    remove_stale(a->target);
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
    /* the target may have become something else meanwhile: never rename
     * over a folder, a device or a FIFO */
    struct stat st;
    if (lstat(a->target, &st) == 0 && !S_ISREG(st.st_mode)) {
        unlink(a->tmp);
        return nn_fail(err, "%s: is now %s, expected a regular file; not written", a->path,
                       kind_of(st.st_mode));
    }
    if (rename(a->tmp, a->target) != 0) {
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
    if (a->tmp[0])
        unlink(a->tmp);
}

/* ---- one owner an output ---------------------------------------------------- */

/* Open-file-description locks conflict within one process too (two runs of
 * one program on one output); POSIX record locks where the kernel has none. */
#ifdef F_OFD_SETLK
#define LOCK_CMD F_OFD_SETLK
#else
#define LOCK_CMD F_SETLK
#endif

/* The lock file of an output: ".<name>.lock" beside its target. */
static int lock_path(const char *path, char *out, nn_error *err)
{
    char target[PATH_LEN];
    if (resolve(path, target, err))
        return -1;
    const char *slash = strrchr(target, '/');
    if ((size_t)snprintf(out, PATH_LEN + 64, "%.*s.%s.lock", slash ? (int)(slash - target) + 1 : 0, target,
                         slash ? slash + 1 : target) >= PATH_LEN + 64)
        return nn_fail(err, "%s: the path is too long for its lock file", path);
    return 0;
}

int nn_lock_take(nn_lock *l, const char *path, nn_error *err)
{
    l->fd = -1;
    if (lock_path(path, l->path, err))
        return -1;
    for (int tries = 0; tries < 10; tries++) {
        int fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (fd < 0)
            return nn_fail(err, "%s: cannot create the lock file %s: %s", path, l->path, strerror(errno));
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        if (fcntl(fd, LOCK_CMD, &fl) != 0) {
            int e = errno;
            char note[32] = "";
            ssize_t k = pread(fd, note, sizeof note - 1, 0);
            long pid = k > 0 ? strtol(note, NULL, 10) : 0;
            close(fd);
            if (e != EAGAIN && e != EACCES)
                return nn_fail(err, "%s: cannot lock %s: %s", path, l->path, strerror(e));
            if (pid)
                return nn_fail(err, "%s: in use by another run (process %ld); wait for it to end or "
                                    "write elsewhere", path, pid);
            return nn_fail(err, "%s: in use by another run; wait for it to end or write elsewhere", path);
        }
        /* the file locked must still be the one at the path (an owner
         * that ended removes it; a newcomer then makes a new one) */
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(l->path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
            char pid[32];
            int k = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
            if (ftruncate(fd, 0) != 0 || write(fd, pid, (size_t)k) != k) {
                /* the lock holds without its note */
            }
            l->fd = fd;
            return 0;
        }
        close(fd);
    }
    return nn_fail(err, "%s: cannot take the lock %s: it keeps changing", path, l->path);
}

void nn_lock_release(nn_lock *l)
{
    if (l->fd < 0)
        return;
    unlink(l->path); /* while held: a waiting process then retries on a new file */
    close(l->fd);
    l->fd = -1;
}
