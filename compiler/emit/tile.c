/* emit/tile.c - register-tiled direct convolution, the default for layers
 * with stride 1 and no groups (most of VGG, ResNet and U-Net).
 *
 * The geometry is emit/flat.c's: the input is copied into zero-padded
 * planes of width WP, and output position q = oh*WP + ow reads input
 * position q + the tap's offset.  What changes is the order of the work:
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
#define PACK_MOST CNN_TILE_PACK_MOST  /* floats of a packed channel; larger kernels: columns */

typedef struct {
    long c, h, w, hp, wp, f, oh, ow, pt, pl, kh, kw, dh, dw, taps;
    long plane;     /* a padded input plane, HP*WP */
    long nq, nq24;  /* output positions (OH-1)*WP+OW, and rounded up to tiles */
    long np24;      /* a plane rounded up to tiles: dL/dx positions */
    long f4, c4;    /* filters and channels rounded up to 4 */
    long span;      /* the largest tap offset */
    long xslack;    /* floats after the last input plane that tiles read */
    long bstride;   /* backward: a dL/dy plane, span zeros first, zeros to np24 after */
    long xregion;   /* scratch per image: input planes, later dL/dx planes ... */
    long qregion;   /* ... then output planes, or dL/dy planes */
    long in_size, out_size;
} Tile;

static long round_up(long v, long m)
{
    return (v + m - 1) / m * m;
}

static long max2(long a, long b)
{
    return a > b ? a : b;
}

static Tile tile_of(const Node *n)
{
    Tile g;
    g.c = (long)n->in_shape.c;
    g.h = (long)n->in_shape.h;
    g.w = (long)n->in_shape.w;
    g.pt = (long)n->pad_t;
    g.pl = (long)n->pad_l;
    g.hp = g.h + g.pt + (long)n->pad_b;
    g.wp = g.w + g.pl + (long)n->pad_r;
    g.f = (long)n->filters;
    g.oh = (long)n->out.h;
    g.ow = (long)n->out.w;
    g.kh = (long)n->kh;
    g.kw = (long)n->kw;
    g.dh = (long)n->dh;
    g.dw = (long)n->dw;
    g.taps = g.kh * g.kw;
    g.plane = g.hp * g.wp;
    g.nq = (g.oh - 1) * g.wp + g.ow;
    g.nq24 = round_up(g.nq, TILE_Q);
    g.np24 = round_up(g.plane, TILE_Q);
    g.f4 = round_up(g.f, 4);
    g.c4 = round_up(g.c, 4);
    g.span = (g.kh - 1) * g.dh * g.wp + (g.kw - 1) * g.dw;
    g.xslack = max2(0, g.nq24 + g.span - g.plane);
    g.bstride = g.span + g.np24;
    g.xregion = max2(g.c * g.plane + g.xslack, g.c4 * g.np24);
    g.qregion = max2(g.f4 * g.nq24, g.f4 * g.bstride);
    g.in_size = g.c * g.h * g.w;
    g.out_size = g.f * g.oh * g.ow;
    return g;
}

/* Floats of one packed kernel row: the 24 positions of a tile and the
 * KW-1 dilated columns the kernel reaches beyond them. */
static long packed_row(const Tile *g)
{
    return TILE_Q + (g->kw - 1) * g->dw;
}

/* Direct tiles compute the positions of rows of width WP, 24 at a time,
 * of which only OH*OW are outputs (16 of 24 for a 4x4 plane): they waste
 * (nq24 - P) / P of the work.  The column kernels of emit/cols.c waste
 * none, but copy K*P values per image for F*K*P multiply-adds: measured,
 * about 20/F of the work.  Direct tiles are the default unless they lose,
 * or the kernel is too large for a tile's packed rows (PACK_MOST). */
bool tile_conv_ok(const Node *n)
{
    if (n->op != OP_CONV || n->sh != 1 || n->sw != 1 || n->groups != 1)
        return false;
    Tile g = tile_of(n);
    long p = g.oh * g.ow;
    return g.kh * packed_row(&g) <= PACK_MOST && 20 * p >= g.f * (g.nq24 - p);
}

long conv_scratch_elems(const Node *n)
{
    if (!tile_conv_ok(n))
        return cols_conv_ok(n) ? 0 : flat_conv_elems(n);
    Tile g = tile_of(n);
    return g.xregion + g.qregion;
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
static void emit_taps(Emitter *E, const Tile *g)
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
static void emit_pad_input(Emitter *E, const Tile *g)
{
    emit_out(E, "float *xp = m->flat + (size_t)i * %ld;", E->flat_elems);
    if (g->hp == g->h && g->wp == g->w) {
        emit_out(E, "memcpy(xp, x + (size_t)i * %ld, sizeof(float) * %ld);", g->in_size, g->in_size);
        if (g->xslack)
            emit_out(E, "memset(xp + %ld, 0, sizeof(float) * %ld);", g->in_size, g->xslack);
        return;
    }
    emit_out(E, "memset(xp, 0, sizeof(float) * %ld);", g->c * g->plane + g->xslack);
    emit_out(E, "for (long c = 0; c < %ld; c++)", g->c);
    emit_out(E, "    for (long r = 0; r < %ld; r++)", g->h);
    emit_out(E, "        memcpy(xp + (c * %ld + r + %ld) * %ld + %ld, x + (size_t)i * %ld + (c * %ld + r) * %ld,",
        g->hp, g->pt, g->wp, g->pl, g->in_size, g->h, g->w);
    emit_out(E, "               sizeof(float) * %ld);", g->w);
}

static void emit_compaction(Emitter *E, const LayerPlan *lp, const Tile *g);

/* One task's tiles, [task * per, end), by the runtime's kernel.  The
 * forward reads the input planes; dL/dx reads dL/dy planes backwards. */
typedef struct {
    const char *in;     /* planes: "xp" or "dq" */
    long nin, stride;   /* channels summed over, floats between their planes */
    bool flipped;       /* dL/dx */
    long nout;          /* output channels */
    long w_out, w_in;   /* weight strides: per output, per input channel */
    const char *out;    /* output rows: "yq" or "dxp" */
    long out_stride;    /* floats between output rows */
} Packing;

static void emit_packed_tiles(Emitter *E, const Tile *g, long per, const Packing *k)
{
    emit_out(E, "const cnn_tile_conv tc = {.in = %s, .in_stride = %ld, .nin = %ld, .kh = %ld, .kw = %ld,", k->in, k->stride,
        k->nin, g->kh, g->kw);
    emit_out(E, "                          .row_step = %ld, .dw = %ld, .flipped = %d, .w = w, .w_out = %ld, .w_in = %ld,",
        g->dh * g->wp, g->dw, k->flipped, k->w_out, k->w_in);
    emit_out(E, "                          .nout = %ld, .out = %s, .out_stride = %ld};", k->nout, k->out, k->out_stride);
    emit_out(E, "cnn_kernels_best()->conv_tiles(&tc, task * %ld, end);", per);
}

void emit_tile_conv_forward(Emitter *E, const LayerPlan *lp)
{
    const Node *n = lp->node;
    Tile g = tile_of(n);
    long blocks = g.nq24 / TILE_Q, per = tiles_per_task(g.c, g.span, blocks);
    long tasks = (blocks + per - 1) / per;
    Packing k = {"xp", g.c, g.plane, false, g.f, g.c * g.taps, g.taps, "yq", g.nq24};
    emit_weighted_forward_head(E, lp);
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    emit_pad_input(E, &g);
    emit_close_block(E);
    emit_out(E, "/* %ld tasks per image, each %ld tiles of 24 positions for every 4 filters */", tasks, per);
    emit_out(E, "PARALLEL_FOR2");
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    emit_open_block(E, "for (long task = 0; task < %ld; task++)", tasks);
    emit_out(E, "const float *xp = m->flat + (size_t)i * %ld;", E->flat_elems);
    emit_out(E, "float *yq = m->flat + (size_t)i * %ld + %ld;   /* rows of width %ld */", E->flat_elems, g.xregion, g.wp);
    emit_out(E, "long end = task * %ld + %ld < %ld ? task * %ld + %ld : %ld;", per, per, blocks, per, per, blocks);
    emit_packed_tiles(E, &g, per, &k);
    emit_close_block(E);
    emit_close_block(E);
    emit_compaction(E, lp, &g);
}

/* The output rows cut back to the image, with bias and activation. */
static void emit_compaction(Emitter *E, const LayerPlan *lp, const Tile *g)
{
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    emit_out(E, "const float *yq = m->flat + (size_t)i * %ld + %ld;", E->flat_elems, g->xregion);
    emit_open_block(E, "for (long f = 0; f < %ld; f++)", g->f);
    emit_out(E, "const float *yr = yq + f * %ld;", g->nq24);
    emit_output_rows(E, lp, "yr", g->wp);
    emit_close_block(E);
    emit_close_block(E);
    if (lp->node->act == ACT_SOFTMAX)
        emit_softmax_forward(E, "y", g->f, g->oh * g->ow);
}

/* Image i's input planes and dL/dy planes, bstride apart: span zeros,
 * the rows of width WP (zero where no output is), zeros up to np24. */
static void emit_backward_planes(Emitter *E, const Tile *g)
{
    emit_pad_input(E, g);
    emit_out(E, "float *dq = xp + %ld;", g->xregion);
    emit_out(E, "memset(dq, 0, sizeof(float) * %ld);", g->f4 * g->bstride);
    emit_out(E, "for (long f = 0; f < %ld; f++)", g->f);
    emit_out(E, "    for (long r = 0; r < %ld; r++)", g->oh);
    emit_out(E, "        memcpy(dq + f * %ld + %ld + r * %ld, dy + (size_t)i * %ld + (f * %ld + r) * %ld,", g->bstride,
        g->span, g->wp, g->out_size, g->oh, g->ow);
    emit_out(E, "               sizeof(float) * %ld);", g->ow);
}

/* dL/dW (and dL/db): each block of 4 filters is one thread's.  The sums
 * run over a chunk of images at a time (as many as keep their planes
 * within 256 KiB), each pair of planes read once per chunk. */
static void emit_weight_grads(Emitter *E, const LayerPlan *lp, const Tile *g)
{
    long ct = g->c * g->taps, chunk = 65536 / E->flat_elems;
    if (chunk < 1)
        chunk = 1;
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (long fb = 0; fb < %ld; fb++)", g->f4 / 4);
    emit_open_block(E, "for (int i0 = 0; i0 < n; i0 += %ld)", chunk);
    emit_out(E, "const float *xp = m->flat + (size_t)i0 * %ld;", E->flat_elems);
    emit_out(E, "const float *dq = xp + %ld + fb * %ld + %ld;", g->xregion, 4 * g->bstride, g->span);
    emit_out(E, "const long images = n - i0 < %ld ? n - i0 : %ld;", chunk, chunk);
    emit_out(E, "const cnn_kernels *kernels = cnn_kernels_best();");
    emit_open_block(E, "for (long u = 0; u < %ld; u += 3)", ct);
    emit_out(E, "/* the (channel, tap) pairs u, u+1, u+2 (the last one repeated at the end) */");
    emit_out(E, "const long u1 = u + 1 < %ld ? u + 1 : u, u2 = u + 2 < %ld ? u + 2 : u1;", ct, ct);
    emit_out(E, "float s[12] = {0};");
    emit_out(E, "kernels->dw_tile(dq, %ld, xp + u / %ld * %ld + taps[u %% %ld], xp + u1 / %ld * %ld + taps[u1 %% %ld],",
        g->bstride, g->taps, g->plane, g->taps, g->taps, g->plane, g->taps);
    emit_out(E, "                 xp + u2 / %ld * %ld + taps[u2 %% %ld], %ld, images, %ld, s);", g->taps, g->plane, g->taps,
        round_up(g->nq, 8) / 8, E->flat_elems);
    emit_out(E, "for (long j = 0; j < 4 && fb * 4 + j < %ld; j++)", g->f);
    emit_out(E, "    for (long k = 0; k < 3 && u + k < %ld; k++)", ct);
    emit_out(E, "        dw[(fb * 4 + j) * %ld + u + k] += s[j * 3 + k];", ct);
    emit_close_block(E);
    if (lp->b_off >= 0) {
        emit_out(E, "float *db = m->grads + %ld;", lp->b_off);
        emit_open_block(E, "for (long j = 0; j < 4 && fb * 4 + j < %ld; j++)", g->f);
        emit_out(E, "float sum = 0.0f;");
        emit_out(E, "for (long im = 0; im < images; im++)");
        emit_out(E, "    for (long q = 0; q < %ld; q++)", g->nq);
        emit_out(E, "        sum += dq[im * %ld + j * %ld + q];", E->flat_elems, g->bstride);
        emit_out(E, "db[fb * 4 + j] += sum;");
        emit_close_block(E);
    }
    emit_close_block(E);
    emit_close_block(E);
}

/* dL/dx: dxp[c][p] = sum over filters f and taps t of w[f][c][t] *
 * dy_f[p - off(t)], the micro-kernel over dL/dy with offsets span - off(t);
 * the planes overwrite the input copy, no longer needed. */
static void emit_input_grads(Emitter *E, const Tile *g)
{
    long blocks = g->np24 / TILE_Q, per = tiles_per_task(g->f, g->span, blocks);
    long tasks = (blocks + per - 1) / per;
    Packing k = {"dq", g->f, g->bstride, true, g->c, g->taps, g->c * g->taps, "dxp", g->np24};
    emit_out(E, "if (!dx)");
    emit_out(E, "    return;");
    emit_out(E, "PARALLEL_FOR2");
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    emit_open_block(E, "for (long task = 0; task < %ld; task++)", tasks);
    emit_out(E, "float *dxp = m->flat + (size_t)i * %ld;", E->flat_elems);
    emit_out(E, "const float *dq = dxp + %ld;", g->xregion);
    emit_out(E, "long end = task * %ld + %ld < %ld ? task * %ld + %ld : %ld;", per, per, blocks, per, per, blocks);
    emit_packed_tiles(E, g, per, &k);
    emit_close_block(E);
    emit_close_block(E);
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    emit_out(E, "const float *dxp = m->flat + (size_t)i * %ld;", E->flat_elems);
    emit_out(E, "float *dxi = dx + (size_t)i * %ld;", g->in_size);
    emit_out(E, "for (long c = 0; c < %ld; c++)", g->c);
    emit_out(E, "    for (long r = 0; r < %ld; r++)", g->h);
    emit_out(E, "        for (long o = 0; o < %ld; o++)", g->w);
    emit_out(E, "            dxi[(c * %ld + r) * %ld + o] += dxp[c * %ld + (r + %ld) * %ld + o + %ld];", g->h, g->w,
        g->np24, g->pt, g->wp, g->pl);
    emit_close_block(E);
}

void emit_tile_conv_backward(Emitter *E, const LayerPlan *lp)
{
    Tile g = tile_of(lp->node);
    emit_taps(E, &g);
    emit_weighted_backward_head(E, lp);
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    emit_backward_planes(E, &g);
    emit_close_block(E);
    emit_weight_grads(E, lp, &g);
    emit_input_grads(E, &g);
}
