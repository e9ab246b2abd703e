/* emit/flat.c - convolution over flattened rows, the kernel of grouped
 * convolutions with the same stride along both axes (lower.c chooses).
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

/* xp: this image's input plane, padded when the layer pads. */
static void emit_padded_input(Emitter *E, const ConvGeom *g)
{
    emit_out(E, "float *xp = FLAT(i);");
    emit_out(E, "float *qb = xp + %ld;   /* rows of width %ld */", g->c * g->plane, g->wp);
    emit_pad_planes(E, g, 0);
}

/* The loops over kernel rows; inside, KW taps at offsets off(kh) + kw*dw. */
static void open_kernel_rows(Emitter *E, const ConvGeom *g)
{
    emit_open_block(E, "for (long kh = 0; kh < %ld; kh++)", g->kh);
    emit_out(E, "const long off = kh * %ld;", g->dh * g->wp);
}

/* base[off + tap_off + q * stride], folded, at the end of sb. */
static void put_strided(StrBuf *sb, const ConvGeom *g, bool off, const char *base, long tap_off)
{
    char at[64];
    Term t[] = {{off, "off"}, {g->sh, "q"}, {tap_off, NULL}};
    sb_printf(sb, "%s[%s]", base, emit_linear(at, sizeof at, 3, t));
}

/* Whether every tap of the kernel goes into one pass over the rows
 * (measured: beyond 9 weights their registers run out). */
static bool all_taps(const Emitter *E, const ConvGeom *g)
{
    return g->kh * g->kw <= E->opt->unroll && g->kh * g->kw <= 9;
}

void emit_flat_conv_forward(Emitter *E, const LayerPlan *lp)
{
    const Node *n = lp->node;
    const ConvGeom g = lp->low->g;
    const FlatGeom k = lp->low->k.flat;
    emit_weighted_forward_head(E, lp);
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    emit_padded_input(E, &g);
    emit_open_block(E, "for (long f = 0; f < %ld; f++)", g.f);
    emit_out(E, "float *yq = qb + f * %ld;", k.plane_q);
    emit_out(E, "memset(yq, 0, sizeof(float) * %ld);", g.nq);
    bool c = emit_loop(E, "long", "c", g.cg);
    emit_group_channel(E, &g, "const float *xc = xp + ", 0, g.plane, c);
    emit_filter_channel(E, &g, c, "const float *wk = w + ");
    if (all_taps(E, &g)) {
        /* Every tap in one pass: one load and store of yq per KH*KW FMAs
         * (measured: with more than 9 weights their registers run out, and
         * a pass per kernel row is faster). */
        for (long t = 0; t < g.kh * g.kw; t++)
            emit_out(E, "const float w%ld = wk[%ld];", t, t);
        emit_open_block(E, "for (long q = 0; q < %ld; q++)", g.nq);
        StrBuf sum;
        sb_init(&sum);
        for (long t = 0; t < g.kh * g.kw; t++) {
            sb_printf(&sum, "%s%sw%ld * ", t ? " +" : "", t && t % 4 == 0 ? "\n            " : " ", t);
            put_strided(&sum, &g, false, "xc", t / g.kw * g.dh * g.wp + t % g.kw * g.dw);
        }
        emit_out(E, "yq[q] +=%s;", sum.data);
        sb_free(&sum);
        emit_close_block(E);
    } else {
        open_kernel_rows(E, &g);
        for (long kw = 0; kw < g.kw; kw++)
            emit_out(E, "const float w%ld = wk[kh * %ld + %ld];", kw, g.kw, kw);
        emit_open_block(E, "for (long q = 0; q < %ld; q++)", g.nq);
        StrBuf sum;
        sb_init(&sum);
        for (long kw = 0; kw < g.kw; kw++) {
            sb_printf(&sum, "%sw%ld * ", kw ? " + " : "", kw);
            put_strided(&sum, &g, true, "xc", kw * g.dw);
        }
        emit_out(E, "yq[q] += %s;", sum.data);
        sb_free(&sum);
        emit_close_block(E);
        emit_close_block(E);
    }
    emit_end_loop(E, c);
    emit_output_rows(E, lp, "yq", g.wp);
    emit_close_block(E);
    emit_close_block(E);
    if (n->act == ACT_SOFTMAX)
        emit_softmax_forward(E, "y", g.f, g.oh * g.ow);
}

/* dW for `taps` taps in one pass over q: dot products of dq with the input
 * at each tap's offset, eight partial sums each (vector code without
 * -ffast-math).  first >= 0: taps first.. of the whole kernel; first < 0:
 * the KW taps of kernel row kh (at offset off). */
static void emit_dots(Emitter *E, const ConvGeom *g, long first, long taps)
{
    emit_out(E, "float s8[%ld][8] = {{0}};", taps);
    emit_out(E, "long q = 0;");
    emit_open_block(E, "for (; q + 8 <= %ld; q += 8)", g->nq);
    emit_open_block(E, "for (int j = 0; j < 8; j++)");
    emit_out(E, "const float d = dq[q + j];");
    for (long t = 0; t < taps; t++) {
        long tap = first >= 0 ? first + t : t;
        long toff = first >= 0 ? tap / g->kw * g->dh * g->wp + tap % g->kw * g->dw : tap * g->dw;
        Term x[] = {{first < 0, "off"}, {g->sh, "(q + j)"}, {toff, NULL}};
        char buf[96];
        emit_out(E, "s8[%ld][j] += d * xc[%s];", t, emit_linear(buf, sizeof buf, 3, x));
    }
    emit_close_block(E);
    emit_close_block(E);
    emit_open_block(E, "for (; q < %ld; q++)", g->nq);
    emit_out(E, "const float d = dq[q];");
    for (long t = 0; t < taps; t++) {
        long tap = first >= 0 ? first + t : t;
        long toff = first >= 0 ? tap / g->kw * g->dh * g->wp + tap % g->kw * g->dw : tap * g->dw;
        Term x[] = {{first < 0, "off"}, {g->sh, "q"}, {toff, NULL}};
        char buf[96];
        emit_out(E, "s8[%ld][0] += d * xc[%s];", t, emit_linear(buf, sizeof buf, 3, x));
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
    const ConvGeom g = lp->low->g;
    const FlatGeom k = lp->low->k.flat;
    emit_weighted_backward_head(E, lp);
    emit_out(E, "/* each image: its padded input, and dL/dy on rows of width %ld */", g.wp);
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    emit_padded_input(E, &g);
    long rows = g.sh == 1 ? g.hp : g.oh;   /* stride 1: zero rows below, for the gather */
    emit_open_block(E, "for (long f = 0; f < %ld; f++)", g.f);
    emit_out(E, "float *dq = qb + f * %ld + %ld;", k.bstride, k.margin);
    if (k.margin)
        emit_out(E, "memset(dq - %ld, 0, sizeof(float) * %ld);", k.margin, k.margin);
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
    emit_out(E, "const float *xp = FLAT(i);");
    emit_out(E, "const float *dq = xp + %ld + f * %ld + %ld;", g.c * g.plane, k.bstride, k.margin);
    if (lp->b_off >= 0) {
        emit_out(E, "float *db = m->grads + %s;", lp->b_name);
        emit_out(E, "float sum = 0.0f;");
        emit_out(E, "for (long q = 0; q < %ld; q++) sum += dq[q];", g.nq);
        emit_out(E, "db[f] += sum;");
    }
    bool c = emit_loop(E, "long", "c", g.cg);
    emit_group_channel(E, &g, "const float *xc = xp + ", 0, g.plane, c);
    emit_filter_channel(E, &g, c, "float *dwk = dw + ");
    if (all_taps(E, &g)) {
        emit_dots(E, &g, 0, g.kh * g.kw);
    } else {
        open_kernel_rows(E, &g);
        emit_dots(E, &g, -1, g.kw);
        emit_close_block(E);
    }
    emit_end_loop(E, c);
    emit_close_block(E);
    emit_close_block(E);
    emit_out(E, "if (!dx)");
    emit_out(E, "    return;");
    emit_out(E, "/* inputs: taps add into a padded plane (over the input copy, no longer needed) */");
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    emit_out(E, "float *dxp = FLAT(i);");
    emit_out(E, "const float *qb = dxp + %ld;", g.c * g.plane);
    emit_out(E, "memset(dxp, 0, sizeof(float) * %ld);", g.c * g.plane);
    emit_open_block(E, "for (long f = 0; f < %ld; f++)", g.f);
    emit_out(E, "const float *dq = qb + f * %ld + %ld;", k.bstride, k.margin);
    c = emit_loop(E, "long", "c", g.cg);
    emit_group_channel(E, &g, "float *dxc = dxp + ", 0, g.plane, c);
    emit_filter_channel(E, &g, c, "const float *wk = w + ");
    if (g.sh == 1) {
        /* Gather: each input position sums what its taps saw, so dxc is
         * loaded and stored once per pass (dq has zeros around it). */
        bool all = all_taps(E, &g);
        long taps = all ? g.kh * g.kw : g.kw;
        if (!all)
            open_kernel_rows(E, &g);
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
            char at[64];
            Term d[] = {{1, "p"}, {all ? 0 : -1, "off"}, {-toff, NULL}};
            sb_printf(&sum, "%s%sw%ld * dq[%s]", t ? " +" : "", t && t % 4 == 0 ? "\n            " : " ", t,
                      emit_linear(at, sizeof at, 3, d));
        }
        emit_out(E, "for (long p = 0; p < %ld; p++)", g.plane);
        emit_out(E, "    dxc[p] +=%s;", sum.data);
        sb_free(&sum);
        if (!all)
            emit_close_block(E);
    } else {
        open_kernel_rows(E, &g);
        for (long kw = 0; kw < g.kw; kw++) {
            emit_out(E, "const float w%ld = wk[kh * %ld + %ld];", kw, g.kw, kw);
            StrBuf to;
            sb_init(&to);
            put_strided(&to, &g, true, "dxc", kw * g.dw);
            emit_out(E, "for (long q = 0; q < %ld; q++) %s += w%ld * dq[q];", g.nq, to.data, kw);
            sb_free(&to);
        }
        emit_close_block(E);
    }
    emit_end_loop(E, c);
    emit_close_block(E);
    emit_unpad_planes(E, &g, g.plane);
    emit_close_block(E);
}
