/* kernels_impl.h - the kernels of cnn_kernels for one instruction set,
 * included by kernels.c once per set.  The includer defines ISA(name),
 * KTARGET, VEC, VL, LOADV, MADD, KEEP (as for kernels_tile.h), and:
 *
 *   CHUNK   positions the micro-kernels take at once: 24, or 48 (two
 *           tiles) when 3 vectors of 16 lanes fit them
 *   NJ_RUN  outputs they take at once
 *   RUN     run(q, chunk, <kernels_tile.h's arguments but v1, v2>) for q = 24
 *           or CHUNK positions, which lie in x as the Chunk says
 *   IMPL_TILES_ONLY (optional) leaves out all but conv_tiles and matmul_tiles */

/* One pass over channels [c0, c0 + nc), for each chunk of tiles and
 * every block of outputs.  With pack, the KH rows of each chunk are first
 * packed side by side, so that the micro-kernel's loads come from one
 * small block in L1 instead of rows a plane apart (row: the packed rows'
 * length); without, it reads the planes. */
static KTARGET void ISA(conv_pass)(const cnn_tile_conv *p, long c0, long nc, const long *off, long t0, long t1,
                                   float *pack, long row)
{
    long reach = (p->kw - 1) * p->dw, taps = p->kh * p->kw;
    for (long t = t0, q; t < t1; t += q / CNN_TILE_Q) {
        Chunk ch = {t * CNN_TILE_Q, p->at8};
        const float *x = p->in + c0 * p->in_stride + plane_at(&ch, 0);
        long xstride = p->in_stride;
        q = t1 - t >= CHUNK / CNN_TILE_Q ? CHUNK : CNN_TILE_Q;
        if (pack) {
            pack_rows(p, c0, nc, t * CNN_TILE_Q, q + reach, row, pack);
            x = pack;
            xstride = p->kh * row;
        }
        for (long f = 0; f < p->nout; f += NJ_RUN) {
            int nj = p->nout - f < NJ_RUN ? (int)(p->nout - f) : NJ_RUN;
            RUN(q, &ch, x, xstride, nc, off, taps, p->w + f * p->w_out + c0 * p->w_in, p->w_out, p->w_in, nj,
                p->out + f * p->out_stride + t * CNN_TILE_Q, p->out_stride, c0 > 0);
        }
    }
}

/* Packing pays when a chunk's KH rows, side by side, take less than half
 * the plane they span: planes much wider than a chunk.  (On a 56x56 plane
 * a 3x3 kernel's chunk of 48 spans 166 floats, packed 150: the copies
 * only cost.)  Either way, channels go in passes whose input fits L1. */
static KTARGET void ISA(conv_tiles)(const cnn_tile_conv *p, long t0, long t1)
{
    float pack[PACK_FLOATS];
    long off[CNN_TILE_PACK_MOST];
    long reach = (p->kw - 1) * p->dw, row = CHUNK + reach;
    long span = CHUNK + (p->kh - 1) * p->row_step + reach;
    int packed = !p->at8 && 2 * p->kh * row < span;
    long cc = channels_per_pass(p->nin, packed ? p->kh * row : span, packed ? PACK_FLOATS : DIRECT_FLOATS);
    tap_offsets(p, packed ? row : 0, off);
    for (long c0 = 0; c0 < p->nin; c0 += cc)
        ISA(conv_pass)(p, c0, p->nin - c0 < cc ? p->nin - c0 : cc, off, t0, t1, packed ? pack : NULL, row);
}

#ifndef IMPL_TILES_ONLY
#define DW_STEP(q)                                                                                    \
    {                                                                                                 \
        VEC u0, u1, u2, d;                                                                            \
        LOADV(u0, x0 + (q));                                                                          \
        LOADV(u1, x1 + (q));                                                                          \
        LOADV(u2, x2 + (q));                                                                          \
        KEEP(u0);                                                                                     \
        KEEP(u1);                                                                                     \
        KEEP(u2);                                                                                     \
        DW_ROW(q, 0)                                                                                  \
        DW_ROW(q, 1)                                                                                  \
        DW_ROW(q, 2)                                                                                  \
        DW_ROW(q, 3)                                                                                  \
    }
#define DW_ROW(q, j)                                                                                  \
    LOADV(d, dq + j * dqstride + (q));                                                                \
    KEEP(d);                                                                                          \
    MADD(a##j##0, d, u0);                                                                             \
    MADD(a##j##1, d, u1);                                                                             \
    MADD(a##j##2, d, u2);
#define DW_SUM(j)                                                                                     \
    HSUM_INTO(s[3 * j], a##j##0);                                                                     \
    HSUM_INTO(s[3 * j + 1], a##j##1);                                                                 \
    HSUM_INTO(s[3 * j + 2], a##j##2);

/* 4 planes x 3 inputs in 12 vector registers, summing over positions
 * (nv * 8 of them: VL must divide 8). */
static KTARGET void ISA(dw_tile)(const float *dq, long dqstride, const float *x0, const float *x1,
                                 const float *x2, long nv, long nimg, long istride, float *s)
{
    VEC a00 = {0}, a01 = {0}, a02 = {0}, a10 = {0}, a11 = {0}, a12 = {0};
    VEC a20 = {0}, a21 = {0}, a22 = {0}, a30 = {0}, a31 = {0}, a32 = {0};
    for (long im = 0; im < nimg; im++, dq += istride, x0 += istride, x1 += istride, x2 += istride) {
        for (long q = 0; q < nv * 8; q += VL)
            DW_STEP(q)
    }
    DW_SUM(0)
    DW_SUM(1)
    DW_SUM(2)
    DW_SUM(3)
}
#endif

static KTARGET void ISA(matmul_tiles)(const float *x, long ld, long nk, const float *w, long wj, long wc, long nf,
                                      long f0, long f1, long t0, long t1, float *y)
{
    static const long zero[1] = {0};
    static const Chunk packed = {0, NULL};
    float pack[MATMUL_ROWS * CHUNK];
    long fend = f1 < nf ? f1 : nf;
    for (long k0 = 0; k0 < nk; k0 += MATMUL_ROWS) {
        long kc = nk - k0 < MATMUL_ROWS ? nk - k0 : MATMUL_ROWS;
        for (long t = t0, q; t < t1; t += q / CNN_TILE_Q) {
            q = t1 - t >= CHUNK / CNN_TILE_Q ? CHUNK : CNN_TILE_Q;
            for (long k = 0; k < kc; k++)
                memcpy(pack + k * q, x + (k0 + k) * ld + t * CNN_TILE_Q, sizeof(float) * (size_t)q);
            for (long f = f0; f < fend; f += NJ_RUN)
                RUN(q, &packed, pack, q, kc, zero, 1, w + f * wj + k0 * wc, wj, wc,
                    fend - f < NJ_RUN ? (int)(fend - f) : NJ_RUN, y + f * ld + t * CNN_TILE_Q, ld, k0 > 0);
        }
    }
}

#ifndef IMPL_TILES_ONLY
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
#endif

#undef DW_STEP
#undef DW_ROW
#undef DW_SUM

#ifndef IMPL_TILES_ONLY
/* ---- output rows ---- */

#define ROWS_LOOP(step)                                                                               \
    for (; o + VL <= ow; o += VL) {                                                                   \
        VEC v;                                                                                        \
        LOADV(v, rows + o);                                                                           \
        v += b;                                                                                       \
        step;                                                                                         \
        STOREV(y + o, v);                                                                             \
    }

static KTARGET void ISA(rows_out)(const float *rows, long width, long oh, long ow, float bias, int relu, float *y)
{
    VEC b = BCASTV(bias);
    for (long r = 0; r < oh; r++, rows += width, y += ow) {
        long o = 0;
        if (relu)
            ROWS_LOOP(v = RELUV(v))
        else
            ROWS_LOOP((void)0)
        for (; o < ow; o++) {
            float v = rows[o] + bias;
            y[o] = relu && !(v > 0.0f) ? 0.0f : v;
        }
    }
}

#undef ROWS_LOOP

/* ---- fully connected ---- */

#define FC_ROW(j)                                                                                     \
    LOADV(v, w##j + k);                                                                               \
    MADD(a##j##0, v, u0);                                                                             \
    MADD(a##j##1, v, u1);
#define FC_SUM(j)                                                                                     \
    HSUM_INTO(s[2 * j], a##j##0);                                                                     \
    HSUM_INTO(s[2 * j + 1], a##j##1);                                                                 \
    for (long r = k; r < nin; r++) {                                                                  \
        s[2 * j] += w##j[r] * x0[r];                                                                  \
        s[2 * j + 1] += w##j[r] * x1[r];                                                              \
    }

/* s[2 * j + i] = the dot products of no <= 4 weight rows j and ni <= 2
 * images i (missing ones repeat the first): 6 loads for 8 multiply-adds. */
static KTARGET void ISA(fc_block)(const float *x, long nin, const float *w, int no, int ni, float *s)
{
    const float *w0 = w, *w1 = no > 1 ? w + nin : w, *w2 = no > 2 ? w + 2 * nin : w;
    const float *w3 = no > 3 ? w + 3 * nin : w, *x0 = x, *x1 = ni > 1 ? x + nin : x;
    VEC a00 = {0}, a01 = {0}, a10 = {0}, a11 = {0}, a20 = {0}, a21 = {0}, a30 = {0}, a31 = {0};
    long k = 0;
    for (; k + VL <= nin; k += VL) {
        VEC u0, u1, v;
        LOADV(u0, x0 + k);
        LOADV(u1, x1 + k);
        KEEP(u0);
        KEEP(u1);
        FC_ROW(0)
        FC_ROW(1)
        FC_ROW(2)
        FC_ROW(3)
    }
    FC_SUM(0)
    FC_SUM(1)
    FC_SUM(2)
    FC_SUM(3)
}

static KTARGET void ISA(fc_forward)(const float *x, long nin, const float *w, const float *b, long nout, long o0,
                                    long o1, long n, float *y)
{
    for (long o = o0; o < o1; o += 4) {
        int no = o1 - o < 4 ? (int)(o1 - o) : 4;
        for (long i = 0; i < n; i += 2) {
            int ni = n - i < 2 ? (int)(n - i) : 2;
            float s[8] = {0};
            ISA(fc_block)(x + i * nin, nin, w + o * nin, no, ni, s);
            for (int j = 0; j < no; j++)
                for (int u = 0; u < ni; u++)
                    y[(i + u) * nout + o + j] = (b ? b[o + j] : 0.0f) + s[2 * j + u];
        }
    }
}

/* Rows o0..o0+3 (those < o1) of dL/dW, VL columns at a time in registers
 * while the images go by. */
static KTARGET void ISA(fc_weight_grads)(const float *x, long nin, const float *dy, long nout, long o0, long o1,
                                         long n, float *dw, float *db)
{
    for (long o = o0; o < o1; o += 4) {
        int no = o1 - o < 4 ? (int)(o1 - o) : 4;
        long k = 0;
        for (; k + VL <= nin; k += VL) {
            VEC a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, u, o_;
            for (long i = 0; i < n; i++) {
                const float *g = dy + i * nout + o;
                LOADV(u, x + i * nin + k);
                KEEP(u);
                MADD(a0, BCASTV(g[0]), u);
                MADD(a1, BCASTV(no > 1 ? g[1] : 0.0f), u);
                MADD(a2, BCASTV(no > 2 ? g[2] : 0.0f), u);
                MADD(a3, BCASTV(no > 3 ? g[3] : 0.0f), u);
            }
#define FC_ADD_ROW(j, a)                                                                              \
    if (j < no) {                                                                                     \
        float *d = dw + (o + j) * nin + k;                                                            \
        LOADV(o_, d);                                                                                 \
        o_ += a;                                                                                      \
        STOREV(d, o_);                                                                                \
    }
            FC_ADD_ROW(0, a0)
            FC_ADD_ROW(1, a1)
            FC_ADD_ROW(2, a2)
            FC_ADD_ROW(3, a3)
#undef FC_ADD_ROW
        }
        for (int j = 0; j < no; j++) {
            float sum = 0.0f;
            for (long i = 0; i < n; i++) {
                float g = dy[i * nout + o + j];
                for (long r = k; r < nin; r++)
                    dw[(o + j) * nin + r] += g * x[i * nin + r];
                sum += g;
            }
            if (db)
                db[o + j] += sum;
        }
    }
}

/* 4 vectors of dL/dx in registers while the outputs go by. */
static KTARGET void ISA(fc_input_grads)(const float *dy, long nout, const float *w, long nin, long i0, long i1,
                                        float *dx)
{
    for (long i = i0; i < i1; i++) {
        const float *g = dy + i * nout;
        float *d = dx + i * nin;
        long k = 0;
        for (; k + 4 * VL <= nin; k += 4 * VL) {
            VEC a0, a1, a2, a3, v;
            LOADV(a0, d + k);
            LOADV(a1, d + k + VL);
            LOADV(a2, d + k + 2 * VL);
            LOADV(a3, d + k + 3 * VL);
            for (long o = 0; o < nout; o++) {
                VEC gv = BCASTV(g[o]);
                const float *wo = w + o * nin + k;
                LOADV(v, wo);
                MADD(a0, gv, v);
                LOADV(v, wo + VL);
                MADD(a1, gv, v);
                LOADV(v, wo + 2 * VL);
                MADD(a2, gv, v);
                LOADV(v, wo + 3 * VL);
                MADD(a3, gv, v);
            }
            STOREV(d + k, a0);
            STOREV(d + k + VL, a1);
            STOREV(d + k + 2 * VL, a2);
            STOREV(d + k + 3 * VL, a3);
        }
        for (; k < nin; k++) {
            float sum = d[k];
            for (long o = 0; o < nout; o++)
                sum += g[o] * w[o * nin + k];
            d[k] = sum;
        }
    }
}

#undef FC_ROW
#undef FC_SUM
#endif
