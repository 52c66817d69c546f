"""Checks of the root attributes (SPEC.md §3.1): codes E101–W106.

Presence (E101), HDF5 type and shape (E102), allowed values (E103), the
``modality``/``stim_kind`` and ``response_kind``/``encoding`` pairings
(E104, E105) and unknown root attributes (W106).  The values that pass are
stored in ``ctx.attrs_ok`` for the later checks.
"""

from __future__ import annotations

import datetime as _dt
import uuid as _uuid

import numpy as np

from .. import layout as L
from .context import Context
from .values import decode, dtype_name, is_string_dtype

__all__ = ["check_root_attrs"]

#: root attributes holding a scalar UTF-8 string
_STRING_ATTRS = (L.ATTR_UUID, L.ATTR_CREATED_BY, L.ATTR_CREATED_AT, L.ATTR_ENCODING, L.ATTR_MODALITY,
                 L.ATTR_STIM_KIND, L.ATTR_RESPONSE_KIND, L.ATTR_SCHEMA_FILE, L.ATTR_SCHEMA_STIMULUS,
                 L.ATTR_SCHEMA_NEURON)


def _attr_string(ctx: Context, name: str, path: str) -> str | None:
    """Root attribute ``name`` as ``str``, or None after an E102 finding."""
    aid = ctx.f.attrs.get_id(name)
    if not is_string_dtype(aid.dtype) or aid.shape != ():
        ctx.add("E102", path, f"must be a scalar UTF-8 string, found {dtype_name(aid.dtype)} "
                              f"of shape {aid.shape}")
        return None
    try:
        return decode(ctx.f.attrs[name])
    except UnicodeDecodeError as e:
        ctx.add("E102", path, f"string is not valid UTF-8 ({e})")
        return None


def check_root_attrs(ctx: Context) -> None:
    """Every root attribute except the format marker's value (checked by :func:`.markers.check_markers`)."""
    a = ctx.f.attrs
    present = set(a.keys())
    for name in L.REQUIRED_ROOT_ATTRS:
        if name in (L.ATTR_FORMAT, L.ATTR_VERSION):
            continue
        if name not in present:
            ctx.add("E101", f"/@{name}", f"required root attribute '{name}' is missing")
    # version attribute type (its value was checked by check_markers)
    if L.ATTR_VERSION in present:
        ctx.guard("root-attributes", f"/@{L.ATTR_VERSION}", _attr_string, ctx, L.ATTR_VERSION,
                  f"/@{L.ATTR_VERSION}")
    strings = {}
    for name in _STRING_ATTRS:
        if name in present:
            strings[name] = ctx.guard("root-attributes", f"/@{name}", _attr_string, ctx, name, f"/@{name}")
    _check_kinds(ctx, strings)
    _check_provenance(ctx, strings)
    for name in (L.ATTR_SCHEMA_FILE, L.ATTR_SCHEMA_STIMULUS, L.ATTR_SCHEMA_NEURON):
        if strings.get(name) is not None:
            ctx.attrs_ok[name] = strings[name]
    if L.ATTR_DT_MS in present:
        _check_dt_ms(ctx)
    if L.ATTR_STIM_DIMS in present:
        _check_stim_dims(ctx)
    if L.ATTR_CONCATENATED in present:
        _check_concatenated(ctx)
    if ctx.version <= L.FORMAT_VERSION:
        known = set(L.REQUIRED_ROOT_ATTRS) | {L.ATTR_CONCATENATED}
        for name in sorted(present - known):
            ctx.add("W106", f"/@{name}", f"unknown root attribute '{name}' (not part of format "
                                         f"{L.FORMAT_VERSION_STR}; readers ignore it)")


def _check_kinds(ctx: Context, strings: dict) -> None:
    """The enumerated attributes and how they pair (E103–E105)."""
    ok = ctx.attrs_ok

    def enum(name, allowed):
        v = strings.get(name)
        if v is None:
            return None
        if v not in allowed:
            ctx.add("E103", f"/@{name}", f"'{name}' = {v!r} is not one of {', '.join(map(repr, allowed))}")
            return None
        ok[name] = v
        ctx.info[name] = v
        return v

    enc = enum(L.ATTR_ENCODING, L.ENCODINGS)
    kind = enum(L.ATTR_STIM_KIND, L.STIM_KINDS)
    modality = enum(L.ATTR_MODALITY, L.MODALITIES)
    rk = enum(L.ATTR_RESPONSE_KIND, L.RESPONSE_KINDS)
    if kind and modality and L.STIM_KIND_MODALITY[kind] != modality:
        ctx.add("E104", f"/@{L.ATTR_MODALITY}",
                f"modality {modality!r} does not match stim_kind {kind!r} "
                f"(expected {L.STIM_KIND_MODALITY[kind]!r})")
    if enc and rk and rk not in L.ENCODING_RESPONSE_KINDS[enc]:
        ctx.add("E105", f"/@{L.ATTR_RESPONSE_KIND}",
                f"response_kind {rk!r} does not fit encoding {enc!r} "
                f"(expected one of {', '.join(map(repr, L.ENCODING_RESPONSE_KINDS[enc]))})")
        ok.pop(L.ATTR_RESPONSE_KIND, None)


def _check_provenance(ctx: Context, strings: dict) -> None:
    """``uuid``, ``created_by`` and ``created_at`` (E103)."""
    if strings.get(L.ATTR_UUID) is not None:
        u = strings[L.ATTR_UUID]
        try:
            parsed = _uuid.UUID(u)
            if str(parsed) != u.lower():
                raise ValueError
        except ValueError:
            ctx.add("E103", f"/@{L.ATTR_UUID}",
                    f"uuid {u!r} is not an RFC 4122 UUID in canonical 8-4-4-4-12 hex form")
        else:
            ctx.info["uuid"] = u
    if strings.get(L.ATTR_CREATED_BY) is not None and not strings[L.ATTR_CREATED_BY].strip():
        ctx.add("E103", f"/@{L.ATTR_CREATED_BY}", "created_by is empty (expected e.g. 'strfh5 0.1.0')")
    if strings.get(L.ATTR_CREATED_AT) is not None:
        t = strings[L.ATTR_CREATED_AT]
        try:
            when = _dt.datetime.fromisoformat(t.replace("Z", "+00:00"))
            if when.tzinfo is None:
                raise ValueError
        except ValueError:
            ctx.add("E103", f"/@{L.ATTR_CREATED_AT}",
                    f"created_at {t!r} is not an ISO 8601 date-time with a UTC offset "
                    "(e.g. '2024-05-01T12:00:00+00:00')")


def _check_dt_ms(ctx: Context) -> None:
    """``dt_ms``: a positive finite scalar float (E102, E103)."""
    a = ctx.f.attrs
    aid = a.get_id(L.ATTR_DT_MS)
    if aid.shape != () or np.dtype(aid.dtype).kind != "f":
        ctx.add("E102", f"/@{L.ATTR_DT_MS}",
                f"dt_ms must be a scalar floating-point number, found {dtype_name(aid.dtype)} "
                f"of shape {aid.shape}")
        return
    v = float(a[L.ATTR_DT_MS])
    if not np.isfinite(v) or v <= 0:
        ctx.add("E103", f"/@{L.ATTR_DT_MS}", f"dt_ms = {v} must be a positive finite number of ms")
    else:
        ctx.attrs_ok[L.ATTR_DT_MS] = v
        ctx.info["dt_ms"] = v


def _check_stim_dims(ctx: Context) -> None:
    """``stim_dims``: positive integers, one per non-time stimulus axis of ``stim_kind`` (E102, E103)."""
    a = ctx.f.attrs
    kind = ctx.attrs_ok.get(L.ATTR_STIM_KIND)
    aid = a.get_id(L.ATTR_STIM_DIMS)
    if len(aid.shape) != 1 or np.dtype(aid.dtype).kind not in "iu":
        ctx.add("E102", f"/@{L.ATTR_STIM_DIMS}",
                f"stim_dims must be a 1-D integer array, found {dtype_name(aid.dtype)} "
                f"of shape {aid.shape}")
        return
    dims = tuple(int(d) for d in np.asarray(a[L.ATTR_STIM_DIMS]).reshape(-1))
    bad = False
    if kind and len(dims) != L.STIM_KIND_NDIM[kind] - 1:
        expect = {L.STIM_SPECTROGRAM: "(C, F)", L.STIM_WAVEFORM: "(C,)", L.STIM_VIDEO: "(C, H, W)"}[kind]
        ctx.add("E103", f"/@{L.ATTR_STIM_DIMS}",
                f"stim_dims {list(dims)} has {len(dims)} entries; stim_kind {kind!r} needs "
                f"{L.STIM_KIND_NDIM[kind] - 1}: {expect}")
        bad = True
    if any(d < 1 for d in dims):
        ctx.add("E103", f"/@{L.ATTR_STIM_DIMS}", f"stim_dims {list(dims)} must be positive sizes")
        bad = True
    if not bad:
        ctx.attrs_ok[L.ATTR_STIM_DIMS] = dims
        ctx.info["stim_dims"] = list(dims)


def _check_concatenated(ctx: Context) -> None:
    """The optional ``concatenated`` flag: a scalar boolean (E102); sets ``ctx.concatenated``."""
    a = ctx.f.attrs
    aid = a.get_id(L.ATTR_CONCATENATED)
    kindc = np.dtype(aid.dtype).kind
    val = None
    if aid.shape == () and kindc in "biu":
        val = int(np.asarray(a[L.ATTR_CONCATENATED]))
    if val not in (0, 1):
        ctx.add("E102", f"/@{L.ATTR_CONCATENATED}",
                f"'concatenated' must be a scalar boolean, found {dtype_name(aid.dtype)} "
                f"of shape {aid.shape}")
    else:
        ctx.concatenated = bool(val)
        ctx.info["concatenated"] = ctx.concatenated
        if not val:  # SPEC 1.1 §3.1: present only as TRUE; readers refuse FALSE
            ctx.add("E103", f"/@{L.ATTR_CONCATENATED}",
                    "'concatenated' is FALSE; the attribute is present only in concatenated files, and then TRUE "
                    "(remove it from a plain file); readers refuse the file")
