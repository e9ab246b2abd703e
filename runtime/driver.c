/* driver.c - cnn_main: the command line of a generated network (`cnnc
 * --main`).  This file dispatches commands and holds the usage text and the
 * `info` command; each other command lives in its own driver_*.c file. */
#define _POSIX_C_SOURCE 200809L   /* _exit */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dist.h"
#include "driver_commands.h"
#include "io.h"

/* A command, the options it accepts (space-separated, with spaces at both
 * ends so that strstr(" name ") is exact), and its entry point.  "FILES"
 * means the command takes positional arguments. */
typedef struct {
    const char *name;
    const char *options;
    int (*run)(const cnn_net *net, const cnn_drv_opts *o);
} command;

static int info(const cnn_net *net, const cnn_drv_opts *o);

static const command commands[] = {
    {"info", " ", info},
    {"train",
     " data epochs batch lr momentum seed threads load save optim weight-decay nesterov schedule"
     " step-size gamma limit sync-bn ",
     cnn_drv_train},
    {"eval", " load data batch threads ", cnn_drv_eval},
    {"predict", " load output batch threads FILES ", cnn_drv_predict},
    {"bench", " batch threads seconds seed ", cnn_drv_bench},
    {"forward", " load input output batch threads ", cnn_drv_forward},
    {"backward", " load input grad-output grad-input grad-weights batch threads ", cnn_drv_backward},
    {"gradcheck", " seed samples threads ", cnn_drv_gradcheck},
};

static const char usage_text[] =
    "commands:\n"
    "  info                         the network's report and its tensors\n"
    "  train [options]              train on IDX data (below); prints one line per epoch\n"
    "  eval --load W                loss and accuracy (and Dice) on the t10k set of --data\n"
    "  predict --load W [--output MAP] FILE...\n"
    "                               one line per item: index, class, probability; for a\n"
    "                               dense net index, then the pixels of each class.  FILE\n"
    "                               is an IDX file of inputs (plain or .gz), or raw float32\n"
    "                               NCHW if its name ends in .bin; MAP gets the classes\n"
    "                               (the argmax per pixel) as an IDX file of labels (below)\n"
    "  bench                        images/s of forward, training and backward (median of runs)\n"
    "  forward --load W --input X.bin --output Y.bin\n"
    "                               inference on raw float32 NCHW items\n"
    "  backward --load W --input X.bin --grad-output GY.bin --grad-input GX.bin\n"
    "           --grad-weights GW.safetensors\n"
    "                               dL/dx and dL/dW for the given dL/dy, in inference mode\n"
    "                               (dropout off, batchnorm on running statistics)\n"
    "  gradcheck                    analytic vs numerical gradients, in inference mode\n"
    "  help                         this text\n"
    "\n"
    "options (default):\n"
    "  --data DIR          IDX files train-images-idxN-ubyte, ... (below; .gz too)\n"
    "                      (" DRV_DEFAULT_DATA ")\n"
    "  --epochs N          training epochs (5)\n"
    "  --batch B           mini-batch; for inference, images per call (64)\n"
    "  --optim sgd|adam    optimizer (sgd)\n"
    "  --lr F              learning rate (0.05 for sgd, 0.001 for adam)\n"
    "  --momentum F        SGD momentum (0.9)\n"
    "  --nesterov          SGD with Nesterov momentum\n"
    "  --weight-decay F    L2 weight decay (0)\n"
    "  --schedule S        learning rate by epoch: const, step or cosine (cosine)\n"
    "  --step-size N       step schedule: epochs per step (1)\n"
    "  --gamma F           step schedule: factor per step (0.1)\n"
    "  --seed S            initial weights, shuffling, random inputs (1)\n"
    "  --threads T         OpenMP threads, when the network is built with -fopenmp\n"
    "  --load W            weights (.safetensors) to start from\n"
    "  --save W            train: save the weights to W after every epoch (atomically)\n"
    "  --limit N           train: use only the first N training images (all)\n"
    "  --sync-bn           train under mpirun: batchnorm statistics of the global batch\n"
    "  --seconds S         bench: total measuring time (2)\n"
    "  --samples K         gradcheck: random parameters and inputs to check (20)\n"
    "  --input X.bin, --output Y.bin, --grad-output GY.bin, --grad-input GX.bin,\n"
    "  --grad-weights GW.safetensors   files of forward and backward\n"
    "  --output MAP        predict: write the class map (IDX, as labels) to MAP\n"
    "  --help              this text (also after a command)\n"
    "  --name=VALUE works as well as --name VALUE.\n"
    "\n"
    "Outputs go to devices and FIFOs directly, to files atomically (a symlink's target\n"
    "is replaced, the mode kept); an output over an input is refused (--save may be --load).\n"
    "\n"
    "exit status: 0 success, 1 bad usage, 2 I/O or data error or out of memory or\n"
    "threads, 3 training diverged (NaN or infinite loss or weight; the last checkpoint\n"
    "is kept), 4 gradcheck failed.\n\n";

static void usage(const cnn_net *net, const char *prog, int to_stdout)
{
    FILE *f = to_stdout ? stdout : stderr;
    fprintf(f, "usage: %s COMMAND [OPTIONS]\n", prog);
    fprintf(f, "Network %s: input ", net->name);
    if (net->in_d > 0)   /* volumes: D x H x W x C */
        fprintf(f, "%dx", net->in_d);
    fprintf(f, "%dx%dx%d, output ", net->in_h, net->in_w, net->in_c);
    if (net->out_d > 0)
        fprintf(f, "%dx", net->out_d);
    fprintf(f, "%dx%dx%d, %ld parameters%s.\n\n", net->out_h, net->out_w, net->out_c, net->num_params,
            net->train_step ? "" : " (inference only)");
    fputs(usage_text, f);
    cnn_drv_data_help(net, f);
}

/* `info`: the report cnnc printed at compile time (kept as lines: C99
 * compilers need only accept string literals of 4095 characters), then the
 * tensor table (what a weights file must hold). */
static int info(const cnn_net *net, const cnn_drv_opts *o)
{
    (void)o;
    for (const char *const *line = net->report; line && *line; line++)
        puts(*line);
    printf("Tensors (%d):\n", net->ntensors);
    for (int i = 0; i < net->ntensors; i++) {
        const cnn_tensor *t = &net->tensors[i];
        printf("  %-28s [", t->name);
        for (int d = 0; d < t->ndim; d++)
            printf("%s%lld", d ? ", " : "", (long long)t->shape[d]);
        printf("]%s\n", t->in_state ? "  (state, not trained)" : "");
    }
    return DRV_OK;
}

/* An output over an input or another output loses one of them; --save
 * over --load is the exception (written atomically, after the load). */
static int check_paths(const cnn_drv_opts *o)
{
    const char *out[] = {o->save, o->output, o->grad_input, o->grad_weights};
    const char *in[] = {o->load, o->input, o->grad_output};
    static const char *const out_names[] = {"save", "output", "grad-input", "grad-weights"};
    static const char *const in_names[] = {"load", "input", "grad-output"};
    for (int i = 0; i < 4; i++) {
        for (int j = 0; out[i] && j < 3; j++)
            if (in[j] && i + j > 0 && cnnrt_same_file(out[i], in[j])) {
                cnn_drv_error(o, "--%s '%s' would overwrite --%s '%s'", out_names[i], out[i], in_names[j],
                              in[j]);
                return DRV_USAGE;
            }
        for (int j = 0; out[i] && j < i; j++)
            if (out[j] && cnnrt_same_file(out[i], out[j])) {
                cnn_drv_error(o, "--%s '%s' and --%s '%s' are the same file", out_names[j], out[j],
                              out_names[i], out[i]);
                return DRV_USAGE;
            }
    }
    return DRV_OK;
}

/* `./net train --help` and the like: the usage, not an unknown option. */
static int wants_help(int argc, char **argv)
{
    for (int i = 2; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return 1;
    return 0;
}

/* libgomp reports a failure to create its threads and calls exit(1),
 * which is the driver's bad-usage status.  An exit while a command runs
 * is such a failure of the runtime (the driver itself returns), so it
 * leaves with DRV_IO, the status of running out of memory. */
static const char *running;

static void exit_guard(void)
{
    if (!running)
        return;
    fflush(stdout);
    fprintf(stderr, "%s: the OpenMP runtime failed (above); try fewer --threads\n", running);
    _exit(DRV_IO);
}

static int run_here(const command *c, const cnn_net *net, const cnn_drv_opts *o)
{
    int rc = check_paths(o);
    if (rc != DRV_OK)
        return rc;
    /* A file size limit (ulimit -f) must fail a write with EFBIG and a
     * message, leaving no temporary, rather than kill the process. */
    signal(SIGXFSZ, SIG_IGN);
    static int guarded;
    if (!guarded)
        guarded = atexit(exit_guard) == 0;
    running = o->prog;
    cnn_drv_threads(o);
    rc = c->run(net, o);
    running = NULL;
    return rc;
}

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* Under mpirun, train, eval and bench share their work among the ranks;
 * the other commands run on rank 0 alone, the others exit with its status. */
static int run_command(const command *c, const cnn_net *net, const cnn_drv_opts *o)
{
    static const char *const shared[] = {"train", "eval", "bench"};
    int everywhere = cnn_dist_size() == 1;
    for (size_t i = 0; i < sizeof shared / sizeof shared[0]; i++)
        everywhere |= !strcmp(c->name, shared[i]);
    if (everywhere)
        return run_here(c, net, o);
    return cnn_dist_root_says(cnn_dist_rank() == 0 ? run_here(c, net, o) : DRV_OK);
}

static int dispatch(const cnn_net *net, const char *prog, int argc, char **argv)
{
    cnn_drv_opts o;
    if (argc < 2) {
        usage(net, prog, 0);
        return DRV_USAGE;
    }
    if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(net, prog, 1);
        return DRV_OK;
    }
    const command *c = find_command(argv[1]);
    if (!c) {
        fprintf(stderr, "%s: unknown command '%s'\n", prog, argv[1]);
        usage(net, prog, 0);
        return DRV_USAGE;
    }
    if (wants_help(argc, argv)) {
        usage(net, prog, 1);
        return DRV_OK;
    }
    if (cnn_drv_parse(prog, c->name, argc - 2, argv + 2, c->options, &o) != DRV_OK) {
        fprintf(stderr, "%s: try '%s help'\n", prog, prog);
        return DRV_USAGE;
    }
    cnn_dist_set_sync_bn(o.sync_bn);
    int rc = run_command(c, net, &o);
    fflush(stdout);
    return rc;
}

/* Every message starts with prog: under mpirun it names the rank. */
int cnn_main(const cnn_net *net, int argc, char **argv)
{
    char ranked[512];
    const char *prog;
    cnn_dist_init(&argc, &argv);
    prog = argc > 0 && argv[0] ? argv[0] : net->name;
    if (cnn_dist_size() > 1) {
        snprintf(ranked, sizeof ranked, "%s (rank %d)", prog, cnn_dist_rank());
        prog = ranked;
    }
    int rc = dispatch(net, prog, argc, argv);
    cnn_dist_finalize();
    return rc;
}
