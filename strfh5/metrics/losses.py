"""Training losses on ``neural_collate`` batches that ignore missing (NaN or masked) entries."""

from __future__ import annotations

import torch

from ..errors import MetricError


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
