"""Eager datasets hold uint8 counts compactly (issue 18) and hand out the same float32 values as before."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import strfh5
from strfh5.contents import FileContents
from strfh5.rows import read_block

SMALL = dict(n_stimuli=4, n_neurons=5, n_freqs=8, n_bins=(20, 40), strf_ms=30.0, repeats=(2, 4))


@pytest.fixture(params=["events", "binned"])
def path(request, tmp_path):
    return strfh5.write_simulated(tmp_path / f"{request.param}.strf.h5", seed=6, encoding=request.param, **SMALL)


def _float_rows(path):
    """Every row as the eager load built it before: float32 blocks."""
    with FileContents(path) as c:
        ds = strfh5.load(path, lazy=True)
        rows = [read_block(c, ds.grid, s) for s in range(c.S)]
        ds.close()
    return rows


def test_eager_rows_compact_until_used_and_equal_to_float_rows(path):
    want = _float_rows(path)
    ds = strfh5.load(path)
    assert all(data.dtype == torch.uint8 for data, _ in ds._rows.blocks)  # simulated counts fit uint8
    for s, (data, reps) in enumerate(want):
        row = ds.responses[s]
        assert row.data.dtype == torch.float32 and torch.equal(row.data, data)
        assert row.compact()[0].dtype == torch.float32  # converted once; the uint8 copy is dropped
        got, got_reps = ds.row_block(s)
        assert got.dtype == torch.float32 and torch.equal(got, data) and np.array_equal(got_reps, reps)
        assert got.data_ptr() == row.data.data_ptr()  # one float32 copy, shared by the block and the row
        for n in range(len(reps)):
            t = ds.responses[s][n]
            assert t.dtype == torch.float32 and (torch.isnan(t).all() if reps[n] == 0 else t.shape[0] == reps[n])


def test_eager_items_collate_as_float_rows_and_as_lazy(path):
    eager, lazy = strfh5.load(path), strfh5.load(path, lazy=True)
    items = [eager[i] for i in range(len(eager))]
    assert all(it["responses"].compact()[0].dtype == torch.uint8 for it in items)
    a = strfh5.neural_collate(items)
    b = strfh5.neural_collate([lazy[i] for i in range(len(lazy))])
    for key in ("responses", "valid_mask"):
        assert torch.equal(torch.nan_to_num(a[key].float(), nan=-7.0), torch.nan_to_num(b[key].float(), nan=-7.0))
    want = _float_rows(path)
    ref = strfh5.load(path)
    ref._rows.blocks[:] = [(d, r) for d, r in want]  # float32 blocks: the items of the former eager load
    ref._rows.responses[:] = [strfh5.rows.ResponseRow(d, r) for d, r in want]
    c = strfh5.neural_collate([ref[i] for i in range(len(ref))])
    assert torch.equal(torch.nan_to_num(a["responses"], nan=-7.0), torch.nan_to_num(c["responses"], nan=-7.0))
    lazy.close()


def test_transforms_on_compact_eager_rows_equal_lazy(path):
    eager, lazy = strfh5.load(path), strfh5.load(path, lazy=True)
    eager.smooth_responses(20.0)
    lazy.smooth_responses(20.0)
    for i in range(len(lazy)):
        x, y = eager[i]["responses"], lazy[i]["responses"]
        assert x.compact()[0].dtype == torch.float32 and torch.equal(x.data, y.data)
    lazy.close()


def test_spike_counts_over_255_stay_float32(tmp_path):
    from strfh5.binning import plan
    from strfh5.records import RawRow

    path = strfh5.write_simulated(tmp_path / "e.strf.h5", seed=6, encoding="events", **SMALL)
    with FileContents(path) as c:
        grid = plan(c.info)
        T = int(c.n_bins[0])
        times = np.sort(np.concatenate([np.full(300, 2.5), np.linspace(0, T * grid.dt, 50, endpoint=False)]))
        raw = RawRow(np.array([1]), times, np.array([times.size]))
        data, _ = grid.bin_raw(raw, T, compact=True)
        edges = np.arange(T + 1) * grid.dt
        assert data.dtype == np.float32 and data[0, 0] > 255
        assert np.array_equal(data[0], np.histogram(times, bins=edges)[0].astype(np.float32))
