"""Structural checks the reader and the validator share: storage actually written, exact integers, byte order.

Each takes an h5py object or stored values and answers without reading more
than it must, so a reader can refuse a file before HDF5 allocates what the
file declares (SPEC 1.1 §12.1).
"""

from __future__ import annotations

import h5py
import numpy as np

__all__ = ["exact_ints", "unwritten", "big_endian_vlen", "native"]


def exact_ints(values) -> np.ndarray:
    """Stored unsigned integers as int64, or as Python ints (an object array) when some exceed int64.

    ``np.asarray(x, dtype=np.int64)`` would read a uint64 value of 2**64 - 1
    as -1; checks compare these values exactly instead.
    """
    a = np.asarray(values).reshape(-1)
    if a.dtype.kind == "u" and a.size and int(a.max()) > np.iinfo(np.int64).max:
        return np.array([int(x) for x in a], dtype=object)
    return a.astype(np.int64)


def unwritten(ds: h5py.Dataset) -> str | None:
    """Why ``ds`` holds less data than it declares (chunks or storage never written), or None."""
    dsid = ds.id
    declared = ds.size * ds.dtype.itemsize
    if ds.chunks is not None:
        expected = 1
        for n, c in zip(ds.shape, ds.chunks):
            expected *= -(-n // c)
        have = dsid.get_num_chunks()
        if have < expected:
            return (f"declares {ds.shape} ({declared} bytes) but only {have} of its {expected} chunks were "
                    f"ever written ({dsid.get_storage_size()} bytes stored)")
        return None
    if dsid.get_create_plist().get_layout() == h5py.h5d.CONTIGUOUS and dsid.get_storage_size() < declared:
        return f"declares {ds.shape} ({declared} bytes) but stores {dsid.get_storage_size()} bytes"
    return None


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
