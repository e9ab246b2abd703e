/* kernels_impl.h - the kernels of cnn_kernels for one instruction set,
 * included by kernels.c once per set.  The includer defines ISA(name),
 * KTARGET, VEC, VL, LOADV, MADD, KEEP (as for kernels_tile.h), and:
 *
 *   CHUNK   positions the micro-kernels take at once: 24, or 48 (two
 *           tiles) when 3 vectors of 16 lanes fit them
 *   NJ_RUN  outputs they take at once
 *   RUN     run(q, <kernels_tile.h's arguments>) for q = 24 or CHUNK
 *   LOADV_TAIL (optional) loads 8 floats into a VEC of 16 lanes */

/* One pass over channels [c0, c0 + nc): for each chunk of tiles, the KH
 * rows its positions read are packed side by side, so that the
 * micro-kernel's loads come from one small block in L1 instead of rows a
 * plane apart; then every block of outputs runs over them. */
static KTARGET void ISA(conv_pass)(const cnn_tile_conv *p, long c0, long nc, const long *off, long t0, long t1,
                                   float *pack)
{
    long reach = (p->kw - 1) * p->dw, row = CHUNK + reach, ps = p->kh * row, taps = p->kh * p->kw;
    for (long t = t0, q; t < t1; t += q / CNN_TILE_Q) {
        q = t1 - t >= CHUNK / CNN_TILE_Q ? CHUNK : CNN_TILE_Q;
        pack_rows(p, c0, nc, t * CNN_TILE_Q, q + reach, row, pack);
        for (long f = 0; f < p->nout; f += NJ_RUN) {
            int nj = p->nout - f < NJ_RUN ? (int)(p->nout - f) : NJ_RUN;
            RUN(q, pack, ps, nc, off, taps, p->w + f * p->w_out + c0 * p->w_in, p->w_out, p->w_in, nj,
                p->out + f * p->out_stride + t * CNN_TILE_Q, p->out_stride, c0 > 0);
        }
    }
}

static KTARGET void ISA(conv_tiles)(const cnn_tile_conv *p, long t0, long t1)
{
    float pack[PACK_FLOATS];
    long off[CNN_TILE_PACK_MOST];
    long row = CHUNK + (p->kw - 1) * p->dw, cc = channels_per_pass(p->nin, p->kh * row);
    packed_offsets(p, row, off);
    for (long c0 = 0; c0 < p->nin; c0 += cc)
        ISA(conv_pass)(p, c0, p->nin - c0 < cc ? p->nin - c0 : cc, off, t0, t1, pack);
}

#define DW_STEP(load, q)                                                                              \
    {                                                                                                 \
        VEC u0, u1, u2, d;                                                                            \
        load(u0, x0 + (q));                                                                           \
        load(u1, x1 + (q));                                                                           \
        load(u2, x2 + (q));                                                                           \
        KEEP(u0);                                                                                     \
        KEEP(u1);                                                                                     \
        KEEP(u2);                                                                                     \
        DW_ROW(load, q, 0)                                                                            \
        DW_ROW(load, q, 1)                                                                            \
        DW_ROW(load, q, 2)                                                                            \
        DW_ROW(load, q, 3)                                                                            \
    }
#define DW_ROW(load, q, j)                                                                            \
    load(d, dq + j * dqstride + (q));                                                                 \
    KEEP(d);                                                                                          \
    MADD(a##j##0, d, u0);                                                                             \
    MADD(a##j##1, d, u1);                                                                             \
    MADD(a##j##2, d, u2);
#define DW_SUM(j)                                                                                     \
    HSUM_INTO(s[3 * j], a##j##0);                                                                     \
    HSUM_INTO(s[3 * j + 1], a##j##1);                                                                 \
    HSUM_INTO(s[3 * j + 2], a##j##2);

/* 4 planes x 3 inputs in 12 vector registers, summing over positions. */
static KTARGET void ISA(dw_tile)(const float *dq, long dqstride, const float *x0, const float *x1,
                                 const float *x2, long nv, long nimg, long istride, float *s)
{
    long n = nv * 8, nvec = n - n % VL;
    VEC a00 = {0}, a01 = {0}, a02 = {0}, a10 = {0}, a11 = {0}, a12 = {0};
    VEC a20 = {0}, a21 = {0}, a22 = {0}, a30 = {0}, a31 = {0}, a32 = {0};
    for (long im = 0; im < nimg; im++, dq += istride, x0 += istride, x1 += istride, x2 += istride) {
        for (long q = 0; q < nvec; q += VL)
            DW_STEP(LOADV, q)
#ifdef LOADV_TAIL
        if (nvec < n)
            DW_STEP(LOADV_TAIL, nvec)
#endif
    }
    DW_SUM(0)
    DW_SUM(1)
    DW_SUM(2)
    DW_SUM(3)
}

static KTARGET void ISA(matmul_tiles)(const float *x, long ld, long nk, const float *w, long wj, long wc, long nf,
                                      long f0, long f1, long t0, long t1, float *y)
{
    static const long zero[1] = {0};
    float pack[MATMUL_ROWS * CHUNK];
    long fend = f1 < nf ? f1 : nf;
    for (long k0 = 0; k0 < nk; k0 += MATMUL_ROWS) {
        long kc = nk - k0 < MATMUL_ROWS ? nk - k0 : MATMUL_ROWS;
        for (long t = t0, q; t < t1; t += q / CNN_TILE_Q) {
            q = t1 - t >= CHUNK / CNN_TILE_Q ? CHUNK : CNN_TILE_Q;
            for (long k = 0; k < kc; k++)
                memcpy(pack + k * q, x + (k0 + k) * ld + t * CNN_TILE_Q, sizeof(float) * (size_t)q);
            for (long f = f0; f < fend; f += NJ_RUN)
                RUN(q, pack, q, kc, zero, 1, w + f * wj + k0 * wc, wj, wc,
                    fend - f < NJ_RUN ? (int)(fend - f) : NJ_RUN, y + f * ld + t * CNN_TILE_Q, ld, k0 > 0);
        }
    }
}

/* Blocks of 63 rows x 1024 columns, so that a block of x stays in cache
 * while the filters run over it. */
static KTARGET void ISA(dw_cols)(const float *dq, const float *x, long ng, long nk, long nf, long f0, long f1,
                                 float *dw)
{
    for (long c0 = 0; c0 < ng; c0 += 1024) {
        long nv = (ng - c0 < 1024 ? ng - c0 : 1024) / 8;
        for (long k0 = 0; k0 < nk; k0 += 63)
            for (long f = f0; f < f1; f += 4)
                for (long k = k0; k < k0 + 63 && k < nk; k += 3) {
                    const long k1 = k + 1 < nk ? k + 1 : k, k2 = k + 2 < nk ? k + 2 : k1;
                    float s[12] = {0};
                    ISA(dw_tile)(dq + f * ng + c0, ng, x + k * ng + c0, x + k1 * ng + c0, x + k2 * ng + c0, nv, 1, 0,
                                 s);
                    for (long j = 0; j < 4 && f + j < nf; j++)
                        for (long u = 0; u < 3 && k + u < nk; u++)
                            dw[(f + j) * nk + k + u] += s[j * 3 + u];
                }
    }
}

#undef DW_STEP
#undef DW_ROW
#undef DW_SUM
