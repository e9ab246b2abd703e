#!/bin/sh
# --blas: conv and fc through im2col + cblas_sgemm give the same forward
# outputs, input gradients and weight gradients as the direct kernels, for
# LeNet-5 and for nets with strides, asymmetric padding, dilation and
# groups; built with OpenMP and run with 1 and 2 threads (the products in
# slices across threads, several images side by side), and linked with
# the reference CBLAS too when it is installed (no openblas_* symbols).
# The report says which layers BLAS takes and which fall back.
set -eu
. tests/lib.sh
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
# BLAS takes conv2 (groups, dilation; 2 + 1 images side by side, its
# columns in slices of 256 with a short last one), conv3 (strides,
# asymmetric padding) and fc1; conv1, conv4 and fc2 keep the default.
cat >big.net <<'NET'
network net
input 24x20x8
conv 3x3x256 pad same relu
conv 3x3x128 dilation 2 pad same groups 2 tanh
conv 3x3x64 stride 2 pad 1x2 fit floor
conv 1x1x16 nobias
fc 40 relu
fc 5
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
# the same numbers up to float rounding: |a - b| <= 1e-5 + 1e-4 |a|
same() { # LABEL FILE
    paste direct.txt "$2" | awk -v net="$1" '
        { d = $2 - $4; if (d < 0) d = -d; a = $2 < 0 ? -$2 : $2;
          if (d > 1e-5 + 1e-4 * a) { bad++; if (bad < 5) print net ": " $1 " differs: " $2 " vs " $4 } }
        END { if (bad) { print net ": " bad " values differ"; exit 1 } }'
}
ref=/usr/lib/x86_64-linux-gnu/blas
passed=0
for n in lenet odd big; do
    $CNNC $n.net -o net.c
    cc -std=c99 -O1 -I"$top/runtime" -I. probe.c net.c "$top/build/libcnnrt.a" -lz -lm -o direct
    $CNNC --blas $n.net -o net.c
    cc -std=c99 -Wall -Wextra -pedantic -Werror -O1 -fopenmp -I"$top/runtime" -I. probe.c net.c \
        "$top/build/libcnnrt.a" $blas_flags -lz -lm -o blas
    ./direct >direct.txt
    for t in 1 2; do
        OMP_NUM_THREADS=$t ./blas >blas.txt
        same "$n ($t threads)" blas.txt
    done
    passed=$((passed + 1))
    if [ -f $ref/libblas.so.3 ]; then
        cc -std=c99 -O1 -fopenmp -I"$top/runtime" -I. probe.c net.c "$top/build/libcnnrt.a" \
            -L$ref -Wl,-rpath,$ref -l:libblas.so.3 -lz -lm -o refblas
        OMP_NUM_THREADS=2 ./refblas >ref.txt
        same "$n (reference CBLAS)" ref.txt
    fi
done
# which layers BLAS takes: the report's kernel column, the code's calls
$CNNC --blas --report=json big.net >report.json
kernels=$(grep -o '"implementation": [a-z"]*' report.json | sed 's/"implementation": //' | tr -d '"' | tr '\n' ' ')
if [ "$kernels" != "cols blas blas tile blas fc " ]; then
    echo "big: kernels $kernels, expected cols blas blas tile blas fc"
    exit 1
fi
$CNNC --blas big.net -o net.c
calls=$(grep -c 'cblas_sgemm(' net.c)
if [ "$calls" != 9 ]; then
    echo "big: $calls cblas_sgemm calls, expected 9 (3 per BLAS layer)"
    exit 1
fi
passed=$((passed + 1))
[ -f $ref/libblas.so.3 ] || echo "blas: reference CBLAS not installed ($ref): linked with OpenBLAS only"
echo "blas: $passed passed, 0 failed"
