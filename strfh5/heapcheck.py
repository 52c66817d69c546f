"""Checking a file's global heap collections before HDF5 reads them.

Variable-length data (strings, spike times, counts) live in *global heap
collections* (HDF5 file format, "Global Heap"): a ``GCOL`` signature,
version 1, the collection size, then objects, each a 16-byte header (index,
reference count, size) and its data padded to 8 bytes; object 0 is the free
space and spans the rest of the collection.  HDF5 trusts these numbers: a
free-space object of size 0 (a zeroed block) makes its parser loop forever at
100% CPU, and an object larger than its collection makes it read past it.
:func:`check_global_heaps` walks every collection of a file with those rules,
reading the file once in blocks, so a caller can refuse the file instead of
handing it to HDF5.  The collections of a block are walked together, one
object of each per step, by 8-byte word gathers; a leading run of objects of
one size (the elements of a binned row) is checked in one step.  The objects
walked can be kept (:class:`HeapObjects`): the validator locates the response
payloads from them without a second pass over the file.
"""

from __future__ import annotations

import os
import struct

import numpy as np

__all__ = ["HEAP_SIGNATURE", "HeapObjects", "check_global_heaps", "collection_objects"]

HEAP_SIGNATURE = b"GCOL"
_HEADER = 16  # object header: index (2), reference count (2), reserved (4), size (8 with 8-byte lengths)
_SMALL = 2**16  # collections up to this size are read whole; larger ones header by header
_SPAN = 2**23  # bytes of the file scanned at a time by check_global_heaps (one buffer of about 8 MiB, reused)
_GC = int.from_bytes(HEAP_SIGNATURE[:2], "little")
_OL = tuple(HEAP_SIGNATURE[2:])


def _walk(read, at: int, end: int, sizeof_size: int, objects: dict | None = None, data: bytes | None = None) -> str | None:
    """The first problem of the collection whose objects span offsets ``at..end``, or None.

    ``read(offset, n)`` returns ``n`` bytes of the collection from ``offset``
    (``data``, when given, is the whole collection in memory and is read
    instead); ``objects``, when given, receives ``{index: size}`` of every
    object walked.
    """
    hdr = 8 + sizeof_size
    head_t = struct.Struct("<H6xQ" if sizeof_size == 8 else "<H6xI")
    p = at
    while p < end:
        if p + hdr > end:
            return None  # a tail too small for a header is free space
        idx, size = head_t.unpack_from(data, p) if data is not None else head_t.unpack(read(p, hdr))
        if idx == 0:
            if size != end - p:
                return (f"free-space object at offset {p} declares {size} bytes but {end - p} remain "
                        "(a zeroed or overwritten heap)")
            return None
        need = hdr + ((size + 7) // 8) * 8
        if objects is not None:
            if idx in objects:
                return f"object index {idx} appears twice (at offset {p})"
            objects[idx] = size
        if need > end - p:
            return (f"object {idx} at offset {p} declares {size} bytes, more than the {end - p - hdr} left in "
                    "its collection")
        p += need
    return None


def check_global_heaps(path, sizeof_size: int = 8, limit: int = 5, objects: HeapObjects | None = None) -> list[str]:
    """Problems of the global heap collections of the HDF5 file at ``path`` (at most ``limit``).

    Parameters
    ----------
    path : str or os.PathLike
        A regular file (the caller has checked it is one).
    sizeof_size : int
        Bytes of a length field (the superblock's "size of lengths"; h5py:
        ``f.id.get_create_plist().get_sizes()[1]``).
    limit : int
        Stop after this many problems.
    objects : HeapObjects, optional
        Receives every object of the sound collections walked in memory
        (with 8-byte lengths), for callers that locate payloads without a
        second pass over the file.

    Returns
    -------
    list of str
        One message per corrupt collection, naming its byte offset; empty
        when every collection is sound.  Time is linear in the file size.

    Notes
    -----
    The file is read in spans of ``_SPAN`` bytes (memory stays bounded).  The
    collections of a span that lie in memory are walked together, one object
    of every collection per step (:func:`_lockstep`); the others (large
    collections, or ones crossing the span's end) and every collection found
    corrupt are walked one by one (:func:`_walk`), which words the message.
    """
    problems: list[str] = []
    size = os.path.getsize(path)
    whole = bytearray(min(size, _SPAN + _SMALL + 16))
    with open(path, "rb", buffering=0) as fh:
        pos = 0
        while pos < size and len(problems) < limit:
            fh.seek(pos)
            buf = memoryview(whole)[:fh.readinto(whole)]
            for at in _suspects(buf, pos, size, sizeof_size, objects):
                problem = _check_collection(fh, pos + at, size, sizeof_size)
                if problem:
                    problems.append(f"global heap collection at byte {pos + at}: {problem}")
                    if len(problems) >= limit:
                        break
            pos += _SPAN
    return problems


class HeapObjects:
    """The objects :func:`check_global_heaps` walked in sound collections: ``(collection offset, index, data
    offset, size)`` for each, up to ``cap`` objects (beyond it nothing is kept: :attr:`full`). Collections
    walked one by one (large ones, ones crossing a span's end) are not recorded."""

    def __init__(self, cap: int = 2**21):
        self.cap, self.count, self.full = cap, 0, False
        self.parts: list[tuple[np.ndarray, ...]] = []

    def add(self, a: np.ndarray, pos: int, at: np.ndarray, bad: np.ndarray, record: list) -> None:
        """The objects of ``record`` (collection number in ``at``, header offset in ``a``) of sound collections."""
        owner = np.concatenate([o for o, _p in record])
        head = np.concatenate([p for _o, p in record])
        keep = ~bad[owner]
        owner, head = owner[keep], head[keep]
        self.count += owner.size
        if self.full or self.count > self.cap:
            self.full, self.parts = True, []
            return
        words = _words(a)
        self.parts.append((at[owner] + pos, words[head] & np.uint64(0xFFFF), head + pos + 16, words[head + 8]))

    def table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """``(key, data offset, size)`` sorted by key ``collection offset << 16 | index``, the first object of
        each key (as a walk of the collection keeps it); None when the objects were not all kept."""
        if self.full:
            return None
        if not self.parts:
            return np.zeros(0, np.uint64), np.zeros(0, np.int64), np.zeros(0, np.uint64)
        coll, idx, data, size = (np.concatenate(x) for x in zip(*self.parts))
        if coll.size and int(coll.max()) >= 2**47:
            return None
        key = (coll.astype(np.uint64) << np.uint64(16)) | idx
        order = np.lexsort((data, key))
        key = key[order]
        first = np.ones(key.size, dtype=bool)
        np.not_equal(key[1:], key[:-1], out=first[1:])
        return key[first], data[order][first], size[order][first]


def _suspects(buf: memoryview, pos: int, file_size: int, sizeof_size: int, objects=None) -> list[int]:
    """Offsets in ``buf`` (file offset ``pos``) of the signatures starting in the span to walk one by one."""
    hdr = 8 + sizeof_size
    at = np.array(_signatures(buf, min(len(buf), _SPAN + 3)), dtype=np.int64)
    a = np.frombuffer(buf, dtype=np.uint8)
    inside = at + hdr <= a.size
    head_ok = np.zeros(at.size, dtype=bool)
    h = at[inside]
    head_ok[inside] = (a[h + 4] == 1) & (a[h + 5] == 0) & (a[h + 6] == 0) & (a[h + 7] == 0)
    total = np.zeros(at.size, dtype=np.uint64)
    total[head_ok] = _uint(a, at[head_ok] + 8, sizeof_size)
    fits = head_ok & (total >= hdr) & (total <= _SMALL) & (at + total.astype(np.int64) <= a.size) \
        & (pos + at + total.astype(np.int64) <= file_size)
    bad = np.zeros(at.size, dtype=bool)
    record: list | None = [] if objects is not None and sizeof_size == 8 else None
    bad[fits] = _lockstep(a, at[fits], total[fits].astype(np.int64), sizeof_size, record)
    if record:
        objects.add(a, pos, at[fits], bad[fits], record)
    one_by_one = (~inside) | (head_ok & ~fits) | bad  # what the walk must see (or word)
    return [int(x) for x in at[one_by_one]]


def _signatures(buf, stop: int) -> np.ndarray:
    """Offsets of every ``GCOL`` in ``buf[:stop]``, ascending: the two-byte words ``GC`` at even and at odd
    offsets compared at once (about twice the speed of a regular expression search), then ``OL`` after them;
    in blocks of :data:`_BLOCK` bytes, so the temporaries stay small."""
    x = np.frombuffer(buf, dtype=np.uint8)[:stop]
    found = [np.zeros(0, dtype=np.int64)]
    for b in range(0, x.size, _BLOCK):
        sub = x[b : b + _BLOCK + 3]
        for r in (0, 1):
            n = (sub.size - r) // 2
            if n <= 0:
                continue
            c = np.flatnonzero(sub[r : r + 2 * n].view("<u2") == _GC) * 2 + r
            c = c[(c + 4 <= sub.size) & (c < _BLOCK)]
            found.append(c[(sub[c + 2] == _OL[0]) & (sub[c + 3] == _OL[1])] + b)
    return np.sort(np.concatenate(found))


#: bytes searched at a time by :func:`_signatures`
_BLOCK = 2**20


def _uint(a: np.ndarray, at: np.ndarray, n: int) -> np.ndarray:
    """The little-endian unsigned integers of ``n`` bytes (4 or 8) at offsets ``at`` of the bytes ``a``."""
    raw = np.ascontiguousarray(a[at[:, None] + np.arange(n)])
    return raw.view("<u8" if n == 8 else "<u4").ravel().astype(np.uint64)


def _lockstep(a: np.ndarray, at: np.ndarray, total: np.ndarray, sizeof_size: int,
              record: list | None = None) -> np.ndarray:
    """Whether :func:`_walk` finds a problem in each collection ``a[at:at + total]``, all walked at once;
    ``record`` (8-byte lengths only) receives ``(collection, header offset)`` arrays of every object accepted."""
    if sizeof_size != 8:
        return _lockstep_bytes(a, at, total, sizeof_size)
    if a.size < 16:
        return np.zeros(at.size, dtype=bool)
    return _lockstep_words(_words(a), at + 16, at + total, record)


def _words(a: np.ndarray) -> np.ndarray:
    """``words[i]``: the little-endian 8-byte word at byte ``i`` of ``a`` (an unaligned view, no copy)."""
    return np.ndarray(shape=(a.size - 7,), dtype="<u8", buffer=a, strides=(1,))


def _lockstep_words(words: np.ndarray, p: np.ndarray, end: np.ndarray, record: list | None = None) -> np.ndarray:
    """:func:`_lockstep` of collections of 8-byte lengths whose first object header is at byte ``p`` and which
    end at byte ``end``; ``words[i]`` is the little-endian 8-byte word at byte ``i``. One object of every live
    collection per step, two word gathers."""
    bad = np.zeros(p.size, dtype=bool)
    ids = np.arange(p.size)
    p = _skip_runs(words, p, end, record)
    while ids.size:
        keep = p + 16 <= end  # a tail too small for a header is free space
        if not keep.all():
            k = np.flatnonzero(keep)
            ids, p, end = ids[k], p[k], end[k]
        head, size = words[p], words[p + 8]
        left = (end - p).astype(np.uint64)
        free = (head & np.uint64(0xFFFF)) == 0
        over = ~free & (size > left - np.uint64(16))
        need = np.uint64(16) + (size + np.uint64(7)) // np.uint64(8) * np.uint64(8)  # used where it cannot wrap
        go = ~free & ~over
        fail = (free & (size != left)) | over | (go & (need > left))
        bad[ids[fail]] = True
        go = np.flatnonzero(go & ~fail)
        ids, p, end = ids[go], p[go], end[go]
        if record is not None:
            record.append((ids, p))
        p = p + need[go].astype(np.int64)
    return bad


def _skip_runs(words: np.ndarray, p: np.ndarray, end: np.ndarray, record: list | None = None) -> np.ndarray:
    """Each collection's walk position ``p`` moved past its leading run of objects of the first object's size
    (the elements of a binned row all have one size): their headers are checked all at once, at the offsets a
    walk would reach, and each object of the run is one a walk accepts (a non-zero index, that size, room left)."""
    p = p.copy()
    room = np.maximum(end - p, 0)
    cand = np.flatnonzero(room >= 16)
    if not cand.size:
        return p
    pc = p[cand]
    head, size = words[pc], words[pc + 8]
    ok = ((head & np.uint64(0xFFFF)) != 0) & (size <= (room[cand] - 16).astype(np.uint64))
    cand, pc, size = cand[ok], pc[ok], size[ok]
    stride = 16 + (size.astype(np.int64) + 7) // 8 * 8
    m = room[cand] // stride  # objects of this size that fit, each with its header inside the collection
    total = int(m.sum())
    if not total:
        return p
    rep = np.repeat(np.arange(cand.size), m)
    k = np.arange(total) - np.repeat(np.cumsum(m) - m, m)
    at = pc[rep] + k * stride[rep]
    same = ((words[at] & np.uint64(0xFFFF)) != 0) & (words[at + 8] == size[rep])
    run = m.copy()
    miss = np.flatnonzero(~same)
    np.minimum.at(run, rep[miss], k[miss])  # the run ends at the first object that differs
    if record is not None:
        inrun = k < run[rep]
        record.append((cand[rep[inrun]], at[inrun]))
    p[cand] = pc + run * stride
    return p


def _lockstep_bytes(a: np.ndarray, at: np.ndarray, total: np.ndarray, sizeof_size: int) -> np.ndarray:
    """:func:`_lockstep` for any size of lengths, byte by byte."""
    hdr = 8 + sizeof_size
    p, end = at + hdr, at + total
    bad = np.zeros(at.size, dtype=bool)
    live = np.arange(at.size)
    while live.size:
        live = live[p[live] + hdr <= end[live]]  # a tail too small for a header is free space
        pl = p[live]
        left = end[live] - pl
        idx = a[pl].astype(np.int64) | (a[pl + 1].astype(np.int64) << 8)
        size = _uint(a, pl + 8, sizeof_size)
        free = idx == 0
        bad[live[free]] = size[free] != left[free].astype(np.uint64)
        over = ~free & (size > (left - hdr).astype(np.uint64))
        bad[live[over]] = True
        go = ~free & ~over
        need = hdr + (size[go].astype(np.int64) + 7) // 8 * 8
        over_pad = need > left[go]
        bad[live[go][over_pad]] = True
        live = live[go][~over_pad]
        p[live] = pl[go][~over_pad] + need[~over_pad]
    return bad


def _check_collection(fh, at: int, file_size: int, sizeof_size: int) -> str | None:
    def read(off, n):
        fh.seek(off)
        return fh.read(n)
    head = read(at, 8 + sizeof_size)
    if len(head) < 8 + sizeof_size or head[4] != 1 or head[5:8] != b"\0\0\0":
        return None  # the four bytes are data that happen to spell GCOL, not a collection header
    return _check_at(read, at, head, file_size, sizeof_size, None)


def _check_at(read, at: int, head: bytes, file_size: int, sizeof_size: int, objects: dict | None) -> str | None:
    """The first problem of the collection at ``at`` whose header is ``head``; ``read(offset, n)`` reads the file."""
    total = int.from_bytes(head[8:], "little")
    if total < 8 + sizeof_size or at + total > file_size:
        return f"declares {total} bytes, beyond the end of the file ({file_size} bytes)"
    if total <= _SMALL:  # the usual case (4 KiB collections): read the collection once
        data = read(at, total)
        if len(data) != total:
            return f"declares {total} bytes, beyond the end of the file ({file_size} bytes)"
        return _walk(None, 8 + sizeof_size, total, sizeof_size, objects, data)
    # a large collection holds large objects: read each header only
    return _walk(lambda off, n: read(at + off, n), 8 + sizeof_size, total, sizeof_size, objects)


def collection_objects(read, at: int, file_size: int, sizeof_size: int) -> tuple[str | None, dict]:
    """Check the collection a VLEN descriptor points at: ``(problem or None, {object index: size})``.

    Unlike the scan of :func:`check_global_heaps` (which skips four bytes that
    merely spell ``GCOL``), ``at`` must hold a version-1 collection header.
    ``read(offset, n)`` returns ``n`` bytes of the file from ``offset``.
    """
    head = read(at, 8 + sizeof_size)
    if len(head) < 8 + sizeof_size or head[:4] != HEAP_SIGNATURE:
        return f"no global heap collection at byte {at}", {}
    if head[4] != 1 or head[5:8] != b"\0\0\0":
        return f"global heap collection at byte {at} has version {head[4]}, not 1", {}
    objects: dict = {}
    problem = _check_at(read, at, head, file_size, sizeof_size, objects)
    return (f"global heap collection at byte {at}: {problem}" if problem else None), objects
