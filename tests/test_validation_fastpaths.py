"""The fast paths of ``validate`` give exactly what the slow paths give.

* the compiled schema check (:func:`strfh5.schema._accepts`) only ever accepts
  records jsonschema finds valid, and ``iter_errors`` words failures as before;
* stimuli, links and stimulus groups checked by low-level calls record the same
  findings (codes, paths, messages) as the h5py objects, on every conformance
  case, with and without checksums;
* the heap scan's word-gather walk (with its runs of equal-size objects) gives
  the one-by-one walk's verdict on every collection, sound or broken;
* payloads are located by bounded reads that refuse what lies past the end of
  the file (no memory map: a truncated file cannot kill the process).
"""

from __future__ import annotations

import copy
import os
import random
import struct
from pathlib import Path

import numpy as np
import pytest

import strfh5
from strfh5 import heapcheck, index_writer, schema
from strfh5.errors import CorruptDataError
from strfh5.h5io.descriptors import locate_in_objects
from strfh5.h5io.index import locate_payloads
from strfh5.validation import concatenated, responses, stimuli, structure

ROOT = Path(__file__).resolve().parent / "conformance" / "cases"
FILES = sorted(str(p) for p in ROOT.rglob("*.h5"))


# ------------------------------------------------------------------ schemas
def _values_for(doc) -> tuple[list, list]:
    """Property names and candidate values (enum members, pattern-like strings, every JSON type) of a schema."""
    names, vals = set(), [None, True, False, 0, 1, -1, 2.5, -0.5, 1.0, "", "x", "STIM_a", [], ["a"], ["a", "a"],
                          [1, 2.5], {}, {"a": 1}]

    def walk(x):
        if isinstance(x, dict):
            names.update(x.get("properties", {}))
            for key in ("enum",):
                if isinstance(x.get(key), list):
                    vals.extend(x[key])
            if "const" in x:
                vals.append(x["const"])
            if "$ref" in x and x["$ref"] in schema.schema_ids():
                walk(schema.get_schema(x["$ref"]))
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
    walk(doc)
    return sorted(names) + ["unlisted"], vals


@pytest.mark.parametrize("sid", schema.schema_ids())
def test_compiled_schema_check_never_accepts_an_invalid_record(sid):
    rng = random.Random(sid)
    names, vals = _values_for(schema.get_schema(sid))
    validator = schema._validator(sid)
    accepted = 0
    for _ in range(1500):
        rec = {k: rng.choice(vals) for k in rng.sample(names, rng.randint(0, len(names)))}
        fast = schema._accepts(sid)(rec)
        assert not (fast and not validator.is_valid(rec)), rec
        accepted += fast
        if rng.random() < 0.3:  # and a nested mutation of a record
            bad = copy.deepcopy(rec)
            bad["unlisted"] = {"x": rng.choice(vals)}
            assert not (schema._accepts(sid)(bad) and not validator.is_valid(bad))
    # the errors are jsonschema's own, whatever the fast path said
    rec = {k: rng.choice(vals) for k in names}
    want = sorted(validator.iter_errors(rec), key=lambda e: list(e.absolute_path))
    assert schema.iter_errors(rec, sid) == [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
                                            for e in want]


def test_compiled_schema_check_accepts_plain_valid_records_and_leaves_the_rest_to_jsonschema():
    core = schema.CORE["stimulus"]
    assert schema._accepts(core)({"name": "a", "sample_rate": 16000, "duration_s": 1.5})
    assert not schema._accepts(core)({"name": "a", "sample_rate": 0})  # invalid: jsonschema words it
    assert schema.iter_errors({"name": "a", "sample_rate": 0}, core)
    assert not schema._accepts(core)({"n_samples": np.int64(3)})  # not parsed JSON: jsonschema decides
    assert not schema._accepts(core)({"n_samples": 3.0})  # a float integer: jsonschema decides (it accepts it)
    assert schema.iter_errors({"n_samples": 3.0}, core) == []


# ------------------------------------------------------------------ low-level checks vs h5py objects
def _findings(path: str, checksums: bool) -> list:
    r = strfh5.validate(path, checksums=checksums)
    return [(f.code, f.severity, f.check, f.path, f.message, f.file) for f in r.findings] + [r.exit_code]


def test_low_level_checks_record_what_the_h5py_objects_record(monkeypatch):
    assert FILES
    fast = {(p, cs): _findings(p, cs) for p in FILES for cs in (False, True)}
    monkeypatch.setattr(stimuli, "_open_plain", lambda *a: None)
    monkeypatch.setattr(concatenated, "_plain_object", lambda *a: False)
    monkeypatch.setattr(structure, "_plain_stimulus_group", lambda *a: False)
    monkeypatch.setattr(schema, "_accepts", lambda sid: (lambda rec: False))
    monkeypatch.setattr(responses, "_from_scan", lambda *a: None)
    for (p, cs), want in fast.items():
        assert _findings(p, cs) == want, (p, cs)


def test_payloads_joined_from_the_heap_scan_are_where_the_other_ways_find_them(tmp_path):
    import h5py

    from strfh5 import layout as L
    written = str(tmp_path / "w.strf.h5")
    strfh5.save(strfh5.simulate_dataset(n_stimuli=6, n_neurons=9, seed=3), written)
    joined = 0
    for p in FILES + [written]:
        if strfh5.validate(p).exit_code == 2:
            continue
        with h5py.File(p, "r") as f:
            if L.RESPONSES not in f or not isinstance(f[L.RESPONSES], h5py.Dataset) or f[L.RESPONSES].is_virtual:
                continue
            names = [(L.RESPONSES, L.RESPONSES)] + ([(L.COUNTS, L.COUNTS)] if L.COUNTS in f else [])
            objects = heapcheck.HeapObjects()
            if heapcheck.check_global_heaps(p, f.id.get_create_plist().get_sizes()[1], objects=objects):
                continue
            try:
                got = locate_in_objects(f, names, p, objects.table())
            except Exception:  # noqa: BLE001 - the validator then finds them another way
                got = None
            if got is None:
                continue
            want = index_writer.locate_chained(f, names, p)
            if want is None:
                want = {n: locate_payloads(f, n, p) for n, _i in names}
            assert set(got) == set(want), p
            for name in got:
                np.testing.assert_array_equal(got[name], want[name], err_msg=p)
            joined += 1
    assert joined >= 10


# ------------------------------------------------------------------ heap scan
def _collections(rng: np.random.Generator):
    """Random bytes holding global heap collections (sound, with runs of equal sizes, or damaged)."""
    buf = bytearray(rng.integers(0, 256, int(rng.integers(0, 8)), dtype=np.uint8).tobytes())
    at, total = [], []
    for _c in range(int(rng.integers(1, 25))):
        uniform, size = rng.random() < 0.6, int(rng.integers(0, 40))
        objs = b""
        for k in range(int(rng.integers(0, 20))):
            n = size if uniform else int(rng.integers(0, 60))
            objs += struct.pack("<H6xQ", k + 1, n) + bytes((n + 7) // 8 * 8)
        t = 16 + len(objs) + int(rng.choice([0, 8, 16, 24, 40]))
        col = bytearray(b"GCOL\x01\0\0\0" + struct.pack("<Q", t) + objs)
        rest = t - len(col)
        col += struct.pack("<H6xQ", 0, rest) + bytes(rest - 16) if rest >= 16 else bytes(rest)
        if rng.random() < 0.4 and len(col) > 20:
            for _ in range(int(rng.integers(1, 4))):
                col[int(rng.integers(16, len(col)))] = int(rng.integers(0, 256))
        if rng.random() < 0.2:
            t = max(16, t + int(rng.integers(-20, 20)))
        at.append(len(buf))
        total.append(t)
        buf += col + bytes(int(rng.integers(0, 13)))
    a = np.frombuffer(bytes(buf + bytes(64)), np.uint8)
    at, total = np.array(at, np.int64), np.array(total, np.int64)
    keep = at + total <= a.size
    return a, at[keep], total[keep]


def test_lockstep_walk_gives_the_one_by_one_verdicts():
    rng = np.random.default_rng(7)
    broken = 0
    for _ in range(600):
        a, at, total = _collections(rng)
        got = heapcheck._lockstep(a, at, total, 8)
        want = [heapcheck._walk(None, 16, int(t), 8, None, bytes(a[u:u + t])) is not None for u, t in zip(at, total)]
        assert got.tolist() == want
        assert heapcheck._lockstep_bytes(a, at, total, 8).tolist() == want
        broken += sum(want)
    assert broken > 100  # the damage was seen


# ------------------------------------------------------------------ bounded reads
def test_payload_words_are_read_by_bounded_reads_and_a_short_file_is_refused(tmp_path):
    p = tmp_path / "bytes.bin"
    data = np.arange(5000, dtype="<u8").tobytes()
    p.write_bytes(data)
    fd = os.open(p, os.O_RDONLY)
    try:
        words = index_writer._Words(fd, len(data))
        at = np.array([0, 8, 3, 39984, 16 * 1001], np.int64)
        w0, w1 = words.words(at)
        ref = np.frombuffer(data, np.uint8)
        for i, o in enumerate(at.tolist()):
            assert int(w0[i]) == int.from_bytes(ref[o:o + 8].tobytes(), "little")
            assert int(w1[i]) == int.from_bytes(ref[o + 8:o + 16].tobytes(), "little")
        with pytest.raises(CorruptDataError):
            words.words(np.array([len(data) - 8]))  # its second word lies past the end
        with pytest.raises(CorruptDataError):  # the file became shorter than when it was opened
            index_writer._Words(fd, len(data) + 4096).words(np.array([len(data) + 100]))
    finally:
        os.close(fd)
    assert "mmap" not in Path(index_writer.__file__).read_text(encoding="utf-8").split('"""', 2)[2]


@pytest.mark.parametrize("block", [8, 2**20])
def test_signature_search_finds_what_a_regular_expression_finds(monkeypatch, block):
    import re

    monkeypatch.setattr(heapcheck, "_BLOCK", block)
    rng = random.Random(block)
    for _ in range(3000):
        n = rng.randint(0, 60)
        b = bytearray(rng.choice(b"GCOLx") for _ in range(n))
        stop = rng.randint(0, n + 3)
        want = [m.start() for m in re.finditer(b"GCOL", b[:stop])]
        assert heapcheck._signatures(memoryview(b), stop).tolist() == want


def _events_file(tmp_path) -> str:
    p = str(tmp_path / "events.strf.h5")
    strfh5.save(strfh5.simulate_dataset(n_stimuli=4, n_neurons=6, seed=3), p)
    return p


@pytest.mark.parametrize("damage", ["none", "nan", "inf", "flip"])
def test_events_rows_hashed_from_their_stream_give_the_findings_of_their_values(tmp_path, monkeypatch, damage):
    import h5py

    from strfh5 import layout as L

    p = _events_file(tmp_path)
    if damage != "none":
        with h5py.File(p, "r") as f:
            table = index_writer.locate_chained(f, [(L.RESPONSES, L.RESPONSES)], p)[L.RESPONSES]
            dtype = h5py.check_vlen_dtype(f[L.RESPONSES].dtype)
        s, n = np.argwhere(table[..., 1] >= 2 * dtype.itemsize)[1]
        off = int(table[s, n, 0]) + dtype.itemsize  # the element's second value
        value = {"nan": np.nan, "inf": np.inf, "flip": 1234.5}[damage]
        with open(p, "r+b") as fh:
            fh.seek(off)
            fh.write(np.array([value], dtype=dtype).astype(dtype.newbyteorder("<")).tobytes())
    used = []
    stream = responses._FlatRows.stream
    monkeypatch.setattr(responses._FlatRows, "stream", lambda self, *a: used.append(1) or stream(self, *a))
    fast = _findings(p, True)
    assert used
    monkeypatch.setattr(responses._FlatRows, "stream", lambda self, *a: None)
    assert _findings(p, True) == fast
    codes = {f[0] for f in fast[:-1]}
    assert codes == {"none": set(), "nan": {"E505", "E601"}, "inf": {"E505", "E601"}, "flip": {"E601"}}[damage]
