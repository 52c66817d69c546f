"""The benchmark suite runs end to end (smoke mode) and its generators write the right data.

No timed assertions: figures are checked for presence and shape, never for speed.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import strfh5  # noqa: E402
from benchmarks import baselines, scales  # noqa: E402
from benchmarks.__main__ import main as bench_main  # noqa: E402


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("bench-data"))


@pytest.fixture(scope="module")
def quick_run(data_dir, tmp_path_factory):
    out = os.path.join(str(tmp_path_factory.mktemp("bench-out")), "results.json")
    code = bench_main(["--quick", "--data-dir", data_dir, "--json", out, "-q"])
    with open(out) as f:
        return code, json.load(f)


def _figures(doc, section_prefix):
    return {r["figure"] for r in doc["rows"] if r["section"].startswith(section_prefix)}


def test_quick_run_measures_every_figure(quick_run, capsys):
    code, doc = quick_run
    assert code == 0, [r for r in doc["rows"] if r["status"] == "ERROR"]
    statuses = {r["status"] for r in doc["rows"]}
    assert statuses <= {"PASS", "MISS", "info"}
    for name in scales.DEFAULT_SCALES:
        sc = scales.QUICK_SCALES[name]
        for enc in ("events", "binned"):
            section = f"{sc.name} {enc}"
            figs = _figures(doc, section)
            for needed in ("file size", "eager load", "lazy open (1x)", "epoch lazy, workers 0",
                           "epoch lazy, workers 2", "item latency lazy p50", "item latency lazy p99"):
                assert needed in figs, (section, needed)
        native = _figures(doc, f"{sc.name} {sc.encoding}")
        assert any(f.startswith("lazy open (") and "data" in f for f in native)
    baselines_seen = {r["baseline"] for r in doc["rows"] if r["figure"] == "eager load"}
    assert baselines_seen == {"(a) torch.load", "(b) naive HDF5 load", "(c) raw h5py rows"}
    assert {"compute_neuron_quality", "peak memory above start (lazy)"} <= _figures(doc, "quality")
    assert "epoch lazy, recomputed (n_bands=34)" in _figures(doc, "spectrograms at load")
    sp = doc["raw"]["spectrograms"]
    assert sp["recomputed"]["F"] == 34 and sp["stored"]["F"] == 32
    assert sp["recomputed"]["items"] == sp["stored"]["items"] > 0
    cfigs = _figures(doc, "concat 2 x")
    assert {"on-disk concat time", "on-disk concat size", "lazy epoch over concat"} <= cfigs
    # every goal row has a ratio or a value and a PASS/MISS status
    for r in doc["rows"]:
        if r["goal"]:
            assert r["status"] in ("PASS", "MISS"), r
            assert r["value"] is not None
    # every measured figure carries the peak RSS of its own process
    for r in doc["rows"]:
        if r["figure"].startswith(("eager load", "epoch", "lazy open")):
            assert r["peak_rss_mb"] and r["peak_rss_mb"] > 0
    # the library's quality values equal the loop reference's
    ag = doc["raw"]["quality"]["reference"]["agreement"]
    assert ag["snr"]["same_nonfinite"] and ag["ccmax"]["same_nonfinite"]
    assert ag["snr"]["max_abs_diff"] < 1e-6 and ag["ccmax"]["max_abs_diff"] < 1e-6
    # epochs iterate every item
    for name in scales.DEFAULT_SCALES:
        r = doc["raw"][scales.QUICK_SCALES[name].name]
        for enc in ("events", "binned"):
            items = {r[enc][m]["items"] for m in ("epoch_memory", "epoch_lazy0", "epoch_lazy2")}
            assert len(items) == 1 and items.pop() > 0


def test_rerun_reuses_cached_files(quick_run, data_dir, tmp_path, capsys):
    out = str(tmp_path / "again.json")
    code = bench_main(["--quick", "--scales", "aa1", "--data-dir", data_dir, "--json", out, "-q",
                       "--no-concat-large"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "aa1-quick events (native)" in printed and "PASS" in printed
    with open(out) as f:
        doc = json.load(f)
    assert doc["generation"] and all(g["cached"] for g in doc["generation"])


def test_unknown_scale_is_refused(tmp_path, capsys):
    code = bench_main(["--quick", "--scales", "aa9", "--data-dir", str(tmp_path), "--json", "", "-q"])
    assert code == 2
    assert "unknown scale" in capsys.readouterr().err


def _eager_blocks(path):
    ds = strfh5.load(path)
    return ds, [ds.row_block(s) for s in range(ds.get_S())]


def test_reencode_keeps_the_counts(quick_run, data_dir):
    for name in ("aa1", "nat4-a1"):
        sc = scales.QUICK_SCALES[name]
        a, _ = scales.simulated(data_dir, sc, "events")
        b, _ = scales.simulated(data_dir, sc, "binned")
        da, ra = _eager_blocks(a)
        db, rb = _eager_blocks(b)
        assert da.stim_ids == db.stim_ids and da.neuron_ids == db.neuron_ids
        assert np.array_equal(da._masks_np, db._masks_np)
        for (xa, pa), (xb, pb) in zip(ra, rb):
            assert np.array_equal(pa, pb)
            assert torch.equal(xa, xb)
        for s in range(da.get_S()):
            assert torch.equal(da.stims[s], db.stims[s])


def test_grown_file_repeats_every_repeat(quick_run, data_dir):
    sc = scales.QUICK_SCALES["nat4-a1"]
    src, _ = scales.simulated(data_dir, sc)
    big, _ = scales.grown(data_dir, sc, sc.encoding)
    d1, d8 = strfh5.load(src, lazy=True), strfh5.load(big, lazy=True)
    f = scales.GROW_FACTOR
    assert np.array_equal(np.asarray(d8.contents.repeats), f * np.asarray(d1.contents.repeats))
    assert d1.stim_ids == d8.stim_ids and d1.neuron_ids == d8.neuron_ids
    x1, r1 = d1.row_block(0)
    x8, r8 = d8.row_block(0)
    assert np.array_equal(r8, f * r1)
    n = int(np.flatnonzero(r1)[0])
    assert torch.equal(d8.responses[0][n], d1.responses[0][n].repeat(f, 1))
    assert os.path.getsize(big) > 2 * os.path.getsize(src)


def test_baselines_hold_the_same_data(quick_run, data_dir):
    sc = scales.QUICK_SCALES["aa1"]
    src, _ = scales.simulated(data_dir, sc)
    ds = strfh5.load(src)
    stem = src[: -len(".strf.h5")]
    for obj in (baselines.load_deepstrf(stem + ".deepstrf.pt"), baselines.load_naive_h5(stem + ".naive.h5")):
        assert obj["stim_meta"] == ds.stim_meta
        assert len(obj["responses"]) == ds.get_S()
        for s in range(ds.get_S()):
            assert torch.equal(obj["stims"][s], ds.stims[s])
            for n in range(ds.get_N()):
                got, want = obj["responses"][s][n], ds.responses[s][n]
                if ds._masks_np[s, n]:
                    assert torch.equal(got, want)
                else:
                    assert got.shape == (1, 1) and torch.isnan(got).all()
    assert baselines.raw_rows(src) > 0


def test_concat_sources_are_distinct_and_sized(tmp_path):
    paths, _ = scales.concat_pair(str(tmp_path), "tiny", 200_000)
    a, b = (strfh5.load(p, lazy=True) for p in paths)
    assert not set(a.neuron_ids) & set(b.neuron_ids)
    assert a.response_kind == "continuous"
    for p in paths:
        assert 150_000 < os.path.getsize(p) < 1_000_000


def test_bench_is_not_a_command_of_the_installed_cli(tmp_path, capsys):
    """The suite runs as `python -m benchmarks` from a checkout; `strfh5` neither offers nor imports it."""
    import subprocess

    from strfh5.cli.main import main as cli_main

    with pytest.raises(SystemExit) as e:
        cli_main(["bench", "--help"])
    assert e.value.code == 2 and "invalid choice: 'bench'" in capsys.readouterr().err
    script = ("import sys; from strfh5.cli.main import build_parser; text = build_parser().format_help(); "
              "print(sorted(m for m in sys.modules if m.split('.')[0] == 'benchmarks'), 'bench' in text)")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["[]", "False"]
