#!/bin/sh
# Installs the Debian packages that building and testing cnnc need, when
# they are missing.  Run as root on a fresh machine (CI does); as another
# user it only says what is missing.
set -eu

# build: flex bison pkg-config zlib; tests: CUnit, PyTorch (reference
# numerics), Fashion-MNIST (demo); optional runtime: OpenBLAS; Open MPI
# (libcnnrt-mpi, tests/mpi).
packages="flex bison make gcc clang pkg-config zlib1g-dev libcunit1-dev
libopenblas-dev python3-torch python3-torchvision python3-numpy dataset-fashion-mnist
openmpi-bin libopenmpi-dev"

missing=""
for p in $packages; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "setup: installing:$missing"
if [ "$(id -u)" != 0 ]; then
    echo "setup: not root; install these with: sudo apt-get install$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
