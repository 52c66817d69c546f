"""The deepSTRF data paradigm over a strfh5 file: :class:`NeuralDataset`.

A dataset wraps a :class:`~strfh5.contents.Contents` (the raw file content) and
exposes deepSTRF's names and behaviour (seed 004): ``stims``, ``responses``
(``responses[s][n]`` an ``(R, T)`` float32 tensor or the ``(1, 1)`` NaN
sentinel), ``stim_meta``, ``nrn_meta``, ``nrn_masks``, the selection API, the
bidirectional rule, and ``__len__`` / ``__getitem__`` filtered by the
selection so that a ``DataLoader`` never sees a fully-missing item.

Two modes
---------
* **eager** (default): every stimulus row is read once, binned in bulk (one
  numpy→torch conversion per row) and kept in memory; ``responses[s][n]`` are
  views into the row tensor.
* **lazy** (``lazy=True``): opening reads only the tables and ``/repeats``;
  an item reads one stimulus row for the visible neurons; ``stims`` and
  ``responses`` are sequence-like proxies reading on access.  Nothing caches
  response data.  The dataset pickles without its file handle and reopens the
  file in each process, so ``DataLoader(num_workers=...)`` works.

Where strfh5 differs from deepSTRF
----------------------------------
* A selection that matches nothing (``select_pop_by_nrn_attr('area', 'mld')``
  when the areas are ``'MLd'``) raises :class:`~strfh5.errors.SelectionError`
  listing the values present, instead of silently selecting nothing.
* Out-of-range or duplicate indices raise ``SelectionError`` (an IndexError).
* Transforms record themselves in ``ds.transforms`` and refuse to be applied
  twice unless ``force=True`` (deepSTRF silently double-normalises).
* ``nrn_masks`` comes from the file's ``/repeats`` table, not from scanning
  the responses for NaN, so it costs nothing in lazy mode.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any, Callable, Iterator

import numpy as np
import torch

from . import layout as L
from .binning import ReadGrid, plan, read_raw_row
from .collate import FieldDict
from .contents import Contents
from .errors import SelectionError, StrfH5Error, TransformError
from .transforms import (
    ResponseStats,
    StimStats,
    affine_rows,
    check_not_applied,
    hann_window,
    smooth_rows,
    smooth_window_bins,
    standardize_stim,
)

__all__ = ["NeuralDataset", "AudioNeuralDataset", "VideoNeuralDataset", "Item", "ResponseRow", "dataset_from_contents"]

_MISSING = object()


class Item(FieldDict):
    """One dataset item: a dict that can also be indexed by position.

    Keys, in order: ``stims``, ``responses`` (list of the visible neurons'
    ``(R, T)`` tensors), ``neuron_indices``, ``stim_meta``, ``stim_index``.
    ``item[3]`` is ``item['stim_meta']`` (deepSTRF notebooks index items by
    position).
    """

    what = "item"


def _nan_sentinels(n: int) -> list[torch.Tensor]:
    """``n`` distinct ``(1, 1)`` NaN tensors, allocated in one block."""
    if n <= 0:
        return []
    return list(torch.full((n, 1, 1), float("nan")).unbind(0))


class ResponseRow(Sequence):
    """The responses of one stimulus to a list of neurons, backed by one tensor.

    ``row[i]`` is the ``(R_i, T)`` float32 view of neuron ``i``'s repeats in
    ``data``, or a fresh ``(1, 1)`` NaN sentinel when the pair is missing.
    Element views are created on access (a row of 849 neurons costs nothing
    until used); assigning ``row[i] = tensor`` replaces one element (deepSTRF
    code that edits ``responses[s][n]`` keeps working).

    Attributes
    ----------
    data : torch.Tensor, shape (sum R, T)
        The present elements' repeats stacked in order.
    reps : numpy.ndarray
        Repeats of each element (0 = missing).
    """

    def __init__(self, data: torch.Tensor, reps: np.ndarray):
        self.data = data
        self.reps = np.asarray(reps, dtype=np.int64)
        self._offs = np.concatenate([[0], np.cumsum(self.reps)[:-1]]) if self.reps.size else self.reps
        self._over: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return int(self.reps.size)

    def _norm(self, i) -> int:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"response row indices must be integers, got {type(i).__name__}")
        n = len(self)
        j = int(i) + n if int(i) < 0 else int(i)
        if not 0 <= j < n:
            raise IndexError(f"neuron position {int(i)} out of range for a row of {n} neurons")
        return j

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        j = self._norm(i)
        if j in self._over:
            return self._over[j]
        r = int(self.reps[j])
        if r == 0:
            return torch.full((1, 1), float("nan"))
        return self.data.narrow(0, int(self._offs[j]), r)

    def __setitem__(self, i, value) -> None:
        j = self._norm(i)
        if not isinstance(value, torch.Tensor) or value.ndim != 2:
            raise TypeError(f"a response must be an (R, T) torch tensor, got {type(value).__name__}"
                            + (f" of shape {tuple(value.shape)}" if isinstance(value, torch.Tensor) else ""))
        self._over[j] = value

    def __iter__(self):
        if not self._over and self.reps.size:
            r0 = int(self.reps[0])
            if r0 > 0 and bool((self.reps == r0).all()):
                return iter(self.data.view(self.reps.size, r0, self.data.shape[-1]).unbind(0))
        return (self[j] for j in range(len(self)))

    def block(self):
        """``(data, reps)`` when no element was replaced, else None."""
        return None if self._over else (self.data, self.reps)

    def __repr__(self) -> str:
        return (f"<ResponseRow: {len(self)} neurons, {int((self.reps > 0).sum())} recorded, "
                f"T={self.data.shape[-1]}>")


def _gather_rows(data: torch.Tensor, reps: np.ndarray, neurons: Sequence[int]) -> tuple[torch.Tensor, np.ndarray]:
    """Rows of ``neurons`` out of a row block (``data``, ``reps``), in that order."""
    nrn = np.asarray(neurons, dtype=np.int64)
    sub = reps[nrn]
    if nrn.size == reps.size and np.array_equal(nrn, np.arange(reps.size)):
        return data, sub
    total = int(sub.sum())
    if total == 0:
        return data[:0], sub
    starts = (np.cumsum(reps) - reps)[nrn]
    idx = np.arange(total) + np.repeat(starts - (np.cumsum(sub) - sub), sub)
    return data.index_select(0, torch.from_numpy(idx)), sub


def _as_index(value, size: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_floating_point():
            value = int(value)
        else:
            raise SelectionError(f"{what} index must be an integer, got {value!r}")
    v = int(value)
    if not 0 <= v < size:
        raise SelectionError(f"{what} index {v} out of range [0, {size})")
    return v


def _as_indices(values, size: int, what: str) -> list[int]:
    if isinstance(values, (int, np.integer)) and not isinstance(values, bool):
        raise SelectionError(f"{what} indices must be a sequence of integers, got the integer {values!r}")
    if isinstance(values, torch.Tensor) or isinstance(values, np.ndarray):
        values = values.tolist()
    try:
        out = [_as_index(v, size, what) for v in values]
    except TypeError:
        raise SelectionError(f"{what} indices must be a sequence of integers, got {values!r}") from None
    if len(set(out)) != len(out):
        seen, dups = set(), []
        for v in out:
            if v in seen:
                dups.append(v)
            seen.add(v)
        raise SelectionError(f"{what} indices contain duplicates: {sorted(set(dups))}")
    return out


def _present_values(metas: Sequence[dict], key: str, limit: int = 20) -> str:
    vals: list = []
    for m in metas:
        v = m.get(key, _MISSING)
        if v is not _MISSING and v not in vals:
            vals.append(v)
    if not vals:
        return f"no record has the key {key!r}"
    shown = ", ".join(repr(v) for v in vals[:limit])
    more = f", ... ({len(vals) - limit} more)" if len(vals) > limit else ""
    return f"values of {key!r} present: {shown}{more}"


def _match_attr(metas: Sequence[dict], key: str, value) -> list[int]:
    out = []
    for i, m in enumerate(metas):
        v = m.get(key, _MISSING)
        if v is _MISSING:
            continue
        try:
            if v == value:
                out.append(i)
        except Exception:  # exotic comparisons: treat as no match
            continue
    return out


def _matching_attr(metas: Sequence[dict], key: str, value, what: str, table: str) -> list[int]:
    """Indices of ``metas`` with ``meta[key] == value``; SelectionError listing the values present if none."""
    idx = _match_attr(metas, key, value)
    if not idx:
        raise SelectionError(f"no {what} has {table}[{key!r}] == {value!r}; {_present_values(metas, key)}")
    return idx


def _matching_pred(metas: Sequence[dict], predicate: Callable, what: str) -> list[int]:
    """Indices of ``metas`` satisfying ``predicate``; SelectionError if none."""
    idx = _match_pred(metas, predicate)
    if not idx:
        raise SelectionError(f"the predicate matched no {what}'s metadata (of {len(metas)})")
    return idx


def _match_pred(metas: Sequence[dict], predicate: Callable) -> list[int]:
    if not callable(predicate):
        raise SelectionError(f"predicate must be callable (dict -> bool), got {predicate!r}")
    out = []
    for i, m in enumerate(metas):
        try:
            if predicate(m):
                out.append(i)
        except (KeyError, TypeError):
            continue
    return out


def _position(i, size: int, what: str) -> int:
    """``i`` as an index into ``size`` elements (negative integers count from the end)."""
    if isinstance(i, (int, np.integer)) and not isinstance(i, bool) and -size <= i < 0:
        i = int(i) + size
    return _as_index(i, size, what)


class _LazyPerStimulus:
    """Base of the lazy per-stimulus sequence proxies: ``self[s]`` is ``self._element(s)``."""

    def __init__(self, ds: "NeuralDataset"):
        self._ds = ds

    def __len__(self) -> int:
        return self._ds.get_S()

    def _element(self, s: int):
        raise NotImplementedError

    def __getitem__(self, s):
        if isinstance(s, slice):
            return [self._element(i) for i in range(*s.indices(len(self)))]
        return self._element(_position(s, len(self), "stimulus"))

    def __iter__(self):
        return (self._element(i) for i in range(len(self)))


class _LazyStims(_LazyPerStimulus):
    """Sequence proxy over a lazy dataset's stimuli: ``stims[s]`` reads stimulus ``s``."""

    def _element(self, s: int) -> torch.Tensor:
        return self._ds._stim(s)

    def __repr__(self):
        return f"<lazy stims: {len(self)} stimuli read on access>"


class _LazyRow:
    """One row of a lazy dataset's responses: ``row[n]`` reads the pair (s, n)."""

    def __init__(self, ds: "NeuralDataset", s: int):
        self._ds, self._s = ds, s

    def __len__(self) -> int:
        return self._ds.N_neurons

    def __getitem__(self, n):
        N = len(self)
        if isinstance(n, slice):
            return self._ds.row_responses(self._s, list(range(*n.indices(N))))
        return self._ds.row_responses(self._s, [_position(n, N, "neuron")])[0]

    def __iter__(self):
        return iter(self._ds.row_responses(self._s, None))

    def __repr__(self):
        return f"<lazy responses row {self._s}: {len(self)} neurons read on access>"


class _LazyResponses(_LazyPerStimulus):
    """``responses[s]`` → a :class:`_LazyRow`; ``responses[s][n]`` reads one pair."""

    def _element(self, s: int) -> _LazyRow:
        return _LazyRow(self._ds, s)

    def __repr__(self):
        return f"<lazy responses: {len(self)} x {self._ds.N_neurons} read on access>"


class NeuralDataset(torch.utils.data.Dataset):
    """A stimulus/neural-response dataset in the deepSTRF paradigm.

    Build one with :func:`strfh5.load` or :func:`strfh5.from_lists`; the
    constructor takes the raw :class:`~strfh5.contents.Contents`, and
    :meth:`from_blocks` builds an eager dataset from rows already read and
    binned (how :func:`strfh5.concat_neural_datasets` reuses its inputs' data).

    Parameters
    ----------
    contents : Contents
        Raw content of a file (kept as ``self.contents``; :func:`strfh5.save`
        writes it back).
    lazy : bool
        Read rows on access instead of holding them in memory.
    dt_ms : float, optional
        Bin width of the responses; the file's ``dt_ms`` by default (see
        :mod:`strfh5.binning` for the rules).
    window_ms : (float, float or None), optional
        Response window relative to stimulus onset (events files only).

    Attributes
    ----------
    stims : list of torch.Tensor (or a lazy sequence)
        ``(1, F, T)`` spectrograms, ``(1, T_audio)`` waveforms or ``(1, H, W, T)`` videos.
    responses : list of lists (or a lazy sequence)
        ``responses[s][n]``: ``(R, T)`` float32 tensor, or a ``(1, 1)`` NaN tensor when missing.
    stim_meta, nrn_meta : list of dict
    stim_ids, neuron_ids : list of str
        Stable ids from the file.
    N_neurons : int
    dt : float
        Bin width in ms (as passed, or the file's).
    n_bins : numpy.ndarray
        Response bins ``T_s`` of each stimulus at ``dt``.
    I : list of int
        Selected neurons; empty means all.
    S_sel : list of int or None
        Selected stimuli; None means all.
    transforms : list of dict
        Reader-side transforms applied, in order, each with a ``name``.
    """

    def __init__(self, contents: Contents, *, lazy: bool = False, dt_ms=None, window_ms=None):
        super().__init__()
        if not isinstance(contents, Contents):
            raise StrfH5Error(f"NeuralDataset needs a strfh5 Contents object, got {type(contents).__name__}")
        self.contents = contents
        self.lazy = bool(lazy)
        self.grid: ReadGrid = plan(contents, dt_ms, window_ms)
        info = contents.info
        self.info = info
        self.encoding = info.encoding
        self.stim_kind = info.stim_kind
        self.response_kind = info.response_kind
        self.modality = info.modality
        self.file_dt = info.dt_ms
        self.dt = dt_ms if dt_ms is not None else info.dt_ms
        self.window_ms = None if window_ms is None else tuple(self.grid.window)
        self.stim_meta = contents.stim_meta
        self.nrn_meta = contents.nrn_meta
        self.stim_ids = contents.stim_ids
        self.neuron_ids = contents.neuron_ids
        self.N_neurons = contents.N
        self.n_bins = np.array([self.grid.n_bins(int(nb)) for nb in contents.n_bins], dtype=np.int64)
        bad = np.flatnonzero(self.n_bins <= 0)
        if bad.size:
            from .errors import BinningError

            raise BinningError(
                f"{self.grid.path}: reading at dt_ms={self.grid.dt:g} leaves stimulus {int(bad[0])} "
                f"({contents.stim_ids[int(bad[0])]!r}) with no response bin (stimulus shorter than one bin)"
            )
        self._masks_np = np.asarray(contents.repeats) > 0
        self._nrn_masks: torch.Tensor | None = None
        self.I: list[int] = []
        self.S_sel: list[int] | None = None
        self.transforms: list[dict] = []
        if not self.grid.is_identity:
            self.transforms.append({"name": "bin", "dt_ms": self.grid.dt, "window_ms": self.window_ms})
        self.response_normalization: dict | None = None
        self.stim_normalization: dict | None = None
        self._resp_ops: list[tuple] = []  # lazy mode: applied on every read
        self._stim_ops: list[tuple] = []
        self._view_cache = None
        if self.lazy:
            self.stims = _LazyStims(self)
            self.responses = _LazyResponses(self)
            self._blocks = None
        else:
            self._load_eager()

    # ------------------------------------------------------------ loading
    def _read_block(self, s: int, neurons: Sequence[int] | None) -> tuple[torch.Tensor, np.ndarray]:
        """Read and bin row ``s`` (raw, before transforms): ``(data (sum R, T), reps)``."""
        dtype = np.float32 if self.encoding == L.ENCODING_BINNED and self.grid.k == 1 else None
        raw = read_raw_row(self.contents, s, neurons, dtype=dtype)
        data, reps = self.grid.bin_raw(raw, int(self.contents.n_bins[s]))
        return torch.from_numpy(data), reps

    def _load_eager(self) -> None:
        blocks, stims = [], []
        for s in range(self.contents.S):
            blocks.append(self._read_block(s, None))
            stims.append(torch.from_numpy(np.ascontiguousarray(self.grid.stimulus(self.contents, s))))
        self._hold_rows(blocks, stims)

    def _hold_rows(self, blocks: list, stims: list) -> None:
        """Keep ``blocks`` / ``stims`` in memory: the dataset becomes eager."""
        self.lazy = False
        self._blocks = blocks
        self.responses = [ResponseRow(data, reps) for data, reps in blocks]
        self.stims = stims
        self._view_cache = None

    @classmethod
    def from_contents(cls, contents: Contents, *, lazy: bool = False, dt_ms=None, window_ms=None) -> "NeuralDataset":
        """A dataset of this class over ``contents``, as ``cls(contents, ...)``.

        A subclass whose constructor takes other arguments (e.g. a user's
        ``MyAA1(path)``) cannot be built from raw contents: the modality class
        (:func:`dataset_from_contents`) is returned instead.
        """
        import inspect

        kw = dict(lazy=lazy, dt_ms=dt_ms, window_ms=window_ms)
        try:
            inspect.signature(cls).bind(contents, **kw)
        except TypeError:
            return dataset_from_contents(contents, **kw)
        return cls(contents, **kw)

    @classmethod
    def from_blocks(cls, contents: Contents, blocks: Sequence, stims: Sequence, *, dt_ms=None, window_ms=None,
                    transforms: Sequence[dict] = ()) -> "NeuralDataset":
        """An eager dataset over ``contents`` from stimulus rows already read and binned.

        The way to build a dataset out of data other datasets hold, without
        reading any file again (:func:`strfh5.concat_neural_datasets` uses it).
        ``contents`` gives the ids, metadata, ``n_bins``, ``/repeats`` and the
        file description (what :func:`strfh5.save` writes); ``blocks`` and
        ``stims`` replace what the dataset would read from it.

        Parameters
        ----------
        contents : Contents
            Raw content the rows belong to (``S`` stimuli, ``N`` neurons).
        blocks : sequence of (torch.Tensor, numpy.ndarray)
            One ``(data, reps)`` per stimulus, as :meth:`row_block` returns
            them: ``reps`` the repeats of each of the ``N`` neurons (equal to
            ``contents.repeats[s]``), ``data`` float32 ``(reps.sum(), T_s)``
            with ``T_s`` the stimulus's bins at ``dt_ms``.
        stims : sequence of torch.Tensor
            One stimulus per row, on the same time grid.
        dt_ms, window_ms
            The bin width and response window the rows were read at (as for
            the constructor).
        transforms : sequence of dict
            Records of reader-side transforms already applied to ``blocks`` /
            ``stims``: appended to ``transforms``, so they refuse to be applied
            a second time.

        Returns
        -------
        NeuralDataset
            Of this class (see :meth:`from_contents`), eager, nothing selected.

        Raises
        ------
        InvalidDataError
            The number of blocks or stimuli, a block's ``reps`` or its shape do
            not match ``contents`` (naming the stimulus).
        """
        from .errors import InvalidDataError

        ds = cls.from_contents(contents, lazy=True, dt_ms=dt_ms, window_ms=window_ms)  # reads nothing
        blocks, stims = list(blocks), list(stims)
        S = contents.S
        if len(blocks) != S or len(stims) != S:
            raise InvalidDataError(f"from_blocks: contents hold {S} stimuli, got {len(blocks)} response blocks "
                                   f"and {len(stims)} stimuli")
        for s, (data, reps) in enumerate(blocks):
            reps = np.asarray(reps)
            if not np.array_equal(reps, contents.repeats[s]):
                raise InvalidDataError(f"from_blocks: the repeats of block {s} ({contents.stim_ids[s]!r}) differ "
                                       "from the contents' /repeats row")
            want = (int(reps.sum()), int(ds.n_bins[s]))
            if not isinstance(data, torch.Tensor) or tuple(data.shape) != want:
                got = tuple(data.shape) if hasattr(data, "shape") else type(data).__name__
                raise InvalidDataError(f"from_blocks: block {s} ({contents.stim_ids[s]!r}) must be a tensor of "
                                       f"shape (sum of repeats, T) = {want}, got {got}")
        ds._hold_rows(blocks, stims)
        ds.transforms.extend(copy.deepcopy(list(transforms)))
        return ds

    # -------------------------------------------------------- row access
    def row_block(self, s: int, neurons: Sequence[int] | None = None) -> tuple[torch.Tensor, np.ndarray]:
        """Stimulus row ``s`` as one tensor, binned and transformed.

        Parameters
        ----------
        s : int
            Stimulus index.
        neurons : sequence of int, optional
            Neurons to read (all when None), in this order.

        Returns
        -------
        data : torch.Tensor, float32, shape (sum R, T)
            The repeats of the recorded neurons of ``neurons``, stacked in order.
        reps : numpy.ndarray, int64, shape (len(neurons),)
            Repeats of each neuron (0 where the pair was not recorded).
        """
        s = _as_index(s, self.get_S(), "stimulus")
        if neurons is not None:
            neurons = _as_indices(neurons, self.N_neurons, "neuron")
        return self._row_block(s, neurons)

    def _row_block(self, s: int, neurons: list[int] | None) -> tuple[torch.Tensor, np.ndarray]:
        if not self.lazy:
            data, reps = self._blocks[s]
            if neurons is None:
                return data, reps
            return _gather_rows(data, reps, neurons)
        if neurons is not None and len(neurons) == self.N_neurons and neurons == self._all_neurons():
            neurons = None  # whole row: no per-neuron indexing
        data, reps = self._read_block(s, neurons)
        if self._resp_ops:
            nrn = np.arange(self.N_neurons) if neurons is None else np.asarray(neurons, dtype=np.int64)
            row_neurons = np.repeat(nrn, reps)
            for op in self._resp_ops:
                data = self._apply_resp_op(op, data, row_neurons)
        return data, reps

    def _all_neurons(self) -> list[int]:
        cached = getattr(self, "_all_neurons_list", None)
        if cached is None or len(cached) != self.N_neurons:
            cached = self._all_neurons_list = list(range(self.N_neurons))
        return cached

    def row_tensors(self, s: int, neurons: Sequence[int] | None = None) -> list[torch.Tensor | None]:
        """The ``(R, T)`` float32 tensors of row ``s`` (None where missing), binned and transformed."""
        data, reps = self.row_block(s, neurons)
        row = ResponseRow(data, reps)
        return [t if r else None for t, r in zip(row, reps.tolist())]

    def row_responses(self, s: int, neurons: Sequence[int] | None = None) -> list[torch.Tensor]:
        """Like :meth:`row_tensors` with ``(1, 1)`` NaN sentinels for missing pairs."""
        s = _as_index(s, self.get_S(), "stimulus")
        if neurons is not None:
            neurons = _as_indices(neurons, self.N_neurons, "neuron")
        if not self.lazy:
            row = self.responses[s]
            return list(row) if neurons is None else [row[n] for n in neurons]
        return list(ResponseRow(*self._row_block(s, neurons)))

    def _stim(self, s: int) -> torch.Tensor:
        if not self.lazy:
            return self.stims[s]
        x = torch.from_numpy(np.ascontiguousarray(self.grid.stimulus(self.contents, s)))
        for op in self._stim_ops:
            x = self._apply_stim_op(op, x)
        return x

    # ----------------------------------------------------------- basics
    def get_S(self) -> int:
        """Number of stimuli (the whole dataset, not the selection)."""
        return self.contents.S

    def get_N(self) -> int:
        """Number of neurons (the whole population, not the selection)."""
        return self.N_neurons

    def get_dt(self):
        """Bin width in ms."""
        return self.dt

    def get_nrn_meta(self) -> list[dict]:
        """Metadata of the currently selected neurons (``self.I``; all when empty)."""
        idx = self._checked_I()
        return [self.nrn_meta[n] for n in (idx if idx else range(self.N_neurons))]

    @property
    def nrn_masks(self) -> torch.Tensor:
        """``(S, N)`` bool: True where neuron n has data for stimulus s (from ``/repeats``)."""
        if self._nrn_masks is None:
            self._nrn_masks = torch.from_numpy(self._masks_np.copy())
        return self._nrn_masks

    def _invalidate_nrn_masks(self) -> None:
        """Recompute masks after structurally editing eager ``responses`` (deepSTRF compatibility)."""
        if not self.lazy:
            m = np.zeros_like(self._masks_np)
            for s, row in enumerate(self.responses):
                for n, r in enumerate(row):
                    m[s, n] = not bool(torch.isnan(r).all())
            self._masks_np = m
        self._nrn_masks = None
        self._view_cache = None

    # ------------------------------------------------------- selection
    def _checked_I(self) -> list[int]:
        return _as_indices(list(self.I), self.N_neurons, "neuron") if self.I else []

    def _checked_S_sel(self) -> list[int] | None:
        if self.S_sel is None:
            return None
        return _as_indices(list(self.S_sel), self.get_S(), "stimulus")

    def _view(self) -> tuple[list[int], list[int]]:
        """(visible neurons, iterable stimuli) under the current selection, cached."""
        key = (tuple(self.I), None if self.S_sel is None else tuple(self.S_sel))
        if self._view_cache is not None and self._view_cache[0] == key:
            return self._view_cache[1], self._view_cache[2]
        I = self._checked_I()
        S_sel = self._checked_S_sel()
        base = np.asarray(I if I else range(self.N_neurons), dtype=np.int64)
        cand = np.asarray(S_sel if S_sel is not None else range(self.get_S()), dtype=np.int64)
        if S_sel is not None and base.size:
            keep = self._masks_np[np.ix_(cand, base)].any(axis=0) if cand.size else np.zeros(base.size, bool)
            vis = base[keep]
        else:
            vis = base
        if cand.size and vis.size:
            stims = cand[self._masks_np[np.ix_(cand, vis)].any(axis=1)]
        else:
            stims = cand[:0]
        out = (vis.tolist(), stims.tolist())
        self._view_cache = (key, *out)
        return out

    def _selected(self) -> list[int]:
        """Visible neurons: ``I`` (all when empty), restricted by the bidirectional rule.

        When a stimulus selection is active (``S_sel`` not None), neurons with
        no recorded response to any selected stimulus are hidden (seed 003 §5).
        """
        return list(self._view()[0])

    def iterable_stims(self) -> list[int]:
        """Stimulus indices that ``__getitem__`` visits, in order."""
        return list(self._view()[1])

    def select_neuron(self, neuron_index: int) -> list[int]:
        """Restrict the selection to one neuron; returns ``[neuron_index]``."""
        self.I = [_as_index(neuron_index, self.N_neurons, "neuron")]
        return list(self.I)

    def select_population(self, neuron_indices) -> list[int]:
        """Restrict the selection to the listed neurons (order kept); returns them.

        An empty list is refused: use :meth:`reset_pop_selection` to select all.
        """
        idx = _as_indices(neuron_indices, self.N_neurons, "neuron")
        if not idx:
            raise SelectionError("select_population([]) would select no neuron; call reset_pop_selection() "
                                 "to select all neurons")
        return self._set_population(idx)

    def _set_population(self, idx: list[int]) -> list[int]:
        """Make ``idx`` (checked) the neuron selection; return a copy."""
        self.I = idx
        return list(idx)

    def _set_stim_selection(self, idx: list[int]) -> list[int]:
        """Make ``idx`` (checked) the stimulus selection; return a copy."""
        self.S_sel = idx
        return list(idx)

    def select_pop_by_nrn_attr(self, attribute_name: str, value) -> list[int]:
        """Select neurons whose ``nrn_meta[attribute_name] == value`` (records without the key skipped)."""
        return self._set_population(_matching_attr(self.nrn_meta, attribute_name, value, "neuron", "nrn_meta"))

    def select_pop_by_nrn_predicate(self, predicate: Callable[[dict], Any]) -> list[int]:
        """Select neurons whose metadata satisfy ``predicate`` (KeyError/TypeError → skipped)."""
        return self._set_population(_matching_pred(self.nrn_meta, predicate, "neuron"))

    def _pop_with_data_on(self, stims: list[int], what: str) -> list[int]:
        cols = self._masks_np[np.asarray(stims, dtype=np.int64)].any(axis=0)
        idx = np.flatnonzero(cols).tolist()
        if not idx:
            raise SelectionError(f"no neuron has a recorded response to the stimuli matching {what}")
        return self._set_population(idx)

    def select_pop_by_stim_attr(self, attribute_name: str, value) -> list[int]:
        """Select neurons with ≥1 recorded response to a stimulus with ``stim_meta[attr] == value``."""
        stims = _matching_attr(self.stim_meta, attribute_name, value, "stimulus", "stim_meta")
        return self._pop_with_data_on(stims, f"stim_meta[{attribute_name!r}] == {value!r}")

    def select_pop_by_stim_predicate(self, predicate: Callable[[dict], Any]) -> list[int]:
        """Select neurons with ≥1 recorded response to a stimulus satisfying ``predicate``."""
        stims = _matching_pred(self.stim_meta, predicate, "stimulus")
        return self._pop_with_data_on(stims, "the predicate")

    def select_stim(self, stim_index: int) -> list[int]:
        """Restrict iteration to one stimulus (bidirectional rule applies); returns ``[stim_index]``."""
        self.S_sel = [_as_index(stim_index, self.get_S(), "stimulus")]
        return list(self.S_sel)

    def select_stims(self, stim_indices) -> list[int]:
        """Restrict iteration to the listed stimuli; an empty list is refused."""
        idx = _as_indices(stim_indices, self.get_S(), "stimulus")
        if not idx:
            raise SelectionError("select_stims([]) would select no stimulus; call reset_stim_selection() "
                                 "to select all stimuli")
        return self._set_stim_selection(idx)

    def select_stims_by_attr(self, attribute_name: str, value) -> list[int]:
        """Restrict iteration to stimuli with ``stim_meta[attribute_name] == value``."""
        return self._set_stim_selection(_matching_attr(self.stim_meta, attribute_name, value, "stimulus", "stim_meta"))

    def select_stims_by_predicate(self, predicate: Callable[[dict], Any]) -> list[int]:
        """Restrict iteration to stimuli whose metadata satisfy ``predicate``."""
        return self._set_stim_selection(_matching_pred(self.stim_meta, predicate, "stimulus"))

    def reset_pop_selection(self) -> None:
        """Select all neurons again (``I = []``)."""
        self.I = []

    def reset_stim_selection(self) -> None:
        """Select all stimuli again (``S_sel = None``)."""
        self.S_sel = None

    # ------------------------------------------------------- iteration
    def __len__(self) -> int:
        """Number of stimuli with ≥1 visible neuron that has data for it."""
        return len(self._view()[1])

    def __getitem__(self, i) -> Item:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            if isinstance(i, torch.Tensor) and i.numel() == 1 and not i.is_floating_point():
                i = int(i)
            else:
                raise TypeError(f"dataset index must be an integer, got {type(i).__name__}")
        vis, stims = self._view()
        n = len(stims)
        j = int(i) + n if int(i) < 0 else int(i)
        if not 0 <= j < n:
            raise IndexError(f"index {int(i)} out of range: the current selection exposes {n} stimuli")
        s = stims[j]
        if self.lazy:
            responses = ResponseRow(*self._row_block(s, vis))
        else:
            row = self.responses[s]
            if isinstance(row, ResponseRow) and row.block() is not None:
                responses = ResponseRow(*_gather_rows(row.data, row.reps, vis))
            else:
                responses = [row[k] for k in vis]
        return Item(
            stims=self._stim(s),
            responses=responses,
            neuron_indices=list(vis),
            stim_meta=self.stim_meta[s],
            stim_index=s,
        )

    def __iter__(self) -> Iterator[Item]:
        for j in range(len(self)):
            yield self[j]

    def __repr__(self) -> str:
        lazy = ", lazy=True" if self.lazy else ""
        return (f"{type(self).__name__}(N_neurons={self.N_neurons}, selected={len(self.I)}, "
                f"N_stims={self.get_S()}, dt_ms={self.dt:g}{lazy})")

    # ----------------------------------------------------------- tables
    def _table(self, ids, metas, kind):
        from .optional import require

        pd = require("pandas", extra="tables", purpose=f"{kind}_table()")
        df = pd.DataFrame(list(metas))
        df.insert(0, "id", list(ids))
        return df

    def nrn_table(self):
        """Neuron metadata as a pandas DataFrame (one row per neuron, ``id`` first)."""
        df = self._table(self.neuron_ids, self.nrn_meta, "nrn")
        df["n_stims"] = self._masks_np.sum(axis=0)
        return df

    def stim_table(self):
        """Stimulus metadata as a pandas DataFrame (``id``, metadata, ``n_bins``, ``n_neurons``)."""
        df = self._table(self.stim_ids, self.stim_meta, "stim")
        df["n_bins"] = self.n_bins
        df["n_neurons"] = self._masks_np.sum(axis=1)
        return df

    # --------------------------------------------------- other modules
    def __add__(self, other):
        from .concatenation import concat_neural_datasets

        return concat_neural_datasets([self, other])

    def __radd__(self, other):
        if isinstance(other, int) and other == 0:  # sum([a, b, ...])
            return self
        return NotImplemented

    def compute_neuron_quality(self, max_ccmax_iters: int = 126, seed: int = 0) -> dict:
        """Per-neuron SNR and CCmax written into ``nrn_meta`` (see :func:`strfh5.quality.compute_neuron_quality`)."""
        from .quality import compute_neuron_quality

        return compute_neuron_quality(self, max_ccmax_iters=max_ccmax_iters, seed=seed)

    # ------------------------------------------------------- lifecycle
    def close(self) -> None:
        """Close the file handle (a lazy dataset reopens it on the next read)."""
        self.contents.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------- transforms
    def _apply_resp_op(self, op: tuple, data: torch.Tensor, row_neurons: np.ndarray) -> torch.Tensor:
        if op[0] == "smooth":
            return smooth_rows(data, op[1])
        if op[0] == "affine":
            return affine_rows(data, row_neurons, op[1], op[2])
        raise TransformError(f"unknown response transform {op[0]!r}")  # pragma: no cover

    def _apply_stim_op(self, op: tuple, x: torch.Tensor) -> torch.Tensor:
        if op[0] == "standardize":
            return standardize_stim(x, op[1], op[2])
        if op[0] == "call":
            from . import video

            return getattr(video, op[1])(x, **op[2])
        raise TransformError(f"unknown stimulus transform {op[0]!r}")  # pragma: no cover

    def _add_resp_op(self, op: tuple) -> None:
        if self.lazy:
            self._resp_ops.append(op)
            return
        # out of place: row tensors may be shared (e.g. with the inputs of a concatenation)
        N = self.N_neurons
        for s, (data, reps) in enumerate(self._blocks):
            new = self._apply_resp_op(op, data, np.repeat(np.arange(N), reps)) if data.numel() else data
            self._blocks[s] = (new, reps)
            old = self.responses[s]
            over = getattr(old, "_over", None) if isinstance(old, ResponseRow) else None
            row = ResponseRow(new, reps)
            if isinstance(old, ResponseRow):
                for n, t in (over or {}).items():
                    row._over[n] = t if torch.isnan(t).all() else self._apply_resp_op(op, t, np.full(t.shape[0], n))
                self.responses[s] = row
            else:  # a user-built list: transform each recorded element
                self.responses[s] = [t if torch.isnan(t).all() else self._apply_resp_op(op, t, np.full(t.shape[0], n))
                                     for n, t in enumerate(old)]

    def _add_stim_op(self, op: tuple) -> None:
        if self.lazy:
            self._stim_ops.append(op)
            return
        for s in range(len(self.stims)):
            self.stims[s] = self._apply_stim_op(op, self.stims[s])

    def _stim_index_list(self, stim_indices, what: str) -> list[int]:
        if stim_indices is None:
            return list(range(self.get_S()))
        idx = _as_indices(stim_indices, self.get_S(), "stimulus")
        if not idx:
            raise TransformError(f"{what}: stim_indices is empty; pass None to use all stimuli")
        return idx

    def smooth_responses(self, window_ms: float = 21.0, *, force: bool = False) -> dict:
        """Smooth every recorded response along time with a Hann window (NaN-aware).

        Parameters
        ----------
        window_ms : float, default 21
            Full width of the window, rounded to the nearest odd number of bins of ``dt``.
        force : bool
            Smooth again even though the dataset was already smoothed.

        Returns
        -------
        dict
            ``{'name', 'window_ms', 'window_bins'}`` (also appended to ``transforms``).

        Notes
        -----
        Each output sample is the weighted mean of the valid samples under the
        window (edges and NaN samples renormalised, NaN samples kept NaN); the
        ``(1, 1)`` NaN sentinels of missing pairs are untouched.
        """
        check_not_applied(self.transforms, "smooth_responses", force)
        nb = smooth_window_bins(window_ms, float(self.dt))
        self._add_resp_op(("smooth", hann_window(nb)))
        rec = {"name": "smooth_responses", "window_ms": float(window_ms), "window_bins": nb}
        self.transforms.append(rec)
        return dict(rec)

    def normalize_responses(self, method: str = "max", stim_indices=None, eps: float = 1e-8, *,
                            force: bool = False) -> dict:
        """Normalise responses per neuron with statistics from ``stim_indices`` (all when None).

        ``'max'`` divides by the neuron's maximum; ``'zscore'`` subtracts its
        mean and divides by its (population) standard deviation, NaN-aware over
        all ``(s, r, t)`` samples of the chosen stimuli.  Divisors are floored
        at ``eps``; neurons without data on the chosen stimuli are left
        unchanged (offset 0, scale 1).  A second call raises TransformError
        unless ``force=True``.

        Returns
        -------
        dict
            ``{'method', 'scale': Tensor[N], 'offset': Tensor[N], 'stim_indices'}``,
            also stored in ``self.response_normalization``.
        """
        if method not in ("max", "zscore"):
            raise TransformError(f"normalize_responses: method must be 'max' or 'zscore', got {method!r}")
        check_not_applied(self.transforms, "normalize_responses", force)
        idx = self._stim_index_list(stim_indices, "normalize_responses")
        stats = ResponseStats(self.N_neurons)
        allN = np.arange(self.N_neurons)
        for s in idx:
            data, reps = self._row_block(s, None)
            stats.add(data, np.repeat(allN, reps))
        offset, scale = stats.finish(method, float(eps))
        self._add_resp_op(("affine", offset, scale))
        out = {"method": method, "scale": scale.clone(), "offset": offset.clone(),
               "stim_indices": None if stim_indices is None else list(idx)}
        self.response_normalization = out
        self.transforms.append({"name": "normalize_responses", "method": method,
                                "stim_indices": out["stim_indices"], "eps": float(eps)})
        return dict(out)

    def standardize_stims(self, stim_indices=None, per_band: bool = True, eps: float = 1e-8, *,
                          force: bool = False) -> dict:
        """Standardise stimuli ``(x - mean) / std`` with statistics from ``stim_indices``.

        ``per_band=True``: per frequency band for spectrograms (``(C, F, 1)``
        statistics), per channel for waveforms and videos; ``False``: one
        scalar mean and std.  Population std, floored at ``eps``.

        Returns
        -------
        dict
            ``{'mean', 'std', 'per_band', 'stim_indices'}``, also stored in
            ``self.stim_normalization``.
        """
        check_not_applied(self.transforms, "standardize_stims", force)
        idx = self._stim_index_list(stim_indices, "standardize_stims")
        stats = StimStats(self.stim_kind, bool(per_band))
        for s in idx:
            stats.add(self._stim(s))
        mean, std = stats.finish(float(eps))
        self._add_stim_op(("standardize", mean, std))
        out = {"mean": mean.clone(), "std": std.clone(), "per_band": bool(per_band),
               "stim_indices": None if stim_indices is None else list(idx)}
        self.stim_normalization = out
        self.transforms.append({"name": "standardize_stims", "per_band": bool(per_band),
                                "stim_indices": out["stim_indices"], "eps": float(eps)})
        return dict(out)


class AudioNeuralDataset(NeuralDataset):
    """An audio dataset: spectrogram stimuli ``(1, F, T)`` or waveform stimuli ``(1, T_audio)``.

    ``F`` is the number of frequency bands (None for waveform stimuli).
    """

    def __init__(self, contents: Contents, **kw):
        super().__init__(contents, **kw)
        dims = contents.info.stim_dims
        self.F = int(dims[1]) if contents.info.stim_kind == L.STIM_SPECTROGRAM and len(dims) > 1 else None


class VideoNeuralDataset(NeuralDataset):
    """A video dataset: stimuli ``(C, H, W, T)``; see :mod:`strfh5.video` for its helpers."""

    def __init__(self, contents: Contents, **kw):
        super().__init__(contents, **kw)
        dims = contents.info.stim_dims
        self.C, self.H, self.W = (int(d) for d in dims[:3])

    def _record(self, name: str, fn: str, **params) -> dict:
        self._add_stim_op(("call", fn, params))
        rec = {"name": name, **params}
        self.transforms.append(rec)
        return dict(rec)

    def from_rgb_to_grayscale(self, *, force: bool = False) -> dict:
        """Convert RGB videos to one luminance channel (ITU-R BT.601 weights)."""
        check_not_applied(self.transforms, "from_rgb_to_grayscale", force)
        if self.C == 1:
            raise TransformError("from_rgb_to_grayscale: the videos already have one channel")
        if self.C != 3:
            raise TransformError(f"from_rgb_to_grayscale: expected 3 (RGB) channels, the videos have {self.C}")
        rec = self._record("from_rgb_to_grayscale", "to_grayscale")
        self.C = 1
        return rec

    def change_spatial_resolution(self, size, mode: str = "area", *, force: bool = False) -> dict:
        """Resample every frame to ``size = (H, W)`` (``mode`` as in ``torch.nn.functional.interpolate``)."""
        from .video import _check_size

        check_not_applied(self.transforms, "change_spatial_resolution", force)
        H, W = _check_size(size)
        rec = self._record("change_spatial_resolution", "resize_frames", size=(H, W), mode=mode)
        self.H, self.W = H, W
        return rec

    def normalize_videos(self, stim_indices=None, eps: float = 1e-8, *, force: bool = False) -> dict:
        """Standardise videos per channel (``standardize_stims(per_band=True)``)."""
        return self.standardize_stims(stim_indices=stim_indices, per_band=True, eps=eps, force=force)

    def change_temporal_resolution(self, dt_ms) -> "VideoNeuralDataset":
        """Read the dataset again at bin width ``dt_ms`` (frames pooled or repeated, responses rebinned).

        Returns a new dataset from the same contents (selections reset); refused
        when transforms other than binning were applied (reload, rebin, then
        transform).
        """
        applied = [t["name"] for t in self.transforms if t["name"] != "bin"]
        if applied:
            raise TransformError(f"change_temporal_resolution: transforms already applied ({', '.join(applied)}); "
                                 "rebin first, then transform")
        return dataset_from_contents(self.contents, lazy=self.lazy, dt_ms=dt_ms, window_ms=self.window_ms)

    def split_into_clips(self, clip_bins: int, *, drop_last: bool = True) -> "VideoNeuralDataset":
        """Split every stimulus and its responses into clips of ``clip_bins`` bins (see :func:`strfh5.video.split_into_clips`)."""
        from .video import split_into_clips

        return split_into_clips(self, clip_bins, drop_last=drop_last)


def dataset_from_contents(contents: Contents, lazy: bool = False, dt_ms=None, window_ms=None) -> NeuralDataset:
    """The dataset class of ``contents``'s modality (audio or video) over ``contents``."""
    cls = VideoNeuralDataset if contents.info.modality == L.MODALITY_VIDEO else AudioNeuralDataset
    return cls(contents, lazy=lazy, dt_ms=dt_ms, window_ms=window_ms)
