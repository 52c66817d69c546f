"""Checks of the row digests in ``/integrity`` (SPEC.md §7): codes E601–W603.

:func:`check_integrity_objects` checks the digest datasets (datatype, shape,
``algorithm`` attribute) and keeps those that can be verified;
:func:`verify_row` compares one stimulus row with its stored digests when
``checksums=True``.
"""

from __future__ import annotations

import h5py
import numpy as np

from .. import layout as L
from .context import Context
from .values import decode, dtype_name

__all__ = ["check_integrity_objects", "verify_row"]


def check_integrity_objects(ctx: Context) -> None:
    """The ``/integrity`` group and its digest datasets (E201–E204, E602, W603); sets ``ctx.digests``.

    A concatenated file stores no response data of its own and needs no
    ``/integrity`` group: its rows are verified in its sources.
    """
    enc = ctx.attrs_ok.get(L.ATTR_ENCODING)
    S = ctx.S
    ctx.digests = {}
    integ = ctx.lookup(L.INTEGRITY, kind=h5py.Group, required=not ctx.concatenated)
    if integ is not None:
        names = [(L.INTEGRITY_RESPONSES, L.RESPONSES)]
        if enc == L.ENCODING_EVENTS:
            names.append((L.INTEGRITY_COUNTS, L.COUNTS))
        for name, target in names:
            ds = ctx.lookup(name, kind=h5py.Dataset)
            if ds is None:
                continue
            if ds.dtype != np.uint8:
                ctx.add("E203", "/" + name, f"digests must be uint8, found {dtype_name(ds.dtype)}")
                continue
            if ds.shape != ((S if S is not None else ds.shape[0]), L.DIGEST_SIZE):
                ctx.add("E204", "/" + name, f"has shape {ds.shape}, expected (S, {L.DIGEST_SIZE}) = "
                                            f"({S}, {L.DIGEST_SIZE})")
                continue
            if _algorithm_ok(ctx, ds, name):
                ctx.digests[target] = ds
    elif ctx.concatenated and ctx.checksums:
        ctx.add("W603", f"/{L.INTEGRITY}", "a concatenated file stores no response data of its own: "
                                           "row digests are verified in its source files")


def _algorithm_ok(ctx: Context, ds: h5py.Dataset, name: str) -> bool:
    """Whether digest dataset ``name`` names the format's algorithm (else an E602 finding)."""
    alg = ds.attrs.get(L.ATTR_ALGORITHM)
    if alg is None:
        ctx.add("E602", f"/{name}@{L.ATTR_ALGORITHM}",
                f"digest algorithm attribute missing (expected '{L.DIGEST_ALGORITHM}')")
        return False
    try:
        alg = decode(alg)
    except Exception:  # noqa: BLE001
        alg = repr(alg)
    if alg != L.DIGEST_ALGORITHM:
        ctx.add("E602", f"/{name}@{L.ATTR_ALGORITHM}",
                f"unknown digest algorithm {alg!r} (this library knows '{L.DIGEST_ALGORITHM}')")
        return False
    return True


def verify_row(ctx: Context, s: int, raw, counts) -> None:
    """Compare row ``s`` of ``/responses`` (``raw``) and ``/counts`` (``counts`` or None) with their digests (E601)."""
    for name, row in ((L.RESPONSES, raw), (L.COUNTS, counts)):
        ds = ctx.digests.get(name)
        if ds is None or row is None:
            continue
        stored = bytes(np.asarray(ds[s], dtype=np.uint8))
        actual = L.row_digest(list(row))
        if stored != actual:
            ctx.add("E601", f"/{name}[{s}]",
                    f"row {s} does not match its digest /{L.INTEGRITY}/{name}[{s}] "
                    f"(stored {stored.hex()[:16]}…, computed {actual.hex()[:16]}…): "
                    "the data changed after they were written")
