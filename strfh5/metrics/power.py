"""Sahani-Linden signal and noise power, SNR, and the normalised predictive power of a model.

:class:`PowerPool` holds length-weighted sums over stimuli (shared with
:mod:`strfh5.quality`, which pools per neuron).
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import MetricError
from .validity import CenteredResponses, centred_stimuli, flatten_elements, pred_and_responses, stimulus_list

#: noise power below this fraction of the total power is rounding error, taken as 0
ROUNDING = 1e-12


class PowerPool:
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


def _power_pool(responses, mask):
    cents, lead = centred_stimuli(responses, mask)
    M = int(np.prod(lead)) if lead else 1
    pool = PowerPool(M)
    for c in cents:
        Yc, rv, R, T = flatten_elements(c)
        pool.add(Yc @ Yc.transpose(-1, -2), R, T)
    return pool, lead


def signal_power(responses, mask=None) -> torch.Tensor:
    """Sahani-Linden signal power ``SP = (R P(bar y) - mean_r P(y_r)) / (R - 1)``.

    ``P(x)`` is the power of a trace about its mean, ``(1/T) sum_t (x_t -
    mean x)^2``; ``bar y`` the trial average.  ``SP`` is an unbiased estimate of
    the power of the noise-free response; it equals the mean covariance between
    distinct repeats and can be negative for a noise-dominated neuron.  NaN
    where ``R < 2`` or ``T < 2``.  A list of stimuli is length-weighted
    (see :mod:`strfh5.metrics`).
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
    ps, pl = stimulus_list(pred, "pred")
    rs, rl = stimulus_list(responses, "responses")
    if pl != rl or len(ps) != len(rs):
        raise MetricError("sahani_performance: pred and responses must both be tensors or lists of the same length")
    masks = mask if (rl and isinstance(mask, (list, tuple))) else [mask] * len(rs)
    num = pool = None
    lead = None
    zero = torch.zeros((), dtype=torch.float64)
    for p, y, m in zip(ps, rs, masks):
        P, Y = pred_and_responses(p, y, m, "responses")
        c = CenteredResponses(Y)
        P = torch.broadcast_to(P, c.Yc.shape[:-2] + P.shape[-1:])
        if lead is None:
            lead = tuple(c.Yc.shape[:-2])
            M = int(np.prod(lead)) if lead else 1
            pool = PowerPool(M)
            num = torch.zeros(M, dtype=torch.float64)
        elif tuple(c.Yc.shape[:-2]) != lead:
            raise MetricError(f"sahani_performance: stimuli have different leading shapes {lead} and {tuple(c.Yc.shape[:-2])}")
        Yc, rv, R, T = flatten_elements(c)
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
