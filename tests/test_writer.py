"""The streaming writer and save(): encodings, dtype choice, refusals, atomic writes, digests."""

from __future__ import annotations

import os
import tracemalloc

import h5py
import numpy as np
import pytest

import strfh5
from strfh5 import layout as L
from strfh5.errors import (
    DuplicateIdError,
    InvalidDataError,
    MetadataError,
    SchemaNotFoundError,
)


def _writer(path, N=3, encoding="binned", **kw):
    kw.setdefault("stim_kind", "spectrogram")
    kw.setdefault("stim_dims", (1, 4))
    return strfh5.StreamWriter(path, encoding=encoding, dt_ms=5, neuron_ids=[f"n{i}" for i in range(N)], **kw)


def _stim(T=6):
    return np.arange(4 * T, dtype=np.float32).reshape(1, 4, T)


@pytest.mark.parametrize(
    "max_count, expected",
    [(0, "u1"), (255, "u1"), (256, "<u2"), (65535, "<u2"), (70000, "<u4")],
)
def test_binned_counts_use_smallest_unsigned_type(tmp_path, max_count, expected):
    p = tmp_path / "a.strf.h5"
    with _writer(p, N=2) as w:
        s = w.add_stimulus(_stim())
        w.write_row(s, [np.full((2, 6), max_count), None])
    with h5py.File(p) as f:
        assert h5py.check_vlen_dtype(f["responses"].dtype) == np.dtype(expected)
        assert f["repeats"][()].tolist() == [[2, 0]]
    fc = strfh5.FileContents(p)
    assert np.array_equal(fc.row(0)[0], np.full((2, 6), max_count))
    assert fc.row(0)[1] is None


def test_event_counts_use_smallest_type_and_times_keep_float64(tmp_path):
    p = tmp_path / "e.strf.h5"
    trials = [np.linspace(-2000.0, 7000.0, 300), np.array([]), np.array([1.125])]
    with _writer(p, N=1, encoding="events") as w:
        w.add_stimulus(_stim())
        w.write_row(0, [trials])
    with h5py.File(p) as f:
        assert h5py.check_vlen_dtype(f["counts"].dtype) == np.dtype("<u2")
        assert h5py.check_vlen_dtype(f["responses"].dtype) == np.dtype("<f8")
    ev = strfh5.FileContents(p).row(0)[0]
    assert ev.counts.tolist() == [300, 0, 1]
    for a, b in zip(ev.trials(), trials):
        assert np.array_equal(a, b)


def test_explicit_count_dtype_overflow_is_refused(tmp_path):
    with _writer(tmp_path / "a.strf.h5", N=1, count_dtype="u1") as w:
        w.add_stimulus(_stim())
        with pytest.raises(InvalidDataError, match="does not fit uint8"):
            w.write_row(0, [np.full((1, 6), 300)])
        w.abort()
    assert not (tmp_path / "a.strf.h5").exists()


@pytest.mark.parametrize(
    "value, match",
    [
        (np.full((1, 6), -1), "non-negative"),
        (np.full((1, 6), 0.5), "integers"),
        (np.full((1, 6), np.nan), "finite"),
        (np.zeros((1, 5)), "n_bins"),
        (np.zeros((2, 3, 6)), r"\(R, T\)"),
    ],
)
def test_bad_binned_counts_are_refused(tmp_path, value, match):
    with _writer(tmp_path / "a.strf.h5", N=1) as w:
        w.add_stimulus(_stim())
        with pytest.raises(InvalidDataError, match=match):
            w.write_row(0, [value])
        w.abort()


def test_nan_spike_times_are_refused_naming_the_pair(tmp_path):
    with _writer(tmp_path / "a.strf.h5", N=2, encoding="events") as w:
        w.add_stimulus(_stim(), id="song")
        with pytest.raises(InvalidDataError, match=r"\[0, 1\].*'song'.*'n1'.*repeat 1"):
            w.write_row(0, [None, [np.array([1.0]), np.array([np.nan])]])
        w.abort()


def test_bad_stimuli_are_refused(tmp_path):
    with _writer(tmp_path / "a.strf.h5") as w:
        bad = _stim()
        bad[0, 0, 0] = np.inf
        with pytest.raises(InvalidDataError, match="NaN or Inf"):
            w.add_stimulus(bad)
        with pytest.raises(InvalidDataError, match="does not fit"):
            w.add_stimulus(np.zeros((1, 5, 6), np.float32))
        with pytest.raises(InvalidDataError, match="n_bins"):
            w.add_stimulus(_stim(6), n_bins=7)
        w.abort()


def test_waveform_stimuli_need_n_bins_and_sample_rate(tmp_path):
    p = tmp_path / "w.strf.h5"
    with _writer(p, N=1, stim_kind="waveform", stim_dims=(1,)) as w:
        with pytest.raises(InvalidDataError, match="n_bins"):
            w.add_stimulus(np.zeros((1, 100), np.float32), sample_rate=1000.0)
        w.add_stimulus(np.ones((1, 100), np.float32), n_bins=20, sample_rate=1000.0)
        w.write_row(0, [np.ones((3, 20))])
    fc = strfh5.FileContents(p)
    assert fc.stim_sample_rate(0) == 1000.0
    assert fc.row(0)[0].shape == (3, 20)
    assert fc.info.stim_kind == "waveform" and fc.info.stim_dims == (1,)


def test_duplicate_ids_are_refused(tmp_path):
    with pytest.raises(DuplicateIdError, match="'a'.*positions 0 and 2"):
        strfh5.StreamWriter(tmp_path / "x.strf.h5", encoding="binned", dt_ms=5, stim_kind="spectrogram",
                            stim_dims=(1, 4), neuron_ids=["a", "b", "a"])
    with _writer(tmp_path / "y.strf.h5") as w:
        w.add_stimulus(_stim(), id="s")
        with pytest.raises(DuplicateIdError, match="'s'"):
            w.add_stimulus(_stim(), id="s")
        w.abort()


def test_metadata_must_be_strict_json_and_satisfy_schemas(tmp_path):
    with pytest.raises(MetadataError, match="NaN"):
        _writer(tmp_path / "a.strf.h5", nrn_meta=[{"depth": float("nan")}] * 3)
    with pytest.raises(MetadataError, match="'seed' is a required property"):
        _writer(tmp_path / "a.strf.h5", source="demo")
    with pytest.raises(SchemaNotFoundError, match="not shipped"):
        _writer(tmp_path / "a.strf.h5", schemas={"file": "https://example.org/x.json", "stimulus": "", "neuron": ""})
    with _writer(tmp_path / "b.strf.h5") as w:
        with pytest.raises(MetadataError, match="stimulus 0 metadata.*duration_s"):
            w.add_stimulus(_stim(), meta={"duration_s": -1})
        w.abort()
    assert not any(tmp_path.iterdir())


def test_failed_write_leaves_no_file_and_no_temporaries(tmp_path):
    p = tmp_path / "a.strf.h5"
    with pytest.raises(RuntimeError):
        with _writer(p, encoding="events") as w:
            w.add_stimulus(_stim())
            w.write_row(0, [[np.array([1.0])], None, None])
            raise RuntimeError("interrupted conversion")
    assert list(tmp_path.iterdir()) == []


def test_existing_file_needs_overwrite(tmp_path):
    p = tmp_path / "a.strf.h5"
    p.write_bytes(b"x")
    with pytest.raises(FileExistsError, match="overwrite"):
        _writer(p)
    with _writer(p, overwrite=True) as w:
        w.add_stimulus(_stim())
    assert h5py.is_hdf5(p)


def test_row_digests_match_stored_rows_for_rows_and_pairs(tmp_path):
    p = tmp_path / "a.strf.h5"
    rng = np.random.default_rng(1)
    with _writer(p, N=3, encoding="events") as w:
        for s in range(4):
            w.add_stimulus(_stim())
        w.write_row(0, [[rng.uniform(0, 30, 5)], None, [np.array([]), np.array([2.0])]])
        w.write_pair(1, 2, [np.array([3.0, 4.0])])
        w.write_row(2, [None, None, None])
        w.write_pair(2, 0, [np.array([7.5])])  # a pair after its row: the digest is recomputed
    with h5py.File(p) as f:
        for name in ("responses", "counts"):
            dig = f[f"integrity/{name}"]
            assert dig.attrs["algorithm"] == L.DIGEST_ALGORITHM
            for s in range(4):
                assert bytes(dig[s]) == L.row_digest(list(f[name][s])), (name, s)
        assert f["repeats"][()].tolist() == [[1, 0, 2], [0, 0, 1], [1, 0, 0], [0, 0, 0]]


def test_root_attributes_and_tables(tmp_path):
    p = tmp_path / "a.strf.h5"
    with _writer(p, N=2, file_meta={"title": "tête-à-tête"}, transform={"kind": "mel", "n_bands": 4}) as w:
        w.add_stimulus(_stim(), id="x", meta={"name": "x.wav", "type": "song"})
    with h5py.File(p) as f:
        a = f.attrs
        assert a["strfh5_format"] == "strfh5" and a["strfh5_version"] == L.FORMAT_VERSION_STR
        assert a["encoding"] == "binned" and a["response_kind"] == "counts"
        assert a["modality"] == "audio" and list(a["stim_dims"]) == [1, 4]
        assert a["created_by"].startswith("strfh5 ")
    fc = strfh5.FileContents(p)
    assert fc.info.metadata == {"title": "tête-à-tête", "source": "user"}
    assert fc.info.transform == {"kind": "mel", "n_bands": 4}
    assert fc.stim_ids == ["x"] and fc.neuron_ids == ["n0", "n1"]
    assert fc.stim_meta == [{"name": "x.wav", "type": "song"}]
    assert strfh5.FileContents(p).info.uuid != "" and fc.n_bins.tolist() == [6]


def test_uuid_is_new_for_every_file(tmp_path):
    uu = set()
    for i in range(3):
        with _writer(tmp_path / f"{i}.strf.h5") as w:
            w.add_stimulus(_stim())
        uu.add(strfh5.FileContents(tmp_path / f"{i}.strf.h5").info.uuid)
    assert len(uu) == 3


def test_streaming_memory_does_not_grow_with_the_number_of_rows(tmp_path):
    """Python-side memory is bounded by one row: 4x more rows, about the same peak."""
    N, T = 200, 100

    def peak(S):
        rng = np.random.default_rng(0)
        tracemalloc.start()
        with _writer(tmp_path / f"m{S}.strf.h5", N=N, stim_dims=(1, 4)) as w:
            for s in range(S):
                w.add_stimulus(np.zeros((1, 4, T), np.float32))
                w.write_row(s, [rng.poisson(1.0, (3, T)) for _ in range(N)])
        _, pk = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return pk

    small, large = peak(10), peak(40)
    row_bytes = N * 3 * T * 8
    assert large < small + 2 * row_bytes, (small, large)


def test_save_round_trips_a_memory_contents(tmp_path):
    rng = np.random.default_rng(3)
    stims = [rng.random((1, 3, t)).astype(np.float32) for t in (5, 9)]
    resp = [[rng.random((2, 5)).astype(np.float32), None], [None, rng.random((1, 9)).astype(np.float32)]]
    c = strfh5.contents_from_lists(stims, resp, dt_ms=2.5, response_kind="continuous",
                                   waveforms=[(np.ones((1, 40), np.float32), 8000.0), None])
    p = strfh5.save(c, tmp_path / "c.strf.h5")
    fc = strfh5.FileContents(p)
    assert fc.info.response_kind == "continuous" and fc.info.dt_ms == 2.5
    assert np.array_equal(fc.row(0)[0], resp[0][0]) and fc.row(0)[1] is None
    assert np.array_equal(fc.row(1)[1], resp[1][1])
    w, sr = fc.waveform(0)
    assert sr == 8000.0 and np.array_equal(w, np.ones((1, 40), np.float32))
    assert fc.waveform(1) is None


def test_save_refuses_other_objects(tmp_path):
    with pytest.raises(InvalidDataError, match="needs a strfh5 dataset"):
        strfh5.save([1, 2], tmp_path / "x.strf.h5")
    assert not os.listdir(tmp_path)


def test_kept_waveforms_int16_only_when_lossless_and_float_ones_deflated_at_level_1(tmp_path):
    from strfh5.writer import WAVEFORM_GZIP_LEVEL, compact_waveform

    rng = np.random.default_rng(1)
    pcm = (rng.integers(-32768, 32768, size=(1, 9000)) / 32768).astype(np.float32)
    late = pcm.copy()
    late[0, 8000] += np.float32(1e-6)  # PCM for the first 4096 samples, not after: stays float
    k, scale = compact_waveform(pcm)
    assert k.dtype == np.int16 and scale == 2.0 ** -15
    assert np.array_equal(k.astype(np.float32) * np.float32(scale), pcm)
    for w in (late, rng.standard_normal((1, 9000)).astype(np.float32)):
        out, scale = compact_waveform(w)
        assert out is w and scale is None
    path = tmp_path / "w.strf.h5"
    with strfh5.StreamWriter(path, encoding="binned", dt_ms=5.0, stim_kind="spectrogram", stim_dims=(1, 4),
                             neuron_ids=["a"]) as w:
        for s, wave in enumerate((pcm, late)):
            w.add_stimulus(np.zeros((1, 4, 10), np.float32), n_bins=10, waveform=wave, sample_rate=1000.0)
            w.write_row(s, [np.zeros((1, 10), np.float32)])
    with h5py.File(path) as f:
        a, b = f["stimuli/000000/waveform"], f["stimuli/000001/waveform"]
        assert a.dtype == np.int16 and b.dtype == np.float32
        assert b.compression == "gzip" and b.compression_opts == WAVEFORM_GZIP_LEVEL == 1
        assert f["stimuli/000000/data"].compression_opts == 4  # stimuli keep the writer's level
        assert np.array_equal(b[...], late)
