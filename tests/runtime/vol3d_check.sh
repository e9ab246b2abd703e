#!/bin/sh
# vol3d_check.sh TEST_VOL3D - the runtime's 3-D pools, transposed
# convolution and upsampling: test_vol3d with the kernels the CPU runs
# best and with the portable ones, then PyTorch on the same cases (skipped
# when Debian's python3-torch is absent).
set -e
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
CNNRT_ISA=generic "$1" >/dev/null
"$1" "$out"
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 "$(dirname "$0")/vol3d_ref.py" "$out"
else
    echo "vol3d_check.sh: /usr/bin/python3 has no torch; skipped the PyTorch comparison"
fi
