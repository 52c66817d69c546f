"""In-memory concatenation: concat_neural_datasets and ``a + b`` (seeds 000, 002)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import strfh5
from strfh5.concatenation import ConcatContents
from strfh5.errors import DuplicateIdError, IncompatibleDatasetsError, TransformError

from concat_cases import block_diag, items_equal, make_contents


def _ds(contents, **kw):
    from strfh5.reader import dataset_from_contents

    return dataset_from_contents(contents, **kw)


@pytest.fixture
def parts():
    return [make_contents("a", 3, 4, seed=1, area="Field_L"), make_contents("b", 2, 3, seed=2, area="MLd"),
            make_contents("c", 4, 2, seed=3, area="mld")]


@pytest.mark.parametrize("k", [2, 3])
def test_block_diagonal_in_memory(parts, k):
    dss = [_ds(c) for c in parts[:k]]
    combined = strfh5.concat_neural_datasets(dss)
    assert type(combined).__name__ == "AudioNeuralDataset"
    assert combined.get_S() == sum(d.get_S() for d in dss)
    assert combined.N_neurons == sum(d.N_neurons for d in dss)
    expected = block_diag([d.nrn_masks.numpy().astype(np.int64) for d in dss]).astype(bool)
    np.testing.assert_array_equal(combined.nrn_masks.numpy(), expected)
    assert int(combined.nrn_masks.sum()) == sum(int(d.nrn_masks.sum()) for d in dss)
    assert combined.stim_meta == [m for d in dss for m in d.stim_meta]
    assert combined.nrn_meta == [m for d in dss for m in d.nrn_meta]
    assert combined.nrn_meta[dss[0].N_neurons] == dss[1].nrn_meta[0]
    # cross blocks hold the (1, 1) NaN sentinel, blocks the inputs' tensors
    s1 = dss[0].get_S()
    assert combined.responses[s1][0].shape == (1, 1) and torch.isnan(combined.responses[s1][0]).all()
    for s in range(dss[0].get_S()):
        for n in range(dss[0].N_neurons):
            assert torch.equal(torch.nan_to_num(combined.responses[s][n], nan=-1),
                               torch.nan_to_num(dss[0].responses[s][n], nan=-1))
    pairwise = dss[0] + dss[1]
    if k == 2:
        items_equal(pairwise, combined)


def test_sum_and_add_agree(parts):
    a, b, c = (_ds(x) for x in parts)
    items_equal(sum([a, b, c]), strfh5.concat_neural_datasets([a, b, c]))


def test_selection_and_collate(parts):
    a, b = _ds(parts[0]), _ds(parts[1])
    combined = a + b
    combined.select_population(list(range(a.N_neurons)))
    assert len(combined) == a.get_S()
    with pytest.raises(IndexError):
        combined[a.get_S()]
    combined.select_population(list(range(a.N_neurons, combined.N_neurons)))
    assert len(combined) == b.get_S() and combined[0]["stim_index"] == a.get_S()
    combined.reset_pop_selection()
    # select MLd neurons across both sources, case-insensitively (seed 000 §4)
    mld = [n for n, m in enumerate(combined.nrn_meta) if m["area"].lower() == "mld"]
    combined.select_population(mld)
    assert len(combined) == b.get_S()
    combined.reset_pop_selection()
    batch = strfh5.neural_collate([combined[i] for i in range(len(combined))])
    vm = batch["valid_mask"]
    assert not vm[: a.get_S(), a.N_neurons :].any() and not vm[a.get_S() :, : a.N_neurons].any()
    assert torch.equal(vm.flatten(2).any(-1), combined.nrn_masks)


def test_lazy_stays_lazy(tmp_path, parts):
    paths = []
    for i, c in enumerate(parts):
        paths.append(str(tmp_path / f"{i}.strf.h5"))
        strfh5.save(c, paths[-1])
    lazy = strfh5.concat_neural_datasets([strfh5.load(p, lazy=True) for p in paths])
    assert lazy.lazy and isinstance(lazy.contents, ConcatContents)
    eager = strfh5.concat_neural_datasets([strfh5.load(p) for p in paths])
    assert not eager.lazy
    items_equal(lazy, eager)
    # lazy + eager gives an eager result with the same items
    items_equal(strfh5.load(paths[0], lazy=True) + strfh5.load(paths[1]),
                strfh5.load(paths[0]) + strfh5.load(paths[1]))
    # read at a coarser bin width
    l10 = strfh5.load(paths[0], lazy=True, dt_ms=10) + strfh5.load(paths[1], lazy=True, dt_ms=10)
    e10 = strfh5.load(paths[0], dt_ms=10) + strfh5.load(paths[1], dt_ms=10)
    assert l10.dt == 10
    items_equal(l10, e10)


def test_eager_transforms_are_kept_and_not_reapplied(parts):
    a, b = _ds(parts[0]), _ds(parts[1])
    a.normalize_responses("max")
    b.normalize_responses("max")
    combined = a + b
    for s in range(a.get_S()):
        for n in range(a.N_neurons):
            assert torch.equal(torch.nan_to_num(combined.responses[s][n], nan=-1),
                               torch.nan_to_num(a.responses[s][n], nan=-1))
    assert [t["name"] for t in combined.transforms] == ["normalize_responses"]
    with pytest.raises(TransformError, match="already applied"):
        combined.normalize_responses("max")
    with pytest.raises(TransformError):
        strfh5.save(combined, "/tmp/never-written.strf.h5")


@pytest.mark.parametrize("other_lazy", [False, True])
def test_lazy_input_with_transforms_pools_its_loaded_state(tmp_path, parts, other_lazy):
    p, q = str(tmp_path / "a.strf.h5"), str(tmp_path / "b.strf.h5")
    strfh5.save(parts[0], p)
    strfh5.save(parts[1], q)
    a = strfh5.load(p, lazy=True)
    a.smooth_responses()
    combined = a + strfh5.load(q, lazy=other_lazy)
    assert combined.lazy == other_lazy and [t["name"] for t in combined.transforms] == ["smooth_responses", "concat"]
    ref = _ds(parts[0])
    ref.smooth_responses()
    items_equal(combined, ref + _ds(parts[1]))
    with pytest.raises(TransformError, match="already applied"):
        combined.smooth_responses()
    with pytest.raises(TransformError, match="raw data"):
        strfh5.save(combined, str(tmp_path / "never.strf.h5"))


@pytest.mark.parametrize("lazy", [False, True], ids=["eager", "lazy"])
def test_loaded_state_pools_events_with_binned_and_stored_dt(tmp_path, lazy):
    """An events file read at 5 ms, a binned 5 ms file and a 1 ms events file read at 5 ms concatenate."""
    ev = make_contents("ev", 3, 4, seed=1)
    bn = make_contents("bn", 2, 3, seed=2, events=False)
    fine = make_contents("fi", 2, 2, seed=3, dt_ms=1.0)
    paths = [str(tmp_path / f"{x}.strf.h5") for x in ("ev", "bn", "fi")]
    for c, path in zip((ev, bn, fine), paths):
        strfh5.save(c, path)
    dss = [strfh5.load(paths[0], lazy=lazy), strfh5.load(paths[1], lazy=lazy),
           strfh5.load(paths[2], dt_ms=5, lazy=lazy)]
    combined = strfh5.concat_neural_datasets(dss)
    assert combined.lazy == lazy and combined.dt == 5 and combined.encoding == "binned"
    assert combined.N_neurons == 9 and combined.get_S() == 7
    assert "dt_ms=5" in repr(combined) and "encoding='binned'" in repr(combined)
    assert "concatenation of 3: files=" in repr(combined) and paths[2] in repr(combined)
    # every item equals the input's own item: the loaded states, unchanged
    s0 = n0 = 0
    for d in dss:
        for s in range(d.get_S()):
            for n in range(d.N_neurons):
                p, q = combined.responses[s0 + s][n0 + n], d.responses[s][n]
                assert torch.equal(torch.nan_to_num(p, nan=-1.0), torch.nan_to_num(q, nan=-1.0))
            assert torch.equal(combined.stims[s0 + s], d.stims[s])
        s0, n0 = s0 + d.get_S(), n0 + d.N_neurons
    # save writes the loaded state: a binned file at 5 ms whose items equal the result's
    out = str(tmp_path / "pooled.strf.h5")
    strfh5.save(combined, out)
    assert strfh5.validate(out).ok
    back = strfh5.load(out, lazy=lazy)
    assert back.encoding == "binned" and back.file_dt == 5.0 and back.response_kind == "counts"
    items_equal(back, combined)
    assert [src["metadata"]["title"] for src in back.info.metadata["sources"]] == ["ev", "bn", "fi"]


def test_stored_alike_inputs_still_save_spike_times(tmp_path, parts):
    combined = _ds(parts[0]) + _ds(parts[1])
    assert combined.encoding == "events"
    out = str(tmp_path / "ab.strf.h5")
    strfh5.save(combined, out)
    assert strfh5.load(out).encoding == "events"


def test_incompatible(tmp_path, parts):
    a = _ds(parts[0])
    cases = [
        ("dt", _ds(make_contents("x", 2, 2, dt_ms=1.0))),
        ("F", _ds(make_contents("y", 2, 2, F=6))),
    ]
    for what, other in cases:
        with pytest.raises(IncompatibleDatasetsError) as e:
            strfh5.concat_neural_datasets([a, _ds(parts[1]), other])
        assert what in str(e.value) and "input 0" in str(e.value) and "input 2" in str(e.value)
    p = str(tmp_path / "a.strf.h5")
    strfh5.save(parts[0], p)
    with pytest.raises(IncompatibleDatasetsError, match=r"dt differs \(5 ms vs 10 ms\)"):
        strfh5.load(p) + strfh5.load(p, dt_ms=10)
    try:  # deepSTRF code catches the refusal as an AssertionError
        strfh5.load(p) + strfh5.load(p, dt_ms=10)
    except AssertionError as e:
        assert "dt differs" in str(e)
    else:  # pragma: no cover
        raise AssertionError("not refused")
    video = strfh5.from_lists([np.zeros((1, 3, 4, 6), np.float32)], [[np.ones((1, 6))]], dt_ms=5,
                              neuron_ids=["v0"])
    with pytest.raises(IncompatibleDatasetsError):
        a + video
    with pytest.raises(IncompatibleDatasetsError, match="not a strfh5 NeuralDataset"):
        strfh5.concat_neural_datasets([a, [1, 2]])


def test_video_concat_and_hw_check():
    def vid(prefix, H, W):
        return strfh5.from_lists([np.random.default_rng(0).random((1, H, W, 6)).astype(np.float32)],
                                 [[np.ones((2, 6))]], dt_ms=40, neuron_ids=[f"{prefix}0"],
                                 stim_ids=[f"{prefix}s"])
    v = vid("a", 3, 4) + vid("b", 3, 4)
    assert type(v).__name__ == "VideoNeuralDataset" and (v.H, v.W) == (3, 4)
    assert v.nrn_masks.tolist() == [[True, False], [False, True]]
    with pytest.raises(IncompatibleDatasetsError, match="H differs"):
        vid("a", 3, 4) + vid("c", 5, 4)


def test_duplicate_neurons_in_memory(parts):
    a = _ds(parts[0])
    with pytest.raises(DuplicateIdError, match="'a-n0'") as e:
        a + _ds(parts[0])
    assert "concat_neural_datasets([a, b], allow_duplicate_neurons=True)" in str(e.value)
    both = strfh5.concat_neural_datasets([a, _ds(parts[0])], allow_duplicate_neurons=True)
    assert both.N_neurons == 2 * a.N_neurons and both.get_S() == 2 * a.get_S()


def test_save_in_memory_concat_round_trip(tmp_path, parts):
    combined = _ds(parts[0]) + _ds(parts[1])
    out = str(tmp_path / "ab.strf.h5")
    strfh5.save(combined, out)
    back = strfh5.load(out)
    items_equal(back, combined)
    assert back.info.metadata["source"] == "concat"
    assert [s["metadata"]["title"] for s in back.info.metadata["sources"]] == ["a", "b"]


def test_result_type_is_the_most_specific_common_class(parts):
    from strfh5.dataset import AudioNeuralDataset

    class AA1(AudioNeuralDataset):
        pass

    class AA2(AudioNeuralDataset):
        pass

    class FromPath(AudioNeuralDataset):  # a constructor that raw contents cannot feed
        def __init__(self, contents, flavour):
            super().__init__(contents)
            self.flavour = flavour

    for lazy_input in (False, True):
        a, b, c = AA1(parts[0], lazy=lazy_input), AA1(parts[1], lazy=lazy_input), AA2(parts[2], lazy=lazy_input)
        same = a + b
        assert type(same) is AA1 and same.lazy == lazy_input
        assert type(strfh5.concat_neural_datasets([a, b, c])) is AudioNeuralDataset
        items_equal(same, _ds(parts[0]) + _ds(parts[1]))
    odd = FromPath(parts[0], "x") + FromPath(parts[1], "y")
    assert type(odd) is AudioNeuralDataset and odd.N_neurons == 7


def test_from_blocks_builds_an_eager_dataset_and_checks_its_blocks(parts):
    from strfh5.dataset import AudioNeuralDataset
    from strfh5.errors import InvalidDataError

    src = _ds(parts[0])
    src.smooth_responses()
    blocks = [src.row_block(s) for s in range(src.get_S())]
    stims = [src.stims[s] for s in range(src.get_S())]
    ds = AudioNeuralDataset.from_blocks(parts[0], blocks, stims, transforms=[{"name": "smooth_responses"}])
    assert not ds.lazy and type(ds) is AudioNeuralDataset
    items_equal(ds, src)
    with pytest.raises(TransformError, match="already applied"):
        ds.smooth_responses()
    with pytest.raises(InvalidDataError, match="3 stimuli, got 2 response blocks"):
        AudioNeuralDataset.from_blocks(parts[0], blocks[:2], stims[:2])
    data, reps = blocks[1]
    with pytest.raises(InvalidDataError, match="block 1 .* shape"):
        AudioNeuralDataset.from_blocks(parts[0], [blocks[0], (data[:, :-1], reps), blocks[2]], stims)
    with pytest.raises(InvalidDataError, match="repeats of block 1"):
        AudioNeuralDataset.from_blocks(parts[0], [blocks[0], (data, reps + 1), blocks[2]], stims)


def test_disk_concat_refusal_names_the_rewrite_command(tmp_path):
    ev = str(tmp_path / "ev.strf.h5")
    bn = str(tmp_path / "bn.strf.h5")
    fine = str(tmp_path / "fine.strf.h5")
    strfh5.save(make_contents("ev", 2, 2, seed=1), ev)
    strfh5.save(make_contents("bn", 2, 2, seed=2, events=False), bn)
    strfh5.save(make_contents("fi", 2, 2, seed=3, dt_ms=1.0), fine)
    with pytest.raises(IncompatibleDatasetsError, match="encodings differ") as e:
        strfh5.concat([ev, bn], tmp_path / "x.strf.h5")
    assert "strfh5 rewrite IN -o OUT --dt-ms 5 --encoding binned" in str(e.value) and "(a + b)" in str(e.value)
    with pytest.raises(IncompatibleDatasetsError, match="stored dt_ms differs") as e:
        strfh5.concat([ev, fine], tmp_path / "y.strf.h5")
    assert "strfh5 rewrite IN -o OUT --dt-ms 5 --encoding binned" in str(e.value)
    # the same inputs pool in memory
    assert (strfh5.load(ev) + strfh5.load(bn) + strfh5.load(fine, dt_ms=5)).N_neurons == 6
