#define _POSIX_C_SOURCE 200809L
/* test_tensor.c: tensor/ kernels against hand-computed numbers and against
 * the naive matmul reference. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "tn_blas.h"
#include "tn_ref.h"
#include "tn_math.h"

#define SHAPE(...) ((const size_t[]){__VA_ARGS__})
#define VALS(...) ((const double[]){__VA_ARGS__})

void test_tensor_new_and_wrap(void)
{
    long allocs = test_allocs;
    tn_tensor *t = tn_new(3, SHAPE(2, 3, 4));
    CHECK(test_allocs == allocs + 1); /* the counter sees the library's allocations */
    CHECK(t && t->size == 24 && t->ndim == 3);
    CHECK(((uintptr_t)t->data & 63) == 0);
    for (size_t i = 0; t && i < t->size; i++)
        CHECK(t->data[i] == 0);
    tn_free(t);
    CHECK(tn_new(5, SHAPE(1, 1, 1, 1, 1)) == NULL);
    CHECK(tn_new(2, SHAPE(SIZE_MAX / 2, 4)) == NULL); /* overflow */
    tn_tensor *s = tn_new(0, NULL);
    CHECK(s && s->size == 1);
    tn_free(s);
    tn_real buf[6] = {1, 2, 3, 4, 5, 6};
    tn_tensor w = tn_wrap(buf, 2, SHAPE(2, 3));
    CHECK(w.data == buf && w.size == 6 && w.shape[1] == 3);
}

void test_arena_reuse(void)
{
    tn_arena *a = tn_arena_new(1024);
    for (int step = 0; step < 3; step++) {
        tn_tensor *x = tn_arena_tensor(a, 2, SHAPE(10, 10));
        tn_tensor *y = tn_arena_tensor(a, 2, SHAPE(100, 100)); /* > a block */
        CHECK(x && y && x->size == 100 && y->size == 10000);
        CHECK(((uintptr_t)y->data & 63) == 0);
        for (size_t i = 0; y && i < y->size; i++)
            if (y->data[i] != 0) {
                CHECK(y->data[i] == 0); /* reset memory is zeroed again */
                break;
            }
        if (y)
            tn_fill(y, 7);
        if (step == 0)
            CHECK(tn_arena_block_allocs(a) >= 2);
        size_t allocs = tn_arena_block_allocs(a);
        tn_arena_reset(a);
        CHECK(tn_arena_used(a) == 0);
        if (step > 0)
            CHECK(tn_arena_block_allocs(a) == allocs);
    }
    CHECK(tn_arena_capacity(a) >= 10000 * sizeof(tn_real));
    tn_arena_free(a);
}

void test_shape_str(void)
{
    char buf[64];
    tn_tensor t = tn_wrap(NULL, 2, SHAPE(128, 784));
    CHECK(strcmp(tn_shape_str(&t, buf, sizeof buf), "128x784") == 0);
    tn_tensor s = tn_wrap(NULL, 0, NULL);
    CHECK(strcmp(tn_shape_str(&s, buf, sizeof buf), "scalar") == 0);
}

/* max |C - R| over m x n */
static double worst_diff(const tn_tensor *C, const tn_tensor *R)
{
    double w = 0;
    for (size_t i = 0; i < C->size; i++)
        w = fmax(w, fabs(C->data[i] - R->data[i]));
    return w;
}

/* Every combination of transposes, odd sizes, BLIS against the loops. */
void test_matmul_matches_reference(void)
{
    const size_t m = 7, k = 13, n = 5;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            tn_tensor *A = test_random(2, ta ? SHAPE(k, m) : SHAPE(m, k), -1, 1, 1);
            tn_tensor *B = test_random(2, tb ? SHAPE(n, k) : SHAPE(k, n), -1, 1, 2);
            tn_tensor *C = tn_new(2, SHAPE(m, n)), *R = tn_new(2, SHAPE(m, n));
            CHECK(tn_matmul(C, A, ta, B, tb, 1, 0) == TN_OK);
            CHECK(tn__matmul_ref(R, A, ta, B, tb, 1, 0) == TN_OK);
            CHECK(worst_diff(C, R) < (sizeof(tn_real) == 8 ? 1e-12 : 1e-5));
            tn_free(A), tn_free(B), tn_free(C), tn_free(R);
        }
    /* hand-computed: [1 2; 3 4]·[5 6; 7 8] = [19 22; 43 50] */
    tn_tensor *A = test_tensor(2, SHAPE(2, 2), VALS(1, 2, 3, 4));
    tn_tensor *B = test_tensor(2, SHAPE(2, 2), VALS(5, 6, 7, 8));
    tn_tensor *C = tn_new(2, SHAPE(2, 2));
    tn_matmul(C, A, 0, B, 0, 1, 0);
    CHECK(C->data[0] == 19 && C->data[1] == 22 && C->data[2] == 43 && C->data[3] == 50);
    tn_matmul(C, A, 1, B, 0, 1, 0); /* Aᵀ·B = [26 30; 38 44] */
    CHECK(C->data[0] == 26 && C->data[1] == 30 && C->data[2] == 38 && C->data[3] == 44);
    tn_free(A), tn_free(B), tn_free(C);
}

/* tn_matmul's way a shape through BLIS (tensor/tn_blas.h): a shape the
 * cache file says to run packed runs packed, and right; a shape met first
 * is timed once, written to the file, and keeps its way (the same bits
 * again); C added to comes through the timing intact; a small shape is
 * not timed. In a cache folder of the test's own. */
void test_matmul_plans(void)
{
    char dir[4096], path[4200], line[1024], *env[2] = {NULL, NULL};
    const char *names[2] = {"XDG_CACHE_HOME", "TAPE_KERNELS_CACHE"};
    for (int i = 0; i < 2; i++)
        env[i] = getenv(names[i]) ? strdup(getenv(names[i])) : NULL;
    setenv("XDG_CACHE_HOME", test_tmp_path("plans_cache", dir, sizeof dir), 1);
    unsetenv("TAPE_KERNELS_CACHE");
    int shapes0, packed0, shapes, packed;
    tn_blas_plans(&shapes0, &packed0);
    /* 203 x 211 x 201 (8.6M multiply-adds), ta 0, tb 1: packed, says the file */
    const size_t m = 203, n = 211, k = 201;
    CHECK(tn__cache_path(path, sizeof path, "products") == 0);
    FILE *f = fopen(path, "a");
    CHECK(f != NULL);
    if (f) {
        fprintf(f, "%s|%s|%s|%zu|%zu|%zu|0|1|0 1 9.0 1.0 2 5.0 0.5\n", tn_cpu_name(), tn_blas_config(), TN_REAL_NAME, m,
                n, k);
        fclose(f);
    }
    double tol = sizeof(tn_real) == 8 ? 1e-11 : 1e-4;
    tn_tensor *A = test_random(2, SHAPE(m, k), -1, 1, 1), *B = test_random(2, SHAPE(n, k), -1, 1, 2);
    tn_tensor *C = tn_new(2, SHAPE(m, n)), *R = tn_new(2, SHAPE(m, n));
    CHECK(tn_matmul(C, A, 0, B, 1, 1, 0) == TN_OK && tn__matmul_ref(R, A, 0, B, 1, 1, 0) == TN_OK);
    CHECK(worst_diff(C, R) < tol);
    tn_blas_plans(&shapes, &packed);
    CHECK(shapes == shapes0 + 1 && packed == packed0 + 1);
    tn_free(A), tn_free(B), tn_free(C), tn_free(R);
    /* 197 x 223 x 199, ta 1, tb 0, C += A·B: timed, then on file; a line
     * of the older form for it (one thread's times only) passed over */
    const size_t m2 = 197, n2 = 223, k2 = 199;
    f = fopen(path, "a");
    CHECK(f != NULL);
    if (f) {
        fprintf(f, "%s|%s|%s|%zu|%zu|%zu|1|0|1 1 9.0 1.0\n", tn_cpu_name(), tn_blas_config(), TN_REAL_NAME, m2, n2, k2);
        fclose(f);
    }
    A = test_random(2, SHAPE(k2, m2), -1, 1, 3), B = test_random(2, SHAPE(k2, n2), -1, 1, 4);
    tn_tensor *C0 = test_random(2, SHAPE(m2, n2), -1, 1, 5);
    C = tn_new(2, SHAPE(m2, n2)), R = tn_new(2, SHAPE(m2, n2));
    tn_tensor *again = tn_new(2, SHAPE(m2, n2));
    tn_copy(C, C0), tn_copy(R, C0), tn_copy(again, C0);
    CHECK(tn_matmul(C, A, 1, B, 0, 1, 1) == TN_OK && tn__matmul_ref(R, A, 1, B, 0, 1, 1) == TN_OK);
    CHECK(worst_diff(C, R) < tol);
    CHECK(tn_matmul(again, A, 1, B, 0, 1, 1) == TN_OK);
    CHECK(memcmp(again->data, C->data, C->size * sizeof *C->data) == 0);
    tn_blas_plans(&shapes, &packed);
    CHECK(shapes == shapes0 + 2);
    char want[64];
    snprintf(want, sizeof want, "|%s|%zu|%zu|%zu|1|0|1 ", TN_REAL_NAME, m2, n2, k2);
    int found = 0, timed = 0;
    f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f)) {
        const char *at = strstr(line, want);
        int packed2, threads;
        double t[4];
        found += at != NULL;
        /* the new line: the way, the times on one thread, the thread count and the times on it */
        timed += at && sscanf(at + strlen(want), "%d %lf %lf %d %lf %lf", &packed2, &t[0], &t[1], &threads, &t[2],
                              &t[3]) == 6 && threads >= 1 && t[0] > 0 && t[3] > 0;
    }
    if (f)
        fclose(f);
    CHECK(found == 2 && timed == 1);
    tn_free(A), tn_free(B), tn_free(C), tn_free(R), tn_free(C0), tn_free(again);
    /* the file a link: a new shape is timed and kept, the link left as it is */
    char target[4300];
    snprintf(target, sizeof target, "%s.target", path);
    f = fopen(target, "w");
    if (f)
        fputs("x\n", f), fclose(f);
    CHECK(remove(path) == 0 && symlink(target, path) == 0);
    A = test_random(2, SHAPE(211, 199), -1, 1, 8), B = test_random(2, SHAPE(199, 203), -1, 1, 9);
    C = tn_new(2, SHAPE(211, 203));
    CHECK(tn_matmul(C, A, 0, B, 0, 1, 0) == TN_OK);
    tn_blas_plans(&shapes, &packed);
    CHECK(shapes == shapes0 + 3);
    struct stat st;
    f = fopen(target, "r");
    CHECK(lstat(path, &st) == 0 && S_ISLNK(st.st_mode) && f && fgets(line, sizeof line, f) &&
          !strcmp(line, "x\n") && !fgets(line, sizeof line, f));
    if (f)
        fclose(f);
    tn_free(A), tn_free(B), tn_free(C);
    /* 40 x 40 x 40: too small to time */
    A = test_random(2, SHAPE(40, 40), -1, 1, 6), B = test_random(2, SHAPE(40, 40), -1, 1, 7);
    C = tn_new(2, SHAPE(40, 40));
    CHECK(tn_matmul(C, A, 0, B, 0, 1, 0) == TN_OK);
    tn_blas_plans(&shapes, &packed);
    CHECK(shapes == shapes0 + 3);
    tn_free(A), tn_free(B), tn_free(C);
    for (int i = 0; i < 2; i++) {
        if (env[i])
            setenv(names[i], env[i], 1);
        else
            unsetenv(names[i]);
        free(env[i]);
    }
}

void test_matmul_alpha_beta(void)
{
    tn_tensor *A = test_tensor(2, SHAPE(1, 2), VALS(1, 2));
    tn_tensor *B = test_tensor(2, SHAPE(2, 1), VALS(3, 4));
    tn_tensor *C = test_tensor(2, SHAPE(1, 1), VALS(10));
    tn_tensor *R = test_tensor(2, SHAPE(1, 1), VALS(10));
    CHECK(tn_matmul(C, A, 0, B, 0, 2, 1) == TN_OK);     /* 2·11 + 10 */
    CHECK(tn__matmul_ref(R, A, 0, B, 0, 2, 1) == TN_OK);
    CHECK(C->data[0] == 32 && R->data[0] == 32);
    C->data[0] = NAN;
    tn_matmul(C, A, 0, B, 0, 1, 0); /* beta 0 ignores C, even NaN */
    CHECK(C->data[0] == 11);
    tn_free(A), tn_free(B), tn_free(C), tn_free(R);
}

void test_matmul_bad_shapes(void)
{
    tn_tensor *A = tn_new(2, SHAPE(3, 4)), *B = tn_new(2, SHAPE(5, 2));
    tn_tensor *C = tn_new(2, SHAPE(3, 2)), *V = tn_new(1, SHAPE(4));
    CHECK(tn_matmul(C, A, 0, B, 0, 1, 0) == TN_ESHAPE);
    CHECK(tn__matmul_ref(C, A, 0, B, 0, 1, 0) == TN_ESHAPE);
    CHECK(tn_matmul(C, V, 0, B, 0, 1, 0) == TN_ESHAPE);
    tn_free(A), tn_free(B), tn_free(C), tn_free(V);
}

void test_broadcast_values(void)
{
    tn_tensor *a = test_tensor(2, SHAPE(2, 3), VALS(1, 2, 3, 4, 5, 6));
    tn_tensor *row = test_tensor(1, SHAPE(3), VALS(10, 20, 30));
    tn_tensor *col = test_tensor(2, SHAPE(2, 1), VALS(100, 200));
    tn_tensor *s = test_tensor(0, NULL, VALS(2));
    tn_tensor *o = tn_new(2, SHAPE(2, 3));
    CHECK(tn_add(o, a, row) == TN_OK);
    CHECK(o->data[0] == 11 && o->data[5] == 36);
    CHECK(tn_sub(o, a, col) == TN_OK);
    CHECK(o->data[0] == -99 && o->data[3] == -196);
    CHECK(tn_mul(o, s, a) == TN_OK);
    CHECK(o->data[2] == 6 && o->data[5] == 12);
    CHECK(tn_div(o, a, s) == TN_OK);
    CHECK(o->data[1] == 1 && o->data[4] == 2.5);
    /* (2x1) + (3) -> (2x3): outer sum */
    CHECK(tn_add(o, col, row) == TN_OK);
    CHECK(o->data[0] == 110 && o->data[5] == 230);
    /* 3-d against 2-d */
    tn_tensor *c = test_random(3, SHAPE(4, 2, 3), -1, 1, 3);
    tn_tensor *o3 = tn_new(3, SHAPE(4, 2, 3));
    CHECK(tn_mul(o3, c, a) == TN_OK);
    CHECK(o3->data[3 * 6 + 4] == c->data[3 * 6 + 4] * 5);
    tn_free(a), tn_free(row), tn_free(col), tn_free(s), tn_free(o);
    tn_free(c), tn_free(o3);
}

void test_broadcast_errors(void)
{
    tn_tensor *a = tn_new(2, SHAPE(2, 3)), *b = tn_new(1, SHAPE(2));
    tn_tensor *o = tn_new(2, SHAPE(2, 3)), *wrong = tn_new(2, SHAPE(3, 3));
    int nd;
    size_t sh[TN_MAX_DIMS];
    CHECK(tn_broadcast_shape(a, b, &nd, sh) == TN_ESHAPE);
    CHECK(tn_add(o, a, b) == TN_ESHAPE);
    CHECK(tn_add(wrong, a, a) == TN_ESHAPE);
    tn_free(a), tn_free(b), tn_free(o), tn_free(wrong);
}

void test_sum_to_acc(void)
{
    tn_tensor *g = test_tensor(2, SHAPE(2, 3), VALS(1, 2, 3, 4, 5, 6));
    tn_tensor *row = test_tensor(1, SHAPE(3), VALS(1, 1, 1));
    tn_tensor *col = tn_new(2, SHAPE(2, 1)), *s = tn_new(0, NULL);
    CHECK(tn_sum_to_acc(row, g, 1) == TN_OK);
    CHECK(row->data[0] == 6 && row->data[1] == 8 && row->data[2] == 10);
    CHECK(tn_sum_to_acc(col, g, -1) == TN_OK);
    CHECK(col->data[0] == -6 && col->data[1] == -15);
    CHECK(tn_sum_to_acc(s, g, 2) == TN_OK);
    CHECK(s->data[0] == 42);
    tn_tensor *bad = tn_new(1, SHAPE(2));
    CHECK(tn_sum_to_acc(bad, g, 1) == TN_ESHAPE);
    tn_free(g), tn_free(row), tn_free(col), tn_free(s), tn_free(bad);
}

void test_unary_values(void)
{
    tn_tensor *x = test_tensor(1, SHAPE(4), VALS(-2, 0, 1, 4));
    tn_tensor *o = tn_new(1, SHAPE(4));
    tn_exp(o, x);
    CHECK_NEAR(o->data[2], 2.718281828459045, VAL_TOL * 3);
    CHECK_NEAR(o->data[0], 0.1353352832366127, VAL_TOL);
    tn_sqrt(o, x);
    CHECK(o->data[3] == 2);
    tn_square(o, x);
    CHECK(o->data[0] == 4 && o->data[3] == 16);
    tn_neg(o, x);
    CHECK(o->data[0] == 2 && o->data[3] == -4);
    tn_abs(o, x);
    CHECK(o->data[0] == 2 && o->data[2] == 1);
    tn_relu(o, x);
    CHECK(o->data[0] == 0 && o->data[1] == 0 && o->data[3] == 4);
    tn_sigmoid(o, x);
    CHECK_NEAR(o->data[1], 0.5, VAL_TOL);
    CHECK_NEAR(o->data[0], 0.11920292202211755, VAL_TOL);
    tn_softplus(o, x);
    CHECK_NEAR(o->data[1], 0.6931471805599453, VAL_TOL);
    CHECK_NEAR(o->data[3], 4.0181499279178094, VAL_TOL * 4);
    tn_tanh(o, x);
    CHECK_NEAR(o->data[2], 0.7615941559557649, VAL_TOL);
    tn_tensor *p = test_tensor(1, SHAPE(2), VALS(1, 2.718281828459045));
    tn_log(p, p); /* in place */
    CHECK_NEAR(p->data[0], 0, VAL_TOL);
    CHECK_NEAR(p->data[1], 1, VAL_TOL);
    tn_tensor *short1 = tn_new(1, SHAPE(3));
    CHECK(tn_exp(short1, x) == TN_ESHAPE);
    tn_free(x), tn_free(o), tn_free(p), tn_free(short1);
}

void test_sigmoid_softplus_stable(void)
{
    tn_tensor *x = test_tensor(1, SHAPE(4), VALS(-1000, -80, 80, 1000));
    tn_tensor *o = tn_new(1, SHAPE(4));
    tn_sigmoid(o, x);
    CHECK(o->data[0] == 0 && o->data[3] == 1);
    CHECK(isfinite(o->data[1]) && o->data[1] >= 0 && o->data[1] < 1e-30);
    tn_softplus(o, x);
    CHECK(o->data[0] == 0 && o->data[3] == 1000 && o->data[2] == 80);
    CHECK(isfinite(o->data[1]) && o->data[1] >= 0);
    tn_free(x), tn_free(o);
}

void test_affine_axpy(void)
{
    tn_tensor *x = test_tensor(1, SHAPE(3), VALS(1, 2, 3));
    tn_tensor *y = test_tensor(1, SHAPE(3), VALS(1, 1, 1));
    tn_affine(y, x, 2, 1);
    CHECK(y->data[0] == 3 && y->data[2] == 7);
    tn_axpy(y, -1, x);
    CHECK(y->data[0] == 2 && y->data[2] == 4);
    tn_free(x), tn_free(y);
}

void test_reductions(void)
{
    /* x (2x3x2) = 0..11 */
    double v[12];
    for (int i = 0; i < 12; i++)
        v[i] = i;
    tn_tensor *x = test_tensor(3, SHAPE(2, 3, 2), v);
    CHECK(tn_sum_all(x) == 66);
    CHECK(tn_mean_all(x) == 5.5);
    tn_tensor *o = tn_new(2, SHAPE(2, 2));
    CHECK(tn_sum_axis(o, x, 1) == TN_OK); /* [[0+2+4, 1+3+5], [6+8+10, ...]] */
    CHECK(o->data[0] == 6 && o->data[1] == 9 && o->data[2] == 24 && o->data[3] == 27);
    CHECK(tn_mean_axis(o, x, 1) == TN_OK);
    CHECK(o->data[0] == 2 && o->data[3] == 9);
    tn_tensor *o2 = tn_new(2, SHAPE(2, 3));
    CHECK(tn_sum_axis(o2, x, -1) == TN_OK);
    CHECK(o2->data[0] == 1 && o2->data[5] == 21);
    CHECK(tn_sum_axis(o2, x, 3) == TN_EARG);
    CHECK(tn_sum_axis(o, x, 0) == TN_ESHAPE); /* out should be 3x2 */
    tn_free(x), tn_free(o), tn_free(o2);
}

void test_reshape_transpose(void)
{
    tn_tensor *x = test_tensor(2, SHAPE(2, 3), VALS(1, 2, 3, 4, 5, 6));
    CHECK(tn_reshape(x, 3, SHAPE(3, 1, 2)) == TN_OK && x->shape[0] == 3);
    CHECK(tn_reshape(x, 2, SHAPE(4, 2)) == TN_ESHAPE);
    tn_reshape(x, 2, SHAPE(2, 3));
    tn_tensor *t = tn_new(2, SHAPE(3, 2));
    CHECK(tn_transpose(t, x) == TN_OK);
    CHECK(t->data[0] == 1 && t->data[1] == 4 && t->data[2] == 2 && t->data[5] == 6);
    CHECK(tn_transpose(t, t) == TN_ESHAPE); /* no in-place */
    tn_tensor *c = tn_new(2, SHAPE(2, 3));
    CHECK(tn_copy(c, x) == TN_OK && c->data[4] == 5);
    tn_fill(c, 3);
    CHECK(c->data[0] == 3 && c->data[5] == 3);
    tn_free(x), tn_free(t), tn_free(c);
}

void test_slice_concat(void)
{
    tn_tensor *x = test_tensor(2, SHAPE(2, 4), VALS(1, 2, 3, 4, 5, 6, 7, 8));
    tn_tensor *a = tn_new(2, SHAPE(2, 1)), *b = tn_new(2, SHAPE(2, 3));
    CHECK(tn_slice_last(a, x, 2) == TN_OK);
    CHECK(a->data[0] == 3 && a->data[1] == 7);
    CHECK(tn_slice_last(b, x, 1) == TN_OK);
    CHECK(b->data[0] == 2 && b->data[5] == 8);
    CHECK(tn_slice_last(b, x, 2) == TN_EARG);
    tn_tensor *c = tn_new(2, SHAPE(2, 4));
    CHECK(tn_concat_last(c, a, b) == TN_OK);
    CHECK(c->data[0] == 3 && c->data[1] == 2 && c->data[4] == 7 && c->data[7] == 8);
    tn_tensor *bad = tn_new(2, SHAPE(2, 5));
    CHECK(tn_concat_last(bad, a, b) == TN_ESHAPE);
    tn_free(x), tn_free(a), tn_free(b), tn_free(c), tn_free(bad);
}

void test_threads_setting(void)
{
    int before = tn_get_threads();
    tn_set_threads(2);
    CHECK(tn_get_threads() == 2);
    /* results of a large matmul do not depend on the thread count by more
     * than rounding */
    tn_tensor *A = test_random(2, SHAPE(64, 300), -1, 1, 4);
    tn_tensor *B = test_random(2, SHAPE(300, 50), -1, 1, 5);
    tn_tensor *C1 = tn_new(2, SHAPE(64, 50)), *C2 = tn_new(2, SHAPE(64, 50));
    tn_matmul(C2, A, 0, B, 0, 1, 0);
    tn_set_threads(1);
    CHECK(tn_get_threads() == 1);
    tn_matmul(C1, A, 0, B, 0, 1, 0);
    double worst = 0;
    for (size_t i = 0; i < C1->size; i++)
        worst = fmax(worst, fabs(C1->data[i] - C2->data[i]));
    CHECK(worst < 1e-3);
    tn_set_threads(before);
    tn_free(A), tn_free(B), tn_free(C1), tn_free(C2);
}

/* BLIS's kernels: once BLIS runs (the tests before this one used it), its
 * choice is made; tn_blas_avx512 then only reports whether it runs the
 * AVX-512 ones, names them as tn_blas_config does, and leaves no
 * BLIS_ARCH_TYPE behind. (Choosing them before BLIS's first call: the CLI
 * test, kernels_avx512.) */
void test_blas_kernels(void)
{
    const char *before = getenv("BLIS_ARCH_TYPE");
    const char *name = tn_blas_config();
    CHECK(name != NULL && name[0] != 0);
    int skx = tn_blas_avx512();
    CHECK(skx == (strcmp(tn_blas_config(), "skx") == 0));
    CHECK(strcmp(tn_blas_config(), name) == 0); /* made once */
    CHECK(tn_blas_kernels("fast", 128) == -1);
    CHECK(tn_blas_kernels("blis", 128) == 0 && tn_blas_kernels("auto", 16) == 0);
    CHECK(strcmp(tn_blas_config(), name) == 0);
    CHECK((getenv("BLIS_ARCH_TYPE") == NULL) == (before == NULL));
}

/* Denormals flushed to zero in the calling thread and in the OpenMP pool's
 * threads (where BLIS and the loops compute), and restored. */
void test_flush_denormals(void)
{
#if defined(__SSE__) || defined(__x86_64__)
    volatile float tiny = 1e-30f, scale = 1e-10f; /* the product, 1e-40, is denormal */
    int zero[64] = {0}, n = 0;
    tn_set_threads(2);
    tn_flush_denormals(1);
    CHECK(tiny * scale == 0);
#pragma omp parallel
    {
#pragma omp critical
        if (n < 64)
            zero[n++] = tiny * scale == 0;
    }
    for (int i = 0; i < n; i++)
        CHECK(zero[i]);
    tn_flush_denormals(0);
    CHECK(tiny * scale != 0);
#else
    SKIP("flushing denormals is x86 only");
#endif
}

/* tn_load_others: the first call primes; this process's own CPU time is not
 * counted (a spinning thread here is not "other processes"); a child's is.
 * Measured against the machine's load at the time (a quiet interval first). */
static void spin_for(double seconds)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    volatile double x = 0;
    do {
        for (int i = 0; i < 100000; i++)
            x += 1e-9;
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((double)(t.tv_sec - t0.tv_sec) + 1e-9 * (double)(t.tv_nsec - t0.tv_nsec) < seconds);
}

void test_load_others(void)
{
    tn_load l = {0};
    CHECK(tn_load_others(&l) == -1);
    CHECK(tn_cores() >= 1);
    /* another process may start or stop between two readings (the CI
     * machine is shared): up to 3 attempts, each against the load just
     * before it; a wrong count fails all three */
    double base = 0, mine = 0, theirs = 0;
    for (int attempt = 0; attempt < 3; attempt++) {
        nanosleep(&(struct timespec){0, 300000000}, NULL);
        tn_load_others(&l);
        nanosleep(&(struct timespec){0, 300000000}, NULL);
        base = tn_load_others(&l); /* whatever else runs now */
        CHECK(base >= 0);
        if (base > tn_cores() - 1.3) { /* no free core: our spinning would take theirs */
            printf("    the machine is busy (%.1f of %d cores): not measured\n", base, tn_cores());
            test_skipped = 1;
            return;
        }
        spin_for(0.3);
        mine = tn_load_others(&l); /* our own busy second is not theirs */
        pid_t child = fork();
        if (child == 0) {
            spin_for(0.4);
            _exit(0);
        }
        CHECK(child > 0);
        int status;
        waitpid(child, &status, 0);
        theirs = tn_load_others(&l);
        if (fabs(mine - base) <= 0.45 && fabs(theirs - base - 1.0) <= 0.45)
            break;
        printf("    attempt %d: others %.2f, with our spinning %.2f, with a child's %.2f\n", attempt + 1,
               base, mine, theirs);
    }
    CHECK_NEAR(mine, base, 0.45);
    CHECK_NEAR(theirs - base, 1.0, 0.45);
}

/* tn_math.h's vectorizable float exp and log (the float build's BCE uses
 * them) against libm in double: within 3 ulp over their whole ranges;
 * σ and softplus, built from them, within 4.1 and 5.1. */
static double ulps(float got, double want)
{
    float w = (float)want;
    return fabs((double)got - want) / (double)(nextafterf(fabsf(w), INFINITY) - fabsf(w));
}

void test_fast_exp_log(void)
{
    double worst_e = 0, worst_l = 0;
    for (float x = -87.0f; x <= 88.0f; x += 3e-4f) /* its domain, x <= 0, and to 88 */
        worst_e = fmax(worst_e, ulps(tn_exp_neg(x), exp((double)x)));
    for (float e = 1e-30f; e <= 1.0f; e = e < 1e-6f ? e * 1.001f : e + 1e-6f)
        worst_l = fmax(worst_l, ulps(tn_log1p_01(e), log1p((double)e)));
    double worst_g = 0; /* log p, p >= 1: over the products BCE takes, [1, 256], and beyond */
    for (float p = 1.0f; p <= 1e6f; p *= 1.0000173f)
        worst_g = fmax(worst_g, ulps(tn_log_ge1(p), log((double)p)));
    double worst_t = 0; /* tanh, both signs, through both branches and its saturation */
    for (float x = 1e-30f; x <= 12.0f; x = x < 1e-3f ? x * 1.001f : x + 3e-6f) {
        worst_t = fmax(worst_t, ulps(tn_tanh_f(x), tanh((double)x)));
        worst_t = fmax(worst_t, ulps(tn_tanh_f(-x), tanh(-(double)x)));
    }
    CHECK(tn_tanh_f(0) == 0 && tn_tanh_f(40) == 1 && tn_tanh_f(-40) == -1 && isnan(tn_tanh_f(NAN)));
    printf("    worst: tanh %.2f ulp\n", worst_t);
    CHECK(worst_e <= 3 && worst_l <= 3 && worst_g <= 3 && worst_t <= 3);
    /* σ and softplus (the float build's unary ops), both signs, down to where
     * e^x leaves the normal floats */
    double worst_s = 0, worst_p = 0;
    for (float x = -87.0f; x <= 87.0f; x += 1.7e-4f) {
        worst_s = fmax(worst_s, ulps(tn_sigmoid_f(x), 1 / (1 + exp(-(double)x))));
        worst_p = fmax(worst_p, ulps(tn_softplus_f(x), log1p(exp((double)x))));
    }
    printf("    worst: sigmoid %.2f ulp, softplus %.2f ulp\n", worst_s, worst_p);
    CHECK(worst_s <= 4.1 && worst_p <= 5.1); /* every float in [-87, 87], once: 4.01, 5.03 */
    CHECK(tn_sigmoid_f(0) == 0.5f && tn_sigmoid_f(INFINITY) == 1 && tn_sigmoid_f(-INFINITY) == 0);
    CHECK(isnan(tn_sigmoid_f(NAN)) && isnan(tn_softplus_f(NAN)));
    CHECK(tn_softplus_f(INFINITY) == INFINITY && tn_softplus_f(-INFINITY) == 0);
    CHECK(tn_exp_neg(0) == 1 && tn_exp_neg(-90) == 0 && tn_log1p_01(0) == 0 && tn_log_ge1(1) == 0);
    CHECK(tn_exp_neg(NAN) == 0 && tn_exp_neg(-INFINITY) == 0 && tn_exp_neg(-87.3f) == 0);
    CHECK(isnan(tn_exp_le0(NAN)) && tn_exp_le0(-INFINITY) == 0 && tn_exp_le0(0) == 1);
    /* above 88 a wrong value but no undefined behaviour: the sanitizer build
     * (float-cast-overflow among its checks) runs these */
    volatile float big[] = {89.0f, 1e30f, INFINITY}, sink = 0;
    for (int i = 0; i < 3; i++)
        sink += tn_exp_neg(big[i]);
    (void)sink;
    printf("    worst: exp %.2f ulp, log1p %.2f ulp, log %.2f ulp\n", worst_e, worst_l, worst_g);
    /* e^x over the whole float range (the Gaussian density's e^-log σ²),
     * up to the last x whose e^x is finite */
    double worst_f = 0;
    for (float x = -87.0f; x <= 88.72f; x += 2.3e-4f)
        worst_f = fmax(worst_f, ulps(tn_exp_f(x), exp((double)x)));
    float top = 88.7228317f;
    worst_f = fmax(worst_f, ulps(tn_exp_f(top), exp((double)top)));
    printf("    worst: exp over [-87, 88.72] %.2f ulp\n", worst_f);
    CHECK(worst_f <= 3 && isfinite(tn_exp_f(top)) && isinf(tn_exp_f(nextafterf(top, INFINITY))));
    CHECK(tn_exp_f(0) == 1 && tn_exp_f(-90) == 0 && tn_exp_f(INFINITY) == INFINITY);
    CHECK(tn_exp_f(-INFINITY) == 0 && isnan(tn_exp_f(NAN)) && tn_exp_f(1) == expf(1));
}

/* tn_sum_all in blocks over threads: the same bits on 1 and 2 threads, and
 * within 1e-15 (relative to Σ|x|) of a long double sum in order, on
 * tensors of one block and of many. */
void test_sum_all_blocks(void)
{
    const size_t sizes[3] = {1000, 16384 * 3 + 7, 5000000};
    int threads = tn_get_threads();
    for (int k = 0; k < 3; k++) {
        tn_tensor *x = tn_new(1, (size_t[]){sizes[k]});
        tn_rng r;
        tn_rng_seed(&r, 5, (uint64_t)k);
        tn_rng_fill_uniform(&r, x, -1, 3);
        long double want = 0, mag = 0;
        for (size_t i = 0; i < x->size; i++)
            want += x->data[i], mag += fabsl((long double)x->data[i]);
        tn_set_threads(1);
        double one = tn_sum_all(x);
        tn_set_threads(2);
        double two = tn_sum_all(x);
        CHECK(memcmp(&one, &two, sizeof one) == 0);
        CHECK(fabsl((long double)one - want) <= 1e-15L * mag);
        tn_free(x);
    }
    tn_set_threads(threads);
}
