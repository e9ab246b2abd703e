/* emit/vol.c - the kernels of volumes that need more than a spatial size
 * D*H*W: convolution, deconvolution, pooling and upsampling (crop is
 * layers.c's, for images and volumes).  They call the runtime (conv3d.c, vol3d.c)
 * with the geometry lower.c worked out, printed as a constant struct.
 *
 * Each item's padded input and laid out dL/dy are in its FLAT(i), each
 * thread's task scratch in TASK(), the packed weights in m->col (packed
 * again by every pass: m->col is shared by the layers).  How the team
 * splits the work: below, "the thread team's share of an item". */
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

/* ---- the thread team's share of an item ----
 *
 * V-Net trains at batch 1 or 2, so an item per thread would leave the
 * team idle: each pass splits the item's work instead.  The padding runs
 * plane by plane, the forward and dL/dx by ranges of depths, `parts` of
 * them per item (PARTS(n): one per thread at batch 1), each range with
 * its thread's task scratch TASK().  dL/dW sums over the items, so the
 * team splits the filters (a deconvolution's channels), 4 at a time, a
 * range per thread.  (dL/dx by columns splits channels, not depths.)
 * No range's numbers depend on the others' bounds: every output is summed
 * in the same order with any number of threads. */

/* Item i's scratch: FLAT(i), which exists only when some layer needs
 * it, so NULL when none does (every volume layer by columns). */
static const char *item_scratch(const Emitter *E)
{
    return E->flat_elems ? "FLAT(i)" : "NULL";
}

/* "FLAT(i) + off": item i's scratch from float off on. */
static const char *scratch_at(const Emitter *E, char buf[static 48], long off)
{
    if (!E->flat_elems)
        return "NULL";
    if (off)
        snprintf(buf, 48, "FLAT(i) + %ld", off);
    else
        snprintf(buf, 48, "FLAT(i)");
    return buf;
}

/* PARALLEL_FOR: fn(&g, src of item i, its planes at FLAT(i) + at, plane
 * p, p + 1) for every padded plane of every item. */
static void pad_planes(Emitter *E, const char *fn, const char *src, long src_elems, long at, long planes)
{
    char off[32] = "";
    if (!planes)
        return;
    if (at)
        snprintf(off, sizeof off, " + %ld", at);
    emit_out(E, "PARALLEL_FOR");
    emit_out(E, "for (long p = 0; p < (long)n * %ld; p++)", planes);
    emit_out(E, "    %s(&g, %s + (size_t)(p / %ld) * %ld, FLAT(p / %ld)%s, p %% %ld, p %% %ld + 1);", fn, src, planes,
        src_elems, planes, off, planes, planes);
}

/* Opens the loop over (item i, depths or channels [lo, hi) of `count`);
 * the caller writes the call and closes it. */
static void open_parts(Emitter *E, long count)
{
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (long t = 0; t < (long)n * parts; t++)");
    emit_out(E, "const int i = (int)(t / parts), j = (int)(t %% parts);");
    emit_out(E, "const int lo = (int)((long)j * %ld / parts), hi = (int)((long)(j + 1) * %ld / parts);", count, count);
}

/* Opens the loop over ranges [lo, hi) of `count` filters or channels,
 * one per thread, multiples of 4, around the sum over items i. */
static void open_ranges(Emitter *E, long count)
{
    long units = (count + 3) / 4;
    emit_out(E, "const int teams = THREADS();");
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (int j = 0; j < teams; j++)");
    emit_out(E, "const int lo = 4 * (int)((long)j * %ld / teams), to = 4 * (int)((long)(j + 1) * %ld / teams);", units,
        units);
    emit_out(E, "const int hi = to < %ld ? to : %ld;", count, count);
    emit_open_block(E, "for (int i = 0; i < n; i++)");
}

static void close_ranges(Emitter *E)
{
    emit_close_block(E);
    emit_close_block(E);
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

/* The forward of a convolution or deconvolution (`kind`): its input's
 * padded planes, then its output depths. */
static void volume_forward(Emitter *E, const LayerPlan *lp, const char *kind, const char *pad, long planes, long od,
    long wpack_floats)
{
    const Node *n = lp->node;
    emit_weighted_forward_head(E, lp);
    declare_geometry(E, lp);
    emit_out(E, "/* padded planes, then output depths: split over items and threads */");
    emit_out(E, "const int parts = PARTS(n);");
    const char *wpack = emit_pack(E, kind, wpack_floats);
    pad_planes(E, pad, "x", in_elems(n), 0, planes);
    open_parts(E, od);
    emit_out(E, "cnn_%s_forward(&g, x + (size_t)i * %ld, %s, w, %s, %s, y + (size_t)i * %lld, lo, hi, "
        "TASK());", kind, in_elems(n), item_scratch(E), wpack, lp->b_off >= 0 ? "b" : "NULL", (long long)n->out_elems);
    emit_close_block(E);
    trailing_act(E, n);
}

/* ---- convolution ---- */

void emit_conv3d_forward(Emitter *E, const LayerPlan *lp)
{
    const cnn_conv3d *g = &lp->low->k.conv3d;
    volume_forward(E, lp, "conv3d", "cnn_conv3d_pad_input", g->xpad_planes, g->od, g->wpack_floats);
}

/* A backward pass as conv3d and deconv3d share it: the runtime's calls,
 * the planes and floats of each item's padded x and laid-out dL/dy, and
 * what dL/dx and dL/dW split (depths or channels; filters or channels). */
typedef struct {
    const char *kind, *pad_x, *pad_dy, *dx_call, *db_arg;
    const char *dx_split, *dw_split;    /* for the generated comment */
    long x_planes, x_floats, dy_planes, dx_count, dw_count, wpack_floats;
} VolumeBackward;

/* The padding, dL/dx by items and ranges, then dL/dW by ranges over the
 * threads, each summing over the items. */
static void volume_backward(Emitter *E, const LayerPlan *lp, const VolumeBackward *v)
{
    const Node *n = lp->node;
    char at[48];
    emit_out(E, "/* padded planes and input %s split over items and threads; the", v->dx_split);
    emit_out(E, " * %s over threads%s */", v->dw_split, v->kind[0] == 'c' ? " (it sums over the items)" : "");
    emit_out(E, "const int parts = PARTS(n);");
    const char *wpack = emit_pack(E, v->kind, v->wpack_floats);
    pad_planes(E, v->pad_x, "x", in_elems(n), 0, v->x_planes);
    pad_planes(E, v->pad_dy, "dy", (long)n->out_elems, v->x_floats, v->dy_planes);
    emit_open_block(E, "if (dx)");
    open_parts(E, v->dx_count);
    emit_out(E, "%s(&g, dy + (size_t)i * %lld, %s, w, %s, dx + (size_t)i * %ld, lo, hi, TASK());", v->dx_call,
        (long long)n->out_elems, scratch_at(E, at, v->x_floats), wpack, in_elems(n));
    emit_close_block(E);
    emit_close_block(E);
    open_ranges(E, v->dw_count);
    emit_out(E, "cnn_%s_weight_grads(&g, x + (size_t)i * %ld, %s, dy + (size_t)i * %lld, %s, dw%s, lo, hi, TASK());",
        v->kind, in_elems(n), item_scratch(E), (long long)n->out_elems, scratch_at(E, at, v->x_floats), v->db_arg);
    close_ranges(E);
}

void emit_conv3d_backward(Emitter *E, const LayerPlan *lp)
{
    const cnn_conv3d *g = &lp->low->k.conv3d;
    emit_weighted_backward_head(E, lp);
    if (lp->b_off >= 0)
        emit_out(E, "float *db = m->grads + %s;", lp->b_name);
    else
        emit_out(E, "float *db = NULL;");
    declare_geometry(E, lp);
    /* Columns share an output depth's products among the input depths
     * its taps reach: dL/dx by columns splits the channels instead. */
    VolumeBackward v = {"conv3d", "cnn_conv3d_pad_input", "cnn_conv3d_pad_dy",
        g->direct_dx ? "cnn_conv3d_input_grads" : "cnn_conv3d_input_grads_channels", ", db",
        g->direct_dx ? "depths" : "channels", "filters of dL/dW",
        g->xpad_planes, g->xpad_floats, g->dy_planes, g->direct_dx ? g->d : g->c, g->f, g->wpack_floats};
    volume_backward(E, lp, &v);
}

/* ---- deconvolution ---- */

void emit_deconv3d_forward(Emitter *E, const LayerPlan *lp)
{
    const cnn_deconv3d *g = &lp->low->k.deconv3d;
    volume_forward(E, lp, "deconv3d", "cnn_deconv3d_pad_x", g->x_planes, g->od, g->wpack_floats);
}

void emit_deconv3d_backward(Emitter *E, const LayerPlan *lp)
{
    const cnn_deconv3d *g = &lp->low->k.deconv3d;
    const Node *n = lp->node;
    emit_weighted_backward_head(E, lp);
    declare_geometry(E, lp);
    VolumeBackward v = {"deconv3d", "cnn_deconv3d_pad_x", "cnn_deconv3d_pad_dy", "cnn_deconv3d_input_grads", "",
        "depths", "channels of dL/dW and the filters of dL/db", g->x_planes, g->xp_floats, g->dy_planes, g->d,
        g->c, g->wpack_floats};
    volume_backward(E, lp, &v);
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
