"""The raw content of a block-diagonal concatenation: :class:`ConcatContents`.

It delegates each row and stimulus to its parts' contents, so a concatenation
of lazy datasets stays lazy and :func:`strfh5.save` can write it.
"""

from __future__ import annotations

import copy
import json
from typing import Sequence

import numpy as np

from .. import layout as L
from .. import schema as _schema
from ..contents import Contents
from ..errors import IncompatibleDatasetsError
from ..records import FileInfo
from .rules import check_compatible, check_duplicate_neurons, shared_stimulus_ids

__all__ = ["ConcatContents"]


class ConcatContents(Contents):
    """The block-diagonal concatenation of several :class:`~strfh5.contents.Contents`.

    Parameters
    ----------
    parts : sequence of Contents
        The inputs, in block order; they must share encoding, ``dt_ms``,
        stimulus kind and dimensions, and response kind.
    merge_stimuli : bool
        Merge a stimulus id already present in an earlier block into that row
        (stimulus data, ``n_bins`` and sample rate must be identical).
    allow_duplicate_neurons : bool
        Accept the same neuron id in two parts.

    Attributes
    ----------
    row_maps : list of numpy.ndarray
        ``row_maps[i][r]`` is the row of the result holding row ``r`` of part ``i``.
    neuron_offsets : numpy.ndarray, shape (K + 1,)
        Part ``i``'s neurons are the columns ``[neuron_offsets[i], neuron_offsets[i + 1])``.
    shared_stim_ids, merged_stim_ids : list of str
        Ids kept in several rows / merged into one row.
    """

    def __init__(self, parts: Sequence[Contents], *, merge_stimuli: bool = False,
                 allow_duplicate_neurons: bool = False, names: Sequence[str] | None = None):
        parts = list(parts)
        if not parts:
            raise IncompatibleDatasetsError("nothing to concatenate: the list of inputs is empty")
        names = list(names) if names is not None else [f"input {i}" for i in range(len(parts))]
        check_compatible([p.info for p in parts], names)
        if not allow_duplicate_neurons:
            check_duplicate_neurons([p.neuron_ids for p in parts], "allow_duplicate_neurons=True to "
                                    "strfh5.concat_neural_datasets([a, b], allow_duplicate_neurons=True) (a + b "
                                    "cannot take options)")
        self.parts = parts
        self.path = None
        # ---- stimulus rows
        stim_ids, stim_meta, n_bins, owner = [], [], [], []
        first: dict[str, int] = {}
        self.row_maps = []
        for i, p in enumerate(parts):
            rm = np.empty(p.S, dtype=np.int64)
            for r, sid in enumerate(p.stim_ids):
                if merge_stimuli and sid in first:
                    o = first[sid]
                    oi, orow = owner[o]
                    diff = _stim_difference(parts[oi], orow, p, r)
                    if diff:
                        raise IncompatibleDatasetsError(
                            f"cannot merge stimulus {sid!r}: {names[oi]} (stimulus {orow}) and {names[i]} "
                            f"(stimulus {r}) differ ({diff}); concatenate without merge_stimuli to keep them "
                            "in separate rows")
                else:
                    o = len(stim_ids)
                    stim_ids.append(sid)
                    stim_meta.append(p.stim_meta[r])
                    n_bins.append(int(p.n_bins[r]))
                    owner.append((i, r))
                    first.setdefault(sid, o)
                rm[r] = o
            self.row_maps.append(rm)
        S = len(stim_ids)
        self.neuron_offsets = np.concatenate([[0], np.cumsum([p.N for p in parts])]).astype(np.int64)
        N = int(self.neuron_offsets[-1])
        # per output row: [(part, part row)] in part order
        self._row_parts: list[list[tuple[int, int]]] = [[] for _ in range(S)]
        for i, rm in enumerate(self.row_maps):
            for r, o in enumerate(rm):
                self._row_parts[int(o)].append((i, r))
        self._owner = owner
        self.stim_ids = stim_ids
        self.stim_meta = stim_meta
        self.n_bins = np.asarray(n_bins, dtype=np.int64)
        self.neuron_ids = [nid for p in parts for nid in p.neuron_ids]
        self.nrn_meta = [m for p in parts for m in p.nrn_meta]
        rep = np.zeros((S, N), dtype=np.int64)
        for i, (p, rm) in enumerate(zip(parts, self.row_maps)):
            c0, c1 = self.neuron_offsets[i], self.neuron_offsets[i + 1]
            if p.S and p.N:
                rep[rm, c0:c1] = np.asarray(p.repeats)
        self.repeats = rep
        self._part_of_col = np.repeat(np.arange(len(parts)), [p.N for p in parts])
        self.shared_stim_ids = shared_stimulus_ids(stim_ids)
        self.merged_stim_ids = [stim_ids[o] for o in range(S) if len(self._row_parts[o]) > 1]
        self.info = _concat_info([p.info for p in parts], merge_stimuli, self.shared_stim_ids,
                                 self.merged_stim_ids)

    # ------------------------------------------------------------ access
    def row_parts(self, s: int) -> list[tuple[int, int]]:
        """``[(part, part row)]`` whose responses row ``s`` holds, in part order (several when merged)."""
        return list(self._row_parts[s])

    def stim_owner(self, s: int) -> tuple[int, int]:
        """``(part, part row)`` whose stimulus row ``s`` shows (the first part holding it)."""
        return self._owner[s]

    def _locate(self, s: int) -> tuple[Contents, int]:
        i, r = self._owner[s]
        return self.parts[i], r

    def stim(self, s: int) -> np.ndarray:
        p, r = self._locate(s)
        return p.stim(r)

    def waveform(self, s: int):
        p, r = self._locate(s)
        return p.waveform(r)

    def stim_sample_rate(self, s: int):
        p, r = self._locate(s)
        return p.stim_sample_rate(r)

    def stored_dtype(self) -> np.dtype:
        dts = [np.dtype(p.stored_dtype()) for p in self.parts]
        return max(dts, key=lambda d: d.itemsize)

    def row(self, s: int, neurons=None) -> list:
        cols = np.arange(self.N) if neurons is None else np.asarray(list(neurons), dtype=np.int64)
        out: list = [None] * cols.size
        if cols.size == 0:
            return out
        parts_of = self._part_of_col[cols]
        for i, r in self._row_parts[s]:
            sel = np.flatnonzero(parts_of == i)
            if sel.size == 0:
                continue
            local = (cols[sel] - self.neuron_offsets[i]).tolist()
            elements = self.parts[i].row(r, local)
            for k, el in zip(sel.tolist(), elements):
                out[k] = el
        return out

    def close(self) -> None:
        for p in self.parts:
            p.close()


def _stim_difference(a: Contents, ra: int, b: Contents, rb: int) -> str | None:
    if int(a.n_bins[ra]) != int(b.n_bins[rb]):
        return f"n_bins {int(a.n_bins[ra])} vs {int(b.n_bins[rb])}"
    if a.info.stim_kind == L.STIM_WAVEFORM and a.stim_sample_rate(ra) != b.stim_sample_rate(rb):
        return f"sample rate {a.stim_sample_rate(ra)} vs {b.stim_sample_rate(rb)} Hz"
    xa, xb = np.asarray(a.stim(ra)), np.asarray(b.stim(rb))
    if xa.shape != xb.shape:
        return f"stimulus shape {xa.shape} vs {xb.shape}"
    if not np.array_equal(xa, xb):
        return "stimulus values differ"
    return None


def _concat_info(infos: Sequence[FileInfo], merge: bool, shared: list, merged: list) -> FileInfo:
    a = infos[0]
    schemas = a.schemas if all(i.schemas == a.schemas for i in infos) else {k: _schema.CORE[k] for k in _schema.KINDS}
    tj = {json.dumps(i.transform, sort_keys=True) for i in infos}
    transform = copy.deepcopy(a.transform) if len(tj) == 1 else None
    sources = []
    for i in infos:
        if i.metadata.get("source") == "concat" and isinstance(i.metadata.get("sources"), list):
            sources.extend(copy.deepcopy(i.metadata["sources"]))  # flatten
        else:
            sources.append({"uuid": i.uuid or None, "metadata": copy.deepcopy(i.metadata),
                            "transform": copy.deepcopy(i.transform)})
    meta = {
        "source": "concat",
        "title": f"Concatenation of {len(sources)} datasets",
        "sources": sources,
        "merge_stimuli": bool(merge),
        "shared_stimulus_ids": list(shared),
        "merged_stimulus_ids": list(merged),
    }
    return FileInfo(encoding=a.encoding, dt_ms=a.dt_ms, stim_kind=a.stim_kind, stim_dims=a.stim_dims,
                    response_kind=a.response_kind, modality=a.modality, schemas=dict(schemas or {}),
                    metadata=meta, transform=transform)
