"""The docstring examples run, on the demo files they name (``demo.strf.h5``, ``demo2.strf.h5``).

Examples that need a real release or a download keep ``# doctest: +SKIP``;
every other example is executed here, in a folder holding two simulated demo
files, with ``strfh5``, ``np`` and ``DataLoader`` in scope.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import numpy as np
import pytest
from torch.utils.data import DataLoader

import strfh5

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _module_names() -> list[str]:
    names = ["strfh5"]
    for info in pkgutil.walk_packages(strfh5.__path__, prefix="strfh5."):
        names.append(info.name)
    return sorted(n for n in names if not n.startswith("strfh5.converters.") and n != "strfh5.__main__")


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("doctest")
    strfh5.write_simulated(str(folder / "demo.strf.h5"), preset="demo", seed=1, progress=False)
    strfh5.write_simulated(str(folder / "demo2.strf.h5"), preset="demo", seed=2, progress=False)
    return folder


@pytest.mark.parametrize("name", _module_names())
def test_docstring_examples(name, demo_folder, monkeypatch):
    module = importlib.import_module(name)
    monkeypatch.chdir(demo_folder)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    globs = {**vars(module), "strfh5": strfh5, "np": np, "DataLoader": DataLoader}
    for test in finder.find(module, name, globs=dict(globs)):
        if test.examples and getattr(module, "__name__", None) == name:
            runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} failed (see the output above)"
