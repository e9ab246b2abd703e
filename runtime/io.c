/* io.c - see io.h. */
#define _POSIX_C_SOURCE 200809L
#include "io.h"

#include <errno.h>
#include <unistd.h>

int cnnrt_write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        /* Some systems fail writes of 2 GiB or more in one call. */
        ssize_t w = write(fd, c, n > (1u << 30) ? (1u << 30) : n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}
