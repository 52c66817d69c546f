"""NS1 — Harper et al. (2016), anaesthetised ferret A1, natural sounds (OSF ``ayw2p``).

Raw layout (the OSF release unpacked under ``raw_dir``)::

    MetadataSHEnCneurons.mat                       variable `neuron` (1x119 struct)
    spikesandwav/<exp>/<pen>/cluster.NN.data.mat   variable `data.set` (one struct per stimulus)
    spikesandwav/SH.En.C/source.<S>.sound.0.snr.0.token.0.fw.<Set>.frozen.<k>   WAV, no extension

What the converter does
-----------------------
* **Neurons** are the clusters listed in ``MetadataSHEnCneurons.mat``, in its
  order; the id is the cluster path without ``.data.mat``.  Metadata keep
  every field of the release (path, depth in µm with ``depth_known``, noise
  ratio, ``singleT``/``singleN``, electrode count and number) plus
  ``passes_quality`` (``singleT`` in {Yes, Maybe} and depth >= 0, the filter
  used in the literature).  ``quality_filter=True`` keeps only those neurons;
  by default all are kept.
* **Stimuli** are the 20 natural sounds, in deepSTRF's order: the 12
  ``source.1 ... fw.2.frozen.1..12`` then the 8 ``source.2 ... fw.1.frozen.1..8``.
  A response set is matched to its sound by its ``stim_params``
  (``Source``, ``Set``, ``StimID``), never by position, so clusters with fewer
  sets line up.  Spectrograms are computed with
  :mod:`strfh5.spectrogram` (defaults: 34 log-spaced bands,
  500 Hz–22.6 kHz, 5 ms; all adjustable).  Each stimulus carries
  ``subset`` = ``'train'``/``'test'`` from the split of Rahman et al. (test
  stimuli 3, 6, 9, 19).
* **DRC sets** (``Source`` 9; 12 dynamic random chords, 5 repeats) are kept
  only when their waveforms are supplied with ``drc_dir`` (the release does
  not include them): one WAV per DRC named ``source.9.set.<Set>.token.<Token>``
  (``.wav`` optional).  Otherwise they are left out with a warning and the
  file metadata say so (``omitted``).
* **Responses** (``events`` encoding): ``repeats(r).t`` — spike times in ms from
  stimulus onset — as released, including spikes after the 5 s sound (the
  recording window is ~5.2 s; the reader's window decides).  A cluster without
  a set for a stimulus, or with zero repeats on it, has that pair missing.
* **``_1`` suffix**: some cluster files on OSF carry a ``_1`` suffix the
  metadata path lacks; as deepSTRF's NS1 loader, a missing
  ``cluster.NN.data.mat`` is retried as ``cluster.NN.data_1.mat`` (then
  ``cluster.NN_1.data.mat``) and the substitution is recorded
  (``cluster_file_suffix`` quirk).  The neuron id stays the metadata path.
  Where exactly OSF puts the suffix was not seen on a real download: both
  places are tried, and two candidates at once are refused.
* **Partial downloads**: a cluster named in the metadata whose file is absent
  raises :class:`~strfh5.errors.MissingRawFileError` naming it, unless
  ``partial=True``, which leaves it out with a warning and lists it in the
  file metadata (``missing_clusters``).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from strfh5.errors import MissingRawFileError, RawDataError
from .base import (Option, QuirkLog, ReleaseFile, SourceInfo, check_options, converter_meta, provenance, require_file,
                   validated_output)
from .matlab import as_float_vector, as_scalar, as_str, field, has_field, load_mat, struct_list
from strfh5.spectrogram import SpectrogramParams, spectrogram, transform_dict
from .audio import params_from_options, read_wav, spectrogram_layout, spectrogram_options, waveform_kwargs

__all__ = ["SOURCE", "convert", "NATURAL_ORDER", "TEST_STIMS"]

_DEFAULT_SPEC = SpectrogramParams(kind="log", n_bands=34, f_min=500.0, f_max=22627.0, window_ms=10.0,
                                  hop_ms=5.0, compression="log")

SOURCE = SourceInfo(
    id="ns1",
    title="NS1: ferret primary auditory cortex responses to natural sounds (Harper et al. 2016)",
    citation=(
        "Harper NS, Schoppe O, Willmore BDB, Cui Z, Schnupp JWH, King AJ (2016). Network receptive field "
        "modeling reveals extensive integration and multi-feature selectivity in auditory cortical neurons. "
        "PLoS Comput Biol 12(11): e1005113."
    ),
    doi="10.1371/journal.pcbi.1005113",
    license="CC-BY 4.0 (OSF project ayw2p)",
    access="open",
    homepage="https://osf.io/ayw2p/",
    verified="release_files",
    verification=("12 real cluster files of the OSF release, its MetadataSHEnCneurons.mat and the 20 natural "
                  "waveforms convert and match the .mat spike times exactly"),
    version="2",
    audio=(48828.0, 32, "float"),
    species="ferret (Mustela putorius furo), anaesthetised",
    files=(
        ReleaseFile("MetadataSHEnCneurons.mat", "https://osf.io/download/gdwyd/"),
        ReleaseFile("spikesandwav.zip", "https://osf.io/download/5nxga/", size=None, unpack="zip"),
        ReleaseFile("ReadMe.rtf", "https://osf.io/download/f3rtm/"),
    ),
    options=(
        Option("partial", bool, False, "skip cluster files named in the metadata but absent (partial download)"),
        Option("quality_filter", bool, False, "keep only neurons with singleT in {Yes, Maybe} and depth >= 0"),
        Option("drc_dir", str, None, "folder with the DRC waveforms (source.9.set.<Set>.token.<Token>[.wav])"),
        *spectrogram_options(_DEFAULT_SPEC, dt_ms=5.0),
    ),
    schema="ns1",
)

#: (source, set) of the natural sounds in stimulus order, with their StimIDs
NATURAL_ORDER = [(1, 2, k) for k in range(1, 13)] + [(2, 1, k) for k in range(1, 9)]
#: test stimuli of Rahman et al. (2019) (indices into NATURAL_ORDER)
TEST_STIMS = (3, 6, 9, 19)
_DRC_SOURCE = 9
_WAV_RE = re.compile(r"^source\.(\d+)\.sound\.\d+\.snr\.\d+\.token\.\d+\.fw\.(\d+)\.frozen\.(\d+)$")
_DRC_RE = re.compile(r"^source\.9\.set\.(\d+)\.token\.(\d+)(?:\.wav)?$", re.IGNORECASE)


def _read_metadata(raw: Path) -> list[dict]:
    p = require_file(raw / "MetadataSHEnCneurons.mat", "the neuron metadata MetadataSHEnCneurons.mat")
    neurons = struct_list(load_mat(p, ["neuron"])["neuron"], f"{p}: neuron")
    out = []
    for i, n in enumerate(neurons):
        where = f"{p}: neuron({i + 1})"
        path = as_str(field(n, "path", where), f"{where}.path").strip()
        depth = as_scalar(field(n, "depth", where), f"{where}.depth")
        single_t = as_str(field(n, "singleT", where), f"{where}.singleT").strip()
        rec = {
            "path": path,
            "depth": depth,
            "noise_ratio": as_scalar(field(n, "NoiseRatio", where), f"{where}.NoiseRatio"),
            "single_t": single_t,
            "single_n": as_scalar(field(n, "singleN", where), f"{where}.singleN"),
            "n_electrodes": as_scalar(field(n, "NrOfElectrodes", where), f"{where}.NrOfElectrodes"),
            "electrode": as_scalar(field(n, "ElectrodeNumber", where), f"{where}.ElectrodeNumber"),
        }
        out.append(rec)
    return out


def _neuron_meta(rec: dict) -> dict:
    path = rec["path"]
    parts = path.split("/")
    m = re.search(r"cluster\.(\d+)", parts[-1])
    depth = rec["depth"]
    known = bool(np.isfinite(depth) and depth >= 0)
    as_int = lambda v: int(v) if np.isfinite(v) and float(v).is_integer() else v  # noqa: E731
    return {
        "cell_id": _cell_id(path),
        "area": "A1",
        "path": path,
        "experiment": parts[0] if len(parts) > 1 else "",
        "penetration": "/".join(parts[1:-1]),
        "cluster": int(m.group(1)) if m else None,
        "depth_um": as_int(depth) if np.isfinite(depth) else None,
        "depth_known": known,
        "noise_ratio": float(rec["noise_ratio"]) if np.isfinite(rec["noise_ratio"]) else None,
        "single_t": rec["single_t"],
        "single_n": as_int(rec["single_n"]) if np.isfinite(rec["single_n"]) else None,
        "n_electrodes": as_int(rec["n_electrodes"]) if np.isfinite(rec["n_electrodes"]) else None,
        "electrode": as_int(rec["electrode"]) if np.isfinite(rec["electrode"]) else None,
        "passes_quality": bool(rec["single_t"] in ("Yes", "Maybe") and known),
    }


def suffix_candidates(path: str) -> list[str]:
    """Names a metadata ``path`` may have on OSF with the ``_1`` suffix, most likely first.

    ``exp/pen/cluster.05.data.mat`` -> ``exp/pen/cluster.05.data_1.mat``,
    ``exp/pen/cluster.05_1.data.mat``.
    """
    head, _, name = path.rpartition("/")
    pre = f"{head}/" if head else ""
    out = []
    if name.endswith(".mat"):
        out.append(f"{pre}{name[:-4]}_1.mat")
    if name.endswith(".data.mat"):
        out.append(f"{pre}{name[:-9]}_1.data.mat")
    return out


def cluster_file(spikes_root: Path, path: str, log: QuirkLog) -> Path | None:
    """The cluster file of metadata ``path`` under ``spikes_root``, or None when absent.

    When the name is absent but one of :func:`suffix_candidates` (OSF's
    ``_1`` suffix) is present, that file is used and the quirk recorded
    (``cluster_file_suffix``); two candidates present at once are refused.
    """
    p = spikes_root / path
    if p.is_file():
        return p
    found = [c for c in suffix_candidates(path) if (spikes_root / c).is_file()]
    if len(found) > 1:
        raise RawDataError(f"{spikes_root}: {path} is absent and several suffixed files could stand for it: "
                           f"{', '.join(found)}")
    if not found:
        return None
    log.add("cluster_file_suffix", f"{path} is absent; {found[0]} (the OSF '_1' suffix) is read in its place",
            metadata_path=path, file=found[0])
    return spikes_root / found[0]


def _cell_id(path: str) -> str:
    return path[: -len(".data.mat")] if path.endswith(".data.mat") else path


def _stim_key(params, where: str) -> tuple[int, int, int, int]:
    def get(name):
        if not has_field(params, name):
            raise RawDataError(f"{where}: stim_params has no field {name!r}")
        return int(as_scalar(getattr(params, name), f"{where}.{name}"))

    return get("Source"), get("Set"), get("StimID"), get("Token")


def _read_cluster(path: Path) -> dict[tuple, list[np.ndarray]]:
    """Map ``(Source, Set, StimID, Token)`` -> per-repeat spike times (ms) for one cluster file."""
    data = field(load_mat(path, ["data"])["data"], "set", f"{path}: data")
    sets = struct_list(data, f"{path}: data.set")
    out: dict[tuple, list[np.ndarray]] = {}
    for i, st in enumerate(sets):
        where = f"{path}: data.set({i + 1})"
        key = _stim_key(field(st, "stim_params", where), f"{where}.stim_params")
        reps = field(st, "repeats", where)
        trials = []
        if not (isinstance(reps, np.ndarray) and reps.size == 0):
            for r, rep in enumerate(struct_list(reps, f"{where}.repeats")):
                trials.append(as_float_vector(field(rep, "t", f"{where}.repeats({r + 1})"),
                                              f"{where}.repeats({r + 1}).t"))
        if key in out:
            raise RawDataError(f"{where}: a second set for stimulus (Source, Set, StimID, Token) = {key}")
        out[key] = trials
    return out


def _natural_wavs(raw: Path) -> dict[tuple, Path]:
    folder = raw / "spikesandwav" / "SH.En.C"
    if not folder.is_dir():
        raise MissingRawFileError(f"{folder}: the stimulus folder spikesandwav/SH.En.C is missing")
    found = {}
    for p in folder.iterdir():
        m = _WAV_RE.match(p.name)
        if m and p.is_file():
            found[(int(m.group(1)), int(m.group(2)), int(m.group(3)))] = p
    missing = [f"source.{s}...fw.{st}.frozen.{k}" for s, st, k in NATURAL_ORDER if (s, st, k) not in found]
    if missing:
        raise MissingRawFileError(f"{folder}: natural-sound waveform(s) missing: {', '.join(missing)}")
    return found


def _drc_wavs(folder: Path) -> dict[tuple, Path]:
    if not folder.is_dir():
        raise MissingRawFileError(f"{folder}: drc_dir is not a folder")
    found = {}
    for p in sorted(folder.iterdir()):
        m = _DRC_RE.match(p.name)
        if m and p.is_file():
            found[(int(m.group(1)), int(m.group(2)))] = p
    if not found:
        raise MissingRawFileError(
            f"{folder}: no DRC waveforms named source.9.set.<Set>.token.<Token>[.wav] in drc_dir"
        )
    return found


def convert(raw_dir, out_path, *, overwrite: bool = False, **options) -> Path:
    """Convert the NS1 release unpacked in ``raw_dir`` to ``out_path`` (see module docstring)."""
    opts = check_options(SOURCE, options)
    log = QuirkLog(SOURCE.id)
    raw = Path(raw_dir)
    params = params_from_options(opts)
    meta = _read_metadata(raw)
    if opts["quality_filter"]:
        meta = [m for m in meta if _neuron_meta(m)["passes_quality"]]
    spikes_root = raw / "spikesandwav"
    clusters, missing = [], []
    for rec in meta:
        p = cluster_file(spikes_root, rec["path"], log)
        if p is None:
            missing.append(rec["path"])
            continue
        clusters.append((rec, _read_cluster(p)))
    if missing:
        if not opts["partial"]:
            raise MissingRawFileError(
                f"{spikes_root}: {len(missing)} cluster file(s) named in MetadataSHEnCneurons.mat are absent "
                f"(first: {missing[0]}); pass partial=True (--partial) to convert the clusters present"
            )
        log.add("missing_cluster_files", f"{len(missing)} cluster file(s) absent, left out (first: {missing[0]})",
                files=missing)
    if not clusters:
        raise MissingRawFileError(f"{spikes_root}: none of the cluster files named in the metadata is present")

    # stimuli: natural sounds, then DRCs if supplied
    wavs = _natural_wavs(raw)
    stims = []  # (key for matching, path, meta)
    for i, (src, st, k) in enumerate(NATURAL_ORDER):
        stims.append(((src, st, k, 0), wavs[(src, st, k)], {
            "name": wavs[(src, st, k)].name, "type": "natural", "source": src, "set": st, "stim_id": k,
            "subset": "test" if i in TEST_STIMS else "train",
        }))
    drc_keys = sorted({key for _, sets in clusters for key in sets if key[0] == _DRC_SOURCE},
                      key=lambda k: (k[3], k[1]))
    omitted = {}
    if opts["drc_dir"]:
        drc = _drc_wavs(Path(opts["drc_dir"]))
        absent = [f"set {k[1]} token {k[3]}" for k in drc_keys if (k[1], k[3]) not in drc]
        if absent:
            raise MissingRawFileError(f"{opts['drc_dir']}: DRC waveform(s) missing for {', '.join(absent)}")
        for k in drc_keys:
            p = drc[(k[1], k[3])]
            stims.append((k, p, {"name": p.name, "type": "drc", "source": k[0], "set": k[1], "stim_id": k[2],
                                 "token": k[3], "subset": "train"}))
    elif drc_keys:
        omitted["drc"] = (
            f"{len(drc_keys)} DRC stimuli (Source 9) and their responses are left out: their waveforms are not "
            "in the release (pass drc_dir to include them)"
        )
        log.add("drc_omitted", omitted["drc"], n_stimuli=len(drc_keys))

    nrn_meta = [_neuron_meta(rec) for rec, _ in clusters]
    file_meta = SOURCE.file_meta(
        preparation="anaesthetised (ketamine/medetomidine), extracellular",
        response_units="ms",
        references=["Rahman M, Willmore BDB, King AJ, Harper NS (2019) train/test split: test stimuli 3, 6, 9, 19"],
        converter=converter_meta(SOURCE, opts),
        missing_clusters=missing,
        omitted=omitted,
        quality_filter=bool(opts["quality_filter"]),
        stimulus_sample_rate_note="WAV headers say 48828 Hz; the TDT rate is 48828.125 Hz",
    )
    _, sr0 = read_wav(stims[0][1])
    with validated_output(
        out_path, encoding="events", neuron_ids=[m["cell_id"] for m in nrn_meta], nrn_meta=nrn_meta,
        file_meta=file_meta, source="ns1", overwrite=overwrite, **spectrogram_layout(params, transform_dict(params, sr0)),
    ) as w:
        for s, (key, path, smeta) in enumerate(stims):
            x, sr = read_wav(path)
            if sr != sr0:
                raise RawDataError(f"{path}: sample rate {sr} Hz differs from the {sr0} Hz of {stims[0][1].name}")
            spec, _ = spectrogram(x, sr, params)
            smeta = dict(smeta, sample_rate=sr, n_samples=int(x.shape[1]), duration_s=x.shape[1] / sr)
            w.add_stimulus(spec, id=smeta["name"], meta=smeta, **waveform_kwargs(x, sr, opts["keep_waveform"]))
            row = []
            for _, sets in clusters:
                trials = sets.get(key)
                row.append(trials if trials else None)
            w.write_row(s, row)
        w.set_file_meta({**file_meta, "provenance": provenance(SOURCE, opts, log)})
    return Path(out_path)
