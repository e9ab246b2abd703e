#!/usr/bin/python3
"""LeNet-5 (examples/lenet.net) trained in PyTorch with the driver's default
hyper-parameters, for the side-by-side comparison with `./lenet train`:
SGD lr 0.05 momentum 0.9, cosine schedule over the epochs (per epoch), batch 64, 5 epochs, shuffled each epoch, He
uniform init where a ReLU follows and Glorot otherwise (as cnnc's _init),
Fashion-MNIST from Debian's dataset-fashion-mnist.

Usage: OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tests/torch/lenet_train.py
       [--epochs N] [--batch B] [--lr F] [--momentum F] [--threads T] [--seed S]
"""
import argparse
import gzip
import os
import struct
import time

import numpy as np
import torch
from torch import nn

DATA = "/usr/share/datasets/fashion-mnist"


def idx(name):
    path = os.path.join(DATA, name)
    opener = gzip.open if not os.path.exists(path) else open
    with opener(path if os.path.exists(path) else path + ".gz", "rb") as f:
        data = f.read()
    magic, n = struct.unpack(">II", data[:8])
    if magic == 0x803:
        h, w = struct.unpack(">II", data[8:16])
        return np.frombuffer(data, np.uint8, offset=16).reshape(n, 1, h, w).astype(np.float32) / 255.0
    return np.frombuffer(data, np.uint8, offset=8).astype(np.int64)


def lenet():
    net = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    weighted = [m for m in net if isinstance(m, (nn.Conv2d, nn.Linear))]
    for i, m in enumerate(weighted):
        if i < len(weighted) - 1:
            nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")
        else:
            nn.init.xavier_uniform_(m.weight)
    return net


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    xtr, ytr = torch.from_numpy(idx("train-images-idx3-ubyte")), torch.from_numpy(idx("train-labels-idx1-ubyte"))
    xte, yte = torch.from_numpy(idx("t10k-images-idx3-ubyte")), torch.from_numpy(idx("t10k-labels-idx1-ubyte"))
    net = lenet()
    opt = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=args.momentum)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    loss_fn = nn.CrossEntropyLoss()
    total = 0.0
    print(f"torch {torch.__version__}, {args.threads} threads, batch {args.batch}, lr {args.lr}, "
          f"momentum {args.momentum}, cosine")
    for epoch in range(args.epochs):
        net.train()
        start = time.perf_counter()
        perm = torch.randperm(len(xtr))
        running, count = 0.0, 0
        for i in range(0, len(xtr), args.batch):
            sel = perm[i:i + args.batch]
            opt.zero_grad()
            loss = loss_fn(net(xtr[sel]), ytr[sel])
            loss.backward()
            opt.step()
            running += loss.item() * len(sel)
            count += len(sel)
        sched.step()
        train_time = time.perf_counter() - start
        total += train_time
        net.eval()
        with torch.no_grad():
            acc = (net(xte).argmax(1) == yte).float().mean().item() * 100
        print(f"epoch {epoch + 1}/{args.epochs}  loss {running / count:.4f}  test-acc {acc:.2f}%  "
              f"time {train_time:.1f} s  {count / train_time:.0f} images/s", flush=True)
    print(f"total training time {total:.1f} s")


if __name__ == "__main__":
    main()
