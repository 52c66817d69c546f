"""Validation: markers and the file itself (strfh5.validation.markers): what is not a strfh5 file, versions."""

from __future__ import annotations

import os
import shutil
import sys

import h5py
import pytest

from strfh5 import layout as L
from strfh5.cli.main import main
from strfh5.validation import validate

sys.path.insert(0, os.path.dirname(__file__))
import malformed as M  # noqa: E402


def _codes(report):
    return [f.code for f in report.findings]


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
