/* conv_dnnl.c: conv2d through oneDNN's direct convolution (Debian's
 * libdnnl), the float build's path for conv2d. Measured on the bench's
 * (128,32,14,14) 32->32 3x3: oneDNN in its own blocked layouts, the
 * reorders from and to NCHW counted, did forward + backward in 20-22 ms
 * where im2col + BLIS took 32-40 and PyTorch 30-32 (docs/results.md).
 *
 * One entry per shape (N, C, H, W, F, kh, kw, stride, pad) holds the three
 * primitives and the reorders between the user's NCHW / OIHW and their
 * layouts, made once (oneDNN compiles them) and kept for the process,
 * under a mutex. The primitives run with a scratchpad the caller gives
 * (user scratchpad mode), so any number of threads may run them at once.
 * Every buffer comes from the caller's allocator (the tape's arena).
 * Anything oneDNN refuses returns -1, and the caller takes the im2col
 * path: the results are the same to float rounding. */
#include "tn_dnnl.h"

#ifndef TN_REAL_DOUBLE
#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tn_parallel.h"

enum { R_X, R_W, R_Y, R_DY, R_DX, R_XW, R_DYW, R_DW, R_BDW, ROLES };
/* the roles whose reorder goes from the primitive's layout to the user's */
static int role_out(int r) { return r == R_Y || r == R_DX || r == R_DW; }

typedef struct conv_entry {
    long key[9];
    dnnl_primitive_desc_t fwd_pd, bd_pd, bw_pd;
    dnnl_primitive_t fwd, bd, bw;
    dnnl_memory_desc_t x_md, w_md, b_md, y_md;   /* the user's: nchw, oihw, x, nchw */
    dnnl_primitive_t reorder[ROLES];              /* NULL: the layouts agree */
    const dnnl_memory_desc_t *md[ROLES];          /* each role's layout inside the primitive */
    struct conv_entry *next;
} conv_entry;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static dnnl_engine_t engine;
static int engine_failed;
static conv_entry *entries;

/* the reorder from `from` to `to`, or NULL when they are one layout; *ok 0 on failure */
static dnnl_primitive_t make_reorder(const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to, int *ok)
{
    if (dnnl_memory_desc_equal(from, to))
        return NULL;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t p = NULL;
    if (dnnl_reorder_primitive_desc_create(&pd, from, engine, to, engine, NULL) != dnnl_success) {
        *ok = 0;
        return NULL;
    }
    if (dnnl_primitive_create(&p, pd) != dnnl_success)
        *ok = 0, p = NULL;
    dnnl_primitive_desc_destroy(pd);
    return p;
}

static void entry_free(conv_entry *e)
{
    dnnl_primitive_t prims[] = {e->fwd, e->bd, e->bw};
    for (size_t i = 0; i < 3; i++)
        if (prims[i])
            dnnl_primitive_destroy(prims[i]);
    for (int r = 0; r < ROLES; r++)
        if (e->reorder[r])
            dnnl_primitive_destroy(e->reorder[r]);
    dnnl_primitive_desc_t pds[] = {e->fwd_pd, e->bd_pd, e->bw_pd};
    for (size_t i = 0; i < 3; i++)
        if (pds[i])
            dnnl_primitive_desc_destroy(pds[i]);
    free(e);
}

/* The primitives and reorders of one shape; NULL when oneDNN refuses it */
static conv_entry *entry_new(const long *k)
{
    conv_entry *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    memcpy(e->key, k, sizeof e->key);
    dnnl_dims_t xd = {k[0], k[1], k[2], k[3]}, wd = {k[4], k[1], k[5], k[6]}, bd = {k[4]};
    dnnl_dims_t st = {k[7], k[7]}, pad = {k[8], k[8]};
    dnnl_dims_t yd = {k[0], k[4], (k[2] + 2 * k[8] - k[5]) / k[7] + 1, (k[3] + 2 * k[8] - k[6]) / k[7] + 1};
    dnnl_memory_desc_t xa, wa, ya;
    dnnl_convolution_desc_t fd, bdd, bwd;
    dnnl_primitive_attr_t attr = NULL;
    int ok = dnnl_memory_desc_init_by_tag(&e->x_md, 4, xd, dnnl_f32, dnnl_nchw) == dnnl_success &&
             dnnl_memory_desc_init_by_tag(&e->w_md, 4, wd, dnnl_f32, dnnl_oihw) == dnnl_success &&
             dnnl_memory_desc_init_by_tag(&e->b_md, 1, bd, dnnl_f32, dnnl_x) == dnnl_success &&
             dnnl_memory_desc_init_by_tag(&e->y_md, 4, yd, dnnl_f32, dnnl_nchw) == dnnl_success &&
             dnnl_memory_desc_init_by_tag(&xa, 4, xd, dnnl_f32, dnnl_format_tag_any) == dnnl_success &&
             dnnl_memory_desc_init_by_tag(&wa, 4, wd, dnnl_f32, dnnl_format_tag_any) == dnnl_success &&
             dnnl_memory_desc_init_by_tag(&ya, 4, yd, dnnl_f32, dnnl_format_tag_any) == dnnl_success &&
             dnnl_primitive_attr_create(&attr) == dnnl_success &&
             dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) == dnnl_success;
    ok = ok && dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct, &xa, &wa,
                                                  &e->b_md, &ya, st, pad, pad) == dnnl_success;
    ok = ok && dnnl_primitive_desc_create(&e->fwd_pd, &fd, attr, engine, NULL) == dnnl_success;
    ok = ok && dnnl_convolution_backward_data_desc_init(&bdd, dnnl_convolution_direct, &xa, &wa, &ya, st, pad,
                                                        pad) == dnnl_success;
    ok = ok && dnnl_primitive_desc_create(&e->bd_pd, &bdd, attr, engine, e->fwd_pd) == dnnl_success;
    ok = ok && dnnl_convolution_backward_weights_desc_init(&bwd, dnnl_convolution_direct, &xa, &wa, &e->b_md, &ya,
                                                           st, pad, pad) == dnnl_success;
    ok = ok && dnnl_primitive_desc_create(&e->bw_pd, &bwd, attr, engine, e->fwd_pd) == dnnl_success;
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    ok = ok && dnnl_primitive_create(&e->fwd, e->fwd_pd) == dnnl_success &&
         dnnl_primitive_create(&e->bd, e->bd_pd) == dnnl_success &&
         dnnl_primitive_create(&e->bw, e->bw_pd) == dnnl_success;
    if (!ok) {
        entry_free(e);
        return NULL;
    }
    e->md[R_X] = dnnl_primitive_desc_query_md(e->fwd_pd, dnnl_query_src_md, 0);
    e->md[R_W] = dnnl_primitive_desc_query_md(e->fwd_pd, dnnl_query_weights_md, 0);
    e->md[R_Y] = dnnl_primitive_desc_query_md(e->fwd_pd, dnnl_query_dst_md, 0);
    e->md[R_DY] = dnnl_primitive_desc_query_md(e->bd_pd, dnnl_query_diff_dst_md, 0);
    e->md[R_DX] = dnnl_primitive_desc_query_md(e->bd_pd, dnnl_query_diff_src_md, 0);
    e->md[R_XW] = dnnl_primitive_desc_query_md(e->bw_pd, dnnl_query_src_md, 0);
    e->md[R_DYW] = dnnl_primitive_desc_query_md(e->bw_pd, dnnl_query_diff_dst_md, 0);
    e->md[R_DW] = dnnl_primitive_desc_query_md(e->bw_pd, dnnl_query_diff_weights_md, 0);
    e->md[R_BDW] = dnnl_primitive_desc_query_md(e->bd_pd, dnnl_query_weights_md, 0);
    /* in: the user's layout to the primitive's; out: back */
    const dnnl_memory_desc_t *user[ROLES] = {&e->x_md, &e->w_md, &e->y_md, &e->y_md, &e->x_md,
                                             &e->x_md, &e->y_md, &e->w_md, &e->w_md};
    for (int r = 0; r < ROLES; r++)
        e->reorder[r] = role_out(r) ? make_reorder(e->md[r], user[r], &ok) : make_reorder(user[r], e->md[r], &ok);
    if (!ok) {
        entry_free(e);
        return NULL;
    }
    return e;
}

/* The entry of x (N,C,H,W), W (F,C,kh,kw), stride, pad; NULL: the im2col path */
static conv_entry *entry_of(const tn_tensor *x, const tn_tensor *W, size_t stride, size_t pad)
{
    long k[9] = {(long)x->shape[0], (long)x->shape[1], (long)x->shape[2], (long)x->shape[3],
                 (long)W->shape[0], (long)W->shape[2], (long)W->shape[3], (long)stride, (long)pad};
    conv_entry *e;
    pthread_mutex_lock(&lock);
    if (!engine && !engine_failed && dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success)
        engine_failed = 1, engine = NULL;
    for (e = entries; engine && e; e = e->next)
        if (memcmp(e->key, k, sizeof k) == 0)
            break;
    if (engine && !e && (e = entry_new(k)) != NULL)
        e->next = entries, entries = e;
    pthread_mutex_unlock(&lock);
    return e;
}

/* a buffer for role r in the primitive's layout: the user's own when the
 * layouts agree, else room from alloc */
static void *room(const conv_entry *e, int r, void *user, tn_alloc_fn alloc, void *ctx)
{
    return e->reorder[r] ? alloc(ctx, dnnl_memory_desc_get_size(e->md[r])) : user;
}

/* runs primitive p on the arguments (ids[i], buffers[i] in mds[i]) with its
 * scratchpad from alloc; 0 when done */
static int run(dnnl_primitive_t p, const_dnnl_primitive_desc_t pd, int n, const int *ids,
               const dnnl_memory_desc_t *const *mds, void *const *bufs, tn_alloc_fn alloc, void *ctx)
{
    dnnl_exec_arg_t args[8];
    dnnl_memory_t mem[8] = {NULL};
    dnnl_stream_t s = NULL;
    const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    size_t sp_size = sp ? dnnl_memory_desc_get_size(sp) : 0;
    void *sp_buf = sp_size ? alloc(ctx, sp_size) : NULL;
    int ok = dnnl_stream_create(&s, engine, dnnl_stream_default_flags) == dnnl_success && (!sp_size || sp_buf);
    for (int i = 0; ok && i < n; i++) {
        ok = bufs[i] && dnnl_memory_create(&mem[i], mds[i], engine, bufs[i]) == dnnl_success;
        args[i].arg = ids[i], args[i].memory = mem[i];
    }
    if (ok && sp_size) {
        ok = dnnl_memory_create(&mem[n], sp, engine, sp_buf) == dnnl_success;
        args[n].arg = DNNL_ARG_SCRATCHPAD, args[n].memory = mem[n];
    }
    ok = ok && dnnl_primitive_execute(p, s, n + (sp_size != 0), args) == dnnl_success &&
         dnnl_stream_wait(s) == dnnl_success;
    for (int i = 0; i <= n; i++)
        if (mem[i])
            dnnl_memory_destroy(mem[i]);
    if (s)
        dnnl_stream_destroy(s);
    return ok ? 0 : -1;
}

/* role r's reorder from `from` to `to` (the user's layout and the
 * primitive's, in the direction the role goes); 0 when done */
static int move(const conv_entry *e, int r, const dnnl_memory_desc_t *user, void *from, void *to, tn_alloc_fn alloc,
                void *ctx)
{
    if (!e->reorder[r])
        return 0;
    const dnnl_memory_desc_t *mds[2] = {role_out(r) ? e->md[r] : user, role_out(r) ? user : e->md[r]};
    void *bufs[2] = {from, to};
    const_dnnl_primitive_desc_t pd;
    if (dnnl_primitive_get_primitive_desc(e->reorder[r], &pd) != dnnl_success)
        return -1;
    return run(e->reorder[r], pd, 2, (const int[]){DNNL_ARG_FROM, DNNL_ARG_TO}, mds, bufs, alloc, ctx);
}

int tn__dnnl_conv2d_forward(tn_tensor *y, const tn_tensor *x, const tn_tensor *W, const tn_tensor *b,
                            size_t stride, size_t pad, tn_alloc_fn alloc, void *ctx)
{
    conv_entry *e = entry_of(x, W, stride, pad);
    if (!e)
        return -1;
    void *xs = room(e, R_X, x->data, alloc, ctx), *ws = room(e, R_W, W->data, alloc, ctx);
    void *ys = room(e, R_Y, y->data, alloc, ctx);
    if (move(e, R_X, &e->x_md, x->data, xs, alloc, ctx) || move(e, R_W, &e->w_md, W->data, ws, alloc, ctx))
        return -1;
    const dnnl_memory_desc_t *mds[4] = {e->md[R_X], e->md[R_W], &e->b_md, e->md[R_Y]};
    void *bufs[4] = {xs, ws, b->data, ys};
    if (run(e->fwd, e->fwd_pd, 4, (const int[]){DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST}, mds,
            bufs, alloc, ctx))
        return -1;
    return move(e, R_Y, &e->y_md, ys, y->data, alloc, ctx);
}

/* d[0..n) += s[0..n), over the threads when large */
static void add_into(float *d, const float *s, size_t n) { TN_FOR(i, n, d[i] += s[i];); }

int tn__dnnl_conv2d_backward(tn_tensor *dx, tn_tensor *dW, tn_tensor *db, const tn_tensor *g, const tn_tensor *x,
                             const tn_tensor *W, size_t stride, size_t pad, tn_alloc_fn alloc, void *ctx)
{
    conv_entry *e = entry_of(x, W, stride, pad);
    if (!e)
        return -1;
    if (dx) { /* dx += the data gradient, made in a buffer of its own */
        void *gs = room(e, R_DY, g->data, alloc, ctx), *ws = room(e, R_BDW, W->data, alloc, ctx);
        float *plain = alloc(ctx, x->size * sizeof(float));
        void *dxs = e->reorder[R_DX] ? alloc(ctx, dnnl_memory_desc_get_size(e->md[R_DX])) : plain;
        if (!plain || move(e, R_DY, &e->y_md, g->data, gs, alloc, ctx) ||
            move(e, R_BDW, &e->w_md, W->data, ws, alloc, ctx))
            return -1;
        const dnnl_memory_desc_t *mds[3] = {e->md[R_DY], e->md[R_BDW], e->md[R_DX]};
        void *bufs[3] = {gs, ws, dxs};
        if (run(e->bd, e->bd_pd, 3, (const int[]){DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC}, mds,
                bufs, alloc, ctx) ||
            move(e, R_DX, &e->x_md, dxs, plain, alloc, ctx))
            return -1;
        add_into(dx->data, plain, x->size);
    }
    if (dW || db) { /* the weights' and the bias's gradients in one primitive */
        void *xs = room(e, R_XW, x->data, alloc, ctx), *gs = room(e, R_DYW, g->data, alloc, ctx);
        size_t F = W->shape[0];
        float *plain = alloc(ctx, (W->size + F) * sizeof(float));
        void *dws = e->reorder[R_DW] ? alloc(ctx, dnnl_memory_desc_get_size(e->md[R_DW])) : plain;
        if (!plain || move(e, R_XW, &e->x_md, x->data, xs, alloc, ctx) ||
            move(e, R_DYW, &e->y_md, g->data, gs, alloc, ctx))
            return -1;
        const dnnl_memory_desc_t *mds[4] = {e->md[R_XW], e->md[R_DYW], e->md[R_DW], &e->b_md};
        void *bufs[4] = {xs, gs, dws, plain + W->size};
        if (run(e->bw, e->bw_pd, 4,
                (const int[]){DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS, DNNL_ARG_DIFF_BIAS}, mds,
                bufs, alloc, ctx) ||
            move(e, R_DW, &e->w_md, dws, plain, alloc, ctx))
            return -1;
        if (dW)
            add_into(dW->data, plain, W->size);
        if (db)
            add_into(db->data, plain + W->size, F);
    }
    return 0;
}

#else /* the double build: oneDNN has no double convolution */
int tn__dnnl_conv2d_forward(tn_tensor *y, const tn_tensor *x, const tn_tensor *W, const tn_tensor *b,
                            size_t stride, size_t pad, tn_alloc_fn alloc, void *ctx)
{
    (void)y, (void)x, (void)W, (void)b, (void)stride, (void)pad, (void)alloc, (void)ctx;
    return -1;
}
int tn__dnnl_conv2d_backward(tn_tensor *dx, tn_tensor *dW, tn_tensor *db, const tn_tensor *g, const tn_tensor *x,
                             const tn_tensor *W, size_t stride, size_t pad, tn_alloc_fn alloc, void *ctx)
{
    (void)dx, (void)dW, (void)db, (void)g, (void)x, (void)W, (void)stride, (void)pad, (void)alloc, (void)ctx;
    return -1;
}
#endif
