"""Reading one stimulus, its kept waveform and their sample rates (SPEC §5)."""

from __future__ import annotations

import h5py
import numpy as np

from .. import layout as L
from ..errors import CorruptDataError, FileFormatError, MissingObjectError, SourceFileError
from .checks import missing_filter, unwritten
from .handle import FileHandle
from .heaps import check_attributes, check_values

__all__ = ["read_stimulus", "read_waveform", "has_waveform", "waveform_summary", "read_sample_rate", "response_dtype",
           "counts_dtype", "check_stimulus_links",
           "check_stimulus"]


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


def check_stimulus(handle: FileHandle, s: int, n_bins: int | None = None) -> h5py.h5d.DatasetID:
    """Stimulus ``s``'s dataset, checked without reading its values (SPEC 1.1 §5.2, §12.1); returns it open.

    ``data`` must be a hard-linked, non-virtual dataset of numbers with at
    least two axes, whose chunks were all written, whose filters this HDF5
    library has and, when ``n_bins`` is given (spectrograms and videos),
    whose last axis has ``n_bins`` frames.  :func:`read_stimulus` runs it
    before reading; ``info`` and on-disk ``concat`` run it on every stimulus
    (:mod:`strfh5.h5io.structure`).

    Raises
    ------
    MissingObjectError, SourceFileError, FileFormatError, CorruptDataError
    """
    check_stimulus_links(handle, s)
    name = f"/{L.stim_group_path(s)}/{L.STIM_DATA}"
    dsid, dcpl = _open_data(handle, s, name)
    dtype, shape = dsid.dtype, dsid.shape  # low-level: each h5py.Dataset property asks HDF5 again
    if dtype.kind not in "fiu" or dtype.fields is not None or len(shape) < 2:
        raise CorruptDataError(f"{handle.path}: stimulus dataset '{name}' holds {dtype} of shape {shape}; "
                               "stimuli are arrays of numbers with a channel axis and a time axis")
    if n_bins is not None and shape[-1] != n_bins:
        raise CorruptDataError(f"{handle.path}: stimulus dataset '{name}' has {shape[-1]} frames but "
                               f"/{L.STIM_N_BINS}[{s}] = {n_bins} response bins; they must be equal")
    why = unwritten(dsid, dcpl)
    if why:
        raise CorruptDataError(f"{handle.path}: stimulus dataset '{name}' {why}")
    why = missing_filter(dsid, dcpl)
    if why:
        raise FileFormatError(f"{handle.path}: stimulus dataset '{name}' {why}")
    return dsid


def read_stimulus(handle: FileHandle, s: int, n_bins: int | None = None) -> np.ndarray:
    """Stimulus ``s`` as stored, checked (:func:`check_stimulus`) before it is read (SPEC 1.1 §5.2, §12.1)."""
    dsid = check_stimulus(handle, s, n_bins)
    name = f"/{L.stim_group_path(s)}/{L.STIM_DATA}"
    try:
        out = np.empty(dsid.shape, dtype=dsid.dtype)
        if out.size:
            dsid.read(h5py.h5s.ALL, h5py.h5s.ALL, out)
    except (OSError, ValueError, MemoryError) as e:
        raise CorruptDataError(f"{handle.path}: stimulus dataset '{name}' cannot be read ({type(e).__name__}: {e})") \
            from None
    return out


def _open_data(handle: FileHandle, s: int, name: str):
    """Stimulus ``s``'s dataset and its creation properties, opened low-level (a third of the high-level cost,
    which matters for lazy DataLoader epochs and for ``info`` on files of many stimuli)."""
    group = f"/{L.stim_group_path(s)}".encode()
    try:
        gid = h5py.h5g.open(handle.file.id, group)
        link_type = gid.links.get_info(L.STIM_DATA.encode()).type
    except (KeyError, ValueError, TypeError, RuntimeError):
        if _object_type(handle.file.id, group) not in (None, h5py.h5o.TYPE_GROUP):
            raise FileFormatError(f"{handle.path}: '{group.decode()}' is not a group; a stimulus group belongs "
                                  "there") from None
        raise MissingObjectError(f"{handle.path}: stimulus dataset '{name}' is missing") from None
    if link_type != h5py.h5l.TYPE_HARD:
        raise SourceFileError(f"{handle.path}: stimulus dataset '{name}' is a link; stimulus data must be stored in "
                              "the stimulus group (SPEC 1.1 §12)")
    try:
        dsid = h5py.h5d.open(gid, L.STIM_DATA.encode())
    except (KeyError, ValueError, TypeError, RuntimeError, OSError) as e:
        obj_type = _object_type(gid, L.STIM_DATA.encode())
        if obj_type is not None and obj_type != h5py.h5o.TYPE_DATASET:
            what = "a group" if obj_type == h5py.h5o.TYPE_GROUP else "not a dataset"
            raise FileFormatError(f"{handle.path}: '{name}' is {what}; a stimulus dataset belongs there") from None
        raise CorruptDataError(f"{handle.path}: stimulus dataset '{name}' cannot be opened ({e})") from None
    dcpl = dsid.get_create_plist()
    if dcpl.get_layout() == h5py.h5d.VIRTUAL:
        raise SourceFileError(f"{handle.path}: stimulus dataset '{name}' is a virtual dataset; stimulus data must "
                              "be stored in the stimulus group (SPEC 1.1 §12)")
    return dsid, dcpl


def _object_type(loc, name: bytes):
    """HDF5 object type of ``name`` under ``loc`` (a hard link), or None when it cannot be looked up."""
    try:
        return h5py.h5o.get_info(loc, name).type
    except (KeyError, ValueError, TypeError, RuntimeError, OSError):
        return None


def _group(handle: FileHandle, s: int) -> h5py.Group:
    """The group of stimulus ``s``, refused when missing or not a group."""
    name = L.stim_group_path(s)
    try:
        g = handle.file.get(name)
    except (KeyError, RuntimeError, ValueError) as e:
        raise CorruptDataError(f"{handle.path}: stimulus group '/{name}' cannot be opened ({e})") from None
    if g is None:
        raise MissingObjectError(f"{handle.path}: stimulus group '/{name}' is missing")
    if not isinstance(g, h5py.Group):
        raise FileFormatError(f"{handle.path}: '/{name}' is not a group; a stimulus group belongs there")
    return g


def read_sample_rate(handle: FileHandle, s: int) -> float:
    """Sample rate (Hz) of waveform stimulus ``s``."""
    check_stimulus_links(handle, s)
    ds = _group(handle, s)[L.STIM_DATA]
    check_attributes(ds, handle.path)
    return float(ds.attrs[L.ATTR_SAMPLE_RATE])


def has_waveform(handle: FileHandle, s: int) -> bool:
    """True when stimulus ``s`` keeps its source waveform (a group lookup; reads no data)."""
    check_stimulus_links(handle, s)
    return L.STIM_WAVEFORM_DS in _group(handle, s)


def read_waveform(handle: FileHandle, s: int) -> tuple[np.ndarray, float] | None:
    """The source waveform kept beside stimulus ``s`` and its sample rate, or None.

    A waveform stored compactly as int16 with a ``scale`` attribute (see
    SPEC §5.2) is returned as float32
    ``int16 * scale``; a float waveform as stored.
    """
    check_stimulus_links(handle, s)
    g = _group(handle, s)
    if L.STIM_WAVEFORM_DS not in g:
        return None
    ds = g[L.STIM_WAVEFORM_DS]
    if not isinstance(ds, h5py.Dataset):
        raise FileFormatError(f"{handle.path}: kept waveform '{ds.name}' is not a dataset")
    check_attributes(ds, handle.path)
    check_values(ds, handle.path)
    w = ds[()]
    if w.dtype.kind in "iu":
        if L.ATTR_WAVEFORM_SCALE not in ds.attrs:
            raise MissingObjectError(f"{handle.path}: kept waveform {ds.name} is stored as {w.dtype} without the "
                                   f"'{L.ATTR_WAVEFORM_SCALE}' attribute that gives its amplitude")
        scale = float(np.asarray(ds.attrs[L.ATTR_WAVEFORM_SCALE]).reshape(()))
        if not (np.isfinite(scale) and scale > 0):
            raise CorruptDataError(f"{handle.path}: kept waveform {ds.name} has scale {scale!r}; it must be a "
                                   "positive finite number")
        w = (w.astype(np.float32) * np.float32(scale)).astype(np.float32)
    return w, float(ds.attrs[L.ATTR_SAMPLE_RATE])


def waveform_summary(handle: FileHandle, S: int) -> dict:
    """Which stimuli keep a source waveform: ``{'kept', 'dtypes', 'stored_bytes'}`` (reads no data)."""
    kept, dtypes, nbytes = 0, set(), 0
    for s in range(S):
        check_stimulus_links(handle, s)
        g = _group(handle, s)
        try:
            if L.STIM_WAVEFORM_DS not in g:
                continue
            ds = g[L.STIM_WAVEFORM_DS]
            kept += 1
            dtypes.add(str(ds.dtype) + (" + scale" if L.ATTR_WAVEFORM_SCALE in ds.attrs else ""))
            nbytes += int(ds.id.get_storage_size())
        except (KeyError, RuntimeError, ValueError, AttributeError) as e:  # HDF5 cannot decode the objects
            raise CorruptDataError(f"{handle.path}: the kept waveform of stimulus {s} cannot be inspected "
                                   f"({type(e).__name__}: {e})") from None
    return {"kept": kept, "dtypes": sorted(dtypes), "stored_bytes": nbytes}


def response_dtype(handle: FileHandle) -> np.dtype:
    """dtype of the stored response values (spike times, counts or signal)."""
    return h5py.check_vlen_dtype(handle.dataset(L.RESPONSES).dtype)


def counts_dtype(handle: FileHandle) -> np.dtype:
    """dtype of the stored per-repeat spike counts ``/counts`` (events files)."""
    return np.dtype(h5py.check_vlen_dtype(handle.dataset(L.COUNTS).dtype))
