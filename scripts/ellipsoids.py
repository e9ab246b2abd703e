#!/usr/bin/python3
"""ellipsoids.py - a synthetic volumetric segmentation set for the V-Net demo.

Each volume (D x H x W, 32^3 by default) holds 1 to 3 ellipsoids with random
centres, radii and rotations.  The label is 1 inside any ellipsoid, 0
outside.  The image is what a scanner might give: tissue of intensity 0.3,
ellipsoids of 0.8 to 1.2, multiplied by a smooth bias field (a random
quadratic in the coordinates, exponentiated, roughly 0.6 to 1.6 across the
volume), plus Gaussian noise of standard deviation --noise.  So the
foreground is not a threshold of the intensity: the net has to see shape.

Written as the IDX files `cnnc --main`'s driver reads (README, "Data
sets"): images float32 (type 0x0D) n x D x H x W (one channel, so C is
omitted), labels unsigned bytes n x D x H x W, big-endian:

    DIR/train-images-idx4-ubyte  DIR/train-labels-idx4-ubyte
    DIR/t10k-images-idx4-ubyte   DIR/t10k-labels-idx4-ubyte

The same --seed gives the same bytes; train and test volumes are drawn from
separate streams of it, so --train does not change the test set.

    /usr/bin/python3 scripts/ellipsoids.py DIR [--train 96] [--test 16]
                     [--size 32] [--seed 1] [--noise 0.15]
"""
import argparse
import os
import struct
import sys

import numpy as np

IDX_UBYTE = 0x08
IDX_FLOAT32 = 0x0D


def rotation(rng):
    """A uniformly random 3-D rotation (QR of a Gaussian matrix, signs fixed)."""
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def grid(shape):
    """Voxel centres as 3 x D x H x W coordinates in [-1, 1]."""
    axes = [np.linspace(-1.0, 1.0, n) for n in shape]
    return np.stack(np.meshgrid(*axes, indexing="ij"))


def ellipsoid(rng, coords, shape):
    """The voxels inside one random ellipsoid (a boolean volume)."""
    size = np.array(shape, dtype=float)
    # Radii of 4 voxels up to a third of the side, in [-1, 1] units.
    radii = rng.uniform(4.0, size / 3.0) * 2.0 / size
    centre = rng.uniform(-0.55, 0.55, 3)
    rel = coords - centre[:, None, None, None]
    local = np.tensordot(rotation(rng).T, rel, axes=1)
    return ((local / radii[:, None, None, None]) ** 2).sum(axis=0) <= 1.0


def bias_field(rng, coords):
    """A smooth multiplicative field: exp of a random quadratic."""
    x, y, z = coords
    terms = [x, y, z, x * x, y * y, z * z, x * y, y * z, x * z]
    field = sum(rng.uniform(-0.15, 0.15) * t for t in terms)
    return np.exp(field)


def volume(rng, coords, shape, noise):
    """One (image, label) pair."""
    label = np.zeros(shape, dtype=bool)
    image = np.full(shape, 0.3)
    for _ in range(rng.integers(1, 4)):
        inside = ellipsoid(rng, coords, shape)
        image[inside] = rng.uniform(0.8, 1.2)
        label |= inside
    image = image * bias_field(rng, coords) + rng.normal(0.0, noise, shape)
    return image.astype(np.float32), label.astype(np.uint8)


def idx_header(type_code, dims):
    return struct.pack(">BBBB", 0, 0, type_code, len(dims)) + struct.pack(">%dI" % len(dims), *dims)


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def write_set(out, prefix, images, labels):
    dims = images.shape
    write_atomic(os.path.join(out, prefix + "-images-idx%d-ubyte" % len(dims)),
                 idx_header(IDX_FLOAT32, dims) + images.astype(">f4").tobytes())
    write_atomic(os.path.join(out, prefix + "-labels-idx%d-ubyte" % len(dims)),
                 idx_header(IDX_UBYTE, dims) + labels.astype(np.uint8).tobytes())


def make_set(rng, n, shape, noise):
    coords = grid(shape)
    pairs = [volume(rng, coords, shape, noise) for _ in range(n)]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def parse_size(text):
    parts = [int(p) for p in text.lower().split("x")]
    if len(parts) == 1:
        parts = parts * 3
    if len(parts) != 3 or min(parts) < 8:
        raise argparse.ArgumentTypeError("size must be N or DxHxW, each at least 8")
    return tuple(parts)


def main(argv):
    ap = argparse.ArgumentParser(description="Random ellipsoids in noise with a bias field, as IDX volumes.")
    ap.add_argument("dir", help="output directory (created if missing)")
    ap.add_argument("--train", type=int, default=96, help="training volumes (96)")
    ap.add_argument("--test", type=int, default=16, help="held-out volumes (16)")
    ap.add_argument("--size", type=parse_size, default=(32, 32, 32), help="N or DxHxW (32)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (1)")
    ap.add_argument("--noise", type=float, default=0.15, help="noise standard deviation (0.15)")
    a = ap.parse_args(argv)
    if a.train < 1 or a.test < 1:
        ap.error("--train and --test must be at least 1")
    if a.noise < 0:
        ap.error("--noise must not be negative")
    os.makedirs(a.dir, exist_ok=True)
    train_seq, test_seq = np.random.SeedSequence(a.seed).spawn(2)
    for prefix, seq, n in (("train", train_seq, a.train), ("t10k", test_seq, a.test)):
        images, labels = make_set(np.random.default_rng(seq), n, a.size, a.noise)
        write_set(a.dir, prefix, images, labels)
        print("%s: %d volumes %s, foreground %.1f%%" %
              (prefix, n, "x".join(map(str, a.size)), 100.0 * labels.mean()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
