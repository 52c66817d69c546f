"""The one stimulus transform converters use: waveform -> filterbank spectrogram.

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
>>> from strfh5.converters.spectrogram import SpectrogramParams, spectrogram
>>> sr = 32000
>>> x = np.sin(2 * np.pi * 1000 * np.arange(sr) / sr).astype(np.float32)
>>> S, transform = spectrogram(x, sr, SpectrogramParams(hop_ms=5, n_bands=16))
>>> S.shape, transform["kind"], transform["n_bands"]
((1, 16, 200), 'mel', 16)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..arguments import positive_number
from ..errors import ConverterError, RawDataError
from .base import Option

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
    "read_wav",
    "to_mono",
    "spectrogram_options",
    "params_from_options",
    "rational_ratio",
    "resample_audio",
    "match_rate",
    "resampled_transform",
    "spectrogram_layout",
    "waveform_kwargs",
]

#: filterbank kinds
KINDS = ("mel", "log")
#: compressions
COMPRESSIONS = ("none", "log", "log1p", "cuberoot", "db")
#: version tag of the definition above, stored as ``library``
LIBRARY_TAG = "strfh5.spectrogram/1"
_FRAME_BLOCK = 2048  # frames transformed at once (bounds memory for long sounds)


def _librosa():
    import librosa

    return librosa


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
            raise ConverterError(f"spectrogram kind {self.kind!r} is not one of {list(KINDS)}")
        if self.compression not in COMPRESSIONS:
            raise ConverterError(f"spectrogram compression {self.compression!r} is not one of {list(COMPRESSIONS)}")
        if int(self.n_bands) != self.n_bands or self.n_bands < 1:
            raise ConverterError(f"spectrogram n_bands must be a positive integer, got {self.n_bands!r}")
        for name in ("window_ms", "hop_ms", "eps"):
            v = getattr(self, name)
            if isinstance(v, (str, bool)):
                raise ConverterError(f"spectrogram {name} must be a positive number, got {v!r}")
            positive_number(v, f"spectrogram {name}", ConverterError)
        if not (math.isfinite(self.f_min) and self.f_min >= 0):
            raise ConverterError(f"spectrogram f_min must be >= 0, got {self.f_min!r}")
        if self.kind == "log" and self.f_min <= 0:
            raise ConverterError("spectrogram f_min must be > 0 for a log-spaced filterbank")
        if self.f_max is not None and not (math.isfinite(self.f_max) and self.f_max > self.f_min):
            raise ConverterError(f"spectrogram f_max ({self.f_max!r}) must be above f_min ({self.f_min!r})")

    def resolved_f_max(self, sample_rate: float) -> float:
        """``f_max`` for ``sample_rate`` (Nyquist when unset); refuses one above Nyquist."""
        nyq = sample_rate / 2.0
        f_max = nyq if self.f_max is None else float(self.f_max)
        if f_max > nyq + 1e-9:
            raise ConverterError(
                f"spectrogram f_max = {f_max} Hz is above the Nyquist frequency {nyq} Hz of a "
                f"{sample_rate} Hz sound (lower --f-max)"
            )
        if f_max <= self.f_min:
            raise ConverterError(f"spectrogram f_max = {f_max} Hz must be above f_min = {self.f_min} Hz")
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
        raise ConverterError(f"n_samples must be >= 0, got {n_samples}")
    return int(math.floor(Fraction(int(n_samples)) * 1000 / (_exact(sample_rate) * _exact(dt_ms))))


def to_mono(waveform) -> np.ndarray:
    """A 1-D float64 waveform: ``(T,)`` kept, ``(C, T)`` averaged over C (C <= T assumed)."""
    w = np.asarray(waveform)
    if w.ndim == 2:
        if w.shape[0] > w.shape[1]:
            raise ConverterError(
                f"waveform of shape {w.shape}: expected (channels, samples) with channels first"
            )
        w = w.mean(axis=0)
    if w.ndim != 1:
        raise ConverterError(f"waveform must be 1-D or (channels, samples), got shape {w.shape}")
    if w.dtype.kind in "iu":
        raise ConverterError("waveform must be floating point (scale integer PCM first, e.g. with read_wav)")
    w = w.astype(np.float64, copy=False)
    if w.size and not np.all(np.isfinite(w)):
        raise ConverterError("waveform contains NaN or Inf")
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


def _window(params: SpectrogramParams, win: int) -> np.ndarray:
    from scipy.signal import get_window

    try:
        return get_window(params.window, win, fftbins=True).astype(np.float64)
    except (ValueError, TypeError) as e:
        raise ConverterError(f"spectrogram window {params.window!r} is not a scipy window: {e}") from None


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
        raise ConverterError(f"sample_rate must be a positive number, got {sample_rate!r}")
    sample_rate = positive_number(sample_rate, "sample_rate", ConverterError)
    x = to_mono(waveform)
    T = n_frames(x.size, sample_rate, params.hop_ms)
    win = params.win_length(sample_rate)
    n_fft = params.n_fft(sample_rate)
    fb = filterbank(params, sample_rate)
    w = _window(params, win)
    hop = _exact(params.hop_ms) * _exact(sample_rate) / 1000
    # centre sample of frame t = round((t + 1/2) * hop), exactly
    centres = np.array([int(round((t * 2 + 1) * hop / 2)) for t in range(T)], dtype=np.int64)
    starts = centres - win // 2
    out = np.empty((params.n_bands, T), dtype=np.float64)
    offs = np.arange(win)
    padded = np.concatenate([np.zeros(win), x, np.zeros(win)])
    for b0 in range(0, T, _FRAME_BLOCK):
        idx = starts[b0 : b0 + _FRAME_BLOCK, None] + offs[None, :] + win
        frames = padded[idx] * w[None, :]
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
    Raises :class:`ConverterError` when the record was not made by
    :func:`spectrogram`.
    """
    lib = str(transform.get("library", ""))
    if not lib.startswith(LIBRARY_TAG) or transform.get("kind") not in KINDS:
        raise ConverterError(
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


# ------------------------------------------------------------------- wavs
def read_wav(path) -> tuple[np.ndarray, float]:
    """Read a WAV file (any name) as ``(C, n)`` float32 and its sample rate.

    Integer PCM is scaled to [-1, 1) (int16 / 32768, int32 / 2**31, uint8
    centred on 128); float WAVs are kept as stored.
    """
    from scipy.io import wavfile

    p = Path(path)
    if not p.is_file():
        from ..errors import MissingRawFileError

        raise MissingRawFileError(f"{p}: sound file is missing")
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", wavfile.WavFileWarning)
            sr, data = wavfile.read(p, mmap=False)
    except (ValueError, OSError, EOFError) as e:
        raise RawDataError(f"{p}: not a readable WAV file ({e})") from None
    data = np.asarray(data)
    if data.dtype == np.uint8:
        x = (data.astype(np.float32) - 128.0) / 128.0
    elif data.dtype.kind == "i":
        x = data.astype(np.float32) / float(2 ** (8 * data.dtype.itemsize - 1))
    elif data.dtype.kind == "f":
        x = data.astype(np.float32, copy=False)
    else:  # pragma: no cover - scipy returns only the above
        raise RawDataError(f"{p}: unsupported WAV sample type {data.dtype}")
    x = x[None, :] if x.ndim == 1 else np.ascontiguousarray(x.T)
    return x, float(sr)


# --------------------------------------------------------- converter options
def spectrogram_options(defaults: SpectrogramParams | None = None, dt_ms: float = 1.0) -> tuple[Option, ...]:
    """The converter options that set the spectrogram (and ``dt_ms``, ``keep_waveform``).

    Converters add these to their ``SOURCE.options`` and turn the chosen
    values into parameters with :func:`params_from_options`.
    """
    d = defaults or SpectrogramParams()
    return (
        Option("dt_ms", float, dt_ms, "bin width in ms (= spectrogram hop)"),
        Option("spec_kind", str, d.kind, "filterbank: mel or log-spaced", choices=KINDS),
        Option("n_bands", int, d.n_bands, "number of spectrogram bands (deepSTRF's n_mels)"),
        Option("f_min", float, d.f_min, "lowest band edge, Hz"),
        Option("f_max", float, d.f_max, "highest band edge, Hz (at most the Nyquist frequency)"),
        Option("window_ms", float, d.window_ms, "analysis window, ms"),
        Option("compression", str, d.compression, "amplitude compression", choices=COMPRESSIONS),
        Option("keep_waveform", bool, False, "store each stimulus' waveform beside its spectrogram"),
    )


def params_from_options(options: Mapping[str, Any]) -> SpectrogramParams:
    """:class:`SpectrogramParams` from converter options (see :func:`spectrogram_options`)."""
    d = SpectrogramParams()
    return SpectrogramParams(
        kind=options.get("spec_kind", d.kind),
        n_bands=int(options.get("n_bands", d.n_bands)),
        f_min=float(options.get("f_min", d.f_min)),
        f_max=None if options.get("f_max", d.f_max) is None else float(options.get("f_max", d.f_max)),
        window_ms=float(options.get("window_ms", d.window_ms)),
        hop_ms=float(options.get("dt_ms", d.hop_ms)),
        compression=options.get("compression", d.compression),
    )


# ------------------------------------------------------------- resampling
def rational_ratio(fs_out: float, fs_in: float, where: str = "resampling") -> tuple[int, int]:
    """``(up, down)`` with ``fs_out / fs_in = up / down`` exactly (denominator <= 10000).

    Raises :class:`ConverterError` naming ``where`` when no such ratio exists
    (a resampling that would silently change the rate).
    """
    fs_out = positive_number(fs_out, "target sample rate", ConverterError, where)
    fs_in = positive_number(fs_in, "sample rate", ConverterError, where)
    r = Fraction(fs_out / fs_in).limit_denominator(10000)
    if abs(float(r) - fs_out / fs_in) > 1e-9 * fs_out / fs_in:
        raise ConverterError(f"{where}: cannot resample {fs_in} Hz to {fs_out} Hz by a rational factor")
    return r.numerator, r.denominator


def resample_audio(x: np.ndarray, sr: float, target: float, where: str = "resampling") -> np.ndarray:
    """``(C, n)`` audio at ``sr`` resampled to ``target`` Hz, float32.

    :func:`scipy.signal.resample_poly` (polyphase FIR anti-aliasing filter)
    with the exact rational factor of :func:`rational_ratio`; audio already at
    ``target`` is returned as float32 without filtering.
    """
    if abs(float(sr) - float(target)) < 1e-9:
        return np.asarray(x).astype(np.float32, copy=False)
    from scipy.signal import resample_poly

    up, down = rational_ratio(target, sr, where)
    return resample_poly(x, up, down, axis=-1).astype(np.float32)


def match_rate(x: np.ndarray, sr: float, target: float, *, resample: bool, where: str, reference: str,
               option: str = "resample_hz") -> np.ndarray:
    """Audio at the file's one rate ``target``: unchanged, resampled, or refused.

    One file holds one spectrogram transform, so all its stimuli share a
    sample rate.  A sound at another rate is resampled with
    :func:`resample_audio` when ``resample`` is true (the user chose a
    common rate); otherwise :class:`RawDataError` names the sound (``where``),
    the rate of ``reference`` and the option that resamples.
    """
    if float(sr) == float(target):
        return x
    if not resample:
        flag = "--" + option.replace("_", "-")
        raise RawDataError(
            f"{where}: sample rate {sr} Hz differs from the {target} Hz of {reference}; one file holds one "
            f"spectrogram transform — pass {option} ({flag}) to resample every sound to one rate"
        )
    return resample_audio(x, sr, target, where)


def resampled_transform(params: SpectrogramParams, audio_fs: float, **notes) -> dict:
    """The ``stimuli@transform`` of spectrograms of sounds resampled to ``audio_fs`` by :func:`resample_audio`.

    ``params.resampled_to_hz`` and ``params.resampler`` say so; ``notes`` are
    added to ``params`` (e.g. how the sounds were cut).
    """
    t = transform_dict(params, audio_fs)
    t["params"] = dict(t.get("params") or {}, resampled_to_hz=float(audio_fs),
                       resampler="scipy.signal.resample_poly (polyphase FIR anti-aliasing)", **notes)
    return t


def spectrogram_layout(params: SpectrogramParams, transform: dict) -> dict:
    """The :class:`strfh5.StreamWriter` keywords of a file whose stimuli are spectrograms of ``params``.

    ``dt_ms`` (= the hop), ``stim_kind``, ``stim_dims`` and ``transform``;
    converters pass them with ``**`` beside their encoding and neurons.
    """
    return {"dt_ms": params.hop_ms, "stim_kind": "spectrogram", "stim_dims": (1, params.n_bands),
            "transform": transform}


def waveform_kwargs(waveform: np.ndarray, sample_rate: float, keep: bool) -> dict:
    """``waveform=`` / ``sample_rate=`` of :meth:`StreamWriter.add_stimulus` (both None unless ``keep``)."""
    return {"waveform": waveform if keep else None, "sample_rate": float(sample_rate) if keep else None}
