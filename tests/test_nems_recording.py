"""NEMS recording reader/writer: real 2018 recordings and written round trips."""

from __future__ import annotations

import csv
import io
import json
import tarfile
from collections import Counter

import numpy as np
import pytest

from strfh5.errors import MissingRawFileError, RawDataError
from nems_writer import write_recording
from strfh5.converters.nems_recording import (
    Epochs, POINT_PROCESS, RASTERIZED, TILED, read_epochs, read_recording, signal_kind,
)


def _raw_members(path):
    with tarfile.open(path) as tf:
        return {m.name: tf.extractfile(m).read() for m in tf if m.isfile()}


def test_real_eno052d(real_data):
    path = real_data / "nems" / "eno052d-a1.tgz"
    raw = _raw_members(path)
    rec = read_recording(path)
    assert rec.name == "eno052d-a1"
    assert set(rec.signals) == {"resp", "pupil"}
    for sig in ("resp", "pupil"):
        side = json.loads(raw[f"eno052d-a1/eno052d-a1.{sig}.json"])
        rows = list(csv.reader(io.StringIO(raw[f"eno052d-a1/eno052d-a1.{sig}.csv"].decode())))
        s = rec[sig]
        assert s.kind == RASTERIZED  # 2018 sidecars have no signal_type
        assert s.fs == side["fs"] == 10
        assert s.chans == side["chans"] and len(s.chans) == len(rows[0])
        assert s.n_samples == len(rows)
        np.testing.assert_array_equal(s.data[0], [float(r[0]) for r in rows])
        ep = list(csv.DictReader(io.StringIO(raw[f"eno052d-a1/eno052d-a1.{sig}.epoch.csv"].decode())))
        expect = Counter(r["name"] for r in ep)
        assert dict(s.epochs.counts()) == dict(expect)
        assert s.epochs.names("STIM_") == ["STIM_ferretmixed41.wav", "STIM_ferretmixed42.wav"]
    # epoch extraction: every occurrence, NEMS rounding of the bounds
    resp = rec["resp"]
    x = resp.extract_epoch("STIM_ferretmixed41.wav")
    occ = [r for r in csv.DictReader(io.StringIO(raw["eno052d-a1/eno052d-a1.resp.epoch.csv"].decode()))
           if r["name"] == "STIM_ferretmixed41.wav"]
    assert x.shape[0] == len(occ) == 120
    i0 = round(float(occ[5]["start"]) * 10)
    i1 = round(float(occ[5]["end"]) * 10)
    np.testing.assert_array_equal(x[5, 0, : i1 - i0], resp.data[0, i0:i1])


def test_real_tar010c_metadata_without_data(real_data):
    folder = real_data / "nems" / "TAR010c-18-1"
    rec = read_recording(folder)
    assert set(rec.signals) == {"resp", "pupil", "stim"}
    assert rec["stim"].chans is None and rec["stim"].fs == 100
    assert rec["resp"].meta["chancount"] == 18 and rec["resp"].meta["stimfmt"] == "ozgf"
    with open(folder / "TAR010c-18-1.resp.epoch.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    ep = rec["resp"].epochs
    assert len(ep) == len(rows)
    assert dict(ep.counts()) == dict(Counter(r["name"] for r in rows))
    comma = [n for n in ep.names() if "," in n]
    assert comma == ["STIM_ESE-23_Sparrows_-_Large_excited_group,.wav"]
    assert ep.occurrences(comma[0]).shape == (3, 2)
    assert ep.counts()["STIM_00ferretmixed41.wav"] == 24
    assert not rec["resp"].has_data
    with pytest.raises(MissingRawFileError, match="resp"):
        rec["resp"].data


@pytest.mark.parametrize("archive", [True, False])
@pytest.mark.parametrize("legacy", [True, False])
def test_round_trip_all_signal_kinds(tmp_path, archive, legacy):
    rng = np.random.default_rng(1)
    ep = Epochs([0.0, 0.0, 1.5, 3.0], [4.5, 1.5, 3.0, 4.5],
                ["PASSIVE_EXPERIMENT", "STIM_a,b.wav", "STIM_c.wav", "STIM_a,b.wav"])
    raster = rng.poisson(1.0, size=(3, 450)).astype(float)
    raster[1, 10:20] = np.nan
    spikes = {"cell-01-1": np.sort(rng.uniform(0, 4.5, 30)), "cell-02-1": np.zeros(0)}
    tiles = {"STIM_a,b.wav": rng.random((4, 150)), "STIM_c.wav": rng.random((4, 150))}
    sigs = [
        {"name": "resp", "fs": 100, "kind": "rasterized", "data": raster, "chans": ["a", "b", "c"], "epochs": ep},
        {"name": "spk", "fs": 1000, "kind": "point_process", "data": spikes, "epochs": ep},
        {"name": "stim", "fs": 100, "kind": "tiled", "data": tiles, "chans": ["0", "1", "2", "3"], "epochs": ep},
    ]
    if legacy:
        sigs = sigs[:1]
    path = tmp_path / ("rec.tgz" if archive else "rec")
    write_recording(path, "rec", sigs, meta={"batch": 1}, legacy=legacy, epoch_columns=("name", "start", "end"))
    rec = read_recording(path, load_data=True)
    assert rec.meta == {"batch": 1}
    np.testing.assert_array_equal(rec["resp"].data, raster)
    assert rec["resp"].epochs.name == ep.name
    np.testing.assert_array_equal(rec["resp"].epochs.start, ep.start)
    got = rec["resp"].extract_epoch("STIM_a,b.wav")
    np.testing.assert_array_equal(got[1], raster[:, 300:450])
    if not legacy:
        assert rec["spk"].kind == POINT_PROCESS and rec["stim"].kind == TILED
        for c, t in spikes.items():
            np.testing.assert_array_equal(rec["spk"].data[c], t)
        occ = rec["spk"].extract_epoch("STIM_a,b.wav")
        t = spikes["cell-01-1"]
        np.testing.assert_allclose(occ[1]["cell-01-1"], t[(t >= 3.0) & (t < 4.5)] - 3.0)
        np.testing.assert_array_equal(rec["stim"].extract_epoch("STIM_c.wav"), tiles["STIM_c.wav"])


def test_h5_raster_and_views(tmp_path):
    x = np.arange(12.0).reshape(2, 6)
    write_recording(tmp_path / "r.tgz", "r", [{"name": "resp", "fs": 2, "kind": "rasterized", "data": x,
                                               "chans": ["a", "b"], "epochs": None}], raster_format="h5", folder=None)
    rec = read_recording(tmp_path / "r.tgz")
    np.testing.assert_array_equal(rec["resp"].data, x)
    assert rec["resp"].epochs is None
    with pytest.raises(RawDataError, match="no epoch table"):
        rec["resp"].extract_epoch("x")
    with pytest.raises(RawDataError, match="no signal 'stim'"):
        rec["stim"]


def test_bad_inputs(tmp_path):
    with pytest.raises(RawDataError, match="lacks the column 'name'"):
        read_epochs("start,end,label\n0,1,x\n", "t.epoch.csv")
    with pytest.raises(RawDataError, match="line 2"):
        read_epochs("start,end,name\n0,abc,x\n", "t.epoch.csv")
    with pytest.raises(RawDataError, match="bad epoch bounds"):
        read_epochs("start,end,name\n2,1,x\n", "t.epoch.csv")
    with pytest.raises(RawDataError, match="unknown signal_type"):
        signal_kind("<class 'nems.signal.Weird'>")
    bad = tmp_path / "bad.tgz"
    bad.write_bytes(b"not a tar")
    with pytest.raises(RawDataError, match="not a readable tar"):
        read_recording(bad)
    with pytest.raises(MissingRawFileError):
        read_recording(tmp_path / "absent.tgz")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RawDataError, match="no NEMS signal sidecars"):
        read_recording(empty)
    # CSV with the wrong number of columns for the sidecar's chans
    write_recording(tmp_path / "w", "w", [{"name": "resp", "fs": 10, "kind": "rasterized",
                                           "data": np.zeros((2, 5)), "chans": ["a", "b", "c"], "epochs": None}])
    with pytest.raises(RawDataError, match="2 columns for the 3 channels"):
        read_recording(tmp_path / "w", load_data=True)


def test_segments_contiguous_accepted_gaps_refused(tmp_path):
    """A signal concatenated in time (contiguous segments) reads; gaps or overlaps are refused, naming the sidecar."""
    ep = Epochs(np.array([0.0, 1.0]), np.array([1.0, 2.0]), ["STIM_a", "STIM_b"])
    x = np.arange(40, dtype=float).reshape(2, 20)

    def write(name, segments):
        return write_recording(tmp_path / f"{name}.tgz", name, [
            {"name": "resp", "fs": 10, "kind": "rasterized", "data": x, "chans": ["c0", "c1"], "epochs": ep,
             "segments": segments}])

    rec = read_recording(write("two", [[0, 10], [10, 20]]))
    np.testing.assert_array_equal(rec["resp"].segments, [[0, 10], [10, 20]])
    np.testing.assert_array_equal(rec["resp"].extract_epoch("STIM_b")[0], x[:, 10:20])
    for bad, why in (([[0, 10], [12, 20]], "segment 1 starts at sample 12"),
                     ([[0, 10], [5, 20]], "segment 1 starts at sample 5"),
                     ([[0, 10, 3]], "start, end"),
                     ([[10, 0]], "ending before")):
        with pytest.raises(RawDataError, match=f"bad.resp.json.*{why}"):
            read_recording(write("bad", bad))


def test_epoch_table_odd_number_refused_with_line():
    from strfh5.converters.nems_recording import read_epochs

    ep = read_epochs("start,end,name\n0.5,1.25e1,TRIAL\n", "t")
    assert ep.start.tolist() == [0.5] and ep.end.tolist() == [12.5] and ep.name == ["TRIAL"]
    with pytest.raises(RawDataError, match=r"t line 3: start/end '1_0', '2.0' are not numbers"):
        read_epochs("start,end,name\n0.0,1.0,TRIAL\n1_0,2.0,STIM_a\n", "t")
