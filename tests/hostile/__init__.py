"""Hostile strfh5 files and a bounded runner for them (issue 12), used by ``tests/test_hostile*.py``.

``case`` (what a case is), ``craft`` (building blocks of crafted files),
``cases_outside`` / ``cases_bounds`` / ``cases_types`` (the cases, by class),
``expect`` (outcomes and their checks), ``runner`` + ``worker.py`` (a
fork-server subprocess under time and address-space limits, with FIFO
tripwires) and ``fuzz`` (hypothesis mutations).
"""

from __future__ import annotations

from . import cases_bounds, cases_outside, cases_types
from .case import Case

__all__ = ["Case", "all_cases"]


def all_cases() -> list[Case]:
    """Every case, class 1 to 9, with unique names."""
    cases = cases_outside.CASES + cases_bounds.CASES + cases_types.CASES
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    return cases
