/* fuzz_idx.c - libFuzzer target for the IDX (MNIST) readers, plain and
 * gzip'ed (make fuzz).
 *
 * Each input is read by every reader: MNIST's images and labels, inputs
 * and labels of any shape (bytes, float32, int32); zlib reads a
 * gzip'ed input transparently, so one target covers both forms.  Bad
 * magic, dimensions, lengths or compressed data must be errors, never a
 * crash, a leak or an undefined operation (ASan and UBSan). */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdlib.h>

#include "cnnrt.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    if (!path)
        return 0;
    char err[256];
    float *x;
    int *y, n, h, w;
    cnn_idx_info info;
    if (cnn_idx_load_images(path, &x, &n, &h, &w, err, sizeof err) == 0)
        free(x);
    if (cnn_idx_load_labels(path, &y, &n, err, sizeof err) == 0)
        free(y);
    if (cnn_idx_load_inputs(path, &x, &info, err, sizeof err) == 0)
        free(x);
    if (cnn_idx_load_classes(path, &y, &info, err, sizeof err) == 0)
        free(y);
    (void)cnn_idx_read_header(path, 0, &info, err, sizeof err);
    return 0;
}
