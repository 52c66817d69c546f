"""The simulated dataset in memory: :func:`simulate_contents` and :func:`simulate_dataset`."""

from __future__ import annotations

from .. import layout as L
from ..build import contents_from_lists
from ..reader import dataset_from_contents
from .metadata import SOURCE
from .plan import make_plan
from .presets import resolve_params
from .responses import iter_stimuli


def simulate_contents(preset: str | None = None, *, progress: bool | None = None, **params):
    """Simulate in memory; return a :class:`~strfh5.contents.MemoryContents`.

    Same parameters as :func:`simulate_dataset`.
    """
    plan = make_plan(resolve_params(preset, params))
    stims, rows, smeta, waves = [], [], [], []
    for s, wave, spec, meta, row in iter_stimuli(plan, progress):
        stims.append(spec)
        smeta.append(meta)
        if plan.p["encoding"] == L.ENCODING_EVENTS:
            row = [None if e is None else e.trials() for e in row]
        rows.append(row)
        waves.append((wave[None], float(plan.p["sample_rate"])) if plan.p["keep_waveform"] else None)
    kw = dict(spike_times=rows) if plan.p["encoding"] == L.ENCODING_EVENTS else dict(responses=rows)
    return contents_from_lists(
        stims,
        dt_ms=float(plan.p["dt_ms"]),
        stim_meta=smeta,
        nrn_meta=plan.nrn_meta,
        stim_ids=plan.stim_ids,
        neuron_ids=plan.neuron_ids,
        stim_kind=L.STIM_SPECTROGRAM,
        waveforms=waves if plan.p["keep_waveform"] else None,
        file_meta=plan.file_meta,
        source=SOURCE,
        transform=plan.transform,
        **kw,
    )


def simulate_dataset(preset: str | None = None, *, progress: bool | None = None, **params):
    """Simulate a dataset in memory and return it as a strfh5 dataset.

    Parameters
    ----------
    preset : {'demo', 'aa1', 'aa2', 'nat4-a1'}, optional
        Start from a named preset (:data:`strfh5.simulate.PRESETS`); keyword arguments
        override its values.
    n_stimuli, n_neurons : int
        S and N.
    n_freqs : int
        F, spectrogram bands.
    dt_ms : float
        Bin width / spectrogram hop (``sample_rate * dt_ms / 1000`` need not be
        an integer).
    n_bins : int, (low, high) tuple, or list of S ints
        Response/stimulus length T of each stimulus in bins (a tuple draws
        uniformly from the inclusive range; a list gives every length).
    repeats : int, (low, high), {subset: int or (low, high)} or callable
        Repeats of each recorded pair; a callable gets ``(s, n, stim_meta,
        nrn_meta, rng)`` and returns an int (0 = not recorded).
    coverage : float, 'full', 'classes', (S, N) bool array or callable
        Which pairs are recorded: a fraction (exactly ``round((1 - f) S N)``
        pairs missing, drawn at random), all, 'classes' (each neuron hears
        every stimulus of a random non-empty subset of the stimulus types), an
        explicit mask, or ``callable(s, n, stim_meta, nrn_meta, rng) -> bool``.
    stim_types : sequence or {type: count}
        Stimulus classes (:data:`SOUND_TYPES`): a sequence is cycled, a dict
        gives counts (or weights).
    n_val : int or float
        Number (int) or fraction (float) of stimuli tagged ``subset='val'``
        (the last ones); the others are ``'est'``.
    no_val_neurons : int
        Number of neurons with no response to any validation stimulus (the
        NAT4 pattern).
    encoding : {'events', 'binned'}
        Spike times (with pre/post-stimulus spikes) or per-bin counts.
    seed : int
        Seed of every random draw; equal parameters and seed give equal data.
    areas, animals : sequence or {name: count}
        Neuron metadata labels.
    sample_rate, f_min, f_max, window_ms : float
        Sound synthesis and spectrogram parameters.
    strf_ms : float
        Temporal extent of the STRFs (``L = ceil(strf_ms / dt_ms)`` lags).
    pre_ms, post_ms : float
        Windows of spontaneous spikes before onset / after offset (events).
    trial_gain_sd : float
        Log-normal trial-to-trial gain variability.
    keep_waveform : bool
        Store each sound's waveform beside its spectrogram.
    store_strf : bool
        Store the ground-truth STRF in each neuron's metadata.
    naming : {'generic', 'crcns', 'nat4'}
        Style of stimulus names and cell ids.  Every stimulus and neuron id
        also carries the tag ``<preset>.s<seed>`` (``sim.s<seed>`` without a
        preset), so files of other presets or seeds concatenate without id
        clashes (:mod:`strfh5.simulate.naming`).
    title : str, optional
        File metadata title.
    time_dtype : {'float64', 'float32'}
        Type of stored spike times.
    progress : bool, optional
        Show a tqdm progress bar (one step per stimulus) on stderr: True
        always, False never, None (default) when stderr is a terminal.

    Returns
    -------
    NeuralDataset
        As :func:`strfh5.from_lists` returns.
    """
    return dataset_from_contents(simulate_contents(preset, progress=progress, **params))


