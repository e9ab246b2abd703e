/* im2col.c - the column matrix of a convolution, for strided and small
 * convolutions and code generated with --blas: im2col lays out each output
 * pixel's receptive field as a column (rows: channel, kh, kw), so that
 * convolution is one matrix product; col2im adds such columns back into an
 * image (the input gradient).  Rows are g->ld floats apart (oh*ow when 0),
 * so that the columns of several images can sit side by side. */
#include <string.h>

#include "cnnrt.h"

/* The outputs ow in [*lo, *hi) of kernel column kw read inside the image
 * (iw = ow*sw + kw*dw - pl in [0, w)); the others read padding. */
static void inside(const cnn_conv_geom *g, int kw, int *lo, int *hi)
{
    int first = g->pl - kw * g->dw;   /* ow*sw >= first */
    int end = g->w + first;           /* ow*sw < end */
    *lo = first <= 0 ? 0 : (first + g->sw - 1) / g->sw;
    *hi = end <= 0 ? 0 : (end + g->sw - 1) / g->sw;
    if (*lo > g->ow)
        *lo = g->ow;
    if (*hi > g->ow)
        *hi = g->ow;
    if (*hi < *lo)
        *hi = *lo;
}

static void im2col_rows(const float *x, const cnn_conv_geom *g, float *col)
{
    long ld = g->ld ? g->ld : (long)g->oh * g->ow;
    for (int c = 0; c < g->c; c++)
        for (int kh = 0; kh < g->kh; kh++)
            for (int kw = 0; kw < g->kw; kw++) {
                float *row = col + ((long)(c * g->kh + kh) * g->kw + kw) * ld;
                int lo, hi;
                inside(g, kw, &lo, &hi);
                for (int oh = 0; oh < g->oh; oh++) {
                    int ih = oh * g->sh + kh * g->dh - g->pt;
                    float *dst = row + (long)oh * g->ow;
                    if (ih < 0 || ih >= g->h) {
                        memset(dst, 0, sizeof(float) * (size_t)g->ow);
                        continue;
                    }
                    const float *src = x + ((long)c * g->h + ih) * g->w;
                    long off = kw * g->dw - g->pl;   /* iw - ow*sw */
                    memset(dst, 0, sizeof(float) * (size_t)lo);
                    if (g->sw == 1 && hi > lo)
                        memcpy(dst + lo, src + lo + off, sizeof(float) * (size_t)(hi - lo));
                    else if (g->sw != 1)
                        for (int ow = lo; ow < hi; ow++)
                            dst[ow] = src[(long)ow * g->sw + off];
                    memset(dst + hi, 0, sizeof(float) * (size_t)(g->ow - hi));
                }
            }
}

static void col2im_rows(const float *col, const cnn_conv_geom *g, float *x)
{
    long ld = g->ld ? g->ld : (long)g->oh * g->ow;
    for (int c = 0; c < g->c; c++)
        for (int kh = 0; kh < g->kh; kh++)
            for (int kw = 0; kw < g->kw; kw++) {
                const float *row = col + ((long)(c * g->kh + kh) * g->kw + kw) * ld;
                int lo, hi;
                inside(g, kw, &lo, &hi);
                for (int oh = 0; oh < g->oh; oh++) {
                    int ih = oh * g->sh + kh * g->dh - g->pt;
                    if (ih < 0 || ih >= g->h)
                        continue;
                    float *dst = x + ((long)c * g->h + ih) * g->w;
                    const float *src = row + (long)oh * g->ow;
                    long off = kw * g->dw - g->pl;
                    for (int ow = lo; ow < hi; ow++)
                        dst[(long)ow * g->sw + off] += src[ow];
                }
            }
}

/* Narrow outputs: the input index of each of up to CHUNK output pixels for
 * one kernel tap, -1 in the padding, then a gather per channel.  Row by
 * row, a 2x2 output would cost several library calls per four values. */
#define CHUNK 1024

static void tap_indices(const cnn_conv_geom *g, int kh, int kw, long p0, long np, int *idx)
{
    int oh = (int)(p0 / g->ow), ow = (int)(p0 % g->ow);
    for (long j = 0; j < np; j++) {
        int ih = oh * g->sh + kh * g->dh - g->pt, iw = ow * g->sw + kw * g->dw - g->pl;
        idx[j] = ih >= 0 && ih < g->h && iw >= 0 && iw < g->w ? ih * g->w + iw : -1;
        if (++ow == g->ow) {
            ow = 0;
            oh++;
        }
    }
}

static void im2col_gather(const float *x, const cnn_conv_geom *g, float *col)
{
    long ld = g->ld ? g->ld : (long)g->oh * g->ow, p = (long)g->oh * g->ow, hw = (long)g->h * g->w;
    int idx[CHUNK];
    for (long p0 = 0; p0 < p; p0 += CHUNK) {
        long np = p - p0 < CHUNK ? p - p0 : CHUNK;
        for (int kh = 0; kh < g->kh; kh++)
            for (int kw = 0; kw < g->kw; kw++) {
                tap_indices(g, kh, kw, p0, np, idx);
                for (int c = 0; c < g->c; c++) {
                    float *row = col + ((long)(c * g->kh + kh) * g->kw + kw) * ld + p0;
                    const float *src = x + c * hw;
                    for (long j = 0; j < np; j++)
                        row[j] = idx[j] >= 0 ? src[idx[j]] : 0.0f;
                }
            }
    }
}

static void col2im_scatter(const float *col, const cnn_conv_geom *g, float *x)
{
    long ld = g->ld ? g->ld : (long)g->oh * g->ow, p = (long)g->oh * g->ow, hw = (long)g->h * g->w;
    int idx[CHUNK];
    for (long p0 = 0; p0 < p; p0 += CHUNK) {
        long np = p - p0 < CHUNK ? p - p0 : CHUNK;
        for (int kh = 0; kh < g->kh; kh++)
            for (int kw = 0; kw < g->kw; kw++) {
                tap_indices(g, kh, kw, p0, np, idx);
                for (int c = 0; c < g->c; c++) {
                    const float *row = col + ((long)(c * g->kh + kh) * g->kw + kw) * ld + p0;
                    float *dst = x + c * hw;
                    for (long j = 0; j < np; j++)
                        if (idx[j] >= 0)
                            dst[idx[j]] += row[j];
                }
            }
    }
}

void cnn_im2col(const float *x, const cnn_conv_geom *g, float *col)
{
    if (g->ow >= 32)
        im2col_rows(x, g, col);
    else
        im2col_gather(x, g, col);
}

void cnn_col2im_add(const float *col, const cnn_conv_geom *g, float *x)
{
    if (g->ow >= 32)
        col2im_rows(col, g, x);
    else
        col2im_scatter(col, g, x);
}
