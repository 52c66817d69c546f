"""The state shared by the validation checks of one file.

:class:`Context` holds the open file, the findings recorded so far and what
the earlier checks learnt (valid root attributes, S, N, ``n_bins``, the
response datasets fit to read).  The check modules are plain functions taking
a context: they record problems with :meth:`Context.add`, run sub-checks
under :meth:`Context.guard` (SPEC.md §12: an unexpected HDF5 error becomes an
``E020`` finding, never a traceback) and reach objects with
:meth:`Context.lookup`, which reports missing required objects (E201/E202)
and never follows an external link before the sources of a concatenated file
are checked (SPEC.md §9).
"""

from __future__ import annotations

from typing import Any, Callable

import h5py
import numpy as np

from .. import layout as L
from ..terminal import escape_text
from .codes import CODES
from .report import ERROR, WARNING, Finding
from .values import kind_name

__all__ = ["Context"]


class Context:
    """One file under validation.

    Parameters
    ----------
    path : str
        The file to check.
    checksums : bool
        Whether the row digests are verified (SPEC.md §7).
    depth : int
        0 for the validated file, 1.. for the sources of a concatenated file.
    seen : set of str, optional
        Real paths already validated (shared with the sources' contexts, so a
        source is validated once).

    Attributes
    ----------
    findings : list of Finding
        Every problem recorded so far, in check order.
    readable : bool
        False once the file was found unreadable (E001-E003).
    info : dict
        What was learnt about the file, for the report.
    f : h5py.File or None
        The open file.
    attrs_ok : dict
        Root attributes whose value passed their checks.
    version : tuple of int
        Format version the file is checked as.
    concatenated : bool
        The file says it is concatenated (SPEC.md §9).
    sources_ok : bool
        A concatenated file's sources passed their checks: its links may be
        followed and its virtual datasets read.
    S, N : int or None
        Numbers of stimuli and neurons, once known.
    n_bins : ndarray or None
        ``/stimuli/n_bins`` when it is consistent.
    resp, rep, cnt : h5py.Dataset or None
        ``/responses``, ``/repeats``, ``/counts`` when fit to be read.
    digests : dict
        Target dataset name -> its ``/integrity`` digest dataset.
    """

    def __init__(self, path: str, checksums: bool, depth: int = 0, seen: set | None = None):
        self.path = path
        self.checksums = checksums
        self.depth = depth
        self.seen = seen if seen is not None else set()
        self.findings: list[Finding] = []
        self.readable = True
        self.info: dict[str, Any] = {}
        self.f: h5py.File | None = None
        # what the checks learn
        self.attrs_ok: dict[str, Any] = {}
        self.version = L.FORMAT_VERSION
        self.concatenated = False
        self.sources_ok = False  # concatenated: sources checked, links may be followed
        self.S: int | None = None
        self.N: int | None = None
        self.n_bins: np.ndarray | None = None
        self.resp: h5py.Dataset | None = None
        self.rep: h5py.Dataset | None = None
        self.cnt: h5py.Dataset | None = None
        self.digests: dict[str, h5py.Dataset] = {}
        self.located: dict | None | bool = False  # payload locations of the VLEN datasets (False: not sought yet)
        self.heap_objects = None  # HeapObjects of the opening heap scan (strfh5.heapcheck)

    # -- recording
    def add(self, code: str, path: str, message: str, *, severity: str | None = None,
            check: str | None = None, file: str | None = None) -> None:
        """Record a finding; severity and check default to those of ``code`` (:data:`CODES`)."""
        if severity is None:
            severity = ERROR if code.startswith("E") else WARNING
        if check is None:
            check = CODES.get(code, ("other", ""))[0]
        # one line, whatever an exception text holds; text from the file never reaches a terminal raw
        message = escape_text(" ".join(str(message).split()), keep_newlines=False)
        self.findings.append(Finding(code, severity, check, escape_text(path, keep_newlines=False), message, file))

    def guard(self, check: str, path: str, fn: Callable, *args) -> Any:
        """Run ``fn(*args)``; an unexpected exception becomes an E020 finding (and None is returned)."""
        try:
            return fn(*args)
        except Exception as e:  # noqa: BLE001 - a malformed file must never raise
            msg = str(e).strip() or type(e).__name__
            self.add("E020", path, f"check '{check}' could not complete: {type(e).__name__}: {msg}", check=check)
            return None

    # -- lookups
    def lookup(self, name: str, *, required: bool = True, kind=None, path: str | None = None):
        """Object ``name`` or None, reporting E201/E202; never follows an unchecked external link."""
        p = path or "/" + name
        cur = self.f
        parts = [x for x in name.split("/") if x]
        for i, part in enumerate(parts):
            sub = "/" + "/".join(parts[: i + 1])
            if not isinstance(cur, h5py.Group):
                if required:
                    self.add("E202", sub, f"'{sub}' cannot exist: its parent is not a group")
                return None
            link = cur.get(part, getlink=True)
            if link is None:
                if required and i == len(parts) - 1:
                    self.add("E201", p, f"required {kind_name(kind)} '{p}' is missing")
                elif required and not self._reported(sub):
                    self.add("E201", p, f"required {kind_name(kind)} '{p}' is missing "
                                        f"(its parent '{sub}' is missing)")
                return None
            if isinstance(link, h5py.SoftLink):
                if required:
                    self.add("E202", sub, f"'{sub}' is a soft link to '{link.path}'; the format requires "
                                          "the object itself here")
                return None
            if isinstance(link, h5py.ExternalLink) and not self.sources_ok:
                return None  # reported by check_links (E801) or check_concatenation
            cur = cur.get(part)
            if cur is None:  # dangling external link
                if required:
                    self.add("E201", sub, f"'{sub}' is a link whose target cannot be resolved")
                return None
        if kind is not None and not isinstance(cur, kind):
            if required:
                self.add("E202", p, f"'{p}' must be a {kind_name(kind)}, found a {type(cur).__name__.lower()}")
            return None
        return cur

    def _reported(self, sub: str) -> bool:
        return any(fd.code == "E201" and fd.path == sub for fd in self.findings)

    def data_readable(self, ds: h5py.Dataset) -> bool:
        """Whether reading ``ds`` is safe: a virtual dataset only once its sources are checked."""
        return (not ds.is_virtual) or self.sources_ok
