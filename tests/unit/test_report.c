/* test_report.c - the report: table, JSON and DOT.
 *
 * The nets are built by hand with the fields the checker fills, so that
 * these tests depend on report.c alone.  The JSON is checked by a strict
 * validator (RFC 8259 syntax, valid UTF-8) written here rather than taken
 * from a library; the DOT by a scan of its quoted strings and braces with
 * Graphviz's lexical rules.
 */
#include <CUnit/CUnit.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "frontend.h"
#include "ir.h"
#include "report.h"
#include "suites.h"
#include "util.h"

/* ------------------------------------------------------------ net builder */

static const SrcLoc noloc = {NULL, 0, 0};

static Shape shape(int64_t h, int64_t w, int64_t c)
{
    Shape s = {h, w, c, 1, false};
    return s;
}

/* Appends a node fed by the previous one, with its checked shape and counts. */
static Node *add(Net *net, OpKind op, const char *name, Shape out, int64_t params, int64_t macs)
{
    Node *prev = net->nnodes ? net->nodes[net->nnodes - 1] : NULL;
    Node *n = net_add_node(net, op, name, noloc);
    if (prev) {
        node_add_input(n, prev->id, noloc);
        n->in_shape = prev->out;
    }
    n->out = out;
    n->out_elems = out.h * out.w * out.c;
    if (op == OP_CONV || op == OP_FC)
        n->filters = out.c;   /* the kernel choice reads it */
    n->params = params;
    n->macs = macs;
    n->checked = true;
    net->params += params;
    net->macs += macs;
    net->output = n->id;
    return n;
}

static void set_kind(Node *n, const char *kind)
{
    free(n->kind_name);
    n->kind_name = xstrdup(kind);
}

static void set_window(Node *n, int64_t k, int64_t s, int64_t p)
{
    n->kh = n->kw = k;
    n->sh = n->sw = s;
    n->pad_h = n->pad_w = p;
    n->pad_t = n->pad_b = n->pad_l = n->pad_r = p;
}

static Net *new_net(const char *name, Shape in)
{
    Net *net = net_new();
    net->name = xstrdup(name);
    net->input = in;
    net->has_input = true;
    add(net, OP_INPUT, "input", in, 0, 0);
    return net;
}

/* LeNet-5 as in examples/lenet.net: 61,706 parameters, 416,520 MACs. */
static Net *lenet(void)
{
    Net *net = new_net("lenet5", shape(28, 28, 1));
    Node *n = add(net, OP_CONV, "conv1", shape(28, 28, 6), 156, 117600);
    set_window(n, 5, 1, 2);
    n->filters = 6;
    n->act = ACT_RELU;
    n = add(net, OP_POOL, "pool1", shape(14, 14, 6), 0, 0);
    set_window(n, 2, 2, 0);
    n = add(net, OP_CONV, "conv2", shape(10, 10, 16), 2416, 240000);
    set_window(n, 5, 1, 0);
    n->filters = 16;
    n->act = ACT_RELU;
    n = add(net, OP_POOL, "pool2", shape(5, 5, 16), 0, 0);
    set_window(n, 2, 2, 0);
    add(net, OP_FC, "fc1", shape(1, 1, 120), 48120, 48000)->act = ACT_RELU;
    add(net, OP_FC, "fc2", shape(1, 1, 84), 10164, 10080)->act = ACT_RELU;
    add(net, OP_FC, "fc3", shape(1, 1, 10), 850, 840);
    add(net, OP_SOFTMAX, "softmax1", shape(1, 1, 10), 0, 0);
    net->act_infer_elems = 28 * 28 * 6 * 2;
    net->act_train_elems = 30000;
    return net;
}

/* A residual block with ResNet-sized names, a batchnorm and a concat of
 * many long names, to stress the column widths. */
static Net *resnet_like(void)
{
    Net *net = new_net("resnet_like", shape(224, 224, 3));
    Node *stem = add(net, OP_CONV, "conv1", shape(112, 112, 64), 9408, 118013952);
    set_window(stem, 7, 2, 3);
    stem->bias = false;
    Node *bn = add(net, OP_BATCHNORM, "bn1", shape(112, 112, 64), 128, 0);
    bn->non_trainable = 128;
    net->non_trainable += 128;
    bn->act = ACT_RELU;
    Node *a = add(net, OP_CONV, "layer4.1.downsample.0", shape(56, 56, 64), 36864, 115605504);
    set_window(a, 3, 2, 1);
    a->bias = false;
    Node *b = add(net, OP_CONV, "layer4.1.downsample.1", shape(56, 56, 64), 4096, 12845056);
    set_window(b, 1, 2, 0);
    b->inputs[0] = bn->id;                       /* from bn1 */
    Node *sum = add(net, OP_ADD, "layer4.1.add", shape(56, 56, 64), 0, 0);
    node_add_input(sum, a->id, noloc);
    sum->act = ACT_RELU;
    Node *cat = add(net, OP_CONCAT, "concat_of_everything", shape(56, 56, 192), 0, 0);
    node_add_input(cat, a->id, noloc);          /* after layer4.1.add */
    node_add_input(cat, b->id, noloc);
    net->act_infer_elems = 2 * 112 * 112 * 64;
    net->act_train_elems = 40000000;
    return net;
}

/* The report of code built without --blas. */
static void table_default(const Net *net, StrBuf *out)
{
    report_table(net, false, 1, out);
}

static void json_default(const Net *net, StrBuf *out)
{
    report_json(net, false, 1, out);
}

static char *render(void (*fn)(const Net *, StrBuf *), const Net *net)
{
    StrBuf sb;
    sb_init(&sb);
    fn(net, &sb);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sb.data);
    return sb.data;
}

static char *options_of(const Node *n)
{
    StrBuf sb;
    sb_init(&sb);
    sb_puts(&sb, "");
    report_options(n, &sb);
    return sb.data;
}

#define ASSERT_CONTAINS(hay, needle) CU_ASSERT_PTR_NOT_NULL(strstr((hay), (needle)))

/* ------------------------------------------------------------------ table */

/* Every line at most max columns, without trailing blanks. */
static void assert_lines_fit(const char *text, size_t max)
{
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        CU_ASSERT_PTR_NOT_NULL_FATAL(end);
        CU_ASSERT((size_t)(end - line) <= max);
        CU_ASSERT(end == line || end[-1] != ' ');
        line = end + 1;
    }
}

static void test_table_lenet(void)
{
    Net *net = lenet();
    char *t = render(table_default, net);
    for (int i = 0; i < net->nnodes; i++)
        ASSERT_CONTAINS(t, net->nodes[i]->name);
    ASSERT_CONTAINS(t, "lenet5");
    ASSERT_CONTAINS(t, "28x28x1");
    ASSERT_CONTAINS(t, "5x5 p2 relu");
    ASSERT_CONTAINS(t, "maxpool");
    ASSERT_CONTAINS(t, "2x2 s2");
    ASSERT_CONTAINS(t, "Kernel");
    ASSERT_CONTAINS(t, "conv     tile    5x5 p2 relu");
    ASSERT_CONTAINS(t, "fc       fc      relu");
    ASSERT_CONTAINS(t, "117,600");
    ASSERT_CONTAINS(t, "48,120");
    ASSERT_CONTAINS(t, "Total params: 61,706 (241.0 KiB)");
    ASSERT_CONTAINS(t, "Non-trainable: 0\n");
    ASSERT_CONTAINS(t, "Forward MACs: 416,520 (416.5 K)");
    /* 9408 floats = 36.75 KiB; 30000 floats = 117.2 KiB */
    ASSERT_CONTAINS(t, "Activation memory per image: inference 36.8 KiB, training 117.2 KiB");
    assert_lines_fit(t, 80);
    free(t);
    net_free(net);
}

static void test_table_long_names(void)
{
    Net *net = resnet_like();
    char *t = render(table_default, net);
    ASSERT_CONTAINS(t, "layer4.1.downsample.0");
    ASSERT_CONTAINS(t, "from bn1");
    ASSERT_CONTAINS(t, "7x7 s2 p3 nobias");
    ASSERT_CONTAINS(t, "batchnorm");
    ASSERT_CONTAINS(t, "115,605,504");
    ASSERT_CONTAINS(t, "Non-trainable: 128 (512 B)");
    ASSERT_CONTAINS(t, "Forward MACs: 246,464,512 (246.5 M)");
    ASSERT_CONTAINS(t, "training 152.6 MiB");
    /* The concat's three long inputs wrap inside the options column. */
    ASSERT_CONTAINS(t, "layer4.1.downsample.0,");
    ASSERT_CONTAINS(t, "layer4.1.add");
    assert_lines_fit(t, 100);
    free(t);
    net_free(net);
}

static void test_options(void)
{
    Net *net = new_net("opts", shape(32, 32, 16));
    Node *n = add(net, OP_CONV, "c", shape(16, 16, 32), 0, 0);
    set_window(n, 3, 2, 1);
    n->dh = n->dw = 2;
    n->groups = 4;
    n->bias = false;
    n->act = ACT_RELU;
    char *s = options_of(n);
    CU_ASSERT_STRING_EQUAL(s, "3x3 s2 p1 d2 g4 nobias relu");
    free(s);

    n->sh = 2, n->sw = 1;
    n->pad_t = 0, n->pad_b = 1, n->pad_l = 0, n->pad_r = 1;
    n->dh = n->dw = n->groups = 1;
    n->bias = true;
    n->act = ACT_LEAKY;
    n->act_alpha = 0.2;
    s = options_of(n);
    CU_ASSERT_STRING_EQUAL(s, "3x3 s2x1 p0,1x0,1 leaky 0.2");
    free(s);

    n->pad_t = n->pad_b = 1, n->pad_l = n->pad_r = 2;
    n->act = ACT_NONE;
    s = options_of(n);
    CU_ASSERT_STRING_EQUAL(s, "3x3 s2x1 p1x2");
    free(s);

    n = add(net, OP_POOL, "p", shape(1, 1, 32), 0, 0);
    n->global = true;
    n->pool = POOL_AVG;
    s = options_of(n);
    CU_ASSERT_STRING_EQUAL(s, "global");
    free(s);

    n = add(net, OP_BATCHNORM, "b", shape(1, 1, 32), 64, 0);
    s = options_of(n);
    CU_ASSERT_STRING_EQUAL(s, "");
    free(s);
    n->eps = 1e-3;
    n->momentum = 0.01;
    n->act = ACT_SIGMOID;
    s = options_of(n);
    CU_ASSERT_STRING_EQUAL(s, "eps 0.001 momentum 0.01 sigmoid");
    free(s);

    n = add(net, OP_DROPOUT, "d", shape(1, 1, 32), 0, 0);
    n->drop_p = 0.5;
    s = options_of(n);
    CU_ASSERT_STRING_EQUAL(s, "p=0.5");
    free(s);

    n = add(net, OP_UPSAMPLE, "u", shape(2, 2, 32), 0, 0);
    n->factor = 2;
    s = options_of(n);
    CU_ASSERT_STRING_EQUAL(s, "x2");
    free(s);

    n = add(net, OP_CROP, "cr", shape(1, 1, 32), 0, 0);
    n->crop_h = n->crop_w = 1;
    s = options_of(n);
    CU_ASSERT_STRING_EQUAL(s, "1x1");
    free(s);

    n = add(net, OP_ACT, "l", shape(1, 1, 32), 0, 0);
    n->act = ACT_LEAKY;
    n->act_alpha = 0.01;
    s = options_of(n);
    CU_ASSERT_STRING_EQUAL(s, "slope 0.01");
    free(s);

    /* lrn: the size, then only the numbers that are not PyTorch's defaults */
    n = add(net, OP_LRN, "n", shape(1, 1, 32), 0, 0);
    n->lrn_size = 5;
    n->lrn_alpha = 1e-4, n->lrn_beta = 0.75, n->lrn_k = 1.0;
    s = options_of(n);
    CU_ASSERT_STRING_EQUAL(s, "n5");
    free(s);
    n->lrn_alpha = 0.001, n->lrn_beta = 0.5, n->lrn_k = 2.0;
    s = options_of(n);
    CU_ASSERT_STRING_EQUAL(s, "n5 alpha 0.001 beta 0.5 k 2");
    free(s);

    n = add(net, OP_POOL, "cp", shape(2, 2, 32), 0, 0);
    n->pool = POOL_AVG;
    set_window(n, 3, 1, 1);
    n->countpad = true;
    s = options_of(n);
    CU_ASSERT_STRING_EQUAL(s, "3x3 p1 countpad");
    free(s);

    /* Options append to what is there. */
    StrBuf sb;
    sb_init(&sb);
    sb_puts(&sb, "[");
    report_options(net->nodes[1], &sb);
    CU_ASSERT_STRING_EQUAL(sb.data, "[3x3 s2x1 p1x2");
    sb_free(&sb);
    net_free(net);
}

/* ------------------------------------------------------- JSON validation */

typedef struct {
    const char *p;
    int depth;
} Json;

static bool js_value(Json *j);

static void js_ws(Json *j)
{
    while (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')
        j->p++;
}

static bool js_digits(Json *j)
{
    if (*j->p < '0' || *j->p > '9')
        return false;
    while (*j->p >= '0' && *j->p <= '9')
        j->p++;
    return true;
}

static bool js_number(Json *j)
{
    if (*j->p == '-')
        j->p++;
    if (*j->p == '0')
        j->p++;
    else if (!js_digits(j))
        return false;
    if (*j->p == '.') {
        j->p++;
        if (!js_digits(j))
            return false;
    }
    if (*j->p == 'e' || *j->p == 'E') {
        j->p++;
        if (*j->p == '+' || *j->p == '-')
            j->p++;
        if (!js_digits(j))
            return false;
    }
    return true;
}

/* Valid UTF-8 only: a continuation count from the lead byte, then checks. */
static bool js_utf8(Json *j)
{
    const unsigned char *s = (const unsigned char *)j->p;
    int more = s[0] >= 0xf0 && s[0] <= 0xf4 ? 3 : s[0] >= 0xe0 ? 2 : s[0] >= 0xc2 && s[0] < 0xe0 ? 1 : -1;
    if (more < 0 || (s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
        return false;
    for (int i = 1; i <= more; i++)
        if ((s[i] & 0xc0) != 0x80)
            return false;
    j->p += 1 + more;
    return true;
}

static bool js_string(Json *j)
{
    if (*j->p++ != '"')
        return false;
    for (;;) {
        unsigned char c = (unsigned char)*j->p;
        if (c == '"') {
            j->p++;
            return true;
        }
        if (c < 0x20)                   /* also the end of the text */
            return false;
        if (c >= 0x80) {
            if (!js_utf8(j))
                return false;
            continue;
        }
        j->p++;
        if (c != '\\')
            continue;
        c = (unsigned char)*j->p++;
        if (c == 'u') {
            for (int i = 0; i < 4; i++, j->p++)
                if (!strchr("0123456789abcdefABCDEF", *j->p) || !*j->p)
                    return false;
        } else if (!c || !strchr("\"\\/bfnrt", c)) {
            return false;
        }
    }
}

/* Object or array: open, values (key: value for objects) split by ',', close. */
static bool js_container(Json *j, char close, bool keyed)
{
    j->p++;
    js_ws(j);
    if (*j->p == close) {
        j->p++;
        return true;
    }
    for (;;) {
        js_ws(j);
        if (keyed) {
            if (!js_string(j))
                return false;
            js_ws(j);
            if (*j->p++ != ':')
                return false;
        }
        if (!js_value(j))
            return false;
        js_ws(j);
        if (*j->p == close) {
            j->p++;
            return true;
        }
        if (*j->p++ != ',')
            return false;
    }
}

static bool js_value(Json *j)
{
    js_ws(j);
    if (++j->depth > 64)
        return false;
    bool ok;
    switch (*j->p) {
    case '{': ok = js_container(j, '}', true); break;
    case '[': ok = js_container(j, ']', false); break;
    case '"': ok = js_string(j); break;
    case 't': ok = strncmp(j->p, "true", 4) == 0 && (j->p += 4); break;
    case 'f': ok = strncmp(j->p, "false", 5) == 0 && (j->p += 5); break;
    case 'n': ok = strncmp(j->p, "null", 4) == 0 && (j->p += 4); break;
    default: ok = js_number(j); break;
    }
    j->depth--;
    return ok;
}

/* Exactly one JSON value (here: an object), nothing after it. */
static bool json_valid(const char *text)
{
    Json j = {text, 0};
    js_ws(&j);
    if (*j.p != '{' || !js_value(&j))
        return false;
    js_ws(&j);
    return *j.p == '\0';
}

static void test_json_validator(void)
{
    CU_ASSERT(json_valid("{}"));
    CU_ASSERT(json_valid(" {\"a\": [1, -0.5e+3, true, false, null, \"\\u00e9\\n\"], \"b\": {}}\n"));
    CU_ASSERT(json_valid("{\"x\": \"\xc3\xa9\"}"));
    CU_ASSERT(!json_valid(""));
    CU_ASSERT(!json_valid("[]"));
    CU_ASSERT(!json_valid("{} {}"));
    CU_ASSERT(!json_valid("{\"a\": 1,}"));
    CU_ASSERT(!json_valid("{\"a\": [1,]}"));
    CU_ASSERT(!json_valid("{'a': 1}"));
    CU_ASSERT(!json_valid("{\"a\" 1}"));
    CU_ASSERT(!json_valid("{\"a\": 01}"));
    CU_ASSERT(!json_valid("{\"a\": 1.}"));
    CU_ASSERT(!json_valid("{\"a\": .5}"));
    CU_ASSERT(!json_valid("{\"a\": NaN}"));
    CU_ASSERT(!json_valid("{\"a\": \"x\ty\"}"));
    CU_ASSERT(!json_valid("{\"a\": \"\\x\"}"));
    CU_ASSERT(!json_valid("{\"a\": \"\\u12\"}"));
    CU_ASSERT(!json_valid("{\"a\": \"\xff\"}"));
    CU_ASSERT(!json_valid("{\"a\": \"\xc3\"}"));
    CU_ASSERT(!json_valid("{\"a\": \"unterminated}"));
    CU_ASSERT(!json_valid("{\"a\": tru}"));
}

static void json_blas(const Net *net, StrBuf *out)
{
    report_json(net, true, 1, out);
}

/* --blas: big convolutions say "blas", LeNet-5's small ones keep the
 * default kernels (the fallback), layers without a product say null. */
static void test_json_blas(void)
{
    Net *net = resnet_like();
    Node *deep = net->nodes[3];   /* layer4.1.downsample.0, 3x3 s2 */
    CU_ASSERT_STRING_EQUAL(deep->name, "layer4.1.downsample.0");
    deep->in_shape.c = 128;       /* sums of 1,152 terms: BLAS's */
    char *plain = render(json_default, net), *blas = render(json_blas, net);
    CU_ASSERT(json_valid(blas));
    CU_ASSERT_PTR_NULL(strstr(plain, "\"implementation\": \"blas\""));
    ASSERT_CONTAINS(plain, "\"activation\": null, \"implementation\": \"cols\"}");
    /* only the deep one: the stem's 7x7x3 sums are too short */
    const char *first = strstr(blas, "\"implementation\": \"blas\"");
    CU_ASSERT_PTR_NOT_NULL_FATAL(first);
    CU_ASSERT_PTR_NULL(strstr(first + 1, "\"implementation\": \"blas\""));
    CU_ASSERT(strstr(blas, "\"layer4.1.downsample.0\"") < first);
    CU_ASSERT(strstr(blas, "\"layer4.1.downsample.1\"") > first);
    ASSERT_CONTAINS(blas, "\"implementation\": null}");
    free(plain);
    free(blas);
    net_free(net);
    net = lenet();
    blas = render(json_blas, net);
    ASSERT_CONTAINS(blas, "\"activation\": \"relu\", \"implementation\": \"tile\"}");
    free(blas);
    net_free(net);
}

static void test_json_lenet(void)
{
    Net *net = lenet();
    char *js = render(json_default, net);
    CU_ASSERT(json_valid(js));
    ASSERT_CONTAINS(js, "{\"network\": \"lenet5\", \"input\": [28, 28, 1], \"output\": [1, 1, 10],");
    ASSERT_CONTAINS(js, "{\"name\": \"conv1\", \"kind\": \"conv\", \"inputs\": [\"input\"], "
                        "\"output\": [28, 28, 6], \"params\": 156, \"non_trainable\": 0, "
                        "\"macs\": 117600, \"options\": \"5x5 p2 relu\", \"kernel\": [5, 5], "
                        "\"stride\": [1, 1], \"pad\": [2, 2, 2, 2], \"dilation\": [1, 1], "
                        "\"groups\": 1, \"bias\": true, \"activation\": \"relu\", "
                        "\"implementation\": \"tile\"}");
    ASSERT_CONTAINS(js, "\"pool\": \"max\", \"global\": false, \"kernel\": [2, 2], \"stride\": [2, 2]");
    ASSERT_CONTAINS(js, "{\"name\": \"fc3\", \"kind\": \"fc\", \"inputs\": [\"fc2\"]");
    ASSERT_CONTAINS(js, "\"activation\": null");
    ASSERT_CONTAINS(js, "\"params\": 61706, \"non_trainable\": 0, \"macs\": 416520");
    ASSERT_CONTAINS(js, "\"activation_bytes\": {\"inference\": 37632, \"training\": 120000},\n");
    /* The input is named by the first layer, not listed as one. */
    CU_ASSERT_PTR_NULL(strstr(js, "\"name\": \"input\""));
    /* One layer object per node after the input. */
    int layers = 0;
    for (const char *p = js; (p = strstr(p, "{\"name\": ")); p++)
        layers++;
    CU_ASSERT_EQUAL(layers, net->nnodes - 1);
    free(js);
    net_free(net);
}

static void test_json_details(void)
{
    Net *net = resnet_like();
    Node *d = add(net, OP_DROPOUT, "drop", shape(56, 56, 192), 0, 0);
    d->drop_p = 0.25;
    Node *leaky = add(net, OP_ACT, "leaky1", shape(56, 56, 192), 0, 0);
    set_kind(leaky, "leaky");   /* as the expander does */
    leaky->act = ACT_LEAKY;
    Node *lrn = add(net, OP_LRN, "norm1", shape(56, 56, 192), 0, 0);
    lrn->lrn_size = 5, lrn->lrn_alpha = 1e-4, lrn->lrn_beta = 0.75, lrn->lrn_k = 2;
    /* countpad with fit ceil: the extra row is padding but not counted */
    Node *avg = add(net, OP_POOL, "avg", shape(28, 28, 192), 0, 0);
    avg->pool = POOL_AVG;
    set_window(avg, 3, 2, 1);
    avg->countpad = true;
    avg->pad_b = 2, avg->ceil_b = 1;
    char *js = render(json_default, net);
    CU_ASSERT(json_valid(js));
    ASSERT_CONTAINS(js, "\"kind\": \"batchnorm\"");
    ASSERT_CONTAINS(js, "\"non_trainable\": 128, \"macs\": 0, \"options\": \"relu\", "
                        "\"eps\": 1e-05, \"momentum\": 0.1, \"activation\": \"relu\"");
    ASSERT_CONTAINS(js, "\"inputs\": [\"bn1\"]");
    ASSERT_CONTAINS(js, "\"inputs\": [\"layer4.1.downsample.1\", \"layer4.1.downsample.0\"]");
    ASSERT_CONTAINS(js, "\"bias\": false");
    ASSERT_CONTAINS(js, "\"p\": 0.25");
    ASSERT_CONTAINS(js, "\"kind\": \"leaky\"");
    ASSERT_CONTAINS(js, "\"activation\": \"leaky\", \"alpha\": 0.1");
    ASSERT_CONTAINS(js, "\"kind\": \"lrn\"");
    ASSERT_CONTAINS(js, "\"size\": 5, \"alpha\": 0.0001, \"beta\": 0.75, \"k\": 2,");
    ASSERT_CONTAINS(js, "\"pad\": [1, 1, 2, 1], \"countpad\": true, \"counted_pad\": [1, 1, 1, 1],");
    free(js);
    net_free(net);
}

static void test_json_escape(void)
{
    Net *net = lenet();
    free(net->name);
    net->name = xstrdup("a\"b\\c\nd\x01" "e\xff" "f\xc3\xa9g");
    Node *conv = net->nodes[1];
    free(conv->name);
    conv->name = xstrdup("quo\"te");
    char *js = render(json_default, net);
    CU_ASSERT(json_valid(js));
    ASSERT_CONTAINS(js, "{\"network\": \"a\\\"b\\\\c\\nd\\u0001e\\u00fff\xc3\xa9g\"");
    ASSERT_CONTAINS(js, "\"inputs\": [\"quo\\\"te\"]");
    free(js);
    net_free(net);
}

/* -------------------------------------------------------------------- DOT */

/* Scans DOT with Graphviz's lexical rules for quoted strings (only \"
 * is an escape there): braces balance outside strings, every string ends
 * on its line, and no line holds a raw control character. */
static bool dot_balanced(const char *s)
{
    int depth = 0;
    bool in_string = false;
    for (; *s; s++) {
        if (in_string) {
            if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
                s++;
            else if (*s == '"')
                in_string = false;
            else if (*s == '\n')
                return false;
        } else if (*s == '"') {
            in_string = true;
        } else if (*s == '{') {
            depth++;
        } else if (*s == '}' && --depth < 0) {
            return false;
        }
    }
    return depth == 0 && !in_string;
}

static int count_lines_with(const char *text, const char *with, const char *without)
{
    int count = 0;
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        char *copy = xstrndup(line, end ? (size_t)(end - line) : strlen(line));
        if (strstr(copy, with) && !(without && strstr(copy, without)))
            count++;
        free(copy);
        line = end ? end + 1 : line + strlen(line);
    }
    return count;
}

static void test_dot_lenet(void)
{
    Net *net = lenet();
    char *dot = render(report_dot, net);
    CU_ASSERT(strncmp(dot, "digraph \"lenet5\" {\n", 19) == 0);
    CU_ASSERT(dot_balanced(dot));
    CU_ASSERT_EQUAL(count_lines_with(dot, "[label=\"", "->"), net->nnodes);
    CU_ASSERT_EQUAL(count_lines_with(dot, "->", NULL), net->nnodes - 1);
    ASSERT_CONTAINS(dot, "\"conv1\" [label=\"conv1\\nconv 5x5 p2 relu\\n28x28x6\"");
    ASSERT_CONTAINS(dot, "\"input\" -> \"conv1\" [label=\"28x28x1\"];");
    ASSERT_CONTAINS(dot, "\"pool2\" -> \"fc1\" [label=\"5x5x16\"];");
    ASSERT_CONTAINS(dot, "tooltip=\"params 48,120, MACs 48,000\"");
    size_t len = strlen(dot);
    CU_ASSERT(len > 2 && strcmp(dot + len - 2, "}\n") == 0);
    free(dot);
    net_free(net);
}

static void test_dot_escape(void)
{
    Net *net = resnet_like();
    free(net->name);
    net->name = xstrdup("my \"net\"");
    Node *a = net_find(net, "layer4.1.downsample.0");
    free(a->name);
    a->name = xstrdup("we\"ird\\name\n");
    char *dot = render(report_dot, net);
    CU_ASSERT(dot_balanced(dot));
    ASSERT_CONTAINS(dot, "digraph \"my \\\"net\\\"\" {");
    ASSERT_CONTAINS(dot, "  \"we\\\"ird\\\\name\\n\" [label=\"we\\\"ird\\\\name\\n\\nconv");
    ASSERT_CONTAINS(dot, "\"bn1\" -> \"we\\\"ird\\\\name\\n\" [label=\"112x112x64\"];");
    /* The add's two inputs and the concat's three each get an edge. */
    CU_ASSERT_EQUAL(count_lines_with(dot, "->", NULL), 1 + 1 + 1 + 1 + 2 + 3);
    CU_ASSERT_EQUAL(count_lines_with(dot, "[label=\"", "->"), net->nnodes);
    free(dot);
    net_free(net);
}

/* A volume's shapes are DxHxWxC in the table and the DOT, [D, H, W, C]
 * in JSON, and its kernels, strides and pads have a number per axis. */
static void test_volume_report(void)
{
    static const char text[] =
        "network vol\ninput 8x17x17x1\n"
        "c = conv 3x3x3x4 stride 1x2x2 pad 1x1x0\n"
        "p = pool avg 2 stride 1x2x2 pad 1x0x0 countpad fit floor\n"
        "k = crop 4x4x4\n";
    diag_reset();
    Net *net = compile_text("vol.net", text, strlen(text));
    CU_ASSERT_PTR_NOT_NULL_FATAL(net);
    char *t = render(table_default, net);
    ASSERT_CONTAINS(t, "input 8x17x17x1, output 4x4x4x4");
    ASSERT_CONTAINS(t, "3x3x3 s1x2x2 p1x1x0 ");
    ASSERT_CONTAINS(t, "8x9x8x4");
    ASSERT_CONTAINS(t, "2x2x2 s1x2x2 p1x0x0 countpad");
    ASSERT_CONTAINS(t, "conv3d");
    free(t);
    char *j = render(json_default, net);
    ASSERT_CONTAINS(j, "\"input\": [8, 17, 17, 1], \"output\": [4, 4, 4, 4]");
    ASSERT_CONTAINS(j, "\"output\": [8, 9, 8, 4]");
    ASSERT_CONTAINS(j, "\"kernel\": [3, 3, 3], \"stride\": [1, 2, 2], \"pad\": [1, 1, 0, 1, 1, 0], "
                       "\"dilation\": [1, 1, 1]");
    ASSERT_CONTAINS(j, "\"pad\": [1, 0, 0, 1, 0, 0]");
    ASSERT_CONTAINS(j, "\"counted_pad\": [1, 0, 0, 1, 0, 0]");
    ASSERT_CONTAINS(j, "\"size\": [4, 4, 4]");
    free(j);
    char *dot = render(report_dot, net);
    ASSERT_CONTAINS(dot, "9x4x4x4");
    free(dot);
    net_free(net);
    diag_reset();
}

void suite_report(void)
{
    CU_pSuite s = CU_add_suite("report", NULL, NULL);
    CU_add_test(s, "table of LeNet-5", test_table_lenet);
    CU_add_test(s, "table with long names fits 100 columns", test_table_long_names);
    CU_add_test(s, "option strings", test_options);
    CU_add_test(s, "the test's JSON validator is strict", test_json_validator);
    CU_add_test(s, "JSON of LeNet-5", test_json_lenet);
    CU_add_test(s, "JSON per-kind keys", test_json_details);
    CU_add_test(s, "JSON kernels with --blas", test_json_blas);
    CU_add_test(s, "JSON string escaping", test_json_escape);
    CU_add_test(s, "DOT of LeNet-5", test_dot_lenet);
    CU_add_test(s, "DOT escaping", test_dot_escape);
    CU_add_test(s, "volume shapes and options", test_volume_report);
}
