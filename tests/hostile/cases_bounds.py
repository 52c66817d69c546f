"""Classes 2-4: hangs, memory bombs and integer wrap-around.

A zeroed global heap (HDF5 loops on it), a stimulus declaring a huge shape
with no data behind it, a waveform file whose ``n_bins`` asks for tens of
GiB of bins, a rebinning to a tiny ``dt``, one-element chunks, and counts /
repeats whose products or sums wrap around 2**64.
"""

from __future__ import annotations

import os
import shutil
import struct

import h5py
import numpy as np

import strfh5
from strfh5 import layout as L

from .case import Case, refused
from .craft import base, edit, files, set_repeats, set_vlen, zero_heap
from .expect import ALL, Ok, Raises, Same, Valid


def _zeroed(kind):
    def build(folder):
        p = base(folder, kind)
        zero_heap(p)
        return files(p)
    return build


def _zeroed_row_heap(folder):
    """Spike times of row 1 long enough for a new collection, then that collection zeroed.

    The root attributes and tables stay readable: only reading row 1 reaches the zeroed collection.
    """
    p = base(folder, "events")
    with h5py.File(p, "r+") as f:
        for n in (1, 2):  # 2 repeats x 250 spikes x 8 bytes each: more than the first collection's free space
            counts = f[L.COUNTS][1, n]
            counts[:] = 250  # per repeat (counts are uint8)
            times = np.sort(np.random.default_rng(n).uniform(0, 100, int(counts.sum())))
            f[L.RESPONSES][1, n] = times.astype(f[L.RESPONSES].dtype.metadata["vlen"])
            f[L.COUNTS][1, n] = counts
    return _zero_last_collection(p, "the long element")


def _zeroed_table_heap(folder):
    """/neurons/ids rewritten with long ids (a collection of their own), then that collection zeroed."""
    p = base(folder, "events")
    with h5py.File(p, "r+") as f:
        n = f[L.NEURON_IDS].shape[0]
        del f[L.NEURON_IDS]
        f.create_dataset(L.NEURON_IDS, data=np.array([f"n{i}-" + "x" * 3000 for i in range(n)], dtype=object),
                         dtype=h5py.string_dtype())
    return _zero_last_collection(p, "the ids")


def _zero_last_collection(p, what: str):
    """Zero the file's last global heap collection, which must not be its first (``what`` got its own)."""
    data = open(p, "rb").read()
    at = data.rfind(b"GCOL")
    assert at > data.find(b"GCOL"), f"{what} did not get a collection of its own"
    zero_heap(p, at=at)
    return files(p)


def _forged_length(folder):
    """The descriptor of /responses[1, 0] claims 2**31 - 1 values (8 GiB at float32); the heap object is small."""
    p = base(folder, "binned")
    with h5py.File(p, "r") as f:
        ds = f[L.RESPONSES]
        info = ds.id.get_chunk_info_by_coord((1 - 1 % ds.chunks[0], 0))
        at = info.byte_offset + (1 % ds.chunks[0]) * ds.chunks[1] * 16
    with open(p, "r+b") as fh:
        fh.seek(at)
        fh.write(struct.pack("<I", 2**31 - 1))
    return files(p)


def _huge_stimulus(folder):
    """Stimulus 0 declares (1, 4, 2**32 - 1) float64 (128 GiB) with no chunk written; n_bins agrees."""
    p = base(folder)

    def fn(f):
        del f["stimuli/000000/data"]
        f.create_dataset("stimuli/000000/data", shape=(1, 4, 2**32 - 1), dtype="<f8", chunks=(1, 4, 2**20))
        nb = f[L.STIM_N_BINS][()]
        nb[0] = 2**32 - 1
        f[L.STIM_N_BINS][...] = nb
    edit(p, fn)
    return files(p)


def _huge_table(folder):
    """/neurons/ids declares 2**40 entries, none written (an 8 TiB table in a small file)."""
    p = base(folder)

    def fn(f):
        del f[L.NEURON_IDS]
        f.create_dataset(L.NEURON_IDS, shape=(2**40,), dtype=h5py.string_dtype(), chunks=(1024,))
    edit(p, fn)
    return files(p)


def _events_waveform(path, n_bins):
    rng = np.random.default_rng(7)
    stims = [rng.standard_normal((1, 160)).astype(np.float32), rng.standard_normal((1, 120)).astype(np.float32)]
    spikes = [[[np.array([1.0, 2.0])], [np.array([3.0])]], [None, [np.array([4.0]), np.array([5.0])]]]
    c = strfh5.contents_from_lists(stims, spike_times=spikes, dt_ms=1.0, stim_kind="waveform", n_bins=n_bins,
                                   sample_rates=[16000.0, 16000.0])
    return strfh5.save(c, path)


def _huge_n_bins(folder):
    """A waveform events file (valid: n_bins is free for waveforms) whose n_bins asks for 4e9 bins."""
    os.makedirs(folder, exist_ok=True)
    p = _events_waveform(os.path.join(folder, "case.strf.h5"), [4_000_000_000, 12])
    _events_waveform(os.path.join(folder, "other.strf.h5"), [10, 12])
    return files(p)


def _rebin_bomb(folder):
    """A waveform file (any bin width is readable) read at dt_ms=1e-8: 1.2e9 bins a repeat, past the row limit."""
    os.makedirs(folder, exist_ok=True)
    return files(_events_waveform(os.path.join(folder, "case.strf.h5"), [10, 12]), load_kwargs={"dt_ms": 1e-8})


def _one_element_chunks(folder):
    """Stimulus 0 stored in 20 000 one-element chunks (and its reference in one chunk)."""
    p = base(folder)
    ref = os.path.join(folder, "ref.strf.h5")
    data = np.random.default_rng(3).random((1, 4, 5000)).astype(np.float32)

    def fn(chunks):
        def edit_fn(f):
            del f["stimuli/000000/data"]
            f.create_dataset("stimuli/000000/data", data=data, chunks=chunks)
            nb = f[L.STIM_N_BINS][()]
            nb[0] = 5000
            f[L.STIM_N_BINS][...] = nb
        return edit_fn
    shutil.copy(p, ref)
    edit(p, fn((1, 1, 1)))
    edit(ref, fn((1, 4, 5000)))
    return files(p, ref=ref)


def _binned_overflow(reps):
    """Binned base: pair (0, 1) is empty; its repeats set so that repeats x n_bins[0] (= 6) wraps to 0."""
    def build(folder):
        p = base(folder, "binned")
        edit(p, set_repeats({(0, 1): reps}))
        return files(p)
    return build


def _counts_wrap(folder):
    """Events pair (0, 0): 4 spike times, 2 repeats, counts [2**64 - 1, 5] summing to 4 modulo 2**64."""
    p = base(folder)
    edit(p, set_vlen(L.COUNTS, "<u8", {(0, 0): np.array([2**64 - 1, 5], dtype=np.uint64)}))
    return files(p)


def _events_repeats_max(folder):
    p = base(folder)
    edit(p, set_repeats({(1, 1): 2**64 - 1}))
    return files(p)



CASES = [
    Case("zeroed-global-heap-events", 2, _zeroed("events"), refused("FileFormatError", ("E003",)),
         timeout=2.0,
         doc="4 KB of the global heap zeroed: HDF5 loops forever reading the root attributes"),
    Case("zeroed-global-heap-binned", 2, _zeroed("binned"),
         refused("FileFormatError", ("E003",), info=None, info_cli=None, concat=None, materialize=None,
                 quality=None),
         timeout=2.0, doc="the same in a binned file"),
    Case("zeroed-row-heap", 2, _zeroed_row_heap, refused("FileFormatError", ("E003",)), timeout=3.0,
         doc="the zeroed collection holds only row 1's spike times: a lazy open succeeds, reading row 1 is refused"),
    Case("zeroed-table-heap", 2, _zeroed_table_heap, refused("FileFormatError", ("E003",)), timeout=3.0,
         doc="the zeroed collection holds only /neurons/ids: every reader must refuse it, none may hang"),
    Case("forged-vlen-length", 3, _forged_length, refused("CorruptDataError", ("E507",)),
         doc="a VLEN descriptor claiming 2**31 - 1 values: refused before HDF5 allocates them"),
    Case("huge-stimulus-no-data", 2, _huge_stimulus,
         refused("FileFormatError", ("E408",), load=Raises("BinningError"), lazy=Raises("BinningError"),
                 quality=Raises("BinningError")),
         doc="a 10 KB file declaring a 128 GiB stimulus with no chunk written"),
    Case("huge-table-no-data", 2, _huge_table, refused("FileFormatError", ("E204",)),
         doc="/neurons/ids declaring 2**40 entries with no chunk written"),
    Case("waveform-huge-n-bins", 3, _huge_n_bins,
         {**{ep: Raises("StrfH5Error") for ep in ("load", "lazy", "concat", "materialize", "quality")},
          "info": Ok(), "info_cli": Ok(), "validate": Valid(("W411",)), "validate_checksums": Valid(("W411",))},
         doc="a valid waveform events file whose n_bins (4e9) asks for 16 GB of bins per repeat"),
    Case("rebin-memory-bomb", 3, _rebin_bomb,
         {"load": Raises("BinningError"), "lazy": Raises("BinningError")},
         doc="load(dt_ms=1e-8) of a 12 ms waveform stimulus: 1.2e9 bins a repeat (STRFH5_MAX_ROW_VALUES), "
             "refused by the lazy open as by the eager load"),
    Case("one-element-chunks", 3, _one_element_chunks,
         {**{ep: Same() for ep in ALL if ep not in ("validate", "validate_checksums")},
          "validate": Valid(("W411",)), "validate_checksums": Valid(("W411",))},
         doc="stimulus 0 in 20 000 one-element chunks: bounded memory, no false E408"),
    Case("repeats-times-nbins-wraps", 4, _binned_overflow(2**63), refused("CorruptDataError", ("E501",)),
         doc="repeats 2**63 x n_bins 6 wraps to 0 = the empty element"),
    Case("repeats-uint64-max-binned", 4, _binned_overflow(2**64 - 1), refused("CorruptDataError", ("E501",)),
         doc="repeats 2**64-1 read as -1 by int64 arithmetic"),
    Case("counts-sum-wraps", 4, _counts_wrap, refused("CorruptDataError", ("E504",)),
         doc="uint64 counts whose sum wraps to the number of spike times"),
    Case("repeats-uint64-max-events", 4, _events_repeats_max, refused("CorruptDataError", ("E503",)),
         doc="events repeats 2**64-1"),
]
