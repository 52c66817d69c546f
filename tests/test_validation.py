"""strfh5.validate and `strfh5 validate`: the malformed corpus, exit codes, checksums, reports."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tracemalloc

import h5py
import numpy as np
import pytest

import strfh5
from strfh5 import layout as L
from strfh5.cli.main import main
from strfh5.errors import SelectionError
from strfh5.validation import CODES, Finding, ValidationReport, _Validator, validate

sys.path.insert(0, os.path.dirname(__file__))
import malformed as M  # noqa: E402


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    return M.build_bases(tmp_path_factory.mktemp("bases"))


def _codes(report):
    return [f.code for f in report.findings]


# ------------------------------------------------------------ valid files
@pytest.mark.parametrize("name", sorted(M.BASE_BUILDERS))
def test_valid_bases_have_no_findings(bases, name):
    report = validate(bases[name], checksums=True)
    assert report.findings == [], "\n".join(map(str, report.findings))
    assert report.ok and report.readable and report.exit_code == 0
    assert report.info["S"] >= 2 and report.info["N"] == (3 if name in ("events", "binned") else 2)
    assert report.info["encoding"] in L.ENCODINGS


def test_valid_file_cli_exit_0_and_json_parses(bases, capsys):
    assert main(["validate", "--checksums", bases["events"], bases["binned"]]) == 0
    out = capsys.readouterr().out
    assert "valid" in out and "INVALID" not in out and "2 of 2 files valid" in out
    assert main(["validate", "--json", bases["video"]]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["exit_code"] == 0
    (rep,) = doc["files"]
    assert rep["ok"] is True and rep["findings"] == [] and rep["info"]["stim_kind"] == "video"


# ---------------------------------------------------------------- corpus
def test_corpus_is_large_and_covers_many_codes():
    assert len(M.CASES) >= 25
    assert len({c.name for c in M.CASES}) == len(M.CASES)
    assert all(c.code in CODES for c in M.CASES)
    assert len({c.code for c in M.CASES}) >= 40


@pytest.mark.parametrize("case", M.CASES, ids=[c.name for c in M.CASES])
def test_malformed_file_gets_its_code(tmp_path, bases, case, capsys):
    path = M.make(case, tmp_path, bases)
    report = validate(path)
    assert case.code in _codes(report), f"{case.doc}: expected {case.code}, got:\n{report}"
    assert not report.ok
    assert report.exit_code == case.exit_code
    for f in report.findings:
        assert f.severity == ("error" if f.code.startswith("E") else "warning")
        assert f.path.startswith("/") and f.message and str(f).startswith(f.code)
    # the command: one line per finding, exit 1 (2 for unreadable files), never a traceback
    capsys.readouterr()
    assert main(["validate", path]) == case.exit_code
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert f"{path}: {case.code} " in out
    assert out.strip().splitlines()[-1].startswith(f"{path}: ")


def test_every_finding_of_the_corpus_is_documented(tmp_path, bases):
    seen = set()
    for case in M.CASES[::3]:
        seen |= set(_codes(validate(M.make(case, tmp_path, bases))))
    assert seen <= set(CODES), seen - set(CODES)


# ------------------------------------------------------------ exit code 2
def test_not_hdf5_and_missing_paths_exit_2(tmp_path, capsys):
    txt = tmp_path / "notes.strf.h5"
    txt.write_text("this is not HDF5\n")
    r = validate(txt)
    assert _codes(r) == ["E002"] and not r.readable and r.exit_code == 2
    assert main(["validate", str(txt)]) == 2
    assert main(["validate", str(tmp_path / "absent.strf.h5")]) == 2
    assert main(["validate", str(tmp_path)]) == 2  # a folder
    out, err = capsys.readouterr()
    assert "E002" in out and "E001" in out and "unreadable" in out and "Traceback" not in out + err
    # empty file
    (tmp_path / "empty.h5").write_bytes(b"")
    assert _codes(validate(tmp_path / "empty.h5")) == ["E002"]


def test_unreadable_wins_over_invalid_in_a_batch(tmp_path, bases, capsys):
    bad = M.make(next(c for c in M.CASES if c.name == "dt-negative"), tmp_path, bases)
    assert main(["validate", bad]) == 1
    assert main(["validate", bad, str(tmp_path / "absent.h5")]) == 2
    assert main(["validate", bases["binned"], bad]) == 1
    capsys.readouterr()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_never_opened(tmp_path):
    fifo = tmp_path / "pipe.strf.h5"
    os.mkfifo(fifo)
    r = validate(fifo)  # opening a FIFO would block forever
    assert _codes(r) == ["E001"] and r.exit_code == 2


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_permissions_exit_2(tmp_path, bases):
    p = tmp_path / "locked.strf.h5"
    shutil.copyfile(bases["binned"], p)
    os.chmod(p, 0)
    try:
        r = validate(p)
        assert r.exit_code == 2 and _codes(r)[0] in ("E002", "E003")
    finally:
        os.chmod(p, 0o644)


def test_bad_usage_exits_2(bases, capsys):
    assert main(["validate", "--select", "X1", bases["binned"]]) == 2
    assert "not a finding code" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["validate"])
    assert e.value.code == 2
    with pytest.raises(SelectionError):
        validate(bases["binned"], ignore="E2;W")


# ------------------------------------------------------------- checksums
def test_flipped_heap_byte_caught_only_with_checksums(tmp_path, bases, capsys):
    p = tmp_path / "flipped.strf.h5"
    shutil.copyfile(bases["events"], p)
    M.flip_heap_marker(p)
    with h5py.File(p) as f:  # the flip is silent for HDF5: the value reads back changed, no error
        el = f[L.RESPONSES][1, 1]
        assert el[0] != M.MARKER_TIMES[0] and np.isclose(el[0], M.MARKER_TIMES[0]) and el.size == 4
    assert validate(p).ok  # structure and invariants still hold
    r = validate(p, checksums=True)
    assert _codes(r) == ["E601"] and r.findings[0].path == f"/{L.RESPONSES}[1]"
    assert main(["validate", str(p)]) == 0
    assert main(["validate", "--checksums", str(p)]) == 1
    assert "E601" in capsys.readouterr().out


def test_checksums_cover_counts_and_binned(tmp_path, bases):
    p = tmp_path / "c.strf.h5"
    shutil.copyfile(bases["events"], p)
    with h5py.File(p, "r+") as f:  # rewrite an element with the same invariants but other counts
        f[L.COUNTS][1, 1] = np.array([1, 3], dtype=h5py.check_vlen_dtype(f[L.COUNTS].dtype))
    r = validate(p, checksums=True)
    # the rewritten element moved in the heap: the response index is stale too (E606)
    assert _codes(r) == ["E601", "E606"] and r.findings[0].path == f"/{L.COUNTS}[1]"
    assert r.findings[1].path == f"/{L.RESPONSE_INDEX_COUNTS}"
    q = tmp_path / "b.strf.h5"
    shutil.copyfile(bases["binned"], q)
    with h5py.File(q, "r+") as f:
        el = f[L.RESPONSES][2, 2]
        el[0] = (el[0] + 1) % 5
        f[L.RESPONSES][2, 2] = el
    assert validate(q).ok
    assert _codes(validate(q, checksums=True)) == ["E601", "E606"]


# ------------------------------------------------------ reports and codes
def test_corrupt_descriptors_are_caught_before_hdf5_allocates_them(tmp_path, bases):
    """HDF5 allocates what a VLEN descriptor claims; the validator looks at the claim first."""
    p = M.make(next(c for c in M.CASES if c.name == "responses-row-garbage"), tmp_path, bases)
    r = validate(p)
    assert {f.path for f in r.errors} == {"/responses[1, 0]", "/responses[1, 1]", "/responses[1, 2]"}
    assert all(f.code == "E507" and "more than the whole file" in f.message for f in r.errors)
    q = M.make(next(c for c in M.CASES if c.name == "responses-bad-heap-address"), tmp_path, bases)
    (e,) = validate(q).errors
    assert e.code == "E507" and e.path == "/responses[2]" and "cannot be read" in e.message


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


def test_newer_minor_version_is_a_warning_and_unknown_objects_are_ignored(tmp_path, bases):
    p = tmp_path / "v17.strf.h5"
    shutil.copyfile(bases["events"], p)
    with h5py.File(p, "r+") as f:
        f.attrs[L.ATTR_VERSION] = "1.7"
        f.attrs["future_attr"] = 3
        f.create_group("future_group")
    r = validate(p)
    assert _codes(r) == ["W015"] and r.ok and r.exit_code == 0
    assert "2.0" not in r.findings[0].message and "1.7" in r.findings[0].message
    with h5py.File(p, "r+") as f:
        f.attrs[L.ATTR_VERSION] = "1.0"
    assert sorted(_codes(validate(p))) == ["W106", "W205"]


def test_newer_major_names_the_library_to_install(tmp_path, bases):
    p = M.make(next(c for c in M.CASES if c.name == "major-2"), tmp_path, bases)
    (f,) = validate(p).findings
    assert f.code == "E013" and "strfh5>=2" in f.message


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


def test_binned_counts_in_a_concatenable_but_wide_type_warns(tmp_path, bases):
    p = tmp_path / "c.strf.h5"
    shutil.copyfile(bases["binned"], p)
    with h5py.File(p, "r+") as f:
        f.create_dataset(L.COUNTS, shape=f[L.RESPONSES].shape, dtype=h5py.vlen_dtype(np.uint8))
    assert _codes(validate(p)) == ["W209"]


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


def test_rows_are_read_one_at_a_time(tmp_path):
    """Memory stays bounded by about one row, whatever the number of rows."""
    S, N, R, T = 40, 8, 16, 4000  # 0.5 MB of uint8 counts per row, 20 MB in all
    rng = np.random.default_rng(0)
    with strfh5.StreamWriter(tmp_path / "big.strf.h5", encoding="binned", dt_ms=1, stim_kind="spectrogram",
                             stim_dims=(1, 1), neuron_ids=[str(i) for i in range(N)], count_dtype="u1",
                             transform={"kind": "none"}) as w:
        row = [rng.integers(0, 3, (R, T), dtype=np.uint8) for _ in range(N)]
        for s in range(S):
            w.add_stimulus(np.zeros((1, 1, T), np.float32))
            w.write_row(s, row)
    tracemalloc.start()
    try:
        r = validate(tmp_path / "big.strf.h5", checksums=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert r.ok, r
    assert peak < 4 * N * R * T, f"peak {peak / 1e6:.1f} MB for rows of {N * R * T / 1e6:.1f} MB"


def test_concatenated_file_and_its_sources(tmp_path, bases):
    from strfh5.concatenation import concat

    a, b = tmp_path / "a.strf.h5", tmp_path / "b.strf.h5"
    shutil.copyfile(bases["events"], a)
    shutil.copyfile(bases["events"], b)
    with h5py.File(b, "r+") as f:
        f.attrs[L.ATTR_UUID] = "6f1c3b0e-4d7e-4a53-9a55-8a3d2f1e0c11"
        f[L.NEURON_IDS][...] = np.array(["v1", "v2", "v3"], dtype=object)
    out = concat([a, b], tmp_path / "ab.strf.h5")
    r = validate(out, checksums=True)
    assert r.ok, r
    assert r.info["S"] == 6 and r.info["N"] == 6 and r.info["concatenated"] is True
    # stimulus ids repeat across the two blocks: legitimate (unique within each source block)
    assert "E301" not in _codes(r)
    # a corrupted source is reported with the source's name
    M.flip_heap_marker(b)
    r = validate(out, checksums=True)
    (e,) = r.errors
    assert e.code == "E601" and e.file == "b.strf.h5" and str(e).startswith("E601 error [integrity] b.strf.h5:/")
    # a missing source: reported, data not read, no traceback
    os.remove(b)
    r = validate(out)
    assert "E902" in _codes(r) and "E804" in _codes(r) and r.exit_code == 1
