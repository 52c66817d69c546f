"""`strfh5 demo`: offline, writes a valid sample, prints its summary, writes the PNGs."""

from __future__ import annotations

import strfh5
from strfh5.cli.demo import COVERAGE_PNG, FILE_NAME, STIM_PNG
from strfh5.cli.main import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_demo_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--seed", "3"]) == 0
    text = capsys.readouterr().out
    path = out / FILE_NAME
    assert path.is_file()
    d = strfh5.info(path)
    assert f"{d['coverage']['valid']:,} / {d['coverage']['total']:,} pairs recorded" in text
    assert "valid" in text and d["uuid"] in text
    assert d["source"] == "demo" and d["encoding"] == "events"
    for png in (STIM_PNG, COVERAGE_PNG):
        data = (out / png).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 5000
    assert strfh5.validate(path, checksums=True).ok
    with strfh5.FileContents(path) as c:
        assert c.info.metadata["seed"] == 3
        assert c.waveform(0) is not None  # the demo keeps its sounds
