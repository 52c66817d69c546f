"""Opening strfh5 files safely and decoding their tables and rows.

Everything that turns HDF5 objects into Python values for the reader lives
here, with the checks a reader must make before trusting a file (SPEC §2, §3,
§9): the file is HDF5, carries the strfh5 markers, has a major version this
library reads, and — for a concatenated file — its sources resolve safely and
are the files it was built from.  Failures raise :mod:`strfh5.errors` classes
naming the file and the object, never a bare h5py/KeyError.
"""

from __future__ import annotations

import json
import os
import stat
import warnings
from typing import Any, Sequence

import h5py
import numpy as np

from . import layout as L
from .contents import Events, FileInfo
from .errors import (
    CorruptDataError,
    FileFormatError,
    MissingObjectError,
    NotStrfH5FileError,
    UnsupportedVersionError,
)

__all__ = ["open_file", "read_info", "read_tables", "read_vlen_row", "check_row", "decode_row", "attr_str", "read_json"]


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


def check_version(text, path: str) -> tuple[int, int]:
    """Check a file's format version against this library (SPEC §2)."""
    from . import __version__

    raw = text[()] if isinstance(text, np.ndarray) and text.shape == () else text
    try:
        if not isinstance(raw, (str, bytes)):  # SPEC 1.1 §2: a number is not a version string
            raise ValueError(f"format version {raw!r} is stored as {type(raw).__name__}, not a string")
        major, minor = L.parse_version(attr_str(raw))
    except (ValueError, UnicodeDecodeError) as e:
        raise NotStrfH5FileError(f"{path}: {e}") from None
    if major > L.FORMAT_VERSION[0]:
        raise UnsupportedVersionError(
            f"{path} is strfh5 format {major}.{minor}; strfh5 {__version__} reads format "
            f"{L.FORMAT_VERSION[0]}.x only. Install a strfh5 release that reads format "
            f"{major}.x (pip install 'strfh5>={major}')."
        )
    if major < 1:
        raise UnsupportedVersionError(f"{path}: format version {major}.{minor} predates 1.0")
    if (major, minor) > L.FORMAT_VERSION:
        warnings.warn(
            f"{path} is strfh5 format {major}.{minor}, newer than {L.FORMAT_VERSION_STR}: "
            "objects this library does not know are ignored.",
            stacklevel=3,
        )
    return major, minor


def open_file(path, *, allow_external: bool = False, mode: str = "r") -> h5py.File:
    """Open ``path`` as a strfh5 file, checking markers, version and sources.

    Parameters
    ----------
    path : str or os.PathLike
        A file path. File objects are refused for concatenated files (HDF5
        crashes resolving virtual sources through Python file objects).
    allow_external : bool
        Allow a concatenated file whose sources are absolute or leave its folder.
    """
    if hasattr(path, "read") and not isinstance(path, (str, os.PathLike)):
        f = _h5_open(path, mode)
        name = getattr(path, "name", repr(path))
        _check_markers(f, str(name))
        if f.attrs.get(L.ATTR_CONCATENATED, False):
            f.close()
            raise FileFormatError(
                f"{name}: a concatenated strfh5 file must be opened by path, not through a "
                "Python file object (HDF5 cannot resolve its virtual sources safely that way)"
            )
        try:
            from .virtual import check_sources

            check_sources(f, str(name))  # a plain file: no virtual datasets, no external links
        except BaseException:
            f.close()
            raise
        return f
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    if os.path.isdir(path):
        raise NotStrfH5FileError(f"{path}: is a directory, not a strfh5 file")
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise NotStrfH5FileError(f"{path}: not a regular file (HDF5 would hang reading a FIFO or device)")
    if not h5py.is_hdf5(path):
        raise NotStrfH5FileError(f"{path}: not an HDF5 file (no HDF5 signature)")
    f = _h5_open(path, mode)
    try:
        _check_markers(f, path)
        from .virtual import check_sources

        # concatenated files: sources checked (SPEC §9); plain files: no virtual datasets or external links
        check_sources(f, path, allow_external=allow_external)
    except BaseException:
        f.close()
        raise
    return f


def _h5_open(path, mode):
    try:
        return h5py.File(path, mode)
    except OSError as e:
        name = getattr(path, "name", path)
        if "already open" in str(e):
            raise FileFormatError(
                f"{name}: cannot be opened with mode {mode!r}: this process already has it open in another mode "
                "(a lazy dataset or FileContents?) — close it first (ds.close() or a `with` block)"
            ) from None
        raise NotStrfH5FileError(f"{name}: cannot be opened as HDF5 ({e})") from None


def _check_markers(f: h5py.File, path: str) -> None:
    fmt = f.attrs.get(L.ATTR_FORMAT)
    if fmt is None or attr_str(fmt) != L.FORMAT_NAME:
        raise NotStrfH5FileError(
            f"{path}: HDF5 file without the strfh5 marker (root attribute "
            f"'{L.ATTR_FORMAT}' = '{L.FORMAT_NAME}' is missing)"
        )
    if L.ATTR_VERSION not in f.attrs:
        raise MissingObjectError(f"{path}: root attribute '{L.ATTR_VERSION}' is missing")
    check_version(f.attrs[L.ATTR_VERSION], path)
    if L.ATTR_CONCATENATED in f.attrs:  # SPEC 1.1 §3.1: present only as TRUE
        flag = np.asarray(f.attrs[L.ATTR_CONCATENATED])
        if flag.shape != () or flag.dtype.kind not in "biu" or int(flag) != 1:
            raise FileFormatError(
                f"{path}: root attribute '{L.ATTR_CONCATENATED}' = {flag!r}; it is present only in "
                "concatenated files and then TRUE (a file with it FALSE is refused)"
            )


def _require(f: h5py.File, name: str, path: str):
    try:
        return f[name]
    except KeyError:
        raise MissingObjectError(f"{path}: required object '/{name}' is missing") from None


def _require_attr(obj, name: str, path: str):
    try:
        return obj.attrs[name]
    except KeyError:
        raise MissingObjectError(f"{path}: required attribute '{obj.name}@{name}' is missing") from None


def read_info(f: h5py.File, path: str) -> FileInfo:
    """Root attributes, ``/metadata`` and the stimulus transform as a :class:`FileInfo`."""
    a = {k: _require_attr(f, k, path) for k in L.REQUIRED_ROOT_ATTRS}
    encoding = attr_str(a[L.ATTR_ENCODING])
    if encoding not in L.ENCODINGS:
        raise CorruptDataError(f"{path}: unknown encoding {encoding!r} (expected one of {L.ENCODINGS})")
    stim_kind = attr_str(a[L.ATTR_STIM_KIND])
    if stim_kind not in L.STIM_KINDS:
        raise CorruptDataError(f"{path}: unknown stim_kind {stim_kind!r} (expected one of {L.STIM_KINDS})")
    response_kind = attr_str(a[L.ATTR_RESPONSE_KIND])
    if response_kind not in L.ENCODING_RESPONSE_KINDS[encoding]:
        raise CorruptDataError(
            f"{path}: response_kind {response_kind!r} does not fit encoding {encoding!r} "
            f"(expected one of {L.ENCODING_RESPONSE_KINDS[encoding]})"
        )
    try:
        dt_ms = float(np.asarray(a[L.ATTR_DT_MS]).reshape(()))
    except (TypeError, ValueError):
        raise CorruptDataError(f"{path}: root attribute dt_ms is not a number") from None
    if not np.isfinite(dt_ms) or dt_ms <= 0:
        raise CorruptDataError(f"{path}: root attribute dt_ms = {dt_ms} must be a positive number")
    dims = np.asarray(a[L.ATTR_STIM_DIMS]).reshape(-1)
    metadata = read_json(_require(f, L.METADATA, path)[()], f"{path}:/{L.METADATA}")
    stimuli = _require(f, L.STIMULI, path)
    transform = None
    if L.ATTR_TRANSFORM in stimuli.attrs:
        transform = read_json(stimuli.attrs[L.ATTR_TRANSFORM], f"{path}:/{L.STIMULI}@{L.ATTR_TRANSFORM}")
    return FileInfo(
        encoding=encoding,
        dt_ms=dt_ms,
        stim_kind=stim_kind,
        stim_dims=tuple(int(d) for d in dims),
        response_kind=response_kind,
        modality=attr_str(a[L.ATTR_MODALITY]),
        uuid=attr_str(a[L.ATTR_UUID]),
        version=L.parse_version(attr_str(a[L.ATTR_VERSION])),
        created_by=attr_str(a[L.ATTR_CREATED_BY]),
        created_at=attr_str(a[L.ATTR_CREATED_AT]),
        schemas={
            "file": attr_str(a[L.ATTR_SCHEMA_FILE]),
            "stimulus": attr_str(a[L.ATTR_SCHEMA_STIMULUS]),
            "neuron": attr_str(a[L.ATTR_SCHEMA_NEURON]),
        },
        metadata=metadata,
        transform=transform,
        concatenated=bool(f.attrs.get(L.ATTR_CONCATENATED, False)),
    )


def read_strings(ds) -> list[str]:
    """A 1-D string dataset as a list of ``str``, decoded as strict UTF-8 whatever its declared charset (SPEC §1.3)."""
    if ds.shape == (0,):
        return []
    try:
        return [attr_str(x) for x in ds.asstr("utf-8", "strict")[()]]
    except UnicodeDecodeError as e:
        raise CorruptDataError(f"{ds.file.filename}: {ds.name} holds a string that is not valid UTF-8 ({e})") from None


def read_json_table(ds, where: str) -> list[dict]:
    out = []
    for i, text in enumerate(read_strings(ds)):
        rec = read_json(text, f"{where}[{i}]")
        if not isinstance(rec, dict):
            raise CorruptDataError(f"{where}[{i}]: metadata record is not a JSON object")
        out.append(rec)
    return out


def read_tables(f: h5py.File, path: str) -> dict:
    """Everything a lazy reader needs at open: info, ids, metadata, n_bins, repeats."""
    info = read_info(f, path)
    stim_ids = read_strings(_require(f, L.STIM_IDS, path))
    neuron_ids = read_strings(_require(f, L.NEURON_IDS, path))
    stim_meta = read_json_table(_require(f, L.STIM_METADATA, path), f"{path}:/{L.STIM_METADATA}")
    nrn_meta = read_json_table(_require(f, L.NEURON_METADATA, path), f"{path}:/{L.NEURON_METADATA}")
    n_bins = np.asarray(_require(f, L.STIM_N_BINS, path)[()], dtype=np.int64).reshape(-1)
    S, N = len(stim_ids), len(neuron_ids)
    rep_ds = _require(f, L.REPEATS, path)
    if rep_ds.shape != (S, N):
        raise CorruptDataError(f"{path}: /{L.REPEATS} has shape {rep_ds.shape}, expected (S, N) = {(S, N)}")
    repeats = np.asarray(rep_ds[()], dtype=np.int64) if S and N else np.zeros((S, N), np.int64)
    for name, n in ((L.STIM_METADATA, len(stim_meta)), (L.STIM_N_BINS, len(n_bins))):
        if n != S:
            raise CorruptDataError(f"{path}: /{name} has {n} entries, /{L.STIM_IDS} has {S}")
    if len(nrn_meta) != N:
        raise CorruptDataError(f"{path}: /{L.NEURON_METADATA} has {len(nrn_meta)} entries, /{L.NEURON_IDS} has {N}")
    resp = _require(f, L.RESPONSES, path)
    if resp.shape != (S, N):
        raise CorruptDataError(f"{path}: /{L.RESPONSES} has shape {resp.shape}, expected {(S, N)}")
    return dict(
        info=info,
        stim_ids=stim_ids,
        neuron_ids=neuron_ids,
        stim_meta=stim_meta,
        nrn_meta=nrn_meta,
        n_bins=n_bins,
        repeats=repeats,
    )


def read_vlen_row(ds: h5py.Dataset, s: int, neurons: Sequence[int] | None = None) -> np.ndarray:
    """Row ``s`` of a 2-D VLEN dataset as a 1-D object array, for ``neurons`` (all when None).

    For a neuron subset only the column span ``min(neurons)..max(neurons)`` is
    read (one hyperslab; in a concatenated file that skips the other sources'
    unmapped blocks), then indexed.
    """
    if neurons is None:
        return ds[s]
    idx = np.asarray(neurons, dtype=np.int64).reshape(-1)
    if idx.size == 0:
        return np.empty(0, dtype=object)
    lo, hi = int(idx.min()), int(idx.max())
    return ds[s, lo : hi + 1][idx - lo]


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
    counts = np.concatenate(parts).astype(np.int64, copy=False) if parts else np.empty(0, np.int64)
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


def decode_row(
    f: h5py.File,
    info: FileInfo,
    s: int,
    n_bins: int,
    repeats: np.ndarray,
    neurons: Sequence[int] | None,
    path: str,
    datasets: dict | None = None,
) -> list:
    """Decode stimulus row ``s`` into ``None`` / :class:`Events` / ``(R, T)`` elements.

    Checks the row with :func:`check_row`. ``datasets`` (name -> open h5py
    dataset) saves the lookups when reading many rows.
    """
    ds = datasets if datasets is not None else {}
    raw = read_vlen_row(ds.get(L.RESPONSES) or f[L.RESPONSES], s, neurons)
    which = np.arange(raw.shape[0]) if neurons is None else np.asarray(neurons, dtype=np.int64).reshape(-1)
    reps = np.asarray(repeats, dtype=np.int64)[which]
    if info.encoding == L.ENCODING_EVENTS:
        counts = read_vlen_row(ds.get(L.COUNTS) or f[L.COUNTS], s, neurons)
        check_row(path, s, which, reps, raw, counts)
        return [Events(raw[j], counts[j]) if r else None for j, r in enumerate(reps)]
    check_row(path, s, which, reps, raw, n_bins=n_bins)
    return [raw[j].reshape(int(r), n_bins) if r else None for j, r in enumerate(reps)]
