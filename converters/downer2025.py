"""Downer 2025 / Ahmed 2025: squirrel-monkey auditory cortex, TIMIT speech and monkey vocalisations.

Release (Zenodo 16175377, ``auditory_cortex_data.zip``, ~29 GB)::

    auditory_cortex_data/
        sessions_metadata.yml       animals/hemispheres, areas, coordinates, bad sessions, repeats
        sessions/<session>/<animal>_<session>_Ch<N>[p|s2|ps2]_MUspk.mat
        stimuli/out_sentence_details_timit_all_loudness.mat   sentdet: TIMIT sentences
        stimuli/SqMoPhys_MVOCStimcodes.mat                    mVocsStimCodes / mVocsStimOnTimes
        stimuli/MonkVocs_15Blocks.wav                         all vocalisations, concatenated

Each ``*_MUspk.mat`` (MATLAB v5) is one channel's threshold crossings (a
multi-unit, one "neuron" here): ``spike.spktimes`` in seconds on the session
clock and the session's ``trial`` table (``stimon``: onset of each trial's
sound — for TIMIT the speech onset, after the 0.5 s silence that pads every
``sentdet.sound``; ``timitStimcode`` / ``mVocStimcode``: the stimulus of each
trial, 0 (or NaN) for trials of the other class).

Conversion
----------
* Stimuli: the TIMIT sentences (``sentdet``, silence pads removed so that time
  0 is the speech onset, as ``stimon`` is) and the monkey vocalisations (cut
  from channel 0 of the stereo ``MonkVocs_15Blocks.wav`` at their first
  onset, each lasting the shortest interval between its onsets and the next
  ones), ids ``timit-<sentId>`` and
  ``mvoc-<code>``, ``type`` ``timit`` / ``mvoc``. All are resampled to
  ``audio_fs`` (default 16 kHz, TIMIT's rate) before the spectrogram, so one
  transform describes them all. ``subset`` is ``test`` for the repeated test
  stimuli (TIMIT: played ``stim_wise_num_repeats.timit`` times in a session;
  vocalisations: occurring ``stim_wise_num_repeats.mVocs`` times in the
  vocalisation sequence), ``est`` otherwise.
* Responses (``events``): for every trial, the channel's spikes from
  ``pre_ms`` before onset to ``post_ms`` after the stimulus' end, in ms from
  onset. Pre-onset spikes are kept.
* Vocalisation onsets, as the authors' code (bilalhsp/Auditory_Cortex
  ``ucsf_metadata.py``) finds them: the wav is stereo, channel 0 the audio,
  channel 1 onset pulses; an onset is a pulse's rising edge (zero to
  non-zero); the first presentation carries three pulses (the 2nd and 3rd
  dropped, recorded).  The pulse count must equal the number of
  ``mVocsStimCodes``; ``mVocsStimOnTimes`` is only compared (largest
  difference in ``mvoc_onsets``).  A mono wav falls back on
  ``mVocsStimOnTimes`` (recorded).  Deliberate difference: the authors cut
  every presentation up to the next pulse and clip its trailing silence;
  here one stimulus per code lasts the *shortest* interval between its
  onsets and the next, so every repeat shares one stimulus array and no
  repeat's window holds the next vocalisation.
* The sessions metadata is ``sessions_metadata.yml`` (the authors' code) or
  ``session_metadata.yml`` (the README's name); either is accepted.
* Bad sessions (``bad_sessions`` in the YAML) are converted and flagged in the
  neuron metadata (``bad_session``); they are left out only with
  ``exclude_bad_sessions=True``.
* Memory: neurons are known up front from the file listing; responses are
  written channel file by channel file with :meth:`StreamWriter.write_pair`,
  so peak memory is one channel file (plus the stimulus tables), whatever the
  number of sessions.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import numpy as np

from strfh5.errors import ConverterError, MissingRawFileError, RawDataError
from strfh5.optional import require
from strfh5.arguments import positive_number
from .base import (Option, QuirkLog, ReleaseFile, SourceInfo, check_options, converter_meta, provenance,
                   validated_output)
from .base import find_root as _find_release_root
from .matlab import as_float_vector, as_int_vector, as_scalar, as_str, field, has_field, load_mat, struct_list
from strfh5.spectrogram import SpectrogramParams, spectrogram
from .audio import params_from_options, resample_audio, resampled_transform, spectrogram_layout, spectrogram_options, waveform_kwargs

__all__ = ["SOURCE", "convert", "parse_channel_file", "read_sessions_metadata", "metadata_file", "list_neurons",
           "find_root", "pulse_onsets"]

_TOP = "auditory_cortex_data"
TIMIT_MAT = "stimuli/out_sentence_details_timit_all_loudness.mat"
MVOC_MAT = "stimuli/SqMoPhys_MVOCStimcodes.mat"
MVOC_WAV = "stimuli/MonkVocs_15Blocks.wav"
YAML = "sessions_metadata.yml"
#: the name the release's README gives the same file
YAML_README = "session_metadata.yml"
_CHANNEL = re.compile(r"^(?P<animal>[A-Za-z]+)_(?P<session>[0-9A-Za-z]+)_Ch(?P<ch>\d+)(?P<suffix>[A-Za-z][A-Za-z0-9]*)?_MUspk\.mat$")
_HEMI_KEY = re.compile(r"^(?P<animal>[A-Za-z]+)_(?P<hemi>LH|RH)_sessions$")

# Fine cortical field of each session: given in the release only as comments of
# sessions_metadata.yml (under area_wise_sessions), which a YAML parser drops.
_FINE_AREAS = {
    "A1": "180627 180719 180810 180814 180720 180731 190604 190606 190726 190801 191209 200313 191113 191125 "
          "191206 200206 200207 180808",
    "R": "180807 200213 180501",
    "CL": "191219",
    "ML": "180613 190703 200219 191115 200205",
    "AL": "180622 191211 180413 180420",
    "CPB": "180724 200318 191121",
    "RPB": "180502 180728 190605 191210 180717 180730 200212",
}
FINE_AREA = {sid: area for area, sids in _FINE_AREAS.items() for sid in sids.split()}

_SPEC_DEFAULTS = SpectrogramParams(kind="mel", n_bands=32, f_min=100.0, f_max=8000.0, window_ms=25.0)

SOURCE = SourceInfo(
    id="downer2025",
    title="Downer 2025 / Ahmed 2025: squirrel monkey auditory cortex multi-units, TIMIT speech and monkey vocalisations",
    citation=(
        "Ahmed B, Downer JD, Malone BJ, Makin JG (2025). Deep neural networks explain spiking activity in auditory "
        "cortex. PLoS Computational Biology 21(8):e1013334. doi:10.1371/journal.pcbi.1013334. "
        "Data: Zenodo doi:10.5281/zenodo.16175377"
    ),
    doi="10.5281/zenodo.16175377",
    license="CC BY 4.0",
    access="open",
    files=(
        # hash unknown here (fetch warns and prints the sha256 to pin)
        ReleaseFile("auditory_cortex_data.zip",
                    "https://zenodo.org/records/16175377/files/auditory_cortex_data.zip?download=1", unpack="zip"),
    ),
    options=(
        Option("stimuli", str, ("timit", "mvocs"), "stimulus classes to convert", choices=("timit", "mvocs"),
               multiple=True),
        Option("sessions", str, None, "only these session ids (default: all)", multiple=True),
        Option("exclude_bad_sessions", bool, False, "leave out the sessions listed under bad_sessions"),
        Option("pre_ms", float, 500.0, "spikes kept before each stimulus onset, ms"),
        Option("post_ms", float, 500.0, "spikes kept after each stimulus end, ms"),
        Option("audio_fs", float, 16000.0, "sample rate (Hz) every stimulus is resampled to before its spectrogram"),
        *spectrogram_options(_SPEC_DEFAULTS, dt_ms=5.0),
    ),
    schema="downer2025",
    species="squirrel monkey (Saimiri sciureus)",
    homepage="https://doi.org/10.1371/journal.pcbi.1013334",
    verified="reference_reader",
    verification=("fixtures built to the authors' reader (bilalhsp/Auditory_Cortex ucsf_metadata.py: stereo "
                  "wav with onset pulses, sentdet pads, stimulus codes); no file of this release was available"),
    version="2",
)


# ------------------------------------------------------------------ release layout
def find_root(raw_dir) -> Path:
    """The release folder holding ``sessions/`` (``raw_dir`` or its ``auditory_cortex_data/``)."""
    return _find_release_root(raw_dir, "sessions", f"{_TOP}.zip (Zenodo record 16175377)")


def parse_channel_file(name: str) -> dict | None:
    """``<animal>_<session>_Ch<N>[suffix]_MUspk.mat`` → its parts; None for other files."""
    if not name.endswith("_MUspk.mat"):
        return None
    m = _CHANNEL.match(name)
    if m is None:
        raise RawDataError(f"{name}: expected a channel file named <animal>_<session>_Ch<N>[suffix]_MUspk.mat")
    return {"animal": m.group("animal"), "session": m.group("session"), "channel": int(m.group("ch")),
            "suffix": m.group("suffix") or ""}


def metadata_file(root: Path, log) -> Path:
    """The sessions metadata YAML: ``sessions_metadata.yml`` (the authors' code) or ``session_metadata.yml``
    (the README's name).  Both present: the first is read and the quirk recorded."""
    names = [n for n in (YAML, YAML_README) if (root / n).is_file()]
    if not names:
        raise MissingRawFileError(f"{root / YAML}: sessions metadata is missing from the release (also looked for "
                                  f"{YAML_README}, the README's name)")
    if names == [YAML_README]:
        log.add("metadata_file_name", f"the sessions metadata is named {YAML_README} (the README's name); read",
                file=YAML_README)
    elif len(names) == 2:
        log.add("metadata_file_name", f"both {YAML} and {YAML_README} are present; {YAML} is read", file=YAML)
    return root / names[0]


def read_sessions_metadata(path: Path) -> dict:
    """Parse ``sessions_metadata.yml`` (needs PyYAML)."""
    if not path.is_file():
        raise MissingRawFileError(f"{path}: sessions metadata is missing from the release")
    yaml = require("yaml", extra="convert", purpose="reading downer2025's sessions_metadata.yml")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise RawDataError(f"{path}: not valid YAML ({e})") from None
    if not isinstance(doc, dict):
        raise RawDataError(f"{path}: expected a YAML mapping at the top level")
    out = {"animal": {}, "hemisphere": {}, "area_group": {}, "coord": {}, "bad": set(), "repeats": {}}
    for key, sids in doc.items():
        m = _HEMI_KEY.match(str(key))
        if m is None:
            continue
        if not isinstance(sids, list):
            raise RawDataError(f"{path}: {key} must be a list of session ids")
        for sid in sids:
            out["animal"][str(sid)] = m.group("animal")
            out["hemisphere"][str(sid)] = m.group("hemi")
    areas = doc.get("area_wise_sessions") or {}
    if not isinstance(areas, dict):
        raise RawDataError(f"{path}: area_wise_sessions must map an area group to session ids")
    for grp, sids in areas.items():
        if sids is not None and not isinstance(sids, list):
            raise RawDataError(f"{path}: area_wise_sessions.{grp} must be a list of session ids")
        for sid in sids or []:
            out["area_group"][str(sid)] = str(grp)
    coords = doc.get("session_coordinates") or {}
    if not isinstance(coords, dict):
        raise RawDataError(f"{path}: session_coordinates must map session ids to [x, y]")
    for sid, xy in coords.items():
        if not (isinstance(xy, (list, tuple)) and len(xy) == 2
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in xy)):
            raise RawDataError(f"{path}: session_coordinates.{sid} must be [x, y] numbers, got {xy!r}")
        out["coord"][str(sid)] = [float(v) for v in xy]
    out["bad"] = {str(s) for s in (doc.get("bad_sessions") or [])}
    reps = doc.get("stim_wise_num_repeats") or {}
    if not isinstance(reps, dict):
        raise RawDataError(f"{path}: stim_wise_num_repeats must map timit/mVocs to a repeat count")
    for k, v in reps.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise RawDataError(f"{path}: stim_wise_num_repeats.{k} must be a positive whole number, got {v!r}")
        out["repeats"][str(k).lower()] = v
    return out


def list_neurons(root: Path, meta: dict, sessions=None, exclude_bad: bool = False) -> list[dict]:
    """One record per channel file of the selected sessions (file listing only, nothing is read)."""
    sess_root = root / "sessions"
    wanted = None if sessions is None else {str(s) for s in sessions}
    found = sorted(p.name for p in sess_root.iterdir() if p.is_dir())
    if wanted is not None:
        missing = sorted(wanted - set(found))
        if missing:
            raise MissingRawFileError(f"{sess_root}: session folder(s) {', '.join(missing)} not found")
    out = []
    for sid in found:
        if wanted is not None and sid not in wanted:
            continue
        if exclude_bad and sid in meta["bad"]:
            continue
        chans = []
        for f in sorted(os.listdir(sess_root / sid)):
            info = parse_channel_file(f)
            if info is None:
                continue
            if info["session"] != sid:
                raise RawDataError(f"{sess_root / sid / f}: channel file of session {info['session']} in folder {sid}")
            info["path"] = sess_root / sid / f
            chans.append(info)
        chans.sort(key=lambda c: (c["channel"], c["suffix"]))
        for c in chans:
            out.append(c)
    if not out:
        raise RawDataError(f"{sess_root}: no *_MUspk.mat channel files in the selected sessions")
    return out


def _neuron_meta(c: dict, meta: dict) -> dict:
    sid = c["session"]
    grp = meta["area_group"].get(sid)
    fine = FINE_AREA.get(sid)
    m = {
        "cell_id": f"{c['animal']}_{sid}_Ch{c['channel']}{c['suffix']}",
        "session": sid,
        "animal": c["animal"],
        "channel": c["channel"],
        "channel_suffix": c["suffix"] or None,
        "area": fine or grp or "unknown",
        "area_group": grp,
        "bad_session": sid in meta["bad"],
        "recording_type": "multi-unit (threshold crossings)",
        "channel_file": f"sessions/{sid}/{c['path'].name}",
    }
    if sid in meta["hemisphere"]:
        m["hemisphere"] = meta["hemisphere"][sid]
    if sid in meta["coord"]:
        m["coordinates"] = meta["coord"][sid]
    return m


# ------------------------------------------------------------------ stimuli
def _timit_entries(root: Path) -> list[dict]:
    path = root / TIMIT_MAT
    sentdet = struct_list(load_mat(path, ["sentdet"])["sentdet"], f"{path}: sentdet")
    out, seen = [], set()
    for i, s in enumerate(sentdet):
        where = f"{path}: sentdet[{i}]"
        sid = int(as_scalar(field(s, "sentId", where), f"{where}.sentId"))
        if sid in seen:
            raise RawDataError(f"{where}: sentId {sid} appears twice")
        seen.add(sid)
        fs = as_scalar(field(s, "soundf", where), f"{where}.soundf")
        sound = as_float_vector(field(s, "sound", where), f"{where}.sound")
        pads = (0.5, 0.5)
        if has_field(s, "befaft"):
            ba = as_float_vector(field(s, "befaft", where), f"{where}.befaft")
            if ba.size >= 2:
                pads = (float(ba[0]), float(ba[1]))
        n0, n1 = int(round(pads[0] * fs)), int(round(pads[1] * fs))
        if n0 + n1 >= sound.size:
            raise RawDataError(f"{where}: sound of {sound.size} samples is shorter than its pads {pads} s")
        speech = sound[n0 : sound.size - n1]
        e = {"code": sid, "name": as_str(field(s, "name", where), f"{where}.name").strip(), "fs": fs,
             "sound": speech.astype(np.float32), "pads_s": list(pads)}
        if has_field(s, "duration"):
            e["duration_padded_s"] = as_scalar(field(s, "duration", where), f"{where}.duration")
        out.append(e)
    return sorted(out, key=lambda e: e["code"])


def _open_wav(path: Path):
    if not path.is_file():
        raise MissingRawFileError(f"{path}: sound file is missing from the release")
    sf = require("soundfile", extra="convert", purpose="reading downer2025's sound files")

    try:
        info = sf.info(str(path))
    except RuntimeError as e:
        raise RawDataError(f"{path}: not a readable sound file ({e})") from None
    return sf, info


def pulse_onsets(wav: Path, channel: int = 1, block: int = 1 << 20) -> np.ndarray:
    """Sample indices where ``channel`` of ``wav`` turns from zero to non-zero (rising pulse edges).

    Read block by block (the release's wav is long), one channel kept.  A
    pulse at the very first sample counts as an onset.
    """
    sf, info = _open_wav(wav)
    if info.channels <= channel:
        raise RawDataError(f"{wav}: has {info.channels} channel(s); the onset pulses are expected on channel "
                           f"{channel}")
    out, prev, pos = [], False, 0
    for chunk in sf.blocks(str(wav), blocksize=block, dtype="float32", always_2d=True):
        on = chunk[:, channel] != 0
        edges = np.flatnonzero(on & ~np.concatenate([[prev], on[:-1]]))
        out.append(edges + pos)
        prev, pos = bool(on[-1]), pos + chunk.shape[0]
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def _mvoc_onsets(path: Path, wav: Path, codes: np.ndarray, table: np.ndarray, log) -> tuple[np.ndarray, dict]:
    """Onsets (s) of the vocalisation sequence from the wav's pulse channel, as the authors' code finds them.

    The first presentation is marked by three pulses (the 2nd and 3rd are
    dropped: ``first_presentation_triple_pulse``); the pulse count must then
    equal the number of codes.  ``mVocsStimOnTimes`` is only compared (the
    largest difference is returned in the check record).
    """
    sf, info = _open_wav(wav)
    if info.channels < 2:
        log.add("no_pulse_channel", f"{wav.name} is mono: vocalisation onsets taken from {path.name} "
                "mVocsStimOnTimes", wav=wav.name)
        return table, {"source": "mVocsStimOnTimes"}
    starts = pulse_onsets(wav)
    if starts.size == codes.size + 2:
        log.add("first_presentation_triple_pulse", f"{wav.name}: the first presentation starts with three onset "
                "pulses; the 2nd and 3rd are not onsets", wav=wav.name)
        starts = np.delete(starts, [1, 2])
    if starts.size != codes.size:
        raise RawDataError(f"{wav}: channel 1 holds {starts.size} onset pulses for the {codes.size} vocalisation "
                           f"codes of {path.name}")
    onsets = starts / float(info.samplerate)
    diff = float(np.max(np.abs(onsets - table))) if table.size == onsets.size else None
    return onsets, {"source": "wav channel 1 onset pulses", "max_abs_diff_vs_mVocsStimOnTimes_s": diff}


def _mvoc_entries(root: Path, log) -> tuple[list[dict], dict]:
    path = root / MVOC_MAT
    m = load_mat(path, ["mVocsStimCodes", "mVocsStimOnTimes"])
    codes = as_int_vector(m["mVocsStimCodes"], f"{path}: mVocsStimCodes")
    table = as_float_vector(m["mVocsStimOnTimes"], f"{path}: mVocsStimOnTimes")
    if codes.size != table.size or codes.size == 0:
        raise RawDataError(f"{path}: mVocsStimCodes ({codes.size}) and mVocsStimOnTimes ({table.size}) "
                           "must be equally long and non-empty")
    wav = root / MVOC_WAV
    sf, info = _open_wav(wav)
    onsets, check = _mvoc_onsets(path, wav, codes, table, log)
    if np.any(np.diff(onsets) <= 0):
        raise RawDataError(f"{path}: the vocalisation onsets must increase")
    total = info.frames / info.samplerate
    if onsets[-1] >= total:
        raise RawDataError(f"{path}: last onset {onsets[-1]} s is past the end of {wav.name} ({total:.3f} s)")
    slot = np.append(np.diff(onsets), total - onsets[-1])
    out = []
    for code in np.unique(codes):
        if code <= 0:
            continue
        k = np.flatnonzero(codes == code)
        dur = float(slot[k].min())
        start = int(round(onsets[k[0]] * info.samplerate))
        stop = start + int(round(dur * info.samplerate))
        out.append({"code": int(code), "name": f"mvoc_{int(code):03d}", "fs": float(info.samplerate),
                    "wav": (wav, start, stop), "occurrences": int(k.size), "wav_onset_s": float(onsets[k[0]])})
    return out, check


def _mvoc_sound(e: dict) -> np.ndarray:
    """Channel 0 of the wav (the audio; channel 1 holds the onset pulses) over the stimulus' slot."""
    sf = require("soundfile", extra="convert", purpose="reading downer2025's sound files")

    wav, start, stop = e["wav"]
    x, _ = sf.read(str(wav), start=start, stop=stop, dtype="float32", always_2d=True)
    return x[:, 0].copy()


# ------------------------------------------------------------------ responses
def _read_channel(path: Path) -> tuple[np.ndarray, dict]:
    m = load_mat(path, ["spike", "trial"])
    spk = as_float_vector(field(m["spike"], "spktimes", f"{path}: spike"), f"{path}: spike.spktimes")
    tr = m["trial"]
    stimon = as_float_vector(field(tr, "stimon", f"{path}: trial"), f"{path}: trial.stimon", allow_nan=True)
    codes = {}
    for key in ("timitStimcode", "mVocStimcode"):
        c = as_float_vector(field(tr, key, f"{path}: trial"), f"{path}: trial.{key}", allow_nan=True)
        if c.size != stimon.size:
            raise RawDataError(f"{path}: trial.{key} has {c.size} entries for {stimon.size} trial.stimon")
        c = np.where(np.isfinite(c), c, 0)
        if np.any(c != np.round(c)) or np.any(c < 0):
            raise RawDataError(f"{path}: trial.{key} must hold stimulus codes (positive integers, 0 = none)")
        codes[key] = c.astype(np.int64)
    both = (codes["timitStimcode"] > 0) & (codes["mVocStimcode"] > 0)
    if np.any(both):
        raise RawDataError(f"{path}: trial {int(np.flatnonzero(both)[0])} has both a TIMIT and a vocalisation code")
    return np.sort(spk), {"stimon": stimon, **codes}


def _session_test_ids(neurons: list[dict], min_reps: int) -> set[int]:
    """TIMIT codes played at least ``min_reps`` times in some session (one trial table per session)."""
    seen, out = set(), set()
    for c in neurons:
        if c["session"] in seen:
            continue
        seen.add(c["session"])
        path = c["path"]
        tr = load_mat(path, ["trial"])["trial"]
        codes = as_float_vector(field(tr, "timitStimcode", f"{path}: trial"), f"{path}: trial.timitStimcode",
                                allow_nan=True)
        codes = codes[np.isfinite(codes) & (codes > 0)].astype(np.int64)
        u, k = np.unique(codes, return_counts=True)
        out.update(int(x) for x in u[k >= min_reps])
    return out


# ------------------------------------------------------------------ convert
def _write_responses(w, neurons: list[dict], classes: list[str], index: dict, durations_ms: list[float],
                     pre_ms: float, post_ms: float) -> None:
    """Every channel's trials, channel file by channel file: spikes in [onset - pre, onset + duration + post)."""
    for n, c in enumerate(neurons):
        spk_s, trial = _read_channel(c["path"])
        spk = spk_s * 1000.0
        onsets = trial["stimon"] * 1000.0
        for cls, key in (("timit", "timitStimcode"), ("mvocs", "mVocStimcode")):
            if cls not in classes:
                continue
            codes = trial[key]
            for code in np.unique(codes[codes > 0]):
                s = index.get((cls, int(code)))
                if s is None:
                    raise RawDataError(
                        f"{c['path']}: trial.{key} names stimulus {int(code)}, which the release's "
                        f"{'sentdet' if cls == 'timit' else 'mVocsStimCodes'} does not define"
                    )
                rows = []
                for t0 in onsets[codes == code]:
                    if not np.isfinite(t0):
                        raise RawDataError(f"{c['path']}: trial.stimon is NaN for a trial of stimulus {int(code)}")
                    lo = np.searchsorted(spk, t0 - pre_ms, side="left")
                    hi = np.searchsorted(spk, t0 + durations_ms[s] + post_ms, side="left")
                    rows.append(spk[lo:hi] - t0)
                w.write_pair(s, n, rows)
        del spk_s, spk, trial


def convert(raw_dir, out_path, *, overwrite: bool = False, **options) -> Path:
    """Convert the unpacked Downer 2025 release in ``raw_dir`` to ``out_path`` (``events``).

    Options are those of :data:`SOURCE`; ``overwrite=True`` replaces an
    existing output.
    """
    opts = check_options(SOURCE, options)
    classes = [c for c in ("timit", "mvocs") if c in (opts["stimuli"] or [])]
    if not classes:
        raise ConverterError("downer2025: option stimuli is empty; choose timit and/or mvocs")
    sessions = opts["sessions"]
    pre_ms, post_ms = float(opts["pre_ms"]), float(opts["post_ms"])
    if not (math.isfinite(pre_ms) and math.isfinite(post_ms) and pre_ms >= 0 and post_ms >= 0):
        raise ConverterError(f"downer2025: pre_ms and post_ms must be >= 0, got {pre_ms}, {post_ms}")
    audio_fs = positive_number(opts["audio_fs"], "downer2025: option audio_fs", ConverterError)
    params = params_from_options(opts)
    params.resolved_f_max(audio_fs)

    root = find_root(raw_dir)
    log = QuirkLog(SOURCE.id)
    mvoc_check = None
    smeta = read_sessions_metadata(metadata_file(root, log))
    neurons = list_neurons(root, smeta, sessions, bool(opts["exclude_bad_sessions"]))
    nrn_meta = [_neuron_meta(c, smeta) for c in neurons]
    neuron_ids = [m["cell_id"] for m in nrn_meta]

    entries: list[tuple[str, dict]] = []
    test_ids: dict[str, list[int]] = {}
    if "timit" in classes:
        reps = smeta["repeats"].get("timit")
        if reps is None:
            raise RawDataError(f"{root}: sessions metadata: stim_wise_num_repeats has no 'timit' repeat count")
        tids = _session_test_ids(neurons, reps)
        test_ids["timit"] = sorted(tids)
        entries += [("timit", dict(e, test=e["code"] in tids)) for e in _timit_entries(root)]
    if "mvocs" in classes:
        reps = smeta["repeats"].get("mvocs")
        if reps is None:
            raise RawDataError(f"{root}: sessions metadata: stim_wise_num_repeats has no 'mVocs' repeat count")
        mv, mvoc_check = _mvoc_entries(root, log)
        test_ids["mvocs"] = sorted(e["code"] for e in mv if e["occurrences"] == reps)
        entries += [("mvocs", dict(e, test=e["occurrences"] == reps)) for e in mv]
    index = {(cls, e["code"]): s for s, (cls, e) in enumerate(entries)}
    durations_ms = []

    transform = resampled_transform(
        params, audio_fs, timit="0.5 s silence pads (sentdet.befaft) removed: time 0 = speech onset = stimon")
    file_meta = SOURCE.file_meta(
        preparation="awake passive listening; multi-units = threshold crossings per channel",
        response_units="ms",
        stimulus_classes=classes,
        test_ids=test_ids,
        response_window={"pre_ms": pre_ms, "post_ms": post_ms,
                         "definition": "spikes in [onset - pre_ms, onset + duration + post_ms), ms from onset"},
        bad_sessions=sorted(smeta["bad"]),
        converter=converter_meta(SOURCE, dict(opts, stimuli=classes)),
    )
    with validated_output(
        out_path, overwrite=overwrite, encoding="events", neuron_ids=neuron_ids, nrn_meta=nrn_meta,
        file_meta=file_meta, source=SOURCE.id,
        **spectrogram_layout(params, transform),
    ) as w:
        for cls, e in entries:
            x = e.pop("sound") if cls == "timit" else _mvoc_sound(e)
            xr = resample_audio(x[None, :], e["fs"], audio_fs, f"{cls} stimulus {e['name']}")
            S, _ = spectrogram(xr, audio_fs, params)
            dur_s = x.size / e["fs"]
            durations_ms.append(dur_s * 1000.0)
            meta = {
                "name": e["name"],
                "type": "timit" if cls == "timit" else "mvoc",
                "stim_code": e["code"],
                "subset": "test" if e["test"] else "est",
                "sample_rate": e["fs"],
                "n_samples": int(x.size),
                "duration_s": dur_s,
            }
            if cls == "timit":
                meta["pads_removed_s"] = e["pads_s"]
            else:
                meta["occurrences_in_sequence"] = e["occurrences"]
                meta["sequence_onset_s"] = e["wav_onset_s"]
            w.add_stimulus(S, id=f"{'timit' if cls == 'timit' else 'mvoc'}-{e['code']:03d}", meta=meta,
                           **waveform_kwargs(xr, audio_fs, opts["keep_waveform"]))
            del x, xr, S
        entries = [(cls, {"code": e["code"]}) for cls, e in entries]  # drop the sounds

        _write_responses(w, neurons, classes, index, durations_ms, pre_ms, post_ms)
        w.set_file_meta({**file_meta, "mvoc_onsets": mvoc_check,
                         "provenance": provenance(SOURCE, dict(opts, stimuli=classes), log)})
    return Path(out_path)
