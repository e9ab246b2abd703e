/* driver_model.c - creating a model (initialised, or loaded from --load)
 * and the settings that apply to every command (required options, threads). */
#include <stddef.h>
#include <stdio.h>

#include "dist.h"
#include "driver.h"

/* The runtime may be built with -fopenmp while a program links it without
 * (or the other way round).  On ELF a weak reference finds libgomp's
 * omp_set_num_threads when the program links it and is NULL otherwise, so
 * linking never fails for want of OpenMP. */
#if defined(__GNUC__) && defined(__ELF__)
#pragma weak omp_set_num_threads
void omp_set_num_threads(int n);
#define HAVE_OMP (omp_set_num_threads != NULL)
#elif defined(_OPENMP)
#include <omp.h>
#define HAVE_OMP 1
#else
#define HAVE_OMP 0
#define omp_set_num_threads(n) ((void)(n))
#endif

void cnn_drv_threads(const cnn_drv_opts *o)
{
    if (!o->threads_set)
        return;
    if (HAVE_OMP)
        omp_set_num_threads(o->threads);
    else if (o->threads > 1)
        fprintf(stderr, "%s: note: built without OpenMP; --threads %d is ignored (one thread)\n",
                o->prog, o->threads);
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
    /* Ranks differ in their dropout streams; train gives them rank 0's weights. */
    net->init(m, o->seed + (uint64_t)cnn_dist_rank() * 0x9e3779b97f4a7c15u);
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
