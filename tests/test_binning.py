"""Reader-side binning: events at any dt equal numpy.histogram; binned files at integer multiples."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import strfh5
from strfh5.binning import bin_events, plan, pool_time
from strfh5.errors import BinningError


def _events_file(tmp_path, stims, spikes, dt=5.0, waveforms=None, transform=None, name="ev.strf.h5"):
    ds = strfh5.from_lists(stims, spike_times=spikes, dt_ms=dt, waveforms=waveforms, transform=transform)
    return strfh5.save(ds, tmp_path / name)


@settings(max_examples=60, deadline=None)
@given(
    times=st.lists(st.floats(-30, 130, allow_nan=False, width=64), max_size=40),
    dt=st.sampled_from([0.5, 1.0, 2.0, 3.0, 5.0, 7.3, 10.0, 0.1 * 3]),
    start=st.sampled_from([0.0, -10.0, -2.5, 4.0]),
    T=st.integers(1, 60),
)
def test_bin_events_equals_numpy_histogram(times, dt, start, T):
    t = np.sort(np.asarray(times, dtype=np.float64))
    edges = start + np.arange(T + 1) * dt
    # include spikes exactly on edges (the last edge is closed in numpy.histogram)
    t = np.sort(np.concatenate([t, edges[[0, -1]], edges[: T // 2]]))
    got = bin_events(t, np.array([t.size]), start, dt, T)
    want, _ = np.histogram(t, bins=edges)
    assert got.shape == (1, T)
    np.testing.assert_array_equal(got[0], want)


@pytest.mark.parametrize("dt", [1, 2.5, 5, 10, 3])
def test_rebinned_events_file_equals_histogram_of_its_spikes(tmp_path, dt):
    # waveform stimuli: responses can be binned at any dt (spectrograms only at multiples)
    rng = np.random.default_rng(1)
    stims = [rng.standard_normal((1, T * 80)).astype(np.float32) for T in (40, 37)]
    spikes = [[[np.sort(rng.uniform(-20, T * 5 + 20, rng.integers(0, 40))) for _ in range(3)], None]
              for T in (40, 37)]
    spikes[1][1] = [np.array([0.0, 5.0, 184.999, 185.0]), np.array([])]  # on edges and at the stimulus end
    ds0 = strfh5.from_lists(stims, spike_times=spikes, dt_ms=5, n_bins=[40, 37], sample_rates=[16000.0] * 2)
    path = strfh5.save(ds0, tmp_path / "ev.strf.h5")
    for lazy in (False, True):
        ds = strfh5.load(path, dt_ms=dt, lazy=lazy)
        for s, T in enumerate((40, 37)):
            Tb = int(np.floor(T * 5.0 / dt + 1e-9))
            edges = np.arange(Tb + 1) * float(dt)
            for n in range(2):
                trials = spikes[s][n]
                r = ds.responses[s][n]
                if trials is None:
                    assert r.shape == (1, 1) and torch.isnan(r).all()
                    continue
                assert r.shape == (len(trials), Tb) and r.dtype == torch.float32
                want = np.stack([np.histogram(tr, bins=edges)[0] for tr in trials])
                np.testing.assert_array_equal(r.numpy(), want)


def test_window_widens_responses_and_pads_stimuli(tmp_path):
    rng = np.random.default_rng(2)
    stim = rng.random((1, 3, 20), dtype=np.float32)
    trials = [np.array([-60.0, -49.0, -1.0, 0.0, 99.0, 100.0, 130.0])]
    path = _events_file(tmp_path, [stim], [[trials]])
    ds = strfh5.load(path, window_ms=(-50, 120))
    T = int((120 + 50) / 5)
    assert ds.n_bins[0] == T
    np.testing.assert_array_equal(ds.responses[0][0].numpy()[0],
                                  np.histogram(trials[0], bins=-50 + np.arange(T + 1) * 5.0)[0])
    x = ds.stims[0]
    assert x.shape == (1, 3, T)
    assert torch.equal(x[..., :10], torch.zeros(1, 3, 10))
    assert torch.equal(x[..., 10:30], torch.from_numpy(stim))
    assert torch.equal(x[..., 30:], torch.zeros(1, 3, T - 30))
    # stop=None: each stimulus's end
    ds2 = strfh5.load(path, window_ms=(-50, None))
    assert ds2.n_bins[0] == 30 and ds2.stims[0].shape == (1, 3, 30)
    # default window drops pre-onset and post-stimulus spikes
    ds3 = strfh5.load(path)
    assert ds3.responses[0][0].sum().item() == 3  # 0, 99 (bin 19); 100 is the closed last edge
    with pytest.raises(BinningError, match="multiple of dt_ms"):
        strfh5.load(path, window_ms=(-52, 100))
    with pytest.raises(BinningError, match="start < stop"):
        strfh5.load(path, window_ms=(10, 0))
    with pytest.raises(BinningError, match="window_ms must be"):
        strfh5.load(path, window_ms=5)


def test_spectrogram_pooled_at_multiples(tmp_path):
    rng = np.random.default_rng(3)
    stim = rng.random((1, 4, 21), dtype=np.float32)
    path = _events_file(tmp_path, [stim], [[[np.array([1.0])]]])
    ds = strfh5.load(path, dt_ms=15)
    assert ds.n_bins[0] == 7 and ds.stims[0].shape == (1, 4, 7)
    want = stim.astype(np.float64).reshape(1, 4, 7, 3).mean(-1).astype(np.float32)
    np.testing.assert_array_equal(ds.stims[0].numpy(), want)
    assert ds.transforms[0]["name"] == "bin"


def test_finer_dt_needs_waveform(tmp_path):
    rng = np.random.default_rng(4)
    stim = rng.random((1, 4, 10), dtype=np.float32)
    path = _events_file(tmp_path, [stim], [[[np.array([1.0])]]])
    with pytest.raises(BinningError, match="no stored waveform"):
        strfh5.load(path, dt_ms=1)
    with pytest.raises(BinningError, match="no stored waveform"):
        strfh5.load(path, dt_ms=7)
    wf = [(rng.standard_normal((1, 800)).astype(np.float32), 16000.0)]
    path2 = _events_file(tmp_path, [stim], [[[np.array([1.0])]]], waveforms=wf, name="wf.strf.h5")
    with pytest.raises(BinningError, match="transform"):
        strfh5.load(path2, dt_ms=1)


def test_binned_file_rebinning(tmp_path):
    rng = np.random.default_rng(5)
    counts = rng.integers(0, 5, (3, 11))
    sig = rng.standard_normal((2, 11)).astype(np.float32)
    sig[0, :3] = np.nan
    sig[1, 4] = np.nan
    stim = rng.random((1, 2, 11), dtype=np.float32)
    p1 = strfh5.save(strfh5.from_lists([stim], [[counts]], dt_ms=2), tmp_path / "c.strf.h5")
    p2 = strfh5.save(strfh5.from_lists([stim], [[sig]], dt_ms=2, response_kind="continuous"), tmp_path / "s.strf.h5")
    for lazy in (False, True):
        d = strfh5.load(p1, dt_ms=6, lazy=lazy)
        assert d.n_bins[0] == 3
        np.testing.assert_array_equal(d.responses[0][0].numpy(), counts[:, :9].reshape(3, 3, 3).sum(-1))
        e = strfh5.load(p2, dt_ms=4, lazy=lazy)
        got = e.responses[0][0].numpy()
        v = sig[:, :10].astype(np.float64).reshape(2, 5, 2)
        with np.errstate(invalid="ignore"), pytest.warns(RuntimeWarning):
            want = np.nanmean(v, axis=-1).astype(np.float32)
        np.testing.assert_array_equal(got, want)  # NaN-aware; all-NaN groups stay NaN
        assert np.isnan(got[0, 0]) and not np.isnan(got[0, 1])
    for bad in (3, 5, 1, 0.5):
        with pytest.raises(BinningError, match="integer multiple"):
            strfh5.load(p1, dt_ms=bad)
    with pytest.raises(BinningError, match="events"):
        strfh5.load(p1, window_ms=(-10, 20))
    for bad in (0, -5, "x", float("nan")):
        with pytest.raises(BinningError, match="positive number"):
            strfh5.load(p1, dt_ms=bad)


def test_pool_time_modes():
    a = np.arange(10, dtype=np.float64).reshape(1, 10)
    np.testing.assert_array_equal(pool_time(a, 3, "sum"), [[3, 12, 21]])
    np.testing.assert_array_equal(pool_time(a, 3, "mean"), [[1, 4, 7]])
    b = np.array([[np.nan, np.nan, 1.0, np.nan]])
    out = pool_time(b, 2, "nanmean")
    assert np.isnan(out[0, 0]) and out[0, 1] == 1.0


def test_video_frames_repeated_and_pooled(tmp_path):
    rng = np.random.default_rng(6)
    vid = rng.random((1, 2, 3, 6), dtype=np.float32)
    path = _events_file(tmp_path, [vid], [[[np.array([1.0, 12.0])]]], dt=10.0)
    ds = strfh5.load(path, dt_ms=5)
    assert isinstance(ds, strfh5.VideoNeuralDataset)
    assert ds.stims[0].shape == (1, 2, 3, 12)
    np.testing.assert_array_equal(ds.stims[0].numpy(), np.repeat(vid, 2, axis=-1))
    np.testing.assert_array_equal(ds.responses[0][0].numpy()[0, :4], [1, 0, 1, 0])
    ds2 = strfh5.load(path, dt_ms=20)
    assert ds2.stims[0].shape == (1, 2, 3, 3)
    with pytest.raises(BinningError, match="neither"):
        strfh5.load(path, dt_ms=3)


def test_waveform_stimuli_returned_as_stored(tmp_path):
    rng = np.random.default_rng(7)
    wav = rng.standard_normal((1, 1600)).astype(np.float32)
    ds = strfh5.from_lists([wav], spike_times=[[[np.array([3.0, 50.0])]]], dt_ms=5, n_bins=[20],
                           sample_rates=[16000.0])
    path = strfh5.save(ds, tmp_path / "w.strf.h5")
    d = strfh5.load(path, dt_ms=2)
    assert d.stims[0].shape == (1, 1600) and d.F is None
    assert d.n_bins[0] == 50 and d.responses[0][0].shape == (1, 50)
    np.testing.assert_array_equal(d.stims[0].numpy(), wav)


def test_plan_identity():
    ds = strfh5.from_lists([np.zeros((1, 2, 4), np.float32)], [[np.ones((1, 4))]], dt_ms=5)
    g = plan(ds.contents.info, 5.0000000001)
    assert g.is_identity and g.dt == 5.0


def test_finer_dt_recomputes_spectrogram_from_waveform(tmp_path):
    from strfh5.spectrogram import SpectrogramParams, spectrogram

    rng = np.random.default_rng(8)
    wav = rng.standard_normal((1, 4000)).astype(np.float32)
    S5, tr = spectrogram(wav, 8000, SpectrogramParams(n_bands=6, hop_ms=5, f_max=4000))
    ds = strfh5.from_lists([S5], spike_times=[[[np.array([0.5, 1.5, 250.0])]]], dt_ms=5,
                           waveforms=[(wav, 8000.0)], transform=tr)
    path = strfh5.save(ds, tmp_path / "spec.strf.h5")
    d = strfh5.load(path, dt_ms=1, lazy=True)
    S1, _ = spectrogram(wav, 8000, SpectrogramParams(n_bands=6, hop_ms=1, f_max=4000))
    T = S5.shape[-1] * 5
    assert d.n_bins[0] == T and d.stims[0].shape == (1, 6, T)
    np.testing.assert_array_equal(d.stims[0].numpy(), S1[..., :T])
    np.testing.assert_array_equal(d.responses[0][0].numpy()[0, :3], [1, 1, 0])


@pytest.mark.parametrize("lazy", [False, True])
def test_bin_count_over_the_row_limit_is_refused_at_open(tmp_path, monkeypatch, lazy):
    """A bin width whose rows exceed STRFH5_MAX_ROW_VALUES is refused by load itself, eager or lazy, before
    any row or stimulus is read (issue 12: a lazy open must not defer the bomb to the first item)."""
    from strfh5.contents import FileContents

    stims = [np.ones((1, 160), np.float32), np.ones((1, 120), np.float32)]
    spikes = [[[np.array([1.0, 2.0])]], [[np.array([3.0])]]]
    c = strfh5.contents_from_lists(stims, spike_times=spikes, dt_ms=1.0, stim_kind="waveform", n_bins=[10, 12],
                                   sample_rates=[16000.0, 16000.0])
    p = strfh5.save(c, tmp_path / "w.strf.h5")

    def no_read(*_a, **_k):
        raise AssertionError("a row or stimulus was read before the size check")
    for name in ("raw_row", "row", "stim"):
        monkeypatch.setattr(FileContents, name, no_read)
    monkeypatch.setenv("STRFH5_MAX_ROW_VALUES", "1000")
    with pytest.raises(BinningError, match=r"stimulus 1 .* over the limit of 1000 .*STRFH5_MAX_ROW_VALUES"):
        strfh5.load(p, lazy=lazy, dt_ms=0.01)  # 12 ms / 0.01 = 1200 bins > 1000 values a row
    monkeypatch.delenv("STRFH5_MAX_ROW_VALUES")
    with pytest.raises(BinningError, match="over the limit of 2147483648"):
        strfh5.load(p, lazy=lazy, dt_ms=1e-9)  # the default limit (2**31): 1.2e10 bins
