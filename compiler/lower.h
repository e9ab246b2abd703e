/* lower.h - the lowering stage, between checking a net and emitting C:
 * for each layer, the kernel it runs with and that kernel's geometry,
 * worked out once.  The emitter generates the kernels from it, and the
 * report prints the kernels' names and the scratch memory they need. */
#ifndef CNNC_LOWER_H
#define CNNC_LOWER_H

#include <stdbool.h>

#include "cnnrt_net.h"
#include "ir.h"

typedef enum {
    KERNEL_NONE,     /* a layer without a matrix product: one loop nest */
    KERNEL_TILE,     /* register-tiled direct convolution (emit/tile.c) */
    KERNEL_COLS,     /* im2col of groups of images, runtime kernels (emit/cols.c) */
    KERNEL_FLAT,     /* convolution over flattened rows (emit/flat.c) */
    KERNEL_ROW,      /* convolution row by row (emit/conv.c) */
    KERNEL_DECONV,   /* transposed convolution (emit/conv.c) */
    KERNEL_FC,       /* fully connected (emit/conv.c) */
    KERNEL_BLAS,     /* cblas_sgemm over im2col columns (emit/blas.c) */
    KERNEL_CONV3D,   /* a volume's convolution, runtime/conv3d.c (emit/vol.c) */
    KERNEL_DECONV3D  /* a volume's deconvolution, runtime/vol3d.c (emit/vol.c) */
} KernelKind;

/* The shape of a conv or deconv, for every kernel: sizes in floats, planes
 * per image.  An fc is a 1x1 one on an input of in_size values. */
typedef struct {
    long c, h, w, hw, in_size;        /* input: channels, plane, per image */
    long f, oh, ow, ohw, out_size;    /* output: filters (fc: outputs) ... */
    long groups, cg, fg;              /* channels and filters per group */
    long kh, kw, taps, sh, sw, dh, dw;
    long k;                           /* a group's column of im2col: CG*KH*KW */
    long pt, pl;                      /* padding above and left of the input */
    long hp, wp, plane;               /* the padded input plane, HPxWP */
    bool padded;                      /* HPxWP is not HxW */
    long nq;       /* output positions on rows of width WP: (OH-1)*WP+OW */
    long span;     /* the offset of the last tap in a padded plane */
} ConvGeom;

/* KERNEL_TILE (emit/tile.c): padded planes and output rows in tiles of 24
 * positions, laid out in m->flat. */
typedef struct {
    long nq24;      /* output positions rounded up to tiles */
    long np24;      /* a padded plane rounded up to tiles: dL/dx positions */
    long f4, c4;    /* filters and channels rounded up to 4 */
    long xslack;    /* floats after the last input plane that tiles read */
    long bstride;   /* backward: a dL/dy plane, span zeros first, zeros to np24 after */
    long xregion;   /* scratch per image: input planes, later dL/dx planes ... */
    long qregion;   /* ... then output planes, or dL/dy planes */
} TileGeom;

/* KERNEL_FLAT (emit/flat.c): each image's padded input, then its output
 * (or dL/dy) on rows of width WP, in m->flat. */
typedef struct {
    long plane_q;   /* an output plane on rows of width WP: OH*WP */
    long margin;    /* stride 1: zeros before dL/dy, so that dX can gather */
    long bstride;   /* backward: floats per filter in the row buffer */
} FlatGeom;

/* KERNEL_COLS and KERNEL_BLAS: the columns of gmax images side by side. */
typedef struct {
    long gmax;      /* images per group */
    long k4, f4;    /* cols: rows of columns and filters, rounded up to 4 */
    long ngmax;     /* cols: a group's columns, rounded up to 24 */
} ColsGeom;

typedef struct {
    KernelKind kernel;
    ConvGeom g;             /* conv, deconv, fc; zero for other kinds */
    union {
        TileGeom tile;
        FlatGeom flat;
        ColsGeom cols;
        cnn_conv3d conv3d;      /* geometry and buffer sizes from cnn_conv3d_init */
        cnn_deconv3d deconv3d;  /* from cnn_deconv3d_init */
        cnn_pool3d pool3d;      /* a volume's pool, from cnn_pool3d_init */
    } k;
    const char *refused;    /* why the emitter cannot run this layer yet, or NULL */                    /* the kernel's own numbers */
    long scratch;           /* floats of m->flat per image */
    long col;               /* floats of m->col, whatever the batch */
    long task;              /* floats of m->task per thread (volumes) */
} LayerLowering;

typedef struct {
    LayerLowering *layers;  /* one per node; node 0 (the input) is KERNEL_NONE */
    long scratch, col, task;   /* the largest of the layers' */
} Lowered;

/* The kernel and geometry of every node of a checked net.  blas: compiled
 * with --blas, which still leaves the layers BLAS is measured to lose on
 * to the default kernel (see blas_pays in lower.c). */
void lower_net(const Net *net, bool blas, Lowered *out);
void lower_free(Lowered *low);

/* The floats of m->col a batch of `batch` images uses: the columns of
 * KERNEL_COLS and KERNEL_BLAS take groups of min(gmax, batch) images, so
 * below gmax only part of low->col (sized for gmax) is ever touched. */
long lower_col_at(const Net *net, const Lowered *low, long batch);

/* The kernel's name in the report: "tile", "cols", ...; NULL for KERNEL_NONE. */
const char *lower_kernel_name(KernelKind k);

#endif
