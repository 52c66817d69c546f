"""Wingert 2026 converter: silence padding, duplicate archives, cell list."""

from __future__ import annotations

import numpy as np
import pytest

import strfh5
from strfh5.converters import wingert2026
from strfh5.errors import RawDataError

from nems_fixtures import make_wingert
from provenance_check import assert_provenance


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = tmp_path_factory.mktemp("wingert")
    truth = make_wingert(root / "raw")
    out = root / "w.strf.h5"
    with pytest.warns(UserWarning, match="identical"):
        wingert2026.convert(root / "raw", out)
    return root, truth, out


def test_padding_trimmed_and_spikes_from_onset(release):
    _, truth, out = release
    assert strfh5.validate(out).ok
    c = strfh5.FileContents(out)
    assert set(c.n_bins) == {truth["sound_T"]}
    for s, name in enumerate(c.stim_ids):
        np.testing.assert_allclose(c.stim(s)[0], truth["sounds"][name], rtol=1e-6)
        assert c.stim_meta[s]["subset"] == ("val" if name.startswith("STIM_00") else "est")
        row = c.row(s)
        for n, cell in enumerate(c.neuron_ids):
            site = next(v for v in truth["sites"].values() if cell in v["cells"])
            want = site["truth"].get((name, cell))
            if want is None:
                assert row[n] is None
                continue
            got = row[n].trials()
            assert len(got) == len(want)
            for g, w in zip(got, want):
                np.testing.assert_allclose(g, w, atol=1e-9)
            if site["pad"]:  # pre-onset spikes of the padded sites are kept
                assert min(float(g.min()) for g in got if g.size) < 0
    meta = c.info.metadata
    assert meta["dropped_archives"] == [truth["duplicate"]]
    assert meta["silence_padding"]["CLT012a_0000c0ffee.tgz"] == [{"pre_s": 0.0, "post_s": 0.0}]
    assert meta["silence_padding"]["PRN018a_0001c0ffee.tgz"] == [{"pre_s": 1.0, "post_s": 1.0}]
    c.close()


def test_cell_metadata(release):
    _, truth, out = release
    c = strfh5.FileContents(out)
    by_id = dict(zip(c.neuron_ids, c.nrn_meta))
    assert len(c.neuron_ids) == 7  # duplicate archive read once
    m = by_id["SLJ032a-B-005-1"]
    assert (m["site"], m["probe"], m["electrode"], m["area"]) == ("SLJ032a-B", "B", 5, "PEG")
    assert by_id["PRN018b-031-3"]["labeled"] is False and "area" not in by_id["PRN018b-031-3"]
    assert by_id["PRN018b-010-1"]["meta_siteid"] == "PRN018a"
    row = truth["cell_rows"]["CLT012a-001-1"]
    assert by_id["CLT012a-001-1"]["depth"] == float(row[4]) and by_id["CLT012a-001-1"]["celltype"] == "RS"
    c.close()


def test_area_filter(release, tmp_path):
    root, _, _ = release
    with pytest.warns(UserWarning):
        wingert2026.convert(root / "raw", tmp_path / "peg.strf.h5", areas=["PEG"])
    c = strfh5.FileContents(tmp_path / "peg.strf.h5")
    assert c.neuron_ids == ["SLJ032a-B-005-1", "SLJ032a-A-017-2"]
    c.close()
    with pytest.raises(RawDataError, match="not <site>"):
        wingert2026.parse_cell_id("bad")


def test_keep_silence_through_the_cli(release, tmp_path, capsys):
    """``--keep-silence`` keeps each released tile; padded versions are their own stimuli, times from epoch start."""
    from strfh5.cli.main import main

    root, truth, _ = release
    out = tmp_path / "padded.strf.h5"
    assert main(["convert", "wingert2026", "--raw", str(root / "raw"), "-o", str(out), "--keep-silence",
                 "--areas", "A1,PEG", "--no-include-unlabeled"]) == 0
    assert "wrote" in capsys.readouterr().out
    c = strfh5.FileContents(out)
    assert c.info.metadata["time_origin"].startswith("epoch start")
    assert c.info.metadata["converter"]["options"]["areas"] == ["A1", "PEG"]
    padded = [s for s, m in enumerate(c.stim_meta) if m["pre_silence_s"] > 0]
    assert padded and len(padded) < len(c.stim_ids)  # old (unpadded) and new (padded) sites both present
    for s, (sid, m) in enumerate(zip(c.stim_ids, c.stim_meta)):
        name, pad = m["name"], m["pre_silence_s"]
        assert sid == wingert2026.padded_id(name, pad, m["post_silence_s"])
        p = int(round(pad * 100))
        want = np.concatenate([np.zeros((truth["sounds"][name].shape[0], p)), truth["sounds"][name],
                               np.zeros((truth["sounds"][name].shape[0], p))], axis=1)
        np.testing.assert_allclose(c.stim(s)[0], want, rtol=1e-6)
        row = c.row(s)
        for n, cell in enumerate(c.neuron_ids):
            assert c.nrn_meta[n]["labeled"] is True
            site = next(v for v in truth["sites"].values() if cell in v["cells"])
            want_trials = site["truth"].get((name, cell)) if site["pad"] == pad else None
            if want_trials is None:
                assert row[n] is None
                continue
            got = row[n].trials()
            assert len(got) == len(want_trials)
            for g, w in zip(got, want_trials):
                np.testing.assert_allclose(g, w + pad * 1000.0, atol=1e-9)  # ms from the epoch start
    c.close()


def test_citation_is_the_zenodo_record_and_says_what_is_unverified():
    cit = wingert2026.SOURCE.citation
    assert "10.5281/zenodo.18331549" in cit and "2026" in cit and "Unverified" in cit
    assert wingert2026.SOURCE.doi == "10.5281/zenodo.18331549"


def test_duplicate_archive_with_different_bytes_is_deduplicated_by_cell_id(tmp_path):
    """The PRN018 archives hold the same cells but are not byte-identical: deepSTRF keeps each cell once."""
    import json

    import h5py

    truth = make_wingert(tmp_path / "raw", rewritten_duplicate=True)
    archives = sorted((tmp_path / "raw" / "recordings").glob("PRN018*.tgz"))
    assert archives[0].read_bytes() != archives[1].read_bytes()
    out = tmp_path / "w.strf.h5"
    with pytest.warns(UserWarning, match="already read from PRN018a_0001c0ffee.tgz"):
        wingert2026.convert(tmp_path / "raw", out)
    with strfh5.FileContents(out) as c:
        assert len(c.neuron_ids) == 7 and len(set(c.neuron_ids)) == 7
        assert c.info.metadata["dropped_archives"] == [truth["duplicate"]]
        by_id = dict(zip(c.neuron_ids, c.nrn_meta))
        assert by_id["PRN018b-010-1"]["archive"] == "PRN018a_0001c0ffee.tgz"
    with h5py.File(out, "r") as f:
        meta = json.loads(f["metadata"][()])
    prov = assert_provenance(meta, "wingert2026")
    (q,) = [q for q in prov["quirks"] if q["kind"] == "duplicate_cells"]
    assert q["archive"] == truth["duplicate"] and sorted(q["cells"]) == sorted(truth["sites"]["PRN018b"]["cells"])


def test_cell_list_malformed_number_is_refused_with_row(tmp_path):
    make_wingert(tmp_path / "raw")
    p = tmp_path / "raw" / "cell_list.csv"
    lines = p.read_text().splitlines()
    parts = lines[2].split(",")
    parts[4] = "1_000"  # depth
    lines[2] = ",".join(parts)
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(RawDataError, match=r"cell_list.csv row 3, depth: '1_000'"):
        wingert2026.convert(tmp_path / "raw", tmp_path / "x.strf.h5")
