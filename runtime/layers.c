/* layers.c - the numerics of layers that are the same for every network:
 * local response normalisation (AlexNet, ZFNet), PReLU (V-Net), the soft
 * Dice loss (V-Net) and the Dice score `train` and `eval` print.
 * Generated code and the driver call these with their constant
 * shapes; each function does a range of the work so that the caller's
 * thread team can split it (no OpenMP here).
 *
 * Tensors are PyTorch's (N, C, spatial...) with the spatial size as one
 * number sp, so images (H*W) and volumes (D*H*W) are alike.  A plane is
 * one channel of one item: plane p = i * C + c starts at p * sp. */
#include <math.h>
#include <string.h>

#include "cnnrt.h"

#ifdef __SSE__
#include <xmmintrin.h>
#endif

/* GCC keeps FP exceptions exact by default, so it does not turn a
 * condition (PReLU's x > 0) into a vector select that would multiply the
 * lanes the scalar code skips.  Nothing here reads the exception flags,
 * and the values are the same, bit for bit. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

/* Positions done at a time: a window's sums stay on the stack while each
 * plane of the window streams through once. */
#define CHUNK 64

/* ---- local response normalisation ---------------------------------------- */

/* r = s^-beta for m scales.  powf costs most of the layer; AlexNet's and
 * ZFNet's beta 0.75 is 1 / sqrt(s * sqrt(s)), within a few ulps, and
 * four at a time with SSE (the compiler keeps scalar sqrtf for errno). */
static void pow_neg(const float *s, long m, float beta, float *r)
{
    long q = 0;
    if (beta != 0.75f) {
        for (; q < m; q++)
            r[q] = powf(s[q], -beta);
        return;
    }
#ifdef __SSE__
    for (; q + 4 <= m; q += 4) {
        __m128 v = _mm_loadu_ps(s + q);
        _mm_storeu_ps(r + q, _mm_div_ps(_mm_set1_ps(1.0f), _mm_sqrt_ps(_mm_mul_ps(v, _mm_sqrt_ps(v)))));
    }
#endif
    for (; q < m; q++)
        r[q] = 1.0f / sqrtf(s[q] * sqrtf(s[q]));
}

/* The channels [ch - below, ch + above] cut to [0, c): the window of
 * channel ch is PyTorch's [ch - size/2, ch + (size-1)/2]; the channels
 * whose windows hold ch are the window turned around (they differ when
 * size is even). */
static void channel_range(long ch, long c, long below, long above, long *lo, long *hi)
{
    *lo = ch - below < 0 ? 0 : ch - below;
    *hi = ch + above > c - 1 ? c - 1 : ch + above;
}

void cnn_lrn_forward(const cnn_lrn *l, const float *x, long c, long sp, long p0, long p1, float *y,
                     float *scale)
{
    for (long p = p0; p < p1; p++) {
        long ch = p % c, lo, hi;
        const float *item = x + (p - ch) * sp;    /* channel 0 of this item */
        channel_range(ch, c, l->size / 2, (l->size - 1) / 2, &lo, &hi);
        for (long q0 = 0; q0 < sp; q0 += CHUNK) {
            long m = sp - q0 < CHUNK ? sp - q0 : CHUNK;
            float sum[CHUNK] = {0}, r[CHUNK], kept[CHUNK];
            for (long j = lo; j <= hi; j++) {
                const float *xj = item + j * sp + q0;
                for (long q = 0; q < m; q++)
                    sum[q] += xj[q] * xj[q];
            }
            /* PyTorch's order: the window's mean, times alpha, plus k */
            const float *xp = x + p * sp + q0;
            float *yp = y + p * sp + q0, *sc = scale ? scale + p * sp + q0 : kept;
            for (long q = 0; q < m; q++)
                sc[q] = sum[q] / (float)l->size * l->alpha + l->k;
            pow_neg(sc, m, l->beta, r);
            for (long q = 0; q < m; q++)
                yp[q] = xp[q] * r[q];
        }
    }
}

/* y = x * s^-beta with s = k + alpha/size * (the window's sum of squares), so
 * dL/dx_j = dy_j * s_j^-beta
 *         - 2 * alpha * beta / size * x_j * sum over c holding j of dy_c * y_c / s_c. */
void cnn_lrn_backward(const cnn_lrn *l, const float *x, const float *y, const float *scale,
                      const float *dy, long c, long sp, long p0, long p1, float *dx)
{
    const float coef = 2.0f * l->alpha * l->beta / (float)l->size;
    if (!dx)
        return;
    for (long p = p0; p < p1; p++) {
        long ch = p % c, base = (p - ch) * sp, lo, hi;
        channel_range(ch, c, (l->size - 1) / 2, l->size / 2, &lo, &hi);
        for (long q0 = 0; q0 < sp; q0 += CHUNK) {
            long m = sp - q0 < CHUNK ? sp - q0 : CHUNK, at = p * sp + q0;
            float sum[CHUNK] = {0}, r[CHUNK];
            for (long j = lo; j <= hi; j++) {
                long from = base + j * sp + q0;
                for (long q = 0; q < m; q++)
                    sum[q] += dy[from + q] * y[from + q] / scale[from + q];
            }
            pow_neg(scale + at, m, l->beta, r);
            for (long q = 0; q < m; q++)
                dx[at + q] += dy[at + q] * r[q] - coef * x[at + q] * sum[q];
        }
    }
}

/* ---- PReLU ------------------------------------------------------------------ */

/* PReLU's loops go LANES floats at a time, each step in a loop of its own
 * over a local array: GCC's -O2 vectorises only loops that need neither
 * a scalar remainder nor a check that x and y do not overlap (y may be x),
 * and selects only between values already loaded (a load under a
 * condition could fault).  Volumes make these layers big: 2^19 floats. */
#define LANES 8

static void prelu_plane(const float *x, float a, long sp, float *y)
{
    long q = 0;
    for (; q + LANES <= sp; q += LANES) {
        float v[LANES];
        for (int k = 0; k < LANES; k++)
            v[k] = x[q + k];
        for (int k = 0; k < LANES; k++)
            y[q + k] = v[k] > 0.0f ? v[k] : a * v[k];
    }
    for (; q < sp; q++)
        y[q] = x[q] > 0.0f ? x[q] : a * x[q];
}

void cnn_prelu_forward(const float *x, const float *slope, long c, long sp, long p0, long p1, float *y)
{
    for (long p = p0; p < p1; p++)
        prelu_plane(x + p * sp, slope[p % c], sp, y + p * sp);
}

/* v and g = LANES floats of x and of dy from q on */
static void load_lanes(const float *x, const float *dy, long q, float v[LANES], float g[LANES])
{
    for (int k = 0; k < LANES; k++)
        v[k] = x[q + k], g[k] = dy[q + k];
}

/* Adds one plane's terms of dL/dslope, x * dy where x <= 0, to LANES
 * partial sums (lane k: the terms q = k mod LANES); in double: a volume
 * has 10^6 terms. */
static void slope_terms(const float *x, const float *dy, long sp, double sums[LANES])
{
    long q = 0;
    for (; q + LANES <= sp; q += LANES) {
        float v[LANES], g[LANES];
        load_lanes(x, dy, q, v, g);
        for (int k = 0; k < LANES; k++)
            g[k] = v[k] > 0.0f ? 0.0f : g[k];
        for (int k = 0; k < LANES; k++)
            v[k] = v[k] > 0.0f ? 0.0f : v[k];
        for (int k = 0; k < LANES; k++)
            sums[k] += (double)v[k] * g[k];
    }
    for (int k = 0; q < sp; q++, k++)
        sums[k] += x[q] > 0.0f ? 0.0 : (double)x[q] * dy[q];
}

/* dx += dy where x > 0, a * dy elsewhere */
static void input_terms(const float *x, const float *dy, float a, long sp, float *dx)
{
    long q = 0;
    for (; q + LANES <= sp; q += LANES) {
        float v[LANES], g[LANES];
        load_lanes(x, dy, q, v, g);
        for (int k = 0; k < LANES; k++)
            g[k] = v[k] > 0.0f ? g[k] : a * g[k];
        for (int k = 0; k < LANES; k++)
            dx[q + k] += g[k];
    }
    for (; q < sp; q++)
        dx[q] += x[q] > 0.0f ? dy[q] : a * dy[q];
}

/* As PyTorch, x == 0 takes the slope's side: dL/dx = a * dy, dL/da += 0. */
void cnn_prelu_backward(const float *x, const float *slope, const float *dy, long n, long c, long sp,
                        long c0, long c1, float *dx, float *dslope)
{
    for (long ch = c0; ch < c1; ch++) {
        double sums[LANES] = {0}, da = 0.0;
        for (long i = 0; i < n; i++) {
            long at = (i * c + ch) * sp;
            slope_terms(x + at, dy + at, sp, sums);
            if (dx)
                input_terms(x + at, dy + at, slope[ch], sp, dx + at);
        }
        for (int k = 0; k < LANES; k++)
            da += sums[k];
        dslope[ch] += (float)da;
    }
}

/* ---- soft Dice loss ------------------------------------------------------------ */

/* For one item, p = y's channel 1 and g = (label == 1):
 * L = 1 - 2I/D with I = sum(p*g), D = sum(p^2) + sum(g), so
 * dL/dp_j = (4 I p_j - 2 g_j D) / D^2.  D == 0 (no foreground, p all 0)
 * is a perfect prediction of an empty mask: L = 0, gradient 0. */
double cnn_dice_loss(const float *y, const int *labels, long sp, long i0, long i1, float scale, float *dy)
{
    double total = 0.0;
    for (long i = i0; i < i1; i++) {
        const float *p = y + (2 * i + 1) * sp;
        const int *g = labels + i * sp;
        double inter = 0.0, den = 0.0;
        for (long q = 0; q < sp; q++) {
            if (g[q] != 0 && g[q] != 1)
                return -1.0;
            inter += g[q] ? p[q] : 0.0;
            den += (double)p[q] * p[q] + g[q];
        }
        total += den == 0.0 ? 0.0 : 1.0 - 2.0 * inter / den;   /* a NaN goes through */
        if (!dy)
            continue;
        float *d0 = dy + 2 * i * sp, *d1 = d0 + sp;
        memset(d0, 0, sizeof(float) * (size_t)sp);
        if (den == 0.0) {
            memset(d1, 0, sizeof(float) * (size_t)sp);
            continue;
        }
        const double a = 4.0 * inter / (den * den) * scale, b = 2.0 / den * scale;
        for (long q = 0; q < sp; q++)
            d1[q] = (float)(a * p[q] - b * g[q]);
    }
    return total;
}

/* The score the V-Net paper reports: foreground where channel 1 beats
 * channel 0 (a tie is background, as argmax takes the first), then
 * 2 |P and G| / (|P| + |G|); both empty is a perfect 1. */
double cnn_dice_score(const float *y, const int *labels, long sp, long i0, long i1)
{
    double total = 0.0;
    for (long i = i0; i < i1; i++) {
        const float *y0 = y + 2 * i * sp, *y1 = y0 + sp;
        const int *g = labels + i * sp;
        long both = 0, sizes = 0;
        for (long q = 0; q < sp; q++) {
            if (g[q] != 0 && g[q] != 1)
                return -1.0;
            int fg = y1[q] > y0[q];
            both += fg & g[q];
            sizes += fg + g[q];
        }
        total += sizes ? 2.0 * (double)both / (double)sizes : 1.0;
    }
    return total;
}
