"""weightmap: load model weights through memory mapping.

    import weightmap
    with weightmap.open("model.safetensors") as model:
        w = model["layers.0.attn.q.weight"]   # read-only NumPy view, no copy

``weightmap.open`` returns a Model (zero-copy NumPy arrays, dequantisation
on request, LoRA, the load report, ``get_slice`` for part of a tensor, and
with ``shard=(rank, world), split="rules"`` only this rank's slices of the
tensors); ``weightmap.safe_open`` is a drop-in for ``safetensors.safe_open``
that also reads GGUF, sharded indexes, diffusers folders and PyTorch
checkpoints.
"""

from . import _native
from ._errors import BusyError, ChangedOnDiskError, Error, InvalidArgumentError
from ._model import Model, Slice, SliceInfo, TensorInfo, open, page_cache
from .safe_open import safe_open

__version__ = _native.version()

__all__ = [
    "BusyError",
    "ChangedOnDiskError",
    "Error",
    "InvalidArgumentError",
    "Model",
    "Slice",
    "SliceInfo",
    "TensorInfo",
    "open",
    "page_cache",
    "safe_open",
    "__version__",
]
