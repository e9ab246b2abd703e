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

#define BLAS_COLS 1024     /* columns per group of images */
#define BLAS_SLICE 256     /* columns of one product a thread takes at a time */

typedef struct {
    long cg, fg, k, p, hw, gmax, in_size, out_size, groups;
} Mat;

static long round16(long v)
{
    return (v + 15) / 16 * 16;
}

static Mat mat_of(const Node *n)
{
    Mat d;
    d.groups = (long)n->groups;
    d.cg = (long)n->in_shape.c / d.groups;
    d.fg = (long)n->filters / d.groups;
    d.k = d.cg * (long)(n->kh * n->kw);
    d.hw = (long)(n->in_shape.h * n->in_shape.w);
    d.p = (long)(n->out.h * n->out.w);
    d.gmax = d.p >= BLAS_COLS ? 1 : BLAS_COLS / d.p;
    d.in_size = d.cg * d.groups * d.hw;
    d.out_size = (long)n->filters * d.p;
    return d;
}

/* m->col: a group's columns (k rows) and its outputs or dL/dy (fg rows). */
long blas_col_elems(const Node *n)
{
    if (n->op != OP_CONV)
        return 0;
    Mat d = mat_of(n);
    return (d.k + d.fg) * d.gmax * d.p;
}

void emit_conv_geom(Emitter *E, const Node *n)
{
    emit_out(E, "static const cnn_conv_geom g = {%lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, "
           "%lld, %lld, 0};",
        (long long)(n->in_shape.c / n->groups), (long long)n->in_shape.h, (long long)n->in_shape.w,
        (long long)n->kh, (long long)n->kw, (long long)n->sh, (long long)n->sw, (long long)n->dh,
        (long long)n->dw, (long long)n->pad_t, (long long)n->pad_l, (long long)n->out.h, (long long)n->out.w);
}

/* The loops over groups of images and over the conv's groups; cols and yq
 * in m->col, ng columns each. */
static void open_groups(Emitter *E, const Mat *d)
{
    emit_open_block(E, "for (int i0 = 0; i0 < n; i0 += %ld)", d->gmax);
    emit_out(E, "const int gi = n - i0 < %ld ? n - i0 : %ld;   /* images in this group */", d->gmax, d->gmax);
    emit_out(E, "const long ng = (long)gi * %ld;", d->p);
    emit_out(E, "float *cols = m->col, *yq = m->col + %ld * ng;", d->k);
    emit_open_block(E, "for (long grp = 0; grp < %ld; grp++)", d->groups);
    emit_out(E, "const float *wg = w + grp * %ld;", d->fg * d->k);
}

/* The group's columns, and with_dy its dL/dy as fg rows of ng in yq. */
static void emit_columns(Emitter *E, const Mat *d, bool with_dy)
{
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (int j = 0; j < gi; j++)");
    emit_out(E, "cnn_conv_geom gj = g;");
    emit_out(E, "gj.ld = (int)ng;");
    emit_out(E, "cnn_im2col(x + (size_t)(i0 + j) * %ld + grp * %ld, &gj, cols + j * %ld);", d->in_size, d->cg * d->hw,
        d->p);
    if (with_dy) {
        emit_out(E, "for (long f = 0; f < %ld; f++)", d->fg);
        emit_out(E, "    memcpy(yq + f * ng + j * %ld, dy + (size_t)(i0 + j) * %ld + (grp * %ld + f) * %ld, sizeof(float) * %ld);",
            d->p, d->out_size, d->fg, d->p, d->p);
    }
    emit_close_block(E);
}

/* A loop over four slices of the k rows of the columns: k0 and nk. */
static void open_k_slices(Emitter *E, const Mat *d)
{
    long slice = round16((d->k + 3) / 4);
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (long k0 = 0; k0 < %ld; k0 += %ld)", d->k, slice);
    emit_out(E, "const int nk = (int)(%ld - k0 < %ld ? %ld - k0 : %ld);", d->k, slice, d->k, slice);
}

static void emit_conv_forward_blas(Emitter *E, const LayerPlan *lp)
{
    const Node *n = lp->node;
    Mat d = mat_of(n);
    emit_conv_geom(E, n);
    emit_weighted_forward_head(E, lp);
    open_groups(E, &d);
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
    emit_out(E, "float *yf = y + (size_t)(i0 + j) * %ld + (grp * %ld + f) * %ld;", d.out_size, d.fg, d.p);
    emit_out(E, "for (long q = 0; q < %ld; q++)", d.p);
    if (lp->b_off >= 0)
        emit_out(E, "    yf[q] = yq[f * ng + j * %ld + q] + b[grp * %ld + f];", d.p, d.fg);
    else
        emit_out(E, "    yf[q] = yq[f * ng + j * %ld + q];", d.p);
    char count[32];
    snprintf(count, sizeof count, "%ld", d.p);
    if (n->act != ACT_SOFTMAX)
        emit_act_forward(E, n, "yf", count);
    emit_close_block(E);
    emit_close_block(E);
    emit_close_block(E);
    emit_close_block(E);
    if (n->act == ACT_SOFTMAX)
        emit_softmax_forward(E, "y", (long)n->filters, d.p);
}

static void emit_conv_backward_blas(Emitter *E, const LayerPlan *lp)
{
    const Node *n = lp->node;
    Mat d = mat_of(n);
    emit_conv_geom(E, n);
    emit_weighted_backward_head(E, lp);
    open_groups(E, &d);
    emit_out(E, "/* the columns, and dL/dy in yq */");
    emit_columns(E, &d, true);
    emit_out(E, "/* dW += dY col^T, in slices of dW's columns */");
    open_k_slices(E, &d);
    emit_out(E, "cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, %ld, nk, (int)ng, 1.0f, yq, (int)ng, cols + k0 * ng,",
        d.fg);
    emit_out(E, "            (int)ng, 1.0f, dw + grp * %ld + k0, %ld);", d.fg * d.k, d.k);
    emit_close_block(E);
    if (lp->b_off >= 0) {
        emit_out(E, "float *db = m->grads + %ld + grp * %ld;", lp->b_off, d.fg);
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
    emit_out(E, "cnn_col2im_add(cols + j * %ld, &gj, dx + (size_t)(i0 + j) * %ld + grp * %ld);", d.p, d.in_size,
        d.cg * d.hw);
    emit_close_block(E);
    emit_close_block(E);
    emit_close_block(E);
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
    long in = lp->w_size / (long)n->filters, outs = (long)n->filters;
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
    const Node *n = lp->node;
    long in = lp->w_size / (long)n->filters, outs = (long)n->filters;
    emit_weighted_backward_head(E, lp);
    emit_out(E, "/* dW += dY^T X, in slices of dW's rows */");
    open_fc_slices(E, "o", outs);
    emit_out(E, "cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, no, %ld, n, 1.0f, dy + o0, %ld, x, %ld, 1.0f,",
        in, outs, in);
    emit_out(E, "            dw + o0 * %ld, %ld);", in, in);
    emit_close_block(E);
    if (lp->b_off >= 0) {
        emit_out(E, "float *db = m->grads + %ld;", lp->b_off);
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
