"""What a reader must return for a file of the suite, computed from its description (SPEC §4, §5, §11).

:func:`values` gives the stored values (SPEC §4–§6); :func:`read` the
responses and stimuli on a read grid (SPEC §11), or ``"refuse"`` where §11
says the request MUST be refused.  Both work from the description the file
was written from (``_writer.defaults``), so a reader's output is compared with
what the specification says, not with another reader.
"""

from __future__ import annotations

import math

import numpy as np

from _recipe import recompute

TOL = 1e-9  # SPEC §11.1: tolerance of "integer multiple" and of T


def flat(a) -> list:
    """Values of an array, row-major, as JSON numbers (NaN as null)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    return [None if math.isnan(v) else float(v) for v in a]


def nested(a) -> list:
    a = np.asarray(a, dtype=np.float64)
    return [[None if math.isnan(v) else float(v) for v in row] for row in a]


def stored_base(d: dict) -> np.dtype:
    if d["encoding"] == "events":
        return np.dtype(d["time_dtype"])
    return np.dtype(d["count_dtype"]) if d["response_kind"] == "counts" else np.dtype("f4")


def values(d: dict) -> dict:
    """The stored values a reader returns for the file described by ``d``."""
    S, N = len(d["stims"]), len(d["neuron_ids"])
    base = stored_base(d)
    resp = []
    for s in range(S):
        row = []
        for n in range(N):
            el = d["responses"][s][n]
            if el is None:
                row.append(None)
            elif d["encoding"] == "events":
                row.append({"trials": [flat(np.asarray(t, np.float64).astype(base)) for t in el]})
            else:
                row.append({"array": nested(np.asarray(el).astype(base).reshape(len(el), -1))})
        resp.append(row)
    stims = [{"dtype": np.dtype(a.dtype).name, "shape": list(a.shape), "values": flat(a)} for a in d["stims"]]
    wfs = [None if w is None else {"dtype": np.dtype(w[0].dtype).name, "shape": list(w[0].shape),
                                   "values": flat(w[0]), "sample_rate": float(w[1])} for w in d["waveforms"]]
    return {
        "format_version": d["version"], "uuid": d["uuid"], "encoding": d["encoding"],
        "response_kind": d["response_kind"], "dt_ms": float(d["dt_ms"]), "stim_kind": d["stim_kind"],
        "stim_dims": [int(x) for x in d["stim_dims"]], "concatenated": bool(d["concatenated"]),
        "file_meta": d["file_meta"], "transform": d["transform"],
        "stim_ids": list(d["stim_ids"]), "stim_meta": list(d["stim_meta"]), "n_bins": [int(x) for x in d["n_bins"]],
        "neuron_ids": list(d["neuron_ids"]), "nrn_meta": list(d["nrn_meta"]),
        "masks": [[el is not None for el in row] for row in d["responses"]],
        "responses_dtype": base.name, "responses": resp, "stims": stims,
        "sample_rates": None if d["stim_kind"] != "waveform" else [float(x) for x in d["sample_rates"]],
        "waveforms": wfs,
    }


def _ratio(a: float, b: float) -> int | None:
    r = a / b
    k = int(round(r))
    return k if k >= 1 and abs(r - k) <= TOL * max(1.0, r) else None


def _histogram(times, start: float, dt: float, T: int) -> np.ndarray:
    times = np.asarray(times, dtype=np.float64)
    edges = start + np.arange(T + 1, dtype=np.float64) * dt
    out = np.zeros(T, dtype=np.int64)
    for t in times:
        i = int(np.searchsorted(edges, t, side="right")) - 1
        if T and t == edges[-1]:
            i = T - 1
        if 0 <= i < T:
            out[i] += 1
    return out


def _pool(a: np.ndarray, k: int, how: str) -> np.ndarray:
    T = a.shape[-1] // k
    v = a[..., : T * k].reshape(*a.shape[:-1], T, k).astype(np.float64)
    if how == "sum":
        return v.sum(-1)
    if how == "mean":
        return v.mean(-1)
    valid = ~np.isnan(v)
    n = valid.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.where(valid, v, 0.0).sum(-1) / np.maximum(n, 1), np.nan)


def read(d: dict, dt, window) -> dict | str:
    """Responses and stimuli at bin width ``dt`` (None = dt_ms) and ``window`` (SPEC §11), or ``"refuse"``."""
    fdt = float(d["dt_ms"])
    dt = fdt if dt is None else float(dt)
    k, m = _ratio(dt, fdt), _ratio(fdt, dt)
    if k == 1:
        dt = fdt
    binned = d["encoding"] == "binned"
    if binned and (k is None or window is not None):
        return "refuse"
    S, N = len(d["stims"]), len(d["neuron_ids"])
    Ts, resp, stims = [], [], []
    for s in range(S):
        nb = int(d["n_bins"][s])
        start = 0.0 if window is None else float(window[0])
        stop = nb * fdt if window is None or window[1] is None else float(window[1])
        if binned:
            T = nb // k
        elif k == 1 and window is None:
            T = nb
        else:
            T = int(math.floor((stop - start) / dt + TOL))
        Ts.append(T)
        row = []
        for n in range(N):
            el = d["responses"][s][n]
            if el is None:
                row.append(None)
            elif not binned:
                row.append(nested(np.stack([_histogram(np.asarray(t, np.float64).astype(stored_base(d)), start, dt, T)
                                            for t in el]) if el else np.zeros((0, T))))
            else:
                a = np.asarray(el).astype(stored_base(d)).reshape(len(el), nb)
                how = "nanmean" if d["response_kind"] == "continuous" else "sum"
                row.append(nested(_pool(a, k, how)))
        resp.append(row)
        st = _stimulus(d, s, dt, k, m, start, T)
        if isinstance(st, str):
            return st
        stims.append(st)
    out = {"T": Ts, "responses": resp, "stims": stims}
    recomputed = d["stim_kind"] == "spectrogram" and k is None
    if recomputed and d["transform"]["kind"] == "mel":
        out["stims_rtol"] = 1e-5  # SPEC §11.6: mel weights agree to float32 rounding only
    return out


def _stimulus(d: dict, s: int, dt: float, k, m, start: float, T: int) -> dict | str:
    a = np.asarray(d["stims"][s])
    if d["stim_kind"] == "waveform" or (k == 1 and start == 0.0 and T == a.shape[-1]):
        return {"shape": list(a.shape), "values": flat(a)}
    if k is not None:
        frames = _pool(a, k, "mean")
    elif d["stim_kind"] == "video":
        if m is None:
            return "refuse"
        frames = np.repeat(a, m, axis=-1)
    else:
        if d["waveforms"][s] is None or d["transform"] is None:
            return "refuse"
        w, sr = d["waveforms"][s]
        frames = recompute(np.asarray(w, np.float64), float(sr), d["transform"], dt).astype(np.float64)
    off = start / dt
    offset = int(round(off))
    if abs(off - offset) > 1e-6:
        return "refuse"
    out = np.zeros(a.shape[:-1] + (T,))
    lo, hi = max(0, -offset), min(T, frames.shape[-1] - offset)
    if hi > lo:
        out[..., lo:hi] = frames[..., lo + offset: hi + offset]
    return {"shape": list(out.shape), "values": flat(out)}
