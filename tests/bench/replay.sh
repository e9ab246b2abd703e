#!/bin/sh
# make bench's arithmetic on known measurements: bench/run.sh replays a raw
# file (BENCH_REPLAY) whose medians put each of issue 12's targets just on
# one side of its limit, and the JSON must say so: medians of 3 rounds,
# ratios against PyTorch and ONNX Runtime, latency as us per image, the
# conv's share of the best peak, speed-ups, the worst --blas ratio, the
# loaded 2-thread/1-thread ratios, and n/a where nothing was measured.
# Usage (from the top directory, after make): BUILD=build sh tests/bench/replay.sh
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Three rounds each: the median is the middle one whatever the order.
rounds() { # KEY A B C
    printf '%s %s\n%s %s\n%s %s\n' "$1" "$2" "$1" "$3" "$1" "$4" >>"$tmp/raw"
}
: >"$tmp/raw"
rounds lenet.cnnc.1.train 900 300 290      # 300 / 100 = 3.00 >= 3: yes
rounds lenet.torch.1.train 100 100 100
rounds lenet.cnnc.2.train 500 500 500      # 500 / 200 = 2.50: no
rounds lenet.torch.2.train 200 200 200
rounds lenet.cnnc.1.forward 1500 1500 1500 # 1500 / 1000 = 1.50 >= 1.5: yes
rounds lenet.ort.1.forward 1000 1000 1000
rounds lenet1.cnnc.1.forward 20000 20000 20000 # 50 us / 100 us = 0.50 <= 0.5: yes
rounds lenet1.ort.1.latency 100 100 100
rounds lenet1.cnnc.2.forward 10000 10000 10000 # 100 us / 100 us = 1.00: no
rounds lenet1.ort.2.latency 100 100 100
rounds peak.1 100 144.5 120                # the best: 144.5
rounds peak_lanes.1 8 16 8                 # the widest that won: 16
rounds conv.cnnc.1.forward 500 500 500     # 115.6 GFLOP/s = 80.0% of 144.5: yes
rounds conv.cnnc.2.forward 850 850 850     # 196.5 / 115.6 = 1.70 < 1.8: no
rounds conv.blas.1.forward 250 250 250     # 0.50 of the default: the worst
rounds conv3d.cnnc.1.forward 2.5 2.5 2.5   # 83.9 GFLOP/s = 58.1% of 144.5: yes
rounds conv3d.torch.1.forward 2.4 2.6 2.5  # 1.00 >= 1: yes
rounds conv3d.cnnc.2.forward 4 4 4         # 4 / 5 = 0.80: no (no 2-thread peak: n/a)
rounds conv3d.torch.2.forward 5 5 5
rounds lenet.blas.1.train 300 300 300      # 1.00
rounds load_lenet.cnnc.1.train 1000 1000 1000 # under load 400 / 1000 = 0.40: no
rounds load_lenet.cnnc.2.train 400 400 400
rounds load_lenet.cnnc.1.forward 1000 1000 1000 # 600 / 1000 = 0.60: yes
rounds load_lenet.cnnc.2.forward 600 600 600

BUILD=${BUILD:-build} BENCH_REPLAY=$tmp/raw BENCH_JSON=$tmp/bench.json BENCH_R50=0 THREADS="1 2" ROUNDS=3 \
    sh bench/run.sh >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/err"; echo "FAIL bench/run.sh replay"; exit 1; }

python3 - "$tmp/bench.json" <<'PY'
import json
import sys

bench = json.load(open(sys.argv[1]))
targets = {(t["target"], t["threads"]): (t["measured"], t["met"]) for t in bench["targets"]}
expect = {
    ("LeNet-5 training >= 3x PyTorch", 1): (3.0, True),
    ("LeNet-5 training >= 3x PyTorch", 2): (2.5, False),
    ("LeNet-5 inference (batch 64) >= 1.5x ORT", 1): (1.5, True),
    ("LeNet-5 inference (batch 64) >= 1.5x ORT", 2): (None, None),
    ("LeNet-5 latency (batch 1) <= 0.5x ORT", 1): (0.5, True),
    ("LeNet-5 latency (batch 1) <= 0.5x ORT", 2): (1.0, False),
    ("VGG-16 (batch 1) >= 1x ORT", 1): (None, None),
    ("conv fwd >= 80% of FP32 peak, 16 lanes (AVX-512)", 1): (80.0, True),
    ("conv fwd 2-thread speed-up >= 1.8x", 2): (1.7, False),
    ("conv3d fwd >= 50% of FP32 peak, 16 lanes (AVX-512)", 1): (58.1, True),
    ("conv3d fwd >= 50% of FP32 peak, 16 lanes (AVX-512)", 2): (None, None),
    ("conv3d fwd >= 1x PyTorch", 1): (1.0, True),
    ("conv3d fwd >= 1x PyTorch", 2): (0.8, False),
    ("--blas >= 0.9x default (worst: conv_fwd, 1 thr)", None): (0.5, False),
    ("under load: LeNet-5 train 2 thr >= 0.5x 1 thr", 2): (0.4, False),
    ("under load: LeNet-5 inference 2 thr >= 0.5x 1 thr", 2): (0.6, True),
}
failed = 0
for key, want in expect.items():
    got = targets.get(key, "missing")
    if got != want:
        print(f"FAIL target {key}: {got}, expected {want}")
        failed += 1
lat = [f for f in bench["figures"] if f["figure"] == "lenet_latency" and f["threads"] == 1]
if [(f["cnnc"], f["ort"]) for f in lat] != [(50.0, 100)]:
    print(f"FAIL LeNet-5 latency row: {lat}")
    failed += 1
print(f"bench replay: {len(expect) + 1 - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
