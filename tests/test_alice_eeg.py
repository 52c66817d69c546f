"""The Alice EEG converter on a miniature release whose FIF files are written with mne."""

import json
import sys

import h5py
import numpy as np
import pytest

pytest.importorskip("mne")

from alice_fixtures import EEG, FS, SEG_DUR, SUBJECTS, make_release, signal  # noqa: E402
from strfh5.contents import FileContents  # noqa: E402
from strfh5.converters import alice_eeg  # noqa: E402
from strfh5.converters.base import ConversionWarning  # noqa: E402
from strfh5.spectrogram import n_frames  # noqa: E402
from strfh5.errors import ConverterError, MissingDependencyError, MissingRawFileError, RawDataError  # noqa: E402
from provenance_check import assert_provenance  # noqa: E402


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return make_release(tmp_path_factory.mktemp("alice") / "raw")


def _convert(release, tmp_path, name, **kw):
    out = alice_eeg.convert(release, tmp_path / name, n_bands=8, **kw)
    return FileContents(str(out)), out


def _expected(sub, ch, seg, dt_ms, T):
    onset = SUBJECTS[sub][1][seg]
    t = round(onset * FS) / FS + np.arange(T) * dt_ms / 1000.0
    ref = signal(sub, EEG.index(ch), t) * 1e6  # µV
    nan = np.zeros(T, bool)
    b0, bd = SUBJECTS[sub][3]
    tr = np.round(t, 9)
    nan |= (tr >= round(b0, 9)) & (tr < round(b0 + bd, 9))
    nan |= t > (9.0 * FS - 1) / FS  # past the last sample
    if ch in SUBJECTS[sub][2]:
        nan[:] = True
    return ref, nan


def test_native_rate_keeps_raw_samples_and_marks_bad_data(release, tmp_path):
    import mne

    data = {sub: mne.io.read_raw_fif(release / shard / "eeg" / sub / f"{sub}_alice-raw.fif").get_data(picks=EEG)
            for sub, (shard, *_rest) in SUBJECTS.items()}
    with pytest.warns(ConversionWarning, match="segment 3 ends"):
        c, out = _convert(release, tmp_path, "a4.strf.h5", dt_ms=4.0)  # 4 ms = the native 250 Hz
    try:
        assert c.info.encoding == "binned" and c.info.response_kind == "continuous"
        assert c.stim_ids == ["segment-01", "segment-02", "segment-03"]
        assert c.neuron_ids == [f"{s}/{ch}" for s in ("S01", "S02") for ch in EEG]  # no stim/EOG channels
        assert (c.repeats == 1).all()
        for s, seg in enumerate((1, 2, 3)):
            T = n_frames(int(SEG_DUR[seg] * 44100), 44100, 4.0)
            assert c.n_bins[s] == T
            row = c.row(s)
            for n, nid in enumerate(c.neuron_ids):
                sub, ch = nid.split("/")
                ref, nan = _expected(sub, ch, seg, 4.0, T)
                v = row[n]
                assert v.shape == (1, T) and v.dtype == np.float32
                np.testing.assert_array_equal(np.isnan(v[0]), nan)
                # the stored FIF samples, in µV, exactly (float32)
                start = round(SUBJECTS[sub][1][seg] * FS)
                stored = np.full(T, np.nan)
                seg_data = data[sub][EEG.index(ch), start : start + T]
                stored[: seg_data.size] = seg_data * 1e6
                np.testing.assert_array_equal(v[0][~nan], stored[~nan].astype(np.float32))
                np.testing.assert_allclose(v[0][~nan], ref[~nan], atol=1e-4)  # the signal written
        # a bad channel is all NaN, a BAD span and the tail past the recording are NaN
        assert np.isnan(c.row(1)[c.neuron_ids.index("S01/Cz")]).all()
        assert np.isnan(c.row(1)[0]).sum() == 50
        assert np.isnan(c.row(2)[4]).sum() == c.n_bins[2] - 200
    finally:
        c.close()


def test_resampled_to_dt_with_antialiasing(release, tmp_path):
    with pytest.warns(ConversionWarning, match="segment 3 ends"):
        c, out = _convert(release, tmp_path, "a10.strf.h5", dt_ms=10.0, keep_waveform=True)
    try:
        assert c.info.dt_ms == 10.0
        for s, seg in enumerate((1, 2, 3)):
            T = c.n_bins[s]
            assert T == int(SEG_DUR[seg] * 100)
            for n, nid in enumerate(c.neuron_ids):
                sub, ch = nid.split("/")
                ref, nan = _expected(sub, ch, seg, 10.0, T)
                v = c.row(s, [n])[0][0]
                np.testing.assert_array_equal(np.isnan(v), nan)
                # low-frequency sinusoids pass the anti-aliasing filter unchanged (0.2 % of the amplitude);
                # the last 0.1 s before the end of a recording are padded and looser
                t = SUBJECTS[sub][1][seg] + np.arange(T) / 100
                inner = ~nan & (t < 8.9)
                np.testing.assert_allclose(v[inner], ref[inner], atol=0.04)
        wf, sr = c.waveform(0)
        assert sr == 44100.0 and wf.shape == (1, int(1.2 * 44100))
    finally:
        c.close()


def test_metadata(release, tmp_path):
    c, out = _convert(release, tmp_path, "m.strf.h5", subjects=["S01"])
    try:
        assert c.neuron_ids == [f"S01/{ch}" for ch in EEG]
        m = c.nrn_meta[2]
        assert (m["subject"], m["channel"], m["bad"], m["area"], m["sampling_rate_hz"]) == ("S01", "Cz", True, "EEG", 250.0)
        assert m["position"] == pytest.approx([0.02, 0.02, 0.08])
        assert c.nrn_meta[0]["bad"] is False
        sm = c.stim_meta[0]
        assert (sm["segment"], sm["n_words"], sm["sample_rate"]) == (1, 2, 44100.0)
        assert [w["Word"] for w in sm["words"]] == ["Alice", "was"] and sm["words"][0]["onset"] == 0.046
        assert c.stim_meta[2]["words"][0]["NGRAM"] is None  # NaN in the table
        with h5py.File(out, "r") as f:
            meta = json.loads(f["metadata"][()])
            tr = json.loads(f["stimuli"].attrs["transform"])
        assert meta["response_units"] == "uV" and meta["subjects"] == ["S01"] and meta["eeg_sampling_rate_hz"] == [250.0]
        assert tr["hop_ms"] == 10.0 and tr["n_bands"] == 8
    finally:
        c.close()


def test_missing_segment_annotation_is_recorded_as_missing(tmp_path):
    raw = make_release(tmp_path / "raw", drop_annotation=("S02", 2))
    with pytest.warns(ConversionWarning, match="segment"):
        c, out = _convert(raw, tmp_path, "x.strf.h5")
    try:
        assert c.repeats[1].tolist() == [1] * 4 + [0] * 4
        assert c.nrn_meta[4]["missing_segments"] == [2] and "missing_segments" not in c.nrn_meta[0]
        with h5py.File(out, "r") as f:
            quirks = json.loads(f["metadata"][()])["provenance"]["quirks"]
        kinds = {(q["kind"], q["subject"]) for q in quirks}
        assert kinds == {("missing_segment_annotation", "S02"), ("segment_past_recording_end", "S02")}
    finally:
        c.close()


def test_errors(release, tmp_path, monkeypatch):
    with pytest.raises(MissingRawFileError, match="alice-raw.fif"):
        alice_eeg.convert(tmp_path, tmp_path / "x.strf.h5")
    with pytest.raises(MissingRawFileError, match="S99"):
        alice_eeg.convert(release, tmp_path / "x.strf.h5", subjects=["S99"])
    with pytest.raises(ConverterError, match="rational"):
        alice_eeg.convert(release, tmp_path / "x.strf.h5", dt_ms=3.3333333)
    monkeypatch.setitem(sys.modules, "mne", None)
    with pytest.raises(MissingDependencyError, match=r"alice-eeg .*'mne'.*pip install 'strfh5\[eeg\]'"):
        alice_eeg.convert(release, tmp_path / "x.strf.h5")


def test_damaged_fif_refused(tmp_path):
    raw = make_release(tmp_path / "raw")
    (raw / "eeg.1" / "eeg" / "S02" / "S02_alice-raw.fif").write_bytes(b"garbage" * 10)
    with pytest.raises(RawDataError, match="S02_alice-raw.fif"):
        alice_eeg.convert(raw, tmp_path / "x.strf.h5")
    assert not (tmp_path / "x.strf.h5").exists()


def test_resample_segment_filters_above_the_new_nyquist():
    fs, t = 250.0, np.arange(2500) / 250.0
    low, high = np.sin(2 * np.pi * 3 * t), np.sin(2 * np.pi * 60 * t)  # 60 Hz > 50 Hz Nyquist at 100 Hz
    y = alice_eeg.resample_segment(np.vstack([low, high]), fs, 500, 300, 2, 5)
    tk = (500 + np.arange(300) * 2.5) / fs
    np.testing.assert_allclose(y[0], np.sin(2 * np.pi * 3 * tk), atol=2e-3)
    assert np.abs(y[1]).max() < 0.05  # aliased into the band without the filter, removed with it
    # before the first native sample -> NaN
    y = alice_eeg.resample_segment(np.vstack([low]), fs, -5, 10, 2, 5)
    assert np.isnan(y[0, :2]).all() and np.isfinite(y[0, 2:]).all()


def test_real_word_table_drives_segment_and_word_metadata(real_data, tmp_path):
    """With the release's own word table (and datasets.mat), each segment's stimulus lists its real words."""
    import csv

    table = real_data / "alice-eeg" / "AliceChapterOne-EEG.csv"
    raw = make_release(tmp_path / "raw", word_table=table, datasets_mat=real_data / "alice-eeg" / "datasets.mat")
    with open(table, newline="") as fh:
        rows = list(csv.DictReader(fh))
    c, out = _convert(raw, tmp_path, "w.strf.h5")
    with c:
        assert [m["segment"] for m in c.stim_meta] == sorted(SEG_DUR)
        for m in c.stim_meta:
            want = [r for r in rows if int(r["Segment"]) == m["segment"]]
            assert m["n_words"] == len(want) > 0
            assert [w["Word"] for w in m["words"]] == [r["Word"] for r in want]
            assert [w["onset"] for w in m["words"]] == [float(r["onset"]) for r in want]
            assert [w["Order"] for w in m["words"]] == [int(r["Order"]) for r in want]
        groups = {m["subject"]: m["dataset_groups"] for m in c.nrn_meta}
        assert groups == {"S01": ["use"], "S02": ["high_noise"]}
        prov = assert_provenance(c.info.metadata, "alice-eeg")
        assert prov["converter"]["id"] == "alice-eeg" and prov["verified"] == "real_sample"
        assert {f["name"]: f["known_hash"] for f in prov["release_files"]}["stimuli.zip"] == \
            "md5:4336a47bef7d3e63239c40c0623dc186"


def test_release_md5s_are_pinned():
    hashes = {f.name: f.known_hash for f in alice_eeg.SOURCE.files}
    assert hashes == {"eeg.0.zip": "md5:d63d96a6e5080578dbf71320ddbec0a0",
                      "eeg.1.zip": "md5:bdc65f168db4c0f19bb0fed20eae129b",
                      "eeg.2.zip": "md5:3fb33ca1c4640c863a71bddd45006815",
                      "stimuli.zip": "md5:4336a47bef7d3e63239c40c0623dc186"}
