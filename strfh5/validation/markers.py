"""Checks that the path is a strfh5 file of a version this library reads (SPEC.md §1–§2).

Codes E001–E003 (the path is not a regular, openable HDF5 file) and
E010–W015 (the ``strfh5_format`` marker and the ``strfh5_version`` attribute).
Both checks return False when nothing else can be checked.
"""

from __future__ import annotations

import os
import stat

import h5py

from .. import layout as L
from ..errors import StrfH5Error
from ..h5io import remote
from ..version import __version__
from ..heapcheck import HeapObjects, check_global_heaps
from .context import Context
from .values import decode, is_string_dtype

__all__ = ["open_file", "check_markers"]


def _unreadable(ctx: Context, code: str, message: str) -> bool:
    ctx.add(code, "/", message)
    ctx.readable = False
    return False


def open_file(ctx: Context) -> bool:
    """Open ``ctx.path`` read-only into ``ctx.f`` (E001–E003); never opens a FIFO or device.

    Returns
    -------
    bool
        False when the file cannot be read at all (``ctx.readable`` is then False).
    """
    p = ctx.path
    if remote.is_url(p):
        return _open_remote(ctx)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        return _unreadable(ctx, "E001", f"{p}: no such file")
    except OSError as e:
        return _unreadable(ctx, "E001", f"{p}: cannot be accessed ({e.strerror or e})")
    if stat.S_ISDIR(st.st_mode):
        return _unreadable(ctx, "E001", f"{p}: is a folder, not a strfh5 file")
    if not stat.S_ISREG(st.st_mode):
        # a FIFO or device would block or stream forever: never open it
        return _unreadable(ctx, "E001", f"{p}: is not a regular file (FIFO, socket or device); not opened")
    try:
        is_h5 = h5py.is_hdf5(p)
    except Exception as e:  # noqa: BLE001
        return _unreadable(ctx, "E003", f"{p}: cannot be read ({type(e).__name__}: {e})")
    if not is_h5:
        return _unreadable(ctx, "E002", f"{p}: not an HDF5 file (no HDF5 signature; size {st.st_size} bytes)")
    try:
        ctx.f = h5py.File(p, "r")
    except Exception as e:  # noqa: BLE001
        return _unreadable(ctx, "E003", f"{p}: HDF5 signature found but the file cannot be opened ({e})")
    # HDF5 loops forever on some corrupt heaps: check them before reading any string or VLEN value
    ctx.heap_objects = HeapObjects()  # the objects walked, for locating the response payloads later
    problems = check_global_heaps(p, ctx.f.id.get_create_plist().get_sizes()[1], objects=ctx.heap_objects)
    if problems:
        ctx.f.close()
        ctx.f = None
        return _unreadable(ctx, "E003", f"{p}: {'; '.join(problems)}; HDF5 cannot read it safely, "
                                        "nothing else checked")
    return True


def _open_remote(ctx: Context) -> bool:
    """Open an ``http(s)://`` file through range requests (:mod:`strfh5.h5io.remote`); E001-E003 as for a path."""
    p = ctx.path
    try:
        ctx.f = h5py.File(remote.open_remote(p), "r")
    except FileNotFoundError as e:
        return _unreadable(ctx, "E001", str(e))
    except StrfH5Error as e:  # unreachable, no range support, not HDF5, or refused (concatenated)
        return _unreadable(ctx, "E003", str(e))
    except OSError as e:
        return _unreadable(ctx, "E003", f"{p}: HDF5 signature found but the file cannot be opened ({e})")
    return True


def check_markers(ctx: Context) -> bool:
    """The format marker and version (E010–W015); sets ``ctx.version``.

    Returns
    -------
    bool
        False when the file is not strfh5, or of a major version this
        library does not check: nothing else is checked then.
    """
    a = ctx.f.attrs
    if L.ATTR_FORMAT not in a:
        ctx.add("E010", f"/@{L.ATTR_FORMAT}",
                f"HDF5 file without the strfh5 marker: root attribute '{L.ATTR_FORMAT}' = "
                f"'{L.FORMAT_NAME}' is missing; not a strfh5 file, nothing else checked")
        return False
    try:
        fmt = decode(a[L.ATTR_FORMAT])
    except Exception:  # noqa: BLE001
        fmt = None
    if fmt != L.FORMAT_NAME:
        ctx.add("E010", f"/@{L.ATTR_FORMAT}",
                f"root attribute '{L.ATTR_FORMAT}' is {fmt!r}, expected '{L.FORMAT_NAME}'; "
                "nothing else checked")
        return False
    if L.ATTR_VERSION not in a:
        ctx.add("E011", f"/@{L.ATTR_VERSION}",
                f"root attribute '{L.ATTR_VERSION}' is missing; checked as format {L.FORMAT_VERSION_STR}")
        return True
    try:
        aid = a.get_id(L.ATTR_VERSION)
        if not is_string_dtype(aid.dtype) or aid.shape != ():
            raise ValueError("not a scalar string")  # a stored number is not a version string (SPEC §2)
        text = decode(a[L.ATTR_VERSION])
        major, minor = L.parse_version(text)
    except Exception:  # noqa: BLE001
        ctx.add("E012", f"/@{L.ATTR_VERSION}",
                f"'{L.ATTR_VERSION}' = {a.get(L.ATTR_VERSION)!r} is not a 'MAJOR.MINOR' string "
                f"such as '{L.FORMAT_VERSION_STR}'; checked as format {L.FORMAT_VERSION_STR}")
        return True
    ctx.info["version"] = f"{major}.{minor}"
    if major > L.FORMAT_VERSION[0]:
        ctx.add("E013", f"/@{L.ATTR_VERSION}",
                f"file is strfh5 format {major}.{minor}; strfh5 {__version__} reads format "
                f"{L.FORMAT_VERSION[0]}.x only: install a release that reads format {major}.x "
                f"(pip install 'strfh5>={major}'); nothing else checked")
        return False
    if major < 1:
        ctx.add("E014", f"/@{L.ATTR_VERSION}",
                f"format version {major}.{minor} predates 1.0 (pre-release files are not supported)")
        return False
    if (major, minor) > L.FORMAT_VERSION:
        ctx.add("W015", f"/@{L.ATTR_VERSION}",
                f"file is strfh5 format {major}.{minor}, newer than {L.FORMAT_VERSION_STR}: it is checked "
                f"against the {L.FORMAT_VERSION_STR} rules and objects this library does not know are ignored")
    ctx.version = (major, minor)
    return True
