/* lower.c - the kernel each layer runs with (lower.h). */
#include "lower.h"
#include "emit/emitter.h"

/* Whether cblas_sgemm is worth its im2col for node n (a conv or fc with
 * --blas).  OpenBLAS packs both operands on every call; that pays where
 * each packed value takes part in a long sum.  Measured layer by layer on
 * ResNet-18's shapes at 64x64, batch 8, 1 and 2 threads (README, "--blas"):
 * with sums of 1,152 to 4,608 terms BLAS ran 1.0-1.6x the default kernels,
 * with 64 to 576 terms 0.75-1.0x; and the direct tile kernels, which need
 * no im2col, beat it 2x on the 3x3 stride-1 convolutions they take.  So
 * those keep their kernel, and so does any product with fewer than
 * BLAS_MIN_DEPTH terms per output or fewer than BLAS_MIN_ROWS rows. */
#define BLAS_MIN_DEPTH 1024   /* (C/G)*KH*KW; fc: inputs */
#define BLAS_MIN_ROWS 32      /* filters per group; fc: outputs */

static bool blas_pays(const Node *n)
{
    if (n->op == OP_FC)
        return n->filters >= BLAS_MIN_ROWS && n->in_shape.h * n->in_shape.w * n->in_shape.c >= BLAS_MIN_DEPTH;
    long rows = (long)(n->filters / n->groups), depth = (long)(n->in_shape.c / n->groups * n->kh * n->kw);
    return !tile_conv_ok(n) && rows >= BLAS_MIN_ROWS && depth >= BLAS_MIN_DEPTH;
}

KernelKind lower_kernel(const Node *n, bool blas)
{
    switch (n->op) {
    case OP_CONV:
        if (blas && blas_pays(n))
            return KERNEL_BLAS;
        return tile_conv_ok(n) ? KERNEL_TILE : cols_conv_ok(n) ? KERNEL_COLS : flat_conv_ok(n) ? KERNEL_FLAT : KERNEL_ROW;
    case OP_DECONV: return KERNEL_DECONV;
    case OP_FC: return blas && blas_pays(n) ? KERNEL_BLAS : KERNEL_FC;
    default: return KERNEL_NONE;
    }
}

const char *kernel_name(KernelKind k)
{
    static const char *const names[] = {NULL, "tile", "cols", "flat", "row", "deconv", "fc", "blas"};
    return names[k];
}
