"""Reading one stimulus, its kept waveform and their sample rates (SPEC §5)."""

from __future__ import annotations

import h5py
import numpy as np

from .. import layout as L
from ..errors import MissingObjectError, SourceFileError
from .handle import FileHandle

__all__ = ["read_stimulus", "read_waveform", "read_sample_rate", "response_dtype", "counts_dtype",
           "check_stimulus_links"]


def check_stimulus_links(handle: FileHandle, s: int) -> None:
    """Refuse external links at ``/stimuli/<s>`` and inside it in a plain file (once per stimulus and process).

    Opening a plain file does not walk the S stimulus links (open time stays
    flat in S); this check runs before stimulus ``s`` is first read. A
    concatenated file's stimulus links were checked against its sources at open.
    """
    if s in handle.checked_stims:
        return
    f = handle.file
    if not handle.concatenated:
        group = L.stim_group_path(s)
        names = [group] + [f"{group}/{n}" for n in (L.STIM_DATA, L.STIM_WAVEFORM_DS)]
        for name in names:
            try:
                info = f.id.links.get_info(name.encode())
            except (KeyError, RuntimeError):  # absent: reading it reports that
                break
            if info.type == h5py.h5l.TYPE_EXTERNAL:
                raise SourceFileError(f"{handle.path}: /{name} is an external link but the file is not marked "
                                      "concatenated; refusing to follow it")
    handle.checked_stims.add(s)


def read_stimulus(handle: FileHandle, s: int) -> np.ndarray:
    """Stimulus ``s`` as stored."""
    # low-level open + read: a third of the high-level cost, which matters
    # for lazy DataLoader epochs (H5Dopen follows a concatenated file's links)
    check_stimulus_links(handle, s)
    name = f"/{L.stim_group_path(s)}/{L.STIM_DATA}".encode()
    try:
        dsid = h5py.h5d.open(handle.file.id, name)
    except KeyError:
        raise MissingObjectError(f"{handle.path}: stimulus dataset '{name.decode()}' is missing") from None
    out = np.empty(dsid.shape, dtype=dsid.dtype)
    if out.size:
        dsid.read(h5py.h5s.ALL, h5py.h5s.ALL, out)
    return out


def read_sample_rate(handle: FileHandle, s: int) -> float:
    """Sample rate (Hz) of waveform stimulus ``s``."""
    check_stimulus_links(handle, s)
    return float(handle.file[L.stim_group_path(s)][L.STIM_DATA].attrs[L.ATTR_SAMPLE_RATE])


def read_waveform(handle: FileHandle, s: int) -> tuple[np.ndarray, float] | None:
    """The source waveform kept beside stimulus ``s`` and its sample rate, or None."""
    check_stimulus_links(handle, s)
    g = handle.file[L.stim_group_path(s)]
    if L.STIM_WAVEFORM_DS not in g:
        return None
    ds = g[L.STIM_WAVEFORM_DS]
    return ds[()], float(ds.attrs[L.ATTR_SAMPLE_RATE])


def response_dtype(handle: FileHandle) -> np.dtype:
    """dtype of the stored response values (spike times, counts or signal)."""
    return h5py.check_vlen_dtype(handle.dataset(L.RESPONSES).dtype)


def counts_dtype(handle: FileHandle) -> np.dtype:
    """dtype of the stored per-repeat spike counts ``/counts`` (events files)."""
    return np.dtype(h5py.check_vlen_dtype(handle.dataset(L.COUNTS).dtype))
