"""Simulation parameters: the defaults, the named presets, and how parameter specs are read.

A preset is a dict of overrides of :data:`DEFAULTS`; :func:`resolve_params`
merges a preset, the caller's keyword arguments and the defaults into the one
flat parameter dict every other module of :mod:`strfh5.simulate` reads.
:func:`labels` and :func:`int_range` interpret the spec forms the parameters
accept (a sequence, ``{label: count}``, an int or a ``(low, high)`` pair).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..errors import InvalidDataError

#: every simulation parameter and its default (documented in :func:`strfh5.simulate_dataset`)
DEFAULTS: dict[str, Any] = dict(
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


#: named parameter sets reproducing the shapes of public releases
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
    p = dict(DEFAULTS)
    p.update(PRESETS[name])
    p["preset"] = name
    _check_names(overrides)
    p.update(overrides)
    return p


def _check_names(params: Mapping) -> None:
    bad = sorted(set(params) - set(DEFAULTS) - {"preset"})
    if bad:
        raise InvalidDataError(
            f"unknown simulation parameter(s) {bad}; valid ones: {sorted(DEFAULTS)}"
        )


def resolve_params(preset: str | None, overrides: dict) -> dict:
    """Every parameter: ``preset`` (or the defaults alone) with ``overrides``; ``p['preset']`` names the preset."""
    if preset is not None:
        return preset_params(preset, **overrides)
    _check_names(overrides)
    p = dict(DEFAULTS)
    p["preset"] = None
    p.update(overrides)
    return p


def labels(spec, n: int, rng, what: str) -> list[str]:
    """``n`` labels from a sequence (cycled) or ``{label: count or weight}``.

    Counts that sum to ``n`` are used as they are; otherwise the values are
    weights and the counts are their largest-remainder rounding.  ``rng`` is
    not drawn from.
    """
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


def int_range(spec, what: str) -> tuple[int, int]:
    """``(low, high)`` from an int or a pair; :class:`InvalidDataError` naming ``what`` otherwise."""
    if isinstance(spec, (int, np.integer)):
        return int(spec), int(spec)
    try:
        lo, hi = (int(v) for v in spec)
    except (TypeError, ValueError):
        raise InvalidDataError(f"{what} must be an int or a (low, high) pair, got {spec!r}") from None
    if lo > hi:
        raise InvalidDataError(f"{what}: low {lo} > high {hi}")
    return lo, hi
