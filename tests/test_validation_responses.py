"""Validation: response rows (strfh5.validation.responses): descriptors, bounded reads, storage types."""

from __future__ import annotations

import os
import shutil
import sys
import tracemalloc

import h5py
import numpy as np

import strfh5
from strfh5 import heapcheck
from strfh5 import layout as L
from strfh5.validation import validate

sys.path.insert(0, os.path.dirname(__file__))
import malformed as M  # noqa: E402


def _codes(report):
    return [f.code for f in report.findings]


def test_corrupt_descriptors_are_caught_before_hdf5_allocates_them(tmp_path, bases):
    """HDF5 allocates what a VLEN descriptor claims; the validator looks at the claim first."""
    p = M.make(next(c for c in M.CASES if c.name == "responses-row-garbage"), tmp_path, bases)
    r = validate(p)
    assert {f.path for f in r.errors} == {"/responses[1, 0]", "/responses[1, 1]", "/responses[1, 2]"}
    assert all(f.code == "E507" and "more than the whole file" in f.message for f in r.errors)
    q = M.make(next(c for c in M.CASES if c.name == "responses-bad-heap-address"), tmp_path, bases)
    (e,) = validate(q).errors
    assert e.code == "E507" and e.path == "/responses[2]" and "cannot be read" in e.message

def test_binned_counts_in_a_concatenable_but_wide_type_warns(tmp_path, bases):
    p = tmp_path / "c.strf.h5"
    shutil.copyfile(bases["binned"], p)
    with h5py.File(p, "r+") as f:
        f.create_dataset(L.COUNTS, shape=f[L.RESPONSES].shape, dtype=h5py.vlen_dtype(np.uint8))
    assert _codes(validate(p)) == ["W209"]

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
    scan = heapcheck._SPAN + heapcheck._SMALL + 16  # the heap scan's one reused buffer (a constant, < the 20 MB)
    assert peak < 4 * N * R * T + scan, f"peak {peak / 1e6:.1f} MB for rows of {N * R * T / 1e6:.1f} MB"
