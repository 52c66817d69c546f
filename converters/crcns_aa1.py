"""CRCNS AA1 (Theunissen lab): zebra finch Field L and MLd single units.

Release layout (``crcns-aa1.zip``, unpacked flat)::

    all_stims/<class>/<MD5>.wav                      32 kHz 16-bit mono
    Field_L_cells/<cell>/<class>/{stimN, spikeN}
    MLd_cells/<cell>/<class>/{stimN, spikeN}

with classes ``conspecific`` (songs) and ``flatrip`` (modulation-limited
noise).  Cell folders are ``<bird>_<n-th cell>[_<rig>]`` (``gg0304_4_B``).
Spike and stim files follow :mod:`strfh5.converters.crcns`.

The output is an ``events`` file: spike times in ms from stimulus onset,
every trial, pre-onset (to -2000 ms) and post-stimulus spikes included;
stimulus id = wav MD5, neuron id = cell folder name (prefixed with its area
when the same name appears in both area folders).  Stimuli are mel
spectrograms (:mod:`strfh5.spectrogram`) at ``dt_ms``.
"""

from __future__ import annotations

from pathlib import Path

from strfh5.errors import RawDataError

from .base import Option, ReleaseFile, SourceInfo
from .crcns import AA_SPECTROGRAM, AA_WAV_OPTIONS, CellSpec, convert_aa, parse_cell_name, start_aa
from .audio import spectrogram_options

__all__ = ["SOURCE", "AREAS", "STIM_CLASSES", "convert"]

#: area label -> cell folder of the release
AREAS = {"Field_L": "Field_L_cells", "MLd": "MLd_cells"}
STIM_CLASSES = ("conspecific", "flatrip")
DEFAULT_SPECTROGRAM = AA_SPECTROGRAM

SOURCE = SourceInfo(
    id="crcns-aa1",
    title="CRCNS AA1: zebra finch Field L and MLd responses to song and flat ripples",
    citation=(
        "Theunissen F.E. et al. (2008). Single-unit recordings from the zebra finch auditory midbrain (MLd) and "
        "primary auditory forebrain (Field L) in response to conspecific song and modulation-limited noise. "
        "CRCNS.org, http://dx.doi.org/10.6080/K0F769GP"
    ),
    doi="10.6080/K0F769GP",
    license="CRCNS data sharing terms (cite the dataset and its papers)",
    access="CRCNS account (free): set CRCNS_USERNAME and CRCNS_PASSWORD",
    files=(
        ReleaseFile("crcns-aa1.zip", "https://download.crcns.org/aa-1/crcns-aa1.zip", None, 17_000_000, "zip",
                    "crcns"),
    ),
    options=(
        *spectrogram_options(DEFAULT_SPECTROGRAM, dt_ms=1.0),
        Option("areas", str, list(AREAS), "areas to convert", choices=tuple(AREAS), multiple=True),
        Option("stim_classes", str, list(STIM_CLASSES), "stimulus classes to convert", choices=STIM_CLASSES,
               multiple=True),
        *AA_WAV_OPTIONS,
    ),
    schema="crcns-aa1",
    species="zebra finch (Taeniopygia guttata)",
    homepage="https://crcns.org/data-sets/aa/aa-1",
    verified="real_sample",
    verification=("real Theunissen-lab cells in the AA text format (public spike/stim files, MD5-named wavs) "
                  "convert and match the raw spike files exactly; spike files parsed strictly"),
    version="2",
    audio=(32000.0, 16, "int"),
)


def convert(raw_dir, out_path, *, overwrite: bool = False, **options) -> Path:
    """Convert the unpacked AA1 release in ``raw_dir`` to ``out_path``.

    Parameters
    ----------
    raw_dir : path-like
        Folder holding ``all_stims/``, ``Field_L_cells/`` and ``MLd_cells/``
        (or a single folder wrapping them).
    out_path : path-like
        The ``.strf.h5`` to write (validated before it is renamed into place).
    overwrite : bool
        Replace an existing ``out_path``.
    **options
        See ``SOURCE.options`` (``strfh5 convert crcns-aa1 --help``): the
        spectrogram (``dt_ms``, ``n_bands``, ...), ``areas``,
        ``stim_classes``, ``skip_missing_wavs``, ``check_md5``,
        ``keep_waveform``.

    Returns
    -------
    pathlib.Path
    """
    opts, root, log = start_aa(SOURCE, raw_dir, options, overwrite, "all_stims")
    areas = list(opts["areas"])
    classes = list(opts["stim_classes"])
    found: list[tuple[str, Path]] = []
    for area in areas:
        folder = root / AREAS[area]
        if not folder.is_dir():
            log.add("missing_area_folder", f"{folder} is absent: no {area} cells", area=area)
            continue
        found += [(area, d) for d in sorted(folder.iterdir()) if d.is_dir()]
    names = [d.name for _, d in found]
    cells = []
    for area, d in found:
        nid = d.name if names.count(d.name) == 1 else f"{area}/{d.name}"
        meta = {"cell_id": d.name, "area": area, **parse_cell_name(d.name)}
        folders = {c: d / c for c in classes if (d / c).is_dir()}
        for c in classes:
            if c not in folders:
                log.add("cell_without_class", f"{area}/{d.name} has no {c} folder", cell=d.name, stim_class=c)
        cells.append(CellSpec(nid, meta, folders))
    if not cells:
        raise RawDataError(f"{root}: no cell folders under {', '.join(AREAS[a] for a in areas)}")

    def wav_path(stim_class: str, name: str) -> Path:
        return root / "all_stims" / stim_class / name

    return convert_aa(SOURCE, cells, wav_path, out_path, opts, classes, log,
                      extra_file_meta={"preparation": "anesthetized male zebra finches"})
