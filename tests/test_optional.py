"""Optional dependencies: reading stays light, and a missing extra is named with its install line."""

from __future__ import annotations

import ast
import gzip
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

import strfh5
from strfh5.cli.main import main
from strfh5.errors import MissingDependencyError
from strfh5.optional import install_hint, pip_name, require, require_all

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "data" / "golden"
#: import names of the optional dependencies (and what they drag in) that reading must not import
OPTIONAL = ("librosa", "soundfile", "scipy", "pooch", "requests", "yaml", "pandas", "matplotlib", "mne")
HEAVY = OPTIONAL + ("numba", "llvmlite", "sklearn")


def _extras() -> dict[str, set[str]]:
    """extra -> the distribution names it installs (self-references ``strfh5[a,b]`` expanded)."""
    raw = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]

    def names(extra, seen=()):
        out = set()
        for req in raw[extra]:
            if req.startswith("strfh5["):
                for sub in req[len("strfh5["):-1].split(","):
                    if sub not in seen:
                        out |= names(sub, seen + (extra,))
            else:
                out.add(req.split(">")[0].split("=")[0].split("<")[0].strip().lower())
        return out

    return {extra: names(extra) for extra in raw}


def _sources():
    for folder in ("strfh5", "converters"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_require_returns_the_module_or_names_package_purpose_and_extra(monkeypatch):
    import json as stdlib_json

    assert require("json", extra="convert", purpose="x") is stdlib_json
    monkeypatch.setitem(sys.modules, "yaml", None)  # `import yaml` now fails
    with pytest.raises(MissingDependencyError) as e:
        require("yaml", extra="convert", purpose="reading the session table")
    msg = str(e.value)
    assert msg.startswith("reading the session table needs the optional package 'pyyaml'")
    assert msg.endswith("install it with: pip install 'strfh5[convert]'")
    assert isinstance(e.value, ImportError)


def test_require_all_reports_every_missing_package_at_once(monkeypatch):
    require_all({"json": "convert", "numpy": "plot"}, purpose="nothing")  # all present: no error
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None if name in ("matplotlib", "librosa") else 1)
    with pytest.raises(MissingDependencyError) as e:
        require_all({"librosa": "convert", "scipy": "convert", "matplotlib.pyplot": "plot"}, purpose="the demo")
    assert str(e.value) == ("the demo needs the optional package(s) 'librosa', 'matplotlib', which are not "
                            "installed; install them with: pip install 'strfh5[convert,plot]'")


def test_names():
    assert pip_name("yaml") == "pyyaml" and pip_name("scipy.signal") == "scipy"
    assert install_hint("convert", "plot", "convert") == "pip install 'strfh5[convert,plot]'"


def test_every_require_names_an_extra_that_installs_the_package():
    """The pip line in each error message really brings the package (checked against pyproject.toml)."""
    extras, calls = _extras(), 0
    assert {"convert", "plot", "tables", "eeg", "all", "dev"} <= set(extras)
    assert extras["all"] >= set().union(*(v for k, v in extras.items() if k not in ("all", "dev")))
    for path, tree in _sources():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("require", "require_all")):
                continue
            if node.func.id == "require":
                module = node.args[0].value
                extra = next(k.value.value for k in node.keywords if k.arg == "extra")
                pairs = [(module, extra)]
            else:
                pairs = [(k.value, v.value) for k, v in zip(node.args[0].keys, node.args[0].values)]
            for module, extra in pairs:
                calls += 1
                assert extra in extras, f"{path}:{node.lineno}: unknown extra {extra!r}"
                assert pip_name(module) in extras[extra], f"{path}:{node.lineno}: [{extra}] lacks {pip_name(module)}"
    assert calls >= 15


def test_optional_packages_are_imported_only_through_require():
    """No `import scipy` (at any level) outside strfh5/optional.py: every use goes through require()."""
    offenders = []
    for path, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            offenders += [f"{path.relative_to(ROOT)}:{node.lineno}: {n}" for n in names
                          if n.split(".")[0] in OPTIONAL]
    assert not offenders


def test_reading_and_validating_import_no_optional_dependency(tmp_path):
    """A fresh interpreter loads (eager and lazy), validates and summarises every golden file without them."""
    paths = []
    for gz in sorted(GOLDEN.glob("*.strf.h5.gz")):
        out = tmp_path / gz.name[:-3]
        with gzip.open(gz, "rb") as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst)
        paths.append(str(out))
    assert len(paths) >= 5
    script = f"""
import json, sys
import strfh5
for p in {paths!r}:
    for lazy in (False, True):
        ds = strfh5.load(p, lazy=lazy)
        ds.stims[0], ds.responses[0][0], ds.nrn_masks
    report = strfh5.validate(p, checksums=True)
    assert report.ok, report.summary()
    strfh5.info(p)
print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.strip().splitlines()[-1]) == []


def test_spectrogram_without_librosa_names_the_convert_extra(monkeypatch):
    from strfh5.spectrogram import SpectrogramParams, spectrogram

    monkeypatch.setitem(sys.modules, "librosa", None)
    with pytest.raises(MissingDependencyError, match=r"computing spectrograms .*'librosa'.*strfh5\[convert\]"):
        spectrogram(np.zeros(3200, np.float32), 32000, SpectrogramParams(hop_ms=5, n_bands=8))


def test_plotting_without_matplotlib_names_the_plot_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(MissingDependencyError, match=r"plotting .*'matplotlib'.*strfh5\[plot\]"):
        strfh5.plot_stim_with_response(np.zeros((1, 4, 10)), np.zeros((2, 10)), dt_ms=5)


def test_demo_without_its_extras_says_so_before_writing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None if name in ("matplotlib", "librosa") else 1)
    assert main(["demo", "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert "'librosa', 'matplotlib'" in err and "pip install 'strfh5[convert,plot]'" in err
    assert not (tmp_path / "d").exists()


def test_a_light_install_reads_validates_lists_and_names_the_extras(tmp_path):
    """With every optional package made unimportable, the CLI validates and lists; convert and demo say what to install."""
    from crcns_fixtures import make_aa1

    events = tmp_path / "events.strf.h5"
    with gzip.open(GOLDEN / "v1.0_events.strf.h5.gz", "rb") as src, open(events, "wb") as dst:
        shutil.copyfileobj(src, dst)
    make_aa1(tmp_path / "raw")
    script = f"""
import sys
for name in {HEAVY!r}:
    sys.modules[name] = None  # `import name` raises ImportError, as when it is not installed
from strfh5.cli.main import main
for argv in (["validate", "--checksums", "events.strf.h5"], ["info", "events.strf.h5"], ["sources"],
             ["convert", "crcns-aa1", "--raw", "raw", "-o", "aa1.strf.h5"], ["demo", "--out", "demo"]):
    print("EXIT", argv[0], main(argv), flush=True)
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert run.returncode == 0, run.stderr
    exits = dict(line.split()[1:] for line in run.stdout.splitlines() if line.startswith("EXIT"))
    assert exits == {"validate": "0", "info": "0", "sources": "0", "convert": "2", "demo": "2"}, run.stdout
    assert "not available" not in run.stdout  # listing imports no optional package
    errors = [line for line in run.stderr.splitlines() if line.startswith("strfh5 ")]
    assert len(errors) == 2 and errors[0].startswith("strfh5 convert: error: ") and "pip install 'strfh5[convert]'" in errors[0]
    assert errors[1].startswith("strfh5 demo: error: ") and "pip install 'strfh5[convert,plot]'" in errors[1]
    assert not (tmp_path / "aa1.strf.h5").exists() and not (tmp_path / "demo").exists()
