"""Classes 5-9: byte order, values the reader cannot decode, reader/validator agreement, validator defects, text.

Big-endian VLEN data (h5py hands them back as raw bytes labelled native),
undecodable values (corrupt VLEN descriptors, an unavailable filter, deep
JSON, non-UTF-8 strings, a group where a dataset belongs, a compound
stimulus), files the validator rejects that a reader must not return (a
stimulus shorter than its bins, a scalar stimulus, float repeats), the
validator's own defects (N = 0, an unreadable ``/repeats``) and terminal
escape sequences in titles and ids.
"""

from __future__ import annotations

import os
import shutil

import h5py
import malformed
import numpy as np

import strfh5
from strfh5 import layout as L

from .case import Case, refused
from .craft import STR, base, edit, files, replace, set_metadata, set_vlen
from .expect import READERS, VALIDATORS, Ok, Same, SameOrRaises, Valid


def _byte_order(obj, vlen_dtype=None, dtype=None, kind="events"):
    """The base and a twin with ``obj`` stored big-endian (VLEN base type or plain dtype)."""
    def build(folder):
        p = base(folder, kind)
        ref = os.path.join(folder, "ref.strf.h5")
        shutil.copy(p, ref)
        if vlen_dtype is not None:
            edit(p, set_vlen(obj, vlen_dtype, {}, redigest=True))
        else:
            def fn(f):
                a = f[obj][()]
                replace(obj, a.astype(dtype), chunks=f[obj].chunks, fillvalue=0)(f) if obj == L.REPEATS \
                    else replace(obj, a.astype(dtype))(f)
            edit(p, fn)
        return files(p, ref=ref)
    return build


def _corrupt_descriptor(folder):
    p = base(folder)
    malformed.corrupt_heap_address(L.RESPONSES, 1, 1)(p)
    return files(p)


def _unavailable_filter(folder):
    """Stimulus 0 compressed with deflate, the filter id then patched to 200 (no HDF5 has it)."""
    p = base(folder)
    edit(p, replace("stimuli/000000/data", np.random.default_rng(1).random((1, 4, 10)).astype(np.float32),
                    chunks=(1, 4, 10), compression="gzip"))
    with h5py.File(p, "r") as f:
        addr = h5py.h5o.get_info(f["stimuli/000000/data"].id).addr
    data = open(p, "rb").read()
    at = data.find(b"deflate\0", addr)
    assert 0 < at - addr < 2048, "filter pipeline message not found in the object header"
    with open(p, "r+b") as fh:
        fh.seek(at - 8)  # version-1 filter description: id (2), name length (2), flags (2), n values (2), name
        fh.write((200).to_bytes(2, "little"))
    return files(p)


def _deep_json(where):
    deep = "[" * 100000 + "]" * 100000

    def build(folder):
        p = base(folder)
        if where == "file":
            edit(p, set_metadata(deep))
        else:
            def fn(f):
                m = f[L.NEURON_METADATA][()]
                m = [x.decode() if isinstance(x, bytes) else x for x in m]
                m[0] = deep
                replace(L.NEURON_METADATA, np.array(m, dtype=object), dtype=STR)(f)
            edit(p, fn)
        return files(p)
    return build


def _bytes_table(obj, index, raw: bytes):
    """``obj`` rewritten as ASCII-charset VLEN strings, entry ``index`` holding ``raw``."""
    def build(folder):
        p = base(folder)

        def fn(f):
            vals = [x if isinstance(x, bytes) else x.encode() for x in f[obj][()]]
            vals[index] = raw
            replace(obj, np.array(vals, dtype=object), dtype=h5py.string_dtype("ascii"))(f)
        edit(p, fn)
        return files(p)
    return build


def _non_utf8_metadata(folder):
    p = base(folder)
    edit(p, set_metadata(b'{"title": "caf\xe9"}'))
    return files(p)


def _fixed_ascii_utf8(folder):
    """/stimuli/ids as fixed-length ASCII-charset strings holding UTF-8 'café' (strings are UTF-8: SPEC §1.3)."""
    p = base(folder)
    ref = os.path.join(folder, "ref.strf.h5")
    ids = ["café", "song-b", "ripple-1"]
    shutil.copy(p, ref)
    edit(ref, replace(L.STIM_IDS, np.array(ids, dtype=object), dtype=STR))
    edit(p, replace(L.STIM_IDS, np.array([x.encode() for x in ids], dtype="S16")))
    return files(p, ref=ref)


def _group_for(obj):
    def build(folder):
        p = base(folder)

        def fn(f):
            del f[obj]
            f.create_group(obj)
        edit(p, fn)
        return files(p)
    return build


def _stim_data(make):
    def build(folder):
        p = base(folder)
        edit(p, replace("stimuli/000000/data", make()))
        return files(p)
    return build


def _float_repeats(folder):
    p = base(folder)

    def fn(f):
        r = f[L.REPEATS][()].astype(np.float64)
        r[0, 0] = 2.5
        replace(L.REPEATS, r, fillvalue=0.0)(f)
    edit(p, fn)
    return files(p)


def _n_zero(folder):
    os.makedirs(folder, exist_ok=True)
    p = os.path.join(folder, "case.strf.h5")
    with strfh5.StreamWriter(p, encoding="events", dt_ms=5.0, stim_kind="spectrogram", stim_dims=(1, 4),
                             neuron_ids=[]) as w:
        for T in (6, 4):
            s = w.add_stimulus(np.ones((1, 4, T), np.float32))
            w.write_row(s, [])
    shutil.copy(p, os.path.join(folder, "other.strf.h5"))
    return files(p)


def _unreadable_repeats(folder):
    p = base(folder)
    malformed.overwrite_chunk(L.REPEATS, (0, 0))(p)
    return files(p)


def _escapes(folder):
    """Title, ids and metadata values holding terminal escape sequences (written by the library itself)."""
    os.makedirs(folder, exist_ok=True)
    bad = "\x1b]0;owned\x07\x1b[2J\x9b31m"
    c = strfh5.contents_from_lists(
        [np.ones((1, 4, 5), np.float32)], spike_times=[[[np.array([1.0])], None]], dt_ms=5.0,
        stim_ids=["s" + bad], neuron_ids=["u" + bad, "v"], stim_meta=[{"type": bad}],
        nrn_meta=[{"area": bad}, {"area": "A1"}], file_meta={"title": "t" + bad, "source": bad},
        transform={"kind": bad})
    p = strfh5.save(c, os.path.join(folder, "case.strf.h5"))
    shutil.copy(p, os.path.join(folder, "other.strf.h5"))
    return files(p)


_BE = "convert big-endian VLEN elements explicitly (h5py labels their raw bytes native) or refuse them"
_SAME_OR_REFUSED = {**{ep: SameOrRaises("FileFormatError") for ep in READERS}, "validate": Valid(("W210",)),
                    "validate_checksums": Valid(("W210",))}

CASES = [
    Case("big-endian-spike-times", 5, _byte_order(L.RESPONSES, ">f8"), dict(_SAME_OR_REFUSED),
         doc="/responses stores big-endian float64 spike times"),
    Case("big-endian-counts", 5, _byte_order(L.COUNTS, ">u2"), dict(_SAME_OR_REFUSED),
         doc="/counts stores big-endian uint16 counts"),
    Case("big-endian-binned", 5, _byte_order(L.RESPONSES, ">u2", kind="binned"), dict(_SAME_OR_REFUSED),
         doc="a binned /responses of big-endian uint16 counts"),
    Case("big-endian-stimulus", 5, _byte_order("stimuli/000000/data", dtype=">f4"),
         {**{ep: Same() for ep in READERS}, "validate": Valid(("W411",)), "validate_checksums": Valid(("W411",))},
         doc="a big-endian float32 stimulus (HDF5 converts fixed-size types itself)"),
    Case("big-endian-repeats", 5, _byte_order(L.REPEATS, dtype=">u2"),
         {**{ep: Same() for ep in READERS}, "validate": Valid(("W210",)), "validate_checksums": Valid(("W210",))},
         doc="big-endian uint16 /repeats"),
    Case("corrupt-vlen-descriptor", 6, _corrupt_descriptor, refused("CorruptDataError", ("E507",)),
         doc="a VLEN descriptor's heap address overwritten"),
    Case("unavailable-filter", 6, _unavailable_filter, refused("FileFormatError", ("E412",)),
         doc="a stimulus needing HDF5 filter 200, which no library has"),
    Case("deep-json-file-metadata", 6, _deep_json("file"), refused("CorruptDataError", ("E701",)),
         doc="/metadata nested 100 000 levels deep"),
    Case("deep-json-neuron-metadata", 6, _deep_json("neuron"),
         refused("CorruptDataError", ("E701",), lazy=Ok()),
         doc="a neuron's metadata nested 100 000 levels deep (a lazy open decodes records when asked for, "
             "then raises CorruptDataError)"),
    Case("non-utf8-neuron-id", 6, _bytes_table(L.NEURON_IDS, 1, b"u\xff2"), refused("CorruptDataError", ("E701",)),
         doc="a neuron id that is not UTF-8"),
    Case("non-utf8-file-metadata", 6, _non_utf8_metadata, refused("CorruptDataError", ("E701",)),
         doc="/metadata holding Latin-1 bytes"),
    Case("fixed-ascii-holding-utf8", 6, _fixed_ascii_utf8,
         {**{ep: Same() for ep in READERS}, "validate": Valid(("W207",)), "validate_checksums": Valid(("W207",))},
         doc="fixed-length ASCII-charset stimulus ids holding UTF-8 bytes"),
    Case("group-for-repeats", 6, _group_for(L.REPEATS), refused("FileFormatError", ("E202",)),
         doc="/repeats is a group"),
    Case("group-for-stim-data", 6, _group_for("stimuli/000000/data"), refused("FileFormatError", ("E202",)),
         doc="/stimuli/000000/data is a group"),
    Case("compound-stimulus", 6, _stim_data(lambda: np.zeros((1, 4, 10), dtype=[("a", "<f4")])),
         refused("CorruptDataError", ("E404",)), doc="a compound stimulus dtype"),
    Case("stim-length-differs", 7, _stim_data(lambda: np.ones((1, 4, 11), np.float32)),
         refused("CorruptDataError", ("E406",)),
         doc="a spectrogram of 11 frames for n_bins = 10"),
    Case("scalar-stimulus", 7, _stim_data(lambda: np.float32(1.0)), refused("CorruptDataError", ("E405",)),
         doc="a scalar stimulus"),
    Case("float-repeats", 7, _float_repeats, refused("CorruptDataError", ("E203",)),
         doc="/repeats of float64 holding 2.5"),
    Case("n-zero", 8, _n_zero, {**{ep: Ok() for ep in READERS}, "validate": Valid(("W411", "W413")),
                                 "validate_checksums": Valid(("W411", "W413"))},
         doc="N = 0, written by StreamWriter (valid per SPEC)"),
    Case("unreadable-repeats", 8, _unreadable_repeats,
         refused("FileFormatError", ("E507",), path="/repeats", once="E507"), doc="/repeats' chunk overwritten: reported once, naming /repeats"),
    Case("escape-sequences", 9, _escapes,
         {**{ep: Ok() for ep in READERS}, **{ep: Ok() for ep in VALIDATORS}},
         doc="title, ids, metadata values and transform kind with terminal escape sequences"),
]
