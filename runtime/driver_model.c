/* driver_model.c - creating a model (initialised, or loaded from --load)
 * and the settings that apply to every command (required options, threads). */
#include <stdio.h>

#include "driver.h"

#ifdef _OPENMP
#include <omp.h>
#elif defined(__GNUC__) && defined(__ELF__)
/* libcnnrt is built without OpenMP, while the generated network may be
 * built with -fopenmp.  A weak reference finds libgomp's
 * omp_set_num_threads when the program links it, and is NULL otherwise. */
#pragma weak omp_set_num_threads
void omp_set_num_threads(int n);
#define WEAK_OMP 1
#endif

void cnn_drv_threads(const cnn_drv_opts *o)
{
    if (!o->threads_set)
        return;
#ifdef _OPENMP
    omp_set_num_threads(o->threads);
#else
#ifdef WEAK_OMP
    if (omp_set_num_threads) {
        omp_set_num_threads(o->threads);
        return;
    }
#endif
    if (o->threads > 1)
        fprintf(stderr, "%s: note: built without OpenMP; --threads %d is ignored (one thread)\n",
                o->prog, o->threads);
#endif
}

int cnn_drv_need(const cnn_drv_opts *o, const char *value, const char *option)
{
    if (value)
        return DRV_OK;
    cnn_drv_error(o, "'%s' needs --%s", o->command, option);
    return DRV_USAGE;
}

void *cnn_drv_model(const cnn_net *net, const cnn_drv_opts *o, int max_batch)
{
    void *m = net->create(max_batch);
    if (!m) {
        cnn_drv_error(o, "out of memory for a %s model of batch %d", net->name, max_batch);
        return NULL;
    }
    net->init(m, o->seed);
    if (o->load && net->load(m, o->load) < 0) {
        const char *why = cnn_error();
        /* The runtime's messages name the file; say it ourselves if not. */
        if (why && *why)
            cnn_drv_error(o, "%s", why);
        else
            cnn_drv_error(o, "%s: cannot load weights", o->load);
        net->destroy(m);
        return NULL;
    }
    return m;
}
