"""Response-quality and model-performance metrics (torch, NaN-aware, batched).

Every function works on tensors with any number of leading (batch) axes:
responses are ``(..., R, T)`` — repeats by time bins — and predictions or
single traces are ``(..., T)``.  Missing data are NaN, the deepSTRF convention:

* a **repeat** (row) is valid when it holds at least one non-NaN value, so
  ``R`` padded with NaN rows (``neural_collate`` pads ragged repeats that way)
  counts only the real repeats;
* a **time bin** is valid when it is non-NaN in *every* valid repeat, so ``T``
  padded with NaN columns counts only the real bins, and a NaN sample inside a
  continuous recording (a bad EEG sample) drops that bin for the whole element;
* ``mask`` arguments (bool, broadcastable to the data) mark entries to use;
  ``False`` is the same as NaN.

**Across stimuli.** Every function also accepts a *list* of per-stimulus
tensors (same leading axes, any ``R_s`` and ``T_s``) and then returns one value
per element, pooled over the stimuli.  Pooling sums each stimulus's second
moments — covariances and powers about that stimulus's own means — before the
final ratio.  Summing moments weights each stimulus by its number of valid bins
(length-weighting, as deepSTRF's ``compute_neuron_quality``), and is exactly the
metric computed on the concatenation of the stimuli's time axes after each
stimulus's responses are centred on their own (per-repeat) mean.  Centring per
stimulus keeps the result independent of how repeats of different stimuli are
paired and of between-stimulus offsets.  Example::

    snr([y_0, y_1])  ==  snr(torch.cat([y_0 - y_0.mean(-1, keepdim=True),
                                        y_1 - y_1.mean(-1, keepdim=True)], -1))

for ``y_s`` of shape ``(R, T_s)`` with the same ``R``.

All computations run in float64; results are float64 tensors of the leading
shape.  Undefined values are NaN, never an exception: a pair with no data, a
constant response (zero variance), fewer than two valid bins.

References
----------
Sahani M, Linden JF (2003). How linear are auditory cortical responses?
    NIPS 15, 125-132.  (signal and noise power, SNR, predictive power)
Hsu A, Borst A, Theunissen FE (2004). Quantifying variability in neural
    responses and its application for the validation of model predictions.
    Network 15, 91-109.  (CCmax from split halves, Spearman-Brown)
Schoppe O, Harper NS, Willmore BDB, King AJ, Schnupp JWH (2016). Measuring the
    performance of neural models. Front Comput Neurosci 10:10.  (cc_norm)
"""

from __future__ import annotations

import itertools
import math
from functools import lru_cache
from typing import Union

import numpy as np
import torch

from .errors import MetricError

__all__ = [
    "corrcoef",
    "normalized_corrcoef",
    "ccmax",
    "half_split_correlation",
    "spearman_brown",
    "half_splits",
    "n_half_splits",
    "signal_power",
    "noise_power",
    "snr",
    "ttrc",
    "sahani_performance",
    "trial_mean",
    "batch_corrcoef",
    "batch_normalized_corrcoef",
    "masked_mse",
    "masked_poisson_loss",
    "MetricError",
]

Tensorish = Union[torch.Tensor, np.ndarray]
DEFAULT_MAX_ITERS = 126  # C(10, 5) / 2: every split of 10 repeats
#: noise power below this fraction of the total power is rounding error, taken as 0
ROUNDING = 1e-12


# ------------------------------------------------------------------ splits
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


# ------------------------------------------------------------ preparation
def _to64(x, name: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach().to(torch.float64)
    try:
        return torch.as_tensor(np.asarray(x, dtype=np.float64))
    except (TypeError, ValueError):
        raise MetricError(f"{name} must be a numeric tensor or array, got {type(x).__name__}") from None


def _as_list(x, name: str):
    if isinstance(x, (list, tuple)):
        if not x:
            raise MetricError(f"{name} is an empty list of stimuli")
        return list(x), True
    return [x], False


def _apply_mask(Y: torch.Tensor, mask, name: str) -> torch.Tensor:
    if mask is None:
        return Y
    m = torch.as_tensor(mask, dtype=torch.bool)
    try:
        m = torch.broadcast_to(m, Y.shape)
    except RuntimeError:
        raise MetricError(f"mask of shape {tuple(m.shape)} does not broadcast to {name} {tuple(Y.shape)}") from None
    return Y.masked_fill(~m, float("nan"))


class _Centered:
    """One stimulus's responses, validity applied, centred per repeat."""

    __slots__ = ("Yc", "row_valid", "bin_valid", "R", "T")

    def __init__(self, Y: torch.Tensor):
        nan = torch.isnan(Y)
        if Y.shape[-1] > 0 and Y.shape[-2] > 0 and not bool(nan.any()):  # fast path: no missing data
            self.Yc = Y - Y.mean(-1, keepdim=True)
            self.row_valid = torch.ones(Y.shape[:-1], dtype=torch.bool)
            self.bin_valid = torch.ones(Y.shape[:-2] + Y.shape[-1:], dtype=torch.bool)
            self.R = torch.full(Y.shape[:-2], Y.shape[-2], dtype=torch.long)
            self.T = torch.full(Y.shape[:-2], Y.shape[-1], dtype=torch.long)
            return
        row_valid = (~nan).any(-1)  # (..., R)
        bin_valid = (~nan | ~row_valid[..., None]).all(-2) & row_valid.any(-1, keepdim=True)
        valid = row_valid[..., None] & bin_valid[..., None, :]
        Y0 = torch.where(valid, Y, torch.zeros((), dtype=Y.dtype))
        T = bin_valid.sum(-1)
        mean = Y0.sum(-1) / T.clamp(min=1)[..., None]
        self.Yc = torch.where(valid, Y0 - mean[..., None], torch.zeros((), dtype=Y.dtype))
        self.row_valid = row_valid
        self.bin_valid = bin_valid
        self.R = row_valid.sum(-1)
        self.T = T

    def gram(self) -> torch.Tensor:
        return self.Yc @ self.Yc.transpose(-1, -2)

    def mean_trace(self) -> torch.Tensor:
        """Trial-averaged response, centred, zero on invalid bins: ``(..., T)``."""
        return self.Yc.sum(-2) / self.R.clamp(min=1)[..., None]


def _prepare_responses(y, mask, name="responses") -> _Centered:
    Y = _apply_mask(_to64(y, name), mask, name)
    if Y.ndim < 2:
        raise MetricError(f"{name} must have shape (..., R, T), got {tuple(Y.shape)}")
    return _Centered(Y)


def _leading(shapes: list[tuple], name: str) -> tuple:
    lead = shapes[0]
    for s in shapes[1:]:
        if s != lead:
            raise MetricError(f"{name}: stimuli have different leading shapes {lead} and {s}")
    return lead


# ------------------------------------------------------ pooled statistics
class _SplitPool:
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
            cross, va, vb = _split_moments(Gs, half_splits(r, self.max_iters, self.seed))
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


def _split_moments(G: torch.Tensor, splits: torch.Tensor, chunk: int = 256):
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


class _PowerPool:
    """Length-weighted sums of Sahani-Linden signal and noise power.

    Per stimulus, with ``G`` the Gram matrix of the centred repeats (sums over
    the ``T`` valid bins), ``T * SP = (sum(G) - trace(G)) / (R (R - 1))`` (the
    mean cross-repeat covariance) and ``T * NP = trace(G) / R - T * SP``.
    Only stimuli with ``R >= 2`` and ``T >= 2`` contribute.
    """

    def __init__(self, M: int):
        self.tsp = torch.zeros(M, dtype=torch.float64)
        self.tnp = torch.zeros(M, dtype=torch.float64)
        self.t = torch.zeros(M, dtype=torch.float64)

    def add(self, G, R, T, index=None):
        if index is None:
            index = torch.arange(G.shape[0])
        ok = (R >= 2) & (T >= 2)
        Rf = R.to(torch.float64)
        tr = torch.diagonal(G, dim1=-2, dim2=-1).sum(-1)
        tot = G.sum((-1, -2))
        tsp = (tot - tr) / (Rf * (Rf - 1)).clamp(min=1)
        tnp = tr / Rf.clamp(min=1) - tsp
        zero = torch.zeros((), dtype=torch.float64)
        self.tsp.index_add_(0, index, torch.where(ok, tsp, zero))
        self.tnp.index_add_(0, index, torch.where(ok, tnp, zero))
        self.t.index_add_(0, index, torch.where(ok, T.to(torch.float64), zero))

    def signal_power(self):
        return torch.where(self.t > 0, self.tsp / self.t, torch.full_like(self.t, float("nan")))

    def _tnp(self):
        # noise power within rounding of the total power is zero (identical repeats)
        tiny = self.tnp.abs() <= ROUNDING * (self.tsp + self.tnp).abs()
        return torch.where(tiny, torch.zeros_like(self.tnp), self.tnp)

    def noise_power(self):
        return torch.where(self.t > 0, self._tnp() / self.t, torch.full_like(self.t, float("nan")))

    def snr(self):
        out = self.tsp / self._tnp()
        return torch.where(self.t > 0, out, torch.full_like(out, float("nan")))


def _pool_responses(responses, mask, name="responses"):
    """Iterate over stimuli: yields (_Centered flattened to (M, R, T), lead shape)."""
    items, is_list = _as_list(responses, name)
    masks = mask if (is_list and isinstance(mask, (list, tuple))) else [mask] * len(items)
    if len(masks) != len(items):
        raise MetricError(f"{len(masks)} masks for {len(items)} stimuli in {name}")
    cents = []
    for i, (y, m) in enumerate(zip(items, masks)):
        c = _prepare_responses(y, m, f"{name}[{i}]" if is_list else name)
        cents.append(c)
    lead = _leading([tuple(c.Yc.shape[:-2]) for c in cents], name)
    return cents, lead


def _flat(c: _Centered):
    R_, T_ = c.Yc.shape[-2:]
    return (
        c.Yc.reshape(-1, R_, T_),
        c.row_valid.reshape(-1, R_),
        c.R.reshape(-1),
        c.T.reshape(-1),
    )


# ------------------------------------------------------------- public API
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
    """A :class:`_SplitPool` fed with every stimulus of ``responses``, and the leading shape."""
    cents, lead = _pool_responses(responses, mask)
    pool = _SplitPool(int(np.prod(lead)) if lead else 1, max_iters, seed)
    for c in cents:
        Yc, rv, R, T = _flat(c)
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


def _power_pool(responses, mask):
    cents, lead = _pool_responses(responses, mask)
    M = int(np.prod(lead)) if lead else 1
    pool = _PowerPool(M)
    for c in cents:
        Yc, rv, R, T = _flat(c)
        pool.add(Yc @ Yc.transpose(-1, -2), R, T)
    return pool, lead


def signal_power(responses, mask=None) -> torch.Tensor:
    """Sahani-Linden signal power ``SP = (R P(bar y) - mean_r P(y_r)) / (R - 1)``.

    ``P(x)`` is the power of a trace about its mean, ``(1/T) sum_t (x_t -
    mean x)^2``; ``bar y`` the trial average.  ``SP`` is an unbiased estimate of
    the power of the noise-free response; it equals the mean covariance between
    distinct repeats and can be negative for a noise-dominated neuron.  NaN
    where ``R < 2`` or ``T < 2``.  A list of stimuli is length-weighted
    (see the module docstring).
    """
    pool, lead = _power_pool(responses, mask)
    return pool.signal_power().reshape(lead)


def noise_power(responses, mask=None) -> torch.Tensor:
    """Sahani-Linden noise power ``NP = mean_r P(y_r) - SP`` (>= 0).

    Equals ``R / (R - 1) (mean_r P(y_r) - P(bar y))``.  NaN where ``R < 2`` or
    ``T < 2``.
    """
    pool, lead = _power_pool(responses, mask)
    return pool.noise_power().reshape(lead)


def snr(responses, mask=None) -> torch.Tensor:
    """Signal-to-noise ratio ``SP / NP`` (Sahani & Linden 2003).

    Parameters
    ----------
    responses : Tensor ``(..., R, T)`` or list of them (one per stimulus)
    mask : bool tensor broadcastable to ``responses``, optional

    Notes
    -----
    * Over a list of stimuli ``SP`` and ``NP`` are each length-weighted
      (weight = valid bins of the stimulus) before the ratio; stimuli with
      ``R < 2`` or ``T < 2`` are left out.
    * ``R = 1`` everywhere (or no data): NaN — noise power needs two repeats.
    * Identical, non-constant repeats: ``NP = 0`` and SNR ``+inf`` (a noise
      power below :data:`ROUNDING` times the total power is floating-point
      rounding and taken as 0).
    * Constant responses: ``SP = NP = 0``, NaN.
    * Pure noise: ``SP`` near 0, possibly negative, so SNR near 0 or negative.
    """
    pool, lead = _power_pool(responses, mask)
    return pool.snr().reshape(lead)


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
    cents, lead = _pool_responses(responses, mask)
    M = int(np.prod(lead)) if lead else 1
    Rm = max(c.Yc.shape[-2] for c in cents)
    cov = torch.zeros(M, Rm, Rm, dtype=torch.float64)
    var = torch.zeros(M, Rm, Rm, dtype=torch.float64)
    used = torch.zeros(M, Rm, Rm, dtype=torch.bool)
    for c in cents:
        Yc, rv, R, T = _flat(c)
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


def trial_mean(responses, mask=None) -> torch.Tensor:
    """Trial-averaged response ``(..., T)``: mean over the valid repeats.

    NaN on bins that are not valid (see the module docstring) and for
    elements without data.
    """
    c = _prepare_responses(responses, mask)
    Y = _apply_mask(_to64(responses, "responses"), mask, "responses")
    valid = c.row_valid[..., None] & c.bin_valid[..., None, :]
    s = torch.where(valid, Y, torch.zeros((), dtype=Y.dtype)).sum(-2)
    out = s / c.R.clamp(min=1)[..., None]
    return torch.where(c.bin_valid, out, torch.full_like(out, float("nan")))


def _xy_moments(x, y, mask, name):
    X = _to64(x, f"{name} x")
    Y = _to64(y, f"{name} y")
    try:
        X, Y = torch.broadcast_tensors(X, Y)
    except RuntimeError:
        raise MetricError(f"{name}: shapes {tuple(X.shape)} and {tuple(Y.shape)} do not broadcast") from None
    if X.ndim < 1:
        raise MetricError(f"{name}: traces need a time axis, got scalars")
    valid = ~(torch.isnan(X) | torch.isnan(Y))
    if mask is not None:
        m = torch.as_tensor(mask, dtype=torch.bool)
        try:
            valid = valid & torch.broadcast_to(m, valid.shape)
        except RuntimeError:
            raise MetricError(f"{name}: mask of shape {tuple(m.shape)} does not broadcast to {tuple(valid.shape)}") from None
    zero = torch.zeros((), dtype=torch.float64)
    n = valid.sum(-1)
    X0, Y0 = torch.where(valid, X, zero), torch.where(valid, Y, zero)
    nn = n.clamp(min=1).to(torch.float64)[..., None]
    Xc = torch.where(valid, X0 - X0.sum(-1, keepdim=True) / nn, zero)
    Yc = torch.where(valid, Y0 - Y0.sum(-1, keepdim=True) / nn, zero)
    return (Xc * Yc).sum(-1), (Xc * Xc).sum(-1), (Yc * Yc).sum(-1), n


def corrcoef(x, y, mask=None) -> torch.Tensor:
    """Pearson correlation along the last axis, NaN-aware and batched.

    .. math:: cc = \\frac{\\sum_t (x_t-\\bar x)(y_t-\\bar y)}
                        {\\sqrt{\\sum_t (x_t-\\bar x)^2 \\sum_t (y_t-\\bar y)^2}}

    Bins where ``x`` or ``y`` is NaN, or ``mask`` is False, are left out.
    ``x`` and ``y`` broadcast against each other.  Lists of per-stimulus
    traces pool covariance and variances over stimuli (each centred on its own
    mean).  NaN where fewer than 2 valid bins or a trace is constant.
    """
    xs, xl = _as_list(x, "x")
    ys, yl = _as_list(y, "y")
    if xl != yl or len(xs) != len(ys):
        raise MetricError("corrcoef: x and y must both be tensors or both lists of the same length")
    masks = mask if (xl and isinstance(mask, (list, tuple))) else [mask] * len(xs)
    sxy = sxx = syy = None
    n_ok = None
    for a, b, m in zip(xs, ys, masks):
        cxy, cxx, cyy, n = _xy_moments(a, b, m, "corrcoef")
        ok = n >= 2
        zero = torch.zeros((), dtype=torch.float64)
        cxy, cxx, cyy = (torch.where(ok, v, zero) for v in (cxy, cxx, cyy))
        if sxy is None:
            sxy, sxx, syy, n_ok = cxy, cxx, cyy, ok
        else:
            if cxy.shape != sxy.shape:
                raise MetricError(f"corrcoef: stimuli have different leading shapes {tuple(sxy.shape)} and {tuple(cxy.shape)}")
            sxy, sxx, syy, n_ok = sxy + cxy, sxx + cxx, syy + cyy, n_ok | ok
    cc = sxy / torch.sqrt(sxx * syy)
    return torch.where(n_ok & (sxx > 0) & (syy > 0), cc, torch.full_like(cc, float("nan")))


def _pred_mask(pred, responses, mask, name):
    """Responses with the bins where ``pred`` is NaN masked out too."""
    P = _to64(pred, "pred")
    Y = _apply_mask(_to64(responses, name), mask, name)
    if Y.ndim < 2:
        raise MetricError(f"{name} must have shape (..., R, T), got {tuple(Y.shape)}")
    if P.shape[-1] != Y.shape[-1]:
        raise MetricError(f"pred has {P.shape[-1]} time bins, {name} {Y.shape[-1]}")
    try:
        Y = Y.masked_fill(torch.isnan(P)[..., None, :], float("nan"))
    except RuntimeError:
        raise MetricError(f"pred of shape {tuple(P.shape)} does not match {name} {tuple(Y.shape)} (..., R, T)") from None
    return P, Y


def normalized_corrcoef(
    pred, responses, ccmax_value=None, max_iters: int = DEFAULT_MAX_ITERS, seed: int = 0, mask=None
) -> torch.Tensor:
    """``cc_norm = corr(pred, trial average) / CCmax`` (Hsu et al. 2004; Schoppe et al. 2016).

    Parameters
    ----------
    pred : Tensor ``(..., T)`` or list of them
    responses : Tensor ``(..., R, T)`` or list of them (one per stimulus)
    ccmax_value : Tensor, optional
        Precomputed ceiling (e.g. ``nrn_meta['ccmax']``); computed with
        :func:`ccmax` from ``responses`` when omitted.

    Notes
    -----
    Bins where ``pred`` is NaN are dropped from the responses as well.  With
    ``R = 1`` CCmax falls back to 1, so ``cc_norm`` equals the raw cc.  Lists
    pool over stimuli (cc and CCmax alike).  NaN where either is undefined.
    """
    ps, pl = _as_list(pred, "pred")
    rs, rl = _as_list(responses, "responses")
    if pl != rl or len(ps) != len(rs):
        raise MetricError("normalized_corrcoef: pred and responses must both be tensors or lists of the same length")
    masks = mask if (rl and isinstance(mask, (list, tuple))) else [mask] * len(rs)
    P, Ys = [], []
    for p, y, m in zip(ps, rs, masks):
        p64, y64 = _pred_mask(p, y, m, "responses")
        P.append(p64)
        Ys.append(y64)
    means = [trial_mean(y) for y in Ys]
    cc = corrcoef(P if pl else P[0], means if pl else means[0])
    if ccmax_value is None:
        cm = ccmax(Ys if rl else Ys[0], max_iters=max_iters, seed=seed)
    else:
        cm = torch.as_tensor(ccmax_value, dtype=torch.float64)
    return cc / cm


def sahani_performance(pred, responses, mask=None) -> torch.Tensor:
    """Normalised predictive power (Sahani & Linden 2003).

    .. math:: \\frac{P(\\bar y) - P(\\bar y - \\hat y)}{SP}

    ``P`` is the power about the mean (so a constant offset of the prediction
    costs nothing), ``bar y`` the trial average and ``SP`` the signal power of
    :func:`signal_power`.  It equals ``mean_r [P(y_r) - P(y_r - hat y)] / SP``:
    the fraction of the explainable (signal) power the prediction captures; 1
    for a perfect prediction of the noise-free response, and it can exceed 1
    or be negative from sampling error.

    Over a list of stimuli numerator and ``SP`` are length-weighted (stimuli
    with ``R < 2`` or ``T < 2`` left out).  NaN where ``R < 2`` (no signal
    power), or ``SP = 0``.  Bins where ``pred`` is NaN are dropped.
    """
    ps, pl = _as_list(pred, "pred")
    rs, rl = _as_list(responses, "responses")
    if pl != rl or len(ps) != len(rs):
        raise MetricError("sahani_performance: pred and responses must both be tensors or lists of the same length")
    masks = mask if (rl and isinstance(mask, (list, tuple))) else [mask] * len(rs)
    num = pool = None
    lead = None
    zero = torch.zeros((), dtype=torch.float64)
    for p, y, m in zip(ps, rs, masks):
        P, Y = _pred_mask(p, y, m, "responses")
        c = _Centered(Y)
        P = torch.broadcast_to(P, c.Yc.shape[:-2] + P.shape[-1:])
        if lead is None:
            lead = tuple(c.Yc.shape[:-2])
            M = int(np.prod(lead)) if lead else 1
            pool = _PowerPool(M)
            num = torch.zeros(M, dtype=torch.float64)
        elif tuple(c.Yc.shape[:-2]) != lead:
            raise MetricError(f"sahani_performance: stimuli have different leading shapes {lead} and {tuple(c.Yc.shape[:-2])}")
        Yc, rv, R, T = _flat(c)
        pool.add(Yc @ Yc.transpose(-1, -2), R, T)
        ybar = c.mean_trace().reshape(-1, Yc.shape[-1])
        bv = c.bin_valid.reshape(-1, Yc.shape[-1])
        Pf = torch.where(bv, P.reshape(-1, Yc.shape[-1]), zero)
        Pc = torch.where(bv, Pf - Pf.sum(-1, keepdim=True) / T.clamp(min=1)[:, None], zero)
        resid = ybar - Pc
        contrib = (ybar * ybar).sum(-1) - (resid * resid).sum(-1)
        num += torch.where((R >= 2) & (T >= 2), contrib, zero)
    out = num / pool.tsp
    ok = (pool.t > 0) & (pool.tsp != 0)
    return torch.where(ok, out, torch.full_like(out, float("nan"))).reshape(lead)


# ------------------------------------------------- batches of neural_collate
def _batch_args(pred, responses, valid_mask):
    if not isinstance(responses, torch.Tensor):
        responses = torch.as_tensor(responses)
    if responses.ndim != 4:
        raise MetricError(f"responses must be (B, N, R, T) as from neural_collate, got {tuple(responses.shape)}")
    if pred.ndim == 4:
        if pred.shape[2] != 1:
            raise MetricError(f"pred of shape {tuple(pred.shape)}: a 4-D prediction must be (B, N, 1, T)")
        pred = pred[:, :, 0]
    if pred.ndim != 3 or pred.shape[:2] != responses.shape[:2] or pred.shape[-1] != responses.shape[-1]:
        raise MetricError(
            f"pred of shape {tuple(pred.shape)} does not match responses {tuple(responses.shape)}: "
            "expected (B, N, T) or (B, N, 1, T)"
        )
    if valid_mask is None:
        valid_mask = ~torch.isnan(responses)
    elif valid_mask.shape != responses.shape:
        raise MetricError(f"valid_mask of shape {tuple(valid_mask.shape)} does not match responses {tuple(responses.shape)}")
    return pred, responses, valid_mask.to(torch.bool)


def batch_corrcoef(pred, responses, valid_mask=None) -> torch.Tensor:
    """Per-(b, n) correlation of a prediction with the trial-averaged response.

    Parameters
    ----------
    pred : Tensor ``(B, N, T)`` or ``(B, N, 1, T)``
    responses : Tensor ``(B, N, R, T)``, NaN-padded (``neural_collate``)
    valid_mask : bool Tensor ``(B, N, R, T)``, optional
        Defaults to ``~isnan(responses)``.

    Returns
    -------
    Tensor ``(B, N)`` float64; NaN for pairs without data.
    """
    pred, responses, valid_mask = _batch_args(pred, responses, valid_mask)
    return corrcoef(pred, trial_mean(responses, valid_mask))


def batch_normalized_corrcoef(
    pred, responses, valid_mask=None, ccmax_value=None, max_iters: int = DEFAULT_MAX_ITERS, seed: int = 0
) -> torch.Tensor:
    """Per-(b, n) ``cc_norm`` on a ``neural_collate`` batch (see :func:`normalized_corrcoef`).

    ``ccmax_value`` may be a ``(N,)`` tensor of per-neuron ceilings (e.g. from
    ``compute_neuron_quality``), broadcast over the batch.
    """
    pred, responses, valid_mask = _batch_args(pred, responses, valid_mask)
    return normalized_corrcoef(pred, responses, ccmax_value, max_iters=max_iters, seed=seed, mask=valid_mask)


def _reduce(loss, valid, reduction):
    zero = torch.zeros((), dtype=loss.dtype, device=loss.device)
    loss = torch.where(valid, loss, zero)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.sum() / valid.sum().clamp(min=1).to(loss.dtype)
    raise MetricError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _loss_args(pred, responses, valid_mask):
    if not isinstance(responses, torch.Tensor):
        responses = torch.as_tensor(responses)
    if pred.ndim == responses.ndim - 1:
        pred = pred.unsqueeze(-2)
    try:
        shape = torch.broadcast_shapes(pred.shape, responses.shape)
    except RuntimeError:
        raise MetricError(f"pred of shape {tuple(pred.shape)} does not broadcast to responses {tuple(responses.shape)}") from None
    if shape != responses.shape:
        raise MetricError(f"pred of shape {tuple(pred.shape)} does not broadcast to responses {tuple(responses.shape)}")
    valid = ~torch.isnan(responses)
    if valid_mask is not None:
        valid = valid & valid_mask.to(torch.bool)
    y = torch.where(valid, responses, torch.zeros((), dtype=responses.dtype, device=responses.device))
    return pred, y.to(pred.dtype), valid


def masked_mse(pred, responses, valid_mask=None, reduction: str = "mean") -> torch.Tensor:
    """Mean squared error over the valid entries of a ``neural_collate`` batch.

    ``pred`` ``(B, N, T)`` is broadcast over the repeats of ``responses``
    ``(B, N, R, T)`` (a ``(B, N, 1, T)`` or ``(B, N, R, T)`` prediction works
    too).  Invalid entries (NaN or ``valid_mask`` False) contribute neither
    to the loss nor to its gradient.  ``reduction='mean'`` divides by the
    number of valid entries (0 when there are none), ``'sum'`` sums,
    ``'none'`` returns the per-entry losses with 0 on invalid entries.
    """
    pred, y, valid = _loss_args(pred, responses, valid_mask)
    return _reduce((pred - y) ** 2, valid, reduction)


def masked_poisson_loss(
    pred, responses, valid_mask=None, log_input: bool = False, eps: float = 1e-8, reduction: str = "mean"
) -> torch.Tensor:
    """Poisson negative log-likelihood over the valid entries of a batch.

    ``loss = pred - y log(pred + eps)`` (rate prediction) or
    ``exp(pred) - y pred`` with ``log_input=True``, the constant ``log(y!)``
    dropped, as :func:`torch.nn.functional.poisson_nll_loss`.  Shapes,
    masking and reductions as :func:`masked_mse`; gradients are NaN-free even
    where the responses are NaN.
    """
    pred, y, valid = _loss_args(pred, responses, valid_mask)
    loss = torch.nn.functional.poisson_nll_loss(pred, y, log_input=log_input, full=False, eps=eps, reduction="none")
    return _reduce(loss, valid, reduction)
