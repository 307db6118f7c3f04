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
    tn_tensor *const *grads;
    int n;
    int leaves;         /* make the inputs' leaves here (else f does) */
    tn_tensor *weights; /* Σ w·f for outputs of more than one element */
    ad_tape *tape;
    double eps;
} check;

/* One evaluation on a fresh step; NULL with the tape's error on failure. */
static ad_var *evaluate(check *c)
{
    ad_var *vars[16] = {0};
    ad_tape_reset(c->tape);
    for (int i = 0; c->leaves && i < c->n; i++)
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

/* Backward's gradients (already in c->grads) against central differences. */
static double compare(check *c, ad_gradcheck_report *rep)
{
    double worst = 0;
    /* the differences are taken in the mode backward ran in (gradients on):
     * an op that behaves differently in evaluation, such as dropout, must be
     * the same function in both */
    for (int i = 0; i < c->n; i++) {
        tn_real *x = c->inputs[i]->data;
        for (size_t j = 0; j < c->inputs[i]->size; j++) {
            tn_real keep = x[j];
            x[j] = (tn_real)(keep + c->eps);
            double up = ad_item(evaluate(c));
            x[j] = (tn_real)(keep - c->eps);
            double down = ad_item(evaluate(c));
            x[j] = keep;
            if (!ad_tape_ok(c->tape))
                return report_error(rep, ad_tape_error(c->tape));
            /* the step actually taken, after rounding to tn_real */
            double h = (double)(tn_real)(keep + c->eps) - (double)(tn_real)(keep - c->eps);
            double num = (up - down) / h, ana = c->grads[i]->data[j];
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
    return worst;
}

static double run(check *c, ad_gradcheck_report *rep)
{
    if (rep)
        memset(rep, 0, sizeof *rep);
    if (!(c->tape = ad_tape_new(0)))
        return report_error(rep, "gradcheck: out of memory");
    for (int i = 0; i < c->n; i++)
        tn_fill(c->grads[i], 0);
    double worst;
    ad_var *loss = evaluate(c);
    if (!loss || ad_backward(c->tape, loss) != 0)
        worst = report_error(rep, ad_tape_error(c->tape));
    else
        worst = compare(c, rep);
    tn_free(c->weights);
    ad_tape_free(c->tape);
    return worst;
}

double ad_gradcheck(ad_fn f, void *ctx, tn_tensor *const *inputs, int n,
                    double eps, ad_gradcheck_report *rep)
{
    if (n < 1 || n > 16)
        return report_error(rep, "gradcheck: takes 1 to 16 inputs");
    tn_tensor *grads[16] = {0};
    double worst = -1;
    for (int i = 0; i < n; i++)
        if (!(grads[i] = tn_new(inputs[i]->ndim, inputs[i]->shape))) {
            worst = report_error(rep, "gradcheck: out of memory");
            goto out;
        }
    check c = {f, ctx, inputs, grads, n, 1, NULL, NULL, eps};
    worst = run(&c, rep);
out:
    for (int i = 0; i < n; i++)
        tn_free(grads[i]);
    return worst;
}

double ad_gradcheck_model(ad_fn f, void *ctx, tn_tensor *const *values,
                          tn_tensor *const *grads, int n, double eps,
                          ad_gradcheck_report *rep)
{
    if (n < 1)
        return report_error(rep, "gradcheck: no tensors to check");
    check c = {f, ctx, values, grads, n, 0, NULL, NULL, eps};
    return run(&c, rep);
}
