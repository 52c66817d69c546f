"""Decoding stored HDF5 values into Python: strings and JSON records (SPEC §1.3, §8)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import CorruptDataError
from ..jsonsafe import loads
from ..records import DeferredTexts, JsonRecords

__all__ = ["attr_str", "read_json", "read_strings", "read_json_table", "TableStrings"]


def attr_str(value) -> str:
    """An HDF5 string attribute as ``str`` (h5py may return bytes or numpy scalars)."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray) and value.shape == ():
        return attr_str(value[()])
    return str(value)


def read_json(text, where: str) -> Any:
    """Parse a stored JSON string with bounded nesting (:func:`strfh5.jsonsafe.loads`); CorruptDataError naming ``where``."""
    return loads(text, where)


def read_strings(ds) -> list[str]:
    """A 1-D string dataset as a list of ``str``, decoded as strict UTF-8 whatever its declared charset (SPEC §1.3).

    One bulk read of the stored bytes, then one UTF-8 decode of them all
    (no per-element wrapper or numpy scalar: opening stays cheap in S).
    """
    if ds.shape == (0,):
        return []
    raw = ds[()]
    items = raw.tolist() if isinstance(raw, np.ndarray) else [raw]
    try:
        try:  # one decode of all strings joined by NUL, which no HDF5 string holds and no UTF-8 sequence spans
            out = b"\x00".join(items).decode("utf-8").split("\x00")
        except TypeError:  # not all bytes
            out = None
        if out is not None and len(out) == len(items):
            return out
        return [x.decode("utf-8") if isinstance(x, bytes) else attr_str(x) for x in items]
    except UnicodeDecodeError as e:
        raise CorruptDataError(f"{ds.file.filename}: {ds.name} holds a string that is not valid UTF-8 ({e})") from None


def _record(text, where: str) -> dict:
    rec = read_json(text, where)
    if not isinstance(rec, dict):
        raise CorruptDataError(f"{where}: metadata record is not a JSON object")
    return rec


class TableStrings:
    """Loads the strings of the 1-D table ``name`` through ``handle`` (a :class:`~strfh5.h5io.FileHandle`).

    The loader of a :class:`~strfh5.records.DeferredTexts`: the table is read
    in one bulk read (:func:`read_strings`) from this process' handle, after
    the checks made at open; picklable with its handle. Asked for after the
    handle was closed, it reads and closes it again.
    """

    def __init__(self, handle, name: str):
        self.handle, self.name = handle, name

    def __call__(self) -> list:
        was_open = self.handle.is_open
        try:
            return read_strings(self.handle.dataset(self.name))
        finally:
            if not was_open:
                self.handle.close()


def read_json_table(ds, where: str, lazy: bool = False, handle=None) -> "list[dict] | JsonRecords":
    """A 1-D dataset of JSON object strings as a list of dicts (``lazy``: a :class:`~strfh5.records.JsonRecords`).

    ``lazy`` with a ``handle``: not even the strings are read now
    (:class:`~strfh5.records.DeferredTexts`); the checks of the dataset itself are the caller's.
    """
    if lazy and handle is not None:
        return JsonRecords(DeferredTexts(TableStrings(handle, ds.name.lstrip("/")), ds.shape[0], where), where)
    texts = read_strings(ds)
    if lazy:
        return JsonRecords(texts, where)
    return [_record(text, f"{where}[{i}]") for i, text in enumerate(texts)]
