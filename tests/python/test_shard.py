"""Tensor-parallel slices (weightmap.open(..., shard=(rank, world),
split="rules")) and Model.get_slice, checked against the independent
writers (safetensors.numpy.save_file, gguf.GGUFWriter and gguf.quants) and
numpy's own slicing: every rank's slice, padding, fixed ranges, zero copy
for row slices (the bytes lie in the file's mapping at the file offset),
copies for column slices, quantised block boundaries, dtype conversion of
slices, and the report's shard bytes."""

from __future__ import annotations

import os

import gguf
import ml_dtypes
import numpy as np
import pytest
from gguf import GGMLQuantizationType as GQ
from safetensors.numpy import save_file

import weightmap
from conftest import q4_k_blocks, rng, write_gguf

# --- the files -----------------------------------------------------------------


def st_arrays() -> dict:
    r = rng(2024)
    return {
        "w.even": r.standard_normal((8, 12)).astype(np.float32),   # rows and cols divide by 2 and 4
        "w.odd": r.standard_normal((7, 10)).astype(np.float32),    # 7 rows: uneven; 10 cols: uneven by 4
        "w.3d": r.standard_normal((4, 6, 8)).astype(np.float32),
        "b.vec": r.standard_normal((12,)).astype(np.float32),
        "w.f16": r.standard_normal((8, 12)).astype(np.float16),
        "w.bf16": r.standard_normal((7, 12)).astype(ml_dtypes.bfloat16),
        "i.rows": r.integers(-1000, 1000, size=(6, 5), dtype=np.int32),
        "norm": r.standard_normal((5,)).astype(np.float32),
    }


@pytest.fixture
def st_file(tmp_path) -> str:
    path = str(tmp_path / "shard.safetensors")
    save_file(st_arrays(), path)
    return path


def gguf_arrays() -> dict:
    """name -> (array written, raw type or None); quantised ones by gguf.quants."""
    r = rng(77)
    base = r.standard_normal((4, 256)).astype(np.float32)
    return {
        "f32.weight": (r.standard_normal((6, 64)).astype(np.float32), None),
        "q8.weight": (gguf.quants.quantize(base, GQ.Q8_0), GQ.Q8_0),      # [4, 256]: 8 blocks of 32 per row
        "q4k.weight": (q4_k_blocks(4, 512), GQ.Q4_K),                     # [4, 512]: 2 blocks of 256 per row
        "q8.vec": (gguf.quants.quantize(base[0], GQ.Q8_0), GQ.Q8_0),      # [256]: 8 blocks
    }


@pytest.fixture
def gguf_file(tmp_path) -> str:
    return write_gguf(str(tmp_path / "shard.gguf"), gguf_arrays())


# --- helpers -------------------------------------------------------------------


def mapping_of(array: np.ndarray):
    """(path, file offset) of the file mapping that holds the array's first
    byte (from /proc/self/maps), or None when it is not in a file mapping."""
    address = array.__array_interface__["data"][0]
    with open("/proc/self/maps") as f:
        for line in f:
            fields = line.split(maxsplit=5)
            start, end = (int(x, 16) for x in fields[0].split("-"))
            if start <= address < end and len(fields) == 6 and fields[5].startswith("/"):
                return fields[5].rstrip("\n"), int(fields[2], 16) + address - start
    return None


def assert_in_mapping(m: weightmap.Model, name: str, path: str) -> None:
    """The tensor is mapped: placement "map" and its array's bytes are the
    file mapping's at the tensor's file offset (zero copy)."""
    info = m.info(name)
    assert info.placement == "map" and info.reason == "" and info.zero_copy, (name, info)
    a = m[name]
    assert not a.flags.writeable
    where = mapping_of(a)
    assert where == (os.path.realpath(path), info.file_offset), (name, where, info.file_offset)


def assert_not_in_mapping(m: weightmap.Model, name: str) -> None:
    info = m.info(name)
    assert info.placement in ("copy", "convert") and info.reason != "", (name, info)
    assert mapping_of(m[name]) is None, name


def rank_part(full: np.ndarray, how: str, rank: int, world: int) -> np.ndarray:
    """What rank takes of `full` under rule `how` (rows, cols, rows:pad,
    cols:pad), with numpy: the even 1/world, or ceil(n/world) zero-filled."""
    axis = 0 if how.startswith("rows") else full.ndim - 1
    n = full.shape[axis]
    per = -(-n // world) if how.endswith(":pad") else n // world
    start = min(rank * per, n)
    stop = min(start + per, n)
    part = np.take(full, np.arange(start, stop), axis=axis)
    pad = [(0, 0)] * full.ndim
    pad[axis] = (0, per - (stop - start))
    return np.pad(part, pad)


def unpad(parts: list, how: str, full: np.ndarray) -> np.ndarray:
    axis = 0 if how.startswith("rows") else full.ndim - 1
    joined = np.concatenate(parts, axis=axis)
    return np.take(joined, np.arange(full.shape[axis]), axis=axis)


# --- every rank's slice against numpy ------------------------------------------

EVEN = ["w.even", "w.3d", "b.vec", "i.rows"]


@pytest.mark.parametrize("world", [2, 4])
@pytest.mark.parametrize("how", ["rows", "cols"])
def test_even_splits_equal_numpy_and_rejoin(st_file, world, how):
    arrays = st_arrays()
    names = [n for n in EVEN if arrays[n].shape[0 if how == "rows" else -1] % world == 0]
    assert "w.even" in names and "b.vec" in names
    rules = ",".join(f"{n}={how}" for n in names)
    with weightmap.open(st_file) as whole:
        offsets = {n: whole.info(n).file_offset for n in names}
    parts = {n: [] for n in names}
    for rank in range(world):
        with weightmap.open(st_file, shard=(rank, world), split=rules) as m:
            for name in names:
                full = arrays[name]
                got = m[name]
                want = rank_part(full, how, rank, world)
                assert got.dtype == full.dtype and got.shape == want.shape, name
                np.testing.assert_array_equal(got, want, err_msg=f"{name} rank {rank}")
                parts[name].append(got.copy())
                info = m.info(name)
                axis = 0 if how == "rows" else full.ndim - 1
                per = full.shape[axis] // world
                assert info.shape == want.shape and info.nbytes == want.nbytes
                assert info.slice.dim == how
                assert (info.slice.start, info.slice.count, info.slice.padded) == (rank * per, per, 0)
                assert info.slice.full_shape == full.shape
                if how == "rows" or full.ndim == 1:
                    # One byte range of the file (a vector's columns are its rows):
                    # mapped in place, at its offset.
                    row_bytes = full.nbytes // full.shape[0]
                    assert info.file_offset == offsets[name] + rank * per * row_bytes
                    assert_in_mapping(m, name, st_file)
                else:
                    assert_not_in_mapping(m, name)
                    assert got.flags.c_contiguous
            # Tensors no rule names are whole.
            assert m.info("norm").slice.dim == "whole" and m.info("norm").slice.full_shape == (5,)
            np.testing.assert_array_equal(m["norm"], arrays["norm"])
    for name in names:
        np.testing.assert_array_equal(unpad(parts[name], how, arrays[name]), arrays[name], err_msg=name)


@pytest.mark.parametrize(("world", "how", "names"), [
    (2, "rows:pad", ["w.odd", "w.even"]),
    (4, "rows:pad", ["w.odd", "i.rows", "b.vec"]),
    (4, "cols:pad", ["w.odd", "w.3d"]),
    (3, "cols:pad", ["w.odd", "b.vec", "i.rows"]),
])
def test_padded_splits_are_zero_filled(st_file, world, how, names):
    arrays = st_arrays()
    rules = ",".join(f"{n}={how}" for n in names)
    parts = {n: [] for n in names}
    for rank in range(world):
        with weightmap.open(st_file, shard=(rank, world), split=rules) as m:
            for name in names:
                full = arrays[name]
                want = rank_part(full, how, rank, world)
                got = m[name]
                assert got.shape == want.shape, (name, rank)
                np.testing.assert_array_equal(got, want, err_msg=f"{name} rank {rank}")
                parts[name].append(got.copy())
                info = m.info(name)
                assert info.slice.count + info.slice.padded == want.shape[0 if how.startswith("rows") else -1]
                if info.slice.padded:
                    assert_not_in_mapping(m, name)
                    assert "padded" in info.reason
                elif how.startswith("rows"):
                    assert_in_mapping(m, name, st_file)  # an even share needs no zeros: still mapped
    for name in names:
        np.testing.assert_array_equal(unpad(parts[name], how, arrays[name]), arrays[name], err_msg=name)


@pytest.mark.parametrize("world", [2, 4])
def test_fixed_ranges_are_the_same_on_every_rank(st_file, world):
    arrays = st_arrays()
    rules = "w.odd=rows[2:6],w.even=cols[3:11],w.3d=cols[1:7]"
    for rank in range(world):
        with weightmap.open(st_file, shard=(rank, world), split=rules) as m:
            np.testing.assert_array_equal(m["w.odd"], arrays["w.odd"][2:6])
            np.testing.assert_array_equal(m["w.even"], arrays["w.even"][:, 3:11])
            np.testing.assert_array_equal(m["w.3d"], arrays["w.3d"][..., 1:7])
            s = m.info("w.odd").slice
            assert (s.dim, s.start, s.count, s.padded, s.full_shape) == ("rows", 2, 4, 0, (7, 10))
            s = m.info("w.even").slice
            assert (s.dim, s.start, s.count, s.padded, s.full_shape) == ("cols", 3, 8, 0, (8, 12))
            assert_in_mapping(m, "w.odd", st_file)
            assert_not_in_mapping(m, "w.even")


@pytest.mark.parametrize(("world", "rule", "tensor"), [
    (2, "w.odd=rows", "w.odd"),
    (4, "w.odd=rows", "w.odd"),
    (4, "w.odd=cols", "w.odd"),        # 10 columns
    (4, "w.3d=cols,w.odd=rows", "w.odd"),  # the one rule of two that does not divide
    (2, "w.even=rows[4:9]", "w.even"),  # past the 8 rows
])
def test_uneven_split_without_pad_names_the_tensor(st_file, world, rule, tensor):
    with pytest.raises(weightmap.Error) as e:
        weightmap.open(st_file, shard=(1, world), split=rule)
    assert e.value.tensor == tensor
    assert tensor in str(e.value) and e.value.code == "unsupported"
    assert e.value.file is not None and e.value.file.endswith("shard.safetensors")


# --- quantised GGUF: block boundaries ------------------------------------------


def gguf_data(path: str) -> dict:
    return {t.name: np.array(t.data) for t in gguf.GGUFReader(path).tensors}


def test_gguf_f32_rows_and_cols_equal_gguf_reader(gguf_file):
    full = gguf_data(gguf_file)["f32.weight"]
    assert full.shape == (6, 64)
    for world, how in ((2, "rows"), (3, "rows"), (2, "cols"), (4, "cols")):
        parts = []
        for rank in range(world):
            with weightmap.open(gguf_file, shard=(rank, world), split=f"f32.weight={how}") as m:
                got = m["f32.weight"]
                np.testing.assert_array_equal(got, rank_part(full, how, rank, world))
                parts.append(got.copy())
                if how == "rows":
                    assert_in_mapping(m, "f32.weight", gguf_file)
                else:
                    assert_not_in_mapping(m, "f32.weight")
        np.testing.assert_array_equal(np.concatenate(parts, axis=0 if how == "rows" else 1), full)


def test_quantised_cols_on_block_boundaries_are_the_blocks(gguf_file):
    data = gguf_data(gguf_file)
    raw = data["q8.weight"]  # uint8 [4, 8 * 34]
    assert raw.shape == (4, 8 * 34)
    for world in (2, 4, 8):
        blocks = 8 // world
        for rank in range(world):
            with weightmap.open(gguf_file, shard=(rank, world), split="q8.weight=cols") as m:
                info = m.info("q8.weight")
                assert info.shape == (4, 256 // world) and info.dtype == "Q8_0"
                assert info.slice.dim == "cols" and info.slice.start == rank * blocks * 32
                got = m["q8.weight"]
                want = raw[:, rank * blocks * 34:(rank + 1) * blocks * 34]
                assert got.dtype == np.uint8 and got.shape == want.shape
                assert got.tobytes() == want.tobytes()
                # Dequantised, the slice is the dequantised full tensor's columns.
                np.testing.assert_array_equal(
                    m.get("q8.weight", "float32"),
                    gguf.quants.dequantize(raw, GQ.Q8_0)[:, rank * blocks * 32:(rank + 1) * blocks * 32])
    # Q4_K: 256-element blocks, 2 per row.
    raw4 = data["q4k.weight"]
    for rank in range(2):
        with weightmap.open(gguf_file, shard=(rank, 2), split="q4k.weight=cols") as m:
            assert m.info("q4k.weight").shape == (4, 256)
            assert m["q4k.weight"].tobytes() == raw4[:, rank * 144:(rank + 1) * 144].tobytes()
    # A fixed range on block boundaries: blocks 1..2.
    with weightmap.open(gguf_file, shard=(0, 2), split="q8.weight=cols[32:96]") as m:
        assert m["q8.weight"].tobytes() == raw[:, 34:3 * 34].tobytes()
    # Rows of a quantised tensor: whole rows, mapped.
    with weightmap.open(gguf_file, shard=(3, 4), split="q8.weight=rows") as m:
        assert m["q8.weight"].tobytes() == raw[3:4].tobytes()
        assert_in_mapping(m, "q8.weight", gguf_file)
    # Padded: 8 blocks among 3 ranks, 3 each, the last one zero-filled.
    with weightmap.open(gguf_file, shard=(2, 3), split="q8.weight=cols:pad") as m:
        got = m["q8.weight"]
        assert got.shape == (4, 3 * 34) and m.info("q8.weight").slice.padded == 32
        assert got[:, :2 * 34].tobytes() == raw[:, 6 * 34:].tobytes()
        assert not got[:, 2 * 34:].any()


@pytest.mark.parametrize(("world", "rule"), [
    (16, "q8.weight=cols"),            # 8 blocks among 16 ranks: a rank would get half a block
    (3, "q8.weight=cols"),             # 8 blocks do not divide by 3 (no pad)
    (2, "q8.weight=cols[0:48]"),       # 48 is not a multiple of 32
    (2, "q8.weight=cols[16:64]"),
    (4, "q4k.weight=cols"),            # 2 blocks of 256 among 4
    (16, "q8.vec=rows"),               # a 1-D tensor's one dimension is its blocks'
])
def test_quantised_cuts_off_block_boundaries_are_refused(gguf_file, world, rule):
    tensor = rule.split("=")[0]
    with pytest.raises(weightmap.Error) as e:
        weightmap.open(gguf_file, shard=(0, world), split=rule)
    assert e.value.tensor == tensor and tensor in str(e.value)
    assert "block" in str(e.value)


def test_quantised_vector_rows_on_block_boundaries(gguf_file):
    raw = gguf_data(gguf_file)["q8.vec"]
    for rank in range(4):
        with weightmap.open(gguf_file, shard=(rank, 4), split="q8.vec=rows") as m:
            assert m.info("q8.vec").shape == (64,)
            assert m["q8.vec"].tobytes() == raw[rank * 2 * 34:(rank + 1) * 2 * 34].tobytes()
            assert_in_mapping(m, "q8.vec", gguf_file)


# --- dtype conversion of slices ------------------------------------------------


@pytest.mark.parametrize(("name", "how", "world"), [
    ("w.f16", "rows", 2), ("w.f16", "cols", 4), ("w.f16", "cols:pad", 5), ("w.bf16", "rows:pad", 4),
    ("w.bf16", "cols", 3),
])
def test_type_rules_convert_the_slice(st_file, name, how, world):
    full = st_arrays()[name]
    parts = []
    for rank in range(world):
        with weightmap.open(st_file, shard=(rank, world), split=f"{name}={how}", type_rules="*=F32") as m:
            got = m[name]
            want = rank_part(full, how, rank, world).astype(np.float32)
            assert got.dtype == np.float32 and got.shape == want.shape
            np.testing.assert_array_equal(got, want)
            info = m.info(name)
            assert info.placement == "convert" and info.dtype == "F32"
            parts.append(got.copy())
    np.testing.assert_array_equal(unpad(parts, how, full), full.astype(np.float32))


# --- the report ----------------------------------------------------------------


@pytest.mark.parametrize("world", [2, 4])
def test_report_shard_bytes_sum_to_the_full_bytes(st_file, world):
    rules = "w.even=rows,w.3d=cols,b.vec=rows,w.f16=cols,i.rows=replicate"
    with weightmap.open(st_file) as whole:
        full_bytes = sum(whole.info(n).nbytes for n in whole.keys())
        report = whole.shard
        assert report["rank"] == 0 and report["world"] == 1 and report["rules"] == ""
        assert report["bytes"] == report["full_bytes"] == full_bytes
    replicated = sum(a.nbytes for n, a in st_arrays().items() if n not in ("w.even", "w.3d", "b.vec", "w.f16"))
    total = 0
    for rank in range(world):
        with weightmap.open(st_file, shard=(rank, world), split=rules) as m:
            s = m.report["shard"]
            assert s == m.shard
            assert (s["rank"], s["world"], s["rules"]) == (rank, world, rules)
            assert (s["tensors_rows"], s["tensors_cols"], s["tensors_replicated"]) == (2, 2, 4)
            assert s["full_bytes"] == full_bytes
            assert s["bytes"] == sum(m.info(n).nbytes for n in m.keys())
            # Per tensor: the slice, in the report too.
            per = {t["name"]: t for t in m.report["per_tensor"]}
            assert per["w.even"]["slice"] == {"dim": "rows", "start": rank * 8 // world, "count": 8 // world,
                                             "padded": 0, "full_shape": [8, 12]}
            assert "slice" not in per["norm"]
            total += s["bytes"] - replicated
    assert total + replicated == full_bytes


@pytest.mark.parametrize("world", [2, 4])
@pytest.mark.parametrize("how", ["rows", "cols"])
def test_report_bytes_of_an_even_split_sum_to_the_full_bytes(tmp_path, world, how):
    r = rng(11)
    arrays = {"a": r.standard_normal((8, 12)).astype(np.float32), "b": r.standard_normal((4, 4, 8)).astype(np.float16),
              "c": r.integers(0, 9, size=(16,), dtype=np.int64)}
    path = str(tmp_path / "even.safetensors")
    save_file(arrays, path)
    full_bytes = sum(a.nbytes for a in arrays.values())
    reports = []
    for rank in range(world):
        with weightmap.open(path, shard=(rank, world), split=f"*={how}") as m:
            reports.append(m.shard)
            assert m.shard["bytes"] == sum(m.info(n).nbytes for n in m.keys()) == full_bytes // world
    assert all(s["full_bytes"] == full_bytes for s in reports)
    assert sum(s["bytes"] for s in reports) == full_bytes
    assert all(s["tensors_" + how] == 3 and s["tensors_replicated"] == 0 for s in reports)


def test_presets_expand(tmp_path):
    r = rng(5)
    arrays = {
        "blk.0.attn_q.weight": r.standard_normal((8, 16)).astype(np.float32),
        "blk.0.attn_output.weight": r.standard_normal((16, 8)).astype(np.float32),
        "token_embd.weight": r.standard_normal((7, 16)).astype(np.float32),
        "blk.0.attn_norm.weight": r.standard_normal((16,)).astype(np.float32),
    }
    path = str(tmp_path / "llama.safetensors")
    save_file(arrays, path)
    with weightmap.open(path, shard=(1, 2), split="llama") as m:
        np.testing.assert_array_equal(m["blk.0.attn_q.weight"], arrays["blk.0.attn_q.weight"][4:])
        np.testing.assert_array_equal(m["blk.0.attn_output.weight"], arrays["blk.0.attn_output.weight"][:, 4:])
        np.testing.assert_array_equal(m["token_embd.weight"], rank_part(arrays["token_embd.weight"], "rows:pad", 1, 2))
        np.testing.assert_array_equal(m["blk.0.attn_norm.weight"], arrays["blk.0.attn_norm.weight"])
        assert "*.attn_q.weight=rows" in m.shard["rules"] and "llama" not in m.shard["rules"]
        assert (m.shard["tensors_rows"], m.shard["tensors_cols"], m.shard["tensors_replicated"]) == (2, 1, 1)


# --- options -------------------------------------------------------------------


def test_shard_option_errors(st_file):
    with pytest.raises(ValueError, match="rank 2"):
        weightmap.open(st_file, shard=(2, 2), split="w.even=rows")
    with pytest.raises(ValueError, match="world"):
        weightmap.open(st_file, shard=(0, 0))
    with pytest.raises(TypeError, match="shard"):
        weightmap.open(st_file, shard=2)
    with pytest.raises(TypeError, match="shard"):
        weightmap.open(st_file, shard=(0, 1, 2))
    with pytest.raises(TypeError, match="shard"):
        weightmap.open(st_file, shard=(0.0, 2))
    with pytest.raises(ValueError, match="shard"):
        weightmap.open(st_file, shard=(-1, 2))
    with pytest.raises(TypeError, match="split"):
        weightmap.open(st_file, split=3)
    with pytest.raises(weightmap.InvalidArgumentError, match="diagonal"):
        weightmap.open(st_file, shard=(0, 2), split="w.even=diagonal")
    with pytest.raises(weightmap.InvalidArgumentError, match="neither"):
        weightmap.open(st_file, shard=(0, 2), split="bogus")
    # None: the defaults; a list works as the pair.
    with weightmap.open(st_file, shard=None, split=None) as m:
        assert m.info("w.even").shape == (8, 12)
    with weightmap.open(st_file, shard=[1, 2], split="w.even=rows") as m:
        assert m.info("w.even").shape == (4, 12)


def test_safe_open_passes_shard_through(st_file):
    full = st_arrays()["w.even"]
    with weightmap.safe_open(st_file, shard=(1, 2), split="w.even=rows,w.3d=cols") as f:
        assert f.get_slice("w.even").get_shape() == [4, 12]
        np.testing.assert_array_equal(f.get_tensor("w.even"), full[4:])
        np.testing.assert_array_equal(f.get_slice("w.even")[1:3], full[5:7])
        np.testing.assert_array_equal(f.get_tensor("w.3d"), st_arrays()["w.3d"][..., 4:])


# --- Model.get_slice ----------------------------------------------------------

ROW_INDICES = [
    slice(2, 5), slice(-3, None), slice(None, None, 2), slice(None, None, -1), slice(5, 100), slice(-100, 2),
    slice(6, 2), slice(1, 7, 3), slice(-1, -6, -2), 3, -1, Ellipsis, (), (slice(2, 4), Ellipsis),
    (slice(0, 3), slice(None)),
]
COL_INDICES = [
    (slice(None), slice(1, 4)), (Ellipsis, slice(2, None)), (Ellipsis, slice(None, None, 3)),
    (slice(1, 3), slice(None, None, -2)), (Ellipsis, 0), (slice(None), -1), (slice(None), slice(-5, 100)),
    (2, slice(3, 9)), (slice(None), slice(4, 4)), (Ellipsis, slice(-100, 3)),
]


@pytest.mark.parametrize("index", ROW_INDICES, ids=repr)
def test_get_slice_rows_are_zero_copy_views(st_file, index):
    full_ref = st_arrays()["w.even"]
    with weightmap.open(st_file) as m:
        s = m.get_slice("w.even")
        assert s.shape == (8, 12) and s.get_shape() == [8, 12] and s.get_dtype() == "F32" and s.dtype == "F32"
        whole = m["w.even"]
        got = s[index]
        want = full_ref[index]
        assert isinstance(got, np.ndarray) and got.shape == np.shape(want)
        np.testing.assert_array_equal(got, want)
        if got.size:
            assert np.shares_memory(got, whole)
            assert mapping_of(got) is not None and mapping_of(got)[0] == os.path.realpath(st_file)
        assert not got.flags.writeable


@pytest.mark.parametrize("index", COL_INDICES, ids=repr)
def test_get_slice_cols_are_contiguous_copies(st_file, index):
    for name in ("w.even", "w.3d"):
        full_ref = st_arrays()[name]
        with weightmap.open(st_file) as m:
            got = m.get_slice(name)[index]
            want = full_ref[index]
            assert got.shape == want.shape, (name, index)
            np.testing.assert_array_equal(got, want)
            assert got.flags.c_contiguous and got.flags.writeable
            assert not np.shares_memory(got, m[name])


def test_get_slice_of_a_vector_and_a_scalar(tmp_path):
    path = str(tmp_path / "small.safetensors")
    vec = np.arange(10, dtype=np.float32)
    save_file({"vec": vec, "scalar": np.array(3.5, dtype=np.float32)}, path)
    with weightmap.open(path) as m:
        for index in (slice(2, 7), slice(None, None, -3), -2, slice(8, 50)):
            got = m.get_slice("vec")[index]
            np.testing.assert_array_equal(got, vec[index])
            assert np.shares_memory(got, m["vec"])  # a vector's one dimension is its rows
        got = m.get_slice("scalar")[...]
        assert got.shape == () and got == 3.5
        with pytest.raises(IndexError, match="scalar"):
            m.get_slice("scalar")[0]


@pytest.mark.parametrize(("index", "error"), [
    (8, IndexError), (-9, IndexError), ((0, 12), IndexError), ((0, 0, 0), IndexError),
    ((Ellipsis, Ellipsis), IndexError), (slice(None, None, 0), ValueError), (None, TypeError),
    ([0, 1], TypeError), (1.0, TypeError), (slice(0, 1.5), TypeError), (True, TypeError),
], ids=repr)
def test_get_slice_bad_indices_name_the_tensor(st_file, index, error):
    with weightmap.open(st_file) as m:
        with pytest.raises(error, match="w.even"):
            m.get_slice("w.even")[index]


def test_get_slice_unknown_name(st_file):
    with weightmap.open(st_file) as m:
        with pytest.raises(KeyError):
            m.get_slice("nope")


def test_get_slice_quantised_on_block_boundaries(gguf_file):
    raw = gguf_data(gguf_file)["q8.weight"]
    with weightmap.open(gguf_file) as m:
        s = m.get_slice("q8.weight")
        assert s.shape == (4, 256) and s.get_dtype() == "Q8_0"
        whole = m["q8.weight"]
        rows = s[1:3]
        assert rows.tobytes() == raw[1:3].tobytes() and np.shares_memory(rows, whole)
        cols = s[:, 64:160]  # blocks 2..4
        assert cols.tobytes() == raw[:, 2 * 34:5 * 34].tobytes()
        assert cols.flags.c_contiguous and not np.shares_memory(cols, whole)
        assert s[..., -64:].tobytes() == raw[:, 6 * 34:].tobytes()
        assert s[2, 32:64].tobytes() == raw[2, 34:68].tobytes()
        assert s[:, 300:400].shape == (4, 0)  # clamped: empty
        for bad in [(slice(None), slice(0, 48)), (slice(None), slice(16, 64)), (Ellipsis, 5),
                    (slice(None), slice(None, None, 2)), (Ellipsis, slice(-40, None))]:
            with pytest.raises(ValueError, match="q8.weight"):
                s[bad]
        vec = m.get_slice("q8.vec")  # 1-D: rows are blocks too, views
        part = vec[64:128]
        assert part.tobytes() == gguf_data(gguf_file)["q8.vec"][2 * 34:4 * 34].tobytes()
        assert np.shares_memory(part, m["q8.vec"])
        with pytest.raises(ValueError, match="block boundaries"):
            vec[1:33]


def test_get_slice_of_a_shard(st_file):
    full = st_arrays()["w.even"]
    with weightmap.open(st_file, shard=(1, 2), split="w.even=rows") as m:
        s = m.get_slice("w.even")
        assert s.shape == (4, 12)
        part = s[1:3]
        np.testing.assert_array_equal(part, full[5:7])
        assert mapping_of(part) == (os.path.realpath(st_file), m.info("w.even").file_offset + 12 * 4)
        np.testing.assert_array_equal(s[:, 2:5], full[4:, 2:5])
