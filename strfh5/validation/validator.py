"""The order the checks run in, and :func:`validate` (SPEC.md §12).

:class:`_Validator` is a :class:`~.context.Context` whose ``check_*``
methods are the check functions of the sibling modules; :meth:`_Validator.run`
calls them in SPEC order, each under a guard (an unexpected exception becomes
an ``E020`` finding naming the check).  :func:`validate` runs it on one file
and builds the :class:`~.report.ValidationReport`.
"""

from __future__ import annotations

import os

from .. import layout as L
from . import concatenated, ids, index, markers, metadata, responses, root_attrs, stimuli, structure
from .context import Context
from .report import ValidationReport, parse_codes, select_findings

__all__ = ["validate", "check_file"]


class _Validator(Context):
    """A file under validation, with the checks as methods (each a module function taking the context)."""

    open = markers.open_file
    check_markers = markers.check_markers
    check_root_attrs = root_attrs.check_root_attrs
    check_links = concatenated.check_links
    check_concatenation = concatenated.check_concatenation
    check_structure = structure.check_structure
    check_ids = ids.check_ids
    check_metadata = metadata.check_metadata
    check_stimuli = stimuli.check_stimuli
    check_responses = responses.check_responses
    check_unknown = structure.check_unknown
    check_index = index.check_index

    def run(self) -> None:
        """Open the file and run every check in order; the file is closed at the end."""
        if not self.open():
            return
        try:
            if not self.guard("format", "/", self.check_markers):
                return
            self.guard("root-attributes", "/", self.check_root_attrs)
            self.guard("links", "/", self.check_links)
            if self.concatenated:
                self.guard("links", "/", self.check_concatenation)
            self.guard("structure", "/", self.check_structure)
            self.guard("ids", "/", self.check_ids)
            self.guard("metadata", "/", self.check_metadata)
            self.guard("stimuli", f"/{L.STIMULI}", self.check_stimuli)
            self.guard("responses", f"/{L.RESPONSES}", self.check_responses)
            self.guard("index", f"/{L.RESPONSE_INDEX}", self.check_index)
            if self.version <= L.FORMAT_VERSION:
                self.guard("structure", "/", self.check_unknown)
        finally:
            try:
                if self.f is not None:
                    self.f.close()
            except Exception:  # pragma: no cover - closing a broken handle
                pass


def check_file(path: str, checksums: bool, depth: int = 0, seen: set | None = None) -> _Validator:
    """Run every check on ``path``; returns the validator holding the findings (used for sources too)."""
    v = _Validator(path, checksums, depth, seen)
    v.run()
    return v


def validate(path, checksums: bool = False, select=None, ignore=None) -> ValidationReport:
    """Check a strfh5 file against SPEC.md and report every problem found.

    Parameters
    ----------
    path : str or os.PathLike
        The file to check. A concatenated file's sources are validated too.
    checksums : bool
        Also verify the per-row SHA-256 digests of ``/responses`` and
        ``/counts`` (reads every response byte once).
    select, ignore : str or sequence of str, optional
        Codes or code prefixes (``"E2,W210"``) to keep or to drop from the
        report; the checks themselves always run.

    Returns
    -------
    ValidationReport
        ``report.ok`` is True when no error was found; ``report.exit_code``
        is 0 (valid), 1 (problems) or 2 (the file cannot be read at all).
        Never raises on a malformed file.

    Raises
    ------
    SelectionError
        ``select``/``ignore`` holds something that is not a code or prefix.

    Examples
    --------
    >>> report = strfh5.validate("demo.strf.h5", checksums=True)
    >>> print(report)
    demo.strf.h5: valid (0 errors, 0 warnings, checksums verified) [version=..., encoding=events, ...]
    """
    sel, ign = parse_codes(select), parse_codes(ignore)
    p = os.fspath(path)
    v = _Validator(p, bool(checksums), seen={os.path.realpath(p)})
    try:
        v.run()
    except Exception as e:  # noqa: BLE001 - last resort: never a traceback for a bad file
        v.add("E020", "/", f"validation stopped: {type(e).__name__}: {e}")
    report = ValidationReport(path=p, readable=v.readable, checksums=bool(checksums), info=v.info)
    select_findings(report, v.findings, sel, ign)
    return report
