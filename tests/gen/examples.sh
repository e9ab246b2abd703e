#!/bin/sh
# The generated C of every example compiles without a warning under gcc and
# clang with -std=c99 -Wall -Wextra -pedantic -Werror, for training, for
# inference only, and with the driver.  (Syntax and warnings only: full
# compiles of the big nets belong to the benchmarks.)
set -u
. tests/lib.sh
for net in examples/*.net tests/gen/*.net; do
    name=$(basename "$net" .net)
    for mode in "" "--no-train" "--main"; do
        if ! $CNNC $mode "$net" -o "$tmp/$name.c" 2>"$tmp/err"; then
            bad "cnnc $mode $net: $(cat "$tmp/err")"; continue
        fi
        for cc in gcc clang; do
            command -v $cc >/dev/null 2>&1 || continue
            if $cc -std=c99 -Wall -Wextra -pedantic -Werror -fsyntax-only -Iruntime "$tmp/$name.c" 2>"$tmp/err"; then
                ok
            else
                bad "$cc on cnnc $mode $net:"; head -5 "$tmp/err"
            fi
        done
    done
done
summary examples
