"""A bounded cache of decoded stimuli, one per process (a lazy dataset reads each stimulus once per worker).

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

__all__ = ["StimulusCache", "DEFAULT_STIM_CACHE_MB"]

#: default budget (MiB) per process; ``STRFH5_STIM_CACHE_MB`` overrides it (0 disables the cache)
DEFAULT_STIM_CACHE_MB = 512.0


def _default_mb() -> float:
    text = os.environ.get("STRFH5_STIM_CACHE_MB")
    if text is None:
        return DEFAULT_STIM_CACHE_MB
    try:
        return max(float(text), 0.0)
    except ValueError:
        return DEFAULT_STIM_CACHE_MB


class StimulusCache:
    """Least-recently-used cache of stimulus tensors, bounded in bytes.

    Parameters
    ----------
    max_mb : float, optional
        Budget in MiB (0 disables caching); default ``STRFH5_STIM_CACHE_MB``
        or :data:`DEFAULT_STIM_CACHE_MB`. A single stimulus larger than the
        budget is returned but not kept.
    """

    def __init__(self, max_mb: float | None = None):
        mb = _default_mb() if max_mb is None else (0.0 if max_mb == 0 else positive_number(max_mb, "max_mb"))
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
        size = x.numel() * x.element_size()
        if size > self.max_bytes:
            return x
        self._items[key] = x
        self.nbytes += size
        while self.nbytes > self.max_bytes:
            _, old = self._items.popitem(last=False)
            self.nbytes -= old.numel() * old.element_size()
        return x

    def clear(self) -> None:
        self._items.clear()
        self.nbytes = 0

    def __getstate__(self):
        return {"max_bytes": self.max_bytes}

    def __setstate__(self, state):
        self.max_bytes = state["max_bytes"]
        self._items, self.nbytes, self.hits, self.misses = OrderedDict(), 0, 0, 0
