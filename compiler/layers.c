/* layers.c - the options of each layer statement (see docs/language.md).
 *
 * Each layer kind has a short parser over its words: positional arguments
 * first (kernel, size, count), then options in any order, each at most
 * once.  Unknown or misplaced words get a message naming the layer and what
 * it does take. */
#include "layers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kinds.h"

/* A statement keyword: a kind of its own, or an activation (OP_ACT). */
bool layer_kind(const char *keyword, LayerKind *kind)
{
    for (int op = 0; op < OP_COUNT_; op++)
        if (kind_info[op].statement && strcmp(kind_info[op].keyword, keyword) == 0) {
            *kind = (LayerKind){kind_info[op].keyword, (OpKind)op, ACT_NONE};
            return true;
        }
    ActKind act = act_of_keyword(keyword);
    /* softmax is a layer of its own, found above; ACT_SOFTMAX only trails one */
    if (act == ACT_NONE)
        return false;
    *kind = (LayerKind){act_info[act].keyword, OP_ACT, act};
    return true;
}

void layer_kind_list(StrBuf *sb)
{
    const char *sep = "";
    for (int op = 0; op < OP_COUNT_; op++)
        if (kind_info[op].statement && op != OP_SOFTMAX) {
            sb_printf(sb, "%s%s", sep, kind_info[op].keyword);
            sep = ", ";
        }
}

int layer_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 99;
    int row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* How close word is to keyword: a prefix match (conv2d, maxpool) is the
 * better hint. */
static int distance_to(const char *word, const char *keyword)
{
    if (strncmp(word, keyword, strlen(keyword)) == 0)
        return 1;
    return layer_edit_distance(word, keyword);
}

static void consider(const char *word, const char *keyword, const char **best, int *best_d)
{
    int d = distance_to(word, keyword);
    if (d < *best_d) {
        *best_d = d;
        *best = keyword;
    }
}

const char *layer_suggest(const char *word)
{
    const char *best = NULL;
    int best_d = 3;
    for (int op = 0; op < OP_COUNT_; op++)
        if (kind_info[op].statement)
            consider(word, kind_info[op].keyword, &best, &best_d);
    for (int act = ACT_NONE + 1; act < ACT_COUNT_; act++)
        consider(word, act_info[act].keyword, &best, &best_d);
    return best;
}

/* ---- word helpers ---- */

static bool is_name(const Word *w, const char *s)
{
    return w && w->kind == W_NAME && strcmp(w->s, s) == 0;
}

static ActKind act_of(const Word *w)
{
    return w && w->kind == W_NAME ? act_of_keyword(w->s) : ACT_NONE;
}

static bool is_number(const Word *w)
{
    return w && (w->kind == W_INT || w->kind == W_FLOAT);
}

static double number_of(const Word *w)
{
    return w->kind == W_INT ? (double)w->i : w->f;
}

/* The state of one statement's parse: the node, the cursor, and whether an
 * error was reported. */
typedef struct {
    Node *n;
    const char *kw;
    const Word *w;         /* the next word */
    SrcLoc end;            /* where "end of statement" is reported */
    bool ok;
    unsigned seen;         /* options given so far, by bit */
    InputRefs *refs;
    bool volume;           /* the network's input is a volume (SPEC 7) */
} P;

static void fail(P *p, const Word *w, const char *fmt, ...) DIAG_PRINTF(3, 4);
static void fail(P *p, const Word *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror_at(w ? w->loc : p->end, fmt, ap);
    va_end(ap);
    p->ok = false;
}

/* The sizes of one axis per spatial dimension: HxW, or DxHxW on a volume. */
static const char *dims_form(const P *p)
{
    return p->volume ? "DxHxW" : "HxW";
}

/* Takes an integer (every axis) or one number per axis, e.g. stride 2 or
 * stride 2x1 (1x2x2 on a volume); the depth stays as it is on an image. */
static bool take_pair(P *p, const char *opt, int64_t *d, int64_t *h, int64_t *w)
{
    const Word *v = p->w;
    int rank = p->volume ? 3 : 2;
    if (v && v->kind == W_INT) {
        *h = *w = v->i;
        if (p->volume)
            *d = v->i;
    } else if (v && v->kind == W_DIMS && v->natoms == rank) {
        const Word *a = v->atoms;
        if (p->volume) {
            *d = a->i;
            a = a->next;
        }
        *h = a->i;
        *w = a->next->i;
    } else {
        if (p->volume)
            fail(p, v, "'%s' on a volume needs a number or DxHxW (e.g. 2 or 1x2x2), not '%s'", opt,
                 word_text(v));
        else
            fail(p, v, "'%s' needs a number or HxW (e.g. 2 or 2x1), not '%s'", opt, word_text(v));
        return false;
    }
    p->w = v->next;
    return true;
}

static bool take_int(P *p, const char *opt, int64_t *out)
{
    const Word *v = p->w;
    if (!v || v->kind != W_INT) {
        fail(p, v, "'%s' needs a whole number, not '%s'", opt, word_text(v));
        return false;
    }
    *out = v->i;
    p->w = v->next;
    return true;
}

static bool take_float(P *p, const char *opt, double *out)
{
    const Word *v = p->w;
    if (!is_number(v)) {
        fail(p, v, "'%s' needs a number, not '%s'", opt, word_text(v));
        return false;
    }
    *out = number_of(v);
    p->w = v->next;
    return true;
}

/* Each option may appear once; bit is the option's own. */
static bool once(P *p, const Word *opt, unsigned bit)
{
    if (p->seen & bit) {
        fail(p, opt, "'%s' is given twice in this %s", opt->s, p->kw);
        return false;
    }
    p->seen |= bit;
    return true;
}

enum {
    O_STRIDE = 1, O_PAD = 2, O_DIL = 4, O_GROUPS = 8, O_NOBIAS = 16,
    O_FIT = 32, O_ACT = 64, O_FROM = 128, O_EPS = 256, O_MOM = 512,
    O_ALPHA = 1024, O_BETA = 2048, O_K = 4096, O_COUNTPAD = 8192
};

/* The numbers after an activation's keyword: all of them or none. */
static void take_act_args(P *p, const char *keyword)
{
    const ActInfo *a = &act_info[p->n->act];
    double args[ACT_MAX_ARGS] = {a->args[0], a->args[1]};
    const Word *first = p->w;
    int given = 0;
    while (given < a->nargs && is_number(p->w)) {
        args[given++] = number_of(p->w);
        p->w = p->w->next;
    }
    if (given > 0 && given < a->nargs) {
        error_at(first->loc, "%s takes %d numbers or none (%s), not %d", keyword, a->nargs,
                 a->usage, given);
        p->ok = false;
    } else if (given > 0 && a->valid && !a->valid(args)) {
        char numbers[64];
        snprintf(numbers, sizeof numbers, a->nargs == 1 ? "%g" : "%g %g", args[0], args[1]);
        error_at(first->loc, "%s %s: %s (%s)", keyword, numbers, a->rule, a->usage);
        p->ok = false;
    }
    if (a->nargs > 0) {
        p->n->act_alpha = args[0];
        p->n->act_beta = args[1];
    }
}

static bool take_act(P *p)
{
    const Word *w = p->w;
    if (!once(p, w, O_ACT)) {
        p->w = w->next;
        return false;
    }
    p->n->act = act_of(w);
    p->w = w->next;
    take_act_args(p, w->s);
    return true;
}

static bool take_from(P *p)
{
    const Word *opt = p->w;
    p->w = opt->next;
    if (!once(p, opt, O_FROM))
        return false;
    const Word *v = p->w;
    if (!v || v->kind != W_NAME) {
        fail(p, v, "'from' needs the name of a layer, not '%s'", word_text(v));
        return false;
    }
    p->refs->names[p->refs->n++] = v;
    p->refs->takes_previous = false;
    p->w = v->next;
    return true;
}

static bool take_fit(P *p)
{
    const Word *opt = p->w;
    p->w = opt->next;
    if (!once(p, opt, O_FIT))
        return false;
    const Word *v = p->w;
    if (is_name(v, "floor"))
        p->n->fit = FIT_FLOOR;
    else if (is_name(v, "ceil"))
        p->n->fit = FIT_CEIL;
    else if (is_name(v, "error"))
        p->n->fit = FIT_ERROR;
    else {
        fail(p, v, "'fit' takes floor, ceil or error, not '%s'", word_text(v));
        return false;
    }
    p->w = v->next;
    return true;
}

static bool take_pad(P *p, bool allow_modes)
{
    const Word *opt = p->w;
    p->w = opt->next;
    if (!once(p, opt, O_PAD))
        return false;
    if (allow_modes && is_name(p->w, "same")) {
        p->n->pad_mode = PAD_SAME;
        p->w = p->w->next;
        return true;
    }
    if (allow_modes && is_name(p->w, "valid")) {
        p->n->pad_mode = PAD_VALID;
        p->w = p->w->next;
        return true;
    }
    if (is_name(p->w, "same") || is_name(p->w, "valid")) {
        fail(p, p->w, "'pad %s' is not supported for %s; give the padding as a number or %s",
             p->w->s, p->kw, dims_form(p));
        return false;
    }
    p->n->pad_mode = PAD_EXPLICIT;
    return take_pair(p, "pad", &p->n->pad_d, &p->n->pad_h, &p->n->pad_w);
}

/* An option with one number: lrn's alpha, beta and k. */
static void take_number_option(P *p, unsigned bit, double *out)
{
    const Word *opt = p->w;
    p->w = opt->next;
    if (once(p, opt, bit))
        take_float(p, opt->s, out);
}

/* Only an average over a window has a count that padding could change. */
static void take_countpad(P *p)
{
    const Word *opt = p->w;
    p->w = opt->next;
    if (!once(p, opt, O_COUNTPAD))
        return;
    if (p->n->pool == POOL_MAX)
        fail(p, opt, "'countpad' is for 'pool avg', not 'pool max'%s%s", "", "");
    else if (p->n->global)
        fail(p, opt, "'countpad' does not apply to 'pool avg global', which has no padding%s%s", "", "");
    else
        p->n->countpad = true;
}

static void unknown_option(P *p, const char *takes)
{
    const Word *w = p->w;
    if (w->kind == W_NAME || w->kind == W_COMMA)
        error_at(w->loc, "%s does not take '%s'; it takes %s", p->kw, word_text(w), takes);
    else
        error_at(w->loc, "unexpected '%s' in %s; it takes %s", word_text(w), p->kw, takes);
    p->ok = false;
}

/* The options loop shared by the layers; `allowed` says which options this
 * layer takes, and `takes` lists them for messages. */
static void options(P *p, unsigned allowed, const char *takes)
{
    while (p->w) {
        const Word *w = p->w;
        if ((allowed & O_STRIDE) && is_name(w, "stride")) {
            p->w = w->next;
            if (once(p, w, O_STRIDE))
                take_pair(p, "stride", &p->n->sd, &p->n->sh, &p->n->sw);
        } else if ((allowed & O_PAD) && is_name(w, "pad")) {
            take_pad(p, p->n->op != OP_DECONV);
        } else if ((allowed & O_DIL) && is_name(w, "dilation")) {
            p->w = w->next;
            if (once(p, w, O_DIL))
                take_pair(p, "dilation", &p->n->dd, &p->n->dh, &p->n->dw);
        } else if ((allowed & O_GROUPS) && is_name(w, "groups")) {
            p->w = w->next;
            if (once(p, w, O_GROUPS))
                take_int(p, "groups", &p->n->groups);
        } else if ((allowed & O_NOBIAS) && is_name(w, "nobias")) {
            p->w = w->next;
            if (once(p, w, O_NOBIAS))
                p->n->bias = false;
        } else if ((allowed & O_FIT) && is_name(w, "fit")) {
            take_fit(p);
        } else if ((allowed & O_EPS) && is_name(w, "eps")) {
            p->w = w->next;
            if (once(p, w, O_EPS))
                take_float(p, "eps", &p->n->eps);
        } else if ((allowed & O_MOM) && is_name(w, "momentum")) {
            p->w = w->next;
            if (once(p, w, O_MOM))
                take_float(p, "momentum", &p->n->momentum);
        } else if ((allowed & O_ALPHA) && is_name(w, "alpha")) {
            take_number_option(p, O_ALPHA, &p->n->lrn_alpha);
        } else if ((allowed & O_BETA) && is_name(w, "beta")) {
            take_number_option(p, O_BETA, &p->n->lrn_beta);
        } else if ((allowed & O_K) && is_name(w, "k")) {
            take_number_option(p, O_K, &p->n->lrn_k);
        } else if ((allowed & O_COUNTPAD) && is_name(w, "countpad")) {
            take_countpad(p);
        } else if ((allowed & O_ACT) && act_of(w) != ACT_NONE) {
            if (p->seen & O_ACT) {
                fail(p, w, "only one activation may follow a layer; '%s' comes after another", w->s);
                p->w = w->next;
            } else {
                take_act(p);
            }
        } else if ((allowed & O_FROM) && is_name(w, "from")) {
            take_from(p);
        } else {
            unknown_option(p, takes);
            return;  /* one message per statement is enough */
        }
        if (!p->ok)
            return;
    }
}

/* ---- per layer kind ---- */

/* The kernel of a conv or deconv: KHxKWxF, KDxKHxKWxF on a volume. */
static bool take_kernel(P *p)
{
    const Word *k = p->w;
    int atoms = p->volume ? 4 : 3;
    if (!k || k->kind != W_DIMS || k->natoms != atoms) {
        if (p->volume)
            fail(p, k, "%s on a volume needs the kernel and filter count as KDxKHxKWxF "
                 "(e.g. 3x3x3x64), not '%s'", p->kw, word_text(k));
        else if (k && k->kind == W_DIMS && k->natoms == 4)
            fail(p, k, "%s on an image needs the kernel and filter count as KHxKWxF (e.g. 3x3x64), "
                 "not '%s'; a volume's input is DxHxWxC", p->kw, word_text(k));
        else
            fail(p, k, "%s needs the kernel and filter count as KHxKWxF (e.g. 3x3x64), not '%s'",
                 p->kw, word_text(k));
        return false;
    }
    const Word *a = k->atoms;
    if (p->volume) {
        p->n->kd = a->i;
        a = a->next;
    }
    p->n->kh = a->i;
    p->n->kw = a->next->i;
    p->n->filters = a->next->next->i;
    p->w = k->next;
    return true;
}

static void parse_conv(P *p)
{
    bool deconv = p->n->op == OP_DECONV;
    if (!take_kernel(p))
        return;
    if (deconv)
        options(p, O_STRIDE | O_PAD | O_DIL | O_GROUPS | O_NOBIAS | O_ACT | O_FROM,
                "stride, pad, dilation, groups, nobias, an activation and from");
    else
        options(p, O_STRIDE | O_PAD | O_DIL | O_GROUPS | O_NOBIAS | O_FIT | O_ACT | O_FROM,
                "stride, pad, dilation, groups, nobias, fit, an activation and from");
}

static void parse_pool(P *p)
{
    const Word *mode = p->w;
    if (is_name(mode, "max"))
        p->n->pool = POOL_MAX;
    else if (is_name(mode, "avg"))
        p->n->pool = POOL_AVG;
    else {
        fail(p, mode, "pool needs 'max' or 'avg' first, not '%s'", word_text(mode));
        return;
    }
    const Word *size = mode->next;
    p->w = size;
    if (is_name(size, "global")) {
        p->n->global = true;
        p->w = size->next;
        options(p, O_FROM | O_COUNTPAD, "only from after 'global'");
        return;
    }
    if (!size || !((size->kind == W_INT) || (size->kind == W_DIMS && size->natoms == 2 + p->volume))) {
        if (p->volume)
            fail(p, size, "pool on a volume needs a window size (e.g. 2 or 3x3x3) or 'global', "
                 "not '%s'", word_text(size));
        else
            fail(p, size, "pool needs a window size (e.g. 2 or 3x3) or 'global', not '%s'",
                 word_text(size));
        return;
    }
    take_pair(p, "pool", &p->n->kd, &p->n->kh, &p->n->kw);
    /* countpad after max gets its own message (take_countpad) */
    options(p, O_STRIDE | O_PAD | O_FIT | O_COUNTPAD | O_FROM,
            p->n->pool == POOL_AVG ? "stride, pad, fit, countpad and from" : "stride, pad, fit and from");
    if (!(p->seen & O_STRIDE)) {
        p->n->sd = p->n->kd;
        p->n->sh = p->n->kh;
        p->n->sw = p->n->kw;
    }
}

static void parse_fc(P *p)
{
    if (!p->w || p->w->kind != W_INT) {
        fail(p, p->w, "fc needs its number of outputs (e.g. fc 10), not '%s'", word_text(p->w));
        return;
    }
    p->n->filters = p->w->i;
    p->w = p->w->next;
    options(p, O_NOBIAS | O_ACT | O_FROM, "nobias, an activation and from");
}

static void parse_activation(P *p)
{
    take_act_args(p, p->kw);
    options(p, O_FROM, "only from");
}

static void parse_batchnorm(P *p)
{
    options(p, O_EPS | O_MOM | O_ACT | O_FROM, "eps, momentum, an activation and from");
}

static void parse_dropout(P *p)
{
    if (!is_number(p->w)) {
        fail(p, p->w, "dropout needs its probability (e.g. dropout 0.5), not '%s'", word_text(p->w));
        return;
    }
    p->n->drop_p = number_of(p->w);
    p->w = p->w->next;
    options(p, O_FROM, "only from");
}

static void parse_upsample(P *p)
{
    if (!p->w || p->w->kind != W_INT) {
        fail(p, p->w, "upsample needs its factor (e.g. upsample 2), not '%s'", word_text(p->w));
        return;
    }
    p->n->factor = p->w->i;
    p->w = p->w->next;
    options(p, O_FROM, "only from");
}

static void parse_crop(P *p)
{
    const Word *v = p->w;
    if (!v || v->kind != W_DIMS || v->natoms != 2 + p->volume) {
        if (p->volume)
            fail(p, v, "crop on a volume needs the size to keep as DxHxW (e.g. crop 32x64x64), "
                 "not '%s'", word_text(v));
        else
            fail(p, v, "crop needs the size to keep as HxW (e.g. crop 64x64), not '%s'", word_text(v));
        return;
    }
    take_pair(p, "crop", &p->n->crop_d, &p->n->crop_h, &p->n->crop_w);
    options(p, O_FROM, "only from");
}

/* add a[, b ...] [ACT]: names separated by commas; with one name the
 * previous layer's output is the first operand. */
static void parse_merge(P *p)
{
    bool act_allowed = p->n->op != OP_CONCAT;
    for (;;) {
        const Word *v = p->w;
        if (!v || v->kind != W_NAME || (act_of(v) != ACT_NONE && p->refs->n > 0)) {
            fail(p, v, "%s needs the name of a layer here, not '%s'", p->kw, word_text(v));
            return;
        }
        if (p->refs->n == MAX_LAYER_INPUTS) {
            fail(p, v, "%s takes at most 256 inputs", p->kw);
            return;
        }
        p->refs->names[p->refs->n++] = v;
        p->w = v->next;
        if (!p->w || p->w->kind != W_COMMA)
            break;
        p->w = p->w->next;
    }
    p->refs->takes_previous = p->refs->n == 1;
    if (p->n->op == OP_MUL && p->refs->n > 2) {
        fail(p, p->refs->names[2], "mul takes two operands; '%s' is a third", p->refs->names[2]->s);
        return;
    }
    if (act_allowed)
        options(p, O_ACT, "an activation after its inputs");
    else
        options(p, 0, "only the names of its inputs");
}

/* lrn N [alpha A] [beta B] [k K]: nn.LocalResponseNorm's numbers. */
static void parse_lrn(P *p)
{
    Node *n = p->n;
    n->lrn_alpha = 1e-4;
    n->lrn_beta = 0.75;
    n->lrn_k = 1.0;
    if (!p->w || p->w->kind != W_INT) {
        fail(p, p->w, "lrn needs the number of channels it sums over (e.g. lrn 5), not '%s'%s",
             word_text(p->w), "");
        return;
    }
    n->lrn_size = p->w->i;
    p->w = p->w->next;
    options(p, O_ALPHA | O_BETA | O_K | O_FROM, "alpha, beta, k and from");
}

static void parse_from_only(P *p)
{
    options(p, O_FROM, "only from");
}

static void parse_nothing(P *p)
{
    (void)p;   /* the input is its own statement (expand.c) */
}

/* ORDER OP */
static void (*const parsers[])(P *) = {
    [OP_INPUT] = parse_nothing,       [OP_CONV] = parse_conv,
    [OP_DECONV] = parse_conv,         [OP_POOL] = parse_pool,
    [OP_FC] = parse_fc,               [OP_ACT] = parse_activation,
    [OP_SOFTMAX] = parse_from_only,   [OP_BATCHNORM] = parse_batchnorm,
    [OP_DROPOUT] = parse_dropout,     [OP_FLATTEN] = parse_from_only,
    [OP_UPSAMPLE] = parse_upsample,   [OP_ADD] = parse_merge,
    [OP_MUL] = parse_merge,           [OP_CONCAT] = parse_merge,
    [OP_CROP] = parse_crop,           [OP_PRELU] = parse_from_only,
    [OP_LRN] = parse_lrn,
};
_Static_assert(sizeof parsers / sizeof parsers[0] == OP_COUNT_, "a parser for every layer kind");

bool layer_parse(Node *n, const LayerKind *kind, bool volume, const Word *words, InputRefs *refs)
{
    /* A missing value is reported at the statement's last word ("pad"),
     * where the reader looks for it. */
    SrcLoc end = n->loc;
    for (const Word *w = words; w; w = w->next)
        end = w->loc;
    P p = {n, kind->keyword, words, end, true, 0, refs, volume};
    refs->n = 0;
    refs->takes_previous = true;
    n->act = kind->act;   /* ACT_NONE but for the activations */
    if (!parsers[kind->op]) {   /* a row missing before the last (ORDER OP) */
        error_at(n->loc, "internal error: no parser for '%s'", kind->keyword);
        return false;
    }
    parsers[kind->op](&p);
    return p.ok;
}
