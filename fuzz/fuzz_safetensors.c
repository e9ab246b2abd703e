/* fuzz_safetensors.c - libFuzzer target for the safetensors reader and the
 * loader of generated models (make fuzz).
 *
 * Each input is read as a safetensors file: cnn_st_open validates it, every
 * tensor is fetched with its name, and cnn_load_tensors loads it against a
 * small model's table (what NAME_load does), whose names the seeds use:
 * an extra tensor, a counter, a wrong dtype or shape must be errors, never
 * a crash, a leak or an undefined operation (ASan and UBSan). */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <string.h>

#include "cnnrt.h"
#include "cnnrt_net.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* conv 3x3x2 on one channel, batchnorm, fc 3 on 2x2x2: every rank 1-4. */
static const cnn_tensor table[] = {
    {"conv1.weight", 4, {2, 1, 3, 3}, 0, 0},
    {"conv1.bias", 1, {2}, 18, 0},
    {"bn1.weight", 1, {2}, 20, 0},
    {"bn1.bias", 1, {2}, 22, 0},
    {"bn1.running_mean", 1, {2}, 0, 1},
    {"bn1.running_var", 1, {2}, 2, 1},
    {"fc1.weight", 2, {3, 8}, 24, 0},
    {"fc1.bias", 1, {3}, 48, 0},
};
enum { NPARAMS = 51, NSTATE = 4, NTABLE = sizeof table / sizeof table[0] };

/* Fetches every tensor under its own name, as F32 of the table's shape for
 * that name (or 2x2), which exercises both the match and the mismatch. */
static void get_all(const cnn_st *st)
{
    float dst[NPARAMS];
    char err[256];
    for (int i = 0; i < cnn_st_count(st); i++) {
        const char *name = cnn_st_name(st, i);
        const cnn_tensor *t = NULL;
        for (int k = 0; k < NTABLE && !t; k++)
            if (strcmp(table[k].name, name) == 0)
                t = &table[k];
        static const int64_t square[2] = {2, 2};
        cnn_st_get(st, name, t ? t->shape : square, t ? t->ndim : 2, dst, err, sizeof err);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    if (!path)
        return 0;
    char err[256];
    cnn_st *st = cnn_st_open(path, err, sizeof err);
    if (st) {
        get_all(st);
        cnn_st_close(st);
    }
    float params[NPARAMS] = {0}, state[NSTATE] = {0};
    cnn_load_tensors(path, table, NTABLE, params, NPARAMS, state, NSTATE);
    return 0;
}
