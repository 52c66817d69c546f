"""CRCNS AA4 (HDF5 units) and AC1 (MATLAB trials) converters on fixtures in the published layouts."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

import strfh5
from strfh5.converters import convert
from strfh5.converters.base import ConversionWarning
from strfh5.converters.crcns_ac1 import bin_trace
from strfh5.spectrogram import n_frames
from strfh5.errors import MissingRawFileError, RawDataError
from strfh5.validation import validate

from crcns_fixtures import make_ac1, make_aa4
from provenance_check import assert_provenance

FAST = {"dt_ms": 5.0, "n_bands": 8}
pytestmark = pytest.mark.filterwarnings("ignore::strfh5.converters.base.ConversionWarning")


# ---------------------------------------------------------------------- AA4
def test_aa4_fixture_converts(tmp_path):
    info = make_aa4(tmp_path / "raw")
    out = tmp_path / "aa4.strf.h5"
    convert("crcns-aa4", tmp_path / "raw", out, **FAST)
    assert validate(out).ok
    with strfh5.FileContents(str(out)) as c:
        assert c.info.encoding == "events"
        assert sorted(c.stim_ids) == sorted(info["n_samples"])  # one stimulus per md5, across animals
        assert c.N == 4
        for s in range(c.S):
            assert c.n_bins[s] == n_frames(info["n_samples"][c.stim_ids[s]], info["rate"], 5.0)
            for n, el in enumerate(c.row(s)):
                exp = info["expected"][c.neuron_ids[n]].get(c.stim_ids[s])
                if exp is None:
                    assert el is None
                    continue
                trials = el.trials()
                assert len(trials) == len(exp) == 3
                for a, b in zip(trials, exp):
                    np.testing.assert_array_equal(a, b)  # seconds x 1000, -999 -> empty trial
        meta = dict(zip(c.neuron_ids, c.nrn_meta))
        m = meta["GreBlu9508M/Site2_L1000R1100_e21_s1"]
        assert m["sex"] == "M" and m["electrode"] == 21 and m["single_unit"] and m["sort_type"] == "singl"
        song = next(m for m in c.stim_meta if m["type"] == "song")
        assert song["animals"] == ["BlaBro09xxF", "GreBlu9508M"] and song["sample_rate"] == 24414.0
        assert song["wav_files"] == {"BlaBro09xxF": "BlaBro09xxF/wavfiles/stim1.wav",
                                     "GreBlu9508M": "GreBlu9508M/wavfiles/stim7.wav"}
        assert song["md5"] == c.stim_ids[c.stim_meta.index(song)]


def test_aa4_options_and_missing_wav(tmp_path):
    make_aa4(tmp_path / "raw")
    out = tmp_path / "a.strf.h5"
    convert("crcns-aa4", tmp_path / "raw", out, animals=["GreBlu9508M"], stim_types=["song"], **FAST)
    with strfh5.FileContents(str(out)) as c:
        assert c.S == 1 and c.N == 2 and all(i.startswith("GreBlu9508M/") for i in c.neuron_ids)
    for p in (tmp_path / "raw").glob("*/wavfiles/stim3.wav"):
        p.unlink()
    with pytest.raises(MissingRawFileError, match="stim3.wav"):
        convert("crcns-aa4", tmp_path / "raw", tmp_path / "b.strf.h5", animals=["BlaBro09xxF"], **FAST)
    with pytest.warns(ConversionWarning, match="missing"):
        convert("crcns-aa4", tmp_path / "raw", tmp_path / "b.strf.h5", animals=["BlaBro09xxF"],
                skip_missing_wavs=True, **FAST)


def test_aa4_mixed_rates_resampled_to_the_highest_by_default(tmp_path):
    from crcns_fixtures import wav_bytes

    make_aa4(tmp_path / "raw")
    wf = tmp_path / "raw" / "BlaBro09xxF" / "wavfiles"
    (wf / "stim2.wav").write_bytes(wav_bytes(8000, 32000, seed=9))
    with pytest.warns(ConversionWarning, match=r"2 sample rates .* resampled to the highest, 32000 Hz"):
        convert("crcns-aa4", tmp_path / "raw", tmp_path / "m.strf.h5", animals=["BlaBro09xxF"], **FAST)
    assert validate(tmp_path / "m.strf.h5").ok
    with strfh5.FileContents(str(tmp_path / "m.strf.h5")) as c:
        rates = sorted(m["sample_rate"] for m in c.stim_meta)
        assert rates == [24414.0, 24414.0, 32000.0]  # the original rates stay in the metadata
        for m, T in zip(c.stim_meta, c.n_bins):  # every spectrogram is of the wav at 32 kHz
            n32 = -(-m["n_samples"] * 32000 // int(m["sample_rate"]))  # resample_poly's output length
            assert T == n_frames(n32, 32000, 5.0)
        prov = assert_provenance(c.info.metadata, "crcns-aa4", {"resample_hz": None})
        (q,) = [q for q in prov["quirks"] if q["kind"] == "mixed_sample_rates"]
        assert q["rates"] == {"24414": 2, "32000": 1} and q["target_hz"] == 32000.0
    convert("crcns-aa4", tmp_path / "raw", tmp_path / "r.strf.h5", animals=["BlaBro09xxF"], resample_hz=24000,
            **FAST)
    assert validate(tmp_path / "r.strf.h5").ok


def test_aa4_non_group_child_is_skipped_as_the_reference_reader(tmp_path):
    import h5py as _h5

    info = make_aa4(tmp_path / "raw")
    unit = tmp_path / "raw" / "BlaBro09xxF" / "Site1_L1400R1400_e10_s0_ss1.h5"
    with _h5.File(unit, "a") as f:
        f["Song"]["1"].create_dataset("notes", data=np.arange(3))  # a dataset among the trial groups
        f["Song"].create_dataset("summary", data=1.0)  # and among the stimulus groups
    out = tmp_path / "g.strf.h5"
    with pytest.warns(ConversionWarning, match="not groups"):
        convert("crcns-aa4", tmp_path / "raw", out, **FAST)
    with strfh5.FileContents(str(out)) as c:
        n = c.neuron_ids.index("BlaBro09xxF/Site1_L1400R1400_e10_s0_ss1")
        for s, md5 in enumerate(c.stim_ids):
            want = info["expected"]["BlaBro09xxF/Site1_L1400R1400_e10_s0_ss1"].get(md5)
            if want is not None:
                got = c.row(s)[n].trials()
                assert len(got) == len(want)
                for g, w in zip(got, want):
                    np.testing.assert_allclose(g, w)
        (q,) = [q for q in c.info.metadata["provenance"]["quirks"] if q["kind"] == "non_group_child"]
        assert sorted(q["paths"]) == ["/Song/1/notes", "/Song/summary"]


# ---------------------------------------------------------------------- AC1
def test_bin_trace_exact_edges_and_nan_tail():
    x = np.arange(20, dtype=float)
    y, n_nan = bin_trace(x, 1000.0, 2, 4, 4.0)  # 4 samples per bin from sample 2
    np.testing.assert_allclose(y[:4], [3.5, 7.5, 11.5, 15.5])
    assert n_nan == 0
    y, n_nan = bin_trace(x, 1000.0, 10, 4, 4.0)
    assert n_nan == 2 and np.isnan(y[2:]).all() and y[1] == 15.5
    y, _ = bin_trace(np.ones(100), 2500.0, 0, 10, 1.0)  # 2.5 samples per bin, edges rounded exactly
    assert np.all(y == 1.0)


def test_ac1_fixture_converts(tmp_path):
    info = make_ac1(tmp_path / "raw")
    out = tmp_path / "ac1.strf.h5"
    with pytest.warns(ConversionWarning) as rec:
        convert("crcns-ac1", tmp_path / "raw", out, **FAST)
    msgs = " | ".join(str(w.message) for w in rec)
    assert "name no stimulus file and no 'Sequence N" in msgs and "ends" in msgs
    assert validate(out).ok
    with strfh5.FileContents(str(out)) as c:
        assert c.info.encoding == "binned" and c.info.response_kind == "continuous"
        assert set(c.neuron_ids) == set(info["cells"])
        assert sorted(c.stim_ids) == sorted(info["n_samples"])
        for s in range(c.S):
            T = n_frames(info["n_samples"][c.stim_ids[s]], info["rate"], 5.0)
            assert c.n_bins[s] == T
            for n, el in enumerate(c.row(s)):
                key = (c.neuron_ids[n], c.stim_ids[s])
                if key not in info["traces"]:
                    assert el is None
                    continue
                assert el.shape == (info["repeats"][key], T) and el.dtype == np.float32
                for r, (trace, sf, onset) in enumerate(info["traces"][key]):
                    per = int(5.0 * sf / 1000)
                    seg = trace[onset: onset + per * T]
                    full = seg.size // per
                    exp = seg[: full * per].reshape(full, per).mean(axis=1)
                    np.testing.assert_allclose(el[r, :full], exp, rtol=1e-6, atol=1e-4)
                    assert np.isnan(el[r, full:]).all()
        nm = dict(zip(c.neuron_ids, c.nrn_meta))
        assert nm["asari/20050505-ha2-001"]["area"] == "MGB"
        assert nm["asari/20050505-ha2-001"]["recording"] == "cell-attached"
        assert nm["wehr/20030101-mw-001"]["area"] == "A1"
        assert c.repeats[c.stim_ids.index("wehr/fragments/1.mat"), c.neuron_ids.index("wehr/20030101-mw-001")] == 2
    with h5py.File(out, "r") as f:
        assert json.loads(f["metadata"][()])["response_units"] == "mV"


def test_ac1_missing_stimulus_file(tmp_path):
    make_ac1(tmp_path / "raw")
    (tmp_path / "raw" / "crcns-ac1" / "wehr" / "Stimuli" / "category1" / "2.mat").unlink()
    with pytest.raises(MissingRawFileError, match="2.mat"):
        convert("crcns-ac1", tmp_path / "raw", tmp_path / "x.strf.h5", datasets=["wehr"], **FAST)
    convert("crcns-ac1", tmp_path / "raw", tmp_path / "x.strf.h5", datasets=["wehr"], skip_missing_stimuli=True,
            **FAST)
    with strfh5.FileContents(str(tmp_path / "x.strf.h5")) as c:
        assert c.stim_ids == ["wehr/fragments/1.mat"] and c.N == 1


def test_ac1_asari_sequence_triggers_named_from_param_stimulus(tmp_path):
    """Asari triggers carry no file: 'Sequence N: i j k' indexes param.stimulus(i).file; length = param.duration."""
    from scipy.io import loadmat

    info = make_ac1(tmp_path / "raw")
    out = tmp_path / "ac1.strf.h5"
    convert("crcns-ac1", tmp_path / "raw", out, datasets=["asari"], **FAST)
    seq = "asari/class6/2.mat+class6/1.mat+class6/3.mat@250ms"
    with strfh5.FileContents(str(out)) as c:
        assert sorted(c.stim_ids) == sorted(["asari/class6/3.mat", seq])
        s = c.stim_ids.index(seq)
        m = c.stim_meta[s]
        assert m["sequence"] == "Sequence 2" and m["segments"] == ["class6/2.mat", "class6/1.mat", "class6/3.mat"]
        assert m["trigger_duration_ms"] == [250.0] and m["n_samples"] == 4000  # 300 ms spliced, 250 ms kept
        assert c.n_bins[s] == n_frames(4000, info["rate"], 5.0) == 50
        assert c.repeats[c.stim_ids.index("asari/class6/3.mat"), 0] == 2  # 'Natural Sound' and 'natural_sound'
        assert_provenance(c.info.metadata, "crcns-ac1", {"datasets": ["asari"]})
    # the spliced stimulus is the three segment files joined, in the sequence's order, cut at 250 ms
    stim = tmp_path / "raw" / "crcns-ac1" / "asari" / "Stimuli" / "class6"
    parts = [np.ravel(loadmat(str(stim / f"{k}.mat"), squeeze_me=True)["stimulus"]["sample"].item()) for k in (2, 1, 3)]
    joined = np.concatenate(parts)[:4000].astype(np.float32)
    out2 = tmp_path / "w.strf.h5"
    convert("crcns-ac1", tmp_path / "raw", out2, datasets=["asari"], keep_waveform=True, **FAST)
    with strfh5.FileContents(str(out2)) as c:
        wave, sr = c.waveform(c.stim_ids.index(seq))
    assert sr == info["rate"]
    np.testing.assert_array_equal(np.asarray(wave).reshape(-1), joined)


def test_ac1_trigger_types_match_ignoring_case_space_underscore():
    from strfh5.converters.crcns_ac1 import trigger_type

    assert {trigger_type(t) for t in ("natural sound", "Natural_Sound", "naturalsound", "NATURAL SOUND")} == \
        {"naturalsound"}
    assert trigger_type("nauralsound") != trigger_type("tone")


def test_ac1_sequence_index_outside_param_stimulus_is_refused():
    from strfh5.converters.crcns_ac1 import sequence_segments

    assert sequence_segments("Sequence 1: 2  1  3  1  4", ["a/1.mat", "a/2.mat", "a/3.mat", "a/4.mat"], "f") == \
        ("Sequence 1", ["a/2.mat", "a/1.mat", "a/3.mat", "a/1.mat", "a/4.mat"])
    assert sequence_segments("silence", ["a/1.mat"], "f") is None
    with pytest.raises(RawDataError, match=r"f: 'Sequence 1: 5' names stimulus 5, but param.stimulus has 1"):
        sequence_segments("Sequence 1: 5", ["a/1.mat"], "f")
    with pytest.raises(RawDataError, match="lacks"):
        sequence_segments("Sequence 1: 1", [], "f")


def test_ac1_response_length_is_the_trigger_duration(tmp_path):
    """A Wehr trigger of 200 ms on a 250 ms clip gives a 200 ms stimulus of its own (id ...@200ms)."""
    from scipy.io import loadmat, savemat

    make_ac1(tmp_path / "raw")
    f = tmp_path / "raw" / "crcns-ac1" / "wehr" / "Results" / "20030101-mw-001" / "20030101-mw-001-003.mat"
    d = loadmat(str(f))
    d["triggers"][0, 0]["param"][0, 0]["duration"][0, 0] = 200.0
    savemat(str(f), {k: v for k, v in d.items() if not k.startswith("__")})
    out = tmp_path / "d.strf.h5"
    convert("crcns-ac1", tmp_path / "raw", out, datasets=["wehr"], **FAST)
    with strfh5.FileContents(str(out)) as c:
        assert sorted(c.stim_ids) == ["wehr/category1/2.mat", "wehr/fragments/1.mat", "wehr/fragments/1.mat@200ms"]
        s = c.stim_ids.index("wehr/fragments/1.mat@200ms")
        assert c.n_bins[s] == 40 and c.stim_meta[s]["n_samples"] == 3200
        assert c.repeats[c.stim_ids.index("wehr/fragments/1.mat"), 0] == 1 and c.repeats[s, 0] == 1
