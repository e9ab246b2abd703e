/* io.h - file helpers the runtime and cnnc share (not installed). */
#ifndef CNNRT_IO_H
#define CNNRT_IO_H

#include <stddef.h>

/* Writes all n bytes, retrying short writes and EINTR; 0 or -1 (errno). */
int cnnrt_write_all(int fd, const void *p, size_t n);

/* An output file being written, as compilers and editors write them:
 * - a path naming a device, FIFO or other non-regular file is written
 *   directly (/dev/null, /dev/stdout; /dev/full fails with ENOSPC);
 * - otherwise the bytes go to TARGET.tmp-PID-K beside the target, which
 *   replaces it on commit (a reader never sees half a file).  A symlink's
 *   final target is replaced and the link stays; a file that exists keeps
 *   its mode and, where we may, its owner.  Temporaries beside the target
 *   left by writers that died (their PID is gone) are removed. */
typedef struct {
    char *target;   /* the file written: path, or where its symlinks lead */
    char *tmp;      /* the temporary; NULL when target is written directly */
    int fd;         /* -1 once closed */
} cnnrt_out;

/* 0, or -1 with errno (nothing is left behind). */
int cnnrt_out_open(cnnrt_out *o, const char *path);
/* Closes the file, with an fsync first when sync is set; the temporary is
 * not renamed yet.  0, or -1 with errno (then call cnnrt_out_abort). */
int cnnrt_out_close(cnnrt_out *o, int sync);
/* Renames the temporary over the target (after cnnrt_out_close) and frees
 * o.  0, or -1 with errno (the temporary is removed). */
int cnnrt_out_commit(cnnrt_out *o, int sync);
/* Closes and removes the temporary, frees o; errno is kept. */
void cnnrt_out_abort(cnnrt_out *o);
/* open, write, close and commit in one call; 0 or -1 (errno). */
int cnnrt_write_file(const char *path, const void *data, size_t len, int sync);
/* Can path be written?  Creates and removes a temporary beside it (which
 * also clears stale ones), or checks write access to a non-regular file.
 * 0, or -1 with errno. */
int cnnrt_out_probe(const char *path);

/* Do a and b name the same regular file?  By device and inode when both
 * exist, else by their paths with symlinks and "." or ".." resolved. */
int cnnrt_same_file(const char *a, const char *b);

/* Rewrites control bytes in the string s (of cap bytes at most) as \xNN,
 * so that names from files cannot drive the terminal. */
void cnnrt_escape_controls(char *s, size_t cap);

#endif
