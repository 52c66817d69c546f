"""Wingert et al. (2026), awake ferret A1/PEG, long natural-sound sequences (Zenodo 18331549).

Raw layout (``raw_dir``)::

    recordings/<SITE>_<hash>.tgz     per-site NEMS recordings (content wrapped in <SITE>/)
    cell_list.csv                    cellid, siteid, area, layer, depth, narrow, celltype, sw, goodpred

Each site: ``resp`` point process (spike times, s), ``stim`` tiled signal (one
``(32, T)`` raw linear gammatone-gram per ``STIM_*`` epoch, 10 ms), epochs.

What the converter does
-----------------------
* **Silence padding**: older sites' epochs are the 20 s sound alone
  (T = 2000); newer sites' add 1 s of silence before and after (T = 2200,
  marked by ``PreStimSilence``/``PostStimSilence`` epochs).  So that one
  stimulus is one array whatever site played it, every stimulus is stored
  *without* the padding (the sound only, T = 2000) and every spike time is
  in ms from the **sound onset**; spikes of the newer sites' silences are
  kept (negative times, or beyond the sound), so nothing is lost, and the
  reader's window ``[0, T)`` sees the sound period at every site.  The
  padding of each site is listed in the file metadata (``silence_padding``).
  ``keep_silence=True`` instead stores each released tile as it is (times in
  ms from the epoch start, i.e. tile frame 0, as NEMS uses them); the padded
  version of a sound is then its own stimulus, id
  ``<name>|pre<s>s|post<s>s`` (:func:`padded_id`), with ``pre_silence_s`` /
  ``post_silence_s`` in its metadata.
* **Duplicate archives and cells**: the two PRN018 archives hold the same
  cells.  As deepSTRF does, cells are deduplicated **by cell id**: a cell
  already read from an earlier archive (by name) is skipped in the later
  one, whatever the archive bytes (a byte-identical archive is dropped
  without being read; one whose cells were all seen is dropped too), and
  each skip is recorded (``duplicate_archive`` / ``duplicate_cells`` quirks,
  ``dropped_archives``).  Archive names that differ from the site in their
  cell ids (PRN015a/017a/018a) are handled: the site is the cell-id prefix.
* **Subsets**: ``STIM_00*`` (high-repetition) = ``'val'``, others ``'est'``.
* **Neurons**: every cell of every kept archive, with ``cell_list.csv``
  metadata (area, layer, depth, narrow, celltype, sw, goodpred);
  ``labeled=False`` and no ``area`` for the cells the list leaves out.
  ``areas`` restricts to listed areas; ``include_unlabeled`` keeps/drops
  the unlabeled cells.  Multi-probe sites (``SLJ032a-B``) keep their probe in
  ``site`` (4-part cell ids).
* A stimulus whose trimmed tile differs between sites keeps the first one;
  the difference is recorded (``provenance.quirks``).
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from pathlib import Path

import numpy as np

from strfh5.errors import MissingRawFileError, RawDataError
from .base import (Option, QuirkLog, ReleaseFile, SourceInfo, check_options, converter_meta, parse_number, provenance,
                   read_csv_dicts, validated_output)
from .nems_recording import POINT_PROCESS, TILED, read_recording, site_row, spikes_in_epochs

__all__ = ["SOURCE", "convert", "parse_cell_id", "padded_id"]

_ZENODO = "https://zenodo.org/records/18331549/files"
AREAS = ("A1", "PEG", "AC", "HC")

SOURCE = SourceInfo(
    id="wingert2026",
    title="Awake ferret A1/PEG responses to long natural-sound sequences (Wingert et al. 2026)",
    # sources.md gives only the first author's surname, the year and the record; the full author list and the
    # record's own title are not verified here, so the citation says so rather than inventing them.
    citation=(
        "Wingert et al. (2026). Awake ferret A1/PEG single-unit recordings during long natural-sound sequences "
        "(data set, Zenodo record 18331549). doi:10.5281/zenodo.18331549. Unverified: the full author list and "
        "the record's exact title; cite the record as its landing page asks."
    ),
    doi="10.5281/zenodo.18331549",
    license="CC-BY 4.0 (Zenodo record 18331549)",
    access="open",
    homepage="https://zenodo.org/records/18331549",
    species="ferret (Mustela putorius furo), awake",
    files=(
        ReleaseFile("recordings.zip", f"{_ZENODO}/recordings.zip", unpack="zip"),
        ReleaseFile("cell_list.csv", f"{_ZENODO}/cell_list.csv"),
        ReleaseFile("wav.zip", f"{_ZENODO}/wav.zip", optional=True),
        ReleaseFile("models.zip", f"{_ZENODO}/models.zip", optional=True),
    ),
    options=(
        Option("areas", str, None, "keep only cells of these areas (default: all)", choices=AREAS, multiple=True),
        Option("include_unlabeled", bool, True, "keep cells absent from cell_list.csv"),
        Option("keep_silence", bool, False,
               "store each released tile with its silence padding (times from the epoch start; the padded and "
               "unpadded versions of a sound become separate stimuli) instead of trimming it to the sound"),
    ),
    schema="wingert2026",
    verified="reference_reader",
    verification=("fixtures built to the deepSTRF Wingert loader and the NEMS0 recording format (the NEMS reader "
                  "itself matches a real NEMS recording exactly); no file of this release was available"),
    version="2",
)


def parse_cell_id(cell: str) -> dict:
    """``'CLT012a-001-1'`` or ``'SLJ032a-B-005-1'`` -> site, animal, probe, electrode, unit_in_electrode."""
    parts = cell.split("-")
    if len(parts) == 3:
        site, probe, el, unit = parts[0], None, parts[1], parts[2]
    elif len(parts) == 4:
        site, probe, el, unit = f"{parts[0]}-{parts[1]}", parts[1], parts[2], parts[3]
    else:
        raise RawDataError(f"Wingert cell id {cell!r} is not <site>[-<probe>]-<electrode>-<unit>")
    am = re.match(r"[A-Za-z]+", site)
    asint = lambda v: int(v) if v.isdigit() else None  # noqa: E731
    return {"site": site, "animal": am.group(0) if am else site, "probe": probe, "electrode": asint(el),
            "unit_in_electrode": asint(unit)}


def _cell_list(path: Path) -> dict[str, dict]:
    need = ("cellid", "siteid", "area", "layer", "depth", "narrow", "celltype", "sw", "goodpred")
    rows = read_csv_dicts(path, "cell_list.csv (cell metadata)", required=need)

    def num(v, where):
        t = (v or "").strip()
        if t.lower() in ("", "nan", "none", "null", "na", "n/a"):
            return None
        return parse_number(t, where)

    def boolean(v, where):
        t = (v or "").strip().lower()
        if t in ("", "nan", "none", "null", "na", "n/a"):
            return None
        if t in ("true", "1", "1.0"):
            return True
        if t in ("false", "0", "0.0"):
            return False
        raise RawDataError(f"{where}: {v!r} is not a boolean (True/False/1/0, or empty)")

    out = {}
    for i, r in enumerate(rows, start=2):
        at = f"{path} row {i}"
        out[r["cellid"].strip()] = {
            "siteid": r["siteid"].strip(), "area": r["area"].strip() or None, "layer": r["layer"].strip() or None,
            "depth": num(r["depth"], f"{at}, depth"), "narrow": boolean(r["narrow"], f"{at}, narrow"),
            "celltype": r["celltype"].strip() or None, "sw": num(r["sw"], f"{at}, sw"),
            "goodpred": boolean(r["goodpred"], f"{at}, goodpred"),
        }
    return out


def _silence(epochs, start: float, end: float, name: str, at_start: bool) -> float:
    b = epochs.within(name, start, end)
    if b.shape[0] == 0:
        return 0.0
    hit = b[np.isclose(b[:, 0], start, atol=1e-6)] if at_start else b[np.isclose(b[:, 1], end, atol=1e-6)]
    return float(hit[0, 1] - hit[0, 0]) if hit.shape[0] else 0.0


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _distinct_archives(archives: list[Path], quirks: QuirkLog) -> tuple[list[Path], list[str]]:
    """The archives to read (byte-identical copies of an earlier one dropped, recorded) and the dropped names."""
    digests: dict[str, str] = {}
    kept, dropped = [], []
    for a in archives:
        h = _sha256(a)
        if h in digests:
            dropped.append(a.name)
            quirks.add("duplicate_archive", f"{a.name} is identical to {digests[h]}; dropped", archive=a.name,
                       same_as=digests[h])
            continue
        digests[h] = a.name
        kept.append(a)
    return kept, dropped


def _new_cells(arch: Path, chans: list[str], seen_cells: dict[str, str], quirks: QuirkLog) -> bool:
    """Whether ``arch`` holds a cell not read from an earlier archive; cells seen before are recorded.

    As deepSTRF: cells are deduplicated by cell id, the first archive's copy kept.
    """
    again = [c for c in chans if c in seen_cells]
    if not again:
        return True
    firsts = sorted({seen_cells[c] for c in again})
    new = len(again) < len(chans)
    quirks.add("duplicate_cells",
               f"{arch.name}: {len(again)} of its {len(chans)} cell(s) were already read from {', '.join(firsts)}; "
               "the first archive's copy is kept" + ("" if new else ": archive dropped"),
               archive=arch.name, same_as=firsts, cells=again)
    return new


def _site_stimuli(arch, resp, stim, fs, keep_silence, stim_tiles, stim_info, quirks) -> tuple[dict, set]:
    """One site's stimuli: new tiles added to ``stim_tiles``/``stim_info``; returns (spikes per id, paddings)."""
    per_name, site_pad = {}, set()
    for n in resp.epochs.names("STIM_"):
        b = np.round(resp.epochs.occurrences(n) * fs) / fs
        pre = np.array([_silence(resp.epochs, s, e, "PreStimSilence", True) for s, e in b])
        post = np.array([_silence(resp.epochs, s, e, "PostStimSilence", False) for s, e in b])
        if np.ptp(pre) > 1e-6 or np.ptp(post) > 1e-6:
            raise RawDataError(f"{arch}: the silence padding of {n} differs between its occurrences")
        p0, p1 = int(round(pre[0] * fs)), int(round(post[0] * fs))
        site_pad.add((pre[0], post[0]))
        try:
            tile = np.asarray(stim.data[n], dtype=np.float32)
        except KeyError:
            raise RawDataError(f"{arch}: the stim signal has no tile for epoch {n!r}") from None
        if p0 + p1 >= tile.shape[1]:
            raise RawDataError(f"{arch}: the silences of {n} cover its whole tile")
        if keep_silence:
            sid, info = padded_id(n, float(pre[0]), float(post[0])), {"pre_silence_s": float(pre[0]),
                                                                      "post_silence_s": float(post[0])}
        else:
            sid, info = n, {}
            tile = tile[:, p0 : tile.shape[1] - p1]
        if sid not in stim_tiles:
            stim_tiles[sid] = tile
            stim_info[sid] = {"name": n, **info}
        elif stim_tiles[sid].shape != tile.shape or not np.allclose(stim_tiles[sid], tile, rtol=1e-4, atol=1e-6):
            quirks.add("tile_mismatch", f"{arch.name}: the tile of {sid} differs from the first site's; first kept",
                       name=n, archive=arch.name)
        per_name[sid] = spikes_in_epochs(resp, b, onset_offsets=None if keep_silence else pre)
    return per_name, site_pad


def padded_id(name: str, pre_s: float, post_s: float) -> str:
    """Stimulus id of epoch ``name`` kept with its silences (``keep_silence``): the name when unpadded."""
    return name if pre_s == 0 and post_s == 0 else f"{name}|pre{pre_s:g}s|post{post_s:g}s"


def convert(raw_dir, out_path, *, overwrite: bool = False, **options) -> Path:
    """Convert the Wingert 2026 release in ``raw_dir`` to ``out_path`` (see module docstring)."""
    opts = check_options(SOURCE, options)
    areas = opts["areas"]
    keep_silence = bool(opts["keep_silence"])
    raw = Path(raw_dir)
    quirks = QuirkLog("wingert2026")
    cells_info = _cell_list(raw / "cell_list.csv")
    archives = sorted(p for p in raw.rglob("*.tgz") if not p.name.startswith("._"))
    if not archives:
        raise MissingRawFileError(f"{raw}: no per-site archives recordings/<SITE>_<hash>.tgz (unpack recordings.zip)")
    kept, dropped = _distinct_archives(archives, quirks)
    stim_tiles: OrderedDict[str, np.ndarray] = OrderedDict()
    stim_info: dict[str, dict] = {}  # stimulus id -> epoch name and the silences its tile holds
    padding = {}
    sites = []
    fs = None
    seen_cells: dict[str, str] = {}
    for arch in kept:
        rec = read_recording(arch, signals=["resp", "stim"])
        resp, stim = rec["resp"], rec["stim"]
        if resp.kind != POINT_PROCESS or stim.kind != TILED:
            raise RawDataError(f"{arch}: expected a point-process resp and a tiled stim, got {resp.kind}/{stim.kind}")
        if resp.epochs is None:
            raise RawDataError(f"{arch}: the resp signal has no epoch table")
        chans = list(resp.chans or list(resp.data))
        if not _new_cells(arch, chans, seen_cells, quirks):
            dropped.append(arch.name)
            continue
        fs = fs or stim.fs
        if stim.fs != fs:
            raise RawDataError(f"{arch}: stim fs {stim.fs} differs from {fs} of the other sites")
        per_name, site_pad = _site_stimuli(arch, resp, stim, fs, keep_silence, stim_tiles, stim_info, quirks)
        padding[arch.name] = [{"pre_s": a, "post_s": b} for a, b in sorted(site_pad)]
        cells = []
        for c in chans:
            if c in seen_cells:
                continue
            seen_cells[c] = arch.name
            info = cells_info.get(c)
            if info is None and not opts["include_unlabeled"]:
                continue
            if areas and (info is None or info["area"] not in areas):
                continue
            cells.append(c)
        sites.append({"archive": arch.name, "recording": rec.name, "meta_siteid": (rec.meta or {}).get("siteid"),
                      "cells": cells, "per_name": per_name})

    neuron_ids, nrn_meta, owner = [], [], []
    for si, st in enumerate(sites):
        for c in st["cells"]:
            parsed = parse_cell_id(c)
            info = cells_info.get(c)
            meta = {"cell_id": c, **parsed, "archive": st["archive"], "labeled": info is not None}
            if info and info["area"]:
                meta["area"] = info["area"]
            if info:
                meta.update({k: info[k] for k in ("layer", "depth", "narrow", "celltype", "sw", "goodpred")})
                if info["siteid"] and info["siteid"] != parsed["site"]:
                    meta["siteid_listed"] = info["siteid"]
            if st["meta_siteid"] and st["meta_siteid"] != parsed["site"].split("-")[0]:
                meta["meta_siteid"] = st["meta_siteid"]
            neuron_ids.append(c)
            nrn_meta.append(meta)
            owner.append((si, c))
    if not neuron_ids:
        raise RawDataError(f"{raw}: no cell left after the area/label filters")
    F = {t.shape[0] for t in stim_tiles.values()}
    if len(F) != 1:
        raise RawDataError(f"{raw}: the stimulus tiles have different numbers of bands {sorted(F)}")
    F = F.pop()
    dt_ms = 1000.0 / fs
    file_meta = SOURCE.file_meta(
        preparation="awake, passive listening", response_units="ms", converter=converter_meta(SOURCE, opts),
        dropped_archives=dropped, silence_padding=padding,
        time_origin=(
            "epoch start: each released tile kept with its silence padding (keep_silence); a sound played with "
            "and without padding is two stimuli" if keep_silence else
            "sound onset: silence padding of newer sites trimmed from the stimuli, spikes kept"
        ),
    )
    with validated_output(
        out_path, encoding="events", dt_ms=dt_ms, stim_kind="spectrogram", stim_dims=(1, F),
        neuron_ids=neuron_ids, nrn_meta=nrn_meta, file_meta=file_meta, source="wingert2026",
        transform={"kind": "gammatone", "n_bands": int(F), "f_min": 200.0, "f_max": 20000.0, "hop_ms": dt_ms,
                   "compression": "none", "library": "as released (LBHB gammatone-gram, raw linear)"},
        overwrite=overwrite,
    ) as w:
        for s, (sid, tile) in enumerate(stim_tiles.items()):
            info = stim_info[sid]
            w.add_stimulus(tile[None], id=sid, meta={
                **info, "subset": "val" if info["name"].startswith("STIM_00") else "est",
                "duration_s": tile.shape[1] / fs,
            })
            w.write_row(s, site_row(sites, owner, sid))
        file_meta["provenance"] = provenance(SOURCE, opts, quirks)
        w.set_file_meta(file_meta)
    return Path(out_path)
