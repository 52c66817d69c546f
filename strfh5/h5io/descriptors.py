"""VLEN descriptors and global heap objects read by byte range, without HDF5 (HDF5 file format: "Global Heap").

A variable-length element is stored as a descriptor ``{uint32 length,
collection address, uint32 object index}`` in the dataset's raw storage; its
values lie in that object of a global heap collection.  These functions read
the descriptors of a dataset (:func:`read_descriptors`) and the objects of a
collection (:func:`heap_objects`) with ``os.pread``, for the response index
(:mod:`strfh5.h5io.index`, :mod:`strfh5.index_writer`) and the heap checks
(:mod:`strfh5.h5io.heaps`).  They check only what they need to read safely;
the heap checks decide whether a collection is sound.
"""

from __future__ import annotations

import itertools
import os

import h5py
import numpy as np

from ..errors import CorruptDataError, IndexBuildError
from ..heapcheck import HEAP_SIGNATURE

__all__ = ["file_sizes", "read_descriptors", "heap_objects", "locate_in_objects", "join_objects"]


def file_sizes(f: h5py.File) -> tuple[int, int, int]:
    """``(sizeof_addr, sizeof_size, userblock)`` of an open file."""
    fcpl = f.id.get_create_plist()
    sa, ss = fcpl.get_sizes()
    return int(sa), int(ss), int(fcpl.get_userblock())


def read_descriptors(ds: h5py.Dataset, fd: int, sizeof_addr: int, base: int, rows: tuple | None = None) -> np.ndarray:
    """The VLEN descriptors ``(len, addr, idx)`` of a dataset, read from its raw storage.

    Shaped like the dataset, or like its rows ``lo:hi`` (first axis) when
    ``rows = (lo, hi)`` is given (only the chunks holding them are read).
    Raises :class:`IndexBuildError` for storage it cannot read by byte range
    (filters, virtual or compact layout).
    """
    name = ds.name
    dcpl = ds.id.get_create_plist()
    if dcpl.get_nfilters():
        raise IndexBuildError(f"{name}: VLEN data stored through filters cannot be indexed by byte range")
    desc_t = np.dtype([("len", "<u4"), ("addr", f"<u{sizeof_addr}"), ("idx", "<u4")])
    shape = ds.shape
    lo, hi = (0, shape[0] if shape else 1) if rows is None else rows
    out = np.zeros((hi - lo, *shape[1:]) if shape else (), dtype=desc_t)
    layout = dcpl.get_layout()
    if layout == h5py.h5d.CONTIGUOUS:
        off = ds.id.get_offset()
        if off is not None and out.size:
            skip = lo * (out.size // max(hi - lo, 1)) * desc_t.itemsize
            out[...] = _pread_array(fd, base + off + skip, out.size, desc_t, name).reshape(out.shape)
        return out
    if layout != h5py.h5d.CHUNKED:
        raise IndexBuildError(f"{name}: HDF5 layout {layout} (virtual or compact) cannot be indexed by byte range")
    chunks = ds.chunks
    if rows is None:
        infos = _all_chunks(ds.id)
    else:
        starts = [range(lo - lo % chunks[0], hi, chunks[0])] + [range(0, n, c) for n, c in zip(shape[1:], chunks[1:])]
        infos = (ds.id.get_chunk_info_by_coord(coord) for coord in itertools.product(*starts))
    count = int(np.prod(chunks))
    for info in infos:
        if info.byte_offset is None:  # never written: its elements read as empty
            continue
        block = _pread_array(fd, base + info.byte_offset, count, desc_t, name).reshape(chunks)
        _place(out, block, info.chunk_offset, lo)
    return out


def _all_chunks(dsid) -> list:
    """The storage info of every written chunk: one ``H5Dchunk_iter`` pass where HDF5 has it (HDF5 >= 1.14,
    h5py >= 3.8), one lookup per chunk otherwise."""
    if hasattr(dsid, "chunk_iter"):
        try:
            infos: list = []
            dsid.chunk_iter(infos.append)
            return infos
        except (AttributeError, NotImplementedError, RuntimeError):
            pass
    return [dsid.get_chunk_info(i) for i in range(dsid.get_num_chunks())]


def _place(out: np.ndarray, block: np.ndarray, offset: tuple, lo: int) -> None:
    """Copy the part of chunk ``block`` (at ``offset`` in the dataset) that falls in ``out`` (rows from ``lo``)."""
    dst, src = [], []
    for d, (o, c) in enumerate(zip(offset, block.shape)):
        start = o - lo if d == 0 else o
        a, b = max(start, 0), min(start + c, out.shape[d])
        if a >= b:
            return
        dst.append(slice(a, b))
        src.append(slice(a - start, b - start))
    out[tuple(dst)] = block[tuple(src)]


def _pread_array(fd: int, offset: int, count: int, dtype: np.dtype, what: str) -> np.ndarray:
    data = os.pread(fd, count * dtype.itemsize, offset)
    if len(data) != count * dtype.itemsize:
        raise CorruptDataError(f"{what}: raw storage at byte {offset} ends before {count} descriptors")
    return np.frombuffer(data, dtype=dtype)


def heap_objects(fd: int, addr: int, sizeof_size: int, what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Objects of the global heap collection at ``addr``: ``(index, data address, size)`` arrays."""
    head = os.pread(fd, 8 + sizeof_size, addr)
    if len(head) < 8 + sizeof_size or head[:4] != HEAP_SIGNATURE:
        raise CorruptDataError(f"{what}: no global heap collection at byte {addr}")
    size = int.from_bytes(head[8:], "little")
    buf = os.pread(fd, size, addr)
    if len(buf) != size:
        raise CorruptDataError(f"{what}: global heap collection at byte {addr} runs past the end of the file")
    hdr = 8 + sizeof_size
    pos, idx, off, sz = hdr, [], [], []
    while pos + hdr <= size:
        oid = int.from_bytes(buf[pos : pos + 2], "little")
        n = int.from_bytes(buf[pos + 8 : pos + 8 + sizeof_size], "little")
        if oid == 0:
            break
        idx.append(oid)
        off.append(addr + pos + hdr)
        sz.append(n)
        pos += hdr + ((n + 7) // 8) * 8
    return np.asarray(idx, np.uint64), np.asarray(off, np.uint64), np.asarray(sz, np.uint64)


def locate_in_objects(f: h5py.File, names: list, path: str, table) -> dict | None:
    """``{index name: (S, N, 2) [offset, nbytes]}`` of every payload of the VLEN datasets ``names`` (pairs of
    dataset and index name), found by joining their descriptors with the heap objects the heap scan walked
    (``table``: :meth:`strfh5.heapcheck.HeapObjects.table`), with no second pass over the file.

    Returns None when that cannot answer for every element (a descriptor naming a collection or an object the
    scan did not record, a size that differs from the descriptor's length, sizes of addresses and lengths other
    than 8 bytes): the caller then locates them another way, which words what is wrong.
    """
    sizeof_addr, sizeof_size, base = file_sizes(f)
    if table is None or sizeof_addr != 8 or sizeof_size != 8:
        return None
    key, data, size = table
    out = {}
    fd = os.open(path, os.O_RDONLY)
    try:
        for name, iname in names:
            ds = f[name]
            if ds.is_virtual:
                return None
            d = read_descriptors(ds, fd, sizeof_addr, base).reshape(-1)
            used = d["len"] > 0
            if used.any() and (int(d["addr"][used].max()) + base >= 2**47 or int(d["idx"][used].max()) >= 2**16):
                return None
            t, bad = join_objects(d, ds.dtype.metadata["vlen"].itemsize,
                                  lambda a, i: ((a + np.uint64(base)) << np.uint64(16)) | i, key, data, size)
            if bad is not None:
                return None
            out[iname] = t.reshape(*ds.shape, 2)
    finally:
        os.close(fd)
    return out


def join_objects(desc: np.ndarray, itemsize: int, key_of, keys: np.ndarray, offsets: np.ndarray,
                 sizes: np.ndarray) -> tuple[np.ndarray | None, int | None]:
    """``([offset, nbytes]`` per descriptor, None) by matching descriptors ``desc`` to the heap objects found.

    ``keys`` (sorted uint64) name the objects as ``key_of(collection address, object index)`` (both uint64
    arrays) names a descriptor's; ``offsets`` and ``sizes`` are the objects' payload offsets and sizes.
    An empty element gets ``0, 0``. Returns ``(None, j)`` for the first descriptor ``j`` that names no object
    or one whose size is not its length x ``itemsize``.
    """
    used = desc["len"] > 0
    out = np.zeros((desc.size, 2), dtype=np.uint64)
    if not used.any():
        return out, None
    want = key_of(desc["addr"][used].astype(np.uint64), desc["idx"][used].astype(np.uint64))
    nb = desc["len"][used].astype(np.uint64) * np.uint64(itemsize)
    if not keys.size:
        return None, int(np.flatnonzero(used)[0])
    pos = np.minimum(np.searchsorted(keys, want), keys.size - 1)
    bad = (keys[pos] != want) | (sizes[pos] != nb)
    if bad.any():
        return None, int(np.flatnonzero(used)[np.flatnonzero(bad)[0]])
    out[used, 0] = offsets[pos]
    out[used, 1] = nb
    return out, None
