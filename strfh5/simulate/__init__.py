"""Synthetic datasets: Poisson linear-nonlinear neurons driven by synthetic sounds.

The simulator makes realistic strfh5 files with a known ground truth, for the
demo, tests and benchmarks.  Each stimulus is a synthetic sound — a song-like
sequence of harmonic stacks with frequency modulation, a moving ripple, or
modulated band-limited noise — turned into a ``(1, F, T)`` log-frequency
spectrogram by :func:`strfh5.spectrogram.spectrogram` (the very
transform converters use, recorded in ``/stimuli@transform``).  Each neuron is
a linear-nonlinear Poisson model:

.. math::

    z_n(t) = \\sum_{f, l} h_n[f, l] \\, x[f, t - l], \\qquad
    \\lambda_n(t) = r_0 + (r_{max} - r_0) \\, \\sigma(k (z_n(t) - \\theta)),

with ``x = (spectrogram - input_offset) / input_scale`` (frames before onset
are silence, the spectrogram's floor), ``h_n`` the neuron's spectro-temporal
receptive field (STRF) of ``F x L`` lags, ``σ`` the logistic function and
``λ`` the firing rate in spikes/s.  Each repeat ``r`` scales the rate by a
log-normal gain (trial-to-trial variability), spike counts are Poisson per
bin, and spike times are uniform within their bin.  With ``encoding='events'``
spontaneous spikes before onset (``pre_ms``) and after the stimulus
(``post_ms``) are added, as real recordings have; ``encoding='binned'``
stores the per-bin counts, which are exactly the events of the same seed binned
at ``dt_ms`` over ``[0, T dt)``.

Ground truth is stored in the file: every neuron's metadata holds its STRF
(``strf``, nested lists ``[F][L]``, lag ``l`` weighting frame ``t - l``) and
its nonlinearity; the file metadata holds the seed and the simulation
parameters (``simulation``), so that fitted models can be scored against the
true filters.

Randomness is drawn from independent streams per stimulus and for the
neurons, so :func:`simulate_dataset` (in memory) and :func:`write_simulated`
(streamed, memory bounded by one stimulus row) produce identical data for the
same parameters and seed.

Named presets (:data:`PRESETS`) reproduce the shapes of public releases:
``demo`` (small, seconds), ``aa1`` (CRCNS AA1), ``aa2`` (CRCNS AA2) and
``nat4-a1`` (NAT4 A1).

Stimulus and neuron ids carry the tag ``<preset>.s<seed>``, so files made
from other presets or seeds concatenate without id clashes, while the same
preset and seed give the same ids (:mod:`strfh5.simulate.naming`).

Modules
-------
``presets``     parameters: defaults, :data:`PRESETS`, :func:`preset_params`
``sounds``      sound synthesis (:data:`SOUND_TYPES`)
``model``       the LN model: STRF drive and :func:`simulated_rates`
``neurons``     ground-truth STRFs, nonlinearities and neuron metadata
``naming``      stimulus names, stimulus and neuron ids
``coverage``    recorded pairs and their repeats
``metadata``    the file metadata (``simulation`` record)
``plan``        every table of a dataset, fixed before synthesis
``responses``   one stimulus row: sound, spectrogram, spikes
``in_memory``   :func:`simulate_contents`, :func:`simulate_dataset`
``writing``     :func:`write_simulated` (streamed to a file)

Examples
--------
>>> import strfh5
>>> path = strfh5.write_simulated("sim.strf.h5", preset="demo", seed=1, progress=False)
>>> ds = strfh5.simulate_dataset(n_stimuli=4, n_neurons=3, n_bins=(50, 80), seed=0, progress=False)
>>> ds.get_S(), ds.get_N()
(4, 3)
"""

from __future__ import annotations

from .in_memory import simulate_contents, simulate_dataset
from .model import simulated_rates
from .presets import PRESETS, preset_params
from .sounds import SOUND_TYPES
from .writing import write_simulated

__all__ = [
    "PRESETS",
    "SOUND_TYPES",
    "preset_params",
    "simulate_dataset",
    "simulate_contents",
    "write_simulated",
    "simulated_rates",
]
