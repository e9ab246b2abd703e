/* emit_blas.c - conv and fc as matrix products through cblas_sgemm, for
 * `cnnc --blas`.  Convolution goes through im2col (runtime/im2col.c) one
 * image and group at a time; the BLAS library brings its own threads, so
 * these loops stay serial. */
#include "emitter.h"

/* Columns a conv needs per image and group: (C/G)*KH*KW x OH*OW. */
long blas_col_elems(const Node *n)
{
    if (n->op != OP_CONV)
        return 0;
    return (long)(n->in_shape.c / n->groups * n->kh * n->kw * n->out.h * n->out.w);
}

void emit_conv_geom(Emitter *E, const Node *n)
{
    out(E, "static const cnn_conv_geom g = {%lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, "
           "%lld, %lld, 0};",
        (long long)(n->in_shape.c / n->groups), (long long)n->in_shape.h, (long long)n->in_shape.w,
        (long long)n->kh, (long long)n->kw, (long long)n->sh, (long long)n->sw, (long long)n->dh,
        (long long)n->dw, (long long)n->pad_t, (long long)n->pad_l, (long long)n->out.h, (long long)n->out.w);
}

typedef struct {
    long cg, fg, k, hw, ohw, in_size, out_size, groups;
} Mat;

static Mat mat_of(const Node *n)
{
    Mat d;
    d.groups = (long)n->groups;
    d.cg = (long)n->in_shape.c / d.groups;
    d.fg = (long)n->filters / d.groups;
    d.k = d.cg * (long)(n->kh * n->kw);
    d.hw = (long)(n->in_shape.h * n->in_shape.w);
    d.ohw = (long)(n->out.h * n->out.w);
    d.in_size = d.cg * d.groups * d.hw;
    d.out_size = (long)n->filters * d.ohw;
    return d;
}

void emit_conv_forward_blas(Emitter *E, const LayerPlan *lp)
{
    const Node *n = lp->node;
    Mat d = mat_of(n);
    emit_conv_geom(E, n);
    out(E, "const float *x = %s;", in_ptr(E, lp, 0));
    out(E, "float *y = %s;", out_ptr(E, lp));
    out(E, "const float *w = m->params + %ld;", lp->w_off);
    open_block(E, "for (int i = 0; i < n; i++)");
    open_block(E, "for (long grp = 0; grp < %ld; grp++)", d.groups);
    out(E, "cnn_im2col(x + (size_t)i * %ld + grp * %ld, &g, m->col);", d.in_size, d.cg * d.hw);
    out(E, "cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, %ld, %ld, %ld, 1.0f, w + grp * %ld, %ld,",
        d.fg, d.ohw, d.k, d.fg * d.k, d.k);
    out(E, "            m->col, %ld, 0.0f, y + (size_t)i * %ld + grp * %ld, %ld);", d.ohw, d.out_size,
        d.fg * d.ohw, d.ohw);
    close_block(E);
    if (lp->b_off >= 0) {
        out(E, "const float *b = m->params + %ld;", lp->b_off);
        out(E, "for (long f = 0; f < %lld; f++)", (long long)n->filters);
        out(E, "    for (long p = 0; p < %ld; p++) y[(size_t)i * %ld + f * %ld + p] += b[f];", d.ohw, d.out_size,
            d.ohw);
    }
    close_block(E);
    char count[64];
    snprintf(count, sizeof count, "(long)n * %ld", d.out_size);
    if (n->act == ACT_SOFTMAX)
        emit_softmax_forward(E, "y", (long)n->filters, d.ohw);
    else
        emit_act_forward(E, n->act, n->act_alpha, "y", count);
}

void emit_conv_backward_blas(Emitter *E, const LayerPlan *lp)
{
    const Node *n = lp->node;
    Mat d = mat_of(n);
    emit_conv_geom(E, n);
    emit_weighted_backward_head(E, lp);
    open_block(E, "for (int i = 0; i < n; i++)");
    if (lp->b_off >= 0) {
        out(E, "float *db = m->grads + %ld;", lp->b_off);
        out(E, "for (long f = 0; f < %lld; f++)", (long long)n->filters);
        out(E, "    for (long p = 0; p < %ld; p++) db[f] += dy[(size_t)i * %ld + f * %ld + p];", d.ohw, d.out_size,
            d.ohw);
    }
    open_block(E, "for (long grp = 0; grp < %ld; grp++)", d.groups);
    out(E, "const float *dyg = dy + (size_t)i * %ld + grp * %ld;", d.out_size, d.fg * d.ohw);
    out(E, "cnn_im2col(x + (size_t)i * %ld + grp * %ld, &g, m->col);", d.in_size, d.cg * d.hw);
    out(E, "/* dW += dY col^T */");
    out(E, "cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, %ld, %ld, %ld, 1.0f, dyg, %ld, m->col, %ld,",
        d.fg, d.k, d.ohw, d.ohw, d.ohw);
    out(E, "            1.0f, dw + grp * %ld, %ld);", d.fg * d.k, d.k);
    out(E, "if (!dx)");
    out(E, "    continue;");
    out(E, "/* dcol = W^T dY, folded back into dx */");
    out(E, "cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, %ld, %ld, %ld, 1.0f, w + grp * %ld, %ld, dyg, %ld,",
        d.k, d.ohw, d.fg, d.fg * d.k, d.k, d.ohw);
    out(E, "            0.0f, m->col, %ld);", d.ohw);
    out(E, "cnn_col2im_add(m->col, &g, dx + (size_t)i * %ld + grp * %ld);", d.in_size, d.cg * d.hw);
    close_block(E);
    close_block(E);
}

void emit_fc_forward_blas(Emitter *E, const LayerPlan *lp)
{
    const Node *n = lp->node;
    long in = lp->w_size / (long)n->filters, outs = (long)n->filters;
    out(E, "const float *x = %s;", in_ptr(E, lp, 0));
    out(E, "float *y = %s;", out_ptr(E, lp));
    out(E, "const float *w = m->params + %ld;", lp->w_off);
    out(E, "/* Y = X W^T (+ b) */");
    if (lp->b_off >= 0) {
        out(E, "const float *b = m->params + %ld;", lp->b_off);
        out(E, "for (int i = 0; i < n; i++)");
        out(E, "    memcpy(y + (size_t)i * %ld, b, sizeof(float) * %ld);", outs, outs);
    }
    out(E, "cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, %ld, %ld, 1.0f, x, %ld, w, %ld, %s, y, %ld);",
        outs, in, in, in, lp->b_off >= 0 ? "1.0f" : "0.0f", outs);
    char count[64];
    snprintf(count, sizeof count, "(long)n * %ld", outs);
    if (n->act == ACT_SOFTMAX)
        emit_softmax_forward(E, "y", outs, 1);
    else
        emit_act_forward(E, n->act, n->act_alpha, "y", count);
}

void emit_fc_backward_blas(Emitter *E, const LayerPlan *lp)
{
    const Node *n = lp->node;
    long in = lp->w_size / (long)n->filters, outs = (long)n->filters;
    emit_weighted_backward_head(E, lp);
    out(E, "/* dW += dY^T X */");
    out(E, "cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, %ld, %ld, n, 1.0f, dy, %ld, x, %ld, 1.0f, dw, %ld);",
        outs, in, outs, in, in);
    if (lp->b_off >= 0) {
        out(E, "float *db = m->grads + %ld;", lp->b_off);
        out(E, "for (int i = 0; i < n; i++)");
        out(E, "    for (long o = 0; o < %ld; o++) db[o] += dy[(size_t)i * %ld + o];", outs, outs);
    }
    out(E, "/* dX += dY W */");
    out(E, "if (dx)");
    out(E, "    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, %ld, %ld, 1.0f, dy, %ld, w, %ld, 1.0f, dx, %ld);",
        in, outs, outs, in, in);
}
