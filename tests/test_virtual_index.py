"""Rows of concatenated files read through their sources' byte-range indexes (strfh5.h5io.virtual_index).

Every read is compared with the HDF5 path (the same file read with the index
turned off): values, counts, repeats and types bit for bit.
"""

from __future__ import annotations

import os
import pickle
import shutil
import warnings

import h5py
import numpy as np
import pytest
import torch

import strfh5
from strfh5 import layout as L
from strfh5.contents import FileContents
from strfh5.errors import ResponseIndexWarning
from strfh5.h5io import virtual_index as vi
from strfh5.h5io.virtual_index import VirtualIndex

from concat_cases import items_equal, make_contents, write


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _hdf5(path, **kw) -> FileContents:
    """The file read through HDF5 only (its index turned off)."""
    c = FileContents(path, **kw)
    c.handle.file
    c.handle._index = None
    return c


def _subsets(N: int) -> list:
    return [None, list(range(N - 1, -1, -1)), list(range(0, N, 2)), [N - 1, 0, N - 1], [], [N // 2],
            list(range(1, N))]


def _compare(path, *, subsets=None, dtypes=(None,), expect_index=True, strict=True, **kw):
    """Every row (whole and neuron subsets) read through the virtual index equals the HDF5 path."""
    c, h = FileContents(path, **kw), _hdf5(path, **kw)
    idx = c.handle.index(c.info.encoding, c.info.concatenated)
    assert isinstance(idx, VirtualIndex) is expect_index
    with warnings.catch_warnings():
        if strict:
            warnings.simplefilter("error", ResponseIndexWarning)
        for s in range(c.S):
            for nrn in subsets or _subsets(c.N):
                for dt in dtypes:
                    a = _row(c, s, nrn, dt)
                    b = _row(h, s, nrn, dt)
                    assert _same(a.reps, b.reps) and _same(a.values, b.values), (s, nrn, dt)
                    assert _same(a.counts, b.counts), (s, nrn)
    c.close()
    h.close()


def _row(c: FileContents, s, nrn, dtype):
    from strfh5.h5io.rows import read_raw_row
    return read_raw_row(c.handle, c.info, s, int(c.n_bins[s]), c.repeat_row(s), nrn, dtype)


@pytest.fixture(params=["events", "binned"])
def encoding(request):
    return request.param


def _three(tmp_path, encoding, **kw):
    events = encoding == "events"
    a = make_contents("a", 3, 4, seed=1, events=events)
    b = make_contents("b", 2, 3, seed=2, events=events, **kw)
    c = make_contents("c", 4, 2, seed=3, events=events)
    return [write(tmp_path, f"{x}.strf.h5", cc) for x, cc in zip("abc", (a, b, c))]


def _count_reads(monkeypatch):
    """Counts the rows the sources' indexes answer (to show the virtual index is used)."""
    calls = []
    orig = vi.RowIndex.raw_row

    def counting(self, *a, **k):
        out = orig(self, *a, **k)
        calls.append(out is not None)
        return out
    monkeypatch.setattr(vi.RowIndex, "raw_row", counting)
    return calls


def test_block_diagonal_rows_equal_the_hdf5_path(tmp_path, encoding, monkeypatch):
    paths = _three(tmp_path, encoding)
    out = strfh5.concat(paths, tmp_path / "abc.strf.h5")
    calls = _count_reads(monkeypatch)
    _compare(out, dtypes=(None, np.float32, np.float64) if encoding == "binned" else (None,))
    assert calls and all(calls)


def test_rows_shared_by_sources_along_neurons(tmp_path, encoding, monkeypatch):
    """merge_stimuli: one row holds blocks of several sources side by side (concatenation along neurons)."""
    events = encoding == "events"
    ids = ["x", "y", "z"]
    a = make_contents("a", 3, 4, seed=1, events=events, stim_ids=ids)
    b = make_contents("b", 3, 3, seed=1, events=events, stim_ids=ids)
    b.stims = a.stims
    pa, pb = write(tmp_path, "a.strf.h5", a), write(tmp_path, "b.strf.h5", b)
    pc = write(tmp_path, "c.strf.h5", make_contents("c", 2, 2, seed=5, events=events))
    out = strfh5.concat([pa, pb, pc], tmp_path / "abc.strf.h5", merge_stimuli=True)
    with h5py.File(out) as f:
        assert f[L.RESPONSES].shape == (5, 9)
    calls = _count_reads(monkeypatch)
    _compare(out)
    assert calls.count(True) > 5
    if not events:  # the lazy items too
        items_equal(strfh5.load(out, lazy=True), strfh5.load(out))


def test_a_narrower_source_type_is_widened_as_hdf5_widens_it(tmp_path, monkeypatch):
    paths = _three(tmp_path, "binned", big_counts=True)  # b holds uint16 counts, a and c uint8
    out = strfh5.concat(paths, tmp_path / "abc.strf.h5")
    with h5py.File(out) as f:
        assert h5py.check_vlen_dtype(f[L.RESPONSES].dtype) == np.uint16
    calls = _count_reads(monkeypatch)
    _compare(out, dtypes=(None, np.float32, np.uint8))
    assert calls and all(calls)


def test_a_source_without_index_is_read_through_hdf5_silently(tmp_path, encoding):
    paths = _three(tmp_path, encoding)
    with h5py.File(paths[1], "r+") as f:
        del f[L.RESPONSE_INDEX]
    out = strfh5.concat(paths, tmp_path / "abc.strf.h5")
    _compare(out)  # strict: no warning
    c = FileContents(out)
    idx = c.handle.index(c.info.encoding, True)
    reps = c.repeat_row(3)  # row 3 belongs to source b
    assert idx.raw_row(3, int(c.n_bins[3]), reps) is None
    assert idx.raw_row(0, int(c.n_bins[0]), c.repeat_row(0)) is not None
    c.close()


def _tamper_index(path):
    with h5py.File(path, "r+") as f:
        t = f[L.RESPONSE_INDEX_RESPONSES][()]
        s, n = (int(x) for x in np.argwhere(t[..., 1] > 0)[0])
        t[s, n, 1] += np.uint64(4)
        f[L.RESPONSE_INDEX_RESPONSES][...] = t


def _tamper_digest(path):
    with h5py.File(path, "r+") as f:
        d = f[f"{L.INTEGRITY}/{L.RESPONSES}"][()]
        d[0, 0] ^= 0xFF
        f[f"{L.INTEGRITY}/{L.RESPONSES}"][...] = d


def _tamper_payload(path):
    with h5py.File(path, "r") as f:
        t = f[L.RESPONSE_INDEX_RESPONSES][()]
    s, n = (int(x) for x in np.argwhere(t[..., 1] > 0)[0])
    off = int(t[s, n, 0])
    with open(path, "r+b") as fh:
        fh.seek(off)
        b = fh.read(1)
        fh.seek(off)
        fh.write(bytes([b[0] ^ 0x40]))


def _tamper_table(path):
    with h5py.File(path, "r+") as f:
        del f[L.RESPONSE_INDEX_RESPONSES]
        f.create_dataset(L.RESPONSE_INDEX_RESPONSES, data=np.zeros((1, 1), np.uint32))


@pytest.mark.parametrize("tamper", [_tamper_index, _tamper_digest, _tamper_payload, _tamper_table])
def test_a_tampered_source_falls_back_with_a_warning_and_the_hdf5_values(tmp_path, encoding, tamper):
    paths = _three(tmp_path, encoding)
    tamper(paths[0])
    out = strfh5.concat(paths, tmp_path / "abc.strf.h5")
    c, h = FileContents(out), _hdf5(out)
    with pytest.warns(ResponseIndexWarning, match="through HDF5"):
        for s in range(c.S):
            _check_row(c, h, s)
    c.close()
    h.close()


def _check_row(c, h, s, nrn=None):
    try:
        b = _row(h, s, nrn, None)
    except Exception as e:  # the HDF5 path reports the corruption: the virtual index must give the same error
        with pytest.raises(type(e), match=None):
            _row(c, s, nrn, None)
        return
    a = _row(c, s, nrn, None)
    assert _same(a.reps, b.reps) and _same(a.values, b.values) and _same(a.counts, b.counts), s


def test_a_source_rewritten_after_the_first_read_is_verified_again(tmp_path, encoding):
    paths = _three(tmp_path, encoding)
    out = strfh5.concat(paths, tmp_path / "abc.strf.h5")
    c = FileContents(out)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResponseIndexWarning)
        first = [_row(c, s, None, None) for s in range(c.S)]
        again = [_row(c, s, None, None) for s in range(c.S)]  # by the kept layout
    for x, y in zip(first, again):
        assert _same(x.values, y.values) and _same(x.counts, y.counts)
    _tamper_payload(paths[0])  # in place, behind HDF5's back
    st = os.stat(paths[0])
    os.utime(paths[0], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    h = _hdf5(out)
    with pytest.warns(ResponseIndexWarning, match="do not match"):
        for s in range(c.S):
            _check_row(c, h, s)
    c.close()
    h.close()


def test_a_replaced_source_is_not_read_through_its_index(tmp_path):
    paths = _three(tmp_path, "binned")
    out = strfh5.concat(paths, tmp_path / "abc.strf.h5")
    c = FileContents(out)  # sources checked here (same UUIDs)
    other = write(tmp_path, "other.strf.h5", make_contents("a", 3, 4, seed=9, events=False))
    shutil.copyfile(other, paths[0])  # another file (another UUID) at the source's path
    idx = c.handle.index(c.info.encoding, True)
    assert idx.raw_row(0, int(c.n_bins[0]), c.repeat_row(0)) is None
    c.close()


def test_unhandled_cases_answer_none(tmp_path):
    paths = _three(tmp_path, "binned")
    out = strfh5.concat(paths, tmp_path / "abc.strf.h5")
    c = FileContents(out)
    idx = c.handle.index(c.info.encoding, True)
    nb, reps = int(c.n_bins[0]), c.repeat_row(0)
    assert idx.raw_row(0, nb, reps) is not None
    bad = reps.copy()
    bad[-1] = 2  # a recorded cell no block maps
    assert idx.raw_row(0, nb, bad) is None
    assert idx.raw_row(0, nb, reps, [0, c.N]) is None  # a neuron outside the file: HDF5 reports it
    assert idx.raw_row(c.S, nb, reps) is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResponseIndexWarning)
        assert idx.raw_row(0, nb + 1, reps) is None  # lengths contradict n_bins: the source index refuses
    c.close()


def test_a_prefix_variable_leaves_the_rows_to_hdf5(tmp_path, monkeypatch):
    paths = _three(tmp_path, "binned")
    out = strfh5.concat(paths, tmp_path / "abc.strf.h5")
    with h5py.File(out) as f:
        monkeypatch.setenv("HDF5_VDS_PREFIX", str(tmp_path))
        assert vi.open_virtual_index(f, out, L.ENCODING_BINNED, allow_external=True) is None


def test_overlapping_mappings_are_left_to_hdf5(tmp_path):
    paths = _three(tmp_path, "binned")
    out = strfh5.concat(paths, tmp_path / "abc.strf.h5")
    c = FileContents(out)
    idx = c.handle.index(c.info.encoding, True)
    idx.blocks = np.concatenate([idx.blocks, idx.blocks[:1]])
    idx._rows = {}
    assert idx.raw_row(0, int(c.n_bins[0]), c.repeat_row(0)) is None
    c.close()


def test_lazy_items_in_dataloader_workers_and_pickled_datasets(tmp_path, encoding):
    paths = _three(tmp_path, encoding)
    out = strfh5.concat(paths, tmp_path / "abc.strf.h5")
    lazy, eager = strfh5.load(out, lazy=True), strfh5.load(out)
    items_equal(lazy, eager)
    back = pickle.loads(pickle.dumps(lazy))
    items_equal(back, eager)
    c = back.contents
    assert isinstance(c.handle.index(c.info.encoding, True), VirtualIndex)

    def batches(ds, workers):
        dl = torch.utils.data.DataLoader(ds, batch_size=3, num_workers=workers, collate_fn=strfh5.neural_collate)
        return [(b["responses"], b["valid_mask"]) for b in dl]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResponseIndexWarning)
        for (r1, m1), (r2, m2) in zip(batches(lazy, 2), batches(eager, 0)):
            assert torch.equal(m1, m2) and torch.equal(torch.nan_to_num(r1, nan=-1.0), torch.nan_to_num(r2, nan=-1.0))


def test_sources_outside_the_folder_with_allow_external(tmp_path, monkeypatch):
    (tmp_path / "src").mkdir()
    (tmp_path / "out").mkdir()
    paths = _three(tmp_path / "src", "events")
    out = strfh5.concat(paths, tmp_path / "out" / "abc.strf.h5", allow_external=True)
    calls = _count_reads(monkeypatch)
    _compare(out, allow_external=True)
    assert calls and all(calls)


def test_a_concatenation_of_concatenations(tmp_path, encoding, monkeypatch):
    paths = _three(tmp_path, encoding)
    ab = strfh5.concat(paths[:2], tmp_path / "ab.strf.h5")
    out = strfh5.concat([paths[2], ab], tmp_path / "cab.strf.h5")  # flattened: c, a, b
    calls = _count_reads(monkeypatch)
    _compare(out)
    assert calls and all(calls)
