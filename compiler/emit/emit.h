/* emit.h - the C backend: specialised forward and backward code for one
 * network, with every size a constant. */
#ifndef CNNC_EMIT_H
#define CNNC_EMIT_H

#include <stdbool.h>

#include "ir.h"
#include "util.h"

typedef struct {
    const char *prefix;        /* C prefix, e.g. "lenet5" */
    const char *header_name;   /* how the .c includes the header */
    bool emit_main;            /* main() calling the runtime's driver */
    bool no_train;             /* forward only */
    bool blas;                 /* conv and fc through cblas_sgemm */
    long unroll;               /* fully unroll kernel loops up to this many iterations */
    const char *embed;         /* --embed-weights file, or NULL */
} EmitOptions;

/* Writes the .c and .h texts.  Returns 0, or -1 with a message in err
 * (an error of the options or the weights file, not of the network). */
int emit_c(const Net *net, const EmitOptions *opt, StrBuf *c, StrBuf *h, char *err, size_t errlen);

#endif
