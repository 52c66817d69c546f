"""Selections of neurons and stimuli, and the bidirectional rule, as pure functions.

The deepSTRF selection API of :class:`~strfh5.dataset.NeuralDataset` checks
its arguments and matches metadata here; :func:`visible` computes what a
selection exposes (seed 003 §5): the selected neurons that have data for at
least one selected stimulus, and the selected stimuli that at least one of
those neurons heard.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Callable

import numpy as np
import torch

from .errors import SelectionError

__all__ = ["as_index", "as_indices", "position", "matching_attr", "matching_pred", "match_attr", "match_pred",
           "present_values", "visible", "neurons_with_data"]

_MISSING = object()


def as_index(value, size: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_floating_point():
            value = int(value)
        else:
            raise SelectionError(f"{what} index must be an integer, got {value!r}")
    v = int(value)
    if not 0 <= v < size:
        raise SelectionError(f"{what} index {v} out of range [0, {size})")
    return v


def as_indices(values, size: int, what: str) -> list[int]:
    if isinstance(values, (int, np.integer)) and not isinstance(values, bool):
        raise SelectionError(f"{what} indices must be a sequence of integers, got the integer {values!r}")
    if isinstance(values, torch.Tensor) or isinstance(values, np.ndarray):
        values = values.tolist()
    try:
        out = [as_index(v, size, what) for v in values]
    except TypeError:
        raise SelectionError(f"{what} indices must be a sequence of integers, got {values!r}") from None
    if len(set(out)) != len(out):
        seen, dups = set(), []
        for v in out:
            if v in seen:
                dups.append(v)
            seen.add(v)
        raise SelectionError(f"{what} indices contain duplicates: {sorted(set(dups))}")
    return out


def present_values(metas: Sequence[dict], key: str, limit: int = 20) -> str:
    vals: list = []
    for m in metas:
        v = m.get(key, _MISSING)
        if v is not _MISSING and v not in vals:
            vals.append(v)
    if not vals:
        return f"no record has the key {key!r}"
    shown = ", ".join(repr(v) for v in vals[:limit])
    more = f", ... ({len(vals) - limit} more)" if len(vals) > limit else ""
    return f"values of {key!r} present: {shown}{more}"


def match_attr(metas: Sequence[dict], key: str, value) -> list[int]:
    out = []
    for i, m in enumerate(metas):
        v = m.get(key, _MISSING)
        if v is _MISSING:
            continue
        try:
            if v == value:
                out.append(i)
        except Exception:  # exotic comparisons: treat as no match
            continue
    return out


def matching_attr(metas: Sequence[dict], key: str, value, what: str, table: str) -> list[int]:
    """Indices of ``metas`` with ``meta[key] == value``; SelectionError listing the values present if none."""
    idx = match_attr(metas, key, value)
    if not idx:
        raise SelectionError(f"no {what} has {table}[{key!r}] == {value!r}; {present_values(metas, key)}")
    return idx


def matching_pred(metas: Sequence[dict], predicate: Callable, what: str) -> list[int]:
    """Indices of ``metas`` satisfying ``predicate``; SelectionError if none."""
    idx = match_pred(metas, predicate)
    if not idx:
        raise SelectionError(f"the predicate matched no {what}'s metadata (of {len(metas)})")
    return idx


def match_pred(metas: Sequence[dict], predicate: Callable) -> list[int]:
    if not callable(predicate):
        raise SelectionError(f"predicate must be callable (dict -> bool), got {predicate!r}")
    out = []
    for i, m in enumerate(metas):
        try:
            if predicate(m):
                out.append(i)
        except (KeyError, TypeError):
            continue
    return out


def position(i, size: int, what: str) -> int:
    """``i`` as an index into ``size`` elements (negative integers count from the end)."""
    if isinstance(i, (int, np.integer)) and not isinstance(i, bool) and -size <= i < 0:
        i = int(i) + size
    return as_index(i, size, what)


def visible(masks: np.ndarray, I: Sequence[int], S_sel: Sequence[int] | None) -> tuple[list[int], list[int]]:
    """(visible neurons, iterable stimuli) of a selection, by the bidirectional rule.

    Parameters
    ----------
    masks : numpy.ndarray, bool, shape (S, N)
        True where a pair was recorded.
    I : sequence of int
        Selected neurons (all when empty), already checked.
    S_sel : sequence of int or None
        Selected stimuli (all when None), already checked.

    Notes
    -----
    With a stimulus selection, neurons with no recorded response to any
    selected stimulus are hidden; stimuli are iterable when at least one
    visible neuron has data for them.
    """
    S, N = masks.shape
    base = np.asarray(I if len(I) else range(N), dtype=np.int64)
    cand = np.asarray(S_sel if S_sel is not None else range(S), dtype=np.int64)
    if S_sel is not None and base.size:
        keep = masks[np.ix_(cand, base)].any(axis=0) if cand.size else np.zeros(base.size, bool)
        vis = base[keep]
    else:
        vis = base
    if cand.size and vis.size:
        stims = cand[masks[np.ix_(cand, vis)].any(axis=1)]
    else:
        stims = cand[:0]
    return vis.tolist(), stims.tolist()


def neurons_with_data(masks: np.ndarray, stims: Sequence[int], what: str) -> list[int]:
    """Neurons with a recorded response to at least one of ``stims``; SelectionError if none."""
    cols = masks[np.asarray(stims, dtype=np.int64)].any(axis=0)
    idx = np.flatnonzero(cols).tolist()
    if not idx:
        raise SelectionError(f"no neuron has a recorded response to the stimuli matching {what}")
    return idx
