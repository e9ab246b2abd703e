#!/bin/sh
# --embed-weights: the weights become constants and the code needs neither
# malloc nor file I/O; its outputs equal those of the same weights loaded
# at run time.  A missing or mismatched weights file is an error (exit 2)
# that leaves no output behind.
set -eu
. tests/lib.sh
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
# Issue 9: a NaN or an infinity became nanf/inff, which does not compile,
# and an extra tensor that lenet5_load refuses was ignored.  Both are errors
# naming the tensor, with no output.  The last 4 bytes of the file are the
# last value of its last tensor.
last=$(/usr/bin/python3 -c 'import json, struct, sys
b = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n]); h.pop("__metadata__", None)
print(max(h, key=lambda k: h[k]["data_offsets"][1]))' w.safetensors)
size=$(wc -c <w.safetensors)
for v in nan inf -inf; do
    cp w.safetensors bad.safetensors
    case $v in
    nan) printf '\000\000\300\177' ;;
    inf) printf '\000\000\200\177' ;;
    -inf) printf '\000\000\200\377' ;;
    esac | dd of=bad.safetensors bs=1 seek=$((size - 4)) conv=notrunc 2>/dev/null
    status=0
    $CNNC "$top/examples/lenet.net" --embed-weights bad.safetensors -o bad.c 2>err.txt || status=$?
    [ "$status" = 2 ] && [ ! -e bad.c ] && [ ! -e bad.h ] || { echo "embed: $v weights accepted"; exit 1; }
    grep -q "tensor '$last' holds $(echo $v | sed 's/nan/NaN/')" err.txt || { echo "embed: $v: $(cat err.txt)"; exit 1; }
done
/usr/bin/python3 -c 'import json, struct, sys
b = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n]); data = b[8 + n:]
h["extra.weight"] = {"dtype": "F32", "shape": [1], "data_offsets": [len(data), len(data) + 4]}
j = json.dumps(h).encode(); j += b" " * (-len(j) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(j)) + j + data + bytes(4))' w.safetensors extra.safetensors
status=0
$CNNC "$top/examples/lenet.net" --embed-weights extra.safetensors -o bad.c 2>err.txt || status=$?
[ "$status" = 2 ] && [ ! -e bad.c ] && grep -q "tensor 'extra.weight' is not part of this network" err.txt || {
    echo "embed: an extra tensor was accepted: $(cat err.txt)"; exit 1; }
echo "embed: 8 passed, 0 failed"
