"""strfh5.simulate.coverage: which pairs are recorded (fraction, classes, explicit, callable, no-validation neurons) and their repeats."""

from __future__ import annotations

import numpy as np

from strfh5 import simulate as sim


def test_fraction_coverage_is_exact_and_no_val_neurons():
    c = sim.simulate_contents(seed=0, n_stimuli=10, n_neurons=12, n_freqs=4, n_bins=5, strf_ms=10.0,
                              coverage=0.75, n_val=3, no_val_neurons=4, repeats={"est": 1, "val": (5, 6)})
    m = c.masks
    val = np.array([x["subset"] == "val" for x in c.stim_meta])
    assert val.tolist() == [False] * 7 + [True] * 3
    assert int((~m[val].any(axis=0)).sum()) >= 4
    assert set(c.repeats[~val][m[~val]].tolist()) == {1}
    assert set(c.repeats[val][m[val]].tolist()) <= {5, 6}


def test_fraction_coverage_count():
    c = sim.simulate_contents(seed=4, n_stimuli=6, n_neurons=10, n_freqs=4, n_bins=5, strf_ms=10.0,
                              coverage=0.9, n_val=0)
    assert int(c.masks.sum()) == 54


def test_classes_and_explicit_and_callable_coverage():
    kw = dict(seed=1, n_stimuli=9, n_neurons=6, n_freqs=4, n_bins=5, strf_ms=10.0, n_val=0,
              stim_types=("song", "ripple", "noise"))
    c = sim.simulate_contents(coverage="classes", **kw)
    types = np.array([m["type"] for m in c.stim_meta])
    for n in range(c.N):
        heard = set(types[c.masks[:, n]])
        assert heard and np.array_equal(c.masks[:, n], np.isin(types, list(heard)))
    mask = np.eye(9, 6, dtype=bool)
    assert np.array_equal(sim.simulate_contents(coverage=mask, **kw).masks, mask)
    c = sim.simulate_contents(coverage=lambda s, n, sm, nm, rng: (s + n) % 2 == 0, **kw)
    assert np.array_equal(c.masks, (np.add.outer(np.arange(9), np.arange(6)) % 2) == 0)
    c = sim.simulate_contents(repeats=lambda s, n, sm, nm, rng: n, **kw)
    assert np.array_equal(c.repeats, np.tile(np.arange(6), (9, 1)))
