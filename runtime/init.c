/* init.c - weight initialisers (PyTorch's formulas, our generator). */
#include <math.h>

#include "cnnrt.h"

void cnn_fill(float *w, size_t n, float value)
{
    size_t i;
    for (i = 0; i < n; i++)
        w[i] = value;
}

void cnn_init_uniform(float *w, size_t n, float bound, cnn_rng *r)
{
    size_t i;
    for (i = 0; i < n; i++)     /* 2u-1 is exact for 24-bit u: [-1, 1) */
        w[i] = (2.0f * cnn_rng_uniform(r) - 1.0f) * bound;
}

void cnn_init_he(float *w, size_t n, int fan_in, cnn_rng *r)
{
    /* kaiming_uniform_(nonlinearity='relu'): gain sqrt(2) * sqrt(3/fan_in) */
    float bound = fan_in > 0 ? (float)sqrt(6.0 / fan_in) : 0.0f;
    cnn_init_uniform(w, n, bound, r);
}

void cnn_init_glorot(float *w, size_t n, int fan_in, int fan_out, cnn_rng *r)
{
    double fans = (double)fan_in + (double)fan_out;
    float bound = fans > 0 ? (float)sqrt(6.0 / fans) : 0.0f;
    cnn_init_uniform(w, n, bound, r);
}

void cnn_init_bias(float *b, size_t n, int fan_in, cnn_rng *r)
{
    /* nn.Conv2d / nn.Linear reset_parameters(): U(-1/sqrt(fan_in), 1/sqrt(fan_in))
     * when fan_in > 0, and zero otherwise (the draw still advances r) */
    float bound = fan_in > 0 ? (float)(1.0 / sqrt((double)fan_in)) : 0.0f;
    cnn_init_uniform(b, n, bound, r);
}
