#!/bin/sh
# Data-parallel training over Open MPI (docs/mpi.md), with
# 1, 2 and 4 ranks on this machine (shared memory and loopback only):
# - without mpirun the MPI build trains exactly as the plain one;
# - the weights after k steps with 2 and 4 ranks equal those of one
#   process with the same global batch, to float rounding: uneven shares,
#   a last batch too small to share, SGD and Adam, gradients summed in
#   several buckets during the backward pass or after it, MPI x OpenMP, and
#   batchnorm with --sync-bn (and without it they differ: the test can
#   fail);
# - eval and the per-epoch test score split the set and add the results;
# - volumes with dense labels, `loss dice` and cross-entropy: weights,
#   printed losses and the test set's Dice score equal one process's;
# - a corrupt --load on one rank, a NaN and a killed rank end the job with
#   a non-zero exit and a message naming the rank, in bounded time, and
#   the last checkpoint stays intact;
# - bench prints the aggregate rate and the communication wait;
# - make install's cnnrt-mpi.pc builds a network with mpicc.
# Usage: sh tests/mpi/run.sh   (from the top of the tree, after `make`)
# Environment: CNNC (build/cnnc), LIBCNNRT_MPI (build/libcnnrt-mpi.a;
# empty: skipped), LIBCNNRT (build/libcnnrt.a).
set -u
LIBCNNRT_MPI=${LIBCNNRT_MPI-build/libcnnrt-mpi.a}
if [ -z "$LIBCNNRT_MPI" ] || ! command -v mpirun >/dev/null || ! command -v mpicc >/dev/null; then
    echo "mpi: skipped (no mpicc/mpirun: install openmpi-bin libopenmpi-dev, see scripts/setup.sh)"
    exit 0
fi
. tests/lib.sh
LIBCNNRT=$(absolute "${LIBCNNRT:-build/libcnnrt.a}")
LIBCNNRT_MPI=$(absolute "$LIBCNNRT_MPI")
compare="env OPENBLAS_NUM_THREADS=1 /usr/bin/python3 $top/tests/mpi/compare.py"
cd "$tmp" || exit 1   # expect leaves out and err here

# Loopback and shared memory only; root needs Open MPI's consent.
if [ "$(id -u)" = 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OMPI_MCA_btl=self,vader OMPI_MCA_oob_tcp_if_include=lo OMPI_MCA_btl_tcp_if_include=lo
mpi() { timeout 120 mpirun --oversubscribe "$@"; }

# expect_fail CMD...: a non-zero exit that is not timeout's 124.
expect_fail() {
    "$@" >out 2>err; got=$?
    if [ "$got" != 0 ] && [ "$got" != 124 ]; then ok; else bad "$* -> exit $got, want failure"; fi
}
same() { # A B [TOL]: weights equal to float rounding
    if $compare "$@" >cmp.out 2>&1; then ok; else bad "$1 vs $2: $(cat cmp.out)"; fi
}
differ() { # A B: weights that must not be equal
    if $compare "$@" >cmp.out 2>&1; then bad "$1 and $2 are equal: $(cat cmp.out)"; else ok; fi
}

# ---- nets and data --------------------------------------------------------
cat >flat.net <<'NET'
network flatnet   # "flat" is a name the generated C uses
input 12x12x1
conv 3x3x4 pad 1 relu
pool max 2
fc 16 relu
fc 10
softmax
NET
cat >bn.net <<'NET'
network bn
input 12x12x1
conv 3x3x4 pad 1
batchnorm
relu
pool max 2
fc 16
batchnorm
relu
fc 10
softmax
NET
# A shortcut, and 1.2M parameters: more than one gradient bucket.
cat >res.net <<'NET'
network res
input 12x12x1
stem = conv 3x3x4 pad 1 relu
branch = conv 3x3x4 pad 1 relu
skip = conv 1x1x4 from stem
add branch relu
big = fc 2000 relu
fc 10
softmax
NET
printf 'network mse\ninput 12x12x1\nfc 10\n' >mse.net   # no softmax: MSE, can diverge
# Dense prediction: 8x8x2 out of 12x12, one label per output pixel.
printf 'network seg\ninput 12x12x1\nconv 3x3x4 relu\nconv 3x3x2\nsoftmax\n' >seg.net
# Volumes, one label per voxel: the Dice loss, and cross-entropy.
printf 'network vdice\ninput 4x6x6x1\nconv 3x3x3x4 pad 1 relu\nconv 1x1x1x2\nsoftmax\nloss dice\n' >vdice.net
printf 'network vce\ninput 4x6x6x1\nconv 3x3x3x4 pad 1 relu\nconv 1x1x1x2\nsoftmax\n' >vce.net
# build NAME: NAME.c, NAME (libcnnrt) and NAME_mpi (libcnnrt-mpi, mpicc).
build() {
    "$CNNC" "$1.net" --main -o "$1.c" 2>build.err &&
        cc -std=c99 -O2 -fopenmp -I"$top/runtime" "$1.c" "$LIBCNNRT" -lz -lm -o "$1" 2>>build.err &&
        mpicc -std=c99 -O2 -fopenmp -I"$top/runtime" "$1.c" "$LIBCNNRT_MPI" -lz -lm -o "$1_mpi" 2>>build.err
}
for n in flat bn res mse seg vdice vce; do
    if build $n; then ok; else bad "build $n: $(head -c 600 build.err)"; echo "mpi: $pass passed, $fail failed"; exit 1; fi
done
# 12x12 images, class k a bright row at 1 + k.
python3 - <<'PY'
import os, random, struct
random.seed(3)
os.makedirs("data", exist_ok=True)
for prefix, n in (("train", 300), ("t10k", 101)):
    labels = [random.randrange(10) for _ in range(n)]
    pix = bytearray()
    for k in labels:
        for r in range(12):
            for c in range(12):
                pix.append(200 + random.randrange(56) if r == 1 + k else random.randrange(60))
    open("data/%s-images-idx3-ubyte" % prefix, "wb").write(struct.pack(">IIII", 0x803, n, 12, 12) + bytes(pix))
    open("data/%s-labels-idx1-ubyte" % prefix, "wb").write(struct.pack(">II", 0x801, n) + bytes(labels))
# The same images, labelled by pixel: 1 where bright, cropped to 8x8.
    masks = bytearray(1 if pix[i * 144 + r * 12 + c] >= 200 else 0
                      for i in range(n) for r in range(2, 10) for c in range(2, 10))
    os.makedirs("dense", exist_ok=True)
    open("dense/%s-images-idx3-ubyte" % prefix, "wb").write(struct.pack(">IIII", 0x803, n, 12, 12) + bytes(pix))
    open("dense/%s-labels-idx3-ubyte" % prefix, "wb").write(struct.pack(">IIII", 0x803, n, 8, 8) + masks)
# 4x6x6 volumes, foreground a bright diamond; 13 test volumes, shared
# 7 + 6 by two ranks.
os.makedirs("vol", exist_ok=True)
for prefix, n in (("train", 60), ("t10k", 13)):
    vox, masks = bytearray(), bytearray()
    for i in range(n):
        cz, cy, cx = random.randrange(4), random.randrange(6), random.randrange(6)
        for z in range(4):
            for y in range(6):
                for x in range(6):
                    fg = abs(z - cz) + abs(y - cy) + abs(x - cx) <= 2
                    vox.append(150 + random.randrange(100) if fg else random.randrange(120))
                    masks.append(fg)
    for kind, body in (("images", vox), ("labels", masks)):
        open("vol/%s-%s-idx4-ubyte" % (prefix, kind), "wb").write(struct.pack(">IIIII", 0x804, n, 4, 6, 6) + body)
PY
T="train --data data --epochs 2 --threads 1 --schedule const"

# ---- one process ------------------------------------------------------------
expect 0 ./flat $T --limit 150 --batch 30 --save one.st
expect 0 ./flat_mpi $T --limit 150 --batch 30 --save one_mpi.st
if cmp -s one.st one_mpi.st; then ok; else bad "the MPI build alone trains differently"; fi

# ---- equal to one process: 5 steps an epoch of 30 = 15+15 = 8+8+7+7 ---------
for np in 2 4; do
    expect 0 mpi -np $np ./flat_mpi $T --limit 150 --batch 30 --save flat$np.st
    same one.st flat$np.st
done
contains out "epoch 2/2"
# 152 images: the last batch of 2 is shared by 2 ranks, left out by 4.
expect 0 ./flat $T --limit 152 --batch 30 --save one152.st
expect 0 mpi -np 2 ./flat_mpi $T --limit 152 --batch 30 --save two152.st
same one152.st two152.st
expect 0 mpi -np 4 ./flat_mpi $T --limit 152 --batch 30 --save four152.st
same one.st four152.st
# Adam; two ranks of two OpenMP threads.
expect 0 ./flat $T --limit 150 --batch 30 --optim adam --save adam1.st
expect 0 mpi -np 2 ./flat_mpi $T --limit 150 --batch 30 --optim adam --save adam2.st
same adam1.st adam2.st
expect 0 mpi -np 2 ./flat_mpi $T --limit 150 --batch 30 --threads 2 --save hybrid.st
same one.st hybrid.st
# Buckets summed by non-blocking all-reduces during the backward pass (the
# default across nodes) and by one blocking all-reduce after it (on one node).
expect 0 ./res $T --limit 150 --batch 30 --save res_one.st
for overlap in 0 1; do
    expect 0 mpi -np 2 -x CNNRT_MPI_OVERLAP=$overlap ./res_mpi $T --limit 150 --batch 30 --save res$overlap.st
    same res_one.st res$overlap.st
done
expect 0 mpi -np 4 -x CNNRT_MPI_OVERLAP=1 ./flat_mpi $T --limit 150 --batch 30 --save flat4o.st
same one.st flat4o.st
# --load on another number of ranks than saved it, and onwards.
expect 0 ./flat $T --limit 150 --batch 30 --load flat4.st --save more1.st
expect 0 mpi -np 2 ./flat_mpi $T --limit 150 --batch 30 --load flat4.st --save more2.st
same more1.st more2.st

# ---- batchnorm: equal with --sync-bn (running statistics too), not without ---
expect 0 ./bn $T --limit 150 --batch 30 --save bn1.st
for np in 2 4; do
    expect 0 mpi -np $np ./bn_mpi $T --limit 150 --batch 30 --sync-bn --save bn$np.st
    same bn1.st bn$np.st
done
expect 0 mpi -np 2 ./bn_mpi $T --limit 150 --batch 30 --save bnlocal.st
differ bn1.st bnlocal.st

# ---- the test set split among the ranks, results added -----------------------
expect 0 ./flat eval --data data --load one.st
grep '^t10k' out >eval1
expect 0 mpi -np 4 ./flat_mpi eval --data data --load one.st
if grep '^t10k' out | cmp -s - eval1; then ok; else bad "eval on 4 ranks: $(cat out) vs $(cat eval1)"; fi
# Dense labels: each rank trains on its images' pixel labels, and the
# pixel counts and Dice scores are added over the ranks.
D="train --data dense --epochs 2 --threads 1 --schedule const --limit 150 --batch 30"
expect 0 ./seg $D --save seg1.st
expect 0 mpi -np 2 ./seg_mpi $D --save seg2.st
same seg1.st seg2.st
expect 0 ./seg eval --data dense --load seg1.st
grep '^t10k' out >evalseg1
contains evalseg1 "pixels)  dice "
expect 0 mpi -np 3 ./seg_mpi eval --data dense --load seg1.st
if grep '^t10k' out | cmp -s - evalseg1; then ok; else bad "seg eval on 3 ranks: $(cat out) vs $(cat evalseg1)"; fi
# Volumes with dense labels, `loss dice` and cross-entropy: 60 volumes in
# batches of 11 (6 + 5 on two ranks, the last 3 + 2).  The weights, the
# printed train loss and the test set's mean Dice score (of 13 volumes,
# 7 + 6: a mean of the ranks' means would differ) equal one process's.
V="train --data vol --epochs 3 --threads 1 --schedule const --batch 11 --lr 0.5"
for n in vdice vce; do
    expect 0 ./$n $V --save ${n}1.st
    sed -n 's/  time .*//p' out >${n}1.epochs
    contains ${n}1.epochs "epoch 3/3  loss"
    expect 0 mpi -np 2 ./${n}_mpi $V --save ${n}2.st
    same ${n}1.st ${n}2.st
    if sed -n 's/  time .*//p' out | cmp -s - ${n}1.epochs; then ok
    else bad "$n on 2 ranks printed: $(cat out) want: $(cat ${n}1.epochs)"; fi
    expect 0 ./$n eval --data vol --load ${n}1.st
    grep '^t10k' out >${n}1.eval
    contains ${n}1.eval " dice "
    expect 0 mpi -np 2 ./${n}_mpi eval --data vol --load ${n}1.st
    if grep '^t10k' out | cmp -s - ${n}1.eval; then ok; else bad "$n eval on 2 ranks: $(cat out) vs $(cat ${n}1.eval)"; fi
done
# predict runs on rank 0 alone: the same lines and class map.
expect 0 ./vdice predict --load vdice1.st --output map1.idx vol/t10k-images-idx4-ubyte
cp out predict1
expect 0 mpi -np 2 ./vdice_mpi predict --load vdice1.st --output map2.idx vol/t10k-images-idx4-ubyte
if cmp -s out predict1 && cmp -s map1.idx map2.idx; then ok; else bad "predict on 2 ranks: $(head -3 out)"; fi
expect 0 mpi -np 2 ./flat_mpi info
if grep -c '^Tensors' out | grep -qx 1; then ok; else bad "info printed by more than rank 0: $(cat out)"; fi

# ---- faults -------------------------------------------------------------------
# A corrupt --load on rank 1 alone (MPMD): every rank stops, exit 2.
head -c 100 one.st >corrupt.st
expect 2 mpi -np 1 ./flat_mpi $T --load one.st : -np 1 ./flat_mpi $T --load corrupt.st
contains err "flat_mpi (rank 1): corrupt.st:"
# Data missing on rank 1 alone.
expect 2 mpi -np 1 ./flat_mpi $T : -np 1 ./flat_mpi $T --data nowhere
contains err "(rank 1): "
# NaN: exit 3 naming the rank, the last checkpoint intact.
D="train --data data --epochs 6 --lr 10 --schedule const --threads 1"
expect 3 ./mse $D --save div1.st
when=$(grep -o 'diverged at epoch [0-9]* step [0-9]*' err)
expect 3 mpi -np 2 ./mse_mpi $D --save div.st
contains err "rank"
if [ -n "$when" ]; then contains err "$when"; else bad "mse did not diverge alone"; fi
expect 0 ./mse eval --data data --load div.st
same div1.st div.st
# A rank killed after the first checkpoint: the job ends within seconds.
rm -f kill.st
mpi -np 2 ./flat_mpi train --data data --epochs 100000 --threads 1 --save kill.st >out 2>err &
job=$!
i=0
while [ ! -s kill.st ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
victim=""
for p in $(pgrep -f 'flat_mpi train --data data --epochs 100000'); do
    grep -qz '^OMPI_COMM_WORLD_RANK=1$' /proc/$p/environ 2>/dev/null && victim=$p
done
if [ -n "$victim" ]; then
    start=$(date +%s)
    kill -9 "$victim"
    wait $job; got=$?
    secs=$(($(date +%s) - start))
    if [ $got != 0 ] && [ $got != 124 ] && [ $secs -le 20 ]; then ok; else bad "killed rank: exit $got after ${secs}s"; fi
    contains err "rank 1"
    expect 0 ./flat eval --data data --load kill.st
else
    bad "no rank 1 to kill (checkpoint: $(ls -l kill.st 2>&1))"
    kill $job 2>/dev/null; wait $job
fi

# ---- bench: aggregate images/s and communication wait ----------------------------
expect 0 mpi -np 2 ./flat_mpi bench --batch 32 --seconds 0.2
contains out "on 2 ranks,"
contains out "ms per step waiting on communication"

# ---- installed: mpicc $(pkg-config --cflags --libs cnnrt-mpi) -----------------
(cd "$top" && make -s install PREFIX="$tmp/usr" >/dev/null 2>&1) || bad "make install"
if PKG_CONFIG_PATH="$tmp/usr/lib/pkgconfig" sh -c \
    'mpicc -O2 flat.c $(pkg-config --cflags --libs cnnrt-mpi) -o flat_pc' 2>build.err; then ok
else bad "mpicc with cnnrt-mpi.pc: $(head -c 600 build.err)"; fi
expect 0 mpi -np 2 ./flat_pc $T --limit 150 --batch 30 --save pc.st
same one.st pc.st

summary mpi
