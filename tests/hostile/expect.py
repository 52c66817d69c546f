"""What an entry point must do on a hostile file, and checking a :class:`~hostile.runner.Result` against it.

The outcomes a case can demand:

* :class:`Raises` — a strfh5 error of the named class (checked on the class
  hierarchy the worker reports, so a subclass passes);
* :class:`Finds` — the validator reports these codes (and the file is not
  valid); :class:`Valid` — it reports no error (only the listed warnings);
* :class:`Same` — the values equal those the same entry point returns on the
  case's reference file; :class:`SameOrRaises` — those values or the error.

Whatever the demand, every result must also keep the promise: no hang, no
crash, no tripwire opened, no E020 (the validator's "could not complete"), and
text for people (``info``) free of control characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .runner import Result

#: entry points that read data and must refuse a hostile file with an error
READERS = ("load", "lazy", "info", "info_cli", "concat", "materialize", "quality")
VALIDATORS = ("validate", "validate_checksums")
ALL = READERS + VALIDATORS

_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Raises:
    cls: str = "StrfH5Error"


@dataclass(frozen=True)
class Finds:
    codes: tuple = ()  # each must be reported; "E911|E802" accepts either
    path: str | None = None  # a finding with this object path must be among them
    once: str | None = None  # this code must be reported exactly once


@dataclass(frozen=True)
class Valid:
    warnings: tuple = ()


@dataclass(frozen=True)
class Same:
    pass


@dataclass(frozen=True)
class Ok:
    """Returns (whatever the values); the promise is still checked."""


@dataclass(frozen=True)
class SameOrRaises:
    cls: str = "StrfH5Error"


def keeps_promise(res: Result) -> list[str]:
    """Problems every entry point must avoid on every file."""
    out = []
    if res.outcome in ("hang", "crash"):
        out.append(res.describe())
    if res.touched:
        out.append(f"opened paths outside the file's folder: {res.touched}")
    if res.outcome == "error" and "StrfH5Error" not in res.mro:
        out.append(f"raised a raw {res.mro[0]} (not a strfh5 error): {res.message[:300]}")
    if res.outcome == "ok" and isinstance(res.value, dict):
        text = res.value.get("text")
        if isinstance(text, str) and _CONTROL.search(text):
            out.append(f"printed control characters: {_CONTROL.findall(text)[:5]}")
        findings = res.value.get("findings") or []
        e020 = [f for f in findings if f[0] == "E020"]
        if e020:
            out.append(f"validator could not complete a check (E020) at {[f[1] for f in e020]}")
    return out


def _as_cli_error(ep: str, res: Result) -> Result:
    """``strfh5 info`` reports errors by exit code 2 and one escaped line: read it as the error."""
    if ep == "info_cli" and res.outcome == "ok" and res.value.get("rc") != 0:
        return Result("error", mro=["CLIError", "StrfH5Error"], message=res.value.get("text", ""),
                      seconds=res.seconds)
    return res


def check(ep: str, want, res: Result, ref: Result | None = None) -> list[str]:
    """Every way ``res`` (entry point ``ep``) misses ``want``; empty when it meets it."""
    problems = keeps_promise(res)
    res = _as_cli_error(ep, res)
    if isinstance(want, Raises):
        if res.outcome != "error" or (want.cls not in res.mro and not (ep == "info_cli" and res.outcome == "error")):
            problems.append(f"expected {want.cls}, but it {res.describe()}")
    elif isinstance(want, (Finds, Valid)):
        if res.outcome != "ok":
            problems.append(f"validate must report, but it {res.describe()}")
            return problems
        codes = [f[0] for f in res.value["findings"]]
        if isinstance(want, Valid):
            bad = [c for c in codes if c.startswith("E") or c not in want.warnings]
            if bad or res.value["exit_code"] != 0:
                problems.append(f"expected a valid file, found {res.value['text'][:1500]}")
        else:
            missing = [c for c in want.codes if not set(c.split("|")) & set(codes)]  # "A|B": either
            if missing or res.value["exit_code"] == 0:
                problems.append(f"expected findings {list(want.codes)}, got {res.value['text'][:1500]}")
            if want.path and not any(f[1] == want.path for f in res.value["findings"]):
                problems.append(f"no finding names {want.path}: {res.value['text'][:1500]}")
            if want.once and codes.count(want.once) != 1:
                problems.append(f"{want.once} reported {codes.count(want.once)} times, expected once")
    elif isinstance(want, Ok):
        if res.outcome != "ok":
            problems.append(f"expected success, but it {res.describe()}")
    elif isinstance(want, (Same, SameOrRaises)):
        if isinstance(want, SameOrRaises) and res.outcome == "error" and want.cls in res.mro:
            return problems
        if res.outcome != "ok":
            problems.append(f"expected the reference values, but it {res.describe()}")
        elif ref is None or ref.outcome != "ok":
            problems.append(f"the reference file itself failed: {ref.describe() if ref else None}")
        elif _strip(res.value) != _strip(ref.value):
            problems.append(f"values differ from the reference:\n  got {str(res.value)[:600]}\n"
                            f"  ref {str(ref.value)[:600]}")
    return problems


def _strip(value):
    """Values without what legitimately differs between two files (their paths and sizes in text)."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in ("text",)}
    return value
