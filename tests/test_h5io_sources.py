"""The source and link policy of SPEC §9.3–§9.4 (strfh5.h5io.sources), on crafted concatenated files."""


from __future__ import annotations

import os
import shutil

import h5py
import numpy as np
import pytest

import strfh5
from strfh5 import layout as L
from strfh5.contents import FileContents
from strfh5.errors import (
    SourceFileError,
    UnsafeSourcePathError,
)
from strfh5.concatenation import concat
from strfh5.h5io import source_findings

from concat_cases import make_contents, three_files


@pytest.fixture
def three(tmp_path):
    return three_files(tmp_path)


# ------------------------------------------------------------------ source checks
def test_missing_source_is_named(tmp_path, three):
    paths, _ = three
    out = concat(paths[:2], tmp_path / "ab.strf.h5")
    os.rename(paths[1], paths[1] + ".moved")
    with pytest.raises(SourceFileError, match="source 1 'b.strf.h5'.*missing"):
        strfh5.load(out)
    with h5py.File(out) as f:
        codes = [x[0] for x in source_findings(f, out)]
    assert codes == ["E902"]


def test_replaced_source_is_named(tmp_path, three):
    paths, cs = three
    out = concat(paths[:2], tmp_path / "ab.strf.h5")
    strfh5.save(cs[1], paths[1], overwrite=True)  # same content, new uuid
    with pytest.raises(SourceFileError, match="'b.strf.h5'.*uuid.*replaced"):
        strfh5.load(out, lazy=True)


def test_fifo_and_directory_sources_do_not_hang(tmp_path, three):
    paths, _ = three
    out = concat(paths[:2], tmp_path / "ab.strf.h5")
    os.remove(paths[1])
    os.mkfifo(paths[1])
    with pytest.raises(SourceFileError, match="FIFO"):
        strfh5.load(out)
    os.remove(paths[1])
    os.mkdir(paths[1])
    with pytest.raises(SourceFileError, match="directory"):
        strfh5.load(out)


def test_source_with_other_shape_is_refused(tmp_path, three):
    paths, cs = three
    out = concat(paths[:2], tmp_path / "ab.strf.h5")
    uid = FileContents(paths[1]).info.uuid
    strfh5.save(make_contents("b", 3, 3, seed=9), paths[1], overwrite=True)
    with h5py.File(paths[1], "a") as f:  # forge the recorded uuid
        f.attrs[L.ATTR_UUID] = uid
    with pytest.raises(SourceFileError, match="shape"):
        strfh5.load(out)


def _copy_concat(tmp_path, three, name="crafted.strf.h5"):
    paths, _ = three
    out = concat(paths[:2], tmp_path / "ab.strf.h5", overwrite=True)
    crafted = str(tmp_path / name)
    shutil.copy(out, crafted)
    return paths, crafted


def test_virtual_source_pointing_outside_is_refused(tmp_path, three):
    inner = tmp_path / "shared"
    inner.mkdir()
    paths = []
    for p in three[0][:2]:
        paths.append(shutil.copy(p, inner))
    out = concat(paths, inner / "ab.strf.h5")
    # the attacker's file: /responses maps a file outside the folder, the recorded paths are innocent
    outside = shutil.copy(three[0][1], tmp_path / "secret.strf.h5")
    with h5py.File(out, "a") as f:
        S, N = f[L.REPEATS].shape
        vdt = f[L.RESPONSES].dtype
        del f[L.RESPONSES]
        lay = h5py.VirtualLayout((S, N), dtype=vdt)
        lay[3:5, 4:7] = h5py.VirtualSource("../secret.strf.h5", L.RESPONSES, shape=(2, 3), dtype=vdt)
        f.create_virtual_dataset(L.RESPONSES, lay)
    with pytest.raises(UnsafeSourcePathError, match="'../secret.strf.h5'"):
        strfh5.load(out)
    with h5py.File(out) as f:
        assert "E907" in [x[0] for x in source_findings(f, out)]
    # recorded paths leaving the folder are refused too, and accepted on explicit opt-in
    with h5py.File(out, "a") as f:
        del f[L.RESPONSES]
        lay = h5py.VirtualLayout((S, N), dtype=vdt)
        lay[0:3, 0:4] = h5py.VirtualSource("a.strf.h5", L.RESPONSES, shape=(3, 4), dtype=vdt)
        lay[3:5, 4:7] = h5py.VirtualSource("../secret.strf.h5", L.RESPONSES, shape=(2, 3), dtype=vdt)
        f.create_virtual_dataset(L.RESPONSES, lay)
        paths_ds = f[L.SOURCE_PATHS]
        paths_ds[1] = "../secret.strf.h5"
        f[L.SOURCES].move("uuids", "uuids_old")
        uu = [x.decode() for x in f["sources/uuids_old"][()]]
        uu[1] = FileContents(outside).info.uuid
        f[L.SOURCES].create_dataset("uuids", data=np.array(uu, dtype=object), dtype=h5py.string_dtype())
        del f["sources/uuids_old"]
        for s in (3, 4):
            del f[L.stim_group_path(s)]
            f[L.stim_group_path(s)] = h5py.ExternalLink("../secret.strf.h5", "/" + L.stim_group_path(s - 3))
        # keep counts/repeats mapping consistent with the recorded paths
        for name in (L.REPEATS, L.COUNTS):
            dt = f[name].dtype
            fill = {"fillvalue": 0} if name == L.REPEATS else {}
            del f[name]
            lay = h5py.VirtualLayout((S, N), dtype=dt)
            lay[0:3, 0:4] = h5py.VirtualSource("a.strf.h5", name, shape=(3, 4), dtype=dt)
            lay[3:5, 4:7] = h5py.VirtualSource("../secret.strf.h5", name, shape=(2, 3), dtype=dt)
            f.create_virtual_dataset(name, lay, **fill)
    with pytest.raises(UnsafeSourcePathError, match="leaves the folder"):
        strfh5.load(out)
    ds = strfh5.load(out, allow_external=True)
    assert ds.nrn_masks.sum() > 0


def test_absolute_source_path_and_external_link_refused(tmp_path, three):
    paths, crafted = _copy_concat(tmp_path, three)
    with h5py.File(crafted, "a") as f:
        f[L.SOURCE_PATHS][0] = paths[0]  # absolute
    with pytest.raises(UnsafeSourcePathError, match="absolute"):
        strfh5.load(crafted)
    paths, crafted = _copy_concat(tmp_path, three, "crafted2.strf.h5")
    with h5py.File(crafted, "a") as f:
        del f[L.stim_group_path(0)]
        f[L.stim_group_path(0)] = h5py.ExternalLink("../elsewhere.strf.h5", "/stimuli/000000")
    with pytest.raises(UnsafeSourcePathError, match="external link"):
        strfh5.load(crafted)


def test_plain_file_with_virtual_dataset_refused(tmp_path, three):
    paths, _ = three
    plain = shutil.copy(paths[0], tmp_path / "plain.strf.h5")
    with h5py.File(plain, "a") as f:
        vdt = f[L.RESPONSES].dtype
        shape = f[L.RESPONSES].shape
        del f[L.RESPONSES]
        lay = h5py.VirtualLayout(shape, dtype=vdt)
        lay[:, :] = h5py.VirtualSource("a.strf.h5", L.RESPONSES, shape=shape, dtype=vdt)
        f.create_virtual_dataset(L.RESPONSES, lay)
    with pytest.raises(SourceFileError, match="not marked concatenated"):
        strfh5.load(plain)
    with h5py.File(plain) as f:
        assert [x[0] for x in source_findings(f, plain)] == ["E911"]


def test_hdf5_prefix_environment_refused(tmp_path, three, monkeypatch):
    paths, _ = three
    out = concat(paths[:2], tmp_path / "ab.strf.h5")
    monkeypatch.setenv("HDF5_VDS_PREFIX", "/somewhere")
    with pytest.raises(UnsafeSourcePathError, match="HDF5_VDS_PREFIX"):
        strfh5.load(out)

