/* driver_passes.c - the `forward` and `backward` commands: one pass of the
 * network over raw float32 files, in inference mode (dropout off,
 * batchnorm on its running statistics), for comparison with other
 * frameworks.  backward changes no weights: it writes dL/dx and dL/dW for
 * the given dL/dy, the weight gradients as safetensors named and shaped
 * like the weights. */
#include <stdio.h>
#include <stdlib.h>

#include "driver_commands.h"

/* The model's batch: --batch, else all items up to 64 per call. */
static int pass_batch(const cnn_drv_opts *o, int n)
{
    if (o->batch_set)
        return o->batch;
    return n < 64 ? n : 64;
}

static int need_all(const cnn_drv_opts *o, const char *const *values, const char *const *names, int count)
{
    for (int i = 0; i < count; i++)
        if (cnn_drv_need(o, values[i], names[i]) != DRV_OK)
            return DRV_USAGE;
    return DRV_OK;
}

int cnn_drv_forward(const cnn_net *net, const cnn_drv_opts *o)
{
    const char *values[] = {o->load, o->input, o->output};
    const char *names[] = {"load", "input", "output"};
    float *x = NULL, *y = NULL;
    void *m = NULL;
    int n = 0, rc = need_all(o, values, names, 3);
    if (rc != DRV_OK || (rc = cnn_drv_read_bin(o, o->input, (size_t)net->in_size, &x, &n)) != DRV_OK)
        return rc;
    rc = DRV_IO;
    if ((m = cnn_drv_model(net, o, pass_batch(o, n))) != NULL) {
        if ((y = malloc((size_t)n * (size_t)net->out_size * sizeof *y)) != NULL) {
            net->forward(m, x, y, n);
            rc = cnn_drv_write_bin(o, o->output, y, (size_t)n * (size_t)net->out_size);
        } else {
            cnn_drv_error(o, "out of memory for %d outputs", n);
        }
        net->destroy(m);
    }
    free(y);
    free(x);
    return rc;
}

/* --grad-weights: the gradient of every trained tensor (state such as
 * batchnorm's running statistics has none), laid out like the weights. */
static int write_grads(const cnn_net *net, void *m, const cnn_drv_opts *o)
{
    cnn_st_tensor *t = calloc((size_t)net->ntensors + 1, sizeof *t);
    const float *g = net->grads(m);
    char err[1024];
    int k = 0;
    if (!t) {
        cnn_drv_error(o, "out of memory");
        return DRV_IO;
    }
    for (int i = 0; i < net->ntensors; i++) {
        const cnn_tensor *w = &net->tensors[i];
        if (w->in_state)
            continue;
        t[k].name = w->name;
        t[k].ndim = w->ndim;
        for (int d = 0; d < 4; d++)
            t[k].shape[d] = w->shape[d];
        t[k++].data = g + w->offset;
    }
    int rc = cnn_st_write(o->grad_weights, t, k, err, sizeof err) < 0 ? DRV_IO : DRV_OK;
    if (rc != DRV_OK)
        cnn_drv_error(o, "%s", err);
    free(t);
    return rc;
}

/* dy must hold exactly one output per input. */
static int read_pair(const cnn_net *net, const cnn_drv_opts *o, float **x, float **dy, int *n)
{
    int ny = 0;
    int rc = cnn_drv_read_bin(o, o->input, (size_t)net->in_size, x, n);
    if (rc == DRV_OK)
        rc = cnn_drv_read_bin(o, o->grad_output, (size_t)net->out_size, dy, &ny);
    if (rc == DRV_OK && ny != *n) {
        cnn_drv_error(o, "%s: %d items of %d floats, but %s has %d inputs", o->grad_output, ny,
                      net->out_size, o->input, *n);
        rc = DRV_IO;
    }
    return rc;
}

static int run_backward(const cnn_net *net, void *m, const cnn_drv_opts *o, const float *x,
                        const float *dy, int n)
{
    size_t count = (size_t)n * (size_t)net->in_size;
    float *dx = malloc(count * sizeof *dx);
    if (!dx) {
        cnn_drv_error(o, "out of memory for %d input gradients", n);
        return DRV_IO;
    }
    net->backward(m, x, dy, dx, n);
    int rc = cnn_drv_write_bin(o, o->grad_input, dx, count);
    if (rc == DRV_OK)
        rc = write_grads(net, m, o);
    free(dx);
    return rc;
}

int cnn_drv_backward(const cnn_net *net, const cnn_drv_opts *o)
{
    const char *values[] = {o->load, o->input, o->grad_output, o->grad_input, o->grad_weights};
    const char *names[] = {"load", "input", "grad-output", "grad-input", "grad-weights"};
    float *x = NULL, *dy = NULL;
    int n = 0, rc = need_all(o, values, names, 5);
    if (rc != DRV_OK)
        return rc;
    if (!net->backward) {
        cnn_drv_error(o, "network %s was compiled with --no-train: it has no backward pass", net->name);
        return DRV_USAGE;
    }
    if ((rc = read_pair(net, o, &x, &dy, &n)) == DRV_OK) {
        void *m = cnn_drv_model(net, o, pass_batch(o, n));
        rc = m ? run_backward(net, m, o, x, dy, n) : DRV_IO;
        if (m)
            net->destroy(m);
    }
    free(x);
    free(dy);
    return rc;
}
