"""Verification levels of the converters, `strfh5 sources`, the provenance schema and strict number parsing."""

from __future__ import annotations

import json

import pytest

from strfh5 import schema as schema_mod
from strfh5.cli.main import main
from strfh5.converters import SOURCES, get_converter
from strfh5.converters.base import VERIFICATION_LEVELS, parse_number
from strfh5.errors import RawDataError

#: how each converter was checked against real data (the converter guide's table says the same)
EXPECTED_LEVELS = {
    "crcns-aa1": "real_sample", "crcns-aa2": "real_sample", "ns1": "release_files", "alice-eeg": "real_sample",
    "le2025": "real_sample", "crcns-aa4": "reference_reader", "crcns-ac1": "reference_reader",
    "nat4": "reference_reader", "espejo": "reference_reader", "wingert2026": "reference_reader",
    "downer2025": "reference_reader", "nwb": "reference_reader",
}


def test_every_source_declares_its_verification_level():
    assert set(EXPECTED_LEVELS) == set(SOURCES)
    for sid in SOURCES:
        src = get_converter(sid).SOURCE
        assert src.verified == EXPECTED_LEVELS[sid], sid
        assert src.verified in VERIFICATION_LEVELS and len(src.verification) > 40, sid
        assert src.version.isdigit(), sid


def test_sources_command_shows_the_verification_level(capsys):
    assert main(["sources", "--json"]) == 0
    records = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    for sid, level in EXPECTED_LEVELS.items():
        assert records[sid]["verified"] == level
        assert records[sid]["verified_meaning"] == VERIFICATION_LEVELS[level]
        assert records[sid]["verification"]
    assert main(["sources"]) == 0
    text = capsys.readouterr().out
    labels = {"release_files": "real release files", "real_sample": "real sample",
              "reference_reader": "reference reader only"}
    for sid, level in EXPECTED_LEVELS.items():
        block = text.split(f"{sid}: ", 1)[1].split("\n\n", 1)[0]
        assert f"verified: {labels[level]} — " in block, sid


def test_guide_lists_the_same_levels():
    from pathlib import Path

    guide = (Path(__file__).resolve().parent.parent / "converters" / "README.md").read_text()
    labels = {"release_files": "real release files", "real_sample": "real sample",
              "reference_reader": "reference reader only"}
    table = guide.split("## How each converter was verified", 1)[1].split("\n## ", 1)[0]
    for sid, level in EXPECTED_LEVELS.items():
        assert f"| `{sid}` | {labels[level]} |" in table, sid


def test_file_schema_describes_the_provenance_record():
    core = schema_mod.get_schema("https://schema.strfh5.org/core/1.0/file.schema.json")
    prov = core["properties"]["provenance"]
    assert {"converter", "release_files", "verified", "quirks"} <= set(prov["properties"])
    assert prov.get("additionalProperties", True) is not False  # compatible: other keys stay allowed
    assert prov["properties"]["verified"]["enum"] == list(VERIFICATION_LEVELS)
    record = {"source": "x", "provenance": {"verified": "guessed"}}
    assert schema_mod.iter_errors(record, "https://schema.strfh5.org/core/1.0/file.schema.json")
    record["provenance"] = {"verified": "real_sample", "quirks": [{"kind": "k", "message": "m", "n": 1}],
                            "release_files": [{"name": "a.zip", "known_hash": None}], "anything": 1}
    assert schema_mod.iter_errors(record, "https://schema.strfh5.org/core/1.0/file.schema.json") == []


@pytest.mark.parametrize("text,value", [("12", 12.0), ("-1999.875", -1999.875), (".5", 0.5), ("7.", 7.0),
                                        ("+3e-2", 0.03), ("1E3", 1000.0)])
def test_parse_number_accepts_plain_decimals(text, value):
    assert parse_number(text, "w") == value


@pytest.mark.parametrize("text", ["1_0.5", "inf", "-Infinity", "nan", "0x1p3", "1,5", "", "1.2.3", "e5", "١٢"])
def test_parse_number_refuses_what_float_would_misread(text):
    with pytest.raises(RawDataError, match=r"^w: .* is not a decimal number"):
        parse_number(text, "w")


def test_parse_number_integer_and_range():
    assert parse_number("42", "w", integer=True) == 42
    with pytest.raises(RawDataError, match="not a whole number"):
        parse_number("4.0", "w", integer=True)
    with pytest.raises(RawDataError, match="out of the float64 range"):
        parse_number("1e999", "w")
