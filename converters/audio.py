"""Audio plumbing shared by converters: WAV reading, resampling, spectrogram options.

The spectrogram itself is the core recipe of SPEC §5.3 in
:mod:`strfh5.spectrogram`; this module holds what only converters need around
it: reading WAV files, the converter options that choose the recipe's
parameters, resampling to a common rate, and the layout/keyword arguments a
converter passes to :class:`strfh5.StreamWriter`.
"""

from __future__ import annotations

import warnings
from fractions import Fraction
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from strfh5.arguments import positive_number
from strfh5.errors import ConverterError, MissingRawFileError, RawDataError
from strfh5.optional import require
from strfh5.spectrogram import COMPRESSIONS, KINDS, SpectrogramParams, transform_dict

from .base import Option

# ------------------------------------------------------------------- wavs
def read_wav(path) -> tuple[np.ndarray, float]:
    """Read a WAV file (any name) as ``(C, n)`` float32 and its sample rate.

    Integer PCM is scaled to [-1, 1) (int16 / 32768, int32 / 2**31, uint8
    centred on 128); float WAVs are kept as stored.
    """
    sr, data = _wavfile(path, mmap=False)
    data = np.asarray(data)
    if data.dtype == np.uint8:
        x = (data.astype(np.float32) - 128.0) / 128.0
    elif data.dtype.kind == "i":
        x = data.astype(np.float32) / float(2 ** (8 * data.dtype.itemsize - 1))
    elif data.dtype.kind == "f":
        x = data.astype(np.float32, copy=False)
    else:  # pragma: no cover - scipy returns only the above
        raise RawDataError(f"{path}: unsupported WAV sample type {data.dtype}")
    x = x[None, :] if x.ndim == 1 else np.ascontiguousarray(x.T)
    return x, float(sr)


def wav_rate(path) -> float:
    """The sample rate of a WAV file, from its header (the samples are memory-mapped, not read)."""
    try:
        sr, data = _wavfile(path, mmap=True)
        del data
    except RawDataError:
        return read_wav(path)[1]  # formats scipy cannot memory-map (24-bit, ...): read in full
    return float(sr)


def _wavfile(path, mmap: bool):
    """``(sample rate, samples)`` of a WAV file (any name); MissingRawFileError / RawDataError naming it."""
    wavfile = require("scipy.io.wavfile", extra="convert", purpose="reading WAV files")
    p = Path(path)
    if not p.is_file():
        raise MissingRawFileError(f"{p}: sound file is missing")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", wavfile.WavFileWarning)
            return wavfile.read(p, mmap=mmap)
    except (ValueError, OSError, EOFError) as e:
        raise RawDataError(f"{p}: not a readable WAV file ({e})") from None


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
        Option("keep_waveform", bool, True, "store each stimulus' waveform beside its spectrogram (int16 + scale "
               "when the source is 16-bit PCM), so readers can recompute spectrograms at load"),
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
    """``(up, down)`` with ``fs_out / fs_in = up / down`` exactly (denominator <= 100000).

    Any two whole rates below 100 kHz qualify (24414 Hz -> 32000 Hz is
    16000 / 12207, an AA4 case).

    Raises :class:`ConverterError` naming ``where`` when no such ratio exists
    (a resampling that would silently change the rate).
    """
    fs_out = positive_number(fs_out, "target sample rate", ConverterError, where)
    fs_in = positive_number(fs_in, "sample rate", ConverterError, where)
    r = Fraction(fs_out / fs_in).limit_denominator(100000)
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
    resample_poly = require("scipy.signal", extra="convert", purpose="resampling audio").resample_poly

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
