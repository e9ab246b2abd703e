#!/bin/sh
# make bench: the code cnnc generates against PyTorch (Debian's 1.13 and
# torchvision) on the same machine, batch sizes and threads, run alternately
# (cnnc, then PyTorch, for each network in each round); prints the medians
# over ROUNDS rounds, the ratio cnnc/PyTorch and the issue's targets as a
# table, and writes the same figures as JSON (build/bench.json).
#
#   LeNet-5            training step and inference images/s at batch 64,
#                      latency at batch 1
#   conv 3x3 64->64    on 56x56 (pad 1, bias), batch 8: forward and
#                      forward+backward GFLOP/s, and as a fraction of the
#                      machine's FP32 peak (measured by bench/peak.c)
#   ResNet-18          on 64x64x3, batch 8: training step and inference
#   VGG-16             inference at batch 1 on 224x224x3
#   each with every thread count of THREADS, the speed-up over 1 thread,
#   and cnnc --blas (OpenBLAS) against cnnc's own kernels;
#   time to 89% test accuracy, LeNet-5 on Fashion-MNIST (BENCH_TRAIN);
#   size and compile time of the C generated for each examples/*.net
#   (BENCH_COMPILE);
#   data-parallel training over Open MPI (BENCH_MPI, when mpirun and
#   libcnnrt-mpi are there): ResNet-18 64x64 at batch 16 per rank, 2 ranks
#   x 1 thread against 1 x 1, and the time per step waiting on
#   communication.
#
# Knobs (environment): ROUNDS (3), SECONDS per measurement (2), THREADS
# ("1 2"), BENCH_TRAIN (1), BENCH_COMPILE (1), BENCH_BLAS (1), BENCH_MPI (1),
# BENCH_JSON (build/bench.json), BENCH_PYTHON (/usr/bin/python3).  Run from the top directory after `make`.
#
# POSIX sh on purpose: bash's SECONDS is a special variable (the shell's
# age), which would turn the knob into a clock.
set -eu
ROUNDS=${ROUNDS:-3}
# shellcheck disable=SC3028
SECS=${SECONDS:-2}
THREADS=${THREADS:-1 2}
BENCH_TRAIN=${BENCH_TRAIN:-1}
BENCH_COMPILE=${BENCH_COMPILE:-1}
BENCH_BLAS=${BENCH_BLAS:-1}
BENCH_MPI=${BENCH_MPI:-1}
B=${BUILD:-build}          # where make put cnnc and libcnnrt.a
JSON=${BENCH_JSON:-$B/bench.json}
PY=${BENCH_PYTHON:-/usr/bin/python3}   # Debian's python3, the one with torch
CC=cc
CFLAGS="-O3 -march=native -fopenmp -std=c99"
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
{ [ -x "$B/cnnc" ] && [ -f "$B/libcnnrt.a" ]; } || die "$B/cnnc or $B/libcnnrt.a missing: run make first (from the top directory)"
command -v "$CC" >/dev/null || die "no C compiler ($CC)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP

has_torch=0
torch_version="(no torch)"
if [ -x "$PY" ] && "$PY" -c 'import torch, torchvision' 2>/dev/null; then
    has_torch=1
    torch_version=$("$PY" -c 'import torch, torchvision; print(torch.__version__, "torchvision", torchvision.__version__)')
else
    note "no torch/torchvision for $PY: printing cnnc's figures only (apt-get install python3-torch python3-torchvision)"
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

# ---- build -------------------------------------------------------------
# gen NAME NETFILE [CNNC OPTIONS...]: generates and compiles $tmp/NAME
gen() {
    name=$1 net=$2
    shift 2
    lib=
    case " $* " in *" --blas "*) lib=-lopenblas ;; esac
    "$B/cnnc" --main "$@" "$net" -o "$tmp/$name.c" 2>"$tmp/$name.log" ||
        { cat "$tmp/$name.log" >&2; die "cnnc $* $net failed"; }
    # shellcheck disable=SC2086
    $CC $CFLAGS -Iruntime "$tmp/$name.c" "$B/libcnnrt.a" $lib -lz -lm -o "$tmp/$name" 2>"$tmp/$name.log" ||
        { cat "$tmp/$name.log" >&2; die "compiling the code generated from $net ($*) failed"; }
}

note "building (cnnc, $CC $CFLAGS)..."
$CC -O2 -march=native -ffp-contract=fast -fopenmp bench/peak.c -o "$tmp/peak" || die "bench/peak.c did not compile"
# The 3x3 convolution: MACs per image = 56*56*64*64*9.
CONV_MACS=115605504
printf 'network conv\ninput 56x56x64\nconv 3x3x64 pad 1\n' >"$tmp/conv.net"
# ResNet-18 on 64x64 (the example's stride-2 layers already use `fit floor`).
sed 's/^input 224x224x3/input 64x64x3/' examples/resnet18.net >"$tmp/resnet18.net"
grep -q '^input 64x64x3' "$tmp/resnet18.net" || die "examples/resnet18.net has no 'input 224x224x3' line"
# Inference only: --no-train (no train_step, no backward to time).
gen lenet examples/lenet.net
gen lenet1 examples/lenet.net --no-train
gen conv "$tmp/conv.net"
gen resnet18 "$tmp/resnet18.net"
gen vgg16 examples/vgg16.net --no-train
if [ "$BENCH_BLAS" != 0 ]; then
    gen conv_blas "$tmp/conv.net" --blas
    gen resnet18_blas "$tmp/resnet18.net" --blas
    gen vgg16_blas examples/vgg16.net --no-train --blas
fi

# ---- measurements --------------------------------------------------------
# Each line of $tmp/res: KEY VALUE, KEY = NET.SIDE.THREADS.WHAT, one per round.
res=$tmp/res
: >"$res"
# record PREFIX FILE: the driver's `bench` lines (forward: 123.4 images/s
# (batch 8)) and torch_bench.py's (also latency: 45.6 us) as PREFIX.WHAT VALUE
record() {
    sed -n "s/^\([a-z]*\): \([0-9.][0-9.]*\) .*/$1.\1 \2/p" "$2" >>"$res"
}
# ours NET KEY-PREFIX BATCH THREADS [VAR=VALUE...]: the generated code's bench
ours() {
    bin=$1 key=$2 batch=$3 t=$4
    shift 4
    env "$@" "$tmp/$bin" bench --batch "$batch" --threads "$t" --seconds "$SECS" >"$tmp/out" 2>"$tmp/err" ||
        { cat "$tmp/err" >&2; die "$bin bench failed"; }
    record "$key" "$tmp/out"
}
# theirs CMD THREADS: torch_bench.py
theirs() {
    [ $has_torch = 1 ] || return 0
    OPENBLAS_NUM_THREADS=1 "$PY" bench/torch_bench.py "$1" "$2" "$SECS" >"$tmp/out" 2>"$tmp/err" ||
        { cat "$tmp/err" >&2; die "bench/torch_bench.py $1 failed"; }
    record "$1.torch.$2" "$tmp/out"
}

start=$(now)
for r in $(seq "$ROUNDS"); do
    for t in $THREADS; do
        note "round $r/$ROUNDS, $t thread(s)"
        "$tmp/peak" "$t" "$(calc %g "$SECS / 2")" >"$tmp/out" || die "bench/peak.c's program failed"
        sed -n "s/^peak: \([0-9.]*\) .*/peak.$t \1/p" "$tmp/out" >>"$res"
        # Our code parallelises over images with OpenMP: OpenBLAS (which
        # torch does not use for these layers) single-threaded.
        ours lenet "lenet.cnnc.$t" 64 "$t" OPENBLAS_NUM_THREADS=1
        ours lenet1 "lenet1.cnnc.$t" 1 "$t" OPENBLAS_NUM_THREADS=1
        theirs lenet "$t"
        ours conv "conv.cnnc.$t" 8 "$t" OPENBLAS_NUM_THREADS=1
        theirs conv "$t"
        ours resnet18 "resnet18.cnnc.$t" 8 "$t" OPENBLAS_NUM_THREADS=1
        theirs resnet18 "$t"
        ours vgg16 "vgg16.cnnc.$t" 1 "$t" OPENBLAS_NUM_THREADS=1
        theirs vgg16 "$t"
        if [ "$BENCH_BLAS" != 0 ]; then
            # --blas code calls cblas_sgemm inside its OpenMP loops and sets
            # OpenBLAS to one thread for each call itself; the variable only
            # matters to a CBLAS without openblas_set_num_threads.
            ours conv_blas "conv.blas.$t" 8 "$t" OPENBLAS_NUM_THREADS="$t"
            ours resnet18_blas "resnet18.blas.$t" 8 "$t" OPENBLAS_NUM_THREADS="$t"
            ours vgg16_blas "vgg16.blas.$t" 1 "$t" OPENBLAS_NUM_THREADS="$t"
        fi
    done
done
note "measured in $(calc %.0f "$(now) - $start") s"

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

# ---- the table and the JSON -------------------------------------------------
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

cpu=$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)
ncpu=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo "?")
row config cnnc_version="$("$B/cnnc" --version 2>/dev/null | head -n 1)" torch="$torch_version" \
    cpu="$cpu" cpus="$ncpu" rounds="$ROUNDS" seconds="$SECS" threads="$THREADS" \
    date="$(date -u +%Y-%m-%dT%H:%M:%SZ)" cflags="$CFLAGS"
echo
if [ $has_torch = 1 ]; then
    echo "$("$B/cnnc" --version 2>/dev/null | head -n 1) against PyTorch $torch_version"
else
    echo "$("$B/cnnc" --version 2>/dev/null | head -n 1) (no torch)"
fi
echo "$cpu, $ncpu CPUs; medians of $ROUNDS alternating rounds, $SECS s per measurement"
peaks=
for t in $THREADS; do
    p=$(maximum "peak.$t")
    peaks="$peaks${peaks:+, }$p GFLOP/s with $t thread(s)"
    row peak threads="$t" gflops="$p"
done
echo "FP32 peak (FMA micro-kernel, bench/peak.c, best of the rounds): $peaks"
echo

fmt='%-44s %3s %11s %11s %10s  %-16s %s\n'
# shellcheck disable=SC2059
printf "$fmt" "figure" "thr" "cnnc" "PyTorch" "cnnc/torch" "target" "met"
# Keeps each figure's values for the speed-up table: $tmp/fig.ID.SIDE.T
keep() { printf '%s\n' "$4" >"$tmp/fig.$1.$2.$3"; }
got() { cat "$tmp/fig.$1.$2.$3" 2>/dev/null || true; }

# figure ID LABEL UNIT BATCH THREADS OURS THEIRS TARGET-OP TARGET-LIMIT TARGET-TEXT
# (TARGET-OP ratio>= | ratio<= | ours>= | -): prints a row, records it
figure() {
    id=$1 label=$2 unit=$3 batch=$4 t=$5 a=$6 b=$7 op=$8 limit=$9 text=${10}
    keep "$id" cnnc "$t" "$a"
    keep "$id" torch "$t" "$b"
    q=$(ratio "$a" "$b")
    case $op in
    ratio*) m=$(met "$q" "${op#ratio}" "$limit") ;;
    ours*) m=$(met "$a" "${op#ours}" "$limit") ;;
    *) m= ;;
    esac
    [ $has_torch = 1 ] || b="(no torch)"
    # shellcheck disable=SC2059
    printf "$fmt" "$label" "$t" "$(or_dash "$a")" "$(or_dash "$b")" "$(or_dash "$q")" "$text" "$m"
    [ $has_torch = 1 ] || b=
    case $label in
    "  the same, "*) label="$last_label, ${label#  the same, }" ;;
    *) last_label=$label ;;
    esac
    row figures figure="$id" label="$label" unit="$unit" batch="$batch" threads="$t" cnnc="$a" \
        torch="$b" ratio="$q" target="$text" met="$m"
}
# rate SIDE NET T WHAT: the median images/s
rate() { median "$2.$1.$3.$4"; }
gflops() { # MULTIPLE RATE: GFLOP/s of the 3x3 convolution
    if [ -n "$2" ]; then calc %.1f "$1 * 2 * $CONV_MACS * $2 / 1e9"; fi
}
pct() { # GFLOPS PEAK
    if [ -n "$1" ] && [ -n "$2" ]; then calc %.1f "100 * $1 / $2"; fi
}
inv() { # SCALE RATE FORMAT: SCALE/RATE (us or ms per image)
    if [ -n "$2" ]; then calc "$3" "$1 / $2"; fi
}

for t in $THREADS; do
    a=$(rate cnnc lenet "$t" train) b=$(rate torch lenet "$t" train)
    figure lenet_train "LeNet-5 train images/s (batch 64)" images/s 64 "$t" "$a" "$b" "ratio>=" 3 ">= 3x PyTorch"
done
for t in $THREADS; do
    a=$(rate cnnc lenet "$t" forward) b=$(rate torch lenet "$t" forward)
    figure lenet_infer "LeNet-5 inference images/s (batch 64)" images/s 64 "$t" "$a" "$b" "ratio>=" 3 ">= 3x PyTorch"
done
for t in $THREADS; do
    a=$(inv 1e6 "$(rate cnnc lenet1 "$t" forward)" %.1f) b=$(median "lenet.torch.$t.latency")
    figure lenet_latency "LeNet-5 latency us (batch 1)" us 1 "$t" "$a" "$b" "ratio<=" 0.1 "<= 0.1x PyTorch"
done
for t in $THREADS; do
    p=$(maximum "peak.$t")
    a=$(gflops 1 "$(rate cnnc conv "$t" forward)") b=$(gflops 1 "$(rate torch conv "$t" forward)")
    figure conv_fwd "conv 3x3 64->64 56x56 fwd GFLOP/s (batch 8)" GFLOP/s 8 "$t" "$a" "$b" - "" ""
    figure conv_fwd_peak "  the same, % of FP32 peak" "% of peak" 8 "$t" "$(pct "$a" "$p")" "$(pct "$b" "$p")" \
        "ours>=" 70 ">= 70% (cnnc)"
done
for t in $THREADS; do
    p=$(maximum "peak.$t")
    # The generated backward() runs the (inference-mode) forward itself,
    # then dL/dW and dL/dx, as torch's y = conv(x); y.backward(dy) does:
    # 3x the forward's flops on both sides.
    a=$(gflops 3 "$(rate cnnc conv "$t" backward)") b=$(gflops 3 "$(rate torch conv "$t" backward)")
    figure conv_fwdbwd "conv fwd+bwd GFLOP/s (batch 8)" GFLOP/s 8 "$t" "$a" "$b" - "" ""
    figure conv_fwdbwd_peak "  the same, % of FP32 peak" "% of peak" 8 "$t" "$(pct "$a" "$p")" "$(pct "$b" "$p")" - "" ""
done
for t in $THREADS; do
    a=$(rate cnnc resnet18 "$t" train) b=$(rate torch resnet18 "$t" train)
    figure resnet18_train "ResNet-18 64x64 train images/s (batch 8)" images/s 8 "$t" "$a" "$b" "ratio>=" 1 ">= 1x PyTorch"
done
for t in $THREADS; do
    a=$(rate cnnc resnet18 "$t" forward) b=$(rate torch resnet18 "$t" forward)
    figure resnet18_infer "ResNet-18 64x64 inference images/s (batch 8)" images/s 8 "$t" "$a" "$b" - "" ""
done
for t in $THREADS; do
    a=$(rate cnnc vgg16 "$t" forward) b=$(rate torch vgg16 "$t" forward)
    figure vgg16_infer "VGG-16 224x224 inference images/s (batch 1)" images/s 1 "$t" "$a" "$b" "ratio>=" 1 ">= 1x PyTorch"
    figure vgg16_ms "  the same, ms per image" ms 1 "$t" "$(inv 1000 "$a" %.1f)" "$(inv 1000 "$b" %.1f)" - "" ""
done

echo "(conv: 2 x 115,605,504 MACs per image forward; fwd+bwd counts 3x that: the generated backward()"
echo " runs the forward itself, then dL/dW and dL/dx, as PyTorch's conv(x).backward(dy) does)"

# Speed-ups of every thread count above 1 over 1 thread.
if echo " $THREADS " | grep -q ' 1 '; then
    for t in $THREADS; do
        [ "$t" != 1 ] || continue
        echo
        sfmt='%-44s %11s %11s  %-22s %s\n'
        # shellcheck disable=SC2059
        printf "$sfmt" "$t-thread speed-up (over 1 thread)" "cnnc" "PyTorch" "target" "met"
        for id in lenet_train lenet_infer lenet_latency conv_fwd conv_fwdbwd resnet18_train resnet18_infer vgg16_infer; do
            case $id in
            lenet_train) label="LeNet-5 train (batch 64)" ;;
            lenet_infer) label="LeNet-5 inference (batch 64)" ;;
            lenet_latency) label="LeNet-5 latency (batch 1)" ;;
            conv_fwd) label="conv 3x3 64->64 fwd (batch 8)" ;;
            conv_fwdbwd) label="conv fwd+bwd (batch 8)" ;;
            resnet18_train) label="ResNet-18 64x64 train (batch 8)" ;;
            resnet18_infer) label="ResNet-18 64x64 inference (batch 8)" ;;
            *) label="VGG-16 224x224 inference (batch 1)" ;;
            esac
            case $id in
            lenet_latency) sa=$(ratio "$(got $id cnnc 1)" "$(got $id cnnc "$t")")
                sb=$(ratio "$(got $id torch 1)" "$(got $id torch "$t")") ;;
            *) sa=$(ratio "$(got $id cnnc "$t")" "$(got $id cnnc 1)")
                sb=$(ratio "$(got $id torch "$t")" "$(got $id torch 1)") ;;
            esac
            text='' m=''
            if [ "$id" = conv_fwd ]; then
                text=">= 1.8x (cnnc, 2 thr)"
                if [ "$t" = 2 ]; then m=$(met "$sa" ">=" 1.8); else m=n/a; fi
            fi
            [ $has_torch = 1 ] || sb="(no torch)"
            # shellcheck disable=SC2059
            printf "$sfmt" "$label" "$(or_dash "$sa")" "$(or_dash "$sb")" "$text" "$m"
            [ $has_torch = 1 ] || sb=
            row speedup figure="$id" label="$label" threads="$t" cnnc="$sa" torch="$sb" target="$text" met="$m"
        done
    done
fi

if [ "$BENCH_BLAS" != 0 ]; then
    echo
    bfmt='%-44s %3s %11s %11s %12s\n'
    # shellcheck disable=SC2059
    printf "$bfmt" "cnnc --blas (OpenBLAS) vs default kernels" "thr" "default" "--blas" "blas/default"
    blas() { # ID LABEL UNIT T DEFAULT BLAS
        q=$(ratio "$6" "$5")
        # shellcheck disable=SC2059
        printf "$bfmt" "$2" "$4" "$(or_dash "$5")" "$(or_dash "$6")" "$(or_dash "$q")"
        row blas figure="$1" label="$2" unit="$3" threads="$4" default="$5" blas="$6" ratio="$q"
    }
    for t in $THREADS; do
        blas conv_fwd "conv 3x3 64->64 fwd GFLOP/s (batch 8)" GFLOP/s "$t" \
            "$(gflops 1 "$(rate cnnc conv "$t" forward)")" "$(gflops 1 "$(rate blas conv "$t" forward)")"
    done
    for t in $THREADS; do
        blas conv_fwdbwd "conv fwd+bwd GFLOP/s (batch 8)" GFLOP/s "$t" \
            "$(gflops 3 "$(rate cnnc conv "$t" backward)")" "$(gflops 3 "$(rate blas conv "$t" backward)")"
    done
    for t in $THREADS; do
        blas resnet18_train "ResNet-18 train images/s (batch 8)" images/s "$t" \
            "$(rate cnnc resnet18 "$t" train)" "$(rate blas resnet18 "$t" train)"
    done
    for t in $THREADS; do
        blas resnet18_infer "ResNet-18 inference images/s (batch 8)" images/s "$t" \
            "$(rate cnnc resnet18 "$t" forward)" "$(rate blas resnet18 "$t" forward)"
    done
    for t in $THREADS; do
        blas vgg16_infer "VGG-16 inference images/s (batch 1)" images/s "$t" \
            "$(rate cnnc vgg16 "$t" forward)" "$(rate blas vgg16 "$t" forward)"
    done
    echo "(--blas: cblas_sgemm inside OpenMP's parallel loops, OpenBLAS at one thread per call, for the"
    echo " layers cnnc --blas --report lists as blas; the other layers run the default kernels)"
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
    note "training LeNet-5 on Fashion-MNIST, $tt thread(s): cnnc (5 epochs), then PyTorch"
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
fi

# ---- data-parallel training: 2 MPI ranks against 1 ------------------------------
if [ "$BENCH_MPI" != 0 ] && [ -f "$B/libcnnrt-mpi.a" ] && command -v mpirun >/dev/null; then
    note "MPI: ResNet-18 64x64, 1 and 2 ranks of 1 thread, batch 16 per rank"
    [ "$(id -u)" != 0 ] || export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    mpicc $CFLAGS -Iruntime "$tmp/resnet18.c" "$B/libcnnrt-mpi.a" -lz -lm -o "$tmp/resnet18_mpi" ||
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
    note "generating and compiling every examples/*.net (cc -O2)"
    echo
    cfmt='%-20s %12s %9s %12s\n'
    # shellcheck disable=SC2059
    printf "$cfmt" "generated C" "bytes" "lines" "cc -O2 -c s"
    mkdir "$tmp/compile"
    r50=
    for net in examples/*.net; do
        name=$(basename "$net" .net)
        c=$tmp/compile/$name.c
        "$B/cnnc" --main "$net" -o "$c" 2>"$tmp/err" || { cat "$tmp/err" >&2; die "cnnc $net failed"; }
        bytes=$(wc -c <"$c" | tr -d ' ')
        lines=$(wc -l <"$c" | tr -d ' ')
        s=$(now)
        $CC -O2 -std=c99 -Iruntime -c "$c" -o "$tmp/compile/$name.o" 2>"$tmp/err" ||
            { cat "$tmp/err" >&2; die "cc -O2 -c of the code generated from $net failed"; }
        secs=$(calc %.2f "$(now) - $s")
        rm -f "$c" "$tmp/compile/$name.o"
        # shellcheck disable=SC2059
        printf "$cfmt" "$name.net" "$bytes" "$lines" "$secs"
        row compile net="$name.net" bytes="$bytes" lines="$lines" seconds="$secs"
        [ "$name" != resnet50 ] || r50=$secs
    done
    if [ -n "$r50" ]; then
        m=$(met "$r50" "<=" 30)
        echo "ResNet-50 compile: $r50 s, limit 30 s: $m"
        row resnet50_compile seconds="$r50" limit=30 met="$m"
    fi
fi

# ---- JSON -----------------------------------------------------------------
mkdir -p "$(dirname "$JSON")"
awk -F '\t' '
function val(v) {
    if (v == "") return "null"
    if (v == "yes") return "true"
    if (v == "no") return "false"
    if (v == "n/a") return "null"
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
    single["config"] = single["time_to_89"] = single["resnet50_compile"] = single["mpi"] = 1
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
