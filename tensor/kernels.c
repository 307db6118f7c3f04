/* kernels.c: which of BLIS's kernel configurations runs the products, chosen
 * before BLIS's first call (BLIS reads BLIS_ARCH_TYPE once, when it
 * initializes): BLIS's own choice, its AVX-512 kernels for large batches,
 * or the fastest configuration measured on the program's own products,
 * each candidate timed in a child process (a configuration the CPU cannot
 * run dies there, not here). */
#define _POSIX_C_SOURCE 200809L

#include "tn.h"
#include "tn_blas.h"

#include <blis.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char how[512] = "BLIS's own choice";

/* What BLIS's skx configuration needs of the CPU. */
static int cpu_has_avx512(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl");
#else
    return 0;
#endif
}

/* BLIS initialized with configuration id (set for that moment only). */
static void init_with(int id)
{
    char s[16];
    snprintf(s, sizeof s, "%d", id);
    setenv("BLIS_ARCH_TYPE", s, 1);
    bli_init(); /* BLIS registers its configurations, then reads it */
    unsetenv("BLIS_ARCH_TYPE"); /* not passed on to child processes */
}

int tn_blas_avx512(void)
{
#if defined(__x86_64__)
    if (!getenv("BLIS_ARCH_TYPE") && cpu_has_avx512()) {
        init_with((int)BLIS_ARCH_SKX);
        snprintf(how, sizeof how, "AVX-512 for products of 64 and more rows");
    }
    bli_init(); /* before any query: BLIS checks a BLIS_ARCH_TYPE against its registry */
    return bli_arch_query_id() == BLIS_ARCH_SKX;
#else
    return 0;
#endif
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* In a child: BLIS with configuration id (-1: its own choice), one thread,
 * the configuration BLIS took and (rows > 0) the time of a step's three
 * products of a 784 -> 400 layer for `rows` rows (forward,
 * the weight's and the input's gradients), the best of 3 rounds of at
 * least 5 ms, in seconds a step; written to fd with the configuration BLIS
 * really took. */
static void time_config(int id, size_t rows, int fd)
{
    if (id >= 0)
        init_with(id);
    bli_init();
    bli_thread_set_num_threads(1);
    int got = (int)bli_arch_query_id();
    if (!rows) { /* only which configuration BLIS takes */
        double msg[2] = {(double)got, 0};
        _exit(write(fd, msg, sizeof msg) == (ssize_t)sizeof msg ? 0 : 1);
    }
    size_t n = rows, D = 784, H = 400;
    float *x = malloc(n * D * sizeof *x), *w = malloc(H * D * sizeof *w), *h = malloc(n * H * sizeof *h);
    float *gw = malloc(H * D * sizeof *gw), *gx = malloc(n * D * sizeof *gx), one = 1, zero = 0;
    double best = 1e30;
    if (x && w && h && gw && gx) {
        for (size_t i = 0; i < n * D; i++)
            x[i] = (float)(i % 7) * 0.1f, gx[i] = 0;
        for (size_t i = 0; i < H * D; i++)
            w[i] = (float)(i % 5) * 0.01f;
        for (int round = 0; round < 3; round++) {
            long reps = 0;
            double t0 = now(), t;
            do {
                bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_TRANSPOSE, (dim_t)n, (dim_t)H, (dim_t)D, &one, x, (inc_t)D, 1, w,
                          (inc_t)D, 1, &zero, h, (inc_t)H, 1);
                bli_sgemm(BLIS_TRANSPOSE, BLIS_NO_TRANSPOSE, (dim_t)H, (dim_t)D, (dim_t)n, &one, h, (inc_t)H, 1, x,
                          (inc_t)D, 1, &zero, gw, (inc_t)D, 1);
                bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, (dim_t)n, (dim_t)D, (dim_t)H, &one, h, (inc_t)H, 1,
                          w, (inc_t)D, 1, &zero, gx, (inc_t)D, 1);
                reps++;
            } while ((t = now() - t0) < 5e-3);
            best = t / (double)reps < best ? t / (double)reps : best;
        }
    }
    double msg[2] = {(double)got, best};
    ssize_t wr = write(fd, msg, sizeof msg);
    _exit(wr == (ssize_t)sizeof msg ? 0 : 1);
}

/* Runs time_config(id) in a child: 0 with the configuration taken and its
 * seconds a step, or -1 (the child died: a configuration this CPU cannot
 * run, or no fork). */
static int measure(int id, size_t rows, int *got, double *secs)
{
    int fd[2];
    if (pipe(fd))
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]), close(fd[1]);
        return -1;
    }
    if (pid == 0) {
        close(fd[0]);
        time_config(id, rows, fd[1]);
    }
    close(fd[1]);
    double msg[2];
    ssize_t r = read(fd[0], msg, sizeof msg);
    close(fd[0]);
    int status;
    waitpid(pid, &status, 0);
    if (r != (ssize_t)sizeof msg || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    *got = (int)msg[0], *secs = msg[1];
    return 0;
}

const char *tn_cpu_name(void)
{
    static char out[400];
    if (out[0])
        return out;
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512], name[256] = "?", fam[32] = "?", mod[32] = "?";
    while (f && fgets(line, sizeof line, f)) {
        char *v = strchr(line, ':');
        if (!v || !v[1])
            continue;
        v += 2;
        v[strcspn(v, "\n")] = '\0';
        if (!strncmp(line, "model name", 10) && name[0] == '?')
            snprintf(name, sizeof name, "%s", v);
        else if (!strncmp(line, "cpu family", 10) && fam[0] == '?')
            snprintf(fam, sizeof fam, "%s", v);
        else if (!strncmp(line, "model\t", 6) && mod[0] == '?')
            snprintf(mod, sizeof mod, "%s", v);
    }
    if (f)
        fclose(f);
    snprintf(out, sizeof out, "%s (family %s, model %s)", name, fam, mod);
    return out;
}

/* The measured choices are kept in $XDG_CACHE_HOME/tape/kernels (else
 * ~/.cache/tape/kernels), a line "CPU (family F, model M)|rows id how"
 * each, so that every later run on this machine takes the same kernels
 * (the same sums, runs that repeat); TAPE_KERNELS_CACHE=0 measures every
 * time. The path of `file` there, its folders made (cache/ and tape/). */
int tn__cache_path(char *path, size_t len, const char *file)
{
    const char *off = getenv("TAPE_KERNELS_CACHE"), *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");
    if (off && !strcmp(off, "0"))
        return -1;
    int n = x && *x ? snprintf(path, len, "%s/tape/%s", x, file)
          : h && *h ? snprintf(path, len, "%s/.cache/tape/%s", h, file) : -1;
    if (n <= 0 || (size_t)n >= len)
        return -1;
    char *tape = strrchr(path, '/'), *up;
    *tape = '\0';
    if ((up = strrchr(path, '/')))
        *up = '\0', mkdir(path, 0755), *up = '/';
    mkdir(path, 0755);
    *tape = '/';
    return 0;
}

/* A copy of the old lines and the new one in a temporary file, renamed
 * over the file unless that is there and not a regular file (a link, a
 * device: left as it is) */
void tn__cache_append(const char *file, const char *text)
{
    char path[4096], tmp[4200], line[1024];
    if (tn__cache_path(path, sizeof path, file))
        return;
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *in = fopen(path, "r"), *out = fopen(tmp, "w");
    while (out && in && fgets(line, sizeof line, in))
        fputs(line, out);
    if (in)
        fclose(in);
    struct stat st;
    int ok = out && fputs(text, out) >= 0;
    ok = out && fclose(out) == 0 && ok;
    if (out && (!ok || (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) || rename(tmp, path) != 0))
        remove(tmp);
}

int tn__cache_lock(void)
{
    char path[4200];
    int fd = -1;
    if (tn__cache_path(path, sizeof path, "kernels.lock") == 0) {
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        if ((fd = open(path, O_RDWR | O_CREAT, 0644)) >= 0 && fcntl(fd, F_SETLKW, &fl) != 0)
            close(fd), fd = -1;
    }
    return fd;
}

static int cache_get(const char *key, int *id)
{
    char path[4096], line[1024];
    FILE *f = tn__cache_path(path, sizeof path, "kernels") ? NULL : fopen(path, "r");
    size_t kl = strlen(key);
    int found = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl) && line[kl] == ' ') {
            char *e;
            long v = strtol(line + kl + 1, &e, 10);
            if (e != line + kl + 1 && v >= 0 && v < BLIS_NUM_ARCHS) {
                *id = (int)v, found = 1;
                snprintf(how, sizeof how, "measured before on this CPU:%s", *e == ' ' ? e : "");
                how[strcspn(how, "\n")] = '\0';
            }
        }
    if (f)
        fclose(f);
    return found ? 0 : -1;
}

/* The kernels' line for `key`, beside the old lines */
static void cache_put(const char *key, int id)
{
    char line[1200]; /* a key of 600 at most, how of 512 */
    snprintf(line, sizeof line, "%s %d%s\n", key, id, strchr(how, ':') ? strchr(how, ':') + 1 : "");
    tn__cache_append("kernels", line);
}

/* The fastest of BLIS's x86-64 configurations that this CPU runs, for
 * products of `rows` rows, the candidates timed in turn (A B C A B C ...,
 * 3 rounds, the best of each); BLIS initialized with it. "how" says what
 * was measured. */
static void choose_by_measurement(size_t rows)
{
#if defined(__x86_64__)
    static const int ids[] = {BLIS_ARCH_SKX, BLIS_ARCH_ZEN3, BLIS_ARCH_ZEN2, BLIS_ARCH_ZEN, BLIS_ARCH_HASWELL,
                              BLIS_ARCH_SANDYBRIDGE, BLIS_ARCH_GENERIC};
    enum { NC = sizeof ids / sizeof ids[0] };
    char key[600];
    snprintf(key, sizeof key, "%s|%zu", tn_cpu_name(), rows);
    int best = -1, lock = tn__cache_lock(); /* one process measures at a time (MPI ranks) */
    if (cache_get(key, &best) == 0) { /* measured before, or by a process we waited for */
        if (lock >= 0)
            close(lock); /* closing releases the lock */
        init_with(best);
        bli_init();
        return;
    }
    double secs[NC];
    int ok[NC];
    for (int i = 0; i < NC; i++)
        secs[i] = 1e30, ok[i] = ids[i] != BLIS_ARCH_SKX || cpu_has_avx512();
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < NC; i++) {
            int got;
            double s;
            if (!ok[i])
                continue;
            if (measure(ids[i], rows, &got, &s) || got != ids[i])
                ok[i] = 0; /* not built into this BLIS, or not runnable here */
            else if (s < secs[i])
                secs[i] = s;
        }
    size_t u = (size_t)snprintf(how, sizeof how, "measured, ms a step of %zu rows:", rows);
    for (int i = 0; i < NC; i++) {
        if (!ok[i])
            continue;
        if (u < sizeof how)
            u += (size_t)snprintf(how + u, sizeof how - u, " %s %.2f", bli_arch_string((arch_t)ids[i]),
                                  1e3 * secs[i]);
        if (best < 0 || secs[i] < secs[best])
            best = i;
    }
    if (best >= 0) {
        init_with(ids[best]);
        cache_put(key, ids[best]);
    } else {
        snprintf(how, sizeof how, "BLIS's own choice (nothing could be measured)");
    }
    if (lock >= 0)
        close(lock);
#else
    (void)rows;
#endif
    bli_init();
}

/* BLIS's own choice for this CPU, asked of a child so that this process
 * can still choose (TAPE_BLAS_AS_GENERIC=1: taken to be "generic", as on a
 * CPU BLIS cannot name; for tests). */
static int blis_default(size_t rows)
{
    const char *g = getenv("TAPE_BLAS_AS_GENERIC");
    if (g && !strcmp(g, "1"))
        return (int)BLIS_ARCH_GENERIC;
    int got;
    double s;
    (void)rows;
    return measure(-1, 0, &got, &s) ? -1 : got;
}

int tn_blas_kernels(const char *choice, size_t rows)
{
    int avx512 = strcmp(choice, "avx512") == 0, automatic = strcmp(choice, "auto") == 0;
    int measured = strcmp(choice, "measure") == 0;
    if (!avx512 && !automatic && !measured && strcmp(choice, "blis") != 0)
        return -1;
    if (getenv("BLIS_ARCH_TYPE")) { /* a user's choice wins */
        snprintf(how, sizeof how, "BLIS_ARCH_TYPE");
        return 0;
    }
    if (measured || (automatic && blis_default(rows) == (int)BLIS_ARCH_GENERIC))
        choose_by_measurement(rows ? rows : 128); /* on a CPU BLIS cannot name, its generic kernels are the slowest */
    else if (avx512 || (automatic && rows >= 64)) /* 16 and 32 rows: twice and 1.2 times as slow */
        tn_blas_avx512();
    return 0;
}

const char *tn_blas_config(void)
{
    bli_init();
    return bli_arch_string(bli_arch_query_id());
}

const char *tn_blas_how(void) { return how; }
