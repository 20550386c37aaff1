"""weightmap.open() and Model: names, metadata against the reference
readers, info, the report, options, errors."""

from __future__ import annotations

import os
import pathlib
import sys

import gguf
import numpy as np
import pytest
from safetensors import safe_open as st_safe_open
from safetensors.numpy import save_file

import weightmap
from conftest import SAFETENSORS_METADATA, safetensors_tensors, write_gguf


def test_names_length_iteration_membership(st_path):
    with st_safe_open(st_path, framework="np") as ref:
        ref_keys = list(ref.keys())
    with weightmap.open(pathlib.Path(st_path)) as m:  # os.PathLike works
        assert sorted(m.keys()) == sorted(ref_keys)
        assert len(m) == len(ref_keys)
        assert list(m) == m.keys()
        assert "f32" in m and "nope" not in m and 3 not in m
        assert m.files == [st_path]
        assert not m.closed


def test_safetensors_metadata_equals_the_reference(st_path):
    with st_safe_open(st_path, framework="np") as ref:
        want = ref.metadata()
    with weightmap.open(st_path) as m:
        assert m.metadata() == want == SAFETENSORS_METADATA


def _gguf_reference_value(field: gguf.ReaderField):
    """A GGUFReader field as a Python value."""
    t = field.types[0]
    if t == gguf.GGUFValueType.STRING:
        return field.contents()
    if t == gguf.GGUFValueType.ARRAY:
        return list(field.contents())
    return field.contents()


def test_gguf_metadata_equals_gguf_reader(gguf_path):
    reader = gguf.GGUFReader(gguf_path)
    with weightmap.open(gguf_path) as m:
        md = m.metadata()
        for key, field in reader.fields.items():
            if key.startswith("GGUF."):  # the reader's header pseudo-fields
                continue
            want = _gguf_reference_value(field)
            got = md[key]
            if isinstance(want, float):
                assert isinstance(got, float) and got == pytest.approx(want, rel=1e-7), key
            elif isinstance(want, list) and want and isinstance(want[0], float):
                assert got == pytest.approx(want, rel=1e-7), key
            else:
                assert got == want, key
                assert type(got) is type(want), key
        assert md["test.flag"] is True
        assert md["llama.block_count"] == 2 and md["test.offset"] == -7
        assert md["tokenizer.ggml.tokens"] == ["<s>", "hello", "world"]


def test_info_fields(gguf_path):
    with weightmap.open(gguf_path) as m:
        info = m.info("q4k.weight")
        assert info.name == "q4k.weight" and info.dtype == "Q4_K"
        assert info.shape == (4, 512) and info.nbytes == 4 * 2 * 144
        assert info.placement == "map" and info.reason == "" and info.device == "cpu"
        assert not info.on_device and info.zero_copy
        assert info.file == gguf_path and info.numpy_dtype == np.uint8
        with pytest.raises(AttributeError):
            info.name = "x"  # frozen
        with pytest.raises(KeyError):
            m.info("nope")


def test_report_is_the_load_report(st_path):
    with weightmap.open(st_path) as m:
        r = m.report
        assert r["tensors"] == len(m) == len(safetensors_tensors())
        assert r["tensors_mapped"] == len(m)
        assert sorted(t["name"] for t in r["per_tensor"]) == sorted(m.keys())


def test_unknown_names_raise_key_error(st_path):
    with weightmap.open(st_path) as m:
        with pytest.raises(KeyError) as e:
            m["nope"]
        assert e.value.args == ("nope",)
        with pytest.raises(KeyError):
            m.get("nope", dtype="float32")


def test_errors_carry_code_file_and_offset(tmp_path):
    with pytest.raises(weightmap.Error) as e:
        weightmap.open(str(tmp_path / "missing.safetensors"))
    assert e.value.code == "not_found"
    assert e.value.file == str(tmp_path / "missing.safetensors")
    assert e.value.file in str(e.value)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes((100).to_bytes(8, "little") + b"{" + b" " * 20)
    with pytest.raises(weightmap.Error) as e:
        weightmap.open(str(bad))
    assert e.value.code == "bad_format"
    assert e.value.file == str(bad)
    assert e.value.offset is not None and isinstance(e.value.offset, int)
    assert e.value.message and e.value.message in str(e.value)


def test_unknown_options_raise_type_error_and_bad_values_value_error(st_path):
    with pytest.raises(TypeError, match="no_such_option"):
        weightmap.open(st_path, no_such_option=1)
    with pytest.raises(TypeError, match="use_mmap"):
        weightmap.open(st_path, use_mmap="yes")
    with pytest.raises(ValueError, match="prefetch"):
        weightmap.open(st_path, prefetch="sometimes")
    with pytest.raises(ValueError, match="threads"):
        weightmap.open(st_path, threads=0)
    with pytest.raises(ValueError, match="staging_bytes"):
        weightmap.open(st_path, staging_bytes=-1)
    with pytest.raises(TypeError):
        weightmap.open(42)
    # Values only the loader can judge: weightmap.Error and ValueError both.
    for bad in (dict(device_rules="*=nodevice"), dict(type_rules="*=Q9"), dict(hints="bogus")):
        with pytest.raises(ValueError) as e:
            weightmap.open(st_path, **bad)
        assert isinstance(e.value, weightmap.InvalidArgumentError) and e.value.code == "invalid_argument"


def test_options_reach_the_loader(st_path):
    lines = []
    with weightmap.open(st_path, use_mmap=False, threads=3, prefetch="wait", io="read", hints="none",
                        staging_bytes=1 << 20, log=lambda level, msg: lines.append((level, msg))) as m:
        r = m.report
        assert r["tensors_copied"] == len(m) and r["tensors_mapped"] == 0
        assert r["threads"] == 3
        assert all(isinstance(level, str) and isinstance(msg, str) for level, msg in lines)
        np.testing.assert_array_equal(m["f32"], safetensors_tensors()["f32"])


def test_a_raising_log_callback_does_not_break_the_load(st_path, monkeypatch):
    reported = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: reported.append(u.exc_value))

    def bad_log(level, msg):
        raise RuntimeError("log failed")
    with weightmap.open(st_path, log=bad_log) as m:
        assert len(m) == len(safetensors_tensors())
    assert reported and all(isinstance(e, RuntimeError) for e in reported)


def test_closed_model_refuses_calls(st_path):
    m = weightmap.open(st_path)
    with m:
        pass
    assert m.closed
    with pytest.raises(weightmap.Error) as e:
        m.keys()
    assert e.value.code == "invalid_argument" and "closed" in str(e.value)
    assert isinstance(e.value, ValueError)  # like I/O on a closed Python file
    with pytest.raises(weightmap.Error):
        m["f32"]
    m.close()  # twice is harmless


def test_several_files_and_components(tmp_path):
    a, b = str(tmp_path / "a.safetensors"), str(tmp_path / "b.safetensors")
    save_file({"x": np.arange(4, dtype=np.float32)}, a)
    save_file({"y": np.arange(3, dtype=np.int32)}, b)
    with weightmap.open([a, b]) as m:
        assert sorted(m.keys()) == ["x", "y"]
        assert m.files == [a, b]
        assert m.info("y").file == b
        np.testing.assert_array_equal(m["y"], np.arange(3, dtype=np.int32))
    # A diffusers-style folder, one component.
    for comp in ("unet", "vae"):
        os.makedirs(tmp_path / "pipe" / comp)
        save_file({"w": np.full(2, 1.0 if comp == "unet" else 2.0, np.float32)},
                  str(tmp_path / "pipe" / comp / "diffusion_pytorch_model.safetensors"))
    with weightmap.open(str(tmp_path / "pipe"), components=["vae"]) as m:
        assert m.keys() == ["vae.w"]
        np.testing.assert_array_equal(m["vae.w"], [2.0, 2.0])


def test_page_cache_reports_each_file(st_path):
    [status] = weightmap.page_cache("status", st_path)
    assert status["path"] == st_path and status["bytes"] == os.path.getsize(st_path)
    [warm] = weightmap.page_cache("warm", [st_path])
    assert warm["resident_bytes"] == warm["bytes"]
    with pytest.raises(ValueError):
        weightmap.page_cache("flush", st_path)


def test_version():
    assert weightmap.__version__.count(".") == 2


def test_a_sharded_index_reads_like_its_shards(tmp_path):
    import json
    shards = {"model-00001-of-00002.safetensors": {"a.weight": np.arange(6, dtype=np.float32).reshape(2, 3)},
              "model-00002-of-00002.safetensors": {"b.weight": np.ones((3,), dtype=np.float16)}}
    weight_map = {}
    for file, tensors in shards.items():
        save_file(tensors, str(tmp_path / file))
        weight_map.update({name: file for name in tensors})
    index = tmp_path / "model.safetensors.index.json"
    index.write_text(json.dumps({"metadata": {"total_size": 18}, "weight_map": weight_map}))
    with weightmap.open(str(index)) as m:
        assert sorted(m.keys()) == sorted(weight_map)
        for file in shards:
            with st_safe_open(str(tmp_path / file), framework="np") as ref:
                for name in ref.keys():
                    assert m[name].tobytes() == ref.get_tensor(name).tobytes()
                    assert m.info(name).file == str(tmp_path / file)


def test_lock_files_holds_each_file(st_path):
    with weightmap.open(st_path, lock_files=True) as m:
        assert m.report["file_locks"] in ("lease", "flock")
        m.check_files()


def test_metadata_arrays_off_keeps_scalars_and_summarises_arrays(gguf_path):
    with weightmap.open(gguf_path, metadata_arrays=False) as m:
        md = m.metadata()
        assert md["llama.block_count"] == 2 and md["test.name"] == "weightmap"
        assert isinstance(md["tokenizer.ggml.tokens"], str)  # the library's summary, not the items
