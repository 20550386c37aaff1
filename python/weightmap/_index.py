"""The one place an index's Ellipsis is expanded, for Model.get_slice and
safe_open's get_slice alike."""

from __future__ import annotations

from typing import Any, Tuple


def expand_ellipsis(index: Any, shape: Tuple[int, ...], name: str) -> Tuple[Any, ...]:
    """The index as a tuple with at most len(shape) parts and no Ellipsis
    (it stands for as many whole dimensions as are missing); IndexError,
    naming the tensor, for two ellipses or too many indices."""
    parts = index if isinstance(index, tuple) else (index,)
    ellipses = sum(1 for part in parts if part is Ellipsis)
    if ellipses > 1:
        raise IndexError(f"tensor {name!r}: only one ellipsis (...) is allowed in an index")
    if len(parts) - ellipses > len(shape):
        raise IndexError(f"tensor {name!r}: {len(parts) - ellipses} indices for {len(shape)} dimensions")
    if ellipses:
        at = parts.index(Ellipsis)
        parts = parts[:at] + (slice(None),) * (len(shape) - len(parts) + 1) + parts[at + 1:]
    return parts
