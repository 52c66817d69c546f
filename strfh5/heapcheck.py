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
handing it to HDF5.
"""

from __future__ import annotations

import os
import struct

__all__ = ["HEAP_SIGNATURE", "check_global_heaps", "collection_objects"]

HEAP_SIGNATURE = b"GCOL"
_HEADER = 16  # object header: index (2), reference count (2), reserved (4), size (8 with 8-byte lengths)
_BLOCK = 2**18  # bytes read at a time: memory stays bounded whatever the file size
_SMALL = 2**16  # collections up to this size are read whole; larger ones header by header


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


def check_global_heaps(path, sizeof_size: int = 8, limit: int = 5) -> list[str]:
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

    Returns
    -------
    list of str
        One message per corrupt collection, naming its byte offset; empty
        when every collection is sound.  Time is linear in the file size.
    """
    problems: list[str] = []
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        pos = 0
        while pos < size and len(problems) < limit:
            fh.seek(pos)
            block = fh.read(_BLOCK + 3)
            i = block.find(HEAP_SIGNATURE)
            while i >= 0 and len(problems) < limit:
                problem = _check_collection(fh, pos + i, size, sizeof_size)
                if problem:
                    problems.append(f"global heap collection at byte {pos + i}: {problem}")
                i = block.find(HEAP_SIGNATURE, i + 1)
            pos += _BLOCK
    return problems


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
