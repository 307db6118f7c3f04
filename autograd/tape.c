/* tape.c: the tape (nodes in recording order over a per-step arena), leaves,
 * recording an op with its shape check and error message, and backward as a
 * reverse loop over the nodes. */
#include "ad_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ad_tape {
    tn_arena *arena;
    ad_var **nodes;     /* recorded ops, in order; heap, kept across resets */
    size_t len, cap;
    int grad_enabled;
    tn_real *block;     /* ad_tape_write_grads: the gradient block backward writes */
    size_t block_len;
    ad_var **params;    /* the step's params with gradients in it; heap, kept across resets */
    size_t n_params, cap_params;
    int failed;
    int anomaly;        /* ad_set_detect_anomaly: every result checked for NaN/inf */
    int transparent;    /* ad_set_transparent: detach and straight-through pass x through,
                           arg-max/min indices recorded by the first step and replayed */
    int **frozen;       /* the recorded index arrays, in call order; heap */
    size_t *frozen_n, n_frozen, cap_frozen, frozen_at;
    unsigned gen;       /* resets so far: variables carry the one they were made in */
    char error[400];
    char why[AD_WHY_LEN]; /* a shape rule's reason, see ad__why_buf */
};

char *ad__why_buf(ad_tape *t) { return t->why; }

ad_tape *ad_tape_new(size_t arena_bytes)
{
    ad_tape *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->arena = tn_arena_new(arena_bytes);
    if (!t->arena) {
        free(t);
        return NULL;
    }
    t->grad_enabled = 1;
    return t;
}

void ad_tape_free(ad_tape *t)
{
    if (!t)
        return;
    tn_arena_free(t->arena);
    free(t->nodes);
    free(t->params);
    for (size_t i = 0; i < t->n_frozen; i++)
        free(t->frozen[i]);
    free(t->frozen), free(t->frozen_n);
    free(t);
}

void ad_tape_reset(ad_tape *t)
{
    tn_arena_reset(t->arena);
    t->len = 0;
    t->n_params = 0;
    t->failed = 0;
    t->error[0] = '\0';
    t->gen++;
    t->frozen_at = 0;
}

int ad_tape_ok(const ad_tape *t) { return !t->failed; }
const char *ad_tape_error(const ad_tape *t) { return t->error; }
size_t ad_tape_len(const ad_tape *t) { return t->len; }
tn_arena *ad_tape_arena(ad_tape *t) { return t->arena; }
int ad_grad_enabled(const ad_tape *t) { return t->grad_enabled; }

void ad_tape_write_grads(ad_tape *t, tn_real *block, size_t n)
{
    t->block = block;
    t->block_len = block ? n : 0;
}

int ad_set_detect_anomaly(ad_tape *t, int on)
{
    int old = t->anomaly;
    t->anomaly = on != 0;
    return old;
}

/* With anomaly detection on: 1 when every element of x (an op's result or
 * the gradient it passed back) is finite; else the tape fails naming the
 * op, the pass, its input shapes and the first bad element. */
static int anomaly_free(ad_tape *t, const char *op, const char *pass, const ad_var *v, const tn_tensor *x,
                        ad_var *const *in, int arity)
{
    size_t i = 0;
    while (i < x->size && x->data[i] - x->data[i] == 0)
        i++;
    if (i == x->size)
        return 1;
    char shapes[256] = "", s[64];
    size_t used = 0;
    for (int k = 0; k < arity && used < sizeof shapes; k++)
        used += (size_t)snprintf(shapes + used, sizeof shapes - used, "%s(%s)", k ? ", " : "",
                                 tn_shape_str(&in[k]->val, s, sizeof s));
    ad_tape_fail(t, "anomaly: %s's %s gave %g at element %zu of (%s), inputs %s (node %zu of the tape)", op, pass,
                 (double)x->data[i], i, tn_shape_str(x, s, sizeof s), shapes, t->len);
    (void)v;
    return 0;
}

int ad_set_grad_enabled(ad_tape *t, int enabled)
{
    int old = t->grad_enabled;
    t->grad_enabled = enabled != 0;
    return old;
}

/* Keeps the first error only. */
void ad_tape_fail(ad_tape *t, const char *fmt, ...)
{
    if (t->failed)
        return;
    t->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->error, sizeof t->error, fmt, ap);
    va_end(ap);
}

/* ---- leaves ------------------------------------------------------------------ */

static ad_var *node_new(ad_tape *t)
{
    ad_var *v = tn_arena_alloc(t->arena, sizeof *v);
    if (!v) {
        ad_tape_fail(t, "tape: out of memory");
        return NULL;
    }
    memset(v, 0, sizeof *v);
    v->tape = t;
    v->gen = t->gen;
    v->op = AD_OP_LEAF;
    return v;
}

ad_var *ad_param(ad_tape *t, tn_tensor *value, tn_tensor *grad)
{
    char a[64], b[64];
    if (!t || t->failed)
        return NULL;
    if (value && grad && tn_same_shape(value, grad) && value->size && (!value->data || !grad->data)) {
        ad_tape_fail(t, "param (%s): the %s has no data (NULL)", tn_shape_str(value, a, sizeof a),
                     value->data ? "gradient" : "value");
        return NULL;
    }
    if (!value || !grad || !tn_same_shape(value, grad)) {
        ad_tape_fail(t, "param: value (%s) and gradient (%s) must have one shape",
             value ? tn_shape_str(value, a, sizeof a) : "NULL",
             grad ? tn_shape_str(grad, b, sizeof b) : "NULL");
        return NULL;
    }
    ad_var *v = node_new(t);
    if (!v)
        return NULL;
    v->val = *value;
    v->grad = grad;
    v->is_param = 1;
    v->requires_grad = t->grad_enabled;
    if (v->requires_grad && t->block && grad->data >= t->block &&
        grad->data + grad->size <= t->block + t->block_len) { /* backward writes it (arm_params) */
        if (t->n_params == t->cap_params) {
            size_t cap = t->cap_params ? 2 * t->cap_params : 64;
            ad_var **n = realloc(t->params, cap * sizeof *n);
            if (!n) {
                ad_tape_fail(t, "param: out of memory for the tape");
                return NULL;
            }
            t->params = n, t->cap_params = cap;
        }
        t->params[t->n_params++] = v;
    }
    return v;
}

/* Constants are made even on a failed tape (ops on them then return NULL),
 * so that a program may write into a constant it just made without a check:
 * only running out of memory, or a tensor without data, makes these NULL. */
ad_var *ad_const(ad_tape *t, const tn_tensor *value)
{
    if (!t)
        return NULL;
    if (!value) {
        ad_tape_fail(t, "const: NULL tensor");
        return NULL;
    }
    if (value->size && !value->data) {
        char a[64];
        ad_tape_fail(t, "const (%s): the tensor has no data (NULL; a dataset stored as bytes gives its "
                        "rows as floats through nn_data_rows)", tn_shape_str(value, a, sizeof a));
        return NULL;
    }
    ad_var *v = node_new(t);
    if (v)
        v->val = *value;
    return v;
}

ad_var *ad_const_new(ad_tape *t, int ndim, const size_t *shape)
{
    if (!t)
        return NULL;
    tn_tensor *x = tn_arena_tensor(t->arena, ndim, shape);
    if (!x) {
        ad_tape_fail(t, ndim < 0 || ndim > TN_MAX_DIMS
                            ? "const: %d dimensions (at most %d)"
                            : "const: out of memory for a %d-d tensor (at most %d dimensions)",
                     ndim, TN_MAX_DIMS);
        return NULL;
    }
    return ad_const(t, x);
}

ad_var *ad_const_copy(ad_tape *t, int ndim, const size_t *shape,
                      const tn_real *data)
{
    ad_var *v = ad_const_new(t, ndim, shape);
    if (v && data && v->val.size)
        memcpy(v->val.data, data, v->val.size * sizeof *data);
    return v;
}

int ad__transparent(const ad_tape *t) { return t->transparent; }

int ad_set_transparent(ad_tape *t, int on)
{
    int old = t->transparent;
    t->transparent = on != 0;
    for (size_t i = 0; i < t->n_frozen; i++) /* a new record with each switch */
        free(t->frozen[i]);
    t->n_frozen = t->frozen_at = 0;
    return old;
}

const int *ad__frozen_indices(ad_tape *t, int *idx, size_t n)
{
    if (!t->transparent || !idx)
        return idx;
    size_t k = t->frozen_at++;
    if (k < t->n_frozen) { /* replayed: the indices of the first step */
        if (t->frozen_n[k] != n) {
            ad_tape_fail(t, "arg-max/min %zu of the step: %zu indices, the first step had %zu", k, n,
                         t->frozen_n[k]);
            return NULL;
        }
        memcpy(idx, t->frozen[k], n * sizeof *idx);
        return idx;
    }
    if (t->n_frozen == t->cap_frozen) {
        size_t cap = t->cap_frozen ? 2 * t->cap_frozen : 8;
        int **f = realloc(t->frozen, cap * sizeof *f);
        size_t *fn = f ? realloc(t->frozen_n, cap * sizeof *fn) : NULL;
        if (f)
            t->frozen = f;
        if (!fn) {
            ad_tape_fail(t, "arg-max/min: out of memory");
            return NULL;
        }
        t->frozen_n = fn, t->cap_frozen = cap;
    }
    int *copy = malloc((n ? n : 1) * sizeof *copy);
    if (!copy) {
        ad_tape_fail(t, "arg-max/min: out of memory");
        return NULL;
    }
    memcpy(copy, idx, n * sizeof *idx);
    t->frozen[t->n_frozen] = copy, t->frozen_n[t->n_frozen++] = n;
    return idx;
}

ad_var *ad_detach(ad_var *x)
{
    if (!x || x->tape->transparent)
        return x;
    if (x->tape->failed)
        return NULL;
    if (x->gen != x->tape->gen) {
        ad_tape_fail(x->tape, "detach: the input was recorded before the tape's last reset");
        return NULL;
    }
    ad_var *v = node_new(x->tape);
    if (v)
        v->val = x->val; /* shares x's values: a leaf that no gradient crosses */
    return v;
}

ad_var *ad_one_hot(ad_tape *t, const int *labels, size_t n, size_t classes)
{
    ad_var *v = ad_const_new(t, 2, (const size_t[]){n, classes});
    if (!v)
        return NULL;
    if (n && !labels) {
        ad_tape_fail(t, "one_hot: no labels (NULL) for %zu rows: the data have none", n);
        return v; /* still a valid (zero) constant; the tape has failed */
    }
    if (n && classes == 0) {
        ad_tape_fail(t, "one_hot: 0 classes for %zu labels: expected 1 or more", n);
        return v;
    }
    for (size_t i = 0; i < n; i++) {
        if (labels[i] < 0 || (size_t)labels[i] >= classes) {
            ad_tape_fail(t, "one_hot: label %d at row %zu is outside 0..%zu", labels[i], i, classes - 1);
            return v;
        }
        v->val.data[i * classes + (size_t)labels[i]] = 1;
    }
    return v;
}

tn_tensor *ad_value_mut(ad_var *v)
{
    return v && v->op == AD_OP_LEAF && !v->is_param ? &v->val : NULL;
}

ad_var *ad_scalar(ad_tape *t, tn_real x)
{
    ad_var *v = ad_const_new(t, 0, NULL);
    if (v)
        v->val.data[0] = x;
    return v;
}

const tn_tensor *ad_value(const ad_var *v) { return v ? &v->val : NULL; }
tn_real *ad_data(ad_var *v) { return v ? v->val.data : NULL; }
const tn_tensor *ad_grad(const ad_var *v) { return v ? v->grad : NULL; }
double ad_item(const ad_var *v) { return v && v->val.size ? v->val.data[0] : NAN; }
ad_tape *ad_tape_of(const ad_var *v) { return v ? v->tape : NULL; }

size_t ad_dim(const ad_var *v, int axis)
{
    int ax = v ? tn_axis(&v->val, axis) : -1;
    return ax >= 0 ? v->val.shape[ax] : 0;
}

/* ---- recording ----------------------------------------------------------------- */

tn_tensor *ad__scratch(ad_tape *t, const tn_tensor *like)
{
    tn_tensor *s = tn_arena_tensor_raw(t->arena, like->ndim, like->shape);
    if (!s)
        ad_tape_fail(t, "tape: out of memory for a scratch tensor");
    return s;
}

tn_tensor *ad__grad_out(ad_var *v, int *fresh)
{
    *fresh = 0;
    if (!v->requires_grad)
        return NULL;
    if (v->grad_pending) { /* a param's gradient, overwritten by its first writer */
        v->grad_pending = 0;
        *fresh = 1;
    }
    if (!v->grad) {
        v->grad = tn_arena_tensor_raw(v->tape->arena, v->val.ndim, v->val.shape);
        if (!v->grad)
            ad_tape_fail(v->tape, "backward: out of memory for a gradient");
        *fresh = v->grad != NULL;
    }
    return v->grad;
}

tn_tensor *ad__grad_buf(ad_var *v) /* ad__grad_out, a fresh buffer zeroed */
{
    int fresh;
    tn_tensor *g = ad__grad_out(v, &fresh);
    if (fresh)
        tn_fill(g, 0);
    return g;
}

int ad__grad_adopt(ad_var *v, const tn_tensor *g)
{
    if (!v->requires_grad || v->grad || g->size != v->val.size)
        return 0;
    tn_tensor *dx = tn_arena_alloc(v->tape->arena, sizeof *dx);
    if (!dx)
        return 0; /* the caller allocates, or fails */
    *dx = v->val, dx->data = g->data;
    v->grad = dx;
    return 1;
}

static int append(ad_tape *t, ad_var *v)
{
    if (t->len == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 256;
        ad_var **n = realloc(t->nodes, cap * sizeof *n);
        if (!n)
            return 0;
        t->nodes = n;
        t->cap = cap;
    }
    t->nodes[t->len++] = v;
    return 1;
}

ad_var *ad__record(ad_op_id op, ad_var *a, ad_var *b, ad_var *c,
                   const ad_attr *attr)
{
    const ad_op_def *def = ad_ops[op];
    ad_var *in[3] = {a, b, c};
    ad_tape *t = NULL;
    for (int i = 0; i < def->arity; i++) {
        if (!in[i])
            return NULL; /* the error was recorded where the NULL came from */
        if (!t)
            t = in[i]->tape;
        else if (in[i]->tape != t) {
            ad_tape_fail(t, "%s: inputs come from different tapes", def->name);
            return NULL;
        }
        if (in[i]->gen != t->gen) {
            ad_tape_fail(t, "%s: input %d was recorded before the tape's last reset (ad_tape_reset ends "
                            "every variable of the step)", def->name, i + 1);
            return NULL;
        }
    }
    if (t->failed)
        return NULL;
    ad_var *v = node_new(t);
    if (!v)
        return NULL;
    v->op = op;
    memcpy(v->in, in, sizeof in);
    if (attr)
        v->attr = *attr;
    const char *why = def->shape(v);
    if (why) {
        char msg[200] = "", s[64];
        size_t used = 0;
        for (int i = 0; i < def->arity && used < sizeof msg; i++) {
            int w = snprintf(msg + used, sizeof msg - used, "%s(%s)",
                             i == 0 ? "" : op == AD_OP_MATMUL ? "·" : ", ",
                             tn_shape_str(&in[i]->val, s, sizeof s));
            used += w > 0 ? (size_t)w : 0;
        }
        ad_tape_fail(t, "%s: %s: %s", def->name, msg, why);
        return NULL;
    }
    if (!v->val.data) { /* else a view: the shape rule pointed it at an input's values */
        tn_tensor *val = tn_arena_tensor_raw(t->arena, v->val.ndim, v->val.shape);
        if (!val) {
            ad_tape_fail(t, "%s: out of memory for the result", def->name);
            return NULL;
        }
        v->val = *val;
    }
    def->forward(v);
    if (t->failed) /* forward may need memory too */
        return NULL;
    if (t->anomaly && !anomaly_free(t, def->name, "forward", v, &v->val, in, def->arity))
        return NULL;
    for (int i = 0; i < def->arity; i++)
        v->requires_grad |= in[i]->requires_grad;
    v->requires_grad &= t->grad_enabled;
    if (v->requires_grad && !append(t, v)) {
        ad_tape_fail(t, "%s: out of memory for the tape", def->name);
        return NULL;
    }
    return v;
}

const char *ad__shape_same(ad_var *v)
{
    v->val.ndim = v->in[0]->val.ndim;
    memcpy(v->val.shape, v->in[0]->val.shape, sizeof v->val.shape);
    return NULL;
}

const char *ad__shape_same2(ad_var *v)
{
    if (!tn_same_shape(&v->in[0]->val, &v->in[1]->val))
        return "shapes differ";
    return ad__shape_same(v);
}

const char *ad__shape_broadcast(ad_var *v)
{
    int arity = ad_ops[v->op]->arity;
    tn_tensor acc = v->in[0]->val;
    for (int k = 1; k < arity; k++) {
        if (tn_broadcast_shape(&acc, &v->in[k]->val, &acc.ndim, acc.shape) != TN_OK)
            return "shapes do not broadcast";
    }
    v->val.ndim = acc.ndim;
    memcpy(v->val.shape, acc.shape, sizeof acc.shape);
    return NULL;
}

const tn_real *ad__expanded(ad_var *v, int k)
{
    const tn_tensor *x = &v->in[k]->val;
    if (x->size == v->val.size)
        return x->data;
    tn_tensor *e = ad__scratch(v->tape, &v->val);
    if (!e)
        return NULL;
    tn_expand(e, x);
    return e->data;
}

tn_real *ad__grad_full(ad_var *v, int k, tn_tensor **tmp)
{
    *tmp = NULL;
    tn_tensor *dx = ad__grad_buf(v->in[k]);
    if (!dx)
        return NULL;
    if (dx->size == v->val.size)
        return dx->data;
    *tmp = tn_arena_tensor(v->tape->arena, v->val.ndim, v->val.shape);
    if (!*tmp) {
        ad_tape_fail(v->tape, "backward: out of memory for a gradient");
        return NULL;
    }
    return (*tmp)->data;
}

void ad__grad_reduce(ad_var *v, int k, tn_tensor *tmp)
{
    if (tmp)
        tn_sum_to_acc(v->in[k]->grad, tmp, 1);
}

size_t ad__period(const ad_var *v, int k)
{
    const tn_tensor *x = &v->in[k]->val, *y = &v->val;
    int lead = 0;
    while (lead < x->ndim && x->shape[lead] == 1)
        lead++;
    int n = x->ndim - lead;
    if (n > y->ndim)
        return 0;
    for (int i = 1; i <= n; i++)
        if (x->shape[x->ndim - i] != y->shape[y->ndim - i])
            return 0;
    return x->size;
}

void ad__axis_split(const tn_tensor *x, int ax, size_t *outer, size_t *len,
                    size_t *inner)
{
    *outer = 1, *inner = 1, *len = x->shape[ax];
    for (int i = 0; i < ax; i++)
        *outer *= x->shape[i];
    for (int i = ax + 1; i < x->ndim; i++)
        *inner *= x->shape[i];
}

/* ---- backward ------------------------------------------------------------------- */

/* With a gradient block (ad_tape_write_grads), the gradient of each param
 * in it is written by its first writer in this backward (a GEMM with
 * beta = 0, an op writing instead of adding) and added to by the others.
 * Params whose gradients share memory (one tensor made a param twice, say)
 * cannot tell which writes first: they are zeroed here and added to. */
static void arm_params(ad_tape *t)
{
    for (size_t i = 0; i < t->n_params; i++)
        t->params[i]->grad_pending = 1;
    for (size_t i = 0; i < t->n_params; i++) {
        const tn_tensor *a = t->params[i]->grad;
        for (size_t j = i + 1; j < t->n_params; j++) {
            const tn_tensor *b = t->params[j]->grad;
            if (a->data < b->data + b->size && b->data < a->data + a->size) {
                if (t->params[i]->grad_pending)
                    tn_fill(t->params[i]->grad, 0);
                if (t->params[j]->grad_pending)
                    tn_fill(t->params[j]->grad, 0);
                t->params[i]->grad_pending = t->params[j]->grad_pending = 0;
            }
        }
    }
}

/* After backward, with a gradient block: zeros where nothing wrote, the
 * params the loss did not reach and the block's parts no param of this step
 * covers (a parameter the model left out this step). The params' ranges in
 * address order (insertion sort: a model has tens), the gaps between them
 * filled. */
static void zero_unwritten(ad_tape *t)
{
    ad_var **p = t->params;
    for (size_t i = 0; i < t->n_params; i++) {
        if (p[i]->grad_pending) /* d loss / d p = 0 */
            tn_fill(p[i]->grad, 0), p[i]->grad_pending = 0;
        for (size_t j = i; j > 0 && p[j]->grad->data < p[j - 1]->grad->data; j--) {
            ad_var *s = p[j];
            p[j] = p[j - 1], p[j - 1] = s;
        }
    }
    tn_real *at = t->block, *end = t->block + t->block_len;
    for (size_t i = 0; i < t->n_params; i++) {
        tn_real *a = p[i]->grad->data, *b = a + p[i]->grad->size;
        if (a > at)
            memset(at, 0, (size_t)(a - at) * sizeof *at);
        if (b > at)
            at = b;
    }
    if (end > at)
        memset(at, 0, (size_t)(end - at) * sizeof *at);
}

int ad_backward(ad_tape *t, ad_var *loss)
{
    char s[64];
    if (t->failed)
        return -1;
    if (!loss) {
        ad_tape_fail(t, "backward: the loss is NULL");
        return -1;
    }
    if (loss->tape != t) {
        ad_tape_fail(t, "backward: the loss belongs to another tape");
        return -1;
    }
    if (loss->gen != t->gen) {
        ad_tape_fail(t, "backward: the loss was recorded before the tape's last reset (ad_tape_reset "
                        "ends every variable of the step)");
        return -1;
    }
    if (loss->val.size != 1) {
        ad_tape_fail(t, "backward: the loss must have one element, not (%s)",
             tn_shape_str(&loss->val, s, sizeof s));
        return -1;
    }
    if (!loss->requires_grad) {
        ad_tape_fail(t, "backward: the loss depends on no parameter%s",
             t->grad_enabled ? "" : " (no-grad mode is on)");
        return -1;
    }
    for (size_t i = 0; i < t->len; i++)
        if (t->nodes[i]->grad)
            tn_fill(t->nodes[i]->grad, 0);
    arm_params(t);
    tn_tensor *g = ad__grad_buf(loss);
    if (!g)
        return -1;
    g->data[0] += 1;
    for (size_t i = t->len; i-- > 0;) {
        ad_var *v = t->nodes[i];
        if (v->grad)
            ad_ops[v->op]->backward(v);
        if (t->failed)
            return -1;
        for (int k = 0; t->anomaly && v->grad && k < ad_ops[v->op]->arity; k++)
            if (v->in[k]->grad && !anomaly_free(t, ad_ops[v->op]->name, "backward", v, v->in[k]->grad, v->in,
                                                 ad_ops[v->op]->arity))
                return -1;
    }
    if (t->block)
        zero_unwritten(t);
    return 0;
}
