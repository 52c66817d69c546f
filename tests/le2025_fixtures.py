"""A miniature Le, Bjoring & Meliza 2025 release in the published layout.

``make_release(root)`` writes ``metadata/*.csv``, short wavs at the published
rates (nat8a 40 kHz, nat8b 48 kHz, synth8b 44.1 kHz) and one pprox file per
unit: legacy ``spec:2/pprox.json`` for nat8a-alpha (``event`` in ms,
``stim_on``/``stim_off`` in ms, ``stimulus`` = motif, ``condition`` =
variant), ``spec:2/stimtrial.json`` for the others (``events`` in s,
``stimulus: {name, interval}``). It returns the ground truth: for every unit
and stimulus the list of per-trial spike times in ms from stimulus onset.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy.io import wavfile

LEGACY = "https://meliza.org/spec:2/pprox.json#"
STIMTRIAL = "https://meliza.org/spec:2/stimtrial.json#"

NAT8A_STIMS = ["B189_continuous", "B189_gap1", "B189_gapnoise2", "R56_continuous", "R56_noise1"]
NAT8B_STIMS = ["ep_nat8mk0_C", "ep_nat8mk0_GB_g1", "ep_nat8mk0_CM_snr10"]
SYNTH8B_STIMS = ["ep_synmk3_C", "ep_synmk3_GM_g2a"]
RATES = {"nat8a": 40000, "nat8b": 48000, "synth8b": 44100}
DUR_S = 0.25


def _wav(path: Path, sr: int, seed: int):
    rng = np.random.default_rng(seed)
    n = int(DUR_S * sr)
    t = np.arange(n) / sr
    x = 0.3 * np.sin(2 * np.pi * (1500 + 500 * seed) * t) + 0.05 * rng.standard_normal(n)
    wavfile.write(path, sr, (x * 32767).astype(np.int16))


def _csv(path: Path, header: list[str], rows: list[list]):
    path.write_text(",".join(header) + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))


def make_release(root, top: bool = False, seed: int = 0) -> dict:
    """Write the miniature release under ``root`` (inside ``zebf-auditory-restoration-1/`` if ``top``)."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    base = root / "zebf-auditory-restoration-1" if top else root
    (base / "metadata").mkdir(parents=True)
    _csv(base / "metadata" / "ephys-birds.csv", ["bird", "uuid", "sex", "age", "cohort", "group"], [
        ["C41", "11111111-aaaa-bbbb-cccc-000000000041", "M", "1y20d", 1, "178B"],
        ["C43", "11111111-aaaa-bbbb-cccc-000000000043", "F", "200d", 2, ""],
        ["C50", "11111111-aaaa-bbbb-cccc-000000000050", "M", "", 3, ""],
    ])
    _csv(base / "metadata" / "song-birds.csv",
         ["bird", "uuid", "nat8b_encoding", "gap", "gap_start", "gap_stop", "group"], [
             ["B189", "s-189", "nat8mk0", 1, 310.5, 390.0, "178B"],
             ["B189", "s-189", "nat8mk0", 2, 600.0, 680.0, "178B"],
             ["R56", "s-56", "nat8mk1", 1, 200.0, 260.0, "180B"],
         ])
    _csv(base / "metadata" / "recordings.csv", ["site", "bird", "probe", "stimulus_set", "hemisphere", "area"], [
        ["C43_1_1", "C43", "A4x16", "nat8a", "L", "L2a"],
        ["C50_2_3", "C50", "A1x32", "nat8b", "R", "CM"],
        ["C50_2_4", "C50", "A1x32", "synth8b", "R", "N/A"],
    ])
    for ss, stems in (("nat8a", NAT8A_STIMS), ("nat8b", NAT8B_STIMS), ("synth8b", SYNTH8B_STIMS)):
        d = base / f"{ss}-stimuli"
        d.mkdir()
        for i, stem in enumerate(stems):
            _wav(d / f"{stem}.wav", RATES[ss], i)

    truth: dict = {}

    def spikes(n):
        return np.sort(np.round(rng.uniform(-200.0, 600.0, size=n), 3))

    # nat8a-alpha: legacy schema, ms; trials of a stimulus interleaved with others; 'index' out of file order
    d = base / "nat8a-alpha-responses"
    d.mkdir()
    for u, (unit, reps) in enumerate((("C41_1_1_c7", 3), ("C41_1_2_c12", 2))):
        trials, ref = [], {}
        k = 0
        for r in range(reps):
            for stem in NAT8A_STIMS[: 4 if u else 5]:
                motif, cond = stem.split("_", 1)
                stim_on = 2000.0 + 137.0 * k  # ms on the trial clock
                rel = spikes(int(rng.integers(0, 12)))
                trials.append({"index": k, "stimulus": motif, "condition": cond, "stim_on": stim_on,
                               "stim_off": stim_on + DUR_S * 1000, "event": (rel + stim_on).tolist(),
                               "stim_uuid": f"u-{stem}", "category": "song", "units": "ms", "trial": k})
                ref.setdefault(("nat8a", stem), []).append(rel)
                k += 1
        # file order reversed: the converter orders trials by 'index'
        doc = {"$schema": LEGACY, "bird": "C41", "bird-uuid": "11111111-aaaa-bbbb-cccc-000000000041",
               "location": "NCM", "hemisphere": "R", "familiar": "178B", "bird-sex": "M", "bird-age": "1y20d",
               "pprox": trials[::-1]}
        (d / f"{unit}.pprox").write_text(json.dumps(doc))
        truth[f"nat8a-alpha/{unit}"] = ref

    def stimtrial_units(subset, ss, stems, units, folder):
        d = base / folder
        d.mkdir()
        for unit, bird in units:
            trials, ref = [], {}
            k = 0
            for r in range(3):
                for stem in stems:
                    rel = spikes(int(rng.integers(0, 10)))
                    on = 0.5 if r == 1 else 0.0  # stimulus onset within the trial frame, seconds
                    trials.append({"offset": 10.0 * k, "index": k, "interval": [on - 0.5, on + DUR_S + 0.5],
                                   "stimulus": {"name": stem, "interval": [on, on + DUR_S]},
                                   "events": (rel / 1000.0 + on).tolist(),
                                   "recording": {"entry": 0, "start": 0, "end": 1}})
                    ref.setdefault((ss, stem), []).append(rel)
                    k += 1
            doc = {"$schema": STIMTRIAL, "bird": f"uuid-{bird}", "unit": f"uuid-unit-{unit}", "pprox": trials}
            (d / f"{unit}.pprox").write_text(json.dumps(doc))
            truth[f"{subset}/{unit}"] = ref

    stimtrial_units("nat8a-beta", "nat8a", NAT8A_STIMS[:3], [("C43_1_1_c3", "C43")], "nat8a-beta-responses")
    stimtrial_units("nat8b", "nat8b", NAT8B_STIMS, [("C50_2_3_c1", "C50"), ("C50_2_3_c9", "C50")], "nat8b-responses")
    stimtrial_units("synth8b", "synth8b", SYNTH8B_STIMS, [("C50_2_4_c2", "C50")], "synth8b-responses")
    return truth
