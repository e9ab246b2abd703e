/* driver_bin.c - raw little-endian float32 files (.bin), NCHW items back to
 * back, as numpy's x.astype('<f4').tofile() writes them.
 *
 * Reading takes the whole file (pipes too) and insists on a whole number
 * of items.  Writing goes through cnnrt_out (io.h): atomic for regular
 * files (a failure leaves the old file alone), direct for devices and
 * FIFOs. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "io.h"

/* Reads all of f; *len bytes into a malloc'ed buffer. */
static int slurp(FILE *f, unsigned char **out, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    unsigned char *p = malloc(cap);
    while (p) {
        n += fread(p + n, 1, cap - n, f);
        if (n < cap)
            break;
        unsigned char *q = cap <= ((size_t)-1) / 2 ? realloc(p, cap * 2) : NULL;
        if (!q) {
            free(p);
            errno = ENOMEM;
            return -1;
        }
        p = q;
        cap *= 2;
    }
    if (!p || ferror(f)) {
        free(p);
        return -1;
    }
    *out = p;
    *len = n;
    return 0;
}

/* In place: the buffer holds little-endian bytes, and comes back as host
 * floats (a no-op on little-endian hosts, but written portably). */
static void decode_le(unsigned char *bytes, size_t count)
{
    float *v = (float *)(void *)bytes;
    for (size_t i = 0; i < count; i++) {
        const unsigned char *b = bytes + 4 * i;
        uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        memcpy(&v[i], &u, 4);
    }
}

static int check_size(const cnn_drv_opts *o, const char *path, size_t len, size_t item)
{
    size_t bytes = item * 4;
    if (len == 0) {
        cnn_drv_error(o, "%s: empty file; expected float32 items of %zu floats (%zu bytes)", path, item,
                      bytes);
        return DRV_IO;
    }
    if (len % bytes) {
        cnn_drv_error(o,
                      "%s: %zu bytes is not a whole number of items of %zu float32 (%zu bytes): "
                      "%zu items and %zu bytes over",
                      path, len, item, bytes, len / bytes, len % bytes);
        return DRV_IO;
    }
    if (len / bytes > INT_MAX) {
        cnn_drv_error(o, "%s: too many items (%zu)", path, len / bytes);
        return DRV_IO;
    }
    return DRV_OK;
}

int cnn_drv_read_bin(const cnn_drv_opts *o, const char *path, size_t item, float **out, int *n)
{
    unsigned char *p = NULL;
    size_t len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        cnn_drv_error(o, "%s: cannot open: %s", path, strerror(errno));
        return DRV_IO;
    }
    int failed = slurp(f, &p, &len);
    int saved = errno;
    fclose(f);
    if (failed) {
        cnn_drv_error(o, "%s: cannot read: %s", path, strerror(saved));
        return DRV_IO;
    }
    if (check_size(o, path, len, item) != DRV_OK) {
        free(p);
        return DRV_IO;
    }
    /* malloc's alignment suits float, so the byte buffer is the array. */
    decode_le(p, len / 4);
    *out = (float *)(void *)p;
    *n = (int)(len / (item * 4));
    return DRV_OK;
}

static int write_le(int fd, const float *v, size_t count)
{
    unsigned char buf[4096];
    size_t k = 0;
    for (size_t i = 0; i < count; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        for (int b = 0; b < 4; b++)
            buf[k++] = (unsigned char)(u >> (8 * b));
        if (k == sizeof buf) {
            if (cnnrt_write_all(fd, buf, k))
                return -1;
            k = 0;
        }
    }
    return k ? cnnrt_write_all(fd, buf, k) : 0;
}

int cnn_drv_write_bin(const cnn_drv_opts *o, const char *path, const float *v, size_t count)
{
    cnnrt_out out;
    int failed = cnnrt_out_open(&out, path);
    if (!failed) {
        failed = write_le(out.fd, v, count) || cnnrt_out_close(&out, 1);
        if (failed)
            cnnrt_out_abort(&out);
        else
            failed = cnnrt_out_commit(&out, 1);
    }
    if (failed)
        cnn_drv_error(o, "%s: cannot write: %s", path, strerror(errno));
    return failed ? DRV_IO : DRV_OK;
}
