"""torchnet.py - a PyTorch module that runs the graph of cnnc's JSON report.

    report = json.loads(subprocess.check_output(["build/cnnc", "--report=json", "x.net"]))
    net = TorchNet(report)            # float32; net.double() for a float64 reference
    y = net(x)                        # x: N x C x H x W, as the generated code's input
    tensors = net.tensors()           # {"conv1.weight": ..., "bn1.running_mean": ...}
    net.load_tensors(tensors)

Layers run in the report's order; each reads its inputs by name (the
network input is "input").  Every tensor is kept N x C x H x W, an fc
output as N x OUT x 1 x 1.  The pads in the report are the pads as used
(`pad same` and the extra bottom/right rows of `fit ceil` included): conv
reads zeros there, max pooling -inf, and average pooling leaves them out of
the count (count_include_pad=False).  After every layer the output shape is
checked against the report (ShapeError names the layer).  Pooling layers
whose pads torch's own MaxPool2d/AvgPool2d(ceil_mode=True) can express are
also run natively, and any difference is collected in `net.native_errors`.

Also: safetensors read/write in pure Python (load_safetensors,
save_safetensors), since the `safetensors` package may be missing.
"""
import json
import math
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F


class ShapeError(Exception):
    pass


ACTIVATIONS = ("relu", "sigmoid", "tanh", "leaky", "linear", "softmax")


def _key(name):
    """A ModuleDict key for a layer name (which may contain dots)."""
    return "L_" + name.replace(".", "__")


class TorchNet(nn.Module):
    def __init__(self, report):
        super().__init__()
        self.report = report
        self.layers = report["layers"]
        self.shapes = {"input": tuple(report["input"])}   # name -> (H, W, C)
        self.mods = nn.ModuleDict()
        self.native_errors = []
        self.check_native = True
        for L in self.layers:
            cin = self.shapes[L["inputs"][0]][2] if L["inputs"] else 0
            k = L["kind"]
            m = None
            if k == "conv":
                m = nn.Conv2d(cin, L["output"][2], tuple(L["kernel"]), tuple(L["stride"]), 0,
                              tuple(L["dilation"]), L["groups"], L["bias"])
            elif k == "deconv":
                m = nn.ConvTranspose2d(cin, L["output"][2], tuple(L["kernel"]), tuple(L["stride"]), 0,
                                       0, L["groups"], L["bias"], tuple(L["dilation"]))
            elif k == "fc":
                h, w, c = self.shapes[L["inputs"][0]]
                m = nn.Linear(h * w * c, L["output"][2], L["bias"])
            elif k == "batchnorm":
                m = nn.BatchNorm2d(cin, eps=L["eps"], momentum=L["momentum"])
            elif k == "dropout":
                m = nn.Dropout(L["p"])
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
            if m.bias is not None:
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
        for L in self.layers:
            ins = [vals[n] for n in L["inputs"]]
            y = self._layer(L, ins)
            act = L.get("activation")
            if act and L["kind"] not in ACTIVATIONS:
                y = activation(y, act, L.get("alpha", 0.1))   # trailing
            h, w, c = L["output"]
            if tuple(y.shape[1:]) != (c, h, w):
                raise ShapeError("%s (%s): torch gives CxHxW %s, the report %dx%dx%d (HxWxC)"
                                 % (L["name"], L["kind"], "x".join(map(str, y.shape[1:])), h, w, c))
            vals[L["name"]] = y
        return vals[self.layers[-1]["name"]]

    def _layer(self, L, ins):
        k = L["kind"]
        x = ins[0] if ins else None
        if k == "conv":
            m = self.module(L["name"])
            t, l, b, r = L["pad"]
            if t == b and l == r:
                return F.conv2d(x, m.weight, m.bias, m.stride, (t, l), m.dilation, m.groups)
            return m(F.pad(x, (l, r, t, b)))
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
        if k == "batchnorm" or k == "dropout":
            return self.module(L["name"])(x)
        if k in ACTIVATIONS:
            return activation(x, k, L.get("alpha", 0.1))
        if k == "flatten":
            return x.reshape(x.shape[0], -1, 1, 1)
        if k == "upsample":
            f = L["factor"]
            return x.repeat_interleave(f, dim=2).repeat_interleave(f, dim=3)
        if k == "add":
            y = ins[0]
            for z in ins[1:]:
                y = y + z
            return y
        if k == "mul":
            return ins[0] * ins[1]
        if k == "concat":
            return torch.cat(ins, dim=1)
        if k == "crop":
            h, w = L["size"]
            top, left = (x.shape[2] - h) // 2, (x.shape[3] - w) // 2
            return x[:, :, top:top + h, left:left + w]
        raise ValueError("unknown layer kind %r (%s)" % (k, L["name"]))

    def _pool(self, L, x):
        if L["global"]:
            if L["pool"] == "max":
                return F.max_pool2d(x, (x.shape[2], x.shape[3]))
            return x.mean(dim=(2, 3), keepdim=True)
        kh, kw = L["kernel"]
        s = tuple(L["stride"])
        t, l, b, r = L["pad"]
        if L["pool"] == "max":
            y = F.max_pool2d(F.pad(x, (l, r, t, b), value=-math.inf), (kh, kw), s)
        else:
            ones = torch.ones_like(x[:1, :1])
            total = F.avg_pool2d(F.pad(x, (l, r, t, b)), (kh, kw), s, divisor_override=1)
            count = F.avg_pool2d(F.pad(ones, (l, r, t, b)), (kh, kw), s, divisor_override=1)
            y = total / count
        if self.check_native and (b > t or r > l) and 2 * t <= kh and 2 * l <= kw:
            # `fit ceil`: torch's ceil_mode must give the same shape and values.
            with torch.no_grad():
                if L["pool"] == "max":
                    z = F.max_pool2d(x, (kh, kw), s, (t, l), ceil_mode=True)
                else:
                    z = F.avg_pool2d(x, (kh, kw), s, (t, l), ceil_mode=True, count_include_pad=False)
            if z.shape != y.shape:
                self.native_errors.append("%s: torch ceil_mode gives HxW %dx%d, the report %dx%d"
                                          % (L["name"], z.shape[2], z.shape[3], y.shape[2], y.shape[3]))
            elif not torch.allclose(z, y.detach(), rtol=1e-5, atol=1e-6):
                self.native_errors.append("%s: torch ceil_mode pooling gives other values" % L["name"])
        return y


def activation(x, act, alpha=0.1):
    if act == "relu":
        return F.relu(x)
    if act == "sigmoid":
        return torch.sigmoid(x)
    if act == "tanh":
        return torch.tanh(x)
    if act == "leaky":
        return F.leaky_relu(x, alpha)
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
