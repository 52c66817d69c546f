"""Validation over the malformed corpus: every case gets its code, every finding is documented."""

from __future__ import annotations

import os
import sys

import pytest

from strfh5 import layout as L
from strfh5.cli.main import main
from strfh5.validation import CODES, validate

sys.path.insert(0, os.path.dirname(__file__))
import malformed as M  # noqa: E402


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

