"""On-disk concatenation (SPEC §9): virtual datasets, flattening, materialize, the CLI."""


from __future__ import annotations

import os

import h5py
import numpy as np
import pytest
import torch

import strfh5
from strfh5 import layout as L
from strfh5.cli.main import main as cli
from strfh5.contents import FileContents
from strfh5.errors import (
    CorruptDataError,
    DuplicateIdError,
    FileFormatError,
    IncompatibleDatasetsError,
    UnsafeSourcePathError,
)
from strfh5.concatenation import concat, materialize
from strfh5.h5io import check_sources, read_sources, source_findings

from concat_cases import block_diag, eager, items_equal, make_contents, rows_equal, three_files, write
from hostile.cases_bounds import _huge_stimulus, _huge_table
from hostile.cases_types import _float_repeats, _group_for, _stim_data
from hostile.craft import concatenated, edit, replace


@pytest.fixture
def three(tmp_path):
    return three_files(tmp_path)


@pytest.mark.parametrize("k", [2, 3])
def test_concat_block_diagonal(tmp_path, three, k):
    paths, cs = three
    out = concat(paths[:k], tmp_path / "cat.strf.h5")
    assert os.path.getsize(out) < 1_000_000
    fc = FileContents(out)
    try:
        assert fc.info.concatenated
        assert (fc.S, fc.N) == (sum(c.S for c in cs[:k]), sum(c.N for c in cs[:k]))
        np.testing.assert_array_equal(fc.repeats, block_diag([c.repeats for c in cs[:k]]))
        assert fc.masks.sum() == sum(c.masks.sum() for c in cs[:k])
        assert fc.stim_ids == [x for c in cs[:k] for x in c.stim_ids]
        assert fc.stim_meta == [x for c in cs[:k] for x in c.stim_meta]
        assert fc.nrn_meta == [x for c in cs[:k] for x in c.nrn_meta]
        assert fc.neuron_ids == [x for c in cs[:k] for x in c.neuron_ids]
        assert [m["metadata"]["title"] for m in fc.info.metadata["sources"]] == list("abc"[:k])
        s0 = n0 = 0
        for c in cs[:k]:
            for s in range(c.S):
                row = fc.row(s0 + s)
                rows_equal(row[n0 : n0 + c.N], c.row(s))
                assert all(e is None for j, e in enumerate(row) if not n0 <= j < n0 + c.N)
                np.testing.assert_array_equal(fc.stim(s0 + s), c.stim(s))
            s0 += c.S
            n0 += c.N
    finally:
        fc.close()
    with h5py.File(out, "r") as f:
        for name in (L.RESPONSES, L.REPEATS, L.COUNTS):
            assert f[name].is_virtual
        assert isinstance(f.get(L.stim_group_path(0), getlink=True), h5py.ExternalLink)
        assert [x.decode() for x in f[L.SOURCE_PATHS][()]] == [os.path.basename(p) for p in paths[:k]]
        recs = read_sources(f, out)
        assert [r.uuid for r in recs] == [FileContents(p).info.uuid for p in paths[:k]]
    assert source_findings(h5py.File(out, "r"), out) == []


def test_binned_counts_of_different_widths_are_widened(tmp_path):
    a = make_contents("a", 2, 3, events=False, seed=4)
    b = make_contents("b", 3, 2, events=False, seed=5, big_counts=True)  # uint16 counts
    pa, pb = write(tmp_path, "a.strf.h5", a), write(tmp_path, "b.strf.h5", b)
    with h5py.File(pa) as f1, h5py.File(pb) as f2:
        assert h5py.check_vlen_dtype(f1[L.RESPONSES].dtype) == np.uint8
        assert h5py.check_vlen_dtype(f2[L.RESPONSES].dtype) == np.uint16
    out = concat([pa, pb], tmp_path / "ab.strf.h5")
    with FileContents(out) as fc:
        assert fc.stored_dtype() == np.uint16
        for s in range(2):
            rows_equal(fc.row(s, [0, 1, 2]), a.row(s))
        for s in range(3):
            rows_equal(fc.row(2 + s, [3, 4]), b.row(s))
    items_equal(strfh5.load(out), strfh5.load(pa) + strfh5.load(pb))


def test_disk_and_memory_concat_give_identical_items(tmp_path, three):
    paths, _ = three
    out = concat(paths, tmp_path / "abc.strf.h5")
    mem = strfh5.concat_neural_datasets([strfh5.load(p) for p in paths])
    items_equal(strfh5.load(out), mem)
    items_equal(strfh5.load(out, lazy=True), mem)
    assert torch.equal(strfh5.load(out).nrn_masks, mem.nrn_masks)


def test_selection_follows_blocks(tmp_path, three):
    """Seed 000 §4.5: selecting one source's neurons hides the other's stimuli."""
    paths, cs = three
    ds = strfh5.load(concat(paths[:2], tmp_path / "ab.strf.h5"), lazy=True)
    a, b = cs[0], cs[1]
    assert len(ds) == a.S + b.S
    ds.select_population(list(range(a.N)))
    assert len(ds) == a.S
    assert ds[0]["stim_meta"] == a.stim_meta[0] and ds[-1]["stim_meta"] == a.stim_meta[-1]
    with pytest.raises(IndexError):
        ds[a.S]
    ds.select_population(list(range(a.N, a.N + b.N)))
    assert len(ds) == b.S
    assert ds[0]["stim_index"] == a.S and ds[0]["stim_meta"] == b.stim_meta[0]


def test_collate_valid_mask_cross_blocks(tmp_path, three):
    paths, cs = three
    a, b = cs[0], cs[1]
    ds = strfh5.load(concat(paths[:2], tmp_path / "ab.strf.h5"))
    batch = strfh5.neural_collate([ds[i] for i in range(len(ds))])
    vm = batch["valid_mask"]
    assert vm.shape[:2] == (a.S + b.S, a.N + b.N)
    assert not vm[: a.S, a.N :].any() and not vm[a.S :, : a.N].any()
    recorded = vm.flatten(2).any(-1)
    assert torch.equal(recorded, ds.nrn_masks)


# ------------------------------------------------------------------ compatibility and ids
def test_incompatible_inputs_are_refused(tmp_path):
    a = write(tmp_path, "a.strf.h5", make_contents("a", 2, 2))
    cases = {
        "dt_ms": make_contents("b", 2, 2, dt_ms=1.0),
        "stim_dims": make_contents("c", 2, 2, F=6),
        "encodings": make_contents("d", 2, 2, events=False),
    }
    for i, (what, cc) in enumerate(cases.items()):
        p = write(tmp_path, f"x{i}.strf.h5", cc)
        with pytest.raises(IncompatibleDatasetsError) as e:
            concat([a, p], tmp_path / f"o{i}.strf.h5")
        msg = str(e.value)
        assert what in msg and "input 0" in msg and "input 1" in msg
    with pytest.raises(IncompatibleDatasetsError, match=r"\(5\.0 vs 1\.0\)"):
        concat([a, str(tmp_path / "x0.strf.h5")], tmp_path / "o.strf.h5")
    assert not any(n.startswith("o") for n in os.listdir(tmp_path))


def test_duplicate_neurons(tmp_path):
    a = write(tmp_path, "a.strf.h5", make_contents("a", 2, 3))
    b = write(tmp_path, "b.strf.h5", make_contents("a", 2, 3, seed=7, stim_ids=["x0", "x1"]))
    with pytest.raises(DuplicateIdError, match="'a-n0' \\(inputs 0, 1\\)"):
        concat([a, b], tmp_path / "ab.strf.h5")
    out = concat([a, b], tmp_path / "ab.strf.h5", allow_duplicate_neurons=True)
    ds = strfh5.load(out)
    assert ds.neuron_ids == ["a-n0", "a-n1", "a-n2"] * 2


def test_shared_stimuli_kept_apart_or_merged(tmp_path):
    a = make_contents("a", 3, 2, seed=1)
    b0 = make_contents("b", 2, 3, seed=2)
    # b's second stimulus is a's first (same id, same data and length)
    stims = [b0.stim(0), a.stim(0)]
    b = strfh5.contents_from_lists(stims, spike_times=[b0.row(0), b0.row(1)], dt_ms=5.0,
                                   stim_ids=["b-s0", "a-s0"], neuron_ids=b0.neuron_ids, nrn_meta=b0.nrn_meta)
    pa, pb = write(tmp_path, "a.strf.h5", a), write(tmp_path, "b.strf.h5", b)
    apart = strfh5.load(concat([pa, pb], tmp_path / "apart.strf.h5"))
    assert apart.stim_ids == ["a-s0", "a-s1", "a-s2", "b-s0", "a-s0"]
    assert apart.info.metadata["shared_stimulus_ids"] == ["a-s0"]
    merged_path = concat([pa, pb], tmp_path / "merged.strf.h5", merge_stimuli=True)
    merged = strfh5.load(merged_path)
    assert merged.stim_ids == ["a-s0", "a-s1", "a-s2", "b-s0"]
    assert merged.info.metadata["merged_stimulus_ids"] == ["a-s0"]
    m = merged.nrn_masks.numpy()
    np.testing.assert_array_equal(m[0, :2], a.masks[0])
    np.testing.assert_array_equal(m[0, 2:], b.masks[1])  # b's neurons share row 0
    assert m.sum() == a.masks.sum() + b.masks.sum()
    with FileContents(merged_path) as fc:
        rows_equal(fc.row(0, [2, 3, 4]), b.row(1))
        rows_equal(fc.row(0, [0, 1]), a.row(0))
    mem = strfh5.concat_neural_datasets([strfh5.load(pa), strfh5.load(pb)], merge_stimuli=True)
    items_equal(merged, mem)
    # a stimulus with the same id but other data cannot be merged
    c = strfh5.contents_from_lists([a.stim(0) + 1.0], spike_times=[b0.row(0)], dt_ms=5.0, stim_ids=["a-s0"],
                                   neuron_ids=["c-n0", "c-n1", "c-n2"])
    pc = write(tmp_path, "c.strf.h5", c)
    with pytest.raises(IncompatibleDatasetsError, match="'a-s0'.*differ"):
        concat([pa, pc], tmp_path / "bad.strf.h5", merge_stimuli=True)


# ------------------------------------------------------------------ flattening and materialize
def test_concat_of_concat_flattens(tmp_path, three):
    paths, cs = three
    ab = concat(paths[:2], tmp_path / "ab.strf.h5")
    nested = concat([ab, paths[2]], tmp_path / "ab_c.strf.h5")
    flat = concat(paths, tmp_path / "abc.strf.h5")
    with h5py.File(nested) as f:
        assert [x.decode() for x in f[L.SOURCE_PATHS][()]] == ["a.strf.h5", "b.strf.h5", "c.strf.h5"]
        for name in (L.RESPONSES, L.COUNTS):
            assert {m.file_name for m in f[name].virtual_sources()} == {"a.strf.h5", "b.strf.h5", "c.strf.h5"}
        assert f.get(L.stim_group_path(5), getlink=True).filename == "c.strf.h5"
    items_equal(strfh5.load(nested), strfh5.load(flat))


def test_materialize_round_trip(tmp_path, three):
    paths, cs = three
    out = concat(paths, tmp_path / "abc.strf.h5")
    sub = tmp_path / "send"
    sub.mkdir()
    copy = materialize(out, sub / "abc-full.strf.h5")
    with h5py.File(copy) as f:
        assert not f.attrs.get(L.ATTR_CONCATENATED, False)
        assert not f[L.RESPONSES].is_virtual
        assert L.INTEGRITY_RESPONSES in f
        assert not any(isinstance(f[L.STIMULI].get(k, getlink=True), h5py.ExternalLink) for k in f[L.STIMULI])
    for p in paths + [out]:
        os.remove(p)  # the copy is self-contained
    mem = strfh5.concat_neural_datasets([eager(c) for c in cs])
    got = strfh5.load(copy)
    items_equal(got, mem)
    assert got.stim_meta == mem.stim_meta and got.nrn_meta == mem.nrn_meta



def test_output_outside_sources_folder(tmp_path, three):
    paths, _ = three
    sub = tmp_path / "sub"
    sub.mkdir()
    with pytest.raises(UnsafeSourcePathError, match="outside the folder"):
        concat(paths[:2], sub / "ab.strf.h5")
    out = concat(paths[:2], sub / "ab.strf.h5", allow_external=True)
    with h5py.File(out) as f:
        assert f[L.SOURCE_PATHS][0].decode() == "../a.strf.h5"
    with pytest.raises(UnsafeSourcePathError):
        strfh5.load(out)
    assert strfh5.load(out, allow_external=True).get_S() == 5


def test_check_sources_on_open_handle(tmp_path, three):
    paths, _ = three
    out = concat(paths[:2], tmp_path / "ab.strf.h5")
    with h5py.File(out) as f:
        check_sources(f, out)  # no error


# ------------------------------------------------------------------ CLI
def test_cli_concat_and_materialize(tmp_path, three, capsys):
    paths, _ = three
    out = str(tmp_path / "cli.strf.h5")
    assert cli(["concat", *paths, "-o", out]) == 0
    assert "9 stimuli x 9 neurons from 3 source file(s)" in capsys.readouterr().out
    assert cli(["concat", paths[0], paths[0], "-o", str(tmp_path / "dup.strf.h5")]) == 2
    assert "allow-duplicate-neurons" in capsys.readouterr().err
    assert cli(["materialize", out, "-o", str(tmp_path / "full.strf.h5")]) == 0
    assert strfh5.load(str(tmp_path / "full.strf.h5")).get_N() == 9


# the reader's table and stimulus checks run on every input before anything is mapped (issue 12)
REFUSED_INPUTS = {  # case -> (builder, error class, what the message must name)
    "float-repeats": (_float_repeats, CorruptDataError, "/repeats"),
    "group-for-repeats": (_group_for(L.REPEATS), FileFormatError, "/repeats"),
    "huge-table-no-data": (_huge_table, CorruptDataError, "/neurons/ids"),
    "huge-stimulus-no-data": (_huge_stimulus, CorruptDataError, "/stimuli/000000/data"),
    "compound-stimulus": (_stim_data(lambda: np.zeros((1, 4, 10), dtype=[("a", "<f4")])), CorruptDataError,
                          "/stimuli/000000/data"),
}


@pytest.mark.parametrize("case", sorted(REFUSED_INPUTS))
@pytest.mark.parametrize("first", [True, False])
def test_concat_refuses_an_input_a_load_refuses(tmp_path, case, first):
    build, error, names = REFUSED_INPUTS[case]
    files = build(str(tmp_path / case))
    out = os.path.join(os.path.dirname(files.path), "cat.strf.h5")
    paths = [files.path, files.other] if first else [files.other, files.path]
    with pytest.raises(error) as e:
        concat(paths, out, allow_duplicate_neurons=True)
    assert names in str(e.value) and files.path in str(e.value)
    assert sorted(os.listdir(os.path.dirname(out))) == ["case.strf.h5", "other.strf.h5"]  # nothing written


def test_concat_checks_the_stimuli_of_a_concatenated_input(tmp_path):
    """A concatenated input's stimuli (external links into its sources) are checked through the links."""
    cat, a, _b = concatenated(str(tmp_path / "c"))
    edit(a, replace("stimuli/000000/data", np.ones((1, 4, 11), np.float32)))  # 11 frames for n_bins 10
    with pytest.raises(CorruptDataError, match="has 11 frames"):
        concat([cat], os.path.join(os.path.dirname(cat), "again.strf.h5"))
