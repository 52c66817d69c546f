"""Bounded caches of decoded stimuli (and, opt-in, binned rows), one per process (a lazy dataset reads each once per worker).

A lazy item needs its stimulus on the read grid: read from the file,
decompressed, pooled or recomputed (:func:`strfh5.rows.read_stim`). Items
of the same stimulus (every repeat, every epoch) would otherwise redo that
work. :class:`StimulusCache` keeps the most recently used results up to a
byte budget, keyed by the stimulus index and the :class:`~strfh5.binning.ReadGrid`
(bin width, window, stimulus kind), so a dataset read at another grid never
sees another grid's frames. It is not pickled: a worker process starts with
an empty cache of the same budget.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Callable, Hashable

import torch

from .arguments import positive_number

__all__ = ["StimulusCache", "RowCache", "DEFAULT_STIM_CACHE_MB"]

#: default budget (MiB) per process; ``STRFH5_STIM_CACHE_MB`` overrides it (0 disables the cache)
DEFAULT_STIM_CACHE_MB = 512.0


def _default_mb(env: str = "STRFH5_STIM_CACHE_MB", default: float = DEFAULT_STIM_CACHE_MB) -> float:
    text = os.environ.get(env)
    if text is None:
        return default
    try:
        return max(float(text), 0.0)
    except ValueError:
        return default


class StimulusCache:
    """Least-recently-used cache of stimulus tensors, bounded in bytes.

    Parameters
    ----------
    max_mb : float, optional
        Budget in MiB (0 disables caching); default ``STRFH5_STIM_CACHE_MB``
        or :data:`DEFAULT_STIM_CACHE_MB`. A single stimulus larger than the
        budget is returned but not kept.
    """

    #: environment variable giving the default budget, and the budget without it
    env, default_mb = "STRFH5_STIM_CACHE_MB", DEFAULT_STIM_CACHE_MB

    def __init__(self, max_mb: float | None = None):
        mb = _default_mb(self.env, self.default_mb) if max_mb is None else (
            0.0 if max_mb == 0 else positive_number(max_mb, "max_mb"))
        self.max_bytes = int(mb * 2**20)
        self._items: OrderedDict[Hashable, torch.Tensor] = OrderedDict()
        self.nbytes = 0
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Hashable, load: Callable[[], torch.Tensor]) -> torch.Tensor:
        """The tensor cached under ``key``, or ``load()`` (kept when it fits the budget)."""
        x = self._items.get(key)
        if x is not None:
            self._items.move_to_end(key)
            self.hits += 1
            return x
        self.misses += 1
        x = load()
        size = self._size(x)
        if size > self.max_bytes:
            return x
        self._items[key] = x
        self.nbytes += size
        while self.nbytes > self.max_bytes:
            _, old = self._items.popitem(last=False)
            self.nbytes -= self._size(old)
        return x

    @staticmethod
    def _size(x: torch.Tensor) -> int:
        return x.numel() * x.element_size()

    def clear(self) -> None:
        self._items.clear()
        self.nbytes = 0

    def __getstate__(self):
        return {"max_bytes": self.max_bytes}

    def __setstate__(self, state):
        self.max_bytes = state["max_bytes"]
        self._items, self.nbytes, self.hits, self.misses = OrderedDict(), 0, 0, 0


class RowCache(StimulusCache):
    """Least-recently-used cache of whole response rows ``(data, reps)`` read on the file's grid, bounded in bytes.

    Opt-in (default 0 MiB: off): ``STRFH5_ROW_CACHE_MB=...`` in the environment
    of the process that loads the dataset (workers inherit the budget). Rows are kept as read
    (stored uint8 counts stay uint8; binned spike counts are kept as uint8
    when every count fits, else float32), so a lazy epoch after the first
    reads nothing a cached row holds. One per process, like :class:`StimulusCache`.
    """

    env, default_mb = "STRFH5_ROW_CACHE_MB", 0.0

    @staticmethod
    def _size(x) -> int:
        data, reps = x
        return data.numel() * data.element_size() + reps.nbytes
