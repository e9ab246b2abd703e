/* emit/print.c - what every kernel of the C backend prints with: indented
 * lines and blocks, the C expressions of a layer's buffers, float
 * literals, activations and the common heads of the layers with weights.
 * The kernels (conv.c, tile.c, ...) and the frame (emit.c) call these;
 * these call nothing of theirs, so the backend's calls run one way. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emitter.h"
#include "kinds.h"

/* ---- printing ---- */

static void vout(Emitter *E, const char *fmt, va_list ap)
{
    for (int i = 0; i < E->indent; i++)
        sb_puts(E->out, "    ");
    char buf[1024];
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    if (n >= (int)sizeof buf) {
        char *big = xmalloc((size_t)n + 1);
        vsnprintf(big, (size_t)n + 1, fmt, again);
        sb_puts(E->out, big);
        free(big);
    } else {
        sb_puts(E->out, buf);
    }
    va_end(again);
}

void emit_out(Emitter *E, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (*fmt)
        vout(E, fmt, ap);
    va_end(ap);
    sb_puts(E->out, "\n");
}

void emit_open_block(Emitter *E, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vout(E, fmt, ap);
    va_end(ap);
    sb_puts(E->out, " {\n");
    E->indent++;
}

void emit_open_scope(Emitter *E)
{
    emit_out(E, "{");
    E->indent++;
}

void emit_blank(Emitter *E)
{
    sb_puts(E->out, "\n");
}

void emit_close_block(Emitter *E)
{
    E->indent--;
    emit_out(E, "}");
}

/* A loop, left out when it would run once (see emitter.h). */
bool emit_loop(Emitter *E, const char *type, const char *var, long count)
{
    if (count == 1)
        return false;
    emit_open_block(E, "for (%s %s = 0; %s < %ld; %s++)", type, var, var, count, var);
    return true;
}

void emit_end_loop(Emitter *E, bool opened)
{
    if (opened)
        emit_close_block(E);
}

/* ---- buffers ---- */

const Node *emit_in_node(const Emitter *E, const LayerPlan *lp, int k)
{
    return E->net->nodes[lp->node->inputs[k]];
}

long emit_in_elems(const Emitter *E, const LayerPlan *lp, int k)
{
    return (long)emit_in_node(E, lp, k)->out_elems;
}

const char *emit_in_ptr(Emitter *E, const LayerPlan *lp, int k)
{
    return E->plan[lp->node->inputs[k]].y_expr;
}

const char *emit_in_grad_ptr(Emitter *E, const LayerPlan *lp, int k)
{
    return E->plan[lp->node->inputs[k]].dy_expr;
}

const char *emit_out_ptr(Emitter *E, const LayerPlan *lp)
{
    (void)E;
    return lp->y_expr;
}

const char *emit_out_grad_ptr(Emitter *E, const LayerPlan *lp)
{
    (void)E;
    return lp->dy_expr;
}

const char *emit_flt(double v)
{
    static char buf[8][40];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%.9g", v);
    if (!strpbrk(buf[k], ".eEn"))
        strcat(buf[k], ".0");
    strcat(buf[k], "f");
    return buf[k];
}

/* ---- activations ---- */

/* An activation's template (act_info) as C, appended to sb: each token v,
 * g, A and B becomes the value, the gradient, and the first and second
 * number. */
void emit_act_expr(StrBuf *sb, const char *tmpl, const Node *n, const char *v, const char *g)
{
    double args[ACT_MAX_ARGS];
    act_args(n, args);
    for (const char *t = tmpl; *t;) {
        size_t tok = strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.");
        const char *text = tok != 1 ? NULL : *t == 'v' ? v : *t == 'g' ? g
                         : *t == 'A' ? emit_flt(args[0]) : *t == 'B' ? emit_flt(args[1]) : NULL;
        if (tok == 0)
            tok = 1;
        if (text)
            sb_puts(sb, text);
        else
            sb_printf(sb, "%.*s", (int)tok, t);
        t += tok;
    }
}

/* In place over count floats at y; nothing for the identity and softmax
 * (over channels: emitted by the layer, see emit/layers.c). */
void emit_act_forward(Emitter *E, const Node *n, const char *y, const char *count)
{
    const char *tmpl = act_info[n->act].forward;
    if (!tmpl || n->act == ACT_SOFTMAX)
        return;
    char *v = xasprintf("%s[p]", y);
    StrBuf expr;
    sb_init(&expr);
    emit_act_expr(&expr, tmpl, n, v, NULL);
    emit_out(E, "for (long p = 0; p < %s; p++) %s = %s;", count, v, expr.data);
    sb_free(&expr);
    free(v);
}

/* The derivative from the output alone, so no pre-activation is kept.  A
 * masked form is a select, not a branch: those vectorise into masked
 * stores, 3x slower. */
void emit_act_backward(Emitter *E, const Node *n, const char *y, const char *dy, const char *count)
{
    const ActInfo *a = &act_info[n->act];
    if (!a->derivative)
        return;
    char *v = xasprintf("%s[p]", y), *g = xasprintf("%s[p]", dy);
    StrBuf expr;
    sb_init(&expr);
    emit_act_expr(&expr, a->masked ? a->masked : a->derivative, n, v, g);
    emit_out(E, "for (long p = 0; p < %s; p++) %s %s %s;", count, g, a->masked ? "=" : "*=", expr.data);
    sb_free(&expr);
    free(v);
    free(g);
}

/* The trailing activation's derivative, in place in dy (all n images). */
void emit_trailing_act_backward(Emitter *E, const Node *n)
{
    if (n->act == ACT_SOFTMAX) {
        emit_softmax_backward(E, "y", "dy", (long)n->out.c, (long)(n->out.h * n->out.w), n->id == E->net->output);
        return;
    }
    char count[64];
    if (n->out_elems < 1024 || n->act == ACT_NONE || n->act == ACT_LINEAR) {
        snprintf(count, sizeof count, "(long)n * %lld", (long long)n->out_elems);
        emit_act_backward(E, n, "y", "dy", count);
        return;
    }
    snprintf(count, sizeof count, "%lld", (long long)n->out_elems);
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    emit_out(E, "const float *yi = y + (size_t)i * %s;", count);
    emit_out(E, "float *dyi = dy + (size_t)i * %s;", count);
    emit_act_backward(E, n, "yi", "dyi", count);
    emit_close_block(E);
}

void emit_weighted_forward_head(Emitter *E, const LayerPlan *lp)
{
    emit_out(E, "const float *x = %s;", emit_in_ptr(E, lp, 0));
    emit_out(E, "float *y = %s;", emit_out_ptr(E, lp));
    emit_out(E, "const float *w = m->params + %s;", lp->w_name);
    if (lp->b_off >= 0)
        emit_out(E, "const float *b = m->params + %s;", lp->b_name);
}

void emit_output_rows(Emitter *E, const LayerPlan *lp, const char *rows, long width)
{
    const Node *n = lp->node;
    long oh = (long)n->out.h, ow = (long)n->out.w;
    emit_out(E, "float *yf = y + (size_t)i * %lld + f * %ld;", (long long)n->out_elems, oh * ow);
    emit_out(E, "cnn_kernels_best()->rows_out(%s, %ld, %ld, %ld, %s, %d, yf);", rows, width, oh, ow,
        lp->b_off >= 0 ? "b[f]" : "0.0f", n->act == ACT_RELU);
    char count[32];
    snprintf(count, sizeof count, "%ld", oh * ow);
    if (n->act != ACT_SOFTMAX && n->act != ACT_RELU)
        emit_act_forward(E, n, "yf", count);
}

void emit_weighted_backward_head(Emitter *E, const LayerPlan *lp)
{
    emit_out(E, "const float *x = %s;", emit_in_ptr(E, lp, 0));
    emit_out(E, "const float *y = %s;", emit_out_ptr(E, lp));
    emit_out(E, "float *dy = %s;", emit_out_grad_ptr(E, lp));
    emit_out(E, "float *dx = %s;", emit_in_grad_ptr(E, lp, 0));
    emit_out(E, "const float *w = m->params + %s;", lp->w_name);
    emit_out(E, "float *dw = m->grads + %s;", lp->w_name);
    emit_out(E, "(void)y;");
    emit_trailing_act_backward(E, lp->node);
}

/* ---- softmax over channels ---- */

/* Channel k of the pixel at v: "k", or "k * HW" on planes of HW > 1. */
static const char *channel_index(char buf[static 32], long hw)
{
    if (hw == 1)
        return "k";
    snprintf(buf, 32, "k * %ld", hw);
    return buf;
}

void emit_softmax_forward(Emitter *E, const char *y, long c, long hw)
{
    char kb[32];
    const char *k = channel_index(kb, hw);
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    bool pixels = emit_loop(E, "long", "p", hw);
    emit_out(E, "float *v = %s + (size_t)i * %ld%s;", y, c * hw, pixels ? " + p" : "");
    emit_out(E, "float top = v[0], sum = 0.0f;");
    emit_out(E, "for (long k = 1; k < %ld; k++) if (v[%s] > top) top = v[%s];", c, k, k);
    emit_out(E, "for (long k = 0; k < %ld; k++) sum += v[%s] = expf(v[%s] - top);", c, k, k);
    emit_out(E, "for (long k = 0; k < %ld; k++) v[%s] /= sum;", c, k);
    emit_end_loop(E, pixels);
    emit_close_block(E);
}

void emit_softmax_backward(Emitter *E, const char *y, const char *dy, long c, long hw, bool fusable)
{
    char kb[32];
    const char *k = channel_index(kb, hw);
    if (fusable)
        emit_open_block(E, "if (!m->loss_fused)");
    else
        emit_open_scope(E);
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    bool pixels = emit_loop(E, "long", "p", hw);
    emit_out(E, "const float *v = %s + (size_t)i * %ld%s;", y, c * hw, pixels ? " + p" : "");
    emit_out(E, "float *g = %s + (size_t)i * %ld%s;", dy, c * hw, pixels ? " + p" : "");
    emit_out(E, "float dot = 0.0f;");
    emit_out(E, "for (long k = 0; k < %ld; k++) dot += g[%s] * v[%s];", c, k, k);
    emit_out(E, "for (long k = 0; k < %ld; k++) g[%s] = v[%s] * (g[%s] - dot);", c, k, k, k);
    emit_end_loop(E, pixels);
    emit_close_block(E);
    emit_close_block(E);
}
