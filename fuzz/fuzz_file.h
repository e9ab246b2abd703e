/* fuzz_file.h - the loaders take paths, so each fuzz input goes through a
 * file in a directory of the fuzzer's own, removed at exit.  Included by
 * the loader targets only. */
#ifndef CNNC_FUZZ_FILE_H
#define CNNC_FUZZ_FILE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char fuzz_dir[] = "/tmp/cnnc-fuzz-XXXXXX";
static char fuzz_path[64];

static void fuzz_file_remove(void)
{
    unlink(fuzz_path);
    rmdir(fuzz_dir);
}

/* The path of a file holding data, or NULL if it could not be written. */
static const char *fuzz_file(const unsigned char *data, size_t size)
{
    if (!fuzz_path[0]) {
        if (!mkdtemp(fuzz_dir)) {
            perror("fuzz: mkdtemp");
            exit(1);
        }
        snprintf(fuzz_path, sizeof fuzz_path, "%s/input", fuzz_dir);
        atexit(fuzz_file_remove);
    }
    FILE *f = fopen(fuzz_path, "wb");
    if (!f)
        return NULL;
    int bad = fwrite(data, 1, size, f) != size;
    bad |= fclose(f) != 0;
    return bad ? NULL : fuzz_path;
}

#endif
