"""Validating strfh5 files: every rule of SPEC.md, reported as findings.

:func:`validate` checks a file against SPEC.md and returns a
:class:`ValidationReport` listing every problem it finds — not only the first —
as :class:`Finding` objects, each with a stable code, a severity, the name of
the check that found it, the HDF5 object path and a message.  The codes, their
severities and their meaning are listed in SPEC.md, Appendix A; :data:`CODES`
below is the same table in machine form (``tests/test_spec.py`` keeps the two
identical).

The validator never raises on a malformed file: every check runs inside a
guard that turns an unexpected HDF5/h5py exception into an ``E020`` finding.
It reads response data one stimulus row at a time, so its memory use is
bounded by one row whatever the size of the file, and it never follows an
external link or reads a virtual dataset before the sources behind it have
been checked (a missing source reads as fill values, a FIFO source hangs the
reader: SPEC §9).

Examples
--------
>>> import strfh5
>>> report = strfh5.validate("data.strf.h5", checksums=True)   # doctest: +SKIP
>>> report.ok, report.exit_code                                 # doctest: +SKIP
(True, 0)
>>> for finding in report.findings:                             # doctest: +SKIP
...     print(finding)
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import stat
import uuid as _uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

import h5py
import numpy as np

from . import layout as L

__all__ = ["validate", "ValidationReport", "Finding", "CODES", "parse_codes"]

ERROR = "error"
WARNING = "warning"

#: Every finding code: ``code -> (check, summary)``.  The first letter gives the
#: severity (``E`` error, ``W`` warning).  SPEC.md Appendix A is the prose form
#: of this table; codes are stable: a code is never reused for another meaning.
CODES: dict[str, tuple[str, str]] = {
    # file and version (SPEC §1, §2)
    "E001": ("file", "the path does not exist, is a folder, or is not a regular file"),
    "E002": ("file", "not an HDF5 file (no HDF5 signature)"),
    "E003": ("file", "HDF5 signature present but the file cannot be opened"),
    "E010": ("format", "root attribute strfh5_format missing or not 'strfh5'"),
    "E011": ("version", "root attribute strfh5_version missing"),
    "E012": ("version", "strfh5_version is not a 'MAJOR.MINOR' string"),
    "E013": ("version", "major format version newer than this library reads"),
    "E014": ("version", "major format version 0 (before 1.0)"),
    "W015": ("version", "minor format version newer than this library: unknown objects ignored"),
    "E020": ("internal", "an object could not be read or a check could not complete (HDF5 error)"),
    # root attributes (SPEC §3.1)
    "E101": ("root-attributes", "required root attribute missing"),
    "E102": ("root-attributes", "root attribute has the wrong HDF5 type or shape"),
    "E103": ("root-attributes", "root attribute value not allowed"),
    "E104": ("root-attributes", "modality does not match stim_kind"),
    "E105": ("root-attributes", "response_kind does not fit encoding"),
    "W106": ("root-attributes", "unknown root attribute (ignored by readers)"),
    # structure (SPEC §3.2, §4-§7)
    "E201": ("structure", "required group, dataset or attribute missing"),
    "E202": ("structure", "object of the wrong kind (group/dataset/link)"),
    "E203": ("structure", "dataset or attribute has the wrong datatype"),
    "E204": ("structure", "dataset has the wrong shape (S, N inconsistent)"),
    "W205": ("structure", "unknown object (ignored by readers)"),
    "E206": ("structure", "/stimuli@count differs from the number of stimuli"),
    "W207": ("structure", "string table stored as fixed-length strings (variable-length recommended)"),
    "E208": ("structure", "/repeats fill value is not 0"),
    "W209": ("structure", "/counts present in a binned file (ignored)"),
    "W210": ("structure", "integer data not stored in the smallest unsigned type that holds them"),
    # ids (SPEC §5.1, §6)
    "E301": ("ids", "duplicate stimulus id"),
    "E302": ("ids", "duplicate neuron id"),
    # stimuli (SPEC §5)
    "E401": ("stimuli", "stimulus group missing for an index 0..S-1"),
    "E402": ("stimuli", "stimulus group beyond S-1 or with a non-canonical name"),
    "E403": ("stimuli", "stimulus group without its data dataset"),
    "E404": ("stimuli", "stimulus data not a floating-point type"),
    "E405": ("stimuli", "stimulus shape inconsistent with stim_kind / stim_dims"),
    "E406": ("stimuli", "stimulus time axis differs from n_bins (spectrogram/video)"),
    "E407": ("stimuli", "NaN or Inf in stimulus data"),
    "E408": ("stimuli", "stimulus data cannot be read (checksum or filter failure)"),
    "E409": ("stimuli", "sample_rate missing or not a positive number"),
    "E410": ("stimuli", "kept source waveform malformed (shape, type, NaN/Inf)"),
    "W411": ("stimuli", "stimulus stored without the recommended gzip+shuffle+fletcher32 filters"),
    "E412": ("stimuli", "stimulus stored with a filter outside HDF5's built-in set"),
    "W413": ("stimuli", "spectrogram file without /stimuli@transform"),
    # responses (SPEC §4)
    "E501": ("responses", "binned element length differs from repeats x n_bins"),
    "E502": ("responses", "non-empty element where repeats = 0"),
    "E503": ("responses", "events: number of per-repeat counts differs from repeats"),
    "E504": ("responses", "events: per-repeat counts do not sum to the number of spike times"),
    "E505": ("responses", "NaN or Inf spike time"),
    "E506": ("responses", "Inf in a continuous signal (NaN marks bad samples, Inf is not allowed)"),
    "E507": ("responses", "a response row cannot be read"),
    # integrity (SPEC §7)
    "E601": ("integrity", "row digest mismatch: stored data differ from what was written"),
    "E602": ("integrity", "digest algorithm attribute missing or unknown"),
    "W603": ("integrity", "digests not verifiable in this file (verified in its sources)"),
    # metadata (SPEC §8)
    "E701": ("metadata", "metadata is not valid UTF-8 strict JSON"),
    "E702": ("metadata", "metadata record is not a JSON object"),
    "E703": ("metadata", "metadata record fails its schema"),
    "E704": ("metadata", "schema id not shipped with this library"),
    # links and concatenation (SPEC §9)
    "E801": ("links", "external link in a file that is not concatenated"),
    "E802": ("links", "virtual dataset in a file that is not concatenated"),
    "W803": ("links", "soft link (the format defines none)"),
    "E804": ("links", "concatenated file's data not checked (sources failed their checks, or strfh5.virtual unavailable)"),
    "E805": ("links", "source list of a concatenated file cannot be read"),
    # concatenation checks reported by strfh5.virtual.source_findings (SPEC §9)
    "E901": ("sources", "source path absolute or leaving the concatenated file's folder"),
    "E902": ("sources", "source file missing"),
    "E903": ("sources", "source is not a regular file (folder, FIFO, device)"),
    "E904": ("sources", "source is not an HDF5 strfh5 file of a major version this library reads"),
    "E905": ("sources", "source UUID differs from the one recorded (source replaced)"),
    "E906": ("sources", "source datasets missing or of another shape or dtype than mapped"),
    "E907": ("sources", "virtual dataset missing, not virtual, or mapping an unrecorded source"),
    "E908": ("sources", "external link not to a recorded source's stimulus group, or stimulus links missing"),
    "E909": ("sources", "/sources tables missing or inconsistent"),
    "E910": ("sources", "source is itself a concatenated file"),
    "E911": ("sources", "virtual dataset or external link in a source that is not concatenated"),
    "E912": ("sources", "HDF5_VDS_PREFIX / HDF5_EXT_PREFIX set: sources would resolve elsewhere"),
}

#: codes meaning the file could not be read at all (exit code 2)
UNREADABLE = ("E001", "E002", "E003")

_MAX_PER_CODE = 100
_STIM_SLAB_BYTES = 64 * 2**20
_TABLE_BLOCK = 10000
#: HDF5 filters every HDF5 build has (deflate, shuffle, fletcher32, szip, nbit, scaleoffset)
_BUILTIN_FILTERS = {1, 2, 3, 4, 5, 6}


# ---------------------------------------------------------------- findings
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


_CODE_RE = re.compile(r"^[EW]?[0-9]{0,3}$")


def parse_codes(codes) -> tuple[str, ...]:
    """Parse ``--select``/``--ignore`` values: comma-separated codes or prefixes.

    ``"E2,W210"`` selects every ``E2xx`` code and ``W210``.  Raises
    :class:`~strfh5.errors.SelectionError` for an item that is not a code or a
    prefix of one.
    """
    from .errors import SelectionError

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


# ------------------------------------------------------------------ helpers
def _strict_json(text: str):
    """Parse RFC 8259 JSON: NaN/Infinity and duplicate keys are refused."""

    def bad_constant(name):
        raise ValueError(f"{name} is not valid JSON (strict JSON has no NaN/Infinity)")

    def pairs(items):
        d = {}
        for k, v in items:
            if k in d:
                raise ValueError(f"duplicate key {k!r}")
            d[k] = v
        return d

    return json.loads(text, parse_constant=bad_constant, object_pairs_hook=pairs)


def _decode(value) -> str:
    """A stored string (bytes or str, possibly a 0-d array) as ``str`` (strict UTF-8)."""
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf-8")
    return str(value)


def _short(items: Sequence, n: int = 5) -> str:
    items = list(items)
    more = f" (+{len(items) - n} more)" if len(items) > n else ""
    return ", ".join(str(x) for x in items[:n]) + more


def _dtype_name(dt) -> str:
    vlen = h5py.check_vlen_dtype(dt)
    if vlen is not None:
        if vlen in (str, bytes):
            return "variable-length string"
        return f"variable-length {np.dtype(vlen).name}"
    s = h5py.check_string_dtype(dt)
    if s is not None:
        return f"fixed-length string ({s.length} bytes)"
    return np.dtype(dt).name


def _le(dt) -> np.dtype:
    dt = np.dtype(dt)
    return dt.newbyteorder("<") if dt.byteorder in (">", "=", "<") and dt.itemsize > 1 else dt


def _is_string_dtype(dt) -> bool:
    return h5py.check_string_dtype(dt) is not None


# ---------------------------------------------------------------- validator
class _Validator:
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

    # -- recording
    def add(self, code: str, path: str, message: str, *, severity: str | None = None,
            check: str | None = None, file: str | None = None) -> None:
        if severity is None:
            severity = ERROR if code.startswith("E") else WARNING
        if check is None:
            check = CODES.get(code, ("other", ""))[0]
        message = " ".join(str(message).split())  # one line, whatever an exception text holds
        self.findings.append(Finding(code, severity, check, path, message, file))

    def guard(self, check: str, path: str, fn: Callable, *args) -> Any:
        """Run ``fn``; an unexpected exception becomes an E020 finding."""
        try:
            return fn(*args)
        except Exception as e:  # noqa: BLE001 - a malformed file must never raise
            msg = str(e).strip() or type(e).__name__
            self.add("E020", path, f"check '{check}' could not complete: {type(e).__name__}: {msg}", check=check)
            return None

    # -- main sequence
    def run(self) -> None:
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
            if self.version <= L.FORMAT_VERSION:
                self.guard("structure", "/", self.check_unknown)
        finally:
            try:
                self.f.close()
            except Exception:  # pragma: no cover - closing a broken handle
                pass

    # -- E0xx
    def open(self) -> bool:
        p = self.path
        try:
            st = os.stat(p)
        except FileNotFoundError:
            self.add("E001", "/", f"{p}: no such file")
            self.readable = False
            return False
        except OSError as e:
            self.add("E001", "/", f"{p}: cannot be accessed ({e.strerror or e})")
            self.readable = False
            return False
        if stat.S_ISDIR(st.st_mode):
            self.add("E001", "/", f"{p}: is a folder, not a strfh5 file")
            self.readable = False
            return False
        if not stat.S_ISREG(st.st_mode):
            # a FIFO or device would block or stream forever: never open it
            self.add("E001", "/", f"{p}: is not a regular file (FIFO, socket or device); not opened")
            self.readable = False
            return False
        try:
            is_h5 = h5py.is_hdf5(p)
        except Exception as e:  # noqa: BLE001
            self.add("E003", "/", f"{p}: cannot be read ({type(e).__name__}: {e})")
            self.readable = False
            return False
        if not is_h5:
            self.add("E002", "/", f"{p}: not an HDF5 file (no HDF5 signature; size {st.st_size} bytes)")
            self.readable = False
            return False
        try:
            self.f = h5py.File(p, "r")
        except Exception as e:  # noqa: BLE001
            self.add("E003", "/", f"{p}: HDF5 signature found but the file cannot be opened ({e})")
            self.readable = False
            return False
        return True

    def check_markers(self) -> bool:
        a = self.f.attrs
        if L.ATTR_FORMAT not in a:
            self.add("E010", f"/@{L.ATTR_FORMAT}",
                     f"HDF5 file without the strfh5 marker: root attribute '{L.ATTR_FORMAT}' = "
                     f"'{L.FORMAT_NAME}' is missing; not a strfh5 file, nothing else checked")
            return False
        try:
            fmt = _decode(a[L.ATTR_FORMAT])
        except Exception:  # noqa: BLE001
            fmt = None
        if fmt != L.FORMAT_NAME:
            self.add("E010", f"/@{L.ATTR_FORMAT}",
                     f"root attribute '{L.ATTR_FORMAT}' is {fmt!r}, expected '{L.FORMAT_NAME}'; "
                     "nothing else checked")
            return False
        if L.ATTR_VERSION not in a:
            self.add("E011", f"/@{L.ATTR_VERSION}",
                     f"root attribute '{L.ATTR_VERSION}' is missing; checked as format {L.FORMAT_VERSION_STR}")
            return True
        try:
            text = _decode(a[L.ATTR_VERSION])
            major, minor = L.parse_version(text)
        except Exception:  # noqa: BLE001
            self.add("E012", f"/@{L.ATTR_VERSION}",
                     f"'{L.ATTR_VERSION}' = {a.get(L.ATTR_VERSION)!r} is not a 'MAJOR.MINOR' string "
                     f"such as '{L.FORMAT_VERSION_STR}'; checked as format {L.FORMAT_VERSION_STR}")
            return True
        self.info["version"] = f"{major}.{minor}"
        if major > L.FORMAT_VERSION[0]:
            from . import __version__

            self.add("E013", f"/@{L.ATTR_VERSION}",
                     f"file is strfh5 format {major}.{minor}; strfh5 {__version__} reads format "
                     f"{L.FORMAT_VERSION[0]}.x only: install a release that reads format {major}.x "
                     f"(pip install 'strfh5>={major}'); nothing else checked")
            return False
        if major < 1:
            self.add("E014", f"/@{L.ATTR_VERSION}",
                     f"format version {major}.{minor} predates 1.0 (pre-release files are not supported)")
            return False
        if (major, minor) > L.FORMAT_VERSION:
            self.add("W015", f"/@{L.ATTR_VERSION}",
                     f"file is strfh5 format {major}.{minor}, newer than {L.FORMAT_VERSION_STR}: it is checked "
                     f"against the {L.FORMAT_VERSION_STR} rules and objects this library does not know are ignored")
        self.version = (major, minor)
        return True

    # -- E1xx
    def _attr_string(self, name: str, path: str) -> str | None:
        aid = self.f.attrs.get_id(name)
        if not _is_string_dtype(aid.dtype) or aid.shape != ():
            self.add("E102", path, f"must be a scalar UTF-8 string, found {_dtype_name(aid.dtype)} "
                                   f"of shape {aid.shape}")
            return None
        try:
            return _decode(self.f.attrs[name])
        except UnicodeDecodeError as e:
            self.add("E102", path, f"string is not valid UTF-8 ({e})")
            return None

    def check_root_attrs(self) -> None:
        a = self.f.attrs
        present = set(a.keys())
        for name in L.REQUIRED_ROOT_ATTRS:
            if name in (L.ATTR_FORMAT, L.ATTR_VERSION):
                continue
            if name not in present:
                self.add("E101", f"/@{name}", f"required root attribute '{name}' is missing")
        # version attribute type (its value was checked by check_markers)
        if L.ATTR_VERSION in present:
            self.guard("root-attributes", f"/@{L.ATTR_VERSION}", self._attr_string, L.ATTR_VERSION,
                       f"/@{L.ATTR_VERSION}")
        strings = {}
        for name in (L.ATTR_UUID, L.ATTR_CREATED_BY, L.ATTR_CREATED_AT, L.ATTR_ENCODING, L.ATTR_MODALITY,
                     L.ATTR_STIM_KIND, L.ATTR_RESPONSE_KIND, L.ATTR_SCHEMA_FILE, L.ATTR_SCHEMA_STIMULUS,
                     L.ATTR_SCHEMA_NEURON):
            if name in present:
                strings[name] = self.guard("root-attributes", f"/@{name}", self._attr_string, name, f"/@{name}")
        ok = self.attrs_ok

        def enum(name, allowed):
            v = strings.get(name)
            if v is None:
                return None
            if v not in allowed:
                self.add("E103", f"/@{name}", f"'{name}' = {v!r} is not one of {', '.join(map(repr, allowed))}")
                return None
            ok[name] = v
            self.info[name] = v
            return v

        enc = enum(L.ATTR_ENCODING, L.ENCODINGS)
        kind = enum(L.ATTR_STIM_KIND, L.STIM_KINDS)
        modality = enum(L.ATTR_MODALITY, L.MODALITIES)
        rk = enum(L.ATTR_RESPONSE_KIND, L.RESPONSE_KINDS)
        if kind and modality and L.STIM_KIND_MODALITY[kind] != modality:
            self.add("E104", f"/@{L.ATTR_MODALITY}",
                     f"modality {modality!r} does not match stim_kind {kind!r} "
                     f"(expected {L.STIM_KIND_MODALITY[kind]!r})")
        if enc and rk and rk not in L.ENCODING_RESPONSE_KINDS[enc]:
            self.add("E105", f"/@{L.ATTR_RESPONSE_KIND}",
                     f"response_kind {rk!r} does not fit encoding {enc!r} "
                     f"(expected one of {', '.join(map(repr, L.ENCODING_RESPONSE_KINDS[enc]))})")
            ok.pop(L.ATTR_RESPONSE_KIND, None)
        if strings.get(L.ATTR_UUID) is not None:
            u = strings[L.ATTR_UUID]
            try:
                parsed = _uuid.UUID(u)
                if str(parsed) != u.lower():
                    raise ValueError
            except ValueError:
                self.add("E103", f"/@{L.ATTR_UUID}",
                         f"uuid {u!r} is not an RFC 4122 UUID in canonical 8-4-4-4-12 hex form")
            else:
                self.info["uuid"] = u
        if strings.get(L.ATTR_CREATED_BY) is not None and not strings[L.ATTR_CREATED_BY].strip():
            self.add("E103", f"/@{L.ATTR_CREATED_BY}", "created_by is empty (expected e.g. 'strfh5 0.1.0')")
        if strings.get(L.ATTR_CREATED_AT) is not None:
            t = strings[L.ATTR_CREATED_AT]
            try:
                when = _dt.datetime.fromisoformat(t.replace("Z", "+00:00"))
                if when.tzinfo is None:
                    raise ValueError
            except ValueError:
                self.add("E103", f"/@{L.ATTR_CREATED_AT}",
                         f"created_at {t!r} is not an ISO 8601 date-time with a UTC offset "
                         "(e.g. '2024-05-01T12:00:00+00:00')")
        for name in (L.ATTR_SCHEMA_FILE, L.ATTR_SCHEMA_STIMULUS, L.ATTR_SCHEMA_NEURON):
            if strings.get(name) is not None:
                ok[name] = strings[name]
        # dt_ms
        if L.ATTR_DT_MS in present:
            aid = a.get_id(L.ATTR_DT_MS)
            if aid.shape != () or np.dtype(aid.dtype).kind != "f":
                self.add("E102", f"/@{L.ATTR_DT_MS}",
                         f"dt_ms must be a scalar floating-point number, found {_dtype_name(aid.dtype)} "
                         f"of shape {aid.shape}")
            else:
                v = float(a[L.ATTR_DT_MS])
                if not np.isfinite(v) or v <= 0:
                    self.add("E103", f"/@{L.ATTR_DT_MS}", f"dt_ms = {v} must be a positive finite number of ms")
                else:
                    ok[L.ATTR_DT_MS] = v
                    self.info["dt_ms"] = v
        # stim_dims
        if L.ATTR_STIM_DIMS in present:
            aid = a.get_id(L.ATTR_STIM_DIMS)
            if len(aid.shape) != 1 or np.dtype(aid.dtype).kind not in "iu":
                self.add("E102", f"/@{L.ATTR_STIM_DIMS}",
                         f"stim_dims must be a 1-D integer array, found {_dtype_name(aid.dtype)} "
                         f"of shape {aid.shape}")
            else:
                dims = tuple(int(d) for d in np.asarray(a[L.ATTR_STIM_DIMS]).reshape(-1))
                bad = False
                if kind and len(dims) != L.STIM_KIND_NDIM[kind] - 1:
                    expect = {L.STIM_SPECTROGRAM: "(C, F)", L.STIM_WAVEFORM: "(C,)", L.STIM_VIDEO: "(C, H, W)"}[kind]
                    self.add("E103", f"/@{L.ATTR_STIM_DIMS}",
                             f"stim_dims {list(dims)} has {len(dims)} entries; stim_kind {kind!r} needs "
                             f"{L.STIM_KIND_NDIM[kind] - 1}: {expect}")
                    bad = True
                if any(d < 1 for d in dims):
                    self.add("E103", f"/@{L.ATTR_STIM_DIMS}", f"stim_dims {list(dims)} must be positive sizes")
                    bad = True
                if not bad:
                    ok[L.ATTR_STIM_DIMS] = dims
                    self.info["stim_dims"] = list(dims)
        # concatenated (optional)
        if L.ATTR_CONCATENATED in present:
            aid = a.get_id(L.ATTR_CONCATENATED)
            kindc = np.dtype(aid.dtype).kind
            val = None
            if aid.shape == () and kindc in "biu":
                val = int(np.asarray(a[L.ATTR_CONCATENATED]))
            if val not in (0, 1):
                self.add("E102", f"/@{L.ATTR_CONCATENATED}",
                         f"'concatenated' must be a scalar boolean, found {_dtype_name(aid.dtype)} "
                         f"of shape {aid.shape}")
            else:
                self.concatenated = bool(val)
                self.info["concatenated"] = self.concatenated
        if self.version <= L.FORMAT_VERSION:
            known = set(L.REQUIRED_ROOT_ATTRS) | {L.ATTR_CONCATENATED}
            for name in sorted(present - known):
                self.add("W106", f"/@{name}", f"unknown root attribute '{name}' (not part of format "
                                              f"{L.FORMAT_VERSION_STR}; readers ignore it)")

    # -- E8xx
    def check_links(self) -> None:
        """External links, soft links and virtual datasets, without following any link."""
        found: list[tuple[str, Any]] = []

        def visit(name):
            link = self.f.get(name, getlink=True)
            found.append((name, link))

        self.f.visit_links(visit)
        for name, link in found:
            p = "/" + name
            if isinstance(link, h5py.ExternalLink):
                if not self.concatenated:
                    self.add("E801", p, f"external link to '{link.filename}:{link.path}': a file that is not "
                                        "concatenated must be self-contained (the link is not followed)")
            elif isinstance(link, h5py.SoftLink):
                self.add("W803", p, f"soft link to '{link.path}': the format defines no soft links; "
                                    "readers do not follow it")
            elif isinstance(link, h5py.HardLink):
                obj = self.guard("links", p, self.f.get, name)
                if isinstance(obj, h5py.Dataset) and obj.is_virtual and not self.concatenated:
                    srcs = self.guard("links", p, obj.virtual_sources) or []
                    files = sorted({s.file_name for s in srcs})
                    self.add("E802", p, f"virtual dataset (sources: {_short(files)}) in a file that is not "
                                        "concatenated; its data are not read")

    def check_concatenation(self) -> None:
        try:
            from .virtual import source_findings
        except ImportError as e:
            self.add("E804", "/", f"file is concatenated but this installation cannot check its sources "
                                  f"(strfh5.virtual unavailable: {e}); its virtual data were not read")
            return
        results = source_findings(self.f, self.path)
        any_error = False
        for item in results:
            code, severity, check, obj_path, message = item
            self.add(str(code), str(obj_path), str(message), severity=str(severity), check=str(check))
            any_error |= severity == ERROR
        if any_error:
            self.add("E804", "/", "the sources of this concatenated file failed their checks (see above); "
                                  "its virtual data and linked stimuli were not read")
            return
        self.sources_ok = True
        self.guard("links", f"/{L.SOURCE_PATHS}", self.validate_sources)

    def validate_sources(self) -> None:
        from .virtual import read_sources

        try:
            recs = read_sources(self.f, self.path, allow_external=True)
        except Exception as e:  # noqa: BLE001
            self.add("E805", f"/{L.SOURCES}", f"the source list cannot be read ({type(e).__name__}: {e}); "
                                              "sources not validated")
            return
        for rec in recs:
            key = os.path.realpath(rec.resolved)
            if key in self.seen or self.depth >= 4:
                continue
            self.seen.add(key)
            sub = _Validator(rec.resolved, self.checksums, self.depth + 1, self.seen)
            sub.run()
            for fd in sub.findings:
                self.findings.append(Finding(fd.code, fd.severity, fd.check, fd.path, fd.message,
                                             fd.file or rec.path))

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
                    self.add("E201", p, f"required {_kind_name(kind)} '{p}' is missing")
                elif required and not self._reported(sub):
                    self.add("E201", p, f"required {_kind_name(kind)} '{p}' is missing "
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
                self.add("E202", p, f"'{p}' must be a {_kind_name(kind)}, found a {type(cur).__name__.lower()}")
            return None
        return cur

    def _reported(self, sub: str) -> bool:
        return any(fd.code == "E201" and fd.path == sub for fd in self.findings)

    def data_readable(self, ds: h5py.Dataset) -> bool:
        """Whether reading ``ds`` is safe: a virtual dataset only once its sources are checked."""
        return (not ds.is_virtual) or self.sources_ok

    # -- E2xx
    def check_structure(self) -> None:
        enc = self.attrs_ok.get(L.ATTR_ENCODING)
        rk = self.attrs_ok.get(L.ATTR_RESPONSE_KIND)
        G, D = h5py.Group, h5py.Dataset
        stimuli = self.lookup(L.STIMULI, kind=G)
        neurons = self.lookup(L.NEURONS, kind=G)
        self.lookup(L.METADATA, kind=D)
        S = N = None
        tables = {}
        if stimuli is not None:
            for name in (L.STIM_IDS, L.STIM_METADATA, L.STIM_N_BINS):
                tables[name] = self.lookup(name, kind=D)
        if neurons is not None:
            for name in (L.NEURON_IDS, L.NEURON_METADATA):
                tables[name] = self.lookup(name, kind=D)
        # string tables and S, N
        for name in (L.STIM_IDS, L.STIM_METADATA, L.NEURON_IDS, L.NEURON_METADATA):
            ds = tables.get(name)
            if ds is None:
                continue
            if not _is_string_dtype(ds.dtype):
                self.add("E203", "/" + name, f"must hold UTF-8 strings, found {_dtype_name(ds.dtype)}")
                tables[name] = None
                continue
            if h5py.check_string_dtype(ds.dtype).length is not None:
                self.add("W207", "/" + name, "stored as fixed-length strings; variable-length UTF-8 "
                                             "strings are recommended (SPEC §1.3)")
            if len(ds.shape) != 1:
                self.add("E204", "/" + name, f"must be 1-D, found shape {ds.shape}")
                tables[name] = None
        if tables.get(L.STIM_IDS) is not None:
            S = tables[L.STIM_IDS].shape[0]
        if tables.get(L.NEURON_IDS) is not None:
            N = tables[L.NEURON_IDS].shape[0]
        nb = tables.get(L.STIM_N_BINS)
        if nb is not None:
            if np.dtype(nb.dtype).kind != "u":
                self.add("E203", f"/{L.STIM_N_BINS}", f"must be an unsigned integer type, found {_dtype_name(nb.dtype)}")
                nb = None
            elif len(nb.shape) != 1:
                self.add("E204", f"/{L.STIM_N_BINS}", f"must be 1-D, found shape {nb.shape}")
                nb = None
            elif S is None:
                S = nb.shape[0]
        for name, other, ref in ((L.STIM_METADATA, S, L.STIM_IDS), (L.STIM_N_BINS, S, L.STIM_IDS),
                                 (L.NEURON_METADATA, N, L.NEURON_IDS)):
            ds = tables.get(name) if name != L.STIM_N_BINS else nb
            if ds is not None and other is not None and ds.shape[0] != other:
                self.add("E204", "/" + name, f"has {ds.shape[0]} entries, /{ref} has {other}")
                if name == L.STIM_N_BINS:
                    nb = None
        if nb is not None and S is not None and self.data_readable(nb):
            self.n_bins = np.asarray(nb[()], dtype=np.int64).reshape(-1)
        self.S, self.N = S, N
        if S is not None:
            self.info["S"] = S
        if N is not None:
            self.info["N"] = N
        if stimuli is not None and L.ATTR_COUNT in stimuli.attrs:
            cnt = self.guard("structure", f"/{L.STIMULI}@{L.ATTR_COUNT}", lambda: np.asarray(stimuli.attrs[L.ATTR_COUNT]))
            if cnt is not None and (cnt.shape != () or cnt.dtype.kind not in "iu"):
                self.add("E203", f"/{L.STIMULI}@{L.ATTR_COUNT}", f"must be a scalar integer, found {cnt.dtype} {cnt.shape}")
            elif cnt is not None and S is not None and int(cnt) != S:
                self.add("E206", f"/{L.STIMULI}@{L.ATTR_COUNT}", f"count = {int(cnt)} but /{L.STIM_IDS} has {S} entries")
        # (S, N) datasets
        shape = (S, N) if S is not None and N is not None else None
        self.resp = self.lookup(L.RESPONSES, kind=D)
        self.rep = self.lookup(L.REPEATS, kind=D)
        self.cnt = None
        if enc == L.ENCODING_EVENTS:
            self.cnt = self.lookup(L.COUNTS, kind=D)
        elif enc == L.ENCODING_BINNED and self.lookup(L.COUNTS, required=False) is not None:
            self.add("W209", f"/{L.COUNTS}", "per-repeat counts belong to events files; ignored in a binned file")
        if self.resp is not None:
            base = h5py.check_vlen_dtype(self.resp.dtype)
            if base is None or base in (str, bytes):
                self.add("E203", f"/{L.RESPONSES}", f"must be a variable-length sequence dataset, found "
                                                    f"{_dtype_name(self.resp.dtype)}")
                self.resp = None
            else:
                base = np.dtype(base)
                allowed = None
                if enc == L.ENCODING_EVENTS:
                    allowed, what = L.EVENT_TIME_DTYPES, "float32 or float64 spike times"
                elif rk == L.RESPONSE_COUNTS:
                    allowed, what = L.COUNT_DTYPES, "unsigned integer counts (uint8/16/32/64)"
                elif rk == L.RESPONSE_CONTINUOUS:
                    allowed, what = (L.CONTINUOUS_DTYPE,), "float32 continuous values"
                if allowed is not None and _le(base) not in allowed:
                    self.add("E203", f"/{L.RESPONSES}", f"elements are {base.name}; {enc} / {rk} files store {what}")
                    self.resp = None
        if self.cnt is not None:
            base = h5py.check_vlen_dtype(self.cnt.dtype)
            if base is None or base in (str, bytes) or _le(np.dtype(base)) not in L.COUNT_DTYPES:
                self.add("E203", f"/{L.COUNTS}", f"must be a variable-length sequence of unsigned integers, "
                                                 f"found {_dtype_name(self.cnt.dtype)}")
                self.cnt = None
        if self.rep is not None:
            if _le(self.rep.dtype) not in L.COUNT_DTYPES:
                self.add("E203", f"/{L.REPEATS}", f"must be an unsigned integer type, found {_dtype_name(self.rep.dtype)}")
                self.rep = None
            elif self.rep.fillvalue != 0:
                self.add("E208", f"/{L.REPEATS}", f"fill value is {self.rep.fillvalue}; it must be 0 so that "
                                                  "unwritten or unmapped pairs read as not recorded")
        for attr, name in (("resp", L.RESPONSES), ("cnt", L.COUNTS), ("rep", L.REPEATS)):
            ds = getattr(self, attr)
            if ds is None:
                continue
            if len(ds.shape) != 2:
                self.add("E204", "/" + name, f"must be 2-D (S, N), found shape {ds.shape}")
                setattr(self, attr, None)
            elif shape is not None and ds.shape != shape:
                self.add("E204", "/" + name, f"has shape {ds.shape}, expected (S, N) = {shape} "
                                             f"(S from /{L.STIM_IDS}, N from /{L.NEURON_IDS})")
                setattr(self, attr, None)
        # integrity
        self.digests = {}
        integ = self.lookup(L.INTEGRITY, kind=G, required=not self.concatenated)
        if integ is not None:
            names = [(L.INTEGRITY_RESPONSES, L.RESPONSES)]
            if enc == L.ENCODING_EVENTS:
                names.append((L.INTEGRITY_COUNTS, L.COUNTS))
            for name, target in names:
                ds = self.lookup(name, kind=D)
                if ds is None:
                    continue
                if ds.dtype != np.uint8:
                    self.add("E203", "/" + name, f"digests must be uint8, found {_dtype_name(ds.dtype)}")
                    continue
                if ds.shape != ((S if S is not None else ds.shape[0]), L.DIGEST_SIZE):
                    self.add("E204", "/" + name, f"has shape {ds.shape}, expected (S, {L.DIGEST_SIZE}) = "
                                                 f"({S}, {L.DIGEST_SIZE})")
                    continue
                alg = ds.attrs.get(L.ATTR_ALGORITHM)
                if alg is None:
                    self.add("E602", f"/{name}@{L.ATTR_ALGORITHM}",
                             f"digest algorithm attribute missing (expected '{L.DIGEST_ALGORITHM}')")
                    continue
                try:
                    alg = _decode(alg)
                except Exception:  # noqa: BLE001
                    alg = repr(alg)
                if alg != L.DIGEST_ALGORITHM:
                    self.add("E602", f"/{name}@{L.ATTR_ALGORITHM}",
                             f"unknown digest algorithm {alg!r} (this library knows '{L.DIGEST_ALGORITHM}')")
                    continue
                self.digests[target] = ds
        elif self.concatenated and self.checksums:
            self.add("W603", f"/{L.INTEGRITY}", "a concatenated file stores no response data of its own: "
                                                "row digests are verified in its source files")

    # -- E3xx
    def check_ids(self) -> None:
        blocks = self.source_blocks()
        for name, code, what in ((L.STIM_IDS, "E301", "stimulus"), (L.NEURON_IDS, "E302", "neuron")):
            ds = self.lookup(name, required=False, kind=h5py.Dataset)
            if ds is None or not _is_string_dtype(ds.dtype) or len(ds.shape) != 1 or not self.data_readable(ds):
                continue
            ids = self.read_strings(ds, "/" + name)
            if blocks is None:
                groups = [(None, range(len(ids)))]
            else:
                groups = [(k, rows if what == "stimulus" else cols) for k, (rows, cols) in enumerate(blocks)]
            for k, positions in groups:
                seen: dict[str, int] = {}
                scope = "in a file" if k is None else f"within the block of source {k} (/{L.SOURCES})"
                for i in positions:
                    i = int(i)
                    x = ids[i] if 0 <= i < len(ids) else None
                    if x is None:
                        continue
                    if x in seen:
                        self.add(code, f"/{name}[{i}]", f"{what} id {x!r} at position {i} duplicates position "
                                                        f"{seen[x]}; {what} ids must be unique {scope}")
                    else:
                        seen[x] = i

    def source_blocks(self):
        """Rows and columns of each source recorded in ``/sources`` (concatenations and their copies)."""
        if self.f.get(L.SOURCES, getlink=True) is None:
            return None
        try:
            from .virtual import read_sources

            recs = read_sources(self.f, self.path, allow_external=True)
        except Exception:  # noqa: BLE001 - reported by the concatenation checks; fall back to file-wide ids
            return None
        return [(r.stim_rows, range(r.neuron_offset, r.neuron_offset + r.n_neurons)) for r in recs]

    def read_strings(self, ds: h5py.Dataset, path: str) -> list:
        """Decode a 1-D string table in blocks; undecodable entries become None (E701)."""
        out: list = []
        n = ds.shape[0]
        for a in range(0, n, _TABLE_BLOCK):
            raw = ds[a: a + _TABLE_BLOCK]
            for j, v in enumerate(raw):
                try:
                    out.append(_decode(v))
                except UnicodeDecodeError as e:
                    self.add("E701", f"{path}[{a + j}]", f"string is not valid UTF-8 ({e})")
                    out.append(None)
        return out

    # -- E7xx
    def check_metadata(self) -> None:
        from . import schema as _schema

        schemas = {}
        for kind, attr in (("file", L.ATTR_SCHEMA_FILE), ("stimulus", L.ATTR_SCHEMA_STIMULUS),
                           ("neuron", L.ATTR_SCHEMA_NEURON)):
            sid = self.attrs_ok.get(attr)
            if sid is None:
                continue
            try:
                _schema.get_schema(sid)
            except Exception:  # noqa: BLE001 - SchemaNotFoundError
                self.add("E704", f"/@{attr}", f"{kind} schema {sid!r} is not shipped with this strfh5 library "
                                              f"(known ids: strfh5.schema.schema_ids()); {kind} metadata not "
                                              "checked against it")
                continue
            schemas[kind] = sid
        self.info["schemas"] = {k: self.attrs_ok.get(a) for k, a in (("file", L.ATTR_SCHEMA_FILE),
                                                                     ("stimulus", L.ATTR_SCHEMA_STIMULUS),
                                                                     ("neuron", L.ATTR_SCHEMA_NEURON))}
        # file-level record
        ds = self.lookup(L.METADATA, required=False, kind=h5py.Dataset)
        if ds is not None:
            if not _is_string_dtype(ds.dtype):
                self.add("E203", f"/{L.METADATA}", f"must be a UTF-8 string, found {_dtype_name(ds.dtype)}")
            elif ds.shape != ():
                self.add("E204", f"/{L.METADATA}", f"must be a scalar string, found shape {ds.shape}")
            else:
                self.check_record(ds[()], f"/{L.METADATA}", schemas.get("file"), "file metadata")
        for name, kind in ((L.STIM_METADATA, "stimulus"), (L.NEURON_METADATA, "neuron")):
            ds = self.lookup(name, required=False, kind=h5py.Dataset)
            if ds is None or not _is_string_dtype(ds.dtype) or len(ds.shape) != 1 or not self.data_readable(ds):
                continue
            for a in range(0, ds.shape[0], _TABLE_BLOCK):
                raw = ds[a: a + _TABLE_BLOCK]
                for j, v in enumerate(raw):
                    self.check_record(v, f"/{name}[{a + j}]", schemas.get(kind), f"{kind} {a + j} metadata")
        # transform
        stimuli = self.lookup(L.STIMULI, required=False, kind=h5py.Group)
        if stimuli is not None:
            p = f"/{L.STIMULI}@{L.ATTR_TRANSFORM}"
            if L.ATTR_TRANSFORM in stimuli.attrs:
                aid = stimuli.attrs.get_id(L.ATTR_TRANSFORM)
                if not _is_string_dtype(aid.dtype) or aid.shape != ():
                    self.add("E203", p, f"must be a scalar UTF-8 JSON string, found {_dtype_name(aid.dtype)}")
                else:
                    self.check_record(stimuli.attrs[L.ATTR_TRANSFORM], p, _schema.CORE["transform"],
                                      "stimulus transform")
            elif self.attrs_ok.get(L.ATTR_STIM_KIND) == L.STIM_SPECTROGRAM:
                self.add("W413", p, "spectrogram file without the transform attribute: the file does not say "
                                    "how its spectrograms were computed (SPEC §5.3)")

    def check_record(self, raw, path: str, schema_id: str | None, what: str) -> None:
        from . import schema as _schema

        try:
            text = _decode(raw)
        except UnicodeDecodeError as e:
            self.add("E701", path, f"{what} is not valid UTF-8 ({e})")
            return
        try:
            rec = _strict_json(text)
        except ValueError as e:
            snippet = text if len(text) <= 60 else text[:57] + "..."
            self.add("E701", path, f"{what} is not valid strict JSON ({e}): {snippet!r}")
            return
        if not isinstance(rec, dict):
            self.add("E702", path, f"{what} must be a JSON object, found a JSON {type(rec).__name__}")
            return
        if schema_id is None:
            return
        errs = _schema.iter_errors(rec, schema_id)
        if errs:
            self.add("E703", path, f"{what} fails schema {schema_id}: {_short(errs)}")

    # -- E4xx
    def check_stimuli(self) -> None:
        stimuli = self.lookup(L.STIMULI, required=False, kind=h5py.Group)
        if stimuli is None or self.S is None:
            return
        S = self.S
        kind = self.attrs_ok.get(L.ATTR_STIM_KIND)
        dims = self.attrs_ok.get(L.ATTR_STIM_DIMS)
        # groups beyond S or with non-canonical names
        for name in list(stimuli.keys()):
            if name.isdigit():
                idx = int(name)
                if name != L.stim_group_name(idx):
                    self.add("E402", f"/{L.STIMULI}/{name}",
                             f"group name {name!r} is not canonical for index {idx} "
                             f"(expected {L.stim_group_name(idx)!r}: zero-padded to {L.STIM_GROUP_DIGITS} digits)")
                elif idx >= S:
                    self.add("E402", f"/{L.STIMULI}/{name}",
                             f"stimulus group {idx} but the file has S = {S} stimuli (0..{S - 1})")
        for s in range(S):
            self.guard("stimuli", "/" + L.stim_group_path(s), self.check_stimulus, stimuli, s, kind, dims)

    def check_stimulus(self, stimuli, s: int, kind, dims) -> None:
        gname = L.stim_group_name(s)
        gp = "/" + L.stim_group_path(s)
        link = stimuli.get(gname, getlink=True)
        if link is None:
            self.add("E401", gp, f"stimulus group for index {s} is missing (expected one group per stimulus 0..S-1)")
            return
        g = self.lookup(L.stim_group_path(s), kind=h5py.Group)
        if g is None:
            return
        dlink = g.get(L.STIM_DATA, getlink=True)
        if dlink is None:
            self.add("E403", f"{gp}/{L.STIM_DATA}", f"stimulus {s} has no '{L.STIM_DATA}' dataset")
            return
        ds = self.lookup(f"{L.stim_group_path(s)}/{L.STIM_DATA}", kind=h5py.Dataset)
        if ds is None:
            return
        dp = f"{gp}/{L.STIM_DATA}"
        shape_ok = True
        if np.dtype(ds.dtype).kind != "f" or _le(ds.dtype) not in L.STIM_DTYPES:
            self.add("E404", dp, f"stimulus data are {_dtype_name(ds.dtype)}; expected float16, float32 or float64")
            shape_ok = False
        if kind is not None:
            nd = L.STIM_KIND_NDIM[kind]
            if len(ds.shape) != nd:
                self.add("E405", dp, f"shape {ds.shape} has {len(ds.shape)} axes; {kind} stimuli have {nd} "
                                     "(channel first, time last)")
                shape_ok = False
            elif dims is not None and tuple(ds.shape[:-1]) != tuple(dims):
                self.add("E405", dp, f"shape {ds.shape}: non-time axes {tuple(ds.shape[:-1])} differ from "
                                     f"stim_dims {tuple(dims)} shared by every stimulus of the file")
                shape_ok = False
            elif kind != L.STIM_WAVEFORM and self.n_bins is not None and ds.shape[-1] != self.n_bins[s]:
                self.add("E406", dp, f"{ds.shape[-1]} time frames but /{L.STIM_N_BINS}[{s}] = {self.n_bins[s]} "
                                     f"({kind} stimuli share the response time axis)")
        self.check_filters(ds, dp)
        if kind == L.STIM_WAVEFORM:
            self.check_sample_rate(ds, dp)
        if shape_ok and self.data_readable(ds):
            self.check_finite(ds, dp, "E407", f"stimulus {s}")
        # kept source waveform
        if kind != L.STIM_WAVEFORM and g.get(L.STIM_WAVEFORM_DS, getlink=True) is not None:
            wp = f"{gp}/{L.STIM_WAVEFORM_DS}"
            w = self.lookup(f"{L.stim_group_path(s)}/{L.STIM_WAVEFORM_DS}", kind=h5py.Dataset)
            if w is None:
                return
            ok = True
            if len(w.shape) != 2 or np.dtype(w.dtype).kind != "f":
                self.add("E410", wp, f"kept waveform must be a floating-point (C, T_audio) array, found "
                                     f"{_dtype_name(w.dtype)} of shape {w.shape}")
                ok = False
            self.check_sample_rate(w, wp)
            self.check_filters(w, wp)
            if ok and self.data_readable(w):
                self.check_finite(w, wp, "E410", f"kept waveform of stimulus {s}")

    def check_sample_rate(self, ds, dp) -> None:
        p = f"{dp}@{L.ATTR_SAMPLE_RATE}"
        if L.ATTR_SAMPLE_RATE not in ds.attrs:
            self.add("E409", p, "sample_rate attribute (Hz) is missing")
            return
        aid = ds.attrs.get_id(L.ATTR_SAMPLE_RATE)
        if aid.shape != () or np.dtype(aid.dtype).kind not in "fiu":
            self.add("E409", p, f"sample_rate must be a scalar number, found {_dtype_name(aid.dtype)} {aid.shape}")
            return
        v = float(ds.attrs[L.ATTR_SAMPLE_RATE])
        if not np.isfinite(v) or v <= 0:
            self.add("E409", p, f"sample_rate = {v} must be a positive finite number of Hz")

    def check_filters(self, ds, dp) -> None:
        if ds.size == 0 or ds.is_virtual:
            return
        plist = ds.id.get_create_plist()
        codes = []
        for i in range(plist.get_nfilters()):
            code, _flags, _vals, name = plist.get_filter(i)
            codes.append(code)
            if code not in _BUILTIN_FILTERS:
                nm = name.decode("ascii", "replace") if isinstance(name, bytes) else str(name)
                self.add("E412", dp, f"uses HDF5 filter {code} ({nm!r}), which is not built into every HDF5 "
                                     "library: MATLAB/Julia/h5dump readers may fail; use gzip")
        missing = [n for c, n in ((1, "gzip"), (2, "shuffle"), (3, "fletcher32")) if c not in codes]
        if missing:
            self.add("W411", dp, f"stored without {', '.join(missing)} (SPEC §5.2 recommends "
                                 "gzip + shuffle + fletcher32 for stimulus arrays)")

    def check_finite(self, ds, dp, code, what) -> None:
        """Scan ``ds`` for NaN/Inf in bounded slabs along its last axis."""
        if ds.size == 0:
            return
        per_step = max(1, int(np.prod(ds.shape[:-1])) * ds.dtype.itemsize)
        step = max(1, _STIM_SLAB_BYTES // per_step)
        T = ds.shape[-1]
        bad = 0
        first = None
        for a in range(0, T, step):
            try:
                block = ds[..., a: a + step]
            except OSError as e:
                self.add("E408", dp, f"{what}: data cannot be read (time frames {a}..{min(T, a + step) - 1}): "
                                     f"{e} — a fletcher32 checksum failure means the stored bytes changed")
                return
            nf = ~np.isfinite(block)
            k = int(nf.sum())
            if k and first is None:
                first = a + int(np.argwhere(nf)[0][-1])
            bad += k
        if bad:
            self.add(code, dp, f"{what} holds {bad} NaN/Inf value(s) (first at time index {first}); "
                               "stimuli must be finite")

    # -- E5xx / E6xx
    def check_responses(self) -> None:
        resp, rep, cnt = getattr(self, "resp", None), getattr(self, "rep", None), getattr(self, "cnt", None)
        enc = self.attrs_ok.get(L.ATTR_ENCODING)
        rk = self.attrs_ok.get(L.ATTR_RESPONSE_KIND)
        if resp is None or rep is None or self.S is None or self.N is None or enc is None:
            return
        if enc == L.ENCODING_EVENTS and cnt is None:
            return
        if enc == L.ENCODING_BINNED and (self.n_bins is None or rk is None):
            return
        if not all(self.data_readable(d) for d in (resp, rep) + ((cnt,) if cnt is not None else ())):
            return
        S, N = self.S, self.N
        self.max_value = {L.RESPONSES: 0, L.COUNTS: 0, L.REPEATS: 0}
        self.file_size = os.path.getsize(self.path)
        self.sizeof_addr = self.f.id.get_create_plist().get_sizes()[0]
        verify = self.checksums and bool(self.digests)
        if self.checksums and not self.digests and not self.concatenated:
            pass  # missing integrity datasets were reported as E201 / E602
        if verify:
            self.info["checksums_verified"] = sorted("/" + k for k in self.digests)
        for s in range(S):
            self.guard("responses", f"/{L.RESPONSES}[{s}]", self.check_row, s, enc, rk, verify)
        # smallest-type recommendations
        for name, ds in ((L.REPEATS, rep), (L.COUNTS, cnt),
                         (L.RESPONSES, resp if rk == L.RESPONSE_COUNTS else None)):
            if ds is None:
                continue
            dt = h5py.check_vlen_dtype(ds.dtype) if name != L.REPEATS else ds.dtype
            best = L.smallest_uint(self.max_value[name])
            if np.dtype(dt).itemsize > best.itemsize:
                self.add("W210", "/" + name, f"stored as {np.dtype(dt).name} but the largest value is "
                                             f"{self.max_value[name]}: {best.name} would hold it")

    def claimed_lengths(self, ds: h5py.Dataset, s: int) -> np.ndarray | None:
        """Element lengths of row ``s`` as stored in the VLEN descriptors, without reading the heap.

        HDF5 allocates the length a descriptor claims before it finds the heap
        reference broken, so a corrupt descriptor can demand gigabytes.  The
        on-disk descriptor of a VLEN element is a 4-byte little-endian length
        followed by a global-heap id (an address and a 4-byte index).  Returns
        None when the layout does not allow a direct look (filtered, virtual,
        compact or unallocated storage).
        """
        if ds.is_virtual or not ds.shape[1]:
            return None
        dcpl = ds.id.get_create_plist()
        if dcpl.get_nfilters():
            return None
        esz = 8 + self.sizeof_addr
        N = ds.shape[1]
        layout = dcpl.get_layout()
        if layout == h5py.h5d.CHUNKED:
            cr, cn = ds.chunks
            r0 = (s // cr) * cr
            out = np.zeros(N, dtype=np.int64)
            for c0 in range(0, N, cn):
                info = ds.id.get_chunk_info_by_coord((r0, c0))
                if info.byte_offset is None:
                    continue  # unallocated chunk: fill values (empty elements)
                _mask, raw = ds.id.read_direct_chunk((r0, c0))
                rec = np.frombuffer(raw, dtype=np.uint8)
                if rec.size != cr * cn * esz:
                    return None
                k = min(cn, N - c0)
                rec = rec.reshape(cr, cn, esz)[s - r0, :k, :4]
                out[c0: c0 + k] = np.ascontiguousarray(rec).view("<u4").reshape(-1)
            return out
        if layout == h5py.h5d.CONTIGUOUS:
            off = ds.id.get_offset()
            if off is None:
                return None
            with open(self.path, "rb") as fh:
                fh.seek(off + s * N * esz)
                raw = fh.read(N * esz)
            if len(raw) != N * esz:
                return None
            return np.ascontiguousarray(np.frombuffer(raw, np.uint8).reshape(N, esz)[:, :4]).view("<u4") \
                .reshape(-1).astype(np.int64)
        return None

    def plausible_row(self, ds: h5py.Dataset, name: str, s: int) -> bool:
        """False (and an E507 finding) when a descriptor of row ``s`` claims more data than the file holds."""
        try:
            lengths = self.claimed_lengths(ds, s)
        except Exception:  # noqa: BLE001 - no direct look possible: read the row normally
            return True
        if lengths is None or not lengths.size:
            return True
        itemsize = np.dtype(h5py.check_vlen_dtype(ds.dtype)).itemsize
        bad = np.flatnonzero(lengths * itemsize > self.file_size)
        for n in bad[:5]:
            self.add("E507", f"/{name}[{s}, {n}]",
                     f"element claims {lengths[n]} values ({lengths[n] * itemsize} bytes), more than the whole "
                     f"file ({self.file_size} bytes): its heap reference is corrupt; row {s} not read")
        return not bad.size

    def check_row(self, s: int, enc: str, rk: str, verify: bool) -> None:
        N = self.N
        rp = f"/{L.RESPONSES}[{s}]"
        if not all([self.plausible_row(self.resp, L.RESPONSES, s)]
                   + ([self.plausible_row(self.cnt, L.COUNTS, s)] if enc == L.ENCODING_EVENTS else [])):
            return
        try:
            reps = np.asarray(self.rep[s], dtype=np.int64).reshape(-1)
            raw = self.resp[s] if N else np.empty(0, dtype=object)
            counts = self.cnt[s] if (enc == L.ENCODING_EVENTS and N) else None
        except Exception as e:  # noqa: BLE001
            self.add("E507", rp, f"row {s} cannot be read ({type(e).__name__}: {e})")
            return
        if reps.size:
            self.max_value[L.REPEATS] = max(self.max_value[L.REPEATS], int(reps.max()))
        lengths = np.fromiter((e.size for e in raw), dtype=np.int64, count=len(raw))
        empty_where_missing = (reps == 0) & (lengths > 0)
        for n in np.flatnonzero(empty_where_missing):
            self.add("E502", f"/{L.RESPONSES}[{s}, {n}]",
                     f"holds {lengths[n]} values but /{L.REPEATS}[{s}, {n}] = 0 (an unrecorded pair is empty)")
        values = np.concatenate(list(raw)) if len(raw) else np.empty(0)
        if enc == L.ENCODING_EVENTS:
            clen = np.fromiter((e.size for e in counts), dtype=np.int64, count=len(counts))
            csum = np.fromiter((int(e.sum(dtype=np.uint64)) for e in counts), dtype=np.int64, count=len(counts))
            for n in np.flatnonzero(clen != reps):
                self.add("E503", f"/{L.COUNTS}[{s}, {n}]",
                         f"holds {clen[n]} per-repeat counts but /{L.REPEATS}[{s}, {n}] = {reps[n]}")
            for n in np.flatnonzero((csum != lengths) & (clen == reps)):
                self.add("E504", f"/{L.RESPONSES}[{s}, {n}]",
                         f"holds {lengths[n]} spike times but /{L.COUNTS}[{s}, {n}] sums to {csum[n]}")
            if values.size and not np.all(np.isfinite(values)):
                for n, e in enumerate(raw):
                    k = int((~np.isfinite(e)).sum())
                    if k:
                        self.add("E505", f"/{L.RESPONSES}[{s}, {n}]", f"holds {k} NaN/Inf spike time(s)")
            if len(counts):
                cmax = max((int(e.max()) for e in counts if e.size), default=0)
                self.max_value[L.COUNTS] = max(self.max_value[L.COUNTS], cmax)
        else:
            nb = int(self.n_bins[s])
            expect = reps * nb
            for n in np.flatnonzero((lengths != expect) & (reps > 0)):
                self.add("E501", f"/{L.RESPONSES}[{s}, {n}]",
                         f"holds {lengths[n]} values, expected repeats x n_bins = {reps[n]} x {nb} = {expect[n]}")
            if rk == L.RESPONSE_CONTINUOUS:
                if values.size and np.isinf(values).any():
                    for n, e in enumerate(raw):
                        k = int(np.isinf(e).sum())
                        if k:
                            self.add("E506", f"/{L.RESPONSES}[{s}, {n}]", f"holds {k} infinite value(s)")
            elif values.size:
                self.max_value[L.RESPONSES] = max(self.max_value[L.RESPONSES], int(values.max()))
        if verify:
            for name, row in ((L.RESPONSES, raw), (L.COUNTS, counts)):
                ds = self.digests.get(name)
                if ds is None or row is None:
                    continue
                stored = bytes(np.asarray(ds[s], dtype=np.uint8))
                actual = L.row_digest(list(row))
                if stored != actual:
                    self.add("E601", f"/{name}[{s}]",
                             f"row {s} does not match its digest /{L.INTEGRITY}/{name}[{s}] "
                             f"(stored {stored.hex()[:16]}…, computed {actual.hex()[:16]}…): "
                             "the data changed after they were written")

    # -- W205
    def check_unknown(self) -> None:
        known = {
            "/": {L.METADATA, L.RESPONSES, L.COUNTS, L.REPEATS, L.STIMULI, L.NEURONS, L.INTEGRITY, L.SOURCES},
            f"/{L.STIMULI}": {"ids", "metadata", "n_bins"},
            f"/{L.NEURONS}": {"ids", "metadata"},
            f"/{L.INTEGRITY}": {"responses", "counts"},
        }
        for gpath, names in known.items():
            g = self.f if gpath == "/" else self.lookup(gpath.strip("/"), required=False, kind=h5py.Group)
            if g is None:
                continue
            for name in g.keys():
                if name in names or (gpath == f"/{L.STIMULI}" and name.isdigit()):
                    continue
                p = f"{gpath.rstrip('/')}/{name}"
                self.add("W205", p, f"unknown object '{p}' (not part of format {L.FORMAT_VERSION_STR}; "
                                    "readers ignore it)")
        stimuli = self.lookup(L.STIMULI, required=False, kind=h5py.Group)
        if stimuli is None or self.S is None:
            return
        for s in range(self.S):
            link = stimuli.get(L.stim_group_name(s), getlink=True)
            if not isinstance(link, h5py.HardLink):
                continue
            g = stimuli[L.stim_group_name(s)]
            if not isinstance(g, h5py.Group):
                continue
            for name in g.keys():
                if name not in (L.STIM_DATA, L.STIM_WAVEFORM_DS):
                    p = f"/{L.stim_group_path(s)}/{name}"
                    self.add("W205", p, f"unknown object '{p}' in a stimulus group (readers ignore it)")


def _kind_name(kind) -> str:
    if kind is h5py.Group:
        return "group"
    if kind is h5py.Dataset:
        return "dataset"
    return "object"


# -------------------------------------------------------------------- entry
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
    >>> report = strfh5.validate("a.strf.h5", checksums=True)   # doctest: +SKIP
    >>> print(report)                                           # doctest: +SKIP
    a.strf.h5: valid (0 errors, 0 warnings, checksums verified) [version=1.0, encoding=events, ...]
    """
    sel, ign = parse_codes(select), parse_codes(ignore)
    p = os.fspath(path)
    v = _Validator(p, bool(checksums), seen={os.path.realpath(p)})
    try:
        v.run()
    except Exception as e:  # noqa: BLE001 - last resort: never a traceback for a bad file
        v.add("E020", "/", f"validation stopped: {type(e).__name__}: {e}")
    report = ValidationReport(path=p, readable=v.readable, checksums=bool(checksums), info=v.info)
    counts: dict[str, int] = {}
    kept = []
    for fd in v.findings:
        if sel and not _matches(fd.code, sel):
            report.suppressed += 1
            continue
        if ign and _matches(fd.code, ign):
            report.suppressed += 1
            continue
        key = (fd.code, fd.file)
        counts[key] = counts.get(key, 0) + 1
        if counts[key] > _MAX_PER_CODE:
            continue
        kept.append(fd)
    for (code, file), k in counts.items():
        if k > _MAX_PER_CODE:
            first = next(fd for fd in kept if fd.code == code and fd.file == file)
            base = first.path.split("[")[0]
            kept.append(Finding(code, first.severity, first.check, base,
                                f"... and {k - _MAX_PER_CODE} more {code} findings not listed", file))
            report.suppressed += k - _MAX_PER_CODE
    report.findings = kept
    return report
