/* test_parse.c - the lexer, parser and expander: what a statement becomes
 * in the graph.  Error messages are covered by the corpus (test_errors.c). */
#define _POSIX_C_SOURCE 200809L
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frontend.h"
#include "suites.h"
#include "util.h"

static FILE *sink;

/* Compiles text and expects success. */
static Net *ok(const char *text)
{
    diag_reset();
    diag_set_stream(sink);
    Net *net = compile_text("t.net", text, strlen(text));
    CU_ASSERT_PTR_NOT_NULL(net);
    CU_ASSERT_EQUAL(diag_errors(), 0);
    return net;
}

static int errors_of(const char *text)
{
    diag_reset();
    diag_set_stream(sink);
    Net *net = compile_text("t.net", text, strlen(text));
    int n = diag_errors();
    CU_ASSERT_PTR_NULL(net);
    net_free(net);
    return n;
}

static Node *node(Net *net, const char *name)
{
    Node *n = net ? net_find(net, name) : NULL;
    if (!n)
        fprintf(stderr, "no layer '%s'\n", name);
    return n;
}

static void test_one_liner(void)
{
    Net *net = ok("input 32x32x1; conv 5x5x6 stride 1; pool max 2; fc 10");
    if (!net)
        return;
    CU_ASSERT_EQUAL(net->nnodes, 4);
    CU_ASSERT_STRING_EQUAL(net->nodes[1]->name, "conv1");
    CU_ASSERT_STRING_EQUAL(net->nodes[2]->name, "pool1");
    CU_ASSERT_STRING_EQUAL(net->nodes[3]->name, "fc1");
    CU_ASSERT_EQUAL(net->nodes[2]->sh, 2);   /* stride defaults to the window */
    CU_ASSERT_EQUAL(net->nodes[3]->out.c, 10);
    CU_ASSERT_STRING_EQUAL(net->name, "t");
    net_free(net);
}

static void test_numbers_and_comments(void)
{
    Net *net = ok("# a comment\n"
                  "network numbers   # trailing comment\n"
                  "input 8x8        ;;  \n"
                  "\n"
                  "batchnorm eps 1e-3 momentum .5\n"
                  "dropout 0.25; leaky 0.2\n"
                  "conv 3x3x4 pad same leaky .3\n");
    if (!net)
        return;
    CU_ASSERT_STRING_EQUAL(net->name, "numbers");
    CU_ASSERT_EQUAL(net->input.c, 1);
    CU_ASSERT_DOUBLE_EQUAL(net->nodes[1]->eps, 1e-3, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(net->nodes[1]->momentum, 0.5, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(net->nodes[2]->drop_p, 0.25, 1e-12);
    CU_ASSERT_EQUAL(net->nodes[3]->act, ACT_LEAKY);
    CU_ASSERT_DOUBLE_EQUAL(net->nodes[3]->act_alpha, 0.2, 1e-12);
    CU_ASSERT_STRING_EQUAL(net->nodes[3]->name, "leaky1");
    CU_ASSERT_DOUBLE_EQUAL(net->nodes[4]->act_alpha, 0.3, 1e-12);
    CU_ASSERT_EQUAL(net->nodes[4]->pad_mode, PAD_SAME);
    net_free(net);
}

/* Every activation's numbers, given and default, stand-alone and trailing
 * (issue 10: elu and hardtanh, from one row of act_info each). */
static void test_activation_numbers(void)
{
    Net *net = ok("input 8x8x2\n"
                  "elu\n"
                  "hardtanh -2 3\n"
                  "conv 3x3x4 elu 0.5\n"
                  "fc 4 hardtanh\n");
    if (!net)
        return;
    Node **n = net->nodes;
    CU_ASSERT_EQUAL(n[1]->act, ACT_ELU);
    CU_ASSERT_STRING_EQUAL(n[1]->name, "elu1");
    CU_ASSERT_DOUBLE_EQUAL(n[1]->act_alpha, 1.0, 1e-12);
    CU_ASSERT_EQUAL(n[2]->act, ACT_HARDTANH);
    CU_ASSERT_STRING_EQUAL(n[2]->name, "hardtanh1");
    CU_ASSERT_DOUBLE_EQUAL(n[2]->act_alpha, -2.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(n[2]->act_beta, 3.0, 1e-12);
    CU_ASSERT_EQUAL(n[3]->act, ACT_ELU);
    CU_ASSERT_DOUBLE_EQUAL(n[3]->act_alpha, 0.5, 1e-12);
    CU_ASSERT_EQUAL(n[4]->act, ACT_HARDTANH);
    CU_ASSERT_DOUBLE_EQUAL(n[4]->act_alpha, -1.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(n[4]->act_beta, 1.0, 1e-12);
    net_free(net);
}

static void test_automatic_names(void)
{
    Net *net = ok("input 16x16x3\n"
                  "conv 3x3x8 pad 1\n"
                  "mine = conv 3x3x8 pad 1\n"   /* counts as the second conv */
                  "conv 3x3x8 pad 1\n"
                  "batchnorm\nrelu\nsigmoid\ntanh\nlinear\n"
                  "pool avg 2\nflatten\nfc 4\nsoftmax\n");
    if (!net)
        return;
    const char *want[] = {"input", "conv1", "mine", "conv3", "bn1", "relu1", "sigmoid1",
                          "tanh1", "linear1", "pool1", "flatten1", "fc1", "softmax1"};
    CU_ASSERT_EQUAL(net->nnodes, 13);
    for (int i = 0; i < net->nnodes && i < 13; i++)
        CU_ASSERT_STRING_EQUAL(net->nodes[i]->name, want[i]);
    net_free(net);
}

static void test_graph_and_from(void)
{
    /* The residual block of the spec, and keywords used as names. */
    Net *net = ok("input 32x32x64\n"
                  "x = pool max 3 stride 2 pad 1 fit floor\n"
                  "conv 3x3x64 pad 1 relu\n"
                  "c = conv 3x3x64 pad 1\n"
                  "add x, c relu\n"
                  "side = conv 1x1x64 from input stride 2 fit floor\n"
                  "fc = fc 10 from add1\n");
    if (!net)
        return;
    Node *add = node(net, "add1");
    CU_ASSERT_PTR_NOT_NULL_FATAL(add);
    CU_ASSERT_EQUAL(add->ninputs, 2);
    CU_ASSERT_EQUAL(add->inputs[0], node(net, "x")->id);
    CU_ASSERT_EQUAL(add->inputs[1], node(net, "c")->id);
    CU_ASSERT_EQUAL(add->act, ACT_RELU);
    CU_ASSERT_EQUAL(node(net, "side")->inputs[0], 0);
    CU_ASSERT_EQUAL(node(net, "fc")->inputs[0], add->id);
    net_free(net);
}

static void test_add_with_one_name(void)
{
    Net *net = ok("input 8x8x2\nconv 3x3x2 pad 1\nconv 3x3x2 pad 1\nadd conv1\n"
                  "concat input, add1, conv2\ns = pool avg global from add1\nmul add1\n");
    if (!net)
        return;
    Node *add = node(net, "add1");
    CU_ASSERT_EQUAL(add->inputs[0], node(net, "conv2")->id);  /* previous first */
    CU_ASSERT_EQUAL(add->inputs[1], node(net, "conv1")->id);
    Node *cat = node(net, "concat1");
    CU_ASSERT_EQUAL(cat->ninputs, 3);
    CU_ASSERT_EQUAL(cat->out.c, 6);
    CU_ASSERT_EQUAL(node(net, "mul1")->ninputs, 2);
    net_free(net);
}

static void test_blocks(void)
{
    Net *net = ok("input 16x16x4\n"
                  "block unit(k, c) {\n"
                  "    conv1 = conv ${k}x${k}x$c pad 1 nobias\n"
                  "    bn1 = batchnorm relu\n"
                  "    add input\n"
                  "}\n"
                  "block pair(c) {\n"
                  "    a = unit(3, $c)\n"
                  "    unit(3, $c)\n"
                  "}\n"
                  "first = pair(4)\n"
                  "pair(4)\n"
                  "fc 2 from first\n");
    if (!net)
        return;
    Node *c = node(net, "first.a.conv1");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(c->kh, 3);
    CU_ASSERT_EQUAL(c->filters, 4);
    CU_ASSERT_FALSE(c->bias);
    CU_ASSERT_EQUAL(c->inputs[0], 0);             /* the block's input */
    CU_ASSERT_PTR_NOT_NULL(node(net, "first.unit1.bn1"));
    CU_ASSERT_PTR_NOT_NULL(node(net, "pair1.a.add1"));
    /* inside unit, `input` is the unit's input */
    Node *add = node(net, "first.unit1.add1");
    CU_ASSERT_EQUAL(add->inputs[1], node(net, "first.a.add1")->id);
    /* a call's name stands for its output */
    CU_ASSERT_EQUAL(node(net, "fc1")->inputs[0], add->id);
    net_free(net);
}

static void test_param_in_names_and_dims(void)
{
    Net *net = ok("input 8x8x1\n"
                  "block b(k, src, act) { conv $kx$kx2 from $src pad 1; relu }\n"
                  "conv 3x3x1 pad 1\n"
                  "b(3, input, x)\n");
    if (!net)
        return;
    Node *c = node(net, "b1.conv1");
    CU_ASSERT_EQUAL(c->kh, 3);
    CU_ASSERT_EQUAL(c->kw, 3);
    /* `input` passed as an argument means the block's input there */
    CU_ASSERT_EQUAL(c->inputs[0], 1);
    net_free(net);
}

static void test_repeat(void)
{
    Net *net = ok("input 8x8x1\nrepeat 3 { conv 3x3x2 pad 1 relu }\nrepeat 0 { fc 3 }\n"
                  "repeat 2 {\n  fc 4\n  dropout 0.5\n}\n");
    if (!net)
        return;
    CU_ASSERT_EQUAL(net->nnodes, 1 + 3 + 4);
    CU_ASSERT_PTR_NOT_NULL(node(net, "conv3"));
    CU_ASSERT_PTR_NOT_NULL(node(net, "dropout2"));
    net_free(net);
}

static void test_continuation(void)
{
    Net *net = ok("input 8x8x1\nblock b(a,\n        c) { conv 1x1x$c }\n"
                  "x = conv 1x1x2\ny = conv 1x1x2 from input\nconcat x,\n   y\n"
                  "b(1,\n 3)\n");
    if (!net)
        return;
    CU_ASSERT_EQUAL(node(net, "concat1")->ninputs, 2);
    CU_ASSERT_EQUAL(node(net, "b1.conv1")->filters, 3);
    net_free(net);
}

static void test_include(void)
{
    char dir[] = "/tmp/cnnc-incXXXXXX";
    if (!mkdtemp(dir)) {
        CU_FAIL("mkdtemp");
        return;
    }
    char *sub = xasprintf("%s/lib", dir), *blocks = xasprintf("%s/lib/blocks.net", dir);
    char *main_net = xasprintf("%s/main.net", dir);
    {
        char *cmd = xasprintf("mkdir -p %s", sub);
        CU_ASSERT_EQUAL(system(cmd), 0);
        free(cmd);
    }
    const char *lib = "block twice(c) { conv 3x3x$c pad 1; conv 3x3x$c pad 1 }\n";
    const char *top = "include \"lib/blocks.net\"\ninput 8x8x1\ntwice(5)\n";
    CU_ASSERT_EQUAL(write_file_atomic(blocks, lib, strlen(lib)), 0);
    CU_ASSERT_EQUAL(write_file_atomic(main_net, top, strlen(top)), 0);
    diag_reset();
    diag_set_stream(sink);
    Net *net = compile_file(main_net);
    CU_ASSERT_PTR_NOT_NULL(net);
    if (net) {
        CU_ASSERT_EQUAL(net->nfiles, 2);
        CU_ASSERT_STRING_EQUAL(net->files[0], main_net);
        CU_ASSERT_STRING_EQUAL(net->name, "main");
        CU_ASSERT_PTR_NOT_NULL(node(net, "twice1.conv2"));
    }
    net_free(net);
    unlink(blocks);
    unlink(main_net);
    rmdir(sub);
    rmdir(dir);
    free(sub);
    free(blocks);
    free(main_net);
}

static void test_fit(void)
{
    Net *net = ok("fit ceil\ninput 7x7x1\npool max 2\npool max 2 fit floor\n");
    if (!net)
        return;
    CU_ASSERT_EQUAL(net->nodes[1]->out.h, 4);
    CU_ASSERT_EQUAL(net->nodes[2]->out.h, 2);
    net_free(net);
}

/* A volume's layers take one number per axis, depth first, or one for all
 * (SPEC 7); an image's keep their depth fields at 1 and 0. */
static void test_volume_options(void)
{
    Net *net = ok("input 8x17x17x2\n"
                  "a = conv 3x5x5x4 stride 1x2x2 pad 1x2x2 dilation 2x1x1\n"
                  "b = pool max 2x1x1\n"
                  "c = deconv 2x2x2x4 stride 2 pad 1\n"
                  "d = crop 2x3x4\n"
                  "upsample 2\n");
    if (!net)
        return;
    CU_ASSERT(net->input.volume);
    CU_ASSERT(net->input.d == 8 && net->input.h == 17 && net->input.w == 17 && net->input.c == 2);
    Node *a = node(net, "a"), *b = node(net, "b"), *c = node(net, "c"), *d = node(net, "d");
    CU_ASSERT(a->kd == 3 && a->kh == 5 && a->kw == 5 && a->filters == 4);
    CU_ASSERT(a->sd == 1 && a->sh == 2 && a->sw == 2);
    CU_ASSERT(a->pad_d == 1 && a->pad_h == 2 && a->pad_w == 2);
    CU_ASSERT(a->dd == 2 && a->dh == 1 && a->dw == 1);
    CU_ASSERT(b->kd == 2 && b->kh == 1 && b->kw == 1);
    CU_ASSERT(b->sd == 2 && b->sh == 1 && b->sw == 1);   /* the stride is the window */
    CU_ASSERT(c->kd == 2 && c->sd == 2 && c->pad_d == 1 && c->pad_w == 1);
    CU_ASSERT(d->crop_d == 2 && d->crop_h == 3 && d->crop_w == 4);
    net_free(net);

    net = ok("input 9x8x1\nconv 3x3x4 stride 2x1 pad 1\n");
    if (!net)
        return;
    CU_ASSERT(!net->input.volume);
    Node *k = net->nodes[1];
    CU_ASSERT(k->kd == 1 && k->sd == 1 && k->dd == 1 && k->pad_d == 0);
    CU_ASSERT_EQUAL(k->out.d, 1);
    net_free(net);

    /* Sizes of the other rank, both ways. */
    CU_ASSERT_EQUAL(errors_of("input 8x8x8x1\nconv 3x3x4\n"), 1);
    CU_ASSERT_EQUAL(errors_of("input 8x8x1\nconv 3x3x3x4\n"), 1);
    CU_ASSERT_EQUAL(errors_of("input 8x8x8x1\nconv 3x3x3x4 dilation 2x2\n"), 1);
    CU_ASSERT_EQUAL(errors_of("input 8x8x1\npool max 2x2x2\n"), 1);
    CU_ASSERT_EQUAL(errors_of("input 8x8x8x1\ncrop 4x4\n"), 1);
    CU_ASSERT_EQUAL(errors_of("input 8x8x8x1x1\nrelu\n"), 1);
}

static void test_errors_are_all_reported(void)
{
    CU_ASSERT_EQUAL(errors_of("input 8x8\nconv 3x3\nfc x\npool min 2\nfc 3 tanh relu\n"), 4);
    CU_ASSERT_EQUAL(errors_of("input 8x8\nrepeat 2 { x = fc 3 }\n"), 1);
    CU_ASSERT_EQUAL(errors_of("input 8x8\nblock a() { b() }\nblock b() { a() }\na()\n"), 1);
    CU_ASSERT_EQUAL(errors_of("conv 3x3x3\n"), 1);
    CU_ASSERT_EQUAL(errors_of(""), 1);
    CU_ASSERT_EQUAL(errors_of("input 8x8\n"), 1);
    CU_ASSERT_EQUAL(errors_of("input 8x8\nrepeat 99999999999 { }\nrepeat 1000000 { relu }\n"), 1);
}

/* "input 8x8" and each of parts[] with fill repeated n times where the
 * part has '%' (parts are lines; the text is heap-built). */
static char *with_fill(const char *part, char fill, size_t n)
{
    const char *mark = strchr(part, '%');
    size_t before = (size_t)(mark - part), after = strlen(mark + 1);
    char *text = xmalloc(before + n + after + 1);
    memcpy(text, part, before);
    memset(text + before, fill, n);
    memcpy(text + before + n, mark + 1, after + 1);
    return text;
}

/* flex's variable trailing context kept a state per character of a token
 * in a 16 KiB buffer: longer tokens, comments and blank runs overflowed it
 * (issue 9).  Each case is built at 16 KiB, 100 KiB and 1 MiB. */
static void test_long_tokens(void)
{
    static const struct {
        const char *text;
        char fill;
        const char *layer;   /* a layer the text must define */
    } cases[] = {
        {"input 8x8\n#%\nfc 3\n", 'x', "fc1"},                 /* comment */
        {"input 8x8\nfc 3%\n", ' ', "fc1"},                    /* trailing blanks */
        {"input 8x8\nx%= fc 3\n", ' ', "x"},                   /* blanks before '=' */
        {"input 8x8\nblock b() { relu }\nb%()\n", '\t', "b1.relu1"}, /* before '(' */
        {"input 8x8\nfc %3\n", '0', "fc1"},                    /* a long number */
        {"input 8x8\nx.%x = fc 3\nrelu from x.%x\n", 'y', NULL}, /* long names */
    };
    static const size_t sizes[] = {16384, 100 << 10, 1 << 20};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            char *text = with_fill(cases[i].text, cases[i].fill, sizes[k]);
            if (strchr(text, '%')) {   /* a second place to fill */
                char *twice = with_fill(text, cases[i].fill, sizes[k]);
                free(text);
                text = twice;
            }
            Net *net = ok(text);
            if (net && cases[i].layer)
                CU_ASSERT_PTR_NOT_NULL(node(net, cases[i].layer));
            if (net && !cases[i].layer) {
                CU_ASSERT_EQUAL(net->nnodes, 3);
                CU_ASSERT_EQUAL(strlen(net->nodes[1]->name), sizes[k] + 3);
            }
            net_free(net);
            free(text);
        }
}

/* Each NUL inside a token made flex rescan the token from its start: a
 * comment of 122,137 NULs took minutes (found by make fuzz).  Now the
 * first NUL is one error and the rest of the file is still read. */
static void test_nul_bytes(void)
{
    static const char head[] = "input 8x8\n#", tail[] = "\nfc 3 tanh relu\n";
    size_t n = 1 << 20, len = sizeof head - 1 + n + sizeof tail - 1;
    char *text = xmalloc(len);
    memcpy(text, head, sizeof head - 1);
    memset(text + sizeof head - 1, 0, n);
    memcpy(text + sizeof head - 1 + n, tail, sizeof tail - 1);
    diag_reset();
    diag_set_stream(sink);
    Net *net = compile_text("t.net", text, len);
    CU_ASSERT_PTR_NULL(net);
    CU_ASSERT_EQUAL(diag_errors(), 2);   /* the NULs, and the error on the next line */
    net_free(net);
    free(text);
}

/* gcc reads a file that starts with a UTF-8 byte order mark; so does cnnc. */
static void test_bom(void)
{
    Net *net = ok("\xEF\xBB\xBFinput 8x8\nfc 3\n");
    if (net)
        CU_ASSERT_EQUAL(net->nnodes, 2);
    net_free(net);
    /* Only one mark is skipped: a second is three bad bytes. */
    CU_ASSERT_EQUAL(errors_of("\xEF\xBB\xBF\xEF\xBB\xBFinput 8x8\nfc 3\n"), 4);
}

void suite_parse(void)
{
    sink = fopen("/dev/null", "w");
    CU_pSuite s = CU_add_suite("parse", NULL, NULL);
    CU_add_test(s, "design card one-liner", test_one_liner);
    CU_add_test(s, "numbers, comments, separators", test_numbers_and_comments);
    CU_add_test(s, "automatic names", test_automatic_names);
    CU_add_test(s, "graphs, from, keywords as names", test_graph_and_from);
    CU_add_test(s, "add/concat/mul inputs", test_add_with_one_name);
    CU_add_test(s, "blocks and scopes", test_blocks);
    CU_add_test(s, "parameters in names and sizes", test_param_in_names_and_dims);
    CU_add_test(s, "repeat", test_repeat);
    CU_add_test(s, "line continuation", test_continuation);
    CU_add_test(s, "include", test_include);
    CU_add_test(s, "fit statement and option", test_fit);
    CU_add_test(s, "every error is reported", test_errors_are_all_reported);
    CU_add_test(s, "tokens of any length", test_long_tokens);
    CU_add_test(s, "byte order mark", test_bom);
    CU_add_test(s, "NUL bytes", test_nul_bytes);
    CU_add_test(s, "activation numbers", test_activation_numbers);
    CU_add_test(s, "volumes: options per axis", test_volume_options);
}
