"""Selections and the bidirectional rule as pure functions (strfh5.selection)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from strfh5.errors import SelectionError
from strfh5.selection import as_index, as_indices, matching_attr, matching_pred, neurons_with_data, position, visible

MASKS = np.array([[1, 0, 0, 1],
                  [0, 1, 0, 0],
                  [0, 0, 0, 1]], dtype=bool)  # 3 stimuli x 4 neurons; neuron 2 heard nothing


def test_visible_without_selection_drops_stimuli_nobody_heard():
    masks = MASKS.copy()
    masks[1] = False
    assert visible(masks, [], None) == ([0, 1, 2, 3], [0, 2])


def test_visible_bidirectional_rule():
    # stimulus selection hides neurons without data on it, and keeps the order of I
    assert visible(MASKS, [3, 1, 0], [2]) == ([3], [2])
    assert visible(MASKS, [], [0, 1]) == ([0, 1, 3], [0, 1])
    # a neuron selection without a stimulus selection keeps every selected neuron
    assert visible(MASKS, [2, 1], None) == ([2, 1], [1])


@settings(max_examples=60, deadline=None)
@given(arrays(bool, st.tuples(st.integers(1, 6), st.integers(1, 6))), st.data())
def test_visible_matches_its_definition(masks, data):
    S, N = masks.shape
    I = data.draw(st.lists(st.integers(0, N - 1), unique=True))
    S_sel = data.draw(st.none() | st.lists(st.integers(0, S - 1), unique=True))
    vis, stims = visible(masks, I, S_sel)
    base = I if I else list(range(N))
    cand = S_sel if S_sel is not None else list(range(S))
    want_vis = [n for n in base if S_sel is None or any(masks[s, n] for s in cand)]
    assert vis == want_vis
    assert stims == [s for s in cand if any(masks[s, n] for n in want_vis)]


def test_neurons_with_data():
    assert neurons_with_data(MASKS, [0, 2], "x") == [0, 3]
    with pytest.raises(SelectionError, match="no neuron has a recorded response"):
        neurons_with_data(np.zeros((2, 2), bool), [0], "subset == 'val'")


def test_index_checks():
    assert as_index(torch.tensor(2), 3, "stimulus") == 2
    assert position(-1, 3, "stimulus") == 2
    with pytest.raises(SelectionError, match="out of range"):
        as_index(3, 3, "neuron")
    with pytest.raises(SelectionError, match="must be an integer"):
        as_index(True, 3, "neuron")
    with pytest.raises(SelectionError, match="duplicates: \\[1\\]"):
        as_indices([1, 0, 1], 3, "neuron")
    with pytest.raises(SelectionError, match="sequence of integers"):
        as_indices(2, 3, "neuron")
    assert as_indices(np.array([2, 0]), 3, "neuron") == [2, 0]


def test_matching_lists_the_values_present():
    metas = [{"area": "MLd"}, {"area": "OV"}, {}]
    assert matching_attr(metas, "area", "OV", "neuron", "nrn_meta") == [1]
    with pytest.raises(SelectionError, match="'MLd', 'OV'"):
        matching_attr(metas, "area", "mld", "neuron", "nrn_meta")
    assert matching_pred(metas, lambda m: m["area"] != "OV", "neuron") == [0]  # KeyError skipped
    with pytest.raises(SelectionError, match="callable"):
        matching_pred(metas, "area", "neuron")
