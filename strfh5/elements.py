"""Checks of the values handed to the writer: response elements and stable ids.

One place decides what a valid element is (SPEC §4) — binned ``(R, T)``
counts or signals, per-repeat spike-time lists — and what a valid id is
(SPEC §5–6), so :class:`strfh5.StreamWriter` and :func:`strfh5.from_lists`
refuse bad input with the same :class:`~strfh5.errors.InvalidDataError`
messages naming the pair or id at fault.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from . import layout as L
from .arguments import as_numpy
from .records import Events
from .errors import DuplicateIdError, InvalidDataError

__all__ = ["normalize_binned", "normalize_events", "check_id_text", "check_unique_ids"]


def normalize_binned(value, n_bins: int, response_kind: str, where: str):
    """Check one binned element; return a 2-D array ``(R, n_bins)`` or None (missing).

    Counts must be finite, non-negative integers; continuous signals are
    stored as float32 and may contain NaN.
    """
    if value is None:
        return None
    a = as_numpy(value)
    if a.ndim == 1 and n_bins and a.size == n_bins:
        a = a.reshape(1, n_bins)
    if a.ndim != 2:
        raise InvalidDataError(f"{where}: a binned response must be an (R, T) array, got shape {a.shape}")
    if a.shape[0] == 0:
        return None
    if a.shape[1] != n_bins:
        raise InvalidDataError(
            f"{where}: response has T = {a.shape[1]} bins but the stimulus has n_bins = {n_bins}"
        )
    if response_kind == L.RESPONSE_CONTINUOUS:
        if a.dtype.kind not in "fiub":
            raise InvalidDataError(f"{where}: continuous responses must be numeric, got dtype {a.dtype}")
        return np.ascontiguousarray(a, dtype=L.CONTINUOUS_DTYPE)
    # counts
    if a.dtype.kind in "ub":
        return a
    if a.dtype.kind == "i":
        if a.size and a.min() < 0:
            raise InvalidDataError(f"{where}: spike counts must be non-negative, found {a.min()}")
        return a
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)):
            raise InvalidDataError(f"{where}: spike counts must be finite, found NaN or Inf")
        if a.size and a.min() < 0:
            raise InvalidDataError(f"{where}: spike counts must be non-negative, found {a.min()}")
        if not np.array_equal(a, np.floor(a)):
            raise InvalidDataError(
                f"{where}: spike counts must be integers, found non-integer values "
                "(write continuous signals with response_kind='continuous')"
            )
        return a.astype(np.int64)
    raise InvalidDataError(f"{where}: spike counts must be numeric, got dtype {a.dtype}")


def normalize_events(value, time_dtype: np.dtype, where: str) -> Events | None:
    """Check one events element (list of per-repeat spike-time arrays, or :class:`Events`)."""
    if value is None:
        return None
    if isinstance(value, Events):
        fast = _events_as_given(value, time_dtype)
        if fast is not False:
            return fast
        trials = value.trials()
    else:
        if isinstance(value, np.ndarray) and value.dtype != object:
            raise InvalidDataError(
                f"{where}: spike times must be a list of per-repeat 1-D arrays, got one array of shape {value.shape}"
            )
        trials = list(value)
    if len(trials) == 0:
        return None
    counts = np.empty(len(trials), dtype=np.int64)
    parts = []
    for r, t in enumerate(trials):
        t = as_numpy(t)
        if t.ndim != 1:
            t = t.reshape(-1) if t.size <= 1 else t
            if t.ndim != 1:
                raise InvalidDataError(f"{where} repeat {r}: spike times must be 1-D, got shape {t.shape}")
        if t.dtype.kind not in "fiu":
            raise InvalidDataError(f"{where} repeat {r}: spike times must be numbers, got dtype {t.dtype}")
        if t.size and not np.all(np.isfinite(t)):
            raise InvalidDataError(f"{where} repeat {r}: spike times must be finite, found NaN or Inf")
        counts[r] = t.size
        parts.append(t.astype(time_dtype, copy=False))
    times = np.concatenate(parts) if parts else np.empty(0, time_dtype)
    return Events(np.ascontiguousarray(times, dtype=time_dtype), counts)



def _events_as_given(value: Events, time_dtype: np.dtype):
    """An :class:`Events` already consistent (1-D numeric finite times, counts >= 0 summing to them), checked
    with whole-array operations and returned as :func:`normalize_events` would; False when a check fails (the
    per-repeat path then names the repeat at fault)."""
    t, c = np.asarray(value.times), np.asarray(value.counts)
    if t.ndim != 1 or c.ndim != 1 or t.dtype.kind not in "fiu" or c.dtype.kind not in "iu":
        return False
    if not c.size:
        return None
    if (c < 0).any() or int(c.sum(dtype=np.int64)) != t.size or (t.size and not np.isfinite(t).all()):
        return False
    return Events(np.ascontiguousarray(t, dtype=time_dtype), c.astype(np.int64, copy=False))


def check_id_text(x: str, kind: str, where: str = "") -> None:
    """HDF5 variable-length strings cannot hold NUL characters: refuse such ids up front."""
    if "\x00" in x:
        raise InvalidDataError(f"{where}{kind} id {x!r} contains a NUL character, which HDF5 strings cannot store")


def check_unique_ids(ids: Sequence[str], kind: str) -> None:
    seen: dict[str, int] = {}
    dups = []
    for i, x in enumerate(ids):
        check_id_text(x, kind, f"position {i}: ")
        if x in seen:
            dups.append(f"{x!r} (positions {seen[x]} and {i})")
        else:
            seen[x] = i
    if dups:
        more = f" and {len(dups) - 10} more" if len(dups) > 10 else ""
        raise DuplicateIdError(f"{kind} ids must be unique; duplicated: " + ", ".join(dups[:10]) + more)
