"""Converter discovery through the ``strfh5.converters`` entry-point group (strfh5/converters/__init__.py).

A third-party converter package is simulated by a folder holding a module and
a ``*.dist-info`` with ``entry_points.txt``, put on ``sys.path`` (in a
subprocess through PYTHONPATH, in this process with ``syspath_prepend``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from importlib.metadata import EntryPoint

import pytest

import strfh5.converters as converters
from strfh5.converters import GROUP, SOURCES, get_converter, refresh
from strfh5.errors import ConverterError

from test_converters_base import check_template_file, make_template_release

BUILTINS = {"crcns-aa1", "crcns-aa2", "crcns-aa4", "crcns-ac1", "ns1", "nat4", "espejo", "wingert2026",
            "alice-eeg", "le2025", "downer2025"}

PLUGIN = '''
"""A lab's converter shipped as its own distribution: the template's reader under another id."""
from dataclasses import replace

from strfh5.converters import template

SOURCE = replace(template.SOURCE, id="lab-demo", title="Lab demo release: wavs and a CSV of spike times")


def convert(raw_dir, out_path, *, overwrite=False, **options):
    return template.convert(raw_dir, out_path, overwrite=overwrite, **options)
'''

ENTRY_POINTS = f"""
[{GROUP}]
lab-demo = labconv_demo
lab-broken = labconv_broken
lab-wrong = labconv_demo:convert
crcns-aa1 = labconv_demo
"""


@pytest.fixture
def plugin_site(tmp_path):
    """A folder that, on sys.path, installs the distribution ``labconv-demo`` 1.0 with four entry points."""
    site = tmp_path / "site"
    dist = site / "labconv_demo-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: labconv-demo\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    (site / "labconv_demo.py").write_text(textwrap.dedent(PLUGIN))
    (site / "labconv_broken.py").write_text("import strfh5_no_such_module_xyz\n")
    return site


@pytest.fixture
def patch():
    """A monkeypatch undone before the converters are discovered again."""
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()
    refresh()


def _cli(site, *args, cwd):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "strfh5", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=300)


def test_builtins_are_registered_as_entry_points_of_strfh5():
    assert BUILTINS <= set(SOURCES)
    for sid in BUILTINS:
        ep = converters.entry_point(sid)
        assert ep.group == GROUP and ep.value == f"strfh5.converters.{sid.replace('-', '_')}"
        assert ep.dist is not None and ep.dist.name == "strfh5"
        assert get_converter(sid).SOURCE.id == sid


def test_a_plugin_package_is_listed_and_converts(plugin_site, tmp_path):
    """`strfh5 sources` lists the third-party source (and the broken one, with its reason); `convert` runs it."""
    run = _cli(plugin_site, "sources", cwd=tmp_path)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    assert "lab-demo: Lab demo release: wavs and a CSV of spike times" in run.stdout
    assert all(f"{sid}: " in run.stdout for sid in BUILTINS)
    assert "crcns-aa1: CRCNS AA1" in run.stdout  # the plug-in's claim on a built-in id is refused, loudly
    assert "two converters are registered for source 'crcns-aa1'" in run.stderr
    broken = next(line for line in run.stdout.splitlines() if line.startswith("lab-broken:"))
    assert "converter not available" in broken and "'lab-broken = labconv_broken'" in broken
    assert "labconv-demo 1.0" in broken and "strfh5_no_such_module_xyz" in broken

    raw = make_template_release(tmp_path / "raw")
    run = _cli(plugin_site, "convert", "lab-demo", "--raw", str(raw), "-o", "lab.strf.h5", "--n-bands", "16",
               cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "wrote lab.strf.h5: 2 stimuli x 2 neurons" in run.stdout
    check_template_file(tmp_path / "lab.strf.h5")


def test_a_broken_plugin_is_one_error_naming_its_entry_point(plugin_site, patch, tmp_path):
    patch.syspath_prepend(str(plugin_site))
    with pytest.warns(UserWarning, match=r"'crcns-aa1 = strfh5.converters.crcns_aa1' \(group strfh5.converters, "
                                         r"distribution strfh5 .*\) is used, entry point 'crcns-aa1 = labconv_demo'"):
        refresh()
    assert SOURCES["crcns-aa1"] == "strfh5.converters.crcns_aa1"
    assert {"lab-demo", "lab-broken", "lab-wrong"} | BUILTINS <= set(SOURCES)  # listing imports nothing
    assert "labconv_broken" not in sys.modules
    with pytest.raises(ConverterError) as e:
        get_converter("lab-broken")
    assert str(e.value).startswith(
        "converter 'lab-broken' cannot be loaded from entry point 'lab-broken = labconv_broken' "
        "(group strfh5.converters, distribution labconv-demo 1.0): ModuleNotFoundError: ")
    with pytest.raises(ConverterError, match=r"'lab-wrong' from entry point 'lab-wrong = labconv_demo:convert' .* "
                                             r"does not follow the converter contract"):
        get_converter("lab-wrong")
    assert get_converter("lab-demo").SOURCE.id == "lab-demo"
    run = _cli(plugin_site, "convert", "lab-broken", "--raw", ".", "-o", "x.strf.h5", cwd=tmp_path)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.splitlines()[-1].startswith("strfh5 convert: error: converter 'lab-broken' cannot be loaded from entry point")


def test_unknown_source_lists_the_known_ones():
    with pytest.raises(ConverterError, match=r"unknown source 'nope'; known sources: alice-eeg, crcns-aa1, "):
        get_converter("nope")


def _eps(*pairs):
    return [EntryPoint(name=n, value=v, group=GROUP) for n, v in pairs]


def test_duplicates_collapse_and_a_conflict_warns(patch):
    patch.setattr(converters, "entry_points", lambda group: _eps(
        ("a", "pkg.a"), ("b", "pkg.b"), ("a", "pkg.a"), ("b", "other.b")))
    with pytest.warns(UserWarning, match=r"two converters are registered for source 'b': entry point "
                                         r"'b = pkg.b' .* is used, entry point 'b = other.b' .* is ignored"):
        refresh()
    assert dict(SOURCES) == {"a": "pkg.a", "b": "pkg.b"}


def test_no_registered_converter_says_to_reinstall(patch):
    patch.setattr(converters, "entry_points", lambda group: [])
    with pytest.warns(UserWarning, match=r"no converter is registered .* reinstall strfh5"):
        refresh()
    assert len(SOURCES) == 0
    with pytest.raises(ConverterError, match=r"unknown source 'crcns-aa1'; known sources: \(none\)"):
        get_converter("crcns-aa1")


def test_sources_accepts_entries_set_by_hand(monkeypatch):
    monkeypatch.setitem(SOURCES, "tmpl", "strfh5.converters.template")
    with pytest.raises(ConverterError, match=r"'tmpl' .* SOURCE \(a SourceInfo with id 'tmpl'; found 'template'\)"):
        get_converter("tmpl")
    monkeypatch.setitem(SOURCES, "template", "strfh5.converters.template")
    assert get_converter("template").SOURCE.id == "template"
