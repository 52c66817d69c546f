"""strfh5.simulate (the package's contract): determinism, the dataset it returns, bad parameters."""

from __future__ import annotations

import numpy as np
import pytest

import strfh5
from simulate_cases import SMALL, rows, same_rows
from strfh5 import simulate as sim


def test_same_seed_same_data_other_seed_other_data():
    a, b = sim.simulate_contents(seed=5, **SMALL), sim.simulate_contents(seed=5, **SMALL)
    same_rows(rows(a), rows(b))
    assert all(np.array_equal(a.stim(s), b.stim(s)) for s in range(a.S))
    assert a.nrn_meta == b.nrn_meta
    c = sim.simulate_contents(seed=6, **SMALL)
    assert not np.array_equal(a.stim(0), c.stim(0))


def test_bad_parameters_raise_invalid_data():
    with pytest.raises(strfh5.InvalidDataError, match="unknown simulation preset"):
        sim.preset_params("aa9")
    with pytest.raises(strfh5.InvalidDataError, match="unknown simulation parameter"):
        sim.simulate_contents(n_stimulus=3)
    with pytest.raises(strfh5.InvalidDataError, match="cannot be synthesised"):
        sim.simulate_contents(stim_types=("speech",), **{k: v for k, v in SMALL.items()})
    with pytest.raises(strfh5.InvalidDataError, match="coverage"):
        sim.simulate_contents(coverage=np.ones((2, 2), bool), **SMALL)
    with pytest.raises(strfh5.InvalidDataError, match="n_bins"):
        sim.simulate_contents(**dict(SMALL, n_bins=[3, 4]))


def test_simulate_dataset_returns_a_dataset():
    ds = strfh5.simulate_dataset(seed=0, **SMALL)
    c = sim.simulate_contents(seed=0, **SMALL)
    assert ds.get_S() == 4 and ds.get_N() == 5
    assert np.array_equal(ds.nrn_masks.numpy(), c.masks)
    assert tuple(ds.stims[0].shape) == (1, 8, int(c.n_bins[0]))
