#!/bin/sh
# run.sh - conformance of the generated C with PyTorch (tests/torch/conform.py):
# every case in tests/torch/cases, 20 random sequential nets, 20 random DAGs,
# 16 of each on volumes and ResNet-18 at 64x64x3; forward, backward and training steps compared
# with a float64 PyTorch reference.  Prints one line per net and
# `conformance: N passed, M failed`; exits non-zero on a failure.
#
#   CNNC=build/cnnc sh tests/torch/run.sh [conform.py options]
#
# Needs Debian's python3-torch (in /usr/bin/python3, which need not be the
# python3 first on PATH); skipped, with exit status 0, when it is missing.
# The library is taken from beside $CNNC (build/libcnnrt.a).
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
PY=${TORCH_PYTHON:-/usr/bin/python3}

if ! "$PY" -c 'import torch' >/dev/null 2>&1; then
    echo "tests/torch/run.sh: $PY cannot import torch (Debian: apt-get install python3-torch); conformance skipped"
    exit 0
fi

CNNC=${CNNC:-$top/build/cnnc}
case $CNNC in /*) ;; *) CNNC=$(pwd)/$CNNC ;; esac
export CNNC
OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 exec "$PY" "$here/conform.py" "$@"
