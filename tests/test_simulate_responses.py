"""strfh5.simulate.responses: the encodings agree, the stored ground truth generates the data, a kept waveform gives the stored spectrogram."""

from __future__ import annotations

import numpy as np

from simulate_cases import SMALL
from strfh5 import simulate as sim
from strfh5.spectrogram import compute_spectrogram


def test_binned_counts_are_the_events_binned():
    """Same seed: binned counts == spike times of [0, T dt) binned at dt; events add pre/post spikes."""
    kw = dict(SMALL, seed=11, pre_ms=200.0, post_ms=150.0, dt_ms=5.0)
    ev = sim.simulate_contents(encoding="events", **kw)
    bn = sim.simulate_contents(encoding="binned", **kw)
    assert np.array_equal(ev.repeats, bn.repeats)
    n_pre = n_post = 0
    for s in range(ev.S):
        T = int(ev.n_bins[s])
        for e, b in zip(ev.row(s), bn.row(s)):
            if e is None:
                assert b is None
                continue
            assert b.shape == (e.n_repeats, T)
            for r, t in enumerate(e.trials()):
                assert np.all(np.diff(t) >= 0)  # sorted within a repeat
                inside = t[(t >= 0) & (t < T * 5.0)]
                assert np.array_equal(np.bincount(np.floor(inside / 5.0).astype(int), minlength=T), b[r])
                n_pre += int((t < 0).sum())
                n_post += int((t >= T * 5.0).sum())
                assert t.min(initial=0) >= -200.0 and t.max(initial=0) < T * 5.0 + 150.0
    assert n_pre > 0 and n_post > 0
    assert ev.info.metadata["simulation"]["pre_ms"] == 200.0
    assert bn.info.response_kind == "counts" and bn.info.metadata["response_units"] == "spikes/bin"


def test_ground_truth_generates_the_data():
    """Rates recomputed from the stored STRFs and nonlinearities match the trial average."""
    c = sim.simulate_contents(seed=3, n_stimuli=3, n_neurons=4, n_freqs=8, n_bins=300, repeats=400,
                              encoding="binned", trial_gain_sd=0.0, strf_ms=30.0)
    strfs = np.array([m["strf"] for m in c.nrn_meta])
    assert strfs.shape == (4, 8, c.info.metadata["simulation"]["strf_lags"])
    nl = [m["nonlinearity"] for m in c.nrn_meta]
    for s in range(c.S):
        rates = sim.simulated_rates(c.stim(s), strfs, nl) * c.info.dt_ms / 1000.0
        for n, el in enumerate(c.row(s)):
            # Poisson: (mean - rate) / sqrt(rate / R) ~ N(0, 1) bin by bin; a wrong STRF or
            # nonlinearity would make these z-scores far larger than 1
            z = (el.mean(axis=0) - rates[n]) / np.sqrt(rates[n] / el.shape[0])
            assert abs(float(np.mean(z**2)) - 1.0) < 0.35, (s, n, float(np.mean(z**2)))


def test_kept_waveform_recomputes_the_stored_spectrogram():
    c = sim.simulate_contents(seed=8, keep_waveform=True, **SMALL)
    for s in range(c.S):
        w, sr = c.waveform(s)
        assert sr == c.stim_meta[s]["sample_rate"] and w.shape[-1] == c.stim_meta[s]["n_samples"]
        assert np.array_equal(compute_spectrogram(w, sr, c.info.transform), c.stim(s))
