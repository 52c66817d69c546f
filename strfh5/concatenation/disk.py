"""Concatenating strfh5 files on disk: :func:`concat` writes virtual datasets (SPEC §9).

The result's ``/responses``, ``/repeats`` (and ``/counts``) are HDF5 virtual
datasets mapping each source's block onto the block diagonal, its
``/stimuli/<i>`` are external links to the sources' stimulus groups, and its
tables (ids, metadata, ``n_bins``) are copied.  It holds no response data, so
its size and the time to make it do not grow with the sources' size.
``/sources`` records, for each source, its path relative to the concatenated
file's folder, its UUID, the rows its stimuli occupy and the columns its
neurons occupy.  Readers check all of it before reading
(:mod:`strfh5.h5io.sources`).
"""

from __future__ import annotations

import json
import os
import uuid as _uuid
from dataclasses import dataclass, field
from typing import Sequence

import h5py
import numpy as np

from .. import layout as L
from .. import schema as _schema
from ..errors import IncompatibleDatasetsError, InvalidDataError
from ..h5io import FileHandle, check_stimuli, read_info, read_sources, read_strings, read_tables
from ..h5io.opening import require_dataset
from ..h5io.sources import escape_vds_name, relative_source_path
from ..leftovers import clean_leftovers
from ..writer import write_root_attrs
from .rules import check_compatible, check_duplicate_neurons, shared_stimulus_ids

__all__ = ["concat"]

_STR = h5py.string_dtype("utf-8")


@dataclass
class _Leaf:
    abs: str
    uuid: str
    stim_rows: np.ndarray  # rows of the *input* file
    neuron_offset: int  # within the input
    n_neurons: int
    dtypes: dict  # dataset name -> base dtype
    metadata: dict
    transform: dict | None


@dataclass
class _Input:
    pos: int
    path: str
    f: h5py.File
    handle: FileHandle
    info: object
    stim_ids: list
    stim_meta_raw: list
    n_bins: np.ndarray
    neuron_ids: list
    nrn_meta_raw: list
    leaves: list = field(default_factory=list)


def _leaf_facts(f: h5py.File, path: str) -> tuple[dict, dict, dict | None]:
    info = read_info(f, path)
    dtypes = {L.RESPONSES: h5py.check_vlen_dtype(f[L.RESPONSES].dtype), L.REPEATS: f[L.REPEATS].dtype}
    if info.encoding == L.ENCODING_EVENTS:
        dtypes[L.COUNTS] = h5py.check_vlen_dtype(f[L.COUNTS].dtype)
    return dtypes, info.metadata, info.transform


def _read_input(pos: int, path: str, allow_external: bool) -> _Input:
    """Input ``pos`` opened and checked as a load checks it (tables, every stimulus), before anything is mapped."""
    handle = FileHandle(path, allow_external=allow_external)
    try:
        f = handle.file
        # the reader's checks, so that a file a load refuses is never mapped into a concatenation (SPEC 1.1 §12.1):
        # tables (kinds, shapes, storage written, exact counts), then every stimulus (no value read)
        tables = read_tables(f, path, lazy_meta=True)
        info = tables["info"]
        check_stimuli(handle, info, tables["n_bins"])
        inp = _Input(
            pos=pos,
            path=path,
            f=f,
            handle=handle,
            info=info,
            stim_ids=tables["stim_ids"],
            stim_meta_raw=read_strings(require_dataset(f, L.STIM_METADATA, path, kinds="S", ndim=1)),
            n_bins=tables["n_bins"],
            neuron_ids=tables["neuron_ids"],
            nrn_meta_raw=read_strings(require_dataset(f, L.NEURON_METADATA, path, kinds="S", ndim=1)),
        )
        S, N = len(inp.stim_ids), len(inp.neuron_ids)
        if info.concatenated:
            for rec in read_sources(f, path, allow_external=allow_external):
                with h5py.File(rec.resolved, "r") as lf:
                    dtypes, meta, transform = _leaf_facts(lf, rec.resolved)
                inp.leaves.append(_Leaf(rec.resolved, rec.uuid, rec.stim_rows, rec.neuron_offset, rec.n_neurons,
                                        dtypes, meta, transform))
        else:
            dtypes, meta, transform = _leaf_facts(f, path)
            inp.leaves.append(_Leaf(os.path.abspath(path), info.uuid, np.arange(S, dtype=np.int64), 0, N,
                                    dtypes, meta, transform))
        return inp
    except BaseException:
        handle.close()
        raise


def _common_dtype(inputs: list[_Input], dname: str) -> np.dtype:
    dts = [np.dtype(leaf.dtypes[dname]) for inp in inputs for leaf in inp.leaves if dname in leaf.dtypes]
    kinds = {d.kind for d in dts}
    if len(kinds) > 1:
        raise IncompatibleDatasetsError(f"cannot concatenate: /{dname} holds values of different kinds {sorted(map(str, dts))}")
    best = max(dts, key=lambda d: d.itemsize)
    return best.newbyteorder("<") if best.itemsize > 1 else best


def _stims_identical(a: _Input, ra: int, b: _Input, rb: int) -> str | None:
    """None when stimulus ra of a and rb of b are identical, else what differs."""
    if int(a.n_bins[ra]) != int(b.n_bins[rb]):
        return f"n_bins {int(a.n_bins[ra])} vs {int(b.n_bins[rb])}"
    da = a.f[L.stim_group_path(ra)][L.STIM_DATA]
    db = b.f[L.stim_group_path(rb)][L.STIM_DATA]
    if da.shape != db.shape:
        return f"stimulus shape {da.shape} vs {db.shape}"
    if a.info.stim_kind == L.STIM_WAVEFORM:
        sa, sb = float(da.attrs[L.ATTR_SAMPLE_RATE]), float(db.attrs[L.ATTR_SAMPLE_RATE])
        if sa != sb:
            return f"sample rate {sa:g} vs {sb:g} Hz"
    if not np.array_equal(da[()], db[()]):
        return "stimulus values differ"
    return None


def _runs(src_rows: np.ndarray, dst_rows: np.ndarray) -> list[tuple[int, int, int]]:
    """Maximal runs (src_start, dst_start, length) where both row sequences step by one."""
    out = []
    n = src_rows.size
    i = 0
    while i < n:
        j = i + 1
        while j < n and src_rows[j] == src_rows[j - 1] + 1 and dst_rows[j] == dst_rows[j - 1] + 1:
            j += 1
        out.append((int(src_rows[i]), int(dst_rows[i]), j - i))
        i = j
    return out


def concat(
    paths: Sequence,
    out,
    *,
    merge_stimuli: bool = False,
    allow_duplicate_neurons: bool = False,
    allow_external: bool = False,
    overwrite: bool = False,
) -> str:
    """Concatenate strfh5 files on disk into a file of virtual datasets.

    The result is block-diagonal along stimuli and neurons, as
    :func:`strfh5.concat_neural_datasets`: the stimuli of input ``i`` follow
    those of inputs ``0..i-1``, its neurons likewise, and cross blocks read as
    not recorded.  It holds no response data — ``/responses``, ``/repeats``
    and ``/counts`` map the sources' datasets, ``/stimuli/<i>`` link to the
    sources' stimulus groups — so it is small and fast to make whatever the
    sources' size.  Concatenated inputs are flattened to their own sources.

    Parameters
    ----------
    paths : sequence of str or os.PathLike
        The input files (plain or concatenated), in block order.
    out : str or os.PathLike
        The file to write. The sources must lie in its folder or below.
    merge_stimuli : bool
        Merge a stimulus whose id is already in an earlier block into that
        row, after checking its data and ``n_bins`` are identical; neurons of
        both sources then share the row. By default such stimuli keep their
        own rows (reported in ``/metadata`` ``shared_stimulus_ids``).
    allow_duplicate_neurons : bool
        Accept the same neuron id in two inputs (refused by default).
    allow_external : bool
        Accept sources outside the output's folder (readers then need
        ``allow_external=True`` too).
    overwrite : bool
        Replace an existing ``out``.

    Returns
    -------
    str
        The path written.

    Raises
    ------
    IncompatibleDatasetsError
        Inputs differ in encoding, dt, stimulus kind or dimensions, or
        response kind; or merged stimuli differ.
    DuplicateIdError
        A neuron id in two inputs (without ``allow_duplicate_neurons``).
    UnsafeSourcePathError
        A source outside the output's folder (without ``allow_external``).
    FileFormatError
        An input a load would refuse: every input's tables and stimuli are
        checked as the reader checks them (no stimulus value read) before
        anything is written (SPEC 1.1 §12.1).

    Examples
    --------
    >>> strfh5.concat(["demo.strf.h5", "demo2.strf.h5"], "demo12.strf.h5", overwrite=True)
    'demo12.strf.h5'
    >>> strfh5.load("demo12.strf.h5", lazy=True).get_N()
    32
    """
    paths = [os.fspath(p) for p in paths]
    if not paths:
        raise InvalidDataError("concat needs at least one input file")
    out = os.fspath(out)
    out_dir = _check_output(out, overwrite)
    inputs: list[_Input] = []
    tmp = None
    try:
        for i, p in enumerate(paths):
            inputs.append(_read_input(i, p, allow_external))
        _check_inputs(inputs, out, allow_duplicate_neurons)
        plan = _Plan(inputs, merge_stimuli)
        rel = [relative_source_path(leaf.abs, out_dir, allow_external) for leaf, _r, _c in plan.leaves]
        schemas, meta_text, transform = _file_metadata(inputs, plan, merge_stimuli)
        clean_leftovers(out_dir, os.path.basename(out))  # what an interrupted write to `out` left
        tmp = f"{out}.tmp-{_uuid.uuid4().hex[:12]}"
        with h5py.File(tmp, "w") as f:
            _write_tables(f, plan, meta_text, transform, rel)
            _write_virtual(f, inputs, plan, rel)
            _write_sources(f, plan, rel)
            info0 = inputs[0].info
            write_root_attrs(f, uuid=str(_uuid.uuid4()), encoding=info0.encoding, dt_ms=info0.dt_ms,
                             stim_kind=info0.stim_kind, stim_dims=info0.stim_dims,
                             response_kind=info0.response_kind, schemas=schemas, concatenated=True)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, out)
        tmp = None
    finally:
        for inp in inputs:
            try:
                inp.handle.close()
            except Exception:  # pragma: no cover
                pass
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)
    return out


def _check_output(out: str, overwrite: bool) -> str:
    out_dir = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(out_dir):
        raise FileNotFoundError(f"{out}: folder {out_dir} does not exist")
    if os.path.exists(out) and not overwrite:
        raise FileExistsError(f"{out} exists (pass overwrite=True to replace it)")
    return out_dir


def _check_inputs(inputs: list[_Input], out: str, allow_duplicate_neurons: bool) -> None:
    out_abs = os.path.abspath(out)
    for inp in inputs:
        for leaf in inp.leaves:
            if os.path.abspath(leaf.abs) == out_abs or os.path.abspath(inp.path) == out_abs:
                raise InvalidDataError(f"{out} is one of the inputs (or their sources); write elsewhere")
    check_compatible([inp.info for inp in inputs], [f"input {inp.pos} ({inp.path})" for inp in inputs])
    if not allow_duplicate_neurons:
        check_duplicate_neurons([inp.neuron_ids for inp in inputs],
                                "allow_duplicate_neurons=True (--allow-duplicate-neurons)")


class _Plan:
    """Where every stimulus row, neuron and source block of the inputs goes in the output."""

    def __init__(self, inputs: list[_Input], merge_stimuli: bool):
        self._first: dict[str, int] = {}  # stimulus id -> first output row
        self._owner: list[tuple[int, int]] = []  # (input, row) first providing each output row
        self.ids: list[str] = []
        self.meta: list[str] = []
        self.n_bins: list[int] = []
        self.row_maps = [self._place_rows(inputs, inp, merge_stimuli) for inp in inputs]
        self.S = len(self.ids)
        self.shared = shared_stimulus_ids(self.ids)
        self.merged = self._merged(inputs) if merge_stimuli else []
        self.nrn_ids: list[str] = []
        self.nrn_meta: list[str] = []
        self.leaves = []  # (leaf, out rows, column offset)
        for inp, rm in zip(inputs, self.row_maps):
            c0 = len(self.nrn_ids)
            self.nrn_ids.extend(inp.neuron_ids)
            self.nrn_meta.extend(inp.nrn_meta_raw)
            for leaf in inp.leaves:
                self.leaves.append((leaf, rm[leaf.stim_rows], c0 + leaf.neuron_offset))
        self.N = len(self.nrn_ids)

    def _place_rows(self, inputs: list[_Input], inp: _Input, merge: bool) -> np.ndarray:
        rm = np.empty(len(inp.stim_ids), dtype=np.int64)
        for r, sid in enumerate(inp.stim_ids):
            if merge and sid in self._first:
                o = self._first[sid]
                oi, orow = self._owner[o]
                diff = _stims_identical(inputs[oi], orow, inp, r)
                if diff is not None:
                    raise IncompatibleDatasetsError(
                        f"cannot merge stimulus {sid!r}: input {oi} ({inputs[oi].path}) row {orow} and input "
                        f"{inp.pos} ({inp.path}) row {r} differ ({diff}); concatenate without merge_stimuli "
                        "to keep them in separate rows")
            else:
                o = len(self.ids)
                self.ids.append(sid)
                self.meta.append(inp.stim_meta_raw[r])
                self.n_bins.append(int(inp.n_bins[r]))
                self._owner.append((inp.pos, r))
                self._first.setdefault(sid, o)
            rm[r] = o
        return rm

    def _merged(self, inputs: list[_Input]) -> list[str]:
        seen_rows: dict[int, set] = {}
        for inp, rm in zip(inputs, self.row_maps):
            for o in rm:
                seen_rows.setdefault(int(o), set()).add(inp.pos)
        return [self.ids[o] for o in sorted(seen_rows) if len(seen_rows[o]) > 1]


def _file_metadata(inputs: list[_Input], plan: _Plan, merge_stimuli: bool) -> tuple[dict, str, dict | None]:
    """(schemas, file metadata JSON, common stimulus transform or None) of the output."""
    schemas = dict(inputs[0].info.schemas)
    if any(inp.info.schemas != schemas for inp in inputs):
        schemas = {k: _schema.CORE[k] for k in _schema.KINDS}
    # the concatenation's own file metadata (source 'concat') answers to the core file schema;
    # each source's file metadata is kept under 'sources' (stimulus/neuron records keep theirs)
    schemas["file"] = _schema.CORE["file"]
    transforms = [leaf.transform for leaf, _r, _c in plan.leaves]
    tjson = [None if t is None else json.dumps(t, sort_keys=True) for t in transforms]
    common_transform = transforms[0] if len(set(tjson)) == 1 else None
    file_meta = {
        "source": "concat",
        "title": f"Concatenation of {len(plan.leaves)} strfh5 files",
        "sources": [{"uuid": leaf.uuid, "metadata": leaf.metadata, "transform": leaf.transform}
                    for leaf, _r, _c in plan.leaves],
        "merge_stimuli": bool(merge_stimuli),
        "shared_stimulus_ids": plan.shared,
        "merged_stimulus_ids": plan.merged,
    }
    meta_text = _schema.dumps(file_meta, "concatenated file metadata")
    _schema.validate_record(json.loads(meta_text), schemas["file"], "concatenated file metadata")
    return schemas, meta_text, common_transform


def _write_tables(f: h5py.File, plan: _Plan, meta_text: str, transform: dict | None, rel: list[str]) -> None:
    stim = f.create_group(L.STIMULI)
    stim.create_dataset("ids", data=np.array(plan.ids, dtype=object), dtype=_STR)
    stim.create_dataset("metadata", data=np.array(plan.meta, dtype=object), dtype=_STR)
    stim.create_dataset("n_bins", data=np.asarray(plan.n_bins, dtype="<u4").reshape(-1))
    stim.attrs[L.ATTR_COUNT] = np.int64(plan.S)
    if transform is not None:
        stim.attrs[L.ATTR_TRANSFORM] = _schema.dumps(transform, "stimulus transform")
    link_done = np.zeros(plan.S, dtype=bool)
    for k, (_leaf, rows, _c) in enumerate(plan.leaves):
        for j, o in enumerate(rows):
            if not link_done[o]:
                stim[L.stim_group_name(int(o))] = h5py.ExternalLink(rel[k], "/" + L.stim_group_path(j))
                link_done[o] = True
    neu = f.create_group(L.NEURONS)
    neu.create_dataset("ids", data=np.array(plan.nrn_ids, dtype=object), dtype=_STR)
    neu.create_dataset("metadata", data=np.array(plan.nrn_meta, dtype=object), dtype=_STR)
    f.create_dataset(L.METADATA, data=meta_text, dtype=_STR)


def _write_virtual(f: h5py.File, inputs: list[_Input], plan: _Plan, rel: list[str]) -> None:
    events = inputs[0].info.encoding == L.ENCODING_EVENTS
    for name in (L.RESPONSES, L.REPEATS) + ((L.COUNTS,) if events else ()):
        base = _common_dtype(inputs, name)
        dtype = base if name == L.REPEATS else h5py.vlen_dtype(base)
        fill = {"fillvalue": 0} if name == L.REPEATS else {}
        if plan.S == 0 or plan.N == 0:
            f.create_dataset(name, shape=(plan.S, plan.N), dtype=dtype, **fill)
            continue
        layout = h5py.VirtualLayout(shape=(plan.S, plan.N), dtype=dtype)
        for k, (leaf, rows, c0) in enumerate(plan.leaves):
            if rows.size == 0 or leaf.n_neurons == 0:
                continue
            src = h5py.VirtualSource(escape_vds_name(rel[k]), name, shape=(rows.size, leaf.n_neurons), dtype=dtype)
            for j0, o0, n in _runs(np.arange(rows.size), rows):
                layout[o0 : o0 + n, c0 : c0 + leaf.n_neurons] = src[j0 : j0 + n, :]
        f.create_virtual_dataset(name, layout, **fill)


def _write_sources(f: h5py.File, plan: _Plan, rel: list[str]) -> None:
    g = f.create_group(L.SOURCES)
    g.create_dataset("paths", data=np.array(rel, dtype=object), dtype=_STR)
    g.create_dataset("uuids", data=np.array([leaf.uuid for leaf, _r, _c in plan.leaves], dtype=object), dtype=_STR)
    counts = [rows.size for _l, rows, _c in plan.leaves]
    g.create_dataset("stim_offsets", data=np.concatenate([[0], np.cumsum(counts)]).astype("<i8"))
    all_rows = [rows for _l, rows, _c in plan.leaves]
    g.create_dataset("stim_rows", data=(np.concatenate(all_rows) if all_rows else np.empty(0)).astype("<i8"))
    offsets = [c for _l, _r, c in plan.leaves] + [plan.N]
    g.create_dataset("neuron_offsets", data=np.asarray(offsets, dtype="<i8") if plan.leaves else np.zeros(1, "<i8"))
