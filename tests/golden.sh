#!/bin/sh
# The generated C and header of LeNet-5 and of a graph network (ResNet
# blocks: add, batchnorm, global pooling) against the copies checked in
# under tests/golden/, byte for byte, so that every change to the output
# shows in review.  After a change to the output that is meant:
#   make golden      (CNNC=build/cnnc sh tests/golden.sh --update)
# and review the diff of tests/golden/ before committing it.
# Usage: CNNC=build/cnnc sh tests/golden.sh [--update]
set -u
. tests/lib.sh
nets="examples/lenet.net examples/resmini.net"
update=0
[ "${1:-}" = --update ] && update=1

for net in $nets; do
    name=$(basename "$net" .net)
    # The golden name, so that the .c includes "NAME.h" as the copy does.
    if ! "$CNNC" "$net" -o "$tmp/$name.c" 2>"$tmp/err"; then
        bad "cnnc $net: $(head -c 600 "$tmp/err")"; continue
    fi
    for f in "$name.c" "$name.h"; do
        if [ "$update" = 1 ]; then
            cmp -s "$tmp/$f" "tests/golden/$f" || { cp "$tmp/$f" "tests/golden/$f" && echo "updated tests/golden/$f"; }
            ok
        elif cmp -s "tests/golden/$f" "$tmp/$f"; then
            ok
        else
            bad "the C cnnc generates for $net differs from tests/golden/$f:"
            diff -u --label "tests/golden/$f" --label "cnnc $net" "tests/golden/$f" "$tmp/$f" >"$tmp/diff"
            head -n 200 "$tmp/diff"
            [ "$(wc -l <"$tmp/diff")" -gt 200 ] && echo "... (the first 200 lines of $(wc -l <"$tmp/diff"))"
            echo "If the change is meant: make golden, review the diff of tests/golden/, commit it."
        fi
    done
done
summary golden
