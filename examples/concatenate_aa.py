"""Concatenating AA1- and AA2-shaped datasets with strfh5 (replays deepSTRF's concatenation notebook).

Two simulated sources are pooled block-diagonally along stimuli and neurons,
in memory (``aa1 + aa2``) and on disk (``strfh5.concat``, virtual datasets).
Figures are written as PNG to OUTDIR.

Usage: python examples/concatenate_aa.py OUTDIR
"""

import os

from _common import data_folder, run, save_png, simulated  # first: selects the headless backend
from torch.utils.data import DataLoader

import strfh5
from strfh5 import concat_neural_datasets, neural_collate

DT_MS = 5


def main(outdir: str) -> None:
    data = data_folder(outdir)
    p1 = simulated(data, "aa1_like", "aa1", n_stimuli=8, n_neurons=12, n_bins=(60, 90),
                   animals={"gg0304": 6, "gg0412": 6}, seed=11)
    p2 = simulated(data, "aa2_like", "aa2", n_stimuli=10, n_neurons=24, n_bins=(60, 90),
                   animals={"yy0101": 12, "oo0207": 12}, seed=12)
    aa1 = strfh5.load(p1, dt_ms=DT_MS)
    aa2 = strfh5.load(p2, dt_ms=DT_MS)
    print(f"aa1: {aa1}")
    print(f"aa2: {aa2}")
    print(f"both have F = {aa1.F} bands and dt = {aa1.dt} ms — concatenable.")

    # 2. concatenate (two equivalent forms)
    combined = concat_neural_datasets([aa1, aa2])
    alt = aa1 + aa2
    assert combined.N_neurons == alt.N_neurons and combined.get_S() == alt.get_S()
    print(f"combined: {combined}")
    print(f" type : {type(combined).__name__}")
    print(f" N : {aa1.N_neurons} + {aa2.N_neurons} = {combined.N_neurons}")
    print(f" S : {aa1.get_S()} + {aa2.get_S()} = {combined.get_S()}")

    # 3. block-diagonal masks
    expected = int(aa1.nrn_masks.sum()) + int(aa2.nrn_masks.sum())
    got = int(combined.nrn_masks.sum())
    print(f"valid pairs: {int(aa1.nrn_masks.sum())} + {int(aa2.nrn_masks.sum())} = {expected}; "
          f"combined {got} (matches: {got == expected})")
    fig = strfh5.plot_coverage(combined, stim_boundaries=[aa1.get_S() - 0.5],
                               neuron_boundaries=[aa1.N_neurons - 0.5],
                               title="combined.nrn_masks — empty quadrants are missing cross blocks")
    save_png(fig, outdir, "combined_coverage.png")

    # 4. metadata flows through
    mld = [n for n, m in enumerate(combined.nrn_meta) if m["area"].lower() == "mld"]
    combined.select_population(mld)
    print(f"MLd neurons (both sources): {len(combined.I)} "
          f"({100 * len(combined.I) / combined.N_neurons:.1f}% of pooled population)")

    # 4.5 iteration follows the selection
    combined.select_population(list(range(combined.N_neurons)))
    print(f"all neurons: len(combined) = {len(combined)}")
    combined.select_population(list(range(aa1.N_neurons)))
    print(f"only AA1's neurons: len(combined) = {len(combined)} (expect {aa1.get_S()})")
    print(f"  combined[0] stim_meta name = {combined[0][3]['name']}")
    try:
        combined[aa1.get_S()]
    except IndexError:
        print(f"  combined[{aa1.get_S()}] raises IndexError — AA2 stim is hidden, not silently NaN")
    combined.select_population(list(range(aa1.N_neurons, combined.N_neurons)))
    print(f"only AA2's neurons: len(combined) = {len(combined)} (expect {aa2.get_S()})")

    # 5. DataLoader
    combined.select_population(list(range(min(combined.N_neurons, 32))))
    batch = next(iter(DataLoader(combined, batch_size=4, shuffle=False, collate_fn=neural_collate)))
    print(f"stims shape      : {tuple(batch['stims'].shape)}")
    print(f"responses shape  : {tuple(batch['responses'].shape)}")
    print(f"valid_mask shape : {tuple(batch['valid_mask'].shape)} (B, N, R, T)")
    print(f"valid fraction in batch : {batch['valid_mask'].float().mean().item():.3f}")

    # 6. refused mismatches
    aa2_10 = strfh5.load(p2, dt_ms=10)
    try:
        aa1 + aa2_10
    except strfh5.IncompatibleDatasetsError as e:
        print(f"IncompatibleDatasetsError (expected): {e}")

    # on disk: a concatenated file of virtual datasets, read lazily
    out = os.path.join(data, "aa1_aa2.strf.h5")
    if os.path.exists(out):
        os.remove(out)
    strfh5.concat([p1, p2], out)
    with strfh5.load(out, lazy=True) as ondisk:
        print(f"on disk: {ondisk}; valid pairs {int(ondisk.nrn_masks.sum())}")


if __name__ == "__main__":
    run(main, __doc__)
