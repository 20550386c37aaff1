"""`python -m weightmap.bench`, run as a user runs it: --make, then one run of each reader.

The figures themselves are not asserted (the machine decides them); the structure of the
JSON, that each reader read every tensor, and that every reader's sum equals numpy's sum
of what safetensors.safe_open reads from the same file are.
"""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from safetensors import safe_open as st_safe_open

import weightmap
from weightmap.bench import model_shapes, tensor_checksum, tensor_sum


def _run_bench(*args):
    env = dict(os.environ)
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(weightmap.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    done = subprocess.run([sys.executable, "-m", "weightmap.bench", *args], capture_output=True, text=True,
                          env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module", name="made")
def fixture_made(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("bench") / "bench.safetensors")
    made = json.loads(_run_bench("--make", path, "--size-mib", "4", "--json").stdout)
    return path, made


def test_make_writes_llama_shaped_f16_f32_of_the_size(made):
    path, report = made
    assert report["path"] == path and report["bytes"] == os.path.getsize(path)
    assert 0.9 * 4 * 2**20 <= report["bytes"] <= 4 * 2**20 + 64 * 1024
    with st_safe_open(path, framework="np") as ref:
        assert len(ref.keys()) == report["tensors"] == 32 * 9 + 2
        dtypes = {ref.get_slice(name).get_dtype() for name in ref.keys()}
        assert dtypes == {"F16", "F32"}
        hidden = ref.get_slice("model.norm.weight").get_shape()[0]
        assert ref.get_slice("model.layers.0.gate_proj.weight").get_shape() == [hidden * 11008 // 4096, hidden]
        assert ref.metadata() == {"made_by": "python -m weightmap.bench --make"}


def test_model_shapes_scale_with_the_size():
    small = model_shapes(64 * 2**20)
    large = model_shapes(2048 * 2**20)
    assert len(small) == len(large) == 290
    assert small[1][1][0] < large[1][1][0]  # hidden size grows with the size asked
    for size in (64 * 2**20, 2048 * 2**20):
        total = sum(math.prod(s) * (4 if d == "float32" else 2) for _, s, d in model_shapes(size))
        assert 0.99 * size <= total <= size


def _reference_checksum(tensors):
    """The bytes as little-endian uint64 words summed mod 2**64, from the reference's bytes
    (Python integers, independent of the bench's numpy code)."""
    total = 0
    for array in tensors.values():
        raw = array.tobytes()
        whole = len(raw) // 8 * 8
        total += sum(int.from_bytes(raw[i:i + 8], "little") for i in range(0, whole, 8))
        total += sum(raw[whole:])
    return total % 2**64


@pytest.mark.parametrize("sum_kind", ["bytes", "values"])
def test_bench_json_and_sums_agree_with_safetensors_reference(made, sum_kind):
    path, _ = made
    result = json.loads(_run_bench(path, "--runs", "1", "--json", "--sum", sum_kind).stdout)
    with st_safe_open(path, framework="np") as ref:
        tensors = {name: ref.get_tensor(name) for name in ref.keys()}
    if sum_kind == "values":
        expected_sum = math.fsum(float(np.sum(tensors[name], dtype=np.float64)) for name in sorted(tensors))
    else:
        expected_sum = _reference_checksum(tensors)
    assert result["sum"] == sum_kind
    expected_bytes = sum(array.nbytes for array in tensors.values())

    assert result["model"] == os.path.abspath(path)
    assert result["runs"] == 1
    readers = {row["reader"] for row in result["rows"]}
    assert {"weightmap", "safetensors"} <= readers
    if "torch" not in readers:
        assert "not installed" in result["skipped"]["torch"]
    assert {(row["mode"], row["reader"]) for row in result["rows"]} == {(m, r) for m in ("cold", "warm") for r in readers}
    for row in result["rows"]:
        assert row["tensors"] == len(tensors), row
        assert row["bytes"] == expected_bytes, row
        assert row["sums"] == [expected_sum], row
        assert row["seconds"] > 0 and 0 < row["take_seconds"] <= row["seconds"]
        assert row["peak_rss_mib"] > 0 and row["rss_anon_mib"] > 0
        assert isinstance(row["page_cache_ok"], bool)
    assert result["sums_agree"] is True
    by = {(row["mode"], row["reader"]): row for row in result["rows"]}
    # Zero copy is visible even on a tiny file: safetensors' anonymous memory grows by the
    # tensors' size, weightmap's by far less.
    # (0.75, not 1: malloc reuses heap the process had freed before the measurement began.)
    assert by[("warm", "safetensors")]["rss_anon_growth_mib"] >= 0.75 * expected_bytes / 2**20
    assert by[("warm", "weightmap")]["rss_anon_growth_mib"] < 0.25 * expected_bytes / 2**20
    ratios = result["ratios"]
    assert ratios["warm_time_weightmap_over_safetensors"] > 0
    assert set(ratios["targets_met"]) == {"warm time <= 0.5x safetensors", "warm RssAnon growth < 1% of safetensors'",
                                          "cold time <= 1.1x the slower other reader"}


def test_bench_markdown_prints_the_table_and_the_sums(made):
    path, _ = made
    out = _run_bench(path, "--runs", "1").stdout
    assert "| cache | reader | time (s) |" in out
    assert out.count("| warm |") + out.count("| cold") >= 4
    assert "every reader's sum agrees: yes" in out


def test_tensor_sum_is_the_same_for_every_dtype_kind():
    assert tensor_sum(np.array([1.5, 2.5], dtype=np.float16)) == 4.0
    assert tensor_sum(np.array([-3, 5], dtype=np.int8)) == 2.0
    assert tensor_sum(np.array([250, 10], dtype=np.uint8)) == 260.0
    assert tensor_sum(np.array([True, False, True])) == 2.0
    import ml_dtypes

    assert tensor_sum(np.array([0.5, 0.25], dtype=ml_dtypes.bfloat16)) == 0.75


def test_tensor_checksum_adds_little_endian_words_and_the_tail():
    data = bytes(range(1, 12))  # one whole word and a 3-byte tail
    word = int.from_bytes(data[:8], "little")
    assert tensor_checksum(np.frombuffer(data, dtype=np.uint8)) == word + 9 + 10 + 11
    # The same bytes viewed as another dtype give the same checksum.
    assert tensor_checksum(np.frombuffer(data[:8], dtype=np.float16)) == word
    # Wraps modulo 2**64.
    top = np.array([2**64 - 1, 2], dtype="<u8")
    assert tensor_checksum(top) == 1


def test_bench_refuses_bad_arguments():
    env = dict(os.environ)
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(weightmap.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    for args in ([], ["x.safetensors", "--runs", "0"]):
        done = subprocess.run([sys.executable, "-m", "weightmap.bench", *args], capture_output=True, text=True,
                              env=env, timeout=60, check=False)
        assert done.returncode == 2 and "error" in done.stderr


def test_bench_on_gguf_measures_weightmap_alone_and_sums_what_gguf_reads(tmp_path):
    from conftest import write_gguf
    from gguf import GGUFReader

    path = write_gguf(str(tmp_path / "model.gguf"))
    result = json.loads(_run_bench(path, "--runs", "1", "--json", "--sum", "values").stdout)
    reader = GGUFReader(path)
    # Quantised tensors are summed as their raw blocks (uint8), as gguf-py returns them.
    expected = math.fsum(tensor_sum(t.data) for t in sorted(reader.tensors, key=lambda t: t.name))
    assert {row["reader"] for row in result["rows"]} <= {"weightmap", "torch"}
    assert "not a single .safetensors file" in result["skipped"]["safetensors"]
    for row in result["rows"]:
        if row["reader"] == "weightmap":
            assert row["sums"] == [expected]
            assert row["tensors"] == len(reader.tensors)
    assert "warm_time_weightmap_over_safetensors" not in result["ratios"]
