#!/usr/bin/env python3
"""Writes the block-codec test fixtures under tests/data/quants/.

Run with the venv that has gguf-py (the official package, an independent
reference): /tmp/gvenv/bin/python scripts/make_quant_fixtures.py
CI does not run it; the outputs are committed. Deterministic (fixed seed).

Per dequantisable type T:
  T.bin   random valid blocks (random bytes; scale fields finite F16/F32)
  T.f32   their dequantisation by gguf.quants.dequantize (float32, LE);
          Q8_1 and Q8_K, which gguf-py lacks, by the numpy lines below
Quantisers:
  quantize_input.f32  random float32 values (with an all-zero block, a
                      constant block and outliers)
  T.q.bin             gguf.quants.quantize of them (Q4_0 Q4_1 Q5_0 Q5_1 Q8_0)
"""
import os
import sys

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import quants

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "quants")
rng = np.random.default_rng(20261129)

# type: (block elements, block bytes, offsets of F16 scale fields)
LAYOUTS = {
    T.Q4_0: (32, 18, [0]),
    T.Q4_1: (32, 20, [0, 2]),
    T.Q5_0: (32, 22, [0]),
    T.Q5_1: (32, 24, [0, 2]),
    T.Q8_0: (32, 34, [0]),
    T.Q8_1: (32, 36, [0, 2]),
    T.Q2_K: (256, 84, [80, 82]),
    T.Q3_K: (256, 110, [108]),
    T.Q4_K: (256, 144, [0, 2]),
    T.Q5_K: (256, 176, [0, 2]),
    T.Q6_K: (256, 210, [208]),
    T.Q8_K: (256, 292, []),  # d is F32, set below
    T.IQ4_NL: (32, 18, [0]),
    T.IQ4_XS: (256, 136, [0]),
    T.TQ1_0: (256, 54, [52]),
    T.TQ2_0: (256, 66, [64]),
    T.MXFP4: (32, 17, []),  # E8M0 scale: every byte is valid
}


def finite_f16(n):
    """Random F16 bit patterns, any sign, normal or subnormal, never inf/NaN."""
    h = rng.integers(0, 1 << 16, size=n, dtype=np.uint32).astype(np.uint16)
    exp_all_ones = (h & 0x7C00) == 0x7C00
    h[exp_all_ones] &= np.uint16(0xBFFF)  # clear one exponent bit
    return h


def random_blocks(qtype, nblocks):
    elems, nbytes, scale_offsets = LAYOUTS[qtype]
    blocks = rng.integers(0, 256, size=(nblocks, nbytes), dtype=np.uint8)
    for off in scale_offsets:
        blocks[:, off:off + 2] = finite_f16(nblocks).view(np.uint8).reshape(nblocks, 2)
    if qtype == T.Q8_K:
        d = rng.normal(0, 1e-2, size=nblocks).astype(np.float32)
        blocks[:, 0:4] = d.view(np.uint8).reshape(nblocks, 4)
    return blocks


def reference_dequantize(qtype, blocks):
    if qtype == T.Q8_1:  # d, s (F16) | 32 x int8: value d * q (ggml dequantize_row_q8_1 has no s term)
        d = blocks[:, 0:2].copy().view(np.float16).astype(np.float32)
        return (blocks[:, 4:].view(np.int8).astype(np.float32) * d).reshape(-1)
    if qtype == T.Q8_K:  # d (F32) | 256 x int8 | bsums: value d * q
        d = blocks[:, 0:4].copy().view(np.float32)
        return (d * blocks[:, 4:260].view(np.int8).astype(np.float32)).reshape(-1)
    return quants.dequantize(blocks, qtype).astype(np.float32).reshape(-1)


def write(name, array):
    path = os.path.join(OUT, name)
    with open(path, "wb") as f:
        f.write(np.ascontiguousarray(array).tobytes())


def main():
    os.makedirs(OUT, exist_ok=True)
    for qtype, (elems, _, _) in LAYOUTS.items():
        # 40 blocks of 32 or 11 of 256: a whole number of rows, and more
        # than one conversion chunk with a partial last one.
        nblocks = 40 if elems == 32 else 11
        blocks = random_blocks(qtype, nblocks)
        values = reference_dequantize(qtype, blocks)
        assert values.size == nblocks * elems and values.dtype == np.float32
        assert np.all(np.isfinite(values)), qtype.name
        write(f"{qtype.name}.bin", blocks)
        write(f"{qtype.name}.f32", values.astype("<f4"))

    x = rng.normal(0, 1, size=2048).astype(np.float32)
    x[100:110] *= 40  # outliers
    x[256:288] = 0  # an all-zero block of 32
    x[288:320] = 0.375  # a constant block
    x[1024:1280] *= rng.uniform(0, 1, size=256).astype(np.float32) ** 3  # a skewed K-block
    write("quantize_input.f32", x.astype("<f4"))
    for qtype in (T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0):
        with np.errstate(divide="ignore", invalid="ignore"):
            q = quants.quantize(x.reshape(1, -1), qtype)
        write(f"{qtype.name}.q.bin", q.reshape(-1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
