/* driver_predict.c - the `predict` command: the most likely class of each
 * image, or of each output pixel or voxel of a dense net, for some files.
 *
 * A FILE whose name ends in ".bin" holds raw little-endian float32 NCHW
 * items; any other FILE is an IDX file of inputs (plain or .gz): unsigned
 * bytes scaled to [0,1] like the training data, or float32.  One output
 * line per item, INDEX counting from 0 over all files in order: for a
 * classifier "INDEX CLASS PROBABILITY" (for a network without a softmax
 * the last column is the winning output's value rather than a
 * probability); for a dense net "INDEX N0 N1 ...", the pixels (voxels)
 * predicted as each class.
 *
 * --output MAP also writes the classes as an IDX file in the form of the
 * labels train and eval read (driver_data.c): n items of the output's
 * [D x] H x W (n classes for a classifier), unsigned bytes, or int32 for
 * more than 256 classes.  It is written once every FILE has been read. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver_commands.h"
#include "io.h"

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

/* The predicted classes of the items so far, encoded as --output's IDX
 * body (header room first); NULL body when there is no --output. */
typedef struct {
    unsigned char *bytes;
    size_t len, cap;
    int wide;           /* int32 classes, else unsigned bytes */
    long items;
} class_map;

static int map_init(class_map *map, const cnn_net *net, const cnn_drv_opts *o)
{
    int dims[CNN_IDX_MAX_DIMS];
    memset(map, 0, sizeof *map);
    map->wide = net->out_c > 256;
    map->len = 4 + 4 * (size_t)(1 + cnn_drv_label_dims(net, dims));   /* the header's room */
    if (!o->output)
        return DRV_OK;
    map->cap = map->len + 4096;
    if (!(map->bytes = malloc(map->cap))) {
        cnn_drv_error(o, "out of memory");
        return DRV_IO;
    }
    return DRV_OK;
}

/* Room for n more items of `labels` classes each. */
static int map_reserve(class_map *map, const cnn_drv_opts *o, int n, long labels)
{
    size_t need = map->len + (size_t)n * (size_t)labels * (map->wide ? 4 : 1);
    if (!map->bytes || need <= map->cap)
        return DRV_OK;
    size_t cap = need > 2 * map->cap ? need : 2 * map->cap;
    unsigned char *more = realloc(map->bytes, cap);
    if (!more) {
        cnn_drv_error(o, "%s: out of memory for %zu bytes of classes", o->output, need);
        return DRV_IO;
    }
    map->bytes = more;
    map->cap = cap;
    return DRV_OK;
}

static void put_be32(unsigned char *p, unsigned long v)
{
    for (int b = 0; b < 4; b++)
        p[b] = (unsigned char)(v >> (24 - 8 * b));
}

static void map_add(class_map *map, int c)
{
    if (!map->bytes)
        return;
    if (map->wide) {
        put_be32(map->bytes + map->len, (unsigned long)c);
        map->len += 4;
    } else {
        map->bytes[map->len++] = (unsigned char)c;
    }
}

static int map_write(class_map *map, const cnn_net *net, const cnn_drv_opts *o)
{
    int dims[CNN_IDX_MAX_DIMS];
    int nd = cnn_drv_label_dims(net, dims);
    unsigned char *h = map->bytes;
    h[0] = h[1] = 0;
    h[2] = map->wide ? CNN_IDX_INT32 : CNN_IDX_UBYTE;
    h[3] = (unsigned char)(1 + nd);
    put_be32(h + 4, (unsigned long)map->items);
    for (int i = 0; i < nd; i++)
        put_be32(h + 8 + 4 * i, (unsigned long)dims[i]);
    if (cnnrt_write_file(o->output, map->bytes, map->len, 1) < 0) {
        cnn_drv_error(o, "%s: cannot write: %s", o->output, strerror(errno));
        return DRV_IO;
    }
    return DRV_OK;
}

/* One item's line, its classes added to map; counts has out_c longs. */
static void predict_item(const cnn_net *net, const float *y, long index, long *counts, class_map *map)
{
    long pixels = cnn_drv_label_size(net);
    if (pixels == 1) {
        int c = cnn_drv_argmax(y, net->out_c, 1);
        printf("%ld %d %.6f\n", index, c, y[c]);
        map_add(map, c);
        return;
    }
    memset(counts, 0, (size_t)net->out_c * sizeof *counts);
    for (long p = 0; p < pixels; p++) {
        int c = cnn_drv_argmax(y + p, net->out_c, pixels);
        counts[c]++;
        map_add(map, c);
    }
    printf("%ld", index);
    for (int c = 0; c < net->out_c; c++)
        printf(" %ld", counts[c]);
    printf("\n");
}

static int predict_file(const cnn_net *net, void *m, const cnn_drv_opts *o, const char *path, class_map *map)
{
    float *x = NULL;
    int n = 0;
    int rc = load_inputs(net, o, path, &x, &n);
    if (rc != DRV_OK)
        return rc;
    if ((rc = map_reserve(map, o, n, cnn_drv_label_size(net))) != DRV_OK) {
        free(x);
        return rc;
    }
    float *y = malloc((size_t)n * (size_t)net->out_size * sizeof *y);
    long *counts = malloc((size_t)net->out_c * sizeof *counts);
    if (!y || !counts) {
        cnn_drv_error(o, "%s: out of memory for %d outputs", path, n);
        rc = DRV_IO;
    } else {
        net->forward(m, x, y, n);
        for (int i = 0; i < n; i++)
            predict_item(net, y + (size_t)i * (size_t)net->out_size, map->items++, counts, map);
    }
    free(counts);
    free(y);
    free(x);
    return rc;
}

/* --output must not be one of the FILEs it is made from. */
static int check_output(const cnn_drv_opts *o)
{
    for (int i = 0; o->output && i < o->nfiles; i++)
        if (cnnrt_same_file(o->output, o->files[i])) {
            cnn_drv_error(o, "--output '%s' would overwrite the input '%s'", o->output, o->files[i]);
            return DRV_USAGE;
        }
    if (o->output && cnnrt_out_probe(o->output) != 0) {   /* before the work */
        cnn_drv_error(o, "%s: cannot write: %s", o->output, strerror(errno));
        return DRV_IO;
    }
    return DRV_OK;
}

int cnn_drv_predict(const cnn_net *net, const cnn_drv_opts *o)
{
    class_map map;
    int rc = cnn_drv_need(o, o->load, "load");
    if (rc == DRV_OK && o->nfiles == 0) {
        cnn_drv_error(o, "'predict' needs at least one FILE");
        rc = DRV_USAGE;
    }
    if (rc == DRV_OK)
        rc = check_output(o);
    if (rc != DRV_OK)
        return rc;
    void *m = cnn_drv_model(net, o, o->batch);
    if (!m)
        return DRV_IO;
    rc = map_init(&map, net, o);
    for (int i = 0; i < o->nfiles && rc == DRV_OK; i++)
        rc = predict_file(net, m, o, o->files[i], &map);
    if (rc == DRV_OK && o->output)
        rc = map_write(&map, net, o);
    free(map.bytes);
    net->destroy(m);
    return rc;
}
