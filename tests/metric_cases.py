"""What the metric tests share: synthetic signal-plus-noise responses, a tolerant comparison, NaN-padded batches."""

from __future__ import annotations

import itertools
import math

import torch

TOL = 1e-6


def signal_noise(rng, R, T, noise=1.0):
    """``(R, T)`` repeats of a gamma-distributed signal plus Gaussian noise, and the signal."""
    sig = rng.gamma(2.0, 1.0, size=T)
    return sig + noise * rng.normal(size=(R, T)), sig


def as_float(x):
    return float(x)


def close(a, b, tol=TOL):
    """``a == b`` within ``tol`` (relative above 1); NaN matches NaN and infinities match exactly."""
    if math.isnan(b):
        return math.isnan(a)
    if math.isinf(b):
        return a == b
    return abs(a - b) <= tol * max(1.0, abs(b))


def collate_batch(rng, B=3, N=4, Rmax=5, Tmax=20):
    """A ``neural_collate``-shaped ``(B, N, Rmax, Tmax)`` NaN-padded Poisson batch and its valid mask."""
    resp = torch.full((B, N, Rmax, Tmax), float("nan"))
    for b, n in itertools.product(range(B), range(N)):
        if (b + n) % 5 == 4:
            continue
        R, T = int(rng.integers(1, Rmax + 1)), int(rng.integers(5, Tmax + 1))
        resp[b, n, :R, :T] = torch.tensor(rng.poisson(2.0, size=(R, T)), dtype=torch.float32)
    return resp, ~torch.isnan(resp)
