/* check.c: the gradient check of a user's loss callback on real data, over
 * every parameter tensor of its store, element by element, with elements
 * that sit within eps of a kink told apart; and nn_check_loss, the check
 * with the eps and tolerance of the build. */
#include "trainer.h"

#include <math.h>
#include <stdio.h>

/* The loss's value with the generator reseeded: the same function each call. */
static double eval(nn_loss_fn loss, void *model, ad_tape *t, const nn_batch *b, uint64_t seed)
{
    tn_rng r;
    nn_scalars s = {0};
    tn_rng_seed(&r, seed, 9);
    ad_tape_reset(t);
    nn_step st = {&r, 0, &s};
    return ad_item(loss(model, t, b, &st));
}

/* The checks' common start: arguments, a tape, backward's gradient in p
 * and the loss's value at the unperturbed weights in *base. NULL with
 * rep->error set. */
static ad_tape *start(nn_loss_fn loss, void *model, nn_params *p, const nn_batch *b, uint64_t seed,
                      double eps, double *base, ad_gradcheck_report *rep)
{
    if (!(eps > 0 && isfinite(eps))) {
        snprintf(rep->error, sizeof rep->error, "gradient check: eps %g: expected a finite number > 0", eps);
        return NULL;
    }
    if (!b || (b->x.size && !b->x.data)) {
        snprintf(rep->error, sizeof rep->error, "gradient check: the batch has no values (x.data is NULL; "
                 "a dataset stored as bytes gives its rows as floats through nn_data_rows)");
        return NULL;
    }
    ad_tape *t = ad_tape_new(0);
    if (!t) {
        snprintf(rep->error, sizeof rep->error, "gradient check: out of memory");
        return NULL;
    }
    ad_set_transparent(t, 1); /* stop-gradients out: one function, value and gradient */
    tn_rng r;
    nn_scalars s = {0};
    tn_rng_seed(&r, seed, 9);
    nn_params_zero_grad(p);
    nn_step st = {&r, 0, &s};
    ad_var *l = loss(model, t, b, &st);
    if (!l || ad_backward(t, l)) {
        snprintf(rep->error, sizeof rep->error, "gradient check: %s", ad_tape_error(t));
        ad_tape_free(t);
        return NULL;
    }
    *base = ad_item(l);
    return t;
}

static double rel_error(double a, double n) { return fabs(a - n) / fmax(1.0, fmax(fabs(a), fabs(n))); }

double nn_gradcheck_loss(nn_loss_fn loss, void *model, nn_params *p, const nn_batch *b,
                         uint64_t seed, double eps, size_t per_tensor, ad_gradcheck_report *rep)
{
    ad_gradcheck_report local;
    if (!rep)
        rep = &local;
    *rep = (ad_gradcheck_report){0};
    double base; /* f at the unperturbed weights */
    ad_tape *t = start(loss, model, p, b, seed, eps, &base, rep);
    if (!t)
        return -1;
    tn_rng pick;
    tn_rng_seed(&pick, seed, 10);
    double worst = 0;
    /* an element whose central difference disagrees by more than this is
     * measured again with half the step: a kink (relu, abs, clamp, max)
     * within eps, or rounding, moves the measured slope; a wrong gradient
     * does not move */
    const double suspect = sizeof(tn_real) == 4 ? 5e-3 : 5e-7;
    for (int i = 0; i < nn_params_count(p); i++) {
        tn_tensor *v = nn_params_value(p, i), *g = nn_params_grad(p, i);
        size_t n = per_tensor && per_tensor < v->size ? per_tensor : v->size;
        for (size_t c = 0; c < n; c++) {
            size_t j = n == v->size ? c : tn_rng_below(&pick, (uint32_t)(v->size < 0xffffffffu ? v->size : 0xffffffffu));
            tn_real keep = v->data[j];
            v->data[j] = (tn_real)(keep + eps);
            double up = eval(loss, model, t, b, seed);
            v->data[j] = (tn_real)(keep - eps);
            double down = eval(loss, model, t, b, seed);
            v->data[j] = keep;
            if (!ad_tape_ok(t)) {
                snprintf(rep->error, sizeof rep->error, "gradient check: %s", ad_tape_error(t));
                ad_tape_free(t);
                return -1;
            }
            /* the steps actually taken, after rounding to tn_real */
            double hu = (double)(tn_real)(keep + eps) - (double)keep;
            double hd = (double)keep - (double)(tn_real)(keep - eps);
            if (hu == 0 || hd == 0) {
                snprintf(rep->error, sizeof rep->error, "gradient check: eps %g does not change %s[%zu] = %g "
                         "in %s: give a larger eps", eps, nn_params_name(p, i), j, (double)keep, TN_REAL_NAME);
                ad_tape_free(t);
                return -1;
            }
            double num = (up - down) / (hu + hd), ana = g->data[j];
            double err = rel_error(ana, num);
            if (err > suspect) { /* the slope again from half the step */
                v->data[j] = (tn_real)(keep + eps / 2);
                double up2 = eval(loss, model, t, b, seed);
                v->data[j] = (tn_real)(keep - eps / 2);
                double down2 = eval(loss, model, t, b, seed);
                v->data[j] = keep;
                double h2 = ((double)(tn_real)(keep + eps / 2) - (double)(tn_real)(keep - eps / 2));
                double num2 = h2 != 0 ? (up2 - down2) / h2 : num;
                /* a wrong gradient disagrees with a slope that the two steps
                 * agree on; a slope that moves with the step is a kink (or
                 * rounding) within eps, which central differences cannot
                 * resolve: counted apart */
                if (rel_error(num, num2) > 0.25 * err) {
                    rep->kinks++;
                    continue;
                }
                /* a kink right at the weight: both steps straddle it alike,
                 * but its two one-sided slopes differ and backward's value
                 * is one of them */
                double right = (up - base) / hu, left = (base - down) / hd;
                if (rel_error(left, right) > 10 * suspect &&
                    fmin(rel_error(ana, left), rel_error(ana, right)) < 0.25 * err) {
                    rep->kinks++;
                    continue;
                }
            }
            rep->checked++;
            if (!(err <= worst)) { /* NaN too */
                worst = isnan(err) ? INFINITY : err;
                rep->input = i, rep->index = j, rep->analytic = ana, rep->numeric = num;
            }
        }
    }
    ad_tape_free(t);
    return worst;
}

int nn_check_loss(nn_loss_fn loss, void *model, nn_params *p, const nn_batch *b, uint64_t seed,
                  double *worst, ad_gradcheck_report *rep)
{
    ad_gradcheck_report local;
    if (!rep)
        rep = &local;
    double w = nn_gradcheck_loss(loss, model, p, b, seed, NN_CHECK_EPS, NN_CHECK_PER_TENSOR, rep);
    if (worst)
        *worst = w;
    return w < 0 ? -1 : w <= NN_CHECK_TOL ? 0 : 1;
}

int nn_check_data(nn_loss_fn loss, void *model, nn_params *p, const nn_dataset *d, uint64_t seed,
                  nn_log_fn log, void *log_ctx, nn_error *err)
{
    if (!d || !d->n || !d->x)
        return nn_fail(err, "gradient check: %s", !d || !d->n ? "no examples" : "the data are bytes (x8): "
                       "nn_data_floats() first");
    size_t n = d->n < NN_CHECK_ROWS ? d->n : NN_CHECK_ROWS;
    nn_batch b = {tn_wrap(d->x, 2, (const size_t[]){n, d->dim}), d->labels, n};
    ad_gradcheck_report rep;
    double worst;
    int rc = nn_check_loss(loss, model, p, &b, seed, &worst, &rep);
    if (rc < 0)
        return nn_fail(err, "%s", rep.error);
    nn_logf(log, log_ctx, NN_LOG_INFO, "gradient check (%s, eps %g, %d elements a tensor, %zu rows): worst "
            "relative error %.3g at %s[%zu] (analytic %.6g, numeric %.6g), tolerance %g: %s; %zu element%s "
            "whose slope eps cannot resolve (a kink or rounding) left out", TN_REAL_NAME, NN_CHECK_EPS, NN_CHECK_PER_TENSOR, n, worst,
            nn_params_name(p, rep.input), rep.index, rep.analytic, rep.numeric, NN_CHECK_TOL,
            rc ? "FAILED" : "passed", rep.kinks, rep.kinks == 1 ? "" : "s");
    if (rc)
        nn_fail(err, "the gradient check failed: worst relative error %.3g at %s[%zu], tolerance %g", worst,
                nn_params_name(p, rep.input), rep.index, NN_CHECK_TOL);
    return rc;
}
