"""NeuralDataset: paradigm attributes, selection API, bidirectional rule, iteration, items."""

from __future__ import annotations

import pickle
import sys

import numpy as np
import pytest
import torch

import strfh5
from strfh5.rows import Item, ResponseRow
from strfh5.errors import SelectionError


def _ds(lazy=False, tmp_path=None):
    """4 stims x 5 neurons; neuron 4 only heard stim 3; stim 2 heard only by neuron 0."""
    rng = np.random.default_rng(0)
    Ts = [10, 12, 8, 9]
    stims = [rng.random((1, 3, T), dtype=np.float32) for T in Ts]
    resp = []
    for s, T in enumerate(Ts):
        row = []
        for n in range(5):
            has = (n < 4 and s != 2) or (s == 2 and n == 0) or (s == 3 and n == 4)
            row.append(rng.integers(0, 3, (1 + (s + n) % 3, T)) if has else None)
        resp.append(row)
    stim_meta = [{"type": t, "dur": d} for t, d in zip(["a", "b", "a", "c"], [1.0, 2.0, 3.0, 4.0])]
    stim_meta[3].pop("dur")
    nrn_meta = [{"area": a} for a in ["X", "Y", "X", "Y"]] + [{"depth": 10}]
    ds = strfh5.from_lists(stims, resp, dt_ms=5, stim_meta=stim_meta, nrn_meta=nrn_meta,
                           neuron_ids=[f"n{i}" for i in range(5)])
    if lazy:
        path = strfh5.save(ds, tmp_path / "d.strf.h5")
        return strfh5.load(path, lazy=True), resp
    return ds, resp


@pytest.fixture(params=[False, True], ids=["eager", "lazy"])
def ds_resp(request, tmp_path):
    return _ds(request.param, tmp_path)


def test_paradigm_attributes(ds_resp):
    ds, resp = ds_resp
    assert ds.get_S() == 4 and ds.get_N() == 5 and ds.N_neurons == 5
    assert ds.dt == 5 and ds.F == 3
    assert len(ds.stims) == 4 and tuple(ds.stims[1].shape) == (1, 3, 12)
    masks = np.array([[r is not None for r in row] for row in resp])
    assert ds.nrn_masks.dtype == torch.bool and tuple(ds.nrn_masks.shape) == (4, 5)
    assert np.array_equal(ds.nrn_masks.numpy(), masks)
    for s in range(4):
        for n in range(5):
            r = ds.responses[s][n]
            if resp[s][n] is None:
                assert r.shape == (1, 1) and torch.isnan(r).all()
            else:
                assert r.dtype == torch.float32
                np.testing.assert_array_equal(r.numpy(), resp[s][n])
    assert ds.responses[-1][-1].shape == resp[3][4].shape
    assert [len(list(row)) for row in ds.responses] == [5] * 4
    assert repr(ds).startswith("AudioNeuralDataset(N_neurons=5, selected=0, N_stims=4, dt_ms=5")
    assert ds.get_nrn_meta() == ds.nrn_meta


def test_iteration_and_items(ds_resp):
    ds, _ = ds_resp
    assert len(ds) == 4
    item = ds[1]
    assert isinstance(item, Item)
    assert list(item.keys()) == ["stims", "responses", "mask", "stim_meta", "neuron_indices", "stim_index"]
    assert item[3] is item["stim_meta"] and item[0] is item["stims"]
    # iterating / unpacking gives deepSTRF's 4-tuple (stim, responses, mask, stim_meta)
    stim, resps, mask, meta = item
    assert stim is item["stims"] and resps is item["responses"] and meta is item["stim_meta"] and len(item) == 4
    assert mask.dtype == torch.bool and mask.tolist() == [bool(ds.nrn_masks[1, n]) for n in range(5)]
    assert item[1:3] == (resps, mask)
    with pytest.raises(IndexError, match="neuron_indices"):
        item[4]
    assert item["stim_index"] == 1 and item["neuron_indices"] == [0, 1, 2, 3, 4]
    assert len(item["responses"]) == 5
    assert ds[-1]["stim_index"] == 3
    with pytest.raises(IndexError):
        ds[4]
    with pytest.raises(IndexError):
        ds[-5]
    with pytest.raises(TypeError):
        ds["a"]
    assert [it["stim_index"] for it in ds] == [0, 1, 2, 3]


def test_bidirectional_rule_and_filters(ds_resp):
    ds, _ = ds_resp
    ds.select_neuron(4)
    assert len(ds) == 1 and ds[0]["stim_index"] == 3
    with pytest.raises(IndexError):
        ds[1]
    ds.reset_pop_selection()
    assert ds.select_stim(2) == [2]
    assert ds._selected() == [0]  # only neuron 0 heard stim 2
    assert len(ds) == 1 and len(ds[0]["responses"]) == 1
    ds.select_pop_by_nrn_attr("area", "Y")  # neurons 1, 3: no data on stim 2
    assert ds._selected() == [] and len(ds) == 0
    ds.reset_stim_selection()
    assert ds._selected() == [1, 3] and len(ds) == 3  # stims 0, 1, 3
    assert [ds[i]["stim_index"] for i in range(len(ds))] == [0, 1, 3]
    ds.reset_pop_selection()
    assert ds.select_stims_by_attr("type", "a") == [0, 2]
    assert ds._selected() == [0, 1, 2, 3] and len(ds) == 2
    assert ds.select_stims_by_predicate(lambda m: m["dur"] > 1.5) == [1, 2]  # stim 3 lacks 'dur': skipped
    ds.reset_stim_selection()
    assert ds.select_pop_by_stim_attr("type", "c") == [0, 1, 2, 3, 4]
    assert ds.select_pop_by_stim_predicate(lambda m: m["dur"] == 3.0) == [0]
    assert ds.select_pop_by_nrn_predicate(lambda m: m["depth"] > 5) == [4]  # others lack 'depth'
    assert ds.select_population([3, 1]) == [3, 1]
    assert ds[0]["neuron_indices"] == [3, 1]
    # I and S_sel are plain attributes (seed 000 sets chimera.I = [])
    ds.I = []
    ds.S_sel = [3]
    assert len(ds) == 1 and ds._selected() == [0, 1, 2, 3, 4]


def test_selection_errors(ds_resp):
    ds, _ = ds_resp
    for bad in (5, -1, 1.0, "0", True):
        with pytest.raises(SelectionError):
            ds.select_neuron(bad)
    with pytest.raises(SelectionError):
        ds.select_stim(4)
    with pytest.raises(SelectionError, match="duplicates"):
        ds.select_population([1, 1])
    with pytest.raises(SelectionError, match="reset_pop_selection"):
        ds.select_population([])
    with pytest.raises(SelectionError, match="reset_stim_selection"):
        ds.select_stims([])
    with pytest.raises(SelectionError, match=r"'X', 'Y'"):
        ds.select_pop_by_nrn_attr("area", "x")
    with pytest.raises(SelectionError, match="no record has the key"):
        ds.select_stims_by_attr("subset", "val")
    with pytest.raises(SelectionError, match="matched no"):
        ds.select_stims_by_predicate(lambda m: False)
    with pytest.raises(SelectionError):
        ds.select_pop_by_nrn_predicate(lambda m: m["nope"])
    assert ds.I == [] and ds.S_sel is None  # failed selections change nothing
    ds.I = [7]
    with pytest.raises(SelectionError, match="out of range"):
        len(ds)
    assert isinstance(SelectionError("x"), IndexError)


def test_pickle_and_context_manager(tmp_path):
    ds, _ = _ds(True, tmp_path)
    ds.select_population([0, 4])
    ds[0]  # opens the handle
    clone = pickle.loads(pickle.dumps(ds))
    assert clone.I == [0, 4] and len(clone) == len(ds)
    for i in range(len(ds)):
        a, b = ds[i], clone[i]
        assert a["stim_index"] == b["stim_index"]
        assert all(torch.equal(x, y) or (torch.isnan(x).all() and torch.isnan(y).all())
                   for x, y in zip(a["responses"], b["responses"]))
    with ds:
        pass
    assert ds.contents.handle._h5 is None
    assert ds[0]["stim_index"] == 0  # reopens on demand


def test_response_row_edits_and_mask_invalidation():
    ds, _ = _ds(False)
    row = ds.responses[0]
    assert isinstance(row, ResponseRow)
    row[1] = torch.full((1, 1), float("nan"))
    assert bool(ds.nrn_masks[0, 1])  # masks come from /repeats until invalidated
    ds._invalidate_nrn_masks()
    assert not bool(ds.nrn_masks[0, 1])
    assert torch.isnan(ds[0]["responses"][1]).all()
    with pytest.raises(TypeError):
        row[0] = np.zeros((1, 10))


def test_tables():
    pd = pytest.importorskip("pandas")
    ds, _ = _ds(False)
    nt = ds.nrn_table()
    assert isinstance(nt, pd.DataFrame) and list(nt["id"]) == [f"n{i}" for i in range(5)]
    assert list(nt["n_stims"]) == [4, 3, 3, 3, 1]
    stt = ds.stim_table()
    assert list(stt["n_bins"]) == [10, 12, 8, 9] and list(stt["type"]) == ["a", "b", "a", "c"]


def test_tables_without_pandas(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now fails
    ds, _ = _ds(False)
    with pytest.raises(ImportError, match=r"nrn_table\(\) needs .*'pandas'.*pip install 'strfh5\[tables\]'") as e:
        ds.nrn_table()
    assert isinstance(e.value, strfh5.errors.MissingDependencyError)


def test_row_tensors_and_row_block(ds_resp):
    ds, resp = ds_resp
    rows = ds.row_tensors(3)
    assert [r is None for r in rows] == [x is None for x in resp[3]]
    data, reps = ds.row_block(3, [4, 0])
    assert reps.tolist() == [resp[3][4].shape[0], resp[3][0].shape[0]]
    np.testing.assert_array_equal(data.numpy(), np.concatenate([resp[3][4], resp[3][0]]))
    with pytest.raises(SelectionError):
        ds.row_block(9)
