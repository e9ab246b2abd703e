#!/bin/sh
# make bench: the code cnnc generates against ONNX Runtime (npm's
# onnxruntime-node 1.30, on models torch exports) and PyTorch (Debian's 1.13
# and torchvision) on the same machine, batch sizes and threads, run
# alternately (cnnc, then ONNX Runtime and PyTorch, for each network in each
# round); prints the medians over ROUNDS rounds, the ratios, and issue 12's
# targets with met yes/no, and writes every figure as JSON (build/bench.json).
#
# cnnc's main column is the documented build (README, "Quick start"):
# cc -O2 x.c $(pkg-config --cflags --libs cnnrt), flags taken from
# runtime/cnnrt.pc.in, no -march; the second column is -O3 -march=native.
#
#   LeNet-5            training step and inference images/s at batch 64,
#                      latency at batch 1
#   conv 3x3 64->64    on 56x56 (pad 1, bias), batch 8: forward and
#                      forward+backward GFLOP/s, and as a fraction of the
#                      machine's FP32 peak (measured by bench/peak.c)
#   conv3d 5x5x5       32->32 channels on 32x64x64 (pad 2, bias), batch 1:
#                      the runtime's 3-D convolution (issue 11), forward and
#                      forward+backward GFLOP/s and % of peak, against
#                      PyTorch's Conv3d (BENCH_CONV3D; bench/conv3d_bench.c)
#   V-Net small        examples/vnet_small.net (32x32x32x1, 8 base channels),
#                      batch 1: training step (forward, Dice loss, backward,
#                      SGD) and inference, against tests/torch/vnet.py's
#                      VNet(base=8) (BENCH_VNET; documented build only)
#   ResNet-18          on 64x64x3, batch 8: training step and inference
#   VGG-16             inference at batch 1 on 224x224x3
#   ResNet-50          training step on 224x224x3, batch 8 (BENCH_R50;
#                      documented build, first round only: it is slow)
#   each with every thread count of THREADS, the speed-up over 1 thread,
#   and cnnc --blas (OpenBLAS) against cnnc's own kernels;
#   the ISA: what each build targets, what the CPU has, what the runtime
#   chose (if it says: a line `isa: NAME` in the generated code's `bench`);
#   under load (one busy process): LeNet-5 and the conv (BENCH_LOAD);
#   time to 89% test accuracy, LeNet-5 on Fashion-MNIST (BENCH_TRAIN);
#   size and compile time of the C generated for each examples/*.net
#   (BENCH_COMPILE);
#   data-parallel training over Open MPI (BENCH_MPI, when mpirun and
#   libcnnrt-mpi are there): ResNet-18 64x64 at batch 16 per rank, 2 ranks
#   x 1 thread against 1 x 1, and the time per step waiting on
#   communication.
#
# Knobs (environment): ROUNDS (3), SECONDS per measurement (2), THREADS
# ("1 2"); 0 skips a part: BENCH_ORT, BENCH_NATIVE (the -march=native
# column), BENCH_BLAS, BENCH_R50, BENCH_LOAD, BENCH_TRAIN, BENCH_COMPILE,
# BENCH_MPI, BENCH_CONV3D, BENCH_VNET;
# BLAS_THREADS (1: OPENBLAS_NUM_THREADS for --blas code; T gives OpenBLAS
# the thread count), BENCH_JSON (build/bench.json), BENCH_PYTHON
# (/usr/bin/python3), BENCH_NODE (node), BENCH_REPLAY (a build/bench.raw
# of an earlier run: the tables again from its measurements, measuring
# nothing; without training or compile times).  Run from the top
# directory after `make`.  ONNX Runtime is installed by npm into build/ort
# the first time (never by make check); without node, npm or the network
# it is skipped.  The ORT column runs the same layers and shapes as cnnc,
# with random weights (torch_bench.py export).
#
# POSIX sh on purpose: bash's SECONDS is a special variable (the shell's
# age), which would turn the knob into a clock.
set -eu
ROUNDS=${ROUNDS:-3}
# shellcheck disable=SC3028
SECS=${SECONDS:-2}
THREADS=${THREADS:-1 2}
BENCH_ORT=${BENCH_ORT:-1}
BENCH_NATIVE=${BENCH_NATIVE:-1}
BENCH_BLAS=${BENCH_BLAS:-1}
BENCH_R50=${BENCH_R50:-1}
BENCH_LOAD=${BENCH_LOAD:-1}
BENCH_TRAIN=${BENCH_TRAIN:-1}
BENCH_COMPILE=${BENCH_COMPILE:-1}
BLAS_THREADS=${BLAS_THREADS:-1}
BENCH_MPI=${BENCH_MPI:-1}
BENCH_CONV3D=${BENCH_CONV3D:-1}
BENCH_VNET=${BENCH_VNET:-1}
B=${BUILD:-build}          # where make put cnnc and libcnnrt.a
JSON=${BENCH_JSON:-$B/bench.json}
RAW=${JSON%.json}.raw      # every measurement, for BENCH_REPLAY
REPLAY=${BENCH_REPLAY:-}
PY=${BENCH_PYTHON:-/usr/bin/python3}   # Debian's python3, the one with torch
NODE=${BENCH_NODE:-node}
ORT_PACKAGE=onnxruntime-node@1.30
ORT_DIR=$B/ort             # npm installs it here, once
CC=cc
OPT_DOC="-O2"
OPT_NATIVE="-O3 -march=native"
DATA=/usr/share/datasets/fashion-mnist

die() {
    echo "bench: $*" >&2
    exit 1
}
note() { echo "bench: $*" >&2; }

case $ROUNDS in '' | *[!0-9]* | 0) die "ROUNDS must be a positive integer, not '$ROUNDS'" ;; esac
awk -v s="$SECS" 'BEGIN {exit !(s ~ /^[0-9]*\.?[0-9]+$/ && s + 0 > 0)}' || die "SECONDS must be a positive number, not '$SECS'"
for t in $THREADS; do
    case $t in '' | *[!0-9]* | 0) die "THREADS must be positive integers, not '$THREADS'" ;; esac
done
[ -n "$THREADS" ] || die "THREADS is empty"
case $BLAS_THREADS in T | [1-9] | [1-9][0-9]) ;; *) die "BLAS_THREADS must be T or a number, not '$BLAS_THREADS'" ;; esac
if [ -n "$REPLAY" ]; then
    [ -r "$REPLAY" ] || die "cannot read BENCH_REPLAY=$REPLAY"
    BENCH_ORT=0 BENCH_TRAIN=0 BENCH_COMPILE=0
fi
{ [ -x "$B/cnnc" ] && [ -f "$B/libcnnrt.a" ]; } || die "$B/cnnc or $B/libcnnrt.a missing: run make first (from the top directory)"
command -v "$CC" >/dev/null || die "no C compiler ($CC)"

mkdir -p "$(dirname "$JSON")"
tmp=$(mktemp -d)
busy=
trap '[ -z "$busy" ] || kill "$busy" 2>/dev/null; rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP

has_torch=0
torch_version="(no torch)"
if [ -x "$PY" ] && "$PY" -c 'import torch, torchvision' 2>/dev/null; then
    has_torch=1
    torch_version=$("$PY" -c 'import torch, torchvision; print(torch.__version__, "torchvision", torchvision.__version__)')
else
    note "no torch/torchvision for $PY: no PyTorch or ONNX Runtime figures (apt-get install python3-torch python3-torchvision)"
fi
if [ "$BENCH_BLAS" != 0 ]; then
    printf '#include <cblas.h>\nint main(void) { float a = 1; cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 1, 1, 1, 1, &a, 1, &a, 1, 0, &a, 1); return 0; }\n' >"$tmp/blas.c"
    "$CC" "$tmp/blas.c" -lopenblas -o "$tmp/blas" 2>/dev/null ||
        die "cannot link OpenBLAS (apt-get install libopenblas-dev), or set BENCH_BLAS=0"
fi
if [ "$BENCH_TRAIN" != 0 ]; then
    [ -e "$DATA/train-images-idx3-ubyte.gz" ] || [ -e "$DATA/train-images-idx3-ubyte" ] ||
        die "no Fashion-MNIST in $DATA (apt-get install dataset-fashion-mnist), or set BENCH_TRAIN=0"
fi

now() { date +%s.%N; }
calc() { awk "BEGIN {printf \"$1\", $2}"; }   # calc FORMAT EXPR

# ---- ONNX Runtime ------------------------------------------------------------
# has_ort is 1 when node runs bench/ort_bench.js with onnxruntime-node from
# $ORT_DIR; ort_status says why not otherwise.
has_ort=0
ort_status="skipped (BENCH_ORT=0)"
ort_version=
ort() { NODE_PATH=$ORT_DIR/node_modules "$NODE" bench/ort_bench.js "$@"; }
ort_setup() {
    [ $has_torch = 1 ] || { ort_status="skipped (no torch to export the models)"; return 0; }
    command -v "$NODE" >/dev/null || { ort_status="skipped (no node: apt-get install nodejs npm)"; return 0; }
    if [ ! -d "$ORT_DIR/node_modules/onnxruntime-node" ]; then
        command -v npm >/dev/null || { ort_status="skipped (no npm: apt-get install npm)"; return 0; }
        note "installing $ORT_PACKAGE into $ORT_DIR (npm, once)"
        mkdir -p "$ORT_DIR"
        # The package bundles libonnxruntime.so; its install script only
        # fetches CUDA providers, which a CPU benchmark does not use.
        if ! npm install --prefix "$ORT_DIR" --no-save --no-package-lock --ignore-scripts \
            --no-audit --no-fund "$ORT_PACKAGE" >"$tmp/npm.log" 2>&1; then
            tail -n 5 "$tmp/npm.log" >&2
            rm -rf "$ORT_DIR/node_modules"
            ort_status="skipped (npm install $ORT_PACKAGE failed)"
            return 0
        fi
    fi
    ort_version=$(ort --version 2>"$tmp/err") ||
        { cat "$tmp/err" >&2; ort_status="skipped (onnxruntime-node does not load)"; return 0; }
    note "exporting the networks to ONNX (torch)"
    mkdir "$tmp/onnx"
    "$PY" bench/torch_bench.py export "$tmp/onnx" >"$tmp/err" 2>&1 ||
        { cat "$tmp/err" >&2; ort_status="skipped (torch.onnx.export failed)"; return 0; }
    has_ort=1
    ort_status="onnxruntime-node $ort_version"
}
[ "$BENCH_ORT" = 0 ] || ort_setup
[ -z "$REPLAY" ] || ort_status="figures replayed from $REPLAY"
[ $has_ort = 1 ] || [ -n "$REPLAY" ] || note "ONNX Runtime $ort_status: continuing without it"

# ---- build -------------------------------------------------------------
# pc FIELD FILE: the Cflags or Libs of runtime/FILE.pc.in as pkg-config
# would give them for an install of this build tree
pc() {
    sed -n "s/^$1: //p" "runtime/$2.pc.in" |
        sed -e "s|\${includedir}|runtime|g" -e "s|\${libdir}|$B|g"
}
PC_CFLAGS=$(pc Cflags cnnrt)
PC_LIBS=$(pc Libs cnnrt)
BLAS_LIBS=$(pc Libs cnnrt-blas)
[ -n "$PC_LIBS" ] || die "runtime/cnnrt.pc.in has no Libs line"
CFLAGS_DOC="$OPT_DOC $PC_CFLAGS"
CFLAGS_NATIVE="$OPT_NATIVE $PC_CFLAGS"

# build NAME OPT LIBS: compiles $tmp/NAME.c into $tmp/NAME as a user would
build() {
    # shellcheck disable=SC2086
    $CC $2 "$tmp/$1.c" $PC_CFLAGS $PC_LIBS $3 -o "$tmp/$1" 2>"$tmp/$1.log" ||
        { cat "$tmp/$1.log" >&2; die "cc $2 of $1.c failed"; }
}
# gen NAME NETFILE [CNNC OPTIONS...]: generates $tmp/NAME.c and builds
# $tmp/NAME (documented build) and $tmp/NAME.native (-march=native; when
# BENCH_NATIVE and not doc_only, never for --blas)
doc_only=0
gen() {
    name=$1 net=$2
    shift 2
    "$B/cnnc" --main "$@" "$net" -o "$tmp/$name.c" 2>"$tmp/$name.log" ||
        { cat "$tmp/$name.log" >&2; die "cnnc $* $net failed"; }
    case " $* " in
    *" --blas "*) build "$name" "$OPT_DOC" "$BLAS_LIBS" ;;
    *)
        build "$name" "$OPT_DOC" ""
        if [ "$BENCH_NATIVE" != 0 ] && [ $doc_only = 0 ]; then
            cp "$tmp/$name.c" "$tmp/$name.native.c"
            build "$name.native" "$OPT_NATIVE" ""
        fi
        ;;
    esac
}

# The 3x3 convolution: MACs per image = 56*56*64*64*9.
CONV_MACS=115605504
# The 5x5x5 one: 32*64*64 outputs x 32 filters x 32 channels x 125 taps.
CONV3D_MACS=16777216000

# build_all: peak and every program the rounds run
build_all() {
    note "building (cnnc; cc $CFLAGS_DOC and cc $CFLAGS_NATIVE)..."
    $CC -O2 -march=native -ffp-contract=fast -fopenmp bench/peak.c -o "$tmp/peak" || die "bench/peak.c did not compile"
    printf 'network conv_net\ninput 56x56x64\nconv 3x3x64 pad 1\n' >"$tmp/conv.net"
    # ResNet-18 on 64x64 (the example's stride-2 layers already use `fit floor`).
    sed 's/^input 224x224x3/input 64x64x3/' examples/resnet18.net >"$tmp/resnet18.net"
    grep -q '^input 64x64x3' "$tmp/resnet18.net" || die "examples/resnet18.net has no 'input 224x224x3' line"
    # Inference only: --no-train (no train_step, no backward to time).
    gen lenet examples/lenet.net
    gen lenet1 examples/lenet.net --no-train
    gen conv "$tmp/conv.net"
    if [ "$BENCH_CONV3D" != 0 ]; then   # no network language for volumes yet: the runtime's calls
        # shellcheck disable=SC2086
        $CC $OPT_DOC $PC_CFLAGS bench/conv3d_bench.c $PC_LIBS -o "$tmp/conv3d" || die "bench/conv3d_bench.c did not compile"
        if [ "$BENCH_NATIVE" != 0 ]; then
            # shellcheck disable=SC2086
            $CC $OPT_NATIVE $PC_CFLAGS bench/conv3d_bench.c $PC_LIBS -o "$tmp/conv3d.native" ||
                die "bench/conv3d_bench.c did not compile with $OPT_NATIVE"
        fi
    fi
    gen resnet18 "$tmp/resnet18.net"
    gen vgg16 examples/vgg16.net --no-train
    doc_only=1   # ResNet-50 and V-Net: the documented build only, to keep make bench short
    [ "$BENCH_R50" = 0 ] || gen resnet50 examples/resnet50.net
    [ "$BENCH_VNET" = 0 ] || gen vnet examples/vnet_small.net
    doc_only=0
    if [ "$BENCH_BLAS" != 0 ]; then
        gen lenet_blas examples/lenet.net --blas
        gen lenet1_blas examples/lenet.net --no-train --blas
        gen conv_blas "$tmp/conv.net" --blas
        gen resnet18_blas "$tmp/resnet18.net" --blas
        gen vgg16_blas examples/vgg16.net --no-train --blas
        [ "$BENCH_R50" = 0 ] || gen resnet50_blas examples/resnet50.net --blas
    fi
}

# ---- measurements --------------------------------------------------------
# Each line of $tmp/res: KEY VALUE, KEY = NET.SIDE.THREADS.WHAT, one per
# round; SIDE is cnnc (documented build), native, blas, ort or torch.
res=$tmp/res
: >"$res"
# record PREFIX FILE: the driver's `bench` lines (forward: 123.4 images/s
# (batch 8)) and torch_bench.py's and ort_bench.js's (also latency: 45.6
# us) as PREFIX.WHAT VALUE
record() {
    sed -n "s/^\([a-z]*\): \([0-9.][0-9.]*\) .*/$1.\1 \2/p" "$2" >>"$res"
}
# ours NET KEY-PREFIX BATCH THREADS [VAR=VALUE...]: the generated code's
# bench; a line `isa: NAME` in its output is the kernels the runtime chose
ours() {
    bin=$1 key=$2 batch=$3 t=$4
    shift 4
    [ -x "$tmp/$bin" ] || return 0
    env "$@" "$tmp/$bin" bench --batch "$batch" --threads "$t" --seconds "$SECS" >"$tmp/out" 2>"$tmp/err" ||
        { cat "$tmp/err" >&2; die "$bin bench failed"; }
    record "$key" "$tmp/out"
    sed -n 's/^isa: *//p' "$tmp/out" "$tmp/err" | head -n 1 >>"$tmp/isa.$bin"
}
# both NET KEY-NET BATCH THREADS: ours, documented build then -march=native
both() {
    ours "$1" "$2.cnnc.$4" "$3" "$4" OPENBLAS_NUM_THREADS=1
    ours "$1.native" "$2.native.$4" "$3" "$4" OPENBLAS_NUM_THREADS=1
}
# blas NET KEY-NET BATCH THREADS: the --blas build
blas_run() {
    bt=$4
    [ "$BLAS_THREADS" = T ] || bt=$BLAS_THREADS
    ours "$1_blas" "$2.blas.$4" "$3" "$4" OPENBLAS_NUM_THREADS="$bt"
}
# conv3d THREADS: bench/conv3d_bench.c, documented build then -march=native
conv3d() {
    for side in cnnc native; do
        bin=$tmp/conv3d
        [ $side = cnnc ] || bin=$tmp/conv3d.native
        [ -x "$bin" ] || continue
        "$bin" "$1" "$SECS" >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/err" >&2; die "conv3d_bench failed"; }
        record "conv3d.$side.$1" "$tmp/out"
    done
}
# theirs CMD THREADS [KEY-NET]: torch_bench.py
theirs() {
    [ $has_torch = 1 ] || return 0
    OPENBLAS_NUM_THREADS=1 "$PY" bench/torch_bench.py "$1" "$2" "$SECS" >"$tmp/out" 2>"$tmp/err" ||
        { cat "$tmp/err" >&2; die "bench/torch_bench.py $1 failed"; }
    record "${3:-$1}.torch.$2" "$tmp/out"
}
# onnx MODEL SHAPE BATCH THREADS KEY-NET: ort_bench.js
onnx() {
    [ $has_ort = 1 ] || return 0
    ort "$tmp/onnx/$1.onnx" "$2" "$3" "$4" "$SECS" >"$tmp/out" 2>"$tmp/err" ||
        { cat "$tmp/err" >&2; die "bench/ort_bench.js $1.onnx failed"; }
    record "$5.ort.$4" "$tmp/out"
}

# measure_all: ROUNDS rounds of every figure, alternating the sides
measure_all() {
    start=$(now)
    for r in $(seq "$ROUNDS"); do
        for t in $THREADS; do
            note "round $r/$ROUNDS, $t thread(s)"
            "$tmp/peak" "$t" "$(calc %g "$SECS / 2")" >"$tmp/out" || die "bench/peak.c's program failed"
            sed -n "s/^peak: \([0-9.]*\) .*/peak.$t \1/p" "$tmp/out" >>"$res"
            sed -n "s/^peak: .*, \([0-9]*\) lanes.*/peak_lanes.$t \1/p" "$tmp/out" >>"$res"
            both lenet lenet 64 "$t"
            both lenet1 lenet1 1 "$t"
            theirs lenet "$t"
            onnx lenet 1x28x28 64 "$t" lenet
            onnx lenet 1x28x28 1 "$t" lenet1
            [ "$t" != 1 ] || onnx trivial 1 1 1 trivial
            both conv conv 8 "$t"
            theirs conv "$t"
            onnx conv 64x56x56 8 "$t" conv
            if [ "$BENCH_CONV3D" != 0 ]; then
                conv3d "$t"
                theirs conv3d "$t"
            fi
            if [ "$BENCH_VNET" != 0 ]; then
                both vnet vnet 1 "$t"
                theirs vnet "$t"
            fi
            both resnet18 resnet18 8 "$t"
            theirs resnet18 "$t"
            onnx resnet18 3x64x64 8 "$t" resnet18
            both vgg16 vgg16 1 "$t"
            theirs vgg16 "$t"
            onnx vgg16 3x224x224 1 "$t" vgg16
            # ResNet-50: a training step takes seconds, the driver times
            # at least 6 of each of forward, train and backward: round 1 only
            if [ "$BENCH_R50" != 0 ] && [ "$r" = 1 ]; then
                both resnet50 resnet50 8 "$t"
                theirs resnet50 "$t"
            fi
            if [ "$BENCH_BLAS" != 0 ]; then
                blas_run lenet lenet 64 "$t"
                blas_run lenet1 lenet1 1 "$t"
                blas_run conv conv 8 "$t"
                blas_run resnet18 resnet18 8 "$t"
                blas_run vgg16 vgg16 1 "$t"
                [ "$BENCH_R50" = 0 ] || [ "$r" != 1 ] || blas_run resnet50 resnet50 8 "$t"
            fi
        done
    done
    note "measured in $(calc %.0f "$(now) - $start") s"
}

# Under load: one process spinning on a core for the whole part, as a
# neighbour on a shared machine would (issues 6, 9 and 12).
measure_loaded() {
    sh -c 'while :; do :; done' &
    busy=$!
    start=$(now)
    for r in $(seq "$ROUNDS"); do
        for t in $THREADS; do
            note "under load (busy process $busy): round $r/$ROUNDS, $t thread(s)"
            ours lenet "load_lenet.cnnc.$t" 64 "$t" OPENBLAS_NUM_THREADS=1
            theirs lenet "$t" load_lenet
            onnx lenet 1x28x28 64 "$t" load_lenet
            ours conv "load_conv.cnnc.$t" 8 "$t" OPENBLAS_NUM_THREADS=1
            theirs conv "$t" load_conv
            onnx conv 64x56x56 8 "$t" load_conv
        done
    done
    kill "$busy"
    wait "$busy" 2>/dev/null || true
    busy=
    note "measured under load in $(calc %.0f "$(now) - $start") s"
}

if [ -n "$REPLAY" ]; then
    cp "$REPLAY" "$res"
else
    build_all
    measure_all
    [ "$BENCH_LOAD" = 0 ] || measure_loaded
    cp "$res" "$RAW"
fi


# median KEY: the median of KEY's values (the lower middle one for an even
# count); empty when there is none
median() {
    awk -v k="$1" '$1 == k {print $2}' "$res" | sort -g |
        awk '{v[NR] = $1} END {if (NR) print v[int((NR + 1) / 2)]}'
}

# maximum KEY: the largest of KEY's values (the peak: what the machine can do)
maximum() {
    awk -v k="$1" '$1 == k && (n++ == 0 || $2 + 0 > m + 0) {m = $2} END {if (n) print m}' "$res"
}

# ---- the tables and the JSON ------------------------------------------------
# Each line of $tmp/rows: TABLE<TAB>key=value<TAB>... (one JSON object each).
rows=$tmp/rows
: >"$rows"
tab=$(printf '\t')
row() {
    table=$1
    shift
    line=$table
    for kv in "$@"; do line="$line$tab$kv"; done
    printf '%s\n' "$line" >>"$rows"
}
# ratio A B: A/B (3 decimals below 0.1), empty if either is missing
ratio() {
    if [ -n "$1" ] && [ -n "$2" ]; then
        awk -v a="$1" -v b="$2" 'BEGIN {if (b + 0 != 0) printf a / b < 0.1 ? "%.3f" : "%.2f", a / b}'
    fi
}
# met VALUE OP LIMIT: yes/no, or n/a when VALUE is missing
met() {
    if [ -z "$1" ]; then
        echo n/a
    else
        awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN {m = op == ">=" ? v >= l : v <= l; print m ? "yes" : "no"}'
    fi
}
or_dash() { if [ -n "$1" ]; then printf '%s' "$1"; else printf '%s' "-"; fi; }
has_threads() { echo " $THREADS " | grep -q " $1 "; }

# target LABEL THREADS VALUE OP LIMIT TEXT: one of issue 12's targets, kept
# for the table at the end ("-" for a missing value: read would merge the
# tabs around an empty field)
target() {
    printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "${3:--}" "$6" "$(met "$3" "$4" "$5")" >>"$tmp/targets"
}
: >"$tmp/targets"

cpu=$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)
ncpu=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo "?")
version=$("$B/cnnc" --version 2>/dev/null | head -n 1)
# macros OPT: the vector ISA macros the compiler defines for OPT
macros() {
    # shellcheck disable=SC2086
    m=$($CC $1 -dM -E -x c /dev/null 2>/dev/null |
        awk '$2 ~ /^__(SSE2|AVX|AVX2|FMA|AVX512F)__$/ {print $2}' | sort | tr '\n' ' ')
    echo "${m% }"
}
cpu_flags=$(sed -n 's/^flags[^:]*: //p' /proc/cpuinfo | head -n 1 | tr ' ' '\n' |
    grep -E '^(sse2|avx|avx2|fma|avx512f|avx512bw|avx512vl)$' | tr '\n' ' ')
cpu_flags=${cpu_flags% }
isa_doc=$(macros "$OPT_DOC")
isa_native=$(macros "$OPT_NATIVE")
isa_runtime=$(sort -u "$tmp/isa.lenet" 2>/dev/null | tr '\n' ' ')
isa_runtime=${isa_runtime% }
case $(maximum peak_lanes.1) in
16) peak_isa="16 lanes (AVX-512)" ;;
8) peak_isa="8 lanes (AVX2 + FMA)" ;;
*) peak_isa= ;;
esac
row config cnnc_version="$version" torch="$torch_version" ort="$ort_status" \
    cpu="$cpu" cpus="$ncpu" rounds="$ROUNDS" seconds="$SECS" threads="$THREADS" \
    date="$(date -u +%Y-%m-%dT%H:%M:%SZ)" cflags="$CFLAGS_DOC" cflags_native="$CFLAGS_NATIVE" \
    blas_threads="$BLAS_THREADS"
row isa cpu_flags="$cpu_flags" documented_build="$isa_doc" native_build="$isa_native" \
    runtime_choice="$isa_runtime" cnnrt_isa="${CNNRT_ISA:-}" peak_width="$peak_isa"
echo
echo "$version against ONNX Runtime ($ort_status) and PyTorch $torch_version"
echo "$cpu, $ncpu CPUs; medians of $ROUNDS alternating rounds, $SECS s per measurement"
echo "cnnc: documented build cc $CFLAGS_DOC x.c $PC_LIBS (the column 'cnnc'),"
echo "      and cc $CFLAGS_NATIVE (the column '-march=nat')"
echo "ISA:  CPU flags: $(or_dash "$cpu_flags")"
echo "      documented build targets: $(or_dash "$isa_doc"); -march=native: $(or_dash "$isa_native")"
echo "      kernels the runtime chose: ${isa_runtime:-not reported by the generated code}${CNNRT_ISA:+ (CNNRT_ISA=$CNNRT_ISA)}"
peaks=
for t in $THREADS; do
    p=$(maximum "peak.$t")
    peaks="$peaks${peaks:+, }$p GFLOP/s with $t thread(s)"
    row peak threads="$t" gflops="$p" width="$peak_isa"
done
echo "FP32 peak (FMA micro-kernel, bench/peak.c, best of the rounds, $(or_dash "$peak_isa")): $peaks"
echo

fmt='%-44s %3s %10s %10s %10s %10s %8s %8s\n'
# shellcheck disable=SC2059
printf "$fmt" "figure (cnnc: documented build)" "thr" "cnnc" "-march=nat" "ONNX RT" "PyTorch" "cnnc/ORT" "c/torch"
# Keeps each figure's values for the speed-up table: $tmp/fig.ID.SIDE.T
keep() { printf '%s\n' "$4" >"$tmp/fig.$1.$2.$3"; }
got() { cat "$tmp/fig.$1.$2.$3" 2>/dev/null || true; }

# figure ID LABEL UNIT BATCH THREADS CNNC NATIVE ORT TORCH: prints a row,
# records it (and its ratios) for the JSON and the speed-up table
figure() {
    id=$1 label=$2 unit=$3 batch=$4 t=$5 a=$6 n=$7 o=$8 b=$9
    keep "$id" cnnc "$t" "$a"
    keep "$id" native "$t" "$n"
    keep "$id" ort "$t" "$o"
    keep "$id" torch "$t" "$b"
    qo=$(ratio "$a" "$o") qt=$(ratio "$a" "$b")
    # shellcheck disable=SC2059
    printf "$fmt" "$label" "$t" "$(or_dash "$a")" "$(or_dash "$n")" "$(or_dash "$o")" "$(or_dash "$b")" \
        "$(or_dash "$qo")" "$(or_dash "$qt")"
    case $label in
    "  the same, "*) label="$last_label, ${label#  the same, }" ;;
    *) last_label=$label ;;
    esac
    row figures figure="$id" label="$label" unit="$unit" batch="$batch" threads="$t" cnnc="$a" \
        cnnc_native="$n" ort="$o" torch="$b" cnnc_over_ort="$qo" cnnc_over_torch="$qt"
}
# rate SIDE NET T WHAT: the median images/s
rate() { median "$2.$1.$3.$4"; }
macs_gflops() { # MACS MULTIPLE RATE: GFLOP/s of a convolution of MACS per image
    if [ -n "$3" ]; then calc %.1f "$2 * 2 * $1 * $3 / 1e9"; fi
}
gflops() { macs_gflops "$CONV_MACS" "$1" "$2"; } # MULTIPLE RATE: the 3x3 convolution's
pct() { # GFLOPS PEAK
    if [ -n "$1" ] && [ -n "$2" ]; then calc %.1f "100 * $1 / $2"; fi
}
inv() { # SCALE RATE FORMAT: SCALE/RATE (us or ms per image); empty for a
    # rate of 0 (the driver's 0.0: below 0.05 images/s)
    if [ -n "$2" ] && awk -v r="$2" 'BEGIN {exit !(r + 0 > 0)}'; then calc "$3" "$1 / $2"; fi
}
# images ID LABEL BATCH NET WHAT: the images/s figure of NET, every thread count
images() {
    for t in $THREADS; do
        a=$(rate cnnc "$4" "$t" "$5") n=$(rate native "$4" "$t" "$5")
        o=$(rate ort "$4" "$t" "$5") b=$(rate torch "$4" "$t" "$5")
        figure "$1" "$2" images/s "$3" "$t" "$a" "$n" "$o" "$b"
    done
}

images lenet_train "LeNet-5 train images/s (batch 64)" 64 lenet train
images lenet_infer "LeNet-5 inference images/s (batch 64)" 64 lenet forward
for t in $THREADS; do
    figure lenet_latency "LeNet-5 latency us (batch 1)" us 1 "$t" "$(inv 1e6 "$(rate cnnc lenet1 "$t" forward)" %.1f)" \
        "$(inv 1e6 "$(rate native lenet1 "$t" forward)" %.1f)" "$(median "lenet1.ort.$t.latency")" \
        "$(median "lenet.torch.$t.latency")"
done
# conv_rows ID LABEL BATCH NET MACS MULTIPLE WHAT: NET's WHAT (forward or
# backward, MULTIPLE times the forward's 2 * MACS flops) in GFLOP/s and as
# a share of the peak, every thread count
conv_rows() {
    for t in $THREADS; do
        p=$(maximum "peak.$t")
        a=$(macs_gflops "$5" "$6" "$(rate cnnc "$4" "$t" "$7")") n=$(macs_gflops "$5" "$6" "$(rate native "$4" "$t" "$7")")
        o=$(macs_gflops "$5" "$6" "$(rate ort "$4" "$t" "$7")") b=$(macs_gflops "$5" "$6" "$(rate torch "$4" "$t" "$7")")
        figure "$1" "$2" GFLOP/s "$3" "$t" "$a" "$n" "$o" "$b"
        figure "${1}_peak" "  the same, % of FP32 peak" "% of peak" "$3" "$t" "$(pct "$a" "$p")" "$(pct "$n" "$p")" \
            "$(pct "$o" "$p")" "$(pct "$b" "$p")"
    done
}
conv_rows conv_fwd "conv 3x3 64->64 56x56 fwd GFLOP/s (batch 8)" 8 conv "$CONV_MACS" 1 forward
# The generated backward() runs the (inference-mode) forward itself, then
# dL/dW and dL/dx, as torch's y = conv(x); y.backward(dy) does: 3x the
# forward's flops on both sides.
conv_rows conv_fwdbwd "conv fwd+bwd GFLOP/s (batch 8)" 8 conv "$CONV_MACS" 3 backward
if [ "$BENCH_CONV3D" != 0 ]; then
    conv_rows conv3d_fwd "conv3d 5x5x5 32->32 32x64x64 fwd GFLOP/s" 1 conv3d "$CONV3D_MACS" 1 forward
    conv_rows conv3d_fwdbwd "conv3d fwd+bwd GFLOP/s (batch 1)" 1 conv3d "$CONV3D_MACS" 3 backward
fi
if [ "$BENCH_VNET" != 0 ]; then
    images vnet_train "V-Net small 32^3 train images/s (batch 1)" 1 vnet train
    images vnet_infer "V-Net small 32^3 inference images/s (batch 1)" 1 vnet forward
fi
images resnet18_train "ResNet-18 64x64 train images/s (batch 8)" 8 resnet18 train
images resnet18_infer "ResNet-18 64x64 inference images/s (batch 8)" 8 resnet18 forward
for t in $THREADS; do
    a=$(rate cnnc vgg16 "$t" forward) n=$(rate native vgg16 "$t" forward)
    o=$(rate ort vgg16 "$t" forward) b=$(rate torch vgg16 "$t" forward)
    figure vgg16_infer "VGG-16 224x224 inference images/s (batch 1)" images/s 1 "$t" "$a" "$n" "$o" "$b"
    figure vgg16_ms "  the same, ms per image" ms 1 "$t" "$(inv 1000 "$a" %.1f)" "$(inv 1000 "$n" %.1f)" \
        "$(inv 1000 "$o" %.1f)" "$(inv 1000 "$b" %.1f)"
done
[ "$BENCH_R50" = 0 ] || images resnet50_train "ResNet-50 224x224 train images/s (batch 8)" 8 resnet50 train

overhead=$(median trivial.ort.1.latency)
row ort_overhead model="trivial.onnx (one ReLU of one float)" threads=1 us="$overhead"
echo "(conv: 2 x 115,605,504 MACs per image forward; fwd+bwd counts 3x that: the generated backward()"
echo " runs the forward itself, then dL/dW and dL/dx, as PyTorch's conv(x).backward(dy) does)"
[ "$BENCH_CONV3D" = 0 ] || echo "(conv3d: 2 x 16,777,216,000 MACs forward, fwd+bwd 3x; the runtime's calls driven by
 bench/conv3d_bench.c's OpenMP threads, against nn.Conv3d(32, 32, 5, padding=2) with torch.set_num_threads(thr))"
echo "(ONNX Runtime: models exported by torch (random weights, same layers and shapes), all graph"
echo " optimisations, sequential, intra-op threads = thr, timed around session.run() in node: each call"
echo " pays the binding's overhead, $(or_dash "$overhead") us for a one-ReLU model, which weighs on batch-1 latency)"
[ "$BENCH_R50" = 0 ] || echo "(ResNet-50: the documented build only, in round 1 only, to keep make bench short)"
[ "$BENCH_VNET" = 0 ] || echo "(V-Net small: examples/vnet_small.net, 16,296,074 parameters, a training step with the
 Dice loss against tests/torch/vnet.py's VNet(base=8), SGD lr 0.01 momentum 0.9; documented build only)"

# versus LABEL ID OTHER OP LIMIT TEXT THREADS...: the target on cnnc/OTHER
# for figure ID, with each of THREADS measured
versus() {
    label=$1 id=$2 other=$3 op=$4 limit=$5 text=$6
    shift 6
    for t in "$@"; do
        has_threads "$t" || continue
        target "$label" "$t" "$(ratio "$(got "$id" cnnc "$t")" "$(got "$id" "$other" "$t")")" "$op" "$limit" "$text"
    done
}
# shellcheck disable=SC2086
{
    versus "LeNet-5 training >= 3x PyTorch" lenet_train torch ">=" 3 ">= 3x" 1 2
    versus "LeNet-5 inference (batch 64) >= 1.5x ORT" lenet_infer ort ">=" 1.5 ">= 1.5x" $THREADS
    versus "LeNet-5 latency (batch 1) <= 0.5x ORT" lenet_latency ort "<=" 0.5 "<= 0.5x" $THREADS
    versus "ResNet-18 inference >= 1.2x ORT" resnet18_infer ort ">=" 1.2 ">= 1.2x" $THREADS
    versus "ResNet-18 training >= 1.5x PyTorch" resnet18_train torch ">=" 1.5 ">= 1.5x" 1 2
    versus "VGG-16 (batch 1) >= 1x ORT" vgg16_infer ort ">=" 1 ">= 1x" $THREADS
    [ "$BENCH_R50" = 0 ] || versus "ResNet-50 training step >= 1x PyTorch" resnet50_train torch ">=" 1 ">= 1x" $THREADS
    [ "$BENCH_VNET" = 0 ] || versus "V-Net small training step >= 1x PyTorch" vnet_train torch ">=" 1 ">= 1x" $THREADS
}
if has_threads 1; then
    target "conv fwd >= 80% of FP32 peak, $(or_dash "$peak_isa")" 1 "$(got conv_fwd_peak cnnc 1)" ">=" 80 ">= 80 (%)"
fi
if [ "$BENCH_CONV3D" != 0 ]; then   # issue 11's
    for t in $THREADS; do
        target "conv3d fwd >= 50% of FP32 peak, $(or_dash "$peak_isa")" "$t" "$(got conv3d_fwd_peak cnnc "$t")" \
            ">=" 50 ">= 50 (%)"
    done
    # shellcheck disable=SC2086
    versus "conv3d fwd >= 1x PyTorch" conv3d_fwd torch ">=" 1 ">= 1x" $THREADS
fi

# Speed-ups of every thread count above 1 over 1 thread.
if has_threads 1; then
    for t in $THREADS; do
        [ "$t" != 1 ] || continue
        echo
        sfmt='%-44s %10s %10s %10s %10s\n'
        # shellcheck disable=SC2059
        printf "$sfmt" "$t-thread speed-up (over 1 thread)" "cnnc" "-march=nat" "ONNX RT" "PyTorch"
        for id in lenet_train lenet_infer lenet_latency conv_fwd conv_fwdbwd conv3d_fwd conv3d_fwdbwd \
            vnet_train vnet_infer resnet18_train resnet18_infer vgg16_infer resnet50_train; do
            case $id in
            lenet_train) label="LeNet-5 train (batch 64)" ;;
            lenet_infer) label="LeNet-5 inference (batch 64)" ;;
            lenet_latency) label="LeNet-5 latency (batch 1)" ;;
            conv_fwd) label="conv 3x3 64->64 fwd (batch 8)" ;;
            conv_fwdbwd) label="conv fwd+bwd (batch 8)" ;;
            conv3d_fwd) label="conv3d 5x5x5 fwd (batch 1)" ;;
            conv3d_fwdbwd) label="conv3d fwd+bwd (batch 1)" ;;
            vnet_train) label="V-Net small train (batch 1)" ;;
            vnet_infer) label="V-Net small inference (batch 1)" ;;
            resnet18_train) label="ResNet-18 64x64 train (batch 8)" ;;
            resnet18_infer) label="ResNet-18 64x64 inference (batch 8)" ;;
            vgg16_infer) label="VGG-16 224x224 inference (batch 1)" ;;
            *) [ "$BENCH_R50" != 0 ] || continue
                label="ResNet-50 224x224 train (batch 8)" ;;
            esac
            case $id in conv3d_*) [ "$BENCH_CONV3D" != 0 ] || continue ;; esac
            case $id in vnet_*) [ "$BENCH_VNET" != 0 ] || continue ;; esac
            set --
            for side in cnnc native ort torch; do
                case $id in
                lenet_latency) s=$(ratio "$(got $id $side 1)" "$(got $id $side "$t")") ;;
                *) s=$(ratio "$(got $id $side "$t")" "$(got $id $side 1)") ;;
                esac
                set -- "$@" "$s"
            done
            # shellcheck disable=SC2059
            printf "$sfmt" "$label" "$(or_dash "$1")" "$(or_dash "$2")" "$(or_dash "$3")" "$(or_dash "$4")"
            row speedup figure="$id" label="$label" threads="$t" cnnc="$1" cnnc_native="$2" ort="$3" torch="$4"
            [ "$id" != conv_fwd ] || [ "$t" != 2 ] || target "conv fwd 2-thread speed-up >= 1.8x" 2 "$1" ">=" 1.8 ">= 1.8x"
        done
    done
fi

if [ "$BENCH_BLAS" != 0 ]; then
    echo
    bfmt='%-44s %3s %10s %10s %12s  %s\n'
    # shellcheck disable=SC2059
    printf "$bfmt" "cnnc --blas (OpenBLAS) vs default kernels" "thr" "default" "--blas" "blas/default" ">= 0.9"
    worst='' worst_label=''
    blas() { # ID LABEL UNIT T DEFAULT BLAS [lower]: lower is better for latency
        if [ "${7:-}" = lower ]; then q=$(ratio "$5" "$6"); else q=$(ratio "$6" "$5"); fi
        m=$(met "$q" ">=" 0.9)
        # shellcheck disable=SC2059
        printf "$bfmt" "$2" "$4" "$(or_dash "$5")" "$(or_dash "$6")" "$(or_dash "$q")" "$m"
        row blas figure="$1" label="$2" unit="$3" threads="$4" default="$5" blas="$6" ratio="$q" met="$m"
        if [ -n "$q" ] && { [ -z "$worst" ] || awk -v a="$q" -v b="$worst" 'BEGIN {exit !(a < b)}'; }; then
            worst=$q worst_label="$1, $4 thr"
        fi
    }
    # blas_rows ID LABEL UNIT NET WHAT CONVERT [lower]: every thread
    # count; CONVERT turns the images/s of NET's WHAT into UNIT
    blas_rows() {
        for t in $THREADS; do
            blas "$1" "$2" "$3" "$t" "$($6 "$(rate cnnc "$4" "$t" "$5")")" "$($6 "$(rate blas "$4" "$t" "$5")")" "${7:-}"
        done
    }
    as_is() { printf '%s' "$1"; }
    us_per_image() { inv 1e6 "$1" %.1f; }
    fwd_gflops() { gflops 1 "$1"; }
    fwdbwd_gflops() { gflops 3 "$1"; }
    blas_rows lenet_train "LeNet-5 train images/s (batch 64)" images/s lenet train as_is
    blas_rows lenet_infer "LeNet-5 inference images/s (batch 64)" images/s lenet forward as_is
    blas_rows lenet_latency "LeNet-5 latency us (batch 1)" us lenet1 forward us_per_image lower
    blas_rows conv_fwd "conv 3x3 64->64 fwd GFLOP/s (batch 8)" GFLOP/s conv forward fwd_gflops
    blas_rows conv_fwdbwd "conv fwd+bwd GFLOP/s (batch 8)" GFLOP/s conv backward fwdbwd_gflops
    blas_rows resnet18_train "ResNet-18 train images/s (batch 8)" images/s resnet18 train as_is
    blas_rows resnet18_infer "ResNet-18 inference images/s (batch 8)" images/s resnet18 forward as_is
    blas_rows vgg16_infer "VGG-16 inference images/s (batch 1)" images/s vgg16 forward as_is
    [ "$BENCH_R50" = 0 ] || blas_rows resnet50_train "ResNet-50 train images/s (batch 8)" images/s resnet50 train as_is
    echo "(--blas: cblas_sgemm inside OpenMP's parallel loops, OpenBLAS at one thread per call, for the"
    echo " layers cnnc --blas --report lists as blas; the other layers run the default kernels)"
    if [ "$BLAS_THREADS" = T ]; then
        echo "(--blas runs with OPENBLAS_NUM_THREADS = thr; the default kernels with OPENBLAS_NUM_THREADS=1)"
    else
        echo "(--blas runs with OPENBLAS_NUM_THREADS=$BLAS_THREADS (BLAS_THREADS=T gives OpenBLAS thr threads),"
        echo " as the default kernels do: OpenMP's threads are the only ones)"
    fi
    target "--blas >= 0.9x default (worst: $(or_dash "$worst_label"))" - "$worst" ">=" 0.9 ">= 0.9x"
fi

if [ "$BENCH_LOAD" != 0 ]; then
    echo
    echo "Under load: one busy process (sh -c 'while :; do :; done') on the $ncpu CPUs, documented build"
    lfmt='%-44s %3s %10s %10s %10s\n'
    # shellcheck disable=SC2059
    printf "$lfmt" "figure" "thr" "cnnc" "ONNX RT" "PyTorch"
    # loaded ID LABEL NET WHAT GFLOPS-MULTIPLE SHORT-LABEL (an empty
    # multiple: images/s)
    loaded() {
        for t in $THREADS; do
            a=$(rate cnnc "$3" "$t" "$4") o=$(rate ort "$3" "$t" "$4") b=$(rate torch "$3" "$t" "$4")
            if [ -n "$5" ]; then a=$(gflops "$5" "$a") o=$(gflops "$5" "$o") b=$(gflops "$5" "$b"); fi
            keep "$1" cnnc "$t" "$a"
            keep "$1" ort "$t" "$o"
            keep "$1" torch "$t" "$b"
            # shellcheck disable=SC2059
            printf "$lfmt" "$2" "$t" "$(or_dash "$a")" "$(or_dash "$o")" "$(or_dash "$b")"
            row load figure="$1" label="$2" threads="$t" cnnc="$a" ort="$o" torch="$b"
        done
        if has_threads 1 && has_threads 2; then
            sa=$(ratio "$(got "$1" cnnc 2)" "$(got "$1" cnnc 1)")
            so=$(ratio "$(got "$1" ort 2)" "$(got "$1" ort 1)")
            sb=$(ratio "$(got "$1" torch 2)" "$(got "$1" torch 1)")
            # shellcheck disable=SC2059
            printf "$lfmt" "  the same, 2 threads / 1 thread" "" "$(or_dash "$sa")" "$(or_dash "$so")" "$(or_dash "$sb")"
            row load_speedup figure="$1" label="$2" cnnc="$sa" ort="$so" torch="$sb"
            target "under load: $6 2 thr >= 0.5x 1 thr" 2 "$sa" ">=" 0.5 ">= 0.5x"
        fi
    }
    loaded load_lenet_train "LeNet-5 train images/s (batch 64)" load_lenet train "" "LeNet-5 train"
    loaded load_lenet_infer "LeNet-5 inference images/s (batch 64)" load_lenet forward "" "LeNet-5 inference"
    loaded load_conv_fwd "conv 3x3 64->64 fwd GFLOP/s (batch 8)" load_conv forward 1 "conv fwd"
fi

# ---- time to 89% test accuracy ----------------------------------------------
# epochs LOG: "SECONDS EPOCH ACC" where SECONDS sums the epochs' training
# times up to the first epoch at >= 89% test accuracy, or "- - BEST" when
# none reaches it
to89() {
    awk '/^epoch [0-9]+\/[0-9]+ / {
        e = $2; sub(/\/.*/, "", e)
        for (i = 3; i < NF; i++) {
            if ($i == "test-acc") { acc = $(i + 1); sub(/%/, "", acc) }
            if ($i == "time") t = $(i + 1)
        }
        total += t
        if (acc + 0 > best) best = acc + 0
        if (acc + 0 >= 89) { printf "%.1f %d %.2f\n", total, e, acc; found = 1; exit }
    }
    END { if (!found) printf "- - %.2f\n", best }' "$1"
}
if [ "$BENCH_TRAIN" != 0 ]; then
    tt=1   # the issue's targets are for the most threads measured
    for t in $THREADS; do [ "$t" -le "$tt" ] || tt=$t; done
    note "training LeNet-5 on Fashion-MNIST, $tt thread(s): cnnc (5 epochs, documented build), then PyTorch"
    OPENBLAS_NUM_THREADS=1 "$tmp/lenet" train --threads "$tt" >"$tmp/train_ours.txt" 2>"$tmp/err" ||
        { cat "$tmp/err" >&2; die "lenet train failed"; }
    if [ $has_torch = 1 ]; then
        OPENBLAS_NUM_THREADS=1 "$PY" tests/torch/lenet_train.py --threads "$tt" >"$tmp/train_torch.txt" 2>"$tmp/err" ||
            { cat "$tmp/err" >&2; die "tests/torch/lenet_train.py failed"; }
    else
        : >"$tmp/train_torch.txt"
    fi
    # shellcheck disable=SC2046
    set -- $(to89 "$tmp/train_ours.txt")
    oa=$1 oe=$2 oacc=$3
    # shellcheck disable=SC2046
    set -- $(to89 "$tmp/train_torch.txt")
    ta=$1 te=$2 tacc=$3
    [ "$oa" != - ] || oa=
    [ "$ta" != - ] || ta=
    q=$(ratio "$oa" "$ta")
    m=$(met "$q" "<=" 0.33334)
    desc() { # SECONDS EPOCH ACC
        if [ -n "$1" ]; then echo "$1 s (epoch $2, $3%)"; else echo "not reached (best $3%)"; fi
    }
    echo
    echo "Time to 89% test accuracy: LeNet-5, Fashion-MNIST, SGD lr 0.05 momentum 0.9 cosine, batch 64, 5 epochs, $tt thread(s)"
    echo "(training seconds summed over the epochs up to the first at >= 89%)"
    echo "  cnnc:    $(desc "$oa" "$oe" "$oacc")"
    if [ $has_torch = 1 ]; then
        echo "  PyTorch: $(desc "$ta" "$te" "$tacc")"
        echo "  ratio cnnc/PyTorch: $(or_dash "$q")   target <= 1/3: $m"
    else
        echo "  PyTorch: (no torch)"
        tacc=
    fi
    row time_to_89 threads="$tt" cnnc="$oa" cnnc_epoch="$oe" cnnc_acc="$oacc" torch="$ta" torch_epoch="$te" \
        torch_acc="$tacc" ratio="$q" target="<= 1/3 PyTorch" met="$m"
    target "LeNet-5 time to 89% <= 1/3 PyTorch" "$tt" "$q" "<=" 0.33334 "<= 0.33x"
fi

# ---- data-parallel training: 2 MPI ranks against 1 ------------------------------
if [ "$BENCH_MPI" != 0 ] && [ -z "$REPLAY" ] && [ -f "$B/libcnnrt-mpi.a" ] && command -v mpirun >/dev/null; then
    note "MPI: ResNet-18 64x64, 1 and 2 ranks of 1 thread, batch 16 per rank"
    [ "$(id -u)" != 0 ] || export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    # shellcheck disable=SC2086
    mpicc $CFLAGS_DOC "$tmp/resnet18.c" "$B/libcnnrt-mpi.a" -lz -lm -o "$tmp/resnet18_mpi" ||
        die "mpicc of the ResNet-18 code failed"
    # mpi_train NP: train images/s and ms per step waiting on communication
    mpi_train() {
        mpirun --oversubscribe --mca btl self,vader -np "$1" "$tmp/resnet18_mpi" bench --batch $((16 * $1)) \
            --threads 1 --seconds "$SECS" >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/err" >&2; die "mpirun -np $1 failed"; }
        sed -n "s/^train: \([0-9.]*\) .*/mpi.$1.rate \1/p" "$tmp/out" >>"$res"
        sed -n "s/^train: .*, \([0-9.]*\) ms per step waiting.*/mpi.$1.wait \1/p" "$tmp/out" >>"$res"
    }
    for r in $(seq "$ROUNDS"); do
        mpi_train 1
        mpi_train 2
    done
    one=$(median mpi.1.rate) two=$(median mpi.2.rate) wait=$(median mpi.2.wait)
    q=$(ratio "$two" "$one")
    m=$(met "$q" ">=" 1.7)
    echo
    echo "ResNet-18 64x64 training over MPI (batch 16 per rank, 1 thread per rank, shared memory):"
    echo "  1 rank $(or_dash "$one"), 2 ranks $(or_dash "$two") images/s: $(or_dash "$q")x (target >= 1.7x: $m);"
    echo "  2 ranks wait $(or_dash "$wait") ms per step on communication (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
    row mpi net=resnet18_64 batch_per_rank=16 threads=1 one_rank="$one" two_ranks="$two" speedup="$q" \
        wait_ms_per_step="$wait" target=">= 1.7x" met="$m"
fi

# ---- generated code: size and compile time ----------------------------------
if [ "$BENCH_COMPILE" != 0 ]; then
    note "generating and compiling every examples/*.net (cc $CFLAGS_DOC -c)"
    echo
    cfmt='%-20s %12s %9s %12s\n'
    # shellcheck disable=SC2059
    printf "$cfmt" "generated C" "bytes" "lines" "cc -O2 -c s"
    mkdir "$tmp/compile"
    for net in examples/*.net; do
        name=$(basename "$net" .net)
        c=$tmp/compile/$name.c
        "$B/cnnc" --main "$net" -o "$c" 2>"$tmp/err" || { cat "$tmp/err" >&2; die "cnnc $net failed"; }
        bytes=$(wc -c <"$c" | tr -d ' ')
        lines=$(wc -l <"$c" | tr -d ' ')
        s=$(now)
        # shellcheck disable=SC2086
        $CC $CFLAGS_DOC -c "$c" -o "$tmp/compile/$name.o" 2>"$tmp/err" ||
            { cat "$tmp/err" >&2; die "cc -O2 -c of the code generated from $net failed"; }
        secs=$(calc %.2f "$(now) - $s")
        rm -f "$c" "$tmp/compile/$name.o"
        # shellcheck disable=SC2059
        printf "$cfmt" "$name.net" "$bytes" "$lines" "$secs"
        row compile net="$name.net" bytes="$bytes" lines="$lines" seconds="$secs"
        case $name in
        resnet50 | googlenet) target "$name.net compiles (gcc -O2) in <= 15 s" - "$secs" "<=" 15 "<= 15 (s)" ;;
        esac
    done
fi

# ---- the targets -------------------------------------------------------------
echo
tfmt='%-56s %3s %9s  %-10s %s\n'
# shellcheck disable=SC2059
printf "$tfmt" "issue 12's and 11's targets (documented build)" "thr" "measured" "target" "met"
while IFS="$tab" read -r label t value text m; do
    # shellcheck disable=SC2059
    printf "$tfmt" "$label" "$t" "$(or_dash "$value")" "$text" "$m"
    row targets target="$label" threads="$t" measured="$value" limit="$text" met="$m"
done <"$tmp/targets"
echo "($(grep -c "${tab}yes\$" "$tmp/targets" || true) of $(wc -l <"$tmp/targets" | tr -d ' ') met; ratios are cnnc/other, n/a: not measured)"

# ---- JSON -----------------------------------------------------------------
awk -F '\t' '
function val(v) {
    if (v == "") return "null"
    if (v == "yes") return "true"
    if (v == "no") return "false"
    if (v == "n/a" || v == "-") return "null"
    if (v ~ /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$/) return v
    gsub(/\\/, "\\\\", v); gsub(/"/, "\\\"", v)
    return "\"" v "\""
}
function obj(line,   f, n, i, k, s, key, v) {
    n = split(line, f, "\t")
    s = "{"
    for (i = 2; i <= n; i++) {
        k = index(f[i], "=")
        key = substr(f[i], 1, k - 1)
        v = val(substr(f[i], k + 1))
        if (f[1] == "config" && key == "threads") {   # "1 2" -> [1, 2]
            v = substr(f[i], k + 1)
            sub(/^ +/, "", v)
            sub(/ +$/, "", v)
            gsub(/ +/, ", ", v)
            v = "[" v "]"
        }
        s = s (i > 2 ? ", " : "") "\"" key "\": " v
    }
    return s "}"
}
{
    if (!($1 in count)) order[++ntables] = $1
    lines[$1, ++count[$1]] = $0
}
END {
    single["config"] = single["isa"] = single["time_to_89"] = single["ort_overhead"] = single["mpi"] = 1
    print "{"
    for (t = 1; t <= ntables; t++) {
        name = order[t]
        printf "  \"%s\": ", name
        if (name in single)
            printf "%s", obj(lines[name, 1])
        else {
            print "["
            for (i = 1; i <= count[name]; i++)
                printf "    %s%s\n", obj(lines[name, i]), i < count[name] ? "," : ""
            printf "  ]"
        }
        print t < ntables ? "," : ""
    }
    print "}"
}' "$rows" >"$JSON.tmp"
mv "$JSON.tmp" "$JSON"
echo
echo "JSON: $JSON"
