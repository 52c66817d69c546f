"""Schemas ship with the package, resolve locally, and source schemas tighten the core ones."""

from __future__ import annotations

import json

import pytest

from strfh5 import schema
from strfh5.errors import MetadataError, SchemaNotFoundError


def test_every_shipped_schema_is_draft_2020_12_with_id_and_version():
    ids = schema.schema_ids()
    assert set(schema.CORE.values()) <= set(ids)
    for sid in ids:
        doc = schema.get_schema(sid)
        assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert doc["$id"] == sid and doc["version"]


def test_source_schema_tightens_core_through_ref():
    ids = schema.source_schemas("demo")
    assert ids["neuron"].endswith("/sources/demo/1.0/neuron.schema.json")
    good = {"cell_id": "c0", "area": "A1", "animal": "sim", "best_freq_band": 3, "latency_ms": 10.0,
            "nonlinearity": {"kind": "sigmoid", "spont_hz": 1.0, "peak_hz": 50.0, "slope": 1.0, "threshold": 0.5}}
    assert schema.iter_errors(good, ids["neuron"]) == []
    # the core rule (snr is a number or null) still applies through allOf/$ref
    errs = schema.iter_errors({**good, "snr": "high"}, ids["neuron"])
    assert any(e.startswith("snr:") for e in errs)
    # the source's own tightening
    errs = schema.iter_errors({**good, "area": "V1"}, ids["neuron"])
    assert any(e.startswith("area:") for e in errs)
    errs = schema.iter_errors({**good, "area": "V1"}, ids["neuron"])
    assert any(e.startswith("area:") for e in errs)
    assert schema.iter_errors({"area": "V1"}, schema.CORE["neuron"]) == []


def test_unknown_source_falls_back_to_core_and_unknown_id_is_refused():
    assert schema.source_schemas("no-such-source") == {k: schema.CORE[k] for k in schema.KINDS}
    with pytest.raises(SchemaNotFoundError, match="not shipped"):
        schema.get_schema("https://schema.strfh5.org/core/9.9/file.schema.json")


def test_validate_record_names_the_object():
    with pytest.raises(MetadataError, match="neuron 7 metadata fails schema .*ccmax"):
        schema.validate_record({"ccmax": "x"}, schema.CORE["neuron"], "neuron 7 metadata")


def test_dumps_is_strict_json_and_converts_numpy():
    import numpy as np

    text = schema.dumps({"a": np.float32(1.5), "b": np.arange(3), "c": "ü"}, "x")
    assert json.loads(text) == {"a": 1.5, "b": [0, 1, 2], "c": "ü"}
    with pytest.raises(MetadataError, match="NaN"):
        schema.dumps({"a": float("nan")}, "x")
    with pytest.raises(MetadataError, match="not JSON-serialisable"):
        schema.dumps({"a": object()}, "x")
