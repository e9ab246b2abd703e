/* driver_predict.c - the `predict` command: the most likely class of each
 * image of some files.
 *
 * A FILE whose name ends in ".bin" holds raw little-endian float32 NCHW
 * items; any other FILE is an IDX file of inputs (plain or .gz): unsigned
 * bytes scaled to [0,1] like the training data, or float32.  One output line per image:
 * "INDEX CLASS PROBABILITY", INDEX counting from 0 over all files in order.
 * For a network without a softmax the last column is the winning output's
 * value rather than a probability. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver_commands.h"

static int is_bin(const char *path)
{
    size_t n = strlen(path);
    return n >= 4 && strcmp(path + n - 4, ".bin") == 0;
}

/* The items of one file as network inputs: *x holds *n items. */
static int load_inputs(const cnn_net *net, const cnn_drv_opts *o, const char *path, float **x, int *n)
{
    char err[1024];
    cnn_idx_info info;
    if (is_bin(path))
        return cnn_drv_read_bin(o, path, (size_t)net->in_size, x, n);
    /* The header first: a wrong item shape fails before a .gz is inflated. */
    if (cnn_idx_read_header(path, 0, &info, err, sizeof err) < 0) {
        cnn_drv_error(o, "%s", err);
        return DRV_IO;
    }
    if (cnn_drv_check_inputs(net, o, path, &info) != DRV_OK)
        return DRV_IO;
    if (cnn_idx_load_inputs(path, x, &info, err, sizeof err) < 0) {
        cnn_drv_error(o, "%s", err);
        return DRV_IO;
    }
    if (cnn_drv_check_inputs(net, o, path, &info) != DRV_OK) {
        free(*x);
        *x = NULL;
        return DRV_IO;
    }
    *n = info.dims[0];
    return DRV_OK;
}

static int predict_file(const cnn_net *net, void *m, const cnn_drv_opts *o, const char *path, long *index)
{
    float *x = NULL;
    int n = 0;
    int rc = load_inputs(net, o, path, &x, &n);
    if (rc != DRV_OK)
        return rc;
    float *y = malloc((size_t)n * (size_t)net->out_size * sizeof *y);
    if (!y) {
        cnn_drv_error(o, "%s: out of memory for %d outputs", path, n);
        free(x);
        return DRV_IO;
    }
    net->forward(m, x, y, n);
    for (int i = 0; i < n; i++) {
        const float *yi = y + (size_t)i * (size_t)net->out_size;
        int c = cnn_drv_argmax(yi, net->out_c, 1);
        printf("%ld %d %.6f\n", (*index)++, c, yi[c]);
    }
    free(y);
    free(x);
    return DRV_OK;
}

int cnn_drv_predict(const cnn_net *net, const cnn_drv_opts *o)
{
    long index = 0;
    int rc = cnn_drv_need(o, o->load, "load");
    if (rc == DRV_OK)
        rc = cnn_drv_need_classifier(net, o);
    if (rc == DRV_OK && o->nfiles == 0) {
        cnn_drv_error(o, "'predict' needs at least one FILE");
        rc = DRV_USAGE;
    }
    if (rc != DRV_OK)
        return rc;
    void *m = cnn_drv_model(net, o, o->batch);
    if (!m)
        return DRV_IO;
    for (int i = 0; i < o->nfiles && rc == DRV_OK; i++)
        rc = predict_file(net, m, o, o->files[i], &index);
    net->destroy(m);
    return rc;
}
