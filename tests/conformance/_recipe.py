"""The spectrogram recipe of SPEC §11.6, written from the specification (NumPy only).

Used by the suite to compute what a reader must return when it recomputes a
spectrogram from a kept waveform at another bin width.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np


def _dec(x: float) -> Fraction:
    return Fraction(repr(float(x)))


def _hz_to_mel(f):
    f = np.asarray(f, dtype=np.float64)
    lin = f / (200.0 / 3)
    logstep = math.log(6.4) / 27.0
    return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-300) / 1000.0) / logstep, lin)


def _mel_to_hz(m):
    m = np.asarray(m, dtype=np.float64)
    logstep = math.log(6.4) / 27.0
    return np.where(m >= 15.0, 1000.0 * np.exp(logstep * (m - 15.0)), m * (200.0 / 3))


def filterbank(t: dict, sr: float, n_fft: int) -> np.ndarray:
    F, f_min, f_max = int(t["n_bands"]), float(t["f_min"]), float(t["f_max"])
    freqs = np.linspace(0.0, sr / 2, n_fft // 2 + 1)
    if t["kind"] == "mel":
        pts = _mel_to_hz(np.linspace(_hz_to_mel(f_min), _hz_to_mel(f_max), F + 2))
        fb = np.zeros((F, freqs.size))
        fdiff = np.diff(pts)
        for b in range(F):
            up = (freqs - pts[b]) / fdiff[b]
            down = (pts[b + 2] - freqs) / fdiff[b + 1]
            fb[b] = np.maximum(0.0, np.minimum(up, down)) * (2.0 / (pts[b + 2] - pts[b]))
        return fb.astype(np.float32).astype(np.float64)  # weights held as float32 (SPEC §11.6)
    centres = np.geomspace(f_min, f_max, F)
    step = (math.log(f_max) - math.log(f_min)) / (F - 1) if F > 1 else math.log(2.0) / 2
    logc = np.log(centres)
    lo = np.exp(np.concatenate([[logc[0] - step], logc[:-1]]))
    hi = np.exp(np.concatenate([logc[1:], [logc[-1] + step]]))
    freqs = np.arange(n_fft // 2 + 1) * (sr / n_fft)
    fb = np.zeros((F, freqs.size))
    for b in range(F):
        fb[b] = np.clip(np.minimum((freqs - lo[b]) / (centres[b] - lo[b]), (hi[b] - freqs) / (hi[b] - centres[b])),
                        0.0, None)
    return fb


def recompute(wave: np.ndarray, sr: float, t: dict, dt: float) -> np.ndarray:
    """(1, F, T) float32 spectrogram of ``wave`` with the parameters ``t`` and hop ``dt`` ms."""
    x = wave.mean(axis=0) if wave.ndim == 2 else wave
    n = x.size
    T = math.floor(Fraction(n) * 1000 / (_dec(sr) * _dec(dt)))
    win = max(1, round(float(t["window_ms"]) * sr / 1000.0))
    n_fft = 1 << (win - 1).bit_length()
    i = np.arange(win)
    w = 0.5 - 0.5 * np.cos(2 * np.pi * i / win)
    hop = _dec(dt) * _dec(sr) / 1000
    eps = float((t.get("params") or {}).get("eps", 1e-10))
    fb = filterbank(t, sr, n_fft)
    out = np.zeros((fb.shape[0], T))
    for k in range(T):
        start = round(Fraction(2 * k + 1) * hop / 2) - win // 2
        frame = np.array([x[j] if 0 <= j < n else 0.0 for j in range(start, start + win)])
        spec = np.fft.rfft(frame * w, n=n_fft)
        out[:, k] = fb @ (spec.real ** 2 + spec.imag ** 2)
    c = t["compression"]
    if c == "log":
        out = np.log(out + eps)
    elif c == "log1p":
        out = np.log1p(out / eps)
    elif c == "cuberoot":
        out = np.cbrt(out)
    elif c == "db":
        out = 10.0 * np.log10(np.maximum(out, eps))
    return out.astype(np.float32)[None]
