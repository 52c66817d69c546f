"""The plan of a simulated dataset: every table fixed before the first stimulus is synthesised.

:func:`make_plan` checks the parameters and draws, from independent streams
of one seed, the stimulus table (lengths, classes, subsets, names and ids),
the neurons, the coverage and the repeats; it also fixes the spectrogram
recipe and the file metadata.  Stimuli and responses are then made one row at
a time (:mod:`strfh5.simulate.responses`), each from its own stream, so a row
depends only on the plan and its index.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import layout as L
from ..errors import InvalidDataError
from ..spectrogram import SpectrogramParams, spectrogram, transform_dict
from .coverage import coverage_mask, repeats_table
from .metadata import file_metadata
from .model import EPS
from .naming import NAMINGS, file_tag, stimulus_names, unique_ids
from .neurons import Neuron, neuron_table
from .presets import int_range, labels
from .sounds import SOUND_TYPES, synthesize


@dataclass
class Plan:
    """Everything about a simulated dataset except the stimuli's sounds and the spikes."""

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
    neurons: list[Neuron]
    nrn_meta: list[dict]
    neuron_ids: list[str]
    mask: np.ndarray  # (S, N) bool
    repeats: np.ndarray  # (S, N) int
    spec_params: SpectrogramParams
    transform: dict
    file_meta: dict
    stim_seeds: list


def _check(p: dict) -> tuple[int, int, int, float]:
    """``(S, N, F, dt_ms)`` after checking the scalar parameters."""
    S, N, F = int(p["n_stimuli"]), int(p["n_neurons"]), int(p["n_freqs"])
    for name, v, lo in (("n_stimuli", S, 0), ("n_neurons", N, 0), ("n_freqs", F, 1)):
        if v < lo:
            raise InvalidDataError(f"{name} must be >= {lo}, got {v}")
    dt = float(p["dt_ms"])
    if not (math.isfinite(dt) and dt > 0):
        raise InvalidDataError(f"dt_ms must be a positive number, got {p['dt_ms']!r}")
    if p["encoding"] not in L.ENCODINGS:
        raise InvalidDataError(f"encoding {p['encoding']!r} is not one of {L.ENCODINGS}")
    if p["naming"] not in NAMINGS:
        raise InvalidDataError(f"naming {p['naming']!r} is not one of {NAMINGS}")
    if p["time_dtype"] not in ("float32", "float64", np.float32, np.float64):
        raise InvalidDataError(f"time_dtype must be 'float32' or 'float64', got {p['time_dtype']!r}")
    return S, N, F, dt


def _stimulus_table(p: dict, S: int, rng) -> tuple[np.ndarray, list[str], list[str]]:
    """``(n_bins, types, subsets)`` of the S stimuli."""
    nbs = p["n_bins"]
    if isinstance(nbs, (list, np.ndarray)):
        nb = np.asarray(nbs, dtype=np.int64).reshape(-1)
        if nb.size != S:
            raise InvalidDataError(f"n_bins lists {nb.size} lengths for {S} stimuli")
    else:
        lo, hi = int_range(nbs, "n_bins")
        nb = rng.integers(lo, hi + 1, size=S)
    if nb.size and nb.min() < 1:
        raise InvalidDataError(f"n_bins must be >= 1 for every stimulus, got minimum {nb.min()}")
    types = labels(p["stim_types"], S, rng, "stim_types")
    unknown = sorted(set(types) - set(SOUND_TYPES))
    if unknown:
        raise InvalidDataError(f"stim_types {unknown} cannot be synthesised; known types: {sorted(SOUND_TYPES)}")
    nv = p["n_val"]
    n_val = int(round(float(nv) * S)) if isinstance(nv, float) else int(nv)
    if not 0 <= n_val <= S:
        raise InvalidDataError(f"n_val = {nv!r} must select between 0 and {S} stimuli")
    return nb, types, ["est"] * (S - n_val) + ["val"] * n_val


def _spectrogram_params(p: dict, F: int, dt: float) -> SpectrogramParams:
    """The log-frequency dB spectrogram recipe: F bands, hop dt, window ``window_ms`` (default max(2 dt, 16 ms))."""
    f_max = min(float(p["f_max"]), float(p["sample_rate"]) / 2.0)
    window_ms = p["window_ms"] or max(2.0 * dt, 16.0)
    return SpectrogramParams(kind="log", n_bands=F, f_min=float(p["f_min"]), f_max=f_max,
                             window_ms=float(window_ms), hop_ms=dt, compression="db", eps=EPS)


def _calibration(p: dict, sp: SpectrogramParams, rng) -> list[np.ndarray]:
    """Spectrograms of one second of each sound family, on which every neuron's nonlinearity is placed."""
    sr = float(p["sample_rate"])
    n_cal = int(math.ceil(sr))
    return [spectrogram(synthesize(kind, rng, n_cal, sr, float(p["f_min"]), sp.f_max), sr, sp)[0]
            for kind in ("song", "flatrip", "songrip", "noise")]


def _stored_meta(neurons: list[Neuron], store_strf: bool) -> list[dict]:
    """Neuron metadata as stored: private keys dropped, the STRF added, ``cell_id`` made unique."""
    nrn_meta = []
    for nr in neurons:
        m = {k: v for k, v in nr.meta.items() if not k.startswith("_")}
        if store_strf:
            m["strf"] = nr.strf.tolist()
        nrn_meta.append(m)
    for m, uid in zip(nrn_meta, unique_ids([m["cell_id"] for m in nrn_meta])):
        m["cell_id"] = uid
    return nrn_meta


def make_plan(p: dict) -> Plan:
    """Check the parameters ``p`` (:func:`~strfh5.simulate.presets.resolve_params`) and fix every table."""
    S, N, F, dt = _check(p)
    tag = file_tag(p["preset"], p["seed"])
    s_plan, s_neurons, s_cov, s_rep, s_stims, s_calib = np.random.SeedSequence(int(p["seed"])).spawn(6)
    nb, types, subsets = _stimulus_table(p, S, np.random.default_rng(s_plan))
    names, ids = stimulus_names(p["naming"], tag, types, subsets)
    n_lags = max(1, int(math.ceil(float(p["strf_ms"]) / dt)))
    sp = _spectrogram_params(p, F, dt)
    calib = _calibration(p, sp, np.random.default_rng(s_calib))
    neurons = neuron_table(p, tag, F, n_lags, np.random.default_rng(s_neurons), calib)
    nrn_meta = _stored_meta(neurons, bool(p["store_strf"]))
    rule_stim = [{"name": names[s], "type": types[s], "subset": subsets[s]} for s in range(S)]
    rule_nrn = [nr.meta for nr in neurons]
    mask = coverage_mask(p, types, subsets, rule_stim, rule_nrn, np.random.default_rng(s_cov))
    reps = repeats_table(p, mask, subsets, rule_stim, rule_nrn, np.random.default_rng(s_rep))
    return Plan(p, F, n_lags, S, N, nb, types, subsets, ids, names, neurons, nrn_meta,
                [m["cell_id"] for m in nrn_meta], reps > 0, reps, sp, transform_dict(sp, float(p["sample_rate"])),
                file_metadata(p, tag, n_lags, types), s_stims.spawn(S))
