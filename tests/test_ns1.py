"""NS1 converter: the real OSF files (partial download) and small written releases."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import scipy.io

import strfh5
from strfh5.converters import ns1
from strfh5.errors import MissingRawFileError, RawDataError
from provenance_check import assert_provenance


def _expected(raw, paths, T, dt):
    """Per cluster path: {(source, set, stimid): list of per-repeat spike-time arrays (ms)} via loadmat."""
    out = {}
    for p in paths:
        d = scipy.io.loadmat(str(raw / "spikesandwav" / p), squeeze_me=True, struct_as_record=False)
        sets = np.atleast_1d(d["data"].set)
        per = {}
        for st in sets:
            sp = st.stim_params
            reps = st.repeats
            reps = [] if isinstance(reps, np.ndarray) and reps.size == 0 else np.atleast_1d(reps)
            per[(int(sp.Source), int(sp.Set), int(sp.StimID))] = [np.atleast_1d(r.t).astype(float) for r in reps]
        out[p] = per
    return out


@pytest.fixture(scope="module")
def real_ns1(tmp_path_factory):
    from conftest import real_data_dir

    root = real_data_dir()
    if root is None:
        pytest.skip("real recordings not found: ../shared/data/real is absent (set STRFH5_REAL_DATA)")
    out = tmp_path_factory.mktemp("ns1") / "ns1.strf.h5"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ns1.convert(root / "ns1", out, partial=True)
    return root / "ns1", out, [str(w.message) for w in caught]


def test_real_ns1_counts_match_mat_files(real_ns1):
    raw, out, messages = real_ns1
    assert any("107 cluster file(s) absent" in m for m in messages)
    assert any("DRC" in m for m in messages)
    assert strfh5.validate(out).ok
    ds = strfh5.load(out)
    meta = scipy.io.loadmat(str(raw / "MetadataSHEnCneurons.mat"), squeeze_me=True, struct_as_record=False)["neuron"]
    present = [n.path for n in meta if (raw / "spikesandwav" / n.path).is_file()]
    assert [m["path"] for m in ds.nrn_meta] == present and len(present) == 12
    assert len(ds.stims) == 20
    dt = ds.dt
    T = ds.stims[0].shape[-1]
    assert T == 1000 and dt == 5.0
    exp = _expected(raw, present, T, dt)
    checked = 0
    for s, sm in enumerate(ds.stim_meta):
        assert sm["type"] == "natural"
        key = (sm["source"], sm["set"], sm["stim_id"])
        for n, p in enumerate(present):
            trials = exp[p][key]
            resp = ds.responses[s][n]
            assert tuple(resp.shape) == (len(trials), T)
            for r, t in enumerate(trials):
                inside = t[(t >= 0) & (t < T * dt)]
                assert int(resp[r].sum()) == inside.size
                expect = np.bincount(np.floor(inside / dt).astype(int), minlength=T)
                np.testing.assert_array_equal(resp[r].numpy(), expect)
                checked += 1
    assert checked == 20 * 12 * 20
    # stimulus order: source 1 frozen 1..12, then source 2 frozen 1..8
    assert [m["name"] for m in ds.stim_meta][:2] == ["source.1.sound.0.snr.0.token.0.fw.2.frozen.1",
                                                    "source.1.sound.0.snr.0.token.0.fw.2.frozen.2"]
    assert ds.stim_meta[12]["name"] == "source.2.sound.0.snr.0.token.0.fw.1.frozen.1"
    assert [s for s, m in enumerate(ds.stim_meta) if m["subset"] == "test"] == [3, 6, 9, 19]


def test_real_ns1_metadata_and_spikes_kept(real_ns1):
    raw, out, _ = real_ns1
    c = strfh5.FileContents(out)
    info = c.info.metadata
    assert len(info["missing_clusters"]) == 107 and "drc" in info["omitted"]
    m = scipy.io.loadmat(str(raw / "MetadataSHEnCneurons.mat"), squeeze_me=True, struct_as_record=False)["neuron"]
    first = m[0]
    nm = c.nrn_meta[0]
    assert nm["depth_um"] == first.depth and nm["single_t"] == first.singleT
    assert nm["noise_ratio"] == pytest.approx(first.NoiseRatio)
    assert nm["passes_quality"] == (first.singleT in ("Yes", "Maybe") and first.depth >= 0)
    # events are lossless: the spikes after the 5 s sound are stored too
    d = scipy.io.loadmat(str(raw / "spikesandwav" / first.path), squeeze_me=True, struct_as_record=False)
    t = np.atleast_1d(d["data"].set[0].repeats[0].t).astype(float)
    ev = c.row(0, [0])[0]
    np.testing.assert_allclose(ev.trials()[0], t)
    c.close()


def test_real_ns1_missing_cluster_named_and_quality_filter(real_data, tmp_path):
    raw = real_data / "ns1"
    with pytest.raises(MissingRawFileError, match="cluster.02.data.mat.*partial=True"):
        ns1.convert(raw, tmp_path / "x.strf.h5")
    assert not (tmp_path / "x.strf.h5").exists()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ns1.convert(raw, tmp_path / "q.strf.h5", partial=True, quality_filter=True, dt_ms=10.0, n_bands=16)
    c = strfh5.FileContents(tmp_path / "q.strf.h5")
    assert all(m["passes_quality"] for m in c.nrn_meta)
    assert c.info.dt_ms == 10.0 and c.info.stim_dims == (1, 16)
    m = scipy.io.loadmat(str(raw / "MetadataSHEnCneurons.mat"), squeeze_me=True, struct_as_record=False)["neuron"]
    expect = [n.path for n in m if n.singleT in ("Yes", "Maybe") and n.depth >= 0
              and (raw / "spikesandwav" / n.path).is_file()]
    assert [x["path"] for x in c.nrn_meta] == expect
    c.close()


def _struct_array(records, fields):
    arr = np.empty((1, len(records)), dtype=[(f, object) for f in fields])
    for i, r in enumerate(records):
        for f in fields:
            arr[0, i][f] = r[f]
    return arr


def _write_cluster(path, sets):
    recs = []
    for (src, st, sid, tok), trials in sets:
        reps = _struct_array([{"t": np.asarray(t, float).reshape(1, -1), "repeat_id": np.ones((1, len(t))),
                               "timestamp": "20121219-095021487"} for t in trials], ["t", "repeat_id", "timestamp"]) \
            if trials else np.zeros((1, 0))
        sp = {"Source": float(src), "Set": float(st), "StimID": float(sid), "Token": float(tok), "Mode": 0.0}
        recs.append({"spikes": np.zeros((1, 0)), "repeats": reps, "stim_params": sp, "length_signal_ms": 200.0})
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(str(path), {"data": {"set": _struct_array(recs, ["spikes", "repeats", "stim_params",
                                                                      "length_signal_ms"])}})


def _written_release(raw):
    from scipy.io import wavfile

    wav_dir = raw / "spikesandwav" / "SH.En.C"
    wav_dir.mkdir(parents=True)
    rng = np.random.default_rng(0)
    sr = 48828
    for src, st, k in ns1.NATURAL_ORDER:
        wavfile.write(wav_dir / f"source.{src}.sound.0.snr.0.token.0.fw.{st}.frozen.{k}", sr,
                      rng.standard_normal(sr // 10).astype(np.float32))
    drc = raw.parent / "drc"
    drc.mkdir()
    wavfile.write(drc / "source.9.set.10.token.0.wav", sr, rng.standard_normal(sr // 10).astype(np.float32))
    nat = [(src, st, k, 0) for src, st, k in ns1.NATURAL_ORDER]
    # cluster A: all 20 natural + a DRC; set 5 has zero repeats. cluster B: 19 sets (no 7th), shuffled order
    a_sets = [(key, [] if i == 5 else [[1.0, 50.2, 99.0], [3.5]]) for i, key in enumerate(nat)]
    a_sets.append(((9, 10, 0, 0), [[10.0], [20.0], [30.0]]))
    b_sets = [(key, [[7.0 + i]]) for i, key in enumerate(nat) if i != 7][::-1]
    _write_cluster(raw / "spikesandwav" / "expA" / "P01" / "cluster.01.data.mat", a_sets)
    _write_cluster(raw / "spikesandwav" / "expA" / "P01" / "cluster.02.data.mat", b_sets)
    neurons = _struct_array(
        [{"path": "expA/P01/cluster.01.data.mat", "NrOfElectrodes": 32.0, "ElectrodeNumber": 3.0, "depth": 400.0,
          "NoiseRatio": 4.5, "singleT": "Yes", "singleN": 2.0},
         {"path": "expA/P01/cluster.02.data.mat", "NrOfElectrodes": 32.0, "ElectrodeNumber": 4.0, "depth": -50.0,
          "NoiseRatio": 6.0, "singleT": "Maybe", "singleN": 1.0}],
        ["path", "NrOfElectrodes", "ElectrodeNumber", "depth", "NoiseRatio", "singleT", "singleN"])
    scipy.io.savemat(str(raw / "MetadataSHEnCneurons.mat"), {"neuron": neurons})
    return drc


def test_written_release_missing_sets_and_drc(tmp_path):
    raw = tmp_path / "raw"
    drc = _written_release(raw)
    out = tmp_path / "o.strf.h5"
    with pytest.warns(UserWarning, match="DRC"):
        ns1.convert(raw, out)
    c = strfh5.FileContents(out)
    assert c.S == 20 and c.N == 2
    assert c.repeats[5, 0] == 0 and c.repeats[7, 1] == 0  # missing, not zero-filled
    assert c.repeats[0, 0] == 2 and c.repeats[0, 1] == 1
    np.testing.assert_allclose(c.row(0)[1].times, [7.0])  # matched by stim_params, not position
    np.testing.assert_allclose(c.row(19)[1].times, [7.0 + 19])
    assert c.nrn_meta[1]["depth_known"] is False and c.nrn_meta[1]["passes_quality"] is False
    c.close()
    out2 = tmp_path / "d.strf.h5"
    ns1.convert(raw, out2, drc_dir=str(drc))
    c = strfh5.FileContents(out2)
    assert c.S == 21 and c.stim_meta[20]["type"] == "drc" and c.info.metadata["omitted"] == {}
    assert list(c.repeats[20]) == [3, 0]
    np.testing.assert_allclose(c.row(20)[0].times, [10.0, 20.0, 30.0])
    c.close()
    (drc / "source.9.set.10.token.0.wav").rename(drc / "other.wav")
    with pytest.raises(MissingRawFileError, match="no DRC waveforms"):
        ns1.convert(raw, tmp_path / "e.strf.h5", drc_dir=str(drc))


@pytest.mark.parametrize("osf_name", ["cluster.02.data_1.mat", "cluster.02_1.data.mat"])
def test_cluster_file_with_the_osf_1_suffix_is_found(tmp_path, osf_name):
    """Some OSF cluster files carry a '_1' suffix the metadata path lacks: retried, as deepSTRF's loader."""
    raw = tmp_path / "raw"
    _written_release(raw)
    pen = raw / "spikesandwav" / "expA" / "P01"
    (pen / "cluster.02.data.mat").rename(pen / osf_name)
    out = tmp_path / "o.strf.h5"
    with pytest.warns(UserWarning, match=rf"{re.escape(osf_name)} \(the OSF '_1' suffix\)"):
        ns1.convert(raw, out)
    with strfh5.FileContents(out) as c:
        assert c.neuron_ids == ["expA/P01/cluster.01", "expA/P01/cluster.02"]
        np.testing.assert_allclose(c.row(0)[1].times, [7.0])
        prov = assert_provenance(c.info.metadata, "ns1")
    (q,) = [q for q in prov["quirks"] if q["kind"] == "cluster_file_suffix"]
    assert q["metadata_path"] == "expA/P01/cluster.02.data.mat" and q["file"] == f"expA/P01/{osf_name}"


def test_two_suffixed_candidates_are_refused(tmp_path):
    raw = tmp_path / "raw"
    _written_release(raw)
    pen = raw / "spikesandwav" / "expA" / "P01"
    (pen / "cluster.02.data.mat").rename(pen / "cluster.02.data_1.mat")
    (pen / "cluster.02_1.data.mat").write_bytes((pen / "cluster.02.data_1.mat").read_bytes())
    with pytest.raises(RawDataError, match="several suffixed files"):
        ns1.convert(raw, tmp_path / "o.strf.h5")
