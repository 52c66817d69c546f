"""Validating strfh5 files: every rule of SPEC.md, reported as findings.

:func:`validate` checks a file against SPEC.md and returns a
:class:`ValidationReport` listing every problem it finds — not only the first —
as :class:`Finding` objects, each with a stable code, a severity, the name of
the check that found it, the HDF5 object path and a message.  The codes, their
severities and their meaning are listed in SPEC.md, Appendix A; :data:`CODES`
is the same table in machine form (``tests/test_spec.py`` keeps the two
identical).

The validator never raises on a malformed file: every check runs inside a
guard that turns an unexpected HDF5/h5py exception into an ``E020`` finding.
It reads response data one stimulus row at a time, so its memory use is
bounded by one row whatever the size of the file, and it never follows an
external link or reads a virtual dataset before the sources behind it have
been checked (a missing source reads as fill values, a FIFO source hangs the
reader: SPEC §9).

Modules, one per part of SPEC.md:

* :mod:`.report` — :class:`Finding`, :class:`ValidationReport`, severities,
  ``--select``/``--ignore`` (§12); :mod:`.codes` — :data:`CODES` (Appendix A)
* :mod:`.validator` — :func:`validate` and the order of the checks;
  :mod:`.context` — the state they share; :mod:`.values` — reading stored values
* :mod:`.markers` — the file, format marker and version (§1–§2)
* :mod:`.root_attrs` — root attributes (§3.1)
* :mod:`.structure` — object tree, datatypes, shapes, unknown objects (§3.2, §4–§6)
* :mod:`.ids` — unique stimulus and neuron ids (§5.1, §6)
* :mod:`.metadata` — JSON records and schemas (§8, §5.3)
* :mod:`.stimuli` — stimulus groups (§5.2)
* :mod:`.responses` — response rows (§4); :mod:`.integrity` — row digests (§7)
* :mod:`.concatenated` — links, virtual datasets, sources (§9)

Examples
--------
>>> import strfh5
>>> report = strfh5.validate("demo.strf.h5", checksums=True)
>>> report.ok, report.exit_code
(True, 0)
>>> for finding in report.findings:
...     print(finding)
"""

from __future__ import annotations

from .codes import CODES, UNREADABLE  # noqa: F401 - names of the former single module
from .report import ERROR, WARNING, Finding, ValidationReport, parse_codes  # noqa: F401
from .validator import _Validator, validate  # noqa: F401 - _Validator: tests patch its checks

__all__ = ["validate", "ValidationReport", "Finding", "CODES", "parse_codes"]
