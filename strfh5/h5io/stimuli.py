"""Reading one stimulus, its kept waveform and their sample rates (SPEC §5)."""

from __future__ import annotations

import h5py
import numpy as np

from .. import layout as L
from ..errors import MissingObjectError, SourceFileError
from .handle import FileHandle

__all__ = ["read_stimulus", "read_waveform", "read_sample_rate", "response_dtype"]


def read_stimulus(handle: FileHandle, s: int) -> np.ndarray:
    """Stimulus ``s`` as stored."""
    # low-level open + read: a third of the high-level cost, which matters
    # for lazy DataLoader epochs (H5Dopen follows a concatenated file's links)
    name = f"/{L.stim_group_path(s)}/{L.STIM_DATA}"
    try:
        gid = h5py.h5g.open(handle.file.id, f"/{L.stim_group_path(s)}".encode())
        link_type = gid.links.get_info(L.STIM_DATA.encode()).type
        dsid = h5py.h5d.open(gid, L.STIM_DATA.encode()) if link_type == h5py.h5l.TYPE_HARD else None
    except KeyError:
        raise MissingObjectError(f"{handle.path}: stimulus dataset '{name}' is missing") from None
    if dsid is None or dsid.get_create_plist().get_layout() == h5py.h5d.VIRTUAL:
        raise SourceFileError(f"{handle.path}: stimulus dataset '{name}' is a link or a virtual dataset; stimulus "
                              "data must be stored in the stimulus group (SPEC 1.1 §12)")
    out = np.empty(dsid.shape, dtype=dsid.dtype)
    if out.size:
        dsid.read(h5py.h5s.ALL, h5py.h5s.ALL, out)
    return out


def read_sample_rate(handle: FileHandle, s: int) -> float:
    """Sample rate (Hz) of waveform stimulus ``s``."""
    return float(handle.file[L.stim_group_path(s)][L.STIM_DATA].attrs[L.ATTR_SAMPLE_RATE])


def read_waveform(handle: FileHandle, s: int) -> tuple[np.ndarray, float] | None:
    """The source waveform kept beside stimulus ``s`` and its sample rate, or None."""
    g = handle.file[L.stim_group_path(s)]
    if L.STIM_WAVEFORM_DS not in g:
        return None
    ds = g[L.STIM_WAVEFORM_DS]
    return ds[()], float(ds.attrs[L.ATTR_SAMPLE_RATE])


def response_dtype(handle: FileHandle) -> np.dtype:
    """dtype of the stored response values (spike times, counts or signal)."""
    return h5py.check_vlen_dtype(handle.dataset(L.RESPONSES).dtype)
