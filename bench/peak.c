/* peak.c - the machine's FP32 peak, measured, for `make bench`: an FMA
 * micro-kernel on 8-float vectors with 12 independent accumulators (more
 * than the FMA latency x throughput of current x86 cores, so the FMA units
 * never wait), run by T OpenMP threads at once.
 *
 * GCC keeps an array of vector accumulators in memory; twelve separate
 * variables, tied to registers by an empty asm after each iteration (which
 * also stops the loop being folded away), keep them in registers.
 *
 * Usage: peak THREADS SECONDS
 * Prints: peak: X GFLOP/s (T threads)
 * (the sum over the threads of each one's best run; `peak 1 S` is the
 * per-thread figure).
 * Build: cc -O2 -march=native -ffp-contract=fast -fopenmp bench/peak.c */
#include <stdio.h>
#include <stdlib.h>

#include <omp.h>

typedef float v8 __attribute__((vector_size(32)));

#define ITERS 100000L   /* per call: 12 * 8 * 2 * ITERS flops */

/* noipa: the same call with the same arguments must run again */
__attribute__((noipa)) static float kernel(long iters, float seed)
{
    v8 b = {0}, c = {0};
    b += 0.999999f;
    c += 1e-7f * seed;
    v8 a0 = b * seed, a1 = a0 + 1, a2 = a0 + 2, a3 = a0 + 3, a4 = a0 + 4, a5 = a0 + 5;
    v8 a6 = a0 + 6, a7 = a0 + 7, a8 = a0 + 8, a9 = a0 + 9, a10 = a0 + 10, a11 = a0 + 11;
    for (long i = 0; i < iters; i++) {
        a0 = a0 * b + c;
        a1 = a1 * b + c;
        a2 = a2 * b + c;
        a3 = a3 * b + c;
        a4 = a4 * b + c;
        a5 = a5 * b + c;
        a6 = a6 * b + c;
        a7 = a7 * b + c;
        a8 = a8 * b + c;
        a9 = a9 * b + c;
        a10 = a10 * b + c;
        a11 = a11 * b + c;
        __asm__("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5), "+x"(a6), "+x"(a7),
                "+x"(a8), "+x"(a9), "+x"(a10), "+x"(a11));
    }
    v8 s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11));
    return s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
}

int main(int argc, char **argv)
{
    if (argc != 3 || atoi(argv[1]) < 1 || atof(argv[2]) <= 0) {
        fprintf(stderr, "usage: %s THREADS SECONDS\n", argv[0]);
        return 2;
    }
    int threads = atoi(argv[1]);
    double seconds = atof(argv[2]);
    double per_thread[1024] = {0};
    float sink = 0;
    int got = 0;
    if (threads > 1024)
        threads = 1024;
    omp_set_num_threads(threads);
#pragma omp parallel reduction(+ : sink)
    {
        int t = omp_get_thread_num();
        double best = 0;
#pragma omp single nowait
        got = omp_get_num_threads();
        sink += kernel(ITERS, (float)t);   /* warm-up: clocks, page faults */
        /* the best of 5 runs of seconds/5: a run that a neighbour slowed
         * down says nothing about the machine's peak */
        for (int r = 0; r < 5; r++) {
            long calls = 0;
            double start = omp_get_wtime(), elapsed;
            do {
                sink += kernel(ITERS, (float)t);
                calls++;
            } while ((elapsed = omp_get_wtime() - start) < seconds / 5);
            double gflops = (double)calls * ITERS * 12 * 8 * 2 / elapsed * 1e-9;
            if (gflops > best)
                best = gflops;
        }
        per_thread[t] = best;
    }
    double total = 0;
    for (int t = 0; t < got; t++)
        total += per_thread[t];
    printf("peak: %.1f GFLOP/s (%d threads)\n", total, got);
    return sink == 12345.0f;   /* uses sink: the kernel cannot be dropped */
}
