/* peak.c - the machine's FP32 peak, measured, for `make bench`: an FMA
 * micro-kernel with 12 independent accumulators (more than the FMA latency
 * x throughput of current x86 cores, so the FMA units never wait), run by
 * T OpenMP threads at once, on 8-float vectors (AVX2) and, where the
 * compiler targets AVX-512, on 16-float vectors too: the peak is the
 * faster of the two (some cores run 16 lanes as two halves, at the 8-lane
 * rate).
 *
 * GCC keeps an array of vector accumulators in memory; twelve separate
 * variables, tied to registers by an empty asm after each iteration (which
 * also stops the loop being folded away), keep them in registers.
 *
 * Usage: peak THREADS SECONDS
 * Prints: [16 lanes: X GFLOP/s, 8 lanes: Y GFLOP/s]
 *         peak: X GFLOP/s (T threads, WIDTH)
 * (the sum over the threads of each one's best run; `peak 1 S` is the
 * per-thread figure).
 * Build: cc -O2 -march=native -ffp-contract=fast -fopenmp bench/peak.c */
#include <stdio.h>
#include <stdlib.h>

#include <omp.h>

typedef float v8 __attribute__((vector_size(32)));
#ifdef __AVX512F__
typedef float v16 __attribute__((vector_size(64)));
#endif

#ifdef __clang__
#define NOIPA noinline
#else
#define NOIPA noipa
#endif

#define ITERS 100000L   /* per call: 12 * LANES * 2 * ITERS flops */

/* KERNEL(NAME, VECTOR, LANES): NAME(iters, seed) runs the 12 chains of
 * ITERS FMAs on VECTOR; noipa: the same call with the same arguments must
 * run again. */
#define KERNEL(name, vec, lanes)                                                                   \
    __attribute__((NOIPA)) static float name(long iters, float seed)                               \
    {                                                                                              \
        vec b = {0}, c = {0};                                                                      \
        b += 0.999999f;                                                                            \
        c += 1e-7f * seed;                                                                         \
        vec a0 = b * seed, a1 = a0 + 1, a2 = a0 + 2, a3 = a0 + 3, a4 = a0 + 4, a5 = a0 + 5;        \
        vec a6 = a0 + 6, a7 = a0 + 7, a8 = a0 + 8, a9 = a0 + 9, a10 = a0 + 10, a11 = a0 + 11;      \
        for (long i = 0; i < iters; i++) {                                                         \
            a0 = a0 * b + c;                                                                       \
            a1 = a1 * b + c;                                                                       \
            a2 = a2 * b + c;                                                                       \
            a3 = a3 * b + c;                                                                       \
            a4 = a4 * b + c;                                                                       \
            a5 = a5 * b + c;                                                                       \
            a6 = a6 * b + c;                                                                       \
            a7 = a7 * b + c;                                                                       \
            a8 = a8 * b + c;                                                                       \
            a9 = a9 * b + c;                                                                       \
            a10 = a10 * b + c;                                                                     \
            a11 = a11 * b + c;                                                                     \
            __asm__("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5), "+v"(a6),    \
                    "+v"(a7), "+v"(a8), "+v"(a9), "+v"(a10), "+v"(a11));                           \
        }                                                                                          \
        vec s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11));    \
        float sum = 0;                                                                             \
        for (int l = 0; l < (lanes); l++)                                                          \
            sum += s[l];                                                                           \
        return sum;                                                                                \
    }

KERNEL(kernel8, v8, 8)
#ifdef __AVX512F__
KERNEL(kernel16, v16, 16)
#endif

/* The sum over the threads of each one's best of 5 runs of seconds/5 of
 * kernel (LANES floats a vector), in GFLOP/s. */
static double peak(float (*kernel)(long, float), int lanes, int threads, double seconds)
{
    double per_thread[1024] = {0}, total = 0;
    float sink = 0;
    int got = 0;
    omp_set_num_threads(threads);
#pragma omp parallel reduction(+ : sink)
    {
        int t = omp_get_thread_num();
        double best = 0;
#pragma omp single nowait
        got = omp_get_num_threads();
        sink += kernel(ITERS, (float)t);   /* warm-up: clocks, page faults */
        /* a run that a neighbour slowed down says nothing about the peak */
        for (int r = 0; r < 5; r++) {
            long calls = 0;
            double start = omp_get_wtime(), elapsed;
            do {
                sink += kernel(ITERS, (float)t);
                calls++;
            } while ((elapsed = omp_get_wtime() - start) < seconds / 5);
            double gflops = (double)calls * ITERS * 12 * lanes * 2 / elapsed * 1e-9;
            if (gflops > best)
                best = gflops;
        }
        per_thread[t] = best;
    }
    for (int t = 0; t < got; t++)
        total += per_thread[t];
    return sink == 12345.0f ? -total : total;   /* uses sink: the kernel cannot be dropped */
}

int main(int argc, char **argv)
{
    if (argc != 3 || atoi(argv[1]) < 1 || atof(argv[2]) <= 0) {
        fprintf(stderr, "usage: %s THREADS SECONDS\n", argv[0]);
        return 2;
    }
    int threads = atoi(argv[1]) > 1024 ? 1024 : atoi(argv[1]);
    double seconds = atof(argv[2]);
    double best = peak(kernel8, 8, threads, seconds);
    const char *isa = "8 lanes (AVX2 + FMA)";
#ifdef __AVX512F__
    double wide = peak(kernel16, 16, threads, seconds);
    printf("16 lanes: %.1f GFLOP/s, 8 lanes: %.1f GFLOP/s\n", wide, best);
    if (wide > best) {
        best = wide;
        isa = "16 lanes (AVX-512)";
    }
#endif
    printf("peak: %.1f GFLOP/s (%d threads, %s)\n", best, threads, isa);
    return 0;
}
