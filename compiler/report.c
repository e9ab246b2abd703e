/* report.c - the shape/parameter report: a table for people, one JSON
 * object for scripts, a Graphviz digraph for pictures.
 *
 * All three only read a checked Net.  Counts are int64 throughout; sizes in
 * bytes are float32 elements times 4. */
#include "report.h"

#include "lower.h"
#include "kinds.h"
#include "plan.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- numbers */

/* 61706 -> "61,706". */
static void put_count(StrBuf *out, int64_t v)
{
    char digits[32];
    snprintf(digits, sizeof digits, "%" PRId64, v);
    const char *p = digits;
    if (*p == '-')
        sb_putn(out, p++, 1);
    size_t n = strlen(p);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            sb_putn(out, ",", 1);
        sb_putn(out, p + i, 1);
    }
}

/* v scaled by powers of base with the unit that keeps it under base:
 * "416.5 K", "4.09 G", "241.0 KiB".  Two decimals under 10 so that the
 * well-known small figures (ResNet-50's 4.09 GMACs) survive. */
static void put_scaled(StrBuf *out, double v, double base, const char *const units[5])
{
    int u = 0;
    while (u < 4 && v >= base) {
        v /= base;
        u++;
    }
    /* 999.96 would print as "1000.0": move up one unit instead. */
    if (u < 4 && v >= base - 0.05) {
        v /= base;
        u++;
    }
    sb_printf(out, v < 9.995 ? "%.2f%s" : "%.1f%s", v, units[u]);
}

static void put_bytes(StrBuf *out, double bytes)
{
    static const char *const units[5] = {" B", " KiB", " MiB", " GiB", " TiB"};
    if (bytes < 1024) {
        sb_printf(out, "%.0f B", bytes);
        return;
    }
    put_scaled(out, bytes, 1024, units);
}

/* "61,706 (241.0 KiB)": a count of floats and what they weigh. */
static void put_floats(StrBuf *out, int64_t n)
{
    put_count(out, n);
    if (n == 0)
        return;
    sb_puts(out, " (");
    put_bytes(out, (double)n * 4);
    sb_puts(out, ")");
}

/* Bytes of n float32 values; a count the checker let through cannot be
 * near INT64_MAX / 4, but a report must not wrap if it ever is. */
static int64_t float_bytes(int64_t n)
{
    int64_t r;
    return mul_ovf(n, 4, &r) ? r : INT64_MAX;
}

/* HxWxC, or DxHxWxC for a volume. */
static void put_shape(StrBuf *out, Shape s)
{
    if (s.volume)
        sb_printf(out, "%" PRId64 "x", s.d);
    sb_printf(out, "%" PRId64 "x%" PRId64 "x%" PRId64, s.h, s.w, s.c);
}

/* Takes the buffer's text, leaving it empty; "" when nothing was written. */
static char *sb_take(StrBuf *sb)
{
    char *s = sb->data ? sb->data : xstrdup("");
    sb_init(sb);
    return s;
}

/* ---------------------------------------------------------------- options */

/* The kind as a reader wants it: the activation, or max/avg pool. */
static const char *display_kind(const Node *n)
{
    if (n->op == OP_ACT)
        return act_name(n->act);
    if (n->op == OP_POOL)
        return n->pool == POOL_MAX ? "maxpool" : "avgpool";
    return n->kind_name ? n->kind_name : op_name(n->op);
}

/* The language keyword, for JSON: "pool" (with "pool": "max"), "relu". */
static const char *keyword_kind(const Node *n)
{
    if (n->op == OP_ACT)
        return act_name(n->act);
    return n->kind_name ? n->kind_name : op_name(n->op);
}

/* Appends one option (a short token) to a description that began at
 * start, with a space before it unless it is the first. */
static void opt(StrBuf *out, size_t start, const char *fmt, ...) DIAG_PRINTF(3, 4);
static void opt(StrBuf *out, size_t start, const char *fmt, ...)
{
    char token[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(token, sizeof token, fmt, ap);
    va_end(ap);
    if (out->len > start)
        sb_putn(out, " ", 1);
    sb_puts(out, token);
}

/* "s2" or "s2x1" (prefix s); nothing for 1x1.  On a volume (d is its
 * depth's), "s2" or "s1x2x2"; nothing for 1x1x1. */
static void put_axes_opt(StrBuf *out, size_t start, const Node *n, char prefix,
                         int64_t d, int64_t a, int64_t b)
{
    if (n->in_shape.volume && (d != a || d != b))
        opt(out, start, "%c%" PRId64 "x%" PRId64 "x%" PRId64, prefix, d, a, b);
    else if (a == b && a != 1)
        opt(out, start, "%c%" PRId64, prefix, a);
    else if (a != b)
        opt(out, start, "%c%" PRId64 "x%" PRId64, prefix, a, b);
}

/* Padding as used: "p1" when all four sides agree, "p1x2" for rows x
 * columns, else "pT,BxL,R" (top,bottom x left,right) as `pad same` with
 * an even kernel or `fit ceil` produce. */
static void put_pad(StrBuf *out, size_t start, const Node *n)
{
    int64_t t = n->pad_t, b = n->pad_b, l = n->pad_l, r = n->pad_r;
    int64_t f = n->pad_f, k = n->pad_k;
    if (n->in_shape.volume && !(f == t && k == b && t == b && t == l && b == r)) {
        /* front,back x top,bottom x left,right, or one number per axis */
        if (f == k && t == b && l == r)
            opt(out, start, "p%" PRId64 "x%" PRId64 "x%" PRId64, f, t, l);
        else
            opt(out, start, "p%" PRId64 ",%" PRId64 "x%" PRId64 ",%" PRId64 "x%" PRId64 ",%" PRId64,
                f, k, t, b, l, r);
        return;
    }
    if (t == b && l == r && t == l && t != 0)
        opt(out, start, "p%" PRId64, t);
    else if (t == b && l == r && t != l)
        opt(out, start, "p%" PRId64 "x%" PRId64, t, l);
    else if (t != b || l != r)
        opt(out, start, "p%" PRId64 ",%" PRId64 "x%" PRId64 ",%" PRId64, t, b, l, r);
}

/* Kernel, stride, padding, dilation, groups: conv, deconv and pool. */
static void put_window(StrBuf *out, size_t start, const Node *n)
{
    if (n->in_shape.volume)
        opt(out, start, "%" PRId64 "x%" PRId64 "x%" PRId64, n->kd, n->kh, n->kw);
    else
        opt(out, start, "%" PRId64 "x%" PRId64, n->kh, n->kw);
    put_axes_opt(out, start, n, 's', n->sd, n->sh, n->sw);
    put_pad(out, start, n);
    put_axes_opt(out, start, n, 'd', n->dd, n->dh, n->dw);
    if (n->groups != 1)
        opt(out, start, "g%" PRId64, n->groups);
}

/* True when n's activation numbers are not all their defaults. */
static bool act_args_given(const Node *n)
{
    const ActInfo *a = &act_info[n->act];
    double args[ACT_MAX_ARGS];
    act_args(n, args);
    for (int i = 0; i < a->nargs; i++)
        if (args[i] != a->args[i])
            return true;
    return false;
}

/* "relu", or "leaky 0.2" when the numbers are not the defaults. */
static void put_act(StrBuf *out, size_t start, const Node *n)
{
    if (n->act == ACT_NONE)
        return;
    if (!act_args_given(n)) {
        opt(out, start, "%s", act_name(n->act));
        return;
    }
    double args[ACT_MAX_ARGS];
    act_args(n, args);
    if (act_info[n->act].nargs == 1)
        opt(out, start, "%s %g", act_name(n->act), args[0]);
    else
        opt(out, start, "%s %g %g", act_name(n->act), args[0], args[1]);
}

/* A stand-alone activation's numbers: "slope 0.2". */
static void put_act_args(StrBuf *out, size_t start, const Node *n)
{
    const ActInfo *a = &act_info[n->act];
    double args[ACT_MAX_ARGS];
    act_args(n, args);
    if (act_args_given(n))
        for (int i = 0; i < a->nargs; i++)
            opt(out, start, "%s %g", a->labels[i], args[i]);
}

static void put_pool(StrBuf *out, size_t start, const Node *n)
{
    if (n->global)
        opt(out, start, "global");
    else
        put_window(out, start, n);
    if (n->countpad)
        opt(out, start, "countpad");
}

static void put_bn(StrBuf *out, size_t start, const Node *n)
{
    if (n->eps != 1e-5)
        opt(out, start, "eps %g", n->eps);
    if (n->momentum != 0.1)
        opt(out, start, "momentum %g", n->momentum);
}

static void put_dropout(StrBuf *out, size_t start, const Node *n)
{
    opt(out, start, "p=%g", n->drop_p);
}

static void put_upsample(StrBuf *out, size_t start, const Node *n)
{
    opt(out, start, "x%" PRId64, n->factor);
}

static void put_crop(StrBuf *out, size_t start, const Node *n)
{
    if (n->in_shape.volume)
        opt(out, start, "%" PRId64 "x%" PRId64 "x%" PRId64, n->crop_d, n->crop_h, n->crop_w);
    else
        opt(out, start, "%" PRId64 "x%" PRId64, n->crop_h, n->crop_w);
}

/* "n5", then the numbers that are not PyTorch's defaults. */
static void put_lrn(StrBuf *out, size_t start, const Node *n)
{
    opt(out, start, "n%" PRId64, n->lrn_size);
    if (n->lrn_alpha != 1e-4)
        opt(out, start, "alpha %g", n->lrn_alpha);
    if (n->lrn_beta != 0.75)
        opt(out, start, "beta %g", n->lrn_beta);
    if (n->lrn_k != 1.0)
        opt(out, start, "k %g", n->lrn_k);
}

static bool is_merge(const Node *n)
{
    return n->op == OP_ADD || n->op == OP_MUL || n->op == OP_CONCAT;
}

/* Options plus the inputs when they are not simply the previous node. */
static void put_options_from(StrBuf *out, const Net *net, const Node *n)
{
    size_t start = out->len;
    report_options(n, out);
    if (n->ninputs == 0 || (!is_merge(n) && n->inputs[0] == n->id - 1))
        return;
    opt(out, start, "from ");
    for (int i = 0; i < n->ninputs; i++) {
        if (i > 0)
            sb_puts(out, ", ");
        sb_puts(out, net->nodes[n->inputs[i]]->name);
    }
}

/* ------------------------------------------------------------------ table */

enum { COL_INDEX, COL_NAME, COL_KIND, COL_KERNEL, COL_OPTIONS, COL_OUTPUT, COL_PARAMS, COL_MACS, NCOLS };

static const char *const col_title[NCOLS] = {
    "#", "Layer", "Kind", "Kernel", "Options", "Output", "Params", "MACs",
};
static const bool col_right[NCOLS] = {true, false, false, false, false, false, true, true};

/* The table aims at this width; only the options column gives way. */
enum { TABLE_WIDTH = 100, MIN_OPTIONS_WIDTH = 20, COL_GAP = 2 };

typedef struct {
    char *cell[NCOLS];
} Row;

/* A count cell; "--" for zero, as torchinfo, so that layers without
 * weights stand out. */
static char *count_cell(int64_t v)
{
    if (v == 0)
        return xstrdup("--");
    StrBuf sb;
    sb_init(&sb);
    put_count(&sb, v);
    return sb_take(&sb);
}

/* The generated code's kernel for n, "--" for layers without a choice. */
static char *kernel_cell(KernelKind kernel)
{
    const char *name = lower_kernel_name(kernel);
    return xstrdup(name ? name : "--");
}

static void fill_row(Row *row, const Net *net, const Node *n, KernelKind kernel)
{
    StrBuf sb;
    sb_init(&sb);
    row->cell[COL_INDEX] = xasprintf("%d", n->id);
    row->cell[COL_NAME] = xstrdup(n->name);
    row->cell[COL_KIND] = xstrdup(display_kind(n));
    row->cell[COL_KERNEL] = kernel_cell(kernel);
    put_options_from(&sb, net, n);
    row->cell[COL_OPTIONS] = sb_take(&sb);
    put_shape(&sb, n->out);
    row->cell[COL_OUTPUT] = sb_take(&sb);
    row->cell[COL_PARAMS] = count_cell(n->params);
    row->cell[COL_MACS] = count_cell(n->macs);
}

/* Column widths from the contents; the options column is capped so that
 * the table fits TABLE_WIDTH (its long cells wrap onto further lines). */
static void size_columns(Row *rows, int nrows, size_t width[NCOLS])
{
    memset(width, 0, NCOLS * sizeof *width);
    for (int r = 0; r < nrows; r++)
        for (int c = 0; c < NCOLS; c++)
            if (strlen(rows[r].cell[c]) > width[c])
                width[c] = strlen(rows[r].cell[c]);
    size_t others = COL_GAP * (NCOLS - 1);
    for (int c = 0; c < NCOLS; c++)
        if (c != COL_OPTIONS)
            others += width[c];
    size_t room = others + MIN_OPTIONS_WIDTH < TABLE_WIDTH ? TABLE_WIDTH - others
                                                           : MIN_OPTIONS_WIDTH;
    if (width[COL_OPTIONS] > room)
        width[COL_OPTIONS] = room;
}

/* Whether a line may break at the space s[i]: not right after "from",
 * which belongs with the name it introduces. */
static bool can_break(const char *s, size_t i)
{
    return s[i] == ' ' && !(i >= 4 && strncmp(s + i - 4, "from", 4) == 0);
}

/* Cuts the next line of at most width bytes from *text, breaking at a
 * space when there is one: sets *piece and returns its length, and
 * advances *text past it and the blanks after it. */
static size_t wrap_cut(const char **text, size_t width, const char **piece)
{
    const char *s = *piece = *text;
    size_t cut = strlen(s);
    if (cut > width) {
        cut = width;
        for (size_t i = width; i > 0; i--)
            if (can_break(s, i)) {
                cut = i;
                break;
            }
    }
    const char *next = s + cut;
    while (*next == ' ')
        next++;
    *text = next;
    return cut;
}

static void put_cell(StrBuf *out, const char *text, size_t len, size_t width, bool right)
{
    size_t fill = width > len ? width - len : 0;
    if (right)
        sb_printf(out, "%*s", (int)fill, "");
    sb_putn(out, text, len);
    if (!right)
        sb_printf(out, "%*s", (int)fill, "");
}

/* Ends a line without the trailing blanks that padding left. */
static void end_line(StrBuf *out)
{
    while (out->len > 0 && out->data[out->len - 1] == ' ')
        out->len--;
    sb_putn(out, "\n", 1);
}

static void put_rule(StrBuf *out, char ch, size_t len)
{
    for (size_t i = 0; i < len; i++)
        sb_putn(out, &ch, 1);
    sb_putn(out, "\n", 1);
}

/* One row; options too long for their column continue on lines of their own. */
static void put_row(StrBuf *out, const Row *row, const size_t width[NCOLS])
{
    const char *options = row->cell[COL_OPTIONS];
    bool first = true;
    do {
        const char *piece;
        size_t len = wrap_cut(&options, width[COL_OPTIONS], &piece);
        for (int c = 0; c < NCOLS; c++) {
            if (c > 0)
                sb_printf(out, "%*s", COL_GAP, "");
            if (c == COL_OPTIONS)
                put_cell(out, piece, len, width[c], false);
            else if (first)
                put_cell(out, row->cell[c], strlen(row->cell[c]), width[c], col_right[c]);
            else
                put_cell(out, "", 0, width[c], false);
        }
        end_line(out);
        first = false;
    } while (*options);
}

/* What the generated code allocates per image for activations (and, in
 * training, their gradients), with buffer reuse and without (plan.c). */
typedef struct {
    int64_t infer, infer_plain, train, train_plain;
} Planned;

static Planned planned(const Net *net, const Lowered *low)
{
    MemPlan infer, train;
    plan_memory(net, false, &infer);
    plan_memory(net, true, &train);
    /* The generated code also keeps what backward needs besides the
     * activations (training: dropout masks, lrn scales) and the scratch of
     * its convolutions, whose size is that of the largest. */
    int64_t masks = 0, scratch = low->scratch;
    for (int i = 1; i < net->nnodes; i++)
        masks += kept_elems(net->nodes[i]);
    Planned p = {infer.act_elems + scratch, infer.act_plain + scratch,
                 train.act_elems + train.grad_elems + masks + scratch,
                 train.act_plain + train.grad_plain + masks + scratch};
    plan_free(&infer);
    plan_free(&train);
    return p;
}

/* Floats of the arena net_new allocates whatever the batch (emit.c,
 * emit_lifecycle), but for m->col: the parameters; in training their
 * gradients and two optimizer buffers, which net_init zeroes for any
 * optimizer (SGD's momentum uses one, Adam both); batchnorm running
 * statistics and batch statistics, 2 floats per channel each.  memory.sh
 * checks it against the generated code. */
static int64_t fixed_elems(const Net *net, bool train)
{
    return net->params * (train ? 4 : 1) + 2 * net->non_trainable;
}

/* Bytes of fixed + per_image x batch floats, saturating as float_bytes. */
static int64_t memory_bytes(int64_t fixed, int64_t per_image, long batch)
{
    int64_t images, all;
    if (!mul_ovf(per_image, batch, &images) || !add_ovf(fixed, images, &all))
        return INT64_MAX;
    return float_bytes(all);
}

/* The whole memory of a model made with net_new(batch), in bytes: the
 * fixed memory, plus the columns of a group of the batch's images, plus
 * the batch times the planned buffers per image. */
typedef struct {
    int64_t infer, train;              /* the totals */
    int64_t fixed_infer, fixed_train;
    int64_t col, col_allocated;        /* used at this batch; net_new's */
    int64_t per_thread;                /* volume convolutions' scratch */
} Memory;

static Memory memory_at(const Net *net, const Lowered *low, const Planned *p, long batch)
{
    Memory m;
    /* the totals count one thread's scratch; put_memory says what each
     * further thread adds */
    int64_t col = lower_col_at(net, low, batch) + low->task;
    m.infer = memory_bytes(fixed_elems(net, false) + col, p->infer, batch);
    m.train = memory_bytes(fixed_elems(net, true) + col, p->train, batch);
    m.fixed_infer = float_bytes(fixed_elems(net, false));
    m.fixed_train = float_bytes(fixed_elems(net, true));
    m.col = float_bytes(col - low->task);
    m.col_allocated = float_bytes(low->col);
    m.per_thread = float_bytes(low->task);
    return m;
}

/* "Fixed memory: inference 44.7 MiB, training 178.4 MiB" and "Memory at
 * batch 8: inference 117.3 MiB, training 431.8 MiB (columns 10.2 MiB)";
 * volumes add "; scratch per thread 36.0 KiB, one thread counted": the
 * code allocates it for the threads it finds, which the report cannot know. */
static void put_memory(StrBuf *out, const Memory *m, long batch)
{
    sb_puts(out, "\nFixed memory: inference ");
    put_bytes(out, (double)m->fixed_infer);
    sb_puts(out, ", training ");
    put_bytes(out, (double)m->fixed_train);
    sb_printf(out, "\nMemory at batch %ld: inference ", batch);
    put_bytes(out, (double)m->infer);
    sb_puts(out, ", training ");
    put_bytes(out, (double)m->train);
    sb_puts(out, " (columns ");
    put_bytes(out, (double)m->col);
    if (m->per_thread) {
        sb_puts(out, "; scratch per thread ");
        put_bytes(out, (double)m->per_thread);
        sb_puts(out, ", one thread counted");
    }
    sb_puts(out, ")");
}

static void put_totals(StrBuf *out, const Net *net, const Lowered *low, long batch)
{
    sb_puts(out, "Total params: ");
    put_floats(out, net->params);
    sb_puts(out, "\nNon-trainable: ");
    put_floats(out, net->non_trainable);
    sb_puts(out, "\nForward MACs: ");
    put_count(out, net->macs);
    if (net->macs >= 1000) {
        static const char *const units[5] = {"", " K", " M", " G", " T"};
        sb_puts(out, " (");
        put_scaled(out, (double)net->macs, 1000, units);
        sb_puts(out, ")");
    }
    sb_puts(out, "\nActivation memory per image: inference ");
    put_bytes(out, (double)net->act_infer_elems * 4);
    sb_puts(out, ", training ");
    put_bytes(out, (double)net->act_train_elems * 4);
    Planned p = planned(net, low);
    sb_puts(out, "\nPlanned buffers per image, inference: ");
    put_bytes(out, (double)p.infer * 4);
    sb_puts(out, " (");
    put_bytes(out, (double)p.infer_plain * 4);
    sb_puts(out, " without reuse)\nPlanned buffers per image, training: ");
    put_bytes(out, (double)p.train * 4);
    sb_puts(out, " (");
    put_bytes(out, (double)p.train_plain * 4);
    sb_puts(out, " without reuse)");
    Memory m = memory_at(net, low, &p, batch);
    put_memory(out, &m, batch);
    sb_puts(out, "\n");
}

void report_table(const Net *net, bool blas, long batch, StrBuf *out)
{
    const Node *output = net->nodes[net->output];
    Lowered low;
    lower_net(net, blas, &low);
    sb_printf(out, "Network %s: input ", net->name);
    put_shape(out, net->input);
    sb_puts(out, ", output ");
    put_shape(out, output->out);
    sb_printf(out, ", %d layers\n", net->nnodes - 1);

    /* Row 0 is the header: its titles count in the column widths. */
    int nrows = net->nnodes + 1;
    Row *rows = xcalloc((size_t)nrows, sizeof *rows);
    for (int c = 0; c < NCOLS; c++)
        rows[0].cell[c] = xstrdup(col_title[c]);
    for (int i = 1; i < nrows; i++)
        fill_row(&rows[i], net, net->nodes[i - 1], low.layers[i - 1].kernel);
    size_t width[NCOLS];
    size_columns(rows, nrows, width);
    size_t total = COL_GAP * (NCOLS - 1);
    for (int c = 0; c < NCOLS; c++)
        total += width[c];

    put_rule(out, '=', total);
    for (int i = 0; i < nrows; i++) {
        put_row(out, &rows[i], width);
        if (i == 0)
            put_rule(out, '-', total);
    }
    put_rule(out, '=', total);
    put_totals(out, net, &low, batch);
    put_rule(out, '=', total);

    for (int i = 0; i < nrows; i++)
        for (int c = 0; c < NCOLS; c++)
            free(rows[i].cell[c]);
    free(rows);
    lower_free(&low);
}

/* ---------------------------------------------------------------- strings */

/* Length of the valid UTF-8 sequence of 2 to 4 bytes at s, or 0. */
static int utf8_len(const unsigned char *s)
{
    static const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};  /* no overlong forms */
    int len = s[0] >= 0xf8 ? 0 : s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
    if (len == 0)
        return 0;
    uint32_t cp = s[0] & (0x7f >> len);
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)   /* also stops at the terminating NUL */
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < least[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* The inside of a double-quoted JSON (json) or DOT string: quotes and
 * backslashes escaped, a newline as \n (a line break in a DOT label).
 * Other control characters become \u00XX in JSON and '?' in DOT; so does
 * a byte that is not valid UTF-8 (as the Latin-1 character of its value
 * in JSON), which both formats require. */
static void put_escaped(StrBuf *out, const char *str, bool json)
{
    const unsigned char *s = (const unsigned char *)str;
    while (*s) {
        int len = *s >= 0x80 ? utf8_len(s) : 1;
        if (*s == '"' || *s == '\\')
            sb_printf(out, "\\%c", *s);
        else if (*s == '\n')
            sb_puts(out, "\\n");
        else if ((*s < 0x20 || len == 0) && json)
            sb_printf(out, "\\u%04x", *s);
        else if (*s < 0x20 || *s == 0x7f || len == 0)
            sb_putn(out, "?", 1);
        else
            sb_putn(out, (const char *)s, (size_t)len);
        s += len ? len : 1;
    }
}

static void json_str(StrBuf *out, const char *str)
{
    sb_putn(out, "\"", 1);
    put_escaped(out, str, true);
    sb_putn(out, "\"", 1);
}

static void dot_str(StrBuf *out, const char *str)
{
    sb_putn(out, "\"", 1);
    put_escaped(out, str, false);
    sb_putn(out, "\"", 1);
}

/* ------------------------------------------------------------------- JSON */

static void json_key(StrBuf *out, const char *key)
{
    sb_printf(out, ", \"%s\": ", key);
}

static void json_int(StrBuf *out, const char *key, int64_t v)
{
    json_key(out, key);
    sb_printf(out, "%" PRId64, v);
}

static void json_num(StrBuf *out, const char *key, double v)
{
    json_key(out, key);
    if (isfinite(v))
        sb_printf(out, "%.9g", v);
    else
        sb_puts(out, "null");   /* JSON has no NaN or infinity */
}

/* [a, b], or [d, a, b] on a volume. */
static void json_axes(StrBuf *out, const char *key, const Node *n, int64_t d, int64_t a, int64_t b)
{
    json_key(out, key);
    if (n->in_shape.volume)
        sb_printf(out, "[%" PRId64 ", %" PRId64 ", %" PRId64 "]", d, a, b);
    else
        sb_printf(out, "[%" PRId64 ", %" PRId64 "]", a, b);
}

/* [H, W, C], or [D, H, W, C] for a volume. */
static void json_shape(StrBuf *out, Shape s)
{
    if (s.volume)
        sb_printf(out, "[%" PRId64 ", ", s.d);
    else
        sb_puts(out, "[");
    sb_printf(out, "%" PRId64 ", %" PRId64 ", %" PRId64 "]", s.h, s.w, s.c);
}

/* The padding before then after each axis: [top, left, bottom, right],
 * on a volume [front, top, left, back, bottom, right]. */
static void json_pads(StrBuf *out, const char *key, const Node *n, int64_t back, int64_t bottom,
                      int64_t right)
{
    json_key(out, key);
    if (n->in_shape.volume)
        sb_printf(out, "[%" PRId64 ", ", n->pad_f);
    else
        sb_puts(out, "[");
    sb_printf(out, "%" PRId64 ", %" PRId64 ", ", n->pad_t, n->pad_l);
    if (n->in_shape.volume)
        sb_printf(out, "%" PRId64 ", ", back);
    sb_printf(out, "%" PRId64 ", %" PRId64 "]", bottom, right);
}

static void json_bool(StrBuf *out, const char *key, bool v)
{
    json_key(out, key);
    sb_puts(out, v ? "true" : "false");
}

/* "activation": the name, or null; with its numbers ("alpha" for leaky). */
static void json_act(StrBuf *out, const Node *n)
{
    json_key(out, "activation");
    if (n->act == ACT_NONE)
        sb_puts(out, "null");
    else
        json_str(out, act_name(n->act));
    double args[ACT_MAX_ARGS];
    act_args(n, args);
    for (int i = 0; i < act_info[n->act].nargs; i++)
        json_num(out, act_info[n->act].keys[i], args[i]);
}

static void json_window(StrBuf *out, const Node *n)
{
    json_axes(out, "kernel", n, n->kd, n->kh, n->kw);
    json_axes(out, "stride", n, n->sd, n->sh, n->sw);
    json_pads(out, "pad", n, n->pad_k, n->pad_b, n->pad_r);
}

static void json_conv(StrBuf *out, const Node *n)
{
    json_window(out, n);
    json_axes(out, "dilation", n, n->dd, n->dh, n->dw);
    json_int(out, "groups", n->groups);
    json_bool(out, "bias", n->bias);
    json_act(out, n);
}

static void json_pool(StrBuf *out, const Node *n)
{
    json_key(out, "pool");
    json_str(out, n->pool == POOL_MAX ? "max" : "avg");
    json_bool(out, "global", n->global);
    if (n->global)
        return;
    json_window(out, n);
    if (n->pool != POOL_AVG)
        return;
    json_bool(out, "countpad", n->countpad);
    if (!n->countpad)
        return;
    /* The padding the average counts (count_include_pad=True): the pads
     * without what `fit ceil` adds, in the order of "pad". */
    json_pads(out, "counted_pad", n, n->pad_k - n->ceil_k, n->pad_b - n->ceil_b,
              n->pad_r - n->ceil_r);
}

static void json_fc(StrBuf *out, const Node *n)
{
    json_bool(out, "bias", n->bias);
    json_act(out, n);
}

static void json_bn(StrBuf *out, const Node *n)
{
    json_num(out, "eps", n->eps);
    json_num(out, "momentum", n->momentum);
    json_act(out, n);
}

static void json_dropout(StrBuf *out, const Node *n)
{
    json_num(out, "p", n->drop_p);
}

static void json_upsample(StrBuf *out, const Node *n)
{
    json_int(out, "factor", n->factor);
}

static void json_crop(StrBuf *out, const Node *n)
{
    json_axes(out, "size", n, n->crop_d, n->crop_h, n->crop_w);
}

static void json_lrn(StrBuf *out, const Node *n)
{
    json_int(out, "size", n->lrn_size);
    json_num(out, "alpha", n->lrn_alpha);
    json_num(out, "beta", n->lrn_beta);
    json_num(out, "k", n->lrn_k);
}

/* ---------------------------------------------------------- kinds' options */

/* A kind's options: as text (the table's Options column, after which
 * report_options adds nobias and the trailing activation) and as the
 * JSON keys only that kind has.  NULL: none. */
typedef struct {
    void (*text)(StrBuf *out, size_t start, const Node *n);
    void (*json)(StrBuf *out, const Node *n);
} KindReport;

/* ORDER OP */
static const KindReport kind_reports[] = {
    [OP_INPUT] = {NULL, NULL},
    [OP_CONV] = {put_window, json_conv},
    [OP_DECONV] = {put_window, json_conv},
    [OP_POOL] = {put_pool, json_pool},
    [OP_FC] = {NULL, json_fc},
    [OP_ACT] = {put_act_args, json_act},
    [OP_SOFTMAX] = {NULL, NULL},
    [OP_BATCHNORM] = {put_bn, json_bn},
    [OP_DROPOUT] = {put_dropout, json_dropout},
    [OP_FLATTEN] = {NULL, NULL},
    [OP_UPSAMPLE] = {put_upsample, json_upsample},
    [OP_ADD] = {NULL, json_act},
    [OP_MUL] = {NULL, json_act},
    [OP_CONCAT] = {NULL, NULL},
    [OP_CROP] = {put_crop, json_crop},
    [OP_PRELU] = {NULL, NULL},
    [OP_LRN] = {put_lrn, json_lrn},
};
_Static_assert(sizeof kind_reports / sizeof kind_reports[0] == OP_COUNT_,
               "a report row for every layer kind");

void report_options(const Node *n, StrBuf *out)
{
    size_t start = out->len;
    if (kind_reports[n->op].text)
        kind_reports[n->op].text(out, start, n);
    bool has_bias = n->op == OP_CONV || n->op == OP_DECONV || n->op == OP_FC;
    if (has_bias && !n->bias)
        opt(out, start, "nobias");
    /* A stand-alone activation is the kind itself; softmax has no other. */
    if (n->op != OP_ACT && n->op != OP_SOFTMAX && n->op != OP_INPUT)
        put_act(out, start, n);
}

/* The keys that only some kinds of layer have. */
static void json_details(StrBuf *out, const Node *n)
{
    if (kind_reports[n->op].json)
        kind_reports[n->op].json(out, n);
}

static void json_layer(StrBuf *out, const Net *net, const Node *n, KernelKind kernel_kind)
{
    sb_puts(out, "{\"name\": ");
    json_str(out, n->name);
    json_key(out, "kind");
    json_str(out, keyword_kind(n));

    json_key(out, "inputs");
    sb_putn(out, "[", 1);
    for (int i = 0; i < n->ninputs; i++) {
        if (i > 0)
            sb_puts(out, ", ");
        json_str(out, net->nodes[n->inputs[i]]->name);
    }
    sb_putn(out, "]", 1);
    json_key(out, "output");
    json_shape(out, n->out);
    json_int(out, "params", n->params);
    json_int(out, "non_trainable", n->non_trainable);
    json_int(out, "macs", n->macs);

    StrBuf options;
    sb_init(&options);
    report_options(n, &options);
    json_key(out, "options");
    json_str(out, options.data ? options.data : "");
    sb_free(&options);

    json_details(out, n);
    json_key(out, "implementation");   /* "kernel" is the window's size */
    const char *kernel = lower_kernel_name(kernel_kind);
    if (kernel)
        json_str(out, kernel);
    else
        sb_puts(out, "null");
    sb_putn(out, "}", 1);
}

void report_json(const Net *net, bool blas, long batch, StrBuf *out)
{
    Lowered low;
    lower_net(net, blas, &low);
    sb_puts(out, "{\"network\": ");
    json_str(out, net->name);
    json_key(out, "input");
    json_shape(out, net->input);
    json_key(out, "output");
    json_shape(out, net->nodes[net->output]->out);
    sb_puts(out, ",\n \"layers\": [");
    /* The input is not a layer: the first layer names it in "inputs". */
    for (int i = 1; i < net->nnodes; i++) {
        sb_puts(out, i > 1 ? ",\n  " : "\n  ");
        json_layer(out, net, net->nodes[i], low.layers[i].kernel);
    }
    sb_puts(out, net->nnodes > 1 ? "\n ],\n " : "],\n ");
    sb_printf(out, "\"params\": %" PRId64, net->params);
    json_int(out, "non_trainable", net->non_trainable);
    json_int(out, "macs", net->macs);
    json_key(out, "loss");
    json_str(out, loss_name(net_loss(net)));
    sb_puts(out, ",\n \"activation_bytes\": {");
    sb_printf(out, "\"inference\": %" PRId64, float_bytes(net->act_infer_elems));
    json_int(out, "training", float_bytes(net->act_train_elems));
    Planned p = planned(net, &low);
    sb_puts(out, "},\n \"planned_bytes\": {");
    sb_printf(out, "\"inference\": %" PRId64, float_bytes(p.infer));
    json_int(out, "inference_no_reuse", float_bytes(p.infer_plain));
    json_int(out, "training", float_bytes(p.train));
    json_int(out, "training_no_reuse", float_bytes(p.train_plain));
    Memory m = memory_at(net, &low, &p, batch);
    sb_printf(out, "},\n \"memory_bytes\": {\"batch\": %ld", batch);
    json_int(out, "inference", m.infer);
    json_int(out, "training", m.train);
    json_int(out, "fixed_inference", m.fixed_infer);
    json_int(out, "fixed_training", m.fixed_train);
    json_int(out, "columns", m.col);
    json_int(out, "columns_allocated", m.col_allocated);
    json_int(out, "per_thread", m.per_thread);
    sb_puts(out, "}}\n");
    lower_free(&low);
}

/* -------------------------------------------------------------------- DOT */

/* "name\nkind options\nHxWxC"; the edges show where inputs come from. */
static void dot_node(StrBuf *out, const Net *net, const Node *n)
{
    sb_puts(out, "  ");
    dot_str(out, n->name);
    sb_puts(out, " [label=\"");
    put_escaped(out, n->name, false);
    StrBuf text;
    sb_init(&text);
    /* The input's kind would only repeat its name. */
    if (n->op != OP_INPUT) {
        sb_puts(out, "\\n");
        put_escaped(out, display_kind(n), false);
        report_options(n, &text);
    }
    if (text.len) {
        sb_putn(out, " ", 1);
        put_escaped(out, text.data, false);
    }
    sb_puts(out, "\\n");
    put_shape(out, n->out);
    sb_puts(out, "\"");

    /* Hovering over a box in SVG shows its counts. */
    sb_free(&text);
    sb_puts(&text, "params ");
    put_count(&text, n->params);
    sb_puts(&text, ", MACs ");
    put_count(&text, n->macs);
    sb_printf(out, ", tooltip=\"%s\"", text.data);
    sb_free(&text);

    if (n->op == OP_INPUT || n->id == net->output)
        sb_puts(out, ", shape=ellipse");
    sb_puts(out, "];\n");
}

static void dot_edges(StrBuf *out, const Net *net, const Node *n)
{
    for (int i = 0; i < n->ninputs; i++) {
        const Node *from = net->nodes[n->inputs[i]];
        sb_puts(out, "  ");
        dot_str(out, from->name);
        sb_puts(out, " -> ");
        dot_str(out, n->name);
        sb_puts(out, " [label=\"");
        put_shape(out, from->out);
        sb_puts(out, "\"];\n");
    }
}

void report_dot(const Net *net, StrBuf *out)
{
    sb_puts(out, "digraph ");
    dot_str(out, net->name);
    sb_puts(out, " {\n"
                 "  node [shape=box, style=rounded, fontname=\"Helvetica\", fontsize=10];\n"
                 "  edge [fontname=\"Helvetica\", fontsize=9];\n");
    for (int i = 0; i < net->nnodes; i++) {
        dot_node(out, net, net->nodes[i]);
        dot_edges(out, net, net->nodes[i]);
    }
    sb_puts(out, "}\n");
}
