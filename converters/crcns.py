"""Shared parsing for the CRCNS auditory releases (Theunissen-lab text format).

AA1 and AA2 publish each cell as ``<cell>/<stim class>/{stimN, spikeN}``:

``stimN``
    one line, the name of the wav played (``<MD5>.wav``, the upper-case MD5
    of the wav file), with a trailing line break.
``spikeN``
    one line per trial, spike times in ms relative to stimulus onset separated
    by spaces (real files end each line with ``" \\n"``); negative times are
    pre-onset spikes (down to -2000 ms), times past the sound's end are kept.
    An empty line is a trial without spikes.  Parsing is strict
    (:func:`parse_spike_text`): a file whose last line lacks its line break
    (truncated) and a token that is not a plain decimal number (``1_0.5``)
    are refused with the file and line, never read as fewer trials or other
    numbers.

This module parses those files (:func:`parse_spike_file`,
:func:`parse_stim_file`, :func:`parse_cell_name`), checks wav MD5s
(:func:`file_md5`, :func:`stim_id`), and implements the conversion both
releases share (:func:`scan_cell`, :func:`convert_aa`): one ``events`` file,
stimulus id = the wav's MD5 (so AA1 + AA2 concatenation detects shared
stimuli), neuron id = the release's cell folder name.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from strfh5.errors import MissingRawFileError, RawDataError
from .base import (NUMBER_RE, Option, QuirkLog, SourceInfo, check_options, converter_meta, find_root, provenance,
                   validated_output)
from strfh5.spectrogram import SpectrogramParams, spectrogram, transform_dict
from .audio import params_from_options, read_wav, spectrogram_layout, waveform_kwargs

__all__ = [
    "CELL_NAME_RE",
    "MD5_WAV_RE",
    "parse_spike_file",
    "parse_spike_text",
    "parse_stim_file",
    "parse_cell_name",
    "file_md5",
    "stim_id",
    "Protocol",
    "CellScan",
    "scan_cell",
    "CellSpec",
    "convert_aa",
    "start_aa",
    "AA_SPECTROGRAM",
    "AA_WAV_OPTIONS",
]

#: ``<bird>_<n-th cell>[_<rig letter>]``, e.g. ``gg0304_4_B``
CELL_NAME_RE = re.compile(r"^(?P<animal>[^_]+)_(?P<seq>\d+)(?:_(?P<rig>[A-Za-z]))?$")
#: ``<32 hex digits>.wav``
MD5_WAV_RE = re.compile(r"^(?P<md5>[0-9A-Fa-f]{32})\.wav$")
_NUM_RE = re.compile(r"^(stim|spike)(\d+)$")
#: the spectrogram deepSTRF's AA loaders use (32 mel bands, 250 Hz-8 kHz, 10 ms window, cube root):
#: the default of AA1, AA2 and AA4
AA_SPECTROGRAM = SpectrogramParams(kind="mel", n_bands=32, f_min=250.0, f_max=8000.0, window_ms=10.0,
                                   compression="cuberoot")
#: the wav options of AA1 and AA2 (wavs named by their MD5, possibly missing from a partial download)
AA_WAV_OPTIONS = (
    Option("skip_missing_wavs", bool, False,
           "leave out stimuli whose wav is missing (partial download) instead of failing"),
    Option("check_md5", bool, True, "check each wav's MD5 against its name"),
)


# ------------------------------------------------------------------ parsing
def parse_spike_text(text: str, where: str) -> list[np.ndarray]:
    """Trials of a spike file's text: one float64 array (ms) per line, parsed strictly.

    Every line ends with ``\\n`` (``\\r\\n`` accepted); a blank line is a
    trial without spikes; an empty text is a file without trials.  Refused
    (:class:`RawDataError` naming ``where`` and the line):

    * a non-empty text whose last line lacks its line break — every real
      spike file ends with one, so the file was cut mid-line (a truncated
      download would otherwise lose trials and shorten the last spike time);
    * a token that is not a plain decimal number (:data:`~.base.NUMBER_RE`:
      ``1_0.5``, ``inf``, ``nan``, ``0x10`` are refused, where Python's
      ``float`` would read ``1_0.5`` as 10.5).
    """
    if text and not text.endswith("\n"):
        n = text.count("\n") + 1
        raise RawDataError(
            f"{where} line {n}: the file ends without a line break after {text.rsplit(chr(10), 1)[-1][-40:]!r} — "
            "every spike file of the release ends with one: a truncated file (download it again)"
        )
    lines = text.split("\n")[:-1] if text else []
    trials = []
    for i, line in enumerate(lines, start=1):
        if line.endswith("\r"):
            line = line[:-1]
        tokens = line.replace("\t", " ").split(" ")
        values = []
        for tok in tokens:
            if tok == "":
                continue
            if not NUMBER_RE.match(tok):
                raise RawDataError(f"{where} line {i}: {tok!r} is not a spike time in ms (a plain decimal number)")
            values.append(float(tok))
        t = np.array(values, dtype=np.float64)
        if t.size and not np.all(np.isfinite(t)):
            raise RawDataError(f"{where} line {i}: spike times must be finite numbers")
        trials.append(t)
    return trials


def parse_spike_file(path) -> list[np.ndarray]:
    """Trials of a ``spikeN`` file (see :func:`parse_spike_text`)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="ascii")
    except UnicodeDecodeError:
        raise RawDataError(f"{p}: a spike file must be ASCII text (spike times in ms)") from None
    return parse_spike_text(text, str(p))


def parse_stim_file(path) -> str:
    """The wav name in a ``stimN`` file (one line, e.g. ``D54A...6039.wav``)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="ascii")
    except UnicodeDecodeError:
        raise RawDataError(f"{p}: a stim file must hold a wav file name (ASCII text)") from None
    if text and not text.endswith("\n"):
        raise RawDataError(f"{p} line 1: the file ends without a line break (every stim file of the release "
                           f"ends with one): a truncated file, got {text[:80]!r}")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if len(lines) != 1 or not lines[0].lower().endswith(".wav") or "/" in lines[0] or "\\" in lines[0]:
        raise RawDataError(f"{p}: expected one line naming a wav file (like '<MD5>.wav'), got {text[:80]!r}")
    return lines[0]


def parse_cell_name(name: str) -> dict:
    """Animal, cell sequence number and rig letter from a cell folder name.

    >>> parse_cell_name("gg0304_4_B")
    {'animal': 'gg0304', 'cell_seq': 4, 'rig': 'B'}
    >>> parse_cell_name("blugr1612_2")
    {'animal': 'blugr1612', 'cell_seq': 2}
    >>> parse_cell_name("mld_good")
    {}
    """
    m = CELL_NAME_RE.match(name)
    if not m:
        return {}
    out = {"animal": m["animal"], "cell_seq": int(m["seq"])}
    if m["rig"]:
        out["rig"] = m["rig"].upper()
    return out


def file_md5(path, chunk: int = 1 << 20) -> str:
    """Upper-case hex MD5 of a file's bytes."""
    h = hashlib.md5()
    with open(path, "rb") as fh:
        while True:
            b = fh.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest().upper()


def stim_id(wav_name: str, wav_path=None, check_md5: bool = True) -> str:
    """Stable stimulus id of an AA wav: its upper-case MD5.

    The release names each wav by its MD5; with ``check_md5`` the file's
    bytes are hashed and must agree (a mismatch is a damaged or partial
    download: :class:`RawDataError`).  A name that is not an MD5 gets the MD5
    of the file's bytes.
    """
    m = MD5_WAV_RE.match(wav_name)
    if m and not (check_md5 and wav_path is not None):
        return m["md5"].upper()
    if wav_path is None:
        raise RawDataError(f"{wav_name}: not an '<MD5>.wav' name and no file to hash")
    digest = file_md5(wav_path)
    if m and digest != m["md5"].upper():
        raise RawDataError(
            f"{wav_path}: the file's MD5 is {digest} but its name says {m['md5'].upper()} — a damaged or "
            "partial download; fetch it again (or pass check_md5=False to trust the name)"
        )
    return digest


# --------------------------------------------------------------- cell scans
@dataclass
class Protocol:
    """One stimulus as a cell heard it: the wav and the spike files of its trials.

    ``spike_files`` has several entries when the cell's protocol lists the
    same wav more than once (their trials are merged, in file order).
    """

    wav: str
    stim_files: list[str] = field(default_factory=list)
    spike_files: list[Path] = field(default_factory=list)


@dataclass
class CellScan:
    """What one ``<cell>/<class>/`` folder holds, by wav name."""

    folder: Path
    protocols: dict[str, Protocol]


def scan_cell(folder, log: QuirkLog, cell: str, stim_class: str) -> CellScan:
    """Pair the ``stimN``/``spikeN`` files of one cell and class.

    Quirks handled (each warned and logged): a ``stimN`` without ``spikeN``
    (skipped), a ``spikeN`` without ``stimN`` (skipped), and the same wav
    listed by several ``stimN`` (one protocol whose trials are merged).
    """
    folder = Path(folder)
    stims: dict[int, Path] = {}
    spikes: dict[int, Path] = {}
    for p in folder.iterdir():
        m = _NUM_RE.match(p.name)
        if not m or not p.is_file():
            continue
        (stims if m[1] == "stim" else spikes)[int(m[2])] = p
    protocols: dict[str, Protocol] = {}
    for n in sorted(stims):
        wav = parse_stim_file(stims[n])
        if n not in spikes:
            log.add("stim_without_spikes", f"{folder}/stim{n} names {wav} but spike{n} is absent: skipped",
                    cell=cell, stim_class=stim_class, file=f"stim{n}")
            continue
        if wav in protocols:
            prev = protocols[wav]
            log.add(
                "duplicate_stimulus",
                f"{cell}/{stim_class}: stim{n} names {wav}, already played as {', '.join(prev.stim_files)}; "
                "their trials are merged as one stimulus",
                cell=cell, stim_class=stim_class, wav=wav, files=prev.stim_files + [f"stim{n}"],
            )
        proto = protocols.setdefault(wav, Protocol(wav))
        proto.stim_files.append(f"stim{n}")
        proto.spike_files.append(spikes[n])
    for n in sorted(set(spikes) - set(stims)):
        log.add("spikes_without_stim", f"{folder}/spike{n} has no stim{n}: skipped",
                cell=cell, stim_class=stim_class, file=f"spike{n}")
    return CellScan(folder, protocols)


# ---------------------------------------------------------------- conversion
def start_aa(source: SourceInfo, raw_dir, options: dict, overwrite: bool, marker: str) -> tuple[dict, Path, QuirkLog]:
    """What an AA converter starts with: checked options (with ``overwrite``), release root, quirk log.

    ``marker`` is the folder that identifies the unpacked release
    (:func:`~strfh5.converters.base.find_root`: ``raw_dir`` itself or its one
    wrapping folder).
    """
    opts = check_options(source, options)
    opts["overwrite"] = overwrite
    return opts, find_root(raw_dir, marker, source.id.upper().replace("-", " ")), QuirkLog(source.id)


@dataclass
class CellSpec:
    """A cell to convert: its stable id, metadata, and ``class -> folder``."""

    neuron_id: str
    meta: dict
    class_folders: dict[str, Path]


def _select(source: SourceInfo, cells: Sequence[CellSpec], wav_path, options: dict, stim_classes, log: QuirkLog):
    """Scan the cells (file names only), order the stimuli, handle missing wavs and cells left without data.

    Returns ``(wavs, class of each wav, kept cells, their scans, their metadata)``.
    """
    # 1. scan every cell's class folders (file names only, no spike parsing)
    scans: list[dict[str, CellScan]] = []
    for cell in cells:
        per_class = {}
        for c in stim_classes:
            folder = cell.class_folders.get(c)
            if folder is None:
                continue
            per_class[c] = scan_cell(folder, log, cell.neuron_id, c)
        scans.append(per_class)
    # 2. stimuli: classes in option order, wav names sorted within a class
    stim_class_of: dict[str, str] = {}
    for c in stim_classes:
        names = sorted({w for sc in scans if c in sc for w in sc[c].protocols})
        for w in names:
            if w in stim_class_of and stim_class_of[w] != c:
                log.add("stimulus_in_two_classes",
                        f"{w} is played as {stim_class_of[w]} and as {c}; kept as one stimulus of class "
                        f"{stim_class_of[w]}", wav=w, classes=[stim_class_of[w], c])
                continue
            stim_class_of.setdefault(w, c)
    wavs = list(stim_class_of)
    missing = [w for w in wavs if not wav_path(stim_class_of[w], w).is_file()]
    if missing:
        users = {w: sorted({cell.neuron_id for cell, sc in zip(cells, scans) for c in sc
                            if w in sc[c].protocols}) for w in missing}
        if not options.get("skip_missing_wavs"):
            first = missing[0]
            raise MissingRawFileError(
                f"{wav_path(stim_class_of[first], first)}: the wav {first} ({stim_class_of[first]}, played to "
                f"{', '.join(users[first][:5])}{'...' if len(users[first]) > 5 else ''}) is missing from the raw "
                f"folder ({len(missing)} wav(s) missing in all) — a partial download? Fetch the release again, "
                "or pass skip_missing_wavs=True (--skip-missing-wavs) to leave these stimuli out"
            )
        for w in missing:
            log.add("missing_wav", f"{w} ({stim_class_of[w]}) is missing from the raw folder: stimulus skipped "
                    f"(played to {len(users[w])} cell(s))", wav=w, stim_class=stim_class_of[w],
                    cells=users[w])
        wavs = [w for w in wavs if w not in set(missing)]
    # 3. neurons: drop cells with no data left
    has_data = []
    for cell, sc in zip(cells, scans):
        n = sum(1 for c in sc for w in sc[c].protocols if w in stim_class_of and w in set(wavs))
        has_data.append(n > 0)
        if n == 0:
            log.add("cell_without_data", f"{cell.neuron_id} has no responses to the selected stimulus classes "
                    f"({', '.join(stim_classes)}): left out", cell=cell.neuron_id)
    keep = [i for i, ok in enumerate(has_data) if ok]
    if not keep:
        raise RawDataError(
            f"{source.id}: no cell has responses to the selected classes {list(stim_classes)} and areas"
        )
    kept_cells = [cells[i] for i in keep]
    kept_scans = [scans[i] for i in keep]
    nrn_meta = []
    for cell, sc in zip(kept_cells, kept_scans):
        meta = dict(cell.meta)
        meta["stim_classes"] = [c for c in stim_classes if c in sc and sc[c].protocols]
        merged = [{"stim_class": c, "wav": p.wav, "files": p.stim_files}
                  for c in sc for p in sc[c].protocols.values() if len(p.stim_files) > 1]
        if merged:
            meta["merged_protocols"] = merged
        nrn_meta.append(meta)
    return wavs, stim_class_of, kept_cells, kept_scans, nrn_meta


def convert_aa(
    source: SourceInfo,
    cells: Sequence[CellSpec],
    wav_path: Callable[[str, str], Path],
    out_path,
    options: dict,
    stim_classes: Sequence[str],
    log: QuirkLog | None = None,
    extra_file_meta: dict | None = None,
    stim_extra: Callable[[str, str, dict], dict] | None = None,
) -> Path:
    """Convert scanned AA cells into one ``events`` file (shared by AA1 and AA2).

    Parameters
    ----------
    source : SourceInfo
    cells : sequence of CellSpec
        In output order.
    wav_path : callable
        ``(stim_class, wav_name) -> Path`` where the wav should be.
    out_path : path-like
    options : dict
        Checked converter options: the spectrogram options, ``skip_missing_wavs``,
        ``check_md5``, ``overwrite``.
    stim_classes : sequence of str
        Classes to read, in the order stimuli are laid out.
    log : QuirkLog, optional
    extra_file_meta : dict, optional
        Merged into the file metadata.
    stim_extra : callable, optional
        ``(stim_class, wav_name, meta) -> dict`` of extra stimulus metadata.

    Returns
    -------
    pathlib.Path
        ``out_path``.
    """
    log = log or QuirkLog(source.id)
    params = params_from_options(options)
    keep_waveform = bool(options.get("keep_waveform"))
    wavs, stim_class_of, kept_cells, kept_scans, nrn_meta = _select(source, cells, wav_path, options, stim_classes,
                                                                     log)

    # 4. stream: one stimulus row at a time
    file_meta = source.file_meta(
        response_units="ms",
        converter=converter_meta(source, options),
        **(extra_file_meta or {}),
    )
    ids = [c.neuron_id for c in kept_cells]
    first_sr = read_wav(wav_path(stim_class_of[wavs[0]], wavs[0]))[1] if wavs else 1000.0
    with validated_output(out_path, encoding="events", neuron_ids=ids, nrn_meta=nrn_meta, file_meta=file_meta,
                          source=source.schema or source.id, overwrite=bool(options.get("overwrite")),
                          **spectrogram_layout(params, transform_dict(params, first_sr))) as w:
        for s, name in enumerate(wavs):
            c = stim_class_of[name]
            p = wav_path(c, name)
            wave, sr = read_wav(p)
            if sr != first_sr:
                raise RawDataError(
                    f"{p}: sample rate {sr} Hz differs from the {first_sr} Hz of {wavs[0]}; one file holds one "
                    "spectrogram transform, so its wavs must share a sample rate"
                )
            sid = stim_id(name, p, check_md5=bool(options.get("check_md5", True)))
            S, _ = spectrogram(wave, sr, params)
            meta = {
                "name": name,
                "type": c,
                "sample_rate": float(sr),
                "n_samples": int(wave.shape[-1]),
                "duration_s": wave.shape[-1] / sr,
                "md5": sid,
            }
            if stim_extra is not None:
                meta.update(stim_extra(c, name, meta))
            w.add_stimulus(S, id=sid, meta=meta, **waveform_kwargs(wave, sr, keep_waveform))
            row = []
            for sc in kept_scans:
                proto = sc[c].protocols.get(name) if c in sc else None
                if proto is None:
                    row.append(None)
                    continue
                trials = []
                for f in proto.spike_files:
                    got = parse_spike_file(f)
                    if not got:
                        log.add("empty_spike_file", f"{f} holds no trial (empty file)", file=str(f))
                    trials.extend(got)
                row.append(trials if trials else None)
            w.write_row(s, row)
        w.set_file_meta({**file_meta, "provenance": provenance(source, options, log,
                                                               n_cells_in_release_folder=len(cells))})
    return Path(out_path)
