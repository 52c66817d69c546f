"""The simulator: determinism, streaming == in memory, encodings agree, coverage and
repeat patterns, presets, stored ground truth, and files that validate."""

from __future__ import annotations

import numpy as np
import pytest

import strfh5
from strfh5 import simulate as sim
from strfh5.spectrogram import compute_spectrogram

SMALL = dict(n_stimuli=4, n_neurons=5, n_freqs=8, n_bins=(20, 40), strf_ms=30.0, repeats=(2, 4))


def _rows(c):
    return [c.row(s) for s in range(c.S)]


def _same_rows(a, b):
    for ra, rb in zip(a, b):
        for x, y in zip(ra, rb):
            if x is None or y is None:
                assert x is None and y is None
            elif isinstance(x, strfh5.Events):
                assert x.times.dtype == y.times.dtype and x.times.tobytes() == y.times.tobytes()
                assert np.array_equal(x.counts, y.counts)
            else:
                assert np.array_equal(x, y)


def test_same_seed_same_data_other_seed_other_data():
    a, b = sim.simulate_contents(seed=5, **SMALL), sim.simulate_contents(seed=5, **SMALL)
    _same_rows(_rows(a), _rows(b))
    assert all(np.array_equal(a.stim(s), b.stim(s)) for s in range(a.S))
    assert a.nrn_meta == b.nrn_meta
    c = sim.simulate_contents(seed=6, **SMALL)
    assert not np.array_equal(a.stim(0), c.stim(0))


def test_streamed_file_equals_in_memory(tmp_path):
    path = sim.write_simulated(tmp_path / "s.strf.h5", seed=2, keep_waveform=True, **SMALL)
    mem = sim.simulate_contents(seed=2, keep_waveform=True, **SMALL)
    with strfh5.FileContents(path) as f:
        assert f.stim_ids == mem.stim_ids and f.neuron_ids == mem.neuron_ids
        assert f.stim_meta == mem.stim_meta and f.nrn_meta == mem.nrn_meta
        assert f.info.metadata == mem.info.metadata and f.info.transform == mem.info.transform
        assert np.array_equal(f.repeats, mem.repeats)
        _same_rows(_rows(f), _rows(mem))
        for s in range(f.S):
            assert f.stim(s).tobytes() == mem.stim(s).tobytes()
            assert np.array_equal(f.waveform(s)[0], mem.waveform(s)[0])
    report = strfh5.validate(path, checksums=True)
    assert report.ok and not report.findings, [str(x) for x in report.findings]  # not even a warning


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


def test_kept_waveform_recomputes_the_stored_spectrogram():
    c = sim.simulate_contents(seed=8, keep_waveform=True, **SMALL)
    for s in range(c.S):
        w, sr = c.waveform(s)
        assert sr == c.stim_meta[s]["sample_rate"] and w.shape[-1] == c.stim_meta[s]["n_samples"]
        assert np.array_equal(compute_spectrogram(w, sr, c.info.transform), c.stim(s))


def test_presets_have_the_published_shapes():
    p = sim.preset_params("nat4-a1")
    assert (p["n_stimuli"], p["n_neurons"], p["n_freqs"], p["dt_ms"], p["n_bins"]) == (593, 849, 18, 10.0, 150)
    assert (p["n_val"], p["no_val_neurons"], p["repeats"]) == (18, 33, {"est": 1, "val": 20})
    assert sum(p["animals"].values()) == 849
    p = sim.preset_params("aa2")
    assert (p["n_stimuli"], p["n_neurons"]) == (117, 494) and sum(p["areas"].values()) == 494
    assert sum(p["stim_types"].values()) == 117
    p = sim.preset_params("aa1")
    assert round(p["coverage"] * 3000) == 2960 and p["n_bins"] == (330, 501)


def test_scaled_down_presets_keep_their_patterns():
    c = sim.simulate_contents("nat4-a1", n_stimuli=8, n_val=3, n_neurons=12, no_val_neurons=5, n_bins=20)
    val = np.array([m["subset"] == "val" for m in c.stim_meta])
    assert set(c.repeats[~val].ravel().tolist()) == {1}
    assert set(c.repeats[val][c.masks[val]].tolist()) == {20}
    assert int((~c.masks[val].any(axis=0)).sum()) == 5
    assert c.info.encoding == "binned" and c.info.dt_ms == 10.0 and c.info.stim_dims == (1, 18)
    assert c.neuron_ids[0].count("-") == 2  # NAT4-style cell ids 'ARM001a-04-1'
    c = sim.simulate_contents("aa2", n_stimuli=12, stim_types={"conspecific": 6, "flatrip": 3, "songrip": 3},
                              n_neurons=20, areas={"MLd": 10, "OV": 10}, n_bins=10)
    ov = np.array([m["area"] == "OV" for m in c.nrn_meta])
    songrip = np.array([m["type"] == "songrip" for m in c.stim_meta])
    assert not c.masks[np.ix_(songrip, ov)].any()  # OV birds heard no song ripples
    assert c.masks[~songrip].any()


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
