/* lower.h - the choices made between checking a net and emitting C that
 * more than one reader needs: for now, the kernel each layer runs with.
 * The emitter generates that kernel and the report prints its name, so
 * both read it here (issue 10's lowering stage, begun small). */
#ifndef CNNC_LOWER_H
#define CNNC_LOWER_H

#include <stdbool.h>

#include "ir.h"

typedef enum {
    KERNEL_NONE,     /* a layer without a matrix product: one loop nest */
    KERNEL_TILE,     /* register-tiled direct convolution (emit/tile.c) */
    KERNEL_COLS,     /* im2col of groups of images, runtime kernels (emit/cols.c) */
    KERNEL_FLAT,     /* convolution over flattened rows (emit/flat.c) */
    KERNEL_ROW,      /* convolution row by row (emit/conv.c) */
    KERNEL_DECONV,   /* transposed convolution (emit/conv.c) */
    KERNEL_FC,       /* fully connected (emit/layers.c) */
    KERNEL_BLAS      /* cblas_sgemm over im2col columns (emit/blas.c) */
} KernelKind;

/* The kernel node n runs with; blas: the net is compiled with --blas,
 * which still leaves the layers BLAS is measured to lose on to the
 * default kernel (see blas_pays in lower.c). */
KernelKind lower_kernel(const Node *n, bool blas);
/* Its name in the report: "tile", "cols", ...; NULL for KERNEL_NONE. */
const char *kernel_name(KernelKind k);

#endif
