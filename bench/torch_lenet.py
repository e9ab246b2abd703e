#!/usr/bin/python3
"""PyTorch's side of `make bench`: LeNet-5 (examples/lenet.net) training
steps (SGD momentum) and inference at a batch size, and inference latency
at batch 1.  Prints lines in the driver's `bench` format:
    forward: 12345.6 images/s (batch 64)
    train: 1234.5 images/s (batch 64)
    latency: 123.4 us (batch 1)
Usage: OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_lenet.py BATCH THREADS SECONDS"""
import statistics
import sys
import time

import torch
from torch import nn


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def rate(step, images, seconds):
    """Median images/s over runs of about seconds/5 each, after a warm-up."""
    step()
    runs = []
    for _ in range(5):
        start, count = time.perf_counter(), 0
        while time.perf_counter() - start < seconds / 5:
            step()
            count += images
        runs.append(count / (time.perf_counter() - start))
    return statistics.median(runs)


def main():
    batch, threads, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    net = lenet()
    x = torch.rand(batch, 1, 28, 28)
    y = torch.randint(0, 10, (batch,))
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def train():
        opt.zero_grad()
        loss_fn(net(x), y).backward()
        opt.step()

    def infer():
        with torch.no_grad():
            torch.softmax(net(x), 1)

    x1 = torch.rand(1, 1, 28, 28)

    def one():
        with torch.no_grad():
            torch.softmax(net(x1), 1)

    print(f"forward: {rate(infer, batch, seconds):.1f} images/s (batch {batch})")
    print(f"train: {rate(train, batch, seconds):.1f} images/s (batch {batch})")
    print(f"latency: {1e6 / rate(one, 1, seconds):.1f} us (batch 1)")


if __name__ == "__main__":
    main()
