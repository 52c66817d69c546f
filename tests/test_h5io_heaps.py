"""strfh5.h5io.heaps: the heap objects of what is read are checked before HDF5 follows their descriptors."""

from __future__ import annotations

import io
import struct

import h5py
import numpy as np
import pytest

import strfh5
from strfh5 import layout as L
from strfh5.errors import CorruptDataError
from strfh5.h5io import heaps
from strfh5.h5io.descriptors import file_sizes, read_descriptors

STR = h5py.string_dtype("utf-8")


def _zero_collection(path: str, which: int = 0) -> None:
    data = open(path, "rb").read()
    at = -1
    for _ in range(which + 1):
        at = data.find(b"GCOL", at + 1)
    assert at >= 0
    size = struct.unpack_from("<Q", data, at + 8)[0]
    with open(path, "r+b") as fh:
        fh.seek(at + 16)
        fh.write(b"\0" * (size - 16))


def _plain(path: str, libver: str, n_attrs: int) -> None:
    with h5py.File(path, "w", libver=libver) as f:
        for i in range(n_attrs):
            f.attrs[f"a{i}"] = f"value {i}"
        f.attrs["number"] = 3.5
        f.create_dataset("ids", data=np.array(["x", "yy", "zzz"], dtype=object), dtype=STR)
        f.create_dataset("ragged", shape=(4, 3), dtype=h5py.vlen_dtype(np.float32), chunks=(2, 3))
        for s in range(4):
            for n in range(3):
                f["ragged"][s, n] = np.arange(s + n, dtype=np.float32)


@pytest.fixture(autouse=True)
def _fresh_guards():
    heaps._GUARDS.clear()
    yield
    heaps._GUARDS.clear()


@pytest.mark.parametrize("libver, n_attrs", [("earliest", 3), ("latest", 3), ("latest", 20)])
def test_sound_files_pass_and_zeroed_heaps_are_refused(tmp_path, libver, n_attrs):
    p = str(tmp_path / "x.h5")
    _plain(p, libver, n_attrs)
    with h5py.File(p, "r") as f:
        heaps.check_attributes(f, p)
        heaps.check_values(f["ids"], p)
        heaps.check_values(f["ragged"], p, (1, 2))
        assert f.attrs["a0"] == "value 0"
    _zero_collection(p)
    heaps._GUARDS.clear()
    with h5py.File(p, "r") as f, pytest.raises(CorruptDataError, match="zeroed or overwritten heap"):
        heaps.check_attributes(f, p)  # 20 attributes: dense storage, checked by the whole-file scan


def test_attribute_parser_finds_every_vlen_attribute(tmp_path):
    for libver in ("earliest", "latest"):
        p = str(tmp_path / f"{libver}.h5")
        _plain(p, libver, 4)
        with h5py.File(p, "r") as f:
            sa, ss, base = file_sizes(f)
            addr = h5py.h5o.get_info(f.id).addr
        with open(p, "rb") as fh:
            def read(off, n):
                fh.seek(off)
                return fh.read(n)
            found = heaps._attribute_descriptors(read, base + addr, sa, ss)
        assert sorted(name for name, _i, _d in found) == ["a0", "a1", "a2", "a3"], libver
        assert all(int(d["len"][0]) == len("value 0") for _n, _i, d in found)


def test_row_descriptors_match_the_whole_dataset(tmp_path):
    p = str(tmp_path / "x.h5")
    _plain(p, "earliest", 1)
    with h5py.File(p, "r") as f, open(p, "rb") as fh:
        ds = f["ragged"]
        whole = read_descriptors(ds, fh.fileno(), 8, 0)
        for lo, hi in ((0, 1), (1, 3), (3, 4), (0, 4)):
            assert np.array_equal(read_descriptors(ds, fh.fileno(), 8, 0, (lo, hi)), whole[lo:hi])
        assert read_descriptors(f["ids"], fh.fileno(), 8, 0).shape == (3,)


def _binned(path):
    ds = strfh5.from_lists(stims=[np.ones((1, 2, 4), np.float32)] * 3,
                           responses=[[np.ones((2, 4), np.float32), np.ones((1, 4), np.float32)]] * 3, dt_ms=5.0)
    strfh5.save(ds, path)
    with h5py.File(path, "r+") as f:
        del f[L.RESPONSE_INDEX]  # rows read through HDF5


def test_forged_length_is_refused_naming_the_element(tmp_path):
    p = str(tmp_path / "b.strf.h5")
    _binned(p)
    with h5py.File(p, "r") as f:
        ds = f[L.RESPONSES]
        if ds.chunks:
            at = ds.id.get_chunk_info_by_coord((2 - 2 % ds.chunks[0], 0)).byte_offset
            at += (2 % ds.chunks[0]) * ds.chunks[1] * 16 + 16  # element (2, 1)
        else:
            at = ds.id.get_offset() + (2 * ds.shape[1] + 1) * 16
    with open(p, "r+b") as fh:
        fh.seek(at)
        fh.write(struct.pack("<I", 5))  # 5 values: the heap object holds 4
    lazy = strfh5.load(p, lazy=True)
    lazy[0]
    with pytest.raises(CorruptDataError, match=r"/responses\[2, 1\] declares 5 values"):
        lazy.row_tensors(2)
    lazy.close()


def test_checks_are_made_once_per_process_and_file(tmp_path, monkeypatch):
    p = str(tmp_path / "b.strf.h5")
    _binned(p)
    calls = []
    real = heaps.collection_objects
    monkeypatch.setattr(heaps, "collection_objects", lambda *a: calls.append(a[1]) or real(*a))
    for _ in range(3):
        ds = strfh5.load(p, lazy=True)
        for i in range(len(ds)):
            ds[i]
        ds.close()
    assert len(calls) == len(set(calls)) > 0


def test_file_objects_are_not_checked():
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f.attrs["a"] = "x"
    with h5py.File(buf, "r") as f:
        heaps.check_attributes(f, "<memory>")  # no local path: nothing to read, nothing raised


def _long_rows(path):
    rng = np.random.default_rng(0)
    spikes = [[[np.sort(rng.uniform(0, 90, 600)) for _ in range(2)] for _ in range(3)] for _ in range(2)]
    ds = strfh5.from_lists(stims=[np.ones((1, 2, 20), np.float32)] * 2, spike_times=spikes, dt_ms=5.0)
    strfh5.save(ds, path)


def test_a_zeroed_heap_in_a_source_is_refused(tmp_path):
    a, b = str(tmp_path / "a.strf.h5"), str(tmp_path / "b.strf.h5")
    _long_rows(a)
    _long_rows(b)
    cat = str(tmp_path / "cat.strf.h5")
    strfh5.concat([a, b], cat, allow_duplicate_neurons=True)
    data = open(a, "rb").read()
    assert data.count(b"GCOL") > 1
    _zero_collection(a, 0)  # a's row data: the concatenated file opens; reading those rows is refused
    code = ("import strfh5, sys\ntry:\n    ds = strfh5.load(sys.argv[1], lazy=True)\n"
            "    [ds[i] for i in range(len(ds))]\nexcept strfh5.errors.CorruptDataError as e:\n"
            "    print('refused', e)\n")
    import subprocess
    import sys
    res = subprocess.run([sys.executable, "-c", code, cat], capture_output=True, text=True, timeout=60)
    assert res.stdout.startswith("refused") and "zeroed or overwritten heap" in res.stdout, res.stdout + res.stderr
    assert "a.strf.h5: /responses" in res.stdout or "a.strf.h5: /counts" in res.stdout, res.stdout
