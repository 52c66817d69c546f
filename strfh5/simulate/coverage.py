"""Which (stimulus, neuron) pairs are recorded, and with how many repeats.

:func:`coverage_mask` reads the ``coverage`` parameter (a fraction, ``'full'``,
``'classes'``, an ``(S, N)`` bool array or a callable) and the
``no_val_neurons`` rule; :func:`repeats_table` reads ``repeats`` (an int, a
``(low, high)`` range, one of those per subset, or a callable).  Rule
callables get ``(s, n, stim_meta, nrn_meta, rng)``; ``nrn_meta`` includes the
private ``_coverage_seed`` key (a per-neuron seed for class-level draws).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ..errors import InvalidDataError
from .presets import int_range


def _fraction_mask(frac: float, S: int, N: int, rng) -> np.ndarray:
    if not 0.0 <= frac <= 1.0:
        raise InvalidDataError(f"coverage fraction must be in [0, 1], got {frac}")
    n_missing = int(round((1.0 - frac) * S * N))
    mask = np.ones(S * N, bool)
    if n_missing:
        mask[rng.choice(S * N, size=n_missing, replace=False)] = False
    return mask.reshape(S, N)


def _classes_mask(types: Sequence[str], N: int, rng) -> np.ndarray:
    """Each neuron hears every stimulus of a random non-empty subset of the stimulus classes."""
    mask = np.zeros((len(types), N), bool)
    classes = sorted(set(types))
    for n in range(N):
        k = int(rng.integers(1, len(classes) + 1))
        heard = set(rng.choice(classes, size=k, replace=False).tolist())
        mask[:, n] = [t in heard for t in types]
    return mask


def _array_mask(cov, S: int, N: int) -> np.ndarray:
    mask = np.asarray(cov)
    if mask.shape != (S, N) or mask.dtype != bool:
        raise InvalidDataError(
            "coverage must be a fraction, 'full', 'classes', a callable (s, n, stim_meta, nrn_meta, rng) "
            f"-> bool or an (S, N) = {(S, N)} bool array; got {type(cov).__name__}"
            + (f" of shape {mask.shape} dtype {mask.dtype}" if hasattr(mask, "shape") else "")
        )
    return mask.copy()


def coverage_mask(p: dict, types: Sequence[str], subsets: Sequence[str], rule_stim_meta: Sequence[dict],
                  rule_nrn_meta: Sequence[dict], rng) -> np.ndarray:
    """``(S, N)`` bool: the pairs ``coverage`` records, less the validation rows of ``no_val_neurons`` neurons."""
    S, N = len(types), len(rule_nrn_meta)
    cov = p["coverage"]
    if cov is None or (isinstance(cov, str) and cov == "full"):
        mask = np.ones((S, N), bool)
    elif isinstance(cov, str) and cov == "classes":
        mask = _classes_mask(types, N, rng)
    elif isinstance(cov, (float, int, np.floating)) and not isinstance(cov, bool):
        mask = _fraction_mask(float(cov), S, N, rng)
    elif callable(cov):
        mask = np.zeros((S, N), bool)
        for s in range(S):
            for n in range(N):
                mask[s, n] = bool(cov(s, n, rule_stim_meta[s], {**rule_nrn_meta[n]}, rng))
    else:
        mask = _array_mask(cov, S, N)
    k_noval = int(p["no_val_neurons"])
    if k_noval:
        if not 0 <= k_noval <= N:
            raise InvalidDataError(f"no_val_neurons = {k_noval} must be between 0 and N = {N}")
        val_rows = [s for s in range(S) if subsets[s] == "val"]
        who = rng.choice(N, size=k_noval, replace=False)
        for s in val_rows:
            mask[s, who] = False
    return mask


def repeats_table(p: dict, mask: np.ndarray, subsets: Sequence[str], rule_stim_meta: Sequence[dict],
                  rule_nrn_meta: Sequence[dict], rng) -> np.ndarray:
    """``(S, N)`` int64 repeats of each pair (0 where ``mask`` is False or the callable says 0)."""
    S, N = mask.shape
    rspec = p["repeats"]
    reps = np.zeros((S, N), np.int64)
    if callable(rspec):
        for s in range(S):
            for n in range(N):
                if mask[s, n]:
                    reps[s, n] = int(rspec(s, n, rule_stim_meta[s], {**rule_nrn_meta[n]}, rng))
    else:
        for s in range(S):
            if isinstance(rspec, Mapping) and subsets[s] not in rspec:
                raise InvalidDataError(f"repeats {dict(rspec)!r} has no entry for subset {subsets[s]!r}")
            spec = rspec[subsets[s]] if isinstance(rspec, Mapping) else rspec
            lo, hi = int_range(spec, f"repeats for subset {subsets[s]!r}")
            if lo < 1:
                raise InvalidDataError(f"repeats must be >= 1 for recorded pairs, got {spec!r}")
            reps[s] = rng.integers(lo, hi + 1, size=N)
        reps[~mask] = 0
    if reps.size and reps.min() < 0:
        raise InvalidDataError("the repeats callable returned a negative number")
    return reps
