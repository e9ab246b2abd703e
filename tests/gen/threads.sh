#!/bin/sh
# Generated code embedded in a program that uses OpenMP itself: each call
# picks its own team (runtime/team.c; its second call always tries fewer
# threads) and gives the caller back its thread count, and the results do
# not depend on the team.  Then the same for a volume net at batch 1.
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
# host with the net in lenet.c, built and run
run_host() {
    cc -std=c99 -O1 -fopenmp -Wall -Wextra -pedantic -I"$top/runtime" -I. host.c lenet.c "$top/build/libcnnrt.a" \
        -lz -lm -o host
    ./host
}
$CNNC "$top/examples/lenet.net" -o lenet.c
run_host

# The same host on a net of over 2^20 parameters, whose gradients are
# cleared and updated by the team in ranges (emit.c, SPLIT_PARAMS): a range
# cut wrong leaves weights that differ from one thread's.
cat >wide.net <<'NET'
network wide
input 32x32x1
fc 1100 relu
fc 10
softmax
NET
$CNNC -p lenet5 wide.net -o lenet.c
grep -q 'parts = THREADS()' lenet.c || { echo "wide.net: no update split among the threads"; exit 1; }
run_host

# A volume net at batch 1 (and 2): the team splits each item's depths,
# planes and filters (emit/vol.c), so a range cut wrong or a thread's
# scratch shared shows as results that differ between 1, 2 and 3 threads.
# Its layers take every path: tiles (c, the 5x5x5; e, 48 filters on 8x8
# planes, rows of whole vectors), columns (d, stride 2; s, 4x4 planes too
# small for tiles, whose dL/dx splits channels and whose dL/dW is
# matmul_tiles' by rows, in column blocks), a deconvolution, pools and
# upsampling.
cat >vpar.net <<'NET'
network vpar
input 12x16x16x2
c = conv 5x5x5x8 pad 2
a = prelu
d = conv 2x2x2x12 stride 2
u = deconv 2x2x2x8 stride 2
k = concat u, a
p = pool max 2
e = conv 3x3x3x48 pad 1 from p
q = pool avg 2
s = conv 3x3x3x48 pad 1
up = upsample 2
h = conv 1x1x1x3
o = upsample 2
softmax
NET
cat >vhost.c <<'C'
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vpar.h"

enum { N = 2 };

typedef struct {
    float y[N * VPAR_OUT_SIZE], dx[N * VPAR_IN_SIZE], grads[VPAR_NUM_PARAMS], w[VPAR_NUM_PARAMS];
} Results;

/* Forward, backward and a training step at batch 1, then at batch 2. */
static int run(int threads, Results *r)
{
    static float x[N * VPAR_IN_SIZE], dy[N * VPAR_OUT_SIZE];
    static int labels[N * VPAR_OUT_SIZE];
    cnn_optim opt = cnn_sgd(0.01f, 0.9f);
    vpar *m = vpar_new(N);
    if (!m)
        return 0;
    for (int i = 0; i < N * VPAR_IN_SIZE; i++)
        x[i] = (float)((i * 37) % 101) / 101.0f - 0.5f;
    for (int i = 0; i < N * VPAR_OUT_SIZE; i++)
        dy[i] = (float)(i % 7) - 3.0f, labels[i] = i % VPAR_OUT_C;
    omp_set_num_threads(threads);
    for (int n = 1; n <= N; n++) {
        vpar_forward(m, x, r->y, n);
        vpar_backward(m, x, dy, r->dx, n);
        memcpy(r->grads, vpar_grads(m), sizeof r->grads);
        vpar_train_step(m, x, labels, n, &opt);
    }
    memcpy(r->w, vpar_params(m), sizeof r->w);
    vpar_free(m);
    return 1;
}

int main(void)
{
    static Results one, two, three;
    if (!run(1, &one) || !run(2, &two) || !run(3, &three))
        return 1;
    if (memcmp(&one, &two, sizeof one) || memcmp(&one, &three, sizeof one)) {
        printf("a volume net computes different results with 1, 2 and 3 threads\n");
        return 1;
    }
    return 0;
}
C
$CNNC vpar.net -o vpar.c
cc -std=c99 -O1 -fopenmp -Wall -Wextra -pedantic -I"$top/runtime" -I. vhost.c vpar.c "$top/build/libcnnrt.a" -lz -lm \
    -o vhost
./vhost
echo "threads: 2 passed, 0 failed"
