"""Straightforward numpy implementations of strfh5.metrics, used as test oracles.

Written independently of :mod:`strfh5.metrics`: explicit Python loops over
repeats, repeat pairs, splits and stimuli, ``np.var`` / ``np.corrcoef`` on the
per-stimulus-centred, concatenated traces, no Gram-matrix algebra.  The only
thing shared with the library is the *order and choice* of random half-splits
(:func:`strfh5.metrics.half_splits`) when they are sampled, and when stimuli
with different repeat counts are paired split by split; exact enumerations
are rebuilt here with ``itertools``.

:func:`reference_neuron_quality` is the loop baseline of
``compute_neuron_quality`` (one (stimulus, neuron) pair and one split at a
time); the benchmarks import it from here.
"""

from __future__ import annotations

import itertools
import math

import numpy as np


def valid_block(y) -> np.ndarray:
    """Rows with any non-NaN value, then columns non-NaN in all those rows."""
    y = np.asarray(y, dtype=np.float64)
    rows = [r for r in range(y.shape[0]) if not np.all(np.isnan(y[r]))]
    y = y[rows]
    if y.shape[0] == 0:
        return np.zeros((0, 0))
    cols = [t for t in range(y.shape[1]) if not np.any(np.isnan(y[:, t]))]
    return y[:, cols]


def _corr(a, b) -> float:
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    if a.size < 2 or np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def ref_corrcoef(xs, ys) -> float:
    """Pooled Pearson correlation of lists of 1-D traces (per-stimulus centring)."""
    ax, ay = [], []
    for x, y in zip(xs, ys):
        x, y = np.asarray(x, float), np.asarray(y, float)
        ok = ~(np.isnan(x) | np.isnan(y))
        x, y = x[ok], y[ok]
        if x.size < 2:
            continue
        ax.append(x - x.mean())
        ay.append(y - y.mean())
    if not ax:
        return float("nan")
    x, y = np.concatenate(ax), np.concatenate(ay)
    if not np.any(x) or not np.any(y):
        return float("nan")
    return float(np.sum(x * y) / math.sqrt(np.sum(x * x) * np.sum(y * y)))


def ref_all_splits(R: int) -> list[tuple[tuple, tuple]]:
    """Every unordered split (A, B) of range(R) into halves, enumerated by brute force."""
    out, seen = [], set()
    for A in itertools.combinations(range(R), R // 2):
        B = tuple(r for r in range(R) if r not in A)
        key = frozenset([A, B])
        if key in seen:
            continue
        seen.add(key)
        out.append((A, B))
    return out


def library_splits(R: int, max_iters: int, seed: int) -> list[tuple[tuple, tuple]]:
    from strfh5.metrics import half_splits

    h = half_splits(R, max_iters, seed).numpy()
    return [(tuple(np.flatnonzero(row)), tuple(np.flatnonzero(~row))) for row in h]


def spearman_brown(rho: float) -> float:
    if np.isnan(rho) or rho < 0:
        return float("nan")
    return math.sqrt(2.0 / (1.0 + 1.0 / rho)) if rho > 0 else 0.0


def ref_rho_half(ys, max_iters: int = 126, seed: int = 0, use_library_order: bool = False) -> float:
    """Half-split correlation pooled over stimuli (see strfh5.metrics.ccmax)."""
    blocks = [valid_block(y) for y in ys]
    blocks = [b for b in blocks if b.shape[0] >= 2 and b.shape[1] >= 2]
    if not blocks:
        return float("nan")
    split_sets = []
    for b in blocks:
        R = b.shape[0]
        n = math.comb(R, R // 2) // (2 if R % 2 == 0 else 1)
        if n <= max_iters and not use_library_order and len({x.shape[0] for x in blocks}) == 1:
            split_sets.append(ref_all_splits(R))
        else:
            split_sets.append(library_splits(R, max_iters, seed))
    K = max(len(s) for s in split_sets)
    rhos = []
    for k in range(K):
        xa, xb = [], []
        for b, splits in zip(blocks, split_sets):
            A, B = splits[k % len(splits)]
            ma = b[list(A)].mean(axis=0)
            mb = b[list(B)].mean(axis=0)
            xa.append(ma - ma.mean())
            xb.append(mb - mb.mean())
        rhos.append(_corr(np.concatenate(xa), np.concatenate(xb)))
    rhos = [r for r in rhos if not np.isnan(r)]
    return float(np.mean(rhos)) if rhos else float("nan")


def ref_ccmax(ys, max_iters: int = 126, seed: int = 0, use_library_order: bool = False) -> float:
    blocks = [valid_block(y) for y in ys]
    if not any(b.size for b in blocks):
        return float("nan")
    if not any(b.shape[0] >= 2 and b.shape[1] >= 2 for b in blocks):
        return 1.0
    return spearman_brown(ref_rho_half(ys, max_iters, seed, use_library_order))


def _powers(b):
    """(T*SP, T*NP) of one block by the textbook formulas."""
    R, T = b.shape
    p_tot = np.mean([np.var(b[r]) for r in range(R)])
    p_mean = np.var(b.mean(axis=0))
    sp = (R * p_mean - p_tot) / (R - 1)
    return T * sp, T * (p_tot - sp), T


def ref_snr_parts(ys):
    tsp = tnp = tt = 0.0
    for y in ys:
        b = valid_block(y)
        if b.shape[0] < 2 or b.shape[1] < 2:
            continue
        a, c, t = _powers(b)
        tsp, tnp, tt = tsp + a, tnp + c, tt + t
    return tsp, tnp, tt


def ref_snr(ys) -> float:
    tsp, tnp, tt = ref_snr_parts(ys)
    if tt == 0:
        return float("nan")
    if tnp == 0:
        return float("inf") if tsp > 0 else float("nan")
    return tsp / tnp


def ref_signal_power(ys) -> float:
    tsp, _, tt = ref_snr_parts(ys)
    return tsp / tt if tt else float("nan")


def ref_noise_power(ys) -> float:
    _, tnp, tt = ref_snr_parts(ys)
    return tnp / tt if tt else float("nan")


def ref_ttrc(ys) -> float:
    """Mean over repeat pairs of the pooled correlation (rows by position)."""
    ys = [np.asarray(y, float) for y in ys]
    Rm = max(y.shape[0] for y in ys)
    vals = []
    for r in range(Rm):
        for q in range(r + 1, Rm):
            xa, xb = [], []
            for y in ys:
                b_rows = [i for i in range(y.shape[0]) if not np.all(np.isnan(y[i]))]
                if r not in b_rows or q not in b_rows or len(b_rows) < 2:
                    continue
                sub = y[b_rows]
                cols = ~np.any(np.isnan(sub), axis=0)
                if cols.sum() < 2:
                    continue
                a, c = y[r, cols], y[q, cols]
                xa.append(a - a.mean())
                xb.append(c - c.mean())
            if xa:
                v = _corr(np.concatenate(xa), np.concatenate(xb))
                if not np.isnan(v):
                    vals.append(v)
    return float(np.mean(vals)) if vals else float("nan")


def ref_sahani(preds, ys) -> float:
    num = tsp = 0.0
    for p, y in zip(preds, ys):
        y = np.asarray(y, float).copy()
        p = np.asarray(p, float)
        y[:, np.isnan(p)] = np.nan
        rows = [r for r in range(y.shape[0]) if not np.all(np.isnan(y[r]))]
        if len(rows) < 2:
            continue
        cols = ~np.any(np.isnan(y[rows]), axis=0)
        b = y[rows][:, cols]
        if b.shape[1] < 2:
            continue
        a, _, T = _powers(b)
        ybar = b.mean(axis=0)
        num += T * (np.var(ybar) - np.var(ybar - p[cols]))
        tsp += a
    if tsp == 0:
        return float("nan")
    return num / tsp


def reference_neuron_quality(ds, max_ccmax_iters: int = 126, seed: int = 0) -> dict:
    """Loop baseline of ``strfh5.quality.compute_neuron_quality``.

    Reads every stimulus row, then for each neuron, split by split, computes
    the pooled half-split correlation with explicit loops over stimuli.
    Returns ``{'snr': ndarray[N], 'ccmax': ndarray[N]}``.
    """
    S, N = ds.get_S(), ds.get_N()
    per_neuron = [[] for _ in range(N)]
    for s in range(S):
        row = ds.row_tensors(s)
        for n, el in enumerate(row):
            if el is not None:
                per_neuron[n].append(np.asarray(el, dtype=np.float64))
    snr = np.full(N, np.nan)
    cc = np.full(N, np.nan)
    for n in range(N):
        ys = per_neuron[n]
        if not ys:
            continue
        snr[n] = ref_snr(ys)
        cc[n] = ref_ccmax(ys, max_ccmax_iters, seed, use_library_order=True)
    return {"snr": snr, "ccmax": cc}
