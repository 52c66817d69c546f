"""CRCNS AA2 (Theunissen lab): zebra finch MLd, OV, Field L and CM single units.

Release layout (three tarballs, each wrapping ``crcns/aa2/``)::

    all_cells/<cell>/<class>/{stimN, spikeN}     classes: conspecific, flatrip, songrip, ...
    all_stims/<MD5>.wav                          flat; 32 kHz 16-bit mono
    cell_regions.csv        cell,region          (L, L1, L2a, L2b, L3, mld, OV, CM, None)
    cell_stim_classes.csv   cell,class1[,class2,...]
    stim_data.csv           fileName,sampleRate,depth,numSamples,stimClass

Whether the CSVs have a header row is not documented: a first row whose
first field is ``cell`` / ``fileName`` is taken as a header, any other as
data.  ``cell_regions.csv`` is required (it gives each cell's area); the other
two are cross-checked when present.

Areas: ``region`` keeps the release label; ``area`` groups the Field L
sub-regions (L, L1, L2a, L2b, L3) as ``Field_L`` and keeps ``mld``, ``OV``,
``CM``, ``None`` (no region in the release).  The ``areas`` option accepts
either level.  Known quirk: a cell's protocol can list the same wav twice;
the trials are merged as one stimulus (warned, and listed in the neuron's
``merged_protocols``).  Everything else is as AA1
(:mod:`strfh5.converters.crcns_aa1`).
"""

from __future__ import annotations

import csv
from pathlib import Path

from strfh5.errors import RawDataError
from .base import Option, ReleaseFile, SourceInfo, parse_number, require_file
from .crcns import AA_SPECTROGRAM, AA_WAV_OPTIONS, CellSpec, convert_aa, parse_cell_name, start_aa
from .audio import spectrogram_options

__all__ = ["SOURCE", "REGION_AREA", "AREAS", "convert", "read_csv_rows"]

#: release region label -> coarse area
REGION_AREA = {"L": "Field_L", "L1": "Field_L", "L2a": "Field_L", "L2b": "Field_L", "L3": "Field_L",
               "mld": "mld", "OV": "OV", "CM": "CM", "None": "None"}
AREAS = ("Field_L", "mld", "OV", "CM", "None")
STIM_CLASSES = ("conspecific", "songrip", "flatrip")
DEFAULT_SPECTROGRAM = AA_SPECTROGRAM
_BASE = "https://download.crcns.org/aa-2"

SOURCE = SourceInfo(
    id="crcns-aa2",
    title="CRCNS AA2: zebra finch MLd, OV, Field L and CM responses to song, song ripples and flat ripples",
    citation=(
        "Gill P., Woolley S.M.N., Fremouw T., Theunissen F.E. (2006); Amin N., Gill P., Theunissen F.E. (2010). "
        "Single-unit recordings from zebra finch auditory areas. CRCNS.org, http://dx.doi.org/10.6080/K0JW8BSC"
    ),
    doi="10.6080/K0JW8BSC",
    license="CRCNS data sharing terms (cite the dataset and its papers)",
    access="CRCNS account (free): set CRCNS_USERNAME and CRCNS_PASSWORD",
    files=(
        ReleaseFile("crcns-aa2-docs.tar.gz", f"{_BASE}/crcns-aa2-docs.tar.gz", None, None, "tar", "crcns", strip=2),
        ReleaseFile("crcns-aa2-all_cells.tar.gz", f"{_BASE}/crcns-aa2-all_cells.tar.gz", None, None, "tar", "crcns",
                    strip=2),
        ReleaseFile("crcns-aa2-all_stims.tar.gz", f"{_BASE}/crcns-aa2-all_stims.tar.gz", None, None, "tar", "crcns",
                    strip=2),
    ),
    options=(
        *spectrogram_options(DEFAULT_SPECTROGRAM, dt_ms=1.0),
        Option("areas", str, list(AREAS), "areas (Field_L, mld, OV, CM, None) or regions (L, L1, L2a, L2b, L3)",
               choices=AREAS + ("L", "L1", "L2a", "L2b", "L3"), multiple=True),
        Option("stim_classes", str, list(STIM_CLASSES), "stimulus classes (class folder names) to convert",
               multiple=True),
        *AA_WAV_OPTIONS,
    ),
    schema="crcns-aa2",
    species="zebra finch (Taeniopygia guttata)",
    homepage="https://crcns.org/data-sets/aa/aa-2",
    verified="real_sample",
    verification=("real Theunissen-lab cells (spike/stim files and MD5-named wavs, public) convert and match the "
                  "raw spike files exactly; the authors' table of the 328 AA2 cells: every cell name and region "
                  "is accepted; spike files parsed strictly (truncated files and odd tokens refused)"),
    version="2",
    audio=(32000.0, 16, "int"),
)


def read_csv_rows(path, header_first: str) -> list[list[str]]:
    """Rows of a release CSV, without a header row whose first field is ``header_first``."""
    p = Path(path)
    try:
        with open(p, newline="", encoding="utf-8-sig") as fh:
            rows = [[x.strip() for x in r] for r in csv.reader(fh) if any(x.strip() for x in r)]
    except UnicodeDecodeError:
        raise RawDataError(f"{p}: not a text CSV file") from None
    if rows and rows[0] and rows[0][0].lower() == header_first.lower():
        rows = rows[1:]
    return rows


def _regions(root: Path) -> dict[str, str]:
    path = require_file(root / "cell_regions.csv", "cell_regions.csv (cell,region)")
    out = {}
    for i, r in enumerate(read_csv_rows(path, "cell"), start=1):
        if len(r) < 2:
            raise RawDataError(f"{path} row {i}: expected 'cell,region', got {','.join(r)!r}")
        out[r[0]] = r[1] if r[1] else "None"
    return out


def convert(raw_dir, out_path, *, overwrite: bool = False, **options) -> Path:
    """Convert the unpacked AA2 release in ``raw_dir`` (``all_cells/``, ``all_stims/``, the CSVs) to ``out_path``.

    Options and return value as :func:`strfh5.converters.crcns_aa1.convert`
    (``strfh5 convert crcns-aa2 --help``); ``areas`` also accepts the
    release's Field L sub-regions (L, L1, L2a, L2b, L3).
    """
    opts, root, log = start_aa(SOURCE, raw_dir, options, overwrite, "all_cells")
    require_file(root / "all_stims", "the all_stims/ folder of wavs")
    regions = _regions(root)
    for reg in sorted(set(regions.values()) - set(REGION_AREA)):
        log.add("unknown_region", f"cell_regions.csv uses region {reg!r}, not a documented label; kept as is",
                region=reg)
    listed: dict[str, list[str]] = {}
    if (root / "cell_stim_classes.csv").is_file():
        for r in read_csv_rows(root / "cell_stim_classes.csv", "cell"):
            listed[r[0]] = [x for x in r[1:] if x]
    else:
        log.add("missing_csv", "cell_stim_classes.csv is absent: class folders are used as found")
    stim_data: dict[str, list[str]] = {}
    if (root / "stim_data.csv").is_file():
        for r in read_csv_rows(root / "stim_data.csv", "fileName"):
            stim_data[r[0]] = r
    else:
        log.add("missing_csv", "stim_data.csv is absent: wav facts are read from the wavs only")

    wanted = set(opts["areas"])
    classes = list(opts["stim_classes"])
    cells = []
    for d in sorted((root / "all_cells").iterdir()):
        if not d.is_dir():
            continue
        region = regions.get(d.name)
        if region is None:
            log.add("cell_without_region", f"{d.name} is not in cell_regions.csv: region 'None'", cell=d.name)
            region = "None"
        area = REGION_AREA.get(region, region)
        if area not in wanted and region not in wanted:
            continue
        meta = {"cell_id": d.name, "area": area, "region": region, **parse_cell_name(d.name)}
        if d.name in listed:
            meta["listed_classes"] = listed[d.name]
        folders = {c: d / c for c in classes if (d / c).is_dir()}
        present = sorted(x.name for x in d.iterdir() if x.is_dir())
        if d.name in listed and set(listed[d.name]) != set(present):
            log.add("class_list_mismatch", f"{d.name}: cell_stim_classes.csv lists {listed[d.name]} but the "
                    f"folder holds {present}", cell=d.name)
        cells.append(CellSpec(d.name, meta, folders))
    if not cells:
        raise RawDataError(f"{root / 'all_cells'}: no cell folder in the selected areas {sorted(wanted)}")

    def wav_path(stim_class: str, name: str) -> Path:
        return root / "all_stims" / name

    def stim_extra(stim_class: str, name: str, meta: dict) -> dict:
        row = stim_data.get(name)
        if row is None:
            return {}
        extra = {}
        if len(row) < 4:
            raise RawDataError(f"stim_data.csv: row for {name} is not 'fileName,sampleRate,depth,numSamples,"
                               f"stimClass': {','.join(row)!r}")
        sr = parse_number(row[1], f"{root / 'stim_data.csv'}: row for {name}, sampleRate")
        n = parse_number(row[3], f"{root / 'stim_data.csv'}: row for {name}, numSamples")
        if not float(n).is_integer():
            raise RawDataError(f"{root / 'stim_data.csv'}: row for {name}: numSamples {row[3]!r} is not a whole "
                               "number")
        n = int(n)
        if sr != meta["sample_rate"] or n != meta["n_samples"]:
            log.add("stim_data_mismatch", f"{name}: stim_data.csv says {n} samples at {sr} Hz, the wav holds "
                    f"{meta['n_samples']} at {meta['sample_rate']} Hz (the wav is used)", wav=name)
        if len(row) > 4 and row[4] and row[4] != stim_class:
            extra["csv_class"] = row[4]
        return extra

    return convert_aa(SOURCE, cells, wav_path, out_path, opts, classes, log, stim_extra=stim_extra,
                      extra_file_meta={"preparation": "anesthetized male zebra finches"})
