"""weightmap's exceptions: one class with the library's error code, and
subclasses for the codes callers branch on."""

from __future__ import annotations

from typing import Optional


class Error(Exception):
    """A weightmap failure.

    Attributes: ``code`` (the library's stable error code name:
    "not_found", "bad_format", "unsupported", "changed_on_disk",
    "out_of_memory", "limit_reached", "io", "invalid_argument", "device",
    or "busy" from the Python package), ``file``, ``tensor``, ``offset``
    (each None when not involved) and ``message``; ``str(e)`` is the full
    text naming file, tensor and offset.
    """

    def __init__(self, code: str, message: str, file: Optional[str] = None,
                 tensor: Optional[str] = None, offset: Optional[int] = None,
                 text: Optional[str] = None):
        super().__init__(text if text is not None else message)
        self.code = code
        self.message = message
        self.file = file
        self.tensor = tensor
        self.offset = offset


class ChangedOnDiskError(Error):
    """A model file was truncated, rewritten, replaced or removed since it
    was opened (code "changed_on_disk")."""


class BusyError(Error):
    """apply_lora / remove_loras while arrays taken from the model are alive
    (code "busy"): a LoRA may rewrite or unmap the bytes they view."""


class InvalidArgumentError(Error, ValueError):
    """Options or arguments that make no sense (a device rule naming an
    unknown device, bad hints), or a call on a closed Model (code
    "invalid_argument"); also a ValueError, as Python's own are."""


_BY_CODE = {"changed_on_disk": ChangedOnDiskError, "busy": BusyError, "invalid_argument": InvalidArgumentError}


def from_native(code, file, tensor, offset, message, text):
    """Called by the native module to build the exception it raises."""
    cls = _BY_CODE.get(code, Error)
    return cls(code, message, file=file, tensor=tensor, offset=offset, text=text)
