/* model.c - loading and saving a generated model's tensors by name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrt.h"

static char last_error[512];

const char *cnn_error(void)
{
    return last_error;
}

static int known(const cnn_tensor *t, int nt, const char *name)
{
    for (int i = 0; i < nt; i++)
        if (strcmp(t[i].name, name) == 0)
            return 1;
    size_t len = strlen(name), suffix = strlen(".num_batches_tracked");
    return len > suffix && strcmp(name + len - suffix, ".num_batches_tracked") == 0;
}

/* Reads into copies first so that a bad file changes nothing. */
int cnn_load_tensors(const char *path, const cnn_tensor *t, int nt, float *params, size_t nparams,
                     float *state, size_t nstate)
{
    cnn_st *st = cnn_st_open(path, last_error, sizeof last_error);
    if (!st)
        return -1;
    for (int i = 0; i < cnn_st_count(st); i++)
        if (!known(t, nt, cnn_st_name(st, i))) {
            snprintf(last_error, sizeof last_error, "%s: tensor '%s' is not part of this network", path,
                     cnn_st_name(st, i));
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
