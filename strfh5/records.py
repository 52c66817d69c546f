"""Plain records the layers pass to each other: file facts, spike-time elements, raw rows.

Nothing here touches a file: :class:`FileInfo` holds the root attributes of a
file (SPEC §3), :class:`Events` one (stimulus, neuron) element of an
``events`` file, and :class:`RawRow` one stimulus row as stored — the single
shape in which the I/O module hands rows to binning, eager or lazy.
"""

from __future__ import annotations

from collections.abc import MutableSequence, Sequence as _Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Sequence

import numpy as np

from . import layout as L
from .jsonsafe import loads
from .errors import CorruptDataError

__all__ = ["Events", "FileInfo", "RawRow", "JsonRecords", "DeferredTexts"]


class Events(NamedTuple):
    """Spike times of all repeats of one (stimulus, neuron) pair.

    ``times`` holds the spike times (ms from stimulus onset) of every repeat,
    repeat after repeat; ``counts[r]`` is the number of spikes of repeat ``r``.
    """

    times: np.ndarray
    counts: np.ndarray

    @property
    def n_repeats(self) -> int:
        return int(self.counts.size)

    def trials(self) -> list[np.ndarray]:
        """The spike times split per repeat."""
        edges = np.concatenate([[0], np.cumsum(self.counts, dtype=np.int64)])
        return [self.times[edges[r] : edges[r + 1]] for r in range(self.counts.size)]


@dataclass
class FileInfo:
    """File-level facts of a strfh5 file (root attributes, SPEC §3)."""

    encoding: str
    dt_ms: float
    stim_kind: str
    stim_dims: tuple[int, ...]
    response_kind: str
    modality: str = ""
    uuid: str = ""
    version: tuple[int, int] = L.FORMAT_VERSION
    created_by: str = ""
    created_at: str = ""
    schemas: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    transform: dict[str, Any] | None = None
    concatenated: bool = False

    def __post_init__(self):
        if not self.modality:
            self.modality = L.STIM_KIND_MODALITY[self.stim_kind]
        self.stim_dims = tuple(int(d) for d in self.stim_dims)
        self.dt_ms = float(self.dt_ms)


class RawRow:
    """One stored stimulus row for a list of neurons, flattened for binning in bulk.

    Attributes
    ----------
    reps : numpy.ndarray, int64
        Repeats of each requested neuron (0 = missing).
    values : numpy.ndarray
        Binned files: the present elements' values concatenated (row-major
        ``(R, T)`` each).  Events files: the present elements' spike times
        concatenated.
    counts : numpy.ndarray or None
        Events files: per-repeat spike counts of the present elements, concatenated.
    digests : dict or None
        Set by a read that verified the whole row against its stored digests:
        ``{dataset name: (stored dtype, element lengths, SHA-256 row digest)}``,
        each digest (SPEC §7.1) computed by that read from the bytes it returns
        (``values``, or ``counts`` cast exactly). A writer storing the same
        values in the same dtype and lengths may use it instead of hashing them
        again; anything else ignores it.
    """

    __slots__ = ("reps", "values", "counts", "digests")

    def __init__(self, reps, values, counts=None, digests=None):
        self.reps, self.values, self.counts, self.digests = reps, values, counts, digests

    @classmethod
    def from_elements(cls, elements: Sequence, encoding: str, dtype=None) -> "RawRow":
        """A raw row from elements (None, :class:`Events` or ``(R, T)`` arrays)."""
        reps = np.zeros(len(elements), dtype=np.int64)
        present = []
        for i, el in enumerate(elements):
            if el is None:
                continue
            reps[i] = el.n_repeats if isinstance(el, Events) else el.shape[0]
            present.append(el)
        if encoding == L.ENCODING_EVENTS:
            if not present:
                return cls(reps, np.empty(0), np.empty(0, np.int64))
            return cls(reps, np.concatenate([np.asarray(e.times) for e in present]),
                       np.concatenate([np.asarray(e.counts, dtype=np.int64) for e in present]))
        if not present:
            return cls(reps, np.empty(0, dtype or np.float32))
        values = np.concatenate([np.asarray(e).reshape(-1) for e in present])
        return cls(reps, values if dtype is None else values.astype(dtype, copy=False))


def _json_record(text, where: str) -> dict:
    """One stored JSON object string parsed with bounded nesting (:func:`strfh5.jsonsafe.loads`)."""
    rec = loads(text, where)
    if not isinstance(rec, dict):
        raise CorruptDataError(f"{where}: metadata record is not a JSON object")
    return rec


class DeferredTexts(_Sequence):
    """``n`` stored strings, loaded all at once by ``load()`` on first access (a lazy open reads none of them)."""

    def __init__(self, load, n: int, where: str):
        self.load, self.n, self.where = load, int(n), where
        self._items: list | None = None

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):
        if self._items is None:
            items = list(self.load())
            if len(items) != self.n:
                raise CorruptDataError(f"{self.where}: {len(items)} entries now, {self.n} at open")
            self._items = items
        return self._items[i]


class JsonRecords(MutableSequence):
    """Metadata records decoded when first asked for (a lazy open stays flat in S).

    Behaves as a list of dicts: a record is parsed on first access (raising
    :class:`CorruptDataError` naming it if it is not a JSON object) and the
    same dict is returned afterwards, so edits to it persist.
    """

    def __init__(self, texts, where: str):
        self._texts = texts
        self._where = where
        self._done: list = [None] * len(texts)

    def __len__(self) -> int:
        return len(self._done)

    def _get(self, i: int) -> dict:
        rec = self._done[i]
        if rec is None:
            rec = self._done[i] = _json_record(self._texts[i], f"{self._where}[{i}]")
        return rec

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._get(j) for j in range(*i.indices(len(self)))]
        n = len(self)
        j = int(i) + n if int(i) < 0 else int(i)
        if not 0 <= j < n:
            raise IndexError(f"metadata record {int(i)} out of range for {n} records")
        return self._get(j)

    def __setitem__(self, i, value) -> None:
        self[i]  # range check
        j = int(i) % len(self)
        self._done[j] = value

    def __delitem__(self, i) -> None:
        raise TypeError(f"{self._where}: metadata records of a file cannot be deleted")

    def insert(self, i, value) -> None:
        raise TypeError(f"{self._where}: metadata records of a file cannot be inserted")

    def __eq__(self, other) -> bool:
        return list(self) == list(other) if isinstance(other, (list, JsonRecords)) else NotImplemented

    def __repr__(self) -> str:
        return repr(list(self))
