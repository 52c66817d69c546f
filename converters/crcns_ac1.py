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

Conversion: one neuron per results folder (session).  Every trigger of a
natural-sound type becomes one repeat of its stimulus.  Types are compared
ignoring case, spaces and underscores (``naturalsound``, ``natural sound``,
``Natural_Sound`` and the release's typo ``nauralsound`` all match).  The
stimulus a trigger played is, as the release's own readers
(``SaveNaturalResponse.m`` / ``Save_natural_data.m``) and deepSTRF's
``_crcns_ac1_native.py`` read it:

* Wehr: the trigger's ``file`` (a path under ``Stimuli/``; Windows paths
  accepted); stimulus id ``wehr/<path>``.
* Asari: triggers carry no ``file``; their ``param.description``
  ``'Sequence N: i j k ...'`` lists the segments spliced, as 1-based indices
  into the recording's ``param.stimulus(i).file``; the stimulus is those
  segment files joined in that order, id ``asari/<file i>+<file j>+...``
  (metadata ``sequence``, ``segments``).  Deliberate difference: the 5 ms
  cos² ramps the rig applied at splice boundaries are not re-applied (their
  exact form is not in the files); the segments are joined as stored.

The response spans the trigger's ``param.duration`` (ms), not the whole
stimulus file: when the duration matches the sound (within 1 ms) the whole
sound is the stimulus; a shorter duration keeps the first ``duration`` ms
as a stimulus of its own (id ``<name>@<duration>ms``), a longer one
zero-pads it (``trigger_longer_than_stimulus`` quirk); a trigger without
``param.duration`` spans the whole sound (``trigger_without_duration``).
Each response bin is the mean of the trace samples in ``[t*dt, (t+1)*dt)``
(exact fractional edges), stored as a ``binned`` continuous float32 file in
mV; samples past the end of the recording are NaN (and logged).  The
stimulus is the filterbank spectrogram of its waveform.  Natural triggers
naming neither a file nor a sequence are skipped and counted
(``trigger_without_stimulus``); a sequence index outside
``param.stimulus`` is refused with the file and trigger.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

import numpy as np

from strfh5.arguments import positive_number
from strfh5.errors import ConverterError, MissingRawFileError, RawDataError
from .base import (Option, QuirkLog, ReleaseFile, SourceInfo, check_options, converter_meta, provenance,
                   raw_folder, validated_output)
from .matlab import as_float_vector, as_scalar, as_str, field, has_field, load_mat, struct_list
from strfh5.spectrogram import SpectrogramParams, spectrogram, transform_dict
from .audio import match_rate, params_from_options, resampled_transform, spectrogram_layout, spectrogram_options, waveform_kwargs

__all__ = ["SOURCE", "convert", "bin_trace", "read_trial", "read_stimulus", "trigger_type", "sequence_segments"]

NATURAL_TYPES = ("naturalsound", "nauralsound")
#: an Asari natural-sound trigger description: ``'Sequence 1: 2  1  3  1  4'``
SEQUENCE_RE = re.compile(r"^\s*Sequence\s*(?P<n>\d+)\s*:\s*(?P<items>\d+(?:\s+\d+)*)\s*$", re.IGNORECASE)
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
        Option("trigger_types", str, list(NATURAL_TYPES), "trigger types converted as stimuli (compared "
               "ignoring case, spaces and underscores: 'natural sound' = 'naturalsound')", multiple=True),
        Option("resample_hz", float, None, "resample every stimulus to this rate (needed when rates differ)"),
        Option("skip_missing_stimuli", bool, False,
               "skip triggers whose stimulus file is missing instead of failing"),
    ),
    schema="crcns-ac1",
    species="rat (Rattus norvegicus)",
    homepage="https://crcns.org/data-sets/ac/ac-1",
    verified="reference_reader",
    verification=("fixtures built to the release's own MATLAB readers (SaveNaturalResponse.m, Save_natural_data.m) "
                  "and deepSTRF's _crcns_ac1_native.py (Wehr one-trigger files, Asari 'Sequence N' triggers); "
                  "no file of this release was available"),
    version="2",
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
    """One trial file: ``{"trace" (mV), "sf", "triggers": [...], "site", "recording", "stimulus_files"}``.

    ``stimulus_files`` are the Asari recordings' ``param.stimulus(i).file``
    (empty for Wehr files), which ``Sequence N: ...`` triggers index.
    """
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
    out = {"trace": trace * scale, "sf": sf, "triggers": trigs, "site": None, "recording": None,
           "stimulus_files": []}
    prm = d.get("param")
    if prm is not None and has_field(prm, "stimulus"):
        for i, st in enumerate(struct_list(prm.stimulus, f"{p}: param.stimulus")):
            where = f"{p}: param.stimulus({i + 1})"
            out["stimulus_files"].append(as_str(field(st, "file", where), f"{where}.file").strip())
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


def trigger_type(text: str) -> str:
    """A trigger type compared case- and separator-insensitively: ``'Natural Sound'`` -> ``'naturalsound'``."""
    return re.sub(r"[\s_\-]+", "", text).lower()


def sequence_segments(description: str, stimulus_files: list[str], where: str) -> tuple[str, list[str]] | None:
    """``(label, segment files)`` of an Asari ``'Sequence N: i j k'`` trigger, None for other descriptions.

    The numbers index the recording's ``param.stimulus`` (1-based); an index
    outside it, or a sequence in a file without ``param.stimulus``, is
    refused (:class:`RawDataError` naming ``where``).
    """
    m = SEQUENCE_RE.match(description)
    if m is None:
        return None
    idx = [int(k) for k in m.group("items").split()]
    if not stimulus_files:
        raise RawDataError(f"{where}: {description.strip()!r} indexes param.stimulus, which the file lacks")
    bad = [k for k in idx if not 1 <= k <= len(stimulus_files)]
    if bad:
        raise RawDataError(f"{where}: {description.strip()!r} names stimulus {bad[0]}, but param.stimulus has "
                           f"{len(stimulus_files)} entries")
    return f"Sequence {int(m.group('n'))}", [_stim_rel(stimulus_files[k - 1]) for k in idx]


def _find(root: Path, name: str) -> Path | None:
    for cand in (root / name, root / "crcns-ac1" / name):
        if cand.is_dir():
            return cand
    return None


# ----------------------------------------------------------------- convert
def _sessions(raw: Path, datasets, log: QuirkLog) -> list[tuple[str, Path, Path]]:
    """``(dataset, session folder, Stimuli folder)`` of every session of the selected datasets."""
    sessions: list[tuple[str, Path, Path]] = []
    for ds in datasets:
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
    return sessions


def _trigger_stimulus(ds: str, trig: dict, t: dict, where: str) -> tuple[str, list[str], str | None] | None:
    """``(stimulus name, segment files under Stimuli/, sequence label)`` of a natural trigger, or None."""
    rel = _stim_rel(trig["file"])
    if rel:
        return f"{ds}/{rel}", [rel], None
    seq = sequence_segments(trig["description"], t["stimulus_files"], where)
    if seq is None:
        return None
    label, segments = seq
    return f"{ds}/{'+'.join(segments)}", segments, label


class _Stimuli:
    """The stimuli the triggers name: name + response length, their segment files, and which are missing."""

    def __init__(self, skip_missing: bool, log: QuirkLog):
        self.skip_missing, self.log = skip_missing, log
        self.items: dict[tuple[str, float | None], dict] = {}
        self.missing: set[str] = set()

    def add(self, name: str, segments: list[str], label, duration_ms, stim_dir: Path, where: str):
        """The key of the stimulus, or None when a segment file is missing (and skipping is allowed)."""
        paths = [stim_dir / rel for rel in segments]
        absent = [p for p in paths if not p.is_file()]
        if absent:
            if not self.skip_missing:
                raise MissingRawFileError(
                    f"{absent[0]}: stimulus file named by {where} is missing — pass skip_missing_stimuli=True "
                    "(--skip-missing-stimuli) to skip it"
                )
            if name not in self.missing:
                self.log.add("missing_stimulus", f"{absent[0]} is missing: triggers naming it are skipped",
                             stimulus=name)
                self.missing.add(name)
            return None
        key = (name, None if duration_ms is None else float(duration_ms))
        self.items.setdefault(key, {"name": name, "paths": paths, "sequence": label, "duration_ms": key[1]})
        return key


def _collect(sessions, opts, log: QuirkLog):
    """Cells (id, metadata, ``{stimulus key: [(trial file, onset)]}``) and the stimuli their triggers name."""
    types = {trigger_type(x) for x in opts["trigger_types"]}
    stims = _Stimuli(bool(opts["skip_missing_stimuli"]), log)
    cells, skipped, no_duration = [], 0, 0
    for ds, folder, stim_dir in sessions:
        cid = f"{ds}/{folder.name}"
        meta = {"cell_id": folder.name, "dataset": ds, "area": "A1", "recording": "whole-cell",
                "n_trials_files": 0}
        events: dict[tuple, list] = {}
        for p in sorted(folder.glob("*.mat")):
            t = read_trial(p)
            meta["n_trials_files"] += 1
            if t["site"] is not None:
                meta["area"] = "A1" if t["site"].lower() == "cortex" else "MGB"
                meta["site"] = t["site"]
            if t["recording"]:
                meta["recording"] = t["recording"]
            for i, trig in enumerate(t["triggers"]):
                if trigger_type(trig["type"]) not in types:
                    continue
                where = f"{p} ({trig['type']} trigger {i + 1} at sample {trig['time']})"
                named = _trigger_stimulus(ds, trig, t, where)
                if named is None:
                    skipped += 1
                    continue
                dur = trig["duration_ms"]
                if dur is not None and not (np.isfinite(dur) and dur > 0):
                    raise RawDataError(f"{where}: param.duration {dur} is not a positive length in ms")
                no_duration += dur is None
                key = stims.add(*named, dur, stim_dir, where)
                if key is not None:
                    events.setdefault(key, []).append((p, trig["time"] - 1))
        if not events:
            log.add("cell_without_data", f"{cid}: no natural-sound trigger with a stimulus file: left out", cell=cid)
            continue
        cells.append((cid, meta, events))
    if skipped:
        log.add("trigger_without_stimulus", f"{skipped} natural-sound trigger(s) name no stimulus file and no "
                "'Sequence N: ...' of param.stimulus: skipped", count=skipped)
    if no_duration:
        log.add("trigger_without_duration", f"{no_duration} natural-sound trigger(s) have no param.duration: "
                "their response spans the whole stimulus", count=no_duration)
    if not cells:
        raise RawDataError(f"sessions {sessions[0][1].parent}...: no cell has natural-sound responses with "
                           "stimulus files")
    return cells, stims.items


def _joined(item: dict) -> tuple[np.ndarray, float, str]:
    """The item's segment files joined: ``(x (1, n), sample rate, descriptions)``; one rate required."""
    parts = [read_stimulus(p) for p in item["paths"]]
    sr = parts[0][1]
    odd = [str(p) for p, (_, r, _) in zip(item["paths"], parts) if r != sr]
    if odd:
        raise RawDataError(f"{odd[0]}: sample rate differs from the {sr} Hz of {item['paths'][0]}, spliced in the "
                           f"same sequence ({item['name']})")
    return np.concatenate([w for w, _, _ in parts], axis=1), sr, " | ".join(d for _, _, d in parts if d)


def _plan(items: dict, used: list, log: QuirkLog) -> dict[str, dict]:
    """Stimulus id -> ``{"item", "keys", "n"}``: the samples each trigger duration keeps of its sound.

    A trigger whose ``param.duration`` matches its sound (within 1 ms) uses
    the whole sound, id = the sound's name; a shorter one keeps the first
    ``duration`` ms (id ``<name>@<duration>ms``); a longer one zero-pads
    (recorded).  Keys giving the same id are one stimulus.
    """
    plan: dict[str, dict] = {}
    for key in used:
        item = items[key]
        x, sr, _ = _joined(item)
        n_joined, dur = int(x.shape[1]), item["duration_ms"]
        del x
        n = n_joined if dur is None else int(round(dur * sr / 1000.0))
        if abs(n - n_joined) <= max(1.0, sr / 1000.0):
            sid, n = item["name"], n_joined
        else:
            sid = f"{item['name']}@{dur:g}ms"
            if n > n_joined:
                log.add("trigger_longer_than_stimulus", f"{item['name']}: param.duration {dur:g} ms exceeds the "
                        f"{n_joined / sr * 1000:g} ms of its stimulus: zero-padded", stimulus=item["name"],
                        duration_ms=dur)
        entry = plan.setdefault(sid, {"item": item, "keys": [], "n": n})
        entry["keys"].append(key)
    return plan


def _stimulus_wave(entry: dict) -> tuple[np.ndarray, float, str]:
    """The waveform of a plan entry: the joined segments cut or zero-padded to ``entry['n']`` samples."""
    x, sr, desc = _joined(entry["item"])
    n = entry["n"]
    x = x[:, :n] if n <= x.shape[1] else np.pad(x, ((0, 0), (0, n - x.shape[1])))
    return x, sr, desc


def _response_row(cells, keys, T: int, dt: float, cache: dict, log: QuirkLog, sid: str) -> list:
    row = []
    for _, _, events in cells:
        evs = [e for k in keys for e in events.get(k, ())]
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
    return row


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
    cells, items = _collect(_sessions(raw, opts["datasets"], log), opts, log)
    used = [k for k in sorted(items, key=lambda k: (k[0], k[1] or 0.0)) if any(k in c[2] for c in cells)]
    plan = _plan(items, used, log)
    order = sorted(plan)
    resample = opts["resample_hz"] is not None
    target = (positive_number(opts["resample_hz"], "crcns-ac1: option resample_hz", ConverterError) if resample
              else _stimulus_wave(plan[order[0]])[1])
    transform = resampled_transform(params, target) if resample else transform_dict(params, target)
    file_meta = SOURCE.file_meta(response_units="mV", converter=converter_meta(SOURCE, opts),
                                 preparation="anesthetized rats; in vivo whole-cell / cell-attached recordings")
    cache: dict[Path, dict] = {}
    with validated_output(out_path, encoding="binned", response_kind="continuous", neuron_ids=[c[0] for c in cells],
                          nrn_meta=[c[1] for c in cells], file_meta=file_meta, source=SOURCE.schema,
                          overwrite=overwrite, **spectrogram_layout(params, transform)) as w:
        for s, sid in enumerate(order):
            entry = plan[sid]
            item = entry["item"]
            x, sr, desc = _stimulus_wave(entry)
            n_orig = x.shape[-1]
            x = match_rate(x, sr, target, resample=resample, where=str(item["paths"][0]),
                           reference=order[0] if not resample else "resample_hz")
            S, _ = spectrogram(x, target, params)
            meta = {"name": sid, "type": "natural", "dataset": sid.split("/", 1)[0],
                    "file": item["name"].split("/", 1)[1], "description": desc, "sample_rate": float(sr),
                    "n_samples": int(n_orig), "duration_s": n_orig / sr}
            if item["sequence"] is not None:
                meta["sequence"] = item["sequence"]
                meta["segments"] = [str(PurePosixPath(*p.parts[-2:])) for p in item["paths"]]
            durations = sorted({k[1] for k in entry["keys"] if k[1] is not None})
            if durations:
                meta["trigger_duration_ms"] = durations
            w.add_stimulus(S, id=sid, meta=meta, **waveform_kwargs(x, target, opts["keep_waveform"]))
            w.write_row(s, _response_row(cells, entry["keys"], S.shape[-1], params.hop_ms, cache, log, sid))
        w.set_file_meta({**file_meta, "provenance": provenance(SOURCE, opts, log)})
    return Path(out_path)
