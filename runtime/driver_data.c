/* driver_data.c - MNIST-format data sets for train and eval, checked
 * against the network before any work is done: image size, channel count
 * and one label per image from the headers (before a .gz is inflated),
 * then labels within the network's classes. */
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

/* Fails when n images and labels would not fit in this machine's memory,
 * before a gzip'ed data set is inflated (a small .gz can claim millions
 * of images and hold them as zeros). */
static int check_memory(const cnn_net *net, const cnn_drv_opts *o, const char *path, int n)
{
#ifdef _SC_PHYS_PAGES
    double need = (double)n * ((double)net->in_size + 1) * 4;
    double have = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
    if (have > 0 && need > have) {
        cnn_drv_error(o, "%s: %d images take %.1f GB as floats, more than this machine's %.1f GB", path, n,
                      need / 1e9, have / 1e9);
        return DRV_IO;
    }
#else
    (void)net, (void)o, (void)path, (void)n;
#endif
    return DRV_OK;
}

/* The headers first: image size and count are checked against the network
 * and the labels before anything is inflated. */
static int check_headers(const cnn_net *net, const cnn_drv_opts *o, const char *images, const char *labels)
{
    char err[1024];
    int n, h, w, nl;
    if (cnn_idx_header(images, &n, &h, &w, err, sizeof err) < 0 ||
        cnn_idx_header(labels, &nl, NULL, NULL, err, sizeof err) < 0) {
        cnn_drv_error(o, "%s", err);
        return DRV_IO;
    }
    int rc = cnn_drv_check_images(net, o, images, h, w);
    if (rc == DRV_OK && nl != n) {
        cnn_drv_error(o, "%s: %d labels for the %d images of %s", labels, nl, n, images);
        rc = DRV_IO;
    }
    return rc == DRV_OK ? check_memory(net, o, images, n) : rc;
}

/* Labels must pair with the images one to one and name a class the
 * network has: a bad label would otherwise look like divergence. */
static int load_data(const cnn_net *net, const cnn_drv_opts *o, cnn_drv_set *s, const char *images,
                     const char *labels)
{
    char err[1024];
    int n = 0;
    if (cnn_idx_load_images(images, &s->x, &s->n, &s->h, &s->w, err, sizeof err) < 0 ||
        cnn_idx_load_labels(labels, &s->y, &n, err, sizeof err) < 0) {
        cnn_drv_error(o, "%s", err);
        return DRV_IO;
    }
    int rc = cnn_drv_check_images(net, o, images, s->h, s->w);
    if (rc == DRV_OK && n != s->n) {   /* the files changed since check_headers */
        cnn_drv_error(o, "%s: %d labels for the %d images of %s", labels, n, s->n, images);
        return DRV_IO;
    }
    for (int i = 0; rc == DRV_OK && i < n; i++)
        if (s->y[i] < 0 || s->y[i] >= net->out_c) {
            cnn_drv_error(o, "%s: label %d of image %d is not one of %s's %d classes", labels, s->y[i], i,
                          net->name, net->out_c);
            rc = DRV_IO;
        }
    return rc;
}

int cnn_drv_load_set(const cnn_net *net, const cnn_drv_opts *o, const char *prefix, cnn_drv_set *s)
{
    char images[4096], labels[4096], name[64];
    memset(s, 0, sizeof *s);
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", prefix);
    int rc = find_file(o, name, images, sizeof images);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", prefix);
    if (rc == DRV_OK)
        rc = find_file(o, name, labels, sizeof labels);
    if (rc == DRV_OK)
        rc = check_headers(net, o, images, labels);
    if (rc == DRV_OK)
        rc = load_data(net, o, s, images, labels);
    if (rc == DRV_OK && s->n == 0) {
        cnn_drv_error(o, "%s: no images", images);
        rc = DRV_IO;
    }
    if (rc != DRV_OK)
        cnn_drv_free_set(s);
    return rc;
}
