#!/usr/bin/python3
"""PyTorch's side of `make bench` (bench/run.sh): the same networks, batch
sizes and threads as the generated code's `bench` command, measured the
same way, printed in its format.

Usage: OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_bench.py CMD THREADS SECONDS
  lenet [BATCH]   LeNet-5 (examples/lenet.net), default batch 64:
                    forward: X images/s (batch B)     inference, with softmax
                    train: X images/s (batch B)       SGD lr 0.01 momentum 0.9, CrossEntropyLoss
                    latency: X us (batch 1)           inference of one image
  conv [BATCH]    nn.Conv2d(64, 64, 3, padding=1) on 56x56, default batch 8:
                    forward: X images/s (batch B)     under no_grad
                    backward: X images/s (batch B)    forward, then y.backward(dy) with x
                                                      requiring grad: dL/dx and dL/dW
  conv3d [BATCH]  nn.Conv3d(32, 32, 5, padding=2) on 32x64x64, default batch 1:
                    forward, backward: as conv's
  vnet [BATCH]    tests/torch/vnet.py's VNet(base=8), examples/vnet_small.net, on
                  32x32x32x1, default batch 1:
                    forward: X images/s (batch B)     eval() under no_grad
                    train: X images/s (batch B)       SGD lr 0.01 momentum 0.9, the soft
                                                      Dice loss of vnet_demo.py
  resnet18 [BATCH]  torchvision.models.resnet18() on 64x64x3, default batch 8:
                    forward: X images/s (batch B)     eval() under no_grad
                    train: X images/s (batch B)       train(), SGD lr 0.01 momentum 0.9,
                                                      CrossEntropyLoss
  vgg16 [BATCH]   torchvision.models.vgg16().eval() on 224x224x3, default batch 1:
                    forward: X images/s (batch B)     under no_grad
  resnet50 [BATCH]  torchvision.models.resnet50() on 224x224x3, default batch 8:
                    train: X images/s (batch B)       as resnet18's training step

Usage: /usr/bin/python3 bench/torch_bench.py export DIR
  writes the inference networks above, in eval mode, with random weights and
  a variable batch size, as ONNX (opset 13) for ONNX Runtime's side
  (bench/ort_bench.js): DIR/lenet.onnx (with its softmax), conv.onnx,
  resnet18.onnx, vgg16.onnx, and DIR/trivial.onnx (one ReLU of one float:
  what a call costs the runtime and its binding, whatever the model).

Timing as runtime/driver_bench.c: a warm-up of SECONDS/20 (at least one
call), then 5 runs of at least SECONDS/10 each; the median rate."""
import os
import statistics
import sys
import time

import torch
from torch import nn

RUNS = 5


def rate(step, images, seconds):
    """Median images/s of step() over RUNS runs of at least seconds/10 each."""
    secs = seconds / (2 * RUNS)
    start = time.perf_counter()
    while True:   # warm-up: caches, allocator, threads
        step()
        if time.perf_counter() - start >= secs / 2:
            break
    rates = []
    for _ in range(RUNS):
        calls, start = 0, time.perf_counter()
        while True:
            step()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= secs:
                break
        rates.append(calls * images / elapsed)
    return statistics.median(rates)


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def trainer(net, x, classes):
    """One SGD step with momentum on a fixed batch and random labels."""
    y = torch.randint(0, classes, (x.shape[0],))
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss_fn(net(x), y).backward()
        opt.step()
    return step


def inference(net, x, softmax=False):
    def step():
        with torch.no_grad():
            y = net(x)
            if softmax:
                torch.softmax(y, 1)
    return step


def report(kind, images_per_s, batch):
    digits = 1 if images_per_s >= 100 else 3   # a 3-D convolution: 2.6 images/s
    print(f"{kind}: {images_per_s:.{digits}f} images/s (batch {batch})", flush=True)


def bench_lenet(seconds, batch):
    net = lenet()
    x = torch.rand(batch, 1, 28, 28)
    report("forward", rate(inference(net, x, softmax=True), batch, seconds), batch)
    net.train()
    report("train", rate(trainer(net, x, 10), batch, seconds), batch)
    net.eval()
    one = torch.rand(1, 1, 28, 28)
    print(f"latency: {1e6 / rate(inference(net, one, softmax=True), 1, seconds):.1f} us (batch 1)",
          flush=True)


def bench_conv(seconds, batch):
    bench_layer(nn.Conv2d(64, 64, 3, padding=1), (batch, 64, 56, 56), seconds)


def bench_conv3d(seconds, batch):
    bench_layer(nn.Conv3d(32, 32, 5, padding=2), (batch, 32, 32, 64, 64), seconds)


def bench_layer(conv, shape, seconds):
    """forward under no_grad, and forward + backward (dL/dx, dL/dW)."""
    batch = shape[0]
    x = torch.rand(shape)
    report("forward", rate(inference(conv, x), batch, seconds), batch)
    xg = x.clone().requires_grad_(True)
    dy = torch.rand(shape) * 2 - 1

    def fwd_bwd():
        conv.zero_grad()
        xg.grad = None
        conv(xg).backward(dy)
    report("backward", rate(fwd_bwd, batch, seconds), batch)


def bench_resnet18(seconds, batch):
    import torchvision
    net = torchvision.models.resnet18()
    x = torch.rand(batch, 3, 64, 64)
    net.eval()
    report("forward", rate(inference(net, x), batch, seconds), batch)
    net.train()
    report("train", rate(trainer(net, x, 1000), batch, seconds), batch)


def bench_vgg16(seconds, batch):
    import torchvision
    net = torchvision.models.vgg16().eval()
    x = torch.rand(batch, 3, 224, 224)
    report("forward", rate(inference(net, x), batch, seconds), batch)


def bench_resnet50(seconds, batch):
    import torchvision
    net = torchvision.models.resnet50().train()
    x = torch.rand(batch, 3, 224, 224)
    report("train", rate(trainer(net, x, 1000), batch, seconds), batch)


def bench_vnet(seconds, batch):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "torch"))
    from vnet import VNet
    from vnet_demo import dice_loss
    net = VNet(base=8)
    x = torch.rand(batch, 1, 32, 32, 32)
    labels = torch.randint(0, 2, (batch, 32, 32, 32)).float()
    net.eval()
    report("forward", rate(inference(net, x), batch, seconds), batch)
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

    def step():
        opt.zero_grad()
        dice_loss(net(x), labels).backward()
        opt.step()
    report("train", rate(step, batch, seconds), batch)


COMMANDS = {"lenet": (bench_lenet, 64), "conv": (bench_conv, 8), "conv3d": (bench_conv3d, 1),
            "resnet18": (bench_resnet18, 8), "vgg16": (bench_vgg16, 1),
            "resnet50": (bench_resnet50, 8), "vnet": (bench_vnet, 1)}


def onnx_models():
    """NAME: (network, one input) for export; the inputs give the shapes."""
    import torchvision
    return {"lenet": (nn.Sequential(lenet(), nn.Softmax(1)), torch.rand(1, 1, 28, 28)),
            "conv": (nn.Conv2d(64, 64, 3, padding=1), torch.rand(1, 64, 56, 56)),
            "resnet18": (torchvision.models.resnet18(), torch.rand(1, 3, 64, 64)),
            "vgg16": (torchvision.models.vgg16(), torch.rand(1, 3, 224, 224)),
            "trivial": (nn.ReLU(), torch.rand(1, 1))}


def export(directory):
    for name, (net, x) in onnx_models().items():
        torch.onnx.export(net.eval(), x, f"{directory}/{name}.onnx", input_names=["x"],
                          output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
                          opset_version=13)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "export":
        torch.manual_seed(1)
        export(sys.argv[2])
        return
    if len(sys.argv) not in (4, 5) or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    fn, batch = COMMANDS[sys.argv[1]]
    threads, seconds = int(sys.argv[2]), float(sys.argv[3])
    if len(sys.argv) == 5:
        batch = int(sys.argv[4])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    fn(seconds, batch)


if __name__ == "__main__":
    main()
