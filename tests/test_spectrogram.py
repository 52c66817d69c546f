"""The shared stimulus transform: frame count, band placement, compression, recomputation, schema."""

from __future__ import annotations

import numpy as np
import pytest

from strfh5 import schema
from strfh5.spectrogram import SpectrogramParams, compute_spectrogram, n_frames, params_from_transform, spectrogram
from strfh5.converters.audio import params_from_options, read_wav, spectrogram_options
from strfh5.errors import ConverterError, MissingRawFileError, RawDataError


def test_n_frames_is_exact_floor():
    assert n_frames(64000, 32000, 5) == 400
    assert n_frames(64001, 32000, 5) == 400
    assert n_frames(63999, 32000, 5) == 399
    assert n_frames(24414, 24414, 1) == 1000
    assert n_frames(30, 3000, 0.1) == 100  # 0.1 taken as 1/10, not 0.1000000000000000055
    assert n_frames(0, 32000, 1) == 0


@pytest.mark.parametrize("kind", ["mel", "log"])
def test_tone_peaks_in_the_band_of_its_frequency(kind):
    sr = 32000
    x = np.sin(2 * np.pi * 2000 * np.arange(sr // 2) / sr)
    p = SpectrogramParams(kind=kind, n_bands=24, f_min=250, f_max=8000, hop_ms=5, compression="none")
    S, tr = spectrogram(x, sr, p)
    assert S.shape == (1, 24, 100) and S.dtype == np.float32
    cf = np.array(tr["center_freqs"])
    peak = int(np.argmax(S[0, :, 50]))
    assert peak == int(np.argmin(np.abs(cf - 2000)))
    assert tr["kind"] == kind and tr["hop_ms"] == 5 and tr["n_fft"] == 512 and tr["sample_rate"] == sr
    assert schema.iter_errors(tr, schema.CORE["transform"]) == []


def test_frames_are_centred_on_their_bins():
    sr = 10000
    x = np.zeros(sr)
    x[5050:5060] = 1.0  # a click at 505-506 ms -> bin 50 at dt 10 ms
    S, _ = spectrogram(x, sr, SpectrogramParams(n_bands=4, f_min=100, f_max=5000, hop_ms=10, window_ms=5,
                                                compression="none"))
    energy = S[0].sum(axis=0)
    assert int(np.argmax(energy)) == 50 and energy[48] == 0 and energy[52] == 0


def test_compressions_and_non_integer_hop():
    sr = 24414
    x = np.random.default_rng(0).standard_normal(sr // 4)
    base, _ = spectrogram(x, sr, SpectrogramParams(hop_ms=1, compression="none", f_max=None))
    assert base.shape[-1] == n_frames(x.size, sr, 1)
    for comp, f in (("cuberoot", np.cbrt), ("log", lambda p: np.log(p + 1e-10)),
                    ("db", lambda p: 10 * np.log10(np.maximum(p, 1e-10)))):
        S, _ = spectrogram(x, sr, SpectrogramParams(hop_ms=1, compression=comp, f_max=None))
        np.testing.assert_allclose(S, f(base.astype(np.float64)), rtol=1e-4, atol=1e-4)


def test_recompute_from_stored_record_is_bit_exact_and_finer_hop():
    sr = 16000
    x = np.random.default_rng(1).standard_normal(sr // 2).astype(np.float32)
    S, tr = spectrogram(x, sr, SpectrogramParams(hop_ms=5, n_bands=10, f_max=None))
    np.testing.assert_array_equal(compute_spectrogram(x[None], sr, tr), S)
    fine = compute_spectrogram(x, sr, params_from_transform(tr, hop_ms=1))
    assert fine.shape == (1, 10, 500)


def test_bad_parameters_are_refused():
    with pytest.raises(ConverterError, match="kind"):
        SpectrogramParams(kind="bark")
    with pytest.raises(ConverterError, match="compression"):
        SpectrogramParams(compression="sqrt")
    with pytest.raises(ConverterError, match="Nyquist"):
        spectrogram(np.zeros(100), 8000, SpectrogramParams(f_max=8000))
    with pytest.raises(ConverterError, match="cannot be recomputed"):
        params_from_transform({"kind": "ozgf", "library": "nems"})
    with pytest.raises(ConverterError, match="floating point"):
        spectrogram(np.zeros(100, np.int16), 8000, SpectrogramParams(f_max=None))


def test_options_round_trip():
    opts = {o.name: o.default for o in spectrogram_options(SpectrogramParams(n_bands=20), dt_ms=5.0)}
    p = params_from_options(opts)
    assert p.n_bands == 20 and p.hop_ms == 5.0 and opts["keep_waveform"] is True  # kept by default (issue 14)


def test_read_wav_scales_pcm(tmp_path):
    from scipy.io import wavfile

    wavfile.write(tmp_path / "a.wav", 8000, np.array([0, 16384, -32768], dtype=np.int16))
    x, sr = read_wav(tmp_path / "a.wav")
    assert sr == 8000 and x.shape == (1, 3) and x.tolist() == [[0.0, 0.5, -1.0]]
    wavfile.write(tmp_path / "noext", 48828, np.array([0.25, -0.5], dtype=np.float32))
    x, sr = read_wav(tmp_path / "noext")
    assert x.tolist() == [[0.25, -0.5]]
    (tmp_path / "bad.wav").write_bytes(b"not a wav")
    with pytest.raises(RawDataError, match="bad.wav"):
        read_wav(tmp_path / "bad.wav")
    with pytest.raises(MissingRawFileError):
        read_wav(tmp_path / "none.wav")


@pytest.mark.parametrize("kind", ["log", "mel"])
def test_one_blas_thread_gives_the_same_bits_as_blas_threads(monkeypatch, kind):
    pytest.importorskip("threadpoolctl")
    if kind == "mel":
        pytest.importorskip("librosa")
    import strfh5.spectrogram as sp

    rng = np.random.default_rng(0)
    x = rng.standard_normal(48828 * 3).astype(np.float32)  # 3 s at NS1's rate: products big enough to thread
    p = SpectrogramParams(kind=kind, n_bands=34, f_min=500.0, f_max=20000.0, window_ms=10.0, hop_ms=1.0)
    limited = spectrogram(x, 48828.0, p)[0]
    assert sp._BLAS and sp._BLAS[0] is not None  # the limit was in force
    monkeypatch.setattr(sp, "_BLAS", [None])  # BLAS as numpy configured it
    assert np.array_equal(spectrogram(x, 48828.0, p)[0], limited)
