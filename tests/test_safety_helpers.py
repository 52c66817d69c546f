"""The small modules the hostile-file policy relies on: jsonsafe, terminal, heapcheck (issue 12)."""

from __future__ import annotations

import json
import shutil

import malformed
import numpy as np
import pytest

import strfh5
from strfh5.errors import CorruptDataError
from strfh5 import heapcheck
from strfh5.heapcheck import check_global_heaps
from strfh5.jsonsafe import MAX_DEPTH, decode_text, loads, nesting_depth
from strfh5.fileinfo import format_info
from strfh5.terminal import escape_json, escape_text


# ------------------------------------------------------------------ jsonsafe
def test_loads_round_trips_ordinary_records():
    rec = {"title": "café", "nested": [[1, 2], {"a": [None, True]}], "s": "[[[{{{"}
    assert loads(json.dumps(rec, ensure_ascii=False), "x") == rec
    assert loads(json.dumps(rec).encode(), "x") == rec
    assert loads(np.array(json.dumps(rec).encode()), "x") == rec


def test_nesting_depth_ignores_brackets_in_strings():
    assert nesting_depth('{"a": "[[[[[[", "b": [1, [2]]}') == 3
    assert nesting_depth('"\\"[[["') == 0
    assert nesting_depth("[" * 100000) == 100000  # linear, no recursion


@pytest.mark.parametrize("text", ["[" * 100000 + "]" * 100000, '{"a":' * 5000 + "1" + "}" * 5000])
def test_deep_nesting_is_a_corrupt_data_error(text):
    with pytest.raises(CorruptDataError, match=r"/neurons/metadata\[3\]: stored JSON is nested \d+ levels deep"):
        loads(text, "f.h5:/neurons/metadata[3]")


def test_limit_is_exact_and_adjustable():
    ok = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert loads(ok, "x") is not None
    with pytest.raises(CorruptDataError):
        loads("[" + ok + "]", "x")
    assert loads("[" + ok + "]", "x", max_depth=MAX_DEPTH + 1) is not None


def test_strict_mode_and_bad_text():
    assert loads('{"a": NaN}', "x")["a"] != 0  # Python's json accepts NaN unless strict
    for text, what in (('{"a": NaN}', "NaN"), ('{"a": 1, "a": 2}', "duplicate key")):
        with pytest.raises(CorruptDataError, match=what):
            loads(text, "x", strict=True)
    with pytest.raises(CorruptDataError, match="not valid JSON"):
        loads("{", "x")
    with pytest.raises(CorruptDataError, match=r"where: stored string is not valid UTF-8"):
        decode_text(b'{"t": "caf\xe9"}', "where")
    with pytest.raises(CorruptDataError, match="expected a string"):
        decode_text(3, "where")


def test_validator_reports_deep_json_as_e701(tmp_path):
    p = malformed.build_events(str(tmp_path / "a.strf.h5"))
    malformed.set_scalar_string("metadata", "[" * 100000 + "]" * 100000)(p)
    r = strfh5.validate(p)
    assert [f.code for f in r.errors] == ["E701"] and "levels deep" in r.errors[0].message


# ------------------------------------------------------------------ terminal
def test_escape_text_keeps_printable_text_and_escapes_controls():
    assert escape_text("Zebra finch — café 中文") == "Zebra finch — café 中文"
    assert escape_text("t\x1b]0;x\x07\x1b[2J\x9b31m\u202e") == "t\\x1b]0;x\\x07\\x1b[2J\\x9b31m\\u202e"
    assert escape_text("a\nb") == "a\nb" and escape_text("a\nb", keep_newlines=False) == "a\\nb"


def test_escape_json_stays_valid_json():
    doc = {"title": "\x1b[2J\x9b\u202e é", "n": [1, 2]}
    text = escape_json(json.dumps(doc, ensure_ascii=False, indent=2))
    assert json.loads(text) == doc
    assert not any(c in text for c in "\x1b\x9b\u202e") and "é" in text


def test_format_info_escapes_untrusted_text(tmp_path):
    bad = "\x1b]0;owned\x07\x1b[2J"
    c = strfh5.contents_from_lists([np.ones((1, 2, 3), np.float32)], spike_times=[[[np.array([1.0])]]], dt_ms=5.0,
                                   stim_meta=[{"type": bad}], file_meta={"title": "t" + bad, "source": bad})
    p = strfh5.save(c, tmp_path / "a.strf.h5")
    text = format_info(strfh5.info(p))
    assert "\x1b" not in text and "\x07" not in text
    assert "title       : t\\x1b]0;owned\\x07\\x1b[2J" in text


# ------------------------------------------------------------------ heapcheck
def test_heap_check_accepts_sound_files_and_finds_a_zeroed_heap(tmp_path):
    bases = malformed.build_bases(tmp_path)
    for p in bases.values():
        assert check_global_heaps(p) == [], p
    bad = str(tmp_path / "zeroed.strf.h5")
    shutil.copy(bases["events"], bad)
    data = open(bad, "rb").read()
    at = data.find(b"GCOL")
    with open(bad, "r+b") as fh:
        fh.seek(at + 16)
        fh.write(b"\0" * 256)
    (problem,) = check_global_heaps(bad)
    assert f"global heap collection at byte {at}: free-space object at offset 16 declares 0 bytes" in problem
    r = strfh5.validate(bad)
    assert r.exit_code == 2 and [f.code for f in r.findings] == ["E003"]


def test_heap_check_finds_an_oversized_object(tmp_path):
    p = malformed.build_events(str(tmp_path / "a.strf.h5"))
    data = open(p, "rb").read()
    at = data.find(b"GCOL")
    with open(p, "r+b") as fh:  # first object's size field: 8 bytes after its index, refcount, reserved
        fh.seek(at + 16 + 8)
        fh.write((10**9).to_bytes(8, "little"))
    (problem,) = check_global_heaps(p)
    assert "declares 1000000000 bytes, more than the" in problem


def _walk_every_signature(path: str, limit: int = 5) -> list[str]:
    """The reference: every ``GCOL`` of the file walked one by one (heapcheck's per-collection path)."""
    data = open(path, "rb").read()
    out, at = [], data.find(b"GCOL")
    with open(path, "rb") as fh:
        while at >= 0 and len(out) < limit:
            problem = heapcheck._check_collection(fh, at, len(data), 8)
            if problem:
                out.append(f"global heap collection at byte {at}: {problem}")
            at = data.find(b"GCOL", at + 1)
    return out


def _damaged_heaps(path: str, seed: int) -> str:
    """An events base file whose heaps are damaged at random: sizes, indices, free space, headers."""
    p = malformed.build_events(path)
    data = bytearray(open(p, "rb").read())
    rng = np.random.default_rng(seed)
    starts = [i for i in range(len(data) - 4) if data[i:i + 4] == b"GCOL"]
    for _ in range(int(rng.integers(1, 6))):
        at = int(rng.choice(starts))
        size = int.from_bytes(data[at + 8:at + 16], "little")
        off = at + int(rng.integers(0, max(size, 17)))
        kind = int(rng.integers(0, 3))
        if kind == 0:  # a random byte
            data[off] = int(rng.integers(0, 256))
        elif kind == 1:  # a zeroed run
            n = int(rng.integers(1, 64))
            data[off:off + n] = bytes(len(data[off:off + n]))
        else:  # an 8-byte field overwritten (a size or the collection length)
            data[off:off + 8] = int(rng.integers(0, 2**63)).to_bytes(8, "little")
    open(p, "wb").write(bytes(data))
    return p


@pytest.mark.parametrize("seed", range(12))
def test_heap_check_walking_collections_together_equals_walking_each(tmp_path, seed, monkeypatch):
    """The lockstep walk finds exactly the problems (same order, same words) the one-by-one walk finds,
    on files whose heaps are damaged at random; small spans too."""
    p = _damaged_heaps(str(tmp_path / "a.strf.h5"), seed)
    want = _walk_every_signature(p)
    assert heapcheck.check_global_heaps(p) == want
    monkeypatch.setattr(heapcheck, "_SPAN", 4096)  # collections crossing span ends take the one-by-one path
    assert heapcheck.check_global_heaps(p) == want


def test_heap_check_damage_above_finds_problems(tmp_path):
    """The random damage of the equivalence test is not all harmless (else it would compare empty lists)."""
    found = [bool(_walk_every_signature(_damaged_heaps(str(tmp_path / f"{seed}.strf.h5"), seed)))
             for seed in range(12)]
    assert sum(found) >= 4, found
