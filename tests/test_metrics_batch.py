"""strfh5.metrics.batch: per-(b, n) cc and cc_norm of neural_collate batches against the loop oracles."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

import reference_metrics as ref
from metric_cases import as_float, close, collate_batch
from strfh5 import metrics as M
from strfh5.errors import MetricError


def test_batch_corrcoef_and_cc_norm_per_pair():
    rng = np.random.default_rng(12)
    resp, vm = collate_batch(rng)
    pred = torch.rand(3, 4, 20)
    cc = M.batch_corrcoef(pred, resp, vm)
    ccn = M.batch_normalized_corrcoef(pred, resp, vm)
    assert cc.shape == ccn.shape == (3, 4)
    for b, n in itertools.product(range(3), range(4)):
        y = resp[b, n].double().numpy()
        blk = ref.valid_block(y)
        if not blk.size:
            assert math.isnan(as_float(cc[b, n]))
            continue
        T = blk.shape[1]
        want = ref.ref_corrcoef([pred[b, n, :T].double().numpy()], [blk.mean(0)])
        assert close(as_float(cc[b, n]), want)
        assert close(as_float(ccn[b, n]), want / ref.ref_ccmax([y]))
    assert torch.allclose(M.batch_corrcoef(pred[:, :, None], resp, vm), cc, equal_nan=True)  # (B, N, 1, T) model output
    ceil = torch.full((4,), 0.5)
    assert torch.allclose(M.batch_normalized_corrcoef(pred, resp, vm, ccmax_value=ceil), cc / 0.5, equal_nan=True)
    with pytest.raises(MetricError):
        M.batch_corrcoef(torch.rand(3, 4, 19), resp, vm)
    with pytest.raises(MetricError):
        M.batch_corrcoef(torch.rand(3, 4, 2, 20), resp, vm)


def test_neural_collate_batch_end_to_end():
    import strfh5
    from strfh5.collate import neural_collate

    rng = np.random.default_rng(14)
    stims = [rng.random((1, 4, T)).astype(np.float32) for T in (12, 20)]
    resp = [[rng.poisson(1.0, size=(R, stims[s].shape[-1])) for R in (2, 5)] for s in range(2)]
    resp[1][0] = None
    ds = strfh5.from_lists(stims, resp, dt_ms=5)
    batch = neural_collate([ds[0], ds[1]])
    B, N, R, T = batch["responses"].shape if isinstance(batch, dict) else batch.responses.shape
    responses = batch["responses"]
    vm = batch["valid_mask"]
    pred = torch.rand(B, N, T)
    cc = M.batch_corrcoef(pred, responses, vm)
    assert cc.shape == (B, N)
    assert torch.isfinite(M.masked_poisson_loss(pred, responses, vm))
