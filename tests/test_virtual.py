"""On-disk concatenation (SPEC §9): virtual datasets, source checks, flattening, materialize."""

from __future__ import annotations

import os
import shutil

import h5py
import numpy as np
import pytest
import torch

import strfh5
from strfh5 import layout as L
from strfh5.cli.main import main as cli
from strfh5.contents import FileContents
from strfh5.records import Events
from strfh5.errors import (
    DuplicateIdError,
    IncompatibleDatasetsError,
    SourceFileError,
    UnsafeSourcePathError,
)
from strfh5.concatenation import concat, materialize
from strfh5.h5io import check_sources, read_sources, source_findings


# ------------------------------------------------------------------ helpers
def make_contents(prefix, S, N, *, seed=0, events=True, F=4, dt_ms=5.0, stim_ids=None, big_counts=False,
                  area="A1"):
    rng = np.random.default_rng(seed)
    stims = [rng.random((1, F, 8 + 2 * s)).astype(np.float32) for s in range(S)]
    resp = []
    for s in range(S):
        row = []
        for n in range(N):
            if (s + n) % 3 == 2:
                row.append(None)
            elif events:
                R = 1 + (s + n) % 3
                row.append([np.sort(rng.random(rng.integers(0, 6)) * 60.0 - 5.0) for _ in range(R)])
            else:
                R = 1 + (s + n) % 3
                hi = 400 if big_counts else 4
                row.append(rng.integers(0, hi, (R, 8 + 2 * s)))
        resp.append(row)
    kw = dict(spike_times=resp) if events else dict(responses=resp)
    return strfh5.contents_from_lists(
        stims, dt_ms=dt_ms,
        stim_ids=stim_ids or [f"{prefix}-s{s}" for s in range(S)],
        neuron_ids=[f"{prefix}-n{n}" for n in range(N)],
        stim_meta=[{"name": f"{prefix} stim {s}"} for s in range(S)],
        nrn_meta=[{"area": area, "origin": prefix, "k": n} for n in range(N)],
        file_meta={"source": "user", "title": prefix}, **kw)


def write(tmp_path, name, contents):
    p = tmp_path / name
    strfh5.save(contents, p)
    return str(p)


@pytest.fixture
def three(tmp_path):
    a = make_contents("a", 3, 4, seed=1)
    b = make_contents("b", 2, 3, seed=2)
    c = make_contents("c", 4, 2, seed=3)
    paths = [write(tmp_path, f"{x}.strf.h5", cc) for x, cc in zip("abc", (a, b, c))]
    return paths, [a, b, c]


def rows_equal(x, y):
    assert len(x) == len(y)
    for ex, ey in zip(x, y):
        if ex is None or ey is None:
            assert ex is None and ey is None
        elif isinstance(ex, Events):
            np.testing.assert_array_equal(ex.times, ey.times)
            np.testing.assert_array_equal(ex.counts, ey.counts)
        else:
            np.testing.assert_array_equal(ex, ey)


def items_equal(d1, d2):
    assert len(d1) == len(d2)
    for i in range(len(d1)):
        x, y = d1[i], d2[i]
        assert x["stim_index"] == y["stim_index"] and x["neuron_indices"] == y["neuron_indices"]
        assert x["stim_meta"] == y["stim_meta"]
        assert torch.equal(x["stims"], y["stims"])
        for p, q in zip(x["responses"], y["responses"]):
            assert p.shape == q.shape
            assert torch.equal(torch.nan_to_num(p, nan=-1.0), torch.nan_to_num(q, nan=-1.0))


def block_diag(reps):
    S = sum(r.shape[0] for r in reps)
    N = sum(r.shape[1] for r in reps)
    out = np.zeros((S, N), dtype=np.int64)
    s0 = n0 = 0
    for r in reps:
        out[s0 : s0 + r.shape[0], n0 : n0 + r.shape[1]] = r
        s0 += r.shape[0]
        n0 += r.shape[1]
    return out


# ------------------------------------------------------------------ structure
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
    mem = strfh5.concat_neural_datasets([_eager(c) for c in cs])
    got = strfh5.load(copy)
    items_equal(got, mem)
    assert got.stim_meta == mem.stim_meta and got.nrn_meta == mem.nrn_meta


def _eager(contents):
    from strfh5.reader import dataset_from_contents

    return dataset_from_contents(contents)


# ------------------------------------------------------------------ source checks
def test_missing_source_is_named(tmp_path, three):
    paths, _ = three
    out = concat(paths[:2], tmp_path / "ab.strf.h5")
    os.rename(paths[1], paths[1] + ".moved")
    with pytest.raises(SourceFileError, match="source 1 'b.strf.h5'.*missing"):
        strfh5.load(out)
    with h5py.File(out) as f:
        codes = [x[0] for x in source_findings(f, out)]
    assert codes == ["E902"]


def test_replaced_source_is_named(tmp_path, three):
    paths, cs = three
    out = concat(paths[:2], tmp_path / "ab.strf.h5")
    strfh5.save(cs[1], paths[1], overwrite=True)  # same content, new uuid
    with pytest.raises(SourceFileError, match="'b.strf.h5'.*uuid.*replaced"):
        strfh5.load(out, lazy=True)


def test_fifo_and_directory_sources_do_not_hang(tmp_path, three):
    paths, _ = three
    out = concat(paths[:2], tmp_path / "ab.strf.h5")
    os.remove(paths[1])
    os.mkfifo(paths[1])
    with pytest.raises(SourceFileError, match="FIFO"):
        strfh5.load(out)
    os.remove(paths[1])
    os.mkdir(paths[1])
    with pytest.raises(SourceFileError, match="directory"):
        strfh5.load(out)


def test_source_with_other_shape_is_refused(tmp_path, three):
    paths, cs = three
    out = concat(paths[:2], tmp_path / "ab.strf.h5")
    uid = FileContents(paths[1]).info.uuid
    strfh5.save(make_contents("b", 3, 3, seed=9), paths[1], overwrite=True)
    with h5py.File(paths[1], "a") as f:  # forge the recorded uuid
        f.attrs[L.ATTR_UUID] = uid
    with pytest.raises(SourceFileError, match="shape"):
        strfh5.load(out)


def _copy_concat(tmp_path, three, name="crafted.strf.h5"):
    paths, _ = three
    out = concat(paths[:2], tmp_path / "ab.strf.h5", overwrite=True)
    crafted = str(tmp_path / name)
    shutil.copy(out, crafted)
    return paths, crafted


def test_virtual_source_pointing_outside_is_refused(tmp_path, three):
    inner = tmp_path / "shared"
    inner.mkdir()
    paths = []
    for p in three[0][:2]:
        paths.append(shutil.copy(p, inner))
    out = concat(paths, inner / "ab.strf.h5")
    # the attacker's file: /responses maps a file outside the folder, the recorded paths are innocent
    outside = shutil.copy(three[0][1], tmp_path / "secret.strf.h5")
    with h5py.File(out, "a") as f:
        S, N = f[L.REPEATS].shape
        vdt = f[L.RESPONSES].dtype
        del f[L.RESPONSES]
        lay = h5py.VirtualLayout((S, N), dtype=vdt)
        lay[3:5, 4:7] = h5py.VirtualSource("../secret.strf.h5", L.RESPONSES, shape=(2, 3), dtype=vdt)
        f.create_virtual_dataset(L.RESPONSES, lay)
    with pytest.raises(UnsafeSourcePathError, match="'../secret.strf.h5'"):
        strfh5.load(out)
    with h5py.File(out) as f:
        assert "E907" in [x[0] for x in source_findings(f, out)]
    # recorded paths leaving the folder are refused too, and accepted on explicit opt-in
    with h5py.File(out, "a") as f:
        del f[L.RESPONSES]
        lay = h5py.VirtualLayout((S, N), dtype=vdt)
        lay[0:3, 0:4] = h5py.VirtualSource("a.strf.h5", L.RESPONSES, shape=(3, 4), dtype=vdt)
        lay[3:5, 4:7] = h5py.VirtualSource("../secret.strf.h5", L.RESPONSES, shape=(2, 3), dtype=vdt)
        f.create_virtual_dataset(L.RESPONSES, lay)
        paths_ds = f[L.SOURCE_PATHS]
        paths_ds[1] = "../secret.strf.h5"
        f[L.SOURCES].move("uuids", "uuids_old")
        uu = [x.decode() for x in f["sources/uuids_old"][()]]
        uu[1] = FileContents(outside).info.uuid
        f[L.SOURCES].create_dataset("uuids", data=np.array(uu, dtype=object), dtype=h5py.string_dtype())
        del f["sources/uuids_old"]
        for s in (3, 4):
            del f[L.stim_group_path(s)]
            f[L.stim_group_path(s)] = h5py.ExternalLink("../secret.strf.h5", "/" + L.stim_group_path(s - 3))
        # keep counts/repeats mapping consistent with the recorded paths
        for name in (L.REPEATS, L.COUNTS):
            dt = f[name].dtype
            fill = {"fillvalue": 0} if name == L.REPEATS else {}
            del f[name]
            lay = h5py.VirtualLayout((S, N), dtype=dt)
            lay[0:3, 0:4] = h5py.VirtualSource("a.strf.h5", name, shape=(3, 4), dtype=dt)
            lay[3:5, 4:7] = h5py.VirtualSource("../secret.strf.h5", name, shape=(2, 3), dtype=dt)
            f.create_virtual_dataset(name, lay, **fill)
    with pytest.raises(UnsafeSourcePathError, match="leaves the folder"):
        strfh5.load(out)
    ds = strfh5.load(out, allow_external=True)
    assert ds.nrn_masks.sum() > 0


def test_absolute_source_path_and_external_link_refused(tmp_path, three):
    paths, crafted = _copy_concat(tmp_path, three)
    with h5py.File(crafted, "a") as f:
        f[L.SOURCE_PATHS][0] = paths[0]  # absolute
    with pytest.raises(UnsafeSourcePathError, match="absolute"):
        strfh5.load(crafted)
    paths, crafted = _copy_concat(tmp_path, three, "crafted2.strf.h5")
    with h5py.File(crafted, "a") as f:
        del f[L.stim_group_path(0)]
        f[L.stim_group_path(0)] = h5py.ExternalLink("../elsewhere.strf.h5", "/stimuli/000000")
    with pytest.raises(UnsafeSourcePathError, match="external link"):
        strfh5.load(crafted)


def test_plain_file_with_virtual_dataset_refused(tmp_path, three):
    paths, _ = three
    plain = shutil.copy(paths[0], tmp_path / "plain.strf.h5")
    with h5py.File(plain, "a") as f:
        vdt = f[L.RESPONSES].dtype
        shape = f[L.RESPONSES].shape
        del f[L.RESPONSES]
        lay = h5py.VirtualLayout(shape, dtype=vdt)
        lay[:, :] = h5py.VirtualSource("a.strf.h5", L.RESPONSES, shape=shape, dtype=vdt)
        f.create_virtual_dataset(L.RESPONSES, lay)
    with pytest.raises(SourceFileError, match="not marked concatenated"):
        strfh5.load(plain)
    with h5py.File(plain) as f:
        assert [x[0] for x in source_findings(f, plain)] == ["E911"]


def test_hdf5_prefix_environment_refused(tmp_path, three, monkeypatch):
    paths, _ = three
    out = concat(paths[:2], tmp_path / "ab.strf.h5")
    monkeypatch.setenv("HDF5_VDS_PREFIX", "/somewhere")
    with pytest.raises(UnsafeSourcePathError, match="HDF5_VDS_PREFIX"):
        strfh5.load(out)


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
