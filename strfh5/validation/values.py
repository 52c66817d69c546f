"""Reading and naming stored values, for the validation checks.

Small helpers shared by the check modules: decoding a stored string
(SPEC.md §1.3: strings are UTF-8), naming an HDF5 datatype the way a finding
message does, reading a string table in bounded blocks, shortening a list
for a message, and opening a stimulus group that is a plain hard link with
low-level calls (the fast paths).  None of them records a finding.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import h5py
import numpy as np

from .. import layout as L
from ..h5io.checks import exact_ints, unwritten

__all__ = ["TABLE_BLOCK", "exact_ints", "unwritten", "decode", "short", "dtype_name", "little_endian",
           "is_string_dtype", "kind_name", "iter_table"]

#: entries of a string table read at a time (bounds memory on tables of any length)
TABLE_BLOCK = 10000


def decode(value) -> str:
    """A stored string (bytes or str, possibly a 0-d array) as ``str`` (strict UTF-8)."""
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf-8")
    return str(value)


def short(items: Sequence, n: int = 5) -> str:
    """The first ``n`` items joined by commas, with how many more there are."""
    items = list(items)
    more = f" (+{len(items) - n} more)" if len(items) > n else ""
    return ", ".join(str(x) for x in items[:n]) + more


def dtype_name(dt) -> str:
    """A datatype as finding messages name it (``variable-length float64``, ``fixed-length string (8 bytes)``)."""
    vlen = h5py.check_vlen_dtype(dt)
    if vlen is not None:
        if vlen in (str, bytes):
            return "variable-length string"
        return f"variable-length {np.dtype(vlen).name}"
    s = h5py.check_string_dtype(dt)
    if s is not None:
        return f"fixed-length string ({s.length} bytes)"
    return np.dtype(dt).name


def little_endian(dt) -> np.dtype:
    """``dt`` in little-endian byte order, to compare with the format's dtype lists."""
    dt = np.dtype(dt)
    return dt.newbyteorder("<") if dt.byteorder in (">", "=", "<") and dt.itemsize > 1 else dt


def is_string_dtype(dt) -> bool:
    """Whether ``dt`` is an HDF5 string type (fixed- or variable-length)."""
    return h5py.check_string_dtype(dt) is not None


def kind_name(kind) -> str:
    """``'group'``, ``'dataset'`` or ``'object'`` for an h5py class (or None)."""
    if kind is h5py.Group:
        return "group"
    if kind is h5py.Dataset:
        return "dataset"
    return "object"


def iter_table(ds: h5py.Dataset) -> Iterator[tuple[int, object]]:
    """``(index, raw value)`` of each entry of a 1-D table, read :data:`TABLE_BLOCK` entries at a time.

    A table whose storage was never written (:func:`unwritten`, reported by
    the structure checks) yields nothing: its declared length must not drive
    a scan.
    """
    if not ds.is_virtual and unwritten(ds):
        return
    for a in range(0, ds.shape[0], TABLE_BLOCK):
        for j, v in enumerate(ds[a: a + TABLE_BLOCK]):
            yield a + j, v


def hard_stimulus_group(stimuli: h5py.Group, s: int):
    """The low-level group id of stimulus group ``s`` when it is a hard link to a group, else None (missing, a
    soft or external link, not a group, unreadable: the checks' h5py path words what is wrong)."""
    try:
        gname = L.stim_group_name(s).encode()
        if stimuli.id.links.get_info(gname).type != h5py.h5l.TYPE_HARD:
            return None
        return h5py.h5g.open(stimuli.id, gname)
    except Exception:  # noqa: BLE001 - anything unusual goes through the h5py path
        return None


def all_finite(a: np.ndarray) -> bool:
    """Whether every value of ``a`` is finite: one sum (finite only when every term is, a NaN or an Inf makes it
    NaN or Inf), the per-value test only when the sum is not finite (a non-finite value, or an overflow)."""
    if a.dtype.kind == "f":
        with np.errstate(all="ignore"):
            if np.isfinite(np.add.reduce(a, axis=None)):
                return True
    return bool(np.all(np.isfinite(a)))
