"""CRCNS AC1 (Wehr; Asari & Zador): rat auditory cortex / thalamus, intracellular, natural sounds.

Release layout (MATLAB v5 files, standardised by H. Asari)::

    crcns-ac1/wehr/Stimuli/<set>/<idx>.mat        stimulus.samples, stimulus.param.{sf, description}
    crcns-ac1/wehr/Results/<yyyymmdd>-mw-00<p>/<yyyymmdd>-mw-00<p>-<NNN>.mat
    crcns-ac1/asari/Stimuli/class<N>/<idx>.mat    stimulus.sample (Asari spelling) / .samples
    asari-results-{1,2}/<yyyymmdd>-ha<k>-<NNN>/*.mat

A trial file holds ``response`` (``trace`` × ``scale`` = membrane potential in
mV, sampled at ``sf`` Hz) and ``triggers`` (struct array: ``type``, ``time`` =
1-based sample index of the onset, ``param.description``,
``param.duration`` in ms, ``file`` = the stimulus file).  Asari files also
hold ``param.recording.site`` ('cortex' → A1, else MGB) and
``param.recording.type`` (whole-cell / cell-attached).

Conversion: one neuron per results folder (session); every trigger of a
natural-sound type (``naturalsound``, and the release's typo
``nauralsound``) whose stimulus file is found becomes one repeat of that
stimulus: the response from onset over the stimulus' ``T`` bins, each bin the
mean of the trace samples in ``[t*dt, (t+1)*dt)`` (exact fractional edges),
stored as a ``binned`` continuous float32 file in mV; samples past the end of
the recording are NaN (and logged).  Stimulus id = ``<dataset>/<path under
Stimuli>``; the stimulus is the filterbank spectrogram of its waveform.
Triggers whose stimulus cannot be resolved to one file (Asari spliced
``Sequence ...`` triggers without a ``file``) are skipped and counted in the
file's ``provenance.quirks``.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

import numpy as np

from strfh5.arguments import positive_number
from strfh5.errors import ConverterError, MissingRawFileError, RawDataError
from .base import (Option, QuirkLog, ReleaseFile, SourceInfo, check_options, converter_meta, raw_folder,
                   validated_output)
from .matlab import as_float_vector, as_scalar, as_str, field, has_field, load_mat, struct_list
from strfh5.spectrogram import SpectrogramParams, spectrogram, transform_dict
from .audio import match_rate, params_from_options, resampled_transform, spectrogram_layout, spectrogram_options, waveform_kwargs

__all__ = ["SOURCE", "convert", "bin_trace", "read_trial", "read_stimulus"]

NATURAL_TYPES = ("naturalsound", "nauralsound")
DATASETS = ("wehr", "asari")
DEFAULT_SPECTROGRAM = SpectrogramParams(kind="log", n_bands=49, f_min=100.0, f_max=None, window_ms=10.0,
                                        compression="log")
_BASE = "https://download.crcns.org/ac-1"

SOURCE = SourceInfo(
    id="crcns-ac1",
    title="CRCNS AC1: rat auditory cortex and thalamus intracellular responses to natural sounds",
    citation=(
        "Asari H., Zador A.M., Wehr M. (2009). Intracellular recordings of membrane potential in rat primary "
        "auditory cortex (A1) and thalamus (MGB) in response to natural sounds. CRCNS.org, "
        "http://dx.doi.org/10.6080/K0KW5CXR"
    ),
    doi="10.6080/K0KW5CXR",
    license="CRCNS data sharing terms (cite the dataset and its papers)",
    access="CRCNS account (free): set CRCNS_USERNAME and CRCNS_PASSWORD",
    files=(
        ReleaseFile("crcns-ac1.zip", f"{_BASE}/crcns-ac1.zip", None, None, "zip", "crcns"),
        ReleaseFile("crcns-ac1-asari-results-1.zip", f"{_BASE}/crcns-ac1-asari-results-1.zip", None, None, "zip",
                    "crcns", optional=True),
        ReleaseFile("crcns-ac1-asari-results-2.zip", f"{_BASE}/crcns-ac1-asari-results-2.zip", None, None, "zip",
                    "crcns", optional=True),
    ),
    options=(
        *spectrogram_options(DEFAULT_SPECTROGRAM, dt_ms=1.0),
        Option("datasets", str, list(DATASETS), "sub-datasets to convert", choices=DATASETS, multiple=True),
        Option("trigger_types", str, list(NATURAL_TYPES), "trigger types converted as stimuli", multiple=True),
        Option("resample_hz", float, None, "resample every stimulus to this rate (needed when rates differ)"),
        Option("skip_missing_stimuli", bool, False,
               "skip triggers whose stimulus file is missing instead of failing"),
    ),
    schema="crcns-ac1",
    species="rat (Rattus norvegicus)",
    homepage="https://crcns.org/data-sets/ac/ac-1",
)


# ----------------------------------------------------------------- reading
def bin_trace(trace: np.ndarray, sf: float, onset: int, n_bins: int, dt_ms: float) -> tuple[np.ndarray, int]:
    """Mean of ``trace`` in each ``dt_ms`` bin from sample ``onset`` (0-based).

    Bin ``t`` averages samples ``[onset + round(t*dt*sf/1000), onset +
    round((t+1)*dt*sf/1000))`` (at least one sample). Bins past the end of the
    trace are NaN. Returns the ``(n_bins,)`` float32 array and the number of
    NaN bins.
    """
    from fractions import Fraction

    per = Fraction(repr(float(dt_ms))) * Fraction(repr(float(sf))) / 1000
    edges = np.array([onset + int(round(per * k)) for k in range(n_bins + 1)], dtype=np.int64)
    out = np.full(n_bins, np.nan, dtype=np.float64)
    x = np.asarray(trace, dtype=np.float64)
    if onset < 0:
        raise RawDataError(f"trigger onset sample {onset + 1} is before the recording starts")
    csum = np.concatenate([[0.0], np.cumsum(x)])
    hi = np.maximum(edges[1:], edges[:-1] + 1)
    ok = hi <= x.size
    lo = edges[:-1][ok]
    out[ok] = (csum[hi[ok]] - csum[lo]) / (hi[ok] - lo)
    return out.astype(np.float32), int((~ok).sum())


def read_trial(path) -> dict:
    """One trial file: ``{"trace" (mV), "sf", "triggers": [...], "site", "recording"}``."""
    p = Path(path)
    d = load_mat(p)
    for v in ("response", "triggers"):
        if v not in d:
            raise RawDataError(f"{p}: variable {v!r} not found (expected an AC1 trial file with response, triggers)")
    r = d["response"]
    trace = as_float_vector(field(r, "trace", f"{p}: response"), f"{p}: response.trace", allow_nan=True)
    scale = as_scalar(field(r, "scale", f"{p}: response"), f"{p}: response.scale")
    sf = as_scalar(field(r, "sf", f"{p}: response"), f"{p}: response.sf")
    if not sf > 0:
        raise RawDataError(f"{p}: response.sf must be a positive sample rate, got {sf}")
    trigs = []
    for i, t in enumerate(struct_list(d["triggers"], f"{p}: triggers")):
        where = f"{p}: triggers({i + 1})"
        item = {"type": as_str(field(t, "type", where), f"{where}.type").strip(),
                "time": int(round(as_scalar(field(t, "time", where), f"{where}.time")))}
        prm = getattr(t, "param", None) if has_field(t, "param") else None
        item["description"] = as_str(prm.description, f"{where}.param.description") if (
            prm is not None and has_field(prm, "description")) else ""
        item["duration_ms"] = as_scalar(prm.duration, f"{where}.param.duration") if (
            prm is not None and has_field(prm, "duration")) else None
        f = ""
        if has_field(t, "file"):
            f = as_str(t.file, f"{where}.file")
        elif prm is not None and has_field(prm, "file"):
            f = as_str(prm.file, f"{where}.param.file")
        item["file"] = f.strip()
        trigs.append(item)
    out = {"trace": trace * scale, "sf": sf, "triggers": trigs, "site": None, "recording": None}
    prm = d.get("param")
    if prm is not None and has_field(prm, "recording"):
        rec = prm.recording
        if has_field(rec, "site"):
            out["site"] = as_str(rec.site, f"{p}: param.recording.site").strip()
        if has_field(rec, "type"):
            out["recording"] = as_str(rec.type, f"{p}: param.recording.type").strip()
    return out


def read_stimulus(path) -> tuple[np.ndarray, float, str]:
    """A stimulus file: ``(waveform (1, n) float32, sample rate, description)``."""
    p = Path(path)
    s = load_mat(p, ["stimulus"])["stimulus"]
    name = "samples" if has_field(s, "samples") else "sample"
    x = as_float_vector(field(s, name, f"{p}: stimulus"), f"{p}: stimulus.{name}")
    prm = field(s, "param", f"{p}: stimulus")
    sf = as_scalar(field(prm, "sf", f"{p}: stimulus.param"), f"{p}: stimulus.param.sf")
    desc = as_str(prm.description, f"{p}: stimulus.param.description") if has_field(prm, "description") else ""
    return x.astype(np.float32)[None], sf, desc


def _stim_rel(file: str) -> str:
    """Path of a trigger's stimulus under ``Stimuli/`` (Windows paths and prefixes accepted)."""
    parts = [x for x in re.split(r"[\\/]+", file) if x]
    low = [x.lower() for x in parts]
    if "stimuli" in low:
        parts = parts[len(low) - 1 - low[::-1].index("stimuli") + 1:]
    return str(PurePosixPath(*parts)) if parts else ""


def _find(root: Path, name: str) -> Path | None:
    for cand in (root / name, root / "crcns-ac1" / name):
        if cand.is_dir():
            return cand
    return None


# ----------------------------------------------------------------- convert
def convert(raw_dir, out_path, *, overwrite: bool = False, **options) -> Path:
    """Convert the unpacked AC1 release in ``raw_dir`` to ``out_path`` (binned, continuous, mV).

    Parameters
    ----------
    raw_dir : path-like
        Folder holding ``wehr/`` and/or ``asari/`` (directly or inside
        ``crcns-ac1/``) and the ``asari-results-*/`` folders.
    out_path : path-like
    overwrite : bool
    **options
        See ``SOURCE.options``: spectrogram options, ``datasets``,
        ``trigger_types``, ``resample_hz``, ``skip_missing_stimuli``,
        ``keep_waveform``.
    """
    opts, raw, log = check_options(SOURCE, options), raw_folder(raw_dir), QuirkLog(SOURCE.id)
    params = params_from_options(opts)
    dt = params.hop_ms
    types = set(opts["trigger_types"])
    sessions: list[tuple[str, Path, Path]] = []  # (dataset, session folder, Stimuli folder)
    for ds in opts["datasets"]:
        base = _find(raw, ds)
        if ds == "wehr":
            if base is None or not (base / "Results").is_dir():
                log.add("missing_dataset", f"{raw}: no wehr/Results folder: Wehr cells skipped", dataset=ds)
                continue
            sessions += [(ds, d, base / "Stimuli") for d in sorted((base / "Results").iterdir()) if d.is_dir()]
        else:
            folders = sorted(d for r in sorted(raw.glob("*asari-results-*")) if r.is_dir()
                             for d in r.iterdir() if d.is_dir())
            if base is None or not folders:
                log.add("missing_dataset", f"{raw}: no asari/Stimuli or asari-results-* folders: Asari cells "
                        "skipped", dataset=ds)
                continue
            sessions += [(ds, d, base / "Stimuli") for d in folders]
    if not sessions:
        raise MissingRawFileError(f"{raw}: no wehr/Results/ or asari-results-*/ session folder found — is this the "
                                  "unpacked CRCNS AC1 release?")

    # 1. read every trial file: responses per (stimulus, cell) as lists of (trace, sf, onset)
    cells, stim_files = [], {}
    skipped = 0
    for ds, folder, stim_dir in sessions:
        cid = f"{ds}/{folder.name}"
        meta = {"cell_id": folder.name, "dataset": ds, "area": "A1", "recording": "whole-cell",
                "n_trials_files": 0}
        events: dict[str, list] = {}
        for p in sorted(folder.glob("*.mat")):
            t = read_trial(p)
            meta["n_trials_files"] += 1
            if t["site"] is not None:
                meta["area"] = "A1" if t["site"].lower() == "cortex" else "MGB"
                meta["site"] = t["site"]
            if t["recording"]:
                meta["recording"] = t["recording"]
            for trig in t["triggers"]:
                if trig["type"] not in types:
                    continue
                rel = _stim_rel(trig["file"])
                if not rel:
                    skipped += 1
                    continue
                sid = f"{ds}/{rel}"
                sp = stim_dir / rel
                if sid not in stim_files:
                    if not sp.is_file():
                        if not opts["skip_missing_stimuli"]:
                            raise MissingRawFileError(
                                f"{sp}: stimulus file named by {p} ({trig['type']} trigger at sample {trig['time']}) "
                                "is missing — pass skip_missing_stimuli=True (--skip-missing-stimuli) to skip it"
                            )
                        log.add("missing_stimulus", f"{sp} is missing: triggers naming it are skipped",
                                stimulus=sid)
                        stim_files[sid] = None
                    else:
                        stim_files[sid] = sp
                if stim_files[sid] is None:
                    continue
                events.setdefault(sid, []).append((p, trig["time"] - 1))
        if not events:
            log.add("cell_without_data", f"{cid}: no natural-sound trigger with a stimulus file: left out", cell=cid)
            continue
        cells.append((cid, meta, events))
    if skipped:
        log.add("trigger_without_file", f"{skipped} natural-sound trigger(s) name no single stimulus file "
                "(spliced sequences): skipped", count=skipped)
    if not cells:
        raise RawDataError(f"{raw}: no cell has natural-sound responses with stimulus files")

    order = sorted(s for s, p in stim_files.items() if p is not None and any(s in c[2] for c in cells))
    first = read_stimulus(stim_files[order[0]])
    resample = opts["resample_hz"] is not None
    target = (positive_number(opts["resample_hz"], "crcns-ac1: option resample_hz", ConverterError) if resample
              else first[1])
    transform = resampled_transform(params, target) if resample else transform_dict(params, target)
    file_meta = SOURCE.file_meta(response_units="mV", converter=converter_meta(SOURCE, opts),
                                 preparation="anesthetized rats; in vivo whole-cell / cell-attached recordings")
    cache: dict[Path, dict] = {}
    with validated_output(out_path, encoding="binned", response_kind="continuous", neuron_ids=[c[0] for c in cells],
                          nrn_meta=[c[1] for c in cells], file_meta=file_meta, source=SOURCE.schema,
                          overwrite=overwrite, **spectrogram_layout(params, transform)) as w:
        for s, sid in enumerate(order):
            x, sr, desc = read_stimulus(stim_files[sid])
            n_orig = x.shape[-1]
            x = match_rate(x, sr, target, resample=resample, where=str(stim_files[sid]),
                           reference=order[0] if not resample else "resample_hz")
            S, _ = spectrogram(x, target, params)
            T = S.shape[-1]
            meta = {"name": sid, "type": "natural", "dataset": sid.split("/", 1)[0], "file": sid.split("/", 1)[1],
                    "description": desc, "sample_rate": float(sr), "n_samples": int(n_orig),
                    "duration_s": n_orig / sr}
            w.add_stimulus(S, id=sid, meta=meta, **waveform_kwargs(x, target, opts["keep_waveform"]))
            row = []
            for cid, _, events in cells:
                evs = events.get(sid)
                if not evs:
                    row.append(None)
                    continue
                reps = []
                for p, onset in evs:
                    if p not in cache:
                        cache.clear()  # one trial file at a time: files are read in order per cell
                        cache[p] = read_trial(p)
                    t = cache[p]
                    y, n_nan = bin_trace(t["trace"], t["sf"], onset, T, dt)
                    if n_nan:
                        log.add("short_recording", f"{p}: the recording ends {n_nan} bin(s) before the end of "
                                f"{sid} (trigger at sample {onset + 1}): NaN", file=str(p), stimulus=sid)
                    reps.append(y)
                row.append(np.stack(reps))
            w.write_row(s, row)
        w.set_file_meta({**file_meta, "provenance": {"quirks": log.records()}})
    return Path(out_path)
