"""Parsing pprox files: both schemas, detection from content, time units, bad input."""

import json

import numpy as np
import pytest

from strfh5.converters.pprox import PPROX_SCHEMA, STIMTRIAL_SCHEMA, detect_schema, parse_pprox, read_pprox
from strfh5.errors import RawDataError

LEGACY = "https://meliza.org/spec:2/pprox.json#"
STIMTRIAL = "https://meliza.org/spec:2/stimtrial.json#"


def test_legacy_event_key_is_milliseconds_relative_to_stim_on():
    doc = {"$schema": LEGACY, "bird": "C41", "pprox": [
        {"index": 1, "stimulus": "B189", "condition": "gap1", "stim_on": 2000.0, "stim_off": 3100.0,
         "event": [1500.0, 2000.0, 2250.5, 4000.0]},
        {"index": 0, "stimulus": "B189", "condition": "gap1", "stim_on": 1000.0, "event": []},
    ]}
    u = parse_pprox(doc, "x.pprox")
    assert u.schema == PPROX_SCHEMA and u.meta["bird"] == "C41"
    t = u.trials[0]
    np.testing.assert_array_equal(t.times_ms, [-500.0, 0.0, 250.5, 2000.0])
    assert t.stimulus == "B189" and t.condition == "gap1" and t.stim_duration_ms == 1100.0
    # presentation order follows 'index', not file order
    assert [tr.index for tr in u.ordered_trials()] == [0, 1]
    groups = u.by_stimulus(lambda tr: f"{tr.stimulus}_{tr.condition}")
    assert list(groups) == ["B189_gap1"] and [g.index for g in groups["B189_gap1"]] == [0, 1]


def test_legacy_events_key_follows_the_spec_seconds():
    doc = {"$schema": LEGACY, "pprox": [{"stimulus": "s1", "stimulus_on": 1.0, "stimulus_off": 4.23,
                                          "events": [0.002, 1.102, 4.231]}]}
    t = parse_pprox(doc).trials[0]
    np.testing.assert_allclose(t.times_ms, [-998.0, 102.0, 3231.0])
    assert t.stim_duration_ms == pytest.approx(3230.0)


def test_stimtrial_times_relative_to_stimulus_interval_start():
    doc = {"$schema": STIMTRIAL, "bird": "uuid-x", "pprox": [
        {"offset": 3.2, "index": 0, "interval": [-0.5, 2.12], "stimulus": {"name": "arc607_CB", "interval": [0.0, 1.52]},
         "events": [-0.25, 0.123, 0.524]},
        {"offset": 13.4, "index": 4, "interval": [0, 3.0], "stimulus": {"name": "arc605_G", "interval": [1.0, 2.2]},
         "events": [0.051, 1.712]},
    ]}
    u = parse_pprox(doc)
    assert u.schema == STIMTRIAL_SCHEMA
    np.testing.assert_allclose(u.trials[0].times_ms, [-250.0, 123.0, 524.0])
    np.testing.assert_allclose(u.trials[1].times_ms, [-949.0, 712.0])
    assert u.trials[0].window_ms == pytest.approx((-500.0, 2120.0))
    assert u.trials[1].stim_duration_ms == pytest.approx(1200.0)


@pytest.mark.parametrize("doc, expected", [
    ({"pprox": [{"stimulus": {"name": "a", "interval": [0, 1]}, "events": []}]}, STIMTRIAL_SCHEMA),
    ({"pprox": [{"stimulus": "a", "stim_on": 0, "event": []}]}, PPROX_SCHEMA),
])
def test_schema_detected_from_structure_without_dollar_schema(doc, expected):
    assert detect_schema(doc) == expected


def test_schema_and_structure_disagreeing_is_refused():
    doc = {"$schema": STIMTRIAL, "pprox": [{"stimulus": "a", "stim_on": 0, "event": []}]}
    with pytest.raises(RawDataError, match="says stimtrial"):
        parse_pprox(doc, "bad.pprox")


@pytest.mark.parametrize("doc, match", [
    ({"$schema": "https://example.org/other.json", "pprox": []}, "unknown \\$schema"),
    ({"no": "pprox"}, "'pprox' array"),
    ({"$schema": LEGACY, "pprox": [{"stimulus": "a", "event": [1.0]}]}, "onset"),
    ({"$schema": LEGACY, "pprox": [{"stimulus": "a", "stim_on": 0, "event": [1, "x"]}]}, "numbers"),
    ({"$schema": LEGACY, "pprox": [{"stimulus": "a", "stim_on": 0, "event": [1, "1_0.5"]}]}, "JSON numbers, got '1_0.5'"),
    ({"$schema": LEGACY, "pprox": [{"stimulus": "a", "stim_on": 0, "event": [1, True]}]}, "JSON numbers, got True"),
    ({"$schema": LEGACY, "pprox": [{"stimulus": "a", "stim_on": 0, "event": [1], "events": [1]}]}, "time unit"),
    ({"$schema": STIMTRIAL, "pprox": [{"stimulus": {"name": "a"}, "events": []}]}, "stimulus.interval"),
    ({"$schema": STIMTRIAL, "pprox": [{"stimulus": {"name": "a", "interval": [0]}, "events": []}]}, "interval"),
])
def test_bad_documents_raise_raw_data_error(doc, match):
    with pytest.raises(RawDataError, match=match):
        parse_pprox(doc, "u.pprox")


def test_read_pprox_file_and_non_json(tmp_path):
    p = tmp_path / "u.pprox"
    p.write_text(json.dumps({"$schema": STIMTRIAL, "pprox": [
        {"stimulus": {"name": "a", "interval": [0.5, 1.0]}, "events": [0.75], "interval": [0, 2]}]}))
    u = read_pprox(p)
    assert u.path == str(p) and u.trials[0].times_ms.tolist() == [250.0]
    bad = tmp_path / "bad.pprox"
    bad.write_text("{not json")
    with pytest.raises(RawDataError, match="bad.pprox"):
        read_pprox(bad)
