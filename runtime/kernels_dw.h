/* kernels_dw.h - the 3-D convolution's dL/dW kernel (dw_rows) for one
 * instruction set, included by kernels.c once per set like kernels_tile.h.
 * 4 filters x DW_PAIRS inputs, one vector register each: 3 inputs fill
 * 16 registers with the 3 inputs' and dL/dy's vectors, 6 fill 31 of 32
 * (10 loads per 24 multiply-adds instead of 7 per 12).  The includer
 * defines DW_FN (the function's name), DW_PAIRS (3 or 6) and KTARGET,
 * VEC, VL, LOADV, MADD, KEEP, HSUM_INTO; VL divides 8. */

#define DW_LOAD(i)                                                                                    \
    LOADV(u##i, x##i + xq);                                                                           \
    KEEP(u##i);
#define DW_MADD3(j) MADD(a##j##0, d, u0), MADD(a##j##1, d, u1), MADD(a##j##2, d, u2)
#define DW_SUM3(j)                                                                                    \
    HSUM_INTO(s[DW_PAIRS * j], a##j##0);                                                              \
    HSUM_INTO(s[DW_PAIRS * j + 1], a##j##1);                                                          \
    HSUM_INTO(s[DW_PAIRS * j + 2], a##j##2);
#if DW_PAIRS == 6
#define DW_MADD(j) DW_MADD3(j), MADD(a##j##3, d, u3), MADD(a##j##4, d, u4), MADD(a##j##5, d, u5)
#define DW_SUM(j)                                                                                     \
    DW_SUM3(j)                                                                                        \
    HSUM_INTO(s[6 * j + 3], a##j##3);                                                                 \
    HSUM_INTO(s[6 * j + 4], a##j##4);                                                                 \
    HSUM_INTO(s[6 * j + 5], a##j##5);
#define DW_ZERO(j) a##j##0 = {0}, a##j##1 = {0}, a##j##2 = {0}, a##j##3 = {0}, a##j##4 = {0}, a##j##5 = {0}
#else
#define DW_MADD(j) DW_MADD3(j)
#define DW_SUM(j) DW_SUM3(j)
#define DW_ZERO(j) a##j##0 = {0}, a##j##1 = {0}, a##j##2 = {0}
#endif
#define DW_ROW(j)                                                                                     \
    LOADV(d, dq + j * dqstride + dqq);                                                                \
    KEEP(d);                                                                                          \
    DW_MADD(j);

/* s[j * DW_PAIRS + i] += the sum over nd depths of nr rows of nv * 8
 * positions of dq_j * x_i: dq_j's positions consecutive, dqstride apart,
 * the inputs' rows xrow and depths xdepth apart */
static KTARGET void DW_FN(const float *dq, long dqstride, const float *const *x, long xrow, long xdepth, long nv,
                          long nr, long nd, float *s)
{
    VEC DW_ZERO(0), DW_ZERO(1), DW_ZERO(2), DW_ZERO(3);
    const float *x0 = x[0], *x1 = x[1], *x2 = x[2];
#if DW_PAIRS == 6
    const float *x3 = x[3], *x4 = x[4], *x5 = x[5];
#endif
    for (long z = 0, dqq = 0; z < nd; z++)
        for (long r = 0; r < nr; r++)
            for (long q = 0; q < nv * 8; q += VL, dqq += VL) {
                long xq = z * xdepth + r * xrow + q;
                VEC d, u0, u1, u2;
                DW_LOAD(0)
                DW_LOAD(1)
                DW_LOAD(2)
#if DW_PAIRS == 6
                VEC u3, u4, u5;
                DW_LOAD(3)
                DW_LOAD(4)
                DW_LOAD(5)
#endif
                DW_ROW(0)
                DW_ROW(1)
                DW_ROW(2)
                DW_ROW(3)
            }
    DW_SUM(0)
    DW_SUM(1)
    DW_SUM(2)
    DW_SUM(3)
}

#undef DW_LOAD
#undef DW_MADD3
#undef DW_SUM3
#undef DW_MADD
#undef DW_SUM
#undef DW_ZERO
#undef DW_ROW
#undef DW_FN
#undef DW_PAIRS
