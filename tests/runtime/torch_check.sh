#!/bin/sh
# torch_check.sh TEST_RUNTIME - runs the runtime's tests, then has PyTorch
# read back the safetensors file that cnn_st_write produced (parsed by hand
# in optim_ref.py, compared with the torch state_dict, loaded into the
# model).  The PyTorch half is skipped when Debian's python3-torch is absent.
set -e
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
CNNRT_TEST_OUT="$out/ours.safetensors" "$1"
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    /usr/bin/python3 "$(dirname "$0")/optim_ref.py" --check "$out/ours.safetensors"
else
    echo "torch_check.sh: /usr/bin/python3 has no torch; skipped the PyTorch read-back"
fi
