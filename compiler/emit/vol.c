/* emit/vol.c - the kernels of volumes that need more than a spatial size
 * D*H*W: convolution, deconvolution, pooling and upsampling (crop is
 * layers.c's, for images and volumes).  They call the runtime (conv3d.c, vol3d.c)
 * with the geometry lower.c worked out, printed as a constant struct.
 *
 * Convolutions run an item per thread: each item's padded input, laid
 * out dL/dy and task scratch are in its FLAT(i), the packed weights in
 * m->col (packed again by every pass: m->col is shared by the layers).
 * The weight gradients sum over the items, so they split the filters (or
 * a deconvolution's channels) into n ranges instead, range j using item
 * j's task scratch. */
#include <stdio.h>

#include "emitter.h"

/* ---- the runtime's structs as C initialisers ---- */

static void print_conv3d(StrBuf *sb, const cnn_conv3d *g)
{
    sb_printf(sb, "{.c = %d, .d = %d, .h = %d, .w = %d, .f = %d, .kd = %d, .kh = %d, .kw = %d, ", g->c, g->d,
        g->h, g->w, g->f, g->kd, g->kh, g->kw);
    sb_printf(sb, ".sd = %d, .sh = %d, .sw = %d, .pd = %d, .ph = %d, .pw = %d, .dd = %d, .dh = %d, .dw = %d, ",
        g->sd, g->sh, g->sw, g->pd, g->ph, g->pw, g->dd, g->dh, g->dw);
    sb_printf(sb, ".od = %d, .oh = %d, .ow = %d, .direct = %d, .direct_dx = %d, ", g->od, g->oh, g->ow,
        g->direct, g->direct_dx);
    sb_printf(sb, ".xpad_planes = %ld, .dy_planes = %ld, .xpad_floats = %ld, .dy_floats = %ld, ", g->xpad_planes,
        g->dy_planes, g->xpad_floats, g->dy_floats);
    sb_printf(sb, ".wpack_floats = %ld, .task_floats = %ld}", g->wpack_floats, g->task_floats);
}

static void print_deconv3d(StrBuf *sb, const cnn_deconv3d *g)
{
    sb_printf(sb, "{.c = %d, .d = %d, .h = %d, .w = %d, .f = %d, .kd = %d, .kh = %d, .kw = %d, ", g->c, g->d,
        g->h, g->w, g->f, g->kd, g->kh, g->kw);
    sb_printf(sb, ".sd = %d, .sh = %d, .sw = %d, .pd = %d, .ph = %d, .pw = %d, .dd = %d, .dh = %d, .dw = %d, ",
        g->sd, g->sh, g->sw, g->pd, g->ph, g->pw, g->dd, g->dh, g->dw);
    sb_printf(sb, ".od = %d, .oh = %d, .ow = %d, .conv = ", g->od, g->oh, g->ow);
    print_conv3d(sb, &g->conv);
    sb_printf(sb, ", .x_planes = %ld, .dy_planes = %ld, .xp_floats = %ld, .dyp_floats = %ld, ", g->x_planes,
        g->dy_planes, g->xp_floats, g->dyp_floats);
    sb_printf(sb, ".wpack_floats = %ld, .task_floats = %ld}", g->wpack_floats, g->task_floats);
}

static void print_axes(StrBuf *sb, const char *field, const int v[3])
{
    sb_printf(sb, ".%s = {%d, %d, %d}, ", field, v[0], v[1], v[2]);
}

static void print_pool3d(StrBuf *sb, const cnn_pool3d *g)
{
    sb_printf(sb, "{.c = %d, ", g->c);
    print_axes(sb, "size", g->size);
    print_axes(sb, "k", g->k);
    print_axes(sb, "s", g->s);
    print_axes(sb, "pad", g->pad);
    print_axes(sb, "pad_end", g->pad_end);
    print_axes(sb, "extra", g->extra);
    sb_printf(sb, ".count_pad = %d, ", g->count_pad);
    print_axes(sb, "out", g->out);
    sb_printf(sb, ".in_plane = %ld, .out_plane = %ld}", g->in_plane, g->out_plane);
}

/* "static const TYPE g = {...};" for the layer's runtime geometry. */
static void declare_geometry(Emitter *E, const LayerPlan *lp)
{
    StrBuf sb;
    sb_init(&sb);
    switch (lp->low->kernel) {
    case KERNEL_CONV3D:
        sb_puts(&sb, "static const cnn_conv3d g = ");
        print_conv3d(&sb, &lp->low->k.conv3d);
        break;
    case KERNEL_DECONV3D:
        sb_puts(&sb, "static const cnn_deconv3d g = ");
        print_deconv3d(&sb, &lp->low->k.deconv3d);
        break;
    default:
        sb_puts(&sb, "static const cnn_pool3d g = ");
        print_pool3d(&sb, &lp->low->k.pool3d);
        break;
    }
    emit_out(E, "%s;", sb.data);
    sb_free(&sb);
}

static long in_elems(const Node *n)
{
    return (long)(n->in_shape.d * n->in_shape.h * n->in_shape.w * n->in_shape.c);
}

static long out_plane(const Node *n)
{
    return (long)(n->out.d * n->out.h * n->out.w);
}

/* The trailing activation (or softmax over channels) on all of y. */
static void trailing_act(Emitter *E, const Node *n)
{
    char count[64];
    snprintf(count, sizeof count, "(long)n * %lld", (long long)n->out_elems);
    if (n->act == ACT_SOFTMAX)
        emit_softmax_forward(E, "y", (long)n->out.c, out_plane(n));
    else
        emit_act_forward(E, n, "y", count);
}

/* Inside the loop over items i: xi, yi or dyi, and the item's scratch:
 * buf0 (the padded input), buf1 (dL/dy laid out) and task. */
static void item_pointers(Emitter *E, const Node *n, long buf0, long buf1, bool grads)
{
    emit_out(E, "const float *xi = x + (size_t)i * %ld;", in_elems(n));
    if (grads) {
        emit_out(E, "const float *dyi = dy + (size_t)i * %lld;", (long long)n->out_elems);
        emit_out(E, "float *dxi = dx ? dx + (size_t)i * %ld : NULL;", in_elems(n));
    } else {
        emit_out(E, "float *yi = y + (size_t)i * %lld;", (long long)n->out_elems);
    }
    emit_out(E, "float *buf0 = FLAT(i), *buf1 = buf0 + %ld, *task = buf1 + %ld;", buf0, buf1);
    emit_out(E, "(void)buf1;");
}

/* The packed weights: m->col, which exists only when some layer needs
 * it, so NULL when this one takes neither direct path (nothing packed). */
static const char *emit_pack(Emitter *E, const char *kind, long wpack_floats)
{
    if (!wpack_floats)
        return "NULL";
    emit_out(E, "cnn_%s_pack(&g, w, m->col);", kind);
    return "m->col";
}

/* ---- convolution ---- */

void emit_conv3d_forward(Emitter *E, const LayerPlan *lp)
{
    const cnn_conv3d *g = &lp->low->k.conv3d;
    emit_weighted_forward_head(E, lp);
    declare_geometry(E, lp);
    const char *wpack = emit_pack(E, "conv3d", g->wpack_floats);
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    item_pointers(E, lp->node, g->xpad_floats, g->dy_floats, false);
    emit_out(E, "cnn_conv3d_pad_input(&g, xi, buf0, 0, g.xpad_planes);");
    emit_out(E, "cnn_conv3d_forward(&g, xi, buf0, w, %s, %s, yi, 0, g.od, task);", wpack,
             lp->b_off >= 0 ? "b" : "NULL");
    emit_close_block(E);
    trailing_act(E, lp->node);
}

/* The loop over ranges j of `count` (filters or channels), each with item
 * j's task scratch, around the sum over items i. */
static void open_ranges(Emitter *E, long count, long task_at)
{
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (int j = 0; j < n; j++)");
    emit_out(E, "const int lo = (int)((long)j * %ld / n), hi = (int)((long)(j + 1) * %ld / n);", count, count);
    emit_out(E, "float *task = FLAT(j) + %ld;", task_at);
    emit_open_block(E, "for (int i = 0; i < n; i++)");
}

static void close_ranges(Emitter *E)
{
    emit_close_block(E);
    emit_close_block(E);
}

void emit_conv3d_backward(Emitter *E, const LayerPlan *lp)
{
    const cnn_conv3d *g = &lp->low->k.conv3d;
    const Node *n = lp->node;
    emit_weighted_backward_head(E, lp);
    if (lp->b_off >= 0)
        emit_out(E, "float *db = m->grads + %s;", lp->b_name);
    else
        emit_out(E, "float *db = NULL;");
    declare_geometry(E, lp);
    const char *wpack = emit_pack(E, "conv3d", g->wpack_floats);
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    item_pointers(E, n, g->xpad_floats, g->dy_floats, true);
    emit_out(E, "cnn_conv3d_pad_input(&g, xi, buf0, 0, g.xpad_planes);");
    emit_out(E, "cnn_conv3d_pad_dy(&g, dyi, buf1, 0, g.dy_planes);");
    emit_out(E, "if (dxi)");
    emit_out(E, "    cnn_conv3d_input_grads(&g, dyi, buf1, w, %s, dxi, 0, g.d, task);", wpack);
    emit_close_block(E);
    open_ranges(E, g->f, g->xpad_floats + g->dy_floats);
    emit_out(E, "cnn_conv3d_weight_grads(&g, x + (size_t)i * %ld, FLAT(i), dy + (size_t)i * %lld, FLAT(i) + %ld, dw, db, "
        "lo, hi, task);", in_elems(n), (long long)n->out_elems, g->xpad_floats);
    close_ranges(E);
}

/* ---- deconvolution ---- */

void emit_deconv3d_forward(Emitter *E, const LayerPlan *lp)
{
    const cnn_deconv3d *g = &lp->low->k.deconv3d;
    emit_weighted_forward_head(E, lp);
    declare_geometry(E, lp);
    const char *wpack = emit_pack(E, "deconv3d", g->wpack_floats);
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    item_pointers(E, lp->node, g->xp_floats, g->dyp_floats, false);
    emit_out(E, "cnn_deconv3d_pad_x(&g, xi, buf0, 0, g.x_planes);");
    emit_out(E, "cnn_deconv3d_forward(&g, xi, buf0, w, %s, %s, yi, 0, g.od, task);", wpack,
             lp->b_off >= 0 ? "b" : "NULL");
    emit_close_block(E);
    trailing_act(E, lp->node);
}

void emit_deconv3d_backward(Emitter *E, const LayerPlan *lp)
{
    const cnn_deconv3d *g = &lp->low->k.deconv3d;
    const Node *n = lp->node;
    emit_weighted_backward_head(E, lp);
    declare_geometry(E, lp);
    const char *wpack = emit_pack(E, "deconv3d", g->wpack_floats);
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    item_pointers(E, n, g->xp_floats, g->dyp_floats, true);
    emit_out(E, "cnn_deconv3d_pad_x(&g, xi, buf0, 0, g.x_planes);");
    emit_out(E, "cnn_deconv3d_pad_dy(&g, dyi, buf1, 0, g.dy_planes);");
    emit_out(E, "if (dxi)");
    emit_out(E, "    cnn_deconv3d_input_grads(&g, dyi, buf1, w, %s, dxi, 0, g.d, task);", wpack);
    emit_close_block(E);
    open_ranges(E, g->c, g->xp_floats + g->dyp_floats);
    emit_out(E, "cnn_deconv3d_weight_grads(&g, x + (size_t)i * %ld, FLAT(i), dy + (size_t)i * %lld, FLAT(i) + %ld, dw, "
        "lo, hi, task);", in_elems(n), (long long)n->out_elems, g->xp_floats);
    close_ranges(E);
    if (lp->b_off < 0)
        return;
    emit_out(E, "float *db = m->grads + %s;", lp->b_name);
    emit_out(E, "PARALLEL_FOR");
    emit_out(E, "for (int f = 0; f < %d; f++)", g->f);
    emit_out(E, "    for (int i = 0; i < n; i++)");
    emit_out(E, "        cnn_deconv3d_bias_grads(&g, dy + (size_t)i * %lld, db, f, f + 1);", (long long)n->out_elems);
}

/* ---- pooling: by planes (one channel of one item) ---- */

/* A max pool keeps each output's winner (an int in a float's place) in
 * its MASK buffer for the backward, whenever the code can train. */
static const char *winners(char buf[static 128], Emitter *E, const LayerPlan *lp)
{
    if (!E->train)
        return "NULL";
    snprintf(buf, 128, "(int *)MASK(%s)", lp->mask_name);
    return buf;
}

void emit_pool3d_forward(Emitter *E, const LayerPlan *lp)
{
    const Node *n = lp->node;
    char buf[128];
    emit_out(E, "const float *x = %s;", emit_in_ptr(E, lp, 0));
    emit_out(E, "float *y = %s;", emit_out_ptr(E, lp));
    declare_geometry(E, lp);
    emit_out(E, "PARALLEL_FOR");
    emit_out(E, "for (long p = 0; p < (long)n * %lld; p++)", (long long)n->out.c);
    if (n->pool == POOL_MAX)
        emit_out(E, "    cnn_pool3d_max_forward(&g, x, p, p + 1, y, %s);", winners(buf, E, lp));
    else
        emit_out(E, "    cnn_pool3d_avg_forward(&g, x, p, p + 1, y);");
}

void emit_pool3d_backward(Emitter *E, const LayerPlan *lp)
{
    const Node *n = lp->node;
    char buf[128];
    emit_out(E, "const float *dy = %s;", emit_out_grad_ptr(E, lp));
    emit_out(E, "float *dx = %s;", emit_in_grad_ptr(E, lp, 0));
    emit_out(E, "if (!dx)");
    emit_out(E, "    return;");
    declare_geometry(E, lp);
    emit_out(E, "PARALLEL_FOR");
    emit_out(E, "for (long p = 0; p < (long)n * %lld; p++)", (long long)n->out.c);
    if (n->pool == POOL_MAX)
        emit_out(E, "    cnn_pool3d_max_backward(&g, %s, dy, p, p + 1, dx);", winners(buf, E, lp));
    else
        emit_out(E, "    cnn_pool3d_avg_backward(&g, dy, p, p + 1, dx);");
}

/* ---- upsampling: by planes ---- */

static void upsample_call(Emitter *E, const Node *n, const char *call)
{
    long long f = n->factor;
    emit_out(E, "static const int size[3] = {%lld, %lld, %lld}, k[3] = {%lld, %lld, %lld};",
        (long long)n->in_shape.d, (long long)n->in_shape.h, (long long)n->in_shape.w, f, f, f);
    emit_out(E, "PARALLEL_FOR");
    emit_out(E, "for (long p = 0; p < (long)n * %lld; p++)", (long long)n->out.c);
    emit_out(E, "    %s;", call);
}

void emit_upsample3d_forward(Emitter *E, const LayerPlan *lp)
{
    emit_out(E, "const float *x = %s;", emit_in_ptr(E, lp, 0));
    emit_out(E, "float *y = %s;", emit_out_ptr(E, lp));
    upsample_call(E, lp->node, "cnn_upsample3d_forward(x, size, k, p, p + 1, y)");
}

void emit_upsample3d_backward(Emitter *E, const LayerPlan *lp)
{
    emit_out(E, "const float *dy = %s;", emit_out_grad_ptr(E, lp));
    emit_out(E, "float *dx = %s;", emit_in_grad_ptr(E, lp, 0));
    emit_out(E, "if (!dx)");
    emit_out(E, "    return;");
    upsample_call(E, lp->node, "cnn_upsample3d_backward(dy, size, k, p, p + 1, dx)");
}
