#!/bin/sh
# The C prefix (network name, file name or -p) becomes the model's type
# name, so cnnc must refuse every name that the generated C or the headers
# it includes already declare (issue 9: int.net, main.net, -p int gave C
# that did not compile).  This test rebuilds both lists from the real code
# and the real headers, so that compiler/reserved.c cannot go stale:
#  1. every identifier of the generated code (all modes, several nets)
#     that does not come from the prefix or a layer name must be refused;
#  2. every identifier of the headers that cnnc accepts must be usable as
#     a typedef name after those headers (one translation unit checks all).
# Usage: CNNC=build/cnnc sh tests/gen/prefixes.sh
set -eu
. tests/lib.sh
CC=${CC:-cc}
cd "$tmp"

# Weights for --embed-weights, saved by the generated code itself.
$CNNC "$top/examples/lenet.net" -o lenet.c
cat >save.c <<'C'
#include "lenet.h"
int main(int argc, char **argv)
{
    lenet5 *m = lenet5_new(1);
    (void)argc;
    lenet5_init(m, 1);
    return m && lenet5_save(m, argv[1]) == 0 ? 0 : 1;
}
C
$CC -std=c99 -O0 -I"$top/runtime" -I. save.c lenet.c "$top/build/libcnnrt.a" -lz -lm -fopenmp -o save
./save w.safetensors

i=0
for net in examples/lenet.net examples/resmini.net examples/unet.net tests/gen/kernels.net tests/gen/graph.net \
    tests/gen/vseg.net tests/gen/norms.net tests/gen/vgraph.net; do
    for mode in "--main" "--no-train" "--blas"; do
        i=$((i + 1))
        $CNNC "$top/$net" $mode -p pfx -o "gen$i.c"
    done
    $CNNC --report=json "$top/$net" >>layers.json
done
$CNNC "$top/examples/lenet.net" --embed-weights w.safetensors -p pfx -o emb.c

# 1: identifiers of the generated code.
/usr/bin/python3 - gen*.c gen*.h emb.c emb.h >own.txt <<'PY'
import json, re, sys
layers = set()
text = open("layers.json").read()
dec = json.JSONDecoder()
pos = 0
while pos < len(text):
    while pos < len(text) and text[pos].isspace():
        pos += 1
    if pos >= len(text):
        break
    doc, pos = dec.raw_decode(text, pos)
    layers |= {re.sub(r"[^A-Za-z0-9_]", "_", l["name"]) for l in doc["layers"]}
ids = set()
for path in sys.argv[1:]:
    src = open(path).read()
    src = re.sub(r"/\*.*?\*/", " ", src, flags=re.S)
    src = re.sub(r'"(\\.|[^"\\])*"', " ", src)
    src = re.sub(r"^\s*#\s*include.*$", " ", src, flags=re.M)
    src = re.sub(r"__attribute__\s*\(\(.*?\)\)", " ", src)
    ids |= set(re.findall(r"\b[A-Za-z_][A-Za-z0-9_]*\b", src))
pre = {"define", "defined", "ifdef", "ifndef", "endif", "if", "else", "elif", "pragma", "omp", "GCC", "optimize"}
for i in sorted(ids):
    own = i.lower().startswith("pfx") or i in pre or i.startswith("_Pragma")
    own |= any(i == l or i.startswith(l + "_") for l in layers)
    if not own:
        print(i)
PY
fails=0
while read -r id; do
    if $CNNC -p "$id" "$top/examples/lenet.net" 2>/dev/null; then
        echo "prefixes: '$id' is used by the generated C but accepted as a prefix"
        fails=$((fails + 1))
    fi
done <own.txt

# 2: identifiers of the headers.
printf '#include <math.h>\n#include <stddef.h>\n#include <stdint.h>\n#include <stdlib.h>\n#include <string.h>\n#include <immintrin.h>\n#include <cblas.h>\n#include <omp.h>\n#include "cnnrt.h"\n' >hdr.c
{ $CC -E -P -mavx2 -mfma -fopenmp -I"$top/runtime" hdr.c | grep -o '[A-Za-z_][A-Za-z0-9_]*'
  $CC -dM -E -mavx2 -mfma -fopenmp -I"$top/runtime" hdr.c | awk '{ sub(/\(.*/, "", $2); print $2 }'; } | sort -u >hdr.txt
cp hdr.c clash.c
accepted=0
while read -r id; do
    if $CNNC -p "$id" "$top/examples/lenet.net" 2>/dev/null; then
        echo "typedef struct $id $id;" >>clash.c
        accepted=$((accepted + 1))
    fi
done <<EOF2
$(grep -v '^_' hdr.txt)
EOF2
if ! $CC -fsyntax-only -w -mavx2 -mfma -fopenmp -I"$top/runtime" clash.c 2>clash.err; then
    grep -o 'clash.c:[0-9]*' clash.err | sort -u | while IFS=: read -r f line; do
        echo "prefixes: accepted but declared by a header: $(sed -n "${line}p" clash.c)"
    done
    fails=$((fails + 1))
fi
echo "prefixes: $(wc -l <own.txt) names of the generated code, $(wc -l <hdr.txt) of the headers ($accepted accepted and free): $fails failed"
[ "$fails" = 0 ]
