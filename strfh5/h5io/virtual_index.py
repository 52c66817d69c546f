"""Rows of a concatenated file read through its sources' response byte-range indexes (SPEC §7.2, §9).

A concatenated file holds no response data: ``/responses`` (and ``/counts``)
are virtual datasets whose blocks map rows of the sources.  HDF5 reads such a
row element by element through the mapping; :class:`VirtualIndex` reads each
source's part of the row with that source's :class:`~strfh5.h5io.index.RowIndex`
instead (one ``pread`` per source row, verified exactly as for a plain file:
offsets and lengths against the file, lengths against the repeats the
*concatenated* file's ``/repeats`` gives those cells and its ``n_bins``, bytes
against the row digest in the source's own ``/integrity``), and assembles the
:class:`~strfh5.records.RawRow` HDF5 would give: values in neuron order, in
the virtual dataset's element type, unmapped cells empty.

It answers None, and the caller reads the row through HDF5 as before, for
anything it does not handle: a mapping that is not one rectangle onto a
rectangle of the same shape covering the source's whole width, mappings that
overlap, ``/counts`` mapped otherwise than ``/responses``, a source that is
not the recorded one (path, UUID, not concatenated) or has no index (or one
that fails a check: then with the :class:`~strfh5.errors.ResponseIndexWarning`
of :meth:`RowIndex.raw_row`), a repeats value on an unmapped cell, a
big-endian element type, or ``HDF5_VDS_PREFIX`` set.  Sources are opened
(with every check of :func:`~strfh5.h5io.open_file`) once per process, when
a row first needs them.
"""

from __future__ import annotations

import os
import warnings

import h5py
import numpy as np

from .. import layout as L
from ..errors import ResponseIndexWarning, StrfH5Error
from ..records import RawRow
from .checks import counts_too_large
from .heaps import check_attributes
from .index import RowIndex, open_index
from .opening import open_file
from .sources import PREFIX_ENV_VARS, read_sources, unescape_vds_name
from .values import attr_str

__all__ = ["VirtualIndex", "open_virtual_index"]


class _Unhandled(Exception):
    """A mapping or row this module does not read (the caller reads it through HDF5)."""


def _vlen_base(ds: h5py.Dataset) -> np.dtype | None:
    """The element type of VLEN dataset ``ds`` when it is read as stored (native or one byte), else None."""
    base = h5py.check_vlen_dtype(ds.dtype)
    if base is None:
        return None
    base = np.dtype(base)
    if base.kind not in "iuf" or not (base.itemsize == 1 or (base.isnative and np.little_endian)):
        return None
    return base


def _blocks(ds: h5py.Dataset, allowed: dict) -> np.ndarray:
    """``(K, 7)`` int64 ``[v_row0, v_row1, v_col0, v_col1, src_row0, src_col0, source]`` of the mappings of ``ds``.

    Bounds are inclusive; ``source`` indexes ``allowed``'s values in order.
    Raises :class:`_Unhandled` for a mapping that is not a whole rectangle onto
    a whole rectangle of the same shape in ``/<ds name>`` of a recorded source.
    """
    names = list(allowed)
    out = []
    for m in ds.virtual_sources():
        fname = unescape_vds_name(m.file_name)
        if fname not in allowed or m.dset_name.lstrip("/") != ds.name.lstrip("/"):
            raise _Unhandled(f"{ds.name} maps {m.dset_name} of {fname!r}")
        try:
            (v0, v1), (s0, s1) = m.vspace.get_select_bounds(), m.src_space.get_select_bounds()
            vn, sn = m.vspace.get_select_npoints(), m.src_space.get_select_npoints()
        except (ValueError, RuntimeError):
            raise _Unhandled(f"{ds.name}: a selection without bounds") from None
        if len(v0) != 2 or len(s0) != 2:
            raise _Unhandled(f"{ds.name}: a mapping of rank {len(v0)}")
        shape = [b - a + 1 for a, b in zip(v0, v1)]
        if [b - a + 1 for a, b in zip(s0, s1)] != shape or vn != sn or vn != shape[0] * shape[1] or s0[1] != 0:
            raise _Unhandled(f"{ds.name}: a mapping that is not a rectangle onto one of the same shape, from the "
                             "source's first column")
        out.append([v0[0], v1[0], v0[1], v1[1], s0[0], s0[1], names.index(fname)])
    return np.asarray(out, dtype=np.int64).reshape(-1, 7)


class _Source:
    """One source of this process: its open file and checked index (None: read through HDF5)."""

    def __init__(self, path: str, uuid: str, encoding: str):
        self.path, self.uuid, self.encoding = path, uuid, encoding
        self.f: h5py.File | None = None
        self.index: RowIndex | None = None
        self.shape: tuple = ()
        self.dtype: np.dtype | None = None
        self.opened = False

    def open(self) -> RowIndex | None:
        if self.opened:
            return self.index
        self.opened = True
        try:
            self.f = open_file(self.path)  # markers, version, a plain file (no virtual data, no external links)
            f = self.f
            if bool(f.attrs.get(L.ATTR_CONCATENATED, False)) or attr_str(f.attrs.get(L.ATTR_UUID, "")) != self.uuid:
                return None  # not the source the concatenation recorded: HDF5 reads it (and the checks report it)
            ds = f.get(L.RESPONSES)
            if not isinstance(ds, h5py.Dataset) or ds.is_virtual or ds.ndim != 2:
                return None
            self.shape, self.dtype = ds.shape, _vlen_base(ds)
            if self.encoding == L.ENCODING_EVENTS:
                cnt = f.get(L.COUNTS)
                if not isinstance(cnt, h5py.Dataset) or _vlen_base(cnt) is None:
                    return None
            link = f.get(L.RESPONSE_INDEX, getlink=True)
            if link is None or self.dtype is None:
                return None
            if isinstance(link, h5py.HardLink):
                check_attributes(f[L.RESPONSE_INDEX], self.path)
            self.index = open_index(f, self.path, self.encoding, False)
        except (StrfH5Error, OSError, KeyError, RuntimeError, ValueError, TypeError) as e:
            warnings.warn(f"{self.path}: the response index of this source cannot be used ({e}); reading its rows "
                          "through HDF5", ResponseIndexWarning, stacklevel=4)
            self.index = None
        return self.index

    def close(self) -> None:
        if self.index is not None:
            self.index.close()
        if self.f is not None:
            try:
                self.f.close()
            except Exception:  # pragma: no cover - closing a dead handle
                pass
        self.index, self.f, self.opened = None, None, False


class VirtualIndex:
    """Rows of a concatenated file read by byte range in its sources (one per process, as a RowIndex).

    Use :func:`open_virtual_index`; :meth:`raw_row` has the signature and the
    contract of :meth:`RowIndex.raw_row <strfh5.h5io.index.RowIndex.raw_row>`.
    """

    def __init__(self, path: str, shape: tuple, blocks: np.ndarray, sources: list, dtype: np.dtype,
                 count_dtype: np.dtype | None):
        self.path, self.shape, self.blocks, self.sources = path, shape, blocks, sources
        self.dtype, self.count_dtype = dtype, count_dtype
        self._rows: dict = {}  # row -> _row_blocks(row)

    def close(self) -> None:
        for src in self.sources:
            src.close()

    def _row_blocks(self, s: int):
        """The blocks of row ``s``, ``[(c0, c1, source, source row)]`` by column (inclusive); None where they overlap.

        Kept per row (a few tuples: no array as long as the row is kept).
        """
        got = self._rows.get(s, False)
        if got is not False:
            return got
        b = self.blocks
        hit = b[(b[:, 0] <= s) & (s <= b[:, 1])]
        hit = hit[np.argsort(hit[:, 2], kind="stable")]
        got = None
        if not (hit[1:, 2] <= hit[:-1, 3]).any():  # overlapping mappings: which one HDF5 reads is its business
            got = [(int(r[2]), int(r[3]), int(r[6]), int(r[4] + s - r[0])) for r in hit.tolist()]
        self._rows[s] = got
        return got

    def raw_row(self, s: int, n_bins: int, repeats: np.ndarray, neurons=None, dtype=None) -> RawRow | None:
        """Row ``s`` read through the sources' indexes and verified; None when HDF5 must read it."""
        try:
            return self._raw_row(int(s), int(n_bins), np.asarray(repeats, dtype=np.int64).reshape(-1), neurons,
                                 dtype)
        except _Unhandled:
            return None

    def _raw_row(self, s, n_bins, reps, neurons, dtype):
        S, N = self.shape
        blocks = self._row_blocks(s) if 0 <= s < S and reps.size == N else None
        if blocks is None:
            raise _Unhandled
        if neurons is None:
            spans = [reps[c0 : c1 + 1] for c0, c1, _k, _r in blocks]
            if np.count_nonzero(reps) != sum(np.count_nonzero(r) for r in spans):
                raise _Unhandled  # a recorded cell nothing maps: HDF5 reads it empty and reports it
            sel = reps
            parts = [self._part(k, row, n_bins, r, None, dtype) for (_c0, _c1, k, row), r in zip(blocks, spans)]
        else:
            sel, parts = self._subset(blocks, n_bins, reps, np.asarray(neurons, dtype=np.int64).reshape(-1), dtype)
        if self.count_dtype is not None:
            return self._events(sel, parts)
        if not (sel > 0).any():
            return RawRow(sel, np.empty(0, dtype or np.float32))
        values = parts[0].values if len(parts) == 1 else np.concatenate([p.values for p in parts])
        return RawRow(sel, values)

    def _subset(self, blocks, n_bins, reps, which, dtype):
        """``(repeats, parts)`` of the neurons ``which``: one part per run of neurons in the same block."""
        if which.size and (which.min() < 0 or which.max() >= reps.size):
            raise _Unhandled
        sel = reps[which]
        c0s = np.array([b[0] for b in blocks], dtype=np.int64)
        c1s = np.array([b[1] for b in blocks], dtype=np.int64)
        bid = np.searchsorted(c0s, which, side="right") - 1
        mapped = bid >= 0
        mapped[mapped] = which[mapped] <= c1s[bid[mapped]]
        if sel[~mapped].any():  # a recorded cell nothing maps
            raise _Unhandled
        cells, bid = which[mapped], bid[mapped]
        edges = [0, *(np.flatnonzero(np.diff(bid)) + 1).tolist(), bid.size] if bid.size else []
        parts = []
        for lo, hi in zip(edges[:-1], edges[1:]):
            c0, c1, k, row = blocks[int(bid[lo])]
            local = cells[lo:hi] - c0
            if local.size == c1 - c0 + 1 and (local == np.arange(local.size)).all():
                local = None
            parts.append(self._part(k, row, n_bins, reps[c0 : c1 + 1], local, dtype))
        return sel, parts

    def _part(self, k: int, row: int, n_bins: int, reps: np.ndarray, local, dtype):
        """Source ``k``'s row ``row`` for its columns ``local`` (all when None), in this file's element type."""
        src = self.sources[k]
        index = src.index if src.opened else src.open()
        if index is None or src.shape[1] != reps.size or not 0 <= row < src.shape[0]:
            raise _Unhandled
        events = self.count_dtype is not None
        same = src.dtype == self.dtype
        got = index.raw_row(row, n_bins, reps, local, dtype if same and not events else None)
        if got is None:
            raise _Unhandled
        if same:
            return got
        values = got.values.astype(self.dtype)  # HDF5 converts a narrower source type to the file's (same kind)
        if dtype is not None and not events:
            values = values.astype(dtype, copy=False, casting="unsafe")
        return RawRow(got.reps, values, got.counts)

    def _events(self, sel: np.ndarray, parts: list) -> RawRow:
        """Values and flat counts as HDF5 gives them (see :func:`strfh5.h5io.rows.read_raw_row`)."""
        if not parts:
            return RawRow(sel, np.empty(0), np.empty(0, np.int64))
        counts = parts[0].counts if len(parts) == 1 else np.concatenate([p.counts for p in parts])
        if (counts < 0).any() or counts_too_large(counts, int(sel.max()) if sel.size else 0):
            raise _Unhandled  # HDF5's read reports such counts
        if not (sel > 0).any():
            return RawRow(sel, np.empty(0), counts)
        values = parts[0].values if len(parts) == 1 else np.concatenate([p.values for p in parts])
        return RawRow(sel, values, counts)


def open_virtual_index(f: h5py.File, path: str, encoding: str, allow_external: bool = False) -> VirtualIndex | None:
    """The :class:`VirtualIndex` of the open concatenated file ``f``; None when its rows are read through HDF5.

    ``f`` passed :func:`~strfh5.h5io.sources.check_sources` when opened; the
    mappings are read here, the sources opened when first needed.
    """
    if any(os.environ.get(v) for v in PREFIX_ENV_VARS):
        return None  # HDF5 would resolve the sources against it
    try:
        records = read_sources(f, path, allow_external=allow_external)
        allowed = {}
        for rec in records:
            allowed.setdefault(rec.path, rec)
        ds = f.get(L.RESPONSES)
        if not isinstance(ds, h5py.Dataset) or not ds.is_virtual or ds.ndim != 2:
            return None
        dtype = _vlen_base(ds)
        blocks = _blocks(ds, allowed)
        count_dtype = None
        if encoding == L.ENCODING_EVENTS:
            cnt = f.get(L.COUNTS)
            if not isinstance(cnt, h5py.Dataset) or not cnt.is_virtual or cnt.shape != ds.shape:
                return None
            count_dtype = _vlen_base(cnt)
            cblocks = _blocks(cnt, allowed)
            order = np.lexsort(blocks.T[::-1])
            if count_dtype is None or not np.array_equal(blocks[order], cblocks[np.lexsort(cblocks.T[::-1])]):
                return None
    except (_Unhandled, StrfH5Error, OSError, KeyError, RuntimeError, ValueError, TypeError):
        return None
    if dtype is None:
        return None
    sources = [_Source(rec.resolved, rec.uuid, encoding) for rec in allowed.values()]
    return VirtualIndex(path, ds.shape, blocks, sources, dtype, count_dtype)
