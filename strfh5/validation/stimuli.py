"""Checks of the stimulus groups (SPEC.md §5.2): codes E401–E412.

One group ``/stimuli/<6-digit index>`` per stimulus 0..S-1 holding a
floating-point ``data`` dataset whose shape fits ``stim_kind`` and
``stim_dims`` (and ``n_bins`` for spectrograms and videos), stored with
filters every HDF5 library has, finite everywhere; waveforms (and kept source
waveforms) carry a positive ``sample_rate``.  Data are scanned in bounded
slabs, so memory stays bounded whatever a stimulus' size; a slab also spans a
bounded number of chunks (one-element chunks cost HDF5 memory per chunk).
Before any scan the declared size is compared with the storage the file holds
(SPEC.md §12): a dataset whose chunks were never written is reported (E408),
not scanned — a 10 KB file may declare a 128 GiB stimulus.
"""

from __future__ import annotations

import math

import h5py
import numpy as np

from .. import layout as L
from .context import Context
from .values import all_finite, dtype_name, hard_stimulus_group, little_endian, unwritten

__all__ = ["check_stimuli", "check_stimulus", "check_sample_rate", "check_filters", "check_finite"]

#: bytes of stimulus data read at a time by the NaN/Inf scan
_SLAB_BYTES = 64 * 2**20
#: most chunks one read of the NaN/Inf scan may span
_SLAB_CHUNKS = 4096
#: HDF5 filters every HDF5 build has (deflate, shuffle, fletcher32, szip, nbit, scaleoffset)
_BUILTIN_FILTERS = {1, 2, 3, 4, 5, 6}


def check_stimuli(ctx: Context) -> None:
    """Group names (E402), then each stimulus 0..S-1 under its own guard."""
    stimuli = ctx.lookup(L.STIMULI, required=False, kind=h5py.Group)
    if stimuli is None or ctx.S is None:
        return
    S = ctx.S
    kind = ctx.attrs_ok.get(L.ATTR_STIM_KIND)
    dims = ctx.attrs_ok.get(L.ATTR_STIM_DIMS)
    # groups beyond S or with non-canonical names
    for name in list(stimuli.keys()):
        if name.isdigit():
            idx = int(name)
            if name != L.stim_group_name(idx):
                ctx.add("E402", f"/{L.STIMULI}/{name}",
                        f"group name {name!r} is not canonical for index {idx} "
                        f"(expected {L.stim_group_name(idx)!r}: zero-padded to {L.STIM_GROUP_DIGITS} digits)")
            elif idx >= S:
                ctx.add("E402", f"/{L.STIMULI}/{name}",
                        f"stimulus group {idx} but the file has S = {S} stimuli (0..{S - 1})")
    for s in range(S):
        ctx.guard("stimuli", "/" + L.stim_group_path(s), _check_one, ctx, stimuli, s, kind, dims)


def _check_one(ctx: Context, stimuli: h5py.Group, s: int, kind, dims) -> None:
    """Stimulus ``s`` through low-level HDF5 calls when its group and data are plain hard-linked objects (the
    usual case: a few HDF5 calls instead of a dozen h5py object lookups); :func:`check_stimulus` otherwise.
    Both record the same findings."""
    opened = _open_plain(stimuli, s)
    if opened is None:
        check_stimulus(ctx, stimuli, s, kind, dims)
        return
    gid, dsid, dcpl = opened
    dp = f"/{L.stim_group_path(s)}/{L.STIM_DATA}"
    dtype, shape = dsid.dtype, dsid.shape
    shape_ok = _shape_ok(ctx, dtype, shape, dp, s, kind, dims)
    _filters(ctx, dcpl, shape, dp)
    if kind == L.STIM_WAVEFORM:
        check_sample_rate(ctx, h5py.Dataset(dsid), dp)
    if shape_ok:
        _finite_plain(ctx, dsid, dcpl, dtype, shape, dp, "E407", f"stimulus {s}")
    if kind != L.STIM_WAVEFORM and gid.links.exists(L.STIM_WAVEFORM_DS.encode()):
        _check_kept_waveform(ctx, h5py.Group(gid), s)


def _open_plain(stimuli: h5py.Group, s: int):
    """``(group id, dataset id, creation plist)`` of stimulus ``s`` when the group and its ``data`` are hard
    links to a group and a non-virtual dataset; None when anything else is there (the slow path words it)."""
    gid = hard_stimulus_group(stimuli, s)
    if gid is None:
        return None
    try:
        if gid.links.get_info(L.STIM_DATA.encode()).type != h5py.h5l.TYPE_HARD:
            return None
        dsid = h5py.h5d.open(gid, L.STIM_DATA.encode())
        dcpl = dsid.get_create_plist()
        if dcpl.get_layout() == h5py.h5d.VIRTUAL:
            return None
    except Exception:  # noqa: BLE001 - missing, not a group or dataset, unreadable: the slow path reports it
        return None
    return gid, dsid, dcpl


def _shape_ok(ctx: Context, dtype, shape, dp: str, s: int, kind, dims) -> bool:
    """The dtype (E404) and shape (E405, E406) of a stimulus' data; False when its values are not scanned."""
    shape_ok = True
    if np.dtype(dtype).kind != "f" or little_endian(dtype) not in L.STIM_DTYPES:
        ctx.add("E404", dp, f"stimulus data are {dtype_name(dtype)}; expected float16, float32 or float64")
        shape_ok = False
    if kind is not None:
        nd = L.STIM_KIND_NDIM[kind]
        if len(shape) != nd:
            ctx.add("E405", dp, f"shape {shape} has {len(shape)} axes; {kind} stimuli have {nd} "
                                "(channel first, time last)")
            shape_ok = False
        elif dims is not None and tuple(shape[:-1]) != tuple(dims):
            ctx.add("E405", dp, f"shape {shape}: non-time axes {tuple(shape[:-1])} differ from "
                                f"stim_dims {tuple(dims)} shared by every stimulus of the file")
            shape_ok = False
        elif kind != L.STIM_WAVEFORM and ctx.n_bins is not None and shape[-1] != ctx.n_bins[s]:
            ctx.add("E406", dp, f"{shape[-1]} time frames but /{L.STIM_N_BINS}[{s}] = {ctx.n_bins[s]} "
                                f"({kind} stimuli share the response time axis)")
    return shape_ok


def check_stimulus(ctx: Context, stimuli: h5py.Group, s: int, kind, dims) -> None:
    """Stimulus ``s``: its group and data (E401, E403–E410) and a kept source waveform (E410)."""
    gname = L.stim_group_name(s)
    gp = "/" + L.stim_group_path(s)
    link = stimuli.get(gname, getlink=True)
    if link is None:
        ctx.add("E401", gp, f"stimulus group for index {s} is missing (expected one group per stimulus 0..S-1)")
        return
    g = ctx.lookup(L.stim_group_path(s), kind=h5py.Group)
    if g is None:
        return
    dlink = g.get(L.STIM_DATA, getlink=True)
    if dlink is None:
        ctx.add("E403", f"{gp}/{L.STIM_DATA}", f"stimulus {s} has no '{L.STIM_DATA}' dataset")
        return
    ds = ctx.lookup(f"{L.stim_group_path(s)}/{L.STIM_DATA}", kind=h5py.Dataset)
    if ds is None:
        return
    dp = f"{gp}/{L.STIM_DATA}"
    if _virtual(ctx, ds, dp):
        return
    shape_ok = _shape_ok(ctx, ds.dtype, ds.shape, dp, s, kind, dims)
    check_filters(ctx, ds, dp)
    if kind == L.STIM_WAVEFORM:
        check_sample_rate(ctx, ds, dp)
    if shape_ok and ctx.data_readable(ds):
        check_finite(ctx, ds, dp, "E407", f"stimulus {s}")
    # kept source waveform
    if kind != L.STIM_WAVEFORM and g.get(L.STIM_WAVEFORM_DS, getlink=True) is not None:
        _check_kept_waveform(ctx, g, s)


def _check_kept_waveform(ctx: Context, g: h5py.Group, s: int) -> None:
    """The optional ``waveform`` kept next to a spectrogram or video (E409, E410, W411, E412)."""
    wp = f"/{L.stim_group_path(s)}/{L.STIM_WAVEFORM_DS}"
    w = ctx.lookup(f"{L.stim_group_path(s)}/{L.STIM_WAVEFORM_DS}", kind=h5py.Dataset)
    if w is None or _virtual(ctx, w, wp):
        return
    ok = True
    compact = np.dtype(w.dtype) == L.WAVEFORM_INT_DTYPE
    if len(w.shape) != 2 or (np.dtype(w.dtype).kind != "f" and not compact):
        ctx.add("E410", wp, f"kept waveform must be a floating-point or int16-with-scale (C, T_audio) array, "
                            f"found {dtype_name(w.dtype)} of shape {w.shape}")
        ok = False
    if compact and not _valid_scale(w):
        ctx.add("E410", f"{wp}@{L.ATTR_WAVEFORM_SCALE}", "an int16 kept waveform needs a positive finite scalar "
                                                        "'scale' attribute (the amplitude of one integer unit)")
    check_sample_rate(ctx, w, wp)
    check_filters(ctx, w, wp)
    if ok and not compact and ctx.data_readable(w):
        check_finite(ctx, w, wp, "E410", f"kept waveform of stimulus {s}")


def _virtual(ctx: Context, ds: h5py.Dataset, dp: str) -> bool:
    """Whether ``ds`` is a virtual dataset, which is never read (SPEC 1.1 §9.4, §12).

    In a plain file it is reported by the link checks (E802); reached through a
    concatenated file's stimulus link it lies in a source and is E911.
    """
    if not ds.is_virtual:
        return False
    if ctx.concatenated:
        ctx.add("E911", dp, "a source's stimulus dataset is a virtual dataset; readers refuse it and its data "
                            "were not read (stimulus datasets of a source hold their data themselves)")
    return True


def _valid_scale(w: h5py.Dataset) -> bool:
    """True when an int16 kept waveform has a positive finite scalar ``scale``."""
    if L.ATTR_WAVEFORM_SCALE not in w.attrs:
        return False
    aid = w.attrs.get_id(L.ATTR_WAVEFORM_SCALE)
    if aid.shape != () or np.dtype(aid.dtype).kind not in "fiu":
        return False
    v = float(w.attrs[L.ATTR_WAVEFORM_SCALE])
    return bool(np.isfinite(v) and v > 0)


def check_sample_rate(ctx: Context, ds: h5py.Dataset, dp: str) -> None:
    """``sample_rate`` of a waveform: a positive finite scalar number of Hz (E409)."""
    p = f"{dp}@{L.ATTR_SAMPLE_RATE}"
    if L.ATTR_SAMPLE_RATE not in ds.attrs:
        ctx.add("E409", p, "sample_rate attribute (Hz) is missing")
        return
    aid = ds.attrs.get_id(L.ATTR_SAMPLE_RATE)
    if aid.shape != () or np.dtype(aid.dtype).kind not in "fiu":
        ctx.add("E409", p, f"sample_rate must be a scalar number, found {dtype_name(aid.dtype)} {aid.shape}")
        return
    v = float(ds.attrs[L.ATTR_SAMPLE_RATE])
    if not np.isfinite(v) or v <= 0:
        ctx.add("E409", p, f"sample_rate = {v} must be a positive finite number of Hz")


def check_filters(ctx: Context, ds: h5py.Dataset, dp: str) -> None:
    """Filters outside HDF5's built-in set (E412); the recommended gzip+shuffle+fletcher32 missing (W411)."""
    if ds.size == 0 or ds.is_virtual:
        return
    _filters(ctx, ds.id.get_create_plist(), ds.shape, dp)


def _filters(ctx: Context, plist, shape, dp: str) -> None:
    """:func:`check_filters` of a non-virtual dataset from its creation property list."""
    if math.prod(shape) == 0:
        return
    codes = []
    for i in range(plist.get_nfilters()):
        code, _flags, _vals, name = plist.get_filter(i)
        codes.append(code)
        if code not in _BUILTIN_FILTERS:
            nm = name.decode("ascii", "replace") if isinstance(name, bytes) else str(name)
            ctx.add("E412", dp, f"uses HDF5 filter {code} ({nm!r}), which is not built into every HDF5 "
                                "library: MATLAB/Julia/h5dump readers may fail; use gzip")
    missing = [n for c, n in ((1, "gzip"), (2, "shuffle"), (3, "fletcher32")) if c not in codes]
    if missing:
        ctx.add("W411", dp, f"stored without {', '.join(missing)} (SPEC §5.2 recommends "
                            "gzip + shuffle + fletcher32 for stimulus arrays)")


def _slab_step(ds: h5py.Dataset) -> int:
    """Time frames per read: at most :data:`_SLAB_BYTES` and :data:`_SLAB_CHUNKS` chunks."""
    return _step(ds.shape, ds.chunks, ds.dtype.itemsize)


def _step(shape, chunks, itemsize: int) -> int:
    """:func:`_slab_step` from a dataset's shape, chunk shape (None when not chunked) and item size."""
    per_step = max(1, int(np.prod(shape[:-1])) * itemsize)
    step = max(1, _SLAB_BYTES // per_step)
    if chunks is not None:
        across = 1
        for n, c in zip(shape[:-1], chunks[:-1]):
            across *= -(-n // c)
        step = min(step, max(1, _SLAB_CHUNKS // across) * chunks[-1])
    return step


def check_finite(ctx: Context, ds: h5py.Dataset, dp: str, code: str, what: str) -> None:
    """Scan ``ds`` for NaN/Inf (``code``) in bounded slabs along its last axis; unreadable data give E408.

    Data never written (:func:`unwritten`) are reported as E408 and not scanned.
    """
    if ds.size == 0:
        return
    if not ds.is_virtual:
        why = unwritten(ds)
        if why:
            ctx.add("E408", dp, f"{what}: {why}: its data were never written; not read")
            return
    step = _slab_step(ds)
    T = ds.shape[-1]
    bad = 0
    first = None
    for a in range(0, T, step):
        try:
            block = ds[..., a: a + step]
        except OSError as e:
            _unreadable(ctx, dp, what, a, min(T, a + step) - 1, e)
            return
        k, at = _nonfinite(block)
        if k and first is None:
            first = a + at
        bad += k
    _report_nonfinite(ctx, code, dp, what, bad, first)


def _nonfinite(block: np.ndarray) -> tuple[int, int | None]:
    """``(count, time index of the first)`` of the NaN/Inf values of ``block`` (time last); one sum when all
    are finite (:func:`all_finite`)."""
    if all_finite(block):
        return 0, None
    nf = ~np.isfinite(block)
    bad = int(nf.sum())
    return bad, (int(np.argwhere(nf)[0][-1]) if bad else None)


def _unreadable(ctx: Context, dp: str, what: str, a: int, b: int, e: Exception) -> None:
    ctx.add("E408", dp, f"{what}: data cannot be read (time frames {a}..{b}): "
                        f"{e} — a fletcher32 checksum failure means the stored bytes changed")


def _report_nonfinite(ctx: Context, code: str, dp: str, what: str, bad: int, first) -> None:
    if bad:
        ctx.add(code, dp, f"{what} holds {bad} NaN/Inf value(s) (first at time index {first}); "
                          "stimuli must be finite")


def _finite_plain(ctx: Context, dsid, dcpl, dtype, shape, dp: str, code: str, what: str) -> None:
    """:func:`check_finite` of a non-virtual dataset whose scan is one slab: one read into a new array."""
    size = math.prod(shape)
    if size == 0:
        return
    why = unwritten(dsid, dcpl)
    if why:
        ctx.add("E408", dp, f"{what}: {why}: its data were never written; not read")
        return
    T = shape[-1]
    chunks = dcpl.get_chunk() if dcpl.get_layout() == h5py.h5d.CHUNKED else None
    if _step(shape, chunks, np.dtype(dtype).itemsize) < T:
        check_finite(ctx, h5py.Dataset(dsid), dp, code, what)
        return
    block = np.empty(shape, dtype=dtype)
    try:
        dsid.read(h5py.h5s.ALL, h5py.h5s.ALL, block)
    except OSError as e:
        _unreadable(ctx, dp, what, 0, T - 1, e)
        return
    _report_nonfinite(ctx, code, dp, what, *_nonfinite(block))
