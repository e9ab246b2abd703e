/* emit/layers.c - kernels of the layers without weight matrices: pooling,
 * activations, softmax, batchnorm, dropout, flatten, upsample, add, mul,
 * concat, crop, prelu and local response normalisation.  Each backward
 * adds into its inputs' gradient buffers; the input image's gradient
 * (m->dx) may be NULL. */
#include <stdlib.h>
#include <string.h>

#include "emitter.h"
#include "kinds.h"

static long elems(const Node *n) { return (long)n->out_elems; }
static long plane(const Node *n) { return (long)(n->out.d * n->out.h * n->out.w); }   /* d 1 on images */

/* The common head of a backward: pointers to x, y, dy and dx. */
static void backward_head(Emitter *E, const LayerPlan *lp)
{
    emit_out(E, "const float *x = %s;", emit_in_ptr(E, lp, 0));
    emit_out(E, "const float *y = %s;", emit_out_ptr(E, lp));
    emit_out(E, "float *dy = %s;", emit_out_grad_ptr(E, lp));
    emit_out(E, "float *dx = %s;", emit_in_grad_ptr(E, lp, 0));
    emit_out(E, "(void)x;");
    emit_out(E, "(void)y;");
}

static void trailing_act_forward(Emitter *E, const Node *n)
{
    char count[64];
    snprintf(count, sizeof count, "(long)n * %ld", elems(n));
    if (n->act == ACT_SOFTMAX)
        emit_softmax_forward(E, "y", (long)n->out.c, plane(n));
    else
        emit_act_forward(E, n, "y", count);
}

/* ---- pooling ---- */

/* Opens the loops over images, channels and output pixels, with the
 * window [h0, h1) x [w0, w1) clipped to the image: padding counts only
 * with countpad (pool_divisor). */
static void pool_window_open(Emitter *E, const Node *n, bool parallel)
{
    long c = (long)n->out.c, h = (long)n->in_shape.h, w = (long)n->in_shape.w;
    if (parallel)
        emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    emit_open_block(E, "for (long c = 0; c < %ld; c++)", c);
    emit_out(E, "const size_t xo = (size_t)i * %ld + c * %ld;", c * h * w, h * w);
    emit_out(E, "const size_t yo = (size_t)i * %ld + c * %ld;", elems(n), plane(n));
    if (n->global) {
        emit_open_block(E, "for (long oh = 0; oh < 1; oh++)");
        emit_open_block(E, "for (long ow = 0; ow < 1; ow++)");
        emit_out(E, "const long h0 = 0, h1 = %ld, w0 = 0, w1 = %ld, p = 0;", h, w);
        return;
    }
    emit_open_block(E, "for (long oh = 0; oh < %lld; oh++)", (long long)n->out.h);
    emit_out(E, "long h0 = oh * %lld - %lld, h1 = h0 + %lld;", (long long)n->sh, (long long)n->pad_t,
        (long long)n->kh);
    emit_out(E, "if (h0 < 0) h0 = 0;");
    emit_out(E, "if (h1 > %ld) h1 = %ld;", h, h);
    emit_open_block(E, "for (long ow = 0; ow < %lld; ow++)", (long long)n->out.w);
    emit_out(E, "long w0 = ow * %lld - %lld, w1 = w0 + %lld;", (long long)n->sw, (long long)n->pad_l,
        (long long)n->kw);
    emit_out(E, "if (w0 < 0) w0 = 0;");
    emit_out(E, "if (w1 > %ld) w1 = %ld;", w, w);
    emit_out(E, "const long p = oh * %lld + ow;", (long long)n->out.w);
}

/* What an average pool divides output (oh, ow)'s sum by, as C: the
 * window's pixels in the image, or with countpad (count_include_pad=True)
 * in the image and its padding, not in the rows and columns `fit ceil`
 * adds.  A window starts inside the padding proper, so only its end is
 * cut, to the padded image's edge. */
static void pool_divisor(StrBuf *sb, const Node *n)
{
    if (!n->countpad) {
        sb_puts(sb, "(float)((h1 - h0) * (w1 - w0))");
        return;
    }
    long long kh = n->kh, kw = n->kw, sh = n->sh, sw = n->sw;
    long long eh = n->in_shape.h + n->pad_t + n->pad_b - n->ceil_b;   /* padded edge */
    long long ew = n->in_shape.w + n->pad_l + n->pad_r - n->ceil_r;
    sb_printf(sb, "(float)((oh * %lld + %lld < %lld ? %lld : %lld - oh * %lld) * ", sh, kh, eh, kh, eh, sh);
    sb_printf(sb, "(ow * %lld + %lld < %lld ? %lld : %lld - ow * %lld))", sw, kw, ew, kw, ew, sw);
}

static void pool_window_close(Emitter *E)
{
    emit_close_block(E);
    emit_close_block(E);
    emit_close_block(E);
    emit_close_block(E);
}

/* A max-pool whose windows all lie inside the image (no padding, no
 * clipping) and are small: its window is unrolled, offsets constant. */
static bool pool_unrolled(const Node *n)
{
    return n->pool == POOL_MAX && !n->global && n->pad_t == 0 && n->pad_l == 0 && n->kh * n->kw <= 9 &&
           (n->out.h - 1) * n->sh + n->kh <= n->in_shape.h && (n->out.w - 1) * n->sw + n->kw <= n->in_shape.w;
}

/* The loops of an unrolled max-pool, up to xw: the window's first input. */
static void pool_unrolled_open(Emitter *E, const Node *n)
{
    long c = (long)n->out.c, h = (long)n->in_shape.h, w = (long)n->in_shape.w;
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    emit_open_block(E, "for (long c = 0; c < %ld; c++)", c);
    emit_out(E, "const size_t xo = (size_t)i * %ld + c * %ld;", c * h * w, h * w);
    emit_out(E, "const size_t yo = (size_t)i * %ld + c * %ld;", elems(n), plane(n));
    emit_open_block(E, "for (long oh = 0; oh < %lld; oh++)", (long long)n->out.h);
    emit_open_block(E, "for (long ow = 0; ow < %lld; ow++)", (long long)n->out.w);
    emit_out(E, "const long p = oh * %lld + ow, at0 = oh * %lld + ow * %lld;", (long long)n->out.w,
        (long long)(n->sh * n->in_shape.w), (long long)n->sw);
    emit_out(E, "const float *xw = x + xo + at0;");
    emit_out(E, "float best = -INFINITY;");
}

static long window_offset(const Node *n, long k)
{
    return k / (long)n->kw * (long)n->in_shape.w + k % (long)n->kw;
}

static void pool_forward(Emitter *E, const LayerPlan *lp)
{
    if (lp->node->in_shape.volume) {
        emit_pool3d_forward(E, lp);
        return;
    }
    const Node *n = lp->node;
    long w = (long)n->in_shape.w;
    emit_out(E, "const float *x = %s;", emit_in_ptr(E, lp, 0));
    emit_out(E, "float *y = %s;", emit_out_ptr(E, lp));
    if (pool_unrolled(n)) {
        pool_unrolled_open(E, n);
        for (long k = 0; k < (long)(n->kh * n->kw); k++)
            emit_out(E, "best = xw[%ld] > best ? xw[%ld] : best;", window_offset(n, k), window_offset(n, k));
        emit_out(E, "y[yo + p] = best;");
        pool_window_close(E);
        return;
    }
    pool_window_open(E, n, true);
    if (n->pool == POOL_MAX) {
        emit_out(E, "float best = -INFINITY;");
        emit_out(E, "for (long ih = h0; ih < h1; ih++)");
        emit_out(E, "    for (long iw = w0; iw < w1; iw++)");
        emit_out(E, "        if (x[xo + ih * %ld + iw] > best) best = x[xo + ih * %ld + iw];", w, w);
        emit_out(E, "y[yo + p] = best;");
    } else {
        emit_out(E, "float sum = 0.0f;");
        emit_out(E, "for (long ih = h0; ih < h1; ih++)");
        emit_out(E, "    for (long iw = w0; iw < w1; iw++)");
        emit_out(E, "        sum += x[xo + ih * %ld + iw];", w);
        StrBuf div;
        sb_init(&div);
        pool_divisor(&div, n);
        emit_out(E, "y[yo + p] = h1 > h0 && w1 > w0 ? sum / %s : 0.0f;", div.data);
        sb_free(&div);
    }
    pool_window_close(E);
}

/* Max-pool's backward finds the window's first maximum again, as the
 * forward did, instead of keeping indices. */
static void pool_backward(Emitter *E, const LayerPlan *lp)
{
    if (lp->node->in_shape.volume) {
        emit_pool3d_backward(E, lp);
        return;
    }
    const Node *n = lp->node;
    long w = (long)n->in_shape.w;
    backward_head(E, lp);
    emit_out(E, "if (!dx)");
    emit_out(E, "    return;");
    if (pool_unrolled(n)) {
        pool_unrolled_open(E, n);
        emit_out(E, "long at = -1;");
        for (long k = 0; k < (long)(n->kh * n->kw); k++)
            emit_out(E, "if (xw[%ld] > best) { best = xw[%ld]; at = %ld; }", window_offset(n, k), window_offset(n, k),
                window_offset(n, k));
        emit_out(E, "if (at >= 0)");
        emit_out(E, "    dx[xo + (size_t)(at0 + at)] += dy[yo + p];");
        pool_window_close(E);
        return;
    }
    pool_window_open(E, n, true);
    if (n->pool == POOL_MAX) {
        emit_out(E, "float best = -INFINITY;");
        emit_out(E, "long at = -1;");
        emit_out(E, "for (long ih = h0; ih < h1; ih++)");
        emit_out(E, "    for (long iw = w0; iw < w1; iw++)");
        emit_out(E, "        if (x[xo + ih * %ld + iw] > best) {", w);
        emit_out(E, "            best = x[xo + ih * %ld + iw];", w);
        emit_out(E, "            at = ih * %ld + iw;", w);
        emit_out(E, "        }");
        emit_out(E, "if (at >= 0)");
        emit_out(E, "    dx[xo + (size_t)at] += dy[yo + p];");
    } else {
        emit_out(E, "if (h1 <= h0 || w1 <= w0)");
        emit_out(E, "    continue;");
        StrBuf div;
        sb_init(&div);
        pool_divisor(&div, n);
        emit_out(E, "const float g = dy[yo + p] / %s;", div.data);
        sb_free(&div);
        emit_out(E, "for (long ih = h0; ih < h1; ih++)");
        emit_out(E, "    for (long iw = w0; iw < w1; iw++)");
        emit_out(E, "        dx[xo + ih * %ld + iw] += g;", w);
    }
    pool_window_close(E);
}

/* ---- element-wise activations ---- */

static void act_forward(Emitter *E, const LayerPlan *lp)
{
    const char *tmpl = act_info[lp->node->act].forward;
    StrBuf expr;
    sb_init(&expr);
    emit_act_expr(&expr, tmpl ? tmpl : "v", lp->node, "v", NULL);
    emit_out(E, "const float *x = %s;", emit_in_ptr(E, lp, 0));
    emit_out(E, "float *y = %s;", emit_out_ptr(E, lp));
    emit_open_block(E, "for (long p = 0; p < (long)n * %ld; p++)", elems(lp->node));
    emit_out(E, "const float v = x[p];");
    emit_out(E, "y[p] = %s;", expr.data);
    emit_close_block(E);
    sb_free(&expr);
}

static void act_backward(Emitter *E, const LayerPlan *lp)
{
    const char *tmpl = act_info[lp->node->act].derivative;
    backward_head(E, lp);
    emit_out(E, "if (!dx)");
    emit_out(E, "    return;");
    if (!tmpl) {
        emit_out(E, "for (long p = 0; p < (long)n * %ld; p++) dx[p] += dy[p];", elems(lp->node));
        return;
    }
    StrBuf expr;
    sb_init(&expr);
    emit_act_expr(&expr, tmpl, lp->node, "v", NULL);
    emit_open_block(E, "for (long p = 0; p < (long)n * %ld; p++)", elems(lp->node));
    emit_out(E, "const float v = y[p];");
    emit_out(E, "dx[p] += dy[p] * (%s);", expr.data);
    emit_close_block(E);
    sb_free(&expr);
}

/* ---- copies: softmax, flatten, dropout share "y = x, then ..." ---- */

static void copy_forward(Emitter *E, const LayerPlan *lp)
{
    emit_out(E, "const float *x = %s;", emit_in_ptr(E, lp, 0));
    emit_out(E, "float *y = %s;", emit_out_ptr(E, lp));
    emit_out(E, "memcpy(y, x, sizeof(float) * (size_t)n * %ld);", elems(lp->node));
}

static void copy_backward(Emitter *E, const LayerPlan *lp)
{
    backward_head(E, lp);
    emit_out(E, "if (dx)");
    emit_out(E, "    for (long p = 0; p < (long)n * %ld; p++) dx[p] += dy[p];", elems(lp->node));
}

static void dropout_forward(Emitter *E, const LayerPlan *lp)
{
    const Node *n = lp->node;
    copy_forward(E, lp);
    emit_out(E, "if (!m->training)");
    emit_out(E, "    return;");
    emit_out(E, "float *mask = MASK(%s);", lp->mask_name);
    emit_open_block(E, "for (long p = 0; p < (long)n * %ld; p++)", elems(n));
    emit_out(E, "mask[p] = cnn_rng_uniform(&m->rng) < %s ? 0.0f : %s;", emit_flt(n->drop_p), emit_flt(1.0 / (1.0 - n->drop_p)));
    emit_out(E, "y[p] *= mask[p];");
    emit_close_block(E);
}

static void dropout_backward(Emitter *E, const LayerPlan *lp)
{
    backward_head(E, lp);
    emit_out(E, "if (!dx)");
    emit_out(E, "    return;");
    emit_out(E, "const float *mask = MASK(%s);", lp->mask_name);
    emit_out(E, "for (long p = 0; p < (long)n * %ld; p++)", elems(lp->node));
    emit_out(E, "    dx[p] += m->training ? dy[p] * mask[p] : dy[p];");
}

/* ---- batchnorm: statistics per channel over images and pixels ---- */

static void bn_pointers(Emitter *E, const LayerPlan *lp, bool grads)
{
    emit_out(E, "const float *gamma = m->params + %s, *beta = m->params + %s;", lp->w_name, lp->b_name);
    emit_out(E, "float *rmean = m->state + %s, *rvar = m->state + %s;", lp->rm_name, lp->rv_name);
    emit_out(E, "float *mean = m->stats + %s, *istd = m->stats + %s + %ld;", lp->stats_name, lp->stats_name,
        (long)lp->node->out.c);
    if (grads)
        emit_out(E, "float *dgamma = m->grads + %s, *dbeta = m->grads + %s;", lp->w_name, lp->b_name);
    emit_out(E, "(void)rmean;");
    emit_out(E, "(void)rvar;");
    emit_out(E, "(void)beta;");
}

/* The batch statistics mean and 1/std and the running averages, from a
 * channel's mean and variance over count values (C expressions). */
static void bn_set_stats(Emitter *E, const Node *n, const char *mu, const char *var, const char *count)
{
    emit_out(E, "mean[c] = (float)%s;", mu);
    emit_out(E, "istd[c] = (float)(1.0 / sqrt(%s + %.9g));", var, n->eps);
    emit_out(E, "rmean[c] = (float)((1.0 - %.9g) * rmean[c] + %.9g * %s);", n->momentum, n->momentum, mu);
    emit_out(E, "rvar[c] = (float)((1.0 - %.9g) * rvar[c] + %.9g * (%s > 1.0 ? %s * %s / (%s - 1.0) : %s));",
        n->momentum, n->momentum, count, var, count, count, var);
}

/* Inside a loop over channels c: into `into`, the sum over this rank's
 * images of x, or (with mu) of (x - mu)^2, in double. */
static void bn_channel_sum(Emitter *E, const Node *n, const char *into, const char *mu)
{
    long hw = plane(n), size = elems(n);
    emit_out(E, "double %s = 0.0;", into);
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    emit_open_block(E, "for (long p = 0; p < %ld; p++)", hw);
    if (mu) {
        emit_out(E, "double d = x[(size_t)i * %ld + c * %ld + p] - %s;", size, hw, mu);
        emit_out(E, "%s += d * d;", into);
    } else {
        emit_out(E, "%s += x[(size_t)i * %ld + c * %ld + p];", into, size, hw);
    }
    emit_close_block(E);
    emit_close_block(E);
}

/* --sync-bn under MPI: the statistics of the global batch, from sums over
 * the ranks (two all-reduces, so that the variance is taken about the
 * global mean as in one process). */
static void bn_forward_synced(Emitter *E, const Node *n)
{
    long c = (long)n->out.c;
    emit_open_block(E, "if (synced)");
    emit_out(E, "double mu[%ld], sq[%ld];", c, c);
    emit_out(E, "const double total = (double)cnn_dist_batch(n) * %ld;", plane(n));
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (long c = 0; c < %ld; c++)", c);
    bn_channel_sum(E, n, "sum", NULL);
    emit_out(E, "mu[c] = sum;");
    emit_close_block(E);
    emit_out(E, "cnn_dist_sum(mu, %ld);", c);
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (long c = 0; c < %ld; c++)", c);
    emit_out(E, "mu[c] /= total;");
    bn_channel_sum(E, n, "s", "mu[c]");
    emit_out(E, "sq[c] = s;");
    emit_close_block(E);
    emit_out(E, "cnn_dist_sum(sq, %ld);", c);
    emit_open_block(E, "for (long c = 0; c < %ld; c++)", c);
    bn_set_stats(E, n, "mu[c]", "sq[c] / total", "total");
    emit_close_block(E);
    emit_close_block(E);
}

static void bn_forward(Emitter *E, const LayerPlan *lp)
{
    const Node *n = lp->node;
    long c = (long)n->out.c, hw = plane(n), size = elems(n);
    emit_out(E, "const float *x = %s;", emit_in_ptr(E, lp, 0));
    emit_out(E, "float *y = %s;", emit_out_ptr(E, lp));
    bn_pointers(E, lp, false);
    emit_out(E, "const double count = (double)n * %ld;", hw);
    emit_out(E, "const int synced = m->training && cnn_dist_sync_bn();");
    bn_forward_synced(E, n);
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (long c = 0; c < %ld; c++)", c);
    emit_open_block(E, "if (m->training && !synced)");
    bn_channel_sum(E, n, "sum", NULL);
    emit_out(E, "const double mu = sum / count;");
    bn_channel_sum(E, n, "sq", "mu");
    bn_set_stats(E, n, "mu", "sq / count", "count");
    emit_close_block(E);
    emit_open_block(E, "else if (!m->training)");
    emit_out(E, "mean[c] = rmean[c];");
    emit_out(E, "istd[c] = (float)(1.0 / sqrt((double)rvar[c] + %.9g));", n->eps);
    emit_close_block(E);
    emit_out(E, "const float scale = gamma[c] * istd[c], shift = beta[c] - mean[c] * scale;");
    emit_out(E, "for (int i = 0; i < n; i++)");
    emit_out(E, "    for (long p = 0; p < %ld; p++)", hw);
    emit_out(E, "        y[(size_t)i * %ld + c * %ld + p] = x[(size_t)i * %ld + c * %ld + p] * scale + shift;", size, hw,
        size, hw);
    emit_close_block(E);
    trailing_act_forward(E, n);
}

/* Inside a loop over channels c: this rank's sums of dy and dy * xhat,
 * added to dgamma and dbeta. */
static void bn_grad_sums(Emitter *E, const Node *n)
{
    long hw = plane(n), size = elems(n);
    emit_out(E, "float sum_dy = 0.0f, sum_dy_xhat = 0.0f;");
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    emit_open_block(E, "for (long p = 0; p < %ld; p++)", hw);
    emit_out(E, "const size_t at = (size_t)i * %ld + c * %ld + p;", size, hw);
    emit_out(E, "sum_dy += dy[at];");
    emit_out(E, "sum_dy_xhat += dy[at] * (x[at] - mean[c]) * istd[c];");
    emit_close_block(E);
    emit_close_block(E);
    emit_out(E, "dgamma[c] += sum_dy_xhat;");
    emit_out(E, "dbeta[c] += sum_dy;");
}

/* Inside a loop over channels c: dx from the sums over count values; in
 * inference (not under --sync-bn) the statistics are constants. */
static void bn_dx(Emitter *E, const Node *n, const char *count, bool synced)
{
    long hw = plane(n), size = elems(n);
    emit_out(E, "const float k = gamma[c] * istd[c];");
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    emit_open_block(E, "for (long p = 0; p < %ld; p++)", hw);
    emit_out(E, "const size_t at = (size_t)i * %ld + c * %ld + p;", size, hw);
    if (!synced)
        emit_out(E, "if (m->training)");
    emit_out(E, "%sdx[at] += k * (dy[at] - (sum_dy + (x[at] - mean[c]) * istd[c] * sum_dy_xhat) / %s);",
        synced ? "" : "    ", count);
    if (!synced) {
        emit_out(E, "else");
        emit_out(E, "    dx[at] += k * dy[at];");
    }
    emit_close_block(E);
    emit_close_block(E);
}

/* --sync-bn: dgamma and dbeta from this rank's images (the gradient
 * all-reduce sums them), dx from the sums over all ranks. */
static void bn_backward_synced(Emitter *E, const Node *n)
{
    long c = (long)n->out.c;
    emit_open_block(E, "if (m->training && cnn_dist_sync_bn())");
    emit_out(E, "double sums[%ld];", 2 * c);
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (long c = 0; c < %ld; c++)", c);
    bn_grad_sums(E, n);
    emit_out(E, "sums[c] = sum_dy;");
    emit_out(E, "sums[%ld + c] = sum_dy_xhat;", c);
    emit_close_block(E);
    emit_out(E, "cnn_dist_sum(sums, %ld);", 2 * c);
    emit_out(E, "if (!dx)");
    emit_out(E, "    return;");
    emit_out(E, "const float total = (float)cnn_dist_batch(n) * %ld.0f;", plane(n));
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (long c = 0; c < %ld; c++)", c);
    emit_out(E, "const float sum_dy = (float)sums[c], sum_dy_xhat = (float)sums[%ld + c];", c);
    bn_dx(E, n, "total", true);
    emit_close_block(E);
    emit_out(E, "return;");
    emit_close_block(E);
}

/* Training: the batch statistics depend on x, hence the two sums; in
 * inference they are constants. */
static void bn_backward(Emitter *E, const LayerPlan *lp)
{
    const Node *n = lp->node;
    long c = (long)n->out.c, hw = plane(n);
    backward_head(E, lp);
    bn_pointers(E, lp, true);
    emit_trailing_act_backward(E, n);
    bn_backward_synced(E, n);
    emit_out(E, "const float count = (float)n * %ld.0f;", hw);
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (long c = 0; c < %ld; c++)", c);
    bn_grad_sums(E, n);
    emit_out(E, "if (!dx)");
    emit_out(E, "    continue;");
    bn_dx(E, n, "count", false);
    emit_close_block(E);
}

/* ---- upsample, crop ---- */

static void upsample_forward(Emitter *E, const LayerPlan *lp)
{
    if (lp->node->in_shape.volume) {
        emit_upsample3d_forward(E, lp);
        return;
    }
    const Node *n = lp->node;
    long f = (long)n->factor, w = (long)n->in_shape.w, ow = (long)n->out.w;
    emit_out(E, "const float *x = %s;", emit_in_ptr(E, lp, 0));
    emit_out(E, "float *y = %s;", emit_out_ptr(E, lp));
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    emit_out(E, "for (long c = 0; c < %lld; c++)", (long long)n->out.c);
    emit_out(E, "    for (long oh = 0; oh < %lld; oh++)", (long long)n->out.h);
    emit_out(E, "        for (long o = 0; o < %ld; o++)", ow);
    emit_out(E, "            y[(size_t)i * %ld + (c * %lld + oh) * %ld + o] =", elems(n), (long long)n->out.h, ow);
    emit_out(E, "                x[(size_t)i * %lld + (c * %lld + oh / %ld) * %ld + o / %ld];",
        (long long)(n->in_shape.h * w * n->in_shape.c), (long long)n->in_shape.h, f, w, f);
    emit_close_block(E);
}

static void upsample_backward(Emitter *E, const LayerPlan *lp)
{
    if (lp->node->in_shape.volume) {
        emit_upsample3d_backward(E, lp);
        return;
    }
    const Node *n = lp->node;
    long f = (long)n->factor, w = (long)n->in_shape.w, ow = (long)n->out.w;
    backward_head(E, lp);
    emit_out(E, "if (!dx)");
    emit_out(E, "    return;");
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    emit_out(E, "for (long c = 0; c < %lld; c++)", (long long)n->out.c);
    emit_out(E, "    for (long oh = 0; oh < %lld; oh++)", (long long)n->out.h);
    emit_out(E, "        for (long o = 0; o < %ld; o++)", ow);
    emit_out(E, "            dx[(size_t)i * %lld + (c * %lld + oh / %ld) * %ld + o / %ld] +=",
        (long long)(n->in_shape.h * w * n->in_shape.c), (long long)n->in_shape.h, f, w, f);
    emit_out(E, "                dy[(size_t)i * %ld + (c * %lld + oh) * %ld + o];", elems(n), (long long)n->out.h, ow);
    emit_close_block(E);
}

/* Loops over items and channels (p), depths (z, volumes only) and rows
 * (r), with xo and yo the offsets of a kept row in x and of its copy in
 * y: the centre DxHxW of a volume, the centre HxW of an image. */
static void crop_loops(Emitter *E, const Node *n)
{
    Shape in = n->in_shape, out = n->out;
    long long front = (in.d - out.d) / 2, top = (in.h - out.h) / 2, left = (in.w - out.w) / 2;
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (long p = 0; p < (long)n * %lld; p++)", (long long)out.c);
    if (in.volume) {
        emit_out(E, "for (long z = 0; z < %lld; z++)", (long long)out.d);
        emit_open_block(E, "    for (long r = 0; r < %lld; r++)", (long long)out.h);
        emit_out(E, "const size_t xo = ((size_t)p * %lld + z + %lld) * %lld + (r + %lld) * %lld + %lld;",
            (long long)in.d, front, (long long)(in.h * in.w), top, (long long)in.w, left);
        emit_out(E, "const size_t yo = ((size_t)p * %lld + z) * %lld + r * %lld;", (long long)out.d,
            (long long)(out.h * out.w), (long long)out.w);
    } else {
        emit_open_block(E, "for (long r = 0; r < %lld; r++)", (long long)out.h);
        emit_out(E, "const size_t xo = (size_t)p * %lld + (r + %lld) * %lld + %lld;", (long long)(in.h * in.w),
            top, (long long)in.w, left);
        emit_out(E, "const size_t yo = (size_t)p * %lld + r * %lld;", (long long)(out.h * out.w),
            (long long)out.w);
    }
}

static void crop_forward(Emitter *E, const LayerPlan *lp)
{
    emit_out(E, "const float *x = %s;", emit_in_ptr(E, lp, 0));
    emit_out(E, "float *y = %s;", emit_out_ptr(E, lp));
    crop_loops(E, lp->node);
    emit_out(E, "memcpy(y + yo, x + xo, sizeof(float) * %lld);", (long long)lp->node->out.w);
    emit_close_block(E);
    emit_close_block(E);
}

static void crop_backward(Emitter *E, const LayerPlan *lp)
{
    emit_out(E, "const float *dy = %s;", emit_out_grad_ptr(E, lp));
    emit_out(E, "float *dx = %s;", emit_in_grad_ptr(E, lp, 0));
    emit_out(E, "if (!dx)");
    emit_out(E, "    return;");
    crop_loops(E, lp->node);
    emit_out(E, "for (long o = 0; o < %lld; o++) dx[xo + o] += dy[yo + o];", (long long)lp->node->out.w);
    emit_close_block(E);
    emit_close_block(E);
}

/* ---- add, mul, concat ---- */

/* add: an operand of one channel (fewer elements than the output) is
 * broadcast over the channels; the first full operand is copied. */
static bool broadcast(Emitter *E, const LayerPlan *lp, int k)
{
    return emit_in_elems(E, lp, k) != elems(lp->node);
}

enum { NO_BROADCAST, FROM_ONE, TO_ONE };

/* to[] += from[] over n images of n's output shape; the side `one` has a
 * single channel, the same for every channel of the other.  ind: the
 * indentation of the loops. */
static void add_loop(Emitter *E, const Node *n, const char *ind, const char *to, const char *from, int one)
{
    if (one == NO_BROADCAST) {
        emit_out(E, "%sfor (long p = 0; p < (long)n * %ld; p++) %s[p] += %s[p];", ind, elems(n), to, from);
        return;
    }
    char full[64], plane_at[64];
    snprintf(full, sizeof full, "(size_t)i * %ld + c * %ld + p", elems(n), plane(n));
    snprintf(plane_at, sizeof plane_at, "(size_t)i * %ld + p", plane(n));
    emit_out(E, "%sfor (int i = 0; i < n; i++)", ind);
    emit_out(E, "%s    for (long c = 0; c < %lld; c++)", ind, (long long)n->out.c);
    emit_out(E, "%s        for (long p = 0; p < %ld; p++) %s[%s] += %s[%s];", ind, plane(n), to,
        one == TO_ONE ? plane_at : full, from, one == TO_ONE ? full : plane_at);
}

static void add_forward(Emitter *E, const LayerPlan *lp)
{
    const Node *n = lp->node;
    int first = 0;
    while (broadcast(E, lp, first))
        first++;
    emit_out(E, "float *y = %s;", emit_out_ptr(E, lp));
    emit_out(E, "memcpy(y, %s, sizeof(float) * (size_t)n * %ld);", emit_in_ptr(E, lp, first), elems(n));
    for (int k = 0; k < n->ninputs; k++) {
        if (k == first)
            continue;
        emit_open_scope(E);
        emit_out(E, "const float *x = %s;", emit_in_ptr(E, lp, k));
        add_loop(E, n, "", "y", "x", broadcast(E, lp, k) ? FROM_ONE : NO_BROADCAST);
        emit_close_block(E);
    }
    trailing_act_forward(E, n);
}

static void add_backward(Emitter *E, const LayerPlan *lp)
{
    const Node *n = lp->node;
    emit_out(E, "const float *y = %s;", emit_out_ptr(E, lp));
    emit_out(E, "float *dy = %s;", emit_out_grad_ptr(E, lp));
    emit_out(E, "(void)y;");
    emit_trailing_act_backward(E, n);
    for (int k = 0; k < n->ninputs; k++) {
        emit_open_scope(E);
        emit_out(E, "float *dx = %s;", emit_in_grad_ptr(E, lp, k));
        emit_out(E, "if (dx)");
        /* a broadcast operand's: the sum over the channels it was added to */
        add_loop(E, n, "    ", "dx", "dy", broadcast(E, lp, k) ? TO_ONE : NO_BROADCAST);
        emit_close_block(E);
    }
}

/* mul: a (input 0) times b (input 1); an operand of 1x1xC scales each
 * channel of the other. */
static bool is_scale(const Node *x, const Node *y)
{
    return x->out.d == 1 && x->out.h == 1 && x->out.w == 1 && (y->out.d != 1 || y->out.h != 1 || y->out.w != 1);
}

static void mul_index(Emitter *E, const LayerPlan *lp, int k, const char *var)
{
    const Node *n = lp->node;
    if (is_scale(emit_in_node(E, lp, k), n))
        emit_out(E, "const size_t %s = (size_t)i * %lld + c;", var, (long long)n->out.c);
    else
        emit_out(E, "const size_t %s = at;", var);
}

static void mul_loops_open(Emitter *E, const LayerPlan *lp)
{
    const Node *n = lp->node;
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    emit_open_block(E, "for (long c = 0; c < %lld; c++)", (long long)n->out.c);
    emit_open_block(E, "for (long p = 0; p < %ld; p++)", plane(n));
    emit_out(E, "const size_t at = (size_t)i * %ld + c * %ld + p;", elems(n), plane(n));
    mul_index(E, lp, 0, "ia");
    mul_index(E, lp, 1, "ib");
}

static void mul_forward(Emitter *E, const LayerPlan *lp)
{
    emit_out(E, "const float *a = %s;", emit_in_ptr(E, lp, 0));
    emit_out(E, "const float *b = %s;", emit_in_ptr(E, lp, 1));
    emit_out(E, "float *y = %s;", emit_out_ptr(E, lp));
    mul_loops_open(E, lp);
    emit_out(E, "y[at] = a[ia] * b[ib];");
    emit_close_block(E);
    emit_close_block(E);
    emit_close_block(E);
    trailing_act_forward(E, lp->node);
}

static void mul_backward(Emitter *E, const LayerPlan *lp)
{
    emit_out(E, "const float *a = %s;", emit_in_ptr(E, lp, 0));
    emit_out(E, "const float *b = %s;", emit_in_ptr(E, lp, 1));
    emit_out(E, "const float *y = %s;", emit_out_ptr(E, lp));
    emit_out(E, "float *dy = %s;", emit_out_grad_ptr(E, lp));
    emit_out(E, "(void)y;");
    emit_trailing_act_backward(E, lp->node);
    emit_out(E, "float *da = %s;", emit_in_grad_ptr(E, lp, 0));
    emit_out(E, "float *db = %s;", emit_in_grad_ptr(E, lp, 1));
    mul_loops_open(E, lp);
    emit_out(E, "if (da) da[ia] += dy[at] * b[ib];");
    emit_out(E, "if (db) db[ib] += dy[at] * a[ia];");
    emit_close_block(E);
    emit_close_block(E);
    emit_close_block(E);
}

static void concat_forward(Emitter *E, const LayerPlan *lp)
{
    const Node *n = lp->node;
    long offset = 0;
    emit_out(E, "float *y = %s;", emit_out_ptr(E, lp));
    for (int k = 0; k < n->ninputs; k++) {
        long size = emit_in_elems(E, lp, k);
        emit_open_scope(E);
        emit_out(E, "const float *x = %s;", emit_in_ptr(E, lp, k));
        emit_out(E, "for (int i = 0; i < n; i++)");
        emit_out(E, "    memcpy(y + (size_t)i * %ld + %ld, x + (size_t)i * %ld, sizeof(float) * %ld);", elems(n),
            offset, size, size);
        emit_close_block(E);
        offset += size;
    }
}

static void concat_backward(Emitter *E, const LayerPlan *lp)
{
    const Node *n = lp->node;
    long offset = 0;
    emit_out(E, "const float *dy = %s;", emit_out_grad_ptr(E, lp));
    for (int k = 0; k < n->ninputs; k++) {
        long size = emit_in_elems(E, lp, k);
        emit_open_scope(E);
        emit_out(E, "float *dx = %s;", emit_in_grad_ptr(E, lp, k));
        emit_out(E, "if (dx)");
        emit_out(E, "    for (int i = 0; i < n; i++)");
        emit_out(E, "        for (long p = 0; p < %ld; p++) dx[(size_t)i * %ld + p] += dy[(size_t)i * %ld + %ld + p];",
            size, size, elems(n), offset);
        emit_close_block(E);
        offset += size;
    }
}

/* ---- prelu: the runtime's functions (runtime/layers.c) ---- */

/* Forward by planes (one channel of one image), backward by channels: each
 * channel's slope gradient is a sum over the whole batch. */
static void prelu_forward(Emitter *E, const LayerPlan *lp)
{
    const Node *n = lp->node;
    long c = (long)n->out.c;
    emit_out(E, "const float *x = %s;", emit_in_ptr(E, lp, 0));
    emit_out(E, "float *y = %s;", emit_out_ptr(E, lp));
    emit_out(E, "const float *w = m->params + %s;", lp->w_name);
    emit_out(E, "PARALLEL_FOR");
    emit_out(E, "for (long p = 0; p < (long)n * %ld; p++)", c);
    emit_out(E, "    cnn_prelu_forward(x, w, %ld, %ld, p, p + 1, y);", c, plane(n));
}

static void prelu_backward(Emitter *E, const LayerPlan *lp)
{
    const Node *n = lp->node;
    long c = (long)n->out.c;
    backward_head(E, lp);
    emit_out(E, "const float *w = m->params + %s;", lp->w_name);
    emit_out(E, "float *dw = m->grads + %s;", lp->w_name);
    emit_out(E, "PARALLEL_FOR");
    emit_out(E, "for (long c = 0; c < %ld; c++)", c);
    emit_out(E, "    cnn_prelu_backward(x, w, dy, n, %ld, %ld, c, c + 1, dx, dw);", c, plane(n));
}

/* ---- local response normalisation: the runtime's cnn_lrn_* ---- */

/* A call per plane (one channel of one image), the unit the runtime's
 * functions take ranges of, with the layer's numbers as a compound
 * literal: fn(&lrn, BEFORE, c, sp, p, p + 1, AFTER). */
static void lrn_call(Emitter *E, const Node *n, const char *fn, const char *before, const char *after)
{
    long c = (long)n->out.c;
    emit_out(E, "PARALLEL_FOR");
    emit_out(E, "for (long p = 0; p < (long)n * %ld; p++)", c);
    emit_out(E, "    %s(&(const cnn_lrn){%lld, %s, %s, %s}, %s, %ld, %ld, p, p + 1, %s);", fn,
        (long long)n->lrn_size, emit_flt(n->lrn_alpha), emit_flt(n->lrn_beta), emit_flt(n->lrn_k), before, c,
        plane(n), after);
}

/* The scales s go to the layer's MASK buffer for the backward: always
 * when the code can train, since `backward` may follow an inference
 * forward. */
static void lrn_forward(Emitter *E, const LayerPlan *lp)
{
    char *after = E->train ? xasprintf("y, MASK(%s)", lp->mask_name) : xstrdup("y, NULL");
    emit_out(E, "const float *x = %s;", emit_in_ptr(E, lp, 0));
    emit_out(E, "float *y = %s;", emit_out_ptr(E, lp));
    lrn_call(E, lp->node, "cnn_lrn_forward", "x", after);
    free(after);
}

static void lrn_backward(Emitter *E, const LayerPlan *lp)
{
    char *before = xasprintf("x, y, MASK(%s), dy", lp->mask_name);
    backward_head(E, lp);
    emit_out(E, "if (!dx)");
    emit_out(E, "    return;");
    lrn_call(E, lp->node, "cnn_lrn_backward", before, "dx");
    free(before);
}

/* ---- dispatch ---- */

static void softmax_forward(Emitter *E, const LayerPlan *lp)
{
    copy_forward(E, lp);
    emit_softmax_forward(E, "y", (long)lp->node->out.c, plane(lp->node));
}

static void softmax_backward(Emitter *E, const LayerPlan *lp)
{
    const Node *n = lp->node;
    backward_head(E, lp);
    emit_softmax_backward(E, "y", "dy", (long)n->out.c, plane(n), n->id == E->net->output);
    emit_out(E, "if (dx)");
    emit_out(E, "    for (long p = 0; p < (long)n * %ld; p++) dx[p] += dy[p];", elems(n));
}

typedef struct {
    void (*forward)(Emitter *E, const LayerPlan *lp);
    void (*backward)(Emitter *E, const LayerPlan *lp);
} LayerEmitter;

/* ORDER OP.  The input has no code, and conv, deconv and fc run with the
 * kernel lower.c chooses (emit.c's kernels_of). */
static const LayerEmitter emitters[] = {
    [OP_INPUT] = {NULL, NULL},
    [OP_CONV] = {NULL, NULL},
    [OP_DECONV] = {NULL, NULL},
    [OP_POOL] = {pool_forward, pool_backward},
    [OP_FC] = {NULL, NULL},
    [OP_ACT] = {act_forward, act_backward},
    [OP_SOFTMAX] = {softmax_forward, softmax_backward},
    [OP_BATCHNORM] = {bn_forward, bn_backward},
    [OP_DROPOUT] = {dropout_forward, dropout_backward},
    [OP_FLATTEN] = {copy_forward, copy_backward},
    [OP_UPSAMPLE] = {upsample_forward, upsample_backward},
    [OP_ADD] = {add_forward, add_backward},
    [OP_MUL] = {mul_forward, mul_backward},
    [OP_CONCAT] = {concat_forward, concat_backward},
    [OP_CROP] = {crop_forward, crop_backward},
    [OP_PRELU] = {prelu_forward, prelu_backward},
    [OP_LRN] = {lrn_forward, lrn_backward},
};
_Static_assert(sizeof emitters / sizeof emitters[0] == OP_COUNT_, "an emitter row for every layer kind");

void emit_layer_forward(Emitter *E, const LayerPlan *lp)
{
    if (emitters[lp->node->op].forward)
        emitters[lp->node->op].forward(E, lp);
}

void emit_layer_backward(Emitter *E, const LayerPlan *lp)
{
    if (emitters[lp->node->op].backward)
        emitters[lp->node->op].backward(E, lp);
}
