"""One stimulus row at a time: the sound, its spectrogram, and every neuron's spikes to it.

Each stimulus ``s`` draws from its own two streams (sound, spikes) spawned
from the plan's seed, so a row depends only on the plan and ``s``: the
in-memory and the streamed simulation produce the same data, and any row can
be remade alone.
"""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np
from tqdm.auto import tqdm

from .. import layout as L
from ..records import Events
from ..spectrogram import spectrogram
from .model import SILENCE_DB, simulated_rates
from .plan import Plan
from .sounds import synthesize


def stimulus(plan: Plan, s: int):
    """Synthesise stimulus ``s``: (waveform, spectrogram (1, F, T), meta, rng for its responses)."""
    p = plan.p
    sr = float(p["sample_rate"])
    dt = float(p["dt_ms"])
    T = int(plan.n_bins[s])
    n_samp = int(math.ceil(T * dt * sr / 1000.0 - 1e-9))
    sound_rng, spike_rng = (np.random.default_rng(x) for x in plan.stim_seeds[s].spawn(2))
    wave = synthesize(plan.stim_types[s], sound_rng, n_samp, sr, float(p["f_min"]), plan.spec_params.f_max)
    spec, _ = spectrogram(wave, sr, plan.spec_params)
    if spec.shape[-1] != T:  # n_frames floors; pad with one silent frame if the sound fell short
        spec = np.concatenate([spec, np.full((1, plan.F, T - spec.shape[-1]), SILENCE_DB, np.float32)],
                              axis=-1)[..., :T]
    meta = {
        "name": plan.stim_names[s],
        "type": plan.stim_types[s],
        "subset": plan.subsets[s],
        "sample_rate": sr,
        "n_samples": n_samp,
        "duration_s": round(n_samp / sr, 6),
    }
    return wave, spec, meta, spike_rng


def _spike_times(plan: Plan, s: int, who: np.ndarray, counts: np.ndarray, row_of: np.ndarray, rng):
    """Spike times of the ``(M, T)`` ``counts`` (uniform within their bins) plus spontaneous pre/post spikes.

    Returns ``(times, per_rep)``: all times, sorted by repeat row then time, and
    the number of spikes of each of the M repeat rows.
    """
    p = plan.p
    T, dt, M = int(plan.n_bins[s]), float(p["dt_ms"]), row_of.size
    flat = counts.reshape(-1)
    cell = np.repeat(np.arange(flat.size), flat)
    u = np.minimum(rng.random(cell.size), 1.0 - 1e-9)
    t_stim = ((cell % T) + u) * dt
    r_stim = cell // T
    spont = np.array([plan.nrn_meta[n]["nonlinearity"]["spont_hz"] for n in who])[row_of]
    pre, post = float(p["pre_ms"]), float(p["post_ms"])
    n_pre = rng.poisson(spont * pre / 1000.0) if pre > 0 else np.zeros(M, np.int64)
    n_post = rng.poisson(spont * post / 1000.0) if post > 0 else np.zeros(M, np.int64)
    r_pre = np.repeat(np.arange(M), n_pre)
    t_pre = -pre + rng.random(r_pre.size) * pre
    r_post = np.repeat(np.arange(M), n_post)
    t_post = T * dt + rng.random(r_post.size) * post
    rows = np.concatenate([r_pre, r_stim, r_post])
    times = np.concatenate([t_pre, t_stim, t_post])
    order = np.lexsort((times, rows))
    rows, times = rows[order], times[order]
    return times.astype(np.dtype(p["time_dtype"])), np.bincount(rows, minlength=M)


def row(plan: Plan, s: int, spec: np.ndarray, rng) -> list:
    """Simulated responses of every neuron to stimulus ``s`` (None where not recorded).

    Binned: ``(R, T)`` count arrays; events: :class:`~strfh5.contents.Events`.
    """
    p = plan.p
    dt = float(p["dt_ms"])
    reps = plan.repeats[s]
    out: list = [None] * plan.N
    who = np.flatnonzero(reps > 0)
    if who.size == 0:
        return out
    strfs = np.stack([plan.neurons[n].strf for n in who])
    nls = [plan.nrn_meta[n]["nonlinearity"] for n in who]
    rates = simulated_rates(spec, strfs, nls)  # (k, T) spikes/s
    R = reps[who]
    row_of = np.repeat(np.arange(who.size), R)  # one row per (neuron, repeat)
    M = row_of.size
    gains = np.exp(rng.normal(0.0, float(p["trial_gain_sd"]), M)) if p["trial_gain_sd"] else np.ones(M)
    counts = rng.poisson(rates[row_of] * gains[:, None] * (dt / 1000.0))  # (M, T)
    edges = np.concatenate([[0], np.cumsum(R)])
    if p["encoding"] == L.ENCODING_BINNED:
        for i, n in enumerate(who):
            out[n] = counts[edges[i] : edges[i + 1]]
        return out
    times, per_rep = _spike_times(plan, s, who, counts, row_of, rng)
    t_edges = np.concatenate([[0], np.cumsum(per_rep)])
    for i, n in enumerate(who):
        a, b = edges[i], edges[i + 1]
        out[n] = Events(times[t_edges[a] : t_edges[b]].copy(), per_rep[a:b].astype(np.int64))
    return out


def iter_stimuli(plan: Plan, progress: bool | None = None, desc: str = "simulate") -> Iterator[tuple]:
    """``(s, waveform, spectrogram, stim_meta, row)`` for every stimulus, in order.

    ``progress``: True shows a tqdm bar (one step per stimulus) on stderr,
    False never, None (default) only when stderr is a terminal.
    """
    bar = tqdm(total=plan.S, desc=desc, unit="stim", disable=None if progress is None else not progress)
    with bar:
        for s in range(plan.S):
            wave, spec, meta, rng = stimulus(plan, s)
            yield s, wave, spec, meta, row(plan, s, spec, rng)
            bar.update(1)
