#!/bin/sh
# --embed-weights: the weights become constants and the code needs neither
# malloc nor file I/O; its outputs equal those of the same weights loaded
# at run time.  A missing or mismatched weights file is an error (exit 2)
# that leaves no output behind.
set -eu
CNNC=${CNNC:-build/cnnc}
case $CNNC in /*) ;; *) CNNC=$PWD/$CNNC ;; esac
top=$PWD
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
mkdir dyn emb
cat >probe.c <<'C'
#include <stdio.h>
#include "lenet.h"
/* Writes weights (when asked) and prints the outputs for a fixed batch. */
int main(int argc, char **argv)
{
    lenet5 *m = lenet5_new(2);
    if (!m)
        return 1;
    if (argc > 1) {
        lenet5_init(m, 7);
        if (lenet5_save(m, argv[1]) != 0)
            return 1;
    }
    float x[2 * LENET5_IN_SIZE], y[2 * LENET5_OUT_SIZE];
    for (int i = 0; i < 2 * LENET5_IN_SIZE; i++)
        x[i] = (float)((i * 37) % 101) / 101.0f;
    lenet5_forward(m, x, y, 2);
    for (int i = 0; i < 2 * LENET5_OUT_SIZE; i++)
        printf("%.7g\n", y[i]);
    lenet5_free(m);
    return 0;
}
C
$CNNC "$top/examples/lenet.net" -o dyn/lenet.c
cc -std=c99 -O1 -I"$top/runtime" -Idyn probe.c dyn/lenet.c "$top/build/libcnnrt.a" -lz -lm -fopenmp -o dyn/probe
dyn/probe w.safetensors >dyn.txt
$CNNC "$top/examples/lenet.net" --embed-weights w.safetensors -o emb/lenet.c
cc -std=c99 -Wall -Wextra -pedantic -Werror -O1 -DLENET5_MAX_BATCH=2 -I"$top/runtime" -Iemb \
    probe.c emb/lenet.c "$top/build/libcnnrt.a" -lm -o emb/probe
emb/probe >emb.txt
cmp dyn.txt emb.txt
# the spec's spelling: W names W.safetensors
$CNNC "$top/examples/lenet.net" --embed-weights w -o emb/lenet2.c
sed -n '/static const float weights/,$p' emb/lenet.c >a.txt
sed -n '/static const float weights/,$p' emb/lenet2.c >b.txt
cmp a.txt b.txt
if nm emb/probe | grep -Eq ' U (malloc|calloc|realloc|fopen|open)(@|$)'; then
    echo "embed: the embedded build still calls malloc or file I/O"; exit 1
fi
status=0
$CNNC "$top/examples/lenet.net" --embed-weights missing.safetensors -o bad.c 2>err.txt || status=$?
[ "$status" = 2 ] && grep -q "missing.safetensors" err.txt && [ ! -e bad.c ] && [ ! -e bad.h ]
$CNNC "$top/examples/alexnet.net" --embed-weights w.safetensors -o bad.c 2>err.txt && exit 1
grep -q "w.safetensors" err.txt
echo "embed: 4 passed, 0 failed"
