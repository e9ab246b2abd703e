#!/usr/bin/python3
"""conform.py - conformance of cnnc's generated C with PyTorch.

For each network (tests/torch/cases/*.net, seeded random sequential nets
and DAGs of images and of volumes, and ResNet-18 at 64x64x3):

 1. `cnnc --report=json` and `cnnc -p net -o DIR/net.c [ARGS]`;
 2. the generated code is compiled with tests/torch/harness.c under
    `-std=c99 -O1 -Wall -Wextra -pedantic -Werror` by gcc or clang (they
    alternate), the other compiler checking the same files with
    -fsyntax-only;
 3. PyTorch builds the same graph from the report (torchnet.py), with
    random weights (kaiming-uniform weights, torch's bias bounds,
    random batchnorm gamma/beta and running statistics near the batch's),
    random inputs x and output gradients dy, batch 3;
 4. inference forward and backward (eval mode: dropout off, batchnorm on
    running statistics): y, dL/dx and every dL/dW are compared with a
    float64 PyTorch reference, element by element within
    1e-4 + 1e-3*|ref| (the 1e-4 times the tensor's rms when that is above
    1), plus the effect of near-kinks (below);
 5. training (train mode: batchnorm batch statistics and torch's momentum
    convention; dropout set to 0 in both, since the masks cannot agree):
    two SGD steps with momentum 0.9 and one Adam step on one batch, with
    the net's loss (the report's "loss": softmax cross-entropy, the Dice
    loss, or mean squared error against one-hot labels).  The losses, the new weights and the
    running statistics are compared.  Adam's first step moves a weight by
    about lr*sign(g), so weights whose gradients are too small for their
    sign to be known in float32 may differ by up to 2*lr.  Cross-entropy
    is clamped at -log(1e-30) as the C clamps it, with the gradient of the
    unclamped loss, as the C's fused softmax backward has.

Near-kinks: where the float64 reference has a ReLU input or a max-pool
window's runner-up within 1e-4 (relative to the tensor's rms) of the
other decision, float32 may decide the other way and route a whole
gradient element elsewhere.  When (and only when) something is off, such
decisions are flipped one at a time in the reference, closest first, and
the differences they make are added to the tolerance (torchnet.KinkSlack).
When two SGD steps are off and the first step had near-kinks, the check
is redone with one step, since the second step would start from weights
that differ by such a gradient.

Code generated with --no-train or --embed-weights (given the random
weights) is checked on the forward pass only.  The random nets take turns
with the default options, --unroll 4 (looped kernels) and --blas.

The random volume nets (vseq*, vdag*; class Vol) use every layer kind
that volumes have, with kernels, strides, pads and dilations that differ
between the axes, and end in each loss: cross-entropy over classes or
voxels, Dice, MSE.

One line per net: PASS/FAIL, the largest errors (each as max |c - ref| and,
in brackets, its ratio to the tolerance when above 0.1), and the time.

    /usr/bin/python3 tests/torch/conform.py [-j JOBS] [--only REGEX] [--keep DIR]
        [--random N] [--dags N] [--vols N] [--vol-dags N] [--no-resnet] [--list]
        [FILE.net ...]
"""
import argparse
import concurrent.futures
import glob
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import zlib

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import torchnet  # noqa: E402

torch.set_num_threads(1)

CNNC = os.environ.get("CNNC", os.path.join(TOP, "build", "cnnc"))
LIBDIR = os.path.dirname(os.path.abspath(CNNC))
CFLAGS = ["-std=c99", "-O1", "-Wall", "-Wextra", "-pedantic", "-Werror"]
BATCH = 3
ATOL, RTOL = 1e-4, 1e-3
SGD_LR, SGD_MOMENTUM, ADAM_LR = 0.05, 0.9, 1e-3
# Two SGD steps so that the momentum buffer counts; one Adam step, since
# Adam moves a weight whose gradient is zero up to rounding (a bias before
# a batchnorm) by +-lr, and a second step would carry that into the
# batchnorm's running statistics.
STEPS = {"sgd": 2, "adam": 1}
# Near-kinks (torchnet.KinkSlack): decisions within this much of the
# tensor's rms of the other side.
KINK_REL = 1e-4


class Case:
    def __init__(self, name, text, args=(), cflags=(), env=None):
        self.name, self.text, self.args = name, text, list(args)
        self.cflags, self.env = list(cflags), env or {}


# ---------------------------------------------------------------- cases --

def file_cases(paths):
    """A .net file may carry `# args: CNNC OPTIONS` (a case per args line),
    `# cflags: ...` and `# env: NAME=VALUE ...` comments.  Code generated
    with --blas is linked with -lopenblas; `--embed-weights` is given the
    case's random weights."""
    cases = []
    for path in paths:
        text = open(path).read()
        base = os.path.splitext(os.path.basename(path))[0]
        argsets = [a.split() for a in re.findall(r"^# args:(.*)$", text, re.M)] or [[]]
        cflags = sum((c.split() for c in re.findall(r"^# cflags:(.*)$", text, re.M)), [])
        env = dict(kv.split("=", 1) for e in re.findall(r"^# env:(.*)$", text, re.M) for kv in e.split())
        for args in argsets:
            name = base + "".join(a.replace("--", "+").replace("=", "") for a in args)
            cases.append(Case(name, text, args, cflags, env))
    return cases


def resnet18_case():
    text = open(os.path.join(TOP, "examples", "resnet18.net")).read()
    text = re.sub(r"^input .*$", "input 64x64x3", text, count=1, flags=re.M)
    # The parallel loops too: OpenMP with two threads.
    return Case("resnet18_64", text, cflags=["-fopenmp"], env={"OMP_NUM_THREADS": "2"})


def window_out(n, k, s, p0, p1, d, fit):
    """cnnc's output size for a window layer; None when it cannot exist."""
    span = n + p0 + p1 - d * (k - 1) - 1
    if span < 0:
        return None
    if fit == "ceil":
        o = -(-span // s) + 1
        if (o - 1) * s >= n + p0:
            o -= 1
        return o
    return span // s + 1


class Gen:
    """Random valid layers.  Shapes are tracked as (H, W, C)."""

    ACTS = ["relu", "sigmoid", "tanh", "leaky", "leaky 0.25", "linear"]
    nd = 2                      # spatial axes
    MAX_SIZE, MAX_SIDE = 4096, 40

    def too_big(self, s):
        return math.prod(s) > self.MAX_SIZE or max(s[:-1]) > self.MAX_SIDE

    def kernel(self, k, F):
        return "%dx%dx%d" % (k[0], k[1], F)

    def __init__(self, seed):
        self.r = random.Random(seed)
        self.flat_ok = 1        # may a spatial layer be followed by fc/flatten

    def act(self, p=0.5, softmax=False):
        r = self.r
        if r.random() >= p:
            return ""
        if softmax and r.random() < 0.15:
            return " softmax"
        return " " + r.choice(self.ACTS)

    def conv(self, s):
        """A conv statement and its output shape, or None."""
        r = self.r
        H, W, C = s
        kh = r.choice([1, 2, 3, 3, 5])
        kw = kh if r.random() < 0.7 else r.choice([1, 2, 3, 5])
        sh = r.choice([1, 1, 2])
        sw = sh if r.random() < 0.8 else r.choice([1, 2])
        d = r.choice([1, 1, 1, 2]) if max(kh, kw) > 1 else 1
        opts = ""
        u = r.random()
        if u < 0.25:
            pt = pl = 0
            pb = pr = 0
            fit = "floor"
        elif u < 0.45:
            # pad same: out = ceil(in / stride)
            oh, ow = -(-H // sh), -(-W // sw)
            opts += " pad same"
            out = (oh, ow)
            fit = None
        else:
            ph = r.randint(0, d * (kh - 1) // 2 + (1 if r.random() < 0.2 else 0))
            pw = ph if r.random() < 0.6 else r.randint(0, d * (kw - 1) // 2)
            opts += " pad %d" % ph if ph == pw else " pad %dx%d" % (ph, pw)
            pt, pl, pb, pr = ph, pw, ph, pw
            fit = "floor"
        if fit is not None:
            if r.random() < 0.25:
                fit = "ceil"
                opts += " fit ceil"
            out = (window_out(H, kh, sh, pt, pb, d, fit), window_out(W, kw, sw, pl, pr, d, fit))
        if None in out or min(out) < 1:
            return None
        g = 1
        u = r.random()
        if u < 0.15 and C > 1:
            g = C                                     # depthwise
        elif u < 0.35 and C % 2 == 0:
            g = 2
        F = g * r.randint(1, max(1, 8 // g))
        if g > 1:
            opts += " groups %d" % g
        if sh != 1 or sw != 1:
            opts = (" stride %d" % sh if sh == sw else " stride %dx%d" % (sh, sw)) + opts
        if d > 1:
            opts += " dilation %d" % d
        if r.random() < 0.2:
            opts += " nobias"
        return "conv %dx%dx%d%s%s" % (kh, kw, F, opts, self.act()), (out[0], out[1], F)

    def deconv(self, s):
        r = self.r
        H, W, C = s
        if H > 10 or W > 10:
            return None
        k = r.choice([2, 3, 4])
        st = r.choice([1, 2])
        p = r.randint(0, (k - 1) // 2)
        g = 2 if C % 2 == 0 and r.random() < 0.3 else 1
        F = g * r.randint(1, 4)
        oh, ow = (H - 1) * st - 2 * p + k, (W - 1) * st - 2 * p + k
        opts = (" stride %d" % st if st > 1 else "") + (" pad %d" % p if p else "")
        opts += " groups %d" % g if g > 1 else ""
        opts += " nobias" if r.random() < 0.2 else ""
        return "deconv %dx%dx%d%s%s" % (k, k, F, opts, self.act()), (oh, ow, F)

    def pool(self, s):
        r = self.r
        H, W, C = s
        kind = r.choice(["max", "avg"])
        if r.random() < 0.12:
            return "pool %s global" % kind, (1, 1, C)
        k = r.choice([2, 2, 3])
        st = r.choice([1, 2, k])
        p = r.randint(0, k // 2)
        fit = "ceil" if r.random() < 0.3 else "floor"
        oh, ow = window_out(H, k, st, p, p, 1, fit), window_out(W, k, st, p, p, 1, fit)
        if oh is None or ow is None or oh < 1 or ow < 1:
            return None
        opts = (" stride %d" % st if st != k else "") + (" pad %d" % p if p else "")
        opts += " fit ceil" if fit == "ceil" else ""
        return "pool %s %d%s" % (kind, k, opts), (oh, ow, C)

    def batchnorm(self, s):
        r = self.r
        opts = ""
        if r.random() < 0.3:
            opts += " eps %g" % r.choice([1e-3, 1e-4])
        if r.random() < 0.3:
            opts += " momentum %g" % r.choice([0.2, 0.5])
        return "batchnorm" + opts + self.act(0.4), s

    def single(self, s, flat):
        """One single-input layer for shape s, or None."""
        r = self.r
        H, W, C = s
        if flat:
            choices = [("fc", 3), ("bn", 1), ("act", 1), ("dropout", 0.5), ("softmax", 0.2)]
        else:
            choices = [("conv", 4), ("deconv", 0.7), ("pool", 2), ("bn", 1.2), ("act", 1), ("dropout", 0.4),
                       ("upsample", 0.5 if H * W <= 64 else 0), ("crop", 0.5 if min(H, W) >= 4 else 0),
                       ("softmax", 0.2), ("fc", 0.3 * self.flat_ok), ("flatten", 0.1 * self.flat_ok)]
        kind = r.choices([c for c, _ in choices], [w for _, w in choices])[0]
        if kind == "conv":
            return self.conv(s)
        if kind == "deconv":
            return self.deconv(s)
        if kind == "pool":
            return self.pool(s)
        if kind == "bn":
            return self.batchnorm(s)
        if kind == "act":
            return r.choice(self.ACTS), s
        if kind == "dropout":
            return "dropout %g" % r.choice([0, 0.25, 0.5]), s
        if kind == "softmax":
            if C == 1:
                return None          # the constant 1: ill-conditioned downstream
            return "softmax", s
        if kind == "upsample":
            f = r.choice([2, 2, 3])
            return "upsample %d" % f, (H * f, W * f, C)
        if kind == "crop":
            h, w = H - r.randint(1, 3), W - r.randint(0, 3)
            return "crop %dx%d" % (h, w), (h, w, C)
        if kind == "flatten":
            return "flatten", (1, 1, H * W * C)
        n = r.randint(2, 10)
        return "fc %d%s%s" % (n, " nobias" if r.random() < 0.2 else "", self.act(0.5, True)), (1, 1, n)

    def input(self):
        r = self.r
        s = (r.randint(5, 14), r.randint(5, 14), r.randint(1, 4))
        return "input %dx%dx%d" % (s[0], s[1], s[2]), s

    def ending(self, lines, s):
        r = self.r
        u = r.random()
        if u < 0.35:
            lines.append("fc %d" % r.randint(2, 10) + (" softmax" if r.random() < 0.5 else ""))
        elif u < 0.5:
            lines.append("fc %d" % r.randint(2, 10))
            lines.append("softmax")
        elif u < 0.65 and s[0] * s[1] > 1:
            lines.append("conv 1x1x%d" % r.randint(2, 5))
            lines.append("softmax")


def dims(v):
    """"3" when every axis has 3, else "2x3x3"."""
    return "%d" % v[0] if len(set(v)) == 1 else "x".join(map(str, v))


class Vol(Gen):
    """Random valid layers on volumes: shapes (D, H, W, C).  Kernels,
    strides, pads and dilations per axis (often unequal).  Not generated,
    since cnnc refuses them on volumes: groups, and padding that differs
    between the sides of an axis (`pad same` with an odd total pad, `fit
    ceil` on conv)."""

    nd = 3
    MAX_SIZE, MAX_SIDE = 2048, 16

    def axes(self, pick, p_equal=0.6):
        """Three numbers from pick(): all equal with probability p_equal."""
        if self.r.random() < p_equal:
            return (pick(),) * 3
        return tuple(pick() for _ in range(3))

    def conv(self, s):
        r = self.r
        *size, C = s
        k = self.axes(lambda: r.choice([1, 2, 3, 3, 5] if min(size) >= 6 else [1, 2, 3, 3]), 0.5)
        st = self.axes(lambda: r.choice([1, 1, 2]), 0.7)
        d = self.axes(lambda: r.choice([1, 1, 1, 2]), 0.7) if max(k) > 1 else (1, 1, 1)
        d = tuple(1 if kk == 1 else dd for kk, dd in zip(k, d))
        u = r.random()
        opts = ""
        if u < 0.25:
            p = (0, 0, 0)
            opts = " pad valid" if r.random() < 0.3 else ""
        elif u < 0.45:
            out = [-(-n // ss) for n, ss in zip(size, st)]
            total = [max((o - 1) * ss + dd * (kk - 1) + 1 - n, 0) for o, ss, dd, kk, n in zip(out, st, d, k, size)]
            if any(t % 2 for t in total):
                return None           # one side would get more: refused on volumes
            p = tuple(t // 2 for t in total)
            opts = " pad same"
        else:
            p = tuple(r.randint(0, dd * (kk - 1) // 2 + (1 if r.random() < 0.2 else 0)) for kk, dd in zip(k, d))
            if r.random() < 0.5:
                p = (p[0],) * 3
            opts = " pad %s" % dims(p)
        out = [window_out(n, kk, ss, pp, pp, dd, "floor") for n, kk, ss, pp, dd in zip(size, k, st, p, d)]
        if None in out or min(out) < 1:
            return None
        F = r.randint(1, 6)
        if st != (1, 1, 1):
            opts = " stride %s" % dims(st) + opts
        if d != (1, 1, 1):
            opts += " dilation %s" % dims(d)
        if r.random() < 0.2:
            opts += " nobias"
        return "conv %s%s%s" % (self.kernel(k, F), opts, self.act()), tuple(out) + (F,)

    def kernel(self, k, F):
        return "x".join(map(str, tuple(k) + (F,)))

    def deconv(self, s):
        r = self.r
        *size, C = s
        if max(size) > 8:
            return None
        k = self.axes(lambda: r.choice([1, 2, 2, 3, 4]), 0.5)
        st = self.axes(lambda: r.choice([1, 2]), 0.7)
        d = (1, 1, 1) if r.random() < 0.85 else tuple(2 if kk > 1 else 1 for kk in k)
        p = self.axes(lambda: r.randint(0, 1), 0.6)
        p = tuple(min(pp, dd * (kk - 1) // 2) for pp, kk, dd in zip(p, k, d))
        out = tuple((n - 1) * ss - 2 * pp + dd * (kk - 1) + 1 for n, ss, pp, kk, dd in zip(size, st, p, k, d))
        F = r.randint(1, 4)
        opts = " stride %s" % dims(st) if st != (1, 1, 1) else ""
        opts += " pad %s" % dims(p) if p != (0, 0, 0) else ""
        opts += " dilation %s" % dims(d) if d != (1, 1, 1) else ""
        opts += " nobias" if r.random() < 0.2 else ""
        return "deconv %s%s%s" % (self.kernel(k, F), opts, self.act()), out + (F,)

    def pool(self, s):
        r = self.r
        *size, C = s
        kind = r.choice(["max", "avg"])
        if r.random() < 0.12:
            return "pool %s global" % kind, (1, 1, 1, C)
        k = self.axes(lambda: r.choice([1, 2, 2, 3]), 0.6)
        if k == (1, 1, 1):
            k = (2, 2, 2)
        u = r.random()
        st = k if u < 0.5 else self.axes(lambda: r.choice([1, 2]), 0.6)
        p = tuple(r.randint(0, kk // 2) for kk in k) if r.random() < 0.5 else (0, 0, 0)
        fit = "ceil" if r.random() < 0.3 else "floor"
        out = tuple(window_out(n, kk, ss, pp, pp, 1, fit) for n, kk, ss, pp in zip(size, k, st, p))
        if None in out or min(out) < 1:
            return None
        opts = " stride %s" % dims(st) if st != k else ""
        opts += " pad %s" % dims(p) if p != (0, 0, 0) else ""
        opts += " fit ceil" if fit == "ceil" else ""
        opts += " countpad" if kind == "avg" and p != (0, 0, 0) and r.random() < 0.6 else ""
        return "pool %s %s%s" % (kind, dims(k), opts), out + (C,)

    def lrn(self, s):
        r = self.r
        opts = " alpha %g" % r.choice([1e-4, 0.01, 0.5]) if r.random() < 0.5 else ""
        opts += " beta %g" % r.choice([0.5, 0.75, 1]) if r.random() < 0.4 else ""
        opts += " k %g" % r.choice([1, 2]) if r.random() < 0.3 else ""
        return "lrn %d%s" % (r.randint(1, 5), opts), s

    def single(self, s, flat):
        r = self.r
        *size, C = s
        n = math.prod(size)
        if flat:
            choices = [("fc", 3), ("bn", 1), ("act", 1), ("prelu", 0.7), ("dropout", 0.4), ("softmax", 0.2)]
        else:
            choices = [("conv", 4), ("deconv", 1.5), ("pool", 2), ("bn", 1), ("act", 1), ("prelu", 1),
                       ("lrn", 0.6), ("dropout", 0.3), ("upsample", 1 if n <= 125 else 0),
                       ("crop", 0.6 if min(size) >= 3 else 0), ("softmax", 0.2),
                       ("fc", 0.3 * self.flat_ok), ("flatten", 0.1 * self.flat_ok)]
        kind = r.choices([c for c, _ in choices], [w for _, w in choices])[0]
        if kind in ("conv", "deconv", "pool", "lrn"):
            return getattr(self, kind)(s)
        if kind == "bn":
            return self.batchnorm(s)
        if kind == "act":
            return r.choice(self.ACTS), s
        if kind == "prelu":
            return "prelu", s
        if kind == "dropout":
            return "dropout %g" % r.choice([0, 0.25, 0.5]), s
        if kind == "softmax":
            return None if C == 1 else ("softmax", s)
        if kind == "upsample":
            f = r.choice([2, 2, 3]) if n <= 27 else 2
            return "upsample %d" % f, tuple(a * f for a in size) + (C,)
        if kind == "crop":
            c = tuple(a - r.randint(0, 2) for a in size)
            if c == tuple(size):
                c = (c[0] - 1,) + c[1:]
            return "crop %s" % "x".join(map(str, c)), c + (C,)
        if kind == "flatten":
            return "flatten", (1, 1, 1, n * C)
        N = r.randint(2, 8)
        return "fc %d%s%s" % (N, " nobias" if r.random() < 0.2 else "", self.act(0.5, True)), (1, 1, 1, N)

    def input(self):
        r = self.r
        s = tuple(r.randint(4, 9) for _ in range(3)) + (r.randint(1, 3),)
        return "input %s" % "x".join(map(str, s)), s

    def ending(self, lines, s):
        """The output and the loss: class labels (fc, softmax: ce), dense
        labels (a 1x1x1 conv, softmax: ce, dice or mse), or none (mse)."""
        r = self.r
        u = r.random()
        if u < 0.25:
            lines.append("fc %d" % r.randint(2, 6) + (" softmax" if r.random() < 0.6 else ""))
        elif u < 0.45 or (u < 0.85 and math.prod(s[:-1]) > 1):
            # the Dice loss needs several voxels per image (the checker refuses
            # it on a one-voxel output)
            dice = r.random() < 0.4 and math.prod(s[:-1]) > 1
            lines.append("conv 1x1x1x%d" % (2 if dice else r.randint(2, 4)))
            lines.append("softmax")
            if dice:
                lines.append("loss dice")
            elif r.random() < 0.25:
                lines.append("loss mse")
            elif r.random() < 0.3:
                lines.append("loss ce")


# The random nets take turns: the defaults, kernels of more than 4 taps as
# loops, and im2col + cblas_sgemm.
VARIANTS = [[], ["--unroll", "4"], ["--blas"]]


def random_sequential(seed, g=None, name="seq"):
    """A chain of random layers; g: a Gen (images) or a Vol (volumes)."""
    g = g or Gen(seed)
    r = g.r
    line, s = g.input()
    lines = ["# random sequential net%s, seed %d" % (" on a volume" * (g.nd == 3), seed), line, "fit floor"]
    flat = False
    n = r.randint(3, 8)
    while n > 0:
        g.flat_ok = n <= 2
        got = g.single(s, flat)
        if got is None:
            continue
        stmt, s2 = got
        if g.too_big(s2):
            continue
        lines.append(stmt)
        flat = flat or stmt.startswith("fc") or stmt.startswith("flatten")
        s = s2
        n -= 1
    g.ending(lines, s)
    return Case("%s%02d" % (name, seed), "\n".join(lines) + "\n", VARIANTS[seed % 3])


def random_dag(seed, g=None, name="dag"):
    """Named layers joined by add, concat and mul; g as random_sequential's."""
    g = g or Gen(1000 + seed)
    r = g.r
    line, s = g.input()
    lines = ["# random DAG%s, seed %d" % (" on a volume" * (g.nd == 3), seed), line, "fit floor"]
    nodes = {"input": s}           # name -> shape: spatial axes, then C
    used = {"input": 0}
    order = ["input"]
    count = [0]

    def new(stmt, shape, src=None):
        count[0] += 1
        name = "n%d" % count[0]
        lines.append("%s = %s%s" % (name, stmt, " from " + src if src else ""))
        for ref in re.findall(r"[A-Za-z_][\w.]*", stmt) + [src or ""]:
            if ref in used:
                used[ref] += 1
        nodes[name] = shape
        used[name] = 0
        order.append(name)
        return name

    def pick(pred=lambda n: True):
        cands = [n for n in order if pred(n)]
        if not cands:
            return None
        fresh = [n for n in cands if used[n] == 0]
        return r.choice(fresh) if fresh and r.random() < 0.7 else r.choice(cands[-4:])

    def spatial(n):
        return math.prod(nodes[n][:-1]) > 1

    def size(n):
        return nodes[n][:-1]

    def same_shape_pair(x):
        """Another node of x's shape, made by a shape-keeping conv if needed."""
        others = [n for n in order if n != x and nodes[n] == nodes[x]]
        if others and r.random() < 0.6:
            y = r.choice(others)
            used[y] += 1
            return y
        k = r.choice([1, 3])
        C = nodes[x][-1]
        return new("conv %s pad same%s" % (g.kernel((k,) * g.nd, C), g.act()), nodes[x], x)

    def one_channel(x):
        """A 1-channel node of x's size, made by a 1x1x1 conv if needed."""
        ones = [n for n in order if n != x and nodes[n] == size(x) + (1,)]
        if ones and r.random() < 0.6:
            return r.choice(ones)
        return new("conv %s%s" % (g.kernel((1,) * g.nd, 1), g.act()), size(x) + (1,), pick(
            lambda n: size(n) == size(x)))

    steps = r.randint(5, 10)
    while steps > 0:
        kind = r.choices(["single", "add", "concat", "mul", "crop"], [5, 2, 1.5, 1, 0.7])[0]
        if kind == "single":
            x = pick()
            got = g.single(nodes[x], not spatial(x))
            if got is None:
                continue
            stmt, s2 = got
            if g.too_big(s2):
                continue
            new(stmt, s2, x)
        elif kind == "add":
            x = pick()
            if g.nd == 3 and nodes[x][-1] > 1 and r.random() < 0.35:
                # V-Net's broadcast of a 1-channel operand over the channels
                y = one_channel(x)
                ins = [x, y] if r.random() < 0.5 else [y, x]
                new("add %s%s" % (", ".join(ins), g.act()), nodes[x])
                steps -= 1
                continue
            ins = [x, same_shape_pair(x)]
            if r.random() < 0.3:
                ins.append(same_shape_pair(x))
            if len(ins) == 2 and order[-1] == ins[1] and r.random() < 0.5:
                used[ins[1]] += 1
                new("add %s%s" % (x, g.act()), nodes[x])       # the one-name form
            else:
                new("add %s%s" % (", ".join(ins), g.act()), nodes[x])
        elif kind == "concat":
            x = pick(spatial)
            if x is None:
                continue
            ins = [x] + [n for n in order if n != x and size(n) == size(x)][-2:]
            if len(ins) == 1:
                F = r.randint(1, 4)
                ins.append(new("conv %s%s" % (g.kernel((1,) * g.nd, F), g.act()), size(x) + (F,), x))
            r.shuffle(ins)
            for n in ins:
                used[n] += 1
            new("concat %s" % ", ".join(ins), size(x) + (sum(nodes[n][-1] for n in ins),))
        elif kind == "mul":
            x = pick(spatial)
            if x is None:
                continue
            C = nodes[x][-1]
            dot = (1,) * g.nd + (C,)
            if r.random() < 0.7:
                # squeeze and excitation
                sq = new("pool %s global" % r.choice(["avg", "max"]), dot, x)
                ex = new("fc %d sigmoid" % C, dot, sq)
                a, b = (x, ex) if r.random() < 0.6 else (ex, x)
            else:
                a, b = x, same_shape_pair(x)
            new("mul %s, %s%s" % (a, b, g.act(0.3)), nodes[x])
        elif kind == "crop":
            big = pick(lambda n: min(size(n)) >= 4)
            if big is None:
                continue
            S, C = size(big), nodes[big][-1]
            smaller = [n for n in order if size(n)[0] < S[0] and
                       all(a <= b for a, b in zip(size(n)[1:], S[1:])) and spatial(n)]
            if smaller and r.random() < 0.6:
                y = r.choice(smaller)
                used[y] += 1
                c = new("crop %s" % "x".join(map(str, size(y))), size(y) + (C,), big)
                new("concat %s, %s" % (c, y), size(y) + (C + nodes[y][-1],))
            else:
                cut = tuple(a - r.randint(1, 3) for a in S)
                new("crop %s" % "x".join(map(str, cut)), cut + (C,), big)
        steps -= 1
    # The output joins every node that nothing reads yet (so that no layer
    # is dead): by concatenation when they agree in size, else after global
    # pooling.
    leaves = [n for n in order if used[n] == 0 and n != "input"]
    if len(leaves) > 1:
        if len(set(size(n) for n in leaves)) > 1:
            flat = []
            for n in leaves:
                if spatial(n):
                    n = new("pool %s global" % r.choice(["avg", "max"]), (1,) * g.nd + (nodes[n][-1],), n)
                flat.append(n)
            leaves = flat
        new("concat %s" % ", ".join(leaves), size(leaves[0]) + (sum(nodes[n][-1] for n in leaves),))
    g.ending(lines, nodes[order[-1]])
    return Case("%s%02d" % (name, seed), "\n".join(lines) + "\n", VARIANTS[(seed + 1) % 3])


# ------------------------------------------------------------- checking --

def run(cmd, cwd=None, env=None, timeout=600):
    p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


class Failure(Exception):
    pass


def must(cmd, what, **kw):
    rc, out, err = run(cmd, **kw)
    if rc != 0:
        raise Failure("%s failed (exit %d): %s\n%s" % (what, rc, " ".join(cmd), (err or out)[-3000:]))
    return out


def compile_net(text, args, d, index, cflags):
    """cnnc, then the harness with the generated code; returns the binary."""
    os.makedirs(d, exist_ok=True)
    src = os.path.join(d, "case.net")
    with open(src, "w") as f:
        f.write(text)
    must([CNNC, src, "-p", "net", "-o", os.path.join(d, "net.c")] + args, "cnnc")
    compilers = ["gcc", "clang"] if index % 2 == 0 else ["clang", "gcc"]
    compilers = [c for c in compilers if shutil.which(c)] or ["cc"]
    common = CFLAGS + ["-I", os.path.join(TOP, "runtime"), "-I", d]
    files = [os.path.join(HERE, "harness.c"), os.path.join(d, "net.c")]
    exe = os.path.join(d, "harness")
    libs = ["-lopenblas"] if "--blas" in args else []
    must([compilers[0]] + common + cflags + files + [os.path.join(LIBDIR, "libcnnrt.a")] + libs +
         ["-lz", "-lm", "-o", exe], compilers[0])
    for other in compilers[1:]:
        must([other] + common + ["-fsyntax-only", os.path.join(d, "net.c")], other + " -fsyntax-only")
    return exe, compilers[0]


def write_bin(path, t):
    t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tofile(path)


def read_bin(path, shape):
    return torch.from_numpy(np.fromfile(path, dtype="<f4").astype(np.float32)).reshape(shape)


class Errors:
    """The largest error of each kind of comparison, and what failed."""

    def __init__(self):
        self.worst = {}        # label -> (max abs err, max ratio)
        self.fails = []

    def check(self, label, what, got, ref, slack=None):
        got = got.detach().double().reshape(-1)
        ref = ref.detach().double().reshape(-1)
        if got.numel() != ref.numel():
            self.fails.append("%s: %d values, torch %d" % (what, got.numel(), ref.numel()))
            self.worst[label] = (math.inf, math.inf)
            return
        if got.numel() == 0:
            return
        tol = tolerance(ref)
        if slack is not None:
            tol = tol + slack.reshape(-1)
        err = (got - ref).abs()
        err = torch.where(torch.isnan(err), torch.full_like(err, math.inf), err)
        ratio = err / tol
        i = int(torch.argmax(ratio))
        m, q = float(err.max()), float(ratio[i])
        a, b = self.worst.get(label, (0.0, 0.0))
        self.worst[label] = (max(a, m), max(b, q))
        if q > 1:
            self.fails.append("%s: |c - torch| = %.3g at [%d] (c %.7g, torch %.7g; %d of %d values off)"
                              % (what, float(err[i]), i, float(got[i]), float(ref[i]),
                                 int((ratio > 1).sum()), ratio.numel()))

    def merge(self, other):
        for label, (m, q) in other.worst.items():
            a, b = self.worst.get(label, (0.0, 0.0))
            self.worst[label] = (max(a, m), max(b, q))
        self.fails += other.fails

    def summary(self):
        parts = []
        for label, (m, q) in self.worst.items():
            parts.append("%s %.1e%s" % (label, m, " (%.2f)" % q if q > 0.1 else ""))
        return " ".join(parts)


def init_weights(net, report, gen, x):
    """Random weights: kaiming-uniform weights, torch's bias bounds;
    batchnorm gamma, beta random and running statistics near those of the
    batch x (so that the activations keep their scale)."""
    with torch.no_grad():
        for L in report["layers"]:
            k = L["kind"]
            if k in ("conv", "deconv", "fc"):
                m = net.module(L["name"])
                fan_in = m.weight[0].numel()
                bound = math.sqrt(6.0 / fan_in)
                m.weight.uniform_(-bound, bound, generator=gen)
                if m.bias is not None:
                    b = 1 / math.sqrt(fan_in)
                    m.bias.uniform_(-b, b, generator=gen)
            elif k == "batchnorm":
                m = net.module(L["name"])
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.uniform_(-0.5, 0.5, generator=gen)
                m.reset_running_stats()
                m.momentum_saved, m.momentum = m.momentum, None    # running = batch statistics
            elif k == "prelu":
                net.module(L["name"]).weight.uniform_(0.05, 0.6, generator=gen)
        net.train()
        for m in net.mods.values():
            if isinstance(m, nn.Dropout):
                m.eval()
        net.check_native = False
        net(x)
        net.check_native = True
        for L in report["layers"]:
            if L["kind"] == "batchnorm":
                m = net.module(L["name"])
                m.momentum = m.momentum_saved
                del m.momentum_saved
                var = m.running_var.clamp(min=1e-2)
                m.running_mean.add_(0.2 * var.sqrt() * (torch.rand(var.shape, generator=gen) - 0.5))
                m.running_var.copy_(var * (0.7 + 0.6 * torch.rand(var.shape, generator=gen)))
                m.num_batches_tracked.zero_()
        net.eval()


def loss_fn(report, y, labels):
    """The generated code's loss (the report's "loss"): cross-entropy of the
    softmax output (the mean over images and output pixels; see below for a
    probability under 1e-30), V-Net's soft
    Dice loss of channel 1 (per image, then the mean), else MSE against
    one-hot labels."""
    if report["loss"] == "dice":
        p, g = y[:, 1], (labels == 1).to(y.dtype)
        every = tuple(range(1, p.dim()))      # the pixels, or voxels, of an item
        inter = (p * g).sum(dim=every)
        den = (p * p).sum(dim=every) + g.sum(dim=every)
        return torch.where(den > 0, 1 - 2 * inter / den, torch.zeros_like(den)).mean()
    onehot = torch.zeros_like(y).scatter_(1, labels.reshape(y.shape[0], 1, *y.shape[2:]), 1.0)
    if report["loss"] == "ce":
        # The C clamps the loss's value at -log(1e-30), yet its gradient
        # is softmax's p - onehot even there (fused): so the value is
        # clamped and the gradient that of -log p.
        nll = -torch.log((y * onehot).sum(dim=1).clamp(min=1e-300))
        return (nll + (nll.clamp(max=-math.log(1e-30)) - nll).detach()).mean()
    return ((y - onehot) ** 2).mean()


def torch_train(report, w0, x, labels, opt, lr, steps):
    """The float64 reference of `steps` training steps on one batch: per
    step the loss, the gradients with their near-kink slack (a KinkSlack
    whose graph stays valid: each step runs on a copy of the weights), and
    every tensor after the update."""
    master = torchnet.TorchNet(report).double()
    master.load_tensors(w0)
    params = master.tensors(with_state=False)
    plist = list(params.values())
    if not plist:
        o = None                      # nothing to learn: the losses only
    elif opt == "sgd":
        o = torch.optim.SGD(plist, lr=lr, momentum=SGD_MOMENTUM)
    else:
        o = torch.optim.Adam(plist, lr=lr)
    hist = []
    for _ in range(steps):
        net = torchnet.TorchNet(report).double()
        net.load_tensors({k: v.detach() for k, v in master.tensors().items()})
        net.train()
        net.kink_rel = KINK_REL
        for m in net.mods.values():
            if isinstance(m, nn.Dropout):
                m.p = 0.0
        loss = loss_fn(report, net(x.double()), labels.long())
        ks = torchnet.KinkSlack(net, loss, None, list(net.tensors(with_state=False).values()))
        with torch.no_grad():
            for k, v in net.tensors().items():
                if k not in params:
                    master.tensors()[k].copy_(v)           # running statistics
        for p, g in zip(plist, ks.base):
            p.grad = g.clone()
        if o:
            o.step()
        hist.append({"loss": loss.detach(), "ks": ks, "names": list(params),
                     "tensors": {k: v.detach().clone() for k, v in master.tensors().items()}})
    return hist


def tolerance(ref):
    """1e-4 + 1e-3*|ref|, the absolute part scaled by the tensor's rms when
    that is above 1: an element that is the small sum of large terms (a
    weight gradient of ResNet-18, whose elements reach 100) has the
    rounding error of the terms, not of the sum."""
    scale = max(1.0, float(ref.pow(2).mean().sqrt())) if ref.numel() else 1.0
    return ATOL * scale + RTOL * ref.abs()


def within(got, ref, slack):
    got = got.detach().double().reshape(-1)
    ref = ref.detach().double().reshape(-1)
    if got.numel() != ref.numel():
        return False
    tol = tolerance(ref)
    if slack is not None:
        tol = tol + slack.reshape(-1)
    return bool(((got - ref).abs() <= tol).all())


def check_kinks(E, ks, checks):
    """checks: (label, what, got, ref, slack()) with slack() reading
    ks.slack.  Near-kinks are added, closest first, only while something
    is off: usually none are needed."""
    while not all(within(got, ref, sl()) for _, _, got, ref, sl in checks) and ks.more():
        pass
    for label, what, got, ref, sl in checks:
        E.check(label, what, got, ref, sl())
    return ks.used


def no_dropout(text):
    return re.sub(r"\bdropout\s+[0-9.eE+-]+", "dropout 0", text)


def adam_spread(g, gc, lr):
    """How far Adam's first step lr*g/(|g| + eps) moves apart for the
    reference gradient g and the C's gc (checked against g above).  Large
    only where |g| is near eps: a gradient that is zero in exact arithmetic
    (a weight before a batchnorm that cancels its scale, a tensor behind a
    saturated tanh) is float64's rounding in g and float32's in gc."""
    def step(v):
        return lr * v / (v.abs() + 1e-8)
    return (step(g) - step(gc)).abs()


def train_check(E, exe, env, d, wpath, opt, lr, hist, steps):
    """Runs `steps` training steps of the generated code and compares them
    with the reference's (hist); returns the near-kinks it needed."""
    h = hist[steps - 1]
    ks = h["ks"]
    out = os.path.join(d, opt)
    os.makedirs(out, exist_ok=True)
    must([exe, "train", wpath, os.path.join(d, "x.bin"), os.path.join(d, "labels.bin"), str(BATCH), opt,
          repr(lr), repr(SGD_MOMENTUM), str(steps), out], "harness train " + opt, env=env)
    closs = [float(v) for v in open(os.path.join(out, "loss.txt")).read().split()]
    E.check("loss", opt + " loss", torch.tensor(closs), torch.stack([h["loss"] for h in hist[:steps]]))
    checks = []
    # the training backward (batchnorm on batch statistics), last step
    grads = torchnet.load_safetensors(os.path.join(out, "grads.safetensors"))
    index_of = {name: i for i, name in enumerate(h["names"])}
    for name, i in index_of.items():
        checks.append(("tdW", "%s: train d %s" % (opt, name), grads[name], ks.base[i], lambda i=i: ks.slack[i]))
    got = torchnet.load_safetensors(os.path.join(out, "w.safetensors"))
    for name, t in h["tensors"].items():
        label = "bn" if name.endswith(("running_mean", "running_var")) else opt
        sl = lambda: None
        if name in index_of:
            i = index_of[name]
            if opt == "sgd":
                sl = lambda i=i: lr * ks.slack[i]
            else:
                # Adam's first step is about lr*sign(g): a gradient whose
                # sign float32 cannot know moves by up to 2*lr
                def sl(g=ks.base[i], i=i, gc=grads[name]):
                    a = g.abs()
                    unknown = ((a <= 1e-5 * float(a.max()) + 1e-10) | (ks.slack[i] >= 0.5 * a)).double() * (2 * lr)
                    return torch.maximum(unknown, 1.25 * adam_spread(g, gc.double().reshape(g.shape), lr))
        checks.append((label, "%s: %s" % (opt, name), got[name], t, sl))
    return check_kinks(E, ks, checks)


def run_case(case, index, root):
    t0 = time.time()
    d = os.path.join(root, case.name)
    os.makedirs(d, exist_ok=True)
    E = Errors()
    notes = []
    gen = torch.Generator().manual_seed(zlib.crc32(case.name.encode()))
    env = dict(os.environ, **case.env)
    try:
        src = os.path.join(d, "case.net")
        with open(src, "w") as f:
            f.write(case.text)
        report = json.loads(must([CNNC, "--report=json", src], "cnnc --report=json"))
        *space, C = report["input"]          # H, W or, for a volume, D, H, W
        *ospace, oc = report["output"]
        net = torchnet.TorchNet(report)
        x = torch.randn((BATCH, C, *space), generator=gen)
        init_weights(net, report, gen, x)
        w0 = {k: v.detach().clone() for k, v in net.tensors().items()}
        wpath = os.path.join(d, "w0.safetensors")
        torchnet.save_safetensors(wpath, w0)
        dy = torch.randn((BATCH, oc, *ospace), generator=gen)
        write_bin(os.path.join(d, "x.bin"), x)
        write_bin(os.path.join(d, "dy.bin"), dy)
        # --no-train and --embed-weights (whose weights are w0): the forward only
        args, cflags = [], list(case.cflags)
        for a in case.args:
            args += [a, wpath] if a == "--embed-weights" else [a]
        forward_only = "--no-train" in args or "--embed-weights" in args
        cflags += ["-DFORWARD_ONLY"] if forward_only else []
        cflags += ["-DEMBEDDED"] if "--embed-weights" in args else []
        exe, cc = compile_net(case.text, args, os.path.join(d, "fb"), index, cflags)
        notes.append(cc)

        # -- inference forward and backward, max_batch 2: two chunks
        out = os.path.join(d, "fb")
        must([exe, "fb", wpath, os.path.join(d, "x.bin"), os.path.join(d, "dy.bin"), str(BATCH), "2", out],
             "harness fb", env=env)
        ref = net.double()
        ref.eval()
        ref.kink_rel = KINK_REL
        xr = x.double().requires_grad_(True)
        yr = ref(xr)
        if ref.native_errors:
            E.fails.extend("shape/ceil vs torch: " + e for e in ref.native_errors)
        E.check("y", "y", read_bin(os.path.join(out, "y.bin"), yr.shape), yr)
        if forward_only:
            return case, E, notes, time.time() - t0
        params = ref.tensors(with_state=False)
        ks = torchnet.KinkSlack(ref, yr, dy.double(), [xr] + list(params.values()))
        checks = [("dx", "dx", read_bin(os.path.join(out, "dx.bin"), xr.shape), ks.base[0],
                   lambda: ks.slack[0])]
        got = torchnet.load_safetensors(os.path.join(out, "grads.safetensors"))
        if set(got) != set(params):
            E.fails.append("gradient names: C %s, torch %s" % (sorted(got), sorted(params)))
        for i, name in enumerate(params, 1):
            if name in got:
                checks.append(("dW", "d " + name, got[name], ks.base[i], lambda i=i: ks.slack[i]))
        if check_kinks(E, ks, checks):
            notes.append("%d of %d near-kinks used" % (ks.used, ks.near()))

        # -- training: SGD with momentum, then Adam
        text = no_dropout(case.text)
        if text != case.text:
            exe, _ = compile_net(text, case.args, os.path.join(d, "train"), index + 1, case.cflags)
            notes.append("train without dropout")
        labels = torch.randint(0, oc, (BATCH, *ospace), generator=gen, dtype=torch.int32)
        labels.numpy().astype("<i4").tofile(os.path.join(d, "labels.bin"))
        for opt in ("sgd", "adam"):
            lr = SGD_LR if opt == "sgd" else ADAM_LR
            hist = torch_train(report, w0, x, labels, opt, lr, STEPS[opt])
            steps = len(hist)
            while True:
                T = Errors()
                used = train_check(T, exe, env, d, wpath, opt, lr, hist, steps)
                if T.fails and steps > 1 and any(h["ks"].near() for h in hist[:-1]):
                    # the second step starts from weights that may differ by
                    # a near-kink's gradient: one step only
                    notes.append("%s: %d steps off by near-kinks, 1 step" % (opt, steps))
                    steps = 1
                    continue
                break
            E.merge(T)
            if used:
                notes.append("%s: %d of %d near-kinks used" % (opt, used, hist[steps - 1]["ks"].near()))
    except Failure as e:
        E.fails.append(str(e))
    except torchnet.ShapeError as e:
        E.fails.append("shape vs torch: %s" % e)
    except Exception:
        E.fails.append("exception:\n" + traceback.format_exc())
    return case, E, notes, time.time() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--only", help="run the cases whose name matches this regex")
    ap.add_argument("--keep", help="keep every case's files in this directory")
    ap.add_argument("--random", type=int, default=20, help="random sequential nets")
    ap.add_argument("--dags", type=int, default=20, help="random DAGs")
    ap.add_argument("--vols", type=int, default=16, help="random sequential nets on volumes")
    ap.add_argument("--vol-dags", type=int, default=16, help="random DAGs on volumes")
    ap.add_argument("--no-resnet", action="store_true")
    ap.add_argument("--list", action="store_true", help="print the cases' texts and exit")
    ap.add_argument("files", nargs="*", help=".net files instead of the built-in set")
    a = ap.parse_args()

    if a.files:
        cases = file_cases(a.files)
    else:
        cases = file_cases(sorted(glob.glob(os.path.join(HERE, "cases", "*.net"))))
        cases += [random_sequential(s) for s in range(a.random)]
        cases += [random_dag(s) for s in range(a.dags)]
        cases += [random_sequential(s, Vol(3000 + s), "vseq") for s in range(a.vols)]
        cases += [random_dag(s, Vol(4000 + s), "vdag") for s in range(a.vol_dags)]
        if not a.no_resnet:
            cases.append(resnet18_case())
    if a.only:
        cases = [c for c in cases if re.search(a.only, c.name)]
    if a.list:
        for c in cases:
            print("==== %s %s\n%s" % (c.name, " ".join(c.args), c.text))
        return 0
    for tool in (CNNC, os.path.join(LIBDIR, "libcnnrt.a")):
        if not os.path.exists(tool):
            print("conform.py: %s is missing (run make)" % tool)
            return 2

    root = a.keep or tempfile.mkdtemp(prefix="cnnc-conform-")
    os.makedirs(root, exist_ok=True)
    t0 = time.time()
    passed = failed = 0
    lock = threading.Lock()
    # The big ones first, so that they overlap with the rest.
    order = sorted(range(len(cases)), key=lambda i: not cases[i].name.startswith("resnet"))
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, a.jobs)) as pool:
        futs = [pool.submit(run_case, cases[i], i, root) for i in order]
        for fut in concurrent.futures.as_completed(futs):
            case, E, notes, secs = fut.result()
            with lock:
                ok = not E.fails
                passed += ok
                failed += not ok
                print("%s %-22s %s  [%s, %.1fs]" % ("PASS" if ok else "FAIL", case.name, E.summary(),
                                                    ", ".join(notes), secs), flush=True)
                for f in E.fails[:12]:
                    print("     " + f.replace("\n", "\n     "), flush=True)
                if len(E.fails) > 12:
                    print("     ... and %d more" % (len(E.fails) - 12), flush=True)
    if not a.keep:
        shutil.rmtree(root, ignore_errors=True)
    print("conformance: %d passed, %d failed (%.0f s)" % (passed, failed, time.time() - t0))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
