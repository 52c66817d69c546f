"""NWB both ways: export passes pynwb validation and nwbinspector; NWB -> strfh5 of an export is exact;
a DANDI-style NWB file (units, trials with a stimulus column, stimulus templates) converts, validates, loads."""

from __future__ import annotations

import datetime as dt
import os
import warnings
from pathlib import Path

import numpy as np
import pytest

pynwb = pytest.importorskip("pynwb")
nwbinspector = pytest.importorskip("nwbinspector")

import strfh5  # noqa: E402
from strfh5.cli.main import main as cli  # noqa: E402
from strfh5.converters import convert  # noqa: E402
from strfh5.converters.base import ConversionWarning  # noqa: E402
from strfh5.errors import ExportError, MissingRawFileError, RawDataError  # noqa: E402
from strfh5.nwb_export import export_nwb  # noqa: E402

BAD = {nwbinspector.Importance.ERROR, nwbinspector.Importance.CRITICAL, nwbinspector.Importance.PYNWB_VALIDATION}


def _check_nwb(path):
    """pynwb validation and nwbinspector: no error or critical finding."""
    assert list(pynwb.validate(path=str(path))) == []
    bad = [(m.importance.name, m.check_function_name, m.message) for m in nwbinspector.inspect_nwbfile(
        nwbfile_path=str(path)) if m.importance in BAD]
    assert bad == []


def _assert_same_file(a_path, b_path):
    a, b = strfh5.FileContents(str(a_path)), strfh5.FileContents(str(b_path))
    try:
        assert a.stim_ids == b.stim_ids and a.neuron_ids == b.neuron_ids
        assert a.stim_meta == b.stim_meta and a.nrn_meta == b.nrn_meta
        assert np.array_equal(a.repeats, b.repeats) and np.array_equal(a.n_bins, b.n_bins)
        assert (a.info.encoding, a.info.dt_ms, a.info.stim_kind, a.info.response_kind) == \
               (b.info.encoding, b.info.dt_ms, b.info.stim_kind, b.info.response_kind)
        assert a.info.transform == b.info.transform
        assert a.stored_dtype() == b.stored_dtype()
        for s in range(a.S):
            x, y = a.stim(s), b.stim(s)
            assert x.dtype == y.dtype and np.array_equal(x, y)
            for ea, eb in zip(a.row(s), b.row(s)):
                assert (ea is None) == (eb is None)
                if ea is None:
                    continue
                if a.info.encoding == "events":
                    assert np.array_equal(ea.times, eb.times) and np.array_equal(ea.counts, eb.counts)
                else:
                    assert ea.dtype == eb.dtype and np.array_equal(ea, eb, equal_nan=True)
    finally:
        a.close()
        b.close()


def _round_trip(src, tmp):
    nwb = export_nwb(src, tmp / (Path(src).name.split(".")[0] + ".nwb"))
    _check_nwb(nwb)
    back = convert("nwb", nwb, tmp / "back.strf.h5")
    assert strfh5.validate(back, checksums=True).ok
    _assert_same_file(src, back)
    return nwb, back


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo simulation (fewer stimuli and neurons, to stay fast) in both encodings."""
    d = tmp_path_factory.mktemp("nwb-demo")
    return {enc: strfh5.write_simulated(d / f"{enc}.strf.h5", preset="demo", encoding=enc, n_stimuli=5,
                                        n_neurons=8, seed=2) for enc in ("events", "binned")}


@pytest.mark.parametrize("encoding", ["events", "binned"])
def test_demo_round_trip_is_exact(tmp_path, demo, encoding):
    src = demo[encoding]
    assert strfh5.FileContents(str(src)).repeats.any()
    nwb, back = _round_trip(src, tmp_path)
    meta = strfh5.info(back)
    assert meta["source"] == "nwb" and meta["uuid"] != strfh5.info(src)["uuid"]
    ds = strfh5.load(back, lazy=True)
    assert ds.get_S() == 5 and ds.get_N() == 8
    ds.close()


def test_exported_layout_is_documented_in_the_file(tmp_path, demo):
    src = demo["events"]
    nwb = export_nwb(src, tmp_path / "demo.nwb", gap_s=2.0)
    c = strfh5.FileContents(str(src))
    with pynwb.NWBHDF5IO(str(nwb), "r") as io:
        f = io.read()
        pres = f.intervals["presentations"]
        start, stop = pres["start_time"][:], pres["stop_time"][:]
        w0, w1 = pres["window_start_time"][:], pres["window_stop_time"][:]
        assert np.all(w0[1:] - w1[:-1] >= 2.0 - 1e-9)  # windows apart by the gap
        assert np.all((w0 <= start) & (stop <= w1))
        s_idx = pres["stimulus_index"][:]
        assert [c.stim_ids[s] for s in s_idx] == list(pres["stimulus"][:])
        assert np.allclose(stop - start, c.n_bins[s_idx] * c.info.dt_ms / 1000)
        assert len(pres) == int(sum(c.repeats[s].max() for s in range(c.S)))
        assert '"gap_s": 2.0' in f.notes
        # spike times on the timeline = onset + relative time
        for n in range(c.N):
            t, rel = f.units["spike_times"][n], f.units["strfh5_times_ms"][n]
            p = np.searchsorted(w0, t, "right") - 1
            assert np.allclose(t, start[p] + rel / 1000.0, rtol=0, atol=1e-9)
            assert np.all(np.diff(t) > 0)
        assert sorted(f.stimulus_template) == sorted(c.stim_ids)
    c.close()
    with pytest.raises(FileExistsError):
        export_nwb(src, nwb)


def test_empty_file_is_refused(tmp_path):
    src = strfh5.write_simulated(tmp_path / "e.strf.h5", preset="demo", n_stimuli=3, n_neurons=2)
    assert not strfh5.FileContents(str(src)).repeats.any()
    with pytest.raises(ExportError, match="nothing to export"):
        export_nwb(src, tmp_path / "e.nwb")
    assert not (tmp_path / "e.nwb").exists()


def test_colliding_nwb_names_are_refused(tmp_path):
    stims = [np.ones((1, 2, 4), np.float32)] * 2
    ds = strfh5.from_lists(stims, spike_times=[[[np.array([1.0])]], [[np.array([2.0])]]], dt_ms=5,
                           stim_ids=["a/b", "a_b"])
    src = strfh5.save(ds, tmp_path / "c.strf.h5")
    with pytest.raises(ExportError, match="'a/b' and 'a_b'"):
        export_nwb(src, tmp_path / "c.nwb")


def test_cli_export_nwb(tmp_path, capsys, demo):
    src = demo["events"]
    out = tmp_path / "d.nwb"
    assert cli(["export-nwb", str(src), "-o", str(out)]) == 0
    assert out.is_file() and "written" in capsys.readouterr().out
    assert cli(["export-nwb", str(src), "-o", str(out)]) == 2
    assert "exists" in capsys.readouterr().err


# ---------------------------------------------------------------- real cells
def _aa1_layout(real: Path, tmp: Path) -> Path:
    src = real / "crcns-aa"
    root = tmp / "aa1"
    (root / "all_stims").mkdir(parents=True)
    os.symlink(src / "all_stims", root / "all_stims" / "conspecific")
    for folder, cells in (("MLd_cells", ["mld_good"]), ("Field_L_cells", ["l2a_good", "ov_good"])):
        (root / folder).mkdir()
        for c in cells:
            os.symlink(src / "all_cells" / c, root / folder / c)
    return root


@pytest.mark.real
def test_real_aa1_cells_round_trip_through_nwb(real_data, tmp_path):
    root = _aa1_layout(real_data, tmp_path)
    src = tmp_path / "aa1.strf.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConversionWarning)
        convert("crcns-aa1", root, src, stim_classes=["conspecific"], dt_ms=5.0, n_bands=16)
    c = strfh5.FileContents(str(src))
    assert c.N == 3 and c.S == 20
    c.close()
    _round_trip(src, tmp_path)


# --------------------------------------------------------- DANDI-style file
RATE = 8000.0
STIMS = {"song_a": 0.30, "song_b": 0.25, "noise": 0.20}  # name -> duration, s
SCHEDULE = ["song_a", "noise", "song_b", "song_a", "song_b", "noise", "song_a"]  # presentation order


def _dandi_like(path: Path) -> dict:
    """An NWB file laid out like DANDI auditory datasets; returns the truth the conversion must find."""
    rng = np.random.default_rng(0)
    f = pynwb.NWBFile(session_description="awake zebra finch, playback of songs", identifier="sess-0001",
                      session_start_time=dt.datetime(2024, 5, 1, 10, tzinfo=dt.timezone.utc), session_id="ses-01",
                      lab="Test lab", institution="Test university",
                      subject=pynwb.file.Subject(subject_id="bird-7", species="Taeniopygia guttata", sex="M",
                                                 age="P120D"))
    dev = f.create_device("probe")
    grp = f.create_electrode_group("shank0", description="shank", location="Field L", device=dev)
    for loc in ("L2a", "L3"):
        f.add_electrode(group=grp, location=loc)
    for name, dur in STIMS.items():
        t = np.arange(int(dur * RATE)) / RATE
        f.add_stimulus_template(pynwb.TimeSeries(name=name, data=np.sin(2 * np.pi * (500 + 3000 * t) * t),
                                                 unit="a.u.", rate=RATE, description=f"sound {name}"))
    f.add_trial_column("stimulus_name", "sound played")
    starts = 1.0 + 1.5 * np.arange(len(SCHEDULE))
    mic = np.zeros(int((starts[-1] + 2.0) * RATE))
    for t0, name in zip(starts, SCHEDULE):
        f.add_trial(start_time=t0, stop_time=t0 + STIMS[name], stimulus_name=name)
        i0 = int(round(t0 * RATE))
        mic[i0:i0 + int(STIMS[name] * RATE)] = f.stimulus_template[name].data[:] * 0.5
    f.add_acquisition(pynwb.TimeSeries(name="microphone", data=mic, unit="V", rate=RATE, starting_time=0.0,
                                       description="sound recorded at the bird"))
    f.add_unit_column("quality", "sorting quality")
    units = []
    for u, (quality, el) in enumerate((("good", 0), ("good", 1), ("mua", 0))):
        t = np.sort(rng.uniform(0.5, starts[-1] + 1.0, 400))
        obs = [[0.0, starts[3] - 0.5]] if u == 1 else [[0.0, starts[-1] + 2.0]]  # unit 1 lost after trial 2
        f.add_unit(spike_times=t, quality=quality, electrodes=[el], obs_intervals=obs)
        units.append((t, obs))
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(f)
    return {"starts": starts, "units": units}


def test_dandi_style_file_converts_validates_and_loads(tmp_path):
    nwb = tmp_path / "sub-bird-7_ses-01.nwb"
    truth = _dandi_like(nwb)
    out = tmp_path / "dandi.strf.h5"
    convert("nwb", nwb, out, unit_filter="quality=good", pre_ms=100.0, post_ms=200.0, dt_ms=5.0, n_bands=16,
            f_max=3900.0, dandi_path="sub-bird-7/sub-bird-7_ses-01.nwb")
    assert strfh5.validate(out, checksums=True).ok
    ds = strfh5.load(out)
    assert ds.get_N() == 2 and ds.stim_ids == ["song_a", "noise", "song_b"]
    c = strfh5.FileContents(str(out))
    assert [m["location"] for m in c.nrn_meta] == ["L2a", "L3"] and c.nrn_meta[0]["quality"] == "good"
    prov = c.info.metadata["provenance"]
    assert prov["dandi_path"] == "sub-bird-7/sub-bird-7_ses-01.nwb"
    assert prov["nwb"]["identifier"] == "sess-0001" and prov["nwb"]["session_id"] == "ses-01"
    assert c.info.metadata["species"] == "Taeniopygia guttata"
    for s, sid in enumerate(c.stim_ids):
        assert c.n_bins[s] == c.stim(s).shape[-1] == int(STIMS[sid] * 1000 / 5)
        pres = [k for k, name in enumerate(SCHEDULE) if name == sid]
        for n in range(2):
            t, obs = truth["units"][n]
            seen = [k for k in pres if obs[0][1] >= truth["starts"][k] + STIMS[sid]]
            el = c.row(s)[n]
            assert c.repeats[s, n] == len(seen)
            if not seen:
                assert el is None
                continue
            for r, k in enumerate(seen):
                t0 = truth["starts"][k]
                want = (t[(t >= t0 - 0.1) & (t <= t0 + STIMS[sid] + 0.2)] - t0) * 1000.0
                np.testing.assert_allclose(el.trials()[r], want, rtol=0, atol=1e-9)
    c.close()
    assert c.repeats[0].tolist() == [3, 1]  # unit 1 was lost after the first song_a presentation


def test_dandi_style_stimuli_as_waveforms_or_cut_from_a_recording(tmp_path):
    nwb = tmp_path / "x.nwb"
    _dandi_like(nwb)
    out = convert("nwb", nwb, tmp_path / "w.strf.h5", stimuli="waveform", dt_ms=5.0)
    c = strfh5.FileContents(str(out))
    assert c.info.stim_kind == "waveform" and c.stim_sample_rate(0) == RATE
    assert [c.stim(s).shape for s in range(c.S)] == [(1, int(STIMS[i] * RATE)) for i in c.stim_ids]
    assert c.n_bins.tolist() == [int(STIMS[i] * 200) for i in c.stim_ids]  # at 5 ms
    c.close()
    out = convert("nwb", nwb, tmp_path / "m.strf.h5", stimuli="waveform", stimulus_series="microphone")
    m = strfh5.FileContents(str(out))
    for s, sid in enumerate(m.stim_ids):  # the recording holds half the template's amplitude
        tpl = strfh5.FileContents(str(tmp_path / "w.strf.h5"))
        np.testing.assert_allclose(m.stim(s), tpl.stim(s) * 0.5, atol=1e-6)
        tpl.close()
    m.close()


def test_nwb_refusals_name_what_is_missing(tmp_path):
    nwb = tmp_path / "x.nwb"
    _dandi_like(nwb)
    with pytest.raises(RawDataError, match=r"no intervals table with column 'sound'.*trials"):
        convert("nwb", nwb, tmp_path / "a.strf.h5", stimulus_column="sound")
    with pytest.raises(RawDataError, match="no intervals table 'epochs'"):
        convert("nwb", nwb, tmp_path / "a.strf.h5", intervals="epochs")
    with pytest.raises(RawDataError, match="column 'depth'"):
        convert("nwb", nwb, tmp_path / "a.strf.h5", unit_filter="depth=3")
    with pytest.raises(MissingRawFileError, match="no time series 'mic'"):
        convert("nwb", nwb, tmp_path / "a.strf.h5", stimulus_series="mic")
    with pytest.raises(MissingRawFileError, match="no such NWB file"):
        convert("nwb", tmp_path / "none.nwb", tmp_path / "a.strf.h5")
    (tmp_path / "bad.nwb").write_bytes(b"nope")
    with pytest.raises(RawDataError, match="not a readable NWB file"):
        convert("nwb", tmp_path / "bad.nwb", tmp_path / "a.strf.h5")
    assert not (tmp_path / "a.strf.h5").exists()
