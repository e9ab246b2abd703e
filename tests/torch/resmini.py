#!/usr/bin/python3
"""resmini.py - examples/resmini.net in PyTorch, trained on Fashion-MNIST
the way the generated driver trains it (`./resmini train`), as a reference
for the accuracy cnnc's training should reach.

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tests/torch/resmini.py \\
        --epochs 10 --batch 128 --lr 0.1 --momentum 0.9 \\
        --weight-decay 5e-4 --schedule cosine --seed 1

Same as the driver: images are the IDX bytes divided by 255 (no
normalisation, no augmentation); the training set is shuffled every
epoch and the last, partial batch is used; SGD with momentum and L2 weight
decay on every parameter (batchnorm's too), as torch.optim.SGD; the
learning rate is set per epoch (cosine: lr * (1 + cos(pi * e / E)) / 2 for
epoch e = 0 .. E-1, as CosineAnnealingLR(T_max=E) stepped per epoch); the
loss is the mean cross-entropy of the softmax; the test accuracy is taken
in inference mode (batchnorm on its running statistics) after every epoch.
The initialisation is cnnc's: kaiming_uniform (ReLU gain) for a conv whose
output goes through a ReLU (directly or after batchnorm), Glorot uniform
for the others and the fc, biases U(+-1/sqrt(fan_in)), batchnorm 1 and 0.
Prints one line per epoch: loss, test accuracy, seconds.  --save W writes
the state_dict (torch.save) whose keys are cnnc's layer names.
"""
import argparse
import gzip
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    """An IDX file (plain or gzip) as a numpy array of its shape."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError("%s: not an unsigned-byte IDX file" % path)
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(data, prefix):
    def find(name):
        for p in (os.path.join(data, name), os.path.join(data, name + ".gz")):
            if os.path.exists(p):
                return p
        raise FileNotFoundError(os.path.join(data, name))
    x = read_idx(find(prefix + "-images-idx3-ubyte"))
    y = read_idx(find(prefix + "-labels-idx1-ubyte"))
    x = torch.from_numpy(x.astype(np.float32) / np.float32(255.0)).unsqueeze(1)
    return x, torch.from_numpy(y.astype(np.int64))


class Basic(nn.Module):
    """torchvision's BasicBlock: conv-bn-relu, conv-bn, shortcut, relu; a
    1x1 projection (downsample.0/.1) when the stride or width changes."""

    def __init__(self, cin, c, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, c, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.downsample = None
        if stride != 1 or cin != c:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, c, 1, stride, bias=False), nn.BatchNorm2d(c))

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        sc = x if self.downsample is None else self.downsample(x)
        return torch.relu(out + sc)


class ResMini(nn.Module):
    """examples/resmini.net (the softmax is in the loss)."""

    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = nn.Sequential(Basic(16, 16))
        self.layer2 = nn.Sequential(Basic(16, 32, 2))
        self.layer3 = nn.Sequential(Basic(32, 64, 2))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def cnnc_init(model, gen):
    """cnnc's initialisation (compiler/emit/: He when a ReLU follows, else Glorot)."""
    def uniform(t, bound):
        with torch.no_grad():
            t.copy_((torch.rand(t.shape, generator=gen) * 2 - 1) * bound)

    he = {"conv1"}
    for name, m in model.named_modules():
        if isinstance(m, Basic):
            he.add(name + ".conv1")
    for name, m in model.named_modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            fan_in = m.weight[0].numel()
            fan_out = m.weight.shape[0] * m.weight[0, 0].numel()
            if name in he:
                uniform(m.weight, math.sqrt(6.0 / fan_in))
            else:
                uniform(m.weight, math.sqrt(6.0 / (fan_in + fan_out)))
            if m.bias is not None:
                uniform(m.bias, 1.0 / math.sqrt(fan_in))
        elif isinstance(m, nn.BatchNorm2d):
            m.reset_parameters()


def evaluate(model, x, y, batch=1000):
    model.eval()
    correct, loss = 0, 0.0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out = model(x[i:i + batch])
            loss += F.cross_entropy(out, y[i:i + batch], reduction="sum").item()
            correct += (out.argmax(1) == y[i:i + batch]).sum().item()
    return loss / len(x), 100.0 * correct / len(x)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--weight-decay", type=float, default=5e-4)
    ap.add_argument("--schedule", choices=("const", "cosine"), default="cosine")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--limit", type=int, default=0, help="first N training images")
    ap.add_argument("--save", help="torch.save the state_dict here at the end")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    xtr, ytr = load(args.data, "train")
    xte, yte = load(args.data, "t10k")
    if args.limit:
        xtr, ytr = xtr[:args.limit], ytr[:args.limit]
    model = ResMini()
    cnnc_init(model, torch.Generator().manual_seed(args.seed))
    nparams = sum(p.numel() for p in model.parameters())
    opt = torch.optim.SGD(model.parameters(), lr=args.lr,
                          momentum=args.momentum,
                          weight_decay=args.weight_decay)
    sched = None
    if args.schedule == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.epochs)
    print("resmini (torch %s): %d params, %d train / %d test images, sgd lr %g "
          "momentum %g weight-decay %g, %s, batch %d, %d epochs, seed %d"
          % (torch.__version__, nparams, len(xtr), len(xte), args.lr,
             args.momentum, args.weight_decay, args.schedule, args.batch,
             args.epochs, args.seed), flush=True)
    gen = torch.Generator().manual_seed(args.seed + 1)
    total = 0.0
    for epoch in range(1, args.epochs + 1):
        model.train()
        t0 = time.time()
        lr = opt.param_groups[0]["lr"]
        perm = torch.randperm(len(xtr), generator=gen)
        sum_loss = 0.0
        for i in range(0, len(xtr), args.batch):
            idx = perm[i:i + args.batch]
            loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sum_loss += loss.item() * len(idx)
        secs = time.time() - t0
        total += secs
        if sched:
            sched.step()
        test_loss, acc = evaluate(model, xte, yte)
        print("epoch %d/%d  lr %.5f  loss %.4f  test-loss %.4f  test-acc %.2f%%  "
              "time %.1f s" % (epoch, args.epochs, lr, sum_loss / len(xtr),
                               test_loss, acc, secs), flush=True)
    print("final test accuracy: %.2f%%  (training %.1f s)" % (acc, total))
    if args.save:
        torch.save(model.state_dict(), args.save)


if __name__ == "__main__":
    main()
