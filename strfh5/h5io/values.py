"""Decoding stored HDF5 values into Python: strings and JSON records (SPEC §1.3, §8)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import CorruptDataError
from ..jsonsafe import loads
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
    """Parse a stored JSON string with bounded nesting (:func:`strfh5.jsonsafe.loads`); CorruptDataError naming ``where``."""
    return loads(text, where)


def read_strings(ds) -> list[str]:
    """A 1-D string dataset as a list of ``str``, decoded as strict UTF-8 whatever its declared charset (SPEC §1.3)."""
    if ds.shape == (0,):
        return []
    try:
        return [attr_str(x) for x in ds.asstr("utf-8", "strict")[()]]
    except UnicodeDecodeError as e:
        raise CorruptDataError(f"{ds.file.filename}: {ds.name} holds a string that is not valid UTF-8 ({e})") from None


def _record(text, where: str) -> dict:
    rec = read_json(text, where)
    if not isinstance(rec, dict):
        raise CorruptDataError(f"{where}: metadata record is not a JSON object")
    return rec


def read_json_table(ds, where: str, lazy: bool = False) -> "list[dict] | JsonRecords":
    """A 1-D dataset of JSON object strings as a list of dicts (``lazy``: a :class:`~strfh5.records.JsonRecords`)."""
    texts = read_strings(ds)
    if lazy:
        return JsonRecords(texts, where)
    return [_record(text, f"{where}[{i}]") for i, text in enumerate(texts)]
