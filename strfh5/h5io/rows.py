"""Reading one stimulus row of the response datasets, checked (SPEC §4).

:func:`read_raw_row` is the single primitive both eager and lazy reading use:
``(stimulus, neurons) -> RawRow``, with the invariants of SPEC §4 checked
vectorised against ``/repeats`` before the values are trusted.
"""

from __future__ import annotations

from typing import Sequence

import h5py
import numpy as np

from .. import layout as L
from ..errors import CorruptDataError
from ..records import Events, FileInfo, RawRow
from .checks import big_endian_vlen, counts_too_large, exact_ints, native
from .heaps import check_values
from .handle import FileHandle

__all__ = ["read_vlen_row", "check_row", "read_raw_row", "read_elements"]


def read_vlen_row(ds: h5py.Dataset, s: int, neurons: Sequence[int] | None = None) -> np.ndarray:
    """Row ``s`` of a 2-D VLEN dataset as a 1-D object array, for ``neurons`` (all when None).

    For a neuron subset only the column span ``min(neurons)..max(neurons)`` is
    read (one hyperslab; in a concatenated file that skips the other sources'
    unmapped blocks), then indexed.  The row's heap objects are checked first
    (:func:`strfh5.h5io.heaps.check_values`, once per row and process).
    """
    check_values(ds, ds.file.filename, (s, s + 1))
    try:
        if neurons is None:
            row = ds[s]
        else:
            idx = np.asarray(neurons, dtype=np.int64).reshape(-1)
            if idx.size == 0:
                return np.empty(0, dtype=object)
            lo, hi = int(idx.min()), int(idx.max())
            row = ds[s, lo : hi + 1][idx - lo]
    except (OSError, ValueError, TypeError, MemoryError) as e:
        raise CorruptDataError(f"{ds.file.filename}: {ds.name} row {s} cannot be read ({type(e).__name__}: {e})") \
            from None
    # h5py hands big-endian VLEN elements back as the stored bytes labelled native: swap them (SPEC §1.3)
    return native(row, big_endian_vlen(ds))


def check_row(
    path: str,
    s: int,
    which: np.ndarray,
    reps: np.ndarray,
    raw: np.ndarray,
    counts_raw: np.ndarray | None = None,
    n_bins: int = 0,
) -> np.ndarray | None:
    """Check one row's elements against ``/repeats`` (SPEC §4), vectorised.

    ``raw`` (and, for events, ``counts_raw``) are the row's VLEN elements for
    the neurons ``which``, whose repeats are ``reps``. Binned: every element
    holds ``repeats x n_bins`` values. Events: ``/counts`` holds ``repeats``
    values summing to the number of spike times, and a missing pair holds
    nothing. Raises :class:`CorruptDataError` naming the first bad pair.

    Returns the per-repeat counts of the recorded pairs concatenated (events),
    None for binned rows.
    """
    lens = np.fromiter(map(len, raw), dtype=np.int64, count=len(raw))
    if counts_raw is None:
        bad = lens != reps * n_bins
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            raise CorruptDataError(
                f"{path}: /{L.RESPONSES}[{s}, {int(which[j])}] holds {lens[j]} values, expected repeats x n_bins "
                f"= {reps[j]} x {n_bins} = {reps[j] * n_bins}"
            )
        return None
    present = reps > 0
    clens = np.fromiter(map(len, counts_raw), dtype=np.int64, count=len(counts_raw))
    parts = [c for c, p in zip(counts_raw, present) if p]
    counts = exact_ints(np.concatenate(parts)) if parts else np.empty(0, np.int64)
    if counts_too_large(counts, int(reps.max()) if reps.size else 0):
        raise CorruptDataError(f"{path}: /{L.COUNTS} row {s} holds per-repeat counts too large to sum exactly "
                               f"(largest {max(int(c) for c in counts)}); counts must sum to the stored spike times")
    bad = (clens != reps) | (~present & (lens > 0))
    if not bad.any() and counts.size:
        starts = np.concatenate([[0], np.cumsum(reps[present])[:-1]])
        bad[np.flatnonzero(present)[np.add.reduceat(counts, starts) != lens[present]]] = True
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        n = int(which[j])
        raise CorruptDataError(
            f"{path}: /{L.RESPONSES}[{s}, {n}] holds {lens[j]} spike times and /{L.COUNTS}[{s}, {n}] "
            f"{clens[j]} counts, which contradicts /{L.REPEATS}[{s}, {n}] = {reps[j]}"
        )
    return counts


def _read(handle: FileHandle, info: FileInfo, s: int, n_bins: int, repeats: np.ndarray, neurons):
    """Row ``s`` read and checked: ``(reps, values, counts, flat_counts)`` (counts None for binned files).

    ``flat_counts`` concatenates the per-repeat counts of the recorded pairs.
    """
    nidx = None if neurons is None else np.asarray(neurons, dtype=np.int64).reshape(-1)
    raw = read_vlen_row(handle.dataset(L.RESPONSES), s, nidx)
    reps = np.asarray(repeats, dtype=np.int64)
    which = np.arange(reps.size) if nidx is None else nidx
    reps = reps[which]
    if info.encoding == L.ENCODING_EVENTS:
        counts = read_vlen_row(handle.dataset(L.COUNTS), s, nidx)
        flat = check_row(handle.path, s, which, reps, raw, counts)
        return reps, raw, counts, flat
    check_row(handle.path, s, which, reps, raw, n_bins=n_bins)
    return reps, raw, None, None


def read_raw_row(handle: FileHandle, info: FileInfo, s: int, n_bins: int, repeats: np.ndarray,
                 neurons: Sequence[int] | None = None, dtype=None) -> RawRow:
    """Stimulus row ``s`` (for ``neurons``, all when None) as a checked :class:`RawRow`.

    ``repeats`` is the file's ``/repeats`` row ``s``; ``dtype`` (binned files)
    converts the values while concatenating them. When the file has a response
    byte-range index (:mod:`strfh5.h5io.index`) the row is read through it
    and verified against its digest; on any failed check, or without an
    index, it is read through HDF5.

    Raises
    ------
    CorruptDataError
        An element contradicts ``/repeats`` (naming the pair).
    """
    index = handle.index(info.encoding, info.concatenated)
    if index is not None:
        row = index.raw_row(s, n_bins, repeats, neurons, dtype)
        if row is not None:
            return row
    reps, raw, counts, flat = _read(handle, info, s, n_bins, repeats, neurons)
    present = reps > 0
    if counts is not None:
        parts = [t for t, p in zip(raw, present) if p]
        return RawRow(reps, np.concatenate(parts) if parts else np.empty(0), flat)
    # missing elements are empty: concatenating the whole row adds nothing for them
    if not present.any():
        return RawRow(reps, np.empty(0, dtype or np.float32))
    if dtype is None:
        return RawRow(reps, np.concatenate(list(raw)))
    return RawRow(reps, np.concatenate(list(raw), dtype=dtype, casting="unsafe"))


def read_elements(handle: FileHandle, info: FileInfo, s: int, n_bins: int, repeats: np.ndarray,
                  neurons: Sequence[int] | None = None) -> list:
    """Stimulus row ``s`` as elements: None (not recorded), :class:`Events` or ``(R, T)`` arrays."""
    reps, raw, counts, _flat = _read(handle, info, s, n_bins, repeats, neurons)
    if counts is not None:
        return [Events(raw[j], counts[j]) if r else None for j, r in enumerate(reps)]
    return [raw[j].reshape(int(r), n_bins) if r else None for j, r in enumerate(reps)]
