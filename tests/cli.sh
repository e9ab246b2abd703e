#!/bin/sh
# Tests of the cnnc command line as a user meets it: exit codes, where
# output goes, that nothing is written on error, dependency rules.
# Usage: CNNC=build/cnnc sh tests/cli.sh
set -u
. tests/lib.sh

cat >"$tmp/lenet.net" <<'NET'
# LeNet-5
input 28x28x1
conv 5x5x6 pad 2 relu
pool max 2
conv 5x5x16 relu
pool max 2
fc 120 relu
fc 84 relu
fc 10
softmax
NET
printf 'input 7x7x1; conv 3x3x4 stride 3\n' >"$tmp/bad.net"

expect 0 "$CNNC" --version;            contains "$tmp/out" "cnnc "
expect 0 "$CNNC" --help;               contains "$tmp/out" "usage: cnnc"
expect 0 "$CNNC" -h
expect 2 "$CNNC";                      contains "$tmp/err" "no input file"
expect 2 "$CNNC" --bogus "$tmp/lenet.net"; contains "$tmp/err" "unknown option '--bogus'"
expect 2 "$CNNC" --report=xml "$tmp/lenet.net"
expect 2 "$CNNC" "$tmp/lenet.net" "$tmp/bad.net"
expect 2 "$CNNC" "$tmp/missing.net";   contains "$tmp/err" "cannot read"
expect 2 "$CNNC" -p 9lives "$tmp/lenet.net"
expect 2 "$CNNC" --unroll x "$tmp/lenet.net"
expect 2 "$CNNC" --report -o

# Checking only: silent success.
expect 0 "$CNNC" "$tmp/lenet.net"
[ -s "$tmp/out" ] && bad "check-only run printed to stdout" || ok

# Reports.
expect 0 "$CNNC" --report "$tmp/lenet.net"
contains "$tmp/out" "Total params: 61,706"
contains "$tmp/out" "416,520"
expect 0 "$CNNC" --report=json "$tmp/lenet.net"
if /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["params"]==61706 and d["macs"]==416520 and d["network"]=="lenet" and d["layers"][0]["inputs"]==["input"]' "$tmp/out"; then ok; else bad "JSON report"; fi
contains "$tmp/out" '"implementation": "tile"'
contains "$tmp/out" '"loss": "ce"'
# The loss: the file's `loss` statement, in the JSON report and the header.
printf 'input 8x8x1\nc = conv 3x3x4 pad 1\nadd c, input\nprelu\nconv 1x1x2\nsoftmax\nloss dice\n' >"$tmp/seg.net"
expect 0 "$CNNC" --report=json "$tmp/seg.net"; contains "$tmp/out" '"loss": "dice"'
expect 0 "$CNNC" "$tmp/seg.net" -o "$tmp/seg.c"; contains "$tmp/seg.h" "soft Dice loss"
contains "$tmp/seg.c" "CNN_LOSS_DICE"
# --blas needs -o unless it only changes the report's kernels
expect 2 "$CNNC" --blas "$tmp/lenet.net";  contains "$tmp/err" "need -o FILE.c"
expect 0 "$CNNC" --blas --report "$tmp/lenet.net"; contains "$tmp/out" "Kernel"
# ... and plans the scratch of the kernels the code runs: a grouped conv
# that BLAS takes needs none (it counted the flat kernel's planes).
printf 'input 3x7x256; conv 3x3x128 groups 2 pad 1\n' >"$tmp/grouped.net"
expect 0 "$CNNC" --blas --report "$tmp/grouped.net"
contains "$tmp/out" "Planned buffers per image, inference: 10.5 KiB"
# --batch: the batch of the report's memory figures (default 1), report only
expect 2 "$CNNC" --report --batch 0 "$tmp/lenet.net"; contains "$tmp/err" "--batch needs a whole number from 1"
expect 2 "$CNNC" --batch 2 "$tmp/lenet.net";  contains "$tmp/err" "--batch needs --report"
expect 2 "$CNNC" --report=dot --batch 2 "$tmp/lenet.net"
expect 0 "$CNNC" --report --batch 4 "$tmp/lenet.net"; contains "$tmp/out" "Memory at batch 4: inference "
# The memory of a step: fixed + columns + batch x planned bytes per image;
# a stride-2 conv to a 3x3 plane runs on the columns of up to 113 images
# side by side, of which batch 1 touches 24 columns.
printf 'input 5x5x8; conv 3x3x16 stride 2 pad 1\n' >"$tmp/cols.net"
expect 0 "$CNNC" --report=json "$tmp/cols.net"; mv "$tmp/out" "$tmp/one.json"
expect 0 "$CNNC" --report=json --batch 300 "$tmp/cols.net"
if /usr/bin/python3 - "$tmp/one.json" "$tmp/out" <<'PY'; then ok; else bad "memory_bytes in the JSON report"; fi
import json, sys
one, big = (json.load(open(f)) for f in sys.argv[1:3])
p, m1, m = one["planned_bytes"], one["memory_bytes"], big["memory_bytes"]
assert m1["batch"] == 1 and m["batch"] == 300
assert m1["columns"] == (72 + 16) * 24 * 4 and m["columns"] == m["columns_allocated"] == (72 + 16) * 1032 * 4
for b, r in ((1, m1), (300, m)):
    assert r["fixed_inference"] == 4 * 1168 and r["fixed_training"] == 4 * 4 * 1168
    assert r["inference"] == r["fixed_inference"] + r["columns"] + b * p["inference"]
    assert r["training"] == r["fixed_training"] + r["columns"] + b * p["training"]
PY
# A volume net's convolutions keep a scratch per thread: the report plans
# what the generated code allocates for each thread.
expect 0 "$CNNC" --report=json tests/gen/vgraph.net
planned=$(sed -n 's/.*"per_thread": \([0-9]*\).*/\1/p' "$tmp/out")
expect 0 "$CNNC" tests/gen/vgraph.net -o "$tmp/vgraph.c"
floats=$(sed -n 's|.*float \*task; *[/][*] \([0-9]*\) per thread.*|\1|p' "$tmp/vgraph.c")
if [ -n "$planned" ] && [ "$planned" = "$((4 * ${floats:-0}))" ]; then ok; else bad "per-thread scratch: planned '$planned' bytes, allocated '$floats' floats"; fi
expect 0 "$CNNC" --report=dot "$tmp/lenet.net"
contains "$tmp/out" "digraph"
if command -v dot >/dev/null 2>&1; then
    if dot -Tsvg "$tmp/out" >/dev/null 2>&1; then ok; else bad "dot rejects the DOT report"; fi
fi

# Standard input; the default network name for it.
expect 0 sh -c "printf 'input 32x32x1; conv 5x5x6 stride 1; pool max 2; fc 10\n' | '$CNNC' --report=json -"
contains "$tmp/out" '"network": "net"'

# Errors: exit 1, gcc-style location, caret, nothing on stdout.
expect 1 "$CNNC" --report "$tmp/bad.net"
contains "$tmp/err" "bad.net:1:14: error: conv1: a 3x3 filter with stride 3 does not fit the 7x7 input"
contains "$tmp/err" "^"
[ -s "$tmp/out" ] && bad "a failing run printed a report" || ok

# Warnings, -Werror and -w.
printf 'input 8x8x1\nx = conv 3x3x2\nconv 3x3x2 from input\n' >"$tmp/warn.net"
expect 0 "$CNNC" "$tmp/warn.net";          contains "$tmp/err" "warning:"
expect 1 "$CNNC" -Werror "$tmp/warn.net";  contains "$tmp/err" "error:"
expect 0 "$CNNC" -w "$tmp/warn.net"
[ -s "$tmp/err" ] && bad "-w still printed: $(cat "$tmp/err")" || ok

# Dependencies: -M lists the file and its includes, with phony targets.
mkdir -p "$tmp/sub"
printf 'block b(c) { conv 3x3x$c pad 1 relu }\n' >"$tmp/sub/blocks.net"
printf 'include "sub/blocks.net"\ninput 8x8x1\nb(4)\nfc 2\n' >"$tmp/inc.net"
expect 0 "$CNNC" -M "$tmp/inc.net"
contains "$tmp/out" "inc.c: $tmp/inc.net $tmp/sub/blocks.net"
contains "$tmp/out" "$tmp/sub/blocks.net:"
expect 0 "$CNNC" -M -MF "$tmp/inc.d" -MT "x.c" "$tmp/inc.net"
contains "$tmp/inc.d" "x.c: $tmp/inc.net $tmp/sub/blocks.net"

# An include cycle is an input error.
printf 'include "cyc.net"\ninput 8x8\nfc 2\n' >"$tmp/cyc.net"
expect 1 "$CNNC" "$tmp/cyc.net";  contains "$tmp/err" "include cycle"

# Issue 9: a comment of 16 KiB overflowed the lexer's state buffer.
awk 'BEGIN { printf "input 28x28x1\n#"; for (i = 0; i < 16384; i++) printf "x"; printf "\nfc 10\n" }' >"$tmp/long.net"
expect 0 "$CNNC" "$tmp/long.net"

# A UTF-8 byte order mark is skipped, in the main file and in includes, and
# columns count from after it.
printf '\357\273\277block b() { relu }\n' >"$tmp/bomblk.net"
printf '\357\273\277include "bomblk.net"\ninput 8x8\nb()\n' >"$tmp/bom.net"
expect 0 "$CNNC" "$tmp/bom.net"
printf '\357\273\277input 8x8 @\n' >"$tmp/bom2.net"
expect 1 "$CNNC" "$tmp/bom2.net";  contains "$tmp/err" "bom2.net:1:11: error: unexpected character '@'"

# Issue 9: prefixes that the generated C cannot use (keywords, reserved
# names, the runtime's and the library's names) are command-line errors
# when they come from -p or the file name, with a suggestion.
for p in int static _x __y main cnn CNNRT memset; do
    expect 2 "$CNNC" -p "$p" "$tmp/lenet.net" -o "$tmp/p.c"; contains "$tmp/err" "-p $p: '$p'"
done
contains "$tmp/err" "e.g. -p memset_net"
mkdir -p "$tmp/names"
for n in int main static cnn; do
    sed '/^network/d' "$tmp/lenet.net" >"$tmp/names/$n.net"
    expect 2 "$CNNC" "$tmp/names/$n.net" -o "$tmp/names/out.c"
    contains "$tmp/err" "the C prefix '$n', taken from the file name '$tmp/names/$n.net'"
done
expect 0 "$CNNC" "$tmp/names/int.net"               # only checking: no prefix used
expect 0 "$CNNC" "$tmp/names/int.net" -p int_net -o "$tmp/names/out.c"
[ -e "$tmp/names/out.c" ] && ok || bad "-p int_net wrote nothing"
rm -rf "$tmp/names"

# Nothing is created or changed when the input has errors.
echo "keep me" >"$tmp/bad.c"
expect 1 "$CNNC" "$tmp/bad.net" -o "$tmp/bad.c"
contains "$tmp/bad.c" "keep me"
[ -e "$tmp/bad.h" ] && bad "bad.h was created" || ok
ls "$tmp" | grep -q tmp && bad "a temporary file was left behind" || ok

# Outputs as gcc writes them: devices and FIFOs directly, a symlink's
# target replaced (the link stays), an existing file's mode kept.
if mknod "$tmp/null" c 1 3 2>/dev/null && mknod "$tmp/full" c 1 7 2>/dev/null; then
    expect 0 "$CNNC" "$tmp/lenet.net" -o "$tmp/null" --header "$tmp/null"
    expect 2 "$CNNC" "$tmp/lenet.net" -o "$tmp/full" --header "$tmp/full.h"
    contains "$tmp/err" "cannot write '$tmp/full': No space left on device"
    [ -e "$tmp/full.h" ] && bad "full.h was written although the C was not" || ok
    if [ -c "$tmp/null" ] && [ -c "$tmp/full" ]; then ok; else bad "cnnc replaced a device: $(ls -l "$tmp/null" "$tmp/full")"; fi
else
    echo "note: mknod not permitted: device outputs not tested"
fi
mkfifo "$tmp/fifo"
cat "$tmp/fifo" >"$tmp/fifo.out" &
expect 0 "$CNNC" "$tmp/lenet.net" -o "$tmp/fifo" --header "$tmp/fifo.h"
[ -p "$tmp/fifo" ] || kill $! 2>/dev/null   # replaced: the reader waits in vain
# A cnnc that never opened the FIFO leaves the reader waiting for a
# writer: be one (read-write does not block), so that the test fails
# rather than hangs.
[ -p "$tmp/fifo" ] && { exec 3<>"$tmp/fifo"; exec 3>&-; }
wait
contains "$tmp/fifo.out" "generated by cnnc"
[ -p "$tmp/fifo" ] && ok || bad "cnnc replaced a FIFO"
echo old >"$tmp/real.c"
ln -s real.c "$tmp/link.c"
expect 0 "$CNNC" "$tmp/lenet.net" -o "$tmp/link.c"
[ -L "$tmp/link.c" ] && ok || bad "cnnc replaced a symlink"
contains "$tmp/real.c" "generated by cnnc"
echo old >"$tmp/private.c" && chmod 640 "$tmp/private.c"
expect 0 "$CNNC" "$tmp/lenet.net" -o "$tmp/private.c"
[ "$(stat -c %a "$tmp/private.c")" = 640 ] && ok || bad "private.c came back as $(stat -c %a "$tmp/private.c")"
# Temporaries of dead writers go; those of live ones stay.
dead=$(sh -c 'echo $$')
touch "$tmp/stale.c.tmp-$dead-0" "$tmp/stale.c.tmp-$$-0"
expect 0 "$CNNC" "$tmp/lenet.net" -o "$tmp/stale.c"
[ ! -e "$tmp/stale.c.tmp-$dead-0" ] && [ -e "$tmp/stale.c.tmp-$$-0" ] && ok || bad "stale temporaries: $(ls "$tmp" | grep stale)"
rm -f "$tmp/stale.c.tmp-$$-0"

# Outputs that collide with an input or with each other: exit 2, both
# named, nothing written.
cp "$tmp/lenet.net" "$tmp/mynet.net"
expect 2 "$CNNC" "$tmp/mynet.net" -o "$tmp/mynet.net"
contains "$tmp/err" "-o '$tmp/mynet.net' would overwrite the input '$tmp/mynet.net'"
cmp -s "$tmp/lenet.net" "$tmp/mynet.net" && ok || bad "cnnc mynet.net -o mynet.net overwrote the source"
expect 2 "$CNNC" "$tmp/mynet.net" -o "$tmp/out.h"
contains "$tmp/err" "-o '$tmp/out.h' and the header '$tmp/out.h' are the same file"
expect 2 "$CNNC" "$tmp/mynet.net" -o "$tmp/same.c" --header "$tmp/./same.c"
contains "$tmp/err" "are the same file"
expect 2 "$CNNC" "$tmp/mynet.net" -o "$tmp/q.c" -MD -MF "$tmp/q.c"
contains "$tmp/err" "the dependency file '$tmp/q.c'"
expect 2 "$CNNC" "$tmp/inc.net" -o "$tmp/sub/../sub/blocks.net"
contains "$tmp/err" "would overwrite the input"
ln -s mynet.net "$tmp/alias.c"
expect 2 "$CNNC" "$tmp/mynet.net" -o "$tmp/alias.c"
for f in out.h same.c q.c; do [ -e "$tmp/$f" ] && bad "$f was written"; done
ok

# Volumes (SPEC 7): checked, reported and compiled (P_IN_D in the header);
# the layers the emitter cannot run yet on volumes are refused at their
# statement, with exit 1 and nothing written.
printf 'network vol\ninput 8x16x16x1\nconv 3x3x3x4 pad 1\nprelu\nconv 1x1x1x2\nsoftmax\n' >"$tmp/vol.net"
expect 0 "$CNNC" --report "$tmp/vol.net";      contains "$tmp/out" "8x16x16x4"
expect 0 "$CNNC" --report=json "$tmp/vol.net"; contains "$tmp/out" '"input": [8, 16, 16, 1]'
expect 0 "$CNNC" --report=dot "$tmp/vol.net";  contains "$tmp/out" "8x16x16x2"
expect 0 "$CNNC" "$tmp/vol.net" -o "$tmp/vol.c"
contains "$tmp/vol.h" "#define VOL_IN_D 8"
contains "$tmp/vol.h" "#define VOL_IN_SIZE 2048"
# Initialisation counts a volume kernel's KD planes of taps in its fan-in
# (27 for 3x3x3 on one channel, not 9): with 9, V-Net's residual stages
# start too large and it does not learn (make demo-vnet).
contains "$tmp/vol.c" "cnn_init_he(m->params + conv1_W, 108, 27, &r);"
printf 'network volg\ninput 4x8x8x4\nconv 3x3x3x4 pad 1 groups 2\nconv 2x2x2x2 pad same\n' >"$tmp/volg.net"
expect 1 "$CNNC" "$tmp/volg.net" -o "$tmp/volg.c" --header "$tmp/volgh.h"
contains "$tmp/err" "volg.net:3:1: error: code generation for 'conv1' (grouped convolution on a volume) is not yet supported"
contains "$tmp/err" "volg.net:4:1: error: code generation for 'conv2' (padding that differs between the sides of an axis on a volume)"
for f in volg.c volg.h volgh.h; do [ -e "$tmp/$f" ] && bad "$f was written for a refused volume"; done
expect 0 "$CNNC" --report "examples/vnet.net"; contains "$tmp/out" "Total params: 65,175,314"
# The demo's V-Net (make demo-vnet): tests/torch/vnet.py's VNet(base=8).
expect 0 "$CNNC" --report "examples/vnet_small.net"; contains "$tmp/out" "Total params: 16,296,074"

summary cli
