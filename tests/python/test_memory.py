"""Zero copy, as the kernel counts it: after every tensor of a 512 MiB
model was taken and summed, the process's anonymous memory (RssAnon) grew
by less than 1% of the model; the bytes are file pages (RssFile)."""

from __future__ import annotations

import gc
import os

import numpy as np
import pytest
from safetensors.numpy import save_file

import weightmap
from conftest import rss_anon_kib

MODEL_MIB = 512
TENSORS = 4


@pytest.fixture
def big_model(tmp_path):
    path = str(tmp_path / "big.safetensors")
    rows = MODEL_MIB * 1024 * 1024 // TENSORS // 4 // 1024
    r = np.random.default_rng(3)
    tensors = {f"layer.{i}.weight": r.standard_normal((rows, 1024), dtype=np.float32) for i in range(TENSORS)}
    expected = {name: float(t.sum(dtype=np.float64)) for name, t in tensors.items()}
    save_file(tensors, path)
    del tensors
    gc.collect()
    try:
        yield path, expected
    finally:
        os.remove(path)  # 512 MiB: not left for pytest's kept tmp dirs


def test_taking_and_summing_every_tensor_adds_no_anonymous_memory(big_model):
    path, expected = big_model
    assert os.path.getsize(path) >= MODEL_MIB * 1024 * 1024
    before = rss_anon_kib()
    with weightmap.open(path) as m:
        arrays = [m[name] for name in m.keys()]
        sums = {name: float(a.sum(dtype=np.float64)) for name, a in zip(m.keys(), arrays)}
        grown_kib = rss_anon_kib() - before
        assert sums == pytest.approx(expected, rel=1e-9)
        assert all(not a.flags.writeable for a in arrays)
        assert m.report["bytes_mapped"] == sum(a.nbytes for a in arrays)
        del arrays
    limit_kib = MODEL_MIB * 1024 // 100
    assert grown_kib < limit_kib, f"RssAnon grew by {grown_kib} KiB (limit {limit_kib} KiB, 1% of {MODEL_MIB} MiB)"
