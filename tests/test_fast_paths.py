"""Issue 18's fast paths keep their results: O(n) binning, the stimulus cache, lazy records, links, save."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import torch

import strfh5
from strfh5 import layout as L
from strfh5.binning import bin_events, bin_index, plan
from strfh5.contents import FileContents
from strfh5.errors import CorruptDataError, SourceFileError
from strfh5.records import JsonRecords
from strfh5.stim_cache import StimulusCache

SMALL = dict(n_stimuli=4, n_neurons=5, n_freqs=8, n_bins=(20, 40), strf_ms=30.0, repeats=(2, 4))


# ------------------------------------------------------------------ binning
@pytest.mark.parametrize("start", [0.0, -3.3, 0.1, 12.5])
@pytest.mark.parametrize("dt", [0.1, 1 / 3, 0.3, 2.5, 5.0])
@pytest.mark.parametrize("T", [0, 1, 7, 29])
def test_bin_index_equals_searchsorted_on_edges_and_specials(start, dt, T):
    rng = np.random.default_rng(T)
    edges = start + np.arange(T + 1) * dt
    t = np.concatenate([rng.uniform(start - 2 * dt, start + (T + 2) * dt, 200), edges, np.nextafter(edges, np.inf),
                        np.nextafter(edges, -np.inf), [np.nan, np.inf, -np.inf]])
    assert np.array_equal(bin_index(t, start, dt, T), np.searchsorted(edges, t, side="right") - 1)


@pytest.mark.parametrize("sort", [True, False])
def test_bin_events_equals_numpy_histogram(sort):
    rng = np.random.default_rng(5)
    for start, dt, T in [(0.0, 1.0, 10), (-2.5, 0.3, 17), (0.1, 1 / 3, 1), (5.0, 5.0, 3)]:
        edges = start + np.arange(T + 1) * dt
        trials = [np.concatenate([rng.uniform(start - dt, start + (T + 1) * dt, k), edges[[0, -1]], edges[1:2]])
                  for k in (0, 5, 40)]
        trials[0] = np.empty(0)
        if sort:
            trials = [np.sort(x) for x in trials]
        counts = np.array([x.size for x in trials])
        got = bin_events(np.concatenate(trials), counts, start, dt, T)
        want = np.stack([np.histogram(x, bins=edges)[0] for x in trials])
        assert np.array_equal(got, want), (start, dt, T)


def test_binned_read_of_events_file_equals_histogram(tmp_path):
    path = strfh5.write_simulated(tmp_path / "e.strf.h5", seed=4, encoding="events", **SMALL)
    c = FileContents(path)
    grid = plan(c.info, dt_ms=c.info.dt_ms * 0.7)
    for s in range(c.S):
        data, reps = grid.bin_raw(c.raw_row(s), int(c.n_bins[s]))
        T = grid.n_bins(int(c.n_bins[s]))
        edges = np.arange(T + 1) * grid.dt
        row = 0
        for el in c.row(s):
            if el is None:
                continue
            for trial in el.trials():
                assert np.array_equal(data[row], np.histogram(trial, bins=edges)[0].astype(np.float32))
                row += 1
        assert data.dtype == np.float32 and row == data.shape[0]


# ------------------------------------------------------------------ stimulus cache
def test_stimulus_cache_is_bounded_and_keyed_by_grid():
    cache = StimulusCache(max_mb=1)  # 1 MiB: two 400 kB tensors fit, a third evicts the oldest
    loads = []

    def make(key):
        def load():
            loads.append(key)
            return torch.full((100_000,), float(len(loads)))
        return load

    a = cache.get((0, "g1"), make((0, "g1")))
    assert cache.get((0, "g1"), make((0, "g1"))) is a and loads == [(0, "g1")]
    cache.get((0, "g2"), make((0, "g2")))  # same stimulus, another grid: another entry
    cache.get((1, "g1"), make((1, "g1")))
    assert cache.nbytes <= cache.max_bytes and len(cache) == 2
    cache.get((0, "g1"), make((0, "g1")))  # evicted: loaded again
    assert loads.count((0, "g1")) == 2
    big = cache.get("big", lambda: torch.zeros(2**19))  # 2 MiB > budget: returned, not kept
    assert big.numel() == 2**19 and "big" not in cache._items and cache.nbytes <= cache.max_bytes
    off = StimulusCache(max_mb=0)
    off.get(1, lambda: torch.zeros(3))
    assert len(off) == 0


def test_lazy_dataset_reads_each_stimulus_once(tmp_path):
    path = strfh5.write_simulated(tmp_path / "b.strf.h5", seed=4, encoding="binned", **SMALL)
    ds = strfh5.load(path, lazy=True)
    eager = strfh5.load(path)
    for _ in range(2):
        for s in range(ds.get_S()):
            assert torch.equal(ds.stims[s], eager.stims[s])
    cache = ds._rows.stim_cache
    # the open reads stimulus 0 (an impossible dt fails at load), then two passes over every stimulus
    assert cache.misses == ds.get_S() and cache.hits == ds.get_S() + 1


# ------------------------------------------------------------------ lazy records
def test_json_records_decode_on_access_and_keep_edits():
    texts = np.array([json.dumps({"a": i}) for i in range(3)] + ["[1]", "not json"], dtype=object)
    rec = JsonRecords(texts, "f:/stimuli/metadata")
    assert len(rec) == 5 and rec[0] == {"a": 0} and rec[-4] == {"a": 1}
    rec[0]["snr"] = 1.5
    assert rec[0] == {"a": 0, "snr": 1.5} and rec[:2] == [{"a": 0, "snr": 1.5}, {"a": 1}]
    with pytest.raises(CorruptDataError, match=r"metadata\[3\]: metadata record is not a JSON object"):
        rec[3]
    with pytest.raises(CorruptDataError, match=r"metadata\[4\].*not valid JSON"):
        rec[4]
    with pytest.raises(IndexError):
        rec[5]


def test_lazy_open_parses_records_only_when_asked(tmp_path):
    path = strfh5.write_simulated(tmp_path / "m.strf.h5", seed=4, **SMALL)
    with h5py.File(path, "r+") as f:
        f[L.STIM_METADATA][2] = "not json"
    ds = strfh5.load(path, lazy=True)  # opens: the bad record is not parsed yet
    assert ds.stim_meta[0]["type"]
    with pytest.raises(CorruptDataError, match=r"/stimuli/metadata\[2\]"):
        ds.stim_meta[2]


# ------------------------------------------------------------------ links
def test_external_stimulus_link_refused_when_the_stimulus_is_read(tmp_path):
    path = strfh5.write_simulated(tmp_path / "l.strf.h5", seed=4, **SMALL)
    other = tmp_path / "elsewhere.h5"
    with h5py.File(other, "w") as o:
        o.create_group("stimuli/000001").create_dataset("data", data=np.zeros((1, 8, 20), np.float32))
    with h5py.File(path, "r+") as f:
        del f["stimuli/000001"]
        f["stimuli/000001"] = h5py.ExternalLink("elsewhere.h5", "/stimuli/000001")
    ds = strfh5.load(path, lazy=True)
    ds.stims[0]
    with pytest.raises(SourceFileError, match="000001 is an external link"):
        ds.stims[1]
    with pytest.raises(SourceFileError, match="external link"):
        strfh5.load(path)  # eager: every stimulus read at load
    assert "E801" in {f.code for f in strfh5.validate(path).findings}


# ------------------------------------------------------------------ save
@pytest.mark.parametrize("encoding", ["binned", "events"])
def test_save_keeps_stored_types_and_values(tmp_path, encoding):
    path = strfh5.write_simulated(tmp_path / "s.strf.h5", seed=6, encoding=encoding, **SMALL)
    ds = strfh5.load(path)
    out = strfh5.save(ds, tmp_path / "copy.strf.h5")
    with h5py.File(path, "r") as a, h5py.File(out, "r") as b:
        for name in (L.RESPONSES, L.COUNTS):
            if name not in a:
                continue
            assert a[name].dtype == b[name].dtype
            for s in range(a[name].shape[0]):
                for x, y in zip(a[name][s], b[name][s]):
                    assert x.dtype == y.dtype and x.tobytes() == y.tobytes()
            assert np.array_equal(a[f"{L.INTEGRITY}/{name}"][()], b[f"{L.INTEGRITY}/{name}"][()])
    assert not list(tmp_path.glob("*scratch*"))
    assert strfh5.validate(out, checksums=True).ok


def test_save_of_an_edited_eager_row_writes_the_file_contents(tmp_path):
    path = strfh5.write_simulated(tmp_path / "s.strf.h5", seed=6, encoding="binned", **SMALL)
    ds = strfh5.load(path)
    ds.responses[0][0] = torch.zeros(1, 1)  # user edit: the row no longer mirrors the stored values
    out = strfh5.save(ds, tmp_path / "copy.strf.h5")
    with h5py.File(path, "r") as a, h5py.File(out, "r") as b:
        assert a[L.RESPONSES][0, 0].tobytes() == b[L.RESPONSES][0, 0].tobytes()


# ------------------------------------------------------------------ spectrogram recipe, same bits
def test_numpy_hann_window_is_scipys_bit_for_bit():
    signal = pytest.importorskip("scipy.signal")
    from strfh5.spectrogram import _hann

    for n in [*range(0, 70), 441, 2205, 4410]:
        want = signal.get_window("hann", n, fftbins=True) if n else np.ones(0)
        assert _hann(n).tobytes() == np.asarray(want, dtype=np.float64).tobytes(), n


def test_frame_centres_equal_the_exact_fraction_rounding():
    from strfh5.spectrogram import _exact, _frame_centres

    for dt in (1, 5, 0.5, 1 / 3, 7.3):
        for sr in (44100, 24414.0625, 16000, 97656.25, 3):
            hop = _exact(dt) * _exact(sr) / 1000
            want = [int(round((t * 2 + 1) * hop / 2)) for t in range(500)]
            assert _frame_centres(hop, 500).tolist() == want, (dt, sr)
