#!/usr/bin/python3
"""unet_check.py - the U-Net of examples/unet.net, full size, against PyTorch.

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tests/torch/unet_check.py [--dir DIR]

(DIR keeps the files; by default a temporary directory, removed at the end.
CNNC in the environment names the compiler, default build/cnnc.)

1. `cnnc examples/unet.net -p net --no-train`, compiled with tests/torch/harness.c
   (-O3 -march=native -fopenmp), runs the forward pass on one random
   572x572x1 image with random (He-initialised) weights;
2. the same forward in float32 by tests/torch/torchnet.py (the model built
   from cnnc's JSON report);
3. an independent, hand-written PyTorch U-Net (double valid 3x3 conv + ReLU,
   max pool 2, ConvTranspose2d 2x2 stride 2, centre crop + cat, final 1x1
   conv): its parameter count must be 31,030,658 and, with the same weights
   copied in parameter order (shapes checked), its output must agree.

The output must be 388x388x2; agreement is |c - ref| <= 1e-4 + 1e-3*|ref| or
max|c - ref| <= 1e-4 * rms(ref).  Prints timings; exit status 1 on a mismatch.
"""
import argparse
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import torchnet  # noqa: E402

CNNC = os.path.abspath(os.environ.get("CNNC", os.path.join(TOP, "build", "cnnc")))
NETFILE = os.path.join(TOP, "examples", "unet.net")
EXPECTED_PARAMS = 31030658


class DoubleConv(nn.Module):
    def __init__(self, cin, c):
        super().__init__()
        self.a = nn.Conv2d(cin, c, 3)
        self.b = nn.Conv2d(c, c, 3)

    def forward(self, x):
        return F.relu(self.b(F.relu(self.a(x))))


def center_crop(x, h, w):
    top, left = (x.shape[2] - h) // 2, (x.shape[3] - w) // 2
    return x[:, :, top:top + h, left:left + w]


class Up(nn.Module):
    def __init__(self, cin, c):
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, c, 2, stride=2)
        self.conv = DoubleConv(2 * c, c)

    def forward(self, x, skip):
        x = self.up(x)
        return self.conv(torch.cat([center_crop(skip, x.shape[2], x.shape[3]), x], dim=1))


class UNet(nn.Module):
    """Ronneberger et al. 2015, written the usual way (module names unlike cnnc's)."""

    def __init__(self, cin=1, classes=2):
        super().__init__()
        chans = [64, 128, 256, 512, 1024]
        self.downs = nn.ModuleList()
        c_prev = cin
        for c in chans:
            self.downs.append(DoubleConv(c_prev, c))
            c_prev = c
        self.ups = nn.ModuleList(Up(c, c // 2) for c in reversed(chans[1:]))
        self.head = nn.Conv2d(chans[0], classes, 1)

    def forward(self, x):
        skips = []
        for i, d in enumerate(self.downs):
            x = d(x)
            if i < len(self.downs) - 1:
                skips.append(x)
                x = F.max_pool2d(x, 2)
        for u, s in zip(self.ups, reversed(skips)):
            x = u(x, s)
        return self.head(x)


def run(cmd, **kw):
    t = time.time()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, **kw)
    if p.returncode != 0:
        sys.exit("FAILED (exit %d): %s\n%s%s" % (p.returncode, " ".join(cmd), p.stdout[-2000:], p.stderr[-3000:]))
    return p, time.time() - t


def compare(label, got, ref):
    got, ref = got.double(), ref.double()
    err = (got - ref).abs()
    rms = float(ref.pow(2).mean().sqrt())
    bound = 1e-4 + 1e-3 * ref.abs()
    bad = int((err > bound).sum())
    mx = float(err.max())
    ok = bad == 0 or mx <= 1e-4 * rms
    i = int(err.argmax())
    print("%-34s max|err| %.3e (at flat %d: got %.6g ref %.6g)  rms(ref) %.4g  max|err|/rms %.2e  "
          "elements over 1e-4+1e-3|ref|: %d  -> %s"
          % (label, mx, i, float(got.flatten()[i]), float(ref.flatten()[i]), rms, mx / max(rms, 1e-30),
             bad, "ok" if ok else "MISMATCH"))
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cc", default="gcc")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    d = args.dir or tempfile.mkdtemp(prefix="cnnc-unet.")
    if not args.dir:
        atexit.register(shutil.rmtree, d, ignore_errors=True)
    os.makedirs(d, exist_ok=True)
    ok = True

    # -- the report and the model built from it
    report = json.loads(run([CNNC, "--report=json", NETFILE])[0].stdout)
    H, W, C = report["input"]
    oh, ow, oc = report["output"]
    print("report: input %dx%dx%d, output %dx%dx%d, params %d, planned bytes %s"
          % (H, W, C, oh, ow, oc, report["params"], report["planned_bytes"]))
    if (oh, ow, oc) != (388, 388, 2):
        print("MISMATCH: report output %dx%dx%d, expected 388x388x2" % (oh, ow, oc))
        ok = False
    net = torchnet.TorchNet(report)
    gen = torch.Generator().manual_seed(args.seed)
    with torch.no_grad():
        for name, t in net.tensors().items():
            if name.endswith(".weight"):
                # He init; a 2x2 stride-2 deconv weight is Cin x Cout x 2 x 2 and
                # each output sees Cin inputs
                fan_in = t.shape[0] if name.endswith("upconv.weight") else t[0].numel()
                t.copy_(torch.randn(t.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
            else:
                t.copy_(torch.randn(t.shape, generator=gen) * 0.05)
    tensors = {k: v.detach().clone() for k, v in net.tensors().items()}
    wpath = os.path.join(d, "w.safetensors")
    torchnet.save_safetensors(wpath, tensors)
    x = torch.randn((1, C, H, W), generator=gen)
    x.numpy().astype("<f4").tofile(os.path.join(d, "x.bin"))
    np.zeros(oh * ow * oc, dtype="<f4").tofile(os.path.join(d, "dy.bin"))

    # -- generated C
    _, t = run([CNNC, NETFILE, "-p", "net", "--no-train", "-o", os.path.join(d, "net.c")])
    print("cnnc --no-train: %.2f s" % t)
    exe = os.path.join(d, "harness_fwd")
    _, t = run([args.cc, "-std=c99", "-O3", "-march=native", "-fopenmp", "-DFORWARD_ONLY",
                "-I", os.path.join(TOP, "runtime"), "-I", d, os.path.join(HERE, "harness.c"),
                os.path.join(d, "net.c"), os.path.join(TOP, "build", "libcnnrt.a"), "-lz", "-lm", "-o", exe])
    print("%s -O3 -march=native -fopenmp: %.2f s" % (args.cc, t))
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), OPENBLAS_NUM_THREADS="1")
    out = os.path.join(d, "out")
    os.makedirs(out, exist_ok=True)
    p, t = run(["/usr/bin/time", "-v", exe, "fb", wpath, os.path.join(d, "x.bin"), os.path.join(d, "dy.bin"),
                "1", "1", out], env=env)
    rss = [l for l in p.stderr.splitlines() if "Maximum resident" in l]
    print("generated C forward (load + forward, %d OpenMP threads): %.2f s; %s"
          % (args.threads, t, rss[0].strip() if rss else ""))
    y_c = torch.from_numpy(np.fromfile(os.path.join(out, "y.bin"), dtype="<f4"))
    if y_c.numel() != oh * ow * oc:
        print("MISMATCH: y.bin has %d floats, expected 388*388*2 = %d" % (y_c.numel(), 388 * 388 * 2))
        return 1
    y_c = y_c.reshape(1, oc, oh, ow)
    print("generated C output shape (N,C,H,W): %s" % (tuple(y_c.shape),))

    # -- torchnet (float32)
    net.eval()
    t0 = time.time()
    with torch.no_grad():
        y_ref = net(x)
    print("torchnet float32 forward: %.2f s, output %s" % (time.time() - t0, tuple(y_ref.shape)))
    if tuple(y_ref.shape) != (1, 2, 388, 388):
        print("MISMATCH: torchnet output shape")
        ok = False
    ok &= compare("generated C vs torchnet", y_c, y_ref)

    # -- independent U-Net
    std = UNet()
    n = sum(p.numel() for p in std.parameters())
    print("hand-written U-Net parameters: %s (expected %s) -> %s"
          % (format(n, ","), format(EXPECTED_PARAMS, ","), "ok" if n == EXPECTED_PARAMS else "MISMATCH"))
    ok &= n == EXPECTED_PARAMS and n == report["params"]
    # copy by order: the hand-written model registers its parameters in the
    # order of the network (downs, ups, head); cnnc's tensors are in report order
    src = list(tensors.items())
    dst = list(std.named_parameters())
    if len(src) != len(dst):
        print("MISMATCH: %d cnnc tensors, %d torch parameters" % (len(src), len(dst)))
        return 1
    with torch.no_grad():
        for (sn, sv), (dn, dv) in zip(src, dst):
            if tuple(sv.shape) != tuple(dv.shape):
                print("MISMATCH: %s %s vs %s %s" % (sn, tuple(sv.shape), dn, tuple(dv.shape)))
                return 1
            dv.copy_(sv)
    print("weights copied in order, shapes equal; e.g. %s -> %s, %s -> %s"
          % (src[0][0], dst[0][0], src[-3][0], dst[-3][0]))
    std.eval()
    t0 = time.time()
    with torch.no_grad():
        y_std = std(x)
    print("hand-written U-Net float32 forward: %.2f s, output %s" % (time.time() - t0, tuple(y_std.shape)))
    ok &= tuple(y_std.shape) == (1, 2, 388, 388)
    ok &= compare("hand-written U-Net vs torchnet", y_std, y_ref)
    ok &= compare("generated C vs hand-written U-Net", y_c, y_std)
    print("RESULT: %s" % ("ok" if ok else "MISMATCH"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
