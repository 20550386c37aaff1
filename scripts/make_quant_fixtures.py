#!/usr/bin/env python3
"""Writes the block-codec test fixtures under tests/data/quants/.

Run with the venv that has gguf-py (the official package, an independent
reference): /tmp/gvenv/bin/python scripts/make_quant_fixtures.py
CI does not run it; the outputs are committed. Deterministic (fixed seed).

Per dequantisable type T:
  T.bin   random valid blocks (random bytes; scale fields finite F16/F32)
  T.f32   their dequantisation by gguf.quants.dequantize (float32, LE);
          Q8_1 and Q8_K, which gguf-py lacks, by the numpy lines below
  T.f16   (Q4_K Q5_K Q6_K) T.f32 rounded to F16 by numpy
Quantisers:
  quantize_input.f32  random float32 values (with an all-zero block, a
                      constant block and outliers)
  T.q.bin             gguf.quants.quantize of them (Q4_0 Q4_1 Q5_0 Q5_1 Q8_0);
                      for Q4_K Q5_K Q6_K Q8_K, which gguf-py cannot quantise, the
                      float32 re-implementation of ggml's *_ref below
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


# ---- ggml's K-quant reference quantisers, re-implemented from the algorithm
# (quantize_row_q4_K_ref / q5_K_ref / q6_K_ref / q8_K_ref with make_qkx2_quants and
# make_qx_quants) in numpy float32 scalars, one IEEE single operation at a
# time in ggml's order, so the bytes are what ggml writes. gguf-py has no
# K-quant quantiser; this is the independent reference for ours.
F = np.float32


def nearest_int(f):
    """ggml's nearest_int: round half to even through the 1.5 * 2^23 trick."""
    v = np.array([F(f) + F(12582912.0)], dtype=np.float32)
    return int((v.view(np.int32)[0] & 0x007FFFFF) - 0x00400000)


def f16_round(f):
    return F(np.float16(F(f)))


def make_qkx2_quants(n, nmax, x, w, rmin, rdelta, nstep):
    mn, mx = x[0], x[0]
    sum_w = w[0]
    sum_x = F(sum_w * x[0])
    for i in range(1, n):
        mn = x[i] if x[i] < mn else mn
        mx = x[i] if x[i] > mx else mx
        sum_w = F(sum_w + w[i])
        sum_x = F(sum_x + F(w[i] * x[i]))
    if mn > 0:
        mn = F(0)
    if mx == mn:
        return F(0), [0] * n, F(-mn)
    iscale = F(F(nmax) / F(mx - mn))
    scale = F(F(1) / iscale)
    L = []
    best = F(0)
    for i in range(n):
        l = max(0, min(nmax, nearest_int(F(iscale * F(x[i] - mn)))))
        L.append(l)
        diff = F(F(F(scale * F(l)) + mn) - x[i])
        best = F(best + F(w[i] * F(diff * diff)))
    for step in range(nstep + 1):
        iscale = F(F(F(rmin + F(F(rdelta) * F(step))) + F(nmax)) / F(mx - mn))
        sum_l = sum_l2 = sum_xl = F(0)
        Laux = []
        for i in range(n):
            l = max(0, min(nmax, nearest_int(F(iscale * F(x[i] - mn)))))
            Laux.append(l)
            wl = F(w[i] * F(l))
            sum_l = F(sum_l + wl)
            sum_l2 = F(sum_l2 + F(wl * F(l)))
            sum_xl = F(sum_xl + F(wl * x[i]))
        D = F(F(sum_w * sum_l2) - F(sum_l * sum_l))
        if D > 0:
            this_scale = F(F(F(sum_w * sum_xl) - F(sum_x * sum_l)) / D)
            this_min = F(F(F(sum_l2 * sum_x) - F(sum_l * sum_xl)) / D)
            if this_min > 0:
                this_min = F(0)
                this_scale = F(sum_xl / sum_l2)
            err = F(0)
            for i in range(n):
                diff = F(F(F(this_scale * F(Laux[i])) + this_min) - x[i])
                err = F(err + F(w[i] * F(diff * diff)))
            if err < best:
                L, best, scale, mn = Laux, err, this_scale, this_min
    return scale, L, F(-mn)


def quantize_k_scale_min(x, nmax, rmin, rdelta, nstep):
    """Q4_K / Q5_K: (d, dmin, 12 scale bytes, 256 levels)."""
    scales, mins, L = [], [], []
    max_scale = max_min = F(0)
    for j in range(8):
        xb = x[32 * j:32 * j + 32]
        sum_x2 = F(0)
        for v in xb:
            sum_x2 = F(sum_x2 + F(v * v))
        av_x = F(np.sqrt(F(sum_x2 / F(32))))
        w = [F(av_x + F(abs(v))) for v in xb]
        sc, Lb, m = make_qkx2_quants(32, nmax, xb, w, F(rmin), F(rdelta), nstep)
        scales.append(sc); mins.append(m); L += Lb
        max_scale = sc if sc > max_scale else max_scale
        max_min = m if m > max_min else max_min
    inv_scale = F(F(63) / max_scale) if max_scale > 0 else F(0)
    inv_min = F(F(63) / max_min) if max_min > 0 else F(0)
    ls = [min(63, nearest_int(F(inv_scale * s)) & 0xFF) for s in scales]
    lm = [min(63, nearest_int(F(inv_min * m)) & 0xFF) for m in mins]
    q = [0] * 12
    for j in range(8):
        if j < 4:
            q[j] = ls[j]; q[j + 4] = lm[j]
        else:
            q[j + 4] = (ls[j] & 0xF) | ((lm[j] & 0xF) << 4)
            q[j - 4] |= (ls[j] >> 4) << 6
            q[j] |= (lm[j] >> 4) << 6
    d = f16_round(F(max_scale / F(63)))
    dmin = f16_round(F(max_min / F(63)))
    for j in range(8):
        if j < 4:
            sc, m = q[j] & 63, q[j + 4] & 63
        else:
            sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4)
            m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4)
        dl = F(d * F(sc))
        if dl == 0:
            continue
        dm = F(dmin * F(m))
        for ii in range(32):
            L[32 * j + ii] = max(0, min(nmax, nearest_int(F(F(x[32 * j + ii] + dm) / dl))))
    head = np.array([d, dmin], dtype=np.float16).view(np.uint8).tolist() + q
    return head, L


def quantize_q4_k(x):
    head, L = quantize_k_scale_min(x, 15, -1.0, 0.1, 20)
    qs = []
    for j in range(0, 256, 64):
        qs += [L[j + l] | (L[j + l + 32] << 4) for l in range(32)]
    return bytes(head + qs)


def quantize_q5_k(x):
    head, L = quantize_k_scale_min(x, 31, -0.5, 0.1, 15)
    qh, ql = [0] * 32, []
    for g, n in enumerate(range(0, 256, 64)):
        for j in range(32):
            l1, l2 = L[n + j], L[n + j + 32]
            if l1 > 15:
                l1 -= 16; qh[j] |= 1 << (2 * g)
            if l2 > 15:
                l2 -= 16; qh[j] |= 2 << (2 * g)
            ql.append(l1 | (l2 << 4))
    return bytes(head + qh + ql)


def make_qx_quants_rmse1(n, nmax, x):
    mx = amax = F(0)
    for v in x:
        if abs(v) > amax:
            amax, mx = F(abs(v)), v
    if amax < F(1e-15):
        return F(0), [0] * n
    def level(iscale, v):
        return max(-nmax, min(nmax - 1, nearest_int(F(iscale * v))))
    iscale = F(F(-nmax) / mx)
    sumlx = suml2 = F(0)
    L = []
    for v in x:
        l = level(iscale, v)
        L.append(l + nmax)
        w = F(v * v)
        sumlx = F(sumlx + F(F(w * v) * F(l)))
        suml2 = F(suml2 + F(F(w * F(l)) * F(l)))
    scale = F(sumlx / suml2) if suml2 != 0 else F(0)
    best = F(scale * sumlx)
    for step in range(-9, 10):
        if step == 0:
            continue
        iscale = F(F(-F(F(nmax) + F(F(0.1) * F(step)))) / mx)
        sumlx = suml2 = F(0)
        for v in x:
            l = level(iscale, v)
            w = F(v * v)
            sumlx = F(sumlx + F(F(w * v) * F(l)))
            suml2 = F(suml2 + F(F(w * F(l)) * F(l)))
        if suml2 > 0 and F(sumlx * sumlx) > F(best * suml2):
            L = [nmax + level(iscale, v) for v in x]
            scale = F(sumlx / suml2)
            best = F(scale * sumlx)
    return scale, L


def quantize_q6_k(x):
    L, scales = [], []
    max_scale = max_abs = F(0)
    for ib in range(16):
        sc, Lb = make_qx_quants_rmse1(16, 32, x[16 * ib:16 * ib + 16])
        L += Lb; scales.append(sc)
        if abs(sc) > max_abs:
            max_abs, max_scale = F(abs(sc)), sc
    if max_abs < F(1e-15):
        return bytes(210)
    iscale = F(F(-128) / max_scale)
    d = f16_round(F(F(1) / iscale))
    sc8 = [min(127, nearest_int(F(iscale * s))) for s in scales]
    for j in range(16):
        dl = F(d * F(sc8[j]))
        if dl == 0:
            continue
        for ii in range(16):
            L[16 * j + ii] = max(-32, min(31, nearest_int(F(x[16 * j + ii] / dl)))) + 32
    ql, qh = [0] * 128, [0] * 64
    for h, j in enumerate(range(0, 256, 128)):
        for l in range(32):
            q = [L[j + l + 32 * k] for k in range(4)]
            ql[64 * h + l] = (q[0] & 0xF) | ((q[2] & 0xF) << 4)
            ql[64 * h + l + 32] = (q[1] & 0xF) | ((q[3] & 0xF) << 4)
            qh[32 * h + l] = (q[0] >> 4) | ((q[1] >> 4) << 2) | ((q[2] >> 4) << 4) | ((q[3] >> 4) << 6)
    return bytes(ql + qh + [s & 0xFF for s in sc8]) + np.array([d], dtype=np.float16).tobytes()


def quantize_q8_k(x):
    """quantize_row_q8_K_ref: the largest magnitude maps to -127; bsums of 16."""
    mx = amax = F(0)
    for v in x:
        if abs(v) > amax:
            amax, mx = F(abs(v)), v
    if amax == 0:
        return bytes(292)
    iscale = F(F(-127) / mx)
    q = [min(127, nearest_int(F(iscale * v))) for v in x]
    bsums = [sum(q[16 * g:16 * g + 16]) for g in range(16)]
    return (np.array([F(F(1) / iscale)], dtype="<f4").tobytes() + np.array(q, dtype=np.int8).tobytes()
            + np.array(bsums, dtype="<i2").tobytes())


K_QUANTISERS = {T.Q4_K: quantize_q4_k, T.Q5_K: quantize_q5_k, T.Q6_K: quantize_q6_k, T.Q8_K: quantize_q8_k}


def k_quantise(qtype, x):
    x = [F(v) for v in np.asarray(x, dtype=np.float32).reshape(-1)]
    return b"".join(K_QUANTISERS[qtype](x[b:b + 256]) for b in range(0, len(x), 256))


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
        if qtype in (T.Q4_K, T.Q5_K, T.Q6_K):
            # numpy's own float32 -> float16 rounding (to nearest even, overflow to inf)
            with np.errstate(over="ignore"):
                write(f"{qtype.name}.f16", values.astype("<f2"))

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
    for qtype in K_QUANTISERS:
        q = k_quantise(qtype, x)
        # Our reference must agree with gguf-py's dequantiser about what the bytes mean.
        back = reference_dequantize(qtype, np.frombuffer(q, dtype=np.uint8).reshape(-1, LAYOUTS[qtype][1]))
        assert np.all(np.isfinite(back))
        print(f"{qtype.name}: relative RMS error {np.sqrt(np.mean((back - x) ** 2) / np.mean(x ** 2)):.4f}")
        write(f"{qtype.name}.q.bin", np.frombuffer(q, dtype=np.uint8))
    return 0


if __name__ == "__main__":
    sys.exit(main())
