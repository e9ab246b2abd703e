/* report.h - the shape/parameter report of `cnnc --report` (README, "The report").
 *
 * Every function reads a net that checked without errors (shapes, pads and
 * counts filled in by check.c) and appends to out; none of them fails. */
#ifndef CNNC_REPORT_H
#define CNNC_REPORT_H

#include "ir.h"
#include "util.h"

/* A table for people: one row per node, then the totals.  blas: the
 * kernels named are those of code generated with --blas (lower.h); batch:
 * the batch of the memory figures (the whole memory of net_new(batch)). */
void report_table(const Net *net, bool blas, long batch, StrBuf *out);
/* One JSON object: network, input, output, layers (nodes 1..n-1), totals. */
void report_json(const Net *net, bool blas, long batch, StrBuf *out);
/* A Graphviz digraph: a box per node, edges labelled with tensor shapes. */
void report_dot(const Net *net, StrBuf *out);
/* One-line description of a node's own options, e.g. "5x5 s2 p1 d2 g4
 * nobias relu"; appends nothing for a node without options.  Shared by the
 * table, the JSON "options" and the DOT labels.  A Node holds its inputs as
 * ids, so the table (which has the net) adds "from NAME" itself. */
void report_options(const Node *n, StrBuf *out);

#endif
