/* check.h - shape inference and counting: the checker.
 *
 * Walks the graph in id order (a topological order, see ir.h), gives every
 * node its input and output shapes, its padding as computed, and its
 * parameter and multiply-accumulate counts, and fills the Net's totals.
 */
#ifndef CNNC_CHECK_H
#define CNNC_CHECK_H

#include "ir.h"

/* Infers every node's shape and counts, in id order; reports every error
 * with error_at() and keeps going (a node whose input failed is skipped
 * silently so one mistake gives one message).  Fills the Net totals and
 * net->output.  Warns about layers whose output nobody uses.  When the
 * net has no input the expander has said so: nothing is done.
 * Returns the number of errors it reported. */
int check_net(Net *net);

#endif
