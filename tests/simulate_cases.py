"""What the simulator tests share: a small parameter set and a bit-exact comparison of rows."""

from __future__ import annotations

import numpy as np

import strfh5

SMALL = dict(n_stimuli=4, n_neurons=5, n_freqs=8, n_bins=(20, 40), strf_ms=30.0, repeats=(2, 4))


def rows(c):
    """Every stimulus row of contents ``c``."""
    return [c.row(s) for s in range(c.S)]


def same_rows(a, b):
    """Assert two lists of rows are equal element by element (events bit-exact, dtype included)."""
    for ra, rb in zip(a, b):
        for x, y in zip(ra, rb):
            if x is None or y is None:
                assert x is None and y is None
            elif isinstance(x, strfh5.Events):
                assert x.times.dtype == y.times.dtype and x.times.tobytes() == y.times.tobytes()
                assert np.array_equal(x.counts, y.counts)
            else:
                assert np.array_equal(x, y)
