#!/bin/sh
# The driver's gradcheck (analytic against numeric gradients) on a net with
# every graph layer: deconv, upsample, crop, concat, add, mul as channel
# scale, global pooling, batchnorm, ceil-mode pooling, dropout, softmax;
# on one with every activation that takes numbers (elu, hardtanh); on one
# with V-Net's pieces (prelu, broadcast add, a Dice-loss output); and on
# one with lrn and countpad average pooling; and on vgraph, every layer
# kind on a volume.
set -eu
. tests/lib.sh
runs=0
for net in graph acts vseg norms vgraph; do
    $CNNC --main tests/gen/$net.net -o "$tmp/$net.c"
    cc -std=c99 -O1 -Iruntime "$tmp/$net.c" build/libcnnrt.a -lz -lm -fopenmp -o "$tmp/$net"
    for seed in 1 2 3; do
        "$tmp/$net" gradcheck --seed $seed --samples 40 --threads 1 >"$tmp/out" || { cat "$tmp/out"; exit 1; }
        runs=$((runs + 1))
    done
    tail -1 "$tmp/out"
done
echo "gradcheck: $runs passed, 0 failed"
