"""Whole-row writes, flat digests and the chained payload locator give the bytes of the per-element path."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

import strfh5
from strfh5 import layout as L
from strfh5.errors import InvalidDataError
from strfh5.h5io.index import locate_payloads
from strfh5.index_writer import locate_chained
from strfh5.records import RawRow
from strfh5.saving import write_contents
from strfh5.vlen_sink import flat_digest

SMALL = dict(n_stimuli=5, n_neurons=6, n_freqs=8, n_bins=(20, 40), strf_ms=30.0, repeats=(2, 4))


def _same_content(a, b):
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        for k in (L.RESPONSES, L.COUNTS):
            if k not in fa:
                continue
            assert fa[k].dtype == fb[k].dtype
            for s in range(fa[k].shape[0]):
                assert all(np.array_equal(x, y) and x.dtype == y.dtype for x, y in zip(fa[k][s], fb[k][s]))
            assert np.array_equal(fa[f"{L.INTEGRITY}/{k}"][()], fb[f"{L.INTEGRITY}/{k}"][()])
        for t in (L.REPEATS, L.STIM_IDS, L.STIM_METADATA, L.STIM_N_BINS, L.NEURON_IDS, L.NEURON_METADATA):
            assert np.array_equal(fa[t][()], fb[t][()]) and fa[t].dtype == fb[t].dtype
        for s in range(fa[L.STIM_IDS].shape[0]):
            x, y = fa[f"{L.stim_group_path(s)}/data"], fb[f"{L.stim_group_path(s)}/data"]
            assert x.dtype == y.dtype and np.array_equal(x[()], y[()])


@pytest.mark.parametrize("encoding", ["events", "binned"])
def test_save_of_eager_and_lazy_datasets_equals_the_per_element_path(tmp_path, encoding):
    src = strfh5.write_simulated(tmp_path / "src.strf.h5", seed=2, encoding=encoding, **SMALL)
    ref = tmp_path / "ref.strf.h5"
    with strfh5.FileContents(src) as c:
        write_contents(c, ref, rows=c.row)  # element lists: the per-element writer path
    for lazy in (False, True):
        ds = strfh5.load(src, lazy=lazy)
        out = strfh5.save(ds, tmp_path / f"out{lazy}.strf.h5")
        ds.close()
        _same_content(ref, out)
        _same_content(src, out)
        assert strfh5.validate(out, checksums=True).ok


@pytest.mark.parametrize("dtype", ["u1", "<u2", ">u2", "<f8", ">f4"])
def test_flat_digest_equals_row_digest(dtype):
    """Both layouts of flat_row_digest (views joined; numpy scatter past _JOIN_MAX elements) equal row_digest."""
    rng = np.random.default_rng(1)
    for lengths in (np.full(6, 4), rng.integers(0, 5, 9), np.zeros(3, int), rng.integers(0, 3, L._JOIN_MAX + 7)):
        v = rng.integers(0, 200, int(lengths.sum())).astype(dtype)
        assert flat_digest(v, lengths) == L.row_digest(np.split(v, np.cumsum(lengths)[:-1]))


def test_chained_locator_equals_the_collection_walk_and_refuses_a_moved_object(tmp_path):
    src = strfh5.write_simulated(tmp_path / "e.strf.h5", seed=2, encoding="events", **SMALL)
    out = strfh5.save(strfh5.load(src), tmp_path / "o.strf.h5")
    names = [(L.RESPONSES, L.RESPONSE_INDEX_RESPONSES), (L.COUNTS, L.RESPONSE_INDEX_COUNTS)]
    with h5py.File(out, "r") as f:
        got = locate_chained(f, names, out)
        assert got is not None
        for name, iname in names:
            assert np.array_equal(got[iname], locate_payloads(f, name, out))
        off = int(got[L.RESPONSE_INDEX_RESPONSES][0, 0, 0]) - 16  # the first object's header
    with open(out, "r+b") as fh:  # its index field no longer matches: the chain must not be trusted
        fh.seek(off)
        fh.write(b"\x7f\x7f")
    with h5py.File(out, "r") as f:
        assert locate_chained(f, names, out) is None


def test_whole_row_checks_refuse_what_elements_refuse(tmp_path):
    w = strfh5.StreamWriter(tmp_path / "w.strf.h5", encoding="binned", dt_ms=5.0, stim_kind="spectrogram",
                            stim_dims=(1, 2), n_neurons=2)
    with pytest.raises(InvalidDataError):
        with w:
            w.add_stimulus(np.zeros((1, 2, 3), np.float32))
            w.write_row(0, RawRow(np.array([1, 1]), np.array([0, 1, 2, 3, 4, -1.0])))
    w = strfh5.StreamWriter(tmp_path / "e.strf.h5", encoding="events", dt_ms=5.0, stim_kind="spectrogram",
                            stim_dims=(1, 2), n_neurons=1)
    with pytest.raises(InvalidDataError, match="finite"):
        with w:
            w.add_stimulus(np.zeros((1, 2, 3), np.float32))
            w.write_row(0, RawRow(np.array([1]), np.array([1.0, np.nan]), np.array([2])))
