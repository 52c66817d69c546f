"""strfh5.info / format_info / `strfh5 info`: the numbers match the file."""

from __future__ import annotations

import json

import h5py
import malformed
import numpy as np
import pytest
from hostile.cases_bounds import _counts_wrap, _huge_stimulus
from hostile.cases_outside import _ABS_DATA, _soft, _vds
from hostile.cases_types import _group_for, _stim_data, _unavailable_filter
from hostile.craft import base, edit, replace

import strfh5
from strfh5.cli.main import main
from strfh5.errors import CorruptDataError, FileFormatError, SourceFileError, StrfH5Error
from strfh5.fileinfo import format_info, info

SMALL = dict(n_stimuli=5, n_neurons=6, n_freqs=4, n_bins=(10, 30), strf_ms=10.0, repeats=(2, 7), coverage=0.7,
             n_val=2)


@pytest.fixture(scope="module")
def simfile(tmp_path_factory):
    return strfh5.write_simulated(tmp_path_factory.mktemp("sum") / "a.strf.h5", seed=4, **SMALL)


def test_info_numbers_match_the_contents(simfile):
    d = info(simfile)
    with strfh5.FileContents(simfile) as c:
        rep, nb = c.repeats, c.n_bins
        assert (d["S"], d["N"]) == (c.S, c.N)
        assert d["uuid"] == c.info.uuid and d["dt_ms"] == c.info.dt_ms
        assert d["coverage"] == {"valid": int((rep > 0).sum()), "total": rep.size,
                                 "percent": round(100 * (rep > 0).mean(), 2)}
        assert d["repeats"] == {"min": int(rep[rep > 0].min()), "max": int(rep[rep > 0].max())}
        assert d["n_bins"] == {"min": int(nb.min()), "max": int(nb.max())}
        assert d["duration_ms"] == {"min": nb.min() * 5.0, "max": nb.max() * 5.0}
        assert d["stimuli_without_data"] == int((~(rep > 0).any(axis=1)).sum())
        assert d["neurons_without_data"] == int((~(rep > 0).any(axis=0)).sum())
        assert d["schemas"] == c.info.schemas
    assert d["encoding"] == "events" and d["response_kind"] == "spike_times" and d["stored_dtype"] == "float64"
    assert d["modality"] == "audio" and d["stim_kind"] == "spectrogram" and d["stim_dims"] == [1, 4]
    assert d["stim_counts"]["subset"] == {"est": 3, "val": 2}
    assert d["source"] == "demo" and d["transform"]["kind"] == "log"
    assert d["size_bytes"] > 0 and not d["concatenated"]
    json.dumps(d)  # strictly serialisable


def test_format_info_lines(simfile):
    d = info(simfile)
    text = format_info(d)
    cov = d["coverage"]
    assert f"S = {d['S']}" in text and f"N = {d['N']}" in text
    assert f"{cov['valid']:,} / {cov['total']:,} pairs recorded ({cov['percent']:.1f}%)" in text
    assert f"{d['repeats']['min']}–{d['repeats']['max']} per recorded pair" in text
    assert d["uuid"] in text and "events (spike_times, float64) at dt = 5 ms" in text


def test_info_on_binned_counts_and_empty_file(tmp_path):
    c = strfh5.contents_from_lists(stims=[np.zeros((1, 2, 3), np.float32), np.zeros((1, 2, 5), np.float32)],
                                   responses=[[np.ones((4, 3)) * 300, None], [None, None]], dt_ms=10)
    strfh5.save(c, tmp_path / "b.strf.h5")
    d = info(tmp_path / "b.strf.h5")
    assert d["stored_dtype"] == "uint16" and d["response_kind"] == "counts"
    assert d["repeats"] == {"min": 4, "max": 4} and d["stimuli_without_data"] == 1
    assert d["neurons_without_data"] == 1 and d["total_duration_s"] == pytest.approx(0.08)
    e = strfh5.contents_from_lists(stims=[], responses=[], dt_ms=5, stim_kind="spectrogram")
    strfh5.save(e, tmp_path / "e.strf.h5")
    d = info(tmp_path / "e.strf.h5")
    assert d["S"] == 0 and d["N"] == 0 and d["repeats"] is None and d["coverage"]["percent"] == 0.0
    assert "S = 0" in format_info(d)


def test_info_of_concatenated_file_lists_sources_and_shared_stimuli(tmp_path):
    a = strfh5.write_simulated(tmp_path / "a.strf.h5", seed=1, **SMALL)
    b = strfh5.write_simulated(tmp_path / "b.strf.h5", seed=1, **dict(SMALL, n_stimuli=3, n_val=1))
    with strfh5.FileContents(a) as ca, strfh5.FileContents(b) as cb:
        # the same seed synthesises the same first sounds under the same ids, so ids are shared across the sources
        shared = sorted(set(ca.stim_ids) & set(cb.stim_ids))
        ua, ub = ca.info.uuid, cb.info.uuid
        neurons_overlap = set(ca.neuron_ids) & set(cb.neuron_ids)
    assert shared
    out = strfh5.concat([a, b], tmp_path / "ab.strf.h5", allow_duplicate_neurons=bool(neurons_overlap))
    d = info(out)
    assert d["concatenated"] and d["S"] == 8 and d["N"] == 12
    assert [s["uuid"] for s in d["sources"]] == [ua, ub]
    assert [s["path"] for s in d["sources"]] == ["a.strf.h5", "b.strf.h5"]
    assert all(s["exists"] for s in d["sources"])
    assert [(s["n_stimuli"], s["n_neurons"]) for s in d["sources"]] == [(5, 6), (3, 6)]
    assert d["shared_stim_ids"] == shared
    text = format_info(d)
    assert "concatenated: 2 sources" in text and ua in text and "shared stims" in text


def test_cli_info_text_and_json(simfile, capsys):
    assert main(["info", str(simfile), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(info(simfile)))
    assert main(["info", str(simfile)]) == 0
    assert "coverage" in capsys.readouterr().out
    assert main(["info", str(simfile), str(simfile), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2


def test_cli_info_bad_file_exit_2(tmp_path, capsys):
    bad = tmp_path / "x.strf.h5"
    bad.write_bytes(b"not hdf5")
    assert main(["info", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "not an HDF5 file" in err and "Traceback" not in err
    assert main(["info", str(tmp_path / "missing.strf.h5")]) == 2


# ---------------------------------------------------------------- files a load refuses, info refuses (issue 12)
_D0 = "/stimuli/000000/data"
BROKEN = {  # case -> (builder, error class, what the message must name)
    "compound-stimulus": (_stim_data(lambda: np.zeros((1, 4, 10), dtype=[("a", "<f4")])), CorruptDataError, _D0),
    "scalar-stimulus": (_stim_data(lambda: np.float32(1.0)), CorruptDataError, _D0),
    "stim-length-differs": (_stim_data(lambda: np.ones((1, 4, 11), np.float32)), CorruptDataError, _D0),
    "group-for-stim-data": (_group_for("stimuli/000000/data"), FileFormatError, _D0),
    "huge-stimulus-no-data": (_huge_stimulus, CorruptDataError, _D0),
    "unavailable-filter": (_unavailable_filter, FileFormatError, _D0),
    "vds-stimulus": (_vds("stimuli/000000/data", _ABS_DATA), SourceFileError, _D0),
    "soft-link-stimulus": (_soft, SourceFileError, "/stimuli/000001/data"),
    "counts-sum-wraps": (_counts_wrap, CorruptDataError, "/counts row 0"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_info_refuses_what_a_load_refuses(tmp_path, case, capsys):
    build, error, names = BROKEN[case]
    path = build(str(tmp_path / case)).path
    with pytest.raises(StrfH5Error):
        strfh5.load(path)
    with pytest.raises(error) as e:
        info(path)
    assert names in str(e.value)
    assert main(["info", path]) == 2  # the command: exit 2, one line naming the object, no traceback
    err = capsys.readouterr().err
    assert names in err and "Traceback" not in err


def test_info_reads_no_stimulus_value(tmp_path):
    """The stimulus checks open each dataset but never decompress it: a garbled gzip chunk goes unnoticed by
    info (it stays fast on big files); the load that reads it refuses it."""
    p = base(str(tmp_path / "garbled"))
    edit(p, replace("stimuli/000000/data", np.random.default_rng(1).random((1, 4, 10)).astype(np.float32),
                    chunks=(1, 4, 10), compression="gzip"))
    malformed.overwrite_chunk("stimuli/000000/data", (0, 0, 0), byte=0x5A)(p)
    with h5py.File(p) as f:
        assert f["stimuli/000000/data"].compression == "gzip"
    assert info(p)["S"] == 3
    with pytest.raises(CorruptDataError, match="stimuli/000000/data"):
        strfh5.load(p)


def test_info_reads_counts_only_when_their_type_could_overflow(simfile, monkeypatch):
    """Counts stored narrower than uint64 cannot sum past int64 over the file's repeats: /counts is not read."""
    import strfh5.h5io.structure as structure

    def no_read(*_a, **_k):
        raise AssertionError("/counts was read")
    monkeypatch.setattr(structure, "read_vlen_row", no_read)
    with h5py.File(simfile) as f:
        assert h5py.check_vlen_dtype(f["counts"].dtype).itemsize < 8
    assert info(simfile)["S"] == 5
