/* dist.c: the few collective operations data-parallel training needs, over
 * MPI in the build made with `make MPI=1` (TAPE_MPI defined), and the
 * one-process versions of them otherwise. nn_train is their only user:
 * every rank holds the whole model, the gradient block is summed with one
 * MPI_Allreduce a step, rank 0 writes.
 *
 * MPI starts lazily, on the first call, and only when the process was
 * started by mpirun (OpenMPI's or PMIx's rank variables are set): the MPI
 * build run on its own is the one-process build. At exit MPI is finalized
 * when the status is 0 and the job aborted otherwise (on_exit), so a rank
 * that exits with an error brings the others down instead of leaving them
 * waiting in a collective. */
#define _GNU_SOURCE /* on_exit */

#include "train_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Set while nn_train evaluates its own shard of the test set: the
 * evaluation functions it calls must not split that shard again. */
static int g_local;
int nn__dist_local(int on)
{
    int was = g_local;
    g_local = on;
    return was;
}
int nn__dist_local_now(void) { return g_local; }

#ifdef TAPE_MPI
#include <mpi.h>

static int g_state; /* 0 not started, 1 running under MPI, 2 one process */
static int g_rank, g_size = 1;

static void at_exit(int status, void *arg)
{
    (void)arg;
    int done = 0;
    MPI_Finalized(&done);
    if (done)
        return;
    if (status != 0 && g_size > 1)
        MPI_Abort(MPI_COMM_WORLD, status); /* the others would wait forever */
    else
        MPI_Finalize();
}

static void start(void)
{
    if (g_state)
        return;
    g_state = 2;
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMIX_RANK") && !getenv("PMI_RANK"))
        return; /* not under mpirun: one process, MPI never started */
    int inited = 0, provided;
    MPI_Initialized(&inited);
    if (!inited && MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return;
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    g_state = 1;
    if (!inited)
        on_exit(at_exit, NULL);
    if (g_rank > 0) { /* rank 0 alone prints; errors still go to stderr */
        FILE *f = freopen("/dev/null", "w", stdout);
        (void)f;
    }
    /* errors come back as codes, so the trainer can say which step failed */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
}

int nn_dist_size(void) { return start(), g_size; }
int nn_dist_rank(void) { return start(), g_rank; }

static int check(int rc, const char *what, nn_error *err)
{
    if (rc == MPI_SUCCESS)
        return 0;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return nn_fail(err, "MPI: %s failed on rank %d: %s", what, g_rank, msg);
}

#ifdef TN_REAL_DOUBLE
#define MPI_REAL_T MPI_DOUBLE
#else
#define MPI_REAL_T MPI_FLOAT
#endif

/* MPI counts are ints: long blocks go in pieces */
#define PIECE ((size_t)1 << 30)

int nn__dist_sum_real(tn_real *x, size_t n, nn_error *err)
{
    for (size_t o = 0; o < n && g_size > 1; o += PIECE)
        if (check(MPI_Allreduce(MPI_IN_PLACE, x + o, (int)(n - o < PIECE ? n - o : PIECE),
                                MPI_REAL_T, MPI_SUM, MPI_COMM_WORLD), "the gradient all-reduce", err))
            return -1;
    return 0;
}

int nn__dist_sum_double(double *x, size_t n, nn_error *err)
{
    return g_size > 1 ? check(MPI_Allreduce(MPI_IN_PLACE, x, (int)n, MPI_DOUBLE, MPI_SUM,
                                            MPI_COMM_WORLD), "an all-reduce of numbers", err)
                      : 0;
}

int nn__dist_sum_u64(uint64_t *x, size_t n, nn_error *err)
{
    return g_size > 1 ? check(MPI_Allreduce(MPI_IN_PLACE, x, (int)n, MPI_UINT64_T, MPI_SUM,
                                            MPI_COMM_WORLD), "an all-reduce of generator states", err)
                      : 0;
}

int nn__dist_bcast_bytes(void *x, size_t n, int root, nn_error *err)
{
    return g_size > 1 ? check(MPI_Bcast(x, (int)n, MPI_BYTE, root, MPI_COMM_WORLD),
                              "the broadcast of an error", err)
                      : 0;
}

int nn__dist_bcast_real(tn_real *x, size_t n, nn_error *err)
{
    for (size_t o = 0; o < n && g_size > 1; o += PIECE)
        if (check(MPI_Bcast(x + o, (int)(n - o < PIECE ? n - o : PIECE), MPI_REAL_T, 0,
                            MPI_COMM_WORLD), "the broadcast of the weights", err))
            return -1;
    return 0;
}

#else /* one process */

int nn_dist_size(void) { return 1; }
int nn_dist_rank(void) { return 0; }
int nn__dist_sum_real(tn_real *x, size_t n, nn_error *err) { return (void)x, (void)n, (void)err, 0; }
int nn__dist_sum_double(double *x, size_t n, nn_error *err) { return (void)x, (void)n, (void)err, 0; }
int nn__dist_sum_u64(uint64_t *x, size_t n, nn_error *err) { return (void)x, (void)n, (void)err, 0; }
int nn__dist_bcast_real(tn_real *x, size_t n, nn_error *err) { return (void)x, (void)n, (void)err, 0; }
int nn__dist_bcast_bytes(void *x, size_t n, int root, nn_error *err)
{
    return (void)x, (void)n, (void)root, (void)err, 0;
}

#endif

/* One outcome for every rank (both builds; one rank: rc as it is). */
int nn__dist_sum_status(double *v, size_t n, int rc, nn_error *err)
{
    int P = nn_dist_size(), first = -1;
    if (P == 1)
        return rc;
    memset(v, 0, (size_t)P * sizeof *v);
    v[nn_dist_rank()] = rc ? 1 : 0;
    if (nn__dist_sum_double(v, (size_t)P + n, err))
        return -1;
    for (int r = 0; r < P && first < 0; r++)
        if (v[r] != 0)
            first = r;
    if (first < 0)
        return 0;
    /* the first failing rank's message to every rank: each stops with it
     * (and the job's output has it even when that rank is killed first) */
    nn_error theirs = {{0}};
    if (rc)
        theirs = *err;
    if (nn__dist_bcast_bytes(theirs.msg, sizeof theirs.msg, first, err))
        return -1;
    if (!rc) {
        theirs.msg[sizeof theirs.msg - 1] = '\0';
        nn_fail(err, "rank %d: %s", first, theirs.msg);
    }
    return -1;
}
