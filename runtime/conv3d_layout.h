/* conv3d_layout.h - the sizes runtime/conv3d.c derives from a 3-D
 * convolution's geometry, shared by conv3d.c and geom3d.c (which sets a
 * geometry's buffer sizes from them).  Internal to the runtime. */
#ifndef CNNRT_CONV3D_LAYOUT_H
#define CNNRT_CONV3D_LAYOUT_H

#include "cnnrt.h"

/* Sizes derived from the geometry. */
typedef struct {
    long taps;                    /* KH*KW */
    long dp, hp, wp, plane;       /* the padded input, forward */
    long nq, nq24, span, xslack;
    int yvec;                     /* forward tiles on the output rows in
                                     groups of 8 (conv3d.c's pass_by_rows),
                                     not on whole padded rows WP wide */
    long ad, ah, aw, dq, hq, wq, qplane;   /* dL/dy padded for dL/dx */
    long nqx, nqx24, spanx, dslack;
    int xvec;                     /* dL/dx's tiles, as yvec */
    long k, gd, ng;               /* columns: rows C*KD*KH*KW, output depths
                                     side by side, width (24s) */
    long ow8, nqw;                /* dL/dW: dL/dy's rows OW8 wide (zeros past
                                     OW), OH of them per depth */
    long dwf;                     /* and the filters of its copy, 0 when it
                                     reads dL/dy itself */
    long rows_f;                  /* dL/dW by columns: dL/dy rows, F + 3 */
} Layout;

#define COLS_TARGET 192   /* columns: positions side by side, at least */

static inline long round_up(long v, long m)
{
    return (v + m - 1) / m * m;
}

static inline long max_of(long a, long b)
{
    return a > b ? a : b;
}

#define VEC_ROW_MOST 4096   /* widest rows the tiles take in groups of 8 */

/* Whether tiles take rows of w outputs in groups of 8: whole vectors of
 * 8 lanes, so that they skip the padding columns, and the depth taps
 * and kernel rows that read only padding; else they compute every
 * position of the padded rows. */
static inline int vec_rows(long w)
{
    return w % 8 == 0 && w <= VEC_ROW_MOST;
}

static inline Layout layout_of(const cnn_conv3d *g)
{
    Layout L;
    L.taps = (long)g->kh * g->kw;
    L.dp = g->d + 2L * g->pd;
    L.hp = g->h + 2L * g->ph;
    L.wp = g->w + 2L * g->pw;
    L.plane = L.hp * L.wp;
    L.nq = (g->oh - 1L) * L.wp + g->ow;
    L.span = (g->kh - 1L) * g->dh * L.wp + (g->kw - 1L) * g->dw;
    L.yvec = vec_rows(g->ow);
    L.nq24 = round_up(L.yvec ? (long)g->oh * g->ow : L.nq, CNN_TILE_Q);
    L.ow8 = round_up(g->ow, 8);
    L.nqw = g->oh * L.ow8;
    /* dw_rows reads 4 filters: dL/dy itself when it has 4 and whole
     * vectors per row, else a copy */
    L.dwf = g->ow % 8 == 0 && g->f >= 4 ? 0 : max_of(g->f, 4);
    /* what tiles on padded rows (nq24 positions) and dL/dW (a last row
     * OW8 wide) read past the last plane; tiles on groups of 8 read
     * inside the input */
    L.xslack = max_of(0, max_of(L.yvec ? 0 : L.nq24, L.nq - g->ow + L.ow8) + L.span - L.plane);
    L.ad = (g->kd - 1L) * g->dd - g->pd;
    L.ah = (g->kh - 1L) * g->dh - g->ph;
    L.aw = (g->kw - 1L) * g->dw - g->pw;
    L.dq = g->od + 2 * L.ad;
    L.hq = g->oh + 2 * L.ah;
    L.wq = g->ow + 2 * L.aw;
    L.qplane = L.hq * L.wq;
    L.nqx = (g->h - 1L) * L.wq + g->w;
    L.spanx = (g->kh - 1L) * g->dh * L.wq + (g->kw - 1L) * g->dw;
    L.xvec = vec_rows(g->w);
    L.nqx24 = round_up(L.xvec ? (long)g->h * g->w : L.nqx, CNN_TILE_Q);
    L.dslack = L.xvec ? 0 : max_of(0, L.nqx24 + L.spanx - L.qplane);
    L.k = (long)g->c * g->kd * L.taps;
    /* Small planes go a few depths at a time: the tiles and dw_cols'
     * sums want rows of a few tiles, not one tile two thirds empty. */
    L.gd = COLS_TARGET / ((long)g->oh * g->ow);
    L.gd = L.gd < 1 ? 1 : L.gd > g->od ? g->od : L.gd;
    L.ng = round_up(L.gd * g->oh * g->ow, CNN_TILE_Q);
    L.rows_f = g->f + 3L;
    return L;
}

#endif
