/* emit/embed.c - `cnnc --embed-weights W`: the weights as constant arrays
 * and one static model, for firmware that has neither file I/O nor
 * malloc.  The file is read at compile time with the loader the network's
 * NAME_load uses, so both accept exactly the same files. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrt.h"
#include "cnnrt_net.h"
#include "emitter.h"
#include "util.h"

static bool readable(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f)
        fclose(f);
    return f != NULL;
}

/* As the spec writes it, "W" names W.safetensors; a full name works too. */
static char *weights_path(const char *path)
{
    size_t len = strlen(path);
    bool bare = len < 12 || strcmp(path + len - 12, ".safetensors") != 0;
    char *full = xasprintf("%s.safetensors", path);
    if (bare && !readable(path) && readable(full))
        return full;
    free(full);
    return xstrdup(path);
}

/* Reads the weights file at compile time with the loader the network's
 * NAME_load uses, so that it accepts exactly the same files (an extra
 * tensor is refused, a missing one too). */
static int read_embedded(const Emitter *E, const TensorInfo *t, int count, float *params, float *state,
                         char *err, size_t errlen)
{
    char *path = weights_path(E->opt->embed);
    cnn_tensor *table = xcalloc((size_t)count + 1, sizeof *table);
    for (int i = 0; i < count; i++) {
        table[i].name = t[i].name;
        table[i].ndim = t[i].ndim;
        memcpy(table[i].shape, t[i].shape, sizeof table[i].shape);
        table[i].offset = t[i].offset;
        table[i].in_state = t[i].in_state;
    }
    int rc = cnn_load_tensors(path, table, count, params, (size_t)E->num_params, state, (size_t)E->num_state);
    if (rc != 0)   /* it refuses NaN and infinities too, which C cannot spell */
        snprintf(err, errlen, "%s", cnn_error());
    free(table);
    free(path);
    return rc;
}

static void emit_float_array(Emitter *E, const char *decl, const float *v, long n)
{
    emit_open_block(E, "%s[%ld] =", decl, n + 1);
    StrBuf line;
    sb_init(&line);
    for (long i = 0; i < n; i++) {
        sb_printf(&line, "%s,%s", emit_flt(v[i]), (i % 8 == 7 || i == n - 1) ? "" : " ");
        if (i % 8 == 7 || i == n - 1) {
            emit_out(E, "%s", line.data);
            line.len = 0;
        }
    }
    sb_free(&line);
    emit_out(E, "0.0f   /* so that no array is empty */");
    E->indent--;
    emit_out(E, "};");
    emit_blank(E);
}

int emit_embedded(Emitter *E, const TensorInfo *t, int count, char *err, size_t errlen)
{
    float *params = xcalloc((size_t)E->num_params + 1, sizeof *params);
    float *state = xcalloc((size_t)E->num_state + 1, sizeof *state);
    int rc = read_embedded(E, t, count, params, state, err, errlen);
    if (rc == 0) {
        emit_out(E, "/* Weights from %s. */", E->opt->embed);
        emit_float_array(E, "static const float weights", params, E->num_params);
        emit_float_array(E, "static const float state_values", state, E->num_state);
    }
    free(params);
    free(state);
    return rc;
}

void emit_static_lifecycle(Emitter *E)
{
    const char *P = E->opt->prefix, *U = E->upper;
    char tasks[96] = "";
    if (E->task_elems)
        snprintf(tasks, sizeof tasks, " + (size_t)%ld * %s_MAX_THREADS", E->task_elems, U);
    emit_out(E, "static float scratch[%ldu + (size_t)%ld * %s_MAX_BATCH%s + 1];", E->num_stats + E->col_elems,
        E->act_elems + E->flat_elems, U, tasks);
    emit_out(E, "static %s instance;", P);
    emit_out(E, "static int instance_taken;");
    emit_blank(E);
    emit_out(E, "/* The one model there is: buffers are static, weights constant. */");
    emit_open_block(E, "%s *%s_new(int max_batch)", P, P);
    emit_out(E, "if (max_batch < 1 || max_batch > %s_MAX_BATCH || instance_taken)", U);
    emit_out(E, "    return NULL;");
    emit_out(E, "instance_taken = 1;");
    emit_out(E, "memset(&instance, 0, sizeof instance);");
    emit_out(E, "instance.max_batch = max_batch;");
    emit_out(E, "instance.params = (float *)weights;   /* never written: no training here */");
    emit_out(E, "instance.state = (float *)state_values;");
    emit_out(E, "instance.stats = scratch;");
    if (E->col_elems)
        emit_out(E, "instance.col = scratch + %ld;", E->num_stats);
    emit_out(E, "instance.act = scratch + %ld;", E->num_stats + E->col_elems);
    emit_out(E, "instance.flat = instance.act + (size_t)%ld * %s_MAX_BATCH;", E->act_elems, U);
    if (E->task_elems) {
        emit_out(E, "instance.task = instance.flat + (size_t)%ld * %s_MAX_BATCH;", E->flat_elems, U);
        emit_out(E, "instance.threads = %s_MAX_THREADS;", U);
    }
    emit_out(E, "return &instance;");
    emit_close_block(E);
    emit_blank(E);
    emit_open_block(E, "void %s_free(%s *m)", P, P);
    emit_out(E, "if (m == &instance)");
    emit_out(E, "    instance_taken = 0;");
    emit_close_block(E);
    emit_blank(E);
    emit_weight_accessors(E);
    emit_open_block(E, "void %s_init(%s *m, uint64_t seed)   /* the weights are fixed */", P, P);
    emit_out(E, "(void)m;");
    emit_out(E, "(void)seed;");
    emit_close_block(E);
    emit_blank(E);
}

/* NAME_params and NAME_state: the same for allocated and static models. */
void emit_weight_accessors(Emitter *E)
{
    const char *P = E->opt->prefix;
    emit_open_block(E, "float *%s_params(%s *m)", P, P);
    emit_out(E, "return m->params;");
    emit_close_block(E);
    emit_blank(E);
    emit_open_block(E, "float *%s_state(%s *m)", P, P);
    emit_out(E, "return m->state;");
    emit_close_block(E);
    emit_blank(E);
}
