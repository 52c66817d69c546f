"""JSON Schemas of strfh5 metadata, shipped with the library (SPEC §8).

Schemas are JSON Schema draft 2020-12 documents in the repository's top-level
``schema/`` folder (shipped in the wheel as ``strfh5/schemas/``):
``core/`` holds the schemas every file satisfies (file, stimulus, neuron
metadata and the stimulus transform), ``sources/<source>/`` the per-source
schemas that tighten them with ``allOf: [{"$ref": <core id>}]``.  Schemas are
resolved only from these files, never from the network.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from .errors import MetadataError, SchemaNotFoundError

__all__ = [
    "CORE",
    "KINDS",
    "schema_ids",
    "get_schema",
    "source_schemas",
    "iter_errors",
    "validate_record",
    "dumps",
]

_BASE = "https://schema.strfh5.org"
#: the core schema ids of format 1.0, by metadata kind
CORE = {
    "file": f"{_BASE}/core/1.0/file.schema.json",
    "stimulus": f"{_BASE}/core/1.0/stimulus.schema.json",
    "neuron": f"{_BASE}/core/1.0/neuron.schema.json",
    "transform": f"{_BASE}/core/1.0/transform.schema.json",
}
KINDS = ("file", "stimulus", "neuron")


def schema_root() -> Path:
    """The folder holding the shipped schemas: ``strfh5/schemas`` in a wheel, ``schema/`` in a checkout."""
    here = Path(__file__).resolve().parent
    for root in (here / "schemas", here.parent / "schema"):
        if (root / "core").is_dir():
            return root
    raise SchemaNotFoundError(f"the strfh5 JSON Schemas are not installed (looked in {here / 'schemas'} "
                              f"and {here.parent / 'schema'}); reinstall strfh5")


def _schema_files():
    stack = [schema_root()]
    while stack:
        d = stack.pop()
        for entry in d.iterdir():
            if entry.is_dir():
                stack.append(entry)
            elif entry.name.endswith(".schema.json"):
                yield entry


@lru_cache(maxsize=1)
def _documents() -> dict[str, dict]:
    docs = {}
    for entry in _schema_files():
        doc = json.loads(entry.read_text(encoding="utf-8"))
        docs[doc["$id"]] = doc
    return docs


@lru_cache(maxsize=1)
def _registry() -> Registry:
    return Registry().with_resources(
        (sid, Resource.from_contents(doc, default_specification=DRAFT202012)) for sid, doc in _documents().items()
    )


def schema_ids() -> list[str]:
    """All schema ``$id``s shipped with this library, sorted."""
    return sorted(_documents())


def get_schema(schema_id: str) -> dict:
    """The schema document with ``$id`` ``schema_id``.

    Raises
    ------
    SchemaNotFoundError
        When the library does not ship that schema.
    """
    try:
        return _documents()[schema_id]
    except KeyError:
        raise SchemaNotFoundError(
            f"schema {schema_id!r} is not shipped with this strfh5 library (known: {len(_documents())} "
            f"schemas under {_BASE}/core/ and {_BASE}/sources/; see strfh5.schema.schema_ids())"
        ) from None


def source_schemas(source: str, version: str = "1.0") -> dict[str, str]:
    """The ``{"file", "stimulus", "neuron"}`` schema ids of a source.

    A source without its own schema for a kind falls back to the core schema.
    """
    out = {}
    for kind in KINDS:
        sid = f"{_BASE}/sources/{source}/{version}/{kind}.schema.json"
        out[kind] = sid if sid in _documents() else CORE[kind]
    return out


@lru_cache(maxsize=None)
def _validator(schema_id: str):
    schema = get_schema(schema_id)
    return jsonschema.Draft202012Validator(schema, registry=_registry())


def iter_errors(record: Any, schema_id: str) -> list[str]:
    """Messages of every way ``record`` fails ``schema_id`` (empty when valid).

    A record the compiled check (:func:`_accepts`) accepts is valid; any other
    goes through jsonschema, which words every error.
    """
    if _accepts(schema_id)(record):
        return []
    errors = sorted(_validator(schema_id).iter_errors(record), key=lambda e: list(e.absolute_path))
    out = []
    for e in errors:
        loc = "/".join(str(p) for p in e.absolute_path)
        out.append(f"{loc or '<root>'}: {e.message}")
    return out


# ------------------------------------------------------------------ a compiled check that only ever accepts
#: keywords jsonschema treats as annotations (or does not know): no effect on validity
_ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "title", "description", "version", "examples", "default",
                          "deprecated", "readOnly", "writeOnly"})
_TYPES = {"string": (str,), "object": (dict,), "array": (list,), "boolean": (bool,), "null": (type(None),),
          "integer": (int,), "number": (int, float)}

#: the exact types of parsed JSON; any other value (a numpy scalar, a subclass) is left to jsonschema
_PLAIN = frozenset({str, int, float, bool, dict, list, type(None)})


def _never(_v) -> bool:
    return False


def _always(_v) -> bool:
    return True


@lru_cache(maxsize=None)
def _accepts(schema_id: str):
    """A function ``record -> bool`` that returns True only for records jsonschema finds valid against
    ``schema_id`` (1,000 records: milliseconds instead of the better part of a second).

    It understands the keywords the shipped schemas use, with exact Python types (a bool is never a number, a
    float never an integer here); anything else — a keyword it does not know, an enum of non-strings, a
    relative ``$ref`` — makes it answer False, and the caller asks jsonschema.  False is never a verdict.
    """
    cache: dict[str, Any] = {}

    def ref(target: str):
        if target not in _documents():
            return _never
        if target not in cache:
            cache[target] = _never  # a cycle answers False (jsonschema decides)
            cache[target] = compile_(_documents()[target])
        fn = cache[target]
        return lambda v: cache[target](v) if fn is _never else fn(v)

    def compile_(schema):
        if schema is True:
            return _always
        if not isinstance(schema, dict):
            return _never
        checks = []
        for key, arg in schema.items():
            if key in _ANNOTATIONS:
                continue
            if key in ("properties", "additionalProperties"):
                if key == "additionalProperties" or "additionalProperties" not in schema:
                    checks.append(_object_check(schema.get("properties", {}), schema.get("additionalProperties",
                                                                                           True), compile_))
                continue
            make = _KEYWORDS.get(key)
            if make is None:
                return _never  # a keyword this check does not implement
            fn = ref(arg) if key == "$ref" and isinstance(arg, str) else make(arg, compile_)
            if fn is _never:
                return _never
            checks.append(fn)
        if not checks:
            return _always
        if len(checks) == 1:
            one = checks[0]
            return lambda v: type(v) in _PLAIN and one(v)
        return lambda v: type(v) in _PLAIN and all(c(v) for c in checks)

    return compile_(get_schema(schema_id))


def _object_check(props: dict, extra, compile_):
    if not isinstance(props, dict):
        return _never
    subs = {k: compile_(v) for k, v in props.items()}
    other = None if extra is True else compile_(extra)
    if other is _never and extra is not False:
        return _never

    def check(v) -> bool:
        if type(v) is not dict:
            return True
        for k, x in v.items():
            fn = subs.get(k)
            if fn is not None:
                if not fn(x):
                    return False
            elif other is not None and not other(x):
                return False
        return True
    return check


def _type(arg, _c):
    names = [arg] if isinstance(arg, str) else arg
    if not isinstance(names, list) or any(n not in _TYPES for n in names):
        return _never
    types = tuple({t for n in names for t in _TYPES[n]})
    return lambda v: type(v) in types


def _enum(arg, _c):
    if not isinstance(arg, list) or not arg:
        return _never
    strings = frozenset(a for a in arg if type(a) is str)
    singles = [a for a in arg if a is None or a is True or a is False]
    return lambda v: (type(v) is str and v in strings) or any(v is a for a in singles)


def _number_bound(fails):
    def make(arg, _c):
        if type(arg) not in (int, float):
            return _never
        return lambda v: type(v) not in (int, float) or not fails(v, arg)
    return make


def _length_bound(kind, fails):
    def make(arg, _c):
        if type(arg) is not int:
            return _never
        return lambda v: type(v) is not kind or not fails(len(v), arg)
    return make


def _pattern(arg, _c):
    if not isinstance(arg, str):
        return _never
    rx = re.compile(arg)
    return lambda v: type(v) is not str or rx.search(v) is not None


def _required(arg, _c):
    if not isinstance(arg, list):
        return _never
    return lambda v: type(v) is not dict or all(k in v for k in arg)


def _items(arg, compile_):
    if not isinstance(arg, dict) and arg is not True:
        return _never
    fn = compile_(arg)
    if fn is _never:
        return _never
    return lambda v: type(v) is not list or all(fn(x) for x in v)


def _unique(arg, _c):
    if arg is not True:
        return _always if arg is False else _never
    return lambda v: type(v) is not list or (all(type(x) is str for x in v) and len(set(v)) == len(v))


def _all_of(arg, compile_):
    if not isinstance(arg, list):
        return _never
    fns = [compile_(x) for x in arg]
    if any(fn is _never for fn in fns):
        return _never
    return lambda v: all(fn(v) for fn in fns)


_KEYWORDS = {
    "type": _type, "enum": _enum, "const": lambda a, c: _enum([a], c) if type(a) is str else _never,
    "minimum": _number_bound(lambda v, m: v < m), "exclusiveMinimum": _number_bound(lambda v, m: v <= m),
    "maximum": _number_bound(lambda v, m: v > m), "exclusiveMaximum": _number_bound(lambda v, m: v >= m),
    "minLength": _length_bound(str, lambda n, m: n < m), "maxLength": _length_bound(str, lambda n, m: n > m),
    "minItems": _length_bound(list, lambda n, m: n < m), "maxItems": _length_bound(list, lambda n, m: n > m),
    "pattern": _pattern, "required": _required, "items": _items, "uniqueItems": _unique, "allOf": _all_of,
    "$ref": lambda a, c: _never,  # an absolute id is resolved in _accepts; anything else is not understood
}


def validate_record(record: Any, schema_id: str, where: str) -> None:
    """Raise :class:`MetadataError` naming ``where`` when ``record`` fails ``schema_id``."""
    errs = iter_errors(record, schema_id)
    if errs:
        more = f" (+{len(errs) - 5} more)" if len(errs) > 5 else ""
        raise MetadataError(f"{where} fails schema {schema_id}: " + "; ".join(errs[:5]) + more)


def dumps(record: Any, where: str) -> str:
    """Serialise a metadata record to strict JSON (RFC 8259).

    Numpy scalars and arrays are converted to Python numbers and lists. NaN
    and infinities have no JSON form and are refused (use ``None``).
    """
    try:
        return json.dumps(record, ensure_ascii=False, allow_nan=False, default=_to_json)
    except ValueError as e:
        raise MetadataError(f"{where}: {e}; NaN/Infinity cannot be stored in JSON metadata, use None") from None
    except TypeError as e:
        raise MetadataError(f"{where}: {e}") from None


def _to_json(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"value {obj!r} of type {type(obj).__name__} is not JSON-serialisable")
