"""Opening files: markers, versions, invariants checked at read, lazy contents across processes."""

from __future__ import annotations

import multiprocessing as mp
import pickle

import h5py
import numpy as np
import pytest
from hostile.cases_types import _unavailable_filter

import strfh5
from strfh5 import layout as L
from strfh5.errors import CorruptDataError, FileFormatError, MissingObjectError, NotStrfH5FileError, \
    UnsupportedVersionError
from strfh5.h5io import FileHandle, check_stimulus, read_stimulus
from strfh5.h5io.checks import missing_filter


@pytest.fixture
def small_file(tmp_path):
    stims = [np.ones((1, 2, 4), np.float32), np.ones((1, 2, 3), np.float32)]
    resp = [[np.array([[1, 2, 3, 4]]), None], [np.zeros((2, 3), int), np.ones((1, 3), int)]]
    return strfh5.save(strfh5.contents_from_lists(stims, resp, dt_ms=10), tmp_path / "s.strf.h5")


def test_not_hdf5_and_unmarked_hdf5_are_refused(tmp_path):
    p = tmp_path / "x.strf.h5"
    p.write_text("not hdf5")
    with pytest.raises(NotStrfH5FileError, match="not an HDF5 file"):
        strfh5.FileContents(p)
    with h5py.File(tmp_path / "y.h5", "w") as f:
        f["a"] = 1
    with pytest.raises(NotStrfH5FileError, match="strfh5_format"):
        strfh5.FileContents(tmp_path / "y.h5")
    with pytest.raises(FileNotFoundError):
        strfh5.FileContents(tmp_path / "absent.strf.h5")
    with pytest.raises(NotStrfH5FileError, match="directory"):
        strfh5.FileContents(tmp_path)


def test_newer_major_is_refused_newer_minor_is_read_with_a_warning(small_file):
    with h5py.File(small_file, "r+") as f:
        f.attrs["strfh5_version"] = "1.7"
        f["future_object"] = np.arange(3)
    with pytest.warns(UserWarning, match=f"newer than {L.FORMAT_VERSION_STR}"):
        fc = strfh5.FileContents(small_file)
    assert fc.repeats.tolist() == [[1, 0], [2, 1]]
    fc.close()
    with h5py.File(small_file, "r+") as f:
        f.attrs["strfh5_version"] = "2.0"
    with pytest.raises(UnsupportedVersionError, match=r"format 2\.0.*reads format 1\.x"):
        strfh5.FileContents(small_file)


def test_missing_required_object_is_named(small_file):
    with h5py.File(small_file, "r+") as f:
        del f["stimuli/n_bins"]
    with pytest.raises(MissingObjectError, match="/stimuli/n_bins"):
        strfh5.FileContents(small_file)


def test_repeats_beyond_the_documented_bound_are_refused_at_open(small_file):
    with h5py.File(small_file, "r+") as f:
        rep = f["repeats"][()].astype("<u8")
        rep[0, 1] = 2**41  # fits int64, beyond any recording: the table read is refused, not allocated
        del f["repeats"]
        f.create_dataset("repeats", data=rep)
    with pytest.raises(CorruptDataError, match=r"/repeats holds 2199023255552, outside \[0, 1099511627776\]"):
        strfh5.FileContents(small_file)


def test_length_invariant_is_checked_when_reading_a_row(small_file):
    with h5py.File(small_file, "r+") as f:
        row = np.empty((1, 2), dtype=object)
        row[0, 0] = np.arange(5, dtype="u1")  # 5 values, repeats x n_bins = 2 x 3
        row[0, 1] = np.ones(3, dtype="u1")
        f["responses"][1:2, :] = row
    fc = strfh5.FileContents(small_file)
    with pytest.raises(CorruptDataError, match=r"/responses\[1, 0\] holds 5 values, expected .*2 x 3"):
        fc.row(1)


def _row_sum(fc):
    return int(sum(el.sum() for el in fc.row(1) if el is not None))


def test_file_contents_pickle_and_reopen_in_another_process(small_file):
    fc = strfh5.FileContents(small_file)
    fc.row(0)  # open the handle in this process
    clone = pickle.loads(pickle.dumps(fc))
    assert clone.handle._h5 is None
    with mp.get_context("fork").Pool(1) as pool:
        assert pool.apply(_row_sum, (fc,)) == 3
    assert _row_sum(clone) == 3
    fc.close()
    assert _row_sum(fc) == 3  # reopens after close


def test_reopening_for_writing_while_open_names_the_cause(small_file):
    from strfh5.errors import FileFormatError
    from strfh5.h5io import open_file

    fc = strfh5.FileContents(small_file)
    with pytest.raises(FileFormatError, match="already has it open.*close it first"):
        open_file(small_file, mode="r+")
    fc.close()
    open_file(small_file, mode="r+").close()


def test_events_counts_must_sum_to_the_spike_times(tmp_path):
    stims = [np.ones((1, 2, 4), np.float32)]
    p = strfh5.save(strfh5.contents_from_lists(stims, spike_times=[[None, [np.array([1.0, 2.0])]]], dt_ms=10),
                    tmp_path / "e.strf.h5")
    with h5py.File(p, "r+") as f:
        row = np.empty((1, 2), dtype=object)
        row[0, 0] = np.empty(0, dtype=f["counts"].dtype.metadata["vlen"])
        row[0, 1] = np.array([3], dtype=f["counts"].dtype.metadata["vlen"])  # 3 counted, 2 stored
        f["counts"][0:1, :] = row
    fc = strfh5.FileContents(p)
    with pytest.raises(CorruptDataError, match=r"/responses\[0, 1\] holds 2 spike times and /counts\[0, 1\] 1 counts"):
        fc.row(0)
    assert fc.row(0, [0]) == [None]  # the other pair is still readable


def test_check_stimulus_checks_without_reading_and_names_a_missing_filter(tmp_path):
    """check_stimulus (what read_stimulus runs first, and info / concat on every stimulus): filters this HDF5
    lacks are refused from the creation properties, naming the dataset and the filter; available ones pass."""
    p = _unavailable_filter(str(tmp_path / "f")).path
    h = FileHandle(p)
    try:
        with pytest.raises(FileFormatError, match=r"'/stimuli/000000/data' needs HDF5 filter 200"):
            check_stimulus(h, 0, 10)
        with pytest.raises(FileFormatError, match="filter 200"):
            read_stimulus(h, 0, 10)
        dsid = check_stimulus(h, 1)  # an unfiltered stimulus: the open dataset, nothing read
        assert dsid.shape[-1] == 8 and missing_filter(h.file["stimuli/000001/data"]) is None
    finally:
        h.close()
    with h5py.File(tmp_path / "lzf.h5", "w") as f:  # h5py's own lzf and HDF5's gzip are available
        for comp in ("lzf", "gzip"):
            assert missing_filter(f.create_dataset(comp, data=np.ones((4, 4)), compression=comp)) is None


def test_a_dataset_where_a_stimulus_group_belongs_is_named(tmp_path):
    """'/stimuli/000001' a scalar dataset (a fuzz mutation that made info raise a raw TypeError)."""
    from hostile.craft import base, edit

    p = base(str(tmp_path / "d"))

    def fn(f):
        del f["stimuli/000001"]
        f["stimuli/000001"] = np.float32(1.0)
    edit(p, fn)
    for read in (strfh5.info, strfh5.load, lambda q: strfh5.load(q, lazy=True)[1]):
        with pytest.raises(FileFormatError, match="'/stimuli/000001' is not a group"):
            read(p)
