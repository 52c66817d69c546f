"""Replays of the seed notebooks on generated data of the same shapes (small sizes).

Seed 001 (AA1/AA2 exploration), seed 000 (AA1 + AA2 concatenation) and seed
003 (NAT4 tour): every invariant the notebooks print is checked, for eager and
lazy datasets.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import strfh5
from strfh5 import neural_collate

from _reader_data import aa_like, nat4_like


@pytest.fixture(scope="module")
def aa(tmp_path_factory):
    d = tmp_path_factory.mktemp("aa")
    aa1 = aa_like(d / "aa1.strf.h5", S=12, N=20, F=8, T_range=(60, 100), missing=6, seed=1)
    aa2 = aa_like(d / "aa2.strf.h5", S=15, N=30, F=8, T_range=(50, 90), missing=20, seed=2, prefix="yy",
                  areas=("Field_L", "mld", "OV", "CM"), types=("conspecific", "songrip", "flatrip"), stim_prefix="B")
    return aa1, aa2


@pytest.fixture(scope="module")
def nat4(tmp_path_factory):
    d = tmp_path_factory.mktemp("nat4")
    a1 = nat4_like(d / "a1.strf.h5", n_est=30, n_val=6, N=60, no_val=5, n_auditory=50,
                   animals=(("ARM", 15), ("CRD", 5), ("DRX", 15), ("TNC", 25)), seed=3)
    peg = nat4_like(d / "peg.strf.h5", n_est=30, n_val=6, N=25, no_val=0, n_auditory=20,
                    animals=(("ARM", 25),), seed=4, area="PEG")
    return a1, peg


@pytest.mark.parametrize("lazy", [False, True], ids=["eager", "lazy"])
def test_seed001_aa1_exploration(aa, lazy):
    info = aa[0]
    aa1 = strfh5.load(info["path"], dt_ms=5, lazy=lazy)
    S, N = 12, 20
    # §2 storage
    assert aa1.get_S() == S and aa1.get_N() == N and aa1.dt == 5 and f"{aa1.dt}" == "5"
    assert tuple(aa1.stims[0].shape) == (1, 8, int(info["n_bins"][0]))
    assert [min(s.shape[-1] for s in aa1.stims), max(s.shape[-1] for s in aa1.stims)] == \
        [int(info["n_bins"].min()), int(info["n_bins"].max())]
    assert tuple(aa1.responses[0][0].shape) == (len(info["spikes"][0][0]), int(info["n_bins"][0]))
    assert aa1.stim_meta[0] == info["stim_meta"][0] and aa1.nrn_meta[0] == info["nrn_meta"][0]
    assert set(aa1.nrn_meta[0]) == {"cell_id", "animal_id", "area"}
    assert tuple(aa1.nrn_masks.shape) == (S, N) and aa1.nrn_masks.dtype == torch.bool
    assert int(aa1.nrn_masks.sum()) == S * N - 6 == int(info["masks"].sum())
    # §4 a valid pair and its PSTH
    stim_idx, neuron_idx = aa1.nrn_masks.nonzero()[0].tolist()
    assert (stim_idx, neuron_idx) == (0, 0)
    spikes = aa1.responses[stim_idx][neuron_idx]
    psth = spikes.mean(dim=0)
    assert psth.shape == (spikes.shape[-1],) and not torch.isnan(psth).any()
    # §6 selection
    aa1.select_pop_by_nrn_attr("area", "MLd")
    assert len(aa1.I) == N // 2
    mld = np.array([m["area"] == "MLd" for m in info["nrn_meta"]])
    assert len(aa1) == int(info["masks"][:, mld].any(axis=1).sum())
    # §6.1 one neuron: len == its coverage, IndexError past the end, raw access unfiltered
    sparse = int(np.argmin(info["masks"].sum(axis=0)))
    aa1.select_neuron(sparse)
    cov = int(aa1.nrn_masks[:, sparse].sum())
    assert len(aa1) == cov
    first = int(np.flatnonzero(info["masks"][:, sparse])[0])
    assert aa1[0][3] == aa1.stim_meta[first]
    with pytest.raises(IndexError):
        aa1[len(aa1)]
    assert aa1.stims[0].shape[-1] == int(info["n_bins"][0])
    # §7 DataLoader
    aa1.select_neuron(neuron_idx)
    batch = next(iter(DataLoader(aa1, batch_size=4, shuffle=False, collate_fn=neural_collate)))
    stims, responses, valid_mask, stim_metas = batch["stims"], batch["responses"], batch["valid_mask"], batch["stim_meta"]
    iter_stims = [s for s in range(S) if info["masks"][s, neuron_idx]][:4]
    T_max = max(int(info["n_bins"][s]) for s in iter_stims)
    R_max = max(len(info["spikes"][s][neuron_idx]) for s in iter_stims)
    assert tuple(stims.shape) == (4, 1, 8, T_max)
    assert tuple(responses.shape) == tuple(valid_mask.shape) == (4, 1, R_max, T_max)
    assert stim_metas == [aa1.stim_meta[s] for s in iter_stims]
    assert [int((~valid_mask[b].any(dim=(1, 2))).sum()) for b in range(4)] == [0, 0, 0, 0]
    assert int(valid_mask.sum()) == int((~responses.isnan()).sum())
    assert "AudioNeuralDataset(N_neurons=20, selected=1, N_stims=12, dt_ms=5" in repr(aa1)


@pytest.mark.parametrize("lazy", [False, True], ids=["eager", "lazy"])
def test_seed000_concatenation(aa, lazy):
    aa1 = strfh5.load(aa[0]["path"], dt_ms=5, lazy=lazy)
    aa2 = strfh5.load(aa[1]["path"], dt_ms=5, lazy=lazy)
    assert aa1.F == aa2.F == 8 and aa1.dt == aa2.dt == 5
    combined = strfh5.concat_neural_datasets([aa1, aa2])
    alt = aa1 + aa2
    assert combined.N_neurons == alt.N_neurons == 50 and combined.get_S() == alt.get_S() == 27
    assert type(combined).__name__ == "AudioNeuralDataset"
    assert repr(combined).startswith("AudioNeuralDataset(N_neurons=50, selected=0, N_stims=27, dt_ms=5")
    assert int(combined.nrn_masks.sum()) == int(aa1.nrn_masks.sum()) + int(aa2.nrn_masks.sum())
    assert not combined.nrn_masks[:12, 20:].any() and not combined.nrn_masks[12:, :20].any()
    assert combined.nrn_meta[3] == aa1.nrn_meta[3] and combined.nrn_meta[25] == aa2.nrn_meta[5]
    combined.select_pop_by_nrn_attr("area", "MLd")
    assert len(combined.I) == 10  # AA2 spells it 'mld'
    mld = [n for n, m in enumerate(combined.nrn_meta) if m["area"].lower() == "mld"]
    combined.select_population(mld)
    assert len(combined.I) == 10 + sum(m["area"] == "mld" for m in aa2.nrn_meta)
    # §4.5 iteration follows the selection
    combined.select_population(list(range(combined.N_neurons)))
    assert len(combined) == 27
    combined.select_population(list(range(aa1.N_neurons)))
    assert len(combined) == 12
    assert combined[0][3] == aa1.stim_meta[0] and combined[-1][3] == aa1.stim_meta[11]
    with pytest.raises(IndexError):
        combined[aa1.get_S()]
    combined.select_population(list(range(aa1.N_neurons, combined.N_neurons)))
    assert len(combined) == 15 and combined[0][3] == aa2.stim_meta[0]
    # §5 DataLoader: block-diagonal valid_mask
    combined.select_population(list(range(min(combined.N_neurons, 32))))
    batch = next(iter(DataLoader(combined, batch_size=4, shuffle=False, collate_fn=neural_collate)))
    assert batch["responses"].shape[:2] == (4, 32)
    assert int(batch["valid_mask"].sum()) == int((~batch["responses"].isnan()).sum())
    assert not batch["valid_mask"][:, 20:].any()  # AA2 neurons never heard AA1 stims
    # §6 refused mismatches
    aa2_10 = strfh5.load(aa[1]["path"], dt_ms=10, lazy=lazy)
    with pytest.raises(strfh5.errors.IncompatibleDatasetsError, match="dt"):
        aa1 + aa2_10


@pytest.mark.parametrize("lazy", [False, True], ids=["eager", "lazy"])
def test_seed003_nat4_tour(nat4, lazy):
    info, peg_info = nat4
    S, N, n_val, no_val = 36, 60, 6, 5
    ds = strfh5.load(info["path"], lazy=lazy)
    # §1
    assert ds.N_neurons == N and len(ds.stims) == S
    counts = Counter(m["subset"] for m in ds.stim_meta)
    assert counts["est"] == 30 and counts["val"] == n_val
    assert tuple(ds.stims[0].shape) == (1, 18, 150) and ds.dt == 10.0 and f"{ds.dt}" == "10.0"
    # §2
    n_auditory = sum(1 for n in ds.nrn_meta if n["auditory"])
    assert n_auditory == 50
    animals = Counter(n["animal"] for n in ds.nrn_meta)
    assert dict(animals) == {"ARM": 15, "CRD": 5, "DRX": 15, "TNC": 25}
    # §3 coverage
    masks = ds.nrn_masks
    assert masks.sum().item() == S * N - no_val * n_val
    val_idx = [s for s in range(S) if ds.stim_meta[s]["subset"] == "val"]
    has_val = masks[val_idx].any(dim=0)
    assert has_val.sum().item() == N - no_val
    # §4 a val stim heard by an auditory cell
    auditory = [i for i, n in enumerate(ds.nrn_meta) if n["auditory"]]
    stim_idx, cell_idx = next((s, c) for c in auditory for s in val_idx
                              if not ds.responses[s][c].isnan().all())
    assert cell_idx == next(c for c in auditory if info["has_val"][c]) and stim_idx == val_idx[0]
    assert tuple(ds.responses[stim_idx][cell_idx].shape) == (20, 150)
    # §5 bidirectional rule
    ds.select_stims_by_attr("subset", "val")
    assert len(ds.S_sel) == n_val and len(ds._selected()) == N - no_val
    item = ds[0]
    assert tuple(item["stims"].shape) == (1, 18, 150) and len(item["responses"]) == N - no_val
    assert item["stim_meta"]["subset"] == "val"
    ds.reset_stim_selection()
    ds.reset_pop_selection()
    # §6 population filtering
    ds.select_pop_by_nrn_attr("auditory", True)
    assert len(ds._selected()) == n_auditory
    ds.reset_pop_selection()
    ds.select_pop_by_nrn_attr("animal", "ARM")
    assert len(ds._selected()) == 15
    ds.reset_pop_selection()
    # §7 valid_mask
    ds.select_stims_by_attr("subset", "val")
    ds.select_pop_by_nrn_attr("auditory", True)
    n_vis = int((info["auditory"] & info["has_val"]).sum())
    batch = next(iter(DataLoader(ds, batch_size=4, shuffle=False, collate_fn=neural_collate)))
    assert tuple(batch["stims"].shape) == (4, 1, 18, 150)
    assert tuple(batch["responses"].shape) == (4, n_vis, 20, 150)
    assert batch["responses"].isnan().sum().item() == 0
    assert batch["valid_mask"].sum().item() == batch["responses"].numel()
    ds.reset_stim_selection()
    ds.reset_pop_selection()
    # §8/§9 PEG and cross-area concatenation
    peg = strfh5.load(peg_info["path"], lazy=lazy)
    assert peg.nrn_masks.sum().item() == peg.nrn_masks.numel()
    joint = strfh5.concat_neural_datasets([ds, peg])
    assert joint.N_neurons == N + 25 and len(joint.stims) == 2 * S
    assert joint.nrn_masks.sum().item() == ds.nrn_masks.sum().item() + peg.nrn_masks.sum().item()
