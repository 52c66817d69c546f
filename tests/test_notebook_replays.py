"""Every code cell of the seed notebooks, run with only the construction lines changed (issue 14, item 5).

The cells of seed 001 (AA1/AA2 exploration), seed 000 (AA1 + AA2 and AA1 + NS1
concatenation), seed 003 (NAT4 tour) and the examples of the API reference
(seed 004) are copied as deepSTRF users run them; only the lines building a
dataset (``CRCNSAA1Dataset(...)`` -> ``strfh5.load(...)``) and the ``deepSTRF``
imports (-> ``strfh5``) differ.  The AA2 role is played by the real CRCNS-AA
cells and NS1 by the real NS1 clusters when ``../shared/data/real`` holds them
(converted here with the project's converters), by simulated stand-ins
otherwise; AA1 and NAT4 are simulated (``strfh5.write_simulated`` presets, small
sizes).  Differences that remain are listed in docs/coming-from-deepstrf.md.
"""

from __future__ import annotations

import inspect
import sys
import warnings
from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader, Subset  # noqa: E402,F401 - imported by the NAT4 notebook

import strfh5  # noqa: E402
from strfh5.utils import concat_neural_datasets, neural_collate, plot_stim_with_response  # noqa: E402

from conftest import real_data_dir  # noqa: E402

#: the spectrogram band count at load (issue 14 item 1) when this strfh5 has it
LOAD_TAKES_BANDS = "n_bands" in inspect.signature(strfh5.load).parameters
DT_MS = 5


def _simulate(path: Path, preset: str | None, **params) -> str:
    return strfh5.write_simulated(path, preset=preset, progress=False, **params)


def _real_aa(real: Path, tmp: Path) -> str:
    from strfh5.converters import convert
    from test_crcns_aa import _real_layout

    out = tmp / "aa2_real.strf.h5"
    convert("crcns-aa2", _real_layout(real, tmp), out, stim_classes=["conspecific"], dt_ms=1.0)
    return str(out)


def _real_ns1(real: Path, tmp: Path) -> str:
    from strfh5.converters import ns1

    out = tmp / "ns1_real.strf.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ns1.convert(real / "ns1", out, partial=True)
    return str(out)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("replays")
    real = real_data_dir()
    aa1_kw = dict(n_stimuli=10, n_neurons=12, n_bins=(60, 100), stim_types={"conspecific": 6, "flatrip": 4},
                  areas={"Field_L": 6, "MLd": 6}, keep_waveform=True)
    out = {"aa1": _simulate(tmp / "aa1.strf.h5", "aa1", **aa1_kw)}
    if not LOAD_TAKES_BANDS:  # the band count is chosen at conversion: a 34-band stand-in for the chimera
        out["aa1_34"] = _simulate(tmp / "aa1_34.strf.h5", "aa1", n_freqs=34, seed=7, **aa1_kw)
    real_aa = real is not None and (real / "crcns-aa" / "all_cells").is_dir()
    real_ns1 = real is not None and (real / "ns1" / "MetadataSHEnCneurons.mat").is_file()
    out["real_aa"], out["real_ns1"] = real_aa, real_ns1
    # AA2 stored at 1 ms (read at 5 ms below), as the real cells are converted here
    out["aa2"] = _real_aa(real, tmp) if real_aa else _simulate(
        tmp / "aa2.strf.h5", "aa2", n_stimuli=10, n_neurons=20, dt_ms=1.0, n_bins=(300, 500),
        stim_types={"conspecific": 4, "flatrip": 3, "songrip": 3}, areas={"MLd": 5, "OV": 5, "Field_L": 6, "CM": 4})
    if not LOAD_TAKES_BANDS:
        out["aa2_64"] = _simulate(tmp / "aa2_64.strf.h5", "aa2", n_stimuli=4, n_neurons=4, n_freqs=64, seed=9,
                                  n_bins=(60, 80), stim_types={"conspecific": 4}, areas={"MLd": 4})
    out["ns1"] = _real_ns1(real, tmp) if real_ns1 else _simulate(
        tmp / "ns1.strf.h5", "demo", n_stimuli=6, n_neurons=10, n_freqs=34, n_val=0, no_val_neurons=0,
        stim_types=("natural",), areas={"A1": 10}, title="NS1 stand-in")
    nat4 = dict(n_stimuli=24, n_val=4, n_bins=150)
    out["nat4_a1"] = _simulate(tmp / "nat4_a1.strf.h5", "nat4-a1", n_neurons=30, no_val_neurons=3,
                               animals={"ARM": 10, "CRD": 5, "DRX": 5, "TNC": 10}, **nat4)
    out["nat4_peg"] = _simulate(tmp / "nat4_peg.strf.h5", "nat4-a1", n_neurons=12, no_val_neurons=0, seed=1,
                                areas=("PEG",), animals={"ARM": 12}, **nat4)
    return out


def _aa1_34(files, lazy=False):
    if LOAD_TAKES_BANDS:
        return strfh5.load(files["aa1"], dt_ms=5, n_bands=34, lazy=lazy)
    return strfh5.load(files["aa1_34"], dt_ms=5, lazy=lazy)


def _aa2_more_mels(files):
    if LOAD_TAKES_BANDS:
        return strfh5.load(files["aa2"], dt_ms=DT_MS, n_bands=64)
    return strfh5.load(files["aa2_64"], dt_ms=DT_MS)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# ------------------------------------------------------------------ seed 001
@pytest.mark.parametrize("lazy", [False, True], ids=["eager", "lazy"])
def test_seed001_exploring_aa1_and_aa2(files, lazy):
    # §1 (construction line changed)
    aa1 = strfh5.load(files["aa1"], areas=("Field_L", "MLd"), stimuli=("conspecific", "flatrip"), dt_ms=DT_MS,
                      lazy=lazy)
    aa1
    # §2
    print(f"S (stimuli) = {aa1.get_S()}")
    print(f"N (neurons) = {aa1.get_N()}")
    print(f"dt = {aa1.dt} ms")
    print()
    print(f"stims[0].shape = {tuple(aa1.stims[0].shape)} (1, F, T_0)")
    print(f"stim T range = [{min(s.shape[-1] for s in aa1.stims)}, "
          f"{max(s.shape[-1] for s in aa1.stims)}] bins")
    print()
    print(f"responses[0][0] shape = {tuple(aa1.responses[0][0].shape)}")
    print(f"stim_meta[0] = {aa1.stim_meta[0]}")
    print(f"nrn_meta[0] = {aa1.nrn_meta[0]}")
    print()
    print(f"nrn_masks.shape = {tuple(aa1.nrn_masks.shape)}, dtype = {aa1.nrn_masks.dtype}")
    print(f"nrn_masks valid = {int(aa1.nrn_masks.sum())} / {aa1.nrn_masks.numel()} "
          f"({100 * aa1.nrn_masks.float().mean().item():.1f}%)")
    assert f"dt = {aa1.dt} ms" == "dt = 5 ms"
    # §3
    stim_idx = 0
    stim = aa1.stims[stim_idx].squeeze(0)  # (F, T)
    meta = aa1.stim_meta[stim_idx]
    fig, ax = plt.subplots(figsize=(8, 3))
    im = ax.imshow(stim.numpy(), aspect="auto", origin="lower", cmap="magma")
    ax.set_xlabel(f"Time (bins of {aa1.dt} ms)")
    ax.set_ylabel("Mel-frequency band")
    ax.set_title(f"Stim {stim_idx}: {meta['type']} — {meta['name']}")
    fig.colorbar(im, ax=ax, label="compressed power")
    plt.tight_layout()
    plt.show()
    # §4
    valid_pairs = aa1.nrn_masks.nonzero()
    stim_idx, neuron_idx = valid_pairs[0].tolist()
    spikes = aa1.responses[stim_idx][neuron_idx]  # (R, T)
    psth = spikes.mean(dim=0)  # (T,)
    time_ms = torch.arange(spikes.shape[-1]) * aa1.dt
    nrn = aa1.nrn_meta[neuron_idx]
    stim_m = aa1.stim_meta[stim_idx]
    fig, (ax0, ax1) = plt.subplots(2, 1, figsize=(8, 4), sharex=True)
    ax0.imshow(spikes.numpy(), aspect="auto", cmap="Greys",
               extent=[0, float(time_ms[-1]), 0, spikes.shape[0]])
    ax0.set_ylabel("Repeat")
    ax0.set_title(f"Neuron {neuron_idx} ({nrn['area']} / {nrn['cell_id']}) "
                  f"→ stim {stim_idx} ({stim_m['type']})")
    ax1.plot(time_ms, psth.numpy(), lw=1)
    ax1.set_xlabel("Time (ms)")
    ax1.set_ylabel("PSTH (smoothed spike count)")
    plt.tight_layout()
    plt.show()
    assert not torch.isnan(psth).any()
    # §5
    fig, ax = plt.subplots(figsize=(10, 3))
    ax.imshow(aa1.nrn_masks.T.numpy(), aspect="auto", cmap="Greys", interpolation="nearest")
    ax.set_xlabel("Stimulus index")
    ax.set_ylabel("Neuron index")
    ax.set_title(f"AA1 coverage — black = (stim, neuron) pair has recorded data "
                 f"({100 * aa1.nrn_masks.float().mean().item():.1f}%)")
    plt.tight_layout()
    plt.show()
    # §6
    aa1.select_pop_by_nrn_attr("area", "MLd")
    print(f"Selected {len(aa1.I)} MLd neurons out of {aa1.N_neurons} total.")
    print(f"len(aa1) now returns: {len(aa1)} (stims with >=1 valid selected neuron)")
    assert len(aa1.I) == sum(m["area"] == "MLd" for m in aa1.nrn_meta) > 0
    # §6.1
    aa1.select_neuron(neuron_idx)
    print(f"selected: {aa1.nrn_meta[neuron_idx]['cell_id']}")
    print(f"  this neuron has data for {int(aa1.nrn_masks[:, neuron_idx].sum())} / {aa1.get_S()} stims")
    print(f"  len(aa1) = {len(aa1)}   # exactly the iterable subset")
    print(f"  aa1[0] stim_meta = {aa1[0][3]}   # first iterable stim")
    try:
        aa1[len(aa1)]
    except IndexError:
        print("  aa1[len(aa1)] -> IndexError (no fully-NaN slab returned)")
    else:  # pragma: no cover
        raise AssertionError("aa1[len(aa1)] did not raise IndexError")
    print(f"  aa1.stims[0] is still raw stim 0 ({aa1.stim_meta[0]['type']}); "
          f"raw access bypasses the filter.")
    assert len(aa1) == int(aa1.nrn_masks[:, neuron_idx].sum())
    # §7
    loader = DataLoader(aa1, batch_size=4, shuffle=False, collate_fn=neural_collate)
    batch = next(iter(loader))
    stims, responses, valid_mask, stim_metas = batch['stims'], batch['responses'], batch['valid_mask'], batch['stim_meta']
    print(f"stims shape      : {tuple(stims.shape)}   (B, 1, F, T_max)")
    print(f"responses shape  : {tuple(responses.shape)}   (B, N_selected, R_max, T_max)")
    print(f"valid_mask shape : {tuple(valid_mask.shape)}   (B, N_selected, R_max, T_max) bool")
    print(f"stim_metas       : {stim_metas}")
    print()
    print(f"valid fraction across the batch: {valid_mask.float().mean().item():.3f}")
    print(f"per-item count of fully-NaN slabs (neuron×stim pairs without data): "
          f"{[int((~valid_mask[b].any(dim=(1, 2))).sum()) for b in range(valid_mask.shape[0])]}")
    # the documented 4-tuple unpacks too
    stims2, responses2, valid_mask2, stim_metas2 = batch
    assert stims2 is stims and valid_mask2 is valid_mask and stim_metas2 == stim_metas
    assert [int((~valid_mask[b].any(dim=(1, 2))).sum()) for b in range(valid_mask.shape[0])] == [0] * 4
    # §8 (construction line changed; AA2 is stored at 1 ms and read at 5 ms)
    aa2 = strfh5.load(files["aa2"], areas=("Field_L", "mld", "OV", "CM"),
                      stimuli=("conspecific", "songrip", "flatrip"), dt_ms=DT_MS, lazy=lazy)
    print(aa2)
    print(f"coverage: {int(aa2.nrn_masks.sum())} / {aa2.nrn_masks.numel()} "
          f"({100 * aa2.nrn_masks.float().mean().item():.1f}%)")
    print(f"one nrn_meta entry: {aa2.nrn_meta[0]}")
    aa2.select_population(list(range(min(aa2.N_neurons, 32))))
    loader = DataLoader(aa2, batch_size=4, shuffle=False, collate_fn=neural_collate)
    batch = next(iter(loader))
    stims, responses, valid_mask, stim_metas = batch['stims'], batch['responses'], batch['valid_mask'], batch['stim_meta']
    print(f"AA2 batch stims shape      : {tuple(stims.shape)}")
    print(f"AA2 batch responses shape  : {tuple(responses.shape)}")
    print(f"AA2 batch valid_mask shape : {tuple(valid_mask.shape)}")
    assert aa2.dt == 5 and responses.shape[1] == min(aa2.N_neurons, 32)


# ------------------------------------------------------------------ seed 000
@pytest.mark.parametrize("lazy", [False, True], ids=["eager", "lazy"])
def test_seed000_concatenating_aa1_and_aa2(files, lazy):
    # §1 (construction lines changed)
    aa1 = strfh5.load(files["aa1"], dt_ms=DT_MS, lazy=lazy)
    aa2 = strfh5.load(files["aa2"], dt_ms=DT_MS, lazy=lazy)
    print(f"aa1: {aa1}")
    print(f"aa2: {aa2}")
    print(f"both have F = {aa1.F} mel-bands and dt = {aa1.dt} ms — concatenable.")
    # §2
    combined = concat_neural_datasets([aa1, aa2])
    combined_alt = aa1 + aa2  # pairwise __add__ sugar; identical result
    assert combined.N_neurons == combined_alt.N_neurons
    assert combined.get_S() == combined_alt.get_S()
    print(f"combined: {combined}")
    print(f"  type : {type(combined).__name__}   "
          f"# most-specific common ancestor (AA1 + AA2 -> AudioNeuralDataset)")
    print(f"  N    : {aa1.N_neurons} + {aa2.N_neurons} = {combined.N_neurons}")
    print(f"  S    : {aa1.get_S()} + {aa2.get_S()} = {combined.get_S()}")
    # §3
    expected = int(aa1.nrn_masks.sum()) + int(aa2.nrn_masks.sum())
    got = int(combined.nrn_masks.sum())
    print(f"valid (stim, neuron) pairs in aa1: {int(aa1.nrn_masks.sum())}")
    print(f"valid (stim, neuron) pairs in aa2: {int(aa2.nrn_masks.sum())}")
    print(f"sum                              : {expected}")
    print(f"valid pairs in combined          : {got}   "
          f"(matches: {got == expected})")
    assert got == expected
    fig, ax = plt.subplots(figsize=(11, 4))
    ax.imshow(combined.nrn_masks.T.numpy(), aspect="auto", cmap="Greys",
              interpolation="nearest")
    ax.axhline(aa1.N_neurons - 0.5, color="tab:red", lw=1, ls="--",
               label="neuron block boundary")
    ax.axvline(aa1.get_S() - 0.5, color="tab:red", lw=1, ls="--",
               label="stim block boundary")
    ax.set_xlabel("Stimulus index (AA1 stims | AA2 stims)")
    ax.set_ylabel("Neuron index (AA1 neurons | AA2 neurons)")
    ax.set_title(f"`combined.nrn_masks` — black = real (stim, neuron) data; "
                 f"empty quadrants are NaN sentinels")
    ax.legend(loc="upper right")
    plt.tight_layout()
    plt.show()
    # §4
    combined.select_pop_by_nrn_attr("area", "MLd")
    print(f"MLd neurons selected from combined: {len(combined.I)}")
    mld_indices = [
        n for n, meta in enumerate(combined.nrn_meta)
        if meta["area"].lower() == "mld"
    ]
    combined.select_population(mld_indices)
    print(f"MLd-or-mld neurons (case-insensitive): {len(combined.I)} "
          f"({100 * len(combined.I) / combined.N_neurons:.1f}% of pooled population)")
    # §4.5
    combined.select_population(list(range(combined.N_neurons)))
    print(f"all neurons:        len(combined) = {len(combined):>3}   "
          f"(expect {aa1.get_S()} + {aa2.get_S()} = {aa1.get_S() + aa2.get_S()})")
    assert len(combined) == aa1.get_S() + aa2.get_S()
    combined.select_population(list(range(aa1.N_neurons)))
    print(f"only AA1's neurons: len(combined) = {len(combined):>3}   "
          f"(expect {aa1.get_S()})")
    print(f"  combined[0] stim_meta  = {combined[0][3]}")
    print(f"  combined[-1] stim_meta = {combined[-1][3]}   # last iterable")
    try:
        combined[aa1.get_S()]
    except IndexError:
        print(f"  combined[{aa1.get_S()}] raises IndexError — AA2 stim is hidden, not silently NaN")
    assert len(combined) == aa1.get_S() and combined[0][3] == aa1.stim_meta[0]
    combined.select_population(list(range(aa1.N_neurons, combined.N_neurons)))
    print(f"only AA2's neurons: len(combined) = {len(combined):>3}   "
          f"(expect {aa2.get_S()})")
    print(f"  combined[0] stim_meta  = {combined[0][3]}   # first iterable is AA2's first stim")
    assert combined[0][3] == aa2.stim_meta[0]
    # §5
    combined.select_population(list(range(min(combined.N_neurons, 32))))
    loader = DataLoader(combined, batch_size=4, shuffle=False, collate_fn=neural_collate)
    batch = next(iter(loader))
    stims, responses, valid_mask, stim_metas = batch['stims'], batch['responses'], batch['valid_mask'], batch['stim_meta']
    print(f"stims shape      : {tuple(stims.shape)}")
    print(f"responses shape  : {tuple(responses.shape)}")
    print(f"valid_mask shape : {tuple(valid_mask.shape)}   (B, N, R, T)")
    print()
    print(f"valid fraction in batch : {valid_mask.float().mean().item():.3f}")
    print(f"stim_metas              : {stim_metas}")
    # §6 (construction lines changed)
    aa2_finer_bin = strfh5.load(files["aa2"], dt_ms=1, lazy=lazy)
    try:
        combined = aa1 + aa2_finer_bin  # aa1 is dt=5, aa2_finer_bin is dt=1
    except AssertionError as e:
        print(f"AssertionError (expected): {e}")
    else:  # pragma: no cover
        raise AssertionError("dt mismatch not refused")
    aa2_more_mels = _aa2_more_mels(files)
    try:
        combined = aa1 + aa2_more_mels  # aa1 has F=32, aa2_more_mels has F=64
    except AssertionError as e:
        print(f"AssertionError (expected): {e}")
    else:  # pragma: no cover
        raise AssertionError("F mismatch not refused")


@pytest.mark.parametrize("lazy", [False, True], ids=["eager", "lazy"])
def test_seed000_cross_species_aa1_plus_ns1(files, lazy):
    # §7 (construction lines changed)
    ns1 = strfh5.load(files["ns1"], dt_ms=5, lazy=lazy)
    aa1_34 = _aa1_34(files, lazy)  # CRCNSAA1Dataset(download=True, dt_ms=5, n_mels=34)
    chimera = ns1 + aa1_34
    print(chimera)
    print(f"  area=A1       -> {len(chimera.select_pop_by_nrn_attr('area', 'A1'))} ferret neurons")
    chimera.I = []
    print(f"  area=Field_L  -> {len(chimera.select_pop_by_nrn_attr('area', 'Field_L'))} zebra-finch neurons")
    chimera.I = []
    print(f"  area=MLd      -> {len(chimera.select_pop_by_nrn_attr('area', 'MLd'))} zebra-finch neurons")
    fig, ax = plt.subplots(figsize=(11, 4))
    ax.imshow(chimera.nrn_masks.T.numpy(), aspect='auto', cmap='gray_r', interpolation='nearest')
    ax.axhline(ns1.N_neurons - 0.5, color='red', linestyle='--', linewidth=1)
    ax.axvline(ns1.get_S() - 0.5, color='red', linestyle='--', linewidth=1)
    ax.set_xlabel('stim index')
    ax.set_ylabel('neuron index')
    ax.set_title('NS1 (ferret A1) + AA1 (zebra finch Field_L/MLd) — block-diagonal coverage')
    plt.tight_layout()
    plt.show()
    assert chimera.F == 34 and chimera.N_neurons == ns1.N_neurons + aa1_34.N_neurons
    # and it trains through a DataLoader
    chimera.I = []
    batch = next(iter(DataLoader(chimera, batch_size=2, shuffle=True, collate_fn=neural_collate)))
    stims, responses, valid_mask, metas = batch
    assert stims.shape[:3] == (2, 1, 34) and valid_mask.shape == responses.shape


# ------------------------------------------------------------------ seed 003
@pytest.mark.parametrize("lazy", [False, True], ids=["eager", "lazy"])
def test_seed003_nat4_tour(files, lazy):
    # §1 (construction line changed)
    ds = strfh5.load(files["nat4_a1"], areas='A1', subset='all', lazy=lazy)
    print(f"Cells: {ds.N_neurons}")
    print(f"Stimuli: {len(ds.stims)}")
    counts = Counter(m['subset'] for m in ds.stim_meta)
    print(f"  est: {counts['est']}")
    print(f"  val: {counts['val']}")
    print(f"Spec shape: {tuple(ds.stims[0].shape)} (1, F, T) at dt={ds.dt} ms")
    # §2
    print("First 3 entries:")
    for n in ds.nrn_meta[:3]:
        print(f"  {n}")
    print()
    n_auditory = sum(1 for n in ds.nrn_meta if n['auditory'])
    print(f"auditory cells: {n_auditory} / {ds.N_neurons}")
    animals = Counter(n['animal'] for n in ds.nrn_meta)
    print(f"animals: {dict(animals)}")
    sites = Counter(n['site'] for n in ds.nrn_meta)
    print(f"recording sites: {len(sites)} unique (top 5: {sites.most_common(5)})")
    # §3
    masks = ds.nrn_masks  # (S=593, N=849)
    S, N = masks.shape
    total = S * N
    valid = masks.sum().item()
    print(f"valid (stim, cell) pairs: {valid:,} / {total:,} ({100*valid/total:.1f}%)")
    stim_order = sorted(range(S), key=lambda s: ds.stim_meta[s]['subset'])
    val_idx = [s for s in stim_order if ds.stim_meta[s]['subset'] == 'val']
    n_val_stims = len(val_idx)
    has_val = masks[val_idx].any(dim=0)
    cell_order = torch.argsort(has_val.long(), descending=True)
    reordered = masks[stim_order][:, cell_order]
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.imshow(reordered.numpy().T, aspect='auto', cmap='Greys', interpolation='nearest')
    ax.axvline(S - n_val_stims - 0.5, color='red', lw=1.5, label='est | val boundary')
    ax.set_xlabel("stim (est on left, val on right)")
    ax.set_ylabel("cell (cells with val data on top)")
    ax.set_title(f"NAT4 A1 nrn_masks — {valid:,} / {total:,} valid pairs")
    ax.legend(loc='upper right')
    plt.tight_layout(); plt.show()
    n_cells_with_val = has_val.sum().item()
    print(f"cells with ≥1 val response: {n_cells_with_val} / {N}")
    print(f"cells with NO val data: {N - n_cells_with_val}")
    assert N - n_cells_with_val == 3
    # §4
    val_stim_indices = [s for s, m in enumerate(ds.stim_meta) if m['subset'] == 'val']
    auditory_cell_indices = [i for i, n in enumerate(ds.nrn_meta) if n['auditory']]
    for cell_idx in auditory_cell_indices:
        valid_val_stims = [s for s in val_stim_indices if not ds.responses[s][cell_idx].isnan().all()]
        if valid_val_stims:
            stim_idx = valid_val_stims[0]
            break
    plot_stim_with_response(
        ds.stims[stim_idx], ds.responses[stim_idx][cell_idx], dt_ms=ds.dt,
        title=(f"NAT4 A1 stim {stim_idx} ('{ds.stim_meta[stim_idx]['name']}', "
               f"subset={ds.stim_meta[stim_idx]['subset']}) "
               f"→ cell {cell_idx} ({ds.nrn_meta[cell_idx]['cell_id']})"),
    )
    plt.show()
    # §5
    ds.select_stims_by_attr('subset', 'val')
    n_visible_cells = ds.nrn_masks.sum(dim=0).gt(0).sum().item() if ds.S_sel is None else len(ds._selected())
    print("after select_stims_by_attr('subset', 'val'):")
    print(f"  visible stims: {len(ds.S_sel) if ds.S_sel is not None else len(ds.stims)}")
    print(f"  visible cells: {len(ds._selected())}")
    item = ds[0]
    stim, responses_per_neuron, meta = item['stims'], item['responses'], item['stim_meta']
    print("\nfirst returned item:")
    print(f"  stim shape: {tuple(stim.shape)}")
    print(f"  N returned: {len(responses_per_neuron)}")
    print(f"  meta: {meta}")
    assert n_visible_cells == len(responses_per_neuron) == N - 3
    ds.reset_stim_selection()
    ds.reset_pop_selection()
    # §6
    ds.select_pop_by_nrn_attr('auditory', True)
    print(f"after select_pop_by_nrn_attr('auditory', True): {len(ds._selected())} cells")
    ds.reset_pop_selection()
    ds.select_pop_by_nrn_attr('animal', 'ARM')
    print(f"after select_pop_by_nrn_attr('animal', 'ARM'): {len(ds._selected())} cells")
    ds.reset_pop_selection()
    # §7
    ds.select_stims_by_attr('subset', 'val')
    ds.select_pop_by_nrn_attr('auditory', True)
    loader = DataLoader(ds, batch_size=4, shuffle=False, collate_fn=neural_collate)
    batch = next(iter(loader))
    stims, responses, valid_mask, stim_metas = batch['stims'], batch['responses'], batch['valid_mask'], batch['stim_meta']
    print(f"stims:      {tuple(stims.shape)}  (B, 1, F, T)")
    print(f"responses:  {tuple(responses.shape)}  (B, N, R_max, T_max)")
    print(f"valid_mask: {tuple(valid_mask.shape)}  bool")
    print(f"NaN cells in responses: {responses.isnan().sum().item():,} / {responses.numel():,}")
    print(f"valid_mask True count:  {valid_mask.sum().item():,}  (should equal numel - NaN count)")
    assert valid_mask.sum().item() == responses.numel() - responses.isnan().sum().item()
    ds.reset_stim_selection()
    ds.reset_pop_selection()
    # §8 (construction line changed)
    ds_peg = strfh5.load(files["nat4_peg"], areas='PEG', subset='all', lazy=lazy)
    print(f"PEG: {ds_peg.N_neurons} cells, {len(ds_peg.stims)} stims")
    peg_auditory = sum(1 for n in ds_peg.nrn_meta if n['auditory'])
    print(f"  auditory: {peg_auditory} / {ds_peg.N_neurons}")
    peg_total = ds_peg.nrn_masks.sum().item()
    peg_grid = ds_peg.nrn_masks.numel()
    print(f"  coverage: {peg_total:,} / {peg_grid:,} valid pairs ({100*peg_total/peg_grid:.1f}%)")
    print(f"  animals: {dict(Counter(n['animal'] for n in ds_peg.nrn_meta))}")
    # §9
    joint = concat_neural_datasets([ds, ds_peg])
    print("joint dataset:")
    print(f"  cells:   {joint.N_neurons}")
    print(f"  stims:   {len(joint.stims)}")
    joint_total = joint.nrn_masks.sum().item()
    joint_grid = joint.nrn_masks.numel()
    print(f"  coverage: {joint_total:,} / {joint_grid:,} valid pairs ({100*joint_total/joint_grid:.1f}%)")
    print(f"  cross-area sanity: {ds.nrn_masks.sum().item() + ds_peg.nrn_masks.sum().item():,} == {joint_total:,}")
    assert ds.nrn_masks.sum().item() + ds_peg.nrn_masks.sum().item() == joint_total
    fig, ax = plt.subplots(figsize=(9, 4))
    sub = joint.nrn_masks[::6, ::8]
    ax.imshow(sub.numpy().T, aspect='auto', cmap='Greys', interpolation='nearest')
    ax.axvline(len(ds.stims) // 6 - 0.5, color='red', lw=1.5, label='A1 | PEG stim boundary')
    ax.axhline(ds.N_neurons // 8 - 0.5, color='blue', lw=1.5, label='A1 | PEG cell boundary')
    ax.set_xlabel("stim (subsampled)")
    ax.set_ylabel("cell (subsampled)")
    ax.set_title("Block-diagonal A1 ⊕ PEG joint mask")
    ax.legend(loc='lower right')
    plt.tight_layout(); plt.show()


# ------------------------------------------------------------------ seed 004
def test_seed004_api_reference_examples(files):
    ds = strfh5.load(files["aa1"], dt_ms=DT_MS)  # ds = CRCNSAA1Dataset(...)
    ds.validate()
    q = ds.compute_neuron_quality()
    thr = float(q["snr"].median())  # the reference's 0.5 is above every simulated neuron's SNR
    ds.select_pop_by_nrn_predicate(lambda n: n['snr'] > thr)
    assert len(ds.I) == int((q["snr"] > thr).sum()) > 0
    ds.select_pop_by_nrn_predicate(lambda n: n.get("snr", 0) > thr)
    ds.select_pop_by_nrn_predicate(lambda n: n["area"] in {"Field_L", "MLd"})
    assert len(ds.I) == ds.N_neurons
    ds.select_stims_by_predicate(lambda s: s.get("duration_s", 0) >= 0.3)
    ds.select_stims_by_predicate(lambda s: s["type"] in {"conspecific", "flatrip"})
    ds.select_pop_by_stim_attr("type", "conspecific")
    ds.select_pop_by_stim_predicate(lambda s: s["type"] == "flatrip")
    ds.select_stim(0)
    ds.select_stims([0, 1])
    ds.reset_stim_selection()
    ds.reset_pop_selection()
    assert len(ds.get_nrn_meta()) == ds.get_N() and ds.get_S() == len(ds.stim_meta)
    assert tuple(ds.nrn_masks.shape) == (ds.get_S(), ds.get_N())
    stats = ds.standardize_stims(stim_indices=[0, 1, 2], per_band=True)
    assert set(stats) == {"mean", "std", "per_band", "stim_indices"}
    norm = ds.normalize_responses(method="zscore", stim_indices=None)
    assert set(norm) == {"method", "scale", "offset", "stim_indices"} and norm["scale"].shape == (ds.get_N(),)
    ds.smooth_responses(window_ms=21.0)
    ds.validate()
    sp = ds.get_responses_signal_power()
    assert sp.shape == (ds.get_N(), ds.get_S())
    # NS1 metadata carry depths (the depth example of select_pop_by_nrn_predicate)
    ns1 = strfh5.load(files["ns1"])
    if any("depth_um" in m for m in ns1.nrn_meta):
        ns1.select_pop_by_nrn_predicate(lambda n: 200 <= n.get("depth_um", -1) <= 800)
    # video helpers of the API reference, on a small video dataset
    import numpy as np

    rng = np.random.default_rng(0)
    video = strfh5.from_lists([rng.random((3, 4, 5, 12)).astype(np.float32) for _ in range(2)],
                              [[rng.poisson(1.0, (3, 12)) for _ in range(2)] for _ in range(2)], dt_ms=10)
    assert video.get_dt() == 10.0
    noisy = video.add_noise_to_videos(video.stims[0], noise_level=0.1)
    assert noisy.shape == video.stims[0].shape and not torch.equal(noisy, video.stims[0])
    sub, T = video.change_video_temporal_resolution(video.stims[0], native_dt=10, target_dt=30)
    assert T == 4 and torch.equal(sub, video.stims[0][..., ::3])
    with pytest.raises(strfh5.errors.TransformError, match="integer multiple"):
        video.change_video_temporal_resolution(video.stims[0], native_dt=10, target_dt=25)
    assert video.get_responses_signal_power().shape == (2, 2)
    video.from_rgb_to_grayscale()
    video.change_spatial_resolution((2, 5))
    video.normalize_videos()
    clips = video.split_into_clips(4)
    assert clips.get_S() == 6 and tuple(clips.stims[0].shape) == (1, 2, 5, 4)
    video.validate()


def test_replays_use_real_data_where_present(files):
    """Which roles the real recordings played (a skip here is information, not a failure)."""
    if not (files["real_aa"] and files["real_ns1"]):
        pytest.skip("real recordings not found: the replays above ran on simulated stand-ins "
                    "(../shared/data/real is absent or incomplete)")
    assert strfh5.load(files["aa2"]).file_dt == 1.0 and strfh5.load(files["ns1"]).F == 34


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
