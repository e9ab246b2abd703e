/* test_check.c - the checker's shape rules, counts and messages.
 *
 * Nets are built by hand so that these tests do not depend on the parser.
 * Expected shapes marked "PyTorch" were printed by torch 1.13 (nn.Conv2d,
 * nn.MaxPool2d(ceil_mode=True), nn.ConvTranspose2d).
 */
#define _POSIX_C_SOURCE 200809L
#include <CUnit/CUnit.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "diag.h"
#include "ir.h"
#include "kinds.h"
#include "suites.h"

/* ---- Helpers ---- */

static char *messages; /* what the last run() printed */
static int warnings;    /* and how many warnings */

static SrcLoc line_loc(int line)
{
    return (SrcLoc){NULL, line, 1};
}

static Net *new_net(int64_t h, int64_t w, int64_t c)
{
    Net *net = net_new();
    net->has_input = true;
    net->input = (Shape){h, w, c, 1, false};
    net->input_loc = line_loc(1);
    net_add_node(net, OP_INPUT, "input", line_loc(1));
    return net;
}

/* A layer taking the previous node's output. */
static Node *layer(Net *net, OpKind op, const char *name)
{
    Node *n = net_add_node(net, op, name, line_loc(net->nnodes + 1));
    node_add_input(n, n->id - 1, line_loc(n->id + 1));
    return n;
}

static Node *conv(Net *net, const char *name, int64_t k, int64_t filters)
{
    Node *n = layer(net, OP_CONV, name);
    n->kh = n->kw = k;
    n->filters = filters;
    return n;
}

/* A conv on a volume: kd x k x k. */
static Node *conv3(Net *net, const char *name, int64_t kd, int64_t k, int64_t filters)
{
    Node *n = conv(net, name, k, filters);
    n->kd = kd;
    return n;
}

static Node *deconv(Net *net, const char *name, int64_t k, int64_t filters)
{
    Node *n = conv(net, name, k, filters);
    n->op = OP_DECONV;
    return n;
}

static Node *pool(Net *net, const char *name, int64_t k)
{
    Node *n = layer(net, OP_POOL, name);
    n->kh = n->kw = n->sh = n->sw = k;
    return n;
}

static Node *fc(Net *net, const char *name, int64_t outputs)
{
    Node *n = layer(net, OP_FC, name);
    n->filters = outputs;
    return n;
}

/* A layer whose inputs are the nodes named; nodes[i]'s name at column
 * 10*(i+1) of the node's line, so that messages can be located. */
static Node *join(Net *net, OpKind op, const char *name, int count, const char **inputs)
{
    Node *n = net_add_node(net, op, name, line_loc(net->nnodes + 1));
    for (int i = 0; i < count; i++) {
        SrcLoc loc = {NULL, n->id + 1, 10 * (i + 1)};
        node_add_input(n, net_find(net, inputs[i])->id, loc);
    }
    return n;
}

/* Runs the checker with diagnostics captured into `messages`; also checks
 * that the returned count is what was reported.  Sources registered with
 * diag_add_source stay until the suite's cleanup. */
static int run(Net *net)
{
    free(messages);
    messages = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&messages, &len);
    int errors_before = diag_errors(), warnings_before = diag_warnings();
    diag_set_stream(f);
    int errors = check_net(net);
    diag_set_stream(NULL);
    fclose(f);
    CU_ASSERT_EQUAL(errors, diag_errors() - errors_before);
    warnings = diag_warnings() - warnings_before;
    return errors;
}

static bool said(const char *text)
{
    bool found = messages && strstr(messages, text);
    if (!found)
        fprintf(stderr, "\nexpected \"%s\" in:\n%s\n", text, messages ? messages : "(nothing)");
    return found;
}

static Node *last(Net *net)
{
    return net->nodes[net->nnodes - 1];
}

static bool shape_is(const Node *n, int64_t h, int64_t w, int64_t c)
{
    if (n->checked && n->out.h == h && n->out.w == w && n->out.c == c)
        return true;
    fprintf(stderr, "\n%s: got %" PRId64 "x%" PRId64 "x%" PRId64 " (checked %d), want %"
            PRId64 "x%" PRId64 "x%" PRId64 "\n", n->name, n->out.h, n->out.w, n->out.c,
            n->checked, h, w, c);
    return false;
}

/* One conv or pool on an HxWxC input; returns the error count. */
static int one_window(OpKind op, int64_t h, int64_t w, int64_t k, int64_t s, int64_t pad,
                      FitMode fit, Node *copy)
{
    Net *net = new_net(h, w, 3);
    Node *n = op == OP_POOL ? pool(net, "pool1", k) : conv(net, "conv1", k, 4);
    n->sh = n->sw = s;
    n->pad_h = n->pad_w = pad;
    n->fit = fit;
    int errors = run(net);
    if (copy)
        *copy = *n;
    net_free(net);
    return errors;
}

/* ---- LeNet-5 ---- */

static Net *lenet(void)
{
    Net *net = new_net(28, 28, 1);
    Node *c1 = conv(net, "conv1", 5, 6);
    c1->pad_h = c1->pad_w = 2;
    c1->act = ACT_RELU;
    pool(net, "pool1", 2);
    conv(net, "conv2", 5, 16)->act = ACT_RELU;
    pool(net, "pool2", 2);
    fc(net, "fc1", 120)->act = ACT_RELU;
    fc(net, "fc2", 84)->act = ACT_RELU;
    fc(net, "fc3", 10);
    layer(net, OP_SOFTMAX, "softmax1");
    return net;
}

static void test_lenet(void)
{
    Net *net = lenet();
    CU_ASSERT_EQUAL(run(net), 0);
    CU_ASSERT_STRING_EQUAL(messages, "");
    Node *c1 = net_find(net, "conv1");
    CU_ASSERT(shape_is(c1, 28, 28, 6));
    CU_ASSERT_EQUAL(c1->params, 156);
    CU_ASSERT_EQUAL(c1->macs, 117600);
    CU_ASSERT_EQUAL(c1->pad_t + c1->pad_b + c1->pad_l + c1->pad_r, 8);
    CU_ASSERT(shape_is(net_find(net, "pool1"), 14, 14, 6));
    CU_ASSERT(shape_is(net_find(net, "conv2"), 10, 10, 16));
    CU_ASSERT_EQUAL(net_find(net, "conv2")->params, 2416);
    CU_ASSERT(shape_is(net_find(net, "pool2"), 5, 5, 16));
    Node *f1 = net_find(net, "fc1");
    CU_ASSERT(shape_is(f1, 1, 1, 120));
    CU_ASSERT_EQUAL(f1->in_shape.h * f1->in_shape.w * f1->in_shape.c, 400);
    CU_ASSERT_EQUAL(f1->params, 48120);
    CU_ASSERT(shape_is(last(net), 1, 1, 10));
    CU_ASSERT_EQUAL(net->output, net->nnodes - 1);
    CU_ASSERT_EQUAL(net->params, 61706);
    CU_ASSERT_EQUAL(net->non_trainable, 0);
    CU_ASSERT_EQUAL(net->macs, 416520);
    /* 784 + 4704 + 1176 + 1600 + 400 + 120 + 84 + 10 + 10 */
    CU_ASSERT_EQUAL(net->act_train_elems, 2 * 8888);
    CU_ASSERT_EQUAL(net->act_infer_elems, 4704 + 1176);
    /* Checking twice gives the same answer. */
    CU_ASSERT_EQUAL(run(net), 0);
    CU_ASSERT_EQUAL(net->params, 61706);
    CU_ASSERT(shape_is(c1, 28, 28, 6));
    net_free(net);
}

/* ---- conv ---- */

static void test_conv_padding(void)
{
    Node n;
    /* Explicit, valid and dilated. */
    CU_ASSERT_EQUAL(one_window(OP_CONV, 224, 224, 7, 2, 3, FIT_FLOOR, &n), 0);
    CU_ASSERT(shape_is(&n, 112, 112, 4)); /* PyTorch */
    CU_ASSERT_EQUAL(n.params, 4 * 3 * 49 + 4);

    Net *net = new_net(7, 7, 2);
    Node *c = conv(net, "conv1", 3, 5);
    c->dh = c->dw = 2;
    c->pad_mode = PAD_VALID;
    c->pad_h = 9; /* ignored: valid */
    c->bias = false;
    CU_ASSERT_EQUAL(run(net), 0);
    CU_ASSERT(shape_is(c, 3, 3, 5));
    CU_ASSERT_EQUAL(c->params, 5 * 2 * 9);
    CU_ASSERT_EQUAL(c->macs, 3 * 3 * 5 * 9 * 2);
    CU_ASSERT_EQUAL(c->pad_t + c->pad_b, 0);
    net_free(net);
}

/* pad same: out = ceil(in/s), the odd pad at the bottom/right. */
static void test_conv_same(void)
{
    static const struct {
        int64_t in, k, s, d, out, top, bottom;
    } cases[] = {
        {28, 3, 1, 1, 28, 1, 1},
        {7, 2, 1, 1, 7, 0, 1},   /* PyTorch padding='same' */
        {7, 4, 2, 1, 4, 1, 2},   /* PyTorch on F.pad(x, (1, 2, 1, 2)) */
        {8, 4, 2, 1, 4, 1, 1},
        {224, 7, 2, 1, 112, 2, 3},
        {8, 1, 3, 1, 3, 0, 0},   /* stride > kernel: no padding, still fits */
        {9, 3, 2, 2, 5, 2, 2},
        {1, 5, 1, 1, 1, 2, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Net *net = new_net(cases[i].in, cases[i].in, 3);
        Node *c = conv(net, "conv1", cases[i].k, 8);
        c->sh = c->sw = cases[i].s;
        c->dh = c->dw = cases[i].d;
        c->pad_mode = PAD_SAME;
        CU_ASSERT_EQUAL(run(net), 0);
        CU_ASSERT(shape_is(c, cases[i].out, cases[i].out, 8));
        CU_ASSERT_EQUAL(c->pad_t, cases[i].top);
        CU_ASSERT_EQUAL(c->pad_b, cases[i].bottom);
        CU_ASSERT_EQUAL(c->pad_l, cases[i].top);
        CU_ASSERT_EQUAL(c->pad_r, cases[i].bottom);
        net_free(net);
    }
}

static void test_conv_nonsquare(void)
{
    Net *net = new_net(10, 19, 3);
    Node *c = conv(net, "conv1", 3, 4);
    c->kw = 5;
    c->sh = 1;
    c->sw = 3;
    c->pad_h = 1;
    c->pad_w = 2;
    CU_ASSERT_EQUAL(run(net), 0);
    CU_ASSERT(shape_is(c, 10, 7, 4)); /* (19 + 4 - 5) / 3 + 1 = 7 */
    CU_ASSERT_EQUAL(c->macs, 10 * 7 * 4 * 15 * 3);
    net_free(net);
}

static void test_conv_groups(void)
{
    Net *net = new_net(8, 8, 32);
    Node *c = conv(net, "conv1", 3, 32);
    c->groups = 32;
    c->pad_h = c->pad_w = 1;
    CU_ASSERT_EQUAL(run(net), 0);
    CU_ASSERT(shape_is(c, 8, 8, 32));
    CU_ASSERT_EQUAL(c->params, 32 * 9 + 32); /* depthwise */
    CU_ASSERT_EQUAL(c->macs, 8 * 8 * 32 * 9);
    net_free(net);

    net = new_net(8, 8, 6);
    conv(net, "conv1", 3, 8)->groups = 4;
    CU_ASSERT_EQUAL(run(net), 1);
    CU_ASSERT(said("conv1: groups 4 must divide both the 6 input channels and the 8 filters"));

    net_free(net);
    net = new_net(8, 8, 8);
    conv(net, "conv1", 3, 6)->groups = 4;
    CU_ASSERT_EQUAL(run(net), 1);
    CU_ASSERT(said("conv1: groups 4 must divide both the 8 input channels and the 6 filters"));
    net_free(net);

    net = new_net(8, 8, 6);
    conv(net, "conv1", 3, 6)->groups = 4;
    CU_ASSERT_EQUAL(run(net), 1);
    CU_ASSERT(said("conv1: groups 4 must divide both the 6 input channels and the 6 filters"));
    net_free(net);
}

static void test_too_large(void)
{
    Net *net = new_net(3, 3, 1);
    conv(net, "conv1", 5, 4);
    CU_ASSERT_EQUAL(run(net), 1);
    CU_ASSERT(said("conv1: the 5x5 filter is larger than its 3x3 input\n"));
    net_free(net);

    net = new_net(3, 3, 1);
    Node *c = conv(net, "conv1", 7, 4);
    c->pad_h = c->pad_w = 1;
    CU_ASSERT_EQUAL(run(net), 1);
    CU_ASSERT(said("conv1: the 7x7 filter is larger than its 3x3 input (5x5 with padding)"));
    net_free(net);

    net = new_net(4, 9, 1);
    c = conv(net, "conv1", 3, 4);
    c->dh = c->dw = 2;
    CU_ASSERT_EQUAL(run(net), 1);
    CU_ASSERT(said("conv1: the 3x3 filter with dilation 2 (5x5 wide) is larger than its 4x9 input"));
    net_free(net);

    net = new_net(2, 2, 1);
    pool(net, "pool1", 3);
    CU_ASSERT_EQUAL(run(net), 1);
    CU_ASSERT(said("pool1: the 3x3 window is larger than its 2x2 input"));
    net_free(net);
}

/* ---- The "doesn't fit" rule ---- */

static void test_misfit_message(void)
{
    CU_ASSERT_EQUAL(one_window(OP_CONV, 7, 7, 3, 3, 0, FIT_DEFAULT, NULL), 1);
    CU_ASSERT(said("cnnc: error: conv1: a 3x3 filter with stride 3 does not fit the 7x7 input: "
                   "the last window misses 1 row and 1 column (2 more would complete another "
                   "window); use 'pad 1' (output 3x3), 'stride 2' (output 3x3) or 'stride 4' "
                   "(output 2x2), or 'fit floor' (output 2x2) or 'fit ceil' (output 3x3)\n"));

    /* Only the rows miss; the stride stays square. */
    CU_ASSERT_EQUAL(one_window(OP_CONV, 7, 6, 3, 3, 0, FIT_DEFAULT, NULL), 1);
    CU_ASSERT(said("does not fit the 7x6 input: the last window misses 1 row (2 more would "
                   "complete another window); use 'pad 1x0' (output 3x2) or 'stride 1' "
                   "(output 5x4), or 'fit floor' (output 2x2) or 'fit ceil' (output 3x2)"));

    /* Pooling says window; an even stride cannot be fixed by symmetric padding. */
    CU_ASSERT_EQUAL(one_window(OP_POOL, 112, 112, 3, 2, 0, FIT_DEFAULT, NULL), 1);
    CU_ASSERT(said("pool1: a 3x3 window with stride 2 does not fit the 112x112 input: the last "
                   "window misses 1 row and 1 column (1 more would complete another window); "
                   "use 'stride 1' (output 110x110) or 'stride 109' (output 2x2), or "
                   "'fit floor' (output 55x55) or 'fit ceil' (output 56x56)"));

    /* Padding and dilation are described; rows and columns differ. */
    Net *net = new_net(9, 10, 1);
    Node *c = conv(net, "conv1", 3, 4);
    c->dh = c->dw = 2;
    c->sh = c->sw = 4;
    c->pad_h = c->pad_w = 1;
    CU_ASSERT_EQUAL(run(net), 1);
    CU_ASSERT(said("conv1: a 3x3 filter with dilation 2 and stride 4 does not fit the 9x10 "
                   "input (11x12 with padding): the last window misses 2 rows and 3 columns "
                   "(2 more rows and 1 more column would complete another window); use "));
    net_free(net);

    /* The layer's own fit overrides the file's. */
    net = new_net(7, 7, 1);
    net->fit = FIT_FLOOR;
    c = conv(net, "conv1", 3, 4);
    c->sh = c->sw = 3;
    CU_ASSERT_EQUAL(run(net), 0);
    CU_ASSERT(shape_is(c, 2, 2, 4));
    c->fit = FIT_ERROR;
    CU_ASSERT_EQUAL(run(net), 1);
    CU_ASSERT(said("does not fit"));
    net->fit = FIT_ERROR;
    c->fit = FIT_CEIL;
    CU_ASSERT_EQUAL(run(net), 0);
    CU_ASSERT(shape_is(c, 3, 3, 4));
    CU_ASSERT_EQUAL(c->pad_b, 2); /* the last window reads 2 rows of zeros */
    net_free(net);
}

/* Reads every "'OPTION VALUE' (output HxW)" of a doesn't-fit message and
 * checks that applying it really fits and gives that output. */
static int verify_suggestions(const Node *orig, int64_t h, int64_t w)
{
    int verified = 0;
    char *text = strdup(messages);
    for (char *p = strchr(text, '\''); p; p = strchr(p + 1, '\'')) {
        char word[16], value[64];
        int64_t oh, ow;
        if (sscanf(p, "'%15[a-z] %63[0-9a-z]' (output %" SCNd64 "x%" SCNd64 ")",
                   word, value, &oh, &ow) != 4)
            continue;
        Net *net = new_net(h, w, 3);
        Node *n = orig->op == OP_POOL ? pool(net, "pool1", 1) : conv(net, "conv1", 1, 4);
        n->kh = orig->kh, n->kw = orig->kw, n->dh = orig->dh, n->dw = orig->dw;
        n->sh = orig->sh, n->sw = orig->sw, n->pad_h = orig->pad_h, n->pad_w = orig->pad_w;
        n->pad_mode = orig->pad_mode;
        int64_t a, b;
        int parts = sscanf(value, "%" SCNd64 "x%" SCNd64, &a, &b);
        if (parts == 1)
            b = a;
        if (strcmp(word, "pad") == 0) {
            n->pad_mode = PAD_EXPLICIT;
            n->pad_h = a, n->pad_w = b;
        } else if (strcmp(word, "stride") == 0) {
            n->sh = a, n->sw = b;
        } else if (strcmp(word, "fit") == 0) {
            n->fit = strcmp(value, "floor") == 0 ? FIT_FLOOR : FIT_CEIL;
        } else {
            CU_FAIL("unknown suggestion");
        }
        char *saved = messages;
        messages = NULL;
        CU_ASSERT_EQUAL(run(net), 0);
        CU_ASSERT(shape_is(n, oh, ow, n->op == OP_POOL ? 3 : 4));
        free(messages);
        messages = saved;
        net_free(net);
        verified++;
    }
    free(text);
    return verified;
}

static void test_suggestions_fit(void)
{
    int misfits = 0, verified = 0;
    for (OpKind op = OP_CONV; op <= OP_POOL; op += OP_POOL - OP_CONV)
    for (int64_t h = 1; h <= 13; h++)
    for (int64_t k = 1; k <= 5; k++)
    for (int64_t s = 2; s <= 5; s++)
    for (int64_t pad = 0; pad <= 2; pad++)
    for (int64_t d = 1; d <= (op == OP_POOL ? 1 : 2); d++) {
        if (op == OP_POOL && pad > k / 2)
            continue;
        int64_t w = h + (k + s) % 3; /* square and not */
        Net *net = new_net(h, w, 3);
        Node *n = op == OP_POOL ? pool(net, "pool1", k) : conv(net, "conv1", k, 4);
        n->sh = s;
        n->sw = op == OP_POOL ? s : s - (h % 2); /* some non-square strides */
        n->dh = n->dw = d;
        n->pad_h = n->pad_w = pad;
        if (run(net) && strstr(messages, "does not fit")) {
            misfits++;
            verified += verify_suggestions(n, h, w);
            CU_ASSERT(strstr(messages, "'fit floor'") && strstr(messages, "'fit ceil'"));
        }
        net_free(net);
    }
    CU_ASSERT(misfits > 300);
    CU_ASSERT(verified >= 3 * misfits);
}

/* ---- fit floor and ceil against PyTorch ---- */

static void test_fit_pytorch(void)
{
    static const struct {
        int64_t h, w, k, s, pad, floor_h, floor_w, ceil_h, ceil_w;
    } cases[] = {
        {112, 112, 3, 2, 0, 55, 55, 56, 56}, /* nn.MaxPool2d(3, 2, ceil_mode=True) */
        {112, 112, 3, 2, 1, 56, 56, 57, 57},
        {7, 7, 2, 2, 0, 3, 3, 4, 4},
        {5, 5, 2, 2, 1, 3, 3, 3, 3},         /* the last window may not start in padding */
        {13, 10, 3, 2, 0, 6, 4, 6, 5},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Node n;
        CU_ASSERT_EQUAL(one_window(OP_POOL, cases[i].h, cases[i].w, cases[i].k, cases[i].s,
                                   cases[i].pad, FIT_FLOOR, &n), 0);
        CU_ASSERT(shape_is(&n, cases[i].floor_h, cases[i].floor_w, 3));
        CU_ASSERT_EQUAL(one_window(OP_POOL, cases[i].h, cases[i].w, cases[i].k, cases[i].s,
                                   cases[i].pad, FIT_CEIL, &n), 0);
        CU_ASSERT(shape_is(&n, cases[i].ceil_h, cases[i].ceil_w, 3));
        /* Every window lies within the padding as used. */
        CU_ASSERT((n.out.h - 1) * n.sh + n.kh <= n.in_shape.h + n.pad_t + n.pad_b);
        CU_ASSERT((n.out.w - 1) * n.sw + n.kw <= n.in_shape.w + n.pad_l + n.pad_r);
        CU_ASSERT_EQUAL(n.pad_t, cases[i].pad);
    }
    Node n;
    CU_ASSERT_EQUAL(one_window(OP_POOL, 112, 112, 3, 2, 0, FIT_CEIL, &n), 0);
    CU_ASSERT_EQUAL(n.pad_b, 1); /* exactly what the last window reads */
    CU_ASSERT_EQUAL((n.out.h - 1) * 2 + 3, 112 + n.pad_b);
    CU_ASSERT_EQUAL(one_window(OP_CONV, 7, 7, 3, 3, 0, FIT_FLOOR, &n), 0);
    CU_ASSERT(shape_is(&n, 2, 2, 4)); /* PyTorch nn.Conv2d */
}

/* ---- pool ---- */

static void test_pool(void)
{
    Net *net = new_net(7, 5, 64);
    Node *p = pool(net, "pool1", 1);
    p->global = true;
    p->pool = POOL_AVG;
    CU_ASSERT_EQUAL(run(net), 0);
    CU_ASSERT(shape_is(p, 1, 1, 64));
    CU_ASSERT_EQUAL(p->params + p->macs, 0);
    net_free(net);

    net = new_net(56, 56, 8);
    p = pool(net, "pool1", 3);
    p->pad_mode = PAD_SAME;
    p->sh = p->sw = 2;
    CU_ASSERT_EQUAL(run(net), 0);
    CU_ASSERT(shape_is(p, 28, 28, 8));
    CU_ASSERT_EQUAL(p->pad_t, 0);
    CU_ASSERT_EQUAL(p->pad_b, 1);
    net_free(net);

    net = new_net(8, 8, 1);
    p = pool(net, "pool1", 3);
    p->pad_h = p->pad_w = 2;
    CU_ASSERT_EQUAL(run(net), 1);
    CU_ASSERT(said("pool1: padding 2 is more than half of the 3x3 window; use at most 'pad 1'"));
    net_free(net);
}

/* ---- deconv, against nn.ConvTranspose2d ---- */

static void test_deconv(void)
{
    static const struct {
        int64_t in, k, s, pad, d, out, params;
    } cases[] = {
        {7, 4, 2, 1, 1, 14, 392},
        {7, 3, 2, 1, 1, 13, 224},
        {7, 2, 2, 0, 1, 14, 104},
        {5, 3, 1, 0, 2, 9, 224},
        {1, 3, 3, 1, 1, 1, 224},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Net *net = new_net(cases[i].in, cases[i].in, 3);
        Node *n = deconv(net, "deconv1", cases[i].k, 8);
        n->sh = n->sw = cases[i].s;
        n->pad_h = n->pad_w = cases[i].pad;
        n->dh = n->dw = cases[i].d;
        CU_ASSERT_EQUAL(run(net), 0);
        CU_ASSERT(shape_is(n, cases[i].out, cases[i].out, 8));
        CU_ASSERT_EQUAL(n->params, cases[i].params);
        CU_ASSERT_EQUAL(n->macs, cases[i].in * cases[i].in * 3 * 8 * cases[i].k * cases[i].k);
        net_free(net);
    }

    Net *net = new_net(6, 9, 4);
    Node *n = deconv(net, "deconv1", 3, 6);
    n->kw = 5, n->sh = 2, n->pad_h = 1, n->pad_w = 2, n->groups = 2;
    CU_ASSERT_EQUAL(run(net), 0);
    CU_ASSERT(shape_is(n, 11, 9, 6));
    CU_ASSERT_EQUAL(n->params, 186);
    CU_ASSERT_EQUAL(n->macs, 6 * 9 * 4 * 6 * 15 / 2);
    net_free(net);

    net = new_net(1, 1, 4);
    n = deconv(net, "deconv1", 3, 6);
    n->pad_h = n->pad_w = 2;
    CU_ASSERT_EQUAL(run(net), 1);
    CU_ASSERT(said("deconv1: padding 2 leaves no output for a 3x3 filter with stride 1 on a "
                   "1x1 input; use at most 'pad 1'"));
    n->pad_h = n->pad_w = 1;
    CU_ASSERT_EQUAL(run(net), 0);
    CU_ASSERT(shape_is(n, 1, 1, 6));
    n->pad_mode = PAD_SAME;
    CU_ASSERT_EQUAL(run(net), 1);
    CU_ASSERT(said("deconv1: pad same is not supported for deconv"));
    net_free(net);
}

/* ---- fc and the shape-keeping layers ---- */

static void test_simple_layers(void)
{
    Net *net = new_net(5, 5, 16);
    Node *bn = layer(net, OP_BATCHNORM, "bn1");
    Node *act = layer(net, OP_ACT, "leaky1");
    act->act = ACT_LEAKY;
    Node *drop = layer(net, OP_DROPOUT, "dropout1");
    drop->drop_p = 0.5;
    Node *up = layer(net, OP_UPSAMPLE, "upsample1");
    up->factor = 3;
    Node *flat = layer(net, OP_FLATTEN, "flatten1");
    Node *f = fc(net, "fc1", 10);
    f->bias = false;
    Node *bn2 = layer(net, OP_BATCHNORM, "bn2");
    Node *sm = layer(net, OP_SOFTMAX, "softmax1");
    CU_ASSERT_EQUAL(run(net), 0);
    CU_ASSERT(shape_is(bn, 5, 5, 16));
    CU_ASSERT_EQUAL(bn->params, 32); /* PyTorch BatchNorm2d(16) */
    CU_ASSERT_EQUAL(bn->non_trainable, 32);
    CU_ASSERT(shape_is(act, 5, 5, 16));
    CU_ASSERT(shape_is(drop, 5, 5, 16));
    CU_ASSERT(shape_is(up, 15, 15, 16));
    CU_ASSERT(shape_is(flat, 1, 1, 3600));
    CU_ASSERT(shape_is(f, 1, 1, 10));
    CU_ASSERT_EQUAL(f->params, 36000);
    CU_ASSERT_EQUAL(f->macs, 36000);
    CU_ASSERT_EQUAL(bn2->params, 20);
    CU_ASSERT(shape_is(sm, 1, 1, 10));
    CU_ASSERT_EQUAL(net->params, 36052);
    CU_ASSERT_EQUAL(net->non_trainable, 52);
    CU_ASSERT_EQUAL(net->macs, 36000);
    net_free(net);
}

/* ---- add, mul, concat, crop ---- */

/* layer_tensors: PyTorch's names and layouts, and the counts they give. */
static void test_layer_tensors(void)
{
    Net *net = new_net(6, 6, 4);
    Node *c = conv(net, "c", 3, 8);
    c->groups = 2;
    c->bias = false;
    Node *d = deconv(net, "d", 2, 6);
    d->sh = d->sw = 2;
    d->groups = 2;
    Node *bn = layer(net, OP_BATCHNORM, "bn");
    Node *f = fc(net, "f", 5);
    CU_ASSERT_EQUAL(run(net), 0);
    LayerTensor t[MAX_LAYER_TENSORS];
    CU_ASSERT_EQUAL(layer_tensors(c, t), 1);
    CU_ASSERT_STRING_EQUAL(t[0].what, "weight");
    CU_ASSERT(t[0].ndim == 4 && t[0].shape[0] == 8 && t[0].shape[1] == 2 && t[0].shape[2] == 3);
    CU_ASSERT_EQUAL(layer_tensors(d, t), 2);   /* ConvTranspose2d: in, out/groups, kh, kw */
    CU_ASSERT(t[0].shape[0] == 8 && t[0].shape[1] == 3 && t[0].shape[3] == 2);
    CU_ASSERT(strcmp(t[1].what, "bias") == 0 && t[1].shape[0] == 6);
    CU_ASSERT_EQUAL(layer_tensors(bn, t), 4);
    CU_ASSERT(!t[1].state && t[2].state && t[3].state);
    CU_ASSERT_STRING_EQUAL(t[3].what, "running_var");
    CU_ASSERT_EQUAL(bn->params, 12);
    CU_ASSERT_EQUAL(bn->non_trainable, 12);
    CU_ASSERT_EQUAL(layer_tensors(f, t), 2);
    CU_ASSERT(t[0].ndim == 2 && t[0].shape[0] == 5 && t[0].shape[1] == 8 * 8 * 6);
    CU_ASSERT_EQUAL(f->params, 5 * 8 * 8 * 6 + 5);
    CU_ASSERT_EQUAL(c->params, 8 * 2 * 9);
    net_free(net);
}

/* The tables indexed by OpKind and ActKind have a row for each (the
 * compiler checks only that the last one is there). */
static void test_kind_tables(void)
{
    for (int op = 0; op < OP_COUNT_; op++)
        CU_ASSERT(kind_info[op].keyword != NULL);
    for (int act = ACT_NONE + 1; act < ACT_COUNT_; act++) {
        const ActInfo *a = &act_info[act];
        CU_ASSERT(a->keyword != NULL && a->keyword[0] != '\0' && a->usage != NULL);
        CU_ASSERT((a->forward == NULL) == (a->derivative == NULL));
        CU_ASSERT((a->valid == NULL) == (a->rule == NULL));
        for (int i = 0; i < a->nargs; i++)
            CU_ASSERT(a->labels[i] != NULL && a->keys[i] != NULL);
    }
}

static Net *two_branches(int64_t c1, int64_t s1, int64_t c2, int64_t s2)
{
    Net *net = new_net(28, 28, 3);
    Node *a = conv(net, "a", 1, c1);
    a->sh = a->sw = s1;
    a->fit = FIT_FLOOR;
    Node *b = conv(net, "b", 1, c2);
    b->sh = b->sw = s2;
    b->fit = FIT_FLOOR;
    b->inputs[0] = 0;
    return net;
}

static void test_add(void)
{
    static const char *ab[] = {"a", "b"}, *aab[] = {"a", "a", "b"};
    Net *net = two_branches(64, 1, 64, 1);
    Node *n = join(net, OP_ADD, "add1", 3, aab);
    CU_ASSERT_EQUAL(run(net), 0);
    CU_ASSERT(shape_is(n, 28, 28, 64));
    net_free(net);

    net = two_branches(64, 1, 64, 2);
    const char *text = "input\na\nb\nadd a, b\n";
    const char *file = diag_add_source("t.net", text, strlen(text));
    n = join(net, OP_ADD, "add1", 2, ab);
    n->input_locs[1].file = file;
    join(net, OP_ACT, "relu1", 1, (const char *[]){"add1"});
    CU_ASSERT_EQUAL(run(net), 1);
    CU_ASSERT(said("t.net:4:20: error: add1: cannot add a (28x28x64) and b (14x14x64): "
                   "shapes differ (only an operand of 1 channel is broadcast over the channels)\n"
                   " add a, b\n"));
    CU_ASSERT(!strstr(messages, "relu1")); /* skipped silently */
    net_free(net);
}

static void test_mul(void)
{
    static const char *ab[] = {"a", "b"}, *ba[] = {"b", "a"};
    Net *net = new_net(28, 28, 3);
    conv(net, "a", 1, 64);
    Node *g = pool(net, "g", 1);
    g->global = true;
    fc(net, "b", 64);
    Node *n = join(net, OP_MUL, "mul1", 2, ab);
    Node *m = join(net, OP_MUL, "mul2", 2, ba);
    Node *sum = join(net, OP_ADD, "add1", 2, (const char *[]){"mul1", "mul2"});
    CU_ASSERT_EQUAL(run(net), 0);
    CU_ASSERT(shape_is(n, 28, 28, 64));
    CU_ASSERT(shape_is(m, 28, 28, 64));
    CU_ASSERT(shape_is(sum, 28, 28, 64));
    net_free(net);

    net = two_branches(64, 1, 32, 2);
    join(net, OP_MUL, "mul1", 2, ab);
    CU_ASSERT_EQUAL(run(net), 1);
    CU_ASSERT(said("mul1: cannot multiply a (28x28x64) and b (14x14x32): the shapes must be "
                   "equal, or one 1x1xC with the other's C channels"));
    net_free(net);

    net = new_net(28, 28, 3);
    conv(net, "a", 1, 64);
    fc(net, "b", 32);
    join(net, OP_MUL, "mul1", 2, ba);
    CU_ASSERT_EQUAL(run(net), 1);
    CU_ASSERT(said("mul1: cannot multiply b (1x1x32) and a (28x28x64)"));
    net_free(net);
}

static void test_concat_crop(void)
{
    static const char *ab[] = {"a", "b"};
    Net *net = two_branches(64, 1, 32, 1);
    Node *n = join(net, OP_CONCAT, "concat1", 2, ab);
    CU_ASSERT_EQUAL(run(net), 0);
    CU_ASSERT(shape_is(n, 28, 28, 96));
    net_free(net);

    net = two_branches(64, 1, 32, 2);
    join(net, OP_CONCAT, "concat1", 2, ab);
    CU_ASSERT_EQUAL(run(net), 1);
    CU_ASSERT(said("concat1: cannot concatenate a (28x28x64) and b (14x14x32): spatial sizes "
                   "differ; crop a first with 'crop 14x14'"));
    net_free(net);

    net = new_net(10, 12, 3);
    Node *c = layer(net, OP_CROP, "crop1");
    c->crop_h = 4;
    c->crop_w = 12;
    CU_ASSERT_EQUAL(run(net), 0);
    CU_ASSERT(shape_is(c, 4, 12, 3));
    c->crop_h = 12;
    CU_ASSERT_EQUAL(run(net), 1);
    CU_ASSERT(said("crop1: cannot crop 10x12 to 12x12"));
    net_free(net);
}

/* ---- Values ---- */

static void test_values(void)
{
    Net *net = new_net(28, 28, 1);
    conv(net, "conv1", 3, 4);
    conv(net, "conv2", 3, 4)->sh = 0;
    Node *k = conv(net, "conv3", 0, 0);
    k->kw = 3;
    Node *p = conv(net, "conv4", 3, 4);
    p->pad_h = -1;
    p->dw = 0;
    p->groups = 0;
    Node *pl = pool(net, "pool1", 2);
    pl->sw = 0;
    fc(net, "fc1", 0);
    layer(net, OP_DROPOUT, "dropout1")->drop_p = 1;
    Node *bn = layer(net, OP_BATCHNORM, "bn1");
    bn->eps = 0;
    bn->momentum = 1.5;
    layer(net, OP_UPSAMPLE, "upsample1")->factor = 0;
    Node *cr = layer(net, OP_CROP, "crop1");
    cr->crop_h = 0;
    cr->crop_w = 5;
    for (int i = 2; i < net->nnodes; i++) /* each from conv1, so errors do not hide */
        net->nodes[i]->inputs[0] = 1;
    CU_ASSERT_EQUAL(run(net), 13);
    CU_ASSERT(said("conv2: stride must be at least 1, not 0x1"));
    CU_ASSERT(said("conv3: filter size must be at least 1, not 0x3"));
    CU_ASSERT(said("conv3: number of filters must be at least 1, not 0"));
    CU_ASSERT(said("conv4: padding must be at least 0, not -1x0"));
    CU_ASSERT(said("conv4: dilation must be at least 1, not 1x0"));
    CU_ASSERT(said("conv4: groups must be at least 1, not 0"));
    CU_ASSERT(said("pool1: stride must be at least 1, not 2x0"));
    CU_ASSERT(said("fc1: number of outputs must be at least 1, not 0"));
    CU_ASSERT(said("dropout1: dropout probability must be at least 0 and less than 1, not 1"));
    CU_ASSERT(said("bn1: eps must be greater than 0, not 0"));
    CU_ASSERT(said("bn1: momentum must be between 0 and 1, not 1.5"));
    CU_ASSERT(said("upsample1: upsampling factor must be at least 1, not 0"));
    CU_ASSERT(said("crop1: crop size must be at least 1, not 0x5"));
    net_free(net);
}

/* ---- Overflow: errors, never wraps ---- */

static int overflow_case(Shape input, void (*build)(Net *))
{
    Net *net = new_net(input.h, input.w, input.c);
    net->input.d = input.d;
    net->input.volume = input.volume;
    build(net);
    int errors = run(net);
    net_free(net);
    return errors;
}

static void build_none(Net *net) { (void)net; }
static void build_fc_huge(Net *net) { fc(net, "fc1", 9999999999999); }
static void build_stride_huge(Net *net) { conv(net, "conv1", 3, 4)->sh = INT64_C(1) << 62; }
static void build_kernel_huge(Net *net) { conv(net, "conv1", INT64_C(1) << 62, 4); }
static void build_dilation_huge(Net *net) { conv(net, "conv1", 3, 4)->dh = INT64_MAX; }
static void build_upsample_huge(Net *net) { layer(net, OP_UPSAMPLE, "up1")->factor = INT64_C(1) << 40; }
static void build_deconv_huge(Net *net) { deconv(net, "deconv1", 3, 4)->sh = INT64_C(1) << 62; }
static void build_flatten_big(Net *net) { layer(net, OP_FLATTEN, "flatten1"); }

static void build_pad_huge(Net *net)
{
    Node *c = conv(net, "conv1", 3, 4);
    c->pad_h = c->pad_w = INT64_MAX / 2 + 1;
}

static void build_pad_huge_strided(Net *net)
{
    Node *c = conv(net, "conv1", 3, 4);
    c->pad_h = c->pad_w = INT64_C(1) << 40;
    c->sh = c->sw = INT64_C(1) << 42;
}

static void build_params_huge(Net *net)
{
    /* (2^31-1)^3 parameters on a 1x1 output */
    Node *c = conv(net, "conv1", INT32_MAX, INT32_MAX);
    c->pad_h = c->pad_w = INT32_MAX / 2;
}

/* Layers within every per-tensor limit whose multiply-accumulates, about
 * 2^60 each, add up to more than 2^63. */
static void build_total_huge(Net *net)
{
    char name[16];
    for (int i = 1; i <= 9; i++) {
        snprintf(name, sizeof name, "conv%d", i);
        conv(net, name, 32768, 1)->pad_h = 16384;
        last(net)->pad_w = 16384;
    }
}

static void build_params_large(Net *net) { fc(net, "fc1", 64); }
static void build_depth_kernel_huge(Net *net) { conv3(net, "conv1", INT64_C(1) << 62, 1, 4); }
static void build_depth_stride_huge(Net *net) { conv3(net, "conv1", 3, 1, 4)->sd = INT64_C(1) << 62; }
static void build_depth_dilation_huge(Net *net) { conv3(net, "conv1", 3, 1, 4)->dd = INT64_MAX; }
static void build_depth_deconv_huge(Net *net) { deconv(net, "deconv1", 3, 4)->sd = INT64_C(1) << 62; }

static void build_fit_huge_stride(Net *net)
{
    Node *c = conv(net, "conv1", 3, 4);
    c->sh = c->sw = INT64_C(1) << 62;
    c->fit = FIT_CEIL;
}

static void test_overflow(void)
{
    CU_ASSERT_EQUAL(overflow_case((Shape){2000000000, 2000000000, 2000000000, 1, false}, build_none), 1);
    CU_ASSERT(said("input: size 2000000000x2000000000x2000000000 overflows"));
    CU_ASSERT_EQUAL(overflow_case((Shape){3000000000, 1, 1, 1, false}, build_fc_huge), 1);
    CU_ASSERT(said("input: 3000000000x1x1 is too large: each dimension must be at most 2147483647"));
    CU_ASSERT_EQUAL(overflow_case((Shape){0, 28, 1, 1, false}, build_fc_huge), 1);
    CU_ASSERT(said("input: size must be at least 1 in every dimension, not 0x28x1"));

    CU_ASSERT_EQUAL(overflow_case((Shape){28, 28, 1, 1, false}, build_fc_huge), 1);
    CU_ASSERT(said("fc1: output size overflows"));
    CU_ASSERT_EQUAL(overflow_case((Shape){28, 28, 1, 1, false}, build_stride_huge), 1);
    CU_ASSERT(said("misses 25 rows (4611686018427387879 more would complete another window); "
                   "use 'stride 25x1' (output 2x26)"));
    CU_ASSERT_EQUAL(overflow_case((Shape){28, 28, 1, 1, false}, build_fit_huge_stride), 0);
    CU_ASSERT_EQUAL(overflow_case((Shape){28, 28, 1, 1, false}, build_kernel_huge), 1);
    CU_ASSERT(said("conv1: the 4611686018427387904x4611686018427387904 filter is larger than "
                   "its 28x28 input"));
    CU_ASSERT_EQUAL(overflow_case((Shape){28, 28, 1, 1, false}, build_dilation_huge), 1);
    CU_ASSERT(said("filter with dilation 9223372036854775807x1 is larger than its 28x28 input"));
    CU_ASSERT_EQUAL(overflow_case((Shape){28, 28, 1, 1, false}, build_upsample_huge), 1);
    CU_ASSERT(said("up1: output size overflows"));
    CU_ASSERT_EQUAL(overflow_case((Shape){28, 28, 1, 1, false}, build_deconv_huge), 1);
    CU_ASSERT(said("deconv1: output size overflows"));
    /* Every tensor has fewer than 2^31 elements (issue 9). */
    CU_ASSERT_EQUAL(overflow_case((Shape){50000, 50000, 1, 1, false}, build_flatten_big), 1);
    CU_ASSERT(said("input: 50000x50000x1 is 2500000000 elements; a tensor may have at most 2147483647"));
    CU_ASSERT_EQUAL(overflow_case((Shape){46341, 46340, 1, 1, false}, build_none), 0);
    CU_ASSERT_EQUAL(overflow_case((Shape){4096, 8192, 1, 1, false}, build_params_large), 1);
    CU_ASSERT(said("fc1: 2147483712 parameters; a layer may have at most 2147483647"));
    CU_ASSERT_EQUAL(overflow_case((Shape){4096, 8191, 1, 1, false}, build_params_large), 0);
    /* The depth of a volume is checked like the other sizes. */
    CU_ASSERT_EQUAL(overflow_case((Shape){1, 1, 1, 3000000000, true}, build_none), 1);
    CU_ASSERT_EQUAL(overflow_case((Shape){2000000000, 2000000000, 2000000000, 2000000000, true},
                                  build_none), 1);
    CU_ASSERT_EQUAL(overflow_case((Shape){46341, 46340, 1, 2, true}, build_none), 1);
    CU_ASSERT_EQUAL(overflow_case((Shape){64, 64, 1, 64, true}, build_depth_kernel_huge), 1);
    CU_ASSERT_EQUAL(overflow_case((Shape){64, 64, 1, 64, true}, build_depth_stride_huge), 1);
    CU_ASSERT_EQUAL(overflow_case((Shape){64, 64, 1, 64, true}, build_depth_dilation_huge), 1);
    CU_ASSERT_EQUAL(overflow_case((Shape){64, 64, 1, 64, true}, build_depth_deconv_huge), 1);
    CU_ASSERT_EQUAL(overflow_case((Shape){64, 64, 1, 64, true}, build_fc_huge), 1);
    CU_ASSERT_EQUAL(overflow_case((Shape){64, 64, 1, 64, true}, build_upsample_huge), 1);
    CU_ASSERT_EQUAL(overflow_case((Shape){28, 28, 1, 1, false}, build_pad_huge), 1);
    CU_ASSERT(said("conv1: output size overflows"));
    CU_ASSERT_EQUAL(overflow_case((Shape){28, 28, 1, 1, false}, build_pad_huge_strided), 1);
    CU_ASSERT(said("conv1: a 3x3 filter with stride 4398046511104 does not fit"));
    CU_ASSERT_EQUAL(overflow_case((Shape){1, 1, 1, 1, false}, build_params_huge), 1);
    CU_ASSERT(said("conv1: parameter or multiply-accumulate count overflows"));
    CU_ASSERT_EQUAL(overflow_case((Shape){32767, 32767, 1, 1, false}, build_total_huge), 1);
    CU_ASSERT(said("the network's multiply-accumulate count overflows"));
}

/* ---- Counting, skipping, warnings ---- */

static void test_errors_counted(void)
{
    Net *net = new_net(28, 28, 1);
    conv(net, "conv1", 3, 4)->sh = 0;  /* 1 */
    pool(net, "pool1", 2)->sw = 0;     /* 2: its own mistake */
    fc(net, "fc1", 10);                /* skipped: input failed */
    Node *c2 = conv(net, "conv2", 3, 4);
    c2->inputs[0] = 0;
    c2->sh = c2->sw = 2;               /* 3: does not fit */
    Node *c3 = conv(net, "conv3", 30, 4);
    c3->inputs[0] = 0;                 /* 4: too large */
    CU_ASSERT_EQUAL(run(net), 4);
    CU_ASSERT(said("pool1: stride must be at least 1, not 2x0"));
    CU_ASSERT(!strstr(messages, "error: fc1"));
    CU_ASSERT(!net_find(net, "pool1")->checked);
    net_free(net);

    net = new_net(28, 28, 1);
    net->has_input = false;
    conv(net, "conv1", 3, 4)->sh = 0;
    CU_ASSERT_EQUAL(run(net), 0);
    CU_ASSERT_STRING_EQUAL(messages, "");
    net_free(net);
}

static void test_unused_and_memory(void)
{
    /* input(100) -> a(100) -> b(100), add(a, b)(100); c(200) from input is
     * never used. */
    Net *net = new_net(10, 10, 1);
    conv(net, "a", 1, 1);
    conv(net, "b", 1, 1);
    Node *c = conv(net, "c", 1, 2);
    c->inputs[0] = 0;
    join(net, OP_ADD, "add1", 2, (const char *[]){"a", "b"});
    CU_ASSERT_EQUAL(run(net), 0);
    CU_ASSERT_EQUAL(warnings, 1);
    CU_ASSERT(said("cnnc: warning: c: output is never used\n"));
    CU_ASSERT_EQUAL(net->output, 4);
    /* Live: {in}, {in,a}, {a,b,in} (in is used by c), {in,c,a,b}, {a,b,add}. */
    CU_ASSERT_EQUAL(net->act_infer_elems, 500);
    CU_ASSERT_EQUAL(net->act_train_elems, 2 * 600);
    CU_ASSERT_EQUAL(net->params, 2 + 2 + 4);
    net_free(net);

    net = new_net(4, 4, 1);
    CU_ASSERT_EQUAL(run(net), 0);
    CU_ASSERT_EQUAL(net->output, 0);
    CU_ASSERT_EQUAL(net->act_infer_elems, 16);
    CU_ASSERT_EQUAL(net->act_train_elems, 32);
    CU_ASSERT(shape_is(net->nodes[0], 4, 4, 1));
    net_free(net);
}

/* ---- Volumes (SPEC 7) ---- */

static Net *new_volume(int64_t d, int64_t h, int64_t w, int64_t c)
{
    Net *net = new_net(h, w, c);
    net->input.d = d;
    net->input.volume = true;
    return net;
}

static bool volume_is(const Node *n, int64_t d, int64_t h, int64_t w, int64_t c)
{
    if (n->out.volume && n->out.d == d && shape_is(n, h, w, c))
        return true;
    fprintf(stderr, "\n%s: depth %" PRId64 " (volume %d), want %" PRId64 "\n", n->name, n->out.d,
            n->out.volume, d);
    return false;
}

/* Shapes and counts as torch 1.13's Conv3d, ConvTranspose3d, MaxPool3d,
 * BatchNorm3d and Linear give them on a 1x1x16x32x32 input. */
static void test_volume_shapes(void)
{
    Net *net = new_volume(16, 32, 32, 1);
    Node *c1 = conv3(net, "c1", 5, 5, 8);
    c1->pad_d = c1->pad_h = c1->pad_w = 2;
    Node *down = conv3(net, "down", 2, 2, 16);
    down->sd = down->sh = down->sw = 2;
    Node *up = deconv(net, "up", 2, 8);
    up->kd = up->sd = up->sh = up->sw = 2;
    Node *p = pool(net, "p", 2);
    p->kd = p->sd = 2;
    Node *bn = layer(net, OP_BATCHNORM, "bn");
    Node *ups = layer(net, OP_UPSAMPLE, "ups");
    ups->factor = 2;
    Node *f = fc(net, "f", 10);
    CU_ASSERT_EQUAL(run(net), 0);
    CU_ASSERT(volume_is(c1, 16, 32, 32, 8));
    CU_ASSERT_EQUAL(c1->params, 5 * 5 * 5 * 8 + 8);
    CU_ASSERT_EQUAL(c1->macs, 16 * 32 * 32 * 8 * 125);
    CU_ASSERT(c1->pad_f == 2 && c1->pad_k == 2 && c1->pad_t == 2 && c1->pad_r == 2);
    CU_ASSERT(volume_is(down, 8, 16, 16, 16));
    CU_ASSERT_EQUAL(down->params, 8 * 16 * 8 + 16);
    CU_ASSERT(volume_is(up, 16, 32, 32, 8));
    CU_ASSERT_EQUAL(up->params, 16 * 8 * 8 + 8);
    CU_ASSERT_EQUAL(up->macs, 8 * 16 * 16 * 16 * 8 * 8);   /* Din*Hin*Win*C*F*KD*KH*KW */
    CU_ASSERT(volume_is(p, 8, 16, 16, 8));
    CU_ASSERT(volume_is(bn, 8, 16, 16, 8));
    CU_ASSERT_EQUAL(bn->params, 16);
    CU_ASSERT_EQUAL(bn->non_trainable, 16);
    CU_ASSERT(volume_is(ups, 16, 32, 32, 8));
    CU_ASSERT(volume_is(f, 1, 1, 1, 10));
    CU_ASSERT_EQUAL(f->params, 16 * 32 * 32 * 8 * 10 + 10);
    CU_ASSERT_EQUAL(f->out_elems, 10);
    CU_ASSERT_EQUAL(c1->out_elems, 16 * 32 * 32 * 8);

    LayerTensor t[MAX_LAYER_TENSORS];
    CU_ASSERT_EQUAL(layer_tensors(c1, t), 2);
    CU_ASSERT_EQUAL(t[0].ndim, 5);
    int64_t cw[5] = {8, 1, 5, 5, 5};
    CU_ASSERT_EQUAL(memcmp(t[0].shape, cw, sizeof cw), 0);
    CU_ASSERT_EQUAL(layer_tensors(up, t), 2);   /* ConvTranspose3d: [C, F/g, KD, KH, KW] */
    int64_t dw[5] = {16, 8, 2, 2, 2};
    CU_ASSERT_EQUAL(t[0].ndim, 5);
    CU_ASSERT_EQUAL(memcmp(t[0].shape, dw, sizeof dw), 0);
    CU_ASSERT_EQUAL(layer_tensors(f, t), 2);
    CU_ASSERT_EQUAL(t[0].shape[1], 16 * 32 * 32 * 8);
    net_free(net);
}

/* Each axis its own kernel, stride, padding and dilation: torch's
 * Conv3d(1, 4, (3, 1, 1), stride=(1, 2, 2), padding=(1, 0, 0),
 * dilation=(2, 1, 1)) on 16x33x33 gives 14x17x17. */
static void test_volume_axes(void)
{
    Net *net = new_volume(16, 33, 33, 1);
    Node *c = conv3(net, "c", 3, 1, 4);
    c->sh = c->sw = 2;
    c->pad_d = 1;
    c->dd = 2;
    CU_ASSERT_EQUAL(run(net), 0);
    CU_ASSERT(volume_is(c, 14, 17, 17, 4));
    CU_ASSERT_EQUAL(c->macs, 14 * 17 * 17 * 4 * 3);
    net_free(net);

    /* The doesn't-fit rule per axis: only the depth misses here... */
    net = new_volume(8, 7, 7, 1);
    c = conv3(net, "c", 3, 3, 4);
    c->sd = c->sh = c->sw = 2;
    CU_ASSERT_EQUAL(run(net), 1);
    CU_ASSERT(said("misses 1 plane (1 more"));
    CU_ASSERT(said("'fit floor' (output 3x3x3) or 'fit ceil' (output 4x3x3)"));
    /* ...and fit decides for that axis alone, as ceil_mode does. */
    c->fit = FIT_CEIL;
    CU_ASSERT_EQUAL(run(net), 0);
    CU_ASSERT(volume_is(c, 4, 3, 3, 4));
    CU_ASSERT_EQUAL(c->ceil_k, 1);
    CU_ASSERT_EQUAL(c->ceil_b, 0);
    c->fit = FIT_FLOOR;
    CU_ASSERT_EQUAL(run(net), 0);
    CU_ASSERT(volume_is(c, 3, 3, 3, 4));
    net_free(net);

    /* Misses along all three, by different amounts. */
    net = new_volume(8, 10, 11, 1);
    c = conv3(net, "c", 1, 1, 4);
    c->sd = c->sh = c->sw = 4;
    CU_ASSERT_EQUAL(run(net), 1);
    CU_ASSERT(said("misses 3 planes, 1 row and 2 columns (1 more plane, 3 more rows and "
                   "2 more columns would complete another window)"));
    net_free(net);
}

static void test_volume_merges(void)
{
    Net *net = new_volume(4, 8, 8, 1);
    conv3(net, "a", 1, 1, 6);
    const char *sum[] = {"a", "input"};
    Node *add = join(net, OP_ADD, "s", 2, sum);
    Node *g = layer(net, OP_POOL, "g");
    g->global = true;
    const char *scale[] = {"s", "g"};
    Node *m = join(net, OP_MUL, "m", 2, scale);
    Node *cr = layer(net, OP_CROP, "cr");
    cr->crop_d = 2;
    cr->crop_h = cr->crop_w = 4;
    CU_ASSERT_EQUAL(run(net), 0);
    CU_ASSERT(volume_is(add, 4, 8, 8, 6));   /* the 1-channel input broadcast */
    CU_ASSERT(volume_is(g, 1, 1, 1, 6));
    CU_ASSERT(volume_is(m, 4, 8, 8, 6));
    CU_ASSERT(volume_is(cr, 2, 4, 4, 6));
    net_free(net);

    /* Depths must agree where heights and widths must. */
    net = new_volume(4, 8, 8, 1);
    conv3(net, "a", 1, 1, 2);
    Node *b = conv3(net, "b", 2, 1, 2);
    b->sd = 2;
    const char *both[] = {"a", "b"};
    join(net, OP_ADD, "s", 2, both);
    CU_ASSERT_EQUAL(run(net), 1);
    CU_ASSERT(said("cannot add a (4x8x8x2) and b (2x8x8x2)"));
    net_free(net);
}

static int cleanup(void)
{
    free(messages);
    messages = NULL;
    diag_reset();
    return 0;
}

void suite_check(void)
{
    CU_pSuite s = CU_add_suite("check", NULL, cleanup);
    CU_add_test(s, "LeNet-5 shapes and counts", test_lenet);
    CU_add_test(s, "conv padding, dilation, bias", test_conv_padding);
    CU_add_test(s, "conv pad same", test_conv_same);
    CU_add_test(s, "conv non-square", test_conv_nonsquare);
    CU_add_test(s, "conv groups", test_conv_groups);
    CU_add_test(s, "filter larger than input", test_too_large);
    CU_add_test(s, "doesn't-fit message", test_misfit_message);
    CU_add_test(s, "doesn't-fit suggestions fit", test_suggestions_fit);
    CU_add_test(s, "fit floor/ceil vs PyTorch", test_fit_pytorch);
    CU_add_test(s, "pool", test_pool);
    CU_add_test(s, "deconv vs PyTorch", test_deconv);
    CU_add_test(s, "fc, batchnorm, reshapes", test_simple_layers);
    CU_add_test(s, "add", test_add);
    CU_add_test(s, "mul", test_mul);
    CU_add_test(s, "concat and crop", test_concat_crop);
    CU_add_test(s, "option values", test_values);
    CU_add_test(s, "overflow", test_overflow);
    CU_add_test(s, "errors counted, failures skipped", test_errors_counted);
    CU_add_test(s, "unused layers and memory", test_unused_and_memory);
    CU_add_test(s, "layer tensors", test_layer_tensors);
    CU_add_test(s, "kind tables", test_kind_tables);
    CU_add_test(s, "volumes: shapes and counts", test_volume_shapes);
    CU_add_test(s, "volumes: per-axis windows and fit", test_volume_axes);
    CU_add_test(s, "volumes: add, mul, crop", test_volume_merges);
}
