/* idx.c - IDX files (LeCun's MNIST format), plain or gzip'ed.
 *
 * Header: two zero bytes, the data type (0x08 unsigned byte, 0x0C int32,
 * 0x0D float32, ...) and the number of dimensions, then one big-endian
 * uint32 per dimension, then the values, big-endian.  zlib's gzread reads
 * uncompressed files transparently, so one path serves both.  Data sets
 * are untrusted input: dimensions are bounded (fewer than 2^31 values)
 * and short or over-long files are errors. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cnnrt.h"

#define IDX_MAX_VALUES ((uint64_t)INT_MAX)   /* so that every count fits an int */

/* What a file may hold in one role: inputs are read as floats, labels as
 * ints; either from unsigned bytes or from a 4-byte type. */
typedef struct {
    const char *what;       /* for messages */
    int wide_type;          /* the 4-byte type the role also takes */
    void (*from_bytes)(void *buf, uint64_t n);
    int (*check)(const void *buf, uint64_t n, const cnn_idx_info *info, const char *path, char *err,
                 size_t errlen);
} idx_role;

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

static const char *type_name(int type)
{
    switch (type) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
    default: return NULL;
    }
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The magic: two zero bytes, a type the role takes, 1..CNN_IDX_MAX_DIMS
 * dimensions. */
static int check_magic(const unsigned char *hdr, const idx_role *role, const char *path, char *err,
                       size_t errlen)
{
    const char *name = type_name(hdr[2]);
    if (hdr[0] != 0 || hdr[1] != 0) {
        set_err(err, errlen, "%s: bad magic number 0x%08lx: not an IDX file", path, (unsigned long)be32(hdr));
        return -1;
    }
    if (!name) {
        set_err(err, errlen, "%s: unknown IDX data type 0x%02x", path, hdr[2]);
        return -1;
    }
    if (hdr[2] != CNN_IDX_UBYTE && hdr[2] != role->wide_type) {
        set_err(err, errlen, "%s: IDX %s data (type 0x%02x) cannot be %s: they must be unsigned bytes (0x08) or %s (0x%02x)",
                path, name, hdr[2], role->what, type_name(role->wide_type), role->wide_type);
        return -1;
    }
    if (hdr[3] < 1 || hdr[3] > CNN_IDX_MAX_DIMS) {
        set_err(err, errlen, "%s: %d dimensions; IDX %s may have 1 to %d", path, hdr[3], role->what,
                CNN_IDX_MAX_DIMS);
        return -1;
    }
    return 0;
}

/* The dimensions after the magic; *values = their product. */
static int read_dims(gzFile f, cnn_idx_info *info, uint64_t *values, const char *path, char *err,
                     size_t errlen)
{
    unsigned char hdr[4 * CNN_IDX_MAX_DIMS];
    long long got = gz_read_full(f, hdr, 4 * (uint64_t)info->ndim);
    if (got < 0) {
        set_err(err, errlen, "%s: read error: %s", path, gz_msg(f, path));
        return -1;
    }
    if (got < 4 * info->ndim) {
        set_err(err, errlen, "%s: truncated header", path);
        return -1;
    }
    *values = 1;
    for (int i = 0; i < info->ndim; i++) {
        uint32_t d = be32(hdr + 4 * i);
        if (d == 0) {
            set_err(err, errlen, "%s: dimension %d is zero", path, i);
            return -1;
        }
        *values *= d;               /* below 2^31 * 2^32: no overflow */
        if (*values > IDX_MAX_VALUES) {
            set_err(err, errlen, "%s: dimensions too large (2^31 values or more)", path);
            return -1;
        }
        info->dims[i] = (int)d;     /* d <= *values < 2^31 */
    }
    return 0;
}

/* The MNIST shapes of the older calls (ndim 0: any): images n x h x w,
 * labels n. */
static int need_dims(int got, int ndim, const char *path, char *err, size_t errlen)
{
    if (ndim == 0 || got == ndim)
        return 0;
    set_err(err, errlen, "%s: %d dimension%s, but IDX %s have %s", path, got, got == 1 ? "" : "s",
            ndim == 3 ? "images" : "labels", ndim == 3 ? "3 (n x rows x columns)" : "1 (n)");
    return -1;
}

/* Opens path and checks the header (ndim dimensions, 0: any);
 * *values = product of dims. */
static gzFile idx_open(const char *path, const idx_role *role, int ndim, cnn_idx_info *info,
                       uint64_t *values, char *err, size_t errlen)
{
    unsigned char magic[4];
    long long got;
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
    got = gz_read_full(f, magic, 4);
    if (got < 0)
        set_err(err, errlen, "%s: read error: %s", path, gz_msg(f, path));
    else if (got < 4)
        set_err(err, errlen, "%s: too short for an IDX file", path);
    if (got == 4 && check_magic(magic, role, path, err, errlen) == 0 &&
        need_dims(magic[3], ndim, path, err, errlen) == 0) {
        info->type = magic[2];
        info->ndim = magic[3];
        if (read_dims(f, info, values, path, err, errlen) == 0)
            return f;
    }
    gzclose(f);
    return NULL;
}

/* The values replace the bytes in place, from the last one down (value i
 * covers bytes 4*i.., which are never below byte i, so no byte is
 * overwritten before it is read). */
static void pixels_from_bytes(void *buf, uint64_t n)
{
    const unsigned char *raw = buf;
    float *x = buf;
    while (n--)
        x[n] = (float)raw[n] / 255.0f;  /* as torchvision: float division by 255 */
}

static void labels_from_bytes(void *buf, uint64_t n)
{
    const unsigned char *raw = buf;
    int *y = buf;
    while (n--)
        y[n] = raw[n];
}

/* Big-endian 4-byte values to this machine's order, in place; the bits
 * are kept (int32 as two's complement, float32 as IEEE 754). */
static void from_big_endian(void *buf, uint64_t n)
{
    unsigned char *p = buf;
    for (uint64_t i = 0; i < n; i++, p += 4) {
        uint32_t v = be32(p);
        memcpy(p, &v, 4);
    }
}

/* A NaN or infinite input would only show up later as a diverged loss. */
static int check_finite(const void *buf, uint64_t n, const cnn_idx_info *info, const char *path,
                        char *err, size_t errlen)
{
    const float *x = buf;
    uint64_t item = n / (uint64_t)info->dims[0];
    for (uint64_t i = 0; i < n; i++)
        if (!isfinite(x[i])) {
            set_err(err, errlen, "%s: item %llu holds %s (value %llu of the item)", path,
                    (unsigned long long)(i / item), isnan(x[i]) ? "NaN" : "an infinity",
                    (unsigned long long)(i % item));
            return -1;
        }
    return 0;
}

static const idx_role inputs_role = {"inputs", CNN_IDX_FLOAT32, pixels_from_bytes, check_finite};
static const idx_role labels_role = {"labels", CNN_IDX_INT32, labels_from_bytes, NULL};

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

/* Bytes are widened to 4-byte values in the same buffer (grown once more
 * at the end: realloc of a large block remaps its pages rather than copy
 * them), 4-byte values are reordered in place, so a .gz that claims more
 * than it holds costs what it holds, and a valid one never needs a second
 * copy. */
static void *idx_convert(unsigned char *buf, const idx_role *role, const cnn_idx_info *info,
                         uint64_t values, const char *path, char *err, size_t errlen)
{
    void *wide = buf;
    if (info->type == CNN_IDX_UBYTE) {
        if (!(wide = realloc(buf, (size_t)values * 4))) {
            free(buf);
            set_err(err, errlen, "%s: out of memory", path);
            return NULL;
        }
        role->from_bytes(wide, values);
        return wide;
    }
    from_big_endian(wide, values);
    if (role->check && role->check(wide, values, info, path, err, errlen) < 0) {
        free(wide);
        return NULL;
    }
    return wide;
}

/* Opens, checks the header, reads and converts the values.  *info is
 * only written on success. */
static void *idx_load(const char *path, const idx_role *role, int ndim, cnn_idx_info *info, char *err,
                      size_t errlen)
{
    cnn_idx_info got = {0, 0, {0}};
    uint64_t values;
    void *out = NULL;
    unsigned char *buf;
    gzFile f = idx_open(path, role, ndim, &got, &values, err, errlen);
    if (!f)
        return NULL;
    uint64_t size = got.type == CNN_IDX_UBYTE ? 1 : 4;
    if ((buf = idx_data(f, path, values * size, err, errlen)))
        out = idx_convert(buf, role, &got, values, path, err, errlen);
    gzclose(f);
    if (out)
        *info = got;
    return out;
}

int cnn_idx_read_header(const char *path, int labels, cnn_idx_info *info, char *err, size_t errlen)
{
    cnn_idx_info got = {0, 0, {0}};
    uint64_t values;
    gzFile f = idx_open(path, labels ? &labels_role : &inputs_role, 0, &got, &values, err, errlen);
    if (!f)
        return -1;
    gzclose(f);
    *info = got;
    return 0;
}

int cnn_idx_load_inputs(const char *path, float **out, cnn_idx_info *info, char *err, size_t errlen)
{
    float *x = idx_load(path, &inputs_role, 0, info, err, errlen);
    if (!x)
        return -1;
    *out = x;
    return 0;
}

int cnn_idx_load_classes(const char *path, int **out, cnn_idx_info *info, char *err, size_t errlen)
{
    int *y = idx_load(path, &labels_role, 0, info, err, errlen);
    if (!y)
        return -1;
    *out = y;
    return 0;
}

int cnn_idx_load_images(const char *path, float **out, int *n, int *h, int *w,
                        char *err, size_t errlen)
{
    cnn_idx_info info;
    float *x = idx_load(path, &inputs_role, 3, &info, err, errlen);
    if (!x)
        return -1;
    *out = x;
    *n = info.dims[0];
    *h = info.dims[1];
    *w = info.dims[2];
    return 0;
}

int cnn_idx_load_labels(const char *path, int **out, int *n, char *err, size_t errlen)
{
    cnn_idx_info info;
    int *y = idx_load(path, &labels_role, 1, &info, err, errlen);
    if (!y)
        return -1;
    *out = y;
    *n = info.dims[0];
    return 0;
}

int cnn_idx_header(const char *path, int *n, int *h, int *w, char *err, size_t errlen)
{
    cnn_idx_info info;
    uint64_t values;
    int images = h != NULL;
    gzFile f = idx_open(path, images ? &inputs_role : &labels_role, images ? 3 : 1, &info, &values, err,
                        errlen);
    if (!f)
        return -1;
    gzclose(f);
    *n = info.dims[0];
    if (images) {
        *h = info.dims[1];
        *w = info.dims[2];
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
