"""Release-shaped fixtures for the NEMS-recording family (NAT4, Espejo, Wingert 2026).

Each builder writes a small raw release in its published layout with
:func:`strfh5.converters.nems_recording.write_recording` and returns the
ground truth the tests compare the converted file with.  Spike times are
placed strictly inside 1 ms samples (``k + 0.4`` ms) so that binning cannot
depend on floating-point edge cases.
"""

from __future__ import annotations

import csv
import gzip
import zipfile
from pathlib import Path

import numpy as np

from strfh5.converters.nems_recording import Epochs
from nems_writer import write_recording

FS = 100.0  # Hz: 10 ms bins


def _spikes_from_counts(counts: np.ndarray, t0: float, rng) -> np.ndarray:
    """Spike times (s) realising ``counts`` (10 ms bins) from ``t0``, each at ``k + 0.4`` ms."""
    out = []
    for b, c in enumerate(counts):
        if c:
            ms = rng.choice(10, size=int(c), replace=True)
            out.extend(t0 + (b * 10 + ms + 0.4) / 1000.0)
    return np.sort(np.asarray(out, dtype=np.float64))


def _trial_epochs(names_in_order, dur, pre, post, gap=0.2, start=0.0):
    """Epoch rows for trials played in order: TRIAL, STIM_x, REFERENCE, Pre/PostStimSilence."""
    rows, bounds = [], []
    t = start
    for name in names_in_order:
        s, e = round(t, 6), round(t + dur, 6)
        rows += [(s, e + 0.001, "TRIAL"), (s, e, name), (s, e, "REFERENCE"),
                 (s, round(s + pre, 6), "PreStimSilence"), (round(e - post, 6), e, "PostStimSilence")]
        bounds.append((s, e))
        t = e + gap
    return rows, bounds, t


def _epochs(rows, total):
    rows = [(0.0, total, "PASSIVE_EXPERIMENT")] + rows
    return Epochs([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])


# --------------------------------------------------------------------- NAT4
def nat4_cell_ids():
    """40 cells on 3 sites; TNC015a ids are unpadded in the population file."""
    cells = [f"ARM029a-{e:02d}-{u}" for e, u in [(4, 1), (7, 6), (7, 7)] + [(e, 1) for e in range(8, 19)]]
    cells += [f"TNC015a-{e}-{u}" for e, u in [(3, 1), (5, 2)] + [(e, 1) for e in range(10, 21)]]
    cells += [f"DRX006b-{e:02d}-{u}" for e, u in [(e, 1) for e in range(1, 14)]]
    return cells


def make_nat4(root: Path, *, area="A1", n_est=30, n_val=3, reps=20, no_val=("DRX006b-11-1", "DRX006b-12-1",
              "DRX006b-13-1"), nan_pairs=(), seed=0, zip_sites=False, fractional_est=False) -> dict:
    """Write an ``<area>`` NAT4 release under ``root``; return the truth.

    ``fractional_est``: est values are rasterized rates (multiples of 0.25 spikes/bin, many not whole).

    Population: val stims first (pre-averaged), then est stims (R = 1);
    single sites: the val stims at ``reps`` repeats (and est stims once).
    """
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    cells = nat4_cell_ids()
    N = len(cells)
    T = 150
    val_names = [f"STIM_00cat{100 + i}_rec{i}_val_excerpt1.wav" for i in range(n_val)]
    est_names = [f"STIM_cat{200 + i}_rec{i}_est_excerpt1.wav" for i in range(n_est)]
    # one est name with a comma (CSV-quoted in the epoch table)
    est_names[1] = "STIM_cat201_rec1_geese,_excerpt1.wav"
    names = val_names + est_names
    rows, bounds, total = _trial_epochs(names, 1.5, 0.5, 0.0, gap=0.0)
    n_samples = int(round(total * FS))
    stim = np.full((18, n_samples), 0.0)
    resp = np.full((N, n_samples), np.nan)
    truth_stim, truth_est, truth_val = {}, {}, {}
    site_of = {c: c.split("-")[0] for c in cells}
    single_id = {c: (f"TNC015a-{int(c.split('-')[1]):02d}-{c.split('-')[2]}" if c.startswith("TNC") else c)
                 for c in cells}
    # val counts per cell: reps x T, from the single sites
    for name in val_names:
        for c in cells:
            if c in no_val:
                continue
            truth_val[(name, c)] = rng.poisson(0.3, size=(reps, T))
    for (s, e), name in zip(bounds, names):
        i0 = int(round(s * FS))
        spec = rng.gamma(2.0, 1.0, size=(18, T))
        stim[:, i0 : i0 + T] = spec
        truth_stim[name] = spec
        for n, c in enumerate(cells):
            if name in val_names:
                if (name, c) in truth_val:
                    resp[n, i0 : i0 + T] = truth_val[(name, c)].mean(axis=0)
            elif (name, c) in nan_pairs:
                pass
            else:
                r = rng.poisson(0.4, size=T) * (0.25 if fractional_est else 1)
                resp[n, i0 : i0 + T] = r
                truth_est[(name, c)] = r
    rec = f"{area}_NAT4_ozgf.fs100.ch18"
    ep = _epochs(rows, total)
    write_recording(
        root / f"{rec}.tgz", rec,
        [
            {"name": "resp", "fs": FS, "kind": "rasterized", "data": resp, "chans": cells, "epochs": ep,
             "meta": {"rasterfs": 100, "batch": 322}},
            {"name": "stim", "fs": FS, "kind": "rasterized", "data": stim, "chans": [str(i) for i in range(18)],
             "epochs": ep},
        ],
        meta={"batch": 322, "stimfmt": "ozgf", "chancount": 18},
    )
    # single sites: val stims interleaved reps times, est once
    sites_dir = root / f"{area}_single_sites"
    sites_dir.mkdir(exist_ok=True)
    for site in dict.fromkeys(site_of.values()):
        site_cells = [c for c in cells if site_of[c] == site]
        order = [n for _ in range(reps) for n in val_names] + est_names[:3]
        order = list(rng.permutation(order))
        rows_s, bnds, total_s = _trial_epochs(order, 1.5, 0.5, 0.0, gap=0.3)
        occ = {n: 0 for n in val_names}
        spikes = {single_id[c]: [] for c in site_cells}
        for (s, _), name in zip(bnds, order):
            for c in site_cells:
                if name in val_names:
                    if (name, c) in truth_val:
                        spikes[single_id[c]].append(_spikes_from_counts(truth_val[(name, c)][occ[name]], s, rng))
                else:
                    spikes[single_id[c]].append(_spikes_from_counts(rng.poisson(0.4, size=T), s, rng))
            if name in occ:
                occ[name] += 1
        data = {single_id[c]: np.sort(np.concatenate(spikes[single_id[c]])) for c in site_cells if c not in no_val}
        write_recording(
            sites_dir / f"{site}.tgz", site,
            [{"name": "resp", "fs": 1000.0, "kind": "point_process", "data": data, "chans": list(data),
              "epochs": _epochs(rows_s, total_s)}],
            meta={"siteid": site, "rasterfs": 1000},
        )
    if zip_sites:
        with zipfile.ZipFile(root / f"{area}_single_sites.zip", "w") as zf:
            for p in sorted(sites_dir.iterdir()):
                zf.write(p, f"{area}_single_sites/{p.name}")
        for p in sites_dir.iterdir():
            p.unlink()
        sites_dir.rmdir()
    auditory = {c: bool(rng.random() > 0.15) for c in cells}
    with open(root / f"{area}_pred_correlation.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["cellid", "r_test", "sig_auditory"])
        for c in cells:
            w.writerow([c, f"{rng.random():.3f}", str(auditory[c])])
    return {
        "cells": cells, "val_names": val_names, "est_names": est_names, "stim": truth_stim, "est": truth_est,
        "val": truth_val, "auditory": auditory, "no_val": list(no_val), "T": T, "reps": reps,
    }


# -------------------------------------------------------------------- Espejo
def make_espejo_site(path: Path, site: str, cells, *, sounds: dict, high: list, low: list, high_reps=10,
                     low_reps=2, F=18, pre=0.5, post=0.5, rasterized_resp=False, seed=0, folder="",
                     extra_reps: dict | None = None) -> dict:
    """One Espejo per-site archive: PointProcess resp (s), TiledSignal stim; returns the spike truth.

    ``sounds`` maps stim name -> ``(F, T)`` tile (shared across sites); ``extra_reps`` plays more
    names (name -> repeat count) besides ``high`` and ``low``.
    """
    rng = np.random.default_rng(seed)
    order = [n for n in high for _ in range(high_reps)] + [n for n in low for _ in range(low_reps)]
    order += [n for n, k in (extra_reps or {}).items() for _ in range(k)]
    order = list(rng.permutation(order))
    rows, bnds, t = [], [], 0.0
    for name in order:
        r, b, t = _trial_epochs([name], sounds[name].shape[1] / FS, pre, post, gap=0.25, start=t)
        rows += r
        bnds += b
    total = t
    truth = {}  # (name, cell) -> list of per-occurrence spike times (ms from epoch start)
    spikes = {c: [] for c in cells}
    for (s, e), name in zip(bnds, order):
        T = sounds[name].shape[1]
        for c in cells:
            cnt = rng.poisson(0.5, size=T)
            st = _spikes_from_counts(cnt, s, rng)
            spikes[c].append(st)
            truth.setdefault((name, c), []).append((st - s) * 1000.0)
    ep = _epochs(rows, total)
    data = {c: np.concatenate(v) if v else np.zeros(0) for c, v in spikes.items()}
    if rasterized_resp:
        n = int(np.ceil(total * FS)) + 1
        r = np.zeros((len(cells), n))
        for i, c in enumerate(cells):
            np.add.at(r[i], np.floor(data[c] * FS + 1e-9).astype(int), 1)
        resp_sig = {"name": "resp", "fs": FS, "kind": "rasterized", "data": r, "chans": list(cells), "epochs": ep}
    else:
        resp_sig = {"name": "resp", "fs": FS, "kind": "point_process", "data": data, "chans": list(cells),
                    "epochs": ep}
    tiles = {n: sounds[n] for n in dict.fromkeys(order)}
    write_recording(
        path, site,
        [resp_sig, {"name": "stim", "fs": FS, "kind": "tiled", "data": tiles, "chans": [str(i) for i in range(F)],
                    "epochs": ep}],
        meta={"siteid": site, "rasterfs": 100, "cellid": list(cells), "batch": 289},
        folder=folder,
    )
    return {"truth": truth, "order": order}


def make_espejo(root: Path, *, seed=0) -> dict:
    """An Espejo release with 3 NAT sites and 2 VMN sites (one of them with rasterized resp)."""
    rng = np.random.default_rng(seed)
    nat = root / "A1_natural_sounds" / "NAT"
    vmn = root / "A1_voc_mod_noise" / "VMN"
    nat.mkdir(parents=True)
    vmn.mkdir(parents=True)
    sounds = {f"STIM_{k}": rng.gamma(2.0, 1.0, size=(18, 60 + 5 * i)) for i, k in enumerate(
        ["00cat1_ferret.wav", "00cat2_speech.wav", "cat3_music.wav", "cat4_water.wav", "cat5_birds.wav",
         "cat6_wind.wav", "cat7_geese,_flock.wav"])}
    names = list(sounds)
    out = {"sounds": sounds, "sites": {}}
    specs = [
        ("AMT003c", ["AMT003c-11-1", "AMT003c-12-1", "AMT003c-20-2"], names[:2], names[2:5]),
        ("AMT005c", ["AMT005c-02-1", "AMT005c-07-1"], names[1:2], names[3:7]),
        ("bbl086b", ["bbl086b-03-1", "bbl086b-09-1", "bbl086b-11-1"], names[:1], names[2:4] + names[5:7]),
    ]
    for i, (site, cells, high, low) in enumerate(specs):
        info = make_espejo_site(nat / f"{site}_{i:03x}a9f.tgz", site, cells, sounds=sounds, high=high, low=low,
                                seed=seed + i)
        out["sites"][site] = {"cells": cells, "high": high, "low": low, **info}
    env = {f"STIM_{k}": rng.gamma(2.0, 1.0, size=(2, 50)) for k in ["00vmn_a.wav", "vmn_b.wav", "vmn_c.wav"]}
    vnames = list(env)
    out["env"] = env
    for i, (site, cells, rast) in enumerate([("btn144a", ["btn144a-c1", "btn144a-c2"], False),
                                             ("eno023c", ["eno023c-c1"], True)]):
        info = make_espejo_site(vmn / f"{site}_{i:03x}77b.tgz", site, cells, sounds=env, high=vnames[:1],
                                low=vnames[1:], F=2, rasterized_resp=rast, seed=seed + 10 + i)
        out["sites"][site] = {"cells": cells, "high": vnames[:1], "low": vnames[1:], **info}
    return out


# ------------------------------------------------------------------- Wingert
def make_wingert(root: Path, *, seed=0, rewritten_duplicate=False) -> dict:
    """A Wingert 2026 release: 3 sites (one old T=2000-style, two new with 1 s silence pads),
    a duplicate PRN018a/b pair, cell_list.csv; durations shortened (2 s sequences).

    ``rewritten_duplicate``: the duplicate archive holds the same recording written again (same content,
    different bytes: another gzip time stamp), as the release's two PRN018 archives."""
    rng = np.random.default_rng(seed)
    rec_dir = root / "recordings"
    rec_dir.mkdir(parents=True)
    F = 32
    sound_T = 200  # 2 s at 10 ms (the release: 20 s)
    seqs = {f"STIM_seq{k:04d}.wav": rng.gamma(2.0, 1.0, size=(F, sound_T)) for k in range(6)}
    seqs.update({f"STIM_00seq{k:04d}.wav": rng.gamma(2.0, 1.0, size=(F, sound_T)) for k in range(2)})
    out = {"sounds": seqs, "sites": {}, "sound_T": sound_T}
    specs = [
        ("CLT012a", "CLT012a", ["CLT012a-001-1", "CLT012a-004-2"], 0.0, ["STIM_00seq0000.wav"],
         ["STIM_seq0000.wav", "STIM_seq0001.wav", "STIM_seq0002.wav"]),
        ("PRN018a", "PRN018b", ["PRN018b-010-1", "PRN018b-022-1", "PRN018b-031-3"], 1.0,
         ["STIM_00seq0000.wav", "STIM_00seq0001.wav"], ["STIM_seq0002.wav", "STIM_seq0003.wav"]),
        ("SLJ032a", "SLJ032a", ["SLJ032a-B-005-1", "SLJ032a-A-017-2"], 1.0, ["STIM_00seq0001.wav"],
         ["STIM_seq0004.wav", "STIM_seq0005.wav"]),
    ]
    cell_rows = []
    for i, (fname, site, cells, pad, val, est) in enumerate(specs):
        order = [n for n in val for _ in range(5)] + est
        order = list(rng.permutation(order))
        rows, bnds, t = [], [], 0.0
        for name in order:
            dur = sound_T / FS + 2 * pad
            r, b, t = _trial_epochs([name], dur, pad, pad, gap=0.5, start=t)
            if pad == 0:  # older sites: no silence epochs of nonzero length
                r = [x for x in r if x[2] not in ("PreStimSilence", "PostStimSilence")]
            rows += r
            bnds += b
        ep = _epochs(rows, t)
        tiles = {}
        for name in dict.fromkeys(order):
            p = int(round(pad * FS))
            tiles[name] = np.concatenate([np.zeros((F, p)), seqs[name], np.zeros((F, p))], axis=1)
        truth = {}
        spikes = {c: [] for c in cells}
        for (s, e), name in zip(bnds, order):
            n_bins = int(round((e - s) * FS))
            for c in cells:
                st = _spikes_from_counts(rng.poisson(0.3, size=n_bins), s, rng)
                spikes[c].append(st)
                truth.setdefault((name, c), []).append((st - s - pad) * 1000.0)  # ms from sound onset
        data = {c: np.concatenate(v) for c, v in spikes.items()}
        arch = rec_dir / f"{fname}_{i:04x}c0ffee.tgz"
        write_recording(
            arch, site,
            [{"name": "resp", "fs": FS, "kind": "point_process", "data": data, "chans": cells, "epochs": ep},
             {"name": "stim", "fs": FS, "kind": "tiled", "data": tiles, "chans": [str(k) for k in range(F)],
              "epochs": ep}],
            meta={"siteid": fname if site != "SLJ032a" else "SLJ032a", "rasterfs": 100}, folder=site,
        )
        out["sites"][site] = {"cells": cells, "val": val, "est": est, "pad": pad, "truth": truth, "archive": arch}
        for c in cells:
            area = "PEG" if site == "SLJ032a" else "A1"
            cell_rows.append([c, site if not c.startswith("SLJ032a-B") else "SLJ032a-B", area, "13",
                              f"{rng.integers(100, 1500)}", "False", "RS", f"{rng.random():.3f}", "True"])
    # the duplicate archive: byte-identical copy under the other session letter
    dup = rec_dir / "PRN018b_0001c0ffee.tgz"
    data = out["sites"]["PRN018b"]["archive"].read_bytes()
    if rewritten_duplicate:
        data = gzip.compress(gzip.decompress(data), mtime=1_700_000_001)
    dup.write_bytes(data)
    out["duplicate"] = dup.name
    # one cell missing from the cell list (unlabeled)
    cell_rows = [r for r in cell_rows if r[0] != "PRN018b-031-3"]
    with open(root / "cell_list.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["cellid", "siteid", "area", "layer", "depth", "narrow", "celltype", "sw", "goodpred"])
        w.writerows(cell_rows)
    out["cell_rows"] = {r[0]: r for r in cell_rows}
    return out
