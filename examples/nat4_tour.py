"""A tour of NAT4-A1-shaped data with strfh5 (replays deepSTRF's NAT4 notebook).

A simulated NAT4-like file (est stimuli with 1 repeat, val stimuli with 20,
some neurons without val data; small sizes) is read lazily; the tour covers
coverage, metadata, the bidirectional rule, valid_mask and a cross-area
concatenation.  Figures are written as PNG to OUTDIR.

Usage: python examples/nat4_tour.py OUTDIR
"""

from collections import Counter

from _common import data_folder, run, save_png, simulated  # first: selects the headless backend
import torch
from torch.utils.data import DataLoader

import strfh5
from strfh5 import concat_neural_datasets, neural_collate, plot_stim_with_response


def main(outdir: str) -> None:
    data = data_folder(outdir)
    a1_path = simulated(data, "nat4_a1_like", "nat4-a1", n_stimuli=30, n_val=6, n_neurons=48, no_val_neurons=4,
                        animals={"ARM": 12, "CRD": 6, "DRX": 12, "TNC": 18}, seed=21)

    # 1. load lazily: only the tables and /repeats are read
    ds = strfh5.load(a1_path, lazy=True)
    print(f"Cells: {ds.N_neurons}")
    print(f"Stimuli: {len(ds.stims)}")
    counts = Counter(m["subset"] for m in ds.stim_meta)
    print(f"  est: {counts['est']}")
    print(f"  val: {counts['val']}")
    print(f"Spec shape: {tuple(ds.stims[0].shape)} (1, F, T) at dt={ds.dt} ms")

    # 2. per-cell metadata
    for n in ds.nrn_meta[:3]:
        print({k: n[k] for k in ("cell_id", "area", "auditory", "site", "animal", "electrode", "unit_in_electrode")})
    print(f"auditory cells: {sum(1 for n in ds.nrn_meta if n['auditory'])} / {ds.N_neurons}")
    print(f"animals: {dict(Counter(n['animal'] for n in ds.nrn_meta))}")

    # 3. coverage, est on the left, cells with val data on top
    masks = ds.nrn_masks
    S, N = masks.shape
    valid = masks.sum().item()
    print(f"valid (stim, cell) pairs: {valid:,} / {S * N:,} ({100 * valid / (S * N):.1f}%)")
    stim_order = sorted(range(S), key=lambda s: ds.stim_meta[s]["subset"])
    val_idx = [s for s in stim_order if ds.stim_meta[s]["subset"] == "val"]
    has_val = masks[val_idx].any(dim=0)
    cell_order = torch.argsort(has_val.long(), descending=True, stable=True).tolist()
    fig = strfh5.plot_coverage(ds, stim_order=stim_order, neuron_order=cell_order,
                               stim_boundaries=[S - len(val_idx) - 0.5],
                               title=f"NAT4-like nrn_masks — {valid:,} / {S * N:,} valid pairs")
    save_png(fig, outdir, "nat4_coverage.png")
    print(f"cells with >=1 val response: {has_val.sum().item()} / {N}")
    print(f"cells with NO val data: {N - has_val.sum().item()}")

    # 4. a val stimulus and an auditory cell's response to it
    val_stims = [s for s, m in enumerate(ds.stim_meta) if m["subset"] == "val"]
    auditory = [i for i, n in enumerate(ds.nrn_meta) if n["auditory"]]
    for cell_idx in auditory:
        ok = [s for s in val_stims if not ds.responses[s][cell_idx].isnan().all()]
        if ok:
            stim_idx = ok[0]
            break
    fig = plot_stim_with_response(ds.stims[stim_idx], ds.responses[stim_idx][cell_idx], dt_ms=ds.dt,
                                  title=f"stim {stim_idx} ({ds.stim_meta[stim_idx]['subset']}) -> cell "
                                        f"{cell_idx} ({ds.nrn_meta[cell_idx]['cell_id']})")
    save_png(fig, outdir, "nat4_stim_with_response.png")

    # 5. the bidirectional rule
    ds.select_stims_by_attr("subset", "val")
    print("after select_stims_by_attr('subset', 'val'):")
    print(f"  visible stims: {len(ds.S_sel)}")
    print(f"  visible cells: {len(ds._selected())}")
    item = ds[0]
    print(f"  first item: stim {tuple(item['stims'].shape)}, N returned {len(item['responses'])}, "
          f"meta {item['stim_meta']['name']}")
    ds.reset_stim_selection()
    ds.reset_pop_selection()

    # 6. population filtering
    ds.select_pop_by_nrn_attr("auditory", True)
    print(f"after select_pop_by_nrn_attr('auditory', True): {len(ds._selected())} cells")
    ds.reset_pop_selection()
    ds.select_pop_by_nrn_attr("animal", "ARM")
    print(f"after select_pop_by_nrn_attr('animal', 'ARM'): {len(ds._selected())} cells")
    ds.reset_pop_selection()

    # 7. valid_mask from neural_collate
    ds.select_stims_by_attr("subset", "val")
    ds.select_pop_by_nrn_attr("auditory", True)
    batch = next(iter(DataLoader(ds, batch_size=4, shuffle=False, collate_fn=neural_collate)))
    responses, valid_mask = batch["responses"], batch["valid_mask"]
    print(f"stims: {tuple(batch['stims'].shape)} (B, 1, F, T)")
    print(f"responses: {tuple(responses.shape)} (B, N, R_max, T_max)")
    print(f"NaN cells in responses: {responses.isnan().sum().item():,} / {responses.numel():,}")
    print(f"valid_mask True count: {valid_mask.sum().item():,} (should equal numel - NaN count)")
    assert valid_mask.sum().item() == responses.numel() - responses.isnan().sum().item()
    ds.reset_stim_selection()
    ds.reset_pop_selection()

    # 8-9. a PEG-like companion and the cross-area concatenation
    peg_path = simulated(data, "nat4_peg_like", "nat4-a1", n_stimuli=30, n_val=6, n_neurons=20, no_val_neurons=0,
                         areas=("PEG",), animals={"BRT": 20}, seed=22)
    # (simulated ids carry the preset and seed, 'nat4-a1.s22.…', so they never clash with the A1 file's 's21' ids)
    peg = strfh5.load(peg_path, lazy=True)
    print(f"PEG: {peg.N_neurons} cells, {len(peg.stims)} stims")
    joint = concat_neural_datasets([ds, peg])  # a neuron id in both files would be refused (DuplicateIdError)
    jt = joint.nrn_masks.sum().item()
    print(f"joint: {joint.N_neurons} cells, {len(joint.stims)} stims, {jt:,} valid pairs "
          f"(sanity: {ds.nrn_masks.sum().item() + peg.nrn_masks.sum().item():,})")
    fig = strfh5.plot_coverage(joint, stim_boundaries=[ds.get_S() - 0.5], neuron_boundaries=[ds.N_neurons - 0.5],
                               title="Block-diagonal A1 ⊕ PEG joint mask")
    save_png(fig, outdir, "nat4_joint_coverage.png")


if __name__ == "__main__":
    run(main, __doc__)
