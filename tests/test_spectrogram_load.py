"""Spectrograms chosen at load, recomputed from kept waveforms (issue 14, SPEC §5.3).

The reference values come from a second implementation of the recipe written
here from its text (SPEC §11.6) with plain
numpy/scipy — no librosa, no strfh5.spectrogram.
"""

from __future__ import annotations

import math
from fractions import Fraction

import h5py
import numpy as np
import pytest
import scipy.signal
import torch

import strfh5
from strfh5 import layout as L
from strfh5.errors import BinningError, CorruptDataError, SpectrogramError
from strfh5.fileinfo import format_info
from strfh5.spectrogram import SpectrogramParams, spectrogram

#: elementwise tolerance between two implementations of the recipe: |a - b| <= RTOL * max|b| + ATOL
RTOL, ATOL = 1e-5, 1e-6


# ------------------------------------------------------ reference recipe
def _mel(f):
    f = np.asarray(f, dtype=np.float64)
    lin = 3.0 * f / 200.0
    log = 15.0 + np.log(np.maximum(f, 1e-300) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(f < 1000.0, lin, log)


def _hz(m):
    m = np.asarray(m, dtype=np.float64)
    return np.where(m < 15.0, 200.0 * m / 3.0, 1000.0 * np.exp((m - 15.0) * np.log(6.4) / 27.0))


def ref_filterbank(kind, n_bands, f_min, f_max, sr, n_fft):
    freqs = np.linspace(0.0, sr / 2.0, n_fft // 2 + 1)
    W = np.zeros((n_bands, freqs.size))
    if kind == "mel":
        m = _hz(np.linspace(_mel(f_min), _mel(f_max), n_bands + 2))
        for b in range(n_bands):
            up = (freqs - m[b]) / (m[b + 1] - m[b])
            down = (m[b + 2] - freqs) / (m[b + 2] - m[b + 1])
            W[b] = np.maximum(0.0, np.minimum(up, down)) * 2.0 / (m[b + 2] - m[b])
        return W
    c = np.geomspace(f_min, f_max, n_bands)
    s = (math.log(f_max) - math.log(f_min)) / (n_bands - 1) if n_bands > 1 else math.log(2) / 2
    for b in range(n_bands):
        lo = c[b - 1] if b > 0 else math.exp(math.log(c[0]) - s)
        hi = c[b + 1] if b < n_bands - 1 else math.exp(math.log(c[-1]) + s)
        W[b] = np.maximum(0.0, np.minimum((freqs - lo) / (c[b] - lo), (hi - freqs) / (hi - c[b])))
    return W


def ref_spectrogram(x, sr, *, kind="mel", n_bands=32, f_min=250.0, f_max=8000.0, window_ms=10.0, hop_ms=1.0,
                    compression="cuberoot", eps=1e-10):
    """The recipe of SPEC §11.6, step by step."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=0)
    n = x.size
    h = Fraction(repr(float(hop_ms))) * Fraction(repr(float(sr))) / 1000
    T = math.floor(Fraction(n) / h)
    win = max(1, round(window_ms * sr / 1000))
    n_fft = 1 << (win - 1).bit_length()
    w = scipy.signal.get_window("hann", win, fftbins=True)
    W = ref_filterbank(kind, n_bands, f_min, f_max, sr, n_fft)
    out = np.empty((n_bands, T))
    for t in range(T):
        c = round((2 * t + 1) * h / 2)
        idx = c - win // 2 + np.arange(win)
        frame = np.where((idx >= 0) & (idx < n), x[np.clip(idx, 0, n - 1)], 0.0) * w
        spec = np.fft.rfft(np.concatenate([frame, np.zeros(n_fft - win)]))
        out[:, t] = W @ (spec.real ** 2 + spec.imag ** 2)
    comp = {"none": lambda b: b, "log": lambda b: np.log(b + eps), "log1p": lambda b: np.log1p(b / eps),
            "cuberoot": np.cbrt, "db": lambda b: 10 * np.log10(np.maximum(b, eps))}[compression]
    return comp(out).astype(np.float32)[None]


def assert_close(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape
    tol = RTOL * np.abs(b).max() + ATOL
    assert np.abs(a - b).max() <= tol, (np.abs(a - b).max(), tol)


def pcm16(rng, n):
    """A noisy chirp quantised as 16-bit PCM read as [-1, 1)."""
    t = np.arange(n)
    x = 0.3 * np.sin(2 * np.pi * (300 + 3000 * t / n) * t / 16000) + 0.05 * rng.standard_normal(n)
    return (np.clip(np.round(x * 32768), -32768, 32767) / 32768).astype(np.float32)


@pytest.mark.parametrize("kw", [
    dict(kind="mel", n_bands=32, f_min=250.0, f_max=8000.0, hop_ms=1.0),
    dict(kind="mel", n_bands=34, f_min=250.0, f_max=8000.0, hop_ms=5.0, window_ms=25.0),
    dict(kind="log", n_bands=18, f_min=500.0, f_max=7000.0, hop_ms=2.5, compression="log"),
    dict(kind="log", n_bands=1, f_min=1000.0, f_max=4000.0, hop_ms=3.0, compression="db"),
])
def test_second_implementation_reproduces_the_library(kw):
    rng = np.random.default_rng(1)
    sr = 16000.0
    x = pcm16(rng, 7001)
    ours, _ = spectrogram(x, sr, SpectrogramParams(**kw))
    assert_close(ours, ref_spectrogram(x, sr, **kw))


def test_non_integer_hop_frames_centred_exactly():
    rng = np.random.default_rng(2)
    x = pcm16(rng, 24414)  # 1 s at 24414 Hz: 24.414 samples per 1 ms bin
    kw = dict(kind="mel", n_bands=16, f_min=250.0, f_max=8000.0, hop_ms=1.0)
    ours, _ = spectrogram(x, 24414.0, SpectrogramParams(**kw))
    assert ours.shape == (1, 16, 1000)
    assert_close(ours, ref_spectrogram(x, 24414.0, **kw))


# --------------------------------------------------------------- files
def _file(tmp_path, keep=True, name="w.strf.h5", n_stims=3, sr=16000.0, stim_kind=None):
    rng = np.random.default_rng(3)
    p = SpectrogramParams(hop_ms=1.0, n_bands=16, f_max=8000.0)
    stims, waves, spikes = [], [], []
    for i in range(n_stims):
        x = pcm16(rng, 8000 + 800 * i)
        S, tr = spectrogram(x, sr, p)
        stims.append(S)
        waves.append((x[None], sr))
        spikes.append([[np.sort(rng.uniform(0, 500, 30))], [np.sort(rng.uniform(0, 500, 10))] * 2])
    ds = strfh5.from_lists(stims, spike_times=spikes, dt_ms=1.0, waveforms=waves if keep else None, transform=tr,
                           neuron_ids=["a", "b"], stim_ids=[f"s{i}" for i in range(n_stims)])
    return strfh5.save(ds, tmp_path / name), stims, waves


def test_recompute_at_stored_parameters_is_bit_identical(tmp_path):
    path, stims, waves = _file(tmp_path)
    c = strfh5.FileContents(path)
    for s in range(c.S):
        w, sr = c.waveform(s)
        assert w.dtype == np.float32 and np.array_equal(w, waves[s][0])  # int16 + scale read back exactly
        again = strfh5.spectrogram.compute_spectrogram(w, sr, c.info.transform)
        assert np.array_equal(again, c.stim(s)) and np.array_equal(again, stims[s])
    c.close()


@pytest.mark.parametrize("lazy", [False, True])
def test_load_with_other_bands_and_bin_width(tmp_path, lazy):
    path, _, waves = _file(tmp_path)
    ds = strfh5.load(path, lazy=lazy, dt_ms=5, n_bands=24, f_min=300.0, spec_window_ms=20.0)
    assert ds.F == 24 and ds.get_dt() == 5
    for s in range(ds.get_S()):
        x = ds.stims[s]
        assert x.dtype == torch.float32 and tuple(x.shape) == (1, 24, int(ds.n_bins[s]))
        want = ref_spectrogram(waves[s][0], 16000.0, n_bands=24, f_min=300.0, window_ms=20.0, hop_ms=5.0)
        assert_close(x.numpy(), want)
    item = ds[0]
    assert item["stims"].shape[-1] == item["responses"][0].shape[-1]
    rec = [t for t in ds.transforms if t["name"] == "spectrogram"]
    assert len(rec) == 1 and rec[0]["n_bands"] == 24 and rec[0]["spec_window_ms"] == 20.0
    assert rec[0]["transform"]["n_bands"] == 24 and len(rec[0]["transform"]["center_freqs"]) == 24
    assert rec[0]["transform"]["hop_ms"] == 5.0 and rec[0]["transform"]["window_ms"] == 20.0
    assert "n_bands=24" in repr(ds)
    ds.close()


def test_eager_and_lazy_equal_and_dataloader(tmp_path):
    path, _, _ = _file(tmp_path)
    e = strfh5.load(path, dt_ms=2, n_bands=20, compression="log")
    with strfh5.load(path, lazy=True, dt_ms=2, n_bands=20, compression="log") as z:
        for s in range(e.get_S()):
            assert torch.equal(e.stims[s], z.stims[s])
        loader = torch.utils.data.DataLoader(z, batch_size=1, num_workers=1, collate_fn=strfh5.neural_collate)
        batches = list(loader)
        assert len(batches) == 3 and batches[0]["stims"].shape[1:3] == (1, 20)


def test_unchanged_parameters_read_the_stored_spectrograms(tmp_path):
    path, stims, _ = _file(tmp_path)
    ds = strfh5.load(path, n_bands=16, f_min=250.0, compression="cuberoot", spec_kind="mel")
    assert ds.F == 16 and ds.transforms == [] and np.array_equal(ds.stims[1].numpy(), stims[1])


@pytest.mark.parametrize("lazy", [False, True])
def test_refused_without_waveforms_names_keep_waveform(tmp_path, lazy):
    path, _, _ = _file(tmp_path, keep=False)
    with pytest.raises(BinningError, match=r"no stored waveform.*--keep-waveform") as e:
        strfh5.load(path, lazy=lazy, n_bands=34)  # lazy: refused at open, not at the first item
    assert "n_bands=34" in str(e.value) and "nor do 2 other stimuli" in str(e.value)
    assert strfh5.info(path)["waveforms"]["kept"] == 0
    assert "--keep-waveform" in format_info(strfh5.info(path))


def test_bad_spectrogram_arguments(tmp_path):
    path, _, _ = _file(tmp_path)
    with pytest.raises(SpectrogramError, match="n_bands"):
        strfh5.load(path, n_bands=0)
    with pytest.raises(SpectrogramError, match="n_bands"):
        strfh5.load(path, n_bands=2.5)
    with pytest.raises(SpectrogramError, match="Nyquist"):
        strfh5.load(path, f_max=12000.0)
    with pytest.raises(SpectrogramError, match="compression"):
        strfh5.load(path, compression="sqrt")
    with pytest.raises(SpectrogramError, match="spec_window_ms"):
        strfh5.load(path, spec_window_ms="10")
    video = strfh5.save(strfh5.from_lists([np.zeros((1, 2, 2, 4), np.float32)], [[np.ones((1, 4))]], dt_ms=10),
                        tmp_path / "v.strf.h5")
    with pytest.raises(BinningError, match="spectrogram stimuli"):
        strfh5.load(video, n_bands=8)


def test_kept_waveforms_stored_as_int16_with_scale(tmp_path):
    path, _, waves = _file(tmp_path)
    with h5py.File(path, "r") as f:
        d = f[L.stim_group_path(0)][L.STIM_WAVEFORM_DS]
        assert d.dtype == np.int16 and d.attrs[L.ATTR_WAVEFORM_SCALE] == 1 / 32768
        assert np.array_equal(d[()] / 32768, waves[0][0])
    assert strfh5.validate(path).ok
    i = strfh5.info(path)
    assert i["waveforms"]["kept"] == 3 and i["waveforms"]["dtypes"] == ["int16 + scale"]
    assert "stored for 3 / 3 stimuli (int16 + scale" in format_info(i)
    # a waveform that is not 16-bit PCM stays float
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 4000)).astype(np.float32) * 0.1
    S, tr = spectrogram(x, 16000.0, SpectrogramParams(n_bands=8))
    p2 = strfh5.save(strfh5.from_lists([S], spike_times=[[[np.array([1.0])]]], dt_ms=1.0, waveforms=[(x, 16000.0)],
                                       transform=tr), tmp_path / "f.strf.h5")
    with h5py.File(p2, "r") as f:
        assert f[L.stim_group_path(0)][L.STIM_WAVEFORM_DS].dtype == np.float32
    assert np.array_equal(strfh5.FileContents(p2).waveform(0)[0], x)


def test_int16_waveform_without_valid_scale_is_refused(tmp_path):
    path, _, _ = _file(tmp_path)
    with h5py.File(path, "r+") as f:
        f[L.stim_group_path(0)][L.STIM_WAVEFORM_DS].attrs[L.ATTR_WAVEFORM_SCALE] = -1.0
        del f[L.stim_group_path(1)][L.STIM_WAVEFORM_DS].attrs[L.ATTR_WAVEFORM_SCALE]
    report = strfh5.validate(path)
    assert [x.code for x in report.errors].count("E410") == 2
    c = strfh5.FileContents(path)
    with pytest.raises(CorruptDataError, match="scale"):
        c.waveform(0)
    with pytest.raises(strfh5.errors.MissingObjectError, match="scale"):
        c.waveform(1)
    c.close()


@pytest.mark.parametrize("lazy", [False, True])
def test_concatenation_keeps_recomputed_spectrograms(tmp_path, lazy):
    a_path, _, _ = _file(tmp_path, name="a.strf.h5")
    b = strfh5.from_lists([np.ones((1, 20, 100), np.float32)], spike_times=[[[np.array([3.0, 40.0])]]], dt_ms=5,
                          neuron_ids=["z"], stim_ids=["b0"])
    b_path = strfh5.save(b, tmp_path / "b.strf.h5")
    a = strfh5.load(a_path, lazy=lazy, dt_ms=5, n_bands=20)
    both = a + strfh5.load(b_path, lazy=lazy)  # stored 1 ms / 16 bands and 5 ms / 20 bands, loaded alike
    assert both.F == 20 and both.get_dt() == 5 and both.lazy == lazy and both.N_neurons == 3
    assert torch.equal(both.stims[1], a.stims[1]) and torch.equal(both.responses[2][0], a.responses[2][0])
    assert torch.equal(both.responses[3][2], torch.tensor([[1.0] + [0.0] * 7 + [1.0] + [0.0] * 91]))
    # two inputs of the same stored settings, one loaded with other bands: refused (F differs), not mixed
    with pytest.raises(strfh5.errors.IncompatibleDatasetsError, match="F differs"):
        a + strfh5.load(a_path, lazy=lazy, dt_ms=5)
    # same stored settings, other recomputed parameters: each input keeps its own stimuli
    x = strfh5.load(a_path, lazy=lazy, dt_ms=5, n_bands=20)
    y = strfh5.load(a_path, lazy=lazy, dt_ms=5, n_bands=20, f_max=7000.0)
    xy = strfh5.concat_neural_datasets([x, y], allow_duplicate_neurons=True)
    assert xy.F == 20 and torch.equal(xy.stims[4], y.stims[1]) and not torch.equal(xy.stims[4], x.stims[1])


def test_integer_waveforms_are_refused_not_silently_unscaled():
    with pytest.raises(SpectrogramError, match="scale"):
        spectrogram(np.ones((1, 4000), np.int16), 16000.0, SpectrogramParams(n_bands=8))


def test_sources_state_the_waveform_cost(capsys):
    from strfh5.cli.sources import describe

    aa1 = describe("crcns-aa1")["waveforms"]
    assert "kept by default" in aa1 and "int16 + scale: 64 kB per second of sound" in aa1
    assert "195 kB per second" in describe("ns1")["waveforms"]  # 48828 Hz float32
    assert describe("nat4")["waveforms"] is None  # no waveform to keep
    assert main_sources() == 0 and "waveforms: kept by default" in capsys.readouterr().out


def main_sources():
    from strfh5.cli.main import main

    return main(["sources"])
