/* ad_internal.h: what the tape and the op files share and users do not see:
 * the node layout, the op enum and the op table. Adding an op touches the
 * enum here, its three functions in an op_*.c file, its row in ops.c, its
 * constructor in ad.h and a row in tests/test_grad.c (docs/design.md). */
#ifndef AD_INTERNAL_H
#define AD_INTERNAL_H

#include "ad.h"

typedef enum {
    AD_OP_LEAF,
    /* op_elementwise.c */
    AD_OP_ADD, AD_OP_SUB, AD_OP_MUL, AD_OP_DIV,
    AD_OP_EXP, AD_OP_LOG, AD_OP_SQRT, AD_OP_SQUARE, AD_OP_NEG, AD_OP_ABS,
    AD_OP_RELU, AD_OP_SIGMOID, AD_OP_SOFTPLUS, AD_OP_TANH, AD_OP_AFFINE,
    AD_OP_POW, AD_OP_CLAMP, AD_OP_LEAKY_RELU, AD_OP_ELU,
    AD_OP_MINIMUM, AD_OP_MAXIMUM,
    /* op_reduce.c */
    AD_OP_SUM, AD_OP_MEAN, AD_OP_SUM_AXIS, AD_OP_MEAN_AXIS,
    AD_OP_MAX_AXIS, AD_OP_LOGSUMEXP,
    /* op_softmax.c */
    AD_OP_SOFTMAX, AD_OP_LOG_SOFTMAX, AD_OP_KL_CATEGORICAL, AD_OP_GUMBEL_SOFTMAX,
    /* op_shape.c */
    AD_OP_RESHAPE, AD_OP_TRANSPOSE, AD_OP_SLICE, AD_OP_CONCAT,
    AD_OP_REPEAT, AD_OP_GATHER_ROWS,
    /* op_matmul.c */
    AD_OP_MATMUL, AD_OP_LINEAR,
    /* op_conv.c */
    AD_OP_CONV2D, AD_OP_CONV_TRANSPOSE2D,
    /* op_prob.c */
    AD_OP_BCE_LOGITS, AD_OP_BCE_LOGITS_ROWS, AD_OP_KL_NORMAL, AD_OP_SAMPLE_NORMAL,
    AD_OP_SAMPLE_NORMAL_EPS, AD_OP_GAUSSIAN_LOGP, AD_OP_DROPOUT,
    AD_OP_COUNT
} ad_op_id;

/* Per-op arguments that are not inputs. */
typedef struct {
    long i[4];     /* axis, keepdim, slice start and length, transpose flags,
                      repeat count, conv stride, padding and output padding */
    double f[2];   /* scalars of affine, pow, clamp, leaky_relu, elu, dropout,
                      gumbel_softmax */
    size_t shape[TN_MAX_DIMS]; /* target of reshape */
    int ndim;
    tn_rng *rng;   /* sample_normal, gumbel_softmax, dropout */
    const int *idx; /* gather_rows: the row indices, copied into the arena */
} ad_attr;

struct ad_var {
    tn_tensor val;      /* value; data in the arena (or borrowed for leaves) */
    tn_tensor *grad;    /* NULL until backward reaches it */
    ad_tape *tape;
    ad_var *in[3];
    ad_attr attr;
    tn_tensor *saved;   /* what backward needs beyond inputs (eps of sampling) */
    ad_op_id op;
    int requires_grad;
    int is_param;
    int grad_pending;   /* a param whose gradient backward overwrites, not yet written
                           (ad_tape_write_grads): its next writer writes it fresh */
    unsigned gen;       /* the tape's generation when it was made: a variable of
                           an earlier step (before ad_tape_reset) is refused */
};

/* An op: its shape rule sets v->val.ndim/shape from v->in and v->attr and
 * returns NULL or why the shapes do not fit (a view, reshape, sets all of
 * v->val to an input's memory instead, and nothing is allocated); forward
 * writes every element of v->val (allocated, contents undefined); backward adds v->grad's contribution into the inputs'
 * gradients (ad__grad_buf gives them, NULL for inputs that need none). */
typedef struct {
    const char *name;
    int arity;
    const char *(*shape)(ad_var *v);
    void (*forward)(ad_var *v);
    void (*backward)(ad_var *v);
} ad_op_def;

/* The table, indexed by ad_op_id (ops.c); each op file defines its rows as
 * `const ad_op_def ad__op_<name>`. */
extern const ad_op_def *const ad_ops[AD_OP_COUNT];

/* Records op `op` on the inputs' tape: checks, allocates, runs forward,
 * appends. NULL (with the tape's error set) when anything fails. */
ad_var *ad__record(ad_op_id op, ad_var *a, ad_var *b, ad_var *c,
                   const ad_attr *attr);
/* The gradient buffer of an input, zero-filled on first use; NULL when that
 * input needs no gradient or memory ran out (the tape then has the error). */
tn_tensor *ad__grad_buf(ad_var *v);
/* The same for a backward that writes every element of v's gradient: when v
 * has none yet, it is allocated without zero-filling and *fresh is 1, and
 * the op writes its values (a GEMM with beta = 0) instead of adding them;
 * else *fresh is 0 and it adds. Ask for it just before writing, so that an
 * input that comes twice gets written once and added to once. */
tn_tensor *ad__grad_out(ad_var *v, int *fresh);
/* When v needs a gradient and has none yet, g's memory becomes it (in v's
 * shape, same element count; the caller never touches g again): returns 1.
 * Else 0, and the caller adds g as usual. */
int ad__grad_adopt(ad_var *v, const tn_tensor *g);
/* A scratch tensor in the tape's arena, shaped like `like`, contents
 * undefined (NULL: error set). */
tn_tensor *ad__scratch(ad_tape *t, const tn_tensor *like);

/* A buffer on the tape where a shape rule may write a reason that names
 * its arguments (valid until the next op is recorded). */
#define AD_WHY_LEN 160
char *ad__why_buf(ad_tape *t);

/* Shape rules shared by several ops. */
const char *ad__shape_same(ad_var *v);       /* output shaped as in[0] */
const char *ad__shape_same2(ad_var *v);      /* in[0], in[1] equal shapes */
const char *ad__shape_broadcast(ad_var *v);  /* numpy broadcast of all inputs */

/* For fused ops that broadcast: input k's values laid out in v's shape (its
 * own data when the sizes agree, else an expanded copy in the arena). NULL
 * when memory ran out (error set). */
const tn_real *ad__expanded(ad_var *v, int k);
/* Where backward writes input k's gradient element by element in v's shape:
 * the gradient itself when the sizes agree, else a zeroed scratch *tmp that
 * ad__grad_reduce sums back over the broadcast axes. NULL when input k needs
 * no gradient (or memory ran out). */
tn_real *ad__grad_full(ad_var *v, int k, tn_tensor **tmp);
void ad__grad_reduce(ad_var *v, int k, tn_tensor *tmp);
/* The period with which input k's values repeat along v's flat index: its
 * size when its shape is v's trailing axes (leading 1s aside: a scalar, a
 * row, the (N, d) under k samples (k, N, d)), else 0. Element i of v then
 * reads input k's element i mod the period, with no expanded copy; summing
 * its gradient there in v's order is the order ad__grad_reduce would add in
 * (op_prob.c's runs sum a scalar's over lanes first). */
size_t ad__period(const ad_var *v, int k);

/* x viewed as (outer, len, inner) around axis ax. */
void ad__axis_split(const tn_tensor *x, int ax, size_t *outer, size_t *len,
                    size_t *inner);

/* The indices an arg-max/min computed, as the tape serves them: with
 * transparent stop-gradients the first step's are recorded and every later
 * step gets them back (a gradient check holds assignments fixed). */
const int *ad__frozen_indices(ad_tape *t, int *idx, size_t n);

/* 1 while the tape is transparent (ad_set_transparent): stop-gradients pass
 * their input through. */
int ad__transparent(const ad_tape *t);

#endif
