"""Shared pytest fixtures.

``real_data`` locates the real public recordings (``../shared/data/real`` from
the project root, or ``$STRFH5_REAL_DATA``) and skips, with the reason, when
they are absent. ``worker`` is the bounded subprocess the hostile-file tests
run entry points in (``tests/hostile/runner.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import malformed
from hostile.runner import Worker

ROOT = Path(__file__).resolve().parent.parent


def real_data_dir() -> Path | None:
    env = os.environ.get("STRFH5_REAL_DATA")
    p = Path(env) if env else ROOT.parent / "shared" / "data" / "real"
    return p if p.is_dir() else None


@pytest.fixture
def real_data() -> Path:
    p = real_data_dir()
    if p is None:
        pytest.skip("real recordings not found: ../shared/data/real is absent (set STRFH5_REAL_DATA)")
    return p


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    """The valid base files of the malformed corpus (tests/malformed.py), one per kind."""
    return malformed.build_bases(tmp_path_factory.mktemp("bases"))


@pytest.fixture(scope="module")
def worker():
    """A bounded worker process (time and address-space limits) for the hostile-file tests."""
    w = Worker()
    yield w
    w.close()
