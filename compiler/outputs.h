/* outputs.h - everything a successful run writes: generated code, report,
 * dependency rules.  All is built in memory first; files are replaced
 * atomically and only when every part succeeded. */
#ifndef CNNC_OUTPUTS_H
#define CNNC_OUTPUTS_H

#include "ir.h"
#include "options.h"

/* Returns the exit status: 0, or 2 on an I/O error (reported). */
int outputs_write(const Net *net, const Options *opt);

/* The make rule "TARGET: net.net included.net ..." with phony targets for
 * the included files (as gcc -MP), appended to out. */
struct StrBuf;
void outputs_deps_rule(const Net *net, const char *target, struct StrBuf *out);

#endif
