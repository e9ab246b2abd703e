/* emit/flat.c - convolution over flattened rows, the default kernel when
 * the stride is the same along both axes.
 *
 * The input is copied into a zero-padded plane of width WP (unless it has
 * no padding), and the output is computed on rows of the same width WP:
 * output position q = oh*WP + ow reads input position s*q + kh*dh*WP +
 * kw*dw for every tap.  The positions with ow >= OW are computed and thrown
 * away, but in exchange each tap is one long contiguous loop over
 * q < (OH-1)*WP + OW instead of OH short ones, which vectorises well; the
 * KW taps of a kernel row share one pass over the output.  Backward uses
 * the same geometry: dW is a dot product over q, dX adds each tap's
 * contribution into a padded plane that is then cut back to the image. */
#include "emitter.h"

typedef struct {
    long c, cg, h, w, hp, wp, f, fg, oh, ow, q, s, kh, kw, dh, dw, pt, pl;
    long plane_in, plane_q, in_size, out_size;
    long margin;    /* stride 1: zeros before dL/dy so that dX can gather */
    long bstride;   /* backward: floats per filter in the row buffer */
    bool padded;
} Flat;

static Flat flat_of(const Node *n)
{
    Flat g;
    g.c = (long)n->in_shape.c;
    g.cg = g.c / (long)n->groups;
    g.h = (long)n->in_shape.h;
    g.w = (long)n->in_shape.w;
    g.pt = (long)n->pad_t;
    g.pl = (long)n->pad_l;
    g.hp = g.h + g.pt + (long)n->pad_b;
    g.wp = g.w + g.pl + (long)n->pad_r;
    g.f = (long)n->filters;
    g.fg = g.f / (long)n->groups;
    g.oh = (long)n->out.h;
    g.ow = (long)n->out.w;
    g.q = (g.oh - 1) * g.wp + g.ow;
    g.s = (long)n->sh;
    g.kh = (long)n->kh;
    g.kw = (long)n->kw;
    g.dh = (long)n->dh;
    g.dw = (long)n->dw;
    g.plane_in = g.hp * g.wp;
    g.plane_q = g.oh * g.wp;
    g.in_size = g.c * g.h * g.w;
    g.out_size = g.f * g.oh * g.ow;
    g.padded = g.hp != g.h || g.wp != g.w;
    g.margin = g.s == 1 ? (g.kh - 1) * g.dh * g.wp + (g.kw - 1) * g.dw : 0;
    g.bstride = g.s == 1 ? g.margin + g.plane_in : g.plane_q;
    return g;
}

bool flat_conv_ok(const Node *n)
{
    return n->op == OP_CONV && n->sh == n->sw;
}

long flat_conv_elems(const Node *n)
{
    if (!flat_conv_ok(n))
        return 0;
    Flat g = flat_of(n);
    return g.c * g.plane_in + g.f * (g.bstride > g.plane_q ? g.bstride : g.plane_q);
}

/* xp: this image's input plane, padded when the layer pads. */
static void emit_padded_input(Emitter *E, const Flat *g)
{
    emit_out(E, "float *xp = m->flat + (size_t)i * %ld;", E->flat_elems);
    emit_out(E, "float *qb = xp + %ld;   /* rows of width %ld */", g->c * g->plane_in, g->wp);
    if (!g->padded) {
        emit_out(E, "memcpy(xp, x + (size_t)i * %ld, sizeof(float) * %ld);", g->in_size, g->in_size);
        return;
    }
    emit_out(E, "memset(xp, 0, sizeof(float) * %ld);", g->c * g->plane_in);
    emit_out(E, "for (long c = 0; c < %ld; c++)", g->c);
    emit_out(E, "    for (long r = 0; r < %ld; r++)", g->h);
    emit_out(E, "        memcpy(xp + (c * %ld + r + %ld) * %ld + %ld, x + (size_t)i * %ld + (c * %ld + r) * %ld,",
        g->hp, g->pt, g->wp, g->pl, g->in_size, g->h, g->w);
    emit_out(E, "               sizeof(float) * %ld);", g->w);
}

/* The loops over kernel rows; inside, KW taps at offsets off(kh) + kw*dw. */
static void open_kernel_rows(Emitter *E, const Flat *g)
{
    emit_open_block(E, "for (long kh = 0; kh < %ld; kh++)", g->kh);
    emit_out(E, "const long off = kh * %ld;", g->dh * g->wp);
}

static const char *strided(const Flat *g, const char *base, long tap_off)
{
    static char buf[4][96];
    static int k;
    k = (k + 1) % 4;
    if (g->s == 1)
        snprintf(buf[k], sizeof buf[k], "%s[off + %ld + q]", base, tap_off);
    else
        snprintf(buf[k], sizeof buf[k], "%s[off + %ld + q * %ld]", base, tap_off, g->s);
    return buf[k];
}

void emit_flat_conv_forward(Emitter *E, const LayerPlan *lp)
{
    const Node *n = lp->node;
    Flat g = flat_of(n);
    emit_weighted_forward_head(E, lp);
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    emit_padded_input(E, &g);
    emit_open_block(E, "for (long f = 0; f < %ld; f++)", g.f);
    emit_out(E, "float *yq = qb + f * %ld;", g.plane_q);
    emit_out(E, "memset(yq, 0, sizeof(float) * %ld);", g.q);
    emit_open_block(E, "for (long c = 0; c < %ld; c++)", g.cg);
    emit_out(E, "const float *xc = xp + (f / %ld * %ld + c) * %ld;", g.fg, g.cg, g.plane_in);
    emit_out(E, "const float *wk = w + (f * %ld + c) * %ld;", g.cg, g.kh * g.kw);
    if (g.kh * g.kw <= E->opt->unroll && g.kh * g.kw <= 9) {
        /* Every tap in one pass: one load and store of yq per KH*KW FMAs
         * (measured: with more than 9 weights their registers run out, and
         * a pass per kernel row is faster). */
        emit_out(E, "const long off = 0;");
        for (long t = 0; t < g.kh * g.kw; t++)
            emit_out(E, "const float w%ld = wk[%ld];", t, t);
        emit_open_block(E, "for (long q = 0; q < %ld; q++)", g.q);
        StrBuf sum;
        sb_init(&sum);
        for (long t = 0; t < g.kh * g.kw; t++)
            sb_printf(&sum, "%s%sw%ld * %s", t ? " +" : "", t && t % 4 == 0 ? "\n            " : " ", t,
                      strided(&g, "xc", t / g.kw * g.dh * g.wp + t % g.kw * g.dw));
        emit_out(E, "yq[q] +=%s;", sum.data);
        sb_free(&sum);
        emit_close_block(E);
    } else {
        open_kernel_rows(E, &g);
        for (long kw = 0; kw < g.kw; kw++)
            emit_out(E, "const float w%ld = wk[kh * %ld + %ld];", kw, g.kw, kw);
        emit_open_block(E, "for (long q = 0; q < %ld; q++)", g.q);
        StrBuf sum;
        sb_init(&sum);
        for (long kw = 0; kw < g.kw; kw++)
            sb_printf(&sum, "%sw%ld * %s", kw ? " + " : "", kw, strided(&g, "xc", kw * g.dw));
        emit_out(E, "yq[q] += %s;", sum.data);
        sb_free(&sum);
        emit_close_block(E);
        emit_close_block(E);
    }
    emit_close_block(E);
    emit_output_rows(E, lp, "yq", g.wp);
    emit_close_block(E);
    emit_close_block(E);
    if (n->act == ACT_SOFTMAX)
        emit_softmax_forward(E, "y", g.f, g.oh * g.ow);
}

/* Whether every tap of the kernel goes into one pass over the rows
 * (measured: beyond 9 weights their registers run out). */
static bool all_taps(const Emitter *E, const Flat *g)
{
    return g->kh * g->kw <= E->opt->unroll && g->kh * g->kw <= 9;
}

/* dW for `taps` taps in one pass over q: dot products of dq with the input
 * at each tap's offset, eight partial sums each (vector code without
 * -ffast-math).  first >= 0: taps first.. of the whole kernel (off = 0);
 * first < 0: the KW taps of kernel row kh (off = kh's row offset). */
static void emit_dots(Emitter *E, const Flat *g, long first, long taps)
{
    emit_out(E, "float s8[%ld][8] = {{0}};", taps);
    emit_out(E, "long q = 0;");
    emit_open_block(E, "for (; q + 8 <= %ld; q += 8)", g->q);
    emit_open_block(E, "for (int j = 0; j < 8; j++)");
    emit_out(E, "const float d = dq[q + j];");
    for (long t = 0; t < taps; t++) {
        long tap = first >= 0 ? first + t : t;
        long toff = first >= 0 ? tap / g->kw * g->dh * g->wp + tap % g->kw * g->dw : tap * g->dw;
        emit_out(E, "s8[%ld][j] += d * xc[off + %ld + (q + j) * %ld];", t, toff, g->s);
    }
    emit_close_block(E);
    emit_close_block(E);
    emit_open_block(E, "for (; q < %ld; q++)", g->q);
    emit_out(E, "const float d = dq[q];");
    for (long t = 0; t < taps; t++) {
        long tap = first >= 0 ? first + t : t;
        long toff = first >= 0 ? tap / g->kw * g->dh * g->wp + tap % g->kw * g->dw : tap * g->dw;
        emit_out(E, "s8[%ld][0] += d * xc[off + %ld + q * %ld];", t, toff, g->s);
    }
    emit_close_block(E);
    for (long t = 0; t < taps; t++) {
        if (first >= 0)
            emit_out(E, "dwk[%ld] += ((s8[%ld][0] + s8[%ld][1]) + (s8[%ld][2] + s8[%ld][3])) + "
                   "((s8[%ld][4] + s8[%ld][5]) + (s8[%ld][6] + s8[%ld][7]));", first + t, t, t, t, t, t, t, t, t);
        else
            emit_out(E, "dwk[kh * %ld + %ld] += ((s8[%ld][0] + s8[%ld][1]) + (s8[%ld][2] + s8[%ld][3])) + "
                   "((s8[%ld][4] + s8[%ld][5]) + (s8[%ld][6] + s8[%ld][7]));", g->kw, t, t, t, t, t, t, t, t, t);
    }
}

void emit_flat_conv_backward(Emitter *E, const LayerPlan *lp)
{
    const Node *n = lp->node;
    Flat g = flat_of(n);
    emit_weighted_backward_head(E, lp);
    emit_out(E, "/* each image: its padded input, and dL/dy on rows of width %ld */", g.wp);
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    emit_padded_input(E, &g);
    long rows = g.s == 1 ? g.hp : g.oh;   /* stride 1: zero rows below, for the gather */
    emit_open_block(E, "for (long f = 0; f < %ld; f++)", g.f);
    emit_out(E, "float *dq = qb + f * %ld + %ld;", g.bstride, g.margin);
    if (g.margin)
        emit_out(E, "memset(dq - %ld, 0, sizeof(float) * %ld);", g.margin, g.margin);
    emit_out(E, "for (long r = 0; r < %ld; r++)", rows);
    emit_out(E, "    for (long o = 0; o < %ld; o++)", g.wp);
    emit_out(E, "        dq[r * %ld + o] = r < %ld && o < %ld ? dy[(size_t)i * %ld + (f * %ld + r) * %ld + o] : 0.0f;",
        g.wp, g.oh, g.ow, g.out_size, g.oh, g.ow);
    emit_close_block(E);
    emit_close_block(E);
    emit_out(E, "/* weights: each filter's gradient is one thread's */");
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (long f = 0; f < %ld; f++)", g.f);
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    emit_out(E, "const float *xp = m->flat + (size_t)i * %ld;", E->flat_elems);
    emit_out(E, "const float *dq = xp + %ld + f * %ld + %ld;", g.c * g.plane_in, g.bstride, g.margin);
    if (lp->b_off >= 0) {
        emit_out(E, "float *db = m->grads + %ld;", lp->b_off);
        emit_out(E, "float sum = 0.0f;");
        emit_out(E, "for (long q = 0; q < %ld; q++) sum += dq[q];", g.q);
        emit_out(E, "db[f] += sum;");
    }
    emit_open_block(E, "for (long c = 0; c < %ld; c++)", g.cg);
    emit_out(E, "const float *xc = xp + (f / %ld * %ld + c) * %ld;", g.fg, g.cg, g.plane_in);
    emit_out(E, "float *dwk = dw + (f * %ld + c) * %ld;", g.cg, g.kh * g.kw);
    if (all_taps(E, &g)) {
        emit_out(E, "const long off = 0;");
        emit_dots(E, &g, 0, g.kh * g.kw);
    } else {
        open_kernel_rows(E, &g);
        emit_dots(E, &g, -1, g.kw);
        emit_close_block(E);
    }
    emit_close_block(E);
    emit_close_block(E);
    emit_close_block(E);
    emit_out(E, "if (!dx)");
    emit_out(E, "    return;");
    emit_out(E, "/* inputs: taps add into a padded plane (over the input copy, no longer needed) */");
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    emit_out(E, "float *dxp = m->flat + (size_t)i * %ld;", E->flat_elems);
    emit_out(E, "const float *qb = dxp + %ld;", g.c * g.plane_in);
    emit_out(E, "memset(dxp, 0, sizeof(float) * %ld);", g.c * g.plane_in);
    emit_open_block(E, "for (long f = 0; f < %ld; f++)", g.f);
    emit_out(E, "const float *dq = qb + f * %ld + %ld;", g.bstride, g.margin);
    emit_open_block(E, "for (long c = 0; c < %ld; c++)", g.cg);
    emit_out(E, "float *dxc = dxp + (f / %ld * %ld + c) * %ld;", g.fg, g.cg, g.plane_in);
    emit_out(E, "const float *wk = w + (f * %ld + c) * %ld;", g.cg, g.kh * g.kw);
    if (g.s == 1) {
        /* Gather: each input position sums what its taps saw, so dxc is
         * loaded and stored once per pass (dq has zeros around it). */
        bool all = all_taps(E, &g);
        long taps = all ? g.kh * g.kw : g.kw;
        if (all) {
            emit_out(E, "const long off = 0;");
        } else {
            open_kernel_rows(E, &g);
        }
        for (long t = 0; t < taps; t++) {
            if (all)
                emit_out(E, "const float w%ld = wk[%ld];", t, t);
            else
                emit_out(E, "const float w%ld = wk[kh * %ld + %ld];", t, g.kw, t);
        }
        StrBuf sum;
        sb_init(&sum);
        for (long t = 0; t < taps; t++) {
            long toff = all ? t / g.kw * g.dh * g.wp + t % g.kw * g.dw : t * g.dw;
            sb_printf(&sum, "%s%sw%ld * dq[p - off - %ld]", t ? " +" : "", t && t % 4 == 0 ? "\n            " : " ",
                      t, toff);
        }
        emit_out(E, "for (long p = 0; p < %ld; p++)", g.plane_in);
        emit_out(E, "    dxc[p] +=%s;", sum.data);
        sb_free(&sum);
        if (!all)
            emit_close_block(E);
    } else {
        open_kernel_rows(E, &g);
        for (long kw = 0; kw < g.kw; kw++) {
            emit_out(E, "const float w%ld = wk[kh * %ld + %ld];", kw, g.kw, kw);
            emit_out(E, "for (long q = 0; q < %ld; q++) %s += w%ld * dq[q];", g.q, strided(&g, "dxc", kw * g.dw), kw);
        }
        emit_close_block(E);
    }
    emit_close_block(E);
    emit_close_block(E);
    emit_out(E, "float *dxi = dx + (size_t)i * %ld;", g.in_size);
    emit_out(E, "for (long c = 0; c < %ld; c++)", g.c);
    emit_out(E, "    for (long r = 0; r < %ld; r++)", g.h);
    emit_out(E, "        for (long o = 0; o < %ld; o++)", g.w);
    emit_out(E, "            dxi[(c * %ld + r) * %ld + o] += dxp[(c * %ld + r + %ld) * %ld + o + %ld];", g.h, g.w, g.hp,
        g.pt, g.wp, g.pl);
    emit_close_block(E);
}
