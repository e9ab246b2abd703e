/* check.c - shape inference and counts (see check.h).
 *
 * Sizes come straight from the user, so every product and sum goes through
 * mul_ovf/add_ovf: `input 2000000000x2000000000x3` or a stride of 2^62 must
 * give an error, never a wrapped number or undefined behaviour.  A checked
 * dimension is at most DIM_MAX, which keeps the generated C in int range.
 *
 * The window rule (conv, pool) follows PyTorch's formula
 *     out = (in + pad_before + pad_after - dilation*(k-1) - 1) / stride + 1
 * and refuses an inexact division unless `fit floor|ceil` says what to do,
 * because silently dropping rows is a classic source of wrong networks.
 */
#include "check.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "expand.h"
#include "kinds.h"
#include "util.h"

#define DIM_MAX INT32_MAX

/* Every tensor, a layer's output for one image and a layer's parameters,
 * has at most TENSOR_MAX elements: the generated code indexes tensors with
 * int and its descriptor holds the input and output sizes as int.  The
 * totals (parameters, state, activations) are then sums of at most
 * MAX_NODES such tensors, and the sums the emitter forms from them (four
 * copies of the parameters for training, plus state and buffers) stay far
 * inside the 64-bit long it computes them in: the checker is what keeps
 * the emitter's arithmetic from overflowing. */
#define TENSOR_MAX INT32_MAX
_Static_assert((int64_t)MAX_NODES * TENSOR_MAX < INT64_MAX / 64,
               "the emitter's sums of tensor sizes must fit in 64 bits");

/* Stride suggestions search divisors in O(sqrt(span)): bounded so that a
 * file of many huge misfits stays fast.  Larger spans need padding beyond
 * any real input, so nothing useful is lost. */
#define DIVISOR_SEARCH_MAX ((int64_t)DIM_MAX)

typedef struct {
    Net *net;
    int errors;
    bool volume;    /* the input is a volume: every size has a depth */
} Checker;

static void fail(Checker *ck, SrcLoc loc, const char *fmt, ...) DIAG_PRINTF(3, 4);

static void fail(Checker *ck, SrcLoc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *msg = xmalloc((size_t)len + 1);
    va_start(ap, fmt);
    vsnprintf(msg, (size_t)len + 1, fmt, ap);
    va_end(ap);
    error_at(loc, "%s", msg);
    free(msg);
    ck->errors++;
}

/* A short string returned by value, so that messages can format sizes
 * inline: fail(..., "%s", hw(h, w).s).  The temporary lives until the end
 * of the full expression (C11 6.2.4p8). */
typedef struct {
    char s[64];
} Text;

static Text hw(int64_t h, int64_t w)
{
    Text t;
    snprintf(t.s, sizeof t.s, "%" PRId64 "x%" PRId64, h, w);
    return t;
}

/* How an option is written: "3" when both axes agree, else "3x2". */
static Text opt(int64_t h, int64_t w)
{
    if (h != w)
        return hw(h, w);
    Text t;
    snprintf(t.s, sizeof t.s, "%" PRId64, h);
    return t;
}

/* "5x5" on an image, "5x5x5" on a volume. */
static Text dims(bool volume, int64_t d, int64_t h, int64_t w)
{
    if (!volume)
        return hw(h, w);
    Text t;
    snprintf(t.s, sizeof t.s, "%" PRId64 "x%" PRId64 "x%" PRId64, d, h, w);
    return t;
}

/* An option as written: "2" when every axis agrees, else one per axis. */
static Text opts(bool volume, int64_t d, int64_t h, int64_t w)
{
    if (!volume || (d == h && h == w))
        return opt(h, w);
    return dims(volume, d, h, w);
}

static Text hwc(Shape s)
{
    Text t;
    if (s.volume)
        snprintf(t.s, sizeof t.s, "%" PRId64 "x%" PRId64 "x%" PRId64 "x%" PRId64, s.d, s.h, s.w, s.c);
    else
        snprintf(t.s, sizeof t.s, "%" PRId64 "x%" PRId64 "x%" PRId64, s.h, s.w, s.c);
    return t;
}

/* Checked arithmetic that can be chained in one formula: an overflow turns
 * *ok false and yields 0, and the caller looks at *ok once at the end. */
static int64_t mul(bool *ok, int64_t a, int64_t b)
{
    int64_t r;
    *ok = mul_ovf(a, b, &r) && *ok;
    return *ok ? r : 0;
}

static int64_t add(bool *ok, int64_t a, int64_t b)
{
    int64_t r;
    *ok = add_ovf(a, b, &r) && *ok;
    return *ok ? r : 0;
}

static bool same_shape(Shape a, Shape b)
{
    return a.d == b.d && a.h == b.h && a.w == b.w && a.c == b.c;
}

/* ---- Setting a node's results ---- */

static bool overflows(Checker *ck, const Node *n)
{
    fail(ck, n->loc, "%s: output size overflows", n->name);
    return false;
}

/* The elements of n's tensors (layer_tensors): trained, and state. */
static void count_tensors(const Node *n, int64_t *params, int64_t *state, bool *ok)
{
    LayerTensor t[MAX_LAYER_TENSORS];
    int count = layer_tensors(n, t);
    *params = *state = 0;
    for (int i = 0; i < count; i++) {
        int64_t *sum = t[i].state ? state : params;
        *sum = add(ok, *sum, tensor_elems(&t[i], ok));
    }
}

/* Stores the output shape and counts, or says which one overflows. */
static bool finish(Checker *ck, Node *n, Shape out, bool shape_ok, int64_t macs, bool counts_ok)
{
    int64_t elems = mul(&shape_ok, mul(&shape_ok, mul(&shape_ok, out.d, out.h), out.w), out.c);
    if (!shape_ok || out.d > DIM_MAX || out.h > DIM_MAX || out.w > DIM_MAX || out.c > DIM_MAX)
        return overflows(ck, n);
    int64_t params, state;
    count_tensors(n, &params, &state, &counts_ok);
    if (!counts_ok) {
        fail(ck, n->loc, "%s: parameter or multiply-accumulate count overflows", n->name);
        return false;
    }
    if (elems > TENSOR_MAX) {
        fail(ck, n->loc, "%s: %s is %" PRId64 " elements; a tensor may have at most "
             "%d (2^31-1)", n->name, hwc(out).s, elems, TENSOR_MAX);
        return false;
    }
    if (params > TENSOR_MAX) {
        fail(ck, n->loc, "%s: %" PRId64 " parameters; a layer may have at most %d (2^31-1)",
             n->name, params, TENSOR_MAX);
        return false;
    }
    n->out = out;
    n->out_elems = elems;
    n->params = params;
    n->non_trainable = state;
    n->macs = macs;
    n->checked = true;
    return true;
}

/* ---- Option values ---- */

/* "conv2: stride must be at least 1, not 0" (or "not 0x2", "not 1x0x2"). */
static bool at_least_3(Checker *ck, const Node *n, const char *what, int64_t min,
                       int64_t d, int64_t h, int64_t w)
{
    if (d >= min && h >= min && w >= min)
        return true;
    fail(ck, n->loc, "%s: %s must be at least %" PRId64 ", not %s",
         n->name, what, min, opts(ck->volume, d, h, w).s);
    return false;
}

static bool at_least(Checker *ck, const Node *n, const char *what, int64_t min,
                     int64_t h, int64_t w)
{
    return at_least_3(ck, n, what, min, h, h, w);
}

static bool check_window_values(Checker *ck, const Node *n, const char *kernel)
{
    bool ok = at_least_3(ck, n, kernel, 1, n->kd, n->kh, n->kw);
    ok &= at_least_3(ck, n, "stride", 1, n->sd, n->sh, n->sw);
    if (n->pad_mode == PAD_EXPLICIT)
        ok &= at_least_3(ck, n, "padding", 0, n->pad_d, n->pad_h, n->pad_w);
    return ok;
}

static bool check_conv_values(Checker *ck, const Node *n)
{
    bool ok = check_window_values(ck, n, "filter size");
    ok &= at_least(ck, n, "number of filters", 1, n->filters, n->filters);
    ok &= at_least_3(ck, n, "dilation", 1, n->dd, n->dh, n->dw);
    ok &= at_least(ck, n, "groups", 1, n->groups, n->groups);
    if (n->op == OP_DECONV && n->pad_mode == PAD_SAME) {
        fail(ck, n->loc, "%s: pad same is not supported for deconv; give the padding as a number",
             n->name);
        ok = false;
    }
    return ok;
}

static bool check_bn_values(Checker *ck, const Node *n)
{
    bool ok = true;
    if (!(n->eps > 0)) {
        fail(ck, n->loc, "%s: eps must be greater than 0, not %g", n->name, n->eps);
        ok = false;
    }
    if (!(n->momentum >= 0 && n->momentum <= 1)) {
        fail(ck, n->loc, "%s: momentum must be between 0 and 1, not %g", n->name, n->momentum);
        ok = false;
    }
    return ok;
}

static bool check_pool_values(Checker *ck, const Node *n)
{
    return n->global || check_window_values(ck, n, "window size");
}

static bool check_fc_values(Checker *ck, const Node *n)
{
    return at_least(ck, n, "number of outputs", 1, n->filters, n->filters);
}

static bool check_dropout_values(Checker *ck, const Node *n)
{
    if (n->drop_p >= 0 && n->drop_p < 1)
        return true;
    fail(ck, n->loc, "%s: dropout probability must be at least 0 and less than 1, not %g",
         n->name, n->drop_p);
    return false;
}

static bool check_upsample_values(Checker *ck, const Node *n)
{
    return at_least(ck, n, "upsampling factor", 1, n->factor, n->factor);
}

static bool check_crop_values(Checker *ck, const Node *n)
{
    return at_least_3(ck, n, "crop size", 1, n->crop_d, n->crop_h, n->crop_w);
}

/* nn.LocalResponseNorm divides by (k + alpha/N * sum x^2)^beta: with
 * alpha >= 0 and k > 0 the base is positive, so the power is defined. */
static bool check_lrn_values(Checker *ck, const Node *n)
{
    bool ok = at_least(ck, n, "size", 1, n->lrn_size, n->lrn_size);
    if (n->lrn_size > DIM_MAX) {
        fail(ck, n->loc, "%s: size must be at most %d, not %" PRId64, n->name, DIM_MAX, n->lrn_size);
        ok = false;
    }
    if (!(n->lrn_alpha >= 0)) {
        fail(ck, n->loc, "%s: alpha must be at least 0, not %g", n->name, n->lrn_alpha);
        ok = false;
    }
    if (!(n->lrn_beta > 0)) {
        fail(ck, n->loc, "%s: beta must be greater than 0, not %g", n->name, n->lrn_beta);
        ok = false;
    }
    if (!(n->lrn_k > 0)) {
        fail(ck, n->loc, "%s: k must be greater than 0, not %g", n->name, n->lrn_k);
        ok = false;
    }
    return ok;
}

/* ---- Sliding windows: conv and pool ---- */

/* One spatial axis of a window, in the terms of the formula above. */
typedef struct {
    int64_t in, k, s, d;   /* input size, kernel, stride, dilation */
    int64_t pad_a, pad_b;  /* padding before (top/left) and after */
    int64_t eff;           /* kernel extent with dilation: d*(k-1)+1 */
    int64_t padded;        /* in + pad_a + pad_b */
    int64_t span;          /* padded - eff: how far the window travels */
    int64_t ceil_extra;    /* of pad_b: the rows `fit ceil` adds */
} Axis;

static Axis make_axis(int64_t in, int64_t k, int64_t s, int64_t d, bool *ok)
{
    Axis a = {.in = in, .k = k, .s = s, .d = d};
    a.eff = add(ok, mul(ok, d, k - 1), 1);
    return a;
}

/* `pad same` is TensorFlow's SAME: out = ceil(in/s), the odd row at the
 * bottom/right.  Its windows always fit, except when the total is clamped
 * at 0 (stride > kernel), where flooring still gives ceil(in/s). */
static void set_padding(Axis *a, PadMode mode, int64_t pad, bool *ok)
{
    if (mode == PAD_SAME) {
        int64_t out = (a->in - 1) / a->s + 1;
        int64_t total = add(ok, mul(ok, out - 1, a->s), a->eff) - a->in;
        if (total < 0)
            total = 0;
        a->pad_a = total / 2;
        a->pad_b = total - a->pad_a;
    } else {
        a->pad_a = a->pad_b = mode == PAD_VALID ? 0 : pad;
    }
    a->padded = add(ok, add(ok, a->in, a->pad_a), a->pad_b);
    a->span = a->padded - a->eff;
}

static bool axis_fits(const Axis *a)
{
    return a->span % a->s == 0;
}

static int64_t out_floor(const Axis *a)
{
    return a->span / a->s + 1;
}

/* PyTorch's ceil_mode: one more window that hangs over the edge, but never
 * one that would start in the bottom/right padding.  *extra gets the rows
 * that window reads beyond pad_b. */
static int64_t out_ceil(const Axis *a, int64_t *extra, bool *ok)
{
    int64_t out = out_floor(a) + (a->span % a->s != 0);
    int64_t start;
    if (!mul_ovf(out - 1, a->s, &start) || start >= a->in + a->pad_a)
        out--;
    *extra = add(ok, mul(ok, out - 1, a->s), a->eff) - a->padded;
    if (*extra < 0)
        *extra = 0;
    return out;
}

/* The output along an axis; fit only matters where the windows miss.
 * Under `fit ceil` the padding after grows so the computation is exact. */
static int64_t axis_out(Axis *a, FitMode fit, bool *ok)
{
    if (axis_fits(a) || fit != FIT_CEIL)
        return out_floor(a);
    int64_t extra;
    int64_t out = out_ceil(a, &extra, ok);
    a->pad_b = add(ok, a->pad_b, extra);
    a->ceil_extra = extra;
    return out;
}

static FitMode fit_mode(const Checker *ck, const Node *n)
{
    if (n->pad_mode == PAD_SAME)
        return FIT_FLOOR;
    FitMode fit = n->fit != FIT_DEFAULT ? n->fit : ck->net->fit;
    return fit == FIT_DEFAULT ? FIT_ERROR : fit;
}

static const char *kernel_word(const Node *n)
{
    return n->op == OP_POOL ? "window" : "filter";
}

/* The three axes of a window, depth first.  An image's depth axis is one
 * plane that a 1-plane window covers exactly, so it always fits and adds
 * nothing; messages leave it out (first is then 1). */
typedef struct {
    Axis a[3];
    int first;              /* the first axis the user wrote: 0 on a volume */
    bool volume;
} Window;

enum { AX_D, AX_H, AX_W };

/* "5x5" on an image, "5x5x5" on a volume: one value per axis. */
static Text win_dims(const Window *win, int64_t d, int64_t h, int64_t w)
{
    return dims(win->volume, d, h, w);
}

#define WIN_FIELD(win, f) (win)->a[AX_D].f, (win)->a[AX_H].f, (win)->a[AX_W].f

static bool any_dilated(const Window *win)
{
    return win->a[AX_D].d != 1 || win->a[AX_H].d != 1 || win->a[AX_W].d != 1;
}

/* "the 5x5 filter" or "the 3x3 filter with dilation 2 (5x5 wide)". */
static void describe_kernel(StrBuf *sb, const Node *n, const char *article, const Window *win)
{
    sb_printf(sb, "%s %s %s", article, win_dims(win, WIN_FIELD(win, k)).s, kernel_word(n));
    if (any_dilated(win))
        sb_printf(sb, " with dilation %s", opts(win->volume, WIN_FIELD(win, d)).s);
}

/* " (9x9 with padding)" when there is padding. */
static void describe_padded(StrBuf *sb, const Window *win)
{
    for (int i = 0; i < 3; i++)
        if (win->a[i].padded != win->a[i].in) {
            sb_printf(sb, " (%s with padding)", win_dims(win, WIN_FIELD(win, padded)).s);
            return;
        }
}

static bool report_too_large(Checker *ck, const Node *n, const Window *win, bool padded_known)
{
    StrBuf sb;
    sb_init(&sb);
    sb_printf(&sb, "%s: ", n->name);
    describe_kernel(&sb, n, "the", win);
    if (any_dilated(win) && padded_known)
        sb_printf(&sb, " (%s wide)", win_dims(win, WIN_FIELD(win, eff)).s);
    sb_printf(&sb, " is larger than its %s input", win_dims(win, WIN_FIELD(win, in)).s);
    if (padded_known)
        describe_padded(&sb, win);
    fail(ck, n->loc, "%s", sb.data);
    sb_free(&sb);
    return false;
}

/* ---- The "doesn't fit" message and its suggestions ---- */

/* The smallest p in 1..s such that p more rows on both sides make the axis
 * fit: 0 when it fits already, -1 when none can (an even stride and an odd
 * shortfall, since symmetric padding adds an even number of rows). */
static int64_t pad_to_fit(const Axis *a)
{
    int64_t short_by = a->s - a->span % a->s;
    if (short_by == a->s)
        return 0;
    if (short_by % 2 == 0)
        return short_by / 2;
    if (a->s % 2 == 1)
        return short_by / 2 + a->s / 2 + 1; /* (short_by + s) / 2, both odd */
    return -1;
}

static int64_t gcd(int64_t a, int64_t b)
{
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* The divisors of g nearest to s: the largest below and the smallest
 * above (0 when there is none). */
static void near_divisors(int64_t g, int64_t s, int64_t *below, int64_t *above)
{
    *below = *above = 0;
    if (g <= 0 || g > DIVISOR_SEARCH_MAX)
        return;
    for (int64_t i = 1; i <= g / i; i++) {
        if (g % i != 0)
            continue;
        int64_t pair[2] = {i, g / i};
        for (int j = 0; j < 2; j++) {
            int64_t d = pair[j];
            if (d < s && d > *below)
                *below = d;
            if (d > s && (*above == 0 || d < *above))
                *above = d;
        }
    }
}

static bool square_stride(const Window *win)
{
    for (int i = win->first; i < 3; i++)
        if (win->a[i].s != win->a[AX_W].s)
            return false;
    return true;
}

/* A stride that makes every axis fit, nearest below (or above) the current
 * one.  A square stride stays square, so its candidates divide every span;
 * otherwise each missing axis gets its own.  False when there is none. */
static bool stride_to_fit(const Window *win, bool below, int64_t t[3])
{
    int64_t lo, hi;
    if (square_stride(win)) {
        int64_t g = 0;
        for (int i = win->first; i < 3; i++)
            g = gcd(g, win->a[i].span);
        near_divisors(g, win->a[AX_W].s, &lo, &hi);
        for (int i = 0; i < 3; i++)
            t[i] = i < win->first ? 1 : below ? lo : hi;
        return t[AX_W] != 0;
    }
    bool ok = true;
    for (int i = 0; i < 3; i++) {
        t[i] = win->a[i].s;
        if (axis_fits(&win->a[i]))
            continue;
        near_divisors(win->a[i].span, win->a[i].s, &lo, &hi);
        t[i] = below ? lo : hi;
        ok &= t[i] != 0;
    }
    return ok;
}

/* "'pad 1' (output 3x3)": an option that fits, and what it gives. */
typedef struct {
    const char *option;
    Text value;
    int64_t o[3];
} Choice;

typedef struct {
    Choice item[3];
    int n;
} Choices;

static void add_choice(Choices *c, const char *option, Text value, const int64_t o[3], bool ok)
{
    if (ok && o[AX_D] <= DIM_MAX && o[AX_H] <= DIM_MAX && o[AX_W] <= DIM_MAX && c->n < 3)
        c->item[c->n++] = (Choice){option, value, {o[AX_D], o[AX_H], o[AX_W]}};
}

static void suggest_pad(Choices *c, const Node *n, const Window *win)
{
    bool ok = true;
    int64_t pads[3], outs[3];
    for (int i = 0; i < 3; i++) {
        const Axis *a = &win->a[i];
        int64_t more = pad_to_fit(a);
        if (more < 0)
            return;
        pads[i] = add(&ok, a->pad_a, more);
        if (n->op == OP_POOL && pads[i] > a->k / 2)
            return; /* pooling pads at most half a window */
        outs[i] = add(&ok, a->span, mul(&ok, 2, more)) / a->s + 1;
    }
    add_choice(c, "pad ", opts(win->volume, pads[AX_D], pads[AX_H], pads[AX_W]), outs, ok);
}

static void suggest_strides(Choices *c, const Window *win)
{
    for (int below = 1; below >= 0; below--) {
        int64_t t[3], outs[3];
        if (!stride_to_fit(win, below, t))
            continue;
        for (int i = 0; i < 3; i++)
            outs[i] = win->a[i].span / t[i] + 1;
        add_choice(c, "stride ", opts(win->volume, t[AX_D], t[AX_H], t[AX_W]), outs, true);
    }
}

static void suggest_fits(Choices *c, const Window *win)
{
    bool ok = true;
    int64_t extra, floors[3], ceils[3];
    for (int i = 0; i < 3; i++) {
        const Axis *a = &win->a[i];
        floors[i] = out_floor(a);
        ceils[i] = axis_fits(a) ? out_floor(a) : out_ceil(a, &extra, &ok);
    }
    Text none = {""};
    add_choice(c, "fit floor", none, floors, true);
    add_choice(c, "fit ceil", none, ceils, ok);
}

/* "a, b or c" */
static void put_choices(StrBuf *sb, const Choices *c, const Window *win)
{
    for (int i = 0; i < c->n; i++) {
        if (i > 0)
            sb_puts(sb, i == c->n - 1 ? " or " : ", ");
        const int64_t *o = c->item[i].o;
        sb_printf(sb, "'%s%s' (output %s)", c->item[i].option, c->item[i].value.s,
                  win_dims(win, o[AX_D], o[AX_H], o[AX_W]).s);
    }
}

static void put_count(StrBuf *sb, int64_t k, const char *word)
{
    sb_printf(sb, "%" PRId64 " %s%s", k, word, k == 1 ? "" : "s");
}

/* Puts count[i] word[i] for each axis with a count, as "a, b and c". */
static void put_axis_counts(StrBuf *sb, const int64_t count[3], const char *const word[3])
{
    int total = 0, done = 0;
    for (int i = 0; i < 3; i++)
        total += count[i] != 0;
    for (int i = 0; i < 3; i++) {
        if (!count[i])
            continue;
        if (done > 0)
            sb_puts(sb, done == total - 1 ? " and " : ", ");
        put_count(sb, count[i], word[i]);
        done++;
    }
}

/* "misses 1 row and 1 column (2 more would complete another window)" */
static void describe_misses(StrBuf *sb, const Window *win)
{
    static const char *const word[3] = {"plane", "row", "column"};
    static const char *const more_word[3] = {"more plane", "more row", "more column"};
    int64_t miss[3], more[3], one_more = 0;
    bool same = true;
    for (int i = 0; i < 3; i++) {
        miss[i] = win->a[i].span % win->a[i].s;
        more[i] = miss[i] ? win->a[i].s - miss[i] : 0;
        if (more[i] && one_more && more[i] != one_more)
            same = false;
        if (more[i] && !one_more)
            one_more = more[i];
    }
    sb_puts(sb, "the last window misses ");
    put_axis_counts(sb, miss, word);
    sb_puts(sb, " (");
    if (same)
        sb_printf(sb, "%" PRId64 " more", one_more);
    else
        put_axis_counts(sb, more, more_word);
    sb_puts(sb, " would complete another window)");
}

static bool report_misfit(Checker *ck, const Node *n, const Window *win)
{
    StrBuf sb;
    sb_init(&sb);
    sb_printf(&sb, "%s: ", n->name);
    describe_kernel(&sb, n, "a", win);
    sb_printf(&sb, "%s stride %s does not fit the %s input",
              any_dilated(win) ? " and" : " with",
              opts(win->volume, WIN_FIELD(win, s)).s, win_dims(win, WIN_FIELD(win, in)).s);
    describe_padded(&sb, win);
    sb_puts(&sb, ": ");
    describe_misses(&sb, win);

    Choices changes = {.n = 0}, fits = {.n = 0};
    suggest_pad(&changes, n, win);
    suggest_strides(&changes, win);
    suggest_fits(&fits, win);
    if (changes.n + fits.n > 0)
        sb_puts(&sb, "; use ");
    put_choices(&sb, &changes, win);
    if (changes.n > 0 && fits.n > 0)
        sb_puts(&sb, ", or ");
    put_choices(&sb, &fits, win);

    fail(ck, n->loc, "%s", sb.data);
    sb_free(&sb);
    return false;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* PyTorch refuses pooling padding beyond half the window: such a window
 * could see nothing but padding. */
static bool check_pool_pad(Checker *ck, const Node *n)
{
    int64_t max_d = n->kd / 2, max_h = n->kh / 2, max_w = n->kw / 2;
    if (n->pad_d <= max_d && n->pad_h <= max_h && n->pad_w <= max_w)
        return true;
    bool vol = ck->volume;
    fail(ck, n->loc, "%s: padding %s is more than half of the %s window; use at most 'pad %s'",
         n->name, opts(vol, n->pad_d, n->pad_h, n->pad_w).s, dims(vol, n->kd, n->kh, n->kw).s,
         opts(vol, min64(n->pad_d, max_d), min64(n->pad_h, max_h), min64(n->pad_w, max_w)).s);
    return false;
}

static bool window_fits(const Window *win)
{
    return axis_fits(&win->a[AX_D]) && axis_fits(&win->a[AX_H]) && axis_fits(&win->a[AX_W]);
}

/* The output depth, height and width of a conv or pool; stores the
 * padding as computed into the node. */
static bool check_window(Checker *ck, Node *n, Shape *out)
{
    bool pool = n->op == OP_POOL;
    bool eff_ok = true, ok = true;
    Window win = {.first = ck->volume ? AX_D : AX_H, .volume = ck->volume};
    Shape in = n->in_shape;
    win.a[AX_D] = make_axis(in.d, n->kd, n->sd, pool ? 1 : n->dd, &eff_ok);
    win.a[AX_H] = make_axis(in.h, n->kh, n->sh, pool ? 1 : n->dh, &eff_ok);
    win.a[AX_W] = make_axis(in.w, n->kw, n->sw, pool ? 1 : n->dw, &eff_ok);
    if (!eff_ok)
        return report_too_large(ck, n, &win, false);
    if (pool && n->pad_mode == PAD_EXPLICIT && !check_pool_pad(ck, n))
        return false;
    set_padding(&win.a[AX_D], n->pad_mode, n->pad_d, &ok);
    set_padding(&win.a[AX_H], n->pad_mode, n->pad_h, &ok);
    set_padding(&win.a[AX_W], n->pad_mode, n->pad_w, &ok);
    if (!ok)
        return overflows(ck, n);
    for (int i = 0; i < 3; i++)
        if (win.a[i].eff > win.a[i].padded)
            return report_too_large(ck, n, &win, true);

    FitMode fit = fit_mode(ck, n);
    if (!window_fits(&win) && fit == FIT_ERROR)
        return report_misfit(ck, n, &win);
    out->d = axis_out(&win.a[AX_D], fit, &ok);
    out->h = axis_out(&win.a[AX_H], fit, &ok);
    out->w = axis_out(&win.a[AX_W], fit, &ok);
    if (!ok)
        return overflows(ck, n);
    n->pad_f = win.a[AX_D].pad_a;
    n->pad_k = win.a[AX_D].pad_b;
    n->pad_t = win.a[AX_H].pad_a;
    n->pad_b = win.a[AX_H].pad_b;
    n->pad_l = win.a[AX_W].pad_a;
    n->pad_r = win.a[AX_W].pad_b;
    n->ceil_k = win.a[AX_D].ceil_extra;
    n->ceil_b = win.a[AX_H].ceil_extra;
    n->ceil_r = win.a[AX_W].ceil_extra;
    return true;
}

/* ---- Layers ---- */

static bool check_groups(Checker *ck, const Node *n)
{
    int64_t c = n->in_shape.c, f = n->filters, g = n->groups;
    if (c % g == 0 && f % g == 0)
        return true;
    fail(ck, n->loc, "%s: groups %" PRId64 " must divide both the %" PRId64
         " input channels and the %" PRId64 " filters", n->name, g, c, f);
    return false;
}

/* The taps of one filter: KD*KH*KW (KD is 1 on an image). */
static int64_t taps(bool *ok, const Node *n)
{
    return mul(ok, mul(ok, n->kd, n->kh), n->kw);
}

static int64_t positions(bool *ok, Shape s)
{
    return mul(ok, mul(ok, s.d, s.h), s.w);
}

static bool check_conv(Checker *ck, Node *n)
{
    Shape out = {0, 0, n->filters, 1, ck->volume};
    bool groups_ok = check_groups(ck, n);
    if (!check_window(ck, n, &out) || !groups_ok)
        return false;
    bool ok = true;
    int64_t per_out = mul(&ok, n->in_shape.c / n->groups, taps(&ok, n));
    int64_t macs = mul(&ok, mul(&ok, positions(&ok, out), n->filters), per_out);
    return finish(ck, n, out, true, macs, ok);
}

/* ConvTranspose along one axis: (in-1)*s - 2*pad + d*(k-1) + 1.  Also
 * gives the largest padding that leaves an output; 0 when pad exceeds it. */
static int64_t deconv_axis(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pad,
                           int64_t *max_pad, bool *ok)
{
    int64_t full = add(ok, mul(ok, in - 1, s), add(ok, mul(ok, d, k - 1), 1));
    *max_pad = (full - 1) / 2;
    if (pad > *max_pad)
        return 0;
    return full - 2 * pad;
}

static bool check_deconv(Checker *ck, Node *n)
{
    bool groups_ok = check_groups(ck, n);
    bool vol = ck->volume;
    Shape in = n->in_shape;
    bool valid = n->pad_mode == PAD_VALID;
    int64_t pd = valid ? 0 : n->pad_d, ph = valid ? 0 : n->pad_h, pw = valid ? 0 : n->pad_w;
    int64_t max_d, max_h, max_w;
    bool ok = true;
    Shape out = {deconv_axis(in.h, n->kh, n->sh, n->dh, ph, &max_h, &ok),
                 deconv_axis(in.w, n->kw, n->sw, n->dw, pw, &max_w, &ok), n->filters,
                 deconv_axis(in.d, n->kd, n->sd, n->dd, pd, &max_d, &ok), vol};
    if (!ok)
        return overflows(ck, n);
    if (out.d < 1 || out.h < 1 || out.w < 1) {
        fail(ck, n->loc, "%s: padding %s leaves no output for a %s filter with stride %s"
             " on a %s input; use at most 'pad %s'", n->name, opts(vol, pd, ph, pw).s,
             dims(vol, n->kd, n->kh, n->kw).s, opts(vol, n->sd, n->sh, n->sw).s,
             dims(vol, in.d, in.h, in.w).s,
             opts(vol, min64(pd, max_d), min64(ph, max_h), min64(pw, max_w)).s);
        return false;
    }
    if (!groups_ok)
        return false;
    n->pad_f = n->pad_k = pd;
    n->pad_t = n->pad_b = ph;
    n->pad_l = n->pad_r = pw;
    int64_t per_in = mul(&ok, n->filters / n->groups, taps(&ok, n));
    int64_t macs = mul(&ok, mul(&ok, positions(&ok, in), in.c), per_in);
    return finish(ck, n, out, true, macs, ok);
}

static bool check_pool(Checker *ck, Node *n)
{
    Shape out = n->in_shape;
    if (n->global)
        out.d = out.h = out.w = 1;
    else if (!check_window(ck, n, &out))
        return false;
    return finish(ck, n, out, true, 0, true);
}

static bool check_fc(Checker *ck, Node *n)
{
    bool ok = true;
    Shape in = n->in_shape;
    int64_t f = n->filters;
    int64_t macs = mul(&ok, mul(&ok, positions(&ok, in), in.c), f);
    return finish(ck, n, (Shape){1, 1, f, 1, in.volume}, true, macs, ok);
}

static bool check_reshape(Checker *ck, Node *n)
{
    bool ok = true;
    Shape in = n->in_shape, out;
    if (n->op == OP_FLATTEN)
        out = (Shape){1, 1, mul(&ok, positions(&ok, in), in.c), 1, in.volume};
    else   /* upsample: the depth too, on a volume */
        out = (Shape){mul(&ok, in.h, n->factor), mul(&ok, in.w, n->factor), in.c,
                      in.volume ? mul(&ok, in.d, n->factor) : 1, in.volume};
    return finish(ck, n, out, ok, 0, true);
}

static Node *input_node(const Checker *ck, const Node *n, int i)
{
    return ck->net->nodes[n->inputs[i]];
}

/* An operand of one channel is broadcast over the channels of the others
 * (V-Net adds its one-channel input to 16 feature maps); the output is
 * the shape of the widest operand. */
static bool check_add(Checker *ck, Node *n)
{
    const Node *first = input_node(ck, n, 0);
    for (int i = 1; i < n->ninputs; i++)
        if (input_node(ck, n, i)->out.c > first->out.c)
            first = input_node(ck, n, i);
    bool ok = true;
    for (int i = 0; i < n->ninputs; i++) {
        const Node *other = input_node(ck, n, i);
        Shape one = first->out;
        one.c = 1;
        if (same_shape(first->out, other->out) || same_shape(one, other->out))
            continue;
        fail(ck, n->input_locs[i], "%s: cannot add %s (%s) and %s (%s): shapes differ (only an "
             "operand of 1 channel is broadcast over the channels)",
             n->name, first->name, hwc(first->out).s, other->name, hwc(other->out).s);
        ok = false;
    }
    return ok && finish(ck, n, first->out, true, 0, true);
}

/* A 1x1xC (1x1x1xC) operand scales the channels of the other
 * (squeeze-and-excitation). */
static bool scales(Shape scale, Shape x)
{
    return scale.d == 1 && scale.h == 1 && scale.w == 1 && scale.c == x.c;
}

static bool check_mul(Checker *ck, Node *n)
{
    if (n->ninputs != 2) {
        fail(ck, n->loc, "%s: mul takes exactly 2 inputs, not %d", n->name, n->ninputs);
        return false;
    }
    const Node *a = input_node(ck, n, 0), *b = input_node(ck, n, 1);
    if (same_shape(a->out, b->out) || scales(b->out, a->out))
        return finish(ck, n, a->out, true, 0, true);
    if (scales(a->out, b->out))
        return finish(ck, n, b->out, true, 0, true);
    fail(ck, n->input_locs[1], "%s: cannot multiply %s (%s) and %s (%s): the shapes must be"
         " equal, or one %s with the other's C channels", n->name, a->name, hwc(a->out).s,
         b->name, hwc(b->out).s, ck->volume ? "1x1x1xC" : "1x1xC");
    return false;
}

/* Whether map a is at least as large as b along every spatial axis. */
static bool covers(Shape a, Shape b)
{
    return a.d >= b.d && a.h >= b.h && a.w >= b.w;
}

static bool same_size(Shape a, Shape b)
{
    return a.d == b.d && a.h == b.h && a.w == b.w;
}

/* U-Net's skip connections: a larger map must be cropped to match. */
static void concat_mismatch(Checker *ck, const Node *n, int i)
{
    const Node *a = input_node(ck, n, 0), *b = input_node(ck, n, i);
    StrBuf sb;
    sb_init(&sb);
    sb_printf(&sb, "%s: cannot concatenate %s (%s) and %s (%s): spatial sizes differ",
              n->name, a->name, hwc(a->out).s, b->name, hwc(b->out).s);
    const Node *big = covers(a->out, b->out) ? a : covers(b->out, a->out) ? b : NULL;
    const Node *small = big == a ? b : a;
    if (big)
        sb_printf(&sb, "; crop %s first with 'crop %s'", big->name,
                  dims(ck->volume, small->out.d, small->out.h, small->out.w).s);
    fail(ck, n->input_locs[i], "%s", sb.data);
    sb_free(&sb);
}

static bool check_concat(Checker *ck, Node *n)
{
    const Node *first = input_node(ck, n, 0);
    Shape out = first->out;
    out.c = 0;
    bool ok = true, sum_ok = true;
    for (int i = 0; i < n->ninputs; i++) {
        const Node *other = input_node(ck, n, i);
        out.c = add(&sum_ok, out.c, other->out.c);
        if (!same_size(other->out, first->out)) {
            concat_mismatch(ck, n, i);
            ok = false;
        }
    }
    return ok && finish(ck, n, out, sum_ok, 0, true);
}

static bool check_crop(Checker *ck, Node *n)
{
    Shape in = n->in_shape;
    Shape out = {n->crop_h, n->crop_w, in.c, n->crop_d, in.volume};
    if (!covers(in, out)) {
        fail(ck, n->loc, "%s: cannot crop %s to %s", n->name, dims(in.volume, in.d, in.h, in.w).s,
             dims(in.volume, n->crop_d, n->crop_h, n->crop_w).s);
        return false;
    }
    return finish(ck, n, out, true, 0, true);
}

static bool check_same_shape(Checker *ck, Node *n)
{
    return finish(ck, n, n->in_shape, true, 0, true);
}

/* A kind's rules: its values (what the user wrote, checked before any
 * shape, so that a bad value gets its own message instead of a confusing
 * shape error; NULL when any will do) and its output shape and counts. */
typedef struct {
    bool (*values)(Checker *ck, const Node *n);
    bool (*shape)(Checker *ck, Node *n);
} KindRules;

/* ORDER OP.  The input is checked on its own (check_input). */
static const KindRules rules[] = {
    [OP_INPUT] = {NULL, NULL},
    [OP_CONV] = {check_conv_values, check_conv},
    [OP_DECONV] = {check_conv_values, check_deconv},
    [OP_POOL] = {check_pool_values, check_pool},
    [OP_FC] = {check_fc_values, check_fc},
    [OP_ACT] = {NULL, check_same_shape},
    [OP_SOFTMAX] = {NULL, check_same_shape},
    [OP_BATCHNORM] = {check_bn_values, check_same_shape},
    [OP_DROPOUT] = {check_dropout_values, check_same_shape},
    [OP_FLATTEN] = {NULL, check_reshape},
    [OP_UPSAMPLE] = {check_upsample_values, check_reshape},
    [OP_ADD] = {NULL, check_add},
    [OP_MUL] = {NULL, check_mul},
    [OP_CONCAT] = {NULL, check_concat},
    [OP_CROP] = {check_crop_values, check_crop},
    [OP_PRELU] = {NULL, check_same_shape},
    [OP_LRN] = {check_lrn_values, check_same_shape},
};
_Static_assert(sizeof rules / sizeof rules[0] == OP_COUNT_, "rules for every layer kind");

static bool check_values(Checker *ck, const Node *n)
{
    return !rules[n->op].values || rules[n->op].values(ck, n);
}

static bool check_op(Checker *ck, Node *n)
{
    if (rules[n->op].shape)
        return rules[n->op].shape(ck, n);
    fail(ck, n->loc, "%s: internal error: unexpected %s layer", n->name, op_name(n->op));
    return false;
}

/* ---- The graph ---- */

static bool valid_input(const Node *n, int i)
{
    return n->inputs[i] >= 0 && n->inputs[i] < n->id;
}

/* False when an input failed: its error is already out, and a second
 * message about the same mistake would only be noise. */
static bool inputs_ready(Checker *ck, Node *n)
{
    if (n->invalid)
        return false;   /* the expander reported the statement */
    if (n->ninputs < 1) {
        fail(ck, n->loc, "%s: internal error: layer has no input", n->name);
        return false;
    }
    for (int i = 0; i < n->ninputs; i++) {
        if (!valid_input(n, i)) {
            fail(ck, n->loc, "%s: internal error: input %d is not an earlier layer",
                 n->name, n->inputs[i]);
            return false;
        }
        if (!input_node(ck, n, i)->checked)
            return false;
    }
    n->in_shape = input_node(ck, n, 0)->out;
    return true;
}

static void check_input(Checker *ck, Node *n)
{
    Shape s = ck->net->input;
    SrcLoc loc = ck->net->input_loc;
    if (!s.volume)
        s.d = 1;
    n->in_shape = s;
    if (s.d < 1 || s.h < 1 || s.w < 1 || s.c < 1)
        fail(ck, loc, "%s: size must be at least 1 in every dimension, not %s", n->name, hwc(s).s);
    else if (s.d > DIM_MAX || s.h > DIM_MAX || s.w > DIM_MAX || s.c > DIM_MAX)
        fail(ck, loc, "%s: %s is too large: each dimension must be at most %d",
             n->name, hwc(s).s, DIM_MAX);
    else if (s.h * s.w > INT64_MAX / s.c || s.h * s.w * s.c > INT64_MAX / s.d)
        fail(ck, loc, "%s: size %s overflows", n->name, hwc(s).s); /* h*w: both <= 2^31 */
    else
        finish(ck, n, s, true, 0, true);
}

/* So that checking twice gives the same answer. */
static void reset_results(Node *n)
{
    n->in_shape = n->out = (Shape){0, 0, 0, 0, false};
    n->out_elems = n->params = n->non_trainable = n->macs = 0;
    n->pad_t = n->pad_b = n->pad_l = n->pad_r = 0;
    n->pad_f = n->pad_k = 0;
    n->ceil_b = n->ceil_r = n->ceil_k = 0;
    n->checked = false;
}

/* A dangling layer is legal but is most often a missing `from`. */
static void warn_unused(const Net *net)
{
    bool *used = xcalloc((size_t)net->nnodes, sizeof *used);
    for (int i = 0; i < net->nnodes; i++) {
        const Node *n = net->nodes[i];
        for (int j = 0; j < n->ninputs; j++)
            if (valid_input(n, j))
                used[n->inputs[j]] = true;
    }
    for (int i = 1; i < net->nnodes - 1; i++)
        if (!used[i] && !net->nodes[i]->invalid)
            warning_at(net->nodes[i]->loc, "%s: output is never used", net->nodes[i]->name);
    free(used);
}

/* The peak of live activations in node order (see sum_totals); the sum of all outputs fits. */
static int64_t peak_live(const Net *net)
{
    int count = net->nnodes;
    int *last_use = xmalloc((size_t)count * sizeof *last_use);
    int64_t *freed_after = xcalloc((size_t)count, sizeof *freed_after);
    for (int i = 0; i < count; i++) {
        const Node *n = net->nodes[i];
        last_use[i] = i;
        for (int j = 0; j < n->ninputs; j++)
            if (valid_input(n, j))
                last_use[n->inputs[j]] = i;
    }
    for (int i = 0; i < count - 1; i++) /* the output is never freed */
        freed_after[last_use[i]] += net->nodes[i]->out_elems;
    int64_t live = 0, peak = 0;
    for (int i = 0; i < count; i++) {
        live += net->nodes[i]->out_elems;
        if (live > peak)
            peak = live;
        live -= freed_after[i];
    }
    free(last_use);
    free(freed_after);
    return peak;
}

/* Adds v to *total; the first overflow is reported at the node causing it. */
static void accumulate(Checker *ck, const Node *n, int64_t *total, bool *ok, int64_t v,
                       const char *what)
{
    if (*ok && !add_ovf(*total, v, total)) {
        *ok = false;
        *total = 0;
        fail(ck, n->loc, "%s: the network's %s overflows", n->name, what);
    }
}

/* Totals over the checked nodes.  Memory is counted in elements (floats)
 * per image:
 *  - act_infer_elems: the peak, over the node order, of the sum of the
 *    outputs alive at that point.  An output (the input's too) lives from
 *    its producer to its last consumer, the network's output to the end;
 *    a layer's inputs and its output are alive together (not in place).
 *  - act_train_elems: 2 * the sum of all outputs, the input's included:
 *    each is kept for the backward pass and gets a gradient of its size,
 *    like torchinfo's "forward/backward pass size". */
static void sum_totals(Checker *ck)
{
    Net *net = ck->net;
    bool params_ok = true, state_ok = true, macs_ok = true, elems_ok = true;
    int64_t elems = 0;
    net->params = net->non_trainable = net->macs = 0;
    net->act_infer_elems = net->act_train_elems = 0;
    for (int i = 0; i < net->nnodes; i++) {
        const Node *n = net->nodes[i];
        accumulate(ck, n, &net->params, &params_ok, n->params, "parameter count");
        accumulate(ck, n, &net->non_trainable, &state_ok, n->non_trainable,
                   "non-trainable state");
        accumulate(ck, n, &net->macs, &macs_ok, n->macs, "multiply-accumulate count");
        accumulate(ck, n, &elems, &elems_ok, n->out_elems, "activation size");
    }
    const Node *last = net->nodes[net->nnodes - 1];
    if (elems_ok && !mul_ovf(2, elems, &net->act_train_elems)) {
        net->act_train_elems = 0;
        fail(ck, last->loc, "%s: the network's training activation size overflows", last->name);
    }
    if (elems_ok)
        net->act_infer_elems = peak_live(net);
}

/* A `loss` the network's output cannot train with: cross-entropy needs
 * softmax probabilities, the Dice loss two classes at more than one pixel
 * (on one pixel an image without foreground gets no gradient). */
static void check_loss(Checker *ck)
{
    const Net *net = ck->net;
    const Node *last = net->nodes[net->output];
    if (net->loss == LOSS_DEFAULT || net->loss == LOSS_MSE || !last->checked)
        return;
    if (!net_ends_in_softmax(net))
        fail(ck, net->loss_loc, "'loss %s' needs a network that ends in softmax; %s (%s) does not",
             loss_name(net->loss), last->name, op_name(last->op));
    else if (net->loss == LOSS_DICE && last->out.c != 2)
        fail(ck, net->loss_loc, "'loss dice' needs a softmax output of 2 channels (background and "
             "foreground); %s has %" PRId64, last->name, last->out.c);
    else if (net->loss == LOSS_DICE && last->out.d * last->out.h * last->out.w == 1)
        fail(ck, net->loss_loc, "'loss dice' needs one class per output pixel or voxel; %s's output is "
             "%s, one class per image (a classifier trains with 'loss ce')", last->name, hwc(last->out).s);
}

int check_net(Net *net)
{
    if (!net->has_input || net->nnodes == 0)
        return 0;
    Checker ck = {.net = net, .errors = 0, .volume = net->input.volume};
    for (int i = 0; i < net->nnodes; i++)
        reset_results(net->nodes[i]);
    check_input(&ck, net->nodes[0]);
    for (int i = 1; i < net->nnodes; i++) {
        Node *n = net->nodes[i];
        if (n->invalid)
            continue;   /* the expander reported it; its fields are partial */
        bool values_ok = check_values(&ck, n); /* a mistake of its own: always said */
        if (inputs_ready(&ck, n) && values_ok)
            check_op(&ck, n);
    }
    net->output = net->nnodes - 1;
    check_loss(&ck);
    warn_unused(net);
    sum_totals(&ck);
    return ck.errors;
}
