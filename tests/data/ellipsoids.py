#!/usr/bin/python3
"""ellipsoids.py - checks scripts/ellipsoids.py, the V-Net demo's data.

Reads the IDX files back byte by byte (not with the generator's code): the
magic (two zero bytes, the type, 4 dimensions), the big-endian sizes, the
file lengths, labels 0 or 1, finite images, a foreground fraction a demo can
learn from, in every volume, ellipsoids brighter than their
surroundings where the labels put them, and test volumes that are not
training volumes.  Then that a seed gives the same bytes, another seed
others, and that --train does not change the test set.

    /usr/bin/python3 tests/data/ellipsoids.py      # exit 1 on a failure
"""
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GEN = os.path.join(TOP, "scripts", "ellipsoids.py")
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL: " + what)


def generate(out, *args):
    r = subprocess.run([sys.executable, GEN, out] + list(args), capture_output=True, text=True)
    check(r.returncode == 0, "generator exit %d: %s" % (r.returncode, r.stderr.strip()))


def read(path, want_type, want_dims):
    with open(path, "rb") as f:
        data = f.read()
    check(data[:4] == bytes([0, 0, want_type, 4]), "%s: magic %s" % (path, data[:4].hex()))
    dims = struct.unpack(">4I", data[4:20])
    check(dims == want_dims, "%s: dims %s, want %s" % (path, dims, want_dims))
    size = 4 if want_type == 0x0D else 1
    check(len(data) == 20 + size * int(np.prod(want_dims)), "%s: %d bytes" % (path, len(data)))
    dtype = ">f4" if want_type == 0x0D else np.uint8
    return np.frombuffer(data, dtype=dtype, offset=20).reshape(dims)


def check_set(d, prefix, n, shape):
    dims = (n,) + shape
    x = read(os.path.join(d, prefix + "-images-idx4-ubyte"), 0x0D, dims)
    y = read(os.path.join(d, prefix + "-labels-idx4-ubyte"), 0x08, dims)
    check(np.isfinite(x).all(), prefix + ": images not finite")
    check(set(np.unique(y)) <= {0, 1}, prefix + ": labels other than 0 and 1")
    frac = y.mean()
    check(0.03 <= frac <= 0.25, "%s: foreground fraction %.3f outside [0.03, 0.25]" % (prefix, frac))
    per_volume = y.reshape(n, -1).mean(1)
    check(per_volume.min() > 0.002, "%s: a volume with almost no foreground (%.4f)" % (prefix, per_volume.min()))
    inside, outside = x[y == 1].mean(), x[y == 0].mean()
    check(inside > outside + 0.4, "%s: foreground %.2f not brighter than background %.2f" % (prefix, inside, outside))
    return x


def files(d):
    return {name: open(os.path.join(d, name), "rb").read() for name in sorted(os.listdir(d))}


def main():
    with tempfile.TemporaryDirectory() as tmp:
        a, b, c, e = (os.path.join(tmp, s) for s in "abce")
        generate(a, "--train", "12", "--test", "5", "--size", "24x20x16", "--seed", "7")
        train = check_set(a, "train", 12, (24, 20, 16))
        test = check_set(a, "t10k", 5, (24, 20, 16))
        check(not any((t == u).all() for t in test for u in train), "a test volume is also a training volume")
        generate(b, "--train", "12", "--test", "5", "--size", "24x20x16", "--seed", "7")
        check(files(a) == files(b), "the same seed gave different files")
        generate(c, "--train", "12", "--test", "5", "--size", "24x20x16", "--seed", "8")
        check(files(a)["t10k-images-idx4-ubyte"] != files(c)["t10k-images-idx4-ubyte"],
              "seeds 7 and 8 gave the same test images")
        generate(e, "--train", "3", "--test", "5", "--size", "24x20x16", "--seed", "7")
        check(files(a)["t10k-labels-idx4-ubyte"] == files(e)["t10k-labels-idx4-ubyte"],
              "--train changed the test set")
        r = subprocess.run([sys.executable, GEN, e, "--size", "4"], capture_output=True, text=True)
        check(r.returncode == 2 and "size" in r.stderr, "--size 4 accepted (exit %d)" % r.returncode)
    print("ellipsoids: %s" % ("ok" if not failures else "%d failures" % len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
