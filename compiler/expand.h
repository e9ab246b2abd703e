/* expand.h - statements to graph: blocks, repeats, includes, names. */
#ifndef CNNC_EXPAND_H
#define CNNC_EXPAND_H

#include "ast.h"
#include "ir.h"

enum {
    MAX_NODES = 100000,       /* layers after expansion */
    MAX_CALL_DEPTH = 64,      /* nested block calls */
    MAX_INCLUDE_DEPTH = 32
};

/* Expands the statements of the main file (already parsed into arena) into
 * net.  Errors go through diag. */
void expand_program(Net *net, Arena *arena, const Stmt *program, const char *file);

#endif
