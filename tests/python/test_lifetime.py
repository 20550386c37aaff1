"""Lifetime rules: arrays keep the mapping alive after close() and the
last one unmaps it; LoRA steps refuse while views are alive (BusyError);
a file changed on disk is detected (ChangedOnDiskError) before its bytes
are handed out."""

from __future__ import annotations

import gc
import os

import numpy as np
import pytest
from safetensors.numpy import save_file

import weightmap
from conftest import mapped, safetensors_tensors

ROWS, COLS, RANK, ALPHA = 8, 16, 2, 4.0


@pytest.fixture
def base_and_lora(tmp_path):
    """A base model with 'layer.weight' (F32) and a kohya-style LoRA for it
    (lora_down / lora_up / alpha), plus the expected merged weight computed
    with NumPy from the same factors."""
    r = np.random.default_rng(5)
    w = r.standard_normal((ROWS, COLS)).astype(np.float32)
    other = r.standard_normal((4,)).astype(np.float32)
    down = r.standard_normal((RANK, COLS)).astype(np.float32)
    up = r.standard_normal((ROWS, RANK)).astype(np.float32)
    base = str(tmp_path / "base.safetensors")
    lora = str(tmp_path / "lora.safetensors")
    save_file({"layer.weight": w, "other.bias": other}, base)
    save_file({"layer.lora_down.weight": down, "layer.lora_up.weight": up,
               "layer.alpha": np.array(ALPHA, dtype=np.float32)}, lora)
    strength = 0.5
    merged = (w.astype(np.float64) + strength * ALPHA / RANK * (up.astype(np.float64) @ down)).astype(np.float32)
    return base, lora, w, merged, strength


def test_array_outlives_close_and_the_last_one_unmaps(st_path):
    m = weightmap.open(st_path)
    a = m["f32"]
    b = m["bf16"]
    m.close()
    assert m.closed
    np.testing.assert_array_equal(a, safetensors_tensors()["f32"])  # still the mapping's bytes
    assert mapped(st_path)
    del a
    gc.collect()
    assert mapped(st_path)  # b still views it
    np.testing.assert_array_equal(b, safetensors_tensors()["bf16"])
    derived = b.reshape(-1)[1:]  # a view of a view keeps the base alive too
    del b
    gc.collect()
    assert mapped(st_path)
    np.testing.assert_array_equal(derived, safetensors_tensors()["bf16"].reshape(-1)[1:])
    del derived
    gc.collect()
    assert not mapped(st_path)


def test_close_without_arrays_unmaps_at_once(st_path):
    m = weightmap.open(st_path)
    assert mapped(st_path)
    m.close()
    assert not mapped(st_path)


def test_lora_is_refused_while_a_view_is_alive_and_applies_after(base_and_lora):
    base, lora, w, merged, strength = base_and_lora
    with weightmap.open(base) as m:
        view = m["other.bias"]  # any live view blocks: a LoRA may unmap what it views
        assert m.live_arrays == 1
        with pytest.raises(weightmap.BusyError) as e:
            m.apply_lora(lora, strength)
        assert e.value.code == "busy" and "'other.bias'" in str(e.value) and "1 array" in str(e.value)
        copy = m.get("layer.weight", copy=True)  # private copies do not count
        del view
        assert m.live_arrays == 0
        report = m.apply_lora(lora, strength, mode="immediately")
        assert report["tensors_patched"] == 1 and report["unmatched"] == []
        assert report["moved"] == ["layer.weight"]
        patched = m["layer.weight"]
        np.testing.assert_allclose(patched, merged, rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(copy, w)  # the copy kept the old values
        with pytest.raises(weightmap.BusyError):
            m.remove_loras()
        np.testing.assert_allclose(patched, merged, rtol=1e-5, atol=1e-5)  # untouched by the refusal
        del patched
        assert m.live_arrays == 0
        assert m.remove_loras() == ["layer.weight"]
        np.testing.assert_array_equal(m["layer.weight"], w)


def test_lora_at_open(base_and_lora):
    base, lora, w, merged, strength = base_and_lora
    with weightmap.open(base, loras=[(lora, strength)], lora_mode="immediately") as m:
        np.testing.assert_allclose(m["layer.weight"], merged, rtol=1e-5, atol=1e-5)
        assert m.info("layer.weight").placement == "map"
    with pytest.raises(ValueError):
        weightmap.open(base, lora_mode="sometimes")


def test_lora_errors_name_the_file(base_and_lora, tmp_path):
    base, _, _, _, _ = base_and_lora
    with weightmap.open(base) as m:
        with pytest.raises(weightmap.Error) as e:
            m.apply_lora(str(tmp_path / "missing.safetensors"))
        assert e.value.file == str(tmp_path / "missing.safetensors")
        with pytest.raises(ValueError):
            m.apply_lora(base, mode="later")


def test_truncated_file_is_detected_before_reading(st_path):
    with weightmap.open(st_path) as m:
        os.truncate(st_path, 64)
        with pytest.raises(weightmap.ChangedOnDiskError) as e:
            m["f32"]
        assert e.value.code == "changed_on_disk" and e.value.file == st_path
        assert e.value.tensor == "f32"
        with pytest.raises(weightmap.ChangedOnDiskError) as e:
            m.check_files()
        assert e.value.file == st_path
        with pytest.raises(weightmap.ChangedOnDiskError):
            m.get("f32", dtype="float16")


def test_replaced_file_is_detected(st_path, tmp_path):
    with weightmap.open(st_path) as m:
        m.check_files()
        other = str(tmp_path / "new.safetensors")
        save_file(safetensors_tensors(), other)
        os.replace(other, st_path)
        with pytest.raises(weightmap.ChangedOnDiskError):
            m.check_files()
        with pytest.raises(weightmap.ChangedOnDiskError):
            m["f32"]


def test_a_log_callback_referring_to_its_model_is_collected(st_path):
    """A bound method as the log callback makes a cycle through the native
    object (engine -> Model -> callback -> engine): the cyclic GC sees it."""
    class Engine:
        def __init__(self, path):
            self.lines = []
            self.model = weightmap.open(path, log=self.log)

        def log(self, level, message):
            self.lines.append(message)

    engine = Engine(st_path)
    assert engine.lines and mapped(st_path)
    del engine
    gc.collect()
    assert not mapped(st_path)


def test_busy_names_five_tensors_and_the_count(st_path):
    with weightmap.open(st_path) as m:
        views = [m[name] for name in m.keys()]
        with pytest.raises(weightmap.BusyError) as e:
            m.remove_loras()
        text = str(e.value)
        assert f"{len(views)} array(s)" in text and f"and {len(views) - 5} more" in text
        assert sum(f"'{name}'" in text for name in m.keys()) == 5
        del views
        assert m.remove_loras() == []  # nothing applied: nothing moved back
