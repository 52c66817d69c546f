"""Concatenated files: on-disk concatenation through HDF5 virtual datasets (SPEC §9).

:func:`concat` writes a small file whose ``/responses``, ``/repeats`` (and
``/counts``) are HDF5 virtual datasets mapping each source's block onto the
block diagonal of the result, whose ``/stimuli/<i>`` are external links to the
sources' stimulus groups, and whose tables (ids, metadata, ``n_bins``) are
copied.  It holds no response data, so its size and the time to make it do not
grow with the sources' size.  ``/sources`` records, for each source, its path
relative to the concatenated file's folder, its UUID, the rows of the file its
stimuli occupy and the columns its neurons occupy.

HDF5 reads an unmapped region and a *missing* virtual source alike, as fill
values, without an error (HDF5 issue 5088); it resolves virtual sources and
external links against whatever path they name; and a FIFO source makes it
hang.  :func:`check_sources` (called by :func:`strfh5.h5io.open_file` for every
file) therefore checks, before any data are read, that each source path stays
in the file's folder, exists, is a regular strfh5 file with the recorded UUID,
shape and dtype, and that every virtual mapping and external link of the file
targets one of those recorded sources.  :func:`source_findings` reports the same
checks as validator findings (codes ``E9xx``).

:func:`materialize` writes a self-contained copy (real datasets, digests, no
links) of a concatenated file.
"""

from __future__ import annotations

import json
import os
import posixpath
import stat
import uuid as _uuid
from dataclasses import dataclass, field
from typing import Iterator, NamedTuple, Sequence

import h5py
import numpy as np

from . import layout as L
from . import schema as _schema
from .concatenation import check_compatible, check_duplicate_neurons, shared_stimulus_ids
from .errors import (
    CorruptDataError,
    IncompatibleDatasetsError,
    InvalidDataError,
    MissingObjectError,
    SourceFileError,
    UnsafeSourcePathError,
)
from .leftovers import clean_leftovers

__all__ = [
    "concat",
    "materialize",
    "check_sources",
    "source_findings",
    "read_sources",
    "resolve_source_path",
    "SourceRecord",
]

_STR = h5py.string_dtype("utf-8")
#: environment variables that make HDF5 resolve virtual sources / external links elsewhere
PREFIX_ENV_VARS = ("HDF5_VDS_PREFIX", "HDF5_EXT_PREFIX")
#: the (S, N) datasets of a concatenated file that are virtual
VIRTUAL_DATASETS = (L.RESPONSES, L.REPEATS, L.COUNTS)
_TABLE_NAMES = ("ids", "metadata", "n_bins")


# ------------------------------------------------------------------ records
@dataclass
class SourceRecord:
    """One source of a concatenated file, as recorded in ``/sources``.

    Attributes
    ----------
    index : int
        Position of the source in ``/sources``.
    path : str
        The recorded path (POSIX, relative to the concatenated file's folder).
    resolved : str
        The absolute path it resolves to on this machine.
    uuid : str
        The UUID the source carried when the concatenation was made.
    stim_rows : numpy.ndarray
        For each stimulus row of the source, the row of the concatenated file.
    neuron_offset, n_neurons : int
        The source's neurons are the columns ``[neuron_offset, neuron_offset + n_neurons)``.
    """

    index: int
    path: str
    resolved: str
    uuid: str
    stim_rows: np.ndarray
    neuron_offset: int
    n_neurons: int

    @property
    def n_stims(self) -> int:
        return int(self.stim_rows.size)


class _Finding(NamedTuple):
    code: str
    check: str
    obj: str
    message: str
    exc: type


# ------------------------------------------------------------- path policy
def _escape_vds_name(name: str) -> str:
    # HDF5 expands printf-like '%b' in virtual source file names; '%%' is a literal '%'.
    return name.replace("%", "%%")


def _unescape_vds_name(name: str) -> str:
    return name.replace("%%", "%")


def resolve_source_path(recorded: str, folder: str, allow_external: bool = False) -> tuple[str, str | None]:
    """Resolve a recorded source path against a concatenated file's folder.

    Parameters
    ----------
    recorded : str
        The path as stored (POSIX separators).
    folder : str
        The folder of the concatenated file.
    allow_external : bool
        Accept absolute paths and paths leaving ``folder``.

    Returns
    -------
    resolved : str
        Absolute, normalised path.
    problem : str or None
        Why the path is refused under the policy of SPEC §9, or None.
    """
    text = str(recorded)
    if not text or text.strip() != text or "\x00" in text:
        return "", f"source path {text!r} is empty or malformed"
    if "\\" in text:
        return "", f"source path {text!r} contains a backslash (source paths use '/' separators)"
    is_abs = text.startswith("/") or (len(text) > 1 and text[1] == ":")
    norm = posixpath.normpath(text)
    if is_abs:
        resolved = os.path.normpath(text)
        if not allow_external:
            return resolved, f"source path {text!r} is absolute"
        return resolved, None
    resolved = os.path.normpath(os.path.join(os.path.abspath(folder), *norm.split("/")))
    if norm == "." or norm.endswith("/.."):
        return resolved, f"source path {text!r} does not name a file"
    if norm == ".." or norm.startswith("../"):
        if not allow_external:
            return resolved, f"source path {text!r} leaves the folder of the concatenated file"
    return resolved, None


def _relative_source_path(src_abs: str, out_dir: str, allow_external: bool) -> str:
    """The POSIX path recorded for ``src_abs`` in a file written in ``out_dir``."""
    try:
        rel = os.path.relpath(src_abs, out_dir)
    except ValueError:  # another drive (Windows)
        rel = None
    if rel is not None:
        rel = rel.replace(os.sep, "/")
    leaves = rel is None or rel == ".." or rel.startswith("../")
    if leaves and not allow_external:
        raise UnsafeSourcePathError(
            f"{src_abs} is outside the folder of the output ({out_dir}): a concatenated file refers to its "
            "sources by paths relative to its own folder, and readers refuse paths leaving it. Write the "
            "output in a folder that contains the sources, or pass allow_external=True (--allow-external; "
            "readers then need allow_external=True too)"
        )
    if rel is None:
        return os.path.abspath(src_abs).replace(os.sep, "/")
    return rel


# --------------------------------------------------------------- /sources
def read_sources(f: h5py.File, path: str, allow_external: bool = True) -> list[SourceRecord]:
    """The sources recorded in ``/sources`` of a concatenated file.

    Only the tables are read and checked for consistency; the source files are
    not opened (see :func:`check_sources`).  ``resolved`` is filled whatever the
    path policy; use ``allow_external=False`` to raise on unsafe paths.

    Raises
    ------
    MissingObjectError, CorruptDataError
        When ``/sources`` is absent or inconsistent with the file's shape.
    UnsafeSourcePathError
        When a path breaks the policy and ``allow_external`` is False.
    """
    for name in (L.SOURCE_PATHS, L.SOURCE_UUIDS, L.SOURCE_STIM_OFFSETS, L.SOURCE_STIM_ROWS, L.SOURCE_NEURON_OFFSETS):
        obj = f.get(name, getlink=True)
        if obj is None:
            raise MissingObjectError(f"{path}: concatenated file without '/{name}' (SPEC §9)")
        if not isinstance(obj, h5py.HardLink):
            raise CorruptDataError(f"{path}: '/{name}' must be a dataset of the file itself, not a link")
    try:
        paths = [_as_str(x) for x in f[L.SOURCE_PATHS][()].reshape(-1)]
        uuids = [_as_str(x) for x in f[L.SOURCE_UUIDS][()].reshape(-1)]
        stim_off = np.asarray(f[L.SOURCE_STIM_OFFSETS][()], dtype=np.int64).reshape(-1)
        rows = np.asarray(f[L.SOURCE_STIM_ROWS][()], dtype=np.int64).reshape(-1)
        nrn_off = np.asarray(f[L.SOURCE_NEURON_OFFSETS][()], dtype=np.int64).reshape(-1)
    except (TypeError, ValueError, OSError) as e:
        raise CorruptDataError(f"{path}: '/{L.SOURCES}' tables cannot be read ({e})") from None
    K = len(paths)
    S, N = _file_shape(f, path)
    problems = []
    if len(uuids) != K:
        problems.append(f"/{L.SOURCE_UUIDS} has {len(uuids)} entries for {K} paths")
    for name, off, total in ((L.SOURCE_STIM_OFFSETS, stim_off, rows.size), (L.SOURCE_NEURON_OFFSETS, nrn_off, N)):
        if off.size != K + 1 or (off.size and (off[0] != 0 or off[-1] != total or np.any(np.diff(off) < 0))):
            problems.append(f"/{name} must hold K + 1 = {K + 1} non-decreasing offsets from 0 to {total}")
    if rows.size and (rows.min() < 0 or rows.max() >= S):
        problems.append(f"/{L.SOURCE_STIM_ROWS} holds rows outside [0, {S})")
    elif S and np.unique(rows).size != S:
        problems.append(f"/{L.SOURCE_STIM_ROWS} does not cover every one of the {S} stimulus rows")
    if problems:
        raise CorruptDataError(f"{path}: inconsistent /{L.SOURCES}: " + "; ".join(problems))
    folder = os.path.dirname(os.path.abspath(path))
    out = []
    for k in range(K):
        resolved, problem = resolve_source_path(paths[k], folder, allow_external)
        if problem and not allow_external:
            raise UnsafeSourcePathError(f"{path}: source {k}: {problem} (pass allow_external=True to accept it)")
        out.append(
            SourceRecord(
                index=k,
                path=paths[k],
                resolved=resolved,
                uuid=uuids[k],
                stim_rows=rows[stim_off[k] : stim_off[k + 1]],
                neuron_offset=int(nrn_off[k]),
                n_neurons=int(nrn_off[k + 1] - nrn_off[k]),
            )
        )
    return out


def _as_str(x) -> str:
    return x.decode("utf-8") if isinstance(x, bytes) else str(x)


def _file_shape(f: h5py.File, path: str) -> tuple[int, int]:
    try:
        S = int(f[L.STIM_IDS].shape[0])
        N = int(f[L.NEURON_IDS].shape[0])
    except KeyError:
        raise MissingObjectError(f"{path}: /{L.STIM_IDS} or /{L.NEURON_IDS} is missing") from None
    return S, N


# ------------------------------------------------------------------ checks
def _link_type(group, name: str) -> int:
    return group.id.links.get_info(name.encode("utf-8")).type


def _iter_links(group) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []

    def cb(name, info):
        out.append((name.decode("utf-8", "replace"), info.type))

    group.id.links.iterate(cb, info=True)
    return out


def _external_links(f: h5py.File, deep: bool) -> Iterator[tuple[str, str, str]]:
    """(object path, target file, target object) of external links in the groups a reader follows."""
    groups = ["/", f"/{L.STIMULI}", f"/{L.NEURONS}", f"/{L.INTEGRITY}", f"/{L.SOURCES}"]
    seen = set()
    while groups:
        gname = groups.pop(0)
        if gname in seen:
            continue
        seen.add(gname)
        link = f.get(gname, getlink=True) if gname != "/" else h5py.HardLink()
        if not isinstance(link, h5py.HardLink):
            continue  # a link to a group is reported where it is found
        g = f.get(gname)
        if not isinstance(g, h5py.Group):
            continue
        for name, typ in _iter_links(g):
            child = posixpath.join(gname, name)
            if typ == h5py.h5l.TYPE_EXTERNAL:
                fname, obj = g.id.links.get_val(name.encode("utf-8"))
                yield child, _as_str(fname), _as_str(obj)
            elif typ == h5py.h5l.TYPE_HARD and deep and isinstance(g.get(name), h5py.Group):
                groups.append(child)


def _plain_file_findings(f: h5py.File, path: str, deep: bool = False) -> Iterator[_Finding]:
    """A file not marked concatenated must not have virtual datasets or external links."""
    for name in VIRTUAL_DATASETS:
        link = f.get(name, getlink=True)
        if isinstance(link, h5py.ExternalLink):
            yield _Finding("E911", "links.plain", f"/{name}", f"{path}: /{name} is an external link to "
                           f"{link.filename!r}; strfh5 files hold their responses themselves", SourceFileError)
            continue
        ds = f.get(name) if isinstance(link, h5py.HardLink) else None
        if isinstance(ds, h5py.Dataset) and ds.is_virtual:
            targets = sorted({_unescape_vds_name(m.file_name) for m in ds.virtual_sources()})
            yield _Finding("E911", "links.plain", f"/{name}",
                           f"{path}: /{name} is a virtual dataset (sources {targets}) but the file is not marked "
                           f"concatenated (root attribute '{L.ATTR_CONCATENATED}'); refusing to follow its sources",
                           SourceFileError)
    for obj, fname, _target in _external_links(f, deep):
        yield _Finding("E911", "links.plain", obj,
                       f"{path}: {obj} is an external link to {fname!r} but the file is not marked concatenated; "
                       "refusing to follow it", SourceFileError)


def _source_file_findings(rec: SourceRecord, path: str, encoding: str, vdtypes: dict,
                          deep: bool = False) -> Iterator[_Finding]:
    obj = f"/{L.SOURCES}[{rec.index}]"
    name = f"{path}: source {rec.index} {rec.path!r} ({rec.resolved})"
    try:
        st = os.stat(rec.resolved)
    except FileNotFoundError:
        yield _Finding("E902", "sources.exists", obj,
                       f"{name} is missing. HDF5 would silently read its blocks as not recorded; put the source "
                       "back next to the concatenated file (same relative path) or re-run strfh5 concat",
                       SourceFileError)
        return
    except OSError as e:
        yield _Finding("E902", "sources.exists", obj, f"{name} cannot be accessed ({e.strerror})", SourceFileError)
        return
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "a FIFO" if stat.S_ISFIFO(st.st_mode) else \
            "not a regular file"
        yield _Finding("E903", "sources.regular", obj, f"{name} is {kind}, not a regular HDF5 file", SourceFileError)
        return
    try:
        ok = h5py.is_hdf5(rec.resolved)
    except OSError:
        ok = False
    if not ok:
        yield _Finding("E904", "sources.strfh5", obj, f"{name} is not an HDF5 file", SourceFileError)
        return
    try:
        src = h5py.File(rec.resolved, "r")
    except OSError as e:
        yield _Finding("E904", "sources.strfh5", obj, f"{name} cannot be opened as HDF5 ({e})", SourceFileError)
        return
    with src:
        from .h5io import attr_str

        fmt = src.attrs.get(L.ATTR_FORMAT)
        if fmt is None or attr_str(fmt) != L.FORMAT_NAME:
            yield _Finding("E904", "sources.strfh5", obj, f"{name} is HDF5 without the strfh5 markers",
                           SourceFileError)
            return
        try:
            major, _minor = L.parse_version(attr_str(src.attrs.get(L.ATTR_VERSION, "")))
        except ValueError as e:
            yield _Finding("E904", "sources.strfh5", obj, f"{name}: {e}", SourceFileError)
            return
        if major != L.FORMAT_VERSION[0]:
            yield _Finding("E904", "sources.strfh5", obj,
                           f"{name} is strfh5 format {major}.x; this library reads {L.FORMAT_VERSION[0]}.x",
                           SourceFileError)
            return
        if bool(src.attrs.get(L.ATTR_CONCATENATED, False)):
            yield _Finding("E910", "sources.flat", obj,
                           f"{name} is itself a concatenated file; the sources of a concatenated file are plain "
                           "strfh5 files (strfh5 concat flattens nested concatenations)", SourceFileError)
            return
        uid = attr_str(src.attrs.get(L.ATTR_UUID, ""))
        if uid != rec.uuid:
            yield _Finding("E905", "sources.uuid", obj,
                           f"{name} has uuid {uid!r}, but the concatenated file was made from uuid {rec.uuid!r}: "
                           "the source was replaced or rewritten since; re-run strfh5 concat on the current files",
                           SourceFileError)
            return
        names = (L.RESPONSES, L.REPEATS) + ((L.COUNTS,) if encoding == L.ENCODING_EVENTS else ())
        for dname in names:
            ds = src.get(dname)
            if not isinstance(ds, h5py.Dataset):
                yield _Finding("E906", "sources.shape", obj, f"{name}: /{dname} is missing", SourceFileError)
                continue
            if ds.shape != (rec.n_stims, rec.n_neurons):
                yield _Finding("E906", "sources.shape", obj,
                               f"{name}: /{dname} has shape {ds.shape}, the concatenated file maps "
                               f"{(rec.n_stims, rec.n_neurons)}", SourceFileError)
                continue
            want = vdtypes.get(dname)
            have = h5py.check_vlen_dtype(ds.dtype) if dname != L.REPEATS else ds.dtype
            if have is None or want is None or not _widens(np.dtype(have), np.dtype(want)):
                yield _Finding("E906", "sources.dtype", obj,
                               f"{name}: /{dname} holds {have}, which the concatenated file's {want} cannot "
                               "hold without loss", SourceFileError)
        for finding in _plain_file_findings(src, name, deep=deep):
            yield finding._replace(obj=obj, code="E911")


def _widens(have: np.dtype, want: np.dtype) -> bool:
    return have.kind == want.kind and have.itemsize <= want.itemsize


def _iter_findings(f: h5py.File, path: str, allow_external: bool, deep: bool) -> Iterator[_Finding]:
    path = os.fspath(path)
    if not bool(f.attrs.get(L.ATTR_CONCATENATED, False)):
        yield from _plain_file_findings(f, path, deep=deep)
        return
    if not allow_external:
        for var in PREFIX_ENV_VARS:
            if os.environ.get(var):
                yield _Finding("E912", "sources.path", "/",
                               f"{path}: the environment variable {var} is set, so HDF5 would resolve the "
                               "concatenated file's sources against it rather than the file's folder; unset it "
                               "or pass allow_external=True", UnsafeSourcePathError)
                return
    try:
        records = read_sources(f, path, allow_external=True)
    except (MissingObjectError, CorruptDataError) as e:
        yield _Finding("E909", "sources.table", f"/{L.SOURCES}", str(e), type(e))
        return
    from .h5io import attr_str

    encoding = attr_str(f.attrs.get(L.ATTR_ENCODING, ""))
    S, N = _file_shape(f, path)
    folder = os.path.dirname(os.path.abspath(path))
    allowed: dict[str, str] = {}  # recorded path -> resolved
    safe: list[SourceRecord] = []
    for rec in records:
        _resolved, problem = resolve_source_path(rec.path, folder, allow_external)
        if problem:
            yield _Finding("E901", "sources.path", f"/{L.SOURCES}[{rec.index}]",
                           f"{path}: source {rec.index}: {problem}; a shared file must not make a reader open "
                           "arbitrary paths (pass allow_external=True to accept it)", UnsafeSourcePathError)
            continue
        allowed[posixpath.normpath(rec.path)] = rec.resolved
        safe.append(rec)
    # virtual mappings and links must target recorded sources only
    vdtypes = {}
    names = (L.RESPONSES, L.REPEATS) + ((L.COUNTS,) if encoding == L.ENCODING_EVENTS else ())
    for dname in names:
        link = f.get(dname, getlink=True)
        ds = f.get(dname) if isinstance(link, h5py.HardLink) else None
        if not isinstance(ds, h5py.Dataset):
            yield _Finding("E907", "sources.mapping", f"/{dname}",
                           f"{path}: /{dname} is missing or is a link, not a dataset", CorruptDataError)
            continue
        vdtypes[dname] = h5py.check_vlen_dtype(ds.dtype) if dname != L.REPEATS else ds.dtype
        if ds.shape != (S, N):
            yield _Finding("E907", "sources.mapping", f"/{dname}",
                           f"{path}: /{dname} has shape {ds.shape}, expected (S, N) = {(S, N)}", CorruptDataError)
        if not ds.is_virtual:
            if ds.size:
                yield _Finding("E907", "sources.mapping", f"/{dname}",
                               f"{path}: /{dname} of a concatenated file must be a virtual dataset", CorruptDataError)
            continue
        for m in ds.virtual_sources():
            fname = _unescape_vds_name(m.file_name)
            target = m.dset_name.lstrip("/")
            if posixpath.normpath(fname) not in allowed or fname in (".", ""):
                _r, problem = resolve_source_path(fname, folder, allow_external)
                why = f"({problem})" if problem else "(not a source recorded in /sources)"
                yield _Finding("E907", "sources.mapping", f"/{dname}",
                               f"{path}: /{dname} maps virtual source file {fname!r} {why}; refusing to read it",
                               UnsafeSourcePathError if problem else SourceFileError)
            elif target != dname:
                yield _Finding("E907", "sources.mapping", f"/{dname}",
                               f"{path}: /{dname} maps '/{target}' of {fname!r}; it must map '/{dname}'",
                               CorruptDataError)
    for obj, fname, target in _external_links(f, deep=False):
        parent, name = posixpath.split(obj)
        if posixpath.normpath(fname) not in allowed:
            _r, problem = resolve_source_path(fname, folder, allow_external)
            yield _Finding("E908", "sources.links", obj,
                           f"{path}: {obj} is an external link to {fname!r}, which is "
                           + ("outside the file's folder" if problem else "not a source recorded in /sources"),
                           UnsafeSourcePathError if problem else SourceFileError)
        elif parent != f"/{L.STIMULI}" or not L.is_stim_group_name(name):
            yield _Finding("E908", "sources.links", obj,
                           f"{path}: {obj} is an external link; only /{L.STIMULI}/<index> groups are linked",
                           CorruptDataError)
        else:
            tparent, tname = posixpath.split(target)
            if tparent != f"/{L.STIMULI}" or not L.is_stim_group_name(tname):
                yield _Finding("E908", "sources.links", obj,
                               f"{path}: {obj} links to {target!r} in {fname!r}; expected a /{L.STIMULI}/<index> group",
                               CorruptDataError)
    stim = f.get(L.STIMULI)
    if isinstance(stim, h5py.Group):
        have = {n for n, _t in _iter_links(stim)}
        missing = [i for i in range(S) if L.stim_group_name(i) not in have]
        if missing:
            yield _Finding("E908", "sources.links", f"/{L.STIMULI}",
                           f"{path}: /{L.STIMULI} lacks the groups (links) of stimuli {missing[:10]}", CorruptDataError)
    for rec in safe:
        yield from _source_file_findings(rec, path, encoding, vdtypes, deep=deep)


def check_sources(f: h5py.File, path, allow_external: bool = False) -> None:
    """Check a file's virtual sources and links before any data are read (SPEC §9).

    For a concatenated file: every recorded source path must stay in the
    file's folder (unless ``allow_external``), exist, be a regular strfh5 file
    (checked with ``os.stat`` first: a FIFO would hang HDF5) that is not itself
    concatenated, carry the recorded UUID, and have the mapped shapes and a
    dtype the file's virtual datasets hold without loss; every virtual mapping
    and external link of the file must target a recorded source.  A file not
    marked concatenated must have neither virtual datasets nor external links.

    Raises
    ------
    UnsafeSourcePathError
        A path is absolute or leaves the folder (and ``allow_external`` is False).
    SourceFileError
        A source is missing, not a regular strfh5 file, or was replaced.
    CorruptDataError, MissingObjectError
        ``/sources`` or the virtual datasets are malformed.
    """
    for finding in _iter_findings(f, os.fspath(path), allow_external, deep=False):
        raise finding.exc(finding.message)


def source_findings(f: h5py.File, path, allow_external: bool = False) -> list[tuple[str, str, str, str, str]]:
    """The checks of :func:`check_sources` as validator findings.

    Returns
    -------
    list of (code, severity, check, object_path, message)
        Every problem found (codes ``E901``–``E912``, severity ``"error"``);
        empty when the file's sources are sound.  Unlike :func:`check_sources`,
        nested groups are searched for external links too.
    """
    return [(x.code, "error", x.check, x.obj, x.message)
            for x in _iter_findings(f, os.fspath(path), allow_external, deep=True)]


# ------------------------------------------------------------------ concat
@dataclass
class _Leaf:
    abs: str
    uuid: str
    stim_rows: np.ndarray  # rows of the *input* file
    neuron_offset: int  # within the input
    n_neurons: int
    dtypes: dict  # dataset name -> base dtype
    metadata: dict
    transform: dict | None


@dataclass
class _Input:
    pos: int
    path: str
    f: h5py.File
    info: object
    stim_ids: list
    stim_meta_raw: list
    n_bins: np.ndarray
    neuron_ids: list
    nrn_meta_raw: list
    leaves: list = field(default_factory=list)


def _leaf_facts(f: h5py.File, path: str) -> tuple[dict, dict, dict | None]:
    from .h5io import read_info

    info = read_info(f, path)
    dtypes = {L.RESPONSES: h5py.check_vlen_dtype(f[L.RESPONSES].dtype), L.REPEATS: f[L.REPEATS].dtype}
    if info.encoding == L.ENCODING_EVENTS:
        dtypes[L.COUNTS] = h5py.check_vlen_dtype(f[L.COUNTS].dtype)
    return dtypes, info.metadata, info.transform


def _read_input(pos: int, path: str, allow_external: bool) -> _Input:
    from .h5io import open_file, read_info, read_strings

    f = open_file(path, allow_external=allow_external)
    try:
        info = read_info(f, path)
        inp = _Input(
            pos=pos,
            path=path,
            f=f,
            info=info,
            stim_ids=read_strings(f[L.STIM_IDS]),
            stim_meta_raw=read_strings(f[L.STIM_METADATA]),
            n_bins=np.asarray(f[L.STIM_N_BINS][()], dtype=np.int64).reshape(-1),
            neuron_ids=read_strings(f[L.NEURON_IDS]),
            nrn_meta_raw=read_strings(f[L.NEURON_METADATA]),
        )
        S, N = len(inp.stim_ids), len(inp.neuron_ids)
        if len(inp.stim_meta_raw) != S or inp.n_bins.size != S or len(inp.nrn_meta_raw) != N:
            raise CorruptDataError(f"{path}: the stimulus/neuron tables have inconsistent lengths")
        if info.concatenated:
            for rec in read_sources(f, path, allow_external=allow_external):
                with h5py.File(rec.resolved, "r") as lf:
                    dtypes, meta, transform = _leaf_facts(lf, rec.resolved)
                inp.leaves.append(_Leaf(rec.resolved, rec.uuid, rec.stim_rows, rec.neuron_offset, rec.n_neurons,
                                        dtypes, meta, transform))
        else:
            dtypes, meta, transform = _leaf_facts(f, path)
            inp.leaves.append(_Leaf(os.path.abspath(path), info.uuid, np.arange(S, dtype=np.int64), 0, N,
                                    dtypes, meta, transform))
        return inp
    except BaseException:
        f.close()
        raise


def _common_dtype(inputs: list[_Input], dname: str) -> np.dtype:
    dts = [np.dtype(leaf.dtypes[dname]) for inp in inputs for leaf in inp.leaves if dname in leaf.dtypes]
    kinds = {d.kind for d in dts}
    if len(kinds) > 1:
        raise IncompatibleDatasetsError(f"cannot concatenate: /{dname} holds values of different kinds {sorted(map(str, dts))}")
    best = max(dts, key=lambda d: d.itemsize)
    return best.newbyteorder("<") if best.itemsize > 1 else best


def _stims_identical(a: _Input, ra: int, b: _Input, rb: int) -> str | None:
    """None when stimulus ra of a and rb of b are identical, else what differs."""
    if int(a.n_bins[ra]) != int(b.n_bins[rb]):
        return f"n_bins {int(a.n_bins[ra])} vs {int(b.n_bins[rb])}"
    da = a.f[L.stim_group_path(ra)][L.STIM_DATA]
    db = b.f[L.stim_group_path(rb)][L.STIM_DATA]
    if da.shape != db.shape:
        return f"stimulus shape {da.shape} vs {db.shape}"
    if a.info.stim_kind == L.STIM_WAVEFORM:
        sa, sb = float(da.attrs[L.ATTR_SAMPLE_RATE]), float(db.attrs[L.ATTR_SAMPLE_RATE])
        if sa != sb:
            return f"sample rate {sa:g} vs {sb:g} Hz"
    if not np.array_equal(da[()], db[()]):
        return "stimulus values differ"
    return None


def _runs(src_rows: np.ndarray, dst_rows: np.ndarray) -> list[tuple[int, int, int]]:
    """Maximal runs (src_start, dst_start, length) where both row sequences step by one."""
    out = []
    n = src_rows.size
    i = 0
    while i < n:
        j = i + 1
        while j < n and src_rows[j] == src_rows[j - 1] + 1 and dst_rows[j] == dst_rows[j - 1] + 1:
            j += 1
        out.append((int(src_rows[i]), int(dst_rows[i]), j - i))
        i = j
    return out


def concat(
    paths: Sequence,
    out,
    *,
    merge_stimuli: bool = False,
    allow_duplicate_neurons: bool = False,
    allow_external: bool = False,
    overwrite: bool = False,
) -> str:
    """Concatenate strfh5 files on disk into a file of virtual datasets.

    The result is block-diagonal along stimuli and neurons, as
    :func:`strfh5.concat_neural_datasets`: the stimuli of input ``i`` follow
    those of inputs ``0..i-1``, its neurons likewise, and cross blocks read as
    not recorded.  It holds no response data — ``/responses``, ``/repeats``
    and ``/counts`` map the sources' datasets, ``/stimuli/<i>`` link to the
    sources' stimulus groups — so it is small and fast to make whatever the
    sources' size.  Concatenated inputs are flattened to their own sources.

    Parameters
    ----------
    paths : sequence of str or os.PathLike
        The input files (plain or concatenated), in block order.
    out : str or os.PathLike
        The file to write. The sources must lie in its folder or below.
    merge_stimuli : bool
        Merge a stimulus whose id is already in an earlier block into that
        row, after checking its data and ``n_bins`` are identical; neurons of
        both sources then share the row. By default such stimuli keep their
        own rows (reported in ``/metadata`` ``shared_stimulus_ids``).
    allow_duplicate_neurons : bool
        Accept the same neuron id in two inputs (refused by default).
    allow_external : bool
        Accept sources outside the output's folder (readers then need
        ``allow_external=True`` too).
    overwrite : bool
        Replace an existing ``out``.

    Returns
    -------
    str
        The path written.

    Raises
    ------
    IncompatibleDatasetsError
        Inputs differ in encoding, dt, stimulus kind or dimensions, or
        response kind; or merged stimuli differ.
    DuplicateIdError
        A neuron id in two inputs (without ``allow_duplicate_neurons``).
    UnsafeSourcePathError
        A source outside the output's folder (without ``allow_external``).

    Examples
    --------
    >>> strfh5.concat(["aa1.strf.h5", "aa2.strf.h5"], "aa12.strf.h5")  # doctest: +SKIP
    >>> ds = strfh5.load("aa12.strf.h5", lazy=True)  # doctest: +SKIP
    """
    paths = [os.fspath(p) for p in paths]
    if not paths:
        raise InvalidDataError("concat needs at least one input file")
    out = os.fspath(out)
    out_abs = os.path.abspath(out)
    out_dir = os.path.dirname(out_abs)
    if not os.path.isdir(out_dir):
        raise FileNotFoundError(f"{out}: folder {out_dir} does not exist")
    if os.path.exists(out) and not overwrite:
        raise FileExistsError(f"{out} exists (pass overwrite=True to replace it)")
    inputs: list[_Input] = []
    tmp = None
    try:
        for i, p in enumerate(paths):
            inputs.append(_read_input(i, p, allow_external))
        for inp in inputs:
            for leaf in inp.leaves:
                if os.path.abspath(leaf.abs) == out_abs or os.path.abspath(inp.path) == out_abs:
                    raise InvalidDataError(f"{out} is one of the inputs (or their sources); write elsewhere")
        check_compatible([inp.info for inp in inputs], [f"input {inp.pos} ({inp.path})" for inp in inputs])
        if not allow_duplicate_neurons:
            check_duplicate_neurons([inp.neuron_ids for inp in inputs],
                                    "allow_duplicate_neurons=True (--allow-duplicate-neurons)")
        info0 = inputs[0].info
        events = info0.encoding == L.ENCODING_EVENTS
        vnames = (L.RESPONSES, L.REPEATS) + ((L.COUNTS,) if events else ())
        vdt = {name: _common_dtype(inputs, name) for name in vnames}

        # ---- stimulus rows
        out_ids: list[str] = []
        out_meta: list[str] = []
        out_nbins: list[int] = []
        owner: list[tuple[int, int]] = []  # (input, row) first providing each output row
        first_row: dict[str, int] = {}
        row_maps = []
        for inp in inputs:
            rm = np.empty(len(inp.stim_ids), dtype=np.int64)
            for r, sid in enumerate(inp.stim_ids):
                if merge_stimuli and sid in first_row:
                    o = first_row[sid]
                    oi, orow = owner[o]
                    diff = _stims_identical(inputs[oi], orow, inp, r)
                    if diff is not None:
                        raise IncompatibleDatasetsError(
                            f"cannot merge stimulus {sid!r}: input {oi} ({inputs[oi].path}) row {orow} and input "
                            f"{inp.pos} ({inp.path}) row {r} differ ({diff}); concatenate without merge_stimuli "
                            "to keep them in separate rows"
                        )
                else:
                    o = len(out_ids)
                    out_ids.append(sid)
                    out_meta.append(inp.stim_meta_raw[r])
                    out_nbins.append(int(inp.n_bins[r]))
                    owner.append((inp.pos, r))
                    first_row.setdefault(sid, o)
                rm[r] = o
            row_maps.append(rm)
        S = len(out_ids)
        shared = shared_stimulus_ids(out_ids)
        merged = []
        if merge_stimuli:
            seen_rows = {}
            for inp, rm in zip(inputs, row_maps):
                for r, o in enumerate(rm):
                    seen_rows.setdefault(int(o), set()).add(inp.pos)
            merged = [out_ids[o] for o in sorted(seen_rows) if len(seen_rows[o]) > 1]

        # ---- neurons and leaves
        nrn_ids: list[str] = []
        nrn_meta: list[str] = []
        leaves = []  # (leaf, out rows, col offset)
        for inp, rm in zip(inputs, row_maps):
            c0 = len(nrn_ids)
            nrn_ids.extend(inp.neuron_ids)
            nrn_meta.extend(inp.nrn_meta_raw)
            for leaf in inp.leaves:
                leaves.append((leaf, rm[leaf.stim_rows], c0 + leaf.neuron_offset))
        N = len(nrn_ids)
        rel = [_relative_source_path(leaf.abs, out_dir, allow_external) for leaf, _r, _c in leaves]

        # ---- metadata, schemas, transform
        schemas = dict(inputs[0].info.schemas)
        if any(inp.info.schemas != schemas for inp in inputs):
            schemas = {k: _schema.CORE[k] for k in _schema.KINDS}
        # the concatenation's own file metadata (source 'concat') answers to the core file schema;
        # each source's file metadata is kept under 'sources' (stimulus/neuron records keep theirs)
        schemas["file"] = _schema.CORE["file"]
        transforms = [leaf.transform for leaf, _r, _c in leaves]
        tjson = [None if t is None else json.dumps(t, sort_keys=True) for t in transforms]
        common_transform = transforms[0] if len(set(tjson)) == 1 else None
        file_meta = {
            "source": "concat",
            "title": f"Concatenation of {len(leaves)} strfh5 files",
            "sources": [
                {"uuid": leaf.uuid, "metadata": leaf.metadata, "transform": leaf.transform}
                for leaf, _r, _c in leaves
            ],
            "merge_stimuli": bool(merge_stimuli),
            "shared_stimulus_ids": shared,
            "merged_stimulus_ids": merged,
        }
        meta_text = _schema.dumps(file_meta, "concatenated file metadata")
        _schema.validate_record(json.loads(meta_text), schemas["file"], "concatenated file metadata")

        # ---- write
        clean_leftovers(out_dir, os.path.basename(out))  # what an interrupted write to `out` left
        tmp = f"{out}.tmp-{_uuid.uuid4().hex[:12]}"
        with h5py.File(tmp, "w") as f:
            stim = f.create_group(L.STIMULI)
            stim.create_dataset("ids", data=np.array(out_ids, dtype=object), dtype=_STR)
            stim.create_dataset("metadata", data=np.array(out_meta, dtype=object), dtype=_STR)
            stim.create_dataset("n_bins", data=np.asarray(out_nbins, dtype="<u4").reshape(-1))
            stim.attrs[L.ATTR_COUNT] = np.int64(S)
            if common_transform is not None:
                stim.attrs[L.ATTR_TRANSFORM] = _schema.dumps(common_transform, "stimulus transform")
            link_done = np.zeros(S, dtype=bool)
            for k, (leaf, rows, _c) in enumerate(leaves):
                for j, o in enumerate(rows):
                    if not link_done[o]:
                        stim[L.stim_group_name(int(o))] = h5py.ExternalLink(rel[k], "/" + L.stim_group_path(j))
                        link_done[o] = True
            neu = f.create_group(L.NEURONS)
            neu.create_dataset("ids", data=np.array(nrn_ids, dtype=object), dtype=_STR)
            neu.create_dataset("metadata", data=np.array(nrn_meta, dtype=object), dtype=_STR)
            f.create_dataset(L.METADATA, data=meta_text, dtype=_STR)
            for name in vnames:
                dtype = vdt[name] if name == L.REPEATS else h5py.vlen_dtype(vdt[name])
                fill = {"fillvalue": 0} if name == L.REPEATS else {}
                if S == 0 or N == 0:
                    f.create_dataset(name, shape=(S, N), dtype=dtype, **fill)
                    continue
                layout = h5py.VirtualLayout(shape=(S, N), dtype=dtype)
                for k, (leaf, rows, c0) in enumerate(leaves):
                    if rows.size == 0 or leaf.n_neurons == 0:
                        continue
                    src = h5py.VirtualSource(_escape_vds_name(rel[k]), name, shape=(rows.size, leaf.n_neurons),
                                             dtype=dtype)
                    for j0, o0, n in _runs(np.arange(rows.size), rows):
                        layout[o0 : o0 + n, c0 : c0 + leaf.n_neurons] = src[j0 : j0 + n, :]
                f.create_virtual_dataset(name, layout, **fill)
            g = f.create_group(L.SOURCES)
            g.create_dataset("paths", data=np.array(rel, dtype=object), dtype=_STR)
            g.create_dataset("uuids", data=np.array([leaf.uuid for leaf, _r, _c in leaves], dtype=object), dtype=_STR)
            counts = [rows.size for _l, rows, _c in leaves]
            g.create_dataset("stim_offsets", data=np.concatenate([[0], np.cumsum(counts)]).astype("<i8"))
            all_rows = [rows for _l, rows, _c in leaves]
            g.create_dataset("stim_rows", data=(np.concatenate(all_rows) if all_rows else np.empty(0)).astype("<i8"))
            g.create_dataset("neuron_offsets", data=np.asarray(
                [c for _l, _r, c in leaves] + [N], dtype="<i8") if leaves else np.zeros(1, "<i8"))
            from .writer import write_root_attrs

            write_root_attrs(
                f,
                uuid=str(_uuid.uuid4()),
                encoding=info0.encoding,
                dt_ms=info0.dt_ms,
                stim_kind=info0.stim_kind,
                stim_dims=info0.stim_dims,
                response_kind=info0.response_kind,
                schemas=schemas,
                concatenated=True,
            )
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, out)
        tmp = None
    finally:
        for inp in inputs:
            try:
                inp.f.close()
            except Exception:  # pragma: no cover
                pass
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)
    return out


# -------------------------------------------------------------- materialize
def materialize(path, out, *, overwrite: bool = False, allow_external: bool = False) -> str:
    """Write a self-contained copy of a (concatenated) strfh5 file.

    Responses and stimuli are copied row by row through
    :class:`strfh5.StreamWriter` (memory bounded by one row), so the copy has
    real datasets, row digests and no links: it can be sent to another lab.
    For a concatenated file, ``/sources`` is kept as provenance (the copy is
    not marked concatenated, so readers never resolve it), which also tells
    validators the blocks within which ids are unique.

    Parameters
    ----------
    path : str or os.PathLike
        A strfh5 file (normally concatenated).
    out : str or os.PathLike
        The copy to write.
    overwrite, allow_external : bool
        Replace ``out``; accept sources outside the input's folder.

    Returns
    -------
    str
        The path written.
    """
    from .contents import FileContents
    from .writer import write_contents

    path, out = os.fspath(path), os.fspath(out)
    if os.path.exists(out) and not overwrite:
        raise FileExistsError(f"{out} exists (pass overwrite=True to replace it)")
    if os.path.abspath(out) == os.path.abspath(path):
        raise InvalidDataError(f"{out}: materialize cannot overwrite its input")
    contents = FileContents(path, allow_external=allow_external)
    part = f"{out}.part-{_uuid.uuid4().hex[:12]}"
    try:
        info = contents.info
        meta = dict(info.metadata)
        meta["materialized_from"] = {"uuid": info.uuid, "file": os.path.basename(path)}
        write_contents(contents, part, file_meta=meta, schemas=info.schemas, allow_duplicate_ids=True)
        if info.concatenated:
            src = contents._handle()
            with h5py.File(part, "a") as f:
                g = f.create_group(L.SOURCES)
                for name in ("paths", "uuids", "stim_offsets", "stim_rows", "neuron_offsets"):
                    src.copy(src[f"{L.SOURCES}/{name}"], g, name=name)
        with open(part, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(part, out)
        part = None
    finally:
        contents.close()
        if part is not None and os.path.exists(part):
            os.remove(part)
    return out
