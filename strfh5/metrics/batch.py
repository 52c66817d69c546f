"""Metrics on ``neural_collate`` batches: per-(b, n) cc and cc_norm of ``(B, N, R, T)`` responses."""

from __future__ import annotations

import torch

from ..errors import MetricError
from .correlation import corrcoef, normalized_corrcoef, trial_mean
from .splits import DEFAULT_MAX_ITERS


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
