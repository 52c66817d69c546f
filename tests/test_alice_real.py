"""The real public pieces of the Alice EEG release: word table, upstream README, datasets.mat (no mne needed)."""

from __future__ import annotations

import csv
import re

import pytest

from strfh5.converters import alice_eeg
from strfh5.errors import RawDataError

pytestmark = pytest.mark.real


def _table(real):
    return real / "alice-eeg" / "AliceChapterOne-EEG.csv"


def test_real_word_table_parses_into_12_segments_of_2129_words(real_data):
    words = alice_eeg.read_word_table(_table(real_data))
    assert sorted(words) == list(range(1, 13))
    flat = [w for seg in sorted(words) for w in words[seg]]
    assert len(flat) == 2129
    order = [w["Order"] for w in flat]  # the chapter's word order: increasing, with gaps (2150 tokens, 2129 kept)
    assert order[0] == 1 and order[-1] == 2150 and all(a < b for a, b in zip(order, order[1:]))
    with open(_table(real_data), newline="") as fh:
        raw = list(csv.DictReader(fh))
    for w, r in zip(flat, raw):
        assert w["Word"] == r["Word"] and w["Segment"] == int(r["Segment"])
        assert w["onset"] == float(r["onset"]) and w["offset"] == float(r["offset"])
        assert 0 <= w["onset"] <= w["offset"]
        assert w["IsLexical"] == (None if r["IsLexical"] == "NaN" else int(r["IsLexical"]))
    assert flat[0]["Word"] == "Alice" and flat[0]["Segment"] == 1
    assert sum(w["IsLexical"] is None for w in flat) == 6


def test_upstream_readme_columns_are_the_word_table_header(real_data):
    """The release's README documents 16 columns, 'Col N "Name"': the converter keeps each of them."""
    readme = (real_data / "alice-eeg" / "README-upstream.txt").read_text(encoding="utf-8", errors="replace")
    documented = []
    for m in re.finditer(r'Col (\d+)(?:, (\d+))? ((?:"[^"]+"\s*)+)', readme):
        documented += re.findall(r'"([^"]+)"', m.group(3))
    with open(_table(real_data), newline="") as fh:
        header = next(csv.reader(fh))
    assert documented == header and len(header) == 16
    first = alice_eeg.read_word_table(_table(real_data))[1][0]
    assert list(first) == header
    assert "500 Hz" in readme and "61 active electrodes" in readme


def test_real_datasets_mat_groups(real_data):
    groups = alice_eeg.read_dataset_index(real_data / "alice-eeg" / "datasets.mat")
    use = sorted(s for s, g in groups.items() if "use" in g)
    assert len(use) == 33 and all(groups[s] == ["use"] for s in use)  # the main analysis excludes the others
    assert sum("low_perf" in g for g in groups.values()) == 8
    assert sum("high_noise" in g for g in groups.values()) == 8
    # the three lists are disjoint and cover the 49 datasets S01..S49 of the original release
    assert sorted(groups) == [f"S{k:02d}" for k in range(1, 50)] and all(len(g) == 1 for g in groups.values())


def test_word_table_strictness(tmp_path, real_data):
    lines = _table(real_data).read_text().splitlines()
    for col, bad, msg in ((1, "1_0", r"row 3, Segment: '1_0'"), (2, "0.5.1", r"row 3, onset"),
                          (3, "0.0001", r"row 3: offset 0.0001 s is before onset")):
        rows = [ln.split(",") for ln in lines[:4]]
        rows[2][col] = bad
        p = tmp_path / "w.csv"
        p.write_text("\n".join(",".join(r) for r in rows) + "\n")
        with pytest.raises(RawDataError, match=msg):
            alice_eeg.read_word_table(p)
