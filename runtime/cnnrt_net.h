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
    int64_t shape[4];
    long offset;           /* in floats, from the start of params or state */
    int in_state;          /* 0: params, 1: state */
} cnn_tensor;

enum { CNN_LOSS_CROSS_ENTROPY, CNN_LOSS_MSE };

typedef struct cnn_net {
    const char *name;
    int in_c, in_h, in_w, in_size;
    int out_c, out_h, out_w, out_size;
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

/* The last error of cnn_load_tensors / cnn_save_tensors (and of the
 * generated _load/_save that call them), for the caller to print. */
const char *cnn_error(void);

/* Loads every tensor of the table from a safetensors file: all names must
 * be there with dtype F32 and the exact shape; tensors the table does not
 * know are an error, except batchnorm's num_batches_tracked.  All or
 * nothing: on error params and state are unchanged.  0 or <0. */
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
