#!/usr/bin/python3
"""PyTorch's side of test_vol3d: each DIR/caseN.bin holds a case (a 3-D
max or average pool, a transposed convolution or a nearest upsampling),
its inputs (x, w, b, dL/dy) and what runtime/vol3d.c computed from them
(y, dL/dx, dL/dW, dL/db); torch.nn.functional and autograd compute the
same in float64, and every value must agree within float rounding.
Pools padded unevenly (not PyTorch's) are left to test_vol3d's own sums.

Usage: OPENBLAS_NUM_THREADS=1 /usr/bin/python3 vol3d_ref.py DIR"""
import glob
import os
import struct
import sys

import torch
import torch.nn.functional as F

MAX, AVG, AVGPAD, DECONV, UPSAMPLE = range(5)
HEAD = 23


def product(shape):
    count = 1
    for s in shape:
        count *= s
    return count


def layer(case):
    """The case's function of (x, w, b) and its output shape."""
    kind, n, c, d, h, w, f = case[:7]
    k, s, p, dil, ceil = case[7:10], case[10:13], case[13:16], case[16:19], bool(case[19])
    if kind == DECONV:
        def run(x, wt, b):
            return F.conv_transpose3d(x, wt, b, stride=s, padding=p, dilation=dil)
        out = [(i - 1) * st - 2 * pa + (kk - 1) * di + 1 for i, kk, st, pa, di in zip((d, h, w), k, s, p, dil)]
        return run, (n, f, *out), (c, f, *k), (f,)
    if kind == UPSAMPLE:
        def run(x, wt, b):
            return F.interpolate(x, scale_factor=tuple(float(v) for v in k), mode="nearest")
        return run, (n, c, d * k[0], h * k[1], w * k[2]), (0,), (0,)

    def run(x, wt, b):
        if kind == MAX:
            return F.max_pool3d(x, k, s, p, ceil_mode=ceil)
        return F.avg_pool3d(x, k, s, p, ceil_mode=ceil, count_include_pad=kind == AVGPAD)
    probe = run(torch.zeros(1, 1, d, h, w, dtype=torch.float64), None, None)
    return run, (n, c, *probe.shape[2:]), (0,), (0,)


def check(path):
    with open(path, "rb") as fp:
        data = fp.read()
    case = struct.unpack(f"<{HEAD}i", data[:4 * HEAD])
    if any(case[20:23]):
        return 0, 0
    run, yshape, wshape, bshape = layer(case)
    xshape = tuple(case[1:3]) + tuple(case[3:6])
    shapes = [xshape, wshape, bshape, yshape, yshape, xshape, wshape, bshape]
    floats = torch.frombuffer(bytearray(data[4 * HEAD:]), dtype=torch.float32).double()
    t, at = [], 0
    for shape in shapes:
        count = product(shape)
        t.append(floats[at:at + count].reshape(shape) if count else None)
        at += count
    if at != floats.numel():
        sys.exit(f"{path}: {floats.numel()} floats, expected {at}")
    x0, w0, b0, dy, y_c, dx_c, dw_c, db_c = t
    x = x0.clone().requires_grad_()
    w = w0.clone().requires_grad_() if w0 is not None else None
    b = b0.clone().requires_grad_() if b0 is not None else None
    y = run(x, w, b)
    y.backward(dy)
    # magnitudes of each result's terms, for the tolerance
    wa = w0.abs() if w0 is not None else None
    with torch.no_grad():
        ys = run(x0.abs(), wa, b0.abs() if b0 is not None else None)
    xg = x0.clone().requires_grad_()
    dxs = torch.autograd.grad(run(xg, wa, None), xg, dy.abs())[0]
    results = [("y", y_c, y.detach(), ys), ("dx", dx_c, x.grad, dxs)]
    if w is not None:
        wg = w0.clone().requires_grad_()
        dws = torch.autograd.grad(run(x0.abs(), wg, None), wg, dy.abs())[0]
        dbs = dy.abs().sum(dim=(0, 2, 3, 4))
        results += [("dw", dw_c, w.grad, dws), ("db", db_c, b.grad, dbs)]
    bad = 0
    for name, got, want, scale in results:
        err = (got - want).abs() - (1e-5 * scale + 1e-5)
        if err.max() > 0:
            i = int(err.flatten().argmax())
            print(f"{os.path.basename(path)}: {name}[{i}] = {got.flatten()[i]:.7g}, "
                  f"PyTorch {want.flatten()[i]:.7g}")
            bad += 1
    return 1, bad


def main():
    torch.set_num_threads(1)
    paths = sorted(glob.glob(os.path.join(sys.argv[1], "case*.bin")))
    if not paths:
        sys.exit("vol3d_ref.py: no case*.bin in " + sys.argv[1])
    checked = bad = 0
    for path in paths:
        c, b = check(path)
        checked, bad = checked + c, bad + b
    if bad:
        sys.exit(f"vol3d_ref.py: {bad} result(s) differ from PyTorch")
    print(f"vol3d_ref.py: {checked} of {len(paths)} cases match PyTorch's max_pool3d, avg_pool3d, "
          "conv_transpose3d and interpolate (the rest pad unevenly)")


if __name__ == "__main__":
    main()
