"""weightmap dtype names <-> NumPy dtypes.

Plain types map to NumPy's; BF16 and the FP8 types to ml_dtypes'. Types
NumPy cannot hold (F6, F4 and every block-quantised GGUF type) come back
as their raw bytes: uint8 rows of shape ``shape[:-1] + (bytes per row,)``.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

NUMPY_DTYPES = {
    "F32": np.dtype(np.float32),
    "F16": np.dtype(np.float16),
    "F64": np.dtype(np.float64),
    "BF16": np.dtype(ml_dtypes.bfloat16),
    "I8": np.dtype(np.int8),
    "I16": np.dtype(np.int16),
    "I32": np.dtype(np.int32),
    "I64": np.dtype(np.int64),
    "U8": np.dtype(np.uint8),
    "U16": np.dtype(np.uint16),
    "U32": np.dtype(np.uint32),
    "U64": np.dtype(np.uint64),
    "BOOL": np.dtype(np.bool_),
    "C64": np.dtype(np.complex64),
    "F8_E4M3": np.dtype(ml_dtypes.float8_e4m3fn),
    "F8_E5M2": np.dtype(ml_dtypes.float8_e5m2),
    "F8_E8M0": np.dtype(ml_dtypes.float8_e8m0fnu),
}

_RAW = np.dtype(np.uint8)


def is_raw(wm_dtype: str) -> bool:
    """Whether arrays of this type hold raw blocks (uint8), not values."""
    return wm_dtype not in NUMPY_DTYPES


def numpy_dtype(wm_dtype: str) -> np.dtype:
    """The dtype of model[name] for a tensor of this weightmap type."""
    return NUMPY_DTYPES.get(wm_dtype, _RAW)


def array_shape(wm_dtype: str, shape: tuple, nbytes: int, block_elems: int, block_bytes: int) -> tuple:
    """The shape of model[name]: the tensor's shape, or for raw blocks
    shape[:-1] + (bytes per row,) (what gguf.GGUFReader gives); a row that
    is not a whole number of blocks (packed F6/F4) comes back flat."""
    if not is_raw(wm_dtype):
        return tuple(shape)
    if not shape:
        return (nbytes,)
    last = shape[-1]
    if block_elems and last % block_elems == 0:
        return tuple(shape[:-1]) + (last // block_elems * block_bytes,)
    return (nbytes,)


def weightmap_name(dtype) -> str:
    """A dtype given to Model.get(): "float32"/"float16"/"bfloat16", a
    weightmap name ("F32", "BF16"), or anything np.dtype() takes."""
    if isinstance(dtype, str):
        upper = dtype.upper()
        if upper in NUMPY_DTYPES:
            return upper
    try:
        wanted = np.dtype(dtype)
    except TypeError as e:
        raise ValueError(f"unknown dtype {dtype!r}") from e
    for name, np_dtype in NUMPY_DTYPES.items():
        if np_dtype == wanted:
            return name
    raise ValueError(f"dtype {wanted} has no weightmap type")
