/* ir.h - the network graph: the centre of cnnc.
 *
 * The expander (expand.c) fills it from the parsed statements, the checker
 * (check.c) annotates every node with its shape and counts, and the later
 * stages (lower.c and plan.c, then report.c and compiler/emit/) only read
 * it (tests/layering.sh has the order).  Nodes are stored in statement
 * order, which is a topological order: a node's inputs always have smaller
 * ids, because a name must be defined before it is used.
 *
 * Node 0 is always the network input (OP_INPUT, named "input").
 */
#ifndef CNNC_IR_H
#define CNNC_IR_H

#include <stdbool.h>
#include <stdint.h>

#include "diag.h"

/* ORDER OP: the tables indexed by OpKind (kinds.c, layers.c, check.c,
 * report.c, emit/layers.c) are checked to have a row for each. */
typedef enum {
    OP_INPUT,
    OP_CONV,
    OP_DECONV,
    OP_POOL,
    OP_FC,
    OP_ACT,       /* a stand-alone activation: relu, sigmoid, tanh, leaky, ... */
    OP_SOFTMAX,   /* softmax over channels, per pixel (nn.Softmax(dim=1)) */
    OP_BATCHNORM,
    OP_DROPOUT,
    OP_FLATTEN,
    OP_UPSAMPLE,
    OP_ADD,
    OP_MUL,
    OP_CONCAT,
    OP_CROP,
    OP_PRELU,     /* nn.PReLU(C): a learnable slope per channel */
    OP_LRN,       /* local response normalisation across channels */
    OP_COUNT_
} OpKind;

typedef enum {
    ACT_NONE,
    ACT_RELU,
    ACT_SIGMOID,
    ACT_TANH,
    ACT_LEAKY,
    ACT_LINEAR,
    ACT_SOFTMAX,  /* only as a trailing activation; same meaning as OP_SOFTMAX */
    ACT_ELU,
    ACT_HARDTANH,
    ACT_COUNT_    /* ORDER ACT: act_info in kinds.c has a row for each */
} ActKind;

typedef enum { POOL_MAX, POOL_AVG } PoolKind;

/* How a conv/pool whose windows do not tile the input is treated. */
typedef enum { FIT_DEFAULT, FIT_ERROR, FIT_FLOOR, FIT_CEIL } FitMode;

/* The training loss (`loss ce|dice|mse`); LOSS_DEFAULT: cross-entropy
 * when the network ends in softmax, else mean squared error. */
typedef enum { LOSS_DEFAULT, LOSS_CE, LOSS_DICE, LOSS_MSE } LossKind;

/* How the user asked for padding; the checker turns it into pad_* numbers. */
typedef enum { PAD_EXPLICIT, PAD_SAME, PAD_VALID } PadMode;

/* Sizes are 64-bit everywhere so that the checker can detect overflow
 * instead of wrapping; a checked shape never exceeds INT32_MAX elements
 * per dimension. */
typedef struct {
    int64_t h, w, c;
    int64_t d;             /* depth: 1 for an image (check_input sets it) */
    bool volume;           /* D x H x W x C (SPEC 7), else H x W x C */
} Shape;

typedef struct Node {
    int id;
    char *name;        /* full name, e.g. "layer1.0.conv1"; keys the weights */
    char *kind_name;   /* the statement's keyword: "conv", "pool", "relu", ...;
                          set by the expander (NULL: op_name(op)) */
    OpKind op;
    SrcLoc loc;        /* where the statement (or its block call) stands */

    int ninputs;
    int *inputs;       /* node ids, all smaller than id */
    SrcLoc *input_locs; /* where each input was named (for error messages) */
    bool invalid;       /* the statement had errors: the checker skips this
                           node and, silently, all that depends on it */

    /* conv / deconv / pool.  The depth fields (kd, sd, dd, pad_d, pad_f,
     * pad_k, ceil_k) are 1, 1, 1 and 0 on images: a depth axis of one
     * plane that every window covers exactly. */
    int64_t kd, kh, kw;     /* kernel (pool window) */
    int64_t filters;        /* conv/deconv output channels; fc outputs */
    int64_t sd, sh, sw;     /* stride */
    int64_t dd, dh, dw;     /* dilation (1 when not given) */
    int64_t groups;         /* 1 when not given */
    PadMode pad_mode;
    int64_t pad_d, pad_h, pad_w;   /* as written, for PAD_EXPLICIT */
    /* Padding as used by the computation, set by the checker.  Bottom and
     * right may exceed top and left: `pad same` with an even kernel, and
     * `fit ceil` (the extra rows/cols a ceil-mode window reads are outside
     * the image: zeros for conv, ignored by pooling). */
    int64_t pad_t, pad_b, pad_l, pad_r;
    int64_t pad_f, pad_k;   /* front and back, along the depth */
    FitMode fit;            /* FIT_DEFAULT: the file's `fit` statement decides */
    bool bias;              /* false with `nobias` */

    PoolKind pool;
    bool global;            /* pool ... global */
    bool countpad;          /* pool avg ... countpad: padded zeros count */
    int64_t ceil_b, ceil_r; /* of pad_b, pad_r: what `fit ceil` added (set
                               by the checker); the rest is padding proper */
    int64_t ceil_k;         /* of pad_k, likewise */

    ActKind act;            /* OP_ACT: the activation; others: trailing one */
    double act_alpha;       /* its first number: leaky's slope, elu's alpha, hardtanh's min */
    double act_beta;        /* its second: hardtanh's max */

    double eps, momentum;   /* batchnorm (1e-5, 0.1) */
    double drop_p;          /* dropout probability */
    int64_t factor;         /* upsample */
    int64_t crop_d, crop_h, crop_w; /* crop target (crop_d 1 on images) */
    int64_t lrn_size;       /* lrn: channels in a window */
    double lrn_alpha, lrn_beta, lrn_k;  /* lrn (1e-4, 0.75, 1) */

    /* Filled by the checker. */
    Shape in_shape;         /* shape of inputs[0] */
    Shape out;
    int64_t out_elems;      /* out.d * out.h * out.w * out.c */
    int64_t params;         /* trainable parameters */
    int64_t non_trainable;  /* batchnorm running mean and variance */
    int64_t macs;           /* forward multiply-accumulates, per image */
    bool checked;           /* shape is valid; false after an error */
} Node;

typedef struct Net {
    char *name;             /* `network NAME`, else the file's base name */
    SrcLoc name_loc;
    Shape input;            /* from the `input` statement */
    bool has_input;
    SrcLoc input_loc;
    FitMode fit;            /* the file-wide `fit` statement; FIT_ERROR if none */
    LossKind loss;          /* the `loss` statement; LOSS_DEFAULT if none */
    SrcLoc loss_loc;

    Node **nodes;
    int nnodes;
    int cap;

    /* Every file read (the main file first, then includes), for -M. */
    char **files;
    int nfiles;

    /* Totals, filled by the checker. */
    int64_t params, non_trainable, macs;
    int64_t act_infer_elems;  /* peak live activations, inference, per image */
    int64_t act_train_elems;  /* activations kept for backward + gradients */
    int output;               /* id of the output node (the last one) */
} Net;

Net *net_new(void);
void net_free(Net *net);
/* Appends a node with op and name (copied); returns it, id set. */
Node *net_add_node(Net *net, OpKind op, const char *name, SrcLoc loc);
void node_add_input(Node *n, int id, SrcLoc loc);
/* Node with this exact full name, or NULL. */
Node *net_find(const Net *net, const char *name);
void net_add_file(Net *net, const char *path);

#endif
