"""SPEC.md agrees with the code: required objects, root attributes, codes, examples.

The tables of SPEC.md marked ``machine-read`` are parsed here.  For every
object and attribute the specification marks required, the writer must
produce it and the validator must reject a copy of the file without it; every
object the writer produces must be in the tables; the finding-code appendix
must equal ``strfh5.validation.CODES``; and the worked example and the
plain-h5py reader printed in the specification must run and give what the
text says.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

import strfh5
from strfh5 import layout as L
from strfh5.validation import CODES, validate

sys.path.insert(0, os.path.dirname(__file__))
import malformed as M  # noqa: E402

SPEC = Path(__file__).resolve().parent.parent / "SPEC.md"
LIBRARY_DOC = Path(__file__).resolve().parent.parent / "docs" / "library.md"


# ------------------------------------------------------------------ parsing
def _spec() -> str:
    return SPEC.read_text(encoding="utf-8")


def _table(marker: str) -> list[dict[str, str]]:
    """The markdown table following ``<!-- marker ... -->`` as a list of row dicts."""
    lines = _spec().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"<!-- {marker}"))
    rows = []
    for line in lines[start + 1:]:
        if not line.startswith("|"):
            if rows:
                break
            continue
        rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    header, _sep, *body = rows
    return [dict(zip(header, r)) for r in body]


def _code_block(marker: str, doc: Path = SPEC) -> str:
    text = doc.read_text(encoding="utf-8")
    i = text.index(f"<!-- {marker}")
    m = re.compile(r"```[a-z]*\n(.*?)```", re.S).search(text, i)
    return m.group(1)


def _name(cell: str) -> str:
    return cell.strip("`")


ROOT_ATTRS = _table("root-attributes-table")
OBJECTS = _table("required-objects-table")
REQUIRED_WHEN = {"yes", "events", "waveform", "with waveform", "no"}


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    return M.build_bases(tmp_path_factory.mktemp("spec-bases"))


def _base_for(required: str) -> str:
    return "waveform" if required == "waveform" else "events"


def _concrete(path: str) -> str:
    return path.replace("<i>", L.stim_group_name(0))


def _exists(f: h5py.File, path: str) -> bool:
    if "@" in path:
        obj, attr = path.split("@")
        return obj in f and attr in f[obj].attrs
    return path in f


def _delete(path_to_file: str, path: str) -> None:
    with h5py.File(path_to_file, "r+") as f:
        if "@" in path:
            obj, attr = path.split("@")
            del f[obj].attrs[attr]
        else:
            del f[path]


# ------------------------------------------------------------- the tables
def test_tables_parse_and_use_the_documented_vocabulary():
    assert len(ROOT_ATTRS) >= 15 and len(OBJECTS) >= 20
    for row in ROOT_ATTRS + OBJECTS:
        assert row["Required"] in REQUIRED_WHEN, row
    paths = [_name(r["Object"]) for r in OBJECTS]
    assert len(paths) == len(set(paths))


def test_root_attribute_table_matches_layout():
    names = {_name(r["Attribute"]): r["Required"] for r in ROOT_ATTRS}
    assert {n for n, req in names.items() if req == "yes"} == set(L.REQUIRED_ROOT_ATTRS)
    assert set(names) == set(L.REQUIRED_ROOT_ATTRS) | {L.ATTR_CONCATENATED}
    allowed = {_name(r["Attribute"]): r["Allowed values"] for r in ROOT_ATTRS}
    for attr, values in ((L.ATTR_ENCODING, L.ENCODINGS), (L.ATTR_STIM_KIND, L.STIM_KINDS),
                         (L.ATTR_MODALITY, L.MODALITIES), (L.ATTR_RESPONSE_KIND, L.RESPONSE_KINDS)):
        for v in values:
            assert f"`{v}`" in allowed[attr], (attr, v)
    assert L.FORMAT_NAME in allowed[L.ATTR_FORMAT]
    assert f"**Version** | {L.FORMAT_VERSION_STR}" in _spec()


@pytest.mark.parametrize("row", [r for r in ROOT_ATTRS if r["Required"] == "yes"],
                         ids=lambda r: _name(r["Attribute"]))
def test_required_root_attribute_written_and_enforced(tmp_path, bases, row):
    name = _name(row["Attribute"])
    for base in ("events", "binned"):
        with h5py.File(bases[base]) as f:
            assert name in f.attrs, f"the writer does not write root attribute {name!r}"
    p = tmp_path / "copy.strf.h5"
    shutil.copyfile(bases["events"], p)
    _delete(p, f"/@{name}")
    report = validate(p)
    assert not report.ok
    assert any(e.path == f"/@{name}" for e in report.errors), report


@pytest.mark.parametrize("row", [r for r in OBJECTS if r["Required"] != "no"], ids=lambda r: _name(r["Object"]))
def test_required_object_written_and_enforced(tmp_path, bases, row):
    path, required = _name(row["Object"]), row["Required"]
    concrete = _concrete(path)
    writers = ["events", "binned", "continuous", "video"] if required == "yes" else [_base_for(required)]
    for base in writers:
        with h5py.File(bases[base]) as f:
            assert _exists(f, concrete), f"{base} file written without required {concrete}"
    p = tmp_path / "copy.strf.h5"
    shutil.copyfile(bases[_base_for(required)], p)
    _delete(p, concrete)
    report = validate(p)
    assert not report.ok, f"validator accepts a file without {concrete}"
    assert any(e.path == concrete for e in report.errors), report


#: optional objects the events base cannot hold, with a file the writer writes them in
PCM_SCALE = f"/stimuli/<i>/{L.STIM_WAVEFORM_DS}@{L.ATTR_WAVEFORM_SCALE}"  # only for 16-bit-PCM-exact waveforms


def test_optional_objects_in_the_table_are_written_when_asked(bases, tmp_path):
    with h5py.File(bases["events"]) as f:
        for row in OBJECTS:
            if row["Required"] == "no" and _name(row["Object"]) != PCM_SCALE:
                assert _exists(f, _concrete(_name(row["Object"]))), row["Object"]
    assert PCM_SCALE in {_name(r["Object"]) for r in OBJECTS}
    pcm = (np.arange(-4, 4, dtype=np.float32) / 32768).reshape(1, 8)  # k / 32768: stored as int16 with scale
    c = strfh5.contents_from_lists([np.zeros((1, 2, 1), np.float32)], spike_times=[[[np.array([1.0])]]],
                                   dt_ms=10.0, waveforms=[(pcm, 800.0)], transform={"kind": "log"})
    path = strfh5.save(c, tmp_path / "pcm.strf.h5")
    with h5py.File(path) as f:
        assert _exists(f, _concrete(PCM_SCALE)) and f[_concrete(PCM_SCALE).split("@")[0]].dtype == L.WAVEFORM_INT_DTYPE
    assert validate(path).ok


def test_everything_the_writer_produces_is_in_the_tables(bases):
    documented = {_name(r["Object"]) for r in OBJECTS}
    root_attrs = {_name(r["Attribute"]) for r in ROOT_ATTRS}
    group_re = re.compile(r"^(/stimuli/)[0-9]{%d,}" % L.STIM_GROUP_DIGITS)
    for base, path in bases.items():
        with h5py.File(path) as f:
            assert set(f.attrs) <= root_attrs, (base, set(f.attrs) - root_attrs)
            names = []
            f.visit(names.append)
            for name in names:
                generic = group_re.sub(r"\1<i>", "/" + name)
                assert generic in documented, f"{base}: /{name} is not in SPEC.md §3.2"
                for attr in f[name].attrs:
                    assert f"{generic}@{attr}" in documented, f"{base}: /{name}@{attr} is not in SPEC.md §3.2"


# ------------------------------------------------------------ code table
def test_code_appendix_equals_the_validator_table():
    rows = _table("codes-table")
    table = {r["Code"]: (r["Check"], r["Meaning"]) for r in rows}
    assert set(table) == set(CODES), set(table) ^ set(CODES)
    for code, (check, summary) in CODES.items():
        assert table[code][0] == check, code
        def norm(t):
            return t.replace("`", "").replace("'", "")

        assert norm(table[code][1]).startswith(norm(summary)), (code, table[code][1], summary)
    assert all(re.fullmatch(r"[EW][0-9]{3}", c) for c in table)


def test_spec_names_the_constants_of_layout():
    text = _spec()
    for value in (L.DIGEST_ALGORITHM, L.ATTR_TRANSFORM, L.ATTR_SAMPLE_RATE, L.ATTR_ALGORITHM, "fletcher32",
                  L.SOURCE_PATHS, L.SOURCE_UUIDS, L.SOURCE_STIM_OFFSETS, L.SOURCE_NEURON_OFFSETS, L.SOURCE_STIM_ROWS):
        assert value in text, value
    assert f"{0:0{L.STIM_GROUP_DIGITS}d}" in text


# -------------------------------------------------------------- examples
@pytest.fixture(scope="module")
def example(tmp_path_factory):
    d = tmp_path_factory.mktemp("example")
    cwd = os.getcwd()
    os.chdir(d)
    try:
        exec(compile(_code_block("example-script", LIBRARY_DOC), "docs/library.md", "exec"),
             {"__name__": "spec_example"})
    finally:
        os.chdir(cwd)
    return d / "example.strf.h5"


def test_worked_example_is_valid(example):
    report = validate(example, checksums=True)
    assert report.findings == [] and report.exit_code == 0


@pytest.mark.skipif(shutil.which("h5ls") is None, reason="h5ls (hdf5-tools) not installed")
def test_worked_example_h5ls_output_is_real(example):
    out = subprocess.run(["h5ls", "-r", example.name], cwd=example.parent, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip().splitlines() == _code_block("example-h5ls").strip().splitlines()


@pytest.mark.skipif(shutil.which("h5dump") is None, reason="h5dump (hdf5-tools) not installed")
def test_worked_example_h5dump_output_is_real(example):
    out = subprocess.run(["h5dump", "-d", "/responses", "-d", "/counts", "-d", "/repeats", "-d",
                          "/stimuli/n_bins", example.name], cwd=example.parent, capture_output=True, text=True,
                         check=True).stdout
    text = _spec()
    i = text.index("and `h5dump -d /responses")
    block = re.compile(r"```text\n(.*?)```", re.S).search(text, i).group(1)
    for line in block.strip().splitlines():
        assert line in out, line


def test_plain_h5py_reader_decodes_every_value(example, bases):
    ns: dict = {}
    exec(compile(_code_block("plain-h5py-reader"), "SPEC.md §15", "exec"), ns)
    read_plain, bin_events = ns["read_plain"], ns["bin_events"]
    for path in [example] + [bases[k] for k in ("events", "binned", "continuous", "waveform", "video")]:
        plain = read_plain(path)
        fc = strfh5.FileContents(path)
        try:
            assert plain["stim_ids"] == fc.stim_ids and plain["neuron_ids"] == fc.neuron_ids
            assert plain["stim_meta"] == fc.stim_meta and plain["nrn_meta"] == fc.nrn_meta
            assert plain["file_meta"] == fc.info.metadata and plain["transform"] == fc.info.transform
            assert plain["dt_ms"] == fc.info.dt_ms and tuple(plain["stim_dims"]) == tuple(fc.info.stim_dims)
            assert np.array_equal(plain["n_bins"], fc.n_bins) and np.array_equal(plain["masks"], fc.masks)
            for s in range(fc.S):
                assert np.array_equal(plain["stims"][s], fc.stim(s))
                assert (plain["sample_rates"] or [None] * fc.S)[s] == fc.stim_sample_rate(s)
                wf = fc.waveform(s)
                assert (plain["waveforms"][s] is None) == (wf is None)
                if wf is not None:
                    assert np.array_equal(plain["waveforms"][s][0], wf[0]) and plain["waveforms"][s][1] == wf[1]
                for n, el in enumerate(fc.row(s)):
                    got = plain["responses"][s][n]
                    if el is None:
                        assert got is None
                    elif isinstance(el, strfh5.Events):
                        assert len(got) == el.n_repeats
                        for a, b in zip(got, el.trials()):
                            assert np.array_equal(a, b) and a.dtype == b.dtype
                    else:
                        assert np.array_equal(got, el, equal_nan=True) and got.dtype == el.dtype
        finally:
            fc.close()
    plain = read_plain(example)
    assert bin_events(plain["responses"][1][1], 3, 10.0, 10.0).tolist() == [[0, 0, 0], [0, 1, 0], [1, 0, 0]]
    assert [t.tolist() for t in plain["responses"][0][0]] == [[-2.5, 12.0], [31.5]]
    assert plain["responses"][0][1] is None


def test_plain_reader_digest_matches_the_library(example):
    ns: dict = {}
    exec(compile(_code_block("plain-h5py-reader"), "SPEC.md §15", "exec"), ns)
    with h5py.File(example) as f:
        for name in ("responses", "counts"):
            for s in range(f[name].shape[0]):
                row = f[name][s]
                assert ns["row_digest"](row) == L.row_digest(list(row)) == f[f"integrity/{name}"][s].tobytes()
        # big-endian storage gives the same digest (digests are defined on little-endian values)
        row = [np.asarray(x, dtype=">f8") for x in f["responses"][1]]
        assert ns["row_digest"](row) == f["integrity/responses"][1].tobytes()
