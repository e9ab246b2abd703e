/* io.c - see io.h. */
#define _XOPEN_SOURCE 700   /* realpath */
#include "io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define MAX_SYMLINKS 40   /* as Linux's ELOOP limit */

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

static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    } else {
        errno = ENOMEM;
    }
    return p;
}

/* "a/b/c" -> "a/b", "c" -> ".", "/c" -> "/". */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return dup_n(".", 1);
    return dup_n(path, slash == path ? 1 : (size_t)(slash - path));
}

static const char *base_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* The link's text, taken relative to the directory the link is in. */
static char *follow(const char *link, size_t size)
{
    char *text = malloc(size + 1), *next;
    ssize_t n = text ? readlink(link, text, size + 1) : -1;
    if (n < 0 || (size_t)n > size) {   /* it changed under us */
        free(text);
        if (n >= 0)
            errno = EAGAIN;
        return NULL;
    }
    text[n] = '\0';
    if (text[0] == '/' || !strchr(link, '/'))
        return text;
    size_t dir = (size_t)(base_of(link) - link);
    if ((next = malloc(dir + (size_t)n + 1))) {
        memcpy(next, link, dir);
        memcpy(next + dir, text, (size_t)n + 1);
    }
    free(text);
    return next;
}

/* The file path leads to through symlinks (which need not exist yet);
 * *st gets its status and *exists whether it does. */
static char *resolve(const char *path, struct stat *st, int *exists)
{
    char *cur = dup_n(path, strlen(path)), *next;
    for (int hops = 0; cur; hops++) {
        if (lstat(cur, st) != 0) {
            *exists = 0;
            if (errno == ENOENT)
                return cur;
            break;
        }
        *exists = 1;
        if (!S_ISLNK(st->st_mode))
            return cur;
        /* A link to a device or pipe is opened as named: /dev/stdout leads
         * through /proc/self/fd/1 to "pipe:[N]", which is no path. */
        struct stat to;
        if (stat(cur, &to) == 0 && !S_ISREG(to.st_mode)) {
            *st = to;
            return cur;
        }
        if (hops == MAX_SYMLINKS) {
            errno = ELOOP;
            break;
        }
        next = follow(cur, st->st_size > 0 ? (size_t)st->st_size : 4096);
        free(cur);
        cur = next;
    }
    free(cur);
    return NULL;
}

/* "NAME.tmp-PID-K": the PID, or 0 for any other name. */
static long temp_owner(const char *entry, const char *base)
{
    size_t n = strlen(base);
    char *end;
    if (strncmp(entry, base, n) != 0 || strncmp(entry + n, ".tmp-", 5) != 0)
        return 0;
    const char *p = entry + n + 5;
    if (*p < '0' || *p > '9')
        return 0;
    long pid = strtol(p, &end, 10);
    if (*end != '-' || end[1] < '0' || end[1] > '9')
        return 0;
    strtol(end + 1, &end, 10);
    return *end ? 0 : pid;
}

/* Temporaries of target whose writer is gone: kill -9, power loss. */
static void remove_stale_temps(const char *target)
{
    char *dir = dir_of(target);
    DIR *d = dir ? opendir(dir) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        long pid = temp_owner(e->d_name, base_of(target));
        if (pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char *stale = malloc(strlen(dir) + strlen(e->d_name) + 2);
        if (stale) {
            sprintf(stale, "%s/%s", dir, e->d_name);
            unlink(stale);
            free(stale);
        }
    }
    if (d)
        closedir(d);
    free(dir);
}

/* TARGET.tmp-PID-K, created exclusively: private if it replaces a file
 * (whose mode it then takes), else 0666 less the umask, as fopen. */
static int create_temp(cnnrt_out *o, const struct stat *old, int exists)
{
    static unsigned counter;
    size_t len = strlen(o->target) + 48;
    if (!(o->tmp = malloc(len)))
        return -1;
    for (int k = 0; k < 1000; k++) {
        snprintf(o->tmp, len, "%s.tmp-%ld-%u", o->target, (long)getpid(), counter++);
        o->fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL, exists ? 0600 : 0666);
        if (o->fd >= 0 || errno != EEXIST)
            break;
    }
    if (o->fd < 0)
        return -1;
    if (exists) {
        /* Best effort: only root may give a file away, and chown may
         * clear set-id bits, so the mode comes after it. */
        int owner_kept = fchown(o->fd, old->st_uid, old->st_gid) == 0;
        int mode_kept = fchmod(o->fd, old->st_mode & 07777) == 0;
        (void)owner_kept;
        (void)mode_kept;
    }
    return 0;
}

int cnnrt_out_open(cnnrt_out *o, const char *path)
{
    struct stat st;
    int exists = 0;
    o->tmp = NULL;
    o->fd = -1;
    if (!(o->target = resolve(path, &st, &exists)))
        return -1;
    if (exists && !S_ISREG(st.st_mode)) {
        o->fd = open(o->target, O_WRONLY | O_TRUNC | O_NOCTTY);
    } else {
        remove_stale_temps(o->target);
        create_temp(o, &st, exists);
    }
    if (o->fd < 0) {
        cnnrt_out_abort(o);
        return -1;
    }
    return 0;
}

int cnnrt_out_close(cnnrt_out *o, int sync)
{
    /* fsync of a device or pipe fails (EINVAL) and means nothing. */
    int failed = sync && o->tmp && fsync(o->fd) != 0;
    int saved = errno;
    if (close(o->fd) != 0 && !failed) {
        failed = 1;
        saved = errno;
    }
    o->fd = -1;
    errno = saved;
    return failed ? -1 : 0;
}

static void sync_dir(const char *target)
{
    char *dir = dir_of(target);
    int fd = dir ? open(dir, O_RDONLY) : -1;
    if (fd >= 0) {
        fsync(fd);   /* best effort: makes the rename durable */
        close(fd);
    }
    free(dir);
}

int cnnrt_out_commit(cnnrt_out *o, int sync)
{
    if (o->tmp && rename(o->tmp, o->target) != 0) {
        cnnrt_out_abort(o);
        return -1;
    }
    if (o->tmp && sync)
        sync_dir(o->target);
    free(o->tmp);
    free(o->target);
    o->tmp = o->target = NULL;
    return 0;
}

void cnnrt_out_abort(cnnrt_out *o)
{
    int saved = errno;
    if (o->fd >= 0)
        close(o->fd);
    if (o->tmp)
        unlink(o->tmp);
    free(o->tmp);
    free(o->target);
    o->tmp = o->target = NULL;
    o->fd = -1;
    errno = saved;
}

int cnnrt_write_file(const char *path, const void *data, size_t len, int sync)
{
    cnnrt_out o;
    if (cnnrt_out_open(&o, path) != 0)
        return -1;
    if (cnnrt_write_all(o.fd, data, len) != 0 || cnnrt_out_close(&o, sync) != 0) {
        cnnrt_out_abort(&o);
        return -1;
    }
    return cnnrt_out_commit(&o, sync);
}

int cnnrt_out_probe(const char *path)
{
    struct stat st;
    int exists = 0, rc = 0;
    char *target = resolve(path, &st, &exists);
    if (!target)
        return -1;
    if (exists && !S_ISREG(st.st_mode)) {
        rc = access(target, W_OK);   /* opening a FIFO would block */
        free(target);
        return rc;
    }
    free(target);
    cnnrt_out o;
    if (cnnrt_out_open(&o, path) != 0)
        return -1;
    cnnrt_out_abort(&o);
    return 0;
}

/* The resolved path with its directory made absolute and canonical; the
 * path itself if its directory does not exist. */
static char *normalize(const char *path)
{
    struct stat st;
    int exists;
    char *target = resolve(path, &st, &exists);
    char *dir = target ? dir_of(target) : NULL;
    char *real = dir ? realpath(dir, NULL) : NULL, *out = NULL;
    if (real && (out = malloc(strlen(real) + strlen(base_of(target)) + 2)))
        sprintf(out, "%s/%s", real, base_of(target));
    else if (!real)
        out = dup_n(path, strlen(path));
    free(real);
    free(dir);
    free(target);
    return out;
}

int cnnrt_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    int has_a = stat(a, &sa) == 0, has_b = stat(b, &sb) == 0;
    if (has_a && has_b)
        return S_ISREG(sa.st_mode) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    if (has_a || has_b)
        return 0;
    char *na = normalize(a), *nb = normalize(b);
    int same = na && nb ? strcmp(na, nb) == 0 : strcmp(a, b) == 0;
    free(na);
    free(nb);
    return same;
}

void cnnrt_escape_controls(char *s, size_t cap)
{
    size_t len = strlen(s), extra = 0, i;
    for (i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            extra += 3;
    if (!extra)
        return;
    char *copy = dup_n(s, len), *out = s;
    if (!copy)
        return;
    for (i = 0; i < len && (size_t)(out - s) + 5 <= cap; i++) {
        unsigned char c = (unsigned char)copy[i];
        if (c < 0x20 || c == 0x7f)
            out += sprintf(out, "\\x%02x", c);
        else
            *out++ = (char)c;
    }
    *out = '\0';
    free(copy);
}
