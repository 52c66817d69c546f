"""Checks of the object tree, datatypes and shapes (SPEC.md §3.2, §4.4–§4.5, §5.1, §6): codes E201–W210.

:func:`check_structure` finds the required groups and datasets, checks the
string tables and ``n_bins`` (which give S and N), ``/stimuli@count``, and the
datatype and (S, N) shape of ``/responses``, ``/counts`` and ``/repeats``;
what passes is stored in the context for the row checks.  It ends with the
``/integrity`` objects (:func:`.integrity.check_integrity_objects`).
:func:`check_unknown` reports objects the format does not define (W205).
"""

from __future__ import annotations

import h5py
import numpy as np

from .. import layout as L
from .context import Context
from .integrity import check_integrity_objects
from .values import dtype_name, exact_ints, hard_stimulus_group, is_string_dtype, little_endian, unwritten

__all__ = ["check_structure", "check_unknown"]

_STRING_TABLES = (L.STIM_IDS, L.STIM_METADATA, L.NEURON_IDS, L.NEURON_METADATA)


def check_structure(ctx: Context) -> None:
    """Required objects, datatypes and shapes; sets ``ctx.S``, ``ctx.N``, ``ctx.n_bins`` and the datasets."""
    G, D = h5py.Group, h5py.Dataset
    stimuli = ctx.lookup(L.STIMULI, kind=G)
    neurons = ctx.lookup(L.NEURONS, kind=G)
    ctx.lookup(L.METADATA, kind=D)
    tables = {}
    if stimuli is not None:
        for name in (L.STIM_IDS, L.STIM_METADATA, L.STIM_N_BINS):
            tables[name] = ctx.lookup(name, kind=D)
    if neurons is not None:
        for name in (L.NEURON_IDS, L.NEURON_METADATA):
            tables[name] = ctx.lookup(name, kind=D)
    S, N = _check_tables(ctx, tables)
    ctx.S, ctx.N = S, N
    if S is not None:
        ctx.info["S"] = S
    if N is not None:
        ctx.info["N"] = N
    if stimuli is not None and L.ATTR_COUNT in stimuli.attrs:
        p = f"/{L.STIMULI}@{L.ATTR_COUNT}"
        cnt = ctx.guard("structure", p, lambda: np.asarray(stimuli.attrs[L.ATTR_COUNT]))
        if cnt is not None and (cnt.shape != () or cnt.dtype.kind not in "iu"):
            ctx.add("E203", p, f"must be a scalar integer, found {cnt.dtype} {cnt.shape}")
        elif cnt is not None and S is not None and int(cnt) != S:
            ctx.add("E206", p, f"count = {int(cnt)} but /{L.STIM_IDS} has {S} entries")
    _check_pair_datasets(ctx)
    check_integrity_objects(ctx)


def _check_tables(ctx: Context, tables: dict) -> tuple[int | None, int | None]:
    """The string tables and ``/stimuli/n_bins`` (E203, W207, E204); returns (S, N)."""
    S = N = None
    for name in _STRING_TABLES:
        ds = tables.get(name)
        if ds is None:
            continue
        if not is_string_dtype(ds.dtype):
            ctx.add("E203", "/" + name, f"must hold UTF-8 strings, found {dtype_name(ds.dtype)}")
            tables[name] = None
            continue
        if h5py.check_string_dtype(ds.dtype).length is not None:
            ctx.add("W207", "/" + name, "stored as fixed-length strings; variable-length UTF-8 "
                                        "strings are recommended (SPEC §1.3)")
        if len(ds.shape) != 1:
            ctx.add("E204", "/" + name, f"must be 1-D, found shape {ds.shape}")
            tables[name] = None
        elif not ds.is_virtual and unwritten(ds):
            # its length gives S or N: a declared length with nothing stored must not drive a scan
            ctx.add("E204", "/" + name, f"{unwritten(ds)}: the table was never written")
            tables[name] = None
    if tables.get(L.STIM_IDS) is not None:
        S = tables[L.STIM_IDS].shape[0]
    if tables.get(L.NEURON_IDS) is not None:
        N = tables[L.NEURON_IDS].shape[0]
    nb = tables.get(L.STIM_N_BINS)
    if nb is not None:
        if np.dtype(nb.dtype).kind != "u":
            ctx.add("E203", f"/{L.STIM_N_BINS}", f"must be an unsigned integer type, found {dtype_name(nb.dtype)}")
            nb = None
        elif len(nb.shape) != 1:
            ctx.add("E204", f"/{L.STIM_N_BINS}", f"must be 1-D, found shape {nb.shape}")
            nb = None
        elif not nb.is_virtual and unwritten(nb):
            ctx.add("E204", f"/{L.STIM_N_BINS}", f"{unwritten(nb)}: the table was never written")
            nb = None
        elif S is None:
            S = nb.shape[0]
    for name, other, ref in ((L.STIM_METADATA, S, L.STIM_IDS), (L.STIM_N_BINS, S, L.STIM_IDS),
                             (L.NEURON_METADATA, N, L.NEURON_IDS)):
        ds = tables.get(name) if name != L.STIM_N_BINS else nb
        if ds is not None and other is not None and ds.shape[0] != other:
            ctx.add("E204", "/" + name, f"has {ds.shape[0]} entries, /{ref} has {other}")
            if name == L.STIM_N_BINS:
                nb = None
    if nb is not None and S is not None and ctx.data_readable(nb):
        ctx.n_bins = exact_ints(nb[()])
    return S, N


def _check_pair_datasets(ctx: Context) -> None:
    """``/responses``, ``/counts``, ``/repeats``: datatype, fill value and (S, N) shape (E203, E204, E208, W209)."""
    enc = ctx.attrs_ok.get(L.ATTR_ENCODING)
    rk = ctx.attrs_ok.get(L.ATTR_RESPONSE_KIND)
    D = h5py.Dataset
    S, N = ctx.S, ctx.N
    shape = (S, N) if S is not None and N is not None else None
    ctx.resp = ctx.lookup(L.RESPONSES, kind=D)
    ctx.rep = ctx.lookup(L.REPEATS, kind=D)
    ctx.cnt = None
    if enc == L.ENCODING_EVENTS:
        ctx.cnt = ctx.lookup(L.COUNTS, kind=D)
    elif enc == L.ENCODING_BINNED and ctx.lookup(L.COUNTS, required=False) is not None:
        ctx.add("W209", f"/{L.COUNTS}", "per-repeat counts belong to events files; ignored in a binned file")
    if ctx.resp is not None:
        base = h5py.check_vlen_dtype(ctx.resp.dtype)
        if base is None or base in (str, bytes):
            ctx.add("E203", f"/{L.RESPONSES}", f"must be a variable-length sequence dataset, found "
                                               f"{dtype_name(ctx.resp.dtype)}")
            ctx.resp = None
        else:
            base = np.dtype(base)
            allowed = None
            if enc == L.ENCODING_EVENTS:
                allowed, what = L.EVENT_TIME_DTYPES, "float32 or float64 spike times"
            elif rk == L.RESPONSE_COUNTS:
                allowed, what = L.COUNT_DTYPES, "unsigned integer counts (uint8/16/32/64)"
            elif rk == L.RESPONSE_CONTINUOUS:
                allowed, what = (L.CONTINUOUS_DTYPE,), "float32 continuous values"
            if allowed is not None and little_endian(base) not in allowed:
                ctx.add("E203", f"/{L.RESPONSES}", f"elements are {base.name}; {enc} / {rk} files store {what}")
                ctx.resp = None
    if ctx.cnt is not None:
        base = h5py.check_vlen_dtype(ctx.cnt.dtype)
        if base is None or base in (str, bytes) or little_endian(np.dtype(base)) not in L.COUNT_DTYPES:
            ctx.add("E203", f"/{L.COUNTS}", f"must be a variable-length sequence of unsigned integers, "
                                            f"found {dtype_name(ctx.cnt.dtype)}")
            ctx.cnt = None
    if ctx.rep is not None:
        if little_endian(ctx.rep.dtype) not in L.COUNT_DTYPES:
            ctx.add("E203", f"/{L.REPEATS}", f"must be an unsigned integer type, found {dtype_name(ctx.rep.dtype)}")
            ctx.rep = None
        elif ctx.rep.fillvalue != 0:
            ctx.add("E208", f"/{L.REPEATS}", f"fill value is {ctx.rep.fillvalue}; it must be 0 so that "
                                             "unwritten or unmapped pairs read as not recorded")
    for attr, name in (("resp", L.RESPONSES), ("cnt", L.COUNTS), ("rep", L.REPEATS)):
        ds = getattr(ctx, attr)
        if ds is None:
            continue
        if len(ds.shape) != 2:
            ctx.add("E204", "/" + name, f"must be 2-D (S, N), found shape {ds.shape}")
            setattr(ctx, attr, None)
        elif shape is not None and ds.shape != shape:
            ctx.add("E204", "/" + name, f"has shape {ds.shape}, expected (S, N) = {shape} "
                                        f"(S from /{L.STIM_IDS}, N from /{L.NEURON_IDS})")
            setattr(ctx, attr, None)


def check_unknown(ctx: Context) -> None:
    """Objects format 1.0 does not define, at the top levels and in stimulus groups (W205)."""
    known = {
        "/": {L.METADATA, L.RESPONSES, L.COUNTS, L.REPEATS, L.STIMULI, L.NEURONS, L.INTEGRITY, L.SOURCES,
              L.RESPONSE_INDEX},
        f"/{L.STIMULI}": {"ids", "metadata", "n_bins"},
        f"/{L.NEURONS}": {"ids", "metadata"},
        f"/{L.INTEGRITY}": {"responses", "counts"},
    }
    for gpath, names in known.items():
        g = ctx.f if gpath == "/" else ctx.lookup(gpath.strip("/"), required=False, kind=h5py.Group)
        if g is None:
            continue
        for name in g.keys():
            if name in names or (gpath == f"/{L.STIMULI}" and name.isdigit()):
                continue
            p = f"{gpath.rstrip('/')}/{name}"
            ctx.add("W205", p, f"unknown object '{p}' (not part of format {L.FORMAT_VERSION_STR}; "
                               "readers ignore it)")
    stimuli = ctx.lookup(L.STIMULI, required=False, kind=h5py.Group)
    if stimuli is None or ctx.S is None:
        return
    for s in range(ctx.S):
        if _plain_stimulus_group(stimuli, s):
            continue
        link = stimuli.get(L.stim_group_name(s), getlink=True)
        if not isinstance(link, h5py.HardLink):
            continue
        g = stimuli[L.stim_group_name(s)]
        if not isinstance(g, h5py.Group):
            continue
        for name in g.keys():
            if name not in (L.STIM_DATA, L.STIM_WAVEFORM_DS):
                p = f"/{L.stim_group_path(s)}/{name}"
                ctx.add("W205", p, f"unknown object '{p}' in a stimulus group (readers ignore it)")


def _plain_stimulus_group(stimuli: h5py.Group, s: int) -> bool:
    """True when stimulus group ``s`` is a hard-linked group holding only names the format defines (checked with
    low-level calls); False sends it through :func:`check_unknown`'s h5py objects."""
    gid = hard_stimulus_group(stimuli, s)
    if gid is None:
        return False
    try:
        return all(n in _KNOWN_IN_STIMULUS for n in gid)
    except Exception:  # noqa: BLE001 - the h5py path decides (and reports what it finds)
        return False


_KNOWN_IN_STIMULUS = frozenset({L.STIM_DATA.encode(), L.STIM_WAVEFORM_DS.encode()})
