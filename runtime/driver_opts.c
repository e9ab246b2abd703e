/* driver_opts.c - the driver's options: defaults, parsing, checking; and
 * cnn_drv_error, the form of its messages.
 *
 * One table describes every option (its type, where it goes, its range) so
 * that parsing, range checks and messages are uniform.  Numbers are parsed
 * strictly: "10x", "", "1e999" and out-of-range values are errors, never
 * silently truncated. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"

typedef enum { O_STR, O_INT, O_U64, O_REAL, O_FLAG, O_OPTIM, O_SCHED } opt_type;

#define NO_FLAG ((size_t)-1)

typedef struct {
    const char *name;
    opt_type type;
    size_t at;           /* offsetof the value in cnn_drv_opts */
    double lo, hi;       /* range of O_INT and O_REAL values */
    size_t set;          /* offsetof an int set to 1 when given, or NO_FLAG */
} opt_def;

#define AT(f) offsetof(cnn_drv_opts, f)

static const opt_def defs[] = {
    {"data", O_STR, AT(data), 0, 0, NO_FLAG},
    {"load", O_STR, AT(load), 0, 0, NO_FLAG},
    {"save", O_STR, AT(save), 0, 0, NO_FLAG},
    {"input", O_STR, AT(input), 0, 0, NO_FLAG},
    {"output", O_STR, AT(output), 0, 0, NO_FLAG},
    {"grad-output", O_STR, AT(grad_output), 0, 0, NO_FLAG},
    {"grad-input", O_STR, AT(grad_input), 0, 0, NO_FLAG},
    {"grad-weights", O_STR, AT(grad_weights), 0, 0, NO_FLAG},
    {"epochs", O_INT, AT(epochs), 1, 1000000, NO_FLAG},
    {"batch", O_INT, AT(batch), 1, 1 << 20, AT(batch_set)},
    {"threads", O_INT, AT(threads), 1, 4096, AT(threads_set)},
    {"limit", O_INT, AT(limit), 1, INT_MAX, NO_FLAG},
    {"samples", O_INT, AT(samples), 1, 1000000, NO_FLAG},
    {"step-size", O_INT, AT(step_size), 1, 1000000, NO_FLAG},
    {"seed", O_U64, AT(seed), 0, 0, NO_FLAG},
    {"lr", O_REAL, AT(lr), 0, 1e6, AT(lr_set)},
    {"momentum", O_REAL, AT(momentum), 0, 1, NO_FLAG},
    {"weight-decay", O_REAL, AT(weight_decay), 0, 1e6, NO_FLAG},
    {"gamma", O_REAL, AT(gamma), 0, 1e6, NO_FLAG},
    {"seconds", O_REAL, AT(seconds), 1e-3, 1e6, NO_FLAG},
    {"nesterov", O_FLAG, AT(nesterov), 0, 0, NO_FLAG},
    {"sync-bn", O_FLAG, AT(sync_bn), 0, 0, NO_FLAG},
    {"optim", O_OPTIM, AT(optim), 0, 0, NO_FLAG},
    {"schedule", O_SCHED, AT(schedule), 0, 0, NO_FLAG},
};

void cnn_drv_error(const cnn_drv_opts *o, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", o && o->prog ? o->prog : "cnn");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void set_defaults(cnn_drv_opts *o, const char *prog)
{
    memset(o, 0, sizeof *o);
    o->prog = prog;
    o->data = DRV_DEFAULT_DATA;
    o->epochs = 5;
    o->batch = 64;
    o->samples = 20;
    o->step_size = 1;
    o->seed = 1;
    o->lr = 0.05;
    o->momentum = 0.9;
    o->gamma = 0.1;
    o->seconds = 2.0;
    o->optim = CNN_SGD;
    o->schedule = CNN_SCHED_COSINE;   /* LeNet-5: 90% on Fashion-MNIST in 5 epochs; const: 88% */
}

static const opt_def *find_def(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++)
        if (strlen(defs[i].name) == len && strncmp(defs[i].name, name, len) == 0)
            return &defs[i];
    return NULL;
}

/* Is `name` (len chars) in the space-separated list `allowed`? */
static int allowed_here(const char *allowed, const char *name, size_t len)
{
    for (const char *p = strstr(allowed, name); p; p = strstr(p + 1, name))
        if (p[-1] == ' ' && p[len] == ' ')
            return 1;
    return 0;
}

static int parse_real(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno == ERANGE || !isfinite(v) || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* Integers are decimal only: "08" is 8, not an octal error. */
static int parse_int(const char *s, double lo, double hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno == ERANGE || (double)v < lo || (double)v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (strchr(s, '-'))
        return -1;   /* strtoull would wrap "-1" around */
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end || errno == ERANGE)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

static int parse_enum(const char *s, const char *const *names, int count, int *out)
{
    for (int i = 0; i < count; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return 0;
        }
    return -1;
}

static const char *const optim_names[] = {"sgd", "adam"};
static const char *const sched_names[] = {"const", "step", "cosine"};

static void range_hint(const opt_def *d)
{
    if (d->type == O_INT)
        fprintf(stderr, " (an integer from %.0f to %.0f)", d->lo, d->hi);
    else if (d->type == O_REAL)
        fprintf(stderr, " (a number from %g to %g)", d->lo, d->hi);
    else if (d->type == O_U64)
        fprintf(stderr, " (a non-negative integer)");
    else if (d->type == O_OPTIM)
        fprintf(stderr, " (sgd or adam)");
    else if (d->type == O_SCHED)
        fprintf(stderr, " (const, step or cosine)");
}

/* Stores value into the field d describes; 0, or -1 if it is malformed. */
static int store(cnn_drv_opts *o, const opt_def *d, const char *value)
{
    char *base = (char *)o;
    int e;
    switch (d->type) {
    case O_STR:
        if (!*value)
            return -1;
        *(const char **)(base + d->at) = value;
        return 0;
    case O_INT:
        return parse_int(value, d->lo, d->hi, (int *)(base + d->at));
    case O_U64:
        return parse_u64(value, (uint64_t *)(base + d->at));
    case O_REAL:
        return parse_real(value, d->lo, d->hi, (double *)(base + d->at));
    case O_OPTIM:
        if (parse_enum(value, optim_names, 2, &e))
            return -1;
        o->optim = (cnn_optim_kind)e;
        return 0;
    case O_SCHED:
        if (parse_enum(value, sched_names, 3, &e))
            return -1;
        o->schedule = (cnn_sched_kind)e;
        return 0;
    case O_FLAG:
        break;
    }
    *(int *)(base + d->at) = 1;
    return 0;
}

/* Parses the option at argv[*i] (and its value); advances *i. */
static int parse_option(cnn_drv_opts *o, const char *allowed, int argc, char **argv, int *i)
{
    const char *arg = argv[*i] + 2, *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    const opt_def *d = find_def(arg, len);
    if (!d) {
        fprintf(stderr, "%s: unknown option '--%.*s'\n", o->prog, (int)len, arg);
        return DRV_USAGE;
    }
    if (!allowed_here(allowed, d->name, len)) {
        fprintf(stderr, "%s: option '--%s' does not apply to '%s'\n", o->prog, d->name, o->command);
        return DRV_USAGE;
    }
    const char *value = eq ? eq + 1 : NULL;
    if (d->type == O_FLAG && value) {
        fprintf(stderr, "%s: option '--%s' takes no value\n", o->prog, d->name);
        return DRV_USAGE;
    }
    if (d->type != O_FLAG && !value) {
        if (*i + 1 >= argc) {
            fprintf(stderr, "%s: option '--%s' needs a value\n", o->prog, d->name);
            return DRV_USAGE;
        }
        value = argv[++*i];
    }
    if (store(o, d, value ? value : "")) {
        fprintf(stderr, "%s: bad value '%s' for --%s", o->prog, value, d->name);
        range_hint(d);
        fputc('\n', stderr);
        return DRV_USAGE;
    }
    if (d->set != NO_FLAG)
        *(int *)((char *)o + d->set) = 1;
    return DRV_OK;
}

/* Combinations that torch.optim would reject too. */
static int check_combination(cnn_drv_opts *o)
{
    if (o->nesterov && (o->optim != CNN_SGD || o->momentum <= 0)) {
        fprintf(stderr, "%s: --nesterov needs --optim sgd and a momentum above 0\n", o->prog);
        return DRV_USAGE;
    }
    if (o->optim == CNN_ADAM && !o->lr_set)
        o->lr = 0.001;   /* Adam's usual rate; SGD's 0.05 would be far too big */
    return DRV_OK;
}

int cnn_drv_parse(const char *prog, const char *command, int argc, char **argv, const char *allowed,
                  cnn_drv_opts *o)
{
    int only_files = 0;
    set_defaults(o, prog);
    o->command = command;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!only_files && strcmp(a, "--") == 0) {
            only_files = 1;
        } else if (!only_files && a[0] == '-' && a[1] == '-' && a[2]) {
            if (parse_option(o, allowed, argc, argv, &i) != DRV_OK)
                return DRV_USAGE;
        } else if (!only_files && a[0] == '-' && a[1]) {
            fprintf(stderr, "%s: unknown option '%s' (options are spelt --name)\n", prog, a);
            return DRV_USAGE;
        } else if (strstr(allowed, " FILES ")) {
            /* Positional arguments move down over the options between them
             * (argv is ours to modify, C99 5.1.2.2.1) so that files[] lists
             * them in order: files[nfiles] is never beyond argv[i]. */
            if (!o->files)
                o->files = argv + i;
            o->files[o->nfiles++] = argv[i];
        } else {
            fprintf(stderr, "%s: unexpected argument '%s'\n", prog, a);
            return DRV_USAGE;
        }
    }
    return check_combination(o);
}

cnn_optim cnn_drv_optim(const cnn_drv_opts *o)
{
    cnn_optim opt = o->optim == CNN_ADAM ? cnn_adam((float)o->lr)
                                         : cnn_sgd((float)o->lr, (float)o->momentum);
    opt.weight_decay = (float)o->weight_decay;
    opt.nesterov = o->nesterov;
    opt.sched = o->schedule;
    opt.step_size = o->step_size;
    opt.gamma = (float)o->gamma;
    opt.total_epochs = o->epochs;
    return opt;
}
