"""CRCNS AA4 (Elie & Theunissen 2019): zebra finch auditory forebrain units, songs and calls.

Release layout (one tarball per animal, wrapping ``<animal>/``)::

    <animal>/<cell>.h5             one HDF5 file per unit
    <animal>/wavfiles/stim<N>.wav  per-animal numbering (not unique across animals)

Unit file name: ``Site<S>_L<ldepth>R<rdepth>_e<electrode>_s<sortid>[_ss<offline sort>].h5``.
HDF5 content: file attributes ``sortType`` (single, multi, noise, tdt; the typo
``singl`` exists), ``site``, ``electrode``, ``ldepth``, ``rdepth`` (µm),
``sortid``; top-level groups are stimulus classes / protocols (``class_info``
and ``extra_info`` are metadata and skipped); inside, one group per stimulus
number ``N`` (↔ ``wavfiles/stimN.wav``) with attributes ``stim_type`` (song,
call, mlnoise), ``stim_class``, ``stim_md5``, ``stim_duration`` (s); inside,
one group per trial holding ``spike_times`` in **seconds** from stimulus
onset (negative = pre-onset).  An empty trial is stored as the scalar -999
(an empty dataset is accepted too).

Output: ``events`` file with spike times in ms (seconds × 1000); stimulus id =
upper-case ``stim_md5`` (one stimulus however many animals heard it); neuron
id = ``<animal>/<unit file stem>``.  The release has no per-unit area label.
Wavs of different sample rates cannot share one spectrogram transform: by
default, when the selected wavs' rates differ, every wav is resampled
(exact rational polyphase) to the highest of them, so no wav loses
bandwidth, and the ``mixed_sample_rates`` quirk records the rates;
``resample_hz`` chooses the rate instead (the original rate stays in the
stimulus metadata).  A child that is not a group where a stimulus or trial
group belongs is skipped and recorded (``non_group_child``), as deepSTRF's
reader skips it.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from strfh5.arguments import positive_number
from strfh5.errors import ConverterError, MissingRawFileError, RawDataError
from .base import (Option, QuirkLog, ReleaseFile, SourceInfo, check_options, converter_meta, provenance,
                   raw_folder, validated_output)
from .crcns import AA_SPECTROGRAM
from strfh5.spectrogram import spectrogram, transform_dict
from .audio import (match_rate, params_from_options, read_wav, resampled_transform, spectrogram_layout,
                    spectrogram_options, waveform_kwargs, wav_rate)

__all__ = ["SOURCE", "ANIMALS", "convert", "parse_unit_name", "read_unit"]

ANIMALS = ("BlaBro09xxF", "GreBlu9508M", "LblBlu2028M", "WhiBlu5396M", "WhiWhi4522M", "YelBlu6903F")
METADATA_GROUPS = ("class_info", "extra_info")
EMPTY_TRIAL = -999.0
UNIT_RE = re.compile(r"^Site(?P<site>\d+)_L(?P<ld>\d+)R(?P<rd>\d+)_e(?P<el>\d+)_s(?P<sort>\d+)(?:_ss(?P<ss>\d+))?$")
DEFAULT_SPECTROGRAM = AA_SPECTROGRAM

SOURCE = SourceInfo(
    id="crcns-aa4",
    title="CRCNS AA4: zebra finch auditory forebrain (Field L, CLM, CMM, NCM) responses to vocalizations",
    citation=(
        "Elie J.E., Theunissen F.E. (2019). Invariant neural responses for sensory categories revealed by the "
        "time-varying information for communication calls. PLoS Comput Biol; data: CRCNS.org, "
        "http://dx.doi.org/10.6080/K00C4T06"
    ),
    doi="10.6080/K00C4T06",
    license="CRCNS data sharing terms (cite the dataset and its papers)",
    access="CRCNS account (free): set CRCNS_USERNAME and CRCNS_PASSWORD",
    files=tuple(
        ReleaseFile(f"{a}.tar.gz", f"https://download.crcns.org/aa-4/{a}.tar.gz", None, None, "tar", "crcns")
        for a in ANIMALS
    ) + (ReleaseFile("CRCNSCode.tar.gz", "https://download.crcns.org/aa-4/CRCNSCode.tar.gz", None, None, "tar",
                     "crcns", optional=True),),
    options=(
        *spectrogram_options(DEFAULT_SPECTROGRAM, dt_ms=1.0),
        Option("animals", str, list(ANIMALS), "animals (release folders) to convert", choices=ANIMALS,
               multiple=True),
        Option("sort_types", str, None, "keep units whose sortType is one of these (default: all)", multiple=True),
        Option("stim_types", str, None, "keep stimuli whose stim_type is one of these (song, call, mlnoise; "
               "default: all)", multiple=True),
        Option("resample_hz", float, None, "resample every wav to this rate (default: keep the rate, or the "
               "highest rate when the wavs' rates differ)"),
        Option("skip_missing_wavs", bool, False, "leave out stimuli whose wav is missing instead of failing"),
    ),
    schema="crcns-aa4",
    species="zebra finch (Taeniopygia guttata)",
    homepage="https://crcns.org/data-sets/aa/aa-4/about-aa-4",
    verified="reference_reader",
    verification=("fixtures built to deepSTRF's crcns_aa4.py and the Theunissen-lab TDT-to-HDF5 writer "
                  "(-999 empty trials, stim_md5); no file of this release was available"),
    version="2",
)


def parse_unit_name(stem: str) -> dict:
    """Site, depths, electrode and sort ids from a unit file stem (empty dict when unmatched).

    >>> parse_unit_name("Site1_L1400R1400_e10_s0_ss1")
    {'site': 1, 'ldepth_um': 1400, 'rdepth_um': 1400, 'electrode': 10, 'sortid': 0, 'offline_sortid': 1}
    """
    m = UNIT_RE.match(stem)
    if not m:
        return {}
    out = {"site": int(m["site"]), "ldepth_um": int(m["ld"]), "rdepth_um": int(m["rd"]),
           "electrode": int(m["el"]), "sortid": int(m["sort"])}
    if m["ss"] is not None:
        out["offline_sortid"] = int(m["ss"])
    return out


def _attr(obj, name, default=None):
    v = obj.attrs.get(name, default)
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray) and v.size == 1:
        v = v.reshape(-1)[0]
    if isinstance(v, np.bytes_):
        v = v.decode("utf-8", "replace")
    if isinstance(v, np.generic):
        v = v.item()
    return v


def _trial_key(name: str):
    return (0, int(name)) if name.isdigit() else (1, name)


def _note(skipped: list | None, path: str) -> None:
    if skipped is not None:
        skipped.append(path)


def read_unit(path, skipped: list | None = None) -> tuple[dict, list[dict]]:
    """Read one unit file: its attributes and, per stimulus group, its trials in ms.

    Returns ``(attrs, stims)`` where each stim is ``{"class_group", "number",
    "md5", "stim_type", "stim_class", "stim_duration", "trials": [ms arrays]}``.
    A child that is not a group where a stimulus or trial group belongs is
    skipped, as the reference reader (deepSTRF ``crcns_aa4.py``) does, and
    its HDF5 path appended to ``skipped``.
    """
    import h5py

    p = Path(path)
    try:
        f = h5py.File(p, "r")
    except OSError as e:
        raise RawDataError(f"{p}: not a readable HDF5 unit file ({e})") from None
    with f:
        attrs = {k: _attr(f, k) for k in f.attrs}
        stims = []
        for cname in f:
            if cname in METADATA_GROUPS:
                continue
            if not isinstance(f[cname], h5py.Group):
                _note(skipped, f"/{cname}")
                continue
            for sname in sorted(f[cname], key=_trial_key):
                g = f[cname][sname]
                if not isinstance(g, h5py.Group):
                    _note(skipped, f"/{cname}/{sname}")
                    continue
                md5 = _attr(g, "stim_md5")
                if not md5:
                    raise RawDataError(f"{p}: /{cname}/{sname} has no stim_md5 attribute (stimulus identity)")
                trials = []
                for tname in sorted(g, key=_trial_key):
                    tg = g[tname]
                    if not isinstance(tg, h5py.Group):
                        _note(skipped, f"/{cname}/{sname}/{tname}")
                        continue
                    if "spike_times" not in tg:
                        raise RawDataError(f"{p}: /{cname}/{sname}/{tname} has no spike_times dataset")
                    st = np.asarray(tg["spike_times"][()], dtype=np.float64).reshape(-1)
                    if st.size == 1 and st[0] == EMPTY_TRIAL:
                        st = np.empty(0)
                    if st.size and not np.all(np.isfinite(st)):
                        raise RawDataError(f"{p}: /{cname}/{sname}/{tname}/spike_times holds NaN or Inf")
                    trials.append(st * 1000.0)
                stims.append({
                    "class_group": cname, "number": sname, "md5": str(md5).upper(),
                    "stim_type": _attr(g, "stim_type"), "stim_class": _attr(g, "stim_class"),
                    "stim_duration": _attr(g, "stim_duration"), "trials": trials,
                })
    return attrs, stims


def _read_units(raw: Path, animals: list[str], sort_types, stim_types, log: QuirkLog) -> tuple[list, dict]:
    """Every selected unit: ``[(neuron id, meta, {md5: trials})]`` and ``{md5: stimulus info + wav per animal}``."""
    units = []  # (neuron id, meta, {md5: trials})
    stims: dict[str, dict] = {}  # md5 -> info (first seen) + wav per animal
    for a in animals:
        for p in sorted((raw / a).glob("*.h5")):
            odd: list[str] = []
            attrs, ustims = read_unit(p, odd)
            if odd:
                log.add("non_group_child", f"{a}/{p.name}: {len(odd)} child(ren) that are not groups where stimulus "
                        f"or trial groups belong ({', '.join(odd[:3])}{'...' if len(odd) > 3 else ''}): skipped",
                        cell=p.stem, paths=odd)
            sort_type = str(attrs.get("sortType", ""))
            if sort_types is not None and sort_type not in sort_types:
                continue
            meta = {"cell_id": p.stem, "animal": a, "sex": a[-1], **parse_unit_name(p.stem)}
            for key, name in (("site", "site"), ("electrode", "electrode"), ("ldepth", "ldepth_um"),
                              ("rdepth", "rdepth_um"), ("sortid", "sortid")):
                if key in attrs:
                    meta[name] = attrs[key]
            if "electrode" in meta:
                meta["electrode"] = int(meta["electrode"])
            meta["sort_type"] = sort_type
            meta["single_unit"] = sort_type.startswith("singl")
            resp: dict[str, list] = {}
            for st in ustims:
                if stim_types is not None and st["stim_type"] not in stim_types:
                    continue
                if st["md5"] in resp:
                    log.add("duplicate_stimulus", f"{a}/{p.name}: stimulus {st['md5']} appears again in "
                            f"/{st['class_group']}/{st['number']}; trials merged", cell=p.stem, md5=st["md5"])
                resp.setdefault(st["md5"], []).extend(st["trials"])
                info = stims.setdefault(st["md5"], {k: st[k] for k in ("stim_type", "stim_class", "stim_duration")}
                                        | {"wavs": {}})
                info["wavs"].setdefault(a, raw / a / "wavfiles" / f"stim{st['number']}.wav")
            if not resp:
                log.add("cell_without_data", f"{a}/{p.name}: no trials for the selected stimuli: left out",
                        cell=p.stem)
                continue
            units.append((f"{a}/{p.stem}", meta, resp))
    return units, stims


def _target_rate(resample_hz, wavs: list[Path], log: QuirkLog) -> tuple[float, bool]:
    """``(rate, resample)``: ``resample_hz`` if given; else the wavs' rate, or the highest when they differ."""
    if resample_hz is not None:
        return positive_number(resample_hz, "crcns-aa4: option resample_hz", ConverterError), True
    rates = [wav_rate(p) for p in wavs]
    target = max(rates)
    if len(set(rates)) == 1:
        return target, False
    counts = {f"{r:g}": rates.count(r) for r in sorted(set(rates))}
    log.add("mixed_sample_rates", f"the wavs have {len(counts)} sample rates ({counts} wavs per Hz): all "
            f"resampled to the highest, {target:g} Hz (set resample_hz to choose)", rates=counts, target_hz=target)
    return target, True


def convert(raw_dir, out_path, *, overwrite: bool = False, **options) -> Path:
    """Convert unpacked AA4 animal folders under ``raw_dir`` to ``out_path``.

    Parameters
    ----------
    raw_dir : path-like
        Folder holding ``<animal>/`` folders (any subset of the six).
    out_path : path-like
    overwrite : bool
    **options
        See ``SOURCE.options``: spectrogram options, ``animals``,
        ``sort_types``, ``stim_types``, ``resample_hz``,
        ``skip_missing_wavs``, ``keep_waveform``.
    """
    opts, raw, log = check_options(SOURCE, options), raw_folder(raw_dir), QuirkLog(SOURCE.id)
    params = params_from_options(opts)
    sort_types = set(opts["sort_types"]) if opts["sort_types"] else None
    stim_types = set(opts["stim_types"]) if opts["stim_types"] else None
    animals = [a for a in opts["animals"] if (raw / a).is_dir()]
    if not animals:
        raise MissingRawFileError(f"{raw}: none of the animal folders {list(opts['animals'])} is here")
    for a in set(opts["animals"]) - set(animals):
        log.add("missing_animal", f"{raw / a} is absent: animal skipped", animal=a)

    # 1. read every unit (spike times are small: ~10 trials x ~150 stimuli per unit)
    units, stims = _read_units(raw, animals, sort_types, stim_types, log)
    if not units:
        raise RawDataError(f"{raw}: no unit with data for the selected animals, sort types and stimulus types")

    # 2. one wav per stimulus (the first animal's); missing wavs
    order = sorted(stims, key=lambda m: (str(stims[m]["stim_type"]), m))
    chosen: dict[str, Path] = {}
    for m in order:
        path = next((p for p in stims[m]["wavs"].values() if p.is_file()), None)
        if path is None:
            where = ", ".join(str(p) for p in stims[m]["wavs"].values())
            if not opts["skip_missing_wavs"]:
                raise MissingRawFileError(
                    f"{where}: the wav of stimulus {m} is missing — a partial download? Fetch the animal's archive "
                    "again, or pass skip_missing_wavs=True (--skip-missing-wavs) to leave it out"
                )
            log.add("missing_wav", f"the wav of stimulus {m} ({where}) is missing: stimulus skipped", md5=m)
            continue
        chosen[m] = path
    order = [m for m in order if m in chosen]
    if not order:
        raise RawDataError(f"{raw}: no stimulus wav found")
    target, resample = _target_rate(opts["resample_hz"], [chosen[m] for m in order], log)
    transform = resampled_transform(params, target) if resample else transform_dict(params, target)

    ids = [u[0] for u in units]
    file_meta = SOURCE.file_meta(response_units="ms", converter=converter_meta(SOURCE, opts),
                                 preparation="anesthetized zebra finches (4 male, 2 female)")
    with validated_output(out_path, encoding="events", neuron_ids=ids, nrn_meta=[u[1] for u in units],
                          file_meta=file_meta, source=SOURCE.schema, overwrite=overwrite,
                          **spectrogram_layout(params, transform)) as w:
        for s, m in enumerate(order):
            wave, sr = read_wav(chosen[m])
            n_orig = int(wave.shape[-1])
            wave = match_rate(wave, sr, target, resample=resample, where=str(chosen[m]),
                              reference="the first wav" if not resample else "resample_hz")
            S, _ = spectrogram(wave, target, params)
            info = stims[m]
            meta = {
                "name": chosen[m].name, "type": str(info["stim_type"]), "stim_class": str(info["stim_class"]),
                "sample_rate": float(sr), "n_samples": n_orig,
                "md5": m, "animals": sorted(info["wavs"]),
                "wav_files": {a: f"{a}/wavfiles/{p.name}" for a, p in info["wavs"].items()},
                "stim_duration_s": None if info["stim_duration"] is None else float(info["stim_duration"]),
            }
            meta["duration_s"] = meta["n_samples"] / sr
            w.add_stimulus(S, id=m, meta=meta, **waveform_kwargs(wave, target, opts["keep_waveform"]))
            w.write_row(s, [u[2].get(m) or None for u in units])
        w.set_file_meta({**file_meta, "provenance": provenance(SOURCE, opts, log)})
    return Path(out_path)
