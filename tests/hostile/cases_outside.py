"""Class 1: files that reference paths outside their folder (external links, virtual datasets, soft links).

Every outside target is either the case's FIFO tripwire (any open is seen)
or an HDF5 file of distinctive data; the link or mapping sits deep in the
file — a stimulus's data, a table of ``/neurons``, a stimulus of a *source*
of a concatenated file — where a check of the top level does not look.
"""

from __future__ import annotations

import os
import shutil

import h5py

from .case import Case, refused
from .craft import base, concatenated, edit, external, files, outside, virtual

_D0 = "stimuli/000000/data"


def _ext(obj, target_of, dset="/data"):
    """A builder: events base with ``obj`` an external link to ``target_of(fifo, data, folder)``."""
    def build(folder):
        p = base(folder)
        _o, fifo, data = outside(folder)
        edit(p, external(obj, target_of(fifo, data, folder), dset))
        return files(p, tripwires=[fifo])
    return build


def _vds(obj, target_of, shape=(1, 4, 10)):
    def build(folder):
        p = base(folder)
        _o, fifo, data = outside(folder)
        edit(p, virtual(obj, target_of(fifo, data, folder), "/data", shape))
        return files(p, tripwires=[fifo])
    return build


def _soft(folder):
    p = base(folder)

    def fn(f):
        del f["stimuli/000001/data"]
        f["stimuli/000001/data"] = h5py.SoftLink("/stimuli/000000/data")
    edit(p, fn)
    return files(p)


def _concat_source_edit(fn_of):
    """A builder: a concatenation whose source ``a`` gets ``fn_of(fifo, data)`` applied."""
    def build(folder):
        cat, a, _b = concatenated(folder)
        _o, fifo, data = outside(folder)
        edit(a, fn_of(fifo, data))
        return files(cat, tripwires=[fifo])
    return build


def _symlinked_sources(folder):
    """Sources in a sub-folder that is a symlink to a folder elsewhere (paths normalised, not resolved)."""
    cat, _a, _b = concatenated(folder)
    out, _fifo, _data = outside(folder)
    moved = os.path.join(out, "src")
    shutil.move(os.path.join(folder, "src"), moved)
    os.symlink(moved, os.path.join(folder, "src"))
    return files(cat)


def _absolute_source(folder):
    """A source path rewritten to an absolute path (and its mapping with it)."""
    cat, a, _b = concatenated(folder)

    def fn(f):
        paths = f["sources/paths"][()]
        paths[0] = os.path.abspath(a).encode()
        del f["sources/paths"]
        f.create_dataset("sources/paths", data=paths, dtype=h5py.string_dtype("utf-8"))
    edit(cat, fn)
    return files(cat)


def _path_is_fifo(folder):
    """The path handed to the entry point is itself a FIFO (it must be refused without being opened)."""
    base(folder)
    p = os.path.join(folder, "fifo.strf.h5")
    os.mkfifo(p)
    return files(p, tripwires=[p])


_ABS = lambda fifo, data, folder: fifo  # noqa: E731
_ABS_DATA = lambda fifo, data, folder: data  # noqa: E731
_DOTDOT = lambda fifo, data, folder: "../" + os.path.basename(folder) + "-outside/trap.fifo"  # noqa: E731
_ZERO = lambda fifo, data, folder: "/dev/zero"  # noqa: E731

CASES = [
    Case("path-is-fifo", 1, _path_is_fifo, refused("NotStrfH5FileError", ("E001",)),
         doc="the file named on the command line is a FIFO"),
    Case("ext-link-stim-data-fifo", 1, _ext(_D0, _ABS), refused("FileFormatError", ("E801",)),
         doc="/stimuli/000000/data is an external link to an absolute FIFO"),
    Case("ext-link-stim-data-outside-file", 1, _ext(_D0, _ABS_DATA), refused("FileFormatError", ("E801",)),
         doc="/stimuli/000000/data is an external link to an HDF5 file outside the folder"),
    Case("ext-link-stim-data-dotdot", 1, _ext(_D0, _DOTDOT), refused("FileFormatError", ("E801",)),
         doc="external link with a relative '..' path leaving the folder"),
    Case("ext-link-dev-zero", 1, _ext(_D0, _ZERO), refused("FileFormatError", ("E801",)),
         doc="external link to /dev/zero"),
    Case("ext-link-neurons-ids", 1, _ext("neurons/ids", _ABS, "/ids"), refused("FileFormatError", ("E801",)),
         doc="the /neurons/ids table is an external link"),
    Case("ext-link-stim-group", 1, _ext("stimuli/000001", _ABS, "/stim"), refused("FileFormatError", ("E801",)),
         doc="a whole stimulus group is an external link"),
    Case("vds-stim-data-fifo", 1, _vds(_D0, _ABS), refused("FileFormatError", ("E802",)),
         doc="/stimuli/000000/data is a virtual dataset mapping a FIFO"),
    Case("vds-stim-data-outside-file", 1, _vds(_D0, _ABS_DATA), refused("FileFormatError", ("E802",)),
         doc="/stimuli/000000/data is a virtual dataset mapping an outside HDF5 file"),
    Case("vds-dev-zero", 1, _vds(_D0, _ZERO), refused("FileFormatError", ("E802",)),
         doc="a virtual dataset mapping /dev/zero"),
    Case("soft-link-stim-data", 1, _soft, refused("FileFormatError", ("W803", "E202")),
         doc="/stimuli/000001/data is a soft link to stimulus 0's data (the format has no soft links)"),
    Case("concat-source-stim-ext-link", 1,
         _concat_source_edit(lambda fifo, data: external(_D0, fifo, "/data")),
         refused("FileFormatError", ("E911",)),
         doc="a stimulus of a source of a concatenated file is an external link to a FIFO"),
    Case("concat-source-stim-vds", 1,
         _concat_source_edit(lambda fifo, data: virtual(_D0, data, "/data", (1, 4, 10))),
         refused("FileFormatError", ("E911|E802",)),
         doc="a stimulus of a source of a concatenated file is a virtual dataset of an outside file"),
    Case("concat-source-folder-symlink", 1, _symlinked_sources,
         refused("UnsafeSourcePathError", ("E901",)),
         doc="the sources' sub-folder is a symlink to a folder elsewhere"),
    Case("concat-source-absolute-path", 1, _absolute_source, refused("UnsafeSourcePathError", ("E901",)),
         doc="a source path recorded as an absolute path"),
]
