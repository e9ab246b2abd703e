/* safetensors.c - read and write safetensors weight files.
 *
 * Format: 8-byte little-endian header length N, N bytes of JSON header,
 * then the data section.  The header maps tensor names to
 * {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]} (offsets
 * relative to the data section) plus an optional "__metadata__" object of
 * strings.  Weight files come from anywhere, so the reader trusts nothing:
 * it parses the header with a strict JSON parser that knows the schema
 * (objects, arrays, strings, non-negative integers; nothing else), checks
 * every byte count with overflow checks, and requires the tensors to tile
 * the data section exactly - no overlaps and no holes, as the format's
 * reference implementation does (holes would allow polyglot files).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cnnrt.h"
#include "io.h"

#define ST_MAX_HEADER 100000000u   /* as the reference implementation */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    cnnrt_escape_controls(err, errlen);   /* names come from the file */
}

/* The byte-by-byte path is correct on any host; building with
 * -DCNNRT_PORTABLE_ENDIAN forces it, so that it is tested on little-endian
 * machines too. */
static int host_is_little_endian(void)
{
#ifdef CNNRT_PORTABLE_ENDIAN
    return 0;
#else
    const uint32_t one = 1;
    return *(const unsigned char *)&one == 1;
#endif
}

/* ---- growable byte buffer ------------------------------------------------ */

typedef struct { char *p; size_t n, cap; int oom; } sbuf;

static void sb_putn(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (n >= b->cap - b->n || !b->p) {
        size_t cap = b->cap ? b->cap : 256;
        char *p;
        while (cap - b->n <= n) {
            if (cap > (size_t)-1 / 2) { b->oom = 1; return; }
            cap *= 2;
        }
        if (!(p = realloc(b->p, cap))) { b->oom = 1; return; }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_puts(sbuf *b, const char *s) { sb_putn(b, s, strlen(s)); }
static void sb_putc(sbuf *b, char c) { sb_putn(b, &c, 1); }

static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    sb_puts(b, tmp);
}

/* ---- dtypes --------------------------------------------------------------- */

static const struct { const char *name; int bits; } dtypes[] = {
    {"F32", 32}, {"F64", 64}, {"F16", 16}, {"BF16", 16}, {"I64", 64}, {"I32", 32},
    {"I16", 16}, {"I8", 8}, {"U64", 64}, {"U32", 32}, {"U16", 16}, {"U8", 8},
    {"BOOL", 8}, {"F8_E5M2", 8}, {"F8_E4M3", 8}, {"F8_E8M0", 8}, {"E8M0", 8},
    {"C64", 64}, {"F6_E2M3", 6}, {"F6_E3M2", 6}, {"F4", 4},
};
#define NDTYPES ((int)(sizeof dtypes / sizeof dtypes[0]))
#define DT_F32 0

static int dtype_lookup(const char *s)
{
    int i;
    for (i = 0; i < NDTYPES; i++)
        if (strcmp(s, dtypes[i].name) == 0)
            return i;
    return -1;
}

/* ---- the reader's data ------------------------------------------------------ */

typedef struct {
    char *name;
    int dtype;                  /* index into dtypes */
    int ndim;
    int64_t *shape;
    uint64_t begin, end;        /* relative to the data section */
} st_entry;

struct cnn_st {
    char *path;
    unsigned char *buf;         /* the file as far as read */
    size_t size, buf_cap;       /* bytes in buf, and allocated */
    size_t hlen;                /* of the JSON header */
    uint64_t known_size;        /* of a regular file; UINT64_MAX: unknown */
    const unsigned char *data;  /* data section */
    uint64_t data_len;
    st_entry *t;
    int nt, cap;
    st_entry **by_name;         /* sorted, for lookup */
};

/* ---- strict JSON, schema-directed --------------------------------------- */

typedef struct {
    const unsigned char *start, *p, *end;
    size_t base;                /* file offset of start, for messages */
    sbuf s;                     /* the last string parsed */
    char msg[320];
} jp;

static int jerr(jp *j, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    snprintf(j->msg, sizeof j->msg, "bad header at byte %lu: %s",
             (unsigned long)(j->base + (size_t)(j->p - j->start)), tmp);
    return -1;
}

static void skip_ws(jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int peek(jp *j)
{
    skip_ws(j);
    return j->p < j->end ? *j->p : -1;
}

static int expect(jp *j, int c)
{
    if (peek(j) != c)
        return j->p < j->end ? jerr(j, "expected '%c'", c) : jerr(j, "expected '%c' but the header ends", c);
    j->p++;
    return 0;
}

static void put_utf8(sbuf *b, unsigned long cp)
{
    char u[4];
    if (cp < 0x80) {
        u[0] = (char)cp;
        sb_putn(b, u, 1);
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        sb_putn(b, u, 2);
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        sb_putn(b, u, 3);
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        sb_putn(b, u, 4);
    }
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if invalid:
 * no overlongs, no surrogates, nothing above U+10FFFF. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0], lo = 0x80, hi = 0xBF;
    size_t len, i;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) len = 3;
    else if (c >= 0xF0 && c <= 0xF4) len = 4;
    else return 0;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return len;
}

static int hex4(jp *j, unsigned long *v)
{
    int i;
    *v = 0;
    if (j->end - j->p < 4)
        return jerr(j, "truncated \\u escape");
    for (i = 0; i < 4; i++) {
        int c = j->p[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return jerr(j, "bad \\u escape");
        *v = *v * 16 + (unsigned long)d;
    }
    j->p += 4;
    return 0;
}

static int parse_escape(jp *j)
{
    unsigned long cp, lo;
    int c = *j->p++;
    switch (c) {
    case '"': case '\\': case '/': sb_putc(&j->s, (char)c); return 0;
    case 'b': sb_putc(&j->s, '\b'); return 0;
    case 'f': sb_putc(&j->s, '\f'); return 0;
    case 'n': sb_putc(&j->s, '\n'); return 0;
    case 'r': sb_putc(&j->s, '\r'); return 0;
    case 't': sb_putc(&j->s, '\t'); return 0;
    case 'u': break;
    default: j->p--; return jerr(j, "bad escape in string");
    }
    if (hex4(j, &cp))
        return -1;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return jerr(j, "unpaired surrogate in \\u escape");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u')
            return jerr(j, "unpaired surrogate in \\u escape");
        j->p += 2;
        if (hex4(j, &lo))
            return -1;
        if (lo < 0xDC00 || lo > 0xDFFF)
            return jerr(j, "unpaired surrogate in \\u escape");
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    put_utf8(&j->s, cp);
    return 0;
}

/* A string into j->s (NUL-terminated; may contain NULs from \u0000). */
static int parse_string(jp *j)
{
    j->s.n = 0;
    sb_putn(&j->s, "", 0);
    if (peek(j) != '"')
        return j->p < j->end ? jerr(j, "expected a string") : jerr(j, "expected a string but the header ends");
    j->p++;
    for (;;) {
        size_t len;
        if (j->p >= j->end)
            return jerr(j, "unterminated string");
        if (*j->p == '"') {
            j->p++;
            break;
        }
        if (*j->p < 0x20)
            return jerr(j, "control character in string");
        if (*j->p == '\\') {
            j->p++;
            if (j->p >= j->end)
                return jerr(j, "unterminated string");
            if (parse_escape(j))
                return -1;
            continue;
        }
        if (!(len = utf8_len(j->p, (size_t)(j->end - j->p))))
            return jerr(j, "invalid UTF-8 in string");
        sb_putn(&j->s, (const char *)j->p, len);
        j->p += len;
    }
    if (j->s.oom)
        return jerr(j, "out of memory");
    return 0;
}

/* A JSON number that must be a non-negative integer fitting in int64. */
static int parse_uint(jp *j, uint64_t *v, const char *what)
{
    const unsigned char *q;
    int c = peek(j);
    if (c == '-')
        return jerr(j, "%s: negative number", what);
    if (c < '0' || c > '9')
        return jerr(j, "%s: expected a non-negative integer", what);
    *v = 0;
    for (q = j->p; q < j->end && *q >= '0' && *q <= '9'; q++) {
        unsigned d = (unsigned)(*q - '0');
        if (*v > ((uint64_t)INT64_MAX - d) / 10)
            return jerr(j, "%s: number too large", what);
        *v = *v * 10 + d;
    }
    if (*j->p == '0' && q - j->p > 1)
        return jerr(j, "%s: number with a leading zero", what);
    if (q < j->end && (*q == '.' || *q == 'e' || *q == 'E'))
        return jerr(j, "%s: expected an integer", what);
    j->p = q;
    return 0;
}

/* "__metadata__": an object of strings, keys distinct. */
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int parse_metadata(jp *j)
{
    char **keys = NULL, **nk;
    size_t n = 0, cap = 0, i;
    int rc = -1;
    if (expect(j, '{'))
        return -1;
    if (peek(j) == '}') {
        j->p++;
        return 0;
    }
    for (;;) {
        if (parse_string(j))
            goto out;
        if (memchr(j->s.p, 0, j->s.n))
            { jerr(j, "NUL character in a __metadata__ key"); goto out; }
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            if (!(nk = realloc(keys, cap * sizeof *keys)))
                { jerr(j, "out of memory"); goto out; }
            keys = nk;
        }
        if (!(keys[n] = malloc(j->s.n + 1)))
            { jerr(j, "out of memory"); goto out; }
        memcpy(keys[n++], j->s.p, j->s.n + 1);
        if (expect(j, ':'))
            goto out;
        if (peek(j) != '"')
            { jerr(j, "__metadata__ values must be strings"); goto out; }
        if (parse_string(j))
            goto out;
        if (peek(j) == ',') { j->p++; continue; }
        if (expect(j, '}'))
            goto out;
        break;
    }
    qsort(keys, n, sizeof *keys, cmp_str);
    for (i = 1; i < n; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0)
            { jerr(j, "key '%.100s' appears twice in __metadata__", keys[i]); goto out; }
    rc = 0;
out:
    for (i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
    return rc;
}

static int parse_shape(jp *j, st_entry *e)
{
    int cap = 0;
    uint64_t v;
    int64_t *ns;
    char what[160];
    snprintf(what, sizeof what, "'shape' of tensor '%.100s'", e->name);
    if (peek(j) != '[')
        return jerr(j, "%s must be an array", what);
    j->p++;
    if (peek(j) == ']') {
        j->p++;
        return 0;
    }
    for (;;) {
        if (parse_uint(j, &v, what))
            return -1;
        if (e->ndim == cap) {
            if (cap > (1 << 24))
                return jerr(j, "%s has too many dimensions", what);
            cap = cap ? cap * 2 : 4;
            if (!(ns = realloc(e->shape, (size_t)cap * sizeof *ns)))
                return jerr(j, "out of memory");
            e->shape = ns;
        }
        e->shape[e->ndim++] = (int64_t)v;
        if (peek(j) == ',') { j->p++; continue; }
        if (peek(j) != ']')
            return jerr(j, "%s: expected ',' or ']'", what);
        j->p++;
        return 0;
    }
}

static int parse_offsets(jp *j, st_entry *e)
{
    char what[160];
    snprintf(what, sizeof what, "'data_offsets' of tensor '%.100s'", e->name);
    if (peek(j) != '[')
        return jerr(j, "%s must be [begin, end]", what);
    j->p++;
    if (parse_uint(j, &e->begin, what))
        return -1;
    if (peek(j) != ',')
        return jerr(j, "%s must be [begin, end]", what);
    j->p++;
    if (parse_uint(j, &e->end, what))
        return -1;
    if (peek(j) != ']')
        return jerr(j, "%s must be [begin, end]", what);
    j->p++;
    return 0;
}

/* {"dtype": .., "shape": .., "data_offsets": ..}; other keys are refused. */
static int parse_entry(jp *j, st_entry *e)
{
    int seen = 0, bit;
    if (peek(j) != '{')
        return jerr(j, "the entry of tensor '%.100s' must be an object", e->name);
    j->p++;
    if (peek(j) == '}')
        j->p++;
    else for (;;) {
        if (parse_string(j))
            return -1;
        if (strcmp(j->s.p, "dtype") == 0 && j->s.n == 5) bit = 1;
        else if (strcmp(j->s.p, "shape") == 0 && j->s.n == 5) bit = 2;
        else if (strcmp(j->s.p, "data_offsets") == 0 && j->s.n == 12) bit = 4;
        else return jerr(j, "unexpected key '%.60s' in the entry of tensor '%.100s'", j->s.p, e->name);
        if (seen & bit)
            return jerr(j, "key '%s' appears twice in the entry of tensor '%.100s'", j->s.p, e->name);
        seen |= bit;
        if (expect(j, ':'))
            return -1;
        if (bit == 1) {
            if (peek(j) != '"')
                return jerr(j, "'dtype' of tensor '%.100s' must be a string", e->name);
            if (parse_string(j))
                return -1;
            if ((e->dtype = dtype_lookup(j->s.p)) < 0 || strlen(j->s.p) != j->s.n)
                return jerr(j, "tensor '%.100s' has unknown dtype '%.40s'", e->name, j->s.p);
        } else if (bit == 2) {
            if (parse_shape(j, e))
                return -1;
        } else if (parse_offsets(j, e)) {
            return -1;
        }
        if (peek(j) == ',') { j->p++; continue; }
        if (expect(j, '}'))
            return -1;
        break;
    }
    if (!(seen & 1)) return jerr(j, "tensor '%.100s' has no 'dtype'", e->name);
    if (!(seen & 2)) return jerr(j, "tensor '%.100s' has no 'shape'", e->name);
    if (!(seen & 4)) return jerr(j, "tensor '%.100s' has no 'data_offsets'", e->name);
    return 0;
}

static st_entry *new_entry(cnn_st *st)
{
    st_entry *e;
    if (st->nt == st->cap) {
        int cap = st->cap ? st->cap * 2 : 16;
        if (cap > (1 << 28) || !(e = realloc(st->t, (size_t)cap * sizeof *e)))
            return NULL;
        st->t = e;
        st->cap = cap;
    }
    e = &st->t[st->nt++];
    memset(e, 0, sizeof *e);
    e->dtype = -1;
    return e;
}

static int parse_header(jp *j, cnn_st *st)
{
    int have_meta = 0;
    st_entry *e;
    if (peek(j) != '{')
        return jerr(j, "the header must be a JSON object");
    j->p++;
    if (peek(j) == '}')
        j->p++;
    else for (;;) {
        if (parse_string(j))
            return -1;
        if (strcmp(j->s.p, "__metadata__") == 0 && j->s.n == 12) {
            if (have_meta)
                return jerr(j, "__metadata__ appears twice");
            have_meta = 1;
            if (expect(j, ':') || parse_metadata(j))
                return -1;
        } else {
            if (memchr(j->s.p, 0, j->s.n))
                return jerr(j, "tensor name contains a NUL character");
            if (!(e = new_entry(st)) || !(e->name = malloc(j->s.n + 1)))
                return jerr(j, "out of memory");
            memcpy(e->name, j->s.p, j->s.n + 1);
            if (expect(j, ':') || parse_entry(j, e))
                return -1;
        }
        if (peek(j) == ',') { j->p++; continue; }
        if (expect(j, '}'))
            return -1;
        break;
    }
    if (peek(j) != -1)      /* only whitespace may follow: writers pad with spaces */
        return jerr(j, "unexpected characters after the JSON object");
    return 0;
}

/* ---- validation ----------------------------------------------------------- */

static void fmt_shape(char *out, size_t len, const int64_t *shape, int ndim)
{
    size_t k = 0;
    int i;
    out[0] = '\0';
    k += (size_t)snprintf(out, len, "[");
    for (i = 0; i < ndim && k < len; i++)
        k += (size_t)snprintf(out + k, len - k, "%s%lld", i ? "," : "", (long long)shape[i]);
    if (k < len)
        snprintf(out + k, len - k, "]");
}

/* Bytes of a tensor, or -1 when product(shape) * bits overflows or is not
 * a whole number of bytes. */
static int tensor_bytes(const st_entry *e, uint64_t *bytes)
{
    uint64_t bits = (uint64_t)dtypes[e->dtype].bits;
    int i;
    for (i = 0; i < e->ndim; i++) {
        uint64_t d = (uint64_t)e->shape[i];
        if (d != 0 && bits > UINT64_MAX / d)
            return -1;
        bits *= d;
    }
    if (bits % 8)
        return -1;
    *bytes = bits / 8;
    return 0;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp((*(st_entry *const *)a)->name, (*(st_entry *const *)b)->name);
}

static int cmp_offsets(const void *a, const void *b)
{
    const st_entry *x = *(st_entry *const *)a, *y = *(st_entry *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return 0;
}

static int validate(cnn_st *st, char *err, size_t errlen)
{
    st_entry **by_off, *prev = NULL;
    uint64_t bytes, pos = 0;
    char sh[128];
    int i, rc = -1;
    for (i = 0; i < st->nt; i++) {
        st_entry *e = &st->t[i];
        fmt_shape(sh, sizeof sh, e->shape, e->ndim);
        if (tensor_bytes(e, &bytes)) {
            set_err(err, errlen, "%s: tensor '%s' has an impossible size (%s %s)",
                    st->path, e->name, dtypes[e->dtype].name, sh);
            return -1;
        }
        if (e->begin > e->end) {
            set_err(err, errlen, "%s: tensor '%s' has data_offsets [%llu,%llu] that end before they begin",
                    st->path, e->name, (unsigned long long)e->begin, (unsigned long long)e->end);
            return -1;
        }
        if (e->end > st->data_len) {
            set_err(err, errlen, "%s: tensor '%s' has data_offsets [%llu,%llu] outside the data section (%llu bytes)",
                    st->path, e->name, (unsigned long long)e->begin, (unsigned long long)e->end,
                    (unsigned long long)st->data_len);
            return -1;
        }
        if (e->end - e->begin != bytes) {
            set_err(err, errlen, "%s: tensor '%s' (%s %s) needs %llu bytes but data_offsets [%llu,%llu] hold %llu",
                    st->path, e->name, dtypes[e->dtype].name, sh, (unsigned long long)bytes,
                    (unsigned long long)e->begin, (unsigned long long)e->end,
                    (unsigned long long)(e->end - e->begin));
            return -1;
        }
    }
    for (i = 0; i < st->nt; i++)
        st->by_name[i] = &st->t[i];
    if (st->nt)
        qsort(st->by_name, (size_t)st->nt, sizeof *st->by_name, cmp_name);
    for (i = 1; i < st->nt; i++)
        if (strcmp(st->by_name[i - 1]->name, st->by_name[i]->name) == 0) {
            set_err(err, errlen, "%s: tensor '%s' appears twice", st->path, st->by_name[i]->name);
            return -1;
        }
    /* the tensors must tile the data section: sort by offsets and walk */
    if (!(by_off = malloc(((size_t)st->nt + 1) * sizeof *by_off))) {
        set_err(err, errlen, "%s: out of memory", st->path);
        return -1;
    }
    for (i = 0; i < st->nt; i++)
        by_off[i] = &st->t[i];
    if (st->nt)
        qsort(by_off, (size_t)st->nt, sizeof *by_off, cmp_offsets);
    for (i = 0; i < st->nt; i++) {
        st_entry *e = by_off[i];
        if (e->begin == e->end && e->begin <= pos)
            continue;           /* empty tensors overlap nothing */
        if (e->begin < pos) {
            set_err(err, errlen, "%s: tensors '%s' and '%s' overlap", st->path, prev->name, e->name);
            goto out;
        }
        if (e->begin > pos) {
            set_err(err, errlen, "%s: bytes %llu to %llu of the data section belong to no tensor (before '%s')",
                    st->path, (unsigned long long)pos, (unsigned long long)e->begin, e->name);
            goto out;
        }
        pos = e->end;
        prev = e;
    }
    if (pos != st->data_len) {
        set_err(err, errlen, "%s: the last %llu bytes of the file belong to no tensor",
                st->path, (unsigned long long)(st->data_len - pos));
        goto out;
    }
    rc = 0;
out:
    free(by_off);
    return rc;
}

/* ---- opening ---------------------------------------------------------------- */

/* Reads up to `want` more bytes onto the end of st->buf.  For a regular
 * file the buffer takes what is asked, up to the file's size; for a pipe
 * or device it grows by doubling as bytes arrive, so that a header's
 * claims cost nothing until the bytes are there. */
static int read_more(cnn_st *st, FILE *f, uint64_t want, char *err, size_t errlen)
{
    uint64_t goal = st->size + want;
    if (st->known_size < goal)
        goal = st->known_size;
    while (st->size < goal) {
        if (st->size == st->buf_cap) {
            uint64_t cap = st->known_size != UINT64_MAX ? goal
                         : st->buf_cap ? (uint64_t)st->buf_cap * 2 : 65536;
            unsigned char *nb;
            if (cap > goal)
                cap = goal;
            if (cap > SIZE_MAX || !(nb = realloc(st->buf, (size_t)cap))) {
                set_err(err, errlen, "%s: out of memory", st->path);
                return -1;
            }
            st->buf = nb;
            st->buf_cap = (size_t)cap;
        }
        size_t got = fread(st->buf + st->size, 1, st->buf_cap - st->size, f);
        st->size += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        set_err(err, errlen, "%s: read error: %s", st->path, strerror(errno));
        return -1;
    }
    return 0;
}

/* The 8-byte length and the JSON header, parsed into st->t. */
static int read_header(cnn_st *st, FILE *f, char *err, size_t errlen)
{
    uint64_t hlen = 0;
    jp j;
    int i, rc;
    if (read_more(st, f, 8, err, errlen))
        return -1;
    if (st->size < 8) {
        set_err(err, errlen, "%s: too short for a safetensors file (%lu bytes)", st->path, (unsigned long)st->size);
        return -1;
    }
    for (i = 7; i >= 0; i--)
        hlen = hlen << 8 | st->buf[i];
    if (hlen > ST_MAX_HEADER) {
        set_err(err, errlen, "%s: header length %llu is too large (not a safetensors file?)",
                st->path, (unsigned long long)hlen);
        return -1;
    }
    if (read_more(st, f, hlen, err, errlen))
        return -1;
    if (hlen > st->size - 8) {
        set_err(err, errlen, "%s: header length %llu goes beyond the end of the file (%lu bytes; truncated?)",
                st->path, (unsigned long long)hlen, (unsigned long)st->size);
        return -1;
    }
    st->hlen = (size_t)hlen;
    memset(&j, 0, sizeof j);
    j.start = j.p = st->buf + 8;
    j.end = j.start + hlen;
    j.base = 8;
    rc = parse_header(&j, st);
    if (rc)
        set_err(err, errlen, "%s: %s", st->path, j.msg);
    free(j.s.p);
    return rc ? -1 : 0;
}

/* The data section is as long as the header says, not as the file is:
 * reading stops there (/dev/zero, a pipe that never ends), and a header
 * that promises more than max_data bytes is refused before any is read. */
static int read_data(cnn_st *st, FILE *f, uint64_t max_data, char *err, size_t errlen)
{
    uint64_t need = 0, start = 8 + (uint64_t)st->hlen;
    int i;
    for (i = 0; i < st->nt; i++) {   /* begin too: validate names offsets that end before they begin */
        if (st->t[i].end > need)
            need = st->t[i].end;
        if (st->t[i].begin > need)
            need = st->t[i].begin;
    }
    if (need > max_data) {
        set_err(err, errlen, "%s: the header describes %llu bytes of tensors, more than the %llu expected",
                st->path, (unsigned long long)need, (unsigned long long)max_data);
        return -1;
    }
    if (st->known_size != UINT64_MAX && st->known_size >= start && st->known_size - start > need) {
        set_err(err, errlen, "%s: the last %llu bytes of the file belong to no tensor", st->path,
                (unsigned long long)(st->known_size - start - need));
        return -1;
    }
    if (read_more(st, f, need, err, errlen))
        return -1;
    st->data = st->buf + start;
    st->data_len = st->size - start;
    if (st->data_len == need && getc(f) != EOF) {
        set_err(err, errlen, "%s: the file goes on after the %llu bytes of tensors its header describes",
                st->path, (unsigned long long)need);
        return -1;
    }
    return 0;
}

static int read_st(cnn_st *st, uint64_t max_data, char *err, size_t errlen)
{
    struct stat sb;
    FILE *f = fopen(st->path, "rb");
    int rc;
    if (!f) {
        set_err(err, errlen, "%s: cannot open: %s", st->path, strerror(errno));
        return -1;
    }
    st->known_size = fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size : UINT64_MAX;
    rc = read_header(st, f, err, errlen) || read_data(st, f, max_data, err, errlen);
    fclose(f);
    if (rc)
        return -1;
    if (!(st->by_name = malloc(((size_t)st->nt + 1) * sizeof *st->by_name))) {
        set_err(err, errlen, "%s: out of memory", st->path);
        return -1;
    }
    return validate(st, err, errlen);
}

void cnn_st_close(cnn_st *st)
{
    int i;
    if (!st)
        return;
    for (i = 0; i < st->nt; i++) {
        free(st->t[i].name);
        free(st->t[i].shape);
    }
    free(st->t);
    free(st->by_name);
    free(st->buf);
    free(st->path);
    free(st);
}

cnn_st *cnn_st_open_max(const char *path, uint64_t max_data, char *err, size_t errlen)
{
    cnn_st *st;
    if (!path) {
        set_err(err, errlen, "cnn_st_open: no path");
        return NULL;
    }
    st = calloc(1, sizeof *st);
    if (!st || !(st->path = malloc(strlen(path) + 1))) {
        set_err(err, errlen, "%s: out of memory", path);
        free(st);
        return NULL;
    }
    strcpy(st->path, path);
    if (read_st(st, max_data, err, errlen)) {
        cnn_st_close(st);
        return NULL;
    }
    return st;
}

cnn_st *cnn_st_open(const char *path, char *err, size_t errlen)
{
    return cnn_st_open_max(path, UINT64_MAX, err, errlen);
}

int cnn_st_count(const cnn_st *st) { return st ? st->nt : 0; }

const char *cnn_st_name(const cnn_st *st, int i)
{
    return st && i >= 0 && i < st->nt ? st->t[i].name : NULL;
}

static const st_entry *find(const cnn_st *st, const char *name)
{
    st_entry key, *kp = &key, **hit;
    if (!st->nt)
        return NULL;
    key.name = (char *)name;
    hit = bsearch(&kp, st->by_name, (size_t)st->nt, sizeof *st->by_name, cmp_name);
    return hit ? *hit : NULL;
}

const char *cnn_st_dtype(const cnn_st *st, int i)
{
    return st && i >= 0 && i < st->nt ? dtypes[st->t[i].dtype].name : NULL;
}

int cnn_st_ndim(const cnn_st *st, int i)
{
    return st && i >= 0 && i < st->nt ? st->t[i].ndim : -1;
}

/* A NaN or infinite weight would poison every output and, loaded by
 * train, every checkpoint after it.  All ones in the exponent of the
 * little-endian F32 bits is exactly that. */
static int check_finite(const cnn_st *st, const st_entry *e, char *err, size_t errlen)
{
    const unsigned char *p = st->data + e->begin;
    uint64_t k, n = (e->end - e->begin) / 4;
    for (k = 0; k < n; k++, p += 4)
        if ((p[3] & 0x7F) == 0x7F && (p[2] & 0x80)) {
            int nan = (p[2] & 0x7F) || p[1] || p[0];
            set_err(err, errlen, "%s: tensor '%s' holds %s at index %llu", st->path, e->name,
                    nan ? "NaN" : (p[3] & 0x80) ? "-inf" : "inf", (unsigned long long)k);
            return -1;
        }
    return 0;
}

int cnn_st_get(const cnn_st *st, const char *name, const int64_t *shape, int ndim,
               float *dst, char *err, size_t errlen)
{
    const st_entry *e;
    char want[128], have[128];
    int i, same;
    if (!st || !name || ndim < 0 || (ndim > 0 && !shape)) {
        set_err(err, errlen, "cnn_st_get: bad arguments");
        return -1;
    }
    e = find(st, name);
    fmt_shape(want, sizeof want, shape, ndim);
    if (!e) {
        set_err(err, errlen, "%s: no tensor '%s' in the file (the network needs F32 %s)", st->path, name, want);
        return -1;
    }
    fmt_shape(have, sizeof have, e->shape, e->ndim);
    if (e->dtype != DT_F32) {
        set_err(err, errlen, "%s: tensor '%s' has dtype %s in the file but the network needs F32",
                st->path, name, dtypes[e->dtype].name);
        return -1;
    }
    same = e->ndim == ndim;
    for (i = 0; same && i < ndim; i++)
        same = e->shape[i] == shape[i];
    if (!same) {
        set_err(err, errlen, "%s: tensor '%s' has shape %s in the file but the network needs %s",
                st->path, name, have, want);
        return -1;
    }
    if (e->end > e->begin && !dst) {
        set_err(err, errlen, "%s: tensor '%s': no destination", st->path, name);
        return -1;
    }
    if (check_finite(st, e, err, errlen))
        return -1;
    if (host_is_little_endian()) {
        if (e->end > e->begin)
            memcpy(dst, st->data + e->begin, (size_t)(e->end - e->begin));
    } else {
        const unsigned char *p = st->data + e->begin;
        size_t k, n = (size_t)(e->end - e->begin) / 4;
        for (k = 0; k < n; k++, p += 4) {
            uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
            memcpy(&dst[k], &u, 4);
        }
    }
    return 0;
}

/* ---- writing ------------------------------------------------------------------ */

static void put_json_string(sbuf *b, const char *s)
{
    sb_putc(b, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            sb_putc(b, '\\');
            sb_putc(b, (char)c);
        } else if (c < 0x20) {
            sb_printf(b, "\\u%04x", c);
        } else {
            sb_putc(b, (char)c);
        }
    }
    sb_putc(b, '"');
}

static int utf8_valid(const char *s)
{
    size_t n = strlen(s), k;
    const unsigned char *p = (const unsigned char *)s;
    while (n) {
        if (!(k = utf8_len(p, n)))
            return 0;
        p += k;
        n -= k;
    }
    return 1;
}

static int cmp_cstr(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* Checks the tensors and returns their element counts in cnt[]. */
static int check_tensors(const char *path, const cnn_st_tensor *t, int n, uint64_t *cnt,
                         char *err, size_t errlen)
{
    const char **names;
    int i, d;
    for (i = 0; i < n; i++) {
        const char *nm = t[i].name;
        if (!nm || strcmp(nm, "__metadata__") == 0 || !utf8_valid(nm)) {
            set_err(err, errlen, "%s: tensor %d has an invalid name", path, i);
            return -1;
        }
        if (t[i].ndim < 0 || t[i].ndim > 5) {
            set_err(err, errlen, "%s: tensor '%s' has %d dimensions (at most 5)", path, nm, t[i].ndim);
            return -1;
        }
        cnt[i] = 1;
        for (d = 0; d < t[i].ndim; d++) {
            uint64_t s = (uint64_t)t[i].shape[d];
            if (t[i].shape[d] < 0 || (s && cnt[i] > (UINT64_MAX / 4) / s)) {
                set_err(err, errlen, "%s: tensor '%s' has an invalid shape", path, nm);
                return -1;
            }
            cnt[i] *= s;
        }
        if (cnt[i] && !t[i].data) {
            set_err(err, errlen, "%s: tensor '%s' has no data", path, nm);
            return -1;
        }
    }
    if (!(names = malloc(((size_t)n + 1) * sizeof *names))) {
        set_err(err, errlen, "%s: out of memory", path);
        return -1;
    }
    for (i = 0; i < n; i++)
        names[i] = t[i].name;
    qsort(names, (size_t)n, sizeof *names, cmp_cstr);
    for (i = 1; i < n; i++)
        if (strcmp(names[i - 1], names[i]) == 0) {
            set_err(err, errlen, "%s: tensor '%s' appears twice", path, names[i]);
            free(names);
            return -1;
        }
    free(names);
    return 0;
}

static int build_header(sbuf *b, const cnn_st_tensor *t, int n, const uint64_t *cnt)
{
    uint64_t off = 0;
    int i, d;
    sb_puts(b, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (i = 0; i < n; i++) {
        sb_putc(b, ',');
        put_json_string(b, t[i].name);
        sb_puts(b, ":{\"dtype\":\"F32\",\"shape\":[");
        for (d = 0; d < t[i].ndim; d++)
            sb_printf(b, "%s%lld", d ? "," : "", (long long)t[i].shape[d]);
        if (off > UINT64_MAX - cnt[i] * 4)
            return -1;
        sb_printf(b, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                  (unsigned long long)(off + cnt[i] * 4));
        off += cnt[i] * 4;
    }
    sb_putc(b, '}');
    while (b->n % 8)            /* so that the data section starts 8-aligned */
        sb_putc(b, ' ');
    return b->oom ? -1 : 0;
}

static int write_floats(int fd, const float *x, uint64_t n)
{
    unsigned char tmp[4096];
    size_t k = 0;
    uint64_t i;
    if ((size_t)(n * 4) != n * 4) {
        errno = EFBIG;
        return -1;
    }
    if (host_is_little_endian())
        return n ? cnnrt_write_all(fd, x, (size_t)(n * 4)) : 0;
    for (i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        tmp[k++] = (unsigned char)u;
        tmp[k++] = (unsigned char)(u >> 8);
        tmp[k++] = (unsigned char)(u >> 16);
        tmp[k++] = (unsigned char)(u >> 24);
        if (k == sizeof tmp) {
            if (cnnrt_write_all(fd, tmp, k))
                return -1;
            k = 0;
        }
    }
    return k ? cnnrt_write_all(fd, tmp, k) : 0;
}

int cnn_st_write(const char *path, const cnn_st_tensor *t, int n, char *err, size_t errlen)
{
    sbuf hdr = {0};
    uint64_t *cnt = NULL;
    unsigned char len8[8];
    cnnrt_out out;
    int i, rc = -1;
    if (!path) {
        set_err(err, errlen, "cnn_st_write: no path");
        return -1;
    }
    if (n < 0 || (n > 0 && !t)) {
        set_err(err, errlen, "%s: bad tensor list", path);
        return -1;
    }
    if (!(cnt = malloc(((size_t)n + 1) * sizeof *cnt))) {
        set_err(err, errlen, "%s: out of memory", path);
        return -1;
    }
    if (check_tensors(path, t, n, cnt, err, errlen))
        goto out;
    if (build_header(&hdr, t, n, cnt)) {
        set_err(err, errlen, "%s: out of memory", path);
        goto out;
    }
    if (cnnrt_out_open(&out, path)) {
        set_err(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        goto out;
    }
    for (i = 0; i < 8; i++)
        len8[i] = (unsigned char)((uint64_t)hdr.n >> (8 * i) & 0xFF);
    rc = cnnrt_write_all(out.fd, len8, 8) || cnnrt_write_all(out.fd, hdr.p, hdr.n);
    for (i = 0; i < n && !rc; i++)
        rc = write_floats(out.fd, t[i].data, cnt[i]);
    if (rc || cnnrt_out_close(&out, 1)) {
        cnnrt_out_abort(&out);
        rc = -1;
    } else {
        rc = cnnrt_out_commit(&out, 1);
    }
    if (rc)
        set_err(err, errlen, "%s: cannot write: %s", path, strerror(errno));
out:
    free(hdr.p);
    free(cnt);
    return rc;
}
