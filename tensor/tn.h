/* tn.h: n-d tensors of tn_real (float, or double with -DTN_REAL_DOUBLE),
 * contiguous and row-major, up to TN_MAX_DIMS dimensions; matmul via BLIS,
 * element-wise ops with numpy broadcasting, reductions, a bump arena and a
 * PCG random generator. No global mutable state; nothing here prints or exits.
 *
 * Ownership (the three lifetimes, see docs/design.md):
 *   - tn_new / tn_rng_new / tn_arena_new return heap objects: the caller frees
 *     them with the matching _free.
 *   - tn_arena_tensor returns a tensor that lives in the arena: it is gone at
 *     tn_arena_reset or tn_arena_free and must never be passed to tn_free.
 *   - Kernels (tn_add, tn_matmul, ...) write into an `out` the caller owns and
 *     allocate nothing.
 *
 * Errors: functions that can fail return a tn_status (TN_OK == 0) and check
 * the shapes they are given; tn_status_str() names the code. The autograd
 * layer checks shapes first and turns them into messages that name them.
 */
#ifndef TN_H
#define TN_H

#include <float.h>
#include <stddef.h>
#include <stdint.h>

/* TN_API marks every function and object of the installed interface, of
 * every layer (tn_, ad_, nn_, model_): the shared library exports these
 * and nothing else, its objects being built with -fvisibility=hidden
 * (tests/run.sh lists what it exports). */
#if defined(__GNUC__) || defined(__clang__)
#define TN_API __attribute__((visibility("default")))
#else
#define TN_API
#endif

#ifdef TN_REAL_DOUBLE
typedef double tn_real;
#define TN_REAL_NAME "double"
#define TN_REAL_MAX DBL_MAX
#else
typedef float tn_real;
#define TN_REAL_NAME "float"
#define TN_REAL_MAX FLT_MAX
#endif

#define TN_MAX_DIMS 4

/* Link-time guard: code compiled for one tn_real refers to a symbol that only
 * the library built for the same tn_real defines, so linking float code with
 * the double library (pkg-config tape-double) or the reverse fails with
 * "undefined reference to tn_real_is_double" (or _float) instead of
 * computing garbage. */
#ifdef TN_REAL_DOUBLE
TN_API extern const int tn_real_is_double;
#define TN_REAL_GUARD_ tn_real_is_double
#else
TN_API extern const int tn_real_is_float;
#define TN_REAL_GUARD_ tn_real_is_float
#endif
#ifdef __GNUC__
__attribute__((used, unused)) static const int *const tn_real_guard_ = &TN_REAL_GUARD_;
#endif

typedef enum {
    TN_OK = 0,
    TN_ESHAPE = -1, /* shapes do not fit the operation */
    TN_ENOMEM = -2, /* an allocation failed */
    TN_EARG = -3    /* an argument is out of range (axis, slice, NULL) */
} tn_status;

TN_API const char *tn_status_str(tn_status s);

/* A tensor: `size` = product of shape[0..ndim). ndim 0 is a scalar (size 1).
 * `data` is borrowed or owned according to where the tensor came from. */
typedef struct tn_tensor {
    int ndim;
    size_t shape[TN_MAX_DIMS];
    size_t size;
    tn_real *data;
} tn_tensor;

/* A shape written inline, for every call that takes (int ndim, const
 * size_t *shape) or (n, widths): TN_DIMS(n, 1, 28, 28) is the two
 * arguments 4, (size_t[]){n, 1, 28, 28}, e.g.
 *   ad_reshape(x, TN_DIMS(n, 1, 28, 28))
 *   nn_mlp_init(&m->enc, p, "enc", TN_DIMS(784, 400, 40), act, err)
 * The sizes are evaluated once (the count is taken by sizeof). */
#define TN_DIMS(...) \
    (int)(sizeof((size_t[]){__VA_ARGS__}) / sizeof(size_t)), (size_t[]){__VA_ARGS__}

/* ---- creation ----------------------------------------------------------- */

/* Heap tensor, zero-filled, header and data in one allocation. NULL when
 * ndim is out of range or memory runs out. Caller frees with tn_free. */
TN_API tn_tensor *tn_new(int ndim, const size_t *shape);
TN_API void tn_free(tn_tensor *t);

/* A tensor header over memory the caller owns (no allocation, no copy). */
TN_API tn_tensor tn_wrap(tn_real *data, int ndim, const size_t *shape);

/* Writes "128x784" (or "scalar") into buf; returns buf. */
TN_API char *tn_shape_str(const tn_tensor *t, char *buf, size_t len);
TN_API int tn_same_shape(const tn_tensor *a, const tn_tensor *b);

/* ---- arena: per-step memory -------------------------------------------- */

/* A bump allocator made of blocks. Reset keeps the blocks, so once a step has
 * run, the same step again makes no heap allocation. 64-byte aligned. */
typedef struct tn_arena tn_arena;

TN_API tn_arena *tn_arena_new(size_t first_block_bytes); /* caller frees */
TN_API void tn_arena_free(tn_arena *a);
TN_API void *tn_arena_alloc(tn_arena *a, size_t bytes);  /* NULL on failure */
TN_API void tn_arena_reset(tn_arena *a);                 /* invalidates all */
TN_API size_t tn_arena_used(const tn_arena *a);          /* bytes handed out */
TN_API size_t tn_arena_capacity(const tn_arena *a);      /* bytes reserved */
TN_API size_t tn_arena_block_allocs(const tn_arena *a);  /* heap allocs so far */

/* Tensor in the arena, zero-filled; gone at reset. NULL on failure. */
TN_API tn_tensor *tn_arena_tensor(tn_arena *a, int ndim, const size_t *shape);
/* The same with its contents left undefined, for a result about to be
 * written whole. */
TN_API tn_tensor *tn_arena_tensor_raw(tn_arena *a, int ndim, const size_t *shape);

/* ---- matmul -------------------------------------------------------------- */

/* C = alpha·op(A)·op(B) + beta·C with op(X) = X or Xᵀ (trans_x nonzero).
 * All 2-D; op(A) is m×k, op(B) k×n, C m×n. BLIS does the work; no copies.
 * beta = 0 ignores what C held (NaNs included). */
TN_API tn_status tn_matmul(tn_tensor *C, const tn_tensor *A, int trans_a,
                    const tn_tensor *B, int trans_b, tn_real alpha,
                    tn_real beta);

/* ---- element-wise ------------------------------------------------------- */

/* numpy broadcasting: shapes are aligned at the last axis; each pair of
 * sizes must be equal or one of them 1. Writes the result shape. */
TN_API tn_status tn_broadcast_shape(const tn_tensor *a, const tn_tensor *b,
                             int *ndim, size_t *shape);

/* out = a ∘ b, out shaped as the broadcast of a and b. out may alias a or b
 * when it has the same shape. */
TN_API tn_status tn_add(tn_tensor *out, const tn_tensor *a, const tn_tensor *b);
TN_API tn_status tn_sub(tn_tensor *out, const tn_tensor *a, const tn_tensor *b);
TN_API tn_status tn_mul(tn_tensor *out, const tn_tensor *a, const tn_tensor *b);
TN_API tn_status tn_div(tn_tensor *out, const tn_tensor *a, const tn_tensor *b);

/* out = x broadcast to out's shape (x must broadcast to it). */
TN_API tn_status tn_expand(tn_tensor *out, const tn_tensor *x);

/* out += alpha · (sum of `in` over the axes where out was broadcast to in's
 * shape): the backward of broadcasting. out must broadcast to in's shape. */
TN_API tn_status tn_sum_to_acc(tn_tensor *out, const tn_tensor *in, tn_real alpha);

/* Unary maps, out and x of the same size (out may be x). sigmoid and
 * softplus are computed without overflow for any finite x. */
typedef enum {
    TN_EXP, TN_LOG, TN_SQRT, TN_SQUARE, TN_NEG, TN_ABS,
    TN_RELU, TN_SIGMOID, TN_SOFTPLUS, TN_TANH
} tn_unary_op;
TN_API tn_status tn_unary(tn_tensor *out, const tn_tensor *x, tn_unary_op op);
TN_API tn_status tn_exp(tn_tensor *out, const tn_tensor *x);
TN_API tn_status tn_log(tn_tensor *out, const tn_tensor *x);
TN_API tn_status tn_sqrt(tn_tensor *out, const tn_tensor *x);
TN_API tn_status tn_square(tn_tensor *out, const tn_tensor *x);
TN_API tn_status tn_neg(tn_tensor *out, const tn_tensor *x);
TN_API tn_status tn_abs(tn_tensor *out, const tn_tensor *x);
TN_API tn_status tn_relu(tn_tensor *out, const tn_tensor *x);
TN_API tn_status tn_sigmoid(tn_tensor *out, const tn_tensor *x);
TN_API tn_status tn_softplus(tn_tensor *out, const tn_tensor *x);
TN_API tn_status tn_tanh(tn_tensor *out, const tn_tensor *x);
TN_API tn_real tn_sigmoid1(tn_real x);  /* scalar versions, same formulas */
TN_API tn_real tn_softplus1(tn_real x);

/* out = a·x + b element-wise (out may be x). */
TN_API tn_status tn_affine(tn_tensor *out, const tn_tensor *x, tn_real a, tn_real b);
/* y += a·x, same size. */
TN_API tn_status tn_axpy(tn_tensor *y, tn_real a, const tn_tensor *x);

/* ---- reductions ---------------------------------------------------------- */

TN_API double tn_sum_all(const tn_tensor *x);  /* accumulated in double, 8 running sums */
TN_API double tn_mean_all(const tn_tensor *x);
/* out = sum (mean) of x over `axis`, which is removed from the shape:
 * x (2x3x4), axis 1 -> out (2x4). Negative axis counts from the end. */
TN_API tn_status tn_sum_axis(tn_tensor *out, const tn_tensor *x, int axis);
TN_API tn_status tn_mean_axis(tn_tensor *out, const tn_tensor *x, int axis);
/* Resolves a possibly negative axis; -1 when out of range. */
TN_API int tn_axis(const tn_tensor *x, int axis);

/* ---- copies and shapes --------------------------------------------------- */

TN_API void tn_fill(tn_tensor *t, tn_real v);
TN_API tn_status tn_copy(tn_tensor *dst, const tn_tensor *src);   /* same size */
/* Changes the header only; the element count must stay the same. */
TN_API tn_status tn_reshape(tn_tensor *t, int ndim, const size_t *shape);
/* out = x with its last two axes swapped (x at least 2-D). */
TN_API tn_status tn_transpose(tn_tensor *out, const tn_tensor *x);
/* out = x[..., start : start + out->shape[last]] */
TN_API tn_status tn_slice_last(tn_tensor *out, const tn_tensor *x, size_t start);
/* out = [a, b] along the last axis; the other axes must be equal. */
TN_API tn_status tn_concat_last(tn_tensor *out, const tn_tensor *a,
                         const tn_tensor *b);

/* ---- convolution helpers (NCHW) ---------------------------------------------- */

/* The output size of a convolution along one axis: (in + 2·pad - k)/stride + 1,
 * or 0 when the kernel does not fit or stride is 0. */
TN_API size_t tn_conv_out(size_t in, size_t k, size_t stride, size_t pad);
/* im2col: x (N, C, H, W) -> cols (C·kh·kw, N·Ho·Wo) with Ho, Wo from
 * tn_conv_out; cols[(c·kh + i)·kw + j][(n·Ho + oh)·Wo + ow] =
 * x[n][c][oh·stride - pad + i][ow·stride - pad + j], 0 outside x. The whole
 * convolution is then one GEMM with the weight viewed as (F, C·kh·kw). */
TN_API tn_status tn_im2col(tn_tensor *cols, const tn_tensor *x, size_t kh, size_t kw,
                    size_t stride, size_t pad);
/* col2im, im2col's adjoint: x += the columns added back where they came from. */
TN_API tn_status tn_col2im_acc(tn_tensor *x, const tn_tensor *cols, size_t kh,
                        size_t kw, size_t stride, size_t pad);

/* ---- random numbers ----------------------------------------------------- */

/* PCG32 (O'Neill's pcg32_random_r: 64-bit LCG state, XSH-RR output). */
typedef struct tn_rng {
    uint64_t state, inc;
    uint64_t seed;          /* the seed this stream started from */
    int has_spare;          /* Box-Muller keeps its second value */
    double spare;
} tn_rng;

/* Seeds a generator; `stream` selects one of 2^63 independent sequences. */
TN_API void tn_rng_seed(tn_rng *r, uint64_t seed, uint64_t stream);
/* Seeds from libsodium's entropy and returns the seed it chose, so the run
 * can be repeated with tn_rng_seed(r, seed, stream). 0 in *ok on failure. */
TN_API uint64_t tn_rng_seed_entropy(tn_rng *r, uint64_t stream, int *ok);

TN_API uint32_t tn_rng_u32(tn_rng *r);
/* The next n tn_rng_u32 draws, the same numbers, computed 16 at a time. */
TN_API void tn_rng_fill_u32(tn_rng *r, uint32_t *out, size_t n);
/* Skips delta draws (back for a negative delta), in O(log |delta|). */
TN_API void tn_rng_advance(tn_rng *r, int64_t delta);
/* n N(0, 1) draws in float precision (Box-Muller on 24-bit uniforms, tails
 * to 5.77; two tn_rng_u32 draws per pair, vectorized): for noise in bulk.
 * Not the stream tn_rng_normal gives, which is double and one at a time. */
TN_API void tn_rng_normals(tn_rng *r, float *out, size_t n);
TN_API double tn_rng_uniform(tn_rng *r);             /* [0, 1), 53 bits */
TN_API double tn_rng_normal(tn_rng *r);              /* N(0, 1), Box-Muller */
TN_API uint32_t tn_rng_below(tn_rng *r, uint32_t n); /* uniform in [0, n), unbiased */
TN_API void tn_rng_fill_uniform(tn_rng *r, tn_tensor *t, tn_real lo, tn_real hi);
TN_API void tn_rng_fill_normal(tn_rng *r, tn_tensor *t, tn_real mean, tn_real sd);
TN_API void tn_rng_fill_bernoulli(tn_rng *r, tn_tensor *t, tn_real p);

/* ---- threads ------------------------------------------------------------- */

/* How many threads BLIS and our OpenMP loops use (n >= 1). Process-wide:
 * it sets the BLIS and OpenMP runtimes, so call it before training. */
TN_API void tn_set_threads(int n);
TN_API int tn_get_threads(void);
/* Flush denormal floats to zero (on = 1) in the calling thread and in every
 * thread of the OpenMP pool that BLIS and our loops compute in, or restore
 * them (0). Tiny values stop costing a hundred cycles each as training goes
 * on (the epochs no longer slow down); results change only below 1e-38.
 * Call it after tn_set_threads; nn_train does (nn_train_config). x86 only;
 * elsewhere it does nothing. */
TN_API void tn_flush_denormals(int on);

/* ---- BLIS's kernels -------------------------------------------------------- */

/* BLIS picks its kernels once, at its first call, from the CPU it sees. On
 * an AVX-512 CPU whose model it cannot name (a virtual machine's, say) it
 * cannot count the FMA units and takes its AVX2 kernels ("haswell"). Called
 * before anything else uses BLIS (tn_set_threads does), tn_blas_avx512
 * selects BLIS's AVX-512 kernels ("skx") when the CPU has AVX-512 F, DQ, CD,
 * BW and VL and BLIS_ARCH_TYPE is not set (a user's choice wins). Measured on
 * such a machine (docs/results.md): products of 128 and more rows 1.6 times
 * as fast, of 16 rows twice as slow; so a program chooses by its batch
 * (tn_blas_kernels). It sets the environment (setenv), so call it before
 * starting threads. Needs a BLIS built with the x86_64 family of
 * configurations (Debian's is). Returns 1 when BLIS runs the AVX-512
 * kernels after the call, else 0. */
TN_API int tn_blas_avx512(void);
/* A program's choice of kernels (its --kernels), before BLIS's first call:
 *   "blis"    BLIS's own choice;
 *   "avx512"  the AVX-512 kernels (tn_blas_avx512);
 *   "measure" the fastest of BLIS's configurations that this CPU runs, each
 *             timed in a child process on a step's products of a 784 -> 400
 *             layer with `rows` rows (about 5 ms each);
 *   "auto"    "measure" when BLIS's own choice is its generic kernels (a CPU
 *             it cannot name: they are the slowest), else the AVX-512
 *             kernels for products of 64 and more rows where the CPU has
 *             them, else BLIS's own choice.
 * BLIS_ARCH_TYPE in the environment wins over all of them. Returns 0, or -1
 * for another word (then nothing is done). Forks: call it before starting
 * threads. */
TN_API int tn_blas_kernels(const char *choice, size_t rows);
/* The name of the kernels' configuration BLIS runs ("haswell", "skx", ...);
 * from then on BLIS's choice is made. */
TN_API const char *tn_blas_config(void);
/* How that configuration was chosen: "BLIS's own choice", "BLIS_ARCH_TYPE",
 * "AVX-512 for products of 64 and more rows", or "measured, ms a step of
 * 128 rows: skx 0.41 zen3 0.44 ... generic 2.10"; for a program's log. */
TN_API const char *tn_blas_how(void);
/* BLIS runs a product by its small-matrix path (no packing; its choice
 * when a dimension is under its thresholds) or by its packed one, and which
 * is faster depends on the shape, the CPU and the threads. tn_matmul times
 * both on one thread and on all the CPUs the first time it meets a shape
 * of 4M multiply-adds or more, and runs the packed way where it is clearly
 * faster (its time over the other's, averaged over the two, under 0.95);
 * the choice holds for the process and, beside the kernels' choice, in
 * $XDG_CACHE_HOME/tape/products (else ~/.cache/tape/products), a line a
 * shape for this CPU, so that a rerun takes the same ways and sums the
 * same. One choice a shape on any number of threads. TAPE_GEMM_PLAN=0 in
 * the environment: BLIS's own way for every product, nothing timed.
 * tn_blas_plans: how many shapes this process's products have taken a way
 * for so far (timed now or read from the file) and how many run packed. */
TN_API void tn_blas_plans(int *shapes, int *packed);
/* The CPU, to print beside a figure: "AMD EPYC (family 25, model 1)" (from
 * /proc/cpuinfo; "?" for what it does not say). */
TN_API const char *tn_cpu_name(void);

/* The cores other processes keep busy, measured between two calls on the
 * same tn_load (zeroed before the first): Linux's busy time of all CPUs
 * (/proc/stat) minus this process's CPU time, over the wall time between.
 * -1 on the first call and where it cannot be known. Lets a run give its
 * thread team the cores left free (nn_train does, every second). */
typedef struct {
    double wall, busy, self;
    int primed;
} tn_load;
TN_API double tn_load_others(tn_load *l);
TN_API int tn_cores(void); /* online CPUs */
/* Seconds on a monotonic clock (CLOCK_MONOTONIC): differences time things. */
TN_API double tn_seconds(void);

#endif
