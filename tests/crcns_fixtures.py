"""Fixture generators for the CRCNS releases, in their exact published layouts.

Each ``make_*`` writes a small release under a folder and returns what a
correct conversion must contain, computed from the values written (not from
the converter): per neuron id and stimulus id, the list of per-trial spike
time arrays.

AA1/AA2 fixtures include every documented quirk: the same wav listed twice in
one cell (trials merged), a ``stimN`` without ``spikeN``, a ``spikeN`` without
``stimN``, a cell without data for a class, pre-onset spikes down to -2000 ms,
spikes after the sound's end, empty trials (blank line and a lone space), and
lines ending in ``" \\n"``.
"""

from __future__ import annotations

import hashlib
import io
import wave
from pathlib import Path

import numpy as np

SR = 32000


# ---------------------------------------------------------------- wavs
def wav_bytes(n_samples: int, sr: int = SR, seed: int = 0) -> bytes:
    """A mono int16 PCM wav as bytes (noise + a tone, deterministic)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples) / sr
    x = 0.3 * np.sin(2 * np.pi * (1000 + 200 * seed) * t) + 0.05 * rng.standard_normal(n_samples)
    pcm = np.clip(np.round(x * 32767), -32768, 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def write_md5_wav(folder: Path, n_samples: int, seed: int, sr: int = SR) -> str:
    """Write a wav named by its upper-case MD5 in ``folder``; return the name."""
    data = wav_bytes(n_samples, sr, seed)
    name = hashlib.md5(data).hexdigest().upper() + ".wav"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return name


# ---------------------------------------------------------- text files
def spike_text(trials, empty_as: str = "") -> str:
    """Spike file text: one line per trial, 3 decimals, ``" \\n"`` line ends."""
    lines = []
    for t in trials:
        if len(t) == 0:
            lines.append(empty_as + "\n")
        else:
            lines.append(" ".join(f"{x:.3f}" for x in t) + " \n")
    return "".join(lines)


def parse_back(trials) -> list[np.ndarray]:
    """The float64 values a reader of the text must get (3-decimal rounding)."""
    return [np.array([float(f"{x:.3f}") for x in t], dtype=np.float64) for t in trials]


def random_trials(rng, n_trials: int, duration_ms: float, empty: tuple = ()) -> list[np.ndarray]:
    out = []
    for r in range(n_trials):
        if r in empty:
            out.append(np.empty(0))
            continue
        k = int(rng.integers(1, 12))
        t = np.sort(rng.uniform(-2000.0, duration_ms + 300.0, size=k))
        if r == 0:  # extremes: the earliest pre-onset spike and a post-stimulus one
            t = np.sort(np.concatenate([t, [-1999.875, duration_ms + 150.25]]))
        out.append(t)
    return out


def write_protocol(folder: Path, n: int, wav: str, trials, with_spikes=True, empty_as: str = "") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"stim{n}").write_text(wav + "\n")
    if with_spikes:
        (folder / f"spike{n}").write_text(spike_text(trials, empty_as))


# -------------------------------------------------------------- AA1 / AA2
def _cell_protocols(rng, cell_dir: Path, cls: str, wavs: list[str], durations: dict, quirks: dict, expected: dict,
                    cell_id: str):
    """Write one cell/class folder; add its merged trials to ``expected[cell_id][wav]``."""
    d = cell_dir / cls
    n = 0
    for i, w in enumerate(wavs):
        n += 1
        trials = random_trials(rng, int(rng.integers(2, 5)), durations[w], empty=(1,) if i == 0 else ())
        write_protocol(d, n, w, trials, empty_as=" " if i == 1 else "")
        expected.setdefault(cell_id, {}).setdefault(w, []).extend(parse_back(trials))
    if quirks.get("duplicate"):  # the first wav listed again: trials merged after the first ones
        n += 1
        w = wavs[0]
        trials = random_trials(rng, 2, durations[w])
        write_protocol(d, n, w, trials)
        expected[cell_id][w].extend(parse_back(trials))
    if quirks.get("stim_without_spike"):
        n += 1
        write_protocol(d, n, wavs[-1], [], with_spikes=False)
    if quirks.get("spike_without_stim"):
        n += 1
        (d / f"spike{n}").write_text(spike_text([[1.0, 2.0]]))


def make_aa1(root: Path, seed: int = 1) -> dict:
    """A small AA1 release: 2 Field L + 2 MLd cells, 3 conspecific + 2 flatrip wavs.

    Returns ``{"expected": {neuron_id: {wav_name: [trials]}}, "durations":
    {wav: ms}, "classes": {wav: class}, "areas": {cell: area}, "n_samples": {wav: n}}``.
    """
    rng = np.random.default_rng(seed)
    root = Path(root)
    classes, durations, n_samples = {}, {}, {}
    bank = {"conspecific": [], "flatrip": []}
    for cls, sizes in (("conspecific", (9600, 8000, 11520)), ("flatrip", (6400, 7040))):
        for k, n in enumerate(sizes):
            name = write_md5_wav(root / "all_stims" / cls, n, seed=len(classes) + 10 * seed)
            bank[cls].append(name)
            classes[name] = cls
            durations[name] = n * 1000 / SR
            n_samples[name] = n
    cells = {
        ("Field_L", "gg0304_4_A"): {"conspecific": {"duplicate": True}, "flatrip": {}},
        ("Field_L", "pipu1018_2_B"): {"flatrip": {"stim_without_spike": True}},  # no conspecific data
        ("MLd", "gg0304_4_B"): {"conspecific": {"stim_without_spike": True, "spike_without_stim": True},
                                "flatrip": {}},
        ("MLd", "pipu1018_2_A"): {"flatrip": {}},
    }
    expected, areas = {}, {}
    folder = {"Field_L": "Field_L_cells", "MLd": "MLd_cells"}
    for (area, cell), per_class in cells.items():
        areas[cell] = area
        for cls, quirks in per_class.items():
            wavs = bank[cls] if cls == "flatrip" or cell != "gg0304_4_B" else bank[cls][:2]
            _cell_protocols(rng, root / folder[area] / cell, cls, wavs, durations, quirks, expected, cell)
    return {"expected": expected, "durations": durations, "classes": classes, "areas": areas,
            "n_samples": n_samples}


def make_aa2(root: Path, seed: int = 2, header: bool = True) -> dict:
    """A small AA2 release (flat ``all_stims/``, ``all_cells/`` and the three CSVs).

    Cells: an MLd cell with a duplicated wav, an OV cell without songrip (as OV
    birds), an L2a cell with a stimN lacking its spikeN, a CM cell whose only
    class is flatrip. Returns the same keys as :func:`make_aa1` plus
    ``regions``.
    """
    rng = np.random.default_rng(seed)
    root = Path(root)
    classes, durations, n_samples = {}, {}, {}
    bank = {"conspecific": [], "songrip": [], "flatrip": []}
    for cls, sizes in (("conspecific", (9600, 8320)), ("songrip", (7040, 6400)), ("flatrip", (6400,))):
        for n in sizes:
            name = write_md5_wav(root / "all_stims", n, seed=100 + len(classes) + 10 * seed)
            bank[cls].append(name)
            classes[name] = cls
            durations[name] = n * 1000 / SR
            n_samples[name] = n
    cells = {
        ("mld", "blabla0101_3"): {"conspecific": {"duplicate": True}, "songrip": {}, "flatrip": {}},
        ("OV", "blugr1612_2"): {"conspecific": {}, "flatrip": {"spike_without_stim": True}},
        ("L2a", "rr1416_5_B"): {"conspecific": {"stim_without_spike": True}, "songrip": {}},
        ("CM", "zz0202_1_A"): {"flatrip": {}},
    }
    expected, regions = {}, {}
    for (region, cell), per_class in cells.items():
        regions[cell] = region
        for cls, quirks in per_class.items():
            _cell_protocols(rng, root / "all_cells" / cell, cls, bank[cls], durations, quirks, expected, cell)
    with open(root / "cell_regions.csv", "w") as fh:
        if header:
            fh.write("cell,region\n")
        for cell, reg in regions.items():
            fh.write(f"{cell},{reg}\n")
    with open(root / "cell_stim_classes.csv", "w") as fh:
        if header:
            fh.write("cell,class1,class2,class3\n")
        for (region, cell), per_class in cells.items():
            fh.write(",".join([cell, *per_class]) + "\n")
    with open(root / "stim_data.csv", "w") as fh:
        if header:
            fh.write("fileName,sampleRate,depth,numSamples,stimClass\n")
        for name, cls in classes.items():
            fh.write(f"{name},{SR},16,{n_samples[name]},{cls}\n")
    return {"expected": expected, "durations": durations, "classes": classes, "regions": regions,
            "n_samples": n_samples}


# --------------------------------------------------------------------- AA4
def make_aa4(root: Path, seed: int = 4) -> dict:
    """Two AA4 animals: unit HDF5 files (class -> stim -> trial groups, seconds) and wavfiles/.

    Quirks: an empty trial stored as the scalar -999, an empty trial stored as
    an empty dataset, lower-case ``stim_md5``, the same stimulus (md5) under
    different numbers in the two animals, ``class_info``/``extra_info`` groups,
    and the ``singl`` sortType typo. Returns ``{"expected": {neuron_id: {MD5:
    [trials in ms]}}, "n_samples": {MD5: n}, "rate": sr}``.
    """
    import h5py

    rng = np.random.default_rng(seed)
    root = Path(root)
    sr = 24414
    sounds = {}
    for k, n in enumerate((4883, 7324, 6103)):
        data = wav_bytes(n, sr, seed=40 + k)
        sounds[k] = (data, hashlib.md5(data).hexdigest(), n)
    numbering = {"BlaBro09xxF": {0: 1, 1: 2, 2: 3}, "GreBlu9508M": {0: 7, 2: 5}}
    types = {0: "song", 1: "call", 2: "mlnoise"}
    expected, n_samples = {}, {}
    for animal, num in numbering.items():
        (root / animal / "wavfiles").mkdir(parents=True, exist_ok=True)
        for k, nr in num.items():
            (root / animal / "wavfiles" / f"stim{nr}.wav").write_bytes(sounds[k][0])
            n_samples[sounds[k][1].upper()] = sounds[k][2]
        for u, (stem, sort) in enumerate((("Site1_L1400R1400_e10_s0_ss1", "single"),
                                          ("Site2_L1000R1100_e21_s1", "singl"))):
            nid = f"{animal}/{stem}"
            with h5py.File(root / animal / f"{stem}.h5", "w") as f:
                f.attrs.update({"sortType": sort, "site": u + 1, "electrode": 10 if u == 0 else 21,
                                "ldepth": 1400.0, "rdepth": 1400.0, "sortid": 0})
                f.create_group("class_info").attrs["note"] = "metadata"
                f.create_group("extra_info")
                for k, nr in num.items():
                    g = f.require_group("Call" if types[k] == "call" else "Song").create_group(str(nr))
                    g.attrs.update({"stim_type": types[k], "stim_class": types[k].title(),
                                    "stim_md5": sounds[k][1], "stim_duration": sounds[k][2] / sr})
                    trials = []
                    for r in range(3):
                        tg = g.create_group(str(r + 1))
                        if r == 1 and u == 0:
                            tg.create_dataset("spike_times", data=-999.0)
                            trials.append(np.empty(0))
                        elif r == 2 and k == 2:
                            tg.create_dataset("spike_times", data=np.empty(0))
                            trials.append(np.empty(0))
                        else:
                            t = np.sort(rng.uniform(-1.5, sounds[k][2] / sr + 0.4, size=int(rng.integers(1, 9))))
                            tg.create_dataset("spike_times", data=t)
                            tg.create_dataset("spike_ids", data=np.arange(t.size))
                            tg.attrs.update({"bg_rate": 1.0, "pre_time": 2.0, "post_time": 2.0})
                            trials.append(t * 1000.0)
                    expected.setdefault(nid, {})[sounds[k][1].upper()] = trials
    return {"expected": expected, "n_samples": n_samples, "rate": sr}


# --------------------------------------------------------------------- AC1
def _savemat(path: Path, **variables):
    from scipy.io import savemat

    path.parent.mkdir(parents=True, exist_ok=True)
    savemat(str(path), variables, do_compression=False, oned_as="row")


def make_ac1(root: Path, seed: int = 5) -> dict:
    """A Wehr session (one trial per file) and an Asari session (several triggers per file).

    Stimuli are ``stimulus.samples`` (Wehr) / ``stimulus.sample`` (Asari) at
    16 kHz; responses ``trace`` (int16-like) x ``scale`` at ``sf``; triggers
    with 1-based ``time``, a ``nauralsound`` typo, a tone trigger (ignored)
    and a trigger whose recording ends early (NaN tail). Returns
    ``{"cells": [...], "repeats": {(cell, stim): R}, "traces": {(cell, stim):
    [(trace_mV, sf, onset0)]}, "n_samples": {stim: n}, "rate": sr}``.
    """
    rng = np.random.default_rng(seed)
    root = Path(root)
    sr = 16000
    stim_n = {"wehr/fragments/1.mat": 4000, "wehr/category1/2.mat": 3200, "asari/class6/3.mat": 2400,
              "asari/class6/1.mat": 800, "asari/class6/2.mat": 1600}
    for sid, n in stim_n.items():
        ds, rel = sid.split("/", 1)
        x = rng.standard_normal(n) * 0.1
        key = "samples" if ds == "wehr" else "sample"
        _savemat(root / "crcns-ac1" / ds / "Stimuli" / rel,
                 stimulus={key: x, "param": {"sf": float(sr), "description": f"clip {rel}"}})
    traces, repeats = {}, {}
    # Wehr: 3 trial files, one natural trigger each (+ a tone trigger)
    wsess = "20030101-mw-001"
    for i, (sid, typ) in enumerate((("wehr/fragments/1.mat", "naturalsound"),
                                    ("wehr/category1/2.mat", "nauralsound"),
                                    ("wehr/fragments/1.mat", "naturalsound"))):
        sf, scale = 4000.0, 0.05
        raw = rng.integers(-2000, 2000, size=6000).astype(np.float64)
        onset1 = 401 + 13 * i
        trig = np.array([(typ, float(onset1), {"description": "nat", "duration": stim_n[sid] * 1000.0 / sr},
                          "C:\\data\\wehr\\Stimuli\\" + sid.split("/", 1)[1].replace("/", "\\")),
                         ("tone", 10.0, {"description": "tone", "duration": 25.0}, "")],
                        dtype=[("type", object), ("time", object), ("param", object), ("file", object)])
        _savemat(root / "crcns-ac1" / "wehr" / "Results" / wsess / f"{wsess}-{i + 1:03d}.mat",
                 response={"trace": raw, "scale": scale, "sf": sf}, triggers=trig)
        traces.setdefault((f"wehr/{wsess}", sid), []).append((raw * scale, sf, onset1 - 1))
    # Asari (as the release's readers and deepSTRF expect): triggers carry no 'file'; the recording's
    # param.stimulus(i).file lists the ensemble and each natural trigger's description says which segments it
    # spliced ('Sequence N: i j k', 1-based); the response spans the trigger's param.duration. Type spellings vary.
    asess = "20050505-ha2-001"
    sf, scale = 10000.0, 0.1
    raw = rng.integers(-500, 500, size=3600).astype(np.float64)
    plist = np.zeros((1, 3), dtype=[("file", object), ("description", object)])
    for i, f in enumerate(("class6/1.mat", "class6/2.mat", "class6/3.mat")):
        plist[0, i] = (f, f"clip {f}")
    trig = np.array([("Natural Sound", 101.0, {"description": "Sequence 1: 3", "duration": 150.0}),
                     ("natural_sound", 2201.0, {"description": "Sequence 1: 3", "duration": 150.0}),
                     ("naturalsound", 501.0, {"description": "Sequence 2: 2  1  3", "duration": 250.0}),
                     ("naturalsound", 3000.0, {"description": "class6/3", "duration": 150.0}),
                     ("tone", 50.0, {"description": "Sequence 9: 1", "duration": 25.0})],
                    dtype=[("type", object), ("time", object), ("param", object)])
    _savemat(root / "asari-results-1" / asess / f"{asess}-data.mat",
             response={"trace": raw, "scale": scale, "sf": sf}, triggers=trig,
             param={"recording": {"site": "thalamus", "type": "cell-attached"}, "stimulus": plist})
    for onset1 in (101, 2201):
        traces.setdefault((f"asari/{asess}", "asari/class6/3.mat"), []).append((raw * scale, sf, onset1 - 1))
    seq = "asari/class6/2.mat+class6/1.mat+class6/3.mat@250ms"  # 300 ms spliced, the trigger keeps 250 ms
    traces.setdefault((f"asari/{asess}", seq), []).append((raw * scale, sf, 500))
    stim_n[seq] = 4000
    del stim_n["asari/class6/1.mat"], stim_n["asari/class6/2.mat"]
    for k, v in traces.items():
        repeats[k] = len(v)
    return {"cells": [f"wehr/{wsess}", f"asari/{asess}"], "repeats": repeats, "traces": traces,
            "n_samples": stim_n, "rate": sr}
