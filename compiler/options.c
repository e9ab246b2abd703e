/* options.c - command-line parsing in the manner of gcc: short options take
 * their value attached or as the next argument, long ones with '=' or as
 * the next argument. */
#include "options.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reserved.h"

static int bad(const char *fmt, const char *arg)
{
    fputs("cnnc: error: ", stderr);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return OPTIONS_BAD;
}

/* For "--name=VALUE", "--name VALUE", "-xVALUE" and "-x VALUE": the value,
 * or NULL if arg is not this option.  *i advances past a separate value. */
static const char *value_of(const char *arg, const char *name, int *i, int argc, char **argv,
                            bool *missing)
{
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0)
        return NULL;
    const char *rest = arg + n;
    bool is_long = name[1] == '-';
    if (*rest == '\0') {
        if (*i + 1 >= argc) {
            *missing = true;
            return NULL;
        }
        return argv[++*i];
    }
    if (is_long && *rest == '=')
        return rest + 1;
    if (!is_long && strlen(name) == 2)
        return rest;   /* -oFILE */
    return NULL;
}

static bool is_identifier(const char *s)
{
    if (!*s || (*s >= '0' && *s <= '9'))
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return false;
    return true;
}

static int parse_report(Options *opt, const char *arg)
{
    if (strcmp(arg, "--report") == 0 || strcmp(arg, "--report=table") == 0)
        opt->report = REPORT_TABLE;
    else if (strcmp(arg, "--report=json") == 0)
        opt->report = REPORT_JSON;
    else if (strcmp(arg, "--report=dot") == 0)
        opt->report = REPORT_DOT;
    else
        return bad("unknown report format in '%s' (use table, json or dot)", arg);
    return OPTIONS_OK;
}

/* Options that take a value; returns 1 if arg was one of them, 0 if not,
 * -1 on a missing or bad value. */
static int valued(Options *opt, const char *arg, int *i, int argc, char **argv)
{
    static const struct { const char *name; size_t off; } table[] = {
        {"-o", offsetof(Options, output)},       {"--header", offsetof(Options, header)},
        {"-p", offsetof(Options, prefix)},       {"--prefix", offsetof(Options, prefix)},
        {"--embed-weights", offsetof(Options, embed)},
        {"-MF", offsetof(Options, depfile)},     {"-MT", offsetof(Options, deptarget)},
    };
    bool missing = false;
    for (size_t k = 0; k < sizeof table / sizeof table[0]; k++) {
        /* -MF and -MT must not be read as -M followed by a value. */
        const char *v = value_of(arg, table[k].name, i, argc, argv, &missing);
        if (missing) {
            bad("'%s' needs a value", arg);
            return -1;
        }
        if (v) {
            *(const char **)((char *)opt + table[k].off) = v;
            return 1;
        }
    }
    static const struct { const char *name, *message; long least; size_t off; } numbers[] = {
        {"--unroll", "--unroll needs a whole number from 0 to 1000000, not '%s'", 0, offsetof(Options, unroll)},
        {"--batch", "--batch needs a whole number from 1 to 1000000, not '%s'", 1, offsetof(Options, batch)},
    };
    for (size_t k = 0; k < sizeof numbers / sizeof numbers[0]; k++) {
        const char *v = value_of(arg, numbers[k].name, i, argc, argv, &missing);
        if (missing) {
            bad("'%s' needs a value", arg);
            return -1;
        }
        if (v) {
            char *end;
            errno = 0;
            long n = strtol(v, &end, 10);
            if (errno || *end || end == v || n < numbers[k].least || n > 1000000) {
                bad(numbers[k].message, v);
                return -1;
            }
            *(long *)((char *)opt + numbers[k].off) = n;
            return 1;
        }
    }
    return 0;
}

static int flag(Options *opt, const char *arg)
{
    static const struct { const char *name; size_t off; } table[] = {
        {"--main", offsetof(Options, emit_main)}, {"--blas", offsetof(Options, blas)},
        {"--no-train", offsetof(Options, no_train)}, {"-M", offsetof(Options, deps_only)},
        {"-MD", offsetof(Options, deps_too)},    {"-Werror", offsetof(Options, werror)},
        {"-w", offsetof(Options, nowarn)},
    };
    for (size_t k = 0; k < sizeof table / sizeof table[0]; k++)
        if (strcmp(arg, table[k].name) == 0) {
            *(bool *)((char *)opt + table[k].off) = true;
            return 1;
        }
    return 0;
}

int options_parse(Options *opt, int argc, char **argv)
{
    memset(opt, 0, sizeof *opt);
    opt->unroll = CNNC_DEFAULT_UNROLL;
    opt->batch = 1;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)
            return OPTIONS_HELP;
        if (strcmp(arg, "--version") == 0)
            return OPTIONS_VERSION;
        if (strncmp(arg, "--report", 8) == 0 && (arg[8] == '\0' || arg[8] == '=')) {
            if (parse_report(opt, arg) != OPTIONS_OK)
                return OPTIONS_BAD;
            continue;
        }
        if (flag(opt, arg))
            continue;
        int v = valued(opt, arg, &i, argc, argv);
        if (v < 0)
            return OPTIONS_BAD;
        if (v > 0)
            continue;
        if (arg[0] == '-' && arg[1] != '\0')
            return bad("unknown option '%s' (see cnnc --help)", arg);
        if (opt->input)
            return bad("only one input file may be given; '%s' is a second", arg);
        opt->input = arg;
    }
    if (!opt->input)
        return bad("%s", "no input file");
    if (opt->prefix && !is_identifier(opt->prefix))
        return bad("the prefix '%s' must be a C identifier", opt->prefix);
    if (opt->prefix && prefix_problem(opt->prefix)) {
        char better[96];
        prefix_suggestion(opt->prefix, better, sizeof better);
        fprintf(stderr, "cnnc: error: -p %s: '%s' %s; choose another prefix, e.g. -p %s\n",
                opt->prefix, opt->prefix, prefix_problem(opt->prefix), better);
        return OPTIONS_BAD;
    }
    if (opt->embed)
        opt->no_train = true;
    /* --blas also says which kernels the report lists */
    bool blas_alone = opt->blas && opt->report == REPORT_NONE;
    if ((opt->header || opt->emit_main || blas_alone || opt->embed) && !opt->output && !opt->deps_only)
        return bad("%s", "--header, --main, --blas and --embed-weights need -o FILE.c (--blas: or --report)");
    if (opt->batch != 1 && (opt->report == REPORT_NONE || opt->report == REPORT_DOT))
        return bad("%s", "--batch needs --report or --report=json (it sets the batch of their memory figures)");
    if (opt->deps_too && !opt->output)
        return bad("%s", "-MD needs -o FILE.c (the dependency file goes beside it)");
    return OPTIONS_OK;
}
