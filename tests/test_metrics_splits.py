"""strfh5.metrics.splits: every unordered half-split enumerated once, or a distinct seeded sample."""

from __future__ import annotations


import numpy as np
import pytest

import reference_metrics as ref
from strfh5 import metrics as M
from strfh5.errors import MetricError


@pytest.mark.parametrize("R", [2, 3, 4, 5, 6, 7, 8, 9, 10])
def test_half_splits_enumerate_each_unordered_split_once(R):
    h = M.half_splits(R, 126).numpy()
    assert h.shape == (M.n_half_splits(R), R) == (len(ref.ref_all_splits(R)), R)
    got = {frozenset([tuple(np.flatnonzero(r)), tuple(np.flatnonzero(~r))]) for r in h}
    want = {frozenset([a, b]) for a, b in ref.ref_all_splits(R)}
    assert got == want and len(got) == h.shape[0]
    assert np.all(h.sum(1) == R // 2)


def test_half_splits_random_sample_is_distinct_seeded_and_capped():
    assert M.n_half_splits(10) == 126 and M.n_half_splits(11) == 462 and M.n_half_splits(1) == 0
    a = M.half_splits(12, 50, seed=3).numpy()
    assert a.shape == (50, 12)
    assert len({r.tobytes() for r in a}) == 50  # distinct
    assert np.all(a[:, 0]) and np.all(a.sum(1) == 6)  # canonical: half A holds repeat 0
    assert np.array_equal(a, M.half_splits(12, 50, seed=3).numpy())
    assert not np.array_equal(a, M.half_splits(12, 50, seed=4).numpy())
    b = M.half_splits(11, 20, seed=0).numpy()
    assert np.all(b.sum(1) == 5)
    with pytest.raises(MetricError):
        M.half_splits(4, 0)
