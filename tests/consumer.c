/* consumer.c: a user's program, compiled against the installed headers and
 * library through pkg-config: fits y = 3x by gradient descent, then builds
 * a VAE through the installed model.h. */
#include <tape/ad.h>
#include <tape/model.h>
#include <stdio.h>
#include <tape/tn.h>

int main(void)
{
    tn_tensor *w = tn_new(1, (const size_t[]){1}), *g = tn_new(1, (const size_t[]){1});
    tn_tensor *x = tn_new(1, (const size_t[]){4}), *y = tn_new(1, (const size_t[]){4});
    ad_tape *t = ad_tape_new(0);
    for (int i = 0; i < 4; i++)
        x->data[i] = (tn_real)i, y->data[i] = (tn_real)(3 * i);
    for (int step = 0; step < 100; step++) {
        ad_tape_reset(t);
        ad_var *pred = ad_mul(ad_param(t, w, g), ad_const(t, x));
        ad_var *loss = ad_mean(ad_square(ad_sub(pred, ad_const(t, y))));
        if (ad_backward(t, loss) != 0) {
            fprintf(stderr, "consumer: %s\n", ad_tape_error(t));
            return 1;
        }
        w->data[0] -= (tn_real)0.1 * g->data[0];
        g->data[0] = 0;
    }
    int ok = w->data[0] > 2.99 && w->data[0] < 3.01;
    printf("w = %g (expected 3)\n", (double)w->data[0]);
    ad_tape_free(t);
    tn_free(w), tn_free(g), tn_free(x), tn_free(y);
    nn_error err;
    tn_rng rng;
    tn_rng_seed(&rng, 1, 1);
    model_config c = model_defaults(MODEL_VAE);
    model *m = model_new(&c, &rng, &err);
    if (!m || nn_params_size(m->params) != 652824) {
        fprintf(stderr, "consumer: %s\n", m ? "wrong parameter count" : err.msg);
        return 1;
    }
    printf("VAE 784-400-20: %zu parameters\n", nn_params_size(m->params));
    model_free(m);
    return ok ? 0 : 1;
}
