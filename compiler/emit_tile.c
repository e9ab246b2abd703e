/* emit_tile.c - register-tiled direct convolution, the default for layers
 * with stride 1 and no groups (most of VGG, ResNet and U-Net).
 *
 * The geometry is emit_flat.c's: the input is copied into zero-padded
 * planes of width WP, and output position q = oh*WP + ow reads input
 * position q + the tap's offset.  What changes is the order of the work.
 * A micro-kernel, conv_tile(), computes 4 filters x 24 positions at once in
 * 12 vector registers: per input channel and tap it loads 3 vectors of
 * input and broadcasts 4 weights, 7 loads for 12 fused multiply-adds, so
 * the FMA units rather than the loads set the pace (the flat loop loads 10
 * values for 9 FMAs).  Before each tile the rows its positions read are
 * packed side by side, so that those loads hit L1.  Measured on the 3x3
 * 64->64 convolution of 56x56: 50-67 GFLOP/s on a core whose FMA peak is
 * ~95 (the flat loop: 30).
 *
 * dL/dx runs the same micro-kernel over dL/dy (zeros around each plane),
 * reading the weights with filters and channels swapped; dL/dW has its own
 * micro-kernel, dw_tile(): 4 filters x 3 (channel, tap) pairs, summing
 * over positions in 12 vector registers.
 *
 * The kernels use GCC and clang vector extensions (8 floats, one AVX
 * register): plain C loops of this shape defeat both vectorisers, and GCC
 * folds the input loads into the multiply-adds (4 loads instead of 1)
 * unless an empty asm keeps them in registers. */
#include "emitter.h"

#define TILE_Q 24          /* positions per micro-kernel call: 3 vectors */
#define TILE_BUDGET 16384  /* floats of input a task's tiles span (64 KiB) */
#define PACK_MOST 1024     /* floats of a packed channel (KH rows); larger kernels: columns */

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
 * (nq24 - P) / P of the work.  The column kernels of emit_cols.c waste
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

/* Micro-kernel calls per parallel task: as many as keep the input they
 * read, channels x (positions + span), within TILE_BUDGET floats. */
static long tiles_per_task(long channels, long span, long blocks)
{
    long t = (TILE_BUDGET / channels - span) / TILE_Q;
    return t < 1 ? 1 : t > blocks ? blocks : t;
}

/* How many of block `var`'s 4 outputs exist, as a C expression. */
static const char *real_outputs(const char *var, long count)
{
    static char buf[64];
    if (count % 4 == 0)
        return "4";
    snprintf(buf, sizeof buf, "%s < %ld ? 4 : %ld", var, count / 4, count % 4);
    return buf;
}

void emit_tile_kernels(Emitter *E)
{
    out(E, "/* The register-tiled convolutions' 8-float vectors (GCC and clang).  On");
    out(E, " * x86 an empty asm keeps loaded inputs in registers: otherwise GCC reloads");
    out(E, " * them in every multiply-add. */");
    out(E, "typedef float v8f __attribute__((vector_size(32)));");
    out(E, "#if defined(__GNUC__) && defined(__AVX__) && (defined(__x86_64__) || defined(__i386__))");
    out(E, "#define KEEP(v) __asm__(\"\" : \"+x\"(v))");
    out(E, "#else");
    out(E, "#define KEEP(v) (void)0");
    out(E, "#endif");
    out(E, "#if defined(__GNUC__) && defined(__FMA__)");
    out(E, "#include <immintrin.h>   /* -std=c99 turns off GCC's contraction of a*b+c */");
    out(E, "#define MADD8(acc, a, b) ((acc) = (v8f)_mm256_fmadd_ps((__m256)(a), (__m256)(b), (__m256)(acc)))");
    out(E, "#else");
    out(E, "#define MADD8(acc, a, b) ((acc) += (a) * (b))");
    out(E, "#endif");
    out(E, "#define LOAD8(v, p) memcpy(&(v), (p), sizeof(v8f))");
    out(E, "#define STORE8(p, v) memcpy((p), &(v), sizeof(v8f))");
    out(E, "#define BCAST8(s) ((v8f){(s), (s), (s), (s), (s), (s), (s), (s)})");
    out(E, "#define HSUM8(v) (((v)[0] + (v)[4]) + ((v)[1] + (v)[5]) + (((v)[2] + (v)[6]) + ((v)[3] + (v)[7])))");
    blank(E);
    out(E, "/* y[j][0..24) for 4 outputs j, each at ystride: the sum over nc channels");
    out(E, " * (x planes xstride apart) and nt taps (offsets off) of x[off[t] + ..]");
    out(E, " * times w_j[t], where w_j = w + j * wj (the first nj are real, the others");
    out(E, " * repeat output 0) and each channel's weights are wc further on; added");
    out(E, " * to what y holds when acc. */");
    out(E, "static void conv_tile(const float *x, long xstride, long nc, const long *off, long nt,");
    out(E, "                      const float *w, long wj, long wc, int nj, float *y, long ystride, int acc)");
    out(E, "{");
    E->indent++;
    out(E, "const float *w0 = w, *w1 = nj > 1 ? w + wj : w, *w2 = nj > 2 ? w + 2 * wj : w;");
    out(E, "const float *w3 = nj > 3 ? w + 3 * wj : w;");
    out(E, "v8f a00 = {0}, a01 = {0}, a02 = {0}, a10 = {0}, a11 = {0}, a12 = {0};");
    out(E, "v8f a20 = {0}, a21 = {0}, a22 = {0}, a30 = {0}, a31 = {0}, a32 = {0};");
    open_block(E, "for (long c = 0; c < nc; c++, x += xstride, w0 += wc, w1 += wc, w2 += wc, w3 += wc)");
    open_block(E, "for (long t = 0; t < nt; t++)");
    out(E, "v8f x0, x1, x2, wv;");
    out(E, "LOAD8(x0, x + off[t]);");
    out(E, "LOAD8(x1, x + off[t] + 8);");
    out(E, "LOAD8(x2, x + off[t] + 16);");
    out(E, "KEEP(x0);");
    out(E, "KEEP(x1);");
    out(E, "KEEP(x2);");
    for (int j = 0; j < 4; j++)
        out(E, "wv = BCAST8(w%d[t]); MADD8(a%d0, wv, x0); MADD8(a%d1, wv, x1); MADD8(a%d2, wv, x2);", j, j, j, j);
    close_block(E);
    close_block(E);
    open_block(E, "if (acc)");
    out(E, "v8f o;");
    for (int j = 0; j < 4; j++)
        for (int v = 0; v < 3; v++)
            out(E, "LOAD8(o, y + %d * ystride + %d); a%d%d += o;", j, 8 * v, j, v);
    close_block(E);
    for (int j = 0; j < 4; j++)
        out(E, "STORE8(y + %d * ystride, a%d0); STORE8(y + %d * ystride + 8, a%d1); "
               "STORE8(y + %d * ystride + 16, a%d2);", j, j, j, j, j, j);
    close_block(E);
    blank(E);
    if (!E->train)
        return;
    out(E, "/* s[j * 3 + k] += the sum over nv * 8 positions q of dq_j[q] * x_k[q], for");
    out(E, " * 4 planes dq_j (dqstride apart) and 3 inputs x_k, and over nimg images");
    out(E, " * (all of them istride further on each). */");
    out(E, "static void dw_tile(const float *dq, long dqstride, const float *x0, const float *x1,");
    out(E, "                    const float *x2, long nv, long nimg, long istride, float *s)");
    out(E, "{");
    E->indent++;
    out(E, "v8f a00 = {0}, a01 = {0}, a02 = {0}, a10 = {0}, a11 = {0}, a12 = {0};");
    out(E, "v8f a20 = {0}, a21 = {0}, a22 = {0}, a30 = {0}, a31 = {0}, a32 = {0};");
    out(E, "for (long im = 0; im < nimg; im++, dq += istride, x0 += istride, x1 += istride, x2 += istride)");
    open_block(E, "for (long q = 0; q < nv * 8; q += 8)");
    out(E, "v8f u0, u1, u2, d;");
    out(E, "LOAD8(u0, x0 + q);");
    out(E, "LOAD8(u1, x1 + q);");
    out(E, "LOAD8(u2, x2 + q);");
    out(E, "KEEP(u0);");
    out(E, "KEEP(u1);");
    out(E, "KEEP(u2);");
    for (int j = 0; j < 4; j++) {
        out(E, "LOAD8(d, dq + %d * dqstride + q);", j);
        out(E, "KEEP(d); MADD8(a%d0, d, u0); MADD8(a%d1, d, u1); MADD8(a%d2, d, u2);", j, j, j);
    }
    close_block(E);
    for (int j = 0; j < 4; j++)
        out(E, "s[%d] += HSUM8(a%d0); s[%d] += HSUM8(a%d1); s[%d] += HSUM8(a%d2);", 3 * j, j, 3 * j + 1, j,
            3 * j + 2, j);
    close_block(E);
    blank(E);
}

/* static const long taps[] = {each tap's offset in an input plane}, for
 * dL/dW's pairs of (channel, tap). */
static void emit_taps(Emitter *E, const Tile *g)
{
    StrBuf s;
    sb_init(&s);
    for (long t = 0; t < g->taps; t++)
        sb_printf(&s, "%s%ld", t ? ", " : "", t / g->kw * g->dh * g->wp + t % g->kw * g->dw);
    out(E, "static const long taps[%ld] = {%s};", g->taps, s.data);
    sb_free(&s);
}

/* Image i's input copied into zero-padded planes, and the slack that the
 * tiles read past the last plane zeroed. */
static void emit_pad_input(Emitter *E, const Tile *g)
{
    out(E, "float *xp = m->flat + (size_t)i * %ld;", E->flat_elems);
    if (g->hp == g->h && g->wp == g->w) {
        out(E, "memcpy(xp, x + (size_t)i * %ld, sizeof(float) * %ld);", g->in_size, g->in_size);
        if (g->xslack)
            out(E, "memset(xp + %ld, 0, sizeof(float) * %ld);", g->in_size, g->xslack);
        return;
    }
    out(E, "memset(xp, 0, sizeof(float) * %ld);", g->c * g->plane + g->xslack);
    out(E, "for (long c = 0; c < %ld; c++)", g->c);
    out(E, "    for (long r = 0; r < %ld; r++)", g->h);
    out(E, "        memcpy(xp + (c * %ld + r + %ld) * %ld + %ld, x + (size_t)i * %ld + (c * %ld + r) * %ld,",
        g->hp, g->pt, g->wp, g->pl, g->in_size, g->h, g->w);
    out(E, "               sizeof(float) * %ld);", g->w);
}

static void emit_compaction(Emitter *E, const LayerPlan *lp, const Tile *g);

/* Channels per packed pass: as many as fit 4096 floats (16 KiB of L1) at
 * ps floats each, split evenly (64 channels of 78: 32 + 32, not 52 + 12). */
static long packed_pass(long channels, long ps)
{
    long most = 4096 / ps < 1 ? 1 : 4096 / ps, passes;
    if (most > channels)
        most = channels;
    passes = (channels + most - 1) / most;
    return (channels + passes - 1) / passes;
}

/* static const long packed[] = {each tap's offset in a packed channel}:
 * row kh, column kw (or KW-1-kw when flipped: dL/dx reads backwards). */
static void emit_packed_offsets(Emitter *E, const Tile *g, long row, bool flipped)
{
    StrBuf s;
    sb_init(&s);
    for (long t = 0; t < g->taps; t++) {
        long kw = flipped ? g->kw - 1 - t % g->kw : t % g->kw;
        sb_printf(&s, "%s%ld", t ? ", " : "", t / g->kw * row + kw * g->dw);
    }
    out(E, "static const long packed[%ld] = {%s};", g->taps, s.data);
    sb_free(&s);
}

/* One task's tiles, their input packed first.  For each tile and pass of
 * input channels, the KH rows of packed_row() floats that its 24
 * positions read sit side by side, so that the micro-kernel's loads come
 * from one small block in L1 instead of rows a plane apart.  The forward
 * reads the input planes; dL/dx reads dL/dy planes backwards (packed row
 * kh starts KH-1-kh rows in, tap (kh, kw) reads column KW-1-kw). */
typedef struct {
    const char *in;     /* planes: "xp" or "dq" */
    long nin, stride;   /* channels summed over, floats between their planes */
    bool flipped;       /* dL/dx */
    long nout;          /* output channels, in blocks of 4 */
    long w_out, w_in;   /* weight strides: per output, per input channel */
    const char *out;    /* output rows: "yq" or "dxp" */
    long out_stride;    /* floats between output rows */
} Packing;

static void emit_packed_tiles(Emitter *E, const Tile *g, long per, const Packing *k)
{
    long row = packed_row(g), ps = g->kh * row, cc = packed_pass(k->nin, ps);
    emit_packed_offsets(E, g, row, k->flipped);
    out(E, "float pack[%ld];   /* %ld channels x %ld rows of %ld */", cc * ps, cc, g->kh, row);
    open_block(E, "for (long c0 = 0; c0 < %ld; c0 += %ld)", k->nin, cc);
    out(E, "const long nc = %ld - c0 < %ld ? %ld - c0 : %ld;", k->nin, cc, k->nin, cc);
    open_block(E, "for (long t = task * %ld; t < end; t++)", per);
    char rows[64];   /* where packed row r starts in a plane */
    if (k->flipped)
        snprintf(rows, sizeof rows, "(%ld - r) * %ld", g->kh - 1, g->dh * g->wp);
    else
        snprintf(rows, sizeof rows, "r * %ld", g->dh * g->wp);
    out(E, "for (long c = 0; c < nc; c++)");
    out(E, "    for (long r = 0; r < %ld; r++)", g->kh);
    out(E, "        memcpy(pack + c * %ld + r * %ld, %s + (c0 + c) * %ld + t * 24 + %s, sizeof(float) * %ld);", ps, row,
        k->in, k->stride, rows, row);
    out(E, "for (long ob = 0; ob < %ld; ob++)", round_up(k->nout, 4) / 4);
    out(E, "    conv_tile(pack, %ld, nc, packed, %ld, w + ob * %ld + c0 * %ld, %ld, %ld, %s, %s + ob * %ld + t * 24, %ld,",
        ps, g->taps, 4 * k->w_out, k->w_in, k->w_out, k->w_in, real_outputs("ob", k->nout), k->out,
        4 * k->out_stride, k->out_stride);
    out(E, "              c0 > 0);");
    close_block(E);
    close_block(E);
}

void emit_tile_conv_forward(Emitter *E, const LayerPlan *lp)
{
    const Node *n = lp->node;
    Tile g = tile_of(n);
    long blocks = g.nq24 / TILE_Q, per = tiles_per_task(g.c, g.span, blocks);
    long tasks = (blocks + per - 1) / per;
    Packing k = {"xp", g.c, g.plane, false, g.f, g.c * g.taps, g.taps, "yq", g.nq24};
    emit_weighted_forward_head(E, lp);
    out(E, "PARALLEL_FOR");
    open_block(E, "for (int i = 0; i < n; i++)");
    emit_pad_input(E, &g);
    close_block(E);
    out(E, "/* %ld tasks per image, each %ld tiles of 24 positions for every 4 filters */", tasks, per);
    out(E, "PARALLEL_FOR2");
    open_block(E, "for (int i = 0; i < n; i++)");
    open_block(E, "for (long task = 0; task < %ld; task++)", tasks);
    out(E, "const float *xp = m->flat + (size_t)i * %ld;", E->flat_elems);
    out(E, "float *yq = m->flat + (size_t)i * %ld + %ld;   /* rows of width %ld */", E->flat_elems, g.xregion, g.wp);
    out(E, "long end = task * %ld + %ld < %ld ? task * %ld + %ld : %ld;", per, per, blocks, per, per, blocks);
    emit_packed_tiles(E, &g, per, &k);
    close_block(E);
    close_block(E);
    emit_compaction(E, lp, &g);
}

/* The output rows cut back to the image, with bias and activation. */
static void emit_compaction(Emitter *E, const LayerPlan *lp, const Tile *g)
{
    out(E, "PARALLEL_FOR");
    open_block(E, "for (int i = 0; i < n; i++)");
    out(E, "const float *yq = m->flat + (size_t)i * %ld + %ld;", E->flat_elems, g->xregion);
    open_block(E, "for (long f = 0; f < %ld; f++)", g->f);
    out(E, "const float *yr = yq + f * %ld;", g->nq24);
    emit_output_rows(E, lp, "yr", g->wp);
    close_block(E);
    close_block(E);
    if (lp->node->act == ACT_SOFTMAX)
        emit_softmax_forward(E, "y", g->f, g->oh * g->ow);
}

/* Image i's input planes and dL/dy planes, bstride apart: span zeros,
 * the rows of width WP (zero where no output is), zeros up to np24. */
static void emit_backward_planes(Emitter *E, const Tile *g)
{
    emit_pad_input(E, g);
    out(E, "float *dq = xp + %ld;", g->xregion);
    out(E, "memset(dq, 0, sizeof(float) * %ld);", g->f4 * g->bstride);
    out(E, "for (long f = 0; f < %ld; f++)", g->f);
    out(E, "    for (long r = 0; r < %ld; r++)", g->oh);
    out(E, "        memcpy(dq + f * %ld + %ld + r * %ld, dy + (size_t)i * %ld + (f * %ld + r) * %ld,", g->bstride,
        g->span, g->wp, g->out_size, g->oh, g->ow);
    out(E, "               sizeof(float) * %ld);", g->ow);
}

/* dL/dW (and dL/db): each block of 4 filters is one thread's.  The sums
 * run over a chunk of images at a time (as many as keep their planes
 * within 256 KiB), each pair of planes read once per chunk. */
static void emit_weight_grads(Emitter *E, const LayerPlan *lp, const Tile *g)
{
    long ct = g->c * g->taps, chunk = 65536 / E->flat_elems;
    if (chunk < 1)
        chunk = 1;
    out(E, "PARALLEL_FOR");
    open_block(E, "for (long fb = 0; fb < %ld; fb++)", g->f4 / 4);
    open_block(E, "for (int i0 = 0; i0 < n; i0 += %ld)", chunk);
    out(E, "const float *xp = m->flat + (size_t)i0 * %ld;", E->flat_elems);
    out(E, "const float *dq = xp + %ld + fb * %ld + %ld;", g->xregion, 4 * g->bstride, g->span);
    out(E, "const long images = n - i0 < %ld ? n - i0 : %ld;", chunk, chunk);
    open_block(E, "for (long u = 0; u < %ld; u += 3)", ct);
    out(E, "/* the (channel, tap) pairs u, u+1, u+2 (the last one repeated at the end) */");
    out(E, "const long u1 = u + 1 < %ld ? u + 1 : u, u2 = u + 2 < %ld ? u + 2 : u1;", ct, ct);
    out(E, "float s[12] = {0};");
    out(E, "dw_tile(dq, %ld, xp + u / %ld * %ld + taps[u %% %ld], xp + u1 / %ld * %ld + taps[u1 %% %ld],", g->bstride,
        g->taps, g->plane, g->taps, g->taps, g->plane, g->taps);
    out(E, "        xp + u2 / %ld * %ld + taps[u2 %% %ld], %ld, images, %ld, s);", g->taps, g->plane, g->taps,
        round_up(g->nq, 8) / 8, E->flat_elems);
    out(E, "for (long j = 0; j < 4 && fb * 4 + j < %ld; j++)", g->f);
    out(E, "    for (long k = 0; k < 3 && u + k < %ld; k++)", ct);
    out(E, "        dw[(fb * 4 + j) * %ld + u + k] += s[j * 3 + k];", ct);
    close_block(E);
    if (lp->b_off >= 0) {
        out(E, "float *db = m->grads + %ld;", lp->b_off);
        open_block(E, "for (long j = 0; j < 4 && fb * 4 + j < %ld; j++)", g->f);
        out(E, "float sum = 0.0f;");
        out(E, "for (long im = 0; im < images; im++)");
        out(E, "    for (long q = 0; q < %ld; q++)", g->nq);
        out(E, "        sum += dq[im * %ld + j * %ld + q];", E->flat_elems, g->bstride);
        out(E, "db[fb * 4 + j] += sum;");
        close_block(E);
    }
    close_block(E);
    close_block(E);
}

/* dL/dx: dxp[c][p] = sum over filters f and taps t of w[f][c][t] *
 * dy_f[p - off(t)], the micro-kernel over dL/dy with offsets span - off(t);
 * the planes overwrite the input copy, no longer needed. */
static void emit_input_grads(Emitter *E, const Tile *g)
{
    long blocks = g->np24 / TILE_Q, per = tiles_per_task(g->f, g->span, blocks);
    long tasks = (blocks + per - 1) / per;
    Packing k = {"dq", g->f, g->bstride, true, g->c, g->taps, g->c * g->taps, "dxp", g->np24};
    out(E, "if (!dx)");
    out(E, "    return;");
    out(E, "PARALLEL_FOR2");
    open_block(E, "for (int i = 0; i < n; i++)");
    open_block(E, "for (long task = 0; task < %ld; task++)", tasks);
    out(E, "float *dxp = m->flat + (size_t)i * %ld;", E->flat_elems);
    out(E, "const float *dq = dxp + %ld;", g->xregion);
    out(E, "long end = task * %ld + %ld < %ld ? task * %ld + %ld : %ld;", per, per, blocks, per, per, blocks);
    emit_packed_tiles(E, g, per, &k);
    close_block(E);
    close_block(E);
    out(E, "PARALLEL_FOR");
    open_block(E, "for (int i = 0; i < n; i++)");
    out(E, "const float *dxp = m->flat + (size_t)i * %ld;", E->flat_elems);
    out(E, "float *dxi = dx + (size_t)i * %ld;", g->in_size);
    out(E, "for (long c = 0; c < %ld; c++)", g->c);
    out(E, "    for (long r = 0; r < %ld; r++)", g->h);
    out(E, "        for (long o = 0; o < %ld; o++)", g->w);
    out(E, "            dxi[(c * %ld + r) * %ld + o] += dxp[c * %ld + (r + %ld) * %ld + o + %ld];", g->h, g->w,
        g->np24, g->pt, g->wp, g->pl);
    close_block(E);
}

void emit_tile_conv_backward(Emitter *E, const LayerPlan *lp)
{
    Tile g = tile_of(lp->node);
    emit_taps(E, &g);
    emit_weighted_backward_head(E, lp);
    out(E, "PARALLEL_FOR");
    open_block(E, "for (int i = 0; i < n; i++)");
    emit_backward_planes(E, &g);
    close_block(E);
    emit_weight_grads(E, lp, &g);
    emit_input_grads(E, &g);
}
