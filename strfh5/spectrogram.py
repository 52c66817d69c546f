"""The spectrogram recipe of SPEC §5.3: waveform -> filterbank spectrogram.

Every converter that starts from sound waveforms turns them into
spectrograms with :func:`spectrogram`, and stores the returned parameter
dictionary as the file's ``/stimuli@transform`` (it satisfies
``schema/core/transform.schema.json``).  A reader that needs a finer time
resolution than the file's ``dt_ms`` recomputes from a kept waveform with
:func:`compute_spectrogram` and the stored parameters (``hop_ms`` overridden).

Definition (format 1.0, ``library = "strfh5.spectrogram/1 (librosa X.Y)"``)
--------------------------------------------------------------------------
Let ``sr`` be the sample rate (Hz), ``dt`` = ``hop_ms`` the bin width (ms) and
``n`` the number of samples of the (mono) waveform.

* **Frames.**  ``T = floor(n * 1000 / (sr * dt))`` (:func:`n_frames`): the
  number of *whole* dt bins the sound lasts; a trailing partial bin is
  dropped.  Frame ``t`` describes bin ``[t*dt, (t+1)*dt)`` ms: its analysis
  window of ``win = round(window_ms * sr / 1000)`` samples (``window``, default
  Hann) is centred on the bin centre, sample ``round((t + 0.5) * dt * sr /
  1000)``; samples outside the sound are zeros.  The hop is therefore exact
  even when ``dt * sr / 1000`` is not an integer (24414 Hz at 1 ms).
* **Spectrum.**  Each windowed frame is zero-padded to ``n_fft`` (the
  smallest power of two >= ``win``) and its power spectrum ``|rfft|**2`` taken
  (waveforms in their stored scale: int16 wavs are divided by 32768).
* **Filterbank.**  ``kind = "mel"``: ``librosa.filters.mel`` (Slaney mel
  scale and area normalisation) with ``n_bands`` bands between ``f_min`` and
  ``f_max``.  ``kind = "log"``: ``n_bands`` triangular filters whose centres
  are log-spaced (geometric) between ``f_min`` and ``f_max`` and whose edges
  are the neighbouring centres (the outer edges one log-step beyond), each
  with unit peak.  ``center_freqs`` lists the band centres in Hz.
* **Compression.**  ``"none"`` (power), ``"log"`` (``ln(P + eps)``),
  ``"log1p"`` (``ln(1 + P / eps)``), ``"cuberoot"`` (``P ** (1/3)``), ``"db"``
  (``10 log10(max(P, eps))``); ``eps`` (default 1e-10) is stored in
  ``params``.

The result is ``(1, F, T)`` float32 with ``F = n_bands``.

Example
-------
>>> import numpy as np
>>> from strfh5.spectrogram import SpectrogramParams, spectrogram
>>> sr = 32000
>>> x = np.sin(2 * np.pi * 1000 * np.arange(sr) / sr).astype(np.float32)
>>> S, transform = spectrogram(x, sr, SpectrogramParams(hop_ms=5, n_bands=16))
>>> S.shape, transform["kind"], transform["n_bands"]
((1, 16, 200), 'mel', 16)
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any, Mapping

import numpy as np

from .arguments import positive_number
from .errors import SpectrogramError
from .optional import optional_module, require

__all__ = [
    "SpectrogramParams",
    "KINDS",
    "COMPRESSIONS",
    "LIBRARY_TAG",
    "n_frames",
    "spectrogram",
    "compute_spectrogram",
    "transform_dict",
    "params_from_transform",
    "center_frequencies",
    "filterbank",
    "to_mono",
]

#: filterbank kinds
KINDS = ("mel", "log")
#: compressions
COMPRESSIONS = ("none", "log", "log1p", "cuberoot", "db")
#: version tag of the definition above, stored as ``library``
LIBRARY_TAG = "strfh5.spectrogram/1"
_FRAME_BLOCK = 2048  # frames transformed at once (bounds memory for long sounds)


def _librosa():
    return require("librosa", extra="convert", purpose="computing spectrograms (strfh5.spectrogram)")


def _library() -> str:
    return f"{LIBRARY_TAG} (librosa {_librosa().__version__})"



@dataclass(frozen=True)
class SpectrogramParams:
    """Parameters of :func:`spectrogram`.

    Attributes
    ----------
    kind : {'mel', 'log'}
        Filterbank: mel-spaced (librosa, Slaney) or log-spaced triangles.
    n_bands : int
        Number of frequency bands F.
    f_min, f_max : float
        Band range in Hz; ``f_max=None`` means the Nyquist frequency.
    window_ms : float
        Analysis window length in ms.
    hop_ms : float
        Frame hop = the file's ``dt_ms``.
    compression : {'none', 'log', 'log1p', 'cuberoot', 'db'}
    window : str
        Window function name understood by ``scipy.signal.get_window``.
    eps : float
        Floor used by the log-type compressions.
    """

    kind: str = "mel"
    n_bands: int = 32
    f_min: float = 250.0
    f_max: float | None = 8000.0
    window_ms: float = 10.0
    hop_ms: float = 1.0
    compression: str = "cuberoot"
    window: str = "hann"
    eps: float = 1e-10

    def __post_init__(self):
        if self.kind not in KINDS:
            raise SpectrogramError(f"spectrogram kind {self.kind!r} is not one of {list(KINDS)}")
        if self.compression not in COMPRESSIONS:
            raise SpectrogramError(f"spectrogram compression {self.compression!r} is not one of {list(COMPRESSIONS)}")
        if int(self.n_bands) != self.n_bands or self.n_bands < 1:
            raise SpectrogramError(f"spectrogram n_bands must be a positive integer, got {self.n_bands!r}")
        for name in ("window_ms", "hop_ms", "eps"):
            v = getattr(self, name)
            if isinstance(v, (str, bool)):
                raise SpectrogramError(f"spectrogram {name} must be a positive number, got {v!r}")
            positive_number(v, f"spectrogram {name}", SpectrogramError)
        if not (math.isfinite(self.f_min) and self.f_min >= 0):
            raise SpectrogramError(f"spectrogram f_min must be >= 0, got {self.f_min!r}")
        if self.kind == "log" and self.f_min <= 0:
            raise SpectrogramError("spectrogram f_min must be > 0 for a log-spaced filterbank")
        if self.f_max is not None and not (math.isfinite(self.f_max) and self.f_max > self.f_min):
            raise SpectrogramError(f"spectrogram f_max ({self.f_max!r}) must be above f_min ({self.f_min!r})")

    def resolved_f_max(self, sample_rate: float) -> float:
        """``f_max`` for ``sample_rate`` (Nyquist when unset); refuses one above Nyquist."""
        nyq = sample_rate / 2.0
        f_max = nyq if self.f_max is None else float(self.f_max)
        if f_max > nyq + 1e-9:
            raise SpectrogramError(
                f"spectrogram f_max = {f_max} Hz is above the Nyquist frequency {nyq} Hz of a "
                f"{sample_rate} Hz sound (lower --f-max)"
            )
        if f_max <= self.f_min:
            raise SpectrogramError(f"spectrogram f_max = {f_max} Hz must be above f_min = {self.f_min} Hz")
        return f_max

    def win_length(self, sample_rate: float) -> int:
        return max(1, int(round(self.window_ms * sample_rate / 1000.0)))

    def n_fft(self, sample_rate: float) -> int:
        return 1 << (self.win_length(sample_rate) - 1).bit_length()


# ------------------------------------------------------------------ frames
def _exact(x: float) -> Fraction:
    """``x`` as the decimal fraction it is written as (``0.1`` -> 1/10)."""
    return Fraction(repr(float(x)))


def n_frames(n_samples: int, sample_rate: float, dt_ms: float) -> int:
    """Number of whole ``dt_ms`` bins in a sound of ``n_samples`` at ``sample_rate``.

    ``floor(n_samples * 1000 / (sample_rate * dt_ms))``, computed exactly
    (sample rate and dt taken as the decimals they are written as), so a
    2.0 s sound at 5 ms gives exactly 400.

    >>> n_frames(64000, 32000, 5)
    400
    >>> n_frames(55105, 32000, 5)
    344
    """
    if n_samples < 0:
        raise SpectrogramError(f"n_samples must be >= 0, got {n_samples}")
    return int(math.floor(Fraction(int(n_samples)) * 1000 / (_exact(sample_rate) * _exact(dt_ms))))


def to_mono(waveform) -> np.ndarray:
    """A 1-D float64 waveform: ``(T,)`` kept, ``(C, T)`` averaged over C (C <= T assumed)."""
    w = np.asarray(waveform)
    if w.dtype.kind in "iu":  # before averaging channels, which would make it float unscaled
        raise SpectrogramError("waveform must be floating point (scale integer PCM first, e.g. with read_wav, or "
                               "multiply a kept int16 waveform by its 'scale' attribute)")
    if w.ndim == 2:
        if w.shape[0] > w.shape[1]:
            raise SpectrogramError(
                f"waveform of shape {w.shape}: expected (channels, samples) with channels first"
            )
        w = w.mean(axis=0)
    if w.ndim != 1:
        raise SpectrogramError(f"waveform must be 1-D or (channels, samples), got shape {w.shape}")
    w = w.astype(np.float64, copy=False)
    if w.size and not np.all(np.isfinite(w)):
        raise SpectrogramError("waveform contains NaN or Inf")
    return w


def center_frequencies(params: SpectrogramParams, sample_rate: float) -> np.ndarray:
    """Band centre frequencies (Hz) of the filterbank of ``params``."""
    f_max = params.resolved_f_max(sample_rate)
    if params.kind == "mel":
        return _librosa().mel_frequencies(n_mels=params.n_bands + 2, fmin=params.f_min, fmax=f_max)[1:-1]
    return np.geomspace(params.f_min, f_max, params.n_bands)


def filterbank(params: SpectrogramParams, sample_rate: float) -> np.ndarray:
    """The ``(n_bands, n_fft // 2 + 1)`` filterbank matrix applied to power spectra."""
    n_fft = params.n_fft(sample_rate)
    f_max = params.resolved_f_max(sample_rate)
    if params.kind == "mel":
        return _librosa().filters.mel(
            sr=float(sample_rate), n_fft=n_fft, n_mels=params.n_bands, fmin=params.f_min, fmax=f_max
        ).astype(np.float64)
    centres = np.geomspace(params.f_min, f_max, params.n_bands)
    if params.n_bands > 1:
        step = (np.log(f_max) - np.log(params.f_min)) / (params.n_bands - 1)
    else:
        step = np.log(2.0) / 2  # a single band spans half an octave either side
    logc = np.log(centres)
    lo = np.exp(np.concatenate([[logc[0] - step], logc[:-1]]))
    hi = np.exp(np.concatenate([logc[1:], [logc[-1] + step]]))
    freqs = np.arange(n_fft // 2 + 1) * (sample_rate / n_fft)
    fb = np.zeros((params.n_bands, freqs.size))
    for b in range(params.n_bands):
        up = (freqs - lo[b]) / (centres[b] - lo[b])
        down = (hi[b] - freqs) / (hi[b] - centres[b])
        fb[b] = np.clip(np.minimum(up, down), 0.0, None)
    return fb


def _compress(P: np.ndarray, compression: str, eps: float) -> np.ndarray:
    if compression == "none":
        return P
    if compression == "log":
        return np.log(P + eps)
    if compression == "log1p":
        return np.log1p(P / eps)
    if compression == "cuberoot":
        return np.cbrt(P)
    return 10.0 * np.log10(np.maximum(P, eps))  # db


def _hann(win: int) -> np.ndarray:
    """Periodic Hann window, computed as ``scipy.signal.get_window("hann", win, fftbins=True)`` does (same bits)."""
    if win <= 1:
        return np.ones(win)
    fac = np.linspace(-np.pi, np.pi, win + 1)
    w = np.zeros(win + 1)
    for k, a in enumerate((0.5, 0.5)):
        w += a * np.cos(k * fac)
    return w[:-1]


def _window(params: SpectrogramParams, win: int) -> np.ndarray:
    if params.window == "hann":  # the default: no scipy import (a fifth of a conversion's time)
        return _hann(win)
    signal = require("scipy.signal", extra="convert", purpose="computing spectrograms (strfh5.spectrogram)")
    try:
        return signal.get_window(params.window, win, fftbins=True).astype(np.float64)
    except (ValueError, TypeError) as e:
        raise SpectrogramError(f"spectrogram window {params.window!r} is not a scipy window: {e}") from None


def _frame_centres(hop: Fraction, T: int) -> np.ndarray:
    """``round((t + 1/2) * hop)`` for t < T, exactly (round half to even, as Python rounds a Fraction)."""
    p, q = hop.numerator, hop.denominator
    if p * (2 * T + 1) >= 2**62 or 2 * q >= 2**62:  # beyond int64: the exact Python loop
        return np.array([int(round((t * 2 + 1) * hop / 2)) for t in range(T)], dtype=np.int64)
    num = (2 * np.arange(T, dtype=np.int64) + 1) * p
    den = 2 * q
    quo, rem = np.divmod(num, den)
    return quo + ((2 * rem > den) | ((2 * rem == den) & (quo % 2 == 1)))


_BLAS: list = []  # [threadpoolctl controller, or None without threadpoolctl], made on first use


def _one_blas_thread():
    """BLAS on one thread for the block (threadpoolctl, when installed; else unchanged).

    The filterbank products are small (F x n_fft/2+1 by a block of frames):
    OpenBLAS's extra threads, spinning between calls, spent 2.7x the CPU time
    of one thread on NS1's sounds and were slower in wall time on 2 cores.
    The product is the same (BLAS splits the output across threads, not the
    sums), which the tests check bit for bit.
    """
    if not _BLAS:
        tpc = optional_module("threadpoolctl")
        _BLAS.append(tpc.ThreadpoolController() if tpc is not None else None)
    ctl = _BLAS[0]
    return ctl.limit(limits=1, user_api="blas") if ctl is not None else contextlib.nullcontext()


def spectrogram(waveform, sample_rate: float, params: SpectrogramParams) -> tuple[np.ndarray, dict]:
    """Filterbank spectrogram of one sound and the parameters to store.

    Parameters
    ----------
    waveform : array_like
        ``(n,)`` or ``(C, n)`` float samples (channels are averaged).
    sample_rate : float
        Samples per second.
    params : SpectrogramParams
        ``hop_ms`` is the file's ``dt_ms``.

    Returns
    -------
    S : numpy.ndarray
        ``(1, n_bands, T)`` float32 with ``T = n_frames(n, sample_rate, hop_ms)``.
    transform : dict
        :func:`transform_dict` of ``params`` at ``sample_rate`` (the file's
        ``stimuli@transform``).
    """
    if isinstance(sample_rate, (str, bool)):
        raise SpectrogramError(f"sample_rate must be a positive number, got {sample_rate!r}")
    sample_rate = positive_number(sample_rate, "sample_rate", SpectrogramError)
    x = to_mono(waveform)
    T = n_frames(x.size, sample_rate, params.hop_ms)
    win = params.win_length(sample_rate)
    n_fft = params.n_fft(sample_rate)
    fb = filterbank(params, sample_rate)
    w = _window(params, win)
    hop = _exact(params.hop_ms) * _exact(sample_rate) / 1000
    # centre sample of frame t = round((t + 1/2) * hop), exactly
    centres = _frame_centres(hop, T)
    starts = centres - win // 2
    out = np.empty((params.n_bands, T), dtype=np.float64)
    padded = np.concatenate([np.zeros(win), x, np.zeros(win)])
    views = np.lib.stride_tricks.sliding_window_view(padded, win)  # views[i] = padded[i : i + win]
    with _one_blas_thread():
        for b0 in range(0, T, _FRAME_BLOCK):
            frames = views[starts[b0 : b0 + _FRAME_BLOCK] + win] * w[None, :]
            spec = np.fft.rfft(frames, n=n_fft, axis=1)
            P = spec.real**2 + spec.imag**2
            out[:, b0 : b0 + _FRAME_BLOCK] = fb @ P.T
    out = _compress(out, params.compression, params.eps)
    return out.astype(np.float32)[None], transform_dict(params, sample_rate)


def transform_dict(params: SpectrogramParams, sample_rate: float) -> dict:
    """The ``stimuli@transform`` record of ``params`` for sounds at ``sample_rate``."""
    sample_rate = float(sample_rate)
    return {
        "kind": params.kind,
        "n_bands": int(params.n_bands),
        "f_min": float(params.f_min),
        "f_max": float(params.resolved_f_max(sample_rate)),
        "center_freqs": [float(f) for f in center_frequencies(params, sample_rate)],
        "window_ms": float(params.window_ms),
        "hop_ms": float(params.hop_ms),
        "n_fft": int(params.n_fft(sample_rate)),
        "win_length": int(params.win_length(sample_rate)),
        "window": params.window,
        "sample_rate": sample_rate,
        "compression": params.compression,
        "power": 2.0,
        "frames": "T = floor(n_samples * 1000 / (sample_rate * hop_ms)); frame t centred on sample round((t + 0.5) * hop_ms * sample_rate / 1000)",
        "library": _library(),
        "params": {"eps": float(params.eps), "mel_scale": "slaney" if params.kind == "mel" else None},
    }


def params_from_transform(transform: Mapping[str, Any], **overrides) -> SpectrogramParams:
    """The :class:`SpectrogramParams` stored in a ``stimuli@transform`` record.

    ``overrides`` replace fields (e.g. ``hop_ms=1`` to recompute finer).
    Raises :class:`SpectrogramError` when the record was not made by
    :func:`spectrogram`.
    """
    lib = str(transform.get("library", ""))
    if not lib.startswith(LIBRARY_TAG) or transform.get("kind") not in KINDS:
        raise SpectrogramError(
            f"stimulus transform {transform.get('kind')!r} (library {lib!r}) was not made by "
            f"{LIBRARY_TAG}; it cannot be recomputed from the waveform"
        )
    eps = (transform.get("params") or {}).get("eps", SpectrogramParams.eps)
    p = SpectrogramParams(
        kind=transform["kind"],
        n_bands=int(transform["n_bands"]),
        f_min=float(transform["f_min"]),
        f_max=float(transform["f_max"]),
        window_ms=float(transform["window_ms"]),
        hop_ms=float(transform["hop_ms"]),
        compression=transform["compression"],
        window=transform.get("window", "hann"),
        eps=float(eps),
    )
    return replace(p, **overrides) if overrides else p


def compute_spectrogram(waveform, sample_rate: float, params) -> np.ndarray:
    """Recompute a stored spectrogram from its waveform.

    Parameters
    ----------
    waveform : array_like
        The stored ``(C, n)`` (or ``(n,)``) waveform.
    sample_rate : float
        Its sample rate.
    params : SpectrogramParams or mapping
        Parameters, or the file's ``stimuli@transform`` record (optionally
        with ``hop_ms`` changed to read at another bin width).

    Returns
    -------
    numpy.ndarray
        ``(1, F, T)`` float32 — identical to what the converter stored when
        ``params`` is the stored record unchanged.
    """
    if not isinstance(params, SpectrogramParams):
        params = params_from_transform(params)
    return spectrogram(waveform, sample_rate, params)[0]
