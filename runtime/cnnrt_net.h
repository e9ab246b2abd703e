/* cnnrt_net.h - what generated networks and the runtime's driver share
 * (included by cnnrt.h).
 *
 * A generated network describes itself with a cnn_net: its shapes, its
 * tensors (PyTorch's names and layouts, for safetensors), and untyped
 * entry points, so that one driver (cnn_main) runs any network. */
#ifndef CNNRT_NET_H
#define CNNRT_NET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cnn_optim;

/* One tensor of a model: where its floats live (in the parameters, or in
 * the non-trainable state such as batchnorm running statistics). */
typedef struct {
    const char *name;      /* "conv1.weight" */
    int ndim;
    int64_t shape[5];
    long offset;           /* in floats, from the start of params or state */
    int in_state;          /* 0: params, 1: state */
} cnn_tensor;

enum { CNN_LOSS_CROSS_ENTROPY, CNN_LOSS_MSE, CNN_LOSS_DICE };

typedef struct cnn_net {
    const char *name;
    int in_c, in_d, in_h, in_w, in_size;   /* in_d, out_d: a volume's depth; 0 on images */
    int out_c, out_d, out_h, out_w, out_size;
    long num_params, num_state;
    int loss;                        /* CNN_LOSS_* */
    const cnn_tensor *tensors;
    int ntensors;
    const char *const *report;       /* cnnc --report's lines, NULL-ended, for `info` */
    void *(*create)(int max_batch);
    void (*destroy)(void *m);
    void (*init)(void *m, uint64_t seed);
    int (*load)(void *m, const char *path);
    int (*save)(const void *m, const char *path);
    void (*forward)(void *m, const float *x, float *y, int n);
    float *(*params)(void *m);
    float *(*state)(void *m);
    /* NULL when generated with --no-train: */
    float (*train_step)(void *m, const float *x, const int *labels, int n, const struct cnn_optim *opt);
    void (*backward)(void *m, const float *x, const float *dy, float *dx, int n);
    float *(*grads)(void *m);
} cnn_net;
/* A volume's (SPEC 7) in_size and out_size count D*H*W*C.  Its depths are
 * in the descriptor, not derived from the sizes, so that a volume of depth
 * 1 stays a volume: its data files keep their D axis. */

/* The last error of cnn_load_tensors / cnn_save_tensors (and of the
 * generated _load/_save that call them), for the caller to print. */
const char *cnn_error(void);

/* Loads every tensor of the table from a safetensors file: all names must
 * be there with dtype F32, the exact shape and finite values; tensors the
 * table does not know are an error, except BN.num_batches_tracked as
 * PyTorch saves it (I64, shape []) for a batchnorm BN of the table (the
 * one with BN.running_mean).  A header describing more bytes than the
 * table's tensors is refused before they are read.  All or nothing: on
 * error params and state are unchanged.  0 or <0. */
int cnn_load_tensors(const char *path, const cnn_tensor *t, int nt, float *params, size_t nparams,
                     float *state, size_t nstate);
/* Writes the table's tensors atomically.  0 or <0. */
int cnn_save_tensors(const char *path, const cnn_tensor *t, int nt, const float *params,
                     const float *state);

/* Convolution geometry for im2col: c input channels of h x w, a kh x kw
 * kernel, strides, dilations, top/left pads, the oh x ow output, and the
 * column matrix's row stride (0: oh*ow). */
typedef struct {
    int c, h, w, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, ld;
} cnn_conv_geom;

/* col gets c*kh*kw rows of ld floats, the first oh*ow of each set to the
 * output pixels' inputs (0 in pads). */
void cnn_im2col(const float *x, const cnn_conv_geom *g, float *col);
/* The adjoint: adds each column entry back to the input pixel it came from. */
void cnn_col2im_add(const float *col, const cnn_conv_geom *g, float *x);

/* The convolution kernels, real C in the runtime, each compiled for
 * several instruction sets (portable C, AVX2+FMA, AVX-512) and chosen
 * once from the CPU, so that the code a plain `cc -O2` builds runs the
 * vector kernels the machine has.  CNNRT_ISA=generic|avx2|avx512 asks
 * for a lower one (tests, benchmarks).
 *
 * cnn_tile_conv: one pass of a direct convolution over rows of width WP
 * (kernels in 24-position tiles).  out[f][q] (+)= the sum over input
 * channels c and taps (r, s) of w[f * w_out + c * w_in + r * kw + s] times
 * in[c * in_stride + q + r * row_step + s * dw]; with flipped (dL/dx), the
 * plane is read backwards: tap (r, s) at (kh-1-r) * row_step + (kw-1-s) * dw.
 * kh * (24 + (kw-1) * dw) must not exceed CNN_TILE_PACK_MOST. */
#define CNN_TILE_Q 24
#define CNN_TILE_PACK_MOST 1024
typedef struct {
    const float *in;
    long in_stride, nin;      /* floats between input planes, how many */
    long kh, kw, row_step, dw;
    int flipped;
    const float *w;
    long w_out, w_in;         /* weight strides per output and per input */
    long nout;
    float *out;
    long out_stride;          /* floats between output rows */
    const long *at8;          /* NULL, or position q is read at
                                 at8[q / 8] + q % 8 (groups of 8 positions
                                 anywhere: rows without their padding
                                 columns), stored at q; it covers every
                                 position of the tiles run */
} cnn_tile_conv;

typedef struct {
    const char *isa;          /* "generic", "avx2" or "avx512" */
    /* tiles [t0, t1) of a tile convolution, all its outputs */
    void (*conv_tiles)(const cnn_tile_conv *p, long t0, long t1);
    /* s[j * 3 + k] += the sum over nv * 8 positions q of dq_j[q] * x_k[q],
     * 4 planes dq_j dqstride apart, 3 inputs x_k, over nimg images istride
     * apart */
    void (*dw_tile)(const float *dq, long dqstride, const float *x0, const float *x1, const float *x2,
                    long nv, long nimg, long istride, float *s);
    /* y[f][t * 24 ..] for filters [f0, f1) of nf and tiles [t0, t1): the
     * sum over k < nk of w[f * wj + k * wc] * x[k * ld + ..]; rows ld apart */
    void (*matmul_tiles)(const float *x, long ld, long nk, const float *w, long wj, long wc, long nf,
                         long f0, long f1, long t0, long t1, float *y);
    /* dw[f][k] += the sum over ng columns of dq[f][.] * x[k][.], for
     * filters [f0, f1) of nf; rows ng apart, ng a multiple of 8 */
    void (*dw_cols)(const float *dq, const float *x, long ng, long nk, long nf, long f0, long f1,
                    float *dw);
    /* Fully connected layers, weights [nout][nin].  y[i * nout + o] = b[o]
     * (0 when b is NULL) + the sum over k of w[o * nin + k] * x[i * nin + k],
     * for outputs [o0, o1) and images i < n */
    void (*fc_forward)(const float *x, long nin, const float *w, const float *b, long nout, long o0, long o1,
                       long n, float *y);
    /* dw[o * nin + k] += the sum over images i < n of dy[i * nout + o] *
     * x[i * nin + k], and db[o] += dy's (db may be NULL), outputs [o0, o1) */
    void (*fc_weight_grads)(const float *x, long nin, const float *dy, long nout, long o0, long o1, long n,
                            float *dw, float *db);
    /* dx[i * nin + k] += the sum over o of dy[i * nout + o] * w[o * nin + k],
     * images [i0, i1) */
    void (*fc_input_grads)(const float *dy, long nout, const float *w, long nin, long i0, long i1, float *dx);
    /* y[r * ow + o] = rows[r * width + o] + bias for oh rows of ow, then
     * v > 0 ? v : 0 when relu: a convolution's rows cut back to its output */
    void (*rows_out)(const float *rows, long width, long oh, long ow, float bias, int relu, float *y);
    /* s[j * dw_pairs + i] += the sum over nd depths of nr rows of nv * 8
     * positions of dq_j * x[i]: 4 planes dq_j dqstride apart, their
     * positions consecutive, the inputs' rows xrow and depths xdepth
     * apart (3-D dL/dW) */
    void (*dw_rows)(const float *dq, long dqstride, const float *const *x, long xrow, long xdepth, long nv,
                    long nr, long nd, float *s);
    int dw_pairs;             /* inputs per dw_rows call, at most CNN_DW_PAIRS */
} cnn_kernels;
#define CNN_DW_PAIRS 6

/* 3-D convolution (runtime/conv3d.c): PyTorch's Conv3d without groups,
 * NCDHW, weights [F][C][KD][KH][KW], for one item (volume) at a time.
 * Every call takes a range so that a thread team can share the work
 * (no threads inside); calls of different ranges may run at once.
 *
 * Stride 1 in H and W and depth dilation 1 run direct tiles (conv_tiles):
 * the input is copied into zero-padded planes stored depth-major, [Dp][C]
 * [HP*WP], so that the KD*C planes one output depth reads are consecutive
 * and the depth taps are just more input channels of one 2-D convolution
 * (the weights packed to match).  dL/dx (all strides 1) is the same over
 * padded dL/dy with flipped weights; dL/dW runs dw_rows over the rows of
 * dL/dy and of the padded input (not the gaps between padded rows).
 * Other geometries go through vol2col columns and matmul_tiles /
 * dw_cols, one output depth at a time.
 *
 * Use: cnn_conv3d_init; cnn_conv3d_pack once per weight change (into
 * wpack_floats); per item, cnn_conv3d_pad_input over [0, xpad_planes)
 * (split as you like), then cnn_conv3d_forward over output depths
 * [0, od).  Backward: cnn_conv3d_pad_input as above, cnn_conv3d_pad_dy
 * over [0, dy_planes), then cnn_conv3d_weight_grads over filters [0, f)
 * and cnn_conv3d_input_grads over input depths [0, d).  Each running
 * call needs its own task scratch of task_floats. */
typedef struct {
    /* set by the caller */
    int c, d, h, w, f;          /* input channels and volume, filters */
    int kd, kh, kw;             /* kernel */
    int sd, sh, sw;             /* strides, >= 1 */
    int pd, ph, pw;             /* zero padding on both sides of each axis */
    int dd, dh, dw;             /* dilations, >= 1 */
    /* set by cnn_conv3d_init */
    int od, oh, ow;             /* output volume */
    int direct, direct_dx;      /* forward and dL/dW by tiles; dL/dx by tiles */
    long xpad_planes, dy_planes;
    long xpad_floats;           /* per item: the padded input (0 unless direct) */
    long dy_floats;             /* per item: dL/dy laid out for the tiles */
    long wpack_floats;          /* the packed weights */
    long task_floats;           /* scratch per running call */
} cnn_conv3d;

/* Checks the geometry and sets the rest: 0, or -1 when a size is not
 * positive or the kernel does not fit the padded input. */
int cnn_conv3d_init(cnn_conv3d *g);
/* w [F][C][KD][KH][KW] packed for the direct tiles (nothing otherwise). */
void cnn_conv3d_pack(const cnn_conv3d *g, const float *w, float *wpack);
/* Planes [p0, p1) of the padded copy of x (one item). */
void cnn_conv3d_pad_input(const cnn_conv3d *g, const float *x, float *xpad, long p0, long p1);
/* y[f][od0..od1) of one item, bias b (NULL: none); y is overwritten. */
void cnn_conv3d_forward(const cnn_conv3d *g, const float *x, const float *xpad, const float *w,
                        const float *wpack, const float *b, float *y, int od0, int od1, float *task);
/* The same but y += the convolution (no bias): a deconvolution's dL/dx. */
void cnn_conv3d_forward_add(const cnn_conv3d *g, const float *x, const float *xpad, const float *w,
                            const float *wpack, float *y, int od0, int od1, float *task);
/* Planes [p0, p1) of dL/dy laid out for the tiles (one item). */
void cnn_conv3d_pad_dy(const cnn_conv3d *g, const float *dy, float *dyp, long p0, long p1);
/* dw += dL/dW and db[f] += dL/db (db may be NULL), summed over one item,
 * for the share [f0, f1) of the F filters: the filters [f0, f1), or on
 * the columns' path the same share of the kernel's columns for every
 * filter.  Calls whose ranges partition [0, F) add all of dL/dW, each
 * element in one call, and may run at the same time. */
void cnn_conv3d_weight_grads(const cnn_conv3d *g, const float *x, const float *xpad, const float *dy,
                             const float *dyp, float *dw, float *db, int f0, int f1, float *task);
/* The sum of v[0..n), in double, in 8 interleaved partial sums: a
 * volume's dL/db has 10^4-10^6 terms, too many for one chain of adds. */
double cnn_vol_sum(const float *v, long n);
/* dx += dL/dx at input depths [d0, d1) of one item. */
void cnn_conv3d_input_grads(const cnn_conv3d *g, const float *dy, const float *dyp, const float *w,
                            const float *wpack, float *dx, int d0, int d1, float *task);
/* The same for channels [c0, c1), every depth: the split that does no
 * work twice when the columns run dL/dx (direct_dx 0). */
void cnn_conv3d_input_grads_channels(const cnn_conv3d *g, const float *dy, const float *dyp, const float *w,
                                     const float *wpack, float *dx, int c0, int c1, float *task);

/* 3-D pooling, transposed convolution and nearest upsampling
 * (runtime/vol3d.c), NCDHW, in the style of the convolution above:
 * ranges for the caller's thread team, no threads inside, backward
 * passes add into dx.  Ranges [p0, p1) are over planes p = i * C + c of
 * the batch (one channel of one item: input at p * D*H*W, output at
 * p * OD*OH*OW).  Arrays [3] hold the axes D, H, W in that order. */

/* MaxPool3d / AvgPool3d.  Along each axis the input of n positions gets
 * pad zeros before it and pad_end after (padding proper: countpad counts
 * them), then extra positions the last window may read past that (what
 * ceil mode adds: ignored by both kinds); out = (pad + n + pad_end + extra
 * - k) / s + 1.  PyTorch's padding P with ceil_mode is pad = pad_end = P
 * and extra = what its ceil rounding adds.  A global pool is k = the
 * input's size, s = 1, no padding. */
typedef struct {
    /* set by the caller */
    int c;                      /* channels (planes per item) */
    int size[3];                /* input D, H, W */
    int k[3], s[3];             /* window and stride, >= 1 */
    int pad[3], pad_end[3];     /* zeros before and after, >= 0 */
    int extra[3];               /* ceil mode's positions past pad_end, >= 0 */
    int count_pad;              /* avg: divisor counts padded zeros (count_include_pad) */
    /* set by cnn_pool3d_init */
    int out[3];                 /* output OD, OH, OW */
    long in_plane, out_plane;   /* D*H*W and OD*OH*OW */
} cnn_pool3d;

/* Checks the geometry and sets out and the planes: 0, or -1 when a size
 * is not positive, a pad negative, or a window would lie outside the
 * input entirely (as PyTorch, which wants pad <= k/2). */
int cnn_pool3d_init(cnn_pool3d *g);
/* Max over each window's positions inside the input (padding and extra
 * never win; NaN does, as PyTorch); arg (NULL in inference) gets the
 * winner's index in its input plane, the first of equal maxima, for the
 * backward: the caller keeps out_plane ints per plane, n * c * out_plane
 * for the batch.  Planes [p0, p1); y overwritten. */
void cnn_pool3d_max_forward(const cnn_pool3d *g, const float *x, long p0, long p1, float *y, int *arg);
/* dx += dL/dx for planes [p0, p1): each dy to its window's arg. */
void cnn_pool3d_max_backward(const cnn_pool3d *g, const int *arg, const float *dy, long p0, long p1, float *dx);
/* Mean of each window over its positions inside the input, or with
 * count_pad inside the input and its padding (not extra).  Keeps nothing
 * for the backward. */
void cnn_pool3d_avg_forward(const cnn_pool3d *g, const float *x, long p0, long p1, float *y);
/* dx += dL/dx for planes [p0, p1): dy / divisor over each window. */
void cnn_pool3d_avg_backward(const cnn_pool3d *g, const float *dy, long p0, long p1, float *dx);

/* ConvTranspose3d without groups: x [C][D][H][W] to y [F][OD][OH][OW],
 * weights [C][F][KD][KH][KW], OD = (D-1)*sd - 2*pd + (KD-1)*dd + 1 (no
 * output_padding), the same for H and W.  It is the input gradient of the
 * convolution `conv` (F channels of OD x OH x OW to C filters of D x H x
 * W, the same weights), so that convolution's machinery does the work:
 * forward = its dL/dx, dL/dx = its forward, dL/dW = its dL/dW with x and
 * dy swapped.  Buffers, per item, with the sizes init sets:
 *   xp  (xp_floats):  x laid out by cnn_deconv3d_pad_x over [0, x_planes);
 *                     the forward reads it and so does dL/dW (keep it or
 *                     lay it out again);
 *   dyp (dyp_floats): dy laid out by cnn_deconv3d_pad_dy over [0, dy_planes)
 *                     for dL/dx and dL/dW;
 *   wpack (wpack_floats): cnn_deconv3d_pack once per weight change;
 *   task (task_floats): scratch of each running call.
 * Use: pack; per item pad_x, then forward over output depths [0, OD).
 * Backward per item: pad_x (unless kept), pad_dy, then input_grads over
 * input depths [0, D), weight_grads over input channels [0, C) and
 * bias_grads over [0, F). */
typedef struct {
    /* set by the caller */
    int c, d, h, w, f;          /* input channels and volume, output channels */
    int kd, kh, kw, sd, sh, sw, pd, ph, pw, dd, dh, dw;
    /* set by cnn_deconv3d_init */
    int od, oh, ow;             /* output volume */
    cnn_conv3d conv;            /* the convolution it is the transpose of */
    long x_planes, dy_planes;
    long xp_floats, dyp_floats, wpack_floats, task_floats;
} cnn_deconv3d;

/* 0, or -1 when a size is not positive or the output would be empty. */
int cnn_deconv3d_init(cnn_deconv3d *g);
void cnn_deconv3d_pack(const cnn_deconv3d *g, const float *w, float *wpack);
/* Planes [p0, p1) of xp from x (one item). */
void cnn_deconv3d_pad_x(const cnn_deconv3d *g, const float *x, float *xp, long p0, long p1);
/* y[f][od0..od1) of one item, bias b (NULL: none); overwritten. */
void cnn_deconv3d_forward(const cnn_deconv3d *g, const float *x, const float *xp, const float *w,
                          const float *wpack, const float *b, float *y, int od0, int od1, float *task);
/* Planes [p0, p1) of dyp from dy (one item). */
void cnn_deconv3d_pad_dy(const cnn_deconv3d *g, const float *dy, float *dyp, long p0, long p1);
/* dx += dL/dx at input depths [d0, d1) of one item. */
void cnn_deconv3d_input_grads(const cnn_deconv3d *g, const float *dy, const float *dyp, const float *w,
                              const float *wpack, float *dx, int d0, int d1, float *task);
/* dw += dL/dW for the share [c0, c1) of the C input channels, summed
 * over one item (shares as cnn_conv3d_weight_grads's). */
void cnn_deconv3d_weight_grads(const cnn_deconv3d *g, const float *x, const float *xp, const float *dy,
                               const float *dyp, float *dw, int c0, int c1, float *task);
/* db[f] += the sum of one item's dy over its positions, [f0, f1). */
void cnn_deconv3d_bias_grads(const cnn_deconv3d *g, const float *dy, float *db, int f0, int f1);

/* Nearest upsampling by k[0], k[1], k[2] in D, H, W (nn.Upsample(
 * scale_factor=k, mode='nearest')): y[z][r][s] = x[z/kd][r/kh][s/kw] for
 * planes [p0, p1) of size[3] each; y overwritten. */
void cnn_upsample3d_forward(const float *x, const int size[3], const int k[3], long p0, long p1, float *y);
/* dx += for each input position the sum of dy over its k[0]*k[1]*k[2]
 * copies, planes [p0, p1). */
void cnn_upsample3d_backward(const float *dy, const int size[3], const int k[3], long p0, long p1, float *dx);

/* The kernels for this CPU (or CNNRT_ISA), chosen on the first call. */
const cnn_kernels *cnn_kernels_best(void);
/* The kernels of one instruction set by name, or NULL when unknown or
 * the CPU lacks it. */
const cnn_kernels *cnn_kernels_isa(const char *isa);

/* Layers whose numerics do not depend on the network (runtime/layers.c).
 * Tensors are PyTorch's (N, C, spatial...) with the spatial size as one
 * number sp: H*W for images, D*H*W for volumes.  A plane is one channel of
 * one item, plane p = i * C + c at offset p * sp; [p0, p1) ranges over
 * planes and [c0, c1) over channels, so that a thread team splits the
 * work (nothing here starts threads).  Backward passes add into dx, which
 * may be NULL (no input gradient wanted). */

/* nn.LocalResponseNorm(size, alpha, beta, k): y = x / s^beta with
 * s = k + alpha/size * the sum of x^2 over channels
 * [c - size/2, c + (size-1)/2] (those outside count as 0). */
typedef struct {
    int size;                 /* >= 1 */
    float alpha, beta, k;     /* PyTorch's defaults: 1e-4, 0.75, 1 */
} cnn_lrn;

/* Planes [p0, p1) of y (not x: windows read the neighbouring planes),
 * and of scale (s, which the backward needs: as many floats as x,
 * n * c * sp, kept until the backward; NULL in inference).  Cost per
 * element: size multiply-adds, a division and a powf (beta 0.75: two
 * square roots instead). */
void cnn_lrn_forward(const cnn_lrn *l, const float *x, long c, long sp, long p0, long p1, float *y,
                     float *scale);
/* dx += dL/dx for planes [p0, p1), from the forward's x, y and scale (all
 * unchanged since) and dy.  Cost per element: size divisions and
 * multiply-adds, and a powf. */
void cnn_lrn_backward(const cnn_lrn *l, const float *x, const float *y, const float *scale,
                      const float *dy, long c, long sp, long p0, long p1, float *dx);

/* nn.PReLU(c): y = x > 0 ? x : slope[channel] * x, planes [p0, p1); y may
 * be x.  Cost: sp per plane. */
void cnn_prelu_forward(const float *x, const float *slope, long c, long sp, long p0, long p1, float *y);
/* For channels [c0, c1) of all n items: dx += dL/dx and dslope[ch] += the
 * sum over items and positions of (x > 0 ? 0 : x * dy), summed in double
 * (as PyTorch, x == 0 takes the slope's side).  x is the forward's input
 * (so y may be x only in inference).  Cost: 2 * n * sp per channel. */
void cnn_prelu_backward(const float *x, const float *slope, const float *dy, long n, long c, long sp,
                        long c0, long c1, float *dx, float *dslope);

/* V-Net's soft Dice loss for items [i0, i1) of a two-channel output y
 * (after softmax: n * 2 * sp floats) and labels (n * sp ints, 0 or 1):
 * per item 1 - 2 sum(p g) / (sum(p^2) + sum(g^2)), p = y's channel 1,
 * g = (label == 1).  Returns the sum of the items' losses (the caller
 * divides by the batch), or -1 when a label is neither 0 nor 1 (items
 * before it may have their dy written).  An item with no foreground and
 * p == 0 everywhere (0/0) has loss 0 and gradient 0: it is predicted
 * perfectly.  dy (NULL: loss only) gets scale * dL_i/dy for the items'
 * both channels, channel 0 being 0; scale is 1 / the batch the loss is a
 * mean over.  Sums in double.  Cost: 4 * sp per item. */
double cnn_dice_loss(const float *y, const int *labels, long sp, long i0, long i1, float scale, float *dy);
/* The hard Dice score of items [i0, i1) for `train` and `eval`: the
 * foreground P is where y's channel 1 exceeds channel 0 (ties go to 0,
 * as argmax), G where the label is 1; per item 2 |P and G| / (|P| + |G|),
 * 1 when both are empty.  Returns the sum of the items' scores, or -1
 * when a label is neither 0 nor 1.  Cost: 2 * sp per item. */
double cnn_dice_score(const float *y, const int *labels, long sp, long i0, long i1);

/* Data-parallel training (runtime/dist.c): the generated train step calls
 * these hooks, which do nothing in libcnnrt and outside `train` and
 * `bench`; in libcnnrt-mpi they sum over the ranks of MPI_COMM_WORLD.
 * batch: the global batch the loss is a mean over (n alone: n).
 * sync_bn: whether batchnorm sums its statistics over the ranks.
 * sum: adds n doubles over the ranks, in place.
 * grads_ready: grads[off..off+count) are final (the all-reduce may start);
 * grads_wait: all n gradients are summed over the ranks on return. */
int cnn_dist_batch(int n);
int cnn_dist_sync_bn(void);
void cnn_dist_sum(double *v, int n);
void cnn_dist_grads_ready(float *grads, long off, long count);
void cnn_dist_grads_wait(float *grads, long n);

/* The driver of `cnnc --main` (info, train, eval, predict, bench, forward,
 * backward, gradcheck): returns the process exit status. */
int cnn_main(const cnn_net *net, int argc, char **argv);

#ifdef __cplusplus
}
#endif

#endif
