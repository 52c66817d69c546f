"""strfh5.simulate.naming: ids carry the file's preset and seed, so simulated files of other presets or
seeds concatenate (in memory and on disk) while the same file twice is still refused."""

from __future__ import annotations

import numpy as np
import pytest

import strfh5
from simulate_cases import SMALL
from strfh5 import simulate as sim
from strfh5.errors import DuplicateIdError, InvalidDataError
from strfh5.simulate.naming import unique_ids

#: small AA1/AA2 stand-ins: the presets' bands, dt, sample rate and transform, few stimuli and neurons
TINY = dict(n_stimuli=3, n_neurons=4, n_bins=(20, 30), strf_ms=20.0)


@pytest.mark.parametrize("preset, naming", [(None, "generic"), ("demo", "generic"), ("aa1", "crcns"),
                                            (None, "crcns"), ("nat4-a1", "nat4"), (None, "nat4")])
def test_ids_carry_the_tag_and_the_cell_id_is_the_neuron_id(preset, naming):
    c = sim.simulate_contents(preset, seed=7, naming=naming, **dict(TINY, n_freqs=8, n_val=1, no_val_neurons=0))
    tag = f"{preset or 'sim'}.s7"
    assert c.info.metadata["simulation"]["id_tag"] == tag
    assert [m["cell_id"] for m in c.nrn_meta] == c.neuron_ids
    assert all(n.startswith(tag + ".") for n in c.neuron_ids) and len(set(c.neuron_ids)) == c.N
    assert len(set(c.stim_ids)) == c.S
    if naming == "crcns":  # the release's 32-hex-digit stimulus ids, hashed from the tag
        assert all(len(x) == 32 and int(x, 16) >= 0 for x in c.stim_ids)
    else:
        assert all(tag in x for x in c.stim_ids)
    assert [m["name"] for m in c.stim_meta] == [
        x + ".wav" if naming != "generic" else f"{m['type']}_{s:04d}.wav"
        for s, (x, m) in enumerate(zip(c.stim_ids, c.stim_meta))]


def test_ids_differ_by_preset_and_seed_and_repeat_for_the_same_ones():
    def ids(preset, seed):
        c = sim.simulate_contents(preset, seed=seed, **TINY)
        return set(c.stim_ids), set(c.neuron_ids)

    aa1, aa2, aa1_again, aa1_other = ids("aa1", 0), ids("aa2", 0), ids("aa1", 0), ids("aa1", 1)
    for other in (aa2, aa1_other):
        assert not aa1[0] & other[0] and not aa1[1] & other[1]
    assert aa1 == aa1_again


def test_other_presets_and_seeds_concatenate_in_memory():
    a = sim.simulate_dataset("aa1", **TINY)
    b = sim.simulate_dataset("aa2", **TINY)
    ab = strfh5.concat_neural_datasets([a, b])
    assert ab.N_neurons == a.N_neurons + b.N_neurons and ab.get_S() == a.get_S() + b.get_S()
    assert ab.neuron_ids == a.neuron_ids + b.neuron_ids
    assert np.array_equal(ab.nrn_masks[: a.get_S(), : a.N_neurons].numpy(), a.nrn_masks.numpy())
    d1 = sim.simulate_dataset("demo", seed=1, **dict(TINY, n_freqs=8))
    d2 = sim.simulate_dataset("demo", seed=2, **dict(TINY, n_freqs=8))
    assert (d1 + d2).N_neurons == d1.N_neurons + d2.N_neurons
    with pytest.raises(DuplicateIdError, match="allow_duplicate_neurons"):
        strfh5.concat_neural_datasets([a, sim.simulate_dataset("aa1", **TINY)])  # the same file twice


def test_other_presets_and_seeds_concatenate_on_disk(tmp_path):
    a = sim.write_simulated(tmp_path / "aa1.strf.h5", "aa1", **TINY)
    b = sim.write_simulated(tmp_path / "aa2.strf.h5", "aa2", **TINY)
    out = strfh5.concat([a, b], tmp_path / "ab.strf.h5")
    with strfh5.FileContents(a) as ca, strfh5.FileContents(b) as cb, strfh5.FileContents(out) as co:
        assert co.neuron_ids == ca.neuron_ids + cb.neuron_ids and co.stim_ids == ca.stim_ids + cb.stim_ids
        assert co.info.metadata["shared_stimulus_ids"] == []  # different sounds never share an id
    assert strfh5.validate(out).ok
    a2 = sim.write_simulated(tmp_path / "aa1-copy.strf.h5", "aa1", **TINY)
    with pytest.raises(DuplicateIdError, match="allow_duplicate_neurons"):
        strfh5.concat([a, a2], tmp_path / "aa.strf.h5")


def test_same_seed_shares_stimulus_ids_only_for_the_same_sounds():
    a = sim.simulate_contents(seed=3, **SMALL)
    b = sim.simulate_contents(seed=3, **dict(SMALL, n_stimuli=2))
    assert b.stim_ids == a.stim_ids[:2]
    assert all(np.array_equal(a.stim(s), b.stim(s)) for s in range(2))


def test_unique_ids_suffixes_only_when_needed_and_bad_naming_is_refused():
    assert unique_ids(["x", "y"]) == ["x", "y"]
    assert unique_ids(["x", "y", "x"]) == ["x#0", "y#1", "x#2"]
    with pytest.raises(InvalidDataError, match="naming 'nems'"):
        sim.simulate_contents(naming="nems", **SMALL)
