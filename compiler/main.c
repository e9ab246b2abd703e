/* main.c - the cnnc command line (docs/cnnc.1; README, "The command line").
 *
 * Exit status: 0 success, 1 errors in the input, 2 bad command line or I/O.
 * Nothing is written unless the whole run succeeds: outputs are built in
 * memory and renamed into place at the end (outputs.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "frontend.h"
#include "options.h"
#include "outputs.h"
#include "reserved.h"
#include "util.h"

static const char usage_text[] =
    "usage: cnnc [OPTIONS] FILE.net        (FILE may be - for standard input)\n"
    "  -o FILE.c              write the generated C; the header goes beside it (FILE.h)\n"
    "  --header FILE.h        header path, when not beside the .c\n"
    "  -p, --prefix NAME      C prefix (default: the network name)\n"
    "  --main                 also emit main(): the training/inference driver\n"
    "  --report[=table|json|dot]  print the shape/parameter report to stdout\n"
    "  --blas                 generated code calls cblas_sgemm (link -lopenblas)\n"
    "  --unroll N             fully unroll loops of at most N iterations (default 25)\n"
    "  --batch N              the batch of the report's memory figures (default 1)\n"
    "  --no-train             inference only: no backward pass, no optimizer state\n"
    "  --embed-weights W      weights from W.safetensors as const arrays (implies --no-train)\n"
    "  -M                     print make dependencies of FILE.net and stop\n"
    "  -MD                    also write make dependencies beside the output (FILE.d)\n"
    "  -MF FILE               where -M/-MD write the dependencies\n"
    "  -MT TARGET             the target named in the dependency rule\n"
    "  -Werror, -w            warnings as errors / no warnings\n"
    "  --version, -h, --help\n"
    "With neither -o, --report nor -M, cnnc only checks the file.\n"
    "Exit status: 0 success, 1 errors in the input, 2 command line or I/O error.\n";

/* The prefix that comes from the file name when neither -p nor a `network`
 * statement gives one: a bad one is a command-line problem (exit 2). */
static int default_prefix_ok(const Net *net, const Options *opt)
{
    if (!opt->output || opt->prefix || net->name_loc.file || !prefix_problem(net->name))
        return 1;
    char better[96];
    prefix_suggestion(net->name, better, sizeof better);
    fprintf(stderr, "cnnc: error: the C prefix '%s', taken from the file name '%s', %s; "
                    "give another with -p (e.g. -p %s) or with a 'network' statement\n",
            net->name, opt->input, prefix_problem(net->name), better);
    return 0;
}

int main(int argc, char **argv)
{
    Options opt;
    int status = options_parse(&opt, argc, argv);
    if (status == OPTIONS_HELP) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (status == OPTIONS_VERSION) {
        printf("cnnc %s\n", CNNC_VERSION);
        return 0;
    }
    if (status != OPTIONS_OK) {
        fputs("usage: cnnc [OPTIONS] FILE.net (see cnnc --help)\n", stderr);
        return 2;
    }
    diag_set_werror(opt.werror);
    diag_set_nowarn(opt.nowarn);

    size_t len;
    char *text = read_file_max(opt.input, CNNC_MAX_SOURCE, &len);
    if (!text) {
        fprintf(stderr, "cnnc: error: cannot read '%s': %s\n", opt.input, strerror(errno));
        return 2;
    }
    Net *net = compile_text(opt.input, text, len);
    free(text);
    int rc = !net ? 1 : !default_prefix_ok(net, &opt) ? 2 : outputs_write(net, &opt);
    net_free(net);
    diag_reset();
    return rc;
}
