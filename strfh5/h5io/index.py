"""The response byte-range index: where each VLEN payload lies in the file (SPEC §7.2).

``/index/responses`` (and ``/index/counts`` in events files) is an optional
``(S, N, 2)`` uint64 table: for every element of the VLEN dataset, the byte
offset of its payload from the start of the file and its length in bytes
(``0, 0`` for an empty element). With it a row is read with one ``pread`` of
the span its elements occupy in the global heap, instead of one numpy object
per element built by h5py.

The index is untrusted like everything in a file. :class:`RowIndex` uses a row
only after checking, for the whole row, that every offset and length lies
inside the file, that every length is the one ``/repeats`` and
``/stimuli/n_bins`` (or ``/counts``) imply, and that the SHA-256 row digest
computed from the bytes read equals ``/integrity`` (SPEC §7). When a check
fails it warns (:class:`~strfh5.errors.ResponseIndexWarning`) and returns
None, and the caller reads the row through HDF5.

:func:`locate_payloads` builds the table by reading the file's own bytes: the
VLEN descriptors ``{uint32 length, heap collection address, uint32 object
index}`` in the dataset's raw chunks, then each referenced global heap
collection (``GCOL``) to find the object's address and size.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import warnings

import h5py
import numpy as np

from .. import layout as L
from ..errors import CorruptDataError, IndexBuildError, ResponseIndexWarning
from ..records import RawRow
from .descriptors import file_sizes, heap_objects, join_objects, read_descriptors
from .values import attr_str

__all__ = ["locate_payloads", "RowIndex", "open_index", "digest_from_payload", "read_index_table"]

#: a single pread covers the row span when it is at most this many times the payload (+ 64 kB)
_SPAN_SLACK = 4


# ------------------------------------------------------------------ building
def locate_payloads(f: h5py.File, name: str, path: str) -> np.ndarray:
    """``(S, N, 2)`` uint64 ``[offset, nbytes]`` of every payload of VLEN dataset ``name``.

    Reads the descriptors in the dataset's raw chunks and the global heap
    collections they point to, through the file's bytes (``path``).

    Raises
    ------
    IndexBuildError
        A concatenated (virtual) dataset or one stored through filters.
    CorruptDataError
        A descriptor points at no heap object or at one of the wrong size.
    """
    ds = f[name]
    if ds.is_virtual:
        raise IndexBuildError(f"{path}: /{name} is a virtual dataset (concatenated file); it has no payloads "
                              "of its own to index — index the sources instead")
    sizeof_addr, sizeof_size, base = file_sizes(f)
    itemsize = ds.dtype.metadata["vlen"].itemsize
    fd = os.open(path, os.O_RDONLY)
    try:
        desc = read_descriptors(ds, fd, sizeof_addr, base).reshape(-1)
        used = desc["len"] > 0
        addrs = np.unique(desc["addr"][used])
        parts = [heap_objects(fd, base + int(a), sizeof_size, f"{path}: /{name}") for a in addrs]
    finally:
        os.close(fd)
    none = np.zeros(0, np.uint64)
    col_key = np.concatenate([none] + [np.full(p[0].size, a, np.uint64) * np.uint64(1 << 32) + p[0]
                                       for a, p in zip(addrs.astype(np.uint64), parts)])
    col_off = np.concatenate([none] + [p[1] for p in parts])
    col_size = np.concatenate([none] + [p[2] for p in parts])
    order = np.argsort(col_key, kind="stable")
    out, bad = join_objects(desc, itemsize, lambda a, i: a * np.uint64(1 << 32) + i,
                            col_key[order], col_off[order], col_size[order])
    if bad is not None:
        s, n = divmod(bad, ds.shape[1])
        raise CorruptDataError(f"{path}: /{name}[{s}, {n}] points at no global heap object of its length")
    return out.reshape(*ds.shape, 2)


# ------------------------------------------------------------------ reading
def digest_from_payload(payload: np.ndarray, nbytes: np.ndarray, itemsize: int) -> bytes:
    """SHA-256 row digest (SPEC §7) of elements given as one buffer of their stored bytes.

    ``payload`` (uint8) holds the elements' little-endian bytes back to back
    in neuron order; ``nbytes`` their byte lengths
    (:func:`strfh5.layout.flat_row_digest`).
    """
    return L.flat_row_digest(payload, np.asarray(nbytes, dtype=np.int64) // itemsize, itemsize)


class _Column:
    """One indexed VLEN dataset: its index table, stored dtype and row digests."""

    def __init__(self, f: h5py.File, name: str, index_name: str, path: str, file_size: int):
        ds = f[name]
        self.name = name
        self.dtype = ds.dtype.metadata["vlen"].newbyteorder("<")
        self.itemsize = self.dtype.itemsize
        self.table = read_index_table(f, index_name, ds.shape, path, file_size)
        dig = f.get(f"{L.INTEGRITY}/{name}")
        if not isinstance(dig, h5py.Dataset) or dig.shape != (ds.shape[0], L.DIGEST_SIZE):
            raise CorruptDataError(f"{path}: /{L.INTEGRITY}/{name} is missing or has the wrong shape; the index "
                                   "cannot be verified without row digests")
        self.digests = np.asarray(dig[()], dtype=np.uint8)


def read_index_table(f: h5py.File, index_name: str, shape: tuple, path: str, file_size: int):
    """The ``(S, N, 2)`` index table ``index_name``: a memory map when stored contiguously, else a dataset.

    Raises :class:`CorruptDataError` when its shape or type is wrong or it lies outside the file.
    """
    ds = f.get(index_name)
    if not isinstance(ds, h5py.Dataset):
        raise CorruptDataError(f"{path}: /{index_name} is missing")
    if ds.shape != (*shape, 2) or ds.dtype.kind != "u" or ds.dtype.itemsize != 8:
        raise CorruptDataError(f"{path}: /{index_name} has shape {ds.shape} and type {ds.dtype}, expected "
                               f"{(*shape, 2)} uint64")
    off = ds.id.get_offset()
    if off is None or ds.id.get_create_plist().get_nfilters() or ds.size == 0:
        return ds
    off += file_sizes(f)[2]
    if off + ds.size * 8 > file_size:
        raise CorruptDataError(f"{path}: /{index_name} storage lies past the end of the file")
    return np.memmap(f.filename, dtype=ds.dtype.newbyteorder("<") if ds.dtype.byteorder != ">" else ds.dtype,
                     mode="r", offset=off, shape=ds.shape)


def open_index(f: h5py.File, path: str, encoding: str, concatenated: bool) -> "RowIndex | None":
    """The checked :class:`RowIndex` of an open file; None when it has none (or is concatenated).

    An index that is present but malformed (wrong layout, shape or type, outside
    the file, no digests) gives a :class:`~strfh5.errors.ResponseIndexWarning` and None.
    """
    grp = f.get(L.RESPONSE_INDEX)
    if concatenated or grp is None:
        return None
    try:
        if attr_str(grp.attrs.get(L.ATTR_INDEX_LAYOUT, "")) != L.INDEX_LAYOUT:
            raise CorruptDataError(f"{path}: /{L.RESPONSE_INDEX}@{L.ATTR_INDEX_LAYOUT} is not {L.INDEX_LAYOUT!r}")
        size = os.path.getsize(path)
        cols = [_Column(f, L.RESPONSES, L.RESPONSE_INDEX_RESPONSES, path, size)]
        if encoding == L.ENCODING_EVENTS:
            cols.append(_Column(f, L.COUNTS, L.RESPONSE_INDEX_COUNTS, path, size))
    except (CorruptDataError, KeyError, OSError, TypeError, ValueError) as e:
        warnings.warn(f"{e}; reading rows through HDF5", ResponseIndexWarning, stacklevel=3)
        return None
    return RowIndex(path, size, cols)


class _Plan:
    """Where the elements of one verified row lie: kept so that later reads skip the checks already passed.

    Equal-sized elements (``size`` an int): ``rel`` their offsets from
    ``lo``, read as one span ``[lo, lo + span)`` and copied by runs of
    constant stride. Elements of any sizes (``size`` an array): ``rel`` their
    absolute offsets, read as one span when compact, else one by one.
    """

    __slots__ = ("want", "lo", "span", "rel", "size", "runs")

    def __init__(self, want: np.ndarray, lo: int, span: int, rel: np.ndarray, size):
        self.want = np.asarray(want, dtype=np.int64).tobytes()
        self.lo, self.span, self.rel, self.size = lo, span, rel, size
        self.runs = _runs(rel) if isinstance(size, int) and rel.size else []

    def read(self, index: "RowIndex", col: _Column, s: int, dtype) -> np.ndarray:
        """The row's values (``col.dtype``, or cast to ``dtype``), read again by the verified layout."""
        if not self.rel.size:
            return np.empty(0, dtype=col.dtype if dtype is None else dtype)
        if not isinstance(self.size, int):
            values = _gathered(index, col, s, self.rel, self.size)
            if values is None:
                values = np.frombuffer(bytearray().join(_pieces(index, col, s, self.rel, self.size)), dtype=col.dtype)
            return _cast(values, dtype)
        width = self.size // col.itemsize
        out = np.empty((self.rel.size, width), dtype=col.dtype if dtype is None else dtype)
        with index.span(col, s, self.lo, self.span) as buf:
            for first, at, count, stride in self.runs:
                out[first : first + count] = np.ndarray((count, width), dtype=col.dtype, buffer=buf, offset=at,
                                                        strides=(stride, col.itemsize))
        return out.reshape(-1)


def _runs(rel: np.ndarray) -> list:
    """``(first element, offset, count, stride)`` runs of constant stride covering offsets ``rel`` in order.

    A run ends before element ``j + 1`` when the step into it differs from
    the step before (``rel[j + 1] - rel[j] != rel[j] - rel[j - 1]``), so the
    steps inside a run are all equal.
    """
    k = rel.size
    step = np.diff(rel)
    first = np.concatenate([[0], np.flatnonzero(step[1:] != step[:-1]) + 2]).astype(np.int64)
    first = first[first < k]
    count = np.diff(first, append=k)
    stride = np.where(count > 1, np.append(step, 0)[first], 0)
    return list(zip(first.tolist(), rel[first].tolist(), count.tolist(), stride.tolist()))


class _Failed(Exception):
    """A check of the index failed for one row (internal; becomes a warning)."""


class RowIndex:
    """Rows read by byte range through a verified index (one per process: it holds a file descriptor)."""

    def __init__(self, path: str, file_size: int, columns: list):
        self.path, self.file_size, self.columns = path, file_size, columns
        self._fd: int | None = None
        self._pid: int | None = None
        self._seen: dict = {}  # (dataset, row) -> _Plan of the rows whose every check passed in this process
        self._stamp: tuple | None = None
        self._scratch: np.ndarray | None = None  # read buffer reused across rows (the largest span read so far)

    @contextlib.contextmanager
    def scratch(self, size: int):
        """A uint8 buffer of at least ``size`` bytes, reused by the next read (a concurrent one gets its own)."""
        buf, self._scratch = self._scratch, None
        if buf is None or buf.size < size:
            buf = np.empty(size, dtype=np.uint8)
        try:
            yield buf
        finally:
            self._scratch = buf

    @contextlib.contextmanager
    def span(self, col: "_Column", s: int, lo: int, size: int):
        """The ``size`` bytes of the file from ``lo`` (row ``s`` of ``col``), read into the reused buffer."""
        with self.scratch(size) as buf:
            if os.preadv(self._descriptor(), [buf[:size]], lo) != size:
                raise _Failed(f"/{col.name}[{s}]: the file ended before the row's bytes")
            yield buf

    def _descriptor(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            self._fd, self._pid = os.open(self.path, os.O_RDONLY), os.getpid()
            self._seen, self._stamp = {}, self._file_stamp()
        return self._fd

    def _file_stamp(self) -> tuple:
        st = os.fstat(self._fd)
        return st.st_ino, st.st_size, st.st_mtime_ns

    def _trusted(self, key: tuple, want: np.ndarray) -> "_Plan | None":
        """The plan of row ``key`` if it was verified in this process, for these lengths, on this file (fstat)."""
        plan = self._seen.get(key)
        if plan is None:
            return None
        stamp = self._file_stamp()
        if stamp != self._stamp:  # rewritten under us: verify every row again
            self._seen, self._stamp = {}, stamp
            self.file_size = stamp[1]
            return None
        return plan if plan.want == want.tobytes() else None

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = self._pid = None

    def _verified(self, col: _Column, s: int, want: np.ndarray, dtype=None, fresh: dict | None = None) -> np.ndarray:
        """Row ``s`` of ``col``: its values in neuron order (``col.dtype``, or cast to ``dtype``), checked.

        On the first read of the row in this process (and again whenever the
        file's inode, size or modification time changed since) every offset
        and length is checked against the file size and ``want`` and the
        digest of the bytes read against ``/integrity``; the row's layout is
        then kept (:class:`_Plan`) and later reads of it are one ``pread``
        and a copy, for the same ``want``. When the digest was computed in
        this call, ``fresh[col.name]`` gets ``(stored dtype, element lengths,
        digest)`` (:attr:`~strfh5.records.RawRow.digests`).
        """
        self._descriptor()
        plan = self._trusted((col.name, s), want)
        if plan is not None:
            return plan.read(self, col, s, dtype)
        ent = np.asarray(col.table[s], dtype=np.uint64)
        if (ent > np.uint64(2**62)).any():
            raise _Failed(f"/{col.name}[{s}]: offsets out of range")
        off, nb = ent[:, 0].astype(np.int64), ent[:, 1].astype(np.int64)
        if not np.array_equal(nb, want):
            j = int(np.flatnonzero(nb != want)[0])
            raise _Failed(f"/{col.name}[{s}, {j}] has {nb[j]} bytes in the index, the row's repeats imply {want[j]}")
        used = nb > 0
        o, n = off[used], nb[used]
        if o.size and ((o <= 0).any() or (o + n > self.file_size).any()):
            raise _Failed(f"/{col.name}[{s}]: an element lies outside the file ({self.file_size} bytes)")
        lens8 = (nb // col.itemsize).astype("<u8").view(np.uint8).reshape(-1, 8)
        lo, hi = (int(o.min()), int((o + n).max())) if o.size else (0, 0)
        if o.size and (n == n[0]).all() and _compact(lo, hi, int(n.sum()), o.size):
            payload, digest = self._equal(col, s, o - lo, int(n[0]), lo, hi, used, lens8)
            plan = _Plan(want, lo, hi - lo, o - lo, int(n[0]))
        else:
            payload, digest = self._scattered(col, s, o, n, lens8)
            plan = _Plan(want, lo, hi - lo, o, n) if o.size else _Plan(want, 0, 0, o, n)
        if digest != col.digests[s].tobytes():
            raise _Failed(f"/{col.name}[{s}]: the bytes the index points at do not match /{L.INTEGRITY}/{col.name}")
        self._seen[(col.name, s)] = plan
        if fresh is not None:
            fresh[col.name] = (col.dtype, nb // col.itemsize, digest)
        return _cast(payload.view(col.dtype), dtype)

    def _pread(self, col: _Column, s: int, offset: int, size: int) -> bytes:
        raw = os.pread(self._descriptor(), size, offset)
        if len(raw) != size:
            raise _Failed(f"/{col.name}[{s}]: the file ended before the row's bytes")
        return raw

    def _equal(self, col, s, rel, size: int, lo: int, hi: int, used, lens8):
        """Elements of one size (binned rows): one read of their span, a row gather, digest by runs."""
        buf = np.frombuffer(self._pread(col, s, lo, hi - lo), dtype=np.uint8)
        windows = np.ndarray((buf.size - size + 1, size), dtype=np.uint8, buffer=buf, strides=(1, 1))
        block = windows[rel]  # (k, size), a copy
        h = hashlib.sha256()
        edges = np.flatnonzero(np.diff(used.astype(np.int8))) + 1
        bounds = np.concatenate([[0], edges, [used.size]]).tolist()
        rank = 0
        for a, e in zip(bounds[:-1], bounds[1:]):
            if not used[a]:
                h.update(lens8[a:e].tobytes())
                continue
            run = np.empty((e - a, 8 + size), dtype=np.uint8)
            run[:, :8] = lens8[a:e]
            run[:, 8:] = block[rank : rank + e - a]
            h.update(run)
            rank += e - a
        return block.reshape(-1), h.digest()

    def _scattered(self, col, s, o, n, lens8):
        """Elements of any sizes: one read of their span when compact, else one read each."""
        if not o.size:
            payload = np.empty(0, np.uint8)
        else:
            values = _gathered(self, col, s, o, n)
            payload = values.view(np.uint8) if values is not None else \
                np.frombuffer(bytearray().join(_pieces(self, col, s, o, n)), dtype=np.uint8)
        return payload, L.flat_row_digest(payload, lens8.reshape(-1).view("<u8"), col.itemsize)

    def raw_row(self, s: int, n_bins: int, repeats: np.ndarray, neurons=None, dtype=None) -> RawRow | None:
        """Row ``s`` read through the index and verified; None (after a warning) when a check fails."""
        try:
            return self._raw_row(s, n_bins, np.asarray(repeats, dtype=np.int64), neurons, dtype)
        except (_Failed, OSError) as e:
            warnings.warn(f"{self.path}: response index: {e}; reading the row through HDF5", ResponseIndexWarning,
                          stacklevel=4)
            return None

    def _raw_row(self, s, n_bins, reps, neurons, dtype):
        resp = self.columns[0]
        which = None if neurons is None else np.asarray(neurons, dtype=np.int64).reshape(-1)
        fresh = {}  # digests computed by this read over the bytes returned (whole rows, values exactly as stored)
        if len(self.columns) == 1:
            want = reps * int(n_bins) * resp.itemsize
            if which is None:
                values = self._verified(resp, s, want, dtype, fresh if dtype is None else None)
                return RawRow(reps, values, digests=fresh or None)
            values = self._verified(resp, s, want)
            return RawRow(reps[which], _cast(_select(values, reps * int(n_bins), which), dtype))
        cnt = self.columns[1]
        exact = which is None and np.can_cast(cnt.dtype, np.int64, "safe")
        counts = self._verified(cnt, s, reps * cnt.itemsize, np.int64, fresh if exact else None)
        present = reps > 0
        per = np.zeros(reps.size, dtype=np.int64)
        if counts.size:
            starts = np.concatenate([[0], np.cumsum(reps[present])[:-1]])
            per[present] = np.add.reduceat(counts, starts)
        times = self._verified(resp, s, per * resp.itemsize, fresh=fresh if which is None else None)
        if which is None:
            return RawRow(reps, times, counts, digests=fresh or None)
        return RawRow(reps[which], _select(times, per, which), _select(counts, reps, which))


def _compact(lo: int, hi: int, total: int, k: int) -> bool:
    """Whether ``k`` elements of ``total`` bytes spanning ``[lo, hi)`` are read as one span (else one read each)."""
    return hi - lo <= _SPAN_SLACK * total + max(65536, 4096 * k)


def _gathered(index: RowIndex, col: _Column, s: int, o: np.ndarray, n: np.ndarray) -> np.ndarray | None:
    """Elements at offsets ``o`` of byte lengths ``n`` concatenated (``col.dtype``), read as one span.

    None when their span is not compact (then :func:`_pieces`). Elements are
    gathered by byte phase (offset modulo the value size), one fancy index each.
    """
    lo, hi, total = int(o.min()), int((o + n).max()), int(n.sum())
    if not _compact(lo, hi, total, o.size):
        return None
    with index.span(col, s, lo, hi - lo) as buf:
        return _gather(buf, hi - lo, o - lo, n, col)


def _gather(buf: np.ndarray, span: int, rel: np.ndarray, n: np.ndarray, col: _Column) -> np.ndarray:
    """Elements at ``rel`` (bytes into ``buf``) of byte lengths ``n``, concatenated as ``col.dtype`` (a copy).

    Bytes are copied element by element (one slice each, any byte phase), into a
    new aligned buffer viewed as the values.
    """
    ends = (rel + n).tolist()
    if max(ends) > span:  # pragma: no cover - the span is taken from these offsets
        raise _Failed("an element lies past the span read")
    return np.concatenate([buf[a:e] for a, e in zip(rel.tolist(), ends)]).view(col.dtype)


def _pieces(index: RowIndex, col: _Column, s: int, o: np.ndarray, n: np.ndarray) -> list:
    """The byte strings of elements at offsets ``o`` of lengths ``n``: one read of their span when compact."""
    lo, hi, total = int(o.min()), int((o + n).max()), int(n.sum())
    if _compact(lo, hi, total, o.size):
        mv = memoryview(index._pread(col, s, lo, hi - lo))
        return [mv[a - lo : a - lo + b] for a, b in zip(o.tolist(), n.tolist())]
    return [index._pread(col, s, a, b) for a, b in zip(o.tolist(), n.tolist())]


def _cast(values: np.ndarray, dtype) -> np.ndarray:
    return values if dtype is None else values.astype(dtype, copy=False, casting="unsafe")


def _select(flat: np.ndarray, lengths: np.ndarray, which: np.ndarray) -> np.ndarray:
    """The pieces ``which`` of ``flat`` (cut into ``lengths``), concatenated in that order."""
    ends = np.cumsum(lengths)
    starts = ends - lengths
    if which.size == 0:
        return flat[:0]
    return np.concatenate([flat[starts[j] : ends[j]] for j in which.tolist()])
