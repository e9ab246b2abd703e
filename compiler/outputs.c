/* outputs.c - see outputs.h. */
#include "outputs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
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
    put_make_name(out, target);
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
    if (opt->deptarget)
        return xstrdup(opt->deptarget);
    if (opt->output) {
        char *header = opt->header ? xstrdup(opt->header) : replace_ext(opt->output, ".h");
        char *t = xasprintf("%s %s", opt->output, header);
        free(header);
        return t;
    }
    return xasprintf("%s.c", net->name);
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

int outputs_write(const Net *net, const Options *opt)
{
    if (opt->deps_only)
        return write_deps(net, opt);
    if (opt->output) {
        fprintf(stderr, "cnnc: error: code generation (-o) comes with the C emitter; "
                        "this build can only check and report (--report)\n");
        return 2;
    }
    int rc = 0;
    if (opt->deps_too)
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
