"""Validation: row digests (strfh5.validation.integrity): what --checksums catches."""

from __future__ import annotations

import os
import shutil
import sys

import h5py
import numpy as np

from strfh5 import layout as L
from strfh5.cli.main import main
from strfh5.validation import validate

sys.path.insert(0, os.path.dirname(__file__))
import malformed as M  # noqa: E402


def _codes(report):
    return [f.code for f in report.findings]


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
