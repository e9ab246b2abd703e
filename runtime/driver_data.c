/* driver_data.c - MNIST-format data sets for train and eval, checked
 * against the network before any work is done: image size, channel count,
 * one label per image, labels within the network's classes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"

void cnn_drv_free_set(cnn_drv_set *s)
{
    free(s->x);
    free(s->y);
    memset(s, 0, sizeof *s);
}

int cnn_drv_need_classifier(const cnn_net *net, const cnn_drv_opts *o)
{
    if (net->out_h == 1 && net->out_w == 1)
        return DRV_OK;
    cnn_drv_error(o,
                  "'%s' supports only networks with one class per image (output 1x1xC); "
                  "%s's output is %dx%dx%d (use forward and backward)",
                  o->command, net->name, net->out_h, net->out_w, net->out_c);
    return DRV_USAGE;
}

int cnn_drv_check_images(const cnn_net *net, const cnn_drv_opts *o, const char *path, int h, int w)
{
    if (net->in_c == 1 && net->in_h == h && net->in_w == w)
        return DRV_OK;
    cnn_drv_error(o, "%s: images are %dx%dx1 but network %s takes %dx%dx%d input", path, h, w,
                  net->name, net->in_h, net->in_w, net->in_c);
    return DRV_IO;
}

/* DIR/NAME or DIR/NAME.gz into path. */
static int find_file(const cnn_drv_opts *o, const char *name, char *path, size_t len)
{
    int rc = cnn_idx_find(o->data, name, path, len);
    if (rc == -2)
        cnn_drv_error(o, "%s: directory name too long", o->data);
    else if (rc < 0)
        cnn_drv_error(o, "%s: no such file (nor %s.gz); --data names a directory of MNIST-format IDX files",
                      path, name);
    return rc < 0 ? DRV_IO : DRV_OK;
}

static int load_images(const cnn_net *net, const cnn_drv_opts *o, const char *prefix, cnn_drv_set *s,
                       char *path, size_t len)
{
    char name[64], err[1024];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", prefix);
    if (find_file(o, name, path, len) != DRV_OK)
        return DRV_IO;
    if (cnn_idx_load_images(path, &s->x, &s->n, &s->h, &s->w, err, sizeof err) < 0) {
        cnn_drv_error(o, "%s", err);
        return DRV_IO;
    }
    return cnn_drv_check_images(net, o, path, s->h, s->w);
}

/* Labels must pair with the images one to one and name a class the
 * network has: a bad label would otherwise look like divergence. */
static int load_labels(const cnn_net *net, const cnn_drv_opts *o, const char *prefix, cnn_drv_set *s,
                       const char *images)
{
    char name[64], path[4096], err[1024];
    int n = 0;
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", prefix);
    if (find_file(o, name, path, sizeof path) != DRV_OK)
        return DRV_IO;
    if (cnn_idx_load_labels(path, &s->y, &n, err, sizeof err) < 0) {
        cnn_drv_error(o, "%s", err);
        return DRV_IO;
    }
    if (n != s->n) {
        cnn_drv_error(o, "%s: %d labels for the %d images of %s", path, n, s->n, images);
        return DRV_IO;
    }
    for (int i = 0; i < n; i++)
        if (s->y[i] < 0 || s->y[i] >= net->out_c) {
            cnn_drv_error(o, "%s: label %d of image %d is not one of %s's %d classes", path, s->y[i], i,
                          net->name, net->out_c);
            return DRV_IO;
        }
    return DRV_OK;
}

int cnn_drv_load_set(const cnn_net *net, const cnn_drv_opts *o, const char *prefix, cnn_drv_set *s)
{
    char images[4096];
    memset(s, 0, sizeof *s);
    int rc = load_images(net, o, prefix, s, images, sizeof images);
    if (rc == DRV_OK)
        rc = load_labels(net, o, prefix, s, images);
    if (rc == DRV_OK && s->n == 0) {
        cnn_drv_error(o, "%s: no images", images);
        rc = DRV_IO;
    }
    if (rc != DRV_OK)
        cnn_drv_free_set(s);
    return rc;
}
