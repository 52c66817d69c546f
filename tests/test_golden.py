"""Golden files: files written by earlier versions must keep reading as recorded.

``tests/data/golden/`` holds small files written by format version 1.0 (stored
gzip-compressed) and ``expected_v1.0.json``, the values they must read back as,
built from the writer's inputs (see ``make_golden.py``).  A change of the
library that alters how any of them reads is a compatibility break.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

import strfh5
from strfh5 import layout as L

GOLDEN = Path(__file__).parent / "data" / "golden"
EXPECTED = {
    fname: (version_doc["format_version"], exp)
    for doc in sorted(GOLDEN.glob("expected_v*.json"))
    for version_doc in [json.loads(doc.read_text(encoding="utf-8"))]
    for fname, exp in version_doc["files"].items()
}


def _as_array(values, dtype=np.float64):
    """JSON lists (None = NaN) back to an array."""
    return np.array([np.nan if v is None else v for v in values], dtype=dtype)


def _nested(values):
    return np.array([[np.nan if v is None else v for v in row] for row in values], dtype=np.float64)


@pytest.fixture
def golden(tmp_path):
    def unpack(fname: str) -> Path:
        out = tmp_path / fname[: -len(".gz")]
        with gzip.open(GOLDEN / fname, "rb") as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst)
        return out

    return unpack


@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_golden_corpus_present(version):
    """Every kind of file of each format version is represented."""
    names = {f for f, (v, _) in EXPECTED.items() if v == version}
    kinds = {EXPECTED[f][1]["stim_kind"] for f in names} | {EXPECTED[f][1]["response_kind"] for f in names}
    assert {"spectrogram", "waveform", "video", "spike_times", "counts", "continuous"} <= kinds
    assert any(any(w is not None for w in EXPECTED[f][1]["waveforms"]) for f in names)  # a kept waveform
    for f in names:
        assert (GOLDEN / f).is_file(), f


@pytest.mark.parametrize("fname", sorted(EXPECTED))
def test_golden_reads_as_recorded(golden, fname):
    version, exp = EXPECTED[fname]
    path = golden(fname)
    with strfh5.FileContents(path) as c:
        info = c.info
        assert f"{info.version[0]}.{info.version[1]}" == exp["format_version"] == version
        assert info.uuid == exp["uuid"]
        assert info.encoding == exp["encoding"] and info.response_kind == exp["response_kind"]
        assert info.dt_ms == exp["dt_ms"]
        assert info.stim_kind == exp["stim_kind"] and list(info.stim_dims) == exp["stim_dims"]
        assert info.metadata == exp["file_meta"] and info.transform == exp["transform"]
        assert c.stim_ids == exp["stim_ids"] and c.neuron_ids == exp["neuron_ids"]
        assert c.stim_meta == exp["stim_meta"] and c.nrn_meta == exp["nrn_meta"]
        assert c.n_bins.tolist() == exp["n_bins"]
        assert str(c.stored_dtype()) == exp["responses_dtype"]
        for s, st in enumerate(exp["stims"]):
            a = c.stim(s)
            assert str(a.dtype) == st["dtype"] and list(a.shape) == st["shape"]
            assert np.array_equal(a.reshape(-1).astype(np.float64), _as_array(st["values"]))
            if exp["sample_rates"] is not None:
                assert c.stim_sample_rate(s) == exp["sample_rates"][s]
            w, wexp = c.waveform(s), exp["waveforms"][s]
            if wexp is None:
                assert w is None
            else:
                assert w[1] == wexp["sample_rate"] and str(w[0].dtype) == wexp["dtype"]
                assert list(w[0].shape) == wexp["shape"]
                assert np.array_equal(w[0].reshape(-1).astype(np.float64), _as_array(wexp["values"]))
        masks = np.array([[el is not None for el in row] for row in exp["rows"]], dtype=bool)
        assert np.array_equal(c.masks, masks)
        for s, row in enumerate(exp["rows"]):
            got = c.row(s)
            for n, want in enumerate(row):
                if want is None:
                    assert got[n] is None
                elif exp["encoding"] == "events":
                    t = got[n].times
                    assert str(t.dtype) == exp["responses_dtype"]
                    assert np.array_equal(t.astype(np.float64), _as_array(want["times"]))
                    assert np.signbit(t).tolist() == np.signbit(_as_array(want["times"])).tolist()  # -0.0 kept
                    assert got[n].counts.tolist() == want["counts"]
                else:
                    assert np.array_equal(got[n].astype(np.float64), _nested(want), equal_nan=True)
    with h5py.File(path, "r") as f:
        assert str(f[L.REPEATS].dtype) == exp["repeats_dtype"]
        if exp["counts_dtype"] is not None:
            assert str(h5py.check_vlen_dtype(f[L.COUNTS].dtype)) == exp["counts_dtype"]
        stored = [bytes(x).hex() for x in f[L.INTEGRITY_RESPONSES][()]]
        assert stored == exp["digests"]
        # the digest algorithm itself is stable: recomputing from the rows gives the recorded digests
        assert [L.row_digest(list(f[L.RESPONSES][s])).hex() for s in range(len(stored))] == exp["digests"]


@pytest.mark.parametrize("fname", sorted(EXPECTED))
def test_golden_validates_and_loads(golden, fname):
    _, exp = EXPECTED[fname]
    path = golden(fname)
    report = strfh5.validate(path, checksums=True)
    assert report.ok, [str(f) for f in report.findings]
    ds = strfh5.load(path)
    masks = np.array([[el is not None for el in row] for row in exp["rows"]], dtype=bool)
    assert np.array_equal(ds.nrn_masks.numpy(), masks)
    assert ds.get_S() == len(exp["stim_ids"]) and ds.get_N() == len(exp["neuron_ids"])


def test_golden_1_1_stimulus_beyond_float32_is_not_squashed(golden):
    """SPEC 1.1 §5.2: a finite float64 stimulus value beyond float32's range is never presented as inf."""
    ds = strfh5.load(golden("v1.1_widths.strf.h5.gz"))
    wide, half = ds.stims[0], ds.stims[1]
    assert str(wide.dtype) == "torch.float64" and wide[0, 0, 1].item() == 1e300
    assert str(half.dtype) == "torch.float32" and half.flatten().tolist() == [0.25, -2.0]
    assert ds.row_tensors(0)[0].tolist() == [[1.0, 1.0, 2.0]]  # 0 | 5 | 10 and 15 (15 on the closed last edge)
