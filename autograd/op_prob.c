/* op_prob.c: the fused probabilistic ops, kept as primitives because
 * composing them would be unstable or slow: BCE with logits, the closed-form
 * Gaussian KL to N(0, I), the reparameterized Gaussian sample (ε drawn here
 * or given), the Gaussian log-density, dropout; and the constant samples.
 * All but sample_normal broadcast their inputs as add does. */
#include "ad_internal.h"

#include <omp.h>
#include <stdio.h>
#include <tgmath.h>

#include "tn_math.h"
#include "tn_parallel.h"

/* e^x for x <= 0, e^x for any x, log(1 + e) for e in [0, 1] and log p for p >= 1,
 * vectorizable in float */
#ifdef TN_REAL_DOUBLE
#define EXP_NEG(x) exp(x)
#define EXP_ANY(x) exp(x)
#define log1p_small(e) log1p(e)
#define log_ge1(p) log(p)
#else
#define EXP_NEG(x) tn_exp_neg(x)
#define EXP_ANY(x) tn_exp_f(x)
#define log1p_small(e) tn_log1p_01(e)
#define log_ge1(p) tn_log_ge1(p)
#endif

/* y = s·(max(x,0) - x·t + log(1 + e^-|x|))  (x logits, t targets,
 * broadcast; s = 1, or -1 for the Bernoulli log density: attr.i[0], exact
 * either way); e^-|x| is kept in e for backward (e NULL: not kept) */
TN_CLONES static void bce_run(const tn_real *restrict x, const tn_real *restrict t, tn_real s,
                              tn_real *restrict e, tn_real *restrict y, size_t lo, size_t hi)
{
    if (e)
        for (size_t i = lo; i < hi; i++) {
            tn_real xi = x[i];
            e[i] = EXP_NEG(-fabs(xi));
            y[i] = s * ((xi > 0 ? xi : 0) - xi * t[i] + log1p_small(e[i]));
        }
    else
        for (size_t i = lo; i < hi; i++) {
            tn_real xi = x[i], ei = EXP_NEG(-fabs(xi));
            y[i] = s * ((xi > 0 ? xi : 0) - xi * t[i] + log1p_small(ei));
        }
}
static tn_real bce_sign(const ad_var *v) { return v->attr.i[0] ? -1 : 1; }
static void bce_forward(ad_var *v)
{
    const tn_real *x = ad__expanded(v, 0), *t = ad__expanded(v, 1);
    tn_real *y = v->val.data, *e = NULL;
    if (ad_grad_enabled(v->tape) && (v->in[0]->requires_grad || v->in[1]->requires_grad)) {
        v->saved = ad__scratch(v->tape, &v->val); /* backward's; evaluation keeps nothing */
        if (!v->saved)
            return;
        e = v->saved->data;
    }
    if (x && t)
        TN_PARTS(v->val.size, lo, hi, bce_run(x, t, bce_sign(v), e, y, lo, hi));
}
/* dx += s·g·(σ(x) - t), σ(x) = 1/(1+e) for x >= 0, e/(1+e) else; dt -= s·g·x */
TN_CLONES static void bce_dx(const tn_real *restrict x, const tn_real *restrict t, const tn_real *restrict e,
                             const tn_real *restrict g, tn_real sign, tn_real *restrict d, size_t lo, size_t hi)
{
    for (size_t i = lo; i < hi; i++) {
        tn_real s = (x[i] >= 0 ? 1 : e[i]) / (1 + e[i]);
        d[i] += sign * g[i] * (s - t[i]);
    }
}
TN_CLONES static void bce_dt(const tn_real *restrict x, const tn_real *restrict g, tn_real sign,
                             tn_real *restrict d, size_t lo, size_t hi)
{
    for (size_t i = lo; i < hi; i++)
        d[i] -= sign * g[i] * x[i];
}
static void bce_backward(ad_var *v)
{
    const tn_real *x = ad__expanded(v, 0), *t = ad__expanded(v, 1);
    if (!x || !t)
        return;
    const tn_real *g = v->grad->data, *e = v->saved->data;
    tn_tensor *tmp;
    tn_real *d = ad__grad_full(v, 0, &tmp);
    if (d) {
        TN_PARTS(v->val.size, lo, hi, bce_dx(x, t, e, g, bce_sign(v), d, lo, hi));
        ad__grad_reduce(v, 0, tmp);
    }
    d = ad__grad_full(v, 1, &tmp);
    if (d) {
        TN_PARTS(v->val.size, lo, hi, bce_dt(x, g, bce_sign(v), d, lo, hi));
        ad__grad_reduce(v, 1, tmp);
    }
}
const ad_op_def ad__op_bce_logits = {"bce_logits", 2, ad__shape_broadcast, bce_forward, bce_backward};

/* bce_logits_rows: Σ over the last axis of BCE(x, t), (…, D) -> (…), t shaped
 * as x or as its trailing axes (k samples (k, N, D) against x (N, D)): what
 * a Bernoulli decoder's log-likelihood needs, without writing the N × D
 * element-wise values and reading them back to sum them. */
static const char *bce_rows_shape(ad_var *v)
{
    const tn_tensor *x = &v->in[0]->val, *t = &v->in[1]->val;
    int suffix = t->ndim >= 1 && t->ndim <= x->ndim && x->ndim >= 1;
    for (int i = 1; suffix && i <= t->ndim; i++)
        suffix = t->shape[t->ndim - i] == x->shape[x->ndim - i];
    if (!suffix) {
        char a[64], b[64], *why = ad__why_buf(v->tape);
        snprintf(why, AD_WHY_LEN, "bce_logits_rows: targets %s are not the logits' %s or their "
                 "trailing axes", tn_shape_str(t, b, sizeof b), tn_shape_str(x, a, sizeof a));
        return why;
    }
    v->val.ndim = x->ndim - 1;
    for (int i = 0; i < v->val.ndim; i++)
        v->val.shape[i] = x->shape[i];
    return NULL;
}

/* One row: Σ_d BCE(x_d, t_d) = Σ_d [max(x_d, 0) - x_d t_d + log(1 + e_d)],
 * e_d = e^-|x_d| (kept in e when given, else in buf's second half). The
 * logs are taken 8 pixels at a time, of products of their factors 1 + e_d
 * (in [1, 256]): in each block of 128 pixels, pixel b + j carries the log
 * of the product over b + 16g + j, g < 8; the last D mod 128 pixels take
 * their own. One log for 8 pixels instead of 8 (the row loop 1.5 times
 * as fast on AVX-512); the product's rounding costs at most 8 float roundings of the
 * row's sum of logs. The element-wise parts go through buf (2 D values, in
 * L1) so that they vectorize; the groups are fixed and tn_sum8 adds in a
 * fixed order, so the result does not depend on the vector width the CPU
 * picked (TN_CLONES). */
TN_CLONES static tn_real bce_row(const tn_real *restrict x, const tn_real *restrict t,
                                 tn_real *restrict e, tn_real *restrict buf, size_t D)
{
    tn_real *restrict lin = buf, *restrict ex = e ? e : buf + D;
    for (size_t d = 0; d < D; d++) {
        tn_real xi = x[d];
        ex[d] = EXP_NEG(-fabs(xi));
        lin[d] = (xi > 0 ? xi : 0) - xi * t[d];
    }
    size_t full = D / 128 * 128;
    for (size_t b = 0; b < full; b += 128)
        for (size_t j = 0; j < 16; j++) {
            tn_real p = 1 + ex[b + j];
            for (size_t g = 1; g < 8; g++)
                p *= 1 + ex[b + 16 * g + j];
            lin[b + j] += log_ge1(p);
        }
    for (size_t d = full; d < D; d++)
        lin[d] += log1p_small(ex[d]);
    return tn_sum8(lin, D);
}

static void bce_rows_forward(ad_var *v)
{
    const tn_tensor *X = &v->in[0]->val, *T = &v->in[1]->val;
    size_t D = X->ndim ? X->shape[X->ndim - 1] : 1, R = v->val.size, TR = D ? T->size / D : 0;
    int keep = ad_grad_enabled(v->tape) && (v->in[0]->requires_grad || v->in[1]->requires_grad);
    tn_tensor *e = NULL;
    if (keep && !(e = v->saved = ad__scratch(v->tape, X)))
        return;
    const tn_real *x = X->data, *t = T->data;
    tn_real *y = v->val.data;
    if (R == 0 || D == 0) {
        for (size_t r = 0; r < R; r++)
            y[r] = 0;
        return;
    }
    int nt = R * D >= TN_PAR_MIN ? omp_get_max_threads() : 1;
    tn_tensor lines = {.ndim = 1, .shape = {2 * D * (size_t)nt}};
    tn_tensor *buf = ad__scratch(v->tape, &lines); /* a row's values, 2 D per thread */
    if (!buf)
        return;
    if (nt == 1) {
        for (size_t r = 0; r < R; r++)
            y[r] = bce_row(x + r * D, t + (r % TR) * D, e ? e->data + r * D : NULL, buf->data, D);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        tn_real *b = buf->data + (size_t)omp_get_thread_num() * 2 * D;
#pragma omp for
        for (size_t r = 0; r < R; r++)
            y[r] = bce_row(x + r * D, t + (r % TR) * D, e ? e->data + r * D : NULL, b, D);
    }
}

/* dx = g_r·(σ(x) - t), dt = -g_r·x (summed over the rows t is broadcast to) */
static void bce_rows_backward(ad_var *v)
{
    const tn_tensor *X = &v->in[0]->val, *T = &v->in[1]->val;
    size_t D = X->ndim ? X->shape[X->ndim - 1] : 1, R = v->val.size, TR = D ? T->size / D : 0;
    const tn_real *x = X->data, *t = T->data, *g = v->grad->data, *e = v->saved->data;
    int fresh;
    tn_tensor *gx = ad__grad_out(v->in[0], &fresh);
    if (gx) {
        tn_real *restrict d = gx->data;
        TN_FOR_WORK(r, R, R * D, {
            const tn_real *xr = x + r * D, *tr = t + (r % TR) * D, *er = e + r * D;
            tn_real *restrict dr = d + r * D, gr = g[r];
            if (fresh)
                for (size_t k = 0; k < D; k++)
                    dr[k] = gr * ((xr[k] >= 0 ? 1 : er[k]) / (1 + er[k]) - tr[k]);
            else
                for (size_t k = 0; k < D; k++)
                    dr[k] += gr * ((xr[k] >= 0 ? 1 : er[k]) / (1 + er[k]) - tr[k]);
        });
    }
    tn_tensor *gt = ad__grad_buf(v->in[1]);
    for (size_t r = 0; gt && r < R; r++) /* rows sharing a target row add up: in order */
        for (size_t k = 0; k < D; k++)
            gt->data[(r % TR) * D + k] -= g[r] * x[r * D + k];
}
const ad_op_def ad__op_bce_logits_rows = {"bce_logits_rows", 2, bce_rows_shape, bce_rows_forward,
                                          bce_rows_backward};

/* y = -1/2 (1 + lv - mu² - e^lv)  (broadcast) */
static void kl_forward(ad_var *v)
{
    const tn_real *mu = ad__expanded(v, 0), *lv = ad__expanded(v, 1);
    if (!mu || !lv)
        return;
    for (size_t i = 0; i < v->val.size; i++)
        v->val.data[i] = (tn_real)-0.5 * (1 + lv[i] - mu[i] * mu[i] - exp(lv[i]));
}
/* dmu = g·mu, dlv = g·(e^lv - 1)/2 */
static void kl_backward(ad_var *v)
{
    const tn_real *mu = ad__expanded(v, 0), *lv = ad__expanded(v, 1);
    if (!mu || !lv)
        return;
    const tn_real *g = v->grad->data;
    tn_tensor *tmp;
    tn_real *d = ad__grad_full(v, 0, &tmp);
    for (size_t i = 0; d && i < v->val.size; i++)
        d[i] += g[i] * mu[i];
    ad__grad_reduce(v, 0, tmp);
    d = ad__grad_full(v, 1, &tmp);
    for (size_t i = 0; d && i < v->val.size; i++)
        d[i] += g[i] * (tn_real)0.5 * (exp(lv[i]) - 1);
    ad__grad_reduce(v, 1, tmp);
}
const ad_op_def ad__op_kl_normal = {"kl_normal", 2, ad__shape_broadcast, kl_forward, kl_backward};

/* z = mu + e^(lv/2) ⊙ eps, eps ~ N(0, I) from attr.rng, kept in v->saved:
 * in the float build drawn in bulk (tn_rng_normals, vectorized, several
 * times quicker than one at a time), in the double build one at a time
 * (tn_rng_fill_normal); the two builds draw different eps */
static void sample_forward(ad_var *v)
{
    v->saved = ad__scratch(v->tape, &v->val);
    if (!v->saved)
        return;
#ifdef TN_REAL_DOUBLE
    tn_rng_fill_normal(v->attr.rng, v->saved, 0, 1);
#else
    tn_rng_normals(v->attr.rng, v->saved->data, v->saved->size);
#endif
    const tn_real *mu = v->in[0]->val.data, *lv = v->in[1]->val.data;
    const tn_real *eps = v->saved->data;
    for (size_t i = 0; i < v->val.size; i++)
        v->val.data[i] = mu[i] + exp((tn_real)0.5 * lv[i]) * eps[i];
}
/* dmu = g, dlv = g·eps·e^(lv/2)/2 */
static void sample_backward(ad_var *v)
{
    const tn_real *lv = v->in[1]->val.data, *eps = v->saved->data;
    const tn_real *g = v->grad->data;
    tn_tensor *dmu = ad__grad_buf(v->in[0]);
    tn_tensor *dlv = ad__grad_buf(v->in[1]);
    if (dmu)
        tn_axpy(dmu, 1, v->grad);
    for (size_t i = 0; dlv && i < dlv->size; i++)
        dlv->data[i] += g[i] * eps[i] * (tn_real)0.5 * exp((tn_real)0.5 * lv[i]);
}
const ad_op_def ad__op_sample_normal = {"sample_normal", 2, ad__shape_same2, sample_forward, sample_backward};

/* Inputs that repeat (ad__period), read in place, in runs: the output's n
 * elements in runs of m, m the shortest period above 1 among the inputs.
 * A period is the product of some of the output's trailing sizes, so each
 * is a multiple of m, and input k's values for the run at i0 are the p[k]
 * - (i0 % p[k]) >= m values from i0 % p[k] on. A scalar input (period 1)
 * is filled out to m values in the arena. Within a run the loops are plain
 * element-wise loops, which vectorize (the wrap-around index they replace,
 * one branch an element, did not). */
typedef struct {
    const tn_real *x[3];
    size_t p[3], m;
    int scalar[3];
} runs;

/* 1: r set; 0: an input does not repeat (the copies' path); -1: no memory */
static int runs_of(ad_var *v, runs *r)
{
    r->m = v->val.size;
    for (int k = 0; k < 3; k++) {
        if (!(r->p[k] = ad__period(v, k)))
            return 0;
        if (r->p[k] > 1 && r->p[k] < r->m)
            r->m = r->p[k];
    }
    for (int k = 0; k < 3; k++) {
        r->x[k] = v->in[k]->val.data;
        r->scalar[k] = r->p[k] == 1 && r->m > 1;
        if (r->scalar[k]) {
            tn_tensor *s = ad__scratch(v->tape, &(tn_tensor){.ndim = 1, .shape = {r->m}});
            if (!s)
                return -1;
            tn_fill(s, r->x[k][0]);
            r->x[k] = s->data, r->p[k] = r->m;
        }
    }
    return 1;
}

/* e[i] = e^(a·x[i]): in the float build tn_exp_f, vectorized (3 ulp) */
TN_CLONES static void exp_run(const tn_real *restrict x, tn_real a, tn_real *restrict e, size_t lo, size_t hi)
{
    for (size_t i = lo; i < hi; i++)
        e[i] = EXP_ANY(a * x[i]);
}

/* e^(a·x) over input k's values as runs_of reads them (a scalar's taken
 * once and filled out), in the arena and kept in v->saved for backward:
 * where the input repeats (μ, log σ² under k samples) each exponential is
 * taken once, not once per sample */
static const tn_real *exp_of(ad_var *v, int k, const runs *r, tn_real a)
{
    tn_tensor *e = v->saved = ad__scratch(v->tape, &(tn_tensor){.ndim = 1, .shape = {r->p[k]}});
    if (!e)
        return NULL;
    if (r->scalar[k])
        tn_fill(e, exp(a * r->x[k][0]));
    else
        TN_PARTS(r->p[k], lo, hi, exp_run(r->x[k], a, e->data, lo, hi));
    return e->data;
}

/* A gradient over input k's values in runs: the input's own buffer, or for
 * a scalar, m zeros in the arena that scalar_done adds up into it */
static tn_real *runs_grad(ad_var *v, int k, const runs *r, tn_tensor **gk)
{
    *gk = ad__grad_buf(v->in[k]);
    if (!*gk || !r->scalar[k])
        return *gk ? (*gk)->data : NULL;
    tn_tensor *s = ad__scratch(v->tape, &(tn_tensor){.ndim = 1, .shape = {r->m}});
    if (s)
        tn_fill(s, 0);
    return s ? s->data : NULL;
}
static void scalar_done(const runs *r, int k, tn_tensor *gk, const tn_real *d)
{
    if (gk && d && r->scalar[k])
        for (size_t j = 0; j < r->m; j++)
            gk->data[0] += d[j];
}

/* z = mu + e^(lv/2) ⊙ eps with the caller's eps, all three broadcast:
 * mu, lv (N x d) and eps (k x N x d) give k samples per example. Inputs
 * that repeat along z are read in place (runs_of), the others expanded. */
static void sample_eps_forward(ad_var *v)
{
    size_t n = v->val.size;
    runs r;
    int in_place = runs_of(v, &r);
    if (in_place < 0)
        return;
    if (in_place) {
        const tn_real *s = exp_of(v, 1, &r, 0.5);
        for (size_t i0 = 0; s && i0 < n; i0 += r.m) {
            const tn_real *restrict mu = r.x[0] + i0 % r.p[0], *restrict e = s + i0 % r.p[1];
            const tn_real *restrict eps = r.x[2] + i0 % r.p[2];
            tn_real *restrict z = v->val.data + i0;
            for (size_t j = 0; j < r.m; j++)
                z[j] = mu[j] + e[j] * eps[j];
        }
        return;
    }
    const tn_real *mu = ad__expanded(v, 0), *lv = ad__expanded(v, 1);
    const tn_real *eps = ad__expanded(v, 2);
    if (!mu || !lv || !eps)
        return;
    tn_real *z = v->val.data;
    for (size_t i = 0; i < n; i++)
        z[i] = mu[i] + exp((tn_real)0.5 * lv[i]) * eps[i];
}
/* dmu = g, dlv = g·eps·e^(lv/2)/2, deps = g·e^(lv/2) (summed over broadcasts) */
static void sample_eps_backward(ad_var *v)
{
    size_t n = v->val.size;
    const tn_real *g = v->grad->data;
    runs r;
    int in_place = runs_of(v, &r);
    if (in_place < 0)
        return;
    if (in_place) {
        const tn_real *s = v->saved->data; /* e^(lv/2), forward's */
        tn_tensor *gk[3];
        tn_real *gm = runs_grad(v, 0, &r, &gk[0]), *gl = runs_grad(v, 1, &r, &gk[1]);
        tn_real *ge = runs_grad(v, 2, &r, &gk[2]);
        for (size_t i0 = 0; i0 < n; i0 += r.m) {
            const tn_real *restrict gi = g + i0, *restrict e = s + i0 % r.p[1];
            const tn_real *restrict eps = r.x[2] + i0 % r.p[2];
            tn_real *restrict dm = gm ? gm + i0 % r.p[0] : NULL, *restrict dl = gl ? gl + i0 % r.p[1] : NULL;
            tn_real *restrict de = ge ? ge + i0 % r.p[2] : NULL;
            for (size_t j = 0; dm && j < r.m; j++)
                dm[j] += gi[j];
            for (size_t j = 0; dl && j < r.m; j++)
                dl[j] += gi[j] * eps[j] * (tn_real)0.5 * e[j];
            for (size_t j = 0; de && j < r.m; j++)
                de[j] += gi[j] * e[j];
        }
        scalar_done(&r, 0, gk[0], gm), scalar_done(&r, 1, gk[1], gl), scalar_done(&r, 2, gk[2], ge);
        return;
    }
    const tn_real *lv = ad__expanded(v, 1), *eps = ad__expanded(v, 2);
    if (!lv || !eps)
        return;
    tn_tensor *tmp;
    tn_real *d = ad__grad_full(v, 0, &tmp);
    for (size_t i = 0; d && i < n; i++)
        d[i] += g[i];
    ad__grad_reduce(v, 0, tmp);
    d = ad__grad_full(v, 1, &tmp);
    for (size_t i = 0; d && i < n; i++)
        d[i] += g[i] * eps[i] * (tn_real)0.5 * exp((tn_real)0.5 * lv[i]);
    ad__grad_reduce(v, 1, tmp);
    d = ad__grad_full(v, 2, &tmp);
    for (size_t i = 0; d && i < n; i++)
        d[i] += g[i] * exp((tn_real)0.5 * lv[i]);
    ad__grad_reduce(v, 2, tmp);
}
const ad_op_def ad__op_sample_normal_eps = {"sample_normal_eps", 3, ad__shape_broadcast,
                                            sample_eps_forward, sample_eps_backward};

/* y = log N(x; mu, e^lv) = -1/2 (log 2π + lv + (x - mu)² e^-lv), broadcast;
 * inputs that repeat (the prior's scalar 0s, μ and log σ² under k samples)
 * are read in place (runs_of) and e^-lv taken once per element of lv */
#define LOG_2PI 1.8378770664093454836

/* Output elements [lo, hi) in pieces that stay within one run: at output
 * index i, piece of len elements, input k's values from r->x[k] + i % p[k] */
#define RUN_PIECES(r, lo, hi, i, len, ...)                                  \
    for (size_t i = (lo), len; i < (hi); i += len) {                        \
        len = (r)->m - i % (r)->m;                                          \
        len = len < (hi) - i ? len : (hi) - i;                              \
        __VA_ARGS__                                                         \
    }

TN_CLONES static void gauss_fwd_part(const runs *r, const tn_real *w, tn_real *out, size_t lo, size_t hi)
{
    RUN_PIECES(r, lo, hi, i, len, {
        const tn_real *restrict x = r->x[0] + i % r->p[0], *restrict mu = r->x[1] + i % r->p[1];
        const tn_real *restrict lv = r->x[2] + i % r->p[2], *restrict e = w + i % r->p[2];
        tn_real *restrict y = out + i;
        for (size_t j = 0; j < len; j++) {
            tn_real d = x[j] - mu[j];
            y[j] = (tn_real)-0.5 * ((tn_real)LOG_2PI + lv[j] + d * d * e[j]);
        }
    })
}
/* dx = -g (x - mu) e^-lv, dmu = -dx, dlv = g ((x - mu)² e^-lv - 1)/2, into
 * input k's gradient d over output elements [lo, hi) */
TN_CLONES static void gauss_back_part(const runs *r, const tn_real *w, const tn_real *g, int k, tn_real *d,
                                      size_t lo, size_t hi)
{
    RUN_PIECES(r, lo, hi, i, len, {
        const tn_real *restrict x = r->x[0] + i % r->p[0], *restrict mu = r->x[1] + i % r->p[1];
        const tn_real *restrict e = w + i % r->p[2], *restrict gi = g + i;
        tn_real *restrict dk = d + i % r->p[k];
        if (k == 0)
            for (size_t j = 0; j < len; j++)
                dk[j] += -gi[j] * ((x[j] - mu[j]) * e[j]);
        else if (k == 1)
            for (size_t j = 0; j < len; j++)
                dk[j] += gi[j] * ((x[j] - mu[j]) * e[j]);
        else
            for (size_t j = 0; j < len; j++)
                dk[j] += gi[j] * (tn_real)0.5 * ((x[j] - mu[j]) * e[j] * (x[j] - mu[j]) - 1);
    })
}

TN_CLONES static void gauss_back_all(const tn_real *restrict x, const tn_real *restrict mu,
                                     const tn_real *restrict e, const tn_real *restrict g, tn_real *restrict dx,
                                     tn_real *restrict dmu, tn_real *restrict dlv, size_t lo, size_t hi)
{
    for (size_t i = lo; i < hi; i++) {
        dx[i] += -g[i] * ((x[i] - mu[i]) * e[i]);
        dmu[i] += g[i] * ((x[i] - mu[i]) * e[i]);
        dlv[i] += g[i] * (tn_real)0.5 * ((x[i] - mu[i]) * e[i] * (x[i] - mu[i]) - 1);
    }
}
/* the forward where log σ² does not repeat: e^-lv kept in e, in the same pass */
TN_CLONES static void gauss_fwd_all(const tn_real *restrict x, const tn_real *restrict mu,
                                    const tn_real *restrict lv, tn_real *restrict e, tn_real *restrict y,
                                    size_t lo, size_t hi)
{
    for (size_t i = lo; i < hi; i++) {
        tn_real d = x[i] - mu[i];
        e[i] = EXP_ANY(-lv[i]);
        y[i] = (tn_real)-0.5 * ((tn_real)LOG_2PI + lv[i] + d * d * e[i]);
    }
}

static void gauss_forward(ad_var *v)
{
    size_t n = v->val.size;
    runs r;
    int in_place = runs_of(v, &r);
    if (in_place < 0)
        return;
    if (in_place && r.p[0] == n && r.p[1] == n && r.p[2] == n) {
        tn_tensor *e = v->saved = ad__scratch(v->tape, &v->val);
        if (e)
            TN_PARTS(n, lo, hi, gauss_fwd_all(r.x[0], r.x[1], r.x[2], e->data, v->val.data, lo, hi));
        return;
    }
    if (in_place) {
        const tn_real *w = exp_of(v, 2, &r, -1);
        if (w)
            TN_PARTS(n, lo, hi, gauss_fwd_part(&r, w, v->val.data, lo, hi));
        return;
    }
    const tn_real *x = ad__expanded(v, 0), *mu = ad__expanded(v, 1);
    const tn_real *lv = ad__expanded(v, 2);
    if (!x || !mu || !lv)
        return;
    tn_real *y = v->val.data;
    for (size_t i = 0; i < n; i++) {
        tn_real d = x[i] - mu[i];
        y[i] = (tn_real)-0.5 * ((tn_real)LOG_2PI + lv[i] + d * d * exp(-lv[i]));
    }
}
/* dx = -g (x - mu) e^-lv, dmu = -dx, dlv = g ((x - mu)² e^-lv - 1)/2 */
static void gauss_backward(ad_var *v)
{
    size_t n = v->val.size;
    const tn_real *g = v->grad->data;
    runs r;
    int in_place = runs_of(v, &r);
    if (in_place < 0)
        return;
    if (in_place) {
        const tn_real *w = v->saved->data; /* e^-lv, forward's */
        tn_tensor *d3[3] = {ad__grad_buf(v->in[0]), ad__grad_buf(v->in[1]), ad__grad_buf(v->in[2])};
        int whole = 1; /* no input repeats, none is a scalar filled out */
        for (int k = 0; k < 3; k++)
            whole &= d3[k] && r.p[k] == n && !r.scalar[k];
        if (whole) { /* the three gradients in one pass over x, mu, e, g */
            TN_PARTS(n, lo, hi, gauss_back_all(r.x[0], r.x[1], w, g, d3[0]->data, d3[1]->data, d3[2]->data, lo, hi));
            return;
        }
        for (int k = 0; k < 3; k++) { /* one input at a time, as the copies' path */
            tn_tensor *gk;
            tn_real *d = runs_grad(v, k, &r, &gk);
            if (d && r.p[k] == n && !r.scalar[k]) /* each output its own gradient element: over the threads */
                TN_PARTS(n, lo, hi, gauss_back_part(&r, w, g, k, d, lo, hi));
            else if (d) /* repeats add into one element: in order, on one thread */
                gauss_back_part(&r, w, g, k, d, 0, n);
            scalar_done(&r, k, gk, d);
        }
        return;
    }
    const tn_real *x = ad__expanded(v, 0), *mu = ad__expanded(v, 1);
    const tn_real *lv = ad__expanded(v, 2);
    if (!x || !mu || !lv)
        return;
    for (int k = 0; k < 3; k++) {
        tn_tensor *tmp;
        tn_real *d = ad__grad_full(v, k, &tmp);
        for (size_t i = 0; d && i < n; i++) {
            tn_real r = (x[i] - mu[i]) * exp(-lv[i]);
            d[i] += k == 0 ? -g[i] * r
                  : k == 1 ? g[i] * r
                           : g[i] * (tn_real)0.5 * (r * (x[i] - mu[i]) - 1);
        }
        ad__grad_reduce(v, k, tmp);
    }
}
const ad_op_def ad__op_gaussian_logp = {"gaussian_logp", 3, ad__shape_broadcast, gauss_forward, gauss_backward};

/* y = x ⊙ m, m_i = [U_i >= p] / (1 - p) from attr.rng, p = f[0]; m is kept */
static void dropout_forward(ad_var *v)
{
    v->saved = ad__scratch(v->tape, &v->val);
    if (!v->saved)
        return;
    tn_real p = (tn_real)v->attr.f[0], keep = 1 / (1 - p);
    for (size_t i = 0; i < v->val.size; i++) {
        v->saved->data[i] = tn_rng_uniform(v->attr.rng) >= p ? keep : 0;
        v->val.data[i] = v->in[0]->val.data[i] * v->saved->data[i];
    }
}
/* dx = g ⊙ m */
static void dropout_backward(ad_var *v)
{
    tn_tensor *dx = ad__grad_buf(v->in[0]);
    for (size_t i = 0; dx && i < dx->size; i++)
        dx->data[i] += v->grad->data[i] * v->saved->data[i];
}
const ad_op_def ad__op_dropout = {"dropout", 1, ad__shape_same, dropout_forward, dropout_backward};

ad_var *ad_bce_logits(ad_var *x, ad_var *t) { return ad__record(AD_OP_BCE_LOGITS, x, t, NULL, NULL); }
ad_var *ad_bce_logits_rows(ad_var *x, ad_var *t)
{
    return ad__record(AD_OP_BCE_LOGITS_ROWS, x, t, NULL, NULL);
}
ad_var *ad_kl_normal(ad_var *mu, ad_var *lv) { return ad__record(AD_OP_KL_NORMAL, mu, lv, NULL, NULL); }

ad_var *ad_sample_normal(ad_var *mu, ad_var *logvar, tn_rng *rng)
{
    if (!rng) {
        ad_tape *t = mu ? mu->tape : logvar ? logvar->tape : NULL;
        if (t)
            ad_tape_fail(t, "sample_normal: no random generator given");
        return NULL;
    }
    ad_attr at = {.rng = rng};
    return ad__record(AD_OP_SAMPLE_NORMAL, mu, logvar, NULL, &at);
}

ad_var *ad_bernoulli_logp(ad_var *x, ad_var *logits)
{
    ad_attr at = {.i = {1}}; /* BCE negated in the op: one pass, not two ops */
    return ad__record(AD_OP_BCE_LOGITS, logits, x, NULL, &at);
}

ad_var *ad_sample_normal_eps(ad_var *mu, ad_var *logvar, ad_var *eps)
{
    return ad__record(AD_OP_SAMPLE_NORMAL_EPS, mu, logvar, eps, NULL);
}

ad_var *ad_gaussian_logp(ad_var *x, ad_var *mu, ad_var *logvar)
{
    return ad__record(AD_OP_GAUSSIAN_LOGP, x, mu, logvar, NULL);
}

ad_var *ad_dropout(ad_var *x, tn_real p, tn_rng *rng)
{
    if (!x)
        return NULL;
    if (!(p >= 0 && p < 1) || !rng) {
        ad_tape_fail(x->tape, rng ? "dropout: probability %g, expected 0 <= p < 1"
                                  : "dropout: no random generator given (p = %g)", (double)p);
        return NULL;
    }
    if (!ad_grad_enabled(x->tape) || p == 0)
        return x; /* evaluation: the identity */
    ad_attr at = {.f = {p}, .rng = rng};
    return ad__record(AD_OP_DROPOUT, x, NULL, NULL, &at);
}

ad_var *ad_bernoulli_sample(ad_var *p, tn_rng *rng)
{
    if (!p)
        return NULL;
    if (!rng) {
        ad_tape_fail(p->tape, "bernoulli_sample: no random generator given");
        return NULL;
    }
    ad_var *s = ad_const_new(p->tape, p->val.ndim, p->val.shape);
    for (size_t i = 0; s && i < s->val.size; i++)
        s->val.data[i] = tn_rng_uniform(rng) < p->val.data[i];
    return s;
}

ad_var *ad_randn(ad_tape *t, int ndim, const size_t *shape, tn_rng *rng)
{
    if (!t)
        return NULL;
    if (!rng) {
        ad_tape_fail(t, "randn: no random generator given");
        return NULL;
    }
    ad_var *v = ad_const_new(t, ndim, shape);
#ifdef TN_REAL_DOUBLE
    if (v)
        tn_rng_fill_normal(rng, &v->val, 0, 1);
#else
    if (v) /* in bulk: an IWAE step's k·N·latent draws (`bench rng`) */
        tn_rng_normals(rng, v->val.data, v->val.size);
#endif
    return v;
}
