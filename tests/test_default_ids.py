"""Default ids of from_lists: a unique metadata key, else positions tagged by the dataset's UUID (issue 14 item 4)."""

from __future__ import annotations

import numpy as np
import pytest

import strfh5
from strfh5.errors import DuplicateIdError


def _lists(S=2, N=3):
    stims = [np.zeros((1, 4, 6), np.float32) for _ in range(S)]
    resp = [[np.ones((2, 6)) for _ in range(N)] for _ in range(S)]
    return stims, resp


def test_ids_come_from_a_unique_metadata_key():
    stims, resp = _lists()
    ds = strfh5.from_lists(stims, resp, dt_ms=5, nrn_meta=[{"cell_id": f"gg03_{n}", "area": "MLd"} for n in range(3)],
                           stim_meta=[{"name": f"song{s}.wav"} for s in range(2)])
    assert ds.neuron_ids == ["gg03_0", "gg03_1", "gg03_2"] and ds.stim_ids == ["song0.wav", "song1.wav"]
    ds = strfh5.from_lists(stims, resp, dt_ms=5, nrn_meta=[{"unit_id": 7 + n} for n in range(3)],
                           stim_meta=[{"stim_id": "a"}, {"stim_id": "b", "name": "x"}])
    assert ds.neuron_ids == ["7", "8", "9"] and ds.stim_ids == ["a", "b"]


def test_non_unique_or_partial_keys_fall_back_to_tagged_positions():
    stims, resp = _lists()
    ds = strfh5.from_lists(stims, resp, dt_ms=5, nrn_meta=[{"cell_id": "same"}, {"cell_id": "same"}, {}],
                           stim_meta=[{"name": "x"}, {}])
    tag = ds.info.uuid.replace("-", "")[:8]
    assert len(tag) == 8 and ds.neuron_ids == [f"{tag}.{n}" for n in range(3)]
    assert ds.stim_ids == [f"{tag}.{s}" for s in range(2)]
    explicit = strfh5.from_lists(stims, resp, dt_ms=5, neuron_ids=["a", "b", "c"], stim_ids=["s", "t"],
                                 nrn_meta=[{"cell_id": f"c{n}"} for n in range(3)])
    assert explicit.neuron_ids == ["a", "b", "c"] and explicit.stim_ids == ["s", "t"]


def test_two_hand_made_datasets_concatenate_and_ds_plus_ds_says_how_to_allow_it():
    stims, resp = _lists()
    a, b = strfh5.from_lists(stims, resp, dt_ms=5), strfh5.from_lists(stims, resp, dt_ms=5)
    assert not set(a.neuron_ids) & set(b.neuron_ids) and not set(a.stim_ids) & set(b.stim_ids)
    ab = a + b
    assert ab.N_neurons == 6 and ab.get_S() == 4
    with pytest.raises(DuplicateIdError, match=r"concat_neural_datasets\(\[a, b\], allow_duplicate_neurons=True\)"):
        a + a
    assert strfh5.concat_neural_datasets([a, a], allow_duplicate_neurons=True).N_neurons == 6
