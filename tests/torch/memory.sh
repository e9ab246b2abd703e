#!/bin/sh
# memory.sh - the report's memory plan of every examples/*.net against the
# arena of its generated code, and the peak RSS of one training step of
# ResNet-18 (64x64x3 input, batch 8) and of the small V-Net (32x32x32x1,
# batch 2) against the plan.
#
#   sh tests/torch/memory.sh            (from the top directory, after `make`)
#
# Table 1: the report's "planned_bytes" per image (cnnc --report=json), MiB,
# inference and training, with and without buffer reuse; its
# "memory_bytes" fixed parts (params; in training also grads and two
# optimizer buffers; batchnorm statistics) and m->col as net_new allocates
# it (columns_allocated: for the largest group of images); and what the
# generated code's net_new() callocs per image, parsed from the generated C
# (--no-train and with training).  The plan must be the arena, float for
# float, fixed part and per image.
#
# Part 2: each net generated with --main (-p net) and a tiny C program that
# runs ONE net_train_step (SGD with momentum) under /usr/bin/time -v; its
# "Maximum resident set size", less the process's own before net_new (its
# baseline: the C library, the runtime's code, the input, label and output
# buffers; 2.5 to 3 MiB), must be within 5% of the report's
# memory_bytes.training at that batch (cnnc --report=json --batch B), which
# counts the columns a group of B images uses (below the largest group, the
# rest of m->col is never touched, so never resident).  The same for
# inference: ResNet-18's forward pass, code generated with --no-train.
# V-Net at full size (64x128x128, 3 GiB) is tests/torch/vnet_full.py.
# make system-check runs this.
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
CNNC=${CNNC:-$TOP/build/cnnc}
case $CNNC in /*) ;; *) CNNC=$TOP/$CNNC ;; esac
D=${TMPDIR:-/tmp}/cnnc-memory.$$
mkdir -p "$D"
trap 'rm -rf "$D"' EXIT
PY=python3

# floats per image and fixed floats of the arena calloc in generated C
arena() {   # FILE.c -> "FIXED PERIMAGE" (floats)
    a=$(sed -n 's/.*calloc(\([0-9]*\)u + (size_t)\([0-9]*\)u \* (size_t)max_batch.*/\1 \2/p' "$1" | head -n 1)
    [ -n "$a" ] || { echo "memory.sh: no arena calloc found in $1 (has the generated C changed?)" >&2; exit 1; }
    echo "$a"
}

printf '%-16s %12s | %9s %9s %9s %9s | %9s %9s %9s | %9s %9s\n' \
    network params inf inf_nore train train_nore fix_inf fix_train columns C_inf C_train
printf '%-16s %12s | %9s %9s %9s %9s | %9s %9s %9s | %9s %9s\n' \
    '' '' MiB/img MiB/img MiB/img MiB/img MiB MiB MiB MiB/img MiB/img
for f in "$TOP"/examples/*.net; do
    n=$(basename "$f" .net)
    "$CNNC" --report=json "$f" > "$D/$n.json"
    "$CNNC" "$f" -p net --no-train -o "$D/${n}_inf.c"
    "$CNNC" "$f" -p net -o "$D/${n}_train.c"
    $PY - "$D/$n.json" "$n" $(arena "$D/${n}_inf.c") $(arena "$D/${n}_train.c") <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
p, m = r["planned_bytes"], r["memory_bytes"]
M = 1024.0 * 1024.0
# bytes; the calloc asks for one float more than the fixed part (never 0)
fi, ci, ft, ct = ((int(v) - (k % 2 == 0)) * 4 for k, v in enumerate(sys.argv[3:7]))
print("%-16s %12s | %9.1f %9.1f %9.1f %9.1f | %9.1f %9.1f %9.1f | %9.1f %9.1f"
      % (sys.argv[2], format(r["params"], ","), p["inference"] / M, p["inference_no_reuse"] / M,
         p["training"] / M, p["training_no_reuse"] / M, m["fixed_inference"] / M, m["fixed_training"] / M,
         m["columns_allocated"] / M, ci / M, ct / M))
col = m["columns_allocated"]   # net_new's m->col: for the largest group of images
plan = (m["fixed_inference"] + col, p["inference"], m["fixed_training"] + col, p["training"])
if (fi, ci, ft, ct) != plan:
    sys.exit("FAIL: %s: the arena in bytes (fixed and per image, inference and training: %s) is not the "
             "report's plan %s" % (sys.argv[2], (fi, ci, ft, ct), plan))
EOF
done
echo "(inf/train: the report's planned bytes per image; fix_*: its fixed memory; columns: m->col as allocated;"
echo " C_*: the generated arena per image)"
echo

# ---- one training step: the peak RSS against the plan ----
cat > "$D/step.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <sys/resource.h>
#include "net.h"
/* The process's peak RSS so far in KiB (Linux's ru_maxrss). */
static long peak_kib(void) {
    struct rusage u;
    return getrusage(RUSAGE_SELF, &u) == 0 ? u.ru_maxrss : -1;
}
int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 1;
    size_t voxels = NET_OUT_SIZE / NET_OUT_C;   /* a label per output pixel or voxel */
    float *x = malloc(sizeof(float) * (size_t)n * NET_IN_SIZE);
    int *lab = malloc(sizeof(int) * (size_t)n * voxels);
    if (!x || !lab) { fprintf(stderr, "out of memory\n"); return 1; }
    srand(1);
    for (size_t i = 0; i < (size_t)n * NET_IN_SIZE; i++) x[i] = (float)rand() / RAND_MAX - 0.5f;
    for (size_t i = 0; i < (size_t)n * voxels; i++) lab[i] = rand() % NET_OUT_C;
    float *y = malloc(sizeof(float) * (size_t)n * NET_OUT_SIZE);
    if (!y) { fprintf(stderr, "out of memory\n"); return 1; }
    long baseline = peak_kib();
    net *m = net_new(n);
    if (!m) { fprintf(stderr, "out of memory\n"); return 1; }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
#ifdef INFERENCE
    net_forward(m, x, y, n);
    float loss = y[0];
    const char *what = "forward pass (y[0])";
#else
    cnn_optim opt = cnn_sgd(0.01f, 0.9f);
    float loss = net_train_step(m, x, lab, n, &opt);
    const char *what = "train step (loss)";
#endif
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("batch %d: %s %.6g, %.3f s\nbaseline %ld KiB\n", n, what, (double)loss,
           (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec), baseline);
    net_free(m); free(x); free(lab); free(y);
    return 0;
}
EOF

# step TITLE FILE.net BATCH [inference]: one training step (or forward
# pass, of code generated with --no-train), its peak RSS against the plan
step() {
    kind=${4:-training}
    if [ "$kind" = inference ]; then flags="--no-train"; defs=-DINFERENCE; else flags=; defs=; fi
    "$CNNC" --report=json --batch "$3" "$2" > "$D/step.json"
    "$CNNC" "$2" -p net --main $flags -o "$D/net.c"
    # --main emits main(): rename it away so the tiny program's main is used
    ${CC:-gcc} -std=c99 -O3 -march=native -fopenmp -Dmain=net_driver_main -I"$TOP/runtime" -I"$D" \
        -c "$D/net.c" -o "$D/net.o"
    ${CC:-gcc} -std=c99 -O3 -march=native -fopenmp $defs -I"$TOP/runtime" -I"$D" "$D/step.c" "$D/net.o" \
        "$TOP/build/libcnnrt.a" -lz -lm -o "$D/step"
    threads=${OMP_NUM_THREADS:-2}
    OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=1 /usr/bin/time -v "$D/step" "$3" \
        > "$D/step.out" 2> "$D/time.txt" || { cat "$D/step.out" "$D/time.txt"; exit 1; }
    echo "$1"
    sed -n '1s/^/  /p' "$D/step.out"
    rss_kb=$(sed -n 's/.*Maximum resident set size (kbytes): *//p' "$D/time.txt")
    base_kb=$(sed -n 's/^baseline \([0-9]*\) KiB$/\1/p' "$D/step.out")
    $PY - "$D/step.json" "$rss_kb" "$base_kb" "$kind" "$threads" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
m, kind, threads = r["memory_bytes"], sys.argv[4], int(sys.argv[5])
# the report counts one thread's volume scratch; each further thread adds per_thread
rss, base, plan = int(sys.argv[2]) * 1024, int(sys.argv[3]) * 1024, m[kind] + (threads - 1) * m["per_thread"]
M = 1024.0 * 1024.0
off = (rss - base) / plan - 1
print("  report: memory_bytes.%s at batch %d, %d threads (fixed %.1f MiB, columns %.1f MiB, %.1f MiB per image,"
      " %.1f MiB per thread): %.1f MiB" % (kind, m["batch"], threads, m["fixed_" + kind] / M, m["columns"] / M,
                                          r["planned_bytes"][kind] / M, m["per_thread"] / M, plan / M))
print("  peak RSS (/usr/bin/time -v) %.1f MiB - baseline %.1f MiB = %.1f MiB, %+.1f%% of the plan"
      % (rss / M, base / M, (rss - base) / M, 100.0 * off))
if abs(off) > 0.05:
    sys.exit("FAIL: the peak RSS less the baseline is %+.1f%% off the planned memory (at most 5%%)" % (100.0 * off))
EOF
}

sed 's/^input .*/input 64x64x3/' "$TOP/examples/resnet18.net" > "$D/r18.net"
step "ResNet-18 at 64x64x3, batch 8, one SGD step:" "$D/r18.net" 8
step "V-Net small (examples/vnet_small.net, 32x32x32x1), batch 2, one SGD step:" "$TOP/examples/vnet_small.net" 2
step "ResNet-18 at 64x64x3, batch 8, inference (--no-train):" "$D/r18.net" 8 inference
