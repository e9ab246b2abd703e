#!/bin/sh
# The driver's gradcheck (analytic against numeric gradients) on a net with
# every graph layer: deconv, upsample, crop, concat, add, mul as channel
# scale, global pooling, batchnorm, ceil-mode pooling, dropout, softmax.
set -eu
. tests/lib.sh
$CNNC --main tests/gen/graph.net -o "$tmp/graph.c"
cc -std=c99 -O1 -Iruntime "$tmp/graph.c" build/libcnnrt.a -lz -lm -fopenmp -o "$tmp/graph"
for seed in 1 2 3; do
    "$tmp/graph" gradcheck --seed $seed --samples 40 --threads 1 >"$tmp/out" || { cat "$tmp/out"; exit 1; }
done
tail -1 "$tmp/out"
echo "gradcheck: 3 passed, 0 failed"
