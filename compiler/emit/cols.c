/* emit/cols.c - convolution as a matrix product over im2col columns, run
 * by the runtime's kernels (runtime/kernels.c): the kernel of strided
 * convolutions without groups, and of stride-1 ones whose planes are too
 * small for direct tiles (lower.c chooses).
 *
 * The columns of up to GMAX images sit side by side (the runtime's im2col
 * with a row stride), so that a 2x2 output plane still fills 24-wide
 * tiles; one group of images at a time goes through m->col.  Forward is
 * Y = W X, backward dL/dW += dY X^T and dL/dx = col2im(W^T dY).  The
 * products are blocked (the kernels' matmul_tiles, dw_cols) so that the slice of X a
 * task works on stays in cache while it runs through its filters. */
#include "emitter.h"

static long round_up(long v, long m)
{
    return (v + m - 1) / m * m;
}

/* The loop over groups of images, and this group's columns in m->col. */
static void open_groups(Emitter *E, const ConvGeom *g, const ColsGeom *cg)
{
    emit_open_block(E, "for (int i0 = 0; i0 < n; i0 += %ld)", cg->gmax);
    emit_out(E, "const int gi = n - i0 < %ld ? n - i0 : %ld;   /* images in this group */", cg->gmax, cg->gmax);
    emit_out(E, "const long used = (long)gi * %ld, ng = (used + 23) / 24 * 24;", g->ohw);
    emit_out(E, "float *cols = m->col;   /* %ld rows of ng columns, then %ld of y */", cg->k4, cg->f4);
    emit_out(E, "float *yq = m->col + %ld * ng;", cg->k4);
    emit_out(E, "const cnn_kernels *kernels = cnn_kernels_best();");
}

/* The group's input columns: im2col of each image, zeros after them. */
static void emit_columns(Emitter *E, const ConvGeom *g, const ColsGeom *cg, bool with_dy)
{
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (int j = 0; j < gi; j++)");
    emit_out(E, "cnn_conv_geom gj = g;");
    emit_out(E, "gj.ld = (int)ng;");
    emit_out(E, "cnn_im2col(x + (size_t)(i0 + j) * %ld, &gj, cols + j * %ld);", g->in_size, g->ohw);
    if (with_dy) {
        emit_out(E, "for (long f = 0; f < %ld; f++)", g->f);
        emit_out(E, "    memcpy(yq + f * ng + j * %ld, dy + (size_t)(i0 + j) * %ld + f * %ld, sizeof(float) * %ld);",
            g->ohw, g->out_size, g->ohw, g->ohw);
    }
    emit_close_block(E);
    emit_out(E, "for (long r = 0; r < %ld; r++)", g->k);
    emit_out(E, "    memset(cols + r * ng + used, 0, sizeof(float) * (size_t)(ng - used));");
    if (with_dy) {
        emit_out(E, "for (long f = 0; f < %ld; f++)", cg->f4);
        emit_out(E, "    memset(yq + f * ng + (f < %ld ? used : 0), 0, sizeof(float) * (size_t)(f < %ld ? ng - used : ng));",
            g->f, g->f);
    }
}

/* y (nf rows, ng apart) = the product, in tasks of 4 tiles x half the rows. */
static void emit_matmul(Emitter *E, const char *x, long nk, long wj, long wc, long nf, const char *y)
{
    long nf4 = round_up(nf, 4), half = round_up(nf4 / 2, 4);
    emit_out(E, "PARALLEL_FOR2");
    emit_out(E, "for (long tb = 0; tb < ng / 96 + (ng %% 96 != 0); tb++)");
    emit_out(E, "    for (int h = 0; h < 2; h++)");
    emit_out(E, "        kernels->matmul_tiles(%s, ng, %ld, w, %ld, %ld, %ld, h ? %ld : 0, h ? %ld : %ld, tb * 4,",
        x, nk, wj, wc, nf, half, nf4, half);
    emit_out(E, "                              tb * 4 + 4 < ng / 24 ? tb * 4 + 4 : ng / 24, %s);", y);
}

void emit_cols_conv_forward(Emitter *E, const LayerPlan *lp)
{
    const Node *n = lp->node;
    const ConvGeom g = lp->low->g;
    const ColsGeom cg = lp->low->k.cols;
    emit_conv_geom(E, &g);
    emit_weighted_forward_head(E, lp);
    open_groups(E, &g, &cg);
    emit_columns(E, &g, &cg, false);
    emit_matmul(E, "cols", g.k, g.k, 1, g.f, "yq");
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (int j = 0; j < gi; j++)");
    emit_open_block(E, "for (long f = 0; f < %ld; f++)", g.f);
    emit_out(E, "float *yf = y + (size_t)(i0 + j) * %ld + f * %ld;", g.out_size, g.ohw);
    emit_out(E, "for (long p = 0; p < %ld; p++)", g.ohw);
    emit_out(E, "    yf[p] = yq[f * ng + j * %ld + p]%s;", g.ohw, lp->b_off >= 0 ? " + b[f]" : "");
    char count[32];
    snprintf(count, sizeof count, "%ld", g.ohw);
    if (n->act != ACT_SOFTMAX)
        emit_act_forward(E, n, "yf", count);
    emit_close_block(E);
    emit_close_block(E);
    emit_close_block(E);
    if (n->act == ACT_SOFTMAX)
        emit_softmax_forward(E, "y", g.f, g.ohw);
}

void emit_cols_conv_backward(Emitter *E, const LayerPlan *lp)
{
    const ConvGeom g = lp->low->g;
    const ColsGeom cg = lp->low->k.cols;
    long half = round_up(cg.f4 / 2, 4);
    emit_conv_geom(E, &g);
    emit_weighted_backward_head(E, lp);
    open_groups(E, &g, &cg);
    emit_out(E, "/* the columns, and dL/dy in yq */");
    emit_columns(E, &g, &cg, true);
    emit_out(E, "PARALLEL_FOR");
    emit_out(E, "for (int h = 0; h < 2; h++)");
    emit_out(E, "    kernels->dw_cols(yq, cols, ng, %ld, %ld, h ? %ld : 0, h ? %ld : %ld, dw);", g.k, g.f, half, cg.f4, half);
    if (lp->b_off >= 0) {
        emit_out(E, "float *db = m->grads + %s;", lp->b_name);
        emit_open_block(E, "for (long f = 0; f < %ld; f++)", g.f);
        emit_out(E, "float sum = 0.0f;");
        emit_out(E, "for (long q = 0; q < used; q++)");
        emit_out(E, "    sum += yq[f * ng + q];");
        emit_out(E, "db[f] += sum;");
        emit_close_block(E);
    }
    emit_out(E, "if (!dx)");
    emit_out(E, "    continue;");
    emit_out(E, "/* dL/dx: the columns W^T dL/dy, over the input columns (used) */");
    emit_matmul(E, "yq", g.f, 1, g.k, g.k, "cols");
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (int j = 0; j < gi; j++)");
    emit_out(E, "cnn_conv_geom gj = g;");
    emit_out(E, "gj.ld = (int)ng;");
    emit_out(E, "cnn_col2im_add(cols + j * %ld, &gj, dx + (size_t)(i0 + j) * %ld);", g.ohw, g.in_size);
    emit_close_block(E);
    emit_close_block(E);
}
