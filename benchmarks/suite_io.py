"""The rows of issue 18's figures (:mod:`benchmarks.figures_io`) in the suite's table.

``scale_rows`` adds, for a scale's native file: lazy open with S grown past
5,000 stimuli, ``save`` vs h5py, ``validate --checksums`` vs SHA-256, and the
DataLoader transfer split with 2 workers. ``ns1_rows`` times the conversion of
the real NS1 release against a baseline checkout. Ratios are medians of
per-round ratios of interleaved runs.
"""

from __future__ import annotations

import os

__all__ = ["scale_rows", "ns1_rows", "EPOCH_GOALS", "EAGER_GOALS", "OPEN_S_TARGET"]

#: lazy epoch (workers 0) speed goals relative to eager, per (scale, encoding) (issue 18); default 0.5x
EPOCH_GOALS = {("nat4-a1", "binned"): 0.9, ("aa2", "events"): 0.8}
#: eager load goals relative to raw h5py rows, per (scale, encoding) (issue 18); default 2x
EAGER_GOALS = {("nat4-a1", "binned"): 1.0, ("aa2", "events"): 2.0}
#: the S-grown open figure tiles the stimuli until S reaches this
OPEN_S_TARGET = 5000


def scale_rows(call, row, rows: list, name: str, tag: str, path: str, data_dir: str, quick: bool, k: int,
               budget: float, log) -> dict:
    """Issue 18's figures for one scale's native file; returns their raw results."""
    raw = {}
    log(f"{tag}: lazy open with S grown to >= {OPEN_S_TARGET}")
    g = call("prepare_s_grown", data_dir=data_dir, scale=name, quick=quick, target_s=3 * 8 if quick else OPEN_S_TARGET)
    if g.get("error"):
        row(rows, tag, "lazy open, S grown", None, "s", error=g["error"])
    else:
        raw["open_s"] = o = call("open_pair", path=path, grown=g["path"], k=max(k, 5) if not quick else 3)
        if o.get("error"):
            row(rows, tag, "lazy open, S grown", None, "s", error=o["error"])
        else:
            ok = o["ratio"] <= 1.5 and o["a_s"] <= 0.05
            row(rows, tag, f"lazy open, S = {o['S_grown']}", o["a_s"], "s", baseline=f"lazy open, S = {o['S_base']}",
                base_value=o["b_s"], ratio=o["ratio"], goal="<= 1.5x; <= 50 ms", ok=ok,
                rss=o.get("peak_rss_mb") or None, note="stimuli tiled; responses only in the first copy")
    log(f"{tag}: save vs h5py, checksums vs SHA-256")
    raw["save"] = sv = call("save_vs_h5py", path=path, k=k, budget_s=budget * 3)
    if sv.get("error"):
        row(rows, tag, "save (eager dataset)", None, "s", error=sv["error"])
    else:
        row(rows, tag, "save (eager dataset)", sv["a_s"], "s", baseline="h5py: same rows + stimuli + SHA-256",
            base_value=sv["b_s"], ratio=sv["ratio"], goal="<= 1.5x", ok=sv["ratio"] <= 1.5,
            rss=sv.get("peak_rss_mb"),
            note="save also checks every metadata record against its schema, writes the tables and the response "
                 f"index and fsyncs before the rename; first save after the load {sv['a_times_s'][0]:.2f} s")
    raw["checksums"] = cs = call("checksums_vs_sha", path=path, k=k, budget_s=budget * 3)
    if cs.get("error"):
        row(rows, tag, "validate --checksums", None, "s", error=cs["error"])
    else:
        speed = 1.0 / cs["ratio"]
        row(rows, tag, "validate --checksums", cs["a_s"], "s", baseline="SHA-256 of the same bytes",
            base_value=cs["b_s"], ratio=speed, goal=">= 0.25x speed", ok=speed >= 0.25, rss=cs.get("peak_rss_mb"),
            note=f"{cs['validate_mb_s']:.0f} MB/s vs {cs['sha_mb_s']:.0f} MB/s over {cs['payload_mb']:.0f} MB")
        row(rows, tag, "validate: checksum pass alone", cs["marginal_s"], "s", baseline="SHA-256 of the same bytes",
            base_value=cs["b_s"], ratio=1.0 / cs["marginal_ratio"], rss=cs.get("peak_rss_mb"),
            note=f"validate --checksums minus validate ({cs['c_s'] * 1e3:.0f} ms without), per round")
    log(f"{tag}: workers 2, padded batches vs compact items")
    raw["transfer"] = wt = call("worker_transfer", path=path, k=1 if quick else 2, budget_s=budget * 3)
    if wt.get("error"):
        row(rows, tag, "epoch workers 2, compact items", None, "s", error=wt["error"])
    else:
        row(rows, tag, "epoch workers 2, collate here", wt["b_s"], "s", baseline="collate in the workers",
            base_value=wt["a_s"], ratio=wt["a_s"] / wt["b_s"] if wt["b_s"] else None,
            rss=max(wt.get("peak_rss_mb") or 0.0, wt.get("children_peak_rss_mb") or 0.0) or None,
            note=f"neural_collate alone: {wt['collate_per_batch_s'] * 1e3:.1f} ms per batch, {wt['batches']} batches")
    return raw


def ns1_rows(call, row, rows: list, baseline_python: str | None, baseline_cwd: str | None, k: int, log) -> dict:
    """``strfh5 convert ns1`` on the real release (if present) vs the baseline checkout."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    raw_dir = os.environ.get("STRFH5_REAL_DATA", os.path.join(here, "..", "shared", "data", "real"))
    raw_dir = os.path.join(raw_dir, "ns1")
    if not os.path.isdir(raw_dir):
        row(rows, "convert", "convert ns1 (real release)", None, "s", note=f"skipped: no release at {raw_dir}")
        return {}
    out = {}
    # the default keeps the source waveforms (issue 14); a baseline from before it wrote none, so the same
    # output is also timed (--no-keep-waveform), as information beside the goal's figure
    for key, extra, figure, goal in (("ns1", (), "convert ns1 (real release)", "<= 0.6x"),
                                     ("ns1_same_output", ("--no-keep-waveform",),
                                      "convert ns1 --no-keep-waveform", None)):
        log(f"{figure}: this checkout vs baseline")
        r = out[key] = call("convert_ns1", raw=os.path.abspath(raw_dir), baseline_python=baseline_python,
                            baseline_cwd=baseline_cwd, k=k, extra=extra)
        if r.get("error"):
            row(rows, "convert", figure, None, "s", error=r["error"])
        elif r["b_s"] is None:
            row(rows, "convert", figure, r["a_s"], "s", note="no --baseline-python: no ratio")
        else:
            row(rows, "convert", figure, r["a_s"], "s", baseline=f"baseline {baseline_python}",
                base_value=r["b_s"], ratio=r["ratio"], goal=goal or "", ok=(r["ratio"] <= 0.6) if goal else None,
                note="--partial (clusters absent from the stored release left out); alternating subprocesses")
    return out


#: what the safety section times per file, and the goal of each figure (issue 12: the checks cost little)
_SAFETY_GOALS = {"first": ("lazy open, first in the process", 1.1), "open": ("lazy open, again", 1.1),
                 "eager": ("eager load", 1.1), "epoch": ("lazy epoch (ds[i], workers 0)", None)}


def safety_rows(call, row, rows: list, files: dict, baseline_python: str | None, baseline_cwd: str | None,
                quick: bool, log) -> dict:
    """Lazy open, eager load and lazy epoch of each scale's native file: this checkout vs the baseline checkout.

    ``files`` maps a scale tag to its file.  The baseline is a checkout without
    the read path's safety checks (``--baseline-python``, ``--baseline-cwd``).
    """
    if not baseline_python:
        row(rows, "safety", "safety checks", None, "s", note="skipped: needs --baseline-python (and --baseline-cwd)")
        return {}
    log(f"safety: this checkout vs {baseline_cwd or baseline_python}, alternating subprocesses")
    r = call("safety_vs_baseline", paths=list(files.values()), baseline_python=baseline_python,
             baseline_cwd=baseline_cwd, rounds=2 if quick else 6, k=3 if quick else 5)
    if r.get("error"):
        row(rows, "safety", "safety checks", None, "s", error=r["error"])
        return r
    for tag, path in files.items():
        per = r["files"][path]
        if "error" in per:
            row(rows, f"safety {tag}", "safety checks", None, "s", error=per["error"])
            continue
        for fig, (label, goal) in _SAFETY_GOALS.items():
            f = per[fig]
            spread = f"per-round ratios {min(f['ratios']):.2f}-{max(f['ratios']):.2f} over {len(f['ratios'])} rounds"
            row(rows, f"safety {tag}", label, f["a_s"], "s", baseline="before the checks (baseline checkout)",
                base_value=f["b_s"], ratio=f["ratio"], goal=f"<= {goal}x" if goal else "",
                ok=f["ratio"] <= goal if goal else None, note=spread)
    return r
