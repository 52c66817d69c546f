"""Figures of stimuli, responses and coverage (matplotlib; safe with the Agg backend).

:func:`plot_stim_with_response` draws a stimulus above the responses of one
neuron to it — a raster and the trial-averaged PSTH — whatever the stimulus
kind (spectrogram, waveform, video) and whatever the response form (binned
``(R, T)`` counts or signals, or raw spike times).  :func:`plot_coverage` draws
the ``(S, N)`` map of recorded pairs.  Both return the figure and never call
``plt.show()``.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from .arguments import as_numpy as _np
from .arguments import positive_number
from .contents import FileContents
from .errors import InvalidDataError
from .optional import require
from .records import Events

__all__ = ["plot_stim_with_response", "plot_coverage"]


def _pyplot():
    return require("matplotlib.pyplot", extra="plot", purpose="plotting (strfh5.plotting)")


def _is_spike_times(response) -> bool:
    if isinstance(response, Events):
        return True
    if isinstance(response, (list, tuple)):
        return all(np.ndim(_np(r)) == 1 for r in response)
    return False


def _trials(response) -> list[np.ndarray]:
    if isinstance(response, Events):
        return [np.asarray(t, dtype=np.float64) for t in response.trials()]
    return [np.asarray(_np(t), dtype=np.float64).reshape(-1) for t in response]


def _draw_stim(ax, stim: np.ndarray, duration_ms: float, dt_ms: float) -> None:
    """Draw a (C, F, T) / (F, T) spectrogram, (C, T_audio) waveform or (C, H, W, T) video."""
    a = stim
    if a.ndim == 4:  # video: a strip of frames at evenly spaced times
        frames = a[0]
        T = frames.shape[-1]
        k = int(min(8, T))
        idx = np.linspace(0, T - 1, k).round().astype(int) if T else np.array([], int)
        if idx.size:
            strip = np.concatenate([frames[..., i] for i in idx], axis=1)
            H = frames.shape[0]
            ax.imshow(strip, cmap="gray", aspect="auto", extent=[0, duration_ms, H, 0])
            for j, i in enumerate(idx):
                ax.text((j + 0.02) * duration_ms / k, H * 0.08, f"{i * dt_ms:g} ms", color="yellow", fontsize=7,
                        va="top")
        ax.set_ylabel("frames (y)")
        return
    if a.ndim == 3:
        a = a[0]
    if a.ndim == 2 and a.shape[0] == 1:  # (1, T_audio) waveform
        w = a[0]
        t = np.linspace(0.0, duration_ms, w.size, endpoint=False)
        ax.plot(t, w, lw=0.4, color="k")
        ax.set_ylabel("waveform")
        return
    if a.ndim == 2:  # (F, T) spectrogram
        im = ax.imshow(a, aspect="auto", origin="lower", cmap="magma",
                       extent=[0, a.shape[-1] * dt_ms, -0.5, a.shape[0] - 0.5], interpolation="nearest")
        cax = ax.inset_axes([1.005, 0.0, 0.012, 1.0])  # outside the axes: keeps x aligned with the panels below
        ax.figure.colorbar(im, cax=cax)
        ax.set_ylabel("frequency band")
        return
    raise InvalidDataError(
        f"stimulus of shape {stim.shape}: expected (1, F, T) spectrogram, (1, T_audio) waveform or (1, H, W, T) video"
    )


def plot_stim_with_response(stim, response, dt_ms: float, title: str | None = None, ax=None):
    """Plot a stimulus above one neuron's responses to it (raster + PSTH).

    Parameters
    ----------
    stim : array or tensor
        ``(1, F, T)`` (or ``(F, T)``) spectrogram, ``(1, T_audio)`` waveform
        or ``(1, H, W, T)`` video.
    response : array/tensor ``(R, T)``, :class:`~strfh5.Events` or list of 1-D arrays
        Binned responses (spike counts or a continuous signal; NaN-padded
        repeats are ignored, a ``(1, 1)`` NaN sentinel or None means "not
        recorded"), or spike times in ms per repeat.
    dt_ms : float
        Bin width in ms (response bins and spectrogram frames).
    title : str, optional
        Figure title.
    ax : matplotlib Axes or sequence of 2 or 3 Axes, optional
        Where to draw: ``(stim_ax, raster_ax[, psth_ax])``; a single Axes gets
        the stimulus with the PSTH overlaid. A new figure is made when None.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    dt_ms = positive_number(dt_ms, "dt_ms", InvalidDataError)
    s = _np(stim)
    spikes = response is not None and _is_spike_times(response)
    r = None
    if response is not None and not spikes:
        r = _np(response).astype(np.float64)
        if r.ndim == 1:
            r = r[None]
        if r.ndim != 2:
            raise InvalidDataError(f"response must be (R, T), spike times or None; got shape {r.shape}")
        if r.size == 0 or np.all(np.isnan(r)):
            r = None
        else:
            r = r[~np.all(np.isnan(r), axis=1)]  # drop NaN-padded repeats
    # duration of the stimulus in ms
    if s.ndim >= 3 or (s.ndim == 2 and s.shape[0] != 1):
        T = s.shape[-1]
    elif r is not None:
        T = r.shape[-1]
    else:
        T = None
    if T is None:
        if spikes:
            mx = max((float(t.max()) for t in _trials(response) if t.size), default=dt_ms)
            T = int(np.ceil(mx / dt_ms))
        else:
            T = 1
    duration = T * dt_ms

    if ax is None:
        fig, axes = plt.subplots(3, 1, figsize=(9, 6), sharex=True, gridspec_kw={"height_ratios": [2, 1.3, 1]})
    elif isinstance(ax, (list, tuple, np.ndarray)):
        axes = list(np.ravel(ax))
        if len(axes) not in (2, 3):
            raise InvalidDataError(f"ax must be one Axes or a sequence of 2 or 3 Axes, got {len(axes)}")
        fig = axes[0].figure
    else:
        axes = [ax]
        fig = ax.figure
    _draw_stim(axes[0], s, duration, dt_ms)
    axes[0].set_xlim(0, duration)

    # PSTH at dt_ms
    t_bins = (np.arange(T) + 0.5) * dt_ms
    psth = None
    psth_label = ""
    if spikes:
        trials = _trials(response)
        edges = np.arange(T + 1) * dt_ms
        counts = np.array([np.histogram(t, bins=edges)[0] for t in trials]) if trials else np.zeros((0, T))
        psth = counts.mean(axis=0) * 1000.0 / dt_ms if len(trials) else None
        psth_label = "rate (spikes/s)"
    elif r is not None:
        psth = np.nanmean(r, axis=0)
        finite = r[np.isfinite(r)]
        psth_label = "spikes / bin (mean)" if np.array_equal(finite, np.round(finite)) and finite.min() >= 0 \
            else "mean over repeats"

    if len(axes) == 1:
        if psth is not None:
            tw = axes[0].twinx()
            tw.plot(t_bins[: psth.size], psth, color="tab:cyan", lw=1)
            tw.set_ylabel(psth_label)
        axes[0].set_xlabel("time (ms)")
    else:
        rax = axes[1]
        if spikes:
            trials = _trials(response)
            if trials:
                rax.eventplot(trials, colors="k", linelengths=0.8, linewidths=0.6)
                rax.set_ylim(-0.5, len(trials) - 0.5)
        elif r is not None:
            rax.imshow(r, aspect="auto", cmap="Greys", interpolation="nearest",
                       extent=[0, r.shape[1] * dt_ms, r.shape[0] - 0.5, -0.5])
        if psth is None:
            rax.text(0.5, 0.5, "not recorded", transform=rax.transAxes, ha="center", va="center", color="gray")
        rax.set_ylabel("repeat")
        rax.set_xlim(0, duration)
        pax = axes[2] if len(axes) == 3 else None
        if pax is not None:
            if psth is not None:
                pax.plot(t_bins[: psth.size], psth, lw=1, color="tab:blue")
            pax.set_ylabel(psth_label or "PSTH")
            pax.set_xlim(0, duration)
            pax.set_xlabel("time (ms)")
        else:
            rax.set_xlabel("time (ms)")
    if title:
        fig.suptitle(title, fontsize=10)
    if ax is None:
        fig.tight_layout()
    return fig


def _masks(obj) -> np.ndarray:
    if isinstance(obj, (str, os.PathLike)):
        c = FileContents(obj)
        try:
            return c.masks
        finally:
            c.close()
    if hasattr(obj, "nrn_masks"):
        return _np(obj.nrn_masks).astype(bool)
    if hasattr(obj, "masks") and hasattr(obj, "repeats"):
        return np.asarray(obj.masks, dtype=bool)
    m = _np(obj)
    if m.ndim != 2:
        raise InvalidDataError(f"coverage needs an (S, N) mask, a dataset, Contents or a path; got shape {m.shape}")
    return m.astype(bool)


def plot_coverage(
    masks_or_dataset,
    ax=None,
    title: str | None = None,
    stim_order: Sequence[int] | None = None,
    neuron_order: Sequence[int] | None = None,
    stim_boundaries: Sequence[float] = (),
    neuron_boundaries: Sequence[float] = (),
):
    """Plot the ``(S, N)`` coverage map: black where a pair was recorded.

    Parameters
    ----------
    masks_or_dataset : (S, N) bool array/tensor, dataset, Contents or path
        The masks, or anything holding them (``nrn_masks``, ``masks``), or a
        strfh5 file path (only ``/repeats`` is read).
    ax : matplotlib Axes, optional
    title : str, optional
        Defaults to the number and share of recorded pairs.
    stim_order, neuron_order : sequence of int, optional
        Reorder the axes (e.g. est stimuli first, neurons with val data on top).
    stim_boundaries, neuron_boundaries : sequence of float
        Positions (in the reordered axes) where a red / blue separator is drawn,
        e.g. between concatenated sources.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    m = _masks(masks_or_dataset)
    if stim_order is not None:
        m = m[np.asarray(stim_order, dtype=np.int64)]
    if neuron_order is not None:
        m = m[:, np.asarray(neuron_order, dtype=np.int64)]
    S, N = m.shape
    if ax is None:
        fig, ax = plt.subplots(figsize=(9, 3.5))
    else:
        fig = ax.figure
    if m.size:
        ax.imshow(m.T, aspect="auto", cmap="Greys", interpolation="nearest", vmin=0, vmax=1)
    for b in stim_boundaries:
        ax.axvline(b - 0.5, color="red", lw=1.2)
    for b in neuron_boundaries:
        ax.axhline(b - 0.5, color="blue", lw=1.2)
    ax.set_xlabel("stimulus index")
    ax.set_ylabel("neuron index")
    valid = int(m.sum())
    pct = 100.0 * valid / m.size if m.size else 0.0
    ax.set_title(title or f"coverage: {valid:,} / {m.size:,} (stimulus, neuron) pairs recorded ({pct:.1f}%)")
    fig.tight_layout()
    return fig
