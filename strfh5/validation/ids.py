"""Checks that stimulus and neuron ids are unique (SPEC.md §5.1, §6): codes E301–E302.

Ids must be unique in a file; in a concatenated file (or a materialized copy
of one) they must be unique within the block of each source recorded in
``/sources`` (SPEC.md §9.6), since unmerged blocks may share ids.
"""

from __future__ import annotations

import h5py

from .. import layout as L
from ..h5io import read_sources
from .context import Context
from .values import decode, is_string_dtype, iter_table

__all__ = ["check_ids", "read_strings"]


def check_ids(ctx: Context) -> None:
    """Duplicate stimulus ids (E301) and neuron ids (E302)."""
    blocks = _source_blocks(ctx)
    for name, code, what in ((L.STIM_IDS, "E301", "stimulus"), (L.NEURON_IDS, "E302", "neuron")):
        ds = ctx.lookup(name, required=False, kind=h5py.Dataset)
        if ds is None or not is_string_dtype(ds.dtype) or len(ds.shape) != 1 or not ctx.data_readable(ds):
            continue
        ids = read_strings(ctx, ds, "/" + name)
        if blocks is None:
            groups = [(None, range(len(ids)))]
        else:
            groups = [(k, rows if what == "stimulus" else cols) for k, (rows, cols) in enumerate(blocks)]
        for k, positions in groups:
            seen: dict[str, int] = {}
            scope = "in a file" if k is None else f"within the block of source {k} (/{L.SOURCES})"
            for i in positions:
                i = int(i)
                x = ids[i] if 0 <= i < len(ids) else None
                if x is None:
                    continue
                if x in seen:
                    ctx.add(code, f"/{name}[{i}]", f"{what} id {x!r} at position {i} duplicates position "
                                                   f"{seen[x]}; {what} ids must be unique {scope}")
                else:
                    seen[x] = i


def _source_blocks(ctx: Context):
    """Rows and columns of each source recorded in ``/sources`` (concatenations and their copies), or None."""
    if ctx.f.get(L.SOURCES, getlink=True) is None:
        return None
    try:
        recs = read_sources(ctx.f, ctx.path, allow_external=True)
    except Exception:  # noqa: BLE001 - reported by the concatenation checks; fall back to file-wide ids
        return None
    return [(r.stim_rows, range(r.neuron_offset, r.neuron_offset + r.n_neurons)) for r in recs]


def read_strings(ctx: Context, ds: h5py.Dataset, path: str) -> list:
    """Decode a 1-D string table in blocks; undecodable entries become None (E701)."""
    out: list = []
    for i, v in iter_table(ds):
        try:
            out.append(decode(v))
        except UnicodeDecodeError as e:
            ctx.add("E701", f"{path}[{i}]", f"string is not valid UTF-8 ({e})")
            out.append(None)
    return out
