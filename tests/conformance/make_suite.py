"""Write the strfh5 conformance suite: ``cases/<name>/`` with the files and ``expected.json``.

Run ``python tests/conformance/make_suite.py`` (plain h5py + NumPy; the strfh5
library is not imported) and commit the result; ``make_suite.py NAME ...``
rewrites only the cases named.  The files are written from
SPEC.md alone by ``_writer.py`` / ``_concat.py``, and what a reader must return
is computed from the same descriptions by ``_expect.py`` — never by reading a
file back.  See README.md for the layout of ``expected.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import _expect as X  # noqa: E402
import _invalid  # noqa: E402
import _invalid_concat  # noqa: E402
import _valid as V  # noqa: E402
import _writer as W  # noqa: E402

CASES = os.path.join(HERE, "cases")


def _reads(d: dict, grid: list) -> list[dict]:
    out = []
    for dt, window in grid:
        r = X.read(d, dt, window)
        item = {"dt_ms": dt, "window_ms": None if window is None else list(window)}
        out.append({**item, "result": "refuse"} if r == "refuse" else {**item, "result": "values", **r})
    return out


def _plain(make, grid):
    def build(folder):
        d = make()
        W.write(os.path.join(folder, "file.strf.h5"), d)
        return d
    return build, grid


def valid_cases() -> list[dict]:
    """(name, description, spec sections, builder, reads grid, warnings, reader) of each valid case."""
    plain = [
        ("events_spectrogram", V.events_spectrogram, V.EVENTS_READS, [], "read", ["4.2", "5.2", "5.3", "11"]),
        ("mel_recompute", V.mel_recompute, V.MEL_READS, [], "read", ["11.6"]),
        ("bin_edges", V.bin_edges, V.EDGE_READS, [], "read", ["11.2", "5.2"]),
        ("binned_counts", V.binned_counts, V.COUNTS_READS, ["W413"], "read", ["4.3", "5.2", "11.3"]),
        ("continuous_video", V.continuous_video, V.CONT_READS, [], "read", ["4.3", "5.2", "11.3", "11.5"]),
        ("video_events", V.video_events, V.VIDEO_READS, [], "read", ["4.2", "5.2", "11.5"]),
        ("fixed_strings", V.fixed_strings, [(None, None)], ["W207", "W413"], "read", ["1.3"]),
        ("big_endian_fixed", V.big_endian_fixed, [(None, None)], [], "read", ["1.3", "12"]),
        ("big_endian_vlen", V.big_endian_vlen, [(None, None)], ["W210"], "read_or_refuse", ["1.3", "7", "12"]),
        ("zero_length", V.zero_length, V.ZERO_READS, ["W413"], "read", ["11.1"]),
        ("empty", V.empty, [(None, None)], ["W413"], "read", ["3.2"]),
        ("big_counts", V.big_counts, [(None, None), (2.0, None)], [], "read", ["11.1"]),
        ("version_1_0", V.version_1_0, [(None, None)], ["W413"], "read", ["2"]),
    ]
    out = []
    for name, make, grid, warnings, reader, spec in plain:
        build, grid = _plain(make, grid)
        out.append(dict(name=name, description=make.__doc__, spec=spec, build=build, reads=grid,
                        warnings=warnings, reader=reader))
    for name, merge, paths, kind, doc in (
        ("concat", False, ["a.strf.h5", "sub/b.strf.h5"], "plain", "Concatenated file: two sources, one in a sub-folder."),
        ("concat_merged", True, ["a.strf.h5", "b%1.strf.h5"], "plain",
         "Merged stimuli (non-contiguous stim_rows), a '%' in a source name (escaped '%%' in the mappings)."),
        ("concat_mixed_widths", False, ["a.strf.h5", "b.strf.h5"], "mixed",
         "Sources with float64 and float32 spike times: the virtual dataset has the widest type."),
    ):
        out.append(dict(name=name, description=doc, spec=["9"], build=V.concat_case(name, merge, paths, kind),
                        reads=V.CONCAT_READS, warnings=["W603"], reader="read"))
    return out


def write_case(case: dict) -> None:
    folder = os.path.join(CASES, case["name"])
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    d = case["build"](folder)
    exp = {"case": case["name"], "description": " ".join((case["description"] or "").split()),
           "spec": case["spec"], "open": case.get("open", "file.strf.h5"),
           "errors": sorted(case.get("errors", [])), "warnings": sorted(case.get("warnings", [])),
           "reader": case["reader"]}
    if case["reader"] in ("read", "read_or_refuse") and d is not None:
        exp["values"] = X.values(d)
        exp["reads"] = _reads(d, case.get("reads", [(None, None)]))
    with open(os.path.join(folder, "expected.json"), "w", encoding="utf-8") as fh:
        json.dump(exp, fh, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        fh.write("\n")


def main(names: list[str] | None = None) -> None:
    """Write every case (the folder is emptied first), or only the cases named (the others are kept,
    byte for byte; an invalid concatenated case needs the case ``concat`` already written)."""
    cases = valid_cases() + _invalid.cases() + _invalid_concat.cases()
    if names:
        unknown = set(names) - {c["name"] for c in cases}
        if unknown:
            raise SystemExit(f"unknown case(s): {', '.join(sorted(unknown))}")
        for case in cases:
            if case["name"] in names:
                write_case(case)
        return
    shutil.rmtree(CASES, ignore_errors=True)
    os.makedirs(CASES)
    for case in cases:
        write_case(case)


if __name__ == "__main__":
    main(sys.argv[1:])
