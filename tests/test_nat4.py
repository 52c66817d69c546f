"""NAT4 converter on an A1-shaped release written in the published layout."""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np
import pytest

import strfh5
from strfh5.converters import nat4
from strfh5.errors import MissingRawFileError, RawDataError

from nems_fixtures import make_nat4
from provenance_check import assert_provenance


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = tmp_path_factory.mktemp("nat4")
    truth = make_nat4(root / "raw")
    out = root / "A1.strf.h5"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        nat4.convert(root / "raw", out)
    return root, truth, out, [str(w.message) for w in caught]


def test_seed_invariants(release):
    _, truth, out, _ = release
    ds = strfh5.load(out)
    S, N = len(ds.stims), ds.N_neurons
    assert (S, N) == (33, 40)
    counts = Counter(m["subset"] for m in ds.stim_meta)
    assert counts == {"est": 30, "val": 3}
    assert tuple(ds.stims[0].shape) == (1, 18, 150) and ds.dt == 10.0
    masks = ds.nrn_masks
    n_no_val = len(truth["no_val"])
    assert masks.sum().item() == S * N - 3 * n_no_val
    val_idx = [s for s, m in enumerate(ds.stim_meta) if m["subset"] == "val"]
    assert masks[val_idx].any(dim=0).sum().item() == N - n_no_val
    assert ds.nrn_meta[0] == {"cell_id": "ARM029a-04-1", "area": "A1", "auditory": truth["auditory"]["ARM029a-04-1"],
                              "site": "ARM029a", "animal": "ARM", "electrode": 4, "unit_in_electrode": 1}
    assert sum(1 for n in ds.nrn_meta if n["auditory"]) == sum(truth["auditory"].values())
    assert Counter(n["animal"] for n in ds.nrn_meta) == {"ARM": 14, "TNC": 13, "DRX": 13}
    # the bidirectional rule: selecting val stims hides the val-less cells
    ds.select_stims_by_attr("subset", "val")
    assert len(ds._selected()) == N - n_no_val
    item = ds[0]
    assert item["stim_meta"] == {"name": truth["val_names"][0], "subset": "val"}
    assert len(item["responses"]) == N - n_no_val
    assert tuple(item["responses"][0].shape) == (20, 150)
    ds.reset_stim_selection()
    ds.reset_pop_selection()


def test_counts_equal_the_release(release):
    _, truth, out, _ = release
    c = strfh5.FileContents(out)
    cells = truth["cells"]
    for s, name in enumerate(c.stim_ids):
        np.testing.assert_allclose(c.stim(s)[0], truth["stim"][name], rtol=1e-6)
        row = c.row(s)
        for n, cell in enumerate(cells):
            if name in truth["val_names"]:
                want = truth["val"].get((name, cell))
            else:
                want = truth["est"][(name, cell)][None]
            if want is None:
                assert row[n] is None
            else:
                np.testing.assert_array_equal(row[n], want)
    meta = c.info.metadata
    assert meta["val_check"]["max_abs_diff_vs_population_average"] < 1e-9
    assert meta["val_check"]["cells_without_val"] == 3
    pad = [q for q in meta["provenance"]["quirks"] if q["kind"] == "cell_id_padding"]
    assert {(q["single_site_id"], q["population_id"]) for q in pad} == {("TNC015a-03-1", "TNC015a-3-1"),
                                                                        ("TNC015a-05-2", "TNC015a-5-2")}
    assert "STIM_cat201_rec1_geese,_excerpt1.wav" in c.stim_ids  # CSV-quoted epoch name
    c.close()


def test_subset_options_and_zip(tmp_path):
    truth = make_nat4(tmp_path / "raw", n_est=4, n_val=2, reps=3, zip_sites=True,
                      nan_pairs=[("STIM_cat202_rec2_est_excerpt1.wav", "ARM029a-07-6")])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nat4.convert(tmp_path / "raw", tmp_path / "v.strf.h5", subset="val")
        nat4.convert(tmp_path / "raw", tmp_path / "e.strf.h5", subset="est")
    v = strfh5.FileContents(tmp_path / "v.strf.h5")
    assert v.stim_ids == truth["val_names"] and set(v.repeats[v.repeats > 0]) == {3}
    e = strfh5.FileContents(tmp_path / "e.strf.h5")
    assert e.stim_ids == truth["est_names"]
    s, n = e.stim_ids.index("STIM_cat202_rec2_est_excerpt1.wav"), truth["cells"].index("ARM029a-07-6")
    assert e.repeats[s, n] == 0 and e.repeats.sum() == 4 * 40 - 1
    assert e.info.metadata["est_pairs_missing"] == 1
    v.close()
    e.close()


def test_errors(tmp_path):
    with pytest.raises(MissingRawFileError, match="PEG_NAT4_ozgf.fs100.ch18.tgz"):
        nat4.convert(tmp_path, tmp_path / "x.strf.h5", area="PEG")
    with pytest.raises(RawDataError, match="not <site>-<electrode>-<unit>"):
        nat4.parse_cell_id("ARM029a_04_1")
    assert nat4.cell_key("TNC015a-3-1") == nat4.cell_key("TNC015a-03-1")


def test_fractional_est_values_are_kept_as_rates_with_the_quirk(tmp_path):
    """The release's est signal is rasterized rates: fractional values convert, unrounded, as continuous."""
    truth = make_nat4(tmp_path / "raw", n_est=4, n_val=1, reps=3, fractional_est=True)
    assert any(np.any(v != np.round(v)) for v in truth["est"].values())
    out = tmp_path / "f.strf.h5"
    with pytest.warns(UserWarning, match="not whole spike counts"):
        nat4.convert(tmp_path / "raw", out)
    assert strfh5.validate(out).ok
    with strfh5.FileContents(out) as c:
        assert c.info.response_kind == "continuous"
        meta = c.info.metadata
        (q,) = [q for q in assert_provenance(meta, "nat4")["quirks"] if q["kind"] == "fractional_est_values"]
        assert q["n_values"] == sum(int(np.count_nonzero(v != np.round(v))) for v in truth["est"].values())
        for s, name in enumerate(c.stim_ids):
            row = c.row(s)
            for n, cell in enumerate(c.neuron_ids):
                if name in truth["est_names"]:
                    np.testing.assert_array_equal(row[n][0], truth["est"][(name, cell)].astype(np.float32))
                elif (name, cell) in truth["val"]:
                    np.testing.assert_array_equal(row[n], truth["val"][(name, cell)].astype(np.float32))


def test_negative_est_value_is_refused(tmp_path):
    import tarfile

    make_nat4(tmp_path / "raw", n_est=2, n_val=1, reps=2)
    src = tmp_path / "raw" / "A1_NAT4_ozgf.fs100.ch18.tgz"
    with tarfile.open(src) as tf:
        tf.extractall(tmp_path / "x", filter="data")
    src.unlink()
    csv_path = next((tmp_path / "x").rglob("*.resp.csv"))
    lines = csv_path.read_text().splitlines()
    for i in range(len(lines) - 1, 0, -1):  # the last sample holding a value: an est epoch
        cells = lines[i].split(",")
        if any(v.strip() not in ("", "nan", "NaN") for v in cells):
            k = next(j for j, v in enumerate(cells) if v.strip() not in ("", "nan", "NaN"))
            cells[k] = "-1"
            lines[i] = ",".join(cells)
            break
    csv_path.write_text("\n".join(lines) + "\n")
    folder = csv_path.parent
    folder.rename(tmp_path / "raw" / "A1_NAT4_ozgf.fs100.ch18")
    with pytest.raises(RawDataError, match="negative or infinite"):
        nat4.convert(tmp_path / "raw", tmp_path / "n.strf.h5")
