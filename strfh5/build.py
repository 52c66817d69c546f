"""Building an in-memory dataset from the deepSTRF paradigm lists.

:func:`from_lists` takes what a modeller already has — a list of stimulus
tensors and a list-of-lists of responses — checks it against the format's
rules with the same element checks the writer applies, and returns a
:class:`~strfh5.dataset.NeuralDataset` that :func:`strfh5.save` can write.
"""

from __future__ import annotations

import json
import uuid as _uuid
from typing import Sequence

import numpy as np

from . import layout as L
from . import schema as _schema
from .arguments import as_numpy, positive_number
from .contents import MemoryContents
from .records import FileInfo
from .errors import InvalidDataError
from .elements import check_unique_ids, normalize_binned, normalize_events

__all__ = ["contents_from_lists", "default_ids", "NEURON_ID_KEYS", "STIM_ID_KEYS"]

#: metadata keys whose values become neuron / stimulus ids when unique (first match wins)
NEURON_ID_KEYS = ("cell_id", "unit_id", "neuron_id", "id")
STIM_ID_KEYS = ("stim_id", "name", "id")


def default_ids(ids, metas, count: int, keys: Sequence[str], file_uuid: str) -> list[str]:
    """The ids of ``count`` records: ``ids`` when given, else a unique metadata key, else tagged positions.

    Without ``ids``, the first of ``keys`` that every record of ``metas`` has,
    with distinct non-empty string or integer values, gives the ids (a
    ``cell_id`` is the neuron's id); otherwise the ids are the positions
    prefixed by the first 8 hex digits of the dataset's UUID
    (``"1f0c2a9e.0"``, ``"1f0c2a9e.1"``, ...), so two datasets built
    independently never share an id and concatenate without a DuplicateIdError.
    """
    if ids is not None:
        return [str(x) for x in ids]
    if metas is not None and len(metas) == count and count:
        for key in keys:
            vals = [m.get(key) if isinstance(m, dict) else None for m in metas]
            if all(isinstance(v, (str, int)) and not isinstance(v, bool) and str(v) for v in vals) \
                    and len(set(map(str, vals))) == count:
                return [str(v) for v in vals]
    tag = file_uuid.replace("-", "")[:8]
    return [f"{tag}.{i}" for i in range(count)]


def _infer_stim_kind(stims: Sequence) -> str:
    if not stims:
        raise InvalidDataError("stim_kind cannot be inferred from an empty stimulus list; pass stim_kind=")
    nd = np.asarray(stims[0]).ndim
    kinds = {3: L.STIM_SPECTROGRAM, 2: L.STIM_WAVEFORM, 4: L.STIM_VIDEO}
    if nd not in kinds:
        raise InvalidDataError(
            f"stims[0] has {nd} axes; expected (1, F, T) spectrogram, (1, T_audio) waveform or (1, H, W, T) video"
        )
    return kinds[nd]


def contents_from_lists(
    stims: Sequence,
    responses: Sequence[Sequence] | None = None,
    *,
    spike_times: Sequence[Sequence] | None = None,
    dt_ms: float,
    stim_meta: Sequence[dict] | None = None,
    nrn_meta: Sequence[dict] | None = None,
    stim_ids: Sequence[str] | None = None,
    neuron_ids: Sequence[str] | None = None,
    stim_kind: str | None = None,
    n_bins: Sequence[int] | None = None,
    sample_rates: Sequence[float] | None = None,
    waveforms: Sequence | None = None,
    response_kind: str | None = None,
    file_meta: dict | None = None,
    source: str | None = None,
    schemas: dict | None = None,
    transform: dict | None = None,
) -> MemoryContents:
    """Check the paradigm lists and wrap them in a :class:`MemoryContents` (see :func:`from_lists`)."""
    if (responses is None) == (spike_times is None):
        raise InvalidDataError("pass exactly one of responses= (binned) or spike_times= (events)")
    encoding = L.ENCODING_BINNED if responses is not None else L.ENCODING_EVENTS
    table = responses if responses is not None else spike_times
    dt_ms = positive_number(dt_ms, "dt_ms")
    stims = [as_numpy(x) for x in stims]
    S = len(stims)
    stim_kind = stim_kind or _infer_stim_kind(stims)
    if stim_kind not in L.STIM_KINDS:
        raise InvalidDataError(f"stim_kind {stim_kind!r} is not one of {L.STIM_KINDS}")
    if len(table) != S:
        raise InvalidDataError(f"{len(table)} response rows for {S} stimuli")
    if nrn_meta is not None:
        N = len(nrn_meta)
    elif neuron_ids is not None:
        N = len(neuron_ids)
    else:
        N = len(table[0]) if S else 0
    for s, row in enumerate(table):
        if len(row) != N:
            raise InvalidDataError(f"response row {s} has {len(row)} elements, expected N = {N}")
    response_kind = response_kind or L.ENCODING_RESPONSE_KINDS[encoding][0]
    if response_kind not in L.ENCODING_RESPONSE_KINDS[encoding]:
        raise InvalidDataError(f"response_kind {response_kind!r} does not fit encoding {encoding!r}")
    out_stims, dims = _checked_stims(stims, stim_kind)
    if stim_kind == L.STIM_WAVEFORM:
        if n_bins is None or sample_rates is None:
            raise InvalidDataError("waveform stimuli need n_bins= (response bins per stimulus) and sample_rates=")
        nb = [int(x) for x in n_bins]
    else:
        nb = [a.shape[-1] for a in out_stims]
        if n_bins is not None and [int(x) for x in n_bins] != nb:
            raise InvalidDataError("n_bins differs from the stimuli's time axes")
    if len(nb) != S:
        raise InvalidDataError(f"n_bins has {len(nb)} entries for {S} stimuli")
    file_uuid = str(_uuid.uuid4())
    stim_ids = default_ids(stim_ids, stim_meta, S, STIM_ID_KEYS, file_uuid)
    neuron_ids = default_ids(neuron_ids, nrn_meta, N, NEURON_ID_KEYS, file_uuid)
    if len(stim_ids) != S or len(neuron_ids) != N:
        raise InvalidDataError(f"{len(stim_ids)} stim ids for {S} stimuli / {len(neuron_ids)} neuron ids for {N} neurons")
    check_unique_ids(stim_ids, "stimulus")
    check_unique_ids(neuron_ids, "neuron")
    stim_meta = [dict(m) for m in stim_meta] if stim_meta is not None else [{} for _ in range(S)]
    nrn_meta = [dict(m) for m in nrn_meta] if nrn_meta is not None else [{} for _ in range(N)]
    if len(stim_meta) != S:
        raise InvalidDataError(f"stim_meta has {len(stim_meta)} records for {S} stimuli")
    schemas = _checked_metadata(schemas, source, file_meta, stim_meta, nrn_meta, transform)
    file_meta = dict(file_meta or {})
    file_meta.setdefault("source", source or "user")
    rows = _checked_rows(table, encoding, nb, response_kind)
    wf = None
    if waveforms is not None:
        wf = [None if w is None else (as_numpy(w[0]), float(w[1])) for w in waveforms]
        if len(wf) != S:
            raise InvalidDataError(f"waveforms has {len(wf)} entries for {S} stimuli")
    info = FileInfo(
        encoding=encoding,
        dt_ms=dt_ms,
        stim_kind=stim_kind,
        stim_dims=dims,
        response_kind=response_kind,
        schemas=schemas,
        metadata=file_meta,
        transform=transform,
        uuid=file_uuid,
    )
    return MemoryContents(
        info, out_stims, rows, stim_ids, neuron_ids, stim_meta, nrn_meta, nb, waveforms=wf,
        sample_rates=sample_rates,
    )


def _events_dtype(value, default):
    """Keep float32 spike times float32 (lossless), everything else float64."""
    try:
        for t in value or ():
            t = as_numpy(t)
            return np.dtype("<f4") if t.dtype == np.float32 else default
    except TypeError:
        pass
    return default


def _checked_stims(stims: list, stim_kind: str) -> tuple[list, tuple]:
    """Stimuli with their channel axis, float, finite; and their shared non-time dims."""
    ndim = L.STIM_KIND_NDIM[stim_kind]
    dims = None
    out_stims = []
    for s, a in enumerate(stims):
        if a.ndim == ndim - 1:
            a = a[None]
        if a.ndim != ndim:
            raise InvalidDataError(f"stims[{s}] has shape {a.shape}; {stim_kind} stimuli have {ndim} axes")
        if dims is None:
            dims = tuple(a.shape[:-1])
        elif tuple(a.shape[:-1]) != dims:
            raise InvalidDataError(
                f"stims[{s}] has non-time shape {a.shape[:-1]}, stims[0] has {dims}: "
                "all stimuli of a file share F (or H, W) and channels"
            )
        if a.dtype.kind not in "fiu":
            raise InvalidDataError(f"stims[{s}]: stimulus must be numeric, got dtype {a.dtype}")
        if a.dtype.kind != "f":
            a = a.astype(np.float32)
        if not np.all(np.isfinite(a)):
            raise InvalidDataError(f"stims[{s}] contains NaN or Inf")
        out_stims.append(a)
    if dims is None:
        dims = (1,) * (ndim - 1)
    return out_stims, dims


def _checked_metadata(schemas, source, file_meta, stim_meta, nrn_meta, transform) -> dict:
    """The schemas of the new contents, every record checked against them."""
    schemas = dict(schemas) if schemas else (_schema.source_schemas(source) if source else
                                            {k: _schema.CORE[k] for k in _schema.KINDS})
    file_meta = dict(file_meta or {})
    file_meta.setdefault("source", source or "user")
    for kind, recs in (("file", [file_meta]), ("stimulus", stim_meta), ("neuron", nrn_meta)):
        for i, rec in enumerate(recs):
            where = "file metadata" if kind == "file" else f"{kind} {i} metadata"
            _schema.validate_record(json.loads(_schema.dumps(rec, where)), schemas[kind], where)
    if transform is not None:
        _schema.validate_record(json.loads(_schema.dumps(transform, "transform")), _schema.CORE["transform"], "transform")
    return schemas


def _checked_rows(table, encoding: str, nb: list, response_kind: str) -> list:
    """The response table as elements (None, Events or (R, T) arrays), each checked."""
    time_dtype = np.dtype("<f8")
    rows = []
    for s, row in enumerate(table):
        out_row = []
        for n, v in enumerate(row):
            where = f"response [{s}, {n}]"
            if encoding == L.ENCODING_EVENTS:
                out_row.append(normalize_events(v, _events_dtype(v, time_dtype), where))
            else:
                out_row.append(normalize_binned(v, nb[s], response_kind, where))
        rows.append(out_row)
    return rows
