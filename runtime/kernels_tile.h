/* kernels_tile.h - one register-tiled micro-kernel, included by kernels.c
 * once per shape and instruction set.  The includer defines:
 *
 *   TILE_FN   the function's name
 *   TILE_NJ   outputs per call, 2, 4, 6 or 8
 *   VEC, VL   the vector type and its lanes (float and 1 without GNU C)
 *   KTARGET   the function's target attribute (or nothing)
 *   LOADV, STOREV, BCASTV, MADD, KEEP   (see kernels.c)
 *
 * y[j][0 .. 3*VL) for outputs j < nj, each ystride apart: the sum over nc
 * channels (x planes xstride apart) and nt taps (offsets off) of
 * x[off[t] + ..] times w_j[t], where w_j = w + j * wj and each channel's
 * weights are wc further on; added to what y holds when acc.  3 vectors
 * of input and TILE_NJ broadcast weights per tap feed 3 * TILE_NJ fused
 * multiply-adds: the accumulators and those 4 fill 16 registers (NJ 4) or
 * up to 28 of 32 (NJ 6, 8), and the FMA units rather than the loads set
 * the pace.
 * Outputs j >= nj read output 0's weights and are not stored.  The three
 * vectors of x start at x, x + v1 and x + v2 (VL and 2*VL when the
 * positions are consecutive; further when a tile spans rows whose gap
 * columns are not computed: conv_pass's width and gap). */

#if TILE_NJ == 2
#define FOR_J(X) X(0) X(1)
#elif TILE_NJ == 4
#define FOR_J(X) X(0) X(1) X(2) X(3)
#elif TILE_NJ == 6
#define FOR_J(X) X(0) X(1) X(2) X(3) X(4) X(5)
#else
#define FOR_J(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#endif
#define W_ROW(j) const float *w##j = j < nj ? w + j * wj : w;
#define ZERO_ROW(j) VEC a##j##0 = {0}, a##j##1 = {0}, a##j##2 = {0};
#define MADD_ROW(j)                                                                                   \
    {                                                                                                 \
        VEC wv = BCASTV(w##j[t]);                                                                     \
        MADD(a##j##0, wv, x0);                                                                        \
        MADD(a##j##1, wv, x1);                                                                        \
        MADD(a##j##2, wv, x2);                                                                        \
    }
#define NEXT_ROW(j) w##j += wc;
#define STORE_ROW(j)                                                                                  \
    if (j < nj) {                                                                                     \
        float *yj = y + j * ystride;                                                                  \
        if (acc) {                                                                                    \
            VEC o0, o1, o2;                                                                           \
            LOADV(o0, yj);                                                                            \
            LOADV(o1, yj + VL);                                                                       \
            LOADV(o2, yj + 2 * VL);                                                                   \
            a##j##0 += o0;                                                                            \
            a##j##1 += o1;                                                                            \
            a##j##2 += o2;                                                                            \
        }                                                                                             \
        STOREV(yj, a##j##0);                                                                          \
        STOREV(yj + VL, a##j##1);                                                                     \
        STOREV(yj + 2 * VL, a##j##2);                                                                 \
    }

static KTARGET void TILE_FN(const float *x, long v1, long v2, long xstride, long nc, const long *off, long nt,
                            const float *w, long wj, long wc, int nj, float *y, long ystride, int acc)
{
    const float *x1p = x + v1, *x2p = x + v2;
    FOR_J(W_ROW)
    FOR_J(ZERO_ROW)
    for (long c = 0; c < nc; c++, x += xstride, x1p += xstride, x2p += xstride) {
        for (long t = 0; t < nt; t++) {
            VEC x0, x1, x2;
            LOADV(x0, x + off[t]);
            LOADV(x1, x1p + off[t]);
            LOADV(x2, x2p + off[t]);
            KEEP(x0);
            KEEP(x1);
            KEEP(x2);
            FOR_J(MADD_ROW)
        }
        FOR_J(NEXT_ROW)
    }
    FOR_J(STORE_ROW)
}

#undef FOR_J
#undef W_ROW
#undef ZERO_ROW
#undef MADD_ROW
#undef NEXT_ROW
#undef STORE_ROW
#undef TILE_FN
#undef TILE_NJ
