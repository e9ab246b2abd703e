#!/usr/bin/python3
"""counts.py - PyTorch reference counts for the networks in examples/.

Builds each example network in PyTorch (torchvision's models where they
exist, hand-written LeNet-5, ZFNet and U-Net otherwise, V-Net from
tests/torch/vnet.py) and prints, per network: trainable parameters,
non-trainable state (batchnorm running_mean and running_var), forward MACs
as torchinfo counts them (README, "The report"), the output shape as
[H, W, C] ([D, H, W, C] for a volume), and every module that holds
weights with its state_dict keys.  Volumes run on torch's meta device:
shapes without the arithmetic (V-Net at 64x128x128 is 502 GMACs).

    /usr/bin/python3 tests/torch/counts.py                 # print everything
    /usr/bin/python3 tests/torch/counts.py --cnnc build/cnnc
        # also run `cnnc --report=json examples/X.net` and compare totals,
        # output shape and per-layer names/params; exit 1 on a mismatch

Needs torch and torchvision (Debian: python3-torch, python3-torchvision).
The saved output is tests/torch/counts.txt.
"""
import argparse
import json
import os
import subprocess
import sys

import torch
import torch.nn as nn
import torchvision.models as tvm

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from vnet import VNet  # noqa: E402  (the paper's V-Net, next to this file)


class LeNet5(nn.Module):
    """LeNet-5 with ReLU and max-pooling, 28x28x1 input (examples/lenet.net)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.pool2 = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)
        self.softmax1 = nn.Softmax(dim=1)

    def forward(self, x):
        x = self.pool1(torch.relu(self.conv1(x)))
        x = self.pool2(torch.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.softmax1(self.fc3(x))


class ZFNet(nn.Module):
    """ZFNet (Zeiler & Fergus 2013, Fig. 3), 224x224x3 (examples/zfnet.net):
    AlexNet's layout with a 7x7 stride-2 first convolution (110x110, torch
    rounding down) and a stride-2 second one, each followed by 3x3 stride-2
    max pooling (ceil mode: 55x55, 13x13) and local response normalisation
    across 5 channels as in AlexNet (k = 2)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 96, 7, stride=2, padding=1)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.norm1 = nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)
        self.conv2 = nn.Conv2d(96, 256, 5, stride=2)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.norm2 = nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)
        self.conv3 = nn.Conv2d(256, 384, 3, padding=1)
        self.conv4 = nn.Conv2d(384, 384, 3, padding=1)
        self.conv5 = nn.Conv2d(384, 256, 3, padding=1)
        self.pool5 = nn.MaxPool2d(3, 2)
        self.fc6 = nn.Linear(256 * 6 * 6, 4096)
        self.drop6 = nn.Dropout(0.5)
        self.fc7 = nn.Linear(4096, 4096)
        self.drop7 = nn.Dropout(0.5)
        self.fc8 = nn.Linear(4096, 1000)
        self.softmax1 = nn.Softmax(dim=1)

    def forward(self, x):
        x = self.norm1(self.pool1(torch.relu(self.conv1(x))))
        x = self.norm2(self.pool2(torch.relu(self.conv2(x))))
        x = torch.relu(self.conv3(x))
        x = torch.relu(self.conv4(x))
        x = self.pool5(torch.relu(self.conv5(x)))
        x = self.drop6(torch.relu(self.fc6(torch.flatten(x, 1))))
        x = self.drop7(torch.relu(self.fc7(x)))
        return self.softmax1(self.fc8(x))


class DoubleConv(nn.Module):
    """Two valid 3x3 convolutions, each followed by ReLU."""

    def __init__(self, cin, c):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, c, 3)
        self.conv2 = nn.Conv2d(c, c, 3)

    def forward(self, x):
        return torch.relu(self.conv2(torch.relu(self.conv1(x))))


def centre_crop(x, h, w):
    top = (x.shape[2] - h) // 2
    left = (x.shape[3] - w) // 2
    return x[:, :, top:top + h, left:left + w]


class Up(nn.Module):
    """2x2 up-convolution halving the channels, crop-and-concat, two convs."""

    def __init__(self, cin, c):
        super().__init__()
        self.upconv = nn.ConvTranspose2d(cin, c, 2, stride=2)
        self.conv1 = nn.Conv2d(2 * c, c, 3)
        self.conv2 = nn.Conv2d(c, c, 3)

    def forward(self, x, skip):
        x = self.upconv(x)
        x = torch.cat([centre_crop(skip, x.shape[2], x.shape[3]), x], 1)
        return torch.relu(self.conv2(torch.relu(self.conv1(x))))


class UNet(nn.Module):
    """U-Net (Ronneberger, Fischer, Brox 2015), 572x572x1 in, 388x388x2 out."""

    def __init__(self, cin=1, classes=2):
        super().__init__()
        self.down1 = DoubleConv(cin, 64)
        self.pool1 = nn.MaxPool2d(2)
        self.down2 = DoubleConv(64, 128)
        self.pool2 = nn.MaxPool2d(2)
        self.down3 = DoubleConv(128, 256)
        self.pool3 = nn.MaxPool2d(2)
        self.down4 = DoubleConv(256, 512)
        self.pool4 = nn.MaxPool2d(2)
        self.bottom = DoubleConv(512, 1024)
        self.up1 = Up(1024, 512)
        self.up2 = Up(512, 256)
        self.up3 = Up(256, 128)
        self.up4 = Up(128, 64)
        self.classify = nn.Conv2d(64, classes, 1)

    def forward(self, x):
        d1 = self.down1(x)
        d2 = self.down2(self.pool1(d1))
        d3 = self.down3(self.pool2(d2))
        d4 = self.down4(self.pool3(d3))
        x = self.bottom(self.pool4(d4))
        x = self.up1(x, d4)
        x = self.up2(x, d3)
        x = self.up3(x, d2)
        x = self.up4(x, d1)
        return self.classify(x)


class SqueezeExcitation(nn.Module):
    """SENet's squeeze-and-excitation (Hu et al. 2018): global average pool,
    1x1 conv to C/r + ReLU, 1x1 conv to C + sigmoid (both with bias), and
    the input's channels scaled by the result (examples/se_resnet50.net)."""

    def __init__(self, c, reduction=16):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(c, c // reduction, 1)
        self.fc2 = nn.Conv2d(c // reduction, c, 1)

    def forward(self, x):
        s = torch.relu(self.fc1(self.avgpool(x)))
        return x * torch.sigmoid(self.fc2(s))


class SEBottleneck(tvm.resnet.Bottleneck):
    """torchvision's Bottleneck with `se` applied to the residual branch
    after bn3, before the shortcut is added."""

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.se(self.bn3(self.conv3(out)))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


def se_resnet50():
    """SE-ResNet-50: torchvision's resnet50 with an SE module, reduction 16,
    in every bottleneck (registered last, so after downsample in the
    state_dict)."""
    model = tvm.resnet50()
    for m in model.modules():
        if isinstance(m, tvm.resnet.Bottleneck):
            m.se = SqueezeExcitation(m.bn3.num_features, 16)
            m.__class__ = SEBottleneck
    return model


# example file, model constructor, input [H, W, C] or [D, H, W, C]
NETS = [
    ("lenet", LeNet5, (28, 28, 1)),
    ("alexnet", lambda: tvm.alexnet(), (224, 224, 3)),
    ("zfnet", ZFNet, (224, 224, 3)),
    ("vgg16", lambda: tvm.vgg16(), (224, 224, 3)),
    ("googlenet", lambda: tvm.googlenet(aux_logits=False, init_weights=False),
     (224, 224, 3)),
    ("inception_v3", lambda: tvm.inception_v3(aux_logits=False, init_weights=False),
     (299, 299, 3)),
    ("resnet18", lambda: tvm.resnet18(), (224, 224, 3)),
    ("resnet50", lambda: tvm.resnet50(), (224, 224, 3)),
    ("unet", UNet, (572, 572, 1)),
    ("se_resnet50", se_resnet50, (224, 224, 3)),
    ("vnet", VNet, (64, 128, 128, 1)),
    ("vnet_small", lambda: VNet(base=8), (32, 32, 32, 1)),
]

# Networks whose modules are registered in another order than they run
# (V-Net's ModuleLists hold all left stages, then all down steps, ...):
# their weights load by name, so only the names and counts must agree.
ANY_ORDER = {"vnet", "vnet_small"}

NON_TRAINABLE = ("running_mean", "running_var")


def hwc_of(t):
    """[H, W, C] of an NCHW tensor, [D, H, W, C] of an NCDHW one; [1, 1, F]
    of an NF one."""
    if t.dim() == 5:
        return [t.shape[2], t.shape[3], t.shape[4], t.shape[1]]
    if t.dim() == 4:
        return [t.shape[2], t.shape[3], t.shape[1]]
    return [1, 1, t[0].numel()]


def positions(shape):
    """Hout*Wout (Dout*Hout*Wout) of an NC... shape."""
    n = 1
    for s in shape[2:]:
        n *= s
    return n


def measure(model, hwc):
    """Returns (params, non_trainable, macs, output [H,W,C], per-module info)."""
    model.eval()
    macs = {}

    def hook(mod, inp, out):
        w = mod.weight.numel()
        if isinstance(mod, (nn.Conv2d, nn.Conv3d)):
            # Hout*Wout * F*KH*KW*C/groups (and Dout, KD)
            m = positions(out.shape) * w
        elif isinstance(mod, (nn.ConvTranspose2d, nn.ConvTranspose3d)):
            # Hin*Win * C*F*KH*KW/groups (and Din, KD)
            m = positions(inp[0].shape) * w
        else:  # Linear: IN*OUT
            m = w
        macs[mod] = macs.get(mod, 0) + m

    shapes = {}  # module -> output shapes, one per call

    def shape_hook(mod, inp, out):
        if isinstance(out, torch.Tensor):
            shapes.setdefault(mod, []).append(hwc_of(out))

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Conv3d,
                                 nn.ConvTranspose3d, nn.Linear))]
    handles += [m.register_forward_hook(shape_hook) for m in model.modules()]
    device = "meta" if len(hwc) == 4 else "cpu"
    model.to(device)
    with torch.no_grad():
        out = model(torch.zeros(1, hwc[-1], *hwc[:-1], device=device))
    for hd in handles:
        hd.remove()
    oshape = hwc_of(out)

    params = sum(p.numel() for p in model.parameters())
    nontrain = sum(b.numel() for n, b in model.named_buffers()
                   if n.rsplit(".", 1)[-1] in NON_TRAINABLE)
    modules = []
    for name, mod in model.named_modules():
        keys = [(k, list(v.shape)) for k, v in mod.state_dict().items()
                if "." not in k and k != "num_batches_tracked"]
        if not keys:
            continue
        p = sum(v.numel() for v in mod.parameters(recurse=False))
        nt = sum(v.numel() for k, v in mod.named_buffers(recurse=False)
                 if k in NON_TRAINABLE)
        modules.append({"name": name, "type": type(mod).__name__,
                        "keys": keys, "params": p, "non_trainable": nt,
                        "macs": macs.get(mod, 0)})
    # Output shapes of the modules called once, by name, to compare with
    # the cnnc layers of the same name.
    outs = {name: shapes[mod][0] for name, mod in model.named_modules()
            if name and len(shapes.get(mod, [])) == 1}
    return params, nontrain, sum(macs.values()), oshape, modules, outs


def cnnc_report(cnnc, net):
    path = os.path.join(TOP, "examples", net + ".net")
    r = subprocess.run([cnnc, "--report=json", path], capture_output=True,
                       text=True)
    if r.returncode != 0:
        return None, r.stderr.strip()
    return json.loads(r.stdout), None


def compare(net, ref, rep):
    """Lists the differences between torch (ref) and a cnnc JSON report."""
    params, nontrain, macs, oshape, modules, outs = ref
    diffs = []
    for key, want in (("params", params), ("non_trainable", nontrain),
                      ("macs", macs), ("output", oshape)):
        if rep.get(key) != want:
            diffs.append("%s: cnnc %s, torch %s" % (key, rep.get(key), want))
    # Every torch module with weights must be a cnnc layer of the same
    # name with the same count of parameters (and the other way round).
    layers = {l["name"]: l for l in rep.get("layers", [])}
    weighted = [l["name"] for l in rep.get("layers", [])
                if l.get("params", 0) or l.get("non_trainable", 0)]
    tnames = set()
    for m in modules:
        tnames.add(m["name"])
        l = layers.get(m["name"])
        if l is None:
            diffs.append("torch module %s (%s) has no cnnc layer"
                         % (m["name"], m["type"]))
            continue
        if l.get("params") != m["params"]:
            diffs.append("%s params: cnnc %s, torch %s"
                         % (m["name"], l.get("params"), m["params"]))
        if "non_trainable" in l and l["non_trainable"] != m["non_trainable"]:
            diffs.append("%s non_trainable: cnnc %s, torch %s"
                         % (m["name"], l["non_trainable"], m["non_trainable"]))
        if "macs" in l and l["macs"] != m["macs"]:
            diffs.append("%s macs: cnnc %s, torch %s"
                         % (m["name"], l["macs"], m["macs"]))
    for n in weighted:
        if n not in tnames:
            diffs.append("cnnc layer %s has weights but no torch module" % n)
    # The layers holding weights come in the state_dict's order.
    order = [m["name"] for m in modules]
    if net in ANY_ORDER:
        order = [n for n in weighted if n in tnames]
    if [n for n in weighted if n in tnames] != [n for n in order if n in layers]:
        diffs.append("layers with weights are not in the state_dict's order")
    # Every layer that has a torch module of its name has its output shape
    # (torch's flattened [N, F] outputs compare by element count).
    nshape = 0
    for name, l in layers.items():
        want = outs.get(name)
        if want is None:
            continue
        nshape += 1
        got = l.get("output")
        if want[:2] == [1, 1] and got and got[0] * got[1] * got[2] == want[2]:
            continue
        if got != want:
            diffs.append("%s output: cnnc %s, torch %s" % (name, got, want))
    print("cnnc: %d layers, %d with weights, %d output shapes compared"
          % (len(layers), len(weighted), nshape))
    return diffs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cnnc", help="compare with this cnnc's --report=json")
    ap.add_argument("--brief", action="store_true",
                    help="totals only, no state_dict keys")
    ap.add_argument("nets", nargs="*", help="only these examples")
    args = ap.parse_args()
    torch.manual_seed(0)
    bad = 0
    for net, make, hwc in NETS:
        if args.nets and net not in args.nets:
            continue
        ref = measure(make(), hwc)
        params, nontrain, macs, oshape, modules, _ = ref
        print("== %s (input %s)" % (net, "x".join(map(str, hwc))))
        print("params %d" % params)
        print("non_trainable %d" % nontrain)
        print("macs %d" % macs)
        print("output %s" % oshape)
        if not args.brief:
            print("state_dict (module: key[shape] ... params macs):")
            for m in modules:
                keys = " ".join("%s%s" % (k, s) for k, s in m["keys"])
                print("  %-28s %-17s %s  params %d  macs %d"
                      % (m["name"], m["type"], keys, m["params"], m["macs"]))
        if args.cnnc:
            rep, err = cnnc_report(args.cnnc, net)
            if rep is None:
                print("cnnc: FAILED\n" + err)
                bad += 1
            else:
                diffs = compare(net, ref, rep)
                print("cnnc: " + ("matches" if not diffs else "DIFFERS"))
                for d in diffs:
                    print("  " + d)
                bad += bool(diffs)
        print()
        sys.stdout.flush()
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
