"""Building blocks of the hostile files: valid bases, outside targets, and edits (h5py or raw bytes).

Every case builds its files in its own folder ``<root>/<case>/``; what lies
*outside* what the file may reference goes to ``<root>/<case>-outside/``: a
FIFO tripwire (any open of it is seen by the runner) and an HDF5 file of
distinctive data (a read of it shows in the values).
"""

from __future__ import annotations

import os
import shutil
import struct
from dataclasses import dataclass, field

import h5py
import malformed
import numpy as np

import strfh5
from strfh5 import layout as L

STR = h5py.string_dtype("utf-8")
#: value of every sample of the outside data (a read of it shows in the values)
OUTSIDE_VALUE = 7777.0

_BASES = {"events": malformed.build_events, "binned": malformed.build_binned,
          "waveform": malformed.build_waveform, "continuous": malformed.build_continuous}


@dataclass
class Files:
    """What a case built: the file to open, and what the runner needs around it."""

    path: str
    other: str | None = None  # a valid file the case's file can be concatenated with
    ref: str | None = None  # a file the case's file must read the same as
    tripwires: list = field(default_factory=list)  # FIFOs no entry point may open
    load_kwargs: dict = field(default_factory=dict)


def base(folder: str, kind: str = "events", name: str = "case.strf.h5") -> str:
    """A valid base file of ``kind`` in ``folder`` (and an untouched twin ``other.strf.h5``)."""
    os.makedirs(folder, exist_ok=True)
    p = os.path.join(folder, name)
    _BASES[kind](p)
    with h5py.File(p, "r+") as f:  # cases edit /responses in place: drop the optional byte-range index
        if L.RESPONSE_INDEX in f:  # (reads through a checked index are tested in tests/test_response_index.py)
            del f[L.RESPONSE_INDEX]
    shutil.copy(p, os.path.join(folder, "other.strf.h5"))
    return p


def files(path: str, **kw) -> Files:
    return Files(path, other=os.path.join(os.path.dirname(path), "other.strf.h5"), **kw)


def outside(folder: str) -> tuple[str, str, str]:
    """The outside folder of a case: (folder, FIFO tripwire, HDF5 file of OUTSIDE_VALUE data)."""
    out = folder.rstrip("/") + "-outside"
    os.makedirs(out, exist_ok=True)
    fifo = os.path.join(out, "trap.fifo")
    if not os.path.exists(fifo):
        os.mkfifo(fifo)
    data = os.path.join(out, "outside.h5")
    with h5py.File(data, "w") as f:
        f.create_dataset("data", data=np.full((1, 4, 10), OUTSIDE_VALUE, np.float32))
        f.create_dataset("ids", data=np.array(["x", "y", "z"], dtype=object), dtype=STR)
        g = f.create_group("stim")
        g.create_dataset("data", data=np.full((1, 4, 10), OUTSIDE_VALUE, np.float32))
    return out, fifo, data


def edit(path: str, fn) -> None:
    """Apply ``fn(f)`` to the file opened for writing."""
    with h5py.File(path, "r+") as f:
        fn(f)


def external(obj: str, filename: str, target: str):
    """An edit replacing ``obj`` by an external link ``filename:target``."""
    def fn(f):
        del f[obj]
        f[obj] = h5py.ExternalLink(filename, target)
    return fn


def virtual(obj: str, filename: str, target: str, shape, dtype=np.float32):
    """An edit replacing ``obj`` by a virtual dataset mapping ``filename:target`` whole."""
    def fn(f):
        del f[obj]
        layout = h5py.VirtualLayout(shape=shape, dtype=dtype)
        layout[...] = h5py.VirtualSource(filename, target, shape=shape, dtype=dtype)
        f.create_virtual_dataset(obj, layout, fillvalue=0)
    return fn


def replace(obj: str, data, **kw):
    """An edit replacing ``obj`` by a new dataset holding ``data``."""
    def fn(f):
        attrs = dict(f[obj].attrs) if isinstance(f.get(obj), h5py.Dataset) else {}
        del f[obj]
        ds = f.create_dataset(obj, data=data, **kw)
        for k, v in attrs.items():
            ds.attrs[k] = v
    return fn


def set_vlen(obj: str, dtype, values: dict, redigest: bool = False):
    """An edit recreating VLEN ``obj`` with base ``dtype`` and some elements replaced (``{(s, n): array}``).

    ``redigest`` rewrites the row digests of ``/integrity/<obj>`` for the new
    type, as a writer storing that type would have (SPEC §7 digests values
    in their stored width).
    """
    def fn(f):
        old = f[obj][()]
        chunks = f[obj].chunks
        del f[obj]
        ds = f.create_dataset(obj, shape=old.shape, dtype=h5py.vlen_dtype(np.dtype(dtype)), chunks=chunks)
        rows = [[np.asarray(values.get((s, n), old[s, n])).astype(dtype) for n in range(old.shape[1])]
                for s in range(old.shape[0])]
        for s, row in enumerate(rows):
            for n, e in enumerate(row):
                ds[s, n] = e
        if redigest:
            dig = f[f"{L.INTEGRITY}/{obj}"]
            for s, row in enumerate(rows):
                dig[s] = np.frombuffer(L.row_digest(row), dtype=np.uint8)
    return fn


def set_repeats(values: dict, dtype="u8"):
    """An edit recreating ``/repeats`` in ``dtype`` with some entries replaced."""
    def fn(f):
        old = f[L.REPEATS][()].astype(np.uint64)
        for idx, v in values.items():
            old[idx] = v
        del f[L.REPEATS]
        f.create_dataset(L.REPEATS, data=old.astype(dtype), fillvalue=0, chunks=True)
    return fn


def set_metadata(text):
    """An edit storing ``text`` (str or bytes) as ``/metadata``."""
    def fn(f):
        del f[L.METADATA]
        if isinstance(text, bytes):  # bytes stored as they are (an ASCII-charset string type)
            f.create_dataset(L.METADATA, data=text, dtype=h5py.string_dtype("ascii"))
        else:
            f.create_dataset(L.METADATA, data=text, dtype=STR)
    return fn


def zero_heap(path: str, offset: int = 16, n: int = 4096, at: int | None = None) -> None:
    """Zero ``n`` bytes of the global heap collection at byte ``at`` (the first), ``offset`` bytes past its signature."""
    data = open(path, "rb").read()
    at = data.find(b"GCOL") if at is None else at
    assert at >= 0, path
    with open(path, "r+b") as fh:
        fh.seek(at + offset)
        fh.write(b"\0" * min(n, struct.unpack_from("<Q", data, at + 8)[0] - offset))


def concatenated(folder: str, sub: str = "src", kind: str = "events") -> tuple[str, str, str]:
    """Sources ``<folder>/<sub>/a|b.strf.h5`` and their concatenation ``<folder>/cat.strf.h5``."""
    src = os.path.join(folder, sub)
    os.makedirs(src, exist_ok=True)
    a, b = os.path.join(src, "a.strf.h5"), os.path.join(src, "b.strf.h5")
    _BASES[kind](a)
    _BASES[kind](b)
    cat = os.path.join(folder, "cat.strf.h5")
    strfh5.concat([a, b], cat, allow_duplicate_neurons=True)
    _BASES[kind](os.path.join(folder, "other.strf.h5"))
    return cat, a, b
