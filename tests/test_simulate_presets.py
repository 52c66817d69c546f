"""strfh5.simulate.presets: the presets have the published shapes and keep their patterns when scaled down."""

from __future__ import annotations

import numpy as np

from strfh5 import simulate as sim


def test_presets_have_the_published_shapes():
    p = sim.preset_params("nat4-a1")
    assert (p["n_stimuli"], p["n_neurons"], p["n_freqs"], p["dt_ms"], p["n_bins"]) == (593, 849, 18, 10.0, 150)
    assert (p["n_val"], p["no_val_neurons"], p["repeats"]) == (18, 33, {"est": 1, "val": 20})
    assert sum(p["animals"].values()) == 849
    p = sim.preset_params("aa2")
    assert (p["n_stimuli"], p["n_neurons"]) == (117, 494) and sum(p["areas"].values()) == 494
    assert sum(p["stim_types"].values()) == 117
    p = sim.preset_params("aa1")
    assert round(p["coverage"] * 3000) == 2960 and p["n_bins"] == (330, 501)


def test_scaled_down_presets_keep_their_patterns():
    c = sim.simulate_contents("nat4-a1", n_stimuli=8, n_val=3, n_neurons=12, no_val_neurons=5, n_bins=20)
    val = np.array([m["subset"] == "val" for m in c.stim_meta])
    assert set(c.repeats[~val].ravel().tolist()) == {1}
    assert set(c.repeats[val][c.masks[val]].tolist()) == {20}
    assert int((~c.masks[val].any(axis=0)).sum()) == 5
    assert c.info.encoding == "binned" and c.info.dt_ms == 10.0 and c.info.stim_dims == (1, 18)
    tag, cell = c.neuron_ids[0].rsplit(".", 1)
    assert tag == "nat4-a1.s0" and cell.count("-") == 2  # NAT4-style cell ids 'ARM001a-04-1' after the file's tag
    c = sim.simulate_contents("aa2", n_stimuli=12, stim_types={"conspecific": 6, "flatrip": 3, "songrip": 3},
                              n_neurons=20, areas={"MLd": 10, "OV": 10}, n_bins=10)
    ov = np.array([m["area"] == "OV" for m in c.nrn_meta])
    songrip = np.array([m["type"] == "songrip" for m in c.stim_meta])
    assert not c.masks[np.ix_(songrip, ov)].any()  # OV birds heard no song ripples
    assert c.masks[~songrip].any()
