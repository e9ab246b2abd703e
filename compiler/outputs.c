/* outputs.c - see outputs.h. */
#define _POSIX_C_SOURCE 200809L
#include "outputs.h"

#include <unistd.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "emit.h"
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

void deps_rule(const Net *net, const char *target, StrBuf *out)
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

/* Writes sb to a new temporary file beside path; *tmp gets its name. */
static int stage_file(const char *path, const StrBuf *sb, char **tmp)
{
    int fd = create_temp_beside(path, tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        fprintf(stderr, "cnnc: error: cannot write '%s': %s\n", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
            remove(*tmp);
            free(*tmp);
            *tmp = NULL;
        }
        return -1;
    }
    int bad = fwrite(sb->data ? sb->data : "", 1, sb->len, f) != sb->len;
    bad |= fclose(f) != 0;
    if (bad) {
        fprintf(stderr, "cnnc: error: cannot write '%s': %s\n", path, strerror(errno));
        remove(*tmp);
        free(*tmp);
        *tmp = NULL;
        return -1;
    }
    return 0;
}

static void build_report(const Net *net, ReportFormat fmt, StrBuf *out)
{
    switch (fmt) {
    case REPORT_TABLE: report_table(net, out); break;
    case REPORT_JSON: report_json(net, out); break;
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
    deps_rule(net, target, &deps);
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
    char *tmp_c = NULL, *tmp_h = NULL;
    if (rc == 0 && (stage_file(header, &h, &tmp_h) != 0 || stage_file(opt->output, &c, &tmp_c) != 0))
        rc = 2;
    if (rc == 0 && (rename(tmp_h, header) != 0 || rename(tmp_c, opt->output) != 0)) {
        fprintf(stderr, "cnnc: error: cannot write '%s': %s\n", opt->output, strerror(errno));
        rc = 2;
    }
    if (rc != 0) {
        if (tmp_h)
            remove(tmp_h);
        if (tmp_c)
            remove(tmp_c);
    }
    free(tmp_c);
    free(tmp_h);
    free(header);
    sb_free(&c);
    sb_free(&h);
    return rc;
}

int outputs_write(const Net *net, const Options *opt)
{
    if (opt->deps_only)
        return write_deps(net, opt);
    int rc = opt->output ? write_code(net, opt) : 0;
    if (rc == 0 && opt->deps_too)
        rc = write_deps(net, opt);
    if (rc == 0 && opt->report != REPORT_NONE) {
        StrBuf report;
        sb_init(&report);
        build_report(net, opt->report, &report);
        if (fwrite(report.data, 1, report.len, stdout) != report.len || fflush(stdout) != 0) {
            fprintf(stderr, "cnnc: error: cannot write the report: %s\n", strerror(errno));
            rc = 2;
        }
        sb_free(&report);
    }
    return rc;
}
