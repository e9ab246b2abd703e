/* kinds.h - the tables of layer kinds and of activations.
 *
 * What every stage must know about a kind and that is data lives here, one
 * row per kind: its keyword, the prefix of its automatic names, its
 * tensors (layer_tensors), and for an activation its numbers and the C
 * expressions of its value and derivative.  What is code stays in its
 * stage, in a table indexed by OpKind that the compiler checks covers
 * every kind: the option parsers (layers.c), the shape rules (check.c),
 * the report's options (report.c) and the forward and backward printers
 * (emit/layers.c).  ORDER OP: OpKind in ir.h orders all of them.
 *
 * This file is part of the IR: it includes nothing but ir.h, so that the
 * front end never points into a later stage.
 */
#ifndef CNNC_KINDS_H
#define CNNC_KINDS_H

#include <stdbool.h>
#include <stdint.h>

#include "ir.h"

typedef struct {
    const char *keyword;   /* "conv"; what op_name() says */
    const char *prefix;    /* of automatic names: conv1, bn2 (act: its keyword) */
    bool statement;        /* written as a statement of its own keyword */
} KindInfo;

extern const KindInfo kind_info[OP_COUNT_];

enum { ACT_MAX_ARGS = 2 };

/* An activation.  The C expressions read `v` (the input for `forward`, the
 * output for `derivative` and `masked`: no pre-activation is kept for the
 * backward pass), `g` (the gradient arriving) and `A`, `B` (the numbers),
 * each a token of its own; the emitter substitutes them. */
typedef struct {
    const char *keyword;            /* "leaky" */
    int nargs;                      /* numbers after it: all of them or none */
    double args[ACT_MAX_ARGS];      /* their defaults */
    const char *labels[ACT_MAX_ARGS];  /* in the report's text ("slope") */
    const char *keys[ACT_MAX_ARGS];    /* in the report's JSON ("alpha") */
    const char *usage;              /* for messages: "hardtanh [MIN MAX]" */
    const char *rule;               /* what valid() checks, for its message */
    bool (*valid)(const double *args);  /* NULL: any numbers */
    const char *forward;            /* of v, the input; NULL: the identity */
    const char *derivative;         /* of v, the output */
    const char *masked;             /* g times the derivative, as a select
                                       (vectorises better), or NULL */
    bool he_init;                   /* He initialisation for a layer before it */
} ActInfo;

extern const ActInfo act_info[ACT_COUNT_];

/* The activation of a keyword, or ACT_NONE. */
ActKind act_of_keyword(const char *word);
/* n's activation numbers, in order (act_alpha, act_beta). */
void act_args(const Node *n, double args[ACT_MAX_ARGS]);

/* One tensor of a layer, in PyTorch's name and layout. */
typedef struct {
    const char *what;       /* "weight", "bias", "running_mean", "running_var" */
    int ndim;
    int64_t shape[5];       /* conv on a volume: [F, C/g, KD, KH, KW] */
    bool state;             /* not trained: batchnorm's running statistics */
} LayerTensor;

enum { MAX_LAYER_TENSORS = 4 };

/* n's tensors in the order they are stored; returns how many.  Needs
 * n->in_shape.  The dimensions are as the user wrote them, so a caller
 * that has not checked them multiplies them with overflow checks. */
int layer_tensors(const Node *n, LayerTensor t[MAX_LAYER_TENSORS]);
/* The elements of t; *ok turns false on overflow. */
int64_t tensor_elems(const LayerTensor *t, bool *ok);

/* The loss keyword ("ce", "dice", "mse"); LOSS_KINDS lists them. */
const char *loss_name(LossKind loss);
#define LOSS_KINDS "ce, dice or mse"
/* The loss a network trains with: its `loss` statement's, else
 * cross-entropy after a softmax output and mean squared error otherwise. */
LossKind net_loss(const Net *net);
/* Whether the output layer ends in softmax (a layer or a trailing one). */
bool net_ends_in_softmax(const Net *net);
/* The floats per image that n's forward keeps for its backward besides
 * the activations (training only): dropout's mask, lrn's scales. */
int64_t kept_elems(const Node *n);

const char *op_name(OpKind op);        /* "conv", "pool", "fc", ... */
const char *act_name(ActKind act);     /* "relu", ..., "" for ACT_NONE */
/* Prefix used for automatic names: conv, deconv, pool, fc, relu, bn, ... */
const char *op_auto_prefix(const Node *n);

#endif
