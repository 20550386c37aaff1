"""weightmap.open() and Model: the Pythonic face of weightmap._native."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _dtypes, _native

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class TensorInfo:
    """Where one tensor is and how it got there."""

    name: str
    dtype: str  # weightmap's name: "F16", "BF16", "Q4_K", ...
    shape: Tuple[int, ...]  # outermost first (for GGUF: numpy order, ggml's ne reversed)
    nbytes: int
    placement: str  # "map" | "copy" | "convert"
    reason: str  # why it is not mapped; "" when mapped
    device: str  # "cpu", "sim", or an engine's device
    on_device: bool  # only on a device the host cannot read: model[name] downloads it
    file: str
    file_offset: int
    numpy_dtype: np.dtype  # dtype of model[name] (uint8 for raw blocks)
    zero_copy: bool  # model[name] views the bytes in place


def _paths(path_or_paths) -> List[str]:
    if isinstance(path_or_paths, (str, os.PathLike)):
        return [os.fspath(path_or_paths)]
    if isinstance(path_or_paths, (list, tuple)):
        return [os.fspath(p) for p in path_or_paths]
    raise TypeError(f"weightmap.open(): expected a path or a list of paths, not {type(path_or_paths).__name__}")


def _loras(loras) -> List[Tuple[str, float]]:
    """A path, (path, strength), or a list of those -> [(path, strength)]."""
    if loras is None:
        return []
    if isinstance(loras, (str, os.PathLike)) or (isinstance(loras, tuple) and len(loras) == 2
                                                 and isinstance(loras[1], (int, float))):
        loras = [loras]
    out = []
    for item in loras:
        if isinstance(item, (str, os.PathLike)):
            out.append((os.fspath(item), 1.0))
        elif isinstance(item, (tuple, list)) and len(item) == 2:
            out.append((os.fspath(item[0]), float(item[1])))
        else:
            raise TypeError(f"a LoRA is a path or (path, strength), not {item!r}")
    return out


def open(path_or_paths, **options) -> "Model":  # noqa: A001 - the package's one entry point
    """Opens a model: a GGUF or safetensors file, a sharded index, a
    diffusers folder, a PyTorch checkpoint, or a list of files.

    Keyword options match wm::Options: variant, components, use_mmap,
    device_rules, type_rules, offload_to_cpu, threads, staging_bytes, hints,
    prefetch ("background" | "wait" | "none"), prefetch_workers, io
    ("read" | "direct" | "uring"), cache_window_bytes, max_memory_bytes,
    lock_files, mlock, loras (paths or (path, strength)), lora_mode
    ("auto" | "immediately" | "at_runtime"), metadata_arrays, log
    (callable(level, message), called from loader threads). Unknown names
    raise TypeError, bad values ValueError, failures weightmap.Error. The
    GIL is released during the load.
    """
    if "loras" in options:
        options["loras"] = _loras(options["loras"])
    return Model(_native.open(_paths(path_or_paths), options))


def page_cache(action: str, paths) -> List[Dict[str, Any]]:
    """The page cache of model files: action "status" (measure), "evict"
    (drop their clean pages) or "warm" (read them in). Per file: path, bytes,
    resident_bytes (after the action), seconds (warm)."""
    return _native.page_cache(action, _paths(paths))


class Model:
    """A loaded model (from weightmap.open).

    model[name] is a read-only NumPy array that views the tensor's bytes in
    place (mapped or a host copy): no copy. Arrays keep the model's memory
    alive after close(); apply_lora/remove_loras refuse (BusyError) while
    any is alive. Methods may be called from several threads at once.
    """

    def __init__(self, native: "_native.Model"):
        self._native = native

    # --- context manager and lifetime ---
    def __enter__(self) -> "Model":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Makes the Model unusable; the mapping goes once the last array
        taken from it is gone. Calling it twice is harmless."""
        self._native.close()

    @property
    def closed(self) -> bool:
        return self._native.closed

    def __repr__(self) -> str:
        if self.closed:
            return "<weightmap.Model (closed)>"
        return f"<weightmap.Model {len(self)} tensors from {', '.join(self.files)}>"

    # --- names ---
    def keys(self) -> List[str]:
        """Tensor names in model order."""
        return self._native.keys()

    def __len__(self) -> int:
        return len(self._native)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._native

    # --- tensors ---
    def info(self, name: str) -> TensorInfo:
        """Where tensor `name` is (KeyError when there is none)."""
        d = self._native.info(name)
        return TensorInfo(
            name=d["name"], dtype=d["dtype"], shape=d["shape"], nbytes=d["nbytes"],
            placement=d["placement"], reason=d["reason"], device=d["device"], on_device=d["on_device"],
            file=d["file"], file_offset=d["file_offset"], numpy_dtype=_dtypes.numpy_dtype(d["dtype"]),
            zero_copy=d["host"])

    def _shape_as_array(self, d: Dict[str, Any]) -> Tuple[np.dtype, tuple]:
        return (_dtypes.numpy_dtype(d["dtype"]),
                _dtypes.array_shape(d["dtype"], d["shape"], d["nbytes"], d["block_elems"], d["block_bytes"]))

    def __getitem__(self, name: str) -> np.ndarray:
        """The tensor as a read-only array viewing its bytes (no copy); a
        tensor only on a device is downloaded. Waits for a background
        prefetch of it; raises ChangedOnDiskError when its file changed."""
        d = self._native.info(name)
        raw = self._native.tensor_bytes(name)
        raw.flags.writeable = False  # a downloaded copy is read-only like every view
        dtype, shape = self._shape_as_array(d)
        return raw.view(dtype).reshape(shape)

    def get(self, name: str, dtype=None, copy: bool = False) -> np.ndarray:
        """The tensor, converted to `dtype` ("float32", "float16",
        "bfloat16", a weightmap name or a NumPy dtype; dequantises block
        types) into a new writable array, or model[name] when dtype is None
        or the tensor's own; copy=True: always a private writable copy."""
        d = self._native.info(name)
        target = None if dtype is None else _dtypes.weightmap_name(dtype)
        if target is None or target == d["dtype"]:
            array = self[name]
            return np.array(array, copy=True) if copy else array
        raw = self._native.convert(name, target)
        return raw.view(_dtypes.numpy_dtype(target)).reshape(d["shape"])

    # --- metadata, report, files ---
    def metadata(self) -> Dict[str, Any]:
        """GGUF key/values (int, float, str, bool, lists) or safetensors
        __metadata__ (str -> str), every file's, first file wins."""
        return self._native.metadata()

    @property
    def report(self) -> Dict[str, Any]:
        """What the load did (wm::Model::report_json with every tensor)."""
        return json.loads(self._native.report_json())

    @property
    def files(self) -> List[str]:
        return self._native.files()

    def check_files(self) -> None:
        """Raises ChangedOnDiskError naming the first file that changed
        since the load (truncated, rewritten, replaced, removed)."""
        self._native.check_files()

    # --- LoRA ---
    def apply_lora(self, path, strength: float = 1.0, mode: str = "auto") -> Dict[str, Any]:
        """Applies a LoRA (or a list of paths / (path, strength)), replacing
        any applied before. Raises BusyError while arrays taken from this
        model are alive. Returns the LoRA report: tensors_patched,
        tensors_at_runtime, moved and changed_in_place (names), tensors,
        unmatched."""
        if isinstance(path, (list, tuple)) and not (isinstance(path, tuple) and len(path) == 2
                                                    and isinstance(path[1], (int, float))):
            loras = _loras(path)
        else:
            loras = [(os.fspath(path), float(strength))]
        return self._native.apply_loras(loras, mode)

    def remove_loras(self) -> List[str]:
        """Undoes every LoRA; returns the names of tensors moved back.
        Raises BusyError while arrays taken from this model are alive."""
        return self._native.remove_loras()

    @property
    def live_arrays(self) -> int:
        """Zero-copy arrays taken from this model that are still alive."""
        return self._native.live_arrays()
