"""The Le, Bjoring & Meliza 2025 converter on a miniature release in the published layout."""

import csv
import json

import h5py
import numpy as np
import pytest

from le2025_fixtures import NAT8A_STIMS, NAT8B_STIMS, RATES, SYNTH8B_STIMS, make_release
from strfh5.contents import FileContents
from strfh5.converters import le2025
from strfh5.converters.base import ConversionWarning
from strfh5.spectrogram import n_frames
from strfh5.errors import ConverterError, MissingRawFileError, RawDataError
from provenance_check import assert_provenance


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    d = tmp_path_factory.mktemp("le2025")
    truth = make_release(d / "raw", top=True)
    out = le2025.convert(d / "raw", d / "le.strf.h5", dt_ms=5, n_bands=16, keep_waveform=True)
    c = FileContents(str(out))
    yield truth, c, out
    c.close()


def test_counts_ids_and_encoding(converted):
    truth, c, out = converted
    assert c.info.encoding == "events" and c.info.dt_ms == 5.0 and c.info.stim_dims == (1, 16)
    assert len(c.stim_ids) == len(NAT8A_STIMS) + len(NAT8B_STIMS) + len(SYNTH8B_STIMS)
    assert c.neuron_ids == ["nat8a-alpha/C41_1_1_c7", "nat8a-alpha/C41_1_2_c12", "nat8a-beta/C43_1_1_c3",
                            "nat8b/C50_2_3_c1", "nat8b/C50_2_3_c9", "synth8b/C50_2_4_c2"]
    with h5py.File(out, "r") as f:
        tr = json.loads(f["stimuli"].attrs["transform"])
    assert tr["n_bands"] == 16 and tr["hop_ms"] == 5.0 and tr["params"]["resampled_to_hz"] == 40000.0


def test_spike_times_match_raw_files_for_both_schemas(converted):
    truth, c, _ = converted
    n_pairs = 0
    for n, nid in enumerate(c.neuron_ids):
        for s, sid in enumerate(c.stim_ids):
            ss, stem = sid.split("/")
            ref = truth[nid].get((ss, stem))
            el = c.row(s, [n])[0]
            if ref is None:
                assert el is None and c.repeats[s, n] == 0
                continue
            n_pairs += 1
            assert c.repeats[s, n] == len(ref)
            assert el.counts.tolist() == [len(r) for r in ref]  # spike totals per trial
            for got, want in zip(el.trials(), ref):
                np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    assert n_pairs == 5 + 4 + 3 + 3 + 3 + 2


def test_pre_onset_spikes_kept(converted):
    truth, c, _ = converted
    allt = np.concatenate([c.row(s, [0])[0].times for s in range(5)])
    assert allt.min() < 0


def test_stimulus_metadata_and_spectrograms(converted):
    truth, c, _ = converted
    meta = {sid: m for sid, m in zip(c.stim_ids, c.stim_meta)}
    m = meta["nat8a/B189_gapnoise2"]
    assert (m["variant"], m["motif"], m["critical_interval"], m["condition"]) == ("GB", "B189", 2, "gapnoise2")
    assert m["ci_onset_s"] == pytest.approx(0.6) and m["sample_rate"] == RATES["nat8a"]
    m = meta["nat8b/ep_nat8mk0_CM_snr10"]
    assert (m["variant"], m["critical_interval"], m["snr_db"], m["singer"]) == ("CM", None, 10, "B189")
    m = meta["synth8b/ep_synmk3_GM_g2a"]
    assert (m["critical_interval"], m["syntax"], m["sample_rate"]) == ("2a", "scrambled", 44100.0)
    for s, sid in enumerate(c.stim_ids):
        st = c.stim(s)
        assert st.shape == (1, 16, n_frames(int(0.25 * 40000), 40000, 5))
        assert c.n_bins[s] == st.shape[-1]
        wf, sr = c.waveform(s)
        assert sr == 40000.0 and wf.shape[-1] == 10000


def test_neuron_metadata_from_pprox_and_tables(converted):
    truth, c, _ = converted
    m = dict(zip(c.neuron_ids, c.nrn_meta))
    a = m["nat8a-alpha/C41_1_1_c7"]
    assert (a["pprox_schema"], a["area"], a["hemisphere"], a["cohort"], a["age_days"]) == ("pprox", "NCM", "R", 1, 385)
    assert a["familiar_motifs"] == ["B189"]
    b = m["nat8a-beta/C43_1_1_c3"]
    assert (b["pprox_schema"], b["area"], b["hemisphere"], b["sex"], b["age_days"], b["site"]) == (
        "stimtrial", "L2a", "L", "F", 200, "C43_1_1")
    assert m["synth8b/C50_2_4_c2"]["area"] == "unknown"  # recordings.csv says N/A
    assert m["nat8b/C50_2_3_c1"]["animal_uuid"] == "uuid-C50"


def test_subset_option_and_flat_layout(tmp_path):
    make_release(tmp_path / "raw", top=False, seed=3)
    out = le2025.convert(tmp_path / "raw", tmp_path / "b.strf.h5", subsets=["nat8b"], dt_ms=10, n_bands=8)
    c = FileContents(str(out))
    try:
        assert c.stim_ids == [f"nat8b/{s}" for s in sorted(NAT8B_STIMS)]
        assert c.neuron_ids == ["nat8b/C50_2_3_c1", "nat8b/C50_2_3_c9"]
        assert int(c.repeats.sum()) == 2 * 3 * 3
    finally:
        c.close()


def test_unknown_stimulus_refused_or_skipped(tmp_path):
    make_release(tmp_path / "raw")
    (tmp_path / "raw" / "nat8b-stimuli" / "ep_nat8mk0_C.wav").unlink()
    with pytest.raises(RawDataError, match="ep_nat8mk0_C"):
        le2025.convert(tmp_path / "raw", tmp_path / "x.strf.h5", subsets=["nat8b"], n_bands=8)
    assert not (tmp_path / "x.strf.h5").exists()
    with pytest.warns(ConversionWarning, match="ep_nat8mk0_C"):
        out = le2025.convert(tmp_path / "raw", tmp_path / "y.strf.h5", subsets=["nat8b"], n_bands=8,
                             unknown_stimuli="skip")
    c = FileContents(str(out))
    try:
        assert len(c.stim_ids) == 2
        with h5py.File(out, "r") as f:
            meta = json.loads(f["metadata"][()])
        (q,) = meta["provenance"]["quirks"]
        assert (q["kind"], q["stimulus"], q["n_trials"]) == ("unknown_stimulus", "ep_nat8mk0_C", 6)
    finally:
        c.close()


def test_bad_release_errors(tmp_path):
    with pytest.raises(MissingRawFileError, match="metadata"):
        le2025.convert(tmp_path, tmp_path / "x.strf.h5")
    make_release(tmp_path / "raw")
    with pytest.raises(ConverterError, match="subsets"):
        le2025.convert(tmp_path / "raw", tmp_path / "x.strf.h5", subsets=["nat9"])
    with pytest.raises(ConverterError, match="Nyquist"):
        le2025.convert(tmp_path / "raw", tmp_path / "x.strf.h5", audio_fs=8000.0)


def test_cli_convert_matches_the_api(tmp_path, capsys):
    """`strfh5 convert le2025 ...` (comma-separated subsets, float options) writes what the API writes."""
    from strfh5.cli.main import main

    make_release(tmp_path / "raw", top=True)
    api = le2025.convert(tmp_path / "raw", tmp_path / "api.strf.h5", subsets="nat8a-beta,nat8b", dt_ms=5, n_bands=8)
    cli = tmp_path / "cli.strf.h5"
    assert main(["convert", "le2025", "--raw", str(tmp_path / "raw"), "-o", str(cli), "--subsets",
                 "nat8a-beta,nat8b", "--dt-ms", "5", "--n-bands", "8"]) == 0
    assert "wrote" in capsys.readouterr().out
    with FileContents(str(api)) as a, FileContents(str(cli)) as b:
        assert a.neuron_ids == b.neuron_ids and a.stim_ids == b.stim_ids
        assert {m["subset"] for m in b.nrn_meta} == {"nat8a-beta", "nat8b"}
        for s in range(a.S):
            np.testing.assert_array_equal(a.stim(s), b.stim(s))
            for x, y in zip(a.row(s), b.row(s)):
                assert (x is None) == (y is None)
                if x is not None:
                    for tx, ty in zip(x.trials(), y.trials()):
                        np.testing.assert_array_equal(tx, ty)
    assert main(["convert", "le2025", "--raw", str(tmp_path / "raw"), "-o", str(tmp_path / "x.strf.h5"),
                 "--audio-fs", "-1"]) == 2
    assert "audio_fs" in capsys.readouterr().err


def test_wav_name_outside_the_grammar_warns_and_is_skipped(tmp_path):
    """As the authors' reader (auditory-restoration core.py): warn and skip, do not abort."""
    make_release(tmp_path / "raw")
    (tmp_path / "raw" / "nat8a-stimuli" / "B189_weird.wav").write_bytes(b"RIFF")  # never read
    unit = tmp_path / "raw" / "nat8a-beta-responses" / "C43_1_1_c3.pprox"
    doc = json.loads(unit.read_text())
    extra = dict(doc["pprox"][0], stimulus={"name": "B189_weird", "interval": [0.0, 0.1]}, index=999)
    doc["pprox"].append(extra)
    unit.write_text(json.dumps(doc))
    with pytest.warns(ConversionWarning, match="B189_weird.wav: expected a stem"):
        out = le2025.convert(tmp_path / "raw", tmp_path / "x.strf.h5", subsets=["nat8a-beta"], n_bands=8)
    with FileContents(str(out)) as c:
        assert not any("weird" in i for i in c.stim_ids) and len(c.stim_ids) > 0
        quirks = assert_provenance(c.info.metadata, "le2025", {"subsets": ["nat8a-beta"]})["quirks"]
    kinds = {q["kind"]: q for q in quirks}
    assert kinds["unknown_wav_name"]["wav"] == "nat8a-stimuli/B189_weird.wav"
    assert (kinds["trials_of_skipped_wav"]["stimulus"], kinds["trials_of_skipped_wav"]["n_trials"]) == ("B189_weird", 1)


def _lines(path):
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]


@pytest.mark.real
def test_real_stimulus_lists_every_name_parses(real_data):
    d = real_data / "le2025"
    for ss in ("nat8a", "nat8b", "synth8b"):
        names = _lines(d / f"{ss}-stimuli.txt")
        assert len(names) > 60
        parsed = {n: le2025.parse_stim_stem(n, ss) for n in names}
        assert all(p["motif"] and p["variant"] in le2025.VARIANTS for p in parsed.values())
        # the per-motif gap tables: each stimulus parses to its motif, variant and gap (critical interval)
        with open(d / f"{ss}-info.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert rows
        for r in rows:
            p = le2025.parse_stim_stem(r["stimulus"], ss)
            assert p["motif"] == r["motif"]
            gap = r["gap"] or None  # empty for the continuous versions
            if ss == "nat8a":
                assert p["condition"] == r["type"] + (gap or "")
                assert p["critical_interval"] == (int(gap) if gap else None)
            else:
                assert p["variant"] == r["type"]
                assert (p["critical_interval"] is None) == (gap is None)
                if gap:
                    assert str(p["critical_interval"]).startswith(gap)
                # the table's snr column says 30 for the CM rows although their names say snr0: the name is
                # what the converter reads (the wav's file name), so only the other variants must agree
                if "snr_db" in p and r["type"] != "CM":
                    assert p["snr_db"] == int(r["snr"])


@pytest.mark.real
def test_real_unit_and_recording_lists_every_name_parses(real_data):
    d = real_data / "le2025"
    for f in ("nat8a-alpha-178B.txt", "nat8a-alpha-180B.txt"):
        for n in _lines(d / f):
            p = le2025.parse_unit_name(n)
            assert n.startswith(p["bird"] + "_p") and p["cluster"] >= 0
    for n in _lines(d / "nat8a-beta-recordings.txt"):
        assert le2025.parse_site_name(n)["bird"] == n.split("_")[0]
    for f in ("nat8b-recordings.yml", "synth8b-recordings.yml"):
        sites = [ln.strip()[2:] for ln in (d / f).read_text().splitlines() if ln.strip().startswith("- ")]
        assert len(sites) > 10
        for n in sites:
            p = le2025.parse_site_name(n)
            assert le2025.parse_unit_name(f"{n}_c1") == {**p, "cluster": 1}
    with pytest.raises(RawDataError, match="not <bird>_<penetration>_<site>"):
        le2025.parse_site_name("C43_1")


def test_song_birds_gap_times_are_parsed_strictly(tmp_path):
    make_release(tmp_path / "raw")
    p = tmp_path / "raw" / "metadata" / "song-birds.csv"
    p.write_text(p.read_text().replace("310.5", "31_0.5"))
    with pytest.raises(RawDataError, match=r"song-birds.csv row for B189 gap 1, gap_start: '31_0.5'"):
        le2025.convert(tmp_path / "raw", tmp_path / "x.strf.h5", subsets=["nat8a-beta"], n_bands=8)


def test_unread_age_kept_as_released(tmp_path):
    make_release(tmp_path / "raw")
    p = tmp_path / "raw" / "metadata" / "ephys-birds.csv"
    p.write_text(p.read_text().replace("200d", "about 7 months"))
    out = le2025.convert(tmp_path / "raw", tmp_path / "x.strf.h5", subsets=["nat8a-beta"], n_bands=8)
    with FileContents(str(out)) as c:
        m = c.nrn_meta[0]
    assert m["animal"] == "C43" and m["age"] == "about 7 months" and "age_days" not in m
