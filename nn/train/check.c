/* check.c: nn_gradcheck_loss, the gradient check of a user's loss callback
 * on real data, over every parameter tensor of its store. */
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
    return ad_item(loss(model, t, b, &r, 0, &s));
}

double nn_gradcheck_loss(nn_loss_fn loss, void *model, nn_params *p, const nn_batch *b,
                         uint64_t seed, double eps, size_t per_tensor, ad_gradcheck_report *rep)
{
    ad_gradcheck_report local;
    if (!rep)
        rep = &local;
    *rep = (ad_gradcheck_report){0};
    if (!(eps > 0 && isfinite(eps))) {
        snprintf(rep->error, sizeof rep->error, "gradient check: eps %g: expected a finite number > 0", eps);
        return -1;
    }
    if (!b || (b->x.size && !b->x.data)) {
        snprintf(rep->error, sizeof rep->error, "gradient check: the batch has no values (x.data is NULL; "
                 "a dataset stored as bytes gives its rows as floats through nn_data_rows)");
        return -1;
    }
    ad_tape *t = ad_tape_new(0);
    if (!t) {
        snprintf(rep->error, sizeof rep->error, "gradient check: out of memory");
        return -1;
    }
    tn_rng r, pick;
    nn_scalars s = {0};
    tn_rng_seed(&r, seed, 9);
    tn_rng_seed(&pick, seed, 10);
    nn_params_zero_grad(p);
    ad_var *l = loss(model, t, b, &r, 0, &s);
    if (!l || ad_backward(t, l)) {
        snprintf(rep->error, sizeof rep->error, "gradient check: %s", ad_tape_error(t));
        ad_tape_free(t);
        return -1;
    }
    double worst = 0;
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
            /* the step actually taken, after rounding to tn_real */
            double h = (double)(tn_real)(keep + eps) - (double)(tn_real)(keep - eps);
            if (h == 0) {
                snprintf(rep->error, sizeof rep->error, "gradient check: eps %g does not change %s[%zu] = %g "
                         "in %s: give a larger eps", eps, nn_params_name(p, i), j, (double)keep, TN_REAL_NAME);
                ad_tape_free(t);
                return -1;
            }
            double num = (up - down) / h, ana = g->data[j];
            double err = fabs(ana - num) / fmax(1.0, fmax(fabs(ana), fabs(num)));
            if (!(err <= worst)) { /* NaN too */
                worst = isnan(err) ? INFINITY : err;
                rep->input = i, rep->index = j, rep->analytic = ana, rep->numeric = num;
            }
        }
    }
    ad_tape_free(t);
    nn_params_zero_grad(p);
    return worst;
}
