"""Correlations of traces: Pearson cc (NaN-aware, pooled over stimuli), trial means and cc_norm."""

from __future__ import annotations

import torch

from ..errors import MetricError
from .reliability import ccmax
from .splits import DEFAULT_MAX_ITERS
from .validity import apply_mask, as_float64, pred_and_responses, prepare_responses, stimulus_list


def trial_mean(responses, mask=None) -> torch.Tensor:
    """Trial-averaged response ``(..., T)``: mean over the valid repeats.

    NaN on bins that are not valid (see :mod:`strfh5.metrics`) and for
    elements without data.
    """
    c = prepare_responses(responses, mask)
    Y = apply_mask(as_float64(responses, "responses"), mask, "responses")
    valid = c.row_valid[..., None] & c.bin_valid[..., None, :]
    s = torch.where(valid, Y, torch.zeros((), dtype=Y.dtype)).sum(-2)
    out = s / c.R.clamp(min=1)[..., None]
    return torch.where(c.bin_valid, out, torch.full_like(out, float("nan")))


def _xy_moments(x, y, mask, name):
    X = as_float64(x, f"{name} x")
    Y = as_float64(y, f"{name} y")
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
    xs, xl = stimulus_list(x, "x")
    ys, yl = stimulus_list(y, "y")
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
    ps, pl = stimulus_list(pred, "pred")
    rs, rl = stimulus_list(responses, "responses")
    if pl != rl or len(ps) != len(rs):
        raise MetricError("normalized_corrcoef: pred and responses must both be tensors or lists of the same length")
    masks = mask if (rl and isinstance(mask, (list, tuple))) else [mask] * len(rs)
    P, Ys = [], []
    for p, y, m in zip(ps, rs, masks):
        p64, y64 = pred_and_responses(p, y, m, "responses")
        P.append(p64)
        Ys.append(y64)
    means = [trial_mean(y) for y in Ys]
    cc = corrcoef(P if pl else P[0], means if pl else means[0])
    if ccmax_value is None:
        cm = ccmax(Ys if rl else Ys[0], max_iters=max_iters, seed=seed)
    else:
        cm = torch.as_tensor(ccmax_value, dtype=torch.float64)
    return cc / cm
