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
from .arguments import number_argument
from .binning import ReadGrid, check_read_size, plan, read_records
from .concatenation.memory import concat_neural_datasets
from .contents import Contents
from .contract import ContractMethods, describe_dataset
from .errors import BinningError, InvalidDataError, SelectionError, StrfH5Error, TransformError
from .optional import require
from .quality import compute_neuron_quality
from .rows import EagerRows, Item, LazyRows, ResponseRow, check_waveforms
from .selection import as_index, as_indices, matching_attr, matching_pred, neurons_with_data, visible
from .transforms import ResponseStats, StimStats, check_not_applied, hann_window, smooth_window_bins

__all__ = ["NeuralDataset", "AudioNeuralDataset"]


class NeuralDataset(ContractMethods, torch.utils.data.Dataset):
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
    spectrogram : dict, optional
        ``{load argument: value}`` of :func:`strfh5.load` (``n_bands``, ...):
        spectrograms recomputed from the kept waveforms.

    Attributes
    ----------
    stims : list of torch.Tensor (or a lazy sequence)
        ``(1, F, T)`` spectrograms, ``(1, T_audio)`` waveforms or ``(1, H, W, T)`` videos.
    responses : list of lists (or a lazy sequence)
        ``responses[s][n]``: ``(R, T)`` float32 tensor, or a ``(1, 1)`` NaN tensor when missing.
    stim_meta, nrn_meta : list of dict
    stim_ids, neuron_ids : list of str
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

    def __init__(self, contents: Contents, *, lazy: bool = False, dt_ms=None, window_ms=None, spectrogram=None):
        super().__init__()
        if not isinstance(contents, Contents):
            raise StrfH5Error(f"NeuralDataset needs a strfh5 Contents object, got {type(contents).__name__}")
        self.contents = contents
        if dt_ms is not None:
            dt_ms = number_argument(dt_ms, "dt_ms", BinningError, where=contents.path or "<memory>")
        self.grid: ReadGrid = plan(contents.info, dt_ms, window_ms, where=contents.path or "<memory>",
                                   spectrogram=spectrogram)
        if self.grid.needs_waveform:
            check_waveforms(contents, self.grid)
        self.info = info = contents.info
        self.encoding = info.encoding
        self.stim_kind = info.stim_kind
        self.response_kind = info.response_kind
        self.modality = info.modality
        self.file_dt = info.dt_ms
        self.dt = dt_ms if dt_ms is not None else info.dt_ms
        self.window_ms = None if window_ms is None else tuple(self.grid.window)
        self.stim_meta = contents.stim_meta
        self.nrn_meta = contents.nrn_meta
        self.neuron_ids = contents.neuron_ids
        self.N_neurons = contents.N
        self.n_bins = check_read_size(self.grid, contents.n_bins, lambda: contents.stored_repeats, lambda: contents.stim_ids,
                                      info.stim_dims, max_repeat=contents.max_repeats(), n_neurons=contents.N)
        self._pair_masks: np.ndarray | None = None
        self._nrn_masks: torch.Tensor | None = None
        self.I: list[int] = []
        self.S_sel: list[int] | None = None
        self.transforms: list[dict] = read_records(self.grid, info)
        self.response_normalization = self.stim_normalization = None  # dict once normalised
        self._view_cache = None
        self._rows = LazyRows(contents, self.grid, self.N_neurons) if lazy else EagerRows.load(contents, self.grid)

    # ------------------------------------------------------------ rows
    def _get_masks(self) -> np.ndarray:  # (S, N) recorded pairs, read on first use: a lazy open reads no /repeats
        if self._pair_masks is None:
            self._pair_masks = np.asarray(self.contents.masks)
        return self._pair_masks

    _masks_np = property(_get_masks, lambda self, value: setattr(self, "_pair_masks", value))
    # stimulus ids: the contents' (decoded on first use in a lazy dataset), unless assigned
    stim_ids = property(lambda self: self.__dict__["_stim_ids"] if "_stim_ids" in self.__dict__
                        else self.contents.stim_ids,
                        lambda self, value: setattr(self, "_stim_ids", value))

    @property
    def lazy(self) -> bool:
        """True when rows are read on access rather than held in memory."""
        return self._rows.lazy

    @property
    def stims(self):
        """``stims[s]``: the stimuli on the dataset's time grid (a lazy sequence when lazy)."""
        return self._rows.stims

    @property
    def responses(self):
        """``responses[s][n]``: ``(R, T)`` float32 tensors, ``(1, 1)`` NaN where missing."""
        return self._rows.responses

    def _hold_rows(self, blocks: list, stims: list) -> None:
        """Keep ``blocks`` / ``stims`` in memory: the dataset becomes eager."""
        self._rows = EagerRows(blocks, stims)
        self._view_cache = None

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
        ds = cls(contents, lazy=True, dt_ms=dt_ms, window_ms=window_ms)  # reads nothing
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
        s = as_index(s, self.get_S(), "stimulus")
        if neurons is not None:
            neurons = as_indices(neurons, self.N_neurons, "neuron")
        return self._rows.block(s, neurons)

    def row_tensors(self, s: int, neurons: Sequence[int] | None = None) -> list[torch.Tensor | None]:
        """The ``(R, T)`` float32 tensors of row ``s`` (None where missing), binned and transformed."""
        data, reps = self.row_block(s, neurons)
        row = ResponseRow(data, reps)
        return [t if r else None for t, r in zip(row, reps.tolist())]

    def row_responses(self, s: int, neurons: Sequence[int] | None = None) -> list[torch.Tensor]:
        """Like :meth:`row_tensors` with ``(1, 1)`` NaN sentinels for missing pairs."""
        s = as_index(s, self.get_S(), "stimulus")
        if neurons is not None:
            neurons = as_indices(neurons, self.N_neurons, "neuron")
        return self._rows.responses_of(s, neurons)

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
        m = self._rows.masks(self._masks_np.shape)
        if m is not None:
            self._masks_np = m
        self._nrn_masks = None
        self._view_cache = None

    # ------------------------------------------------------- selection
    def _checked_I(self) -> list[int]:
        return as_indices(list(self.I), self.N_neurons, "neuron") if self.I else []

    def _checked_S_sel(self) -> list[int] | None:
        if self.S_sel is None:
            return None
        return as_indices(list(self.S_sel), self.get_S(), "stimulus")

    def _view(self) -> tuple[list[int], list[int]]:
        """(visible neurons, iterable stimuli) under the current selection, cached."""
        key = (tuple(self.I), None if self.S_sel is None else tuple(self.S_sel))
        if self._view_cache is None or self._view_cache[0] != key:
            self._view_cache = (key, *visible(self._masks_np, self._checked_I(), self._checked_S_sel()))
        return self._view_cache[1], self._view_cache[2]

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
        self.I = [as_index(neuron_index, self.N_neurons, "neuron")]
        return list(self.I)

    def select_population(self, neuron_indices) -> list[int]:
        """Restrict the selection to the listed neurons (order kept); returns them.

        An empty list is refused: use :meth:`reset_pop_selection` to select all.
        """
        idx = as_indices(neuron_indices, self.N_neurons, "neuron")
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
        return self._set_population(matching_attr(self.nrn_meta, attribute_name, value, "neuron", "nrn_meta"))

    def select_pop_by_nrn_predicate(self, predicate: Callable[[dict], Any]) -> list[int]:
        """Select neurons whose metadata satisfy ``predicate`` (KeyError/TypeError → skipped)."""
        return self._set_population(matching_pred(self.nrn_meta, predicate, "neuron"))

    def _pop_with_data_on(self, stims: list[int], what: str) -> list[int]:
        return self._set_population(neurons_with_data(self._masks_np, stims, what))

    def select_pop_by_stim_attr(self, attribute_name: str, value) -> list[int]:
        """Select neurons with ≥1 recorded response to a stimulus with ``stim_meta[attr] == value``."""
        stims = matching_attr(self.stim_meta, attribute_name, value, "stimulus", "stim_meta")
        return self._pop_with_data_on(stims, f"stim_meta[{attribute_name!r}] == {value!r}")

    def select_pop_by_stim_predicate(self, predicate: Callable[[dict], Any]) -> list[int]:
        """Select neurons with ≥1 recorded response to a stimulus satisfying ``predicate``."""
        stims = matching_pred(self.stim_meta, predicate, "stimulus")
        return self._pop_with_data_on(stims, "the predicate")

    def select_stim(self, stim_index: int) -> list[int]:
        """Restrict iteration to one stimulus (bidirectional rule applies); returns ``[stim_index]``."""
        self.S_sel = [as_index(stim_index, self.get_S(), "stimulus")]
        return list(self.S_sel)

    def select_stims(self, stim_indices) -> list[int]:
        """Restrict iteration to the listed stimuli; an empty list is refused."""
        idx = as_indices(stim_indices, self.get_S(), "stimulus")
        if not idx:
            raise SelectionError("select_stims([]) would select no stimulus; call reset_stim_selection() "
                                 "to select all stimuli")
        return self._set_stim_selection(idx)

    def select_stims_by_attr(self, attribute_name: str, value) -> list[int]:
        """Restrict iteration to stimuli with ``stim_meta[attribute_name] == value``."""
        return self._set_stim_selection(matching_attr(self.stim_meta, attribute_name, value, "stimulus", "stim_meta"))

    def select_stims_by_predicate(self, predicate: Callable[[dict], Any]) -> list[int]:
        """Restrict iteration to stimuli whose metadata satisfy ``predicate``."""
        return self._set_stim_selection(matching_pred(self.stim_meta, predicate, "stimulus"))

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
        return Item(
            stims=self._rows.stim(s),
            responses=self._rows.item_responses(s, vis),
            mask=torch.from_numpy(self._masks_np[s, np.asarray(vis, dtype=np.int64)].copy()),
            stim_meta=self.stim_meta[s],
            neuron_indices=list(vis),
            stim_index=s,
        )

    def __iter__(self) -> Iterator[Item]:
        for j in range(len(self)):
            yield self[j]

    def __repr__(self) -> str:
        return describe_dataset(self)

    # ----------------------------------------------------------- tables
    def _table(self, ids, metas, kind):
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
        return concat_neural_datasets([self, other])

    def __radd__(self, other):
        if isinstance(other, int) and other == 0:  # sum([a, b, ...])
            return self
        return NotImplemented

    def compute_neuron_quality(self, max_ccmax_iters: int = 126, seed: int = 0, progress: bool | None = None) -> dict:
        """Per-neuron SNR and CCmax written into ``nrn_meta`` (see :func:`strfh5.quality.compute_neuron_quality`)."""
        return compute_neuron_quality(self, max_ccmax_iters=max_ccmax_iters, seed=seed, progress=progress)

    # ------------------------------------------------------- lifecycle
    def close(self) -> None:
        """Close the file handle (a lazy dataset reopens it on the next read)."""
        self._rows.close()
        self.contents.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------- transforms
    def _add_resp_op(self, op: tuple) -> None:
        self._rows.add_resp_op(op, self.N_neurons)

    def _add_stim_op(self, op: tuple) -> None:
        self._rows.add_stim_op(op)

    def _stim_index_list(self, stim_indices, what: str) -> list[int]:
        if stim_indices is None:
            return list(range(self.get_S()))
        idx = as_indices(stim_indices, self.get_S(), "stimulus")
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
            data, reps = self._rows.block(s, None)
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
            stats.add(self._rows.stim(s))
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
        if self.F is not None and self.grid.n_bands is not None:
            self.F = int(self.grid.n_bands)

