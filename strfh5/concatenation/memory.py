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

What must agree is what is loaded (seed 002): ``dt``, ``F`` (or ``(C, H,
W)``), the stimulus kind and the response kind, whatever the files store.
Inputs stored alike are concatenated as stored; otherwise their loaded states
are (:mod:`~strfh5.concatenation.loaded`: events and binned inputs pool as
counts per bin, and :func:`strfh5.save` writes a ``binned`` file at the loaded
``dt``).

Where strfh5 differs from deepSTRF
----------------------------------
* A mismatch raises :class:`~strfh5.errors.IncompatibleDatasetsError` naming
  both values and the input positions; it is also an ``AssertionError``, as
  deepSTRF's refusal is.
* The same neuron id in two inputs raises :class:`~strfh5.errors.DuplicateIdError`
  unless ``allow_duplicate_neurons=True`` (deepSTRF accepts it silently).
* ``merge_stimuli=True`` merges a stimulus id present in several inputs into
  one row after checking the stimuli are identical, so neurons of both inputs
  share it.
"""

from __future__ import annotations

import copy
import inspect

import numpy as np
import torch

from ..contents import Contents
from ..errors import IncompatibleDatasetsError
from .contents import ConcatContents
from .loaded import LoadedContents, reads_as_stored
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
        when every input is lazy (nothing is read), eager otherwise.  Inputs
        keep their transformed responses and stimuli; ``transforms`` lists the
        inputs' transforms, so they are not applied twice.
        Selections start empty (all neurons, all stimuli).

    Raises
    ------
    IncompatibleDatasetsError
        The inputs differ in loaded bin width ``dt``, response window,
        stimulus kind, F or (C, H, W), or response kind — the message names
        both values and the input positions.  Stored ``dt_ms`` and encoding
        may differ: the loaded states are then concatenated (see
        :mod:`strfh5.concatenation.loaded`).  Also an ``AssertionError``.
    DuplicateIdError
        A neuron id in two inputs (without ``allow_duplicate_neurons``; ``a +
        b`` cannot take it, call this function).

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
                    f"cannot concatenate {pair}: {name} differs ({va!r} vs {vb!r}); load one with the other's "
                    "parameters (spectrogram bands at load, change_spatial_resolution for videos) — strfh5 does "
                    "not resample silently")
        if a.window_ms != b.window_ms:
            raise IncompatibleDatasetsError(
                f"cannot concatenate {pair}: response windows differ ({a.window_ms!r} vs {b.window_ms!r})")
    stored = _stored_route(datasets, names)
    parts = [d.contents for d in datasets] if stored else [LoadedContents(d) for d in datasets]
    contents = ConcatContents(parts, merge_stimuli=merge_stimuli, allow_duplicate_neurons=allow_duplicate_neurons,
                              names=names)
    cls = _result_class(datasets, contents)
    window = a.window_ms if stored else None
    records = _input_transforms(datasets)
    if all(d.lazy for d in datasets) and (not stored or not records):
        out = cls(contents, lazy=True, dt_ms=a.dt, window_ms=window)
        out.transforms.extend(records)  # loaded route: the inputs' transforms are in the rows they hand out
        return out
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
    return cls.from_blocks(contents, blocks, stims, dt_ms=a.dt, window_ms=window, transforms=records)


def _stored_route(datasets, names) -> bool:
    """True when the inputs' raw contents can be concatenated as stored (see :mod:`.loaded`).

    They must share encoding, stored ``dt_ms``, stimulus kind and dimensions
    and response kind, be read as stored (:func:`reads_as_stored`), and no
    lazy input may carry transforms (a lazy result re-reads raw rows).
    Otherwise the concatenation is of the loaded states.
    """
    try:
        check_compatible([d.contents.info for d in datasets], names)
    except IncompatibleDatasetsError:
        return False
    if not all(reads_as_stored(d) for d in datasets):
        return False
    return not any(d.lazy and _non_bin(d.transforms) for d in datasets)


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
