"""Batching dataset items: :func:`neural_collate`."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .errors import StrfH5Error

__all__ = ["neural_collate", "Batch", "FieldDict"]


class FieldDict(dict):
    """A dict whose fields can also be read by position (``d[0]`` is the first value).

    deepSTRF items and batches are tuples; strfh5 hands out dicts with the
    same fields in the same order, so code indexing them by position keeps
    working.  ``what`` names the record in the IndexError message.
    """

    what = "record"

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            vals = list(self.values())
            try:
                return vals[key]
            except IndexError:
                raise IndexError(f"{self.what} position {key} out of range: its {len(vals)} fields are "
                                 f"{tuple(self.keys())}") from None
        return super().__getitem__(key)


class Batch(FieldDict):
    """A collated batch: a dict that can also be indexed by position.

    Keys, in order: ``stims``, ``responses``, ``valid_mask``, ``stim_meta``,
    then ``neuron_indices`` and ``stim_indices``; ``batch[0]`` is
    ``batch['stims']``.
    """

    what = "batch"


def _field(item, key: str, pos: int):
    if isinstance(item, dict):
        return dict.__getitem__(item, key) if key in item else None
    if isinstance(item, (tuple, list)) and len(item) > pos:
        return item[pos]
    return None


def _block_of(responses):
    """``(data, reps)`` of an unedited :class:`~strfh5.dataset.ResponseRow`, else None."""
    block = getattr(responses, "block", None)
    return block() if callable(block) else None


def _fill_from_block(out: torch.Tensor, data: torch.Tensor, reps: np.ndarray) -> None:
    """Write a row block into ``out`` ``(N, R_max, T_max)`` (NaN-filled), grouped by repeat count."""
    if data.shape[0] == 0:
        return
    T = data.shape[-1]
    present = reps > 0
    nrn = np.flatnonzero(present)
    R0 = int(reps[nrn[0]])
    if (reps[nrn] == R0).all():  # one repeat count among the present pairs: rows are already in order
        block = data.view(nrn.size, R0, T)
        if int(nrn[-1]) - int(nrn[0]) + 1 == nrn.size:
            out[int(nrn[0]) : int(nrn[-1]) + 1, :R0, :T] = block
        else:
            out[torch.from_numpy(nrn), :R0, :T] = block
        return
    starts = np.cumsum(reps) - reps
    for R in np.unique(reps[present]).tolist():
        nrn = np.flatnonzero(reps == R)
        rows = (starts[nrn][:, None] + np.arange(R)[None, :]).reshape(-1)
        out[torch.from_numpy(nrn), :R, :T] = data.index_select(0, torch.from_numpy(rows)).view(nrn.size, R, T)


def neural_collate(batch: Sequence) -> Batch:
    """Collate dataset items into padded tensors (deepSTRF's ``neural_collate``).

    Parameters
    ----------
    batch : sequence of items
        Items of a :class:`~strfh5.dataset.NeuralDataset` (dicts with
        ``stims``, ``responses``, ``stim_meta``, ...), or deepSTRF-style
        tuples ``(stims, responses, ...)``.

    Returns
    -------
    Batch
        ``stims``: ``(B, *stim_dims, T_max)`` right-padded with zeros (works
        for spectrograms, waveforms and videos); ``responses``: ``(B, N,
        R_max, T_max)`` float32 right-padded with NaN (missing pairs are all
        NaN); ``valid_mask``: ``(B, N, R_max, T_max)`` bool, ``~isnan``;
        ``stim_meta``: list of B dicts; ``neuron_indices``: ``(B, N)`` long
        (when items carry them); ``stim_indices``: ``(B,)`` long.

    Raises
    ------
    strfh5.errors.StrfH5Error
        Items whose stimuli differ in their non-time axes or whose neuron
        counts differ (items from different selections).
    """
    if len(batch) == 0:
        raise StrfH5Error("neural_collate: empty batch")
    stims = [_field(it, "stims", 0) for it in batch]
    resps = [_field(it, "responses", 1) for it in batch]
    metas = [_field(it, "stim_meta", 3 if isinstance(batch[0], dict) else 2) for it in batch]
    B = len(batch)
    lead = tuple(stims[0].shape[:-1])
    for b, x in enumerate(stims):
        if tuple(x.shape[:-1]) != lead:
            raise StrfH5Error(
                f"neural_collate: item {b} has a stimulus of shape {tuple(x.shape)}, item 0 {tuple(stims[0].shape)}; "
                "stimuli of a batch must share their non-time axes"
            )
    Ts = max(int(x.shape[-1]) for x in stims)
    out_stims = stims[0].new_zeros((B, *lead, Ts))
    for b, x in enumerate(stims):
        out_stims[b, ..., : x.shape[-1]] = x
    N = len(resps[0])
    for b, r in enumerate(resps):
        if len(r) != N:
            raise StrfH5Error(
                f"neural_collate: item {b} has {len(r)} neurons, item 0 has {N}; items of one batch must come "
                "from the same neuron selection"
            )
    blocks = [_block_of(r) for r in resps]
    R_max, T_max = 1, 1
    for r, blk in zip(resps, blocks):
        if blk is not None:
            data, reps = blk
            if reps.size:
                R_max = max(R_max, int(reps.max()))
            if data.shape[0]:
                T_max = max(T_max, int(data.shape[-1]))
        else:
            for t in r:
                R_max, T_max = max(R_max, int(t.shape[0])), max(T_max, int(t.shape[-1]))
    out = torch.full((B, N, R_max, T_max), float("nan"), dtype=torch.float32)
    for b, (r, blk) in enumerate(zip(resps, blocks)):
        if blk is not None:
            _fill_from_block(out[b], *blk)
            continue
        groups: dict[tuple[int, int], list[int]] = {}
        for n, t in enumerate(r):
            groups.setdefault((int(t.shape[0]), int(t.shape[-1])), []).append(n)
        for (R, T), idx in groups.items():
            block = torch.stack([r[n] for n in idx])
            if len(idx) == N:
                out[b, :, :R, :T] = block
            else:
                out[b, torch.as_tensor(idx), :R, :T] = block
    res = Batch(stims=out_stims, responses=out, valid_mask=~torch.isnan(out), stim_meta=metas)
    nidx = [_field(it, "neuron_indices", 2) if isinstance(it, dict) else None for it in batch]
    if all(x is not None for x in nidx):
        res["neuron_indices"] = torch.as_tensor(nidx, dtype=torch.long).reshape(B, N)
    sidx = [_field(it, "stim_index", 4) if isinstance(it, dict) else None for it in batch]
    if all(x is not None for x in sidx):
        res["stim_indices"] = torch.as_tensor(sidx, dtype=torch.long)
    return res
