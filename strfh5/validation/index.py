"""Checks of the optional response byte-range index ``/index`` (SPEC §7.2): E604-W607.

A reader never trusts the index (it verifies every row against the digests
and falls back to HDF5), so a wrong index costs speed, not correctness; the
validator still reports it so that a writer's bug or a rewritten file is
seen. Without ``checksums`` the table is checked for shape, type, identity
and plausibility (inside the file, lengths the repeats imply); with
``checksums`` the payload locations are found again from the file's own
VLEN descriptors and global heap and compared entry by entry.
"""

from __future__ import annotations


import h5py
import numpy as np

from .. import layout as L
from ..errors import CorruptDataError, IndexBuildError
from ..h5io.index import locate_payloads
from ..h5io.remote import file_size, is_url
from ..h5io.values import attr_str
from .context import Context

__all__ = ["check_index"]


def check_index(ctx: Context) -> None:
    """The index group, its tables and (with checksums) every entry against the file's payloads."""
    g = ctx.lookup(L.RESPONSE_INDEX, required=False, kind=h5py.Group)
    if g is None:
        return
    where = f"/{L.RESPONSE_INDEX}"
    if ctx.concatenated:
        ctx.add("W607", where, f"{where} in a concatenated file: its rows live in the sources, readers ignore it")
        return
    layout = attr_str(g.attrs.get(L.ATTR_INDEX_LAYOUT, ""))
    if layout != L.INDEX_LAYOUT:
        ctx.add("E604", where, f"{where}@{L.ATTR_INDEX_LAYOUT} is {layout!r}, expected {L.INDEX_LAYOUT!r}")
        return
    columns = [(L.RESPONSES, L.RESPONSE_INDEX_RESPONSES, ctx.resp)]
    if ctx.cnt is not None:
        columns.append((L.COUNTS, L.RESPONSE_INDEX_COUNTS, ctx.cnt))
    size = file_size(ctx.path)
    for name, iname, ds in columns:
        if ds is None:
            continue
        table = _table(ctx, iname, ds.shape)
        if table is None:
            continue
        if _plausible(ctx, name, iname, table, ds, size) and ctx.checksums:
            _matches(ctx, name, iname, table)


def _table(ctx: Context, iname: str, shape: tuple) -> np.ndarray | None:
    ds = ctx.lookup(iname, required=False, kind=h5py.Dataset)
    p = f"/{iname}"
    if ds is None:
        ctx.add("E604", p, f"{p} is missing (the index group holds one table per VLEN dataset)")
        return None
    if ds.shape != (*shape, 2) or ds.dtype.kind != "u" or ds.dtype.itemsize != 8:
        ctx.add("E604", p, f"{p} has shape {ds.shape} and type {ds.dtype}, expected {(*shape, 2)} uint64")
        return None
    return np.asarray(ds[()], dtype=np.uint64) if ds.size else np.zeros(ds.shape, np.uint64)


def _plausible(ctx: Context, name: str, iname: str, table: np.ndarray, ds: h5py.Dataset, size: int) -> bool:
    """Entries inside the file and of the lengths ``/repeats`` (and ``n_bins``) imply; E605 otherwise."""
    p = f"/{iname}"
    off, nb = table[..., 0], table[..., 1]
    bad = (nb > 0) & ((off == 0) | (off > np.uint64(size)) | (nb > np.uint64(size)) | (off + nb > np.uint64(size)))
    want = _expected_bytes(ctx, name, ds)
    if want is not None:
        bad |= nb != want
    if bad.any():
        s, n = (int(x) for x in np.argwhere(bad)[0])
        ctx.add("E605", p, f"{p}[{s}, {n}] = (offset {int(off[s, n])}, {int(nb[s, n])} bytes) lies outside the "
                           f"file ({size} bytes) or differs from the length /{L.REPEATS} implies "
                           f"({'?' if want is None else int(want[s, n])} bytes); {int(bad.sum())} entries in all")
        return False
    return True


def _expected_bytes(ctx: Context, name: str, ds: h5py.Dataset) -> np.ndarray | None:
    if ctx.rep is None or ctx.rep.shape != ds.shape:
        return None
    item = np.uint64(h5py.check_vlen_dtype(ds.dtype).itemsize)
    reps = np.asarray(ctx.rep[()], dtype=np.uint64)
    if name == L.COUNTS:
        return reps * item
    if attr_str(ctx.f.attrs.get(L.ATTR_ENCODING, "")) == L.ENCODING_BINNED and ctx.n_bins is not None \
            and len(ctx.n_bins) == ds.shape[0]:
        return reps * np.asarray(ctx.n_bins, dtype=np.uint64)[:, None] * item
    return None


def _matches(ctx: Context, name: str, iname: str, table: np.ndarray) -> None:
    """Every entry equals the payload location found from the VLEN descriptors and the heap (E606)."""
    if is_url(ctx.path):  # payloads are located through the file's bytes on disk; over HTTP the reads check them
        return
    found = ctx.located.get(name) if isinstance(ctx.located, dict) else None  # found by the responses checks
    try:
        truth = found if found is not None else locate_payloads(ctx.f, name, ctx.path)
    except (IndexBuildError, CorruptDataError):
        return  # the responses checks report a broken heap
    bad = np.any(truth != table, axis=-1)
    if bad.any():
        s, n = (int(x) for x in np.argwhere(bad)[0])
        p = f"/{iname}"
        ctx.add("E606", p, f"{p}[{s}, {n}] = {table[s, n].tolist()} but /{name}[{s}, {n}]'s payload lies at "
                           f"{truth[s, n].tolist()} (offset, bytes); {int(bad.sum())} entries differ")
