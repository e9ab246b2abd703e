/* expand.h - statements to graph: blocks, repeats, includes, names. */
#ifndef CNNC_EXPAND_H
#define CNNC_EXPAND_H

#include "ast.h"
#include "ir.h"

/* The fuzzer (make fuzz) builds with CNNC_FUZZ_LIMITS: its inputs reach
 * the limits easily, and a network of 100,000 layers takes seconds under
 * the sanitizers, so it uses a fiftieth of them to keep its pace. */
#ifdef CNNC_FUZZ_LIMITS
enum { MAX_NODES = 2000, MAX_WORK = 20000 };
#else
enum {
    MAX_NODES = 100000,       /* layers after expansion */
    MAX_WORK = 1000000        /* statements expanded: repeat iterations,
                                 layers and calls, so that nested repeats
                                 of empty bodies cannot run for long */
};
#endif

enum {
    MAX_CALL_DEPTH = 64,      /* nested block calls */
    MAX_INCLUDE_DEPTH = 32
};

/* Expands the statements of the main file (already parsed into arena) into
 * net.  Errors go through diag. */
void expand_program(Net *net, Arena *arena, const Stmt *program, const char *file);

#endif
