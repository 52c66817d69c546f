"""Validation: concatenated files and their sources (strfh5.validation.concatenated)."""

from __future__ import annotations

import os
import shutil
import sys

import h5py
import numpy as np

from strfh5 import layout as L
from strfh5.validation import validate

sys.path.insert(0, os.path.dirname(__file__))
import malformed as M  # noqa: E402


def _codes(report):
    return [f.code for f in report.findings]


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
