#!/usr/bin/python3
"""Reference values for tests/runtime/test_layers.c, computed with PyTorch.

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tests/runtime/layers_ref.py > tests/runtime/layers_ref.h

nn.LocalResponseNorm, nn.PReLU, the soft Dice loss and the hard Dice
score (dice_loss and dice_score below, the rules the runtime's
cnn_dice_loss and cnn_dice_score follow) on images (N, C, H, W) and
volumes (N, C, D, H, W): outputs, dL/dx from a given dL/dy, dL/dslope,
dL/dy of the loss.  The inputs are not stored: both sides draw them from
cnn_rng (xoshiro256**, reimplemented in optim_ref.py) with the seed of the
case, in this order:
    LRN:   x = scale * (2u - 1) for every element, then dy = 2u - 1;
    PReLU: slope = 2u - 1 per channel, then x = ((r >> 40) % 9 - 4) / 2
           (exact zeros on purpose), then dy = 2u - 1;
    Dice:  p = u per position of channel 1 (channel 0 = 1 - p), then
           label = r >> 63 per position; items listed in `empty` get
           label 0 everywhere, those in `zero` also p = 0 (the 0/0 case).
u = (r >> 40) / 2^24 for the next 64-bit draw r: cnn_rng_uniform.
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from optim_ref import carray, cfloat, xoshiro  # noqa: E402


class Draws:
    """cnn_rng's sequence for a seed, drawn as the C side draws it."""

    def __init__(self, seed, count):
        self.raw = iter(xoshiro(seed, count))

    def bits(self):
        return next(self.raw)

    def uniform(self):
        return (self.bits() >> 40) * 2.0 ** -24

    def signed(self, count, scale=1.0):
        return [np.float32(scale) * np.float32(2.0 * self.uniform() - 1.0) for _ in range(count)]


def dice_loss(y, labels):
    """V-Net's soft Dice loss, mean over items; an item with no foreground
    and p == 0 everywhere (0/0) counts as a perfect prediction: 0."""
    n = y.shape[0]
    p = y[:, 1].reshape(n, -1)
    g = (labels == 1).to(y.dtype).reshape(n, -1)
    inter = (p * g).sum(1)
    den = (p * p).sum(1) + (g * g).sum(1)
    empty = den == 0
    per = torch.where(empty, torch.zeros_like(den), 1 - 2 * inter / torch.where(empty, torch.ones_like(den), den))
    return per.mean()


def dice_score(y, labels):
    """The hard Dice score, mean over items: foreground where argmax over
    the channels is 1 (a tie is 0, argmax's first); both empty scores 1."""
    n = y.shape[0]
    pred = (y.argmax(1) == 1).reshape(n, -1).double()
    g = (labels == 1).reshape(n, -1).double()
    sizes = pred.sum(1) + g.sum(1)
    both = (pred * g).sum(1)
    return torch.where(sizes == 0, torch.ones_like(sizes), 2 * both / sizes.clamp(min=1)).mean()


def emit_array(name, t):
    vals = t.detach().reshape(-1).tolist()
    print("static const float %s[%d] = {\n%s\n};" % (name, len(vals), carray(map(cfloat, vals))))


def shape_c(shape):
    return "{%s}" % ", ".join(str(s) for s in shape)


# name, (N, C, spatial...), size, alpha, beta, k, x scale
LRN_CASES = [
    ("lrn_img_size1", (2, 7, 3, 5), 1, 0.3, 0.75, 1.0, 2.0),
    ("lrn_img_size2", (2, 7, 3, 5), 2, 0.5, 0.6, 2.0, 2.0),
    ("lrn_img_size5", (2, 7, 3, 5), 5, 1.0, 0.75, 1.0, 2.0),
    ("lrn_img_defaults", (2, 7, 3, 5), 5, 1e-4, 0.75, 1.0, 50.0),
    ("lrn_img_wide", (1, 3, 9, 11), 5, 0.8, 0.75, 1.5, 2.0),   # window past both ends, sp > 64
    ("lrn_vol_size1", (2, 5, 2, 3, 3), 1, 0.3, 0.75, 1.0, 2.0),
    ("lrn_vol_size2", (2, 5, 2, 3, 3), 2, 0.5, 0.6, 2.0, 2.0),
    ("lrn_vol_size5", (2, 5, 2, 3, 3), 5, 1.0, 0.75, 1.0, 2.0),
]

PRELU_CASES = [
    ("prelu_img", (2, 7, 3, 5)),
    ("prelu_vol", (3, 5, 2, 3, 4)),
    ("prelu_img_wide", (1, 3, 9, 11)),
]

# name, (N, 2, spatial...), items with no foreground, items also with p == 0
DICE_CASES = [
    ("dice_img", (3, 2, 5, 7), [], []),
    ("dice_vol", (2, 2, 3, 4, 5), [], []),
    ("dice_empty", (3, 2, 4, 4), [0, 1], [0]),
]


def emit_lrn(seed, name, shape, size, alpha, beta, k, scale):
    count = int(np.prod(shape))
    d = Draws(seed, 2 * count)
    x = torch.tensor(d.signed(count, scale)).reshape(shape).requires_grad_()
    dy = torch.tensor(d.signed(count)).reshape(shape)
    y = torch.nn.LocalResponseNorm(size, alpha, beta, k)(x)
    y.backward(dy)
    emit_array(name + "_y", y)
    emit_array(name + "_dx", x.grad)
    return "{\"%s\", %d, %s, %d, %d, %s, %s, %s, %s, %s_y, %s_dx}" % (
        name, seed, shape_c(shape), len(shape), size, cfloat(alpha), cfloat(beta), cfloat(k),
        cfloat(scale), name, name)


def emit_prelu(seed, name, shape):
    count, c = int(np.prod(shape)), shape[1]
    d = Draws(seed, c + 2 * count)
    slope = torch.tensor(d.signed(c))
    x = torch.tensor([((d.bits() >> 40) % 9 - 4) / 2.0 for _ in range(count)]).reshape(shape)
    dy = torch.tensor(d.signed(count)).reshape(shape)
    m = torch.nn.PReLU(c)
    with torch.no_grad():
        m.weight.copy_(slope)
    x.requires_grad_()
    y = m(x)
    y.backward(dy)
    emit_array(name + "_y", y)
    emit_array(name + "_dx", x.grad)
    emit_array(name + "_dslope", m.weight.grad)
    return "{\"%s\", %d, %s, %d, %s_y, %s_dx, %s_dslope}" % (name, seed, shape_c(shape), len(shape), name,
                                                             name, name)


def dice_inputs(seed, shape, empty, zero):
    n, sp = shape[0], int(np.prod(shape[2:]))
    d = Draws(seed, 2 * n * sp)
    y = torch.zeros((n, 2, sp), dtype=torch.float32)
    labels = torch.zeros((n, sp), dtype=torch.int64)
    for i in range(n):
        for q in range(sp):
            y[i, 1, q] = 0.0 if i in zero else d.uniform()
        for q in range(sp):
            labels[i, q] = 0 if i in empty else d.bits() >> 63
    y[:, 0] = 1 - y[:, 1]
    return y.reshape(shape), labels.reshape((n,) + shape[2:])


def emit_dice(seed, name, shape, empty, zero):
    y, labels = dice_inputs(seed, shape, empty, zero)
    y = y.double().requires_grad_()   # the C side sums in double
    loss = dice_loss(y, labels)
    loss.backward()
    emit_array(name + "_dy", y.grad)
    score = dice_score(y.detach(), labels)
    mask = lambda items: sum(1 << i for i in items)
    return "{\"%s\", %d, %s, %d, %d, %d, %s, %s, %s_dy}" % (
        name, seed, shape_c(shape), len(shape), mask(empty), mask(zero), cfloat(loss.item()),
        cfloat(score.item()), name)


def main():
    torch.set_num_threads(1)
    print("/* layers_ref.h - generated by tests/runtime/layers_ref.py with torch %s; do not edit. */"
          % torch.__version__)
    print("#ifndef LAYERS_REF_H\n#define LAYERS_REF_H\n")
    print("typedef struct {\n    const char *name;\n    int seed, shape[5], ndim, size;\n"
          "    float alpha, beta, k, scale;\n    const float *y, *dx;\n} lrn_case;")
    print("typedef struct {\n    const char *name;\n    int seed, shape[5], ndim;\n"
          "    const float *y, *dx, *dslope;\n} prelu_case;")
    print("typedef struct {\n    const char *name;\n    int seed, shape[5], ndim;\n"
          "    unsigned empty, zero;    /* bit i: item i */\n    float loss, score;\n    const float *dy;\n"
          "} dice_case;\n")
    seed = 100
    rows = []
    for case in LRN_CASES:
        seed += 1
        rows.append(emit_lrn(seed, *case))
    print("static const lrn_case lrn_cases[] = {\n    %s,\n};\n" % ",\n    ".join(rows))
    rows = []
    for case in PRELU_CASES:
        seed += 1
        rows.append(emit_prelu(seed, *case))
    print("static const prelu_case prelu_cases[] = {\n    %s,\n};\n" % ",\n    ".join(rows))
    rows = []
    for case in DICE_CASES:
        seed += 1
        rows.append(emit_dice(seed, *case))
    print("static const dice_case dice_cases[] = {\n    %s,\n};\n" % ",\n    ".join(rows))
    print("#endif")


if __name__ == "__main__":
    main()
