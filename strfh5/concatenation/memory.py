"""Concatenating datasets in memory: :func:`concat_neural_datasets` and ``a + b``.

Datasets are used through their public interface only (``contents``,
``row_block``, ``stims``, ``transforms``, ``from_blocks``), so this module sits
below :mod:`strfh5.dataset`, whose ``+`` calls it.

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
import inspect
from dataclasses import replace

import numpy as np
import torch

from .. import layout as L
from ..contents import Contents
from ..errors import IncompatibleDatasetsError, TransformError
from .contents import ConcatContents
from .rules import check_compatible

__all__ = ["concat_neural_datasets"]


def _is_dataset(d) -> bool:
    return all(hasattr(d, name) for name in ("contents", "row_block", "from_blocks", "transforms"))


def _result_class(datasets, contents: Contents):
    """The most specific class common to ``datasets`` whose constructor takes raw contents.

    A subclass whose constructor takes other arguments (e.g. a user's
    ``MyAA1(path)``) gives the first base class that takes contents.
    """
    kw = dict(lazy=True, dt_ms=None, window_ms=None)
    for cls in type(datasets[0]).__mro__:
        if not hasattr(cls, "from_blocks") or not all(isinstance(d, cls) for d in datasets):
            continue
        try:
            inspect.signature(cls).bind(contents, **kw)
        except (TypeError, ValueError):
            continue
        return cls
    raise IncompatibleDatasetsError(  # pragma: no cover - NeuralDataset itself takes contents
        f"cannot concatenate: no dataset class common to the inputs takes raw contents ({type(datasets[0]).__name__})")


def _non_bin(transforms) -> list[dict]:
    """Transforms other than the read settings (bin width, spectrograms recomputed at load)."""
    return [t for t in transforms if t.get("name") not in ("bin", "rebin", "spectrogram")]


class LoadedContents(Contents):
    """An input's contents as it was loaded: its bin width, its (recomputed) stimuli, F.

    Lets inputs stored at different settings but loaded at equal ones be
    concatenated in memory (the loaded state is what deepSTRF compares).
    Events rows are the stored spike times (valid at any bin width); binned
    rows are the loaded (pooled) rows; stimuli come from the dataset
    (recomputed per access when it is lazy).  Used only when the inputs'
    stored settings differ and their response windows are the defaults.
    """

    def __init__(self, dataset):
        self.dataset = dataset
        c = dataset.contents
        dims = tuple(c.info.stim_dims)
        if getattr(dataset, "F", None) is not None:
            dims = (dims[0], int(dataset.F)) + dims[2:]
        record = next((t for t in dataset.transforms if t.get("name") == "spectrogram"), None)
        transform = record["transform"] if record else (c.info.transform if float(dataset.dt) == c.info.dt_ms
                                                        else None)
        self.info = replace(c.info, dt_ms=float(dataset.dt), stim_dims=dims, transform=copy.deepcopy(transform))
        self.stim_ids, self.neuron_ids = c.stim_ids, c.neuron_ids
        self.stim_meta, self.nrn_meta = c.stim_meta, c.nrn_meta
        self.n_bins = np.asarray(dataset.n_bins, dtype=np.int64)
        self.repeats = np.asarray(c.repeats)
        self.path = c.path

    def stim(self, s: int) -> np.ndarray:
        return self.dataset.stims[s].numpy()

    def waveform(self, s: int):
        return self.dataset.contents.waveform(s)

    def stim_sample_rate(self, s: int):
        return self.dataset.contents.stim_sample_rate(s)

    def stored_dtype(self) -> np.dtype:
        if self.info.encoding == L.ENCODING_EVENTS:
            return self.dataset.contents.stored_dtype()
        return L.CONTINUOUS_DTYPE if self.info.response_kind == L.RESPONSE_CONTINUOUS else np.dtype("<i8")

    def row(self, s: int, neurons=None) -> list:
        c = self.dataset.contents
        if self.info.encoding == L.ENCODING_EVENTS:
            return c.row(s, neurons)
        data, reps = self.dataset.row_block(s, None if neurons is None else list(neurons))
        data = data.numpy()
        if self.info.response_kind != L.RESPONSE_CONTINUOUS:
            data = np.rint(data).astype(np.int64)
        out, at = [], 0
        for r in reps:
            out.append(data[at: at + int(r)] if r else None)
            at += int(r)
        return out

    def close(self) -> None:
        self.dataset.contents.close()


def _parts(datasets, names) -> list[Contents]:
    """The contents to concatenate: the stored ones, or each input's loaded state.

    The loaded state (:class:`LoadedContents`) is used when an input's
    spectrograms were recomputed at load, or when the stored settings differ
    while the loaded ones agree (checked by the caller).
    """
    stored = [d.contents for d in datasets]
    recomputed = [i for i, d in enumerate(datasets) if getattr(getattr(d, "grid", None), "spectrogram", ())]
    if not recomputed:
        try:
            check_compatible([c.info for c in stored], names)
            return stored
        except IncompatibleDatasetsError:
            if any(d.window_ms is not None for d in datasets) or len({c.info.encoding for c in stored}) > 1:
                raise
    windowed = [i for i, d in enumerate(datasets) if d.window_ms is not None]
    if windowed:
        raise IncompatibleDatasetsError(
            f"cannot concatenate: {names[windowed[0]]} was loaded with a response window and the inputs' "
            "stimuli were recomputed or stored at other settings; load them without window_ms, or rewrite one "
            "file at the other's settings (strfh5 rewrite)")
    return [LoadedContents(d) for d in datasets]


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
        lists the inputs' transforms (not applied twice).  No selection.

    Raises
    ------
    IncompatibleDatasetsError
        The inputs differ in loaded bin width ``dt``, response window,
        encoding, stimulus kind, F or (H, W), or response kind (the message
        names both values and the input positions); inputs stored at other
        ``dt_ms`` or F but loaded alike are pooled as loaded.
    DuplicateIdError
        A neuron id in two inputs (without ``allow_duplicate_neurons``).
    TransformError
        A lazy input has reader-side transforms applied (concatenate first,
        then transform).

    Examples
    --------
    >>> a, b = strfh5.load("demo.strf.h5"), strfh5.load("demo2.strf.h5")
    >>> combined = strfh5.concat_neural_datasets([a, b])
    >>> combined.get_S(), combined.get_N()
    (24, 32)
    >>> (a + b).get_N()
    32
    """
    datasets = list(datasets)
    if not datasets:
        raise IncompatibleDatasetsError("concat_neural_datasets needs at least one dataset")
    for i, d in enumerate(datasets):
        if not _is_dataset(d):
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
    contents = ConcatContents(_parts(datasets, names), merge_stimuli=merge_stimuli,
                              allow_duplicate_neurons=allow_duplicate_neurons, names=names)
    cls = _result_class(datasets, contents)
    dt_ms = None if float(a.dt) == float(contents.info.dt_ms) else a.dt
    all_lazy = all(d.lazy for d in datasets)
    transformed = [i for i, d in enumerate(datasets) if _non_bin(d.transforms)]
    if all_lazy and not transformed:
        return cls(contents, lazy=True, dt_ms=dt_ms, window_ms=a.window_ms)
    lazy_tf = [i for i in transformed if datasets[i].lazy]
    if lazy_tf:
        raise TransformError(
            f"cannot concatenate: lazy {names[lazy_tf[0]]} has reader-side transforms applied "
            f"({', '.join(t['name'] for t in _non_bin(datasets[lazy_tf[0]].transforms))}); concatenate the lazy "
            "datasets first and transform the result, or load the input eagerly (lazy=False)")
    # eager result: the inputs' binned (and transformed) rows and stimuli, no re-reading of eager inputs
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
