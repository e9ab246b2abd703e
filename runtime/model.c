/* model.c - loading and saving a generated model's tensors by name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrt.h"
#include "io.h"

static char last_error[512];

const char *cnn_error(void)
{
    return last_error;
}

static const cnn_tensor *find(const cnn_tensor *t, int nt, const char *name, size_t len)
{
    for (int i = 0; i < nt; i++)
        if (strncmp(t[i].name, name, len) == 0 && t[i].name[len] == '\0')
            return &t[i];
    return NULL;
}

/* PyTorch saves a batchnorm's step count as BN.num_batches_tracked, an I64
 * of shape []; the network does not use it, but accepts it from a
 * batchnorm of its own (the one with BN.running_mean) and in that form. */
static int check_counter(const cnn_st *st, int i, const cnn_tensor *t, int nt, const char *path)
{
    const char *name = cnn_st_name(st, i), *suffix = ".num_batches_tracked";
    size_t len = strlen(name), slen = strlen(suffix);
    char bn[300];
    if (len <= slen || strcmp(name + len - slen, suffix) != 0 || len - slen + 14 > sizeof bn)
        return -1;
    snprintf(bn, sizeof bn, "%.*s.running_mean", (int)(len - slen), name);
    if (!find(t, nt, bn, strlen(bn)))
        return -1;
    if (strcmp(cnn_st_dtype(st, i), "I64") == 0 && cnn_st_ndim(st, i) == 0)
        return 0;
    snprintf(last_error, sizeof last_error,
             "%s: tensor '%s' has dtype %s and %d dimensions; PyTorch saves it as I64 of shape []", path,
             name, cnn_st_dtype(st, i), cnn_st_ndim(st, i));
    return -2;
}

/* Every tensor of the file must be one of the table's. */
static int check_names(const cnn_st *st, const cnn_tensor *t, int nt, const char *path)
{
    for (int i = 0; i < cnn_st_count(st); i++) {
        const char *name = cnn_st_name(st, i);
        if (find(t, nt, name, strlen(name)))
            continue;
        int rc = check_counter(st, i, t, nt, path);
        if (rc == -1)
            snprintf(last_error, sizeof last_error, "%s: tensor '%s' is not part of this network", path, name);
        if (rc)
            return -1;
    }
    return 0;
}

/* The most bytes a file of the table's tensors can need: F32 tensors and
 * each batchnorm's 8-byte counter. */
static uint64_t table_bytes(const cnn_tensor *t, int nt)
{
    uint64_t total = 0;
    for (int i = 0; i < nt; i++) {
        uint64_t n = 4;
        for (int d = 0; d < t[i].ndim; d++)
            n *= (uint64_t)t[i].shape[d];
        total += n + 8;
    }
    return total;
}

static int load_tensors(const char *path, const cnn_tensor *t, int nt, float *params, size_t nparams,
                        float *state, size_t nstate)
{
    cnn_st *st = cnn_st_open_max(path, table_bytes(t, nt), last_error, sizeof last_error);
    if (!st)
        return -1;
    if (check_names(st, t, nt, path)) {
        cnn_st_close(st);
        return -1;
    }
    float *p = malloc((nparams + nstate + 1) * sizeof *p);
    if (!p) {
        snprintf(last_error, sizeof last_error, "%s: out of memory", path);
        cnn_st_close(st);
        return -1;
    }
    float *s = p + nparams;
    memcpy(p, params, nparams * sizeof *p);
    if (nstate)
        memcpy(s, state, nstate * sizeof *s);
    int rc = 0;
    for (int i = 0; i < nt && rc == 0; i++) {
        float *dst = (t[i].in_state ? s : p) + t[i].offset;
        rc = cnn_st_get(st, t[i].name, t[i].shape, t[i].ndim, dst, last_error, sizeof last_error);
    }
    if (rc == 0) {
        memcpy(params, p, nparams * sizeof *p);
        if (nstate)
            memcpy(state, s, nstate * sizeof *s);
    }
    free(p);
    cnn_st_close(st);
    return rc < 0 ? rc : 0;
}

/* Reads into copies first so that a bad file changes nothing. */
int cnn_load_tensors(const char *path, const cnn_tensor *t, int nt, float *params, size_t nparams,
                     float *state, size_t nstate)
{
    int rc = load_tensors(path, t, nt, params, nparams, state, nstate);
    if (rc)
        cnnrt_escape_controls(last_error, sizeof last_error);   /* names come from the file */
    return rc;
}

int cnn_save_tensors(const char *path, const cnn_tensor *t, int nt, const float *params,
                     const float *state)
{
    cnn_st_tensor *out = calloc((size_t)nt + 1, sizeof *out);
    if (!out) {
        snprintf(last_error, sizeof last_error, "%s: out of memory", path);
        return -1;
    }
    for (int i = 0; i < nt; i++) {
        out[i].name = t[i].name;
        out[i].ndim = t[i].ndim;
        memcpy(out[i].shape, t[i].shape, sizeof out[i].shape);
        out[i].data = (t[i].in_state ? state : params) + t[i].offset;
    }
    int rc = cnn_st_write(path, out, nt, last_error, sizeof last_error);
    free(out);
    return rc;
}
