"""Checking the global heap objects HDF5 is about to read, from the descriptors that point at them (SPEC 1.1 §12.1).

Strings and VLEN values are stored as descriptors ``{uint32 length, heap
collection address, uint32 object index}``; HDF5 follows a descriptor by
loading the whole collection, and trusts it: a zeroed collection makes it
loop forever, a forged length makes it allocate what the length says.
``info``, ``validate`` and ``materialize`` scan every collection of the file
once (:func:`strfh5.heapcheck.check_global_heaps`); loads (eager and lazy),
a concatenation and lazy row reads check only what they are about to read
(their cost stays proportional to it):

* :func:`check_attributes` — the VLEN attributes of one object, whose
  descriptors lie in its object header (parsed here: version 1 and 2 headers,
  their continuation blocks, attribute messages);
* :func:`check_values` — a VLEN dataset, whole or some rows, whose
  descriptors lie in its raw storage (:func:`strfh5.h5io.descriptors.read_descriptors`).

Every collection a descriptor points at is walked
(:func:`strfh5.heapcheck.collection_objects`) and every descriptor's length
must equal its object's size; a selection may not declare more bytes than the
file holds.  What was checked is remembered per process and file (inode,
size, modification time), so each collection and object is checked once.
A virtual dataset's rows are checked in the sources that hold them.
Structures these parsers do not read (filtered or compact VLEN storage,
attributes in dense storage or of compound, array or reference types, a
virtual mapping that is not block to block) fall back to the whole-file scan,
once per process: slower, never unchecked (though without the length check).
Files opened through Python file objects (remote reads) are not checked.
"""

from __future__ import annotations

import os
from collections import OrderedDict

import h5py
import numpy as np

from ..errors import CorruptDataError, IndexBuildError
from ..heapcheck import check_global_heaps, collection_objects
from .descriptors import file_sizes, read_descriptors

__all__ = ["check_attributes", "check_values", "mark_scanned", "has_vlen", "release"]

_MAX_CHUNKS = 64  # object header chunks followed per object (a loop of continuations is refused)
_MAX_CHUNK_BYTES = 2**24
_CACHED_COLLECTIONS = 4096  # collections whose object sizes are kept (LRU); verified addresses are all kept
_GUARDS: "OrderedDict[tuple, _Guard]" = OrderedDict()
_MAX_GUARDS = 64
_VLEN, _HEAP_MAYBE = 9, (6, 7, 10)  # datatype classes: variable-length; compound, reference, array


class _Unparsed(Exception):
    """A structure the targeted check does not read: the whole file is scanned instead."""


def has_vlen(dtype: np.dtype) -> bool:
    """Whether reading values of ``dtype`` makes HDF5 follow heap descriptors."""
    if dtype.fields:
        return any(has_vlen(dtype.fields[k][0]) for k in dtype.fields)
    if dtype.subdtype is not None:
        return has_vlen(dtype.subdtype[0])
    if h5py.check_vlen_dtype(dtype) is not None:
        return True
    info = h5py.check_string_dtype(dtype)
    return info is not None and info.length is None or dtype.kind == "O"


class _Guard:
    """What was checked in one file (one process): collections, objects, datasets and rows."""

    def __init__(self, path: str, f: h5py.File, file_size: int):
        self.path, self.file_size = path, file_size
        self.sizeof_addr, self.sizeof_size, self.base = file_sizes(f)
        self.scanned = False  # every collection was checked by the whole-file scan (lengths still are not)
        self.sizes: OrderedDict = OrderedDict()  # collection address -> object sizes by index (-1: none)
        self.done: set = set()  # object headers and (dataset, rows) already checked
        self.virtual: dict = {}  # virtual dataset -> its source blocks (_source_maps)
        self.sources: dict = {}  # source path -> h5py.File, opened once per process

    def read(self, fd: int):
        """``read(offset, n)``: up to ``n`` bytes of the file from ``offset``; nothing outside the file."""
        size = self.file_size

        def read(off: int, n: int) -> bytes:
            if off < 0 or off >= size or n <= 0:
                return b""
            return os.pread(fd, min(n, size - off), off)
        return read

    def scan(self) -> None:
        if self.scanned:
            return
        problems = check_global_heaps(self.path, self.sizeof_size)
        if problems:
            raise CorruptDataError(f"{self.path}: corrupt variable-length data heap ({problems[0]}); HDF5 cannot "
                                   "read it safely")
        self.scanned = True

    def _objects(self, read, addr: int, what: str) -> np.ndarray:
        sizes = self.sizes.get(addr)
        if sizes is not None:
            self.sizes.move_to_end(addr)
            return sizes
        problem, objects = collection_objects(read, self.base + addr, self.file_size, self.sizeof_size)
        if problem:
            raise CorruptDataError(f"{self.path}: {what}: {problem}; HDF5 cannot read it safely")
        sizes = np.full(max(objects, default=0) + 1, -1, dtype=np.int64)
        sizes[list(objects)] = list(objects.values())
        self.sizes[addr] = sizes
        if len(self.sizes) > _CACHED_COLLECTIONS:
            self.sizes.popitem(last=False)
        return sizes

    def check(self, read, desc: np.ndarray, itemsize: int, what: str, where=None) -> None:
        """Every used descriptor of ``desc`` points at a sound heap object of its length; the total fits the file.

        ``where(j)`` names element ``j`` of the flattened descriptors.
        """
        desc = desc.reshape(-1)
        used = np.flatnonzero(desc["len"] > 0)
        if not used.size:
            return
        want = desc["len"][used].astype(np.int64) * (itemsize[used] if np.ndim(itemsize) else itemsize)
        total = int(want.sum())
        if total > self.file_size:
            j = int(used[np.argmax(np.cumsum(want) > self.file_size)])
            name = where(j) if where else f"[{j}]"
            raise CorruptDataError(f"{self.path}: {what}{name} declares {int(desc['len'][j])} values; with the "
                                   f"elements before it that is more variable-length data than the file holds "
                                   f"({self.file_size} bytes), refused before HDF5 allocates it")
        addrs = desc["addr"][used]
        uniq, inv = np.unique(addrs, return_inverse=True)
        tables = [self._objects(read, int(a), what) for a in uniq]
        lens = np.array([t.size for t in tables], dtype=np.int64)
        flat = np.concatenate(tables)
        start = np.concatenate([[0], np.cumsum(lens)[:-1]])
        idx = desc["idx"][used].astype(np.int64)
        inside = idx < lens[inv]
        have = np.where(inside, flat[start[inv] + np.where(inside, idx, 0)], -1)
        bad = np.flatnonzero(have != want)
        if bad.size:
            j = int(used[bad[0]])
            name = where(j) if where else f"[{j}]"
            got = "no object" if have[bad[0]] < 0 else f"an object of {int(have[bad[0]])} bytes"
            raise CorruptDataError(f"{self.path}: {what}{name} declares {int(desc['len'][j])} values "
                                   f"({int(want[bad[0]])} bytes) but its descriptor points at {got} in the global "
                                   f"heap collection at byte {int(addrs[bad[0]])}; HDF5 cannot read it safely")


def _guard(path: str, file_of) -> _Guard | None:
    """This process' guard of the local file ``path`` (None for files opened through Python file objects).

    ``file_of()`` returns the open :class:`h5py.File`; it is called only the
    first time the file (inode, size, modification time) is seen.
    """
    if not isinstance(path, str):
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    key = (os.getpid(), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    g = _GUARDS.get(key)
    if g is None:
        f = file_of()
        if f.driver == "fileobj":
            return None
        g = _GUARDS[key] = _Guard(path, f, st.st_size)
        if len(_GUARDS) > _MAX_GUARDS:
            _GUARDS.popitem(last=False)
    return g


def release(path: str) -> None:
    """Close the sources this process opened to check the rows of the concatenated file ``path``."""
    pid = os.getpid()
    for key, g in list(_GUARDS.items()):
        if key[0] == pid and g.path == path and g.sources:
            for f in g.sources.values():
                try:
                    f.close()
                except Exception:  # pragma: no cover - closing a dead handle
                    pass
            g.sources = {}


def mark_scanned(path: str, f: h5py.File) -> None:
    """Record that every collection of ``path`` was checked by the whole-file scan.

    The fallback scan is then skipped; descriptors are still checked against
    their objects' sizes (the scan does not read descriptors).
    """
    g = _guard(path, lambda: f)
    if g is not None:
        g.scanned = True


def check_attributes(obj, path: str) -> None:
    """Check the heap objects of every VLEN attribute of ``obj`` (a file, group or dataset) before any is read.

    Raises
    ------
    CorruptDataError
        A descriptor points at a corrupt collection or at an object of another size.
    """
    g = _guard(path, lambda: obj if isinstance(obj, h5py.File) else obj.file)
    if g is None:
        return
    key = ("attrs", obj.name)
    if key in g.done:
        return
    try:
        addr = h5py.h5o.get_info(obj.id).addr
    except (KeyError, RuntimeError, ValueError) as e:
        raise CorruptDataError(f"{path}: '{obj.name}' cannot be inspected ({e})") from None
    fd = os.open(path, os.O_RDONLY)
    try:
        read = g.read(fd)
        try:
            found = _attribute_descriptors(read, g.base + addr, g.sizeof_addr, g.sizeof_size)
        except _Unparsed:
            g.scan()
            return
        if found:  # one check for all of them; an element is named by its attribute
            ends = np.cumsum([d.size for _n, _i, d in found])
            desc = np.concatenate([d for _n, _i, d in found])
            itemsize = np.concatenate([np.full(d.size, i, np.int64) for _n, i, d in found])

            def where(j):
                a = int(np.searchsorted(ends, j, side="right"))
                return f"{found[a][0]}[{j - (int(ends[a - 1]) if a else 0)}]"
            g.check(read, desc, itemsize, f"attribute {obj.name}@", where)
    finally:
        os.close(fd)
    g.done.add(key)


def check_values(ds: h5py.Dataset, path: str, rows: tuple | None = None) -> None:
    """Check the heap objects of VLEN dataset ``ds`` (rows ``lo:hi`` of its first axis when ``rows`` is given).

    A dataset without VLEN values, or already checked in this process, costs a
    lookup.  A virtual dataset's values lie in its sources: the same rows are
    checked there.

    Raises
    ------
    CorruptDataError
        A descriptor points at a corrupt collection or at an object of another
        size (naming the dataset and the element).
    """
    if not has_vlen(ds.dtype):
        return
    g = _guard(path, lambda: ds.file)
    if g is None:
        return
    key = (ds.name, rows)
    if key in g.done or (ds.name, None) in g.done:
        return
    if ds.is_virtual:  # the values lie in the sources (a scan of the file itself does not cover them)
        _check_sources(g, ds, path, rows)
        g.done.add(key)
        return
    vlen = h5py.check_vlen_dtype(ds.dtype)
    itemsize = 1 if vlen is None or h5py.check_string_dtype(ds.dtype) is not None else np.dtype(vlen).itemsize
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            desc = read_descriptors(ds, fd, g.sizeof_addr, g.base, rows)
        except IndexBuildError:
            g.scan()
            return
        lo = rows[0] if rows else 0
        shape = desc.shape

        def where(j):
            at = [int(x) for x in np.unravel_index(j, shape)] if shape else []
            return f"[{', '.join(str(x + (lo if d == 0 else 0)) for d, x in enumerate(at))}]"
        g.check(g.read(fd), desc, itemsize, ds.name, where)
    finally:
        os.close(fd)
    g.done.add(key)


def _source_maps(ds: h5py.Dataset, path: str) -> list:
    """``(v_lo, v_hi, src_lo, src_path, src_name)`` of each source block of virtual ``ds`` (rows on the first axis).

    ``src_lo`` is None when the mapping is not one block onto one block of
    the same shape (the source is then scanned whole).
    """
    folder = os.path.dirname(os.path.abspath(path))
    out = []
    for m in ds.virtual_sources():
        src = path if m.file_name == "." else (m.file_name if os.path.isabs(m.file_name)
                                               else os.path.join(folder, m.file_name))
        try:
            (v0, v1), (s0, s1) = m.vspace.get_select_bounds(), m.src_space.get_select_bounds()
        except (ValueError, RuntimeError):  # a selection HDF5 gives no bounds for: the source is scanned
            out.append((0, ds.shape[0] - 1, None, src, m.dset_name))
            continue
        same = all(b - a == d - c for a, b, c, d in zip(v0, v1, s0, s1))
        whole = m.vspace.get_select_npoints() == int(np.prod([b - a + 1 for a, b in zip(v0, v1)]))
        out.append((v0[0], v1[0], s0[0] if same and whole else None, src, m.dset_name))
    return out


def _check_sources(g: _Guard, ds: h5py.Dataset, path: str, rows: tuple | None) -> None:
    """Check the rows ``rows`` of virtual ``ds`` in the sources that hold them (sources opened once per process)."""
    maps = g.virtual.get(ds.name)
    if maps is None:
        maps = g.virtual[ds.name] = _source_maps(ds, path)
    lo, hi = rows if rows else (0, ds.shape[0])
    for v0, v1, s0, src, name in maps:
        if v1 < lo or v0 >= hi or not os.path.isfile(src):
            continue  # not in the rows read, or a source the source checks refuse
        f = g.sources.get(src)
        if f is None:
            f = g.sources[src] = h5py.File(src, "r")
        if s0 is None:
            sg = _guard(src, lambda: f)
            if sg is not None:
                sg.scan()
            continue
        sds = f.get(name)
        if isinstance(sds, h5py.Dataset) and not sds.is_virtual:
            check_values(sds, src, (s0 + max(lo, v0) - v0, s0 + min(hi - 1, v1) - v0 + 1))


# ------------------------------------------------------------------ object headers (HDF5 format, "Object Header")
def _messages(read, addr: int, sizeof_addr: int, sizeof_size: int):
    """``(type, flags, data)`` of every message of the object header at byte ``addr``, continuations followed."""
    head = read(addr, 16)
    if head[:4] == b"OHDR" and len(head) >= 6 and head[4] == 2:
        flags = head[5]
        p = 6 + (16 if flags & 0x20 else 0) + (4 if flags & 0x10 else 0)
        width = 1 << (flags & 3)
        head = read(addr, p + width)
        size = int.from_bytes(head[p:p + width], "little")
        queue, v2 = [(addr + p + width, size, False)], True
        mhdr = 4 + (2 if flags & 0x04 else 0)
    elif len(head) == 16 and head[0] == 1:
        queue, v2, mhdr = [(addr + 16, int.from_bytes(head[8:12], "little"), False)], False, 8
    else:
        raise _Unparsed
    seen = set()
    while queue:
        start, size, cont = queue.pop()
        if start in seen or len(seen) >= _MAX_CHUNKS or size > _MAX_CHUNK_BYTES:
            raise _Unparsed
        seen.add(start)
        buf = read(start, size)
        if len(buf) != size:
            raise _Unparsed
        p, end = 0, size
        if v2 and cont:
            if buf[:4] != b"OCHK":
                raise _Unparsed
            p, end = 4, size - 4
        while p + mhdr <= end:
            if v2:
                mtype, msize, mflags = buf[p], int.from_bytes(buf[p + 1:p + 3], "little"), buf[p + 3]
            else:
                mtype, msize, mflags = int.from_bytes(buf[p:p + 2], "little"), int.from_bytes(buf[p + 2:p + 4], "little"), buf[p + 4]
            data = buf[p + mhdr:p + mhdr + msize]
            if len(data) != msize:
                raise _Unparsed
            p += mhdr + msize
            if mtype == 0x10:  # continuation: offset, length
                queue.append((int.from_bytes(data[:sizeof_addr], "little"),
                              int.from_bytes(data[sizeof_addr:sizeof_addr + sizeof_size], "little"), True))
            else:
                yield mtype, mflags, data


def _attribute_descriptors(read, addr: int, sizeof_addr: int, sizeof_size: int) -> list:
    """``(name, itemsize, descriptors)`` of every VLEN attribute stored in the object header at ``addr``."""
    desc_t = np.dtype([("len", "<u4"), ("addr", f"<u{sizeof_addr}"), ("idx", "<u4")])
    undefined = b"\xff" * sizeof_addr
    out = []
    for mtype, mflags, d in _messages(read, addr, sizeof_addr, sizeof_size):
        if mtype == 0x15:  # attribute info: a fractal heap address means dense storage
            p = 2 + (2 if d[1] & 1 else 0)
            if d[p:p + sizeof_addr] != undefined:
                raise _Unparsed
            continue
        if mtype != 0x0C:
            continue
        if mflags & 0x02 or len(d) < 8 or d[0] not in (1, 2, 3) or (d[0] > 1 and d[1] & 0x03):
            raise _Unparsed  # a shared attribute message, datatype or dataspace
        nsz, dsz, ssz = (int.from_bytes(d[i:i + 2], "little") for i in (2, 4, 6))
        pad = (lambda n: -(-n // 8) * 8) if d[0] == 1 else (lambda n: n)
        p = 9 if d[0] == 3 else 8
        name = d[p:p + nsz].rstrip(b"\0").decode("utf-8", "replace")
        p += pad(nsz)
        dt = d[p:p + dsz]
        p += pad(dsz) + pad(ssz)
        if len(dt) < 8 or p > len(d):
            raise _Unparsed
        cls = dt[0] & 0x0F
        if cls in _HEAP_MAYBE:
            raise _Unparsed
        if cls != _VLEN:
            continue
        string = dt[1] & 0x0F == 1
        if not string and (len(dt) < 16 or dt[8] & 0x0F in (_VLEN, *_HEAP_MAYBE)):
            raise _Unparsed  # a sequence of values that are themselves heap references
        itemsize = 1 if string else int.from_bytes(dt[12:16], "little")
        n = (len(d) - p) // desc_t.itemsize
        out.append((name, max(itemsize, 1), np.frombuffer(d[p:p + n * desc_t.itemsize], dtype=desc_t)))
    return out
