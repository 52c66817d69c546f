"""The process that runs strfh5's entry points on hostile files, one request at a time.

Started by :class:`hostile.runner.Worker` under an address-space limit, it
imports strfh5 and torch once, then serves one JSON request per line on
stdin: for each it forks a child, which prints ``{"pid": ...}``, runs the
entry point and prints its answer (``ok`` with what it returned, or
``error`` with the exception's class hierarchy and message); the server then
prints ``{"done": <wait status>}``.  The parent kills a child that does not
answer in time (a hang) and reads a missing answer as a crash; the server,
and its imports, survive both.

This file imports nothing from the test suite: it runs as a script.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import math
import os
import sys
import tempfile
import traceback

import numpy as np
import torch

import strfh5
from strfh5.cli.main import main as cli_main
from strfh5.quality import compute_neuron_quality
from strfh5.fileinfo import format_info

torch.set_num_threads(1)


def _num(x: float):
    x = float(x)
    return None if math.isnan(x) else (repr(x) if math.isinf(x) else round(x, 9))


def _tensor(t):
    if t is None:
        return None
    a = t.detach().cpu().double().numpy() if isinstance(t, torch.Tensor) else np.asarray(t, dtype=np.float64)
    return [list(a.shape), _num(np.nansum(a)), _num(np.nansum(a * a)), int(np.isnan(a).sum())]


def fingerprint(ds) -> dict:
    """What a dataset returns, reduced to JSON: ids, and per item the stimulus and responses."""
    items = []
    for i in range(len(ds)):
        it = ds[i]
        items.append({"s": int(it["stim_index"]), "stim": _tensor(it["stims"]),
                      "resp": [_tensor(r) for r in it["responses"]]})
    return {"stim_ids": list(ds.stim_ids), "neuron_ids": list(ds.neuron_ids), "dt": ds.dt, "items": items}


def _validate(path, checksums):
    r = strfh5.validate(path, checksums=checksums)
    return {"exit_code": r.exit_code, "findings": [[f.code, f.path, f.file] for f in r.findings],
            "text": str(r)}


def _info(path):
    d = strfh5.info(path)
    return {"S": d["S"], "N": d["N"], "text": format_info(d)}


def _info_cli(path):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli_main(["info", path])
    return {"rc": rc, "text": out.getvalue() + err.getvalue()}


def _lazy(path, kw):
    ds = strfh5.load(path, lazy=True, **kw)
    try:
        return fingerprint(ds)
    finally:
        ds.close()


def _concat(path, other):
    # a concatenation refers to its sources inside its own folder: written next to them
    out = os.path.join(os.path.dirname(path), os.path.basename(path) + ".concat.strf.h5")
    strfh5.concat([path, other], out, overwrite=True, allow_duplicate_neurons=True)
    return fingerprint(strfh5.load(out))


def _materialize(path, work):
    out = os.path.join(work, "materialized.strf.h5")
    strfh5.materialize(path, out, overwrite=True)
    return fingerprint(strfh5.load(out))


def _quality(path):
    q = compute_neuron_quality(strfh5.load(path))
    return {"snr": [_num(x) for x in q["snr"]], "ccmax": [_num(x) for x in q["ccmax"]]}


def run(req: dict):
    ep, path = req["ep"], req["path"]
    kw = req.get("load_kwargs") or {}
    if ep == "load":
        return fingerprint(strfh5.load(path, **kw))
    if ep == "lazy":
        return _lazy(path, kw)
    if ep == "validate":
        return _validate(path, False)
    if ep == "validate_checksums":
        return _validate(path, True)
    if ep == "info":
        return _info(path)
    if ep == "info_cli":
        return _info_cli(path)
    if ep == "concat":
        return _concat(path, req["other"])
    if ep == "materialize":
        return _materialize(path, req["work"])
    if ep == "quality":
        return _quality(path)
    raise SystemExit(f"unknown entry point {ep!r}")


def answer(req: dict) -> dict:
    try:
        return {"outcome": "ok", "value": run(req)}
    except BaseException as e:  # noqa: BLE001 - the answer reports it
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        return {"outcome": "error", "mro": [c.__name__ for c in type(e).__mro__], "message": str(e)[:2000],
                "traceback": traceback.format_exc()[-3000:]}


def serve(req: dict) -> None:
    """Run ``req`` in a forked child; report its exit status once it ends (or is killed)."""
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            print(json.dumps({"pid": os.getpid()}), flush=True)
            print(json.dumps(answer(req)), flush=True)
        except BaseException:  # noqa: BLE001 - never return into the server loop
            code = 1
        finally:
            os._exit(code)
    _pid, status = os.waitpid(pid, 0)
    print(json.dumps({"done": status}), flush=True)


def warm_up() -> None:
    """Run every entry point once on a small valid file, so each forked child starts with warm caches."""
    with tempfile.TemporaryDirectory() as tmp:
        a, b = os.path.join(tmp, "a.strf.h5"), os.path.join(tmp, "b.strf.h5")
        for p in (a, b):
            strfh5.save(strfh5.from_lists(stims=[np.ones((1, 2, 4), np.float32)],
                                          spike_times=[[[np.array([1.0]), np.array([2.0])]]], dt_ms=5.0), p)
        for ep in ("load", "lazy", "validate", "validate_checksums", "info", "info_cli", "concat",
                   "materialize", "quality"):
            answer({"ep": ep, "path": a, "other": b, "work": tmp})


def main() -> None:
    warm_up()
    gc.collect()
    gc.freeze()  # children then leave the server's objects alone: fewer copy-on-write page faults
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if line.strip():
            serve(json.loads(line))


if __name__ == "__main__":
    main()
