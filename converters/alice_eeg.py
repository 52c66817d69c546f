"""Alice EEG (Bhattasali, Brennan et al.; restructured by Brodbeck et al. 2023): EEG to an audiobook.

Release (UMd DRUM, doi:10.13016/pulf-lndn, anonymous HTTPS, ~2.5 GiB)::

    eeg.0.zip, eeg.1.zip, eeg.2.zip  -> eeg.<k>/eeg/Sxx/Sxx_alice-raw.fif
    stimuli.zip                      -> stimuli/{1..12}.wav, stimuli/AliceChapterOne-EEG.csv

Each FIF file (MNE raw) holds one subject's recording: EEG channels plus
stim/EOG/aux channels, annotations ``'1'``..``'12'`` at the onsets of the 12
audiobook segments, ``BAD_*`` annotations over artefact spans and
``info['bads']`` listing bad channels. ``AliceChapterOne-EEG.csv`` lists every
word with its segment, onset/offset (s from segment start) and predictors
(frequency, n-gram/RNN/CFG surprisal, ...).

Conversion
----------
* One "neuron" per subject x EEG channel (``S01/Fp1``; stim, EOG and aux
  channels are not converted), metadata ``subject``, ``channel``,
  ``position`` (sensor location, m, head frame) and ``bad``.
* ``binned`` continuous float32 responses in µV, one repeat per (segment,
  channel): each segment is cut from the recording at its annotation (with a
  margin) and resampled to ``1000 / dt_ms`` Hz by
  :func:`scipy.signal.resample_poly` (a polyphase FIR anti-aliasing filter),
  so output sample ``k`` is the signal at ``onset + k * dt_ms`` exactly (to
  one native sample). When ``dt_ms`` equals the native sampling period the
  raw samples are kept unchanged.
* Bad data are kept and marked, never dropped: bad channels are all-NaN rows
  (``bad: true`` in their metadata); samples inside a ``BAD*`` annotation
  span, or past the end of the recording, are NaN. A segment whose onset
  annotation is missing from a subject's file is recorded as missing
  (``repeats = 0``) and listed in the subject's neuron metadata.
* Stimuli: the segment wavs (spectrogram of :mod:`.spectrogram`, optional
  waveform), the word table of each segment (``AliceChapterOne-EEG.csv``,
  read strictly: segment numbers, onsets and offsets must be numbers) as
  the ``words`` list of its metadata, every column kept.
* When the original release's ``datasets.mat`` is placed in ``raw_dir``
  (or ``stimuli/``), each subject's neurons list the groups it names them in
  (``dataset_groups``: ``use`` / ``low_perf`` / ``high_noise``).
* The four zips' MD5s are pinned (``strfh5 fetch`` checks them) from the
  maintainers' ``download_alice.py`` (Eelbrain/Alice).

``mne`` is needed to read FIF files; it is imported when the converter runs.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from strfh5.arguments import positive_number
from strfh5.errors import ConverterError, MissingRawFileError, RawDataError
from strfh5.optional import require
from .base import (NUMBER_RE, Option, QuirkLog, ReleaseFile, SourceInfo, check_options, converter_meta, parse_number,
                   provenance, read_csv_dicts, validated_output)
from .matlab import load_mat
from strfh5.spectrogram import SpectrogramParams, spectrogram
from .audio import params_from_options, rational_ratio, read_wav, resample_audio, resampled_transform, spectrogram_layout, spectrogram_options, waveform_kwargs

__all__ = ["SOURCE", "convert", "find_subjects", "read_word_table", "read_dataset_index", "segment_onsets",
           "resample_segment"]

_DRUM = "https://drum.lib.umd.edu/bitstreams/{}/download"
_SPEC_DEFAULTS = SpectrogramParams(kind="mel", n_bands=32, f_min=80.0, f_max=8000.0, window_ms=25.0)
WORD_TABLE = "AliceChapterOne-EEG.csv"

SOURCE = SourceInfo(
    id="alice-eeg",
    title="Alice EEG: 33 listeners, chapter one of Alice's Adventures in Wonderland (Brennan; Brodbeck 2023 restructure)",
    citation=(
        "Bhattasali S, Brennan J, Luh WM, Franzluebbers B, Hale J (2020). The Alice Datasets: fMRI & EEG "
        "observations of natural language comprehension. LREC. Brennan JR, Hale JT (2019). Hierarchical structure "
        "guides rapid linguistic predictions during naturalistic listening. PLoS ONE 14(1):e0207741. "
        "Brodbeck C, Das P, Gillis M, Kulasingham JP, Bhattasali S, Gaston P, Resnik P, Simon JZ (2023). "
        "Eelbrain, a Python toolkit for time-continuous analysis with temporal response functions. eLife 12:e85012. "
        "Data: doi:10.13016/pulf-lndn"
    ),
    doi="10.13016/pulf-lndn",
    license="CC BY 4.0 (UMd DRUM)",
    access="open",
    # MD5s as published by the release's maintainers (Eelbrain/Alice download_alice.py)
    files=tuple(
        ReleaseFile(name=name, url=_DRUM.format(uuid), known_hash=f"md5:{md5}", size=None, unpack="zip")
        for name, uuid, md5 in (
            ("eeg.0.zip", "264ca110-f7f4-4fd5-9b00-896102b841ad", "d63d96a6e5080578dbf71320ddbec0a0"),
            ("eeg.1.zip", "bef532d8-cf74-4b9d-9b4c-5c1f81610ce9", "bdc65f168db4c0f19bb0fed20eae129b"),
            ("eeg.2.zip", "25fc51ae-d1fa-4094-85af-65dd4cf30251", "3fb33ca1c4640c863a71bddd45006815"),
            ("stimuli.zip", "df241468-26ee-42df-b27f-3f438cfc5a3f", "4336a47bef7d3e63239c40c0623dc186"),
        )
    ),
    options=(
        Option("subjects", str, None, "only these subjects (e.g. S01,S05; default: all)", multiple=True),
        Option("audio_fs", float, 44100.0, "sample rate (Hz) every segment is resampled to before its spectrogram"),
        *spectrogram_options(_SPEC_DEFAULTS, dt_ms=10.0),
    ),
    schema="alice-eeg",
    species="human",
    homepage="https://drum.lib.umd.edu/handle/1903/27591",
    verified="real_sample",
    verification=("the release's word table (AliceChapterOne-EEG.csv, 2,129 words), its upstream README and "
                  "datasets.mat are read in tests; the FIF files are fixtures written with mne in the Eelbrain "
                  "layout; the four zips' MD5s are pinned from Eelbrain/Alice download_alice.py"),
    version="2",
)


# ------------------------------------------------------------------ release layout
def _mne():
    mne = require("mne", extra="eeg", purpose="the alice-eeg converter (MNE FIF files)")
    mne.set_log_level("ERROR")
    return mne


def find_subjects(raw_dir) -> dict[str, Path]:
    """Subject id -> FIF file, from ``eeg.<k>/eeg/Sxx/Sxx_alice-raw.fif`` (or ``eeg/Sxx/...``)."""
    raw = Path(raw_dir)
    found: dict[str, Path] = {}
    roots = sorted(raw.glob("eeg.*/eeg")) + ([raw / "eeg"] if (raw / "eeg").is_dir() else [])
    for r in roots:
        for d in sorted(p for p in r.iterdir() if p.is_dir()):
            f = d / f"{d.name}_alice-raw.fif"
            if f.is_file():
                if d.name in found:
                    raise RawDataError(f"{f}: subject {d.name} also in {found[d.name]}")
                found[d.name] = f
    if not found:
        raise MissingRawFileError(
            f"{raw}: no eeg.<k>/eeg/Sxx/Sxx_alice-raw.fif files; expected the unpacked eeg.0.zip, eeg.1.zip, "
            "eeg.2.zip of doi:10.13016/pulf-lndn"
        )
    return dict(sorted(found.items()))


def _segment_wavs(raw_dir: Path) -> list[tuple[int, Path]]:
    folder = raw_dir / "stimuli"
    if not folder.is_dir():
        raise MissingRawFileError(f"{folder}: stimulus folder is missing (unpack stimuli.zip)")
    out = []
    for p in folder.iterdir():
        if p.suffix.lower() == ".wav":
            if not p.stem.isdigit():
                raise RawDataError(f"{p}: expected segment wavs named <number>.wav (1.wav ... 12.wav)")
            out.append((int(p.stem), p))
    if not out:
        raise MissingRawFileError(f"{folder}: no segment wavs (1.wav ... 12.wav)")
    return sorted(out)


def _value(text: str):
    """A word-table cell: int, float (:data:`~.base.NUMBER_RE` only), None for ``NaN``/empty, else the text."""
    t = text.strip()
    if t == "" or t.lower() == "nan":
        return None
    if re.fullmatch(r"[+-]?[0-9]+", t):
        return int(t)
    if NUMBER_RE.match(t):
        v = float(t)
        return v if math.isfinite(v) else None
    return t


def read_word_table(path: Path) -> dict[int, list[dict]]:
    """Segment -> its words (one record per CSV row, numbers parsed), in file order.

    Every column is kept (text stays text, numbers become int/float, ``NaN``
    None).  ``Segment`` must be a whole number >= 1 and ``onset``/``offset``
    decimal numbers with ``onset <= offset`` (s from the segment start);
    anything else is refused with the file and row (:class:`RawDataError`).
    """
    rows = read_csv_dicts(path, "the word table of stimuli.zip", required=("Word", "Segment", "onset", "offset"))
    out: dict[int, list[dict]] = {}
    for i, r in enumerate(rows, start=2):
        where = f"{path} row {i}"
        seg = parse_number(r.get("Segment") or "", f"{where}, Segment", integer=True)
        if seg < 1:
            raise RawDataError(f"{where}: Segment {seg} is not a segment number (1, 2, ...)")
        on = parse_number(r.get("onset") or "", f"{where}, onset")
        off = parse_number(r.get("offset") or "", f"{where}, offset")
        if off < on:
            raise RawDataError(f"{where}: offset {off} s is before onset {on} s")
        out.setdefault(seg, []).append({k: _value(v if isinstance(v, str) else "") for k, v in r.items()})
    return out


def read_dataset_index(path) -> dict[str, list[str]]:
    """The original release's ``datasets.mat``: subject -> the groups that list it.

    Groups: ``use`` (the 33 datasets of Brennan & Hale's main analysis),
    ``low_perf`` (low comprehension score), ``high_noise``.  Entries are
    ``'Sxx.mat'`` file names; the result is keyed by ``'Sxx'``.
    """
    p = Path(path)
    d = load_mat(p, ["use", "low_perf", "high_noise"])
    out: dict[str, list[str]] = {}
    for group in ("use", "low_perf", "high_noise"):
        if group not in d:
            raise RawDataError(f"{p}: variable {group!r} not found (expected use, low_perf, high_noise)")
        names = np.atleast_1d(d[group])
        for k, n in enumerate(names):
            if not isinstance(n, str) or not re.fullmatch(r"S\d{2}\.mat", n.strip()):
                raise RawDataError(f"{p}: {group}({k + 1}) is {n!r}, expected a dataset name 'Sxx.mat'")
            out.setdefault(n.strip()[:-4], []).append(group)
    return out


def segment_onsets(raw, path) -> dict[int, float]:
    """Segment number -> onset (s from the first sample) from annotations '1', '2', ..."""
    out: dict[int, float] = {}
    for onset, desc in zip(raw.annotations.onset, raw.annotations.description):
        d = str(desc).strip()
        if d.isdigit():
            seg = int(d)
            if seg in out:
                raise RawDataError(f"{path}: two annotations mark the onset of segment {seg}")
            out[seg] = float(onset) - float(raw.first_time)
    return out


def bad_spans(raw) -> list[tuple[float, float]]:
    """``BAD*`` annotation spans (s from the first sample)."""
    out = []
    for onset, dur, desc in zip(raw.annotations.onset, raw.annotations.duration, raw.annotations.description):
        if str(desc).upper().startswith("BAD"):
            a = float(onset) - float(raw.first_time)
            out.append((a, a + max(float(dur), 0.0)))
    return out


def resample_segment(data: np.ndarray, fs: float, start: int, n_out: int, up: int, down: int) -> np.ndarray:
    """``n_out`` samples at ``fs * up / down`` from native sample ``start`` on (``(C, n_out)``).

    A margin of whole ``down`` blocks (covering the anti-aliasing filter) is
    taken on both sides, so output sample ``k`` is the filtered signal at
    native time ``start + k * down / up`` exactly. Samples before the first or
    after the last native sample are NaN.
    """
    resample_poly = require("scipy.signal", extra="convert", purpose="resampling EEG (alice-eeg)").resample_poly

    C, n = data.shape
    if up == 1 and down == 1:
        out = np.full((C, n_out), np.nan)
        a, b = max(start, 0), min(start + n_out, n)
        if b > a:
            out[:, a - start : b - start] = data[:, a:b]
        return out
    half = 10 * max(up, down) / up  # filter half-length in native samples (resample_poly's default design)
    q = int(math.ceil(half / down)) + 1
    m = q * down
    need = int(math.ceil(n_out * down / up))
    lo, hi = start - m, start + need + m
    a, b = max(lo, 0), min(hi, n)
    if b <= a:
        return np.full((C, n_out), np.nan)
    x = data[:, a:b]
    if a > lo or b < hi:
        x = np.pad(x, ((0, 0), (a - lo, hi - b)), mode="edge")
    y = resample_poly(x, up, down, axis=1)[:, q * up : q * up + n_out]
    if y.shape[1] < n_out:  # pragma: no cover - guarded by the margin
        y = np.pad(y, ((0, 0), (0, n_out - y.shape[1])), constant_values=np.nan)
    t = start + np.arange(n_out) * (down / up)  # native sample time of each output sample
    y[:, (t < 0) | (t > n - 1)] = np.nan
    return y


def _position(ch: dict) -> list[float] | None:
    loc = np.asarray(ch.get("loc", ()), dtype=float)[:3]
    if loc.size == 3 and np.all(np.isfinite(loc)) and np.any(loc != 0):
        return [float(v) for v in loc]
    return None


# ------------------------------------------------------------------ convert
def _neurons(mne, subjects: dict, raw_dir: Path, wavs, fs_out: float, groups, log: QuirkLog) -> tuple:
    """From the FIF headers (no data read): neuron ids and metadata (one per subject x EEG channel), each
    subject's ``(first neuron index, EEG picks)`` and native sampling rate."""
    neuron_ids, nrn_meta, layout, native = [], [], {}, {}
    for sub, path in subjects.items():
        try:
            raw = mne.io.read_raw_fif(str(path), preload=False)
        except Exception as e:  # mne raises many types for a damaged file
            raise RawDataError(f"{path}: not a readable MNE raw FIF file ({type(e).__name__}: {e})") from None
        picks = mne.pick_types(raw.info, eeg=True, exclude=[])
        if len(picks) == 0:
            raise RawDataError(f"{path}: no EEG channels")
        bads = set(raw.info["bads"])
        fs = float(raw.info["sfreq"])
        native[sub] = fs
        rational_ratio(fs_out, fs, str(path))
        layout[sub] = (len(neuron_ids), [int(p) for p in picks])
        onsets = segment_onsets(raw, path)
        miss = [k for k, _ in wavs if k not in onsets]
        if miss:
            log.add("missing_segment_annotation",
                    f"{path.name}: no onset annotation for segment(s) {miss}: recorded as missing",
                    subject=sub, segments=miss)
        for p in picks:
            ch = raw.info["chs"][p]
            name = raw.ch_names[p]
            m = {"cell_id": f"{sub}-{name}", "subject": sub, "animal": sub, "channel": name,
                 "channel_index": int(p), "area": "EEG", "bad": name in bads, "sampling_rate_hz": fs,
                 "fif_file": str(path.relative_to(raw_dir))}
            pos = _position(ch)
            if pos is not None:
                m["position"] = pos
            if miss:
                m["missing_segments"] = miss
            if groups is not None:
                m["dataset_groups"] = groups.get(sub, [])
            neuron_ids.append(f"{sub}/{name}")
            nrn_meta.append(m)
        del raw
    return neuron_ids, nrn_meta, layout, native


def convert(raw_dir, out_path, *, overwrite: bool = False, **options) -> Path:
    """Convert the unpacked Alice EEG release in ``raw_dir`` to ``out_path`` (``binned``, continuous).

    Options are those of :data:`SOURCE`; ``overwrite=True`` replaces an
    existing output.
    """
    mne = _mne()
    opts = check_options(SOURCE, options)
    raw_dir = Path(raw_dir)
    params = params_from_options(opts)
    audio_fs = positive_number(opts["audio_fs"], "alice-eeg: option audio_fs", ConverterError)
    params.resolved_f_max(audio_fs)
    dt_ms = params.hop_ms
    fs_out = 1000.0 / dt_ms

    subjects = find_subjects(raw_dir)
    wanted = opts["subjects"]
    if wanted is not None:
        missing = [s for s in wanted if s not in subjects]
        if missing:
            raise MissingRawFileError(f"{raw_dir}: subject(s) {', '.join(missing)} not found; "
                                      f"available: {', '.join(subjects)}")
        subjects = {s: subjects[s] for s in subjects if s in wanted}
    wavs = _segment_wavs(raw_dir)
    words = read_word_table(raw_dir / "stimuli" / WORD_TABLE)

    log = QuirkLog(SOURCE.id)
    index_path = next((p for p in (raw_dir / "datasets.mat", raw_dir / "stimuli" / "datasets.mat") if p.is_file()),
                      None)
    groups = read_dataset_index(index_path) if index_path is not None else None
    # neurons, from the FIF headers (data are not read here)
    neuron_ids, nrn_meta, layout, native = _neurons(mne, subjects, raw_dir, wavs, fs_out, groups, log)

    transform = resampled_transform(params, audio_fs)
    file_meta = SOURCE.file_meta(
        preparation="human EEG, passive listening to an audiobook (one presentation per subject)",
        response_units="uV",
        subjects=list(subjects),
        eeg_sampling_rate_hz=sorted(set(native.values())),
        eeg_processing=(
            f"EEG channels as released (0.1 Hz high-pass), in microvolts, resampled to {fs_out:g} Hz with "
            "scipy.signal.resample_poly; info['bads'] channels all NaN; samples in BAD* annotations NaN"
        ),
        converter=converter_meta(SOURCE, opts),
    )
    with validated_output(
        out_path, overwrite=overwrite, encoding="binned", response_kind="continuous", neuron_ids=neuron_ids,
        nrn_meta=nrn_meta, file_meta=file_meta, source=SOURCE.id,
        **spectrogram_layout(params, transform),
    ) as w:
        n_bins = {}
        for seg, wav in wavs:
            x, sr = read_wav(wav)
            x = x.mean(axis=0, keepdims=True) if x.shape[0] > 1 else x
            xr = resample_audio(x, sr, audio_fs, str(wav))
            S, _ = spectrogram(xr, audio_fs, params)
            seg_words = words.get(seg, [])
            meta = {"name": wav.stem, "segment": seg, "type": "audiobook segment", "sample_rate": sr,
                    "n_samples": int(x.shape[-1]), "duration_s": float(x.shape[-1] / sr),
                    "n_words": len(seg_words), "words": seg_words}
            s = w.add_stimulus(S, id=f"segment-{seg:02d}", meta=meta,
                               **waveform_kwargs(xr, audio_fs, opts["keep_waveform"]))
            n_bins[seg] = int(S.shape[-1])
            del x, xr, S

        for sub, path in subjects.items():
            first, picks = layout[sub]
            raw = mne.io.read_raw_fif(str(path), preload=False)
            fs = native[sub]
            up, down = rational_ratio(fs_out, fs, str(path))
            data = raw.get_data(picks=picks) * 1e6  # V -> µV, float64, (C, n)
            onsets = segment_onsets(raw, path)
            spans = bad_spans(raw)
            bads = {raw.ch_names[p] for p in picks} & set(raw.info["bads"])
            bad_rows = [i for i, p in enumerate(picks) if raw.ch_names[p] in bads]
            for s, (seg, _) in enumerate(wavs):
                if seg not in onsets:
                    continue
                T = n_bins[seg]
                t0 = onsets[seg]
                start = int(round(t0 * fs))
                y = resample_segment(data, fs, start, T, up, down)
                past = (start + (T - 1) * fs * dt_ms / 1000.0) - (data.shape[1] - 1)
                if past > 0:
                    log.add("segment_past_recording_end",
                            f"{path.name}: segment {seg} ends {past / fs:.3f} s after the recording: "
                            "those samples are NaN", subject=sub, segment=seg, seconds=round(past / fs, 6))
                # sample times to the nanosecond, so span edges do not depend on float rounding
                times = np.round((start / fs) + np.arange(T) * (dt_ms / 1000.0), 9)
                for a, b in spans:
                    y[:, (times >= round(a, 9)) & (times < round(b, 9))] = np.nan
                y[bad_rows, :] = np.nan
                y32 = y.astype(np.float32)
                for c in range(y32.shape[0]):
                    w.write_pair(s, first + c, y32[c][None, :])
            del raw, data
        w.set_file_meta({**file_meta, "provenance": provenance(SOURCE, opts, log)})
    return Path(out_path)
