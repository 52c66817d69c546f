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
    """Messages of every way ``record`` fails ``schema_id`` (empty when valid)."""
    errors = sorted(_validator(schema_id).iter_errors(record), key=lambda e: list(e.absolute_path))
    out = []
    for e in errors:
        loc = "/".join(str(p) for p in e.absolute_path)
        out.append(f"{loc or '<root>'}: {e.message}")
    return out


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
