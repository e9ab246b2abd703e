#!/bin/sh
# Generated code embedded in a program that uses OpenMP itself: each call
# picks its own team (runtime/team.c; its second call always tries fewer
# threads) and gives the caller back its thread count, and the results do
# not depend on the team.
set -eu
. tests/lib.sh
cd "$tmp"
cat >host.c <<'C'
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lenet.h"

enum { N = 8, CALLS = 6 };

static int restored(const char *what, int threads)
{
    if (omp_get_max_threads() == threads)
        return 1;
    printf("after %s: %d threads, the caller had %d\n", what, omp_get_max_threads(), threads);
    return 0;
}

/* Runs CALLS of each entry point with `threads`; the last outputs in y, the
 * weights after training in w. */
static int run(int threads, float *y, float *w)
{
    static float x[N * LENET5_IN_SIZE], dy[N * LENET5_OUT_SIZE], dx[N * LENET5_IN_SIZE];
    static int labels[N];
    cnn_optim opt = cnn_sgd(0.01f, 0.9f);
    lenet5 *m = lenet5_new(N);
    int ok = m != NULL;
    for (int i = 0; i < N * LENET5_IN_SIZE; i++)
        x[i] = (float)((i * 37) % 101) / 101.0f;
    for (int i = 0; i < N * LENET5_OUT_SIZE; i++)
        dy[i] = (float)(i % 7) - 3.0f;
    for (int i = 0; i < N; i++)
        labels[i] = i % 10;
    omp_set_num_threads(threads);
    for (int c = 0; ok && c < CALLS; c++) {
        lenet5_forward(m, x, y, N);
        ok = restored("forward", threads);
        lenet5_train_step(m, x, labels, N, &opt);
        ok = ok && restored("train_step", threads);
        lenet5_backward(m, x, dy, dx, N);
        ok = ok && restored("backward", threads);
    }
    if (ok)
        memcpy(w, lenet5_params(m), sizeof(float) * LENET5_NUM_PARAMS);
    lenet5_free(m);
    return ok;
}

int main(void)
{
    static float y1[N * LENET5_OUT_SIZE], y3[N * LENET5_OUT_SIZE], w1[LENET5_NUM_PARAMS], w3[LENET5_NUM_PARAMS];
    if (!run(1, y1, w1) || !run(3, y3, w3))
        return 1;
    if (memcmp(y1, y3, sizeof y1) || memcmp(w1, w3, sizeof w1)) {
        printf("1 and 3 threads compute different results\n");
        return 1;
    }
    return 0;
}
C
$CNNC "$top/examples/lenet.net" -o lenet.c
cc -std=c99 -O1 -fopenmp -Wall -Wextra -pedantic -I"$top/runtime" -I. host.c lenet.c "$top/build/libcnnrt.a" -lz -lm \
    -o host
./host
echo "threads: 1 passed, 0 failed"
