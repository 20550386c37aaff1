#!/usr/bin/env python3
"""Checks `weightmap convert` output against independent readers: the
official gguf-py package (gguf.GGUFReader) for GGUF, and a plain numpy
reading of the safetensors spec for safetensors. Not run by CTest (CI has no
venv); run it by hand:

  weightmap convert in.safetensors out.gguf --type '*.weight=F16'
  python scripts/check_convert.py in.safetensors out.gguf
  weightmap convert out.gguf back.safetensors
  python scripts/check_convert.py in.safetensors back.safetensors

Every tensor of IN must be in OUT with the same shape, and the same values
(compared after numpy's own cast to OUT's dtype; F16 by IEEE
round-to-nearest-even, as numpy does it). Exit 1 on any difference.
"""
import json
import struct
import sys

import numpy as np

NP = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
      "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, t in header.items():
        a, b = t["data_offsets"]
        raw = data[8 + n + a:8 + n + b]
        if t["dtype"] == "BF16":  # numpy has no bfloat16: widen to float32 by hand
            arr = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
            out[name] = ("BF16", arr.reshape(t["shape"]))
        else:
            out[name] = (t["dtype"], np.frombuffer(raw, NP[t["dtype"]]).reshape(t["shape"]))
    return out, meta


def read_gguf(path):
    import gguf
    import gguf.quants
    r = gguf.GGUFReader(path)
    out = {}
    for t in r.tensors:
        shape = [int(d) for d in reversed(t.shape)]  # gguf-py gives dims innermost first
        data = np.asarray(t.data)
        if t.tensor_type.name == "BF16":  # raw bytes in gguf-py: widen to float32 by hand
            data = (data.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
        elif t.tensor_type.name not in NP:  # quantised: gguf-py's own dequantiser
            data = gguf.quants.dequantize(data, t.tensor_type)
        out[t.name] = (t.tensor_type.name, data.reshape(shape))
    meta = {f.name: f for f in r.fields.values()}
    return out, meta


def read(path):
    return read_gguf(path) if path.endswith(".gguf") else read_safetensors(path)


def main():
    src, _ = read(sys.argv[1])
    dst, _ = read(sys.argv[2])
    bad = 0
    for name, (dtype, a) in src.items():
        if name not in dst:
            print(f"missing: {name}")
            bad += 1
            continue
        out_dtype, b = dst[name]
        if list(a.shape) != list(b.shape):
            print(f"{name}: shape {list(a.shape)} -> {list(b.shape)}")
            bad += 1
            continue
        want = a.astype(b.dtype) if b.dtype != a.dtype else a
        if not np.array_equal(want.view(np.uint8), np.ascontiguousarray(b).view(np.uint8)):
            print(f"{name}: values differ ({dtype} -> {out_dtype})")
            bad += 1
    print(f"{len(src)} tensors checked, {bad} differ")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
