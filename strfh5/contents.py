"""What a strfh5 file holds, in memory or read lazily from disk.

A :class:`Contents` object is the raw, untransformed content of one file (SPEC
§3–§6): file-level facts (encoding, dt, stimulus kind), the stimulus and neuron
tables, the stimuli, and the responses as stored — spike times with per-repeat
counts (``events``) or flat ``(R, T)`` arrays (``binned``).  It knows nothing of
selections, binning or transforms: those belong to :mod:`strfh5.dataset`.

Two implementations share one interface:

* :class:`MemoryContents` — everything in Python lists (built by
  :func:`strfh5.from_lists` or by an eager :func:`strfh5.load`);
* :class:`FileContents` — reads one stimulus row at a time from an open file,
  reopening its handle in each process so it is picklable and fork-safe.
"""

from __future__ import annotations

import abc
import os
from typing import Sequence

import numpy as np

from . import layout as L
from .h5io import FileHandle, counts_dtype, has_waveform, read_elements, read_raw_row, read_repeats, read_sample_rate, \
    read_stimulus, read_tables, read_waveform, response_dtype
from .records import Events, FileInfo, RawRow

__all__ = ["Contents", "MemoryContents", "FileContents"]


class Contents(abc.ABC):
    """Interface shared by :class:`MemoryContents` and :class:`FileContents`.

    Attributes
    ----------
    info : FileInfo
    stim_ids, neuron_ids : list of str
    stim_meta, nrn_meta : list of dict
    n_bins : numpy.ndarray, shape (S,)
        Response length of each stimulus in bins of ``info.dt_ms``.
    repeats : numpy.ndarray, shape (S, N)
        Repeats per pair, 0 where the pair was not recorded.
    """

    info: FileInfo
    stim_ids: list[str]
    neuron_ids: list[str]
    stim_meta: list[dict]
    nrn_meta: list[dict]
    n_bins: np.ndarray
    repeats: np.ndarray
    path: str | None = None

    @property
    def S(self) -> int:
        return len(self.stim_ids)

    @property
    def N(self) -> int:
        return len(self.neuron_ids)

    @property
    def masks(self) -> np.ndarray:
        """``(S, N)`` bool: True where the pair was recorded."""
        return self.repeats > 0

    @property
    def stored_repeats(self) -> np.ndarray:
        """``(S, N)`` repeats in any integer type holding them exactly (int64 here; a file's stored type when read
        lazily). For whole-table checks and sums (``sum(axis=..., dtype=np.int64)``) that need no int64 copy."""
        return self.repeats

    def repeat_row(self, s: int) -> np.ndarray:
        """Repeats of stimulus row ``s`` as int64."""
        return np.asarray(self.repeats[s], dtype=np.int64)

    def max_repeats(self) -> int:
        """An upper bound of every repeat count (the largest one, or a bound known without reading them)."""
        rep = self.stored_repeats
        return int(np.asarray(rep).max()) if np.size(rep) else 0

    @abc.abstractmethod
    def stim(self, s: int) -> np.ndarray:
        """Stimulus ``s`` as stored: ``(C, F, T)``, ``(C, T_audio)`` or ``(C, H, W, T)``."""
        raise NotImplementedError

    @abc.abstractmethod
    def waveform(self, s: int) -> tuple[np.ndarray, float] | None:
        """The stored source waveform of stimulus ``s`` and its sample rate, if kept."""
        raise NotImplementedError

    def has_waveform(self, s: int) -> bool:
        """True when stimulus ``s`` keeps its source waveform."""
        return self.waveform(s) is not None

    @abc.abstractmethod
    def stim_sample_rate(self, s: int) -> float | None:
        """Sample rate (Hz) of a waveform-kind stimulus ``s``; None for other kinds."""
        raise NotImplementedError

    @abc.abstractmethod
    def stored_dtype(self) -> np.dtype:
        """dtype of the stored response values (spike times, counts or signal)."""
        raise NotImplementedError

    def raw_row(self, s: int, neurons: Sequence[int] | None = None, dtype=None) -> RawRow:
        """Stimulus row ``s`` (for ``neurons``, all when None) as one :class:`~strfh5.records.RawRow`.

        The primitive binning works on, eager or lazy; ``dtype`` (binned
        files) converts the values while concatenating them.
        """
        return RawRow.from_elements(self.row(s, None if neurons is None else list(neurons)), self.info.encoding,
                                    dtype)

    @abc.abstractmethod
    def row(self, s: int, neurons: Sequence[int] | None = None) -> list:
        """Raw elements of stimulus row ``s`` for ``neurons`` (all when None).

        Each element is ``None`` (not recorded), an :class:`Events` (events
        encoding) or an ``(R, T)`` array in the stored dtype (binned encoding).
        """
        raise NotImplementedError

    def close(self) -> None:
        """Release file handles (no-op in memory)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class MemoryContents(Contents):
    """Contents held in Python lists.

    ``responses[s][n]`` is ``None``, an :class:`Events` or an ``(R, T)`` array.
    """

    def __init__(
        self,
        info: FileInfo,
        stims: list[np.ndarray],
        responses: list[list],
        stim_ids: list[str],
        neuron_ids: list[str],
        stim_meta: list[dict],
        nrn_meta: list[dict],
        n_bins: Sequence[int],
        waveforms: list[tuple[np.ndarray, float] | None] | None = None,
        sample_rates: Sequence[float] | None = None,
        path: str | None = None,
    ):
        self.info = info
        self.stims = stims
        self.responses = responses
        self.stim_ids = list(stim_ids)
        self.neuron_ids = list(neuron_ids)
        self.stim_meta = stim_meta
        self.nrn_meta = nrn_meta
        self.n_bins = np.asarray(n_bins, dtype=np.int64).reshape(-1)
        self.waveforms = waveforms if waveforms is not None else [None] * len(stims)
        self.sample_rates = list(sample_rates) if sample_rates is not None else None
        self.path = path
        S, N = len(stim_ids), len(neuron_ids)
        rep = np.zeros((S, N), dtype=np.int64)
        for s in range(S):
            for n, el in enumerate(responses[s]):
                if el is None:
                    continue
                rep[s, n] = el.n_repeats if isinstance(el, Events) else el.shape[0]
        self.repeats = rep

    def stim(self, s: int) -> np.ndarray:
        return self.stims[s]

    def waveform(self, s: int):
        return self.waveforms[s]

    def stim_sample_rate(self, s: int):
        return None if self.sample_rates is None else float(self.sample_rates[s])

    def stored_dtype(self) -> np.dtype:
        for row in self.responses:
            for el in row:
                if isinstance(el, Events):
                    return el.times.dtype
                if el is not None:
                    return el.dtype
        if self.info.encoding == L.ENCODING_EVENTS:
            return np.dtype("<f8")
        return L.CONTINUOUS_DTYPE if self.info.response_kind == L.RESPONSE_CONTINUOUS else np.dtype("u1")

    def row(self, s: int, neurons=None) -> list:
        r = self.responses[s]
        return list(r) if neurons is None else [r[n] for n in neurons]


class FileContents(Contents):
    """Contents read lazily from a strfh5 file, one stimulus row at a time.

    Opening reads the tables (ids, metadata, ``n_bins``) and ``/repeats`` only.
    The HDF5 handle is a :class:`~strfh5.h5io.FileHandle`: after a fork or
    unpickling the next access reopens the file, so DataLoader workers each
    get their own handle.
    """

    def __init__(self, path, *, allow_external: bool = False, lazy_meta: bool = True, scan_heaps: bool = False):
        self.path = os.fspath(path)
        self.allow_external = allow_external
        self.handle = FileHandle(self.path, allow_external=allow_external, scan_heaps=scan_heaps)
        tables = read_tables(self.handle.file, self.path, lazy_meta=lazy_meta, stored_repeats=True,
                             handle=self.handle if lazy_meta else None)
        self.info = tables["info"]
        self._stim_ids = tables["stim_ids"]  # a DeferredTexts: decoded on first use (stim_ids)
        self.neuron_ids = tables["neuron_ids"]
        self.stim_meta = tables["stim_meta"]
        self.nrn_meta = tables["nrn_meta"]
        self.n_bins = tables["n_bins"]
        # None until first needed when /repeats' type bounds it within every limit of the open (read_tables);
        # then read and checked in [0, 2**40] in its stored type, so widening it is exact
        self._stored_repeats: np.ndarray | None = tables["repeats"]
        self._repeats_bound: int | None = tables["repeats_bound"]
        self._repeats: np.ndarray | None = None
        self.stim_seen: dict = {}  # s -> (stored dtype, shape) of each stimulus read (lets save reuse held copies)

    @property
    def S(self) -> int:
        return len(self._stim_ids)  # the stored count: no id is decoded for it

    @property
    def stim_ids(self) -> list[str]:
        """Stimulus ids (``list`` of ``str``), read and decoded (strict UTF-8) on first use: a lazy open reads none."""
        if not isinstance(self._stim_ids, list):
            self._stim_ids = list(self._stim_ids)
        return self._stim_ids

    @stim_ids.setter
    def stim_ids(self, value) -> None:
        self._stim_ids = value

    @property
    def repeats(self) -> np.ndarray:
        """``(S, N)`` int64 repeats, widened from the stored table on first use (a lazy open reads none)."""
        if self._repeats is None:
            self._repeats = self.stored_repeats.astype(np.int64)
        return self._repeats

    @repeats.setter
    def repeats(self, value) -> None:
        self._repeats = self._stored_repeats = np.asarray(value, dtype=np.int64)

    @property
    def stored_repeats(self) -> np.ndarray:
        if self._stored_repeats is None:
            self._stored_repeats = read_repeats(self.handle.file, self.path, self.n_bins, self.info, stored=True)
        return self._stored_repeats

    def max_repeats(self) -> int:
        if self._stored_repeats is None and self._repeats_bound is not None:
            return self._repeats_bound  # not read yet: the stored type's largest value bounds them
        return super().max_repeats()

    @property
    def masks(self) -> np.ndarray:
        return self.stored_repeats > 0

    def repeat_row(self, s: int) -> np.ndarray:
        return self.stored_repeats[s].astype(np.int64) if self._repeats is None else self._repeats[s]

    def close(self) -> None:
        self.handle.close()

    def stim(self, s: int) -> np.ndarray:
        timed = self.info.stim_kind != L.STIM_WAVEFORM  # spectrogram and video frames are the response bins
        a = read_stimulus(self.handle, s, int(self.n_bins[s]) if timed else None)
        self.stim_seen[s] = (a.dtype, a.shape)
        return a

    def stim_sample_rate(self, s: int):
        return read_sample_rate(self.handle, s) if self.info.stim_kind == L.STIM_WAVEFORM else None

    def stored_dtype(self) -> np.dtype:
        return response_dtype(self.handle)

    def waveform(self, s: int):
        return read_waveform(self.handle, s)

    def has_waveform(self, s: int) -> bool:
        return has_waveform(self.handle, s)

    def count_dtype(self) -> np.dtype | None:
        """Stored unsigned type of the integer data (``/counts``, or binned counts); None for signals."""
        if self.info.encoding == L.ENCODING_EVENTS:
            return counts_dtype(self.handle)
        if self.info.response_kind == L.RESPONSE_COUNTS:
            return np.dtype(self.stored_dtype())
        return None

    def raw_row(self, s: int, neurons=None, dtype=None) -> RawRow:
        return read_raw_row(self.handle, self.info, s, int(self.n_bins[s]), self.repeat_row(s), neurons, dtype)

    def row(self, s: int, neurons=None) -> list:
        return read_elements(self.handle, self.info, s, int(self.n_bins[s]), self.repeat_row(s), neurons)
