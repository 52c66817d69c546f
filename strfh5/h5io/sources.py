"""Source paths of concatenated files and the links a file may hold (SPEC §9.3–§9.4).

One module decides which paths a file may make a reader open: the I/O
module's :func:`~strfh5.h5io.open_file` calls :func:`check_sources` on every
file before any data are read, and the validator reports the same checks as
findings through :func:`source_findings` (codes ``E901``–``E912``).

HDF5 reads an unmapped region and a *missing* virtual source alike, as fill
values, without an error (HDF5 issue 5088); it resolves virtual sources and
external links against whatever path they name; and a FIFO source makes it
hang.  So, before any data are read: each source path of a concatenated file
must stay in the file's folder, exist, be a regular strfh5 file with the
recorded UUID, shape and dtype, and every virtual mapping and external link of
the file must target one of those recorded sources.  A plain file holds
neither virtual datasets nor external links.
"""

from __future__ import annotations

import os
import posixpath
import stat
from dataclasses import dataclass
from typing import Iterator, NamedTuple

import h5py
import numpy as np

from .. import layout as L
from ..errors import CorruptDataError, MissingObjectError, SourceFileError, UnsafeSourcePathError
from .heaps import check_attributes
from .values import attr_str

__all__ = [
    "SourceRecord",
    "check_sources",
    "source_findings",
    "read_sources",
    "resolve_source_path",
    "relative_source_path",
    "escape_vds_name",
    "unescape_vds_name",
    "VIRTUAL_DATASETS",
    "PREFIX_ENV_VARS",
]

#: environment variables that make HDF5 resolve virtual sources / external links elsewhere
PREFIX_ENV_VARS = ("HDF5_VDS_PREFIX", "HDF5_EXT_PREFIX")
#: the (S, N) datasets of a concatenated file that are virtual
VIRTUAL_DATASETS = (L.RESPONSES, L.REPEATS, L.COUNTS)


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
def escape_vds_name(name: str) -> str:
    # HDF5 expands printf-like '%b' in virtual source file names; '%%' is a literal '%'.
    return name.replace("%", "%%")


def unescape_vds_name(name: str) -> str:
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
    if not text or text.strip() != text or any(ord(c) < 32 or ord(c) == 127 for c in text):
        return "", f"source path {text!r} is empty, has surrounding whitespace or control characters"
    if "\\" in text:
        return "", f"source path {text!r} contains a backslash (source paths use '/' separators)"
    # SPEC 1.1 §9.3: '/...' and a first segment holding ':' (C:x, c:/x, file:x) are absolute forms
    is_abs = text.startswith("/") or ":" in text.split("/", 1)[0]
    norm = posixpath.normpath(text)
    if is_abs:
        resolved = os.path.normpath(text)
        if not allow_external:
            return resolved, f"source path {text!r} is absolute"
        return resolved, None
    resolved = os.path.normpath(os.path.join(os.path.abspath(folder), *norm.split("/")))
    if norm == "." or norm.endswith("/..") or norm == ".." or text.endswith("/"):
        return resolved, f"source path {text!r} does not name a file"
    if norm != text:
        return resolved, (f"source path {text!r} is not in canonical form (expected {norm!r}: no '.', empty "
                          "or inner '..' segments)")
    if not allow_external:
        if norm.startswith("../"):
            return resolved, f"source path {text!r} leaves the folder of the concatenated file"
        real_folder = os.path.realpath(folder)
        real = os.path.realpath(resolved)
        if os.path.commonpath([real_folder, real]) != real_folder:
            return resolved, (f"source path {text!r} resolves through a symbolic link to {real}, outside the "
                              f"folder of the concatenated file ({real_folder})")
    return resolved, None


def relative_source_path(src_abs: str, out_dir: str, allow_external: bool) -> str:
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
        paths = [attr_str(x) for x in f[L.SOURCE_PATHS][()].reshape(-1)]
        uuids = [attr_str(x) for x in f[L.SOURCE_UUIDS][()].reshape(-1)]
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


def _file_shape(f: h5py.File, path: str) -> tuple[int, int]:
    try:
        S = int(f[L.STIM_IDS].shape[0])
        N = int(f[L.NEURON_IDS].shape[0])
    except KeyError:
        raise MissingObjectError(f"{path}: /{L.STIM_IDS} or /{L.NEURON_IDS} is missing") from None
    return S, N


# ------------------------------------------------------------------ checks
def _iter_links(group) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []

    def cb(name, info):
        out.append((name.decode("utf-8", "replace"), info.type))

    group.id.links.iterate(cb, info=True)
    return out


def _external_links(f: h5py.File, deep: bool, stimuli: bool = True) -> Iterator[tuple[str, str, str]]:
    """(object path, target file, target object) of external links in the groups a reader follows.

    ``stimuli=False`` leaves out the S links under ``/stimuli``: a plain file's
    reader checks each stimulus' links when it first reads it
    (:func:`strfh5.h5io.stimuli.check_stimulus_links`), so opening stays flat in S.
    """
    groups = ["/", f"/{L.NEURONS}", f"/{L.INTEGRITY}", f"/{L.SOURCES}"] + ([f"/{L.STIMULI}"] if stimuli else [])
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
                yield child, attr_str(fname), attr_str(obj)
            elif typ == h5py.h5l.TYPE_HARD and deep and isinstance(g.get(name), h5py.Group):
                groups.append(child)


def _plain_file_findings(f: h5py.File, path: str, deep: bool = False, stimuli: bool | None = None
                         ) -> Iterator[_Finding]:
    """A file not marked concatenated must not have virtual datasets or external links."""
    for name in VIRTUAL_DATASETS:
        link = f.get(name, getlink=True)
        if isinstance(link, h5py.ExternalLink):
            yield _Finding("E911", "links.plain", f"/{name}", f"{path}: /{name} is an external link to "
                           f"{link.filename!r}; strfh5 files hold their responses themselves", SourceFileError)
            continue
        ds = f.get(name) if isinstance(link, h5py.HardLink) else None
        if isinstance(ds, h5py.Dataset) and ds.is_virtual:
            targets = sorted({unescape_vds_name(m.file_name) for m in ds.virtual_sources()})
            yield _Finding("E911", "links.plain", f"/{name}",
                           f"{path}: /{name} is a virtual dataset (sources {targets}) but the file is not marked "
                           f"concatenated (root attribute '{L.ATTR_CONCATENATED}'); refusing to follow its sources",
                           SourceFileError)
    for obj, fname, _target in _external_links(f, deep, stimuli=deep if stimuli is None else stimuli):
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
        try:
            check_attributes(src, rec.resolved)
        except CorruptDataError as e:
            yield _Finding("E904", "sources.strfh5", obj, f"{name}: {e}", CorruptDataError)
            return
        fmt = src.attrs.get(L.ATTR_FORMAT)
        if fmt is None or attr_str(fmt) != L.FORMAT_NAME:
            yield _Finding("E904", "sources.strfh5", obj, f"{name} is HDF5 without the strfh5 markers",
                           SourceFileError)
            return
        try:
            raw = src.attrs.get(L.ATTR_VERSION, "")
            if not isinstance(raw, (str, bytes)):  # SPEC 1.1 §2: a stored number is not a version
                raise ValueError(f"format version {raw!r} is not a string")
            major, _minor = L.parse_version(attr_str(raw))
        except (ValueError, UnicodeDecodeError) as e:
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
        # a source's stimulus groups are read through the concatenated file's links: check them all here
        for finding in _plain_file_findings(src, name, deep=deep, stimuli=True):
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
        allowed[rec.path] = rec.resolved  # SPEC 1.1 §9.3: names equal recorded paths character for character
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
            fname = unescape_vds_name(m.file_name)
            target = m.dset_name.lstrip("/")
            if fname not in allowed:
                _r, problem = resolve_source_path(fname, folder, allow_external)
                why = f"({problem})" if problem else "(not a source recorded in /sources)"
                yield _Finding("E907", "sources.mapping", f"/{dname}",
                               f"{path}: /{dname} maps virtual source file {fname!r} {why}; refusing to read it",
                               UnsafeSourcePathError if problem else SourceFileError)
            elif target != dname:
                yield _Finding("E907", "sources.mapping", f"/{dname}",
                               f"{path}: /{dname} maps '/{target}' of {fname!r}; it must map '/{dname}'",
                               CorruptDataError)
    expected = _expected_links(records, S)
    for obj, fname, target in _external_links(f, deep=False):
        parent, name = posixpath.split(obj)
        if fname not in allowed:
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
            elif L.stim_group_name(int(name)) == name and expected.get(int(name)) not in (None, (fname, target)):
                want_file, want_obj = expected[int(name)]
                yield _Finding("E908", "sources.links", obj,
                               f"{path}: {obj} links to {target!r} in {fname!r}, but row {int(name)} holds "
                               f"{want_obj!r} of source {want_file!r} (SPEC §9.2)", CorruptDataError)
    stim = f.get(L.STIMULI)
    if isinstance(stim, h5py.Group):
        have = {n for n, _t in _iter_links(stim)}
        missing = [i for i in range(S) if L.stim_group_name(i) not in have]
        if missing:
            yield _Finding("E908", "sources.links", f"/{L.STIMULI}",
                           f"{path}: /{L.STIMULI} lacks the groups (links) of stimuli {missing[:10]}", CorruptDataError)
    for rec in safe:
        yield from _source_file_findings(rec, path, encoding, vdtypes, deep=deep)


def _expected_links(records: list[SourceRecord], S: int) -> dict[int, tuple[str, str]]:
    """Row -> (recorded path, '/stimuli/<j>') of the first source row held by it (SPEC §9.2)."""
    out: dict[int, tuple[str, str]] = {}
    for rec in records:
        for j, row in enumerate(rec.stim_rows.tolist()):
            if 0 <= row < S and row not in out:
                out[row] = (rec.path, f"/{L.stim_group_path(j)}")
    return out


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
