/* driver_data.c - IDX data sets for train and eval, checked against the
 * network before any work is done: item shapes and one label item per
 * input from the headers (before a .gz is inflated), then labels within
 * the network's classes.
 *
 * Inputs are items of the network's input shape in C,H,W order with C
 * omitted when it is 1 (28x28 for LeNet, 3x32x32 for a colour net).
 * Labels are one class per item for a classifier (output 1x1xC), or one
 * class per output pixel, an item of the output's H,W, for dense
 * prediction (U-Net).  A volume's D (the descriptor's in_d and out_d)
 * comes between C and H in both, kept when it is 1. */
#define _POSIX_C_SOURCE 200809L   /* sysconf */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "driver.h"

void cnn_drv_free_set(cnn_drv_set *s)
{
    free(s->x);
    free(s->y);
    memset(s, 0, sizeof *s);
}

/* The output's pixels, or voxels on a volume. */
static int out_pixels(const cnn_net *net)
{
    return (net->out_d > 0 ? net->out_d : 1) * net->out_h * net->out_w;
}

/* An input item's dimensions: C (when not 1), then D for a volume, H, W.
 * Returns how many. */
static int input_dims(const cnn_net *net, int *dims)
{
    int k = 0;
    if (net->in_c > 1)
        dims[k++] = net->in_c;
    if (net->in_d > 0)
        dims[k++] = net->in_d;
    dims[k++] = net->in_h;
    dims[k++] = net->in_w;
    return k;
}

int cnn_drv_label_dims(const cnn_net *net, int *dims)
{
    int k = 0;
    if (out_pixels(net) == 1)
        return 0;
    if (net->out_d > 0)
        dims[k++] = net->out_d;
    dims[k++] = net->out_h;
    dims[k++] = net->out_w;
    return k;
}

int cnn_drv_label_size(const cnn_net *net)
{
    return out_pixels(net);
}

int cnn_drv_has_dice(const cnn_net *net)
{
    return net->out_c == 2 && cnn_drv_label_size(net) > 1;
}

/* "3x32x32", or "1" for no dimensions. */
static const char *shape_text(char *buf, size_t len, const int *dims, int nd)
{
    int k = snprintf(buf, len, "%d", nd ? dims[0] : 1);
    for (int i = 1; i < nd && k > 0 && (size_t)k < len; i++)
        k += snprintf(buf + k, len - (size_t)k, "x%d", dims[i]);
    return buf;
}

static int same_dims(const cnn_idx_info *info, const int *dims, int nd)
{
    if (info->ndim != nd + 1)
        return 0;
    for (int i = 0; i < nd; i++)
        if (info->dims[i + 1] != dims[i])
            return 0;
    return 1;
}

/* An IDX file's item shape against the network's: inputs or labels. */
static int check_items(const cnn_net *net, const cnn_drv_opts *o, const char *path, const cnn_idx_info *info,
                       int labels)
{
    int want[CNN_IDX_MAX_DIMS] = {0};
    int nd = labels ? cnn_drv_label_dims(net, want) : input_dims(net, want);
    char got_s[80], want_s[80];
    if (same_dims(info, want, nd))
        return DRV_OK;
    shape_text(got_s, sizeof got_s, info->dims + 1, info->ndim - 1);
    shape_text(want_s, sizeof want_s, want, nd);
    if (labels)
        cnn_drv_error(o, "%s: labels per item are %s but network %s needs %s (%s)", path, got_s, net->name,
                      want_s, nd == 3 ? "one class per output voxel" : nd ? "one class per output pixel" : "one class per item");
    else
        cnn_drv_error(o, "%s: items are %s but network %s takes %s (C x %sH x W, C omitted when 1)", path, got_s,
                      net->name, want_s, net->in_d > 0 ? "D x " : "");
    return DRV_IO;
}

int cnn_drv_check_inputs(const cnn_net *net, const cnn_drv_opts *o, const char *path, const cnn_idx_info *info)
{
    return check_items(net, o, path, info, 0);
}

void cnn_drv_data_help(const cnn_net *net, FILE *f)
{
    int in[CNN_IDX_MAX_DIMS] = {0}, out[CNN_IDX_MAX_DIMS] = {0};
    int nin = input_dims(net, in), nout = cnn_drv_label_dims(net, out);
    char in_s[80], dims_s[80], out_s[120];
    shape_text(in_s, sizeof in_s, in, nin);
    if (nout)
        snprintf(out_s, sizeof out_s, "n items of %s classes", shape_text(dims_s, sizeof dims_s, out, nout));
    else
        snprintf(out_s, sizeof out_s, "n classes");
    fprintf(f,
            "data (--data DIR): DIR/train-images-idx%d-ubyte, n items of %s (C x [D x] H x W, C\n"
            "omitted when 1), unsigned bytes (scaled to [0,1]) or float32; DIR/train-labels-idx%d-ubyte,\n"
            "%s, unsigned bytes or int32; t10k-... likewise (the test set); .gz too.\n",
            1 + nin, in_s, 1 + nout, out_s);
    if (cnn_drv_has_dice(net))
        fprintf(f, "train and eval also print the mean foreground Dice score of the test set.\n");
}

/* When DIR/PREFIX-KIND-idxN-ubyte is missing, a file of the same set and
 * kind with another number of dimensions is the likely mistake (dense
 * labels for a classifier, a volume's files for an image net, 2-D images
 * for a volume of depth 1): its item shape against the network's. */
static void explain_other(const cnn_net *net, const cnn_drv_opts *o, const char *prefix, const char *kind, int ndim)
{
    char name[64], other[4096], err[1024];
    cnn_idx_info info;
    int labels = strcmp(kind, "labels") == 0;
    for (int k = 1; k <= CNN_IDX_MAX_DIMS; k++) {
        snprintf(name, sizeof name, "%s-%s-idx%d-ubyte", prefix, kind, k);
        if (k == ndim || cnn_idx_find(o->data, name, other, sizeof other) != 0)
            continue;
        if (cnn_idx_read_header(other, labels, &info, err, sizeof err) == 0)
            check_items(net, o, other, &info, labels);
        return;
    }
}

/* DIR/PREFIX-KIND-idxN-ubyte or the same .gz into path, N the file's
 * dimensions as the network implies them (MNIST's names for LeNet). */
static int find_file(const cnn_net *net, const cnn_drv_opts *o, const char *prefix, const char *kind, int ndim,
                     char *path, size_t len)
{
    char name[64];
    snprintf(name, sizeof name, "%s-%s-idx%d-ubyte", prefix, kind, ndim);
    int rc = cnn_idx_find(o->data, name, path, len);
    if (rc == -2) {
        cnn_drv_error(o, "%s: directory name too long", o->data);
    } else if (rc < 0) {
        cnn_drv_error(o, "%s: no such file (nor %s.gz); --data names a directory of IDX files", path, name);
        explain_other(net, o, prefix, kind, ndim);
    }
    return rc < 0 ? DRV_IO : DRV_OK;
}

/* Fails when n items and their labels would not fit in this machine's
 * memory, before a gzip'ed data set is inflated (a small .gz can claim
 * millions of images and hold them as zeros). */
static int check_memory(const cnn_net *net, const cnn_drv_opts *o, const char *path, int n)
{
#ifdef _SC_PHYS_PAGES
    double need = (double)n * ((double)net->in_size + cnn_drv_label_size(net)) * 4;
    double have = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
    if (have > 0 && need > have) {
        cnn_drv_error(o, "%s: %d items take %.1f GB as floats, more than this machine's %.1f GB", path, n,
                      need / 1e9, have / 1e9);
        return DRV_IO;
    }
#else
    (void)net, (void)o, (void)path, (void)n;
#endif
    return DRV_OK;
}

/* Shapes and counts against the network and each other. */
static int check_pair(const cnn_net *net, const cnn_drv_opts *o, const char *images, const cnn_idx_info *xi,
                      const char *labels, const cnn_idx_info *yi)
{
    int rc = cnn_drv_check_inputs(net, o, images, xi);
    if (rc == DRV_OK)
        rc = check_items(net, o, labels, yi, 1);
    if (rc == DRV_OK && yi->dims[0] != xi->dims[0]) {
        cnn_drv_error(o, "%s: %d labels for the %d images of %s", labels, yi->dims[0], xi->dims[0], images);
        rc = DRV_IO;
    }
    return rc;
}

/* The headers first: shapes and counts are checked before anything is
 * inflated. */
static int check_headers(const cnn_net *net, const cnn_drv_opts *o, const char *images, const char *labels)
{
    char err[1024];
    cnn_idx_info xi, yi;
    if (cnn_idx_read_header(images, 0, &xi, err, sizeof err) < 0 ||
        cnn_idx_read_header(labels, 1, &yi, err, sizeof err) < 0) {
        cnn_drv_error(o, "%s", err);
        return DRV_IO;
    }
    int rc = check_pair(net, o, images, &xi, labels, &yi);
    return rc == DRV_OK ? check_memory(net, o, images, xi.dims[0]) : rc;
}

/* Every label must name a class the network has: a bad label would
 * otherwise look like divergence. */
static int check_classes(const cnn_net *net, const cnn_drv_opts *o, const char *labels, const cnn_drv_set *s)
{
    long size = s->label_size;
    for (long i = 0; i < (long)s->n * size; i++) {
        if (s->y[i] >= 0 && s->y[i] < net->out_c)
            continue;
        if (size == 1)
            cnn_drv_error(o, "%s: label %d of image %ld is not one of %s's %d classes", labels, s->y[i], i,
                          net->name, net->out_c);
        else
            cnn_drv_error(o, "%s: label %d of item %ld (pixel %ld) is not one of %s's %d classes", labels,
                          s->y[i], i / size, i % size, net->name, net->out_c);
        return DRV_IO;
    }
    return DRV_OK;
}

static int load_data(const cnn_net *net, const cnn_drv_opts *o, cnn_drv_set *s, const char *images,
                     const char *labels)
{
    char err[1024];
    cnn_idx_info xi, yi;
    if (cnn_idx_load_inputs(images, &s->x, &xi, err, sizeof err) < 0 ||
        cnn_idx_load_classes(labels, &s->y, &yi, err, sizeof err) < 0) {
        cnn_drv_error(o, "%s", err);
        return DRV_IO;
    }
    /* again: the files may have changed since check_headers */
    int rc = check_pair(net, o, images, &xi, labels, &yi);
    s->n = xi.dims[0];
    s->label_size = cnn_drv_label_size(net);
    return rc == DRV_OK ? check_classes(net, o, labels, s) : rc;
}

int cnn_drv_load_set(const cnn_net *net, const cnn_drv_opts *o, const char *prefix, cnn_drv_set *s)
{
    char images[4096], labels[4096];
    int dims[CNN_IDX_MAX_DIMS];
    memset(s, 0, sizeof *s);
    int rc = find_file(net, o, prefix, "images", 1 + input_dims(net, dims), images, sizeof images);
    if (rc == DRV_OK)
        rc = find_file(net, o, prefix, "labels", 1 + cnn_drv_label_dims(net, dims), labels, sizeof labels);
    if (rc == DRV_OK)
        rc = check_headers(net, o, images, labels);
    if (rc == DRV_OK)
        rc = load_data(net, o, s, images, labels);
    if (rc != DRV_OK)
        cnn_drv_free_set(s);
    return rc;
}
