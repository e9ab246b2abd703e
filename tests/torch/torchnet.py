"""torchnet.py - a PyTorch module that runs the graph of cnnc's JSON report.

    report = json.loads(subprocess.check_output(["build/cnnc", "--report=json", "x.net"]))
    net = TorchNet(report)            # float32; net.double() for a float64 reference
    y = net(x)                        # x: N x C x H x W, as the generated code's input
    tensors = net.tensors()           # {"conv1.weight": ..., "bn1.running_mean": ...}
    net.load_tensors(tensors)

Layers run in the report's order; each reads its inputs by name (the
network input is "input").  Every tensor is kept N x C x H x W, an fc
output as N x OUT x 1 x 1; on volumes (a 4-number input, SPEC 7) N x C x
D x H x W and N x OUT x 1 x 1 x 1, with the 3-D modules (Conv3d,
ConvTranspose3d, BatchNorm3d) and pads of 6 numbers, before then after
each of D, H, W (images: 4, before then after H and W).  The pads in the report are the pads as used
(`pad same` and the extra bottom/right rows of `fit ceil` included): conv
reads zeros there, max pooling -inf, and average pooling leaves them out of
the count (count_include_pad=False), but with `countpad`, where it counts
the report's "counted_pad" (count_include_pad=True).  After every layer the output shape is
checked against the report (ShapeError names the layer).  Where torch has
the same thing built in, the layer also runs natively and any difference
goes to `net.native_errors`: `fit ceil` and `countpad` pooling
(ceil_mode=True, count_include_pad=True, when its pads are within torch's
limit of half the window) and stride-1 `pad same` convolutions with an odd
total pad (padding='same').

Kinks: float32 code and a float64 reference may take different sides of a
non-differentiable point (a ReLU or PReLU input within rounding of 0, two values of
a max-pooling window within rounding of each other), and then their
gradients differ by that element's whole gradient.  With `net.kink_rel =
R` the forward records every such near decision (|x| < R*rms(x) for
relu/leaky/prelu; a max-pool window whose best two values differ by less than
R*rms(x), exact ties excluded since both sides break them alike) as a
Site, and KinkSlack computes the gradients with them flipped one at a
time, closest first: the sum of the differences bounds what the float32
code may differ by.

Also: safetensors read/write in pure Python (load_safetensors,
save_safetensors), since the `safetensors` package may be missing.
"""
import json
import math
import struct
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F


# the native check of `pad same` with even kernels copies the input: fine
warnings.filterwarnings("ignore", message=".*padding=.same. with even kernel.*")


class ShapeError(Exception):
    pass


class Site:
    """One layer's near-kink decisions: `dist` is each decision's distance
    from its other side over the tensor's rms, `near` marks those closer
    than kink_rel, `g` is the gradient arriving there (recorded by the
    first backward); `flip`, when set, is a mask of the decisions the
    backward takes the other way."""

    def __init__(self, name, dist, rel):
        self.name, self.dist, self.near = name, dist, dist < rel
        self.g = self.flip = None


class _Rectifier(torch.autograd.Function):
    """relu (alpha 0) / leaky relu whose backward can flip the sign test."""

    @staticmethod
    def forward(ctx, x, alpha, site):
        ctx.save_for_backward(x)
        ctx.alpha, ctx.site = alpha, site
        return torch.where(x > 0, x, x * alpha)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        pos = x > 0
        if ctx.site.flip is not None:
            pos = pos ^ ctx.site.flip
        elif ctx.site.g is None:
            ctx.site.g = g.detach()
        return torch.where(pos, g, g * ctx.alpha), None, None


class _PReLU(torch.autograd.Function):
    """prelu (a slope per channel, dim 1) whose backward can flip the sign
    test, as _Rectifier's."""

    @staticmethod
    def forward(ctx, x, a, site):
        slope = a.reshape(1, -1, *[1] * (x.dim() - 2))
        ctx.save_for_backward(x, slope)
        ctx.site = site
        return torch.where(x > 0, x, x * slope)

    @staticmethod
    def backward(ctx, g):
        x, slope = ctx.saved_tensors
        pos = x > 0
        if ctx.site.flip is not None:
            pos = pos ^ ctx.site.flip
        elif ctx.site.g is None:
            ctx.site.g = g.detach()
        every = [d for d in range(x.dim()) if d != 1]
        da = torch.where(pos, torch.zeros_like(x), x * g).sum(dim=every)
        return torch.where(pos, g, g * slope), da, None


class _MaxSelect(torch.autograd.Function):
    """cols.gather(1, idx) whose backward can route to the runner-up."""

    @staticmethod
    def forward(ctx, cols, idx, alt, site):
        ctx.save_for_backward(idx, alt)
        ctx.site, ctx.shape = site, cols.shape
        return cols.gather(1, idx)

    @staticmethod
    def backward(ctx, g):
        idx, alt = ctx.saved_tensors
        if ctx.site.flip is not None:
            idx = torch.where(ctx.site.flip, alt, idx)
        elif ctx.site.g is None:
            ctx.site.g = g.detach()
        out = g.new_zeros(ctx.shape)
        out.scatter_add_(1, idx, g)
        return out, None, None, None


def _rms(x):
    x = x.detach()
    x = x[torch.isfinite(x)]
    return float(x.pow(2).mean().sqrt()) if x.numel() else 0.0


class KinkSlack:
    """The gradients of out (with grad_out; None for a scalar loss) with
    respect to inputs (`base`, zeros for unused inputs), and a slack per
    input that more() grows, near-kink by near-kink, closest first, by how
    much flipping that one decision changes the gradients.  The sum bounds
    (to first order) what float32 code that took some of these decisions
    the other way may differ by."""

    def __init__(self, net, out, grad_out, inputs, limit=60):
        self.out, self.grad_out, self.inputs, self.limit = out, grad_out, inputs, limit
        self.base = self._grad() if inputs else []
        self.slack = [torch.zeros_like(g) for g in self.base]
        kinks = []
        for site in net.sites:
            for pos in site.near.nonzero().tolist():
                pos = tuple(pos)
                if site.g is not None and site.g[pos] != 0:   # else flipping changes nothing
                    kinks.append((float(site.dist[pos]), len(kinks), site, pos))
        self.todo = sorted(kinks, key=lambda k: k[:2]) if inputs else []
        self.used = 0

    def _grad(self):
        gs = torch.autograd.grad(self.out, self.inputs, self.grad_out, retain_graph=True, allow_unused=True)
        return [g if g is not None else torch.zeros_like(t) for g, t in zip(gs, self.inputs)]

    def near(self):
        """How many near-kinks could matter."""
        return len(self.todo)

    def more(self):
        """Adds the next near-kink; False when none is left (or the limit)."""
        if self.used >= min(len(self.todo), self.limit):
            return False
        _, _, site, pos = self.todo[self.used]
        self.used += 1
        site.flip = torch.zeros_like(site.near)
        site.flip[pos] = True
        for s, g, b in zip(self.slack, self._grad(), self.base):
            s += 1.25 * (g - b).abs()       # a quarter more: interactions, rounding
        site.flip = None
        return True


ACTIVATIONS = ("relu", "sigmoid", "tanh", "leaky", "linear", "softmax", "elu", "hardtanh")


def _key(name):
    """A ModuleDict key for a layer name (which may contain dots)."""
    return "L_" + name.replace(".", "__")


class TorchNet(nn.Module):
    def __init__(self, report):
        super().__init__()
        self.report = report
        self.layers = report["layers"]
        self.shapes = {"input": tuple(report["input"])}   # name -> (H, W, C) or (D, H, W, C)
        self.nd = len(report["input"]) - 1                # spatial axes: 2 or 3
        Conv, Deconv, BatchNorm = ((nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm2d) if self.nd == 2
                                   else (nn.Conv3d, nn.ConvTranspose3d, nn.BatchNorm3d))
        self.mods = nn.ModuleDict()
        self.native_errors = []
        self.check_native = True
        self.kink_rel = None          # see KinkSlack
        self.sites = []
        for L in self.layers:
            cin = self.shapes[L["inputs"][0]][-1] if L["inputs"] else 0
            k = L["kind"]
            m = None
            if k == "conv":
                m = Conv(cin, L["output"][-1], tuple(L["kernel"]), tuple(L["stride"]), 0,
                              tuple(L["dilation"]), L["groups"], L["bias"])
            elif k == "deconv":
                m = Deconv(cin, L["output"][-1], tuple(L["kernel"]), tuple(L["stride"]), 0,
                                       0, L["groups"], L["bias"], tuple(L["dilation"]))
            elif k == "fc":
                m = nn.Linear(math.prod(self.shapes[L["inputs"][0]]), L["output"][-1], L["bias"])
            elif k == "batchnorm":
                m = BatchNorm(cin, eps=L["eps"], momentum=L["momentum"])
            elif k == "dropout":
                m = nn.Dropout(L["p"])
            elif k == "prelu":
                m = nn.PReLU(cin, init=0.25)
            if m is not None:
                self.mods[_key(L["name"])] = m
            self.shapes[L["name"]] = tuple(L["output"])

    def module(self, name):
        return self.mods[_key(name)]

    # ---- tensors by PyTorch state_dict name ----

    def tensors(self, with_state=True):
        """The model's tensors under cnnc's names, in report order."""
        out = {}
        for L in self.layers:
            key = _key(L["name"])
            if key not in self.mods or L["kind"] == "dropout":
                continue
            m = self.mods[key]
            out[L["name"] + ".weight"] = m.weight
            if getattr(m, "bias", None) is not None:     # nn.PReLU has none
                out[L["name"] + ".bias"] = m.bias
            if with_state and L["kind"] == "batchnorm":
                out[L["name"] + ".running_mean"] = m.running_mean
                out[L["name"] + ".running_var"] = m.running_var
        return out

    def load_tensors(self, values):
        with torch.no_grad():
            for name, t in self.tensors().items():
                t.copy_(torch.as_tensor(values[name]).reshape(t.shape))

    # ---- forward ----

    def forward(self, x):
        vals = {"input": x}
        self.sites = []
        for L in self.layers:
            ins = [vals[n] for n in L["inputs"]]
            y = self._layer(L, ins)
            act = L.get("activation")
            if act and L["kind"] not in ACTIVATIONS:
                y = self._act(y, act, L)   # trailing
            *space, c = L["output"]
            if tuple(y.shape[1:]) != (c, *space):
                raise ShapeError("%s (%s): torch gives C,spatial %s, the report %s (spatial, C)"
                                 % (L["name"], L["kind"], "x".join(map(str, y.shape[1:])),
                                    "x".join(map(str, L["output"]))))
            vals[L["name"]] = y
        return vals[self.layers[-1]["name"]]

    def _layer(self, L, ins):
        k = L["kind"]
        x = ins[0] if ins else None
        if self.nd == 3 and k in ("conv", "deconv", "fc", "flatten", "upsample", "crop"):
            return self._layer3d(L, x)
        if k == "conv":
            m = self.module(L["name"])
            t, l, b, r = L["pad"]
            if t == b and l == r:
                return F.conv2d(x, m.weight, m.bias, m.stride, (t, l), m.dilation, m.groups)
            y = m(F.pad(x, (l, r, t, b)))
            dh, dw = m.dilation
            kh, kw = m.kernel_size
            if self.check_native and m.stride == (1, 1) and t + b == dh * (kh - 1) and l + r == dw * (kw - 1):
                # `pad same`: torch's padding='same' puts the odd row/column last too
                with torch.no_grad():
                    z = F.conv2d(x, m.weight, m.bias, 1, "same", m.dilation, m.groups)
                if z.shape != y.shape or not torch.allclose(z, y.detach(), rtol=1e-5, atol=1e-6):
                    self.native_errors.append("%s: torch padding='same' gives other values" % L["name"])
            return y
        if k == "deconv":
            m = self.module(L["name"])
            t, l, b, r = L["pad"]
            if t == b and l == r:
                return F.conv_transpose2d(x, m.weight, m.bias, m.stride, (t, l), 0, m.groups, m.dilation)
            y = m(x)
            return y[:, :, t:y.shape[2] - b, l:y.shape[3] - r]
        if k == "pool":
            return self._pool(L, x)
        if k == "fc":
            m = self.module(L["name"])
            return m(x.reshape(x.shape[0], -1)).reshape(x.shape[0], -1, 1, 1)
        if k == "prelu" and self.kink_rel is not None:
            return self._rectify(x, L["name"], lambda site: _PReLU.apply(x, self.module(L["name"]).weight, site))
        if k in ("batchnorm", "dropout", "prelu"):
            return self.module(L["name"])(x)
        if k in ACTIVATIONS:
            return self._act(x, k, L)
        if k == "flatten":
            return x.reshape(x.shape[0], -1, 1, 1)
        if k == "upsample":
            f = L["factor"]
            return x.repeat_interleave(f, dim=2).repeat_interleave(f, dim=3)
        if k == "add":             # a 1-channel operand broadcasts
            y = ins[0]
            for z in ins[1:]:
                y = y + z
            return y
        if k == "mul":
            return ins[0] * ins[1]
        if k == "concat":
            return torch.cat(ins, dim=1)
        if k == "lrn":
            return F.local_response_norm(x, L["size"], L["alpha"], L["beta"], L["k"])
        if k == "crop":
            h, w = L["size"]
            top, left = (x.shape[2] - h) // 2, (x.shape[3] - w) // 2
            return x[:, :, top:top + h, left:left + w]
        raise ValueError("unknown layer kind %r (%s)" % (k, L["name"]))

    def _layer3d(self, L, x):
        """The layers whose 3-D form differs from the 2-D one (pooling
        is _pool's, for both)."""
        k, n = L["kind"], x.shape[0]
        if k in ("fc", "flatten"):
            flat = x.reshape(n, -1)
            if k == "fc":
                flat = self.module(L["name"])(flat)
            return flat.reshape(n, -1, 1, 1, 1)
        if k == "upsample":
            f = L["factor"]
            return x.repeat_interleave(f, dim=2).repeat_interleave(f, dim=3).repeat_interleave(f, dim=4)
        if k == "crop":
            d, h, w = L["size"]
            f, t, l = [(s - c) // 2 for s, c in zip(x.shape[2:], (d, h, w))]
            return x[:, :, f:f + d, t:t + h, l:l + w]
        before, after = L["pad"][:3], L["pad"][3:]
        if k == "conv":
            m = self.module(L["name"])
            if before == after:
                return F.conv3d(x, m.weight, m.bias, m.stride, tuple(before), m.dilation, m.groups)
            return m(F.pad(x, _fpad(before, after)))
        if k == "deconv":
            m = self.module(L["name"])
            if before == after:
                return F.conv_transpose3d(x, m.weight, m.bias, m.stride, tuple(before), 0, m.groups, m.dilation)
            y = m(x)
            return y[:, :, before[0]:y.shape[2] - after[0], before[1]:y.shape[3] - after[1],
                     before[2]:y.shape[4] - after[2]]
        raise ValueError("unknown 3-D layer kind %r (%s)" % (k, L["name"]))

    def _act(self, x, act, L):
        alpha, name = L.get("alpha", 0.1), L["name"]
        if self.kink_rel is None or act not in ("relu", "leaky"):
            return activation(x, act, L)
        return self._rectify(x, name, lambda site: _Rectifier.apply(x, alpha if act == "leaky" else 0.0, site))

    def _rectify(self, x, name, apply):
        """A rectifier with its near-kinks (inputs near 0) as a Site."""
        site = Site(name, x.detach().abs() / max(_rms(x), 1e-30), self.kink_rel)
        self.sites.append(site)
        return apply(site)

    def _max_pool(self, x, k, s, name):
        """Max pooling, the first maximum of each window (in D, H, W
        order), as the C does."""
        nd = len(k)
        if self.kink_rel is None:
            return (F.max_pool2d if nd == 2 else F.max_pool3d)(x, k, s)
        N, C, *size = x.shape
        out = [(n - kk) // ss + 1 for n, kk, ss in zip(size, k, s)]
        w = x
        for a in range(nd):
            w = w.unfold(2 + a, k[a], s[a])          # N, C, out..., k...
        cols = w.reshape(N * C, math.prod(out), math.prod(k)).transpose(1, 2)   # N*C, taps, windows
        idx = cols.detach().argmax(dim=1, keepdim=True)
        other = cols.detach().scatter(1, idx, -math.inf)
        alt = other.argmax(dim=1, keepdim=True)
        gap = cols.detach().gather(1, idx) - other.gather(1, alt)
        # exact ties (gap 0) are no kink: both sides take the first maximum
        gap = torch.where(gap > 0, gap / max(_rms(x), 1e-30), torch.full_like(gap, math.inf))
        site = Site(name, gap, self.kink_rel)
        self.sites.append(site)
        y = _MaxSelect.apply(cols, idx, alt, site)
        return y.reshape(N, C, *out)

    def _pool(self, L, x):
        """Pooling of images and volumes: pads are the report's, before
        then after each axis."""
        nd = self.nd
        if L["global"]:
            if L["pool"] == "max":
                return self._max_pool(x, tuple(x.shape[2:]), (1,) * nd, L["name"])
            return x.mean(dim=tuple(range(2, 2 + nd)), keepdim=True)
        k, s = tuple(L["kernel"]), tuple(L["stride"])
        before, after = L["pad"][:nd], L["pad"][nd:]
        if L["pool"] == "max":
            y = self._max_pool(F.pad(x, _fpad(before, after), value=-math.inf), k, s, L["name"])
        else:
            # ones where the average counts: the image, and with countpad
            # the counted padding too
            counted = L["counted_pad"] if L.get("countpad") else [0] * (2 * nd)
            cb, ca = counted[:nd], counted[nd:]
            avg = F.avg_pool2d if nd == 2 else F.avg_pool3d
            ones = F.pad(torch.ones_like(x[:1, :1]), _fpad(cb, ca), value=1.0)
            rest = _fpad([p - c for p, c in zip(before, cb)], [p - c for p, c in zip(after, ca)])
            total = avg(F.pad(x, _fpad(before, after)), k, s, divisor_override=1)
            count = avg(F.pad(ones, rest), k, s, divisor_override=1)
            y = total / count
        self._native_pool(L, x, y)
        return y

    def _native_pool(self, L, x, y):
        """`fit ceil`, `countpad`: torch's ceil_mode and count_include_pad
        must give the same shape and values, where torch allows the pads
        (symmetric, at most half the window) and the window (no larger than
        the input without its pads)."""
        nd = self.nd
        k, s = tuple(L["kernel"]), tuple(L["stride"])
        before, after = L["pad"][:nd], L["pad"][nd:]
        ceil = any(a > b for a, b in zip(after, before))
        countpad = L.get("countpad", False)
        if countpad:   # torch's own countpad: symmetric pads, ceil_mode for the rest
            cb, ca = L["counted_pad"][:nd], L["counted_pad"][nd:]
            ceil = any(a > c for a, c in zip(after, ca))
            native = cb == ca
        else:
            native = ceil
        fits = all(2 * p <= kk <= n for p, kk, n in zip(before, k, x.shape[2:]))   # torch's limits
        if not (self.check_native and native and fits):
            return
        with torch.no_grad():
            if L["pool"] == "max":
                z = (F.max_pool2d if nd == 2 else F.max_pool3d)(x, k, s, tuple(before), ceil_mode=True)
            else:
                z = (F.avg_pool2d if nd == 2 else F.avg_pool3d)(x, k, s, tuple(before), ceil_mode=ceil,
                                                                 count_include_pad=countpad)
        if z.shape != y.shape:
            self.native_errors.append("%s: torch ceil_mode gives %s, the report %s"
                                      % (L["name"], "x".join(map(str, z.shape[2:])),
                                         "x".join(map(str, y.shape[2:]))))
        elif not torch.allclose(z, y.detach(), rtol=1e-5, atol=1e-6):
            self.native_errors.append("%s: torch ceil_mode pooling gives other values" % L["name"])


def _fpad(before, after):
    """F.pad's pads for the axes' pads before and after: the last axis first."""
    out = []
    for b, a in zip(reversed(before), reversed(after)):
        out += [b, a]
    return tuple(out)



def activation(x, act, L):
    """The activation act with the numbers of the report's layer L."""
    alpha = L.get("alpha", 0.1)
    if act == "relu":
        return F.relu(x)
    if act == "sigmoid":
        return torch.sigmoid(x)
    if act == "tanh":
        return torch.tanh(x)
    if act == "leaky":
        return F.leaky_relu(x, alpha)
    if act == "elu":
        return F.elu(x, alpha)
    if act == "hardtanh":
        return F.hardtanh(x, L["min"], L["max"])
    if act == "linear":
        return x
    if act == "softmax":
        return F.softmax(x, dim=1)
    raise ValueError("unknown activation %r" % act)


# ---- safetensors ----

_DTYPES = {"F32": ("<f4", 4), "F64": ("<f8", 8), "I32": ("<i4", 4), "I64": ("<i8", 8)}


def save_safetensors(path, tensors):
    """Writes {name: tensor} as F32 safetensors, in the dict's order."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.detach().to(torch.float32).contiguous().cpu().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    """Reads a safetensors file into {name: float32 tensor}, file order."""
    import numpy as np
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode())
    base = 8 + n
    out = {}
    items = [(k, v) for k, v in header.items() if k != "__metadata__"]
    items.sort(key=lambda kv: kv[1]["data_offsets"][0])
    for name, e in items:
        fmt, size = _DTYPES[e["dtype"]]
        b, end = e["data_offsets"]
        count = int(np.prod(e["shape"])) if e["shape"] else 1
        if end - b != count * size or base + end > len(raw):
            raise ValueError("%s: %s: bad data_offsets" % (path, name))
        a = np.frombuffer(raw, dtype=fmt, count=count, offset=base + b).reshape(e["shape"])
        out[name] = torch.from_numpy(a.astype(np.float32))
    return out
