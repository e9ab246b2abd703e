/* emit/conv.c - kernels of the layers with weights: conv, deconv and fc.
 *
 * Convolution is direct, image by image and filter by filter.  For each
 * kernel tap (kh, kw) the rows and columns it reaches are known when the
 * code is written, so padding costs no test in the inner loop, which runs
 * along a row and vectorises.  A kernel of at most --unroll taps is written
 * out tap by tap with its constants; a larger one stays a loop whose bounds
 * are computed at run time.
 *
 * Every kernel here is one of three statements over a pair of grids: the
 * "dense" grid a, walked with step 1, and the "strided" grid b, where a
 * position o of a meets o*stride + tap offset.  Convolution forward adds
 * into a (its output), its input gradient adds into b, its weight gradient
 * is a dot product of the two; transposed convolution swaps the roles. */
#include <string.h>

#include "emitter.h"

typedef enum { TAP_ADD_TO_A, TAP_ADD_TO_B, TAP_DOT } TapOp;

typedef struct {
    long a_h, a_w;      /* dense grid */
    long b_h, b_w;      /* strided grid */
    long kh, kw, sh, sw, dh, dw, pt, pl;
    TapOp op;
    const char *a, *b;  /* pointers to the two planes */
    const char *wk;     /* the KHxKW weights of this (filter, channel) pair */
} Taps;

/* Positions o in [0, n) with 0 <= o*s + off < in. */
static void tap_range(long in, long n, long s, long off, long *lo, long *hi)
{
    long l = 0;
    while (l < n && l * s + off < 0)
        l++;
    long h = n - 1;
    while (h >= l && h * s + off >= in)
        h--;
    *lo = l;
    *hi = h;
}

/* br points at the start of a row that the tap reads, and bo (o times
 * the stride, plus the tap's column offset) indexes it: the pointer
 * itself never leaves the array. */
static void tap_statement(Emitter *E, const Taps *t, const char *wexpr, const char *lo_w,
                          const char *hi_w, const char *bo)
{
    switch (t->op) {
    case TAP_ADD_TO_A:
        emit_out(E, "const float wv = %s;", wexpr);
        emit_out(E, "for (long o = %s; o <= %s; o++) ar[o] += wv * br[%s];", lo_w, hi_w, bo);
        break;
    case TAP_ADD_TO_B:
        emit_out(E, "const float wv = %s;", wexpr);
        emit_out(E, "for (long o = %s; o <= %s; o++) br[%s] += wv * ar[o];", lo_w, hi_w, bo);
        break;
    case TAP_DOT:
        emit_out(E, "for (long o = %s; o <= %s; o++) acc += ar[o] * br[%s];", lo_w, hi_w, bo);
        break;
    }
}

static const char *constness(const Taps *t, char grid)
{
    if (t->op == TAP_DOT)
        return "const ";
    return (t->op == TAP_ADD_TO_A) == (grid == 'a') ? "" : "const ";
}

/* One tap written out with constant bounds; false if it has nothing to do. */
static bool unrolled_tap(Emitter *E, const Taps *t, long kh, long kw)
{
    long off_h = kh * t->dh - t->pt, off_w = kw * t->dw - t->pl, lo_h, hi_h, lo_w, hi_w;
    tap_range(t->b_h, t->a_h, t->sh, off_h, &lo_h, &hi_h);
    tap_range(t->b_w, t->a_w, t->sw, off_w, &lo_w, &hi_w);
    if (lo_h > hi_h || lo_w > hi_w)
        return false;   /* this tap only ever meets padding */
    char wexpr[64], lo[32], hi[32];
    snprintf(wexpr, sizeof wexpr, "%s[%ld]", t->wk, kh * t->kw + kw);
    snprintf(lo, sizeof lo, "%ld", lo_w);
    snprintf(hi, sizeof hi, "%ld", hi_w);
    emit_open_scope(E);
    if (t->op == TAP_DOT)
        emit_out(E, "float acc = 0.0f;");
    emit_open_block(E, "for (long r = %ld; r <= %ld; r++)", lo_h, hi_h);
    char row[64], bo[64];
    Term rt[] = {{t->sh * t->b_w, "r"}, {off_h * t->b_w, NULL}}, ot[] = {{t->sw, "o"}, {off_w, NULL}};
    emit_out(E, "%sfloat *ar = %s + r * %ld;", constness(t, 'a'), t->a, t->a_w);
    emit_out(E, "%sfloat *br = %s + %s;", constness(t, 'b'), t->b, emit_linear(row, sizeof row, 2, rt));
    tap_statement(E, t, wexpr, lo, hi, emit_linear(bo, sizeof bo, 2, ot));
    emit_close_block(E);
    if (t->op == TAP_DOT)
        emit_out(E, "%s[%ld] += acc;", t->wk, kh * t->kw + kw);
    emit_close_block(E);
    return true;
}

/* All taps as loops, bounds computed at run time. */
static void looped_taps(Emitter *E, const Taps *t)
{
    emit_open_block(E, "for (long kh = 0; kh < %ld; kh++)", t->kh);
    emit_out(E, "const long off_h = kh * %ld - %ld;", t->dh, t->pt);
    emit_out(E, "long lo_h = 0, hi_h = %ld;", t->a_h - 1);
    emit_out(E, "while (lo_h <= hi_h && lo_h * %ld + off_h < 0) lo_h++;", t->sh);
    emit_out(E, "while (hi_h >= lo_h && hi_h * %ld + off_h >= %ld) hi_h--;", t->sh, t->b_h);
    emit_open_block(E, "for (long kw = 0; kw < %ld; kw++)", t->kw);
    emit_out(E, "const long off_w = kw * %ld - %ld;", t->dw, t->pl);
    emit_out(E, "long lo_w = 0, hi_w = %ld;", t->a_w - 1);
    emit_out(E, "while (lo_w <= hi_w && lo_w * %ld + off_w < 0) lo_w++;", t->sw);
    emit_out(E, "while (hi_w >= lo_w && hi_w * %ld + off_w >= %ld) hi_w--;", t->sw, t->b_w);
    if (t->op == TAP_DOT)
        emit_out(E, "float acc = 0.0f;");
    emit_open_block(E, "for (long r = lo_h; r <= hi_h; r++)");
    emit_out(E, "%sfloat *ar = %s + r * %ld;", constness(t, 'a'), t->a, t->a_w);
    emit_out(E, "%sfloat *br = %s + (r * %ld + off_h) * %ld;", constness(t, 'b'), t->b, t->sh, t->b_w);
    char wexpr[64], bo[64];
    Term ot[] = {{t->sw, "o"}, {1, "off_w"}};
    snprintf(wexpr, sizeof wexpr, "%s[kh * %ld + kw]", t->wk, t->kw);
    tap_statement(E, t, wexpr, "lo_w", "hi_w", emit_linear(bo, sizeof bo, 2, ot));
    emit_close_block(E);
    if (t->op == TAP_DOT)
        emit_out(E, "%s[kh * %ld + kw] += acc;", t->wk, t->kw);
    emit_close_block(E);
    emit_close_block(E);
}

static void emit_taps(Emitter *E, const Taps *t)
{
    if (t->kh * t->kw <= E->opt->unroll) {
        bool any = false;
        for (long kh = 0; kh < t->kh; kh++)
            for (long kw = 0; kw < t->kw; kw++)
                any |= unrolled_tap(E, t, kh, kw);
        if (!any) {   /* every tap meets only padding (e.g. pad same on a 1x1 input) */
            emit_out(E, "(void)%s;", t->a);
            emit_out(E, "(void)%s;", t->b);
            emit_out(E, "(void)%s;", t->wk);
        }
    } else {
        looped_taps(E, t);
    }
}

/* ---- shared shapes ---- */

static Taps taps_of(const ConvGeom *g, bool transposed)
{
    Taps t;
    memset(&t, 0, sizeof t);
    t.a_h = transposed ? g->h : g->oh;
    t.a_w = transposed ? g->w : g->ow;
    t.b_h = transposed ? g->oh : g->h;
    t.b_w = transposed ? g->ow : g->w;
    t.kh = g->kh;
    t.kw = g->kw;
    t.sh = g->sh;
    t.sw = g->sw;
    t.dh = g->dh;
    t.dw = g->dw;
    t.pt = g->pt;
    t.pl = g->pl;
    return t;
}

static void act_forward_plane(Emitter *E, const Node *n, const char *ptr, long count)
{
    char c[32];
    snprintf(c, sizeof c, "%ld", count);
    emit_act_forward(E, n, ptr, c);
}

/* ---- conv ---- */

void emit_conv_forward(Emitter *E, const LayerPlan *lp)
{
    const Node *n = lp->node;
    const ConvGeom d = lp->low->g;
    Taps t = taps_of(&d, false);
    t.op = TAP_ADD_TO_A;
    t.a = "yf";
    t.b = "xc";
    t.wk = "wk";
    emit_weighted_forward_head(E, lp);
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    emit_open_block(E, "for (long f = 0; f < %ld; f++)", d.f);
    emit_out(E, "float *yf = y + (size_t)i * %ld + f * %ld;", d.out_size, d.ohw);
    emit_out(E, "for (long p = 0; p < %ld; p++) yf[p] = %s;", d.ohw, lp->b_off >= 0 ? "b[f]" : "0.0f");
    bool c = emit_loop(E, "long", "c", d.cg);
    emit_group_channel(E, &d, "const float *xc = x + ", d.in_size, d.hw, c);
    emit_filter_channel(E, &d, c, "const float *wk = w + ");
    emit_taps(E, &t);
    emit_end_loop(E, c);
    act_forward_plane(E, n, "yf", d.ohw);
    emit_close_block(E);
    emit_close_block(E);
    if (n->act == ACT_SOFTMAX)
        emit_softmax_forward(E, "y", d.f, d.ohw);
}

void emit_conv_backward(Emitter *E, const LayerPlan *lp)
{
    const ConvGeom d = lp->low->g;
    Taps t = taps_of(&d, false);
    t.a = "dyf";
    t.b = "xc";
    t.wk = "dwk";
    emit_weighted_backward_head(E, lp);
    if (lp->b_off >= 0)
        emit_out(E, "float *db = m->grads + %s;", lp->b_name);
    emit_out(E, "/* weights: each filter's gradient is one thread's */");
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (long f = 0; f < %ld; f++)", d.f);
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    emit_out(E, "const float *dyf = dy + (size_t)i * %ld + f * %ld;", d.out_size, d.ohw);
    if (lp->b_off >= 0) {
        emit_out(E, "float sum = 0.0f;");
        emit_out(E, "for (long p = 0; p < %ld; p++) sum += dyf[p];", d.ohw);
        emit_out(E, "db[f] += sum;");
    }
    bool c = emit_loop(E, "long", "c", d.cg);
    emit_group_channel(E, &d, "const float *xc = x + ", d.in_size, d.hw, c);
    emit_filter_channel(E, &d, c, "float *dwk = dw + ");
    t.op = TAP_DOT;
    emit_taps(E, &t);
    emit_end_loop(E, c);
    emit_close_block(E);
    emit_close_block(E);
    emit_out(E, "if (!dx)");
    emit_out(E, "    return;");
    emit_out(E, "/* inputs: each image's gradient is one thread's */");
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    emit_open_block(E, "for (long f = 0; f < %ld; f++)", d.f);
    emit_out(E, "const float *dyf = dy + (size_t)i * %ld + f * %ld;", d.out_size, d.ohw);
    c = emit_loop(E, "long", "c", d.cg);
    emit_group_channel(E, &d, "float *xc = dx + ", d.in_size, d.hw, c);
    emit_filter_channel(E, &d, c, "const float *wk = w + ");
    t.op = TAP_ADD_TO_B;
    t.wk = "wk";
    emit_taps(E, &t);
    emit_end_loop(E, c);
    emit_close_block(E);
    emit_close_block(E);
}

/* ---- deconv: weights [C][F/G][KH][KW]; input is the dense grid ---- */

void emit_deconv_forward(Emitter *E, const LayerPlan *lp)
{
    const Node *n = lp->node;
    const ConvGeom d = lp->low->g;
    Taps t = taps_of(&d, true);
    t.op = TAP_ADD_TO_B;
    t.a = "xc";
    t.b = "yf";
    t.wk = "wk";
    emit_weighted_forward_head(E, lp);
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    emit_open_block(E, "for (long f = 0; f < %ld; f++)", d.f);
    emit_out(E, "float *yf = y + (size_t)i * %ld + f * %ld;", d.out_size, d.ohw);
    emit_out(E, "for (long p = 0; p < %ld; p++) yf[p] = %s;", d.ohw, lp->b_off >= 0 ? "b[f]" : "0.0f");
    emit_open_block(E, "for (long c = f / %ld * %ld; c < (f / %ld + 1) * %ld; c++)", d.fg, d.cg, d.fg, d.cg);
    emit_out(E, "const float *xc = x + (size_t)i * %ld + c * %ld;", d.in_size, d.hw);
    emit_out(E, "const float *wk = w + (c * %ld + f %% %ld) * %ld;", d.fg, d.fg, d.taps);
    emit_taps(E, &t);
    emit_close_block(E);
    act_forward_plane(E, n, "yf", d.ohw);
    emit_close_block(E);
    emit_close_block(E);
    if (n->act == ACT_SOFTMAX)
        emit_softmax_forward(E, "y", d.f, d.ohw);
}

void emit_deconv_backward(Emitter *E, const LayerPlan *lp)
{
    const ConvGeom d = lp->low->g;
    Taps t = taps_of(&d, true);
    t.a = "xc";
    t.b = "dyf";
    emit_weighted_backward_head(E, lp);
    if (lp->b_off >= 0)
        emit_out(E, "float *db = m->grads + %s;", lp->b_name);
    if (lp->b_off >= 0) {
        emit_open_block(E, "for (long f = 0; f < %ld; f++)", d.f);
        emit_out(E, "float sum = 0.0f;");
        emit_out(E, "for (int i = 0; i < n; i++)");
        emit_out(E, "    for (long p = 0; p < %ld; p++) sum += dy[(size_t)i * %ld + f * %ld + p];", d.ohw,
            d.out_size, d.ohw);
        emit_out(E, "db[f] += sum;");
        emit_close_block(E);
    }
    emit_out(E, "/* weights: each input channel's gradient is one thread's */");
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (long c = 0; c < %ld; c++)", d.c);
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    emit_out(E, "const float *xc = x + (size_t)i * %ld + c * %ld;", d.in_size, d.hw);
    emit_open_block(E, "for (long f = c / %ld * %ld; f < (c / %ld + 1) * %ld; f++)", d.cg, d.fg, d.cg, d.fg);
    emit_out(E, "const float *dyf = dy + (size_t)i * %ld + f * %ld;", d.out_size, d.ohw);
    emit_out(E, "float *dwk = dw + (c * %ld + f %% %ld) * %ld;", d.fg, d.fg, d.taps);
    t.op = TAP_DOT;
    t.wk = "dwk";
    emit_taps(E, &t);
    emit_close_block(E);
    emit_close_block(E);
    emit_close_block(E);
    emit_out(E, "if (!dx)");
    emit_out(E, "    return;");
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    emit_open_block(E, "for (long c = 0; c < %ld; c++)", d.c);
    emit_out(E, "float *xc = dx + (size_t)i * %ld + c * %ld;", d.in_size, d.hw);
    emit_open_block(E, "for (long f = c / %ld * %ld; f < (c / %ld + 1) * %ld; f++)", d.cg, d.fg, d.cg, d.fg);
    emit_out(E, "const float *dyf = dy + (size_t)i * %ld + f * %ld;", d.out_size, d.ohw);
    emit_out(E, "const float *wk = w + (c * %ld + f %% %ld) * %ld;", d.fg, d.fg, d.taps);
    t.op = TAP_ADD_TO_A;
    t.wk = "wk";
    emit_taps(E, &t);
    emit_close_block(E);
    emit_close_block(E);
    emit_close_block(E);
}

/* ---- fc: weights [OUT][IN], IN in C,H,W order ---- */

void emit_fc_forward(Emitter *E, const LayerPlan *lp)
{
    const Node *n = lp->node;
    long in = lp->low->g.in_size, outs = lp->low->g.f;
    emit_weighted_forward_head(E, lp);
    emit_out(E, "/* tasks of 8 outputs: at batch 1, over the images would leave threads idle */");
    emit_out(E, "PARALLEL_FOR");
    emit_out(E, "for (long o = 0; o < %ld; o += 8)", outs);
    emit_out(E, "    cnn_kernels_best()->fc_forward(x, %ld, w, %s, %ld, o, o + 8 < %ld ? o + 8 : %ld, n, y);", in,
        lp->b_off >= 0 ? "b" : "NULL", outs, outs, outs);
    if (n->act != ACT_NONE && n->act != ACT_LINEAR && n->act != ACT_SOFTMAX) {
        emit_open_block(E, "for (int i = 0; i < n; i++)");
        emit_out(E, "float *yi = y + (size_t)i * %ld;", outs);
        act_forward_plane(E, n, "yi", outs);
        emit_close_block(E);
    }
    if (n->act == ACT_SOFTMAX)
        emit_softmax_forward(E, "y", outs, 1);
}

void emit_fc_backward(Emitter *E, const LayerPlan *lp)
{
    long in = lp->low->g.in_size, outs = lp->low->g.f;
    emit_weighted_backward_head(E, lp);
    if (lp->b_off >= 0)
        emit_out(E, "float *db = m->grads + %s;", lp->b_name);
    emit_out(E, "/* four outputs at a time: each image's input read once for them */");
    emit_out(E, "PARALLEL_FOR");
    emit_out(E, "for (long o = 0; o < %ld; o += 4)", outs);
    emit_out(E, "    cnn_kernels_best()->fc_weight_grads(x, %ld, dy, %ld, o, o + 4 < %ld ? o + 4 : %ld, n, dw, %s);", in,
        outs, outs, outs, lp->b_off >= 0 ? "db" : "NULL");
    emit_out(E, "if (!dx)");
    emit_out(E, "    return;");
    emit_out(E, "PARALLEL_FOR");
    emit_out(E, "for (int i = 0; i < n; i++)");
    emit_out(E, "    cnn_kernels_best()->fc_input_grads(dy, %ld, w, %ld, i, i + 1, dx);", outs, in);
}
