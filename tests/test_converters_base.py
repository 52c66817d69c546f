"""The converter contract, the template converter end to end, and the convert/fetch/sources commands."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import threading
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

import strfh5
from strfh5.cli.main import main
from strfh5.converters import SOURCES, get_converter, template
from strfh5.converters.base import ConversionWarning, QuirkLog, ReleaseFile, check_options, find_root
from strfh5.errors import ConverterError, MissingRawFileError
from strfh5.validation import validate

from crcns_fixtures import make_aa1, wav_bytes

SPIKES = {  # (neuron, stimulus) -> trials
    ("n1", "song_a"): [[-10.5, 3.25, 80.0], [], [12.0]],
    ("n1", "song_b"): [[1.0]],
    ("n2", "song_b"): [[5.5, 6.5], [7.25]],
}


def make_template_release(root):
    (root / "stimuli").mkdir(parents=True)
    (root / "stimuli" / "song_a.wav").write_bytes(wav_bytes(4000, 16000, seed=1))
    (root / "stimuli" / "song_b.wav").write_bytes(wav_bytes(3200, 16000, seed=2))
    lines = ["neuron,stimulus,trial,time_ms"]
    for (n, s), trials in SPIKES.items():
        for r, t in enumerate(trials):
            lines += [f"{n},{s},{r + 1},{x}" for x in t] or [f"{n},{s},{r + 1},"]
    (root / "spikes.csv").write_text("\n".join(lines) + "\n")
    (root / "neurons.csv").write_text("neuron,area,animal\nn1,A1,ferret1\nn2,PEG,ferret1\n")
    return root


def check_template_file(path):
    assert validate(path).ok
    ds = strfh5.load(path)
    c = strfh5.FileContents(str(path))
    assert c.neuron_ids == ["n1", "n2"] and c.stim_ids == ["song_a", "song_b"]
    assert c.n_bins.tolist() == [50, 40]  # 250 ms and 200 ms at 5 ms
    for s, sid in enumerate(c.stim_ids):
        for n, nid in enumerate(c.neuron_ids):
            exp = SPIKES.get((nid, sid))
            el = c.row(s)[n]
            if exp is None:
                assert el is None and not ds.nrn_masks[s, n]
                continue
            assert [t.tolist() for t in el.trials()] == exp
            assert ds.responses[s][n].shape == (len(exp), c.n_bins[s])
    assert c.nrn_meta[1] == {"cell_id": "n2", "area": "PEG", "animal": "ferret1"}
    c.close()


@pytest.fixture
def template_registered(monkeypatch):
    monkeypatch.setitem(SOURCES, "template", "strfh5.converters.template")
    return template


def test_template_converts_end_to_end(tmp_path):
    raw = make_template_release(tmp_path / "raw")
    out = template.convert(raw, tmp_path / "t.strf.h5")
    check_template_file(out)


def test_template_refuses_bad_table(tmp_path):
    raw = make_template_release(tmp_path / "raw")
    (raw / "spikes.csv").write_text("neuron,stimulus,trial\nn1,song_a,1\n")
    with pytest.raises(ConverterError, match="time_ms"):
        template.convert(raw, tmp_path / "t.strf.h5")
    assert not list(tmp_path.glob("t.strf.h5*"))


def test_every_listed_converter_declares_the_contract():
    for sid, mod in SOURCES.items():
        try:
            m = get_converter(sid)
        except ImportError:
            continue  # written by another part of the project
        assert m.SOURCE.id == sid and callable(m.convert)
        assert all(isinstance(f, ReleaseFile) for f in m.SOURCE.files)
        names = [o.name for o in m.SOURCE.options]
        assert len(names) == len(set(names))


def test_check_options_and_helpers(tmp_path):
    src = get_converter("crcns-aa1").SOURCE
    with pytest.raises(ConverterError, match="unknown option 'bogus'"):
        check_options(src, {"bogus": 1})
    with pytest.raises(ConverterError, match="'HVC' is not one of"):
        check_options(src, {"areas": ["HVC"]})
    assert check_options(src, {})["dt_ms"] == 1.0
    log = QuirkLog("x")
    with pytest.warns(ConversionWarning, match="x: something"):
        log.add("k", "something", cell="c")
    assert log.records() == [{"kind": "k", "message": "something", "cell": "c"}] and log.count("k") == 1
    (tmp_path / "wrap" / "all_stims").mkdir(parents=True)
    assert find_root(tmp_path, "all_stims", "X") == tmp_path / "wrap"
    with pytest.raises(MissingRawFileError, match="'cells'"):
        find_root(tmp_path, "cells", "X")


def test_cli_convert_template_and_options(tmp_path, template_registered, capsys):
    raw = make_template_release(tmp_path / "raw")
    out = tmp_path / "cli.strf.h5"
    assert main(["convert", "template", "--raw", str(raw), "-o", str(out), "--n-bands", "8",
                 "--areas", "A1,PEG", "--keep-waveform"]) == 0
    assert "2 stimuli x 2 neurons" in capsys.readouterr().out
    check_template_file(out)
    with strfh5.FileContents(str(out)) as c:
        assert c.info.stim_dims == (1, 8) and c.waveform(0) is not None
    assert main(["convert", "template", "--raw", str(raw), "-o", str(out)]) == 2  # exists, no --overwrite
    assert "exists" in capsys.readouterr().err
    assert main(["convert", "template", "--raw", str(raw), "-o", str(out), "--overwrite"]) == 0


def test_cli_convert_crcns_prints_quirks(tmp_path, capsys):
    make_aa1(tmp_path / "raw")
    out = tmp_path / "aa1.strf.h5"
    code = main(["convert", "crcns-aa1", "--raw", str(tmp_path / "raw"), "-o", str(out), "--dt-ms", "5",
                 "--n-bands", "8", "--stim-classes", "conspecific", "--no-check-md5"])
    assert code == 0
    cap = capsys.readouterr()
    assert "merged as one stimulus" in cap.err and "wrote" in cap.out
    assert main(["convert", "crcns-aa1", "--raw", str(tmp_path / "raw"), "-o", str(out), "--overwrite",
                 "--areas", "HVC"]) == 2
    assert "'HVC' is not one of" in capsys.readouterr().err
    assert main(["convert", "no-such", "--raw", ".", "-o", "x"]) == 2
    assert "unknown source 'no-such'" in capsys.readouterr().err


def test_cli_sources(capsys):
    assert main(["sources", "--json"]) == 0
    recs = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(recs) == set(SOURCES)
    aa1 = recs["crcns-aa1"]
    assert aa1["doi"] == "10.6080/K0F769GP" and "CRCNS_USERNAME" in aa1["access"]
    assert aa1["files"][0]["credentials"] == "crcns"
    assert main(["sources"]) == 0
    assert "crcns-aa2:" in capsys.readouterr().out


def test_cli_fetch_then_convert(tmp_path, template_registered, monkeypatch, capsys):
    """`strfh5 fetch` of a served archive, a cache hit, then `strfh5 convert` of what it fetched."""
    raw = make_template_release(tmp_path / "release")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for p in sorted(raw.rglob("*")):
            if p.is_file():
                z.write(p, p.relative_to(raw).as_posix())
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "template-release.zip").write_bytes(buf.getvalue())
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path / "site"))
    handler.log_message = lambda *a: None
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{srv.server_address[1]}/template-release.zip"
        sha = "sha256:" + hashlib.sha256(buf.getvalue()).hexdigest()
        rf = dataclasses.replace(template.SOURCE.files[0], url=url, known_hash=sha)
        monkeypatch.setattr(template, "SOURCE", dataclasses.replace(template.SOURCE, files=(rf,)))
        monkeypatch.setenv("STRFH5_CACHE", str(tmp_path / "cache"))
        assert main(["fetch", "template", "--no-progress"]) == 0
        fetched = tmp_path / "cache" / "template" / "raw"
        assert str(fetched) in capsys.readouterr().out
        (tmp_path / "site" / "template-release.zip").unlink()  # second call: served from the cache
        assert main(["fetch", "template", "--no-progress"]) == 0
        out = tmp_path / "f.strf.h5"
        assert main(["convert", "template", "--raw", str(fetched), "-o", str(out)]) == 0
        check_template_file(out)
        bad = dataclasses.replace(rf, known_hash="sha256:" + "1" * 64)
        monkeypatch.setattr(template, "SOURCE", dataclasses.replace(template.SOURCE, files=(bad,)))
        (tmp_path / "site" / "template-release.zip").write_bytes(buf.getvalue())
        assert main(["fetch", "template", "--no-progress", "--cache", str(tmp_path / "other")]) == 2
        assert "does not match the release's hash" in capsys.readouterr().err
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.mark.parametrize("source_id", sorted(SOURCES))
def test_every_source_declares_the_contract(source_id):
    """id, citation, DOI, licence, access, release files with URLs, an existing source schema, options, convert."""
    import inspect

    mod = get_converter(source_id)
    info = mod.SOURCE
    assert info.id == source_id
    for attr in ("title", "citation", "doi", "license", "access"):
        assert getattr(info, attr).strip(), f"{source_id}: empty {attr}"
    # every release has files to fetch; "nwb" converts a file format, not one release
    assert (info.files or source_id == "nwb") and all(f.url.startswith("https://") and f.name for f in info.files)
    assert all(f.known_hash is None or f.known_hash.split(":")[0] in ("sha256", "md5") for f in info.files)
    assert all(f.unpack in (None, "zip", "tar") for f in info.files)
    folder = strfh5.schema.schema_root() / "sources" / info.schema
    assert sorted(p.name for p in folder.glob("*.schema.json")) == [
        "file.schema.json", "neuron.schema.json", "stimulus.schema.json"]
    assert info.options and len({o.name for o in info.options}) == len(info.options)
    for o in info.options:  # defaults pass their own checks
        assert o.choices is None or o.default is None or o.multiple or o.default in o.choices
    params = inspect.signature(mod.convert).parameters
    assert params["overwrite"].kind is inspect.Parameter.KEYWORD_ONLY
    defaults = check_options(info, {})
    assert set(defaults) == {o.name for o in info.options}


def test_check_options_normalises_lists():
    info = template.SOURCE
    assert check_options(info, {"areas": "A1, PEG,"})["areas"] == ["A1", "PEG"]
    assert check_options(info, {"areas": ("A1",)})["areas"] == ["A1"]
    assert check_options(info, {"areas": None})["areas"] is None


def test_cli_sources_lists_all_with_citation_and_access(capsys):
    assert main(["sources"]) == 0
    text = capsys.readouterr().out
    for sid in SOURCES:
        info = get_converter(sid).SOURCE
        block = text.split(f"{sid}: ", 1)[1].split("\n\n", 1)[0]
        assert f"citation: {info.citation}" in block and f"access:   {info.access}" in block


@pytest.mark.parametrize("source_id", sorted(SOURCES))
def test_every_source_has_a_convert_command_line(source_id):
    """`strfh5 convert SOURCE` knows every option of the source (lists comma-separated, booleans as flags)."""
    from strfh5.cli.convert import source_parser

    mod, parser = source_parser(source_id)
    assert vars(parser.parse_args(["--raw", "r", "-o", "o"])) == {"raw": "r", "output": "o"}
    for o in mod.SOURCE.options:
        flag = "--" + o.name.replace("_", "-")
        if o.type is bool and not o.multiple:
            assert vars(parser.parse_args(["--raw", "r", "-o", "o", flag]))[o.name] is True
        elif o.multiple:
            value = list(o.choices[:2]) if o.choices else ["a", "b"]
            got = vars(parser.parse_args(["--raw", "r", "-o", "o", flag, ",".join(map(str, value))]))[o.name]
            assert got == [o.type(v) for v in value]
