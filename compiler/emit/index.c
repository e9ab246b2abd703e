/* emit/index.c - what the kernels print around their loops: index
 * arithmetic with the constants folded, loops left out where they would
 * run once, and the copies between an image and its padded planes. */
#include <assert.h>
#include <stdio.h>

#include "emitter.h"

char *emit_linear(char *buf, size_t size, int nterms, const Term *t)
{
    size_t len = 0;
    long constant = 0;
    buf[0] = '\0';
    for (int i = 0; i < nterms; i++) {
        if (!t[i].v) {
            constant += t[i].k;
            continue;
        }
        if (t[i].k == 0)
            continue;
        long k = t[i].k < 0 ? -t[i].k : t[i].k;
        const char *sep = t[i].k < 0 ? (len ? " - " : "-") : len ? " + " : "";
        if (k == 1)
            len += (size_t)snprintf(buf + len, size - len, "%s%s", sep, t[i].v);
        else
            len += (size_t)snprintf(buf + len, size - len, "%s%s * %ld", sep, t[i].v, k);
        assert(len < size);
    }
    if (constant || !len)
        len += (size_t)snprintf(buf + len, size - len, "%s%ld", !len ? "" : constant < 0 ? " - " : " + ",
                                len && constant < 0 ? -constant : constant);
    assert(len < size);
    return buf;
}

void emit_pad_planes(Emitter *E, const ConvGeom *g, long slack)
{
    if (!g->padded) {
        emit_out(E, "memcpy(xp, x + (size_t)i * %ld, sizeof(float) * %ld);", g->in_size, g->in_size);
        if (slack)
            emit_out(E, "memset(xp + %ld, 0, sizeof(float) * %ld);", g->in_size, slack);
        return;
    }
    emit_out(E, "memset(xp, 0, sizeof(float) * %ld);", g->c * g->plane + slack);
    bool c = emit_loop(E, "long", "c", g->c);
    char to[96], from[96];
    Term tt[] = {{c ? g->plane : 0, "c"}, {g->wp, "r"}, {g->pt * g->wp + g->pl, NULL}};
    Term ft[] = {{c ? g->hw : 0, "c"}, {g->w, "r"}};
    emit_out(E, "for (long r = 0; r < %ld; r++)", g->h);
    emit_out(E, "    memcpy(xp + %s, x + (size_t)i * %ld + %s, sizeof(float) * %ld);", emit_linear(to, sizeof to, 3, tt),
        g->in_size, emit_linear(from, sizeof from, 2, ft), g->w);
    emit_end_loop(E, c);
}

void emit_unpad_planes(Emitter *E, const ConvGeom *g, long plane)
{
    emit_out(E, "float *dxi = dx + (size_t)i * %ld;", g->in_size);
    bool c = emit_loop(E, "long", "c", g->c);
    char to[96], from[96];
    Term tt[] = {{c ? g->hw : 0, "c"}, {g->w, "r"}, {1, "o"}};
    Term ft[] = {{c ? plane : 0, "c"}, {g->wp, "r"}, {1, "o"}, {g->pt * g->wp + g->pl, NULL}};
    emit_out(E, "for (long r = 0; r < %ld; r++)", g->h);
    emit_out(E, "    for (long o = 0; o < %ld; o++)", g->w);
    emit_out(E, "        dxi[%s] += dxp[%s];", emit_linear(to, sizeof to, 3, tt), emit_linear(from, sizeof from, 4, ft));
    emit_end_loop(E, c);
}

void emit_group_channel(Emitter *E, const ConvGeom *g, const char *decl, long image, long plane, bool c_loop)
{
    char fdiv[32], at[96];
    snprintf(fdiv, sizeof fdiv, "f / %ld", g->fg);
    Term t[] = {{image, "(size_t)i"}, {g->groups > 1 ? g->cg * plane : 0, g->fg == 1 ? "f" : fdiv},
                {c_loop ? plane : 0, "c"}};
    emit_out(E, "%s%s;", decl, emit_linear(at, sizeof at, 3, t));
}

void emit_filter_channel(Emitter *E, const ConvGeom *g, bool c_loop, const char *decl)
{
    char at[64];
    Term t[] = {{g->cg * g->taps, "f"}, {c_loop ? g->taps : 0, "c"}};
    emit_out(E, "%s%s;", decl, emit_linear(at, sizeof at, 2, t));
}

void emit_conv_geom(Emitter *E, const ConvGeom *g)
{
    emit_out(E, "static const cnn_conv_geom g = {%ld, %ld, %ld, %ld, %ld, %ld, %ld, %ld, %ld, %ld, %ld, %ld, %ld, 0};",
        g->cg, g->h, g->w, g->kh, g->kw, g->sh, g->sw, g->dh, g->dw, g->pt, g->pl, g->oh, g->ow);
}
