#!/usr/bin/python3
"""vnet_demo.py - the PyTorch side of `make demo-vnet`: the recipe's oracle.

Trains tests/torch/vnet.py's VNet(base=8) (examples/vnet_small.net's net) on
the set scripts/ellipsoids.py writes, as the cnnc driver's `train` would:
the soft Dice loss of SPEC 7 (1 - 2*sum(p*g) / (sum(p^2) + sum(g^2)) per
volume, p the foreground probability, averaged over the batch), Adam with
PyTorch's defaults, the learning rate per epoch on the driver's cosine
schedule, a new shuffle every epoch, and the generated code's initialisation
(He uniform for a convolution a PReLU follows, Glorot otherwise, PReLU
0.25).  After every epoch it prints the training loss, the mean foreground
Dice of the held-out volumes (argmax, a tie to background; a volume with no
foreground and none found scores 1) and the seconds.

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tests/torch/vnet_demo.py DIR \
        [--epochs 8] [--batch 2] [--lr 0.0003] [--threads 2] [--seed 1]

The defaults are `make demo-vnet`'s recipe.  Adam at 0.001 or 0.002 stalls
near Dice 0.12 (everything foreground); 0.0001 learns, but slower.  Exit 0
when the last epoch's test Dice reaches --target (0.90), 1 otherwise.
"""
import argparse
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vnet import VNet  # noqa: E402


def read_idx(path):
    with open(path, "rb") as f:
        data = f.read()
    zero, zero2, kind, ndim = struct.unpack(">BBBB", data[:4])
    if zero or zero2 or kind not in (0x08, 0x0D):
        sys.exit("%s: not a ubyte or float32 IDX file" % path)
    dims = struct.unpack(">%dI" % ndim, data[4:4 + 4 * ndim])
    dtype = ">f4" if kind == 0x0D else np.uint8
    return np.frombuffer(data, dtype=dtype, offset=4 + 4 * ndim).reshape(dims).astype(np.float32)


def load_set(d, prefix):
    x = read_idx(os.path.join(d, prefix + "-images-idx4-ubyte"))
    y = read_idx(os.path.join(d, prefix + "-labels-idx4-ubyte"))
    return torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y)


def init_like_cnnc(model):
    """The generated code's initialiser: He when a PReLU follows, else Glorot."""
    for m in model.modules():
        if isinstance(m, nn.PReLU):
            nn.init.constant_(m.weight, 0.25)
    for stage in list(model.left) + list(model.right):
        for i, conv in enumerate(stage.convs):
            if i < len(stage.convs) - 1:
                nn.init.kaiming_uniform_(conv.weight, nonlinearity="relu")
            else:
                nn.init.xavier_uniform_(conv.weight)
    for seq in list(model.down) + list(model.up):
        nn.init.kaiming_uniform_(seq[0].weight, nonlinearity="relu")
    nn.init.xavier_uniform_(model.head.weight)


def dice_loss(prob, label):
    p = prob[:, 1].flatten(1)
    g = label.flatten(1)
    return (1 - 2 * (p * g).sum(1) / ((p * p).sum(1) + (g * g).sum(1))).mean()


def dice_scores(prob, label):
    pred = (prob[:, 1] > prob[:, 0]).flatten(1).float()
    g = label.flatten(1)
    both = pred.sum(1) + g.sum(1)
    inter = (pred * g).sum(1)
    return torch.where(both > 0, 2 * inter / both.clamp(min=1), torch.ones_like(both))


def evaluate(model, x, y, batch):
    model.eval()
    scores, losses = [], []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            prob = model(x[i:i + batch])
            scores.append(dice_scores(prob, y[i:i + batch]))
            losses.append(dice_loss(prob, y[i:i + batch]) * len(prob))
    model.train()
    return float(torch.cat(scores).mean()), float(sum(losses)) / len(x)


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--lr", type=float, default=0.0003)
    ap.add_argument("--schedule", choices=("const", "cosine"), default="cosine")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--base", type=int, default=8)
    ap.add_argument("--target", type=float, default=0.90)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    xtr, ytr = load_set(a.dir, "train")
    xte, yte = load_set(a.dir, "t10k")
    model = VNet(base=a.base)
    init_like_cnnc(model)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    print("%d train, %d test volumes %s; %d parameters; adam lr %g %s, batch %d"
          % (len(xtr), len(xte), "x".join(map(str, xtr.shape[2:])),
             sum(p.numel() for p in model.parameters()), a.lr, a.schedule, a.batch))
    print("epoch   loss    test-dice  seconds")
    start = time.time()
    dice = 0.0
    for epoch in range(a.epochs):
        lr = a.lr if a.schedule == "const" else a.lr * (1 + math.cos(math.pi * epoch / a.epochs)) / 2
        for group in opt.param_groups:
            group["lr"] = lr
        t0 = time.time()
        order = torch.randperm(len(xtr))
        total = 0.0
        for i in range(0, len(xtr), a.batch):
            idx = order[i:i + a.batch]
            loss = dice_loss(model(xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
        dice, _ = evaluate(model, xte, yte, a.batch)
        print("%5d  %.4f    %.4f    %6.1f" % (epoch + 1, total / len(xtr), dice, time.time() - t0), flush=True)
    print("final test dice %.4f after %.0f s" % (dice, time.time() - start))
    return 0 if dice >= a.target else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
