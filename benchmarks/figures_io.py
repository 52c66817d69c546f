"""Figures of issue 18 (open time in S, save vs h5py, checksums vs SHA-256, NS1 conversion, worker transfer) and
issue 12 (the cost of the read path's safety checks: lazy open, eager load and lazy epoch vs a checkout without them).

Each figure runs its variants **interleaved round by round** in one process
(or, for the conversion, alternating subprocesses), so a shared machine's
load hits both sides of a ratio alike; the ratio reported is the median of the
per-round ratios.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

__all__ = ["IO_FIGURES"]


def _paired(fa, fb, k: int, budget_s: float) -> dict:
    """``fa`` and ``fb`` alternated ``k`` rounds (at least one); medians and the median per-round ratio a/b."""
    ta, tb = [], []
    spent = 0.0
    for i in range(max(1, int(k))):
        order = (fa, fb) if i % 2 == 0 else (fb, fa)
        got = {}
        for f in order:
            t = time.perf_counter()
            f()
            got[f] = time.perf_counter() - t
        ta.append(got[fa])
        tb.append(got[fb])
        spent += got[fa] + got[fb]
        if spent >= budget_s:
            break
    return dict(a_s=statistics.median(ta), b_s=statistics.median(tb), a_times_s=ta, b_times_s=tb,
                ratio=statistics.median([a / b for a, b in zip(ta, tb)]), k=len(ta))


# ------------------------------------------------------------------ open, S grown
def prepare_s_grown(data_dir: str, scale: str, quick: bool, target_s: int) -> dict:
    """The scale's native file with its stimuli tiled until S >= ``target_s`` (at least twice)."""
    import math

    import strfh5

    from . import figures, scales

    sc = figures._scale(scale, quick)
    native, _ = scales.simulated(data_dir, sc, sc.encoding)
    with strfh5.load(native, lazy=True) as ds:
        S = ds.get_S()
    copies = max(2, math.ceil(target_s / max(S, 1)))
    path, secs = scales.s_grown(data_dir, sc, copies)
    return dict(path=path, generation_s=secs, bytes=os.path.getsize(path), copies=copies)


def open_pair(path: str, grown: str, k: int = 7, budget_s: float = 20.0) -> dict:
    """Lazy open (+ close) of ``grown`` vs ``path``, interleaved; a = grown, b = base."""
    import strfh5

    for p in (path, grown):
        strfh5.load(p, lazy=True).close()

    def one(p):
        def run():
            strfh5.load(p, lazy=True).close()
        return run

    out = _paired(one(grown), one(path), k, budget_s)
    with strfh5.load(grown, lazy=True) as ds:
        out["S_grown"] = ds.get_S()
    with strfh5.load(path, lazy=True) as ds:
        out["S_base"] = ds.get_S()
    return out


# ------------------------------------------------------------------ save vs h5py
def _h5py_writer(path: str, out: str):
    """A function writing the file's rows, stimuli, repeats and SHA-256 row digests with plain h5py."""
    import h5py

    with h5py.File(path, "r") as f:
        vl = {name: (f[name].dtype, [f[name][s] for s in range(f[name].shape[0])])
              for name in ("responses", "counts") if name in f}
        rep = f["repeats"][()]
        stims = [f[f"stimuli/{s:06d}/data"][()] for s in range(rep.shape[0])]

    def write():
        with h5py.File(out, "w") as g:
            for name, (dtype, rows) in vl.items():
                ds = g.create_dataset(name, shape=rep.shape, dtype=dtype, chunks=(1, max(rep.shape[1], 1)))
                dig = np.zeros((rep.shape[0], 32), np.uint8)
                for s, row in enumerate(rows):
                    ds[s : s + 1] = row[None]
                    h = hashlib.sha256()
                    for el in row:
                        h.update(int(el.size).to_bytes(8, "little"))
                        h.update(el.data)
                    dig[s] = np.frombuffer(h.digest(), np.uint8)
                g.create_dataset(f"integrity/{name}", data=dig)
            g.create_dataset("repeats", data=rep, chunks=True, compression="gzip", shuffle=True)
            for s, a in enumerate(stims):
                g.create_dataset(f"stimuli/{s:06d}/data", data=a, chunks=True, compression="gzip",
                                 compression_opts=4, shuffle=True, fletcher32=True)
    return write


def save_vs_h5py(path: str, k: int = 3, budget_s: float = 60.0) -> dict:
    """``strfh5.save`` of the eager dataset vs h5py writing the same VLEN rows, stimuli and digests."""
    import strfh5

    ds = strfh5.load(path)
    folder = tempfile.mkdtemp(prefix="bench-save-", dir=os.path.dirname(path))
    try:
        a, b = os.path.join(folder, "save.strf.h5"), os.path.join(folder, "h5py.h5")
        out = _paired(lambda: strfh5.save(ds, a, overwrite=True), _h5py_writer(path, b), k, budget_s)
        out.update(bytes_save=os.path.getsize(a), bytes_h5py=os.path.getsize(b))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return out


# ------------------------------------------------------------------ checksums vs SHA-256
def checksums_vs_sha(path: str, k: int = 3, budget_s: float = 60.0) -> dict:
    """``validate(checksums=True)`` vs SHA-256 over the same payload bytes held in memory (a = validate), with
    ``validate(checksums=False)`` (c) interleaved in the same rounds: ``marginal_s`` (a - c, the checksum pass
    alone, median of the per-round differences) is what verifying the digests adds to the other checks."""
    import h5py

    import strfh5

    parts = []
    with h5py.File(path, "r") as f:
        for name in ("responses", "counts"):
            if name in f:
                for s in range(f[name].shape[0]):
                    parts.extend(el.tobytes() for el in f[name][s])
    payload = b"".join(parts)
    del parts
    variants = {"a": lambda: strfh5.validate(path, checksums=True), "b": lambda: hashlib.sha256(payload).digest(),
                "c": lambda: strfh5.validate(path, checksums=False)}
    t: dict = {key: [] for key in variants}
    spent = 0.0
    for i in range(max(1, int(k))):
        keys = list(variants)[i % 3:] + list(variants)[: i % 3]  # each variant first, second, third in turn
        for key in keys:
            t0 = time.perf_counter()
            variants[key]()
            t[key].append(time.perf_counter() - t0)
            spent += t[key][-1]
        if spent >= budget_s:
            break
    ta, tb, tc = t["a"], t["b"], t["c"]
    marginal = [a - c for a, c in zip(ta, tc)]
    out = dict(a_s=statistics.median(ta), b_s=statistics.median(tb), c_s=statistics.median(tc), a_times_s=ta,
               b_times_s=tb, c_times_s=tc, ratio=statistics.median([a / b for a, b in zip(ta, tb)]), k=len(ta),
               marginal_s=statistics.median(marginal),
               marginal_ratio=statistics.median([max(m, 1e-9) / b for m, b in zip(marginal, tb)]))
    out.update(payload_mb=len(payload) / 1e6, validate_mb_s=len(payload) / 1e6 / out["a_s"],
               sha_mb_s=len(payload) / 1e6 / out["b_s"])
    return out


# ------------------------------------------------------------------ convert ns1
def convert_ns1(raw: str, baseline_python: str | None, baseline_cwd: str | None, k: int = 3,
                budget_s: float = 120.0, extra: tuple = ()) -> dict:
    """``strfh5 convert ns1`` of the real release: this checkout vs a baseline interpreter (its own checkout).

    ``extra``: options of this checkout's command only (the baseline runs the plain command).
    """
    folder = tempfile.mkdtemp(prefix="bench-ns1-")
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    def run(python, cwd, more=()):
        def go():
            subprocess.run([python, "-m", "strfh5", "convert", "ns1", "--raw", raw, "--partial", "--overwrite",
                            *more, "-o", os.path.join(folder, "ns1.strf.h5")], cwd=cwd, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return go

    try:
        now = run(sys.executable, here, tuple(extra))
        if not baseline_python:
            t = [0.0]
            for _ in range(max(1, k)):
                t0 = time.perf_counter()
                now()
                t.append(time.perf_counter() - t0)
            return dict(a_s=statistics.median(t[1:]), b_s=None, ratio=None, k=len(t) - 1)
        return _paired(now, run(baseline_python, baseline_cwd or here), k, budget_s)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ------------------------------------------------------------------ safety checks vs a checkout without them
#: run by each interpreter: the first lazy open of each file in the process, later lazy opens (+ close), an eager
#: load and a lazy epoch (``ds[i]`` over all items, after one untimed epoch) of every file; only ``strfh5.load`` and
#: indexing, so older checkouts run it unchanged
_SAFETY_SCRIPT = r"""
import json, statistics, sys, time, warnings
warnings.simplefilter("ignore")
import torch  # what a first load imports lazily, imported before anything is timed
import strfh5, strfh5.dataset
k, what, paths = int(sys.argv[1]), sys.argv[2].split(","), sys.argv[3:]
out = {}
for p in paths:
    r = {}
    try:
        t = time.perf_counter(); strfh5.load(p, lazy=True).close(); r["first"] = time.perf_counter() - t
        if "open" in what:
            ts = []
            for _ in range(k):
                t = time.perf_counter(); ds = strfh5.load(p, lazy=True); ts.append(time.perf_counter() - t)
                ds.close()
            r["open"] = statistics.median(ts)
        if "eager" in what:
            t = time.perf_counter(); ds = strfh5.load(p); r["eager"] = time.perf_counter() - t
            del ds
        if "epoch" in what:
            ds = strfh5.load(p, lazy=True)
            for i in range(len(ds)):
                ds[i]
            t = time.perf_counter()
            for i in range(len(ds)):
                ds[i]
            r["epoch"] = time.perf_counter() - t
            ds.close()
    except Exception as e:
        r["error"] = f"{type(e).__name__}: {e}"[:300]
    out[p] = r
print(json.dumps(out))
"""


def safety_vs_baseline(paths: list, baseline_python: str, baseline_cwd: str, rounds: int = 4, k: int = 5,
                       what: str = "first,open,eager,epoch", budget_s: float = 900.0) -> dict:
    """Lazy open, eager load and lazy epoch of ``paths``: this checkout (a) vs a baseline checkout (b).

    Each round runs one subprocess per interpreter, in alternating order; a
    subprocess times ``k`` lazy opens (median), one eager load and one lazy
    epoch per file.  Per figure and file: the medians over rounds, the median
    per-round ratio a/b and the per-round ratios (their spread).
    """
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sides = {"a": (sys.executable, here), "b": (baseline_python, baseline_cwd or here)}
    got: dict = {"a": [], "b": []}
    t0 = time.perf_counter()
    for i in range(max(1, rounds)):
        for side in ("a", "b") if i % 2 == 0 else ("b", "a"):
            python, cwd = sides[side]
            res = subprocess.run([python, "-c", _SAFETY_SCRIPT, str(k), what.replace("first,", ""), *paths],
                                 cwd=cwd, check=True, capture_output=True, text=True)
            got[side].append(json.loads(res.stdout.strip().splitlines()[-1]))
        if time.perf_counter() - t0 > budget_s:
            break
    out: dict = {"rounds": len(got["a"]), "files": {}}
    for p in paths:
        per: dict = {}
        errors = {s: next((r[p]["error"] for r in got[s] if "error" in r[p]), None) for s in "ab"}
        if errors["a"] or errors["b"]:
            out["files"][p] = {"error": f"this checkout: {errors['a']}; baseline: {errors['b']}"}
            continue
        for fig in what.split(","):
            a = [r[p][fig] for r in got["a"]]
            b = [r[p][fig] for r in got["b"]]
            ratios = [x / y for x, y in zip(a, b)]
            per[fig] = dict(a_s=statistics.median(a), b_s=statistics.median(b), ratio=statistics.median(ratios),
                            ratios=ratios, a_times_s=a, b_times_s=b)
        out["files"][p] = per
    return out


# ------------------------------------------------------------------ workers: transfer
def _items(batch):
    return batch


def worker_transfer(path: str, batch: int = 8, k: int = 2, budget_s: float = 60.0) -> dict:
    """Lazy epoch with 2 workers: padded batches collated in the workers (a) vs compact items collated here (b).

    Also reports the time ``neural_collate`` alone takes in the main process
    for the epoch's batches, so collate and transfer can be told apart.
    """
    import torch

    import strfh5

    ds = strfh5.load(path, lazy=True)

    def padded():
        for _ in torch.utils.data.DataLoader(ds, batch_size=batch, num_workers=2, collate_fn=strfh5.neural_collate):
            pass

    def compact():
        for items in torch.utils.data.DataLoader(ds, batch_size=batch, num_workers=2, collate_fn=_items):
            strfh5.neural_collate(items)

    out = _paired(padded, compact, k, budget_s)
    batches = [[ds[i] for i in range(j, min(j + batch, len(ds)))] for j in range(0, min(len(ds), 8 * batch), batch)]
    t = time.perf_counter()
    for b in batches:
        strfh5.neural_collate(b)
    out["collate_per_batch_s"] = (time.perf_counter() - t) / max(1, len(batches))
    out["batches"] = (len(ds) + batch - 1) // batch
    return out


IO_FIGURES = {f.__name__: f for f in (prepare_s_grown, open_pair, save_vs_h5py, checksums_vs_sha, convert_ns1,
                                      worker_transfer, safety_vs_baseline)}
