#!/bin/sh
# The driver's gradcheck (analytic against numeric gradients) on a net with
# every graph layer: deconv, upsample, crop, concat, add, mul as channel
# scale, global pooling, batchnorm, ceil-mode pooling, dropout, softmax;
# on one with every activation that takes numbers (elu, hardtanh); and on
# one with lrn and countpad average pooling.
set -eu
. tests/lib.sh
for net in graph acts norms; do
    $CNNC --main tests/gen/$net.net -o "$tmp/$net.c"
    cc -std=c99 -O1 -Iruntime "$tmp/$net.c" build/libcnnrt.a -lz -lm -fopenmp -o "$tmp/$net"
    for seed in 1 2 3; do
        "$tmp/$net" gradcheck --seed $seed --samples 40 --threads 1 >"$tmp/out" || { cat "$tmp/out"; exit 1; }
    done
    tail -1 "$tmp/out"
done
echo "gradcheck: 9 passed, 0 failed"
