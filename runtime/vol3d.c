/* vol3d.c - the layers of volumes besides the convolution (V-Net):
 * 3-D max and average pooling, the transposed convolution (on conv3d.c's
 * machinery) and nearest upsampling.  NCDHW; every call does a range of
 * the work so that the generated code's thread team can split it (no
 * OpenMP here), and backward passes add into dx. */
#include <string.h>

#include "cnnrt.h"

/* ---- pooling ---- */

/* Output position o's window along axis a: [lo, hi) inside the input,
 * and its length inside the input and the padding (count_pad's divisor). */
typedef struct {
    long lo, hi, padded;
} Span;

static Span span_of(const cnn_pool3d *g, int a, long o)
{
    long start = o * g->s[a] - g->pad[a], end = start + g->k[a], edge = (long)g->size[a] + g->pad_end[a];
    Span w;
    w.lo = start < 0 ? 0 : start;
    w.hi = end > g->size[a] ? g->size[a] : end;
    w.padded = (end < edge ? end : edge) - start;
    return w;
}

/* Calls BODY for every output position q (index in the output plane) of
 * planes [p0, p1), with the window's spans sd, sh, sw and x's and dx's
 * plane offset in. */
#define EACH_WINDOW(g, p0, p1, BODY)                                                    \
    for (long p = (p0); p < (p1); p++) {                                                \
        long in = p * (g)->in_plane, q = p * (g)->out_plane;                            \
        for (long oz = 0; oz < (g)->out[0]; oz++) {                                     \
            Span sd = span_of(g, 0, oz);                                                \
            for (long oy = 0; oy < (g)->out[1]; oy++) {                                 \
                Span sh = span_of(g, 1, oy);                                            \
                for (long ox = 0; ox < (g)->out[2]; ox++, q++) {                        \
                    Span sw = span_of(g, 2, ox);                                        \
                    BODY;                                                               \
                }                                                                       \
            }                                                                           \
        }                                                                               \
    }

/* The offset of input (z, r, s) in its plane. */
#define AT(g, z, r, s) (((z) * (g)->size[1] + (r)) * (g)->size[2] + (s))

static void max_window(const cnn_pool3d *g, const float *x, Span sd, Span sh, Span sw, float *y, int *arg)
{
    long best = AT(g, sd.lo, sh.lo, sw.lo);
    float m = x[best];
    for (long z = sd.lo; z < sd.hi; z++)
        for (long r = sh.lo; r < sh.hi; r++)
            for (long s = sw.lo; s < sw.hi; s++) {
                long i = AT(g, z, r, s);
                if (x[i] > m || x[i] != x[i])   /* NaN wins, as in PyTorch */
                    m = x[i], best = i;
            }
    *y = m;
    if (arg)
        *arg = (int)best;
}

void cnn_pool3d_max_forward(const cnn_pool3d *g, const float *x, long p0, long p1, float *y, int *arg)
{
    EACH_WINDOW(g, p0, p1, max_window(g, x + in, sd, sh, sw, y + q, arg ? arg + q : NULL))
}

void cnn_pool3d_max_backward(const cnn_pool3d *g, const int *arg, const float *dy, long p0, long p1, float *dx)
{
    for (long p = p0; p < p1; p++)
        for (long q = p * g->out_plane; q < (p + 1) * g->out_plane; q++)
            dx[p * g->in_plane + arg[q]] += dy[q];
}

static double divisor(const cnn_pool3d *g, Span sd, Span sh, Span sw)
{
    if (g->count_pad)
        return (double)(sd.padded * sh.padded * sw.padded);
    return (double)((sd.hi - sd.lo) * (sh.hi - sh.lo) * (sw.hi - sw.lo));
}

/* In double: a global pool of a volume sums a million values. */
static double window_sum(const cnn_pool3d *g, const float *x, Span sd, Span sh, Span sw)
{
    double sum = 0.0;
    for (long z = sd.lo; z < sd.hi; z++)
        for (long r = sh.lo; r < sh.hi; r++)
            for (long s = sw.lo; s < sw.hi; s++)
                sum += x[AT(g, z, r, s)];
    return sum;
}

static void window_spread(const cnn_pool3d *g, float v, Span sd, Span sh, Span sw, float *dx)
{
    for (long z = sd.lo; z < sd.hi; z++)
        for (long r = sh.lo; r < sh.hi; r++)
            for (long s = sw.lo; s < sw.hi; s++)
                dx[AT(g, z, r, s)] += v;
}

void cnn_pool3d_avg_forward(const cnn_pool3d *g, const float *x, long p0, long p1, float *y)
{
    EACH_WINDOW(g, p0, p1, y[q] = (float)(window_sum(g, x + in, sd, sh, sw) / divisor(g, sd, sh, sw)))
}

void cnn_pool3d_avg_backward(const cnn_pool3d *g, const float *dy, long p0, long p1, float *dx)
{
    EACH_WINDOW(g, p0, p1, window_spread(g, (float)(dy[q] / divisor(g, sd, sh, sw)), sd, sh, sw, dx + in))
}

/* ---- transposed convolution ---- */

void cnn_deconv3d_pack(const cnn_deconv3d *g, const float *w, float *wpack)
{
    cnn_conv3d_pack(&g->conv, w, wpack);
}

void cnn_deconv3d_pad_x(const cnn_deconv3d *g, const float *x, float *xp, long p0, long p1)
{
    cnn_conv3d_pad_dy(&g->conv, x, xp, p0, p1);
}

void cnn_deconv3d_forward(const cnn_deconv3d *g, const float *x, const float *xp, const float *w,
                          const float *wpack, const float *b, float *y, int od0, int od1, float *task)
{
    long plane = (long)g->oh * g->ow;
    for (long f = 0; f < g->f; f++) {
        float *dst = y + (f * g->od + od0) * plane, bias = b ? b[f] : 0.0f;
        for (long q = 0; q < (od1 - od0) * plane; q++)
            dst[q] = bias;
    }
    cnn_conv3d_input_grads(&g->conv, x, xp, w, wpack, y, od0, od1, task);
}

void cnn_deconv3d_pad_dy(const cnn_deconv3d *g, const float *dy, float *dyp, long p0, long p1)
{
    cnn_conv3d_pad_input(&g->conv, dy, dyp, p0, p1);
}

void cnn_deconv3d_input_grads(const cnn_deconv3d *g, const float *dy, const float *dyp, const float *w,
                              const float *wpack, float *dx, int d0, int d1, float *task)
{
    cnn_conv3d_forward_add(&g->conv, dy, dyp, w, wpack, dx, d0, d1, task);
}

void cnn_deconv3d_weight_grads(const cnn_deconv3d *g, const float *x, const float *xp, const float *dy,
                               const float *dyp, float *dw, int c0, int c1, float *task)
{
    cnn_conv3d_weight_grads(&g->conv, dy, dyp, x, xp, dw, NULL, c0, c1, task);
}

void cnn_deconv3d_bias_grads(const cnn_deconv3d *g, const float *dy, float *db, int f0, int f1)
{
    long plane = (long)g->od * g->oh * g->ow;
    for (long f = f0; f < f1; f++)
        db[f] += (float)cnn_vol_sum(dy + f * plane, plane);
}

/* ---- nearest upsampling ---- */

/* Each input row is widened once; the other rows and planes of its
 * block are copies of it. */
void cnn_upsample3d_forward(const float *x, const int size[3], const int k[3], long p0, long p1, float *y)
{
    long d = size[0], h = size[1], w = size[2], ow = w * k[2], oplane = h * k[1] * ow;
    for (long p = p0; p < p1; p++)
        for (long z = 0; z < d; z++) {
            float *first = y + (p * d + z) * k[0] * oplane;
            for (long r = 0; r < h; r++) {
                const float *row = x + ((p * d + z) * h + r) * w;
                float *out = first + r * k[1] * ow;
                for (long s = 0; s < w; s++)
                    for (long t = 0; t < k[2]; t++)
                        out[s * k[2] + t] = row[s];
                for (long t = 1; t < k[1]; t++)
                    memcpy(out + t * ow, out, sizeof(float) * (size_t)ow);
            }
            for (long t = 1; t < k[0]; t++)
                memcpy(first + t * oplane, first, sizeof(float) * (size_t)oplane);
        }
}

void cnn_upsample3d_backward(const float *dy, const int size[3], const int k[3], long p0, long p1, float *dx)
{
    long d = size[0], h = size[1], w = size[2], ow = w * k[2];
    for (long p = p0; p < p1; p++)
        for (long z = 0; z < d * k[0]; z++)
            for (long r = 0; r < h * k[1]; r++) {
                const float *src = dy + ((p * d * k[0] + z) * h * k[1] + r) * ow;
                float *row = dx + ((p * d + z / k[0]) * h + r / k[1]) * w;
                for (long s = 0; s < w; s++)
                    for (long t = 0; t < k[2]; t++)
                        row[s] += src[s * k[2] + t];
            }
}
