"""Batching dataset items: :func:`neural_collate`."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .errors import StrfH5Error

__all__ = ["neural_collate", "Batch", "FieldDict", "describe"]


def describe(value) -> str:
    """A short description of a field value: a tensor's shape and dtype, a list's length (for reprs)."""
    if isinstance(value, torch.Tensor):
        return f"<tensor {tuple(value.shape)} {str(value.dtype).replace('torch.', '')}>"
    if isinstance(value, np.ndarray):
        return f"<array {value.shape} {value.dtype}>"
    if isinstance(value, (list, tuple)) or hasattr(value, "reps"):
        shapes = {tuple(t.shape) for t in list(value)[:64] if hasattr(t, "shape")}
        if shapes:
            more = ", ..." if len(shapes) > 3 else ""
            return f"<{len(value)} tensors of shapes {sorted(shapes)[:3]}{more}>"
        text = repr(list(value))
        return text if len(text) <= 80 else f"<list of {len(value)}>"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class FieldDict(dict):
    """A dict that also behaves as deepSTRF's tuple of its first fields.

    deepSTRF items and batches are tuples; strfh5 hands out dicts whose
    leading fields (:attr:`fields`) are those tuple's values in the same
    order.  Indexing by name works as for any dict (``d['stims']``); indexing
    by position (``d[0]``), iterating, unpacking (``a, b, c, d = item``) and
    ``len`` follow the tuple.  Use ``keys()`` / ``items()`` to iterate over
    the names, including the extra fields after the tuple ones.  ``what``
    names the record in messages.
    """

    what = "record"
    #: the fields of the deepSTRF tuple, in its order
    fields: tuple = ()

    def _tuple(self) -> tuple:
        return tuple(dict.__getitem__(self, k) for k in self.fields if k in self)

    def __getitem__(self, key):
        if isinstance(key, slice):
            return self._tuple()[key]
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            vals = self._tuple()
            try:
                return vals[key]
            except IndexError:
                raise IndexError(f"{self.what} position {key} out of range: it unpacks as the {len(vals)} "
                                 f"fields {self.fields} (by name: {tuple(self.keys())})") from None
        return super().__getitem__(key)

    def __iter__(self):
        return iter(self._tuple())

    def __len__(self) -> int:
        return len(self._tuple())

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={describe(v)}" for k, v in self.items())
        return f"{type(self).__name__}({body})"


class Batch(FieldDict):
    """A collated batch: deepSTRF's 4-tuple ``(stims, responses, valid_mask, stim_meta)``, also a dict.

    ``stims, responses, valid_mask, stim_metas = batch`` unpacks as in
    deepSTRF; ``batch['stims']`` indexes by name; the extra fields
    ``neuron_indices`` and ``stim_indices`` are reached by name only.
    """

    what = "batch"
    fields = ("stims", "responses", "valid_mask", "stim_meta")


def _field(item, key: str, pos: int):
    if isinstance(item, dict):
        return dict.__getitem__(item, key) if key in item else None
    if isinstance(item, (tuple, list)) and len(item) > pos:
        return item[pos]
    return None


def _block_of(responses):
    """``(data, reps)`` of an unedited :class:`~strfh5.rows.ResponseRow` (data float32, or uint8 counts), else None."""
    compact = getattr(responses, "compact", None)
    return compact() if callable(compact) else None


def _fill_from_block(out: torch.Tensor, data: torch.Tensor, reps: np.ndarray, mask: torch.Tensor | None = None) -> None:
    """Write a row block into ``out`` ``(N, R_max, T_max)`` (NaN-filled), grouped by repeat count.

    ``mask``, when given (``(N, R_max, T_max)`` bool, all False), is set True
    wherever a value is written: the valid mask of a block without NaN.
    """
    if data.shape[0] == 0:
        return
    T = data.shape[-1]
    present = reps > 0
    nrn = np.flatnonzero(present)
    R0 = int(reps[nrn[0]])
    if (reps[nrn] == R0).all():  # one repeat count among the present pairs: rows are already in order
        block = data.view(nrn.size, R0, T)
        if int(nrn[-1]) - int(nrn[0]) + 1 == nrn.size:
            where = (slice(int(nrn[0]), int(nrn[-1]) + 1), slice(None, R0), slice(None, T))
            out[where] = block
        else:
            where = (torch.from_numpy(nrn), slice(None, R0), slice(None, T))
            out[where] = block.to(out.dtype)
        if mask is not None:
            mask[where] = True
        return
    starts = np.cumsum(reps) - reps
    for R in np.unique(reps[present]).tolist():
        nrn = np.flatnonzero(reps == R)
        rows = (starts[nrn][:, None] + np.arange(R)[None, :]).reshape(-1)
        where = (torch.from_numpy(nrn), slice(None, R), slice(None, T))
        out[where] = data.index_select(0, torch.from_numpy(rows)).view(nrn.size, R, T).to(out.dtype)
        if mask is not None:
            mask[where] = True


def neural_collate(batch: Sequence) -> Batch:
    """Collate dataset items into padded tensors (deepSTRF's ``neural_collate``).

    Parameters
    ----------
    batch : sequence of items
        Items of a :class:`~strfh5.dataset.NeuralDataset` (:class:`~strfh5.rows.Item`),
        or deepSTRF-style tuples ``(stims, responses, mask, stim_meta)``
        (``(stims, responses, stim_meta)`` also accepted).

    Returns
    -------
    Batch
        Unpacks as deepSTRF's ``(stims, responses, valid_mask, stim_metas)``
        and indexes by name. ``stims``: ``(B, *stim_dims, T_max)`` right-padded with zeros (works
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
    metas = [_field(it, "stim_meta", 3 if len(it) >= 4 else 2) for it in batch]
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
    # blocks of counts (uint8) hold no NaN: their valid mask is where they are written, no isnan pass needed
    counted = all(blk is not None and not blk[0].is_floating_point() for blk in blocks)
    mask = torch.zeros((B, N, R_max, T_max), dtype=torch.bool) if counted else None
    for b, (r, blk) in enumerate(zip(resps, blocks)):
        if blk is not None:
            _fill_from_block(out[b], *blk, mask=None if mask is None else mask[b])
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
    res = Batch(stims=out_stims, responses=out, valid_mask=~torch.isnan(out) if mask is None else mask,
                stim_meta=metas)
    nidx = [_field(it, "neuron_indices", 2) if isinstance(it, dict) else None for it in batch]
    if all(x is not None for x in nidx):
        res["neuron_indices"] = torch.as_tensor(nidx, dtype=torch.long).reshape(B, N)
    sidx = [_field(it, "stim_index", 4) if isinstance(it, dict) else None for it in batch]
    if all(x is not None for x in sidx):
        res["stim_indices"] = torch.as_tensor(sidx, dtype=torch.long)
    return res
