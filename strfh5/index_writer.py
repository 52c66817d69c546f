"""Writing the response byte-range index ``/index`` of a file (SPEC §7.2).

:class:`strfh5.StreamWriter` calls :func:`add_index` on its temporary file
after everything else is written (the payload addresses exist only then);
``strfh5 index FILE`` calls it on existing files.
"""

from __future__ import annotations

import os

import numpy as np

from . import layout as L
from .errors import CorruptDataError, IndexBuildError
from .h5io import open_file
from .h5io.descriptors import file_sizes, heap_objects, read_descriptors
from .h5io.index import locate_payloads

__all__ = ["add_index", "locate_chained"]


def add_index(path) -> str:
    """Add (or rebuild) the response byte-range index ``/index`` of an existing plain file.

    The payload addresses are found after the data are written: the VLEN
    descriptors in the raw chunks of ``/responses`` (and ``/counts``) point
    at global heap objects whose addresses and sizes are read from the heap
    collections themselves (:func:`strfh5.h5io.index.locate_payloads`).
    The tables are stored contiguous and unfiltered so readers can memory-map
    them. Returns the path.

    Raises
    ------
    IndexBuildError
        A concatenated file (its rows live in the sources) or VLEN data
        stored through filters.
    """
    path = os.fspath(path)
    f = open_file(path, mode="r+")
    try:
        if f.attrs.get(L.ATTR_CONCATENATED, False):
            raise IndexBuildError(f"{path}: a concatenated file's rows live in its sources; index the sources "
                                  "(or materialize the file first)")
        names = [(L.RESPONSES, L.RESPONSE_INDEX_RESPONSES)]
        if L.COUNTS in f:
            names.append((L.COUNTS, L.RESPONSE_INDEX_COUNTS))
        tables = locate_chained(f, names, path) if _elements(f, names) >= CHAINED_FROM else None
        if tables is None:  # objects not laid out as the writer lays them: read every collection
            tables = {iname: locate_payloads(f, name, path) for name, iname in names}
        if L.RESPONSE_INDEX in f:
            del f[L.RESPONSE_INDEX]
        g = f.create_group(L.RESPONSE_INDEX)
        g.attrs[L.ATTR_INDEX_LAYOUT] = L.INDEX_LAYOUT
        for iname, table in tables.items():
            ds = f.create_dataset(iname, shape=table.shape, dtype="<u8")
            if table.size:
                ds[...] = table
    finally:
        f.close()
    return path


#: files with at least this many VLEN elements locate their payloads by the chained layout (faster; below it
#: the collection walk is as fast and its temporaries smaller)
CHAINED_FROM = 50_000


def _elements(f, names: list) -> int:
    return sum(int(np.prod(getattr(f.get(name), "shape", None) or (0,))) for name, _i in names)


def locate_chained(f, names: list, path: str) -> dict | None:
    """The index tables of :func:`~strfh5.h5io.index.locate_payloads`, found without parsing each collection.

    A file written row by row holds, in each global heap collection, the
    objects its VLEN rows reference, in index order from the collection's
    start (responses and counts rows interleaved). Their offsets then follow
    from the sizes the descriptors give; each predicted object header is
    checked against the file's bytes (index and size), so the result equals
    what a walk of every collection finds; a collection laid out otherwise
    (other objects first, a failed check) is walked. Returns None when a
    walked collection lacks an object (the caller's walk then reports it) or
    the sizes of addresses and lengths are not 8 bytes.
    """
    sizeof_addr, sizeof_size, base = file_sizes(f)
    if sizeof_size != 8 or sizeof_addr != 8:
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        desc = {}
        for name, iname in names:
            ds = f[name]
            if ds.is_virtual:
                return None
            desc[iname] = (read_descriptors(ds, fd, sizeof_addr, base), ds.dtype.metadata["vlen"].itemsize)
        return _chain(_Words(fd, os.fstat(fd).st_size), desc, base, fd)
    except (ValueError, IndexError, OSError, OverflowError, CorruptDataError):
        return None  # garbage descriptors or a layout this path does not handle: the caller walks the heaps
    finally:
        os.close(fd)


def _chain(buf: _Words, desc: dict, base: int, fd: int) -> dict | None:
    parts = []
    for iname, (d, item) in desc.items():
        flat = d.reshape(-1)
        used = flat["len"] > 0
        parts.append((flat["addr"][used], flat["idx"][used], flat["len"][used].astype(np.uint64) * np.uint64(item)))
    out = {iname: np.zeros((*d.shape, 2), np.uint64) for iname, (d, _i) in desc.items()}
    addr = np.concatenate([a for a, _i, _n in parts]).astype(np.uint64)
    if not addr.size:
        return out
    idx = np.concatenate([i for _a, i, _n in parts]).astype(np.uint64)
    order = np.lexsort((idx, addr))
    addr, idx = addr[order], idx[order]
    nb = np.concatenate([n for _a, _i, n in parts])[order]
    del parts
    first = np.empty(addr.size, bool)
    first[0] = True
    np.not_equal(addr[1:], addr[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    grp = np.cumsum(first) - 1
    del first
    rank = np.arange(1, addr.size + 1, dtype=np.uint64) - starts[grp].astype(np.uint64)
    bad = np.zeros(starts.size, bool)  # collections not in the chained layout: walked instead
    bad[grp[idx != rank]] = True
    del rank
    pos = np.cumsum(np.uint64(16) + (nb + np.uint64(7)) // np.uint64(8) * np.uint64(8))  # end of each object
    pos -= np.uint64(16) + (nb + np.uint64(7)) // np.uint64(8) * np.uint64(8)  # its header, from the chain start
    pos -= pos[starts][grp]
    pos += addr + np.uint64(base + 16)  # absolute: after the collection header (GCOL, version, size)
    coll = addr[starts].astype(np.int64) + base
    bad |= coll + 16 > buf.size
    good = ~bad[grp]
    if good.any():
        g = np.flatnonzero(good)
        bad[grp[g[pos[g] + np.uint64(16) > np.uint64(buf.size)]]] = True
        ok = np.flatnonzero(~bad)
        head, size = buf.words(coll[ok])
        bad[ok[(head & np.uint64(0xFFFFFFFF)) != np.uint64(_GCOL)]] = True
        csize = np.zeros(starts.size, np.uint64)
        csize[ok] = size
        g = np.flatnonzero(~bad[grp])
        hidx, hsize = buf.words(pos[g].astype(np.int64))
        hidx &= np.uint64(0xFFFF)
        inside = (pos[g] - addr[g] - np.uint64(base)) + np.uint64(16) <= csize[grp[g]]
        bad[grp[g[(hidx != idx[g]) | (hsize != nb[g]) | ~inside]]] = True
        del hidx, hsize, inside
    for c in np.flatnonzero(bad).tolist():  # walk these collections (the walk refuses what is broken)
        e = np.arange(starts[c], starts[c + 1] if c + 1 < starts.size else addr.size)
        widx, woff, wsize = heap_objects(fd, int(coll[c]), 8, "")
        first = np.unique(widx, return_index=True)[1]  # the first object of each index, as the walk keeps it
        widx, woff, wsize = widx[first], woff[first], wsize[first]
        at = np.minimum(np.searchsorted(widx, idx[e]), max(widx.size - 1, 0))
        if not widx.size or (widx[at] != idx[e]).any() or (wsize[at] != nb[e]).any():
            return None
        pos[e] = woff[at] - np.uint64(16)
    del idx
    pos += np.uint64(16)  # payload offset
    offset = np.empty_like(pos)
    offset[order] = pos
    size = np.empty_like(nb)
    size[order] = nb
    at = 0
    for iname, (d, _i) in desc.items():
        used = np.flatnonzero(d.reshape(-1)["len"] > 0)
        t = out[iname].reshape(-1, 2)
        t[used, 0] = offset[at : at + used.size]
        t[used, 1] = size[at : at + used.size]
        at += used.size
    return out


_GCOL = int.from_bytes(b"GCOL", "little")
#: bytes of the file read at a time by :class:`_Words` (one buffer, reused)
_SPAN = 2**23


class _Words:
    """The file's bytes as :meth:`words` sees them: read by bounded ``pread`` calls, never mapped (a file
    truncated while it is read gives a short read, refused, where a mapping would kill the process with SIGBUS).

    ``size`` is the file's size when it was opened; callers compare offsets with it.
    """

    def __init__(self, fd: int, size: int):
        self.fd, self.size = fd, size

    def words(self, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The two little-endian 8-byte words at each byte offset of ``at`` (each ``at + 16 <= size``), reading
        only the spans of :data:`_SPAN` bytes that hold one."""
        at = np.asarray(at, dtype=np.int64)
        w0, w1 = np.empty(at.size, np.uint64), np.empty(at.size, np.uint64)
        if not at.size:
            return w0, w1
        if int(at.min()) < 0 or int(at.max()) + 16 > self.size:
            raise CorruptDataError("an offset lies outside the file")
        order = np.argsort(at, kind="stable")
        s = at[order]
        blocks, first = np.unique(s // _SPAN, return_index=True)
        ends = np.append(first[1:], s.size)
        buf = bytearray(min(_SPAN + 16, self.size))
        for b, i, j in zip(blocks.tolist(), first.tolist(), ends.tolist()):
            lo = b * _SPAN
            n = min(_SPAN + 16, self.size - lo)
            if os.preadv(self.fd, [memoryview(buf)[:n]], lo) != n:
                raise CorruptDataError("the file became shorter while it was read")
            a = np.frombuffer(buf, np.uint8, count=n)
            rel = s[i:j] - lo
            into = order[i:j]
            phase = rel % 8
            for r in np.unique(phase).tolist():
                sel = np.flatnonzero(phase == r)
                words = a[r : r + (n - r) // 8 * 8].view("<u8")
                w = (rel[sel] - r) // 8
                w0[into[sel]] = words[w]
                w1[into[sel]] = words[w + 1]
        return w0, w1
