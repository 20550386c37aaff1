"""Shared by the weightmap Python tests: model files written by the
reference packages (safetensors.numpy.save_file, gguf.GGUFWriter) in
tmp_path, and the process's memory as the kernel counts it.

Run with the package built by CMake (-DWM_PYTHON=ON):
    PYTHONPATH=build-py/python build-venv/bin/python -m pytest tests/python -q
"""

from __future__ import annotations

import os
from pathlib import Path

import gguf
import ml_dtypes
import numpy as np
import pytest
from gguf import GGMLQuantizationType as GQ
from safetensors.numpy import save_file

RNG_SEED = 1234


def rng(seed: int = RNG_SEED) -> np.random.Generator:
    return np.random.default_rng(seed)


def safetensors_tensors() -> dict:
    """One tensor of every plain type the tests cover, odd shapes included."""
    r = rng()
    return {
        "f32": r.standard_normal((3, 5)).astype(np.float32),
        "f16": r.standard_normal((4, 7)).astype(np.float16),
        "bf16": r.standard_normal((2, 3, 4)).astype(ml_dtypes.bfloat16),
        "i32": r.integers(-2**31, 2**31 - 1, size=(6,), dtype=np.int32),
        "i64": r.integers(-2**62, 2**62, size=(2, 2), dtype=np.int64),
        "u8": r.integers(0, 255, size=(9,), dtype=np.uint8),
        "flag": r.integers(0, 2, size=(5,)).astype(np.bool_),
        "scalar": np.array(2.5, dtype=np.float32),
        "empty": np.zeros((0, 4), dtype=np.float32),
    }


SAFETENSORS_METADATA = {"format": "pt", "note": "written by safetensors.numpy"}


@pytest.fixture
def st_path(tmp_path: Path) -> str:
    path = str(tmp_path / "model.safetensors")
    save_file(safetensors_tensors(), path, metadata=SAFETENSORS_METADATA)
    return path


def q4_k_blocks(rows: int, cols: int, seed: int = 7) -> np.ndarray:
    """Well-formed Q4_K blocks (gguf.quants cannot quantise Q4_K): 144-byte
    super-blocks with small positive f16 d and dmin, random scales and
    quants. Shape: (rows, cols // 256 * 144)."""
    r = rng(seed)
    blocks = r.integers(0, 256, size=(rows, cols // 256, 144), dtype=np.uint8)
    d = r.uniform(0.0005, 0.005, size=(rows, cols // 256, 2)).astype(np.float16)
    blocks[:, :, 0:4] = d.view(np.uint8).reshape(rows, cols // 256, 4)
    return blocks.reshape(rows, cols // 256 * 144)


def gguf_tensors() -> dict:
    """name -> (array to write, raw_dtype or None): F32 and F16 values,
    Q8_0 and Q4_0 quantised by gguf.quants, Q4_K raw blocks."""
    r = rng(99)
    base = r.standard_normal((4, 256)).astype(np.float32)
    return {
        "tok_embd.weight": (r.standard_normal((8, 32)).astype(np.float32), None),
        "norm.weight": (r.standard_normal((32,)).astype(np.float16), None),
        "q8.weight": (gguf.quants.quantize(base, GQ.Q8_0), GQ.Q8_0),
        "q4.weight": (gguf.quants.quantize(base, GQ.Q4_0), GQ.Q4_0),
        "q4k.weight": (q4_k_blocks(4, 512), GQ.Q4_K),
    }


def write_gguf(path: str, tensors: dict | None = None) -> str:
    w = gguf.GGUFWriter(path, arch="llama")
    w.add_uint32("llama.block_count", 2)
    w.add_float32("llama.rope.freq_base", 10000.0)
    w.add_int64("test.offset", -7)
    w.add_bool("test.flag", True)
    w.add_string("test.name", "weightmap")
    w.add_array("test.ids", [3, -4, 5])
    w.add_array("test.scales", [0.5, 1.25])
    w.add_array("tokenizer.ggml.tokens", ["<s>", "hello", "world"])
    for name, (array, raw) in (tensors or gguf_tensors()).items():
        if raw is None:
            w.add_tensor(name, array)
        else:
            w.add_tensor(name, array, raw_dtype=raw)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


@pytest.fixture
def gguf_path(tmp_path: Path) -> str:
    return write_gguf(str(tmp_path / "model.gguf"))


def rss_anon_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    raise RuntimeError("no RssAnon in /proc/self/status")


def mapped(path: str) -> bool:
    """Whether /proc/self/maps lists `path` (a live mapping of it)."""
    real = os.path.realpath(path)
    with open("/proc/self/maps") as f:
        return any(line.rstrip("\n").endswith(real) for line in f)
