"""NAT4 — Pennington & David (2023), awake ferret A1 and PEG, 593 natural sounds (Zenodo 8044773).

Raw layout (``raw_dir``; one area per file)::

    <area>_NAT4_ozgf.fs100.ch18.tgz        population NEMS recording (or the unpacked folder)
    <area>_single_sites/<site>.tgz          per-site NEMS recordings (unpacked <area>_single_sites.zip;
                                            the zip itself is also accepted)
    <area>_pred_correlation.csv             columns include cellid, sig_auditory

What the converter does
-----------------------
* **Stimuli**: every ``STIM_*`` epoch of the population recording, in the
  order they occur in it (the 18 validation sounds ``STIM_00*`` come first);
  the stimulus is the released 18-band ozgf spectrogram over the epoch
  (1.5 s = pre-stimulus silence, 1 s sound, post silence; T = 150 at 10 ms).
  Metadata: ``name`` (the epoch name) and ``subset`` — ``'val'`` for the
  high-repetition ``STIM_00*`` sounds, ``'est'`` otherwise.  ``subset='est'``
  or ``'val'`` keeps only that part.
* **Estimation responses** (``binned`` counts at 10 ms, R = 1) are the
  population recording's ``resp`` over each est epoch.  A cell whose values
  are all NaN over an epoch was not recorded then: the pair is missing.
  The release describes its est signal as rasterized rates and nothing
  downstream (deepSTRF's NAT4 loaders, NEMS0) checks that the values are
  whole counts.  When they all are, the file stores ``counts``; when any is
  fractional the whole file stores the values as released
  (``response_kind='continuous'``, float32, spikes/bin) — val counts
  included — and the quirk ``fractional_est_values`` records how many
  values were fractional (never rounded).  Negative or infinite values are
  refused, naming the file, cell and epoch.
* **Validation responses** are *trial-resolved*: for each cell, the spike
  times of its site's recording (``<site>.tgz``, point process at 1 kHz) in
  each occurrence ``[start, start + 1.5 s)`` of the val epoch are counted in
  10 ms bins (bin ``floor((t - start) / 10 ms)``, ``start`` on the 1 kHz
  grid) — the 1 kHz raster summed ×10.  The population recording's val
  responses are the average of these repeats; they are *not* stored (a
  binned-count file cannot hold averages, and they are derivable), but are
  compared with the mean of the trial-resolved counts and the largest
  difference is recorded in the file metadata (``val_check``).  Cells with
  no single-site val data (33 in A1) have their val pairs missing.
* **Cell ids**: a few single-site ids differ from the population's by the
  zero-padding of the electrode number (``TNC015a-3-1`` vs ``TNC015a-03-1``);
  cells are matched on ``(site, electrode, unit)`` as numbers, the
  population's id is kept, and every such match is listed in the file
  metadata (``provenance.quirks``).
* **Neurons**: the population's cells in its channel order, metadata
  ``cell_id, area, auditory, site, animal, electrode, unit_in_electrode``
  (``auditory`` from ``sig_auditory``; None if the cell is not in the csv).
"""

from __future__ import annotations

import re
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from strfh5.errors import MissingRawFileError, RawDataError
from .base import (Option, QuirkLog, ReleaseFile, SourceInfo, check_options, converter_meta, provenance, read_csv_dicts,
                   validated_output)
from .nems_recording import POINT_PROCESS, RASTERIZED, read_recording

__all__ = ["SOURCE", "convert", "parse_cell_id", "cell_key"]

_ZENODO = "https://zenodo.org/records/8044773/files"
AREAS = ("A1", "PEG")

SOURCE = SourceInfo(
    id="nat4",
    title="NAT4: awake ferret A1 and PEG responses to natural sounds (Pennington & David 2023)",
    citation=(
        "Pennington JR, David SV (2023). A convolutional neural network provides a generalizable model of "
        "natural sound coding by neural populations in auditory cortex. PLoS Comput Biol 19(5): e1011110."
    ),
    doi="10.5281/zenodo.8044773",
    license="CC-BY 4.0 (Zenodo record 8044773)",
    access="open",
    homepage="https://zenodo.org/records/8044773",
    species="ferret (Mustela putorius furo), awake",
    files=tuple(
        f
        for area in AREAS
        for f in (
            ReleaseFile(f"{area}_NAT4_ozgf.fs100.ch18.tgz", f"{_ZENODO}/{area}_NAT4_ozgf.fs100.ch18.tgz"),
            ReleaseFile(f"{area}_single_sites.zip", f"{_ZENODO}/{area}_single_sites.zip", unpack="zip"),
            ReleaseFile(f"{area}_pred_correlation.csv", f"{_ZENODO}/{area}_pred_correlation.csv"),
        )
    )
    + (ReleaseFile("wav.zip", f"{_ZENODO}/wav.zip", optional=True),),
    options=(
        Option("area", str, "A1", "brain area", choices=AREAS),
        Option("subset", str, "all", "stimuli to keep", choices=("all", "est", "val")),
    ),
    schema="nat4",
    verified="reference_reader",
    verification=("fixtures built to deepSTRF's NAT4 loaders and the NEMS0 recording format (the NEMS reader "
                  "itself matches a real NEMS recording exactly); no file of this release was available"),
    version="2",
)

_CELL_RE = re.compile(r"^(?P<site>[A-Za-z]+\d+[a-z]?)-(?P<el>\d+)-(?P<unit>\d+)$")


def parse_cell_id(cell_id: str) -> dict:
    """``'ARM029a-04-1'`` -> site, animal, electrode, unit_in_electrode (RawDataError if malformed)."""
    m = _CELL_RE.match(cell_id)
    if not m:
        raise RawDataError(f"NAT4 cell id {cell_id!r} is not <site>-<electrode>-<unit> (e.g. 'ARM029a-04-1')")
    site = m.group("site")
    return {
        "site": site,
        "animal": re.match(r"[A-Za-z]+", site).group(0),
        "electrode": int(m.group("el")),
        "unit_in_electrode": int(m.group("unit")),
    }


def cell_key(cell_id: str):
    """Id-padding-insensitive key ``(site, electrode, unit)``; the id itself when it does not parse."""
    m = _CELL_RE.match(cell_id)
    return (m.group("site"), int(m.group("el")), int(m.group("unit"))) if m else cell_id


def _find(raw: Path, area: str) -> tuple[Path, Path | None, Path]:
    base = f"{area}_NAT4_ozgf.fs100.ch18"
    pop = next((p for p in (raw / f"{base}.tgz", raw / base) if p.exists()), None)
    if pop is None:
        raise MissingRawFileError(f"{raw}: the population recording {base}.tgz is missing")
    sites = next((p for p in (raw / f"{area}_single_sites", raw / f"{area}_Single_Sites",
                              raw / f"{area}_single_sites.zip") if p.exists()), None)
    csv_path = raw / f"{area}_pred_correlation.csv"
    if not csv_path.exists():
        raise MissingRawFileError(f"{csv_path}: the cell table {csv_path.name} is missing")
    return pop, sites, csv_path


def _read_auditory(path: Path) -> dict:
    rows = read_csv_dicts(path, "the cell table", required=("cellid", "sig_auditory"))
    out = {}
    for i, r in enumerate(rows, start=2):
        v = str(r["sig_auditory"]).strip().lower()
        if v in ("true", "1", "1.0", "yes"):
            val = True
        elif v in ("false", "0", "0.0", "no"):
            val = False
        else:
            raise RawDataError(f"{path} line {i}: sig_auditory {r['sig_auditory']!r} is not a boolean")
        out[cell_key(r["cellid"].strip())] = val
    return out


def _site_archives(sites: Path | None, tmp: Path) -> list[Path]:
    if sites is None:
        return []
    if sites.is_dir():
        return sorted(p for p in sites.rglob("*.tgz") if not p.name.startswith("._"))
    out = []
    with zipfile.ZipFile(sites) as zf:
        for name in zf.namelist():
            base = name.rsplit("/", 1)[-1]
            if base.endswith(".tgz") and not base.startswith("._"):
                dest = tmp / base
                dest.write_bytes(zf.read(name))
                out.append(dest)
    return sorted(out)


def _val_counts(site_path: Path, val_names: list[str], T: dict[str, int], fs_out: float) -> dict:
    """``{(cell key): {val name: (R, T) counts}}`` for one single-site recording."""
    rec = read_recording(site_path, signals=["resp"])
    resp = rec["resp"]
    if resp.kind != POINT_PROCESS:
        raise RawDataError(f"{site_path}: the single-site 'resp' signal is a {resp.kind} signal, expected spike times")
    if resp.epochs is None:
        raise RawDataError(f"{site_path}: the single-site recording has no resp epoch table")
    spikes = resp.data
    out: dict = {}
    for name in val_names:
        b = resp.epochs.occurrences(name)
        if b.shape[0] == 0:
            continue
        starts = np.round(b[:, 0] * resp.fs) / resp.fs
        n = T[name]
        for chan, t in spikes.items():
            counts = np.zeros((b.shape[0], n), dtype=np.int64)
            for k, t0 in enumerate(starts):
                rel = t[(t >= t0) & (t < t0 + n / fs_out)] - t0
                idx = np.floor(rel * fs_out + 1e-9).astype(np.int64)
                idx = idx[(idx >= 0) & (idx < n)]
                np.add.at(counts[k], idx, 1)
            out.setdefault(chan, {})[name] = counts
    return out


def _est_integrality(x_resp, keep, subsets, resp, fs, cells, pop_path) -> tuple[bool, int]:
    """``(all est values whole, number of fractional values)`` over the kept est epochs.

    Refuses negative or infinite values (NaN marks a cell not recorded).
    """
    n_frac = 0
    for name in keep:
        if subsets[name] != "est":
            continue
        b = resp.bounds(name)
        r = x_resp[:, int(round(b[0, 0] * fs)) : int(round(b[0, 1] * fs))]
        bad = np.isinf(r) | (r < 0)
        if bad.any():
            n = int(np.argwhere(bad)[0][0])
            raise RawDataError(f"{pop_path}: resp of cell {cells[n]} over est epoch {name} holds a negative or "
                               "infinite value (a spike count or rate cannot)")
        fin = r[np.isfinite(r)]
        n_frac += int(np.count_nonzero(fin != np.round(fin)))
    return n_frac == 0, n_frac


def _val_responses(raw, area, sites_path, val_names, T, fs, cells, out_path, quirks) -> dict[int, dict]:
    """Trial-resolved val counts per population cell index, from the single-site recordings."""
    key_to_n = {cell_key(c): i for i, c in enumerate(cells)}
    val: dict[int, dict[str, np.ndarray]] = {}
    if val_names:
        if sites_path is None:
            raise MissingRawFileError(
                f"{raw}: {area}_single_sites (the per-site recordings with the validation repeats) is missing"
            )
        with tempfile.TemporaryDirectory(dir=Path(out_path).parent) as tmp:
            archives = _site_archives(sites_path, Path(tmp))
            if not archives:
                raise MissingRawFileError(f"{sites_path}: no <site>.tgz single-site recordings found")
            for arch in archives:
                for chan, by_name in _val_counts(arch, val_names, T, fs).items():
                    n = key_to_n.get(cell_key(chan))
                    if n is None:
                        quirks.add("site_cell_not_in_population",
                                   f"{arch.name}: cell {chan} is not in the population recording; ignored",
                                   cell_id=chan, archive=arch.name)
                        continue
                    if chan != cells[n]:
                        quirks.add("cell_id_padding", f"{arch.name}: cell {chan} matched to population cell {cells[n]}",
                                   single_site_id=chan, population_id=cells[n])
                    if n in val:
                        raise RawDataError(f"{arch}: cell {chan} also appears in another single-site recording")
                    val[n] = by_name
    return val


def _est_row(r: np.ndarray, cells: list[str], name: str, whole: bool, quirks: QuirkLog) -> tuple[list, int]:
    """One est stimulus' row from the population resp ``(N, T)``; NaN pairs missing. Returns (row, n missing)."""
    row, missing = [], 0
    for n in range(len(cells)):
        v = r[n]
        nan = np.isnan(v)
        if nan.all():
            row.append(None)
            missing += 1
            continue
        if nan.any():
            quirks.add("partial_nan", f"cell {cells[n]}, {name}: {int(nan.sum())} NaN bins; pair left out",
                       cell_id=cells[n], name=name)
            row.append(None)
            continue
        row.append(v.astype(np.int64 if whole else np.float32)[None])
    return row, missing


def _val_row(avg: np.ndarray, val: dict, name: str, n_cells: int, whole: bool) -> tuple[list, float]:
    """One val stimulus' row (trial-resolved counts) and its largest difference from the population average."""
    row, diff = [], 0.0
    for n in range(n_cells):
        counts = val.get(n, {}).get(name)
        row.append(counts if counts is None or whole else counts.astype(np.float32))
        if counts is not None and not np.isnan(avg[n]).all():
            diff = max(diff, float(np.nanmax(np.abs(counts.mean(axis=0) - avg[n]))))
    return row, diff


def _neuron_meta(cells: list[str], area: str, csv_path: Path, quirks: QuirkLog) -> list[dict]:
    """Neuron metadata of the population's cells (``auditory`` from the csv, None when a cell is absent)."""
    auditory = _read_auditory(csv_path)
    nrn_meta = []
    for c in cells:
        parts = parse_cell_id(c)
        aud = auditory.get(cell_key(c))
        if aud is None:
            quirks.add("not_in_csv", f"cell {c} is not in {csv_path.name}: auditory = None", cell_id=c)
        nrn_meta.append({"cell_id": c, "area": area, "auditory": aud, **parts})
    return nrn_meta


def convert(raw_dir, out_path, *, overwrite: bool = False, **options) -> Path:
    """Convert one area of the NAT4 release in ``raw_dir`` to ``out_path`` (see module docstring)."""
    opts = check_options(SOURCE, options)
    area, subset = opts["area"], opts["subset"]
    raw = Path(raw_dir)
    pop_path, sites_path, csv_path = _find(raw, area)
    quirks = QuirkLog("nat4")

    pop = read_recording(pop_path, signals=["resp", "stim"])
    resp, stim = pop["resp"], pop["stim"]
    if resp.kind != RASTERIZED or stim.kind != RASTERIZED:
        raise RawDataError(f"{pop_path}: population resp/stim must be rasterized signals")
    if resp.fs != stim.fs:
        raise RawDataError(f"{pop_path}: resp fs {resp.fs} differs from stim fs {stim.fs}")
    if resp.epochs is None:
        raise RawDataError(f"{pop_path}: the population resp signal has no epoch table")
    fs = resp.fs
    dt_ms = 1000.0 / fs
    cells = list(resp.chans or [])
    if not cells:
        raise RawDataError(f"{pop_path}: the resp sidecar lists no channels (cell ids)")
    names = resp.epochs.names("STIM_")
    if not names:
        raise RawDataError(f"{pop_path}: no STIM_ epochs in the population epoch table")
    subsets = {n: ("val" if n.startswith("STIM_00") else "est") for n in names}
    keep = [n for n in names if subset == "all" or subsets[n] == subset]
    T = {}
    for n in names:
        b = resp.bounds(n)
        T[n] = int(round((b[0, 1] - b[0, 0]) * fs))

    nrn_meta = _neuron_meta(cells, area, csv_path, quirks)

    # trial-resolved val responses from the single sites
    val_names = [n for n in keep if subsets[n] == "val"]
    val = _val_responses(raw, area, sites_path, val_names, T, fs, cells, out_path, quirks)

    x_stim = stim.data
    x_resp = resp.data
    if x_resp.shape[0] != len(cells):
        raise RawDataError(f"{pop_path}: resp has {x_resp.shape[0]} channels for {len(cells)} cell ids")
    whole, n_frac = _est_integrality(x_resp, keep, subsets, resp, fs, cells, pop_path)
    if not whole:
        quirks.add("fractional_est_values",
                   f"{n_frac} est value(s) of {pop_path.name} are not whole spike counts (the release's rasterized "
                   "rates): responses stored as released, response_kind 'continuous' (float32 spikes/bin)",
                   n_values=n_frac)
    val_diff = 0.0
    n_missing_est = 0
    file_meta = SOURCE.file_meta(
        area=area,
        subset=subset,
        preparation="awake, passive listening",
        response_units="spikes/bin" if whole else "spikes/bin (rasterized rates as released; not all whole)",
        converter=converter_meta(SOURCE, opts),
        val_responses=(
            "trial-resolved counts from the single-site recordings (1 kHz spike times counted in 10 ms bins); "
            "the population recording's pre-averaged val responses are not stored"
        ),
    )
    with validated_output(
        out_path, encoding="binned", response_kind="counts" if whole else "continuous", dt_ms=dt_ms,
        stim_kind="spectrogram", stim_dims=(1, x_stim.shape[0]),
        neuron_ids=cells, nrn_meta=nrn_meta, file_meta=file_meta, source="nat4",
        transform={"kind": "ozgf", "n_bands": int(x_stim.shape[0]), "hop_ms": dt_ms, "compression": "log",
                   "library": "as released (LBHB baphy/NEMS ozgf: log-compressed gammatone filterbank)"},
        overwrite=overwrite,
    ) as w:
        for s, name in enumerate(keep):
            b = resp.bounds(name)
            if b.shape[0] != 1:
                quirks.add("repeated_epoch", f"{name} occurs {b.shape[0]} times in the population recording; "
                           "its first occurrence is used", name=name)
            i0, i1 = int(round(b[0, 0] * fs)), int(round(b[0, 1] * fs))
            if i1 > x_stim.shape[1] or i1 > x_resp.shape[1]:
                raise RawDataError(f"{pop_path}: epoch {name} ends at sample {i1}, beyond the recorded data")
            spec = x_stim[:, i0:i1]
            if not np.all(np.isfinite(spec)):
                raise RawDataError(f"{pop_path}: the stim spectrogram contains NaN within epoch {name}")
            w.add_stimulus(spec[None].astype(np.float32), id=name, meta={"name": name, "subset": subsets[name]})
            if subsets[name] == "est":
                row, missing = _est_row(x_resp[:, i0:i1], cells, name, whole, quirks)
                n_missing_est += missing
            else:
                row, diff = _val_row(x_resp[:, i0:i1], val, name, len(cells), whole)
                val_diff = max(val_diff, diff)
            w.write_row(s, row)
        n_with_val = len(val)
        file_meta.update(
            val_check={"max_abs_diff_vs_population_average": val_diff, "cells_with_val": n_with_val,
                       "cells_without_val": len(cells) - n_with_val if val_names else None},
            est_pairs_missing=n_missing_est,
            provenance=provenance(SOURCE, opts, quirks),
        )
        w.set_file_meta(file_meta)
    return Path(out_path)
