/* lower.c - the kernel each layer runs with (lower.h). */
#include "lower.h"
#include "emitter.h"

/* Whether cblas_sgemm is worth its im2col for node n (a conv or fc with
 * --blas).  Measured on ResNet-18 at 64x64 and the 3x3 64->64 conv (see
 * README's bench section): OpenBLAS pays for its packing only when each
 * product is large on all three sides; below that the default kernels,
 * which keep the image in cache, win. */
#define BLAS_MIN_ROWS 32    /* filters per group (fc: outputs) */
#define BLAS_MIN_DEPTH 64   /* products summed per output: (C/G)*KH*KW (fc: inputs) */
#define BLAS_MIN_COLS 64    /* output pixels per image (fc: any) */

static bool blas_pays(const Node *n)
{
    if (n->op == OP_FC)
        return n->filters >= BLAS_MIN_ROWS && n->in_shape.h * n->in_shape.w * n->in_shape.c >= BLAS_MIN_DEPTH;
    long m = (long)(n->filters / n->groups), k = (long)(n->in_shape.c / n->groups * n->kh * n->kw);
    return m >= BLAS_MIN_ROWS && k >= BLAS_MIN_DEPTH && (long)(n->out.h * n->out.w) >= BLAS_MIN_COLS;
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
