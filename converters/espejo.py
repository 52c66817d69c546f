"""Espejo — Lopez-Espejo, Schwartz & David (2019), awake ferret A1 (Zenodo 3445557).

Raw layout (``raw_dir``)::

    A1_natural_sounds/NAT/<site>_<hash>.tgz     per-site NEMS recordings, natural sounds (ozgf, F = 18)
    A1_voc_mod_noise/VMN/<site>_<hash>.tgz      per-site NEMS recordings, vocalisation-modulated noise (F = 2)

Each site: ``resp`` point process (spike times, s), ``stim`` tiled signal
(one ``(F, T)`` spectrogram per ``STIM_*`` epoch, 100 Hz), epoch tables.

What the converter does
-----------------------
* One stimulus set per file (``set='NAT'`` or ``'VMN'``: their spectrograms
  differ in F).  Stimuli are the union of the sites' ``STIM_*`` epochs, in
  order of first appearance (archives sorted by name); the stored stimulus
  is the released tile (pre-silence + sound + post-silence).  A name whose
  tile differs between sites keeps the first one, and the difference is
  recorded (``provenance.quirks``).
* **est/val by occurrence count**, per site, as the paper's NEMS
  ``split_using_epoch_occurrence_counts`` (:func:`split_by_occurrence`):
  with three or more distinct repeat counts, val = the stimuli played more
  often than the mean of the distinct counts; with two, the higher count;
  with one, the last 20 % of the names in sorted order.  A stimulus is
  ``subset='val'`` when it is a validation stimulus at some site
  (``val_sites`` lists them), else ``'est'``.
* **Responses** (``events``): for each occurrence ``[start, end)`` of the
  epoch (start rounded to the 100 Hz grid, as NEMS does), the spike times in
  it, in ms from the epoch start (= frame 0 of the stimulus).  A cell has a
  pair for every stimulus its site played, with one repeat per occurrence.
* **Rasterized sites**: three VMN sites (``chn002h``, ``eno023c``,
  ``eno028f``) publish ``resp`` as binned counts.  ``rasterized_sites='skip'``
  (default) leaves them out; ``'bin_centres'`` turns each count into spikes
  at the bin centres (exact at 10 ms and multiples, not finer) and marks
  those neurons ``spike_times_from_bins: true``.  Either way it is recorded.
* A cell id present in several archives (13 VMN ``por*`` cells, recorded in
  several sessions) is kept once per archive; the later ones get the id
  ``<cell>@<site recording>``, all with ``cell_id`` the released id.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from pathlib import Path

import numpy as np

from strfh5.errors import MissingRawFileError, RawDataError
from .base import (Option, QuirkLog, ReleaseFile, SourceInfo, check_options, converter_meta, provenance,
                   validated_output)
from .nems_recording import (POINT_PROCESS, RASTERIZED, TILED, counts_as_bin_centres, read_recording,
                             site_row, spikes_in_epochs)

__all__ = ["SOURCE", "convert", "split_by_occurrence"]

_ZENODO = "https://zenodo.org/records/3445557/files"
SETS = {"NAT": "A1_natural_sounds", "VMN": "A1_voc_mod_noise"}

SOURCE = SourceInfo(
    id="espejo",
    title="Awake ferret A1 responses to natural sounds and vocalisation-modulated noise (Lopez-Espejo et al. 2019)",
    citation=(
        "Lopez Espejo M, Schwartz ZP, David SV (2019). Spectral tuning of adaptation supports coding of "
        "sensory context in auditory cortex. PLoS Comput Biol 15(10): e1007430."
    ),
    doi="10.5281/zenodo.3445557",
    license="CC-BY 4.0 (Zenodo record 3445557)",
    access="open",
    homepage="https://zenodo.org/records/3445557",
    species="ferret (Mustela putorius furo), awake",
    files=(
        ReleaseFile("A1_natural_sounds.tgz", f"{_ZENODO}/A1_natural_sounds.tgz", unpack="tar"),
        ReleaseFile("A1_voc_mod_noise.tgz", f"{_ZENODO}/A1_voc_mod_noise.tgz", unpack="tar"),
    ),
    options=(
        Option("set", str, "NAT", "stimulus set: natural sounds or vocalisation-modulated noise", choices=tuple(SETS)),
        Option("rasterized_sites", str, "skip", "sites publishing binned resp: leave out, or spikes at bin centres",
               choices=("skip", "bin_centres")),
    ),
    schema="espejo",
    verified="reference_reader",
    verification=("fixtures built to the NEMS0 recording format and split rule (the NEMS reader itself matches a "
                  "real NEMS recording exactly); no file of this release was available"),
    version="2",
)


def split_by_occurrence(counts: dict[str, int]) -> tuple[list[str], list[str]]:
    """``(est, val)`` names of one site, as NEMS ``split_using_epoch_occurrence_counts``.

    Names are grouped by how many times the site played them:

    * three or more distinct counts: val = the names whose count exceeds the
      mean of the distinct counts, est = the others;
    * two distinct counts: val = the names of the higher count;
    * one count (every name played equally): the names sorted, the last
      20 % (``n - floor(0.8 n)``) are val.

    Both lists keep the order of ``counts``.
    """
    if not counts:
        return [], []
    distinct = sorted(set(counts.values()))
    if len(distinct) == 1:
        names = sorted(counts)
        val_set = set(names[int(np.floor(len(names) * 0.8)):])
    elif len(distinct) == 2:
        val_set = {n for n, c in counts.items() if c == distinct[1]}
    else:
        mean = float(np.mean(distinct))
        val_set = {n for n, c in counts.items() if c > mean}
    return [n for n in counts if n not in val_set], [n for n in counts if n in val_set]


def _archives(raw: Path, set_name: str) -> list[Path]:
    found = sorted(p for p in raw.rglob("*.tgz") if p.parent.name == set_name and not p.name.startswith("._"))
    if not found:
        raise MissingRawFileError(
            f"{raw}: no per-site archives {SETS[set_name]}/{set_name}/<site>_<hash>.tgz (unpack "
            f"{SETS[set_name]}.tgz there)"
        )
    return found


def _parse_cell(cell: str) -> dict:
    m = re.match(r"^(?P<site>[A-Za-z]+\d+[a-z]?)-(?P<el>\d+)-(?P<unit>\d+)$", cell)
    if m:
        site, el, unit = m.group("site"), int(m.group("el")), int(m.group("unit"))
    else:
        site = cell.split("-")[0]
        el = unit = None
    am = re.match(r"[A-Za-z]+", site)
    return {"site": site, "animal": am.group(0) if am else site, "electrode": el, "unit_in_electrode": unit}


def _neurons(sites: list[dict], set_name: str, raw: Path, quirks: QuirkLog) -> tuple[list, list, list]:
    """Neuron ids, metadata and ``(site index, cell)`` owners; a cell in several archives kept once per archive."""
    neuron_ids, nrn_meta, owner = [], [], []
    seen: set[str] = set()
    for si, st in enumerate(sites):
        for c in st["cells"]:
            nid = c if c not in seen else f"{c}@{st['site']}"
            if nid != c:
                quirks.add("cell_in_several_archives", f"cell {c} also in {st['archive']}: kept as {nid}",
                           cell_id=c, archive=st["archive"])
            if nid in seen:
                raise RawDataError(f"{raw}: cell {c} appears twice in recording {st['site']}")
            seen.add(nid)
            neuron_ids.append(nid)
            meta = {"cell_id": c, "area": "A1", "set": set_name, "recording": st["site"], "archive": st["archive"],
                    **_parse_cell(c)}
            if st["rast"]:
                meta["spike_times_from_bins"] = True
            nrn_meta.append(meta)
            owner.append((si, c))
    return neuron_ids, nrn_meta, owner


def convert(raw_dir, out_path, *, overwrite: bool = False, **options) -> Path:
    """Convert one stimulus set of the Espejo release in ``raw_dir`` to ``out_path``."""
    opts = check_options(SOURCE, options)
    set_name = opts["set"]
    raw = Path(raw_dir)
    quirks = QuirkLog("espejo")
    sites = []  # per site: dict(name, cells, occ {name: bounds}, spikes {cell: {name: [arrays]}}, val, rast)
    stim_tiles: OrderedDict[str, np.ndarray] = OrderedDict()
    val_sites: dict[str, list[str]] = {}
    played_at: dict[str, list[str]] = {}
    fs = None
    for arch in _archives(raw, set_name):
        rec = read_recording(arch, signals=["resp", "stim"])
        resp, stim = rec["resp"], rec["stim"]
        if stim.kind != TILED:
            raise RawDataError(f"{arch}: the stim signal is a {stim.kind} signal, expected a tiled signal")
        if resp.epochs is None:
            raise RawDataError(f"{arch}: the resp signal has no epoch table")
        if fs is None:
            fs = stim.fs
        elif stim.fs != fs:
            raise RawDataError(f"{arch}: stim fs {stim.fs} differs from {fs} of the other sites")
        site = rec.name
        counts = resp.epochs.counts("STIM_")
        if not counts:
            raise RawDataError(f"{arch}: the resp epoch table has no STIM_ epochs")
        est, val = split_by_occurrence(counts)
        bounds = {n: np.round(resp.epochs.occurrences(n) * fs) / fs for n in counts}
        if resp.kind == RASTERIZED:
            if opts["rasterized_sites"] == "skip":
                quirks.add("rasterized_site_skipped", f"{arch.name}: resp is binned counts, not spike times; site "
                           "left out (rasterized_sites='bin_centres' keeps it)", archive=arch.name)
                continue
            quirks.add("rasterized_site_bin_centres", f"{arch.name}: resp is binned counts; spikes placed at the "
                       f"centres of its {1000 / resp.fs:g} ms bins", archive=arch.name)
            per_name = {n: counts_as_bin_centres(resp, b) for n, b in bounds.items()}
        elif resp.kind == POINT_PROCESS:
            per_name = {n: spikes_in_epochs(resp, b) for n, b in bounds.items()}
        else:
            raise RawDataError(f"{arch}: the resp signal is a {resp.kind} signal")
        tiles = stim.data
        for n in counts:
            if n not in tiles:
                raise RawDataError(f"{arch}: the stim signal has no tile for epoch {n!r}")
            tile = np.asarray(tiles[n], dtype=np.float32)
            if n not in stim_tiles:
                stim_tiles[n] = tile
            elif stim_tiles[n].shape != tile.shape or not np.allclose(stim_tiles[n], tile, rtol=1e-5, atol=1e-6):
                quirks.add("tile_mismatch", f"{arch.name}: tile of {n} differs from the first site's; first kept",
                           name=n, archive=arch.name)
            played_at.setdefault(n, []).append(site)
            if n in val:
                val_sites.setdefault(n, []).append(site)
        cells = list(resp.chans or per_name[next(iter(per_name))].keys())
        sites.append({"site": site, "archive": arch.name, "cells": cells, "per_name": per_name,
                      "rast": resp.kind == RASTERIZED})
    if not sites:
        raise RawDataError(f"{raw}: no site of set {set_name} has spike-time responses")
    F = {t.shape[0] for t in stim_tiles.values()}
    if len(F) != 1:
        raise RawDataError(f"{raw}: the {set_name} tiles have different numbers of channels {sorted(F)}")

    neuron_ids, nrn_meta, owner = _neurons(sites, set_name, raw, quirks)
    F = F.pop()
    dt_ms = 1000.0 / fs
    file_meta = SOURCE.file_meta(
        set=set_name, preparation="awake, passive listening", response_units="ms",
        converter=converter_meta(SOURCE, opts),
        split=("per site, NEMS split_using_epoch_occurrence_counts: >= 3 distinct repeat counts: val = count above "
               "the mean of the distinct counts; 2: the higher count; 1: the last 20 % of the sorted names"),
    )
    kind = "ozgf" if set_name == "NAT" else "envelope"
    with validated_output(
        out_path, encoding="events", dt_ms=dt_ms, stim_kind="spectrogram", stim_dims=(1, F),
        neuron_ids=neuron_ids, nrn_meta=nrn_meta, file_meta=file_meta, source="espejo",
        transform={"kind": kind, "n_bands": int(F), "hop_ms": dt_ms, "library": "as released (LBHB baphy/NEMS)"},
        overwrite=overwrite,
    ) as w:
        for s, (name, tile) in enumerate(stim_tiles.items()):
            vs = val_sites.get(name, [])
            w.add_stimulus(tile[None], id=name, meta={
                "name": name, "subset": "val" if vs else "est", "val_sites": vs, "sites": played_at[name],
                "duration_s": tile.shape[1] / fs,
            })
            w.write_row(s, site_row(sites, owner, name))
        file_meta["provenance"] = provenance(SOURCE, opts, quirks)
        w.set_file_meta(file_meta)
    return Path(out_path)
