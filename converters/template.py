"""Template converter: copy this module to add a source (see ``converters/README.md``).

It is also a working converter for the simplest useful release layout — a
folder of wavs and a table of spike times — and is tested end to end
(``tests/test_converters_base.py``), so a copy starts from code that works::

    stimuli/<name>.wav                 one wav per stimulus (any rate, mono or not)
    spikes.csv                         neuron,stimulus,trial,time_ms   (header row)
    neurons.csv                        neuron,area[,animal]            (header row)

``stimulus`` is a wav stem; ``trial`` numbers a repeat (0-based or not: the
order is what counts); a trial without spikes is a row with an empty
``time_ms``.  The output is an ``events`` file; stimulus id = wav stem,
neuron id = ``neuron``.

A new converter keeps the three parts below: ``SOURCE`` (what the release
is), reading functions that refuse what they do not understand with a
:class:`~strfh5.errors.RawDataError` / :class:`~strfh5.errors.MissingRawFileError`
naming the file, and ``convert`` streaming into
:func:`~strfh5.converters.base.validated_output`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from strfh5.errors import RawDataError
from .base import (Option, QuirkLog, ReleaseFile, SourceInfo, check_options, converter_meta, parse_number, provenance,
                   read_csv_dicts, require_file, validated_output)
from strfh5.spectrogram import SpectrogramParams, spectrogram, transform_dict
from .audio import params_from_options, read_wav, spectrogram_layout, spectrogram_options, waveform_kwargs

__all__ = ["SOURCE", "convert", "read_spike_table"]

# 1. What the release is --------------------------------------------------
SOURCE = SourceInfo(
    id="template",
    title="Template source: wavs and a CSV table of spike times",
    citation="(the citation users must give when they use the release)",
    doi="(the release DOI)",
    license="(the licence or data-use terms)",
    access="open",
    files=(
        # name in the cache, URL, "sha256:<hex>" (None when the release publishes none), size, unpack, credentials
        ReleaseFile("template-release.zip", "https://example.org/template-release.zip", None, None, "zip"),
    ),
    options=(
        *spectrogram_options(SpectrogramParams(n_bands=16, f_min=100.0, f_max=None), dt_ms=5.0),
        Option("areas", str, None, "keep neurons of these areas (default: all)", multiple=True),
    ),
    schema=None,  # folder under schema/sources/ (None: the core schemas)
    species="",
    homepage="",
    verified="reference_reader",  # "release_files" | "real_sample" | "reference_reader" (base.VERIFICATION_LEVELS)
    verification="(which real files or reference readers the tests check the converter against)",
    version="1",  # bump whenever the same raw release converts to different output
)


# 2. Reading the raw files -------------------------------------------------
def read_spike_table(path) -> dict[tuple[str, str], list[np.ndarray]]:
    """``{(neuron, stimulus): [trial spike times (ms)]}`` from ``spikes.csv``, trials in order."""
    rows = read_csv_dicts(path, "spikes.csv (neuron,stimulus,trial,time_ms)",
                          required=("neuron", "stimulus", "trial", "time_ms"))
    trials: dict[tuple[str, str], dict[str, list[float]]] = {}
    for i, r in enumerate(rows, start=2):
        times = trials.setdefault((r["neuron"], r["stimulus"]), {}).setdefault(r["trial"], [])
        if r["time_ms"]:  # strict: '1_0.5', 'inf', 'nan' are refused, never read as other numbers
            times.append(parse_number(r["time_ms"], f"{path} line {i}: time_ms"))
    out = {}
    for key, by_trial in trials.items():
        order = sorted(by_trial, key=lambda t: (0, int(t)) if t.lstrip("-").isdigit() else (1, t))
        out[key] = [np.sort(np.array(by_trial[t], dtype=np.float64)) for t in order]
    return out


# 3. Converting ------------------------------------------------------------
def convert(raw_dir, out_path, *, overwrite: bool = False, **options) -> Path:
    """Convert the release unpacked in ``raw_dir`` to ``out_path`` (validated before it lands)."""
    opts = check_options(SOURCE, options)
    raw = Path(raw_dir)
    log = QuirkLog(SOURCE.id)
    params = params_from_options(opts)
    spikes = read_spike_table(raw / "spikes.csv")
    neurons = read_csv_dicts(raw / "neurons.csv", "neurons.csv (neuron,area)", required=("neuron",))
    if opts["areas"]:
        neurons = [r for r in neurons if r.get("area") in set(opts["areas"])]
    if not neurons:
        raise RawDataError(f"{raw / 'neurons.csv'}: no neuron (in the selected areas)")
    ids = [r["neuron"] for r in neurons]
    nrn_meta = [{"cell_id": r["neuron"], **{k: v for k, v in r.items() if k != "neuron" and v}} for r in neurons]
    wavs = sorted(require_file(raw / "stimuli", "the stimuli/ folder").glob("*.wav"))
    if not wavs:
        raise RawDataError(f"{raw / 'stimuli'}: no wav file")
    for key in sorted(set(spikes) - {(n, w.stem) for n in ids for w in wavs}):
        if key[0] in ids:
            log.add("unknown_stimulus", f"spikes.csv names stimulus {key[1]!r} with no wav: rows ignored",
                    neuron=key[0], stimulus=key[1])
    sr0 = read_wav(wavs[0])[1]
    file_meta = SOURCE.file_meta(response_units="ms", converter=converter_meta(SOURCE, opts))
    with validated_output(out_path, encoding="events", neuron_ids=ids, nrn_meta=nrn_meta, file_meta=file_meta,
                          source=SOURCE.schema or SOURCE.id, overwrite=overwrite,
                          **spectrogram_layout(params, transform_dict(params, sr0))) as w:
        for s, wav in enumerate(wavs):
            x, sr = read_wav(wav)
            if sr != sr0:
                raise RawDataError(f"{wav}: sample rate {sr} Hz differs from {sr0} Hz of {wavs[0].name}")
            S, _ = spectrogram(x, sr, params)
            meta = {"name": wav.name, "sample_rate": sr, "n_samples": int(x.shape[-1]),
                    "duration_s": x.shape[-1] / sr}
            w.add_stimulus(S, id=wav.stem, meta=meta, **waveform_kwargs(x, sr, opts["keep_waveform"]))
            w.write_row(s, [spikes.get((n, wav.stem)) for n in ids])
        # provenance: converter version and options, release files and hashes, verification level, quirks
        w.set_file_meta({**file_meta, "provenance": provenance(SOURCE, opts, log)})
    return Path(out_path)
