"""weightmap.open() and Model: the Pythonic face of weightmap._native."""

from __future__ import annotations

import json
import operator
import os
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _dtypes, _native
from ._index import expand_ellipsis

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class SliceInfo:
    """Which part of the file's tensor a loaded tensor is (open(..., shard=,
    split=)): dim "rows" (a range of the outermost dimension), "cols" (of the
    innermost) or "whole" (not sliced: start, count and padded are 0)."""

    dim: str  # "whole" | "rows" | "cols"
    start: int  # first row / column taken from the file
    count: int  # rows / columns taken from the file
    padded: int  # zero rows / columns after them (":pad" rules)
    full_shape: Tuple[int, ...]  # the tensor's shape in the file (== shape when whole)


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
    # With shard=/split=: the part of the file's tensor this is (shape,
    # nbytes and model[name] are the slice's); dim "whole" when not sliced.
    slice: Optional[SliceInfo] = None


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
    (callable(level, message), called from loader threads).

    Tensor parallel (wm::Options::shard): shard=(rank, world) and
    split="PATTERN=HOW,..." load only this rank's part of each tensor a
    rule matches (first match wins; unmatched tensors are loaded whole).
    HOW is rows | cols (an even 1/world of the outermost / innermost
    dimension; uneven is an error naming the tensor), rows:pad | cols:pad
    (ceil(n/world) each, zero-filled), rows[A:B] | cols[A:B] (that range on
    every rank) or replicate; presets "llama" and "diffusion" stand for
    their rules. Quantised tensors are cut on block boundaries only. Row
    slices of mapped tensors stay mapped (zero copy); column and padded
    slices are gathered into copies. info(name).slice says which part a
    tensor is, report["shard"] what the rank took.

    With collective=comm (an object with mpi4py's allgather(bytes) -> list
    and alltoall(list) -> list: an mpi4py communicator as it is) the ranks
    talk: they agree on failures (one rank failing fails all, naming it)
    and choose a mode, report["shard"]["mode"]: "shared" (every rank sees
    the same file on one host: each maps only its slices) or "exchange"
    (each rank reads 1/world of its own copy and the ranks exchange what
    each other's slices need, into a staged copy in staging_dir, /dev/shm by
    default); shard_mode="auto" | "shared" | "exchange" forces one;
    exchange_round_bytes (16 MiB) bounds each round. Every rank must call
    open() with the same model and rules.

    Unknown names raise TypeError, bad values ValueError, failures
    weightmap.Error. The GIL is released during the load.
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
            zero_copy=d["host"],
            slice=SliceInfo(dim=d["slice_dim"], start=d["slice_start"], count=d["slice_count"],
                            padded=d["slice_padded"], full_shape=d["full_shape"]))

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

    def get_slice(self, name: str) -> "Slice":
        """A lazy handle on tensor `name` (as safetensors' safe_open.get_slice):
        get_shape() / .shape, and `[...]` to take part of it. Rows (the
        outermost dimension, `[a:b]`) come back as read-only views of the
        tensor's bytes (zero copy when it is mapped); a cut of any inner
        dimension (`[:, a:b]`, `[..., a:b]`) as a new contiguous array.
        KeyError when there is no such tensor."""
        if not isinstance(name, str) or name not in self:
            raise KeyError(name)
        return Slice(self, name)

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
    def shard(self) -> Dict[str, Any]:
        """What open(..., shard=, split=) took (report["shard"]): rank,
        world, rules (presets expanded), tensors_rows, tensors_cols,
        tensors_replicated, bytes (this rank's tensor bytes, source dtype,
        padding included) and full_bytes (the whole model's); with
        world > 1, mode ("shared" or "exchange") and mode_reason, and for
        the exchange exchange_read_bytes, exchange_sent_bytes,
        exchange_received_bytes, staged_bytes, exchange_rounds and
        staging_dir."""
        return self.report["shard"]

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


class Slice:
    """What Model.get_slice(name) returns: one tensor, read in part.

    ``s.shape`` / ``s.get_shape()`` is the tensor's logical shape (for a
    block-quantised type too), ``s.dtype`` / ``s.get_dtype()`` its weightmap
    type name. ``s[index]`` takes numpy basic indices (ints, slices with any
    non-zero step, one Ellipsis) with numpy's rules: negative bounds count
    from the end, bounds past a dimension are clamped, an int out of range
    is an IndexError. The result:

    - only the outermost dimension (rows) cut, ``s[a:b]``, ``s[i]``: a
      read-only view of the tensor's bytes, zero copy (of the mapping when
      the tensor is mapped; np.shares_memory with model[name]);
    - any inner dimension cut, ``s[:, a:b]``, ``s[..., a:b]``: a new
      C-contiguous writable array.

    Block-quantised types (Q8_0, Q4_K, ...) come back as raw blocks like
    model[name] (uint8, last dimension in bytes per row): their last
    dimension may be cut only with step 1 on block boundaries (multiples of
    the type's block_elems), else ValueError naming the tensor; the result's
    last dimension is the blocks' bytes. The bytes are read at each `[...]`
    (waiting for a background prefetch as model[name] does).
    """

    def __init__(self, model: Model, name: str):
        self._model = model
        self._name = name
        d = model._native.info(name)
        self._shape = tuple(int(n) for n in d["shape"])
        self._dtype = str(d["dtype"])
        self._block_elems = int(d["block_elems"])
        self._block_bytes = int(d["block_bytes"])

    def __repr__(self) -> str:
        return f"<weightmap.Slice {self._name!r} {self._dtype} {list(self._shape)}>"

    @property
    def name(self) -> str:
        return self._name

    @property
    def shape(self) -> Tuple[int, ...]:
        """The tensor's logical shape (what model.info(name).shape says)."""
        return self._shape

    @property
    def dtype(self) -> str:
        """The tensor's weightmap type name ("F16", "Q8_0", ...)."""
        return self._dtype

    def get_shape(self) -> List[int]:
        """The shape as a list (safetensors' spelling)."""
        return list(self._shape)

    def get_dtype(self) -> str:
        return self._dtype

    def __getitem__(self, index: Any) -> np.ndarray:
        full = self._model[self._name]
        items = _basic_index(index, self._shape, self._name)
        if _dtypes.is_raw(self._dtype) and self._shape:
            if full.ndim != len(self._shape):
                # Packed rows that are not whole blocks (F6/F4): only the whole tensor.
                if any(_cuts(item, n) for item, n in zip(items, self._shape)):
                    raise ValueError(f"tensor {self._name!r} ({self._dtype} {list(self._shape)}) is stored as "
                                     "packed bytes whose rows are not whole blocks: it cannot be sliced")
                return full
            items[-1] = self._block_cut(items[-1])
        inner_cut = any(_cuts(item, n) for item, n in zip(items[1:], full.shape[1:]))
        # The trailing Ellipsis keeps an all-integer index a 0-d array, not a NumPy scalar.
        part = full[(*items, Ellipsis)]
        if inner_cut:
            return np.array(part, copy=True, order="C")
        return part

    def _block_cut(self, item: Any) -> slice:
        """The last dimension's index in elements as a slice of the raw
        blocks' bytes; ValueError unless it falls on block boundaries."""
        n, be, bb = self._shape[-1], self._block_elems, self._block_bytes
        what = f"tensor {self._name!r} ({self._dtype} {list(self._shape)}, blocks of {be} elements)"
        if isinstance(item, int):
            raise ValueError(f"{what}: an element of the last dimension cannot be taken from its blocks; "
                             f"take whole blocks ([..., a:b] with a, b multiples of {be})")
        r = range(*item.indices(n))
        if len(r) == 0:
            return slice(0, 0)
        if r.step != 1 and len(r) > 1:
            raise ValueError(f"{what}: the last dimension can only be cut with step 1 (got step {r.step})")
        start, stop = r[0], r[0] + len(r)
        if start % be or stop % be:
            raise ValueError(f"{what}: columns [{start}:{stop}] do not fall on block boundaries (multiples of {be})")
        return slice(start // be * bb, stop // be * bb)


def _cuts(item: Any, n: int) -> bool:
    """Whether a normalised index takes less than a whole dimension of size n."""
    if isinstance(item, int):
        return True
    return range(*item.indices(n)) != range(n)


def _basic_index(index: Any, shape: Tuple[int, ...], name: str) -> List[Any]:
    """numpy basic indices, one per dimension: ints checked (IndexError) and
    made non-negative, slices kept (numpy clamps them), Ellipsis expanded."""
    parts = expand_ellipsis(index, shape, name)
    parts = parts + (slice(None),) * (len(shape) - len(parts))
    items: List[Any] = []
    for dim, (part, n) in enumerate(zip(parts, shape)):
        if isinstance(part, slice):
            bounds = [None if v is None else _index_int(v, dim, name) for v in (part.start, part.stop, part.step)]
            if bounds[2] == 0:
                raise ValueError(f"tensor {name!r}: slice step cannot be zero (dimension {dim})")
            items.append(slice(*bounds))
            continue
        at = _index_int(part, dim, name)
        if not -n <= at < n:
            raise IndexError(f"tensor {name!r}: index {at} is out of bounds for dimension {dim} of size {n}")
        items.append(at % n)
    return items


def _index_int(value: Any, dim: int, name: str) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"tensor {name!r}: a bool index at dimension {dim} is not supported")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"tensor {name!r}: unsupported index {value!r} at dimension {dim}: "
                        "expected an int, a slice or an ellipsis") from None
