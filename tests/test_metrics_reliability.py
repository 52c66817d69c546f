"""strfh5.metrics.reliability: CCmax, split-half correlation and Spearman-Brown against oracles and theory."""

from __future__ import annotations

import math

import numpy as np
import torch

import reference_metrics as ref
from metric_cases import as_float, close, signal_noise
from strfh5 import metrics as M


def test_small_max_iters_uses_the_seeded_sample():
    rng = np.random.default_rng(1)
    y, _ = signal_noise(rng, 8, 30)  # 35 splits > 10
    for seed in (0, 1):
        want = ref.ref_ccmax([y], max_iters=10, seed=seed, use_library_order=True)
        assert close(as_float(M.ccmax(torch.tensor(y), max_iters=10, seed=seed)), want)


def test_spearman_brown_formula():
    rho = torch.tensor([0.0, 0.25, 0.5, 1.0, -0.1])
    out = M.spearman_brown(rho)
    assert out[0] == 0 and math.isnan(out[4])
    for r, o in zip(rho[1:4].tolist(), out[1:4].tolist()):
        assert close(o, math.sqrt(2 / (1 + 1 / r)), 1e-12)


def test_independent_noise_ceiling_near_zero():
    rng = np.random.default_rng(3)
    T = 4000
    rhos, ccs = [], []
    for _ in range(20):
        y = torch.tensor(rng.normal(size=(8, T)))
        rho = as_float(M.half_split_correlation(y))
        assert abs(rho) < 5 / math.sqrt(T)
        cc = as_float(M.ccmax(y))
        assert math.isnan(cc) == (rho < 0)
        if not math.isnan(cc):
            ccs.append(cc)
        rhos.append(rho)
    assert abs(np.mean(rhos)) < 4 / math.sqrt(T * 20)
    assert max(ccs) < math.sqrt(2 * 5 / math.sqrt(T))  # sqrt(2 rho / (1 + rho)) with rho < 5/sqrt(T)


def test_ccmax_of_known_signal_matches_theory():
    # reliability of the R-trial mean: P(s) / (P(s) + sigma^2 / R); CCmax is its square root
    rng = np.random.default_rng(8)
    R, T, sigma = 10, 3000, 3.0
    sig = rng.normal(size=T)
    y = torch.tensor(sig + sigma * rng.normal(size=(R, T)))
    p = np.var(sig)
    want = math.sqrt(p / (p + sigma**2 / R))
    assert abs(as_float(M.ccmax(y)) - want) < 0.03
