/* badgrad.c - a network whose backward pass is wrong on purpose, so that
 * tests/driver/run.sh can check that `gradcheck` notices: the gradient of
 * one parameter tensor (the middle one) and of the input come back 5% too
 * large.  Built against code generated without --main, with -DNET=PREFIX_net. */
#include <stddef.h>

#include "cnnrt.h"

extern const cnn_net NET;

static void scaled_backward(void *m, const float *x, const float *dy, float *dx, int n)
{
    const cnn_tensor *t = &NET.tensors[NET.ntensors / 2];
    float *g = NET.grads(m) + t->offset;
    long size = 1;
    NET.backward(m, x, dy, dx, n);
    for (int d = 0; d < t->ndim; d++)
        size *= (long)t->shape[d];
    for (long i = 0; i < size && !t->in_state; i++)
        g[i] *= 1.05f;
    for (long i = 0; dx && i < (long)n * NET.in_size; i++)
        dx[i] *= 1.05f;
}

int main(int argc, char **argv)
{
    cnn_net bad = NET;
    bad.backward = scaled_backward;
    return cnn_main(&bad, argc, argv);
}
