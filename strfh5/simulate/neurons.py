"""Simulated neurons: ground-truth STRFs, sigmoid nonlinearities placed on each neuron's drive, and metadata.

Neurons are grouped into recording sites (consecutive neurons of an animal
share a site of 10-60 units) and carry realistic metadata (area, animal,
site, electrode, unit) besides their ground truth (STRF parameters and
nonlinearity).  Everything is drawn from one generator in a fixed order, so a
seed gives the same neurons whatever else the file holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .model import drive
from .naming import cell_id, site_name
from .presets import labels


@dataclass
class Neuron:
    """One LN neuron: its STRF, its nonlinearity and its metadata record (keys ``_*`` are not stored)."""

    strf: np.ndarray  # (F, L) float64, values as stored in the metadata
    spont_hz: float
    peak_hz: float
    slope: float
    threshold: float
    meta: dict


def strf(rng, F: int, L: int, dt: float) -> tuple[np.ndarray, dict]:
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
    h = np.array([[g6(v) for v in row] for row in h])
    params = {
        "best_freq_band": int(round(bf)),
        "latency_ms": round(float(lat), 3),
        "bandwidth_bands": round(float(sig_f), 3),
        "fm_bands_per_ms": round(float(fm), 5),
    }
    return h, params


def g6(x: float) -> float:
    """``x`` rounded to 6 significant digits (what the metadata stores)."""
    return float(f"{float(x):.6g}")



def _sites(animals_spec, N: int, rng) -> list[tuple[str, int]]:
    """``(animal, site number)`` of each neuron: consecutive neurons of an animal share a site of 10-60 units."""
    if animals_spec is None:
        animals_spec = {f"sim{i}": 1 for i in range(max(1, min(6, N // 12 + 1)))}
    animals = sorted(labels(animals_spec, N, rng, "animals"))
    site_counter: dict[str, int] = {}
    out = []
    cur, left = None, 0
    for n in range(N):
        a = animals[n]
        if cur is None or left == 0 or cur[0] != a:
            site_counter[a] = site_counter.get(a, 0) + 1
            cur, left = (a, site_counter[a]), int(rng.integers(10, 61))
        out.append(cur)
        left -= 1
    return out


def _draw(rng, F: int, L: int, dt: float) -> tuple:
    """One neuron's STRF, its parameters, and the nonlinearity's raw draws (spont, peak, quantile, slope factor)."""
    h, params = strf(rng, F, L, dt)
    return (h, params, float(rng.uniform(1.0, 10.0)), float(rng.uniform(30.0, 120.0)),
            float(rng.uniform(0.7, 0.95)), float(rng.uniform(1.5, 4.0)))


def neuron_table(p: dict, tag: str, F: int, L: int, rng, calib: Sequence[np.ndarray]) -> list[Neuron]:
    """Draw N neurons: STRF, nonlinearity and metadata (ids prefixed by the file's ``tag``).

    The nonlinearity is placed on each neuron's own drive distribution over
    the calibration spectrograms ``calib``: the threshold is a random quantile
    (70-95 %) of the drive and the slope a random multiple of its spread, so
    that every neuron responds sparsely to some sounds whatever its STRF.
    """
    N = int(p["n_neurons"])
    areas = labels(p["areas"], N, rng, "areas")
    rng.shuffle(areas)
    sites = _sites(p["animals"], N, rng)
    draws = [_draw(rng, F, L, float(p["dt_ms"])) for _ in range(N)]
    if N:
        Z = np.concatenate([drive(c, np.stack([d[0] for d in draws])) for c in calib], axis=1)
    unit_counter: dict[tuple, int] = {}
    neurons = []
    for n in range(N):
        h, sp, spont, peak, q, k_rel = draws[n]
        animal, site_num = sites[n]
        electrode = int(rng.integers(1, 65))
        key = (animal, site_num, electrode)
        unit_counter[key] = unit = unit_counter.get(key, 0) + 1
        site = site_name(p["naming"], animal, site_num)
        nl = {
            "kind": "sigmoid",
            "spont_hz": g6(spont),
            "peak_hz": g6(peak),
            "slope": g6(k_rel / max(float(Z[n].std()), 1e-6)),
            "threshold": g6(float(np.quantile(Z[n], q))),
        }
        meta = {
            "cell_id": cell_id(p["naming"], tag, site, n, electrode, unit),
            "area": areas[n],
            "animal": animal,
            "site": site,
            "electrode": electrode,
            "unit_in_electrode": unit,
            "auditory": bool(rng.random() < 0.915),
            **sp,
            "nonlinearity": nl,
            "_coverage_seed": int(rng.integers(0, 2**31 - 1)),
        }
        neurons.append(Neuron(h, nl["spont_hz"], nl["peak_hz"], nl["slope"], nl["threshold"], meta))
    return neurons
