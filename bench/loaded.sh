#!/bin/sh
# bench/loaded.sh - speed when another process holds a core.
#
#   bench/loaded.sh CMD [ARG...]
#       runs CMD while one busy process (a shell loop) runs beside it, and
#       exits with CMD's status; the busy process is killed in any case.
#       For make bench's under-load rows, e.g.
#       bench/loaded.sh "$tmp/lenet" bench --threads 2 --seconds 2
#
#   bench/loaded.sh
#       (from the top directory, after make) the contention table: LeNet-5
#       training and inference at batch 64 and the 3x3 64->64 convolution
#       at batch 8, each quiet and loaded, with 1 and 2 threads, for the
#       generated code and for PyTorch, in ROUNDS alternating rounds
#       (medians), and the loaded 2-thread rate over the loaded 1-thread
#       rate (target: >= 0.5).
#
# Knobs: ROUNDS (3), SECONDS per measurement (1), BENCH_CONV (1),
# BENCH_PYTHON (/usr/bin/python3), CFLAGS for the generated code
# ("-O2 -march=native"), BUILD (build).
set -eu

# busy: starts the competing process; its pid in $busy_pid
busy() {
    sh -c 'while :; do :; done' &
    busy_pid=$!
    sleep 0.2   # let the scheduler spread it
}
unbusy() {
    if [ -n "${busy_pid:-}" ]; then
        kill "$busy_pid" 2>/dev/null || true
        wait "$busy_pid" 2>/dev/null || true
        busy_pid=
    fi
}

if [ $# -gt 0 ]; then
    trap unbusy EXIT
    trap 'exit 1' INT TERM HUP
    busy
    status=0
    "$@" || status=$?
    unbusy
    exit $status
fi

ROUNDS=${ROUNDS:-3}
# shellcheck disable=SC3028
SECS=${SECONDS:-1}
BENCH_CONV=${BENCH_CONV:-1}
PY=${BENCH_PYTHON:-/usr/bin/python3}
B=${BUILD:-build}
GENFLAGS=${CFLAGS:-"-O2 -march=native"}
case $ROUNDS in '' | *[!0-9]* | 0) echo "loaded.sh: ROUNDS must be a positive integer" >&2; exit 2 ;; esac
{ [ -x "$B/cnnc" ] && [ -f "$B/libcnnrt.a" ]; } || { echo "loaded.sh: run make first (from the top directory)" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'unbusy; rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP

has_torch=0
if [ -x "$PY" ] && "$PY" -c 'import torch' 2>/dev/null; then has_torch=1; fi

gen() { # NAME NETFILE
    "$B/cnnc" --main "$2" -o "$tmp/$1.c" 2>"$tmp/log" || { cat "$tmp/log" >&2; exit 1; }
    # shellcheck disable=SC2086
    cc $GENFLAGS -fopenmp -std=c99 -Iruntime "$tmp/$1.c" "$B/libcnnrt.a" -lz -lm -o "$tmp/$1" ||
        exit 1
}
gen lenet examples/lenet.net
nets=lenet
if [ "$BENCH_CONV" != 0 ]; then
    printf 'network conv_net\ninput 56x56x64\nconv 3x3x64 pad 1\n' >"$tmp/conv.net"
    gen conv "$tmp/conv.net"
    nets="lenet conv"
fi

# Lines of $tmp/res: NET SIDE MODE THREADS WHAT VALUE
res=$tmp/res
: >"$res"
record() { # NET SIDE MODE THREADS FILE
    sed -n "s/^\([a-z]*\): \([0-9.][0-9.]*\) .*/$1 $2 $3 $4 \1 \2/p" "$5" >>"$res"
}
measure() { # NET MODE THREADS
    batch=64
    [ "$1" = lenet ] || batch=8
    OPENBLAS_NUM_THREADS=1 "$tmp/$1" bench --batch $batch --threads "$3" --seconds "$SECS" >"$tmp/out"
    record "$1" cnnc "$2" "$3" "$tmp/out"
    if [ $has_torch = 1 ]; then
        OPENBLAS_NUM_THREADS=1 "$PY" bench/torch_bench.py "$1" "$3" "$SECS" >"$tmp/out"
        record "$1" torch "$2" "$3" "$tmp/out"
    fi
}
for r in $(seq "$ROUNDS"); do
    echo "loaded.sh: round $r/$ROUNDS" >&2
    for mode in quiet loaded; do
        [ $mode = quiet ] || busy
        for net in $nets; do
            for t in 1 2; do measure "$net" $mode $t; done
        done
        unbusy
    done
done

median() { # NET SIDE MODE THREADS WHAT
    awk -v k="$1 $2 $3 $4 $5" '$1" "$2" "$3" "$4" "$5 == k {print $6}' "$res" | sort -g |
        awk '{v[NR] = $1} END {if (NR) print v[int((NR + 1) / 2)]}'
}
ratio() { if [ -n "$1" ] && [ -n "$2" ]; then awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; else echo -; fi; }
dash() { if [ -n "$1" ]; then echo "$1"; else echo -; fi; }

echo
echo "images/s, medians of $ROUNDS alternating rounds of $SECS s; loaded: one busy process beside it"
echo "$(getconf _NPROCESSORS_ONLN) CPUs: $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)"
fmt='%-30s %-6s %10s %10s %10s %10s %14s\n'
# shellcheck disable=SC2059
printf "$fmt" figure side "quiet 1" "quiet 2" "loaded 1" "loaded 2" "loaded 2/1"
for net in $nets; do
    for what in train forward backward; do
        for side in cnnc torch; do
            q1=$(median "$net" $side quiet 1 $what) q2=$(median "$net" $side quiet 2 $what)
            l1=$(median "$net" $side loaded 1 $what) l2=$(median "$net" $side loaded 2 $what)
            [ -n "$q1$l1" ] || continue
            # shellcheck disable=SC2059
            printf "$fmt" "$net $what" $side "$(dash "$q1")" "$(dash "$q2")" "$(dash "$l1")" "$(dash "$l2")" \
                "$(ratio "$l2" "$l1")"
        done
    done
done
echo "(target: cnnc's loaded 2/1 >= 0.5; lenet at batch 64, conv at batch 8)"
