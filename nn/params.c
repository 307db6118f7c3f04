/* params.c: the parameter store (names, shapes, one value block and one
 * gradient block allocated once) and the initialisers. */
#include "nn.h"
#include "nn_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tn_parallel.h"

#define NAME_MAX_LEN 96

typedef struct {
    char name[NAME_MAX_LEN];
    tn_tensor value, grad; /* views into the blocks once allocated */
    size_t offset;
    double lr_scale;       /* the optimizer's step times this; 0: left alone (1) */
} param;

struct nn_params {
    param *items;
    int n, cap;
    size_t size;
    tn_real *values, *grads;
};

nn_params *nn_params_new(void) { return calloc(1, sizeof(nn_params)); }

void nn_params_free(nn_params *p)
{
    if (!p)
        return;
    free(p->items);
    free(p->values);
    free(p->grads);
    free(p);
}

int nn_params_add(nn_params *p, const char *name, int ndim,
                  const size_t *shape, nn_error *err)
{
    if (p->values)
        return nn_fail(err, "parameter %s: declared after nn_params_alloc", name);
    if (strlen(name) >= NAME_MAX_LEN)
        return nn_fail(err, "parameter %s: name longer than %d characters", name,
                        NAME_MAX_LEN - 1);
    if (nn_params_find(p, name) >= 0)
        return nn_fail(err, "parameter %s: declared twice", name);
    tn_tensor shape_only = tn_wrap(NULL, ndim, shape);
    if (ndim < 1 || ndim > TN_MAX_DIMS || shape_only.size == 0)
        return nn_fail(err, "parameter %s: needs 1 to %d non-zero dimensions", name,
                        TN_MAX_DIMS);
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 16;
        param *it = realloc(p->items, (size_t)cap * sizeof *it);
        if (!it)
            return nn_fail(err, "parameter %s: out of memory", name);
        p->items = it;
        p->cap = cap;
    }
    param *q = &p->items[p->n];
    memset(q, 0, sizeof *q);
    strcpy(q->name, name);
    q->value = shape_only;
    q->grad = shape_only;
    q->offset = p->size;
    q->lr_scale = 1;
    p->size += shape_only.size;
    return p->n++;
}

tn_real *nn__zeros(size_t n)
{
    if (n > SIZE_MAX / sizeof(tn_real) - 64)
        return NULL;
    size_t bytes = ((n ? n : 1) * sizeof(tn_real) + 63) / 64 * 64;
    tn_real *z = aligned_alloc(64, bytes);
    if (z)
        memset(z, 0, bytes);
    return z;
}

int nn_params_alloc(nn_params *p, nn_error *err)
{
    if (p->values)
        return 0;
    if (p->size == 0)
        return nn_fail(err, "parameters: none declared");
    p->values = nn__zeros(p->size);
    p->grads = nn__zeros(p->size);
    if (!p->values || !p->grads) {
        free(p->values), free(p->grads);
        p->values = p->grads = NULL;
        return nn_fail(err, "parameters: out of memory for %zu values", p->size);
    }
    for (int i = 0; i < p->n; i++) {
        p->items[i].value.data = p->values + p->items[i].offset;
        p->items[i].grad.data = p->grads + p->items[i].offset;
    }
    return 0;
}

int nn_params_count(const nn_params *p) { return p->n; }
size_t nn_params_size(const nn_params *p) { return p->size; }
const char *nn_params_name(const nn_params *p, int i) { return p->items[i].name; }
tn_tensor *nn_params_value(nn_params *p, int i) { return &p->items[i].value; }
tn_tensor *nn_params_grad(nn_params *p, int i) { return &p->items[i].grad; }
tn_real *nn_params_values(nn_params *p) { return p->values; }
tn_real *nn_params_grads(nn_params *p) { return p->grads; }

int nn_params_find(const nn_params *p, const char *name)
{
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->items[i].name, name) == 0)
            return i;
    return -1;
}

void nn_params_zero_grad(nn_params *p)
{
    if (!p->grads)
        return;
    /* in chunks of 16 Ki values, split over threads when large: one thread
     * alone does not reach the memory's bandwidth */
    size_t size = p->size, chunks = (size + 16383) / 16384;
    tn_real *g = p->grads;
    TN_FOR_WORK(k, chunks, size, {
        size_t lo = k * 16384, n = size - lo < 16384 ? size - lo : 16384;
        memset(g + lo, 0, n * sizeof *g);
    });
}

ad_var *nn_param(ad_tape *t, nn_params *p, int i)
{
    if (!p->values || i < 0 || i >= p->n)
        return ad_param(t, NULL, NULL); /* records the error */
    return ad_param(t, &p->items[i].value, &p->items[i].grad);
}

static const char *const init_names[] = {"glorot", "he", "normal", "torch"};

const char *nn_init_name(nn_init k) { return (unsigned)k < 4 ? init_names[k] : "?"; }

int nn_init_parse(const char *s, nn_init *out)
{
    int i = nn_name_index(s, init_names, 4);
    if (i >= 0)
        *out = (nn_init)i;
    return i >= 0 ? 0 : -1;
}

void nn_params_init(nn_params *p, nn_init kind, double sd, tn_rng *rng)
{
    double last_fan_in = 1;
    for (int i = 0; i < p->n; i++) {
        tn_tensor *w = &p->items[i].value;
        if (w->ndim < 2) {
            if (kind == NN_INIT_TORCH) { /* the bias of the weight before it */
                tn_real a = (tn_real)(1 / sqrt(last_fan_in));
                tn_rng_fill_uniform(rng, w, -a, a);
            } else {
                tn_fill(w, 0);
            }
            continue;
        }
        /* as torch.nn.init: fans are shape[1] and shape[0] times the kernel
         * (shape[2:]), which holds for conv (F, C, kh, kw) and transposed
         * conv (C, F, kh, kw) weights alike */
        double rf = 1;
        for (int d = 2; d < w->ndim; d++)
            rf *= (double)w->shape[d];
        double fan_out = (double)w->shape[0] * rf, fan_in = (double)w->shape[1] * rf;
        last_fan_in = fan_in;
        switch (kind) {
        case NN_INIT_GLOROT_UNIFORM: {
            tn_real a = (tn_real)sqrt(6.0 / (fan_in + fan_out));
            tn_rng_fill_uniform(rng, w, -a, a);
            break;
        }
        case NN_INIT_HE_NORMAL:
            tn_rng_fill_normal(rng, w, 0, (tn_real)sqrt(2.0 / fan_in));
            break;
        case NN_INIT_NORMAL:
            tn_rng_fill_normal(rng, w, 0, (tn_real)sd);
            break;
        case NN_INIT_TORCH: { /* kaiming_uniform(a = √5): bound 1/√fan_in */
            tn_real a = (tn_real)(1 / sqrt(fan_in));
            tn_rng_fill_uniform(rng, w, -a, a);
            break;
        }
        }
    }
}

int nn_params_alloc_init(nn_params *p, nn_init kind, double sd, tn_rng *rng, nn_error *err)
{
    if (!p)
        return nn_fail(err, "params: NULL (out of memory?)");
    if (nn_params_alloc(p, err))
        return -1;
    nn_params_init(p, kind, sd, rng);
    return 0;
}

/* Index of the first non-finite element of x[0..n), or n. Blocks are first
 * scanned with a branch-free test (x - x is 0 exactly when x is finite),
 * which the compiler vectorizes: the guard costs one read of the block. */
int nn_params_set_lr_scale(nn_params *p, int i, double scale, nn_error *err)
{
    if (i < 0 || i >= p->n)
        return nn_fail(err, "lr scale: parameter %d of %d", i, p->n);
    if (!(scale >= 0 && isfinite(scale)))
        return nn_fail(err, "lr scale of %s: %g, expected a finite number >= 0 (0: not optimized)",
                       p->items[i].name, scale);
    p->items[i].lr_scale = scale;
    return 0;
}

double nn_params_lr_scale(const nn_params *p, int i) { return p->items[i].lr_scale; }

int nn_params_set_value(nn_params *p, int i, const tn_real *values, size_t n, nn_error *err)
{
    if (i < 0 || i >= p->n || !p->values)
        return nn_fail(err, "set value: parameter %d of %d%s", i, p->n, p->values ? "" : " (not allocated)");
    tn_tensor *v = &p->items[i].value;
    if (n != v->size)
        return nn_fail(err, "set value of %s: %zu values, the parameter has %zu", p->items[i].name, n, v->size);
    if (nn__first_nonfinite(values, n) < n)
        return nn_fail(err, "set value of %s: value %zu is not finite", p->items[i].name,
                       nn__first_nonfinite(values, n));
    memcpy(v->data, values, n * sizeof *values);
    return 0;
}

void nn_ema(tn_real *avg, const tn_real *x, size_t n, double decay)
{
    const tn_real a = (tn_real)decay, b = (tn_real)(1 - decay);
    for (size_t i = 0; i < n; i++)
        avg[i] = a * avg[i] + b * x[i];
}

size_t nn__first_nonfinite(const tn_real *x, size_t n)
{
    for (size_t b = 0; b < n; b += 4096) {
        size_t e = n - b < 4096 ? n : b + 4096;
        int bad = 0;
        for (size_t i = b; i < e; i++)
            bad |= x[i] - x[i] != 0;
        if (bad)
            for (size_t i = b; i < e; i++)
                if (x[i] - x[i] != 0)
                    return i;
    }
    return n;
}

int nn_params_nonfinite(nn_params *p, int which, int *param, size_t *index)
{
    for (int i = 0; i < nn_params_count(p); i++) {
        const tn_tensor *t = which ? nn_params_grad(p, i) : nn_params_value(p, i);
        size_t k = nn__first_nonfinite(t->data, t->size);
        if (k < t->size) {
            *param = i, *index = k;
            return 1;
        }
    }
    return 0;
}
