"""The Downer 2025 converter on a miniature release written with scipy.io.savemat."""

import json
import tracemalloc

import h5py
import numpy as np
import pytest
from scipy.io import savemat

from downer_fixtures import MVOC_CODES, TIMIT_IDS, TIMIT_TEST, TIMIT_TEST_REPS, make_release
from strfh5.contents import FileContents
from strfh5.converters import downer2025
from strfh5.spectrogram import n_frames
from strfh5.errors import MissingRawFileError, RawDataError
from provenance_check import assert_provenance

PRE, POST = 500.0, 500.0


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    d = tmp_path_factory.mktemp("downer")
    truth = make_release(d / "raw", n_sessions=3)
    out = downer2025.convert(d / "raw", d / "dn.strf.h5", n_bands=16)
    c = FileContents(str(out))
    yield truth, c, out
    c.close()


def _expected(truth, nid, code, cls):
    sess = nid.split("_")[1]
    tab = truth["sessions"][sess]
    codes = tab["timit"] if cls == "timit" else tab["mvoc"]
    dur = (truth["timit_dur"] if cls == "timit" else truth["mvoc_dur"])[code] * 1000
    spk = truth["channels"][nid] * 1000
    out = []
    for t0 in tab["stimon"][codes == code] * 1000:
        out.append(spk[(spk >= t0 - PRE) & (spk < t0 + dur + POST)] - t0)
    return out


def test_stimuli_neurons_and_repeats(converted):
    truth, c, _ = converted
    assert c.info.encoding == "events" and c.info.dt_ms == 5.0
    assert c.stim_ids == [f"timit-{i:03d}" for i in TIMIT_IDS] + [f"mvoc-{i:03d}" for i in MVOC_CODES]
    assert c.neuron_ids == [f"{a}_{s}_Ch{ch}" for a, s in (("c", "180501"), ("c", "180502"), ("b", "180613"))
                            for ch in ("1", "2", "3p")]
    for s, sid in enumerate(c.stim_ids):
        cls, code = sid.split("-")
        for n, nid in enumerate(c.neuron_ids):
            tab = truth["sessions"][nid.split("_")[1]]
            codes = tab["timit"] if cls == "timit" else tab["mvoc"]
            assert c.repeats[s, n] == int(np.sum(codes == int(code)))


def test_spike_times_per_trial_match_the_channel_files(converted):
    truth, c, _ = converted
    n_trials = 0
    for s, sid in enumerate(c.stim_ids):
        cls, code = sid.split("-")
        row = c.row(s)
        for n, nid in enumerate(c.neuron_ids):
            ref = _expected(truth, nid, int(code), "timit" if cls == "timit" else "mvoc")
            if not ref:
                assert row[n] is None
                continue
            assert row[n].counts.tolist() == [len(r) for r in ref]
            for got, want in zip(row[n].trials(), ref):
                np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
                n_trials += 1
    assert n_trials > 50
    # pre-onset spikes are kept
    assert min(e.times.min() for e in c.row(0) if e is not None and e.times.size) < 0


def test_stimulus_metadata_test_ids_and_pads(converted):
    truth, c, out = converted
    m = dict(zip(c.stim_ids, c.stim_meta))
    for i in TIMIT_IDS:
        assert m[f"timit-{i:03d}"]["subset"] == ("test" if i in TIMIT_TEST else "est")
        assert m[f"timit-{i:03d}"]["duration_s"] == pytest.approx(truth["timit_dur"][i])
    assert m["mvoc-007"]["subset"] == "test" and m["mvoc-009"]["subset"] == "est"
    assert m["timit-012"]["name"] == "sx12_spkr" and m["timit-012"]["pads_removed_s"] == [0.5, 0.5]
    assert m["mvoc-009"]["sample_rate"] == 41000.0
    assert m["mvoc-009"]["duration_s"] == pytest.approx(truth["mvoc_dur"][9], abs=1e-4)
    s = c.stim_ids.index("timit-040")
    assert c.n_bins[s] == n_frames(int(round(truth["timit_dur"][40] * 16000)), 16000, 5)
    with h5py.File(out, "r") as f:
        meta = json.loads(f["metadata"][()])
    assert meta["test_ids"] == {"timit": TIMIT_TEST, "mvocs": [7]}
    assert meta["bad_sessions"] == ["180502"]


def test_neuron_metadata_and_bad_sessions(converted, tmp_path):
    truth, c, _ = converted
    m = dict(zip(c.neuron_ids, c.nrn_meta))
    a = m["c_180501_Ch3p"]
    assert (a["session"], a["animal"], a["channel"], a["channel_suffix"], a["hemisphere"], a["area"],
            a["area_group"], a["coordinates"], a["bad_session"]) == (
        "180501", "c", 3, "p", "RH", "R", "core", [1.5, -2.0], False)
    assert m["c_180502_Ch1"]["bad_session"] is True and m["c_180502_Ch1"]["area"] == "RPB"
    # bad sessions are left out only when asked
    make_release(tmp_path / "raw", n_sessions=3, top=False)
    out = downer2025.convert(tmp_path / "raw", tmp_path / "x.strf.h5", exclude_bad_sessions=True,
                             stimuli=["timit"], n_bands=8, sessions=["180501", "180502"])
    c2 = FileContents(str(out))
    try:
        assert c2.neuron_ids == ["c_180501_Ch1", "c_180501_Ch2", "c_180501_Ch3p"]
        assert c2.stim_ids == [f"timit-{i:03d}" for i in TIMIT_IDS]
        assert int(c2.repeats[c2.stim_ids.index("timit-012")].min()) == TIMIT_TEST_REPS
    finally:
        c2.close()


def test_peak_memory_does_not_grow_with_sessions(tmp_path):
    """Streaming: peak traced memory for 4 sessions stays near that of 1 session."""
    make_release(tmp_path / "warm", n_sessions=1)
    downer2025.convert(tmp_path / "warm", tmp_path / "warm.strf.h5", stimuli=["timit"], n_bands=8)  # imports
    peaks = {}
    for n_sess in (1, 4):
        raw = tmp_path / f"raw{n_sess}"
        make_release(raw, n_sessions=n_sess, events_mb=4.0, channels=(("", 1), ("", 2)))
        tracemalloc.start()
        downer2025.convert(raw, tmp_path / f"o{n_sess}.strf.h5", stimuli=["timit"], n_bands=8)
        peaks[n_sess] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    data_bytes = 4 * 2 * 4e6  # channel files of the 4-session release
    assert peaks[1] > 4e6  # one channel file (its 4 MB events matrix) is held at a time
    assert peaks[4] < 1.3 * peaks[1] + 1e6
    assert peaks[4] < data_bytes / 4


def test_bad_release_errors(tmp_path):
    with pytest.raises(MissingRawFileError, match="sessions"):
        downer2025.convert(tmp_path, tmp_path / "x.strf.h5")
    make_release(tmp_path / "raw", n_sessions=1)
    root = tmp_path / "raw" / "auditory_cortex_data"
    f = root / "sessions" / "180501" / "c_180501_Ch1_MUspk.mat"
    savemat(f, {"spike": {"spktimes": np.array([1.0, 2.0])},
                "trial": {"stimon": np.array([3.0]), "timitStimcode": np.array([99.0]), "mVocStimcode": np.array([0.0])}})
    with pytest.raises(RawDataError, match="99"):
        downer2025.convert(tmp_path / "raw", tmp_path / "x.strf.h5", n_bands=8)
    assert not (tmp_path / "x.strf.h5").exists()
    f.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(200))
    with pytest.raises(RawDataError, match="v7.3"):
        downer2025.convert(tmp_path / "raw", tmp_path / "x.strf.h5", n_bands=8)
    (root / "sessions" / "180501" / "c_180501_Chx_MUspk.mat").write_bytes(b"")
    with pytest.raises(RawDataError, match="Chx"):
        downer2025.convert(tmp_path / "raw", tmp_path / "x.strf.h5", n_bands=8)
    (root / "sessions_metadata.yml").unlink()
    with pytest.raises(MissingRawFileError, match="sessions_metadata"):
        downer2025.convert(tmp_path / "raw", tmp_path / "x.strf.h5", n_bands=8)


def test_bad_sessions_metadata_named(tmp_path):
    make_release(tmp_path / "raw", n_sessions=1)
    yml = tmp_path / "raw" / "auditory_cortex_data" / "sessions_metadata.yml"
    text = yml.read_text()
    for bad in ("stim_wise_num_repeats: {timit: many, mVocs: 3}", "stim_wise_num_repeats: {timit: 0, mVocs: 3}"):
        lines = [bad if ln.startswith("stim_wise_num_repeats") else ln for ln in text.splitlines()]
        yml.write_text("\n".join(lines) + "\n")
        with pytest.raises(RawDataError, match="sessions_metadata.yml: stim_wise_num_repeats.timit"):
            downer2025.read_sessions_metadata(yml)
    yml.write_text(text.replace("180502: [0.5, 3.25]", "180502: [0.5, north]"))
    with pytest.raises(RawDataError, match=r"session_coordinates.180502 must be \[x, y\] numbers"):
        downer2025.read_sessions_metadata(yml)


def test_stereo_wav_audio_from_channel_0_onsets_from_the_pulse_channel(tmp_path):
    """The vocalisation wav is stereo: channel 0 audio, channel 1 onset pulses (the authors' reader)."""
    from downer_fixtures import MVOC_FS

    truth = make_release(tmp_path / "raw", n_sessions=1)
    out = tmp_path / "v.strf.h5"
    with pytest.warns(UserWarning, match="three onset pulses"):
        downer2025.convert(tmp_path / "raw", out, stimuli=["mvocs"], audio_fs=float(MVOC_FS), keep_waveform=True,
                           n_bands=8)
    audio = truth["mvoc_audio"].astype(np.float32) / 32768.0
    with FileContents(str(out)) as c:
        meta = c.info.metadata
        assert meta["mvoc_onsets"]["source"] == "wav channel 1 onset pulses"
        assert meta["mvoc_onsets"]["max_abs_diff_vs_mVocsStimOnTimes_s"] == pytest.approx(0.003, abs=1e-6)
        for s, m in enumerate(c.stim_meta):
            code = m["stim_code"]
            first = truth["mvoc_seq"].index(code)
            onset = truth["mvoc_onsets"][first]
            assert m["sequence_onset_s"] == pytest.approx(onset, abs=1e-9)  # the pulse, not the table's +3 ms
            assert m["duration_s"] == pytest.approx(truth["mvoc_dur"][code], abs=1.0 / MVOC_FS)
            wave, sr = c.waveform(s)
            start = int(round(onset * MVOC_FS))
            # the stored sound is channel 0 exactly: no pulse mixed in (a channel mean would halve it and add 0.45)
            np.testing.assert_array_equal(np.asarray(wave).reshape(-1), audio[start : start + m["n_samples"]])
        kinds = {q["kind"] for q in assert_provenance(meta, "downer2025", {"stimuli": ["mvocs"]})["quirks"]}
        assert "first_presentation_triple_pulse" in kinds


def test_pulse_count_must_match_the_codes(tmp_path):
    from scipy.io import wavfile

    make_release(tmp_path / "raw", n_sessions=1)
    wav = tmp_path / "raw" / "auditory_cortex_data" / "stimuli" / "MonkVocs_15Blocks.wav"
    sr, x = wavfile.read(wav)
    x = x.copy()
    x[-10:, 1] = 1000  # a spurious pulse at the end
    wavfile.write(wav, sr, x)
    with pytest.raises(RawDataError, match=r"channel 1 holds 9 onset pulses for the 6 vocalisation codes"):
        downer2025.convert(tmp_path / "raw", tmp_path / "x.strf.h5", stimuli=["mvocs"], n_bands=8)
    assert downer2025.pulse_onsets(wav).size == 9  # 6 onsets + 2 extra first pulses + the spurious one


@pytest.mark.parametrize("name", ["sessions_metadata.yml", "session_metadata.yml"])
def test_both_metadata_file_names_are_accepted(tmp_path, name):
    make_release(tmp_path / "raw", n_sessions=1, yaml_name=name)
    out = downer2025.convert(tmp_path / "raw", tmp_path / "x.strf.h5", stimuli=["timit"], n_bands=8)
    with FileContents(str(out)) as c:
        assert c.nrn_meta[0]["hemisphere"] == "RH"
        kinds = [q["kind"] for q in c.info.metadata["provenance"]["quirks"]]
    assert ("metadata_file_name" in kinds) == (name == "session_metadata.yml")
    (tmp_path / "raw" / "auditory_cortex_data" / name).unlink()
    with pytest.raises(MissingRawFileError, match="session_metadata.yml"):
        downer2025.convert(tmp_path / "raw", tmp_path / "y.strf.h5", stimuli=["timit"], n_bands=8)
