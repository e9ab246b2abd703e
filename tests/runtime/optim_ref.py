#!/usr/bin/python3
"""Reference values for the runtime's tests, computed with PyTorch.

    /usr/bin/python3 tests/runtime/optim_ref.py > tests/runtime/optim_ref.h
        writes the C header of expected values (checked in, so that the C
        test needs neither Python nor torch):
          - torch.optim.SGD / Adam trajectories on fixed numbers,
          - StepLR / CosineAnnealingLR learning rates per epoch,
          - a safetensors file holding a torch state_dict (written byte by
            byte here, as the `safetensors` package is not installed) and
            its tensors' values,
          - xoshiro256**/splitmix64 known answers.
    /usr/bin/python3 tests/runtime/optim_ref.py --check FILE
        parses FILE (written by the C runtime's cnn_st_write) by hand and
        compares it with the same state_dict; loads it into the torch model.

Debian's python3-torch (1.13) lives in /usr/bin/python3.
"""
import json
import math
import struct
import sys

import numpy as np
import torch

F32 = np.float32


def f32(x):
    """x rounded to float32, as a Python float: the C side holds floats."""
    return float(F32(x))


def cfloat(x):
    """An exact C99 hexadecimal float literal: -0x1.c99968p-4f."""
    mant, exp = float(F32(x)).hex().split("p")
    mant = mant.rstrip("0").rstrip(".")
    return mant + "p" + exp + "f"


def carray(vals, per_line=6, indent="    "):
    vals = list(vals)
    lines = []
    for i in range(0, len(vals), per_line):
        lines.append(indent + ", ".join(vals[i:i + per_line]) + ",")
    return "\n".join(lines)


# ---- optimizers ----------------------------------------------------------

N = 19          # 16 go through torch's vectorised kernels, 3 through its scalar tail
STEPS = 6


def opt_data():
    g = torch.Generator().manual_seed(1234)
    w0 = torch.randn(N, generator=g)
    grads = [torch.randn(N, generator=g) * (0.5 + k) for k in range(STEPS)]
    for k in range(STEPS):
        grads[k][k] = 0.0           # exact zeros exercise Adam's eps path
    return w0, grads


CASES = [
    # name, kind, lrs per step, momentum, weight_decay, nesterov, beta1, beta2, eps
    ("sgd", "sgd", [0.1] * STEPS, 0.0, 0.0, False, 0.9, 0.999, 1e-8),
    ("sgd_momentum", "sgd", [0.05] * STEPS, 0.9, 0.0, False, 0.9, 0.999, 1e-8),
    ("sgd_nesterov", "sgd", [0.05] * STEPS, 0.9, 0.0, True, 0.9, 0.999, 1e-8),
    ("sgd_weight_decay", "sgd", [0.1] * STEPS, 0.0, 0.01, False, 0.9, 0.999, 1e-8),
    ("sgd_momentum_wd", "sgd", [0.05] * STEPS, 0.5, 0.001, False, 0.9, 0.999, 1e-8),
    ("sgd_nesterov_wd_steplr", "sgd", [0.1, 0.1, 0.05, 0.05, 0.025, 0.025], 0.9, 0.0005, True, 0.9, 0.999, 1e-8),
    ("adam", "adam", [0.01] * STEPS, 0.0, 0.0, False, 0.9, 0.999, 1e-8),
    ("adam_weight_decay", "adam", [0.01] * STEPS, 0.0, 0.1, False, 0.9, 0.999, 1e-8),
    ("adam_betas_eps", "adam", [0.002] * STEPS, 0.0, 0.0, False, 0.8, 0.99, 1e-3),
    ("adam_wd_varying_lr", "adam", [0.001, 0.002, 0.003, 0.001, 0.0005, 0.01], 0.0, 0.01, False, 0.9, 0.999, 1e-8),
]


def run_case(case, w0, grads):
    name, kind, lrs, mom, wd, nest, b1, b2, eps = case
    p = torch.nn.Parameter(w0.clone())
    if kind == "sgd":
        opt = torch.optim.SGD([p], lr=f32(lrs[0]), momentum=f32(mom), weight_decay=f32(wd),
                              nesterov=nest, foreach=False)
    else:
        opt = torch.optim.Adam([p], lr=f32(lrs[0]), betas=(f32(b1), f32(b2)), eps=f32(eps),
                               weight_decay=f32(wd), foreach=False)
    out = []
    for k in range(STEPS):
        for group in opt.param_groups:
            group["lr"] = f32(lrs[k])
        p.grad = grads[k].clone()
        opt.step()
        out.append(p.detach().clone())
    return out


def emit_optim(w0, grads):
    print("#define OPT_N %d" % N)
    print("#define OPT_STEPS %d" % STEPS)
    print("static const float opt_w0[OPT_N] = {\n%s\n};" % carray(map(cfloat, w0.tolist())))
    print("static const float opt_g[OPT_STEPS][OPT_N] = {")
    for g in grads:
        print("  {\n%s\n  }," % carray(map(cfloat, g.tolist()), indent="    "))
    print("};")
    print("""typedef struct {
    const char *name;
    int adam;
    float lr[OPT_STEPS];
    float momentum, weight_decay;
    int nesterov;
    float beta1, beta2, eps;
    float w[OPT_STEPS][OPT_N];      /* parameters after each step */
} opt_case;""")
    print("static const opt_case opt_cases[] = {")
    for case in CASES:
        name, kind, lrs, mom, wd, nest, b1, b2, eps = case
        traj = run_case(case, w0, grads)
        print("  {\"%s\", %d, {%s}, %s, %s, %d, %s, %s, %s, {" % (
            name, kind == "adam", ", ".join(map(cfloat, lrs)), cfloat(mom), cfloat(wd),
            int(nest), cfloat(b1), cfloat(b2), cfloat(eps)))
        for w in traj:
            print("    {\n%s\n    }," % carray(map(cfloat, w.tolist()), indent="      "))
        print("  }},")
    print("};")


# ---- learning-rate schedules ----------------------------------------------

SCHEDS = [
    # kind (1 step, 2 cosine), lr, step_size, gamma, total_epochs, epochs
    (1, 0.1, 3, 0.5, 0, 10),
    (1, 0.01, 1, 0.9, 0, 6),
    (2, 0.1, 0, 0.1, 5, 8),
    (2, 0.003, 0, 0.1, 12, 12),
]


def emit_sched():
    print("#define SCHED_MAX_EPOCHS 12")
    print("typedef struct { int kind; float lr; int step_size; float gamma; int total_epochs; int epochs;"
          " float expect[SCHED_MAX_EPOCHS]; } sched_case;")
    print("static const sched_case sched_cases[] = {")
    for kind, lr, step, gamma, total, epochs in SCHEDS:
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([p], lr=f32(lr))
        if kind == 1:
            s = torch.optim.lr_scheduler.StepLR(opt, step_size=step, gamma=f32(gamma))
        else:
            s = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total, eta_min=0)
        lrs = []
        for _ in range(epochs):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            s.step()
        print("  {%d, %s, %d, %s, %d, %d, {%s}}," % (kind, cfloat(lr), step, cfloat(gamma), total,
                                                    epochs, ", ".join(map(cfloat, lrs))))
    print("};")


# ---- safetensors ------------------------------------------------------------

DTYPE_NAMES = {torch.float32: "F32", torch.int64: "I64", torch.float16: "F16"}
# the reference writer orders tensors by descending dtype (its enum order:
# ... F16 < ... < F32 < F64 < I64 ...), then by name
DTYPE_RANK = {torch.float16: 7, torch.float32: 11, torch.int64: 13}


def reference_state_dict():
    """A small model's state_dict (plus an F16 tensor), deterministic."""
    torch.manual_seed(7)
    model = torch.nn.Module()
    model.conv1 = torch.nn.Conv2d(1, 2, 3)
    model.bn1 = torch.nn.BatchNorm2d(2)
    model.fc1 = torch.nn.Linear(4, 3)
    model.bn1(torch.randn(4, 2, 3, 3))          # non-trivial running statistics
    sd = dict(model.state_dict())
    sd["extra.half"] = torch.tensor([1.5, -2.0, 0.25], dtype=torch.float16)
    return model, sd


def safetensors_bytes(sd):
    """What safetensors.torch.save_file writes: tensors by descending dtype
    then name, metadata first, compact JSON, header padded with spaces to a
    multiple of 8."""
    header = {"__metadata__": {"format": "pt"}}
    blobs = []
    off = 0
    for name in sorted(sd, key=lambda n: (-DTYPE_RANK[sd[n].dtype], n)):
        t = sd[name].contiguous()
        raw = t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def emit_safetensors():
    _, sd = reference_state_dict()
    data = safetensors_bytes(sd)
    print("static const unsigned char st_ref_file[] = {")
    for i in range(0, len(data), 16):
        print("    " + ", ".join("%d" % b for b in data[i:i + 16]) + ",")
    print("};")
    print("#define ST_REF_COUNT %d   /* tensors in the file */" % len(sd))
    f32s = [(n, t) for n, t in sorted(sd.items()) if t.dtype == torch.float32]
    maxn = max(t.numel() for _, t in f32s)
    print("#define ST_REF_MAXN %d" % maxn)
    print("typedef struct { const char *name; int ndim; int64_t shape[4]; int n; float v[ST_REF_MAXN]; } st_ref_tensor;")
    print("static const st_ref_tensor st_ref_f32[] = {")
    for n, t in f32s:
        shape = list(t.shape) + [0] * (4 - t.dim())
        print("  {\"%s\", %d, {%s}, %d, {\n%s\n  }}," % (n, t.dim(), ", ".join(map(str, shape)), t.numel(),
                                                      carray(map(cfloat, t.flatten().tolist()), indent="    ")))
    print("};")
    print("#define ST_REF_F32_COUNT %d" % len(f32s))


def check_file(path):
    """Parses a file written by cnn_st_write by hand and compares it with the
    reference state_dict; then loads it into the torch model."""
    model, sd = reference_state_dict()
    with open(path, "rb") as f:
        data = f.read()
    (hlen,) = struct.unpack("<Q", data[:8])
    assert hlen % 8 == 0, "header not padded to a multiple of 8"
    text = data[8:8 + hlen].decode("utf-8")
    assert text.rstrip(" ").endswith("}"), "header padding is not spaces"
    header = json.loads(text)
    assert header.pop("__metadata__", {}).get("format") == "pt"
    body = data[8 + hlen:]
    loaded, end = {}, 0
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"]):
        assert info["dtype"] == "F32", name
        b, e = info["data_offsets"]
        assert b == end, "hole or overlap before %s" % name
        end = e
        arr = np.frombuffer(body[b:e], dtype="<f4").reshape(info["shape"])
        loaded[name] = torch.from_numpy(arr.copy())
    assert end == len(body), "trailing bytes"
    want = {n: t for n, t in sd.items() if t.dtype == torch.float32}
    assert set(loaded) == set(want), (sorted(loaded), sorted(want))
    for n in want:
        assert loaded[n].shape == want[n].shape, n
        assert torch.equal(loaded[n], want[n]), n
    # num_batches_tracked (I64) is not ours to write; torch tolerates its absence
    missing, unexpected = model.load_state_dict(loaded, strict=False)
    assert set(missing) <= {"bn1.num_batches_tracked"} and not unexpected, (missing, unexpected)
    for n, t in model.state_dict().items():
        assert n not in loaded or torch.equal(t, loaded[n]), n
    print("%s: %d tensors match the torch state_dict" % (path, len(loaded)))


# ---- random numbers ------------------------------------------------------------

M64 = (1 << 64) - 1


def xoshiro(seed, count):
    def splitmix(x):
        x = (x + 0x9E3779B97F4A7C15) & M64
        z = x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return x, z ^ (z >> 31)

    def rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & M64

    s = []
    x = seed
    for _ in range(4):
        x, z = splitmix(x)
        s.append(z)
    out = []
    for _ in range(count):
        out.append(rotl((s[1] * 5) & M64, 7) * 9 & M64)
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
    return out


def normals(seed, count):
    """cnn_rng_normal: Marsaglia's polar method on 53-bit uniforms, second
    variate dropped (libm's log here; the C side's own log agrees to ~1 ulp
    of double, far below float precision)."""
    raw = iter(xoshiro(seed, 100 * count))
    out = []
    while len(out) < count:
        u = 2.0 * ((next(raw) >> 11) * 2.0 ** -53) - 1.0
        v = 2.0 * ((next(raw) >> 11) * 2.0 ** -53) - 1.0
        s = u * u + v * v
        if s >= 1.0 or s == 0.0:
            continue
        out.append(u * math.sqrt(-2.0 * math.log(s) / s))
    return out


def emit_rng():
    for seed in (0, 42):
        vals = xoshiro(seed, 8)
        print("static const uint64_t rng_seed%d[8] = {\n%s\n};" % (
            seed, carray(("UINT64_C(0x%016x)" % v for v in vals), per_line=3)))
    print("static const float rng_normal42[16] = {\n%s\n};" % carray(map(cfloat, normals(42, 16))))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        check_file(sys.argv[2])
        return
    print("/* optim_ref.h - generated by tests/runtime/optim_ref.py with torch %s; do not edit. */"
          % torch.__version__)
    print("#ifndef OPTIM_REF_H\n#define OPTIM_REF_H\n#include <stdint.h>\n")
    w0, grads = opt_data()
    emit_optim(w0, grads)
    print()
    emit_sched()
    print()
    emit_safetensors()
    print()
    emit_rng()
    print("\n#endif")


if __name__ == "__main__":
    main()
