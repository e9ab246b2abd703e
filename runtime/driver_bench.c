/* driver_bench.c - the `bench` command: images per second of inference
 * (forward), of training (train_step) and of the backward entry
 * (backward: an inference-mode forward, then dL/dx and dL/dW for a random
 * dL/dy) on a batch of random images.
 *
 * After a warm-up (caches, page faults, OpenMP thread start), each
 * measurement is BENCH_RUNS timed runs of at least --seconds / 10 each
 * (0.2 s by default); the median resists a noisy neighbour better than
 * the mean.  Training runs SGD with lr 0, so the weights stay as
 * initialised and no NaN can creep into the timing, and momentum 0.9, so
 * that each step does the work of a real one (the momentum buffer).
 *
 * Under mpirun --batch is the global batch, shared among the ranks as in
 * `train`; rank 0 decides when each run ends (the ranks must make the
 * same number of steps: training sums gradients over them), the rates
 * are of the whole job, and training reports its time per step waiting
 * on communication. */
#include <stdio.h>
#include <stdlib.h>

#include "dist.h"
#include "driver_commands.h"

#define BENCH_RUNS 5

typedef struct {
    const cnn_net *net;
    void *m;
    float *x, *y, *dy, *dx;
    int *labels;
    int batch;          /* this rank's images per call */
    int global;         /* all ranks' */
    long calls;         /* of the last measure, warm-up included */
    cnn_optim opt;
} bench;

static void run_forward(bench *b)
{
    b->net->forward(b->m, b->x, b->y, b->batch);
}

static void run_train(bench *b)
{
    b->net->train_step(b->m, b->x, b->labels, b->batch, &b->opt);
}

static void run_backward(bench *b)
{
    b->net->backward(b->m, b->x, b->dy, b->dx, b->batch);
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median images/s of fn over BENCH_RUNS runs of at least secs each. */
static double measure(void (*fn)(bench *), bench *b, double secs)
{
    double rates[BENCH_RUNS], t0 = cnn_drv_now();
    b->calls = 0;
    do
        fn(b), b->calls++;   /* warm-up */
    while (cnn_dist_root_says(cnn_drv_now() - t0 < secs / 2));
    for (int r = 0; r < BENCH_RUNS; r++) {
        long calls = 0;
        double start = cnn_drv_now(), elapsed;
        do {
            fn(b);
            calls++;
        } while (cnn_dist_root_says((elapsed = cnn_drv_now() - start) < secs));
        rates[r] = (double)calls * b->global / elapsed;
        b->calls += calls;
    }
    qsort(rates, BENCH_RUNS, sizeof rates[0], by_value);
    return rates[BENCH_RUNS / 2];
}

/* Random images in [0,1) and random labels, one per output pixel; for
 * backward, a random dL/dy in [-1,1) and room for dL/dx. */
static int bench_setup(bench *b, const cnn_net *net, const cnn_drv_opts *o)
{
    size_t pixels = (size_t)cnn_drv_label_size(net) * (size_t)o->batch;
    size_t inputs = (size_t)o->batch * (size_t)net->in_size;
    size_t outputs = (size_t)o->batch * (size_t)net->out_size;
    cnn_rng r;
    int from;
    b->net = net;
    b->global = o->batch;
    cnn_dist_share(o->batch, &from, &b->batch);
    if (b->batch < 1) {
        cnn_drv_error(o, "--batch %d: each of the %d ranks needs one image", o->batch, cnn_dist_size());
        return DRV_USAGE;
    }
    b->opt = cnn_sgd(0.0f, 0.9f);
    b->x = malloc(inputs * sizeof *b->x);
    b->y = malloc(outputs * sizeof *b->y);
    b->labels = malloc(pixels * sizeof *b->labels);
    if (net->backward) {
        b->dy = malloc(outputs * sizeof *b->dy);
        b->dx = malloc(inputs * sizeof *b->dx);
    }
    if (!b->x || !b->y || !b->labels || (net->backward && (!b->dy || !b->dx))) {
        cnn_drv_error(o, "out of memory for a batch of %d", o->batch);
        return DRV_IO;
    }
    cnn_rng_seed(&r, o->seed);
    for (size_t i = 0; i < inputs; i++)
        b->x[i] = cnn_rng_uniform(&r);
    for (size_t i = 0; i < pixels; i++)
        b->labels[i] = (int)(cnn_rng_next(&r) % (uint64_t)net->out_c);
    for (size_t i = 0; b->dy && i < outputs; i++)
        b->dy[i] = 2.0f * cnn_rng_uniform(&r) - 1.0f;
    b->m = cnn_drv_model(net, o, b->batch);
    return b->m ? DRV_OK : DRV_IO;
}

/* Decimals of a rate: a volume net trains at under one image a second. */
static int digits(double rate)
{
    return rate >= 100 ? 1 : 3;
}

/* Training, with the gradients summed over the ranks as in `train`. */
static void bench_train(bench *b, double secs)
{
    double wait0 = cnn_dist_wait_seconds();
    cnn_dist_set_batch(b->global);
    double rate = measure(run_train, b, secs);
    cnn_dist_set_batch(0);
    printf("train: %.*f images/s (batch %d)", digits(rate), rate, b->global);
    if (cnn_dist_size() > 1)
        printf(" on %d ranks, %.2f ms per step waiting on communication", cnn_dist_size(),
               1e3 * (cnn_dist_wait_seconds() - wait0) / (double)b->calls);
    printf("\n");
}

int cnn_drv_bench(const cnn_net *net, const cnn_drv_opts *o)
{
    bench b = {0};
    double secs = o->seconds / (2 * BENCH_RUNS);
    int rc = cnn_dist_agree(bench_setup(&b, net, o));
    if (rc == DRV_OK) {
        /* which of the runtime's kernel sets ran (CNNRT_ISA, the CPU) */
        printf("isa: %s\n", cnn_kernels_best()->isa);
        double forward = measure(run_forward, &b, secs);
        printf("forward: %.*f images/s (batch %d)\n", digits(forward), forward, o->batch);
        fflush(stdout);
        if (net->train_step)
            bench_train(&b, secs);
        else
            printf("train: not available (compiled with --no-train)\n");
        fflush(stdout);
        if (net->backward) {
            double backward = measure(run_backward, &b, secs);
            printf("backward: %.*f images/s (batch %d)\n", digits(backward), backward, o->batch);
        }
    }
    if (b.m)
        net->destroy(b.m);
    free(b.x);
    free(b.y);
    free(b.labels);
    free(b.dy);
    free(b.dx);
    return rc;
}
