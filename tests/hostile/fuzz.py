"""Mutations for the hypothesis fuzz of hostile files: structural edits and byte flips.

A fuzz example is a valid base file, a few structural mutations (an object
deleted, replaced by a group, by a scalar, by data of another type, an
attribute overwritten) and a few byte flips at offsets drawn over the whole
file.  :func:`mutations` is the hypothesis strategy, :func:`apply` writes the
mutated file.  Whatever the mutations, every entry point must keep the promise
(:func:`hostile.expect.keeps_promise`).
"""

from __future__ import annotations

import os
import shutil

import h5py
import numpy as np
from hypothesis import strategies as st

from strfh5 import layout as L

#: objects a structural mutation may hit
OBJECTS = (L.RESPONSES, L.COUNTS, L.REPEATS, L.STIM_IDS, L.STIM_METADATA, L.STIM_N_BINS, L.NEURON_IDS,
           L.NEURON_METADATA, L.METADATA, "stimuli/000000/data", "stimuli/000001", f"{L.INTEGRITY}/responses")
#: root attributes a mutation may overwrite
ATTRS = (L.ATTR_DT_MS, L.ATTR_ENCODING, L.ATTR_STIM_DIMS, L.ATTR_VERSION, L.ATTR_STIM_KIND)
KINDS = ("delete", "group", "scalar", "float", "huge-int", "attr")

structural = st.tuples(st.sampled_from(KINDS), st.sampled_from(OBJECTS), st.sampled_from(ATTRS),
                       st.integers(0, 2**64 - 1))
flips = st.tuples(st.floats(0.0, 1.0, exclude_max=True), st.integers(1, 255))
mutations = st.tuples(st.lists(structural, max_size=2), st.lists(flips, max_size=4))


def _structural(f: h5py.File, kind: str, obj: str, attr: str, value: int) -> None:
    if kind == "attr":
        f.attrs[attr] = [np.uint64(value), -1.5, "x" * (value % 7), np.float64("nan")][value % 4]
        return
    if obj not in f:
        return
    shape = getattr(f[obj], "shape", (2,)) or (1,)
    del f[obj]
    if kind == "group":
        f.create_group(obj)
    elif kind == "scalar":
        f.create_dataset(obj, data=np.float32(value % 1000))
    elif kind == "float":
        f.create_dataset(obj, data=np.full(shape, 2.5))
    elif kind == "huge-int":
        f.create_dataset(obj, data=np.full(shape, value, dtype=np.uint64))


def apply(base: str, out: str, mutation) -> str:
    """Write ``base`` with ``mutation`` (from :data:`mutations`) applied to ``out``."""
    shutil.copy(base, out)
    edits, byte_flips = mutation
    if edits:
        with h5py.File(out, "r+") as f:
            for e in edits:
                _structural(f, *e)
    size = os.path.getsize(out)
    with open(out, "r+b") as fh:
        for where, mask in byte_flips:
            off = int(where * size)
            fh.seek(off)
            b = fh.read(1)
            fh.seek(off)
            fh.write(bytes([b[0] ^ mask]))
    return out
