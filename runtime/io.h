/* io.h - file helpers the runtime's files share (not installed). */
#ifndef CNNRT_IO_H
#define CNNRT_IO_H

#include <stddef.h>

/* Writes all n bytes, retrying short writes and EINTR; 0 or -1 (errno). */
int cnnrt_write_all(int fd, const void *p, size_t n);

#endif
