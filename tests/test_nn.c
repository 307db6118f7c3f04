/* test_nn.c: the parameter store, layers, initialisers, every loss (values
 * by hand and gradient checks) and every optimizer against PyTorch's updates. */
#include "nn.h"
#include "test.h"

#define SHAPE(...) (const size_t[]){__VA_ARGS__}

void test_params_store(void)
{
    nn_error err;
    nn_params *p = nn_params_new();
    nn_mlp m;
    const size_t w[3] = {5, 4, 3};
    const nn_act a[2] = {NN_ACT_RELU, NN_ACT_NONE};
    CHECK(nn_mlp_init(&m, p, "encoder", 3, w, a, &err) == 0);
    CHECK(nn_params_count(p) == 4);
    CHECK(strcmp(nn_params_name(p, 0), "encoder.0.weight") == 0);
    CHECK(strcmp(nn_params_name(p, 3), "encoder.1.bias") == 0);
    CHECK(nn_params_size(p) == 5 * 4 + 4 + 4 * 3 + 3);
    CHECK(nn_params_add(p, "encoder.0.weight", 1, SHAPE(2), &err) == -1);
    CHECK_STR_HAS(err.msg, "declared twice");
    CHECK(nn_params_alloc(p, &err) == 0);
    /* one block: the tensors are consecutive views into it */
    CHECK(nn_params_value(p, 0)->data == nn_params_values(p));
    CHECK(nn_params_value(p, 1)->data == nn_params_values(p) + 20);
    CHECK(nn_params_grad(p, 3)->data == nn_params_grads(p) + 20 + 4 + 12);
    CHECK(nn_params_value(p, 0)->shape[0] == 4 && nn_params_value(p, 0)->shape[1] == 5);
    CHECK(nn_params_find(p, "encoder.1.weight") == 2 && nn_params_find(p, "x") == -1);
    CHECK(nn_params_add(p, "late", 1, SHAPE(2), &err) == -1);
    CHECK_STR_HAS(err.msg, "after nn_params_alloc");
    nn_params_free(p);
}

void test_initialisers(void)
{
    nn_params *p = nn_params_new();
    nn_error err;
    nn_linear l;
    CHECK(nn_linear_init(&l, p, "fc", 300, 200, &err) == 0 && nn_params_alloc(p, &err) == 0);
    tn_rng r;
    tn_rng_seed(&r, 1, 0);
    tn_tensor *W = nn_params_value(p, l.w), *b = nn_params_value(p, l.b);
    tn_fill(b, 5);
    nn_params_init(p, NN_INIT_GLOROT_UNIFORM, 0, &r);
    double lim = sqrt(6.0 / 500), mx = 0, ss = 0;
    for (size_t i = 0; i < W->size; i++)
        mx = fmax(mx, fabs(W->data[i])), ss += W->data[i] * W->data[i];
    CHECK(mx <= lim && mx > 0.99 * lim);
    CHECK_NEAR(ss / (double)W->size, lim * lim / 3, 0.05 * lim * lim / 3); /* var of U(±a) */
    CHECK(b->data[0] == 0 && b->data[199] == 0);
    nn_params_init(p, NN_INIT_HE_NORMAL, 0, &r);
    ss = 0;
    for (size_t i = 0; i < W->size; i++)
        ss += W->data[i] * W->data[i];
    CHECK_NEAR(ss / (double)W->size, 2.0 / 300, 0.05 * 2.0 / 300);
    nn_params_init(p, NN_INIT_NORMAL, 0.01, &r);
    ss = 0;
    for (size_t i = 0; i < W->size; i++)
        ss += W->data[i] * W->data[i];
    CHECK_NEAR(sqrt(ss / (double)W->size), 0.01, 0.0005);
    CHECK(b->data[0] == 0);
    nn_params_init(p, NN_INIT_TORCH, 0, &r);
    double bw = 0, bb = 0;
    for (size_t i = 0; i < W->size; i++)
        bw = fmax(bw, fabs(W->data[i]));
    for (size_t i = 0; i < b->size; i++)
        bb = fmax(bb, fabs(b->data[i]));
    CHECK(bw <= 1 / sqrt(300.0) && bw > 0.99 / sqrt(300.0));
    CHECK(bb <= 1 / sqrt(300.0) && bb > 0.9 / sqrt(300.0)); /* biases too */
    nn_init k;
    CHECK(nn_init_parse("torch", &k) == 0 && k == NN_INIT_TORCH);
    CHECK(strcmp(nn_init_name(NN_INIT_GLOROT_UNIFORM), "glorot") == 0);
    nn_params_free(p);
}

void test_mlp_forward_values(void)
{
    nn_params *p = nn_params_new();
    nn_mlp m;
    nn_error err;
    CHECK(nn_mlp_init(&m, p, "f", 3, SHAPE(2, 2, 1), (const nn_act[]){NN_ACT_RELU, NN_ACT_SIGMOID}, &err) == 0);
    CHECK(nn_params_alloc(p, &err) == 0);
    /* W0 = [1 -1; 2 0], b0 = [0, -1], W1 = [1 1], b1 = [0.5] */
    const double v[] = {1, -1, 2, 0, 0, -1, 1, 1, 0.5};
    for (int i = 0; i < 9; i++)
        nn_params_values(p)[i] = (tn_real)v[i];
    ad_tape *t = ad_tape_new(0);
    tn_tensor *x = test_tensor(2, SHAPE(1, 2), (const double[]){3, 1});
    ad_var *y = nn_mlp_forward(&m, ad_const(t, x));
    /* h = relu([3-1, 6-1]) = [2, 5]; y = σ(7.5) */
    CHECK_NEAR(ad_item(y), 1 / (1 + exp(-7.5)), VAL_TOL);
    nn_act act;
    CHECK(nn_act_parse("softplus", &act) == 0 && act == NN_ACT_SOFTPLUS);
    CHECK(nn_act_parse("gelu", &act) == -1);
    CHECK(strcmp(nn_act_name(NN_ACT_TANH), "tanh") == 0);
    ad_tape_free(t);
    tn_free(x);
    nn_params_free(p);
}

void test_loss_values(void)
{
    ad_tape *t = ad_tape_new(0);
    /* two examples of two dimensions */
    tn_tensor *P = test_tensor(2, SHAPE(2, 2), (const double[]){1, 2, 3, 4});
    tn_tensor *T = test_tensor(2, SHAPE(2, 2), (const double[]){0, 2, 3, 2});
    ad_var *p = ad_const(t, P), *y = ad_const(t, T);
    CHECK_NEAR(ad_item(nn_mse(p, y)), (1 + 0 + 0 + 4) / 2.0, VAL_TOL);
    /* BCE(0 | t) = log 2 for every element: sum 2 log 2 per example */
    tn_tensor *Z = tn_new(2, SHAPE(2, 2));
    tn_tensor *B = test_tensor(2, SHAPE(2, 2), (const double[]){1, 0, 0, 1});
    ad_var *z = ad_const(t, Z), *b = ad_const(t, B);
    CHECK_NEAR(ad_item(nn_bce_logits(z, b)), 2 * log(2.0), VAL_TOL);
    ad_var *lp = nn_bernoulli_logp_rows(b, z);
    CHECK(ad_value(lp)->ndim == 1 && ad_value(lp)->shape[0] == 2);
    CHECK_NEAR(ad_data(lp)[1], -2 * log(2.0), VAL_TOL);
    /* Gaussian: x = mean, lv = 0: -½ D log 2π per example */
    ad_var *g = nn_gaussian_logp_rows(p, p, z);
    CHECK_NEAR(ad_data(g)[0], -log(2 * M_PI), VAL_TOL);
    /* x - mean = (1, 0), lv = (log 4, 0): -½[(log2π + log4 + 1/4) + log2π] */
    tn_tensor *LV = test_tensor(2, SHAPE(2, 2), (const double[]){log(4.0), 0, 0, 0});
    g = nn_gaussian_logp_rows(p, y, ad_const(t, LV));
    CHECK_NEAR(ad_data(g)[0], -0.5 * (2 * log(2 * M_PI) + log(4.0) + 0.25), VAL_TOL * 4);
    CHECK_NEAR(ad_item(nn_gaussian_mean_nll(p, y, ad_const(t, LV))),
               -0.5 * (-0.5 * (2 * log(2 * M_PI) + log(4.0) + 0.25) +
                       -0.5 * (2 * log(2 * M_PI) + 0 + 4)), VAL_TOL * 10);
    /* KL(N(1, 1)) = ½ per dimension: rows (½, ½+½·(e-2)) for mu=(1,0|1,0), lv=(0,0|0,1) */
    tn_tensor *MU = test_tensor(2, SHAPE(2, 2), (const double[]){1, 0, 1, 0});
    tn_tensor *L2 = test_tensor(2, SHAPE(2, 2), (const double[]){0, 0, 0, 1});
    ad_var *klr = nn_kl_normal_rows(ad_const(t, MU), ad_const(t, L2));
    CHECK_NEAR(ad_data(klr)[0], 0.5, VAL_TOL);
    CHECK_NEAR(ad_data(klr)[1], 0.5 + 0.5 * (exp(1.0) - 2), VAL_TOL * 4);
    CHECK_NEAR(ad_item(nn_kl_normal(ad_const(t, MU), ad_const(t, L2))),
               (1 + 0.5 * (exp(1.0) - 2)) / 2, VAL_TOL * 4);
    /* sparse KL: h columns average 0.1 and 0.5; ρ = 0.1 gives KL(0.1||0.5) */
    tn_tensor *H = test_tensor(2, SHAPE(2, 2), (const double[]){0.05, 0.4, 0.15, 0.6});
    double kl05 = 0.1 * log(0.1 / 0.5) + 0.9 * log(0.9 / 0.5);
    CHECK_NEAR(ad_item(nn_sparse_kl(ad_const(t, H), 0.1, 3)), 3 * kl05, VAL_TOL * 10);
    CHECK_NEAR(ad_item(nn_l1_activity(ad_const(t, B), 0.5)), 0.5 * 2 / 2, VAL_TOL);
    CHECK(ad_tape_ok(t));
    /* a saturated code (every h = 1): the KL stays finite, and its gradient
     * still pushes the units down, even at a small β (a clamp's zero slope
     * left them stuck at 1); at β = 0, zero and finite */
    tn_tensor *S = test_tensor(2, SHAPE(2, 2), (const double[]){1, 1, 1, 1});
    for (int k = 0; k < 2; k++) {
        double beta = k ? 0 : 0.01;
        tn_tensor *GS = tn_new(2, SHAPE(2, 2));
        ad_tape_reset(t);
        ad_var *kl = nn_sparse_kl(ad_param(t, S, GS), 0.05, beta);
        CHECK(kl && ad_backward(t, kl) == 0 && isfinite(ad_item(kl)));
        for (int i = 0; i < 4; i++)
            CHECK(k ? GS->data[i] == 0 : GS->data[i] > 100);
        tn_free(GS);
    }
    tn_free(S);
    ad_tape_free(t);
    tn_free(P), tn_free(T), tn_free(Z), tn_free(B), tn_free(LV), tn_free(MU);
    tn_free(L2), tn_free(H);
}

#define LOSS_FN(nm, expr) \
    static ad_var *lf_##nm(ad_tape *t, ad_var *const *x, void *c) { (void)t; (void)c; return expr; }
LOSS_FN(mse, nn_mse(x[0], x[1]))
LOSS_FN(bce, nn_bce_logits(x[0], x[1]))
LOSS_FN(bern, nn_bernoulli_logp_rows(x[1], x[0]))
LOSS_FN(gauss, nn_gaussian_logp_rows(x[2], x[0], x[1]))
LOSS_FN(gnll, nn_gaussian_mean_nll(x[2], x[0], x[1]))
LOSS_FN(kl, nn_kl_normal(x[0], x[1]))
LOSS_FN(klrows, nn_kl_normal_rows(x[0], x[1]))
LOSS_FN(sparse, nn_sparse_kl(ad_sigmoid(x[0]), 0.05, 3))
LOSS_FN(l1, nn_l1_activity(x[0], 0.1))

void test_loss_gradients(void)
{
    struct {
        const char *name;
        ad_fn f;
        int n;
        double lo, hi;
        int away;
    } c[] = {
        {"mse", lf_mse, 2, -1, 1, 0},          {"bce", lf_bce, 2, -2, 2, 0},
        {"bernoulli_logp", lf_bern, 2, -2, 2, 0}, {"gaussian_logp", lf_gauss, 3, -1, 1, 0},
        {"gaussian_nll", lf_gnll, 3, -1, 1, 0}, {"kl_normal", lf_kl, 2, -1, 1, 0},
        {"kl_normal_rows", lf_klrows, 2, -1, 1, 0}, {"sparse_kl", lf_sparse, 1, -2, 2, 0},
        {"l1_activity", lf_l1, 1, -1, 1, 1},
    };
    for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
        tn_tensor *in[3];
        for (int i = 0; i < c[k].n; i++) {
            in[i] = test_random(2, SHAPE(3, 4), c[k].lo, c[k].hi, 40 + k * 3 + (size_t)i);
            for (size_t j = 0; c[k].away && j < in[i]->size; j++)
                if (fabs(in[i]->data[j]) < 0.1)
                    in[i]->data[j] += in[i]->data[j] < 0 ? -0.1 : 0.1;
        }
        ad_gradcheck_report rep;
        double e = ad_gradcheck(c[k].f, NULL, in, c[k].n, GRAD_EPS, &rep);
        if (!(e >= 0 && e <= GRAD_TOL)) {
            test_failures++;
            printf("    %s: worst error %.3g (analytic %.10g, numeric %.10g) %s\n", c[k].name, e,
                   rep.analytic, rep.numeric, rep.error);
        }
        for (int i = 0; i < c[k].n; i++)
            tn_free(in[i]);
    }
}

void test_l2_weights_gradient(void)
{
    nn_params *p = nn_params_new();
    nn_linear l;
    nn_error err;
    nn_linear_init(&l, p, "fc", 3, 2, &err);
    nn_params_alloc(p, &err);
    for (size_t i = 0; i < nn_params_size(p); i++)
        nn_params_values(p)[i] = (tn_real)(0.5 * (double)i - 1);
    ad_tape *t = ad_tape_new(0);
    ad_var *loss = nn_l2_weights(t, p, 0.2);
    double ss = 0;
    for (size_t i = 0; i < 6; i++)
        ss += nn_params_values(p)[i] * nn_params_values(p)[i];
    CHECK_NEAR(ad_item(loss), 0.1 * ss, VAL_TOL * 10);
    CHECK(ad_backward(t, loss) == 0);
    for (size_t i = 0; i < 6; i++) /* d/dW = λW; the bias is not decayed */
        CHECK_NEAR(nn_params_grads(p)[i], 0.2 * nn_params_values(p)[i], VAL_TOL);
    CHECK(nn_params_grads(p)[6] == 0 && nn_params_grads(p)[7] == 0);
    ad_tape_free(t);
    nn_params_free(p);
}

/* Three steps from w = (1, -0.5) with the gradients below, against what
 * torch.optim (1.13, float64) gives for the same configuration. */
void test_optimizers_match_pytorch(void)
{
    const double grads[3][2] = {{1, -2}, {0.5, 3}, {-1.5, 0.25}};
    struct {
        const char *name;
        nn_optim_kind kind;
        double momentum, wd;
        int nesterov;
        double want[6];
    } c[] = {
        {"sgd", NN_SGD, 0, 0, 0, {0.9, -0.3, 0.85, -0.6, 1, -0.625}},
        {"sgd momentum", NN_SGD, 0.9, 0, 0, {0.9, -0.3, 0.76, -0.42, 0.784, -0.553}},
        {"sgd nesterov", NN_SGD, 0.9, 0, 1, {0.81, -0.12, 0.634, -0.528, 0.8056, -0.6727}},
        {"sgd wd", NN_SGD, 0.9, 0.01, 0, {0.899, -0.2995, 0.757201, -0.4187505, 0.778824699, -0.5506571995}},
        {"adagrad", NN_ADAGRAD, 0, 0, 0, {0.90000000001000002, -0.40000000000500002, 0.85527864046400426,
                                          -0.4832050294364767, 0.93545701303344586, -0.49012217407494607}},
        {"adam", NN_ADAM, 0, 0, 0, {0.90000000099999999, -0.40000000050000001, 0.80678203829816109,
                                    -0.42477018201626876, 0.81497971800735891, -0.44829332567057412}},
        {"adam wd", NN_ADAM, 0, 0.1, 0, {0.90000000090909094, -0.40000000048780487, 0.80577179689217093,
                                         -0.42304766260138232, 0.80568466462350885, -0.44451521226514262}},
        {"adamw", NN_ADAMW, 0, 0.1, 0, {0.89000000099999999, -0.3950000005, 0.78788203828816106,
                                        -0.41582018201126875, 0.78820089761447731, -0.43518512384546143}},
    };
    for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
        nn_params *p = nn_params_new();
        nn_error err;
        nn_params_add(p, "w", 1, SHAPE(2), &err);
        nn_params_alloc(p, &err);
        tn_real *w = nn_params_values(p), *g = nn_params_grads(p);
        w[0] = 1, w[1] = (tn_real)-0.5;
        nn_optim_config cfg = nn_optim_defaults(c[k].kind, 0.1);
        cfg.momentum = c[k].momentum, cfg.nesterov = c[k].nesterov, cfg.weight_decay = c[k].wd;
        nn_optim *o = nn_optim_new(&cfg, p, &err);
        CHECK(o != NULL);
        for (int s = 0; o && s < 3; s++) {
            g[0] = (tn_real)grads[s][0], g[1] = (tn_real)grads[s][1];
            nn_optim_step(o, p);
            for (int i = 0; i < 2; i++)
                if (!(fabs(w[i] - c[k].want[2 * s + i]) <= VAL_TOL * 100)) {
                    test_failures++;
                    printf("    %s step %d w[%d] = %.12g, torch %.12g\n", c[k].name, s + 1, i,
                           (double)w[i], c[k].want[2 * s + i]);
                }
        }
        CHECK(o && nn_optim_steps(o) == 3);
        nn_optim_free(o);
        nn_params_free(p);
    }
}

void test_clip_and_schedules(void)
{
    nn_params *p = nn_params_new();
    nn_error err;
    nn_params_add(p, "w", 1, SHAPE(2), &err);
    nn_params_alloc(p, &err);
    nn_params_grads(p)[0] = 3, nn_params_grads(p)[1] = 4;
    CHECK_NEAR(nn_clip_grad_norm(p, 10), 5, VAL_TOL); /* under the bound: unchanged */
    CHECK(nn_params_grads(p)[0] == 3);
    CHECK_NEAR(nn_clip_grad_norm(p, 1), 5, VAL_TOL);
    CHECK_NEAR(nn_params_grads(p)[0], 0.6, 1e-6);
    CHECK_NEAR(nn_params_grads(p)[1], 0.8, 1e-6);
    /* clipping inside a step: SGD lr 1 moves w by the clipped gradient */
    nn_optim_config c = nn_optim_defaults(NN_SGD, 1);
    c.clip_norm = 0.5;
    nn_params_grads(p)[0] = 3, nn_params_grads(p)[1] = 4;
    nn_optim *o = nn_optim_new(&c, p, &err);
    CHECK_NEAR(nn_optim_step(o, p), 5, VAL_TOL);
    CHECK_NEAR(nn_params_values(p)[0], -0.3, 1e-6);
    nn_optim_free(o);
    /* step: lr·γ^⌊t/s⌋ */
    c = nn_optim_defaults(NN_ADAM, 0.1);
    c.sched = NN_SCHED_STEP, c.step_size = 2, c.gamma = 0.5;
    o = nn_optim_new(&c, p, &err);
    double want_step[5] = {0.1, 0.1, 0.05, 0.05, 0.025};
    for (int s = 0; s < 5; s++) {
        CHECK_NEAR(nn_optim_lr(o), want_step[s], 1e-15);
        nn_optim_step(o, p);
    }
    nn_optim_free(o);
    /* cosine: min + (lr - min)(1 + cos(πt/T))/2 */
    c.sched = NN_SCHED_COSINE, c.total_steps = 4, c.min_lr = 0.01;
    o = nn_optim_new(&c, p, &err);
    double want_cos[6] = {0.1, 0.01 + 0.09 * (1 + cos(M_PI / 4)) / 2, 0.055,
                          0.01 + 0.09 * (1 + cos(3 * M_PI / 4)) / 2, 0.01, 0.01};
    for (int s = 0; s < 6; s++) {
        CHECK_NEAR(nn_optim_lr(o), want_cos[s], 1e-12);
        nn_optim_step(o, p);
    }
    nn_optim_free(o);
    c.lr = 0;
    CHECK(nn_optim_new(&c, p, &err) == NULL);
    CHECK_STR_HAS(err.msg, "lr must be > 0");
    nn_optim_kind k;
    CHECK(nn_optim_parse("adamw", &k) == 0 && k == NN_ADAMW);
    CHECK(nn_optim_parse("rmsprop", &k) == -1);
    nn_params_free(p);
}
