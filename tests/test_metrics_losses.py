"""strfh5.metrics.losses: masked losses' values, reductions and NaN-free gradients."""

from __future__ import annotations


import numpy as np
import pytest
import torch

from metric_cases import collate_batch
from strfh5 import metrics as M
from strfh5.errors import MetricError


def test_masked_losses_value_and_nan_free_gradients():
    rng = np.random.default_rng(13)
    resp, vm = collate_batch(rng)
    pred = (torch.rand(3, 4, 20) + 0.1).requires_grad_(True)
    mse = M.masked_mse(pred, resp, vm)
    pois = M.masked_poisson_loss(pred, resp, vm)
    full = pred[:, :, None].expand_as(resp)
    want_mse = ((full - resp) ** 2)[vm].mean()
    want_pois = (full - resp * torch.log(full + 1e-8))[vm].mean()
    assert torch.allclose(mse, want_mse) and torch.allclose(pois, want_pois)
    (mse + pois).backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0
    # a pair without data gets no gradient; bins past every repeat's end neither
    empty_pairs = ~vm.any(-1).any(-1)
    assert empty_pairs.any() and torch.all(pred.grad[empty_pairs] == 0)
    assert torch.all(pred.grad[~vm.any(2)] == 0)
    assert torch.allclose(M.masked_mse(pred, resp, vm, reduction="sum"), ((full - resp) ** 2)[vm].sum())
    none = M.masked_mse(pred, resp, vm, reduction="none")
    assert none.shape == resp.shape and torch.all(none[~vm] == 0)
    logp = torch.log(pred.detach())
    assert torch.allclose(M.masked_poisson_loss(logp, resp, vm, log_input=True), pois.detach(), atol=1e-5)
    # an all-invalid batch: zero loss, still differentiable
    empty = M.masked_mse(pred, torch.full_like(resp, float("nan")))
    assert empty.item() == 0.0 and empty.requires_grad
    with pytest.raises(MetricError, match="reduction"):
        M.masked_mse(pred, resp, vm, reduction="max")
    with pytest.raises(MetricError):
        M.masked_mse(torch.rand(3, 4, 21), resp, vm)
