"""The fast save paths write the very bytes of the general (per-element) path.

Every file here is written with a fixed ``@uuid`` and ``@created_at`` so that
two writes of the same contents can be compared byte for byte: the general
path (``write_contents(..., rows=contents.row)``: element lists through
``StreamWriter.write_row``) against ``strfh5.save`` of eager and lazy
datasets, whole raw rows (``RawRow``) and concatenated sources.
"""

from __future__ import annotations

import datetime
import types
import uuid

import h5py
import numpy as np
import pytest
import torch

import strfh5
from strfh5 import layout as L
from strfh5 import rows as _rows
from strfh5 import vlen_sink
from strfh5 import writer as _writer
from strfh5.errors import InvalidDataError
from strfh5.records import RawRow
from strfh5.saving import write_contents

pytestmark = pytest.mark.filterwarnings("ignore::strfh5.errors.ResponseIndexWarning")


@pytest.fixture
def fixed_identity(monkeypatch):
    """``@uuid`` and ``@created_at`` fixed, so two writes of equal contents are equal bytes."""

    class _Then(datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.datetime(2000, 1, 1, tzinfo=tz)

    monkeypatch.setattr(_writer, "_dt", types.SimpleNamespace(datetime=_Then, timezone=datetime.timezone))
    monkeypatch.setattr(_writer, "_uuid", types.SimpleNamespace(uuid4=lambda: uuid.UUID(int=(4 << 76) | (1 << 63))))


def _bytes(path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def _lists(encoding: str, big: bool, seed: int, time_dtype=np.float64):
    """Stimuli and a response table with missing pairs, empty repeats and (``big``) counts past 255."""
    rng = np.random.default_rng(seed)
    stims = [rng.random((1, 3, T)).astype(np.float32) for T in (7, 9, 6, 8, 5)]
    table = []
    for s, st in enumerate(stims):
        T = st.shape[-1]
        row = []
        for n in range(6):
            if (s + n) % 4 == 0:
                row.append(None)
                continue
            R = 1 + (s * n) % 3
            if encoding == "binned":
                row.append(rng.integers(0, 300 if big else 5, (R, T)))
            else:
                k = [int(rng.integers(0, 300 if big else 6)) if r != 1 else 0 for r in range(R)]
                row.append([np.sort(rng.uniform(-50.0, T * 5.0 + 50.0, c)).astype(time_dtype) for c in k])
        table.append(row)
    return stims, table


def _source(tmp_path, name, encoding, big, seed, time_dtype=np.float64):
    stims, table = _lists(encoding, big, seed, time_dtype)
    key = "responses" if encoding == "binned" else "spike_times"
    ids = dict(stim_ids=[f"{name}.s{i}" for i in range(len(stims))], neuron_ids=[f"{name}.n{i}" for i in range(6)],
               nrn_meta=[{"area": "A1" if n % 3 else "PEG"} for n in range(6)])
    ds = strfh5.from_lists(stims, **{key: table}, dt_ms=5.0, **ids)
    return strfh5.save(ds, tmp_path / f"{name}.strf.h5")


def _general(contents, path):
    """The reference: every row as a list of elements, checked and written one element at a time."""
    return write_contents(contents, path, rows=contents.row)


@pytest.mark.parametrize("encoding, big, time_dtype", [
    ("binned", False, np.float64), ("binned", True, np.float64),
    ("events", False, np.float64), ("events", True, np.float64), ("events", False, np.float32),
])
@pytest.mark.parametrize("parallel_from", [None, 0])
def test_every_save_path_writes_the_bytes_of_the_general_path(tmp_path, fixed_identity, monkeypatch, encoding, big,
                                                               time_dtype, parallel_from):
    if parallel_from is not None:  # every row hashed in the digest thread while HDF5 writes it
        monkeypatch.setattr(vlen_sink, "_PARALLEL_FROM", parallel_from)
    src = _source(tmp_path, "a", encoding, big, seed=3, time_dtype=time_dtype)
    with strfh5.FileContents(src) as c:
        assert c.stored_dtype() == (np.dtype("<u2") if big and encoding == "binned" else
                                    np.dtype(time_dtype) if encoding == "events" else np.dtype("u1"))
        assert c.count_dtype() == np.dtype("<u2" if big else "u1")  # uint8 and uint16 counts both covered
        ref = _bytes(_general(c, tmp_path / "ref.strf.h5"))
        assert _bytes(write_contents(c, tmp_path / "raw.strf.h5")) == ref  # whole RawRows from the file
    for lazy in (False, True):
        ds = strfh5.load(src, lazy=lazy)
        try:
            out = strfh5.save(ds, tmp_path / f"save-{lazy}.strf.h5")
        finally:
            ds.close()
        assert _bytes(out) == ref, f"lazy={lazy}"
    assert strfh5.validate(out, checksums=True).ok


@pytest.mark.parametrize("encoding", ["binned", "events"])
def test_saves_of_a_concatenated_file_write_the_bytes_of_the_general_path(tmp_path, fixed_identity, encoding):
    a = _source(tmp_path, "a", encoding, False, seed=4)
    b = _source(tmp_path, "b", encoding, True, seed=5)
    cat = strfh5.concat([a, b], tmp_path / "ab.strf.h5")
    ds = strfh5.load(cat)
    try:
        ref = _bytes(_general(ds.contents, tmp_path / "ref.strf.h5"))
        for lazy in (False, True):
            d = ds if not lazy else strfh5.load(cat, lazy=True)
            out = strfh5.save(d, tmp_path / f"save-{lazy}.strf.h5")
            assert _bytes(out) == ref, f"lazy={lazy}"
            if lazy:
                d.close()
    finally:
        ds.close()
    assert strfh5.validate(out, checksums=True).ok


@pytest.mark.parametrize("encoding", ["binned", "events"])
def test_save_of_datasets_concatenated_in_memory_writes_the_bytes_of_the_general_path(tmp_path, fixed_identity,
                                                                                       encoding):
    a = _source(tmp_path, "a", encoding, False, seed=6)
    b = _source(tmp_path, "b", encoding, True, seed=7)
    da, db = strfh5.load(a), strfh5.load(b)
    try:
        both = strfh5.concat_neural_datasets([da, db])
        ref = _bytes(_general(both.contents, tmp_path / "ref.strf.h5"))
        assert _bytes(strfh5.save(both, tmp_path / "out.strf.h5")) == ref
    finally:
        da.close()
        db.close()


@pytest.mark.parametrize("encoding", ["binned", "events"])
def test_rows_verified_by_the_read_are_hashed_once(tmp_path, fixed_identity, monkeypatch, encoding):
    """A save whose rows the index read verifies just now reuses those digests (the same file, no second hash)."""
    src = _source(tmp_path, "a", encoding, True, seed=8)
    with strfh5.FileContents(src) as c:
        ref = _bytes(_general(c, tmp_path / "ref.strf.h5"))
    hashed = []
    real = vlen_sink.flat_digest
    monkeypatch.setattr(vlen_sink, "flat_digest", lambda v, n: hashed.append(1) or real(v, n))
    with strfh5.FileContents(src) as c:
        rows = [c.raw_row(s) for s in range(c.S)]
        assert all(r.digests for r in rows)  # first reads in this process: verified now
        assert all(c.raw_row(s).digests is None for s in range(c.S))  # later reads: trusted, nothing computed
        out = write_contents(c, tmp_path / "out.strf.h5", rows=rows.__getitem__)
    assert not hashed and _bytes(out) == ref


def test_digests_of_other_lengths_or_types_are_not_used(tmp_path, fixed_identity):
    src = _source(tmp_path, "a", "events", False, seed=9)
    with strfh5.FileContents(src) as c:
        ref = _bytes(_general(c, tmp_path / "ref.strf.h5"))
        rows = [c.raw_row(s) for s in range(c.S)]
    for r in rows:  # digests of nothing, claimed for other lengths or another type: all must be ignored
        bogus = bytes(32)
        r.digests = {L.RESPONSES: (np.dtype("<f4"), np.zeros(r.reps.size, np.int64), bogus),
                     L.COUNTS: (np.dtype("u1"), np.zeros(r.reps.size, np.int64) + 1, bogus)}
    with strfh5.FileContents(src) as c:
        out = write_contents(c, tmp_path / "out.strf.h5", rows=rows.__getitem__)
    assert _bytes(out) == ref


def test_write_flat_refuses_lengths_that_do_not_cover_the_values(tmp_path):
    """The hvl_t descriptors point into the values: lengths must split them exactly, or nothing is written."""
    with h5py.File(tmp_path / "x.h5", "w") as f:
        sink = vlen_sink.VlenSink(f, "r", 3, np.dtype("u1"), "")
        sink.resize(1)
        for lengths in ([2, 2, 2], [2, 3], [6, -1, 0], [1, 1, 1, 2]):
            with pytest.raises(InvalidDataError):
                sink.write_flat(0, np.arange(5), lengths, "/r")
        sink.write_flat(0, np.arange(5), [2, 0, 3], "/r")
        assert [x.tolist() for x in f["r"][0]] == [[0, 1], [], [2, 3, 4]]
        sink.discard()


def test_a_row_buffer_reused_by_the_caller_keeps_its_digest(tmp_path, monkeypatch):
    """Rows hashed in the digest thread are hashed from a copy: the caller may refill its buffer at once."""
    monkeypatch.setattr(vlen_sink, "_PARALLEL_FROM", 0)
    buf = np.zeros(12, dtype=np.uint8)
    p = tmp_path / "w.strf.h5"
    with strfh5.StreamWriter(p, encoding="binned", dt_ms=5.0, stim_kind="spectrogram", stim_dims=(1, 2),
                             n_neurons=2, count_dtype="u1") as w:
        for s in range(3):
            w.add_stimulus(np.zeros((1, 2, 3), np.float32))
            buf[:] = np.arange(12) + 10 * s  # the same buffer, refilled for every row
            w.write_row(s, RawRow(np.array([2, 2]), buf))
    assert strfh5.validate(p, checksums=True).ok
    with strfh5.FileContents(p) as c:
        assert [c.raw_row(s).values.tolist() for s in range(3)] == [list(range(10 * s, 10 * s + 12)) for s in range(3)]


@pytest.mark.parametrize("encoding", ["binned", "events"])
def test_saves_of_a_subset_write_the_bytes_of_the_general_path(tmp_path, fixed_identity, encoding):
    src = _source(tmp_path, "a", encoding, True, seed=10)
    outs = []
    for lazy in (False, True):
        ds = strfh5.load(src, lazy=lazy, areas="A1")
        try:
            assert ds.get_N() == 4
            ref = _bytes(_general(ds.contents, tmp_path / f"ref-{lazy}.strf.h5"))
            outs.append(strfh5.save(ds, tmp_path / f"save-{lazy}.strf.h5"))
            assert _bytes(outs[-1]) == ref, f"lazy={lazy}"
        finally:
            ds.close()
    assert strfh5.validate(outs[-1], checksums=True).ok


def test_save_of_compact_uint8_eager_rows_does_not_widen_them(tmp_path, fixed_identity, monkeypatch):
    """Eager rows held as their stored uint8 counts (``ResponseRow.compact``) are saved as held: the same bytes,
    and saving does not turn them into float32 (``block``/``data`` are not used)."""
    src = _source(tmp_path, "a", "binned", False, seed=11)
    with strfh5.FileContents(src) as c:
        ref = _bytes(_general(c, tmp_path / "ref.strf.h5"))
    ds = strfh5.load(src)
    held = [(r.block()[0].to(torch.uint8), r.reps) for r in ds._rows.responses]
    compact = {id(r): h for r, h in zip(ds._rows.responses, held)}
    monkeypatch.setattr(_rows.ResponseRow, "compact", lambda self: compact[id(self)], raising=False)

    def widened(self):
        raise AssertionError("save converted a compact row")

    monkeypatch.setattr(_rows.ResponseRow, "block", widened)
    assert _bytes(strfh5.save(ds, tmp_path / "out.strf.h5")) == ref
    ds.close()
