"""Opening a strfh5 file: the checks made before anything else is read (SPEC §2, §3, §9).

:func:`open_file` refuses what is not a regular HDF5 file with the strfh5
markers and a major version this library reads, and checks every virtual
source and external link (:mod:`strfh5.h5io.sources`) before returning.
"""

from __future__ import annotations

import os
import stat
import warnings

import h5py
import numpy as np

from .. import layout as L
from ..errors import CorruptDataError, FileFormatError, MissingObjectError, NotStrfH5FileError, SourceFileError, \
    StrfH5Error, UnsupportedVersionError
from ..version import __version__
from ..heapcheck import check_global_heaps
from . import remote
from .fileobjects import GcPausedFile
from .checks import unwritten
from .heaps import check_attributes, check_values, mark_scanned
from .sources import check_sources
from .values import attr_str

__all__ = ["open_file", "check_version", "require_dataset", "require_object", "require_attr", "has_attr"]


def check_version(text, path: str) -> tuple[int, int]:
    """Check a file's format version against this library (SPEC §2)."""
    raw = text[()] if isinstance(text, np.ndarray) and text.shape == () else text
    try:
        if not isinstance(raw, (str, bytes)):  # SPEC 1.1 §2: a number is not a version string
            raise ValueError(f"format version {raw!r} is stored as {type(raw).__name__}, not a string")
        major, minor = L.parse_version(attr_str(raw))
    except (ValueError, UnicodeDecodeError) as e:
        raise NotStrfH5FileError(f"{path}: {e}") from None
    if major > L.FORMAT_VERSION[0]:
        raise UnsupportedVersionError(
            f"{path} is strfh5 format {major}.{minor}; strfh5 {__version__} reads format "
            f"{L.FORMAT_VERSION[0]}.x only. Install a strfh5 release that reads format "
            f"{major}.x (pip install 'strfh5>={major}')."
        )
    if major < 1:
        raise UnsupportedVersionError(f"{path}: format version {major}.{minor} predates 1.0")
    if (major, minor) > L.FORMAT_VERSION:
        warnings.warn(
            f"{path} is strfh5 format {major}.{minor}, newer than {L.FORMAT_VERSION_STR}: "
            "objects this library does not know are ignored.",
            stacklevel=3,
        )
    return major, minor


def open_file(path, *, allow_external: bool = False, mode: str = "r", scan_heaps: bool = False) -> h5py.File:
    """Open ``path`` as a strfh5 file, checking markers, version and sources.

    Parameters
    ----------
    path : str or os.PathLike
        A file path. File objects are refused for concatenated files (HDF5
        crashes resolving virtual sources through Python file objects).
    allow_external : bool
        Allow a concatenated file whose sources are absolute or leave its folder.
    scan_heaps : bool
        Check every global heap collection of the file before HDF5 reads any
        string or VLEN value (:func:`strfh5.heapcheck.check_global_heaps`:
        a zeroed collection makes HDF5 loop forever).  Linear in the file
        size, so readers that read the whole file anyway (eager loads, info,
        materialize) ask for it; a lazy open checks instead only the heap
        objects of what it reads (:mod:`strfh5.h5io.heaps`): the root
        attributes here, tables in :func:`require_dataset`, rows as they are read.
    """
    if remote.is_url(path):  # http(s): a range-request file object; concatenated files refused there
        path = remote.open_remote(path, mode)
    if hasattr(path, "read") and not isinstance(path, (str, os.PathLike)):
        if not isinstance(path, GcPausedFile):  # a file object reading on a service thread cannot deadlock h5py
            path = GcPausedFile(path)
        f = _h5_open(path, mode)
        name = getattr(path, "name", repr(path))
        _check_markers(f, str(name))
        if f.attrs.get(L.ATTR_CONCATENATED, False):
            f.close()
            raise FileFormatError(
                f"{name}: a concatenated strfh5 file must be opened by path, not through a "
                "Python file object (HDF5 cannot resolve its virtual sources safely that way)"
            )
        try:
            check_sources(f, str(name))  # a plain file: no virtual datasets, no external links
        except BaseException:
            f.close()
            raise
        return f
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    if os.path.isdir(path):
        raise NotStrfH5FileError(f"{path}: is a directory, not a strfh5 file")
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise NotStrfH5FileError(f"{path}: not a regular file (HDF5 would hang reading a FIFO or device)")
    if not h5py.is_hdf5(path):
        raise NotStrfH5FileError(f"{path}: not an HDF5 file (no HDF5 signature)")
    problems = check_global_heaps(path) if scan_heaps else []
    if problems:
        raise CorruptDataError(f"{path}: corrupt variable-length data heap ({problems[0]}); HDF5 cannot read it safely")
    f = _h5_open(path, mode)
    try:
        if scan_heaps:
            mark_scanned(path, f)
        else:  # the root attributes' heap objects, before HDF5 reads any (a fixed cost)
            check_attributes(f, path)
        _check_markers(f, path)
        # concatenated files: sources checked (SPEC §9); plain files: no virtual datasets or external links
        check_sources(f, path, allow_external=allow_external)
    except (RuntimeError, KeyError, ValueError, TypeError, OSError) as e:
        f.close()
        if isinstance(e, StrfH5Error):
            raise
        raise CorruptDataError(f"{path}: the root group cannot be read ({type(e).__name__}: {e})") from None
    except BaseException:
        f.close()
        raise
    return f


def _h5_open(path, mode):
    try:
        return h5py.File(path, mode)
    except OSError as e:
        name = getattr(path, "name", path)
        if "already open" in str(e):
            raise FileFormatError(
                f"{name}: cannot be opened with mode {mode!r}: this process already has it open in another mode "
                "(a lazy dataset or FileContents?) — close it first (ds.close() or a `with` block)"
            ) from None
        raise NotStrfH5FileError(f"{name}: cannot be opened as HDF5 ({e})") from None


def _check_markers(f: h5py.File, path: str) -> None:
    fmt = f.attrs.get(L.ATTR_FORMAT)
    if fmt is None or attr_str(fmt) != L.FORMAT_NAME:
        raise NotStrfH5FileError(
            f"{path}: HDF5 file without the strfh5 marker (root attribute "
            f"'{L.ATTR_FORMAT}' = '{L.FORMAT_NAME}' is missing)"
        )
    if L.ATTR_VERSION not in f.attrs:
        raise MissingObjectError(f"{path}: root attribute '{L.ATTR_VERSION}' is missing")
    check_version(f.attrs[L.ATTR_VERSION], path)
    if L.ATTR_CONCATENATED in f.attrs:  # SPEC 1.1 §3.1: present only as TRUE
        flag = np.asarray(f.attrs[L.ATTR_CONCATENATED])
        if flag.shape != () or flag.dtype.kind not in "biu" or int(flag) != 1:
            raise FileFormatError(
                f"{path}: root attribute '{L.ATTR_CONCATENATED}' = {flag!r}; it is present only in "
                "concatenated files and then TRUE (a file with it FALSE is refused)"
            )


def require_dataset(f: h5py.File, name: str, path: str, *, kinds: str | None = None, ndim: int | None = None,
                    virtual_ok: bool = False, complete: bool = True) -> h5py.Dataset:
    """Dataset ``/name``, checked before anything in it is read (SPEC 1.1 §12.1).

    Every component of the path must be a hard link (soft and external links
    are never followed), the object a dataset (not virtual unless
    ``virtual_ok``), of a dtype kind in ``kinds`` (``"S"`` for strings), with
    ``ndim`` dimensions, and its declared size must be backed by storage the
    file actually holds (``complete``; the (S, N) datasets are exempt: their
    unwritten cells read as the fill value, "not recorded").

    Raises
    ------
    MissingObjectError, FileFormatError, CorruptDataError
    """
    g = f
    parts = name.strip("/").split("/")
    for i, part in enumerate(parts):
        link = g.get(part, getlink=True)
        where = "/" + "/".join(parts[: i + 1])
        if link is None:
            raise MissingObjectError(f"{path}: required object '{where}' is missing")
        if not isinstance(link, h5py.HardLink):
            kind = "an external" if isinstance(link, h5py.ExternalLink) else "a soft"
            raise FileFormatError(f"{path}: '{where}' is {kind} link; strfh5 objects are stored in the file itself "
                                  "and links are not followed")
        try:
            g = g[part]
        except (KeyError, OSError, ValueError) as e:
            raise CorruptDataError(f"{path}: '{where}' cannot be opened ({e})") from None
    if not isinstance(g, h5py.Dataset):
        raise FileFormatError(f"{path}: '/{name}' is a group; a dataset belongs there")
    if g.is_virtual and not virtual_ok:
        raise SourceFileError(f"{path}: '/{name}' is a virtual dataset in a file that is not concatenated; "
                              "its sources are not followed")
    _check_type(g, name, path, kinds, ndim)
    why = None if g.is_virtual or not complete else unwritten(g)
    if why:
        raise CorruptDataError(f"{path}: '/{name}' {why}")
    if g.ndim < 2:  # tables and scalars are read whole: their heap objects checked now; (S, N) rows as read
        check_values(g, path)
    return g


def _check_type(ds: h5py.Dataset, name: str, path: str, kinds: str | None, ndim: int | None) -> None:
    if ndim is not None and ds.ndim != ndim:
        raise CorruptDataError(f"{path}: '/{name}' has {ds.ndim} dimensions {ds.shape}, expected {ndim}")
    if kinds is None:
        return
    is_str = h5py.check_string_dtype(ds.dtype) is not None
    kind = "S" if is_str else ("V" if h5py.check_vlen_dtype(ds.dtype) is not None else ds.dtype.kind)
    if kind not in kinds or ds.dtype.fields is not None:
        raise CorruptDataError(f"{path}: '/{name}' holds {ds.dtype}, which SPEC does not allow there")


def require_object(f: h5py.File, name: str, path: str):
    """Object ``/name``, its attributes' heap objects checked (:func:`strfh5.h5io.heaps.check_attributes`)."""
    try:
        obj = f[name]
    except KeyError:
        raise MissingObjectError(f"{path}: required object '/{name}' is missing or cannot be opened") from None
    except (RuntimeError, ValueError) as e:
        raise CorruptDataError(f"{path}: '/{name}' cannot be opened ({e})") from None
    check_attributes(obj, path)
    return obj


def has_attr(obj, name: str, path: str) -> bool:
    """Whether ``obj`` has attribute ``name``; CorruptDataError when HDF5 cannot decode its attributes."""
    try:
        return name in obj.attrs
    except (RuntimeError, OSError, ValueError, KeyError) as e:
        raise CorruptDataError(f"{path}: the attributes of '{obj.name}' cannot be read ({type(e).__name__}: {e})") \
            from None


def require_attr(obj, name: str, path: str):
    try:
        return obj.attrs[name]
    except KeyError:
        raise MissingObjectError(f"{path}: required attribute '{obj.name}@{name}' is missing") from None
    except (RuntimeError, OSError, ValueError, TypeError) as e:  # a corrupt object header or attribute message
        raise CorruptDataError(f"{path}: attribute '{obj.name}@{name}' cannot be read ({type(e).__name__}: {e})") \
            from None
