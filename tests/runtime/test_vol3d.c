/* test_vol3d.c - the runtime's 3-D pooling, transposed convolution and
 * nearest upsampling (runtime/vol3d.c) on small random cases: against
 * sums in double computed here by the definitions, against central
 * differences of their own forward, and with every range split in
 * uneven pieces called out of order, as a thread team would.
 *
 * Usage: test_vol3d [DIR]  with DIR, each case's inputs and results go to
 * DIR/caseN.bin for tests/runtime/vol3d_ref.py to check against PyTorch.
 * Exit status 1 when a check fails. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrt.h"

enum { MAX, AVG, AVGPAD, DECONV, UPSAMPLE };

/* Pools: k, s, p per axis, ceil: PyTorch's ceil_mode, more: padding after
 * beyond p (not PyTorch's: checked here only).  Deconvolutions: k, s, p,
 * dil.  Upsampling: k. */
typedef struct {
    int kind, n, c, d, h, w, f, k[3], s[3], p[3], dil[3], ceil, more[3];
} Case;
#define HEAD 23   /* ints in Case, as saved */

static const Case cases[] = {
    /* kind    n  c  d  h  w  f  k          s          p          dil        ceil more */
    {MAX,      2, 3, 4, 6, 6, 0, {2, 2, 2}, {2, 2, 2}, {0, 0, 0}, {1, 1, 1}, 0, {0, 0, 0}},
    {MAX,      1, 4, 5, 7, 9, 0, {3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {1, 1, 1}, 0, {0, 0, 0}},
    {MAX,      2, 3, 6, 8, 10, 0, {3, 3, 2}, {2, 2, 3}, {0, 1, 0}, {1, 1, 1}, 1, {0, 0, 0}},
    {MAX,      1, 2, 5, 6, 7, 0, {2, 3, 3}, {2, 2, 1}, {0, 1, 0}, {1, 1, 1}, 1, {0, 0, 0}},
    {MAX,      2, 5, 3, 4, 5, 0, {3, 4, 5}, {1, 1, 1}, {0, 0, 0}, {1, 1, 1}, 0, {0, 0, 0}},   /* global */
    {MAX,      1, 3, 4, 5, 5, 0, {2, 2, 2}, {2, 2, 2}, {0, 0, 0}, {1, 1, 1}, 0, {1, 1, 0}},   /* pad same */
    {AVG,      2, 3, 4, 6, 6, 0, {2, 2, 2}, {2, 2, 2}, {0, 0, 0}, {1, 1, 1}, 0, {0, 0, 0}},
    {AVG,      1, 4, 5, 7, 9, 0, {3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {1, 1, 1}, 0, {0, 0, 0}},
    {AVG,      2, 3, 6, 8, 10, 0, {3, 3, 2}, {2, 2, 3}, {0, 1, 0}, {1, 1, 1}, 1, {0, 0, 0}},
    {AVG,      1, 2, 5, 6, 7, 0, {2, 3, 3}, {2, 2, 1}, {0, 1, 0}, {1, 1, 1}, 1, {0, 0, 0}},
    {AVG,      2, 5, 3, 4, 5, 0, {3, 4, 5}, {1, 1, 1}, {0, 0, 0}, {1, 1, 1}, 0, {0, 0, 0}},   /* global */
    {AVGPAD,   1, 4, 5, 7, 9, 0, {3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {1, 1, 1}, 0, {0, 0, 0}},
    {AVGPAD,   2, 3, 6, 8, 10, 0, {3, 3, 2}, {2, 2, 3}, {0, 1, 0}, {1, 1, 1}, 1, {0, 0, 0}},
    {AVGPAD,   1, 2, 5, 6, 7, 0, {2, 3, 3}, {2, 2, 1}, {0, 1, 0}, {1, 1, 1}, 1, {0, 0, 0}},
    {AVGPAD,   1, 3, 6, 9, 7, 0, {3, 5, 3}, {3, 2, 2}, {1, 2, 1}, {1, 1, 1}, 1, {0, 0, 0}},
    {AVGPAD,   1, 3, 4, 5, 5, 0, {2, 2, 2}, {1, 1, 1}, {0, 0, 0}, {1, 1, 1}, 0, {1, 1, 1}},   /* pad same */
    {DECONV,   2, 3, 3, 4, 5, 4, {2, 2, 2}, {2, 2, 2}, {0, 0, 0}, {1, 1, 1}, 0, {0, 0, 0}},   /* V-Net's up */
    {DECONV,   1, 4, 4, 5, 6, 3, {3, 3, 3}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, 0, {0, 0, 0}},
    {DECONV,   1, 2, 3, 4, 4, 5, {3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {1, 1, 1}, 0, {0, 0, 0}},
    {DECONV,   1, 3, 3, 5, 4, 2, {2, 3, 4}, {1, 2, 3}, {0, 1, 1}, {1, 1, 1}, 0, {0, 0, 0}},
    {DECONV,   1, 2, 4, 4, 5, 3, {3, 2, 3}, {1, 1, 1}, {1, 0, 2}, {2, 1, 2}, 0, {0, 0, 0}},   /* dilation */
    {DECONV,   1, 5, 3, 7, 9, 7, {5, 5, 5}, {1, 1, 1}, {2, 2, 2}, {1, 1, 1}, 0, {0, 0, 0}},
    {DECONV,   2, 16, 2, 3, 3, 9, {1, 1, 1}, {1, 1, 1}, {0, 0, 0}, {1, 1, 1}, 0, {0, 0, 0}},
    {UPSAMPLE, 2, 3, 3, 4, 5, 0, {2, 2, 2}, {0, 0, 0}, {0, 0, 0}, {1, 1, 1}, 0, {0, 0, 0}},
    {UPSAMPLE, 1, 2, 2, 3, 3, 0, {1, 3, 2}, {0, 0, 0}, {0, 0, 0}, {1, 1, 1}, 0, {0, 0, 0}},
};

static int failures;

static float *floats(long n)
{
    float *p = calloc((size_t)(n > 0 ? n : 1), sizeof(float));
    if (!p) {
        fprintf(stderr, "test_vol3d: out of memory\n");
        exit(2);
    }
    return p;
}

static float *random_floats(long n, unsigned *seed)
{
    float *p = floats(n);
    for (long i = 0; i < n; i++) {
        *seed = *seed * 1103515245u + 12345u;
        p[i] = (float)((*seed >> 8) % 2001) / 1000.0f - 1.0f;
    }
    return p;
}

/* Distinct multiples of 2^-12 in [-1, 1) for max pools, so that moving
 * one by 2^-14 changes no window's winner (and is exact). */
static float *distinct_floats(long n, unsigned seed)
{
    float *p = floats(n);
    for (long i = 0; i < n; i++)
        p[i] = (float)((i * 2654435761u + seed) % 8192 - 4096) / 4096.0f;
    return p;
}

static void expect(const char *what, int k, long i, float got, double want, double scale)
{
    if (fabs((double)got - want) <= 1e-5 * scale + 1e-5)
        return;
    if (failures++ < 20)
        fprintf(stderr, "test_vol3d: case %d %s[%ld] = %.7g, want %.7g\n", k, what, i, got, want);
}

/* Everything one case computes, for n items. */
typedef struct {
    const Case *c;
    cnn_pool3d pool;
    cnn_deconv3d dc;
    long in, out, wn, nb;           /* floats per item in and out, weights, biases */
    float *x, *w, *b, *dy;          /* inputs */
    float *y, *dx, *dw, *db;        /* results */
} Run;

/* ---- the definitions, in double ---- */

/* want[0..out) = y, then dx, dw, db; each followed by its magnitude. */
typedef struct {
    double *y, *ys, *dx, *dxs, *dw, *dws, *db;
} Want;

/* PyTorch's ceil_mode: the positions past the padding that the last
 * window reaches. */
static int ceil_extra(int n, int k, int s, int p)
{
    int out = (n + 2 * p - k + s - 1) / s + 1;
    if ((out - 1) * s >= n + p)
        out--;
    int extra = (out - 1) * s + k - (n + 2 * p);
    return extra > 0 ? extra : 0;
}

static cnn_pool3d pool_geometry(const Case *k)
{
    cnn_pool3d g;
    int size[3] = {k->d, k->h, k->w};
    memset(&g, 0, sizeof g);
    g.c = k->c;
    for (int a = 0; a < 3; a++) {
        g.size[a] = size[a], g.k[a] = k->k[a], g.s[a] = k->s[a], g.pad[a] = k->p[a];
        g.pad_end[a] = k->p[a] + k->more[a];
        g.extra[a] = k->ceil ? ceil_extra(size[a], k->k[a], k->s[a], k->p[a]) : 0;
    }
    g.count_pad = k->kind == AVGPAD;
    if (cnn_pool3d_init(&g)) {
        fprintf(stderr, "test_vol3d: cnn_pool3d_init refused a valid geometry\n");
        exit(1);
    }
    return g;
}

/* Output o's window along an axis: the input positions [lo, hi) it
 * reads and how many it counts with count_pad, by walking it. */
static void window(const cnn_pool3d *g, int a, long o, long *lo, long *hi, long *counted)
{
    *lo = -1, *hi = -1, *counted = 0;
    for (long t = 0; t < g->k[a]; t++) {
        long at = o * g->s[a] - g->pad[a] + t;
        if (at >= 0 && at < g->size[a]) {
            if (*lo < 0)
                *lo = at;
            *hi = at + 1;
        }
        *counted += at < (long)g->size[a] + g->pad_end[a];
    }
}

static void pool_want(const Run *u, Want *v)
{
    const cnn_pool3d *g = &u->pool;
    long planes = (long)u->c->n * g->c, q = 0;
    for (long p = 0; p < planes; p++)
        for (long oz = 0; oz < g->out[0]; oz++)
            for (long oy = 0; oy < g->out[1]; oy++)
                for (long ox = 0; ox < g->out[2]; ox++, q++) {
                    long lo[3], hi[3], cnt[3], o[3] = {oz, oy, ox}, best = -1, inside = 0;
                    double sum = 0, mag = 0;
                    for (int a = 0; a < 3; a++)
                        window(g, a, o[a], &lo[a], &hi[a], &cnt[a]);
                    for (long z = lo[0]; z < hi[0]; z++)
                        for (long r = lo[1]; r < hi[1]; r++)
                            for (long s = lo[2]; s < hi[2]; s++, inside++) {
                                long i = p * g->in_plane + (z * g->size[1] + r) * g->size[2] + s;
                                if (best < 0 || u->x[i] > u->x[best])
                                    best = i;
                                sum += u->x[i], mag += fabs(u->x[i]);
                            }
                    double div = g->count_pad ? (double)cnt[0] * cnt[1] * cnt[2] : (double)inside;
                    if (u->c->kind == MAX) {
                        v->y[q] = u->x[best], v->ys[q] = 1;
                        v->dx[best] += u->dy[q], v->dxs[best] += fabs(u->dy[q]);
                        continue;
                    }
                    v->y[q] = sum / div, v->ys[q] = mag / div;
                    for (long z = lo[0]; z < hi[0]; z++)
                        for (long r = lo[1]; r < hi[1]; r++)
                            for (long s = lo[2]; s < hi[2]; s++) {
                                long i = p * g->in_plane + (z * g->size[1] + r) * g->size[2] + s;
                                v->dx[i] += u->dy[q] / div, v->dxs[i] += fabs(u->dy[q]) / div;
                            }
                }
}

static cnn_deconv3d deconv_geometry(const Case *k)
{
    cnn_deconv3d g;
    memset(&g, 0, sizeof g);
    g.c = k->c, g.d = k->d, g.h = k->h, g.w = k->w, g.f = k->f;
    g.kd = k->k[0], g.kh = k->k[1], g.kw = k->k[2], g.sd = k->s[0], g.sh = k->s[1], g.sw = k->s[2];
    g.pd = k->p[0], g.ph = k->p[1], g.pw = k->p[2], g.dd = k->dil[0], g.dh = k->dil[1], g.dw = k->dil[2];
    if (cnn_deconv3d_init(&g)) {
        fprintf(stderr, "test_vol3d: cnn_deconv3d_init refused a valid geometry\n");
        exit(1);
    }
    return g;
}

/* Every product term x[xi] * w[wi] that reaches y[yi]: each input
 * position scattered through the kernel. */
static void deconv_want(const Run *u, Want *v)
{
    const cnn_deconv3d *g = &u->dc;
    long ins = (long)g->d * g->h * g->w, outs = (long)g->od * g->oh * g->ow, taps = (long)g->kd * g->kh * g->kw;
    for (long i = 0; i < u->c->n; i++)
        for (long f = 0; f < g->f; f++)
            for (long q = 0; q < outs; q++)
                v->y[i * u->out + f * outs + q] = u->b[f], v->ys[i * u->out + f * outs + q] = fabs(u->b[f]);
    for (long i = 0; i < u->c->n; i++)
        for (long c = 0; c < g->c; c++)
            for (long f = 0; f < g->f; f++)
                for (long q = 0; q < ins; q++)
                    for (long t = 0; t < taps; t++) {
                        long z = q / (g->h * g->w), r = q / g->w % g->h, s = q % g->w;
                        long oz = z * g->sd - g->pd + t / (g->kh * g->kw) * g->dd;
                        long oy = r * g->sh - g->ph + t / g->kw % g->kh * g->dh;
                        long ox = s * g->sw - g->pw + t % g->kw * g->dw;
                        if (oz < 0 || oz >= g->od || oy < 0 || oy >= g->oh || ox < 0 || ox >= g->ow)
                            continue;
                        long xi = i * u->in + c * ins + q, wi = (c * g->f + f) * taps + t;
                        long yi = i * u->out + f * outs + (oz * g->oh + oy) * g->ow + ox;
                        v->y[yi] += (double)u->x[xi] * u->w[wi], v->ys[yi] += fabs((double)u->x[xi] * u->w[wi]);
                        v->dx[xi] += (double)u->dy[yi] * u->w[wi], v->dxs[xi] += fabs((double)u->dy[yi] * u->w[wi]);
                        v->dw[wi] += (double)u->dy[yi] * u->x[xi], v->dws[wi] += fabs((double)u->dy[yi] * u->x[xi]);
                    }
    for (long i = 0; i < u->c->n; i++)
        for (long f = 0; f < g->f; f++)
            for (long q = 0; q < outs; q++)
                v->db[f] += u->dy[i * u->out + f * outs + q];
}

static void upsample_want(const Run *u, Want *v)
{
    const Case *k = u->c;
    long od = (long)k->d * k->k[0], oh = (long)k->h * k->k[1], ow = (long)k->w * k->k[2];
    for (long p = 0; p < (long)k->n * k->c; p++)
        for (long z = 0; z < od; z++)
            for (long r = 0; r < oh; r++)
                for (long s = 0; s < ow; s++) {
                    long yi = ((p * od + z) * oh + r) * ow + s;
                    long xi = ((p * k->d + z / k->k[0]) * k->h + r / k->k[1]) * k->w + s / k->k[2];
                    v->y[yi] = u->x[xi], v->ys[yi] = 1;
                    v->dx[xi] += u->dy[yi], v->dxs[xi] += fabs(u->dy[yi]);
                }
}

/* ---- the runtime, ranges split ---- */

/* [0, n) in three uneven pieces, the last first: cuts[0..3]. */
static void pieces(long n, long cut[4])
{
    cut[0] = 0, cut[1] = n / 3, cut[2] = n - n / 4, cut[3] = n;
}

static const int order[3] = {2, 0, 1};

static void forward(Run *u, const float *x, const float *w)
{
    const Case *k = u->c;
    long planes = (long)k->n * k->c, cut[4];
    pieces(planes, cut);
    if (k->kind == DECONV) {
        const cnn_deconv3d *g = &u->dc;
        float *xp = floats(g->xp_floats), *wpack = floats(g->wpack_floats), *task = floats(g->task_floats);
        cnn_deconv3d_pack(g, w, wpack);
        for (int i = 0; i < k->n; i++) {
            long pc[4], dc[4];
            pieces(g->x_planes, pc);
            pieces(g->od, dc);
            for (int j = 0; j < 3; j++)
                cnn_deconv3d_pad_x(g, x + i * u->in, xp, pc[order[j]], pc[order[j] + 1]);
            for (int j = 0; j < 3; j++)
                cnn_deconv3d_forward(g, x + i * u->in, xp, w, wpack, u->b, u->y + i * u->out, (int)dc[order[j]],
                                     (int)dc[order[j] + 1], task);
        }
        free(xp), free(wpack), free(task);
        return;
    }
    int size[3] = {k->d, k->h, k->w};
    for (int j = 0; j < 3; j++) {
        long p0 = cut[order[j]], p1 = cut[order[j] + 1];
        if (k->kind == MAX)
            cnn_pool3d_max_forward(&u->pool, x, p0, p1, u->y, NULL);
        else if (k->kind == UPSAMPLE)
            cnn_upsample3d_forward(x, size, k->k, p0, p1, u->y);
        else
            cnn_pool3d_avg_forward(&u->pool, x, p0, p1, u->y);
    }
}

static void deconv_backward(Run *u)
{
    const cnn_deconv3d *g = &u->dc;
    float *xp = floats(g->xp_floats), *dyp = floats(g->dyp_floats), *wpack = floats(g->wpack_floats);
    float *task = floats(g->task_floats);
    cnn_deconv3d_pack(g, u->w, wpack);
    for (int i = 0; i < u->c->n; i++) {
        const float *x = u->x + i * u->in, *dy = u->dy + i * u->out;
        long pc[4], qc[4], dc[4], cc[4], fc[4];
        pieces(g->x_planes, pc), pieces(g->dy_planes, qc), pieces(g->d, dc), pieces(g->c, cc), pieces(g->f, fc);
        for (int j = 0; j < 3; j++) {
            int a = order[j];
            cnn_deconv3d_pad_x(g, x, xp, pc[a], pc[a + 1]);
            cnn_deconv3d_pad_dy(g, dy, dyp, qc[a], qc[a + 1]);
        }
        for (int j = 0; j < 3; j++) {
            int a = order[j];
            cnn_deconv3d_input_grads(g, dy, dyp, u->w, wpack, u->dx + i * u->in, (int)dc[a], (int)dc[a + 1], task);
            cnn_deconv3d_weight_grads(g, x, xp, dy, dyp, u->dw, (int)cc[a], (int)cc[a + 1], task);
            cnn_deconv3d_bias_grads(g, dy, u->db, (int)fc[a], (int)fc[a + 1]);
        }
    }
    free(xp), free(dyp), free(wpack), free(task);
}

static void backward(Run *u)
{
    const Case *k = u->c;
    long planes = (long)k->n * k->c, cut[4];
    int size[3] = {k->d, k->h, k->w};
    int *arg = NULL;
    if (k->kind == DECONV) {
        deconv_backward(u);
        return;
    }
    if (k->kind == MAX) {
        arg = calloc((size_t)(planes * u->pool.out_plane), sizeof(int));
        float *y = floats(planes * u->pool.out_plane);
        if (!arg)
            exit(2);
        cnn_pool3d_max_forward(&u->pool, u->x, 0, planes, y, arg);
        free(y);
    }
    pieces(planes, cut);
    for (int j = 0; j < 3; j++) {
        long p0 = cut[order[j]], p1 = cut[order[j] + 1];
        if (k->kind == MAX)
            cnn_pool3d_max_backward(&u->pool, arg, u->dy, p0, p1, u->dx);
        else if (k->kind == UPSAMPLE)
            cnn_upsample3d_backward(u->dy, size, k->k, p0, p1, u->dx);
        else
            cnn_pool3d_avg_backward(&u->pool, u->dy, p0, p1, u->dx);
    }
    free(arg);
}

/* ---- checks ---- */

static void check_want(const Run *u, int k)
{
    long n = u->c->n;
    size_t all = (size_t)(2 * n * (u->out + u->in) + 2 * u->wn + u->nb) + 1;
    double *m = calloc(all, sizeof(double));
    if (!m)
        exit(2);
    Want v = {m, m + n * u->out, m + 2 * n * u->out, m + 2 * n * u->out + n * u->in, 0, 0, 0};
    v.dw = v.dxs + n * u->in, v.dws = v.dw + u->wn, v.db = v.dws + u->wn;
    if (u->c->kind == DECONV)
        deconv_want(u, &v);
    else if (u->c->kind == UPSAMPLE)
        upsample_want(u, &v);
    else
        pool_want(u, &v);
    for (long j = 0; j < n * u->out; j++)
        expect("y", k, j, u->y[j], v.y[j], v.ys[j] + 1);
    for (long j = 0; j < n * u->in; j++)
        expect("dx", k, j, u->dx[j], v.dx[j], v.dxs[j] + 1);
    for (long j = 0; j < u->wn; j++)
        expect("dw", k, j, u->dw[j], v.dw[j], v.dws[j] + 1);
    for (long j = 0; j < u->nb; j++)
        expect("db", k, j, u->db[j], v.db[j], (double)n * u->out);
    free(m);
}

static double loss(Run *u)
{
    double l = 0;
    forward(u, u->x, u->w);
    for (long j = 0; j < u->c->n * u->out; j++)
        l += (double)u->y[j] * u->dy[j];
    return l;
}

/* (L(v + e) - L(v - e)) / 2e for L = sum of y * dy. */
static double difference(Run *u, float *v, float e)
{
    float keep = *v;
    *v = keep + e;
    double up = loss(u);
    *v = keep - e;
    double down = loss(u);
    *v = keep;
    return (up - down) / (2 * e);
}

static void check_differences(Run *u, int k)
{
    /* a power of 2, exact; max pools: small enough to keep every winner */
    const float e = u->c->kind == MAX ? 1.0f / 16384 : 0.125f;
    double scale = 0;
    for (long j = 0; j < u->c->n * u->out; j++)
        scale += fabs(u->dy[j]);
    for (int t = 0; t < 6; t++) {
        long j = (t * 7919L) % (u->c->n * u->in);
        expect("dx (differences)", k, j, u->dx[j], difference(u, &u->x[j], e), scale);
        if (u->wn) {
            long m = (t * 104729L) % u->wn;
            expect("dw (differences)", k, m, u->dw[m], difference(u, &u->w[m], e), 10 * scale);
        }
    }
}

/* DIR/caseK.bin: the Case (HEAD int32), then x, w, b, dy, y, dx, dw, db. */
static void save(const char *dir, int k, const Run *u)
{
    char path[4096];
    const Case *c = u->c;
    int head[HEAD] = {c->kind, c->n, c->c, c->d, c->h, c->w, c->f}, at = 7;
    for (int a = 0; a < 3; a++)
        head[at + a] = c->k[a], head[at + 3 + a] = c->s[a], head[at + 6 + a] = c->p[a], head[at + 9 + a] = c->dil[a];
    head[19] = c->ceil;
    for (int a = 0; a < 3; a++)
        head[20 + a] = c->more[a];
    snprintf(path, sizeof path, "%s/case%d.bin", dir, k);
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        perror(path);
        exit(2);
    }
    long n = c->n;
    fwrite(head, sizeof(int), HEAD, fp);
    const float *part[8] = {u->x, u->w, u->b, u->dy, u->y, u->dx, u->dw, u->db};
    long size[8] = {n * u->in, u->wn, u->nb, n * u->out, n * u->out, n * u->in, u->wn, u->nb};
    for (int i = 0; i < 8; i++)
        fwrite(part[i], sizeof(float), (size_t)size[i], fp);
    if (fclose(fp)) {
        perror(path);
        exit(2);
    }
}

static const char *kind_name[] = {"max pool", "avg pool", "avg pool countpad", "deconv", "upsample"};

static void run_case(int k, const char *dir)
{
    const Case *c = &cases[k];
    Run u;
    unsigned seed = 29u + (unsigned)k;
    memset(&u, 0, sizeof u);
    u.c = c;
    u.in = (long)c->c * c->d * c->h * c->w;
    if (c->kind == DECONV) {
        u.dc = deconv_geometry(c);
        u.out = (long)c->f * u.dc.od * u.dc.oh * u.dc.ow;
        u.wn = (long)c->c * c->f * c->k[0] * c->k[1] * c->k[2];
        u.nb = c->f;
    } else if (c->kind == UPSAMPLE) {
        u.out = u.in * c->k[0] * c->k[1] * c->k[2];
    } else {
        u.pool = pool_geometry(c);
        u.out = c->c * u.pool.out_plane;
    }
    long n = c->n;
    u.x = c->kind == MAX ? distinct_floats(n * u.in, seed) : random_floats(n * u.in, &seed);
    u.w = random_floats(u.wn, &seed);
    u.b = random_floats(u.nb, &seed);
    u.dy = random_floats(n * u.out, &seed);
    u.y = random_floats(n * u.out, &seed);      /* forward overwrites */
    u.dx = random_floats(n * u.in, &seed);      /* backward adds to what these hold */
    u.dw = random_floats(u.wn, &seed);
    u.db = random_floats(u.nb, &seed);
    float *dx0 = floats(n * u.in), *dw0 = floats(u.wn), *db0 = floats(u.nb);
    memcpy(dx0, u.dx, sizeof(float) * (size_t)(n * u.in));
    memcpy(dw0, u.dw, sizeof(float) * (size_t)u.wn);
    memcpy(db0, u.db, sizeof(float) * (size_t)u.nb);
    forward(&u, u.x, u.w);
    backward(&u);
    for (long j = 0; j < n * u.in; j++)
        u.dx[j] -= dx0[j];
    for (long j = 0; j < u.wn; j++)
        u.dw[j] -= dw0[j];
    for (long j = 0; j < u.nb; j++)
        u.db[j] -= db0[j];
    printf("case %2d: %s, %dx%dx%dx%d -> %ld per item", k, kind_name[c->kind], c->c, c->d, c->h, c->w, u.out);
    if (c->kind == DECONV)
        printf(", forward by %s, dL/dx by %s", u.dc.conv.direct_dx ? "tiles" : "columns",
               u.dc.conv.direct ? "tiles" : "columns");
    if (c->ceil)
        printf(", ceil mode reads %d, %d, %d past", u.pool.extra[0], u.pool.extra[1], u.pool.extra[2]);
    printf("\n");
    check_want(&u, k);
    if (dir)
        save(dir, k, &u);
    check_differences(&u, k);
    free(u.x), free(u.w), free(u.b), free(u.dy), free(u.y), free(u.dx), free(u.dw), free(u.db);
    free(dx0), free(dw0), free(db0);
}

/* Geometries init must refuse. */
static void check_refused(void)
{
    cnn_pool3d ok = {3, {4, 5, 6}, {2, 2, 2}, {2, 2, 2}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0}, 0, {0, 0, 0}, 0, 0};
    cnn_pool3d bad[6];
    for (int i = 0; i < 6; i++)
        bad[i] = ok;
    bad[0].size[0] = 1;          /* window past the input */
    bad[1].s[1] = 0;             /* stride 0 */
    bad[2].pad[2] = 2;           /* a window all padding */
    bad[3].c = 0;                /* no channels */
    bad[4].pad_end[0] = -1;      /* negative pad */
    bad[5].pad_end[1] = 2, bad[5].extra[1] = 2;   /* last window starts past the input */
    if (cnn_pool3d_init(&ok) && failures++ < 20)
        fprintf(stderr, "test_vol3d: good pool refused\n");
    for (int i = 0; i < 6; i++)
        if (cnn_pool3d_init(&bad[i]) != -1 && failures++ < 20)
            fprintf(stderr, "test_vol3d: bad pool geometry %d accepted\n", i);
    Case d[] = {{DECONV, 1, 1, 2, 2, 2, 1, {1, 1, 1}, {1, 1, 1}, {1, 0, 0}, {1, 1, 1}, 0, {0, 0, 0}},   /* empty */
                {DECONV, 1, 0, 2, 2, 2, 1, {2, 2, 2}, {1, 1, 1}, {0, 0, 0}, {1, 1, 1}, 0, {0, 0, 0}},   /* no channels */
                {DECONV, 1, 1, 2, 2, 2, 1, {2, 2, 2}, {1, 0, 1}, {0, 0, 0}, {1, 1, 1}, 0, {0, 0, 0}}};  /* stride 0 */
    for (int i = 0; i < 3; i++) {
        cnn_deconv3d g;
        memset(&g, 0, sizeof g);
        g.c = d[i].c, g.d = d[i].d, g.h = d[i].h, g.w = d[i].w, g.f = d[i].f;
        g.kd = d[i].k[0], g.kh = d[i].k[1], g.kw = d[i].k[2], g.sd = d[i].s[0], g.sh = d[i].s[1], g.sw = d[i].s[2];
        g.pd = d[i].p[0], g.ph = d[i].p[1], g.pw = d[i].p[2], g.dd = g.dh = g.dw = 1;
        if (cnn_deconv3d_init(&g) != -1 && failures++ < 20)
            fprintf(stderr, "test_vol3d: bad deconv geometry %d accepted\n", i);
    }
}

/* A NaN in a window wins, as in PyTorch (max_pool3d propagates NaN),
 * whether it comes first or after the maximum. */
static void check_nan(void)
{
    cnn_pool3d g = {1, {1, 2, 4}, {1, 2, 2}, {1, 2, 2}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0}, 0, {0, 0, 0}, 0, 0};
    /* window 0 reads 1 5 2 NaN (NaN after the maximum), window 1 NaN 3 4 0 */
    float x[8] = {1, 5, NAN, 3, 2, NAN, 4, 0}, y[2];
    int arg[2];
    if (cnn_pool3d_init(&g) || g.out_plane != 2)
        exit(1);
    cnn_pool3d_max_forward(&g, x, 0, 1, y, arg);
    if ((y[0] == y[0] || arg[0] != 5 || y[1] == y[1] || arg[1] != 2) && failures++ < 20)
        fprintf(stderr, "test_vol3d: max pool lost a NaN: %g at %d, %g at %d\n", y[0], arg[0], y[1], arg[1]);
}

/* Ties: the first of equal maxima in (d, h, w) order wins, as in
 * PyTorch (max_pool3d of a 2x2x2 volume of ones sends the gradient to
 * element 0; checked with torch 1.13), padding never. */
static void check_ties(void)
{
    cnn_pool3d g = {1, {2, 2, 4}, {2, 2, 2}, {2, 2, 2}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0}, 0, {0, 0, 0}, 0, 0};
    /* window 0: all ones; window 1: 3 at (0, 1, 0) and (1, 0, 1) */
    float x[16] = {1, 1, 0, 0, 1, 1, 3, 0, 1, 1, 0, 3, 1, 1, 0, 0}, y[2];
    int arg[2];
    if (cnn_pool3d_init(&g) || g.out_plane != 2)
        exit(1);
    cnn_pool3d_max_forward(&g, x, 0, 1, y, arg);
    if ((y[0] != 1 || arg[0] != 0 || y[1] != 3 || arg[1] != 6) && failures++ < 20)
        fprintf(stderr, "test_vol3d: max pool ties: %g at %d, %g at %d (want 1 at 0, 3 at 6)\n", y[0], arg[0], y[1],
                arg[1]);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : NULL;
    int count = (int)(sizeof cases / sizeof cases[0]);
    printf("test_vol3d: kernels %s\n", cnn_kernels_best()->isa);
    for (int k = 0; k < count; k++)
        run_case(k, dir);
    check_refused();
    check_nan();
    check_ties();
    if (failures) {
        fprintf(stderr, "test_vol3d: %d check(s) failed\n", failures);
        return 1;
    }
    printf("test_vol3d: all %d cases pass\n", count);
    return 0;
}
