/* options.h - the parsed cnnc command line. */
#ifndef CNNC_OPTIONS_H
#define CNNC_OPTIONS_H

#include <stdbool.h>

typedef enum { REPORT_NONE, REPORT_TABLE, REPORT_JSON, REPORT_DOT } ReportFormat;

typedef struct {
    const char *input;        /* FILE.net or "-" */
    const char *output;       /* -o */
    const char *header;       /* --header */
    const char *prefix;       /* -p */
    const char *embed;        /* --embed-weights */
    const char *depfile;      /* -MF */
    const char *deptarget;    /* -MT */
    ReportFormat report;
    bool emit_main, blas, no_train, deps_only, deps_too, werror, nowarn;
    long unroll;              /* --unroll, default CNNC_DEFAULT_UNROLL */
    long batch;               /* --batch: of the report's memory figures, default 1 */
} Options;

enum { OPTIONS_OK, OPTIONS_HELP, OPTIONS_VERSION, OPTIONS_BAD };
enum { CNNC_DEFAULT_UNROLL = 25 };   /* a 5x5 kernel's loops */

/* Fills opt from argv; prints a message to stderr and returns OPTIONS_BAD
 * on a bad command line. */
int options_parse(Options *opt, int argc, char **argv);

#endif
