"""Half-splits of repeats: enumeration or seeded sampling, and the moments of split halves.

:func:`half_splits` fixes which splits :func:`strfh5.metrics.ccmax` averages
over; :func:`split_moments` computes, from the Gram matrix of an element's
centred repeats, the covariance and variances of the two half means of every
split at once (package-internal, shared with :mod:`strfh5.quality`).
"""

from __future__ import annotations

import itertools
import math
from functools import lru_cache

import numpy as np
import torch

from ..errors import MetricError

#: default number of half-splits: C(10, 5) / 2, every split of 10 repeats
DEFAULT_MAX_ITERS = 126  # C(10, 5) / 2: every split of 10 repeats


def n_half_splits(R: int) -> int:
    """Number of unordered splits of ``R`` repeats into two halves.

    Even ``R``: ``C(R, R/2) / 2``; odd ``R``: ``C(R, (R-1)/2)`` (halves of
    ``(R-1)/2`` and ``(R+1)/2`` repeats, every repeat used); ``R < 2``: 0.
    """
    R = int(R)
    if R < 2:
        return 0
    if R % 2 == 0:
        return math.comb(R - 1, R // 2 - 1)
    return math.comb(R, (R - 1) // 2)


@lru_cache(maxsize=256)
def _half_splits_np(R: int, max_iters: int, seed: int) -> np.ndarray:
    total = n_half_splits(R)
    if total == 0:
        return np.zeros((0, R), dtype=bool)
    if total <= max_iters:
        if R % 2 == 0:
            combos = ((0,) + c for c in itertools.combinations(range(1, R), R // 2 - 1))
        else:
            combos = itertools.combinations(range(R), (R - 1) // 2)
        out = np.zeros((total, R), dtype=bool)
        for k, c in enumerate(combos):
            out[k, list(c)] = True
        return out
    rng = np.random.default_rng([int(seed), int(R)])
    size = R // 2  # even: the half holding repeat 0; odd: the smaller half
    seen = set()
    rows = []
    while len(rows) < max_iters:
        perm = rng.permutation(R)
        half = np.zeros(R, dtype=bool)
        half[perm[:size]] = True
        if R % 2 == 0 and not half[0]:
            half = ~half
        key = half.tobytes()
        if key in seen:
            continue
        seen.add(key)
        rows.append(half)
    return np.stack(rows)


def half_splits(R: int, max_iters: int = DEFAULT_MAX_ITERS, seed: int = 0) -> torch.Tensor:
    """The half-splits of ``R`` repeats used by :func:`ccmax`.

    Parameters
    ----------
    R : int
        Number of repeats.
    max_iters : int
        When the number of unordered splits :func:`n_half_splits` is at most
        ``max_iters`` every split is enumerated (lexicographic order);
        otherwise ``max_iters`` distinct splits are drawn at random.
    seed : int
        Seed of the random draw (combined with ``R``), so results are
        reproducible and identical for every element with the same ``R``.

    Returns
    -------
    torch.Tensor
        ``(K, R)`` bool, ``True`` for the repeats of half A of each split.
        Even ``R``: half A holds repeat 0 and ``R/2`` repeats (each unordered
        split once); odd ``R``: half A is the smaller half, ``(R-1)/2`` repeats.
    """
    if int(max_iters) < 1:
        raise MetricError(f"max_iters must be >= 1, got {max_iters}")
    return torch.from_numpy(_half_splits_np(int(R), int(max_iters), int(seed)).copy())


def split_moments(G: torch.Tensor, splits: torch.Tensor, chunk: int = 256):
    """Covariance and variances (sums over bins) of the half means of each split.

    With ``u`` the indicator of half A, ``1`` the all-ones vector and ``G`` the
    Gram matrix of the centred repeats, the half sums have cross product
    ``u'G(1-u)``, and squared norms ``u'Gu`` and ``(1-u)'G(1-u)``; dividing by
    the half sizes gives the moments of the half *means*.
    """
    u = splits.to(torch.float64)  # (K, r)
    r = u.shape[1]
    a = u.sum(1)  # (K,)
    b = r - a
    uu = (u[:, :, None] * u[:, None, :]).reshape(u.shape[0], r * r)  # (K, r*r): u'Gu = vec(G) . vec(uu')
    outs = []
    for i in range(0, G.shape[0], chunk):
        g = G[i : i + chunk]
        g1 = g.sum(-1)  # (n, r)
        tot = g1.sum(-1, keepdim=True)  # (n, 1)
        uG1 = g1 @ u.T  # (n, K)
        uGu = g.reshape(g.shape[0], r * r) @ uu.T  # (n, K), one GEMM
        outs.append(((uG1 - uGu) / (a * b), uGu / a**2, (tot - 2 * uG1 + uGu) / b**2))
    return tuple(torch.cat(t, 0) for t in zip(*outs))
