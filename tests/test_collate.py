"""neural_collate: padding, valid_mask, every modality, both item forms."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import strfh5
from strfh5.collate import Batch, neural_collate
from strfh5.errors import StrfH5Error


def _check_batch(batch, items):
    B = len(items)
    N = len(items[0]["responses"])
    R_max = max(t.shape[0] for it in items for t in it["responses"])
    T_max = max(t.shape[-1] for it in items for t in it["responses"])
    resp, mask = batch["responses"], batch["valid_mask"]
    assert tuple(resp.shape) == (B, N, R_max, T_max) and resp.dtype == torch.float32
    assert mask.dtype == torch.bool and mask.shape == resp.shape
    assert int(mask.sum()) == int((~torch.isnan(resp)).sum())
    for b, it in enumerate(items):
        x = it["stims"]
        assert torch.equal(batch["stims"][b, ..., : x.shape[-1]], x)
        assert not batch["stims"][b, ..., x.shape[-1]:].any()
        for n, t in enumerate(it["responses"]):
            if t.shape == (1, 1) and torch.isnan(t).all():
                assert not mask[b, n].any()
                continue
            assert torch.equal(resp[b, n, : t.shape[0], : t.shape[1]], t)
            assert mask[b, n, : t.shape[0], : t.shape[1]].all()
            assert int(mask[b, n].sum()) == t.numel()
    assert batch["stim_meta"] == [it["stim_meta"] for it in items]
    assert batch["stim_indices"].tolist() == [it["stim_index"] for it in items]
    assert batch[0] is batch["stims"] and batch[2] is batch["valid_mask"] and batch[3] is batch["stim_meta"]


def _spectro(tmp_path=None):
    rng = np.random.default_rng(0)
    Ts = [7, 9, 5]
    stims = [rng.random((1, 2, T), dtype=np.float32) for T in Ts]
    resp = [[rng.integers(0, 4, (1 + (s * 3 + n) % 4, T)) if (s + n) % 3 else None for n in range(4)]
            for s, T in enumerate(Ts)]
    return strfh5.from_lists(stims, resp, dt_ms=5, stim_meta=[{"i": s} for s in range(3)])


def test_collate_spectrogram_eager_and_lazy(tmp_path):
    ds = _spectro()
    items = [ds[i] for i in range(len(ds))]
    batch = neural_collate(items)
    assert isinstance(batch, Batch)
    assert tuple(batch["stims"].shape) == (3, 1, 2, 9)
    _check_batch(batch, items)
    lazy = strfh5.load(strfh5.save(ds, tmp_path / "a.strf.h5"), lazy=True)
    lb = neural_collate([lazy[i] for i in range(len(lazy))])
    for k in ("stims", "responses", "valid_mask"):
        assert torch.equal(torch.nan_to_num(batch[k].float(), -1), torch.nan_to_num(lb[k].float(), -1))
    # plain lists of tensors (edited items / deepSTRF tuples) take the generic path
    plain = [dict(it, responses=list(it["responses"])) for it in items]
    _check_batch(neural_collate(plain), items)
    tup = [(it["stims"], list(it["responses"]), it["stim_meta"]) for it in items]
    tb = neural_collate(tup)
    assert torch.equal(tb["valid_mask"], batch["valid_mask"]) and tb["stim_meta"] == batch["stim_meta"]


def test_collate_waveform_and_video():
    rng = np.random.default_rng(1)
    wav = [rng.standard_normal((1, n)).astype(np.float32) for n in (160, 200)]
    ds = strfh5.from_lists(wav, spike_times=[[[np.array([1.0])], None], [[np.array([2.0])] * 3, [np.array([])]]],
                           dt_ms=5, n_bins=[4, 6], sample_rates=[8000.0] * 2)
    items = [ds[0], ds[1]]
    b = neural_collate(items)
    assert tuple(b["stims"].shape) == (2, 1, 200) and tuple(b["responses"].shape) == (2, 2, 3, 6)
    _check_batch(b, items)
    vids = [rng.random((1, 3, 4, T), dtype=np.float32) for T in (5, 8)]
    vds = strfh5.from_lists(vids, [[np.ones((2, 5))], [np.ones((1, 8))]], dt_ms=10)
    assert isinstance(vds, strfh5.VideoNeuralDataset)
    items = [vds[0], vds[1]]
    vb = neural_collate(items)
    assert tuple(vb["stims"].shape) == (2, 1, 3, 4, 8) and tuple(vb["responses"].shape) == (2, 1, 2, 8)
    _check_batch(vb, items)


def test_collate_errors():
    ds = _spectro()
    a, b = ds[0], ds[1]
    with pytest.raises(StrfH5Error, match="empty"):
        neural_collate([])
    b2 = dict(b, responses=list(b["responses"])[:2])
    with pytest.raises(StrfH5Error, match="same neuron selection"):
        neural_collate([a, b2])
    b3 = dict(b, stims=torch.zeros(1, 3, 4))
    with pytest.raises(StrfH5Error, match="non-time axes"):
        neural_collate([a, b3])


def test_dataloader_batches():
    from torch.utils.data import DataLoader

    ds = _spectro()
    ds.select_population([1, 2])
    batches = list(DataLoader(ds, batch_size=2, collate_fn=strfh5.neural_collate))
    assert sum(b["responses"].shape[0] for b in batches) == len(ds)
    assert all(b["responses"].shape[1] == 2 for b in batches)
    assert batches[0]["neuron_indices"].tolist() == [[1, 2], [1, 2]]
