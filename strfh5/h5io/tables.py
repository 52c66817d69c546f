"""Reading the tables of a strfh5 file: root attributes, ids, metadata, n_bins, repeats (SPEC §3–§6).

Everything a lazy reader needs at open, read without touching the response
heap.
"""

from __future__ import annotations

import h5py
import numpy as np

from .. import layout as L
from ..errors import CorruptDataError
from ..records import DeferredTexts, FileInfo
from .checks import exact_ints
from .heaps import check_attributes
from .opening import has_attr, require_attr, require_dataset, require_object
from .values import TableStrings, attr_str, read_json, read_json_table, read_strings

__all__ = ["read_info", "read_tables", "read_repeats"]

#: the largest value a repeats or n_bins entry may hold (well beyond any recording; int64 arithmetic stays exact)
MAX_COUNT = 2**40


def read_info(f: h5py.File, path: str) -> FileInfo:
    """Root attributes, ``/metadata`` and the stimulus transform as a :class:`FileInfo`."""
    check_attributes(f, path)  # done at open_file; a source opened by h5py directly gets it here
    a = {k: require_attr(f, k, path) for k in L.REQUIRED_ROOT_ATTRS}
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
    dt_ms, dims = _dt_and_dims(a, stim_kind, path)
    modality = attr_str(a[L.ATTR_MODALITY])
    if modality != L.STIM_KIND_MODALITY[stim_kind]:
        raise CorruptDataError(f"{path}: root attribute modality {modality!r} does not fit stim_kind {stim_kind!r} "
                               f"(expected {L.STIM_KIND_MODALITY[stim_kind]!r})")
    metadata = read_json(require_dataset(f, L.METADATA, path, kinds="S", ndim=0)[()], f"{path}:/{L.METADATA}")
    stimuli = require_object(f, L.STIMULI, path)
    transform = None
    if has_attr(stimuli, L.ATTR_TRANSFORM, path):
        transform = read_json(require_attr(stimuli, L.ATTR_TRANSFORM, path), f"{path}:/{L.STIMULI}@{L.ATTR_TRANSFORM}")
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


def _dt_and_dims(a: dict, stim_kind: str, path: str) -> tuple[float, np.ndarray]:
    """``dt_ms`` (a positive number, not a string) and ``stim_dims`` (positive sizes fitting ``stim_kind``)."""
    raw = np.asarray(a[L.ATTR_DT_MS])
    if raw.dtype.kind not in "fiu" or raw.size != 1:
        raise CorruptDataError(f"{path}: root attribute dt_ms = {raw!r} is not a number")
    dt_ms = float(raw.reshape(()))
    if not np.isfinite(dt_ms) or dt_ms <= 0:
        raise CorruptDataError(f"{path}: root attribute dt_ms = {dt_ms} must be a positive number")
    dims = np.asarray(a[L.ATTR_STIM_DIMS]).reshape(-1)
    if dims.dtype.kind not in "iu" or dims.size != L.STIM_KIND_NDIM[stim_kind] - 1 or (dims < 1).any():
        raise CorruptDataError(f"{path}: root attribute stim_dims = {dims.tolist()} does not fit stim_kind "
                               f"{stim_kind!r} ({L.STIM_KIND_NDIM[stim_kind] - 1} positive sizes)")
    return dt_ms, dims


def read_tables(f: h5py.File, path: str, lazy_meta: bool = False, stored_repeats: bool = False, handle=None) -> dict:
    """Everything a lazy reader needs at open: info, ids, metadata, n_bins, repeats (checked, SPEC 1.1 §12.1).

    ``lazy_meta``: the metadata records are :class:`~strfh5.records.JsonRecords`,
    parsed when first asked for (with ``handle``, a :class:`~strfh5.h5io.FileHandle`
    of ``f``, their strings are read then too, and so are the stimulus ids: ``stim_ids``
    is then a :class:`~strfh5.records.DeferredTexts`, decoded on first use). ``stored_repeats``: ``repeats`` keeps its
    stored unsigned type (native byte order) instead of int64 — every value is
    checked to lie in ``[0, MAX_COUNT]`` either way, so widening it later is
    exact. With both ``stored_repeats`` and ``handle``, ``/repeats`` is checked
    (type, shape) but its values are not read when its type alone bounds them
    within every limit of the open (``uint8``-``uint32``): ``repeats`` is then
    None and ``repeats_bound`` the type's largest value; :func:`read_repeats`
    reads and checks them when first needed. Each table is read in one bulk
    read; no Python loop runs per stimulus.
    """
    info = read_info(f, path)
    table = lambda name, kinds="S": require_dataset(f, name, path, kinds=kinds, ndim=1)  # noqa: E731
    ids = table(L.STIM_IDS)  # checked now (links, type, storage, heap objects); with a handle, decoded on first use
    stim_ids = (DeferredTexts(TableStrings(handle, L.STIM_IDS), ids.shape[0], f"{path}:/{L.STIM_IDS}")
                if lazy_meta and handle is not None else read_strings(ids))
    neuron_ids = read_strings(table(L.NEURON_IDS))
    stim_meta = read_json_table(table(L.STIM_METADATA), f"{path}:/{L.STIM_METADATA}", lazy_meta, handle)
    nrn_meta = read_json_table(table(L.NEURON_METADATA), f"{path}:/{L.NEURON_METADATA}", lazy_meta, handle)
    n_bins = _counts(table(L.STIM_N_BINS, "iu"), path, L.STIM_N_BINS).reshape(-1)
    S, N = len(stim_ids), len(neuron_ids)
    for name, n in ((L.STIM_METADATA, len(stim_meta)), (L.STIM_N_BINS, len(n_bins))):
        if n != S:
            raise CorruptDataError(f"{path}: /{name} has {n} entries, /{L.STIM_IDS} has {S}")
    if len(nrn_meta) != N:
        raise CorruptDataError(f"{path}: /{L.NEURON_METADATA} has {len(nrn_meta)} entries, /{L.NEURON_IDS} has {N}")
    rep_ds = _repeats_dataset(f, path, info, S, N)
    bound = _type_bound(rep_ds, n_bins, info) if stored_repeats and handle is not None and S and N else None
    repeats = None if bound is not None else read_repeats(f, path, n_bins, info, stored_repeats)
    names = (L.RESPONSES, L.COUNTS) if info.encoding == L.ENCODING_EVENTS else (L.RESPONSES,)
    for name in names:
        ds = require_dataset(f, name, path, kinds="V", ndim=2, virtual_ok=info.concatenated, complete=False)
        if ds.shape != (S, N):
            raise CorruptDataError(f"{path}: /{name} has shape {ds.shape}, expected {(S, N)}")
    return dict(info=info, stim_ids=stim_ids, neuron_ids=neuron_ids, stim_meta=stim_meta, nrn_meta=nrn_meta,
                n_bins=n_bins, repeats=repeats, repeats_bound=bound)


def _repeats_dataset(f: h5py.File, path: str, info: FileInfo, S: int, N: int) -> h5py.Dataset:
    rep_ds = require_dataset(f, L.REPEATS, path, kinds="u", ndim=2, virtual_ok=info.concatenated, complete=False)
    if rep_ds.shape != (S, N):
        raise CorruptDataError(f"{path}: /{L.REPEATS} has shape {rep_ds.shape}, expected (S, N) = {(S, N)}")
    return rep_ds


def _type_bound(rep_ds: h5py.Dataset, n_bins: np.ndarray, info: FileInfo) -> int | None:
    """The largest value ``/repeats``' type holds when that alone passes the checks of the open, else None."""
    if rep_ds.dtype.kind != "u" or rep_ds.dtype.itemsize > 4:
        return None
    bound = int(np.iinfo(rep_ds.dtype).max)
    if bound > MAX_COUNT or (info.encoding == L.ENCODING_BINNED and n_bins.size
                             and bound * int(n_bins.max()) > L.MAX_ELEMENT_VALUES):
        return None
    return bound


def read_repeats(f: h5py.File, path: str, n_bins: np.ndarray, info: FileInfo, stored: bool = False) -> np.ndarray:
    """``/repeats`` read in one bulk read and checked (values in ``[0, MAX_COUNT]``, element sizes; SPEC 1.1 §12.1).

    int64, or (``stored``) its stored unsigned type in native byte order.
    """
    S, N = int(n_bins.size), int(f[L.NEURON_IDS].shape[0])
    rep_ds = _repeats_dataset(f, path, info, S, N)
    repeats = _counts(rep_ds, path, L.REPEATS, stored) if S and N else np.zeros((S, N), np.int64)
    _check_element_sizes(repeats, n_bins, info, path)
    return repeats


def _counts(ds: h5py.Dataset, path: str, name: str, stored: bool = False) -> np.ndarray:
    """A table of non-negative integers, refused when a value lies outside ``[0, MAX_COUNT]`` (no wrap-around).

    Returned as int64, or (``stored``) in its stored integer type, native byte order.
    The range is checked on the stored values (``min``/``max`` of unsigned or
    signed integers are exact in numpy), so no value is ever wrapped.
    """
    try:
        values = np.asarray(ds[()]).reshape(ds.shape)
    except OSError as e:
        raise CorruptDataError(f"{path}: /{name} cannot be read ({e})") from None
    if values.dtype.kind not in "iu":
        values = exact_ints(values).reshape(ds.shape)  # pragma: no cover - require_dataset admits integers only
    if values.size and (int(values.min()) < 0 or int(values.max()) > MAX_COUNT):
        flat = values.reshape(-1)
        bad = int(flat[np.flatnonzero((flat < 0) | (flat > MAX_COUNT))[0]])
        raise CorruptDataError(f"{path}: /{name} holds {bad}, outside [0, {MAX_COUNT}]")
    if stored:
        return values if values.dtype.isnative else values.astype(values.dtype.newbyteorder("="))
    return values.astype(np.int64)


def _check_element_sizes(repeats: np.ndarray, n_bins: np.ndarray, info: FileInfo, path: str) -> None:
    """Binned elements hold repeats x n_bins values: refuse products beyond any real recording (exact ints)."""
    if info.encoding != L.ENCODING_BINNED or not repeats.size:
        return
    worst = int(repeats.max()) * int(n_bins.max()) if n_bins.size else 0
    if worst > L.MAX_ELEMENT_VALUES:
        raise CorruptDataError(f"{path}: /{L.REPEATS} x /{L.STIM_N_BINS} declares elements of {worst} values, "
                               f"more than the {L.MAX_ELEMENT_VALUES} any element may hold (SPEC 1.1 §12.1)")
