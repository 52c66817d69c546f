"""strfh5.load: eager and lazy give identical items and batches; lazy is fork-safe and reads rows only."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

import strfh5
from strfh5.errors import CorruptDataError, NotStrfH5FileError


def _write(path, encoding, seed=0, S=6, N=5):
    rng = np.random.default_rng(seed)
    Ts = rng.integers(6, 14, S)
    stims = [rng.random((1, 3, int(T)), dtype=np.float32) for T in Ts]
    masks = rng.random((S, N)) > 0.3
    masks[0, 0] = True
    meta = [{"type": ["a", "b"][s % 2]} for s in range(S)]
    nmeta = [{"area": ["X", "Y", "Z"][n % 3]} for n in range(N)]
    if encoding == "events":
        sp = [[[np.sort(rng.uniform(-10, T * 5 + 10, rng.integers(0, 12))) for _ in range(1 + (s + n) % 3)]
               if masks[s, n] else None for n in range(N)] for s, T in enumerate(Ts)]
        ds = strfh5.from_lists(stims, spike_times=sp, dt_ms=5, stim_meta=meta, nrn_meta=nmeta)
    else:
        kind = "continuous" if encoding == "continuous" else "counts"
        resp = [[(rng.standard_normal((1 + (s * n) % 3, int(T))) if kind == "continuous"
                  else rng.integers(0, 4, (1 + (s * n) % 3, int(T)))) if masks[s, n] else None
                 for n in range(N)] for s, T in enumerate(Ts)]
        ds = strfh5.from_lists(stims, resp, dt_ms=5, stim_meta=meta, nrn_meta=nmeta, response_kind=kind)
    return strfh5.save(ds, path)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("reader")
    return {enc: _write(d / f"{enc}.strf.h5", enc, seed=i) for i, enc in enumerate(("events", "counts", "continuous"))}


def _same(a, b):
    return a.shape == b.shape and torch.equal(torch.nan_to_num(a, 777.0), torch.nan_to_num(b, 777.0))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    enc=st.sampled_from(["events", "counts", "continuous"]),
    k=st.sampled_from([1, 2]),
    pop=st.one_of(st.none(), st.lists(st.integers(0, 4), min_size=1, max_size=5, unique=True)),
    stims=st.one_of(st.none(), st.lists(st.integers(0, 5), min_size=1, max_size=6, unique=True)),
    smooth=st.booleans(),
)
def test_eager_and_lazy_identical(files, enc, k, pop, stims, smooth):
    dt = 5 * k
    e = strfh5.load(files[enc], dt_ms=dt)
    l = strfh5.load(files[enc], dt_ms=dt, lazy=True)
    for d in (e, l):
        if pop is not None:
            d.select_population(pop)
        if stims is not None:
            d.select_stims(stims)
        if smooth:
            d.smooth_responses(15)
            d.normalize_responses("zscore")
    assert len(e) == len(l) and e._selected() == l._selected()
    for i in range(len(e)):
        a, b = e[i], l[i]
        assert a["stim_index"] == b["stim_index"] and a["neuron_indices"] == b["neuron_indices"]
        assert _same(a["stims"], b["stims"])
        ra, rb = list(a["responses"]), list(b["responses"])
        assert len(ra) == len(rb) and all(_same(x, y) for x, y in zip(ra, rb))
        # never a fully-missing item
        assert any(not torch.isnan(x).all() for x in ra)
    if len(e):
        be = strfh5.neural_collate([e[i] for i in range(len(e))])
        bl = strfh5.neural_collate([l[i] for i in range(len(l))])
        for key in ("stims", "responses", "valid_mask"):
            assert _same(be[key].float(), bl[key].float())
    with pytest.raises(IndexError):
        e[len(e)]
    with pytest.raises(IndexError):
        l[len(l)]


def test_dataloader_workers_equal_single_process(files):
    ds = strfh5.load(files["events"], lazy=True)
    ds.select_population([0, 2, 4])
    ds.smooth_responses()
    b0 = list(DataLoader(ds, batch_size=2, collate_fn=strfh5.neural_collate, num_workers=0))
    b2 = list(DataLoader(ds, batch_size=2, collate_fn=strfh5.neural_collate, num_workers=2))
    assert len(b0) == len(b2) > 0
    for x, y in zip(b0, b2):
        assert _same(x["responses"], y["responses"]) and torch.equal(x["stims"], y["stims"])
        assert torch.equal(x["valid_mask"], y["valid_mask"]) and x["stim_meta"] == y["stim_meta"]


def test_lazy_open_reads_no_rows(files, monkeypatch):
    from strfh5.contents import FileContents

    calls = []
    real = FileContents.raw_row
    monkeypatch.setattr(FileContents, "raw_row", lambda self, s, *a, **k: calls.append(s) or real(self, s, *a, **k))
    ds = strfh5.load(files["counts"], lazy=True)
    assert calls == []
    assert int(ds.nrn_masks.sum()) == int((ds.contents.repeats > 0).sum())
    len(ds)
    assert calls == []
    ds.select_neuron(1)
    s = ds.iterable_stims()[0]
    ds[0]
    assert calls == [s]
    ds.responses[3][1]
    assert calls == [s, 3]
    assert ds.lazy


def test_eager_load_closes_file(files):
    ds = strfh5.load(files["counts"])
    assert ds.contents.handle._h5 is None
    ds[0]
    assert ds.contents.handle._h5 is None  # items come from memory


def test_load_errors(tmp_path, files):
    with pytest.raises(FileNotFoundError):
        strfh5.load(tmp_path / "nope.strf.h5")
    p = tmp_path / "x.strf.h5"
    p.write_bytes(b"not hdf5")
    with pytest.raises(NotStrfH5FileError):
        strfh5.load(p)


def test_corrupt_row_detected(tmp_path, files):
    import shutil

    import h5py

    p = tmp_path / "bad.strf.h5"
    shutil.copy(files["counts"], p)
    with h5py.File(p, "r+") as f:
        rep = f["repeats"][()]
        s, n = map(int, np.argwhere(rep > 0)[0])
        f["repeats"][s, n] = rep[s, n] + 1
    for lazy in (False, True):
        with pytest.raises(CorruptDataError, match=rf"responses\[{s}, {n}\]"):
            ds = strfh5.load(p, lazy=lazy)
            ds.select_neuron(n)
            ds.row_block(s)


def test_concatenated_helpers_present():
    """The dataset's thin delegations point at existing modules."""
    from strfh5 import concatenation, quality

    assert callable(concatenation.concat_neural_datasets) and callable(quality.compute_neuron_quality)
