"""Decoding stored HDF5 values into Python: strings and JSON records (SPEC §1.3, §8)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ..errors import CorruptDataError
from ..records import JsonRecords

__all__ = ["attr_str", "read_json", "read_strings", "read_json_table"]


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
    """A 1-D dataset of JSON object strings as a list of dicts (``lazy``: a :class:`~strfh5.records.JsonRecords`)."""
    texts = ds.asstr()[()] if ds.shape != (0,) else np.empty(0, dtype=object)
    if lazy:
        return JsonRecords(texts, where)
    return [_record(text, f"{where}[{i}]") for i, text in enumerate(texts)]
