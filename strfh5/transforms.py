"""Reader-side transforms of responses and stimuli.

The functions here compute on one stimulus row (a ``(sum R, T)`` float32
tensor holding the repeats of the row's recorded neurons, see
:meth:`strfh5.dataset.NeuralDataset.row_block`) or on one stimulus tensor.  The
dataset applies them in place (eager mode) or on every read (lazy mode), with
exactly the same arithmetic, so an eager and a lazy dataset give identical
numbers.  They never touch the ``(1, 1)`` NaN sentinels of missing pairs:
those are not part of a row block.

Every transform a dataset applies is recorded in ``ds.transforms``.  Unlike
deepSTRF, where calling ``normalize_responses`` twice silently normalises
twice, a second application of the same transform raises
:class:`~strfh5.errors.TransformError` unless ``force=True`` is passed.
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np
import torch

from . import layout as L
from .arguments import positive_number
from .errors import TransformError

__all__ = [
    "hann_window",
    "smooth_window_bins",
    "smooth_rows",
    "affine_rows",
    "ResponseStats",
    "StimStats",
    "standardize_stim",
]


def smooth_window_bins(window_ms: float, dt_ms: float) -> int:
    """``window_ms`` in bins of ``dt_ms``, rounded to the nearest odd number (at least 1)."""
    w = positive_number(window_ms, "window_ms", TransformError, where="smooth_responses")
    x = w / float(dt_ms)
    return max(1, 2 * int(math.floor((x - 1.0) / 2.0 + 0.5)) + 1)


def hann_window(n_bins: int) -> np.ndarray:
    """A Hann window of ``n_bins`` non-zero taps, normalised to sum 1 (float64).

    The taps are the interior of ``numpy.hanning(n_bins + 2)``, so every tap
    of the window carries weight (``numpy.hanning(n)`` has zero end taps).
    """
    w = np.hanning(int(n_bins) + 2)[1:-1]
    return w / w.sum()


def smooth_rows(data: torch.Tensor, weights: np.ndarray) -> torch.Tensor:
    """NaN-aware centred smoothing of each row of ``data`` ``(rows, T)``.

    Output sample ``t`` is the weighted mean of the valid (non-NaN) input
    samples under the window centred on ``t``; weights falling outside the row
    or on NaN samples are left out and the rest renormalised, so edges are not
    attenuated.  NaN samples stay NaN.  Computed in float64, returned float32;
    each output element depends only on its own row, so results do not depend
    on how rows are grouped.
    """
    if data.numel() == 0 or len(weights) == 1:
        return data.clone()
    x = data.double()
    valid = ~torch.isnan(x)
    x0 = torch.where(valid, x, torch.zeros((), dtype=x.dtype))
    v = valid.double()
    h = len(weights) // 2
    T = x.shape[-1]
    x0p = torch.nn.functional.pad(x0, (h, h))
    vp = torch.nn.functional.pad(v, (h, h))
    num = torch.zeros_like(x)
    den = torch.zeros_like(x)
    for k, wk in enumerate(weights):
        num += float(wk) * x0p[..., k : k + T]
        den += float(wk) * vp[..., k : k + T]
    out = torch.where(valid & (den > 0), num / den.clamp_min(1e-300), torch.full((), float("nan"), dtype=x.dtype))
    return out.float()


def affine_rows(data: torch.Tensor, row_neurons: np.ndarray, offset: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``(data - offset[n]) / scale[n]`` per row, ``n`` = the row's neuron (float32 arithmetic)."""
    if data.numel() == 0:
        return data.clone()
    idx = torch.from_numpy(np.asarray(row_neurons, dtype=np.int64))
    return (data - offset[idx].unsqueeze(1)) / scale[idx].unsqueeze(1)


class ResponseStats:
    """Per-neuron statistics accumulated over row blocks (NaN-aware)."""

    def __init__(self, N: int):
        self.N = N
        self.max = np.full(N, -np.inf)
        self.sum = np.zeros(N)
        self.sumsq = np.zeros(N)
        self.count = np.zeros(N)

    def add(self, data: torch.Tensor, row_neurons: np.ndarray) -> None:
        if data.numel() == 0:
            return
        x = data.double().numpy()
        valid = ~np.isnan(x)
        x0 = np.where(valid, x, 0.0)
        rows_max = np.where(valid, x, -np.inf).max(axis=1)
        np.maximum.at(self.max, row_neurons, rows_max)
        self.sum += np.bincount(row_neurons, weights=x0.sum(axis=1), minlength=self.N)
        self.sumsq += np.bincount(row_neurons, weights=(x0 * x0).sum(axis=1), minlength=self.N)
        self.count += np.bincount(row_neurons, weights=valid.sum(axis=1), minlength=self.N)

    def finish(self, method: str, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
        """``(offset, scale)`` float32 tensors of shape ``(N,)``.

        Neurons without any valid sample get the identity (offset 0, scale 1).
        """
        has = self.count > 0
        if method == "max":
            offset = np.zeros(self.N)
            scale = np.where(has, np.maximum(self.max, eps), 1.0)
        else:
            mean = np.where(has, self.sum / np.maximum(self.count, 1), 0.0)
            var = np.where(has, self.sumsq / np.maximum(self.count, 1) - mean**2, 1.0)
            std = np.sqrt(np.maximum(var, 0.0))
            offset = mean
            scale = np.where(has, np.maximum(std, eps), 1.0)
        return torch.from_numpy(offset.astype(np.float32)), torch.from_numpy(scale.astype(np.float32))


def _stat_axes(stim_kind: str, ndim: int, per_band: bool) -> tuple[int, ...]:
    """Axes reduced when computing stimulus statistics."""
    if not per_band:
        return tuple(range(ndim))
    if stim_kind == L.STIM_SPECTROGRAM:
        return (ndim - 1,)  # keep (C, F)
    return tuple(range(1, ndim))  # keep the channel axis


class StimStats:
    """Mean and std of stimuli, per band (spectrogram: per (C, F); others: per channel) or global."""

    def __init__(self, stim_kind: str, per_band: bool):
        self.stim_kind, self.per_band = stim_kind, per_band
        self.sum = self.sumsq = None
        self.count = 0

    def add(self, x: torch.Tensor) -> None:
        a = x.double().numpy()
        axes = _stat_axes(self.stim_kind, a.ndim, self.per_band)
        s = a.sum(axis=axes, keepdims=True)
        q = (a * a).sum(axis=axes, keepdims=True)
        n = int(np.prod([a.shape[i] for i in axes]))
        if self.sum is None:
            self.sum, self.sumsq = s, q
        else:
            if s.shape != self.sum.shape:
                raise TransformError(
                    f"standardize_stims: stimuli of shapes {x.shape} and earlier ones cannot share statistics"
                )
            self.sum, self.sumsq = self.sum + s, self.sumsq + q
        self.count += n

    def finish(self, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
        if self.sum is None or self.count == 0:
            raise TransformError("standardize_stims: no stimulus samples to compute statistics from")
        mean = self.sum / self.count
        var = np.maximum(self.sumsq / self.count - mean**2, 0.0)
        std = np.maximum(np.sqrt(var), eps)
        if not self.per_band:
            mean, std = mean.reshape(()), std.reshape(())
        return torch.from_numpy(np.asarray(mean, dtype=np.float32)), torch.from_numpy(np.asarray(std, dtype=np.float32))


def standardize_stim(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """``(x - mean) / std`` with statistics broadcast over time (float32)."""
    return (x - mean) / std


def check_not_applied(transforms: Iterable[dict], name: str, force: bool) -> None:
    """Refuse to apply ``name`` a second time unless ``force``."""
    if force:
        return
    for t in transforms:
        if t.get("name") == name:
            params = {k: v for k, v in t.items() if k != "name"}
            raise TransformError(
                f"{name} was already applied to this dataset ({params}); applying it again would transform "
                f"the data twice. Pass force=True to do so deliberately, or reload the dataset"
            )
