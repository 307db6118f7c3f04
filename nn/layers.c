/* layers.c: activations, the linear layer, convolutions and the MLP builder. */
#include "nn_internal.h"

#include <stdio.h>
#include <string.h>

static const char *const act_names[] = {"none", "relu", "tanh", "sigmoid", "softplus"};

const char *nn_act_name(nn_act a)
{
    return (unsigned)a < sizeof act_names / sizeof act_names[0] ? act_names[a] : "?";
}


int nn_act_parse(const char *s, nn_act *out)
{
    int i = nn_name_index(s, act_names, (int)(sizeof act_names / sizeof act_names[0]));
    if (i >= 0)
        *out = (nn_act)i;
    return i >= 0 ? 0 : -1;
}

ad_var *nn_act_apply(ad_var *x, nn_act a)
{
    switch (a) {
    case NN_ACT_NONE: return x;
    case NN_ACT_RELU: return ad_relu(x);
    case NN_ACT_TANH: return ad_tanh(x);
    case NN_ACT_SIGMOID: return ad_sigmoid(x);
    case NN_ACT_SOFTPLUS: return ad_softplus(x);
    }
    return NULL;
}

int nn_linear_init(nn_linear *l, nn_params *p, const char *name, size_t in,
                   size_t out, nn_error *err)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s.weight", name);
    l->w = nn_params_add(p, buf, 2, (const size_t[]){out, in}, err);
    snprintf(buf, sizeof buf, "%s.bias", name);
    l->b = l->w < 0 ? -1 : nn_params_add(p, buf, 1, (const size_t[]){out}, err);
    l->p = p;
    l->in = in;
    l->out = out;
    return l->b < 0 ? -1 : 0;
}

ad_var *nn_linear_forward(const nn_linear *l, ad_var *x)
{
    ad_tape *t = x ? ad_tape_of(x) : NULL;
    return t ? ad_linear(x, nn_param(t, l->p, l->w), nn_param(t, l->p, l->b)) : NULL;
}

static int conv_init(nn_conv2d *l, nn_params *p, const char *name, size_t in,
                     size_t out, size_t k, size_t stride, size_t padding,
                     size_t out_pad, int transpose, nn_error *err)
{
    const char *what = transpose ? "conv_transpose2d" : "conv2d";
    if (!in || !out || !k || !stride)
        return nn_fail(err, "%s %s: channels %zu -> %zu, kernel %zu, stride %zu: each must be at least 1",
                       what, name, in, out, k, stride);
    if (transpose && out_pad >= stride)
        return nn_fail(err, "%s %s: output padding %zu, expected less than the stride %zu",
                       what, name, out_pad, stride);
    char buf[128];
    snprintf(buf, sizeof buf, "%s.weight", name);
    l->w = nn_params_add(p, buf, 4, transpose ? (const size_t[]){in, out, k, k}
                                              : (const size_t[]){out, in, k, k}, err);
    snprintf(buf, sizeof buf, "%s.bias", name);
    l->b = l->w < 0 ? -1 : nn_params_add(p, buf, 1, (const size_t[]){out}, err);
    *l = (nn_conv2d){p, l->w, l->b, in, out, k, stride, padding, out_pad, transpose};
    return l->b < 0 ? -1 : 0;
}

int nn_conv2d_init(nn_conv2d *l, nn_params *p, const char *name, size_t in,
                   size_t out, size_t k, size_t stride, size_t padding,
                   nn_error *err)
{
    return conv_init(l, p, name, in, out, k, stride, padding, 0, 0, err);
}

int nn_conv_transpose2d_init(nn_conv2d *l, nn_params *p, const char *name,
                             size_t in, size_t out, size_t k, size_t stride,
                             size_t padding, size_t output_padding,
                             nn_error *err)
{
    return conv_init(l, p, name, in, out, k, stride, padding, output_padding, 1, err);
}

ad_var *nn_conv2d_forward(const nn_conv2d *l, ad_var *x)
{
    ad_tape *t = x ? ad_tape_of(x) : NULL;
    if (!t)
        return NULL;
    ad_var *W = nn_param(t, l->p, l->w), *b = nn_param(t, l->p, l->b);
    return l->transpose ? ad_conv_transpose2d(x, W, b, l->stride, l->padding, l->output_padding)
                        : ad_conv2d(x, W, b, l->stride, l->padding);
}

int nn_mlp_init(nn_mlp *m, nn_params *p, const char *name, int n_widths,
                const size_t *widths, const nn_act *act, nn_error *err)
{
    if (n_widths < 2 || n_widths - 1 > NN_MLP_MAX)
        return nn_fail(err, "mlp %s: needs 2 to %d widths, got %d", name,
                        NN_MLP_MAX + 1, n_widths);
    m->n_layers = n_widths - 1;
    for (int i = 0; i < m->n_layers; i++) {
        char buf[96];
        snprintf(buf, sizeof buf, "%s.%d", name, i);
        if (nn_linear_init(&m->layer[i], p, buf, widths[i], widths[i + 1], err))
            return -1;
        m->act[i] = act[i];
    }
    return 0;
}

ad_var *nn_mlp_forward(const nn_mlp *m, ad_var *x)
{
    for (int i = 0; x && i < m->n_layers; i++)
        x = nn_act_apply(nn_linear_forward(&m->layer[i], x), m->act[i]);
    return x;
}
