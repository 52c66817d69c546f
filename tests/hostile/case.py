"""What a hostile-file case is: :class:`Case`, and the helpers the case modules declare them with.

A case builds its file(s) in an empty folder and states, per entry point,
the outcome it demands (:mod:`hostile.expect`).  Cases whose fix belongs to
the reader's I/O module carry an ``xfail`` reason per entry point, starting
with ``"read path:"`` and saying what the reader must do.  The builders live
in ``cases_outside.py`` (class 1), ``cases_bounds.py`` (classes 2-4) and
``cases_types.py`` (classes 5-9); :func:`hostile.all_cases` gathers them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .craft import Files
from .expect import ALL, READERS, VALIDATORS, Finds, Raises


@dataclass
class Case:
    """One crafted file and what every entry point must do with it."""

    name: str
    klass: int
    build: Callable[[str], Files]
    expect: dict
    xfail: dict = field(default_factory=dict)  # entry point -> reason (the read path's work)
    doc: str = ""
    timeout: float | None = None  # seconds; shorter than the default for cases known to hang today


def refused(error: str = "FileFormatError", codes=(), *, path=None, once=None, **override) -> dict:
    """Readers raise ``error``; the validator reports ``codes``; ``override`` replaces single entry points."""
    out = {ep: Raises(error) for ep in READERS}
    out.update({ep: Finds(tuple(codes), path=path, once=once) for ep in VALIDATORS})
    out.update(override)
    return {ep: out[ep] for ep in ALL if out.get(ep) is not None}


def read_path(reason: str, eps=("load", "lazy", "info", "info_cli", "concat", "materialize", "quality")) -> dict:
    """xfail reasons for the reader's entry points: ``read path: <what the reader must do>``."""
    return {ep: f"read path: {reason}" for ep in eps}
