"""Where a dataset's rows come from: held in memory (eager) or read per access (lazy).

A :class:`~strfh5.dataset.NeuralDataset` asks its row source for a stimulus
row ``(data (sum R, T), reps)``, a stimulus, or the responses of an item;
:class:`EagerRows` answers from blocks read once, :class:`LazyRows` reads them
through :meth:`Contents.raw_row <strfh5.contents.Contents.raw_row>` and
:mod:`strfh5.binning` on each access and applies the reader-side transforms
recorded so far.  Both build rows with the same two functions,
:func:`read_block` and :func:`read_stim`, so eager and lazy differ only in
where rows come from.

Also here: :class:`ResponseRow` (one row backed by one tensor),
:class:`Item` (a dataset item), and the sequence proxies that give a lazy
dataset deepSTRF's ``stims[s]`` and ``responses[s][n]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from . import layout as L
from .binning import ReadGrid
from .collate import FieldDict
from .contents import Contents, FileContents
from .errors import TransformError
from .h5io.remote import is_url
from .selection import position
from .stim_cache import RowCache, StimulusCache
from .transforms import affine_rows, smooth_rows, standardize_stim

__all__ = ["Item", "ResponseRow", "gather_rows", "read_dtype", "compact_counts", "read_block", "read_stim", "check_waveforms", "EagerRows", "LazyRows"]


class Item(FieldDict):
    """One dataset item: deepSTRF's 4-tuple ``(stims, responses, mask, stim_meta)``, also a dict.

    ``stim, responses, mask, meta = ds[i]`` unpacks as in deepSTRF and
    ``item[3]`` is the stimulus metadata; ``item['stims']`` indexes by name.
    Fields: ``stims``; ``responses`` (the visible neurons' ``(R, T)`` tensors,
    ``(1, 1)`` NaN where missing); ``mask`` (``(N_visible,)`` bool, True where
    the pair was recorded); ``stim_meta``; then, by name only,
    ``neuron_indices`` (the visible neurons) and ``stim_index``.
    """

    what = "item"
    fields = ("stims", "responses", "mask", "stim_meta")


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
        # uint8 data (a lazy row's stored counts) is converted to float32 on first use; until then the
        # row travels (to DataLoader workers' parents) and collates from its compact form
        self._raw = data
        self._data = None if data.dtype == torch.uint8 else data
        self.reps = np.asarray(reps, dtype=np.int64)
        self._offs = np.concatenate([[0], np.cumsum(self.reps)[:-1]]) if self.reps.size else self.reps
        self._over: dict[int, torch.Tensor] = {}

    @property
    def data(self) -> torch.Tensor:
        """``(sum R, T)`` float32: the present elements' repeats stacked in order."""
        if self._data is None:
            self._data = self._raw = self._raw.to(torch.float32)  # the uint8 form is no longer kept
        return self._data

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

    def compact(self):
        """``(data, reps)`` as held (float32, or the stored uint8 counts) when no element was replaced, else None."""
        return None if self._over else (self._raw if self._data is None else self._data, self.reps)

    def __repr__(self) -> str:
        return (f"<ResponseRow: {len(self)} neurons, {int((self.reps > 0).sum())} recorded, "
                f"T={self._raw.shape[-1]}>")


def gather_rows(data: torch.Tensor, reps: np.ndarray, neurons: Sequence[int]) -> tuple[torch.Tensor, np.ndarray]:
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


def read_dtype(contents: Contents, grid: ReadGrid):
    """The type :func:`read_block` reads ``contents``' values in on ``grid`` (None: as stored)."""
    # float32 holds every stored value exactly up to 2**24 (uint8/uint16 counts, float32 signals); wider
    # counts stay as stored so binning can present them exactly (SPEC 1.1 §11.1)
    narrow = grid.encoding == L.ENCODING_BINNED and grid.k == 1 and np.dtype(contents.stored_dtype()).itemsize <= 2
    return np.float32 if narrow or (grid.k == 1 and grid.response_kind == L.RESPONSE_CONTINUOUS) else None


_AUTO = object()


def compact_counts(contents: Contents, grid: ReadGrid) -> bool:
    """Whether rows can be handed out as uint8 counts: stored uint8 counts read at the file's bin width, or
    spike times (binned into uint8 where every repeat holds at most 255 spikes, else float32)."""
    if grid.encoding == L.ENCODING_EVENTS:
        return True
    return grid.response_kind == L.RESPONSE_COUNTS and grid.k == 1 and np.dtype(contents.stored_dtype()) == np.uint8


def read_block(contents: Contents, grid: ReadGrid, s: int, neurons=None, *,
               dtype=_AUTO, compact: bool = False) -> tuple[torch.Tensor, np.ndarray]:
    """Read and bin stimulus row ``s`` (raw, before transforms): ``(data (sum R, T), reps)``.

    ``dtype``: :func:`read_dtype` of ``contents`` and ``grid``, when the caller has it (one lookup per dataset).
    ``compact`` (where :func:`compact_counts`): ``data`` holds the stored uint8 counts, not float32.
    """
    if compact:
        dtype = None
    raw = contents.raw_row(s, neurons, dtype=read_dtype(contents, grid) if dtype is _AUTO else dtype)
    data, reps = grid.bin_raw(raw, int(contents.n_bins[s]), compact=compact)
    return torch.from_numpy(data), reps


def read_stim(contents: Contents, grid: ReadGrid, s: int) -> torch.Tensor:
    """Read stimulus ``s`` on ``grid`` (raw, before transforms).

    Spectrograms the grid recomputes (another band count, other parameters,
    a bin width that is not a multiple of the file's) are computed here from
    the kept waveform; the stored spectrogram is then not read.
    """
    what = _StimulusName(contents, s)
    if grid.needs_waveform:
        a = grid.stimulus(None, int(contents.n_bins[s]), contents.waveform(s), contents.info.transform, what=what)
    else:
        a = grid.stimulus(contents.stim(s), int(contents.n_bins[s]), what=what)
    return torch.from_numpy(np.ascontiguousarray(a))


class _StimulusName:
    """``s (id)`` for messages, formatted only when a message uses it (no id is decoded to read a stimulus)."""

    __slots__ = ("contents", "s")

    def __init__(self, contents: Contents, s: int):
        self.contents, self.s = contents, s

    def __str__(self) -> str:
        return f"{self.s} ({self.contents.stim_ids[self.s]!r})"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def check_waveforms(contents: Contents, grid: ReadGrid) -> None:
    """Refuse, at open, a read that recomputes spectrograms while a stimulus keeps no waveform.

    Raises the :class:`~strfh5.errors.BinningError` the first such item
    would raise, naming how many stimuli lack one.
    """
    missing = [s for s in range(contents.S) if not contents.has_waveform(s)]
    if missing:
        s = missing[0]
        more = f" (nor do {len(missing) - 1} other stimuli)" if len(missing) > 1 else ""
        grid.stimulus(None, int(contents.n_bins[s]), None, contents.info.transform,
                      what=f"{s} ({contents.stim_ids[s]!r}){more}")


def _rows_ahead(contents: Contents, dtype, ahead: bool = True):
    """``(s, contents.raw_row(s))`` for every row in order; with ``ahead``, the next row of a local file is read
    in a worker thread meanwhile (rows in memory, and files read over HTTP, are read in this thread)."""
    S = contents.S
    if S < 2 or not ahead or not isinstance(contents, FileContents) or is_url(contents.path):
        yield from ((s, contents.raw_row(s, dtype=dtype)) for s in range(S))
        return
    with ThreadPoolExecutor(1, thread_name_prefix="strfh5-rows") as pool:
        ahead = pool.submit(contents.raw_row, 0, dtype=dtype)
        for s in range(S):
            raw = ahead.result()
            if s + 1 < S:
                ahead = pool.submit(contents.raw_row, s + 1, dtype=dtype)
            yield s, raw


def apply_resp_op(op: tuple, data: torch.Tensor, row_neurons: np.ndarray) -> torch.Tensor:
    """Apply one recorded response transform to a row block (``row_neurons``: neuron of each row)."""
    if op[0] == "smooth":
        return smooth_rows(data, op[1])
    if op[0] == "affine":
        return affine_rows(data, row_neurons, op[1], op[2])
    raise TransformError(f"unknown response transform {op[0]!r}")  # pragma: no cover


def apply_stim_op(op: tuple, x: torch.Tensor) -> torch.Tensor:
    """Apply one recorded stimulus transform: ``("standardize", mean, std)`` or ``("call", fn, kwargs)``."""
    if op[0] == "standardize":
        return standardize_stim(x, op[1], op[2])
    if op[0] == "call":
        return op[1](x, **op[2])
    raise TransformError(f"unknown stimulus transform {op[0]!r}")  # pragma: no cover


def _is_missing(t: torch.Tensor) -> bool:
    return bool(torch.isnan(t).all())


class EagerRows:
    """Rows held in memory: one ``(data, reps)`` block and one stimulus per stimulus row.

    ``responses`` is a list of :class:`ResponseRow` (deepSTRF code may edit
    ``responses[s][n]``); transforms are applied at once, out of place (row
    tensors may be shared, e.g. with the inputs of a concatenation).

    Rows of counts that fit uint8 (stored uint8 counts read at the file's bin
    width, spike times with at most 255 spikes per repeat) are held as uint8,
    as a lazy dataset's items are: items stay uint8 until collated (the
    collate converts while it copies), and a row becomes float32, once, when
    its tensors are first used (:attr:`ResponseRow.data`, :meth:`block`).
    """

    lazy = False

    def __init__(self, blocks: list, stims: list):
        self.blocks = blocks
        self.responses = [ResponseRow(data, reps) for data, reps in blocks]
        self._held = list(self.responses)  # the rows as built: block(s) shares their float32 form
        self.stims = stims

    @classmethod
    def load(cls, contents: Contents, grid: ReadGrid) -> "EagerRows":
        """Read every row and stimulus of ``contents`` on ``grid``.

        Spike times: row ``s + 1`` is read (and verified) in a second thread
        while row ``s`` is binned (reads, digests and numpy's loops release the
        GIL, so a second core overlaps them); rows come out in order, the same
        values. Binned rows, which need little work once read, are read here.
        """
        compact = compact_counts(contents, grid)
        dtype = None if compact else read_dtype(contents, grid)
        blocks = []
        for s, raw in _rows_ahead(contents, dtype, ahead=grid.encoding == L.ENCODING_EVENTS):
            data, reps = grid.bin_raw(raw, int(contents.n_bins[s]), compact=compact)
            blocks.append((torch.from_numpy(data), reps))
        return cls(blocks, [read_stim(contents, grid, s) for s in range(contents.S)])

    def _block(self, s: int) -> tuple[torch.Tensor, np.ndarray]:
        """``blocks[s]`` as float32 (a uint8 row converted once, shared with the row built from it)."""
        data, reps = self.blocks[s]
        if data.dtype == torch.uint8:
            data = self._held[s].data
            self.blocks[s] = (data, reps)
        return data, reps

    def block(self, s: int, neurons: list[int] | None) -> tuple[torch.Tensor, np.ndarray]:
        data, reps = self._block(s)
        return (data, reps) if neurons is None else gather_rows(data, reps, neurons)

    def stim(self, s: int) -> torch.Tensor:
        return self.stims[s]

    def responses_of(self, s: int, neurons: list[int] | None) -> list[torch.Tensor]:
        row = self.responses[s]
        return list(row) if neurons is None else [row[n] for n in neurons]

    def item_responses(self, s: int, vis: list[int]):
        row = self.responses[s]
        held = row.compact() if isinstance(row, ResponseRow) else None
        if held is not None:  # uint8 counts stay uint8 in the item, as in a lazy dataset's
            return ResponseRow(*gather_rows(held[0], held[1], vis))
        return [row[k] for k in vis]

    def masks(self, shape) -> np.ndarray:
        """``(S, N)`` recorded pairs as the (possibly user-edited) responses say."""
        m = np.zeros(shape, dtype=bool)
        for s, row in enumerate(self.responses):
            for n, r in enumerate(row):
                m[s, n] = not _is_missing(r)
        return m

    def add_resp_op(self, op: tuple, N: int) -> None:
        for s in range(len(self.blocks)):
            data, reps = self._block(s)
            new = apply_resp_op(op, data, np.repeat(np.arange(N), reps)) if data.numel() else data
            self.blocks[s] = (new, reps)
            self.responses[s] = self._transformed_row(self.responses[s], new, reps, op)

    @staticmethod
    def _transformed_row(old, new: torch.Tensor, reps: np.ndarray, op: tuple):
        def one(t, n):
            return t if _is_missing(t) else apply_resp_op(op, t, np.full(t.shape[0], n))

        if not isinstance(old, ResponseRow):  # a user-built list: transform each recorded element
            return [one(t, n) for n, t in enumerate(old)]
        row = ResponseRow(new, reps)
        for n, t in old._over.items():
            row._over[n] = one(t, n)
        return row

    def add_stim_op(self, op: tuple) -> None:
        for s in range(len(self.stims)):
            self.stims[s] = apply_stim_op(op, self.stims[s])

    def close(self) -> None:
        """Nothing to release."""


class LazyRows:
    """Rows read on access from ``contents`` on ``grid``; transforms recorded and applied per read."""

    lazy = True

    def __init__(self, contents: Contents, grid: ReadGrid, N: int):
        self.contents, self.grid, self.N = contents, grid, N
        self.resp_ops: list[tuple] = []
        self.stim_ops: list[tuple] = []
        self.stims = _LazyStims(self)
        self.responses = _LazyResponses(self)
        self._all = list(range(N))
        self.stim_cache = StimulusCache()  # decoded stimuli, bounded, one per process
        self.row_cache = RowCache()  # whole rows on the read grid, opt-in (STRFH5_ROW_CACHE_MB)
        self._dtype: tuple | None = None  # (read_dtype, compact_counts), looked up on the first read

    def block(self, s: int, neurons: list[int] | None) -> tuple[torch.Tensor, np.ndarray]:
        if neurons is not None and len(neurons) == self.N and neurons == self._all:
            neurons = None  # whole row: no per-neuron indexing
        data, reps = read_block(self.contents, self.grid, s, neurons, dtype=self._read_dtype()[0])
        if self.resp_ops:
            nrn = np.arange(self.N) if neurons is None else np.asarray(neurons, dtype=np.int64)
            row_neurons = np.repeat(nrn, reps)
            for op in self.resp_ops:
                data = apply_resp_op(op, data, row_neurons)
        return data, reps

    def _read_dtype(self) -> tuple:
        """``(read_dtype, compact_counts)`` of this dataset, looked up once."""
        if self._dtype is None:
            self._dtype = (read_dtype(self.contents, self.grid), compact_counts(self.contents, self.grid))
        return self._dtype

    def stim(self, s: int) -> torch.Tensor:
        x = self.stim_cache.get((s, self.grid), lambda: read_stim(self.contents, self.grid, s))
        for op in self.stim_ops:
            x = apply_stim_op(op, x)
        return x

    def responses_of(self, s: int, neurons: list[int] | None) -> list[torch.Tensor]:
        return list(ResponseRow(*self.block(s, neurons)))

    def item_responses(self, s: int, vis: list[int]) -> "ResponseRow":
        if self.resp_ops:
            return ResponseRow(*self.block(s, vis))
        neurons = None if len(vis) == self.N and vis == self._all else vis
        if self.row_cache.max_bytes > 0:
            data, reps = self.row_cache.get((s, self.grid), lambda: self._whole_row(s))
            return ResponseRow(*((data, reps) if neurons is None else gather_rows(data, reps, neurons)))
        if not self._read_dtype()[1]:
            return ResponseRow(*self.block(s, neurons))
        # stored uint8 counts, no transform: the row stays compact until used (collated, or an element read)
        return ResponseRow(*read_block(self.contents, self.grid, s, neurons, compact=True))

    def _whole_row(self, s: int) -> tuple[torch.Tensor, np.ndarray]:
        """Row ``s`` for every neuron, as compact as it is exact: uint8 where every value is a count up to 255."""
        dtype, compact = self._read_dtype()
        if compact:
            return read_block(self.contents, self.grid, s, compact=True)
        data, reps = read_block(self.contents, self.grid, s, dtype=dtype)
        if self.grid.response_kind != L.RESPONSE_CONTINUOUS and data.dtype == torch.float32 and data.numel():
            small = data.to(torch.uint8)
            if torch.equal(small.to(torch.float32), data):  # exact: the row converts back bit for bit
                return small, reps
        return data, reps

    def masks(self, shape) -> None:
        """Lazy responses cannot be edited: the file's ``/repeats`` stays the truth."""
        return None

    def add_resp_op(self, op: tuple, N: int) -> None:
        self.resp_ops.append(op)

    def add_stim_op(self, op: tuple) -> None:
        self.stim_ops.append(op)

    def close(self) -> None:
        self.contents.close()


class _LazyPerStimulus:
    """Base of the lazy per-stimulus sequence proxies: ``self[s]`` is ``self._element(s)``."""

    def __init__(self, rows: LazyRows):
        self._rows = rows

    def __len__(self) -> int:
        return self._rows.contents.S

    def _element(self, s: int):
        raise NotImplementedError

    def __getitem__(self, s):
        if isinstance(s, slice):
            return [self._element(i) for i in range(*s.indices(len(self)))]
        return self._element(position(s, len(self), "stimulus"))

    def __iter__(self):
        return (self._element(i) for i in range(len(self)))


class _LazyStims(_LazyPerStimulus):
    """Sequence proxy over a lazy dataset's stimuli: ``stims[s]`` reads stimulus ``s``."""

    def _element(self, s: int) -> torch.Tensor:
        return self._rows.stim(s)

    def __repr__(self):
        return f"<lazy stims: {len(self)} stimuli read on access>"


class _LazyRow:
    """One row of a lazy dataset's responses: ``row[n]`` reads the pair (s, n)."""

    def __init__(self, rows: LazyRows, s: int):
        self._rows, self._s = rows, s

    def __len__(self) -> int:
        return self._rows.N

    def __getitem__(self, n):
        N = len(self)
        if isinstance(n, slice):
            return self._rows.responses_of(self._s, list(range(*n.indices(N))))
        return self._rows.responses_of(self._s, [position(n, N, "neuron")])[0]

    def __iter__(self):
        return iter(self._rows.responses_of(self._s, None))

    def __repr__(self):
        return f"<lazy responses row {self._s}: {len(self)} neurons read on access>"


class _LazyResponses(_LazyPerStimulus):
    """``responses[s]`` -> a :class:`_LazyRow`; ``responses[s][n]`` reads one pair."""

    def _element(self, s: int) -> _LazyRow:
        return _LazyRow(self._rows, s)

    def __repr__(self):
        return f"<lazy responses: {len(self)} x {self._rows.N} read on access>"
