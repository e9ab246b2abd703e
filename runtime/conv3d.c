/* conv3d.c - 3-D convolution (PyTorch's Conv3d, NCDHW, no groups) on the
 * runtime's tuned kernels (kernels.c), for volumes (V-Net).
 *
 * A 3-D convolution is a sum over depth taps of 2-D convolutions.  When
 * the input's padded planes are stored depth-major, [Dp][C][HP*WP], the
 * KD*C planes that output depth `od` reads are consecutive (from plane
 * od*SD*C on), so one call of conv_tiles over KD*C "channels" computes the
 * whole output depth: the depth taps cost no extra pass over the output,
 * and the weights are merely repacked to [F][KD][C][KH*KW].  dL/dx (all
 * strides 1) is the same convolution over dL/dy padded by (K-1)*dil - pad,
 * with the weights flipped and filters and channels swapped.  dL/dW sums,
 * with dw_rows, the products of dL/dy's rows and the padded input's rows
 * at each tap's offset.  Geometries the tiles cannot take
 * (strides in H or W, depth dilation, kernels too wide to pack, planes so
 * small that padded rows waste the work) go through vol2col columns, a
 * few output depths side by side when planes are small, and matmul_tiles
 * / dw_cols; there dL/dW is mostly matmul_tiles' product of dL/dy and
 * the columns transposed (vol2row). */
#include <string.h>

#include "cnnrt.h"
#include "conv3d_layout.h"

#define QCHUNK 4096   /* dL/dW: positions summed per dw_rows call (L2) */
#define COLS_BLOCK 65536   /* dL/dx by columns: floats of columns per block (L2) */

/* The forward tiles read [F][KD][C][taps]; dL/dx's read [C][KD][F][taps]
 * with the depth taps and each plane's taps reversed. */
void cnn_conv3d_pack(const cnn_conv3d *g, const float *w, float *wpack)
{
    Layout L = layout_of(g);
    long kd = g->kd, c = g->c, f = g->f, t = L.taps;
    float *back = wpack + (g->direct ? L.k * f : 0);
    for (long fi = 0; fi < f; fi++)
        for (long ci = 0; ci < c; ci++)
            for (long z = 0; z < kd; z++) {
                const float *src = w + ((fi * c + ci) * kd + z) * t;
                if (g->direct)
                    memcpy(wpack + (fi * kd + z) * c * t + ci * t, src, sizeof(float) * (size_t)t);
                if (g->direct_dx)
                    for (long u = 0; u < t; u++)
                        back[((ci * kd + (kd - 1 - z)) * f + fi) * t + u] = src[t - 1 - u];
            }
}

/* Planes [t0, t1) of dst, [np][nch][hp][wp]: the volumes src[nch][d][h][w]
 * moved by (ad, ah, aw) >= 0, zeros around; the range ending at np also
 * zeroes the slack the tiles read past the last plane. */
typedef struct {
    long nch, d, h, w, ad, ah, aw, np, hp, wp, slack;
} Padding;

static void pad_planes(const Padding *p, const float *src, float *dst, long t0, long t1)
{
    long plane = p->hp * p->wp;
    for (long t = t0; t < t1; t++)
        for (long c = 0; c < p->nch; c++) {
            float *out = dst + (t * p->nch + c) * plane;
            long z = t - p->ad;
            memset(out, 0, sizeof(float) * (size_t)plane);
            if (z < 0 || z >= p->d)
                continue;
            for (long r = 0; r < p->h; r++)
                memcpy(out + (r + p->ah) * p->wp + p->aw, src + ((c * p->d + z) * p->h + r) * p->w,
                       sizeof(float) * (size_t)p->w);
        }
    if (t1 == p->np && p->slack)
        memset(dst + p->np * p->nch * plane, 0, sizeof(float) * (size_t)p->slack);
}

void cnn_conv3d_pad_input(const cnn_conv3d *g, const float *x, float *xpad, long p0, long p1)
{
    if (!g->direct)
        return;
    Layout L = layout_of(g);
    Padding p = {g->c, g->d, g->h, g->w, g->pd, g->ph, g->pw, L.dp, L.hp, L.wp, L.xslack};
    pad_planes(&p, x, xpad, p0, p1);
}

/* Output depth od of dL/dW's copy of dL/dy, [dwf][OD][OH][OW8]: its rows,
 * zeros past them (and the filters past F up to 4: dw_rows reads 4). */
static void dy_rows(const cnn_conv3d *g, const Layout *L, const float *dy, long od, float *rows)
{
    long plane = (long)g->oh * g->ow;
    for (long f = 0; f < L->dwf; f++) {
        float *dst = rows + (f * g->od + od) * L->nqw;
        memset(dst, 0, sizeof(float) * (size_t)L->nqw);
        for (long r = 0; f < g->f && r < g->oh; r++)
            memcpy(dst + r * L->ow8, dy + (f * g->od + od) * plane + r * g->ow, sizeof(float) * (size_t)g->ow);
    }
}

/* dyp: dL/dy padded for dL/dx (direct_dx), then dL/dW's copy (if any). */
void cnn_conv3d_pad_dy(const cnn_conv3d *g, const float *dy, float *dyp, long p0, long p1)
{
    if (!g->direct)
        return;
    Layout L = layout_of(g);
    float *rows = dyp;
    long shift = 0;
    if (g->direct_dx) {
        Padding p = {g->f, g->od, g->oh, g->ow, L.ad, L.ah, L.aw, L.dq, L.hq, L.wq, L.dslack};
        pad_planes(&p, dy, dyp, p0, p1);
        rows += L.dq * g->f * L.qplane + L.dslack;
        shift = L.ad;
    }
    for (long t = p0; L.dwf && t < p1; t++)
        if (t - shift >= 0 && t - shift < g->od)
            dy_rows(g, &L, dy, t - shift, rows);
}

/* ---- columns ---- */

/* The outputs ow in [*lo, *hi) whose input column ix = ow * sw + off
 * lies in [0, w). */
static void inside(long ow, long sw, long off, long w, long *lo, long *hi)
{
    *lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
    *hi = w - off <= 0 ? 0 : (w - off + sw - 1) / sw;
    if (*hi > ow)
        *hi = ow;
    if (*lo > *hi)
        *lo = *hi;
}

/* Output depth od's columns from column `at` of rows ng wide:
 * cols[(c, z, r, s)][at + oh * OW + ow] is the input its tap (z, r, s)
 * reads, 0 in the padding.  With back, the adjoint instead: each column
 * entry added to that input, for input depths [d0, d1) only.  Each output
 * row is cut where its taps leave the input, so the copies run without
 * tests. */
static void columns(const cnn_conv3d *g, const Layout *L, float *x, long od, float *cols, long at, int back, long d0,
                    long d1, long c0, long c1)
{
    long row = c0 * g->kd * L->taps;
    for (long c = c0; c < c1; c++)
        for (long z = 0; z < g->kd; z++)
            for (long t = 0; t < L->taps; t++, row++) {
                float *col = cols + row * L->ng + at;
                long iz = od * g->sd + z * g->dd - g->pd, lo, hi, off = t % g->kw * g->dw - g->pw;
                if (!back)
                    memset(col, 0, sizeof(float) * (size_t)g->oh * (size_t)g->ow);
                if (iz < d0 || iz >= d1)
                    continue;
                inside(g->ow, g->sw, off, g->w, &lo, &hi);
                float *plane = x + (c * g->d + iz) * g->h * g->w;
                for (long oh = 0; oh < g->oh; oh++) {
                    long iy = oh * g->sh + t / g->kw * g->dh - g->ph;
                    if (iy < 0 || iy >= g->h)
                        continue;
                    float *in = plane + iy * g->w, *out = col + oh * g->ow;
                    if (back)
                        for (long ow = lo; ow < hi; ow++)
                            in[ow * g->sw + off] += out[ow];
                    else
                        for (long ow = lo; ow < hi; ow++)
                            out[ow] = in[ow * g->sw + off];
                }
            }
}

/* The columns of output depths [od, od + nd) side by side, zeros after. */
static void vol2col(const cnn_conv3d *g, const Layout *L, const float *x, long od, long nd, float *cols)
{
    long used = nd * g->oh * g->ow;
    for (long j = 0; j < nd; j++)   /* x only read */
        columns(g, L, (float *)x, od + j, cols, j * g->oh * g->ow, 0, 0, g->d, 0, g->c);
    for (long row = 0; row < L->k; row++)
        memset(cols + row * L->ng + used, 0, sizeof(float) * (size_t)(L->ng - used));
}

/* Rows [first, first + n) of dq (ng apart) = dL/dy's planes at depths
 * [od, od + nd) of those filters side by side, zeros after. */
static void dy_columns(const cnn_conv3d *g, const Layout *L, const float *dy, long od, long nd, long first, long n,
                       float *dq)
{
    long plane = (long)g->oh * g->ow;
    for (long f = first; f < first + n; f++) {
        float *dst = dq + f * L->ng;
        memset(dst, 0, sizeof(float) * (size_t)L->ng);
        if (f < g->f)
            memcpy(dst, dy + (f * g->od + od) * plane, sizeof(float) * (size_t)(nd * plane));
    }
}

/* The depths in the group of columns from od on, of those below end. */
static long group(const Layout *L, long od, long end)
{
    return end - od < L->gd ? end - od : L->gd;
}

/* ---- forward ---- */

/* A direct pass of the tiles: the forward, or dL/dx (the same over dL/dy
 * padded, with the weights flipped).  Output rows (depth, row) of ow
 * positions are read from padded planes [depths][nchan][plane] (rows wp
 * wide), and go to out[nout][od][oh][ow]. */
typedef struct {
    const float *planes;
    long nchan, plane, wp, sd;   /* sd: the depth stride */
    long kd, kh, kw, dh, dw;     /* the kernel, its row and column dilation */
    long pad_d, pad_h, n_d, n_h; /* padding before the n_d depths, n_h rows of the input */
    const float *w;              /* [nout][kd][nchan][kh*kw], w_out apart */
    long w_out, nout;
    float *out;
    long od, oh, ow;
    const float *bias;           /* NULL: none */
    int add;                     /* out += the pass (no bias), else out = */
} Pass;

#define AT8_MOST 1024   /* groups of 8 positions per call of the tiles */

/* The taps [*t0, *t1) of k (dilation dil) that, from position `first` of
 * an axis padded by `pad` before its n, read input: the others read only
 * padding and are skipped (of a 5-tap axis with pad 2: 15% of the work
 * on 8 positions, 7.5% on 16, 30% on 4). */
static void live_taps(long first, long k, long dil, long pad, long n, long *t0, long *t1)
{
    long lo = pad - first, hi = n + pad - first;   /* the taps' t * dil in [lo, hi) */
    *t0 = lo > 0 ? (lo + dil - 1) / dil : 0;
    *t1 = hi > 0 ? (hi + dil - 1) / dil : 0;
    if (*t1 > k)
        *t1 = k;
    if (*t1 < *t0)
        *t1 = *t0;
}

/* The end of the run of positions from `first` (stride, up to end) whose
 * live taps on an axis (as live_taps) are the same, [*t0, *t1). */
static long taps_run(long first, long end, long stride, long k, long dil, long pad, long n, long *t0, long *t1)
{
    long e = first + 1, u0, u1;
    live_taps(first * stride, k, dil, pad, n, t0, t1);
    for (; e < end; e++) {
        live_taps(e * stride, k, dil, pad, n, &u0, &u1);
        if (u0 != *t0 || u1 != *t1)
            break;
    }
    return e;
}

/* The tiles over planes from depth plane `first`, depth taps [z0, z1),
 * kernel rows [r0, r1), for n24 positions (at8: NULL or their groups),
 * into rows; zeros when no tap reads input. */
static void run_tiles(const Pass *p, long first, long z0, long z1, long r0, long r1, const long *at8, long n24,
                      float *rows)
{
    long taps = p->kh * p->kw;
    cnn_tile_conv tc = {.in = p->planes + ((first + z0) * p->nchan) * p->plane + r0 * p->dh * p->wp,
                        .in_stride = p->plane, .nin = (z1 - z0) * p->nchan, .kh = r1 - r0, .kw = p->kw,
                        .row_step = p->dh * p->wp, .dw = p->dw, .flipped = 0,
                        .w = p->w + z0 * p->nchan * taps + r0 * p->kw, .w_out = p->w_out, .w_in = taps,
                        .nout = p->nout, .out = rows, .out_stride = n24, .at8 = at8};
    if (z0 == z1 || r0 == r1)
        memset(rows, 0, sizeof(float) * (size_t)(p->nout * n24));
    else
        cnn_kernels_best()->conv_tiles(&tc, 0, n24 / CNN_TILE_Q);
}

/* Output row `row` (of ow positions) of depth od from src, for every output. */
static void put_row(const Pass *p, long od, long row, const float *src, long stride)
{
    for (long f = 0; f < p->nout; f++) {
        float *dst = p->out + ((f * p->od + od) * p->oh + row) * p->ow;
        const float *s = src + f * stride;
        if (p->add)
            for (long o = 0; o < p->ow; o++)
                dst[o] += s[o];
        else
            cnn_kernels_best()->rows_out(s, p->ow, 1, p->ow, p->bias ? p->bias[f] : 0.0f, 0, dst);
    }
}

/* Depths [od0, od1), each in one call of the tiles over whole padded
 * rows (their padding columns computed and dropped). */
static void pass_by_depths(const Pass *p, long od0, long od1, long n24, float *rows)
{
    long z0, z1;
    for (long od = od0; od < od1; od++) {
        live_taps(od * p->sd, p->kd, 1, p->pad_d, p->n_d, &z0, &z1);
        run_tiles(p, od * p->sd, z0, z1, 0, p->kh, NULL, n24, rows);
        for (long r = 0; r < p->oh; r++)
            put_row(p, od, r, rows + r * p->wp, n24);
    }
}

/* Rows [i0, i0 + n) of the rectangle of depths from a, rows [e, e + nr)
 * that read depth taps [z0, z1) and kernel rows [r0, r1): their groups
 * of 8 (the tail of the last tile repeats the last group, its results
 * dropped), the tiles, the rows out. */
static void rows_piece(const Pass *p, long a, long e, long nr, long i0, long n, const long tap[4], float *rows)
{
    long at8[AT8_MOST], g8 = p->ow / 8, n24 = round_up(n * p->ow, CNN_TILE_Q);
    for (long i = 0; i < n; i++)
        for (long k = 0; k < g8; k++)
            at8[i * g8 + k] = (i0 + i) / nr * p->sd * p->nchan * p->plane + (e + (i0 + i) % nr) * p->wp + 8 * k;
    for (long g = n * g8; g < n24 / 8; g++)
        at8[g] = at8[n * g8 - 1];
    run_tiles(p, a * p->sd, tap[0], tap[1], tap[2], tap[3], at8, n24, rows);
    for (long i = 0; i < n; i++)
        put_row(p, a + (i0 + i) / nr, e + (i0 + i) % nr, rows + i * p->ow, n24);
}

/* Rows [e, f) of a run of dz depths, reading kernel rows [r0, r1). */
typedef struct {
    long e, f, r0, r1;
} RowRun;

/* What the tiles compute for a run: its positions, rounded up to whole
 * tiles, times its kernel rows. */
static long run_cost(const Pass *p, long dz, const RowRun *r)
{
    return round_up((r->f - r->e) * dz * p->ow, CNN_TILE_Q) * (r->r1 - r->r0);
}

/* The run of rows from e on that read the same kernel rows. */
static RowRun row_run(const Pass *p, long e)
{
    RowRun r = {e, 0, 0, 0};
    r.f = taps_run(e, p->oh, 1, p->kh, p->dh, p->pad_h, p->n_h, &r.r0, &r.r1);
    return r;
}

/* Depths [a, b) x the rows of run, reading depth taps [z0, z1), in
 * pieces of `per` rows. */
static void rows_rect(const Pass *p, long a, long b, long z0, long z1, const RowRun *run, long per, float *rows)
{
    long tap[4] = {z0, z1, run->r0, run->r1}, nr = run->f - run->e;
    for (long i0 = 0, all = (b - a) * nr; i0 < all; i0 += per)
        rows_piece(p, a, run->e, nr, i0, all - i0 < per ? all - i0 : per, tap, rows);
}

/* Depths [od0, od1) on rows of whole groups of 8: in rectangles of
 * depths x rows whose taps reading input are the same, except that rows
 * whose own rectangle would waste more on part-filled tiles than the
 * padding taps cost go with their neighbours (on 8x8 planes, all do),
 * each in pieces of at most cap positions. */
static void pass_by_rows(const Pass *p, long od0, long od1, long cap, float *rows)
{
    long z0, z1, per = cap / p->ow;
    for (long a = od0, b; a < od1; a = b) {
        b = taps_run(a, od1, p->sd, p->kd, 1, p->pad_d, p->n_d, &z0, &z1);
        RowRun run = row_run(p, 0);
        while (run.e < p->oh) {
            RowRun next = run.f < p->oh ? row_run(p, run.f) : (RowRun){p->oh, p->oh, 0, 0};
            if (next.e < p->oh) {
                RowRun both = {run.e, next.f, run.r0 < next.r0 ? run.r0 : next.r0,
                               run.r1 > next.r1 ? run.r1 : next.r1};
                if (run_cost(p, b - a, &both) <= run_cost(p, b - a, &run) + run_cost(p, b - a, &next)) {
                    run = both;
                    continue;
                }
            }
            rows_rect(p, a, b, z0, z1, &run, per, rows);
            run = next;
        }
    }
}

/* A pass over depths [od0, od1): rows of whole vectors by rectangles
 * (vec), else depth by depth; rows holds nout x n24 floats. */
static void direct_pass(const Pass *p, int vec, long od0, long od1, long n24, float *rows)
{
    if (vec)
        pass_by_rows(p, od0, od1, n24 < 8 * AT8_MOST - CNN_TILE_Q ? n24 : 8 * AT8_MOST - CNN_TILE_Q, rows);
    else
        pass_by_depths(p, od0, od1, n24, rows);
}

/* y = the convolution + b, or with add y += it (no bias): the latter is a
 * deconvolution's dL/dx (deconv3d.c), which adds into what dx holds. */
static void forward_direct(const cnn_conv3d *g, const float *xpad, const float *wpack, const float *b, float *y,
                           int od0, int od1, int add, float *rows)
{
    Layout L = layout_of(g);
    Pass p = {xpad, g->c, L.plane, L.wp, g->sd, g->kd, g->kh, g->kw, g->dh, g->dw, g->pd, g->ph, g->d, g->h,
              wpack, L.k, g->f, y, g->od, g->oh, g->ow, add ? NULL : b, add};
    direct_pass(&p, L.yvec, od0, od1, L.nq24, rows);
}

static void forward_cols(const cnn_conv3d *g, const float *x, const float *w, const float *b, float *y, int od0,
                         int od1, int add, float *task)
{
    const cnn_kernels *k = cnn_kernels_best();
    Layout L = layout_of(g);
    long plane = (long)g->oh * g->ow;
    float *cols = task, *yq = task + L.k * L.ng;
    for (long od = od0, nd; od < od1; od += nd) {
        nd = group(&L, od, od1);
        vol2col(g, &L, x, od, nd, cols);
        k->matmul_tiles(cols, L.ng, L.k, w, L.k, 1, g->f, 0, g->f, 0, L.ng / CNN_TILE_Q, yq);
        for (long f = 0; f < g->f; f++) {   /* the depths' planes follow each other in y and yq */
            float *dst = y + (f * g->od + od) * plane, bias = b ? b[f] : 0.0f;
            for (long q = 0; q < nd * plane; q++)
                dst[q] = yq[f * L.ng + q] + (add ? dst[q] : bias);
        }
    }
}

void cnn_conv3d_forward(const cnn_conv3d *g, const float *x, const float *xpad, const float *w,
                        const float *wpack, const float *b, float *y, int od0, int od1, float *task)
{
    if (g->direct)
        forward_direct(g, xpad, wpack, b, y, od0, od1, 0, task);
    else
        forward_cols(g, x, w, b, y, od0, od1, 0, task);
}

void cnn_conv3d_forward_add(const cnn_conv3d *g, const float *x, const float *xpad, const float *w,
                            const float *wpack, float *y, int od0, int od1, float *task)
{
    if (g->direct)
        forward_direct(g, xpad, wpack, NULL, y, od0, od1, 1, task);
    else
        forward_cols(g, x, w, NULL, y, od0, od1, 1, task);
}

/* ---- dL/dW ---- */

/* The positions of one dw_rows call: rows [r0, r0 + nr) of output depths
 * [od, od + nd). */
typedef struct {
    long od, nd, r0, nr;
} Block;

/* dw[f][u + i] += the sums of filters f in [fb, fe) (dw: F rows C *
 * pairs apart) and the k->dw_pairs pairs from u on (the last repeated
 * past the kernel's), over block b of dq and of the channel's input xc;
 * dq is the block of filter `first` and the kernel sums [first, first +
 * 4), which holds [fb, fe). */
static void pair_sums(const cnn_conv3d *g, const Layout *L, const cnn_kernels *k, const float *dq,
                      const float *xc, const Block *b, long u, long first, long fb, long fe, float *dw)
{
    long pairs = g->kd * L->taps, np = k->dw_pairs, z = u / L->taps, t = u % L->taps;
    const float *x[CNN_DW_PAIRS];
    float s[4 * CNN_DW_PAIRS] = {0};
    for (long i = 0; i < np; i++) {
        x[i] = xc + z * g->c * L->plane + t / g->kw * g->dh * L->wp + t % g->kw * g->dw;
        if (u + i + 1 < pairs && ++t == L->taps)
            t = 0, z++;
    }
    k->dw_rows(dq, g->od * L->nqw, x, L->wp, g->sd * g->c * L->plane, L->ow8 / 8, b->nr, b->nd, s);
    for (long f = fb; f < fe; f++)
        for (long i = 0; i < np && u + i < pairs; i++)
            dw[f * g->c * pairs + u + i] += s[(f - first) * np + i];
}

/* Filters [f0, f1), 4 at a time, against the kernel's dw_pairs (depth
 * tap, tap) pairs of one channel, over blocks of QCHUNK positions (rows
 * of a plane, or whole planes of a few depths) that stay in cache while
 * the channels and pairs go by.  Only the OH rows of OW outputs (rounded
 * up to 8) are summed, not the gaps between the padded rows.  Four
 * filters that would run past dq's last take the last 4 instead: a
 * filter's sums are the same bits in any of the kernel's 4 rows, so any
 * split of the filters gives the same results. */
static void weight_grads_direct(const cnn_conv3d *g, const float *xpad, const float *dy, const float *dyp,
                                float *dw, int f0, int f1)
{
    const cnn_kernels *k = cnn_kernels_best();
    Layout L = layout_of(g);
    long pairs = g->kd * L.taps, np = k->dw_pairs, nf = L.dwf ? L.dwf : g->f;
    long rc = max_of(1, QCHUNK / L.ow8), dc = rc < g->oh ? 1 : QCHUNK / L.nqw;
    const float *rows = L.dwf ? dyp + (g->direct_dx ? L.dq * g->f * L.qplane + L.dslack : 0) : dy;
    Block b;
    for (b.od = 0; b.od < g->od; b.od += b.nd)
        for (b.r0 = 0, b.nd = g->od - b.od < dc ? g->od - b.od : dc; b.r0 < g->oh; b.r0 += b.nr) {
            b.nr = g->oh - b.r0 < rc ? g->oh - b.r0 : rc;
            for (long fb = f0; fb < f1; fb += 4) {
                long first = fb + 4 <= nf ? fb : nf - 4, fe = fb + 4 < f1 ? fb + 4 : f1;
                const float *dq = rows + (first * g->od + b.od) * L.nqw + b.r0 * L.ow8;
                for (long c = 0; c < g->c; c++) {
                    const float *xc = xpad + (b.od * g->sd * g->c + c) * L.plane + b.r0 * L.wp;
                    for (long u = 0; u < pairs; u += np)
                        pair_sums(g, &L, k, dq, xc, &b, u, first, fb, fe, dw + c * pairs);
                }
            }
        }
}

/* dL/dW as matmul_tiles' product, the positions being the sum's index:
 * rows of at most KCHUNK columns (ten of the AVX-512 tiles' 48). */
#define KCHUNK 480

/* rows[q][k - k0] for the group's positions q (output depths [od, od +
 * nd)) and columns k in [k0, k0 + kc): the input that column k's tap
 * reads at q, 0 in the padding and past the L->k columns.  The taps of a
 * row of the kernel are consecutive columns: the tap (c, z, r, s) is
 * counted along, not divided out of k. */
static void vol2row(const cnn_conv3d *g, const Layout *L, const float *x, long od, long nd, long k0, long kc,
                    float *rows)
{
    long plane = (long)g->oh * g->ow, kend = k0 + kc < L->k ? k0 + kc : L->k;
    for (long q = 0; q < nd * plane; q++) {
        float *dst = rows + q * kc - k0;
        long iz0 = (od + q / plane) * g->sd - g->pd, iy0 = q % plane / g->ow * g->sh - g->ph;
        long ix0 = q % g->ow * g->sw - g->pw;
        long s = k0 % g->kw, r = k0 / g->kw % g->kh, z = k0 / L->taps % g->kd, c = k0 / L->taps / g->kd;
        for (long k = k0, n; k < kend; k += n, s = 0) {
            long iz = iz0 + z * g->dd, iy = iy0 + r * g->dh;
            n = g->kw - s < kend - k ? g->kw - s : kend - k;
            if (iz < 0 || iz >= g->d || iy < 0 || iy >= g->h)
                for (long j = 0; j < n; j++)
                    dst[k + j] = 0.0f;
            else {
                const float *in = x + ((c * g->d + iz) * g->h + iy) * g->w;
                for (long j = 0, ix = ix0 + s * g->dw; j < n; j++, ix += g->dw)
                    dst[k + j] = ix >= 0 && ix < g->w ? in[ix] : 0.0f;
            }
            if (++r == g->kh && (r = 0, ++z == g->kd))
                z = 0, c++;
        }
        memset(dst + kend, 0, sizeof(float) * (size_t)(k0 + kc - kend));
    }
}

/* The columns per row, a multiple of the tiles' width, so that the rows
 * [NG][kc] and dL/dW's products [F][kc] fit where the columns go; 0 for
 * dw_cols instead: when not even one tile's rows fit (kernels of a few
 * taps), or when a group has COLS_TARGET positions (dw_cols' sums are
 * then long enough) unless both the kernel (64 taps) and F (64) are
 * large enough to repay vol2row's short runs.  Measured on V-Net's
 * layers and 3x3x3 stride 2 on 32^3 and 16^3. */
static long row_columns(const cnn_conv3d *g, const Layout *L)
{
    long kc = L->k * L->ng / (L->ng + g->f) / CNN_TILE_Q * CNN_TILE_Q;
    if (L->gd * g->oh * g->ow >= COLS_TARGET && (g->kd * L->taps < 64 || g->f < 64))
        return 0;
    return kc < KCHUNK ? kc : KCHUNK;
}

/* dL/dW[f][k] of every filter for the columns k of blocks [b0, b1) of
 * kc: the rows of the group's positions times dL/dy's, by matmul_tiles,
 * added to dw.  Each sum runs over the positions in the same order
 * whatever the blocks.  Against dw_cols, the sums are over the positions
 * there are, not NG, and the kernel keeps more sums in registers.
 * Threads take blocks of columns, not filters: each builds only its own
 * columns' rows (those of all of them are megabytes per item). */
static void weight_grads_rows(const cnn_conv3d *g, const Layout *L, const float *x, const float *dy, float *dw,
                              long b0, long b1, long kc, float *task)
{
    const cnn_kernels *k = cnn_kernels_best();
    float *rows = task, *prod = task + L->ng * kc, *dq = task + L->k * L->ng;
    long plane = (long)g->oh * g->ow;
    for (long od = 0, nd; b0 < b1 && od < g->od; od += nd) {
        nd = group(L, od, g->od);
        dy_columns(g, L, dy, od, nd, 0, g->f, dq);
        for (long k0 = b0 * kc; k0 < L->k && k0 < b1 * kc; k0 += kc) {
            long used = L->k - k0 < kc ? L->k - k0 : kc;
            vol2row(g, L, x, od, nd, k0, kc, rows);
            k->matmul_tiles(rows, kc, nd * plane, dq, L->ng, 1, g->f, 0, g->f, 0, kc / CNN_TILE_Q, prod);
            for (long f = 0; f < g->f; f++)
                for (long j = 0; j < used; j++)
                    dw[f * L->k + k0 + j] += prod[f * kc + j];
        }
    }
}

/* dw_cols stores filters below its nf: f1 keeps it out of other ranges. */
static void weight_grads_cols(const cnn_conv3d *g, const float *x, const float *dy, float *dw, int f0, int f1,
                              float *task)
{
    const cnn_kernels *k = cnn_kernels_best();
    Layout L = layout_of(g);
    float *cols = task, *dq = task + L.k * L.ng;
    long kc = row_columns(g, &L);
    if (kc) {   /* the share [f0, f1) of F: the same share of the blocks */
        long blocks = (L.k + kc - 1) / kc;
        weight_grads_rows(g, &L, x, dy, dw, f0 * blocks / g->f, f1 * blocks / g->f, kc, task);
        return;
    }
    for (long od = 0, nd; od < g->od; od += nd) {
        nd = group(&L, od, g->od);
        vol2col(g, &L, x, od, nd, cols);
        dy_columns(g, &L, dy, od, nd, f0, f1 - f0 + 3, dq);
        k->dw_cols(dq, cols, L.ng, L.k, f1, f0, f1, dw);
    }
}

void cnn_conv3d_weight_grads(const cnn_conv3d *g, const float *x, const float *xpad, const float *dy,
                             const float *dyp, float *dw, float *db, int f0, int f1, float *task)
{
    if (f0 >= f1)
        return;
    if (g->direct)
        weight_grads_direct(g, xpad, dy, dyp, dw, f0, f1);
    else
        weight_grads_cols(g, x, dy, dw, f0, f1, task);
    long plane = (long)g->od * g->oh * g->ow;
    for (long f = f0; db && f < f1; f++)
        db[f] += (float)cnn_vol_sum(dy + f * plane, plane);
}

double cnn_vol_sum(const float *v, long n)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0, tail = 0;
    long q = 0;
    for (; q + 8 <= n; q += 8) {
        s0 += v[q], s1 += v[q + 1], s2 += v[q + 2], s3 += v[q + 3];
        s4 += v[q + 4], s5 += v[q + 5], s6 += v[q + 6], s7 += v[q + 7];
    }
    for (; q < n; q++)
        tail += v[q];
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)) + tail;
}

/* ---- dL/dx ---- */

/* Input depths [d0, d1) of channels [c0, c1): the forward's pass over
 * dL/dy padded by (K-1)*dil - pad, the weights flipped, F and C swapped. */
static void input_grads_direct(const cnn_conv3d *g, const float *dyp, const float *wpack, float *dx, int d0,
                               int d1, int c0, int c1, float *rows)
{
    Layout L = layout_of(g);
    long per_channel = (long)g->kd * g->f * L.taps;
    const float *back = wpack + (g->direct ? L.k * g->f : 0) + c0 * per_channel;
    Pass p = {dyp, g->f, L.qplane, L.wq, 1, g->kd, g->kh, g->kw, g->dh, g->dw, L.ad, L.ah, g->od, g->oh,
              back, per_channel, c1 - c0, dx + (long)c0 * g->d * g->h * g->w, g->d, g->h, g->w, NULL, 1};
    direct_pass(&p, L.xvec, d0, d1, L.nqx24, rows);
}

/* Every output depth whose taps reach [d0, d1): the columns W^T dL/dy
 * of channels [c0, c1), added back into those depths, a block of
 * channels at a time: the block's columns are still in cache when they
 * are added back (all of V-Net's 128 channels' columns take 4.6 MB).
 * Each dx entry gets its sums in the same order as without blocks. */
static void input_grads_cols(const cnn_conv3d *g, const float *dy, const float *w, float *dx, int d0, int d1,
                             int c0, int c1, float *task)
{
    const cnn_kernels *k = cnn_kernels_best();
    Layout L = layout_of(g);
    long per_channel = (long)g->kd * L.taps, block = max_of(1, COLS_BLOCK / (per_channel * L.ng));
    float *cols = task, *dq = task + L.k * L.ng;
    for (long od = 0, nd; od < g->od; od += nd) {
        nd = group(&L, od, g->od);
        long lo = od * g->sd - g->pd, hi = (od + nd - 1) * g->sd - g->pd + (g->kd - 1L) * g->dd;
        if (hi < d0 || lo >= d1)
            continue;
        dy_columns(g, &L, dy, od, nd, 0, g->f, dq);
        for (long cb = c0, ce; cb < c1; cb = ce) {
            ce = cb + block < c1 ? cb + block : c1;
            k->matmul_tiles(dq, L.ng, g->f, w, 1, L.k, L.k, cb * per_channel, ce * per_channel, 0,
                            L.ng / CNN_TILE_Q, cols);
            for (long j = 0; j < nd; j++)
                columns(g, &L, dx, od + j, cols, j * g->oh * g->ow, 1, d0, d1, cb, ce);
        }
    }
}

void cnn_conv3d_input_grads(const cnn_conv3d *g, const float *dy, const float *dyp, const float *w,
                            const float *wpack, float *dx, int d0, int d1, float *task)
{
    if (g->direct_dx)
        input_grads_direct(g, dyp, wpack, dx, d0, d1, 0, g->c, task);
    else
        input_grads_cols(g, dy, w, dx, d0, d1, 0, g->c, task);
}

/* Columns share the products of an output depth among the input depths
 * its taps reach: ranges of depths would each compute them again, ranges
 * of channels do not. */
void cnn_conv3d_input_grads_channels(const cnn_conv3d *g, const float *dy, const float *dyp, const float *w,
                                     const float *wpack, float *dx, int c0, int c1, float *task)
{
    if (c0 >= c1)
        return;
    if (g->direct_dx)
        input_grads_direct(g, dyp, wpack, dx, 0, g->d, c0, c1, task);
    else
        input_grads_cols(g, dy, w, dx, 0, g->d, c0, c1, task);
}
