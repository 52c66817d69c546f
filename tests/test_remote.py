"""Reading over HTTP (strfh5.h5io.remote): values equal the local read; the safety policy holds remotely.

A local server on 127.0.0.1 with Range support (benchmarks/range_server.py)
serves the files; its request log shows that reads are byte ranges.
"""

from __future__ import annotations

import os
import pickle
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("fsspec")
pytest.importorskip("aiohttp")

# a remote file's rows are read through HDF5: its response index (read by pread) is not opened, so no warning
pytestmark = pytest.mark.filterwarnings("error::strfh5.errors.ResponseIndexWarning")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import strfh5  # noqa: E402
from benchmarks.range_server import RangeServer  # noqa: E402
from strfh5.errors import RemoteAccessError  # noqa: E402


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    d = tmp_path_factory.mktemp("served")
    strfh5.write_simulated(d / "demo.strf.h5", preset="demo", seed=3)
    strfh5.write_simulated(d / "binned.strf.h5", preset="demo", seed=4, encoding="binned")
    sub = d / "parts"
    sub.mkdir()
    strfh5.write_simulated(sub / "a.strf.h5", preset="demo", seed=5, n_stimuli=3, n_neurons=2)
    strfh5.write_simulated(sub / "b.strf.h5", preset="demo", seed=6, n_stimuli=3, n_neurons=2)
    strfh5.concat([sub / "a.strf.h5", sub / "b.strf.h5"], sub / "ab.strf.h5")
    with RangeServer(d) as srv:
        yield d, srv


def _same(a, b):
    if not isinstance(a, torch.Tensor):  # a ResponseRow: element by element
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a.shape == b.shape and torch.equal(torch.nan_to_num(a, 777.0), torch.nan_to_num(b, 777.0))


def _assert_same_dataset(r, l):
    assert r.get_S() == l.get_S() and r.get_N() == l.get_N() and r.dt == l.dt
    assert r.stim_ids == l.stim_ids and r.neuron_ids == l.neuron_ids
    assert r.stim_meta == l.stim_meta and r.nrn_meta == l.nrn_meta
    assert torch.equal(r.nrn_masks, l.nrn_masks)
    for i in range(len(l)):
        a, b = r[i], l[i]
        assert _same(a["stims"], b["stims"])
        assert _same(a["responses"], b["responses"])
        assert a["stim_index"] == b["stim_index"]


@pytest.mark.parametrize("name", ["demo.strf.h5", "binned.strf.h5"])
def test_remote_lazy_and_eager_equal_local(served, name):
    d, srv = served
    local = strfh5.load(d / name, lazy=True)
    with strfh5.load(srv.url(name), lazy=True) as remote:
        _assert_same_dataset(remote, local)
    _assert_same_dataset(strfh5.load(srv.url(name)), local)
    local.close()


def test_remote_reads_are_byte_ranges_and_opening_reads_part_of_the_file(served):
    d, srv = served
    srv.reset()
    ds = strfh5.load(srv.url("demo.strf.h5"), lazy=True)
    gets = [r for r in srv.log if r[0] == "GET"]
    assert gets and all(r[2] is not None for r in gets)  # every GET asked for a range
    n_open, bytes_open = srv.totals()
    assert bytes_open < os.path.getsize(d / "demo.strf.h5")
    srv.reset()
    ds[0]
    n_item, _ = srv.totals()
    assert n_item >= 0
    ds.close()


def test_remote_pickled_dataset_reopens_its_own_handle(served):
    d, srv = served
    ds = strfh5.load(srv.url("demo.strf.h5"), lazy=True)
    ds[0]
    clone = pickle.loads(pickle.dumps(ds))  # what a DataLoader worker gets
    assert clone.contents.handle._h5 is None
    assert _same(clone[2]["responses"], ds[2]["responses"])
    clone.close()
    ds.close()


def test_remote_info_and_validate_equal_local(served):
    d, srv = served
    url = srv.url("demo.strf.h5")
    ri, li = strfh5.info(url), strfh5.info(d / "demo.strf.h5")
    assert ri.pop("path") == url
    li.pop("path")
    assert ri == li
    report = strfh5.validate(url, checksums=True)
    assert report.ok and report.info.get("checksums_verified")


def test_remote_concatenated_file_is_refused(served):
    d, srv = served
    url = srv.url("parts/ab.strf.h5")
    assert strfh5.load(d / "parts" / "ab.strf.h5").get_S() == 6  # fine locally
    with pytest.raises(RemoteAccessError, match="concatenated .* cannot be read over HTTP"):
        strfh5.load(url, lazy=True)
    with pytest.raises(RemoteAccessError, match="materialize"):
        strfh5.info(url)
    report = strfh5.validate(url)
    assert not report.ok and report.exit_code == 2
    assert any(f.code == "E003" and "concatenated" in f.message for f in report.findings)


def test_remote_missing_file_and_write_mode(served):
    d, srv = served
    with pytest.raises(FileNotFoundError, match="nothing.strf.h5"):
        strfh5.load(srv.url("nothing.strf.h5"))
    assert strfh5.validate(srv.url("nothing.strf.h5")).findings[0].code == "E001"
    from strfh5.h5io.remote import open_remote

    with pytest.raises(RemoteAccessError, match="read-only"):
        open_remote(srv.url("demo.strf.h5"), mode="r+")


def test_server_without_range_support_is_refused(served):
    d, _ = served
    with RangeServer(d, ranges=False) as plain:
        with pytest.raises(RemoteAccessError, match="range"):
            strfh5.load(plain.url("demo.strf.h5"), lazy=True)


def test_not_hdf5_over_http(served):
    d, srv = served
    (d / "text.strf.h5").write_bytes(b"not an hdf5 file at all" * 10)
    with pytest.raises(strfh5.errors.NotStrfH5FileError, match="text.strf.h5"):
        strfh5.load(srv.url("text.strf.h5"))
    np.testing.assert_equal(strfh5.validate(srv.url("text.strf.h5")).exit_code, 2)


def test_hdf5_without_markers_over_http_names_the_url(served):
    import h5py

    d, srv = served
    with h5py.File(d / "plain.h5", "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(strfh5.errors.NotStrfH5FileError, match=r"http://127\.0\.0\.1:\d+/plain\.h5: HDF5 file"):
        strfh5.load(srv.url("plain.h5"))


def test_remote_benchmark_figure_counts_what_the_server_sent(served):
    from benchmarks.figures import remote_transfer
    from strfh5.h5io import remote

    d, _ = served
    block = remote.DEFAULT_BLOCK_SIZE
    try:
        r = remote_transfer(str(d / "demo.strf.h5"), block_sizes=(16384,))
    finally:
        remote.DEFAULT_BLOCK_SIZE = block
    run = r["runs"][0]
    assert r["bytes"] == os.path.getsize(d / "demo.strf.h5") and r["item_stored_bytes"] > 0
    assert 0 < run["open_bytes"] < r["bytes"] and run["open_requests"] >= 2
    assert run["open_bytes"] <= run["open_requests"] * 16384  # every request is one block at most
