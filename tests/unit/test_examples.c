/* test_examples.c - the example networks reproduce their published counts.
 *
 * Each examples/X.net is compiled through the front end and its totals are
 * compared with the published numbers (the papers, torchvision's model
 * documentation); tests/torch/counts.py recomputes every one of them with
 * PyTorch (saved in tests/torch/counts.txt), including the MACs, counted as
 * torchinfo does (README, "The report"): conv Hout*Wout*F*KH*KW*C/groups,
 * deconv Hin*Win*C*F*KH*KW/groups, fc IN*OUT.  The tests run from the top of the
 * tree, where examples/ is.
 */
#include <CUnit/CUnit.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "frontend.h"
#include "ir.h"
#include "suites.h"

typedef struct {
    const char *path;
    const char *name;              /* network name */
    int64_t ih, iw, ic;            /* input */
    int64_t oh, ow, oc;            /* output */
    int64_t params, non_trainable, macs;
    const char *layers[6];         /* some layer names that must exist */
} Example;

static void check_example(const Example *e)
{
    diag_reset();
    Net *net = compile_file(e->path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(net);
    CU_ASSERT_EQUAL(diag_errors(), 0);
    CU_ASSERT_EQUAL(diag_warnings(), 0);
    CU_ASSERT_STRING_EQUAL(net->name, e->name);

    CU_ASSERT_EQUAL(net->input.h, e->ih);
    CU_ASSERT_EQUAL(net->input.w, e->iw);
    CU_ASSERT_EQUAL(net->input.c, e->ic);

    CU_ASSERT_FATAL(net->output >= 0 && net->output < net->nnodes);
    Shape out = net->nodes[net->output]->out;
    CU_ASSERT_EQUAL(out.h, e->oh);
    CU_ASSERT_EQUAL(out.w, e->ow);
    CU_ASSERT_EQUAL(out.c, e->oc);

    CU_ASSERT_EQUAL(net->params, e->params);
    CU_ASSERT_EQUAL(net->non_trainable, e->non_trainable);
    CU_ASSERT_EQUAL(net->macs, e->macs);

    /* The totals are the sums over the layers. */
    int64_t params = 0, non_trainable = 0, macs = 0;
    for (int i = 0; i < net->nnodes; i++) {
        params += net->nodes[i]->params;
        non_trainable += net->nodes[i]->non_trainable;
        macs += net->nodes[i]->macs;
    }
    CU_ASSERT_EQUAL(params, e->params);
    CU_ASSERT_EQUAL(non_trainable, e->non_trainable);
    CU_ASSERT_EQUAL(macs, e->macs);

    for (size_t i = 0; i < sizeof e->layers / sizeof e->layers[0]; i++)
        if (e->layers[i])
            CU_ASSERT_PTR_NOT_NULL(net_find(net, e->layers[i]));

    net_free(net);
    diag_reset();
}

/* LeNet-5 as in the README and docs/language.md. */
static void test_lenet(void)
{
    static const Example e = {
        "examples/lenet.net", "lenet5", 28, 28, 1, 1, 1, 10,
        INT64_C(61706), INT64_C(0), INT64_C(416520),
        {"conv1", "pool2", "fc3", "softmax1", NULL, NULL},
    };
    check_example(&e);
}

/* torchvision alexnet: 61,100,840 parameters. */
static void test_alexnet(void)
{
    static const Example e = {
        "examples/alexnet.net", "alexnet", 224, 224, 3, 1, 1, 1000,
        INT64_C(61100840), INT64_C(0), INT64_C(714188480),
        {"features.0", "features.10", "classifier.1", "classifier.6", NULL,
         NULL},
    };
    check_example(&e);
}

/* torchvision vgg16: 138,357,544 parameters. */
static void test_vgg16(void)
{
    static const Example e = {
        "examples/vgg16.net", "vgg16", 224, 224, 3, 1, 1, 1000,
        INT64_C(138357544), INT64_C(0), INT64_C(15470264320),
        {"features.0", "features.28", "classifier.0", "classifier.6", NULL,
         NULL},
    };
    check_example(&e);
}

/* ZFNet (Zeiler & Fergus 2013): 62,357,608 parameters, written from the
 * paper in tests/torch/counts.py. */
static void test_zfnet(void)
{
    static const Example e = {
        "examples/zfnet.net", "zfnet", 224, 224, 3, 1, 1, 1000,
        INT64_C(62357608), INT64_C(0), INT64_C(1168032896),
        {"conv1", "norm1", "norm2", "conv5", "fc6", "fc8"},
    };
    check_example(&e);
}

/* torchvision inception_v3 without aux heads: 23,834,568 parameters. */
static void test_inception_v3(void)
{
    static const Example e = {
        "examples/inception_v3.net", "inception_v3", 299, 299, 3, 1, 1, 1000,
        INT64_C(23834568), INT64_C(34432), INT64_C(5713216096),
        {"Conv2d_1a_3x3.conv", "Mixed_5b.branch_pool.conv", "Mixed_6e.branch7x7dbl_5.bn",
         "Mixed_7a.branch7x7x3_4.conv", "Mixed_7c.branch3x3dbl_3b.bn", "fc"},
    };
    check_example(&e);
}

/* torchvision googlenet without aux heads: 6,624,904 parameters. */
static void test_googlenet(void)
{
    static const Example e = {
        "examples/googlenet.net", "googlenet", 224, 224, 3, 1, 1, 1000,
        INT64_C(6624904), INT64_C(14560), INT64_C(1498376192),
        {"conv1.conv", "conv3.bn", "inception3a.branch1.conv",
         "inception4e.branch3.1.conv", "inception5b.branch4.1.bn", "fc"},
    };
    check_example(&e);
}

/* torchvision resnet18: 11,689,512 parameters. */
static void test_resnet18(void)
{
    static const Example e = {
        "examples/resnet18.net", "resnet18", 224, 224, 3, 1, 1, 1000,
        INT64_C(11689512), INT64_C(9600), INT64_C(1814073344),
        {"conv1", "bn1", "layer1.0.conv1", "layer2.0.downsample.0",
         "layer4.1.bn2", "fc"},
    };
    check_example(&e);
}

/* torchvision resnet50: 25,557,032 parameters, 4.09 GMACs. */
static void test_resnet50(void)
{
    static const Example e = {
        "examples/resnet50.net", "resnet50", 224, 224, 3, 1, 1, 1000,
        INT64_C(25557032), INT64_C(53120), INT64_C(4089184256),
        {"bn1", "layer1.0.downsample.0", "layer1.0.downsample.1",
         "layer3.5.conv3", "layer4.2.bn3", "fc"},
    };
    check_example(&e);
}

/* U-Net (Ronneberger et al. 2015): 572x572x1 to 388x388x2, 31,030,658
 * parameters. */
static void test_unet(void)
{
    static const Example e = {
        "examples/unet.net", "unet", 572, 572, 1, 388, 388, 2,
        INT64_C(31030658), INT64_C(0), INT64_C(150428424448),
        {"down1.conv1", "bottom.conv2", "up1.upconv", "up4.conv2", "classify",
         NULL},
    };
    check_example(&e);
}

/* V-Net (Milletari et al. 2016, Fig. 1) in tests/torch/vnet.py's reading:
 * 64x128x128x1 to 64x128x128x2, 65,175,314 parameters. */
static void test_vnet(void)
{
    static const Example e = {
        "examples/vnet.net", "vnet", 128, 128, 1, 128, 128, 2,
        INT64_C(65175314), INT64_C(0), INT64_C(502142074880),
        {"left.0.convs.0", "left.0.out_act", "down.3.0", "up.0.0", "right.3.convs.0", "head"},
    };
    check_example(&e);
    diag_reset();
    Net *net = compile_file(e.path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(net);
    CU_ASSERT(net->input.volume);
    CU_ASSERT_EQUAL(net->input.d, 64);
    CU_ASSERT(net->nodes[net->output]->out.volume);
    CU_ASSERT_EQUAL(net->nodes[net->output]->out.d, 64);
    CU_ASSERT_EQUAL(net->loss, LOSS_DICE);
    net_free(net);
    diag_reset();
}

/* SE-ResNet-50 (Hu et al. 2018): torchvision's resnet50 with SE, reduction
 * 16, in every bottleneck; 28,088,024 parameters (tests/torch/counts.py). */
static void test_se_resnet50(void)
{
    static const Example e = {
        "examples/se_resnet50.net", "se_resnet50", 224, 224, 3, 1, 1, 1000,
        INT64_C(28088024), INT64_C(53120), INT64_C(4091699200),
        {"layer1.0.downsample.1", "layer1.0.se.fc1", "layer2.3.se.fc2",
         "layer3.5.se.scale", "layer4.2.se.avgpool", "fc"},
    };
    check_example(&e);
}

void suite_examples(void)
{
    CU_pSuite s = CU_add_suite("examples", NULL, NULL);
    if (!s)
        return;
    CU_add_test(s, "lenet", test_lenet);
    CU_add_test(s, "alexnet", test_alexnet);
    CU_add_test(s, "vgg16", test_vgg16);
    CU_add_test(s, "zfnet", test_zfnet);
    CU_add_test(s, "googlenet", test_googlenet);
    CU_add_test(s, "inception_v3", test_inception_v3);
    CU_add_test(s, "resnet18", test_resnet18);
    CU_add_test(s, "resnet50", test_resnet50);
    CU_add_test(s, "unet", test_unet);
    CU_add_test(s, "vnet", test_vnet);
    CU_add_test(s, "se_resnet50", test_se_resnet50);
}
