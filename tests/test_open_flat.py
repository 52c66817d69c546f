"""A lazy open reads no /repeats value and no metadata string (issue 18: open flat in S), checks kept."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

import strfh5
from strfh5 import layout as L
from strfh5.contents import FileContents
from strfh5.errors import BinningError, CorruptDataError

SMALL = dict(n_stimuli=4, n_neurons=5, n_freqs=8, n_bins=(20, 40), strf_ms=30.0, repeats=(2, 4))


def _small(tmp_path, name="m.strf.h5", **kw):
    return strfh5.write_simulated(tmp_path / name, seed=4, **{**SMALL, **kw})


def test_lazy_open_defers_repeats_and_metadata_and_reads_the_same(tmp_path):
    path = _small(tmp_path)
    eager = strfh5.load(path)
    c = FileContents(path)
    try:
        assert c._stored_repeats is None and c._repeats_bound == 255  # uint8: bounded by its type
        assert c.stim_meta._texts._items is None and c.nrn_meta._texts._items is None
        assert c.masks.tolist() == (eager.contents.repeats > 0).tolist()
        assert c._stored_repeats.dtype == np.uint8
        assert c.repeats.dtype == np.int64 and c.repeats.tolist() == eager.contents.repeats.tolist()
        assert list(c.stim_meta) == list(eager.stim_meta) and list(c.nrn_meta) == list(eager.nrn_meta)
    finally:
        c.close()
    with strfh5.load(path, lazy=True) as ds:
        a, b = strfh5.neural_collate([ds[i] for i in range(len(ds))]), strfh5.neural_collate(
            [eager[i] for i in range(len(eager))])
        assert np.array_equal(a["responses"].numpy(), b["responses"].numpy(), equal_nan=True)


def test_metadata_asked_for_after_close_is_read_and_the_file_left_closed(tmp_path):
    path = _small(tmp_path)
    ds = strfh5.load(path, lazy=True)
    ds.close()
    assert ds.stim_meta[1]["type"] and not ds.contents.handle.is_open
    with h5py.File(path, "r+"):  # nothing holds it open
        pass


def test_repeats_out_of_range_refused_when_first_needed(tmp_path):
    path = _small(tmp_path)
    with h5py.File(path, "r+") as f:
        rep = f[L.REPEATS][()].astype(np.uint64)
        rep[1, 2] = 2**41
        del f[L.REPEATS]
        f.create_dataset(L.REPEATS, data=rep, fillvalue=0)
    with pytest.raises(CorruptDataError, match=r"/repeats holds 2199023255552"):
        strfh5.load(path, lazy=True)  # uint64: its type bounds nothing, so it is read and checked at open


def test_row_size_limit_still_refused_at_open(tmp_path, monkeypatch):
    path = _small(tmp_path)
    monkeypatch.setenv("STRFH5_MAX_ROW_VALUES", "50")  # the type bound does not settle it: repeats are read
    with pytest.raises(BinningError, match="over the limit of 50"):
        strfh5.load(path, lazy=True)


def test_strings_with_invalid_utf8_refused(tmp_path):
    path = _small(tmp_path)
    with h5py.File(path, "r+") as f:
        ids = f[L.STIM_IDS][()].tolist()
        ids[1] = b"\xff\xfe"
        del f[L.STIM_IDS]
        f.create_dataset(L.STIM_IDS, data=np.array(ids, dtype=object), dtype=h5py.string_dtype("utf-8"))
    with pytest.raises(CorruptDataError, match="not valid UTF-8"):
        strfh5.load(path)  # an eager load reads every stimulus, so it names the ids
    with strfh5.load(path, lazy=True) as ds:  # the ids are decoded when first used (SPEC §5.1), then refused
        with pytest.raises(CorruptDataError, match="not valid UTF-8"):
            ds.stim_ids
        with pytest.raises(CorruptDataError, match="not valid UTF-8"):
            ds.contents.stim_ids[1]


def test_lazy_open_decodes_no_stimulus_id_until_used(tmp_path):
    path = _small(tmp_path)
    eager = strfh5.load(path)
    with strfh5.load(path, lazy=True) as ds:
        ds[0]  # an item reads its stimulus without naming it
        assert not isinstance(ds.contents._stim_ids, list) and ds.contents.S == len(eager.stim_ids)
        assert ds.get_S() == eager.get_S()
        assert ds.stim_ids == eager.stim_ids and isinstance(ds.stim_ids, list)
        assert ds.stim_ids is ds.contents.stim_ids
