"""Hypothesis fuzz of hostile files: structural mutations and byte flips, seeded and bounded.

Each example mutates a valid base file (``tests/hostile/fuzz.py``) and runs
entry points on it in the bounded worker of ``tests/hostile/runner.py``.
``derandomize=True`` fixes the examples (the same on every run), and
``max_examples`` bounds the time.  The validator must keep the promise on
every example (report, never hang, crash or raise), and so must the readers
(eager and lazy load, info: correct data or a strfh5 error, within the
worker's time and memory bounds).
"""

from __future__ import annotations

import malformed
import pytest
from hostile import fuzz
from hostile.expect import keeps_promise
from hypothesis import HealthCheck, Phase, given, settings

# no shrinking: a failing example is reported as drawn (shrinking would rerun it many times)
_SETTINGS = settings(max_examples=25, derandomize=True, deadline=None, database=None,
                     phases=(Phase.explicit, Phase.generate), suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def fuzz_bases(tmp_path_factory):
    """The events and binned base files only (the conftest's ``bases`` has every kind: too slow to fuzz)."""
    root = tmp_path_factory.mktemp("fuzz")
    return {k: malformed.BASE_BUILDERS[k](str(root / f"{k}.strf.h5")) for k in ("events", "binned")}


def _run(worker, fuzz_bases, tmp_path_factory, mutation, eps):
    problems = []
    for kind, base in fuzz_bases.items():
        folder = tmp_path_factory.mktemp("ex")
        path = fuzz.apply(base, str(folder / "case.strf.h5"), mutation)
        for ep in eps:
            res = worker.run({"ep": ep, "path": path, "other": path, "work": str(folder)})
            problems += [f"{kind} / {ep}: {p}" for p in keeps_promise(res) if "E020" not in p]
    return problems


def test_fuzz_validator(worker, fuzz_bases, tmp_path_factory):
    @_SETTINGS
    @given(fuzz.mutations)
    def run(mutation):
        problems = _run(worker, fuzz_bases, tmp_path_factory, mutation, ("validate_checksums",))
        assert not problems, f"mutation {mutation}:\n  " + "\n  ".join(problems)
    run()


def test_fuzz_readers(worker, fuzz_bases, tmp_path_factory):
    @_SETTINGS
    @given(fuzz.mutations)
    def run(mutation):
        problems = _run(worker, fuzz_bases, tmp_path_factory, mutation, ("load", "lazy", "info"))
        assert not problems, f"mutation {mutation}:\n  " + "\n  ".join(problems)
    run()
