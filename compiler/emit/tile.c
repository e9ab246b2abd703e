/* emit/tile.c - register-tiled direct convolution, the default for layers
 * with stride 1 and no groups (most of VGG, ResNet and U-Net).
 *
 * The geometry (lower.c's TileGeom) is like emit/flat.c's: the input is
 * copied into zero-padded planes of width WP, and output position
 * q = oh*WP + ow reads input position q + the tap's offset.  What changes
 * is the order of the work:
 * the runtime's kernels (runtime/kernels.c, chosen at run time from the
 * CPU) take tiles of 24 positions, pack the rows they read side by side in
 * L1 and run a register-tiled micro-kernel over them for every block of
 * outputs.  This file lays out the planes and the tasks, and says which
 * tiles each task covers.
 *
 * dL/dx runs the same kernel over dL/dy (zeros around each plane),
 * reading the weights with filters and channels swapped; dL/dW has its own
 * kernel, dw_tile: 4 filters x 3 (channel, tap) pairs, summing over
 * positions. */
#include "cnnrt.h"
#include "emitter.h"

#define TILE_Q CNN_TILE_Q  /* positions per tile */
#define TILE_BUDGET 16384  /* floats of input a task's tiles span (64 KiB) */

static long round_up(long v, long m)
{
    return (v + m - 1) / m * m;
}

/* Tiles per parallel task: as many as keep the input they read,
 * channels x (positions + span), within TILE_BUDGET floats; an even
 * number, since 16-lane kernels take two tiles at once. */
static long tiles_per_task(long channels, long span, long blocks)
{
    long t = (TILE_BUDGET / channels - span) / TILE_Q;
    if (t > 2)
        t -= t % 2;
    return t < 1 ? 1 : t > blocks ? blocks : t;
}

/* static const long taps[] = {each tap's offset in an input plane}, for
 * dL/dW's pairs of (channel, tap). */
static void emit_taps(Emitter *E, const ConvGeom *g)
{
    StrBuf s;
    sb_init(&s);
    for (long t = 0; t < g->taps; t++)
        sb_printf(&s, "%s%ld", t ? ", " : "", t / g->kw * g->dh * g->wp + t % g->kw * g->dw);
    emit_out(E, "static const long taps[%ld] = {%s};", g->taps, s.data);
    sb_free(&s);
}

/* Image i's input copied into zero-padded planes, and the slack that the
 * tiles read past the last plane zeroed. */
static void emit_pad_input(Emitter *E, const ConvGeom *g, const TileGeom *tg)
{
    emit_out(E, "float *xp = FLAT(i);");
    emit_pad_planes(E, g, tg->xslack);
}

static void emit_compaction(Emitter *E, const LayerPlan *lp, const ConvGeom *g, const TileGeom *tg);

/* Tiles by the runtime's kernel, the forward reading the input planes,
 * dL/dx the dL/dy planes backwards. */
typedef struct {
    const char *in;     /* planes: "xp" or "dq" */
    long nin, stride;   /* channels summed over, floats between their planes */
    bool flipped;       /* dL/dx */
    long nout;          /* output channels */
    long w_out, w_in;   /* weight strides: per output, per input channel */
    const char *out;    /* output rows: "yq" or "dxp" */
    long out_stride;    /* floats between output rows */
} Packing;

static void emit_packed_tiles(Emitter *E, const ConvGeom *g, const Packing *k)
{
    emit_out(E, "const cnn_tile_conv tc = {.in = %s, .in_stride = %ld, .nin = %ld, .kh = %ld, .kw = %ld,", k->in, k->stride,
        k->nin, g->kh, g->kw);
    emit_out(E, "                          .row_step = %ld, .dw = %ld, .flipped = %d, .w = w, .w_out = %ld, .w_in = %ld,",
        g->dh * g->wp, g->dw, k->flipped, k->w_out, k->w_in);
    emit_out(E, "                          .nout = %ld, .out = %s, .out_stride = %ld};", k->nout, k->out, k->out_stride);
}

/* Image i's `blocks` tiles, in tasks of `per` (the last may have fewer):
 * opens the loops over images and tasks; returns whether there is a loop
 * over tasks. */
static bool open_tasks(Emitter *E, long blocks, long per)
{
    long tasks = (blocks + per - 1) / per;
    if (tasks == 1) {
        emit_out(E, "/* each image one task: %ld tiles of 24 positions for every 4 filters */", blocks);
        emit_out(E, "PARALLEL_FOR");
        emit_open_block(E, "for (int i = 0; i < n; i++)");
        return false;
    }
    emit_out(E, "/* %ld tasks per image, each %ld tiles of 24 positions for every 4 filters */", tasks, per);
    emit_out(E, "PARALLEL_FOR2");
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    emit_open_block(E, "for (long task = 0; task < %ld; task++)", tasks);
    return true;
}

/* The task's tiles through the kernel, and the loops closed. */
static void close_tasks(Emitter *E, long blocks, long per, bool tasks)
{
    if (tasks) {
        emit_out(E, "const long end = task * %ld + %ld < %ld ? task * %ld + %ld : %ld;", per, per, blocks, per, per,
            blocks);
        emit_out(E, "cnn_kernels_best()->conv_tiles(&tc, task * %ld, end);", per);
        emit_close_block(E);
    } else {
        emit_out(E, "cnn_kernels_best()->conv_tiles(&tc, 0, %ld);", blocks);
    }
    emit_close_block(E);
}

void emit_tile_conv_forward(Emitter *E, const LayerPlan *lp)
{
    const ConvGeom g = lp->low->g;
    const TileGeom tg = lp->low->k.tile;
    long blocks = tg.nq24 / TILE_Q, per = tiles_per_task(g.c, g.span, blocks);
    Packing k = {"xp", g.c, g.plane, false, g.f, g.c * g.taps, g.taps, "yq", tg.nq24};
    emit_weighted_forward_head(E, lp);
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    emit_pad_input(E, &g, &tg);
    emit_close_block(E);
    bool tasks = open_tasks(E, blocks, per);
    emit_out(E, "const float *xp = FLAT(i);");
    emit_out(E, "float *yq = FLAT(i) + %ld;   /* rows of width %ld */", tg.xregion, g.wp);
    emit_packed_tiles(E, &g, &k);
    close_tasks(E, blocks, per, tasks);
    emit_compaction(E, lp, &g, &tg);
}

/* The output rows cut back to the image, with bias and activation. */
static void emit_compaction(Emitter *E, const LayerPlan *lp, const ConvGeom *g, const TileGeom *tg)
{
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    emit_out(E, "const float *yq = FLAT(i) + %ld;", tg->xregion);
    emit_open_block(E, "for (long f = 0; f < %ld; f++)", g->f);
    emit_out(E, "const float *yr = yq + f * %ld;", tg->nq24);
    emit_output_rows(E, lp, "yr", g->wp);
    emit_close_block(E);
    emit_close_block(E);
    if (lp->node->act == ACT_SOFTMAX)
        emit_softmax_forward(E, "y", g->f, g->oh * g->ow);
}

/* Image i's input planes and dL/dy planes, bstride apart: span zeros,
 * the rows of width WP (zero where no output is), zeros up to np24. */
static void emit_backward_planes(Emitter *E, const ConvGeom *g, const TileGeom *tg)
{
    emit_pad_input(E, g, tg);
    emit_out(E, "float *dq = xp + %ld;", tg->xregion);
    emit_out(E, "memset(dq, 0, sizeof(float) * %ld);", tg->f4 * tg->bstride);
    char to[64];
    Term t[] = {{tg->bstride, "f"}, {g->wp, "r"}, {g->span, NULL}};
    emit_out(E, "for (long f = 0; f < %ld; f++)", g->f);
    emit_out(E, "    for (long r = 0; r < %ld; r++)", g->oh);
    emit_out(E, "        memcpy(dq + %s, dy + (size_t)i * %ld + (f * %ld + r) * %ld,", emit_linear(to, sizeof to, 3, t),
        g->out_size, g->oh, g->ow);
    emit_out(E, "               sizeof(float) * %ld);", g->ow);
}

/* dL/dW (and dL/db): each block of 4 filters is one thread's.  The sums
 * run over a chunk of images at a time (as many as keep their planes
 * within 256 KiB), each pair of planes read once per chunk. */
static void emit_weight_grads(Emitter *E, const LayerPlan *lp, const ConvGeom *g, const TileGeom *tg)
{
    long ct = g->c * g->taps, chunk = 65536 / E->flat_elems;
    if (chunk < 1)
        chunk = 1;
    /* One block of filters: one thread (their sums would race). */
    if (tg->f4 > 4)
        emit_out(E, "PARALLEL_FOR");
    bool fb = emit_loop(E, "long", "fb", tg->f4 / 4);
    char dq[64], f[32], js[64], at[64];
    Term dt[] = {{tg->xregion + g->span, NULL}, {fb ? 4 * tg->bstride : 0, "fb"}};
    Term ft[] = {{fb ? 4 : 0, "fb"}, {1, "j"}};
    emit_linear(f, sizeof f, 2, ft);
    /* the filters j of the block: 4, fewer in the last one */
    if (fb)
        snprintf(js, sizeof js, "j < 4 && %s < %ld", f, g->f);
    else
        snprintf(js, sizeof js, "j < %ld", g->f);
    emit_open_block(E, "for (int i0 = 0; i0 < n; i0 += %ld)", chunk);
    emit_out(E, "const float *xp = FLAT(i0);");
    emit_out(E, "const float *dq = xp + %s;", emit_linear(dq, sizeof dq, 2, dt));
    emit_out(E, "const long images = n - i0 < %ld ? n - i0 : %ld;", chunk, chunk);
    emit_out(E, "const cnn_kernels *kernels = cnn_kernels_best();");
    emit_open_block(E, "for (long u = 0; u < %ld; u += 3)", ct);
    emit_out(E, "/* the (channel, tap) pairs u, u+1, u+2 (the last one repeated at the end) */");
    emit_out(E, "const long u1 = u + 1 < %ld ? u + 1 : u, u2 = u + 2 < %ld ? u + 2 : u1;", ct, ct);
    emit_out(E, "float s[12] = {0};");
    emit_out(E, "kernels->dw_tile(dq, %ld, xp + u / %ld * %ld + taps[u %% %ld], xp + u1 / %ld * %ld + taps[u1 %% %ld],",
        tg->bstride, g->taps, g->plane, g->taps, g->taps, g->plane, g->taps);
    emit_out(E, "                 xp + u2 / %ld * %ld + taps[u2 %% %ld], %ld, images, %ld, s);", g->taps, g->plane, g->taps,
        round_up(g->nq, 8) / 8, E->flat_elems);
    Term wt[] = {{fb ? 4 * ct : 0, "fb"}, {ct, "j"}, {1, "u"}, {1, "k"}};
    emit_out(E, "for (long j = 0; %s; j++)", js);
    emit_out(E, "    for (long k = 0; k < 3 && u + k < %ld; k++)", ct);
    emit_out(E, "        dw[%s] += s[j * 3 + k];", emit_linear(at, sizeof at, 4, wt));
    emit_close_block(E);
    if (lp->b_off >= 0) {
        emit_out(E, "float *db = m->grads + %s;", lp->b_name);
        emit_open_block(E, "for (long j = 0; %s; j++)", js);
        emit_out(E, "float sum = 0.0f;");
        emit_out(E, "for (long im = 0; im < images; im++)");
        emit_out(E, "    for (long q = 0; q < %ld; q++)", g->nq);
        emit_out(E, "        sum += dq[im * %ld + j * %ld + q];", E->flat_elems, tg->bstride);
        emit_out(E, "db[%s] += sum;", f);
        emit_close_block(E);
    }
    emit_close_block(E);
    emit_end_loop(E, fb);
}

/* dL/dx: dxp[c][p] = sum over filters f and taps t of w[f][c][t] *
 * dy_f[p - off(t)], the micro-kernel over dL/dy with offsets span - off(t);
 * the planes overwrite the input copy, no longer needed. */
static void emit_input_grads(Emitter *E, const ConvGeom *g, const TileGeom *tg)
{
    long blocks = tg->np24 / TILE_Q, per = tiles_per_task(g->f, g->span, blocks);
    Packing k = {"dq", g->f, tg->bstride, true, g->c, g->taps, g->c * g->taps, "dxp", tg->np24};
    emit_out(E, "if (!dx)");
    emit_out(E, "    return;");
    bool tasks = open_tasks(E, blocks, per);
    emit_out(E, "float *dxp = FLAT(i);");
    emit_out(E, "const float *dq = dxp + %ld;", tg->xregion);
    emit_packed_tiles(E, g, &k);
    close_tasks(E, blocks, per, tasks);
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    emit_out(E, "const float *dxp = FLAT(i);");
    emit_unpad_planes(E, g, tg->np24);
    emit_close_block(E);
}

void emit_tile_conv_backward(Emitter *E, const LayerPlan *lp)
{
    const ConvGeom g = lp->low->g;
    const TileGeom tg = lp->low->k.tile;
    emit_taps(E, &g);
    emit_weighted_backward_head(E, lp);
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    emit_backward_planes(E, &g, &tg);
    emit_close_block(E);
    emit_weight_grads(E, lp, &g, &tg);
    emit_input_grads(E, &g, &tg);
}
