/* emitter.h - what the C backend's files share: the plan of the model's
 * memory, and the helpers of emit/print.c and emit/index.c.  Calls run one
 * way: the frame (emit.c) calls the kernels (conv.c, tile.c, cols.c,
 * flat.c, blas.c, layers.c) and embed.c; all of them call print.c and
 * index.c, which call nothing back (tests/layering.sh checks it). */
#ifndef CNNC_EMITTER_H
#define CNNC_EMITTER_H

#include <stdarg.h>

#include "emit.h"
#include "lower.h"
#include "plan.h"

/* Where one layer's data lives.  Offsets are in floats: parameter, state
 * and stats offsets absolute; activation and mask offsets per image (the
 * generated code multiplies them by max_batch).  The generated code names
 * each offset after the layer (an enum above its functions: conv1_W = 0,
 * ...); the *_name fields hold those names, NULL where the offset is -1. */
typedef struct {
    const Node *node;
    const LayerLowering *low; /* its kernel and geometry */
    char *cname;             /* C identifier for functions, e.g. layer1_0_conv1 */
    long w_off, b_off;       /* -1 when absent */
    long w_size, b_size;
    long rm_off, rv_off;     /* batchnorm running mean/var, in state */
    long stats_off;          /* batchnorm batch mean and 1/std, in stats */
    long act_off;            /* output, per image */
    long grad_off;           /* its gradient, per image (training) */
    long mask_off;           /* dropout mask, per image; -1 when none */
    bool he_init;            /* a ReLU follows: He, else Glorot */
    char *w_name, *b_name;   /* in params (and grads) */
    char *rm_name, *rv_name, *stats_name;
    char *mask_name;         /* MASK(mask_name) */
    char *y_name, *dy_name;  /* in act and dact, per image */
    char *y_expr, *dy_expr;  /* its output and gradient: "ACT(conv1_Y)", "DACT(conv1_DY)" */
} LayerPlan;

typedef struct {
    const Net *net;
    const EmitOptions *opt;
    StrBuf *out;
    int indent;
    char *upper;             /* the prefix in capitals, for macros */
    LayerPlan *plan;
    Lowered lowered;         /* each layer's kernel and geometry */
    long num_params, num_state, num_stats, act_elems, mask_elems;
    long col_elems;          /* m->col: lowered.col, the largest im2col matrix */
    long flat_elems;         /* m->flat per image: lowered.scratch, the kernels' planes */
    long task_elems;         /* m->task per thread: lowered.task (volumes), or 0 */
    long grad_elems;         /* gradients per image, as planned */
    MemPlan mem;
    bool train;
} Emitter;

/* ---- printing (emit/print.c) ---- */

void emit_out(Emitter *E, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void emit_open_block(Emitter *E, const char *fmt, ...)   /* prints "... {" and indents */
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void emit_close_block(Emitter *E);                       /* "}" */
void emit_open_scope(Emitter *E);                        /* a bare "{" */
void emit_blank(Emitter *E);                             /* an empty line */
/* "for (TYPE VAR = 0; VAR < COUNT; VAR++) {" and true; nothing and false
 * when COUNT is 1, so that no loop runs once: the caller then leaves VAR
 * (0) out of its expressions, and ends the loop with emit_end_loop. */
bool emit_loop(Emitter *E, const char *type, const char *var, long count);
void emit_end_loop(Emitter *E, bool opened);

/* C expressions for the buffers of layer lp: its k-th input, its output,
 * and their gradients.  The strings live as long as the Emitter. */
const char *emit_in_ptr(Emitter *E, const LayerPlan *lp, int k);
const char *emit_in_grad_ptr(Emitter *E, const LayerPlan *lp, int k);
const char *emit_out_ptr(Emitter *E, const LayerPlan *lp);
const char *emit_out_grad_ptr(Emitter *E, const LayerPlan *lp);
long emit_in_elems(const Emitter *E, const LayerPlan *lp, int k);
const Node *emit_in_node(const Emitter *E, const LayerPlan *lp, int k);

/* v as a C float literal ("2.0f", "0.1f", "1e-05f"); the result lives
 * in one of a few static buffers. */
const char *emit_flt(double v);

/* ---- around the kernels' loops (emit/index.c) ---- */

/* A linear expression k1*v1 + k2*v2 + ... + constant as C, constants
 * folded ("c * 1024 + r * 32 + 66", "r", "0"), into buf; returns buf.
 * A term with v NULL is a constant. */
typedef struct {
    long k;
    const char *v;
} Term;
char *emit_linear(char *buf, size_t size, int nterms, const Term *t);
/* Image i's input planes (at x) copied to xp, zero-padded to HPxWP, and
 * the `slack` floats after the last plane zeroed. */
void emit_pad_planes(Emitter *E, const ConvGeom *g, long slack);
/* decl followed by the offset of image i's channel c of filter f's group,
 * (f / FG * CG + c) * plane + i * image, folded: no group term without
 * groups, no c unless c_loop. */
void emit_group_channel(Emitter *E, const ConvGeom *g, const char *decl, long image, long plane, bool c_loop);
/* decl followed by the offset of filter f's weights for channel c. */
void emit_filter_channel(Emitter *E, const ConvGeom *g, bool c_loop, const char *decl);
/* The padded planes at dxp (`plane` floats apart) added into image i's dL/dx. */
void emit_unpad_planes(Emitter *E, const ConvGeom *g, long plane);

/* n's activation as a C expression of v (and g), appended to sb. */
void emit_act_expr(StrBuf *sb, const char *tmpl, const Node *n, const char *v, const char *g);
/* n's trailing activation applied in place to count floats at y, and its
 * derivative multiplied into dy, as C statements. */
void emit_act_forward(Emitter *E, const Node *n, const char *y, const char *count);
void emit_act_backward(Emitter *E, const Node *n, const char *y, const char *dy, const char *count);

/* The derivative of a layer's trailing activation, in place in dy. */
void emit_trailing_act_backward(Emitter *E, const Node *n);
/* The start of a forward with weights: x, y, w, and b when there is one. */
void emit_weighted_forward_head(Emitter *E, const LayerPlan *lp);
/* Inside loops over images i and filters f: filter f's output plane of
 * image i copied from rows of `width` floats at `rows` (dropping the
 * columns past OW), with bias and the trailing activation (not softmax). */
void emit_output_rows(Emitter *E, const LayerPlan *lp, const char *rows, long width);
/* The start of a backward with weights: x, y, dy, dx, w, dw, and the
 * trailing activation's derivative already applied to dy. */
void emit_weighted_backward_head(Emitter *E, const LayerPlan *lp);

/* Softmax over the c channels of each of the hw pixels of n images at y,
 * in place; its backward turns dy (dL/dy) into dL/dlogits in place, unless
 * the loss already left dL/dlogits there (m->loss_fused; only the output
 * layer is fusable). */
void emit_softmax_forward(Emitter *E, const char *y, long c, long hw);
void emit_softmax_backward(Emitter *E, const char *y, const char *dy, long c, long hw, bool fusable);

/* Kernels, one pair per layer kind (emit/conv.c, emit/layers.c). */
void emit_conv_forward(Emitter *E, const LayerPlan *lp);
void emit_conv_backward(Emitter *E, const LayerPlan *lp);
void emit_deconv_forward(Emitter *E, const LayerPlan *lp);
void emit_deconv_backward(Emitter *E, const LayerPlan *lp);
void emit_fc_forward(Emitter *E, const LayerPlan *lp);
void emit_fc_backward(Emitter *E, const LayerPlan *lp);
void emit_layer_forward(Emitter *E, const LayerPlan *lp);   /* all other kinds */
/* The kernels lower.c chooses from (see lower.h for each one's geometry). */
void emit_flat_conv_forward(Emitter *E, const LayerPlan *lp);
void emit_flat_conv_backward(Emitter *E, const LayerPlan *lp);
void emit_tile_conv_forward(Emitter *E, const LayerPlan *lp);
void emit_tile_conv_backward(Emitter *E, const LayerPlan *lp);
void emit_cols_conv_forward(Emitter *E, const LayerPlan *lp);
void emit_cols_conv_backward(Emitter *E, const LayerPlan *lp);
/* emit_conv_geom declares g, the layer's cnn_conv_geom for the runtime's
 * im2col (one group's channels; emit/index.c). */
void emit_conv_geom(Emitter *E, const ConvGeom *g);
void emit_blas_forward(Emitter *E, const LayerPlan *lp);
void emit_blas_backward(Emitter *E, const LayerPlan *lp);
void emit_layer_backward(Emitter *E, const LayerPlan *lp);
/* Volumes' kernels (emit/vol.c). */
void emit_conv3d_forward(Emitter *E, const LayerPlan *lp);
void emit_conv3d_backward(Emitter *E, const LayerPlan *lp);
void emit_deconv3d_forward(Emitter *E, const LayerPlan *lp);
void emit_deconv3d_backward(Emitter *E, const LayerPlan *lp);
void emit_pool3d_forward(Emitter *E, const LayerPlan *lp);
void emit_pool3d_backward(Emitter *E, const LayerPlan *lp);
void emit_upsample3d_forward(Emitter *E, const LayerPlan *lp);
void emit_upsample3d_backward(Emitter *E, const LayerPlan *lp);

/* The tensor table: PyTorch's names and layouts, for load and save. */
typedef struct {
    char *name;
    int ndim;
    int64_t shape[5];
    long offset;
    int in_state;
} TensorInfo;
/* --embed-weights (emit/embed.c): the weights of opt->embed as constant
 * arrays (nonzero, with a message naming the file and tensor, when the
 * file is not one NAME_load would accept), and the static model that uses
 * them. */
int emit_embedded(Emitter *E, const TensorInfo *t, int count, char *err, size_t errlen);
void emit_static_lifecycle(Emitter *E);
/* NAME_params and NAME_state, for both lifecycles (emit/embed.c). */
void emit_weight_accessors(Emitter *E);

#endif
