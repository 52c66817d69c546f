"""Synthetic datasets: Poisson linear-nonlinear neurons driven by synthetic sounds.

The simulator makes realistic strfh5 files with a known ground truth, for the
demo, tests and benchmarks.  Each stimulus is a synthetic sound — a song-like
sequence of harmonic stacks with frequency modulation, a moving ripple, or
modulated band-limited noise — turned into a ``(1, F, T)`` log-frequency
spectrogram by :func:`strfh5.spectrogram.spectrogram` (the very
transform converters use, recorded in ``/stimuli@transform``).  Each neuron is
a linear-nonlinear Poisson model:

.. math::

    z_n(t) = \\sum_{f, l} h_n[f, l] \\, x[f, t - l], \\qquad
    \\lambda_n(t) = r_0 + (r_{max} - r_0) \\, \\sigma(k (z_n(t) - \\theta)),

with ``x = (spectrogram - input_offset) / input_scale`` (frames before onset
are silence, the spectrogram's floor), ``h_n`` the neuron's spectro-temporal
receptive field (STRF) of ``F x L`` lags, ``σ`` the logistic function and
``λ`` the firing rate in spikes/s.  Each repeat ``r`` scales the rate by a
log-normal gain (trial-to-trial variability), spike counts are Poisson per
bin, and spike times are uniform within their bin.  With ``encoding='events'``
spontaneous spikes before onset (``pre_ms``) and after the stimulus
(``post_ms``) are added, as real recordings have; ``encoding='binned'``
stores the per-bin counts, which are exactly the events of the same seed binned
at ``dt_ms`` over ``[0, T dt)``.

Ground truth is stored in the file: every neuron's metadata holds its STRF
(``strf``, nested lists ``[F][L]``, lag ``l`` weighting frame ``t - l``) and
its nonlinearity; the file metadata holds the seed and the simulation
parameters (``simulation``), so that fitted models can be scored against the
true filters.

Randomness is drawn from independent streams per stimulus and for the
neurons, so :func:`simulate_dataset` (in memory) and :func:`write_simulated`
(streamed, memory bounded by one stimulus row) produce identical data for the
same parameters and seed.

Named presets (:data:`PRESETS`) reproduce the shapes of public releases:
``demo`` (small, seconds), ``aa1`` (CRCNS AA1), ``aa2`` (CRCNS AA2) and
``nat4-a1`` (NAT4 A1).

Examples
--------
>>> import strfh5
>>> path = strfh5.write_simulated("demo.strf.h5", preset="demo", seed=1)   # doctest: +SKIP
>>> ds = strfh5.simulate_dataset(n_stimuli=4, n_neurons=3, n_bins=(50, 80), seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from . import layout as L
from .records import Events
from .errors import InvalidDataError

__all__ = [
    "PRESETS",
    "SOUND_TYPES",
    "preset_params",
    "simulate_dataset",
    "simulate_contents",
    "write_simulated",
    "simulated_rates",
]

SOURCE = "demo"
MODEL = "poisson-ln"

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

_DEFAULTS: dict[str, Any] = dict(
    n_stimuli=12,
    n_neurons=16,
    n_freqs=32,
    dt_ms=5.0,
    n_bins=(100, 300),
    repeats=(3, 10),
    coverage=1.0,
    stim_types=("song", "ripple", "noise"),
    n_val=0.2,
    no_val_neurons=0,
    encoding="events",
    seed=0,
    areas=("A1",),
    animals=None,
    sample_rate=16000.0,
    f_min=250.0,
    f_max=8000.0,
    window_ms=None,
    strf_ms=100.0,
    pre_ms=100.0,
    post_ms=100.0,
    trial_gain_sd=0.15,
    keep_waveform=False,
    store_strf=True,
    naming="generic",
    title=None,
    time_dtype="float64",
)

#: floor of the dB spectrogram (eps of the transform): 1e-8 -> -80 dB
_EPS = 1e-8
#: affine map from the dB spectrogram to the neurons' input
_INPUT_OFFSET = -20.0
_INPUT_SCALE = 20.0


# ------------------------------------------------------------------ presets
def _aa2_coverage(s, n, stim_meta, nrn_meta, rng):
    """CRCNS AA2 pattern: every cell heard conspecific songs; almost all
    song ripples (none in OV); about half the flat ripples; and a cell heard a
    protocol-specific subset of each class it was played."""
    cls = stim_meta["type"]
    # class membership is drawn once per neuron from its own stream
    seed = int(nrn_meta["_coverage_seed"])
    crng = np.random.default_rng([seed, 7])
    heard = {
        "conspecific": True,
        "songrip": nrn_meta["area"] != "OV" and crng.random() < 0.95,
        "flatrip": crng.random() < 0.5,
    }
    keep = {"conspecific": 0.45, "songrip": 0.8, "flatrip": 0.9}
    return bool(heard.get(cls, False)) and rng.random() < keep.get(cls, 1.0)


PRESETS: dict[str, dict[str, Any]] = {
    "demo": dict(
        n_stimuli=12, n_neurons=16, n_freqs=32, dt_ms=5.0, n_bins=(120, 240), repeats=(4, 10),
        coverage=0.9, stim_types=("song", "ripple", "noise"), n_val=3, no_val_neurons=2,
        areas={"A1": 10, "PEG": 6}, encoding="events", keep_waveform=True,
        title="strfh5 demo: simulated Poisson LN neurons",
    ),
    "aa1": dict(
        n_stimuli=30, n_neurons=100, n_freqs=32, dt_ms=5.0, n_bins=(330, 501), repeats=(9, 10),
        coverage=2960 / 3000, stim_types={"conspecific": 20, "flatrip": 10}, n_val=0,
        areas={"Field_L": 50, "MLd": 50}, encoding="events", sample_rate=32000.0, naming="crcns",
        title="Simulated CRCNS AA1-like dataset (zebra finch Field L / MLd)",
    ),
    "aa2": dict(
        n_stimuli=117, n_neurons=494, n_freqs=32, dt_ms=5.0, n_bins=(360, 440), repeats=(10, 20),
        coverage=_aa2_coverage, stim_types={"conspecific": 72, "flatrip": 20, "songrip": 25}, n_val=0,
        areas={"MLd": 143, "OV": 59, "Field_L": 189, "CM": 37, "unknown": 66}, encoding="events",
        sample_rate=32000.0, naming="crcns",
        title="Simulated CRCNS AA2-like dataset (zebra finch MLd / OV / Field L / CM)",
    ),
    "nat4-a1": dict(
        n_stimuli=593, n_neurons=849, n_freqs=18, dt_ms=10.0, n_bins=150, repeats={"est": 1, "val": 20},
        coverage=1.0, stim_types=("natural",), n_val=18, no_val_neurons=33,
        areas=("A1",), animals={"ARM": 165, "CRD": 36, "DRX": 244, "TNC": 404}, encoding="binned",
        sample_rate=16000.0, f_min=200.0, f_max=7900.0, naming="nat4", pre_ms=0.0, post_ms=0.0,
        title="Simulated NAT4 A1-like dataset (ferret A1, natural-sound-like stimuli)",
    ),
}


def preset_params(name: str, **overrides) -> dict:
    """The full parameter dict of preset ``name`` with ``overrides`` applied.

    Raises
    ------
    InvalidDataError
        For an unknown preset or parameter name.
    """
    if name not in PRESETS:
        raise InvalidDataError(f"unknown simulation preset {name!r}; known presets: {sorted(PRESETS)}")
    p = dict(_DEFAULTS)
    p.update(PRESETS[name])
    p["preset"] = name
    _check_names(overrides)
    p.update(overrides)
    return p


def _check_names(params: Mapping) -> None:
    bad = sorted(set(params) - set(_DEFAULTS) - {"preset"})
    if bad:
        raise InvalidDataError(
            f"unknown simulation parameter(s) {bad}; valid ones: {sorted(_DEFAULTS)}"
        )


def _params(preset: str | None, overrides: dict) -> dict:
    if preset is not None:
        return preset_params(preset, **overrides)
    _check_names(overrides)
    p = dict(_DEFAULTS)
    p["preset"] = None
    p.update(overrides)
    return p


# ------------------------------------------------------------------ sounds
def _envelope(n: int, ramp: int) -> np.ndarray:
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


def _synthesize(kind: str, rng, n: int, sr: float, f_min: float, f_max: float) -> np.ndarray:
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


# ------------------------------------------------------------------ neurons
@dataclass
class _Neuron:
    strf: np.ndarray  # (F, L) float64, values as stored in the metadata
    spont_hz: float
    peak_hz: float
    slope: float
    threshold: float
    meta: dict


def _strf(rng, F: int, L: int, dt: float) -> tuple[np.ndarray, dict]:
    """A Gabor-like, possibly non-separable (FM-selective) STRF, unit L2 norm."""
    bf = rng.uniform(0.0, F - 1.0)
    sig_f = max(0.5, rng.uniform(0.6, 2.5) * F / 32.0)
    lat = rng.uniform(max(8.0, 0.8 * dt), max(30.0, 2.5 * dt))
    tau_e = rng.uniform(max(4.0, 0.6 * dt), max(14.0, 1.5 * dt))
    d_inh = rng.uniform(10.0, 30.0) + 0.5 * dt
    tau_i = rng.uniform(1.0, 2.0) * tau_e
    a_t = rng.uniform(0.2, 0.8)
    a_f = rng.uniform(0.0, 0.5)
    fm = rng.uniform(-0.08, 0.08) * F / 32.0 if rng.random() < 0.3 else 0.0
    lags_ms = (np.arange(L) + 0.5) * dt
    f = np.arange(F)[:, None]
    centre = bf + fm * (lags_ms[None, :] - lat)
    spectral = np.exp(-0.5 * ((f - centre) / sig_f) ** 2) - a_f * np.exp(-0.5 * ((f - centre) / (2.5 * sig_f)) ** 2)
    temporal = np.exp(-0.5 * ((lags_ms - lat) / tau_e) ** 2) - a_t * np.exp(-0.5 * ((lags_ms - lat - d_inh) / tau_i) ** 2)
    h = spectral * temporal[None, :]
    nrm = np.linalg.norm(h)
    h = h / nrm if nrm > 0 else h
    # round to what JSON stores so that the metadata *is* the ground truth
    h = np.array([[_g6(v) for v in row] for row in h])
    params = {
        "best_freq_band": int(round(bf)),
        "latency_ms": round(float(lat), 3),
        "bandwidth_bands": round(float(sig_f), 3),
        "fm_bands_per_ms": round(float(fm), 5),
    }
    return h, params


def _g6(x: float) -> float:
    """``x`` rounded to 6 significant digits (what the metadata stores)."""
    return float(f"{float(x):.6g}")


def _labels(spec, n: int, rng, what: str) -> list[str]:
    """``n`` labels from a sequence (drawn uniformly) or ``{label: count or weight}``."""
    if isinstance(spec, str):
        spec = (spec,)
    if isinstance(spec, Mapping):
        names = list(spec)
        vals = np.asarray([float(spec[k]) for k in names])
        if np.any(vals < 0) or vals.sum() <= 0:
            raise InvalidDataError(f"{what}: counts/weights must be non-negative with a positive sum, got {dict(spec)}")
        if np.all(vals == np.round(vals)) and int(vals.sum()) == n:
            out = [k for k, v in zip(names, vals) for _ in range(int(v))]
        else:
            p = vals / vals.sum()
            raw = p * n
            cnt = np.floor(raw).astype(int)
            for i in np.argsort(-(raw - cnt))[: n - cnt.sum()]:
                cnt[i] += 1
            out = [k for k, c in zip(names, cnt) for _ in range(int(c))]
        return out
    names = list(spec)
    if not names:
        raise InvalidDataError(f"{what}: needs at least one value")
    return [names[i % len(names)] for i in range(n)]


def _neuron_table(p: dict, F: int, L: int, rng, calib: Sequence[np.ndarray]) -> list[_Neuron]:
    """Draw N neurons: STRF, nonlinearity and metadata.

    The nonlinearity is placed on each neuron's own drive distribution over
    the calibration spectrograms ``calib``: the threshold is a random quantile
    (70-95 %) of the drive and the slope a random multiple of its spread, so
    that every neuron responds sparsely to some sounds whatever its STRF.
    """
    N = int(p["n_neurons"])
    areas = _labels(p["areas"], N, rng, "areas")
    rng.shuffle(areas)
    animals_spec = p["animals"]
    naming = p["naming"]
    neurons = []
    # recording sites: consecutive neurons share a site (10-60 units per site)
    if animals_spec is None:
        animals_spec = {f"sim{i}": 1 for i in range(max(1, min(6, N // 12 + 1)))}
    animals = sorted(_labels(animals_spec, N, rng, "animals"))
    site_counter: dict[str, int] = {}
    site_of = []
    cur_site, left = None, 0
    for n in range(N):
        a = animals[n]
        if cur_site is None or left == 0 or not cur_site.startswith(a + "|"):
            k = site_counter.get(a, 0) + 1
            site_counter[a] = k
            cur_site, left = f"{a}|{k}", int(rng.integers(10, 61))
        site_of.append(cur_site)
        left -= 1
    unit_counter: dict[tuple, int] = {}
    draws = []
    for n in range(N):
        h, sp = _strf(rng, F, L, float(p["dt_ms"]))
        draws.append((h, sp, float(rng.uniform(1.0, 10.0)), float(rng.uniform(30.0, 120.0)),
                      float(rng.uniform(0.7, 0.95)), float(rng.uniform(1.5, 4.0))))
    if N:
        Z = np.concatenate([_drive(c, np.stack([d[0] for d in draws])) for c in calib], axis=1)
    for n in range(N):
        h, sp, spont, peak, q, k_rel = draws[n]
        thr = float(np.quantile(Z[n], q))
        slope = k_rel / max(float(Z[n].std()), 1e-6)
        animal, k = site_of[n].split("|")
        site_num = int(k)
        electrode = int(rng.integers(1, 65))
        key = (site_of[n], electrode)
        unit_counter[key] = unit_counter.get(key, 0) + 1
        unit = unit_counter[key]
        if naming == "nat4":
            site = f"{animal}{site_num:03d}{'abc'[site_num % 3]}"
            cell_id = f"{site}-{electrode:02d}-{unit}"
        elif naming == "crcns":
            site = f"{animal.lower()}{site_num:02d}"
            cell_id = f"{site}_{n + 1}_{'AB'[unit % 2]}"
        else:
            site = f"{animal}-site{site_num}"
            cell_id = f"{site}-e{electrode:02d}-u{unit}"
        meta = {
            "cell_id": cell_id,
            "area": areas[n],
            "animal": animal,
            "site": site,
            "electrode": electrode,
            "unit_in_electrode": unit,
            "auditory": bool(rng.random() < 0.915),
            **sp,
            "nonlinearity": {
                "kind": "sigmoid",
                "spont_hz": _g6(spont),
                "peak_hz": _g6(peak),
                "slope": _g6(slope),
                "threshold": _g6(thr),
            },
            "_coverage_seed": int(rng.integers(0, 2**31 - 1)),
        }
        nl = meta["nonlinearity"]
        neurons.append(_Neuron(h, nl["spont_hz"], nl["peak_hz"], nl["slope"], nl["threshold"], meta))
    return neurons


# -------------------------------------------------------------- the model
def _drive(spec: np.ndarray, strfs: np.ndarray) -> np.ndarray:
    """Linear stage ``z[n, t] = sum_{f,l} strfs[n, f, l] x[f, t - l]`` (silence before onset)."""
    x = np.asarray(spec, dtype=np.float64)
    if x.ndim == 3:
        x = x[0]
    strfs = np.asarray(strfs, dtype=np.float64)
    N, F, Lg = strfs.shape
    if x.shape[0] != F:
        raise InvalidDataError(f"spectrogram has {x.shape[0]} bands, the STRFs {F}")
    T = x.shape[1]
    floor = 10.0 * math.log10(_EPS)
    xin = (x - _INPUT_OFFSET) / _INPUT_SCALE
    pad = np.full((F, Lg - 1), (floor - _INPUT_OFFSET) / _INPUT_SCALE)
    xp = np.concatenate([pad, xin], axis=1)  # (F, T + L - 1)
    # lagged design: X[f, l, t] = x[f, t - l]
    from numpy.lib.stride_tricks import sliding_window_view

    win = sliding_window_view(xp, Lg, axis=1)[:, :T, ::-1]  # (F, T, L), lag l at index l
    z = np.einsum("nfl,ftl->nt", strfs, win, optimize=True)
    return z


def simulated_rates(spec: np.ndarray, strfs: np.ndarray, nonlinearity: Sequence[Mapping]) -> np.ndarray:
    """Firing rates (spikes/s) of LN neurons for one stored spectrogram.

    Parameters
    ----------
    spec : array, shape (1, F, T) or (F, T)
        A spectrogram as stored by the simulator (dB).
    strfs : array, shape (N, F, L)
        Ground-truth STRFs (``nrn_meta[n]['strf']``).
    nonlinearity : sequence of N dicts
        ``nrn_meta[n]['nonlinearity']``.

    Returns
    -------
    numpy.ndarray, shape (N, T)
        The noise-free rate of each neuron (before trial gains), which a fitted
        model of the file's data should approach.
    """
    z = _drive(spec, strfs)
    sp = np.array([float(m["spont_hz"]) for m in nonlinearity])[:, None]
    pk = np.array([float(m["peak_hz"]) for m in nonlinearity])[:, None]
    k = np.array([float(m["slope"]) for m in nonlinearity])[:, None]
    th = np.array([float(m["threshold"]) for m in nonlinearity])[:, None]
    return sp + (pk - sp) / (1.0 + np.exp(-k * (z - th)))


# -------------------------------------------------------------- generator
@dataclass
class _Plan:
    p: dict
    F: int
    L: int
    S: int
    N: int
    n_bins: np.ndarray
    stim_types: list[str]
    subsets: list[str]
    stim_ids: list[str]
    stim_names: list[str]
    neurons: list[_Neuron]
    nrn_meta: list[dict]
    neuron_ids: list[str]
    mask: np.ndarray  # (S, N) bool
    repeats: np.ndarray  # (S, N) int
    spec_params: Any
    transform: dict
    file_meta: dict
    stim_seeds: list


def _int_range(spec, what: str) -> tuple[int, int]:
    if isinstance(spec, (int, np.integer)):
        return int(spec), int(spec)
    try:
        lo, hi = (int(v) for v in spec)
    except (TypeError, ValueError):
        raise InvalidDataError(f"{what} must be an int or a (low, high) pair, got {spec!r}") from None
    if lo > hi:
        raise InvalidDataError(f"{what}: low {lo} > high {hi}")
    return lo, hi


def _plan(p: dict) -> _Plan:
    from .spectrogram import SpectrogramParams, spectrogram, transform_dict

    S, N, F = int(p["n_stimuli"]), int(p["n_neurons"]), int(p["n_freqs"])
    for name, v, lo in (("n_stimuli", S, 0), ("n_neurons", N, 0), ("n_freqs", F, 1)):
        if v < lo:
            raise InvalidDataError(f"{name} must be >= {lo}, got {v}")
    dt = float(p["dt_ms"])
    if not (math.isfinite(dt) and dt > 0):
        raise InvalidDataError(f"dt_ms must be a positive number, got {p['dt_ms']!r}")
    if p["encoding"] not in L.ENCODINGS:
        raise InvalidDataError(f"encoding {p['encoding']!r} is not one of {L.ENCODINGS}")
    sr = float(p["sample_rate"])
    f_max = min(float(p["f_max"]), sr / 2.0)
    ss = np.random.SeedSequence(int(p["seed"]))
    s_plan, s_neurons, s_cov, s_rep, s_stims, s_calib = ss.spawn(6)
    rng = np.random.default_rng(s_plan)

    # stimulus table
    nbs = p["n_bins"]
    if isinstance(nbs, (list, np.ndarray)):
        nb = np.asarray(nbs, dtype=np.int64).reshape(-1)
        if nb.size != S:
            raise InvalidDataError(f"n_bins lists {nb.size} lengths for {S} stimuli")
    else:
        lo, hi = _int_range(nbs, "n_bins")
        nb = rng.integers(lo, hi + 1, size=S)
    if nb.size and nb.min() < 1:
        raise InvalidDataError(f"n_bins must be >= 1 for every stimulus, got minimum {nb.min()}")
    types = _labels(p["stim_types"], S, rng, "stim_types")
    unknown = sorted(set(types) - set(SOUND_TYPES))
    if unknown:
        raise InvalidDataError(f"stim_types {unknown} cannot be synthesised; known types: {sorted(SOUND_TYPES)}")
    nv = p["n_val"]
    n_val = int(round(float(nv) * S)) if isinstance(nv, float) else int(nv)
    if not 0 <= n_val <= S:
        raise InvalidDataError(f"n_val = {nv!r} must select between 0 and {S} stimuli")
    subsets = ["est"] * (S - n_val) + ["val"] * n_val
    if p["naming"] == "crcns":
        names = [hashlib.md5(f"strfh5-sim-{p['seed']}-{s}".encode()).hexdigest().upper() + ".wav" for s in range(S)]
        ids = [x[:-4] for x in names]
    elif p["naming"] == "nat4":
        names = [f"STIM_sim{p['seed']}_{s:04d}_{types[s]}_{subsets[s]}.wav" for s in range(S)]
        ids = [x[:-4] for x in names]
    else:
        names = [f"{types[s]}_{s:04d}.wav" for s in range(S)]
        ids = [f"{types[s]}_{s:04d}" for s in range(S)]

    # neurons
    Lg = max(1, int(math.ceil(float(p["strf_ms"]) / dt)))
    window_ms = p["window_ms"] or max(2.0 * dt, 16.0)
    sp = SpectrogramParams(kind="log", n_bands=F, f_min=float(p["f_min"]), f_max=f_max, window_ms=float(window_ms),
                           hop_ms=dt, compression="db", eps=_EPS)
    transform = transform_dict(sp, sr)
    calib = []
    cal_rng = np.random.default_rng(s_calib)
    n_cal = int(math.ceil(sr))  # one second of each sound family
    for kind in ("song", "flatrip", "songrip", "noise"):
        calib.append(spectrogram(_synthesize(kind, cal_rng, n_cal, sr, float(p["f_min"]), f_max), sr, sp)[0])
    neurons = _neuron_table(p, F, Lg, np.random.default_rng(s_neurons), calib)
    nrn_meta = []
    for nr in neurons:
        m = {k: v for k, v in nr.meta.items() if not k.startswith("_")}
        if p["store_strf"]:
            m["strf"] = nr.strf.tolist()
        nrn_meta.append(m)
    neuron_ids = [m["cell_id"] for m in nrn_meta]
    if len(set(neuron_ids)) != N:
        neuron_ids = [f"{m['cell_id']}#{n}" for n, m in enumerate(nrn_meta)]
    stim_meta_for_rules = [
        {"name": names[s], "type": types[s], "subset": subsets[s]} for s in range(S)
    ]

    # coverage
    crng = np.random.default_rng(s_cov)
    cov = p["coverage"]
    if cov is None or (isinstance(cov, str) and cov == "full"):
        mask = np.ones((S, N), bool)
    elif isinstance(cov, str) and cov == "classes":
        mask = np.zeros((S, N), bool)
        classes = sorted(set(types))
        for n in range(N):
            k = int(crng.integers(1, len(classes) + 1))
            heard = set(crng.choice(classes, size=k, replace=False).tolist())
            mask[:, n] = [t in heard for t in types]
    elif isinstance(cov, (float, int, np.floating)) and not isinstance(cov, bool):
        frac = float(cov)
        if not 0.0 <= frac <= 1.0:
            raise InvalidDataError(f"coverage fraction must be in [0, 1], got {frac}")
        n_missing = int(round((1.0 - frac) * S * N))
        mask = np.ones(S * N, bool)
        if n_missing:
            mask[crng.choice(S * N, size=n_missing, replace=False)] = False
        mask = mask.reshape(S, N)
    elif callable(cov):
        mask = np.zeros((S, N), bool)
        for s in range(S):
            for n in range(N):
                mask[s, n] = bool(cov(s, n, stim_meta_for_rules[s], {**neurons[n].meta}, crng))
    else:
        mask = np.asarray(cov)
        if mask.shape != (S, N) or mask.dtype != bool:
            raise InvalidDataError(
                "coverage must be a fraction, 'full', 'classes', a callable (s, n, stim_meta, nrn_meta, rng) "
                f"-> bool or an (S, N) = {(S, N)} bool array; got {type(cov).__name__}"
                + (f" of shape {mask.shape} dtype {mask.dtype}" if hasattr(mask, "shape") else "")
            )
        mask = mask.copy()
    k_noval = int(p["no_val_neurons"])
    if k_noval:
        if not 0 <= k_noval <= N:
            raise InvalidDataError(f"no_val_neurons = {k_noval} must be between 0 and N = {N}")
        val_rows = [s for s in range(S) if subsets[s] == "val"]
        who = crng.choice(N, size=k_noval, replace=False)
        for s in val_rows:
            mask[s, who] = False

    # repeats
    rrng = np.random.default_rng(s_rep)
    rspec = p["repeats"]
    reps = np.zeros((S, N), np.int64)
    if callable(rspec):
        for s in range(S):
            for n in range(N):
                if mask[s, n]:
                    reps[s, n] = int(rspec(s, n, stim_meta_for_rules[s], {**neurons[n].meta}, rrng))
    else:
        for s in range(S):
            spec = rspec[subsets[s]] if isinstance(rspec, Mapping) else rspec
            lo, hi = _int_range(spec, f"repeats for subset {subsets[s]!r}")
            if lo < 1:
                raise InvalidDataError(f"repeats must be >= 1 for recorded pairs, got {spec!r}")
            reps[s] = rrng.integers(lo, hi + 1, size=N)
        reps[~mask] = 0
    if reps.size and reps.min() < 0:
        raise InvalidDataError("the repeats callable returned a negative number")
    mask = reps > 0

    sim = {
        "model": MODEL,
        "preset": p["preset"],
        "nonlinearity": "sigmoid: rate = spont_hz + (peak_hz - spont_hz) / (1 + exp(-slope * (z - threshold)))",
        "linear_stage": "z(t) = sum_{f,l} strf[f][l] * x[f, t - l], x = (stimulus - input_offset) / input_scale; "
                        "frames before onset are silence (stimulus = 10*log10(eps))",
        "input_offset": _INPUT_OFFSET,
        "input_scale": _INPUT_SCALE,
        "strf_lags": Lg,
        "strf_ms": float(p["strf_ms"]),
        "trial_gain_sd": float(p["trial_gain_sd"]),
        "trial_gain": "each repeat multiplies the rate by exp(N(0, trial_gain_sd))",
        "spikes": "Poisson counts per dt bin; spike times uniform within their bin",
        "pre_ms": float(p["pre_ms"]) if p["encoding"] == L.ENCODING_EVENTS else 0.0,
        "post_ms": float(p["post_ms"]) if p["encoding"] == L.ENCODING_EVENTS else 0.0,
        "spontaneous": "spikes at spont_hz in [-pre_ms, 0) and [T*dt, T*dt + post_ms) (events only)",
        "sound_sample_rate": sr,
        "sound_types": sorted(set(types)),
        "ground_truth": "neuron metadata 'strf' ([F][L], lag l weights frame t - l) and 'nonlinearity'",
    }
    file_meta = {
        "source": SOURCE,
        "title": p["title"] or "strfh5 simulated dataset (Poisson LN neurons, synthetic sounds)",
        "description": "Synthetic data made by strfh5.simulate: linear-nonlinear Poisson neurons with known "
                       "STRFs driven by synthetic song-like sounds, ripples and noise.",
        "license": "CC0-1.0",
        "species": "simulated",
        "response_units": "ms" if p["encoding"] == L.ENCODING_EVENTS else "spikes/bin",
        "seed": int(p["seed"]),
        "simulation": sim,
    }
    return _Plan(p, F, Lg, S, N, nb, types, subsets, ids, names, neurons, nrn_meta, neuron_ids, mask, reps,
                 sp, transform, file_meta, s_stims.spawn(S))


def _stimulus(plan: _Plan, s: int):
    """Synthesise stimulus ``s``: (waveform, spectrogram (1, F, T), meta, rng for its responses)."""
    from .spectrogram import spectrogram

    p = plan.p
    sr = float(p["sample_rate"])
    dt = float(p["dt_ms"])
    T = int(plan.n_bins[s])
    n_samp = int(math.ceil(T * dt * sr / 1000.0 - 1e-9))
    sound_rng, spike_rng = (np.random.default_rng(x) for x in plan.stim_seeds[s].spawn(2))
    wave = _synthesize(plan.stim_types[s], sound_rng, n_samp, sr, float(p["f_min"]), plan.spec_params.f_max)
    spec, _ = spectrogram(wave, sr, plan.spec_params)
    if spec.shape[-1] != T:  # n_frames floors; pad with one silent frame if the sound fell short
        spec = np.concatenate([spec, np.full((1, plan.F, T - spec.shape[-1]), 10 * math.log10(_EPS), np.float32)],
                              axis=-1)[..., :T]
    meta = {
        "name": plan.stim_names[s],
        "type": plan.stim_types[s],
        "subset": plan.subsets[s],
        "sample_rate": sr,
        "n_samples": n_samp,
        "duration_s": round(n_samp / sr, 6),
    }
    return wave, spec, meta, spike_rng


def _row(plan: _Plan, s: int, spec: np.ndarray, rng) -> list:
    """Simulated responses of every neuron to stimulus ``s`` (None where not recorded)."""
    p = plan.p
    N, T = plan.N, int(plan.n_bins[s])
    dt = float(p["dt_ms"])
    reps = plan.repeats[s]
    out: list = [None] * N
    who = np.flatnonzero(reps > 0)
    if who.size == 0:
        return out
    strfs = np.stack([plan.neurons[n].strf for n in who])
    nls = [plan.nrn_meta[n]["nonlinearity"] for n in who]
    rates = simulated_rates(spec, strfs, nls)  # (k, T) spikes/s
    R = reps[who]
    row_of = np.repeat(np.arange(who.size), R)  # one row per (neuron, repeat)
    M = row_of.size
    gains = np.exp(rng.normal(0.0, float(p["trial_gain_sd"]), M)) if p["trial_gain_sd"] else np.ones(M)
    lam = rates[row_of] * gains[:, None] * (dt / 1000.0)
    counts = rng.poisson(lam)  # (M, T)
    edges = np.concatenate([[0], np.cumsum(R)])
    if p["encoding"] == L.ENCODING_BINNED:
        for i, n in enumerate(who):
            out[n] = counts[edges[i] : edges[i + 1]]
        return out
    # events: spike times uniform within their bins, plus spontaneous pre/post spikes
    flat = counts.reshape(-1)
    cell = np.repeat(np.arange(flat.size), flat)
    u = np.minimum(rng.random(cell.size), 1.0 - 1e-9)
    t_stim = ((cell % T) + u) * dt
    r_stim = cell // T
    spont = np.array([plan.nrn_meta[n]["nonlinearity"]["spont_hz"] for n in who])[row_of]
    pre, post = float(p["pre_ms"]), float(p["post_ms"])
    n_pre = rng.poisson(spont * pre / 1000.0) if pre > 0 else np.zeros(M, np.int64)
    n_post = rng.poisson(spont * post / 1000.0) if post > 0 else np.zeros(M, np.int64)
    r_pre = np.repeat(np.arange(M), n_pre)
    t_pre = -pre + rng.random(r_pre.size) * pre
    r_post = np.repeat(np.arange(M), n_post)
    t_post = T * dt + rng.random(r_post.size) * post
    rows = np.concatenate([r_pre, r_stim, r_post])
    times = np.concatenate([t_pre, t_stim, t_post])
    order = np.lexsort((times, rows))
    rows, times = rows[order], times[order]
    times = times.astype(np.dtype(p["time_dtype"]))
    per_rep = np.bincount(rows, minlength=M)
    t_edges = np.concatenate([[0], np.cumsum(per_rep)])
    for i, n in enumerate(who):
        a, b = edges[i], edges[i + 1]
        out[n] = Events(times[t_edges[a] : t_edges[b]].copy(), per_rep[a:b].astype(np.int64))
    return out


def _iter_stimuli(plan: _Plan) -> Iterator[tuple]:
    for s in range(plan.S):
        wave, spec, meta, rng = _stimulus(plan, s)
        yield s, wave, spec, meta, _row(plan, s, spec, rng)


def _progress(it, total, enabled: bool, desc: str):
    if not enabled:
        return it
    from tqdm.auto import tqdm

    return tqdm(it, total=total, desc=desc, unit="stim")


# ------------------------------------------------------------------ public
def simulate_contents(preset: str | None = None, **params):
    """Simulate in memory; return a :class:`~strfh5.contents.MemoryContents`.

    Same parameters as :func:`simulate_dataset`.
    """
    from .build import contents_from_lists

    plan = _plan(_params(preset, params))
    stims, rows, smeta, waves = [], [], [], []
    for s, wave, spec, meta, row in _iter_stimuli(plan):
        stims.append(spec)
        smeta.append(meta)
        if plan.p["encoding"] == L.ENCODING_EVENTS:
            row = [None if e is None else e.trials() for e in row]
        rows.append(row)
        waves.append((wave[None], float(plan.p["sample_rate"])) if plan.p["keep_waveform"] else None)
    kw = dict(spike_times=rows) if plan.p["encoding"] == L.ENCODING_EVENTS else dict(responses=rows)
    return contents_from_lists(
        stims,
        dt_ms=float(plan.p["dt_ms"]),
        stim_meta=smeta,
        nrn_meta=plan.nrn_meta,
        stim_ids=plan.stim_ids,
        neuron_ids=plan.neuron_ids,
        stim_kind=L.STIM_SPECTROGRAM,
        waveforms=waves if plan.p["keep_waveform"] else None,
        file_meta=plan.file_meta,
        source=SOURCE,
        transform=plan.transform,
        **kw,
    )


def simulate_dataset(preset: str | None = None, **params):
    """Simulate a dataset in memory and return it as a strfh5 dataset.

    Parameters
    ----------
    preset : {'demo', 'aa1', 'aa2', 'nat4-a1'}, optional
        Start from a named preset (:data:`PRESETS`); keyword arguments
        override its values.
    n_stimuli, n_neurons : int
        S and N.
    n_freqs : int
        F, spectrogram bands.
    dt_ms : float
        Bin width / spectrogram hop (``sample_rate * dt_ms / 1000`` need not be
        an integer).
    n_bins : int, (low, high) tuple, or list of S ints
        Response/stimulus length T of each stimulus in bins (a tuple draws
        uniformly from the inclusive range; a list gives every length).
    repeats : int, (low, high), {subset: int or (low, high)} or callable
        Repeats of each recorded pair; a callable gets ``(s, n, stim_meta,
        nrn_meta, rng)`` and returns an int (0 = not recorded).
    coverage : float, 'full', 'classes', (S, N) bool array or callable
        Which pairs are recorded: a fraction (exactly ``round((1 - f) S N)``
        pairs missing, drawn at random), all, 'classes' (each neuron hears
        every stimulus of a random non-empty subset of the stimulus types), an
        explicit mask, or ``callable(s, n, stim_meta, nrn_meta, rng) -> bool``.
    stim_types : sequence or {type: count}
        Stimulus classes (:data:`SOUND_TYPES`): a sequence is cycled, a dict
        gives counts (or weights).
    n_val : int or float
        Number (int) or fraction (float) of stimuli tagged ``subset='val'``
        (the last ones); the others are ``'est'``.
    no_val_neurons : int
        Number of neurons with no response to any validation stimulus (the
        NAT4 pattern).
    encoding : {'events', 'binned'}
        Spike times (with pre/post-stimulus spikes) or per-bin counts.
    seed : int
        Seed of every random draw; equal parameters and seed give equal data.
    areas, animals : sequence or {name: count}
        Neuron metadata labels.
    sample_rate, f_min, f_max, window_ms : float
        Sound synthesis and spectrogram parameters.
    strf_ms : float
        Temporal extent of the STRFs (``L = ceil(strf_ms / dt_ms)`` lags).
    pre_ms, post_ms : float
        Windows of spontaneous spikes before onset / after offset (events).
    trial_gain_sd : float
        Log-normal trial-to-trial gain variability.
    keep_waveform : bool
        Store each sound's waveform beside its spectrogram.
    store_strf : bool
        Store the ground-truth STRF in each neuron's metadata.
    naming : {'generic', 'crcns', 'nat4'}
        Style of stimulus names and cell ids.
    title : str, optional
        File metadata title.
    time_dtype : {'float64', 'float32'}
        Type of stored spike times.

    Returns
    -------
    NeuralDataset
        As :func:`strfh5.from_lists` returns.
    """
    from .reader import dataset_from_contents

    return dataset_from_contents(simulate_contents(preset, **params))


def _count_dtype(plan: _Plan):
    """uint8 when no count can exceed it in practice, else None (the writer chooses at close).

    The bound is the largest possible rate (peak x a 6-sigma trial gain); a
    Poisson count more than ~10x its mean plus 50 has probability below 1e-40.
    Should it happen anyway the writer refuses the value loudly (never wraps).
    """
    p = plan.p
    peak = max((nr.peak_hz for nr in plan.neurons), default=0.0) * math.exp(6.0 * float(p["trial_gain_sd"]))
    if p["encoding"] == L.ENCODING_BINNED:
        span_ms = float(p["dt_ms"])
    else:  # per-repeat spike counts
        span_ms = float(plan.n_bins.max(initial=0)) * float(p["dt_ms"]) + float(p["pre_ms"]) + float(p["post_ms"])
    worst = 10.0 * peak * span_ms / 1000.0 + 50.0
    # only uint8 can be fixed in advance: it is the smallest type, as SPEC §4 requires, whatever
    # the counts; a wider bound lets the writer pick the smallest type from the values at close
    return np.dtype("u1") if worst <= 255 else None


def write_simulated(path, preset: str | None = None, *, overwrite: bool = False, progress: bool = False,
                    **params) -> str:
    """Simulate a dataset straight to a strfh5 file, one stimulus row at a time.

    Memory is bounded by one stimulus row, so the same call writes a 20 GB
    benchmark file on a small machine.  Parameters are those of
    :func:`simulate_dataset`; the data equal what it returns for the same
    parameters.

    Parameters
    ----------
    path : str or os.PathLike
        Output file (``*.strf.h5``).
    overwrite : bool
        Replace an existing file.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    str
        The path written.
    """
    from .writer import StreamWriter

    plan = _plan(_params(preset, params))
    p = plan.p
    w = StreamWriter(
        os.fspath(path),
        encoding=p["encoding"],
        dt_ms=float(p["dt_ms"]),
        stim_kind=L.STIM_SPECTROGRAM,
        stim_dims=(1, plan.F),
        neuron_ids=plan.neuron_ids,
        nrn_meta=plan.nrn_meta,
        file_meta=plan.file_meta,
        source=SOURCE,
        transform=plan.transform,
        time_dtype=p["time_dtype"],
        count_dtype=_count_dtype(plan),
        overwrite=overwrite,
    )
    with w:
        for s, wave, spec, meta, row in _progress(_iter_stimuli(plan), plan.S, progress, "simulate"):
            if p["keep_waveform"]:
                w.add_stimulus(spec, id=plan.stim_ids[s], meta=meta, waveform=wave[None],
                               sample_rate=float(p["sample_rate"]))
            else:
                w.add_stimulus(spec, id=plan.stim_ids[s], meta=meta)
            w.write_row(s, row)
    return w.path
