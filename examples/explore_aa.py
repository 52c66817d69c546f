"""Exploring CRCNS AA1/AA2-shaped data with strfh5 (replays deepSTRF's exploration notebook).

Simulated AA1- and AA2-like files (small) stand in for the authenticated CRCNS
releases; with the real data, replace ``write_simulated`` by ``strfh5 convert``
and load the converted files.  Figures are written as PNG to OUTDIR.

Usage: python examples/explore_aa.py OUTDIR
"""

from _common import data_folder, plt, run, save_png, simulated  # first: selects the headless backend
import torch
from torch.utils.data import DataLoader

import strfh5
from strfh5 import neural_collate

DT_MS = 5


def main(outdir: str) -> None:
    data = data_folder(outdir)
    aa1_path = simulated(data, "aa1_like", "aa1", n_stimuli=10, n_neurons=20, n_bins=(80, 120),
                         animals={"gg0304": 10, "gg0412": 10}, seed=1)

    # 1. load (eager: everything in memory, file closed)
    aa1 = strfh5.load(aa1_path, dt_ms=DT_MS)
    print(aa1)

    # 2. how data are stored
    print(f"S (stimuli) = {aa1.get_S()}")
    print(f"N (neurons) = {aa1.get_N()}")
    print(f"dt = {aa1.dt} ms")
    print(f"stims[0].shape = {tuple(aa1.stims[0].shape)} (1, F, T_0)")
    print(f"stim T range = [{min(s.shape[-1] for s in aa1.stims)}, {max(s.shape[-1] for s in aa1.stims)}] bins")
    print(f"responses[0][0] shape = {tuple(aa1.responses[0][0].shape)}")
    print(f"stim_meta[0] = {aa1.stim_meta[0]}")
    print(f"nrn_meta[0] cell_id = {aa1.nrn_meta[0]['cell_id']}, area = {aa1.nrn_meta[0]['area']}")
    print(f"nrn_masks.shape = {tuple(aa1.nrn_masks.shape)}, dtype = {aa1.nrn_masks.dtype}")
    print(f"nrn_masks valid = {int(aa1.nrn_masks.sum())} / {aa1.nrn_masks.numel()} "
          f"({100 * aa1.nrn_masks.float().mean().item():.1f}%)")

    # 3. a stimulus
    stim = aa1.stims[0].squeeze(0)
    meta = aa1.stim_meta[0]
    fig, ax = plt.subplots(figsize=(8, 3))
    im = ax.imshow(stim.numpy(), aspect="auto", origin="lower", cmap="magma")
    ax.set_xlabel(f"Time (bins of {aa1.dt} ms)")
    ax.set_ylabel("Frequency band")
    ax.set_title(f"Stim 0: {meta['type']} — {meta['name']}")
    fig.colorbar(im, ax=ax, label="compressed power")
    fig.tight_layout()
    save_png(fig, outdir, "aa1_stimulus.png")

    # 4. a response (raster + PSTH) of a recorded pair
    stim_idx, neuron_idx = aa1.nrn_masks.nonzero()[0].tolist()
    spikes = aa1.responses[stim_idx][neuron_idx]
    psth = spikes.mean(dim=0)
    print(f"pair ({stim_idx}, {neuron_idx}): {tuple(spikes.shape)} repeats x bins, mean rate "
          f"{psth.mean().item() * 1000 / aa1.dt:.1f} spikes/s")
    fig = strfh5.plot_stim_with_response(aa1.stims[stim_idx], spikes, dt_ms=aa1.dt,
                                         title=f"Neuron {neuron_idx} ({aa1.nrn_meta[neuron_idx]['area']}) -> stim {stim_idx}")
    save_png(fig, outdir, "aa1_stim_with_response.png")

    # 5. coverage
    fig = strfh5.plot_coverage(aa1, title="AA1-like coverage (black = recorded pair)")
    save_png(fig, outdir, "aa1_coverage.png")

    # 6. selecting a sub-population
    aa1.select_pop_by_nrn_attr("area", "MLd")
    print(f"Selected {len(aa1.I)} MLd neurons out of {aa1.N_neurons} total.")
    print(f"len(aa1) now returns: {len(aa1)} (stims with >=1 valid selected neuron)")
    aa1.select_neuron(neuron_idx)
    print(f"selected: {aa1.nrn_meta[neuron_idx]['cell_id']}")
    print(f"  this neuron has data for {int(aa1.nrn_masks[:, neuron_idx].sum())} / {aa1.get_S()} stims")
    print(f"  len(aa1) = {len(aa1)}")
    print(f"  aa1[0] stim_meta name = {aa1[0][3]['name']}")
    try:
        aa1[len(aa1)]
    except IndexError:
        print("  aa1[len(aa1)] -> IndexError (no fully-NaN slab returned)")

    # 7. batching
    loader = DataLoader(aa1, batch_size=4, shuffle=False, collate_fn=neural_collate)
    batch = next(iter(loader))
    stims, responses, valid_mask = batch["stims"], batch["responses"], batch["valid_mask"]
    print(f"stims shape      : {tuple(stims.shape)} (B, 1, F, T_max)")
    print(f"responses shape  : {tuple(responses.shape)} (B, N_selected, R_max, T_max)")
    print(f"valid_mask shape : {tuple(valid_mask.shape)} bool")
    print(f"valid fraction across the batch: {valid_mask.float().mean().item():.3f}")
    print("per-item fully-NaN slabs:", [int((~valid_mask[b].any(dim=(1, 2))).sum()) for b in range(valid_mask.shape[0])])
    assert int(valid_mask.sum()) == int((~torch.isnan(responses)).sum())

    # 8. AA2: same interface, read lazily
    aa2_path = simulated(data, "aa2_like", "aa2", n_stimuli=12, n_neurons=40, n_bins=(80, 120), seed=2)
    with strfh5.load(aa2_path, dt_ms=DT_MS, lazy=True) as aa2:
        print(aa2)
        print(f"coverage: {int(aa2.nrn_masks.sum())} / {aa2.nrn_masks.numel()} "
              f"({100 * aa2.nrn_masks.float().mean().item():.1f}%)")
        aa2.select_population(list(range(min(aa2.N_neurons, 32))))
        b2 = next(iter(DataLoader(aa2, batch_size=4, shuffle=False, collate_fn=neural_collate)))
        print(f"AA2 batch stims shape : {tuple(b2['stims'].shape)}")
        print(f"AA2 batch responses shape : {tuple(b2['responses'].shape)}")
        fig = strfh5.plot_coverage(aa2, title="AA2-like coverage")
        save_png(fig, outdir, "aa2_coverage.png")


if __name__ == "__main__":
    run(main, __doc__)
