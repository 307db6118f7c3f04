/* optim.c: SGD (momentum, Nesterov), Adagrad, Adam, AdamW, global-norm
 * clipping and learning-rate schedules. Update rules follow PyTorch's so
 * that runs compare side by side; they are written out in docs/nn.md. */
#include "nn_internal.h"

#include <tgmath.h>

#include "tn_math.h"
#include "tn_parallel.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct nn_optim {
    nn_optim_config c;
    long steps;
    size_t size;
    int n_slots;
    tn_real *slot[2]; /* one block each: momentum | sum of g² | m, v */
    int nonfinite;    /* the last step wrote a weight or a state value that is not finite */
};

static const char *const optim_names[] = {"sgd", "adagrad", "adam", "adamw"};

const char *nn_optim_name(nn_optim_kind k)
{
    return (unsigned)k < 4 ? optim_names[k] : "?";
}

int nn_optim_parse(const char *s, nn_optim_kind *out)
{
    int i = nn_name_index(s, optim_names, 4);
    if (i >= 0)
        *out = (nn_optim_kind)i;
    return i >= 0 ? 0 : -1;
}

nn_optim_config nn_optim_defaults(nn_optim_kind kind, double lr)
{
    nn_optim_config c = {0};
    c.kind = kind;
    c.lr = lr;
    c.beta1 = 0.9;
    c.beta2 = 0.999;
    c.eps = kind == NN_ADAGRAD ? 1e-10 : 1e-8;
    c.weight_decay = kind == NN_ADAMW ? 0.01 : 0;
    c.sched = NN_SCHED_CONSTANT;
    c.gamma = 0.1;
    return c;
}

nn_optim *nn_optim_new(const nn_optim_config *c, const nn_params *p,
                       nn_error *err)
{
    if ((unsigned)c->kind > NN_ADAMW)
        return nn_fail_null(err, "optimizer: unknown kind %d", (int)c->kind);
    if (!(c->lr > 0))
        return nn_fail_null(err, "optimizer %s: lr must be > 0, got %g",
                             nn_optim_name(c->kind), c->lr);
    const char *name = nn_optim_name(c->kind);
    if (!isfinite(c->lr))
        return nn_fail_null(err, "optimizer %s: lr must be finite, got %g", name, c->lr);
    if (c->kind >= NN_ADAM && !(c->beta1 >= 0 && c->beta1 < 1 && c->beta2 >= 0 && c->beta2 < 1))
        return nn_fail_null(err, "optimizer %s: betas (%g, %g): expected each in [0, 1)", name, c->beta1,
                            c->beta2);
    if (c->kind != NN_SGD && !(c->eps >= 0 && isfinite(c->eps)))
        return nn_fail_null(err, "optimizer %s: eps %g: expected a finite number >= 0", name, c->eps);
    if (!(c->weight_decay >= 0 && isfinite(c->weight_decay)))
        return nn_fail_null(err, "optimizer %s: weight decay %g: expected a finite number >= 0", name,
                            c->weight_decay);
    if (c->kind == NN_SGD && !(c->momentum >= 0 && c->momentum <= 1))
        return nn_fail_null(err, "optimizer sgd: momentum %g: expected a number from 0 to 1", c->momentum);
    if (!(c->clip_norm >= 0 && isfinite(c->clip_norm)))
        return nn_fail_null(err, "optimizer %s: clip norm %g: expected a finite number >= 0 (0: off)", name,
                            c->clip_norm);
    if (c->sched == NN_SCHED_COSINE && !(c->min_lr >= 0 && c->min_lr <= c->lr))
        return nn_fail_null(err, "optimizer %s: cosine schedule from lr %g to min_lr %g: expected 0 <= "
                                 "min_lr <= lr", name, c->lr, c->min_lr);
    if (c->sched == NN_SCHED_STEP && !(c->gamma > 0 && c->gamma <= 1))
        return nn_fail_null(err, "optimizer %s: step schedule's gamma %g: expected a number in (0, 1]", name,
                            c->gamma);
    if (c->sched == NN_SCHED_STEP && c->step_size < 1)
        return nn_fail_null(err, "optimizer: step schedule needs step_size >= 1");
    if (c->sched == NN_SCHED_COSINE && c->total_steps < 1)
        return nn_fail_null(err, "optimizer: cosine schedule needs total_steps >= 1");
    nn_optim *o = calloc(1, sizeof *o);
    if (!o)
        return nn_fail_null(err, "optimizer: out of memory");
    o->c = *c;
    o->size = nn_params_size(p);
    o->n_slots = c->kind == NN_SGD ? (c->momentum != 0) : c->kind == NN_ADAGRAD ? 1 : 2;
    for (int k = 0; k < o->n_slots; k++)
        if (!(o->slot[k] = nn__zeros(o->size))) {
            nn_optim_free(o);
            return nn_fail_null(err, "optimizer: out of memory for its state");
        }
    return o;
}

void nn_optim_free(nn_optim *o)
{
    if (!o)
        return;
    free(o->slot[0]);
    free(o->slot[1]);
    free(o);
}

double nn_optim_lr(const nn_optim *o)
{
    const nn_optim_config *c = &o->c;
    switch (c->sched) {
    case NN_SCHED_STEP:
        return c->lr * pow(c->gamma, (double)(o->steps / c->step_size));
    case NN_SCHED_COSINE: {
        double t = (double)(o->steps < c->total_steps ? o->steps : c->total_steps);
        return c->min_lr + (c->lr - c->min_lr) * 0.5 *
                               (1 + cos(3.141592653589793 * t / (double)c->total_steps));
    }
    default:
        return c->lr;
    }
}

long nn_optim_steps(const nn_optim *o) { return o->steps; }
int nn_optim_nonfinite(const nn_optim *o) { return o->nonfinite; }
void nn_optim_set_steps(nn_optim *o, long steps) { o->steps = steps; }
const nn_optim_config *nn_optim_config_of(const nn_optim *o) { return &o->c; }
int nn_optim_slots(const nn_optim *o) { return o->n_slots; }
tn_real *nn_optim_slot(nn_optim *o, int k) { return k >= 0 && k < o->n_slots ? o->slot[k] : NULL; }

const char *nn_optim_slot_name(const nn_optim *o, int k)
{
    switch (o->c.kind) {
    case NN_SGD: return "momentum";
    case NN_ADAGRAD: return "sum_sq";
    default: return k == 0 ? "exp_avg" : "exp_avg_sq";
    }
}

double nn_clip_grad_norm(nn_params *p, double max_norm)
{
    tn_real *g = nn_params_grads(p);
    size_t n = nn_params_size(p);
    double ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (double)g[i] * g[i];
    double norm = sqrt(ss);
    if (max_norm > 0 && norm > max_norm) {
        tn_real s = (tn_real)(max_norm / (norm + 1e-6)); /* as PyTorch */
        for (size_t i = 0; i < n; i++)
            g[i] *= s;
    }
    return norm;
}

/* Adam's constants for one step: β1, β2, lr/(1-β1^t), 1/√(1-β2^t), eps, the
 * AdamW decay factor (1 for Adam) and the L2 factor (0 for AdamW) */
typedef struct {
    tn_real b1, b2, step, inv_sqrt_bc2, eps, decay, l2;
} adam_k;

/* A value's exponent field, all ones exactly when the value is infinite or
 * NaN: the largest over a pass says whether any was, by an integer max
 * that vectorizes (a float test and an OR of flags took a third of Adam's
 * time) */
#ifdef TN_REAL_DOUBLE
typedef uint64_t exp_field;
#define EXP_ONES UINT64_C(0x7ff0000000000000)
#else
typedef uint32_t exp_field;
#define EXP_ONES UINT32_C(0x7f800000)
#endif
static inline exp_field exp_field_of(tn_real x)
{
    exp_field b;
    memcpy(&b, &x, sizeof b);
    return b & EXP_ONES;
}
static inline exp_field exp_max(exp_field a, exp_field b) { return a > b ? a : b; }

/* The Adam / AdamW update of w[lo..hi), and whether a weight or v came out
 * non-finite (v overflows before w does): the trainer's guard for free. A
 * square root and a division an element, which the x86-64 baseline's 4
 * lanes do not keep up with memory: TN_CLONES, the same bits in every
 * version (see tn_math.h). Plain Adam (decay exactly 1, L2 exactly 0) skips
 * their two products: the same bits for every finite weight. */
TN_CLONES static int adam_chunk(tn_real *restrict w, const tn_real *restrict g, tn_real *restrict m,
                                tn_real *restrict v, size_t lo, size_t hi, const adam_k *k)
{
    const tn_real b1 = k->b1, b2 = k->b2, step = k->step, inv_sqrt_bc2 = k->inv_sqrt_bc2, eps = k->eps;
    const tn_real decay = k->decay, l2 = k->l2;
    exp_field e = 0;
    if (decay == 1 && l2 == 0)
        for (size_t i = lo; i < hi; i++) {
            tn_real d = g[i], mi = b1 * m[i] + (1 - b1) * d, vi = b2 * v[i] + (1 - b2) * d * d;
            tn_real wi = w[i] - step * mi / (sqrt(vi) * inv_sqrt_bc2 + eps);
            m[i] = mi, v[i] = vi, w[i] = wi;
            e = exp_max(e, exp_max(exp_field_of(wi), exp_field_of(vi)));
        }
    else
        for (size_t i = lo; i < hi; i++) {
            tn_real wi = w[i] * decay;
            tn_real d = g[i] + l2 * wi;
            tn_real mi = b1 * m[i] + (1 - b1) * d, vi = b2 * v[i] + (1 - b2) * d * d;
            wi -= step * mi / (sqrt(vi) * inv_sqrt_bc2 + eps);
            m[i] = mi, v[i] = vi, w[i] = wi;
            e = exp_max(e, exp_max(exp_field_of(wi), exp_field_of(vi)));
        }
    return e == EXP_ONES;
}

/* The update of w[lo..hi) at learning rate lr (SGD, Adagrad, Adam or
 * AdamW as configured); 1 when a weight or a state value came out not
 * finite. The step's count and bias corrections are o's. */
static int update_range(nn_optim *o, tn_real *restrict w, const tn_real *restrict g, size_t lo, size_t hi,
                        double lr)
{
    const nn_optim_config *c = &o->c;
    tn_real wd = (tn_real)c->weight_decay;
    int bad = 0;
    switch (c->kind) {
    case NN_SGD: {
        /* d = g + wd·w; v = μv + d; w -= lr·(d + μv) (Nesterov) or lr·v */
        tn_real *restrict v = o->slot[0], mu = (tn_real)c->momentum, a = (tn_real)lr;
        for (size_t i = lo; i < hi; i++) {
            tn_real d = g[i] + wd * w[i];
            if (v) {
                v[i] = mu * v[i] + d;
                d = c->nesterov ? d + mu * v[i] : v[i];
            }
            w[i] -= a * d;
            bad |= (w[i] - w[i] != 0) | (v && v[i] - v[i] != 0);
        }
        break;
    }
    case NN_ADAGRAD: {
        /* d = g + wd·w; G += d²; w -= lr·d / (√G + eps) */
        tn_real *restrict G = o->slot[0], a = (tn_real)lr, eps = (tn_real)c->eps;
        for (size_t i = lo; i < hi; i++) {
            tn_real d = g[i] + wd * w[i];
            G[i] += d * d;
            w[i] -= a * d / (sqrt(G[i]) + eps);
            bad |= (w[i] - w[i] != 0) | (G[i] - G[i] != 0);
        }
        break;
    }
    case NN_ADAM:
    case NN_ADAMW: {
        /* AdamW: w -= lr·wd·w first; Adam: d = g + wd·w.
         * m = β1 m + (1-β1) d; v = β2 v + (1-β2) d²;
         * w -= lr · (m / (1-β1^t)) / (√(v / (1-β2^t)) + eps), computed as
         * PyTorch does: step = lr/(1-β1^t), denom = √v/√(1-β2^t) + eps */
        double bc1 = 1 - pow(c->beta1, (double)o->steps), bc2 = 1 - pow(c->beta2, (double)o->steps);
        /* AdamW decays w in the same pass (decay is exactly 1 for Adam) */
        adam_k k = {(tn_real)c->beta1, (tn_real)c->beta2, (tn_real)(lr / bc1), (tn_real)(1 / sqrt(bc2)),
                    (tn_real)c->eps, c->kind == NN_ADAMW ? (tn_real)(1 - lr * c->weight_decay) : 1,
                    c->kind == NN_ADAM ? wd : 0};
        if (hi - lo >= TN_PAR_MIN) {
#pragma omp parallel reduction(| : bad)
            {
                size_t a, b;
                tn_thread_part(hi - lo, &a, &b);
                bad |= adam_chunk(w, g, o->slot[0], o->slot[1], lo + a, lo + b, &k);
            }
        } else
            bad = adam_chunk(w, g, o->slot[0], o->slot[1], lo, hi, &k);
        break;
    }
    }
    return bad;
}

double nn_optim_step(nn_optim *o, nn_params *p)
{
    const nn_optim_config *c = &o->c;
    double norm = c->clip_norm > 0 ? nn_clip_grad_norm(p, c->clip_norm) : 0;
    tn_real *w = nn_params_values(p);
    const tn_real *g = nn_params_grads(p);
    double lr = nn_optim_lr(o);
    int bad = 0, grouped = 0;
    o->steps++;
    for (int i = 0; i < nn_params_count(p); i++)
        grouped |= nn_params_lr_scale(p, i) != 1;
    if (!grouped) /* one pass over the whole block */
        bad = update_range(o, w, g, 0, o->size, lr);
    else /* parameter groups: each tensor at its own rate; 0 leaves it alone */
        for (int i = 0; i < nn_params_count(p); i++) {
            double s = nn_params_lr_scale(p, i);
            size_t lo = (size_t)(nn_params_value(p, i)->data - w), hi = lo + nn_params_value(p, i)->size;
            if (s > 0)
                bad |= update_range(o, w, g, lo, hi, lr * s);
        }
    o->nonfinite = bad;
    return norm;
}
