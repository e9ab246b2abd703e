/* idx.c - MNIST-format IDX files (LeCun's format), plain or gzip'ed.
 *
 * Header: a big-endian magic (0x00000803 images, 0x00000801 labels) and one
 * big-endian uint32 per dimension, then uint8 data.  zlib's gzread reads
 * uncompressed files transparently, so one path serves both.  Data sets
 * are untrusted input: dimensions are bounded (n*h*w < 2^31) and short or
 * over-long files are errors. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cnnrt.h"

#define IDX_MAX_BYTES ((uint64_t)INT_MAX)   /* so that every count fits an int */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Reads up to n bytes (n may exceed gzread's unsigned int); returns the
 * count read, or -1 on a read or decompression error. */
static long long gz_read_full(gzFile f, unsigned char *p, uint64_t n)
{
    uint64_t done = 0;
    while (done < n) {
        uint64_t want = n - done > (1u << 30) ? (1u << 30) : n - done;
        int got = gzread(f, p + done, (unsigned)want);
        if (got < 0)
            return -1;
        if (got == 0)
            break;
        done += (uint64_t)got;
    }
    return (long long)done;
}

/* zlib's reason; gzerror puts the path first, which our messages have. */
static const char *gz_msg(gzFile f, const char *path)
{
    int code;
    const char *m = gzerror(f, &code);
    size_t n = strlen(path);
    if (code == Z_ERRNO)
        return strerror(errno);
    if (strncmp(m, path, n) == 0 && m[n] == ':' && m[n + 1] == ' ')
        return m + n + 2;
    return *m ? m : "unknown zlib error";
}

/* Opens path and checks the magic and dims; *bytes = product of dims. */
static gzFile idx_open(const char *path, uint32_t magic, int ndims, uint32_t *dims,
                       uint64_t *bytes, char *err, size_t errlen)
{
    unsigned char hdr[16];
    uint32_t m;
    long long got;
    int i, hlen = 4 + 4 * ndims;
    gzFile f;
    if (!path) {
        set_err(err, errlen, "IDX: no path");
        return NULL;
    }
    errno = 0;
    if (!(f = gzopen(path, "rb"))) {
        set_err(err, errlen, "%s: cannot open: %s", path, errno ? strerror(errno) : "out of memory");
        return NULL;
    }
    got = gz_read_full(f, hdr, (uint64_t)hlen);
    if (got < 0) {
        set_err(err, errlen, "%s: read error: %s", path, gz_msg(f, path));
        goto fail;
    }
    if (got < 4) {
        set_err(err, errlen, "%s: too short for an IDX file", path);
        goto fail;
    }
    m = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    if (m != magic) {
        set_err(err, errlen, "%s: bad magic number 0x%08lx (expected 0x%08lx: IDX %s)", path,
                (unsigned long)m, (unsigned long)magic, magic == 0x803 ? "images" : "labels");
        goto fail;
    }
    if (got < hlen) {
        set_err(err, errlen, "%s: truncated header", path);
        goto fail;
    }
    *bytes = 1;
    for (i = 0; i < ndims; i++) {
        const unsigned char *d = hdr + 4 + 4 * i;
        dims[i] = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
        if (dims[i] == 0) {
            set_err(err, errlen, "%s: dimension %d is zero", path, i);
            goto fail;
        }
        *bytes *= dims[i];          /* below 2^31 * 2^32: no overflow */
        if (*bytes > IDX_MAX_BYTES) {
            set_err(err, errlen, "%s: dimensions too large (2^31 bytes of data or more)", path);
            goto fail;
        }
    }
    return f;
fail:
    gzclose(f);
    return NULL;
}

/* The items replace the bytes in place, from the last one down (item i
 * covers bytes size*i.., which are never below byte i, so no byte is
 * overwritten before it is read). */
static void widen_pixels(void *buf, uint64_t n)
{
    const unsigned char *raw = buf;
    float *x = buf;
    while (n--)
        x[n] = (float)raw[n] / 255.0f;  /* as torchvision: float division by 255 */
}

static void widen_labels(void *buf, uint64_t n)
{
    const unsigned char *raw = buf;
    int *y = buf;
    while (n--)
        y[n] = raw[n];
}

/* Reads up to `bytes` bytes into a buffer that grows with the data that
 * actually arrives: a short file whose header claims 2 GB costs no more
 * than its real length.  Returns the count read, -1 on a read error or -2
 * when memory runs out (*p is then freed and NULL). */
static long long idx_read_growing(gzFile f, unsigned char **p, uint64_t bytes)
{
    uint64_t cap = 0, done = 0;
    long long rc = 0;
    *p = NULL;
    while (done < bytes && rc == 0) {
        unsigned char *q;
        long long got;
        if (done == cap) {
            cap = cap == 0 ? (1u << 20) : 2 * cap;
            cap = cap < bytes ? cap : bytes;
            if (!(q = realloc(*p, (size_t)cap))) {
                rc = -2;
                break;
            }
            *p = q;
        }
        got = gz_read_full(f, *p + done, cap - done);
        if (got < 0)
            rc = -1;
        else if (got == 0)
            break;   /* the end of the file */
        else
            done += (uint64_t)got;
    }
    if (rc == 0)
        return (long long)done;
    free(*p);
    *p = NULL;
    return rc;
}

/* Inflates exactly `bytes` bytes of data and insists on the end of the
 * file: no more is inflated than the header promised. */
static unsigned char *idx_data(gzFile f, const char *path, uint64_t bytes, char *err, size_t errlen)
{
    unsigned char *p, extra;
    long long got = idx_read_growing(f, &p, bytes);
    if (got == -2)
        set_err(err, errlen, "%s: out of memory", path);
    else if (got < 0)
        set_err(err, errlen, "%s: read error: %s", path, gz_msg(f, path));
    else if ((uint64_t)got < bytes)
        set_err(err, errlen, "%s: truncated: %llu bytes of data instead of %llu", path,
                (unsigned long long)got, (unsigned long long)bytes);
    else if ((got = gz_read_full(f, &extra, 1)) < 0)
        set_err(err, errlen, "%s: read error after the data: %s", path, gz_msg(f, path));
    else if (got > 0)
        set_err(err, errlen, "%s: unexpected bytes after the data", path);
    else
        return p;
    free(p);
    return NULL;
}

/* Opens, checks the header, reads the bytes and widens them to items of
 * `size` bytes in the same buffer (grown once more at the end: realloc of
 * a large block remaps its pages rather than copy them), so a .gz that
 * claims more than it holds costs what it holds, and a valid one never
 * needs a second copy. */
static void *idx_load(const char *path, uint32_t magic, int ndims, uint32_t *dims, size_t size,
                      void (*widen)(void *, uint64_t), char *err, size_t errlen)
{
    uint64_t bytes;
    unsigned char *buf, *wide = NULL;
    gzFile f = idx_open(path, magic, ndims, dims, &bytes, err, errlen);
    if (!f)
        return NULL;
    if ((buf = idx_data(f, path, bytes, err, errlen))) {
        if (!(wide = realloc(buf, (size_t)bytes * size))) {
            free(buf);
            set_err(err, errlen, "%s: out of memory", path);
        } else {
            widen(wide, bytes);
        }
    }
    gzclose(f);
    return wide;
}

int cnn_idx_load_images(const char *path, float **out, int *n, int *h, int *w,
                        char *err, size_t errlen)
{
    uint32_t dims[3];
    float *x = idx_load(path, 0x00000803, 3, dims, sizeof *x, widen_pixels, err, errlen);
    if (!x)
        return -1;
    *out = x;
    *n = (int)dims[0];
    *h = (int)dims[1];
    *w = (int)dims[2];
    return 0;
}

int cnn_idx_load_labels(const char *path, int **out, int *n, char *err, size_t errlen)
{
    uint32_t dim;
    int *y = idx_load(path, 0x00000801, 1, &dim, sizeof *y, widen_labels, err, errlen);
    if (!y)
        return -1;
    *out = y;
    *n = (int)dim;
    return 0;
}

int cnn_idx_header(const char *path, int *n, int *h, int *w, char *err, size_t errlen)
{
    uint32_t dims[3] = {0, 0, 0};
    uint64_t bytes;
    int images = h != NULL;
    gzFile f = idx_open(path, images ? 0x00000803 : 0x00000801, images ? 3 : 1, dims, &bytes, err, errlen);
    if (!f)
        return -1;
    gzclose(f);
    *n = (int)dims[0];
    if (images) {
        *h = (int)dims[1];
        *w = (int)dims[2];
    }
    return 0;
}

static int file_exists(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f)
        fclose(f);
    return f != NULL;
}

int cnn_idx_find(const char *dir, const char *name, char *out, size_t outlen)
{
    int k = snprintf(out, outlen, "%s/%s.gz", dir, name);
    if (k < 0 || (size_t)k >= outlen)
        return -2;
    out[k - 3] = '\0';              /* DIR/NAME first */
    if (file_exists(out))
        return 0;
    out[k - 3] = '.';
    if (file_exists(out))
        return 0;
    out[k - 3] = '\0';
    return -1;
}
