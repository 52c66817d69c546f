"""Invalid concatenated files (SPEC §9, §12): codes E901–E911.

They share one folder of sources, ``cases/_concat_sources/``; each case's
expected.json opens its own concatenated file there.
"""

from __future__ import annotations

import os

import h5py
import numpy as np

import _concat
import _valid as V
import _writer as W

SHARED = "concat"  # the sources of the valid case 'concat' (a.strf.h5, sub/b.strf.h5) are shared
A, B = "a.strf.h5", "sub/b.strf.h5"


def _write_sources(folder: str) -> list[dict]:
    srcs = V._sources("plain")  # a.strf.h5 and sub/b.strf.h5 are already there
    small = dict(srcs[0], neuron_ids=srcs[0]["neuron_ids"][:2], nrn_meta=srcs[0]["nrn_meta"][:2],
                 responses=[row[:2] for row in srcs[0]["responses"]])
    W.write(os.path.join(folder, "a_small.strf.h5"), small)
    os.makedirs(os.path.join(folder, "dir.strf.h5"))
    with open(os.path.join(folder, "dir.strf.h5", "README"), "w") as fh:
        fh.write("a folder where a source file is expected (E903)\n")
    with open(os.path.join(folder, "text.strf.h5"), "w") as fh:
        fh.write("not HDF5\n")
    vsrc = os.path.join(folder, "vds_stim.strf.h5")
    W.write(vsrc, srcs[0])
    with h5py.File(vsrc, "r+", libver=("v110", "v110")) as f:
        del f["stimuli/000000/data"]
        lay = h5py.VirtualLayout(shape=(1, 4, 6), dtype=np.float32)
        lay[...] = h5py.VirtualSource("a.strf.h5", "/stimuli/000000/data", shape=(1, 4, 6))
        f.create_virtual_dataset("stimuli/000000/data", lay)
    _concat.write(os.path.join(folder, "inner.strf.h5"), srcs, [A, B], True, "00000000-0000-4000-8000-000000000040")
    link = os.path.join(folder, "out")
    if not os.path.lexists(link):
        os.symlink(os.path.join("..", "concat_merged"), link)  # a folder outside this one (another case)
    return srcs


def _edit(path, fn):
    with h5py.File(path, "r+") as f:
        fn(f)


def _set(name, values, dtype=None):
    def fn(f):
        del f[name]
        f.create_dataset(name, data=values, dtype=dtype)
    return fn


def _relink(i, fname, obj):
    def fn(st):
        del st[f"{i:06d}"]
        st[f"{i:06d}"] = h5py.ExternalLink(fname, obj)
    return fn


# name, errors, recorded paths, write options, post-write edit, description
CASES = [
    ("E901_absolute", ["E901", "E804", "E907", "E908"], ["/nonexistent/a.strf.h5", B], {}, None, "an absolute source path"),
    ("E901_parent", ["E901", "E804", "E907", "E908"], ["../a.strf.h5", B], {}, None, "a source path leaving the folder"),
    ("E901_dot_segment", ["E901", "E804", "E907", "E908"], ["./a.strf.h5", B], {}, None,
     "a source path not in canonical form ('./a.strf.h5')"),
    ("E901_drive", ["E901", "E804", "E907", "E908"], ["C:a.strf.h5", B], {}, None, "a first segment holding ':' (a drive form)"),
    ("E901_symlink_outside", ["E901", "E804", "E907", "E908"], ["out/a.strf.h5", B], {}, None,
     "a source under a symbolic link to a folder outside the concatenated file's folder"),
    ("E902_missing", ["E902", "E804"], ["gone.strf.h5", B], {}, None, "a missing source"),
    ("E903_folder", ["E903", "E804"], ["dir.strf.h5", B], {}, None, "a source path naming a folder"),
    ("E904_not_hdf5", ["E904", "E804"], ["text.strf.h5", B], {}, None, "a source that is not HDF5"),
    ("E905_uuid", ["E905", "E804"], [A, B], {}, _set("sources/uuids", np.array(
        ["00000000-0000-4000-8000-000000000999", "00000000-0000-4000-8000-000000000021"], dtype=object), W.UTF8),
     "a recorded uuid that differs from the source's"),
    ("E906_shape", ["E906", "E804"], ["a_small.strf.h5", B], {}, None, "a source with fewer neurons than mapped"),
    ("E907_unrecorded_mapping", ["E907", "E804"], [A, B], {"vds_names": ["other.strf.h5", B]}, None,
     "a virtual mapping naming a file that is not recorded"),
    ("E907_dot_mapping", ["E907", "E804"], [A, B], {"vds_names": ["./a.strf.h5", B]}, None,
     "a virtual mapping naming './a.strf.h5' for the recorded 'a.strf.h5' (names equal recorded paths exactly)"),
    ("E908_dot_link", ["E908", "E804"], [A, B], {"link_names": ["./a.strf.h5", B]}, None,
     "stimulus links naming './a.strf.h5' for the recorded 'a.strf.h5'"),
    ("E908_wrong_object", ["E908", "E804"], [A, B], {"link_override": _relink(1, A, "/stimuli/000000")}, None,
     "row 1 linked to another stimulus of its own source"),
    ("E908_wrong_source", ["E908", "E804"], [A, B], {"link_override": _relink(0, B, "/stimuli/000000")}, None,
     "row 0 linked to a recorded source that does not hold it"),
    ("E909_offsets", ["E909", "E804", "E301"], [A, B], {}, _set("sources/stim_offsets", np.array([0, 2, 5], np.int64)),
     "inconsistent /sources/stim_offsets"),
    ("E910_nested", ["E910", "E804"], ["inner.strf.h5"], {"nested": True}, None, "a source that is itself concatenated"),
    ("E911_virtual_stimulus", ["E911", "E802"], ["vds_stim.strf.h5", B], {}, None,
     "a source whose stimulus data is a virtual dataset"),
]


def _builder(name, paths, opts, edit):
    def build(folder):
        shared = os.path.join(os.path.dirname(folder), SHARED)
        if not os.path.exists(os.path.join(shared, "a_small.strf.h5")):
            _write_sources(shared)
        srcs = V._sources("plain")
        if opts.get("nested"):
            inner = _concat.describe(srcs, True, "00000000-0000-4000-8000-000000000040")
            srcs = [inner]
        if paths[0] == "a_small.strf.h5":
            pass  # the file maps the full-size a, the source on disk is smaller
        kw = {k: v for k, v in opts.items() if k != "nested"}
        path = os.path.join(shared, f"{name}.strf.h5")
        _concat.write(path, srcs, paths, False, "00000000-0000-4000-8000-000000000050", **kw)
        if edit is not None:
            _edit(path, edit)
        return None
    return build


def _index(f):
    g = f.create_group("index")
    g.attrs.create("layout", "byte-range-v1", dtype=W.UTF8)
    g.create_dataset("responses", data=np.zeros((*f["responses"].shape, 2), np.uint64), dtype="<u8")


#: warning-only concatenated cases: name, warnings, post-write edit, description
READ_CASES = [
    ("W607_index_in_concat", ["W603", "W607"], _index,
     "a response index /index in a concatenated file (its rows live in the sources; readers ignore it)"),
]


def cases() -> list[dict]:
    return [dict(name=name, description=doc, spec=["9", "12"], build=_builder(name, paths, opts, edit),
                 errors=errors, warnings=["W603"], reader="refuse", open=f"../{SHARED}/{name}.strf.h5")
            for name, errors, paths, opts, edit, doc in CASES] + [
        dict(name=name, description=doc, spec=["7.2", "9"], build=_builder(name, [A, B], {}, edit),
             errors=[], warnings=warnings, reader="read", open=f"../{SHARED}/{name}.strf.h5")
        for name, warnings, edit, doc in READ_CASES]
