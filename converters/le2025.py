"""Le, Bjoring & Meliza (2025): zebra-finch auditory pallium, auditory restoration.

Release (figshare 10.6084/m9.figshare.29203457, one zip,
``zebf-auditory-restoration-1.zip``)::

    metadata/recordings.csv       site -> area, hemisphere, probe, stimulus set
    metadata/song-birds.csv       motif singers, critical intervals (ms)
    metadata/ephys-birds.csv      recorded birds: uuid, sex, age, cohort, group
    nat8a-alpha-responses/*.pprox cohort 1 (legacy pprox schema, times in ms)
    nat8a-beta-responses/*.pprox  cohort 2 (stimtrial schema, times in s)
    nat8a-stimuli/*.wav           40 kHz, stems <motif>_<condition>
    nat8b-responses/*.pprox       cohort 3 (stimtrial)
    nat8b-stimuli/*.wav           48 kHz, stems ep_<motif>_<variant>[_g<ci>][_snr<n>]
    synth8b-responses/*.pprox     cohort 3 (stimtrial)
    synth8b-stimuli/*.wav         44.1 kHz, same stem grammar

(the folders may sit inside a ``zebf-auditory-restoration-1/`` folder.)

Each unit's pprox file is parsed by :mod:`strfh5.converters.pprox`, whose
schema is detected from the file (not from the folder). The output is an
``events`` file: spike times in ms relative to stimulus onset, every repeat,
pre-onset and post-stimulus spikes kept. Stimuli are the wavs of the selected
subsets' stimulus sets, resampled to one rate (``audio_fs``) so that one
spectrogram transform describes them all; their variant (continuous, gap,
noise, gap+burst, ...), motif and critical interval are stimulus metadata.

A wav whose name is outside the stimulus grammar (:func:`parse_stim_stem`)
is skipped with a warning, as the authors' reader (auditory-restoration
``scripts/core.py``) does, and recorded (``unknown_wav_name`` quirk); the
trials naming it are dropped and counted (``trials_of_skipped_wav``).

Two passes over the pprox files keep memory bounded by one unit: the first
reads unit metadata and checks every trial's stimulus exists, the second
writes each unit's responses with :meth:`StreamWriter.write_pair`.
"""

from __future__ import annotations

import re
from pathlib import Path

from strfh5.arguments import positive_number
from strfh5.errors import ConverterError, MissingRawFileError, RawDataError
from .base import (Option, QuirkLog, ReleaseFile, SourceInfo, check_options, converter_meta, parse_number,
                   provenance, read_csv_dicts, validated_output)
from .base import find_root as _find_release_root
from .pprox import PPROX_SCHEMA, PproxUnit, read_pprox
from strfh5.spectrogram import SpectrogramParams, spectrogram
from .audio import params_from_options, read_wav, resample_audio, resampled_transform, spectrogram_layout, spectrogram_options, waveform_kwargs

__all__ = ["parse_site_name", "parse_unit_name", "SOURCE", "SUBSETS", "convert", "parse_stim_stem", "find_root"]

#: subset -> (responses folder, stimulus set, cohort)
SUBSETS = {
    "nat8a-alpha": ("nat8a-alpha-responses", "nat8a", 1),
    "nat8a-beta": ("nat8a-beta-responses", "nat8a", 2),
    "nat8b": ("nat8b-responses", "nat8b", 3),
    "synth8b": ("synth8b-responses", "synth8b", 3),
}
#: variant code -> description
VARIANTS = {
    "C": "continuous",
    "G": "gap",
    "N": "noise",
    "GB": "gap + noise burst",
    "CB": "continuous + noise burst",
    "GM": "gap, whole motif masked",
    "CM": "continuous, whole motif masked",
}
# nat8a condition (wav stem suffix, legacy 'condition') -> (variant, critical interval)
_NAT8A_CONDITIONS = {
    "continuous": ("C", None),
    "gap1": ("G", 1), "gap2": ("G", 2),
    "noise1": ("N", 1), "noise2": ("N", 2),
    "gapnoise1": ("GB", 1), "gapnoise2": ("GB", 2),
    "continuousnoise1": ("CB", 1), "continuousnoise2": ("CB", 2),
}
_EP_STEM = re.compile(
    r"^ep_(?P<motif>[^_]+)_(?P<variant>C|G|N|GB|CB|GM|CM)(?:_g(?P<ci>[A-Za-z0-9]+))?(?:_snr(?P<snr>-?\d+(?:\.\d+)?))?$"
)
_NAT8A_STEM = re.compile(r"^(?P<motif>[^_]+)_(?P<condition>[a-z0-9]+)$")
_TOP = "zebf-auditory-restoration-1"
_BIRD = r"(?P<bird>[A-Za-z]+\d+[a-z]?)"
#: a recording site: ``<bird>_<penetration>_<site>`` (``C43_1_1``, ``C54a_4_3``)
SITE_RE = re.compile(rf"^{_BIRD}_(?P<penetration>\d+)_(?P<site>\d+)$")
#: a unit: ``<site>_c<cluster>`` (stimtrial schema) or, in the legacy nat8a-alpha cohort,
#: ``<bird>_p<penetration>r<recording>_ch<channel>_c<cluster>`` (``O129_p2r3_ch4_c33``)
UNIT_RE = re.compile(rf"^{_BIRD}_(?P<penetration>\d+)_(?P<site>\d+)_c(?P<cluster>\d+)$")
LEGACY_UNIT_RE = re.compile(rf"^{_BIRD}_p(?P<penetration>\d+)r(?P<recording>\d+)_ch(?P<channel>\d+)_c(?P<cluster>\d+)$")

_SPEC_DEFAULTS = SpectrogramParams(kind="mel", n_bands=50, f_min=1000.0, f_max=8000.0, window_ms=10.0)

SOURCE = SourceInfo(
    id="le2025",
    title="Le, Bjoring & Meliza 2025: zebra finch auditory pallium responses to occluded song (auditory restoration)",
    citation=(
        "Le MN, Bjoring MC, Meliza CD (2025). The zebra finch auditory cortex reconstructs occluded syllables "
        "in conspecific song. Nature Communications. doi:10.1038/s41467-025-63182-y. "
        "Data: figshare doi:10.6084/m9.figshare.29203457"
    ),
    doi="10.6084/m9.figshare.29203457",
    license="CC BY 4.0 (figshare)",
    access="open",
    files=(
        # figshare publishes an MD5 on the landing page only; unknown here, so fetch warns and prints the sha256
        ReleaseFile("zebf-auditory-restoration-1.zip", "https://figshare.com/ndownloader/files/55083911", unpack="zip"),
    ),
    options=(
        Option("subsets", str, tuple(SUBSETS), "subsets to convert (nat8a-alpha, nat8a-beta, nat8b, synth8b)",
               choices=tuple(SUBSETS), multiple=True),
        Option("audio_fs", float, 40000.0, "sample rate (Hz) every stimulus is resampled to before its spectrogram"),
        Option("unknown_stimuli", str, "error",
               "trials naming a stimulus with no wav: 'error' refuses the unit, 'skip' drops those trials "
               "(counted in the file metadata)", choices=("error", "skip")),
        *spectrogram_options(_SPEC_DEFAULTS, dt_ms=1.0),
    ),
    schema="le2025",
    species="zebra finch (Taeniopygia guttata)",
    homepage="https://github.com/melizalab/auditory-restoration",
    verified="real_sample",
    verification=("the authors' stimulus lists, per-motif gap tables and unit/recording lists parse in tests "
                  "(every name); the pprox files and wavs are fixtures in both pprox schemas"),
    version="2",
)


# ------------------------------------------------------------------ parsing
def find_root(raw_dir) -> Path:
    """The folder holding ``metadata/`` (``raw_dir`` or its ``zebf-auditory-restoration-1/``)."""
    return _find_release_root(raw_dir, "metadata", f"{_TOP}.zip (figshare 10.6084/m9.figshare.29203457)")


def parse_stim_stem(stem: str, stimset: str) -> dict:
    """Stimulus metadata from a wav stem of ``stimset`` (nat8a, nat8b, synth8b)."""
    if stimset == "nat8a":
        m = _NAT8A_STEM.match(stem)
        cond = m.group("condition") if m else None
        if m is None or cond not in _NAT8A_CONDITIONS:
            raise RawDataError(
                f"nat8a-stimuli/{stem}.wav: expected a stem <motif>_<condition> with condition one of "
                f"{sorted(_NAT8A_CONDITIONS)}"
            )
        variant, ci = _NAT8A_CONDITIONS[cond]
        return {"motif": m.group("motif"), "variant": variant, "condition": cond, "critical_interval": ci}
    m = _EP_STEM.match(stem)
    if m is None:
        raise RawDataError(
            f"{stimset}-stimuli/{stem}.wav: expected a stem ep_<motif>_<C|G|N|GB|CB|GM|CM>[_g<ci>][_snr<n>]"
        )
    ci = m.group("ci")
    out = {"motif": m.group("motif"), "variant": m.group("variant"), "condition": None,
           "critical_interval": (int(ci) if ci and ci.isdigit() else ci)}
    if m.group("snr") is not None:
        snr = float(m.group("snr"))
        out["snr_db"] = int(snr) if snr.is_integer() else snr
    return out


def parse_site_name(name: str) -> dict:
    """``'C43_1_1'`` -> ``{'bird': 'C43', 'penetration': 1, 'site': 1}``; :class:`RawDataError` otherwise."""
    m = SITE_RE.match(name)
    if m is None:
        raise RawDataError(f"recording site {name!r} is not <bird>_<penetration>_<site> (like 'C43_1_1')")
    return {"bird": m["bird"], "penetration": int(m["penetration"]), "site": int(m["site"])}


def parse_unit_name(stem: str) -> dict:
    """Bird, penetration, site/recording, channel and cluster of a unit file stem.

    ``'C43_1_1_c3'`` -> ``{'bird': 'C43', 'penetration': 1, 'site': 1, 'cluster': 3}``;
    ``'O129_p2r3_ch4_c33'`` -> ``{'bird': 'O129', 'penetration': 2, 'recording': 3, 'channel': 4,
    'cluster': 33}``.  :class:`RawDataError` for any other name.
    """
    m = UNIT_RE.match(stem) or LEGACY_UNIT_RE.match(stem)
    if m is None:
        raise RawDataError(f"unit {stem!r} is neither <bird>_<penetration>_<site>_c<cluster> nor "
                           "<bird>_p<penetration>r<recording>_ch<channel>_c<cluster>")
    return {k: (v if k == "bird" else int(v)) for k, v in m.groupdict().items()}


def _age_days(text) -> int | None:
    """Age in days from ``'1y20d'``, ``'200d'``, ``'2y'`` or a bare whole number; None for other forms."""
    if not text:
        return None
    t = str(text).strip()
    m = re.fullmatch(r"(?:([0-9]+)y)?(?:([0-9]+)d)?", t)
    if m is None or not (m.group(1) or m.group(2)):
        return int(t) if re.fullmatch(r"[0-9]+", t) else None
    return int(m.group(1) or 0) * 365 + int(m.group(2) or 0)


def _tables(root: Path) -> dict:
    meta = root / "metadata"
    birds = {r["bird"]: r for r in read_csv_dicts(meta / "ephys-birds.csv", "metadata table ephys-birds.csv") if r.get("bird")}
    sites = {r["site"]: r for r in read_csv_dicts(meta / "recordings.csv", "metadata table recordings.csv") if r.get("site")}
    motifs: dict[str, dict] = {}
    groups: dict[str, set] = {}
    for r in read_csv_dicts(meta / "song-birds.csv", "metadata table song-birds.csv"):
        bird = r.get("bird")
        if not bird:
            continue
        enc = r.get("nat8b_encoding") or r.get("nat8b_coding")
        for key in (bird, enc):
            if not key:
                continue
            entry = motifs.setdefault(key, {"cis": {}, "singer": bird})
            if (r.get("gap") or "").strip():  # strict: a row with a gap must give its start and stop (ms)
                where = f"{meta / 'song-birds.csv'} row for {bird} gap {r['gap']}"
                entry["cis"][parse_number(r["gap"], f"{where}, gap", integer=True)] = (
                    parse_number(r.get("gap_start") or "", f"{where}, gap_start"),
                    parse_number(r.get("gap_stop") or "", f"{where}, gap_stop"))
            if r.get("uuid"):
                entry["singer_uuid"] = r["uuid"]
        if r.get("group"):
            groups.setdefault(r["group"], set()).add(bird)
    return {"birds": birds, "sites": sites, "motifs": motifs, "groups": {g: sorted(b) for g, b in groups.items()}}


def _list_stimuli(root: Path, stimset: str) -> list[Path]:
    folder = root / f"{stimset}-stimuli"
    if not folder.is_dir():
        raise MissingRawFileError(f"{folder}: stimulus folder is missing from the release")
    wavs = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".wav" and p.is_file())
    if not wavs:
        raise RawDataError(f"{folder}: no .wav stimuli")
    return wavs


def _list_units(root: Path, subset: str) -> list[Path]:
    folder = root / SUBSETS[subset][0]
    if not folder.is_dir():
        raise MissingRawFileError(f"{folder}: response folder of subset {subset!r} is missing from the release")
    units = sorted(p for p in folder.iterdir() if p.suffix == ".pprox" and p.is_file())
    if not units:
        raise RawDataError(f"{folder}: no .pprox unit files")
    return units


def _trial_stim_name(unit: PproxUnit, trial) -> str:
    """The wav stem a trial refers to (legacy: <stimulus>_<condition>)."""
    if unit.schema == PPROX_SCHEMA and trial.condition:
        return f"{trial.stimulus}_{trial.condition}"
    name = trial.stimulus
    return name[:-4] if name.lower().endswith(".wav") else name


def _neuron_meta(unit: PproxUnit, path: Path, subset: str, tables: dict) -> dict:
    stem = path.stem
    parts = stem.split("_")
    um = unit.meta
    legacy = unit.schema == PPROX_SCHEMA
    bird = parts[0]
    if legacy and isinstance(um.get("bird"), str) and um["bird"]:
        bird = um["bird"]
    site_key = "_".join(parts[:3]) if len(parts) >= 3 else None
    site = tables["sites"].get(site_key, {}) if site_key else {}
    binfo = tables["birds"].get(bird, {})
    meta = {
        "cell_id": stem,
        "subset": subset,
        "cohort": SUBSETS[subset][2],
        "stimulus_set": SUBSETS[subset][1],
        "animal": bird,
        "pprox_file": f"{SUBSETS[subset][0]}/{path.name}",
        "pprox_schema": unit.schema,
        "recording_type": "single unit",
    }
    if site_key and not legacy:
        meta["site"] = site_key
    uuid = um.get("bird-uuid") if legacy else um.get("bird")
    uuid = uuid or binfo.get("uuid")
    if isinstance(uuid, str) and uuid:
        meta["animal_uuid"] = uuid
    area = um.get("location") if legacy else None
    area = area or site.get("area")
    meta["area"] = area if isinstance(area, str) and area and area != "N/A" else "unknown"
    hemi = um.get("hemisphere") if legacy else None
    hemi = hemi or site.get("hemisphere")
    if isinstance(hemi, str) and hemi:
        meta["hemisphere"] = hemi
    sex = binfo.get("sex") or (um.get("bird-sex") if legacy else None)
    if isinstance(sex, str) and sex:
        meta["sex"] = sex
    age_text = binfo.get("age") or (um.get("bird-age") if legacy else None)
    age = _age_days(age_text)
    if age is not None:
        meta["age_days"] = age
    elif isinstance(age_text, str) and age_text.strip():
        meta["age"] = age_text.strip()  # a form _age_days does not read: kept as released, never dropped
    if legacy and isinstance(um.get("familiar"), str) and um["familiar"]:
        meta["familiar_group"] = um["familiar"]
        meta["familiar_motifs"] = tables["groups"].get(um["familiar"], [])
    for k in ("unit", "probe"):
        v = site.get(k) if k == "probe" else um.get(k)
        if isinstance(v, str) and v:
            meta[k] = v
    return meta


# ------------------------------------------------------------------ convert
def _stimulus_entries(root: Path, stimsets: list[str], log: QuirkLog) -> tuple[list, set]:
    """``[(stimset, stem, wav, parsed name)]`` and the ``(stimset, stem)`` of wavs skipped for their name.

    A wav whose name is outside the stimulus grammar is warned about and
    skipped, as the authors' reader does (``unknown_wav_name`` quirk).
    """
    entries, unparsed = [], set()
    for ss in stimsets:
        for wav in _list_stimuli(root, ss):
            try:
                info = parse_stim_stem(wav.stem, ss)
            except RawDataError as e:
                log.add("unknown_wav_name", f"{e}: skipped (trials naming it are dropped)",
                        wav=f"{ss}-stimuli/{wav.name}")
                unparsed.add((ss, wav.stem))
                continue
            entries.append((ss, wav.stem, wav, info))
    if not entries:
        raise RawDataError(f"{root}: no stimulus wav of {', '.join(stimsets)} has a name of the stimulus grammar")
    return entries, unparsed


def _stim_meta(ss: str, stem: str, wav: Path, info: dict, sr: float, n: int, tables: dict) -> dict:
    """The metadata of one stimulus: its name's parts, its set, rate and length, the motif's gap times."""
    meta = {
        "name": stem,
        "type": info["variant"],
        "variant": info["variant"],
        "variant_description": VARIANTS[info["variant"]],
        "motif": info["motif"],
        "critical_interval": info["critical_interval"],
        "stimulus_set": ss,
        "syntax": "scrambled" if ss == "synth8b" else "natural",
        "sample_rate": sr,
        "n_samples": n,
        "duration_s": float(n / sr),
        "wav_file": f"{ss}-stimuli/{wav.name}",
    }
    if info.get("condition"):
        meta["condition"] = info["condition"]
    if "snr_db" in info:
        meta["snr_db"] = info["snr_db"]
    ci = info["critical_interval"]
    mot = tables["motifs"].get(info["motif"])
    if mot is not None:
        meta["singer"] = mot["singer"]
        if isinstance(ci, int) and ci in mot["cis"]:
            a, b = mot["cis"][ci]
            meta["ci_onset_s"] = a / 1000.0
            meta["ci_offset_s"] = b / 1000.0
    return meta


def convert(raw_dir, out_path, *, overwrite: bool = False, **options) -> Path:
    """Convert the unpacked Le 2025 release in ``raw_dir`` to ``out_path`` (``events``).

    Options are those of :data:`SOURCE` (``subsets``, ``audio_fs``,
    ``unknown_stimuli``, ``dt_ms`` and the spectrogram options,
    ``keep_waveform``); ``overwrite=True`` replaces an existing output.
    """
    opts = check_options(SOURCE, options)
    subsets = opts["subsets"] or []
    if not subsets:
        raise ConverterError("le2025: option subsets is empty; choose among " + ", ".join(SUBSETS))
    subsets = [s for s in SUBSETS if s in subsets]  # canonical order
    audio_fs = positive_number(opts["audio_fs"], "le2025: option audio_fs", ConverterError)
    params = params_from_options(opts)
    params.resolved_f_max(audio_fs)  # refuse an f_max above audio_fs / 2 before any work
    root = find_root(raw_dir)
    tables = _tables(root)

    # stimuli of the selected subsets
    stimsets = []
    for sub in subsets:
        if SUBSETS[sub][1] not in stimsets:
            stimsets.append(SUBSETS[sub][1])
    log = QuirkLog(SOURCE.id)
    stim_entries, unparsed = _stimulus_entries(root, stimsets, log)
    stim_index = {(ss, stem): i for i, (ss, stem, _, _) in enumerate(stim_entries)}

    # pass 1: units, their metadata, and the stimuli they name
    unit_paths, neuron_ids, nrn_meta = [], [], []
    for sub in subsets:
        ss = SUBSETS[sub][1]
        for path in _list_units(root, sub):
            unit = read_pprox(path)
            if not unit.trials:
                raise RawDataError(f"{path}: unit has no trials")
            if opts["unknown_stimuli"] == "error":
                for t in unit.trials:
                    name = _trial_stim_name(unit, t)
                    if (ss, name) not in stim_index and (ss, name) not in unparsed:
                        raise RawDataError(
                            f"{path}: trial names stimulus {name!r}, which has no wav in {ss}-stimuli/ "
                            "(pass unknown_stimuli='skip' to drop such trials)"
                        )
            unit_paths.append((sub, path))
            neuron_ids.append(f"{sub}/{path.stem}")
            nrn_meta.append(_neuron_meta(unit, path, sub, tables))

    file_meta = SOURCE.file_meta(
        preparation="urethane-anesthetized adult zebra finches, extracellular single units",
        response_units="ms",
        subsets=subsets,
        converter=converter_meta(SOURCE, dict(opts, subsets=subsets)),
        variants=VARIANTS,
    )
    skipped: dict[str, int] = {}
    with validated_output(
        out_path, overwrite=overwrite, encoding="events", neuron_ids=neuron_ids, nrn_meta=nrn_meta,
        file_meta=file_meta, source=SOURCE.id,
        **spectrogram_layout(params, resampled_transform(params, audio_fs)),
    ) as w:
        for ss, stem, wav, info in stim_entries:
            x, sr = read_wav(wav)
            x = x.mean(axis=0, keepdims=True) if x.shape[0] > 1 else x
            xr = resample_audio(x, sr, audio_fs, str(wav))
            S, _ = spectrogram(xr, audio_fs, params)
            meta = _stim_meta(ss, stem, wav, info, sr, int(x.shape[-1]), tables)
            w.add_stimulus(S, id=f"{ss}/{stem}", meta=meta, **waveform_kwargs(xr, audio_fs, opts["keep_waveform"]))

        # pass 2: responses, one unit at a time
        for n, (sub, path) in enumerate(unit_paths):
            ss = SUBSETS[sub][1]
            unit = read_pprox(path)
            groups = unit.by_stimulus(lambda t, u=unit: _trial_stim_name(u, t))
            for name, trials in groups.items():
                s = stim_index.get((ss, name))
                if s is None:
                    key = "unparsed" if (ss, name) in unparsed else "unknown"
                    skipped[(key, name)] = skipped.get((key, name), 0) + len(trials)
                    continue
                w.write_pair(s, n, [t.times_ms for t in trials])
        for (key, name), k in sorted(skipped.items()):
            if key == "unparsed":
                log.add("trials_of_skipped_wav", f"{k} trial(s) name stimulus {name!r}, whose wav was skipped "
                        "(name outside the stimulus grammar): dropped", stimulus=name, n_trials=k)
            else:
                log.add("unknown_stimulus", f"{k} trial(s) name stimulus {name!r}, which has no wav: dropped",
                        stimulus=name, n_trials=k)
        w.set_file_meta({**file_meta, "provenance": provenance(SOURCE, dict(opts, subsets=subsets), log)})
    return Path(out_path)
