"""Whole-file structural checks for entry points that do not read every value: ``info`` and on-disk ``concat``.

They apply the reader's own checks (:func:`~strfh5.h5io.stimuli.check_stimulus`
on every stimulus, the exact-arithmetic rule of
:func:`~strfh5.h5io.rows.check_row` on ``/counts``) to the whole file, so a
file that a load refuses is refused by them too (SPEC 1.1 §12.1), while
reading no stimulus value and no response payload: their cost grows with S
(and S x N x R small counts), not with the size of the data.
"""

from __future__ import annotations

import h5py
import numpy as np

from .. import layout as L
from ..errors import CorruptDataError
from ..records import FileInfo
from .checks import counts_too_large, exact_ints
from .handle import FileHandle
from .heaps import check_values
from .rows import read_vlen_row
from .stimuli import check_stimulus

__all__ = ["check_stimuli", "check_counts", "check_response_descriptors"]


def check_stimuli(handle: FileHandle, info: FileInfo, n_bins: np.ndarray) -> None:
    """Run :func:`~strfh5.h5io.stimuli.check_stimulus` on every stimulus (links, dtype, shape, frames vs
    ``n_bins``, storage written, filters available), reading no stimulus value.

    Raises
    ------
    MissingObjectError, SourceFileError, FileFormatError, CorruptDataError
        The first stimulus a load would refuse, named.
    """
    timed = info.stim_kind != L.STIM_WAVEFORM  # spectrogram and video frames are the response bins
    for s in range(len(n_bins)):
        check_stimulus(handle, s, int(n_bins[s]) if timed else None)


def check_counts(handle: FileHandle, info: FileInfo, repeats: np.ndarray) -> None:
    """Check ``/counts`` of an events file row by row against ``/repeats`` (SPEC §4), without the spike times.

    Every pair holds ``repeats`` counts (none when not recorded), and the
    counts sum exactly (:func:`~strfh5.h5io.checks.counts_too_large`, as a
    load checks them): a uint64 sum that wraps around 2**64 onto the number of
    stored spike times is refused.  ``/counts`` is read only when its stored
    type could hold such counts (uint64, or uint32 with more than 2**30
    repeats); files of narrower counts (what the writers store) cost nothing.
    Does nothing for binned files.

    Raises
    ------
    CorruptDataError
        Naming the first bad pair or row.
    """
    if info.encoding != L.ENCODING_EVENTS or not repeats.size:
        return
    ds = handle.dataset(L.COUNTS)
    base = np.dtype(h5py.check_vlen_dtype(ds.dtype) or ds.dtype)
    if base.kind == "u" and not counts_too_large(exact_ints(np.array([np.iinfo(base).max], dtype=base)),
                                                 int(repeats.max())):
        return  # no value the stored type holds can be too large (uint8-uint32 counts): nothing to read
    for s in range(repeats.shape[0]):
        reps = np.asarray(repeats[s], dtype=np.int64)
        raw = read_vlen_row(ds, s)
        clens = np.fromiter(map(len, raw), dtype=np.int64, count=len(raw))
        bad = np.flatnonzero(clens != reps)
        if bad.size:
            n = int(bad[0])
            raise CorruptDataError(f"{handle.path}: /{L.COUNTS}[{s}, {n}] holds {clens[n]} counts, which contradicts "
                                   f"/{L.REPEATS}[{s}, {n}] = {reps[n]}")
        parts = [c for c, r in zip(raw, reps) if r]
        counts = exact_ints(np.concatenate(parts)) if parts else np.empty(0, np.int64)
        if counts_too_large(counts, int(reps.max())):
            raise CorruptDataError(f"{handle.path}: /{L.COUNTS} row {s} holds per-repeat counts too large to sum "
                                   f"exactly (largest {max(int(c) for c in counts)}); counts must sum to the stored "
                                   "spike times")


def check_response_descriptors(handle: FileHandle, info: FileInfo) -> None:
    """Check every VLEN descriptor of ``/responses`` (and ``/counts``) against its heap object, reading no payload.

    The check a lazy row read makes before HDF5 follows a row's descriptors
    (:func:`~strfh5.h5io.heaps.check_values`), made on the whole dataset:
    a descriptor pointing at no heap object of its length is refused, as a
    load refuses it.

    Raises
    ------
    CorruptDataError
        Naming the dataset and the first bad element.
    """
    names = [L.RESPONSES] + ([L.COUNTS] if info.encoding == L.ENCODING_EVENTS else [])
    for name in names:
        check_values(handle.dataset(name), handle.path)
