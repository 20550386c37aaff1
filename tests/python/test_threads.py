"""Threads: the GIL is released while weightmap works (another Python
thread runs during a load and a conversion), and several threads opening
and reading models at once, or sharing one, get correct values."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import gguf
import numpy as np
import pytest
from safetensors import safe_open as st_safe_open
from safetensors.numpy import save_file

import weightmap
from conftest import gguf_tensors, safetensors_tensors


class Ticker:
    """A Python thread that notes the time every millisecond: it can only
    run while no other thread holds the GIL."""

    def __init__(self):
        self.stamps = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.stamps.append(time.perf_counter())
            time.sleep(0.001)

    def __enter__(self):
        self._thread.start()
        time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def ticks_between(self, start: float, end: float) -> int:
        return sum(1 for t in self.stamps if start < t < end)


@pytest.fixture
def large_file(tmp_path):
    """128 MiB of F32: long enough a load and a conversion to watch."""
    path = str(tmp_path / "large.safetensors")
    save_file({"w": np.random.default_rng(8).standard_normal((4096, 8192), dtype=np.float32)}, path)
    return path


def _during(ticker: Ticker, fn):
    start = time.perf_counter()
    result = fn()
    end = time.perf_counter()
    # A tick right after `start` or right before `end` may come from a GIL
    # switch around the call, not during it.
    margin = 0.003
    assert end - start > 4 * margin, "the call was too quick to watch"
    return result, ticker.ticks_between(start + margin, end - margin)


def test_the_gil_is_released_during_a_load_and_a_conversion(large_file):
    with Ticker() as ticker:
        m, ticks = _during(ticker, lambda: weightmap.open(large_file, use_mmap=False, prefetch="wait"))
        assert ticks > 0, "no other Python thread ran during open()"
        with m:
            f16, ticks = _during(ticker, lambda: m.get("w", dtype="float16"))
            assert ticks > 0, "no other Python thread ran during get(dtype=...)"
            assert f16.shape == (4096, 8192)


def _read_everything(st_path: str, gguf_path: str) -> None:
    want_st = safetensors_tensors()
    with weightmap.open(st_path, prefetch="background") as m:
        for name in m.keys():
            np.testing.assert_array_equal(m[name], want_st[name], err_msg=name)
    with weightmap.open(gguf_path) as m:
        for name, (array, _) in gguf_tensors().items():
            np.testing.assert_array_equal(m[name], array, err_msg=name)
        m.get("q4k.weight", dtype="float32")


def test_threads_open_and_read_at_once(st_path, gguf_path):
    with ThreadPoolExecutor(max_workers=8) as pool:
        for f in [pool.submit(_read_everything, st_path, gguf_path) for _ in range(32)]:
            f.result()


def test_threads_share_one_model(gguf_path):
    reader = gguf.GGUFReader(gguf_path)
    want = {t.name: np.asarray(t.data).copy() for t in reader.tensors}
    deq = {n: gguf.quants.dequantize(want[n], q) for n, q in
           [("q8.weight", gguf.GGMLQuantizationType.Q8_0), ("q4k.weight", gguf.GGMLQuantizationType.Q4_K)]}
    with weightmap.open(gguf_path) as m:
        def work(i):
            for _ in range(20):
                for name, w in want.items():
                    assert m[name].tobytes() == w.tobytes()
                for name, w in deq.items():
                    np.testing.assert_allclose(m.get(name, dtype="float32"), w, atol=1e-6, rtol=0)
                assert m.metadata()["test.name"] == "weightmap"
        with ThreadPoolExecutor(max_workers=6) as pool:
            for f in [pool.submit(work, i) for i in range(6)]:
                f.result()
        assert m.live_arrays == 0


def test_lora_steps_and_readers_never_see_torn_values(tmp_path):
    r = np.random.default_rng(11)
    w = r.standard_normal((16, 32)).astype(np.float32)
    down, up = r.standard_normal((2, 32)).astype(np.float32), r.standard_normal((16, 2)).astype(np.float32)
    base, lora = str(tmp_path / "b.safetensors"), str(tmp_path / "l.safetensors")
    save_file({"layer.weight": w}, base)
    save_file({"layer.lora_down.weight": down, "layer.lora_up.weight": up}, lora)
    merged = (w.astype(np.float64) + (up.astype(np.float64) @ down)).astype(np.float32)
    stop = threading.Event()
    outcomes = {"applied": 0, "removed": 0, "busy": 0}

    def lora_flipper():
        applied = False
        while not stop.is_set():
            try:
                if applied:
                    m.remove_loras()
                    outcomes["removed"] += 1
                else:
                    m.apply_lora(lora, mode="immediately")
                    outcomes["applied"] += 1
                applied = not applied
            except weightmap.BusyError:
                outcomes["busy"] += 1
            time.sleep(0.0005)

    def reader():
        for _ in range(300):
            v = m["layer.weight"]
            if not (np.array_equal(v, w) or np.allclose(v, merged, rtol=1e-5, atol=1e-5)):
                raise AssertionError("a reader saw values that are neither the base nor the merged weight")
            del v
            time.sleep(0.0002)

    with weightmap.open(base) as m:
        flipper = threading.Thread(target=lora_flipper)
        flipper.start()
        try:
            with ThreadPoolExecutor(max_workers=3) as pool:
                for f in [pool.submit(reader) for _ in range(3)]:
                    f.result()
        finally:
            stop.set()
            flipper.join()
    assert outcomes["applied"] > 0, outcomes
