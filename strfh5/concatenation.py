"""Concatenating datasets in memory: :func:`concat_neural_datasets` and ``a + b``.

The result is block-diagonal along stimuli and neurons (seed 002): the stimuli
of input ``i`` follow those of inputs ``0..i-1``, its neurons likewise, and
(stimulus, neuron) pairs across blocks are missing (``nrn_masks`` False, the
``(1, 1)`` NaN sentinel in ``responses``).  Metadata follow the blocks in
order.  :class:`ConcatContents` is the raw content of such a concatenation: it
delegates each row and stimulus to the inputs' contents, so a lazy result
stays lazy and :func:`strfh5.save` can write it.  :func:`strfh5.concat` is the
on-disk counterpart; both give identical items.

Where strfh5 differs from deepSTRF
----------------------------------
* A mismatch raises :class:`~strfh5.errors.IncompatibleDatasetsError` naming
  both values and the input positions (deepSTRF: a bare AssertionError).
* The same neuron id in two inputs raises :class:`~strfh5.errors.DuplicateIdError`
  unless ``allow_duplicate_neurons=True`` (deepSTRF accepts it silently).
* ``merge_stimuli=True`` merges a stimulus id present in several inputs into
  one row after checking the stimuli are identical, so neurons of both inputs
  share it.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from typing import Sequence

import numpy as np

from . import layout as L
from . import schema as _schema
from .contents import Contents, FileInfo
from .errors import DuplicateIdError, IncompatibleDatasetsError, TransformError

__all__ = [
    "concat_neural_datasets",
    "ConcatContents",
    "check_compatible",
    "check_duplicate_neurons",
    "shared_stimulus_ids",
]


def shared_stimulus_ids(stim_ids: Sequence[str]) -> list[str]:
    """Stimulus ids that occupy more than one row (shared stimuli kept apart), in first-row order."""
    return [sid for sid, c in Counter(stim_ids).items() if c > 1]


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
            check_duplicate_neurons([p.neuron_ids for p in parts])
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


# ------------------------------------------------------------------ checks
def check_compatible(infos: Sequence[FileInfo], names: Sequence[str]) -> None:
    """Refuse inputs that differ in encoding, stored dt, stimulus kind/dims or response kind.

    ``names[i]`` labels input ``i`` in the message (e.g. ``"input 1 (b.strf.h5)"``);
    the first difference from input 0 is reported with both values.
    """
    a = infos[0]
    for j in range(1, len(infos)):
        b = infos[j]
        pair = f"{names[0]} and {names[j]}"
        if a.encoding != b.encoding:
            ev = 0 if a.encoding == L.ENCODING_EVENTS else j
            raise IncompatibleDatasetsError(
                f"cannot concatenate {pair}: encodings differ ({a.encoding!r} vs {b.encoding!r}). Convert the "
                f"events input ({names[ev]}) to binned counts first: bin its spike times at dt_ms = "
                f"{infos[ev].dt_ms:g} and write them with strfh5.StreamWriter(..., encoding='binned')")
        for name, va, vb, hint in (
            ("stored dt_ms", a.dt_ms, b.dt_ms, "strfh5 concatenates stored data: rewrite one file at the other's "
             "dt_ms"),
            ("stim_kind", a.stim_kind, b.stim_kind, "the stimuli must be of one kind"),
            ("stim_dims", a.stim_dims, b.stim_dims,
             "the stimuli must share channels and F (spectrograms) or (H, W) (video): recompute one dataset's "
             "stimuli with the other's parameters — strfh5 does not resample silently"),
            ("response_kind", a.response_kind, b.response_kind, "counts and continuous signals cannot be pooled"),
        ):
            if va != vb:
                raise IncompatibleDatasetsError(f"cannot concatenate {pair}: {name} differs ({va!r} vs {vb!r}); {hint}")


def check_duplicate_neurons(id_lists: Sequence[Sequence[str]], option: str = "allow_duplicate_neurons=True") -> None:
    """Refuse a neuron id present in several inputs, listing the ids and the input positions.

    ``option`` is how the caller accepts duplicates, quoted in the message.
    """
    where: dict[str, list[int]] = {}
    for i, ids in enumerate(id_lists):
        for nid in ids:
            where.setdefault(nid, []).append(i)
    dups = {nid: pos for nid, pos in where.items() if len(pos) > 1}
    if dups:
        items = [f"{nid!r} (inputs {', '.join(map(str, pos))})" for nid, pos in list(dups.items())[:10]]
        more = f" and {len(dups) - 10} more" if len(dups) > 10 else ""
        raise DuplicateIdError(
            "neuron ids appear in more than one input: " + ", ".join(items) + more + ". The same neuron twice "
            f"means a dataset pooled with itself; pass {option} if that is intended")


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


# ------------------------------------------------------------------ datasets
def _common_class(datasets):
    from .dataset import NeuralDataset

    for cls in type(datasets[0]).__mro__:
        if isinstance(cls, type) and issubclass(cls, NeuralDataset) and all(isinstance(d, cls) for d in datasets):
            return cls
    return NeuralDataset


def _non_bin(transforms) -> list[dict]:
    return [t for t in transforms if t.get("name") not in ("bin", "rebin")]


def concat_neural_datasets(datasets, *, merge_stimuli: bool = False, allow_duplicate_neurons: bool = False):
    """Concatenate datasets block-diagonally along stimuli and neurons (deepSTRF seed 002).

    Parameters
    ----------
    datasets : sequence of NeuralDataset
        Two or more datasets (one is returned as a concatenation of itself),
        in block order.
    merge_stimuli : bool
        Merge a stimulus id present in several inputs into one row, after
        checking the stimuli are identical (by default they keep their own
        rows, as in deepSTRF).
    allow_duplicate_neurons : bool
        Accept the same neuron id in two inputs (refused by default).

    Returns
    -------
    NeuralDataset
        Of the most specific class common to the inputs (two
        ``AudioNeuralDataset`` subclasses give ``AudioNeuralDataset``; a
        subclass whose constructor cannot take raw contents gives its
        modality class).  Audio and video inputs never meet: their stimulus
        kinds differ, which is refused (a file holds one stimulus kind).  Lazy
        when every input is lazy (nothing is read), eager otherwise.  Eager
        inputs keep their transformed responses and stimuli; ``transforms``
        lists the inputs' transforms, so they are not applied twice.
        Selections start empty (all neurons, all stimuli).

    Raises
    ------
    IncompatibleDatasetsError
        The inputs differ in bin width ``dt``, stored ``dt_ms``, response
        window, encoding, stimulus kind, F or (H, W), or response kind — the
        message names both values and the input positions.
    DuplicateIdError
        A neuron id in two inputs (without ``allow_duplicate_neurons``).
    TransformError
        A lazy input has reader-side transforms applied (concatenate first,
        then transform).

    Examples
    --------
    >>> combined = strfh5.concat_neural_datasets([aa1, aa2])   # doctest: +SKIP
    >>> combined = aa1 + aa2                                   # doctest: +SKIP
    """
    from .dataset import NeuralDataset

    datasets = list(datasets)
    if not datasets:
        raise IncompatibleDatasetsError("concat_neural_datasets needs at least one dataset")
    for i, d in enumerate(datasets):
        if not isinstance(d, NeuralDataset):
            raise IncompatibleDatasetsError(
                f"input {i} is a {type(d).__name__}, not a strfh5 NeuralDataset (only datasets can be concatenated)")
    names = [f"input {i}" + (f" ({d.contents.path})" if getattr(d.contents, "path", None) else "")
             for i, d in enumerate(datasets)]
    a = datasets[0]
    for j, b in enumerate(datasets[1:], start=1):
        pair = f"{names[0]} and {names[j]}"
        if float(a.dt) != float(b.dt):
            raise IncompatibleDatasetsError(
                f"cannot concatenate {pair}: dt differs ({float(a.dt):g} ms vs {float(b.dt):g} ms); load both at "
                "the same dt_ms — strfh5 does not rebin silently")
        if a.stim_kind != b.stim_kind:
            raise IncompatibleDatasetsError(
                f"cannot concatenate {pair}: stimulus kinds differ ({a.stim_kind!r} vs {b.stim_kind!r})")
        for name in ("F", "C", "H", "W"):
            va, vb = getattr(a, name, None), getattr(b, name, None)
            if va != vb:
                raise IncompatibleDatasetsError(
                    f"cannot concatenate {pair}: {name} differs ({va!r} vs {vb!r}); recompute or resize one "
                    "dataset's stimuli to match — strfh5 does not resample silently")
        if a.window_ms != b.window_ms:
            raise IncompatibleDatasetsError(
                f"cannot concatenate {pair}: response windows differ ({a.window_ms!r} vs {b.window_ms!r})")
    contents = ConcatContents([d.contents for d in datasets], merge_stimuli=merge_stimuli,
                              allow_duplicate_neurons=allow_duplicate_neurons, names=names)
    cls = _common_class(datasets)
    dt_ms = None if float(a.dt) == float(contents.info.dt_ms) else a.dt
    all_lazy = all(d.lazy for d in datasets)
    transformed = [i for i, d in enumerate(datasets) if _non_bin(d.transforms)]
    if all_lazy and not transformed:
        return cls.from_contents(contents, lazy=True, dt_ms=dt_ms, window_ms=a.window_ms)
    lazy_tf = [i for i in transformed if datasets[i].lazy]
    if lazy_tf:
        raise TransformError(
            f"cannot concatenate: lazy {names[lazy_tf[0]]} has reader-side transforms applied "
            f"({', '.join(t['name'] for t in _non_bin(datasets[lazy_tf[0]].transforms))}); concatenate the lazy "
            "datasets first and transform the result, or load the input eagerly (lazy=False)")
    # eager result: the inputs' binned (and transformed) rows and stimuli, no re-reading of eager inputs
    import torch

    blocks, stims = [], []
    for s in range(contents.S):
        pieces, reps = [], np.zeros(contents.N, dtype=np.int64)
        for i, r in contents.row_parts(s):
            data, rp = datasets[i].row_block(r)
            c0 = int(contents.neuron_offsets[i])
            reps[c0 : c0 + rp.size] = rp
            pieces.append(data)
        blocks.append((pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=0), reps))
        i, r = contents.stim_owner(s)
        stims.append(datasets[i].stims[r])
    return cls.from_blocks(contents, blocks, stims, dt_ms=dt_ms, window_ms=a.window_ms,
                           transforms=_input_transforms(datasets))


def _input_transforms(datasets) -> list[dict]:
    """The transform records of the inputs, once each; a ``concat`` record when the inputs differ."""
    first = _non_bin(datasets[0].transforms)
    records: list[dict] = []
    for d in datasets:
        for t in _non_bin(d.transforms):
            if t not in records:
                records.append(copy.deepcopy(t))
    if records and any(_non_bin(d.transforms) != first for d in datasets):
        records.append({"name": "concat", "note": "the inputs had different transforms",
                        "inputs": [copy.deepcopy(_non_bin(d.transforms)) for d in datasets]})
    return records
