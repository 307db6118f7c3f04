/* gradcheck.c: backward's gradients against central differences, element by
 * element, for users' ops and models as much as for our own tests. */
#include "ad_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    ad_fn f;
    void *ctx;
    tn_tensor *const *inputs;
    tn_tensor **grads;
    int n;
    tn_tensor *weights; /* Σ w·f for outputs of more than one element */
    ad_tape *tape;
} check;

/* One evaluation on a fresh step; NULL with the tape's error on failure. */
static ad_var *evaluate(check *c)
{
    ad_var *vars[16];
    ad_tape_reset(c->tape);
    for (int i = 0; i < c->n; i++)
        vars[i] = ad_param(c->tape, c->inputs[i], c->grads[i]);
    ad_var *y = c->f(c->tape, vars, c->ctx);
    if (!y)
        return NULL;
    if (y->val.size == 1)
        return y;
    if (!c->weights) {
        tn_rng r;
        tn_rng_seed(&r, 12345, 7);
        c->weights = tn_new(y->val.ndim, y->val.shape);
        if (!c->weights) {
            ad_tape_fail(c->tape, "gradcheck: out of memory");
            return NULL;
        }
        tn_rng_fill_uniform(&r, c->weights, (tn_real)0.5, (tn_real)1.5);
    }
    return ad_sum(ad_mul(y, ad_const(c->tape, c->weights)));
}

static double report_error(ad_gradcheck_report *rep, const char *msg)
{
    if (rep)
        snprintf(rep->error, sizeof rep->error, "%s", msg);
    return -1;
}

double ad_gradcheck(ad_fn f, void *ctx, tn_tensor *const *inputs, int n,
                    double eps, ad_gradcheck_report *rep)
{
    if (rep)
        memset(rep, 0, sizeof *rep);
    if (n < 1 || n > 16)
        return report_error(rep, "gradcheck: takes 1 to 16 inputs");
    tn_tensor *grads[16] = {0};
    check c = {f, ctx, inputs, grads, n, NULL, ad_tape_new(0)};
    double worst = -1;
    if (!c.tape)
        return report_error(rep, "gradcheck: out of memory");
    for (int i = 0; i < n; i++)
        if (!(grads[i] = tn_new(inputs[i]->ndim, inputs[i]->shape)))
            goto out;
    ad_var *loss = evaluate(&c);
    if (!loss || ad_backward(c.tape, loss) != 0) {
        report_error(rep, ad_tape_error(c.tape));
        goto out;
    }
    ad_set_grad_enabled(c.tape, 0);
    worst = 0;
    for (int i = 0; i < n; i++) {
        tn_real *x = inputs[i]->data;
        for (size_t j = 0; j < inputs[i]->size; j++) {
            tn_real keep = x[j];
            x[j] = (tn_real)(keep + eps);
            double up = ad_item(evaluate(&c));
            x[j] = (tn_real)(keep - eps);
            double down = ad_item(evaluate(&c));
            x[j] = keep;
            if (!ad_tape_ok(c.tape)) {
                worst = report_error(rep, ad_tape_error(c.tape));
                goto out;
            }
            /* the step actually taken, after rounding to tn_real */
            double h = (double)(tn_real)(keep + eps) - (double)(tn_real)(keep - eps);
            double num = (up - down) / h, ana = grads[i]->data[j];
            double den = fmax(1.0, fmax(fabs(ana), fabs(num)));
            double err = fabs(ana - num) / den;
            if (!(err <= worst)) { /* also catches NaN */
                worst = isnan(err) ? INFINITY : err;
                if (rep) {
                    rep->input = i;
                    rep->index = j;
                    rep->analytic = ana;
                    rep->numeric = num;
                }
            }
        }
    }
out:
    for (int i = 0; i < n; i++)
        tn_free(grads[i]);
    tn_free(c.weights);
    ad_tape_free(c.tape);
    if (worst < 0 && rep && !rep->error[0])
        snprintf(rep->error, sizeof rep->error, "gradcheck: out of memory");
    return worst;
}
