#!/usr/bin/env python3
"""Writes the PyTorch checkpoint fixtures of tests/data/torch/.

Needs Debian's python3-torch and python3-numpy (run with /usr/bin/python3);
CI does not: the small files this writes are committed. For every
checkpoint X it also writes X.ref, the expected tensors exported
independently of torch.save (through numpy), one per line:
    name<TAB>dtype<TAB>dim,dim,...<TAB>hex of the row-major little-endian bytes
and it writes hostile pickles (*.pkl, and some wrapped as checkpoints) that a
loader must refuse without running anything.

    /usr/bin/python3 scripts/make_torch_fixtures.py [OUT_DIR]
"""
import collections
import io
import os
import pickle
import sys
import zipfile

import numpy as np
import torch

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "data", "torch")
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(7)

NAMES = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
         torch.int8: "I8", torch.uint8: "U8", torch.int16: "I16", torch.int32: "I32", torch.int64: "I64",
         torch.bool: "BOOL"}


def raw_bytes(t):
    """Row-major bytes of t's values, via numpy (bf16 as its 16-bit pattern)."""
    t = t.detach()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16) if t.is_contiguous() else t.contiguous().view(torch.int16)
    return np.ascontiguousarray(t.numpy()).astype(t.numpy().dtype.newbyteorder("<")).tobytes()


def write_ref(path, named):
    with open(path + ".ref", "w") as f:
        for name, t in named:
            f.write("%s\t%s\t%s\t%s\n" % (name, NAMES[t.dtype], ",".join(str(d) for d in t.shape), raw_bytes(t).hex()))


def save(name, obj, named, legacy=False):
    path = os.path.join(OUT, name)
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    write_ref(path, named)
    # The checkpoint must load back in torch to the same values.
    back = torch.load(path)
    print("wrote", name, os.path.getsize(path), "bytes")
    return back


def dtype_tensors():
    sd = collections.OrderedDict()
    sd["f32"] = torch.randn(3, 4)
    sd["f64"] = torch.randn(5, dtype=torch.float64)
    sd["f16"] = torch.randn(2, 3).half()
    sd["bf16"] = torch.randn(4, 2).bfloat16()
    sd["i8"] = torch.randint(-128, 127, (6,), dtype=torch.int8)
    sd["u8"] = torch.randint(0, 255, (2, 2, 2), dtype=torch.uint8)
    sd["i16"] = torch.randint(-30000, 30000, (3,), dtype=torch.int16)
    sd["i32"] = torch.randint(-2**31, 2**31 - 1, (2, 3), dtype=torch.int32)
    sd["i64"] = torch.tensor([-(2**62), 2**40 + 3, -1, 0], dtype=torch.int64)
    sd["bool"] = torch.tensor([True, False, False, True, True])
    sd["scalar"] = torch.tensor(2.5)
    sd["empty"] = torch.zeros(0, 3)
    return sd


def view_tensors():
    base = torch.arange(24, dtype=torch.float32)
    m = torch.randn(4, 6)
    sd = collections.OrderedDict()
    sd["base"] = base                        # the whole storage
    sd["offset_view"] = base[5:11]           # storage offset 5, contiguous
    sd["row_view"] = base.view(4, 6)[2]      # shares base's storage, offset 12
    sd["transposed"] = m.t()                 # non-contiguous, stride (1, 6)
    sd["strided"] = m[::2, 1::2]             # non-contiguous, offset 1, stride (12, 2)
    sd["expanded"] = torch.tensor([1.0, 2.0]).expand(3, 2)  # stride (0, 1)
    sd["param"] = torch.nn.Parameter(torch.randn(3))
    sd["half_t"] = torch.randn(3, 2).half().t()
    return sd


def flat(prefix, d):
    for k, v in d.items():
        name = k if not prefix else prefix + "." + k
        if isinstance(v, dict):
            yield from flat(name, v)
        elif isinstance(v, torch.Tensor):
            yield name, v


def main():
    sd = dtype_tensors()
    save("dtypes.pt", sd, list(sd.items()))
    save("dtypes_legacy.pt", sd, list(sd.items()), legacy=True)

    vs = view_tensors()
    save("views.pt", vs, list(vs.items()))
    save("views_legacy.pt", vs, list(vs.items()), legacy=True)

    inner = collections.OrderedDict(
        [("enc", collections.OrderedDict([("w", torch.randn(2, 2)), ("b", torch.randn(2))])),
         ("head.weight", torch.randn(3).half())])
    ckpt = {"epoch": 3, "global_step": 1000, "lr": 1e-4, "name": "run", "state_dict": inner,
            "history": [1.5, 2.5]}
    save("nested.ckpt", ckpt, list(flat("", inner)))
    model = {"model": collections.OrderedDict([("layer.0.weight", torch.randn(2, 3))]), "args": None}
    save("model_key.pth", model, list(model["model"].items()))

    # The same views, with every entry deflated (torch writes them stored).
    src = os.path.join(OUT, "views.pt")
    dst = os.path.join(OUT, "views_deflated.pt")
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename))
    write_ref(dst, list(vs.items()))
    print("wrote views_deflated.pt", os.path.getsize(dst), "bytes")

    write_hostile()


class Reduce:
    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


class Unknown:
    pass


def write_hostile():
    evil = {
        # os.system via REDUCE (pickles as GLOBAL 'posix system').
        "os_system.pkl": pickle.dumps(Reduce(os.system, ("touch /tmp/weightmap-pwned",)), protocol=2),
        "eval.pkl": pickle.dumps(Reduce(eval, ("__import__('os').system('touch /tmp/weightmap-pwned')",)), protocol=2),
        # Same through STACK_GLOBAL (protocol 4).
        "stack_global.pkl": pickle.dumps(Reduce(os.system, ("true",)), protocol=4),
        "unknown_global.pkl": pickle.dumps({"w": Unknown()}, protocol=2),
        # 5000 open MARKs.
        "deep_marks.pkl": b"\x80\x02" + b"(" * 5000 + b".",
        # {'a': {'a': ... 200 levels ...}}: fine to unpickle, too deep to name.
        "deep_dicts.pkl": b"\x80\x02" + b"}X\x01\x00\x00\x00a" * 200 + b"}" + b"s" * 200 + b".",
        # A string claiming 2 GiB in a 14-byte file.
        "huge_unicode.pkl": b"\x80\x02X\xff\xff\xff\x7fabc.",
        "truncated.pkl": pickle.dumps(collections.OrderedDict(a=1, b="two"), protocol=2)[:-7],
        # {'k': L} where the list L contains itself.
        "cycle.pkl": b"\x80\x02}q\x00X\x01\x00\x00\x00k]q\x01h\x01as.",
    }
    for name, data in evil.items():
        with open(os.path.join(OUT, "hostile_" + name), "wb") as f:
            f.write(data)
    # Checkpoints whose data.pkl is hostile, for the CLI.
    for name in ("os_system", "eval"):
        with zipfile.ZipFile(os.path.join(OUT, "hostile_%s.pt" % name), "w") as z:
            z.writestr("archive/data.pkl", evil[name + ".pkl"])
            z.writestr("archive/version", "3\n")
    print("wrote", len(evil), "hostile pickles")


if __name__ == "__main__":
    main()
