"""The simulated dataset straight to a file: :func:`write_simulated`, one stimulus row at a time."""

from __future__ import annotations

import math
import os

import numpy as np

from .. import layout as L
from ..writer import StreamWriter
from .metadata import SOURCE
from .plan import Plan, make_plan
from .presets import resolve_params
from .responses import iter_stimuli


def count_dtype(plan: Plan):
    """uint8 when no count can exceed it in practice, else None (the writer chooses at close).

    The bound is the largest possible rate (peak x a 6-sigma trial gain); a
    Poisson count more than ~10x its mean plus 50 has probability below 1e-40.
    Should it happen anyway the writer refuses the value loudly (never wraps).
    """
    p = plan.p
    peak = max((nr.peak_hz for nr in plan.neurons), default=0.0) * math.exp(6.0 * float(p["trial_gain_sd"]))
    if p["encoding"] == L.ENCODING_BINNED:
        span_ms = float(p["dt_ms"])
    else:  # per-repeat spike counts
        span_ms = float(plan.n_bins.max(initial=0)) * float(p["dt_ms"]) + float(p["pre_ms"]) + float(p["post_ms"])
    worst = 10.0 * peak * span_ms / 1000.0 + 50.0
    # only uint8 can be fixed in advance: it is the smallest type, as SPEC §4 requires, whatever
    # the counts; a wider bound lets the writer pick the smallest type from the values at close
    return np.dtype("u1") if worst <= 255 else None


def write_simulated(path, preset: str | None = None, *, overwrite: bool = False, progress: bool | None = None,
                    **params) -> str:
    """Simulate a dataset straight to a strfh5 file, one stimulus row at a time.

    Memory is bounded by one stimulus row, so the same call writes a 20 GB
    benchmark file on a small machine.  Parameters are those of
    :func:`simulate_dataset`; the data equal what it returns for the same
    parameters.

    Parameters
    ----------
    path : str or os.PathLike
        Output file (``*.strf.h5``).
    preset : {'demo', 'aa1', 'aa2', 'nat4-a1'}, optional
        Start from a named preset (:data:`strfh5.simulate.PRESETS`); keyword arguments
        override its values.
    overwrite : bool
        Replace an existing file.
    progress : bool, optional
        Show a tqdm progress bar (one step per stimulus) on stderr: True
        always, False never, None (default) when stderr is a terminal.

    Returns
    -------
    str
        The path written.
    """
    plan = make_plan(resolve_params(preset, params))
    p = plan.p
    w = StreamWriter(
        os.fspath(path),
        encoding=p["encoding"],
        dt_ms=float(p["dt_ms"]),
        stim_kind=L.STIM_SPECTROGRAM,
        stim_dims=(1, plan.F),
        neuron_ids=plan.neuron_ids,
        nrn_meta=plan.nrn_meta,
        file_meta=plan.file_meta,
        source=SOURCE,
        transform=plan.transform,
        time_dtype=p["time_dtype"],
        count_dtype=count_dtype(plan),
        overwrite=overwrite,
    )
    with w:
        for s, wave, spec, meta, row in iter_stimuli(plan, progress, desc=os.path.basename(os.fspath(path))):
            if p["keep_waveform"]:
                w.add_stimulus(spec, id=plan.stim_ids[s], meta=meta, waveform=wave[None],
                               sample_rate=float(p["sample_rate"]))
            else:
                w.add_stimulus(spec, id=plan.stim_ids[s], meta=meta)
            w.write_row(s, row)
    return w.path
