/* im2col.c - the column matrix of a convolution, for code generated with
 * --blas: im2col lays out each output pixel's receptive field as a column
 * (rows: channel, kh, kw), so that convolution is one matrix product;
 * col2im adds such columns back into an image (the input gradient). */
#include "cnnrt.h"

void cnn_im2col(const float *x, const cnn_conv_geom *g, float *col)
{
    long ohw = (long)g->oh * g->ow;
    for (int c = 0; c < g->c; c++)
        for (int kh = 0; kh < g->kh; kh++)
            for (int kw = 0; kw < g->kw; kw++) {
                float *row = col + ((long)(c * g->kh + kh) * g->kw + kw) * ohw;
                for (int oh = 0; oh < g->oh; oh++) {
                    int ih = oh * g->sh + kh * g->dh - g->pt;
                    float *dst = row + (long)oh * g->ow;
                    if (ih < 0 || ih >= g->h) {
                        for (int ow = 0; ow < g->ow; ow++)
                            dst[ow] = 0.0f;
                        continue;
                    }
                    const float *src = x + ((long)c * g->h + ih) * g->w;
                    for (int ow = 0; ow < g->ow; ow++) {
                        int iw = ow * g->sw + kw * g->dw - g->pl;
                        dst[ow] = iw >= 0 && iw < g->w ? src[iw] : 0.0f;
                    }
                }
            }
}

void cnn_col2im_add(const float *col, const cnn_conv_geom *g, float *x)
{
    long ohw = (long)g->oh * g->ow;
    for (int c = 0; c < g->c; c++)
        for (int kh = 0; kh < g->kh; kh++)
            for (int kw = 0; kw < g->kw; kw++) {
                const float *row = col + ((long)(c * g->kh + kh) * g->kw + kw) * ohw;
                for (int oh = 0; oh < g->oh; oh++) {
                    int ih = oh * g->sh + kh * g->dh - g->pt;
                    if (ih < 0 || ih >= g->h)
                        continue;
                    float *dst = x + ((long)c * g->h + ih) * g->w;
                    for (int ow = 0; ow < g->ow; ow++) {
                        int iw = ow * g->sw + kw * g->dw - g->pl;
                        if (iw >= 0 && iw < g->w)
                            dst[iw] += row[(long)oh * g->ow + ow];
                    }
                }
            }
}
