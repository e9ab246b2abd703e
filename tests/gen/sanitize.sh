#!/bin/sh
# The generated kernels (tests/gen/kernels.net: direct and column tiles,
# with every pass and tail) under AddressSanitizer and UndefinedBehavior-
# Sanitizer: gradcheck, and forward/training/backward at batches that
# leave partial groups of images; and V-Net's pieces (tests/gen/vseg.net:
# prelu, broadcast add, the Dice loss) and every layer kind on a volume
# (tests/gen/vgraph.net) the same way.
# Environment: CNNC, LIBCNNRT (a sanitized libcnnrt.a), SAN (the flags).
set -eu
CNNC=${CNNC:-build/asan/cnnc}
. tests/lib.sh
LIBCNNRT=${LIBCNNRT:-build/asan/libcnnrt.a}
SAN=${SAN:--O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all}
pass=0
for net in kernels vseg vgraph; do
    $CNNC --main tests/gen/$net.net -o "$tmp/$net.c"
    # shellcheck disable=SC2086
    cc -std=c99 $SAN -Iruntime "$tmp/$net.c" "$LIBCNNRT" -lz -lm -fopenmp -o "$tmp/$net"
    "$tmp/$net" gradcheck --samples 12 --threads 2 >"$tmp/out" || { cat "$tmp/out"; exit 1; }
    pass=$((pass + 1))
    for batch in 1 3 19; do
        "$tmp/$net" bench --batch $batch --seconds 0.05 --threads 2 >"$tmp/out" || { cat "$tmp/out"; exit 1; }
        pass=$((pass + 1))
    done
done
echo "sanitize: $pass passed, 0 failed"
