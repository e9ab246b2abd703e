#!/usr/bin/python3
"""A torchvision state_dict moves into cnnc's generated code as it is.

For ResNet-18, GoogLeNet and Inception-v3 (examples/*.net name their
layers like torchvision; Inception-v3's average pools count padding,
`countpad`), builds the torchvision model with random weights and random
batchnorm statistics, writes its state_dict to safetensors exactly as
safetensors.torch.save_file would (num_batches_tracked stays I64), generates
the network with cnnc at a reduced input size, loads the file with the
driver (`./net forward --load W`) and compares the outputs with torchvision's
(eval mode).  Exit status 1 on a mismatch.

Usage: /usr/bin/python3 tests/torch/torchvision_load.py [CNNC]"""
import json
import os
import re
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torchvision

CNNC = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/cnnc")
TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def save_state_dict(path, sd):
    header, blobs, offset = {}, [], 0
    for name, t in sd.items():
        t = t.detach().contiguous()
        dtype = {torch.float32: "F32", torch.int64: "I64"}[t.dtype]
        data = t.numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def randomise_bn(model):
    g = torch.Generator().manual_seed(3)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)


def calibrate_bn(model, x):
    """Running statistics = those of the batch x, so that the activations
    keep their scale through Inception-v3's 94 batchnorms (with random ones
    they grow to 1e11, where the tolerance, relative to the largest output,
    would hide a wrong layer)."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None        # a cumulative average: one batch gives its statistics
    model.train()
    with torch.no_grad():
        model(x)
    model.eval()


def check(name, model, size, tmp, calibrate=False):
    model.eval()
    randomise_bn(model)
    x = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(5))
    if calibrate:
        calibrate_bn(model, x)
    net = os.path.join(tmp, name + ".net")
    with open(os.path.join(TOP, "examples", name + ".net")) as f:
        text = re.sub(r"^input .*$", "input %dx%dx3" % (size, size), f.read(), count=1, flags=re.M)
    with open(net, "w") as f:
        f.write(text)
    exe = os.path.join(tmp, name)
    subprocess.run([CNNC, "--main", "--no-train", net, "-o", exe + ".c"], check=True)
    subprocess.run(["cc", "-O2", "-march=native", "-fopenmp", "-std=c99", "-I" + os.path.join(TOP, "runtime"),
                    exe + ".c", os.path.join(TOP, "build", "libcnnrt.a"), "-lz", "-lm", "-o", exe], check=True)
    weights = os.path.join(tmp, name + ".safetensors")
    save_state_dict(weights, model.state_dict())
    x.numpy().astype("<f4").tofile(exe + ".x.bin")
    subprocess.run([exe, "forward", "--load", weights, "--input", exe + ".x.bin", "--output", exe + ".y.bin"],
                   check=True)
    ours = np.fromfile(exe + ".y.bin", "<f4").reshape(2, -1)
    with torch.no_grad():
        ref = model(x).numpy()
    err = np.abs(ours - ref).max()
    tol = 1e-4 + 1e-3 * np.abs(ref).max()
    ok = ours.shape == ref.shape and err <= tol
    print("%s %s at %dx%d: %d tensors loaded, max |ours - torchvision| %.2e (tolerance %.2e)" % (
        "PASS" if ok else "FAIL", name, size, size, len(model.state_dict()), err, tol))
    return ok


def main():
    torch.manual_seed(1)
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        results = [
            check("resnet18", torchvision.models.resnet18(), 64, tmp),
            check("googlenet", torchvision.models.googlenet(aux_logits=False, init_weights=True,
                                                            transform_input=False), 96, tmp),
            # 107x107: 2x2 at Mixed_7c (torchvision needs at least 75x75)
            check("inception_v3", torchvision.models.inception_v3(aux_logits=False, init_weights=True,
                                                                  transform_input=False), 107, tmp, True),
        ]
    print("torchvision: %d passed, %d failed" % (sum(results), len(results) - sum(results)))
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
