/* outputs.c - see outputs.h. */
#define _POSIX_C_SOURCE 200809L
#include "outputs.h"


#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "emit/emit.h"
#include "io.h"
#include "lower.h"
#include "report.h"
#include "util.h"

/* Make needs spaces, '#' and '$' escaped in file names. */
static void put_make_name(StrBuf *out, const char *name)
{
    for (const char *p = name; *p; p++) {
        if (*p == ' ' || *p == '#')
            sb_putn(out, "\\", 1);
        if (*p == '$')
            sb_putn(out, "$", 1);
        sb_putn(out, p, 1);
    }
}

void outputs_deps_rule(const Net *net, const char *target, StrBuf *out)
{
    sb_puts(out, target);   /* already escaped: it may name several files */
    sb_puts(out, ":");
    for (int i = 0; i < net->nfiles; i++) {
        if (strcmp(net->files[i], "<stdin>") == 0)
            continue;
        sb_puts(out, " ");
        put_make_name(out, net->files[i]);
    }
    sb_puts(out, "\n");
    /* Phony targets keep make going when an included file is deleted. */
    for (int i = 1; i < net->nfiles; i++) {
        sb_puts(out, "\n");
        put_make_name(out, net->files[i]);
        sb_puts(out, ":\n");
    }
}

/* "dir/lenet.c" -> "dir/lenet" + ext */
static char *replace_ext(const char *path, const char *ext)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(path, '.');
    size_t stem = dot && (!slash || dot > slash) ? (size_t)(dot - path) : strlen(path);
    return xasprintf("%.*s%s", (int)stem, path, ext);
}

static int write_or_fail(const char *path, const StrBuf *sb)
{
    if (write_file_atomic(path, sb->data ? sb->data : "", sb->len) == 0)
        return 0;
    fprintf(stderr, "cnnc: error: cannot write '%s': %s\n", path, strerror(errno));
    return 2;
}

/* Writes sb to a temporary beside path (or to path itself if it is a
 * device or FIFO), to be committed once every output is written. */
static int stage_file(const char *path, const StrBuf *sb, cnnrt_out *out)
{
    if (cnnrt_out_open(out, path) == 0) {
        if (cnnrt_write_all(out->fd, sb->data ? sb->data : "", sb->len) == 0 &&
            cnnrt_out_close(out, 0) == 0)
            return 0;
        cnnrt_out_abort(out);
    }
    fprintf(stderr, "cnnc: error: cannot write '%s': %s\n", path, strerror(errno));
    return -1;
}

static void build_report(const Net *net, const Options *opt, StrBuf *out)
{
    switch (opt->report) {
    case REPORT_TABLE: report_table(net, opt->blas, opt->batch, out); break;
    case REPORT_JSON: report_json(net, opt->blas, opt->batch, out); break;
    case REPORT_DOT: report_dot(net, out); break;
    case REPORT_NONE: break;
    }
}

static char *dep_target(const Net *net, const Options *opt)
{
    StrBuf t;
    sb_init(&t);
    if (opt->deptarget) {
        sb_puts(&t, opt->deptarget);   /* as gcc's -MT: used as written */
    } else if (opt->output) {
        char *header = opt->header ? xstrdup(opt->header) : replace_ext(opt->output, ".h");
        put_make_name(&t, opt->output);
        sb_puts(&t, " ");
        put_make_name(&t, header);
        free(header);
    } else {
        char *c = xasprintf("%s.c", net->name);
        put_make_name(&t, c);
        free(c);
    }
    return t.data;
}

static int write_deps(const Net *net, const Options *opt)
{
    StrBuf deps;
    sb_init(&deps);
    char *target = dep_target(net, opt);
    outputs_deps_rule(net, target, &deps);
    free(target);
    int rc = 0;
    if (opt->deps_only && !opt->depfile) {
        fputs(deps.data, stdout);
    } else {
        char *path = opt->depfile ? xstrdup(opt->depfile) : replace_ext(opt->output, ".d");
        rc = write_or_fail(path, &deps);
        free(path);
    }
    sb_free(&deps);
    return rc;
}

/* The .c names its header by base name when both sit in one directory. */
static const char *include_name(const char *c_path, const char *h_path)
{
    char *cdir = path_dirname(c_path), *hdir = path_dirname(h_path);
    int same = strcmp(cdir, hdir) == 0;
    free(cdir);
    free(hdir);
    const char *slash = strrchr(h_path, '/');
    return same && slash ? slash + 1 : h_path;
}

/* Both files are written to temporaries first and renamed only when both
 * were written, so a failure leaves the old pair in place. */
static int write_code(const Net *net, const Options *opt)
{
    char *header = opt->header ? xstrdup(opt->header) : replace_ext(opt->output, ".h");
    EmitOptions eo = {0};
    eo.prefix = opt->prefix ? opt->prefix : net->name;
    eo.header_name = include_name(opt->output, header);
    eo.emit_main = opt->emit_main;
    eo.no_train = opt->no_train;
    eo.blas = opt->blas;
    eo.unroll = opt->unroll;
    eo.embed = opt->embed;
    StrBuf c, h;
    sb_init(&c);
    sb_init(&h);
    char err[512];
    int rc = 0;
    if (emit_c(net, &eo, &c, &h, err, sizeof err) != 0) {
        fprintf(stderr, "cnnc: error: %s\n", err);
        rc = 2;
    }
    cnnrt_out out_c, out_h;
    if (rc == 0 && stage_file(header, &h, &out_h) != 0)
        rc = 2;
    if (rc == 0 && stage_file(opt->output, &c, &out_c) != 0) {
        cnnrt_out_abort(&out_h);
        rc = 2;
    }
    if (rc == 0 && cnnrt_out_commit(&out_h, 0) != 0) {
        fprintf(stderr, "cnnc: error: cannot write '%s': %s\n", header, strerror(errno));
        cnnrt_out_abort(&out_c);
        rc = 2;
    }
    if (rc == 0 && cnnrt_out_commit(&out_c, 0) != 0) {
        fprintf(stderr, "cnnc: error: cannot write '%s': %s\n", opt->output, strerror(errno));
        rc = 2;
    }
    free(header);
    sb_free(&c);
    sb_free(&h);
    return rc;
}

/* One file cnnc reads or writes, and the option that named it. */
typedef struct {
    const char *what;
    char *path;
} NamedFile;

static int list_outputs(const Options *opt, NamedFile *out)
{
    int n = 0;
    if (opt->output && !opt->deps_only) {
        out[n++] = (NamedFile){"-o", xstrdup(opt->output)};
        out[n++] = (NamedFile){"the header", opt->header ? xstrdup(opt->header) : replace_ext(opt->output, ".h")};
    }
    if (opt->depfile || (opt->deps_too && opt->output))
        out[n++] = (NamedFile){"the dependency file",
                               opt->depfile ? xstrdup(opt->depfile) : replace_ext(opt->output, ".d")};
    return n;
}

/* An output over an input or over another output would lose one of them
 * (cnnc x.net -o x.net, -o out.h, -MF equal to -o): refused up front. */
static int check_collisions(const Net *net, const Options *opt)
{
    NamedFile out[3];
    int nout = list_outputs(opt, out), rc = 0;
    for (int i = 0; i < nout && !rc; i++) {
        for (int j = 0; j < i && !rc; j++)
            if (cnnrt_same_file(out[i].path, out[j].path)) {
                fprintf(stderr, "cnnc: error: %s '%s' and %s '%s' are the same file\n", out[j].what,
                        out[j].path, out[i].what, out[i].path);
                rc = 2;
            }
        for (int f = 0; f < net->nfiles && !rc; f++)
            if (strcmp(net->files[f], "<stdin>") != 0 && cnnrt_same_file(out[i].path, net->files[f])) {
                fprintf(stderr, "cnnc: error: %s '%s' would overwrite the input '%s'\n", out[i].what,
                        out[i].path, net->files[f]);
                rc = 2;
            }
        if (!rc && opt->embed && cnnrt_same_file(out[i].path, opt->embed)) {
            fprintf(stderr, "cnnc: error: %s '%s' would overwrite the weights '%s'\n", out[i].what,
                    out[i].path, opt->embed);
            rc = 2;
        }
    }
    for (int i = 0; i < nout; i++)
        free(out[i].path);
    return rc;
}

/* The layers of volumes the emitter cannot run yet (lower.c says which):
 * refused before anything is written. */
static bool code_refused(const Net *net, const Options *opt)
{
    if (!opt->output || opt->deps_only || !net->input.volume)
        return false;
    Lowered low;
    lower_net(net, opt->blas, &low);
    bool refused = false;
    for (int i = 1; i < net->nnodes; i++)
        if (low.layers[i].refused) {
            const Node *n = net->nodes[i];
            error_at(n->loc, "code generation for '%s' (%s on a volume) is not yet supported; "
                     "--report checks and reports it", n->name, low.layers[i].refused);
            refused = true;
        }
    lower_free(&low);
    return refused;
}

int outputs_write(const Net *net, const Options *opt)
{
    if (check_collisions(net, opt) != 0)
        return 2;
    if (code_refused(net, opt))
        return 1;
    if (opt->deps_only)
        return write_deps(net, opt);
    int rc = opt->output ? write_code(net, opt) : 0;
    if (rc == 0 && opt->deps_too)
        rc = write_deps(net, opt);
    if (rc == 0 && opt->report != REPORT_NONE) {
        StrBuf report;
        sb_init(&report);
        build_report(net, opt, &report);
        if (fwrite(report.data, 1, report.len, stdout) != report.len || fflush(stdout) != 0) {
            fprintf(stderr, "cnnc: error: cannot write the report: %s\n", strerror(errno));
            rc = 2;
        }
        sb_free(&report);
    }
    return rc;
}
