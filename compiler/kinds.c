/* kinds.c - the tables of layer kinds and activations (see kinds.h). */
#include "kinds.h"

#include <string.h>

#include "util.h"

/* ORDER OP */
const KindInfo kind_info[OP_COUNT_] = {
    [OP_INPUT] = {"input", "input", false},
    [OP_CONV] = {"conv", "conv", true},
    [OP_DECONV] = {"deconv", "deconv", true},
    [OP_POOL] = {"pool", "pool", true},
    [OP_FC] = {"fc", "fc", true},
    [OP_ACT] = {"act", NULL, false},   /* the activation's keyword is both */
    [OP_SOFTMAX] = {"softmax", "softmax", true},
    [OP_BATCHNORM] = {"batchnorm", "bn", true},
    [OP_DROPOUT] = {"dropout", "dropout", true},
    [OP_FLATTEN] = {"flatten", "flatten", true},
    [OP_UPSAMPLE] = {"upsample", "upsample", true},
    [OP_ADD] = {"add", "add", true},
    [OP_MUL] = {"mul", "mul", true},
    [OP_CONCAT] = {"concat", "concat", true},
    [OP_CROP] = {"crop", "crop", true},
    [OP_PRELU] = {"prelu", "prelu", true},
    [OP_LRN] = {"lrn", "lrn", true},
};

/* ---- activations ---- */

static bool at_least_zero(const double *args)
{
    return args[0] >= 0;
}

static bool ordered(const double *args)
{
    return args[0] < args[1];
}

/* ORDER ACT.  The derivatives come from the output alone, which is why
 * leaky's slope and elu's alpha must be at least 0: else the output is
 * positive on both sides of 0, and its sign does not say which side. */
const ActInfo act_info[ACT_COUNT_] = {
    [ACT_NONE] = {.keyword = ""},
    [ACT_RELU] = {
        .keyword = "relu", .usage = "relu",
        .forward = "v > 0.0f ? v : 0.0f",
        .derivative = "v > 0.0f ? 1.0f : 0.0f",
        .masked = "v > 0.0f ? g : 0.0f",
        .he_init = true,
    },
    [ACT_SIGMOID] = {
        .keyword = "sigmoid", .usage = "sigmoid",
        .forward = "1.0f / (1.0f + expf(-v))",
        .derivative = "v * (1.0f - v)",
    },
    [ACT_TANH] = {
        .keyword = "tanh", .usage = "tanh",
        .forward = "tanhf(v)",
        .derivative = "1.0f - v * v",
    },
    [ACT_LEAKY] = {
        .keyword = "leaky", .usage = "leaky [SLOPE]",
        .nargs = 1, .args = {0.1}, .labels = {"slope"}, .keys = {"alpha"},
        .rule = "SLOPE must be at least 0", .valid = at_least_zero,
        .forward = "v > 0.0f ? v : A * v",
        .derivative = "v > 0.0f ? 1.0f : A",
        .he_init = true,
    },
    [ACT_LINEAR] = {.keyword = "linear", .usage = "linear"},
    [ACT_SOFTMAX] = {.keyword = "softmax", .usage = "softmax"},  /* over channels: by the layer */
    [ACT_ELU] = {
        .keyword = "elu", .usage = "elu [ALPHA]",
        .nargs = 1, .args = {1.0}, .labels = {"alpha"}, .keys = {"alpha"},
        .rule = "ALPHA must be at least 0", .valid = at_least_zero,
        .forward = "v > 0.0f ? v : A * expm1f(v)",
        .derivative = "v > 0.0f ? 1.0f : v + A",
    },
    [ACT_HARDTANH] = {
        .keyword = "hardtanh", .usage = "hardtanh [MIN MAX]",
        .nargs = 2, .args = {-1.0, 1.0}, .labels = {"min", "max"}, .keys = {"min", "max"},
        .rule = "MIN must be less than MAX", .valid = ordered,
        .forward = "v < A ? A : v > B ? B : v",
        .derivative = "v > A && v < B ? 1.0f : 0.0f",
        .masked = "v > A && v < B ? g : 0.0f",
    },
};

ActKind act_of_keyword(const char *word)
{
    for (int a = ACT_NONE + 1; a < ACT_COUNT_; a++)
        if (strcmp(word, act_info[a].keyword) == 0)
            return (ActKind)a;
    return ACT_NONE;
}

void act_args(const Node *n, double args[ACT_MAX_ARGS])
{
    args[0] = n->act_alpha;
    args[1] = n->act_beta;
}

/* ---- tensors ---- */

static void put(LayerTensor *t, int *count, const char *what, bool state, int ndim,
                int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
    t[*count] = (LayerTensor){what, ndim, {d0, d1, d2, d3, 0}, state};
    ++*count;
}

/* A conv or deconv weight, [A, B, KH, KW], or [A, B, KD, KH, KW] as
 * PyTorch's Conv3d and ConvTranspose3d hold it. */
static void put_kernel(LayerTensor *t, int *count, const Node *n, int64_t a, int64_t b)
{
    if (!n->in_shape.volume) {
        put(t, count, "weight", false, 4, a, b, n->kh, n->kw);
        return;
    }
    t[*count] = (LayerTensor){"weight", 5, {a, b, n->kd, n->kh, n->kw}, false};
    ++*count;
}

int layer_tensors(const Node *n, LayerTensor t[MAX_LAYER_TENSORS])
{
    int count = 0;
    Shape in = n->in_shape;
    int64_t c = in.c, f = n->filters, g = n->groups > 0 ? n->groups : 1;
    switch (n->op) {
    case OP_CONV:
        put_kernel(t, &count, n, f, c / g);
        break;
    case OP_DECONV:
        put_kernel(t, &count, n, c, f / g);
        break;
    case OP_FC:   /* a checked input shape: its product fits */
        put(t, &count, "weight", false, 2, f, in.d * in.h * in.w * c, 0, 0);
        break;
    case OP_BATCHNORM:
        put(t, &count, "weight", false, 1, c, 0, 0, 0);
        put(t, &count, "bias", false, 1, c, 0, 0, 0);
        put(t, &count, "running_mean", true, 1, c, 0, 0, 0);
        put(t, &count, "running_var", true, 1, c, 0, 0, 0);
        return count;
    case OP_PRELU:
        put(t, &count, "weight", false, 1, c, 0, 0, 0);
        return count;
    default:
        return 0;
    }
    if (n->bias)
        put(t, &count, "bias", false, 1, f, 0, 0, 0);
    return count;
}

int64_t tensor_elems(const LayerTensor *t, bool *ok)
{
    int64_t elems = 1;
    for (int d = 0; d < t->ndim; d++)
        if (!mul_ovf(elems, t->shape[d], &elems)) {
            *ok = false;
            return 0;
        }
    return elems;
}

/* ---- losses ---- */

const char *loss_name(LossKind loss)
{
    static const char *const names[] = {
        [LOSS_DEFAULT] = "default", [LOSS_CE] = "ce", [LOSS_DICE] = "dice", [LOSS_MSE] = "mse",
    };
    return loss >= 0 && loss <= LOSS_MSE ? names[loss] : "?";
}

bool net_ends_in_softmax(const Net *net)
{
    const Node *last = net->nodes[net->output];
    return last->op == OP_SOFTMAX || last->act == ACT_SOFTMAX;
}

LossKind net_loss(const Net *net)
{
    if (net->loss != LOSS_DEFAULT)
        return net->loss;
    return net_ends_in_softmax(net) ? LOSS_CE : LOSS_MSE;
}

int64_t kept_elems(const Node *n)
{
    switch (n->op) {
    case OP_DROPOUT:   /* its mask */
    case OP_LRN:       /* the scale s of every output */
        return n->out_elems;
    case OP_POOL:      /* a volume's max: each output's winner (an int) */
        return n->in_shape.volume && n->pool == POOL_MAX ? n->out_elems : 0;
    default:
        return 0;
    }
}

const char *op_name(OpKind op)
{
    return op >= 0 && op < OP_COUNT_ ? kind_info[op].keyword : "?";
}

const char *act_name(ActKind act)
{
    return act >= 0 && act < ACT_COUNT_ ? act_info[act].keyword : "?";
}

const char *op_auto_prefix(const Node *n)
{
    return n->op == OP_ACT ? act_name(n->act) : kind_info[n->op].prefix;
}
