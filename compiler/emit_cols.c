/* emit_cols.c - convolution as a matrix product over im2col columns, run
 * by emit_tile.c's micro-kernels: the default for strided convolutions
 * without groups, and for stride-1 ones whose planes are too small for
 * direct tiles.
 *
 * The columns of up to GMAX images sit side by side (the runtime's im2col
 * with a row stride), so that a 2x2 output plane still fills 24-wide
 * tiles; one group of images at a time goes through m->col.  Forward is
 * Y = W X, backward dL/dW += dY X^T and dL/dx = col2im(W^T dY).  The
 * products are blocked (matmul_tiles, dw_cols) so that the slice of X a
 * task works on stays in cache while it runs through its filters. */
#include "emitter.h"

#define COLS_TARGET 1024   /* columns per group of images */

typedef struct {
    long c, f, k, k4, f4, p, gmax, ngmax, in_size, out_size;
} Cols;

static long round_up(long v, long m)
{
    return (v + m - 1) / m * m;
}

static Cols cols_of(const Node *n)
{
    Cols g;
    g.c = (long)n->in_shape.c;
    g.f = (long)n->filters;
    g.k = g.c * (long)(n->kh * n->kw);
    g.k4 = round_up(g.k, 4);
    g.f4 = round_up(g.f, 4);
    g.p = (long)(n->out.h * n->out.w);
    g.gmax = g.p >= COLS_TARGET ? 1 : COLS_TARGET / g.p;
    g.ngmax = round_up(g.gmax * g.p, 24);
    g.in_size = g.c * (long)(n->in_shape.h * n->in_shape.w);
    g.out_size = g.f * g.p;
    return g;
}

bool cols_conv_ok(const Node *n)
{
    return n->op == OP_CONV && n->groups == 1;
}

long cols_conv_elems(const Node *n)
{
    if (!cols_conv_ok(n) || tile_conv_ok(n))
        return 0;
    Cols g = cols_of(n);
    return (g.k4 + g.f4) * g.ngmax;
}

void emit_cols_kernels(Emitter *E)
{
    out(E, "/* y[f][t * 24 ..] for filters [f0, f1) and tiles [t0, t1): the sum over");
    out(E, " * k < nk of w[f * wj + k * wc] * x[k * ld + ..], with f < nf real; rows");
    out(E, " * ld apart.  Each tile's 24 columns of 256 rows are first packed side by");
    out(E, " * side, so that they stay in L1 while every filter reads them (rows ld");
    out(E, " * apart would compete for the same cache sets). */");
    out(E, "static void matmul_tiles(const float *x, long ld, long nk, const float *w, long wj, long wc, long nf,");
    out(E, "                         long f0, long f1, long t0, long t1, float *y)");
    out(E, "{");
    E->indent++;
    out(E, "static const long zero[1] = {0};");
    out(E, "float pack[256 * 24];");
    open_block(E, "for (long k0 = 0; k0 < nk; k0 += 256)");
    out(E, "long kc = nk - k0 < 256 ? nk - k0 : 256;");
    open_block(E, "for (long t = t0; t < t1; t++)");
    out(E, "for (long k = 0; k < kc; k++)");
    out(E, "    memcpy(pack + k * 24, x + (k0 + k) * ld + t * 24, sizeof(float) * 24);");
    out(E, "for (long f = f0; f < f1; f += 4)");
    out(E, "    conv_tile(pack, 24, kc, zero, 1, w + f * wj + k0 * wc, wj, wc, nf - f < 4 ? (int)(nf - f) : 4,");
    out(E, "              y + f * ld + t * 24, ld, k0 > 0);");
    close_block(E);
    close_block(E);
    close_block(E);
    blank(E);
    if (!E->train)
        return;
    out(E, "/* dw[f][k] += the sum over ng columns of dq[f][.] * x[k][.], for filters");
    out(E, " * [f0, f1) of nf; rows ng apart.  Blocks of 63 rows x 1024 columns. */");
    out(E, "static void dw_cols(const float *dq, const float *x, long ng, long nk, long nf, long f0, long f1,");
    out(E, "                    float *dw)");
    out(E, "{");
    E->indent++;
    open_block(E, "for (long c0 = 0; c0 < ng; c0 += 1024)");
    out(E, "long nv = (ng - c0 < 1024 ? ng - c0 : 1024) / 8;");
    out(E, "for (long k0 = 0; k0 < nk; k0 += 63)");
    out(E, "    for (long f = f0; f < f1; f += 4)");
    open_block(E, "        for (long k = k0; k < k0 + 63 && k < nk; k += 3)");
    out(E, "const long k1 = k + 1 < nk ? k + 1 : k, k2 = k + 2 < nk ? k + 2 : k1;");
    out(E, "float s[12] = {0};");
    out(E, "dw_tile(dq + f * ng + c0, ng, x + k * ng + c0, x + k1 * ng + c0, x + k2 * ng + c0, nv, 1, 0, s);");
    out(E, "for (long j = 0; j < 4 && f + j < nf; j++)");
    out(E, "    for (long u = 0; u < 3 && k + u < nk; u++)");
    out(E, "        dw[(f + j) * nk + k + u] += s[j * 3 + u];");
    close_block(E);
    close_block(E);
    close_block(E);
    blank(E);
}

/* The loop over groups of images, and this group's columns in m->col. */
static void open_groups(Emitter *E, const Cols *g)
{
    open_block(E, "for (int i0 = 0; i0 < n; i0 += %ld)", g->gmax);
    out(E, "const int gi = n - i0 < %ld ? n - i0 : %ld;   /* images in this group */", g->gmax, g->gmax);
    out(E, "const long used = (long)gi * %ld, ng = (used + 23) / 24 * 24;", g->p);
    out(E, "float *cols = m->col;   /* %ld rows of ng columns, then %ld of y */", g->k4, g->f4);
    out(E, "float *yq = m->col + %ld * ng;", g->k4);
}

/* The group's input columns: im2col of each image, zeros after them. */
static void emit_columns(Emitter *E, const Cols *g, bool with_dy)
{
    out(E, "PARALLEL_FOR");
    open_block(E, "for (int j = 0; j < gi; j++)");
    out(E, "cnn_conv_geom gj = g;");
    out(E, "gj.ld = (int)ng;");
    out(E, "cnn_im2col(x + (size_t)(i0 + j) * %ld, &gj, cols + j * %ld);", g->in_size, g->p);
    if (with_dy) {
        out(E, "for (long f = 0; f < %ld; f++)", g->f);
        out(E, "    memcpy(yq + f * ng + j * %ld, dy + (size_t)(i0 + j) * %ld + f * %ld, sizeof(float) * %ld);",
            g->p, g->out_size, g->p, g->p);
    }
    close_block(E);
    out(E, "for (long r = 0; r < %ld; r++)", g->k);
    out(E, "    memset(cols + r * ng + used, 0, sizeof(float) * (size_t)(ng - used));");
    if (with_dy) {
        out(E, "for (long f = 0; f < %ld; f++)", g->f4);
        out(E, "    memset(yq + f * ng + (f < %ld ? used : 0), 0, sizeof(float) * (size_t)(f < %ld ? ng - used : ng));",
            g->f, g->f);
    }
}

/* y (nf rows, ng apart) = the product, in tasks of 4 tiles x half the rows. */
static void emit_matmul(Emitter *E, const char *x, long nk, long wj, long wc, long nf, const char *y)
{
    long nf4 = round_up(nf, 4), half = round_up(nf4 / 2, 4);
    out(E, "PARALLEL_FOR2");
    out(E, "for (long tb = 0; tb < ng / 96 + (ng %% 96 != 0); tb++)");
    out(E, "    for (int h = 0; h < 2; h++)");
    out(E, "        matmul_tiles(%s, ng, %ld, w, %ld, %ld, %ld, h ? %ld : 0, h ? %ld : %ld, tb * 4,", x, nk, wj, wc, nf,
        half, nf4, half);
    out(E, "                     tb * 4 + 4 < ng / 24 ? tb * 4 + 4 : ng / 24, %s);", y);
}

void emit_cols_conv_forward(Emitter *E, const LayerPlan *lp)
{
    const Node *n = lp->node;
    Cols g = cols_of(n);
    emit_conv_geom(E, n);
    emit_weighted_forward_head(E, lp);
    open_groups(E, &g);
    emit_columns(E, &g, false);
    emit_matmul(E, "cols", g.k, g.k, 1, g.f, "yq");
    out(E, "PARALLEL_FOR");
    open_block(E, "for (int j = 0; j < gi; j++)");
    open_block(E, "for (long f = 0; f < %ld; f++)", g.f);
    out(E, "float *yf = y + (size_t)(i0 + j) * %ld + f * %ld;", g.out_size, g.p);
    out(E, "for (long p = 0; p < %ld; p++)", g.p);
    out(E, "    yf[p] = yq[f * ng + j * %ld + p]%s;", g.p, lp->b_off >= 0 ? " + b[f]" : "");
    char count[32];
    snprintf(count, sizeof count, "%ld", g.p);
    if (n->act != ACT_SOFTMAX)
        emit_act_forward(E, n->act, n->act_alpha, "yf", count);
    close_block(E);
    close_block(E);
    close_block(E);
    if (n->act == ACT_SOFTMAX)
        emit_softmax_forward(E, "y", g.f, g.p);
}

void emit_cols_conv_backward(Emitter *E, const LayerPlan *lp)
{
    const Node *n = lp->node;
    Cols g = cols_of(n);
    long half = round_up(g.f4 / 2, 4);
    emit_conv_geom(E, n);
    emit_weighted_backward_head(E, lp);
    open_groups(E, &g);
    out(E, "/* the columns, and dL/dy in yq */");
    emit_columns(E, &g, true);
    out(E, "PARALLEL_FOR");
    out(E, "for (int h = 0; h < 2; h++)");
    out(E, "    dw_cols(yq, cols, ng, %ld, %ld, h ? %ld : 0, h ? %ld : %ld, dw);", g.k, g.f, half, g.f4, half);
    if (lp->b_off >= 0) {
        out(E, "float *db = m->grads + %ld;", lp->b_off);
        open_block(E, "for (long f = 0; f < %ld; f++)", g.f);
        out(E, "float sum = 0.0f;");
        out(E, "for (long q = 0; q < used; q++)");
        out(E, "    sum += yq[f * ng + q];");
        out(E, "db[f] += sum;");
        close_block(E);
    }
    out(E, "if (!dx)");
    out(E, "    continue;");
    out(E, "/* dL/dx: the columns W^T dL/dy, over the input columns (used) */");
    emit_matmul(E, "yq", g.f, 1, g.k, g.k, "cols");
    out(E, "PARALLEL_FOR");
    open_block(E, "for (int j = 0; j < gi; j++)");
    out(E, "cnn_conv_geom gj = g;");
    out(E, "gj.ld = (int)ng;");
    out(E, "cnn_col2im_add(cols + j * %ld, &gj, dx + (size_t)(i0 + j) * %ld);", g.p, g.in_size);
    close_block(E);
    close_block(E);
}
