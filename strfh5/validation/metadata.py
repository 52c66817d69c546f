"""Checks of the JSON metadata records and their schemas (SPEC.md §8, §5.3): codes E701–E704, W413.

Every record (``/metadata``, each entry of ``/stimuli/metadata`` and
``/neurons/metadata``, ``/stimuli@transform``) must be strict UTF-8 JSON
(RFC 8259: no NaN/Infinity, no duplicate keys) holding an object, valid
against the schema the root attributes name when that schema ships with this
library.
"""

from __future__ import annotations


import h5py

from .. import layout as L
from .. import schema as _schema
from ..errors import CorruptDataError
from ..jsonsafe import loads
from .context import Context
from .values import decode, dtype_name, is_string_dtype, iter_table, short

__all__ = ["check_metadata", "check_record", "strict_json"]

#: record kind -> root attribute naming its schema
_SCHEMA_ATTRS = (("file", L.ATTR_SCHEMA_FILE), ("stimulus", L.ATTR_SCHEMA_STIMULUS),
                 ("neuron", L.ATTR_SCHEMA_NEURON))


def strict_json(text: str):
    """Parse RFC 8259 JSON as readers do (:func:`strfh5.jsonsafe.loads` strict): NaN/Infinity, duplicate keys
    and nesting deeper than :data:`strfh5.jsonsafe.MAX_DEPTH` are refused (ValueError)."""
    try:
        return loads(text, "record", strict=True)
    except CorruptDataError as e:
        raise ValueError(str(e).removeprefix("record: ")) from None


def check_metadata(ctx: Context) -> None:
    """Schema ids (E704), every metadata record (E701–E703) and the stimulus transform (W413)."""
    schemas = {}
    for kind, attr in _SCHEMA_ATTRS:
        sid = ctx.attrs_ok.get(attr)
        if sid is None:
            continue
        try:
            _schema.get_schema(sid)
        except Exception:  # noqa: BLE001 - SchemaNotFoundError
            ctx.add("E704", f"/@{attr}", f"{kind} schema {sid!r} is not shipped with this strfh5 library "
                                         f"(known ids: strfh5.schema.schema_ids()); {kind} metadata not "
                                         "checked against it")
            continue
        schemas[kind] = sid
    ctx.info["schemas"] = {k: ctx.attrs_ok.get(a) for k, a in _SCHEMA_ATTRS}
    # file-level record
    ds = ctx.lookup(L.METADATA, required=False, kind=h5py.Dataset)
    if ds is not None:
        if not is_string_dtype(ds.dtype):
            ctx.add("E203", f"/{L.METADATA}", f"must be a UTF-8 string, found {dtype_name(ds.dtype)}")
        elif ds.shape != ():
            ctx.add("E204", f"/{L.METADATA}", f"must be a scalar string, found shape {ds.shape}")
        else:
            check_record(ctx, ds[()], f"/{L.METADATA}", schemas.get("file"), "file metadata")
    for name, kind in ((L.STIM_METADATA, "stimulus"), (L.NEURON_METADATA, "neuron")):
        ds = ctx.lookup(name, required=False, kind=h5py.Dataset)
        if ds is None or not is_string_dtype(ds.dtype) or len(ds.shape) != 1 or not ctx.data_readable(ds):
            continue
        for i, v in iter_table(ds):
            check_record(ctx, v, f"/{name}[{i}]", schemas.get(kind), f"{kind} {i} metadata")
    _check_transform(ctx)


def _check_transform(ctx: Context) -> None:
    """``/stimuli@transform`` (E203, E701–E703); W413 when a spectrogram file lacks it."""
    stimuli = ctx.lookup(L.STIMULI, required=False, kind=h5py.Group)
    if stimuli is None:
        return
    p = f"/{L.STIMULI}@{L.ATTR_TRANSFORM}"
    if L.ATTR_TRANSFORM in stimuli.attrs:
        aid = stimuli.attrs.get_id(L.ATTR_TRANSFORM)
        if not is_string_dtype(aid.dtype) or aid.shape != ():
            ctx.add("E203", p, f"must be a scalar UTF-8 JSON string, found {dtype_name(aid.dtype)}")
        else:
            check_record(ctx, stimuli.attrs[L.ATTR_TRANSFORM], p, _schema.CORE["transform"], "stimulus transform")
    elif ctx.attrs_ok.get(L.ATTR_STIM_KIND) == L.STIM_SPECTROGRAM:
        ctx.add("W413", p, "spectrogram file without the transform attribute: the file does not say "
                           "how its spectrograms were computed (SPEC §5.3)")


def check_record(ctx: Context, raw, path: str, schema_id: str | None, what: str) -> None:
    """One stored record: UTF-8 (E701), strict JSON (E701), an object (E702), valid against ``schema_id`` (E703)."""
    try:
        text = decode(raw)
    except UnicodeDecodeError as e:
        ctx.add("E701", path, f"{what} is not valid UTF-8 ({e})")
        return
    try:
        rec = strict_json(text)
    except ValueError as e:
        snippet = text if len(text) <= 60 else text[:57] + "..."
        ctx.add("E701", path, f"{what} is not valid strict JSON ({e}): {snippet!r}")
        return
    if not isinstance(rec, dict):
        ctx.add("E702", path, f"{what} must be a JSON object, found a JSON {type(rec).__name__}")
        return
    if schema_id is None:
        return
    errs = _schema.iter_errors(rec, schema_id)
    if errs:
        ctx.add("E703", path, f"{what} fails schema {schema_id}: {short(errs)}")
