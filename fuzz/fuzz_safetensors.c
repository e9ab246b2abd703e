/* fuzz_safetensors.c - libFuzzer target for the safetensors and IDX readers.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iruntime \
 *       tests/runtime/fuzz_safetensors.c runtime/safetensors.c runtime/idx.c \
 *       -lz -lm -o fuzz_st
 *   ./fuzz_st -max_total_time=60 CORPUS_DIR
 *
 * The readers take paths, so each input goes through a temporary file. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cnnrt.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static char path[64];
    char err[256];
    const int64_t shape[2] = {2, 2};
    float dst[4], *x;
    int *y, n, h, w, i;
    cnn_st *st;
    FILE *f;
    if (!path[0])
        snprintf(path, sizeof path, "/tmp/fuzz-cnnrt-%ld", (long)getpid());
    if (!(f = fopen(path, "wb")))
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    if ((st = cnn_st_open(path, err, sizeof err))) {
        for (i = 0; i < cnn_st_count(st); i++)
            cnn_st_get(st, cnn_st_name(st, i), shape, 2, dst, err, sizeof err);
        cnn_st_close(st);
    }
    if (cnn_idx_load_images(path, &x, &n, &h, &w, err, sizeof err) == 0)
        free(x);
    if (cnn_idx_load_labels(path, &y, &n, err, sizeof err) == 0)
        free(y);
    return 0;
}
