"""What :func:`strfh5.validate` returns: findings, the report, code selection.

A :class:`Finding` is one problem (SPEC.md §12: code, severity, check, object
path, message); a :class:`ValidationReport` holds every finding of one file
with the verdict and exit status.  :func:`parse_codes` reads the
``--select``/``--ignore`` code lists and :func:`select_findings` applies them,
together with the per-code cap that keeps a report of a badly broken file
readable.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Sequence

from ..errors import SelectionError

__all__ = ["ERROR", "WARNING", "Finding", "ValidationReport", "parse_codes", "select_findings"]

#: severity of a finding that makes a file invalid (a violated MUST)
ERROR = "error"
#: severity of a finding that leaves a file valid (an unmet SHOULD, or something readers ignore)
WARNING = "warning"

#: findings listed per code (and per file) before the rest are summed up in one line
MAX_PER_CODE = 100

_CODE_RE = re.compile(r"^[EW]?[0-9]{0,3}$")


@dataclass(frozen=True)
class Finding:
    """One problem found in a file.

    Attributes
    ----------
    code : str
        Stable code (``E201``, ``W015``…; SPEC.md Appendix A).
    severity : {'error', 'warning'}
        Errors make a file invalid; warnings do not.
    check : str
        Name of the check that found it (``structure``, ``responses``…).
    path : str
        HDF5 object path (``/responses[3, 7]``, ``/@dt_ms``, ``/stimuli/000002/data``).
    message : str
        What is wrong, naming the values at fault and the expected ones.
    file : str or None
        Set when the finding is about another file (a source of a
        concatenated file) rather than the validated one.
    """

    code: str
    severity: str
    check: str
    path: str
    message: str
    file: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.path}" if self.file else self.path
        return f"{self.code} {self.severity} [{self.check}] {where}: {self.message}"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ValidationReport:
    """The result of :func:`validate`.

    Attributes
    ----------
    path : str
        The validated file.
    findings : list of Finding
        Every problem found (after ``select``/``ignore``), in check order.
    readable : bool
        False when the file could not be read at all (E001-E003).
    checksums : bool
        Whether the row digests were verified.
    info : dict
        What was learnt about the file (version, encoding, S, N…).
    suppressed : int
        Findings hidden by ``select``/``ignore`` or by the per-code cap.
    """

    path: str
    findings: list[Finding] = field(default_factory=list)
    readable: bool = True
    checksums: bool = False
    info: dict = field(default_factory=dict)
    suppressed: int = 0

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == WARNING]

    @property
    def ok(self) -> bool:
        """True when the file is readable and no error was found (warnings allowed)."""
        return self.readable and not self.errors

    @property
    def exit_code(self) -> int:
        """0 valid, 1 problems found, 2 the file cannot be read at all."""
        if not self.readable:
            return 2
        return 0 if self.ok else 1

    def summary(self) -> str:
        """One line: the verdict, counts and what the file is."""
        if not self.readable:
            return f"{self.path}: unreadable"
        ne, nw = len(self.errors), len(self.warnings)
        what = ", ".join(
            f"{k}={self.info[k]}" for k in ("version", "encoding", "stim_kind", "S", "N") if k in self.info
        )
        verdict = "valid" if self.ok else "INVALID"
        counts = f"{ne} error{'s' * (ne != 1)}, {nw} warning{'s' * (nw != 1)}"
        extra = f", {self.suppressed} suppressed" if self.suppressed else ""
        cs = ", checksums verified" if self.checksums and self.ok else ""
        return f"{self.path}: {verdict} ({counts}{extra}{cs})" + (f" [{what}]" if what else "")

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "ok": self.ok,
            "exit_code": self.exit_code,
            "readable": self.readable,
            "checksums": self.checksums,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "suppressed": self.suppressed,
            "info": self.info,
            "findings": [f.to_dict() for f in self.findings],
        }

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), **kw)

    def __str__(self) -> str:
        return "\n".join([str(f) for f in self.findings] + [self.summary()])


def parse_codes(codes) -> tuple[str, ...]:
    """Parse ``--select``/``--ignore`` values: comma-separated codes or prefixes.

    ``"E2,W210"`` selects every ``E2xx`` code and ``W210``.  Raises
    :class:`~strfh5.errors.SelectionError` for an item that is not a code or a
    prefix of one.
    """
    if codes is None:
        return ()
    items = codes.split(",") if isinstance(codes, str) else [x for c in codes for x in str(c).split(",")]
    out = []
    for item in items:
        item = item.strip().upper()
        if not item:
            continue
        if not _CODE_RE.match(item):
            raise SelectionError(
                f"{item!r} is not a finding code or code prefix (examples: 'E201', 'E2', 'W'; "
                "codes are listed in SPEC.md Appendix A)"
            )
        out.append(item)
    return tuple(out)


def _matches(code: str, prefixes: Sequence[str]) -> bool:
    return any(code.startswith(p) for p in prefixes)


def select_findings(report: ValidationReport, findings: Sequence[Finding], select: Sequence[str] = (),
                    ignore: Sequence[str] = ()) -> None:
    """Store in ``report`` the findings ``select``/``ignore`` keep, at most :data:`MAX_PER_CODE` per code.

    Parameters
    ----------
    report : ValidationReport
        Receives the kept findings in ``findings`` and the number hidden in
        ``suppressed``.
    findings : sequence of Finding
        Every finding, in check order.
    select, ignore : sequence of str
        Code prefixes from :func:`parse_codes`; an empty ``select`` keeps all.

    Notes
    -----
    Past the cap, the findings of a code (counted per file: a concatenated
    file's sources have their own counts) are replaced by one finding saying
    how many more there are.
    """
    counts: dict[tuple[str, str | None], int] = {}
    kept = []
    for fd in findings:
        if select and not _matches(fd.code, select):
            report.suppressed += 1
            continue
        if ignore and _matches(fd.code, ignore):
            report.suppressed += 1
            continue
        key = (fd.code, fd.file)
        counts[key] = counts.get(key, 0) + 1
        if counts[key] > MAX_PER_CODE:
            continue
        kept.append(fd)
    for (code, file), k in counts.items():
        if k > MAX_PER_CODE:
            first = next(fd for fd in kept if fd.code == code and fd.file == file)
            base = first.path.split("[")[0]
            kept.append(Finding(code, first.severity, first.check, base,
                                f"... and {k - MAX_PER_CODE} more {code} findings not listed", file))
            report.suppressed += k - MAX_PER_CODE
    report.findings = kept
