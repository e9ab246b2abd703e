/* util.h - allocation that cannot fail silently, strings, checked 64-bit
 * arithmetic and atomic file output. */
#ifndef CNNC_UTIL_H
#define CNNC_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void *xmalloc(size_t n);            /* exits with a message on failure */
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* Overflow-checked int64 arithmetic: return false (and leave *r unspecified)
 * when the exact result does not fit. */
bool add_ovf(int64_t a, int64_t b, int64_t *r);
bool mul_ovf(int64_t a, int64_t b, int64_t *r);

/* Reads a whole file (or stdin when path is "-").  Returns NULL and sets
 * errno on failure; *len gets the size.  The buffer is NUL-terminated. */
char *read_file(const char *path, size_t *len);
/* The same, but stops after max + 1 bytes, so that /dev/zero or an endless
 * pipe gives "too large" (*len > max) instead of exhausting memory. */
char *read_file_max(const char *path, size_t max, size_t *len);
/* .net files (the top one and those it includes) larger than this are
 * refused before parsing. */
#define CNNC_MAX_SOURCE (16u << 20)

/* Writes data to path as runtime/io.h's cnnrt_out does: atomically
 * (temporary file and rename) unless path is a device or FIFO.  Returns 0,
 * or -1 with errno set (nothing is changed). */
int write_file_atomic(const char *path, const char *data, size_t len);

/* A growable string buffer for output that is written in one go. */
typedef struct StrBuf {
    char *data;
    size_t len, cap;
} StrBuf;

void sb_init(StrBuf *sb);
void sb_free(StrBuf *sb);
void sb_puts(StrBuf *sb, const char *s);
void sb_putn(StrBuf *sb, const char *s, size_t n);
void sb_printf(StrBuf *sb, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* "../dir/file.net" -> "file" (without directories and extension). */
char *path_basename_noext(const char *path);
/* Directory part of path ("." when none), for include resolution. */
char *path_dirname(const char *path);
/* Joins a relative path to a directory; an absolute rel is returned as is. */
char *path_join(const char *dir, const char *rel);

#endif
