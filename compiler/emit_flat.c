/* emit_flat.c - convolution over flattened rows, the default kernel when
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
    return g.c * g.plane_in + g.f * g.plane_q;
}

/* xp: this image's input plane, padded when the layer pads. */
static void emit_padded_input(Emitter *E, const Flat *g)
{
    out(E, "float *xp = m->flat + (size_t)i * %ld;", E->flat_elems);
    out(E, "float *qb = xp + %ld;   /* rows of width %ld */", g->c * g->plane_in, g->wp);
    if (!g->padded) {
        out(E, "memcpy(xp, x + (size_t)i * %ld, sizeof(float) * %ld);", g->in_size, g->in_size);
        return;
    }
    out(E, "memset(xp, 0, sizeof(float) * %ld);", g->c * g->plane_in);
    out(E, "for (long c = 0; c < %ld; c++)", g->c);
    out(E, "    for (long r = 0; r < %ld; r++)", g->h);
    out(E, "        memcpy(xp + (c * %ld + r + %ld) * %ld + %ld, x + (size_t)i * %ld + (c * %ld + r) * %ld,",
        g->hp, g->pt, g->wp, g->pl, g->in_size, g->h, g->w);
    out(E, "               sizeof(float) * %ld);", g->w);
}

/* The loops over kernel rows; inside, KW taps at offsets off(kh) + kw*dw. */
static void open_kernel_rows(Emitter *E, const Flat *g)
{
    open_block(E, "for (long kh = 0; kh < %ld; kh++)", g->kh);
    out(E, "const long off = kh * %ld;", g->dh * g->wp);
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
    out(E, "const float *x = %s;", in_ptr(E, lp, 0));
    out(E, "float *y = %s;", out_ptr(E, lp));
    out(E, "const float *w = m->params + %ld;", lp->w_off);
    if (lp->b_off >= 0)
        out(E, "const float *b = m->params + %ld;", lp->b_off);
    out(E, "PARALLEL_FOR");
    open_block(E, "for (int i = 0; i < n; i++)");
    emit_padded_input(E, &g);
    open_block(E, "for (long f = 0; f < %ld; f++)", g.f);
    out(E, "float *yq = qb + f * %ld;", g.plane_q);
    out(E, "memset(yq, 0, sizeof(float) * %ld);", g.q);
    open_block(E, "for (long c = 0; c < %ld; c++)", g.cg);
    out(E, "const float *xc = xp + (f / %ld * %ld + c) * %ld;", g.fg, g.cg, g.plane_in);
    out(E, "const float *wk = w + (f * %ld + c) * %ld;", g.cg, g.kh * g.kw);
    if (g.kh * g.kw <= E->opt->unroll && g.kh * g.kw <= 9) {
        /* Every tap in one pass: one load and store of yq per KH*KW FMAs
         * (measured: with more than 9 weights their registers run out, and
         * a pass per kernel row is faster). */
        out(E, "const long off = 0;");
        for (long t = 0; t < g.kh * g.kw; t++)
            out(E, "const float w%ld = wk[%ld];", t, t);
        open_block(E, "for (long q = 0; q < %ld; q++)", g.q);
        StrBuf sum;
        sb_init(&sum);
        for (long t = 0; t < g.kh * g.kw; t++)
            sb_printf(&sum, "%s%sw%ld * %s", t ? " +" : "", t && t % 4 == 0 ? "\n            " : " ", t,
                      strided(&g, "xc", t / g.kw * g.dh * g.wp + t % g.kw * g.dw));
        out(E, "yq[q] +=%s;", sum.data);
        sb_free(&sum);
        close_block(E);
    } else {
        open_kernel_rows(E, &g);
        for (long kw = 0; kw < g.kw; kw++)
            out(E, "const float w%ld = wk[kh * %ld + %ld];", kw, g.kw, kw);
        open_block(E, "for (long q = 0; q < %ld; q++)", g.q);
        StrBuf sum;
        sb_init(&sum);
        for (long kw = 0; kw < g.kw; kw++)
            sb_printf(&sum, "%sw%ld * %s", kw ? " + " : "", kw, strided(&g, "xc", kw * g.dw));
        out(E, "yq[q] += %s;", sum.data);
        sb_free(&sum);
        close_block(E);
        close_block(E);
    }
    close_block(E);
    out(E, "float *yf = y + (size_t)i * %ld + f * %ld;", g.out_size, g.oh * g.ow);
    out(E, "for (long r = 0; r < %ld; r++)", g.oh);
    out(E, "    for (long o = 0; o < %ld; o++)", g.ow);
    out(E, "        yf[r * %ld + o] = yq[r * %ld + o]%s;", g.ow, g.wp, lp->b_off >= 0 ? " + b[f]" : "");
    char count[32];
    snprintf(count, sizeof count, "%ld", g.oh * g.ow);
    if (n->act != ACT_SOFTMAX)
        emit_act_forward(E, n->act, n->act_alpha, "yf", count);
    close_block(E);
    close_block(E);
    if (n->act == ACT_SOFTMAX)
        emit_softmax_forward(E, "y", g.f, g.oh * g.ow);
}

/* A dot product with eight partial sums: vector code without -ffast-math. */
static void emit_dot(Emitter *E, const Flat *g, const char *a, const char *b, long tap_off, const char *dst)
{
    out(E, "float s8[8] = {0, 0, 0, 0, 0, 0, 0, 0};");
    out(E, "long q = 0;");
    out(E, "for (; q + 8 <= %ld; q += 8)", g->q);
    if (g->s == 1)
        out(E, "    for (int j = 0; j < 8; j++) s8[j] += %s[q + j] * %s[off + %ld + q + j];", a, b, tap_off);
    else
        out(E, "    for (int j = 0; j < 8; j++) s8[j] += %s[q + j] * %s[off + %ld + (q + j) * %ld];", a, b, tap_off,
            g->s);
    out(E, "for (; q < %ld; q++) s8[0] += %s[q] * %s;", g->q, a, strided(g, b, tap_off));
    out(E, "%s += ((s8[0] + s8[1]) + (s8[2] + s8[3])) + ((s8[4] + s8[5]) + (s8[6] + s8[7]));", dst);
}

void emit_flat_conv_backward(Emitter *E, const LayerPlan *lp)
{
    const Node *n = lp->node;
    Flat g = flat_of(n);
    out(E, "const float *x = %s;", in_ptr(E, lp, 0));
    out(E, "const float *y = %s;", out_ptr(E, lp));
    out(E, "float *dy = %s;", out_grad_ptr(E, lp));
    out(E, "float *dx = %s;", in_grad_ptr(E, lp, 0));
    out(E, "const float *w = m->params + %ld;", lp->w_off);
    out(E, "float *dw = m->grads + %ld;", lp->w_off);
    out(E, "(void)y;");
    char count[64];
    snprintf(count, sizeof count, "(long)n * %ld", g.out_size);
    if (n->act == ACT_SOFTMAX)
        emit_softmax_backward(E, "y", "dy", g.f, g.oh * g.ow, n->id == E->net->output);
    else
        emit_act_backward(E, n->act, n->act_alpha, "y", "dy", count);
    out(E, "/* each image: its padded input, and dL/dy on rows of width %ld */", g.wp);
    out(E, "PARALLEL_FOR");
    open_block(E, "for (int i = 0; i < n; i++)");
    emit_padded_input(E, &g);
    out(E, "for (long f = 0; f < %ld; f++)", g.f);
    out(E, "    for (long r = 0; r < %ld; r++)", g.oh);
    out(E, "        for (long o = 0; o < %ld; o++)", g.wp);
    out(E, "            qb[f * %ld + r * %ld + o] = o < %ld ? dy[(size_t)i * %ld + (f * %ld + r) * %ld + o] : 0.0f;",
        g.plane_q, g.wp, g.ow, g.out_size, g.oh, g.ow);
    close_block(E);
    out(E, "/* weights: each filter's gradient is one thread's */");
    out(E, "PARALLEL_FOR");
    open_block(E, "for (long f = 0; f < %ld; f++)", g.f);
    open_block(E, "for (int i = 0; i < n; i++)");
    out(E, "const float *xp = m->flat + (size_t)i * %ld;", E->flat_elems);
    out(E, "const float *dq = xp + %ld + f * %ld;", g.c * g.plane_in, g.plane_q);
    if (lp->b_off >= 0) {
        out(E, "float *db = m->grads + %ld;", lp->b_off);
        out(E, "float sum = 0.0f;");
        out(E, "for (long q = 0; q < %ld; q++) sum += dq[q];", g.q);
        out(E, "db[f] += sum;");
    }
    open_block(E, "for (long c = 0; c < %ld; c++)", g.cg);
    out(E, "const float *xc = xp + (f / %ld * %ld + c) * %ld;", g.fg, g.cg, g.plane_in);
    out(E, "float *dwk = dw + (f * %ld + c) * %ld;", g.cg, g.kh * g.kw);
    open_kernel_rows(E, &g);
    for (long kw = 0; kw < g.kw; kw++) {
        open_scope(E);
        char dst[96];
        snprintf(dst, sizeof dst, "dwk[kh * %ld + %ld]", g.kw, kw);
        emit_dot(E, &g, "dq", "xc", kw * g.dw, dst);
        close_block(E);
    }
    close_block(E);
    close_block(E);
    close_block(E);
    close_block(E);
    out(E, "if (!dx)");
    out(E, "    return;");
    out(E, "/* inputs: taps add into a padded plane (over the input copy, no longer needed) */");
    out(E, "PARALLEL_FOR");
    open_block(E, "for (int i = 0; i < n; i++)");
    out(E, "float *dxp = m->flat + (size_t)i * %ld;", E->flat_elems);
    out(E, "const float *qb = dxp + %ld;", g.c * g.plane_in);
    out(E, "memset(dxp, 0, sizeof(float) * %ld);", g.c * g.plane_in);
    open_block(E, "for (long f = 0; f < %ld; f++)", g.f);
    out(E, "const float *dq = qb + f * %ld;", g.plane_q);
    open_block(E, "for (long c = 0; c < %ld; c++)", g.cg);
    out(E, "float *dxc = dxp + (f / %ld * %ld + c) * %ld;", g.fg, g.cg, g.plane_in);
    out(E, "const float *wk = w + (f * %ld + c) * %ld;", g.cg, g.kh * g.kw);
    open_kernel_rows(E, &g);
    for (long kw = 0; kw < g.kw; kw++) {
        out(E, "const float w%ld = wk[kh * %ld + %ld];", kw, g.kw, kw);
        out(E, "for (long q = 0; q < %ld; q++) %s += w%ld * dq[q];", g.q, strided(&g, "dxc", kw * g.dw), kw);
    }
    close_block(E);
    close_block(E);
    close_block(E);
    out(E, "float *dxi = dx + (size_t)i * %ld;", g.in_size);
    out(E, "for (long c = 0; c < %ld; c++)", g.c);
    out(E, "    for (long r = 0; r < %ld; r++)", g.h);
    out(E, "        for (long o = 0; o < %ld; o++)", g.w);
    out(E, "            dxi[(c * %ld + r) * %ld + o] += dxp[(c * %ld + r + %ld) * %ld + o + %ld];", g.h, g.w, g.hp,
        g.pt, g.wp, g.pl);
    close_block(E);
}
