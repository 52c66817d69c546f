"""CRCNS AA1 / AA2 converters on fixtures in the published layouts, and on the real cells."""

from __future__ import annotations

import json
import os
import re
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

import strfh5
from strfh5.converters import convert
from strfh5.converters.base import ConversionWarning
from strfh5.converters.crcns import (file_md5, parse_cell_name, parse_spike_file, parse_spike_text,
                                     parse_stim_file, stim_id)
from strfh5.spectrogram import n_frames
from strfh5.errors import MissingRawFileError, RawDataError
from strfh5.validation import validate

from crcns_fixtures import make_aa1, make_aa2, spike_text, write_md5_wav
from provenance_check import assert_provenance

FAST = {"dt_ms": 5.0, "n_bands": 8}
pytestmark = pytest.mark.filterwarnings("ignore::strfh5.converters.base.ConversionWarning")


def _check_against(path, info):
    """Every (stimulus, neuron) element equals the trials written in the fixture."""
    c = strfh5.FileContents(str(path))
    try:
        exp_all = info["expected"]
        n_pairs = 0
        for s in range(c.S):
            name = c.stim_meta[s]["name"]
            assert c.stim_ids[s] == name[:-4]
            assert c.n_bins[s] == n_frames(info["n_samples"][name], 32000, c.info.dt_ms)
            assert c.stim(s).shape == (1, c.info.stim_dims[1], c.n_bins[s])
            for n, el in enumerate(c.row(s)):
                exp = exp_all.get(c.neuron_ids[n], {}).get(name)
                if el is None:
                    assert exp is None or len(exp) == 0, (name, c.neuron_ids[n])
                    continue
                n_pairs += 1
                trials = el.trials()
                assert len(trials) == len(exp) == c.repeats[s, n]
                for a, b in zip(trials, exp):
                    np.testing.assert_array_equal(a, b)
        names = {m["name"] for m in c.stim_meta}
        expected_pairs = sum(1 for cid, cell in exp_all.items() if cid in c.neuron_ids
                             for w, t in cell.items() if t and w in names)
        assert n_pairs == expected_pairs
        return c
    finally:
        c.close()


# ------------------------------------------------------------------ parsing
def test_parse_spike_text_trailing_space_empty_trials_and_negatives():
    text = "-1999.500 0.125 12.000 \n\n \n5001.250 \n"
    trials = parse_spike_text(text, "x")
    assert [t.tolist() for t in trials] == [[-1999.5, 0.125, 12.0], [], [], [5001.25]]
    assert parse_spike_text("", "x") == []
    assert len(parse_spike_text("1 \r\n2 \r\n", "x")) == 2


def test_parse_spike_text_refuses_garbage(tmp_path):
    p = tmp_path / "spike1"
    p.write_text("1.0 abc \n")
    with pytest.raises(RawDataError, match=r"spike1 line 1: 'abc'"):
        parse_spike_file(p)


def test_spike_file_truncated_mid_line_is_refused_with_file_and_line(tmp_path):
    """Issue 15 / 12.11: ten trials cut in the last line must not convert to fewer, shorter trials."""
    full = "".join(f"{-12.5 + r} 100.25 1398.781 \n" for r in range(10))
    assert len(parse_spike_text(full, "x")) == 10
    p = tmp_path / "spike3"
    p.write_text(full[: full.rindex("1398.781") + 3])  # cut inside the last spike time: '...100.25 139'
    with pytest.raises(RawDataError, match=r"spike3 line 10: .*ends without a line break.*truncated"):
        parse_spike_file(p)
    p.write_text("1.0 2.0")  # one line, no final line break
    with pytest.raises(RawDataError, match=r"spike3 line 1: "):
        parse_spike_file(p)


@pytest.mark.parametrize("token", ["1_0.5", "inf", "nan", "-Infinity", "0x10", "1,5", "1.2.3", "+-1", "1e", "٣"])
def test_spike_file_odd_tokens_are_refused_with_line(tmp_path, token):
    p = tmp_path / "spike7"
    p.write_text(f"1.5 2.5 \n3.0 {token} 4.0 \n", encoding="utf-8")
    with pytest.raises(RawDataError, match=r"spike7"):
        parse_spike_file(p)
    if token.isascii():
        with pytest.raises(RawDataError, match=rf"spike7 line 2: '{re.escape(token)}'"):
            parse_spike_file(p)


def test_spike_file_plain_numbers_accepted():
    trials = parse_spike_text("-2000 .5 1e3 +3.25 7. \n", "x")
    assert trials[0].tolist() == [-2000.0, 0.5, 1000.0, 3.25, 7.0]


def test_stim_file_without_final_line_break_is_refused(tmp_path):
    p = tmp_path / "stim4"
    p.write_text("DB500570216F0412EE8D9F7D64F3")
    with pytest.raises(RawDataError, match=r"stim4 line 1: .*truncated"):
        parse_stim_file(p)


def test_parse_stim_file(tmp_path):
    p = tmp_path / "stim1"
    p.write_text("DB500570216F0412EE8D9F7D64F38232.wav\n")
    assert parse_stim_file(p) == "DB500570216F0412EE8D9F7D64F38232.wav"
    p.write_text("a.wav\nb.wav\n")
    with pytest.raises(RawDataError, match="stim1"):
        parse_stim_file(p)


def test_parse_cell_name():
    assert parse_cell_name("gg0304_4_B") == {"animal": "gg0304", "cell_seq": 4, "rig": "B"}
    assert parse_cell_name("blugr1612_2") == {"animal": "blugr1612", "cell_seq": 2}
    assert parse_cell_name("mld_good") == {}


def test_stim_id_checks_md5(tmp_path):
    from crcns_fixtures import write_md5_wav

    name = write_md5_wav(tmp_path, 100, seed=3)
    assert stim_id(name, tmp_path / name) == name[:-4] == file_md5(tmp_path / name)
    bad = tmp_path / ("0" * 32 + ".wav")
    bad.write_bytes((tmp_path / name).read_bytes())
    with pytest.raises(RawDataError, match="damaged or partial download"):
        stim_id(bad.name, bad)
    assert stim_id(bad.name, bad, check_md5=False) == "0" * 32


# ---------------------------------------------------------------------- AA1
def test_aa1_fixture_converts_with_every_quirk(tmp_path):
    info = make_aa1(tmp_path / "raw")
    out = tmp_path / "aa1.strf.h5"
    with pytest.warns(ConversionWarning) as rec:
        convert("crcns-aa1", tmp_path / "raw", out, **FAST)
    msgs = " | ".join(str(w.message) for w in rec)
    assert "merged as one stimulus" in msgs
    assert "spike3 is absent" in msgs
    assert "has no stim4" in msgs
    assert validate(out).ok
    c = _check_against(out, info)
    assert c.info.encoding == "events" and c.info.dt_ms == 5.0
    assert c.neuron_ids == ["gg0304_4_A", "pipu1018_2_B", "gg0304_4_B", "pipu1018_2_A"]
    assert [m["area"] for m in c.nrn_meta] == ["Field_L", "Field_L", "MLd", "MLd"]
    assert {k: c.nrn_meta[2][k] for k in ("animal", "cell_seq", "rig")} == {"animal": "gg0304", "cell_seq": 4, "rig": "B"}
    merged = c.nrn_meta[0]["merged_protocols"]
    assert merged[0]["files"] == ["stim1", "stim4"]
    types = [m["type"] for m in c.stim_meta]
    assert types == ["conspecific"] * 3 + ["flatrip"] * 2
    assert all(m["sample_rate"] == 32000.0 and m["name"].endswith(".wav") for m in c.stim_meta)
    with h5py.File(out, "r") as f:
        meta = json.loads(f["metadata"][()])
        transform = json.loads(f["stimuli"].attrs["transform"])
    kinds = {q["kind"] for q in assert_provenance(meta, "crcns-aa1", {"dt_ms": 5.0, "n_bands": 8})["quirks"]}
    assert {"duplicate_stimulus", "stim_without_spikes", "spikes_without_stim"} <= kinds
    assert transform["hop_ms"] == 5.0 and transform["n_bands"] == 8 and len(transform["center_freqs"]) == 8
    # pre-onset and post-stimulus spikes are kept
    allt = np.concatenate([e.times for s in range(c.S) for e in strfh5.FileContents(str(out)).row(s) if e])
    assert allt.min() == -1999.875 and allt.max() > 300


def test_aa1_class_and_area_options_drop_cells_without_data(tmp_path):
    info = make_aa1(tmp_path / "raw")
    out = tmp_path / "cons.strf.h5"
    with pytest.warns(ConversionWarning, match="no responses to the selected stimulus classes"):
        convert("crcns-aa1", tmp_path / "raw", out, stim_classes=["conspecific"], areas=["Field_L"], **FAST)
    c = _check_against(out, info)
    assert c.neuron_ids == ["gg0304_4_A"]  # pipu1018_2_B has no conspecific data
    assert c.S == 3


def test_aa1_missing_wav_error_or_skip(tmp_path):
    info = make_aa1(tmp_path / "raw")
    gone = sorted(n for n, c in info["classes"].items() if c == "flatrip")[0]
    (tmp_path / "raw" / "all_stims" / "flatrip" / gone).unlink()
    with pytest.raises(MissingRawFileError, match=gone):
        convert("crcns-aa1", tmp_path / "raw", tmp_path / "x.strf.h5", **FAST)
    assert not (tmp_path / "x.strf.h5").exists()
    assert not list(tmp_path.glob("x.strf.h5*"))
    with pytest.warns(ConversionWarning, match=f"{gone}.*missing"):
        convert("crcns-aa1", tmp_path / "raw", tmp_path / "x.strf.h5", skip_missing_wavs=True, **FAST)
    c = _check_against(tmp_path / "x.strf.h5", info)
    assert gone[:-4] not in c.stim_ids and c.S == 4


def test_aa1_keep_waveform_and_overwrite(tmp_path):
    make_aa1(tmp_path / "raw")
    out = tmp_path / "w.strf.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConversionWarning)
        convert("crcns-aa1", tmp_path / "raw", out, keep_waveform=True, stim_classes=["flatrip"], **FAST)
        with pytest.raises(FileExistsError):
            convert("crcns-aa1", tmp_path / "raw", out, **FAST)
        convert("crcns-aa1", tmp_path / "raw", out, overwrite=True, stim_classes=["flatrip"], keep_waveform=True,
                **FAST)
    from strfh5.spectrogram import compute_spectrogram

    with h5py.File(out, "r") as f:
        transform = json.loads(f["stimuli"].attrs["transform"])
        wf = f["stimuli/000000/waveform"][()] * f["stimuli/000000/waveform"].attrs["scale"]  # int16 + scale
        sr = f["stimuli/000000/waveform"].attrs["sample_rate"]
        stored = f["stimuli/000000/data"][()]
    np.testing.assert_array_equal(compute_spectrogram(wf, sr, transform), stored)


def test_aa1_wrapped_in_a_folder_and_bad_root(tmp_path):
    make_aa1(tmp_path / "raw" / "crcns-aa1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConversionWarning)
        convert("crcns-aa1", tmp_path / "raw", tmp_path / "o.strf.h5", stim_classes=["flatrip"], **FAST)
    with pytest.raises(MissingRawFileError, match="all_stims"):
        convert("crcns-aa1", tmp_path, tmp_path / "p.strf.h5", **FAST)


# ---------------------------------------------------------------------- AA2
@pytest.mark.parametrize("header", [True, False])
def test_aa2_fixture_converts(tmp_path, header):
    info = make_aa2(tmp_path / "raw", header=header)
    out = tmp_path / "aa2.strf.h5"
    with pytest.warns(ConversionWarning, match="merged as one stimulus"):
        convert("crcns-aa2", tmp_path / "raw", out, **FAST)
    assert validate(out).ok
    c = _check_against(out, info)
    by_id = dict(zip(c.neuron_ids, c.nrn_meta))
    assert by_id["rr1416_5_B"]["area"] == "Field_L" and by_id["rr1416_5_B"]["region"] == "L2a"
    assert by_id["blabla0101_3"]["area"] == "mld"
    assert by_id["blugr1612_2"]["stim_classes"] == ["conspecific", "flatrip"]
    assert [m["type"] for m in c.stim_meta] == ["conspecific"] * 2 + ["songrip"] * 2 + ["flatrip"]
    assert_provenance(c.info.metadata, "crcns-aa2", {"n_bands": 8})


def test_aa2_area_option_and_missing_csv(tmp_path):
    info = make_aa2(tmp_path / "raw")
    out = tmp_path / "a.strf.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConversionWarning)
        convert("crcns-aa2", tmp_path / "raw", out, areas=["Field_L", "OV"], **FAST)
    c = _check_against(out, info)
    assert sorted(c.neuron_ids) == ["blugr1612_2", "rr1416_5_B"]
    (tmp_path / "raw" / "cell_regions.csv").unlink()
    with pytest.raises(MissingRawFileError, match="cell_regions.csv"):
        convert("crcns-aa2", tmp_path / "raw", tmp_path / "b.strf.h5", **FAST)


def test_aa1_aa2_shared_stimulus_has_one_id(tmp_path):
    """The same wav in both releases gets the same stimulus id (its MD5)."""
    make_aa1(tmp_path / "aa1")
    make_aa2(tmp_path / "aa2")
    src = next((tmp_path / "aa1" / "all_stims" / "flatrip").iterdir())
    (tmp_path / "aa2" / "all_stims" / src.name).write_bytes(src.read_bytes())
    cell = tmp_path / "aa2" / "all_cells" / "zz0202_1_A" / "flatrip"
    (cell / "stim9").write_text(src.name + "\n")
    (cell / "spike9").write_text(spike_text([[1.0, 2.5]]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConversionWarning)
        convert("crcns-aa1", tmp_path / "aa1", tmp_path / "1.strf.h5", **FAST)
        convert("crcns-aa2", tmp_path / "aa2", tmp_path / "2.strf.h5", **FAST)
    a = strfh5.FileContents(str(tmp_path / "1.strf.h5"))
    b = strfh5.FileContents(str(tmp_path / "2.strf.h5"))
    assert set(a.stim_ids) & set(b.stim_ids) == {src.stem}
    a.close()
    b.close()


# -------------------------------------------------------------- real cells
REAL_REGIONS = {"mld_good": "mld", "l2a_good": "L2a", "ov_good": "OV"}


def _real_layout(real: Path, tmp: Path) -> Path:
    """The real cells in AA2 layout (symlinks to the real folders) plus the CSVs they need."""
    src = real / "crcns-aa"
    root = tmp / "aa2"
    root.mkdir()
    os.symlink(src / "all_cells", root / "all_cells")
    os.symlink(src / "all_stims", root / "all_stims")
    cells = sorted(d.name for d in (src / "all_cells").iterdir() if d.is_dir())
    (root / "cell_regions.csv").write_text("cell,region\n" + "".join(f"{c},{REAL_REGIONS[c]}\n" for c in cells))
    (root / "cell_stim_classes.csv").write_text(
        "".join(",".join([c, *sorted(x.name for x in (src / "all_cells" / c).iterdir())]) + "\n" for c in cells))
    import wave

    rows = []
    for w in sorted((src / "all_stims").glob("*.wav")):
        with wave.open(str(w)) as fh:
            rows.append(f"{w.name},{fh.getframerate()},16,{fh.getnframes()},conspecific\n")
    (root / "stim_data.csv").write_text("".join(rows))
    return root


@pytest.mark.real
def test_real_cells_convert_validate_load_and_match_spike_files(real_data, tmp_path):
    root = _real_layout(real_data, tmp_path)
    out = tmp_path / "real.strf.h5"
    convert("crcns-aa2", root, out, stim_classes=["conspecific"], dt_ms=5.0)
    assert validate(out, checksums=True).ok
    ds = strfh5.load(out)
    c = strfh5.FileContents(str(out))
    assert c.N == 3 and c.S == 20
    n_checked = 0
    for n, cell in enumerate(c.neuron_ids):
        folder = root / "all_cells" / cell / "conspecific"
        for stim in sorted(folder.glob("stim*")):
            wav = parse_stim_file(stim)
            s = c.stim_ids.index(wav[:-4])
            raw = [len(line.split()) for line in (folder / ("spike" + stim.name[4:])).read_text().split("\n")[:-1]]
            el = c.row(s)[n]
            assert el.counts.tolist() == raw
            assert ds.responses[s][n].shape[0] == len(raw)
            n_checked += 1
    assert n_checked == 60
    # the release's own wav names are their MD5s, as the stimulus ids
    assert all(file_md5(root / "all_stims" / m["name"]) == i for i, m in zip(c.stim_ids, c.stim_meta))
    c.close()


@pytest.mark.real
def test_real_cells_other_classes_need_skip_missing_wavs(real_data, tmp_path):
    root = _real_layout(real_data, tmp_path)
    with pytest.raises(MissingRawFileError, match="skip_missing_wavs"):
        convert("crcns-aa2", root, tmp_path / "x.strf.h5", dt_ms=5.0)
    with pytest.warns(ConversionWarning, match="missing from the raw folder"):
        convert("crcns-aa2", root, tmp_path / "x.strf.h5", dt_ms=5.0, skip_missing_wavs=True)
    c = strfh5.FileContents(str(tmp_path / "x.strf.h5"))
    assert c.S == 20 and {m["type"] for m in c.stim_meta} == {"conspecific"}
    c.close()


@pytest.mark.real
def test_real_spike_files_parse_strictly_and_a_truncated_copy_is_refused(real_data, tmp_path):
    files = sorted((real_data / "crcns-aa" / "all_cells").glob("*/*/spike*"))
    assert len(files) > 60
    for f in files:
        text = f.read_text()
        want = [[float(x) for x in line.split()] for line in text.split("\n")[:-1]]
        assert [t.tolist() for t in parse_spike_file(f)] == want
    longest = max(files, key=lambda f: f.stat().st_size)
    cut = tmp_path / "spike1"
    cut.write_bytes(longest.read_bytes()[:-5])
    n_lines = longest.read_text().count("\n")
    with pytest.raises(RawDataError, match=rf"spike1 line {n_lines}: .*truncated"):
        parse_spike_file(cut)


def test_aa1_conversion_refuses_a_truncated_or_odd_spike_file(tmp_path):
    make_aa1(tmp_path / "raw")
    spike = sorted((tmp_path / "raw").glob("*_cells/*/conspecific/spike1"))[0]
    good = spike.read_bytes()
    spike.write_bytes(good.rstrip(b"\n")[:-2])
    with pytest.raises(RawDataError, match=rf"{re.escape(str(spike))} line \d+: .*truncated"):
        convert("crcns-aa1", tmp_path / "raw", tmp_path / "a.strf.h5", **FAST)
    spike.write_bytes(b"1_0.5 \n" + good)
    with pytest.raises(RawDataError, match=rf"{re.escape(str(spike))} line 1: '1_0.5'"):
        convert("crcns-aa1", tmp_path / "raw", tmp_path / "a.strf.h5", **FAST)
    assert not (tmp_path / "a.strf.h5").exists()


def _aa2_table(real: Path) -> list[dict]:
    lines = (real / "crcns-aa2" / "crcns_torun.tbl").read_text().splitlines()
    head = lines[0].split("\t")
    return [dict(zip(head, ln.split("\t"))) for ln in lines[1:] if ln.strip()]


@pytest.mark.real
def test_real_aa2_cell_table_every_name_and_area_is_accepted(real_data, tmp_path):
    """The authors' AA2 cell table (328 cells): each name parses, each area converts to its region/area."""
    from strfh5.converters.crcns_aa2 import REGION_AREA

    from crcns_fixtures import random_trials, write_protocol

    rows = _aa2_table(real_data)
    assert len(rows) == 328
    for r in rows:
        parsed = parse_cell_name(r["cell"])
        assert parsed and r["cell"].startswith(parsed["animal"] + "_"), r["cell"]
        assert r["area"] in REGION_AREA, r["area"]
    # an AA2 release whose cell_regions.csv is the table: every cell converts with its region and area
    root = tmp_path / "aa2"
    wav = write_md5_wav(root / "all_stims", 3200, seed=3)
    rng = np.random.default_rng(0)
    for r in rows:
        write_protocol(root / "all_cells" / r["cell"] / "conspecific", 1, wav, random_trials(rng, 2, 100.0))
    (root / "cell_regions.csv").write_text("cell,region\n" + "".join(f"{r['cell']},{r['area']}\n" for r in rows))
    (root / "cell_stim_classes.csv").write_text("".join(f"{r['cell']},conspecific\n" for r in rows))
    (root / "stim_data.csv").write_text(f"{wav},32000,16,3200,conspecific\n")
    out = tmp_path / "t.strf.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConversionWarning)  # no cell or region may need a quirk
        convert("crcns-aa2", root, out, stim_classes=["conspecific"], **FAST)
    with strfh5.FileContents(str(out)) as c:
        meta = dict(zip(c.neuron_ids, c.nrn_meta))
    assert sorted(meta) == sorted(r["cell"] for r in rows)
    for r in rows:
        m = meta[r["cell"]]
        assert m["region"] == r["area"] and m["area"] == REGION_AREA[r["area"]]
        assert {k: m[k] for k in parse_cell_name(r["cell"])} == parse_cell_name(r["cell"])
