"""deepSTRF's subclass contract, checked on a dataset: :func:`check_contract` (``ds.validate()``).

deepSTRF subclasses populate ``stims``, ``responses``, ``stim_meta``,
``nrn_meta`` and ``N_neurons`` and call ``self.validate()`` last (seed 004).
strfh5 datasets satisfy the contract by construction; ``validate()`` exists so
deepSTRF code that calls it runs unchanged, and it catches what user code can
break afterwards (an edited ``responses[s][n]`` of the wrong shape, a NaN
written into a stimulus, metadata lists edited to another length).
"""

from __future__ import annotations

import numbers

import torch

from .binning import load_argument
from .errors import DatasetContractError
from .metrics.power import signal_power

__all__ = ["check_contract", "signal_power_table"]


def _fail(ds, what: str):
    where = getattr(ds.contents, "path", None) or "<memory>"
    raise DatasetContractError(f"{type(ds).__name__} ({where}) breaks the deepSTRF contract: {what}")


def _check_tables(ds) -> int:
    dt = ds.dt
    if isinstance(dt, bool) or not isinstance(dt, numbers.Real) or not dt > 0:
        _fail(ds, f"dt must be a positive number, got {dt!r}")
    N = ds.N_neurons
    if isinstance(N, bool) or not isinstance(N, numbers.Integral) or N <= 0:
        _fail(ds, f"N_neurons must be a positive int, got {N!r}")
    S = len(ds.stim_meta)
    if S == 0:
        _fail(ds, "stim_meta is empty")
    for name, have, want in (("nrn_meta", len(ds.nrn_meta), N), ("neuron_ids", len(ds.neuron_ids), N),
                             ("stim_ids", len(ds.stim_ids), S), ("stims", len(ds.stims), S),
                             ("responses", len(ds.responses), S), ("n_bins", len(ds.n_bins), S)):
        if have != want:
            _fail(ds, f"len({name}) is {have}, expected {want}")
    return S


def _check_row(ds, s: int) -> None:
    x = ds.stims[s]
    if not isinstance(x, torch.Tensor):
        _fail(ds, f"stims[{s}] is a {type(x).__name__}, not a tensor")
    if torch.isnan(x).any():
        _fail(ds, f"stims[{s}] contains NaN (stimuli never do; missing data lives in responses)")
    T = int(ds.n_bins[s])
    row = ds.responses[s]
    if len(row) != ds.N_neurons:
        _fail(ds, f"responses[{s}] has {len(row)} elements, expected N_neurons = {ds.N_neurons}")
    for n, r in enumerate(row):
        if not isinstance(r, torch.Tensor) or r.ndim != 2:
            _fail(ds, f"responses[{s}][{n}] must be an (R, T) tensor, got "
                      f"{tuple(r.shape) if isinstance(r, torch.Tensor) else type(r).__name__}")
        sentinel = tuple(r.shape) == (1, 1) and bool(torch.isnan(r).all())
        if not sentinel and r.shape[-1] != T:
            _fail(ds, f"responses[{s}][{n}] has T = {r.shape[-1]} bins, stimulus {s} has {T} at dt = {ds.dt}")
        if bool(ds.nrn_masks[s, n]) == sentinel:
            _fail(ds, f"nrn_masks[{s}, {n}] is {bool(ds.nrn_masks[s, n])} but responses[{s}][{n}] is "
                      f"{'the missing-pair sentinel' if sentinel else 'recorded'} (call _invalidate_nrn_masks() "
                      "after editing responses)")


def check_contract(ds, deep: bool | None = None) -> None:
    """Raise :class:`~strfh5.errors.DatasetContractError` where ``ds`` breaks deepSTRF's contract.

    Checks ``dt`` and ``N_neurons`` (positive), the lengths of ``stim_meta``,
    ``nrn_meta``, the ids, ``stims`` and ``responses``; with ``deep`` (the
    default for eager datasets, whose data may have been edited) also every
    stimulus (a tensor without NaN) and every response (``(R, T_s)`` at the
    stimulus's bins, or the ``(1, 1)`` NaN sentinel, in agreement with
    ``nrn_masks``).  A lazy dataset is checked deeply only when asked
    (``deep=True`` reads the whole file).
    """
    S = _check_tables(ds)
    if deep is None:
        deep = not ds.lazy
    if deep:
        for s in range(S):
            _check_row(ds, s)


def signal_power_table(ds) -> torch.Tensor:
    """``(N, S)`` float64 Sahani-Linden signal power of every (neuron, stimulus) pair of ``ds``.

    Per pair, :func:`strfh5.metrics.signal_power` of its ``(R, T)`` response
    (``SP = (R P(bar y) - mean_r P(y_r)) / (R - 1)``); NaN where the pair was
    not recorded or has ``R < 2`` or ``T < 2``.  Rows are read one stimulus at
    a time and pairs of equal shape computed together.
    """
    N, S = ds.get_N(), ds.get_S()
    out = torch.full((N, S), float("nan"), dtype=torch.float64)
    for s in range(S):
        groups: dict[tuple[int, int], list[int]] = {}
        row = ds.row_tensors(s)
        for n, r in enumerate(row):
            if r is not None:
                groups.setdefault(tuple(r.shape), []).append(n)
        for idx in groups.values():
            sp = signal_power(torch.stack([row[n] for n in idx]).to(torch.float64))
            out[torch.as_tensor(idx), s] = sp.reshape(-1)
    return out


def describe_dataset(ds) -> str:
    """The dataset repr: deepSTRF's fields, then file, dt, F or (C, H, W), encoding, transforms, selection."""
    head = (f"{type(ds).__name__}(N_neurons={ds.N_neurons}, selected={len(ds.I)}, N_stims={ds.get_S()}, "
            f"dt_ms={ds.dt:g}")
    parts = [head]
    if getattr(ds, "F", None) is not None:
        parts.append(f"F={ds.F}")
    if getattr(ds, "H", None) is not None:
        parts.append(f"C={ds.C}, H={ds.H}, W={ds.W}")
    parts.append(f"stim_kind={ds.stim_kind!r}, encoding={ds.encoding!r}")
    if ds.file_dt != float(ds.dt):
        parts.append(f"stored dt_ms={ds.file_dt:g}")
    path = getattr(ds.contents, "path", None)
    sources = [getattr(p, "path", None) for p in getattr(ds.contents, "parts", ())]
    if path:
        parts.append(f"file={path!r}")
    elif sources:
        parts.append(f"concatenation of {len(sources)}: files={[p or '<memory>' for p in sources]!r}")
    else:
        parts.append("in memory")
    if ds.lazy:
        parts.append("lazy=True")
    grid = getattr(ds, "grid", None)
    if grid is not None and grid.spectrogram:
        asked = ", ".join(f"{load_argument(f)}={v!r}" for f, v in grid.spectrogram)
        parts.append(f"spectrogram recomputed ({asked})")
    names = [t.get("name", "?") for t in ds.transforms if t.get("name") not in ("bin", "spectrogram")]
    if names:
        parts.append(f"transforms={names}")
    if ds.S_sel is not None:
        parts.append(f"stims selected={len(ds.S_sel)}")
    if ds.I or ds.S_sel is not None:
        parts.append(f"iterable={len(ds)}")
    return ", ".join(parts) + ")"


class ContractMethods:
    """deepSTRF methods a :class:`~strfh5.dataset.NeuralDataset` gets from here: ``validate``, signal power."""

    def validate(self, deep: bool | None = None) -> None:
        """Check deepSTRF's subclass contract (see :func:`check_contract`); raises DatasetContractError.

        deepSTRF subclasses call ``self.validate()`` as the last line of
        their constructor; strfh5 datasets hold by construction, so this
        catches later edits.  ``deep`` (default: eager datasets only) checks
        every stimulus and response.
        """
        check_contract(self, deep)

    def get_responses_signal_power(self, responses_tensor=None) -> torch.Tensor:
        """Signal power ``(N, S)`` per (neuron, stimulus) pair (deepSTRF's ``get_responses_signal_power``).

        Parameters
        ----------
        responses_tensor : torch.Tensor, optional
            deepSTRF's argument: a ``(N, S, R, T)`` tensor (NaN where
            missing); its signal power is returned, ``(N, S)``.  When omitted
            the dataset's own responses are used (:func:`signal_power_table`),
            so ragged ``R`` and ``T`` need no padding.

        Notes
        -----
        strfh5 uses Sahani-Linden powers about the mean over ``T`` bins
        (:func:`strfh5.metrics.signal_power`); deepSTRF's helper uses
        ``torch.var`` (``T - 1`` denominator), so its values are ``T / (T -
        1)`` times these.
        """
        if responses_tensor is None:
            return signal_power_table(self)
        if not isinstance(responses_tensor, torch.Tensor) or responses_tensor.ndim != 4:
            raise DatasetContractError(
                "get_responses_signal_power: responses_tensor must be an (N, S, R, T) tensor, got "
                + (str(tuple(responses_tensor.shape)) if isinstance(responses_tensor, torch.Tensor)
                   else type(responses_tensor).__name__))
        return signal_power(responses_tensor.to(torch.float64))
