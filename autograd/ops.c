/* ops.c: the op table, indexed by ad_op_id. Each row is defined next to its
 * op's functions in an op_*.c file. A missing row is a compile error. */
#include "ad_internal.h"

extern const ad_op_def ad__op_add, ad__op_sub, ad__op_mul, ad__op_div,
    ad__op_exp, ad__op_log, ad__op_sqrt, ad__op_square, ad__op_neg,
    ad__op_abs, ad__op_relu, ad__op_sigmoid, ad__op_softplus, ad__op_tanh,
    ad__op_affine, ad__op_sum, ad__op_mean, ad__op_sum_axis,
    ad__op_mean_axis, ad__op_reshape, ad__op_transpose, ad__op_slice,
    ad__op_concat, ad__op_matmul, ad__op_linear, ad__op_bce_logits, ad__op_bce_logits_rows,
    ad__op_kl_normal, ad__op_sample_normal, ad__op_pow, ad__op_clamp,
    ad__op_leaky_relu, ad__op_elu, ad__op_minimum, ad__op_maximum,
    ad__op_max_axis, ad__op_logsumexp, ad__op_softmax, ad__op_log_softmax,
    ad__op_kl_categorical, ad__op_gumbel_softmax, ad__op_repeat,
    ad__op_gather_rows, ad__op_conv2d, ad__op_conv_transpose2d,
    ad__op_sample_normal_eps, ad__op_gaussian_logp, ad__op_dropout;

/* A leaf has no inputs: it is never on the tape, so nothing calls these. */
static const char *leaf_shape(ad_var *v) { (void)v; return "a leaf is not an op"; }
static void leaf_pass(ad_var *v) { (void)v; }
static const ad_op_def ad__op_leaf = {"leaf", 0, leaf_shape, leaf_pass, leaf_pass};

const ad_op_def *const ad_ops[] = {
    [AD_OP_LEAF] = &ad__op_leaf,
    [AD_OP_ADD] = &ad__op_add,
    [AD_OP_SUB] = &ad__op_sub,
    [AD_OP_MUL] = &ad__op_mul,
    [AD_OP_DIV] = &ad__op_div,
    [AD_OP_EXP] = &ad__op_exp,
    [AD_OP_LOG] = &ad__op_log,
    [AD_OP_SQRT] = &ad__op_sqrt,
    [AD_OP_SQUARE] = &ad__op_square,
    [AD_OP_NEG] = &ad__op_neg,
    [AD_OP_ABS] = &ad__op_abs,
    [AD_OP_RELU] = &ad__op_relu,
    [AD_OP_SIGMOID] = &ad__op_sigmoid,
    [AD_OP_SOFTPLUS] = &ad__op_softplus,
    [AD_OP_TANH] = &ad__op_tanh,
    [AD_OP_AFFINE] = &ad__op_affine,
    [AD_OP_POW] = &ad__op_pow,
    [AD_OP_CLAMP] = &ad__op_clamp,
    [AD_OP_LEAKY_RELU] = &ad__op_leaky_relu,
    [AD_OP_ELU] = &ad__op_elu,
    [AD_OP_MINIMUM] = &ad__op_minimum,
    [AD_OP_MAXIMUM] = &ad__op_maximum,
    [AD_OP_SUM] = &ad__op_sum,
    [AD_OP_MEAN] = &ad__op_mean,
    [AD_OP_SUM_AXIS] = &ad__op_sum_axis,
    [AD_OP_MEAN_AXIS] = &ad__op_mean_axis,
    [AD_OP_MAX_AXIS] = &ad__op_max_axis,
    [AD_OP_LOGSUMEXP] = &ad__op_logsumexp,
    [AD_OP_SOFTMAX] = &ad__op_softmax,
    [AD_OP_LOG_SOFTMAX] = &ad__op_log_softmax,
    [AD_OP_KL_CATEGORICAL] = &ad__op_kl_categorical,
    [AD_OP_GUMBEL_SOFTMAX] = &ad__op_gumbel_softmax,
    [AD_OP_RESHAPE] = &ad__op_reshape,
    [AD_OP_TRANSPOSE] = &ad__op_transpose,
    [AD_OP_SLICE] = &ad__op_slice,
    [AD_OP_CONCAT] = &ad__op_concat,
    [AD_OP_REPEAT] = &ad__op_repeat,
    [AD_OP_GATHER_ROWS] = &ad__op_gather_rows,
    [AD_OP_MATMUL] = &ad__op_matmul,
    [AD_OP_LINEAR] = &ad__op_linear,
    [AD_OP_CONV2D] = &ad__op_conv2d,
    [AD_OP_CONV_TRANSPOSE2D] = &ad__op_conv_transpose2d,
    [AD_OP_BCE_LOGITS] = &ad__op_bce_logits,
    [AD_OP_BCE_LOGITS_ROWS] = &ad__op_bce_logits_rows,
    [AD_OP_KL_NORMAL] = &ad__op_kl_normal,
    [AD_OP_SAMPLE_NORMAL] = &ad__op_sample_normal,
    [AD_OP_SAMPLE_NORMAL_EPS] = &ad__op_sample_normal_eps,
    [AD_OP_GAUSSIAN_LOGP] = &ad__op_gaussian_logp,
    [AD_OP_DROPOUT] = &ad__op_dropout,
};

_Static_assert(sizeof ad_ops / sizeof ad_ops[0] == AD_OP_COUNT,
               "ad_ops needs exactly one row per ad_op_id");
