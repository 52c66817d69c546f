"""Row binning by a scatter-add into the output type (issue 18) gives exactly the counts of the dense-grid bincount it replaced."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import strfh5
from strfh5.binning import plan
from strfh5.contents import FileContents
from strfh5.histogram import bin_index, histogram_rows


def _dense_reference(times, row, start, dt, n_rows, T, dtype=np.float64):
    """The implementation before issue 18's run counting: one bincount over the dense (row, bin) grid."""
    times = np.asarray(times, dtype=np.float64)
    b = np.searchsorted(start + np.arange(T + 1, dtype=np.float64) * dt, times, side="right") - 1
    top = np.flatnonzero(b == T)
    if top.size:
        b[top[times[top] == start + T * dt]] = T - 1
    key = row * (T + 2) + b + 1
    grid = np.bincount(key, minlength=n_rows * (T + 2)).reshape(n_rows, T + 2)
    return grid[:, 1 : T + 1].astype(dtype)


def _row(rng, R, T, start, dt, sort=True, empty_every=3, dense=False):
    edges = start + np.arange(T + 1) * dt
    trials = []
    for r in range(R):
        k = 0 if r % empty_every == 1 else int(rng.integers(0, 600 if dense else 60))
        t = rng.uniform(start - 3 * dt, start + (T + 3) * dt, k)
        if T >= 1 and r % 2 == 0:  # exactly on edges, just beside them, outside the window
            t = np.concatenate([t, edges, np.nextafter(edges, np.inf), np.nextafter(edges, -np.inf),
                                [start - 1e9, start + 1e9, np.inf, -np.inf]])
        if dense and T >= 1:  # many spikes in one bin (more than 255 in bin 0)
            t = np.concatenate([t, np.full(300, start + 0.25 * dt)])
        trials.append(np.sort(t) if sort else rng.permutation(t))
    counts = np.array([t.size for t in trials], dtype=np.int64)
    flat = np.concatenate(trials) if trials else np.empty(0)
    return flat, np.repeat(np.arange(R, dtype=np.int64), counts), trials


@pytest.mark.parametrize("sort", [True, False])
@pytest.mark.parametrize("start,dt", [(0.0, 5.0), (0.0, 1 / 3), (-12.5, 2.5), (0.1, 0.7), (7.0, 10.0)])
def test_runs_equal_dense_bincount_and_numpy_histogram(sort, start, dt):
    rng = np.random.default_rng(int(dt * 1000) + sort)
    for R, T in [(1, 1), (5, 17), (12, 44), (3, 0), (0, 9)]:
        flat, row, trials = _row(rng, R, T, start, dt, sort=sort)
        for dtype in (np.float32, np.float64):
            got = histogram_rows(flat, row, start, dt, R, T, dtype)
            want = _dense_reference(flat, row, start, dt, R, T, dtype)
            assert got.dtype == dtype and got.shape == (R, T) and got.flags.c_contiguous
            assert got.tobytes() == want.tobytes(), (R, T, sort)
        edges = start + np.arange(T + 1) * dt
        if T >= 1 and R:
            hist = np.stack([np.histogram(t, bins=edges)[0] for t in trials])
            assert np.array_equal(histogram_rows(flat, row, start, dt, R, T), hist)


def test_runs_with_nan_times_and_float32_times():
    rng = np.random.default_rng(3)
    flat, row, _ = _row(rng, 6, 20, 0.0, 5.0)
    flat[::7] = np.nan  # NaN is counted nowhere (numpy sorts it past the last edge)
    got = histogram_rows(flat, row, 0.0, 5.0, 6, 20, np.float32)
    assert got.tobytes() == _dense_reference(flat, row, 0.0, 5.0, 6, 20, np.float32).tobytes()
    f32 = np.sort(rng.uniform(-5, 105, 400).astype(np.float32))
    row32 = np.zeros(f32.size, np.int64)
    got = histogram_rows(f32.astype(np.float64), row32, 0.0, 5.0, 1, 20, np.float32)
    assert got.tobytes() == _dense_reference(f32, row32, 0.0, 5.0, 1, 20, np.float32).tobytes()


def test_uint8_runs_and_counts_over_255_in_float32():
    rng = np.random.default_rng(4)
    flat, row, _ = _row(rng, 4, 10, 0.0, 5.0, dense=True)
    wide = histogram_rows(flat, row, 0.0, 5.0, 4, 10, np.float32)
    assert wide.max() > 255 and wide.tobytes() == _dense_reference(flat, row, 0.0, 5.0, 4, 10, np.float32).tobytes()
    small = flat[flat < 40.0]  # fewer spikes: every count fits uint8
    srow = row[flat < 40.0]
    counts = np.bincount(srow, minlength=4)
    if counts.max() <= 255:
        got = histogram_rows(small, srow, 0.0, 5.0, 4, 10, np.uint8)
        assert got.dtype == np.uint8
        assert np.array_equal(got, _dense_reference(small, srow, 0.0, 5.0, 4, 10))


def test_bin_index_unchanged_on_edges():
    for start, dt, T in [(0.0, 0.1, 29), (-3.3, 1 / 3, 7), (12.5, 5.0, 1)]:
        edges = start + np.arange(T + 1) * dt
        t = np.concatenate([edges, np.nextafter(edges, np.inf), np.nextafter(edges, -np.inf), [np.nan, np.inf]])
        assert np.array_equal(bin_index(t, start, dt, T), np.searchsorted(edges, t, side="right") - 1)


@pytest.mark.parametrize("dt_scale,window", [(1.0, None), (0.7, None), (2.0, None), (1.0, (-20.0, None)),
                                              (1.0, (5.0, 41.0))])
def test_bin_raw_of_events_file_equals_dense_reference(tmp_path, dt_scale, window):
    path = strfh5.write_simulated(tmp_path / "e.strf.h5", seed=9, encoding="events", n_stimuli=3, n_neurons=6,
                                  n_freqs=8, n_bins=(20, 40), strf_ms=30.0, repeats=(1, 4), coverage=0.6)
    c = FileContents(path)
    grid = plan(c.info, dt_ms=c.info.dt_ms * dt_scale, window_ms=window)
    for s in range(c.S):
        raw = c.raw_row(s)
        T = grid.n_bins(int(c.n_bins[s]))
        total = int(raw.reps.sum())
        row = np.repeat(np.arange(total), raw.counts)
        want = _dense_reference(raw.values, row, grid.start(int(c.n_bins[s])), grid.dt, total, T, np.float32)
        for compact in (False, True):
            data, reps = grid.bin_raw(raw, int(c.n_bins[s]), compact=compact)
            assert np.array_equal(reps, raw.reps)
            assert data.shape == want.shape and np.array_equal(data.astype(np.float32), want)
            assert data.dtype == (np.uint8 if compact else np.float32)
    if grid.needs_waveform:  # spectrograms at another width need the waveforms this file does not keep
        c.close()
        return
    eager = strfh5.load(path, dt_ms=c.info.dt_ms * dt_scale, window_ms=window)
    lazy = strfh5.load(path, dt_ms=c.info.dt_ms * dt_scale, window_ms=window, lazy=True)
    for i in range(len(lazy)):
        assert torch.equal(eager[i]["responses"].data, lazy[i]["responses"].data)
    c.close()


def _old_implementation(times, row, start, dt, n_rows, T, dtype):
    """Before issue 18's scatter-add: bin_index (unchanged, public) then a bincount over the padded grid."""
    b = bin_index(np.asarray(times, dtype=np.float64), start, dt, T)
    top = np.flatnonzero(b == T)
    if top.size:
        b[top[times[top] == start + T * dt]] = T - 1
    key = row * (T + 2) + b + 1
    return np.bincount(key, minlength=n_rows * (T + 2)).reshape(n_rows, T + 2)[:, 1 : T + 1].astype(dtype)


@pytest.mark.parametrize("start,dt,T", [(1e9, 1e-8, 10), (1e9, 1e-7, 6), (-1e12, 0.3, 9), (1e-300, 1e-310, 5),
                                        (0.0, 5.0, 70000), (3.0, 1 / 7, 3)])
def test_scatter_add_equals_previous_implementation_on_extreme_grids(start, dt, T):
    rng = np.random.default_rng(int(T))
    edges = start + np.arange(T + 1) * dt
    R = 4
    trials = [np.sort(np.concatenate([edges[rng.integers(0, T + 1, 30)], np.nextafter(edges[:5], np.inf),
                                      np.nextafter(edges[-5:], -np.inf), start + rng.uniform(-2, T + 2, 40) * dt,
                                      [np.nan, np.inf, -np.inf]])) for _ in range(R)]
    flat = np.concatenate(trials)
    row = np.repeat(np.arange(R), [t.size for t in trials])
    for dtype in (np.float32, np.float64, np.uint8):
        got = histogram_rows(flat, row, start, dt, R, T, dtype)
        assert got.tobytes() == _old_implementation(flat, row, start, dt, R, T, dtype).tobytes()
    # more than one chunk of times
    big = np.sort(rng.uniform(start - dt, start + (T + 1) * dt, 200_000))
    brow = np.repeat(np.arange(2), [100_000, 100_000])
    got = histogram_rows(big, brow, start, dt, 2, T, np.float32)
    assert got.tobytes() == _old_implementation(big, brow, start, dt, 2, T, np.float32).tobytes()


def test_histogram_repeats_equals_histogram_rows_with_empty_rows_and_chunks():
    from strfh5.histogram import histogram_repeats

    rng = np.random.default_rng(11)
    counts = rng.integers(0, 3000, 150)
    counts[[0, 5, 6, 149]] = 0
    T = 40
    times = np.concatenate([np.sort(rng.uniform(-5, 5 * T + 5, c)) for c in counts])
    row = np.repeat(np.arange(counts.size), counts)
    for dtype in (np.float32, np.uint8, np.float64):
        got = histogram_repeats(times, counts, 0.0, 5.0, T, dtype)
        assert got.tobytes() == _old_implementation(times, row, 0.0, 5.0, counts.size, T, dtype).tobytes()
        assert got.tobytes() == histogram_rows(times, row, 0.0, 5.0, counts.size, T, dtype).tobytes()
    with pytest.raises(ValueError):
        histogram_repeats(times[:-1], counts, 0.0, 5.0, T)
    assert histogram_repeats(np.empty(0), np.zeros(3, np.int64), 0.0, 5.0, T).shape == (3, T)
