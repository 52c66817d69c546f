"""The VLEN columns of a file being written: ``/responses`` and ``/counts``.

A :class:`VlenSink` writes one ``(S, N)`` variable-length dataset row by
row (or pair by pair) and, at the end, stores the per-row SHA-256 digests of
SPEC §7 under ``/integrity``. When the integer type of the values is not known
in advance, rows are spooled to a scratch HDF5 file and copied into the output
with the smallest unsigned type holding the largest value seen (SPEC §4.5),
so memory stays bounded by one row.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

import h5py
import numpy as np
from h5py import h5s, h5t

from . import layout as L
from .errors import InvalidDataError

__all__ = ["VlenSink", "flat_digest"]

_SCRATCH_INT = np.dtype("<u4")

#: rows of at least this many bytes are hashed in a helper thread while HDF5 writes them and the next row is
#: prepared (SHA-256 runs without the GIL); smaller ones in the writer's thread
_PARALLEL_FROM = 1 << 18

#: HDF5's in-memory VLEN element ``hvl_t`` = ``{size_t len; void *p}``, as a numpy record (native order); None
#: where ``size_t`` or pointers are not 8 bytes (rows are then written as object arrays through h5py)
_HVL = np.dtype([("len", "=u8"), ("p", "=u8")]) \
    if ctypes.sizeof(ctypes.c_size_t) == 8 and ctypes.sizeof(ctypes.c_void_p) == 8 else None


def flat_digest(values: np.ndarray, lengths: np.ndarray) -> bytes:
    """SHA-256 row digest (SPEC §7.1) of elements given back to back (``lengths`` values each, in order):
    :func:`strfh5.layout.flat_row_digest` of their little-endian bytes."""
    return _sha256(_message(values, lengths))


def _message(values: np.ndarray, lengths: np.ndarray):
    """What the row digest hashes (:func:`strfh5.layout.flat_row_message`), one contiguous buffer."""
    le = np.ascontiguousarray(values).reshape(-1)
    le = le.astype(le.dtype.newbyteorder("<"), copy=False).view(np.uint8)
    return L.flat_row_message(le, lengths, max(values.dtype.itemsize, 1))


def _sha256(message) -> bytes:
    return hashlib.sha256(message).digest()


class VlenSink:
    """One (S, N) VLEN dataset, written directly or spooled for a late dtype."""

    def __init__(self, out: h5py.File, name: str, N: int, dtype: np.dtype | None, scratch_path: str):
        self.out, self.name, self.N = out, name, N
        self.auto = dtype is None
        self.dtype = np.dtype(dtype) if dtype is not None else _SCRATCH_INT
        self.max_value = 0
        self.digests: dict[int, bytes] = {}
        self.dirty: set[int] = set()
        self._mem = None  # (memory VLEN type, (1, N) memory space) of the hvl_t writes, made on first use
        self._pool: ThreadPoolExecutor | None = None  # the digest thread of large rows, started on first use
        self._pending = None  # (row, future of its digest): at most one row hashed in the background
        if self.auto:
            self.scratch_path = scratch_path
            self.scratch = h5py.File(scratch_path, "w")
            self.ds = self._create(self.scratch, name, self.dtype)
        else:
            self.scratch = None
            self.ds = self._create(out, name, self.dtype)

    def _create(self, f, name, dtype):
        return f.create_dataset(
            name,
            shape=(0, self.N),
            maxshape=(None, None),
            dtype=h5py.vlen_dtype(dtype),
            chunks=(1, max(self.N, 1)),
        )

    def resize(self, S: int):
        self.ds.resize((S, self.N))

    def _cast(self, el: np.ndarray, where: str) -> np.ndarray:
        el = np.asarray(el).reshape(-1)
        if self.dtype.kind == "u":
            if el.size:
                m = int(el.max())
                if m > np.iinfo(self.dtype).max:
                    raise InvalidDataError(
                        f"{where}: value {m} does not fit {self.dtype} (pass a wider count_dtype)"
                    )
                self.max_value = max(self.max_value, m)
            return el.astype(self.dtype, copy=False)
        return el.astype(self.dtype, copy=False)

    def write_row(self, s: int, elements: Sequence[np.ndarray], where: str):
        self._collect()
        row = np.empty((1, self.N), dtype=object)
        cast = [self._cast(e, f"{where}[{s}, {n}]") for n, e in enumerate(elements)]
        for n, e in enumerate(cast):
            row[0, n] = e
        if self.N:
            self.ds[s : s + 1, :] = row
        if not self.auto:
            self.digests[s] = L.row_digest(cast)
            self.dirty.discard(s)

    def write_flat(self, s: int, values: np.ndarray, lengths: np.ndarray, where: str, known=None):
        """Row ``s`` given as its elements' values back to back (``lengths`` values each, in neuron order).

        The same file content and digest as :meth:`write_row` of the split
        elements, with whole-row checks, one cast and a digest computed on the
        row's little-endian bytes. The row goes to HDF5 as ``hvl_t``
        descriptors pointing into the cast values (:meth:`_write_hvl`): no
        Python object per element, the same H5Dwrite of the same elements.
        A row of :data:`_PARALLEL_FROM` bytes or more is hashed in the digest
        thread from a copy of its message while HDF5 writes it and the caller
        prepares the next (its digest is stored by the next write or at
        :meth:`finish`).

        ``known`` (``(dtype, lengths, digest)`` of
        :attr:`~strfh5.records.RawRow.digests`) is the digest a verifying read
        computed over these values as stored: used instead of hashing them
        again when this column stores them in that dtype with those lengths.
        """
        values = np.asarray(values).reshape(-1)
        lengths = np.asarray(lengths, dtype=np.int64).reshape(-1)
        if lengths.size != self.N or (lengths < 0).any() or int(lengths.sum()) != values.size:
            raise InvalidDataError(f"{where}[{s}]: {values.size} values for element lengths summing to "
                                   f"{int(lengths.sum())} ({lengths.size} elements for {self.N} neurons)")
        if self.dtype.kind == "u" and values.size:
            m = int(values.max())
            if m > np.iinfo(self.dtype).max:
                n = int(np.searchsorted(np.cumsum(lengths), int(np.argmax(values)), side="right"))
                raise InvalidDataError(f"{where}[{s}, {n}]: value {m} does not fit {self.dtype} "
                                       "(pass a wider count_dtype)")
            self.max_value = max(self.max_value, m)
        cast = np.ascontiguousarray(values, dtype=self.dtype)
        same = known is not None and np.dtype(known[0]) == self.dtype and np.array_equal(known[1], lengths)
        self._collect()
        if not self.auto:
            if same:
                self.digests[s] = bytes(known[2])
            elif self.N and cast.nbytes >= _PARALLEL_FROM:  # the message is a copy: ``values`` may be reused
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="strfh5-digest")
                self._pending = (s, self._pool.submit(_sha256, _message(cast, lengths)))
            else:
                self.digests[s] = flat_digest(cast, lengths)
            self.dirty.discard(s)
        if self.N:
            if _HVL is not None:
                self._write_hvl(s, cast, lengths)
            else:  # pragma: no cover - platforms whose size_t or pointers are not 8 bytes
                row = np.empty((1, self.N), dtype=object)
                flat = row.reshape(-1)
                ends = np.cumsum(lengths).tolist()
                for n, v in enumerate([cast[a:b] for a, b in zip([0] + ends[:-1], ends)]):
                    flat[n] = v
                self.ds[s : s + 1, :] = row

    def _collect(self) -> None:
        """Store the digest of the row hashed in the background (waiting for it), if any."""
        if self._pending is not None:
            s, job = self._pending
            self._pending = None
            self.digests[s] = job.result()

    def _write_hvl(self, s: int, cast: np.ndarray, lengths: np.ndarray) -> None:
        """Row ``s`` written with one H5Dwrite from ``hvl_t`` descriptors into ``cast`` (contiguous, ``self.dtype``).

        HDF5 converts the in-memory VLEN type (base ``self.dtype``) to the
        file's, storing each element's ``lengths[n]`` values from its pointer
        (NULL for an empty element): what h5py does for a ``(1, N)`` object
        array after building these descriptors itself, byte for byte.
        ``cast`` is kept alive by the caller for the duration of the write.
        """
        hvl = np.zeros((1, self.N), dtype=_HVL)
        flat = hvl.reshape(-1)
        flat["len"] = lengths
        starts = np.cumsum(lengths) - lengths
        used = lengths > 0
        flat["p"][used] = np.uint64(cast.ctypes.data) + (starts[used] * self.dtype.itemsize).astype(np.uint64)
        if self._mem is None:
            self._mem = (h5t.vlen_create(h5t.py_create(self.dtype)), h5s.create_simple((1, self.N)))
        mtype, mspace = self._mem
        fspace = self.ds.id.get_space()
        fspace.select_hyperslab((s, 0), (1, self.N))
        self.ds.id.write(mspace, fspace, hvl, mtype=mtype, dxpl=getattr(self.ds, "_dxpl", None))

    def write_pair(self, s: int, n: int, el: np.ndarray, where: str):
        self._collect()
        self.ds[s, n] = self._cast(el, f"{where}[{s}, {n}]")
        self.dirty.add(s)

    def _stop_pool(self) -> None:
        try:
            self._collect()
        finally:
            self._stop_thread()

    def _stop_thread(self) -> None:
        self._pending = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def finish(self, S: int) -> h5py.Dataset:
        """Finalise the dataset in the output file and store its row digests."""
        self._stop_pool()
        if self.auto:
            final_dtype = L.smallest_uint(self.max_value)
            final = self._create(self.out, self.name, final_dtype)
            final.resize((S, self.N))
            digests = np.zeros((S, L.DIGEST_SIZE), dtype=np.uint8)
            for s in range(S):
                src = self.ds[s] if self.N else np.empty(0, dtype=object)
                elements = [np.asarray(e).astype(final_dtype) for e in src]
                if self.N:
                    row = np.empty((1, self.N), dtype=object)
                    for n, e in enumerate(elements):
                        row[0, n] = e
                    final[s : s + 1, :] = row
                digests[s] = np.frombuffer(L.row_digest(elements), dtype=np.uint8)
            self.scratch.close()
            os.remove(self.scratch_path)
            self.scratch = None
            self.dtype, self._mem = final_dtype, None
            ds = final
        else:
            ds = self.ds
            digests = np.zeros((S, L.DIGEST_SIZE), dtype=np.uint8)
            for s in range(S):
                if s in self.digests and s not in self.dirty:
                    d = self.digests[s]
                else:
                    d = L.row_digest(list(ds[s]) if self.N else [])
                digests[s] = np.frombuffer(d, dtype=np.uint8)
        dig = self.out.create_dataset(f"{L.INTEGRITY}/{self.name}", data=digests)
        dig.attrs[L.ATTR_ALGORITHM] = L.DIGEST_ALGORITHM
        return ds

    def discard(self):
        self._stop_thread()
        if self.scratch is not None:
            try:
                self.scratch.close()
            finally:
                if os.path.exists(self.scratch_path):
                    os.remove(self.scratch_path)
            self.scratch = None
