#!/bin/sh
# --blas: conv and fc through im2col + cblas_sgemm give the same forward
# outputs, input gradients and weight gradients as the direct kernels, for
# LeNet-5 and for a net with strides, asymmetric padding, dilation and
# groups.
set -eu
CNNC=${CNNC:-build/cnnc}
case $CNNC in /*) ;; *) CNNC=$PWD/$CNNC ;; esac
top=$PWD
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
cat >odd.net <<'NET'
network net
input 13x11x4
conv 3x3x8 stride 2 pad 1x2 fit floor relu
conv 3x3x8 dilation 2 groups 2 pad same
conv 1x1x6 nobias tanh
fc 7 sigmoid
fc 3 nobias
NET
sed 's/^network lenet5$/network net/' "$top/examples/lenet.net" >lenet.net
cat >probe.c <<'C'
#include <stdio.h>
#include "net.h"
/* Prints y, dL/dx and dL/dW for fixed weights, inputs and dL/dy. */
int main(void)
{
    enum { N = 3 };
    net *m = net_new(N);
    if (!m)
        return 1;
    net_init(m, 11);
    static float x[N * NET_IN_SIZE], y[N * NET_OUT_SIZE], dy[N * NET_OUT_SIZE], dx[N * NET_IN_SIZE];
    for (int i = 0; i < N * NET_IN_SIZE; i++)
        x[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    for (int i = 0; i < N * NET_OUT_SIZE; i++)
        dy[i] = (float)((i * 13) % 7) / 3.0f - 1.0f;
    net_forward(m, x, y, N);
    net_backward(m, x, dy, dx, N);
    for (int i = 0; i < N * NET_OUT_SIZE; i++)
        printf("y %.6e\n", y[i]);
    for (int i = 0; i < N * NET_IN_SIZE; i++)
        printf("dx %.6e\n", dx[i]);
    for (long i = 0; i < NET_NUM_PARAMS; i++)
        printf("dw %.6e\n", net_grads(m)[i]);
    net_free(m);
    return 0;
}
C
blas_flags=$(pkg-config --cflags --libs openblas 2>/dev/null || echo -lopenblas)
for n in lenet odd; do
    $CNNC $n.net -o net.c
    cc -std=c99 -O1 -I"$top/runtime" -I. probe.c net.c "$top/build/libcnnrt.a" -lz -lm -o direct
    $CNNC --blas $n.net -o net.c
    cc -std=c99 -Wall -Wextra -pedantic -Werror -O1 -I"$top/runtime" -I. probe.c net.c "$top/build/libcnnrt.a" \
        $blas_flags -lz -lm -o blas
    ./direct >direct.txt
    OPENBLAS_NUM_THREADS=1 ./blas >blas.txt
    # the same numbers up to float rounding: |a - b| <= 1e-5 + 1e-4 |a|
    paste direct.txt blas.txt | awk -v net=$n '
        { d = $2 - $4; if (d < 0) d = -d; a = $2 < 0 ? -$2 : $2;
          if (d > 1e-5 + 1e-4 * a) { bad++; if (bad < 5) print net ": " $1 " differs: " $2 " vs " $4 } }
        END { if (bad) { print net ": " bad " values differ"; exit 1 } }'
done
echo "blas: 2 passed, 0 failed"
