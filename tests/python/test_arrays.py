"""model[name] and model.get(): values and bytes equal to what the
reference readers (safetensors.safe_open, gguf.GGUFReader) read from the
same files, zero-copy read-only views, dequantisation checked against
gguf.quants.dequantize."""

from __future__ import annotations

import gguf
import ml_dtypes
import numpy as np
import pytest
from gguf import GGMLQuantizationType as GQ
from safetensors import safe_open as st_safe_open

import weightmap
from conftest import gguf_tensors, safetensors_tensors

WM_DTYPE_OF_SAFETENSORS = {
    "f32": "F32", "f16": "F16", "bf16": "BF16", "i32": "I32", "i64": "I64",
    "u8": "U8", "flag": "BOOL", "scalar": "F32", "empty": "F32",
}


def test_safetensors_arrays_equal_the_reference_reader(st_path):
    with st_safe_open(st_path, framework="np") as ref, weightmap.open(st_path) as m:
        assert sorted(m.keys()) == sorted(ref.keys())
        for name in ref.keys():
            want = ref.get_tensor(name)
            got = m[name]
            assert got.dtype == want.dtype, name
            assert got.shape == want.shape, name
            assert got.tobytes() == want.tobytes(), name
            assert m.info(name).dtype == WM_DTYPE_OF_SAFETENSORS[name]
            assert m.info(name).numpy_dtype == want.dtype


def test_safetensors_values_are_what_was_written(st_path):
    with weightmap.open(st_path) as m:
        for name, want in safetensors_tensors().items():
            np.testing.assert_array_equal(m[name], want, err_msg=name)
        assert m["bf16"].dtype == np.dtype(ml_dtypes.bfloat16)


def test_views_are_zero_copy_and_read_only(st_path):
    with weightmap.open(st_path) as m:
        a, b = m["f32"], m["f32"]
        assert np.shares_memory(a, b)
        assert not a.flags.writeable
        with pytest.raises(ValueError):
            a[0, 0] = 1.0
        with pytest.raises(ValueError):
            a.flags.writeable = True
        info = m.info("f32")
        assert info.placement == "map" and info.reason == "" and info.zero_copy
        # The view is the file's bytes at the tensor's offset.
        with open(info.file, "rb") as f:
            f.seek(info.file_offset)
            assert f.read(info.nbytes) == a.tobytes()
        del a, b


def test_copy_true_is_private_and_writable(st_path):
    with weightmap.open(st_path) as m:
        c = m.get("f32", copy=True)
        view = m["f32"]
        assert c.flags.writeable and not np.shares_memory(c, view)
        c[0, 0] = 42.0
        assert view[0, 0] != 42.0
        same = m.get("f32")  # no dtype, no copy: the view
        assert np.shares_memory(same, view)


def test_get_converts_between_float_types(st_path):
    with weightmap.open(st_path) as m:
        f32 = m.get("bf16", dtype="float32")
        np.testing.assert_array_equal(f32, safetensors_tensors()["bf16"].astype(np.float32))
        assert f32.dtype == np.float32 and f32.flags.writeable
        f16 = m.get("f32", dtype=np.float16)
        np.testing.assert_array_equal(f16, safetensors_tensors()["f32"].astype(np.float16))
        bf = m.get("f32", dtype="bfloat16")
        assert bf.dtype == np.dtype(ml_dtypes.bfloat16)
        np.testing.assert_array_equal(bf, safetensors_tensors()["f32"].astype(ml_dtypes.bfloat16))
        with pytest.raises(weightmap.Error) as e:
            m.get("u8", dtype="float32")
        assert e.value.code == "unsupported" and e.value.tensor == "u8"
        with pytest.raises(ValueError):
            m.get("f32", dtype="no_such_dtype")


def test_gguf_arrays_equal_gguf_reader(gguf_path):
    reader = gguf.GGUFReader(gguf_path)
    with weightmap.open(gguf_path) as m:
        assert m.keys() == [t.name for t in reader.tensors]
        for t in reader.tensors:
            got = m[t.name]
            want = np.asarray(t.data)
            assert got.shape == want.shape, t.name
            assert got.dtype == want.dtype, t.name
            assert got.tobytes() == want.tobytes(), t.name
            assert m.info(t.name).dtype == t.tensor_type.name
            assert m.info(t.name).file_offset == t.data_offset


def test_gguf_values_are_what_was_written(gguf_path):
    with weightmap.open(gguf_path) as m:
        for name, (array, raw) in gguf_tensors().items():
            np.testing.assert_array_equal(m[name], array, err_msg=name)  # raw blocks for quantised types


@pytest.mark.parametrize("name,qtype,elements", [
    ("q8.weight", GQ.Q8_0, (4, 256)), ("q4.weight", GQ.Q4_0, (4, 256)), ("q4k.weight", GQ.Q4_K, (4, 512))])
def test_dequantised_equal_gguf_quants(gguf_path, name, qtype, elements):
    with weightmap.open(gguf_path) as m:
        raw = m[name]
        assert raw.dtype == np.uint8 and m.info(name).dtype == qtype.name
        assert m.info(name).shape == elements
        got = m.get(name, dtype="float32")
        want = gguf.quants.dequantize(np.asarray(raw), qtype)
        assert got.shape == want.shape == elements
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
        f16 = m.get(name, dtype="float16")
        np.testing.assert_allclose(f16.astype(np.float32), want, rtol=1e-3, atol=1e-3)


def test_a_tensor_on_a_device_is_downloaded(st_path):
    with weightmap.open(st_path, device_rules="f32=sim") as m:
        info = m.info("f32")
        assert info.device == "sim"
        assert info.on_device and not info.zero_copy and info.placement == "copy"
        got = m["f32"]
        np.testing.assert_array_equal(got, safetensors_tensors()["f32"])
        assert not got.flags.writeable
        assert not np.shares_memory(got, m["f32"])  # each take downloads
        np.testing.assert_array_equal(m.get("f32", dtype="float16"), safetensors_tensors()["f32"].astype(np.float16))


def test_a_host_copy_is_viewed_too(st_path):
    with weightmap.open(st_path, use_mmap=False) as m:
        info = m.info("f32")
        assert info.placement == "copy" and info.reason and info.zero_copy
        a, b = m["f32"], m["f32"]
        assert np.shares_memory(a, b) and not a.flags.writeable
        np.testing.assert_array_equal(a, safetensors_tensors()["f32"])


def test_converted_on_load_by_type_rules(st_path):
    with weightmap.open(st_path, type_rules="f32=F16") as m:
        info = m.info("f32")
        assert info.placement == "convert" and info.dtype == "F16" and info.reason
        np.testing.assert_array_equal(m["f32"], safetensors_tensors()["f32"].astype(np.float16))


def test_more_plain_types_and_fp8(tmp_path):
    """F64, I8, I16, U16 against safetensors' reader; FP8 (which its numpy
    reader cannot read) against the ml_dtypes values that were written."""
    from safetensors.numpy import save_file
    x = np.linspace(-4, 4, 16, dtype=np.float32)
    tensors = {"f64": x.astype(np.float64), "i8": np.arange(-3, 3, dtype=np.int8),
               "i16": np.arange(-5, 5, dtype=np.int16), "u16": np.arange(7, dtype=np.uint16),
               "e4m3": x.astype(ml_dtypes.float8_e4m3fn), "e5m2": x.astype(ml_dtypes.float8_e5m2)}
    path = str(tmp_path / "types.safetensors")
    save_file(tensors, path)
    names = {"f64": "F64", "i8": "I8", "i16": "I16", "u16": "U16", "e4m3": "F8_E4M3", "e5m2": "F8_E5M2"}
    with st_safe_open(path, framework="np") as ref, weightmap.open(path) as m:
        for name, want in tensors.items():
            got = m[name]
            assert m.info(name).dtype == names[name]
            assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), name
            if name in ("f64", "i8", "i16", "u16"):
                assert got.tobytes() == ref.get_tensor(name).tobytes(), name
        for name in ("e4m3", "e5m2"):
            np.testing.assert_array_equal(m.get(name, dtype="float32"), tensors[name].astype(np.float32))
        np.testing.assert_array_equal(m.get("f64", dtype="float32"), x)
