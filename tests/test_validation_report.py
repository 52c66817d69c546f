"""Validation: reports, selection and exit codes (strfh5.validation.report, validator)."""

from __future__ import annotations

import json
import os
import shutil
import sys

import h5py
import numpy as np
import pytest

import strfh5
from strfh5 import layout as L
from strfh5.cli.main import main
from strfh5.errors import SelectionError
from strfh5.validation import Finding, ValidationReport, _Validator, validate

sys.path.insert(0, os.path.dirname(__file__))
import malformed as M  # noqa: E402


def _codes(report):
    return [f.code for f in report.findings]


def test_valid_file_cli_exit_0_and_json_parses(bases, capsys):
    assert main(["validate", "--checksums", bases["events"], bases["binned"]]) == 0
    out = capsys.readouterr().out
    assert "valid" in out and "INVALID" not in out and "2 of 2 files valid" in out
    assert main(["validate", "--json", bases["video"]]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["exit_code"] == 0
    (rep,) = doc["files"]
    assert rep["ok"] is True and rep["findings"] == [] and rep["info"]["stim_kind"] == "video"

def test_unreadable_wins_over_invalid_in_a_batch(tmp_path, bases, capsys):
    bad = M.make(next(c for c in M.CASES if c.name == "dt-negative"), tmp_path, bases)
    assert main(["validate", bad]) == 1
    assert main(["validate", bad, str(tmp_path / "absent.h5")]) == 2
    assert main(["validate", bases["binned"], bad]) == 1
    capsys.readouterr()

def test_bad_usage_exits_2(bases, capsys):
    assert main(["validate", "--select", "X1", bases["binned"]]) == 2
    assert "not a finding code" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["validate"])
    assert e.value.code == 2
    with pytest.raises(SelectionError):
        validate(bases["binned"], ignore="E2;W")

def test_all_problems_are_reported_not_only_the_first(tmp_path, bases):
    p = tmp_path / "many.strf.h5"
    shutil.copyfile(bases["events"], p)
    with h5py.File(p, "r+") as f:
        f.attrs[L.ATTR_DT_MS] = -1.0
        f[L.NEURON_IDS][2] = "u1"
        f[L.STIM_METADATA][1] = "not json"
        f[L.RESPONSES][2, 1] = np.array([1.0, np.nan, 2.0])
        del f["stimuli/000002"]
    codes = _codes(validate(p))
    for code in ("E103", "E302", "E701", "E505", "E401"):
        assert code in codes, codes

def test_select_and_ignore(tmp_path, bases, capsys):
    p = tmp_path / "two.strf.h5"
    shutil.copyfile(bases["binned"], p)
    with h5py.File(p, "r+") as f:
        f.attrs[L.ATTR_UUID] = "nope"
        del f[L.STIMULI].attrs[L.ATTR_TRANSFORM]
        f.create_group("extra")
    full = validate(p)
    assert sorted(_codes(full)) == ["E103", "W205", "W413"]
    only_w = validate(p, select="W")
    assert sorted(_codes(only_w)) == ["W205", "W413"] and only_w.ok and only_w.suppressed == 1
    assert _codes(validate(p, ignore=["W", "E1"])) == []
    assert _codes(validate(p, select="E1,W413", ignore="W")) == ["E103"]
    assert main(["validate", "--ignore", "E103", str(p)]) == 0
    assert main(["validate", "--select", "e1", str(p)]) == 1
    out = capsys.readouterr().out
    assert "W205" in out.splitlines()[0] or "W413" in out.splitlines()[0]

def test_json_report_for_invalid_file(tmp_path, bases, capsys):
    p = M.make(next(c for c in M.CASES if c.name == "spike-nan"), tmp_path, bases)
    assert main(["validate", "--json", "--checksums", p]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["exit_code"] == 1 and doc["checksums"] is True
    rep = doc["files"][0]
    assert rep["ok"] is False and rep["errors"] >= 1 and rep["path"] == p
    f = next(x for x in rep["findings"] if x["code"] == "E505")
    assert f == {"code": "E505", "severity": "error", "check": "responses", "path": "/responses[2, 1]",
                 "message": f["message"], "file": None}
    assert "NaN" in f["message"]

def test_report_interface_used_by_converters(tmp_path, bases):
    p = M.make(next(c for c in M.CASES if c.name == "no-repeats"), tmp_path, bases)
    r = validate(p)
    assert isinstance(r, ValidationReport) and not r.ok and r.exit_code == 1
    (e,) = r.errors
    assert isinstance(e, Finding) and e.code == "E201" and e.path == "/repeats"
    assert str(e) == "E201 error [structure] /repeats: required dataset '/repeats' is missing"
    assert r.warnings == [] and json.loads(r.to_json())["errors"] == 1
    assert strfh5.validate is validate

def test_warnings_do_not_fail(tmp_path, bases):
    p = tmp_path / "w.strf.h5"
    with strfh5.StreamWriter(p, encoding="binned", dt_ms=5, stim_kind="spectrogram", stim_dims=(1, 2),
                             neuron_ids=["a"], count_dtype="<u4", compression=None) as w:
        w.add_stimulus(np.ones((1, 2, 3), np.float32))
        w.write_row(0, [np.ones((1, 3), np.uint8)])
    with h5py.File(p, "r+") as f:
        f["soft"] = h5py.SoftLink("/repeats")
        f[L.NEURON_IDS].attrs["note"] = "attributes on tables are ignored"
        del f[L.NEURON_IDS]
        f.create_dataset(L.NEURON_IDS, data=np.array([b"a"], dtype="S1"))
    r = validate(p)
    assert set(_codes(r)) == {"W210", "W411", "W413", "W803", "W205", "W207"}, r
    assert r.ok and r.exit_code == 0

def test_unexpected_exception_becomes_a_finding(bases, monkeypatch):
    def boom(self):
        raise RuntimeError("simulated h5py failure")

    monkeypatch.setattr(_Validator, "check_stimuli", boom)
    r = validate(bases["binned"])
    (f,) = r.findings
    assert f.code == "E020" and f.check == "stimuli" and "simulated h5py failure" in f.message
    assert r.exit_code == 1

def test_findings_per_code_are_capped(tmp_path):
    S = 130
    stims = [np.zeros((1, 2, 2), np.float32) for _ in range(S)]
    c = strfh5.contents_from_lists(stims, responses=[[np.ones((1, 2))] for _ in range(S)], dt_ms=1,
                                   transform={"kind": "none"})
    p = strfh5.save(c, tmp_path / "many.strf.h5")
    with h5py.File(p, "r+") as f:
        nb = f[L.STIM_N_BINS][()]
        f[L.STIM_N_BINS][...] = nb + 1
    r = validate(p)
    e406 = [x for x in r.findings if x.code == "E406"]
    assert len(e406) == 101 and "30 more" in e406[-1].message
    assert sum(x.code == "E501" for x in r.findings) == 101 and r.suppressed == 60
