#!/usr/bin/python3
"""PyTorch's side of test_conv3d: each DIR/caseN.bin holds a geometry, the
inputs (x, w, b, dL/dy) and what runtime/conv3d.c computed from them (y,
dL/dx, dL/dW, dL/db); torch.nn.functional.conv3d and autograd compute the
same in float64, and every value must agree within float rounding.

Usage: OPENBLAS_NUM_THREADS=1 /usr/bin/python3 conv3d_ref.py DIR"""
import glob
import os
import struct
import sys

import torch
import torch.nn.functional as F


def read_case(path):
    with open(path, "rb") as f:
        data = f.read()
    (n, c, d, h, w, nf, kd, kh, kw, sd, sh, sw, pd, ph, pw, dd, dh, dw) = struct.unpack("<18i", data[:72])
    geom = dict(stride=(sd, sh, sw), padding=(pd, ph, pw), dilation=(dd, dh, dw))
    od = (d + 2 * pd - (kd - 1) * dd - 1) // sd + 1
    oh = (h + 2 * ph - (kh - 1) * dh - 1) // sh + 1
    ow = (w + 2 * pw - (kw - 1) * dw - 1) // sw + 1
    shapes = {"x": (n, c, d, h, w), "w": (nf, c, kd, kh, kw), "b": (nf,), "dy": (n, nf, od, oh, ow)}
    shapes.update(y=shapes["dy"], dx=shapes["x"], dw=shapes["w"], db=shapes["b"])
    floats = torch.frombuffer(bytearray(data[72:]), dtype=torch.float32)
    tensors, at = {}, 0
    for name in ("x", "w", "b", "dy", "y", "dx", "dw", "db"):
        count = 1
        for s in shapes[name]:
            count *= s
        tensors[name] = floats[at:at + count].reshape(shapes[name]).double()
        at += count
    if at != floats.numel():
        sys.exit(f"{path}: {floats.numel()} floats, expected {at}")
    return geom, tensors


def check(path):
    geom, t = read_case(path)
    x = t["x"].clone().requires_grad_()
    w = t["w"].clone().requires_grad_()
    b = t["b"].clone().requires_grad_()
    y = F.conv3d(x, w, b, **geom)
    y.backward(t["dy"])
    # magnitudes of each result's terms, for the tolerance
    scale = {"y": F.conv3d(t["x"].abs(), t["w"].abs(), t["b"].abs(), **geom),
             "dx": torch.autograd.grad(F.conv3d(x, t["w"].abs(), None, **geom), x, t["dy"].abs())[0],
             "dw": torch.autograd.grad(F.conv3d(t["x"].abs(), w, None, **geom), w, t["dy"].abs())[0],
             "db": t["dy"].abs().sum(dim=(0, 2, 3, 4))}
    bad = 0
    for name, want in (("y", y), ("dx", x.grad), ("dw", w.grad), ("db", b.grad)):
        err = (t[name] - want.detach()).abs() - (1e-5 * scale[name] + 1e-5)
        if err.max() > 0:
            i = int(err.flatten().argmax())
            print(f"{os.path.basename(path)}: {name}[{i}] = {t[name].flatten()[i]:.7g}, "
                  f"PyTorch {want.detach().flatten()[i]:.7g}")
            bad += 1
    return bad


def main():
    torch.set_num_threads(1)
    paths = sorted(glob.glob(os.path.join(sys.argv[1], "case*.bin")))
    if not paths:
        sys.exit("conv3d_ref.py: no case*.bin in " + sys.argv[1])
    bad = sum(check(p) for p in paths)
    if bad:
        sys.exit(f"conv3d_ref.py: {bad} result(s) differ from PyTorch")
    print(f"conv3d_ref.py: {len(paths)} cases match PyTorch's conv3d (y, dL/dx, dL/dW, dL/db)")


if __name__ == "__main__":
    main()
