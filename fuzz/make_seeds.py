#!/usr/bin/env python3
"""make_seeds.py DIR - seed files for the loader fuzz targets (make fuzz).

Writes DIR/safetensors/ (files for fuzz_safetensors.c's table: a complete
model, PyTorch's batchnorm counter, metadata, other dtypes, an empty
header) and DIR/idx/ (images and labels, plain and gzip'ed; bytes, float32
inputs and int32 labels).  The files
are built here rather than kept as bytes so that they follow the formats
as the readers document them."""
import gzip
import json
import os
import struct
import sys

TABLE = [("conv1.weight", [2, 1, 3, 3]), ("conv1.bias", [2]), ("bn1.weight", [2]),
         ("bn1.bias", [2]), ("bn1.running_mean", [2]), ("bn1.running_var", [2]),
         ("fc1.weight", [3, 8]), ("fc1.bias", [3])]


def count(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def safetensors(entries, metadata=None):
    """entries: (name, dtype, shape, bytes)."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in entries:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def f32(shape, start=0.0):
    n = count(shape)
    return struct.pack("<%df" % n, *[start + i / 8 for i in range(n)])


def model_entries():
    return [(name, "F32", shape, f32(shape, i)) for i, (name, shape) in enumerate(TABLE)]


def idx(magic, dims, payload):
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + payload


def main():
    out = sys.argv[1]
    st, ix = os.path.join(out, "safetensors"), os.path.join(out, "idx")
    os.makedirs(st, exist_ok=True)
    os.makedirs(ix, exist_ok=True)
    files = {
        "model": safetensors(model_entries(), {"format": "pt"}),
        "model-counter": safetensors(model_entries() + [("bn1.num_batches_tracked", "I64", [], struct.pack("<q", 7))]),
        "extra": safetensors(model_entries() + [("extra.weight", "F32", [1], f32([1]))]),
        "dtypes": safetensors([("a", "F16", [2], bytes(4)), ("b", "BF16", [1, 2], bytes(4)),
                               ("c", "I32", [2], bytes(8)), ("d", "U8", [0], b""), ("e", "F64", [], bytes(8))]),
        "scalar": safetensors([("x", "F32", [], f32([]))], {"k": "v", "other": "\u00e9\\\""}),
        "empty": safetensors([]),
    }
    for name, raw in files.items():
        open(os.path.join(st, name + ".safetensors"), "wb").write(raw)
    images = idx(0x803, [3, 4, 5], bytes(range(60)))
    labels = idx(0x801, [3], bytes([1, 9, 0]))
    floats = idx(0xD04, [2, 3, 2, 2], struct.pack(">24f", *[i / 8 - 1 for i in range(24)]))   # n x C x H x W
    dense = idx(0xC03, [2, 2, 3], struct.pack(">12i", *[i % 3 - 1 for i in range(12)]))      # one per pixel
    for name, raw in {"images": images, "labels": labels, "floats": floats, "dense-int32": dense}.items():
        open(os.path.join(ix, name + ".idx"), "wb").write(raw)
        open(os.path.join(ix, name + ".idx.gz"), "wb").write(gzip.compress(raw, 9))
    two = gzip.compress(labels[:6], 9) + gzip.compress(labels[6:], 9)   # two gzip members
    open(os.path.join(ix, "labels-members.gz"), "wb").write(two)


if __name__ == "__main__":
    main()
