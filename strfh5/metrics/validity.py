"""Inputs of the metrics: conversion to float64, masks, NaN validity rules, per-stimulus centring.

The rules (documented in :mod:`strfh5.metrics`): a repeat is valid when it
holds a non-NaN value, a bin when it is non-NaN in every valid repeat; masks
act as NaN.  :class:`CenteredResponses` applies them to one stimulus's
``(..., R, T)`` responses and centres every valid repeat on its own mean, the
form every pooled statistic starts from.  These helpers are package-internal
(also used by :mod:`strfh5.quality`); the public names live in
:mod:`strfh5.metrics`.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import MetricError

def as_float64(x, name: str) -> torch.Tensor:
    """``x`` (tensor, array or nested sequence) as a detached float64 tensor; ``name`` for the error."""
    if isinstance(x, torch.Tensor):
        return x.detach().to(torch.float64)
    try:
        return torch.as_tensor(np.asarray(x, dtype=np.float64))
    except (TypeError, ValueError):
        raise MetricError(f"{name} must be a numeric tensor or array, got {type(x).__name__}") from None


def stimulus_list(x, name: str) -> tuple[list, bool]:
    """``(items, is_list)``: a list/tuple of per-stimulus inputs as a list, one input as ``[x]``."""
    if isinstance(x, (list, tuple)):
        if not x:
            raise MetricError(f"{name} is an empty list of stimuli")
        return list(x), True
    return [x], False


def apply_mask(Y: torch.Tensor, mask, name: str) -> torch.Tensor:
    """``Y`` with NaN where the bool ``mask`` (broadcast to ``Y``) is False; ``Y`` itself without a mask."""
    if mask is None:
        return Y
    m = torch.as_tensor(mask, dtype=torch.bool)
    try:
        m = torch.broadcast_to(m, Y.shape)
    except RuntimeError:
        raise MetricError(f"mask of shape {tuple(m.shape)} does not broadcast to {name} {tuple(Y.shape)}") from None
    return Y.masked_fill(~m, float("nan"))


class CenteredResponses:
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
        """Gram matrices of the centred repeats (sums over valid bins): ``(..., R, R)``."""
        return self.Yc @ self.Yc.transpose(-1, -2)

    def mean_trace(self) -> torch.Tensor:
        """Trial-averaged response, centred, zero on invalid bins: ``(..., T)``."""
        return self.Yc.sum(-2) / self.R.clamp(min=1)[..., None]


def prepare_responses(y, mask, name="responses") -> CenteredResponses:
    """One stimulus's ``(..., R, T)`` responses, masked, validated and centred."""
    Y = apply_mask(as_float64(y, name), mask, name)
    if Y.ndim < 2:
        raise MetricError(f"{name} must have shape (..., R, T), got {tuple(Y.shape)}")
    return CenteredResponses(Y)


def common_leading_shape(shapes: list[tuple], name: str) -> tuple:
    """The leading (batch) shape every stimulus shares; :class:`MetricError` if they differ."""
    lead = shapes[0]
    for s in shapes[1:]:
        if s != lead:
            raise MetricError(f"{name}: stimuli have different leading shapes {lead} and {s}")
    return lead


def centred_stimuli(responses, mask, name="responses"):
    """``(centred, lead)``: one :class:`CenteredResponses` per stimulus and their common leading shape."""
    items, is_list = stimulus_list(responses, name)
    masks = mask if (is_list and isinstance(mask, (list, tuple))) else [mask] * len(items)
    if len(masks) != len(items):
        raise MetricError(f"{len(masks)} masks for {len(items)} stimuli in {name}")
    cents = []
    for i, (y, m) in enumerate(zip(items, masks)):
        c = prepare_responses(y, m, f"{name}[{i}]" if is_list else name)
        cents.append(c)
    lead = common_leading_shape([tuple(c.Yc.shape[:-2]) for c in cents], name)
    return cents, lead


def flatten_elements(c: CenteredResponses):
    """``(Yc, row_valid, R, T)`` with the leading axes flattened to one element axis ``M``."""
    R_, T_ = c.Yc.shape[-2:]
    return (
        c.Yc.reshape(-1, R_, T_),
        c.row_valid.reshape(-1, R_),
        c.R.reshape(-1),
        c.T.reshape(-1),
    )


def pred_and_responses(pred, responses, mask, name):
    """``(pred, responses)`` as float64, with the bins where ``pred`` is NaN masked out of the responses too."""
    P = as_float64(pred, "pred")
    Y = apply_mask(as_float64(responses, name), mask, name)
    if Y.ndim < 2:
        raise MetricError(f"{name} must have shape (..., R, T), got {tuple(Y.shape)}")
    if P.shape[-1] != Y.shape[-1]:
        raise MetricError(f"pred has {P.shape[-1]} time bins, {name} {Y.shape[-1]}")
    try:
        Y = Y.masked_fill(torch.isnan(P)[..., None, :], float("nan"))
    except RuntimeError:
        raise MetricError(f"pred of shape {tuple(P.shape)} does not match {name} {tuple(Y.shape)} (..., R, T)") from None
    return P, Y
