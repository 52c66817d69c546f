"""Espejo converter on per-site NEMS archives written in the published layout."""

from __future__ import annotations


import numpy as np
import pytest

import strfh5
from strfh5.converters import espejo
from strfh5.errors import MissingRawFileError

from nems_fixtures import make_espejo, make_espejo_site
from provenance_check import assert_provenance


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = tmp_path_factory.mktemp("espejo")
    return root, make_espejo(root / "raw")


def test_nat_spike_times_and_split(release, tmp_path):
    root, truth = release
    out = tmp_path / "nat.strf.h5"
    espejo.convert(root / "raw", out)
    assert strfh5.validate(out).ok
    c = strfh5.FileContents(out)
    nat_sites = ["AMT003c", "AMT005c", "bbl086b"]
    cells = [x for s in nat_sites for x in truth["sites"][s]["cells"]]
    assert c.neuron_ids == cells
    assert sorted(c.stim_ids) == sorted(truth["sounds"])
    for s, name in enumerate(c.stim_ids):
        np.testing.assert_allclose(c.stim(s)[0], truth["sounds"][name], rtol=1e-6)
        m = c.stim_meta[s]
        high_at = [site for site in nat_sites if name in truth["sites"][site]["high"]]
        assert m["val_sites"] == high_at and m["subset"] == ("val" if high_at else "est")
        row = c.row(s)
        for n, cell in enumerate(cells):
            site = next(x for x in nat_sites if cell in truth["sites"][x]["cells"])
            want = truth["sites"][site]["truth"].get((name, cell))
            if want is None:
                assert row[n] is None
            else:
                got = row[n].trials()
                assert len(got) == len(want)
                for g, w in zip(got, want):
                    np.testing.assert_allclose(g, w, atol=1e-9)
    c.close()


def test_vmn_rasterized_sites(release, tmp_path):
    root, truth = release
    with pytest.warns(UserWarning, match="eno023c.*left out"):
        espejo.convert(root / "raw", tmp_path / "a.strf.h5", set="VMN")
    c = strfh5.FileContents(tmp_path / "a.strf.h5")
    assert c.neuron_ids == ["btn144a-c1", "btn144a-c2"]
    assert c.info.stim_dims == (1, 2)
    c.close()
    with pytest.warns(UserWarning, match="bin centres|centres"):
        espejo.convert(root / "raw", tmp_path / "b.strf.h5", set="VMN", rasterized_sites="bin_centres")
    ds = strfh5.load(tmp_path / "b.strf.h5")
    n = ds.nrn_meta.index(next(m for m in ds.nrn_meta if m["cell_id"] == "eno023c-c1"))
    assert ds.nrn_meta[n]["spike_times_from_bins"] is True
    site = truth["sites"]["eno023c"]
    for s, m in enumerate(ds.stim_meta):
        want = site["truth"][(m["name"], "eno023c-c1")]
        T = ds.stims[s].shape[-1]
        got = ds.responses[s][n].numpy()
        for r, w in enumerate(want):
            w = w[w < T * 10]
            np.testing.assert_array_equal(got[r], np.bincount(np.floor(w / 10).astype(int), minlength=T))


def test_missing_set(tmp_path):
    (tmp_path / "x").mkdir()
    with pytest.raises(MissingRawFileError, match="A1_natural_sounds/NAT"):
        espejo.convert(tmp_path / "x", tmp_path / "o.strf.h5")
    assert espejo.split_by_occurrence({"a": 10, "b": 2, "c": 10}) == (["b"], ["a", "c"])
    assert espejo.split_by_occurrence({"a": 2, "b": 2}) == (["a"], ["b"])  # one count: last 20 % of names


def test_split_rule_is_nems_split_using_epoch_occurrence_counts():
    # >= 3 distinct counts: val = count above the mean of the distinct counts (not only the highest)
    assert espejo.split_by_occurrence({"a": 20, "b": 12, "c": 2, "d": 2}) == (["c", "d"], ["a", "b"])
    assert espejo.split_by_occurrence({"a": 1, "b": 2, "c": 30}) == (["a", "b"], ["c"])  # mean 11
    # one count: the names sorted, the last n - floor(0.8 n) are val
    names = {f"STIM_{k:02d}": 3 for k in (7, 1, 9, 3, 5, 2, 4, 8, 6, 0)}
    est, val = espejo.split_by_occurrence(names)
    assert val == ["STIM_09", "STIM_08"] and len(est) == 8
    assert espejo.split_by_occurrence({}) == ([], [])


def test_site_with_three_repeat_counts_converts_with_the_nems_split(tmp_path):
    rng = np.random.default_rng(3)
    sounds = {f"STIM_s{k}.wav": rng.gamma(2.0, 1.0, size=(18, 40)) for k in range(5)}
    nat = tmp_path / "raw" / "A1_natural_sounds" / "NAT"
    make_espejo_site(nat / "AMT003c_000a9f.tgz", "AMT003c", ["AMT003c-01-1"], sounds=sounds,
                     high=["STIM_s0.wav"], high_reps=6, low=["STIM_s3.wav", "STIM_s4.wav"], low_reps=1,
                     extra_reps={"STIM_s1.wav": 4, "STIM_s2.wav": 4})
    out = tmp_path / "o.strf.h5"
    espejo.convert(tmp_path / "raw", out)
    with strfh5.FileContents(out) as c:
        subset = {m["name"]: m["subset"] for m in c.stim_meta}
        assert_provenance(c.info.metadata, "espejo", {"set": "NAT"})
        reps = {m["name"]: int(c.repeats[s, 0]) for s, m in enumerate(c.stim_meta)}
    # distinct counts 6, 4, 1 (mean 3.67): the 4-repeat sounds are val too
    assert reps == {"STIM_s0.wav": 6, "STIM_s1.wav": 4, "STIM_s2.wav": 4, "STIM_s3.wav": 1, "STIM_s4.wav": 1}
    assert subset == {"STIM_s0.wav": "val", "STIM_s1.wav": "val", "STIM_s2.wav": "val", "STIM_s3.wav": "est",
                      "STIM_s4.wav": "est"}
