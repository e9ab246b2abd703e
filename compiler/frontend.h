/* frontend.h - from a .net file to a checked network graph: parse, expand
 * blocks/repeats/includes, check shapes and counts. */
#ifndef CNNC_FRONTEND_H
#define CNNC_FRONTEND_H

#include "ir.h"

/* Reads path ("-" is standard input).  Every problem is reported through
 * diag; returns NULL if there was any error (diag_errors() > 0 after it). */
Net *compile_file(const char *path);
/* The same for text held in memory; name is used in diagnostics and for
 * resolving includes. */
Net *compile_text(const char *name, const char *text, size_t len);

/* Parses and expands without checking shapes: for tests of the expander.
 * Returns the net even when there were errors (NULL only when the text
 * could not be parsed at all). */
Net *expand_text(const char *name, const char *text, size_t len);

#endif
