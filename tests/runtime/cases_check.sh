#!/bin/sh
# cases_check.sh TEST REF - a runtime test that writes its cases for
# PyTorch (test_conv3d, test_vol3d): TEST with the kernels the CPU runs
# best and with the portable ones, then tests/runtime/REF (conv3d_ref.py,
# vol3d_ref.py) on the cases it wrote (skipped when Debian's python3-torch
# is absent).
set -e
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
CNNRT_ISA=generic "$1" >/dev/null
"$1" "$out"
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 "$(dirname "$0")/$2" "$out"
else
    echo "cases_check.sh: /usr/bin/python3 has no torch; skipped the comparison with PyTorch ($2)"
fi
