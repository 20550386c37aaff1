"""`weightmap.safe_open`: a drop-in for `safetensors.safe_open` over `weightmap.open`.

Code written for `safetensors.safe_open` runs unchanged (keys, metadata, get_tensor,
get_slice with `[...]`, get_shape, get_dtype, context manager), and the same calls also
open GGUF files, sharded indexes, diffusers folders and PyTorch checkpoints.

Where it differs from safetensors, on purpose:
- Arrays are read-only views of the mapping (zero copy), not private copies: call
  `.copy()` (numpy) or `.clone()` (torch) before writing. torch has no read-only
  tensors, so writing in place into a `framework="pt"` tensor faults on the read-only
  pages; clone first.
- Unknown names raise `KeyError(name)` (safetensors raises its own SafetensorError,
  which code cannot catch without importing safetensors).
- Bad slice indices raise IndexError (out of range, too many, two ellipses), ValueError
  (a step that is not positive) or TypeError (None, lists, floats, arrays), where
  safetensors raises SafetensorError for all of them. Negative slice bounds and
  empty slices work as in numpy (safetensors overflows or fails on them); a bound past
  the end of a dimension is an error as in safetensors (numpy would clip it).
- `metadata()` is None when the model has no metadata, also for a safetensors file
  whose `__metadata__` is present but empty (safetensors returns {} then). GGUF values
  that are not strings come back as JSON text, so the result stays `dict[str, str]`.
- Block-quantised GGUF tensors (Q4_K, ...) come back as their raw blocks (uint8, last
  dimension in bytes per row); `get_shape()` gives the logical shape and `get_dtype()`
  the type's name. A slice may index every dimension but the last, which it must take
  whole (cutting a row would cut blocks).
- `get_slice` keeps safetensors' index rules (a bound past a dimension is an error) and
  returns views also for cuts of inner dimensions. `weightmap.Model.get_slice` is the
  numpy-rules variant: bounds clamped, inner-dimension cuts as contiguous copies, and
  quantised last dimensions cut on block boundaries.

Tensor parallel: the `shard=(rank, world)` and `split="rules"` options of `weightmap.open`
pass through, so `safe_open(path, shard=(1, 2), split="*.weight=rows")` holds only rank 1's
slices: `get_shape()` and every array are the slice's (see `weightmap.open`).

Thread safety: as `weightmap.Model` (reads from several threads are fine; closing while
another thread reads is not).
"""

from __future__ import annotations

import errno
import json
import operator
import os
import warnings
from typing import Any

import numpy as np

from ._index import expand_ellipsis
from ._model import open as _open_model

_FRAMEWORKS = {"np": "numpy", "numpy": "numpy", "pt": "torch", "torch": "torch"}


def _import_torch() -> Any:
    try:
        import torch  # noqa: PLC0415 (optional dependency, imported only for framework="pt")
    except ImportError as e:
        raise ImportError(
            'weightmap.safe_open(framework="pt") needs torch, which is not installed; '
            'framework="np" works without it') from e
    return torch


def _device_name(device: Any) -> str:
    # safetensors takes an int for a CUDA ordinal.
    if isinstance(device, int) and not isinstance(device, bool):
        return f"cuda:{device}"
    if isinstance(device, str):
        return device
    return str(device)  # a torch.device


class safe_open:  # noqa: N801 (the name safetensors uses)
    """Open a model the way `safetensors.safe_open(filename, framework, device)` does.

    filename: a .safetensors or .gguf file, a sharded index (.json), a diffusers or
    transformers folder, or a PyTorch checkpoint. framework: "np"/"numpy" (numpy arrays)
    or "pt"/"torch" (torch tensors sharing the mapped memory). device: "cpu"; any other
    device (an int is a CUDA ordinal) needs framework="pt" and copies the tensors there.
    Keyword options go to `weightmap.open` (e.g. prefetch="none" to read only the pages
    that are asked for, as safetensors does; by default a cold file is read ahead).
    Raises FileNotFoundError when `filename` does not exist, ValueError for an unknown
    framework or device, ImportError for framework="pt" without torch, TypeError for an
    unknown option, weightmap.Error when the model cannot be read.
    """

    def __init__(self, filename: str | os.PathLike[str], framework: str = "np", device: Any = "cpu",
                 **options: Any) -> None:
        self._framework = _FRAMEWORKS.get(framework) if isinstance(framework, str) else None
        if self._framework is None:
            raise ValueError(f"safe_open: unknown framework {framework!r}: weightmap supports "
                             '"np"/"numpy" and "pt"/"torch"')
        self._device = _device_name(device)
        self._torch = _import_torch() if self._framework == "torch" else None
        if self._device != "cpu":
            if self._torch is None:
                raise ValueError(f'safe_open: device {self._device!r} needs framework="pt": numpy arrays live on the cpu')
            try:
                self._torch.device(self._device)
            except RuntimeError as e:
                raise ValueError(f"safe_open: bad device {self._device!r}: {e}") from e
        path = os.fspath(filename)
        if not os.path.exists(path):
            # What safetensors raises, so callers catching it keep working.
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        self._model = _open_model(path, **options)

    def __enter__(self) -> safe_open:
        return self

    def __exit__(self, *exc: object) -> None:
        # Arrays already taken stay valid: they keep the mapping alive.
        self._model.close()

    def keys(self) -> list[str]:
        """Tensor names, sorted (as safetensors returns them)."""
        return sorted(self._model.keys())

    def offset_keys(self) -> list[str]:
        """Tensor names in the order of their bytes: by file, then by offset in it."""
        files = {path: i for i, path in enumerate(self._model.files)}

        def position(name: str) -> tuple[int, int]:
            info = self._model.info(name)
            return files.get(info.file, len(files)), info.file_offset

        return sorted(self._model.keys(), key=position)

    def metadata(self) -> dict[str, str] | None:
        """The model's metadata as str -> str, or None when it has none."""
        values = self._model.metadata()
        if not values:
            return None
        return {key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()}

    def get_tensor(self, name: str) -> Any:
        """The whole tensor: a read-only numpy view of the mapping, or a torch tensor sharing it."""
        return self._convert(self._model[name])

    def get_tensors(self) -> dict[str, Any]:
        """Every tensor, keyed by name, in offset order (as safetensors' get_tensors)."""
        return {name: self.get_tensor(name) for name in self.offset_keys()}

    def get_slice(self, name: str) -> TensorSlice:
        """A lazy handle on one tensor: get_shape(), get_dtype(), and `[...]` to read part of it."""
        if name not in self._model:
            raise KeyError(name)
        return TensorSlice(self, name)

    def _convert(self, array: np.ndarray) -> Any:
        if self._torch is None:
            return array
        return _to_torch(self._torch, array, self._device)


class TensorSlice:
    """What `safe_open.get_slice(name)` returns (safetensors' PySafeSlice): get_shape(),
    get_dtype(), and `[...]` with safetensors' index rules (module docstring), giving
    read-only views of the tensor's bytes. With `shard=` the tensor is this rank's slice."""

    def __init__(self, owner: safe_open, name: str) -> None:
        self._owner = owner
        self._name = name
        info = owner._model.info(name)
        self._shape = tuple(int(n) for n in info.shape)
        self._dtype = str(info.dtype)

    def get_shape(self) -> list[int]:
        return list(self._shape)

    def get_dtype(self) -> str:
        return self._dtype

    def __getitem__(self, index: Any) -> Any:
        array = self._owner._model[self._name]
        items = _normalise(index, self._shape, self._name)
        # The raw blocks of a quantised type are narrower than the logical shape's last
        # dimension; only a whole row can be taken from them.
        packed = array.shape != self._shape
        if packed and len(items) == len(self._shape):
            last = items[-1]
            if not (isinstance(last, slice) and last == slice(0, self._shape[-1], 1)):
                raise ValueError(f"tensor {self._name!r} ({self._dtype}) is stored in blocks: "
                                 "a slice must take its last dimension whole")
            items[-1] = slice(None)
        # The trailing Ellipsis keeps an all-integer index a 0-d array, not a scalar.
        return self._owner._convert(array[(*items, Ellipsis)])


def _normalise(index: Any, shape: tuple[int, ...], name: str) -> list[slice | int]:
    """safetensors' index rules, as numpy basic indices with every bound checked."""
    parts = expand_ellipsis(index, shape, name)
    return [_one_index(part, size, dim, name) for dim, (part, size) in enumerate(zip(parts, shape))]


def _one_index(part: Any, size: int, dim: int, name: str) -> slice | int:
    if isinstance(part, slice):
        step = 1 if part.step is None else _as_int(part.step, dim, name)
        if step <= 0:
            raise ValueError(f"tensor {name!r}: slice step must be a positive integer, got {step} (dimension {dim})")
        start = 0 if part.start is None else _bound(_as_int(part.start, dim, name), size, dim, name)
        stop = size if part.stop is None else _bound(_as_int(part.stop, dim, name), size, dim, name)
        return slice(start, max(start, stop), step)
    at = _as_int(part, dim, name)  # bool counts as 0/1 here, as in safetensors (numpy would add an axis)
    if not -size <= at < size:
        raise IndexError(f"tensor {name!r}: index {at} out of range for dimension {dim} of size {size}")
    return at % size


def _as_int(value: Any, dim: int, name: str) -> int:
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"tensor {name!r}: unsupported index {value!r} at dimension {dim}: "
                        "expected an int, a slice or an ellipsis") from None


def _bound(value: int, size: int, dim: int, name: str) -> int:
    resolved = value + size if value < 0 else value
    if not 0 <= resolved <= size:
        raise IndexError(f"tensor {name!r}: slice bound {value} out of range for dimension {dim} of size {size}")
    return resolved


def _torch_view(torch: Any, dtype: np.dtype) -> tuple[type | None, Any]:
    """For numpy dtypes torch.from_numpy does not know (ml_dtypes'): the integer type of
    the same width to hand over, and the torch dtype to view it as."""
    name = dtype.name
    # int16, not uint16: torch.from_numpy takes uint16 only from torch 2.3 on.
    table = {"bfloat16": (np.int16, "bfloat16"), "float8_e4m3fn": (np.uint8, "float8_e4m3fn"),
             "float8_e5m2": (np.uint8, "float8_e5m2"), "float8_e8m0fnu": (np.uint8, "float8_e8m0fnu")}
    if name not in table:
        return None, None
    carrier, torch_name = table[name]
    target = getattr(torch, torch_name, None)
    if target is None:
        raise TypeError(f"this torch has no {torch_name}: upgrade torch or use framework=\"np\"")
    return carrier, target


def _to_torch(torch: Any, array: np.ndarray, device: str) -> Any:
    carrier, target = _torch_view(torch, array.dtype)
    shared = array.view(carrier) if carrier is not None else array
    with warnings.catch_warnings():
        # torch warns that it cannot mark the tensor read-only; the module docstring says so.
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        tensor = torch.from_numpy(shared)
    if target is not None:
        tensor = tensor.view(target)
    return tensor if device == "cpu" else tensor.to(device)
