/* conv3d_bench.c - the runtime's 3-D convolution (runtime/conv3d.c) for
 * `make bench` (issue 11): a 5x5x5 convolution, 32 -> 32 channels on a
 * 32x64x64 volume, pad 2, bias, batch 1, as PyTorch's
 * nn.Conv3d(32, 32, 5, padding=2) in bench/torch_bench.py conv3d.
 *
 * The runtime's calls take ranges and start no threads; this driver is
 * the thread team the generated code will be: OpenMP threads split each
 * pass (the padded planes, the output depths, the filters of dL/dW in 4s,
 * the input depths of dL/dx), each with its own scratch.
 *
 * Usage: conv3d_bench THREADS SECONDS
 * Prints, timed as runtime/driver_bench.c (a warm-up, then the median of
 * 5 runs of at least SECONDS/10):
 *   isa: NAME                          the kernels the runtime chose
 *   forward: X images/s (batch 1)      y = conv(x)
 *   backward: X images/s (batch 1)     the forward, then dL/dW, dL/db, dL/dx
 * Build: cc -O2 -fopenmp -Iruntime bench/conv3d_bench.c libcnnrt.a -lz -lm */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "cnnrt.h"

#define RUNS 5

typedef struct {
    cnn_conv3d g;
    float *x, *w, *b, *y, *dy, *dx, *dw, *db;
    float *xpad, *wpack, *dyp, *task;   /* task: one per thread */
} Bench;

static float *floats(long n)
{
    float *p = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    if (!p) {
        fprintf(stderr, "conv3d_bench: out of memory\n");
        exit(2);
    }
    for (long i = 0; i < n; i++)
        p[i] = (float)((i * 7919 % 2001) - 1000) / 1000.0f;
    return p;
}

/* This thread's share [*a, *b) of n, in multiples of `unit`. */
static void share(long n, long unit, long *a, long *b)
{
    long t = omp_get_thread_num(), nt = omp_get_num_threads(), units = (n + unit - 1) / unit;
    *a = units * t / nt * unit;
    *b = units * (t + 1) / nt * unit;
    if (*b > n)
        *b = n;
}

static void forward(Bench *k)
{
    const cnn_conv3d *g = &k->g;
#pragma omp parallel
    {
        long a, b;
        share(g->xpad_planes, 1, &a, &b);
        cnn_conv3d_pad_input(g, k->x, k->xpad, a, b);
#pragma omp barrier
        share(g->od, 1, &a, &b);
        cnn_conv3d_forward(g, k->x, k->xpad, k->w, k->wpack, k->b, k->y, (int)a, (int)b,
                           k->task + omp_get_thread_num() * g->task_floats);
    }
}

/* As PyTorch's conv(x).backward(dy): the forward, then the gradients
 * (which add up: zeroed first, as zero_grad does). */
static void forward_backward(Bench *k)
{
    const cnn_conv3d *g = &k->g;
    forward(k);
    memset(k->dw, 0, sizeof(float) * (size_t)((long)g->f * g->c * g->kd * g->kh * g->kw));
    memset(k->db, 0, sizeof(float) * (size_t)g->f);
    memset(k->dx, 0, sizeof(float) * (size_t)((long)g->c * g->d * g->h * g->w));
#pragma omp parallel
    {
        long a, b;
        float *task = k->task + omp_get_thread_num() * g->task_floats;
        share(g->dy_planes, 1, &a, &b);
        cnn_conv3d_pad_dy(g, k->dy, k->dyp, a, b);
#pragma omp barrier
        share(g->f, 4, &a, &b);
        cnn_conv3d_weight_grads(g, k->x, k->xpad, k->dy, k->dyp, k->dw, k->db, (int)a, (int)b, task);
        share(g->d, 1, &a, &b);
        cnn_conv3d_input_grads(g, k->dy, k->dyp, k->w, k->wpack, k->dx, (int)a, (int)b, task);
    }
}

/* The median calls/s of step over RUNS runs of at least seconds/10. */
static double rate(void (*step)(Bench *), Bench *k, double seconds)
{
    double secs = seconds / (2 * RUNS), start = omp_get_wtime(), rates[RUNS];
    do
        step(k);
    while (omp_get_wtime() - start < secs / 2);
    for (int r = 0; r < RUNS; r++) {
        long calls = 0;
        double elapsed;
        start = omp_get_wtime();
        do {
            step(k);
            calls++;
        } while ((elapsed = omp_get_wtime() - start) < secs);
        rates[r] = (double)calls / elapsed;
    }
    for (int i = 1; i < RUNS; i++)   /* insertion sort of 5 */
        for (int j = i; j > 0 && rates[j] < rates[j - 1]; j--) {
            double t = rates[j];
            rates[j] = rates[j - 1];
            rates[j - 1] = t;
        }
    return rates[RUNS / 2];
}

int main(int argc, char **argv)
{
    if (argc != 3 || atoi(argv[1]) < 1 || atof(argv[2]) <= 0) {
        fprintf(stderr, "usage: %s THREADS SECONDS\n", argv[0]);
        return 2;
    }
    int threads = atoi(argv[1]);
    double seconds = atof(argv[2]);
    Bench k;
    cnn_conv3d g = {32, 32, 64, 64, 32, 5, 5, 5, 1, 1, 1, 2, 2, 2, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    if (cnn_conv3d_init(&g)) {
        fprintf(stderr, "conv3d_bench: bad geometry\n");
        return 1;
    }
    k.g = g;
    long in = (long)g.c * g.d * g.h * g.w, out = (long)g.f * g.od * g.oh * g.ow;
    long wn = (long)g.f * g.c * g.kd * g.kh * g.kw;
    k.x = floats(in), k.w = floats(wn), k.b = floats(g.f), k.y = floats(out), k.dy = floats(out);
    k.dx = floats(in), k.dw = floats(wn), k.db = floats(g.f);
    k.xpad = floats(g.xpad_floats), k.wpack = floats(g.wpack_floats), k.dyp = floats(g.dy_floats);
    k.task = floats(g.task_floats * threads);
    cnn_conv3d_pack(&g, k.w, k.wpack);
    omp_set_num_threads(threads);
    printf("isa: %s\n", cnn_kernels_best()->isa);
    printf("path: forward and dL/dW by %s, dL/dx by %s\n", g.direct ? "tiles" : "columns",
           g.direct_dx ? "tiles" : "columns");
    printf("forward: %.3f images/s (batch 1)\n", rate(forward, &k, seconds));
    fflush(stdout);
    printf("backward: %.3f images/s (batch 1)\n", rate(forward_backward, &k, seconds));
    return 0;
}
