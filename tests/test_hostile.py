"""Hostile files (issue 12): every entry point, on every crafted case, in a bounded subprocess.

The cases live in ``tests/hostile/`` (one module per group of classes); each
(case, entry point) pair is one test, run by a shared worker process under a
wall-time and an address-space limit (``tests/hostile/runner.py``), so a hang
or a memory bomb fails that test instead of the suite.  Pairs whose fix is the
reader's (the I/O module) are strict xfails whose reason says what the reader
must do.
"""

from __future__ import annotations

import os

import pytest
from hostile import all_cases
from hostile.expect import Same, SameOrRaises, check

CASES = all_cases()


def _params():
    out = []
    for case in CASES:
        for ep, want in case.expect.items():
            marks = []
            if ep in case.xfail:
                marks.append(pytest.mark.xfail(strict=True, reason=case.xfail[ep]))
            out.append(pytest.param(case, ep, want, id=f"{case.klass}-{case.name}-{ep}", marks=marks))
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    cache: dict = {}

    def get(case):
        if case.name not in cache:
            cache[case.name] = case.build(str(root / case.name))
        return cache[case.name]
    return get


def _request(ep, files, path, work):
    os.makedirs(work, exist_ok=True)
    return {"ep": ep, "path": path, "other": files.other, "work": work, "load_kwargs": files.load_kwargs}


@pytest.mark.parametrize("case, ep, want", _params())
def test_hostile_case(case, ep, want, worker, built):
    files = built(case)
    folder = os.path.dirname(files.path)
    kw = {"timeout": case.timeout} if case.timeout else {}
    res = worker.run(_request(ep, files, files.path, os.path.join(folder + "-work", ep)), files.tripwires, **kw)
    ref = None
    if isinstance(want, (Same, SameOrRaises)) and files.ref:
        ref = worker.run(_request(ep, files, files.ref, os.path.join(folder + "-refwork", ep)))
    problems = check(ep, want, res, ref)
    assert not problems, f"{case.name} ({case.doc}) / {ep}:\n  " + "\n  ".join(problems)
