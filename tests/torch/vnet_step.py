#!/usr/bin/python3
"""vnet_step.py - one training step of the small V-Net (examples/vnet_small.net,
32x32x32 volumes, 8 base channels) in the generated C against
tests/torch/vnet.py's VNet(base=8), the model written from the paper, in
float64: the same weights (torch's own initialisation, saved under its
state_dict names, which cnnc's layer names are), two volumes with a ball
as foreground, the soft Dice loss, one SGD step.  Compares the loss, every
dL/dW and every new weight; prints the largest errors.  Exit 1 on a
mismatch.

    CNNC=build/cnnc OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tests/torch/vnet_step.py
"""
import os
import sys
import tempfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import conform  # noqa: E402
import torchnet  # noqa: E402
import vnet  # noqa: E402

BATCH, SIZE, LR, MOMENTUM = 2, 32, 0.1, 0.9
RTOL = 2e-3      # of each tensor's largest value: float32 through 73 layers


def volumes(gen, batch=BATCH, shape=(SIZE, SIZE, SIZE)):
    """Noise with a brighter ball in each item, and the ball as labels: the
    ball's centre in the middle half of each axis, its radius 6/32 of the
    shortest axis (vnet_full.py: the same at 64x128x128)."""
    z, y, x = torch.meshgrid(*(torch.arange(s, dtype=torch.float64) for s in shape), indexing="ij")
    size = torch.tensor(shape, dtype=torch.float64)
    radius = 6.0 / 32.0 * min(shape)
    xs, labels = [], []
    for _ in range(batch):
        c = size / 4 + size / 2 * torch.rand(3, generator=gen, dtype=torch.float64)
        ball = ((z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2) < radius ** 2
        xs.append(0.4 * torch.rand(*shape, generator=gen, dtype=torch.float64) + 0.5 * ball)
        labels.append(ball.to(torch.int32))
    return torch.stack(xs)[:, None].float(), torch.stack(labels)


def largest_error(got, want, rounding=0.0):
    """|got - want| at its largest, less what rounding allows, over the
    largest |want|."""
    err = max(float((got.double() - want).abs().max()) - rounding, 0.0)
    return err / max(float(want.abs().max()), 1e-30)


def main():
    torch.manual_seed(7)
    gen = torch.Generator().manual_seed(7)
    model = vnet.VNet(base=8)
    w0 = {k: v.detach().clone() for k, v in model.state_dict().items()}
    x, labels = volumes(gen)
    d = tempfile.mkdtemp(prefix="vnet_step.")
    wpath = os.path.join(d, "w0.safetensors")
    torchnet.save_safetensors(wpath, w0)
    conform.write_bin(os.path.join(d, "x.bin"), x)
    labels.numpy().astype("<i4").tofile(os.path.join(d, "labels.bin"))
    with open(os.path.join(conform.TOP, "examples", "vnet_small.net")) as f:
        text = f.read()
    exe, _ = conform.compile_net(text, [], os.path.join(d, "build"), 0, [])
    out = os.path.join(d, "sgd")
    os.makedirs(out)
    conform.must([exe, "train", wpath, os.path.join(d, "x.bin"), os.path.join(d, "labels.bin"), str(BATCH),
                  "sgd", repr(LR), repr(MOMENTUM), "1", out], "harness train")

    ref = model.double()
    y = ref(x.double())
    loss = conform.loss_fn({"loss": "dice"}, y, labels.long())
    loss.backward()
    grads = {k: p.grad for k, p in ref.named_parameters()}
    closs = float(open(os.path.join(out, "loss.txt")).read().split()[0])
    errors = {"loss": abs(closs - float(loss)) / max(abs(float(loss)), 1e-30)}
    got_g = torchnet.load_safetensors(os.path.join(out, "grads.safetensors"))
    got_w = torchnet.load_safetensors(os.path.join(out, "w.safetensors"))
    worst_g = worst_w = (0.0, "")
    for name, g in grads.items():
        worst_g = max(worst_g, (largest_error(got_g[name], g), name))
        # torch's SGD with momentum: the first step's buffer is the gradient;
        # float32 rounds the new weight by up to half its last place
        want = w0[name].double() - LR * g
        ulp = 2.0 ** -23 * float(w0[name].abs().max())
        step = largest_error(got_w[name].double() - w0[name].double(), want - w0[name].double(), ulp)
        worst_w = max(worst_w, (step, name))
    errors["dW"], errors["step"] = worst_g[0], worst_w[0]
    ok = all(e <= RTOL for e in errors.values())
    print("vnet_step %s: loss c %.7f torch %.7f (rel %.1e); dL/dW %.1e (%s); SGD step %.1e (%s)"
          % ("ok" if ok else "FAILED", closs, float(loss), errors["loss"], worst_g[0], worst_g[1], worst_w[0],
             worst_w[1]))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
