/* lower.c - each layer's kernel and its geometry (lower.h).
 *
 * The kernels are tried in order of speed as measured: register-tiled
 * direct convolution (tile), then im2col products (cols), then flattened
 * rows (flat), then row by row (row), the one that takes every conv. */
#include "lower.h"

#include <stdlib.h>
#include <string.h>

#include "cnnrt_net.h"
#include "util.h"

#define TILE_Q CNN_TILE_Q               /* positions per tile */
#define PACK_MOST CNN_TILE_PACK_MOST    /* floats of a packed channel */
#define COLS_TARGET 1024                /* columns per group of images */

static long round_up(long v, long m)
{
    return (v + m - 1) / m * m;
}

static long max2(long a, long b)
{
    return a > b ? a : b;
}

static ConvGeom conv_geom(const Node *n)
{
    ConvGeom g;
    memset(&g, 0, sizeof g);
    g.c = (long)n->in_shape.c;
    g.h = (long)n->in_shape.h;
    g.w = (long)n->in_shape.w;
    g.hw = g.h * g.w;
    g.in_size = g.c * g.hw * (long)n->in_shape.d;   /* fc: C*D*H*W inputs */
    g.f = (long)n->filters;
    g.oh = (long)n->out.h;
    g.ow = (long)n->out.w;
    g.ohw = g.oh * g.ow;
    g.out_size = (long)n->out_elems;
    if (n->op == OP_FC)
        return g;
    g.groups = (long)n->groups;
    g.cg = g.c / g.groups;
    g.fg = g.f / g.groups;
    g.kh = (long)n->kh;
    g.kw = (long)n->kw;
    g.taps = g.kh * g.kw;
    g.k = g.cg * g.taps;
    g.sh = (long)n->sh;
    g.sw = (long)n->sw;
    g.dh = (long)n->dh;
    g.dw = (long)n->dw;
    g.pt = (long)n->pad_t;
    g.pl = (long)n->pad_l;
    g.hp = g.h + g.pt + (long)n->pad_b;
    g.wp = g.w + g.pl + (long)n->pad_r;
    g.plane = g.hp * g.wp;
    g.padded = g.hp != g.h || g.wp != g.w;
    g.nq = (g.oh - 1) * g.wp + g.ow;
    g.span = (g.kh - 1) * g.dh * g.wp + (g.kw - 1) * g.dw;
    return g;
}

static TileGeom tile_geom(const ConvGeom *g)
{
    TileGeom t;
    t.nq24 = round_up(g->nq, TILE_Q);
    t.np24 = round_up(g->plane, TILE_Q);
    t.f4 = round_up(g->f, 4);
    t.c4 = round_up(g->c, 4);
    t.xslack = max2(0, t.nq24 + g->span - g->plane);
    t.bstride = g->span + t.np24;
    t.xregion = max2(g->c * g->plane + t.xslack, t.c4 * t.np24);
    t.qregion = max2(t.f4 * t.nq24, t.f4 * t.bstride);
    return t;
}

/* Direct tiles compute the positions of rows of width WP, 24 at a time,
 * of which only OH*OW are outputs (16 of 24 for a 4x4 plane): they waste
 * (nq24 - P) / P of the work.  The column kernels waste none, but copy
 * K*P values per image for F*K*P multiply-adds: measured, about 20/F of
 * the work.  Direct tiles are the default for stride 1 without groups
 * unless they lose, or the kernel is too large for a tile's packed rows:
 * KH rows of the 24 positions and the KW-1 dilated columns beyond them. */
static bool tile_pays(const Node *n, const ConvGeom *g)
{
    if (n->op != OP_CONV || g->sh != 1 || g->sw != 1 || g->groups != 1)
        return false;
    long p = g->ohw, nq24 = round_up(g->nq, TILE_Q);
    return g->kh * (TILE_Q + (g->kw - 1) * g->dw) <= PACK_MOST && 20 * p >= g->f * (nq24 - p);
}

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

static bool blas_pays(const Node *n, const ConvGeom *g)
{
    if (n->op == OP_FC)
        return g->f >= BLAS_MIN_ROWS && g->in_size >= BLAS_MIN_DEPTH;
    return !tile_pays(n, g) && g->fg >= BLAS_MIN_ROWS && g->k >= BLAS_MIN_DEPTH;
}

static KernelKind choose(const Node *n, const ConvGeom *g, bool blas)
{
    if (n->in_shape.volume && n->op != OP_FC)
        return n->op == OP_CONV ? KERNEL_CONV3D : n->op == OP_DECONV ? KERNEL_DECONV3D : KERNEL_NONE;
    switch (n->op) {
    case OP_CONV:
        if (blas && blas_pays(n, g))
            return KERNEL_BLAS;
        if (tile_pays(n, g))
            return KERNEL_TILE;
        if (g->groups == 1)
            return KERNEL_COLS;
        return g->sh == g->sw ? KERNEL_FLAT : KERNEL_ROW;
    case OP_DECONV: return KERNEL_DECONV;
    case OP_FC: return blas && blas_pays(n, g) ? KERNEL_BLAS : KERNEL_FC;
    default: return KERNEL_NONE;
    }
}

/* The fields cnn_conv3d and cnn_deconv3d share, from node n (the pads
 * those of the front, top and left: the runtime's are the same on both
 * sides, which size_conv3d checks). */
#define VOLUME_GEOMETRY(n)                                                                                    \
    .c = (int)(n)->in_shape.c, .d = (int)(n)->in_shape.d, .h = (int)(n)->in_shape.h, .w = (int)(n)->in_shape.w, \
    .f = (int)(n)->filters, .kd = (int)(n)->kd, .kh = (int)(n)->kh, .kw = (int)(n)->kw, .sd = (int)(n)->sd,     \
    .sh = (int)(n)->sh, .sw = (int)(n)->sw, .pd = (int)(n)->pad_f, .ph = (int)(n)->pad_t,                       \
    .pw = (int)(n)->pad_l, .dd = (int)(n)->dd, .dh = (int)(n)->dh, .dw = (int)(n)->dw

/* A volume's convolution: the runtime's geometry, whose init says the
 * sizes of its buffers.  Per item in m->flat: the padded input and the
 * laid out dL/dy; per thread in m->task: a task's scratch (the threads
 * split each item's depths, emit/vol.c); the packed weights in m->col.
 * The checker has made the geometry valid. */
static void size_conv3d(const Node *n, LayerLowering *l)
{
    cnn_conv3d *g = &l->k.conv3d;
    *g = (cnn_conv3d){VOLUME_GEOMETRY(n)};
    if (n->groups != 1) {
        l->refused = "grouped convolution";
        return;
    }
    if (cnn_conv3d_init(g) || g->od != n->out.d || g->oh != n->out.h || g->ow != n->out.w) {
        l->refused = "padding that differs between the sides of an axis";
        return;
    }
    l->scratch = g->xpad_floats + g->dy_floats;
    l->task = g->task_floats;
    l->col = g->wpack_floats;
}

static void size_deconv3d(const Node *n, LayerLowering *l)
{
    cnn_deconv3d *g = &l->k.deconv3d;
    *g = (cnn_deconv3d){VOLUME_GEOMETRY(n)};
    if (n->groups != 1) {
        l->refused = "grouped deconvolution";
        return;
    }
    if (cnn_deconv3d_init(g) || g->od != n->out.d || g->oh != n->out.h || g->ow != n->out.w) {
        l->refused = "padding that differs between the sides of an axis";
        return;
    }
    l->scratch = g->xp_floats + g->dyp_floats;
    l->task = g->task_floats;
    l->col = g->wpack_floats;
}

/* A volume's pool: the runtime's geometry.  `fit ceil`'s extra positions
 * are the checker's ceil_* of the padding after the input. */
static void size_pool3d(const Node *n, LayerLowering *l)
{
    cnn_pool3d *g = &l->k.pool3d;
    Shape in = n->in_shape;
    *g = (cnn_pool3d){.c = (int)in.c, .size = {(int)in.d, (int)in.h, (int)in.w}, .count_pad = n->countpad};
    for (int a = 0; a < 3; a++)
        g->k[a] = g->size[a], g->s[a] = 1;
    if (!n->global) {
        int64_t k[3] = {n->kd, n->kh, n->kw}, s[3] = {n->sd, n->sh, n->sw};
        int64_t pad[3] = {n->pad_f, n->pad_t, n->pad_l}, end[3] = {n->pad_k, n->pad_b, n->pad_r};
        int64_t extra[3] = {n->ceil_k, n->ceil_b, n->ceil_r};
        for (int a = 0; a < 3; a++) {
            g->k[a] = (int)k[a];
            g->s[a] = (int)s[a];
            g->pad[a] = (int)pad[a];
            g->pad_end[a] = (int)(end[a] - extra[a]);
            g->extra[a] = (int)extra[a];
        }
    }
    if (cnn_pool3d_init(g) || g->out[0] != n->out.d || g->out[1] != n->out.h || g->out[2] != n->out.w)
        l->refused = "this pooling geometry";
}

/* The kernel's own numbers, and the scratch it needs. */
static void size_kernel(const Node *n, LayerLowering *l)
{
    const ConvGeom *g = &l->g;
    switch (l->kernel) {
    case KERNEL_CONV3D:
        size_conv3d(n, l);
        break;
    case KERNEL_DECONV3D:
        size_deconv3d(n, l);
        break;
    case KERNEL_TILE:
        l->k.tile = tile_geom(g);
        l->scratch = l->k.tile.xregion + l->k.tile.qregion;
        break;
    case KERNEL_FLAT:
        l->k.flat.plane_q = g->oh * g->wp;
        l->k.flat.margin = g->sh == 1 ? g->span : 0;
        l->k.flat.bstride = g->sh == 1 ? g->span + g->plane : l->k.flat.plane_q;
        l->scratch = g->c * g->plane + g->f * max2(l->k.flat.bstride, l->k.flat.plane_q);
        break;
    case KERNEL_COLS:
        /* Columns of several images side by side, so that a 2x2 output
         * plane still fills 24-wide tiles. */
        l->k.cols.gmax = g->ohw >= COLS_TARGET ? 1 : COLS_TARGET / g->ohw;
        l->k.cols.k4 = round_up(g->k, 4);
        l->k.cols.f4 = round_up(g->f, 4);
        l->k.cols.ngmax = round_up(l->k.cols.gmax * g->ohw, TILE_Q);
        l->col = (l->k.cols.k4 + l->k.cols.f4) * l->k.cols.ngmax;
        break;
    case KERNEL_BLAS:
        if (g->groups == 0)   /* fc: the product runs on the images as they are */
            break;
        l->k.cols.gmax = g->ohw >= COLS_TARGET ? 1 : COLS_TARGET / g->ohw;
        l->col = (g->k + g->fg) * l->k.cols.gmax * g->ohw;   /* a group's columns, then its outputs */
        break;
    default:
        break;
    }
}

void lower_net(const Net *net, bool blas, Lowered *out)
{
    out->layers = xcalloc((size_t)net->nnodes, sizeof *out->layers);
    out->scratch = out->col = out->task = 0;
    for (int i = 1; i < net->nnodes; i++) {
        const Node *n = net->nodes[i];
        LayerLowering *l = &out->layers[i];
        /* A volume's conv and deconv have no 2-D geometry: the runtime's
         * (size_kernel). */
        bool planar = !n->in_shape.volume || n->op == OP_FC;
        if (planar && (n->op == OP_CONV || n->op == OP_DECONV || n->op == OP_FC))
            l->g = conv_geom(n);
        l->kernel = choose(n, &l->g, blas);
        size_kernel(n, l);
        if (n->op == OP_POOL && n->in_shape.volume)
            size_pool3d(n, l);
        out->scratch = max2(out->scratch, l->scratch);
        out->col = max2(out->col, l->col);
        out->task = max2(out->task, l->task);
    }
}

/* A layer's share of m->col at a batch: emit/cols.c and emit/blas.c lay
 * out the rows of columns of a group of images, then its output rows. */
static long col_at(const LayerLowering *l, long batch)
{
    const ConvGeom *g = &l->g;
    bool grouped = l->kernel == KERNEL_COLS || (l->kernel == KERNEL_BLAS && g->groups != 0);
    if (!grouped)
        return l->col;   /* packed weights, whatever the batch */
    long images = batch < l->k.cols.gmax ? batch : l->k.cols.gmax;
    if (l->kernel == KERNEL_COLS)
        return (l->k.cols.k4 + l->k.cols.f4) * round_up(images * g->ohw, TILE_Q);
    return (g->k + g->fg) * images * g->ohw;
}

long lower_col_at(const Net *net, const Lowered *low, long batch)
{
    long most = 0;
    for (int i = 1; i < net->nnodes; i++)
        most = max2(most, col_at(&low->layers[i], batch));
    return most;
}

void lower_free(Lowered *low)
{
    free(low->layers);
    low->layers = NULL;
}

const char *lower_kernel_name(KernelKind k)
{
    static const char *const names[] = {NULL, "tile", "cols", "flat", "row", "deconv", "fc", "blas",
                                        "conv3d", "deconv3d"};
    return names[k];
}
