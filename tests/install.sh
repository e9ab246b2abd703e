#!/bin/sh
# `make install PREFIX=DIR` and a user's build through pkg-config, as the
# README shows: cnnc lenet.net --main -o lenet.c; cc lenet.c $(pkg-config
# --cflags --libs cnnrt).
set -eu
top=$PWD
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
make -s install PREFIX="$tmp/usr" >/dev/null
for f in bin/cnnc lib/libcnnrt.a include/cnnrt.h lib/pkgconfig/cnnrt.pc lib/pkgconfig/cnnrt-blas.pc \
         share/man/man1/cnnc.1; do
    [ -e "$tmp/usr/$f" ] || { echo "install: $f is missing"; exit 1; }
done
export PKG_CONFIG_PATH="$tmp/usr/lib/pkgconfig"
cd "$tmp"
"$tmp/usr/bin/cnnc" "$top/examples/lenet.net" --main -o lenet.c
cc -O1 lenet.c $(pkg-config --cflags --libs cnnrt) -o lenet
./lenet info | grep -q "Total params: 61,706"
"$tmp/usr/bin/cnnc" "$top/examples/lenet.net" --blas -o lenet_blas.c
cc -O1 -c lenet_blas.c $(pkg-config --cflags cnnrt-blas) -o lenet_blas.o
man -l "$tmp/usr/share/man/man1/cnnc.1" >/dev/null 2>&1 || [ ! -x /usr/bin/man ]
echo "install: 3 passed, 0 failed"
