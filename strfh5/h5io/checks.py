"""Structural checks the reader and the validator share: storage actually written, exact integers, byte order.

Each takes an h5py object or stored values and answers without reading more
than it must, so a reader can refuse a file before HDF5 allocates what the
file declares (SPEC 1.1 §12.1).
"""

from __future__ import annotations

import math

import h5py
import numpy as np

__all__ = ["exact_ints", "unwritten", "missing_filter", "counts_too_large", "big_endian_vlen", "native"]


def exact_ints(values) -> np.ndarray:
    """Stored unsigned integers as int64, or as Python ints (an object array) when some exceed int64.

    ``np.asarray(x, dtype=np.int64)`` would read a uint64 value of 2**64 - 1
    as -1; checks compare these values exactly instead.
    """
    a = np.asarray(values).reshape(-1)
    if a.dtype.kind == "u" and a.size and int(a.max()) > np.iinfo(np.int64).max:
        return np.array([int(x) for x in a], dtype=object)
    return a.astype(np.int64)


def unwritten(ds, dcpl=None) -> str | None:
    """Why ``ds`` holds less data than it declares (chunks or storage never written), or None.

    ``ds`` is an :class:`h5py.Dataset` or its low-level ``DatasetID``; ``dcpl``
    its creation property list when the caller has it already (each lookup
    asks HDF5 again).
    """
    dsid = ds.id if isinstance(ds, h5py.Dataset) else ds
    dcpl = dsid.get_create_plist() if dcpl is None else dcpl
    shape = dsid.shape
    declared = math.prod(shape) * dsid.dtype.itemsize
    layout = dcpl.get_layout()
    if layout == h5py.h5d.CHUNKED:
        expected = 1
        for n, c in zip(shape, dcpl.get_chunk()):
            expected *= -(-n // c)
        have = dsid.get_num_chunks()
        if have < expected:
            return (f"declares {shape} ({declared} bytes) but only {have} of its {expected} chunks were "
                    f"ever written ({dsid.get_storage_size()} bytes stored)")
        return None
    if layout == h5py.h5d.CONTIGUOUS and dsid.get_storage_size() < declared:
        return f"declares {shape} ({declared} bytes) but stores {dsid.get_storage_size()} bytes"
    return None


def missing_filter(ds, dcpl=None) -> str | None:
    """Why HDF5 cannot decode ``ds`` here (a filter of its pipeline this HDF5 library lacks), or None.

    Answers from the dataset's creation properties (``dcpl``, looked up when
    not given), without reading a chunk (HDF5 tries to load a filter plugin
    when asked whether it has it).
    """
    if dcpl is None:
        dcpl = (ds.id if isinstance(ds, h5py.Dataset) else ds).get_create_plist()
    for i in range(dcpl.get_nfilters()):
        code, _flags, _values, name = dcpl.get_filter(i)
        if not h5py.h5z.filter_avail(code):
            label = name.decode("ascii", "replace") if isinstance(name, bytes) else str(name)
            return (f"needs HDF5 filter {code} ({label!r}), which this HDF5 library does not have; it cannot be "
                    "decoded here (SPEC 1.1 §5.2: stimuli use HDF5's built-in filters)")
    return None


def counts_too_large(counts: np.ndarray, max_repeats: int) -> bool:
    """Whether per-repeat spike ``counts`` (stored unsigned ints, as :func:`exact_ints` returns them) may not sum
    exactly in int64 over ``max_repeats`` repeats: a count above int64, or ``max count x repeats > 2**62``.

    No real recording comes near: such counts are corrupt (a uint64 sum could wrap onto the true number of
    spike times).
    """
    return counts.dtype == object or bool(counts.size and int(counts.max()) * int(max_repeats) > 2**62)


def big_endian_vlen(ds: h5py.Dataset) -> bool:
    """Whether ``ds`` stores VLEN elements of a big-endian multi-byte type (SPEC §1.3 allows it)."""
    base = np.dtype(h5py.check_vlen_dtype(ds.dtype))
    return base.itemsize > 1 and base.byteorder == (">" if np.little_endian else "<")


def native(row, swap: bool) -> np.ndarray:
    """A row of VLEN elements with their true values.

    h5py returns the elements of a big-endian VLEN dataset as the stored
    bytes labelled with the native byte order (the values come out wrong);
    such elements are byte-swapped.  Elements already labelled big-endian
    (correctly converted) are left as they are.
    """
    if not swap:
        return row
    out = np.empty(len(row), dtype=object)
    for j, e in enumerate(row):
        e = np.asarray(e)
        out[j] = e.byteswap() if e.dtype.byteorder in ("=", "|", "<" if np.little_endian else ">") else e
    return out
