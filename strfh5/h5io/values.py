"""Decoding stored HDF5 values into Python: strings and JSON records (SPEC §1.3, §8)."""

from __future__ import annotations

import json
from collections.abc import MutableSequence
from typing import Any

import numpy as np

from ..errors import CorruptDataError

__all__ = ["attr_str", "read_json", "read_strings", "read_json_table", "JsonRecords"]


def attr_str(value) -> str:
    """An HDF5 string attribute as ``str`` (h5py may return bytes or numpy scalars)."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray) and value.shape == ():
        return attr_str(value[()])
    return str(value)


def read_json(text, where: str) -> Any:
    """Parse a stored JSON string; raises :class:`CorruptDataError` naming ``where``."""
    try:
        return json.loads(attr_str(text))
    except (TypeError, ValueError) as e:
        raise CorruptDataError(f"{where}: stored metadata is not valid JSON ({e})") from None


def read_strings(ds) -> list[str]:
    """A 1-D string dataset as a list of ``str``."""
    return [attr_str(x) for x in ds.asstr()[()]] if ds.shape != (0,) else []


def _record(text, where: str) -> dict:
    rec = read_json(text, where)
    if not isinstance(rec, dict):
        raise CorruptDataError(f"{where}: metadata record is not a JSON object")
    return rec


def read_json_table(ds, where: str, lazy: bool = False) -> "list[dict] | JsonRecords":
    """A 1-D dataset of JSON object strings as a list of dicts (``lazy``: a :class:`JsonRecords`)."""
    texts = ds.asstr()[()] if ds.shape != (0,) else np.empty(0, dtype=object)
    if lazy:
        return JsonRecords(texts, where)
    return [_record(text, f"{where}[{i}]") for i, text in enumerate(texts)]


class JsonRecords(MutableSequence):
    """Metadata records decoded when first asked for (a lazy open stays flat in S).

    Behaves as a list of dicts: a record is parsed on first access (raising
    :class:`CorruptDataError` naming it if it is not a JSON object) and the
    same dict is returned afterwards, so edits to it persist.
    """

    def __init__(self, texts, where: str):
        self._texts = texts
        self._where = where
        self._done: list = [None] * len(texts)

    def __len__(self) -> int:
        return len(self._done)

    def _get(self, i: int) -> dict:
        rec = self._done[i]
        if rec is None:
            rec = self._done[i] = _record(self._texts[i], f"{self._where}[{i}]")
        return rec

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._get(j) for j in range(*i.indices(len(self)))]
        n = len(self)
        j = int(i) + n if int(i) < 0 else int(i)
        if not 0 <= j < n:
            raise IndexError(f"metadata record {int(i)} out of range for {n} records")
        return self._get(j)

    def __setitem__(self, i, value) -> None:
        self[i]  # range check
        j = int(i) % len(self)
        self._done[j] = value

    def __delitem__(self, i) -> None:
        raise TypeError(f"{self._where}: metadata records of a file cannot be deleted")

    def insert(self, i, value) -> None:
        raise TypeError(f"{self._where}: metadata records of a file cannot be inserted")

    def __eq__(self, other) -> bool:
        return list(self) == list(other) if isinstance(other, (list, JsonRecords)) else NotImplemented

    def __repr__(self) -> str:
        return repr(list(self))
