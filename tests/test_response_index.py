"""The response byte-range index (SPEC §7.2): built, verified, used, distrusted."""

from __future__ import annotations

import gzip
import os
import shutil
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

import strfh5
from strfh5 import layout as L
from strfh5.cli.main import main
from strfh5.contents import FileContents
from strfh5.errors import IndexBuildError, ResponseIndexWarning
from strfh5.h5io.index import digest_from_payload, locate_payloads
from strfh5.h5io.virtual_index import VirtualIndex

GOLDEN = Path(__file__).parent / "data" / "golden"
GOLDEN_FILES = sorted(p.name for p in GOLDEN.glob("v1.0_*.strf.h5.gz"))
SMALL = dict(n_stimuli=5, n_neurons=6, n_freqs=8, n_bins=(20, 40), strf_ms=30.0, repeats=(2, 4))


def _unpack(tmp_path, name) -> Path:
    out = tmp_path / name[: -len(".gz")]
    with gzip.open(GOLDEN / name, "rb") as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return out


def _h5py_row(path, s, neurons=None):
    """Row ``s`` as h5py reads it: (values, counts) concatenated over the present elements."""
    with h5py.File(path, "r") as f:
        reps = f[L.REPEATS][s].astype(np.int64)
        which = range(reps.size) if neurons is None else neurons
        vals = [f[L.RESPONSES][s, n] for n in which if reps[n]]
        cnts = [f[L.COUNTS][s, n] for n in which if reps[n]] if L.COUNTS in f else None
    dtype = h5py.check_vlen_dtype(h5py.File(path, "r")[L.RESPONSES].dtype)
    values = np.concatenate(vals) if vals else np.empty(0, dtype)
    counts = None if cnts is None else (np.concatenate(cnts).astype(np.int64) if cnts else np.empty(0, np.int64))
    return values, counts


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _check_all_rows(path):
    """Every row (whole and two neuron subsets) read through the index equals h5py, with no fallback."""
    c = FileContents(path)
    assert c.handle.index(c.info.encoding, c.info.concatenated) is not None
    subsets = [None, [c.N - 1, 0], list(range(0, c.N, 2))]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResponseIndexWarning)
        for s in range(c.S):
            for nrn in subsets:
                row = c.raw_row(s, nrn)
                values, counts = _h5py_row(path, s, nrn)
                assert _same(row.values, values), (path, s, nrn)
                if counts is not None:
                    assert _same(row.counts, counts)
    c.close()


@pytest.mark.parametrize("name", GOLDEN_FILES)
def test_golden_rows_through_the_index_equal_h5py(tmp_path, name):
    path = _unpack(tmp_path, name)
    strfh5.add_index(path)
    _check_all_rows(path)
    assert strfh5.validate(path, checksums=True).ok


@pytest.mark.parametrize("encoding", ["events", "binned"])
def test_simulated_files_are_written_with_an_index_that_reads_bit_exact(tmp_path, encoding):
    path = strfh5.write_simulated(tmp_path / f"{encoding}.strf.h5", seed=3, encoding=encoding, **SMALL)
    with h5py.File(path, "r") as f:
        assert f[L.RESPONSE_INDEX].attrs[L.ATTR_INDEX_LAYOUT] == L.INDEX_LAYOUT
        assert (L.RESPONSE_INDEX_COUNTS in f) == (encoding == "events")
    _check_all_rows(path)
    r = strfh5.validate(path, checksums=True)
    assert r.ok and not [f for f in r.findings if f.code.startswith(("E60", "W60"))]
    eager, lazy = strfh5.load(path), strfh5.load(path, lazy=True)
    for s in range(eager.get_S()):
        for a, b in zip(eager.responses[s], lazy.responses[s]):
            assert np.array_equal(a.numpy(), b.numpy(), equal_nan=True)


def test_index_entries_point_at_the_payload_bytes(tmp_path):
    path = _unpack(tmp_path, "v1.0_events.strf.h5.gz")
    with h5py.File(path, "r") as f:
        table = locate_payloads(f, L.RESPONSES, str(path))
        elements = [[f[L.RESPONSES][s, n] for n in range(f[L.RESPONSES].shape[1])] for s in range(table.shape[0])]
    raw = Path(path).read_bytes()
    for s, row in enumerate(elements):
        for n, el in enumerate(row):
            off, nb = (int(x) for x in table[s, n])
            assert nb == el.nbytes
            assert raw[off : off + nb] == el.astype(el.dtype.newbyteorder("<")).tobytes()
            assert (off == 0) == (nb == 0)


def test_digest_from_payload_equals_the_stored_golden_digests(tmp_path):
    for name in GOLDEN_FILES:
        path = _unpack(tmp_path, name)
        with h5py.File(path, "r") as f:
            for dname in (L.RESPONSES, L.COUNTS):
                if dname not in f:
                    continue
                ds = f[dname]
                item = h5py.check_vlen_dtype(ds.dtype).itemsize
                for s in range(ds.shape[0]):
                    els = [np.asarray(e) for e in ds[s]]
                    stored = f[f"{L.INTEGRITY}/{dname}"][s].tobytes()
                    assert L.row_digest(els) == stored
                    payload = np.frombuffer(b"".join(e.astype(e.dtype.newbyteorder("<")).tobytes() for e in els),
                                            np.uint8)
                    nbytes = np.array([e.nbytes for e in els], dtype=np.int64)
                    assert digest_from_payload(payload, nbytes, item) == stored


# --------------------------------------------------------------- distrust
def _corrupt(path, name, fn):
    with h5py.File(path, "r+") as f:
        t = f[name][()]
        fn(t)
        f[name][...] = t


CORRUPTIONS = {
    "offset-shifted": (L.RESPONSE_INDEX_RESPONSES, lambda t: _shift_first_present(t, 8)),
    "offset-past-eof": (L.RESPONSE_INDEX_RESPONSES, lambda t: _shift_first_present(t, 2**40)),
    "length-past-eof": (L.RESPONSE_INDEX_RESPONSES, lambda t: _set_first_length(t, 2**40)),
    "offsets-swapped": (L.RESPONSE_INDEX_RESPONSES, lambda t: _swap_two_present(t)),
    "counts-offset": (L.RESPONSE_INDEX_COUNTS, lambda t: _shift_first_present(t, 1)),
}


def _set_first_length(t, nbytes):
    s, n = (int(x) for x in np.argwhere(t[..., 1] > 0)[0])
    t[s, n, 1] = np.uint64(nbytes)


def _swap_two_present(t):
    (s0, n0), (s1, n1) = np.argwhere(t[..., 1] > 0)[:2]
    t[s0, n0, 0], t[s1, n1, 0] = t[s1, n1, 0], t[s0, n0, 0]


def _shift_first_present(t, by):
    s, n = (int(x) for x in np.argwhere(t[..., 1] > 0)[0])
    t[s, n, 0] += np.uint64(by)


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_corrupted_index_falls_back_to_hdf5_with_correct_values(tmp_path, case):
    path = _unpack(tmp_path, "v1.0_events.strf.h5.gz")
    strfh5.add_index(path)
    name, fn = CORRUPTIONS[case]
    _corrupt(path, name, fn)
    c = FileContents(path)
    with pytest.warns(ResponseIndexWarning, match="reading the row through HDF5"):
        rows = [c.raw_row(s) for s in range(c.S)]
    for s, row in enumerate(rows):
        values, counts = _h5py_row(path, s)
        assert _same(row.values, values) and _same(row.counts, counts)
    codes = {f.code for f in strfh5.validate(path, checksums=True).findings}
    assert codes & {"E605", "E606"}, codes


def test_wrong_digest_falls_back_and_the_fallback_reports_the_corruption(tmp_path):
    """A digest that does not match the bytes: the index is not used; HDF5 returns the stored values."""
    path = _unpack(tmp_path, "v1.0_counts.strf.h5.gz")
    strfh5.add_index(path)
    with h5py.File(path, "r+") as f:
        d = f[f"{L.INTEGRITY}/{L.RESPONSES}"][()]
        d[0, 0] ^= 0xFF
        f[f"{L.INTEGRITY}/{L.RESPONSES}"][...] = d
    c = FileContents(path)
    with pytest.warns(ResponseIndexWarning, match="do not match /integrity/responses"):
        row = c.raw_row(0)
    assert _same(row.values, _h5py_row(path, 0)[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResponseIndexWarning)
        assert _same(c.raw_row(1).values, _h5py_row(path, 1)[0])  # the other row is verified and used


def test_malformed_index_table_is_ignored_with_a_warning(tmp_path):
    path = _unpack(tmp_path, "v1.0_counts.strf.h5.gz")
    strfh5.add_index(path)
    with h5py.File(path, "r+") as f:
        del f[L.RESPONSE_INDEX_RESPONSES]
        f.create_dataset(L.RESPONSE_INDEX_RESPONSES, data=np.zeros((1, 1), np.uint32))
    c = FileContents(path)
    with pytest.warns(ResponseIndexWarning, match="expected"):
        row = c.raw_row(0)
    assert _same(row.values, _h5py_row(path, 0)[0])
    assert "E604" in {f.code for f in strfh5.validate(path).findings}


def test_no_index_reads_through_hdf5_silently(tmp_path):
    path = _unpack(tmp_path, "v1.0_events.strf.h5.gz")
    c = FileContents(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResponseIndexWarning)
        assert c.handle.index(c.info.encoding, False) is None
        assert _same(c.raw_row(1).values, _h5py_row(path, 1)[0])


def test_concatenated_files_are_not_indexed(tmp_path):
    a = strfh5.write_simulated(tmp_path / "a.strf.h5", seed=1, **SMALL)
    b = strfh5.write_simulated(tmp_path / "b.strf.h5", seed=2, **SMALL)
    out = strfh5.concat([a, b], tmp_path / "ab.strf.h5")
    with pytest.raises(IndexBuildError, match="concatenated"):
        strfh5.add_index(out)
    c = FileContents(out)  # its rows are read through the sources' indexes (tests/test_virtual_index.py)
    assert isinstance(c.handle.index(c.info.encoding, c.info.concatenated), VirtualIndex)
    assert c.raw_row(0).values.size > 0


def test_cli_index_adds_the_index(tmp_path, capsys):
    path = _unpack(tmp_path, "v1.0_continuous.strf.h5.gz")
    assert main(["index", str(path)]) == 0
    assert "index written" in capsys.readouterr().out
    with h5py.File(path, "r") as f:
        assert L.RESPONSE_INDEX_RESPONSES in f
    _check_all_rows(path)


def test_writer_can_leave_the_index_out(tmp_path):
    with strfh5.StreamWriter(tmp_path / "x.strf.h5", encoding="binned", dt_ms=5, stim_kind="spectrogram",
                             stim_dims=(1, 2), n_neurons=2, index=False) as w:
        w.add_stimulus(np.zeros((1, 2, 3), np.float32))
        w.write_row(0, [np.ones((1, 3)), None])
    with h5py.File(tmp_path / "x.strf.h5", "r") as f:
        assert L.RESPONSE_INDEX not in f


def test_a_row_rewritten_after_verification_is_verified_again(tmp_path):
    """Digests are checked on a row's first read; a file changed since (fstat) is verified again."""
    path = _unpack(tmp_path, "v1.0_counts.strf.h5.gz")
    strfh5.add_index(path)
    c = FileContents(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResponseIndexWarning)
        first = c.raw_row(0)
        assert _same(c.raw_row(0).values, first.values)  # trusted read: same bytes
    with h5py.File(path, "r") as f:
        off, nb = (int(x) for x in f[L.RESPONSE_INDEX_RESPONSES][0, 0])
    with open(path, "r+b") as fh:  # flip a payload byte behind HDF5's back
        fh.seek(off)
        b = fh.read(1)
        fh.seek(off)
        fh.write(bytes([b[0] ^ 1]))
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with pytest.warns(ResponseIndexWarning, match="do not match"):
        row = c.raw_row(0)
    assert _same(row.values, _h5py_row(path, 0)[0])  # what HDF5 returns (it may still cache the old heap)


@pytest.mark.parametrize("encoding", ["events", "binned"])
def test_rows_read_again_through_their_verified_layout_equal_h5py(tmp_path, encoding):
    """A verified row keeps its layout; later reads (whole rows, cast or not) give h5py's values."""
    path = strfh5.write_simulated(tmp_path / f"{encoding}.strf.h5", seed=5, encoding=encoding, **SMALL)
    c = FileContents(path)
    index = c.handle.index(c.info.encoding, c.info.concatenated)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResponseIndexWarning)
        for s in range(c.S):
            first = c.raw_row(s)
            assert any(key[1] == s for key in index._seen)  # verified once, layout kept
            values, counts = _h5py_row(path, s)
            for again in (c.raw_row(s), c.raw_row(s)):
                assert _same(again.values, values) and _same(first.values, values)
                if counts is not None:
                    assert _same(again.counts, counts)
            if encoding == "binned":
                cast = c.raw_row(s, dtype=np.float32).values
                assert cast.dtype == np.float32 and np.array_equal(cast, values.astype(np.float32))
    c.close()


@pytest.mark.parametrize("rel", [[0, 10, 20, 30, 47, 64, 81, 200, 150, 100, 5], [7], [3, 3, 3], [0, 168, 336, 520, 688],
                                 [0, 5, 9, 20, 21, 22]])
def test_plan_runs_cover_irregular_strides(rel):
    from strfh5.h5io.index import _runs

    rel = np.array(rel, dtype=np.int64)
    runs = _runs(rel)
    covered = [first + i for first, _at, count, _st in runs for i in range(count)]
    assert covered == list(range(rel.size))
    for first, at, count, stride in runs:
        assert [at + i * stride for i in range(count)] == rel[first : first + count].tolist()


def test_lazy_items_of_uint8_counts_stay_compact_and_collate_like_eager(tmp_path):
    path = strfh5.write_simulated(tmp_path / "binned.strf.h5", seed=7, encoding="binned", **SMALL)
    eager, lazy = strfh5.load(path), strfh5.load(path, lazy=True)
    assert lazy._rows.contents.stored_dtype() == np.uint8
    for i in range(len(lazy)):
        a, b = eager[i]["responses"], lazy[i]["responses"]
        assert b.compact()[0].dtype == torch.uint8
        assert b.data.dtype == torch.float32 and torch.equal(a.data, b.data)
        for x, y in zip(a, b):
            assert torch.equal(torch.nan_to_num(x, 7.0), torch.nan_to_num(y, 7.0))
    partial = False
    for lo in range(0, len(lazy), 3):
        idx = range(lo, min(lo + 3, len(lazy)))
        ba = strfh5.neural_collate([eager[i] for i in idx])
        bb = strfh5.neural_collate([lazy[i] for i in idx])
        assert torch.equal(ba["valid_mask"], bb["valid_mask"])  # lazy: the mask of where counts were written
        assert torch.equal(bb["valid_mask"], ~torch.isnan(bb["responses"]))
        partial |= bool((~bb["valid_mask"]).any())
        assert torch.equal(torch.nan_to_num(ba["responses"], 7.0), torch.nan_to_num(bb["responses"], 7.0))
        assert torch.equal(ba["stims"], bb["stims"])
    assert partial, "no batch had a missing pair or padding: the mask test above compared full masks only"
    eager.smooth_responses(30.0)
    lazy.smooth_responses(30.0)  # a transform: items are float32 again, still equal to eager's
    for i in range(len(lazy)):
        a, b = eager[i]["responses"], lazy[i]["responses"]
        assert b.compact()[0].dtype == torch.float32 and torch.equal(a.data, b.data)


def test_histogram_of_sorted_and_unsorted_times_equals_numpy():
    from strfh5.histogram import histogram_rows as _histogram_rows

    rng = np.random.default_rng(0)
    for trial in range(50):
        R, T, dt = int(rng.integers(1, 5)), int(rng.integers(1, 30)), float(rng.choice([1.0, 2.5, 0.1]))
        counts = rng.integers(0, 400, R)
        times = [np.sort(rng.uniform(-2 * dt, (T + 2) * dt, c)) for c in counts]
        if trial % 3 == 0 and times[0].size:
            times[0][-1] = T * dt  # on the last edge: the last bin
        if trial % 2:
            times = [rng.permutation(t) for t in times]
        flat = np.concatenate(times)
        row = np.repeat(np.arange(R), counts)
        want = np.stack([np.histogram(t, bins=np.arange(T + 1) * dt)[0] for t in times])
        got = _histogram_rows(flat, row, 0.0, dt, R, T, np.float32)
        assert got.dtype == np.float32 and got.flags.c_contiguous and np.array_equal(got.astype(np.float64), want)


@pytest.mark.parametrize("dtype", ["<f8", "<u2", "<f4"])
def test_gathered_elements_at_any_byte_phase(tmp_path, dtype):
    from types import SimpleNamespace

    from strfh5.h5io.index import RowIndex, _gathered

    rng = np.random.default_rng(1)
    dt = np.dtype(dtype)
    blob = bytearray(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    offsets, lengths, want = [], [], []
    pos = 3
    for k in rng.integers(0, 6, 40).tolist():
        vals = rng.integers(0, 1000, k).astype(dt)
        blob[pos : pos + vals.nbytes] = vals.tobytes()
        offsets.append(pos)
        lengths.append(vals.nbytes)
        want.append(vals)
        pos += vals.nbytes + int(rng.integers(0, 11))  # gaps of any size: every byte phase
    path = tmp_path / "blob.bin"
    path.write_bytes(bytes(blob))
    index = RowIndex(str(path), len(blob), [])
    col = SimpleNamespace(itemsize=dt.itemsize, dtype=dt, name="responses")
    o, n = np.array(offsets, np.int64), np.array(lengths, np.int64)
    used = n > 0
    for _again in range(2):  # the second read reuses the scratch buffer
        got = _gathered(index, col, 0, o[used], n[used])
        assert _same(got, np.concatenate(want).astype(dt))
    index.close()


@pytest.mark.parametrize("encoding", ["events", "binned"])
def test_opt_in_row_cache_gives_eager_items_and_stays_bounded(tmp_path, monkeypatch, encoding):
    path = strfh5.write_simulated(tmp_path / f"{encoding}.strf.h5", seed=9, encoding=encoding, **SMALL)
    eager = strfh5.load(path)
    monkeypatch.setenv("STRFH5_ROW_CACHE_MB", "64")
    lazy = strfh5.load(path, lazy=True)
    cache = lazy._rows.row_cache
    assert cache.max_bytes == 64 * 2**20
    for _epoch in range(2):
        for i in range(len(lazy)):
            a, b = eager[i]["responses"], lazy[i]["responses"]
            assert torch.equal(a.data, b.data)
    assert cache.misses == len(lazy) and cache.hits == len(lazy)
    assert all(d.dtype == torch.uint8 for d, _r in cache._items.values())  # counts kept compact
    keep = [lazy.get_N() - 1, 0]
    eager.select_population(keep)
    lazy.select_population(keep)  # items of a neuron subset: gathered from the cached whole rows
    for i in range(len(lazy)):
        assert torch.equal(eager[i]["responses"].data, lazy[i]["responses"].data)
    assert cache.misses == len(lazy)
    monkeypatch.setenv("STRFH5_ROW_CACHE_MB", "0.0001")  # 104 bytes: smaller than any row, nothing kept
    tiny = strfh5.load(path, lazy=True)
    tiny.select_population(keep)
    for i in range(len(tiny)):
        assert torch.equal(eager[i]["responses"].data, tiny[i]["responses"].data)
    assert len(tiny._rows.row_cache) == 0


def test_lazy_event_items_bin_into_compact_counts_and_collate_like_eager(tmp_path):
    """Spike times binned lazily become uint8 counts when every repeat holds <= 255 spikes (else float32),
    equal to eager's float32 items, and batch exactly like them (the valid mask without an isnan pass)."""
    path = strfh5.write_simulated(tmp_path / "events.strf.h5", seed=3, encoding="events", **SMALL)
    for dt in (None, 10.0):
        eager = strfh5.load(path, dt_ms=dt)
        lazy = strfh5.load(path, lazy=True, dt_ms=dt)
        for i in range(len(lazy)):
            a, b = eager[i]["responses"], lazy[i]["responses"]
            assert b.compact()[0].dtype == torch.uint8
            assert torch.equal(a.data, b.data)
        for lo in range(0, len(lazy), 4):
            idx = range(lo, min(lo + 4, len(lazy)))
            ba = strfh5.neural_collate([eager[i] for i in idx])
            bb = strfh5.neural_collate([lazy[i] for i in idx])
            assert torch.equal(ba["valid_mask"], bb["valid_mask"])
            assert torch.equal(torch.nan_to_num(ba["responses"], 7.0), torch.nan_to_num(bb["responses"], 7.0))


def test_event_rows_with_more_than_255_spikes_in_a_repeat_stay_float32():
    """A repeat of 300 spikes could put more than 255 in one bin: that row is binned to float32, exactly."""
    from strfh5.binning import ReadGrid
    from strfh5.records import RawRow
    times = np.concatenate([np.full(300, 2.5), [7.0]])
    raw = RawRow(values=times, counts=np.array([300, 1]), reps=np.array([1, 1]))
    grid = ReadGrid(file_dt=5.0, dt=5.0, encoding="events", response_kind="spike_times", stim_kind="spectrogram",
                    window=None, k=1, m=None)
    data, _ = grid.bin_raw(raw, 4, compact=True)
    assert data.dtype == np.float32 and data[0, 0] == 300 and data[1, 1] == 1
    small = RawRow(values=times[-2:], counts=np.array([1, 1]), reps=np.array([1, 1]))
    data, _ = grid.bin_raw(small, 4, compact=True)
    assert data.dtype == np.uint8 and data.tolist() == [[1, 0, 0, 0], [0, 1, 0, 0]]
