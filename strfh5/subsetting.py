"""A subset of a file's stimuli and neurons, chosen by metadata: :class:`SubsetContents`.

deepSTRF's dataset constructors take filters (``areas=("Field_L", "MLd")``,
``stimuli=("conspecific", "flatrip")``, NAT4's ``subset='est'``) and build a
dataset holding only the matching neurons and stimuli.  :func:`filter_contents`
does the same for :func:`strfh5.load`: it picks the rows and columns from the
metadata tables and returns a :class:`SubsetContents` that reads through to
the file, so a lazy load stays lazy and reads only the kept neurons.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .contents import Contents
from .errors import SelectionError

__all__ = ["SubsetContents", "filter_contents", "FILTERS"]

#: load() filter -> (which table, the metadata key it matches)
FILTERS = {
    "areas": ("neuron", "area"),
    "stimuli": ("stimulus", "type"),
    "subset": ("stimulus", "subset"),
}


class SubsetContents(Contents):
    """The stimuli ``stim_rows`` and neurons ``neuron_cols`` of ``parent``, in that order.

    Everything is read through ``parent``; tables are sliced once.
    """

    def __init__(self, parent: Contents, stim_rows: Sequence[int], neuron_cols: Sequence[int]):
        self.parent = parent
        self.rows = np.asarray(stim_rows, dtype=np.int64)
        self.cols = np.asarray(neuron_cols, dtype=np.int64)
        self.info = parent.info
        self.path = parent.path
        self.stim_ids = [parent.stim_ids[s] for s in self.rows]
        self.neuron_ids = [parent.neuron_ids[n] for n in self.cols]
        self.stim_meta = [parent.stim_meta[s] for s in self.rows]
        self.nrn_meta = [parent.nrn_meta[n] for n in self.cols]
        self.n_bins = np.asarray(parent.n_bins)[self.rows]
        self.repeats = np.asarray(parent.repeats)[np.ix_(self.rows, self.cols)]

    def _cols(self, neurons) -> list[int]:
        return self.cols.tolist() if neurons is None else self.cols[np.asarray(list(neurons), dtype=np.int64)].tolist()

    def stim(self, s: int) -> np.ndarray:
        return self.parent.stim(int(self.rows[s]))

    def waveform(self, s: int):
        return self.parent.waveform(int(self.rows[s]))

    def stim_sample_rate(self, s: int):
        return self.parent.stim_sample_rate(int(self.rows[s]))

    def stored_dtype(self) -> np.dtype:
        return self.parent.stored_dtype()

    def raw_row(self, s: int, neurons=None, dtype=None):
        return self.parent.raw_row(int(self.rows[s]), self._cols(neurons), dtype=dtype)

    def row(self, s: int, neurons=None) -> list:
        return self.parent.row(int(self.rows[s]), self._cols(neurons))

    def close(self) -> None:
        self.parent.close()


def _wanted(value, name: str) -> set:
    if isinstance(value, str) or not hasattr(value, "__iter__"):
        return {value}
    out = set(value)
    if not out:
        raise SelectionError(f"load(): {name}= is empty; pass None (the default) to keep everything")
    return out


def _matching(records: list[dict], key: str, wanted: set, name: str, where: str) -> np.ndarray:
    hit = np.array([r.get(key) in wanted for r in records], dtype=bool)
    if not hit.any():
        present = sorted({repr(r[key]) for r in records if key in r})
        raise SelectionError(f"{where}: load({name}={sorted(wanted, key=repr)!r}) matches no record's {key!r}; "
                             f"values present: {', '.join(present) or 'none (no record has the key)'}")
    return hit


def filter_contents(contents: Contents, **filters) -> Contents:
    """``contents`` restricted by the deepSTRF constructor filters (``contents`` itself when none is given).

    Parameters
    ----------
    contents : Contents
    areas : str or sequence, optional
        Keep neurons whose ``nrn_meta['area']`` is one of these.
    stimuli : str or sequence, optional
        Keep stimuli whose ``stim_meta['type']`` is one of these.
    subset : str, optional
        Keep stimuli whose ``stim_meta['subset']`` is this (NAT4's ``'est'`` /
        ``'val'``; ``'all'`` keeps every stimulus).

    Stimuli no kept neuron heard and neurons that heard no kept stimulus are
    dropped too, as deepSTRF's constructors build only what was recorded.

    Raises
    ------
    SelectionError
        A filter none of whose values a record has (the message lists the
        values present), an empty filter, or filters that together leave no
        recorded pair.  A value absent from the file while others match is
        accepted, as deepSTRF's constructors accept it.
    """
    where = contents.path or "<memory>"
    keep_s = np.ones(contents.S, dtype=bool)
    keep_n = np.ones(contents.N, dtype=bool)
    active = {k: v for k, v in filters.items() if v is not None and not (k == "subset" and v == "all")}
    for name, value in active.items():
        if name not in FILTERS:
            raise SelectionError(f"load(): unknown filter {name}=; the filters are {', '.join(FILTERS)}")
        table, key = FILTERS[name]
        records = contents.nrn_meta if table == "neuron" else contents.stim_meta
        hit = _matching(records, key, _wanted(value, name), name, where)
        if table == "neuron":
            keep_n &= hit
        else:
            keep_s &= hit
    if not active:
        return contents
    masks = np.asarray(contents.repeats) > 0
    heard = masks & keep_s[:, None] & keep_n[None, :]
    rows, cols = np.flatnonzero(heard.any(axis=1)), np.flatnonzero(heard.any(axis=0))
    if rows.size == 0 or cols.size == 0:
        raise SelectionError(f"{where}: load({', '.join(f'{k}={v!r}' for k, v in active.items())}) leaves no "
                             "recorded (stimulus, neuron) pair")
    return SubsetContents(contents, rows, cols)
