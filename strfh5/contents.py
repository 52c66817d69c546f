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
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Sequence

import h5py
import numpy as np

from . import layout as L


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

    @abc.abstractmethod
    def stim(self, s: int) -> np.ndarray:
        """Stimulus ``s`` as stored: ``(C, F, T)``, ``(C, T_audio)`` or ``(C, H, W, T)``."""
        raise NotImplementedError

    @abc.abstractmethod
    def waveform(self, s: int) -> tuple[np.ndarray, float] | None:
        """The stored source waveform of stimulus ``s`` and its sample rate, if kept."""
        raise NotImplementedError

    @abc.abstractmethod
    def stim_sample_rate(self, s: int) -> float | None:
        """Sample rate (Hz) of a waveform-kind stimulus ``s``; None for other kinds."""
        raise NotImplementedError

    @abc.abstractmethod
    def stored_dtype(self) -> np.dtype:
        """dtype of the stored response values (spike times, counts or signal)."""
        raise NotImplementedError

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
    The HDF5 handle is opened per process: after a fork or unpickling the next
    access reopens the file, so DataLoader workers each get their own handle.
    """

    def __init__(self, path: str, *, allow_external: bool = False):
        from .h5io import read_tables  # local: h5io imports this module

        self.path = os.fspath(path)
        self.allow_external = allow_external
        self._h5 = None
        self._pid = None
        self._datasets: dict = {}
        f = self._handle()
        tables = read_tables(f, self.path)
        self.info = tables["info"]
        self.stim_ids = tables["stim_ids"]
        self.neuron_ids = tables["neuron_ids"]
        self.stim_meta = tables["stim_meta"]
        self.nrn_meta = tables["nrn_meta"]
        self.n_bins = tables["n_bins"]
        self.repeats = tables["repeats"]

    def _handle(self):
        if self._h5 is None or self._pid != os.getpid():
            from .h5io import open_file

            self._h5 = open_file(self.path, allow_external=self.allow_external)
            self._pid = os.getpid()
            self._datasets = {}
        return self._h5

    def dataset(self, name: str):
        """The open h5py dataset ``name`` of this process' handle (looked up once)."""
        f = self._handle()
        ds = self._datasets.get(name)
        if ds is None:
            ds = self._datasets[name] = f[name]
        return ds

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_h5"] = None
        state["_pid"] = None
        state["_datasets"] = {}
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)

    def close(self) -> None:
        if self._h5 is not None and self._pid == os.getpid():
            try:
                self._h5.close()
            except Exception:  # pragma: no cover - closing a dead handle
                pass
        self._h5 = None
        self._pid = None
        self._datasets = {}

    def stim(self, s: int) -> np.ndarray:
        # low-level open + read: a third of the high-level cost, which matters
        # for lazy DataLoader epochs (H5Dopen follows a concatenated file's links)
        name = f"/{L.stim_group_path(s)}/{L.STIM_DATA}".encode()
        try:
            gid = h5py.h5g.open(self._handle().id, f"/{L.stim_group_path(s)}".encode())
            link_type = gid.links.get_info(L.STIM_DATA.encode()).type
            dsid = h5py.h5d.open(gid, L.STIM_DATA.encode()) if link_type == h5py.h5l.TYPE_HARD else None
        except KeyError:
            from .errors import MissingObjectError

            raise MissingObjectError(f"{self.path}: stimulus dataset '{name.decode()}' is missing") from None
        if dsid is None or dsid.get_create_plist().get_layout() == h5py.h5d.VIRTUAL:
            from .errors import SourceFileError

            raise SourceFileError(f"{self.path}: stimulus dataset '{name.decode()}' is a link or a virtual "
                                  "dataset; stimulus data must be stored in the stimulus group (SPEC 1.1 §12)")
        out = np.empty(dsid.shape, dtype=dsid.dtype)
        if out.size:
            dsid.read(h5py.h5s.ALL, h5py.h5s.ALL, out)
        return out

    def stim_sample_rate(self, s: int):
        if self.info.stim_kind != L.STIM_WAVEFORM:
            return None
        return float(self._handle()[L.stim_group_path(s)][L.STIM_DATA].attrs[L.ATTR_SAMPLE_RATE])

    def stored_dtype(self) -> np.dtype:
        return h5py.check_vlen_dtype(self._handle()[L.RESPONSES].dtype)

    def waveform(self, s: int):
        g = self._handle()[L.stim_group_path(s)]
        if L.STIM_WAVEFORM_DS not in g:
            return None
        ds = g[L.STIM_WAVEFORM_DS]
        return ds[()], float(ds.attrs[L.ATTR_SAMPLE_RATE])

    def row(self, s: int, neurons=None) -> list:
        from .h5io import decode_row

        f = self._handle()
        names = (L.RESPONSES, L.COUNTS) if self.info.encoding == L.ENCODING_EVENTS else (L.RESPONSES,)
        datasets = {name: self.dataset(name) for name in names}
        return decode_row(f, self.info, s, int(self.n_bins[s]), self.repeats[s], neurons, self.path, datasets)
