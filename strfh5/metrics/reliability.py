"""Response reliability across repeats: the noise ceiling CCmax (split halves, Spearman-Brown) and TTRC.

:class:`SplitPool` sums the half-split moments over stimuli (per element and
split index); it is shared with :mod:`strfh5.quality`, which pools per neuron.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import MetricError
from .splits import DEFAULT_MAX_ITERS, half_splits, split_moments
from .validity import centred_stimuli, flatten_elements


class SplitPool:
    """Sums over stimuli of the half-split moments, per element and split index.

    ``cross[m, k]``, ``va[m, k]``, ``vb[m, k]`` hold, for element ``m`` and split
    index ``k``, the summed covariance and variances (sums over valid bins) of
    the two half means; a stimulus with ``K_s`` splits contributes its split
    ``k mod K_s`` to index ``k``.  ``kmax[m]`` is the largest ``K_s`` seen.
    """

    def __init__(self, M: int, max_iters: int, seed: int):
        if int(max_iters) < 1:
            raise MetricError(f"max_iters must be >= 1, got {max_iters}")
        self.max_iters, self.seed = int(max_iters), int(seed)
        self.cross = torch.zeros(M, self.max_iters, dtype=torch.float64)
        self.va = torch.zeros_like(self.cross)
        self.vb = torch.zeros_like(self.cross)
        self.kmax = torch.zeros(M, dtype=torch.long)
        self.has_data = torch.zeros(M, dtype=torch.bool)

    def add(self, G: torch.Tensor, row_valid: torch.Tensor, R: torch.Tensor, T: torch.Tensor, index=None):
        """Add one stimulus: ``G`` ``(m, Rm, Rm)`` Gram matrices of centred rows."""
        if index is None:
            index = torch.arange(G.shape[0])
        self.has_data[index[(R >= 1) & (T >= 1)]] = True
        ok = (R >= 2) & (T >= 2)
        for r in torch.unique(R[ok]).tolist():
            sel = torch.nonzero(ok & (R == r)).reshape(-1)
            Gs, rv = G[sel], row_valid[sel]
            if not bool(rv[:, :r].all()):  # valid rows are not a prefix: gather them
                order = torch.argsort((~rv).to(torch.int8), dim=-1, stable=True)[:, :r]
                ar = torch.arange(sel.numel())[:, None, None]
                Gs = Gs[ar, order[:, :, None], order[:, None, :]]
            else:
                Gs = Gs[:, :r, :r]
            cross, va, vb = split_moments(Gs, half_splits(r, self.max_iters, self.seed))
            K = cross.shape[1]
            cols = torch.arange(self.max_iters) % K
            rows = index[sel]
            self.cross[rows] += cross[:, cols]
            self.va[rows] += va[:, cols]
            self.vb[rows] += vb[:, cols]
            self.kmax[rows] = torch.clamp(self.kmax[rows], min=K)

    def rho_half(self) -> torch.Tensor:
        rho = self.cross / torch.sqrt(self.va * self.vb)
        use = torch.arange(self.max_iters)[None, :] < self.kmax[:, None]
        rho = torch.where(use & torch.isfinite(rho), rho, torch.full_like(rho, float("nan")))
        return torch.nanmean(rho, dim=1)

    def ccmax(self) -> torch.Tensor:
        cm = spearman_brown(self.rho_half())
        fallback = self.has_data & (self.kmax == 0)
        cm = torch.where(fallback, torch.ones_like(cm), cm)
        return torch.where(self.has_data, cm, torch.full_like(cm, float("nan")))


def spearman_brown(rho_half: torch.Tensor) -> torch.Tensor:
    """CCmax from the half-split correlation: ``sqrt(2 / (1 + 1/rho))``.

    Written ``sqrt(2 rho / (1 + rho))`` so ``rho = 0`` gives 0.  The
    Spearman-Brown prophecy ``2 rho / (1 + rho)`` is the reliability of the
    mean of all repeats from that of half of them; its square root is the
    correlation between the trial average and the noise-free response (Hsu et
    al. 2004).  Negative ``rho`` (the halves anti-correlate: no measurable
    signal) gives NaN.
    """
    rho = torch.as_tensor(rho_half, dtype=torch.float64)
    out = torch.sqrt(2 * rho / (1 + rho))
    return torch.where(rho >= 0, out, torch.full_like(out, float("nan")))


def _split_pool(responses, max_iters: int, seed: int, mask):
    """A :class:`SplitPool` fed with every stimulus of ``responses``, and the leading shape."""
    cents, lead = centred_stimuli(responses, mask)
    pool = SplitPool(int(np.prod(lead)) if lead else 1, max_iters, seed)
    for c in cents:
        Yc, rv, R, T = flatten_elements(c)
        pool.add(Yc @ Yc.transpose(-1, -2), rv, R, T)
    return pool, lead


def half_split_correlation(responses, max_iters: int = DEFAULT_MAX_ITERS, seed: int = 0, mask=None) -> torch.Tensor:
    """``rho_half``: mean over half-splits of the correlation of the halves' means.

    See :func:`ccmax` for the definition, the splits and the edge cases;
    returns NaN where fewer than 2 repeats or 2 valid bins.
    """
    pool, lead = _split_pool(responses, max_iters, seed, mask)
    return pool.rho_half().reshape(lead)


def ccmax(responses, max_iters: int = DEFAULT_MAX_ITERS, seed: int = 0, mask=None) -> torch.Tensor:
    """Noise ceiling CCmax by split halves and Spearman-Brown (Hsu et al. 2004).

    .. math::

        \\rho_{half} = \\frac{1}{K}\\sum_{k=1}^{K}
            \\mathrm{corr}_t\\big(\\bar y_{A_k}(t), \\bar y_{B_k}(t)\\big),
        \\qquad
        CC_{max} = \\sqrt{\\frac{2}{1 + 1/\\rho_{half}}}

    where ``(A_k, B_k)`` are unordered splits of the repeats into two halves
    and ``bar y_A`` is the mean over the repeats of ``A``.  Each unordered
    split is counted once; all ``K`` splits are enumerated when there are at
    most ``max_iters`` (10 repeats have exactly 126), otherwise ``max_iters``
    distinct splits are drawn at random with ``seed`` (:func:`half_splits`).

    Parameters
    ----------
    responses : Tensor ``(..., R, T)`` or list of them (one per stimulus)
    max_iters : int, default 126
    seed : int, default 0
    mask : bool tensor broadcastable to ``responses``, optional

    Returns
    -------
    Tensor of the leading shape, float64.

    Notes
    -----
    * Odd ``R``: halves of ``(R-1)/2`` and ``(R+1)/2`` repeats (every repeat
      used) and the same factor-2 Spearman-Brown step.
    * ``R = 1`` (or fewer than 2 valid bins): no ceiling can be estimated;
      the result falls back to **1.0** (deepSTRF convention: ``cc_norm`` then
      equals the raw cc).  An element with no data at all gives NaN.
    * Constant responses: the correlations are undefined, result NaN.
      Splits whose correlation is undefined (a constant half mean) are left
      out of the mean; if all are, NaN.
    * ``rho_half < 0``: NaN (no measurable signal); ``rho_half = 0``: 0.
    * Identical repeats: 1.  Independent noise: ``rho_half`` near 0, so
      CCmax is small or NaN.
    * A list of stimuli pools, for each split index ``k``, the half means'
      covariance and variances over stimuli (concatenation of the centred time
      axes) before the correlation; stimulus ``s`` with ``K_s`` splits
      contributes its split ``k mod K_s``, and ``k`` runs to the largest
      ``K_s``.  With the same ``R`` on every stimulus this is exactly CCmax
      of the concatenated, per-stimulus-centred responses.
    """
    pool, lead = _split_pool(responses, max_iters, seed, mask)
    return pool.ccmax().reshape(lead)


def ttrc(responses, mask=None) -> torch.Tensor:
    """Trial-to-trial response correlation: the mean correlation between repeats.

    .. math:: TTRC = \\frac{2}{R(R-1)} \\sum_{r < r'} \\mathrm{corr}_t(y_r, y_{r'})

    Over a list of stimuli, for each pair of repeat indices ``(r, r')`` the
    covariance and the two variances are summed over the stimuli that hold
    both repeats (concatenated, per-stimulus-centred time axes) before the
    correlation; pairs are then averaged.  Pairs whose correlation is
    undefined (a constant repeat) are left out.  NaN where ``R < 2``,
    ``T < 2`` or every pair is undefined.
    """
    cents, lead = centred_stimuli(responses, mask)
    M = int(np.prod(lead)) if lead else 1
    Rm = max(c.Yc.shape[-2] for c in cents)
    cov = torch.zeros(M, Rm, Rm, dtype=torch.float64)
    var = torch.zeros(M, Rm, Rm, dtype=torch.float64)
    used = torch.zeros(M, Rm, Rm, dtype=torch.bool)
    for c in cents:
        Yc, rv, R, T = flatten_elements(c)
        G = Yc @ Yc.transpose(-1, -2)
        r = G.shape[-1]
        ok = (rv & ((R >= 2) & (T >= 2))[:, None]).to(torch.float64)
        both = ok[:, :, None] * ok[:, None, :]
        cov[:, :r, :r] += G * both
        var[:, :r, :r] += torch.diagonal(G, dim1=-2, dim2=-1)[:, :, None] * both
        used[:, :r, :r] |= both > 0
    corr = cov / torch.sqrt(var * var.transpose(-1, -2))
    upper = torch.triu(torch.ones(Rm, Rm, dtype=torch.bool), diagonal=1)
    keep = used & upper & torch.isfinite(corr)
    corr = torch.where(keep, corr, torch.full_like(corr, float("nan")))
    return torch.nanmean(corr.reshape(M, -1), dim=1).reshape(lead)
