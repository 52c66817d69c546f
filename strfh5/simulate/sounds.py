"""Synthetic sounds: song-like harmonic stacks, moving ripples and modulated band-limited noise.

:func:`synthesize` draws one waveform of a stimulus class
(:data:`SOUND_TYPES`) from its own random generator, scaled to an RMS of 0.1,
as float32.
"""

from __future__ import annotations

import numpy as np

#: stimulus classes the simulator can synthesise, and the generator each uses
SOUND_TYPES = {
    "song": "song",
    "conspecific": "song",
    "ripple": "ripple-flat",
    "flatrip": "ripple-flat",
    "songrip": "ripple-song",
    "noise": "noise",
    "natural": "mixed",
}


def _envelope(n: int, ramp: int) -> np.ndarray:
    """Unit gain over ``n`` samples with raised-cosine onset and offset ramps of ``ramp`` samples."""
    env = np.ones(n)
    ramp = min(ramp, n // 2)
    if ramp > 0:
        r = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
        env[:ramp] = r
        env[n - ramp :] = r[::-1]
    return env


def _song(rng, n: int, sr: float, f_max: float) -> np.ndarray:
    """Song-like: syllables of harmonic stacks with frequency sweeps and vibrato."""
    y = np.zeros(n)
    i = int(rng.uniform(0.0, 0.06) * sr)
    while i < n:
        d = int(rng.uniform(0.04, 0.25) * sr)
        d = min(d, n - i)
        if d < 8:
            break
        t = np.arange(d) / sr
        f0 = rng.uniform(350.0, 1400.0)
        f1 = f0 * 2.0 ** rng.uniform(-0.8, 0.8)
        vib_rate, vib_depth = rng.uniform(4.0, 30.0), rng.uniform(0.0, 0.06)
        f_inst = (f0 + (f1 - f0) * t / max(t[-1], 1e-9)) * (1.0 + vib_depth * np.sin(2 * np.pi * vib_rate * t))
        phase = 2 * np.pi * np.cumsum(f_inst) / sr
        n_harm = int(max(1, min(12, (0.45 * sr) // max(f0, f1) / (1 + vib_depth))))
        decay = rng.uniform(0.4, 1.6)
        syl = np.zeros(d)
        for k in range(1, n_harm + 1):
            if k * max(f0, f1) * (1 + vib_depth) >= min(f_max * 1.2, 0.49 * sr):
                break
            syl += rng.uniform(0.2, 1.0) * k ** (-decay) * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
        if rng.random() < 0.15:  # a noisy (broadband) syllable
            syl = syl * 0.3 + rng.standard_normal(d) * 0.7
        syl *= _envelope(d, int(0.008 * sr)) * rng.uniform(0.3, 1.0)
        y[i : i + d] += syl
        i += d + int(rng.uniform(0.01, 0.1) * sr)
    return y


def _ripple(rng, n: int, sr: float, f_min: float, f_max: float, song_like: bool) -> np.ndarray:
    """Moving ripple: log-spaced tones whose envelopes drift across time and frequency.

    The envelope of tone k is ``1 + sum_j d sin(2 pi (w_j t + Omega_j x_k) + phi_j)``
    (``x_k`` in octaves above ``f_min``), expanded as a sum of products so the
    cost is that of the carriers alone.
    """
    n_tones = 64
    freqs = np.geomspace(f_min, min(f_max, 0.45 * sr), n_tones)
    octv = np.log2(freqs / f_min)
    t = np.arange(n) / sr
    n_comp = int(rng.integers(1, 4))
    if song_like:  # slow temporal, dense spectral modulations (song modulation spectrum)
        w = rng.uniform(-8.0, 8.0, n_comp)
        omega = rng.uniform(0.5, 3.0, n_comp)
    else:  # flat modulation spectrum
        w = rng.uniform(-40.0, 40.0, n_comp)
        omega = rng.uniform(0.0, 2.0, n_comp)
    depth = rng.uniform(0.5, 0.9) / n_comp
    phases = rng.uniform(0, 2 * np.pi, n_comp)
    carriers = np.sin(2 * np.pi * freqs[:, None] * t[None, :] + rng.uniform(0, 2 * np.pi, n_tones)[:, None])
    y = carriers.sum(axis=0)
    for j in range(n_comp):
        a = 2 * np.pi * w[j] * t + phases[j]  # time part
        b = 2 * np.pi * omega[j] * octv  # frequency part
        y += depth * (np.sin(a) * (np.cos(b) @ carriers) + np.cos(a) * (np.sin(b) @ carriers))
    return y * _envelope(n, int(0.01 * sr))


def _noise(rng, n: int, sr: float, f_min: float, f_max: float) -> np.ndarray:
    """Band-limited noise with slow random amplitude modulation."""
    top = min(f_max, 0.45 * sr)
    span = np.log2(top / f_min)
    width = rng.uniform(min(1.0, span), span)
    lo = f_min * 2.0 ** rng.uniform(0.0, span - width)
    hi = lo * 2.0**width
    spec = np.fft.rfft(rng.standard_normal(n))
    fr = np.fft.rfftfreq(n, 1.0 / sr)
    spec[(fr < lo) | (fr > hi)] = 0.0
    y = np.fft.irfft(spec, n)
    # slow envelope: smoothed noise, 2-20 Hz
    k = max(1, int(sr / rng.uniform(2.0, 20.0)))
    e = np.convolve(rng.standard_normal(n + k), np.hanning(k), mode="valid")[:n]
    e = np.exp(1.2 * e / (e.std() + 1e-12))
    return y * e * _envelope(n, int(0.01 * sr))


def synthesize(kind: str, rng, n: int, sr: float, f_min: float, f_max: float) -> np.ndarray:
    """A waveform of class ``kind``: ``n`` samples at ``sr`` Hz, content within about ``[f_min, f_max]``, RMS 0.1."""
    gen = SOUND_TYPES[kind]
    if gen == "mixed":
        gen = ("song", "ripple-flat", "ripple-song", "noise")[int(rng.integers(0, 4))]
    if gen == "song":
        y = _song(rng, n, sr, f_max)
    elif gen == "noise":
        y = _noise(rng, n, sr, f_min, f_max)
    else:
        y = _ripple(rng, n, sr, f_min, f_max, song_like=gen == "ripple-song")
    rms = float(np.sqrt(np.mean(y**2))) if n else 0.0
    if rms > 0:
        y = y * (0.1 / rms)
    return y.astype(np.float32)

