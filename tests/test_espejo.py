"""Espejo converter on per-site NEMS archives written in the published layout."""

from __future__ import annotations


import numpy as np
import pytest

import strfh5
from strfh5.converters import espejo
from strfh5.errors import MissingRawFileError

from nems_fixtures import make_espejo


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
    assert espejo.split_by_occurrence({"a": 2, "b": 2}) == (["a", "b"], [])
