#!/bin/sh
# The documented build (cc -O2, no -march) of networks that use every
# convolution kernel and fc, run with each instruction set's kernels
# (CNNRT_ISA=generic, avx2, avx512): the same outputs as the generic
# kernels within float rounding, and gradcheck passing with each.  A set
# this CPU lacks is reported as skipped; a CNNRT_ISA it does not know is
# named in a warning and the network still runs.
set -u
. tests/lib.sh
PY=${PY:-/usr/bin/python3}
skip=0

# the largest difference of two float32 files, relative to the largest value
maxdiff() {
    "$PY" -c 'import struct, sys
a, b = (open(f, "rb").read() for f in sys.argv[1:3])
x, y = (struct.unpack("<%df" % (len(v) // 4), v) for v in (a, b))
scale = max(1e-30, max(abs(v) for v in x))
print(max(abs(p - q) for p, q in zip(x, y)) / scale if len(x) == len(y) else 1)' "$1" "$2"
}

# x.bin: 4 random images of the net's input; w.st: random weights for
# every tensor that `NET info` lists
inputs() {
    "$PY" -c 'import random, struct, sys
random.seed(7)
n = 4 * int(sys.argv[1])
open(sys.argv[2], "wb").write(struct.pack("<%df" % n, *[random.uniform(-1, 1) for _ in range(n)]))' "$@"
}
weights() {
    "$1" info | "$PY" -c 'import json, random, re, struct, sys
random.seed(8)
head, data = {}, b""
for line in sys.stdin:
    m = re.match(r"\s+(\S+)\s+\[([0-9, ]+)\]$", line)
    if m:
        shape = [int(d) for d in m.group(2).split(",")]
        n = 1
        for d in shape:
            n *= d
        head[m.group(1)] = {"dtype": "F32", "shape": shape, "data_offsets": [len(data), len(data) + 4 * n]}
        data += struct.pack("<%df" % n, *[random.uniform(-0.3, 0.3) for _ in range(n)])
h = json.dumps(head).encode()
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + data)' "$2"
}

for spec in "kernels:tests/gen/kernels.net" "lenet:examples/lenet.net"; do
    name=${spec%%:*} net=${spec#*:}
    $CNNC --main "$net" -o "$tmp/$name.c" && cc -O2 -Iruntime "$tmp/$name.c" build/libcnnrt.a -lz -lm -fopenmp \
        -o "$tmp/$name" || { bad "cnnc/cc on $net"; continue; }
    for isa in generic avx2 avx512; do
        CNNRT_ISA=$isa "$tmp/$name" gradcheck --samples 10 --threads 1 >"$tmp/out" 2>"$tmp/err"
        rc=$?
        if grep -q "CNNRT_ISA=$isa is not one this CPU runs" "$tmp/err"; then
            skip=$((skip + 1)); echo "isa: $isa skipped on $name: this CPU does not run it"; continue
        fi
        [ $rc = 0 ] && [ ! -s "$tmp/err" ] && ok || { bad "gradcheck of $name with CNNRT_ISA=$isa"; cat "$tmp/out" "$tmp/err"; }
    done
done

# Outputs with fixed weights: each set against the generic kernels.
weights "$tmp/kernels" "$tmp/kernels.st"
inputs $((21 * 21 * 8)) "$tmp/x21.bin"
for isa in generic avx2 avx512; do
    CNNRT_ISA=$isa "$tmp/kernels" forward --load "$tmp/kernels.st" --input "$tmp/x21.bin" --output "$tmp/y.$isa" \
        --threads 2 2>"$tmp/err" >/dev/null
    if grep -q "not one this CPU runs" "$tmp/err"; then
        skip=$((skip + 1)); echo "isa: $isa outputs skipped: this CPU does not run it"; continue
    fi
    [ -s "$tmp/y.$isa" ] || { bad "forward with CNNRT_ISA=$isa: $(cat "$tmp/err")"; continue; }
    d=$(maxdiff "$tmp/y.generic" "$tmp/y.$isa")
    awk -v d="$d" 'BEGIN {exit !(d < 1e-5)}' && ok || bad "CNNRT_ISA=$isa outputs differ from generic by $d"
done

# A set nobody has: a warning that names the variable, and the best set runs.
CNNRT_ISA=sse9 "$tmp/kernels" forward --load "$tmp/kernels.st" --input "$tmp/x21.bin" --output "$tmp/y.sse9" \
    2>"$tmp/err" >/dev/null
if grep -q "CNNRT_ISA=sse9 is not one this CPU runs (generic, avx2, avx512): using" "$tmp/err" &&
    [ "$(maxdiff "$tmp/y.generic" "$tmp/y.sse9")" != 1 ]; then ok; else bad "CNNRT_ISA=sse9: $(cat "$tmp/err")"; fi

echo "isa: $pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
