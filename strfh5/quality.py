"""Per-neuron response quality: Sahani-Linden SNR and the CCmax noise ceiling.

:func:`compute_neuron_quality` is what ``NeuralDataset.compute_neuron_quality``
runs.  It reads one stimulus row at a time (``ds.row_tensors(s)``), computes
the Gram matrix of each pair's centred repeats in float64, and folds it into
per-neuron pooled sums — the same sums :mod:`strfh5.metrics` pools over a list
of stimuli, so ``snr[n]`` equals ``strfh5.metrics.snr(rows_of_n)`` and
``ccmax[n]`` equals ``strfh5.metrics.ccmax(rows_of_n, max_iters, seed)``
(length-weighted over stimuli, i.e. computed on the concatenation of the
per-stimulus-centred time axes).

Memory: the row of one stimulus (what ``row_tensors`` returns), plus float64
work buffers of at most :data:`CHUNK_ELEMENTS` values per step, plus
``O(N * max_ccmax_iters)`` accumulators.  Work is vectorised over neurons and
repeats: the Python loop runs over stimuli, repeat counts and neuron chunks,
never over (stimulus, neuron) pairs.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from tqdm.auto import tqdm

from .annotate import update_metadata
from .errors import MetricError
from .metrics.power import PowerPool
from .metrics.reliability import SplitPool
from .metrics.splits import DEFAULT_MAX_ITERS
from .metrics.validity import CenteredResponses
from .version import __version__

__all__ = ["compute_neuron_quality", "quality_record", "write_quality", "json_number", "CHUNK_ELEMENTS"]

#: float64 values converted per step (2**17 values = 1 MiB)
CHUNK_ELEMENTS = 1 << 17


def json_number(x: float):
    """A finite float, or None for NaN / infinity (JSON has neither)."""
    x = float(x)
    return x if math.isfinite(x) else None


def compute_neuron_quality(ds, max_ccmax_iters: int = DEFAULT_MAX_ITERS, seed: int = 0,
                           progress: bool | None = None) -> dict[str, torch.Tensor]:
    """Write per-neuron SNR and CCmax into ``ds.nrn_meta`` and return them.

    Parameters
    ----------
    ds : NeuralDataset
        Any object with ``get_S()``, ``get_N()``, ``nrn_meta`` and
        ``row_tensors(s)`` (the ``N`` ``(R, T)`` float tensors of stimulus
        ``s``, None where a pair was not recorded).  Eager and lazy datasets
        both work; the whole population is processed whatever the selection.
    max_ccmax_iters : int, default 126
        Half-splits per repeat count: all of them when there are at most this
        many (10 repeats have exactly 126), otherwise this many drawn at random
        (see :func:`strfh5.metrics.half_splits`).
    seed : int, default 0
        Seed of the random split draws; results are reproducible.
    progress : bool, optional
        A tqdm bar per stimulus on stderr: True always, False never, None
        (default) when stderr is a terminal.

    Returns
    -------
    dict
        ``{'snr': Tensor[N], 'ccmax': Tensor[N]}``, float64.

    Notes
    -----
    ``'snr'`` — Sahani-Linden ``SP / NP`` with signal and noise power each
    length-weighted over the neuron's stimuli with ``R >= 2`` and ``T >= 2``
    (:func:`strfh5.metrics.snr`); NaN when there is none, ``+inf`` when the
    repeats are identical.

    ``'ccmax'`` — Spearman-Brown ceiling from the half-split correlation,
    pooled over stimuli (:func:`strfh5.metrics.ccmax`); 1.0 when the neuron
    has data but no stimulus with ``R >= 2`` (no normalisation possible, so
    ``cc_norm == cc``), NaN when it has no data at all or the pooled
    half-split correlation is negative or undefined (signal too weak).

    In ``ds.nrn_meta[n]`` the values are plain Python floats; a value that is
    NaN or infinite is stored as ``None`` (JSON null), which keeps the records
    valid for the core neuron schema (``number | null``) and for saving, and
    makes predicates such as ``lambda m: m['snr'] > 0.5`` skip the neuron
    (``select_pop_by_nrn_predicate`` skips records whose predicate raises
    ``TypeError``).  The returned tensors keep NaN and ``inf``.
    """
    try:
        max_iters = int(max_ccmax_iters)
        seed = int(seed)
    except (TypeError, ValueError):
        raise MetricError(
            f"max_ccmax_iters and seed must be integers, got {max_ccmax_iters!r} and {seed!r}"
        ) from None
    if max_iters < 1:
        raise MetricError(f"max_ccmax_iters must be >= 1, got {max_ccmax_iters}")
    S, N = int(ds.get_S()), int(ds.get_N())
    powers = PowerPool(N)
    splits = SplitPool(N, max_iters, seed)
    steps = tqdm(range(S), desc="quality", unit="stim", leave=False, disable=None if progress is None else not progress)
    for s in steps:
        row = ds.row_tensors(s)
        if len(row) != N:
            raise MetricError(f"row_tensors({s}) returned {len(row)} elements for N = {N} neurons")
        groups: dict[tuple[int, int], list[int]] = {}
        for n, el in enumerate(row):
            if el is None:
                continue
            if el.ndim != 2:
                raise MetricError(f"response [{s}, {n}] has shape {tuple(el.shape)}, expected (R, T)")
            groups.setdefault((int(el.shape[0]), int(el.shape[1])), []).append(n)
        for (R, T), ns in groups.items():
            if R == 0 or T == 0:
                continue
            step = max(1, CHUNK_ELEMENTS // (R * T))
            for i in range(0, len(ns), step):
                idx = ns[i : i + step]
                Y = torch.stack([torch.as_tensor(row[n]) for n in idx]).to(torch.float64)
                c = CenteredResponses(Y)
                del Y
                G = c.gram()
                index = torch.as_tensor(idx, dtype=torch.long)
                powers.add(G, c.R, c.T, index=index)
                splits.add(G, c.row_valid, c.R, c.T, index=index)
                del c, G
        del row
    out = {"snr": powers.snr(), "ccmax": splits.ccmax()}
    for n in range(N):
        meta = ds.nrn_meta[n]
        meta["snr"] = json_number(out["snr"][n])
        meta["ccmax"] = json_number(out["ccmax"][n])
    return out


def quality_record(max_ccmax_iters: int, seed: int, dt_ms: float | None = None) -> dict[str, Any]:
    """The ``quality`` object of the file metadata that records how the values were made."""

    rec: dict[str, Any] = {
        "max_ccmax_iters": int(max_ccmax_iters),
        "seed": int(seed),
        "library": f"strfh5 {__version__}",
        "metrics": ["snr", "ccmax"],
    }
    if dt_ms is not None:
        rec["dt_ms"] = float(dt_ms)
    return rec


def write_quality(path, snr, ccmax, params: dict[str, Any]) -> None:
    """Store ``snr`` / ``ccmax`` in each neuron's metadata and ``params`` under ``quality`` in ``/metadata``.

    NaN and infinity are stored as null (JSON has neither); every updated
    record is checked against the file's schemas first
    (:func:`strfh5.annotate.update_metadata`).
    """
    updates = [{"snr": json_number(a), "ccmax": json_number(b)} for a, b in zip(snr, ccmax)]
    update_metadata(path, updates, {"quality": params})
