"""Spike times binned into counts, exactly as :func:`numpy.histogram` bins them (numpy, and one torch
scatter-add).

Bin ``i`` covers ``[start + i*dt, start + (i+1)*dt)``, the last bin closed on
the right (SPEC §11.1).  :func:`bin_index` finds each time's bin in O(n)
without searching; :func:`histogram_repeats` (rows given by their spike
counts, as a stored row holds them) and :func:`histogram_rows` (a row number
per time) count a whole stimulus row (every repeat of every neuron): each time
adds one to its slot ``repeat x T + bin`` of the output, in the output's own
type (float32, or uint8 when no repeat holds more than 255 spikes), 64k times
at a time (temporaries stay in cache and in memory already mapped: a fresh
page costs a fault), so the work follows the number of spikes, not the size
of the dense grid, and the order of the times does not matter (a file is
untrusted).  Adding ones is exact in these types (no bin holds more than
2**24 times, or 255 for uint8); anything else is counted with one
:func:`numpy.bincount` over the dense grid.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["bin_events", "bin_index", "histogram_rows", "histogram_repeats"]


def bin_events(times: np.ndarray, counts: np.ndarray, start: float, dt: float, T: int) -> np.ndarray:
    """Spike counts ``(R, T)`` (float64) of one pair's spike times.

    Equal to ``numpy.histogram(trial, bins=start + np.arange(T + 1) * dt)`` for
    each repeat: bins are half-open except the last, closed on the right.
    """
    return histogram_repeats(times, counts, float(start), float(dt), T)


def bin_index(times: np.ndarray, start: float, dt: float, T: int) -> np.ndarray:
    """``numpy.searchsorted(edges, times, side="right") - 1`` for ``edges = start + arange(T + 1) * dt``, in O(n).

    The bin is estimated arithmetically, then corrected by one step against the
    edges recomputed with the same float operations (so exactly the stored
    edges), without searching: values on an edge go to the bin on its right,
    NaN past the last edge (as numpy sorts it). Results lie in ``[-1, T]``.
    """
    times = np.asarray(times, dtype=np.float64)
    if T < 1:
        return np.searchsorted(start + np.arange(T + 1, dtype=np.float64) * dt, times, side="right") - 1
    with np.errstate(invalid="ignore"):
        f = np.subtract(times, start)
        f /= dt
        np.floor(f, out=f)
        np.clip(f, -1, T, out=f)
        b = f.astype(np.int64)
        e = np.multiply(f, dt)  # f * dt: the product arange gives for edge f
        e += start
        below = np.flatnonzero(times < e)  # few: the times just below their estimated bin's left edge
        f += 1
        np.multiply(f, dt, out=e)
        e += start
        above = np.flatnonzero(times >= e)  # few: on or past the next edge
    b[below] -= 1
    b[above] += 1
    np.clip(b, -1, T, out=b)
    nan = np.isnan(times)
    if nan.any():
        b[nan] = T
    return b


def histogram_rows(times: np.ndarray, row: np.ndarray, start: float, dt: float, n_rows: int, T: int,
                   dtype=np.float64) -> np.ndarray:
    """Counts ``(n_rows, T)`` of ``dtype``: ``times[i]`` (float64) counted in row ``row[i]``.

    Each row's counts equal ``numpy.histogram`` of its times with edges
    ``start + arange(T + 1) * dt``; times outside the edges (and NaN) are not
    counted.  ``dtype`` must hold every count exactly (the caller's bound).
    """
    row = np.asarray(row, dtype=np.int64)
    return _histogram(times, lambda i, j: row[i:j], start, dt, n_rows, T, dtype)


def histogram_repeats(times: np.ndarray, counts: np.ndarray, start: float, dt: float, T: int,
                      dtype=np.float64) -> np.ndarray:
    """:func:`histogram_rows` of rows given back to back: row ``r`` holds the next ``counts[r]`` times.

    The row of each time is found a chunk at a time (no array of one row
    number per time is built).
    """
    counts = np.asarray(counts, dtype=np.int64).reshape(-1)
    ends = np.cumsum(counts)
    starts = ends - counts
    if (int(ends[-1]) if ends.size else 0) != np.size(times):
        raise ValueError(f"{np.size(times)} times, the counts of the rows add up to {int(ends[-1]) if ends.size else 0}")

    def rows(i: int, j: int) -> np.ndarray:
        r0, r1 = np.searchsorted(ends, [i, j - 1], side="right").tolist()  # rows of the first and last time
        lengths = np.minimum(ends[r0 : r1 + 1], j) - np.maximum(starts[r0 : r1 + 1], i)
        return np.repeat(np.arange(r0, r1 + 1, dtype=np.int64), lengths)

    return _histogram(np.asarray(times, dtype=np.float64), rows, start, dt, counts.size, T, dtype)


def _histogram(times: np.ndarray, rows, start: float, dt: float, n_rows: int, T: int, dtype) -> np.ndarray:
    """The counts of :func:`histogram_rows`; ``rows(i, j)`` gives the rows of ``times[i:j]``."""
    if T < 1 or times.size > _EXACT_ADDS or np.dtype(dtype) not in _ADD_TYPES:
        return _dense(_edge_bins(times, start, dt, T), rows(0, times.size), n_rows, T, dtype)
    out = np.zeros(n_rows * T + 1, dtype=dtype)
    add = torch.from_numpy(out)
    one = torch.ones(1, dtype=add.dtype)
    # a chunk at a time, so that the temporaries stay in cache (and reuse memory already mapped): one slot
    # per (row, bin); times outside the window (bins -1 and T) all go to one extra slot, dropped
    for i in range(0, times.size, _CHUNK):
        j = min(i + _CHUNK, times.size)
        b = _edge_bins(times[i:j], start, dt, T)
        key = np.multiply(rows(i, j), T)
        key += b
        key[b.view(np.uint64) >= T] = n_rows * T  # -1 seen unsigned is past T too
        add.index_add_(0, torch.from_numpy(key), one.expand(key.size))
    return out[:-1].reshape(n_rows, T)


def _edge_bins(times: np.ndarray, start: float, dt: float, T: int) -> np.ndarray:
    """The bins of ``times`` as :func:`numpy.histogram` finds them: :func:`bin_index`, a time on the last edge
    in the last bin (the last bin is closed on the right)."""
    b = bin_index(times, start, dt, T)  # in [-1, T]
    top = np.flatnonzero(b == T)
    if top.size:
        b[top[times[top] == start + T * dt]] = T - 1
    return b


def _dense(b: np.ndarray, row: np.ndarray, n_rows: int, T: int, dtype) -> np.ndarray:
    """The counts by one :func:`numpy.bincount` over the dense ``(row, bin + 1)`` grid (the general path)."""
    key = np.multiply(row, T + 2, dtype=np.int64)
    key += b
    key += 1
    grid = np.bincount(key, minlength=n_rows * (T + 2)).reshape(n_rows, T + 2)
    return grid[:, 1 : T + 1].astype(dtype)


#: types counts are added in one at a time (exact: a bin never holds more than ``_EXACT_ADDS`` times)
_ADD_TYPES = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.uint8))
_EXACT_ADDS = 2**24
#: times binned at a time (the temporaries of 64k float64 stay in a core's cache)
_CHUNK = 65536
