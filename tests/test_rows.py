"""Row sources (strfh5.rows): eager and lazy rows are the same rows, read through one path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import strfh5
from strfh5.binning import plan
from strfh5.contents import FileContents
from strfh5.rows import EagerRows, LazyRows, ResponseRow, gather_rows, read_block, read_stim


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("rows") / "demo.strf.h5"
    strfh5.write_simulated(str(path), preset="demo", seed=4, progress=False)
    return str(path)


@pytest.mark.parametrize("dt", [None, 10.0, 3.0])
def test_eager_and_lazy_rows_are_identical(demo, dt):
    with FileContents(demo) as c:
        grid = plan(c.info, dt, where=c.path)
        eager = EagerRows.load(c, grid)
        lazy = LazyRows(c, grid, c.N)
        rng = np.random.default_rng(0)
        for s in range(c.S):
            neurons = sorted(rng.choice(c.N, size=5, replace=False).tolist())
            for sel in (None, neurons):
                de, re_ = eager.block(s, sel)
                dl, rl = lazy.block(s, sel)
                assert torch.equal(de, dl) and np.array_equal(re_, rl)
            assert torch.equal(eager.stim(s), lazy.stim(s))
            assert np.array_equal(eager.blocks[s][1], c.repeats[s])


def test_read_block_equals_the_stored_elements_binned(demo):
    with FileContents(demo) as c:
        grid = plan(c.info, 5.0, where=c.path)
        s = 3
        data, reps = read_block(c, grid, s)
        elements = c.row(s)
        rows = []
        for el in elements:
            if el is None:
                continue
            for trial in el.trials():
                edges = np.arange(int(grid.n_bins(int(c.n_bins[s]))) + 1) * 5.0
                rows.append(np.histogram(trial, bins=edges)[0])
        assert np.array_equal(data.numpy(), np.asarray(rows, dtype=np.float32))
        assert read_stim(c, grid, s).dtype == torch.float32


def test_gather_rows_picks_neurons_in_order():
    data = torch.arange(12.0).reshape(6, 2)  # reps 1, 2, 0, 3
    reps = np.array([1, 2, 0, 3])
    got, sub = gather_rows(data, reps, [3, 0, 2])
    assert sub.tolist() == [3, 1, 0]
    assert got.tolist() == data[[3, 4, 5, 0]].tolist()


def test_response_row_views_sentinels_and_edits():
    data = torch.ones(3, 4)
    row = ResponseRow(data, np.array([2, 0, 1]))
    assert row[0].shape == (2, 4) and row[2].shape == (1, 4)
    assert row[1].shape == (1, 1) and torch.isnan(row[1]).all()
    row[1] = torch.zeros(1, 4)
    assert row.block() is None and torch.equal(row[1], torch.zeros(1, 4))
    with pytest.raises(TypeError, match=r"\(R, T\) torch tensor"):
        row[0] = np.zeros((2, 4))
    with pytest.raises(IndexError):
        row[3]
