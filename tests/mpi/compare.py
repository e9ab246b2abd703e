"""compare.py A B [TOL]: the tensors of two safetensors files (F32) are the
same names and shapes, and agree to TOL (1e-5 by default) relative to the
largest magnitude of each tensor; prints the worst difference.  Exit 1 if
not."""
import json
import struct
import sys

import numpy as np


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + size])
    header.pop("__metadata__", None)
    body = data[8 + size:]
    out = {}
    for name, t in header.items():
        lo, hi = t["data_offsets"]
        out[name] = np.frombuffer(body[lo:hi], dtype="<f4").reshape(t["shape"])
    return out


def main():
    a, b = read(sys.argv[1]), read(sys.argv[2])
    tol = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-5
    if a.keys() != b.keys():
        print("compare: different tensors:", sorted(a.keys() ^ b.keys()))
        return 1
    worst, where = 0.0, ""
    for name in a:
        if a[name].shape != b[name].shape:
            print("compare: %s: shapes %s and %s" % (name, a[name].shape, b[name].shape))
            return 1
        scale = max(float(np.abs(a[name]).max()), 1e-30)
        diff = float(np.abs(a[name].astype(np.float64) - b[name]).max()) / scale
        if not diff <= worst:
            worst, where = diff, name
    print("compare: largest relative difference %.3g (%s)" % (worst, where))
    return 0 if worst <= tol else 1


sys.exit(main())
