"""The file metadata of a simulated dataset: what was simulated, with which parameters and seed.

The ``simulation`` record (checked by the ``demo`` source schema) states the
model in words and numbers, so that a fitted model can be scored against the
ground truth stored in the neurons' metadata without reading this package.
"""

from __future__ import annotations

from typing import Sequence

from .. import layout as L
from .model import INPUT_OFFSET, INPUT_SCALE

#: ``/metadata`` ``source`` of simulated files (the ``demo`` source schemas)
SOURCE = "demo"
#: the model name recorded in ``simulation['model']``
MODEL = "poisson-ln"


def simulation_record(p: dict, tag: str, n_lags: int, types: Sequence[str]) -> dict:
    """The ``simulation`` record: the model, its constants and the parameters that shape the data."""
    events = p["encoding"] == L.ENCODING_EVENTS
    return {
        "model": MODEL,
        "preset": p["preset"],
        "nonlinearity": "sigmoid: rate = spont_hz + (peak_hz - spont_hz) / (1 + exp(-slope * (z - threshold)))",
        "linear_stage": "z(t) = sum_{f,l} strf[f][l] * x[f, t - l], x = (stimulus - input_offset) / input_scale; "
                        "frames before onset are silence (stimulus = 10*log10(eps))",
        "input_offset": INPUT_OFFSET,
        "input_scale": INPUT_SCALE,
        "strf_lags": n_lags,
        "strf_ms": float(p["strf_ms"]),
        "trial_gain_sd": float(p["trial_gain_sd"]),
        "trial_gain": "each repeat multiplies the rate by exp(N(0, trial_gain_sd))",
        "spikes": "Poisson counts per dt bin; spike times uniform within their bin",
        "pre_ms": float(p["pre_ms"]) if events else 0.0,
        "post_ms": float(p["post_ms"]) if events else 0.0,
        "spontaneous": "spikes at spont_hz in [-pre_ms, 0) and [T*dt, T*dt + post_ms) (events only)",
        "sound_sample_rate": float(p["sample_rate"]),
        "sound_types": sorted(set(types)),
        "ground_truth": "neuron metadata 'strf' ([F][L], lag l weights frame t - l) and 'nonlinearity'",
        "id_tag": tag,
        "ids": "stimulus and neuron ids carry id_tag (preset and seed), so files of other presets or seeds "
               "concatenate without id clashes",
    }


def file_metadata(p: dict, tag: str, n_lags: int, types: Sequence[str]) -> dict:
    """``/metadata`` of a simulated file."""
    return {
        "source": SOURCE,
        "title": p["title"] or "strfh5 simulated dataset (Poisson LN neurons, synthetic sounds)",
        "description": "Synthetic data made by strfh5.simulate: linear-nonlinear Poisson neurons with known "
                       "STRFs driven by synthetic song-like sounds, ripples and noise.",
        "license": "CC0-1.0",
        "species": "simulated",
        "response_units": "ms" if p["encoding"] == L.ENCODING_EVENTS else "spikes/bin",
        "seed": int(p["seed"]),
        "simulation": simulation_record(p, tag, n_lags, types),
    }
