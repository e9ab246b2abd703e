/* emit/blas.c - conv and fc as matrix products through cblas_sgemm, for
 * the layers `cnnc --blas` gives BLAS (blas_pays in lower.c).
 *
 * As in emit/cols.c, the im2col columns of up to gmax images sit side by
 * side in m->col, so that one product covers several small images.  Each
 * product is cut into tasks that OpenMP's threads run at once, each a
 * cblas_sgemm of its own: the BLAS library runs single-threaded inside
 * them (blas_serial_begin in the generated prologue), so that its threads
 * and OpenMP's do not compete for the cores.  Forward is Y = W X (tasks:
 * half the filters x 256 columns), backward dL/dW += dY X^T and the
 * columns of dL/dx, W^T dY (tasks: a quarter of the k rows each), then
 * col2im. */
#include "emitter.h"

#define BLAS_SLICE 256     /* columns of one product a thread takes at a time */

static long round16(long v)
{
    return (v + 15) / 16 * 16;
}

/* Image i0 + j's offset in a buffer of `image` floats per image, plus grp
 * planes of `plane` floats when the conv has groups (grp) and f planes of
 * `f_plane` ones; folded. */
static char *image_group(char buf[static 128], const ConvGeom *d, long image, long plane, long f_plane)
{
    Term t[] = {{image, "(size_t)(i0 + j)"}, {d->groups > 1 ? plane : 0, "grp"}, {f_plane, "f"}};
    return emit_linear(buf, 128, 3, t);
}

/* The loops over groups of images and over the conv's groups; cols and yq
 * in m->col, ng columns each. */
static void open_groups(Emitter *E, const ConvGeom *d, long gmax)
{
    emit_open_block(E, "for (int i0 = 0; i0 < n; i0 += %ld)", gmax);
    emit_out(E, "const int gi = n - i0 < %ld ? n - i0 : %ld;   /* images in this group */", gmax, gmax);
    emit_out(E, "const long ng = (long)gi * %ld;", d->ohw);
    emit_out(E, "float *cols = m->col, *yq = m->col + %ld * ng;", d->k);
    if (emit_loop(E, "long", "grp", d->groups))
        emit_out(E, "const float *wg = w + grp * %ld;", d->fg * d->k);
    else
        emit_out(E, "const float *wg = w;");
}

/* The loops open_groups opened. */
static void close_groups(Emitter *E, const ConvGeom *d)
{
    emit_end_loop(E, d->groups > 1);
    emit_close_block(E);
}

/* The group's columns, and with_dy its dL/dy as fg rows of ng in yq. */
static void emit_columns(Emitter *E, const ConvGeom *d, bool with_dy)
{
    char at[128];
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (int j = 0; j < gi; j++)");
    emit_out(E, "cnn_conv_geom gj = g;");
    emit_out(E, "gj.ld = (int)ng;");
    emit_out(E, "cnn_im2col(x + %s, &gj, cols + j * %ld);", image_group(at, d, d->in_size, d->cg * d->hw, 0), d->ohw);
    if (with_dy) {
        emit_out(E, "for (long f = 0; f < %ld; f++)", d->fg);
        emit_out(E, "    memcpy(yq + f * ng + j * %ld, dy + %s, sizeof(float) * %ld);", d->ohw,
            image_group(at, d, d->out_size, d->fg * d->ohw, d->ohw), d->ohw);
    }
    emit_close_block(E);
}

/* A loop over four slices of the k rows of the columns: k0 and nk. */
static void open_k_slices(Emitter *E, const ConvGeom *d)
{
    long slice = round16((d->k + 3) / 4);
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (long k0 = 0; k0 < %ld; k0 += %ld)", d->k, slice);
    emit_out(E, "const int nk = (int)(%ld - k0 < %ld ? %ld - k0 : %ld);", d->k, slice, d->k, slice);
}

static void emit_conv_forward_blas(Emitter *E, const LayerPlan *lp)
{
    const Node *n = lp->node;
    const ConvGeom d = lp->low->g;
    emit_conv_geom(E, &d);
    emit_weighted_forward_head(E, lp);
    open_groups(E, &d, lp->low->k.cols.gmax);
    emit_columns(E, &d, false);
    long half = (d.fg / 2 + 3) / 4 * 4;
    emit_out(E, "/* Y = W cols: tasks of half the filters and %d columns */", BLAS_SLICE);
    emit_out(E, "PARALLEL_FOR2");
    emit_out(E, "for (int h = 0; h < 2; h++)");
    emit_open_block(E, "    for (long s0 = 0; s0 < ng; s0 += %d)", BLAS_SLICE);
    emit_out(E, "const int ns = (int)(ng - s0 < %d ? ng - s0 : %d);", BLAS_SLICE, BLAS_SLICE);
    emit_out(E, "const long f0 = h ? %ld : 0;", half);
    emit_out(E, "cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, h ? %ld : %ld, ns, %ld, 1.0f, wg + f0 * %ld, %ld,",
        d.fg - half, half, d.k, d.k, d.k);
    emit_out(E, "            cols + s0, (int)ng, 0.0f, yq + f0 * ng + s0, (int)ng);");
    emit_close_block(E);
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (int j = 0; j < gi; j++)");
    emit_open_block(E, "for (long f = 0; f < %ld; f++)", d.fg);
    char at[128];
    emit_out(E, "float *yf = y + %s;", image_group(at, &d, d.out_size, d.fg * d.ohw, d.ohw));
    emit_out(E, "for (long q = 0; q < %ld; q++)", d.ohw);
    if (lp->b_off >= 0)
        emit_out(E, "    yf[q] = yq[f * ng + j * %ld + q] + b[%s];", d.ohw, image_group(at, &d, 0, d.fg, 1));
    else
        emit_out(E, "    yf[q] = yq[f * ng + j * %ld + q];", d.ohw);
    char count[32];
    snprintf(count, sizeof count, "%ld", d.ohw);
    if (n->act != ACT_SOFTMAX)
        emit_act_forward(E, n, "yf", count);
    emit_close_block(E);
    emit_close_block(E);
    close_groups(E, &d);
    if (n->act == ACT_SOFTMAX)
        emit_softmax_forward(E, "y", d.f, d.ohw);
}

static void emit_conv_backward_blas(Emitter *E, const LayerPlan *lp)
{
    const ConvGeom d = lp->low->g;
    emit_conv_geom(E, &d);
    emit_weighted_backward_head(E, lp);
    open_groups(E, &d, lp->low->k.cols.gmax);
    emit_out(E, "/* the columns, and dL/dy in yq */");
    emit_columns(E, &d, true);
    emit_out(E, "/* dW += dY col^T, in slices of dW's columns */");
    open_k_slices(E, &d);
    emit_out(E, "cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, %ld, nk, (int)ng, 1.0f, yq, (int)ng, cols + k0 * ng,",
        d.fg);
    char at[128];
    Term dw[] = {{d.groups > 1 ? d.fg * d.k : 0, "grp"}, {1, "k0"}};
    emit_out(E, "            (int)ng, 1.0f, dw + %s, %ld);", emit_linear(at, sizeof at, 2, dw), d.k);
    emit_close_block(E);
    if (lp->b_off >= 0) {
        if (d.groups > 1)
            emit_out(E, "float *db = m->grads + %s + grp * %ld;", lp->b_name, d.fg);
        else
            emit_out(E, "float *db = m->grads + %s;", lp->b_name);
        emit_open_block(E, "for (long f = 0; f < %ld; f++)", d.fg);
        emit_out(E, "float sum = 0.0f;");
        emit_out(E, "for (long q = 0; q < ng; q++)");
        emit_out(E, "    sum += yq[f * ng + q];");
        emit_out(E, "db[f] += sum;");
        emit_close_block(E);
    }
    emit_out(E, "if (!dx)");
    emit_out(E, "    continue;");
    emit_out(E, "/* the columns of dL/dx, W^T dY, in slices of their rows */");
    open_k_slices(E, &d);
    emit_out(E, "cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nk, (int)ng, %ld, 1.0f, wg + k0, %ld, yq, (int)ng,",
        d.fg, d.k);
    emit_out(E, "            0.0f, cols + k0 * ng, (int)ng);");
    emit_close_block(E);
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (int j = 0; j < gi; j++)");
    emit_out(E, "cnn_conv_geom gj = g;");
    emit_out(E, "gj.ld = (int)ng;");
    emit_out(E, "cnn_col2im_add(cols + j * %ld, &gj, dx + %s);", d.ohw, image_group(at, &d, d.in_size, d.cg * d.hw, 0));
    emit_close_block(E);
    close_groups(E, &d);
}

/* A loop over slices of `total` (outputs or inputs of an fc): four tasks. */
static void open_fc_slices(Emitter *E, const char *v, long total)
{
    long slice = round16((total + 3) / 4);
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (long %s0 = 0; %s0 < %ld; %s0 += %ld)", v, v, total, v, slice);
    emit_out(E, "const int n%s = (int)(%ld - %s0 < %ld ? %ld - %s0 : %ld);", v, total, v, slice, total, v, slice);
}

static void emit_fc_forward_blas(Emitter *E, const LayerPlan *lp)
{
    const Node *n = lp->node;
    long in = lp->low->g.in_size, outs = lp->low->g.f;
    emit_weighted_forward_head(E, lp);
    emit_out(E, "/* Y = X W^T (+ b), in slices of Y's columns */");
    if (lp->b_off >= 0) {
        emit_out(E, "for (int i = 0; i < n; i++)");
        emit_out(E, "    memcpy(y + (size_t)i * %ld, b, sizeof(float) * %ld);", outs, outs);
    }
    open_fc_slices(E, "o", outs);
    emit_out(E, "cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, no, %ld, 1.0f, x, %ld, w + o0 * %ld, %ld, %s,",
        in, in, in, in, lp->b_off >= 0 ? "1.0f" : "0.0f");
    emit_out(E, "            y + o0, %ld);", outs);
    emit_close_block(E);
    char count[64];
    snprintf(count, sizeof count, "(long)n * %ld", outs);
    if (n->act == ACT_SOFTMAX)
        emit_softmax_forward(E, "y", outs, 1);
    else
        emit_act_forward(E, n, "y", count);
}

static void emit_fc_backward_blas(Emitter *E, const LayerPlan *lp)
{
    long in = lp->low->g.in_size, outs = lp->low->g.f;
    emit_weighted_backward_head(E, lp);
    emit_out(E, "/* dW += dY^T X, in slices of dW's rows */");
    open_fc_slices(E, "o", outs);
    emit_out(E, "cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, no, %ld, n, 1.0f, dy + o0, %ld, x, %ld, 1.0f,",
        in, outs, in);
    emit_out(E, "            dw + o0 * %ld, %ld);", in, in);
    emit_close_block(E);
    if (lp->b_off >= 0) {
        emit_out(E, "float *db = m->grads + %s;", lp->b_name);
        emit_out(E, "for (int i = 0; i < n; i++)");
        emit_out(E, "    for (long o = 0; o < %ld; o++) db[o] += dy[(size_t)i * %ld + o];", outs, outs);
    }
    emit_out(E, "if (!dx)");
    emit_out(E, "    return;");
    emit_out(E, "/* dX += dY W, in slices of dX's columns */");
    open_fc_slices(E, "c", in);
    emit_out(E, "cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, nc, %ld, 1.0f, dy, %ld, w + c0, %ld, 1.0f,",
        outs, outs, in);
    emit_out(E, "            dx + c0, %ld);", in);
    emit_close_block(E);
}

void emit_blas_forward(Emitter *E, const LayerPlan *lp)
{
    if (lp->node->op == OP_FC)
        emit_fc_forward_blas(E, lp);
    else
        emit_conv_forward_blas(E, lp);
}

void emit_blas_backward(Emitter *E, const LayerPlan *lp)
{
    if (lp->node->op == OP_FC)
        emit_fc_backward_blas(E, lp);
    else
        emit_conv_backward_blas(E, lp);
}
