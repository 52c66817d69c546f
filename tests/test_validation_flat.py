"""Rows read by byte range (payloads located from the descriptors) give the findings of rows read by HDF5."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import strfh5
from strfh5.validation import responses

CASES = Path(__file__).resolve().parent / "conformance" / "cases"


def _files():
    for exp in sorted(CASES.glob("*/expected.json")):
        path = os.path.normpath(exp.parent / json.loads(exp.read_text(encoding="utf-8"))["open"])
        if os.path.isfile(path):
            yield exp.parent.name, path


def _findings(path):
    return [(f.code, f.path, f.message) for f in strfh5.validate(path, checksums=True).findings]


@pytest.mark.parametrize("name,path", list(_files()))
def test_flat_rows_report_what_hdf5_rows_report(name, path, monkeypatch):
    fast = _findings(path)
    monkeypatch.setattr(responses, "locate", lambda ctx: None)
    monkeypatch.setattr(responses._FlatRows, "open", classmethod(lambda cls, ctx, enc: None))
    assert fast == _findings(path), name


def test_flat_rows_are_used_on_a_written_file(tmp_path):
    path = strfh5.write_simulated(tmp_path / "e.strf.h5", seed=1, encoding="events", n_stimuli=3, n_neurons=4,
                                  n_freqs=8, n_bins=(20, 30), strf_ms=30.0, repeats=(2, 3))
    seen = []
    real = responses.check_row_flat

    def spy(*a):
        seen.append(a[2])
        return real(*a)

    import strfh5.validation.responses as R
    R_check = R.check_row_flat
    try:
        R.check_row_flat = spy
        assert strfh5.validate(path, checksums=True).ok
    finally:
        R.check_row_flat = R_check
    assert seen == [0, 1, 2]
